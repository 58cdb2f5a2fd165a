//! Talking to cargo: the build, the workspace's metadata, the toolchain, the
//! doctest command lines, and the runtime environment `cargo test` gives a
//! test process.
//!
//! Nothing here scrapes cargo's human output: the build is read from
//! `--message-format json-render-diagnostics` (rendered diagnostics are passed
//! on to the user's stderr as cargo would show them), the workspace from
//! `cargo metadata`, and doctest command lines from our own binary standing in
//! as `RUSTDOC` (see [`rustdoc_wrapper`]).

use crate::error::Error;
use cargo_metadata::{Message, Metadata, MetadataCommand, Package, PackageId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The environment variable that tells our binary it runs as cargo's `RUSTDOC`,
/// holding the real rustdoc to run.
pub const RUSTDOC_WRAPPER_ENV: &str = "CARGO_STRUCTLOG_REAL_RUSTDOC";
/// The value given to `RUSTC_BOOTSTRAP` in the rustdoc wrapper.
pub const RUSTDOC_BOOTSTRAP_ENV: &str = "CARGO_STRUCTLOG_BOOTSTRAP";
/// The key of the line the wrapper prints before handing over to rustdoc.
const RUSTDOC_MARKER: &str = "cargo-structlog-rustdoc";

/// The cargo to run: `$CARGO` (set by cargo for subcommands) or `cargo`.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The program cargo runs as `tool` (`rustc`, `rustdoc`): the one `var`
/// (`RUSTC`, `RUSTDOC`) names, else the one on the PATH, but past rustup's
/// proxy when that is what the PATH holds, as cargo itself does (the proxy
/// costs about 10 ms a call).
pub fn toolchain_tool(tool: &str, var: &str) -> OsString {
    if let Some(v) = std::env::var_os(var) {
        return v;
    }
    let env = |k: &str| std::env::var_os(k);
    let rustup_home = env("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".rustup")));
    rustup_tool(
        tool,
        env("RUSTUP_TOOLCHAIN").as_deref(),
        env("PATH").as_deref(),
        rustup_home.as_deref(),
    )
    .map_or_else(|| tool.into(), PathBuf::into_os_string)
}

/// The toolchain's own `tool` when we run under rustup (`RUSTUP_TOOLCHAIN`
/// names a toolchain) and `tool` on the PATH is rustup's proxy (a file the
/// size of `rustup` on the PATH: the proxies are links to it). Cargo's rule.
fn rustup_tool(
    tool: &str,
    toolchain: Option<&OsStr>,
    path: Option<&OsStr>,
    rustup_home: Option<&Path>,
) -> Option<PathBuf> {
    let toolchain = toolchain?.to_str()?;
    if toolchain.contains(['/', '\\']) {
        return None;
    }
    let on_path = |name: &str| {
        std::env::split_paths(path?)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    };
    let proxy = on_path(tool)?.metadata().ok()?;
    let rustup = on_path("rustup")?.metadata().ok()?;
    if proxy.len() != rustup.len() {
        return None;
    }
    let exe = rustup_home?
        .join("toolchains")
        .join(toolchain)
        .join("bin")
        .join(tool);
    exe.is_file().then_some(exe)
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
    let output = cmd
        .cargo_command()
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::Setup(format!("cargo metadata failed: {e}")))?;
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
    let metadata: Metadata = serde_json::from_slice(json)
        .map_err(|e| Error::Setup(format!("cargo metadata's output: {e}")))?;
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
        .map_err(|e| Error::Setup(format!("cannot run cargo: {e}")))?;
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
        let message = message.map_err(|e| Error::Setup(format!("reading cargo's output: {e}")))?;
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
        .map_err(|e| Error::Setup(format!("waiting for cargo: {e}")))?;
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

/// Facts about the toolchain (for `run_info` and the runtime environment).
#[derive(Clone, Debug, Default)]
pub struct Rustc {
    /// `rustc 1.95.0 (59807616e 2026-04-14)`
    pub version: String,
    pub release: String,
    pub host: String,
    pub sysroot: Option<PathBuf>,
}

impl Rustc {
    /// True for nightly and dev toolchains, where libtest takes `-Z` flags
    /// without `RUSTC_BOOTSTRAP`.
    pub fn is_nightly(&self) -> bool {
        self.release.contains("nightly") || self.release.contains("-dev")
    }

    /// True when every fact was learned (an answer worth remembering).
    fn is_whole(&self) -> bool {
        !self.version.is_empty() && !self.host.is_empty() && self.sysroot.is_some()
    }
}

/// Asks rustc (`$RUSTC` or `rustc`, run from the workspace so that a
/// `rust-toolchain.toml` applies) for its version and host (`-vV`) and its
/// sysroot (`--print sysroot`, asked in a call of its own: rustc 1.95 given
/// both prints only the `-vV` block). The answer is kept in the user's cache
/// directory for the next run, keyed by the rustc executable (see
/// `rustc_cache_key`): starting rustc costs tens of milliseconds, and a
/// run's start waits for it. Only a whole answer (version, host and sysroot)
/// is kept.
pub fn rustc_info(dir: &Path) -> Rustc {
    let rustc = toolchain_tool("rustc", "RUSTC");
    rustc_info_cached(&rustc, dir, user_cache_dir().as_deref())
}

/// `$XDG_CACHE_HOME/cargo-structlog`, else `~/.cache/cargo-structlog`.
fn user_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| Path::new(d).is_absolute())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("cargo-structlog"))
}

