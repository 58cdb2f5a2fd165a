//! `html`: a self-contained HTML report of the run.
//!
//! One file with inline CSS and JavaScript that loads nothing from anywhere
//! (its Content-Security-Policy forbids every network load): the verdict, the
//! counts, the run info, the harness errors, and a table of every test that
//! can be filtered by outcome, status, group and text, sorted, paged, and
//! expanded to show a test's message, stack, subtests, crashes and captured
//! output. Unexpected and unfinished results come first and are highlighted.
//!
//! The report needs the whole run, so entries are only recorded as they come
//! and the page is written at [`Sink::finish`], also when the stream stopped
//! before `suite_end` (the page then says the run is incomplete and lists the
//! tests that never ended). The page is a function of the entries alone: its
//! times come from the entries, its host from `run_info`.
//!
//! To stay small and quick with tens of thousands of tests, only the summary
//! is HTML written here; the table is drawn by the page's script, one page of
//! rows at a time, from a JSON block embedded in a non-executable
//! `<script type="application/json">` element. Captured output is kept to
//! [`OUTPUT_CAP`] bytes per test (its beginning and its end), and the page
//! shows how much was left out; messages, subtests and log entries are capped
//! too, so memory and the file stay bounded per test.
//!
//! Everything from the log is untrusted text: ANSI escapes are stripped,
//! control characters are shown as their Unicode pictures, text in the HTML is
//! entity-escaped, and in the JSON block `<`, `>`, `&`, U+2028 and U+2029 are
//! written as `\uXXXX` escapes so no string can close the element.

use super::cap::Capped;

mod collect;
mod render;
mod text;

use text::*;

use super::index::{is_in_group, strip_group, IdIndex, Listing, Names};
use super::{Output, Sink};
use crate::model::{Action, Crash, Entry, Level, Status, TestEnd, TestStatus, Tests};
use crate::text::millis_as_secs;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Captured output kept per test (and per process outside tests), in bytes:
/// its first and last halves, as a failure's panic message comes last.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// A message, stack or log message longer than this is cut (with a marker).
const TEXT_CAP: usize = 64 * 1024;
/// `extra` fields of a result, as text.
const EXTRA_CAP: usize = 4 * 1024;
/// Subtests kept per test; the others are only counted.
const SUBTEST_CAP: usize = 1000;
/// Log entries kept per kind (errors; everything else), and crashes outside
/// tests; the others are only counted.
const LOG_CAP: usize = 1000;

/// The page may load nothing: its style and its script are inline and
/// allowed by their SHA-256 (no other inline script or style runs, even one
/// a test's output smuggled past the escaping), images could only be
/// `data:` URLs (there are none), and no form, frame or base URL.
fn csp() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; style-src '{}'; script-src '{}'; img-src data:; \
             base-uri 'none'; form-action 'none'",
            sha256_source(&inline(CSS)),
            sha256_source(&inline(JS)),
        )
    })
}

/// An inline `<style>` or `<script>` element's text as the page has it.
fn inline(text: &str) -> String {
    format!("\n{text}")
}

/// A CSP hash source: `sha256-` and the text's SHA-256 in base64.
fn sha256_source(text: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// What became of a test: the classes of the report's filters and counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Not the expected result, nor a known intermittent one.
    Unexpected,
    /// Started and never ended.
    Unfinished,
    /// Not the expected result, but listed as a known intermittent.
    Intermittent,
    /// PASS or OK, as expected.
    Pass,
    /// A failing status that was expected (`should_panic`, expected FAIL).
    Xfail,
    /// SKIP or NOTRUN.
    Skip,
    /// Listed at suite start, never started.
    NotStarted,
}

impl Outcome {
    const ALL: [Outcome; 7] = [
        Outcome::Unexpected,
        Outcome::Unfinished,
        Outcome::Intermittent,
        Outcome::Pass,
        Outcome::Xfail,
        Outcome::Skip,
        Outcome::NotStarted,
    ];

