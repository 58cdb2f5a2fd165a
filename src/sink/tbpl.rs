//! `tbpl`: the line format that Treeherder and mozharness log parsers read.
//!
//! Follows mozlog's `TbplFormatter`: `SUITE-START | Running N tests`,
//! `TEST-START | id`, `TEST-PASS | id | took 14ms`, `TEST-UNEXPECTED-FAIL | id
//! | message` followed by `TEST-INFO took 49ms`, `TEST-SKIP`, subtest lines
//! (`TEST-PASS | id | subtest`), `PID 5001 | output`, `PROCESS-CRASH | reason
//! [signature] | id`, `TEST-INFO | started process ...`, log messages as they
//! are (without their level, as mozlog writes them), and `SUITE-END | took
//! 0s`. Durations come from the entries' times. In compact mode, expected
//! subtest results are folded into a line of dots, and the last 10 of them
//! are shown as context before an unexpected one.
//!
//! Differences from mozlog, by design:
//!
//! * An expected result that is not a pass (a `#[should_panic]` test: FAIL
//!   with no `expected`) is written `TEST-KNOWN-FAIL | id | took 7ms`, the
//!   tbpl token for an expected failure, where mozlog writes `TEST-FAIL`. Expected ERROR, TIMEOUT, CRASH, ASSERT and
//!   PRECONDITION_FAILED are written the same way, with an `expected STATUS`
//!   section before the duration. PASS, OK, SKIP and NOTRUN keep mozlog's
//!   `TEST-<STATUS>`; known intermittents keep `TEST-KNOWN-INTERMITTENT-<STATUS>`.
//! * Compact mode: the dots and the context held before an unexpected
//!   `test_end` are written (mozlog drops them), as are dots still pending at
//!   `suite_end`; a line of zero dots is not written as an empty line; and
//!   subtests already folded into dots (because a log or output line came
//!   between them) are not shown again as context.
//! * `TEST-INFO` after an unexpected result has no dangling separator when
//!   the duration is unknown, and is left out when it would be empty.
//! * `lint` and `lsan_summary` lines are written whole (mozlog's `lint`
//!   raises, and its `lsan_summary` line lacks its newline); the `mozleak_total`
//!   failure line has no stray blank line; a crash without a `process` or a
//!   `stackwalk_returncode` is written rather than raising.
//! * A stream that ends early (no `suite_end`) is completed when the sink
//!   finishes: every test still running is written as `TEST-UNEXPECTED-ERROR`
//!   (the log ends before its result), then `SUITE-END`, both at the time of
//!   the last entry.
//! * Text is made safe for a file or a terminal: control characters other
//!   than tab and newline are written as `\xNN`. ANSI color sequences (SGR,
//!   `ESC [ ... m`) are kept, as mozlog keeps them: they change no text a
//!   parser reads. Any other escape sequence (cursor movement, screen
//!   clearing) has its ESC shown as `\x1b`, so it cannot act on a terminal.

use super::common::{end_unfinished, write_text};
use super::{Output, Sink};
use crate::model::{Action, Crash, Entry, Log, Status, TestEnd, TestStatus};
use crate::text::{exit_status_text, Ansi};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Write};

/// How many expected subtest results compact mode keeps as context.
const CONTEXT: usize = 10;

/// The tbpl sink.
pub struct Tbpl {
    out: Output,
    compact: bool,
    suite_start_time: Option<u64>,
    /// True between `suite_start` and `suite_end`.
    suite_open: bool,
    /// Start times of the tests that are running, by test id.
    test_start_times: foldhash::HashMap<String, u64>,
    /// Compact mode: expected subtest results not yet written (as dots).
    subtests_count: usize,
    /// Compact mode: the last of those, kept as context for a failure.
    context: VecDeque<TestStatus>,
    last_time: Option<u64>,
    text: String,
}

impl Tbpl {
    /// A tbpl sink; `compact` folds expected subtest results into dots.
    pub fn new(out: Output, compact: bool) -> Tbpl {
        Tbpl {
            out,
            compact,
            suite_start_time: None,
            suite_open: false,
            test_start_times: Default::default(),
            subtests_count: 0,
            context: VecDeque::new(),
            last_time: None,
            text: String::new(),
        }
    }

