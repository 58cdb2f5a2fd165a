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
}

/// An error that ends the tool with a message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// Something needed to run is missing or broken.
    #[error("{0}")]
    Setup(String),
}

impl Error {
    /// The exit status that reports this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Setup(_) => exit::USAGE,
        }
    }
}
