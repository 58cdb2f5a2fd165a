//! `mach`: mozlog's human-readable format.
//!
//! Follows mozlog's `MachFormatter` line for line: an elapsed-time prefix
//! (`" 0:01.23"`, from the first entry's time, so a replayed log reads as the
//! live run did), `SUITE_START`, `TEST_START`, `TEST_END: FAIL, expected PASS -
//! message`, `TEST_END: SKIP (reason)`, `pid:N` output lines, log lines, and
//! at `suite_end` the summary and the Error Summary of every unexpected
//! result.
//!
//! One difference by design: unless verbose, a test's lines are held until
//! its result, so that its `TEST_START` and `TEST_END` stand together even
//! when tests run in parallel, and its captured output is printed only when
//! the result is unexpected: a passing test takes two short lines. Process
//! starts and normal exits are shown in verbose mode only. Verbose mode
//! prints everything as it comes, as mozlog does.

use super::slowest::{self, Slowest};
use super::{Output, Sink};
use crate::model::summary::{Counts, Noted, Summary};
use crate::model::{Action, Crash, Entry, Log, Status, TestEnd, TestStatus};
use crate::text::{exit_status_text, safe_text, Ansi};
use std::io::{self, Write};

/// Options of the mach format (`--log-mach-verbose`, colors).
#[derive(Clone, Debug, Default)]
pub struct MachOptions {
    pub verbose: bool,
    pub color: bool,
    /// A test slower than this is named in the summary whatever its rank
    /// (0: [`slowest::THRESHOLD_MS`]).
    pub slow_threshold_ms: u64,
}

/// The summary names the slowest tests from this duration up.
const SLOW_FLOOR_MS: u64 = 100;

/// A run longer than this says where its time went.
const LONG_RUN_MS: u64 = 60_000;

/// ANSI styles, as mozlog's color table names them.
#[derive(Clone, Copy)]
enum Style {
    Time,
    Action,
    Pid,
    Pass,
    Fail,
    Intermittent,
    Heading,
    SubHeading,
    Error,
    Warning,
    Info,
    Bold,
    Stack,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Time | Style::Pid => "\x1b[36m",
            Style::Action | Style::SubHeading | Style::Warning | Style::Intermittent => "\x1b[33m",
            Style::Pass => "\x1b[32m",
            Style::Fail | Style::Error => "\x1b[31m",
            Style::Heading => "\x1b[1;33m",
            Style::Info => "\x1b[34m",
            Style::Bold => "\x1b[1m",
            Style::Stack => "\x1b[90m",
        }
    }
}

/// What a test's lines are held to (without `--log-mach-verbose`) until its
/// result says whether they show: the first half, then the latest lines;
/// those between are counted, and a line says how many were not shown.
const HELD_HALF: usize = 512 * 1024;

/// One held line: its place in the test's output, time and text, and
/// whether it shows whatever the result (crashes).
struct HeldLine {
    seq: u64,
    time: u64,
    text: String,
    always: bool,
}

#[derive(Default)]
struct Held {
    start: Option<(u64, String)>,
    /// The process the test started in (the `test_start` entry's `pid`).
    pid: i64,
    /// The first lines, up to [`HELD_HALF`] bytes.
    head: Vec<HeldLine>,
    head_bytes: usize,
    /// The latest lines after those, up to [`HELD_HALF`] bytes.
    tail: std::collections::VecDeque<HeldLine>,
    tail_bytes: usize,
    /// Lines dropped between the head and the tail.
    dropped: u64,
    next_seq: u64,
    /// Where the last panic report in the output begins (`thread '...' panicked at`).
    panic_at: Option<u64>,
    /// Whether the last output line was empty.
    last_blank: bool,
}

impl Held {
    fn push(&mut self, time: u64, text: String, always: bool) {
        let line = HeldLine {
            seq: self.next_seq,
            time,
            text,
            always,
        };
        self.next_seq += 1;
        if self.tail.is_empty() && self.head_bytes + line.text.len() <= HELD_HALF {
            self.head_bytes += line.text.len();
            self.head.push(line);
            return;
        }
        self.tail_bytes += line.text.len();
        self.tail.push_back(line);
        while self.tail_bytes > HELD_HALF && self.tail.len() > 1 {
            let gone = self.tail.pop_front().expect("not empty");
            self.tail_bytes -= gone.text.len();
            self.dropped += 1;
        }
    }

    /// The held lines in order, with a line for those dropped, when any.
    fn lines(self) -> impl Iterator<Item = HeldLine> {
        let note = (self.dropped > 0).then(|| HeldLine {
            seq: self.tail.front().map_or(self.next_seq, |l| l.seq),
            time: self.tail.front().map_or(0, |l| l.time),
            text: format!(
                "[... {} lines of output not shown: mach holds {} KiB of a test's output ...]",
                self.dropped,
                2 * HELD_HALF / 1024
            ),
            always: false,
        });
        self.head.into_iter().chain(note).chain(self.tail)
    }
}

#[derive(Clone, Copy, Default)]
struct SubtestCounts {
    count: u64,
    unexpected: u64,
    pass: u64,
}

