//! `xunit`: JUnit XML, the test report that CI services read (Jenkins, GitLab,
//! GitHub's reporters).
//!
//! # The document
//!
//! One `<testsuites>` root holding one `<testsuite>` per test binary (per
//! mozlog `group`, e.g. `alpha::it_one`), with `tests`, `failures`, `errors`,
//! `skipped`, `time`, `timestamp` and `hostname`. Each test is a `<testcase>`
//! whose `classname` is the binary id plus the test's module path and whose
//! `name` is the test function: `tests::adds` in `alpha::it_one` is
//! `classname="alpha::it_one::tests" name="adds"`; a test without a module
//! path (or whose name is not a Rust path, like a doctest's
//! `src/lib.rs - add (line 5)`) has the binary id as its classname. Times come
//! from the entries (`test_start` to `test_end`; the suite's `timestamp` is
//! its first test's start, in UTC), the host from `suite_start`'s
//! `run_info.hostname`, and `run_info` is written as the suite's
//! `<properties>`: replaying a raw log writes the same document.
//!
//! | result in the log | written as |
//! |---|---|
//! | PASS, OK | a plain testcase |
//! | SKIP | `<skipped message="reason"/>` |
//! | FAIL, ASSERT, PRECONDITION_FAILED, NOTRUN, unexpected | `<failure type="fail" message=...>` (the type is the status in lower case), message and stack in the body |
//! | TIMEOUT, unexpected | `<failure type="timeout">` with the limit (`extra.timeout`) and the pre-kill stack sample (`extra.sample`) |
//! | ERROR, CRASH, unexpected | `<error type="error"/"crash">` (with the `crash` entry's signature) |
//! | a known intermittent status | a pass, with a note in its output |
//! | expected FAIL (a `#[should_panic]` test that panicked) | per `--log-xunit-xfail` |
//! | PASS expected FAIL (a `#[should_panic]` test that did not panic) | per `--log-xunit-xpass` |
//! | unexpected subtest results under a passing test | `<failure type="subtest">` listing them |
//! | started, no result (the log ends first) | `<error type="incomplete">` "did not finish" |
//! | listed in `suite_start`, never started | `<skipped message="not run: ...">` |
//! | `log` at ERROR or CRITICAL (build failure, a binary that cannot start) | an `<error>` testcase in a suite named after the entry's `source` |
//!
//! A test's captured output (its `process_output` lines; libtest does not
//! tell stdout from stderr, so all of it) goes to its `<system-out>`, cut at
//! `--log-xunit-max-output` bytes (on a character boundary) with a visible
//! marker. Every text has ANSI escapes and the characters XML 1.0 forbids
//! (NUL and other C0 controls but tab, newline and carriage return; U+FFFE,
//! U+FFFF) removed, and is escaped by quick-xml, so `]]>`, quotes and `<`
//! are safe: the document is well-formed whatever the tests print.
//!
//! The XML is written by [`Sink::finish`], because a suite's counts are
//! attributes of its start tag. Until then each test is a small record (ids,
//! times, its result, output up to the limit). `finish` closes every element
//! even when the log was cut short (no `suite_end`).
//!
//! # Flavors (`--log-xunit-flavor`)
//!
//! - `jenkins` (default): valid against Jenkins xunit's `junit-10.xsd`;
//!   output inside each testcase.
//! - `ant`: valid against the strict Ant schema (windyroad's `JUnit.xsd`):
//!   every suite has `<properties>`, `<system-out>` and `<system-err>`, plus
//!   `package` (the cargo package) and `id` (0, 1, ...); at most one result
//!   element per case; no output inside a testcase, so each test's output is
//!   a `---- <test id> ----` section of the suite's `<system-out>`; no
//!   attributes on `<testsuites>`.
//! - `extended`: `jenkins` plus `file` (`test_start.path`) and `line`
//!   (`extra.line`) on each testcase, which GitLab and GitHub's
//!   action-junit-report use to link results to the source. Outside
//!   junit-10.xsd only by those two attributes (the tests validate it
//!   against `fixtures/schemas/jenkins-junit-10-extended.xsd`, junit-10.xsd
//!   with the two added).
//!
//! # Expected failures and unexpected passes (`--log-xunit-xfail`, `--log-xunit-xpass`)
//!
//! As LLDB's `XunitFormatter` does, each of the two is mapped by a MAPMODE:
//! `success` writes a passing testcase, `failure` a `<failure>` (of type
//! `expected_failure`, or `unexpected_success` with the message "unexpected
//! success"), `ignore` leaves the test out of the document and of the
//! counts, `passthru` writes an `<expected-failure>` or
//! `<unexpected-success>` child and adds `expected-failures` and
//! `unexpected-successes` counts to each suite. `passthru` is outside every
//! JUnit schema: use it only for a reader that knows these elements.
//! Defaults: xfail `success` (a `#[should_panic]` test that panics passes
//! for `cargo test`, so the counts match it; LLDB defaults to `ignore`),
//! xpass `failure`.
//!
//! # Differences from mozlog's xunit formatter
//!
//! mozlog writes a single root `<testsuite>` without a `name` (required by
//! every schema), a non-standard `skips` attribute, every subtest as a
//! testcase, no captured output, no skip reasons, and known intermittent
//! results as failures. Here: a named suite per binary, the standard
//! `skipped`, subtests folded into their test, output and skip reasons
//! kept, known intermittents passing, and the xfail/xpass mapping above.

use super::{Output, Sink};
use crate::model::{Action, Entry, Level, Status};
use crate::text::{millis_as_secs, strip_ansi};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Write};

/// Which schema the document follows (`--log-xunit-flavor`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flavor {
    /// Jenkins xunit's `junit-10.xsd` (the default).
    #[default]
    Jenkins,
    /// The strict Ant `JUnit.xsd`: no output inside testcases.
    Ant,
    /// `jenkins` plus `file` and `line` on each testcase (GitLab, GitHub).
    Extended,
}

impl Flavor {
    /// Parses the flag's value (`jenkins`, `ant`, `extended`).
    pub fn parse(s: &str) -> Option<Flavor> {
        match s {
            "jenkins" => Some(Flavor::Jenkins),
            "ant" => Some(Flavor::Ant),
            "extended" => Some(Flavor::Extended),
            _ => None,
        }
    }
}

/// How expected failures / unexpected passes are written (LLDB's MAPMODE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapMode {
    /// A passing testcase.
    Success,
    /// A `<failure>`.
    Failure,
    /// Left out of the document and of the counts.
    Ignore,
    /// An `<expected-failure>` / `<unexpected-success>` child (outside every schema).
    Passthru,
}

impl MapMode {
    /// Parses the flag's value (`success`, `failure`, `ignore`, `passthru`).
    pub fn parse(s: &str) -> Option<MapMode> {
        match s {
            "success" => Some(MapMode::Success),
            "failure" => Some(MapMode::Failure),
            "ignore" => Some(MapMode::Ignore),
            "passthru" => Some(MapMode::Passthru),
            _ => None,
        }
    }
}

/// Options of the xunit format.
#[derive(Clone, Debug)]
pub struct XunitOptions {
    pub flavor: Flavor,
    /// Expected failures: a non-passing result that was expected.
    pub xfail: MapMode,
    /// Unexpected passes: PASS where a failure was expected.
    pub xpass: MapMode,
    /// Most bytes of captured output kept per test.
    pub max_output: usize,
}