/// The file of remembered rustc answers in a cache directory.
const RUSTC_CACHE_FILE: &str = "rustc-info.json";

/// At most this many rustc executables are remembered.
const RUSTC_CACHE_ENTRIES: usize = 16;

/// [`rustc_info`] with the program and cache directory given.
fn rustc_info_cached(rustc: &OsStr, dir: &Path, cache: Option<&Path>) -> Rustc {
    rustc_info_keyed(rustc, dir, cache.zip(rustc_cache_key(rustc)))
}

/// [`rustc_info`] with the cache directory and the executable's key given.
fn rustc_info_keyed(rustc: &OsStr, dir: &Path, cache: Option<(&Path, String)>) -> Rustc {
    let (file, key) = cache.map(|(c, k)| (c.join(RUSTC_CACHE_FILE), k)).unzip();
    let mut known: Map<String, Value> = file
        .as_deref()
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|text| serde_json::from_slice(&text).ok())
        .unwrap_or_default();
    if let Some(Value::String(text)) = key.as_ref().and_then(|k| known.get(k)) {
        let info = parse_rustc_info(text);
        if info.is_whole() {
            return info;
        }
    }
    let Some(text) = ask_rustc(rustc, dir) else {
        return Rustc::default();
    };
    let info = parse_rustc_info(&text);
    if let (true, Some(key), Some(file)) = (info.is_whole(), key, file) {
        // Past the limit, any one goes (the map is kept in key order).
        while known.len() >= RUSTC_CACHE_ENTRIES {
            let first = known.keys().next().cloned().expect("not empty");
            known.remove(&first);
        }
        known.insert(key, Value::String(text));
        // A cache that cannot be written is no cache: nothing else changes.
        let _ = write_atomically(&file, &serde_json::to_vec(&known).unwrap_or_default());
    }
    info
}

/// Runs `rustc -vV` and `rustc --print sysroot` side by side and returns
/// their outputs one after the other, or as much as succeeded (the `-vV`
/// block alone when the sysroot could not be had).
fn ask_rustc(rustc: &OsStr, dir: &Path) -> Option<String> {
    let spawn = |args: &[&str]| {
        Command::new(rustc)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()
    };
    let version = spawn(&["-vV"]);
    let sysroot = spawn(&["--print", "sysroot"]);
    let output = |child: Option<std::process::Child>| {
        child
            .and_then(|c| c.wait_with_output().ok())
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let mut text = output(version)?;
    if let Some(root) = output(sysroot) {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&root);
    }
    Some(text)
}