/// The mach sink.
pub struct Mach {
    out: Output,
    opts: MachOptions,
    start_time: Option<u64>,
    /// The last time prefix written, and its time: most entries share
    /// their millisecond with the one before, and the prefix's float
    /// formatting is much of a line's cost.
    prefix: Option<(u64, String)>,
    summary: Summary,
    known_pids: foldhash::HashSet<String>,
    subtests: foldhash::HashMap<String, SubtestCounts>,
    /// Lines of running tests, held until their result (not verbose): the
    /// `TEST_START` line (with its time) and the output.
    held: foldhash::HashMap<String, Held>,
    line: String,
    slowest: Slowest,
    /// `suite_end`'s `extra.timings`, when the run wrote them.
    timings: Option<serde_json::Value>,
}

impl Mach {
    pub fn new(out: Output, opts: MachOptions) -> Mach {
        let threshold = match opts.slow_threshold_ms {
            0 => slowest::THRESHOLD_MS,
            ms => ms,
        };
        Mach {
            slowest: Slowest::new(threshold),
            timings: None,
            out,
            opts,
            start_time: None,
            prefix: None,
            summary: Summary::new(),
            known_pids: Default::default(),
            subtests: Default::default(),
            held: Default::default(),
            line: String::new(),
        }
    }

    fn paint(&self, style: Style, s: &str) -> String {
        if self.opts.color && !s.is_empty() {
            format!("{}{}\x1b[0m", style.code(), s)
        } else {
            s.to_string()
        }
    }

    fn time_prefix(&self, time: u64) -> String {
        let start = self.start_time.unwrap_or(time);
        let total = time.saturating_sub(start) as f64 / 1000.0;
        let minutes = (total / 60.0).floor();
        let seconds = total - minutes * 60.0;
        self.paint(
            Style::Time,
            &format!("{:2}:{:05.2}", minutes as u64, seconds),
        )
    }

    fn format_expected(&self, status: Status, expected: Status, known: &[Status]) -> String {
        if status == expected {
            if matches!(expected, Status::Pass | Status::Ok) {
                self.paint(Style::Pass, status.as_str())
            } else {
                self.paint(Style::Fail, &format!("EXPECTED-{status}"))
            }
        } else if known.contains(&status) {
            self.paint(Style::Intermittent, &format!("KNOWN-INTERMITTENT-{status}"))
        } else if matches!(status, Status::Pass | Status::Ok) {
            self.paint(Style::Fail, &format!("UNEXPECTED-{status}"))
        } else {
            self.paint(Style::Fail, status.as_str())
        }
    }

    fn format_stack(&self, stack: &str) -> String {
        format!("\n{}\n", self.paint(Style::Stack, stack.trim_matches('\n')))
    }

    fn format_noted(&self, test: &str, noted: &Noted) -> String {
        let (status, expected, known, message, stack, subtest) = match noted {
            Noted::End(e) => (
                e.status,
                e.expected,
                &e.known_intermittent,
                &e.message,
                &e.stack,
                None,
            ),
            Noted::Status(s) => (
                s.status,
                s.expected,
                &s.known_intermittent,
                &s.message,
                &s.stack,
                Some(&s.subtest),
            ),
        };
        let name = subtest.map(String::as_str).unwrap_or(test);
        let mut rv = format!(
            "{} {}",
            self.format_expected(status, expected.unwrap_or(status), known),
            name
        );
        if let Some(m) = message {
            rv.push_str(" - ");
            rv.push_str(m);
        }
        if let Some(s) = stack {
            rv.push_str(&self.format_stack(s));
        }
        rv
    }

    fn action_name(&self, name: &str) -> String {
        self.paint(Style::Action, &name.to_uppercase())
    }

    fn test_end(&mut self, e: &TestEnd) -> String {
        let sub = self.subtests.remove(&e.test).unwrap_or_default();
        let parent_unexpected = e.expected.is_some() && !e.known_intermittent.contains(&e.status);
        let expected_str = match (parent_unexpected, e.expected) {
            (true, Some(exp)) => format!(", expected {exp}"),
            _ => String::new(),
        };
        let mut rv = if sub.count != 0 {
            format!(
                "Test {}{}. Subtests passed {}/{}. Unexpected {}",
                e.status, expected_str, sub.pass, sub.count, sub.unexpected
            )
        } else {
            format!("{}{}", e.status, expected_str)
        };
        if let Some(unexpected) = self.summary.unexpected.of(&e.test).map(<[Noted]>::to_vec) {
            if unexpected.len() == 1 && parent_unexpected {
                if let Some(m) = &e.message {
                    rv.push_str(" - ");
                    rv.push_str(m);
                }
                if let Some(s) = &e.stack {
                    rv.push_str(&self.format_stack(s));
                }
            } else if !self.opts.verbose {
                rv.push('\n');
                for d in &unexpected {
                    rv.push_str(&self.format_noted(&e.test, d));
                }
            }
        }
        if let Some(intermittents) = self.summary.intermittent.of(&e.test).map(<[Noted]>::to_vec) {
            rv.push('\n');
            for d in &intermittents {
                rv.push_str(&self.format_noted(&e.test, d));
            }
        }
        if e.status == Status::Skip {
            if let Some(m) = e.message.as_deref().filter(|m| !m.is_empty()) {
                rv.push_str(&format!(" ({m})"));
            }
        }
        if let Some(line) = flaky_line(e) {
            rv.push('\n');
            rv.push_str(&self.paint(Style::Intermittent, &line));
        }
        let style = if e.expected.is_none() && sub.unexpected == 0 {
            Style::Pass
        } else {
            Style::Fail
        };
        format!("{}: {}", self.paint(style, "TEST_END"), rv)
    }

