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
//! | SKIP | `<skipped message="reason"/>` |
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

use super::{hash_id, Names, Output, PreHashed, Sink};
use crate::model::{Action, Entry, Level, Status, Tests};
use crate::text::{millis_as_secs, strip_ansi};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{hash_map, HashMap};
use std::hash::BuildHasherDefault;
use std::io::{self, Write};

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

/// Messages and stacks are kept up to this many bytes even when the output
/// limit is smaller: they are what a report is read for.
const MIN_TEXT: usize = 4096;

/// True for a character XML 1.0 allows (its `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Text fit for the document: ANSI escapes and characters XML 1.0 forbids
/// removed (escaping is quick-xml's job).
fn sanitize(s: &str) -> Cow<'_, str> {
    let stripped = strip_ansi(s);
    // ASCII is all XML but for control characters other than tab, newline
    // and carriage return: most text needs no look at each character.
    let plain = |b: u8| (b' '..0x80).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r');
    if stripped.bytes().all(plain) || stripped.chars().all(is_xml_char) {
        return stripped;
    }
    Cow::Owned(stripped.chars().filter(|&c| is_xml_char(c)).collect())
}

/// The marker that stands for what was cut.
fn cut_marker(cut: u64, max: usize) -> String {
    format!("[... {cut} bytes of output cut by cargo-structlog: --log-xunit-max-output {max} ...]")
}

/// Sanitized text with a byte budget: what fits is kept, the rest is only
/// counted, so a test printing a gigabyte costs `max` bytes of memory.
#[derive(Debug, Default)]
struct Capped {
    text: String,
    cut: u64,
}

impl Capped {
    /// Appends raw text (sanitized here).
    fn push(&mut self, s: &str, max: usize) {
        let clean = sanitize(s);
        self.push_clean(&clean, max);
    }

    fn push_clean(&mut self, s: &str, max: usize) {
        if self.cut > 0 {
            self.cut += s.len() as u64;
            return;
        }
        let room = max.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
            return;
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&s[..end]);
        self.cut += (s.len() - end) as u64;
    }

    /// Appends one line.
    fn push_line(&mut self, line: &str, max: usize) {
        self.push(line, max);
        self.push_clean("\n", max);
    }

    fn is_empty(&self) -> bool {
        self.text.trim_end_matches('\n').is_empty() && self.cut == 0
    }

    /// The text, with the marker when something was cut.
    fn render(&self, max: usize) -> String {
        let mut s = self.text.trim_end_matches('\n').to_string();
        if self.cut > 0 {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(&cut_marker(self.cut, max));
        }
        s
    }
}

/// A sanitized copy of a message or stack, cut to the limit.
fn capped_text(s: &str, max: usize) -> String {
    let mut c = Capped::default();
    c.push(s, max);
    c.render(max)
}

/// A test's result, as much of `test_end` as the report needs: a view of
/// the fields a [`Case`] keeps inline and in its boxed [`Rare`] part.
#[derive(Debug)]
struct Outcome<'a> {
    status: Status,
    expected: Option<Status>,
    /// The status is one of the listed known intermittent ones.
    known_intermittent: bool,
    message: Option<&'a str>,
    stack: Option<&'a str>,
    /// `extra.timeout`: the limit in seconds.
    timeout: Option<f64>,
    /// `extra.sample`: the stack sample taken before the kill.
    sample: Option<&'a str>,
    /// The earlier attempts of a retried test (`extra.attempts`, `--retries`):
    /// their status and message.
    reruns: &'a [(Status, Box<str>)],
}

/// Subtests (`test_status`) of one test: a count and the unexpected ones.
#[derive(Debug, Default)]
struct Subtests {
    count: u64,
    unexpected: u64,
    detail: Capped,
}

/// What few cases have: the texts of a failure, subtests, a crash. Boxed,
/// so that the passing tests, nearly all of a large run, pay one pointer
/// for it.
#[derive(Debug, Default)]
struct Rare {
    message: Option<Box<str>>,
    stack: Option<Box<str>>,
    timeout: Option<f64>,
    sample: Option<Box<str>>,
    reruns: Box<[(Status, Box<str>)]>,
    subtests: Subtests,
    /// `crash` entries about the test.
    crash: Option<Box<str>>,
    /// `extra.line` when it does not fit [`Case::line`].
    line: Option<u64>,
}

/// `Case::flags`: which of the inline fields hold a value.
const STARTED: u8 = 1;
/// The case has its result: `end`, `status` and `expected` are set.
const ENDED: u8 = 2;
const KNOWN_INTERMITTENT: u8 = 4;
const HAS_LINE: u8 = 8;
/// A place kept for a listed test that went elsewhere: removed once the
/// listing is placed.
const HOLE: u8 = 16;
/// `test` is the id without its suite's name and the space after it.
const PREFIXED: u8 = 32;

/// `Case::path` of a test without a path.
const NO_PATH: u32 = u32::MAX;

/// One run of a test: what is kept until the document is written. A large
/// run has hundreds of thousands of them, so what a passing test needs is
/// inline and small, and the rest is boxed.
#[derive(Debug)]
struct Case {
    /// The mozlog test id (`"<binary-id> <libtest name>"`), kept only here
    /// ([`Record::cases`] finds the case by the id's hash), and with
    /// `PREFIXED` without the suite's name that begins it: the libtest name.
    test: Box<str>,
    /// `test_start.path`: its index in [`Record::paths`] (a binary's tests
    /// share one), or `NO_PATH`.
    path: u32,
    /// The `test_start` time, with `STARTED`.
    start: u64,
    /// The `test_end` time, with `ENDED`.
    end: u64,
    /// `extra.line`, with `HAS_LINE`.
    line: u32,
    status: Status,
    expected: Option<Status>,
    flags: u8,
    /// Captured output: boxed, as most tests print nothing.
    output: Option<Box<Capped>>,
    rare: Option<Box<Rare>>,
}

