//! Talking to cargo: the build, the workspace's metadata, the toolchain, the
//! doctest command lines, and the runtime environment `cargo test` gives a
//! test process.
//!
//! Nothing here scrapes cargo's human output: the build is read from
//! `--message-format json-render-diagnostics` (rendered diagnostics are passed
//! on to the user's stderr as cargo would show them), the workspace from
//! `cargo metadata`, and doctest command lines from our own binary standing in
//! as `RUSTDOC` (see [`rustdoc_wrapper`]).

mod env;
mod platform;
mod rustdoc;
mod toolchain;

use crate::error::Error;
use cargo_metadata::{Message, Metadata, MetadataCommand, PackageId};
pub use env::*;
pub use platform::*;
pub use rustdoc::*;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
pub use toolchain::*;

/// The cargo to run: `$CARGO` (set by cargo for subcommands) or `cargo`.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// What cargo builds: `cargo test`'s manifest, package, feature and
/// compilation flags (everything but target selection).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub manifest_path: Option<PathBuf>,
    pub package: Vec<String>,
    pub workspace: bool,
    pub exclude: Vec<String>,
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    pub release: bool,
    pub profile: Option<String>,
    pub target_dir: Option<PathBuf>,
    /// `--target`: the triple (or target spec file) to build for.
    pub target: Option<String>,
    pub jobs: Option<String>,
    pub locked: bool,
    pub offline: bool,
    pub frozen: bool,
    /// `auto`, `always` or `never`.
    pub color: Option<String>,
}

impl Options {
    /// The profile the tests are built with, as cargo names it.
    pub fn profile_name(&self) -> &str {
        match (&self.profile, self.release) {
            (Some(p), _) => p,
            (None, true) => "release",
            (None, false) => "dev",
        }
    }
}

/// Which targets `cargo test` builds and runs (its target selection).
#[derive(Clone, Debug, Default)]
pub struct Targets {
    pub lib: bool,
    pub bins: bool,
    pub bin: Vec<String>,
    pub examples: bool,
    pub example: Vec<String>,
    pub tests: bool,
    pub test: Vec<String>,
    pub benches: bool,
    pub bench: Vec<String>,
    pub all_targets: bool,
    /// Only the doctests.
    pub doc: bool,
}

impl Targets {
    /// True when any flag narrows the targets: cargo then runs no doctests
    /// unless `--doc` is given.
    pub fn any_selected(&self) -> bool {
        self.lib
            || self.bins
            || !self.bin.is_empty()
            || self.examples
            || !self.example.is_empty()
            || self.tests
            || !self.test.is_empty()
            || self.benches
            || !self.bench.is_empty()
            || self.all_targets
    }

    /// Adds the selection to a cargo command.
    pub fn apply(&self, cmd: &mut Command) {
        let flags = [
            (self.lib, "--lib"),
            (self.bins, "--bins"),
            (self.examples, "--examples"),
            (self.tests, "--tests"),
            (self.benches, "--benches"),
            (self.all_targets, "--all-targets"),
        ];
        for (on, flag) in flags {
            if on {
                cmd.arg(flag);
            }
        }
        for (names, flag) in [
            (&self.bin, "--bin"),
            (&self.example, "--example"),
            (&self.test, "--test"),
            (&self.bench, "--bench"),
        ] {
            for n in names {
                cmd.arg(flag).arg(n);
            }
        }
    }
}

