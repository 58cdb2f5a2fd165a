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

pub mod mach;
pub mod raw;

use crate::cli::LogArgs;
use crate::error::Error;
use crate::model::{Action, Entry, Level};
use std::io::{self, Write};

/// One output format.
pub trait Sink: Send {
    /// Handles one entry.
    fn entry(&mut self, e: &Entry) -> io::Result<()>;

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
}

impl<S: Sink> Sink for LevelFilter<S> {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        if let Action::Log(l) = &e.action {
            // Level is ordered from CRITICAL (most severe) to DEBUG.
            if l.level > self.level {
                return Ok(());
            }
        }
        self.inner.entry(e)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }
}

/// A sink with the name the user gave it (`--log-raw run.log`), for messages.
struct Slot {
    label: String,
    sink: Box<dyn Sink>,
    failed: bool,
}

/// Feeds every sink the same entries in the same order.
#[derive(Default)]
pub struct FanOut {
    slots: Vec<Slot>,
    failures: Vec<String>,
}

impl FanOut {
    pub fn new() -> FanOut {
        FanOut::default()
    }

    /// Adds a sink; `label` names it in error messages (`--log-xunit out.xml`).
    pub fn add(&mut self, label: impl Into<String>, sink: Box<dyn Sink>) {
        self.slots.push(Slot {
            label: label.into(),
            sink,
            failed: false,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn fail(&mut self, i: usize, what: &str, err: io::Error) {
        let slot = &mut self.slots[i];
        slot.failed = true;
        let msg = format!("{}: {what} failed: {err}", slot.label);
        eprintln!("cargo-structlog: error: {msg}; the other outputs carry on");
        self.failures.push(msg);
    }

    /// Gives an entry to every sink still working.
    pub fn entry(&mut self, e: &Entry) {
        for i in 0..self.slots.len() {
            if self.slots[i].failed {
                continue;
            }
            if let Err(err) = self.slots[i].sink.entry(e) {
                self.fail(i, "writing", err);
            }
        }
    }

    /// Flushes every sink still working.
    pub fn flush(&mut self) {
        for i in 0..self.slots.len() {
            if self.slots[i].failed {
                continue;
            }
            if let Err(err) = self.slots[i].sink.flush() {
                self.fail(i, "writing", err);
            }
        }
    }

    /// Finishes every sink; returns the failures of the whole run.
    pub fn finish(&mut self) -> Vec<String> {
        for i in 0..self.slots.len() {
            if self.slots[i].failed {
                continue;
            }
            if let Err(err) = self.slots[i].sink.finish() {
                self.fail(i, "finishing", err);
            }
        }
        std::mem::take(&mut self.failures)
    }
}

/// Where a sink writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(std::path::PathBuf),
}

impl Destination {
    pub fn parse(s: &str) -> Destination {
        if s == "-" {
            Destination::Stdout
        } else {
            Destination::File(s.into())
        }
    }
}

/// A sink's writer: a buffered file, or stdout (which a progress bar on the
/// same terminal must not tear: see [`crate::progress`]).
pub type Output = Box<dyn Write + Send>;

/// Opens a destination for writing. Files are created (truncated) now, so an
/// unwritable path is found before anything runs.
pub fn open(dest: &Destination, stdout: impl FnOnce() -> Output) -> io::Result<Output> {
    match dest {
        Destination::Stdout => Ok(stdout()),
        Destination::File(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("directory {} does not exist", parent.display()),
                    ));
                }
            }
            let f = std::fs::File::create(path)?;
            Ok(Box::new(io::BufWriter::with_capacity(64 * 1024, f)))
        }
    }
}