impl Case {
    /// A case of `test` in suite `group`.
    fn new(test: &str, group: &str) -> Case {
        let libtest = strip_group(test, group);
        Case {
            test: libtest.unwrap_or(test).into(),
            path: NO_PATH,
            start: 0,
            end: 0,
            line: 0,
            status: Status::Pass,
            expected: None,
            flags: if libtest.is_some() { PREFIXED } else { 0 },
            output: None,
            rare: None,
        }
    }

    fn hole() -> Case {
        let mut c = Case::new("", "");
        c.flags = HOLE;
        c
    }

    /// The libtest name, when the id is the suite's name, a space and it.
    fn libtest(&self) -> Option<&str> {
        (self.flags & PREFIXED != 0).then_some(&*self.test)
    }

    /// The test id, given the case's suite.
    fn id(&self, group: &str) -> Cow<'_, str> {
        match self.libtest() {
            Some(l) => Cow::Owned(format!("{group} {l}")),
            None => Cow::Borrowed(&self.test),
        }
    }

    /// Whether the case, of suite `group`, is one of test `id`.
    fn is(&self, id: &str, group: &str) -> bool {
        match self.libtest() {
            Some(l) => is_in_group(id, group, l),
            None => *self.test == *id,
        }
    }

    fn start(&self) -> Option<u64> {
        (self.flags & STARTED != 0).then_some(self.start)
    }

    fn end(&self) -> Option<u64> {
        (self.flags & ENDED != 0).then_some(self.end)
    }

    fn line(&self) -> Option<u64> {
        if self.flags & HAS_LINE != 0 {
            Some(self.line.into())
        } else {
            self.rare.as_ref().and_then(|r| r.line)
        }
    }

    fn set_line(&mut self, line: Option<u64>) {
        self.flags &= !HAS_LINE;
        if let Some(r) = &mut self.rare {
            r.line = None;
        }
        match line.map(u32::try_from) {
            Some(Ok(l)) => {
                self.line = l;
                self.flags |= HAS_LINE;
            }
            Some(Err(_)) => self.rare_mut().line = line,
            None => {}
        }
    }

    fn started(&self) -> bool {
        self.flags & (STARTED | ENDED) != 0
    }

    fn has_outcome(&self) -> bool {
        self.flags & ENDED != 0
    }

    fn outcome(&self) -> Option<Outcome<'_>> {
        if !self.has_outcome() {
            return None;
        }
        let rare = self.rare.as_deref();
        Some(Outcome {
            status: self.status,
            expected: self.expected,
            known_intermittent: self.flags & KNOWN_INTERMITTENT != 0,
            message: rare.and_then(|r| r.message.as_deref()),
            stack: rare.and_then(|r| r.stack.as_deref()),
            timeout: rare.and_then(|r| r.timeout),
            sample: rare.and_then(|r| r.sample.as_deref()),
            reruns: rare.map_or(&[], |r| &r.reruns),
        })
    }

    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    fn subtests(&self) -> Option<&Subtests> {
        self.rare.as_ref().map(|r| &r.subtests)
    }

    fn unexpected_subtests(&self) -> u64 {
        self.subtests().map_or(0, |s| s.unexpected)
    }

    fn crash(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.crash.as_deref())
    }

    /// The captured output, if there is any.
    fn output(&self) -> Option<&Capped> {
        self.output.as_deref().filter(|o| !o.is_empty())
    }
}

/// A test id without its group's name and the space after it, if it
/// starts with them: what a record keeps of the id of a test of a known
/// group (the runner's ids are `"<binary-id> <libtest name>"`).
pub(super) fn strip_group<'a>(test: &'a str, group: &str) -> Option<&'a str> {
    test.strip_prefix(group)?.strip_prefix(' ')
}

/// Whether `id` is `group`, a space and `rest`: the id of which
/// [`strip_group`] kept `rest`.
pub(super) fn is_in_group(id: &str, group: &str, rest: &str) -> bool {
    id.len() == group.len() + 1 + rest.len()
        && id.starts_with(group)
        && id.as_bytes()[group.len()] == b' '
        && id.ends_with(rest)
}

/// Test ids to the latest record of each, without a second copy of the ids
/// (the records have them): keyed by a 64-bit hash of the id, each hit
/// checked against the record found (`is(record, id)`: whether it is the
/// record of a test `id`). The rare id whose hash is already another id's
/// is kept whole, in a map of its own.
pub(super) struct IdIndex<V> {
    by_hash: HashMap<u64, V, BuildHasherDefault<PreHashed>>,
    collided: HashMap<Box<str>, V>,
    /// The latest ids found, with their hashes: a test's start, output and
    /// result come close together in a log, and in a large run's table each
    /// lookup is a cache miss. Emptied by every insert, so that what it
    /// holds is what the table would say.
    recent: Cell<[Option<(u64, V)>; RECENT]>,
    /// Whether an id has been given a second value (a test that ran twice,
    /// or a record moved): from then on, [`IdIndex::get`] guesses no more.
    reindexed: bool,
}

/// The ids [`IdIndex`] keeps at hand: tests that run at once (a binary's
/// test threads) interleave their entries.
const RECENT: usize = 4;

impl<V> std::fmt::Debug for IdIndex<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdIndex")
            .field("ids", &(self.by_hash.len() + self.collided.len()))
            .finish_non_exhaustive()
    }
}

impl<V> Default for IdIndex<V> {
    fn default() -> Self {
        IdIndex {
            by_hash: HashMap::default(),
            collided: HashMap::new(),
            recent: Cell::new([const { None }; RECENT]),
            reindexed: false,
        }
    }
}

impl<V: Copy> IdIndex<V> {
    /// Room for `n` more ids.
    pub(super) fn reserve(&mut self, n: usize) {
        self.by_hash.reserve(n);
    }

