//! `errorsummary`: JSON lines of what went wrong, for Treeherder.
//!
//! Follows mozlog's `ErrorSummaryFormatter`. Each line is a JSON object whose
//! fields come in mozlog's order, ending with `action` and `line` (the index
//! of the entry that caused it in the stream, from 0):
//!
//! * `test_groups` at `suite_start`: `{"groups":[...],"action":"test_groups","line":0}`;
//! * `test_result` for every result that carries `expected` (unexpected
//!   ones, and known intermittents with their `known_intermittent` list):
//!   `test`, `subtest` (null for a test), `group`, `status`, `expected`,
//!   `message`, `stack`, `modifiers`, `known_intermittent`;
//! * `log` for a log entry at ERROR or CRITICAL: `level`, `message`;
//! * `crash`: `test`, `signature`, `stackwalk_stdout`, `stackwalk_stderr`,
//!   and `group` when the crash names a test;
//! * `group_result` for every group at `suite_end`: `group`, `status` (mozlog's:
//!   SKIP when all its tests were skipped, ERROR once one result was
//!   unexpected, else OK; FAIL after a `shutdown_failure`; null when nothing
//!   decided it), `duration` (ms: from `group_start` to `group_end`, else the
//!   sum of its tests' durations);
//! * `log` for `shutdown_failure` and `lint` for `lint`, as mozlog writes them.
//!
//! Differences from mozlog, by design:
//!
//! * Lines are compact JSON (no space after `:` and `,`) with UTF-8 text as it
//!   is; control characters are escaped by JSON (`\u0000`), so nothing is
//!   lost and nothing raw is written. ANSI sequences in messages are kept
//!   (escaped) for the reader to decide.
//! * A result's `group` is its own `group` field when it has one, else the
//!   group `suite_start` listed it in (mozlog ignores the field).
//! * A crash of a test without a known group does not create a group named
//!   `""`; `shutdown_failure` for an unknown group writes `"group":""` (mozlog
//!   writes an empty list); `lint` lines are written (mozlog drops them).
//! * Passing results are never written: mozlog writes them when the
//!   environment variable `MOZLOG_DUMP_ALL_TESTS` is set, but this output
//!   depends on the entries alone.
//! * Groups are reset after each `suite_end`, so a second suite reports its
//!   own groups rather than every group seen so far.
//! * mozlog's test-name clean-up (`"x (finished)"` → `"x"`, by cutting at the
//!   first space) only drops a trailing ` (finished)`, as test ids here
//!   contain spaces.
//! * A stream that ends early (no `suite_end`) is completed when the sink
//!   finishes: every test still running gets a `test_result` with status
//!   ERROR (the log ends before its result), and the `group_result` lines
//!   follow.
//! * Memory: only running tests, per-group totals and a 64-bit hash of each
//!   listed test id (for its group) are kept, not the durations of every test.

use super::common::end_unfinished;
use super::index::{hash_id, PreHashed};
use super::{Output, Sink};
use crate::model::{Action, Crash, Entry, Level, Log, Status, TestEnd, TestStatus};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::io::{self, Write};

/// What mozlog keeps for a group.
#[derive(Debug)]
struct Group {
    name: String,
    status: Option<&'static str>,
    group_start: Option<u64>,
    group_end: Option<u64>,
    all_skipped: bool,
    /// The sum of its tests' durations (mozlog keeps the list).
    test_time: u64,
}

/// A running test: its group and start time.
struct Running {
    group: Option<String>,
    start: u64,
}

/// The errorsummary sink.
pub struct ErrorSummary {
    out: Output,
    /// Entries seen before the current one: the `line` field.
    line: u64,
    /// Groups in the order mozlog first touches them.
    groups: Vec<Group>,
    /// Group name → index in `groups`.
    group_index: foldhash::HashMap<String, usize>,
    /// The groups `suite_start` listed (mozlog's manifest groups).
    manifest_groups: Vec<String>,
    /// Manifest group name → index in `manifest_groups`.
    manifest_index: foldhash::HashMap<String, usize>,
    /// Hash of a listed test id → index in `manifest_groups`. Hashes rather
    /// than ids, so a suite of a million tests costs megabytes, not tens
    /// (two listed ids sharing a hash are too unlikely to matter, and would
    /// only mislabel a group for a result without its own `group`).
    test_to_group: HashMap<u64, u32, BuildHasherDefault<PreHashed>>,
    running: foldhash::HashMap<String, Running>,
    test_time_divisor: u64,
    test_time_divisor_group: Option<String>,
    last_time: Option<u64>,
    text: Vec<u8>,
}

