//! `grouped`: every test's name as it ends, unexpected results in detail,
//! and a summary that groups the results by outcome.
//!
//! Follows mozlog's `GroupingFormatter` in its non-interactive mode (the
//! one it uses when not writing to a terminal): `Running N tests in SOURCE`,
//! then `  test name` for each test that ends as expected, and a framed block
//! (`▶ FAIL [expected PASS] name`, `│   → message`, stack lines, `└ ...`) for
//! each unexpected result, with unexpected subtest results grouped by stack
//! under `Unexpected subtest result in name:`. A crashed or timed-out test's
//! block includes the output it wrote. Log entries at ERROR or CRITICAL (and
//! messages starting with `STDERR`) are written as they come. At `suite_end`:
//! `Ran N tests finished in 0.4 seconds.`, a `•` line per outcome, then the
//! blocks of all unexpected results again, and the known intermittent results.
//!
//! Differences from mozlog, by design:
//!
//! * Never any cursor-movement code or status line: the output goes to files
//!   too, and must depend on the entries alone (not on the terminal).
//! * Running tests are keyed by test id (mozlog keys them by `thread`, which
//!   mixes up tests that share a thread and loses output of the others), and
//!   their output is dropped when they end, so memory holds only the output
//!   of the tests that are running.
//! * Every status is counted: mozlog raises on an expected ASSERT or NOTRUN
//!   and on an unexpected SKIP, NOTRUN or ASSERT (`• N tests asserted
//!   unexpectedly`, `• N tests did not run unexpectedly` are added).
//! * A known intermittent test result is listed under "Tests with known
//!   intermittent results" (mozlog lists it only when a subtest also failed),
//!   a subtest counts as known intermittent only when its status differs from
//!   the expected one, and the `[expected X, known intermittent [Y]]` bracket
//!   is closed.
//! * A multi-line message keeps the frame on every line; a test name's
//!   control characters are shown as `\xNN` while other characters are kept
//!   (mozlog escapes every non-ASCII character of a name).
//! * The summary adds `• N errors logged by the harness` when log entries at
//!   ERROR or CRITICAL came, so a failed build does not read as a clean run.
//! * Counts and lists are per suite (mozlog's add up across suites).
//! * A stream that ends early (no `suite_end`) still gets its summary when the
//!   sink finishes: every test still running ends as an unexpected ERROR (the
//!   log ends before its result), and the time runs to the last entry.
//! * Text is made safe for a file: ANSI escape sequences are removed and
//!   other control characters than tab and newline are shown as `\xNN`.

use super::common::{end_unfinished, write_text};
use super::{Output, Sink};
use crate::model::{Action, Entry, Level, Log, Status, TestEnd, TestStatus};
use crate::text::Ansi;
use std::io::{self, Write};

/// A test that is running.
struct Running {
    start: u64,
    /// What it wrote, shown if it crashes or times out.
    output: String,
}

/// A known intermittent result, for the closing list.
struct Intermittent {
    subsuite: Option<String>,
    test: String,
    subtest: Option<String>,
    status: Status,
    expected: Status,
    known: Vec<Status>,
}

/// The grouped sink.
pub struct Grouped {
    out: Output,
    number_of_tests: usize,
    completed_tests: u64,
    start_time: Option<u64>,
    last_time: Option<u64>,
    /// Something happened that the summary must report.
    open: bool,
    running: foldhash::HashMap<String, Running>,
    /// Unexpected subtest results of tests that have not ended, by test id.
    subtest_failures: foldhash::HashMap<String, Vec<TestStatus>>,
    /// Counts by status (`Status as usize`).
    expected: [u64; 10],
    unexpected: [u64; 10],
    known_intermittent: Vec<Intermittent>,
    tests_with_failing_subtests: u64,
    harness_errors: u64,
    /// The blocks of unexpected results, repeated in the summary.
    failure_text: String,
    text: String,
}

/// `subsuite:test`, or the test alone.
fn test_name(subsuite: Option<&str>, test: &str) -> String {
    match subsuite {
        Some(s) if !s.is_empty() => format!("{s}:{test}"),
        _ => test.to_string(),
    }
}

