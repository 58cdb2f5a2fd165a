//! The event model: mozlog's structured-log entries as Rust types.
//!
//! Every entry has the common fields `action`, `time` (integer milliseconds
//! since the Unix epoch), `thread`, `pid` and `source`, plus the fields of its
//! action. The field sets follow mozlog's `structuredlog.py` (`log_action`
//! declarations); `expected` is omitted when it equals `status` and for SKIP,
//! as mozlog does, so its presence means "unexpected".
//!
//! Entries are written as one JSON object per line (mozlog's raw format) by
//! [`Entry::write_json`] and read back by [`Entry::from_json`], which accepts
//! any mozlog producer's log, not only ours.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io;

pub(crate) mod json;
mod read;
mod write;

pub use read::ParseError;
use read::{CountTests, EachTest, TestList};
mod scan;
pub(crate) mod summary;

/// The longest raw-log line read: a run's `suite_start` of a million tests
/// is a few tens of megabytes. A longer line (or an input with no line
/// break at all, such as `/dev/zero`) is reported as malformed and skipped
/// without being kept, so memory stays bounded whatever the input.
pub const MAX_LINE: usize = 64 << 20;

/// A test result status (mozlog's `Status` and `SubStatus` enums together).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pass,
    Fail,
    Ok,
    Error,
    Timeout,
    Crash,
    Assert,
    PreconditionFailed,
    Skip,
    Notrun,
}

impl Status {
    /// Every status, in mozlog's order.
    pub const ALL: [Status; 10] = [
        Status::Pass,
        Status::Fail,
        Status::Ok,
        Status::Error,
        Status::Timeout,
        Status::Crash,
        Status::Assert,
        Status::PreconditionFailed,
        Status::Skip,
        Status::Notrun,
    ];

