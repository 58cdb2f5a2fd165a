//! What the document is made from: each test's case, by suite, collected
//! as the entries come.

use super::*;
use crate::model::{Level, Status, Tests};
use crate::sink::index::{is_in_group, strip_group, IdIndex, Listing};
use crate::text::strip_ansi;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Messages and stacks are kept up to this many bytes even when the output
/// limit is smaller: they are what a report is read for.
pub(super) const MIN_TEXT: usize = 4096;

/// True for a character XML 1.0 allows (its `Char` production).
pub(super) fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Text fit for the document: ANSI escapes and characters XML 1.0 forbids
/// removed (escaping is quick-xml's job).
pub(super) fn sanitize(s: &str) -> Cow<'_, str> {
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
pub(super) fn cut_marker(cut: u64, max: usize) -> String {
    format!("[... {cut} bytes of output cut by cargo-structlog: --log-xunit-max-output {max} ...]")
}

/// Captured output kept to a budget (see [`crate::sink::cap`]), sanitized
/// as it comes.
#[derive(Debug, Default)]
pub(super) struct Capped(crate::sink::cap::Capped);

impl Capped {
    /// Appends one line (sanitized here).
    pub(super) fn push_line(&mut self, line: &str, max: usize) {
        self.0.push_line(&sanitize(line), max);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Gives back what growing left unused.
    pub(super) fn shrink(&mut self) {
        self.0.shrink();
    }

    /// The text, with the marker where something was cut.
    pub(super) fn render(&self, max: usize) -> String {
        self.0.render(max, |cut| cut_marker(cut, max))
    }
}

/// A sanitized copy of a message or stack, cut to the limit.
pub(super) fn capped_text(s: &str, max: usize) -> String {
    let mut c = crate::sink::cap::Capped::default();
    c.push(&sanitize(s), max);
    c.render(max, |cut| cut_marker(cut, max))
}

/// A test's result, as much of `test_end` as the report needs: a view of
/// the fields a [`Case`] keeps inline and in its boxed [`Rare`] part.
#[derive(Debug)]
pub(super) struct Outcome<'a> {
    pub(super) status: Status,
    pub(super) expected: Option<Status>,
    /// The status is one of the listed known intermittent ones.
    pub(super) known_intermittent: bool,
    pub(super) message: Option<&'a str>,
    pub(super) stack: Option<&'a str>,
    /// `extra.timeout`: the limit in seconds.
    pub(super) timeout: Option<f64>,
    /// `extra.sample`: the stack sample taken before the kill.
    pub(super) sample: Option<&'a str>,
    /// The earlier attempts of a retried test (`extra.attempts`, `--retries`):
    /// their status and message.
    pub(super) reruns: &'a [(Status, Box<str>)],
}

/// Subtests (`test_status`) of one test: a count and the unexpected ones.
#[derive(Debug, Default)]
pub(super) struct Subtests {
    pub(super) count: u64,
    pub(super) unexpected: u64,
    pub(super) detail: Capped,
}

/// What few cases have: the texts of a failure, subtests, a crash. Boxed,
/// so that the passing tests, nearly all of a large run, pay one pointer
/// for it.
#[derive(Debug, Default)]
pub(super) struct Rare {
    pub(super) message: Option<Box<str>>,
    pub(super) stack: Option<Box<str>>,
    pub(super) timeout: Option<f64>,
    pub(super) sample: Option<Box<str>>,
    pub(super) reruns: Box<[(Status, Box<str>)]>,
    pub(super) subtests: Subtests,
    /// `crash` entries about the test.
    pub(super) crash: Option<Box<str>>,
    /// `extra.line` when it does not fit [`Case::line`].
    pub(super) line: Option<u64>,
}

bitflags::bitflags! {
    /// Bit flags of a record: which of its inline fields hold a value.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(super) struct Flags: u8 {
        /// `Case::flags`: which of the inline fields hold a value.
        const STARTED = 1;
        /// The case has its result: `end`, `status` and `expected` are set.
        const ENDED = 2;
        const KNOWN_INTERMITTENT = 4;
        const HAS_LINE = 8;
        /// A place kept for a listed test that went elsewhere: removed once the
        /// listing is placed.
        const HOLE = 16;
        /// `test` is the id without its suite's name and the space after it.
        const PREFIXED = 32;
    }
}

/// `Case::path` of a test without a path.
pub(super) const NO_PATH: u32 = u32::MAX;