    fn test_status(&mut self, s: &TestStatus) -> Option<String> {
        let c = self.subtests.entry(s.test.clone()).or_default();
        c.count += 1;
        if s.status == Status::Pass {
            c.pass += 1;
        }
        if s.expected.is_some() && !s.known_intermittent.contains(&s.status) {
            c.unexpected += 1;
        }
        self.opts.verbose.then(|| {
            self.format_noted(&s.test, &Noted::Status(s.clone()))
                .trim_end_matches('\n')
                .to_string()
        })
    }

    fn log(&self, l: &Log, component: Option<&str>) -> String {
        let mut message = l.message.as_str();
        let level = match l.level.as_str() {
            "ERROR" if message.starts_with("TEST-EXPECTED-FAIL") => {
                message = message["TEST-EXPECTED-FAIL".len()..].trim();
                self.paint(Style::Warning, "TODO")
            }
            lv @ ("CRITICAL" | "ERROR") => self.paint(Style::Error, lv),
            lv @ "WARNING" => self.paint(Style::Warning, lv),
            lv @ "INFO" => self.paint(Style::Info, lv),
            lv => lv.to_string(),
        };
        let mut rv = match component {
            Some(c) => format!("{c} {level} {message}"),
            None => format!("{level} {message}"),
        };
        if let Some(s) = &l.stack {
            rv.push('\n');
            rv.push_str(s);
        }
        rv
    }

    fn crash(&self, c: &Crash, pid: i64) -> String {
        let success = c.stackwalk_returncode.unwrap_or(0) != 0 && c.stackwalk_stderr.is_none();
        let mut rv = vec![format!(
            "pid:{}. Process type: {}. Test:{}. Minidump analysed:{}. Signature:[{}]",
            pid,
            c.process_type.as_deref().unwrap_or("None"),
            c.test.as_deref().unwrap_or("None"),
            if success { "True" } else { "False" },
            c.signature
        )];
        if let Some(j) = c.java_stack.as_deref().filter(|s| !s.is_empty()) {
            rv.push(format!("Java exception: {j}"));
        } else {
            if let Some(r) = c.reason.as_deref().filter(|s| !s.is_empty()) {
                rv.push(format!("Mozilla crash reason: {r}"));
            }
            if let Some(m) = c.minidump_path.as_deref().filter(|s| !s.is_empty()) {
                rv.push(format!("Crash dump filename: {m}"));
            }
            if let Some(code) = c.stackwalk_returncode.filter(|c| *c != 0) {
                rv.push(format!("minidump-stackwalk exited with return code {code}"));
            }
            if let Some(s) = c.stackwalk_stderr.as_deref().filter(|s| !s.is_empty()) {
                rv.push("stderr from minidump-stackwalk:".into());
                rv.push(s.to_string());
            } else if let Some(s) = c.stackwalk_stdout.as_deref().filter(|s| !s.is_empty()) {
                rv.push(s.to_string());
            }
            rv.extend(c.stackwalk_errors.iter().cloned());
        }
        let mut rv = rv.join("\n");
        if !rv.ends_with('\n') {
            rv.push('\n');
        }
        format!("{}: {}", self.action_name("crash"), rv)
    }

    fn process_output(&mut self, process: &str, data: &str, command: Option<&str>) -> String {
        let pid = if !process.is_empty() && process.bytes().all(|b| b.is_ascii_digit()) {
            format!("pid:{process}")
        } else {
            process.to_string()
        };
        let pid = self.paint(Style::Pid, &pid);
        let mut rv = Vec::new();
        if let Some(cmd) = command {
            if self.known_pids.insert(process.to_string()) {
                rv.push(format!("{pid} Full command: {cmd}"));
            }
        }
        rv.push(format!("{pid} {data}"));
        rv.join("\n")
    }

    fn counts_line(&self, key: &str, c: &Counts) -> Option<String> {
        if c.unexpected.is_empty() {
            return None;
        }
        let mut by_status: Vec<(&str, u64)> =
            c.unexpected.iter().map(|(s, n)| (s.lower(), *n)).collect();
        by_status.sort();
        let detail: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
        Some(format!(
            "  {key}: {} ({})",
            c.unexpected_total(),
            detail.join(", ")
        ))
    }

