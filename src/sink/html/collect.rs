//! Collecting the run: what each entry adds to the report.

use super::render::crash_text;
use super::*;

impl Report {
    pub(super) fn entry(&mut self, e: &Entry) {
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
                rec.flags.insert(Flags::BEGAN);
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
            if self.tests[from].flags.contains(Flags::HOLE) {
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
        rec.flags.insert(Flags::BEGAN);
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
        rec.flags.insert(Flags::BEGAN);
        rec.set_end(time);
        rec.status = Some(t.status);
        rec.expected = t.expected;
        if t.is_known_intermittent() {
            rec.flags.insert(Flags::KNOWN);
        } else {
            rec.flags.remove(Flags::KNOWN);
        }
        if let Some(d) = &mut rec.detail {
            // Its output is complete: the slack its growth left is given
            // back (it adds up over a large run).
            d.output.shrink();
            if let Some(more) = &mut d.more {
                more.extra = None;
            }
        }
        rec.flags.remove(Flags::EXTRA_LINE);
        if let Some(m) = t.extra.as_ref().filter(|m| !m.is_empty()) {
            match line_only(m) {
                Some(line) => {
                    rec.line = line;
                    rec.flags.insert(Flags::EXTRA_LINE);
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
