//! Reading libtest's machine-readable output (`--format json -Zunstable-options`).
//!
//! The input is a test binary's stdout, read as bytes, one line at a time.
//! libtest writes one JSON object per line:
//!
//! ```text
//! { "type": "suite", "event": "started", "test_count": 11 }
//! { "type": "test", "event": "started", "name": "tests::passes" }
//! { "type": "test", "name": "tests::passes", "event": "ok", "exec_time": 0.000000621 }
//! { "type": "test", "name": "tests::fails", "event": "failed", "stdout": "...", "message": "..." }
//! { "type": "test", "name": "tests::ignored", "event": "ignored", "message": "needs network" }
//! { "type": "test", "event": "timeout", "name": "slow" }
//! { "type": "suite", "event": "failed", "passed": 4, "failed": 5, "ignored": 2, ... }
//! { "type": "report", "total_time": 0.37, "compilation_time": 0.31 }
//! ```
//!
//! and, with `--list`, `discovered` events carrying `source_path`, `start_line`
//! and the ignore flag. Key order varies between events, fields appear only
//! with some flags (`exec_time` needs `--report-time`), and libtest-mimic and
//! `tester` write the same shapes with fewer fields. Anything else on the
//! stream (a test's direct writes, child processes, non-UTF-8 bytes) is not an
//! event: [`parse_line`] returns `None` and the caller keeps it as output.

pub mod witness;

use crate::model::json::Scanner;
use serde::Deserialize;

/// One event from libtest's JSON stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `suite started`: a run begins (edition 2024 doctests start two suites).
    SuiteStarted { test_count: Option<u64> },
    /// `suite ok` / `suite failed`: the run's summary line.
    SuiteFinished { ok: bool },
    /// `suite discovery` / `suite completed`: the frame of a `--list` output.
    Discovery,
    /// `test started`.
    Started { name: String },
    /// A test's result.
    Result(TestResult),
    /// `test timeout`: libtest's warning that a test has run over 60 s.
    Slow { name: String },
    /// `test discovered` (with `--list`).
    Discovered(Discovered),
    /// A benchmark result, a doctest `report` line, or another known type
    /// that carries nothing for the log.
    Other,
}

/// A test's result line.
#[derive(Clone, Debug, PartialEq)]
pub struct TestResult {
    pub name: String,
    pub outcome: Outcome,
    /// Seconds, with `--report-time`.
    pub exec_time: Option<f64>,
    /// Captured output (failed tests, and every test with `--show-output`).
    pub stdout: Option<String>,
    /// libtest's own message (should_panic mismatches, ignore reasons).
    pub message: Option<String>,
    /// Why a test failed when libtest decided it (`time limit exceeded`).
    pub reason: Option<String>,
}

/// A result's outcome, as libtest names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Ignored,
}

/// A test listed by `--list --format json`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Discovered {
    pub name: String,
    pub ignore: bool,
    pub ignore_message: Option<String>,
    /// Relative to the directory rustc ran in (the workspace root).
    pub source_path: Option<String>,
    pub start_line: Option<u32>,
}

