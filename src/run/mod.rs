//! `cargo structlog run`: build, discover, run, and write the stream.

pub(crate) mod archive;
pub mod coordinator;
mod hook;
mod list;
pub mod policy;
mod process;
pub(crate) use process::read_line_capped;

use crate::cargo::{self, Rustc};
use crate::error::{exit, Error};
use crate::logs::records::{self, Recorder};
use crate::model::summary::Summary;
use crate::model::{Action, Entry, Level, Log, Origin, SuiteEnd, SuiteStart};
use crate::plan::doccache::{Context as DocContext, DocCache};
use crate::plan::expectations::Expectations;
use crate::plan::flags::TestFlags;
use crate::plan::rerun::{Mode as RerunMode, Rerun};
use crate::plan::{self, Discovered, TestBinary};
use crate::run::coordinator::{Hook, Msg, RunConfig, Runner, SystemClock};
use crate::sink::{self, FanOut};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::time::Duration;

/// The stream's destination: every sink, and the counts that decide the exit status.
pub struct Stream {
    pub fanout: FanOut,
    pub summary: Summary,
    /// The run's own record (see [`crate::logs::records`]).
    record: Option<Recorder>,
    /// `log` entries from WARNING up go to stderr too (`list`, which has
    /// no sinks).
    echo_warnings: bool,
}

impl Stream {
    pub fn entry(&mut self, e: &Entry) {
        self.summary.entry(e);
        self.fanout.entry(e);
        if let Some(r) = &mut self.record {
            r.entry(e);
        }
        if self.echo_warnings {
            if let Action::Log(l) = &e.action {
                if l.level <= Level::Warning {
                    eprintln!(
                        "cargo-structlog: {}: {}",
                        l.level.as_str().to_lowercase(),
                        l.message
                    );
                }
            }
        }
    }
}

impl crate::run::coordinator::Output for Stream {
    fn entry(&mut self, e: &Entry) {
        Stream::entry(self, e);
    }

    fn flush(&mut self) -> Option<std::time::Instant> {
        if let Some(r) = &mut self.record {
            r.flush();
        }
        self.fanout.flush_live()
    }
}

/// Everything a run is told, checked before anything runs (built from the
/// command line by [`crate::cli`]).
#[derive(Debug, Default)]
pub struct Settings {
    pub cargo: cargo::Options,
    pub targets: cargo::Targets,
    /// `TESTNAME`, as `cargo test` takes it.
    pub filter: Option<String>,
    /// With a `TESTNAME`, the matching doctests run too.
    pub filter_doctests: bool,
    /// What the test binaries are given (the filter and `--` arguments included).
    pub flags: TestFlags,
    pub sinks: sink::Config,
    pub control: Control,
    pub expectations: ExpectationsFile,
    /// An expectation that matches no test stops the run.
    pub strict_expectations: bool,
    /// Times a test with an unexpected result runs again.
    pub retries: u32,
    /// Flaky tests fail the run.
    pub fail_on_flaky: bool,
    /// `--last-failed`, `--failed-first`.
    pub rerun: Option<RerunRequest>,
    /// The tests come from this archive: nothing is built.
    pub archive: Option<archive::ArchiveRun>,
}

/// Run what failed last time, alone or first.
#[derive(Debug)]
pub struct RerunRequest {
    pub mode: RerunMode,
    /// The reference: these raw logs, else the kept records.
    pub from: Vec<PathBuf>,
}

/// What a run does with its tests once they are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Run,
    /// `cargo structlog list`: print them (as JSON with `json`), run none.
    List {
        json: bool,
    },
}

/// Timeouts, the pre-kill hook, sharding, parallelism.
#[derive(Debug)]
pub struct Control {
    pub timeout: Option<Duration>,
    pub hook: Hook,
    pub hook_timeout: Duration,
    /// Where pre-kill samples go [default: `<target-dir>/structlog`].
    pub session_dir: Option<PathBuf>,
    pub partition: Option<crate::plan::partition::Partition>,
    /// Test binaries run at once [default: see [`default_parallel`]].
    pub test_binaries: Option<u32>,
    /// How rustdoc compiles doctests [default: the expectations file's
    /// `doctests`, else merged].
    pub doctests: Option<crate::plan::DoctestMode>,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            timeout: None,
            hook: Hook::Default,
            hook_timeout: Duration::from_secs(30),
            session_dir: None,
            partition: None,
            test_binaries: None,
            doctests: None,
        }
    }
}

