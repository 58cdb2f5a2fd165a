//! Translation of one test binary's libtest events into mozlog actions.
//!
//! [`BinaryState`] holds what is known of a binary's tests (from discovery)
//! and where each one is (pending, running in some process, done). It is fed
//! the lines of the binary's processes and produces actions; it does no I/O
//! and reads no clock, so the runner stamps the actions with time and pid.
//!
//! Rules (README "Status mapping"):
//! - A result line is trusted only for a discovered test that was started in
//!   the same process and has not ended: a test can print anything, even a
//!   line that looks like libtest's.
//! - Every other line, JSON or not, valid UTF-8 or not, is `process_output`,
//!   attributed to a test when exactly one test of the process is running.
//! - `ok` → PASS, `failed` → FAIL expected PASS, `ignored` → SKIP (reason in
//!   `message`); `#[should_panic]` tests are expected FAIL: panicked as
//!   expected → FAIL, did not panic → PASS expected FAIL, wrong message →
//!   ERROR expected FAIL; `--ensure-time`'s "time limit exceeded" → TIMEOUT.

use crate::libtest::{self, Event, Outcome, TestResult};
use crate::model::{Action, Level, Log, ProcessOutput, Status, TestEnd, TestStart};
use crate::plan::{Harness, TestInfo};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Where a test is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Pending,
    Running {
        pid: u32,
    },
    /// Started in a process that died; waiting to run again alone. Its
    /// `test_start` is already written.
    Requeued,
    /// Its result was unexpected and it waits for another attempt
    /// (`--retries`); its `test_start` is already written.
    Retrying,
    Done,
}

/// What ending a test did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The `test_end` was written.
    Done,
    /// The result was unexpected and the test will run again (`--retries`).
    Retry,
    /// The test was not running.
    NotRunning,
    /// It failed in a process that compiled the doctests merged; its result
    /// is held until it has run on its own (see [`BinaryState::set_merged`]).
    Held,
}

/// A second account of a process's results that its tests cannot write
/// (libtest's `--logfile`, see [`crate::libtest::witness`]): a result line counts only
/// when it agrees.
pub trait Witness: Send + std::fmt::Debug {
    /// Whether the harness itself recorded `outcome` for `name` next (the
    /// record is then taken).
    fn confirms(&mut self, name: &str, outcome: Outcome) -> bool;
}

/// What a line did to the tests' phases.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineEffect {
    pub started: Option<String>,
    pub ended: Option<String>,
    /// A test whose unexpected result will be retried.
    pub retry: Option<String>,
    /// A doctest whose merged failure is held until it has run on its own.
    pub held: Option<String>,
}

/// The translation state of one test binary across its processes.
#[derive(Debug)]
pub struct BinaryState {
    /// The binary id (`pkg`, `pkg::it`, `pkg::bin/name`, `pkg::doc`).
    pub id: String,
    pub harness: Harness,
    pub tests: Vec<TestInfo>,
    phase: Vec<Phase>,
    index: HashMap<String, usize>,
    /// Tests' output is captured and given with every result (`--show-output`),
    /// so a should_panic test's panic can be confirmed from it.
    captured: bool,
    /// Processes whose libtest suite reported its end.
    finished_suites: Vec<u32>,
    /// Processes run with `--nocapture` (a test re-run alone, to keep what a
    /// crashing test printed): their tests' output arrives as raw lines.
    uncaptured: Vec<u32>,
    /// The raw output of tests in uncaptured processes, kept (up to a limit)
    /// to find the panic message when the result comes.
    raw_output: HashMap<usize, String>,
    /// Attempts a test with an unexpected result may have in all (`--retries` + 1).
    max_attempts: u32,
    /// The earlier attempts of tests being retried.
    attempts: HashMap<usize, Vec<Value>>,
    /// When each test's current attempt started (ms since the epoch).
    started_at: Vec<u64>,
    /// Per process, the account its result lines must agree with.
    witnesses: HashMap<u32, Box<dyn Witness>>,
    /// Results claimed by lines the witness did not confirm, per test: kept
    /// to tell whether the test's real result differs.
    claimed: HashMap<usize, Outcome>,
    /// Processes of rustdoc that compile the doctests merged where
    /// `cargo test` would compile each on its own: a failure there is held.
    merged: Vec<u32>,
    /// Processes of rustdoc that run held doctests on their own (and others
    /// whose names share a part with them: ignored).
    confirming: Vec<u32>,
    /// The merged results of held doctests.
    held: HashMap<usize, TestEnd>,
}

/// What libtest 1.9x prints on stderr when given `--logfile`.
const LOGFILE_NOTICE: &[u8] = b"warning: `--logfile` is deprecated";

