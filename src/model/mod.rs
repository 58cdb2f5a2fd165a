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
mod scan;
pub mod summary;

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

/// The fields every entry has, in mozlog's order: the head of its line.
#[derive(Serialize)]
struct Head<'a> {
    action: &'a str,
    time: u64,
    thread: &'a str,
    pid: i64,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<&'a str>,
}

/// The output of an action's fields, serialized after the head of the
/// line was written without its closing brace: the fields' opening `{` is
/// dropped and a comma goes before their first key (an empty `{}` just
/// closes the head). Each part is serialized as a plain struct or map,
/// straight to the output, where serde's `flatten` would go through a map
/// serializer field by field.
struct AfterHead<W> {
    out: W,
    state: AfterHeadState,
}

#[derive(Clone, Copy)]
enum AfterHeadState {
    /// The fields' `{` comes next.
    Start,
    /// A `}` (no fields) or the first key comes next.
    Opened,
    /// Inside the fields.
    Inside,
}

impl<W: io::Write> io::Write for AfterHead<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while let Some((&first, rest)) = buf.split_first() {
            match self.state {
                AfterHeadState::Inside => return self.out.write_all(buf),
                AfterHeadState::Start => {
                    debug_assert_eq!(first, b'{');
                    self.state = AfterHeadState::Opened;
                    buf = rest;
                }
                AfterHeadState::Opened => {
                    if first != b'}' {
                        self.out.write_all(b",")?;
                    }
                    self.state = AfterHeadState::Inside;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[derive(Serialize)]
struct NoFields {}

impl Entry {
    /// Writes the entry as one line of JSON (without the newline).
    pub fn write_json<W: io::Write>(&self, out: W) -> io::Result<()> {
        fn put<W: io::Write, T: Serialize>(e: &Entry, out: W, fields: &T) -> io::Result<()> {
            let head = Head {
                action: e.action.name(),
                time: e.time,
                thread: &e.thread,
                pid: e.pid,
                source: &e.source,
                component: e.component.as_deref(),
            };
            // The head goes to a buffer of its own first (it is short), to
            // be written without its closing brace.
            let mut head_json = Vec::with_capacity(128);
            serde_json::to_writer(&mut head_json, &head).map_err(io::Error::from)?;
            let mut out = AfterHead {
                out,
                state: AfterHeadState::Start,
            };
            out.out.write_all(&head_json[..head_json.len() - 1])?;
            serde_json::to_writer(&mut out, fields).map_err(io::Error::from)
        }
        match &self.action {
            Action::SuiteStart(f) => put(self, out, f),
            Action::SuiteEnd(f) => put(self, out, f),
            Action::TestStart(f) => put(self, out, f),
            Action::TestStatus(f) => put(self, out, f),
            Action::TestEnd(f) => put(self, out, f),
            Action::ProcessOutput(f) => put(self, out, f),
            Action::Log(f) => put(self, out, f),
            Action::Crash(f) => put(self, out, f),
            Action::ProcessStart(f) => put(self, out, f),
            Action::ProcessExit(f) => put(self, out, f),
            Action::GroupStart(f) | Action::GroupEnd(f) | Action::AddSubsuite(f) => {
                put(self, out, f)
            }
            Action::Shutdown => put(self, out, &NoFields {}),
            Action::Other { fields, .. } => put(self, out, fields),
        }
    }

    /// The entry as a JSON line (without the newline).
    pub fn to_json(&self) -> String {
        let mut v = Vec::with_capacity(256);
        self.write_json(&mut v)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(v).expect("serde_json writes UTF-8")
    }

    /// Reads one raw-log line: any mozlog producer's entry.
    pub fn from_json(line: &[u8]) -> Result<Entry, ParseError> {
        // The line is checked for UTF-8 once, whole: from a `&str`, serde_json
        // does not check each string it reads again.
        let text =
            std::str::from_utf8(line).map_err(|e| ParseError::Json(format!("not UTF-8: {e}")))?;
        let mut fields = Fields::default();
        if scan::fill(text, &mut fields).is_none() {
            fields = serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
        }
        fields.into_entry(line, None)
    }

    /// Like [`Entry::from_json`], for a line the entry may keep: a
    /// `suite_start`'s test list stays in it rather than a copy (a large
    /// run's list is tens of megabytes).
    pub fn from_json_owned(line: Vec<u8>) -> Result<Entry, ParseError> {
        let text = String::from_utf8(line)
            .map_err(|e| ParseError::Json(format!("not UTF-8: {}", e.utf8_error())))?;
        let (entry, list) = {
            let fields = match scan::fields(&text) {
                Some(fields) => fields,
                None => serde_json::from_str(&text).map_err(|e| ParseError::Json(e.to_string()))?,
            };
            let list = fields.tests.as_ref().map(|list| {
                let start = list.json.as_ptr() as usize - text.as_ptr() as usize;
                (start..start + list.json.len(), list.count)
            });
            (fields.into_entry(text.as_bytes(), Some(())), list)
        };
        let mut entry = entry?;
        if let (Action::SuiteStart(s), Some((range, count))) = (&mut entry.action, list) {
            s.tests = Tests::from_json(text, range, count)
                .map_err(|e| ParseError::Json(format!("tests: {e}")))?;
        }
        Ok(entry)
    }

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

/// Why a raw-log line could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// Not a JSON object, or a field of the wrong type.
    Json(String),
    /// A field the action requires is absent.
    Missing { action: String, field: &'static str },
    /// A status or level that mozlog does not know.
    BadValue { field: &'static str, value: String },
    /// An action mozlog does not know.
    UnknownAction(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Json(e) => write!(f, "not a valid entry: {e}"),
            ParseError::Missing { action, field } => {
                write!(f, "{action} entry lacks the field {field:?}")
            }
            ParseError::BadValue { field, value } => {
                write!(f, "field {field:?} has an unknown value {value:?}")
            }
            ParseError::UnknownAction(a) => write!(f, "unknown action {a:?}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// mozlog's `TestId`: a string, or a list of strings (reftests), joined.
/// Read by a visitor of its own: serde's untagged enums buffer each value
/// before trying the variants, and nearly every entry has a test id.
struct TestId(String);

impl<'de> Deserialize<'de> for TestId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TestId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a test id (a string, or a list of strings)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TestId, E> {
                Ok(TestId(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<TestId, E> {
                Ok(TestId(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<TestId, A::Error> {
                let mut id = String::new();
                while let Some(part) = seq.next_element::<Cow<'de, str>>()? {
                    id.push_str(&part);
                }
                Ok(TestId(id))
            }
        }
        d.deserialize_any(V)
    }
}

/// mozlog's `TestList`: tests keyed by group, or a plain list (filed under
/// the group `"default"`, as mozlog files it).
struct TestList(TestGroups);

impl<'de> Deserialize<'de> for TestList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TestList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the tests: lists of test ids keyed by group, or one list")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TestList, A::Error> {
                let mut groups = TestGroups::new();
                while let Some((group, ids)) = map.next_entry::<String, Vec<TestId>>()? {
                    groups.insert(group, ids.into_iter().map(|t| t.0).collect());
                }
                Ok(TestList(groups))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<TestList, A::Error> {
                let mut ids = Vec::new();
                while let Some(t) = seq.next_element::<TestId>()? {
                    ids.push(t.0);
                }
                let mut groups = TestGroups::new();
                groups.insert("default".to_string(), ids);
                Ok(TestList(groups))
            }
        }
        d.deserialize_any(V)
    }
}

/// Walks a `TestList`, giving each group and id to a callback.
struct EachTest<'f>(&'f mut dyn FnMut(&str, Option<&str>));

impl<'de> serde::de::Visitor<'de> for EachTest<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the tests: lists of test ids keyed by group, or one list")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(group) = map.next_key::<Cow<'de, str>>()? {
            (self.0)(&group, None);
            map.next_value_seed(EachId(&group, &mut *self.0))?;
        }
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        (self.0)("default", None);
        EachId("default", self.0).visit_seq(seq)
    }
}

/// The ids of one group, given to a callback.
struct EachId<'g, 'f>(&'g str, &'f mut dyn FnMut(&str, Option<&str>));

impl<'de> serde::de::DeserializeSeed<'de> for EachId<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for EachId<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of test ids")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(id) = seq.next_element::<IdText>()? {
            (self.1)(self.0, Some(&id.0));
        }
        Ok(())
    }
}

