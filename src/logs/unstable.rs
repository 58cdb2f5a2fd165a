//! `cargo structlog unstable`: the tests whose status differs between runs.
//!
//! Reads raw logs (the input of `format`: one mozlog entry per line, from
//! any producer; `-` is stdin) and counts, across all of them, the statuses
//! of every test (its `test_end` entries) and of every subtest (its
//! `test_status` entries, keyed by test id and subtest name). A test or
//! subtest with more than one distinct status is unstable. Only `status`
//! counts, not `expected`: a test that failed as expected in one run and
//! passed in another is unstable too.
//!
//! mozlog's own `structlog unstable` compares runs only within the same
//! `run_info`; here the runs are pooled whatever their `run_info` (as
//! mozlog's `--group` does), because ours holds the host name and the
//! workspace path, which differ between machines that run the same
//! configuration. Compare logs of like configurations.
//!
//! Malformed lines are reported on stderr with their file and line number
//! and skipped. The exit status is 0, whatever is found; 2 when a log cannot
//! be read.
//!
//! # Output
//!
//! A table, one row per unstable test or subtest (sorted by test id, a
//! test's own result before its subtests), with a column per status that
//! occurs, then a count:
//!
//! ```text
//! TEST                       SUBTEST  PASS  FAIL  TIMEOUT
//! alpha tests::flaky                     2     1        -
//! beta tests::with_subtests  second      2     -        1
//!
//! 1 of 29 tests and 1 of 4 subtests are unstable across 3 logs (3 runs)
//! ```
//!
//! (the SUBTEST column only when a subtest is listed). With `--json`, one
//! JSON document:
//!
//! ```json
//! {
//!   "logs": 3,
//!   "runs": 3,
//!   "tests": 29,
//!   "subtests": 4,
//!   "unstable": [
//!     { "test": "alpha tests::flaky", "subtest": null,
//!       "statuses": { "PASS": 2, "FAIL": 1 } },
//!     { "test": "beta tests::with_subtests", "subtest": "second",
//!       "statuses": { "PASS": 2, "TIMEOUT": 1 } }
//!   ]
//! }
//! ```
//!
//! `logs` is the number of files read, `runs` the number of `suite_start`
//! entries in them, `tests` and `subtests` the distinct tests and subtests
//! with a result; `subtest` is `null` for a test's own result; `statuses`
//! maps mozlog's status names to how many results had that status (only
//! statuses that occurred, in mozlog's order).

use crate::error::{exit, Error};
use crate::logs::replay::{LogReader, Malformed, READ_BUFFER, STDIN_LABEL};
use crate::model::{Action, Entry, Status};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Write};

/// How many results had each status, indexed as [`Status::ALL`] (u32: a
/// small record per test, for logs of hundreds of thousands of tests).
type Counts = [u32; Status::ALL.len()];

#[derive(Default)]
struct TestCounts {
    /// The test's own results (`test_end`).
    own: Counts,
    /// Its subtests' results (`test_status`); an empty map allocates nothing.
    subtests: BTreeMap<String, Counts>,
}

/// The statuses of every test and subtest over the logs read so far.
#[derive(Default)]
pub struct Statuses {
    tests: HashMap<String, TestCounts>,
    /// Logs read.
    pub logs: u64,
    /// `suite_start` entries seen.
    pub runs: u64,
}

/// An unstable test (`subtest` is `None`) or subtest, with its status counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unstable {
    pub test: String,
    pub subtest: Option<String>,
    pub statuses: BTreeMap<Status, u64>,
}

/// The `--json` document (see the module doc).
#[derive(Debug, Serialize)]
pub struct Report {
    pub logs: u64,
    pub runs: u64,
    pub tests: u64,
    pub subtests: u64,
    pub unstable: Vec<Unstable>,
}

fn bump(counts: &mut Counts, status: Status) {
    // `Status::ALL` lists the variants in declaration order.
    counts[status as usize] = counts[status as usize].saturating_add(1);
}

fn distinct(counts: &Counts) -> usize {
    counts.iter().filter(|n| **n > 0).count()
}

fn as_map(counts: &Counts) -> BTreeMap<Status, u64> {
    Status::ALL
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| (*s, u64::from(*n)))
        .collect()
}

impl Statuses {
    pub fn new() -> Statuses {
        Statuses::default()
    }

