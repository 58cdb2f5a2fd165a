//! What to do when a test process has exited, and whether a test runs
//! again: decisions only, made from facts the coordinator gathered, so that
//! crash containment and retries are tested without processes.
//!
//! - A timed-out test ends TIMEOUT; an interrupted run ends what was in
//!   flight as ERROR "interrupted".
//! - A custom harness's one test ends by the exit status.
//! - A process that exited normally (0 or 101, its suite summary printed,
//!   nothing in flight) leaves only the tests it listed and did not run.
//! - A process that died: a lone test in flight (not when the process was
//!   killed for another test's timeout) crashed; several in flight each run
//!   again alone to find the one that crashed; a death with none in flight
//!   is a crash outside any test. The tests not yet run resume in a new
//!   process, unless the harness cannot run tests by name (rustdoc), or the
//!   process died before running anything (it would again).

use crate::plan::Harness;

/// What the coordinator knows of an exited test process.
#[derive(Clone, Debug, Default)]
pub struct Exit {
    pub harness: Harness,
    /// The exit code, or minus the signal that killed it.
    pub code: i64,
    /// The coordinator killed it (a timeout, an interrupt).
    pub killed: bool,
    /// The test it was killed for, past `--timeout`.
    pub timed_out: Option<String>,
    /// The run was interrupted.
    pub interrupted: bool,
    /// libtest printed its suite summary.
    pub suite_finished: bool,
    /// Tests started and not ended.
    pub in_flight: Vec<String>,
    /// The process ran one test alone (to find a crash, or another attempt).
    pub isolated: bool,
    /// Tests it was to run and did not start.
    pub unstarted: Vec<String>,
    /// It started at least one test.
    pub started_any: bool,
    /// The harness says which test runs as it starts it (not libtest-mimic
    /// on several threads, which prints `started` when a test has ended).
    pub reliable_starts: bool,
}

/// Why tests that did not run end as ERROR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRun {
    /// The binary listed them, exited normally, and did not run them.
    Skipped,
    /// Its process died, and the harness cannot run tests by name (rustdoc).
    CannotRerun,
    /// Its process died before running any test: it would again.
    DiedFirst,
}

/// What becomes of an exited process's tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Ends TIMEOUT.
    pub timed_out: Option<String>,
    /// End ERROR "interrupted".
    pub interrupted: Vec<String>,
    /// End by the exit status (a custom harness's one test).
    pub by_exit_status: Vec<String>,
    /// Ends CRASH.
    pub crashed: Option<String>,
    /// The process died between tests: a crash outside any test.
    pub crashed_outside: bool,
    /// Run again, each alone, in this order, to find which one crashed.
    pub isolate: Vec<String>,
    /// Run again together in a new process, after those.
    pub resume: Vec<String>,
    /// ... on one thread, where the harness says which test runs.
    pub resume_serially: bool,
    /// End ERROR: they cannot run, and why.
    pub not_run: Vec<String>,
    pub not_run_because: Option<NotRun>,
}