#[derive(Serialize)]
struct TestGroups<'a> {
    groups: Vec<&'a str>,
    action: &'static str,
    line: u64,
}

#[derive(Serialize)]
struct TestResult<'a> {
    test: &'a str,
    subtest: Option<&'a str>,
    group: &'a str,
    status: Status,
    expected: Status,
    message: Option<&'a str>,
    stack: Option<&'a str>,
    modifiers: &'a Value,
    known_intermittent: &'a [Status],
    action: &'static str,
    line: u64,
}

#[derive(Serialize)]
struct GroupResult<'a> {
    group: &'a str,
    status: Option<&'a str>,
    duration: u64,
    action: &'static str,
    line: u64,
}

#[derive(Serialize)]
struct LogLine<'a> {
    level: Level,
    message: &'a str,
    action: &'static str,
    line: u64,
}

#[derive(Serialize)]
struct CrashLine<'a> {
    test: Option<&'a str>,
    signature: &'a str,
    stackwalk_stdout: Option<&'a str>,
    stackwalk_stderr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    action: &'static str,
    line: u64,
}

#[derive(Serialize)]
struct ShutdownFailure<'a> {
    status: &'static str,
    test: &'a str,
    message: &'a str,
    group: &'a str,
    action: &'static str,
    line: u64,
}

#[derive(Serialize)]
struct Lint<'a> {
    level: &'a Value,
    path: &'a Value,
    message: &'a Value,
    lineno: &'a Value,
    column: &'a Value,
    rule: &'a Value,
    linter: &'a Value,
    action: &'static str,
    line: u64,
}

static EMPTY: Value = Value::String(String::new());
static NULL: Value = Value::Null;

/// mozlog's `_clean_test_name`, for ids that may contain spaces.
fn clean_test_name(test: &str) -> &str {
    test.strip_suffix(" (finished)").unwrap_or(test)
}

impl ErrorSummary {
    /// An errorsummary sink.
    pub fn new(out: Output) -> ErrorSummary {
        ErrorSummary {
            out,
            line: 0,
            groups: Vec::new(),
            group_index: Default::default(),
            manifest_groups: Vec::new(),
            manifest_index: Default::default(),
            test_to_group: HashMap::default(),
            running: Default::default(),
            test_time_divisor: 1,
            test_time_divisor_group: None,
            last_time: None,
            text: Vec::new(),
        }
    }

    fn emit<T: Serialize>(&mut self, value: &T) {
        serde_json::to_writer(&mut self.text, value).expect("serializing to a Vec cannot fail");
        self.text.push(b'\n');
    }

    /// The group (mozlog's `defaultdict`: created on first use).
    fn group(&mut self, name: &str) -> &mut Group {
        let i = match self.group_index.get(name) {
            Some(&i) => i,
            None => {
                self.group_index.insert(name.to_string(), self.groups.len());
                self.groups.push(Group {
                    name: name.to_string(),
                    status: None,
                    group_start: None,
                    group_end: None,
                    all_skipped: true,
                    test_time: 0,
                });
                self.groups.len() - 1
            }
        };
        &mut self.groups[i]
    }

    /// The group a suite listed a test in.
    fn listed_group(&self, test: &str) -> Option<&str> {
        self.test_to_group
            .get(&hash_id(test))
            .map(|&i| self.manifest_groups[i as usize].as_str())
    }

    /// A result's group: its own field, else the listed one.
    fn group_of(&self, own: Option<&str>, test: &str) -> Option<String> {
        own.or_else(|| self.listed_group(test)).map(str::to_string)
    }

    /// mozlog's `_get_group_result`: the group's status after a result.
    fn update_group(
        &mut self,
        name: &str,
        status: Status,
        expected: Option<Status>,
        known: &[Status],
    ) {
        let g = self.group(name);
        let mut result = g.status;
        if result == Some("ERROR") {
            return;
        }
        if status == Status::Skip {
            if result.is_none() {
                result = Some("SKIP");
            }
        } else {
            g.all_skipped = false;
            let expected = expected.unwrap_or(status);
            result = if status == expected || known.contains(&status) {
                Some("OK")
            } else {
                Some("ERROR")
            };
        }
        g.status = result;
    }