    /// The record of `id`, trying first the value `next` proposes
    /// after each found last (the next test in a run that follows its
    /// listing: memory close by, where the table's is far). Guesses are
    /// tried only while no id has been indexed twice: then the one record
    /// `is` accepts for an id is the one the table holds, given that every
    /// record is indexed when it is made (as xunit's cases and html's
    /// records are).
    pub(super) fn get(
        &self,
        id: &str,
        is: impl Fn(V, &str) -> bool,
        next: impl Fn(V) -> Option<V>,
    ) -> Option<V> {
        let hash = hash_id(id);
        let mut recent = self.recent.get();
        let near = recent
            .iter()
            .flatten()
            .find(|&&(h, v)| h == hash && is(v, id));
        if let Some(&(_, v)) = near {
            return Some(v);
        }
        let guessed = if self.reindexed {
            None
        } else {
            recent
                .iter()
                .flatten()
                .filter_map(|&(_, v)| next(v))
                .find(|&v| is(v, id))
        };
        let v = match guessed {
            Some(v) => v,
            None => {
                let &v = self.by_hash.get(&hash)?;
                if is(v, id) {
                    v
                } else {
                    *self.collided.get(id)?
                }
            }
        };
        recent.rotate_right(1);
        recent[0] = Some((hash, v));
        self.recent.set(recent);
        Some(v)
    }

    /// Makes `v` the record of `id` (records keep their ids, so an indexed
    /// record is still one of the id it was indexed by).
    pub(super) fn insert(&mut self, id: &str, v: V, is: impl Fn(V, &str) -> bool) {
        self.recent.set([const { None }; RECENT]);
        match self.by_hash.entry(hash_id(id)) {
            hash_map::Entry::Vacant(slot) => {
                slot.insert(v);
            }
            hash_map::Entry::Occupied(mut slot) => {
                if is(*slot.get(), id) {
                    slot.insert(v);
                    self.reindexed = true;
                } else if self.collided.insert(id.into(), v).is_some() {
                    self.reindexed = true;
                }
            }
        }
    }
}

/// A suite's listing (`suite_start.tests`) in the order of
/// [`Tests::groups`]: groups by name, a group named twice counted once, with
/// its last list. It is walked where it is, in the order it was written
/// (mozlog producers write their groups in any order), rather than taken
/// apart into a sorted copy of its hundreds of thousands of ids: a sink
/// gives each id the place its group's rank and its index in the group
/// decide.
pub(super) struct Listing {
    /// The groups, in order, each with the number of ids it lists.
    pub(super) groups: Vec<(String, usize)>,
    /// Each group as written, in order: its rank in `groups`, or `None` for
    /// a group named again later.
    written: Vec<Option<usize>>,
}

impl Listing {
    pub(super) fn of(tests: &Tests) -> Listing {
        let mut written: Vec<(String, usize)> = Vec::new();
        tests.each(&mut |group, id| match id {
            None => written.push((group.to_string(), 0)),
            Some(_) => {
                if let Some(g) = written.last_mut() {
                    g.1 += 1;
                }
            }
        });
        let mut order: Vec<usize> = (0..written.len()).collect();
        order.sort_by(|&a, &b| written[a].0.cmp(&written[b].0).then(a.cmp(&b)));
        let mut ranks = vec![None; written.len()];
        let mut groups = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            // The last of the groups of a name is the one that counts.
            if order
                .get(k + 1)
                .is_none_or(|&n| written[n].0 != written[i].0)
            {
                ranks[i] = Some(groups.len());
                groups.push(std::mem::take(&mut written[i]));
            }
        }
        Listing {
            groups,
            written: ranks,
        }
    }

    /// Calls `f(rank, index, id)` for each id of the groups that count, in
    /// the order they were written: `rank` is the group's in
    /// [`Listing::groups`], `index` the id's in its group.
    pub(super) fn each(&self, tests: &Tests, f: &mut dyn FnMut(usize, usize, &str)) {
        let mut written = self.written.iter();
        let mut rank = None;
        let mut index = 0;
        tests.each(&mut |_, id| match id {
            None => {
                rank = written.next().copied().flatten();
                index = 0;
            }
            Some(id) => {
                if let Some(r) = rank {
                    f(r, index, id);
                }
                index += 1;
            }
        });
    }
}

/// Whether the case at `(suite, case)` is one of test `id`.
fn is_case_of(suites: &[Suite], (s, c): (u32, u32), id: &str) -> bool {
    let suite = &suites[s as usize];
    suite.cases[c as usize].is(id, &suite.name)
}

/// One test binary (mozlog group).
#[derive(Debug)]
struct Suite {
    name: String,
    cases: Vec<Case>,
    /// Output of the binary's processes outside any test.
    output: Capped,
}

/// A `log` entry at ERROR or CRITICAL: a harness error, which fails the run
/// as a failing test does (mozlog's `SummaryHandler`).
#[derive(Debug)]
struct HarnessError {
    time: u64,
    level: Level,
    message: String,
    stack: Option<String>,
}

/// Everything the document is made from.
#[derive(Debug, Default)]
struct Record {
    name: Option<String>,
    run_info: Option<Map<String, Value>>,
    suite_started: Option<u64>,
    suite_ended: Option<u64>,
    first_time: Option<u64>,
    last_time: u64,
    suites: Vec<Suite>,
    suite_index: foldhash::HashMap<String, usize>,
    /// Test id → (suite, case) of its latest run.
    cases: IdIndex<(u32, u32)>,
    /// Process (pid as written in `process`) → suite, for output outside tests.
    processes: foldhash::HashMap<String, usize>,
    /// The (pid, suite) last put in `processes` by a test_start: each test
    /// of a process would put it again.
    last_process: Option<(i64, usize)>,
    /// The `path`s of tests, each kept once.
    paths: Names,
    harness_source: Option<String>,
    harness: Vec<HarnessError>,
}

impl Record {
    fn suite(&mut self, name: &str) -> usize {
        if let Some(&i) = self.suite_index.get(name) {
            return i;
        }
        self.suites.push(Suite {
            name: name.to_string(),
            cases: Vec::new(),
            output: Capped::default(),
        });
        self.suite_index
            .insert(name.to_string(), self.suites.len() - 1);
        self.suites.len() - 1
    }