    fn suite_summary(&self) -> String {
        let s = &self.summary;
        let suite = &s.suite;
        let mut rv = vec![
            String::new(),
            self.paint(Style::SubHeading, suite),
            self.paint(Style::SubHeading, &"~".repeat(suite.chars().count())),
        ];
        let mut kinds: Vec<(&str, u64)> = vec![
            ("assert", s.asserts.count),
            ("subtest", s.subtests.count),
            ("test", s.tests.count),
        ];
        kinds.retain(|(_, n)| *n > 0);
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}s")).collect();
        rv.push(format!("Ran {} checks ({})", s.checks(), kinds.join(", ")));
        let intermittents = s.known_intermittents();
        let known = if intermittents > 0 {
            format!(" ({intermittents} known intermittents)")
        } else {
            String::new()
        };
        rv.push(format!("Expected results: {}{known}", s.expected_results()));
        let skip_tests = s.tests.expected.get(&Status::Skip).copied().unwrap_or(0);
        let skip_subtests = s.subtests.expected.get(&Status::Skip).copied().unwrap_or(0);
        if skip_tests > 0 {
            let mut line = format!("Skipped: {skip_tests} tests");
            if skip_subtests > 0 {
                line.push_str(&format!(", {skip_subtests} subtests"));
            }
            rv.push(line);
        }
        let unexpected = s.unexpected_results();
        rv.push(format!("Unexpected results: {unexpected}"));
        if unexpected > 0 {
            for (key, c) in [
                ("test", &s.tests),
                ("subtest", &s.subtests),
                ("assert", &s.asserts),
            ] {
                rv.extend(self.counts_line(key, c));
            }
        }
        if s.flaky > 0 {
            rv.push(format!(
                "Flaky: {} tests (their status changed on a retry)",
                s.flaky
            ));
        }
        let has_subtests = s.subtests.count > 0;
        let list = |rv: &mut Vec<String>, logs: &[(String, Vec<Noted>)]| {
            for (test, results) in logs {
                if has_subtests {
                    rv.push(self.paint(Style::Bold, test));
                    for d in results {
                        rv.push(format!("  {}", self.format_noted(test, d).trim_end()));
                    }
                } else {
                    for d in results {
                        rv.push(self.format_noted(test, d).trim_end().to_string());
                    }
                }
            }
        };
        if intermittents > 0 {
            let heading = "Known Intermittent Results";
            rv.push(String::new());
            rv.push(self.paint(Style::Heading, heading));
            rv.push(self.paint(Style::Heading, &"-".repeat(heading.len())));
            list(&mut rv, s.intermittent.groups());
        }
        if s.flaky > 0 {
            let heading = "Flaky Tests";
            rv.push(String::new());
            rv.push(self.paint(Style::Heading, heading));
            rv.push(self.paint(Style::Heading, &"-".repeat(heading.len())));
            for (test, attempts) in &s.flaky_tests {
                let statuses: Vec<&str> = attempts.iter().map(|a| a.as_str()).collect();
                rv.push(format!("{test}: {}", statuses.join(" then ")));
            }
        }
        self.slow_tests(&mut rv);
        self.time_spent(&mut rv);
        let failed = unexpected > 0;
        if !failed && s.harness_errors.is_empty() {
            rv.push(self.paint(Style::Pass, "OK"));
        } else {
            let heading = "Error Summary";
            rv.push(String::new());
            rv.push(self.paint(Style::Heading, heading));
            rv.push(self.paint(Style::Heading, &"-".repeat(heading.len())));
            list(&mut rv, s.unexpected.groups());
            for l in &s.harness_errors {
                rv.push(self.log(l, None));
            }
        }
        rv.join("\n")
    }

    /// The slowest tests (from [`SLOW_FLOOR_MS`] up).
    fn slow_tests(&self, rv: &mut Vec<String>) {
        let slow: Vec<(u64, String)> = (self.slowest.list().into_iter())
            .filter(|(ms, _)| *ms >= SLOW_FLOOR_MS)
            .collect();
        if slow.is_empty() {
            return;
        }
        let heading = "Slowest Tests";
        rv.push(String::new());
        rv.push(self.paint(Style::Heading, heading));
        rv.push(self.paint(Style::Heading, &"-".repeat(heading.len())));
        for (ms, test) in slow {
            let over = ms > self.slowest.threshold_ms();
            let mut line = format!("{:>9}  {test}", slowest::seconds(ms));
            if over {
                line.push_str(&format!(
                    " (over {})",
                    slowest::seconds(self.slowest.threshold_ms())
                ));
            }
            rv.push(line);
        }
    }

    /// Where a long run's time went, from `suite_end`'s `extra.timings`:
    /// the build, the listing, and each binary (the busiest first).
    fn time_spent(&self, rv: &mut Vec<String>) {
        let Some(t) = &self.timings else { return };
        let secs = |v: &serde_json::Value| v.as_f64().map(|s| (s * 1000.0).max(0.0) as u64);
        let Some(total) = secs(&t["total"]) else {
            return;
        };
        if total <= LONG_RUN_MS {
            return;
        }
        let heading = format!("Where {} Went", slowest::seconds(total));
        rv.push(String::new());
        rv.push(self.paint(Style::Heading, &heading));
        rv.push(self.paint(Style::Heading, &"-".repeat(heading.len())));
        for (key, label) in [("build", "build"), ("listing", "listing the tests")] {
            if let Some(ms) = secs(&t[key]) {
                rv.push(format!("{:>9}  {label}", slowest::seconds(ms)));
            }
        }
        if let Some(bins) = t["binaries"].as_object() {
            let mut bins: Vec<(u64, &str)> = bins
                .iter()
                .filter_map(|(id, v)| Some((secs(v)?, id.as_str())))
                .collect();
            bins.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
            for (ms, id) in bins.iter().take(slowest::TOP) {
                rv.push(format!("{:>9}  running {id}", slowest::seconds(*ms)));
            }
            if bins.len() > slowest::TOP {
                let rest: u64 = bins[slowest::TOP..].iter().map(|(ms, _)| ms).sum();
                rv.push(format!(
                    "{:>9}  running {} other binaries",
                    slowest::seconds(rest),
                    bins.len() - slowest::TOP
                ));
            }
        }
    }

    /// The text for an entry, without the time prefix (`None`: nothing to print).
    fn format(&mut self, e: &Entry) -> Option<String> {
        match &e.action {
            Action::SuiteStart(s) => {
                let n = s.tests.count();
                let name = s
                    .name
                    .as_ref()
                    .map(|n| format!(" {n} -"))
                    .unwrap_or_default();
                Some(format!(
                    "{}:{name} running {n} tests",
                    self.action_name("suite_start")
                ))
            }
            Action::SuiteEnd(end) => {
                self.timings = end.extra.as_ref().and_then(|x| x.get("timings")).cloned();
                Some(format!(
                    "{}\n{}",
                    self.action_name("suite_end"),
                    self.suite_summary()
                ))
            }
            Action::TestStart(t) => {
                self.slowest.start(&t.test, e.time);
                let text = format!("{}: {}", self.action_name("test_start"), t.test);
                if self.opts.verbose {
                    return Some(text);
                }
                let held = self.held.entry(t.test.clone()).or_default();
                held.start = Some((e.time, text));
                held.pid = e.pid;
                None
            }
            Action::TestEnd(end) => {
                self.slowest.end(&end.test, e.time);
                let mut held = self.held.remove(&end.test).unwrap_or_default();
                let line = self.test_end(end);
                if let Some((time, text)) = held.start.take() {
                    self.push_line(time, &text);
                }
                // The panic report is shown once, on the TEST_END line (message
                // and stack), so the output stops where the report begins.
                let cut = match (end.stack.is_some(), held.panic_at) {
                    (true, Some(at)) => at,
                    _ => u64::MAX,
                };
                for line in held.lines() {
                    if line.always || (end.expected.is_some() && line.seq < cut) {
                        self.push_line(line.time, &line.text);
                    }
                }
                Some(line)
            }
            Action::TestStatus(s) => self.test_status(s),
            Action::ProcessOutput(p) => {
                let text = self.process_output(&p.process, &p.data, p.command.as_deref());
                // Output without a test (as other producers write it) is the
                // running test's when one test alone runs in its process.
                let test = p.test.clone().or_else(|| {
                    let mut running = self
                        .held
                        .iter()
                        .filter(|(_, h)| h.start.is_some() && h.pid == e.pid);
                    match (running.next(), running.next()) {
                        (Some((test, _)), None) => Some(test.clone()),
                        _ => None,
                    }
                });
                match test {
                    Some(test) if !self.opts.verbose => {
                        let held = self.held.entry(test).or_default();
                        if p.data.starts_with("thread '") && p.data.contains(" panicked at ") {
                            // A blank line before the report belongs to it.
                            held.panic_at = Some(held.next_seq - u64::from(held.last_blank));
                        }
                        held.last_blank = p.data.is_empty();
                        held.push(e.time, text, false);
                        None
                    }
                    _ => Some(text),
                }
            }
            Action::Log(l) => Some(self.log(l, e.component.as_deref())),
            Action::Crash(c) => {
                let text = self.crash(c, e.pid);
                match &c.test {
                    Some(test) if !self.opts.verbose && self.held.contains_key(test) => {
                        self.held
                            .get_mut(test)
                            .expect("held")
                            .push(e.time, text, true);
                        None
                    }
                    _ => Some(text),
                }
            }
            Action::ProcessStart(_) if !self.opts.verbose => None,
            Action::ProcessExit(p) if !self.opts.verbose && matches!(p.exitcode, 0 | 101) => None,
            Action::ProcessStart(p) => {
                let mut rv = format!("Started process `{}`", p.process);
                if let Some(c) = p.command.as_deref().filter(|c| !c.is_empty()) {
                    rv.push_str(&format!(" ({c})"));
                }
                Some(rv)
            }
            Action::ProcessExit(p) => {
                Some(format!("{}: {}", p.process, exit_status_text(p.exitcode)))
            }
            Action::Other { action, fields } => {
                other_action(action, fields, |style, text| self.paint(style, text))
            }
            Action::GroupStart(_)
            | Action::GroupEnd(_)
            | Action::AddSubsuite(_)
            | Action::Shutdown => None,
        }
    }
}