    /// The line of dots for `count` folded subtests (none for zero).
    fn dots(&mut self, count: usize, component: Option<&str>) {
        if count == 0 {
            return;
        }
        if let Some(c) = component.filter(|c| !c.is_empty()) {
            self.text.push_str(c);
            self.text.push(' ');
        }
        self.text.extend(std::iter::repeat_n('.', count));
        self.text.push('\n');
    }

    /// mozlog's `output_subtests`: pending dots come before any other line.
    /// The folded subtests are then written, so they are no context any more.
    fn flush_dots(&mut self, component: Option<&str>) {
        let count = std::mem::take(&mut self.subtests_count);
        self.context.clear();
        self.dots(count, component);
    }

    fn log(&mut self, l: &Log, component: Option<&str>) {
        self.flush_dots(component);
        if let Some(c) = component.filter(|c| !c.is_empty()) {
            self.text.push_str(c);
            self.text.push(' ');
        }
        self.text.push_str(&l.message);
        if let Some(s) = &l.stack {
            self.text.push('\n');
            self.text.push_str(s);
        }
        self.text.push('\n');
    }

    fn crash(&mut self, c: &Crash, pid: i64, component: Option<&str>) {
        self.flush_dots(component);
        let id = match (&c.test, &c.process) {
            (Some(t), _) => t.clone(),
            (None, Some(p)) => format!("pid: {p}"),
            (None, None) => format!("pid: {pid}"),
        };
        let mut prefix = if c.quiet {
            "INFO crashed process".to_string()
        } else {
            "PROCESS-CRASH".to_string()
        };
        // The minidump's name lets Treeherder link the dump.
        if let Some(path) = c.minidump_path.as_deref().filter(|p| !p.is_empty()) {
            let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
            let stem = match base.rfind('.') {
                Some(i) if i > 0 => &base[..i],
                _ => base,
            };
            prefix.push_str(" | ");
            prefix.push_str(stem);
        }
        let mut rv: Vec<String> = Vec::new();
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        if let Some(java) = nonempty(&c.java_stack) {
            // "<exception> at <top frame>" is the signature of a Java exception.
            let sig: Vec<&str> = java.split('\n').take(2).collect();
            rv.push(format!("{prefix} | {id} | {}\n[{java}]", sig.join(" ")));
            if let Some(r) = nonempty(&c.reason) {
                rv.push(format!("Mozilla crash reason: {r}"));
            }
            if let Some(m) = nonempty(&c.minidump_path) {
                rv.push(format!("Crash dump filename: {m}"));
            }
        } else {
            let signature = if c.signature.is_empty() {
                "unknown top frame"
            } else {
                &c.signature
            };
            let reason = c.reason.as_deref().unwrap_or("application crashed");
            // The trailing space is mozlog's; parsers match the line as it is.
            rv.push(format!("{prefix} | {reason} [{signature}] | {id} "));
            if let Some(t) = nonempty(&c.process_type) {
                rv.push(format!("Process type: {t}"));
            }
            rv.push(format!("Process pid: {pid}"));
            if let Some(r) = nonempty(&c.reason) {
                rv.push(format!("Mozilla crash reason: {r}"));
            }
            if let Some(m) = nonempty(&c.minidump_path) {
                rv.push(format!("Crash dump filename: {m}"));
            }
            if let Some(s) = nonempty(&c.stackwalk_stderr) {
                rv.push("stderr from minidump-stackwalk:".into());
                rv.push(s);
            } else if let Some(s) = nonempty(&c.stackwalk_stdout) {
                rv.push(s);
            }
            if let Some(code) = c.stackwalk_returncode.filter(|c| *c != 0) {
                rv.push(format!("minidump-stackwalk exited with return code {code}"));
            }
            rv.extend(c.stackwalk_errors.iter().cloned());
        }
        let rv = rv.join("\n");
        self.text.push_str(&rv);
        if !rv.ends_with('\n') {
            self.text.push('\n');
        }
    }

    fn test_status(&mut self, s: &TestStatus, component: Option<&str>) {
        if !self.compact {
            format_status(&mut self.text, s);
        } else if s.expected.is_some() {
            // Dots for what is not context, the context, then the result.
            let count = std::mem::take(&mut self.subtests_count);
            self.dots(count.saturating_sub(self.context.len()), component);
            for held in std::mem::take(&mut self.context) {
                format_status(&mut self.text, &held);
            }
            format_status(&mut self.text, s);
        } else {
            self.subtests_count += 1;
            if self.context.len() == CONTEXT {
                self.context.pop_front();
            }
            self.context.push_back(s.clone());
        }
    }

