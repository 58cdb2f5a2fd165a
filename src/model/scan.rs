//! A quicker reading of the usual raw-log line into [`Fields`].
//!
//! Nearly every line of a raw log is one flat object: short keys, strings,
//! integers, and now and then a small object (`extra`). serde's derived
//! reader spends more time going through its visitors than reading the
//! bytes; [`fields`] reads such a line directly, and hands anything it does
//! not read exactly as serde would back to serde whole: it returns `None`
//! then, and the caller parses the line with serde, so a line that is not
//! read here gets serde's entry or serde's error, and one that is read here
//! gets the same fields serde would give.
//!
//! What is read here: an object whose keys are plain strings (no escapes),
//! each known key at most once, with values that are strings, non-negative
//! integers, `true`, `false` or `null`; objects of such values for the
//! fields that take one (`extra`, `run_info`, ...), and a suite's test list,
//! checked and counted in the same pass. A string with escapes, and any
//! other object or list a known field takes, are cut out and given to serde
//! on their own. Left to serde (the whole line): a test id given as a list,
//! negative and non-integer numbers where a field takes an integer, an
//! unknown key whose value is a list or an object, nesting deeper than
//! [`crate::model::json::MAX_DEPTH`], anything malformed.
use super::read::{Fields, ProcessId, TestId, TestsText};
use crate::model::json::Scanner;

/// The line's fields, or `None` to read it with serde.
pub(super) fn fields(text: &str) -> Option<Fields<'_>> {
    let mut f = Fields::default();
    fill(text, &mut f)?;
    Some(f)
}

/// [`fields`] into a [`Fields`] of the caller's, all `None` to begin with
/// (it is large: filled where it is, it is not copied on its way); on
/// `None` it holds some of the line's fields, to be dropped.
pub(super) fn fill<'a>(text: &'a str, f: &mut Fields<'a>) -> Option<()> {
    let mut seen = 0u64;
    let mut s = Scanner::new(text);
    s.object(|s, key| match Key::of(key) {
        None => s.skip_scalar(),
        Some(key) => {
            // A known key twice is serde's "duplicate field" error.
            let bit = 1u64 << key as u32;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            value(s, key, f)
        }
    })?;
    s.end()?;
    // `action` is the one field serde requires.
    (seen & (1 << Key::Action as u32) != 0).then_some(())
}

/// The keys of [`Fields`].
#[derive(Clone, Copy)]
enum Key {
    Action,
    Time,
    Thread,
    Pid,
    Source,
    Component,
    Name,
    RunInfo,
    VersionInfo,
    DeviceInfo,
    Extra,
    Test,
    Path,
    Subsuite,
    Group,
    Subtest,
    Status,
    Expected,
    Message,
    Stack,
    KnownIntermittent,
    Process,
    Data,
    Command,
    Level,
    Signature,
    MinidumpPath,
    Reason,
    ProcessType,
    StackwalkStdout,
    StackwalkStderr,
    StackwalkReturncode,
    StackwalkErrors,
    JavaStack,
    Quiet,
    Exitcode,
    Tests,
}

impl Key {
    fn of(key: &str) -> Option<Key> {
        Some(match key {
            "action" => Key::Action,
            "time" => Key::Time,
            "thread" => Key::Thread,
            "pid" => Key::Pid,
            "source" => Key::Source,
            "component" => Key::Component,
            "name" => Key::Name,
            "run_info" => Key::RunInfo,
            "version_info" => Key::VersionInfo,
            "device_info" => Key::DeviceInfo,
            "extra" => Key::Extra,
            "test" => Key::Test,
            "path" => Key::Path,
            "subsuite" => Key::Subsuite,
            "group" => Key::Group,
            "subtest" => Key::Subtest,
            "status" => Key::Status,
            "expected" => Key::Expected,
            "message" => Key::Message,
            "stack" => Key::Stack,
            "known_intermittent" => Key::KnownIntermittent,
            "process" => Key::Process,
            "data" => Key::Data,
            "command" => Key::Command,
            "level" => Key::Level,
            "signature" => Key::Signature,
            "minidump_path" => Key::MinidumpPath,
            "reason" => Key::Reason,
            "process_type" => Key::ProcessType,
            "stackwalk_stdout" => Key::StackwalkStdout,
            "stackwalk_stderr" => Key::StackwalkStderr,
            "stackwalk_returncode" => Key::StackwalkReturncode,
            "stackwalk_errors" => Key::StackwalkErrors,
            "java_stack" => Key::JavaStack,
            "quiet" => Key::Quiet,
            "exitcode" => Key::Exitcode,
            "tests" => Key::Tests,
            _ => return None,
        })
    }
}

