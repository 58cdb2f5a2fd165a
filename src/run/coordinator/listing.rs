//! The binaries as their listings come: held back in the run's order,
//! matched with the expectations, cut to the partition, and `suite_start`
//! written once every test is known.

use super::*;
use crate::plan::rerun::Mode;

impl Runner<'_> {
    /// Whether `suite_start` still waits for a listing.
    pub(super) fn listing_pending(&self) -> bool {
        self.interrupted.is_none() && (self.docs_pending || self.next_listed < self.listings)
    }

    /// Adds the binaries listed so far in their order (the run's order, and
    /// the partition's), the doctests after them all; writes `suite_start`
    /// once everything is in.
    pub(super) fn add_listed(&mut self) {
        while let Some(d) = self.listed.remove(&self.next_listed) {
            self.next_listed += 1;
            self.add_binaries(vec![d]);
        }
        if self.next_listed == self.listings {
            if let Some(docs) = self.docs.take() {
                self.add_binaries(docs);
                self.docs_added = true;
            }
        }
        if !self.listing_pending() {
            self.write_header();
        }
    }

    pub(super) fn add_binaries(&mut self, discovered: Vec<Discovered>) {
        let captured = !self.config.flags.nocapture;
        for d in discovered {
            let mut tests = match d.tests {
                Ok(t) => t,
                Err(e) => {
                    self.listing_errors
                        .push((d.binary.id.clone(), crate::error::chain(&e)));
                    Vec::new()
                }
            };
            if let Some(x) = &self.config.expectations {
                // Matched against every discovered test, before the partition,
                // so that each shard judges the file alike.
                for t in tests.iter_mut() {
                    if let Some(i) = x.lookup(&format!("{} {}", d.binary.id, t.name)) {
                        self.matched[i] = true;
                        t.expectation = Some(self.expectations[i].clone());
                    }
                }
            }
            let listed = tests.len();
            let mut failed_first = Vec::new();
            let mut files = None;
            if let Some(r) = self.config.rerun.clone() {
                let id = &d.binary.id;
                let harness = d.binary.harness;
                for gone in r.missing(id, harness, &tests, &self.config.flags) {
                    self.log(
                        Level::Warning,
                        format!("`{gone}` had failed in {}; it no longer exists", r.source),
                    );
                }
                let picked: Vec<bool> = tests
                    .iter()
                    .map(|t| r.picks(id, harness, &t.name))
                    .collect();
                let any = picked.iter().any(|p| *p);
                match r.mode {
                    // rustdoc selects by parts of names (split at
                    // whitespace): by file, or whole.
                    Mode::Only
                        if harness == Harness::Rustdoc
                            && !r.files(id).iter().any(|f| f.contains(char::is_whitespace)) =>
                    {
                        let mut keep = picked.iter();
                        tests.retain(|_| *keep.next().expect("one per test"));
                        files = Some(r.files(id));
                    }
                    Mode::Only if harness.selects_by_name() => {
                        let mut keep = picked.iter();
                        tests.retain(|_| *keep.next().expect("one per test"));
                    }
                    Mode::Only => {
                        if !any {
                            tests.clear();
                        }
                    }
                    Mode::First if any && harness.selects_by_name() => {
                        failed_first = tests
                            .iter()
                            .zip(&picked)
                            .filter(|(_, p)| **p)
                            .map(|(t, _)| t.name.clone())
                            .collect();
                    }
                    Mode::First if any => failed_first = vec![String::new()],
                    Mode::First => {}
                }
            }
            let all = tests.len();
            if let Some(p) = self.config.partition {
                let id = &d.binary.id;
                if d.binary.harness.selects_by_name() {
                    let index = &mut self.partition_index;
                    tests.retain(|t| {
                        *index += 1;
                        p.contains(*index - 1, &format!("{id} {}", t.name))
                    });
                } else if !tests.is_empty() {
                    // A binary that cannot run a chosen subset goes whole to one
                    // shard: by its first test's place, or by its own id's hash.
                    if !p.contains(self.partition_index, id) {
                        tests.clear();
                    }
                    self.partition_index += all as u64;
                }
            }
            let mut state =
                BinaryState::new(d.binary.id.clone(), d.binary.harness, tests, captured);
            state.set_retries(self.config.retries);
            let mut queue = if state.tests.is_empty() {
                VecDeque::new()
            } else if state.tests.len() == listed {
                VecDeque::from([Work::Full])
            } else if let Some(files) = files.filter(|_| state.tests.len() == all) {
                VecDeque::from([Work::Files(files)])
            } else {
                // This shard's share of the binary, by exact name.
                VecDeque::from([Work::Resume {
                    names: state.pending(),
                    serial: false,
                }])
            };
            // `--failed-first`: what failed (of this shard) runs before the
            // rest; a binary that cannot select by name goes first whole.
            let pending: std::collections::HashSet<String> = state.pending().into_iter().collect();
            failed_first.retain(|n| n.is_empty() || pending.contains(n));
            let first = !queue.is_empty() && !failed_first.is_empty();
            if first && !failed_first[0].is_empty() && failed_first.len() < pending.len() {
                let rest: Vec<String> = state
                    .pending()
                    .into_iter()
                    .filter(|n| !failed_first.contains(n))
                    .collect();
                queue = VecDeque::from([
                    Work::Resume {
                        names: failed_first,
                        serial: false,
                    },
                    Work::Resume {
                        names: rest,
                        serial: false,
                    },
                ]);
            }
            self.bins.push(Bin {
                binary: d.binary,
                state,
                queue,
                busy: false,
                warned_dropped: false,
                first,
                busy_for: Duration::ZERO,
            });
        }
    }

    /// Writes `suite_start` (all tests, by binary) and what was held.
    pub(super) fn write_header(&mut self) {
        let Some(held) = self.header.take() else {
            return;
        };
        self.listed_at = Some(Instant::now());
        let mut tests = TestGroups::new();
        for b in &self.bins {
            tests.insert(
                b.binary.id.clone(),
                b.state
                    .tests
                    .iter()
                    .map(|t| b.state.test_id(&t.name))
                    .collect(),
            );
        }
        let start = self.origin.entry(
            self.start_time,
            Action::SuiteStart(SuiteStart {
                tests: tests.into(),
                name: self.suite_name.clone(),
                run_info: Some(self.run_info.clone()),
                ..Default::default()
            }),
        );
        self.out.entry(&start);
        for e in held {
            self.out.entry(&e);
        }
        for (bin, err) in std::mem::take(&mut self.listing_errors) {
            self.log(Level::Error, format!("{bin}: {err}"));
        }
        self.check_expectations();
    }

    /// Entries of the expectations file that match no test: a warning, or
    /// with `--strict-expectations` an error that stops the run.
    pub(super) fn check_expectations(&mut self) {
        let Some(x) = self.config.expectations.clone() else {
            return;
        };
        if self.interrupted.is_some() {
            return;
        }
        let unmatched: Vec<String> = x
            .entries
            .iter()
            .zip(&self.matched)
            .filter(|(_, m)| !**m)
            .map(|(e, _)| {
                format!(
                    "{}:{}: `{}` matches no test",
                    x.path.display(),
                    e.line,
                    e.id
                )
            })
            .collect();
        if unmatched.is_empty() {
            return;
        }
        let level = if self.config.strict_expectations {
            Level::Error
        } else {
            Level::Warning
        };
        for m in &unmatched {
            self.log(level, m.clone());
        }
        if self.config.strict_expectations {
            self.refused = Some(format!(
                "{} (--strict-expectations): no test was run",
                unmatched.join("; ")
            ));
        }
    }
}
