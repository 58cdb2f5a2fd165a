//! A test process has exited: what policy::after_exit decides for its
//! tests, carried out (results, crash entries, work queued again).

use super::*;

impl Runner<'_> {
    /// Tests that could not run: started and ended with ERROR, so that every
    /// discovered test has its result.
    pub(super) fn not_run(&mut self, bin: usize, pid: u32, names: &[String], why: &str) {
        for name in names {
            if !self.bins[bin].state.is_unstarted(name) {
                continue;
            }
            let mut actions = Vec::new();
            let now = self.now();
            self.bins[bin].state.start(name, pid, now, &mut actions);
            self.send_actions(bin, pid, actions);
            let mut end = TestEnd::new(String::new(), Status::Error);
            end.set_expected(self.bins[bin].state.expected_of(name));
            end.message = Some(why.to_string());
            self.end_test(bin, pid, name, end, false);
        }
    }

    pub(super) fn finalize(&mut self, job_id: u64) {
        let Some(job) = self.jobs.remove(&job_id) else {
            return;
        };
        let bin = job.bin;
        let pid = job.pid;
        self.bins[bin].busy = false;
        let status = job.exit;
        let code: i64 = match status {
            Some(s) => exit_code(&s),
            None => -9,
        };
        let e = Entry {
            time: self.now(),
            thread: self.bins[bin].binary.id.clone(),
            pid: pid as i64,
            source: self.origin.source.clone(),
            component: None,
            action: Action::ProcessExit(ProcessExit {
                process: pid.to_string(),
                exitcode: code,
                command: None,
                subsuite: None,
            }),
        };
        self.send(e);
        let report = self.bins[bin].state.process_exited(pid);
        let harness = self.bins[bin].binary.harness;
        let unstarted: Vec<String> = match &job.work {
            Work::Full | Work::Files(_) => self.bins[bin].state.pending(),
            Work::Resume { names, .. } => names
                .iter()
                .filter(|n| self.bins[bin].state.is_unstarted(n))
                .cloned()
                .collect(),
            Work::Isolate(n) => {
                if self.bins[bin].state.is_unstarted(n) {
                    vec![n.clone()]
                } else {
                    Vec::new()
                }
            }
            // Their results are held: what did not run keeps them.
            Work::Confirm(_) => Vec::new(),
        };
        let d = policy::after_exit(policy::Exit {
            harness,
            code,
            killed: job.kill != Kill::None,
            timed_out: job.timed_out.as_ref().map(|(name, _)| name.clone()),
            interrupted: self.interrupted.is_some(),
            suite_finished: report.suite_finished,
            in_flight: report.in_flight,
            isolated: matches!(job.work, Work::Isolate(_)),
            reliable_starts: job.reliable_starts,
            unstarted,
            started_any: job.started_any,
        });
        let tail: Vec<String> = job.stderr_tail.iter().cloned().collect();
        let (signature, reason) = describe_exit(code);

        if let (Some(name), Some((_, sample))) = (&d.timed_out, &job.timed_out) {
            let limit = elapsed_secs(self.config.timeout.unwrap_or_default());
            let mut end = TestEnd::new(String::new(), Status::Timeout);
            end.set_expected(self.bins[bin].state.expected_of(name));
            let mut message = format!("timed out after {limit} s (--timeout)");
            let mut extra = Map::new();
            extra.insert(
                "timeout".into(),
                Value::from(self.config.timeout.unwrap_or_default().as_secs_f64()),
            );
            if let Some(s) = sample {
                message.push_str(&format!(
                    "; stacks sampled before the kill: {}",
                    s.display()
                ));
                extra.insert(
                    "sample".into(),
                    Value::from(s.to_string_lossy().into_owned()),
                );
            }
            end.message = Some(message);
            end.extra = Some(extra);
            self.end_test(bin, pid, name, end, true);
        }
        for name in &d.interrupted {
            let mut end = TestEnd::new(String::new(), Status::Error);
            end.set_expected(self.bins[bin].state.expected_of(name));
            end.message = Some("interrupted".into());
            self.end_test(bin, pid, name, end, false);
        }
        for name in &d.by_exit_status {
            let end = if code == 0 {
                TestEnd::new(String::new(), Status::Pass)
            } else if code < 0 {
                self.crash_entry(bin, pid, name, &signature, &reason, &tail);
                crash_end(&reason, &tail)
            } else {
                let mut end = TestEnd::new(String::new(), Status::Fail);
                end.set_expected(Status::Pass);
                end.message = Some(format!("the test binary exited with status {code}"));
                end
            };
            self.end_test(bin, pid, name, end, true);
        }
        if let Some(name) = &d.crashed {
            self.crash_entry(bin, pid, name, &signature, &reason, &tail);
            self.end_test(bin, pid, name, crash_end(&reason, &tail), true);
        }
        if d.crashed_outside {
            let id = self.bins[bin].binary.id.clone();
            let mut c = Crash::new(signature.clone());
            c.process = Some(pid.to_string());
            c.reason = Some(format!("{id}: {reason} outside any test"));
            c.stackwalk_stdout = (!tail.is_empty()).then(|| tail.join("\n"));
            let e = Entry {
                time: self.now(),
                thread: id.clone(),
                pid: pid as i64,
                source: self.origin.source.clone(),
                component: None,
                action: Action::Crash(c),
            };
            self.send(e);
            let mut message = format!("{id}: the test binary {reason} outside any test");
            if !tail.is_empty() {
                message.push_str("; its last words:\n");
                message.push_str(&tail.join("\n"));
            }
            self.log(Level::Error, message);
        }
        if let Some(why) = d.not_run_because {
            let why = match why {
                policy::NotRun::Skipped => {
                    "listed by the test binary, but it did not run it".to_string()
                }
                policy::NotRun::CannotRerun => format!(
                    "not run: the {} process {reason}, and its tests cannot be re-run by name",
                    harness.name()
                ),
                policy::NotRun::DiedFirst => {
                    format!("not run: the test binary {reason} before running it")
                }
            };
            // Tests that were in flight are put back in line first, so that
            // they end here as the ones that never started do.
            for name in &d.not_run {
                self.bins[bin].state.requeue(name);
            }
            self.not_run(bin, pid, &d.not_run, &why);
        }
        for name in &d.isolate {
            self.bins[bin].state.requeue(name);
        }
        let mut requeue: Vec<Work> = d.isolate.into_iter().map(Work::Isolate).collect();
        if !d.resume.is_empty() {
            requeue.push(Work::Resume {
                names: d.resume,
                serial: d.resume_serially,
            });
        }
        for w in requeue.into_iter().rev() {
            self.bins[bin].queue.push_front(w);
        }
        // Doctests that failed merged run on their own next; after that
        // run, or when the run is interrupted, what is still held ends with
        // its merged result.
        let held = self.bins[bin].state.held();
        if !held.is_empty() {
            if matches!(job.work, Work::Confirm(_)) {
                self.release_held(bin, "it gave no result on its own");
            } else if self.interrupted.is_some() {
                self.release_held(bin, "the run was interrupted before it ran on its own");
            } else {
                self.bins[bin].queue.push_front(Work::Confirm(held));
            }
        }
    }

    pub(super) fn crash_entry(
        &mut self,
        bin: usize,
        pid: u32,
        name: &str,
        signature: &str,
        reason: &str,
        tail: &[String],
    ) {
        let mut c = Crash::new(signature);
        c.process = Some(pid.to_string());
        c.test = Some(self.bins[bin].state.test_id(name));
        c.reason = Some(reason.to_string());
        c.stackwalk_stdout = (!tail.is_empty()).then(|| tail.join("\n"));
        self.send_actions(bin, pid, vec![Action::Crash(c)]);
    }
}

pub(super) fn crash_end(reason: &str, tail: &[String]) -> TestEnd {
    let mut end = TestEnd::new(String::new(), Status::Crash);
    end.set_expected(Status::Pass);
    end.message = Some(reason.to_string());
    if !tail.is_empty() {
        end.stack = Some(tail.join("\n"));
    }
    end
}

/// The exit code, or minus the signal number (as mozlog and Python report it).
pub(super) fn exit_code(s: &ExitStatus) -> i64 {
    if let Some(c) = s.code() {
        return c as i64;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return -(sig as i64);
        }
    }
    -1
}

/// A crash's signature and reason from its exit code.
pub(super) fn describe_exit(code: i64) -> (String, String) {
    if code < 0 {
        let name = signal_name((-code) as i32);
        (
            name.clone(),
            format!("was killed by signal {} ({name})", -code),
        )
    } else {
        (
            format!("exit code {code}"),
            format!("exited with status {code}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_are_described() {
        assert_eq!(describe_exit(-6).0, "SIGABRT");
        assert_eq!(describe_exit(-11).1, "was killed by signal 11 (SIGSEGV)");
        assert_eq!(describe_exit(3).0, "exit code 3");
    }
}
