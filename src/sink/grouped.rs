//! `grouped`: PLACEHOLDER, being written.

use super::{Output, Sink};
use crate::model::Entry;
use std::io::{self, Write};

pub struct Grouped {
    out: Output,
}

impl Grouped {
    pub fn new(out: Output) -> Grouped {
        Grouped { out }
    }
}

impl Sink for Grouped {
    fn entry(&mut self, _e: &Entry) -> io::Result<()> {
        let _ = &self.out;
        todo!("grouped sink")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