/// A name with its control characters (newlines and tabs too) shown as
/// `\xNN`, so that a name is always one line.
fn escape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c < ' ' || c == '\u{7f}' {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// mozlog's `wrap_and_indent_lines`: `▶` before the first line, `│` before
/// the middle ones, `└` before the last.
fn wrap_and_indent(lines: &[String], indent: &str) -> String {
    let mut out = String::new();
    let Some((first, rest)) = lines.split_first() else {
        return out;
    };
    out.push_str(&format!("{indent}\u{25b6} {first}\n"));
    if let Some((last, middle)) = rest.split_last() {
        for l in middle {
            out.push_str(&format!("{indent}\u{2502} {l}\n"));
        }
        out.push_str(&format!("{indent}\u{2514} {last}\n"));
    }
    out
}

/// mozlog's `get_lines_for_unexpected_result`.
fn unexpected_lines(
    name: &str,
    status: Status,
    expected: Option<Status>,
    message: Option<&str>,
    stack: Option<&str>,
) -> Vec<String> {
    let expected_text = expected
        .map(|e| format!(" [expected {e}]"))
        .unwrap_or_default();
    let mut lines = vec![format!("{status}{expected_text} {}", escape_name(name))];
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        for (i, l) in m.lines().enumerate() {
            if i == 0 {
                lines.push(format!("  \u{2192} {l}"));
            } else {
                lines.push(format!("    {l}"));
            }
        }
    }
    if let Some(s) = stack.filter(|s| !s.is_empty()) {
        lines.push(String::new());
        lines.extend(s.lines().map(str::to_string));
    }
    lines
}

/// The summary's words for tests that ended unexpectedly with a status, in
/// mozlog's order (then the statuses mozlog has no words for).
const UNEXPECTED_TEXTS: [(Status, &str); 10] = [
    (Status::Crash, "crashed unexpectedly"),
    (Status::Error, "had errors unexpectedly"),
    (Status::Fail, "failed unexpectedly"),
    (
        Status::PreconditionFailed,
        "precondition failed unexpectedly",
    ),
    (Status::Timeout, "timed out unexpectedly"),
    (Status::Pass, "passed unexpectedly"),
    (Status::Ok, "unexpectedly okay"),
    (Status::Assert, "asserted unexpectedly"),
    (Status::Notrun, "did not run unexpectedly"),
    (Status::Skip, "were skipped unexpectedly"),
];

impl Grouped {
    /// A grouped sink.
    pub fn new(out: Output) -> Grouped {
        Grouped {
            out,
            number_of_tests: 0,
            completed_tests: 0,
            start_time: None,
            last_time: None,
            open: false,
            running: Default::default(),
            subtest_failures: Default::default(),
            expected: [0; 10],
            unexpected: [0; 10],
            known_intermittent: Vec::new(),
            tests_with_failing_subtests: 0,
            harness_errors: 0,
            failure_text: String::new(),
            text: String::new(),
        }
    }

    fn note_intermittent(&mut self, i: Intermittent) {
        // One entry per test and subtest, the latest result winning.
        match self
            .known_intermittent
            .iter_mut()
            .find(|k| k.subsuite == i.subsuite && k.test == i.test && k.subtest == i.subtest)
        {
            Some(k) => *k = i,
            None => self.known_intermittent.push(i),
        }
    }

    fn suite_start(&mut self, tests: usize, source: &str, time: u64) {
        self.number_of_tests = tests;
        self.start_time = Some(time);
        if tests == 0 {
            self.text
                .push_str(&format!("Running tests in {source}\n\n"));
        } else {
            self.text
                .push_str(&format!("Running {tests} tests in {source}\n\n"));
        }
    }

    fn test_status(&mut self, s: &TestStatus) {
        let Some(expected) = s.expected else {
            return;
        };
        if s.known_intermittent.contains(&s.status) {
            self.note_intermittent(Intermittent {
                subsuite: s.subsuite.clone(),
                test: s.test.clone(),
                subtest: Some(s.subtest.clone()),
                status: s.status,
                expected,
                known: s.known_intermittent.clone(),
            });
        } else {
            self.subtest_failures
                .entry(s.test.clone())
                .or_default()
                .push(s.clone());
        }
    }

