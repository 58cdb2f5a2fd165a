//! `unittest`: one character per result, then a summary, like Python's
//! `unittest` module prints (mozlog's `UnittestFormatter`).
//!
//! Each `test_end` writes one character as it comes; an unexpected subtest
//! result writes its own character when it comes (expected subtest results
//! write nothing). The characters:
//!
//! | result                                                       | char |
//! |--------------------------------------------------------------|------|
//! | PASS or OK, as expected                                      | `.`  |
//! | SKIP                                                         | `S`  |
//! | any other expected status (a `#[should_panic]` test's FAIL)  | `x`  |
//! | a known intermittent status                                  | `k`  |
//! | unexpected PASS or OK                                        | `X`  |
//! | unexpected FAIL or PRECONDITION_FAILED                       | `F`  |
//! | unexpected ERROR                                             | `E`  |
//! | unexpected TIMEOUT                                           | `T`  |
//! | unexpected CRASH                                             | `C`  |
//! | unexpected ASSERT                                            | `A`  |
//! | unexpected NOTRUN                                            | `N`  |
//! | `assertion_count`: in range / more / fewer than expected     | `.` / `F` / `X` |
//!
//! At `suite_end` the summary follows: each failure (`F`), then each error
//! (`E`, `T`, `C`, `A`, `N`, and log entries at ERROR or CRITICAL), then each
//! unexpected pass (`X`), as `STATUS test` with the message and stack below,
//! then `Ran N tests in 0.4s` and, as Python's `unittest` ends, `OK` or
//! `FAILED (failures=4, errors=5, ...)` with the skipped, expected-failure
//! and known-intermittent counts.
//!
//! Differences from mozlog, by design:
//!
//! * Every status has a character: mozlog raises on an unexpected TIMEOUT,
//!   CRASH, ASSERT, NOTRUN or OK, and writes `.` for an expected failure.
//! * Known intermittents are not failures (mozlog lists them as FAIL).
//! * Unexpected subtest results, unexpected passes, timeouts, crashes and
//!   harness errors (log entries at ERROR or CRITICAL) are listed; mozlog
//!   lists unexpected FAIL, PRECONDITION_FAILED and ERROR only. The final
//!   `OK` / `FAILED (...)` line is added so the summary says how the run went.
//! * A result without a message is listed without one (mozlog raises); the
//!   stack is shown under the message; the heading names the real status
//!   (mozlog writes FAIL for PRECONDITION_FAILED); every listed result is
//!   followed by a blank line.
//! * Results of a suite are listed at its `suite_end` and then forgotten, so
//!   a second suite does not list the first one's failures again.
//! * A stream that ends early (no `suite_end`) still gets its summary when the
//!   sink finishes: every test still running counts as an unexpected ERROR
//!   (the log ends before its result), and the time runs to the last entry.
//! * Text is made safe for a file: ANSI escape sequences are removed and
//!   other control characters than tab and newline are shown as `\xNN`.
//! * Memory: counts and the listed (unexpected) results only.

use super::common::{end_unfinished, write_text};
use super::{Output, Sink};
use crate::model::{Action, Entry, Level, Log, Status, TestEnd, TestStatus};
use crate::text::Ansi;
use serde_json::{Map, Value};
use std::io::{self, Write};

/// Where a listed result goes in the summary.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Failure,
    Error,
    UnexpectedSuccess,
}

/// A result listed in the summary.
struct Listed {
    kind: Kind,
    heading: String,
    message: Option<String>,
    stack: Option<String>,
}

/// Counts for the final line.
#[derive(Default)]
struct Counts {
    skipped: u64,
    expected_failures: u64,
    known_intermittent: u64,
}

/// The unittest sink.
pub struct Unittest {
    out: Output,
    tests_run: u64,
    start_time: Option<u64>,
    last_time: Option<u64>,
    /// Something happened that the summary must report.
    open: bool,
    /// Tests running, with their start times (for a stream cut short).
    running: foldhash::HashMap<String, u64>,
    /// Characters written on the current line.
    chars: bool,
    listed: Vec<Listed>,
    counts: Counts,
    text: String,
}

/// The character for a result, and where it is listed (if it is).
fn classify(status: Status, expected: Option<Status>, known: &[Status]) -> (char, Option<Kind>) {
    match expected {
        None => match status {
            Status::Pass | Status::Ok => ('.', None),
            Status::Skip => ('S', None),
            Status::Fail
            | Status::Error
            | Status::Timeout
            | Status::Crash
            | Status::Assert
            | Status::PreconditionFailed
            | Status::Notrun => ('x', None),
        },
        Some(_) if known.contains(&status) => ('k', None),
        Some(_) => match status {
            Status::Pass | Status::Ok => ('X', Some(Kind::UnexpectedSuccess)),
            Status::Fail | Status::PreconditionFailed => ('F', Some(Kind::Failure)),
            Status::Error => ('E', Some(Kind::Error)),
            Status::Timeout => ('T', Some(Kind::Error)),
            Status::Crash => ('C', Some(Kind::Error)),
            Status::Assert => ('A', Some(Kind::Error)),
            Status::Notrun => ('N', Some(Kind::Error)),
            // mozlog never writes `expected` for SKIP.
            Status::Skip => ('S', None),
        },
    }
}

