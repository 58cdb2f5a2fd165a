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
//! `tcp://HOST:PORT` or `unix:PATH` (the tool connects: [`socket`]); a file
//! whose name starts with `tcp://` or `unix:` is written `./unix:name`.
//! `--log-exec CMD` adds a command that reads the raw stream ([`exec`]).
//! A socket that cannot be connected, like a command that ends too early,
//! fails its sink (exit status 103) and the run goes on: a collector that is
//! down must not stop a CI run. A file that cannot be created, a malformed
//! address, or a command that cannot start is a setup error (exit status 2),
//! found before anything is built.

pub mod buffer;
mod config;
pub mod errorsummary;
pub mod exec;
pub mod github;
pub mod grouped;
pub mod html;
pub(crate) mod index;
pub mod mach;
pub mod progress;
pub mod raw;
pub mod socket;
pub mod tbpl;
pub mod unittest;
pub mod xunit;

use crate::error::Error;
use crate::model::{Action, Entry, Level};
pub use config::Config;
use std::io::{self, Write};
use std::time::{Duration, Instant};

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

/// A sink with the name the user gave it (`--log-raw run.log`), for messages.
struct Slot {
    label: String,
    sink: Box<dyn Sink>,
    failed: bool,
    /// It writes where no other sink does (a file, a socket, a command),
    /// so it may finish on a thread of its own.
    own_output: bool,
    /// It writes a regular file: in a live run, written out at most every
    /// [`FILE_FLUSH_INTERVAL`] (see [`FanOut::flush_live`]).
    paced: bool,
}

