//! Running test processes and collating their events into one stream.
//!
//! One coordinator thread owns all state; reader threads (stdout, stderr) and
//! a waiter thread per process send it messages over one bounded channel (a
//! test that floods output is slowed down, not buffered without limit).
//!
//! - Each binary runs once, as `cargo test` runs it; up to `parallel`
//!   binaries run at once, their entries interleaved in arrival order.
//! - `--timeout`: a test running longer is sampled by the pre-kill hook, then
//!   its process group gets SIGTERM and, after a grace period, SIGKILL.
//! - Crash containment: when a process dies without finishing its suite, a
//!   lone test in flight is the one that crashed (CRASH, with a `crash`
//!   entry); several in flight are re-run one at a time to find it; tests not
//!   yet run resume in a new process. Every discovered test gets exactly one
//!   `test_end`.
//! - SIGINT/SIGTERM: nothing new starts, the interrupt is passed on to the
//!   test processes, tests in flight end as ERROR "interrupted", and a log
//!   entry names what did not run; a second signal kills at once.
//!
//! `suite_start` lists every test of the run, so entries are held until
//! every listing is in. Binaries are listed on threads of their own and each
//! may start as soon as it and those before it are listed: the rest are
//! listed (and the doctests, through cargo) while the first ones run.

pub use super::hook::Hook;
mod deadlines;
mod exit;
mod listing;

use super::hook::{run_hook, sample_name, Hung, Running as RunningHooks};
use super::policy;
use super::process::{
    batch_bytes, exit_notice, kill_group, spawn_reader, widen_pipe, InFlight, LogfileWitness,
    COALESCE,
};
use crate::model::{
    Action, Crash, Entry, Level, Log, Origin, ProcessExit, ProcessStart, Status, SuiteStart,
    TestEnd, TestGroups,
};
use crate::plan::expectations::{Expectation, Expectations};
use crate::plan::flags::{Selection, TestFlags};
use crate::plan::partition::Partition;
use crate::plan::Harness;
use crate::plan::{Discovered, TestBinary};
use crate::text::{shell_quote, signal_name};
use crate::translate::{BinaryState, Ended};
use nix::sys::signal::Signal;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Lines of a process's stderr kept for a crash report.
const STDERR_TAIL: usize = 20;

/// Where the runner's entries go.
pub trait Output {
    /// One entry of the stream.
    fn entry(&mut self, e: &Entry);
    /// Written after each batch of events, so that sinks show tests live
    /// without a write per entry. Returns when to call again (to write out
    /// what is held back) if no other event comes first.
    fn flush(&mut self) -> Option<Instant>;
}

/// Milliseconds since the epoch: the clock entries are stamped with.
pub trait Clock: Send {
    fn now_ms(&self) -> u64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// How a run is controlled.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub flags: TestFlags,
    /// Test binaries running at once.
    pub parallel: usize,
    /// A package's doctests (rustdoc, compiling most of its time) may run
    /// beside the `parallel` test binaries, one rustdoc at a time, rather
    /// than after them: what `cargo test` would leave a CPU idle for.
    pub doctests_beside: bool,
    pub timeout: Option<Duration>,
    pub hook: Hook,
    pub hook_timeout: Duration,
    /// Where pre-kill samples go.
    pub session_dir: PathBuf,
    /// Between SIGTERM and SIGKILL for a timed-out process.
    pub kill_grace: Duration,
    /// Between passing on an interrupt and killing.
    pub interrupt_grace: Duration,
    /// The shard of the tests to run (`--partition`).
    pub partition: Option<Partition>,
    /// Expected statuses and known intermittents (`--expectations`).
    pub expectations: Option<Arc<Expectations>>,
    /// An expectation that matches no test stops the run (`--strict-expectations`).
    pub strict_expectations: bool,
    /// Times a test with an unexpected result runs again (`--retries`).
    pub retries: u32,
    /// The tests that failed last time, to run alone or first
    /// (`--last-failed`, `--failed-first`).
    pub rerun: Option<Arc<crate::plan::rerun::Rerun>>,
    /// Stop once every test is listed and matched: run nothing (`list`).
    pub list_only: bool,
}

