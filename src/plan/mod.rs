//! The plan of a run: which test binaries there are, how to start each one,
//! and which tests each will run (discovery).
//!
//! Binary ids follow cargo-nextest: `pkg` for a library's unit tests,
//! `pkg::bin/name`, `pkg::example/name`, `pkg::bench/name`, `pkg::name` for
//! an integration test target, and `pkg::doc` for a package's doctests.
//! Test ids are `"<binary-id> <libtest name>"`: unique across the run and
//! stable across runs.

pub mod doccache;
pub mod expectations;
pub mod flags;
mod harness;
pub mod partition;
pub mod rerun;
pub mod unlock;

use crate::cargo::{self, Build, Rustc, RustdocInvocation};
use crate::libtest::{self, Event};
use crate::plan::expectations::Expectation;
use crate::plan::flags::TestFlags;
use crate::plan::unlock::Unlock;
use cargo_metadata::Metadata;
pub use harness::Harness;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// A discovered test.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestInfo {
    /// libtest's name.
    pub name: String,
    /// Source file, relative to the workspace root.
    pub path: Option<String>,
    /// Line of the test function (or doctest), 1-based.
    pub line: Option<u32>,
    /// `#[should_panic]` (or a `should_panic` doctest), as found in the source.
    pub should_panic: bool,
    /// `#[ignore]` (or an `ignore` doctest), as the harness listed it, and
    /// its reason.
    pub ignored: bool,
    pub ignore_reason: Option<String>,
    /// The expectations file's entry for this test.
    pub expectation: Option<Arc<Expectation>>,
}

/// How to start a test binary's process.
#[derive(Clone, Debug)]
pub struct Launch {
    pub program: PathBuf,
    /// Arguments before libtest's (a target runner's executable, rustdoc's own).
    pub base_args: Vec<OsString>,
    pub cwd: PathBuf,
    /// Variables set on top of (or, with `clear_env`, instead of) ours.
    pub env: Vec<(OsString, OsString)>,
    pub clear_env: bool,
    /// rustdoc takes libtest's arguments as `--test-args ARG` pairs.
    pub via_test_args: bool,
    /// How the process is let take `-Zunstable-options` (see [`crate::plan::unlock`]).
    pub unlock: Unlock,
    /// The harness writes its results to `--logfile` as well, the witness
    /// of its result lines (libtest and `tester`, as long as they take it).
    pub witness: bool,
    /// rustdoc: how it compiles the doctests (none: as it does by default).
    pub doc_merge: Option<DocMerge>,
}

/// How rustdoc compiles a package's doctests, when it can be told
/// (`-Zunstable-options --merge-doctests`, rustdoc 1.94 and later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocMerge {
    /// Merged into one crate where they can be (`--merge-doctests=auto`).
    /// `confirm`: a doctest that fails merged is compiled and run again on
    /// its own, and that result counts (editions before 2024, which
    /// `cargo test` compiles one by one).
    Merged { confirm: bool },
    /// Each on its own (`--merge-doctests=no`).
    Standalone,
}

/// Whether rustdoc merges doctests: `--doctests` and `structlog.toml`'s
/// `doctests`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DoctestMode {
    /// Merged where rustdoc can, on every edition.
    #[default]
    Merged,
    /// Each compiled on its own, on every edition.
    Standalone,
}

impl DoctestMode {
    pub fn parse(s: &str) -> Option<DoctestMode> {
        match s {
            "merged" => Some(DoctestMode::Merged),
            "standalone" => Some(DoctestMode::Standalone),
            _ => None,
        }
    }
}

impl Launch {
    /// The command that runs the binary with these libtest arguments.
    pub fn command(&self, libtest_args: &[String]) -> Command {
        let merge = match self.doc_merge {
            None => None,
            Some(DocMerge::Merged { .. }) => Some("auto"),
            Some(DocMerge::Standalone) => Some("no"),
        };
        self.command_merging(libtest_args, merge)
    }

    /// The same, but rustdoc compiles each doctest on its own (it can be
    /// told so).
    pub fn standalone_command(&self, libtest_args: &[String]) -> Command {
        self.command_merging(libtest_args, self.doc_merge.map(|_| "no"))
    }

    fn command_merging(&self, libtest_args: &[String], merge: Option<&str>) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.base_args);
        if let Some(merge) = merge {
            cmd.arg("-Zunstable-options")
                .arg(format!("--merge-doctests={merge}"));
        }
        for a in libtest_args {
            if self.via_test_args {
                cmd.arg("--test-args");
            }
            cmd.arg(a);
        }
        if self.clear_env {
            cmd.env_clear();
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let inherited = match self.env.iter().rev().find(|(k, _)| k == "LD_PRELOAD") {
            Some((_, v)) => Some(v.clone()),
            None if self.clear_env => None,
            None => std::env::var_os("LD_PRELOAD"),
        };
        self.unlock.apply(&mut cmd, inherited.as_deref());
        cmd.current_dir(&self.cwd);
        cmd
    }
}

/// A test binary of the run.
#[derive(Clone, Debug)]
pub struct TestBinary {
    pub id: String,
    pub harness: Harness,
    pub launch: Launch,
    /// The target's source file, relative to the workspace root.
    pub src_path: Option<String>,
    /// Sort key: cargo's order (package, then lib, bins, tests, ..., doctests last).
    pub order: (String, u8, String),
}

