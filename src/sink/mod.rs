//! Output formats ("sinks") and the fan-out that feeds them.
//!
//! Every format implements [`Sink`]: it receives the entries of the one
//! stream, in order, and writes to an `io::Write` it was given (only the CLI
//! layer opens files or stdout; tests pass a `Vec<u8>`). A format's output is
//! a function of the entries and its options alone (times come from the
//! entries, the host from `run_info`), so replaying a raw log reproduces what
//! the live run wrote.
//!
//! [`FanOut`] gives each entry to every sink; a sink that fails is reported
//! once and dropped, and the others carry on.
//!
//! A format's destination (`--log-<format> DEST`) is a file, `-` (stdout),
//! `tcp://HOST:PORT` or `unix:PATH` (the tool connects: `socket`); a file
//! whose name starts with `tcp://` or `unix:` is written `./unix:name`.
//! `--log-exec CMD` adds a command that reads the raw stream (`exec`).
//! A socket that cannot be connected, like a command that ends too early,
//! fails its sink (exit status 103) and the run goes on: a collector that is
//! down must not stop a CI run. A file that cannot be created, a malformed
//! address, or a command that cannot start is a setup error (exit status 2),
//! found before anything is built.

pub(crate) mod buffer;
mod cap;
mod common;
mod config;
mod dest;
pub(crate) mod errorsummary;
pub(crate) mod exec;
mod fanout;
pub(crate) mod github;
pub(crate) mod grouped;
pub mod html;
pub(crate) mod index;
mod setup;
pub(crate) mod slowest;

pub use dest::{open, Destination};
pub use fanout::{FanOut, FILE_FLUSH_INTERVAL};
pub(crate) use setup::make;
pub use setup::{setup, use_color, FORMATS};
pub(crate) mod mach;
pub(crate) mod progress;
pub(crate) mod raw;
pub(crate) mod socket;
pub(crate) mod tbpl;
pub(crate) mod unittest;
pub mod xunit;

use crate::model::{Action, Entry, Level};
pub use config::Config;
use std::io::{self, Write};

/// One output format.
pub trait Sink: Send {
    /// Handles one entry.
    fn entry(&mut self, e: &Entry) -> io::Result<()>;

    /// Handles one entry read from a raw log, `line` being its JSON as
    /// read: a sink that writes the raw format writes the line as it is
    /// rather than the entry serialized again (replaying is then no more
    /// than reading), and keeps any field the entry does not model.
    fn entry_read(&mut self, e: &Entry, line: &[u8]) -> io::Result<()> {
        let _ = line;
        self.entry(e)
    }

    /// Writes out what is buffered (called after each batch in a live run).
    fn flush(&mut self) -> io::Result<()>;

    /// The stream is over (after `suite_end`, or early): complete the document
    /// and flush. Called once.
    fn finish(&mut self) -> io::Result<()> {
        self.flush()
    }
}

/// Drops `log` entries below a level (mozlog's `LogLevelFilter`); every other
/// entry passes.
pub struct LevelFilter<S> {
    inner: S,
    level: Level,
}

impl<S: Sink> LevelFilter<S> {
    pub fn new(inner: S, level: Level) -> Self {
        LevelFilter { inner, level }
    }

    fn passes(&self, e: &Entry) -> bool {
        match &e.action {
            // Level is ordered from CRITICAL (most severe) to DEBUG.
            Action::Log(l) => l.level <= self.level,
            _ => true,
        }
    }
}

impl<S: Sink> Sink for LevelFilter<S> {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        if self.passes(e) {
            self.inner.entry(e)
        } else {
            Ok(())
        }
    }

    fn entry_read(&mut self, e: &Entry, line: &[u8]) -> io::Result<()> {
        if self.passes(e) {
            self.inner.entry_read(e, line)
        } else {
            Ok(())
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }
}

