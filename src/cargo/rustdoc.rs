//! Doctests: the command lines cargo gives rustdoc, recorded by this very
//! binary standing in as `RUSTDOC`, so that they can be run again directly.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::*;

/// The environment variable that tells our binary it runs as cargo's `RUSTDOC`,
/// holding the real rustdoc to run.
pub const RUSTDOC_WRAPPER_ENV: &str = "CARGO_STRUCTLOG_REAL_RUSTDOC";

/// The value given to `RUSTC_BOOTSTRAP` in the rustdoc wrapper.
pub const RUSTDOC_BOOTSTRAP_ENV: &str = "CARGO_STRUCTLOG_BOOTSTRAP";

/// Set when the wrapper is to have rustdoc list the doctests without merging
/// them: an edition-2024 crate's merged doctests are compiled (and the
/// compiled runner started) just to be listed, which costs as much as
/// running them; listed unmerged, nothing is compiled. The names are the
/// same either way. The option is unstable: rustdoc alone gets
/// `RUSTC_BOOTSTRAP` for it, and it starts nothing while listing.
pub const RUSTDOC_LIST_UNMERGED_ENV: &str = "CARGO_STRUCTLOG_LIST_UNMERGED";

/// Set for the wrapper (see [`rustdoc_wrapper`]) to record a doctest run's
/// invocation and run nothing: the caller runs rustdoc itself.
pub const RUSTDOC_RECORD_ONLY_ENV: &str = "CARGO_STRUCTLOG_RECORD_ONLY";

/// The key of the line the wrapper prints before handing over to rustdoc.
const RUSTDOC_MARKER: &str = "cargo-structlog-rustdoc";

/// One rustdoc invocation cargo made to run a package's doctests, recorded by
/// the wrapper so that it can be run again directly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RustdocInvocation {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
}

impl RustdocInvocation {
    /// `--crate-name`'s value.
    pub fn crate_name(&self) -> Option<&str> {
        let i = self.args.iter().position(|a| a == "--crate-name")?;
        self.args.get(i + 1).map(String::as_str)
    }

    /// The program rustdoc runs each doctest through (`--test-runtool`,
    /// or `--runtool` before cargo 1.89): the target's runner, which cargo
    /// hands to rustdoc.
    pub fn runtool(&self) -> Option<&str> {
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            for flag in ["--test-runtool", "--runtool"] {
                if a == flag {
                    return it.next().map(String::as_str);
                }
                if let Some(v) = a.strip_prefix(flag).and_then(|v| v.strip_prefix('=')) {
                    return Some(v);
                }
            }
        }
        None
    }

    /// The arguments without any `--test-args` (the listing's).
    pub fn base_args(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.args.len());
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            if a == "--test-args" {
                it.next();
            } else if a.starts_with("--test-args=") {
            } else {
                out.push(a.clone());
            }
        }
        out
    }
}

/// Doctests found by running `cargo test --doc` in listing mode.
#[derive(Debug, Default)]
pub struct DocListing {
    /// Per rustdoc invocation (one per package), the listing's stdout lines.
    pub invocations: Vec<(RustdocInvocation, Vec<Vec<u8>>)>,
    pub success: bool,
    /// cargo's stderr, shown when the listing fails.
    pub stderr: String,
}

/// Runs `cargo test --doc ... -- <list_args>` with this very binary as
/// `RUSTDOC`: each time cargo starts rustdoc for a package's doctests, the
/// wrapper prints the command line, directory and environment cargo gave it,
/// then hands over to the real rustdoc, which lists the doctests. We later
/// run the same command ourselves to run them, so nothing is rebuilt and no
/// shell script is involved.
pub fn list_doctests(
    cmd: Command,
    list_args: &[String],
    bootstrap: Option<&str>,
    unmerged: bool,
) -> Result<DocListing, Error> {
    doctest_invocations(cmd, list_args, bootstrap, unmerged, false)
}

/// The rustdoc invocations of `cargo test --doc ...`, as [`list_doctests`]
/// records them, without running rustdoc: no listing comes with them.
pub fn record_doctests(cmd: Command) -> Result<DocListing, Error> {
    doctest_invocations(cmd, &[], None, false, true)
}

fn doctest_invocations(
    mut cmd: Command,
    list_args: &[String],
    bootstrap: Option<&str>,
    unmerged: bool,
    record_only: bool,
) -> Result<DocListing, Error> {
    let me =
        std::env::current_exe().map_err(|e| Error::caused("cannot find our own executable", e))?;
    let real = toolchain_tool("rustdoc", "RUSTDOC");
    cmd.arg("--doc").arg("--");
    cmd.args(list_args);
    cmd.env("RUSTDOC", me)
        .env(RUSTDOC_WRAPPER_ENV, real)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match bootstrap {
        Some(b) => cmd.env(RUSTDOC_BOOTSTRAP_ENV, b),
        None => cmd.env_remove(RUSTDOC_BOOTSTRAP_ENV),
    };
    match unmerged {
        true => cmd.env(RUSTDOC_LIST_UNMERGED_ENV, "1"),
        false => cmd.env_remove(RUSTDOC_LIST_UNMERGED_ENV),
    };
    match record_only {
        true => cmd.env(RUSTDOC_RECORD_ONLY_ENV, "1"),
        false => cmd.env_remove(RUSTDOC_RECORD_ONLY_ENV),
    };
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::caused("cannot run cargo", e))?;
    let mut stderr_pipe = child.stderr.take().expect("piped");
    let err_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = io::Read::read_to_end(&mut stderr_pipe, &mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let mut out = DocListing::default();
    let mut reader = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            break;
        }
        let trimmed = line.strip_suffix(b"\n").unwrap_or(&line);
        if let Some(inv) = parse_marker(trimmed) {
            out.invocations.push((inv, Vec::new()));
        } else if let Some((_, lines)) = out.invocations.last_mut() {
            lines.push(trimmed.to_vec());
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::caused("waiting for cargo", e))?;
    out.stderr = err_thread.join().unwrap_or_default();
    out.success = status.success();
    Ok(out)
}