/// What the coordinator hears.
pub enum Msg {
    /// Lines of a test process's stdout or stderr: every complete line
    /// that had arrived, each with whether it was cut at the cap.
    Lines {
        job: u64,
        stderr: bool,
        lines: Vec<(Vec<u8>, bool)>,
    },
    Closed {
        job: u64,
    },
    Exited {
        job: u64,
        status: ExitStatus,
    },
    Hook {
        job: u64,
        sample: Option<PathBuf>,
        error: Option<String>,
    },
    /// A signal the tool received (SIGINT, SIGTERM).
    Signal(i32),
    /// A binary's tests are listed: its place among the binaries, and what
    /// was found.
    Listed(usize, Box<Discovered>),
    /// The doctests' discovery is done.
    Docs(Vec<Discovered>),
}

/// A unit of work for one binary.
#[derive(Clone, Debug, PartialEq)]
enum Work {
    Full,
    /// These tests, in a new process; `serial`: on one thread (for a
    /// harness that says which test runs only then).
    Resume {
        names: Vec<String>,
        serial: bool,
    },
    Isolate(String),
    /// Doctests that failed compiled merged, run on their own (rustdoc,
    /// told to compile each alone, selecting by parts of their names).
    Confirm(Vec<String>),
    /// The doctests of these files (rustdoc, selecting by parts of names).
    Files(Vec<String>),
}

struct Bin {
    binary: TestBinary,
    state: BinaryState,
    queue: VecDeque<Work>,
    busy: bool,
    warned_dropped: bool,
    /// The front of `queue` is what failed last time (`--failed-first`):
    /// it starts before any other work.
    first: bool,
    /// How long its processes ran, all together.
    busy_for: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kill {
    None,
    Hooking,
    Terminating(Instant),
    Killed,
}

struct Job {
    bin: usize,
    pid: u32,
    work: Work,
    open_streams: u8,
    exit: Option<ExitStatus>,
    since: HashMap<String, Instant>,
    timed_out: Option<(String, Option<PathBuf>)>,
    kill: Kill,
    stderr_tail: VecDeque<String>,
    started_any: bool,
    /// The harness says which test runs as it starts (see `start_job`).
    reliable_starts: bool,
    /// When the process started or last reported a result.
    progress: Instant,
    /// Killed by the watchdog: no result within `--timeout`, and which
    /// test runs is not known.
    watchdog: bool,
    started: Instant,
}

/// How the run ended.
#[derive(Debug, Default)]
pub struct RunEnd {
    pub interrupted: bool,
    /// With `list_only`: every binary and the tests a run would run.
    pub listed: Vec<Discovered>,
    /// When every test was listed.
    pub listed_at: Option<Instant>,
    /// How long each binary's processes ran, in the run's order.
    pub busy: Vec<(String, Duration)>,
    /// The run did not start its tests: why (`--strict-expectations`).
    pub refused: Option<String>,
}

/// The coordinator.
pub struct Runner<'a> {
    config: RunConfig,
    origin: Origin,
    clock: Box<dyn Clock>,
    out: &'a mut dyn Output,
    tx: SyncSender<Msg>,
    rx: Receiver<Msg>,
    bins: Vec<Bin>,
    listing_errors: Vec<(String, String)>,
    jobs: HashMap<u64, Job>,
    next_job: u64,
    start_time: u64,
    header: Option<Vec<Entry>>,
    /// Listings that arrived ahead of a binary before them, by place.
    listed: std::collections::BTreeMap<usize, Discovered>,
    /// Binaries added so far, of `listings` to come through `Msg::Listed`.
    next_listed: usize,
    listings: usize,
    /// The doctests, held until every binary is added (they run last).
    docs: Option<Vec<Discovered>>,
    /// Whether doctests were to be listed, and whether they were added.
    docs_expected: bool,
    docs_added: bool,
    docs_pending: bool,
    run_info: Map<String, Value>,
    suite_name: Option<String>,
    interrupted: Option<Instant>,
    killed_all: bool,
    /// When the output is to be written out again (what it holds back).
    flush_due: Option<Instant>,
    /// Tests seen so far, in the run's order, for `--partition count:K/N`.
    partition_index: u64,
    /// When `suite_start` was written: every test was listed.
    listed_at: Option<Instant>,
    /// The expectations, shared by the tests they match, and which matched.
    expectations: Vec<Arc<Expectation>>,
    matched: Vec<bool>,
    refused: Option<String>,
    /// The pre-kill hooks running.
    hooks: RunningHooks,
    /// Test output read and not yet handled.
    in_flight: InFlight,
}