/// What identifies a rustc executable's answers: its path and the size and
/// modification time of its file. `None` (no caching) when it cannot be
/// found, when it is rustup's proxy, whose answer depends on the directory
/// it runs in (a `rust-toolchain.toml`) and on the environment, or when it
/// is a script (a shim that may pick a toolchain as it likes).
fn rustc_cache_key(rustc: &OsStr) -> Option<String> {
    let path = if Path::new(rustc).components().count() > 1 {
        PathBuf::from(rustc)
    } else {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(rustc))
            .find(|p| p.is_file())?
    };
    let path = path.canonicalize().ok()?;
    if path
        .file_stem()
        .is_some_and(|stem| stem == "rustup" || stem == "rustup-init")
    {
        return None;
    }
    let mut start = [0u8; 2];
    io::Read::read_exact(&mut std::fs::File::open(&path).ok()?, &mut start).ok()?;
    if start == *b"#!" {
        return None;
    }
    let meta = path.metadata().ok()?;
    let on_path_rustup = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|dir| dir.join("rustup"))
            .find(|p| p.is_file())
    });
    if let Some(rustup) = on_path_rustup.and_then(|r| r.metadata().ok()) {
        if rustup.len() == meta.len() {
            return None;
        }
    }
    file_key(&path)
}

/// A file's path and [`file_stamp`], as one string.
fn file_key(path: &Path) -> Option<String> {
    let meta = path.metadata().ok()?;
    Some(format!("{} {}", path.display(), file_stamp(&meta)?))
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

/// Reads the output of `rustc -vV` followed by `rustc --print sysroot`.
fn parse_rustc_info(text: &str) -> Rustc {
    let mut info = Rustc::default();
    for line in text.lines() {
        if line.starts_with("rustc ") && info.version.is_empty() {
            info.version = line.to_string();
        } else if let Some(h) = line.strip_prefix("host: ") {
            info.host = h.to_string();
        } else if let Some(r) = line.strip_prefix("release: ") {
            info.release = r.to_string();
        } else if line.starts_with('/') || line.contains(":\\") {
            info.sysroot = Some(PathBuf::from(line.trim()));
        }
    }
    info
}

/// The name of the variable the dynamic linker searches.
pub fn dylib_path_var() -> &'static str {
    if cfg!(windows) {
        "PATH"
    } else if cfg!(target_os = "macos") {
        "DYLD_FALLBACK_LIBRARY_PATH"
    } else {
        "LD_LIBRARY_PATH"
    }
}

/// What the runtime environment of one test executable is made from.
pub struct TestEnvInput<'a> {
    pub pkg: &'a Package,
    /// The package's `rust-version` as written (see [`Workspace`]).
    pub rust_version: Option<&'a str>,
    /// The target's kind (`lib`, `bin`, `test`, `bench`, `example`, ...).
    pub kind: &'a str,
    pub exe: &'a Path,
    /// The package's build script's output, if it has one.
    pub build_script: Option<&'a BuildScript>,
    /// Every build script's library search paths (cargo puts those inside
    /// the profile's output directory on the library path of every test).
    pub native_dirs: &'a [PathBuf],
    /// The `[env]` table of cargo's configuration (see [`config_env`]).
    pub config_env: &'a [ConfigEnv],
    /// The target's triple (the host's when not cross-compiling).
    pub target: &'a str,
    pub rustc: &'a Rustc,
}

