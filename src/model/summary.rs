//! Counts of a run, kept as entries pass (mozlog's `SummaryHandler`): what
//! the mach and tbpl summaries print and what decides the exit status.
//!
//! Only the unexpected and known-intermittent results and the harness errors
//! are kept whole; everything else is a number, so memory does not grow with
//! the log.

use crate::model::{Action, Entry, Level, Log, Status, TestEnd, TestStatus};
use std::collections::BTreeMap;

/// Counts for one kind of check (`test`, `subtest` or `assert`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub count: u64,
    pub expected: BTreeMap<Status, u64>,
    pub unexpected: BTreeMap<Status, u64>,
    pub known_intermittent: BTreeMap<Status, u64>,
}

impl Counts {
    fn expected_total(&self, include_skip: bool) -> u64 {
        self.expected
            .iter()
            .filter(|(s, _)| include_skip || **s != Status::Skip)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn unexpected_total(&self) -> u64 {
        self.unexpected.values().sum()
    }

    pub fn intermittent_total(&self, include_skip: bool) -> u64 {
        self.known_intermittent
            .iter()
            .filter(|(s, _)| include_skip || **s != Status::Skip)
            .map(|(_, n)| n)
            .sum()
    }
}

/// An unexpected or known-intermittent result kept for the summaries.
#[derive(Clone, Debug, PartialEq)]
pub enum Noted {
    End(TestEnd),
    Status(TestStatus),
}

impl Noted {
    pub fn test(&self) -> &str {
        match self {
            Noted::End(e) => &e.test,
            Noted::Status(s) => &s.test,
        }
    }
}

/// Results grouped by test, in the order the tests first appeared, with an
/// index for finding a test's group in constant time.
#[derive(Clone, Debug, Default)]
pub struct ByTest {
    groups: Vec<(String, Vec<Noted>)>,
    index: foldhash::HashMap<String, usize>,
}

impl ByTest {
    fn push(&mut self, noted: Noted) {
        match self.index.get(noted.test()) {
            Some(&i) => self.groups[i].1.push(noted),
            None => {
                let test = noted.test().to_string();
                self.index.insert(test.clone(), self.groups.len());
                self.groups.push((test, vec![noted]));
            }
        }
    }

    /// A test's results.
    pub fn of(&self, test: &str) -> Option<&[Noted]> {
        self.index.get(test).map(|&i| self.groups[i].1.as_slice())
    }

    /// Every test's results, in order.
    pub fn groups(&self) -> &[(String, Vec<Noted>)] {
        &self.groups
    }
}

/// The summary of the current suite.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// The suite's name (`suite_start.name`, else `suite N`).
    pub suite: String,
    suites_seen: usize,
    pub tests: Counts,
    pub subtests: Counts,
    pub asserts: Counts,
    /// Unexpected results in the order they came, grouped by test.
    pub unexpected: ByTest,
    /// Known intermittent results, grouped by test.
    pub intermittent: ByTest,
    /// `log` entries at ERROR or CRITICAL after suite_start.
    pub harness_errors: Vec<Log>,
    /// `crash` entries.
    pub crashes: u64,
    /// Tests started and not yet ended.
    pub running: u64,
    /// Tests whose status changed between attempts (`extra.flaky`), with
    /// their attempts' statuses.
    pub flaky: u64,
    pub flaky_tests: Vec<(String, Vec<Status>)>,
    /// Entries seen.
    pub entries: u64,
}

impl Summary {
    pub fn new() -> Summary {
        Summary::default()
    }