    fn suite_start(&mut self, tests: &crate::model::Tests) {
        self.manifest_groups.clear();
        self.test_to_group.clear();
        self.test_to_group.reserve(tests.count());
        let mut empty: Vec<String> = Vec::new();
        let (groups, map) = (&mut self.manifest_groups, &mut self.test_to_group);
        let mut count_in_group = 0usize;
        tests.each(&mut |group, id| match id {
            None => {
                if groups.last().is_some() && count_in_group == 0 {
                    empty.push(groups.last().cloned().unwrap_or_default());
                }
                groups.push(group.to_string());
                count_in_group = 0;
            }
            Some(id) => {
                // A test listed twice belongs to the last group, as in mozlog.
                map.insert(hash_id(id), (groups.len() - 1) as u32);
                count_in_group += 1;
            }
        });
        if !self.manifest_groups.is_empty() && count_in_group == 0 {
            empty.extend(self.manifest_groups.last().cloned());
        }
        self.manifest_index = self.manifest_groups.iter().cloned().zip(0..).collect();
        // Groups without tests (missing manifests) are skipped.
        for name in &empty {
            self.group(name).status = Some("SKIP");
        }
        let line = self.line;
        let names = std::mem::take(&mut self.manifest_groups);
        self.emit(&TestGroups {
            groups: names.iter().map(String::as_str).collect(),
            action: "test_groups",
            line,
        });
        self.manifest_groups = names;
    }

    fn suite_end(&mut self) {
        let line = self.line;
        self.group_index.clear();
        for g in std::mem::take(&mut self.groups) {
            let duration = match (g.group_start, g.group_end) {
                (Some(start), Some(end)) => end.saturating_sub(start),
                _ => g.test_time,
            };
            self.emit(&GroupResult {
                group: &g.name,
                status: g.status,
                duration,
                action: "group_result",
                line,
            });
        }
    }

    fn test_start(&mut self, test: &str, own_group: Option<&str>, time: u64) {
        let test = clean_test_name(test);
        let group = self.group_of(own_group, test);
        if let Some(g) = &group {
            self.group(g);
        }
        self.running
            .insert(test.to_string(), Running { group, start: time });
    }

    fn test_status(&mut self, s: &TestStatus) {
        let test = clean_test_name(&s.test);
        if let Some(g) = self.group_of(s.group.as_deref(), test) {
            self.update_group(&g, s.status, s.expected, &s.known_intermittent);
        }
        if let Some(expected) = s.expected {
            let group = self.result_group(s.group.as_deref(), test);
            self.test_result(
                test,
                Some(&s.subtest),
                &group,
                s.status,
                expected,
                s.message.as_deref(),
                s.stack.as_deref(),
                s.extra.as_ref(),
                &s.known_intermittent,
            );
        }
    }

    fn test_end(&mut self, e: &TestEnd, time: u64) {
        let test = clean_test_name(&e.test);
        let running = self.running.remove(test);
        if let Some(g) = self.group_of(e.group.as_deref(), test) {
            self.update_group(&g, e.status, e.expected, &e.known_intermittent);
            if let Some(r) = running.filter(|_| e.status != Status::Skip) {
                let elapsed = time.saturating_sub(r.start);
                let divided = elapsed.div_ceil(self.test_time_divisor.max(1));
                self.group(&g).test_time += divided;
            }
        }
        if let Some(expected) = e.expected {
            let group = self.result_group(e.group.as_deref(), test);
            self.test_result(
                test,
                None,
                &group,
                e.status,
                expected,
                e.message.as_deref(),
                e.stack.as_deref(),
                e.extra.as_ref(),
                &e.known_intermittent,
            );
        }
    }

    /// The `group` field of a `test_result`: `""` when unknown, as in mozlog.
    fn result_group(&self, own: Option<&str>, test: &str) -> String {
        self.group_of(own, test).unwrap_or_default()
    }

    #[allow(clippy::too_many_arguments)]
    fn test_result(
        &mut self,
        test: &str,
        subtest: Option<&str>,
        group: &str,
        status: Status,
        expected: Status,
        message: Option<&str>,
        stack: Option<&str>,
        extra: Option<&Map<String, Value>>,
        known_intermittent: &[Status],
    ) {
        let line = self.line;
        self.emit(&TestResult {
            test,
            subtest,
            group,
            status,
            expected,
            message,
            stack,
            modifiers: extra.and_then(|x| x.get("modifiers")).unwrap_or(&EMPTY),
            known_intermittent,
            action: "test_result",
            line,
        });
    }