    /// The key the page's script and the `data-count` attributes use.
    fn key(self) -> &'static str {
        match self {
            Outcome::Unexpected => "unexpected",
            Outcome::Unfinished => "unfinished",
            Outcome::Intermittent => "intermittent",
            Outcome::Pass => "pass",
            Outcome::Xfail => "xfail",
            Outcome::Skip => "skip",
            Outcome::NotStarted => "notstarted",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Unexpected => "Unexpected",
            Outcome::Unfinished => "Unfinished",
            Outcome::Intermittent => "Known intermittent",
            Outcome::Pass => "Passed",
            Outcome::Xfail => "Expected failures",
            Outcome::Skip => "Skipped",
            Outcome::NotStarted => "Not started",
        }
    }
}

/// A subtest result (`test_status`).
struct Subtest {
    name: Box<str>,
    status: Status,
    expected: Option<Status>,
    known: bool,
    message: Option<Box<str>>,
}

/// The rarely present parts of a test's record, boxed so that the common
/// passing test without output costs one pointer: captured output, and
/// behind one more pointer what fewer tests still have (a failure's texts,
/// subtests, crashes).
#[derive(Default)]
struct Detail {
    output: Capped,
    more: Option<Box<More>>,
}

/// What only a failing test, or one with subtests or crashes, has.
#[derive(Default)]
struct More {
    message: Option<Box<str>>,
    stack: Option<Box<str>>,
    /// `extra` as text, unless it is only a line number (`TestRec::line`).
    extra: Option<Box<str>>,
    known_intermittent: Box<[Status]>,
    subtests: Vec<Subtest>,
    subtests_cut: u64,
    subtests_unexpected: u32,
    crashes: Vec<Box<str>>,
}

bitflags::bitflags! {
    /// Bit flags of a record: which of its inline fields hold a value.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    struct Flags: u8 {
        /// `TestRec::flags`: started (`test_start`, or a subtest result before any
        /// start).
        const BEGAN = 1;
        /// The status is one of the listed known intermittent ones.
        const KNOWN = 2;
        /// `time` is the `test_start` time.
        const STARTED = 4;
        /// `time` is the duration: the test started and ended.
        const TIMED = 8;
        /// `extra` was `{"line": N}` alone (most results' extra): its text,
        /// `line: N`, is written from `line` rather than kept.
        const EXTRA_LINE = 16;
        /// A place kept for a listed test that went elsewhere: removed once the
        /// listing is placed.
        const HOLE = 32;
    }
}

/// `TestRec::group` of a test without a group.
const NO_GROUP: u32 = u32::MAX;

/// One test of the run (one row of the table). A large run has hundreds of
/// thousands, so a record is small: what a passing test needs is inline,
/// anything else is in the boxed [`Detail`].
struct TestRec {
    /// The test id, kept only here ([`Report::current`] finds the record by
    /// the id's hash), and without the name of group `prefix` that begins
    /// it, if there is one (the runner's ids are `"<binary-id> <libtest
    /// name>"`): what is left is the libtest name.
    id: Box<str>,
    /// The group whose name (and a space) the id starts with, not kept in
    /// `id`, or `NO_GROUP`.
    prefix: u32,
    /// The start time, then the duration once the test ends (only the
    /// duration is shown): see `STARTED` and `TIMED`.
    time: u64,
    /// Index in [`Report::groups`], or `NO_GROUP`.
    group: u32,
    /// The line number of an `EXTRA_LINE` extra.
    line: u32,
    /// `None` until `test_end`.
    status: Option<Status>,
    expected: Option<Status>,
    flags: Flags,
    detail: Option<Box<Detail>>,
}

impl TestRec {
    /// A record of test `id`, of group `group` of `groups`.
    fn new(id: &str, group: Option<u32>, groups: &[Box<str>]) -> TestRec {
        let rest = group.and_then(|g| strip_group(id, &groups[g as usize]));
        TestRec {
            id: rest.unwrap_or(id).into(),
            prefix: rest.and(group).unwrap_or(NO_GROUP),
            time: 0,
            group: group.unwrap_or(NO_GROUP),
            line: 0,
            status: None,
            expected: None,
            flags: Flags::empty(),
            detail: None,
        }
    }