/// Most raw output kept per test for reading its panic message.
const RAW_OUTPUT_KEPT: usize = 1 << 20;

/// Most of a held doctest's merged output kept in its `extra`.
const MERGED_OUTPUT_KEPT: usize = 16 * 1024;

/// `s` up to `max` bytes (at a character boundary).
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    &s[..at]
}

/// What became of a process's tests when it exited.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExitReport {
    /// Tests that started in the process and never got a result.
    pub in_flight: Vec<String>,
    /// Whether libtest printed its suite summary.
    pub suite_finished: bool,
}

impl BinaryState {
    pub fn new(id: String, harness: Harness, tests: Vec<TestInfo>, captured: bool) -> Self {
        let index = tests
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        BinaryState {
            id,
            harness,
            phase: vec![Phase::Pending; tests.len()],
            tests,
            index,
            captured,
            finished_suites: Vec::new(),
            uncaptured: Vec::new(),
            raw_output: HashMap::new(),
            max_attempts: 1,
            attempts: HashMap::new(),
            started_at: Vec::new(),
            witnesses: HashMap::new(),
            claimed: HashMap::new(),
            merged: Vec::new(),
            confirming: Vec::new(),
            held: HashMap::new(),
        }
    }

    /// Gives process `pid` a witness that its result lines must agree with.
    pub fn set_witness(&mut self, pid: u32, witness: Box<dyn Witness>) {
        self.witnesses.insert(pid, witness);
    }

    /// Lets a test with an unexpected result run `retries` more times.
    /// rustdoc cannot run a doctest alone (see [`Harness::selects_by_name`]),
    /// so doctests are not retried.
    pub fn set_retries(&mut self, retries: u32) {
        self.max_attempts = if self.harness == Harness::Rustdoc {
            1
        } else {
            retries + 1
        };
    }

    /// Marks a rustdoc process as compiling the doctests merged where
    /// `cargo test` compiles each on its own: merged doctests share a crate
    /// and a file (`line!()`, `Location`, statics and crate attributes can
    /// differ), so a failure there is held, and the doctest run again on its
    /// own ([`BinaryState::set_confirming`]) before any result is written.
    pub fn set_merged(&mut self, pid: u32) {
        self.merged.push(pid);
    }

    /// Marks a rustdoc process as running held doctests on their own: their
    /// results there count; the other doctests it runs are ignored.
    pub fn set_confirming(&mut self, pid: u32) {
        self.confirming.push(pid);
    }

    /// The doctests whose merged failure is held, waiting to run on their own.
    pub fn held(&self) -> Vec<String> {
        let mut out: Vec<(usize, String)> = self
            .held
            .keys()
            .filter(|i| self.phase[**i] == Phase::Requeued)
            .map(|i| (*i, self.tests[*i].name.clone()))
            .collect();
        out.sort();
        out.into_iter().map(|(_, n)| n).collect()
    }

    /// Ends a held doctest with its merged result, `why` it did not run on
    /// its own said in a log entry.
    pub fn release_held(&mut self, name: &str, why: &str, now: u64, out: &mut Vec<Action>) {
        let Some(&i) = self.index.get(name) else {
            return;
        };
        let Some(end) = self.held.remove(&i) else {
            return;
        };
        if self.phase[i] != Phase::Requeued {
            // Ended meanwhile (its process on its own died, say).
            return;
        }
        out.push(Action::Log(Log {
            level: Level::Warning,
            message: format!(
                "{}: failed with the doctests compiled merged; {why}, so that result is kept",
                self.test_id(name)
            ),
            stack: None,
        }));
        self.end(name, end, now, false, out);
    }

    /// Marks a process as running with `--nocapture`.
    pub fn set_uncaptured(&mut self, pid: u32) {
        self.uncaptured.push(pid);
    }

    fn is_captured(&self, pid: u32) -> bool {
        self.captured && !self.uncaptured.contains(&pid)
    }

    /// The mozlog test id of a libtest name: `"<binary-id> <name>"`.
    pub fn test_id(&self, name: &str) -> String {
        format!("{} {}", self.id, name)
    }

    pub fn phase(&self, name: &str) -> Option<Phase> {
        self.index.get(name).map(|&i| self.phase[i])
    }

    /// Tests not started yet, in discovery order.
    pub fn pending(&self) -> Vec<String> {
        self.names_where(|p| p == Phase::Pending)
    }

    /// Tests started and waiting to run again (after their process died, or
    /// for another attempt).
    pub fn requeued(&self) -> Vec<String> {
        self.names_where(|p| matches!(p, Phase::Requeued | Phase::Retrying))
    }

    /// True for a test that has to run (again): pending or requeued.
    pub fn is_unstarted(&self, name: &str) -> bool {
        matches!(self.phase(name), Some(Phase::Pending | Phase::Requeued))
    }