    /// Counts one entry.
    pub fn entry(&mut self, e: &Entry) {
        let (test, subtest, status) = match &e.action {
            Action::SuiteStart(_) => {
                self.runs += 1;
                return;
            }
            Action::TestEnd(end) => (&end.test, None, end.status),
            Action::TestStatus(st) => (&st.test, Some(&st.subtest), st.status),
            _ => return,
        };
        // Look up before inserting: no allocation for a test already seen.
        if !self.tests.contains_key(test.as_str()) {
            self.tests.insert(test.clone(), TestCounts::default());
        }
        let t = self.tests.get_mut(test.as_str()).expect("inserted above");
        match subtest {
            None => bump(&mut t.own, status),
            Some(name) => {
                if !t.subtests.contains_key(name.as_str()) {
                    t.subtests.insert(name.clone(), Counts::default());
                }
                bump(
                    t.subtests.get_mut(name.as_str()).expect("inserted above"),
                    status,
                );
            }
        }
    }

    /// Counts every entry of a log; malformed lines are reported and skipped.
    pub(crate) fn read<R: BufRead>(
        &mut self,
        label: &str,
        mut reader: LogReader<R>,
        malformed: &mut Malformed,
    ) -> io::Result<()> {
        self.logs += 1;
        while let Some((line, entry)) = reader.next_entry()? {
            match entry {
                Ok(e) => self.entry(&e),
                Err(err) => {
                    malformed.report(label, line, &err);
                }
            }
        }
        Ok(())
    }

    /// The unstable tests and subtests, sorted by test id, a test's own
    /// result before its subtests (sorted by name).
    pub fn unstable(&self) -> Vec<Unstable> {
        let mut ids: Vec<&String> = self.tests.keys().collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            let t = &self.tests[id];
            if distinct(&t.own) > 1 {
                out.push(Unstable {
                    test: id.clone(),
                    subtest: None,
                    statuses: as_map(&t.own),
                });
            }
            for (name, counts) in &t.subtests {
                if distinct(counts) > 1 {
                    out.push(Unstable {
                        test: id.clone(),
                        subtest: Some(name.clone()),
                        statuses: as_map(counts),
                    });
                }
            }
        }
        out
    }

    /// The report: counts and the unstable results.
    pub fn report(&self) -> Report {
        Report {
            logs: self.logs,
            runs: self.runs,
            tests: self.tests.values().filter(|t| distinct(&t.own) > 0).count() as u64,
            subtests: self.tests.values().map(|t| t.subtests.len() as u64).sum(),
            unstable: self.unstable(),
        }
    }
}

