//! Logs as data: replaying raw logs into any sinks, merging the logs of
//! shards, and finding the tests whose results differ between runs.

pub mod expectations;
pub(crate) mod parallel;
pub mod replay;
pub mod unstable;

pub use replay::{LogReader, READ_BUFFER};
