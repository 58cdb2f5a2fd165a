//! `xunit`: PLACEHOLDER, being written.

use super::{Output, Sink};
use crate::model::Entry;
use std::io::{self, Write};

/// Which schema the document follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flavor {
    #[default]
    Jenkins,
    Ant,
    Extended,
}

impl Flavor {
    pub fn parse(s: &str) -> Option<Flavor> {
        match s {
            "jenkins" => Some(Flavor::Jenkins),
            "ant" => Some(Flavor::Ant),
            "extended" => Some(Flavor::Extended),
            _ => None,
        }
    }
}

/// How expected failures / unexpected passes are written (LLDB's MAPMODE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapMode {
    Success,
    Failure,
    Ignore,
    Passthru,
}

impl MapMode {
    pub fn parse(s: &str) -> Option<MapMode> {
        match s {
            "success" => Some(MapMode::Success),
            "failure" => Some(MapMode::Failure),
            "ignore" => Some(MapMode::Ignore),
            "passthru" => Some(MapMode::Passthru),
            _ => None,
        }
    }
}

/// Options of the xunit format.
#[derive(Clone, Debug)]
pub struct XunitOptions {
    pub flavor: Flavor,
    pub xfail: MapMode,
    pub xpass: MapMode,
    /// Most bytes of captured output kept per test.
    pub max_output: usize,
}

impl Default for XunitOptions {
    fn default() -> Self {
        XunitOptions {
            flavor: Flavor::Jenkins,
            xfail: MapMode::Success,
            xpass: MapMode::Failure,
            max_output: 64 * 1024,
        }
    }
}

pub struct Xunit {
    out: Output,
    opts: XunitOptions,
}

impl Xunit {
    pub fn new(out: Output, opts: XunitOptions) -> Xunit {
        Xunit { out, opts }
    }
}

impl Sink for Xunit {
    fn entry(&mut self, _e: &Entry) -> io::Result<()> {
        let _ = &self.opts;
        todo!("xunit sink")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