impl Default for XunitOptions {
    fn default() -> Self {
        XunitOptions {
            flavor: Flavor::Jenkins,
            xfail: MapMode::Success,
            xpass: MapMode::Failure,
            max_output: 64 * 1024,
        }
    }
}

/// Messages and stacks are kept up to this many bytes even when the output
/// limit is smaller: they are what a report is read for.
const MIN_TEXT: usize = 4096;

/// True for a character XML 1.0 allows (its `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Text fit for the document: ANSI escapes and characters XML 1.0 forbids
/// removed (escaping is quick-xml's job).
fn sanitize(s: &str) -> Cow<'_, str> {
    let stripped = strip_ansi(s);
    if stripped.chars().all(is_xml_char) {
        return stripped;
    }
    Cow::Owned(stripped.chars().filter(|&c| is_xml_char(c)).collect())
}

/// The marker that stands for what was cut.
fn cut_marker(cut: u64, max: usize) -> String {
    format!("[... {cut} bytes of output cut by cargo-structlog: --log-xunit-max-output {max} ...]")
}

/// Sanitized text with a byte budget: what fits is kept, the rest is only
/// counted, so a test printing a gigabyte costs `max` bytes of memory.
#[derive(Debug, Default)]
struct Capped {
    text: String,
    cut: u64,
}

impl Capped {
    /// Appends raw text (sanitized here).
    fn push(&mut self, s: &str, max: usize) {
        let clean = sanitize(s);
        self.push_clean(&clean, max);
    }

    fn push_clean(&mut self, s: &str, max: usize) {
        if self.cut > 0 {
            self.cut += s.len() as u64;
            return;
        }
        let room = max.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
            return;
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&s[..end]);
        self.cut += (s.len() - end) as u64;
    }

    /// Appends one line.
    fn push_line(&mut self, line: &str, max: usize) {
        self.push(line, max);
        self.push_clean("\n", max);
    }

    fn is_empty(&self) -> bool {
        self.text.trim_end_matches('\n').is_empty() && self.cut == 0
    }

    /// The text, with the marker when something was cut.
    fn render(&self, max: usize) -> String {
        let mut s = self.text.trim_end_matches('\n').to_string();
        if self.cut > 0 {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(&cut_marker(self.cut, max));
        }
        s
    }
}

/// A sanitized copy of a message or stack, cut to the limit.
fn capped_text(s: &str, max: usize) -> String {
    let mut c = Capped::default();
    c.push(s, max);
    c.render(max)
}

/// A test's result, as much of `test_end` as the report needs.
#[derive(Debug)]
struct Outcome {
    status: Status,
    expected: Option<Status>,
    /// The status is one of the listed known intermittent ones.
    known_intermittent: bool,
    message: Option<String>,
    stack: Option<String>,
    /// `extra.timeout`: the limit in seconds.
    timeout: Option<f64>,
    /// `extra.sample`: the stack sample taken before the kill.
    sample: Option<String>,
    /// The earlier attempts of a retried test (`extra.attempts`, `--retries`):
    /// their status and message.
    reruns: Vec<(Status, String)>,
}

/// Subtests (`test_status`) of one test: a count and the unexpected ones.
#[derive(Debug, Default)]
struct Subtests {
    count: u64,
    unexpected: u64,
    detail: Capped,
}

/// One test: what is kept until the document is written.
#[derive(Debug)]
struct Case {
    /// The mozlog test id (`"<binary-id> <libtest name>"`).
    test: String,
    path: Option<String>,
    line: Option<u64>,
    start: Option<u64>,
    end: Option<u64>,
    outcome: Option<Outcome>,
    subtests: Subtests,
    /// `crash` entries about the test.
    crash: Option<String>,
    output: Capped,
}

impl Case {
    fn new(test: String) -> Case {
        Case {
            test,
            path: None,
            line: None,
            start: None,
            end: None,
            outcome: None,
            subtests: Subtests::default(),
            crash: None,
            output: Capped::default(),
        }
    }

    fn started(&self) -> bool {
        self.start.is_some() || self.outcome.is_some()
    }
}

/// One test binary (mozlog group).
#[derive(Debug)]
struct Suite {
    name: String,
    cases: Vec<Case>,
    /// Output of the binary's processes outside any test.
    output: Capped,
}

/// A `log` entry at ERROR or CRITICAL: a harness error, which fails the run
/// as a failing test does (mozlog's `SummaryHandler`).
#[derive(Debug)]
struct HarnessError {
    time: u64,
    level: Level,
    message: String,
    stack: Option<String>,
}

/// Everything the document is made from.
#[derive(Debug, Default)]
struct Record {
    name: Option<String>,
    run_info: Option<Map<String, Value>>,
    suite_started: Option<u64>,
    suite_ended: Option<u64>,
    first_time: Option<u64>,
    last_time: u64,
    suites: Vec<Suite>,
    suite_index: HashMap<String, usize>,
    /// Test id → (suite, case) of its latest run.
    cases: HashMap<String, (usize, usize)>,
    /// Process (pid as written in `process`) → suite, for output outside tests.
    processes: HashMap<String, usize>,
    harness_source: Option<String>,
    harness: Vec<HarnessError>,
}

impl Record {
    fn suite(&mut self, name: &str) -> usize {
        if let Some(&i) = self.suite_index.get(name) {
            return i;
        }
        self.suites.push(Suite {
            name: name.to_string(),
            cases: Vec::new(),
            output: Capped::default(),
        });
        self.suite_index
            .insert(name.to_string(), self.suites.len() - 1);
        self.suites.len() - 1
    }

    /// The suite of a test: its `group`, else the group listing it, else the
    /// run's name.
    fn group_of(&self, test: &str, group: Option<&str>) -> String {
        if let Some(g) = group {
            return g.to_string();
        }
        if let Some(&(s, _)) = self.cases.get(test) {
            return self.suites[s].name.clone();
        }
        self.name.clone().unwrap_or_else(|| "default".to_string())
    }

    /// The case a new run of `test` writes to: the listed (or earlier) one
    /// while it has not started, else a new one (a test run twice is two cases).
    fn case_for_start(&mut self, test: &str, group: Option<&str>) -> (usize, usize) {
        match self.cases.get(test) {
            Some(&(s, c)) if !self.suites[s].cases[c].started() => (s, c),
            _ => self.new_case(test, group),
        }
    }

    /// The case a result goes to: the test's latest one unless it already
    /// has a result (a result without a start, from another producer's log,
    /// is kept as a case without time rather than lost or overwriting one).
    fn case_for_end(&mut self, test: &str, group: Option<&str>) -> (usize, usize) {
        match self.cases.get(test) {
            Some(&(s, c)) if self.suites[s].cases[c].outcome.is_none() => (s, c),
            _ => self.new_case(test, group),
        }
    }

    fn new_case(&mut self, test: &str, group: Option<&str>) -> (usize, usize) {
        let g = self.group_of(test, group);
        let s = self.suite(&g);
        self.suites[s].cases.push(Case::new(test.to_string()));
        let at = (s, self.suites[s].cases.len() - 1);
        self.cases.insert(test.to_string(), at);
        at
    }

    fn case_mut(&mut self, test: &str) -> Option<&mut Case> {
        let &(s, c) = self.cases.get(test)?;
        Some(&mut self.suites[s].cases[c])
    }
}

/// The xunit sink.
pub struct Xunit {
    out: Output,
    opts: XunitOptions,
    rec: Record,
    finished: bool,
}