    /// Tests running in process `pid`.
    pub fn running_in(&self, pid: u32) -> Vec<String> {
        self.names_where(|p| p == Phase::Running { pid })
    }

    fn names_where(&self, f: impl Fn(Phase) -> bool) -> Vec<String> {
        self.tests
            .iter()
            .zip(&self.phase)
            .filter(|(_, p)| f(**p))
            .map(|(t, _)| t.name.clone())
            .collect()
    }

    /// Starts a test (libtest's `started`, or the runner starting a custom
    /// harness). A requeued test runs again without a second `test_start`.
    pub fn start(&mut self, name: &str, pid: u32, now: u64, out: &mut Vec<Action>) -> bool {
        let Some(&i) = self.index.get(name) else {
            return false;
        };
        if self.started_at.len() < self.tests.len() {
            self.started_at.resize(self.tests.len(), now);
        }
        self.started_at[i] = now;
        match self.phase[i] {
            Phase::Pending => {}
            Phase::Requeued | Phase::Retrying => {
                self.phase[i] = Phase::Running { pid };
                return true;
            }
            Phase::Running { .. } | Phase::Done => return false,
        }
        self.phase[i] = Phase::Running { pid };
        out.push(Action::TestStart(TestStart {
            test: self.test_id(name),
            path: self.tests[i].path.clone(),
            subsuite: None,
            group: Some(self.id.clone()),
        }));
        true
    }

    /// Ends a running test with its result (from its result line, or decided
    /// by the runner: timeout, crash, interruption, a custom harness's exit
    /// status). `end.test` is replaced by the test's id. The expectations
    /// file's entry applies here; then, when `retryable` and attempts are
    /// left, an unexpected result is kept as an attempt and the test will
    /// run again instead.
    pub fn end(
        &mut self,
        name: &str,
        mut end: TestEnd,
        now: u64,
        retryable: bool,
        out: &mut Vec<Action>,
    ) -> Ended {
        let Some(&i) = self.index.get(name) else {
            return Ended::NotRunning;
        };
        if !matches!(
            self.phase[i],
            Phase::Running { .. } | Phase::Requeued | Phase::Retrying
        ) {
            return Ended::NotRunning;
        }
        end.test = self.test_id(name);
        end.group = Some(self.id.clone());
        let info = &self.tests[i];
        let mut extra = end.extra.take().unwrap_or_default();
        if let Some(x) = &info.expectation {
            let base = end.expected_status();
            end.set_expected(x.expected.unwrap_or(base));
            for s in &x.known_intermittent {
                if !end.known_intermittent.contains(s) {
                    end.known_intermittent.push(*s);
                }
            }
            let mut note = Map::new();
            note.insert("id".into(), Value::from(x.id.clone()));
            if let Some(r) = &x.reason {
                note.insert("reason".into(), Value::from(r.clone()));
            }
            if let Some(u) = &x.issue {
                note.insert("issue".into(), Value::from(u.clone()));
            }
            extra.insert("expectation".into(), Value::Object(note));
        }
        let started = self.started_at.get(i).copied().unwrap_or(now);
        let attempt = || {
            let mut a = Map::new();
            a.insert("status".into(), Value::from(end.status.as_str()));
            if let Some(e) = end.expected {
                a.insert("expected".into(), Value::from(e.as_str()));
            }
            a.insert(
                "duration_ms".into(),
                Value::from(now.saturating_sub(started)),
            );
            if let Some(m) = &end.message {
                let cut = m.char_indices().nth(2000).map_or(m.len(), |(at, _)| at);
                a.insert("message".into(), Value::from(&m[..cut]));
            }
            Value::Object(a)
        };
        let tried = self.attempts.get(&i).map_or(0, Vec::len) as u32;
        if retry(retryable, end.is_unexpected(), tried, self.max_attempts) {
            let a = attempt();
            self.attempts.entry(i).or_default().push(a);
            self.phase[i] = Phase::Retrying;
            return Ended::Retry;
        }
        if let Some(mut earlier) = self.attempts.remove(&i) {
            earlier.push(attempt());
            // A status that changed between attempts is an intermittent one.
            let changed: Vec<Status> = earlier
                .iter()
                .filter_map(|a| a["status"].as_str().and_then(Status::parse))
                .filter(|s| *s != end.status)
                .collect();
            if !changed.is_empty() {
                extra.insert("flaky".into(), Value::Bool(true));
                for s in changed {
                    if !end.known_intermittent.contains(&s) && Some(s) != end.expected {
                        end.known_intermittent.push(s);
                    }
                }
            }
            extra.insert("attempts".into(), Value::Array(earlier));
        }
        self.phase[i] = Phase::Done;
        if let Some(line) = info.line {
            extra.insert("line".into(), Value::from(line));
        }
        end.extra = (!extra.is_empty()).then_some(extra);
        out.push(Action::TestEnd(end));
        Ended::Done
    }