    fn hole() -> TestRec {
        let mut t = TestRec::new("", None, &[]);
        t.flags = Flags::HOLE;
        t
    }

    /// The name of the group that begins the id, not kept in `id`.
    fn prefix<'g>(&self, groups: &'g [Box<str>]) -> Option<&'g str> {
        (self.prefix != NO_GROUP).then(|| &*groups[self.prefix as usize])
    }

    /// The test id.
    fn id<'a>(&'a self, groups: &[Box<str>]) -> Cow<'a, str> {
        match self.prefix(groups) {
            Some(g) => Cow::Owned(format!("{g} {}", self.id)),
            None => Cow::Borrowed(&self.id),
        }
    }

    /// Whether the record is one of test `id`.
    fn is(&self, id: &str, groups: &[Box<str>]) -> bool {
        match self.prefix(groups) {
            Some(g) => is_in_group(id, g, &self.id),
            None => *self.id == *id,
        }
    }

    fn detail(&mut self) -> &mut Detail {
        self.detail.get_or_insert_with(Box::default)
    }

    fn more(&mut self) -> &mut More {
        self.detail().more.get_or_insert_with(Box::default)
    }

    fn began(&self) -> bool {
        self.flags.contains(Flags::BEGAN)
    }

    fn known(&self) -> bool {
        self.flags.contains(Flags::KNOWN)
    }

    fn group(&self) -> Option<u32> {
        (self.group != NO_GROUP).then_some(self.group)
    }

    fn set_start(&mut self, time: u64) {
        self.time = time;
        self.flags = (self.flags - Flags::TIMED) | Flags::STARTED;
    }

    fn set_end(&mut self, time: u64) {
        if self.flags.contains(Flags::STARTED) {
            self.time = time.saturating_sub(self.time);
            self.flags = (self.flags - Flags::STARTED) | Flags::TIMED;
        }
    }

    fn outcome(&self) -> Outcome {
        match self.status {
            None if self.began() => Outcome::Unfinished,
            None => Outcome::NotStarted,
            Some(_) if self.expected.is_some() && self.known() => Outcome::Intermittent,
            Some(_) if self.expected.is_some() => Outcome::Unexpected,
            Some(Status::Pass | Status::Ok) => Outcome::Pass,
            Some(Status::Skip | Status::Notrun) => Outcome::Skip,
            Some(_) => Outcome::Xfail,
        }
    }

    fn duration(&self) -> Option<u64> {
        (self.flags.contains(Flags::TIMED)).then_some(self.time)
    }
}

/// A `log` entry kept for the page.
struct LogRec {
    time: u64,
    level: Level,
    message: Box<str>,
    stack: Option<Box<str>>,
}

/// Output of a process that no known test claimed.
struct ProcOutput {
    process: Box<str>,
    command: Option<Box<str>>,
    output: Capped,
}

/// Everything the page shows, gathered entry by entry.
#[derive(Default)]
struct Report {
    entries: u64,
    first_time: Option<u64>,
    last_time: u64,
    suites: Vec<Box<str>>,
    run_info: Option<Map<String, Value>>,
    version_info: Option<Map<String, Value>>,
    device_info: Option<Map<String, Value>>,
    saw_suite: bool,
    /// A suite started and did not end (yet).
    open_suite: bool,
    groups: Names,
    tests: Vec<TestRec>,
    /// A test id's latest record.
    current: IdIndex<u32>,
    subtests: u64,
    subtests_unexpected: BTreeMap<Status, u64>,
    errors: Vec<LogRec>,
    errors_cut: u64,
    logs: Vec<LogRec>,
    logs_cut: u64,
    log_counts: BTreeMap<Level, u64>,
    crashes: Vec<Box<str>>,
    crashes_cut: u64,
    /// Commands of processes that are running, for their untested output.
    commands: HashMap<Box<str>, Box<str>>,
    other_output: Vec<ProcOutput>,
    other_index: foldhash::HashMap<Box<str>, usize>,
    other_actions: BTreeMap<String, u64>,
    /// A test slower than this is named among the slowest whatever its
    /// rank (0: the default).
    slow_threshold_ms: u64,
}