/// Which expectations file applies.
#[derive(Debug, Default)]
pub enum ExpectationsFile {
    /// `structlog.toml` at the workspace root, when there is one.
    #[default]
    Default,
    /// A file named on the command line, already read.
    Given(Arc<Expectations>),
    /// None (`--no-expectations`).
    Off,
}

/// Who we are in the log.
pub fn origin() -> Origin {
    Origin {
        thread: "main".into(),
        pid: std::process::id() as i64,
        source: "cargo-structlog".into(),
    }
}

fn now_ms() -> u64 {
    use crate::run::coordinator::Clock;
    SystemClock.now_ms()
}

/// Installs handlers for SIGINT and SIGTERM: each one is counted and sent to
/// the coordinator.
fn watch_signals(tx: SyncSender<Msg>) -> Result<Arc<AtomicUsize>, Error> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let count = Arc::new(AtomicUsize::new(0));
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Error::caused("cannot handle signals", e))?;
    let c = count.clone();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            c.fetch_add(1, Ordering::SeqCst);
            if tx.send(Msg::Signal(sig)).is_err() {
                return;
            }
        }
    });
    Ok(count)
}

fn run_info(root: &Path, args: &Settings, rustc: &Rustc) -> Map<String, Value> {
    let profile = args.cargo.profile_name().to_string();
    let mut m = Map::new();
    m.insert("os".into(), Value::from(std::env::consts::OS));
    m.insert("arch".into(), Value::from(std::env::consts::ARCH));
    m.insert(
        "debug".into(),
        Value::Bool(!matches!(profile.as_str(), "release" | "bench")),
    );
    m.insert("profile".into(), Value::from(profile));
    if !rustc.version.is_empty() {
        m.insert("rustc".into(), Value::from(rustc.version.clone()));
    }
    m.insert(
        "workspace".into(),
        Value::from(root.to_string_lossy().into_owned()),
    );
    if let Some(p) = &args.control.partition {
        m.insert("partition".into(), Value::from(p.to_string()));
    }
    if let Ok(h) = nix::unistd::gethostname() {
        m.insert(
            "hostname".into(),
            Value::from(h.to_string_lossy().into_owned()),
        );
    }
    m
}

/// Where a run's time went, written in `suite_end`'s `extra.timings`
/// (seconds): `total`, `build` (cargo's, until the test binaries were
/// built), `listing` (from then until every test was listed; the first
/// binaries run meanwhile) and `binaries` (how long each one's processes
/// ran, all together).
struct Timings<'a> {
    began: std::time::Instant,
    built: std::time::Instant,
    listed: Option<std::time::Instant>,
    busy: &'a [(String, Duration)],
}

impl Timings<'_> {
    fn extra(&self) -> Map<String, Value> {
        let secs = |d: Duration| Value::from((d.as_secs_f64() * 1000.0).round() / 1000.0);
        let mut t = Map::new();
        t.insert("total".into(), secs(self.began.elapsed()));
        t.insert(
            "build".into(),
            secs(self.built.saturating_duration_since(self.began)),
        );
        if let Some(l) = self.listed {
            t.insert(
                "listing".into(),
                secs(l.saturating_duration_since(self.built)),
            );
        }
        let mut bins = Map::new();
        for (id, d) in self.busy {
            if !d.is_zero() {
                bins.insert(id.clone(), secs(*d));
            }
        }
        t.insert("binaries".into(), Value::Object(bins));
        let mut extra = Map::new();
        extra.insert("timings".into(), Value::Object(t));
        extra
    }
}

fn join_metadata(
    handle: std::thread::JoinHandle<Result<cargo::Workspace, Error>>,
) -> Result<cargo::Workspace, Error> {
    handle
        .join()
        .map_err(|_| Error::Setup("cargo metadata panicked".into()))?
}