    fn log(&mut self, l: &Log) {
        if !matches!(l.level, Level::Error | Level::Critical) {
            return;
        }
        let line = self.line;
        self.emit(&LogLine {
            level: l.level,
            message: &l.message,
            action: "log",
            line,
        });
    }

    fn crash(&mut self, c: &Crash) {
        let mut group = None;
        if let Some(test) = &c.test {
            let test = clean_test_name(test);
            let mut g = self
                .running
                .get(test)
                .and_then(|r| r.group.clone())
                .or_else(|| self.listed_group(test).map(str::to_string))
                .unwrap_or_default();
            // The test may be a group's name rather than a test's.
            if g.is_empty() && self.group_index.contains_key(test) {
                g = test.to_string();
            }
            // A crash entry has no expectation: its group is in error.
            if !g.is_empty() {
                self.group(&g).status = Some("ERROR");
            }
            group = Some(g);
        }
        let line = self.line;
        self.emit(&CrashLine {
            test: c.test.as_deref(),
            signature: &c.signature,
            stackwalk_stdout: c.stackwalk_stdout.as_deref(),
            stackwalk_stderr: c.stackwalk_stderr.as_deref(),
            group: group.as_deref(),
            action: "crash",
            line,
        });
    }

    fn group_start(&mut self, name: &str, extra: Option<&Map<String, Value>>, time: u64) {
        if self.manifest_index.contains_key(name) {
            self.group(name).group_start = Some(time);
        } else {
            let threads = extra
                .and_then(|x| x.get("threads"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if threads > 1 {
                self.test_time_divisor = threads;
                self.test_time_divisor_group = Some(name.to_string());
            }
        }
    }

    fn group_end(&mut self, name: &str, time: u64) {
        if self.manifest_index.contains_key(name) {
            let g = self.group(name);
            if !g.all_skipped {
                g.group_end = Some(time);
            }
        } else if self.test_time_divisor_group.as_deref() == Some(name) {
            self.test_time_divisor = 1;
            self.test_time_divisor_group = None;
        }
    }

    fn other(&mut self, action: &str, f: &Map<String, Value>) {
        let line = self.line;
        let get = |k: &str| f.get(k).unwrap_or(&NULL);
        match action {
            "shutdown_failure" => {
                let test = f.get("group").and_then(Value::as_str).unwrap_or("");
                let message = f.get("message").and_then(Value::as_str).unwrap_or("");
                let found = self
                    .groups
                    .iter()
                    .position(|g| test.ends_with(g.name.as_str()));
                let group = match found {
                    Some(i) => {
                        self.groups[i].status = Some("FAIL");
                        self.groups[i].name.clone()
                    }
                    None => String::new(),
                };
                self.emit(&ShutdownFailure {
                    status: "FAIL",
                    test,
                    message,
                    group: &group,
                    action: "log",
                    line,
                });
            }
            "lint" => self.emit(&Lint {
                level: get("level"),
                path: get("path"),
                message: get("message"),
                lineno: get("lineno"),
                column: get("column"),
                rule: get("rule"),
                linter: get("linter"),
                action: "lint",
                line,
            }),
            _ => {}
        }
    }

    fn format(&mut self, e: &Entry) {
        match &e.action {
            Action::SuiteStart(s) => self.suite_start(&s.tests),
            Action::SuiteEnd(_) => self.suite_end(),
            Action::TestStart(t) => self.test_start(&t.test, t.group.as_deref(), e.time),
            Action::TestStatus(s) => self.test_status(s),
            Action::TestEnd(end) => self.test_end(end, e.time),
            Action::Log(l) => self.log(l),
            Action::Crash(c) => self.crash(c),
            Action::GroupStart(g) => self.group_start(&g.name, g.extra.as_ref(), e.time),
            Action::GroupEnd(g) => self.group_end(&g.name, e.time),
            Action::Other { action, fields } => self.other(action, fields),
            // Output and process lifetimes are no errors by themselves: the
            // results that follow them are.
            Action::ProcessOutput(_)
            | Action::ProcessStart(_)
            | Action::ProcessExit(_)
            | Action::AddSubsuite(_)
            | Action::Shutdown => {}
        }
    }

    fn write_text(&mut self) -> io::Result<()> {
        if !self.text.is_empty() {
            self.out.write_all(&self.text)?;
            self.text.clear();
        }
        Ok(())
    }
}

impl Sink for ErrorSummary {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        self.last_time = Some(e.time);
        self.format(e);
        self.line += 1;
        self.write_text()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        // A stream cut short: tests still running end in error, and the
        // groups are reported as at `suite_end`.
        if let Some(time) = self.last_time {
            let running: Vec<(u64, String, Option<String>)> = self
                .running
                .iter()
                .map(|(t, r)| (r.start, t.clone(), r.group.clone()))
                .collect();
            end_unfinished(running, |mut end, group| {
                end.group = group;
                self.test_end(&end, time);
            });
            if !self.groups.is_empty() {
                self.suite_end();
            }
        }
        self.write_text()?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Named, Origin};
    use crate::sink::testing::{render, stream};
    use serde_json::json;

    fn errorsummary(name: &str) -> String {
        render(&stream(name, false), ErrorSummary::new)
    }

    fn parse(out: &str) -> Vec<Value> {
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn statuses() {
        insta::assert_snapshot!(errorsummary("statuses"));
    }

    #[test]
    fn incomplete_build_failed_and_empty_runs() {
        insta::assert_snapshot!("incomplete", errorsummary("incomplete"));
        insta::assert_snapshot!("build_failed", errorsummary("build-failed"));
        insta::assert_snapshot!("empty", errorsummary("empty"));
    }

    #[test]
    fn every_line_parses_back_with_its_fields() {
        let lines = parse(&errorsummary("statuses"));
        let actions: Vec<&str> = lines
            .iter()
            .map(|l| l["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "test_groups",
                "test_result",
                "test_result",
                "test_result",
                "test_result",
                "crash",
                "test_result",
                "test_result",
                "test_result",
                "log",
                "log",
                "test_result",
                "test_result",
                "group_result",
                "group_result",
            ]
        );
        assert_eq!(
            lines[0],
            json!({"groups": ["demo", "demo::it"], "action": "test_groups", "line": 0})
        );
        // Fields in mozlog's order (serde_json's map sorts them: read the text).
        let raw = errorsummary("statuses");
        let first_result = raw.lines().nth(1).unwrap();
        let positions: Vec<usize> = [
            "test",
            "subtest",
            "group",
            "status",
            "expected",
            "message",
            "stack",
            "modifiers",
            "known_intermittent",
            "action",
            "line",
        ]
        .iter()
        .map(|k| first_result.find(&format!("\"{k}\":")).unwrap())
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{first_result}");
        assert_eq!(lines[1].as_object().unwrap().len(), positions.len());
        assert_eq!(lines[1]["test"], "demo tests::fails");
        assert_eq!(lines[1]["subtest"], Value::Null);
        assert_eq!(lines[1]["group"], "demo");
        assert_eq!(lines[1]["status"], "FAIL");
        assert_eq!(lines[1]["expected"], "PASS");
        assert_eq!(
            lines[1]["message"],
            "assertion `left == right` failed\n  left: 1\n right: 2"
        );
        assert!(lines[1]["stack"]
            .as_str()
            .unwrap()
            .starts_with("panicked at demo/src/lib.rs:20:9"));
        assert_eq!(lines[1]["known_intermittent"], json!([]));
        assert_eq!(lines[1]["line"], 12);
        // The unexpected pass of a should_panic test.
        assert_eq!(
            (lines[2]["status"].as_str(), lines[2]["expected"].as_str()),
            (Some("PASS"), Some("FAIL"))
        );
        assert_eq!(lines[5]["signature"], "SIGSEGV");
        assert_eq!(lines[5]["group"], "demo");
        // A known intermittent is written with its list.
        assert_eq!(lines[7]["test"], "demo tests::flaky");
        assert_eq!(lines[7]["known_intermittent"], json!(["FAIL"]));
        // A subtest names its test, group and subtest.
        assert_eq!(lines[8]["test"], "demo tests::with_subtests");
        assert_eq!(lines[8]["subtest"], "second");
        assert_eq!(lines[8]["group"], "demo");
        assert_eq!(
            lines[9],
            json!({"level": "ERROR", "message": "a error message", "action": "log", "line": 41})
        );
        assert_eq!(lines[10]["level"], "CRITICAL");
        // Control characters and ANSI sequences survive, escaped by JSON.
        assert_eq!(
            lines[12]["message"],
            "\u{1b}[1;31mbold red\u{1b}[0m <tag> & \"quotes\" 'apos' ]]> nul:\u{0} bell:\u{7} esc:\u{1b} del:\u{7f} \u{fffe}"
        );
        assert_eq!(lines[11]["test"], "demo::it unicode_ünï");
        assert_eq!(lines[11]["group"], "demo::it");
        assert_eq!(
            lines[13],
            json!({"group": "demo", "status": "ERROR", "duration": 133, "action": "group_result", "line": 52})
        );
        assert_eq!(
            lines[14],
            json!({"group": "demo::it", "status": "ERROR", "duration": 42, "action": "group_result", "line": 52})
        );
    }

    #[test]
    fn no_raw_control_characters() {
        let out = errorsummary("statuses");
        assert!(!out.chars().any(|c| c < ' ' && c != '\n'));
    }

    #[test]
    fn a_truncated_stream_still_reports_its_groups() {
        let lines = parse(&errorsummary("incomplete"));
        let last = &lines[lines.len() - 2..];
        assert_eq!(last[0]["action"], "test_result");
        assert_eq!(last[0]["test"], "demo tests::fails");
        assert_eq!(last[0]["status"], "ERROR");
        assert_eq!(last[0]["group"], "demo");
        assert_eq!(
            last[1],
            json!({"group": "demo", "status": "ERROR", "duration": 28, "action": "group_result", "line": 8})
        );
    }

    #[test]
    fn group_statuses_follow_mozlog() {
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        let mut tests = crate::model::TestGroups::new();
        tests.insert("skipped".into(), vec!["s1".into()]);
        tests.insert("good".into(), vec!["g1".into(), "g2".into()]);
        tests.insert("none".into(), vec![]);
        tests.insert("timed".into(), vec!["t1".into()]);
        let named = |name: &str| Named {
            name: name.into(),
            extra: None,
            run_info: None,
        };
        let mut flaky = TestEnd::new("g2", Status::Fail);
        flaky.set_expected(Status::Pass);
        flaky.known_intermittent = vec![Status::Fail];
        let entries = vec![
            o.entry(
                0,
                Action::SuiteStart(crate::model::SuiteStart {
                    tests: tests.into(),
                    ..Default::default()
                }),
            ),
            o.entry(
                1,
                Action::TestStart(crate::model::TestStart {
                    test: "s1".into(),
                    ..Default::default()
                }),
            ),
            o.entry(2, Action::TestEnd(TestEnd::new("s1", Status::Skip))),
            o.entry(
                3,
                Action::TestStart(crate::model::TestStart {
                    test: "g1".into(),
                    ..Default::default()
                }),
            ),
            o.entry(10, Action::TestEnd(TestEnd::new("g1", Status::Pass))),
            o.entry(
                11,
                Action::TestStart(crate::model::TestStart {
                    test: "g2".into(),
                    ..Default::default()
                }),
            ),
            o.entry(15, Action::TestEnd(flaky)),
            o.entry(20, Action::GroupStart(named("timed"))),
            o.entry(
                21,
                Action::TestStart(crate::model::TestStart {
                    test: "t1".into(),
                    ..Default::default()
                }),
            ),
            o.entry(22, Action::TestEnd(TestEnd::new("t1", Status::Pass))),
            o.entry(50, Action::GroupEnd(named("timed"))),
            o.entry(60, Action::SuiteEnd(Default::default())),
        ];
        let lines = parse(&render(&entries, ErrorSummary::new));
        let results: Vec<(String, Value, u64)> = lines
            .iter()
            .filter(|l| l["action"] == "group_result")
            .map(|l| {
                (
                    l["group"].as_str().unwrap().to_string(),
                    l["status"].clone(),
                    l["duration"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            results,
            [
                ("none".to_string(), json!("SKIP"), 0),
                ("skipped".to_string(), json!("SKIP"), 0),
                ("good".to_string(), json!("OK"), 11),
                ("timed".to_string(), json!("OK"), 30),
            ]
        );
        // The known intermittent is written, and does not fail its group.
        assert_eq!(
            lines
                .iter()
                .filter(|l| l["action"] == "test_result")
                .count(),
            1
        );
    }

    #[test]
    fn a_megabyte_of_output_is_not_written() {
        let out = render(&stream("statuses", true), ErrorSummary::new);
        assert!(out.len() < 20_000, "output lines are no errors");
        assert_eq!(out, errorsummary("statuses"));
    }
}