/// The value of a known key, into its field.
#[inline]
fn value<'a>(s: &mut Scanner<'a>, key: Key, f: &mut Fields<'a>) -> Option<()> {
    match key {
        Key::Action => f.action = s.string()?,
        Key::Time => f.time = s.opt(|s| s.uint())?,
        Key::Thread => f.thread = s.opt_string()?,
        Key::Pid => f.pid = s.opt(|s| s.int())?,
        Key::Source => f.source = s.opt_string()?,
        Key::Component => f.component = s.opt_string()?,
        Key::Name => f.name = s.opt_string()?,
        Key::RunInfo => f.run_info = s.opt(|s| s.map())?,
        Key::VersionInfo => f.version_info = s.opt(|s| s.map())?,
        Key::DeviceInfo => f.device_info = s.opt(|s| s.map())?,
        Key::Extra => f.extra = s.opt(|s| s.map())?,
        Key::Test => f.test = s.opt(|s| s.string().map(|t| TestId(t.into_owned())))?,
        Key::Path => f.path = s.opt_string()?,
        Key::Subsuite => f.subsuite = s.opt_string()?,
        Key::Group => f.group = s.opt_string()?,
        Key::Subtest => f.subtest = s.opt_string()?,
        Key::Status => f.status = s.opt(|s| s.string())?,
        Key::Expected => f.expected = s.opt(|s| s.string())?,
        Key::Message => f.message = s.opt_string()?,
        Key::Stack => f.stack = s.opt_string()?,
        Key::KnownIntermittent => f.known_intermittent = s.opt(|s| s.nested())?,
        Key::Process => {
            f.process = s.opt(|s| {
                if s.peek()? == b'"' {
                    s.string().map(|p| ProcessId(p.into_owned()))
                } else {
                    s.uint().map(|n| ProcessId(n.to_string()))
                }
            })?
        }
        Key::Data => f.data = s.opt_string()?,
        Key::Command => f.command = s.opt_string()?,
        Key::Level => f.level = s.opt(|s| s.string())?,
        Key::Signature => f.signature = s.opt_string()?,
        Key::MinidumpPath => f.minidump_path = s.opt_string()?,
        Key::Reason => f.reason = s.opt_string()?,
        Key::ProcessType => f.process_type = s.opt_string()?,
        Key::StackwalkStdout => f.stackwalk_stdout = s.opt_string()?,
        Key::StackwalkStderr => f.stackwalk_stderr = s.opt_string()?,
        Key::StackwalkReturncode => f.stackwalk_returncode = s.opt(|s| s.int())?,
        Key::StackwalkErrors => f.stackwalk_errors = s.opt(|s| s.nested())?,
        Key::JavaStack => f.java_stack = s.opt_string()?,
        Key::Quiet => f.quiet = s.opt(|s| s.boolean())?,
        Key::Exitcode => f.exitcode = s.opt(|s| s.int())?,
        Key::Tests => f.tests = s.opt(tests)?,
    }
    Some(())
}

/// A suite's test list (mozlog's `TestList`: lists of test ids keyed by
/// group, or one list), kept as text and counted, its shape checked as the
/// tool's serde reader checks it: each id a string or a list of strings.
fn tests<'a>(s: &mut Scanner<'a>) -> Option<TestsText<'a>> {
    let start = s.pos();
    let count = if s.peek()? == b'[' {
        ids(s)?
    } else {
        let mut n = 0;
        s.object(|s, _group| {
            n += ids(s)?;
            Some(())
        })?;
        n
    };
    Some(TestsText {
        json: s.since(start),
        count: Some(count),
    })
}

/// Walks a suite's test list as [`super::Tests::each`] does: `f(group,
/// None)` for each group, then `f(group, Some(id))` for each of its ids (a
/// list of strings joined into one id). `None` if the text is not such a
/// list (or has a key with escapes, which this reader leaves to serde).
pub(super) fn each_test(json: &str, f: &mut dyn FnMut(&str, Option<&str>)) -> Option<()> {
    let mut s = Scanner::new(json);
    let mut joined = String::new();
    if s.peek()? == b'[' {
        f("default", None);
        each_id(&mut s, "default", &mut joined, f)?;
    } else {
        s.object(|s, group| {
            f(group, None);
            each_id(s, group, &mut joined, f)
        })?;
    }
    s.end()
}

/// The ids of one group, for [`each_test`].
fn each_id(
    s: &mut Scanner,
    group: &str,
    joined: &mut String,
    f: &mut dyn FnMut(&str, Option<&str>),
) -> Option<()> {
    s.list(|s| {
        if s.peek()? == b'[' {
            joined.clear();
            s.list(|s| {
                joined.push_str(&s.string()?);
                Some(())
            })?;
            f(group, Some(joined));
        } else {
            f(group, Some(&s.string()?));
        }
        Some(())
    })
    .map(drop)
}