/// Writes a run that had nothing to run: suite_start, why, suite_end.
fn nothing_to_run(stream: &mut Stream, run_info: Map<String, Value>, message: String) {
    let o = origin();
    let t = now_ms();
    stream.entry(&o.entry(
        t,
        Action::SuiteStart(SuiteStart {
            tests: Default::default(),
            run_info: Some(run_info),
            ..Default::default()
        }),
    ));
    stream.entry(&o.entry(
        t,
        Action::Log(Log {
            level: Level::Info,
            message,
            stack: None,
        }),
    ));
    stream.entry(&o.entry(now_ms(), Action::SuiteEnd(SuiteEnd::default())));
}

/// Writes a run that never got to its tests: suite_start, the error, suite_end.
fn failed_run(
    stream: &mut Stream,
    run_info: Map<String, Value>,
    name: Option<String>,
    message: String,
) {
    let o = origin();
    let t = now_ms();
    stream.entry(&o.entry(
        t,
        Action::SuiteStart(SuiteStart {
            tests: Default::default(),
            name,
            run_info: Some(run_info),
            ..Default::default()
        }),
    ));
    stream.entry(&o.entry(
        t,
        Action::Log(Log {
            level: Level::Error,
            message,
            stack: None,
        }),
    ));
    stream.entry(&o.entry(now_ms(), Action::SuiteEnd(SuiteEnd::default())));
}

/// Finishes every sink and the record; the run's exit status.
fn finish(mut stream: Stream, interrupted: bool, build_failed: bool, fail_on_flaky: bool) -> i32 {
    let failures = stream.fanout.finish();
    let status = exit::of_run(exit::Run {
        interrupted,
        build_failed,
        sink_failed: !failures.is_empty(),
        tests_failed: !stream.summary.is_ok() || (fail_on_flaky && stream.summary.flaky > 0),
    });
    if let Some(r) = stream.record.take() {
        r.finish(status);
    }
    status
}

/// Runs the tests and writes the stream.
pub fn run(args: Settings) -> Result<i32, Error> {
    execute(args, Purpose::Run)
}

/// Builds and lists the tests a run with these settings would run, and
/// prints them; runs none.
pub fn list(args: Settings, json: bool) -> Result<i32, Error> {
    execute(args, Purpose::List { json })
}