/// `FLAKY: FAIL then PASS (2 attempts)` for a test whose status changed
/// between attempts (`--retries`).
fn flaky_line(e: &TestEnd) -> Option<String> {
    let extra = e.extra.as_ref()?;
    if extra.get("flaky")?.as_bool() != Some(true) {
        return None;
    }
    let statuses: Vec<&str> = extra
        .get("attempts")?
        .as_array()?
        .iter()
        .filter_map(|a| a["status"].as_str())
        .collect();
    Some(format!(
        "FLAKY: {} ({} attempts)",
        statuses.join(" then "),
        statuses.len()
    ))
}

/// mozlog's mach lines for the rarer actions, their status words coloured
/// as mozlog colours them (`paint` leaves them plain without colours).
fn other_action(
    action: &str,
    f: &serde_json::Map<String, serde_json::Value>,
    paint: impl Fn(Style, &str) -> String,
) -> Option<String> {
    let int = |k: &str| f.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
    let string = |k: &str| f.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let strings = |k: &str| -> Vec<String> {
        f.get(k)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    match action {
        "assertion_count" => {
            let (count, min, max) = (int("count"), int("min_expected"), int("max_expected"));
            if min <= count && count <= max {
                return None;
            }
            let expected = if min != max {
                format!("{min} to {max}")
            } else {
                format!("{min}")
            };
            Some(format!(
                "{}: Assertion count {count}, expected {expected} assertions\n",
                paint(Style::Fail, "ASSERT")
            ))
        }
        "lsan_leak" => {
            let prefix = if f.get("allowed_match").is_some_and(|v| !v.is_null()) {
                "FAIL"
            } else {
                "UNEXPECTED-FAIL"
            };
            Some(format!(
                "{} LeakSanitizer: leak at {}",
                paint(Style::Fail, prefix),
                strings("frames").join(", ")
            ))
        }
        "lsan_summary" => {
            let allowed = f.get("allowed").and_then(|v| v.as_bool()).unwrap_or(false);
            Some(format!(
                "{} | LeakSanitizer | SUMMARY: AddressSanitizer: {} byte(s) leaked in {} allocation(s).",
                if allowed {
                    paint(Style::Warning, "WARNING")
                } else {
                    paint(Style::Error, "ERROR")
                },
                int("bytes"),
                int("allocations")
            ))
        }
        "mozleak_object" => Some(format!(
            "{} leakcheck: {} leaked {} {}",
            paint(Style::Info, "INFO"),
            string("process"),
            int("bytes"),
            string("name")
        )),
        "mozleak_total" => {
            let process = string("process");
            let flag = |k: &str| f.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
            Some(match f.get("bytes").and_then(|v| v.as_i64()) {
                // No line named TOTAL was seen.
                None if flag("induced_crash") => format!(
                    "{} leakcheck: {process} deliberate crash and thus no leak log",
                    paint(Style::Info, "INFO")
                ),
                None if flag("ignore_missing") => {
                    format!("{process} ignoring missing output line for total leaks")
                }
                // mozlog paints this FAIL as a pass.
                None => format!(
                    "{} leakcheck: {process} missing output line for total leaks!",
                    paint(Style::Pass, "FAIL")
                ),
                Some(0) => format!(
                    "{} leakcheck: {process} no leaks detected!",
                    paint(Style::Pass, "PASS")
                ),
                // The total includes expected leaks: only above the
                // threshold is it unexpected.
                Some(bytes) => format!(
                    "{} leakcheck: {process} {bytes} bytes leaked",
                    paint(
                        Style::Fail,
                        if bytes > int("threshold") {
                            "UNEXPECTED-FAIL"
                        } else {
                            "FAIL"
                        }
                    )
                ),
            })
        }
        "lint" => {
            // `x.js  3:4  error  unused  no-unused (eslint)`, as mozlog's mach.
            let level = string("level");
            let column = match f.get("column").and_then(|v| v.as_i64()) {
                Some(c) if c != 0 => format!(":{c}"),
                _ => String::new(),
            };
            let rule = match string("rule") {
                r if r.is_empty() => String::new(),
                r => format!("{r} "),
            };
            let linter = string("linter").to_lowercase();
            Some(format!(
                "{}  {}  {}  {}  {}",
                string("path"),
                paint(Style::Stack, &format!("{}{column}", int("lineno"))),
                paint(
                    if level == "error" {
                        Style::Error
                    } else {
                        Style::Fail
                    },
                    &level
                ),
                string("message"),
                paint(Style::Stack, &format!("{rule}({linter})")),
            ))
        }
        "valgrind_error" => {
            let mut rv = format!(" {}\n", string("primary"));
            for l in strings("secondary") {
                rv.push_str(&l);
                rv.push('\n');
            }
            Some(rv)
        }
        _ => None,
    }
}

impl Mach {
    /// Adds a line with its time prefix. Text from tests is made safe for a
    /// terminal or a text file: control characters are shown as `\xNN`, and
    /// ANSI colors are kept only when colors are on.
    fn push_line(&mut self, time: u64, text: &str) {
        match &self.prefix {
            Some((at, prefix)) if *at == time => self.line.push_str(prefix),
            _ => {
                let prefix = self.time_prefix(time);
                self.line.push_str(&prefix);
                self.prefix = Some((time, prefix));
            }
        }
        self.line.push(' ');
        let ansi = if self.opts.color {
            Ansi::KeepColors
        } else {
            Ansi::Strip
        };
        self.line.push_str(&safe_text(text, ansi));
        self.line.push('\n');
    }

    fn write_pending(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.out.write_all(self.line.as_bytes())?;
            self.line.clear();
        }
        Ok(())
    }
}

