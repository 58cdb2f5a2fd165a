//! The progress bar on a terminal, and the terminal writers that share it.
//!
//! When stderr is a terminal, an indicatif bar there shows tests done out of
//! the total, the unexpected results so far, the time elapsed, and the tests
//! running now. Anything the tool prints to that terminal while the bar is
//! up goes through [`TermStdout`] or [`eprintln_above`], which hide the bar,
//! print whole lines and draw it again, so a line is never torn or mixed with
//! the bar. Off a terminal there is no bar at all and output is plain (CI logs
//! stay clean).

use crate::model::{Action, Entry};
use crate::sink::Sink;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeSet;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

/// The bar while it is up, for the writers that must not tear it.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn active() -> Option<ProgressBar> {
    ACTIVE.lock().ok().and_then(|g| g.clone())
}

/// Prints a line to stderr above the bar (or plainly when there is none).
pub fn eprintln_above(line: &str) {
    match active() {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// Whether a bar is wanted: stderr is a terminal.
pub fn wanted() -> bool {
    io::stderr().is_terminal()
}

/// Stdout for a sink: buffered, and written out in whole lines with the bar
/// hidden when the bar shares the terminal.
pub struct TermStdout {
    buf: Vec<u8>,
}

impl TermStdout {
    pub fn new() -> TermStdout {
        TermStdout {
            buf: Vec::with_capacity(8 * 1024),
        }
    }
}

impl Default for TermStdout {
    fn default() -> Self {
        TermStdout::new()
    }
}

impl Write for TermStdout {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        // Only whole lines go out, so the bar is never drawn inside one.
        let end = match self.buf.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None if self.buf.len() >= 64 * 1024 => self.buf.len(),
            None => return Ok(()),
        };
        let write = |buf: &[u8]| -> io::Result<()> {
            let mut out = io::stdout().lock();
            out.write_all(buf)?;
            out.flush()
        };
        let result = match active() {
            Some(bar) => bar.suspend(|| write(&self.buf[..end])),
            None => write(&self.buf[..end]),
        };
        self.buf.drain(..end);
        result
    }
}

impl Drop for TermStdout {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = io::stdout().lock().write_all(&self.buf);
            let _ = io::stdout().flush();
        }
    }
}

/// The bar, fed the stream like any sink.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    unexpected: u64,
    running: BTreeSet<String>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            bar: None,
            total: 0,
            done: 0,
            unexpected: 0,
            running: BTreeSet::new(),
        }
    }

    fn show(&mut self) {
        let bar = ProgressBar::with_draw_target(Some(self.total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed:>5} [{bar:24.cyan/blue}] {pos}/{len} {prefix:.red} {wide_msg:.dim}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        if let Ok(mut g) = ACTIVE.lock() {
            *g = Some(bar.clone());
        }
        self.bar = Some(bar);
    }

    fn update(&self) {
        let Some(bar) = &self.bar else { return };
        bar.set_position(self.done);
        if self.unexpected > 0 {
            bar.set_prefix(format!("{} unexpected", self.unexpected));
        }
        let mut names = self.running.iter();
        let mut msg = String::new();
        if let Some(first) = names.next() {
            msg.push_str("running ");
            msg.push_str(first);
            let more = self.running.len() - 1;
            if more > 0 {
                msg.push_str(&format!(" and {more} more"));
            }
        }
        bar.set_message(msg);
    }

    fn hide(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Ok(mut g) = ACTIVE.lock() {
            *g = None;
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Sink for Progress {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        match &e.action {
            Action::SuiteStart(s) => {
                self.total = s.tests.count() as u64;
                self.show();
            }
            Action::TestStart(t) => {
                self.running.insert(t.test.clone());
            }
            Action::TestEnd(t) => {
                self.running.remove(&t.test);
                self.done += 1;
                if t.is_unexpected() {
                    self.unexpected += 1;
                }
            }
            Action::SuiteEnd(_) => self.hide(),
            Action::TestStatus(_)
            | Action::ProcessOutput(_)
            | Action::Log(_)
            | Action::Crash(_)
            | Action::ProcessStart(_)
            | Action::ProcessExit(_)
            | Action::GroupStart(_)
            | Action::GroupEnd(_)
            | Action::AddSubsuite(_)
            | Action::Shutdown
            | Action::Other { .. } => return Ok(()),
        }
        self.update();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.hide();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_stdout_writes_whole_lines_only() {
        let mut w = TermStdout::new();
        w.write_all(b"partial").unwrap();
        w.flush().unwrap();
        assert_eq!(w.buf, b"partial", "no newline yet: nothing goes out");
        w.write_all(b" line\nnext").unwrap();
        w.flush().unwrap();
        assert_eq!(w.buf, b"next");
        w.buf.clear();
    }
}
