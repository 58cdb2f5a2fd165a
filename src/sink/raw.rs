//! `raw`: mozlog's raw format, one JSON object per line, as entries arrive.

use super::{Output, Sink};
use crate::model::Entry;
use std::io::{self, Write};

/// Writes every entry as a line of JSON.
pub struct Raw {
    out: Output,
}

impl Raw {
    pub fn new(out: Output) -> Raw {
        Raw { out }
    }
}

impl Sink for Raw {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        e.write_json(&mut self.out)?;
        self.out.write_all(b"\n")
    }

    fn entry_read(&mut self, _: &Entry, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)?;
        self.out.write_all(b"\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