impl Unittest {
    /// A unittest sink.
    pub fn new(out: Output) -> Unittest {
        Unittest {
            out,
            tests_run: 0,
            start_time: None,
            last_time: None,
            open: false,
            running: Default::default(),
            chars: false,
            listed: Vec::new(),
            counts: Counts::default(),
            text: String::new(),
        }
    }

    /// Writes a result's character and keeps what the summary needs.
    fn result(
        &mut self,
        heading: String,
        status: Status,
        expected: Option<Status>,
        known: &[Status],
        message: Option<&str>,
        stack: Option<&str>,
    ) {
        let (c, kind) = classify(status, expected, known);
        self.push_char(c);
        match c {
            'S' => self.counts.skipped += 1,
            'x' => self.counts.expected_failures += 1,
            'k' => self.counts.known_intermittent += 1,
            _ => {}
        }
        if let Some(kind) = kind {
            let heading = match kind {
                Kind::UnexpectedSuccess => format!("UNEXPECTED-{status} {heading}"),
                Kind::Failure | Kind::Error => format!("{status} {heading}"),
            };
            self.listed.push(Listed {
                kind,
                heading,
                message: message.map(str::to_string),
                stack: stack.map(str::to_string),
            });
        }
    }

    fn test_end(&mut self, e: &TestEnd) {
        self.running.remove(&e.test);
        self.result(
            e.test.clone(),
            e.status,
            e.expected,
            &e.known_intermittent,
            e.message.as_deref(),
            e.stack.as_deref(),
        );
    }

    fn test_status(&mut self, s: &TestStatus) {
        // Only unexpected subtest results are shown: there may be thousands
        // of expected ones per test.
        if s.expected.is_none() || s.known_intermittent.contains(&s.status) {
            return;
        }
        self.result(
            format!("{} [{}]", s.test, s.subtest),
            s.status,
            s.expected,
            &s.known_intermittent,
            s.message.as_deref(),
            s.stack.as_deref(),
        );
    }

    fn log(&mut self, l: &Log) {
        if !matches!(l.level, Level::Error | Level::Critical) {
            return;
        }
        self.open = true;
        self.listed.push(Listed {
            kind: Kind::Error,
            heading: format!("{} {}", l.level, l.message),
            message: None,
            stack: l.stack.clone(),
        });
    }

    fn assertion_count(&mut self, f: &Map<String, Value>) {
        let int = |k: &str| f.get(k).and_then(Value::as_i64).unwrap_or(0);
        let (count, min, max) = (int("count"), int("min_expected"), int("max_expected"));
        let test = match f.get("test") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        if count < min {
            self.push_char('X');
        } else if count > max {
            self.push_char('F');
            self.listed.push(Listed {
                kind: Kind::Failure,
                heading: format!("FAIL {test}"),
                message: Some(format!("assertion count {count} is greater than {max}")),
                stack: None,
            });
        } else {
            self.push_char('.');
        }
    }

    fn push_char(&mut self, c: char) {
        self.text.push(c);
        self.chars = true;
    }