fn parse_marker(line: &[u8]) -> Option<RustdocInvocation> {
    #[derive(Deserialize)]
    struct Marker {
        #[serde(rename = "cargo-structlog-rustdoc")]
        inv: RustdocInvocation,
    }
    if !line.starts_with(b"{\"cargo-structlog-rustdoc\"") {
        return None;
    }
    serde_json::from_slice::<Marker>(line).ok().map(|m| m.inv)
}

/// Runs as cargo's `RUSTDOC` (when [`RUSTDOC_WRAPPER_ENV`] is set). For a
/// doctest run (`--test`) it records the invocation on stdout and then runs
/// the real rustdoc with `RUSTC_BOOTSTRAP` in its environment alone; any other
/// call (`rustdoc -vV`) passes straight through. Returns the exit code.
pub fn rustdoc_wrapper(real: OsString) -> i32 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut cmd = Command::new(&real);
    cmd.args(&args).env_remove(RUSTDOC_WRAPPER_ENV);
    if args.iter().any(|a| a == "--test") {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter(|(k, _)| {
                k != RUSTDOC_WRAPPER_ENV
                    && k != RUSTDOC_BOOTSTRAP_ENV
                    && k != RUSTDOC_LIST_UNMERGED_ENV
                    && k != RUSTDOC_RECORD_ONLY_ENV
                    && k != "RUSTDOC"
            })
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let inv = RustdocInvocation {
            program: real.to_string_lossy().into_owned(),
            args: args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            cwd: std::env::current_dir().unwrap_or_default(),
            env,
        };
        let marker = serde_json::json!({ RUSTDOC_MARKER: inv });
        let mut stdout = io::stdout().lock();
        let _ = writeln!(stdout, "{marker}");
        let _ = stdout.flush();
        if std::env::var_os(RUSTDOC_RECORD_ONLY_ENV).is_some() {
            return 0;
        }
        if let Some(b) = std::env::var_os(RUSTDOC_BOOTSTRAP_ENV) {
            cmd.env("RUSTC_BOOTSTRAP", b);
        }
        // After the recorded arguments: the run chooses its own.
        if std::env::var_os(RUSTDOC_LIST_UNMERGED_ENV).is_some() {
            cmd.args(["-Zunstable-options", "--merge-doctests=no"])
                .env("RUSTC_BOOTSTRAP", "1");
        }
    }
    cmd.env_remove(RUSTDOC_BOOTSTRAP_ENV)
        .env_remove(RUSTDOC_LIST_UNMERGED_ENV)
        .env_remove(RUSTDOC_RECORD_ONLY_ENV);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = cmd.exec();
        eprintln!(
            "cargo-structlog: cannot run {}: {err}",
            real.to_string_lossy()
        );
        127
    }
    #[cfg(not(unix))]
    {
        match cmd.status() {
            Ok(s) => s.code().unwrap_or(1),
            Err(err) => {
                eprintln!(
                    "cargo-structlog: cannot run {}: {err}",
                    real.to_string_lossy()
                );
                127
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_args_drop_test_args() {
        let inv = RustdocInvocation {
            program: "rustdoc".into(),
            args: [
                "--crate-name",
                "a",
                "--test",
                "src/lib.rs",
                "--test-args",
                "--list",
                "--test-args=x",
                "-L",
                "d",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            cwd: PathBuf::new(),
            env: vec![],
        };
        assert_eq!(inv.crate_name(), Some("a"));
        assert_eq!(inv.runtool(), None);
        assert_eq!(
            inv.base_args(),
            vec!["--crate-name", "a", "--test", "src/lib.rs", "-L", "d"]
        );
    }

    #[test]
    fn the_runner_cargo_hands_rustdoc_is_read_in_either_spelling() {
        let with = |args: &[&str]| RustdocInvocation {
            program: "rustdoc".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            cwd: PathBuf::new(),
            env: vec![],
        };
        let inv = with(&[
            "--test",
            "--test-runtool",
            "/r/run.sh",
            "--test-runtool-arg",
            "x",
        ]);
        assert_eq!(inv.runtool(), Some("/r/run.sh"));
        assert_eq!(
            with(&["--runtool=qemu-arm", "--test"]).runtool(),
            Some("qemu-arm")
        );
        assert_eq!(with(&["--test-runtool-arg", "x"]).runtool(), None);
    }
}