    /// mozlog's `get_output_for_unexpected_subtests`: one block per subtest
    /// without a stack, then one per distinct stack.
    fn subtests_output(&self, name: &str, failures: &[TestStatus]) -> String {
        let block = |subtests: &[&TestStatus], stack: Option<&str>| {
            let mut lines = vec![format!(
                "Unexpected subtest result in {}:",
                escape_name(name)
            )];
            for (i, s) in subtests.iter().enumerate() {
                let last = i + 1 == subtests.len();
                lines.extend(unexpected_lines(
                    &s.subtest,
                    s.status,
                    s.expected,
                    s.message.as_deref(),
                    if last { stack } else { None },
                ));
            }
            wrap_and_indent(&lines, "  ") + "\n"
        };
        let mut out = String::new();
        let mut by_stack: Vec<(&str, Vec<&TestStatus>)> = Vec::new();
        for f in failures {
            match &f.stack {
                None => out.push_str(&block(&[f], None)),
                Some(stack) => match by_stack.iter_mut().find(|(s, _)| s == stack) {
                    Some((_, v)) => v.push(f),
                    None => by_stack.push((stack, vec![f])),
                },
            }
        }
        for (stack, subtests) in by_stack {
            out.push_str(&block(&subtests, Some(stack)));
        }
        out
    }

    fn test_end(&mut self, e: &TestEnd) {
        self.completed_tests += 1;
        let name = test_name(e.subsuite.as_deref(), &e.test);
        let failures = self.subtest_failures.remove(&e.test).unwrap_or_default();
        let output = self
            .running
            .remove(&e.test)
            .map(|r| r.output)
            .unwrap_or_default();
        let unexpected = e.is_unexpected();
        if let (true, Some(expected)) = (e.is_known_intermittent(), e.expected) {
            self.note_intermittent(Intermittent {
                subsuite: e.subsuite.clone(),
                test: e.test.clone(),
                subtest: None,
                status: e.status,
                expected,
                known: e.known_intermittent.clone(),
            });
        }
        if !unexpected && failures.is_empty() {
            self.expected[e.status as usize] += 1;
            self.text.push_str(&format!("  {}\n", escape_name(&name)));
            return;
        }
        // A crash or a timeout often explains itself in the test's output.
        let stack = match e.status {
            Status::Crash | Status::Timeout => Some(output + e.stack.as_deref().unwrap_or("")),
            _ => e.stack.clone(),
        };
        let mut out = String::new();
        if unexpected {
            self.unexpected[e.status as usize] += 1;
            let lines = unexpected_lines(
                &name,
                e.status,
                e.expected,
                e.message.as_deref(),
                stack.as_deref(),
            );
            out.push_str(&wrap_and_indent(&lines, "  "));
            out.push('\n');
        }
        if !failures.is_empty() {
            self.tests_with_failing_subtests += 1;
            out.push_str(&self.subtests_output(&name, &failures));
        }
        self.failure_text.push_str(&out);
        self.text.push_str(&out);
    }

    fn log(&mut self, l: &Log, component: Option<&str>) {
        let is_error = matches!(l.level, Level::Error | Level::Critical);
        if is_error {
            self.open = true;
            self.harness_errors += 1;
        }
        // mozlog shows messages starting with STDERR too: that is how its
        // own exceptions are reported.
        if !is_error && !l.message.starts_with("STDERR") {
            return;
        }
        if let Some(c) = component {
            self.text.push_str(c);
            self.text.push(' ');
        }
        self.text.push_str(&format!("{} {}", l.level, l.message));
        if let Some(s) = &l.stack {
            self.text.push('\n');
            self.text.push_str(s);
        }
        self.text.push('\n');
    }