/// A test id as [`TestId`] reads it, borrowed from the text when it can be.
struct IdText<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for IdText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = IdText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a test id (a string, or a list of strings)")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<IdText<'de>, E> {
                Ok(IdText(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IdText<'de>, E> {
                Ok(IdText(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<IdText<'de>, A::Error> {
                TestId::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(|id| IdText(Cow::Owned(id.0)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A test id, checked but not kept: a string, or a list of strings.
struct CheckId;

impl<'de> Deserialize<'de> for CheckId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CheckId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a test id (a string, or a list of strings)")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<CheckId, E> {
                Ok(CheckId)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<CheckId, A::Error> {
                while seq.next_element::<Cow<'de, str>>()?.is_some() {}
                Ok(CheckId)
            }
        }
        d.deserialize_any(V)
    }
}

/// A list of test ids, counted and checked without keeping them.
struct CountIds(usize);

impl<'de> Deserialize<'de> for CountIds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CountIds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of test ids")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<CountIds, A::Error> {
                let mut n = 0;
                while seq.next_element::<CheckId>()?.is_some() {
                    n += 1;
                }
                Ok(CountIds(n))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A `TestList` checked and counted, allocating nothing.
struct CountTests(usize);

impl<'de> Deserialize<'de> for CountTests {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CountTests;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the tests: lists of test ids keyed by group, or one list")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<CountTests, A::Error> {
                let mut n = 0;
                while let Some((_, ids)) = map.next_entry::<serde::de::IgnoredAny, CountIds>()? {
                    n += ids.0;
                }
                Ok(CountTests(n))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<CountTests, A::Error> {
                let mut n = 0;
                while seq.next_element::<CheckId>()?.is_some() {
                    n += 1;
                }
                Ok(CountTests(n))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `process` field: mozlog writes the pid as a string, some producers as a
/// number.
struct ProcessId(String);

impl<'de> Deserialize<'de> for ProcessId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ProcessId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a process id (a string or a number)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ProcessId, E> {
                Ok(ProcessId(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<ProcessId, E> {
                Ok(ProcessId(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ProcessId, E> {
                Ok(ProcessId(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ProcessId, E> {
                Ok(ProcessId(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ProcessId, E> {
                Ok(ProcessId(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A suite's test list as it stands in the line, and its number of tests
/// when it was counted as it was read.
struct TestsText<'a> {
    json: &'a str,
    count: Option<usize>,
}

impl<'de: 'a, 'a> Deserialize<'de> for TestsText<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&serde_json::value::RawValue>::deserialize(d)?;
        Ok(TestsText {
            json: raw.get(),
            count: None,
        })
    }
}

/// Every field any action may carry, all optional: one pass of serde over the
/// line whatever the key order, then [`Fields::into_entry`] checks what the
/// action requires. Short enumerated values, and a suite's test list, are
/// borrowed from the line.
#[derive(Deserialize, Default)]
struct Fields<'a> {
    #[serde(borrow)]
    action: Cow<'a, str>,
    time: Option<u64>,
    thread: Option<String>,
    pid: Option<i64>,
    source: Option<String>,
    component: Option<String>,
    #[serde(borrow)]
    tests: Option<TestsText<'a>>,
    name: Option<String>,
    run_info: Option<Map<String, Value>>,
    version_info: Option<Map<String, Value>>,
    device_info: Option<Map<String, Value>>,
    extra: Option<Map<String, Value>>,
    test: Option<TestId>,
    path: Option<String>,
    subsuite: Option<String>,
    group: Option<String>,
    subtest: Option<String>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    expected: Option<Cow<'a, str>>,
    message: Option<String>,
    stack: Option<String>,
    #[serde(borrow)]
    known_intermittent: Option<Vec<Cow<'a, str>>>,
    process: Option<ProcessId>,
    data: Option<String>,
    command: Option<String>,
    #[serde(borrow)]
    level: Option<Cow<'a, str>>,
    signature: Option<String>,
    minidump_path: Option<String>,
    reason: Option<String>,
    process_type: Option<String>,
    stackwalk_stdout: Option<String>,
    stackwalk_stderr: Option<String>,
    stackwalk_returncode: Option<i64>,
    stackwalk_errors: Option<Vec<String>>,
    java_stack: Option<String>,
    quiet: Option<bool>,
    exitcode: Option<i64>,
}

fn status_field(field: &'static str, s: &str) -> Result<Status, ParseError> {
    Status::parse(s).ok_or_else(|| ParseError::BadValue {
        field,
        value: s.to_string(),
    })
}

impl Fields<'_> {
    /// The entry, its fields checked. With `deferred`, a suite_start's test
    /// list is left for the caller to fill in.
    fn into_entry(self, line: &[u8], deferred: Option<()>) -> Result<Entry, ParseError> {
        let action_name = self.action;
        let missing = |field: &'static str| ParseError::Missing {
            action: action_name.to_string(),
            field,
        };
        let time = self.time.ok_or_else(|| missing("time"))?;
        let action = match &*action_name {
            "suite_start" => Action::SuiteStart(SuiteStart {
                tests: {
                    let list = self.tests.ok_or_else(|| missing("tests"))?;
                    if deferred.is_some() {
                        Tests::default()
                    } else {
                        Tests::from_json(list.json.to_string(), 0..list.json.len(), list.count)
                            .map_err(|e| ParseError::Json(format!("tests: {e}")))?
                    }
                },
                name: self.name,
                run_info: self.run_info,
                version_info: self.version_info,
                device_info: self.device_info,
                extra: self.extra,
            }),
            "suite_end" => Action::SuiteEnd(SuiteEnd { extra: self.extra }),
            "test_start" => Action::TestStart(TestStart {
                test: self.test.ok_or_else(|| missing("test"))?.0,
                path: self.path,
                subsuite: self.subsuite,
                group: self.group,
            }),
            "test_status" | "test_end" => {
                let test = self.test.ok_or_else(|| missing("test"))?.0;
                let status =
                    status_field("status", &self.status.ok_or_else(|| missing("status"))?)?;
                let mut expected = match self.expected {
                    Some(e) => Some(status_field("expected", &e)?),
                    None => None,
                };
                if expected == Some(status) || status == Status::Skip {
                    expected = None;
                }
                let known_intermittent = self
                    .known_intermittent
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| status_field("known_intermittent", &s))
                    .collect::<Result<Vec<_>, _>>()?;
                if action_name == "test_end" {
                    Action::TestEnd(TestEnd {
                        test,
                        status,
                        expected,
                        message: self.message,
                        stack: self.stack,
                        extra: self.extra,
                        known_intermittent,
                        subsuite: self.subsuite,
                        group: self.group,
                    })
                } else {
                    Action::TestStatus(TestStatus {
                        test,
                        subtest: self.subtest.ok_or_else(|| missing("subtest"))?,
                        status,
                        expected,
                        message: self.message,
                        stack: self.stack,
                        extra: self.extra,
                        known_intermittent,
                        subsuite: self.subsuite,
                        group: self.group,
                    })
                }
            }
            "process_output" => Action::ProcessOutput(ProcessOutput {
                process: self.process.ok_or_else(|| missing("process"))?.0,
                data: self.data.ok_or_else(|| missing("data"))?,
                command: self.command,
                test: self.test.map(|t: TestId| t.0),
                subsuite: self.subsuite,
            }),
            "log" => {
                let level = self.level.ok_or_else(|| missing("level"))?;
                Action::Log(Log {
                    level: Level::parse(&level).ok_or_else(|| ParseError::BadValue {
                        field: "level",
                        value: level.to_string(),
                    })?,
                    message: self.message.ok_or_else(|| missing("message"))?,
                    stack: self.stack,
                })
            }
            "crash" => Action::Crash(Crash {
                process: self.process.map(|p| p.0),
                signature: self.signature.unwrap_or_else(|| "[Unknown]".to_string()),
                test: self.test.map(|t: TestId| t.0),
                minidump_path: self.minidump_path,
                reason: self.reason,
                process_type: self.process_type,
                stackwalk_stdout: self.stackwalk_stdout,
                stackwalk_stderr: self.stackwalk_stderr,
                stackwalk_returncode: self.stackwalk_returncode,
                stackwalk_errors: self.stackwalk_errors.unwrap_or_default(),
                java_stack: self.java_stack,
                subsuite: self.subsuite,
                quiet: self.quiet.unwrap_or(false),
            }),
            "process_start" => Action::ProcessStart(ProcessStart {
                process: self.process.ok_or_else(|| missing("process"))?.0,
                command: self.command,
                subsuite: self.subsuite,
            }),
            "process_exit" => Action::ProcessExit(ProcessExit {
                process: self.process.ok_or_else(|| missing("process"))?.0,
                exitcode: self.exitcode.ok_or_else(|| missing("exitcode"))?,
                command: self.command,
                subsuite: self.subsuite,
            }),
            "group_start" | "group_end" | "add_subsuite" => {
                let named = Named {
                    name: self.name.ok_or_else(|| missing("name"))?,
                    extra: self.extra,
                    run_info: self.run_info,
                };
                match &*action_name {
                    "group_start" => Action::GroupStart(named),
                    "group_end" => Action::GroupEnd(named),
                    _ => Action::AddSubsuite(named),
                }
            }
            "shutdown" => Action::Shutdown,
            other if OTHER_ACTIONS.contains(&other) => {
                // Rare actions keep every field: parse the line again as a map.
                let mut fields: Map<String, Value> =
                    serde_json::from_slice(line).map_err(|e| ParseError::Json(e.to_string()))?;
                for common in ["action", "time", "thread", "pid", "source", "component"] {
                    fields.remove(common);
                }
                Action::Other {
                    action: other.to_string(),
                    fields,
                }
            }
            _ => return Err(ParseError::UnknownAction(action_name.to_string())),
        };
        Ok(Entry {
            time,
            thread: self.thread.unwrap_or_default(),
            pid: self.pid.unwrap_or(0),
            source: self.source.unwrap_or_default(),
            component: self.component,
            action,
        })
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