fn execute(mut args: Settings, purpose: Purpose) -> Result<i32, Error> {
    let began = std::time::Instant::now();
    let listing = matches!(purpose, Purpose::List { .. });
    let flags = args.flags.clone();
    // An expectations file named on the command line was read already; the
    // default one is read once the workspace is known.
    let mut expectations = match &args.expectations {
        ExpectationsFile::Given(x) => Some(x.clone()),
        _ => None,
    };
    // The workspace and the toolchain are learned while the outputs are
    // opened and cargo builds. These only ask: an output that cannot be
    // opened still stops the run before anything is built.
    // An archive is checked and extracted before anything else: a damaged
    // one stops the run before an output is opened.
    let archived = match &args.archive {
        Some(a) => Some(Arc::new(archive::Source::open(
            a,
            args.cargo.target.as_deref(),
        )?)),
        None => None,
    };
    // Samples and the run's record outlive an extraction: they go where a
    // normal run in the checkout would write them.
    if let (Some(x), None) = (&archived, &args.control.session_dir) {
        args.control.session_dir = Some(x.workspace.join("target").join("structlog"));
    }
    let metadata = match &archived {
        Some(x) => {
            let w = x.workspace();
            std::thread::spawn(move || w)
        }
        None => {
            let cargo_args = args.cargo.clone();
            std::thread::spawn(move || cargo::metadata(&cargo_args))
        }
    };
    let cwd = std::env::current_dir().map_err(|e| Error::caused("no current directory", e))?;
    let manifest_dir = match &archived {
        Some(x) => x.workspace.clone(),
        None => args
            .cargo
            .manifest_path
            .as_ref()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| cwd.clone()),
    };
    let rustc_dir = manifest_dir.clone();
    // The platform (target and runner) is read from cargo's configuration
    // as cargo reads it, from the directory cargo runs in; its host is
    // rustc's. An archive's tests run for its target, through the runner
    // cargo's configuration here names.
    let (config_dir, target) = (cwd.clone(), args.cargo.target.clone());
    let known = archived.as_ref().map(|x| (x.rustc(), x.target()));
    let toolchain = std::thread::spawn(move || {
        let (rustc, target) = match known {
            Some((rustc, target)) => (rustc, Some(target)),
            None => (cargo::rustc_info(&rustc_dir), target),
        };
        let platform = cargo::platform(&config_dir, target.as_deref(), &rustc.host);
        (rustc, platform)
    });
    // What failed last time is known before anything is opened or built:
    // a reference that cannot be read stops the run with nothing touched,
    // and when nothing failed, nothing is built.
    let mut metadata = Some(metadata);
    let mut early = None;
    let rerun = match &args.rerun {
        None => None,
        Some(req) => {
            let paths = if req.from.is_empty() {
                let m = join_metadata(metadata.take().expect("not joined yet"))?;
                let dir = records::dir(
                    args.control.session_dir.as_deref(),
                    m.metadata.target_directory.as_std_path(),
                );
                early = Some(m);
                let paths = records::all(&dir);
                if paths.is_empty() {
                    return Err(Error::Usage(format!(
                        "{}: no run is recorded here yet; run the tests once, or name a raw log with --from-log",
                        dir.display()
                    )));
                }
                paths
            } else {
                req.from.clone()
            };
            let source = if req.from.is_empty() {
                "the recorded runs".to_string()
            } else {
                (req.from.iter())
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let failed = records::failed(&paths)?;
            Some(Rerun::new(req.mode, source, failed))
        }
    };
    let mut fanout = if listing {
        FanOut::new()
    } else {
        sink::setup(&args.sinks)?
    };
    if !listing && crate::sink::progress::wanted() {
        fanout.add(
            "progress bar",
            Box::new(crate::sink::progress::Progress::new()),
        );
    }
    let mut stream = Stream {
        fanout,
        summary: Summary::new(),
        record: None,
        echo_warnings: listing,
    };
    let rerun = match rerun {
        Some(r) if r.is_empty() => {
            let message = format!(
                "no test failed in {}: {}",
                r.source,
                match r.mode {
                    RerunMode::Only => "nothing to run (--last-failed)",
                    RerunMode::First => "running every test (--failed-first)",
                }
            );
            eprintln!("cargo-structlog: {message}");
            if r.mode == RerunMode::Only {
                if !listing {
                    let info = run_info(&manifest_dir, &args, &Rustc::default());
                    nothing_to_run(&mut stream, info, message);
                    return Ok(finish(stream, false, false, false));
                }
                return Ok(exit::OK);
            }
            None
        }
        r => r.map(Arc::new),
    };
    let (tx, rx) = sync_channel::<Msg>(4096);
    let signals = watch_signals(tx.clone())?;

    let doc_only = args.targets.doc;
    // As cargo test: a TESTNAME (not a filter after `--`) runs no doctests,
    // unless they are all that was asked for.
    let want_docs = (doc_only
        || (!args.targets.any_selected() && (args.filter.is_none() || args.filter_doctests)))
        && !rerun
            .as_ref()
            .is_some_and(|r| r.mode == RerunMode::Only && !r.has_doctests());
    if doc_only && args.targets.any_selected() {
        return Err(Error::Usage(
            "--doc cannot be combined with other target selection flags (as in cargo test)".into(),
        ));
    }
    let build = if doc_only || archived.is_some() {
        Ok(cargo::Build {
            success: true,
            ..Default::default()
        })
    } else {
        let mut cmd = cargo::cargo_command("test", &args.cargo);
        args.targets.apply(&mut cmd);
        cargo::build(&mut cmd, args.cargo.color.as_deref())
    };
    let built = std::time::Instant::now();
    let (rustc, platform) = toolchain
        .join()
        .map_err(|_| Error::Setup("reading the toolchain panicked".into()))?;
    let metadata = match (early, metadata) {
        (Some(m), _) => Ok(m),
        (None, Some(handle)) => join_metadata(handle),
        (None, None) => unreachable!("metadata is joined once"),
    };
    let (workspace, platform) = match (metadata, platform) {
        (Ok(m), Ok(p)) => (m, p),
        (Err(e), _) | (_, Err(e)) => {
            // No workspace, or no platform, to speak of: still leave
            // complete documents behind.
            let info = run_info(&manifest_dir, &args, &rustc);
            failed_run(&mut stream, info, None, e.report());
            finish(stream, false, false, false);
            return Err(e);
        }
    };
    let metadata = &workspace.metadata;
    if !listing {
        let dir = records::dir(
            args.control.session_dir.as_deref(),
            metadata.target_directory.as_std_path(),
        );
        stream.record = Recorder::start(&dir, now_ms(), std::process::id());
    }
    let root = metadata.workspace_root.as_std_path().to_path_buf();
    let info = run_info(&root, &args, &rustc);
    let suite_name = root.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut build = build?;
    if matches!(args.expectations, ExpectationsFile::Default) {
        let default = root.join("structlog.toml");
        if default.is_file() {
            match Expectations::load(&default) {
                Ok(x) => expectations = Some(Arc::new(x)),
                Err(e) => {
                    failed_run(&mut stream, info, suite_name, e.to_string());
                    finish(stream, false, false, false);
                    return Err(e);
                }
            }
        }
    }
    if signals.load(Ordering::SeqCst) > 0 {
        failed_run(
            &mut stream,
            info,
            suite_name,
            "interrupted while building".into(),
        );
        return Ok(finish(stream, true, false, false));
    }
    if !build.success {
        let mut message = String::from("build failed");
        for e in &build.errors {
            message.push('\n');
            message.push_str(e);
        }
        failed_run(&mut stream, info, suite_name, message);
        return Ok(finish(stream, false, true, false));
    }

    let structlog_dir = metadata.target_directory.as_std_path().join("structlog");
    let unlock = crate::plan::unlock::choose(rustc.is_nightly(), &structlog_dir);
    let binaries = match &archived {
        Some(x) => x.binaries(&platform, &unlock),
        None => plan::binaries(&plan::Context {
            metadata,
            rust_versions: &workspace.rust_versions,
            build: &build,
            rustc: &rustc,
            config_env: cargo::config_env(&cwd),
            platform: &platform,
            unlock: unlock.clone(),
        }),
    };

    // Doctests are listed by cargo alongside the first binaries' run, once
    // the first binary is listed: that listing, which the run waits for,
    // does not share the CPUs with cargo's start.
    let listings_dir = structlog_dir.join("listings");
    let docs_pending = want_docs
        && match &archived {
            Some(x) => x.has_doctests(),
            None => has_doctests(metadata),
        };
    let list_docs: Option<Box<dyn FnOnce() + Send>> = match &archived {
        Some(x) if docs_pending => {
            let (x, flags, platform, tx) = (x.clone(), flags.clone(), platform.clone(), tx.clone());
            Some(Box::new(move || {
                std::thread::spawn(move || {
                    let _ = tx.send(Msg::Docs(x.doctests(&flags, &platform)));
                });
            }))
        }
        Some(_) => None,
        None => docs_pending.then(|| -> Box<dyn FnOnce() + Send> {
            let mut cmd = cargo::cargo_command("test", &args.cargo);
            cmd.current_dir(&cwd);
            let list_args = flags.list_args(crate::plan::Harness::Rustdoc);
            // The listing starts nothing: the variable can be set there.
            let bootstrap = (!rustc.is_nightly()).then_some("-1");
            let flags = flags.clone();
            let unlock = unlock.clone();
            let rustc = rustc.clone();
            let root = root.clone();
            let tx = tx.clone();
            let doctests = args
                .control
                .doctests
                .or(expectations.as_ref().and_then(|x| x.doctests))
                .unwrap_or_default();
            let merge = rustc.rustdoc_merges().then_some(doctests);
            // A remembered listing is trusted against this run's build: `--doc`
            // alone builds nothing before listing, so it always lists.
            let remember = (!doc_only).then(|| {
                let manifests: Vec<PathBuf> = metadata
                    .workspace_packages()
                    .iter()
                    .map(|p| p.manifest_path.as_std_path().to_path_buf())
                    .collect();
                (
                    manifests,
                    std::mem::take(&mut build.outputs),
                    listings_dir.clone(),
                )
            });
            Box::new(move || {
                std::thread::spawn(move || {
                    let cache = remember.map(|(manifests, outputs, dir)| {
                        let cx = DocContext {
                            command: &cmd,
                            list_args: &list_args,
                            bootstrap,
                            rustc: &rustc,
                            manifests,
                            workspace_root: &root,
                        };
                        (DocCache::new(&dir, &cx), outputs)
                    });
                    let how = DocHow {
                        list_args: &list_args,
                        bootstrap,
                        flags: &flags,
                        unlock: &unlock,
                        merge,
                    };
                    let discovered = discover_doctests(cmd, &how, &root, cache);
                    let _ = tx.send(Msg::Docs(discovered));
                });
            })
        }),
    };
    let listings = binaries.len();
    let cache = plan::ListingCache::new(listings_dir);
    if let Some(x) = &archived {
        x.seed_listings(&cache);
    }
    discover_all(binaries, &flags, &root, cache, &tx, move || {
        if let Some(list_docs) = list_docs {
            list_docs();
        }
    });

    let c = &args.control;
    let config = RunConfig {
        parallel: c
            .test_binaries
            .map(|n| n as usize)
            .unwrap_or_else(|| default_parallel(flags.test_threads)),
        doctests_beside: c.test_binaries.is_none(),
        flags,
        timeout: c.timeout,
        hook: c.hook.clone(),
        hook_timeout: c.hook_timeout,
        session_dir: c
            .session_dir
            .clone()
            .unwrap_or_else(|| metadata.target_directory.as_std_path().join("structlog")),
        kill_grace: Duration::from_secs(2),
        interrupt_grace: Duration::from_secs(3),
        partition: c.partition,
        expectations,
        strict_expectations: args.strict_expectations,
        retries: args.retries,
        rerun,
        list_only: listing,
    };
    let end = Runner::new(
        config,
        origin(),
        Box::new(SystemClock),
        &mut stream,
        (tx, rx),
        listings,
        docs_pending,
        suite_name,
        info,
    )
    .run();
    if let Purpose::List { json } = purpose {
        if let Some(why) = end.refused {
            return Err(Error::Usage(why));
        }
        if end.interrupted {
            return Ok(exit::INTERRUPTED);
        }
        let failed = stream.summary.harness_errors.len();
        let mut listed = end.listed;
        list::complete(&mut listed, &args.flags);
        print!("{}", list::render(&listed, json));
        return Ok(if failed > 0 {
            exit::TESTS_FAILED
        } else {
            exit::OK
        });
    }
    let timings = Timings {
        began,
        built,
        listed: end.listed_at,
        busy: &end.busy,
    };
    stream.entry(&origin().entry(
        now_ms(),
        Action::SuiteEnd(SuiteEnd {
            extra: Some(timings.extra()),
        }),
    ));
    if let Some(why) = end.refused {
        finish(stream, false, false, false);
        return Err(Error::Usage(why));
    }
    Ok(finish(stream, end.interrupted, false, args.fail_on_flaky))
}

