//! `tbpl`: PLACEHOLDER, being written.

use super::{Output, Sink};
use crate::model::Entry;
use std::io::{self, Write};

pub struct Tbpl {
    out: Output,
    compact: bool,
}

impl Tbpl {
    pub fn new(out: Output, compact: bool) -> Tbpl {
        Tbpl { out, compact }
    }
}

impl Sink for Tbpl {
    fn entry(&mut self, _e: &Entry) -> io::Result<()> {
        let _ = &self.out;
        todo!("tbpl sink")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