/// A sink's writer: a buffered file, or stdout (which a progress bar on the
/// same terminal must not tear: see `progress`).
pub type Output = Box<dyn Write + Send>;

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for sink tests: recorded streams from `fixtures/streams`, and a
    //! shared in-memory writer.
    use super::{Output, Sink};
    use crate::model::{Action, Entry};
    use std::io;
    use std::sync::{Arc, Mutex};

    /// The text that `fixtures/streams/statuses.jsonl` carries in place of a
    /// 1 MiB output line (kept out of the repository and of snapshots).
    pub const BIG_OUTPUT_PLACEHOLDER: &str = "BIG-OUTPUT-PLACEHOLDER";

    /// A recorded stream, `fixtures/streams/<name>.jsonl`. With `big`, the
    /// placeholder output line becomes 1 MiB of text.
    pub fn stream(name: &str, big: bool) -> Vec<Entry> {
        let path = format!(
            "{}/fixtures/streams/{name}.jsonl",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.lines()
            .map(|l| {
                let mut e = Entry::from_json(l.as_bytes())
                    .unwrap_or_else(|err| panic!("{path}: {err}: {l}"));
                if let Action::ProcessOutput(p) = &mut e.action {
                    if big && p.data == BIG_OUTPUT_PLACEHOLDER {
                        p.data = "0123456789abcdef".repeat(65536);
                    }
                }
                e
            })
            .collect()
    }

    /// Runs entries through a sink built on an in-memory output; the output as text.
    pub fn render<S: Sink>(entries: &[Entry], make: impl FnOnce(Output) -> S) -> String {
        let buf = SharedBuf::default();
        let mut sink = make(Box::new(buf.clone()));
        for e in entries {
            sink.entry(e).unwrap();
        }
        sink.finish().unwrap();
        buf.text()
    }

    /// A `Write` whose bytes can be read after the sink that owns it is done.
    #[derive(Clone, Default)]
    pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

    impl SharedBuf {
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl io::Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::dest::*;

    use super::*;
    use crate::model::{Log, Origin};
    use std::time::Duration;

    #[test]
    fn a_file_keeps_nothing_of_what_it_held_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let dest = Destination::File(path.clone());
        let open = || open(&dest, Duration::from_secs(1), || unreachable!()).unwrap();
        std::fs::write(&path, "an earlier run's output, longer than this one's\n").unwrap();
        let mut out = open();
        out.write_all(b"new\n").unwrap();
        drop(out);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        // Opened and never written: emptied all the same.
        drop(open());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        // Devices are written as they are.
        let mut null = super::open(
            &Destination::File("/dev/null".into()),
            Duration::from_secs(1),
            || unreachable!(),
        )
        .unwrap();
        null.write_all(b"x").unwrap();
        null.flush().unwrap();
    }

    #[test]
    fn several_files_opened_at_once_keep_nothing_of_before() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<_> = (0..6)
            .map(|i| dir.path().join(format!("{i}.log")))
            .collect();
        for (i, path) in paths.iter().enumerate() {
            // From empty to a few megabytes.
            std::fs::write(path, "earlier\n".repeat(i * 100_000)).unwrap();
        }
        let mut outs: Vec<_> = paths
            .iter()
            .map(|p| {
                open(
                    &Destination::File(p.clone()),
                    Duration::from_secs(1),
                    || unreachable!(),
                )
                .unwrap()
            })
            .collect();
        for (i, out) in outs.iter_mut().enumerate().rev() {
            writeln!(out, "run {i}").unwrap();
        }
        drop(outs);
        for (i, path) in paths.iter().enumerate() {
            assert_eq!(std::fs::read_to_string(path).unwrap(), format!("run {i}\n"));
        }
    }

    /// A sink whose finish waits until another has started finishing.
    #[test]
    fn level_filter_drops_lower_levels_only() {
        let buf = testing::SharedBuf::default();
        let mut f = LevelFilter::new(raw::Raw::new(Box::new(buf.clone())), Level::Warning);
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        for level in [Level::Debug, Level::Info, Level::Warning, Level::Error] {
            f.entry(&o.entry(
                1,
                Action::Log(Log {
                    level,
                    message: level.to_string(),
                    stack: None,
                }),
            ))
            .unwrap();
        }
        f.finish().unwrap();
        let text = buf.text();
        assert!(!text.contains("DEBUG") && !text.contains("\"INFO\""));
        assert!(text.contains("WARNING") && text.contains("ERROR"));
    }
}