    /// Counts one entry.
    pub fn entry(&mut self, e: &Entry) {
        self.entries += 1;
        match &e.action {
            Action::SuiteStart(s) => {
                self.suites_seen += 1;
                let name = s
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("suite {}", self.suites_seen));
                if name != self.suite {
                    let seen = self.suites_seen;
                    *self = Summary::default();
                    self.suites_seen = seen;
                    self.suite = name;
                }
            }
            Action::TestStart(_) => {
                self.tests.count += 1;
                self.running += 1;
            }
            Action::TestEnd(end) => {
                self.running = self.running.saturating_sub(1);
                if let Some(extra) = &end.extra {
                    if extra.get("flaky").and_then(|f| f.as_bool()) == Some(true) {
                        self.flaky += 1;
                        let attempts = extra
                            .get("attempts")
                            .and_then(|a| a.as_array())
                            .map(|a| {
                                a.iter()
                                    .filter_map(|x| x["status"].as_str().and_then(Status::parse))
                                    .collect()
                            })
                            .unwrap_or_default();
                        self.flaky_tests.push((end.test.clone(), attempts));
                    }
                }
                let known = end.known_intermittent.contains(&end.status);
                if end.expected.is_some() {
                    if known {
                        *self.tests.expected.entry(end.status).or_default() += 1;
                        *self.tests.known_intermittent.entry(end.status).or_default() += 1;
                        self.intermittent.push(Noted::End(end.clone()));
                    } else {
                        *self.tests.unexpected.entry(end.status).or_default() += 1;
                        self.unexpected.push(Noted::End(end.clone()));
                    }
                } else {
                    *self.tests.expected.entry(end.status).or_default() += 1;
                }
            }
            Action::TestStatus(st) => {
                self.subtests.count += 1;
                let known = st.known_intermittent.contains(&st.status);
                if st.expected.is_some() {
                    if known {
                        *self.subtests.expected.entry(st.status).or_default() += 1;
                        *self
                            .subtests
                            .known_intermittent
                            .entry(st.status)
                            .or_default() += 1;
                        self.intermittent.push(Noted::Status(st.clone()));
                    } else {
                        *self.subtests.unexpected.entry(st.status).or_default() += 1;
                        self.unexpected.push(Noted::Status(st.clone()));
                    }
                } else {
                    *self.subtests.expected.entry(st.status).or_default() += 1;
                }
            }
            Action::Log(l) => {
                if self.suites_seen > 0 && matches!(l.level, Level::Error | Level::Critical) {
                    self.harness_errors.push(l.clone());
                }
            }
            Action::Crash(_) => self.crashes += 1,
            Action::Other { action, fields } if action == "assertion_count" => {
                let n = |k: &str| fields.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
                let (count, min, max) = (n("count"), n("min_expected"), n("max_expected"));
                self.asserts.count += 1;
                let (map, status) = if min <= count && count <= max {
                    (
                        &mut self.asserts.expected,
                        if count > 0 {
                            Status::Fail
                        } else {
                            Status::Pass
                        },
                    )
                } else if max < count {
                    (&mut self.asserts.unexpected, Status::Fail)
                } else {
                    (&mut self.asserts.unexpected, Status::Pass)
                };
                *map.entry(status).or_default() += 1;
            }
            Action::SuiteEnd(_)
            | Action::ProcessOutput(_)
            | Action::ProcessStart(_)
            | Action::ProcessExit(_)
            | Action::GroupStart(_)
            | Action::GroupEnd(_)
            | Action::AddSubsuite(_)
            | Action::Shutdown
            | Action::Other { .. } => {}
        }
    }

    /// All checks run (tests, subtests, asserts).
    pub fn checks(&self) -> u64 {
        self.tests.count + self.subtests.count + self.asserts.count
    }

    /// Expected results, not counting skips (as mach prints them).
    pub fn expected_results(&self) -> u64 {
        self.tests.expected_total(false)
            + self.subtests.expected_total(false)
            + self.asserts.expected_total(false)
    }

    /// Known intermittent results (counted as expected).
    pub fn known_intermittents(&self) -> u64 {
        self.tests.intermittent_total(false)
            + self.subtests.intermittent_total(false)
            + self.asserts.intermittent_total(false)
    }

    /// Unexpected results of every kind.
    pub fn unexpected_results(&self) -> u64 {
        self.tests.unexpected_total()
            + self.subtests.unexpected_total()
            + self.asserts.unexpected_total()
    }

    /// True when nothing unexpected happened: no unexpected result, no
    /// harness error, no crash.
    pub fn is_ok(&self) -> bool {
        self.unexpected_results() == 0 && self.harness_errors.is_empty() && self.crashes == 0
    }
}