/// Whether colors are wanted on a stream: `--color` (or `CARGO_TERM_COLOR`)
/// `always`/`never`, else a terminal without `NO_COLOR`.
pub fn use_color(pref: Option<&str>, is_terminal: bool) -> bool {
    let env = std::env::var("CARGO_TERM_COLOR").ok();
    match pref.or(env.as_deref()) {
        Some("always") => true,
        Some("never") => false,
        _ => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

fn parse_level(flag: &str, v: &Option<String>) -> Result<Option<Level>, Error> {
    match v {
        None => Ok(None),
        Some(s) => Level::parse(s).map(Some).ok_or_else(|| {
            Error::Usage(format!(
                "{flag}: unknown level `{s}` (one of CRITICAL, ERROR, WARNING, INFO, DEBUG)"
            ))
        }),
    }
}

/// Opens every sink the options name (mach on stdout when none is named).
/// Files are created now, so an unwritable path stops the run before it
/// starts; two sinks on stdout are a usage error.
pub fn setup(log: &LogArgs, color: Option<&str>) -> Result<FanOut, Error> {
    let mut specs: Vec<(&str, &str)> = Vec::new();
    for d in &log.log_raw {
        specs.push(("raw", d));
    }
    for d in &log.log_mach {
        specs.push(("mach", d));
    }
    if specs.is_empty() {
        specs.push(("mach", "-"));
    }
    let enabled = |f: &str| specs.iter().any(|(n, _)| *n == f);
    for (flag, set, format) in [
        ("--log-raw-level", log.log_raw_level.is_some(), "raw"),
        ("--log-mach-level", log.log_mach_level.is_some(), "mach"),
    ] {
        if set && !enabled(format) {
            return Err(Error::Usage(format!(
                "{flag} is given but no --log-{format} sink is enabled"
            )));
        }
    }
    let raw_level = parse_level("--log-raw-level", &log.log_raw_level)?.unwrap_or(Level::Info);
    let mach_level = parse_level("--log-mach-level", &log.log_mach_level)?.unwrap_or(Level::Info);
    let on_stdout: Vec<String> = specs
        .iter()
        .filter(|(_, d)| *d == "-")
        .map(|(n, _)| format!("--log-{n}"))
        .collect();
    if on_stdout.len() > 1 {
        return Err(Error::Usage(format!(
            "{} all write to stdout (`-`); give all but one of them a file",
            on_stdout.join(" and ")
        )));
    }
    let mut fan = FanOut::new();
    for (format, dest) in specs {
        let destination = Destination::parse(dest);
        let is_tty =
            destination == Destination::Stdout && io::IsTerminal::is_terminal(&io::stdout());
        let out =
            open(&destination, || Box::new(io::BufWriter::new(io::stdout()))).map_err(|e| {
                Error::Setup(format!(
                    "--log-{format} {dest}: cannot open for writing: {e}"
                ))
            })?;
        let sink: Box<dyn Sink> = match format {
            "raw" => Box::new(LevelFilter::new(raw::Raw::new(out), raw_level)),
            "mach" => Box::new(LevelFilter::new(
                mach::Mach::new(
                    out,
                    mach::MachOptions {
                        verbose: false,
                        color: use_color(color, is_tty),
                    },
                ),
                mach_level,
            )),
            other => unreachable!("unknown format {other}"),
        };
        fan.add(format!("--log-{format} {dest}"), sink);
    }
    Ok(fan)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for sink tests: a shared in-memory writer.
    use std::io;
    use std::sync::{Arc, Mutex};

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
    use super::*;
    use crate::model::{Log, Origin};

    struct Failing;
    impl Sink for Failing {
        fn entry(&mut self, _: &Entry) -> io::Result<()> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_sink_is_reported_once_and_others_continue() {
        let buf = testing::SharedBuf::default();
        let mut fan = FanOut::new();
        fan.add("--log-raw bad", Box::new(Failing));
        fan.add(
            "--log-raw good",
            Box::new(raw::Raw::new(Box::new(buf.clone()))),
        );
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        for i in 0..3 {
            fan.entry(&o.entry(
                i,
                Action::Log(Log {
                    level: Level::Info,
                    message: format!("m{i}"),
                    stack: None,
                }),
            ));
        }
        let failures = fan.finish();
        assert_eq!(failures.len(), 1);
        assert!(failures[0].contains("--log-raw bad") && failures[0].contains("disk full"));
        assert_eq!(buf.text().lines().count(), 3);
    }

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