    fn test_end(&mut self, e: &TestEnd, time: u64, component: Option<&str>) {
        if self.compact && self.subtests_count > 0 {
            let print_context = e.expected.is_some();
            let count = std::mem::take(&mut self.subtests_count);
            let context = std::mem::take(&mut self.context);
            if print_context {
                self.dots(count.saturating_sub(context.len()), component);
                for held in &context {
                    format_status(&mut self.text, held);
                }
            } else {
                self.dots(count, component);
            }
        }
        let took = self
            .test_start_times
            .remove(&e.test)
            .map(|start| time.saturating_sub(start));
        let screenshots = screenshots(e.extra.as_ref());
        // Earlier attempts (`--retries`) whose status differs from the final
        // one are known intermittents: log parsers do not count them as failures.
        if let Some(attempts) = e
            .extra
            .as_ref()
            .and_then(|x| x.get("attempts")?.as_array().cloned())
        {
            let total = attempts.len();
            for (n, a) in attempts.iter().enumerate().take(total.saturating_sub(1)) {
                let status = a["status"].as_str().unwrap_or("");
                if status == e.status.as_str() {
                    continue;
                }
                let message = a["message"].as_str().unwrap_or("");
                self.text.push_str(&format!(
                    "TEST-KNOWN-INTERMITTENT-{status} | {} | attempt {} of {total}: {message}\n",
                    e.test,
                    n + 1
                ));
            }
        }
        match e.expected {
            Some(exp) if !e.known_intermittent.contains(&e.status) => {
                let mut message = e
                    .message
                    .clone()
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| format!("expected {exp}"));
                if let Some(s) = &e.stack {
                    message.push('\n');
                    message.push_str(s);
                }
                if message.ends_with('\n') {
                    message.pop();
                }
                if let Some(s) = &screenshots {
                    message.push('\n');
                    message.push_str(s);
                }
                let mut rv = format!("TEST-UNEXPECTED-{} | {} | {message}\n", e.status, e.test);
                let mut info = Vec::new();
                if !matches!(exp, Status::Pass | Status::Ok) {
                    info.push(format!("expected {exp}"));
                }
                info.extend(took.map(|ms| format!("took {ms}ms")));
                if !info.is_empty() {
                    rv.push_str(&format!("TEST-INFO {}\n", info.join(" | ")));
                }
                self.text.push_str(&rv);
            }
            _ => {
                // The common line, written in place.
                let text = &mut self.text;
                push_expected_token(text, e.status, &e.expected);
                text.push_str(" | ");
                text.push_str(&e.test);
                if e.expected.is_none() && is_known_fail(e.status) && e.status != Status::Fail {
                    let _ = write!(text, " | expected {}", e.status);
                }
                if let Some(ms) = took {
                    let _ = write!(text, " | took {ms}ms");
                }
                text.push('\n');
                if let Some(s) = &screenshots {
                    text.push_str(s);
                    text.push('\n');
                }
            }
        }
    }

    fn other(&mut self, action: &str, f: &Map<String, Value>, component: Option<&str>) {
        let int = |k: &str| f.get(k).and_then(Value::as_i64).unwrap_or(0);
        let string = |k: &str| {
            f.get(k)
                .filter(|v| !v.is_null())
                .map(display)
                .unwrap_or_default()
        };
        let flag = |k: &str| f.get(k).is_some_and(truthy_value);
        let strings = |k: &str| -> Vec<String> {
            f.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(display).collect())
                .unwrap_or_default()
        };
        let rv = match action {
            "assertion_count" => {
                let (count, min, max) = (int("count"), int("min_expected"), int("max_expected"));
                let expected = if min != max {
                    format!("{min} to {max}")
                } else {
                    format!("{min}")
                };
                let (status, comparison) = if count < min {
                    ("TEST-UNEXPECTED-PASS", "is less than")
                } else if count > max {
                    ("TEST-UNEXPECTED-FAIL", "is more than")
                } else if count > 0 {
                    ("TEST-KNOWN-FAIL", "matches")
                } else {
                    return;
                };
                format!(
                    "{status} | {} | assertion count {count} {comparison} expected {expected} assertions\n",
                    string("test")
                )
            }
            "lint" => {
                let column = f
                    .get("column")
                    .filter(|c| truthy_value(c))
                    .map(|c| format!(":{}", display(c)))
                    .unwrap_or_default();
                let rule = [string("rule"), string("linter")]
                    .into_iter()
                    .find(|r| !r.is_empty())
                    .unwrap_or_default();
                format!(
                    "TEST-UNEXPECTED-{} | {}:{}{column} | {} ({rule})\n",
                    string("level"),
                    string("path"),
                    int("lineno"),
                    string("message")
                )
            }
            "lsan_leak" => {
                let allowed = f.get("allowed_match").filter(|v| truthy_value(v));
                let prefix = if allowed.is_some() {
                    "TEST-FAIL"
                } else {
                    "TEST-UNEXPECTED-FAIL"
                };
                let mut rv = format!(
                    "{prefix} | LeakSanitizer | leak at {}\n",
                    strings("frames").join(", ")
                );
                if let Some(m) = allowed {
                    rv.push_str(&format!(
                        "INFO | LeakSanitizer | Frame {} matched a expected leak\n",
                        display(m)
                    ));
                }
                rv
            }
            "lsan_summary" => format!(
                "{} | LeakSanitizer | SUMMARY: AddressSanitizer: {} byte(s) leaked in {} allocation(s).\n",
                if flag("allowed") { "INFO" } else { "ERROR" },
                int("bytes"),
                int("allocations")
            ),
            "mozleak_object" => format!(
                "TEST-INFO | leakcheck | {} leaked {} {}\n",
                string("process"),
                int("bytes"),
                string("name")
            ),
            "mozleak_total" => mozleak_total(f),
            "shutdown_failure" => {
                self.flush_dots(component);
                format!(
                    "TEST-UNEXPECTED-FAIL | {} | {}\n",
                    string("group"),
                    string("message")
                )
            }
            "valgrind_error" => {
                self.flush_dots(component);
                let mut rv = format!("TEST-UNEXPECTED-VALGRIND-ERROR | {}\n", string("primary"));
                for l in strings("secondary") {
                    rv.push_str(&l);
                    rv.push('\n');
                }
                rv
            }
            _ => return,
        };
        self.text.push_str(&rv);
    }

    /// Appends the lines for an entry to `self.text`.
    fn format(&mut self, e: &Entry) {
        let component = e.component.as_deref();
        match &e.action {
            Action::SuiteStart(s) => {
                self.suite_start_time = Some(e.time);
                self.suite_open = true;
                let n = s.tests.count();
                self.text
                    .push_str(&format!("SUITE-START | Running {n} tests\n"));
            }
            Action::SuiteEnd(_) => self.suite_end(e.time),
            Action::TestStart(t) => {
                self.test_start_times.insert(t.test.clone(), e.time);
                let _ = writeln!(self.text, "TEST-START | {}", t.test);
            }
            Action::TestStatus(s) => self.test_status(s, component),
            Action::TestEnd(end) => self.test_end(end, e.time, component),
            Action::ProcessOutput(p) => {
                self.flush_dots(component);
                let pid = if !p.process.is_empty() && p.process.bytes().all(|b| b.is_ascii_digit())
                {
                    Cow::Owned(format!("PID {}", p.process))
                } else {
                    Cow::Borrowed(p.process.as_str())
                };
                let _ = writeln!(self.text, "{pid} | {}", p.data);
            }
            Action::Log(l) => self.log(l, component),
            Action::Crash(c) => self.crash(c, e.pid, component),
            Action::ProcessStart(p) => {
                self.flush_dots(component);
                let mut msg = format!("TEST-INFO | started process {}", p.process);
                if let Some(c) = &p.command {
                    msg.push_str(&format!(" ({c})"));
                }
                msg.push('\n');
                self.text.push_str(&msg);
            }
            Action::ProcessExit(p) => {
                self.flush_dots(component);
                self.text.push_str(&format!(
                    "TEST-INFO | {}: {}\n",
                    p.process,
                    exit_status_text(p.exitcode)
                ));
            }
            Action::Other { action, fields } => self.other(action, fields, component),
            // mozlog writes its overall summary at shutdown only when asked
            // to (`summary_on_shutdown`), which this format does not offer.
            Action::Shutdown
            | Action::GroupStart(_)
            | Action::GroupEnd(_)
            | Action::AddSubsuite(_) => {}
        }
    }

    fn suite_end(&mut self, time: u64) {
        // Dots still pending belong to this suite (mozlog drops them).
        self.flush_dots(None);
        self.suite_open = false;
        let start = self.suite_start_time.unwrap_or(time);
        let secs = time.saturating_sub(start) / 1000;
        self.text.push_str(&format!("SUITE-END | took {secs}s\n"));
    }

    fn write_text(&mut self) -> io::Result<()> {
        write_text(&mut self.out, &mut self.text, Ansi::KeepColors)
    }
}