    /// (suite, case) of the latest run of `test`.
    fn find(&self, test: &str) -> Option<(usize, usize)> {
        let suites = &self.suites;
        // The next case of a suite is a fair guess: tests mostly run in the
        // order they were listed.
        let next = |(s, c): (u32, u32)| {
            ((c as usize + 1) < suites[s as usize].cases.len()).then_some((s, c + 1))
        };
        self.cases
            .get(test, |at, id| is_case_of(suites, at, id), next)
            .map(|(s, c)| (s as usize, c as usize))
    }

    /// A new case of `test` at the end of suite `s`, now the test's latest.
    fn push_case(&mut self, s: usize, test: &str) -> (usize, usize) {
        let case = Case::new(test, &self.suites[s].name);
        self.suites[s].cases.push(case);
        let at = (s, self.suites[s].cases.len() - 1);
        self.index(test, at);
        at
    }

    /// Makes `at` the latest case of `test`.
    fn index(&mut self, test: &str, at: (usize, usize)) {
        let key = (
            u32::try_from(at.0).expect("fewer than 2^32 suites"),
            u32::try_from(at.1).expect("fewer than 2^32 cases in a suite"),
        );
        let suites = &self.suites;
        self.cases
            .insert(test, key, |at, id| is_case_of(suites, at, id));
    }

    /// Gives each test of a suite's listing that has no case yet a case,
    /// at the end of its group's suite, in the listing's order.
    fn list(&mut self, tests: &Tests) {
        let listing = Listing::of(tests);
        // Each group's suite, and where its listed cases begin: a test's
        // place is known before it is met (ids come in the order written,
        // groups are placed in their order), as a hole to fill.
        let mut places: Vec<(usize, usize)> = Vec::with_capacity(listing.groups.len());
        let mut rank_of = vec![None; self.suites.len() + listing.groups.len()];
        for (rank, (group, n)) in listing.groups.iter().enumerate() {
            let s = self.suite(group);
            let cases = &mut self.suites[s].cases;
            places.push((s, cases.len()));
            rank_of[s] = Some(rank);
            cases.reserve_exact(*n);
            cases.resize_with(cases.len() + n, Case::hole);
        }
        self.cases.reserve(tests.count());
        listing.each(tests, &mut |rank, index, test| {
            let (s, base) = places[rank];
            let here = (s, base + index);
            let moved = match self.find(test) {
                None => None,
                Some((s2, c2)) => match rank_of[s2] {
                    // Listed by this listing already: the test keeps the
                    // place that comes first in its order.
                    Some(r2) if c2 >= places[r2].1 => {
                        if (r2, c2) < (rank, here.1) {
                            return;
                        }
                        Some((s2, c2))
                    }
                    // Known before this listing.
                    _ => return,
                },
            };
            self.suites[s].cases[here.1] = Case::new(test, &self.suites[s].name);
            // Indexed before the old place is emptied: the index checks the
            // id of the case it points to.
            self.index(test, here);
            if let Some((s2, c2)) = moved {
                self.suites[s2].cases[c2] = Case::hole();
            }
        });
        for &(s, base) in &places {
            let mut to = base;
            for from in base..self.suites[s].cases.len() {
                if self.suites[s].cases[from].flags & HOLE != 0 {
                    continue;
                }
                if from != to {
                    let suite = &self.suites[s];
                    let test = suite.cases[from].id(&suite.name).into_owned();
                    // Indexed before the move, for the same reason.
                    self.index(&test, (s, to));
                    self.suites[s].cases.swap(from, to);
                }
                to += 1;
            }
            self.suites[s].cases.truncate(to);
        }
    }

    /// The suite of a test: its `group`, else the group listing it, else the
    /// run's name.
    fn group_of(&self, test: &str, group: Option<&str>) -> String {
        if let Some(g) = group {
            return g.to_string();
        }
        if let Some((s, _)) = self.find(test) {
            return self.suites[s].name.clone();
        }
        self.name.clone().unwrap_or_else(|| "default".to_string())
    }

    /// The case a new run of `test` writes to: the listed (or earlier) one
    /// while it has not started, else a new one (a test run twice is two cases).
    fn case_for_start(&mut self, test: &str, group: Option<&str>) -> (usize, usize) {
        match self.find(test) {
            Some((s, c)) if !self.suites[s].cases[c].started() => (s, c),
            _ => self.new_case(test, group),
        }
    }

    /// The case a result goes to: the test's latest one unless it already
    /// has a result (a result without a start, from another producer's log,
    /// is kept as a case without time rather than lost or overwriting one).
    fn case_for_end(&mut self, test: &str, group: Option<&str>) -> (usize, usize) {
        match self.find(test) {
            Some((s, c)) if !self.suites[s].cases[c].has_outcome() => (s, c),
            _ => self.new_case(test, group),
        }
    }

    fn new_case(&mut self, test: &str, group: Option<&str>) -> (usize, usize) {
        let g = self.group_of(test, group);
        let s = self.suite(&g);
        self.push_case(s, test)
    }

    fn case_mut(&mut self, test: &str) -> Option<&mut Case> {
        let (s, c) = self.find(test)?;
        Some(&mut self.suites[s].cases[c])
    }

    /// The path of a case's test file.
    fn path_of(&self, case: &Case) -> Option<&str> {
        (case.path != NO_PATH).then(|| &*self.paths.all()[case.path as usize])
    }

    /// The index of a test file's path in `paths`.
    fn path(&mut self, path: &str) -> u32 {
        self.paths.index(path)
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
                case.flags |= STARTED;
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
                    output.text.shrink_to_fit();
                }
                case.end = e.time;
                case.status = end.status;
                case.expected = end.expected;
                case.flags |= ENDED;
                if end.is_known_intermittent() {
                    case.flags |= KNOWN_INTERMITTENT;
                } else {
                    case.flags &= !KNOWN_INTERMITTENT;
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

/// What a case is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Omit,
    Pass,
    Skipped,
    Failure,
    Error,
    ExpectedFailure,
    UnexpectedSuccess,
}

/// Why: which rule gave the verdict (it decides the type and message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    Result,
    KnownIntermittent,
    Xfail,
    Xpass,
    Subtests,
    Unfinished,
    NotRun,
}