/// A cargo command with the user's manifest, profile, feature and
/// package-selection flags (everything but target selection).
pub fn cargo_command(sub: &str, args: &Options) -> Command {
    let mut cmd = Command::new(cargo_program());
    cmd.arg(sub);
    if let Some(p) = &args.manifest_path {
        cmd.arg("--manifest-path").arg(p);
    }
    for p in &args.package {
        cmd.arg("--package").arg(p);
    }
    if args.workspace {
        cmd.arg("--workspace");
    }
    for p in &args.exclude {
        cmd.arg("--exclude").arg(p);
    }
    for f in &args.features {
        cmd.arg("--features").arg(f);
    }
    if args.all_features {
        cmd.arg("--all-features");
    }
    if args.no_default_features {
        cmd.arg("--no-default-features");
    }
    if args.release {
        cmd.arg("--release");
    }
    if let Some(p) = &args.profile {
        cmd.arg("--profile").arg(p);
    }
    if let Some(d) = &args.target_dir {
        cmd.arg("--target-dir").arg(d);
    }
    if let Some(t) = &args.target {
        cmd.arg("--target").arg(t);
    }
    if let Some(j) = &args.jobs {
        cmd.arg("--jobs").arg(j);
    }
    for flag in [
        (args.locked, "--locked"),
        (args.offline, "--offline"),
        (args.frozen, "--frozen"),
    ] {
        if flag.0 {
            cmd.arg(flag.1);
        }
    }
    if let Some(c) = &args.color {
        cmd.arg("--color").arg(c);
    }
    cmd
}

/// The workspace, as `cargo metadata --no-deps` describes it.
#[derive(Debug)]
pub struct Workspace {
    pub metadata: Metadata,
    /// Each package's `rust-version` as cargo writes it into a test's
    /// environment (`1.70`), where `cargo_metadata` reads a full version
    /// (`1.70.0`).
    pub rust_versions: HashMap<PackageId, String>,
}

