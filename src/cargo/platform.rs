//! Where the tests run: the target they are built for and the runner cargo
//! starts their executables through, both read from cargo's configuration
//! as cargo reads it.
//!
//! cargo-config2 reads the configuration: every `.cargo/config.toml` from
//! the current directory up, then `$CARGO_HOME/config.toml`, merged as cargo
//! merges them, with the environment's `CARGO_*` forms on top. The target is
//! `--target`, else `CARGO_BUILD_TARGET` or `build.target`, else the host.
//! Its runner is, as cargo decides (cargo reference, "target.<triple>.runner"
//! and "target.<cfg>.runner"): `CARGO_TARGET_<TRIPLE>_RUNNER`, else
//! `target.<triple>.runner`, else the runner of a `target.<cfg>` table whose
//! `cfg(...)` holds for the target (asked of `rustc --print cfg`). A runner
//! is a string split at whitespace or an array; a program path with a slash
//! is relative to the directory that holds the `.cargo` directory it was
//! written in. `cargo test` runs every test executable through it, for the
//! host too, and hands it to rustdoc for the doctests (`--test-runtool`).

use super::*;
use cargo_config2::{Config, ResolveOptions};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The target the tests are built for, and how their executables are run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Platform {
    /// The target's triple (a target spec file's name without `.json`).
    pub triple: String,
    /// The runner cargo starts the target's executables through.
    pub runner: Option<Runner>,
}

/// A target runner: cargo starts a test executable as `program args... exe
/// <test args>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runner {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// Reads the platform as cargo run in `cwd` would: `target` is the
/// command line's `--target`, `host` the host's triple (asked of cargo when
/// empty).
pub fn platform(cwd: &Path, target: Option<&str>, host: &str) -> Result<Platform, Error> {
    let mut options = ResolveOptions::default();
    if !host.is_empty() {
        options = options.host_triple(host);
    }
    resolve(cwd, target, options)
}