/// The environment `cargo test` gives a package's test executable on top of
/// its own, in the order cargo sets it (a later one wins): the library
/// search path (the build scripts' library paths inside the profile's
/// output directory, that directory, its `deps`, the toolchain's libraries
/// for the target, then the inherited path), the build script's `OUT_DIR`
/// and `rustc-env` variables, `CARGO`, `CARGO_MANIFEST_*`, `CARGO_PKG_*`,
/// the `[env]` table of cargo's configuration, and for integration tests and
/// benchmarks `CARGO_BIN_EXE_<name>` for each of the package's binaries
/// (cargo 1.94 and later set it at run time too).
pub fn test_env(input: &TestEnvInput) -> Vec<(OsString, OsString)> {
    let TestEnvInput { pkg, kind, exe, .. } = *input;
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    let profile_dir = exe.parent().and_then(Path::parent);
    let mut search: Vec<PathBuf> = Vec::new();
    if let Some(profile_dir) = profile_dir {
        let mut native: Vec<&PathBuf> = input
            .native_dirs
            .iter()
            .filter(|p| p.starts_with(profile_dir))
            .collect();
        native.sort();
        native.dedup();
        search.extend(native.into_iter().cloned());
        search.push(profile_dir.to_path_buf());
    }
    if let Some(deps) = exe.parent() {
        search.push(deps.to_path_buf());
    }
    if let Some(sysroot) = &input.rustc.sysroot {
        search.push(
            sysroot
                .join("lib")
                .join("rustlib")
                .join(input.target)
                .join("lib"),
        );
    }
    let var = dylib_path_var();
    if let Some(existing) = std::env::var_os(var) {
        search.extend(std::env::split_paths(&existing));
    }
    if let Ok(joined) = std::env::join_paths(search) {
        env.push((var.into(), joined));
    }
    let mut set = |k: &str, v: &OsStr| env.push((k.into(), v.to_owned()));
    if let Some(b) = input.build_script {
        set("OUT_DIR", b.out_dir.as_os_str());
        for (k, v) in &b.env {
            set(k, OsStr::new(v));
        }
    }
    set("CARGO", &cargo_program());
    let manifest = pkg.manifest_path.as_std_path();
    set(
        "CARGO_MANIFEST_DIR",
        manifest.parent().unwrap_or(manifest).as_os_str(),
    );
    set("CARGO_MANIFEST_PATH", manifest.as_os_str());
    let v = &pkg.version;
    let s = |x: &str| OsString::from(x);
    set("CARGO_PKG_VERSION_MAJOR", &s(&v.major.to_string()));
    set("CARGO_PKG_VERSION_MINOR", &s(&v.minor.to_string()));
    set("CARGO_PKG_VERSION_PATCH", &s(&v.patch.to_string()));
    set("CARGO_PKG_VERSION_PRE", &s(v.pre.as_str()));
    set("CARGO_PKG_VERSION", &s(&v.to_string()));
    set("CARGO_PKG_NAME", &s(&pkg.name));
    set(
        "CARGO_PKG_DESCRIPTION",
        &s(pkg.description.as_deref().unwrap_or("")),
    );
    set(
        "CARGO_PKG_HOMEPAGE",
        &s(pkg.homepage.as_deref().unwrap_or("")),
    );
    set(
        "CARGO_PKG_REPOSITORY",
        &s(pkg.repository.as_deref().unwrap_or("")),
    );
    set(
        "CARGO_PKG_LICENSE",
        &s(pkg.license.as_deref().unwrap_or("")),
    );
    set(
        "CARGO_PKG_LICENSE_FILE",
        &s(pkg.license_file.as_ref().map(|p| p.as_str()).unwrap_or("")),
    );
    set("CARGO_PKG_AUTHORS", &s(&pkg.authors.join(":")));
    set(
        "CARGO_PKG_RUST_VERSION",
        &s(input.rust_version.unwrap_or("")),
    );
    set(
        "CARGO_PKG_README",
        &s(pkg.readme.as_ref().map(|p| p.as_str()).unwrap_or("")),
    );
    // `[env]` fills what neither the environment nor cargo set, unless forced.
    for c in input.config_env {
        let taken =
            || std::env::var_os(&c.key).is_some() || env.iter().any(|(k, _)| k == c.key.as_str());
        if c.force || !taken() {
            env.push((c.key.clone().into(), c.value.clone().into()));
        }
    }
    if matches!(kind, "test" | "bench") {
        if let Some(profile_dir) = profile_dir {
            for t in pkg.targets.iter().filter(|t| t.is_bin()) {
                let file = format!("{}{}", t.name, std::env::consts::EXE_SUFFIX);
                env.push((
                    format!("CARGO_BIN_EXE_{}", t.name).into(),
                    profile_dir.join(file).into(),
                ));
            }
        }
    }
    env
}

/// One entry of the `[env]` table of cargo's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEnv {
    pub key: String,
    pub value: String,
    /// `force = true`: it overrides the environment and cargo's own variables.
    pub force: bool,
}