/// Why a binary's tests could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    /// The listing process did not start (its program: the executable, or
    /// the target runner that starts it).
    #[error("cannot start {} to list its tests", program.display())]
    Start {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// It ran and failed: its exit status and the end of its stderr.
    #[error("listing its tests failed ({status}): {stderr}")]
    Failed {
        status: std::process::ExitStatus,
        stderr: String,
    },
    /// The doctests' listing (through cargo) failed, or a listing panicked.
    #[error("{0}")]
    Other(String),
}

impl ListingError {
    /// Whether the harness refused `-Z` options on a stable toolchain.
    fn refuses_unstable(&self) -> bool {
        matches!(self, ListingError::Failed { stderr, .. } if crate::plan::unlock::refused(stderr))
    }

    /// Whether the harness refused `--logfile` (libtest deprecates it).
    fn refuses_logfile(&self) -> bool {
        matches!(self, ListingError::Failed { stderr, .. } if stderr.contains("logfile"))
    }
}

/// A binary with its discovered tests, or why discovery failed.
#[derive(Debug)]
pub struct Discovered {
    pub binary: TestBinary,
    pub tests: Result<Vec<TestInfo>, ListingError>,
}

fn binary_id(pkg: &str, kind: &str, name: &str) -> String {
    match kind {
        "bin" => format!("{pkg}::bin/{name}"),
        "example" => format!("{pkg}::example/{name}"),
        "bench" => format!("{pkg}::bench/{name}"),
        "test" => format!("{pkg}::{name}"),
        // lib, rlib, dylib, cdylib, staticlib, proc-macro
        _ => pkg.to_string(),
    }
}

fn kind_rank(kind: &str) -> u8 {
    match kind {
        "bin" => 1,
        "test" => 2,
        "bench" => 3,
        "example" => 4,
        _ => 0,
    }
}

/// Relative to the workspace root when inside it.
pub fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Everything the binaries' launches need from the environment.
pub struct Context<'a> {
    pub metadata: &'a Metadata,
    /// Packages' `rust-version`, as written.
    pub rust_versions: &'a HashMap<cargo_metadata::PackageId, String>,
    pub build: &'a Build,
    pub rustc: &'a Rustc,
    pub config_env: Vec<cargo::ConfigEnv>,
    /// The target the tests were built for, and its runner.
    pub platform: &'a cargo::Platform,
    /// How libtest binaries are let take `-Zunstable-options`.
    pub unlock: Unlock,
}

/// The test binaries cargo built, in cargo's order.
pub fn binaries(ctx: &Context) -> Vec<TestBinary> {
    let root = ctx.metadata.workspace_root.as_std_path();
    let packages: HashMap<_, _> = ctx.metadata.packages.iter().map(|p| (&p.id, p)).collect();
    let mut no_harness_cache: HashMap<PathBuf, Vec<(String, String)>> = HashMap::new();
    let native_dirs: Vec<PathBuf> = ctx
        .build
        .build_scripts
        .values()
        .flat_map(|b| b.linked_paths.iter().cloned())
        .collect();
    let mut out = Vec::new();
    for art in &ctx.build.artifacts {
        let Some(pkg) = packages.get(&art.package_id) else {
            continue;
        };
        let manifest = pkg.manifest_path.as_std_path().to_path_buf();
        let no_harness = no_harness_cache
            .entry(manifest.clone())
            .or_insert_with(|| harness::harness_false_targets(&manifest));
        let harness = harness::of(pkg, art, no_harness);
        let env = cargo::test_env(&cargo::TestEnvInput {
            pkg,
            rust_version: ctx.rust_versions.get(&pkg.id).map(String::as_str),
            kind: &art.kind,
            exe: &art.executable,
            build_script: ctx.build.build_scripts.get(&art.package_id),
            native_dirs: &native_dirs,
            config_env: &ctx.config_env,
            target: &ctx.platform.triple,
            rustc: ctx.rustc,
        });
        out.push(TestBinary {
            id: binary_id(&pkg.name, &art.kind, &art.target_name),
            harness,
            launch: launch(
                &art.executable,
                harness,
                env,
                manifest.parent().unwrap_or(root),
                ctx.platform.runner.as_ref(),
                &ctx.unlock,
            ),
            src_path: Some(relative(root, &art.src_path)),
            order: (
                pkg.name.to_string(),
                kind_rank(&art.kind),
                art.target_name.clone(),
            ),
        });
    }
    out.sort_by(|a, b| a.order.cmp(&b.order));
    out
}

