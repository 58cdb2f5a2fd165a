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
//! | SKIP | `<skipped message="reason">reason</skipped>` (the reason as text too) |
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

mod record;
mod write;

use super::index::Names;
use super::{Output, Sink};
use crate::model::{Action, Entry, Level, Status};
use record::*;
use serde_json::Value;
use std::io::{self, Write};
use write::*;

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
                // stable from run to run whatever the scheduling. Nearly
                // every listed test runs: its case is made once, here.
                rec.list(&s.tests);
            }
            Action::SuiteEnd(_) => rec.suite_ended = Some(e.time),
            Action::TestStart(t) => {
                let (s, c) = rec.case_for_start(&t.test, t.group.as_deref());
                if rec.last_process != Some((e.pid, s)) {
                    rec.processes.insert(e.pid.to_string(), s);
                    rec.last_process = Some((e.pid, s));
                }
                let path = t.path.as_deref().map_or(NO_PATH, |p| rec.path(p));
                let case = &mut rec.suites[s].cases[c];
                case.start = e.time;
                case.flags.insert(Flags::STARTED);
                case.path = path;
            }
            Action::TestStatus(st) => {
                if let Some(case) = rec.case_mut(&st.test) {
                    let subtests = &mut case.rare_mut().subtests;
                    subtests.count += 1;
                    let unexpected =
                        st.expected.is_some() && !st.known_intermittent.contains(&st.status);
                    if unexpected {
                        subtests.unexpected += 1;
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
                        subtests.detail.push_line(&line, text_max);
                    }
                }
            }
            Action::TestEnd(end) => {
                let (s, c) = rec.case_for_end(&end.test, end.group.as_deref());
                let case = &mut rec.suites[s].cases[c];
                if let Some(output) = &mut case.output {
                    // Its output is complete: the slack its growth left is
                    // given back (it adds up over a large run).
                    output.shrink();
                }
                case.end = e.time;
                case.status = end.status;
                case.expected = end.expected;
                case.flags.insert(Flags::ENDED);
                if end.is_known_intermittent() {
                    case.flags.insert(Flags::KNOWN_INTERMITTENT);
                } else {
                    case.flags.remove(Flags::KNOWN_INTERMITTENT);
                }
                case.set_line(end.extra_u64("line"));
                let message = end.message.as_deref().map(|m| capped_text(m, text_max));
                let stack = end.stack.as_deref().map(|s| capped_text(s, text_max));
                let timeout = end
                    .extra
                    .as_ref()
                    .and_then(|x| x.get("timeout"))
                    .and_then(Value::as_f64);
                let sample = end.extra_str("sample").map(|s| capped_text(s, text_max));
                let reruns: Vec<(Status, Box<str>)> = end
                    .extra
                    .as_ref()
                    .and_then(|x| x.get("attempts")?.as_array())
                    .map(|attempts| {
                        let n = attempts.len().saturating_sub(1);
                        attempts
                            .iter()
                            .take(n)
                            .filter_map(|a| {
                                let status = Status::parse(a["status"].as_str()?)?;
                                let message = a["message"].as_str().unwrap_or("");
                                Some((status, capped_text(message, text_max).into()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let any = message.is_some()
                    || stack.is_some()
                    || timeout.is_some()
                    || sample.is_some()
                    || !reruns.is_empty();
                if any || case.rare.is_some() {
                    let rare = case.rare_mut();
                    rare.message = message.map(String::into_boxed_str);
                    rare.stack = stack.map(String::into_boxed_str);
                    rare.timeout = timeout;
                    rare.sample = sample.map(String::into_boxed_str);
                    rare.reruns = reruns.into_boxed_slice();
                }
            }
            Action::ProcessOutput(p) => {
                let case = p.test.as_deref().and_then(|t| rec.find(t));
                match case {
                    Some((s, c)) => rec.suites[s].cases[c]
                        .output
                        .get_or_insert_with(Box::default)
                        .push_line(&p.data, max),
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
                    case.rare_mut().crash = Some(capped_text(&note, text_max).into());
                }
            }
            Action::ProcessStart(p) => {
                // The runner names a binary's process entries after the binary.
                if let Some(&s) = rec.suite_index.get(&e.thread) {
                    rec.processes.insert(p.process.clone(), s);
                    rec.last_process = None;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, ProcessOutput};
    use crate::sink::index::IdIndex;
    use crate::sink::testing::{render, stream, BIG_OUTPUT_PLACEHOLDER};
    use quick_xml::events::Event;
    use quick_xml::Reader;
    use serde_json::Map;
    use std::borrow::Cow;

    #[test]
    fn a_libtest_name_splits_at_its_last_path_separator_unless_spaced() {
        // What the split is: the name cut at `rsplit_once("::")`, unless it
        // has whitespace (a doctest's name) or a side would be empty.
        let plainly = |name: &str| -> (String, String) {
            if !name.contains(char::is_whitespace) {
                if let Some((m, f)) = name.rsplit_once("::") {
                    if !m.is_empty() && !f.is_empty() {
                        return (format!("bin::{m}"), f.to_string());
                    }
                }
            }
            ("bin".to_string(), name.to_string())
        };
        for name in [
            "tests::it_works",
            "a::b::c",
            "plain",
            "",
            "::",
            "::lead",
            "trail::",
            "a:::b",
            "a::::b",
            "x:y",
            "src/lib.rs - a::b (line 5)",
            "tab\there::x",
            "vt\u{b}there::x",
            "ff\u{c}there::x",
            "nbsp\u{a0}there::x",
            "ideographic\u{3000}space::x",
            "caf\u{e9}::th\u{e9}",
        ] {
            assert_eq!(split_libtest(name, "bin"), plainly(name), "{name:?}");
        }
    }

    #[test]
    fn the_index_answers_with_each_ids_latest_value() {
        // Values are (id, run); `is` checks the id, as the records do.
        let ids = ["a", "b", "c", "d", "e", "f"];
        let is = |v: (usize, u32), id: &str| ids[v.0] == id;
        let no_guess = |_| None;
        let mut index: IdIndex<(usize, u32)> = IdIndex::default();
        for (i, id) in ids.iter().enumerate() {
            index.insert(id, (i, 0), is);
        }
        // Found (and so kept at hand) again and again, then replaced.
        for _ in 0..3 {
            for (i, id) in ids.iter().enumerate() {
                assert_eq!(index.get(id, is, no_guess), Some((i, 0)));
            }
        }
        assert_eq!(index.get("a", is, no_guess), Some((0, 0)));
        index.insert("a", (0, 1), is);
        assert_eq!(index.get("a", is, no_guess), Some((0, 1)));
        assert_eq!(index.get("b", is, no_guess), Some((1, 0)));
        assert_eq!(index.get("zz", is, no_guess), None);
    }

    #[test]
    fn the_index_guesses_only_while_each_id_has_one_value() {
        let ids = ["a", "b", "c", "d"];
        let is = |v: (usize, u32), id: &str| ids[v.0] == id;
        // The guess: the next id, same run.
        let next = |(i, run): (usize, u32)| (i + 1 < ids.len()).then_some((i + 1, run));
        let mut index: IdIndex<(usize, u32)> = IdIndex::default();
        for (i, id) in ids.iter().enumerate() {
            index.insert(id, (i, 0), is);
        }
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id, is, next), Some((i, 0)));
        }
        // "c" runs again: (2, 0) is still a value of "c" and the guess after
        // "b", but no longer its latest.
        index.insert("c", (2, 1), is);
        assert_eq!(index.get("b", is, next), Some((1, 0)));
        assert_eq!(index.get("c", is, next), Some((2, 1)));
        assert_eq!(index.get("d", is, next), Some((3, 0)));
    }

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
                r#"<error type="incomplete" message="did not finish: the log ends before its result">did not finish: the log ends before its result</error>"#
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
    fn output_keeps_its_start_and_end_cut_on_char_boundaries() {
        let mut c = Capped::default();
        c.push_line("ab日本", 8);
        c.push_line("middle", 8);
        c.push_line("end", 8);
        let text = c.render(8);
        assert!(text.starts_with("ab"), "{text}");
        assert!(text.ends_with("end"), "{text}");
        assert!(
            text.contains("bytes of output cut by cargo-structlog: --log-xunit-max-output 8 ...]"),
            "{text}"
        );
        let mut none = Capped::default();
        none.push_line("", 8);
        assert!(none.is_empty());
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