/// Writes the `TEST-<...>` token of a result that is not unexpected.
fn push_expected_token(out: &mut String, status: Status, expected: &Option<Status>) {
    if expected.is_some() {
        // Only known intermittents get here with `expected` set.
        let _ = write!(out, "TEST-KNOWN-INTERMITTENT-{status}");
    } else if is_known_fail(status) {
        out.push_str("TEST-KNOWN-FAIL");
    } else {
        let _ = write!(out, "TEST-{status}");
    }
}

/// Statuses that, when expected, are an expected failure.
fn is_known_fail(status: Status) -> bool {
    match status {
        Status::Fail
        | Status::Error
        | Status::Timeout
        | Status::Crash
        | Status::Assert
        | Status::PreconditionFailed => true,
        Status::Pass | Status::Ok | Status::Skip | Status::Notrun => false,
    }
}

/// mozlog's `_format_status`: a subtest result's lines.
fn format_status(text: &mut String, s: &TestStatus) {
    let mut message = s.message.clone().unwrap_or_default();
    if let Some(stack) = &s.stack {
        message.push('\n');
        message.push_str(stack);
    }
    if message.ends_with('\n') {
        message.pop();
    }
    if let Some(exp) = s.expected {
        if !s.known_intermittent.contains(&s.status) {
            if message.is_empty() {
                message = format!("expected {exp}");
            }
            text.push_str(&format!(
                "TEST-UNEXPECTED-{} | {} | {} - {message}\n",
                s.status, s.test, s.subtest
            ));
            if exp != Status::Pass {
                text.push_str(&format!("TEST-INFO | expected {exp}\n"));
            }
            return;
        }
    }
    let mut subtest_msg = s.subtest.clone();
    if !message.is_empty() {
        subtest_msg.push_str(" - ");
        subtest_msg.push_str(&message);
    }
    let mut token = String::new();
    push_expected_token(&mut token, s.status, &s.expected);
    let mut sections = vec![token, s.test.clone(), subtest_msg];
    if s.expected.is_none() && is_known_fail(s.status) && s.status != Status::Fail {
        sections.push(format!("expected {}", s.status));
    }
    text.push_str(&sections.join(" | "));
    text.push('\n');
}