/// How often, at most, a live run writes out what it holds for regular
/// files. A run of tiny tests wakes up every few milliseconds with a batch
/// of lines; writing each file out each time was a write system call per
/// file per wake-up (about 190 per file on the benchmark's 5,000 tiny tests
/// with batches a millisecond apart), for a reader that cannot tell 100 ms
/// apart.
pub const FILE_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Feeds every sink the same entries in the same order.
#[derive(Default)]
pub struct FanOut {
    slots: Vec<Slot>,
    failures: Vec<String>,
    /// When the paced sinks were last written out in a live run.
    paced_at: Option<Instant>,
    /// Whether entries came since.
    paced_pending: bool,
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
            own_output: false,
            paced: false,
        });
    }

    /// Adds a sink that writes a regular file of its own: as
    /// [`FanOut::add_own`], and paced in a live run.
    pub fn add_file(&mut self, label: impl Into<String>, sink: Box<dyn Sink>) {
        self.add_own(label, sink);
        if let Some(slot) = self.slots.last_mut() {
            slot.paced = true;
        }
    }

    /// Adds a sink that writes where no other does (a file, a socket, a
    /// command): it finishes alongside the others rather than after them.
    pub fn add_own(&mut self, label: impl Into<String>, sink: Box<dyn Sink>) {
        self.add(label, sink);
        if let Some(slot) = self.slots.last_mut() {
            slot.own_output = true;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The number of sinks.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Shares the sinks out into at most `parts` fan-outs of about equal
    /// work, each sink's order kept; failures so far go with the first.
    pub fn split(self, parts: usize) -> Vec<FanOut> {
        let parts = parts.clamp(1, self.slots.len().max(1));
        let mut out: Vec<(u32, FanOut)> = (0..parts).map(|_| (0, FanOut::new())).collect();
        out[0].1.failures = self.failures;
        let mut slots: Vec<(usize, Slot)> = self.slots.into_iter().enumerate().collect();
        // The costliest first, each to the part with the least work so far.
        slots.sort_by_key(|(i, s)| (std::cmp::Reverse(cost(&s.label)), *i));
        let mut placed: Vec<Vec<(usize, Slot)>> = (0..parts).map(|_| Vec::new()).collect();
        for (i, slot) in slots {
            let p = (0..parts).min_by_key(|&p| (out[p].0, p)).unwrap_or(0);
            out[p].0 += cost(&slot.label);
            placed[p].push((i, slot));
        }
        for (p, mut slots) in placed.into_iter().enumerate() {
            slots.sort_by_key(|(i, _)| *i);
            out[p].1.slots = slots.into_iter().map(|(_, s)| s).collect();
        }
        out.into_iter().map(|(_, f)| f).collect()
    }

    /// True when every sink has failed: nothing more can be written.
    pub fn all_failed(&self) -> bool {
        !self.slots.is_empty() && self.slots.iter().all(|s| s.failed)
    }

    /// Records a sink that failed before its first entry (a socket that
    /// cannot be connected): reported once now, and counted among the
    /// failures of the run, while the other sinks carry on.
    pub fn add_failed(&mut self, label: impl Into<String>, what: &str, err: io::Error) {
        let msg = format!("{}: {what} failed: {err}", label.into());
        crate::sink::progress::eprintln_above(&format!(
            "cargo-structlog: error: {msg}; the other outputs carry on"
        ));
        self.failures.push(msg);
    }

    fn fail(&mut self, i: usize, what: &str, err: io::Error) {
        let slot = &mut self.slots[i];
        slot.failed = true;
        let msg = format!("{}: {what} failed: {err}", slot.label);
        crate::sink::progress::eprintln_above(&format!(
            "cargo-structlog: error: {msg}; the other outputs carry on"
        ));
        self.failures.push(msg);
    }

    /// Gives an entry to every sink still working.
    pub fn entry(&mut self, e: &Entry) {
        self.paced_pending = true;
        self.each("writing", |sink| sink.entry(e));
    }

    /// Gives every sink still working an entry read from a raw log, with
    /// its line as read (see [`Sink::entry_read`]); an empty `line` is
    /// none.
    pub fn entry_read(&mut self, e: &Entry, line: &[u8]) {
        self.paced_pending = true;
        if line.is_empty() {
            self.entry(e);
        } else {
            self.each("writing", |sink| sink.entry_read(e, line));
        }
    }

    /// Calls `f` on every sink still working; a sink it fails on is
    /// reported (as failing at `what`) and given nothing more.
    fn each(&mut self, what: &str, mut f: impl FnMut(&mut dyn Sink) -> io::Result<()>) {
        for i in 0..self.slots.len() {
            if self.slots[i].failed {
                continue;
            }
            if let Err(err) = f(self.slots[i].sink.as_mut()) {
                self.fail(i, what, err);
            }
        }
    }

    /// Flushes every sink still working.
    pub fn flush(&mut self) {
        self.each("writing", |sink| sink.flush());
    }

    /// Flushes in a live run, after a batch of entries: every sink a reader
    /// may be watching (the terminal, a pipe, a socket, a command) at once,
    /// regular files at most every [`FILE_FLUSH_INTERVAL`]. Returns when
    /// the files are due, if something is held for them: the caller calls
    /// again by then, however quiet the run is.
    pub fn flush_live(&mut self) -> Option<Instant> {
        self.flush_live_at(Instant::now())
    }

    fn flush_live_at(&mut self, now: Instant) -> Option<Instant> {
        let due = self
            .paced_at
            .is_none_or(|t| now.saturating_duration_since(t) >= FILE_FLUSH_INTERVAL);
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            if slot.failed || (slot.paced && !due) {
                continue;
            }
            if let Err(err) = slot.sink.flush() {
                self.fail(i, "writing", err);
            }
        }
        if due {
            self.paced_at = Some(now);
            self.paced_pending = false;
        }
        let paced = self.slots.iter().any(|s| s.paced && !s.failed);
        (paced && self.paced_pending)
            .then(|| self.paced_at.map(|t| t + FILE_FLUSH_INTERVAL))
            .flatten()
    }

    /// Finishes every sink; returns the failures of the whole run. The
    /// sinks that complete a document at the end (xunit, html) take a few
    /// milliseconds each: those with outputs of their own finish on threads
    /// of their own, and are freed there (a large document's records take
    /// a while to free too), the others (stdout, the progress bar on the
    /// terminal) one after the other, in their order. Failures are reported
    /// in the sinks' order.
    pub fn finish(&mut self) -> Vec<String> {
        // One sink alone finishes here.
        let spread = self.slots.iter().filter(|s| !s.failed).count() > 1;
        let mut results: Vec<(usize, io::Result<()>)> = std::thread::scope(|scope| {
            let mut own = Vec::new();
            let mut shared = Vec::new();
            // The last first: the formats that make a document at the end
            // (html, xunit) come last in the sinks' order, and take longest.
            for (i, slot) in self.slots.iter_mut().enumerate().rev() {
                if slot.failed {
                    continue;
                }
                if slot.own_output && spread {
                    own.push((
                        i,
                        scope.spawn(move || {
                            let done = slot.sink.finish();
                            // What it holds (a document's records) is freed
                            // here too, beside the others' finishing.
                            drop(std::mem::replace(&mut slot.sink, Box::new(Finished)));
                            done
                        }),
                    ));
                } else {
                    shared.push((i, slot));
                }
            }
            let mut results: Vec<_> = shared
                .into_iter()
                .rev()
                .map(|(i, slot)| (i, slot.sink.finish()))
                .collect();
            results.extend(own.into_iter().map(|(i, thread)| {
                let done = thread
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("finishing panicked")));
                (i, done)
            }));
            results
        });
        results.sort_by_key(|(i, _)| *i);
        for (i, result) in results {
            if let Err(err) = result {
                self.fail(i, "finishing", err);
            }
        }
        std::mem::take(&mut self.failures)
    }
}

