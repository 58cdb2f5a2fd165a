//! Logs as data: replaying raw logs into any sinks, merging the logs of
//! shards, and finding the tests whose results differ between runs.

pub(crate) mod expectations;
pub(crate) mod parallel;
pub(crate) mod records;
pub(crate) mod replay;
pub(crate) mod unstable;

pub use replay::{LogReader, READ_BUFFER};

pub use crate::model::MAX_LINE;