/// mozlog's reftest screenshot lines, from `extra.reftest_screenshots`.
fn screenshots(extra: Option<&Map<String, Value>>) -> Option<String> {
    let shots = extra?.get("reftest_screenshots")?.as_array()?;
    let shot = |i: usize| shots[i].get("screenshot").map(display).unwrap_or_default();
    match shots.len() {
        3 => Some(format!(
            "REFTEST   IMAGE 1 (TEST): data:image/png;base64,{}\nREFTEST   IMAGE 2 (REFERENCE): data:image/png;base64,{}",
            shot(0),
            shot(2)
        )),
        1 => Some(format!("REFTEST   IMAGE: data:image/png;base64,{}", shot(0))),
        _ => None,
    }
}

/// mozlog's `mozleak_total` line.
fn mozleak_total(f: &Map<String, Value>) -> String {
    let process = f.get("process").map(display).unwrap_or_default();
    let flag = |k: &str| f.get(k).is_some_and(truthy_value);
    let Some(bytes) = f.get("bytes").and_then(Value::as_i64) else {
        // No line named TOTAL was seen.
        return if flag("induced_crash") {
            format!("TEST-INFO | leakcheck | {process} deliberate crash and thus no leak log\n")
        } else if flag("ignore_missing") {
            format!(
                "TEST-INFO | leakcheck | {process} ignoring missing output line for total leaks\n"
            )
        } else {
            format!("TEST-UNEXPECTED-FAIL | leakcheck | {process} missing output line for total leaks!\n")
        };
    };
    if bytes == 0 {
        return format!("TEST-PASS | leakcheck | {process} no leaks detected!\n");
    }
    let objects: Vec<String> = f
        .get("objects")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(display).collect())
        .unwrap_or_default();
    const BIG_LEAKERS: [&str; 6] = [
        "nsGlobalWindowInner",
        "nsGlobalWindowOuter",
        "Document",
        "nsDocShell",
        "BrowsingContext",
        "SystemGlobal",
    ];
    let message = match BIG_LEAKERS.iter().find(|b| objects.iter().any(|o| o == *b)) {
        Some(big) => format!(
            "leakcheck large {big} | {}",
            f.get("scope").map(display).unwrap_or_else(|| "None".into())
        ),
        None => {
            // The first objects, to help match bug summaries.
            let mut summary = objects
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if objects.len() > 5 {
                summary.push_str(", ...");
            }
            format!("leakcheck | {process} {bytes} bytes leaked ({summary})")
        }
    };
    let threshold = f.get("threshold").and_then(Value::as_i64).unwrap_or(0);
    if bytes > threshold {
        format!("TEST-UNEXPECTED-FAIL | {message}\n")
    } else {
        format!("WARNING | {message}\n")
    }
}