/// What stands in for a sink finished and freed on a thread of its own.
struct Finished;

impl Sink for Finished {
    fn entry(&mut self, _: &Entry) -> io::Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink's work per entry, roughly, relative to the others (from a
/// replay of a large log), for [`FanOut::split`]; known by its label.
fn cost(label: &str) -> u32 {
    let format = label
        .strip_prefix("--log-")
        .and_then(|l| l.split(' ').next())
        .unwrap_or("");
    match format {
        "html" | "xunit" | "mach" => 4,
        "tbpl" | "github" => 2,
        _ => 1,
    }
}

/// Where a sink writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(std::path::PathBuf),
    /// `tcp://HOST:PORT`: connected to, never listened on.
    Tcp(String),
    /// `unix:PATH`: a Unix stream socket, connected to.
    Unix(std::path::PathBuf),
}

impl Destination {
    /// Reads a `--log-<format>` value: `-`, `tcp://HOST:PORT`, `unix:PATH`,
    /// or a file.
    pub fn parse(s: &str) -> Destination {
        if s == "-" {
            Destination::Stdout
        } else if let Some(addr) = s.strip_prefix("tcp://") {
            Destination::Tcp(addr.to_string())
        } else if let Some(path) = s.strip_prefix("unix:") {
            Destination::Unix(path.into())
        } else {
            Destination::File(s.into())
        }
    }

    /// Whether the destination is a connection, whose failure to connect
    /// fails the sink but not the run.
    pub fn is_socket(&self) -> bool {
        matches!(self, Destination::Tcp(_) | Destination::Unix(_))
    }

    /// Checks what can be checked before connecting: the address's syntax.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Destination::Tcp(addr) => socket::check_tcp(addr),
            Destination::Unix(path) if path.as_os_str().is_empty() => {
                Err("`unix:` names no socket path".to_string())
            }
            Destination::Stdout | Destination::File(_) | Destination::Unix(_) => Ok(()),
        }
    }
}

/// A sink's writer: a buffered file, or stdout (which a progress bar on the
/// same terminal must not tear: see [`crate::sink::progress`]).
pub type Output = Box<dyn Write + Send>;