/// How a test executable of this harness is started: as `cargo test` starts
/// it, `runner args... exe` when the target has a runner, in `cwd` with
/// `env` on top of ours.
pub fn launch(
    exe: &Path,
    harness: Harness,
    env: Vec<(OsString, OsString)>,
    cwd: &Path,
    runner: Option<&cargo::Runner>,
    unlock: &Unlock,
) -> Launch {
    let (program, base_args) = match runner {
        Some(r) => (
            r.program.clone(),
            r.args
                .iter()
                .cloned()
                .chain([exe.as_os_str().to_os_string()])
                .collect(),
        ),
        None => (exe.to_path_buf(), Vec::new()),
    };
    // The preload library leaves the runner's process before the runner
    // starts the test executable (and a foreign-architecture executable
    // could not load it): through a runner, libtest gets the variable.
    let unlock = match (harness, unlock, runner) {
        (Harness::Libtest, Unlock::Preload { .. }, Some(_)) => Unlock::Env,
        (Harness::Libtest, unlock, _) => unlock.clone(),
        _ => Unlock::Nothing,
    };
    Launch {
        program,
        base_args,
        cwd: cwd.to_path_buf(),
        env,
        clear_env: false,
        via_test_args: false,
        unlock,
        witness: matches!(harness, Harness::Libtest | Harness::Tester),
        doc_merge: None,
    }
}

/// A package's doctests as a binary, from the rustdoc invocation cargo made.
/// `merge`: how rustdoc is to compile them, when it can be told.
pub fn doctest_binary(
    inv: &RustdocInvocation,
    package: &str,
    unlock: &Unlock,
    merge: Option<DoctestMode>,
) -> TestBinary {
    let mut args: Vec<OsString> = inv.base_args().into_iter().map(OsString::from).collect();
    // The listing ran in cargo's terminal settings; ours are captured pipes.
    if let Some(i) = args.iter().position(|a| a == "--color") {
        if i + 1 < args.len() {
            args[i + 1] = "never".into();
        }
    }
    // With a runner, cargo gives rustdoc `--test-runtool`, and rustdoc
    // starts the merged doctests' runner through it, without telling it
    // apart (no `RUSTDOC_DOCTEST_BIN_PATH`): the preload library cannot
    // follow, and its libtest gets the variable as a runner's test does.
    let unlock = &match unlock {
        Unlock::Preload { .. } if inv.runtool().is_some() => Unlock::Env,
        other => other.clone(),
    };
    let doc_merge = merge
        .filter(|_| unlock.lets_rustdoc_merge())
        .map(|mode| match mode {
            DoctestMode::Merged => DocMerge::Merged {
                confirm: edition_of(&inv.args).is_none_or(|e| e < 2024),
            },
            DoctestMode::Standalone => DocMerge::Standalone,
        });
    TestBinary {
        id: format!("{package}::doc"),
        harness: Harness::Rustdoc,
        launch: Launch {
            program: PathBuf::from(&inv.program),
            base_args: args,
            cwd: inv.cwd.clone(),
            env: inv
                .env
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
            clear_env: true,
            via_test_args: true,
            unlock: unlock.for_rustdoc(doc_merge.is_some()),
            witness: false,
            doc_merge,
        },
        src_path: None,
        order: (package.to_string(), 9, String::new()),
    }
}

/// Below this many doctests, a crate before edition 2024 has its doctests
/// compiled each on its own, as `cargo test` does: one merged crate costs
/// about as much as four doctests compiled alone (measured with rustdoc
/// 1.95: 1 doctest 0.32 s alone, 0.64 s merged; 4: 0.55 s both ways; 8:
/// 0.81 s against 0.59 s; 16: 1.78 s against 0.64 s).
pub const MERGE_FROM: usize = 5;

/// Settles how a package's doctests are compiled once they are listed: a
/// few doctests of a crate before edition 2024 are compiled alone (see
/// [`MERGE_FROM`]); edition 2024 merges them as `cargo test` does.
pub fn settle_doc_merge(binary: &mut TestBinary, listed: usize) {
    if matches!(
        binary.launch.doc_merge,
        Some(DocMerge::Merged { confirm: true })
    ) && listed < MERGE_FROM
    {
        binary.launch.doc_merge = Some(DocMerge::Standalone);
    }
}

/// Filters that select the doctests `names` (and maybe others) through
/// rustdoc, which splits its test arguments at whitespace: per name, the
/// item it documents (`src/lib.rs - Foo::bar (line 3)` gives `Foo::bar`),
/// or its longest part without whitespace, or its file.
pub fn doctest_filters(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = names
        .iter()
        .map(|name| {
            let (file, rest) = name.split_once(" - ").unwrap_or((name, ""));
            let item = match rest.rsplit_once("(line ") {
                Some((item, _)) => item,
                None => rest,
            };
            item.split_whitespace()
                .max_by_key(|p| p.len())
                .filter(|p| p.len() > 2)
                .unwrap_or(file)
                .to_string()
        })
        .filter(|f| !f.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The edition rustdoc is given (`--edition=2021` or `--edition 2021`);
/// none means 2015.
pub(crate) fn edition_of(args: &[String]) -> Option<u32> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = match a.strip_prefix("--edition") {
            Some("") => it.next().map(String::as_str),
            Some(v) => v.strip_prefix('='),
            None => continue,
        };
        return value.and_then(|v| v.parse().ok());
    }
    None
}

/// Listings of libtest binaries, remembered between runs (in the target
/// directory, `structlog/listings/`). A libtest binary's tests are compiled
/// into it: the same executable file, listed with the same arguments, lists
/// the same tests. The file is known by its path, size, modification and
/// change times, device and inode, taken before it is listed; a rebuild
/// changes them, and the binary is listed again. Only binaries started
/// directly (no target runner) with libtest's own harness are remembered:
/// libtest-mimic, `tester` and custom harnesses may build their lists at run
/// time. Anything unreadable is a miss; anything unwritable is skipped. At
/// most [`MAX_LISTINGS`] are kept: past that, the least recently written go.
#[derive(Clone, Debug)]
pub struct ListingCache {
    dir: PathBuf,
}