fn is_pass(s: Status) -> bool {
    matches!(s, Status::Pass | Status::Ok)
}

fn mapped(mode: MapMode, why: Why) -> (Verdict, Why) {
    let verdict = match (mode, why) {
        (MapMode::Success, _) => Verdict::Pass,
        (MapMode::Failure, _) => Verdict::Failure,
        (MapMode::Ignore, _) => Verdict::Omit,
        (MapMode::Passthru, Why::Xpass) => Verdict::UnexpectedSuccess,
        (MapMode::Passthru, _) => Verdict::ExpectedFailure,
    };
    (verdict, why)
}

fn judge(case: &Case, opts: &XunitOptions) -> (Verdict, Why) {
    let Some(o) = case.outcome() else {
        return if case.start().is_some() {
            (Verdict::Error, Why::Unfinished)
        } else {
            (Verdict::Skipped, Why::NotRun)
        };
    };
    let base = if o.expected.is_some() {
        if o.known_intermittent {
            (Verdict::Pass, Why::KnownIntermittent)
        } else if is_pass(o.status) {
            mapped(opts.xpass, Why::Xpass)
        } else {
            match o.status {
                Status::Error | Status::Crash => (Verdict::Error, Why::Result),
                Status::Fail
                | Status::Timeout
                | Status::Assert
                | Status::PreconditionFailed
                | Status::Notrun
                | Status::Skip
                | Status::Pass
                | Status::Ok => (Verdict::Failure, Why::Result),
            }
        }
    } else {
        match o.status {
            Status::Pass | Status::Ok => (Verdict::Pass, Why::Result),
            Status::Skip | Status::Notrun => (Verdict::Skipped, Why::Result),
            Status::Fail
            | Status::Error
            | Status::Timeout
            | Status::Crash
            | Status::Assert
            | Status::PreconditionFailed => mapped(opts.xfail, Why::Xfail),
        }
    };
    if base.0 == Verdict::Pass && case.unexpected_subtests() > 0 {
        (Verdict::Failure, Why::Subtests)
    } else {
        base
    }
}

/// `classname` and `name` of a test: the binary id plus the module path,
/// and the function.
fn split_name(test: &str, group: &str) -> (String, String) {
    let libtest = test
        .strip_prefix(group)
        .and_then(|rest| rest.strip_prefix(' '))
        .unwrap_or(test);
    split_libtest(libtest, group)
}

/// [`split_name`] of the libtest name of a test of binary `group`.
fn split_libtest(libtest: &str, group: &str) -> (String, String) {
    // Only a Rust path is split: a doctest's name (`src/lib.rs - a::b (line 5)`)
    // stays whole. (Thousands of names: bytes are looked at, not characters,
    // unless the name has other than ASCII.)
    let spaced = if libtest.is_ascii() {
        libtest
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == 0x0b)
    } else {
        libtest.contains(char::is_whitespace)
    };
    if !spaced {
        // The last `::`, as `rsplit_once` finds it.
        let last = libtest.as_bytes().windows(2).rposition(|w| w == b"::");
        if let Some(i) = last.filter(|&i| i > 0 && i + 2 < libtest.len()) {
            let (module, function) = (&libtest[..i], &libtest[i + 2..]);
            let mut classname = String::with_capacity(group.len() + 2 + module.len());
            classname.push_str(group);
            classname.push_str("::");
            classname.push_str(module);
            return (classname, function.to_string());
        }
    }
    (group.to_string(), libtest.to_string())
}