    fn suite_end(&mut self, time: u64) {
        self.open = false;
        let start = self.start_time.take().unwrap_or(time);
        let t = &mut self.text;
        t.push_str(&format!(
            "\nRan {} tests finished in {:.1} seconds.\n",
            self.completed_tests,
            time.saturating_sub(start) as f64 / 1000.0
        ));
        t.push_str(&format!(
            "  \u{2022} {} ran as expected. {} tests skipped.\n",
            self.expected.iter().sum::<u64>(),
            self.expected[Status::Skip as usize]
        ));
        if !self.known_intermittent.is_empty() {
            t.push_str(&format!(
                "  \u{2022} {} known intermittent results.\n",
                self.known_intermittent.len()
            ));
        }
        for (status, words) in UNEXPECTED_TEXTS {
            let n = self.unexpected[status as usize];
            if n > 0 {
                t.push_str(&format!("  \u{2022} {n} tests {words}\n"));
            }
        }
        if self.tests_with_failing_subtests > 0 {
            t.push_str(&format!(
                "  \u{2022} {} tests had unexpected subtest results\n",
                self.tests_with_failing_subtests
            ));
        }
        if self.harness_errors > 0 {
            t.push_str(&format!(
                "  \u{2022} {} errors logged by the harness\n",
                self.harness_errors
            ));
        }
        t.push('\n');
        // The failures again, easier to find than among every test's name.
        if !self.failure_text.is_empty() {
            t.push_str("Tests with unexpected results:\n");
            t.push_str(&self.failure_text);
        }
        if !self.known_intermittent.is_empty() {
            let lines: Vec<String> = self
                .known_intermittent
                .iter()
                .map(|k| {
                    let known: Vec<&str> = k.known.iter().map(|s| s.as_str()).collect();
                    format!(
                        "{} [expected {}, known intermittent [{}]] {}{}",
                        k.status,
                        k.expected,
                        known.join(", "),
                        escape_name(&test_name(k.subsuite.as_deref(), &k.test)),
                        k.subtest
                            .as_ref()
                            .map(|s| format!(", {}", escape_name(s)))
                            .unwrap_or_default()
                    )
                })
                .collect();
            t.push_str("Tests with known intermittent results:\n");
            t.push_str(&wrap_and_indent(&lines, "  "));
            t.push('\n');
        }
        // The next suite starts afresh.
        self.completed_tests = 0;
        self.expected = [0; 10];
        self.unexpected = [0; 10];
        self.known_intermittent.clear();
        self.tests_with_failing_subtests = 0;
        self.harness_errors = 0;
        self.failure_text.clear();
    }

    fn format(&mut self, e: &Entry) {
        match &e.action {
            Action::SuiteStart(s) => {
                self.open = true;
                let n = s.tests.count();
                self.suite_start(n, &e.source, e.time);
            }
            Action::SuiteEnd(_) => self.suite_end(e.time),
            Action::TestStart(t) => {
                self.open = true;
                self.running.insert(
                    t.test.clone(),
                    Running {
                        start: e.time,
                        output: String::new(),
                    },
                );
            }
            Action::TestStatus(s) => {
                self.open = true;
                self.test_status(s);
            }
            Action::TestEnd(end) => {
                self.open = true;
                self.test_end(end);
            }
            Action::ProcessOutput(p) => {
                if let Some(r) = p.test.as_ref().and_then(|t| self.running.get_mut(t)) {
                    r.output.push_str(&p.data);
                    r.output.push('\n');
                }
            }
            Action::Log(l) => self.log(l, e.component.as_deref()),
            // A crash is shown by its test's result; the rest has no place
            // in this format.
            Action::Crash(_)
            | Action::ProcessStart(_)
            | Action::ProcessExit(_)
            | Action::GroupStart(_)
            | Action::GroupEnd(_)
            | Action::AddSubsuite(_)
            | Action::Shutdown
            | Action::Other { .. } => {}
        }
    }

    fn write_text(&mut self) -> io::Result<()> {
        write_text(&mut self.out, &mut self.text, Ansi::Strip)
    }
}

