//! Logs as data: replaying raw logs into any sinks, merging the logs of
//! shards, and finding the tests whose results differ between runs.

pub(crate) mod expectations;
pub(crate) mod parallel;
pub(crate) mod replay;
pub(crate) mod unstable;

pub use replay::{LogReader, READ_BUFFER};

/// The longest raw-log line read: a run's `suite_start` of a million tests
/// is a few tens of megabytes. A longer line (or an input with no line
/// break at all, such as `/dev/zero`) is reported as malformed and skipped
/// without being kept, so memory stays bounded whatever the input.
pub const MAX_LINE: usize = 64 << 20;