impl Sink for Mach {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        if self.start_time.is_none() {
            self.start_time = Some(e.time);
            self.prefix = None;
        }
        self.summary.entry(e);
        if let Some(text) = self.format(e) {
            self.push_line(e.time, &text);
        }
        self.write_pending()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        // Tests that never ended (the stream was cut short): show what was held.
        let mut held: Vec<Held> = self.held.drain().map(|(_, h)| h).collect();
        // By start, then by text: the map's order is random, and tests
        // start in the same millisecond.
        held.sort_by(|a, b| a.start.cmp(&b.start));
        for mut h in held {
            if let Some((time, text)) = h.start.take() {
                self.push_line(time, &text);
            }
            for line in h.lines() {
                self.push_line(line.time, &line.text);
            }
        }
        self.write_pending()?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::testing::{render, stream};

    fn mach(name: &str, verbose: bool, color: bool) -> String {
        render(&stream(name, false), |o| {
            Mach::new(
                o,
                MachOptions {
                    verbose,
                    color,
                    ..Default::default()
                },
            )
        })
    }

    #[test]
    fn a_tests_held_output_is_bounded_keeping_its_start_and_end() {
        use crate::model::{Origin, ProcessOutput, SuiteStart, TestEnd, TestStart};
        let o = Origin {
            thread: "main".into(),
            pid: 1,
            source: "s".into(),
        };
        let mut entries = vec![
            o.entry(0, Action::SuiteStart(SuiteStart::default())),
            o.entry(
                0,
                Action::TestStart(TestStart {
                    test: "t".into(),
                    ..Default::default()
                }),
            ),
        ];
        for i in 0..200_000 {
            entries.push(o.entry(
                1,
                Action::ProcessOutput(ProcessOutput {
                    process: "1".into(),
                    data: format!("output line {i:06}"),
                    command: None,
                    test: Some("t".into()),
                    subsuite: None,
                }),
            ));
        }
        let mut end = TestEnd::new("t", Status::Fail);
        end.set_expected(Status::Pass);
        entries.push(o.entry(2, Action::TestEnd(end)));
        let out = render(&entries, |o| {
            Mach::new(
                o,
                MachOptions {
                    verbose: false,
                    color: false,
                    ..Default::default()
                },
            )
        });
        assert!(out.contains("output line 000000"), "the start is kept");
        assert!(out.contains("output line 199999"), "the end is kept");
        assert!(out.contains("lines of output not shown"));
        assert!(out.len() < 3 * HELD_HALF, "{} bytes", out.len());
    }