/// The cargo package of a binary id (`alpha::it_one` → `alpha`).
fn package_of(binary: &str) -> &str {
    binary.split("::").next().unwrap_or(binary)
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Milliseconds since the epoch as an ISO 8601 UTC time without a zone
/// (`2023-11-14T22:13:20`), the form the Ant schema requires.
fn iso_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    if y > 9999 {
        return "9999-12-31T23:59:59".to_string();
    }
    let sod = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// A JSON value as a property value.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A name for an attribute that must not be empty (`xs:token`, minLength 1).
fn non_empty(s: &str, fallback: &str) -> String {
    let clean = sanitize(s);
    if clean.trim().is_empty() {
        fallback.to_string()
    } else {
        clean.into_owned()
    }
}

/// A written case: the attributes and children, all text sanitized.
struct Rendered {
    /// The mozlog test id, for the Ant flavor's output headings (empty in
    /// the other flavors).
    test: String,
    classname: String,
    name: String,
    time: String,
    file: Option<String>,
    line: Option<u64>,
    /// The result element: (tag, type, message, body).
    result: Option<(&'static str, String, String, String)>,
    /// Earlier attempts of a retried test: `flakyFailure`/`flakyError` when
    /// it passed in the end, `rerunFailure`/`rerunError` when it did not
    /// (Maven Surefire's elements, in junit-10.xsd): (tag, type, message).
    reruns: Vec<(&'static str, String, String)>,
    /// Notes and output, for `<system-out>`.
    out: String,
}

fn join_lines<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    parts
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_case(
    case: &Case,
    group: &str,
    path: Option<&str>,
    verdict: Verdict,
    why: Why,
    last_time: u64,
    opts: &XunitOptions,
) -> Rendered {
    let (classname, name) = match case.libtest() {
        Some(libtest) => split_libtest(libtest, group),
        None => split_name(&case.test, group),
    };
    let elapsed = match (case.start(), case.end()) {
        (Some(s), Some(e)) => e.saturating_sub(s),
        (Some(s), None) => last_time.saturating_sub(s),
        (None, _) => 0,
    };
    let outcome = case.outcome();
    let o = outcome.as_ref();
    let message = o.and_then(|o| o.message);
    let stack = o.and_then(|o| o.stack);
    let status_text = |o: &Outcome| match o.expected {
        Some(exp) => format!("{}, expected {exp}", o.status),
        None => o.status.to_string(),
    };
    // The limit and the sample as lines of their own, unless the message
    // (the runner's "timed out after 5 s ...; stacks sampled ...") has them.
    let timeout_lines = |o: &Outcome, msg: &str| {
        let mut lines = Vec::new();
        if let Some(t) = o.timeout {
            lines.push(format!("time limit: {t} s"));
        }
        if let Some(s) = o.sample.filter(|s| !msg.contains(*s)) {
            lines.push(format!("stacks sampled before the kill: {s}"));
        }
        lines.join("\n")
    };
    let subtests = case.subtests().filter(|s| s.unexpected > 0).map(|s| {
        format!(
            "unexpected subtest results:\n{}",
            s.detail.render(opts.max_output.max(MIN_TEXT))
        )
    });
    let mut notes: Vec<String> = Vec::new();
    let result = match (verdict, why) {
        (Verdict::Omit | Verdict::Pass, _) => {
            if let Some(o) = o {
                match why {
                    Why::KnownIntermittent => notes.push(format!(
                        "known intermittent: {}{}",
                        status_text(o),
                        message.map(|m| format!(" - {m}")).unwrap_or_default()
                    )),
                    Why::Xpass => notes.push(format!(
                        "unexpected success (written as a pass: --log-xunit-xpass success){}",
                        message.map(|m| format!(" - {m}")).unwrap_or_default()
                    )),
                    Why::Result | Why::Xfail | Why::Subtests | Why::Unfinished | Why::NotRun => {}
                }
            }
            None
        }
        (Verdict::Skipped, Why::NotRun) => Some((
            "skipped",
            String::new(),
            "not run: listed in suite_start, but the log has no result for it".to_string(),
            String::new(),
        )),
        (Verdict::Skipped, _) => Some((
            "skipped",
            String::new(),
            message.unwrap_or_default().to_string(),
            String::new(),
        )),
        (Verdict::Error, Why::Unfinished) => Some((
            "error",
            "incomplete".to_string(),
            "did not finish: the log ends before its result".to_string(),
            String::new(),
        )),
        (Verdict::Failure, Why::Subtests) => Some((
            "failure",
            "subtest".to_string(),
            format!(
                "{} of {} subtests had unexpected results",
                case.unexpected_subtests(),
                case.subtests().map_or(0, |s| s.count)
            ),
            subtests.clone().unwrap_or_default(),
        )),
        (Verdict::Failure, Why::Xfail) => {
            let o = o.expect("an expected failure has a result");
            Some((
                "failure",
                "expected_failure".to_string(),
                format!(
                    "expected failure ({}){}",
                    o.status,
                    message.map(|m| format!(": {m}")).unwrap_or_default()
                ),
                join_lines([message, stack, subtests.as_deref()]),
            ))
        }
        (Verdict::Failure, Why::Xpass) => Some((
            "failure",
            "unexpected_success".to_string(),
            "unexpected success".to_string(),
            join_lines([message, subtests.as_deref()]),
        )),
        (Verdict::Failure | Verdict::Error, _) => {
            let o = o.expect("a failure has a result");
            let tag = if verdict == Verdict::Error {
                "error"
            } else {
                "failure"
            };
            let msg = match (message, o.status, o.timeout) {
                (Some(m), _, _) => m.to_string(),
                (None, Status::Timeout, Some(t)) => format!("timed out after {t} s"),
                (None, _, _) => status_text(o),
            };
            let timeout = timeout_lines(o, &msg);
            Some((
                tag,
                o.status.lower().to_string(),
                msg.clone(),
                join_lines([
                    Some(msg.as_str()),
                    stack,
                    Some(timeout.as_str()),
                    case.crash(),
                    subtests.as_deref(),
                ]),
            ))
        }
        (Verdict::ExpectedFailure, _) => {
            let o = o.expect("an expected failure has a result");
            Some((
                "expected-failure",
                o.status.lower().to_string(),
                message.unwrap_or_default().to_string(),
                String::new(),
            ))
        }
        (Verdict::UnexpectedSuccess, _) => Some((
            "unexpected-success",
            String::new(),
            message.unwrap_or_default().to_string(),
            String::new(),
        )),
    };
    let passed = matches!(verdict, Verdict::Omit | Verdict::Pass);
    let reruns: Vec<(&'static str, String, String)> = o
        .map(|o| {
            o.reruns
                .iter()
                .filter(|(status, _)| !matches!(status, Status::Pass | Status::Ok | Status::Skip))
                .map(|(status, message)| {
                    let error = matches!(status, Status::Error | Status::Crash);
                    let tag = match (passed, error) {
                        (true, false) => "flakyFailure",
                        (true, true) => "flakyError",
                        (false, false) => "rerunFailure",
                        (false, true) => "rerunError",
                    };
                    (
                        tag,
                        status.lower().to_string(),
                        non_empty(message, status.as_str()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(o) = o {
        let total = o.reruns.len() + 1;
        for (n, (status, message)) in o.reruns.iter().enumerate() {
            notes.push(format!(
                "attempt {} of {total}: {status}{}",
                n + 1,
                if message.is_empty() {
                    String::new()
                } else {
                    format!(" - {message}")
                }
            ));
        }
    }
    let mut out = notes.join("\n");
    if let Some(output) = case.output() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&output.render(opts.max_output));
    }
    Rendered {
        test: if opts.flavor == Flavor::Ant {
            sanitize(&case.id(group)).into_owned()
        } else {
            String::new()
        },
        classname: sanitize(&classname).into_owned(),
        name: sanitize(&name).into_owned(),
        time: millis_as_secs(elapsed),
        file: path.map(|p| sanitize(p).into_owned()),
        line: case.line(),
        result,
        reruns,
        out,
    }
}

/// A suite ready to write: its counts, and where its cases come from. The
/// cases of a recorded suite are rendered one at a time as they are
/// written, so that the document costs no more memory than the record.
struct SuiteOut<'a> {
    name: String,
    package: String,
    /// The recorded suite (`None` for the harness errors).
    suite: Option<&'a Suite>,
    /// The harness errors, rendered (they are few).
    harness: Vec<Rendered>,
    /// Output outside any test.
    extra_out: String,
    timestamp: u64,
    time: u64,
    tests: u64,
    failures: u64,
    errors: u64,
    skipped: u64,
    xfail: u64,
    xpass: u64,
}

impl<'a> SuiteOut<'a> {
    fn new(name: String, package: String, timestamp: u64) -> SuiteOut<'a> {
        SuiteOut {
            name,
            package,
            suite: None,
            harness: Vec::new(),
            extra_out: String::new(),
            timestamp,
            time: 0,
            tests: 0,
            failures: 0,
            errors: 0,
            skipped: 0,
            xfail: 0,
            xpass: 0,
        }
    }

    /// Counts a case written as `v`.
    fn count(&mut self, v: Verdict) {
        match v {
            Verdict::Omit => return,
            Verdict::Pass => {}
            Verdict::Skipped => self.skipped += 1,
            Verdict::Failure => self.failures += 1,
            Verdict::Error => self.errors += 1,
            Verdict::ExpectedFailure => self.xfail += 1,
            Verdict::UnexpectedSuccess => self.xpass += 1,
        }
        self.tests += 1;
    }
}

fn plan<'a>(rec: &'a Record, opts: &XunitOptions) -> Vec<SuiteOut<'a>> {
    let start = rec.suite_started.or(rec.first_time).unwrap_or(0);
    let mut out = Vec::new();
    for suite in &rec.suites {
        let first = suite.cases.iter().filter_map(Case::start).min();
        let last = suite
            .cases
            .iter()
            .filter_map(|c| c.end().or(c.start().map(|_| rec.last_time)))
            .max();
        let name = non_empty(&suite.name, "default");
        let package = non_empty(package_of(&suite.name), &name);
        let mut s = SuiteOut::new(name, package, first.unwrap_or(start));
        if let (Some(f), Some(l)) = (first, last) {
            s.time = l.saturating_sub(f);
        }
        for case in &suite.cases {
            s.count(judge(case, opts).0);
        }
        s.suite = Some(suite);
        if !suite.output.is_empty() {
            s.extra_out = suite.output.render(opts.max_output);
        }
        out.push(s);
    }
    if !rec.harness.is_empty() {
        let source = rec.harness_source.as_deref().unwrap_or_default();
        let name = non_empty(source, "harness");
        let mut s = SuiteOut::new(name.clone(), name.clone(), rec.harness[0].time);
        for h in &rec.harness {
            let first_line = h.message.lines().find(|l| !l.trim().is_empty());
            let mut case_name: String = first_line.unwrap_or("harness error").to_string();
            if case_name.len() > 200 {
                let mut end = 200;
                while !case_name.is_char_boundary(end) {
                    end -= 1;
                }
                case_name.truncate(end);
                case_name.push_str("...");
            }
            let r = Rendered {
                test: case_name.clone(),
                classname: name.clone(),
                name: case_name,
                time: millis_as_secs(0),
                file: None,
                line: None,
                result: Some((
                    "error",
                    h.level.as_str().to_ascii_lowercase(),
                    h.message.clone(),
                    join_lines([Some(h.message.as_str()), h.stack.as_deref()]),
                )),
                reruns: Vec::new(),
                out: String::new(),
            };
            s.count(Verdict::Error);
            s.harness.push(r);
        }
        out.push(s);
    }
    out
}

fn start_tag<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
    // Room for the attributes as they are (escapes may add some): one
    // allocation for most tags rather than one per attribute.
    let room = name.len()
        + attrs
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>();
    let mut content = String::with_capacity(room + 16);
    content.push_str(name);
    let mut start = BytesStart::from_content(content, name.len());
    for (k, v) in attrs {
        start.push_attribute((*k, *v));
    }
    start
}

/// An element holding text (empty when there is none).
fn text_element<W: Write>(
    w: &mut Writer<W>,
    name: &str,
    attrs: &[(&str, &str)],
    text: &str,
) -> io::Result<()> {
    let start = start_tag(name, attrs);
    if text.is_empty() {
        return w.write_event(Event::Empty(start));
    }
    w.write_event(Event::Start(start))?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn write_properties<W: Write>(
    w: &mut Writer<W>,
    run_info: Option<&Map<String, Value>>,
) -> io::Result<()> {
    let props: Vec<(String, String)> = run_info
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let k = sanitize(k);
            // The Ant schema wants a non-empty token as the name.
            (!k.trim().is_empty()).then(|| (k.into_owned(), sanitize(&value_text(v)).into_owned()))
        })
        .collect();
    if props.is_empty() {
        return w.write_event(Event::Empty(BytesStart::new("properties")));
    }
    w.write_event(Event::Start(BytesStart::new("properties")))?;
    for (k, v) in &props {
        w.write_event(Event::Empty(start_tag(
            "property",
            &[("name", k), ("value", v)],
        )))?;
    }
    w.write_event(Event::End(BytesEnd::new("properties")))
}

fn write_case<W: Write>(w: &mut Writer<W>, r: &Rendered, flavor: Flavor) -> io::Result<()> {
    let line = r.line.map(|l| l.to_string());
    let mut attrs: Vec<(&str, &str)> = vec![
        ("name", &r.name),
        ("classname", &r.classname),
        ("time", &r.time),
    ];
    if flavor == Flavor::Extended {
        if let Some(f) = &r.file {
            attrs.push(("file", f));
        }
        if let Some(l) = &line {
            attrs.push(("line", l));
        }
    }
    // The Ant schema allows no output inside a testcase: it goes to the suite.
    let out = if flavor == Flavor::Ant {
        ""
    } else {
        r.out.as_str()
    };
    // The Ant schema allows one result element per case: attempts are only
    // in the output notes there.
    let reruns: &[(&str, String, String)] = if flavor == Flavor::Ant {
        &[]
    } else {
        &r.reruns
    };
    if r.result.is_none() && out.is_empty() && reruns.is_empty() {
        return w.write_event(Event::Empty(start_tag("testcase", &attrs)));
    }
    w.write_event(Event::Start(start_tag("testcase", &attrs)))?;
    if let Some((tag, kind, message, body)) = &r.result {
        let mut attrs: Vec<(&str, &str)> = Vec::new();
        if !kind.is_empty() {
            attrs.push(("type", kind));
        }
        if !message.is_empty() {
            attrs.push(("message", message));
        }
        text_element(w, tag, &attrs, body)?;
    }
    for (tag, kind, message) in reruns {
        w.write_event(Event::Empty(start_tag(
            tag,
            &[("type", kind), ("message", message)],
        )))?;
    }
    if !out.is_empty() {
        text_element(w, "system-out", &[], out)?;
    }
    w.write_event(Event::End(BytesEnd::new("testcase")))
}

/// The suite's `<system-out>` in the Ant flavor: each test's output under a
/// heading, then the output outside tests.
#[derive(Default)]
struct AntOutput(String);

impl AntOutput {
    fn case(&mut self, r: &Rendered) {
        if !r.out.is_empty() {
            self.0
                .push_str(&format!("---- {} ----\n{}\n", r.test, r.out));
        }
    }

    fn finish(mut self, extra_out: &str) -> String {
        if !extra_out.is_empty() {
            if !self.0.is_empty() {
                self.0.push_str("---- outside any test ----\n");
            }
            self.0.push_str(extra_out);
        }
        self.0.trim_end_matches('\n').to_string()
    }
}

fn write_document(out: &mut Output, rec: &Record, opts: &XunitOptions) -> io::Result<()> {
    let suites = plan(rec, opts);
    let flavor = opts.flavor;
    let passthru = opts.xfail == MapMode::Passthru || opts.xpass == MapMode::Passthru;
    let hostname = rec
        .run_info
        .as_ref()
        .and_then(|r| r.get("hostname"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    // The Ant schema's advice when the host is unknown.
    let hostname = non_empty(hostname, "localhost");

    let mut w = Writer::new_with_indent(&mut *out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("testsuites");
    if flavor != Flavor::Ant {
        // The Ant schema allows no attributes on testsuites.
        if let Some(n) = &rec.name {
            root.push_attribute(("name", sanitize(n).as_ref()));
        }
        let sum = |f: fn(&SuiteOut) -> u64| suites.iter().map(f).sum::<u64>().to_string();
        root.push_attribute(("tests", sum(|s| s.tests).as_str()));
        root.push_attribute(("failures", sum(|s| s.failures).as_str()));
        root.push_attribute(("errors", sum(|s| s.errors).as_str()));
        let begin = rec.suite_started.or(rec.first_time).unwrap_or(0);
        let end = rec.suite_ended.unwrap_or(rec.last_time);
        root.push_attribute(("time", millis_as_secs(end.saturating_sub(begin)).as_str()));
    }
    if suites.is_empty() {
        w.write_event(Event::Empty(root))?;
        return out.write_all(b"\n");
    }
    w.write_event(Event::Start(root))?;
    for (id, s) in suites.iter().enumerate() {
        let counts = [
            s.tests.to_string(),
            s.failures.to_string(),
            s.errors.to_string(),
            s.skipped.to_string(),
            millis_as_secs(s.time),
            iso_time(s.timestamp),
            id.to_string(),
            s.xfail.to_string(),
            s.xpass.to_string(),
        ];
        let mut attrs: Vec<(&str, &str)> = vec![
            ("name", &s.name),
            ("tests", &counts[0]),
            ("failures", &counts[1]),
            ("errors", &counts[2]),
            ("skipped", &counts[3]),
            ("time", &counts[4]),
            ("timestamp", &counts[5]),
            ("hostname", &hostname),
        ];
        if flavor == Flavor::Ant {
            attrs.push(("package", &s.package));
            attrs.push(("id", &counts[6]));
        }
        if passthru {
            // As LLDB's formatter: counts no schema knows.
            attrs.push(("expected-failures", &counts[7]));
            attrs.push(("unexpected-successes", &counts[8]));
        }
        w.write_event(Event::Start(start_tag("testsuite", &attrs)))?;
        write_properties(&mut w, rec.run_info.as_ref())?;
        let mut ant = AntOutput::default();
        let mut put = |w: &mut Writer<&mut Output>, r: &Rendered| {
            if flavor == Flavor::Ant {
                ant.case(r);
            }
            write_case(w, r, flavor)
        };
        if let Some(suite) = s.suite {
            for case in &suite.cases {
                let (verdict, why) = judge(case, opts);
                if verdict == Verdict::Omit {
                    continue;
                }
                let path = rec.path_of(case);
                let r = render_case(case, &suite.name, path, verdict, why, rec.last_time, opts);
                put(&mut w, &r)?;
            }
        }
        for r in &s.harness {
            put(&mut w, r)?;
        }
        if flavor == Flavor::Ant {
            text_element(&mut w, "system-out", &[], &ant.finish(&s.extra_out))?;
            w.write_event(Event::Empty(BytesStart::new("system-err")))?;
        } else if !s.extra_out.is_empty() {
            text_element(&mut w, "system-out", &[], &s.extra_out)?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, ProcessOutput};
    use crate::sink::testing::{render, stream, BIG_OUTPUT_PLACEHOLDER};
    use quick_xml::Reader;

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
                r#"<error type="incomplete" message="did not finish: the log ends before its result"/>"#
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
    fn output_is_cut_on_a_char_boundary() {
        let mut c = Capped::default();
        c.push_line("ab日本", 4); // 'a' 'b' then a 3-byte char that does not fit
        c.push_line("more", 4);
        assert_eq!(c.text, "ab");
        assert_eq!(c.cut, 6 + 1 + 4 + 1);
        assert_eq!(
            c.render(4),
            "ab\n[... 12 bytes of output cut by cargo-structlog: --log-xunit-max-output 4 ...]"
        );
        let mut none = Capped::default();
        none.push_line("x", 0);
        assert_eq!(none.text, "");
        assert_eq!(none.cut, 2);
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