/// The `[env]` entries of cargo's configuration files that apply when cargo
/// runs in `cwd`: `.cargo/config.toml` (or `.cargo/config`) in `cwd` and every
/// ancestor, then `$CARGO_HOME/config.toml`; closer files win. Values may be
/// strings or `{ value, force, relative }` tables. Forced entries override
/// the environment; the others only fill gaps (see [`test_env`]).
pub fn config_env(cwd: &Path) -> Vec<ConfigEnv> {
    let files = config_files(cwd);
    let mut out: BTreeMap<String, ConfigEnv> = BTreeMap::new();
    // Farthest first, so closer files overwrite.
    for file in files.iter().rev() {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let Ok(value) = text.parse::<toml::Table>() else {
            continue;
        };
        let Some(env) = value.get("env").and_then(|e| e.as_table()) else {
            continue;
        };
        let base = file
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("/"));
        for (k, v) in env {
            let (val, force, relative) = match v {
                toml::Value::String(s) => (s.clone(), false, false),
                toml::Value::Table(t) => (
                    t.get("value")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    t.get("force").and_then(|v| v.as_bool()).unwrap_or(false),
                    t.get("relative").and_then(|v| v.as_bool()).unwrap_or(false),
                ),
                _ => continue,
            };
            let value = if relative {
                base.join(val).to_string_lossy().into_owned()
            } else {
                val
            };
            out.insert(
                k.clone(),
                ConfigEnv {
                    key: k.clone(),
                    value,
                    force,
                },
            );
        }
    }
    out.into_values().collect()
}

/// Cargo's configuration files for a run in `cwd`, closest first:
/// `.cargo/config.toml` (or `.cargo/config`) in `cwd` and every ancestor,
/// then `$CARGO_HOME/config.toml` (or `config`).
pub fn config_files(cwd: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in cwd.ancestors() {
        for name in ["config.toml", "config"] {
            let f = dir.join(".cargo").join(name);
            if f.is_file() {
                files.push(f);
                break;
            }
        }
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        for name in ["config.toml", "config"] {
            let f = home.join(name);
            if f.is_file() && !files.contains(&f) {
                files.push(f);
                break;
            }
        }
    }
    files
}

/// A target runner from `CARGO_TARGET_<TRIPLE>_RUNNER` (cargo runs test
/// executables through it, as `runner exe args...`).
pub fn target_runner(host: &str) -> Option<Vec<String>> {
    let var = format!(
        "CARGO_TARGET_{}_RUNNER",
        host.to_uppercase().replace(['-', '.'], "_")
    );
    let v = std::env::var(var).ok()?;
    let parts: Vec<String> = v.split_whitespace().map(str::to_string).collect();
    (!parts.is_empty()).then_some(parts)
}

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
    mut cmd: Command,
    list_args: &[String],
    bootstrap: Option<&str>,
) -> Result<DocListing, Error> {
    let me = std::env::current_exe()
        .map_err(|e| Error::Setup(format!("cannot find our own executable: {e}")))?;
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
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::Setup(format!("cannot run cargo: {e}")))?;
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
        .map_err(|e| Error::Setup(format!("waiting for cargo: {e}")))?;
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
                k != RUSTDOC_WRAPPER_ENV && k != RUSTDOC_BOOTSTRAP_ENV && k != "RUSTDOC"
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
        if let Some(b) = std::env::var_os(RUSTDOC_BOOTSTRAP_ENV) {
            cmd.env("RUSTC_BOOTSTRAP", b);
        }
    }
    cmd.env_remove(RUSTDOC_BOOTSTRAP_ENV);
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