    /// The expected status of a test that did not report one itself.
    pub fn expected_of(&self, name: &str) -> Status {
        match self.index.get(name) {
            Some(&i) if self.tests[i].should_panic => Status::Fail,
            _ => Status::Pass,
        }
    }

    /// Puts a test that was running in a dead process back in line, to run
    /// again alone (no entry is written: its `test_start` stands).
    pub fn requeue(&mut self, name: &str) {
        if let Some(&i) = self.index.get(name) {
            if matches!(self.phase[i], Phase::Running { .. }) {
                self.phase[i] = Phase::Requeued;
            }
        }
    }

    /// One line of a process's stdout, read at `now`; `truncated` when the
    /// reader cut it. A test's output left without a line break puts the
    /// harness's next event at the end of that line: the output before it is
    /// kept as such, and the event read.
    pub fn stdout_line(
        &mut self,
        pid: u32,
        line: &[u8],
        truncated: bool,
        now: u64,
        out: &mut Vec<Action>,
    ) -> LineEffect {
        if self.harness.speaks_libtest() {
            let (before, tail) = if truncated {
                (None, line)
            } else {
                libtest::split_event(line)
            };
            let event = if truncated {
                libtest::parse_truncated_result(tail).map(Event::Result)
            } else {
                libtest::parse_line(tail)
            };
            let split = before.is_some() && event.is_some();
            if let (true, Some(before)) = (split, before) {
                self.output_line(pid, before, out);
            }
            match event {
                Some(Event::Started { name }) if self.ignored_here(pid, &name) => {
                    return LineEffect::default();
                }
                Some(Event::Result(r)) if self.ignored_here(pid, &r.name) => {
                    return LineEffect::default();
                }
                Some(Event::Started { name }) => {
                    if self.start(&name, pid, now, out) {
                        return LineEffect {
                            started: Some(name),
                            ..LineEffect::default()
                        };
                    }
                }
                Some(Event::Result(r)) => {
                    if self.phase(&r.name) == Some(Phase::Running { pid })
                        && self.witnessed(pid, &r, out)
                    {
                        let name = r.name.clone();
                        return match self.result(pid, r, now, out) {
                            Ended::Retry => LineEffect {
                                ended: Some(name.clone()),
                                retry: Some(name),
                                ..LineEffect::default()
                            },
                            Ended::Held => LineEffect {
                                ended: Some(name.clone()),
                                held: Some(name),
                                ..LineEffect::default()
                            },
                            _ => LineEffect {
                                ended: Some(name),
                                ..LineEffect::default()
                            },
                        };
                    }
                }
                Some(Event::SuiteStarted { .. } | Event::Discovery | Event::Other) => {
                    return LineEffect::default()
                }
                Some(Event::SuiteFinished { .. }) => {
                    self.finished_suites.push(pid);
                    return LineEffect::default();
                }
                Some(Event::Slow { name }) => {
                    if self.phase(&name) == Some(Phase::Running { pid }) {
                        out.push(Action::Log(Log {
                            level: Level::Warning,
                            message: format!(
                                "{} has been running for over 60 seconds",
                                self.test_id(&name)
                            ),
                            stack: None,
                        }));
                        return LineEffect::default();
                    }
                }
                Some(Event::Discovered(_)) | None => {}
            }
            if split {
                // The output before it is written; the event itself was not
                // taken, so it is output too.
                self.output_line(pid, tail, out);
                return LineEffect::default();
            }
        }
        self.output_line(pid, line, out);
        if truncated {
            if let Some(Action::ProcessOutput(p)) = out.last_mut() {
                p.data.push_str(" [line cut: too long]");
            }
        }
        LineEffect::default()
    }

    /// Whether a result line of a running test agrees with the process's
    /// witness (or the process has none). A line it does not confirm was
    /// written by a test, not by the harness: it stays output, a warning
    /// says so, and when the test's own result later differs from the claim,
    /// an error does.
    fn witnessed(&mut self, pid: u32, r: &TestResult, out: &mut Vec<Action>) -> bool {
        let Some(witness) = self.witnesses.get_mut(&pid) else {
            return true;
        };
        let i = self.index[&r.name];
        if witness.confirms(&r.name, r.outcome) {
            if let Some(claim) = self.claimed.remove(&i) {
                if claim != r.outcome {
                    out.push(Action::Log(Log {
                        level: Level::Error,
                        message: format!(
                            "{}: a line printed during the run claimed it {}, but it {}",
                            self.test_id(&r.name),
                            outcome_words(claim),
                            outcome_words(r.outcome)
                        ),
                        stack: None,
                    }));
                }
            }
            return true;
        }
        self.claimed.insert(i, r.outcome);
        out.push(Action::Log(Log {
            level: Level::Warning,
            message: format!(
                "{}: a result line ({}) that the harness did not write was printed on its output; kept as output",
                self.test_id(&r.name),
                outcome_words(r.outcome)
            ),
            stack: None,
        }));
        false
    }