    fn summary(&mut self, end_time: u64) {
        self.open = false;
        let start = self.start_time.take().unwrap_or(end_time);
        // End the line of characters, if any, and leave a blank line.
        if std::mem::take(&mut self.chars) {
            self.text.push_str("\n\n");
        }
        let listed = std::mem::take(&mut self.listed);
        let mut n = [0u64; 3];
        for kind in [Kind::Failure, Kind::Error, Kind::UnexpectedSuccess] {
            for l in listed.iter().filter(|l| l.kind == kind) {
                n[kind as usize] += 1;
                self.text.push_str(&l.heading);
                self.text.push('\n');
                for part in [&l.message, &l.stack].into_iter().flatten() {
                    self.text.push_str(part.trim_end_matches('\n'));
                    self.text.push('\n');
                }
                self.text.push('\n');
            }
        }
        let secs = end_time.saturating_sub(start) as f64 / 1000.0;
        self.text
            .push_str(&format!("Ran {} tests in {secs:.1}s\n\n", self.tests_run));
        let counts = std::mem::take(&mut self.counts);
        let parts: Vec<String> = [
            ("failures", n[Kind::Failure as usize]),
            ("errors", n[Kind::Error as usize]),
            ("skipped", counts.skipped),
            ("expected failures", counts.expected_failures),
            ("known intermittent", counts.known_intermittent),
            ("unexpected successes", n[Kind::UnexpectedSuccess as usize]),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
        let failed = n.iter().any(|n| *n > 0);
        self.text.push_str(if failed { "FAILED" } else { "OK" });
        if !parts.is_empty() {
            self.text.push_str(&format!(" ({})", parts.join(", ")));
        }
        self.text.push('\n');
        self.tests_run = 0;
    }

    fn format(&mut self, e: &Entry) {
        match &e.action {
            Action::SuiteStart(_) => {
                self.open = true;
                self.start_time = Some(e.time);
            }
            Action::SuiteEnd(_) => self.summary(e.time),
            Action::TestStart(t) => {
                self.open = true;
                self.tests_run += 1;
                self.running.insert(t.test.clone(), e.time);
            }
            Action::TestEnd(end) => {
                self.open = true;
                self.test_end(end);
            }
            Action::TestStatus(s) => {
                self.open = true;
                self.test_status(s);
            }
            Action::Log(l) => self.log(l),
            Action::Other { action, fields } if action == "assertion_count" => {
                self.open = true;
                self.assertion_count(fields);
            }
            // A crash is reported by the result of its test; output and
            // process lifetimes are not part of this format.
            Action::Other { .. }
            | Action::Crash(_)
            | Action::ProcessOutput(_)
            | Action::ProcessStart(_)
            | Action::ProcessExit(_)
            | Action::GroupStart(_)
            | Action::GroupEnd(_)
            | Action::AddSubsuite(_)
            | Action::Shutdown => {}
        }
    }

    fn write_text(&mut self) -> io::Result<()> {
        write_text(&mut self.out, &mut self.text, Ansi::Strip)
    }
}

impl Sink for Unittest {
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
            let running: Vec<(u64, String, ())> =
                self.running.drain().map(|(t, s)| (s, t, ())).collect();
            end_unfinished(running, |end, ()| self.test_end(&end));
            self.summary(time);
        }
        self.write_text()?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Origin;
    use crate::sink::testing::{render, stream};

    fn unittest(name: &str) -> String {
        render(&stream(name, false), Unittest::new)
    }

    #[test]
    fn statuses() {
        insta::assert_snapshot!(unittest("statuses"));
    }

    #[test]
    fn incomplete_build_failed_and_empty_runs() {
        insta::assert_snapshot!("incomplete", unittest("incomplete"));
        insta::assert_snapshot!("build_failed", unittest("build-failed"));
        insta::assert_snapshot!("empty", unittest("empty"));
    }

    #[test]
    fn the_characters_line() {
        let out = unittest("statuses");
        assert_eq!(out.lines().next(), Some(".FSSxXETCkF.FF."));
        assert!(out.ends_with(
            "Ran 14 tests in 0.4s\n\nFAILED (failures=4, errors=5, skipped=2, expected failures=1, known intermittent=1, unexpected successes=1)\n"
        ));
    }

    #[test]
    fn runs_without_results_have_no_line_of_characters() {
        assert_eq!(unittest("empty"), "Ran 0 tests in 0.0s\n\nOK\n");
        assert_eq!(
            unittest("build-failed"),
            "ERROR build failed\n  mismatched types\n\nRan 0 tests in 0.0s\n\nFAILED (errors=1)\n"
        );
    }

    #[test]
    fn every_status_has_a_character() {
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        let mut entries = Vec::new();
        for expected in [Status::Pass, Status::Error] {
            for st in Status::ALL {
                let mut end = TestEnd::new(st.as_str(), st);
                end.set_expected(expected);
                entries.push(o.entry(1, Action::TestEnd(end)));
            }
        }
        let out = render(&entries, Unittest::new);
        // Expected PASS: PASS is expected, the rest unexpected; then expected
        // ERROR: ERROR is an expected failure.
        assert_eq!(out.lines().next(), Some(".FXETCAFSNXFXxTCAFSN"));
        assert!(out.contains("\nPRECONDITION_FAILED PRECONDITION_FAILED\n"));
        assert!(out.contains("\nUNEXPECTED-OK OK\n"));
        assert!(out.contains("\nNOTRUN NOTRUN\n"));
    }

    #[test]
    fn no_raw_control_characters() {
        let out = unittest("statuses");
        assert!(!out
            .chars()
            .any(|c| (c < ' ' && c != '\n' && c != '\t') || c == '\u{7f}'));
        assert!(out.contains("bold red <tag>"));
        assert!(out.contains("nul:\\x00 bell:\\x07"));
    }

    #[test]
    fn a_megabyte_of_output_is_not_written() {
        let out = render(&stream("statuses", true), Unittest::new);
        assert_eq!(out, unittest("statuses"));
        assert!(out.len() < 5_000);
    }
}