/// Opens a destination for writing. Files are created (truncated) now, so an
/// unwritable path is found before anything runs; sockets are connected now,
/// waiting at most `connect_timeout`, and written with a time limit
/// ([`socket::WRITE_TIMEOUT`]) so that a peer that stops reading cannot
/// hold the run.
pub fn open(
    dest: &Destination,
    connect_timeout: Duration,
    stdout: impl FnOnce() -> Output,
) -> io::Result<Output> {
    match dest {
        Destination::Stdout => Ok(stdout()),
        Destination::Tcp(addr) => {
            let s = socket::connect_tcp(addr, connect_timeout)?;
            Ok(Box::new(socket::Timed::new(
                s,
                socket::WRITE_TIMEOUT,
                "the peer",
            )))
        }
        Destination::Unix(path) => {
            let s = socket::connect_unix(path, connect_timeout)?;
            Ok(Box::new(socket::Timed::new(
                s,
                socket::WRITE_TIMEOUT,
                "the peer",
            )))
        }
        Destination::File(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("directory {} does not exist", parent.display()),
                    ));
                }
            }
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                // Emptied below, off the run's way.
                .truncate(false)
                .open(path)?;
            Ok(Box::new(io::BufWriter::with_capacity(
                64 * 1024,
                Emptied::new(f)?,
            )))
        }
    }
}

/// A file opened for writing from its start, whose earlier content (an
/// earlier run's output) is dropped on another thread, before anything is
/// written to it: truncating a file of a few megabytes costs the kernel a
/// millisecond or more of freeing its pages, which need not hold up the
/// start of a run. Opening without truncating still finds an unwritable
/// path at once.
struct Emptied {
    file: std::fs::File,
    emptying: Option<std::sync::mpsc::Receiver<io::Result<()>>>,
}

/// A file to cut to nothing, and where to say it is done.
type Emptying = (std::fs::File, std::sync::mpsc::Sender<io::Result<()>>);

/// The thread that empties files for [`Emptied`], one file after another:
/// started with the first file to empty and kept for the process, so that
/// opening a run's outputs starts one thread rather than one per file.
fn emptier() -> io::Result<&'static std::sync::mpsc::Sender<Emptying>> {
    static EMPTIER: std::sync::OnceLock<std::sync::mpsc::Sender<Emptying>> =
        std::sync::OnceLock::new();
    if let Some(tx) = EMPTIER.get() {
        return Ok(tx);
    }
    let (tx, rx) = std::sync::mpsc::channel::<Emptying>();
    std::thread::Builder::new()
        .name("emptier".into())
        .spawn(move || {
            for (file, done) in rx {
                let _ = done.send(file.set_len(0));
            }
        })?;
    // Two threads may race here: the loser's emptier ends at once.
    Ok(EMPTIER.get_or_init(|| tx))
}

impl Emptied {
    fn new(file: std::fs::File) -> io::Result<Emptied> {
        let meta = file.metadata()?;
        // Only a regular file holds anything to drop (a device, a pipe or a
        // fifo would refuse to be cut).
        let emptying = if meta.is_file() && meta.len() > 0 {
            let (done, emptied) = std::sync::mpsc::channel();
            emptier()?
                .send((file.try_clone()?, done))
                .map_err(|_| io::Error::other("the emptying thread is gone"))?;
            Some(emptied)
        } else {
            None
        };
        Ok(Emptied { file, emptying })
    }

    /// Waits until the earlier content is gone.
    fn emptied(&mut self) -> io::Result<()> {
        match self.emptying.take() {
            None => Ok(()),
            Some(emptied) => emptied
                .recv()
                .unwrap_or_else(|_| Err(io::Error::other("emptying the file failed"))),
        }
    }
}

impl Write for Emptied {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.emptied()?;
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emptied()?;
        self.file.flush()
    }
}

