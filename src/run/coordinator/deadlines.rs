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
                if j.kill == Kill::None {
                    for since in j.since.values() {
                        consider(*since + limit);
                    }
                }
            }
            if let Kill::Terminating(t) = j.kill {
                consider(t);
            }
            if let Some(at) = j.exited_at {
                consider(at + EXIT_GRACE);
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
            if let Some(at) = j.exited_at {
                if now >= at + EXIT_GRACE {
                    self.finalize(id);
                    continue;
                }
            }
            match j.kill {
                Kill::Terminating(t) if now >= t => {
                    kill_group(j.pid, Signal::SIGKILL);
                    if let Some(j) = self.jobs.get_mut(&id) {
                        j.kill = Kill::Killed;
                    }
                }
                Kill::None => {
                    if let Some(limit) = self.config.timeout {
                        let hung = j
                            .since
                            .iter()
                            .filter(|(_, s)| now >= **s + limit)
                            .min_by_key(|(_, s)| **s)
                            .map(|(n, _)| n.clone());
                        if let Some(name) = hung {
                            self.timed_out(id, name);
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
        std::thread::spawn(move || {
            let (sample, error) =
                run_hook(&hook, pid, &test_id, &binary_id, &program, &path, limit);
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