impl Xunit {
    /// A sink writing the document to `out` when the stream ends.
    pub fn new(out: Output, opts: XunitOptions) -> Xunit {
        Xunit {
            out,
            opts,
            rec: Record::default(),
            finished: false,
        }
    }

    fn text_max(&self) -> usize {
        self.opts.max_output.max(MIN_TEXT)
    }
}

impl Sink for Xunit {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        let max = self.opts.max_output;
        let text_max = self.text_max();
        let rec = &mut self.rec;
        rec.first_time.get_or_insert(e.time);
        rec.last_time = rec.last_time.max(e.time);
        match &e.action {
            Action::SuiteStart(s) => {
                if rec.suite_started.is_none() {
                    rec.suite_started = Some(e.time);
                    rec.name = s.name.clone();
                    rec.run_info = s.run_info.clone();
                }
                rec.suite_ended = None;
                // Listed tests get their place now, so that a test that never
                // runs is written (as not run) and the order is the listing's,
                // stable from run to run whatever the scheduling.
                for (group, tests) in s.tests.groups().iter() {
                    let si = rec.suite(group);
                    for t in tests {
                        if rec.cases.contains_key(t) {
                            continue;
                        }
                        rec.suites[si].cases.push(Case::new(t.clone()));
                        let at = (si, rec.suites[si].cases.len() - 1);
                        rec.cases.insert(t.clone(), at);
                    }
                }
            }
            Action::SuiteEnd(_) => rec.suite_ended = Some(e.time),
            Action::TestStart(t) => {
                let (s, c) = rec.case_for_start(&t.test, t.group.as_deref());
                rec.processes.insert(e.pid.to_string(), s);
                let case = &mut rec.suites[s].cases[c];
                case.start = Some(e.time);
                case.path = t.path.clone();
            }
            Action::TestStatus(st) => {
                if let Some(case) = rec.case_mut(&st.test) {
                    case.subtests.count += 1;
                    let unexpected =
                        st.expected.is_some() && !st.known_intermittent.contains(&st.status);
                    if unexpected {
                        case.subtests.unexpected += 1;
                        let mut line = format!(
                            "{}: {} (expected {})",
                            st.subtest,
                            st.status,
                            st.expected.unwrap_or(st.status)
                        );
                        if let Some(m) = &st.message {
                            line.push_str(" - ");
                            line.push_str(m);
                        }
                        case.subtests.detail.push_line(&line, text_max);
                    }
                }
            }
            Action::TestEnd(end) => {
                let (s, c) = rec.case_for_end(&end.test, end.group.as_deref());
                let case = &mut rec.suites[s].cases[c];
                case.end = Some(e.time);
                case.line = end.extra_u64("line");
                case.outcome = Some(Outcome {
                    status: end.status,
                    expected: end.expected,
                    known_intermittent: end.is_known_intermittent(),
                    message: end.message.as_deref().map(|m| capped_text(m, text_max)),
                    stack: end.stack.as_deref().map(|s| capped_text(s, text_max)),
                    timeout: end
                        .extra
                        .as_ref()
                        .and_then(|x| x.get("timeout"))
                        .and_then(Value::as_f64),
                    sample: end.extra_str("sample").map(|s| capped_text(s, text_max)),
                    reruns: end
                        .extra
                        .as_ref()
                        .and_then(|x| x.get("attempts")?.as_array().cloned())
                        .map(|attempts| {
                            let n = attempts.len().saturating_sub(1);
                            attempts
                                .iter()
                                .take(n)
                                .filter_map(|a| {
                                    let status = Status::parse(a["status"].as_str()?)?;
                                    let message = a["message"].as_str().unwrap_or("");
                                    Some((status, capped_text(message, text_max)))
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
            Action::ProcessOutput(p) => {
                let case = p.test.as_deref().and_then(|t| rec.cases.get(t)).copied();
                match case {
                    Some((s, c)) => rec.suites[s].cases[c].output.push_line(&p.data, max),
                    None => {
                        // Output outside any test belongs to its binary's
                        // suite when its process is known; otherwise only the
                        // raw log has it.
                        if let Some(&s) = rec.processes.get(&p.process) {
                            rec.suites[s].output.push_line(&p.data, max);
                        }
                    }
                }
            }
            Action::Log(l) => {
                // As mozlog's SummaryHandler: errors after suite_start fail the run.
                if rec.suite_started.is_some() && matches!(l.level, Level::Error | Level::Critical)
                {
                    rec.harness_source.get_or_insert_with(|| e.source.clone());
                    rec.harness.push(HarnessError {
                        time: e.time,
                        level: l.level,
                        message: capped_text(&l.message, text_max),
                        stack: l.stack.as_deref().map(|s| capped_text(s, text_max)),
                    });
                }
            }
            Action::Crash(c) => {
                // A crash outside any test is also logged as an error by the
                // runner, and so written as a harness error.
                if let Some(case) = c.test.as_deref().and_then(|t| rec.case_mut(t)) {
                    let mut note = format!("crash signature: {}", c.signature);
                    if let Some(r) = &c.reason {
                        note.push_str(&format!("; {r}"));
                    }
                    if let Some(m) = &c.minidump_path {
                        note.push_str(&format!("; minidump: {m}"));
                    }
                    case.crash = Some(capped_text(&note, text_max));
                }
            }
            Action::ProcessStart(p) => {
                // The runner names a binary's process entries after the binary.
                if let Some(&s) = rec.suite_index.get(&e.thread) {
                    rec.processes.insert(p.process.clone(), s);
                }
            }
            Action::ProcessExit(_)
            | Action::GroupStart(_)
            | Action::GroupEnd(_)
            | Action::AddSubsuite(_)
            | Action::Shutdown
            | Action::Other { .. } => {}
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        write_document(&mut self.out, &self.rec, &self.opts)?;
        self.out.flush()
    }
}

/// What a case is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Omit,
    Pass,
    Skipped,
    Failure,
    Error,
    ExpectedFailure,
    UnexpectedSuccess,
}

/// Why: which rule gave the verdict (it decides the type and message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    Result,
    KnownIntermittent,
    Xfail,
    Xpass,
    Subtests,
    Unfinished,
    NotRun,
}

fn is_pass(s: Status) -> bool {
    matches!(s, Status::Pass | Status::Ok)
}

fn mapped(mode: MapMode, why: Why) -> (Verdict, Why) {
    let verdict = match (mode, why) {
        (MapMode::Success, _) => Verdict::Pass,
        (MapMode::Failure, _) => Verdict::Failure,
        (MapMode::Ignore, _) => Verdict::Omit,
        (MapMode::Passthru, Why::Xpass) => Verdict::UnexpectedSuccess,
        (MapMode::Passthru, _) => Verdict::ExpectedFailure,
    };
    (verdict, why)
}

fn judge(case: &Case, opts: &XunitOptions) -> (Verdict, Why) {
    let Some(o) = &case.outcome else {
        return if case.start.is_some() {
            (Verdict::Error, Why::Unfinished)
        } else {
            (Verdict::Skipped, Why::NotRun)
        };
    };
    let base = if o.expected.is_some() {
        if o.known_intermittent {
            (Verdict::Pass, Why::KnownIntermittent)
        } else if is_pass(o.status) {
            mapped(opts.xpass, Why::Xpass)
        } else {
            match o.status {
                Status::Error | Status::Crash => (Verdict::Error, Why::Result),
                Status::Fail
                | Status::Timeout
                | Status::Assert
                | Status::PreconditionFailed
                | Status::Notrun
                | Status::Skip
                | Status::Pass
                | Status::Ok => (Verdict::Failure, Why::Result),
            }
        }
    } else {
        match o.status {
            Status::Pass | Status::Ok => (Verdict::Pass, Why::Result),
            Status::Skip | Status::Notrun => (Verdict::Skipped, Why::Result),
            Status::Fail
            | Status::Error
            | Status::Timeout
            | Status::Crash
            | Status::Assert
            | Status::PreconditionFailed => mapped(opts.xfail, Why::Xfail),
        }
    };
    if base.0 == Verdict::Pass && case.subtests.unexpected > 0 {
        (Verdict::Failure, Why::Subtests)
    } else {
        base
    }
}

/// `classname` and `name` of a test: the binary id plus the module path,
/// and the function.
fn split_name(test: &str, group: &str) -> (String, String) {
    let libtest = test
        .strip_prefix(group)
        .and_then(|rest| rest.strip_prefix(' '))
        .unwrap_or(test);
    // Only a Rust path is split: a doctest's name (`src/lib.rs - a::b (line 5)`)
    // stays whole.
    if !libtest.contains(char::is_whitespace) {
        if let Some((module, function)) = libtest.rsplit_once("::") {
            if !module.is_empty() && !function.is_empty() {
                return (format!("{group}::{module}"), function.to_string());
            }
        }
    }
    (group.to_string(), libtest.to_string())
}

/// The cargo package of a binary id (`alpha::it_one` → `alpha`).
fn package_of(binary: &str) -> &str {
    binary.split("::").next().unwrap_or(binary)
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Milliseconds since the epoch as an ISO 8601 UTC time without a zone
/// (`2023-11-14T22:13:20`), the form the Ant schema requires.
fn iso_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    if y > 9999 {
        return "9999-12-31T23:59:59".to_string();
    }
    let sod = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// A JSON value as a property value.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A name for an attribute that must not be empty (`xs:token`, minLength 1).
fn non_empty(s: &str, fallback: &str) -> String {
    let clean = sanitize(s);
    if clean.trim().is_empty() {
        fallback.to_string()
    } else {
        clean.into_owned()
    }
}

/// A written case: the attributes and children, all text sanitized.
struct Rendered {
    /// The mozlog test id, for the Ant flavor's output headings.
    test: String,
    classname: String,
    name: String,
    time: String,
    file: Option<String>,
    line: Option<u64>,
    /// The result element: (tag, type, message, body).
    result: Option<(&'static str, String, String, String)>,
    /// Earlier attempts of a retried test: `flakyFailure`/`flakyError` when
    /// it passed in the end, `rerunFailure`/`rerunError` when it did not
    /// (Maven Surefire's elements, in junit-10.xsd): (tag, type, message).
    reruns: Vec<(&'static str, String, String)>,
    /// Notes and output, for `<system-out>`.
    out: String,
}

fn join_lines<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    parts
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_case(
    case: &Case,
    group: &str,
    verdict: Verdict,
    why: Why,
    last_time: u64,
    opts: &XunitOptions,
) -> Rendered {
    let (classname, name) = split_name(&case.test, group);
    let elapsed = match (case.start, case.end) {
        (Some(s), Some(e)) => e.saturating_sub(s),
        (Some(s), None) => last_time.saturating_sub(s),
        (None, _) => 0,
    };
    let o = case.outcome.as_ref();
    let message = o.and_then(|o| o.message.as_deref());
    let stack = o.and_then(|o| o.stack.as_deref());
    let status_text = |o: &Outcome| match o.expected {
        Some(exp) => format!("{}, expected {exp}", o.status),
        None => o.status.to_string(),
    };
    // The limit and the sample as lines of their own, unless the message
    // (the runner's "timed out after 5 s ...; stacks sampled ...") has them.
    let timeout_lines = |o: &Outcome, msg: &str| {
        let mut lines = Vec::new();
        if let Some(t) = o.timeout {
            lines.push(format!("time limit: {t} s"));
        }
        if let Some(s) = o.sample.as_deref().filter(|s| !msg.contains(*s)) {
            lines.push(format!("stacks sampled before the kill: {s}"));
        }
        lines.join("\n")
    };
    let subtests = (case.subtests.unexpected > 0).then(|| {
        format!(
            "unexpected subtest results:\n{}",
            case.subtests.detail.render(opts.max_output.max(MIN_TEXT))
        )
    });
    let mut notes: Vec<String> = Vec::new();
    let result = match (verdict, why) {
        (Verdict::Omit | Verdict::Pass, _) => {
            if let Some(o) = o {
                match why {
                    Why::KnownIntermittent => notes.push(format!(
                        "known intermittent: {}{}",
                        status_text(o),
                        message.map(|m| format!(" - {m}")).unwrap_or_default()
                    )),
                    Why::Xpass => notes.push(format!(
                        "unexpected success (written as a pass: --log-xunit-xpass success){}",
                        message.map(|m| format!(" - {m}")).unwrap_or_default()
                    )),
                    Why::Result | Why::Xfail | Why::Subtests | Why::Unfinished | Why::NotRun => {}
                }
            }
            None
        }
        (Verdict::Skipped, Why::NotRun) => Some((
            "skipped",
            String::new(),
            "not run: listed in suite_start, but the log has no result for it".to_string(),
            String::new(),
        )),
        (Verdict::Skipped, _) => Some((
            "skipped",
            String::new(),
            message.unwrap_or_default().to_string(),
            String::new(),
        )),
        (Verdict::Error, Why::Unfinished) => Some((
            "error",
            "incomplete".to_string(),
            "did not finish: the log ends before its result".to_string(),
            String::new(),
        )),
        (Verdict::Failure, Why::Subtests) => Some((
            "failure",
            "subtest".to_string(),
            format!(
                "{} of {} subtests had unexpected results",
                case.subtests.unexpected, case.subtests.count
            ),
            subtests.clone().unwrap_or_default(),
        )),
        (Verdict::Failure, Why::Xfail) => {
            let o = o.expect("an expected failure has a result");
            Some((
                "failure",
                "expected_failure".to_string(),
                format!(
                    "expected failure ({}){}",
                    o.status,
                    message.map(|m| format!(": {m}")).unwrap_or_default()
                ),
                join_lines([message, stack, subtests.as_deref()]),
            ))
        }
        (Verdict::Failure, Why::Xpass) => Some((
            "failure",
            "unexpected_success".to_string(),
            "unexpected success".to_string(),
            join_lines([message, subtests.as_deref()]),
        )),
        (Verdict::Failure | Verdict::Error, _) => {
            let o = o.expect("a failure has a result");
            let tag = if verdict == Verdict::Error {
                "error"
            } else {
                "failure"
            };
            let msg = match (message, o.status, o.timeout) {
                (Some(m), _, _) => m.to_string(),
                (None, Status::Timeout, Some(t)) => format!("timed out after {t} s"),
                (None, _, _) => status_text(o),
            };
            let timeout = timeout_lines(o, &msg);
            Some((
                tag,
                o.status.lower().to_string(),
                msg.clone(),
                join_lines([
                    Some(msg.as_str()),
                    stack,
                    Some(timeout.as_str()),
                    case.crash.as_deref(),
                    subtests.as_deref(),
                ]),
            ))
        }
        (Verdict::ExpectedFailure, _) => {
            let o = o.expect("an expected failure has a result");
            Some((
                "expected-failure",
                o.status.lower().to_string(),
                message.unwrap_or_default().to_string(),
                String::new(),
            ))
        }
        (Verdict::UnexpectedSuccess, _) => Some((
            "unexpected-success",
            String::new(),
            message.unwrap_or_default().to_string(),
            String::new(),
        )),
    };
    let passed = matches!(verdict, Verdict::Omit | Verdict::Pass);
    let reruns: Vec<(&'static str, String, String)> = o
        .map(|o| {
            o.reruns
                .iter()
                .filter(|(status, _)| !matches!(status, Status::Pass | Status::Ok | Status::Skip))
                .map(|(status, message)| {
                    let error = matches!(status, Status::Error | Status::Crash);
                    let tag = match (passed, error) {
                        (true, false) => "flakyFailure",
                        (true, true) => "flakyError",
                        (false, false) => "rerunFailure",
                        (false, true) => "rerunError",
                    };
                    (
                        tag,
                        status.lower().to_string(),
                        non_empty(message, status.as_str()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(o) = o {
        let total = o.reruns.len() + 1;
        for (n, (status, message)) in o.reruns.iter().enumerate() {
            notes.push(format!(
                "attempt {} of {total}: {status}{}",
                n + 1,
                if message.is_empty() {
                    String::new()
                } else {
                    format!(" - {message}")
                }
            ));
        }
    }
    let mut out = notes.join("\n");
    if !case.output.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&case.output.render(opts.max_output));
    }
    Rendered {
        test: sanitize(&case.test).into_owned(),
        classname: sanitize(&classname).into_owned(),
        name: sanitize(&name).into_owned(),
        time: millis_as_secs(elapsed),
        file: case.path.as_deref().map(|p| sanitize(p).into_owned()),
        line: case.line,
        result,
        reruns,
        out,
    }
}

/// A suite ready to write: its cases and counts.
struct SuiteOut {
    name: String,
    package: String,
    cases: Vec<(Rendered, Verdict)>,
    /// Output outside any test.
    extra_out: String,
    timestamp: u64,
    time: u64,
    tests: u64,
    failures: u64,
    errors: u64,
    skipped: u64,
    xfail: u64,
    xpass: u64,
}

impl SuiteOut {
    fn new(name: String, package: String, timestamp: u64) -> SuiteOut {
        SuiteOut {
            name,
            package,
            cases: Vec::new(),
            extra_out: String::new(),
            timestamp,
            time: 0,
            tests: 0,
            failures: 0,
            errors: 0,
            skipped: 0,
            xfail: 0,
            xpass: 0,
        }
    }

    fn add(&mut self, r: Rendered, v: Verdict) {
        match v {
            Verdict::Omit => return,
            Verdict::Pass => {}
            Verdict::Skipped => self.skipped += 1,
            Verdict::Failure => self.failures += 1,
            Verdict::Error => self.errors += 1,
            Verdict::ExpectedFailure => self.xfail += 1,
            Verdict::UnexpectedSuccess => self.xpass += 1,
        }
        self.tests += 1;
        self.cases.push((r, v));
    }
}

fn plan(rec: &Record, opts: &XunitOptions) -> Vec<SuiteOut> {
    let start = rec.suite_started.or(rec.first_time).unwrap_or(0);
    let mut out = Vec::new();
    for suite in &rec.suites {
        let first = suite.cases.iter().filter_map(|c| c.start).min();
        let last = suite
            .cases
            .iter()
            .filter_map(|c| c.end.or(c.start.map(|_| rec.last_time)))
            .max();
        let name = non_empty(&suite.name, "default");
        let package = non_empty(package_of(&suite.name), &name);
        let mut s = SuiteOut::new(name, package, first.unwrap_or(start));
        if let (Some(f), Some(l)) = (first, last) {
            s.time = l.saturating_sub(f);
        }
        for case in &suite.cases {
            let (verdict, why) = judge(case, opts);
            if verdict == Verdict::Omit {
                continue;
            }
            let r = render_case(case, &suite.name, verdict, why, rec.last_time, opts);
            s.add(r, verdict);
        }
        if !suite.output.is_empty() {
            s.extra_out = suite.output.render(opts.max_output);
        }
        out.push(s);
    }
    if !rec.harness.is_empty() {
        let source = rec.harness_source.as_deref().unwrap_or_default();
        let name = non_empty(source, "harness");
        let mut s = SuiteOut::new(name.clone(), name.clone(), rec.harness[0].time);
        for h in &rec.harness {
            let first_line = h.message.lines().find(|l| !l.trim().is_empty());
            let mut case_name: String = first_line.unwrap_or("harness error").to_string();
            if case_name.len() > 200 {
                let mut end = 200;
                while !case_name.is_char_boundary(end) {
                    end -= 1;
                }
                case_name.truncate(end);
                case_name.push_str("...");
            }
            let r = Rendered {
                test: case_name.clone(),
                classname: name.clone(),
                name: case_name,
                time: millis_as_secs(0),
                file: None,
                line: None,
                result: Some((
                    "error",
                    h.level.as_str().to_ascii_lowercase(),
                    h.message.clone(),
                    join_lines([Some(h.message.as_str()), h.stack.as_deref()]),
                )),
                reruns: Vec::new(),
                out: String::new(),
            };
            s.add(r, Verdict::Error);
        }
        out.push(s);
    }
    out
}

fn start_tag<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
    let mut start = BytesStart::new(name);
    for (k, v) in attrs {
        start.push_attribute((*k, *v));
    }
    start
}

/// An element holding text (empty when there is none).
fn text_element<W: Write>(
    w: &mut Writer<W>,
    name: &str,
    attrs: &[(&str, &str)],
    text: &str,
) -> io::Result<()> {
    let start = start_tag(name, attrs);
    if text.is_empty() {
        return w.write_event(Event::Empty(start));
    }
    w.write_event(Event::Start(start))?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn write_properties<W: Write>(
    w: &mut Writer<W>,
    run_info: Option<&Map<String, Value>>,
) -> io::Result<()> {
    let props: Vec<(String, String)> = run_info
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let k = sanitize(k);
            // The Ant schema wants a non-empty token as the name.
            (!k.trim().is_empty()).then(|| (k.into_owned(), sanitize(&value_text(v)).into_owned()))
        })
        .collect();
    if props.is_empty() {
        return w.write_event(Event::Empty(BytesStart::new("properties")));
    }
    w.write_event(Event::Start(BytesStart::new("properties")))?;
    for (k, v) in &props {
        w.write_event(Event::Empty(start_tag(
            "property",
            &[("name", k), ("value", v)],
        )))?;
    }
    w.write_event(Event::End(BytesEnd::new("properties")))
}

fn write_case<W: Write>(w: &mut Writer<W>, r: &Rendered, flavor: Flavor) -> io::Result<()> {
    let line = r.line.map(|l| l.to_string());
    let mut attrs: Vec<(&str, &str)> = vec![
        ("name", &r.name),
        ("classname", &r.classname),
        ("time", &r.time),
    ];
    if flavor == Flavor::Extended {
        if let Some(f) = &r.file {
            attrs.push(("file", f));
        }
        if let Some(l) = &line {
            attrs.push(("line", l));
        }
    }
    // The Ant schema allows no output inside a testcase: it goes to the suite.
    let out = if flavor == Flavor::Ant {
        ""
    } else {
        r.out.as_str()
    };
    // The Ant schema allows one result element per case: attempts are only
    // in the output notes there.
    let reruns: &[(&str, String, String)] = if flavor == Flavor::Ant {
        &[]
    } else {
        &r.reruns
    };
    if r.result.is_none() && out.is_empty() && reruns.is_empty() {
        return w.write_event(Event::Empty(start_tag("testcase", &attrs)));
    }
    w.write_event(Event::Start(start_tag("testcase", &attrs)))?;
    if let Some((tag, kind, message, body)) = &r.result {
        let mut attrs: Vec<(&str, &str)> = Vec::new();
        if !kind.is_empty() {
            attrs.push(("type", kind));
        }
        if !message.is_empty() {
            attrs.push(("message", message));
        }
        text_element(w, tag, &attrs, body)?;
    }
    for (tag, kind, message) in reruns {
        w.write_event(Event::Empty(start_tag(
            tag,
            &[("type", kind), ("message", message)],
        )))?;
    }
    if !out.is_empty() {
        text_element(w, "system-out", &[], out)?;
    }
    w.write_event(Event::End(BytesEnd::new("testcase")))
}

/// The suite's `<system-out>` in the Ant flavor: each test's output under a
/// heading, then the output outside tests.
fn ant_suite_output(s: &SuiteOut) -> String {
    let mut text = String::new();
    for (r, _) in &s.cases {
        if r.out.is_empty() {
            continue;
        }
        text.push_str(&format!("---- {} ----\n{}\n", r.test, r.out));
    }
    if !s.extra_out.is_empty() {
        if !text.is_empty() {
            text.push_str("---- outside any test ----\n");
        }
        text.push_str(&s.extra_out);
    }
    text.trim_end_matches('\n').to_string()
}

fn write_document(out: &mut Output, rec: &Record, opts: &XunitOptions) -> io::Result<()> {
    let suites = plan(rec, opts);
    let flavor = opts.flavor;
    let passthru = opts.xfail == MapMode::Passthru || opts.xpass == MapMode::Passthru;
    let hostname = rec
        .run_info
        .as_ref()
        .and_then(|r| r.get("hostname"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    // The Ant schema's advice when the host is unknown.
    let hostname = non_empty(hostname, "localhost");

    let mut w = Writer::new_with_indent(&mut *out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("testsuites");
    if flavor != Flavor::Ant {
        // The Ant schema allows no attributes on testsuites.
        if let Some(n) = &rec.name {
            root.push_attribute(("name", sanitize(n).as_ref()));
        }
        let sum = |f: fn(&SuiteOut) -> u64| suites.iter().map(f).sum::<u64>().to_string();
        root.push_attribute(("tests", sum(|s| s.tests).as_str()));
        root.push_attribute(("failures", sum(|s| s.failures).as_str()));
        root.push_attribute(("errors", sum(|s| s.errors).as_str()));
        let begin = rec.suite_started.or(rec.first_time).unwrap_or(0);
        let end = rec.suite_ended.unwrap_or(rec.last_time);
        root.push_attribute(("time", millis_as_secs(end.saturating_sub(begin)).as_str()));
    }
    if suites.is_empty() {
        w.write_event(Event::Empty(root))?;
        return out.write_all(b"\n");
    }
    w.write_event(Event::Start(root))?;
    for (id, s) in suites.iter().enumerate() {
        let counts = [
            s.tests.to_string(),
            s.failures.to_string(),
            s.errors.to_string(),
            s.skipped.to_string(),
            millis_as_secs(s.time),
            iso_time(s.timestamp),
            id.to_string(),
            s.xfail.to_string(),
            s.xpass.to_string(),
        ];
        let mut attrs: Vec<(&str, &str)> = vec![
            ("name", &s.name),
            ("tests", &counts[0]),
            ("failures", &counts[1]),
            ("errors", &counts[2]),
            ("skipped", &counts[3]),
            ("time", &counts[4]),
            ("timestamp", &counts[5]),
            ("hostname", &hostname),
        ];
        if flavor == Flavor::Ant {
            attrs.push(("package", &s.package));
            attrs.push(("id", &counts[6]));
        }
        if passthru {
            // As LLDB's formatter: counts no schema knows.
            attrs.push(("expected-failures", &counts[7]));
            attrs.push(("unexpected-successes", &counts[8]));
        }
        w.write_event(Event::Start(start_tag("testsuite", &attrs)))?;
        write_properties(&mut w, rec.run_info.as_ref())?;
        for (r, _) in &s.cases {
            write_case(&mut w, r, flavor)?;
        }
        if flavor == Flavor::Ant {
            text_element(&mut w, "system-out", &[], &ant_suite_output(s))?;
            w.write_event(Event::Empty(BytesStart::new("system-err")))?;
        } else if !s.extra_out.is_empty() {
            text_element(&mut w, "system-out", &[], &s.extra_out)?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, ProcessOutput};
    use crate::sink::testing::{render, stream, BIG_OUTPUT_PLACEHOLDER};
    use quick_xml::Reader;

    #[test]
    fn retried_tests_have_flaky_and_rerun_elements() {
        let entries = stream("retries", false);
        let doc = render(&entries, |o| Xunit::new(o, XunitOptions::default()));
        assert_well_formed(&doc);
        assert!(
            doc.contains(r#"<flakyFailure type="fail" message="first attempt fails"/>"#),
            "{doc}"
        );
        assert!(
            doc.contains(r#"<rerunFailure type="fail" message="assertion failed"/>"#),
            "{doc}"
        );
        assert!(
            doc.contains(r#"failures="1""#),
            "only the test that failed every attempt fails: {doc}"
        );
        insta::assert_snapshot!(doc);
        // One result element per case in the Ant flavor: attempts are notes.
        let ant = render(&entries, |o| {
            Xunit::new(o, opts(Flavor::Ant, MapMode::Success, MapMode::Failure))
        });
        assert!(
            !ant.contains("flakyFailure")
                && ant.contains("attempt 1 of 2: FAIL - first attempt fails")
        );
    }

    fn opts(flavor: Flavor, xfail: MapMode, xpass: MapMode) -> XunitOptions {
        XunitOptions {
            flavor,
            xfail,
            xpass,
            ..XunitOptions::default()
        }
    }

    /// Parses a document back and fails unless it is well-formed: one root,
    /// every element closed in order, every attribute and reference valid,
    /// no character XML 1.0 forbids.
    fn assert_well_formed(doc: &str) {
        if let Some(bad) = doc.chars().find(|&c| !is_xml_char(c)) {
            panic!("character {bad:?} is not allowed in XML 1.0");
        }
        let mut reader = Reader::from_str(doc);
        reader.config_mut().check_end_names = true;
        let (mut depth, mut roots) = (0usize, 0usize);
        loop {
            match reader.read_event() {
                Ok(Event::Start(s)) => {
                    roots += usize::from(depth == 0);
                    depth += 1;
                    for a in s.attributes() {
                        a.expect("attribute")
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .expect("attribute value");
                    }
                }
                Ok(Event::Empty(s)) => {
                    roots += usize::from(depth == 0);
                    for a in s.attributes() {
                        a.expect("attribute")
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .expect("attribute value");
                    }
                }
                Ok(Event::End(_)) => depth -= 1,
                Ok(Event::GeneralRef(r)) => {
                    if r.is_char_ref() {
                        let c = r.resolve_char_ref().expect("character reference");
                        assert!(c.is_some_and(is_xml_char), "bad character reference {r:?}");
                    } else {
                        let name = r.into_inner();
                        assert!(
                            ["lt", "gt", "amp", "apos", "quot"].contains(&&*name),
                            "unknown entity {name}"
                        );
                    }
                }
                Ok(Event::CData(_)) => panic!("no CDATA is written"),
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!(
                    "not well-formed at {}: {e}\n{doc}",
                    reader.buffer_position()
                ),
            }
        }
        assert_eq!((depth, roots), (0, 1), "one root, every element closed");
    }

    fn xml_of(entries: &[Entry], o: XunitOptions) -> String {
        let doc = render(entries, |w| Xunit::new(w, o));
        assert_well_formed(&doc);
        doc
    }

    fn xml(name: &str, o: XunitOptions) -> String {
        xml_of(&stream(name, false), o)
    }

    /// The `<testsuite name="...">` element of a document, whole.
    fn suite_of<'a>(doc: &'a str, name: &str) -> &'a str {
        let start = doc
            .find(&format!("<testsuite name=\"{name}\""))
            .unwrap_or_else(|| panic!("no suite {name} in\n{doc}"));
        let end = doc[start..].find("</testsuite>").expect("suite closed") + start;
        &doc[start..end + "</testsuite>".len()]
    }

    /// The start tag of a suite.
    fn suite_tag<'a>(doc: &'a str, name: &str) -> &'a str {
        let s = suite_of(doc, name);
        &s[..s.find('>').unwrap() + 1]
    }

    #[test]
    fn statuses_in_each_flavor() {
        let d = MapMode::Success;
        let f = MapMode::Failure;
        insta::assert_snapshot!(
            "statuses_jenkins",
            xml("statuses", opts(Flavor::Jenkins, d, f))
        );
        insta::assert_snapshot!("statuses_ant", xml("statuses", opts(Flavor::Ant, d, f)));
        insta::assert_snapshot!(
            "statuses_extended",
            xml("statuses", opts(Flavor::Extended, d, f))
        );
    }

    #[test]
    fn defaults_are_jenkins_xfail_success_xpass_failure() {
        let o = XunitOptions::default();
        assert_eq!(
            (o.flavor, o.xfail, o.xpass, o.max_output),
            (Flavor::Jenkins, MapMode::Success, MapMode::Failure, 65536)
        );
    }

    #[test]
    fn counts_agree_with_the_stream() {
        let doc = xml("statuses", XunitOptions::default());
        // demo: 11 tests; fails and with_subtests fail, hangs (timeout) and
        // should_panic_no_panic (xpass) fail; should_panic_wrong_message and
        // crashes are errors; two skips; flaky is a known intermittent.
        assert!(suite_tag(&doc, "demo").contains(
            r#"tests="11" failures="4" errors="2" skipped="2" time="0.245" timestamp="2023-11-14T22:13:20" hostname="ci-host""#
        ));
        assert!(suite_tag(&doc, "demo::it")
            .contains(r#"tests="3" failures="2" errors="0" skipped="0""#));
        // The two ERROR/CRITICAL log entries fail the run: a harness suite.
        assert!(suite_tag(&doc, "cargo-structlog").contains(r#"tests="2" failures="0" errors="2""#));
        assert!(doc.contains(
            r#"<testsuites name="demo" tests="16" failures="6" errors="4" time="0.364">"#
        ));
    }

    #[test]
    fn statuses_in_each_mapmode() {
        for (mode, name) in [
            (MapMode::Success, "mapmode_success"),
            (MapMode::Failure, "mapmode_failure"),
            (MapMode::Ignore, "mapmode_ignore"),
            (MapMode::Passthru, "mapmode_passthru"),
        ] {
            let doc = xml("statuses", opts(Flavor::Jenkins, mode, mode));
            let tag = suite_tag(&doc, "demo").to_string();
            let panics = doc.contains(r#"name="should_panic_panics""#);
            let no_panic = doc.contains(r#"name="should_panic_no_panic""#);
            match mode {
                MapMode::Success => {
                    assert!(
                        tag.contains(r#"tests="11" failures="3" errors="2""#),
                        "{tag}"
                    );
                    assert!(panics && no_panic);
                }
                MapMode::Failure => {
                    assert!(
                        tag.contains(r#"tests="11" failures="5" errors="2""#),
                        "{tag}"
                    );
                    assert!(doc.contains(
                        r#"<failure type="unexpected_success" message="unexpected success">"#
                    ));
                    assert!(doc.contains(r#"<failure type="expected_failure""#));
                }
                MapMode::Ignore => {
                    assert!(
                        tag.contains(r#"tests="9" failures="3" errors="2""#),
                        "{tag}"
                    );
                    assert!(!panics && !no_panic);
                }
                MapMode::Passthru => {
                    assert!(
                        tag.contains(r#"tests="11" failures="3" errors="2""#),
                        "{tag}"
                    );
                    assert!(
                        tag.contains(r#"expected-failures="1" unexpected-successes="1""#),
                        "{tag}"
                    );
                    assert!(doc.contains(
                        "<expected-failure type=\"fail\" message=\"division by zero\"/>"
                    ));
                    assert!(doc.contains("<unexpected-success message="));
                }
            }
            insta::assert_snapshot!(name, doc);
        }
    }

    #[test]
    fn xfail_and_xpass_are_mapped_independently() {
        let doc = xml(
            "statuses",
            opts(Flavor::Jenkins, MapMode::Ignore, MapMode::Passthru),
        );
        assert!(!doc.contains(r#"name="should_panic_panics""#));
        assert!(doc.contains("<unexpected-success "));
        assert!(!doc.contains("<expected-failure "));
        assert!(
            suite_tag(&doc, "demo").contains(r#"tests="10" failures="3" errors="2" skipped="2""#)
        );
    }

    #[test]
    fn incomplete_build_failed_and_empty_runs() {
        for flavor in [Flavor::Jenkins, Flavor::Ant] {
            let o = opts(flavor, MapMode::Success, MapMode::Failure);
            let f = if flavor == Flavor::Ant {
                "ant"
            } else {
                "jenkins"
            };
            let incomplete = xml("incomplete", o.clone());
            assert!(incomplete.contains(
                r#"<error type="incomplete" message="did not finish: the log ends before its result"/>"#
            ));
            assert!(incomplete.trim_end().ends_with("</testsuites>"));
            insta::assert_snapshot!(format!("incomplete_{f}"), incomplete);
            let failed = xml("build-failed", o.clone());
            assert!(suite_tag(&failed, "cargo-structlog")
                .contains(r#"tests="1" failures="0" errors="1""#));
            insta::assert_snapshot!(format!("build_failed_{f}"), failed);
            let empty = xml("empty", o.clone());
            assert!(suite_tag(&empty, "demo").contains(r#"tests="0" failures="0" errors="0""#));
            insta::assert_snapshot!(format!("empty_{f}"), empty);
        }
    }

    #[test]
    fn no_entries_at_all_is_still_a_document() {
        let doc = xml_of(&[], XunitOptions::default());
        assert!(
            doc.contains(r#"<testsuites tests="0" failures="0" errors="0" time="0.000"/>"#),
            "{doc}"
        );
        let ant = xml_of(&[], opts(Flavor::Ant, MapMode::Success, MapMode::Failure));
        assert!(ant.contains("<testsuites/>"), "{ant}");
    }

    /// statuses.jsonl with its megabyte of output, plus a line of invalid
    /// UTF-8 as the runner reads it (U+FFFD in place of each bad byte).
    fn hostile_stream() -> Vec<Entry> {
        let mut entries = stream("statuses", true);
        let at = entries
            .iter()
            .position(
                |e| matches!(&e.action, Action::TestEnd(t) if t.test == "demo::it hostile_text"),
            )
            .unwrap();
        let origin = Origin {
            thread: "demo::it hostile_text".into(),
            pid: 5001,
            source: "cargo-structlog".into(),
        };
        let lossy = String::from_utf8_lossy(b"raw \xff\xfe bytes, a tab:\t, a CR:\r.").into_owned();
        entries.insert(
            at,
            origin.entry(
                1700000000340,
                Action::ProcessOutput(ProcessOutput {
                    process: "5001".into(),
                    data: lossy,
                    command: None,
                    test: Some("demo::it hostile_text".into()),
                    subsuite: None,
                }),
            ),
        );
        entries
    }

    #[test]
    fn hostile_text_and_a_megabyte_of_output() {
        let entries = hostile_stream();
        let small = XunitOptions {
            max_output: 100,
            ..XunitOptions::default()
        };
        let doc = xml_of(&entries, small.clone());
        // Text round-trips through a parser: `]]>` and quotes are escaped, the
        // NUL, BEL, VT and ESC are gone, U+FFFD stays.
        assert!(doc.contains("]]&gt; &quot;&lt;&amp;&gt;&apos;"));
        assert!(doc.contains("red and nul bell vt"));
        assert!(doc.contains("raw \u{fffd}\u{fffd} bytes, a tab:\t, a CR:&#13;."));
        assert!(!doc.contains("\u{1b}") && !doc.contains('\0'));
        assert!(doc.contains(
            "[... 1048477 bytes of output cut by cargo-structlog: --log-xunit-max-output 100 ...]"
        ));
        insta::assert_snapshot!("hostile_text", suite_of(&doc, "demo::it"));
        let ant = xml_of(
            &entries,
            XunitOptions {
                flavor: Flavor::Ant,
                ..small
            },
        );
        assert!(
            suite_of(&ant, "demo::it").contains("---- demo::it big_output ----\n0123456789abcdef")
        );

        // With the default limit: 64 KiB kept of the 1 MiB (plus its newline).
        let doc = xml_of(&entries, XunitOptions::default());
        let cut = 1024 * 1024 + 1 - 65536;
        assert!(doc.contains(&format!(
            "[... {cut} bytes of output cut by cargo-structlog: --log-xunit-max-output 65536 ...]"
        )));
        assert!(doc.len() < 65536 + 40_000, "{} bytes", doc.len());
        assert!(!doc.contains(BIG_OUTPUT_PLACEHOLDER));
    }

    #[test]
    fn output_is_cut_on_a_char_boundary() {
        let mut c = Capped::default();
        c.push_line("ab日本", 4); // 'a' 'b' then a 3-byte char that does not fit
        c.push_line("more", 4);
        assert_eq!(c.text, "ab");
        assert_eq!(c.cut, 6 + 1 + 4 + 1);
        assert_eq!(
            c.render(4),
            "ab\n[... 12 bytes of output cut by cargo-structlog: --log-xunit-max-output 4 ...]"
        );
        let mut none = Capped::default();
        none.push_line("x", 0);
        assert_eq!(none.text, "");
        assert_eq!(none.cut, 2);
    }

    #[test]
    fn text_is_sanitized() {
        assert_eq!(
            sanitize(
                "\u{1b}[31mred\u{1b}[0m\0\u{7}\u{b}\u{c}\u{fffe}\u{ffff}\t\n\r ok ]]> \u{10000}"
            ),
            "red\t\n\r ok ]]> \u{10000}"
        );
        assert!(matches!(sanitize("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn names_split_on_the_module_path() {
        let s = |t, g| split_name(t, g);
        assert_eq!(
            s("alpha::it_one tests::adds", "alpha::it_one"),
            ("alpha::it_one::tests".into(), "adds".into())
        );
        assert_eq!(
            s("alpha::it_one adds", "alpha::it_one"),
            ("alpha::it_one".into(), "adds".into())
        );
        assert_eq!(
            s("alpha::doc src/lib.rs - a::b (line 5)", "alpha::doc"),
            ("alpha::doc".into(), "src/lib.rs - a::b (line 5)".into())
        );
        assert_eq!(
            s("a tests::deep::x", "a"),
            ("a::tests::deep".into(), "x".into())
        );
        // Another producer's id, not prefixed by its group.
        assert_eq!(
            s("/dom/a.html", "default"),
            ("default".into(), "/dom/a.html".into())
        );
        assert_eq!(package_of("alpha::it_one"), "alpha");
    }

    #[test]
    fn timestamps_are_utc_without_zone() {
        assert_eq!(iso_time(1_700_000_000_007), "2023-11-14T22:13:20");
        assert_eq!(iso_time(0), "1970-01-01T00:00:00");
        assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00");
        assert_eq!(iso_time(1_709_251_199_000), "2024-02-29T23:59:59");
        assert_eq!(iso_time(u64::MAX), "9999-12-31T23:59:59");
    }

    #[test]
    fn reruns_results_without_start_and_ungrouped_tests_are_kept() {
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        let start = |t: u64| {
            o.entry(
                t,
                Action::TestStart(crate::model::TestStart {
                    test: "b x".into(),
                    path: None,
                    subsuite: None,
                    group: Some("b".into()),
                }),
            )
        };
        let end = |t: u64, status| {
            let mut e = crate::model::TestEnd::new("b x", status);
            e.group = Some("b".into());
            if status != Status::Pass {
                e.set_expected(Status::Pass);
            }
            o.entry(t, Action::TestEnd(e))
        };
        let entries = vec![
            start(1000),
            end(1500, Status::Fail),
            start(2000),
            end(2250, Status::Pass),
            end(3000, Status::Pass),
            o.entry(
                3500,
                Action::TestStart(crate::model::TestStart {
                    test: "loose".into(),
                    path: None,
                    subsuite: None,
                    group: None,
                }),
            ),
            o.entry(4500, Action::Shutdown),
        ];
        let doc = xml_of(&entries, XunitOptions::default());
        let suite = suite_of(&doc, "b");
        assert!(suite.contains(r#"tests="3" failures="1""#), "{suite}");
        let times: Vec<&str> = suite
            .lines()
            .filter(|l| l.contains("<testcase "))
            .map(|l| {
                l.split("time=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(times, ["0.500", "0.250", "0.000"], "{suite}");
        // A test without group, listing or run name, that never ends.
        assert!(
            suite_of(&doc, "default").contains(r#"tests="1" failures="0" errors="1""#),
            "{doc}"
        );
        assert!(doc.contains(r#"<testcase name="loose" classname="default" time="1.000">"#));
    }

    #[test]
    fn a_timeout_names_its_limit_and_sample() {
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        let mut end = crate::model::TestEnd::new("b hangs", Status::Timeout);
        end.set_expected(Status::Pass);
        let mut extra = Map::new();
        extra.insert("timeout".into(), Value::from(2.5));
        extra.insert("sample".into(), Value::from("/tmp/b-hangs.sample"));
        end.extra = Some(extra);
        end.group = Some("b".into());
        let doc = xml_of(
            &[o.entry(10, Action::TestEnd(end))],
            XunitOptions::default(),
        );
        assert!(
            doc.contains(
                "<failure type=\"timeout\" message=\"timed out after 2.5 s\">timed out after 2.5 s\n\
                 time limit: 2.5 s\nstacks sampled before the kill: /tmp/b-hangs.sample</failure>"
            ),
            "{doc}"
        );
    }
}