/// A JSON value as text: strings as they are, anything else as JSON.
fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Python's truthiness of a JSON value.
fn truthy_value(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

impl Sink for Tbpl {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        self.last_time = Some(e.time);
        self.format(e);
        self.write_text()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        // A stream cut short: the tests still running get a result, so that a
        // log parser sees that the run did not complete, and the suite ends.
        if let Some(time) = self.last_time {
            let running: Vec<(u64, String, ())> = self
                .test_start_times
                .iter()
                .map(|(t, s)| (*s, t.clone(), ()))
                .collect();
            end_unfinished(running, |end, ()| self.test_end(&end, time, None));
            if self.suite_open {
                self.suite_end(time);
            } else {
                self.flush_dots(None);
            }
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
    use crate::text::safe_text;

    fn tbpl(name: &str, compact: bool) -> String {
        render(&stream(name, false), |o| Tbpl::new(o, compact))
    }

    #[test]
    fn earlier_attempts_are_known_intermittents() {
        let out = tbpl("retries", false);
        assert!(out.contains(
            "TEST-KNOWN-INTERMITTENT-FAIL | flaky::checks flaky_once | attempt 1 of 2: first attempt fails"
        ), "{out}");
        assert!(
            out.contains("TEST-PASS | flaky::checks flaky_once"),
            "{out}"
        );
        assert!(
            out.contains("TEST-UNEXPECTED-TIMEOUT | flaky::checks still_failing"),
            "{out}"
        );
        insta::assert_snapshot!(out);
    }

    fn origin() -> Origin {
        Origin {
            thread: "t".into(),
            pid: 7,
            source: "s".into(),
        }
    }

    fn status(subtest: &str, status: Status, expected: Option<Status>) -> Action {
        Action::TestStatus(TestStatus {
            test: "t1".into(),
            subtest: subtest.into(),
            status,
            expected,
            message: None,
            stack: None,
            extra: None,
            known_intermittent: Vec::new(),
            subsuite: None,
            group: None,
        })
    }

    #[test]
    fn statuses() {
        insta::assert_snapshot!(tbpl("statuses", false));
    }

    #[test]
    fn statuses_compact() {
        insta::assert_snapshot!(tbpl("statuses", true));
    }

    #[test]
    fn incomplete_build_failed_and_empty_runs() {
        insta::assert_snapshot!("incomplete", tbpl("incomplete", false));
        insta::assert_snapshot!("build_failed", tbpl("build-failed", false));
        insta::assert_snapshot!("empty", tbpl("empty", false));
    }

    #[test]
    fn lines_log_parsers_match() {
        let out = tbpl("statuses", false);
        for line in [
            "SUITE-START | Running 14 tests\n",
            "TEST-START | demo tests::passes\n",
            "TEST-PASS | demo tests::passes | took 14ms\n",
            "TEST-UNEXPECTED-FAIL | demo tests::fails | assertion `left == right` failed\n",
            "TEST-INFO took 49ms\n",
            "TEST-KNOWN-FAIL | demo tests::should_panic_panics | took 7ms\n",
            "TEST-UNEXPECTED-PASS | demo tests::should_panic_no_panic | test did not panic",
            "TEST-INFO expected FAIL | took 7ms\n",
            "TEST-SKIP | demo tests::skips_plain | took 7ms\n",
            "TEST-KNOWN-INTERMITTENT-FAIL | demo tests::flaky | took 7ms\n",
            "TEST-UNEXPECTED-TIMEOUT | demo tests::hangs | timed out",
            "PROCESS-CRASH | was killed by signal 11 (SIGSEGV) [SIGSEGV] | demo tests::crashes \n",
            "TEST-INFO | 5001: killed by SIGTERM\n",
            "SUITE-END | took 0s\n",
        ] {
            assert!(out.contains(line), "missing {line:?} in\n{out}");
        }
        assert!(!out.contains("TEST-FAIL |"));
    }

    #[test]
    fn no_raw_control_characters_but_colors() {
        let out = tbpl("statuses", false);
        let bad = out
            .chars()
            .filter(|c| (*c < ' ' && *c != '\n' && *c != '\t') || *c == '\u{7f}')
            .filter(|c| *c != '\u{1b}')
            .count();
        assert_eq!(bad, 0);
        assert!(out.contains("\u{1b}[1;31mbold red\u{1b}[0m"));
        assert!(out.contains("nul:\\x00 bell:\\x07 esc:\\x1b del:\\x7f"));
        // Every ESC left starts a color sequence.
        for (i, _) in out.match_indices('\u{1b}') {
            assert_eq!(
                crate::text::escape_sequence_len(&out[i..]).map(|s| s.1),
                Some(true),
                "bare ESC at {i}"
            );
        }
    }

    #[test]
    fn escape_sequences() {
        let keep = |s| safe_text(s, Ansi::KeepColors).into_owned();
        let strip = |s| safe_text(s, Ansi::Strip).into_owned();
        assert_eq!(keep("\u{1b}[1;31mred\u{1b}[0m"), "\u{1b}[1;31mred\u{1b}[0m");
        assert_eq!(keep("a\u{1b}[2Jb"), "a\\x1b[2Jb");
        assert_eq!(keep("\u{1b}]0;title\u{7}x"), "\\x1b]0;title\\x07x");
        assert_eq!(
            keep("esc:\u{1b} del:\u{7f}\r\n\t"),
            "esc:\\x1b del:\\x7f\\x0d\n\t"
        );
        assert_eq!(
            strip("\u{1b}[1;31mred\u{1b}[0m \u{1b}[2J\u{1b}]0;t\u{1b}\\x"),
            "red x"
        );
        assert_eq!(strip("esc:\u{1b} d \u{1b}[31"), "esc:\\x1b d \\x1b[31");
        assert_eq!(strip("plain ✓"), "plain ✓");
    }

    #[test]
    fn a_megabyte_output_line_is_written_whole_once() {
        let out = render(&stream("statuses", true), |o| Tbpl::new(o, false));
        let big = "0123456789abcdef".repeat(65536);
        assert_eq!(out.matches(big.as_str()).count(), 1);
        assert!(out.contains(&format!(
            "PID 5001 | {big}\nTEST-PASS | demo::it big_output"
        )));
        assert!(out.len() < big.len() + 10_000);
    }

    #[test]
    fn compact_mode_folds_subtests_and_keeps_context() {
        let o = origin();
        let mut entries = vec![o.entry(
            0,
            Action::TestStart(crate::model::TestStart {
                test: "t1".into(),
                ..Default::default()
            }),
        )];
        for i in 0..13 {
            entries.push(o.entry(1, status(&format!("s{i}"), Status::Pass, None)));
        }
        entries.push(o.entry(2, status("bad", Status::Fail, Some(Status::Pass))));
        for i in 0..3 {
            entries.push(o.entry(3, status(&format!("p{i}"), Status::Pass, None)));
        }
        let mut end = TestEnd::new("t1", Status::Ok);
        end.set_expected(Status::Error);
        entries.push(o.entry(9, Action::TestEnd(end)));
        let out = render(&entries, |o| Tbpl::new(o, true));
        assert_eq!(
            out,
            "TEST-START | t1\n\
             ...\n\
             TEST-PASS | t1 | s3\nTEST-PASS | t1 | s4\nTEST-PASS | t1 | s5\n\
             TEST-PASS | t1 | s6\nTEST-PASS | t1 | s7\nTEST-PASS | t1 | s8\n\
             TEST-PASS | t1 | s9\nTEST-PASS | t1 | s10\nTEST-PASS | t1 | s11\n\
             TEST-PASS | t1 | s12\n\
             TEST-UNEXPECTED-FAIL | t1 | bad - expected PASS\n\
             TEST-PASS | t1 | p0\nTEST-PASS | t1 | p1\nTEST-PASS | t1 | p2\n\
             TEST-UNEXPECTED-OK | t1 | expected ERROR\n\
             TEST-INFO expected ERROR | took 9ms\n"
        );
    }

    #[test]
    fn compact_dots_flushed_by_output_are_not_repeated() {
        let o = origin();
        let out_line = Action::ProcessOutput(crate::model::ProcessOutput {
            process: "9".into(),
            data: "hi".into(),
            command: None,
            test: None,
            subsuite: None,
        });
        let entries = vec![
            o.entry(1, status("a", Status::Pass, None)),
            o.entry(1, status("b", Status::Pass, None)),
            o.entry(1, out_line),
            o.entry(1, status("c", Status::Pass, None)),
            o.entry(1, status("d", Status::Fail, Some(Status::Pass))),
        ];
        let out = render(&entries, |o| Tbpl::new(o, true));
        assert_eq!(
            out,
            "..\nPID 9 | hi\nTEST-PASS | t1 | c\nTEST-UNEXPECTED-FAIL | t1 | d - expected PASS\n"
        );
    }

    #[test]
    fn expected_non_passing_statuses_are_known_failures() {
        let o = origin();
        let mut entries = Vec::new();
        for st in Status::ALL {
            entries.push(o.entry(1, Action::TestEnd(TestEnd::new(st.as_str(), st))));
        }
        let out = render(&entries, |o| Tbpl::new(o, false));
        assert_eq!(
            out,
            "TEST-PASS | PASS\n\
             TEST-KNOWN-FAIL | FAIL\n\
             TEST-OK | OK\n\
             TEST-KNOWN-FAIL | ERROR | expected ERROR\n\
             TEST-KNOWN-FAIL | TIMEOUT | expected TIMEOUT\n\
             TEST-KNOWN-FAIL | CRASH | expected CRASH\n\
             TEST-KNOWN-FAIL | ASSERT | expected ASSERT\n\
             TEST-KNOWN-FAIL | PRECONDITION_FAILED | expected PRECONDITION_FAILED\n\
             TEST-SKIP | SKIP\n\
             TEST-NOTRUN | NOTRUN\n"
        );
    }

    #[test]
    fn rare_actions() {
        let o = origin();
        let other = |action: &str, json: &str| Action::Other {
            action: action.into(),
            fields: serde_json::from_str(json).unwrap(),
        };
        let entries = vec![
            o.entry(1, other("assertion_count", r#"{"test":"a","count":3,"min_expected":0,"max_expected":1}"#)),
            o.entry(1, other("lint", r#"{"level":"ERROR","path":"x.rs","lineno":3,"column":4,"message":"bad","rule":null,"linter":"clippy"}"#)),
            o.entry(1, other("lsan_summary", r#"{"bytes":10,"allocations":2}"#)),
            o.entry(1, other("mozleak_total", r#"{"process":"tab","bytes":100,"threshold":0,"objects":["A","B"]}"#)),
        ];
        let out = render(&entries, |o| Tbpl::new(o, false));
        assert_eq!(
            out,
            "TEST-UNEXPECTED-FAIL | a | assertion count 3 is more than expected 0 to 1 assertions\n\
             TEST-UNEXPECTED-ERROR | x.rs:3:4 | bad (clippy)\n\
             ERROR | LeakSanitizer | SUMMARY: AddressSanitizer: 10 byte(s) leaked in 2 allocation(s).\n\
             TEST-UNEXPECTED-FAIL | leakcheck | tab 100 bytes leaked (A, B)\n"
        );
    }
}
