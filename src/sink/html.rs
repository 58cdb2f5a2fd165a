//! `html`: PLACEHOLDER, being written.

use super::{Output, Sink};
use crate::model::Entry;
use std::io::{self, Write};

pub struct Html {
    out: Output,
}

impl Html {
    pub fn new(out: Output) -> Html {
        Html { out }
    }
}

impl Sink for Html {
    fn entry(&mut self, _e: &Entry) -> io::Result<()> {
        let _ = &self.out;
        todo!("html sink")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
