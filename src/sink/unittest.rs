//! `unittest`: PLACEHOLDER, being written.

use super::{Output, Sink};
use crate::model::Entry;
use std::io::{self, Write};

pub struct Unittest {
    out: Output,
}

impl Unittest {
    pub fn new(out: Output) -> Unittest {
        Unittest { out }
    }
}

impl Sink for Unittest {
    fn entry(&mut self, _e: &Entry) -> io::Result<()> {
        let _ = &self.out;
        todo!("unittest sink")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