impl Sink for Grouped {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        self.last_time = Some(e.time);
        if self.start_time.is_none() {
            // Without a suite_start, time runs from the first entry.
            self.start_time = Some(e.time);
        }
        self.format(e);
        self.write_text()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        // A stream cut short: the tests still running end in error, and the
        // summary is written as at `suite_end`.
        if let Some(time) = self.last_time.filter(|_| self.open) {
            let running: Vec<(u64, String, ())> = self
                .running
                .iter()
                .map(|(t, r)| (r.start, t.clone(), ()))
                .collect();
            end_unfinished(running, |end, ()| self.test_end(&end));
            self.suite_end(time);
        }
        self.write_text()?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, ProcessOutput, TestStart};
    use crate::sink::testing::{render, stream};

    fn grouped(name: &str) -> String {
        render(&stream(name, false), Grouped::new)
    }

    fn origin(thread: &str) -> Origin {
        Origin {
            thread: thread.into(),
            pid: 1,
            source: "s".into(),
        }
    }

    #[test]
    fn statuses() {
        insta::assert_snapshot!(grouped("statuses"));
    }

    #[test]
    fn incomplete_build_failed_and_empty_runs() {
        insta::assert_snapshot!("incomplete", grouped("incomplete"));
        insta::assert_snapshot!("build_failed", grouped("build-failed"));
        insta::assert_snapshot!("empty", grouped("empty"));
    }

    #[test]
    fn summary_counts() {
        let out = grouped("statuses");
        let summary = &out[out.find("\nRan ").expect("a summary")..];
        for line in [
            "Ran 14 tests finished in 0.4 seconds.\n",
            "  \u{2022} 6 ran as expected. 2 tests skipped.\n",
            "  \u{2022} 1 known intermittent results.\n",
            "  \u{2022} 1 tests crashed unexpectedly\n",
            "  \u{2022} 3 tests failed unexpectedly\n",
            "  \u{2022} 1 tests timed out unexpectedly\n",
            "  \u{2022} 1 tests had unexpected subtest results\n",
            "  \u{2022} 2 errors logged by the harness\n",
            "Tests with known intermittent results:\n  \u{25b6} FAIL [expected PASS, known intermittent [FAIL]] demo tests::flaky\n",
        ] {
            assert!(summary.contains(line), "missing {line:?} in\n{summary}");
        }
        assert!(!out.contains('\u{1b}'), "no escape codes at all");
    }

    #[test]
    fn tests_sharing_a_thread_keep_their_own_output() {
        // Two tests run at once on one thread: mozlog would mix them up.
        let o = origin("shared");
        let start = |t: &str| {
            Action::TestStart(TestStart {
                test: t.into(),
                ..Default::default()
            })
        };
        let out_line = |t: &str, data: &str| {
            Action::ProcessOutput(ProcessOutput {
                process: "1".into(),
                data: data.into(),
                command: None,
                test: Some(t.into()),
                subsuite: None,
            })
        };
        let mut crash = TestEnd::new("a", Status::Crash);
        crash.set_expected(Status::Pass);
        let entries = vec![
            o.entry(0, start("a")),
            o.entry(1, start("b")),
            o.entry(2, out_line("a", "a's output")),
            o.entry(3, out_line("b", "b's output")),
            o.entry(4, Action::TestEnd(TestEnd::new("b", Status::Pass))),
            o.entry(5, Action::TestEnd(crash)),
        ];
        let out = render(&entries, Grouped::new);
        assert!(out.starts_with(
            "  b\n  \u{25b6} CRASH [expected PASS] a\n  \u{2502} \n  \u{2514} a's output\n"
        ));
        assert!(!out.contains("b's output"));
    }

    #[test]
    fn every_status_is_counted() {
        let o = origin("t");
        let mut entries = Vec::new();
        for expected in [Status::Pass, Status::Fail] {
            for st in Status::ALL {
                let mut end = TestEnd::new(st.as_str(), st);
                end.set_expected(expected);
                entries.push(o.entry(1, Action::TestEnd(end)));
            }
        }
        entries.push(o.entry(2, Action::SuiteEnd(Default::default())));
        let out = render(&entries, Grouped::new);
        for line in [
            "Ran 20 tests finished in 0.0 seconds.\n",
            // PASS and SKIP, then FAIL and SKIP.
            "  \u{2022} 4 ran as expected. 2 tests skipped.\n",
            "  \u{2022} 2 tests asserted unexpectedly\n",
            "  \u{2022} 2 tests did not run unexpectedly\n",
            "  \u{2022} 1 tests failed unexpectedly\n",
            "  \u{2022} 1 tests passed unexpectedly\n",
            "  \u{2022} 2 tests unexpectedly okay\n",
        ] {
            assert!(out.contains(line), "missing {line:?} in\n{out}");
        }
    }

    #[test]
    fn a_megabyte_of_passing_output_is_not_written() {
        let out = render(&stream("statuses", true), Grouped::new);
        assert_eq!(out, grouped("statuses"));
        assert!(out.len() < 20_000);
    }
}
