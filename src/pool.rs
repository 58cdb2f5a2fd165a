//! Threads kept for reuse.
//!
//! A run starts a few short-lived threads for every test process (a reader
//! for each of its streams, a waiter for its exit) and for every listing.
//! Starting a thread and ending it cost more than the little work most of
//! them do: a stack mapped and unmapped, the allocator's per-thread heap set
//! up and given back, and the kernel's bookkeeping, on the CPUs the tests
//! are using. A thread that has finished its work here waits a while for
//! the next, so a run of many test binaries starts a handful of threads
//! instead of several per binary.
//!
//! A job given to [`spawn`] starts at once, as with `std::thread::spawn`: on
//! an idle thread if one is waiting, else on a new one. A job may block for
//! as long as it likes (a reader waits on its pipe); it never waits behind
//! another job.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How long a thread with nothing to do waits for more work before it ends.
pub const KEEP_IDLE: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A set of threads, each running one job at a time.
pub struct Pool {
    state: Mutex<State>,
    work: Condvar,
    keep_idle: Duration,
}

struct State {
    /// Jobs handed over, not yet taken. Never more than `idle`.
    queue: VecDeque<Job>,
    /// Threads waiting for a job.
    idle: usize,
    /// Threads started, for tests and diagnostics.
    started: usize,
}

impl Pool {
    /// A pool whose idle threads end after `keep_idle`.
    pub const fn new(keep_idle: Duration) -> Pool {
        Pool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                idle: 0,
                started: 0,
            }),
            work: Condvar::new(),
            keep_idle,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A job runs outside the lock: a panic in one cannot poison it, but
        // nothing here would be left half-done if it did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `job` on a thread of the pool: an idle one, else a new one.
    /// Panics if a new thread is needed and cannot be started, as
    /// `std::thread::spawn` does.
    pub fn spawn(&'static self, job: impl FnOnce() + Send + 'static) {
        let mut s = self.lock();
        // Every job in the queue has an idle thread of its own coming for it.
        if s.idle > s.queue.len() {
            s.queue.push_back(Box::new(job));
            drop(s);
            self.work.notify_one();
            return;
        }
        s.started += 1;
        drop(s);
        std::thread::spawn(move || {
            job();
            self.serve();
        });
    }

    /// Takes jobs as they come, until none has come for `keep_idle`.
    fn serve(&self) {
        let mut s = self.lock();
        loop {
            s.idle += 1;
            let until = Instant::now() + self.keep_idle;
            let job = loop {
                if let Some(job) = s.queue.pop_front() {
                    break job;
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    // The queue is empty: no job counts on this thread.
                    s.idle -= 1;
                    return;
                }
                s = self
                    .work
                    .wait_timeout(s, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            };
            s.idle -= 1;
            drop(s);
            job();
            s = self.lock();
        }
    }

    /// How many threads this pool has started.
    pub fn started(&self) -> usize {
        self.lock().started
    }
}

/// Runs `job` on a thread of the process's pool (see the module's doc).
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(KEEP_IDLE)).spawn(job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::sync::{Arc, Barrier};

    fn leak(keep_idle: Duration) -> &'static Pool {
        Box::leak(Box::new(Pool::new(keep_idle)))
    }

    #[test]
    fn jobs_one_after_another_share_one_thread() {
        let pool = leak(Duration::from_secs(30));
        let (tx, rx) = channel();
        let mut threads = Vec::new();
        for i in 0..20 {
            let tx = tx.clone();
            pool.spawn(move || tx.send((i, std::thread::current().id())).unwrap());
            let (got, id) = rx.recv().unwrap();
            assert_eq!(got, i);
            threads.push(id);
            // The thread is back waiting before the next job comes.
            let until = Instant::now() + Duration::from_secs(10);
            while pool.lock().idle == 0 {
                assert!(Instant::now() < until, "the thread never came back");
                std::thread::yield_now();
            }
        }
        assert_eq!(pool.started(), 1);
        assert!(threads.iter().all(|t| *t == threads[0]));
    }

    #[test]
    fn blocking_jobs_all_run_at_once() {
        // Each job waits for all the others: they must run side by side,
        // none queued behind a busy thread.
        let pool = leak(Duration::from_secs(30));
        let n = 16;
        let barrier = Arc::new(Barrier::new(n + 1));
        let (tx, rx) = channel();
        for round in 0..3 {
            for i in 0..n {
                let (barrier, tx) = (barrier.clone(), tx.clone());
                pool.spawn(move || {
                    barrier.wait();
                    tx.send(i).unwrap();
                });
            }
            barrier.wait();
            let mut got: Vec<usize> = (0..n).map(|_| rx.recv().unwrap()).collect();
            got.sort();
            assert_eq!(got, (0..n).collect::<Vec<_>>(), "round {round}");
        }
        // Later rounds found the first round's threads (or most of them:
        // one may not be back yet when the next round starts).
        assert!(pool.started() < 2 * n, "{} threads", pool.started());
    }

    #[test]
    fn an_idle_thread_ends_after_its_wait() {
        let pool = leak(Duration::from_millis(200));
        let (tx, rx) = channel();
        pool.spawn(move || tx.send(()).unwrap());
        rx.recv().unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        let wait_for = |idle: usize| loop {
            if pool.lock().idle == idle {
                break;
            }
            assert!(Instant::now() < until, "never {idle} idle");
            std::thread::sleep(Duration::from_millis(1));
        };
        // Back waiting, then gone.
        wait_for(1);
        wait_for(0);
        // A job after that starts a new thread.
        let (tx, rx) = channel();
        pool.spawn(move || tx.send(()).unwrap());
        rx.recv().unwrap();
        assert_eq!(pool.started(), 2);
    }

    #[test]
    fn a_job_that_panics_takes_only_its_thread() {
        let pool = leak(Duration::from_secs(30));
        pool.spawn(|| panic!("a job's own failure"));
        let (tx, rx) = channel();
        pool.spawn(move || tx.send(7).unwrap());
        assert_eq!(rx.recv().unwrap(), 7);
    }
}