    /// A line of process `pid`'s stderr without libtest's notice about the
    /// `--logfile` the tool gave it, which is neither output nor a crash's
    /// stderr. libtest writes the notice with no line break, so whatever
    /// reaches stderr next (from outside its capture) follows on its line.
    pub fn without_own_notice<'a>(&self, pid: u32, line: &'a [u8]) -> &'a [u8] {
        match line.strip_prefix(LOGFILE_NOTICE) {
            Some(rest) if self.witnesses.contains_key(&pid) => rest,
            _ => line,
        }
    }

    /// One line of a process's stderr.
    /// libtest's own notice that `--logfile` (given by the tool for its
    /// witness, not by the user) is deprecated: not the test's output.
    pub fn stderr_line(&mut self, pid: u32, line: &[u8], out: &mut Vec<Action>) {
        let own = self.without_own_notice(pid, line);
        if own.is_empty() && !line.is_empty() {
            return;
        }
        self.output_line(pid, own, out);
    }

    /// A line that is output, not an event: attributed to the test running in
    /// the process when there is exactly one.
    fn output_line(&mut self, pid: u32, line: &[u8], out: &mut Vec<Action>) {
        let mut running = self
            .phase
            .iter()
            .enumerate()
            .filter(|(_, p)| **p == Phase::Running { pid });
        let owner = match (running.next(), running.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        };
        let data = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned();
        if let Some(i) = owner {
            if !self.is_captured(pid) {
                let kept = self.raw_output.entry(i).or_default();
                if kept.len() < RAW_OUTPUT_KEPT {
                    kept.push_str(&data);
                    kept.push('\n');
                }
            }
        }
        out.push(Action::ProcessOutput(ProcessOutput {
            process: pid.to_string(),
            data,
            command: None,
            test: owner.map(|i| self.test_id(&self.tests[i].name)),
            subsuite: None,
        }));
    }

    /// Whether a line about `name` in process `pid` is to be ignored: a
    /// process running held doctests on their own runs others too (rustdoc
    /// selects by parts of names), whose results are known already.
    fn ignored_here(&self, pid: u32, name: &str) -> bool {
        self.confirming.contains(&pid)
            && self
                .index
                .get(name)
                .is_none_or(|i| !self.held.contains_key(i) || self.phase[*i] == Phase::Done)
    }

    fn result(&mut self, pid: u32, r: TestResult, now: u64, out: &mut Vec<Action>) -> Ended {
        let i = self.index[&r.name];
        let id = self.test_id(&r.name);
        if r.outcome == Outcome::Failed && self.merged.contains(&pid) {
            let mut end = map_result(&self.tests[i], &r);
            if let Some(stdout) = &r.stdout {
                let mut extra = end.extra.take().unwrap_or_default();
                extra.insert(
                    "output".into(),
                    Value::from(cut(stdout, MERGED_OUTPUT_KEPT)),
                );
                end.extra = Some(extra);
            }
            self.held.insert(i, end);
            self.phase[i] = Phase::Requeued;
            return Ended::Held;
        }
        if let Some(stdout) = &r.stdout {
            for line in stdout.lines() {
                out.push(Action::ProcessOutput(ProcessOutput {
                    process: pid.to_string(),
                    data: line.to_string(),
                    command: None,
                    test: Some(id.clone()),
                    subsuite: None,
                }));
            }
        }
        let end = match (self.raw_output.remove(&i), &r.stdout) {
            // Uncaptured: the panic is in the raw output already written.
            (Some(raw), None) => {
                let with_output = TestResult {
                    stdout: Some(raw),
                    ..r.clone()
                };
                map_result(&self.tests[i], &with_output)
            }
            _ => map_result(&self.tests[i], &r),
        };
        let end = match self.held.remove(&i) {
            Some(merged) => self.confirmed(i, end, merged, out),
            None => end,
        };
        self.end(&r.name, end, now, true, out)
    }

    /// A held doctest's result on its own, the one that counts, with its
    /// merged result in `extra.merged` (and a log entry when they differ).
    fn confirmed(
        &self,
        i: usize,
        mut end: TestEnd,
        merged: TestEnd,
        out: &mut Vec<Action>,
    ) -> TestEnd {
        let mut m = Map::new();
        m.insert("status".into(), Value::from(merged.status.as_str()));
        if let Some(e) = merged.expected {
            m.insert("expected".into(), Value::from(e.as_str()));
        }
        if let Some(msg) = &merged.message {
            m.insert("message".into(), Value::from(msg.clone()));
        }
        if let Some(o) = merged.extra.as_ref().and_then(|x| x.get("output")) {
            m.insert("output".into(), o.clone());
        }
        if merged.status != end.status {
            out.push(Action::Log(Log {
                level: Level::Warning,
                message: format!(
                    "{}: {} with the doctests compiled merged{}, but {} compiled on its own \
                     (as cargo test compiles it); the result on its own counts",
                    self.test_id(&self.tests[i].name),
                    merged.status.as_str(),
                    merged
                        .message
                        .as_deref()
                        .map(|m| format!(" ({})", cut(m, 200)))
                        .unwrap_or_default(),
                    end.status.as_str(),
                ),
                stack: None,
            }));
        }
        let mut extra = end.extra.take().unwrap_or_default();
        extra.insert("merged".into(), Value::Object(m));
        end.extra = Some(extra);
        end
    }

    /// A process exited: what it left unfinished. The runner decides what to
    /// do with it (CRASH, re-run, resume).
    pub fn process_exited(&mut self, pid: u32) -> ExitReport {
        self.witnesses.remove(&pid);
        ExitReport {
            in_flight: self.running_in(pid),
            suite_finished: self.finished_suites.contains(&pid),
        }
    }
}

fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "passed",
        Outcome::Failed => "failed",
        Outcome::Ignored => "was ignored",
    }
}

/// Maps one libtest result to a mozlog `test_end` (its `test` is set by the caller).
pub fn map_result(info: &TestInfo, r: &TestResult) -> TestEnd {
    let output = r.stdout.as_deref().unwrap_or("");
    let panic = libtest::find_panic(output);
    let mut extra = Map::new();
    let mut end = TestEnd::new(String::new(), Status::Pass);
    let should_panic = info.should_panic;
    let stack_of = |p: &libtest::Panic| {
        let mut s = format!("panicked at {}", p.location);
        if let Some(bt) = &p.backtrace {
            s.push('\n');
            s.push_str(bt);
        }
        s
    };
    match r.outcome {
        Outcome::Ignored => {
            end.status = Status::Skip;
            end.message = r.message.clone();
        }
        Outcome::Ok => {
            // A should_panic test that passed panicked as expected: FAIL, as
            // expected.
            if should_panic {
                end.status = Status::Fail;
                end.set_expected(Status::Fail);
                if let Some(p) = &panic {
                    end.message = Some(p.message.clone());
                    end.stack = Some(stack_of(p));
                }
            } else {
                end.status = Status::Pass;
            }
        }
        Outcome::Failed => {
            let msg = r.message.as_deref().unwrap_or("");
            if msg.starts_with("test did not panic as expected")
                || output.contains("but it's marked `should_panic`")
            {
                end.status = Status::Pass;
                end.set_expected(Status::Fail);
                end.message = Some(if msg.is_empty() {
                    "test did not panic as expected".to_string()
                } else {
                    msg.to_string()
                });
            } else if msg.starts_with("panic did not contain expected string") {
                end.status = Status::Error;
                end.set_expected(Status::Fail);
                end.message = Some(msg.to_string());
                end.stack = panic.as_ref().map(stack_of);
            } else if r.reason.as_deref() == Some("time limit exceeded") {
                end.status = Status::Timeout;
                end.set_expected(if should_panic {
                    Status::Fail
                } else {
                    Status::Pass
                });
                end.message = Some("time limit exceeded".to_string());
            } else {
                end.status = if should_panic {
                    Status::Error
                } else {
                    Status::Fail
                };
                end.set_expected(if should_panic {
                    Status::Fail
                } else {
                    Status::Pass
                });
                if let Some(p) = &panic {
                    end.message = Some(p.message.clone());
                    end.stack = Some(stack_of(p));
                } else if let Some(e) = libtest::find_returned_error(output) {
                    end.message = Some(e);
                } else if !msg.is_empty() {
                    end.message = Some(msg.to_string());
                } else {
                    end.message = first_error_line(output);
                }
            }
        }
    }
    if let Some(p) = &panic {
        extra.insert("panic_location".into(), Value::from(p.location.clone()));
    }
    if should_panic {
        extra.insert("should_panic".into(), Value::Bool(true));
    }
    if !extra.is_empty() {
        end.extra = Some(extra);
    }
    end
}

/// A compiler error (doctests that do not build) or, failing that, the first line.
fn first_error_line(output: &str) -> Option<String> {
    let mut lines = output.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.clone().next()?;
    Some(
        lines
            .find(|l| l.starts_with("error"))
            .unwrap_or(first)
            .to_string(),
    )
}