    /// The status as mozlog spells it (`PASS`, `PRECONDITION_FAILED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Ok => "OK",
            Status::Error => "ERROR",
            Status::Timeout => "TIMEOUT",
            Status::Crash => "CRASH",
            Status::Assert => "ASSERT",
            Status::PreconditionFailed => "PRECONDITION_FAILED",
            Status::Skip => "SKIP",
            Status::Notrun => "NOTRUN",
        }
    }

    /// Parses mozlog's spelling.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Lower-case spelling, as mozlog's summaries print it.
    pub fn lower(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Crash => "crash",
            Status::Assert => "assert",
            Status::PreconditionFailed => "precondition_failed",
            Status::Skip => "skip",
            Status::Notrun => "notrun",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A log level (mozlog's `log_levels`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    Critical,
    Error,
    Warning,
    Info,
    Debug,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Critical => "CRITICAL",
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }

    /// Parses a level name, case-insensitively (`--log-raw-level debug`).
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_uppercase().as_str() {
            "CRITICAL" => Some(Level::Critical),
            "ERROR" => Some(Level::Error),
            "WARNING" => Some(Level::Warning),
            "INFO" => Some(Level::Info),
            "DEBUG" => Some(Level::Debug),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tests of a suite, keyed by group (mozlog's `TestList`: a dict, or a
/// plain list that mozlog files under the group `"default"`).
pub type TestGroups = BTreeMap<String, Vec<String>>;

/// `suite_start`'s test list. A run builds it from groups; a log read back
/// keeps it as the JSON it was, counted and checked but not taken apart
/// until a sink asks for the ids (most need only the count, and the list of
/// a large run is most of the memory a replay would otherwise use).
#[derive(Clone, Debug)]
pub struct Tests(TestsRepr);

#[derive(Clone, Debug)]
enum TestsRepr {
    Groups(TestGroups),
    /// The list's JSON: `text[range]`, where `text` may be the whole line it
    /// was read from (kept rather than copied: it can be megabytes).
    Json {
        text: String,
        range: std::ops::Range<usize>,
        count: usize,
    },
}

impl Default for Tests {
    fn default() -> Self {
        Tests(TestsRepr::Groups(TestGroups::new()))
    }
}

impl From<TestGroups> for Tests {
    fn from(groups: TestGroups) -> Tests {
        Tests(TestsRepr::Groups(groups))
    }
}

impl PartialEq for Tests {
    fn eq(&self, other: &Tests) -> bool {
        self.groups() == other.groups()
    }
}

impl Tests {
    /// How many tests are listed.
    pub fn count(&self) -> usize {
        match &self.0 {
            TestsRepr::Groups(g) => g.values().map(Vec::len).sum(),
            TestsRepr::Json { count, .. } => *count,
        }
    }

    /// The test ids by group (taken apart now if read from a log).
    pub fn groups(&self) -> Cow<'_, TestGroups> {
        match &self.0 {
            TestsRepr::Groups(g) => Cow::Borrowed(g),
            TestsRepr::Json { text, range, .. } => Cow::Owned(
                serde_json::from_str::<TestList>(&text[range.clone()])
                    .map(|t| t.0)
                    .expect("checked when read"),
            ),
        }
    }

    /// Calls `f(group, None)` for each group, then `f(group, Some(id))` for
    /// each of its tests, in the list's order, without taking a list read
    /// from a log apart into strings first.
    pub fn each(&self, f: &mut dyn FnMut(&str, Option<&str>)) {
        match &self.0 {
            TestsRepr::Groups(g) => {
                for (group, ids) in g {
                    f(group, None);
                    for id in ids {
                        f(group, Some(id));
                    }
                }
            }
            TestsRepr::Json { text, range, .. } => {
                let json = &text[range.clone()];
                // A list without escapes (nearly every one) is walked by
                // the quick reader, which reads every such list serde
                // checked; one with escapes by serde.
                if memchr::memchr(b'\\', json.as_bytes()).is_none() {
                    scan::each_test(json, f).expect("checked when read");
                } else {
                    let mut de = serde_json::Deserializer::from_str(json);
                    serde::Deserializer::deserialize_any(&mut de, EachTest(f))
                        .expect("checked when read");
                }
            }
        }
    }

    /// Keeps mozlog's `TestList` JSON (a dict of lists of test ids by group,
    /// or one list) after checking its shape and counting the tests, without
    /// taking it apart.
    /// `count` is the number of tests when already known (the list was
    /// checked as it was counted).
    fn from_json(
        text: String,
        range: std::ops::Range<usize>,
        count: Option<usize>,
    ) -> Result<Tests, serde_json::Error> {
        let count = match count {
            Some(n) => n,
            None => serde_json::from_str::<CountTests>(&text[range.clone()])?.0,
        };
        Ok(Tests(TestsRepr::Json { text, range, count }))
    }
}

impl Serialize for Tests {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            TestsRepr::Groups(g) => g.serialize(s),
            TestsRepr::Json { text, range, .. } => {
                let raw: &serde_json::value::RawValue = serde_json::from_str(&text[range.clone()])
                    .map_err(serde::ser::Error::custom)?;
                raw.serialize(s)
            }
        }
    }
}

/// `suite_start`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SuiteStart {
    pub tests: Tests,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_info: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_info: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_info: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
}

/// `suite_end`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SuiteEnd {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
}

/// `test_start`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TestStart {
    pub test: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsuite: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// `test_status`: a subtest result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestStatus {
    pub test: String,
    pub subtest: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub known_intermittent: Vec<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsuite: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// `test_end`: a test's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestEnd {
    pub test: String,
    pub status: Status,
    /// Present only when the result was not the expected one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub known_intermittent: Vec<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsuite: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl TestEnd {
    /// A result with nothing but its test id and status.
    pub fn new(test: impl Into<String>, status: Status) -> TestEnd {
        TestEnd {
            test: test.into(),
            status,
            expected: None,
            message: None,
            stack: None,
            extra: None,
            known_intermittent: Vec::new(),
            subsuite: None,
            group: None,
        }
    }

    /// The status the harness expected (`status` itself when `expected` is absent).
    pub fn expected_status(&self) -> Status {
        self.expected.unwrap_or(self.status)
    }

    /// True when the result is unexpected and not a listed known intermittent:
    /// what fails a run.
    pub fn is_unexpected(&self) -> bool {
        match self.expected {
            Some(exp) => exp != self.status && !self.known_intermittent.contains(&self.status),
            None => false,
        }
    }

    /// True when the status differs from the expected one but is a listed
    /// known intermittent.
    pub fn is_known_intermittent(&self) -> bool {
        match self.expected {
            Some(exp) => exp != self.status && self.known_intermittent.contains(&self.status),
            None => false,
        }
    }

    /// A string field of `extra`.
    pub fn extra_str(&self, key: &str) -> Option<&str> {
        self.extra.as_ref()?.get(key)?.as_str()
    }

    /// An integer field of `extra`.
    pub fn extra_u64(&self, key: &str) -> Option<u64> {
        self.extra.as_ref()?.get(key)?.as_u64()
    }

    /// Sets `expected` the way mozlog does: dropped when equal to `status` and for SKIP.
    pub fn set_expected(&mut self, expected: Status) {
        self.expected = if expected == self.status || self.status == Status::Skip {
            None
        } else {
            Some(expected)
        };
    }
}

