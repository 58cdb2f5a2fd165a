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

use super::xunit::{is_in_group, strip_group, IdIndex, Listing};
use super::{Names, Output, Sink};
use crate::model::{Action, Crash, Entry, Level, Status, TestEnd, TestStatus, Tests};
use crate::text::{millis_as_secs, strip_ansi};
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

/// The page may load nothing: styles and the script are inline, images could
/// only be `data:` URLs (there are none), and no form, frame or base URL.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                   img-src data:; base-uri 'none'; form-action 'none'";

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

/// `TestRec::flags`: started (`test_start`, or a subtest result before any
/// start).
const BEGAN: u8 = 1;
/// The status is one of the listed known intermittent ones.
const KNOWN: u8 = 2;
/// `time` is the `test_start` time.
const STARTED: u8 = 4;
/// `time` is the duration: the test started and ended.
const TIMED: u8 = 8;
/// `extra` was `{"line": N}` alone (most results' extra): its text,
/// `line: N`, is written from `line` rather than kept.
const EXTRA_LINE: u8 = 16;
/// A place kept for a listed test that went elsewhere: removed once the
/// listing is placed.
const HOLE: u8 = 32;

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
    flags: u8,
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
            flags: 0,
            detail: None,
        }
    }

    fn hole() -> TestRec {
        let mut t = TestRec::new("", None, &[]);
        t.flags = HOLE;
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
        self.flags & BEGAN != 0
    }

    fn known(&self) -> bool {
        self.flags & KNOWN != 0
    }

    fn group(&self) -> Option<u32> {
        (self.group != NO_GROUP).then_some(self.group)
    }

    fn set_start(&mut self, time: u64) {
        self.time = time;
        self.flags = (self.flags & !TIMED) | STARTED;
    }

    fn set_end(&mut self, time: u64) {
        if self.flags & STARTED != 0 {
            self.time = time.saturating_sub(self.time);
            self.flags = (self.flags & !STARTED) | TIMED;
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
        (self.flags & TIMED != 0).then_some(self.time)
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

/// Output lines (each followed by `\n`, cleaned) kept to a cap: the first
/// half of the cap in `head`, the latest bytes in `tail`, and a count of the
/// bytes between them that were dropped.
#[derive(Default)]
struct Capped {
    head: String,
    tail: String,
    cut: u64,
}

impl Capped {
    fn push_line(&mut self, line: &str, cap: usize) {
        self.push(line, cap);
        self.push("\n", cap);
    }

    fn push(&mut self, s: &str, cap: usize) {
        let mut s = s;
        if self.tail.is_empty() {
            let room = (cap / 2).saturating_sub(self.head.len());
            if s.len() <= room {
                self.head.push_str(s);
                return;
            }
            let k = floor_boundary(s, room);
            self.head.push_str(&s[..k]);
            s = &s[k..];
        }
        self.tail.push_str(s);
        // Dropped only once the tail holds a whole cap more than it keeps,
        // so that each byte is moved a bounded number of times.
        if self.tail.len() > cap {
            let k = self.excess(cap);
            self.cut += k as u64;
            self.tail.drain(..k);
        }
    }

    /// Bytes at the front of the tail beyond the cap.
    fn excess(&self, cap: usize) -> usize {
        let over = (self.head.len() + self.tail.len()).saturating_sub(cap);
        let mut k = over.min(self.tail.len());
        while !self.tail.is_char_boundary(k) {
            k += 1;
        }
        k
    }

    fn is_empty(&self) -> bool {
        self.head.is_empty()
    }

    /// Gives back what growing left unused.
    fn shrink(&mut self) {
        self.head.shrink_to_fit();
        self.tail.shrink_to_fit();
    }

    /// The kept text, without the last newline: `(head, cut, tail)`; when
    /// nothing is cut, everything is in the head.
    fn parts(&self, cap: usize) -> (Cow<'_, str>, u64, &str) {
        let k = self.excess(cap);
        let cut = self.cut + k as u64;
        let tail = &self.tail[k..];
        if cut == 0 {
            let all = if tail.is_empty() {
                Cow::Borrowed(self.head.as_str())
            } else {
                Cow::Owned(format!("{}{tail}", self.head))
            };
            let trimmed = match all {
                Cow::Borrowed(s) => Cow::Borrowed(s.strip_suffix('\n').unwrap_or(s)),
                Cow::Owned(mut s) => {
                    if s.ends_with('\n') {
                        s.pop();
                    }
                    Cow::Owned(s)
                }
            };
            (trimmed, 0, "")
        } else {
            (
                Cow::Borrowed(self.head.as_str()),
                cut,
                tail.strip_suffix('\n').unwrap_or(tail),
            )
        }
    }
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

impl Report {
    fn entry(&mut self, e: &Entry) {
        self.entries += 1;
        self.first_time.get_or_insert(e.time);
        self.last_time = self.last_time.max(e.time);
        match &e.action {
            Action::SuiteStart(s) => {
                self.saw_suite = true;
                self.open_suite = true;
                if let Some(name) = &s.name {
                    if !self.suites.iter().any(|n| **n == **name) {
                        self.suites.push(name.as_str().into());
                    }
                }
                // The first suite's host describes the run; later suites of
                // one stream run on the same machine.
                if self.run_info.is_none() {
                    self.run_info.clone_from(&s.run_info);
                }
                if self.version_info.is_none() {
                    self.version_info.clone_from(&s.version_info);
                }
                if self.device_info.is_none() {
                    self.device_info.clone_from(&s.device_info);
                }
                // Listed tests get their rows now, in the listing's order.
                // Nearly every listed test runs: its record is made once, here.
                self.list(&s.tests);
            }
            Action::SuiteEnd(_) => self.open_suite = false,
            Action::TestStart(t) => {
                let i = match self.lookup(&t.test) {
                    Some(i) if !self.tests[i].began() && self.tests[i].status.is_none() => i,
                    _ => self.new_test(&t.test, None),
                };
                if let Some(g) = t.group.as_deref() {
                    self.tests[i].group = self.group(g);
                }
                let rec = &mut self.tests[i];
                rec.flags |= BEGAN;
                rec.set_start(e.time);
            }
            Action::TestStatus(s) => self.test_status(s),
            Action::TestEnd(t) => self.test_end(t, e.time),
            Action::ProcessOutput(p) => {
                let line = clean(&p.data);
                match p.test.as_deref().and_then(|t| self.lookup(t)) {
                    Some(i) => {
                        let d = self.tests[i].detail();
                        d.output.push_line(&line, OUTPUT_CAP);
                    }
                    None => {
                        let command = p.command.as_deref();
                        let o = self.other(&p.process, command);
                        o.output.push_line(&line, OUTPUT_CAP);
                    }
                }
            }
            Action::Log(l) => {
                *self.log_counts.entry(l.level).or_default() += 1;
                let rec = LogRec {
                    time: e.time,
                    level: l.level,
                    message: capped(&l.message, TEXT_CAP),
                    stack: l.stack.as_deref().map(|s| capped(s, TEXT_CAP)),
                };
                let (list, cut) = if matches!(l.level, Level::Error | Level::Critical) {
                    (&mut self.errors, &mut self.errors_cut)
                } else {
                    (&mut self.logs, &mut self.logs_cut)
                };
                if list.len() < LOG_CAP {
                    list.push(rec);
                } else {
                    *cut += 1;
                }
            }
            Action::Crash(c) => self.crash(c, e.pid),
            Action::ProcessStart(p) => {
                if let Some(c) = &p.command {
                    self.commands
                        .insert(p.process.as_str().into(), c.as_str().into());
                }
            }
            Action::ProcessExit(p) => {
                // Only a process with untested output needs its command after
                // it ended, and that one keeps it in `other_output`.
                self.commands.remove(p.process.as_str());
            }
            Action::Other { action, .. } => {
                *self.other_actions.entry(action.clone()).or_default() += 1;
            }
            Action::GroupStart(_)
            | Action::GroupEnd(_)
            | Action::AddSubsuite(_)
            | Action::Shutdown => {}
        }
    }

    fn group(&mut self, name: &str) -> u32 {
        self.groups.index(name)
    }

    /// Gives each test of a suite's listing that has no record yet a
    /// record, in the listing's order.
    fn list(&mut self, tests: &Tests) {
        let listing = Listing::of(tests);
        // Each group, and where its records begin: a test's place is known
        // before it is met (ids come in the order written, groups are
        // placed in their order), as a hole to fill.
        let base = self.tests.len();
        let mut places: Vec<(u32, usize)> = Vec::with_capacity(listing.groups.len());
        let mut end = base;
        for (group, n) in &listing.groups {
            places.push((self.group(group), end));
            end += n;
        }
        self.tests.reserve_exact(end - base);
        self.tests.resize_with(end, TestRec::hole);
        self.current.reserve(tests.count());
        listing.each(tests, &mut |rank, index, id| {
            let (g, first) = places[rank];
            let here = first + index;
            let moved = match self.lookup(id) {
                None => None,
                // Listed by this listing already: the test keeps the place
                // that comes first in its order.
                Some(i) if i >= base => {
                    if i < here {
                        return;
                    }
                    Some(i)
                }
                // Known before this listing.
                Some(_) => return,
            };
            self.tests[here] = TestRec::new(id, Some(g), self.groups.all());
            // Indexed before the old place is emptied: the index checks the
            // id of the record it points to.
            self.index(id, here);
            if let Some(i) = moved {
                self.tests[i] = TestRec::hole();
            }
        });
        let mut to = base;
        for from in base..self.tests.len() {
            if self.tests[from].flags & HOLE != 0 {
                continue;
            }
            if from != to {
                let id = self.tests[from].id(self.groups.all()).into_owned();
                // Indexed before the move, for the same reason.
                self.index(&id, to);
                self.tests.swap(from, to);
            }
            to += 1;
        }
        self.tests.truncate(to);
    }

    /// Makes record `i` the latest of test `id`.
    fn index(&mut self, id: &str, i: usize) {
        let key = u32::try_from(i).expect("fewer than 2^32 test records");
        let (tests, groups) = (&self.tests, self.groups.all());
        self.current
            .insert(id, key, |i, id| tests[i as usize].is(id, groups));
    }

    fn lookup(&self, test: &str) -> Option<usize> {
        let (tests, groups) = (&self.tests, self.groups.all());
        // The next record is a fair guess: tests mostly run in the order
        // they were listed.
        let next = |i: u32| (i as usize + 1 < tests.len()).then_some(i + 1);
        self.current
            .get(test, |i, id| tests[i as usize].is(id, groups), next)
            .map(|i| i as usize)
    }

    fn new_test(&mut self, id: &str, group: Option<u32>) -> usize {
        let i = self.tests.len();
        self.tests.push(TestRec::new(id, group, self.groups.all()));
        self.index(id, i);
        i
    }

    /// The record a result goes to: the test's latest one unless it already
    /// has its result (then the test runs again: a new record).
    fn open_record(&mut self, test: &str, group: Option<&str>) -> usize {
        let i = match self.lookup(test) {
            Some(i) if self.tests[i].status.is_none() => i,
            _ => self.new_test(test, None),
        };
        if let Some(g) = group {
            self.tests[i].group = self.group(g);
        }
        i
    }

    fn test_status(&mut self, s: &TestStatus) {
        self.subtests += 1;
        let known = s.expected.is_some() && s.known_intermittent.contains(&s.status);
        let unexpected = s.expected.is_some() && !known;
        if unexpected {
            *self.subtests_unexpected.entry(s.status).or_default() += 1;
        }
        let i = self.open_record(&s.test, s.group.as_deref());
        let rec = &mut self.tests[i];
        rec.flags |= BEGAN;
        let d = rec.more();
        if unexpected {
            d.subtests_unexpected += 1;
        }
        if d.subtests.len() < SUBTEST_CAP {
            d.subtests.push(Subtest {
                name: clean(&s.subtest).into(),
                status: s.status,
                expected: s.expected,
                known,
                message: s.message.as_deref().map(|m| capped(m, TEXT_CAP)),
            });
        } else {
            d.subtests_cut += 1;
        }
    }

    fn test_end(&mut self, t: &TestEnd, time: u64) {
        let i = self.open_record(&t.test, t.group.as_deref());
        let rec = &mut self.tests[i];
        rec.flags |= BEGAN;
        rec.set_end(time);
        rec.status = Some(t.status);
        rec.expected = t.expected;
        if t.is_known_intermittent() {
            rec.flags |= KNOWN;
        } else {
            rec.flags &= !KNOWN;
        }
        if let Some(d) = &mut rec.detail {
            // Its output is complete: the slack its growth left is given
            // back (it adds up over a large run).
            d.output.shrink();
            if let Some(more) = &mut d.more {
                more.extra = None;
            }
        }
        rec.flags &= !EXTRA_LINE;
        if let Some(m) = t.extra.as_ref().filter(|m| !m.is_empty()) {
            match line_only(m) {
                Some(line) => {
                    rec.line = line;
                    rec.flags |= EXTRA_LINE;
                }
                None => rec.more().extra = Some(extra_text(m)),
            }
        }
        if t.message.is_some() || t.stack.is_some() || rec.known() {
            let d = rec.more();
            d.message = t.message.as_deref().map(|m| capped(m, TEXT_CAP));
            d.stack = t.stack.as_deref().map(|s| capped(s, TEXT_CAP));
            d.known_intermittent = t.known_intermittent.clone().into_boxed_slice();
        }
    }

    fn crash(&mut self, c: &Crash, pid: i64) {
        let text = capped(&crash_text(c, pid), TEXT_CAP);
        match c.test.as_deref().and_then(|t| self.lookup(t)) {
            Some(i) => self.tests[i].more().crashes.push(text),
            None if self.crashes.len() < LOG_CAP => self.crashes.push(text),
            None => self.crashes_cut += 1,
        }
    }

    fn other(&mut self, process: &str, command: Option<&str>) -> &mut ProcOutput {
        let i = match self.other_index.get(process) {
            Some(&i) => i,
            None => {
                let command = command
                    .map(Box::from)
                    .or_else(|| self.commands.get(process).cloned());
                self.other_output.push(ProcOutput {
                    process: process.into(),
                    command,
                    output: Capped::default(),
                });
                self.other_index
                    .insert(process.into(), self.other_output.len() - 1);
                self.other_output.len() - 1
            }
        };
        &mut self.other_output[i]
    }
}

/// The counts the summary shows.
#[derive(Default)]
struct Stats {
    total: u64,
    outcomes: BTreeMap<Outcome, u64>,
    unexpected_by_status: BTreeMap<Status, u64>,
}

impl Stats {
    fn of(report: &Report) -> Stats {
        let mut s = Stats {
            total: report.tests.len() as u64,
            ..Stats::default()
        };
        for t in &report.tests {
            let o = t.outcome();
            *s.outcomes.entry(o).or_default() += 1;
            if let (Outcome::Unexpected, Some(status)) = (o, t.status) {
                *s.unexpected_by_status.entry(status).or_default() += 1;
            }
        }
        s
    }

    fn get(&self, o: Outcome) -> u64 {
        self.outcomes.get(&o).copied().unwrap_or(0)
    }
}

/// The verdict at the top of the page.
fn verdict(r: &Report, s: &Stats) -> (&'static str, &'static str) {
    let errors = !r.errors.is_empty() || r.errors_cut > 0;
    let crashes = !r.crashes.is_empty() || r.crashes_cut > 0;
    let subtests_unexpected: u64 = r.subtests_unexpected.values().sum();
    if !r.saw_suite || r.open_suite {
        ("INCOMPLETE", "v-incomplete")
    } else if errors && s.total == 0 {
        ("ERROR", "v-failed")
    } else if s.get(Outcome::Unexpected) > 0
        || s.get(Outcome::Unfinished) > 0
        || subtests_unexpected > 0
        || errors
        || crashes
    {
        ("FAILED", "v-failed")
    } else if s.total == 0 {
        ("NO TESTS", "v-empty")
    } else {
        ("PASSED", "v-passed")
    }
}

impl Report {
    fn offset(&self, time: u64) -> String {
        let ms = time.saturating_sub(self.first_time.unwrap_or(time));
        format!("+{} s", millis_as_secs(ms))
    }

    fn title(&self) -> String {
        if self.suites.is_empty() {
            "Test report".to_string()
        } else {
            let names: Vec<&str> = self.suites.iter().map(|s| &**s).collect();
            format!("Test report: {}", names.join(", "))
        }
    }

    fn write_page(&self, out: &mut dyn Write) -> io::Result<()> {
        let stats = Stats::of(self);
        let mut h = String::with_capacity(32 * 1024);
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        let _ = writeln!(
            h,
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        );
        h.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        let (verdict, verdict_class) = verdict(self, &stats);
        h.push_str("<title>");
        esc(&mut h, &format!("{} ({verdict})", self.title()));
        h.push_str("</title>\n<style>\n");
        h.push_str(CSS);
        h.push_str("</style>\n</head>\n<body>\n");
        self.header(&mut h, verdict, verdict_class);
        h.push_str("<main>\n");
        self.alerts(&mut h, &stats);
        self.cards(&mut h, &stats);
        self.run_info(&mut h);
        h.push_str(TABLE);
        self.log_panel(&mut h);
        self.other_output_panel(&mut h);
        h.push_str("</main>\n<footer>Written by cargo-structlog from ");
        h.push_str(&thousands(self.entries));
        h.push_str(if self.entries == 1 {
            " log entry.</footer>\n"
        } else {
            " log entries.</footer>\n"
        });
        h.push_str("<script id=\"report-data\" type=\"application/json\">\n");
        out.write_all(h.as_bytes())?;
        self.write_data(out)?;
        out.write_all(b"</script>\n<script>\n")?;
        out.write_all(JS.as_bytes())?;
        out.write_all(b"</script>\n</body>\n</html>\n")
    }

    fn header(&self, h: &mut String, verdict: &str, class: &str) {
        h.push_str("<header class=\"top\">\n<div class=\"wrap top-row\">\n<div>\n<h1>");
        esc(h, &self.title());
        h.push_str("</h1>\n<p class=\"meta\">");
        let mut facts: Vec<String> = Vec::new();
        if let Some(t) = self.first_time {
            facts.push(format!("Started {}", utc(t)));
            facts.push(format!(
                "ran {}",
                duration(self.last_time.saturating_sub(t))
            ));
        }
        let info = |k: &str| {
            self.run_info
                .as_ref()
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
        };
        if let Some(host) = info("hostname") {
            let mut on = format!("on {host}");
            if let Some(os) = info("os") {
                on.push_str(&format!(" ({os})"));
            }
            facts.push(on);
        }
        if facts.is_empty() {
            facts.push("No entries".to_string());
        }
        esc(h, &facts.join(" · "));
        let _ = write!(
            h,
            "</p>\n</div>\n<div class=\"verdict {class}\" id=\"verdict\">{verdict}</div>\n</div>\n</header>\n"
        );
    }

    fn alerts(&self, h: &mut String, stats: &Stats) {
        if !self.saw_suite || self.open_suite {
            h.push_str(
                "<div class=\"alert warn\" id=\"incomplete\"><strong>Incomplete run.</strong> ",
            );
            if self.entries == 0 {
                h.push_str("The log has no entries: the run stopped before it started.");
            } else if !self.saw_suite {
                h.push_str(
                    "The log has no <code>suite_start</code>: it is not the log of a whole run.",
                );
            } else {
                h.push_str(
                    "The log ended before <code>suite_end</code>: the run was interrupted or is still going.",
                );
            }
            let unfinished = stats.get(Outcome::Unfinished);
            let not_started = stats.get(Outcome::NotStarted);
            if unfinished > 0 {
                let _ = write!(
                    h,
                    " {} started but never ended.",
                    plural(unfinished, "test", "tests")
                );
            }
            if not_started > 0 {
                let _ = write!(
                    h,
                    " {} never started.",
                    plural(not_started, "listed test", "listed tests")
                );
            }
            h.push_str("</div>\n");
        }
        let errors = self.errors.len() as u64 + self.errors_cut;
        let crashes = self.crashes.len() as u64 + self.crashes_cut;
        if errors + crashes == 0 {
            return;
        }
        h.push_str("<div class=\"alert error\" id=\"errors\" role=\"alert\">\n<h2>");
        let mut what = Vec::new();
        if errors > 0 {
            what.push(plural(errors, "error", "errors"));
        }
        if crashes > 0 {
            what.push(plural(
                crashes,
                "crash outside tests",
                "crashes outside tests",
            ));
        }
        esc(h, &what.join(", "));
        if stats.total == 0 {
            h.push_str(" · no test ran");
        }
        h.push_str("</h2>\n<ol class=\"entries\">\n");
        for l in &self.errors {
            self.log_item(h, l);
        }
        if self.errors_cut > 0 {
            let _ = writeln!(
                h,
                "<li class=\"more\">{} more not shown</li>",
                plural(self.errors_cut, "error", "errors")
            );
        }
        for c in &self.crashes {
            h.push_str("<li><span class=\"badge lv-critical\">CRASH</span><pre>");
            esc(h, c);
            h.push_str("</pre></li>\n");
        }
        if self.crashes_cut > 0 {
            let _ = writeln!(
                h,
                "<li class=\"more\">{} more not shown</li>",
                plural(self.crashes_cut, "crash", "crashes")
            );
        }
        h.push_str("</ol>\n</div>\n");
    }

    fn log_item(&self, h: &mut String, l: &LogRec) {
        let level = l.level.as_str();
        let _ = write!(
            h,
            "<li><span class=\"when\">{}</span><span class=\"badge lv-{}\">{level}</span><pre>",
            self.offset(l.time),
            level.to_ascii_lowercase()
        );
        esc(h, &l.message);
        if let Some(s) = &l.stack {
            h.push('\n');
            esc(h, s);
        }
        h.push_str("</pre></li>\n");
    }

    fn cards(&self, h: &mut String, s: &Stats) {
        h.push_str("<section class=\"cards\" aria-label=\"Summary\">\n");
        let card = |h: &mut String, key: &str, n: u64, label: &str, by: bool| {
            let zero = if n == 0 { " zero" } else { "" };
            let by = if by { " has-by" } else { "" };
            let _ = write!(
                h,
                "<a class=\"card k-{key}{zero}{by}\" href=\"#tests\" data-outcome=\"{key}\">\
                 <span class=\"n\" data-count=\"{key}\" data-value=\"{n}\">{}</span>\
                 <span class=\"l\">{label}</span>",
                thousands(n)
            );
        };
        card(h, "total", s.total, "Tests", false);
        h.push_str("</a>\n");
        for o in Outcome::ALL {
            let n = s.get(o);
            // Unfinished and never-started tests only exist in cut-short runs,
            // and a run without tests has nothing to break down.
            if n == 0 && (s.total == 0 || matches!(o, Outcome::Unfinished | Outcome::NotStarted)) {
                continue;
            }
            let by = o == Outcome::Unexpected && !s.unexpected_by_status.is_empty();
            card(h, o.key(), n, o.label(), by);
            if by {
                h.push_str("<span class=\"by\">");
                // The most frequent first; equal counts in mozlog's order.
                let mut by: Vec<(&Status, &u64)> = s.unexpected_by_status.iter().collect();
                by.sort_by_key(|(status, n)| (std::cmp::Reverse(**n), **status));
                for (status, n) in by {
                    let _ = write!(
                        h,
                        "<span class=\"pill\" data-count=\"unexpected-{status}\" data-value=\"{n}\">{} {status}</span>",
                        thousands(*n)
                    );
                }
                h.push_str("</span>");
            }
            h.push_str("</a>\n");
        }
        if self.subtests > 0 {
            let unexpected: u64 = self.subtests_unexpected.values().sum();
            let _ = writeln!(
                h,
                "<div class=\"card k-subtests\"><span class=\"n\" data-count=\"subtests\" data-value=\"{}\">{}</span>\
                 <span class=\"l\">Subtests</span><span class=\"by\">\
                 <span class=\"pill\" data-count=\"subtests-unexpected\" data-value=\"{unexpected}\">{} unexpected</span></span></div>",
                self.subtests,
                thousands(self.subtests),
                thousands(unexpected)
            );
        }
        let ms = self
            .first_time
            .map(|t| self.last_time.saturating_sub(t))
            .unwrap_or(0);
        let _ = writeln!(
            h,
            "<div class=\"card k-duration\"><span class=\"n\" data-count=\"duration-ms\" data-value=\"{ms}\">{}</span>\
             <span class=\"l\">Duration</span></div>",
            duration(ms)
        );
        h.push_str("</section>\n");
    }

    fn run_info(&self, h: &mut String) {
        let sections = [
            ("Run info", &self.run_info),
            ("Version info", &self.version_info),
            ("Device info", &self.device_info),
        ];
        if sections
            .iter()
            .all(|(_, m)| m.as_ref().is_none_or(Map::is_empty))
        {
            return;
        }
        h.push_str("<section class=\"panel info\" id=\"run-info\">\n");
        for (title, map) in sections {
            let Some(map) = map.as_ref().filter(|m| !m.is_empty()) else {
                continue;
            };
            let _ = write!(h, "<h2>{title}</h2>\n<dl class=\"kv\">\n");
            for (k, v) in map {
                h.push_str("<div><dt>");
                esc(h, k);
                h.push_str("</dt><dd>");
                esc(h, &value_text(v));
                h.push_str("</dd></div>\n");
            }
            h.push_str("</dl>\n");
        }
        h.push_str("</section>\n");
    }

    fn log_panel(&self, h: &mut String) {
        let total: u64 = self.log_counts.values().sum();
        if total == 0 && self.other_actions.is_empty() {
            return;
        }
        h.push_str(
            "<details class=\"panel\" id=\"log\">\n<summary><h2>Log</h2><span class=\"muted\">",
        );
        let mut by_level: Vec<String> = self
            .log_counts
            .iter()
            .map(|(l, n)| match l {
                Level::Error => plural(*n, "error", "errors"),
                Level::Warning => plural(*n, "warning", "warnings"),
                l => format!("{} {}", thousands(*n), l.as_str().to_ascii_lowercase()),
            })
            .collect();
        if by_level.is_empty() {
            by_level.push("no messages".to_string());
        }
        esc(h, &by_level.join(", "));
        h.push_str("</span></summary>\n");
        if !self.other_actions.is_empty() {
            h.push_str("<p class=\"muted\">Other entries: ");
            let other: Vec<String> = self
                .other_actions
                .iter()
                .map(|(a, n)| format!("{a} × {}", thousands(*n)))
                .collect();
            esc(h, &other.join(", "));
            h.push_str("</p>\n");
        }
        // Errors are listed at the top already; here everything in order.
        let mut all: Vec<&LogRec> = self.logs.iter().chain(&self.errors).collect();
        all.sort_by_key(|l| l.time);
        if !all.is_empty() {
            h.push_str("<ol class=\"entries\">\n");
            for l in all {
                self.log_item(h, l);
            }
            h.push_str("</ol>\n");
        }
        if self.logs_cut > 0 {
            let _ = writeln!(
                h,
                "<p class=\"more\">{} more not shown</p>",
                plural(self.logs_cut, "message", "messages")
            );
        }
        h.push_str("</details>\n");
    }

    fn other_output_panel(&self, h: &mut String) {
        if self.other_output.is_empty() {
            return;
        }
        h.push_str("<details class=\"panel\" id=\"other-output\">\n<summary><h2>Output outside tests</h2><span class=\"muted\">");
        h.push_str(&plural(
            self.other_output.len() as u64,
            "process",
            "processes",
        ));
        h.push_str("</span></summary>\n");
        for p in &self.other_output {
            h.push_str("<h3>Process ");
            esc(h, &p.process);
            h.push_str("</h3>\n");
            if let Some(c) = &p.command {
                h.push_str("<p class=\"cmd\"><code>");
                esc(h, c);
                h.push_str("</code></p>\n");
            }
            let (head, cut, tail) = p.output.parts(OUTPUT_CAP);
            if cut > 0 {
                let _ = writeln!(h, "<p class=\"cut\">{}</p>", cut_note(cut));
            }
            h.push_str("<pre class=\"out\">");
            esc(h, &head);
            if cut > 0 {
                let _ = write!(h, "<span class=\"cut-mark\">{}</span>", cut_mark(cut));
                esc(h, tail);
            }
            h.push_str("</pre>\n");
        }
        h.push_str("</details>\n");
    }

    /// The JSON block: one test a line, so that a diff of two reports reads
    /// test by test.
    fn write_data(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut b = String::with_capacity(64 * 1024);
        let _ = write!(b, "{{\"outputCap\":{OUTPUT_CAP},\n\"groups\":[");
        for (i, g) in self.groups.all().iter().enumerate() {
            if i > 0 {
                b.push(',');
            }
            json_str(&mut b, &clean(g));
        }
        b.push_str("],\n\"tests\":[\n");
        for (i, t) in self.tests.iter().enumerate() {
            test_json(&mut b, t, self.groups.all());
            b.push_str(if i + 1 < self.tests.len() {
                ",\n"
            } else {
                "\n"
            });
            if b.len() > 60 * 1024 {
                out.write_all(b.as_bytes())?;
                b.clear();
            }
        }
        b.push_str("]}\n");
        out.write_all(b.as_bytes())
    }
}

/// One test as a JSON object with short keys (they add up over thousands of
/// tests): `id`, `g` group index, `o` outcome, `s` status, `x` expected
/// status when it differs, `ki` known intermittent statuses, `d` duration in
/// ms, `m` message, `k` stack, `ex` extra fields, `sub` subtests as `[name,
/// status, expected, known, message]`, `su` unexpected subtests, `subcut`
/// subtests left out, `cr` crashes, `out` output (its head when cut), `cut`
/// output bytes left out, `tail` the end of cut output.
fn test_json(b: &mut String, t: &TestRec, groups: &[Box<str>]) {
    // Thousands of these make the page's data: no formatting machinery
    // and no string made on the way for the common case.
    let mut n = itoa::Buffer::new();
    b.push_str("{\"id\":");
    match t.prefix(groups) {
        // Text `clean` leaves as it is, put together as `id` would.
        Some(g) if is_plain(g) && is_plain(&t.id) => {
            b.push('"');
            json_str_body(b, g);
            b.push(' ');
            json_str_body(b, &t.id);
            b.push('"');
        }
        _ => json_str(b, &clean(&t.id(groups))),
    }
    if let Some(g) = t.group() {
        b.push_str(",\"g\":");
        b.push_str(n.format(g));
    }
    b.push_str(",\"o\":\"");
    b.push_str(t.outcome().key());
    b.push('"');
    if let Some(s) = t.status {
        b.push_str(",\"s\":\"");
        b.push_str(s.as_str());
        b.push('"');
    }
    if let Some(x) = t.expected {
        b.push_str(",\"x\":\"");
        b.push_str(x.as_str());
        b.push('"');
    }
    if let Some(d) = t.duration() {
        b.push_str(",\"d\":");
        b.push_str(n.format(d));
    }
    let detail = t.detail.as_deref();
    let more = detail.and_then(|d| d.more.as_deref());
    if let Some(d) = more.filter(|d| t.expected.is_some() && !d.known_intermittent.is_empty()) {
        b.push_str(",\"ki\":[");
        for (i, s) in d.known_intermittent.iter().enumerate() {
            let _ = write!(b, "{}\"{s}\"", if i > 0 { "," } else { "" });
        }
        b.push(']');
    }
    let texts = [
        ("m", more.and_then(|d| d.message.as_deref())),
        ("k", more.and_then(|d| d.stack.as_deref())),
        ("ex", more.and_then(|d| d.extra.as_deref())),
    ];
    for (key, text) in texts {
        if let Some(text) = text {
            let _ = write!(b, ",\"{key}\":");
            json_str(b, text);
        }
    }
    if t.flags & EXTRA_LINE != 0 {
        // What `extra_text` makes of `{"line": N}`, needing no escapes.
        let _ = write!(b, ",\"ex\":\"line: {}\"", t.line);
    }
    if let Some(d) = more {
        if !d.subtests.is_empty() {
            b.push_str(",\"sub\":[");
            for (i, s) in d.subtests.iter().enumerate() {
                if i > 0 {
                    b.push(',');
                }
                b.push('[');
                json_str(b, &s.name);
                let _ = write!(b, ",\"{}\",", s.status);
                match s.expected {
                    Some(x) => {
                        let _ = write!(b, "\"{x}\"");
                    }
                    None => b.push_str("null"),
                }
                b.push_str(if s.known { ",true," } else { ",false," });
                match &s.message {
                    Some(m) => json_str(b, m),
                    None => b.push_str("null"),
                }
                b.push(']');
            }
            b.push(']');
        }
        if d.subtests_unexpected > 0 {
            let _ = write!(b, ",\"su\":{}", d.subtests_unexpected);
        }
        if d.subtests_cut > 0 {
            let _ = write!(b, ",\"subcut\":{}", d.subtests_cut);
        }
        if !d.crashes.is_empty() {
            b.push_str(",\"cr\":[");
            for (i, c) in d.crashes.iter().enumerate() {
                if i > 0 {
                    b.push(',');
                }
                json_str(b, c);
            }
            b.push(']');
        }
    }
    if let Some(d) = detail {
        if !d.output.is_empty() {
            let (head, cut, tail) = d.output.parts(OUTPUT_CAP);
            b.push_str(",\"out\":");
            json_str(b, &head);
            if cut > 0 {
                let _ = write!(b, ",\"cut\":{cut},\"tail\":");
                json_str(b, tail);
            }
        }
    }
    b.push('}');
}

/// A crash as the lines the page shows.
fn crash_text(c: &Crash, pid: i64) -> String {
    let mut lines = vec![format!("signature: {}", c.signature)];
    let process = c.process.clone().unwrap_or_else(|| pid.to_string());
    lines.push(format!("process: {process}"));
    let fields = [
        ("process type", &c.process_type),
        ("reason", &c.reason),
        ("minidump", &c.minidump_path),
        ("java stack", &c.java_stack),
        ("stackwalk stdout", &c.stackwalk_stdout),
        ("stackwalk stderr", &c.stackwalk_stderr),
    ];
    for (name, v) in fields {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            lines.push(format!("{name}: {v}"));
        }
    }
    if let Some(code) = c.stackwalk_returncode {
        lines.push(format!("stackwalk exit code: {code}"));
    }
    for e in &c.stackwalk_errors {
        lines.push(format!("stackwalk error: {e}"));
    }
    lines.join("\n")
}

/// The line number of an `extra` that is `{"line": N}` alone, if it fits in
/// a `u32`: its text (`extra_text`) is `line: N`.
fn line_only(m: &Map<String, Value>) -> Option<u32> {
    if m.len() != 1 {
        return None;
    }
    u32::try_from(m.get("line")?.as_u64()?).ok()
}

/// `extra` fields as `key: value` lines (strings unquoted).
fn extra_text(m: &Map<String, Value>) -> Box<str> {
    let lines: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}: {}", value_text(v)))
        .collect();
    capped(&lines.join("\n"), EXTRA_CAP)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Text from the log made fit to show: ANSI escapes removed, `\r\n` as `\n`
/// (a lone `\r` too), other control characters as their Unicode pictures
/// (`␀`, `␇`), C1 controls and noncharacters as U+FFFD.
fn clean(s: &str) -> Cow<'_, str> {
    // Printable ASCII, tabs and newlines (most text) need no look at each
    // character.
    if is_plain(s) {
        return Cow::Borrowed(s);
    }
    let s = strip_ansi(s);
    if is_plain(&s) {
        return s;
    }
    let odd = |c: char| {
        let u = c as u32;
        (u < 0x20 && c != '\n' && c != '\t')
            || (0x7f..=0x9f).contains(&u)
            || (0xfdd0..=0xfdef).contains(&u)
            || (u & 0xfffe) == 0xfffe
    };
    if !s.chars().any(odd) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let u = c as u32;
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => out.push('\n'),
            c if odd(c) && u < 0x20 => out.push(char::from_u32(0x2400 + u).unwrap_or('\u{fffd}')),
            '\u{7f}' => out.push('\u{2421}'),
            c if odd(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The largest char boundary of `s` at or below `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut k = at.min(s.len());
    while !s.is_char_boundary(k) {
        k -= 1;
    }
    k
}

/// Cleaned text, cut at `cap` bytes with a marker saying how much is left out.
fn capped(s: &str, cap: usize) -> Box<str> {
    let s = clean(s);
    if s.len() <= cap {
        return s.into();
    }
    let k = floor_boundary(&s, cap);
    format!(
        "{}\n[… {} more bytes not shown]",
        &s[..k],
        thousands((s.len() - k) as u64)
    )
    .into()
}

/// The note above cut output. The page's script writes the same.
fn cut_note(cut: u64) -> String {
    format!(
        "Output truncated: {} bytes in the middle are not shown (the first and last {} KiB are kept).",
        thousands(cut),
        OUTPUT_CAP / 2 / 1024
    )
}

/// The marker where cut output was dropped.
fn cut_mark(cut: u64) -> String {
    format!("\n[… {} bytes not shown …]\n", thousands(cut))
}

/// HTML-escapes cleaned text (for element content and quoted attributes).
fn esc(out: &mut String, s: &str) {
    for c in clean(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Harmless in HTML, but kept out so that no raw line separator
            // reaches anything that treats the page as script text.
            '\u{2028}' => out.push_str("&#x2028;"),
            '\u{2029}' => out.push_str("&#x2029;"),
            c => out.push(c),
        }
    }
}

/// A JSON string that is also safe inside a `<script>` element: no `<`, `>`
/// or `&` (no `</script>` or `<!--`), and no U+2028/U+2029.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    json_str_body(out, s);
    out.push('"');
}

/// [`json_str`] without the quotes.
fn json_str_body(out: &mut String, s: &str) {
    // Runs of characters that need no escape are copied whole: every
    // character escaped is ASCII but U+2028 and U+2029, whose UTF-8
    // starts with the byte 0xE2.
    let special = |b: u8| matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&' | 0x7f | 0xe2) || b < 0x20;
    let mut rest = s;
    while let Some(i) = rest.bytes().position(special) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().expect("a character starts at i");
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
}

/// Printable ASCII, tabs and newlines only: text [`clean`] leaves as it is.
fn is_plain(s: &str) -> bool {
    s.bytes()
        .all(|b| (b' '..0x7f).contains(&b) || b == b'\n' || b == b'\t')
}

/// `20,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `12 ms`, `1.234 s`, `2 min 03 s`, `1 h 02 min`.
fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{} s", millis_as_secs(ms))
    } else if ms < 3_600_000 {
        format!("{} min {:02} s", ms / 60_000, ms / 1000 % 60)
    } else {
        format!("{} h {:02} min", ms / 3_600_000, ms / 60_000 % 60)
    }
}

/// Milliseconds since the epoch as `2023-11-14 22:13:20 UTC`.
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The tests section: fixed markup that the script fills.
const TABLE: &str = r##"<section class="panel tests" id="tests">
<div class="tests-head"><h2>Tests</h2><span id="match-count" class="muted"></span></div>
<div class="toolbar" id="toolbar">
<div id="outcome-filters" class="chips" role="group" aria-label="Outcomes shown"></div>
<div class="controls">
<select id="status-filter" aria-label="Status"><option value="all">All statuses</option></select>
<select id="group-filter" aria-label="Group"><option value="all">All groups</option></select>
<input id="search" type="search" placeholder="Search test ids and messages  ( / )" aria-label="Search test ids and messages" autocomplete="off" spellcheck="false">
<button id="reset" type="button">Reset</button>
</div>
</div>
<div class="table-wrap">
<table id="test-table">
<thead><tr>
<th scope="col" class="c-status"><button type="button" data-sort="status">Status</button></th>
<th scope="col" class="c-test"><button type="button" data-sort="id">Test</button></th>
<th scope="col" class="c-exp"><button type="button" data-sort="expected">Expected</button></th>
<th scope="col" class="c-dur"><button type="button" data-sort="duration">Duration</button></th>
<th scope="col" class="c-group"><button type="button" data-sort="group">Group</button></th>
</tr></thead>
<tbody id="test-rows"><tr class="empty"><td colspan="5">The table of tests needs JavaScript.</td></tr></tbody>
</table>
</div>
<div class="pager" id="pager">
<button id="prev" type="button">‹ Previous</button>
<span id="page-info"></span>
<button id="next" type="button">Next ›</button>
<label class="size">Rows per page <select id="page-size"><option>50</option><option>100</option><option selected>200</option><option>500</option><option>1000</option><option>5000</option></select></label>
</div>
</section>
"##;

/// The page's styles (fixed text).
const CSS: &str = r##":root {
  color-scheme: light dark;
  --bg: #f5f6f8; --fg: #1f2328; --muted: #5b6470; --panel: #ffffff; --line: #d8dee4;
  --head: #f0f2f5; --accent: #0969da; --code: #f6f8fa; --hover: #f3f6fa;
  --pass: #1a7f37; --pass-bg: #dcf5e3; --bad: #c62828; --bad-bg: #fdecea;
  --xfail: #6f42c1; --xfail-bg: #f1eafd; --skip: #5b6470; --skip-bg: #eceff2;
  --warn: #8a5a00; --warn-bg: #fff5cc; --unf: #b34700; --unf-bg: #ffeedd;
  --on-strong: #ffffff;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1116; --fg: #e6edf3; --muted: #9aa4af; --panel: #161b22; --line: #30363d;
    --head: #1c2128; --accent: #58a6ff; --code: #0d1117; --hover: #1b222c;
    --pass: #3fb950; --pass-bg: #12261a; --bad: #ff6b61; --bad-bg: #3a1517;
    --xfail: #b392f0; --xfail-bg: #251b3a; --skip: #9aa4af; --skip-bg: #21262d;
    --warn: #e3b341; --warn-bg: #2e2510; --unf: #f0883e; --unf-bg: #33200f;
    --on-strong: #0e1116;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { scroll-behavior: smooth; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
code, pre, .tid, .mono { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; }
h1, h2, h3, h4 { margin: 0; font-weight: 600; }
h1 { font-size: 20px; }
h2 { font-size: 15px; }
h3 { font-size: 13px; margin: 14px 0 6px; }
.wrap, main, footer { max-width: 1320px; margin: 0 auto; padding: 0 24px; }
.top { background: var(--panel); border-bottom: 1px solid var(--line); margin-bottom: 20px; }
.top-row { display: flex; align-items: center; justify-content: space-between; gap: 16px; padding-top: 18px; padding-bottom: 18px; }
.meta { margin: 4px 0 0; color: var(--muted); }
.verdict { font-weight: 700; letter-spacing: .06em; padding: 6px 14px; border-radius: 6px; font-size: 14px; white-space: nowrap; }
.v-passed { color: var(--pass); background: var(--pass-bg); }
.v-failed { color: var(--bad); background: var(--bad-bg); }
.v-incomplete { color: var(--unf); background: var(--unf-bg); }
.v-empty { color: var(--skip); background: var(--skip-bg); }
.alert { border: 1px solid var(--line); border-left-width: 4px; border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; background: var(--panel); }
.alert.warn { border-left-color: var(--unf); background: var(--unf-bg); }
.alert.error { border-left-color: var(--bad); }
.alert.error h2 { color: var(--bad); margin-bottom: 8px; }
.entries { list-style: none; margin: 0; padding: 0; }
.entries li { display: flex; gap: 10px; align-items: baseline; padding: 6px 0; border-top: 1px solid var(--line); }
.entries li:first-child { border-top: 0; }
.entries pre { margin: 0; flex: 1; white-space: pre-wrap; word-break: break-word; }
.when { color: var(--muted); font-variant-numeric: tabular-nums; min-width: 64px; font-size: 12px; }
.more, .cut { color: var(--muted); font-style: italic; }
.cut { margin: 0 0 6px; color: var(--warn); }
.cut-mark { color: var(--warn); font-style: italic; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(124px, 1fr)); gap: 12px; margin-bottom: 20px; }
.card { display: flex; flex-direction: column; gap: 2px; padding: 12px 14px; background: var(--panel); border: 1px solid var(--line); border-top: 3px solid var(--line); border-radius: 8px; color: inherit; text-decoration: none; }
a.card:hover { background: var(--hover); }
.card .n { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.2; }
.card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.zero .n { color: var(--muted); font-weight: 500; }
.k-duration .n { font-size: 20px; white-space: nowrap; line-height: 1.45; }
.card .by { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; }
.pill { font-size: 11px; padding: 1px 6px; border-radius: 10px; background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.k-subtests .pill { background: var(--skip-bg); color: var(--skip); }
.k-total { border-top-color: var(--accent); }
.k-pass { border-top-color: var(--pass); }
.k-unexpected { border-top-color: var(--bad); }
.k-unexpected.has-by { grid-column: span 2; }
.k-unexpected:not(.zero) .n { color: var(--bad); }
.k-unfinished { border-top-color: var(--unf); }
.k-unfinished .n { color: var(--unf); }
.k-intermittent { border-top-color: var(--warn); }
.k-xfail { border-top-color: var(--xfail); }
.k-skip, .k-notstarted { border-top-color: var(--skip); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin-bottom: 20px; }
details.panel > summary { cursor: pointer; display: flex; gap: 12px; align-items: baseline; list-style: none; }
details.panel > summary::before { content: "▸"; color: var(--muted); }
details.panel[open] > summary::before { content: "▾"; }
details.panel[open] > summary { margin-bottom: 12px; }
.muted { color: var(--muted); }
.info h2 { margin-bottom: 10px; }
.info h2:not(:first-child) { margin-top: 16px; }
.kv { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 6px 24px; margin: 0; }
.kv div { display: flex; gap: 10px; min-width: 0; padding: 4px 0; border-bottom: 1px dashed var(--line); }
.kv dt { color: var(--muted); min-width: 90px; }
.kv dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.cmd code { font-size: 12px; overflow-wrap: anywhere; }
pre.out, .detail pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 0; max-height: 420px; overflow: auto; white-space: pre-wrap; word-break: break-word; font-size: 12.5px; line-height: 1.5; }
.tests-head { display: flex; align-items: baseline; gap: 12px; margin-bottom: 12px; }
.toolbar { display: flex; flex-wrap: wrap; gap: 10px 16px; align-items: center; justify-content: space-between; margin-bottom: 12px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { border: 1px solid var(--line); background: var(--panel); color: var(--muted); border-radius: 16px; padding: 4px 12px; cursor: pointer; font: inherit; font-size: 13px; display: inline-flex; gap: 6px; align-items: center; }
.chip .c { font-variant-numeric: tabular-nums; font-weight: 600; }
.chip::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--dot, var(--skip)); opacity: .35; }
.chip[aria-pressed="true"] { color: var(--fg); border-color: var(--dot, var(--skip)); background: var(--hover); }
.chip[aria-pressed="true"]::before { opacity: 1; }
.controls { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
select, input[type="search"], button { font: inherit; font-size: 13px; color: var(--fg); background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 5px 10px; }
input[type="search"] { width: 300px; max-width: 100%; }
button { cursor: pointer; }
button:hover:not(:disabled) { background: var(--hover); }
button:disabled { opacity: .45; cursor: default; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th { background: var(--head); text-align: left; font-weight: 600; border-bottom: 1px solid var(--line); padding: 0; position: sticky; top: 0; z-index: 1; }
th button { all: unset; display: block; width: 100%; padding: 8px 10px; cursor: pointer; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; box-sizing: border-box; }
th[aria-sort="ascending"] button::after { content: " ▲"; }
th[aria-sort="descending"] button::after { content: " ▼"; }
td { padding: 7px 10px; border-top: 1px solid var(--line); vertical-align: top; }
.c-status { width: 124px; }
.c-exp { width: 120px; }
.c-dur { width: 100px; text-align: right; }
th.c-dur button { text-align: right; }
.c-group { width: 200px; color: var(--muted); overflow-wrap: anywhere; }
.c-test { overflow-wrap: anywhere; }
tr.row { cursor: pointer; }
tr.row:hover { background: var(--hover); }
tr.row.o-unexpected, tr.row.o-unfinished, tr.detail.o-unexpected, tr.detail.o-unfinished { background: var(--bad-bg); }
tr.row.o-unfinished, tr.detail.o-unfinished { background: var(--unf-bg); }
tr.row.o-unexpected td:first-child { box-shadow: inset 3px 0 0 var(--bad); }
tr.row.o-unfinished td:first-child { box-shadow: inset 3px 0 0 var(--unf); }
tr.row.o-intermittent td:first-child { box-shadow: inset 3px 0 0 var(--warn); }
tr.row.flag td:first-child { box-shadow: inset 3px 0 0 var(--bad); }
tr.detail > td { border-top: 0; padding: 0 10px 14px 22px; }
.caret { display: inline-block; width: 14px; color: var(--muted); }
.caret::before { content: "▸"; }
tr.row[aria-expanded="true"] .caret::before { content: "▾"; }
.tid { font-size: 13px; }
.preview { color: var(--muted); font-size: 12.5px; margin: 2px 0 0 14px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tag { margin-left: 8px; font-size: 11px; padding: 1px 6px; border-radius: 10px; background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.c-exp.same { color: var(--muted); }
.c-exp.differs { font-weight: 600; }
.badge { display: inline-block; font-size: 11px; font-weight: 700; letter-spacing: .03em; padding: 2px 8px; border-radius: 4px; white-space: nowrap; background: var(--skip-bg); color: var(--skip); }
.b-pass { background: var(--pass-bg); color: var(--pass); }
.b-unexpected { background: var(--bad); color: var(--on-strong); }
.b-unfinished { background: var(--unf); color: var(--on-strong); }
.b-intermittent { background: var(--warn-bg); color: var(--warn); }
.b-xfail { background: var(--xfail-bg); color: var(--xfail); }
.b-notstarted { background: transparent; border: 1px dashed var(--skip); }
.lv-critical, .lv-error { background: var(--bad); color: var(--on-strong); }
.lv-warning { background: var(--warn-bg); color: var(--warn); }
.lv-info { background: var(--skip-bg); color: var(--accent); }
.chip.o-unexpected { --dot: var(--bad); }
.chip.o-unfinished { --dot: var(--unf); }
.chip.o-intermittent { --dot: var(--warn); }
.chip.o-pass { --dot: var(--pass); }
.chip.o-xfail { --dot: var(--xfail); }
.detail-body { display: grid; gap: 12px; padding-top: 4px; }
.detail-body h4 { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; margin-bottom: 4px; }
.facts { color: var(--muted); font-size: 12.5px; }
.note { margin: 0; color: var(--unf); }
table.subtests { border: 1px solid var(--line); border-radius: 6px; }
table.subtests td { padding: 4px 8px; font-size: 13px; }
table.subtests td:first-child { width: 40%; }
tr.empty td { text-align: center; color: var(--muted); padding: 24px; }
.pager { display: flex; align-items: center; gap: 12px; justify-content: flex-end; margin-top: 12px; color: var(--muted); }
.pager .size { margin-left: 12px; }
footer { color: var(--muted); font-size: 12px; padding-bottom: 24px; }
@media (max-width: 760px) {
  .c-group, .c-exp { display: none; }
  .c-status { width: 110px; }
}
"##;

/// The page's script (fixed text): draws the table from the JSON block.
const JS: &str = r##"(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const data = JSON.parse($("report-data").textContent);
  const tests = data.tests;
  const groups = data.groups;
  const ORDER = ["unexpected", "unfinished", "intermittent", "pass", "xfail", "skip", "notstarted"];
  const LABELS = {
    unexpected: "Unexpected", unfinished: "Unfinished", intermittent: "Known intermittent",
    pass: "Passed", xfail: "Expected failure", skip: "Skipped", notstarted: "Not started",
  };
  const counts = {};
  tests.forEach((t, i) => { t.i = i; counts[t.o] = (counts[t.o] || 0) + 1; });
  const fmt = (n) => n.toLocaleString("en-US");
  const state = {
    on: new Set(ORDER), status: "all", group: "all", q: "", page: 0, size: 200,
    sort: "problems", desc: false, open: new Set(),
  };
  let sorted = null;
  let renders = 0;

  function h(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function dur(ms) {
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
    return Math.floor(ms / 60000) + " min " + String(Math.floor(ms / 1000) % 60).padStart(2, "0") + " s";
  }
  const statusText = (t) => t.s || (t.o === "unfinished" ? "UNFINISHED" : "NOT STARTED");
  const groupName = (t) => (t.g == null ? "" : groups[t.g]);
  // Problems first: unexpected or unfinished tests, and tests with unexpected subtests.
  const rank = (t) => (t.o === "unexpected" || t.o === "unfinished" || t.su ? 0 : t.o === "intermittent" ? 1 : 2);
  const KEYS = {
    id: (t) => t.id, status: statusText, expected: (t) => t.x || t.s || "",
    duration: (t) => (t.d == null ? -1 : t.d), group: groupName,
  };

  function order() {
    if (sorted) return sorted;
    const list = tests.slice();
    if (state.sort === "problems") {
      list.sort((a, b) => rank(a) - rank(b) || a.i - b.i);
    } else {
      const key = KEYS[state.sort];
      const dir = state.desc ? -1 : 1;
      list.sort((a, b) => {
        const x = key(a), y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * dir || a.i - b.i;
      });
    }
    sorted = list;
    return list;
  }

  function matches(t) {
    if (!state.on.has(t.o)) return false;
    if (state.status !== "all" && statusText(t) !== state.status) return false;
    if (state.group !== "all" && String(t.g == null ? -1 : t.g) !== state.group) return false;
    if (state.q) {
      if (t.key === undefined) t.key = (t.id + "\n" + (t.m || "")).toLowerCase();
      if (!t.key.includes(state.q)) return false;
    }
    return true;
  }

  function preview(t) {
    if (t.o === "unfinished") return "started, never ended";
    if (t.o === "pass" || !t.m) return "";
    const line = t.m.split("\n", 1)[0];
    return line.length > 200 ? line.slice(0, 200) + "…" : line;
  }

  function row(t) {
    const tr = h("tr", "row o-" + t.o + (t.su ? " flag" : ""));
    tr.dataset.i = t.i;
    tr.dataset.test = t.id;
    tr.dataset.outcome = t.o;
    tr.tabIndex = 0;
    tr.setAttribute("aria-expanded", state.open.has(t.i) ? "true" : "false");
    const st = h("td", "c-status");
    st.appendChild(h("span", "badge b-" + t.o, statusText(t)));
    tr.appendChild(st);
    const name = h("td", "c-test");
    name.appendChild(h("span", "caret"));
    name.appendChild(h("span", "tid", t.id));
    if (t.su) name.appendChild(h("span", "tag", t.su + " unexpected subtest" + (t.su > 1 ? "s" : "")));
    const p = preview(t);
    if (p) name.appendChild(h("div", "preview", p));
    tr.appendChild(name);
    const exp = t.x || t.s || "";
    tr.appendChild(h("td", "c-exp " + (t.x ? "differs" : "same"), exp));
    tr.appendChild(h("td", "c-dur num", t.d == null ? "" : dur(t.d)));
    tr.appendChild(h("td", "c-group", groupName(t)));
    return tr;
  }

  function section(box, title, text) {
    const s = h("div", "sect");
    s.appendChild(h("h4", null, title));
    s.appendChild(h("pre", null, text));
    box.appendChild(s);
    return s;
  }

  function detail(t) {
    const tr = h("tr", "detail o-" + t.o);
    const td = h("td");
    td.colSpan = 5;
    tr.appendChild(td);
    const box = h("div", "detail-body");
    td.appendChild(box);
    const facts = [LABELS[t.o]];
    if (t.x) facts.push("status " + t.s + ", expected " + t.x);
    if (t.ki) facts.push("known intermittent: " + t.ki.join(", "));
    if (t.d != null) facts.push("took " + dur(t.d));
    if (t.g != null) facts.push("group " + groups[t.g]);
    box.appendChild(h("div", "facts", facts.join(" · ")));
    if (t.o === "unfinished") box.appendChild(h("p", "note", "This test started but never ended: the run stopped before its result."));
    if (t.o === "notstarted") box.appendChild(h("p", "note", "This test was listed when the suite started but never started."));
    if (t.m) section(box, "Message", t.m);
    if (t.k) section(box, "Stack", t.k);
    if (t.sub) {
      const s = h("div", "sect");
      s.appendChild(h("h4", null, "Subtests (" + fmt(t.sub.length + (t.subcut || 0)) + ")"));
      const table = h("table", "subtests");
      const body = h("tbody");
      for (const [name, status, expected, known, message] of t.sub) {
        const o = expected ? (known ? "intermittent" : "unexpected") : status === "PASS" || status === "OK" ? "pass" : status === "SKIP" || status === "NOTRUN" ? "skip" : "xfail";
        const r = h("tr");
        r.appendChild(h("td", "tid", name));
        const c = h("td");
        c.appendChild(h("span", "badge b-" + o, status));
        if (expected) c.appendChild(document.createTextNode(" expected " + expected));
        r.appendChild(c);
        r.appendChild(h("td", null, message || ""));
        body.appendChild(r);
      }
      table.appendChild(body);
      s.appendChild(table);
      if (t.subcut) s.appendChild(h("p", "cut", fmt(t.subcut) + " more subtests not shown."));
      box.appendChild(s);
    }
    if (t.cr) t.cr.forEach((c) => section(box, "Crash", c));
    if (t.out != null) {
      const s = section(box, "Output", t.out);
      if (t.cut) {
        s.insertBefore(h("p", "cut", "Output truncated: " + fmt(t.cut) + " bytes in the middle are not shown (the first and last " + data.outputCap / 2048 + " KiB are kept)."), s.lastChild);
        const pre = s.lastChild;
        pre.appendChild(h("span", "cut-mark", "\n[… " + fmt(t.cut) + " bytes not shown …]\n"));
        pre.appendChild(document.createTextNode(t.tail || ""));
      }
    }
    if (t.ex) section(box, "Extra", t.ex);
    if (!t.m && !t.k && !t.sub && !t.cr && t.out == null && !t.ex && t.o !== "unfinished" && t.o !== "notstarted") {
      box.appendChild(h("p", "muted", "No message, stack or output was recorded for this test."));
    }
    return tr;
  }

  function render() {
    const list = order().filter(matches);
    const pages = Math.max(1, Math.ceil(list.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    const from = state.page * state.size;
    const slice = list.slice(from, from + state.size);
    const frag = document.createDocumentFragment();
    for (const t of slice) {
      frag.appendChild(row(t));
      if (state.open.has(t.i)) frag.appendChild(detail(t));
    }
    if (!slice.length) {
      const tr = h("tr", "empty");
      const td = h("td", null, tests.length ? "No test matches the filters." : "No tests ran.");
      td.colSpan = 5;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    $("test-rows").replaceChildren(frag);
    const mc = $("match-count");
    mc.dataset.matching = list.length;
    mc.textContent = list.length === tests.length
      ? fmt(tests.length) + (tests.length === 1 ? " test" : " tests")
      : fmt(list.length) + " of " + fmt(tests.length) + " tests match";
    $("page-info").textContent = list.length
      ? fmt(from + 1) + "–" + fmt(from + slice.length) + " of " + fmt(list.length) + " · page " + (state.page + 1) + " of " + pages
      : "";
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    for (const c of document.querySelectorAll("#outcome-filters .chip")) {
      c.setAttribute("aria-pressed", state.on.has(c.dataset.outcome) ? "true" : "false");
    }
    for (const th of document.querySelectorAll("#test-table th")) {
      const b = th.querySelector("button");
      if (b && b.dataset.sort === state.sort) th.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
    $("test-table").dataset.rendered = String(++renders);
  }

  function update(resetPage) {
    if (resetPage) state.page = 0;
    render();
  }

  // Outcome chips, for the outcomes present.
  const chips = $("outcome-filters");
  for (const o of ORDER) {
    if (!counts[o]) continue;
    const b = h("button", "chip o-" + o);
    b.type = "button";
    b.dataset.outcome = o;
    b.appendChild(h("span", null, LABELS[o]));
    b.appendChild(h("span", "c", fmt(counts[o])));
    b.addEventListener("click", () => {
      if (state.on.has(o)) state.on.delete(o); else state.on.add(o);
      update(true);
    });
    chips.appendChild(b);
  }

  // Groups, by name, with their test counts.
  const perGroup = new Map();
  for (const t of tests) {
    const g = t.g == null ? -1 : t.g;
    perGroup.set(g, (perGroup.get(g) || 0) + 1);
  }
  const sel = $("group-filter");
  sel.options[0].textContent = "All groups (" + perGroup.size + ")";
  [...perGroup.keys()]
    .sort((a, b) => (a < 0 ? "" : groups[a]).localeCompare(b < 0 ? "" : groups[b]))
    .forEach((g) => {
      const opt = h("option", null, (g < 0 ? "(no group)" : groups[g]) + " (" + fmt(perGroup.get(g)) + ")");
      opt.value = String(g);
      sel.appendChild(opt);
    });
  sel.addEventListener("change", () => { state.group = sel.value; update(true); });

  // Statuses, in mozlog's order, with their test counts.
  const STATUSES = ["PASS", "FAIL", "OK", "ERROR", "TIMEOUT", "CRASH", "ASSERT", "PRECONDITION_FAILED", "SKIP", "NOTRUN", "UNFINISHED", "NOT STARTED"];
  const perStatus = new Map();
  for (const t of tests) perStatus.set(statusText(t), (perStatus.get(statusText(t)) || 0) + 1);
  const statusSel = $("status-filter");
  for (const st of STATUSES) {
    if (!perStatus.has(st)) continue;
    const opt = h("option", null, st + " (" + fmt(perStatus.get(st)) + ")");
    opt.value = st;
    statusSel.appendChild(opt);
  }
  statusSel.addEventListener("change", () => { state.status = statusSel.value; update(true); });
  if (!tests.length) {
    $("toolbar").hidden = true;
    $("pager").hidden = true;
  }

  const search = $("search");
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.q = search.value.trim().toLowerCase(); update(true); }, 120);
  });
  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target.tagName || "").toLowerCase();
    if (ev.key === "/" && tag !== "input" && tag !== "select" && tag !== "textarea") {
      ev.preventDefault();
      search.focus();
    }
  });

  function clearFilters() {
    state.on = new Set(ORDER);
    state.group = "all";
    state.status = "all";
    state.q = "";
    state.sort = "problems";
    state.desc = false;
    sorted = null;
    sel.value = "all";
    statusSel.value = "all";
    search.value = "";
  }
  $("reset").addEventListener("click", () => { clearFilters(); update(true); });

  // The summary cards show their outcome only.
  for (const card of document.querySelectorAll(".cards a.card[data-outcome]")) {
    card.addEventListener("click", () => {
      const o = card.dataset.outcome;
      clearFilters();
      if (o !== "total") state.on = new Set([o]);
      update(true);
    });
  }

  for (const b of document.querySelectorAll("#test-table th button")) {
    b.addEventListener("click", () => {
      const key = b.dataset.sort;
      if (state.sort === key) state.desc = !state.desc;
      else { state.sort = key; state.desc = false; }
      sorted = null;
      update(true);
    });
  }

  $("prev").addEventListener("click", () => { state.page -= 1; update(false); });
  $("next").addEventListener("click", () => { state.page += 1; update(false); });
  const size = $("page-size");
  size.addEventListener("change", () => { state.size = Number(size.value); update(true); });
  state.size = Number(size.value);

  function toggle(tr) {
    const i = Number(tr.dataset.i);
    const next = tr.nextElementSibling;
    if (state.open.has(i)) {
      state.open.delete(i);
      if (next && next.classList.contains("detail")) next.remove();
      tr.setAttribute("aria-expanded", "false");
    } else {
      state.open.add(i);
      tr.after(detail(tests[i]));
      tr.setAttribute("aria-expanded", "true");
    }
  }
  const rows = $("test-rows");
  rows.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr.row");
    // Selecting a test id to copy it does not toggle the row.
    if (!tr || String(window.getSelection() || "")) return;
    toggle(tr);
  });
  rows.addEventListener("keydown", (ev) => {
    const tr = ev.target.closest("tr.row");
    if (tr && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); toggle(tr); }
  });

  render();
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Log, Origin, ProcessOutput, SuiteStart, TestStart};
    use crate::sink::testing::{render, stream};

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
    fn long_texts_are_cut_on_a_char_boundary() {
        let s = "é".repeat(10);
        assert_eq!(&*capped(&s, 5), "éé\n[… 16 more bytes not shown]");
        // Up to the cap, everything is kept.
        let mut c = Capped::default();
        for line in ["ab", "cd", "ef"] {
            c.push_line(line, 9);
        }
        assert_eq!(c.parts(9), (Cow::Borrowed("ab\ncd\nef"), 0, ""));
        // Beyond it, the first and last halves, cut on char boundaries.
        let mut c = Capped::default();
        for line in ["ab", "日本", "x", "yz"] {
            c.push_line(line, 8);
        }
        // The head is "ab\n" (日 does not fit in its 4 bytes); "日本\n" is
        // dropped whole rather than split inside a char.
        assert_eq!(c.parts(8), (Cow::Borrowed("ab\n"), 7, "x\nyz"));
        let (mut c, mut total) = (Capped::default(), 0);
        for i in 0..10_000 {
            let line = format!("line {i}");
            total += line.len() + 1;
            c.push_line(&line, 64);
        }
        let (head, cut, tail) = c.parts(64);
        assert!(head.starts_with("line 0\nline 1\n") && tail.ends_with("line 9999"));
        assert!(c.tail.len() <= 64, "the tail stays small while lines come");
        assert_eq!(head.len() + cut as usize + tail.len() + 1, total);
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