/// Reads the workspace's metadata (`cargo metadata --no-deps`).
pub fn metadata(args: &Options) -> Result<Workspace, Error> {
    let mut cmd = MetadataCommand::new();
    cmd.cargo_path(cargo_program()).no_deps();
    if let Some(p) = &args.manifest_path {
        cmd.manifest_path(p);
    }
    let mut other = Vec::new();
    for flag in [
        (args.locked, "--locked"),
        (args.offline, "--offline"),
        (args.frozen, "--frozen"),
    ] {
        if flag.0 {
            other.push(flag.1.to_string());
        }
    }
    cmd.other_options(other);
    let mut command = cmd.cargo_command();
    if let Some(dir) = &args.target_dir {
        // `cargo metadata` takes no `--target-dir`: the variable says it.
        command.env("CARGO_TARGET_DIR", dir);
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::caused("cargo metadata failed", e))?;
    if !output.status.success() {
        return Err(Error::Setup(format!(
            "cargo metadata failed: {}",
            output.status
        )));
    }
    let json = output
        .stdout
        .split(|b| *b == b'\n')
        .find(|line| line.starts_with(b"{"))
        .unwrap_or_default();
    let metadata: Metadata =
        serde_json::from_slice(json).map_err(|e| Error::caused("cargo metadata's output", e))?;
    #[derive(Deserialize)]
    struct Raw {
        packages: Vec<RawPackage>,
    }
    #[derive(Deserialize)]
    struct RawPackage {
        id: PackageId,
        rust_version: Option<String>,
    }
    let rust_versions = serde_json::from_slice::<Raw>(json)
        .map(|raw| {
            raw.packages
                .into_iter()
                .filter_map(|p| Some((p.id, p.rust_version?)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Workspace {
        metadata,
        rust_versions,
    })
}

/// A test executable cargo built.
#[derive(Clone, Debug)]
pub struct TestArtifact {
    pub package_id: PackageId,
    /// `lib`, `bin`, `test`, `bench`, `example`, `proc-macro`, ...
    pub kind: String,
    pub target_name: String,
    pub src_path: PathBuf,
    pub executable: PathBuf,
}

/// What a build script told cargo, which cargo also gives the package's tests.
#[derive(Clone, Debug, Default)]
pub struct BuildScript {
    pub out_dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub linked_paths: Vec<PathBuf>,
}

/// The result of `cargo test --no-run`.
#[derive(Debug, Default)]
pub struct Build {
    pub success: bool,
    pub artifacts: Vec<TestArtifact>,
    pub build_scripts: HashMap<PackageId, BuildScript>,
    /// Every file of every artifact cargo reported (built or found fresh):
    /// what this build vouches for as up to date.
    pub outputs: HashSet<PathBuf>,
    /// The first lines of the errors cargo reported, for the log.
    pub errors: Vec<String>,
}

/// Builds the tests: `cargo test --no-run --message-format=json-render-diagnostics`.
/// Cargo's own progress goes to the user's stderr, and so do the rendered
/// compiler diagnostics, as cargo itself would show them.
///
/// A successful build returns once cargo has said so (`build-finished`) and
/// its stderr has shown its last status line (`Finished ...`), without
/// waiting for cargo to exit: ending takes it a few milliseconds more (its
/// caches written, its state dropped), during which the first tests can
/// already run. Cargo is then waited for on another thread, anything it
/// still prints still reaches the user's stderr, and its exit status is not
/// looked at: it has reported success. A failed build, or a cargo that
/// prints no status line (`--quiet`), is waited for as before.
pub fn build(cmd: &mut Command, color: Option<&str>) -> Result<Build, Error> {
    // Cargo renders the compiler's diagnostics itself, on its stderr, which
    // passes through here on its way to ours, so that the errors can be
    // recorded in the log too. Cargo would see a pipe: its colors follow our
    // terminal instead.
    if color.is_none() && std::env::var_os("CARGO_TERM_COLOR").is_none() {
        let tty = io::IsTerminal::is_terminal(&io::stderr());
        cmd.arg("--color").arg(if tty { "always" } else { "never" });
    }
    cmd.arg("--no-run")
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::caused("cannot run cargo", e))?;
    let stdout = child.stdout.take().expect("piped");
    let mut cargo_stderr = child.stderr.take().expect("piped");
    // Told when cargo's status line is through (or its stderr ends).
    let (status_line, status_shown) = std::sync::mpsc::channel::<()>();
    let errors = std::thread::spawn(move || {
        let mut errors = Vec::new();
        let mut reader = BufReader::new(&mut cargo_stderr);
        let mut line = Vec::new();
        let mut keep = 0usize;
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            let _ = io::stderr().lock().write_all(&line);
            let text = String::from_utf8_lossy(&line);
            let plain = crate::text::strip_ansi(text.trim_end());
            if plain.trim_start().starts_with("Finished ") {
                let _ = status_line.send(());
            }
            // An error and the lines that show where it is.
            if plain.starts_with("error") {
                keep = 12;
            }
            if keep > 0 && errors.len() < 200 {
                keep = if plain.is_empty() { 0 } else { keep - 1 };
                errors.push(plain.into_owned());
            }
            line.clear();
        }
        errors
    });
    let mut out = Build::default();
    let mut finished = None;
    let stderr = io::stderr();
    let mut messages = Message::parse_stream(BufReader::new(stdout));
    for message in messages.by_ref() {
        let message = message.map_err(|e| Error::caused("reading cargo's output", e))?;
        match message {
            Message::CompilerArtifact(a) => {
                out.outputs
                    .extend(a.filenames.iter().map(|f| f.as_std_path().to_path_buf()));
                let Some(exe) = a.executable else { continue };
                if !a.profile.test {
                    continue;
                }
                out.artifacts.push(TestArtifact {
                    package_id: a.package_id,
                    kind: a
                        .target
                        .kind
                        .first()
                        .map(|k| k.to_string())
                        .unwrap_or_else(|| "lib".into()),
                    target_name: a.target.name,
                    src_path: a.target.src_path.into_std_path_buf(),
                    executable: exe.into_std_path_buf(),
                });
            }
            Message::CompilerMessage(m) => {
                if let Some(rendered) = &m.message.rendered {
                    let _ = stderr.lock().write_all(rendered.as_bytes());
                }
                if m.message.level == cargo_metadata::diagnostic::DiagnosticLevel::Error {
                    out.errors.push(m.message.message.clone());
                }
            }
            Message::BuildScriptExecuted(b) => {
                out.build_scripts.insert(
                    b.package_id,
                    BuildScript {
                        out_dir: b.out_dir.into_std_path_buf(),
                        env: b.env,
                        linked_paths: b
                            .linked_paths
                            .into_iter()
                            .map(|p| {
                                // `native=/path`, `dependency=/path`, or just a path.
                                let s = p.as_str();
                                PathBuf::from(s.split_once('=').map_or(s, |(_, p)| p))
                            })
                            .collect(),
                    },
                );
            }
            Message::BuildFinished(f) => {
                finished = Some(f.success);
                if f.success {
                    break;
                }
            }
            Message::TextLine(line) => {
                let _ = writeln!(stderr.lock(), "{line}");
            }
            _ => {}
        }
    }
    if finished == Some(true) {
        // The status line comes after `build-finished`; waiting for it keeps
        // it before anything this run prints. A cargo that prints none
        // closes its stderr on exit, which ends the wait just as well.
        let _ = status_shown.recv();
        std::thread::spawn(move || {
            // Whatever cargo still writes is read, so that it never blocks.
            messages.for_each(drop);
            let _ = child.wait();
            let _ = errors.join();
        });
        out.success = true;
        return Ok(out);
    }
    let status = child
        .wait()
        .map_err(|e| Error::caused("waiting for cargo", e))?;
    let rendered = errors.join().unwrap_or_default();
    out.success = status.success() && finished != Some(false);
    if !out.success {
        out.errors.extend(rendered);
        if out.errors.is_empty() {
            out.errors.push(format!("cargo exited with {status}"));
        }
    }
    Ok(out)
}

/// What changes when a file is written or replaced: its size, modification
/// and change times, and (on Unix) device and inode, as one string.
pub(crate) fn file_stamp(meta: &std::fs::Metadata) -> Option<String> {
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(format!(
            "{} {modified} {}.{:09} {} {}",
            meta.len(),
            meta.ctime(),
            meta.ctime_nsec(),
            meta.dev(),
            meta.ino()
        ))
    }
    #[cfg(not(unix))]
    Some(format!("{} {modified}", meta.len()))
}