impl ListingCache {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// What identifies a listing: the format, the executable file as it is
    /// now, and the arguments. The file it is kept in depends on the path
    /// and arguments alone, so that a rebuilt binary's listing replaces the
    /// one before.
    fn key(program: &Path, args: &[String]) -> Option<Key> {
        let meta = std::fs::metadata(program).ok()?;
        if !meta.is_file() {
            return None;
        }
        let file = cargo::file_stamp(&meta)?;
        let args = serde_json::to_string(args).ok()?;
        let text = format!("listing 1\n{}\n{file}\n{args}", program.display());
        let slot = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (program, &args).hash(&mut h);
            let name = program
                .file_name()
                .map_or_else(|| "binary".into(), |n| n.to_string_lossy());
            format!("{name}-{:016x}", h.finish())
        };
        Some(Key { text, slot })
    }

    /// Remembers `output` as the listing of `program` (as it is now) with
    /// `args`.
    pub fn store(&self, program: &Path, args: &[String], output: &[u8]) {
        if let Some(key) = Self::key(program, args) {
            self.put(&key, output);
        }
    }

    /// Every listing remembered here: the executable's path when it was
    /// listed, the arguments, the output.
    pub fn entries(&self) -> Vec<(PathBuf, Vec<String>, Vec<u8>)> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in dir.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(mut bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            let Some(newline) = bytes.iter().position(|b| *b == b'\n') else {
                continue;
            };
            let Some(len) = std::str::from_utf8(&bytes[..newline])
                .ok()
                .and_then(|l| l.parse::<usize>().ok())
            else {
                continue;
            };
            let start = newline + 1;
            let Some(text) = bytes
                .get(start..start.saturating_add(len))
                .and_then(|t| std::str::from_utf8(t).ok())
            else {
                continue;
            };
            // `listing 1`, the path, the file's stamp, the arguments.
            let mut parts = text.rsplitn(3, '\n');
            let (Some(args), Some(_stamp), Some(head)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Some(program), Ok(args)) = (
                head.strip_prefix("listing 1\n"),
                serde_json::from_str::<Vec<String>>(args),
            ) else {
                continue;
            };
            let program = PathBuf::from(program);
            bytes.drain(..start + len);
            out.push((program, args, bytes));
        }
        out
    }

    /// The remembered listing for this key, if there is one.
    fn get(&self, key: &Key) -> Option<Vec<u8>> {
        let mut bytes = std::fs::read(self.dir.join(&key.slot)).ok()?;
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        let len: usize = std::str::from_utf8(&bytes[..newline]).ok()?.parse().ok()?;
        let start = newline + 1;
        let stored = bytes.get(start..start.checked_add(len)?)?;
        if stored != key.text.as_bytes() {
            return None;
        }
        bytes.drain(..start + len);
        Some(bytes)
    }

    /// Remembers a listing; written aside and renamed, so that a reader sees
    /// a whole file or none.
    fn put(&self, key: &Key, output: &[u8]) {
        let mut bytes = Vec::with_capacity(key.text.len() + output.len() + 24);
        bytes.extend_from_slice(format!("{}\n", key.text.len()).as_bytes());
        bytes.extend_from_slice(key.text.as_bytes());
        bytes.extend_from_slice(output);
        if cargo::write_atomically(&self.dir.join(&key.slot), &bytes).is_ok() {
            prune_listings(&self.dir);
        }
    }
}

/// Keeps at most [`MAX_LISTINGS`] files in the listings directory: past
/// that, the least recently written half goes (a listing is only written
/// when it was not found).
pub(crate) fn prune_listings(dir: &Path) {
    let Ok(dir) = std::fs::read_dir(dir) else {
        return;
    };
    // Counted first: the files' times are read only when some must go.
    let paths: Vec<PathBuf> = dir.filter_map(|e| Some(e.ok()?.path())).collect();
    if paths.len() <= MAX_LISTINGS {
        return;
    }
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = paths
        .into_iter()
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    files.sort();
    let excess = files.len().saturating_sub(MAX_LISTINGS / 2);
    for (_, path) in &files[..excess] {
        let _ = std::fs::remove_file(path);
    }
}

/// The most listings kept (one per executable and arguments listed).
pub const MAX_LISTINGS: usize = 256;

/// A listing's identity, and the file it is kept in.
struct Key {
    text: String,
    slot: String,
}

/// A libtest binary's JSON listing: remembered when it can be, else run.
fn libtest_listing(
    binary: &TestBinary,
    args: &[String],
    cache: Option<&ListingCache>,
) -> Result<Vec<u8>, ListingError> {
    let launch = &binary.launch;
    let cache = cache.filter(|_| binary.harness == Harness::Libtest && launch.base_args.is_empty());
    let key = cache.and_then(|_| ListingCache::key(&launch.program, args));
    if let (Some(cache), Some(key)) = (cache, &key) {
        if let Some(output) = cache.get(key) {
            return Ok(output);
        }
    }
    let output = run_listing(launch.command(args))?;
    if let (Some(cache), Some(key)) = (cache, &key) {
        cache.put(key, &output);
    }
    Ok(output)
}

