//! Time: tests past `--timeout` (the pre-kill hook, then SIGTERM and
//! SIGKILL), dead processes' pipes, interrupts and their grace period.

use super::*;

impl Runner<'_> {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let mut d: Option<Instant> = None;
        let mut consider = |t: Instant| {
            d = Some(match d {
                Some(x) if x <= t => x,
                _ => t,
            })
        };
        for j in self.jobs.values() {
            if let Some(limit) = self.config.timeout {
                if j.kill == Kill::None && j.exit.is_none() {
                    for since in j.since.values() {
                        consider(*since + limit);
                    }
                    if !j.reliable_starts {
                        consider(j.progress + limit);
                    }
                }
            }
            if let Kill::Terminating(t) = j.kill {
                consider(t);
            }
        }
        if let Some(at) = self.interrupted {
            if !self.killed_all {
                consider(at + self.config.interrupt_grace);
            }
        }
        if let Some(at) = self.flush_due {
            consider(at);
        }
        d
    }

    pub(super) fn check_deadlines(&mut self) {
        let now = Instant::now();
        let ids: Vec<u64> = self.jobs.keys().copied().collect();
        for id in ids {
            let Some(j) = self.jobs.get(&id) else {
                continue;
            };
            match j.kill {
                Kill::Terminating(t) if now >= t => {
                    kill_group(j.pid, Signal::SIGKILL);
                    if let Some(j) = self.jobs.get_mut(&id) {
                        j.kill = Kill::Killed;
                    }
                }
                Kill::None if j.exit.is_none() => {
                    if let Some(limit) = self.config.timeout {
                        let hung = j
                            .since
                            .iter()
                            .filter(|(_, s)| now >= **s + limit)
                            .min_by_key(|(_, s)| **s)
                            .map(|(n, _)| n.clone());
                        if let Some(name) = hung {
                            self.timed_out(id, name);
                        } else if !j.reliable_starts && now >= j.progress + limit {
                            self.watchdog(id, limit);
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(at) = self.interrupted {
            if !self.killed_all && now >= at + self.config.interrupt_grace {
                self.kill_all();
            }
        }
    }

    /// A process of a harness that does not say which test runs (see
    /// `start_job`) reported no result within the timeout: it is stopped,
    /// and its tests without a result run again on one thread, where the
    /// hung one is found, sampled and ends in TIMEOUT, and the others get
    /// their results.
    fn watchdog(&mut self, job_id: u64, limit: Duration) {
        let Some(j) = self.jobs.get_mut(&job_id) else {
            return;
        };
        j.watchdog = true;
        j.kill = Kill::Killed;
        kill_group(j.pid, Signal::SIGKILL);
        let bin = j.bin;
        let id = self.bins[bin].binary.id.clone();
        self.log(
            Level::Warning,
            format!(
                "{id}: no result for {} s (--timeout), and {} does not say which test runs on \
                 several threads: stopped; its tests without a result run again on one thread",
                elapsed_secs(limit),
                self.bins[bin].binary.harness.name()
            ),
        );
    }

    pub(super) fn timed_out(&mut self, job_id: u64, name: String) {
        let (pid, bin) = {
            let j = self.jobs.get_mut(&job_id).expect("job");
            j.timed_out = Some((name.clone(), None));
            j.kill = Kill::Hooking;
            (j.pid, j.bin)
        };
        let test_id = self.bins[bin].state.test_id(&name);
        let binary_id = self.bins[bin].binary.id.clone();
        let program = self.bins[bin].binary.launch.program.clone();
        let hook = self.config.hook.clone();
        let limit = self.config.hook_timeout;
        let path = self.config.session_dir.join(sample_name(&test_id, pid));
        let tx = self.tx.clone();
        let running = self.hooks.clone();
        std::thread::spawn(move || {
            let hung = Hung {
                pid,
                test_id: &test_id,
                binary_id: &binary_id,
                program: &program,
            };
            let (sample, error) = run_hook(&running, &hook, &hung, &path, limit);
            let _ = tx.send(Msg::Hook {
                job: job_id,
                sample,
                error,
            });
        });
    }

    pub(super) fn terminate(&mut self, job_id: u64) {
        if let Some(j) = self.jobs.get_mut(&job_id) {
            kill_group(j.pid, Signal::SIGTERM);
            j.kill = Kill::Terminating(Instant::now() + self.config.kill_grace);
        }
    }

    pub(super) fn signal(&mut self, _sig: i32) {
        if self.interrupted.is_none() {
            self.interrupted = Some(Instant::now());
            for b in &mut self.bins {
                b.state.set_retries(0);
            }
            self.docs_pending = false;
            for j in self.jobs.values() {
                kill_group(j.pid, Signal::SIGINT);
            }
            // A stack sample is not worth waiting for now.
            self.hooks.end_all();
            eprintln!(
                "\ninterrupted: stopping the tests (they have {} s; interrupt again to kill them now)",
                self.config.interrupt_grace.as_secs_f64()
            );
        } else {
            self.kill_all();
        }
    }

    pub(super) fn kill_all(&mut self) {
        self.killed_all = true;
        for j in self.jobs.values_mut() {
            kill_group(j.pid, Signal::SIGKILL);
            j.kill = Kill::Killed;
        }
    }
}