/// Decides what becomes of an exited process's tests (see the module doc).
pub fn after_exit(exit: Exit) -> Decision {
    let mut d = Decision::default();
    let mut in_flight = exit.in_flight;
    if let Some(name) = &exit.timed_out {
        if let Some(pos) = in_flight.iter().position(|n| n == name) {
            in_flight.remove(pos);
            d.timed_out = Some(name.clone());
        }
    }
    if exit.interrupted {
        d.interrupted = in_flight;
        return d;
    }
    if exit.harness == Harness::Custom {
        d.by_exit_status = in_flight;
        return d;
    }
    let normal = !exit.killed
        && (exit.code == 0 || exit.code == 101)
        && exit.suite_finished
        && in_flight.is_empty();
    if normal {
        if !exit.unstarted.is_empty() {
            d.not_run = exit.unstarted;
            d.not_run_because = Some(NotRun::Skipped);
        }
        return d;
    }
    if !exit.reliable_starts {
        // Which test crashed or hung is not known: the tests without a
        // result run again on one thread, where it will be.
        d.resume = exit.unstarted;
        d.resume_serially = true;
        return d;
    }
    let killed_for_timeout = exit.timed_out.is_some();
    match in_flight.len() {
        0 => d.crashed_outside = !killed_for_timeout,
        1 if !killed_for_timeout || exit.isolated => d.crashed = in_flight.pop(),
        // Which of these crashed (or were merely in flight when a hung test
        // was killed)? Each runs alone to find out.
        _ => d.isolate = in_flight,
    }
    if !exit.harness.selects_by_name() {
        // rustdoc splits its --test-args at whitespace, and doctest names
        // have spaces: its tests cannot be run again one by one.
        d.not_run = std::mem::take(&mut d.isolate);
        d.not_run.extend(exit.unstarted);
        d.not_run_because = Some(NotRun::CannotRerun);
        return d;
    }
    if !exit.unstarted.is_empty() {
        if exit.started_any || !d.isolate.is_empty() {
            d.resume = exit.unstarted;
        } else {
            d.not_run = exit.unstarted;
            d.not_run_because = Some(NotRun::DiedFirst);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn died(in_flight: &[&str], unstarted: &[&str]) -> Exit {
        Exit {
            harness: Harness::Libtest,
            code: -6,
            in_flight: names(in_flight),
            unstarted: names(unstarted),
            started_any: true,
            reliable_starts: true,
            ..Exit::default()
        }
    }

    #[test]
    fn a_normal_exit_leaves_only_what_was_not_run() {
        let exit = Exit {
            harness: Harness::Libtest,
            code: 101,
            suite_finished: true,
            unstarted: names(&["listed_only"]),
            reliable_starts: true,
            ..Exit::default()
        };
        let d = after_exit(exit.clone());
        assert_eq!(d.not_run, names(&["listed_only"]));
        assert_eq!(d.not_run_because, Some(NotRun::Skipped));
        assert!(d.crashed.is_none() && d.resume.is_empty() && !d.crashed_outside);
        // Without its summary line, the same exit is a death.
        let d = after_exit(Exit {
            suite_finished: false,
            started_any: true,
            ..exit
        });
        assert!(d.crashed_outside);
        assert_eq!(d.resume, names(&["listed_only"]));
    }

    #[test]
    fn a_lone_test_in_flight_crashed_and_the_rest_resume() {
        let d = after_exit(died(&["a"], &["b", "c"]));
        assert_eq!(d.crashed.as_deref(), Some("a"));
        assert_eq!(d.resume, names(&["b", "c"]));
        assert!(d.isolate.is_empty() && d.not_run.is_empty());
    }

    #[test]
    fn several_in_flight_each_run_alone() {
        let d = after_exit(died(&["a", "b"], &["c"]));
        assert_eq!(d.crashed, None);
        assert_eq!(d.isolate, names(&["a", "b"]));
        assert_eq!(d.resume, names(&["c"]));
    }

    #[test]
    fn a_death_between_tests_is_a_crash_outside_any_test() {
        let d = after_exit(died(&[], &["c"]));
        assert!(d.crashed_outside);
        assert_eq!(d.resume, names(&["c"]));
    }

    #[test]
    fn a_death_before_any_test_does_not_resume() {
        let mut exit = died(&[], &["a", "b"]);
        exit.started_any = false;
        let d = after_exit(exit);
        assert_eq!(d.not_run, names(&["a", "b"]));
        assert_eq!(d.not_run_because, Some(NotRun::DiedFirst));
        assert!(d.resume.is_empty());
    }

    #[test]
    fn a_timeout_kill_ends_the_hung_test_and_isolates_the_others() {
        let mut exit = died(&["hung", "bystander"], &["later"]);
        exit.killed = true;
        exit.timed_out = Some("hung".into());
        let d = after_exit(exit);
        assert_eq!(d.timed_out.as_deref(), Some("hung"));
        // The bystander did not crash: it was killed with the hung test.
        assert_eq!(d.crashed, None);
        assert_eq!(d.isolate, names(&["bystander"]));
        assert_eq!(d.resume, names(&["later"]));
        assert!(!d.crashed_outside);
        // Alone, a test killed for its own timeout is not a crash either.
        let mut alone = died(&["hung"], &[]);
        alone.killed = true;
        alone.timed_out = Some("hung".into());
        let d = after_exit(alone);
        assert_eq!((d.timed_out.as_deref(), d.crashed), (Some("hung"), None));
        assert!(!d.crashed_outside);
    }

    #[test]
    fn an_interrupt_ends_what_was_in_flight() {
        let mut exit = died(&["a", "b"], &["c"]);
        exit.interrupted = true;
        let d = after_exit(exit);
        assert_eq!(d.interrupted, names(&["a", "b"]));
        assert!(d.resume.is_empty() && d.isolate.is_empty() && d.not_run.is_empty());
    }

    #[test]
    fn rustdoc_cannot_run_tests_again() {
        let mut exit = died(&["x", "y"], &["z"]);
        exit.harness = Harness::Rustdoc;
        let d = after_exit(exit);
        assert_eq!(d.not_run, names(&["x", "y", "z"]));
        assert_eq!(d.not_run_because, Some(NotRun::CannotRerun));
        // A lone one in flight still crashed.
        let mut exit = died(&["x"], &["z"]);
        exit.harness = Harness::Rustdoc;
        let d = after_exit(exit);
        assert_eq!(d.crashed.as_deref(), Some("x"));
        assert_eq!(d.not_run, names(&["z"]));
    }

    #[test]
    fn a_custom_harness_ends_by_its_exit_status() {
        let mut exit = died(&["whole"], &[]);
        exit.harness = Harness::Custom;
        let d = after_exit(exit);
        assert_eq!(d.by_exit_status, names(&["whole"]));
        assert_eq!(d.crashed, None);
    }

    #[test]
    fn without_reliable_starts_the_rest_runs_again_on_one_thread() {
        // libtest-mimic on several threads, killed by the watchdog or dead
        // of an abort: nothing was in flight as far as anyone can tell.
        let mut exit = died(&[], &["hung", "fine"]);
        exit.reliable_starts = false;
        exit.started_any = false;
        exit.killed = true;
        let d = after_exit(exit);
        assert_eq!(d.resume, names(&["hung", "fine"]));
        assert!(d.resume_serially);
        assert!(!d.crashed_outside && d.not_run.is_empty());
        // On one thread, the same death finds its test.
        let mut alone = died(&["hung"], &["fine"]);
        alone.harness = Harness::Mimic;
        let d = after_exit(alone);
        assert_eq!(d.crashed.as_deref(), Some("hung"));
        assert!(!d.resume_serially);
    }
}
