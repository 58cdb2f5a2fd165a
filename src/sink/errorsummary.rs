//! `errorsummary`: PLACEHOLDER, being written.

use super::{Output, Sink};
use crate::model::Entry;
use std::io::{self, Write};

pub struct ErrorSummary {
    out: Output,
}

impl ErrorSummary {
    pub fn new(out: Output) -> ErrorSummary {
        ErrorSummary { out }
    }
}

impl Sink for ErrorSummary {
    fn entry(&mut self, _e: &Entry) -> io::Result<()> {
        let _ = &self.out;
        todo!("errorsummary sink")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