/// Binaries run at once by default: as many as keep the CPUs busy given each
/// binary's own test threads (`--test-threads`, else `RUST_TEST_THREADS`,
/// else one per CPU, as libtest decides). With libtest's default that is 1,
/// as `cargo test` runs them.
pub fn default_parallel(test_threads: Option<u32>) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = test_threads
        .map(|n| n as usize)
        .or_else(|| std::env::var("RUST_TEST_THREADS").ok()?.parse().ok())
        .unwrap_or(cpus)
        .max(1);
    (cpus / threads).max(1)
}

/// Whether any workspace member has a library whose doctests cargo would run.
fn has_doctests(metadata: &cargo_metadata::Metadata) -> bool {
    metadata
        .workspace_packages()
        .iter()
        .any(|p| p.targets.iter().any(|t| t.doctest))
}

/// Discovers every binary's tests in the run's order, on threads of their
/// own: each listing goes to the runner as it is done (`Msg::Listed`), so
/// that the first binaries run while the rest are listed. The first binary,
/// which the run waits for, is listed alone; then `after_first` is called,
/// and the others are listed several at a time. Listings of libtest
/// binaries are remembered in `cache`.
fn discover_all(
    binaries: Vec<TestBinary>,
    flags: &TestFlags,
    root: &Path,
    cache: plan::ListingCache,
    tx: &SyncSender<Msg>,
    after_first: impl FnOnce() + Send + 'static,
) {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
        .min(binaries.len().saturating_sub(1));
    let binaries = Arc::new(binaries);
    let (flags, root, tx) = (flags.clone(), root.to_path_buf(), tx.clone());
    let list = move |binaries: &[TestBinary], place: usize, tx: &SyncSender<Msg>| -> bool {
        let Some(binary) = binaries.get(place) else {
            return false;
        };
        let mut binary = binary.clone();
        let tests = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            plan::discover(&mut binary, &flags, &root, None, Some(&cache))
        }))
        .unwrap_or_else(|_| Err(plan::ListingError::Other("discovery panicked".into())));
        let listed = Discovered { binary, tests };
        tx.send(Msg::Listed(place, Box::new(listed))).is_ok()
    };
    std::thread::spawn(move || {
        list(&binaries, 0, &tx);
        after_first();
        let next = Arc::new(AtomicUsize::new(1));
        for _ in 0..workers {
            let (binaries, next, tx, list) =
                (binaries.clone(), next.clone(), tx.clone(), list.clone());
            std::thread::spawn(
                move || while list(&binaries, next.fetch_add(1, Ordering::SeqCst), &tx) {},
            );
        }
    });
}