/// Reads a package's manifest for what `cargo metadata` leaves out: which
/// targets say `harness = false`. Keys are `(kind, name)` with kind one of
/// `lib`, `bin`, `test`, `bench`, `example`.
pub fn harness_false_targets(manifest: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(manifest) else {
        return Vec::new();
    };
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let no_harness = |t: &toml::Table| t.get("harness").and_then(|h| h.as_bool()) == Some(false);
    if let Some(lib) = doc.get("lib").and_then(|l| l.as_table()) {
        if no_harness(lib) {
            let name = lib
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .unwrap_or_default();
            out.push(("lib".to_string(), name));
        }
    }
    for kind in ["bin", "test", "bench", "example"] {
        if let Some(arr) = doc.get(kind).and_then(|v| v.as_array()) {
            for t in arr.iter().filter_map(|t| t.as_table()) {
                if no_harness(t) {
                    if let Some(n) = t.get("name").and_then(|n| n.as_str()) {
                        out.push((kind.to_string(), n.to_string()));
                    }
                }
            }
        }
    }
    out
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

    #[test]
    fn rustups_proxies_are_passed_by() {
        let dir = tempfile::tempdir().unwrap();
        let (bin, home) = (dir.path().join("bin"), dir.path().join("rustup"));
        let toolchain_bin = home.join("toolchains/stable-x86_64-unknown-linux-gnu/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&toolchain_bin).unwrap();
        std::fs::write(bin.join("rustup"), "proxy").unwrap();
        std::fs::write(bin.join("rustc"), "proxy").unwrap();
        std::fs::write(bin.join("rustdoc"), "a real rustdoc").unwrap();
        std::fs::write(toolchain_bin.join("rustc"), "compiler").unwrap();
        std::fs::write(toolchain_bin.join("rustdoc"), "rustdoc").unwrap();
        let path = std::env::join_paths([Path::new("/nonexistent"), &bin]).unwrap();
        let find = |tool: &str, toolchain: &str| {
            rustup_tool(tool, Some(OsStr::new(toolchain)), Some(&path), Some(&home))
        };
        let stable = "stable-x86_64-unknown-linux-gnu";
        assert_eq!(find("rustc", stable), Some(toolchain_bin.join("rustc")));
        // Not a proxy on the PATH: that one, as cargo would run it.
        assert_eq!(find("rustdoc", stable), None);
        // A toolchain given as a path, or one not installed.
        assert_eq!(find("rustc", "/opt/rust"), None);
        assert_eq!(find("rustc", "nightly"), None);
        // Not under rustup.
        assert_eq!(rustup_tool("rustc", None, Some(&path), Some(&home)), None);
    }

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
        assert_eq!(
            inv.base_args(),
            vec!["--crate-name", "a", "--test", "src/lib.rs", "-L", "d"]
        );
    }

    #[test]
    fn harness_false_is_read_from_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("Cargo.toml");
        std::fs::write(
            &m,
            "[package]\nname='x'\n[lib]\nharness=false\n[[test]]\nname='a'\nharness=false\n[[test]]\nname='b'\n",
        )
        .unwrap();
        assert_eq!(
            harness_false_targets(&m),
            vec![("lib".into(), "".into()), ("test".into(), "a".into())]
        );
    }

    /// A stand-in rustc that answers `-vV` and `--print sysroot` as rustc
    /// 1.95 does, and counts its `-vV` calls in `calls` (the sysroot fails
    /// while a file `no-sysroot` is beside it). Written beside its place and renamed over it, then run
    /// until the kernel lets it run: another test's process, forked while
    /// the file was open for writing, can hold it busy for a moment (ETXTBSY).
    fn fake_rustc(dir: &Path, release: &str, exit: i32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("rustc");
        let new = dir.join(".rustc.new");
        let calls = dir.join("calls");
        std::fs::write(
            &new,
            format!(
                "#!/bin/sh\n[ \"$1\" = --probe ] && exit 0\n\
                 if [ \"$1\" = --print ]; then [ -e '{sysroot_fails}' ] && exit 1; echo /fake/sysroot; exit {exit}; fi\n\
                 echo >> '{}'\n\
                 echo 'rustc {release} (0000 2020-01-01)'\n\
                 echo 'binary: rustc'\necho 'host: x86_64-fake-linux'\n\
                 echo 'release: {release}'\nexit {exit}\n",
                calls.display(),
                sysroot_fails = dir.join("no-sysroot").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&new, &path).unwrap();
        for _ in 0..500 {
            match Command::new(&path).arg("--probe").status() {
                Err(e) if e.raw_os_error() == Some(26) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                other => {
                    other.unwrap();
                    break;
                }
            }
        }
        path
    }

    fn calls(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("calls")).map_or(0, |s| s.lines().count())
    }

    #[test]
    fn rustc_answers_are_remembered_per_executable() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let rustc = fake_rustc(dir.path(), "1.2.3", 0);
        // The stand-in is a script, which is never cached as such: keyed
        // here as a compiled rustc is.
        let ask = || {
            let key = file_key(&rustc).unwrap();
            rustc_info_keyed(rustc.as_os_str(), dir.path(), Some((&cache, key)))
        };
        let first = ask();
        assert_eq!(
            (first.release.as_str(), first.host.as_str()),
            ("1.2.3", "x86_64-fake-linux")
        );
        assert_eq!(first.sysroot.as_deref(), Some(Path::new("/fake/sysroot")));
        let second = ask();
        assert_eq!((second.version, calls(dir.path())), (first.version, 1));
        // Another rustc at the same path (an update): asked again.
        fake_rustc(dir.path(), "1.20.0", 0);
        assert_eq!(
            (ask().release, calls(dir.path())),
            ("1.20.0".to_string(), 2)
        );
        assert_eq!(
            (ask().release, calls(dir.path())),
            ("1.20.0".to_string(), 2)
        );
    }

    #[test]
    fn rustc_answers_are_not_remembered_when_they_cannot_be() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let ask = |rustc: &Path, cache: &Path| {
            let key = file_key(rustc).unwrap();
            rustc_info_keyed(rustc.as_os_str(), dir.path(), Some((cache, key)))
        };
        // A failing rustc: asked each time.
        let rustc = fake_rustc(dir.path(), "1.2.3", 1);
        ask(&rustc, &cache);
        ask(&rustc, &cache);
        assert_eq!(calls(dir.path()), 2);
        // A cache directory that cannot be made: the answer all the same.
        let rustc = fake_rustc(dir.path(), "1.2.4", 0);
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        let info = ask(&rustc, &blocked.join("c"));
        assert_eq!((info.release.as_str(), calls(dir.path())), ("1.2.4", 3));
        // A damaged cache file is read as empty, and replaced.
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join(RUSTC_CACHE_FILE), "{not json").unwrap();
        ask(&rustc, &cache);
        ask(&rustc, &cache);
        assert_eq!(calls(dir.path()), 4);
        // A script (a shim) is not keyed at all, so never remembered.
        assert_eq!(rustc_cache_key(rustc.as_os_str()), None);
        rustc_info_cached(rustc.as_os_str(), dir.path(), Some(&cache));
        assert_eq!(calls(dir.path()), 5);
        // A rustc whose sysroot cannot be had: the answer is used but not
        // remembered, and a remembered answer without a sysroot (from an
        // earlier version) is asked again.
        std::fs::write(dir.path().join("no-sysroot"), "").unwrap();
        let rustc = fake_rustc(dir.path(), "1.2.5", 0);
        let info = ask(&rustc, &cache);
        assert_eq!((info.release.as_str(), info.sysroot), ("1.2.5", None));
        ask(&rustc, &cache);
        assert_eq!(calls(dir.path()), 7);
        let key = file_key(&rustc).unwrap();
        let partial = serde_json::json!({ key: "rustc 1.2.5 (0000 2020-01-01)\nhost: x86_64-fake-linux\nrelease: 1.2.5\n" });
        std::fs::write(cache.join(RUSTC_CACHE_FILE), partial.to_string()).unwrap();
        std::fs::remove_file(dir.path().join("no-sysroot")).unwrap();
        let info = ask(&rustc, &cache);
        assert_eq!(info.sysroot.as_deref(), Some(Path::new("/fake/sysroot")));
        ask(&rustc, &cache);
        assert_eq!(calls(dir.path()), 8, "asked once more, then remembered");
        // A compiled program is.
        let sh = Path::new("/bin/sh").canonicalize().unwrap();
        assert!(
            rustc_cache_key(sh.as_os_str()).is_some_and(|k| k.starts_with(&*sh.to_string_lossy()))
        );
    }
}