/// A list of test ids, each a string or a list of strings: how many.
fn ids(s: &mut Scanner) -> Option<usize> {
    s.list(|s| {
        if s.peek()? == b'[' {
            s.list(|s| s.string().map(drop))?;
        } else {
            s.string()?;
        }
        Some(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::json::MAX_DEPTH;
    use crate::model::{Action, Entry, ParseError};

    fn describe(entry: Result<Entry, ParseError>) -> String {
        match entry {
            Ok(e) => format!("{e:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    /// What serde's reader alone makes of `text`.
    fn by_serde(text: &str) -> String {
        let fields =
            serde_json::from_str::<Fields>(text).map_err(|e| ParseError::Json(e.to_string()));
        describe(fields.and_then(|f| f.into_entry(text.as_bytes(), None)))
    }

    /// A line as the owned reader keeps it (a suite's list stays in the
    /// line), as raw-log text and the number of tests.
    fn owned(entry: Result<Entry, ParseError>) -> String {
        match entry {
            Ok(e) => {
                let count = match &e.action {
                    Action::SuiteStart(s) => s.tests.count(),
                    _ => 0,
                };
                format!("{} ({count} tests)", e.to_json())
            }
            Err(e) => format!("error: {e}"),
        }
    }

    /// Checks that every reading of `text` agrees with serde's, and says
    /// whether the quick reading took it.
    fn agrees(text: &str) -> bool {
        let serde = by_serde(text);
        assert_eq!(describe(Entry::from_json(text.as_bytes())), serde, "{text}");
        let serde_owned = owned(
            serde_json::from_str::<Fields>(text)
                .map_err(|e| ParseError::Json(e.to_string()))
                .and_then(|f| f.into_entry(text.as_bytes(), None)),
        );
        assert_eq!(
            owned(Entry::from_json_owned(text.as_bytes().to_vec())),
            serde_owned,
            "{text}"
        );
        match fields(text) {
            Some(f) => {
                assert_eq!(
                    describe(f.into_entry(text.as_bytes(), None)),
                    serde,
                    "{text}"
                );
                true
            }
            None => false,
        }
    }

    /// Lines read here, each with what makes it worth a case.
    const READ: &[&str] = &[
        r#"{"action":"test_start","time":1,"thread":"t","pid":4,"source":"s","test":"a b","path":"p","group":"g"}"#,
        r#" { "action" : "test_end" ,"time":2,"test":"x","status":"FAIL","expected":"PASS","message":"m","extra":{"line":12}}  "#,
        "{\"action\":\"log\",\r\n\t\"time\":0,\"level\":\"ERROR\",\"message\":\"line\\nnext \\\"q\\\" \\u00e9 \\ud83d\\ude00\"}",
        r#"{"action":"process_output","time":3,"process":"12","data":"é ü 😀","test":null,"thread":null}"#,
        r#"{"action":"process_output","time":3,"process":12,"data":""}"#,
        r#"{"action":"process_exit","time":3,"process":"1","exitcode":0}"#,
        r#"{"action":"test_status","time":3,"test":"t","subtest":"s","status":"PASS","known_intermittent":["FAIL","TIMEOUT"]}"#,
        r#"{"action":"crash","time":3,"signature":"sig","test":"t","stackwalk_returncode":1,"stackwalk_errors":["a","b"],"quiet":true}"#,
        r#"{"action":"suite_start","time":1,"tests":{"g":["a","b",["c","d"]],"h":[]},"run_info":{"os":"linux","debug":false,"n":null,"v":{"x":[1.5,-2]}},"name":"n"}"#,
        r#"{"action":"suite_start","time":1,"tests":["a",["b"]],"extra":{},"device_info":{"k":"v","k":"w"}}"#,
        r#"{"action":"suite_start","time":1,"tests":{}}"#,
        r#"{"action":"suite_end","time":1,"unknown":"x","unknown":1,"also":true,"nothing":null}"#,
        r#"{"action":"test_end","time":18446744073709551615,"test":"t","status":"PASS"}"#,
        r#"{"action":"test_end","time":1,"test":"t","status":"NOPE"}"#,
        r#"{"action":"test_end","time":1,"test":"t"}"#,
        r#"{"action":"not_an_action","time":1}"#,
        r#"{"action":"shutdown"}"#,
        r#"{"action":"test_start","time":1,"test":"a","other":-1.5e3,"more":0}"#,
    ];

    /// Lines left to serde, valid or not.
    const LEFT: &[&str] = &[
        r#"{"action":"test_start","time":1,"test":"a","test":"b"}"#,
        r#"{"action":"test_start","time":null,"time":1,"test":"a"}"#,
        r#"{"act\u0069on":"test_start","time":1,"test":"a"}"#,
        r#"{"action":"test_start","time":1.0,"test":"a"}"#,
        r#"{"action":"test_start","time":1e3,"test":"a"}"#,
        r#"{"action":"test_start","time":-1,"test":"a"}"#,
        r#"{"action":"test_start","time":01,"test":"a"}"#,
        r#"{"action":"test_start","time":18446744073709551616,"test":"a"}"#,
        r#"{"action":"test_start","time":1,"pid":9223372036854775808,"test":"a"}"#,
        r#"{"action":"process_exit","time":1,"process":"1","exitcode":-11}"#,
        r#"{"action":"process_exit","time":1,"process":"1","exitcode":-0}"#,
        r#"{"action":"test_start","time":1,"test":["a","b"]}"#,
        r#"{"action":"test_start","time":1,"test":"a","other":{"x":1}}"#,
        r#"{"action":"test_start","time":1,"test":"a","other":[1]}"#,
        r#"{"action":"test_start","time":1,"test":"a"} x"#,
        r#"{"action":"test_start","time":1,"test":"a",}"#,
        r#"{"action":"test_start","time":1,"test":"a""#,
        "{\"action\":\"test_start\",\"time\":1,\"test\":\"a\tb\"}",
        r#"{"action":"test_start","time":1,"test":"a\x"}"#,
        r#"{"action":"test_start","time":1,"test":"a\ud800"}"#,
        r#"{"action":"test_start","time":1,"test":"a","quiet":1}"#,
        r#"{"action":"test_start","time":1,"test":"a","extra":[]}"#,
        r#"{"action":"test_start","time":1,"test":"a","extra":{"x":1}"#,
        r#"{"action":"suite_start","time":1,"tests":{"g":[1]}}"#,
        r#"{"action":"suite_start","time":1,"tests":{"g":null}}"#,
        r#"{"action":"suite_start","time":1,"tests":"all"}"#,
        r#"{"action":"suite_start","time":1,"tests":{"g":[["a",1]]}}"#,
        // An escape of a character that cannot be escaped, before a
        // character of several bytes.
        r#"{"action":"log","time":1,"level":"INFO","message":"a\é"}"#,
        r#"{"action":"suite_end","time":1,"extra":{"k":"a\é"}}"#,
        r#"{"time":1}"#,
        r#"{"action":5,"time":1}"#,
        r#"{}"#,
        r#"[]"#,
        r#""x""#,
        "",
    ];

    #[test]
    fn common_lines_are_read_here_as_serde_reads_them() {
        for text in READ {
            assert!(agrees(text), "not read here: {text}");
        }
    }

    #[test]
    fn lines_read_here_differently_are_left_to_serde() {
        for text in LEFT {
            assert!(!agrees(text), "read here: {text}");
        }
        // Nesting beyond the limit here is serde's to judge.
        let deep = format!(
            r#"{{"action":"suite_end","time":1,"extra":{{"x":{}1{}}}}}"#,
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(!agrees(&deep));
        let deep = format!(
            r#"{{"action":"suite_end","time":1,"extra":{{"x":{}1{}}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(!agrees(&deep));
    }

    #[test]
    fn test_lists_are_walked_as_serde_walks_them() {
        let walk = |json: &str, quick: bool| {
            let mut seen = Vec::new();
            let mut f = |g: &str, id: Option<&str>| seen.push(format!("{g}/{id:?}"));
            if quick {
                each_test(json, &mut f).unwrap();
            } else {
                let mut de = serde_json::Deserializer::from_str(json);
                serde::Deserializer::deserialize_any(&mut de, super::super::EachTest(&mut f))
                    .unwrap();
            }
            seen
        };
        for json in [
            r#"{"g":["a","b",["c","d"]],"h":[],"i":["é 😀"]}"#,
            r#" { "g" : [ "a" , [ ] , [ "x" ] ] } "#,
            r#"["a",["b","c"],"d"]"#,
            r#"[]"#,
            r#"{}"#,
            r#"{"g":["a"],"g":["b"]}"#,
        ] {
            let serde = walk(json, false);
            assert!(!serde.is_empty() || json.trim() == "{}");
            assert_eq!(walk(json, true), serde, "{json}");
        }
    }

    /// Lines damaged at random (bytes replaced, inserted, removed, copied):
    /// whatever the quick reading takes, it reads as serde does.
    #[test]
    fn damaged_lines_read_here_read_as_serde_reads_them() {
        let mut seeds: Vec<String> = READ.iter().chain(LEFT).map(|s| s.to_string()).collect();
        let streams = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/streams");
        for file in std::fs::read_dir(streams).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            seeds.extend(text.lines().map(str::to_string));
        }
        let (mut read, mut tried) = (0, 0);
        for text in crate::model::json::damaged_lines(&seeds, 20_000, 0x9e37_79b9_7f4a_7c15) {
            tried += 1;
            if agrees(&text) {
                read += 1;
            }
        }
        // Both readings were compared on many lines.
        assert!(
            read > tried / 10 && read < tried,
            "{read} of {tried} read here"
        );
    }
}