/// Runs a listing command and returns its stdout, or why it failed.
fn run_listing(mut cmd: Command) -> Result<Vec<u8>, ListingError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().map_err(|source| ListingError::Start {
        program: PathBuf::from(cmd.get_program()),
        source,
    })?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        Err(ListingError::Failed {
            status: out.status,
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        })
    }
}

/// Reads a JSON listing: the discovered tests, and whether every line was
/// understood (libtest does not escape `ignore_message`, so a reason with
/// quotes makes a line that is not JSON).
fn parse_json_listing<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
) -> (Vec<libtest::Discovered>, bool) {
    let mut tests = Vec::new();
    let mut complete = true;
    for line in lines {
        match libtest::parse_line(line) {
            Some(Event::Discovered(d)) => tests.push(d),
            Some(_) => {}
            None => {
                if line.trim_ascii().starts_with(b"{") {
                    complete = false;
                }
            }
        }
    }
    (tests, complete)
}

/// Discovers a binary's tests (the caller runs this on a thread per binary).
/// A libtest binary that refuses `-Z` options although the preload library
/// was given (a statically linked one, which cannot load it) is switched to
/// `RUSTC_BOOTSTRAP` in `binary`'s launch for the run as well.
pub fn discover(
    binary: &mut TestBinary,
    flags: &TestFlags,
    root: &Path,
    doc_lines: Option<&[Vec<u8>]>,
    cache: Option<&ListingCache>,
) -> Result<Vec<TestInfo>, ListingError> {
    let mut sources = SourceCache::new(root);
    match binary.harness {
        Harness::Custom => Ok(vec![TestInfo {
            name: binary.order.2.clone(),
            path: binary.src_path.clone(),
            ..Default::default()
        }]),
        Harness::Mimic => {
            let out = run_listing(binary.launch.command(&flags.list_args(Harness::Mimic)))?;
            let text = String::from_utf8_lossy(&out);
            Ok(libtest::parse_terse_list(&text, true)
                .into_iter()
                .map(|name| TestInfo {
                    name,
                    path: binary.src_path.clone(),
                    ..Default::default()
                })
                .collect())
        }
        Harness::Rustdoc => {
            let lines: Vec<&[u8]> = doc_lines
                .ok_or_else(|| ListingError::Other("no doctest listing".into()))?
                .iter()
                .map(Vec::as_slice)
                .collect();
            let (found, _) = parse_json_listing(lines.into_iter());
            Ok(found
                .into_iter()
                .map(|d| {
                    let mut info = TestInfo {
                        name: d.name,
                        path: d.source_path,
                        line: d.start_line,
                        ignored: d.ignore,
                        ignore_reason: d.ignore_message,
                        ..Default::default()
                    };
                    doctest_location(&mut info);
                    info.should_panic = sources.doctest_should_panic(&info);
                    info
                })
                .collect())
        }
        Harness::Libtest | Harness::Tester => {
            let mut listed = list_with_should_panic(binary, flags, cache);
            if matches!(&listed, Err(e) if binary.launch.unlock.is_preload() && e.refuses_unstable())
            {
                binary.launch.unlock = Unlock::Env;
                listed = list_with_should_panic(binary, flags, cache);
            }
            if matches!(&listed, Err(e) if binary.launch.witness && e.refuses_logfile()) {
                binary.launch.witness = false;
                listed = list_with_should_panic(binary, flags, cache);
            }
            let listed = listed?;
            Ok(listed
                .tests
                .into_iter()
                .map(|d| {
                    let mut info = TestInfo {
                        path: d.source_path.or_else(|| binary.src_path.clone()),
                        line: d.start_line,
                        name: d.name,
                        ignored: d.ignore,
                        ignore_reason: d.ignore_message,
                        ..Default::default()
                    };
                    info.should_panic = match &listed.not_should_panic {
                        Some(plain) => !plain.contains(&info.name),
                        None => sources.test_should_panic(&info),
                    };
                    info
                })
                .collect())
        }
    }
}

/// Marks the ignored tests of a harness whose listing does not say which
/// are (libtest-mimic, `tester`): they are the ones it lists with
/// `--ignored`. Nothing is marked when that listing fails.
pub fn mark_ignored(binary: &TestBinary, flags: &TestFlags, tests: &mut [TestInfo]) {
    if !matches!(binary.harness, Harness::Mimic | Harness::Tester) {
        return;
    }
    let mut args: Vec<String> = flags
        .list_args(binary.harness)
        .into_iter()
        .filter(|a| a != "--ignored" && a != "--include-ignored")
        .collect();
    args.push("--ignored".into());
    let Ok(out) = run_listing(binary.launch.command(&args)) else {
        return;
    };
    let text = String::from_utf8_lossy(&out);
    let strip = binary.harness == Harness::Mimic;
    let ignored: std::collections::HashSet<String> = libtest::parse_terse_list(&text, strip)
        .into_iter()
        .collect();
    for t in tests {
        t.ignored = ignored.contains(&t.name);
    }
}