    #[test]
    fn tests_cut_short_are_shown_in_a_fixed_order() {
        use crate::model::{Origin, TestStart};
        let o = Origin {
            thread: "main".into(),
            pid: 1,
            source: "s".into(),
        };
        // Started in the same millisecond, in an order the output does not
        // follow (the held tests are kept in a map).
        let entries: Vec<Entry> = ["m", "z", "b", "a", "q", "c"]
            .iter()
            .map(|t| {
                o.entry(
                    5,
                    Action::TestStart(TestStart {
                        test: (*t).to_string(),
                        path: None,
                        subsuite: None,
                        group: None,
                    }),
                )
            })
            .collect();
        let first = render(&entries, |o| Mach::new(o, MachOptions::default()));
        assert!(first.find("TEST_START: a").unwrap() < first.find("TEST_START: z").unwrap());
        for _ in 0..10 {
            assert_eq!(
                render(&entries, |o| Mach::new(o, MachOptions::default())),
                first
            );
        }
    }

    #[test]
    fn statuses() {
        insta::assert_snapshot!(mach("statuses", false, false));
    }

    #[test]
    fn statuses_verbose() {
        insta::assert_snapshot!(mach("statuses", true, false));
    }

    #[test]
    fn retries_and_expectations() {
        let out = mach("retries", false, false);
        assert!(out.contains("FLAKY: FAIL then PASS (2 attempts)"), "{out}");
        assert!(out.contains("Flaky: 2 tests"), "{out}");
        insta::assert_snapshot!(out);
    }

    #[test]
    fn statuses_in_color() {
        let out = mach("statuses", false, true);
        assert!(out.contains("\x1b[31mTEST_END\x1b[0m: FAIL, expected PASS"));
        assert!(out.contains("\x1b[32mTEST_END\x1b[0m: PASS"));
        assert!(out.contains("\x1b[36m 0:00.00\x1b[0m \x1b[33mSUITE_START\x1b[0m"));
    }