/// `process_output`: one line a process wrote.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessOutput {
    pub process: String,
    pub data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsuite: Option<String>,
}

/// `log`: a message at a level.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Log {
    pub level: Level,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// `crash`: a process died.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Crash {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    pub signature: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minidump_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stackwalk_stdout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stackwalk_stderr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stackwalk_returncode: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stackwalk_errors: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub java_stack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsuite: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub quiet: bool,
}

impl Crash {
    /// A crash with a signature and nothing else.
    pub fn new(signature: impl Into<String>) -> Crash {
        Crash {
            process: None,
            signature: signature.into(),
            test: None,
            minidump_path: None,
            reason: None,
            process_type: None,
            stackwalk_stdout: None,
            stackwalk_stderr: None,
            stackwalk_returncode: None,
            stackwalk_errors: Vec::new(),
            java_stack: None,
            subsuite: None,
            quiet: false,
        }
    }
}

/// `process_start`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessStart {
    pub process: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsuite: Option<String>,
}

/// `process_exit`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessExit {
    pub process: String,
    pub exitcode: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsuite: Option<String>,
}

/// `group_start` / `group_end` / `add_subsuite`: a name and optional data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Named {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_info: Option<Map<String, Value>>,
}

/// The action of an entry, with its fields.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    SuiteStart(SuiteStart),
    SuiteEnd(SuiteEnd),
    TestStart(TestStart),
    TestStatus(TestStatus),
    TestEnd(TestEnd),
    ProcessOutput(ProcessOutput),
    Log(Log),
    Crash(Crash),
    ProcessStart(ProcessStart),
    ProcessExit(ProcessExit),
    GroupStart(Named),
    GroupEnd(Named),
    AddSubsuite(Named),
    Shutdown,
    /// Any other action in mozlog's registry (lint, assertion_count, lsan_leak,
    /// mozleak_total, valgrind_error, ...), kept with all of its fields.
    Other {
        action: String,
        fields: Map<String, Value>,
    },
}

impl Action {
    /// The action's name as written in the log.
    pub fn name(&self) -> &str {
        match self {
            Action::SuiteStart(_) => "suite_start",
            Action::SuiteEnd(_) => "suite_end",
            Action::TestStart(_) => "test_start",
            Action::TestStatus(_) => "test_status",
            Action::TestEnd(_) => "test_end",
            Action::ProcessOutput(_) => "process_output",
            Action::Log(_) => "log",
            Action::Crash(_) => "crash",
            Action::ProcessStart(_) => "process_start",
            Action::ProcessExit(_) => "process_exit",
            Action::GroupStart(_) => "group_start",
            Action::GroupEnd(_) => "group_end",
            Action::AddSubsuite(_) => "add_subsuite",
            Action::Shutdown => "shutdown",
            Action::Other { action, .. } => action,
        }
    }
}

/// Actions mozlog knows but that have no typed variant here.
pub const OTHER_ACTIONS: &[&str] = &[
    "lint",
    "assertion_count",
    "lsan_leak",
    "lsan_summary",
    "mozleak_object",
    "mozleak_total",
    "shutdown_failure",
    "valgrind_error",
];

/// One log entry: the common fields and the action.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Milliseconds since the Unix epoch.
    pub time: u64,
    pub thread: String,
    pub pid: i64,
    pub source: String,
    pub component: Option<String>,
    pub action: Action,
}

/// Who writes entries: the values every entry carries besides its action.
/// Injected so that every output can be snapshot-tested byte for byte.
#[derive(Clone, Debug)]
pub struct Origin {
    pub thread: String,
    pub pid: i64,
    pub source: String,
}