pub(super) fn elapsed_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s:.1}")
    }
}

impl<'a> Runner<'a> {
    /// A runner for `listings` binaries, whose tests come through
    /// `Msg::Listed`; doctests follow through `Msg::Docs` when `docs_pending`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: RunConfig,
        origin: Origin,
        clock: Box<dyn Clock>,
        out: &'a mut dyn Output,
        channel: (SyncSender<Msg>, Receiver<Msg>),
        listings: usize,
        docs_pending: bool,
        suite_name: Option<String>,
        run_info: Map<String, Value>,
    ) -> Runner<'a> {
        let start_time = clock.now_ms();
        let mut r = Runner {
            config,
            origin,
            clock,
            out,
            tx: channel.0,
            rx: channel.1,
            bins: Vec::new(),
            listing_errors: Vec::new(),
            jobs: HashMap::new(),
            next_job: 0,
            start_time,
            header: Some(Vec::new()),
            listed: Default::default(),
            next_listed: 0,
            listings,
            docs: None,
            docs_expected: docs_pending,
            docs_added: false,
            docs_pending,
            run_info,
            suite_name,
            interrupted: None,
            killed_all: false,
            flush_due: None,
            partition_index: 0,
            listed_at: None,
            expectations: Vec::new(),
            matched: Vec::new(),
            refused: None,
            hooks: RunningHooks::default(),
            in_flight: InFlight::default(),
        };
        if let Some(x) = &r.config.expectations {
            r.expectations = x.entries.iter().cloned().map(Arc::new).collect();
            r.matched = vec![false; x.entries.len()];
        }
        r
    }

    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Sends an entry out, or holds it until `suite_start` can be written.
    fn send(&mut self, e: Entry) {
        match &mut self.header {
            Some(held) => held.push(e),
            None => self.out.entry(&e),
        }
    }

    fn log(&mut self, level: Level, message: String) {
        let e = self.origin.entry(
            self.now(),
            Action::Log(Log {
                level,
                message,
                stack: None,
            }),
        );
        self.send(e);
    }

    fn send_actions(&mut self, bin: usize, pid: u32, actions: Vec<Action>) {
        let time = self.now();
        for a in actions {
            // mozlog's consumers key running tests by thread: each test has
            // its own (libtest runs every test on a thread of its own).
            let thread = a.test().unwrap_or(&self.bins[bin].binary.id).to_string();
            let e = Entry {
                time,
                thread,
                pid: pid as i64,
                source: self.origin.source.clone(),
                component: None,
                action: a,
            };
            self.send(e);
        }
    }

    /// Runs everything to the end. The caller writes `suite_end`.
    pub fn run(mut self) -> RunEnd {
        if !self.listing_pending() {
            self.write_header();
        }
        loop {
            self.schedule();
            if self.jobs.is_empty()
                && (self.interrupted.is_some()
                    || self.refused.is_some()
                    || self.config.list_only
                    || self.bins.iter().all(|b| b.queue.is_empty()))
                && !self.listing_pending()
            {
                break;
            }
            let wait = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            let msg = match wait {
                Some(w) => match self.rx.recv_timeout(w) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match self.rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                },
            };
            if let Some(m) = msg {
                let mut pending = vec![m];
                pending.extend(self.rx.try_iter());
                // An exit lets the next process start before the exited
                // one's last lines are handled (the lines of a test process
                // come in batches: its last batch can hold hundreds).
                let (exits, rest): (Vec<Msg>, Vec<Msg>) = pending
                    .into_iter()
                    .partition(|m| matches!(m, Msg::Exited { .. }));
                if !exits.is_empty() {
                    for m in exits {
                        self.handle(m);
                    }
                    self.schedule();
                }
                for m in rest {
                    self.handle(m);
                }
            }
            self.check_deadlines();
            self.flush_due = self.out.flush();
        }
        self.write_header();
        let interrupted = self.interrupted.is_some();
        if self.config.list_only {
            return RunEnd {
                interrupted,
                refused: self.refused.take(),
                listed: (self.bins.drain(..))
                    .map(|b| Discovered {
                        binary: b.binary,
                        tests: Ok(b.state.tests),
                    })
                    .collect(),
                listed_at: self.listed_at,
                busy: Vec::new(),
            };
        }
        // Every process the run started ends with it.
        self.hooks.end_all();
        // Every test that started gets its end: requeued ones end here when
        // the run stopped before they ran again.
        for bin in 0..self.bins.len() {
            self.release_held(
                bin,
                if interrupted {
                    "the run was interrupted before it ran on its own"
                } else {
                    "it did not run on its own"
                },
            );
            let why = if interrupted {
                "interrupted"
            } else {
                "not run again after its process died"
            };
            for name in self.bins[bin].state.requeued() {
                let mut end = TestEnd::new(String::new(), Status::Error);
                end.set_expected(self.bins[bin].state.expected_of(&name));
                end.message = Some(why.to_string());
                self.end_test(bin, self.origin.pid as u32, &name, end, false);
            }
            if !interrupted && self.refused.is_none() {
                let pending = self.bins[bin].state.pending();
                self.not_run(bin, self.origin.pid as u32, &pending, "not run");
            }
        }
        if interrupted {
            let not_run: Vec<String> = self
                .bins
                .iter()
                .flat_map(|b| b.state.pending().into_iter().map(|n| b.state.test_id(&n)))
                .collect();
            let mut message = if not_run.is_empty() {
                "interrupted: every test had started".to_string()
            } else {
                const SHOWN: usize = 50;
                let mut m = format!(
                    "interrupted: {} tests did not run: {}",
                    not_run.len(),
                    not_run
                        .iter()
                        .take(SHOWN)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if not_run.len() > SHOWN {
                    m.push_str(&format!(", and {} more", not_run.len() - SHOWN));
                }
                m
            };
            // Interrupted while listing: what was not listed is not named.
            let unlisted = self.listings - self.next_listed;
            if unlisted > 0 {
                message.push_str(&format!(
                    "; {unlisted} of {} test binaries were not listed",
                    self.listings
                ));
            }
            if self.docs_expected && !self.docs_added {
                message.push_str("; the doctests were not listed");
            }
            self.log(Level::Warning, message);
        }
        RunEnd {
            interrupted,
            refused: self.refused.take(),
            listed: Vec::new(),
            listed_at: self.listed_at,
            busy: (self.bins.iter())
                .map(|b| (b.binary.id.clone(), b.busy_for))
                .collect(),
        }
    }

    /// Jobs whose process has not exited. A job whose process has exited
    /// may still have output to handle; the next one may start meanwhile,
    /// as under `cargo test`, which starts the next binary as soon as one
    /// has exited.
    fn running_jobs(&self) -> usize {
        self.jobs.values().filter(|j| j.exit.is_none()).count()
    }

    /// Running jobs of rustdoc (`doctests`) or of test binaries.
    fn running_of(&self, doctests: bool) -> usize {
        self.jobs
            .values()
            .filter(|j| j.exit.is_none())
            .filter(|j| (self.bins[j.bin].binary.harness == Harness::Rustdoc) == doctests)
            .count()
    }

    fn schedule(&mut self) {
        if self.interrupted.is_some() || self.refused.is_some() {
            return;
        }
        // Strict expectations are checked against every test, doctests
        // included, before any test runs.
        if self.config.strict_expectations && self.header.is_some() {
            return;
        }
        // What failed last time starts first: once every test is known.
        if self.config.list_only
            || (self.header.is_some()
                && self
                    .config
                    .rerun
                    .as_ref()
                    .is_some_and(|r| r.mode == crate::plan::rerun::Mode::First))
        {
            return;
        }
        let parallel = self.config.parallel.max(1);
        loop {
            // With doctests beside, a rustdoc does not take a test binary's
            // place, and one runs at a time; else every job counts alike.
            let (binaries_free, doctests_free) = if self.config.doctests_beside {
                (
                    self.running_of(false) < parallel,
                    self.running_of(true) == 0,
                )
            } else {
                let free = self.running_jobs() < parallel;
                (free, free)
            };
            let ready = |b: &Bin| {
                !b.busy
                    && !b.queue.is_empty()
                    && match b.binary.harness {
                        Harness::Rustdoc => doctests_free,
                        _ => binaries_free,
                    }
            };
            let Some(i) = (self.bins.iter())
                .position(|b| b.first && ready(b))
                .or_else(|| self.bins.iter().position(ready))
            else {
                return;
            };
            self.bins[i].first = false;
            let work = self.bins[i].queue.pop_front().expect("non-empty");
            self.start_job(i, work);
        }
    }

    fn start_job(&mut self, bin: usize, work: Work) {
        let harness = self.bins[bin].binary.harness;
        let names: Option<Vec<String>> = match &work {
            Work::Full => None,
            Work::Resume { names, .. } => Some(names.clone()),
            Work::Isolate(n) => Some(vec![n.clone()]),
            Work::Confirm(names) => Some(names.clone()),
            Work::Files(_) => None,
        };
        let confirming = matches!(work, Work::Confirm(_));
        // A test re-run alone (to find which one crashed) runs uncaptured,
        // so that what it prints before dying is kept.
        let isolated = matches!(work, Work::Isolate(_));
        let serial = matches!(work, Work::Resume { serial: true, .. });
        let threads = (isolated || serial).then_some(1);
        // libtest-mimic prints a test's `started` only when it has finished
        // unless it runs on one thread: then which test runs is not known,
        // and a watchdog stands in for the per-test timeout.
        let one_thread = threads == Some(1)
            || self.config.flags.test_threads == Some(1)
            || std::env::var("RUST_TEST_THREADS").is_ok_and(|n| n.trim() == "1");
        let reliable_starts = harness != Harness::Mimic || one_thread;
        let complement;
        let parts: Vec<String>;
        let files = match &work {
            Work::Files(f) => f.clone(),
            _ => Vec::new(),
        };
        let selection = match &names {
            None if !files.is_empty() => Selection::Containing(&files),
            None => Selection::All,
            Some(names) if confirming => {
                parts = crate::plan::doctest_filters(names);
                Selection::Containing(&parts)
            }
            // libtest-mimic and tester take a single positional filter: name
            // what not to run instead.
            Some(names) if names.len() > 1 && !harness.takes_many_filters() => {
                let full = self.full_list(bin);
                complement = full
                    .into_iter()
                    .filter(|n| !names.contains(n))
                    .collect::<Vec<_>>();
                Selection::AllBut(&complement)
            }
            Some(names) => Selection::Only(names),
        };
        let witness = self.bins[bin]
            .binary
            .launch
            .witness
            .then(|| LogfileWitness::create(&self.config.session_dir, self.next_job))
            .flatten();
        let (args, dropped) = self.config.flags.run_args(
            harness,
            selection,
            threads,
            isolated,
            witness.as_ref().map(|w| w.path.as_path()),
        );
        if !dropped.is_empty() && !self.bins[bin].warned_dropped {
            self.bins[bin].warned_dropped = true;
            let id = self.bins[bin].binary.id.clone();
            self.log(
                Level::Warning,
                format!(
                    "{id}: {} rejects {}; not given to it",
                    harness.name(),
                    dropped.join(" ")
                ),
            );
        }
        let launch = &self.bins[bin].binary.launch;
        let mut cmd = if confirming {
            launch.standalone_command(&args)
        } else {
            launch.command(&args)
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group: the terminal's Ctrl-C reaches us alone and
            // we pass it on; a timeout kills the test's children too.
            cmd.process_group(0);
        }
        let command_text = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ");
        let started = exit_notice(2).and_then(|notice| Ok((notice, cmd.spawn()?)));
        let ((exit_notice, mut watches), mut child) = match started {
            Ok(c) => c,
            Err(e) => {
                let id = self.bins[bin].binary.id.clone();
                self.log(
                    Level::Error,
                    format!("{id}: cannot start {command_text}: {e}"),
                );
                let scope = names.unwrap_or_else(|| self.bins[bin].state.pending());
                let pid = self.origin.pid as u32;
                self.not_run(
                    bin,
                    pid,
                    &scope,
                    &format!("the test binary could not be started: {e}"),
                );
                return;
            }
        };
        let pid = child.id();
        if isolated {
            self.bins[bin].state.set_uncaptured(pid);
        }
        if confirming {
            self.bins[bin].state.set_confirming(pid);
        } else if matches!(
            self.bins[bin].binary.launch.doc_merge,
            Some(crate::plan::DocMerge::Merged { confirm: true })
        ) {
            self.bins[bin].state.set_merged(pid);
        }
        if let Some(w) = witness {
            self.bins[bin].state.set_witness(pid, Box::new(w));
        }
        let job_id = self.next_job;
        self.next_job += 1;
        let tx = self.tx.clone();
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        widen_pipe(&stdout);
        widen_pipe(&stderr);
        // The readers pause between reads; the process's exit ends their
        // pauses (the notice is dropped), so that its last lines and the
        // end of its streams come at once.
        let (stdout_exited, stderr_exited) = (watches.remove(0), watches.remove(0));
        let flight = &self.in_flight;
        spawn_reader(
            job_id,
            false,
            stdout,
            stdout_exited,
            tx.clone(),
            COALESCE,
            flight.clone(),
        );
        spawn_reader(
            job_id,
            true,
            stderr,
            stderr_exited,
            tx.clone(),
            COALESCE,
            flight.clone(),
        );
        std::thread::spawn(move || {
            let waited = child.wait();
            drop(exit_notice);
            if let Ok(status) = waited {
                let _ = tx.send(Msg::Exited {
                    job: job_id,
                    status,
                });
            }
        });
        self.bins[bin].busy = true;
        let mut job = Job {
            bin,
            pid,
            work,
            open_streams: 2,
            exit: None,
            since: HashMap::new(),
            timed_out: None,
            kill: Kill::None,
            stderr_tail: VecDeque::new(),
            started_any: false,
            reliable_starts,
            progress: Instant::now(),
            watchdog: false,
            started: Instant::now(),
        };
        let e = Entry {
            time: self.now(),
            thread: self.bins[bin].binary.id.clone(),
            pid: pid as i64,
            source: self.origin.source.clone(),
            component: None,
            action: Action::ProcessStart(ProcessStart {
                process: pid.to_string(),
                command: Some(command_text),
                subsuite: None,
            }),
        };
        self.send(e);
        if harness == Harness::Custom {
            let mut actions = Vec::new();
            let name = self.bins[bin].state.tests[0].name.clone();
            let now = self.now();
            if self.bins[bin].state.start(&name, pid, now, &mut actions) {
                job.since.insert(name, Instant::now());
                job.started_any = true;
            }
            self.send_actions(bin, pid, actions);
        }
        self.jobs.insert(job_id, job);
    }

    /// Every test of a binary, whatever the user's filters (for naming the
    /// tests not to run). Falls back to the discovered ones.
    fn full_list(&self, bin: usize) -> Vec<String> {
        let b = &self.bins[bin];
        let strip_kind = b.binary.harness == Harness::Mimic;
        let out = b
            .binary
            .launch
            .command(&[
                "--list".to_string(),
                "--format".to_string(),
                "terse".to_string(),
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => {
                crate::libtest::parse_terse_list(&String::from_utf8_lossy(&o.stdout), strip_kind)
            }
            _ => b.state.tests.iter().map(|t| t.name.clone()).collect(),
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Lines { job, stderr, lines } => {
                let bytes = batch_bytes(&lines);
                for (line, truncated) in lines {
                    self.line(job, stderr, &line, truncated);
                }
                self.in_flight.give_back(bytes);
            }
            Msg::Closed { job } => {
                if let Some(j) = self.jobs.get_mut(&job) {
                    j.open_streams = j.open_streams.saturating_sub(1);
                    if j.open_streams == 0 && j.exit.is_some() {
                        self.finalize(job);
                    }
                }
            }
            Msg::Exited { job, status } => {
                if let Some(j) = self.jobs.get_mut(&job) {
                    j.exit = Some(status);
                    let now = Instant::now();
                    self.bins[j.bin].busy_for += now.saturating_duration_since(j.started);
                    if j.open_streams == 0 {
                        self.finalize(job);
                    }
                }
            }
            Msg::Hook { job, sample, error } => {
                if let Some(err) = error {
                    let id = self
                        .jobs
                        .get(&job)
                        .and_then(|j| j.timed_out.as_ref())
                        .map(|t| {
                            let b = &self.bins[self.jobs[&job].bin];
                            b.state.test_id(&t.0)
                        });
                    self.log(
                        Level::Error,
                        format!("pre-kill hook for {}: {err}", id.unwrap_or_default()),
                    );
                }
                if let Some(j) = self.jobs.get_mut(&job) {
                    if let Some(t) = &mut j.timed_out {
                        t.1 = sample;
                    }
                    if j.kill == Kill::Hooking {
                        self.terminate(job);
                    }
                }
            }
            Msg::Signal(sig) => self.signal(sig),
            Msg::Listed(place, discovered) => {
                if self.interrupted.is_none() {
                    self.listed.insert(place, *discovered);
                    self.add_listed();
                }
            }
            Msg::Docs(discovered) => {
                self.docs_pending = false;
                if self.interrupted.is_none() {
                    self.docs = Some(discovered);
                    self.add_listed();
                }
            }
        }
    }

    fn line(&mut self, job_id: u64, stderr: bool, line: &[u8], truncated: bool) {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return;
        };
        let (bin, pid) = (job.bin, job.pid);
        if stderr {
            let own = self.bins[bin].state.without_own_notice(pid, line);
            if !own.is_empty() || line.is_empty() {
                if job.stderr_tail.len() == STDERR_TAIL {
                    job.stderr_tail.pop_front();
                }
                job.stderr_tail
                    .push_back(String::from_utf8_lossy(own).into_owned());
            }
        }
        let mut actions = Vec::new();
        let state = &mut self.bins[bin].state;
        if stderr {
            state.stderr_line(pid, line, &mut actions);
        } else {
            let effect = state.stdout_line(pid, line, truncated, self.clock.now_ms(), &mut actions);
            if let Some(name) = effect.started {
                job.since.insert(name, Instant::now());
                job.started_any = true;
            }
            if let Some(name) = effect.ended {
                job.since.remove(&name);
                job.progress = Instant::now();
            }
            if let Some(name) = effect.retry {
                self.bins[bin].queue.push_front(Work::Isolate(name));
            }
        }
        self.send_actions(bin, pid, actions);
    }

    /// Ends a test with a result decided here; a `retryable` unexpected
    /// result may instead send the test round again (`--retries`).
    fn end_test(&mut self, bin: usize, pid: u32, name: &str, end: TestEnd, retryable: bool) {
        let mut actions = Vec::new();
        let now = self.now();
        let ended = self.bins[bin]
            .state
            .end(name, end, now, retryable, &mut actions);
        self.send_actions(bin, pid, actions);
        if ended == Ended::Retry {
            self.retry(bin, name.to_string());
        }
    }

    /// Ends the doctests of a binary whose merged failure is held with that
    /// result (`why` they did not run on their own).
    pub(super) fn release_held(&mut self, bin: usize, why: &str) {
        let held = self.bins[bin].state.held();
        if held.is_empty() {
            return;
        }
        let mut actions = Vec::new();
        let now = self.now();
        for name in held {
            self.bins[bin]
                .state
                .release_held(&name, why, now, &mut actions);
        }
        let pid = self.origin.pid as u32;
        self.send_actions(bin, pid, actions);
    }

    /// Queues another attempt of a test, alone in a fresh process.
    fn retry(&mut self, bin: usize, name: String) {
        self.bins[bin].queue.push_front(Work::Isolate(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    struct Collect(Vec<Entry>);

    impl Output for Collect {
        fn entry(&mut self, e: &Entry) {
            self.0.push(e.clone());
        }
        fn flush(&mut self) -> Option<Instant> {
            None
        }
    }

    /// Binary `id` of package `p`, `place` in the run's order, started as
    /// `program` with `base_args`.
    fn test_binary(
        id: &str,
        place: usize,
        harness: Harness,
        program: &str,
        base_args: &[&str],
    ) -> TestBinary {
        TestBinary {
            id: id.to_string(),
            harness,
            launch: crate::plan::Launch {
                program: program.into(),
                base_args: base_args.iter().map(Into::into).collect(),
                cwd: ".".into(),
                env: Vec::new(),
                clear_env: false,
                via_test_args: false,
                unlock: crate::plan::unlock::Unlock::Nothing,
                witness: false,
                doc_merge: None,
            },
            src_path: None,
            order: ("p".into(), place as u8, id.to_string()),
        }
    }

    /// A binary whose listing failed (so that nothing is started).
    fn unlisted_binary(id: &str) -> Discovered {
        Discovered {
            binary: test_binary(id, 0, Harness::Libtest, "/nonexistent", &[]),
            tests: Err(crate::plan::ListingError::Other(
                "listing its tests failed".into(),
            )),
        }
    }

    /// One binary at a time, no timeout, no hook.
    fn serial_config() -> RunConfig {
        RunConfig {
            parallel: 1,
            doctests_beside: false,
            flags: TestFlags::default(),
            timeout: None,
            hook: Hook::None,
            hook_timeout: Duration::from_secs(1),
            session_dir: std::env::temp_dir(),
            kill_grace: Duration::from_secs(1),
            interrupt_grace: Duration::from_secs(1),
            partition: None,
            expectations: None,
            strict_expectations: false,
            retries: 0,
            rerun: None,
            list_only: false,
        }
    }

    fn test_origin() -> Origin {
        Origin {
            thread: "main".into(),
            pid: 1,
            source: "s".into(),
        }
    }

    /// A binary with a custom harness that runs `script` in sh.
    fn script_binary(id: &str, place: usize, script: &str) -> Discovered {
        Discovered {
            binary: test_binary(id, place, Harness::Custom, "/bin/sh", &["-c", script]),
            tests: Ok(vec![crate::plan::TestInfo {
                name: id.to_string(),
                ..Default::default()
            }]),
        }
    }

    #[test]
    fn the_next_binary_starts_once_the_one_before_has_exited() {
        let (config, origin) = (serial_config(), test_origin());
        let (tx, rx) = sync_channel(16);
        // The first exits at once, leaving a child that holds its output
        // open for longer than the runner waits for a dead process's pipes.
        let first = script_binary("p::first", 0, "sleep 4 & echo first");
        let second = script_binary("p::second", 1, "echo second");
        tx.send(Msg::Listed(0, Box::new(first))).unwrap();
        tx.send(Msg::Listed(1, Box::new(second))).unwrap();
        let mut out = Collect(Vec::new());
        let end = Runner::new(
            config,
            origin,
            Box::new(SystemClock),
            &mut out,
            (tx, rx),
            2,
            false,
            None,
            Map::new(),
        )
        .run();
        assert!(!end.interrupted);
        let time_of = |action: &str, thread: &str| {
            out.0
                .iter()
                .find(|e| e.thread == thread && e.action.name() == action)
                .map(|e| e.time)
                .unwrap_or_else(|| panic!("no {action} of {thread}: {:?}", out.0))
        };
        let first_started = time_of("process_start", "p::first");
        let second_started = time_of("process_start", "p::second");
        let first_done = time_of("process_exit", "p::first");
        // The second did not wait for the first's output to end (the exit
        // grace, two seconds), only for its process.
        assert!(
            second_started - first_started < 1000,
            "{first_started} {second_started}"
        );
        assert!(
            first_done - first_started >= 1500,
            "{first_started} {first_done}"
        );
        // Both ran, one after the other, each with its result.
        let ends: Vec<&Entry> = out
            .0
            .iter()
            .filter(|e| e.action.name() == "test_end")
            .collect();
        assert_eq!(ends.len(), 2, "{:?}", out.0);
    }

    #[test]
    fn an_interrupt_while_listing_says_what_was_not_listed() {
        let (config, origin) = (serial_config(), test_origin());
        let (tx, rx) = sync_channel(16);
        // One of three binaries listed, then Ctrl-C; the doctests never come.
        tx.send(Msg::Listed(0, Box::new(unlisted_binary("p::a"))))
            .unwrap();
        tx.send(Msg::Signal(2)).unwrap();
        let mut out = Collect(Vec::new());
        let end = Runner::new(
            config,
            origin,
            Box::new(SystemClock),
            &mut out,
            (tx, rx),
            3,
            true,
            None,
            Map::new(),
        )
        .run();
        assert!(end.interrupted);
        let Action::SuiteStart(start) = &out.0[0].action else {
            panic!("suite_start first: {:?}", out.0[0]);
        };
        assert_eq!(start.tests.groups().keys().collect::<Vec<_>>(), ["p::a"]);
        let warnings: Vec<&str> = out
            .0
            .iter()
            .filter_map(|e| match &e.action {
                Action::Log(l) if l.level == Level::Warning => Some(l.message.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            warnings,
            [
                "interrupted: every test had started; 2 of 3 test binaries were not listed; \
              the doctests were not listed"
            ]
        );
    }
}