/// The html sink.
pub struct Html {
    out: Output,
    report: Report,
    finished: bool,
}

impl Html {
    /// A sink that writes the report to `out` when the stream is over.
    pub fn new(out: Output) -> Html {
        Html {
            out,
            report: Report::default(),
            finished: false,
        }
    }

    /// Names among the slowest tests every test slower than `ms`.
    pub fn slow_threshold(mut self, ms: u64) -> Html {
        self.report.slow_threshold_ms = ms;
        self
    }
}

impl Sink for Html {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        if !self.finished {
            self.report.entry(e);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Nothing is written before the end of the stream.
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        if !self.finished {
            self.finished = true;
            self.report.write_page(&mut self.out)?;
        }
        self.out.flush()
    }
}

/// The page's styles: `report.css`, linted as the CSS it is.
const CSS: &str = include_str!("report.css");
/// The page's script, which draws the table from the JSON block: `report.js`.
const JS: &str = include_str!("report.js");

#[cfg(test)]
mod tests {
    use super::render::test_json;
    use super::*;
    use crate::model::{Log, Origin, ProcessOutput, SuiteStart, TestStart};
    use crate::sink::testing::{render, stream};

    #[test]
    fn long_texts_are_cut_on_a_char_boundary() {
        let s = "é".repeat(10);
        assert_eq!(&*capped(&s, 5), "éé\n[… 16 more bytes not shown]");
    }

    #[test]
    fn a_grouped_tests_id_is_written_as_its_whole_id_cleaned() {
        let groups: Vec<Box<str>> = vec!["crate::bin".into(), "g \u{1b}[1m".into()];
        for (id, group) in [
            ("crate::bin tests::plain", 0),
            ("crate::bin q\"uote <b>&\ttab\nnl", 0),
            ("crate::bin ansi \u{1b}[31mred\u{1b}[0m", 0),
            ("crate::bin ctl \u{1}\u{7f} \u{2028}", 0),
            ("g \u{1b}[1m bold", 1),
        ] {
            let t = TestRec::new(id, Some(group), &groups);
            assert!(t.prefix(&groups).is_some(), "{id}");
            let mut written = String::new();
            test_json(&mut written, &t, &groups);
            let mut whole = String::from("{\"id\":");
            json_str(&mut whole, &clean(id));
            whole.push(',');
            assert!(written.starts_with(&whole), "{written} / {whole}");
        }
    }