/// [`platform`] with the resolution's inputs given (the environment and
/// `CARGO_HOME` can be set for a test).
fn resolve(cwd: &Path, target: Option<&str>, options: ResolveOptions) -> Result<Platform, Error> {
    let config = Config::load_with_options(cwd, options)
        .map_err(|e| Error::caused("cannot read cargo's configuration", e))?;
    let mut targets = config
        .build_target_for_config(target)
        .map_err(|e| Error::caused("cannot tell which target cargo builds for", e))?;
    if targets.len() > 1 {
        let names: Vec<&str> = targets.iter().map(|t| t.triple()).collect();
        return Err(Error::Usage(format!(
            "cargo's configuration builds for several targets ({}); cargo structlog runs the \
             tests of one: choose it with --target",
            names.join(", ")
        )));
    }
    let Some(triple) = targets.pop() else {
        return Err(Error::Setup("cargo builds for no target".into()));
    };
    let runner = config.runner(&triple).map_err(|e| {
        Error::caused(
            format!(
                "cannot read the runner of {} in cargo's configuration",
                triple.triple()
            ),
            e,
        )
    })?;
    Ok(Platform {
        triple: triple.triple().to_string(),
        runner: runner.map(|r| Runner {
            program: r.path,
            args: r.args,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace directory `ws` inside a directory whose `.cargo` holds
    /// `outer` (when given), with `inner` as `ws/.cargo/config.toml`, and a
    /// cargo home of its own (with `home` as its config, when given).
    struct Setup {
        dir: tempfile::TempDir,
    }

    impl Setup {
        fn new(outer: Option<&str>, inner: Option<&str>, home: Option<&str>) -> Setup {
            let dir = tempfile::tempdir().unwrap();
            let write = |at: PathBuf, text: Option<&str>| {
                if let Some(text) = text {
                    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
                    std::fs::write(at, text).unwrap();
                }
            };
            std::fs::create_dir_all(dir.path().join("ws/src")).unwrap();
            write(dir.path().join(".cargo/config.toml"), outer);
            write(dir.path().join("ws/.cargo/config.toml"), inner);
            write(dir.path().join("home/config.toml"), home);
            std::fs::create_dir_all(dir.path().join("home")).unwrap();
            Setup { dir }
        }

        fn ws(&self) -> PathBuf {
            self.dir.path().join("ws")
        }

        /// Resolved from `ws/src`, with only `env` as the environment.
        fn platform(&self, target: Option<&str>, env: &[(&str, &str)]) -> Platform {
            let options = ResolveOptions::default()
                .host_triple(HOST)
                .cargo_home(Some(self.dir.path().join("home")))
                .env(env.iter().map(|(k, v)| (*k, *v)));
            resolve(&self.ws().join("src"), target, options).unwrap()
        }
    }

    const HOST: &str = "x86_64-unknown-linux-gnu";

    fn runner(program: impl Into<PathBuf>, args: &[&str]) -> Option<Runner> {
        Some(Runner {
            program: program.into(),
            args: args.iter().map(OsString::from).collect(),
        })
    }

    #[test]
    fn no_configuration_means_the_host_and_no_runner() {
        let s = Setup::new(None, None, None);
        assert_eq!(
            s.platform(None, &[]),
            Platform {
                triple: HOST.into(),
                runner: None
            }
        );
    }

    #[test]
    fn a_runner_for_the_triple_is_found_in_every_file_cargo_reads() {
        let triple = format!("[target.{HOST}]\nrunner = \"from-outer\"\n");
        let s = Setup::new(Some(&triple), None, None);
        assert_eq!(s.platform(None, &[]).runner, runner("from-outer", &[]));
        // The closer file wins; the cargo home is read last.
        let inner = format!("[target.{HOST}]\nrunner = [\"from-inner\", \"-x\"]\n");
        let s = Setup::new(Some(&triple), Some(&inner), None);
        assert_eq!(s.platform(None, &[]).runner, runner("from-inner", &["-x"]));
        let home = format!("[target.{HOST}]\nrunner = \"from-home --quiet  -v\"\n");
        let s = Setup::new(None, None, Some(&home));
        assert_eq!(
            s.platform(None, &[]).runner,
            runner("from-home", &["--quiet", "-v"])
        );
    }

    #[test]
    fn a_runner_path_with_a_slash_is_relative_to_its_configuration() {
        let inner = format!("[target.{HOST}]\nrunner = [\"tools/run.sh\", \"a b\"]\n");
        let s = Setup::new(None, Some(&inner), None);
        assert_eq!(
            s.platform(None, &[]).runner,
            runner(s.ws().join("tools/run.sh"), &["a b"])
        );
        let outer = format!("[target.{HOST}]\nrunner = \"./run.sh\"\n");
        let s = Setup::new(Some(&outer), None, None);
        assert_eq!(
            s.platform(None, &[]).runner,
            runner(s.dir.path().join("./run.sh"), &[])
        );
    }

    #[test]
    fn a_cfg_runner_applies_when_its_expression_holds() {
        // Evaluated for HOST by `rustc --print cfg --target HOST`.
        for (expr, holds) in [
            ("cfg(unix)", true),
            (
                "cfg(all(target_arch = \"x86_64\", target_os = \"linux\"))",
                true,
            ),
            ("cfg(windows)", false),
            ("cfg(target_pointer_width = \"16\")", false),
        ] {
            let text = format!("[target.'{expr}']\nrunner = \"by-cfg\"\n");
            let s = Setup::new(None, Some(&text), None);
            let expected = if holds { runner("by-cfg", &[]) } else { None };
            assert_eq!(s.platform(None, &[]).runner, expected, "{expr}");
        }
        // The triple's own table comes first.
        let both = format!(
            "[target.'cfg(unix)']\nrunner = \"by-cfg\"\n[target.{HOST}]\nrunner = \"by-triple\"\n"
        );
        let s = Setup::new(None, Some(&both), None);
        assert_eq!(s.platform(None, &[]).runner, runner("by-triple", &[]));
    }

    #[test]
    fn the_environment_names_a_runner_before_any_file() {
        let var = format!(
            "CARGO_TARGET_{}_RUNNER",
            HOST.to_uppercase().replace('-', "_")
        );
        let text = format!("[target.{HOST}]\nrunner = \"from-file\"\n");
        let s = Setup::new(None, Some(&text), None);
        assert_eq!(
            s.platform(None, &[(&var, "from-env --flag")]).runner,
            runner("from-env", &["--flag"])
        );
        // Another target's variable does not apply.
        assert_eq!(
            s.platform(
                None,
                &[("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER", "qemu")]
            )
            .runner,
            runner("from-file", &[])
        );
    }

    #[test]
    fn the_target_is_the_command_line_s_else_the_configuration_s() {
        let text = "[build]\ntarget = \"aarch64-unknown-linux-gnu\"\n\
                    [target.aarch64-unknown-linux-gnu]\nrunner = \"qemu-aarch64\"\n";
        let s = Setup::new(None, Some(text), None);
        assert_eq!(
            s.platform(None, &[]),
            Platform {
                triple: "aarch64-unknown-linux-gnu".into(),
                runner: runner("qemu-aarch64", &[])
            }
        );
        assert_eq!(
            s.platform(Some(HOST), &[]),
            Platform {
                triple: HOST.into(),
                runner: None
            }
        );
        let env = [("CARGO_BUILD_TARGET", HOST)];
        assert_eq!(s.platform(None, &env).triple, HOST);
        // Several build targets: the run cannot choose.
        let several =
            "[build]\ntarget = [\"aarch64-unknown-linux-gnu\", \"x86_64-unknown-linux-gnu\"]\n";
        let s = Setup::new(None, Some(several), None);
        let options = ResolveOptions::default()
            .host_triple(HOST)
            .cargo_home(Some(s.dir.path().join("home")))
            .env(Vec::<(String, String)>::new());
        let err = resolve(&s.ws(), None, options).unwrap_err();
        assert!(err.to_string().contains("--target"), "{err}");
    }
}