/// A binary's listing, and which of its tests are not `#[should_panic]`.
struct Listed {
    tests: Vec<libtest::Discovered>,
    /// The names listed with `--exclude-should-panic`: every test missing
    /// from it is a `#[should_panic]` test, however it was written (a macro,
    /// a parametrized case, `cfg_attr`). `None` when the harness does not
    /// take the flag.
    not_should_panic: Option<std::collections::HashSet<String>>,
}

/// Lists a libtest binary twice at once: as it is, and without its
/// `#[should_panic]` tests (libtest's own `--exclude-should-panic`, which
/// knows every test's attribute as compiled).
fn list_with_should_panic(
    binary: &TestBinary,
    flags: &TestFlags,
    cache: Option<&ListingCache>,
) -> Result<Listed, ListingError> {
    let harness = binary.harness;
    let (tests, plain) = std::thread::scope(|scope| {
        let plain = scope.spawn(|| {
            let args = flags.list_args_without_should_panic(harness);
            list_names(binary, &args, cache).ok()
        });
        // The listing that counts also tells whether the harness still
        // takes `--logfile`.
        let mut args = flags.list_args(harness);
        if binary.launch.witness {
            args.push("--logfile=/dev/null".into());
        }
        let tests = list_names(binary, &args, cache);
        (tests, plain.join().ok().flatten())
    });
    let mut tests = tests?;
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Listed {
        tests,
        not_should_panic: plain.map(|found| found.into_iter().map(|d| d.name).collect()),
    })
}

/// The tests a libtest listing (`args`, a JSON listing) names, with the
/// stable text listing's names added for lines the JSON lost (libtest does
/// not escape `ignore_message`, so a reason with quotes makes a line that
/// is not JSON).
fn list_names(
    binary: &TestBinary,
    args: &[String],
    cache: Option<&ListingCache>,
) -> Result<Vec<libtest::Discovered>, ListingError> {
    let output = libtest_listing(binary, args, cache)?;
    if !args.iter().any(|a| a == "json") {
        let text = String::from_utf8_lossy(&output);
        return Ok(libtest::parse_terse_list(&text, false)
            .into_iter()
            .map(|name| libtest::Discovered {
                name,
                ..Default::default()
            })
            .collect());
    }
    let (mut found, complete) = parse_json_listing(output.split(|b| *b == b'\n'));
    if !complete {
        let terse: Vec<String> = args
            .iter()
            .map(|a| {
                if a == "json" {
                    "terse".to_string()
                } else {
                    a.clone()
                }
            })
            .collect();
        let out = libtest_listing(binary, &terse, cache)?;
        let text = String::from_utf8_lossy(&out);
        let json = String::from_utf8_lossy(&output);
        for name in libtest::parse_terse_list(&text, false) {
            if !found.iter().any(|t| t.name == name) {
                // Only an ignore reason breaks a line: the test is ignored.
                let reason = json
                    .lines()
                    .find_map(|l| libtest::salvage_ignore_message(l, &name));
                found.push(libtest::Discovered {
                    name,
                    ignore: true,
                    ignore_message: reason,
                    ..Default::default()
                });
            }
        }
    }
    Ok(found)
}

/// A doctest's name says where it is: `alpha/src/lib.rs - add (line 5)`.
fn doctest_location(info: &mut TestInfo) {
    if let Some((path, rest)) = info.name.split_once(" - ") {
        if info.path.is_none() {
            info.path = Some(path.to_string());
        }
        if info.line.is_none() {
            info.line = rest
                .rsplit_once("(line ")
                .and_then(|(_, n)| n.strip_suffix(')'))
                .and_then(|n| n.parse().ok());
        }
    }
}

/// Source files read for should_panic detection, each read once.
struct SourceCache<'a> {
    root: &'a Path,
    files: HashMap<String, Option<SourceLines>>,
}

/// A file's text and where each of its lines is (as `str::lines` cuts
/// them), without a string per line.
struct SourceLines {
    text: String,
    spans: Vec<(usize, usize)>,
}

impl SourceLines {
    fn new(text: String) -> SourceLines {
        let base = text.as_ptr() as usize;
        let spans = text
            .lines()
            .map(|l| {
                let start = l.as_ptr() as usize - base;
                (start, start + l.len())
            })
            .collect();
        SourceLines { text, spans }
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get(&self, i: usize) -> Option<&str> {
        self.spans.get(i).map(|&(a, b)| &self.text[a..b])
    }
}

impl<'a> SourceCache<'a> {
    fn new(root: &'a Path) -> Self {
        SourceCache {
            root,
            files: HashMap::new(),
        }
    }

    fn lines(&mut self, path: &str) -> Option<&SourceLines> {
        let root = self.root;
        if !self.files.contains_key(path) {
            let text = std::fs::read_to_string(root.join(path)).ok();
            self.files
                .insert(path.to_string(), text.map(SourceLines::new));
        }
        self.files.get(path)?.as_ref()
    }

