//! Errors that stop the tool before or around a run, and the exit statuses.

/// Exit statuses (README "Exit status").
pub mod exit {
    /// Every test result was expected.
    pub const OK: i32 = 0;
    /// A usage error (bad flags) or a setup error (cargo missing, a sink that
    /// cannot be opened, a malformed input file).
    pub const USAGE: i32 = 2;
    /// At least one result was unexpected, or the harness reported an error
    /// (a crashed test binary, an error `log` entry): as `cargo test`'s 101.
    pub const TESTS_FAILED: i32 = 101;
    /// The build failed.
    pub const BUILD_FAILED: i32 = 102;
    /// A sink failed: writing (disk full, closed pipe, a socket peer that
    /// hung up or stopped reading), connecting to a socket destination, or a
    /// `--log-exec` command that exited early, with a failure, or too late.
    pub const SINK_FAILED: i32 = 103;
    /// `format` or `merge` skipped malformed input lines.
    pub const MALFORMED_INPUT: i32 = 104;
    /// Interrupted by SIGINT or SIGTERM (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: i32 = 130;

    /// How a run ended, for its exit status.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Run {
        pub interrupted: bool,
        pub build_failed: bool,
        pub sink_failed: bool,
        /// A result was unexpected, the harness reported an error, or (with
        /// `--fail-on-flaky`) a test was flaky.
        pub tests_failed: bool,
    }

    /// A run's exit status: when several apply, the first of 130, 102, 103,
    /// 101 (README "Exit status").
    pub fn of_run(r: Run) -> i32 {
        if r.interrupted {
            INTERRUPTED
        } else if r.build_failed {
            BUILD_FAILED
        } else if r.sink_failed {
            SINK_FAILED
        } else if r.tests_failed {
            TESTS_FAILED
        } else {
            OK
        }
    }

    /// The exit status of `format` or `merge`: a failed sink first, then
    /// a stop at a malformed line (`--strict`), then lines skipped.
    pub fn of_replay(sink_failed: bool, stopped: bool, skipped: u64) -> i32 {
        if sink_failed {
            SINK_FAILED
        } else if stopped {
            USAGE
        } else if skipped > 0 {
            MALFORMED_INPUT
        } else {
            OK
        }
    }
}

/// An error that ends the tool with a message. Its text says what was being
/// done; the error that caused it, if any, is its `source` (printed after
/// it: see [`Error::report`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// Something needed to run is missing or broken.
    #[error("{0}")]
    Setup(String),
    /// Something needed to run failed: opening a file, starting a process,
    /// reading cargo's answer.
    #[error("{context}")]
    Caused {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// What was being done, and the error that stopped it.
    pub fn caused(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        Error::Caused {
            context: context.into(),
            source: source.into(),
        }
    }

    /// The exit status that reports this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Setup(_) | Error::Caused { .. } => exit::USAGE,
        }
    }

    /// The message and its causes, one after the other: `what: why: why`.
    pub fn report(&self) -> String {
        chain(self)
    }
}

/// An error's message and its causes, one after the other: `what: why: why`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_status_ranks_interrupt_build_sinks_then_tests() {
        let all = exit::Run {
            interrupted: true,
            build_failed: true,
            sink_failed: true,
            tests_failed: true,
        };
        assert_eq!(exit::of_run(all), exit::INTERRUPTED);
        let no_int = exit::Run {
            interrupted: false,
            ..all
        };
        assert_eq!(exit::of_run(no_int), exit::BUILD_FAILED);
        let sinks = exit::Run {
            build_failed: false,
            ..no_int
        };
        assert_eq!(exit::of_run(sinks), exit::SINK_FAILED);
        let tests = exit::Run {
            sink_failed: false,
            ..sinks
        };
        assert_eq!(exit::of_run(tests), exit::TESTS_FAILED);
        assert_eq!(exit::of_run(exit::Run::default()), exit::OK);
    }

    #[test]
    fn a_report_names_every_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::caused("--input x.log: cannot open", io);
        assert_eq!(e.report(), "--input x.log: cannot open: no such file");
        assert_eq!(e.exit_code(), exit::USAGE);
    }
}