/// How the doctests are listed and run.
struct DocHow<'a> {
    list_args: &'a [String],
    bootstrap: Option<&'a str>,
    flags: &'a TestFlags,
    unlock: &'a crate::plan::unlock::Unlock,
    /// How rustdoc is to compile them, when it can be told.
    merge: Option<crate::plan::DoctestMode>,
}

fn discover_doctests(
    cmd: std::process::Command,
    how: &DocHow,
    root: &Path,
    cache: Option<(DocCache, HashSet<PathBuf>)>,
) -> Vec<Discovered> {
    let DocHow {
        list_args,
        bootstrap,
        flags,
        unlock,
        merge,
    } = *how;
    let remembered = cache.as_ref().and_then(|(c, outputs)| c.get(outputs));
    let started = std::time::SystemTime::now();
    let listing = match remembered {
        Some(l) => l,
        None => match cargo::list_doctests(cmd, list_args, bootstrap, merge.is_some()) {
            Ok(l) => {
                if let Some((c, _)) = &cache {
                    c.put(&l, started);
                }
                l
            }
            Err(e) => {
                return vec![failed_doc_listing(e.to_string())];
            }
        },
    };
    let mut out = Vec::new();
    for (inv, lines) in &listing.invocations {
        let package = package_of(inv);
        let mut binary = plan::doctest_binary(inv, &package, unlock, merge);
        let tests = plan::discover(&mut binary, flags, root, Some(lines), None);
        if let Ok(tests) = &tests {
            plan::settle_doc_merge(&mut binary, tests.len());
        }
        out.push(Discovered { binary, tests });
    }
    if !listing.success && !listing.stderr.contains("no library targets found") {
        let tail: Vec<&str> = listing.stderr.lines().rev().take(8).collect();
        let text = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        // Show cargo's own words, then record the failure in the log.
        eprint!("{}", listing.stderr);
        out.push(failed_doc_listing(format!(
            "listing the doctests failed:\n{text}"
        )));
    }
    out
}

/// The package of a rustdoc invocation, from the environment cargo gave it.
fn package_of(inv: &cargo::RustdocInvocation) -> String {
    inv.env
        .iter()
        .find(|(k, _)| k == "CARGO_PKG_NAME")
        .map(|(_, v)| v.clone())
        .or_else(|| inv.crate_name().map(str::to_string))
        .unwrap_or_else(|| "doc".into())
}

fn failed_doc_listing(message: String) -> Discovered {
    Discovered {
        binary: TestBinary {
            id: "doctests".into(),
            harness: crate::plan::Harness::Rustdoc,
            launch: plan::Launch {
                program: "rustdoc".into(),
                base_args: Vec::new(),
                cwd: ".".into(),
                env: Vec::new(),
                clear_env: false,
                via_test_args: true,
                unlock: crate::plan::unlock::Unlock::Nothing,
                witness: false,
                doc_merge: None,
            },
            src_path: None,
            order: (String::new(), 9, String::new()),
        },
        tests: Err(plan::ListingError::Other(message)),
    }
}