    /// Looks at the attributes above the test function's name for
    /// `#[should_panic`. Tests made by macros point at the macro's call site,
    /// where no attribute is written: those are not detected here (see
    /// README "should_panic").
    fn test_should_panic(&mut self, info: &TestInfo) -> bool {
        let (Some(path), Some(line)) = (&info.path, info.line) else {
            return false;
        };
        let Some(lines) = self.lines(path) else {
            return false;
        };
        let idx = (line as usize).saturating_sub(1);
        if idx >= lines.len() {
            return false;
        }
        let fn_line = lines.get(idx).unwrap_or_default();
        if let Some(before) = fn_line.split("fn ").next() {
            if before.contains("should_panic") {
                return true;
            }
        }
        for l in (0..idx).rev().filter_map(|i| lines.get(i)) {
            let t = l.trim();
            if t.ends_with('}') || t.ends_with(';') || t.ends_with('{') {
                break;
            }
            if t.starts_with("#[")
                && t.contains("should_panic")
                && !t.starts_with("#[cfg_attr(not(")
            {
                return true;
            }
        }
        false
    }

    /// Reads a doctest's code fence (`(line N)` is the fence's line) for a
    /// `should_panic` attribute.
    fn doctest_should_panic(&mut self, info: &TestInfo) -> bool {
        self.doctest_fence_has(info, "should_panic")
    }