impl Origin {
    /// An entry of this origin at `time`.
    pub fn entry(&self, time: u64, action: Action) -> Entry {
        Entry {
            time,
            thread: self.thread.clone(),
            pid: self.pid,
            source: self.source.clone(),
            component: None,
            action,
        }
    }
}

impl Entry {
    /// The test id this entry is about, if any.
    pub fn test(&self) -> Option<&str> {
        self.action.test()
    }
}

impl Action {
    /// The test id this action is about, if any.
    pub fn test(&self) -> Option<&str> {
        match self {
            Action::TestStart(f) => Some(&f.test),
            Action::TestStatus(f) => Some(&f.test),
            Action::TestEnd(f) => Some(&f.test),
            Action::ProcessOutput(f) => f.test.as_deref(),
            Action::Crash(f) => f.test.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            thread: "main".into(),
            pid: 42,
            source: "cargo-structlog".into(),
        }
    }

    #[test]
    fn test_end_round_trips_with_common_fields_first() {
        let mut end = TestEnd::new("pkg tests::a", Status::Fail);
        end.set_expected(Status::Pass);
        end.message = Some("boom \"quoted\"\n".into());
        let e = origin().entry(1000, Action::TestEnd(end));
        let json = e.to_json();
        assert_eq!(
            json,
            r#"{"action":"test_end","time":1000,"thread":"main","pid":42,"source":"cargo-structlog","test":"pkg tests::a","status":"FAIL","expected":"PASS","message":"boom \"quoted\"\n"}"#
        );
        assert_eq!(Entry::from_json(json.as_bytes()).unwrap(), e);
    }

    #[test]
    fn expected_is_dropped_when_equal_or_skip() {
        let mut end = TestEnd::new("t", Status::Skip);
        end.set_expected(Status::Pass);
        assert_eq!(end.expected, None);
        let mut end = TestEnd::new("t", Status::Fail);
        end.set_expected(Status::Fail);
        assert_eq!(end.expected, None);
        let line = br#"{"action":"test_end","time":1,"thread":"t","pid":1,"source":"s","test":"x","status":"PASS","expected":"PASS"}"#;
        let Action::TestEnd(end) = Entry::from_json(line).unwrap().action else {
            panic!("not a test_end")
        };
        assert_eq!(end.expected, None);
    }

    #[test]
    fn reads_mozlog_variants() {
        // Key order differs, the pid is absent, the test list is plain, the process is a number.
        let e = Entry::from_json(
            br#"{"tests": ["a", ["b", "c"]], "time": 5, "action": "suite_start", "source": "x", "thread": "y"}"#,
        )
        .unwrap();
        let Action::SuiteStart(s) = e.action else {
            panic!()
        };
        assert_eq!(s.tests.count(), 2);
        assert_eq!(
            s.tests.groups()["default"],
            vec!["a".to_string(), "bc".to_string()]
        );
        let e = Entry::from_json(
            br#"{"action":"process_output","time":1,"thread":"t","pid":1,"source":"s","process":123,"data":"hi"}"#,
        )
        .unwrap();
        assert!(
            matches!(e.action, Action::ProcessOutput(ProcessOutput { ref process, .. }) if process == "123")
        );
        let e = Entry::from_json(
            br#"{"action":"assertion_count","time":1,"thread":"t","pid":1,"source":"s","test":"a","count":3,"min_expected":0,"max_expected":1}"#,
        )
        .unwrap();
        assert_eq!(e.action.name(), "assertion_count");
        assert!(e.to_json().contains(r#""count":3"#));
    }

    #[test]
    fn malformed_lines_say_why() {
        let err = |l: &[u8]| Entry::from_json(l).unwrap_err().to_string();
        assert!(err(b"{\"action\":\"test_end\",\"time\":1").contains("not a valid entry"));
        assert!(err(br#"{"action":"test_end","time":"1"}"#).contains("invalid type"));
        assert!(err(br#"{"action":"test_end","time":1,"test":"a"}"#).contains("\"status\""));
        assert!(err(br#"{"action":"nope","time":1}"#).contains("unknown action"));
        assert!(
            err(br#"{"action":"test_end","time":1,"test":"a","status":"MEH"}"#)
                .contains("unknown value")
        );
        assert!(err(br#"{"time":1}"#).contains("action"));
    }
}