/// One run of a test: what is kept until the document is written. A large
/// run has hundreds of thousands of them, so what a passing test needs is
/// inline and small, and the rest is boxed.
#[derive(Debug)]
pub(super) struct Case {
    /// The mozlog test id (`"<binary-id> <libtest name>"`), kept only here
    /// ([`Record::cases`] finds the case by the id's hash), and with
    /// `PREFIXED` without the suite's name that begins it: the libtest name.
    pub(super) test: Box<str>,
    /// `test_start.path`: its index in [`Record::paths`] (a binary's tests
    /// share one), or `NO_PATH`.
    pub(super) path: u32,
    /// The `test_start` time, with `STARTED`.
    pub(super) start: u64,
    /// The `test_end` time, with `ENDED`.
    pub(super) end: u64,
    /// `extra.line`, with `HAS_LINE`.
    pub(super) line: u32,
    pub(super) status: Status,
    pub(super) expected: Option<Status>,
    pub(super) flags: Flags,
    /// Captured output: boxed, as most tests print nothing.
    pub(super) output: Option<Box<Capped>>,
    pub(super) rare: Option<Box<Rare>>,
}

impl Case {
    /// A case of `test` in suite `group`.
    pub(super) fn new(test: &str, group: &str) -> Case {
        let libtest = strip_group(test, group);
        Case {
            test: libtest.unwrap_or(test).into(),
            path: NO_PATH,
            start: 0,
            end: 0,
            line: 0,
            status: Status::Pass,
            expected: None,
            flags: if libtest.is_some() {
                Flags::PREFIXED
            } else {
                Flags::empty()
            },
            output: None,
            rare: None,
        }
    }

    pub(super) fn hole() -> Case {
        let mut c = Case::new("", "");
        c.flags = Flags::HOLE;
        c
    }

    /// The libtest name, when the id is the suite's name, a space and it.
    pub(super) fn libtest(&self) -> Option<&str> {
        (self.flags.contains(Flags::PREFIXED)).then_some(&*self.test)
    }

    /// The test id, given the case's suite.
    pub(super) fn id(&self, group: &str) -> Cow<'_, str> {
        match self.libtest() {
            Some(l) => Cow::Owned(format!("{group} {l}")),
            None => Cow::Borrowed(&self.test),
        }
    }

    /// Whether the case, of suite `group`, is one of test `id`.
    pub(super) fn is(&self, id: &str, group: &str) -> bool {
        match self.libtest() {
            Some(l) => is_in_group(id, group, l),
            None => *self.test == *id,
        }
    }

    pub(super) fn start(&self) -> Option<u64> {
        (self.flags.contains(Flags::STARTED)).then_some(self.start)
    }

    pub(super) fn end(&self) -> Option<u64> {
        (self.flags.contains(Flags::ENDED)).then_some(self.end)
    }

    pub(super) fn line(&self) -> Option<u64> {
        if self.flags.contains(Flags::HAS_LINE) {
            Some(self.line.into())
        } else {
            self.rare.as_ref().and_then(|r| r.line)
        }
    }

    pub(super) fn set_line(&mut self, line: Option<u64>) {
        self.flags.remove(Flags::HAS_LINE);
        if let Some(r) = &mut self.rare {
            r.line = None;
        }
        match line.map(u32::try_from) {
            Some(Ok(l)) => {
                self.line = l;
                self.flags.insert(Flags::HAS_LINE);
            }
            Some(Err(_)) => self.rare_mut().line = line,
            None => {}
        }
    }

    pub(super) fn started(&self) -> bool {
        self.flags.intersects(Flags::STARTED | Flags::ENDED)
    }

    pub(super) fn has_outcome(&self) -> bool {
        self.flags.contains(Flags::ENDED)
    }

    pub(super) fn outcome(&self) -> Option<Outcome<'_>> {
        if !self.has_outcome() {
            return None;
        }
        let rare = self.rare.as_deref();
        Some(Outcome {
            status: self.status,
            expected: self.expected,
            known_intermittent: self.flags.contains(Flags::KNOWN_INTERMITTENT),
            message: rare.and_then(|r| r.message.as_deref()),
            stack: rare.and_then(|r| r.stack.as_deref()),
            timeout: rare.and_then(|r| r.timeout),
            sample: rare.and_then(|r| r.sample.as_deref()),
            reruns: rare.map_or(&[], |r| &r.reruns),
        })
    }

    pub(super) fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    pub(super) fn subtests(&self) -> Option<&Subtests> {
        self.rare.as_ref().map(|r| &r.subtests)
    }

    pub(super) fn unexpected_subtests(&self) -> u64 {
        self.subtests().map_or(0, |s| s.unexpected)
    }

    pub(super) fn crash(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.crash.as_deref())
    }

    /// The captured output, if there is any.
    pub(super) fn output(&self) -> Option<&Capped> {
        self.output.as_deref().filter(|o| !o.is_empty())
    }
}