/// The ignore reason in a listing line of test `name` that is not JSON
/// because libtest wrote the reason unescaped: what stands between its key
/// and the next key (or the line's end), as written.
pub fn salvage_ignore_message(line: &str, name: &str) -> Option<String> {
    let quoted = serde_json::to_string(name).ok()?;
    if !line.contains(&format!(r#""name": {quoted}"#)) {
        return None;
    }
    let key = r#""ignore_message": ""#;
    let start = line.find(key)? + key.len();
    let rest = &line[start..];
    let end = rest
        .rfind(r#"", "source_path""#)
        .or_else(|| rest.rfind(r#"" }"#))?;
    Some(rest[..end].to_string()).filter(|m| !m.is_empty())
}

#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Raw {
    #[serde(rename = "type")]
    kind: String,
    event: Option<String>,
    name: Option<String>,
    test_count: Option<u64>,
    exec_time: Option<f64>,
    stdout: Option<String>,
    message: Option<String>,
    reason: Option<String>,
    ignore: Option<bool>,
    ignore_message: Option<String>,
    source_path: Option<String>,
    start_line: Option<u32>,
}

/// Parses one line of a test binary's stdout. `None` when the line is not a
/// libtest event: it is output and must be kept as such.
pub fn parse_line(line: &[u8]) -> Option<Event> {
    let trimmed = line.trim_ascii();
    if !(trimmed.starts_with(b"{") && trimmed.ends_with(b"}")) {
        return None;
    }
    let quick = std::str::from_utf8(trimmed).ok().and_then(read_quickly);
    let raw: Raw = match quick {
        Some(raw) => raw,
        None => serde_json::from_slice(trimmed).ok()?,
    };
    let event = raw.event.as_deref();
    Some(match (raw.kind.as_str(), event) {
        ("suite", Some("started")) => Event::SuiteStarted {
            test_count: raw.test_count,
        },
        ("suite", Some("ok")) => Event::SuiteFinished { ok: true },
        ("suite", Some("failed")) => Event::SuiteFinished { ok: false },
        ("suite", Some("discovery" | "completed")) => Event::Discovery,
        ("test" | "bench", Some("started")) => Event::Started { name: raw.name? },
        ("test", Some(outcome @ ("ok" | "failed" | "ignored"))) => Event::Result(TestResult {
            name: raw.name?,
            outcome: match outcome {
                "ok" => Outcome::Ok,
                "failed" => Outcome::Failed,
                _ => Outcome::Ignored,
            },
            exec_time: raw.exec_time,
            stdout: raw.stdout,
            message: raw.message.filter(|m| !m.is_empty()),
            reason: raw.reason,
        }),
        ("test", Some("timeout")) => Event::Slow { name: raw.name? },
        ("test" | "benchmark", Some("discovered")) => Event::Discovered(Discovered {
            name: raw.name?,
            ignore: raw.ignore.unwrap_or(false),
            ignore_message: raw.ignore_message.filter(|m| !m.is_empty()),
            source_path: raw.source_path.filter(|p| !p.is_empty()),
            start_line: raw.start_line.filter(|l| *l > 0),
        }),
        ("bench" | "report", _) => Event::Other,
        _ => return None,
    })
}

/// Splits a stdout line into the output before libtest's event and the
/// event: a test (or a process it started) that leaves its output without a
/// line break makes libtest's next event start in the middle of the line,
/// `progress: 50%{ "type": "test", ... }`. An event is one flat object whose
/// strings escape their quotes, so the last `{ "type": "` of a line starts
/// the event, if the line has one; `None` when the line starts with it (or
/// has none).
pub fn split_event(line: &[u8]) -> (Option<&[u8]>, &[u8]) {
    const START: &[u8] = br#"{ "type": ""#;
    if line.first() == Some(&b'{') {
        return (None, line);
    }
    match memchr::memmem::rfind(line, START) {
        Some(at) if at > 0 => (Some(&line[..at]), &line[at..]),
        _ => (None, line),
    }
}

/// An event line read without serde's visitors (most of a run's lines
/// are short flat objects); `None` for anything it does not read exactly
/// as serde would, which serde then reads (see [`crate::model::json`]).
fn read_quickly(text: &str) -> Option<Raw> {
    let mut raw = Raw::default();
    let mut seen = 0u32;
    let mut s = Scanner::new(text);
    s.object(|s, key| {
        // A known key twice is serde's "duplicate field" error.
        let mut once = |bit: u32| (seen & bit == 0).then(|| seen |= bit);
        match key {
            "type" => {
                once(1)?;
                raw.kind = s.string()?.into_owned();
            }
            "event" => {
                once(2)?;
                raw.event = s.opt_string()?;
            }
            "name" => {
                once(4)?;
                raw.name = s.opt_string()?;
            }
            "test_count" => {
                once(8)?;
                raw.test_count = s.opt(|s| s.uint())?;
            }
            "exec_time" => {
                once(16)?;
                raw.exec_time = s.opt(|s| s.number())?;
            }
            "stdout" => {
                once(32)?;
                raw.stdout = s.opt_string()?;
            }
            "message" => {
                once(64)?;
                raw.message = s.opt_string()?;
            }
            "reason" => {
                once(128)?;
                raw.reason = s.opt_string()?;
            }
            "ignore" => {
                once(256)?;
                raw.ignore = s.opt(|s| s.boolean())?;
            }
            "ignore_message" => {
                once(512)?;
                raw.ignore_message = s.opt_string()?;
            }
            "source_path" => {
                once(1024)?;
                raw.source_path = s.opt_string()?;
            }
            "start_line" => {
                once(2048)?;
                raw.start_line = s.opt(|s| u32::try_from(s.uint()?).ok())?;
            }
            _ => s.skip_scalar()?,
        }
        Some(())
    })?;
    s.end()?;
    // `type` is the one field serde requires.
    (seen & 1 != 0).then_some(raw)
}

/// Reads the start of a result line too long to keep whole (a test that
/// captured hundreds of megabytes of output). libtest writes `type`, `name`
/// and `event` first, so the outcome survives; the output does not.
pub fn parse_truncated_result(line: &[u8]) -> Option<TestResult> {
    let rest = line
        .trim_ascii_start()
        .strip_prefix(br#"{ "type": "test", "name": "#)?;
    let mut names = serde_json::Deserializer::from_slice(rest).into_iter::<String>();
    let name = names.next()?.ok()?;
    let rest = &rest[names.byte_offset()..];
    let outcome = if rest.starts_with(br#", "event": "ok""#) {
        Outcome::Ok
    } else if rest.starts_with(br#", "event": "failed""#) {
        Outcome::Failed
    } else if rest.starts_with(br#", "event": "ignored""#) {
        Outcome::Ignored
    } else {
        return None;
    };
    Some(TestResult {
        name,
        outcome,
        exec_time: None,
        stdout: None,
        message: Some(format!(
            "the result line was {} MiB or more; its captured output was not kept",
            line.len() >> 20
        )),
        reason: None,
    })
}

/// Parses the `name: test` lines of `--list --format terse` (and of
/// libtest-mimic's `--list`, which prefixes a `[kind] ` that its JSON names do
/// not carry when `strip_kind` is set). Benchmarks are left out. A name with
/// a line break (a harness may allow one) spans lines: lines between two
/// tests that end in no kind are the start of the next test's name. Lines
/// before the first test (a harness's own banner) are not.
pub fn parse_terse_list(text: &str, strip_kind: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    let mut seen_any = false;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(name) = line.strip_suffix(": test") {
            let name = match pending.take() {
                Some(mut head) => {
                    head.push('\n');
                    head.push_str(name);
                    head
                }
                None => name.to_string(),
            };
            let name = match name.strip_prefix('[').and_then(|n| n.split_once("] ")) {
                Some((_, rest)) if strip_kind => rest.to_string(),
                _ => name,
            };
            out.push(name);
            seen_any = true;
        } else if line.ends_with(": bench") || line.ends_with(": benchmark") || line.is_empty() {
            pending = None;
            seen_any |= !line.is_empty();
        } else if seen_any {
            pending = Some(match pending.take() {
                Some(mut head) => {
                    head.push('\n');
                    head.push_str(line);
                    head
                }
                None => line.to_string(),
            });
        }
    }
    out
}

/// The parts of a panic that libtest captured in a failed test's `stdout`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Panic {
    /// The panic message (may span lines, as `assert_eq!`'s does).
    pub message: String,
    /// `file:line:col`.
    pub location: String,
    /// The `stack backtrace:` block, when `RUST_BACKTRACE` was set.
    pub backtrace: Option<String>,
}

/// Finds the last panic report in captured output:
///
/// ```text
/// thread 'tests::fails' (3352) panicked at alpha/src/lib.rs:45:9:
/// assertion `left == right` failed: one plus one
///   left: 2
///  right: 3
/// stack backtrace:
/// ...
/// note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
/// ```
///
/// Rust before 1.88 printed no thread id (`thread 'x' panicked at`).
pub fn find_panic(output: &str) -> Option<Panic> {
    let lines: Vec<&str> = output.lines().collect();
    let (idx, location) = lines.iter().enumerate().rev().find_map(|(i, l)| {
        let rest = l.strip_prefix("thread '")?;
        let at = rest.find("' ")?;
        let after = &rest[at + 2..];
        let after = match after.strip_prefix('(') {
            Some(tid) => tid.split_once(") ")?.1,
            None => after,
        };
        let loc = after.strip_prefix("panicked at ")?;
        Some((i, loc.strip_suffix(':').unwrap_or(loc).to_string()))
    })?;
    let mut message = Vec::new();
    let mut backtrace = None;
    let mut i = idx + 1;
    while i < lines.len() {
        let l = lines[i];
        if l == "stack backtrace:" {
            let mut bt = Vec::new();
            while i < lines.len() && !lines[i].starts_with("note: ") {
                bt.push(lines[i]);
                i += 1;
            }
            backtrace = Some(bt.join("\n"));
            break;
        }
        if l.starts_with("note: run with `RUST_BACKTRACE")
            || l.starts_with("note: Some details are omitted")
        {
            break;
        }
        message.push(l);
        i += 1;
    }
    while message.last().is_some_and(|l| l.is_empty()) {
        message.pop();
    }
    Some(Panic {
        message: message.join("\n"),
        location,
        backtrace,
    })
}

/// The error a `#[test] fn ... -> Result` returned: libtest prints it as
/// `Error: <Debug>` on the captured output's last line.
pub fn find_returned_error(output: &str) -> Option<String> {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("Error: "))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unescaped_ignore_reason_is_salvaged() {
        let line = r#"{ "type": "test", "event": "discovered", "name": "t::q", "ignore": true, "ignore_message": "say "hi" first", "source_path": "b/src/lib.rs", "start_line": 3, "start_col": 8, "end_line": 3, "end_col": 9 }"#;
        assert_eq!(
            salvage_ignore_message(line, "t::q").as_deref(),
            Some(r#"say "hi" first"#)
        );
        assert_eq!(salvage_ignore_message(line, "t::other"), None);
        let bare = r#"{ "type": "test", "event": "discovered", "name": "t::q", "ignore": true, "ignore_message": "a "b"" }"#;
        assert_eq!(
            salvage_ignore_message(bare, "t::q").as_deref(),
            Some(r#"a "b""#)
        );
    }

    #[test]
    fn parses_the_event_catalogue() {
        assert_eq!(
            parse_line(br#"{ "type": "suite", "event": "started", "test_count": 11 }"#),
            Some(Event::SuiteStarted {
                test_count: Some(11)
            })
        );
        assert_eq!(
            parse_line(br#"{ "type": "test", "event": "started", "name": "a::b" }"#),
            Some(Event::Started {
                name: "a::b".into()
            })
        );
        let Some(Event::Result(r)) = parse_line(
            br#"{ "type": "test", "name": "t", "event": "failed", "exec_time": 2.0, "reason": "time limit exceeded" }"#,
        ) else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::Failed);
        assert_eq!(r.reason.as_deref(), Some("time limit exceeded"));
        assert_eq!(r.exec_time, Some(2.0));
        let Some(Event::Result(r)) = parse_line(
            br#"{ "type": "test", "name": "i", "event": "ignored", "message": "needs network" }"#,
        ) else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::Ignored);
        assert_eq!(r.message.as_deref(), Some("needs network"));
        assert_eq!(
            parse_line(br#"{ "type": "test", "event": "timeout", "name": "slow" }"#),
            Some(Event::Slow {
                name: "slow".into()
            })
        );
        assert_eq!(
            parse_line(br#"{ "type": "suite", "event": "failed", "passed": 4, "failed": 5, "ignored": 2, "measured": 0, "filtered_out": 0, "exec_time": 2.0 }"#),
            Some(Event::SuiteFinished { ok: false })
        );
        assert_eq!(
            parse_line(br#"{ "type": "report", "total_time": 0.37, "compilation_time": 0.31 }"#),
            Some(Event::Other)
        );
        let Some(Event::Discovered(d)) = parse_line(
            br#"{ "type": "test", "event": "discovered", "name": "tests::x", "ignore": true, "ignore_message": "needs network", "source_path": "s/src/lib.rs", "start_line": 51, "start_col": 8, "end_line": 51, "end_col": 27 }"#,
        ) else {
            panic!()
        };
        assert_eq!(d.source_path.as_deref(), Some("s/src/lib.rs"));
        assert_eq!(d.start_line, Some(51));
        assert!(d.ignore);
    }

    #[test]
    fn anything_else_is_output() {
        assert_eq!(parse_line(b"hello"), None);
        assert_eq!(parse_line(b"raw bytes \xff\xfe"), None);
        assert_eq!(parse_line(b"{ not json }"), None);
        assert_eq!(parse_line(br#"{"type": "weird"}"#), None);
        // libtest's own bug: ignore_message is not escaped in --list output.
        assert_eq!(
            parse_line(br#"{ "type": "test", "event": "discovered", "name": "a", "ignore": true, "ignore_message": "has "quotes"" }"#),
            None
        );
    }

    #[test]
    fn events_after_unfinished_output_are_found() {
        let line = br#"progress: 50%{ "type": "test", "name": "t", "event": "ok" }"#;
        let (before, event) = split_event(line);
        assert_eq!(before, Some(&b"progress: 50%"[..]));
        assert!(matches!(parse_line(event), Some(Event::Result(r)) if r.name == "t"));
        // The last event on the line is libtest's: one printed before it
        // stays with the output.
        let line = br#"x{ "type": "test", "name": "a", "event": "ok" }y{ "type": "test", "name": "b", "event": "failed" }"#;
        let (before, event) = split_event(line);
        assert!(before.unwrap().ends_with(b"}y"));
        assert!(matches!(parse_line(event), Some(Event::Result(r)) if r.name == "b"));
        for whole in [
            &br#"{ "type": "suite", "event": "ok" }"#[..],
            b"plain output",
            b"",
        ] {
            assert_eq!(split_event(whole), (None, whole));
        }
    }

    #[test]
    fn truncated_results_keep_their_outcome() {
        let r = parse_truncated_result(
            br#"{ "type": "test", "name": "a \"q\"", "event": "failed", "stdout": "xxxxx"#,
        )
        .unwrap();
        assert_eq!((r.name.as_str(), r.outcome), ("a \"q\"", Outcome::Failed));
        assert!(parse_truncated_result(br#"{ "type": "suite", "event": "ok"#).is_none());
    }

    #[test]
    fn terse_lists() {
        let text = "a::b: test\nbench_x: benchmark\n[kind] mimic: test\n3 tests, 0 benchmarks\n";
        assert_eq!(parse_terse_list(text, false), vec!["a::b", "[kind] mimic"]);
        assert_eq!(parse_terse_list(text, true), vec!["a::b", "mimic"]);
        // A name with line breaks spans lines; a banner before the list is
        // not part of any name, nor is the summary after it.
        let text = "Running the spec suite\nfirst: test\ntwo\nlines: test\nthree\nline\nname: test\nlast: test\n\n4 tests, 0 benchmarks\n";
        assert_eq!(
            parse_terse_list(text, false),
            vec!["first", "two\nlines", "three\nline\nname", "last"]
        );
    }

    #[test]
    fn panics_are_found() {
        let out = "hello\n\nthread 'tests::fails_assert' (3352) panicked at alpha/src/lib.rs:45:9:\nassertion `left == right` failed: one plus one\n  left: 2\n right: 3\nstack backtrace:\n   0: x\n             at y\nnote: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n";
        let p = find_panic(out).unwrap();
        assert_eq!(p.location, "alpha/src/lib.rs:45:9");
        assert_eq!(
            p.message,
            "assertion `left == right` failed: one plus one\n  left: 2\n right: 3"
        );
        assert_eq!(
            p.backtrace.as_deref(),
            Some("stack backtrace:\n   0: x\n             at y")
        );
        let old = "thread 'a' panicked at src/lib.rs:1:2:\nboom\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        let p = find_panic(old).unwrap();
        assert_eq!(
            (p.location.as_str(), p.message.as_str()),
            ("src/lib.rs:1:2", "boom")
        );
        assert_eq!(p.backtrace, None);
        assert_eq!(find_panic("Error: \"x\"\n"), None);
        assert_eq!(
            find_returned_error("Error: \"returned an Err value\"\n").as_deref(),
            Some("Error: \"returned an Err value\"")
        );
    }

    /// libtest's lines as they come, and some it never writes.
    const LINES: &[&str] = &[
        r#"{ "type": "suite", "event": "started", "test_count": 11 }"#,
        r#"{ "type": "test", "event": "started", "name": "tests::passes" }"#,
        r#"{ "type": "test", "name": "tests::passes", "event": "ok", "exec_time": 0.000123456 }"#,
        r#"{ "type": "test", "name": "tests::fails", "event": "failed", "exec_time": 1.5e-3, "stdout": "line\nthread 'x' panicked at src/lib.rs:3:5:\n\"quoted\" \u00e9\n" }"#,
        r#"{ "type": "test", "name": "tests::skips", "event": "ignored", "message": "needs a network" }"#,
        r#"{ "type": "test", "event": "timeout", "name": "tests::slow" }"#,
        r#"{ "type": "suite", "event": "failed", "passed": 3, "failed": 1, "ignored": 2, "measured": 0, "filtered_out": 0, "exec_time": 2 }"#,
        r#"{ "type": "suite", "event": "discovery" }"#,
        r#"{ "type": "test", "event": "discovered", "name": "m00::case_0000", "ignore": false, "ignore_message": "", "source_path": "bench/tests/bin_02.rs", "start_line": 9, "start_col": 8, "end_line": 9, "end_col": 17 }"#,
        r#"{ "type": "test", "event": "discovered", "name": "t", "ignore": true, "ignore_message": "slow", "source_path": "src/lib.rs", "start_line": 4294967295 }"#,
        r#"{ "type": "suite", "event": "completed", "tests": 2, "benchmarks": 0, "total": 2, "ignored": 1 }"#,
        r#"{ "type": "bench", "name": "b", "median": 10, "deviation": 0, "mib_per_second": 5 }"#,
        r#"{ "type": "report", "total_time": 0.5, "compilation_time": 0.1 }"#,
        r#"{"type":"test","event":null,"name":null,"exec_time":null,"start_line":null,"ignore":null}"#,
    ];

    /// Whatever the quick reading takes, from these lines or from them
    /// damaged at random, serde reads the same; what it leaves, serde
    /// reads (or rejects) alone.
    #[test]
    fn event_lines_read_quickly_read_as_serde_reads_them() {
        let check = |text: &str| -> bool {
            let serde = serde_json::from_str::<Raw>(text).ok();
            match read_quickly(text) {
                Some(raw) => {
                    assert_eq!(Some(raw), serde, "{text}");
                    true
                }
                None => false,
            }
        };
        for text in LINES {
            assert!(check(text), "not read quickly: {text}");
        }
        for text in [
            r#"{ "type": "test", "type": "test", "event": "ok" }"#,
            r#"{ "type": "test", "start_line": 4294967296 }"#,
            r#"{ "type": "test", "start_line": -1 }"#,
            r#"{ "type": "test", "test_count": 1.0 }"#,
            r#"{ "event": "ok" }"#,
            r#"{ "type": null }"#,
            r#"{ "type": "test", "other": [1] }"#,
            r#"{ "type": "test", "exec_time": "1" }"#,
            r#"{ "type": "test" } trailing"#,
        ] {
            assert!(!check(text), "read quickly: {text}");
        }
        let seeds: Vec<String> = LINES.iter().map(|l| l.to_string()).collect();
        let (mut read, mut tried) = (0, 0);
        for text in crate::model::json::damaged_lines(&seeds, 20_000, 0x2545_f491_4f6c_dd1d) {
            tried += 1;
            if check(&text) {
                read += 1;
            }
        }
        assert!(
            read > tried / 10 && read < tried,
            "{read} of {tried} read quickly"
        );
    }
}