impl Drop for Emptied {
    fn drop(&mut self) {
        // A file nothing was written to is left empty all the same.
        let _ = self.emptied();
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

/// The formats, as `--log-<name>` spells them.
pub const FORMATS: &[&str] = &[
    "raw",
    "mach",
    "tbpl",
    "errorsummary",
    "unittest",
    "grouped",
    "html",
    "xunit",
    "github",
];

/// Wraps a sink in a context buffer when one is asked for.
fn buffered<S: Sink + 'static>(sink: S, limit: Option<buffer::Limit>) -> Box<dyn Sink> {
    match limit {
        Some(l) => Box::new(buffer::Buffered::new(sink, l)),
        None => Box::new(sink),
    }
}

/// Builds a format's sink on an opened output. `summary` is the job summary
/// file (`$GITHUB_STEP_SUMMARY`), given to the first github sink only, so
/// that it gets one summary however many github outputs there are.
fn make(
    format: &str,
    out: Output,
    opts: &Config,
    color: bool,
    summary: &mut Option<Output>,
) -> Box<dyn Sink> {
    match format {
        "raw" => Box::new(LevelFilter::new(raw::Raw::new(out), opts.raw_level)),
        "mach" => buffered(
            LevelFilter::new(
                mach::Mach::new(
                    out,
                    mach::MachOptions {
                        verbose: opts.mach_verbose,
                        color,
                    },
                ),
                opts.mach_level,
            ),
            opts.mach_buffer,
        ),
        "tbpl" => buffered(
            LevelFilter::new(tbpl::Tbpl::new(out, opts.tbpl_compact), opts.tbpl_level),
            opts.tbpl_buffer,
        ),
        "errorsummary" => Box::new(errorsummary::ErrorSummary::new(out)),
        "unittest" => Box::new(unittest::Unittest::new(out)),
        "grouped" => Box::new(grouped::Grouped::new(out)),
        "html" => Box::new(html::Html::new(out)),
        "xunit" => Box::new(xunit::Xunit::new(out, opts.xunit.clone())),
        "github" => Box::new(github::Github::new(out, summary.take())),
        other => unreachable!("unknown format {other}"),
    }
}

/// Opens the job summary for the github sinks: `$GITHUB_STEP_SUMMARY`
/// (appended to, as GitHub expects) when it is set and a github output is
/// asked for. The variable is read here, not in the sink, so that the sink's
/// output depends on its entries alone.
fn step_summary(specs: &[(&'static str, String)]) -> Result<Option<Output>, Error> {
    if !specs.iter().any(|(f, _)| *f == "github") {
        return Ok(None);
    }
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| {
            Error::Setup(format!(
                "GITHUB_STEP_SUMMARY={}: cannot open for appending: {e}",
                std::path::Path::new(&path).display()
            ))
        })?;
    Ok(Some(Box::new(io::BufWriter::new(f))))
}

/// Opens every sink the configuration names. Files are created now, so an
/// unwritable path stops the run before it starts; two sinks on stdout are
/// a usage error. Sockets are connected and `--log-exec` commands started
/// now, before the build; a socket that cannot be connected is reported and
/// counted as a failed sink, and the run goes on.
pub fn setup(opts: &Config) -> Result<FanOut, Error> {
    let specs = &opts.outputs;
    let color = opts.color.as_deref();
    let on_stdout: Vec<String> = specs
        .iter()
        .filter(|(_, d)| d == "-")
        .map(|(n, _)| format!("--log-{n}"))
        .collect();
    if on_stdout.len() > 1 {
        return Err(Error::Usage(format!(
            "{} all write to stdout (`-`); give all but one of them a file",
            on_stdout.join(" and ")
        )));
    }
    for (format, dest) in specs {
        Destination::parse(dest)
            .check()
            .map_err(|e| Error::Usage(format!("--log-{format} {dest}: {e}")))?;
    }
    let mut summary = step_summary(specs)?;
    let mut fan = FanOut::new();
    for (format, dest) in specs {
        let destination = Destination::parse(dest);
        let label = format!("--log-{format} {dest}");
        let is_tty =
            destination == Destination::Stdout && io::IsTerminal::is_terminal(&io::stdout());
        let opened = open(&destination, opts.connect_timeout, || {
            if is_tty {
                // Shares the terminal with the progress bar.
                Box::new(crate::sink::progress::TermStdout::new())
            } else {
                Box::new(io::BufWriter::new(io::stdout()))
            }
        });
        let out = match opened {
            Ok(out) => out,
            Err(e) if destination.is_socket() => {
                fan.add_failed(label, "connecting", e);
                continue;
            }
            Err(e) => {
                return Err(Error::Setup(format!(
                    "{label}: cannot open for writing: {e}"
                )))
            }
        };
        let sink = make(format, out, opts, use_color(color, is_tty), &mut summary);
        // A regular file or a socket is this sink's own; stdout, and a
        // device such as /dev/stdout or a terminal, may be another's too.
        let file = match &destination {
            Destination::File(path) => std::fs::metadata(path).is_ok_and(|m| m.is_file()),
            _ => false,
        };
        if file {
            fan.add_file(label, sink);
        } else if destination.is_socket() {
            fan.add_own(label, sink);
        } else {
            fan.add(label, sink);
        }
    }
    let mut commands = Vec::new();
    for cmd in &opts.exec {
        let sink = exec::Exec::start(cmd, opts.raw_level, socket::WRITE_TIMEOUT, exec::GRACE)
            .map_err(|e| Error::Setup(format!("--log-exec {cmd}: cannot start: {e}")))?;
        commands.push((cmd, sink));
    }
    // All of them get the same short while to show they cannot run.
    let until = std::time::Instant::now() + exec::START_PROBE;
    for (cmd, mut sink) in commands {
        sink.check_started(until)
            .map_err(|e| Error::Setup(format!("--log-exec {cmd}: cannot start: {e}")))?;
        fan.add_own(format!("--log-exec {cmd}"), Box::new(sink));
    }
    Ok(fan)
}

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
    use super::*;
    use crate::model::{Log, Origin};

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
    struct Meeting {
        arrived: std::sync::mpsc::Sender<()>,
        other: std::sync::mpsc::Receiver<()>,
        fail: bool,
    }
    impl Sink for Meeting {
        fn entry(&mut self, _: &Entry) -> io::Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn finish(&mut self) -> io::Result<()> {
            let _ = self.arrived.send(());
            self.other
                .recv_timeout(Duration::from_secs(10))
                .map_err(|_| io::Error::other("finished alone"))?;
            if self.fail {
                return Err(io::Error::other("disk full"));
            }
            Ok(())
        }
    }

    #[test]
    fn sinks_with_outputs_of_their_own_finish_together() {
        let (a_tx, a_rx) = std::sync::mpsc::channel();
        let (b_tx, b_rx) = std::sync::mpsc::channel();
        let mut fan = FanOut::new();
        let meeting = |arrived, other| Meeting {
            arrived,
            other,
            fail: true,
        };
        fan.add_own("--log-xunit a.xml", Box::new(meeting(a_tx, b_rx)));
        fan.add_own("--log-html b.html", Box::new(meeting(b_tx, a_rx)));
        // Both finished at once (each waited for the other), and their
        // failures come in the sinks' order.
        let failures = fan.finish();
        assert_eq!(
            failures,
            [
                "--log-xunit a.xml: finishing failed: disk full",
                "--log-html b.html: finishing failed: disk full"
            ]
        );
    }

    /// A sink that tells on which thread it was freed.
    struct Freed(
        std::sync::mpsc::Sender<(&'static str, std::thread::ThreadId)>,
        &'static str,
    );
    impl Sink for Freed {
        fn entry(&mut self, _: &Entry) -> io::Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Drop for Freed {
        fn drop(&mut self) {
            let _ = self.0.send((self.1, std::thread::current().id()));
        }
    }

    #[test]
    fn sinks_with_outputs_of_their_own_are_freed_where_they_finish() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut fan = FanOut::new();
        fan.add("--log-mach -", Box::new(Freed(tx.clone(), "stdout")));
        fan.add_own("--log-xunit a.xml", Box::new(Freed(tx.clone(), "xunit")));
        fan.add_own("--log-html b.html", Box::new(Freed(tx, "html")));
        assert!(fan.finish().is_empty());
        let here = std::thread::current().id();
        let mut freed: Vec<_> = rx.try_iter().collect();
        freed.sort_by_key(|(name, _)| *name);
        assert_eq!(freed.len(), 2, "{freed:?}");
        assert_eq!((freed[0].0, freed[1].0), ("html", "xunit"));
        assert!(freed.iter().all(|(_, thread)| *thread != here));
        // The sink that shares its output is freed with the fan-out.
        drop(fan);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [("stdout", here)]);
    }

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
    fn a_live_run_writes_files_out_at_a_pace_and_the_rest_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        struct Counting(Arc<AtomicUsize>);
        impl Sink for Counting {
            fn entry(&mut self, _: &Entry) -> io::Result<()> {
                Ok(())
            }
            fn flush(&mut self) -> io::Result<()> {
                self.0.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
        let (file, pipe) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut fan = FanOut::new();
        fan.add_file("--log-raw run.log", Box::new(Counting(file.clone())));
        fan.add("--log-mach -", Box::new(Counting(pipe.clone())));
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        let e = o.entry(
            0,
            Action::Log(Log {
                level: Level::Info,
                message: "m".into(),
                stack: None,
            }),
        );
        let count = |c: &Arc<AtomicUsize>| c.load(Ordering::SeqCst);
        let t0 = Instant::now();
        // The first batch goes out everywhere.
        fan.entry(&e);
        assert_eq!(fan.flush_live_at(t0), None);
        assert_eq!((count(&file), count(&pipe)), (1, 1));
        // Within the interval the file waits; the caller learns until when.
        fan.entry(&e);
        let at = t0 + Duration::from_millis(30);
        assert_eq!(fan.flush_live_at(at), Some(t0 + FILE_FLUSH_INTERVAL));
        assert_eq!((count(&file), count(&pipe)), (1, 2));
        // Nothing new since: still due then.
        let at = t0 + Duration::from_millis(60);
        assert_eq!(fan.flush_live_at(at), Some(t0 + FILE_FLUSH_INTERVAL));
        assert_eq!((count(&file), count(&pipe)), (1, 3));
        // Then it goes out, and nothing is held.
        assert_eq!(fan.flush_live_at(t0 + FILE_FLUSH_INTERVAL), None);
        assert_eq!((count(&file), count(&pipe)), (2, 4));
        // A replay's flush writes everything, at once.
        fan.entry(&e);
        fan.flush();
        assert_eq!((count(&file), count(&pipe)), (3, 5));
    }

    #[test]
    fn split_shares_out_the_work_keeping_each_parts_order() {
        struct Nothing;
        impl Sink for Nothing {
            fn entry(&mut self, _: &Entry) -> io::Result<()> {
                Ok(())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut fan = FanOut::new();
        fan.add_failed(
            "--log-raw tcp://x:1",
            "connecting",
            io::Error::other("refused"),
        );
        for label in [
            "--log-raw a",
            "--log-html b",
            "--log-unittest c",
            "--log-xunit d",
            "--log-mach -",
            "--log-tbpl e",
        ] {
            fan.add(label, Box::new(Nothing));
        }
        let parts = fan.split(2);
        let labels: Vec<Vec<&str>> = parts
            .iter()
            .map(|f| f.slots.iter().map(|s| s.label.as_str()).collect())
            .collect();
        // html 4 + mach 4 | xunit 4 + tbpl 2 + raw 1 + unittest 1, each in
        // the order given.
        assert_eq!(
            labels,
            [
                vec!["--log-html b", "--log-mach -"],
                vec![
                    "--log-raw a",
                    "--log-unittest c",
                    "--log-xunit d",
                    "--log-tbpl e"
                ],
            ]
        );
        assert_eq!(parts[0].failures.len(), 1);
        assert!(parts[1].failures.is_empty());
        // Never more parts than sinks.
        let mut one = FanOut::new();
        one.add("--log-raw a", Box::new(Nothing));
        assert_eq!(one.split(4).len(), 1);
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
