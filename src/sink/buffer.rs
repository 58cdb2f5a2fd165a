//! `--log-{mach,tbpl}-buffer N|UNLIMITED`: context held back and printed only
//! around a failure.
//!
//! Like mozlog's `BufferHandler`, a ring of the last N context entries
//! (`process_output`, `test_status` with expected results, `log` below ERROR)
//! is kept instead of written. What the buffer does with them is decided by
//! what comes next: an unexpected result (a `test_end` or `test_status` with
//! an unexpected status), a `crash`, or a `log` at ERROR or above writes the
//! buffered context first; an expected `test_end` drops it. Everything else
//! passes straight through.

use super::Sink;
use crate::model::{Action, Entry, Level};
use std::collections::VecDeque;
use std::io;

/// The size of the context buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Entries(usize),
    Unlimited,
}

impl Limit {
    /// Parses `N` or `UNLIMITED`.
    pub fn parse(s: &str) -> Option<Limit> {
        if s.eq_ignore_ascii_case("unlimited") {
            Some(Limit::Unlimited)
        } else {
            s.parse().ok().map(Limit::Entries)
        }
    }
}

/// Holds context entries back from the inner sink until a failure.
pub struct Buffered<S> {
    inner: S,
    limit: Limit,
    held: VecDeque<Entry>,
}

impl<S: Sink> Buffered<S> {
    pub fn new(inner: S, limit: Limit) -> Self {
        Buffered {
            inner,
            limit,
            held: VecDeque::new(),
        }
    }

    fn release(&mut self) -> io::Result<()> {
        while let Some(e) = self.held.pop_front() {
            self.inner.entry(&e)?;
        }
        Ok(())
    }
}

/// Whether an entry is context (held), a failure (releases the context), or
/// a passing result (drops it).
enum Kind {
    Context,
    Failure,
    Pass,
    Other,
}

fn kind(e: &Entry) -> Kind {
    match &e.action {
        Action::ProcessOutput(_) => Kind::Context,
        Action::Log(l) if l.level > Level::Error => Kind::Context,
        Action::Log(_) | Action::Crash(_) => Kind::Failure,
        Action::TestStatus(s)
            if s.expected.is_some() && !s.known_intermittent.contains(&s.status) =>
        {
            Kind::Failure
        }
        Action::TestStatus(_) => Kind::Context,
        Action::TestEnd(t) if t.is_unexpected() => Kind::Failure,
        Action::TestEnd(_) => Kind::Pass,
        Action::SuiteStart(_)
        | Action::SuiteEnd(_)
        | Action::TestStart(_)
        | Action::ProcessStart(_)
        | Action::ProcessExit(_)
        | Action::GroupStart(_)
        | Action::GroupEnd(_)
        | Action::AddSubsuite(_)
        | Action::Shutdown
        | Action::Other { .. } => Kind::Other,
    }
}

impl<S: Sink> Sink for Buffered<S> {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        match kind(e) {
            Kind::Context => {
                if self.limit == Limit::Entries(0) {
                    return Ok(());
                }
                if let Limit::Entries(n) = self.limit {
                    if self.held.len() == n {
                        self.held.pop_front();
                    }
                }
                self.held.push_back(e.clone());
                Ok(())
            }
            Kind::Failure => {
                self.release()?;
                self.inner.entry(e)
            }
            Kind::Pass => {
                self.held.clear();
                self.inner.entry(e)
            }
            Kind::Other => self.inner.entry(e),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.held.clear();
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, ProcessOutput, Status, TestEnd};
    use crate::sink::{raw::Raw, testing::SharedBuf};

    fn out(data: &str) -> Action {
        Action::ProcessOutput(ProcessOutput {
            process: "1".into(),
            data: data.into(),
            command: None,
            test: None,
            subsuite: None,
        })
    }

    #[test]
    fn context_shows_only_around_failures() {
        let buf = SharedBuf::default();
        let mut b = Buffered::new(Raw::new(Box::new(buf.clone())), Limit::Entries(2));
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        let mut fail = TestEnd::new("b", Status::Fail);
        fail.set_expected(Status::Pass);
        for a in [
            out("a1"),
            Action::TestEnd(TestEnd::new("a", Status::Pass)),
            out("b1"),
            out("b2"),
            out("b3"),
            Action::TestEnd(fail),
            out("c1"),
        ] {
            b.entry(&o.entry(1, a)).unwrap();
        }
        b.finish().unwrap();
        let text = buf.text();
        assert!(!text.contains("a1") && !text.contains("b1") && !text.contains("c1"));
        let b2 = text.find("b2").unwrap();
        let b3 = text.find("b3").unwrap();
        let end = text.find("\"status\":\"FAIL\"").unwrap();
        assert!(b2 < b3 && b3 < end);
        assert_eq!(Limit::parse("UNLIMITED"), Some(Limit::Unlimited));
        assert_eq!(Limit::parse("12"), Some(Limit::Entries(12)));
        assert_eq!(Limit::parse("x"), None);
    }
}