    /// Whether a doctest's code fence has the attribute `token`.
    fn doctest_fence_has(&mut self, info: &TestInfo, token: &str) -> bool {
        let (Some(path), Some(line)) = (&info.path, info.line) else {
            return false;
        };
        let Some(lines) = self.lines(path) else {
            return false;
        };
        let Some(fence) = lines.get((line as usize).saturating_sub(1)) else {
            return false;
        };
        let fence = fence.trim_start();
        let fence = fence
            .strip_prefix("///")
            .or_else(|| fence.strip_prefix("//!"))
            .unwrap_or(fence)
            .trim();
        let info_string = fence.trim_start_matches(['`', '~']);
        info_string
            .split(|c: char| c == ',' || c.is_whitespace())
            .any(|tok| tok == token)
    }
}

/// Whether the code fence of the doctest `name` (rustdoc's name, which
/// holds its file, relative to `root`, and its fence's line) has the
/// attribute `token` (`no_run`, `should_panic`).
pub fn doctest_fence_has(root: &Path, name: &str, token: &str) -> bool {
    let mut info = TestInfo {
        name: name.to_string(),
        ..Default::default()
    };
    doctest_location(&mut info);
    SourceCache::new(root).doctest_fence_has(&info, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctests_are_named_to_rustdoc_by_parts_without_whitespace() {
        let names: Vec<String> = [
            "src/lib.rs - Foo::bar (line 3)",
            "src/lib.rs - Foo::bar (line 30)",
            "src/lib.rs - (line 1)",
            "src/io.rs - io::Read for &'a [u8] (line 7)",
            "src/x.rs - a (line 2)",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            doctest_filters(&names),
            ["Foo::bar", "io::Read", "src/lib.rs", "src/x.rs"]
        );
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(edition_of(&args(&["--edition=2021", "x"])), Some(2021));
        assert_eq!(edition_of(&args(&["--edition", "2024"])), Some(2024));
        assert_eq!(edition_of(&args(&["--test"])), None);
    }

    /// A stand-in libtest binary (a shell script) that lists `a` and the
    /// should_panic `b`, and refuses `--logfile` as a libtest without it
    /// would.
    fn libtest_without_logfile(dir: &Path) -> TestBinary {
        use std::os::unix::fs::PermissionsExt;
        let exe = dir.join("fake-test");
        std::fs::write(
            &exe,
            r#"#!/bin/sh
for a in "$@"; do
  case "$a" in --logfile*) echo "error: Unrecognized option: 'logfile'" >&2; exit 101 ;; esac
done
echo '{ "type": "suite", "event": "discovery" }'
echo '{ "type": "test", "event": "discovered", "name": "a", "ignore": false, "ignore_message": "", "source_path": "src/lib.rs", "start_line": 1, "start_col": 1, "end_line": 1, "end_col": 2 }'
case "$*" in *--exclude-should-panic*) ;; *)
echo '{ "type": "test", "event": "discovered", "name": "b", "ignore": false, "ignore_message": "", "source_path": "src/lib.rs", "start_line": 2, "start_col": 1, "end_line": 2, "end_col": 2 }' ;;
esac
"#,
        )
        .unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        TestBinary {
            id: "p".into(),
            harness: Harness::Libtest,
            launch: Launch {
                program: exe,
                base_args: Vec::new(),
                cwd: dir.to_path_buf(),
                env: Vec::new(),
                clear_env: false,
                via_test_args: false,
                unlock: Unlock::Nothing,
                witness: true,
                doc_merge: None,
            },
            src_path: None,
            order: ("p".into(), 0, "p".into()),
        }
    }

    #[test]
    fn a_harness_that_refuses_logfile_runs_without_a_witness() {
        let dir = tempfile::tempdir().unwrap();
        let mut binary = libtest_without_logfile(dir.path());
        let tests = discover(&mut binary, &TestFlags::default(), dir.path(), None, None)
            .expect("listed without --logfile");
        assert!(!binary.launch.witness);
        let names: Vec<(&str, bool)> = tests
            .iter()
            .map(|t| (t.name.as_str(), t.should_panic))
            .collect();
        assert_eq!(names, [("a", false), ("b", true)]);
    }

    #[test]
    fn listings_taken_elsewhere_are_used_for_the_executable_where_it_is_now() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut binary = libtest_without_logfile(dir.path());
        binary.launch.witness = false;
        let made = ListingCache::new(dir.path().join("made"));
        let listed = discover(
            &mut binary,
            &TestFlags::default(),
            dir.path(),
            None,
            Some(&made),
        )
        .unwrap();
        let entries = made.entries();
        // Listed as it is and without its should_panic tests.
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert!(entries.iter().all(|(p, _, _)| *p == binary.launch.program));

        // Elsewhere, an executable that would fail if it were started.
        let moved = dir.path().join("moved");
        std::fs::create_dir(&moved).unwrap();
        let exe = moved.join("fake-test");
        std::fs::write(&exe, "#!/bin/sh\nexit 3\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let here = ListingCache::new(dir.path().join("here"));
        for (_, args, output) in &entries {
            here.store(&exe, args, output);
        }
        let mut there = binary.clone();
        there.launch.program = exe;
        let found = discover(
            &mut there,
            &TestFlags::default(),
            dir.path(),
            None,
            Some(&here),
        )
        .expect("the stored listings, not the executable, answer");
        let names = |t: &[TestInfo]| -> Vec<(String, bool)> {
            t.iter().map(|t| (t.name.clone(), t.should_panic)).collect()
        };
        assert_eq!(names(&found), names(&listed));
        assert_eq!(
            names(&found),
            [("a".to_string(), false), ("b".to_string(), true)]
        );
    }

    #[test]
    fn remembered_listings_are_kept_to_a_bound() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ListingCache::new(dir.path().join("listings"));
        let key = |i: usize| Key {
            text: format!("listing 1\nbinary {i}"),
            slot: format!("binary-{i}"),
        };
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for i in 0..MAX_LISTINGS {
            cache.put(&key(i), format!("tests of {i}\n").as_bytes());
            // Older the lower the number; the files' times would otherwise
            // tie at the clock's granularity.
            let file = std::fs::File::options()
                .write(true)
                .open(dir.path().join("listings").join(&key(i).slot))
                .unwrap();
            file.set_modified(an_hour_ago + std::time::Duration::from_secs(i as u64))
                .unwrap();
        }
        assert_eq!(cache.get(&key(0)).as_deref(), Some(&b"tests of 0\n"[..]));
        // A key that differs in any way is a miss.
        let mut other = key(0);
        other.text.push(' ');
        assert_eq!(cache.get(&other), None);
        let count = || {
            std::fs::read_dir(dir.path().join("listings"))
                .unwrap()
                .count()
        };
        assert_eq!(count(), MAX_LISTINGS);

        // One more: the least recently written half goes, the newest stay.
        cache.put(&key(MAX_LISTINGS), b"tests of the last\n");
        assert_eq!(count(), MAX_LISTINGS / 2);
        assert_eq!(cache.get(&key(0)), None);
        assert_eq!(cache.get(&key(MAX_LISTINGS / 2)), None);
        assert!(cache.get(&key(MAX_LISTINGS / 2 + 1)).is_some());
        assert_eq!(
            cache.get(&key(MAX_LISTINGS)).as_deref(),
            Some(&b"tests of the last\n"[..])
        );
    }

    #[test]
    fn ids_follow_nextest() {
        assert_eq!(binary_id("alpha", "lib", "alpha"), "alpha");
        assert_eq!(binary_id("alpha", "proc-macro", "alpha"), "alpha");
        assert_eq!(binary_id("alpha", "bin", "tool"), "alpha::bin/tool");
        assert_eq!(binary_id("alpha", "test", "it_one"), "alpha::it_one");
        assert_eq!(binary_id("alpha", "example", "ex"), "alpha::example/ex");
        assert_eq!(binary_id("alpha", "bench", "b"), "alpha::bench/b");
    }

    #[test]
    fn should_panic_is_read_from_attributes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("lib.rs"),
            "#[test]\n#[should_panic(\n    expected = \"x\"\n)]\nfn a() {}\n\n#[test]\nfn b() {}\n#[test] #[should_panic] fn c() {}\n/// ```should_panic,edition2021\n/// x\n/// ```\n/// ```ignore\n",
        )
        .unwrap();
        let mut c = SourceCache::new(dir.path());
        let t = |line| TestInfo {
            name: "t".into(),
            path: Some("lib.rs".into()),
            line: Some(line),
            ..Default::default()
        };
        assert!(c.test_should_panic(&t(5)));
        assert!(!c.test_should_panic(&t(8)));
        assert!(c.test_should_panic(&t(9)));
        assert!(c.doctest_should_panic(&t(10)));
        assert!(!c.doctest_should_panic(&t(13)));
    }

    #[test]
    fn doctest_names_give_their_place() {
        let mut info = TestInfo {
            name: "alpha/src/lib.rs - add (line 11)".into(),
            ..Default::default()
        };
        doctest_location(&mut info);
        assert_eq!(info.path.as_deref(), Some("alpha/src/lib.rs"));
        assert_eq!(info.line, Some(11));
        let mut module = TestInfo {
            name: "src/lib.rs - (line 3)".into(),
            ..Default::default()
        };
        doctest_location(&mut module);
        assert_eq!(module.line, Some(3));
    }
}