/// Whether the case at `(suite, case)` is one of test `id`.
pub(super) fn is_case_of(suites: &[Suite], (s, c): (u32, u32), id: &str) -> bool {
    let suite = &suites[s as usize];
    suite.cases[c as usize].is(id, &suite.name)
}

/// One test binary (mozlog group).
#[derive(Debug)]
pub(super) struct Suite {
    pub(super) name: String,
    pub(super) cases: Vec<Case>,
    /// Output of the binary's processes outside any test.
    pub(super) output: Capped,
}

/// A `log` entry at ERROR or CRITICAL: a harness error, which fails the run
/// as a failing test does (mozlog's `SummaryHandler`).
#[derive(Debug)]
pub(super) struct HarnessError {
    pub(super) time: u64,
    pub(super) level: Level,
    pub(super) message: String,
    pub(super) stack: Option<String>,
}

/// Everything the document is made from.
#[derive(Debug, Default)]
pub(super) struct Record {
    pub(super) name: Option<String>,
    pub(super) run_info: Option<Map<String, Value>>,
    pub(super) suite_started: Option<u64>,
    pub(super) suite_ended: Option<u64>,
    pub(super) first_time: Option<u64>,
    pub(super) last_time: u64,
    pub(super) suites: Vec<Suite>,
    pub(super) suite_index: foldhash::HashMap<String, usize>,
    /// Test id → (suite, case) of its latest run.
    pub(super) cases: IdIndex<(u32, u32)>,
    /// Process (pid as written in `process`) → suite, for output outside tests.
    pub(super) processes: foldhash::HashMap<String, usize>,
    /// The (pid, suite) last put in `processes` by a test_start: each test
    /// of a process would put it again.
    pub(super) last_process: Option<(i64, usize)>,
    /// The `path`s of tests, each kept once.
    pub(super) paths: Names,
    pub(super) harness_source: Option<String>,
    pub(super) harness: Vec<HarnessError>,
}

impl Record {
    pub(super) fn suite(&mut self, name: &str) -> usize {
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
    pub(super) fn find(&self, test: &str) -> Option<(usize, usize)> {
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
    pub(super) fn push_case(&mut self, s: usize, test: &str) -> (usize, usize) {
        let case = Case::new(test, &self.suites[s].name);
        self.suites[s].cases.push(case);
        let at = (s, self.suites[s].cases.len() - 1);
        self.index(test, at);
        at
    }

    /// Makes `at` the latest case of `test`.
    pub(super) fn index(&mut self, test: &str, at: (usize, usize)) {
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
    pub(super) fn list(&mut self, tests: &Tests) {
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
                if self.suites[s].cases[from].flags.contains(Flags::HOLE) {
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
    pub(super) fn group_of(&self, test: &str, group: Option<&str>) -> String {
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
    pub(super) fn case_for_start(&mut self, test: &str, group: Option<&str>) -> (usize, usize) {
        match self.find(test) {
            Some((s, c)) if !self.suites[s].cases[c].started() => (s, c),
            _ => self.new_case(test, group),
        }
    }

    /// The case a result goes to: the test's latest one unless it already
    /// has a result (a result without a start, from another producer's log,
    /// is kept as a case without time rather than lost or overwriting one).
    pub(super) fn case_for_end(&mut self, test: &str, group: Option<&str>) -> (usize, usize) {
        match self.find(test) {
            Some((s, c)) if !self.suites[s].cases[c].has_outcome() => (s, c),
            _ => self.new_case(test, group),
        }
    }

    pub(super) fn new_case(&mut self, test: &str, group: Option<&str>) -> (usize, usize) {
        let g = self.group_of(test, group);
        let s = self.suite(&g);
        self.push_case(s, test)
    }

    pub(super) fn case_mut(&mut self, test: &str) -> Option<&mut Case> {
        let (s, c) = self.find(test)?;
        Some(&mut self.suites[s].cases[c])
    }

    /// The path of a case's test file.
    pub(super) fn path_of(&self, case: &Case) -> Option<&str> {
        (case.path != NO_PATH).then(|| &*self.paths.all()[case.path as usize])
    }

    /// The index of a test file's path in `paths`.
    pub(super) fn path(&mut self, path: &str) -> u32 {
        self.paths.index(path)
    }
}