    #[test]
    fn assertion_leak_and_sanitizer_lines_are_coloured_as_in_mozlog() {
        let lines = [
            r#"{"action":"suite_start","time":1000,"thread":"t","pid":1,"source":"s","tests":{}}"#,
            r#"{"action":"assertion_count","time":1001,"thread":"t","pid":1,"source":"s","test":"a","count":3,"min_expected":0,"max_expected":1}"#,
            r#"{"action":"lsan_leak","time":1002,"thread":"t","pid":1,"source":"s","frames":["f1","f2"]}"#,
            r#"{"action":"lsan_summary","time":1003,"thread":"t","pid":1,"source":"s","bytes":8,"allocations":1}"#,
            r#"{"action":"mozleak_object","time":1004,"thread":"t","pid":1,"source":"s","process":"default","bytes":64,"name":"nsFoo"}"#,
            r#"{"action":"mozleak_total","time":1005,"thread":"t","pid":1,"source":"s","process":"default","bytes":128,"threshold":0,"objects":["nsFoo"]}"#,
            r#"{"action":"mozleak_total","time":1006,"thread":"t","pid":1,"source":"s","process":"tab","bytes":0,"threshold":0,"objects":[]}"#,
            r#"{"action":"suite_end","time":1007,"thread":"t","pid":1,"source":"s"}"#,
        ];
        let entries: Vec<Entry> = lines
            .iter()
            .map(|l| Entry::from_json(l.as_bytes()).unwrap())
            .collect();
        let show = |color: bool| {
            render(&entries, |o| {
                Mach::new(
                    o,
                    MachOptions {
                        verbose: false,
                        color,
                        ..Default::default()
                    },
                )
            })
        };
        let red = |s: &str| format!("\x1b[31m{s}\x1b[0m");
        let colored = show(true);
        for piece in [
            format!(
                "{}: Assertion count 3, expected 0 to 1 assertions",
                red("ASSERT")
            ),
            format!("{} LeakSanitizer: leak at f1, f2", red("UNEXPECTED-FAIL")),
            format!("{} | LeakSanitizer | SUMMARY", red("ERROR")),
            "\x1b[34mINFO\x1b[0m leakcheck: default leaked 64 nsFoo".to_string(),
            format!(
                "{} leakcheck: default 128 bytes leaked",
                red("UNEXPECTED-FAIL")
            ),
            "\x1b[32mPASS\x1b[0m leakcheck: tab no leaks detected!".to_string(),
        ] {
            assert!(colored.contains(&piece), "{piece:?} in\n{colored}");
        }
        let plain = show(false);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(plain.contains("UNEXPECTED-FAIL leakcheck: default 128 bytes leaked"));
    }

    #[test]
    fn output_without_a_test_is_the_running_tests() {
        let line = |action: &str, time: u64, pid: u32, rest: &str| {
            let text = format!(
                r#"{{"action":"{action}","time":{time},"thread":"t","pid":{pid},"source":"s"{rest}}}"#
            );
            Entry::from_json(text.as_bytes()).unwrap()
        };
        let out = |data: &str, time: u64, pid: u32| {
            line(
                "process_output",
                time,
                pid,
                &format!(r#","process":"{pid}","data":"{data}""#),
            )
        };
        let entries = vec![
            line("suite_start", 1000, 1, r#","tests":{}"#),
            line("test_start", 1100, 1, r#","test":"a""#),
            out("quiet when a passes", 1200, 1),
            line("test_end", 1300, 1, r#","test":"a","status":"PASS""#),
            line("test_start", 1400, 1, r#","test":"b""#),
            out("shown after b starts", 1500, 1),
            // Another process's output is not b's.
            out("from elsewhere", 1510, 2),
            line(
                "test_end",
                1600,
                1,
                r#","test":"b","status":"FAIL","expected":"PASS""#,
            ),
            line("suite_end", 1700, 1, ""),
        ];
        let text = render(&entries, |o| Mach::new(o, MachOptions::default()));
        assert!(!text.contains("quiet when a passes"), "{text}");
        let at = |piece: &str| {
            text.find(piece)
                .unwrap_or_else(|| panic!("{piece:?} in\n{text}"))
        };
        assert!(at("from elsewhere") < at("TEST_START: b"), "{text}");
        assert!(at("TEST_START: b") < at("shown after b starts"), "{text}");
        assert!(at("shown after b starts") < at("TEST_END: FAIL"), "{text}");
    }

    #[test]
    fn incomplete_build_failed_and_empty_runs() {
        insta::assert_snapshot!("incomplete", mach("incomplete", false, false));
        insta::assert_snapshot!("build_failed", mach("build-failed", false, false));
        insta::assert_snapshot!("empty", mach("empty", false, false));
    }

    #[test]
    fn a_megabyte_of_output_is_printed_for_a_failure_only() {
        let entries = stream("statuses", true);
        let quiet = render(&entries, |o| Mach::new(o, MachOptions::default()));
        assert!(
            quiet.len() < 20_000,
            "a passing test's output is not printed"
        );
        let verbose = render(&entries, |o| {
            Mach::new(
                o,
                MachOptions {
                    verbose: true,
                    color: false,
                    ..Default::default()
                },
            )
        });
        assert!(verbose.len() > 1 << 20);
    }
}
