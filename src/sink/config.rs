//! What a command's sinks are, decided before any is opened: the outputs,
//! the `--log-exec` commands, and the formatters' options.

use super::{buffer, socket, xunit};
use crate::model::Level;
use std::time::Duration;

/// The sinks of a run or a replay.
#[derive(Clone, Debug)]
pub struct Config {
    /// `(format, destination)`, in the order of [`super::FORMATS`]; a
    /// destination is a file, `-` for stdout, `tcp://HOST:PORT` or `unix:PATH`.
    pub outputs: Vec<(&'static str, String)>,
    /// Commands started by `sh` that read the raw stream on their stdin.
    pub exec: Vec<String>,
    /// How long a socket destination may take to accept.
    pub connect_timeout: Duration,
    pub raw_level: Level,
    pub mach_level: Level,
    pub tbpl_level: Level,
    pub mach_verbose: bool,
    pub tbpl_compact: bool,
    pub mach_buffer: Option<buffer::Limit>,
    pub tbpl_buffer: Option<buffer::Limit>,
    pub xunit: xunit::XunitOptions,
    /// `always`, `never` or `auto` (the terminal decides).
    pub color: Option<String>,
    /// A test slower than this is named by the summaries (mach, html)
    /// whatever its rank.
    pub slow_threshold_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            outputs: Vec::new(),
            exec: Vec::new(),
            connect_timeout: socket::CONNECT_TIMEOUT,
            raw_level: Level::Info,
            mach_level: Level::Info,
            tbpl_level: Level::Info,
            mach_verbose: false,
            tbpl_compact: false,
            mach_buffer: None,
            tbpl_buffer: None,
            xunit: xunit::XunitOptions::default(),
            color: None,
            slow_threshold_ms: super::slowest::THRESHOLD_MS,
        }
    }
}