    #[test]
    fn json_strings_read_back_as_written() {
        for text in [
            "",
            "plain ascii",
            "q\"uote \\ back <script>&amp;</script>",
            "ctl \u{1}\u{1b}[31m\u{7f} tab\t nl\n cr\r",
            "line sep \u{2028} para \u{2029} euro \u{20ac} dash \u{2014} \u{1f600}",
            "\u{e2}\u{2028}",
        ] {
            let mut out = String::new();
            json_str(&mut out, text);
            assert!(
                !out.contains(['<', '>', '&', '\u{2028}', '\u{2029}']),
                "{out}"
            );
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, text);
        }
    }

    fn page(name: &str, big: bool) -> String {
        render(&stream(name, big), Html::new)
    }

    /// The embedded JSON block.
    fn data(page: &str) -> &str {
        let open = "<script id=\"report-data\" type=\"application/json\">\n";
        let start = page.find(open).expect("data block") + open.len();
        let len = page[start..].find("</script>").expect("end of data block");
        &page[start..start + len]
    }

    /// The page with its fixed styles and script and its data block elided:
    /// what a reader checks in a snapshot.
    fn markup(page: &str) -> String {
        assert_eq!(page.matches(CSS).count(), 1, "the styles are there once");
        assert_eq!(page.matches(JS).count(), 1, "the script is there once");
        page.replacen(data(page), "/* data: see the _data snapshot */\n", 1)
            .replacen(CSS, "/* CSS */\n", 1)
            .replacen(JS, "/* JS */\n", 1)
    }

    fn snapshot(name: &str, page: &str) {
        insta::assert_snapshot!(format!("{name}_page"), markup(page));
        insta::assert_snapshot!(format!("{name}_data"), data(page));
        let parsed: Value = serde_json::from_str(data(page)).expect("the data block is JSON");
        assert!(parsed["tests"].is_array());
    }

    fn origin() -> Origin {
        Origin {
            thread: "main".into(),
            pid: 1,
            source: "test".into(),
        }
    }

    #[test]
    fn statuses() {
        snapshot("statuses", &page("statuses", false));
    }

    #[test]
    fn incomplete() {
        let p = page("incomplete", false);
        assert!(p.contains("id=\"incomplete\""));
        assert!(p.contains(">INCOMPLETE</div>"));
        snapshot("incomplete", &p);
    }

    #[test]
    fn build_failed() {
        let p = page("build-failed", false);
        assert!(p.contains("build failed\n  mismatched types"));
        assert!(p.contains(">ERROR</div>"));
        snapshot("build_failed", &p);
    }

    #[test]
    fn empty() {
        snapshot("empty", &page("empty", false));
    }

    #[test]
    fn no_entries_at_all() {
        let p = render(&[], Html::new);
        assert!(p.contains("The log has no entries"));
        assert!(data(&p).contains("\"tests\":[\n]"));
    }

    #[test]
    fn only_the_pages_own_style_and_script_are_allowed() {
        let p = page("statuses", false);
        assert!(!p.contains("unsafe-inline"));
        let between = |open: &str, close: &str| {
            let start = p.find(open).unwrap() + open.len();
            p[start..start + p[start..].find(close).unwrap()].to_string()
        };
        let style = between("<style>", "</style>");
        let script = between("</script>\n<script>", "</script>");
        assert!(style.contains(".panel") && script.contains("addEventListener"));
        for (directive, text) in [("style-src", &style), ("script-src", &script)] {
            let want = format!("{directive} '{}';", sha256_source(text));
            assert!(p.contains(&want), "no {want}");
        }
        // One changed byte is another hash.
        assert_ne!(sha256_source(&script), sha256_source(&format!("{script} ")));
    }

    #[test]
    fn nothing_is_loaded_from_anywhere() {
        let p = page("statuses", false);
        assert!(p.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"
        ));
        for part in [markup(&p).as_str(), CSS, JS] {
            for needle in [
                "http:", "https:", "://", "@import", "url(", "<link", "src=", "fetch(",
            ] {
                assert!(
                    !part.contains(needle),
                    "the page refers to something outside it: {needle}"
                );
            }
        }
    }

    #[test]
    fn hostile_text_cannot_break_out() {
        let evil = "</script><script>alert(1)</script><!-- \u{2028}\u{2029} & \"q\" 'a'";
        let o = origin();
        let mut run_info = Map::new();
        run_info.insert("hostname".into(), Value::String(evil.into()));
        let mut groups = crate::model::TestGroups::new();
        groups.insert(evil.into(), vec![evil.into()]);
        let mut end = TestEnd::new(evil, Status::Fail);
        end.set_expected(Status::Pass);
        end.message = Some(evil.into());
        end.stack = Some(evil.into());
        let entries = vec![
            o.entry(
                1,
                Action::SuiteStart(SuiteStart {
                    tests: groups.into(),
                    name: Some(evil.into()),
                    run_info: Some(run_info),
                    ..SuiteStart::default()
                }),
            ),
            o.entry(
                2,
                Action::TestStart(TestStart {
                    test: evil.into(),
                    ..TestStart::default()
                }),
            ),
            o.entry(
                3,
                Action::ProcessOutput(ProcessOutput {
                    process: evil.into(),
                    data: evil.into(),
                    command: None,
                    test: Some(evil.into()),
                    subsuite: None,
                }),
            ),
            o.entry(
                4,
                Action::ProcessOutput(ProcessOutput {
                    process: evil.into(),
                    data: evil.into(),
                    command: Some(evil.into()),
                    test: None,
                    subsuite: None,
                }),
            ),
            o.entry(5, Action::TestEnd(end)),
            o.entry(
                6,
                Action::Log(Log {
                    level: Level::Error,
                    message: evil.into(),
                    stack: Some(evil.into()),
                }),
            ),
        ];
        let p = render(&entries, Html::new);
        // The only script elements are the page's own two.
        assert_eq!(p.matches("<script").count(), 2, "{p}");
        assert_eq!(p.matches("</script").count(), 2);
        assert!(!p.contains("<!--"));
        assert!(!p.contains('\u{2028}') && !p.contains('\u{2029}'));
        // In the HTML, the text is escaped and still all there.
        assert!(p.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(p.contains("&quot;q&quot; &#39;a&#39;"));
        // In the data, it is a JSON string that reads back unchanged.
        let d: Value = serde_json::from_str(data(&p)).unwrap();
        let t = &d["tests"][0];
        assert_eq!(t["id"], evil);
        assert_eq!(t["m"], evil);
        assert_eq!(t["out"], evil);
        assert_eq!(d["groups"][0], evil);
    }

    #[test]
    fn ansi_and_control_characters_are_cleaned() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(clean("a\u{0}b\u{7}c\u{b}d\r\ne\rf"), "a␀b␇c␋d\ne\nf");
        assert_eq!(
            clean("del\u{7f} c1\u{9b} non\u{fffe}"),
            "del␡ c1\u{fffd} non\u{fffd}"
        );
        assert_eq!(clean("tab\tnl\n✓ 日本語"), "tab\tnl\n✓ 日本語");
        let p = page("statuses", false);
        let d = data(&p);
        assert!(!d.contains("\\u001b"), "no ANSI escape is left");
        assert!(d.contains("red and ␀nul ␇bell ␋vt ]]\\u003e \\\"\\u003c\\u0026\\u003e'"));
    }

    #[test]
    fn a_megabyte_of_output_is_capped_with_a_marker() {
        let p = page("statuses", true);
        assert!(p.len() < 200 * 1024, "the page is {} bytes", p.len());
        let d: Value = serde_json::from_str(data(&p)).unwrap();
        let big = d["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "demo::it big_output")
            .unwrap();
        let (head, tail) = (big["out"].as_str().unwrap(), big["tail"].as_str().unwrap());
        // The first and the last 32 KiB (the last newline is not shown).
        assert_eq!(
            (head.len(), tail.len()),
            (OUTPUT_CAP / 2, OUTPUT_CAP / 2 - 1)
        );
        assert!(head.starts_with("0123") && tail.ends_with("cdef"));
        // 1 MiB and its newline, less what is kept.
        assert_eq!(big["cut"], (1 << 20) + 1 - OUTPUT_CAP as u64);
        assert!(JS.contains("Output truncated: "));
    }

    #[test]
    fn a_test_that_runs_twice_has_two_rows() {
        let o = origin();
        let mut entries = Vec::new();
        for (t, status) in [(1, Status::Pass), (3, Status::Fail)] {
            entries.push(o.entry(
                t,
                Action::TestStart(TestStart {
                    test: "a".into(),
                    ..TestStart::default()
                }),
            ));
            let mut end = TestEnd::new("a", status);
            end.set_expected(Status::Pass);
            entries.push(o.entry(t + 1, Action::TestEnd(end)));
        }
        let p = render(&entries, Html::new);
        let d: Value = serde_json::from_str(data(&p)).unwrap();
        assert_eq!(d["tests"].as_array().unwrap().len(), 2);
        assert_eq!(d["tests"][1]["o"], "unexpected");
    }

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(thousands(20_000), "20,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(duration(12), "12 ms");
        assert_eq!(duration(1234), "1.234 s");
        assert_eq!(duration(123_000), "2 min 03 s");
        assert_eq!(duration(3_720_000), "1 h 02 min");
        assert_eq!(utc(1_700_000_000_007), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