/// Writes `file` whole or not at all (a file beside it, named after it and
/// this process, renamed over it), creating its directory.
pub(crate) fn write_atomically(file: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A stand-in for `cargo test --no-run`: a shell script that reports the
    /// build, waits, prints `status` (if any) on stderr, then takes its time
    /// to exit with `code`.
    fn fake_cargo(dir: &Path, success: bool, status: Option<&str>, code: i32) -> Command {
        let script = dir.join("cargo.sh");
        let status = status
            .map(|s| format!("sleep 0.3\necho '{s}' >&2\n"))
            .unwrap_or_default();
        std::fs::write(
            &script,
            format!(
                "echo '{{\"reason\":\"build-finished\",\"success\":{success}}}'\n\
                 {status}sleep 3\nexit {code}\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg(script);
        cmd
    }

    #[test]
    fn a_built_workspace_goes_on_once_cargo_shows_its_status_line() {
        let dir = tempfile::tempdir().unwrap();
        let finished = "    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.01s";
        let mut cmd = fake_cargo(dir.path(), true, Some(finished), 0);
        let started = std::time::Instant::now();
        let build = build(&mut cmd, Some("never")).unwrap();
        let took = started.elapsed();
        assert!(build.success);
        // After the status line (0.3 s in), long before cargo's exit (3 s).
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_millis(2500), "{took:?}");
    }

    #[test]
    fn a_quiet_or_failed_build_is_waited_for_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        // No status line (cargo --quiet): cargo's exit ends the wait.
        let mut cmd = fake_cargo(dir.path(), true, None, 0);
        let started = std::time::Instant::now();
        assert!(build(&mut cmd, Some("never")).unwrap().success);
        assert!(started.elapsed() >= Duration::from_secs(3));
        // A failure is known only from cargo's exit, with its status.
        let error = "error: could not compile `x` (lib test) due to 1 previous error";
        let mut cmd = fake_cargo(dir.path(), false, Some(error), 101);
        let started = std::time::Instant::now();
        let build = build(&mut cmd, Some("never")).unwrap();
        assert!(started.elapsed() >= Duration::from_secs(3));
        assert!(!build.success);
        assert_eq!(build.errors, [error]);
    }
}