/// Control characters in a name would break the table's rows.
fn cell(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn plural(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The report as a table (see the module doc).
pub fn table(report: &Report) -> String {
    let across = format!(
        "across {} ({})",
        plural(report.logs, "log"),
        plural(report.runs, "run")
    );
    let rows = &report.unstable;
    if rows.is_empty() {
        let subtests = if report.subtests > 0 {
            format!(" and {}", plural(report.subtests, "subtest"))
        } else {
            String::new()
        };
        return format!(
            "no unstable tests: each of {}{subtests} had one status {across}\n",
            plural(report.tests, "test")
        );
    }
    let statuses: Vec<Status> = Status::ALL
        .into_iter()
        .filter(|s| rows.iter().any(|r| r.statuses.contains_key(s)))
        .collect();
    let with_subtests = rows.iter().any(|r| r.subtest.is_some());
    let mut grid: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    let mut header = vec!["TEST".to_string()];
    if with_subtests {
        header.push("SUBTEST".into());
    }
    header.extend(statuses.iter().map(|s| s.as_str().to_string()));
    grid.push(header);
    for r in rows {
        let mut row = vec![cell(&r.test)];
        if with_subtests {
            row.push(r.subtest.as_deref().map(cell).unwrap_or_default());
        }
        row.extend(statuses.iter().map(|s| match r.statuses.get(s) {
            Some(n) => n.to_string(),
            None => "-".to_string(),
        }));
        grid.push(row);
    }
    let names = if with_subtests { 2 } else { 1 };
    let widths: Vec<usize> = (0..grid[0].len())
        .map(|c| grid.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &grid {
        let mut line = String::new();
        for (c, text) in row.iter().enumerate() {
            let pad = widths[c] - text.chars().count();
            if c > 0 {
                line.push_str("  ");
            }
            // Names to the left, counts to the right.
            if c < names {
                line.push_str(text);
                line.extend(std::iter::repeat_n(' ', pad));
            } else {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(text);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let tests = rows.iter().filter(|r| r.subtest.is_none()).count();
    let subtests = rows.len() - tests;
    out.push('\n');
    out.push_str(&format!("{tests} of {}", plural(report.tests, "test")));
    if report.subtests > 0 {
        out.push_str(&format!(
            " and {subtests} of {}",
            plural(report.subtests, "subtest")
        ));
    }
    let verb = if tests + subtests == 1 { "is" } else { "are" };
    out.push_str(&format!(" {verb} unstable {across}\n"));
    out
}

/// `cargo structlog unstable`: see the module doc.
pub fn unstable(logs: &[std::path::PathBuf], json: bool) -> Result<i32, Error> {
    let mut statuses = Statuses::new();
    let mut malformed = Malformed::new(false);
    for path in logs {
        let result = if path.as_os_str() == "-" {
            let reader = LogReader::new(BufReader::with_capacity(READ_BUFFER, io::stdin()));
            statuses.read(STDIN_LABEL, reader, &mut malformed)
        } else {
            let label = path.display().to_string();
            let reader = LogReader::open(path)
                .map_err(|e| Error::caused(format!("{label}: cannot open"), e))?;
            statuses.read(&label, reader, &mut malformed)
        };
        result.map_err(|e| Error::caused(format!("{}: cannot read", path.display()), e))?;
    }
    malformed.summary();
    let report = statuses.report();
    let text = if json {
        let mut s = serde_json::to_string_pretty(&report).expect("the report serializes");
        s.push('\n');
        s
    } else {
        table(&report)
    };
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(exit::OK),
        // The reader went away (`| head`): nothing left to tell it.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(exit::OK),
        Err(e) => Err(Error::caused("cannot write to stdout", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, SuiteStart, TestEnd, TestStatus};

    fn o() -> Origin {
        Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        }
    }

    fn end(test: &str, status: Status) -> Entry {
        o().entry(1, Action::TestEnd(TestEnd::new(test, status)))
    }

    fn sub(test: &str, name: &str, status: Status) -> Entry {
        o().entry(
            1,
            Action::TestStatus(TestStatus {
                test: test.into(),
                subtest: name.into(),
                status,
                expected: None,
                message: None,
                stack: None,
                extra: None,
                known_intermittent: Vec::new(),
                subsuite: None,
                group: None,
            }),
        )
    }

    fn runs(results: &[&[Entry]]) -> Statuses {
        let mut s = Statuses::new();
        for run in results {
            s.logs += 1;
            s.entry(&o().entry(0, Action::SuiteStart(SuiteStart::default())));
            for e in *run {
                s.entry(e);
            }
        }
        s
    }

    #[test]
    fn only_results_with_two_statuses_are_unstable() {
        use Status::*;
        let s = runs(&[
            &[
                end("a", Pass),
                end("b", Fail),
                sub("c", "x", Pass),
                sub("c", "y", Pass),
            ],
            &[
                end("a", Pass),
                end("b", Pass),
                sub("c", "x", Pass),
                sub("c", "y", Timeout),
            ],
            &[
                end("a", Pass),
                end("b", Pass),
                end("c", Ok),
                sub("c", "y", Timeout),
            ],
        ]);
        let r = s.report();
        assert_eq!((r.logs, r.runs, r.tests, r.subtests), (3, 3, 3, 2));
        assert_eq!(
            r.unstable,
            vec![
                Unstable {
                    test: "b".into(),
                    subtest: None,
                    statuses: [(Pass, 2), (Fail, 1)].into_iter().collect(),
                },
                Unstable {
                    test: "c".into(),
                    subtest: Some("y".into()),
                    statuses: [(Pass, 1), (Timeout, 2)].into_iter().collect(),
                },
            ]
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["unstable"][0]["statuses"]["FAIL"], 1);
        assert_eq!(json["unstable"][0]["subtest"], serde_json::Value::Null);
        assert_eq!(json["unstable"][1]["subtest"], "y");
    }

    #[test]
    fn the_table_has_a_column_per_status_that_occurs() {
        use Status::*;
        let s = runs(&[
            &[end("long test name", Pass), sub("c", "y\nz", Pass)],
            &[end("long test name", Fail), sub("c", "y\nz", Timeout)],
        ]);
        let text = table(&s.report());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "TEST            SUBTEST  PASS  FAIL  TIMEOUT");
        assert_eq!(lines[1], "c               y\\nz        1     -        1");
        assert_eq!(lines[2], "long test name              1     1        -");
        assert_eq!(
            lines[4],
            "1 of 1 test and 1 of 1 subtest are unstable across 2 logs (2 runs)"
        );
        let stable = table(&runs(&[&[end("a", Pass)], &[end("a", Pass)]]).report());
        assert_eq!(
            stable,
            "no unstable tests: each of 1 test had one status across 2 logs (2 runs)\n"
        );
    }
}