/// Whether a test's unexpected result sends it round again (`--retries`):
/// only for a result that can change on another try (not one the run
/// decided, such as an interruption), while attempts are left.
fn retry(retryable: bool, unexpected: bool, attempts_so_far: u32, max_attempts: u32) -> bool {
    retryable && unexpected && attempts_so_far + 1 < max_attempts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_while_attempts_are_left() {
        // --retries 2: three attempts in all.
        assert!(retry(true, true, 0, 3));
        assert!(retry(true, true, 1, 3));
        assert!(!retry(true, true, 2, 3));
        assert!(!retry(true, false, 0, 3), "an expected result is kept");
        assert!(
            !retry(false, true, 0, 3),
            "a result the run decided is kept"
        );
        assert!(!retry(true, true, 0, 1), "no retries asked for");
    }

    fn state(tests: &[(&str, bool)]) -> BinaryState {
        BinaryState::new(
            "pkg::it".into(),
            Harness::Libtest,
            tests
                .iter()
                .map(|(n, sp)| TestInfo {
                    name: n.to_string(),
                    should_panic: *sp,
                    ..Default::default()
                })
                .collect(),
            true,
        )
    }

    fn ends(actions: &[Action]) -> Vec<(String, Status, Option<Status>, Option<String>)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::TestEnd(e) => {
                    Some((e.test.clone(), e.status, e.expected, e.message.clone()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_doctest_that_fails_merged_counts_by_its_result_on_its_own() {
        let mut s = BinaryState::new(
            "pkg::doc".into(),
            Harness::Rustdoc,
            ["l - a (line 1)", "l - b (line 9)", "l - c (line 20)"]
                .iter()
                .map(|n| TestInfo {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            true,
        );
        let line = |s: &mut BinaryState, pid, text: &str, out: &mut Vec<Action>| {
            s.stdout_line(pid, text.as_bytes(), false, 0, out)
        };
        let started =
            |n: &str| format!(r#"{{ "type": "test", "event": "started", "name": "{n}" }}"#);
        let result = |n: &str, event: &str| {
            format!(
                r#"{{ "type": "test", "name": "{n}", "event": "{event}", "stdout": "thread 'main' panicked at /tmp/x/doctest_bundle_2021.rs:9:1:\nboom" }}"#
            )
        };
        let mut out = Vec::new();
        s.set_merged(1);
        for n in ["l - a (line 1)", "l - b (line 9)", "l - c (line 20)"] {
            line(&mut s, 1, &started(n), &mut out);
        }
        line(&mut s, 1, &result("l - a (line 1)", "ok"), &mut out);
        let held = line(&mut s, 1, &result("l - b (line 9)", "failed"), &mut out);
        assert_eq!(held.held.as_deref(), Some("l - b (line 9)"), "{out:?}");
        let c = line(&mut s, 1, &result("l - c (line 20)", "failed"), &mut out);
        assert_eq!(c.held.as_deref(), Some("l - c (line 20)"));
        // Only a's result is written; b and c wait, their output unwritten.
        assert_eq!(ends(&out).len(), 1);
        assert!(!out.iter().any(|a| matches!(a, Action::ProcessOutput(p)
            if p.test.as_deref() != Some("pkg::doc l - a (line 1)"))));
        assert_eq!(s.held(), ["l - b (line 9)", "l - c (line 20)"]);
        assert!(s.process_exited(1).in_flight.is_empty());

        // On their own (with a, which shares a part of their names: ignored).
        out.clear();
        s.set_confirming(2);
        for n in ["l - a (line 1)", "l - b (line 9)"] {
            line(&mut s, 2, &started(n), &mut out);
        }
        line(&mut s, 2, &result("l - a (line 1)", "failed"), &mut out);
        line(
            &mut s,
            2,
            r#"{ "type": "test", "name": "l - b (line 9)", "event": "ok" }"#,
            &mut out,
        );
        let got = ends(&out);
        assert_eq!(got.len(), 1, "{out:?}");
        assert_eq!(
            (got[0].0.as_str(), got[0].1),
            ("pkg::doc l - b (line 9)", Status::Pass)
        );
        let Some(Action::TestEnd(b)) = out.iter().find(|a| matches!(a, Action::TestEnd(_))) else {
            unreachable!()
        };
        let merged = &b.extra.as_ref().unwrap()["merged"];
        assert_eq!(merged["status"], "FAIL");
        assert_eq!(merged["message"], "boom");
        assert!(out.iter().any(|a| matches!(a, Action::Log(l)
            if l.level == Level::Warning && l.message.contains("FAIL with the doctests compiled merged (boom), but PASS"))));
        // c gave no result on its own: its merged failure is kept.
        assert_eq!(s.held(), ["l - c (line 20)"]);
        out.clear();
        s.release_held(
            "l - c (line 20)",
            "it gave no result on its own",
            0,
            &mut out,
        );
        let got = ends(&out);
        assert_eq!(
            (got[0].1, got[0].3.as_deref()),
            (Status::Fail, Some("boom"))
        );
        assert!(s.held().is_empty());
    }

    #[test]
    fn result_lines_are_trusted_only_for_started_tests() {
        let mut s = state(&[("a", false), ("b", false)]);
        let mut out = Vec::new();
        s.stdout_line(
            7,
            br#"{ "type": "test", "name": "a", "event": "failed" }"#,
            false,
            0,
            &mut out,
        );
        assert!(matches!(&out[0], Action::ProcessOutput(p) if p.test.is_none()));
        s.stdout_line(
            7,
            br#"{ "type": "test", "event": "started", "name": "a" }"#,
            false,
            0,
            &mut out,
        );
        s.stdout_line(
            7,
            br#"{ "type": "test", "name": "zz", "event": "failed" }"#,
            false,
            0,
            &mut out,
        );
        s.stdout_line(7, b"raw \xff bytes", false, 0, &mut out);
        s.stdout_line(
            7,
            br#"{ "type": "test", "name": "a", "event": "ok" }"#,
            false,
            0,
            &mut out,
        );
        s.stdout_line(
            7,
            br#"{ "type": "test", "name": "a", "event": "failed" }"#,
            false,
            0,
            &mut out,
        );
        assert_eq!(
            ends(&out),
            vec![("pkg::it a".into(), Status::Pass, None, None)]
        );
        let outputs: Vec<_> = out
            .iter()
            .filter_map(|a| match a {
                Action::ProcessOutput(p) => Some((p.data.clone(), p.test.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(outputs[1].1.as_deref(), Some("pkg::it a"));
        assert_eq!(
            outputs[2],
            ("raw \u{fffd} bytes".into(), Some("pkg::it a".into()))
        );
        assert_eq!(
            outputs[3].1, None,
            "a line after the test ended belongs to no test"
        );
        assert_eq!(s.pending(), vec!["b".to_string()]);
    }

    #[test]
    fn should_panic_mapping() {
        let info = |sp| TestInfo {
            name: "t".into(),
            should_panic: sp,
            ..Default::default()
        };
        let r = |outcome, stdout: Option<&str>, message: Option<&str>| TestResult {
            name: "t".into(),
            outcome,
            exec_time: None,
            stdout: stdout.map(str::to_string),
            message: message.map(str::to_string),
            reason: None,
        };
        let panicked = "\nthread 't' (1) panicked at src/lib.rs:3:5:\nboom\n";
        let e = map_result(&info(true), &r(Outcome::Ok, Some(panicked), None));
        assert_eq!((e.status, e.expected), (Status::Fail, None));
        assert_eq!(e.message.as_deref(), Some("boom"));
        // A should_panic test whose panic left no output (a silent panic
        // hook) is still the expected FAIL: libtest said it is should_panic.
        let e = map_result(&info(true), &r(Outcome::Ok, None, None));
        assert_eq!((e.status, e.expected), (Status::Fail, None));
        // A test that is not should_panic and shows a panic it caught passed.
        let e = map_result(&info(false), &r(Outcome::Ok, Some(panicked), None));
        assert_eq!((e.status, e.expected), (Status::Pass, None));
        let e = map_result(
            &info(false),
            &r(
                Outcome::Failed,
                None,
                Some("test did not panic as expected at src/lib.rs:1:1"),
            ),
        );
        assert_eq!((e.status, e.expected), (Status::Pass, Some(Status::Fail)));
        let e = map_result(
            &info(true),
            &r(
                Outcome::Failed,
                Some(panicked),
                Some("panic did not contain expected string\n..."),
            ),
        );
        assert_eq!((e.status, e.expected), (Status::Error, Some(Status::Fail)));
        assert_eq!(e.stack.as_deref(), Some("panicked at src/lib.rs:3:5"));
        let mut timeout = r(Outcome::Failed, None, None);
        timeout.reason = Some("time limit exceeded".into());
        let e = map_result(&info(false), &timeout);
        assert_eq!(
            (e.status, e.expected),
            (Status::Timeout, Some(Status::Pass))
        );
        let e = map_result(&info(false), &r(Outcome::Ignored, None, Some("why")));
        assert_eq!(
            (e.status, e.expected, e.message.as_deref()),
            (Status::Skip, None, Some("why"))
        );
        let e = map_result(
            &info(false),
            &r(Outcome::Failed, Some("Error: \"bad\"\n"), None),
        );
        assert_eq!(e.message.as_deref(), Some("Error: \"bad\""));
    }
}
