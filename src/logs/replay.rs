//! Logs as data: `cargo structlog format` and `cargo structlog merge`, and
//! the streaming readers of raw logs: [`LogReader`], sequential (`merge`,
//! `unstable`), and [`ParallelReader`], which parses on every core and
//! delivers the entries in order (`format`).
//!
//! # Input
//!
//! A raw log is mozlog's raw format: one JSON object per line, as our
//! `--log-raw` sink writes it or as any mozlog producer does (keys in any
//! order, a plain test list, a numeric `process`, ...: see
//! [`Entry::from_json`]). Lines are separated by `\n` (a `\r` before it is
//! ignored, as is a UTF-8 byte order mark on the first line). Blank lines
//! are skipped without a word. Any other line that is not an entry (not
//! JSON, a field of the wrong type, an unknown action or status, a required
//! field missing, a last line cut short) is *malformed*: it is reported on
//! stderr with its file and line number (`run.log:12: ...`) and skipped, or,
//! with `--strict`, ends the reading there.
//!
//! # `format`
//!
//! Reads the `--input` logs in order (`-` or no `--input` at all: stdin) and
//! gives every entry, unchanged, to the sinks that the `--log-<format>`
//! options name, with the same formatter options as a live run. A sink's
//! output is a function of its entries (times come from the log, the host
//! from `run_info`), so replaying the raw log of a run writes, byte for byte,
//! what the live run wrote. A log that ends without `suite_end` (a run cut
//! short) is still formatted: each sink completes its document when it
//! finishes, as after a live run that ended early, and a warning says so.
//! A raw output writes each line as it was read. With several outputs and
//! cores, the outputs are shared out over threads of their own, each given
//! the same batches of entries.
//!
//! # `merge`
//!
//! Merges the raw logs of shards (runs of parts of one suite) into the log
//! of one run: a single `suite_start` first, listing the union of the shards'
//! tests (groups of the same name are joined), with the shards' earliest
//! start time and the first log's `name`, `run_info`, `version_info`,
//! `device_info` and `extra`; `run_info` gains `shards`, the number of
//! shards merged (the sum of the inputs' own `shards` for merged logs). Then
//! every other entry of every log, in time order: a streaming k-way merge
//! that holds one entry per log, so each log must be in time order, as
//! written; entries of the same time keep the order of the logs on the
//! command line. Last, one `suite_end` at the latest of the logs' `suite_end`
//! times. A test that two logs list in their `suite_start` is an error that
//! names the test and both logs, unless `--allow-duplicates` (then the test
//! is listed once and all of its results are kept). A log of several
//! suites is merged as one: only the tests of its first `suite_start` are
//! listed (a warning says so), all of its other entries are kept, and its
//! latest `suite_end` counts. A log that ends without `suite_end` is warned
//! about; when no log has one, the merged run is left open as well (the
//! sinks complete their documents).
//!
//! # Exit status
//!
//! * 0: every line was read (a truncated log is only warned about). The
//!   replayed run's own results do not change it: a log full of failures
//!   formats with status 0, since the command did its job.
//! * 104 (`MALFORMED_INPUT`): malformed lines were skipped; their count is
//!   the last line on stderr.
//! * 2: `--strict` stopped at a malformed line, an input could not be read,
//!   or the command line is wrong (duplicated tests in `merge`, an output
//!   that is also an input, ...). When reading stops part way, the sinks
//!   still finish, so their documents are complete.
//! * 103 (`SINK_FAILED`): a sink failed while writing; this outranks all of
//!   the above.
//!
//! # Memory and speed
//!
//! Entries stream through: memory is what the sinks need (the html and xunit
//! sinks hold the results of the whole run; tbpl, raw and mach hold the tests
//! that are running), not the size of the log. Input is read through a
//! 1 MiB buffer into a line buffer that is reused, and the sinks are flushed
//! only when the input has nothing more ready (so `tail -f run.log | cargo
//! structlog format` shows entries as they come) and at the end, never per
//! entry.

use crate::error::{exit, Error};
use crate::model::{Action, Entry, ParseError, SuiteStart, TestGroups};
use crate::sink::{self, Destination, FanOut};
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::hash_map::Entry as Slot;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use super::parallel::{ParallelReader, ParsedBatch};

/// An entry read from a log, with its line number, or why the line holds none.
pub type LineEntry = (u64, Result<Entry, ParseError>);

/// The size of the input buffer: large, so that reading costs a system call
/// per MiB of log.
pub const READ_BUFFER: usize = 1 << 20;

/// A line buffer that grew beyond this for one huge line is given back, so
/// one 100 MB output line does not keep 100 MB for the rest of the log.
pub(super) const KEEP_LINE_CAPACITY: usize = 4 << 20;

/// How many malformed lines are described on stderr; the others are counted.
const SHOWN_MALFORMED: u64 = 100;

/// What stdin is called in messages.
pub const STDIN_LABEL: &str = "<stdin>";

/// A streaming reader of a raw log: one entry per non-blank line, with its
/// line number (1-based, counting blank lines). A line is parsed in the read
/// buffer when it lies whole in it, else gathered in a line buffer reused
/// from one line to the next.
///
/// ```
/// use cargo_structlog::logs::LogReader;
/// let log = b"{\"action\":\"shutdown\",\"time\":1}\n\nnot json\n";
/// let mut reader = LogReader::new(&log[..]);
/// let (n, first) = reader.next_entry().unwrap().unwrap();
/// assert_eq!((n, first.unwrap().action.name()), (1, "shutdown"));
/// let (n, second) = reader.next_entry().unwrap().unwrap();
/// assert!(n == 3 && second.is_err());
/// assert!(reader.next_entry().unwrap().is_none());
/// ```
pub struct LogReader<R> {
    inner: R,
    line: Vec<u8>,
    number: u64,
}

impl LogReader<BufReader<File>> {
    /// Opens a log file, with a large read buffer.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        Ok(LogReader::new(BufReader::with_capacity(READ_BUFFER, file)))
    }
}

impl<R: BufRead> LogReader<R> {
    /// A reader of `inner`. Give it a large buffer ([`READ_BUFFER`]), so
    /// that one read from the source brings many lines.
    pub fn new(inner: R) -> Self {
        LogReader {
            inner,
            line: Vec::with_capacity(4096),
            number: 0,
        }
    }

    /// The next non-blank line and the entry it holds (or why it holds
    /// none); `Ok(None)` at the end of the input. An `Err` is a failure to
    /// read, not a malformed line.
    pub fn next_entry(&mut self) -> io::Result<Option<(u64, Result<Entry, ParseError>)>> {
        loop {
            // Most lines lie whole in the read buffer: parsed where they
            // are, they are not copied to the line buffer first.
            let buf = fill(&mut self.inner)?;
            if buf.is_empty() {
                return Ok(None);
            }
            if let Some(i) = memchr::memchr(b'\n', buf) {
                self.number += 1;
                let parsed = line_text(self.number, &buf[..i]).map(Entry::from_json);
                self.inner.consume(i + 1);
                match parsed {
                    Some(entry) => return Ok(Some((self.number, entry))),
                    None => continue,
                }
            }
            if self.line.capacity() > KEEP_LINE_CAPACITY {
                self.line = Vec::with_capacity(4096);
            }
            self.line.clear();
            let read = self.read_line()?;
            if read == 0 {
                return Ok(None);
            }
            self.number += 1;
            if read > super::MAX_LINE {
                self.line = Vec::with_capacity(4096);
                return Ok(Some((self.number, Err(ParseError::TooLong(read as u64)))));
            }
            let parsed = if self.line.len() > KEEP_LINE_CAPACITY {
                parse_owned(self.number, std::mem::take(&mut self.line))
            } else {
                line_text(self.number, &self.line).map(Entry::from_json)
            };
            if let Some(entry) = parsed {
                return Ok(Some((self.number, entry)));
            }
        }
    }

    /// Reads up to and with the next newline into `self.line`, as
    /// `read_until` does, except that past [`KEEP_LINE_CAPACITY`] the buffer
    /// grows by that much at a time rather than doubling: a line of tens of
    /// megabytes (a large run's suite_start) then costs about its size, not
    /// twice it. Past [`super::MAX_LINE`] the rest of the line is read but
    /// not kept; the length returned says so.
    fn read_line(&mut self) -> io::Result<usize> {
        let mut total = 0;
        loop {
            let buf = fill(&mut self.inner)?;
            if buf.is_empty() {
                return Ok(total);
            }
            let (n, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if total + n > super::MAX_LINE {
                self.line = Vec::new();
            } else {
                if self.line.len() + n > self.line.capacity()
                    && self.line.len() >= KEEP_LINE_CAPACITY
                {
                    self.line.reserve_exact(n.max(KEEP_LINE_CAPACITY));
                }
                self.line.extend_from_slice(&buf[..n]);
            }
            self.inner.consume(n);
            total += n;
            if done {
                return Ok(total);
            }
        }
    }

    /// The number of the last line read (0 before the first).
    pub fn line_number(&self) -> u64 {
        self.number
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

impl<R: BufRead> Iterator for LogReader<R> {
    type Item = io::Result<(u64, Result<Entry, ParseError>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

/// `fill_buf`, retried when a signal interrupts it.
fn fill<R: BufRead>(inner: &mut R) -> io::Result<&[u8]> {
    loop {
        match inner.fill_buf() {
            Ok([]) => return Ok(&[]),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    // Input is buffered now: this reads nothing more.
    inner.fill_buf()
}

/// The text of line `number` to parse: trimmed, line 1 without a UTF-8
/// byte-order mark; `None` for a blank line.
pub(super) fn line_text(number: u64, line: &[u8]) -> Option<&[u8]> {
    let mut text = line.trim_ascii();
    if number == 1 {
        text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    }
    (!text.is_empty()).then_some(text)
}

/// Parses line `number`, a line of megabytes (a large run's suite_start),
/// into an entry that keeps the line itself rather than a copy of its test
/// list; `None` for a blank line.
pub(super) fn parse_owned(number: u64, mut line: Vec<u8>) -> Option<Result<Entry, ParseError>> {
    line_text(number, &line)?;
    if number == 1 && line.starts_with(b"\xef\xbb\xbf") {
        line.drain(..3);
    }
    Some(Entry::from_json_owned(line))
}

/// A parse error as one line of text: serde's position within the line
/// (`at line 1 column 40`) becomes a column, since the line number is the
/// file's.
pub fn describe(err: &ParseError) -> String {
    err.to_string().replace(" at line 1 column ", " at column ")
}

/// Malformed lines: reported as they are met, counted, and turned into the
/// exit status.
pub(crate) struct Malformed {
    strict: bool,
    /// Lines skipped.
    pub(crate) count: u64,
    /// True once `--strict` stopped at a line.
    pub(crate) stopped: bool,
}

impl Malformed {
    pub(crate) fn new(strict: bool) -> Malformed {
        Malformed {
            strict,
            count: 0,
            stopped: false,
        }
    }

    /// Reports a malformed line; true when reading must stop (`--strict`).
    pub(crate) fn report(&mut self, label: &str, line: u64, err: &ParseError) -> bool {
        let what = describe(err);
        if self.strict {
            eprintln!("{label}:{line}: {what}");
            eprintln!("error: stopped at the first malformed line (--strict)");
            self.stopped = true;
            return true;
        }
        self.count += 1;
        if self.count <= SHOWN_MALFORMED {
            eprintln!("{label}:{line}: {what} (line skipped)");
        }
        if self.count == SHOWN_MALFORMED {
            eprintln!("warning: further malformed lines are skipped and counted, not shown");
        }
        false
    }

    /// The closing line on stderr, when lines were skipped.
    pub(crate) fn summary(&self) {
        if self.count > 0 {
            let s = if self.count == 1 { "" } else { "s" };
            eprintln!("warning: {} malformed line{s} skipped", self.count);
        }
    }
}

/// The exit status of a `format` or `merge`.
fn status(sink_failed: bool, stopped: bool, malformed: &Malformed) -> i32 {
    exit::of_replay(sink_failed, stopped || malformed.stopped, malformed.count)
}

/// Refuses an output file that is also an input: opening the sinks would
/// truncate the log before it is read. Files are compared by what they are
/// (device and inode), so a hard link or another path to an input is caught.
pub(crate) fn check_not_overwritten(sinks: &sink::Config, inputs: &[&Path]) -> Result<(), Error> {
    let inputs: Vec<FileId> = inputs.iter().filter_map(|p| FileId::of(p)).collect();
    for (format, dest) in &sinks.outputs {
        if let Destination::File(path) = Destination::parse(dest) {
            if FileId::of(&path).is_some_and(|out| inputs.contains(&out)) {
                return Err(Error::Usage(format!(
                    "--log-{format} {dest}: this file is also an input; \
                     write the output to another file"
                )));
            }
        }
    }
    Ok(())
}

/// What a file is, whatever path names it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FileId(u64, u64);

impl FileId {
    pub(crate) fn of(path: &Path) -> Option<FileId> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(FileId(meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            let p = std::fs::canonicalize(path).ok()?;
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            p.hash(&mut h);
            Some(FileId(0, h.finish()))
        }
    }
}

/// Warns about a log that ends inside a suite.
fn warn_truncated(label: &str) {
    eprintln!(
        "warning: {label}: the log ends without suite_end (a run cut short?); \
         the outputs are completed as for a run that ended early"
    );
}

/// The sinks of a replay: fed on this thread, or, with several sinks and
/// cores, shared out into groups of about equal work, each fed on a thread
/// of its own the same batches of entries.
enum Feed {
    Here(FanOut),
    Threads(Vec<SinkThread>),
}

struct SinkThread {
    to: std::sync::mpsc::SyncSender<ToSinks>,
    thread: std::thread::JoinHandle<Vec<String>>,
    all_failed: Arc<AtomicBool>,
}

enum ToSinks {
    /// These entries of the batch (all of them entries, none malformed).
    Entries(Arc<ParsedBatch>, std::ops::Range<usize>),
    Flush,
}

impl Feed {
    fn new(fan: FanOut, threads: usize) -> Feed {
        if fan.len() < 2 || threads < 2 {
            return Feed::Here(fan);
        }
        let parts = fan.split(threads);
        Feed::Threads(
            parts
                .into_iter()
                .map(|mut fan| {
                    // A few batches ahead at most: memory stays bounded.
                    let (to, from) = std::sync::mpsc::sync_channel::<ToSinks>(4);
                    let all_failed = Arc::new(AtomicBool::new(false));
                    let failed = all_failed.clone();
                    let thread = std::thread::spawn(move || {
                        for message in from {
                            match message {
                                ToSinks::Entries(batch, range) => feed(&mut fan, &batch, range),
                                ToSinks::Flush => fan.flush(),
                            }
                            failed.store(fan.all_failed(), Ordering::Relaxed);
                        }
                        fan.finish()
                    });
                    SinkThread {
                        to,
                        thread,
                        all_failed,
                    }
                })
                .collect(),
        )
    }

    fn entries(&mut self, batch: &Arc<ParsedBatch>, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        match self {
            Feed::Here(fan) => feed(fan, batch, range),
            Feed::Threads(threads) => {
                for t in threads {
                    let _ = t.to.send(ToSinks::Entries(batch.clone(), range.clone()));
                }
            }
        }
    }

    fn flush(&mut self) {
        match self {
            Feed::Here(fan) => fan.flush(),
            Feed::Threads(threads) => {
                for t in threads {
                    let _ = t.to.send(ToSinks::Flush);
                }
            }
        }
    }

    fn all_failed(&self) -> bool {
        match self {
            Feed::Here(fan) => fan.all_failed(),
            Feed::Threads(threads) => threads.iter().all(|t| t.all_failed.load(Ordering::Relaxed)),
        }
    }

    /// Finishes every sink; returns the failures of the whole run.
    fn finish(self) -> Vec<String> {
        match self {
            Feed::Here(mut fan) => fan.finish(),
            Feed::Threads(threads) => {
                let mut failures = Vec::new();
                for t in threads {
                    drop(t.to);
                    match t.thread.join() {
                        Ok(f) => failures.extend(f),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                failures
            }
        }
    }
}

/// Gives the entries of `range` of a batch to the sinks.
fn feed(fan: &mut FanOut, batch: &ParsedBatch, range: std::ops::Range<usize>) {
    for i in range {
        if let (_, Ok(entry), text) = batch.get(i) {
            fan.entry_read(entry, text);
        }
    }
}

/// Gives the entries of one input to the sinks. Returns false when reading
/// must stop (`--strict`, or a read error, reported here).
fn replay_one(
    label: &str,
    source: &mut ParallelReader,
    fan: &mut Feed,
    malformed: &mut Malformed,
) -> bool {
    let mut suite_open = false;
    let mut unflushed = false;
    let mut entries: u64 = 0;
    loop {
        // Flush before waiting for input (a pipe from a live producer), so
        // that downstream sees everything so far.
        if unflushed && !source.ready() {
            fan.flush();
        }
        // `format big.log | head`: once every output has failed there is no
        // one left to read the rest.
        if fan.all_failed() {
            return false;
        }
        match source.next_batch() {
            Ok(None) => break,
            Ok(Some(batch)) => {
                let batch = Arc::new(batch);
                // The entries go in runs between malformed lines: with
                // `--strict`, none after the first malformed line.
                let mut from = 0;
                for (i, (line, entry, _)) in batch.iter().enumerate() {
                    match entry {
                        Ok(entry) => {
                            match entry.action {
                                Action::SuiteStart(_) => suite_open = true,
                                Action::SuiteEnd(_) => suite_open = false,
                                _ => {}
                            }
                            entries += 1;
                        }
                        Err(err) => {
                            fan.entries(&batch, from..i);
                            from = i + 1;
                            if malformed.report(label, line, err) {
                                return false;
                            }
                        }
                    }
                }
                fan.entries(&batch, from..batch.len());
                unflushed = true;
            }
            Err(e) => {
                eprintln!(
                    "error: {label}: cannot read after line {}: {e}",
                    source.line_number()
                );
                return false;
            }
        }
    }
    if suite_open {
        warn_truncated(label);
    } else if entries == 0 && source.line_number() == 0 {
        eprintln!("warning: {label}: the log is empty");
    }
    true
}

/// A replay holds little and frees much (every entry, once formatted): its
/// memory is to stay bounded whatever the log's size. With transparent huge
/// pages, each stretch of heap freed and used again can come back as a whole
/// 2 MiB page; ordinary pages keep a replay's peak 5 to 20 MB lower. Only
/// the replay commands ask for them (a `--log-exec` command inherits it);
/// a live run leaves its test processes as `cargo test` would.
fn use_small_pages() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
}

/// `cargo structlog format`: replays raw logs (`-` for stdin, the default)
/// into sinks (see the module doc); `strict` stops at a malformed line.
pub fn format(inputs: &[String], strict: bool, sinks: &sink::Config) -> Result<i32, Error> {
    use_small_pages();
    let stdin_by_default = inputs.is_empty();
    let inputs: Vec<String> = if inputs.is_empty() {
        vec!["-".to_string()]
    } else {
        inputs.to_vec()
    };
    let files: Vec<&Path> = inputs.iter().filter(|i| *i != "-").map(Path::new).collect();
    check_not_overwritten(sinks, &files)?;
    // Every input is opened before any output is created: a wrong path
    // leaves nothing behind.
    let mut sources: Vec<(String, Box<dyn Read + Send>)> = Vec::new();
    for input in &inputs {
        if input == "-" {
            if stdin_by_default && io::IsTerminal::is_terminal(&io::stdin()) {
                eprintln!(
                    "note: reading a raw log from the terminal (end it with Ctrl-D, \
                     or give --input FILE)"
                );
            }
            sources.push((STDIN_LABEL.to_string(), Box::new(io::stdin())));
        } else {
            let file = File::open(input)
                .map_err(|e| Error::caused(format!("--input {input}: cannot open"), e))?;
            sources.push((input.clone(), Box::new(file)));
        }
    }
    let fan = sink::setup(sinks)?;
    let mut malformed = Malformed::new(strict);
    let mut stopped = false;
    let threads = ParallelReader::threads_for_machine();
    let mut fan = Feed::new(fan, threads);
    for (label, input) in sources {
        let mut source = ParallelReader::new(input, threads);
        if !replay_one(&label, &mut source, &mut fan, &mut malformed) {
            stopped = true;
            break;
        }
    }
    let failures = fan.finish();
    malformed.summary();
    Ok(status(!failures.is_empty(), stopped, &malformed))
}

/// One log being merged.
struct Shard {
    label: String,
    reader: LogReader<BufReader<File>>,
    /// The entry waiting for its turn.
    next: Option<Entry>,
    suite_starts: u32,
    /// The log's latest `suite_end`.
    suite_end: Option<Entry>,
}

impl Shard {
    /// Reads the next entry to merge into `next` (none at the end);
    /// `suite_start` and `suite_end` are kept aside. False when reading must
    /// stop (`--strict`, or a read error, reported here).
    fn advance(&mut self, malformed: &mut Malformed) -> bool {
        self.next = None;
        loop {
            match self.reader.next_entry() {
                Ok(None) => return true,
                Ok(Some((line, Ok(entry)))) => match entry.action {
                    Action::SuiteStart(_) => {
                        self.suite_starts += 1;
                        if self.suite_starts == 2 {
                            eprintln!(
                                "warning: {}:{line}: a second suite_start: the merged run lists \
                                 the tests of each log's first suite only; the entries that \
                                 follow are merged all the same",
                                self.label
                            );
                        }
                    }
                    Action::SuiteEnd(_) => {
                        if self.suite_end.as_ref().is_none_or(|s| s.time <= entry.time) {
                            self.suite_end = Some(entry);
                        }
                    }
                    _ => {
                        self.next = Some(entry);
                        return true;
                    }
                },
                Ok(Some((line, Err(err)))) => {
                    if malformed.report(&self.label, line, &err) {
                        return false;
                    }
                }
                Err(e) => {
                    eprintln!(
                        "error: {}: cannot read after line {}: {e}",
                        self.label,
                        self.reader.line_number()
                    );
                    return false;
                }
            }
        }
    }
}

/// The first `suite_start` of a log, if any (malformed lines are passed
/// over here: the merge itself reports them).
fn first_suite_start(path: &Path, label: &str) -> Result<Option<Entry>, Error> {
    let mut reader =
        LogReader::open(path).map_err(|e| Error::caused(format!("{label}: cannot open"), e))?;
    loop {
        match reader.next_entry() {
            Ok(None) => return Ok(None),
            Ok(Some((_, Ok(e)))) if matches!(e.action, Action::SuiteStart(_)) => {
                return Ok(Some(e))
            }
            Ok(Some(_)) => {}
            Err(e) => {
                return Err(Error::caused(
                    format!("{label}: cannot read after line {}", reader.line_number()),
                    e,
                ))
            }
        }
    }
}

/// A test listed by two logs.
struct Duplicate {
    test: String,
    first: usize,
    second: usize,
}

/// The merged `suite_start` (see the module doc), or the tests listed twice.
fn merged_start(
    starts: &[(usize, Entry)],
    allow_duplicates: bool,
) -> Result<Entry, Vec<Duplicate>> {
    // The logs' test lists, taken apart once (a log read back keeps them as JSON).
    let listed: Vec<TestGroups> = starts
        .iter()
        .map(|(_, e)| match &e.action {
            Action::SuiteStart(s) => s.tests.groups().into_owned(),
            _ => unreachable!("only suite_start entries are given"),
        })
        .collect();
    let mut owner: HashMap<&str, usize> = HashMap::new();
    let mut duplicates = Vec::new();
    let mut tests = TestGroups::new();
    // Groups that lost a test to an earlier log: dropped if left empty.
    let mut thinned: Vec<&str> = Vec::new();
    let mut shards: u64 = 0;
    let mut out: Option<(Entry, SuiteStart)> = None;
    for ((log, entry), groups) in starts.iter().zip(&listed) {
        let Action::SuiteStart(start) = &entry.action else {
            unreachable!("only suite_start entries are given")
        };
        shards += start
            .run_info
            .as_ref()
            .and_then(|i| i.get("shards"))
            .and_then(Value::as_u64)
            .unwrap_or(1);
        for (group, list) in groups {
            let merged = tests.entry(group.clone()).or_default();
            for test in list {
                match owner.entry(test.as_str()) {
                    Slot::Vacant(v) => {
                        v.insert(*log);
                        merged.push(test.clone());
                    }
                    // A log may list a test twice itself: not merge's business.
                    Slot::Occupied(o) if o.get() == log => merged.push(test.clone()),
                    Slot::Occupied(o) => {
                        thinned.push(group);
                        if !allow_duplicates {
                            duplicates.push(Duplicate {
                                test: test.clone(),
                                first: *o.get(),
                                second: *log,
                            });
                        }
                    }
                }
            }
        }
        match &mut out {
            None => out = Some((entry.clone(), start.clone())),
            Some((first, _)) => first.time = first.time.min(entry.time),
        }
    }
    if !duplicates.is_empty() {
        return Err(duplicates);
    }
    for group in thinned {
        if tests.get(group).is_some_and(Vec::is_empty) {
            tests.remove(group);
        }
    }
    let (mut entry, mut start) = out.expect("at least one suite_start");
    start.tests = tests.into();
    start
        .run_info
        .get_or_insert_with(Default::default)
        .insert("shards".into(), Value::from(shards));
    entry.action = Action::SuiteStart(start);
    Ok(entry)
}

/// `cargo structlog merge`: merges shard logs into one run (see the module
/// doc); `allow_duplicates` keeps every result of a test listed in several
/// logs, `strict` stops at a malformed line.
pub fn merge(
    logs: &[PathBuf],
    allow_duplicates: bool,
    strict: bool,
    sinks: &sink::Config,
) -> Result<i32, Error> {
    use_small_pages();
    // Every shard's suite_start is held until all are read (their union
    // comes first): memory freed meanwhile goes back at once.
    let _eager = crate::memory::EagerRelease::new();
    let paths: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
    check_not_overwritten(sinks, &paths)?;
    let labels: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();

    // First the headers: the merged suite_start comes before any entry, and
    // duplicated tests stop the merge before any output is created.
    let mut starts = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        match first_suite_start(path, &labels[i])? {
            Some(e) => starts.push((i, e)),
            None => eprintln!(
                "warning: {}: no suite_start: its entries are merged, but none of its tests \
                 is listed",
                labels[i]
            ),
        }
    }
    if starts.is_empty() {
        return Err(Error::Usage(
            "none of the logs has a suite_start: there is no run to merge".into(),
        ));
    }
    let header = merged_start(&starts, allow_duplicates).map_err(|dups| {
        let mut msg = String::new();
        for d in dups.iter().take(10) {
            msg.push_str(&format!(
                "test `{}` is listed in both {} and {}\n",
                d.test, labels[d.first], labels[d.second]
            ));
        }
        if dups.len() > 10 {
            msg.push_str(&format!(
                "... and {} more duplicated tests\n",
                dups.len() - 10
            ));
        }
        msg.push_str(
            "the logs overlap: merge the logs of disjoint shards, or pass --allow-duplicates \
             to keep every result of such tests",
        );
        Error::Usage(msg)
    })?;

    let mut shards = Vec::with_capacity(paths.len());
    for (path, label) in paths.iter().zip(&labels) {
        let reader =
            LogReader::open(path).map_err(|e| Error::caused(format!("{label}: cannot open"), e))?;
        shards.push(Shard {
            label: label.clone(),
            reader,
            next: None,
            suite_starts: 0,
            suite_end: None,
        });
    }

    let mut fan = sink::setup(sinks)?;
    let mut malformed = Malformed::new(strict);
    let mut stopped = false;
    let mut last_time = header.time;
    fan.entry(&header);
    drop(header);

    // A k-way merge on (time, log): the lowest time first, ties in the
    // order of the logs; one entry per log is held.
    let mut heap = BinaryHeap::with_capacity(shards.len());
    for (i, shard) in shards.iter_mut().enumerate() {
        if !shard.advance(&mut malformed) {
            stopped = true;
            break;
        }
        if let Some(e) = &shard.next {
            heap.push(Reverse((e.time, i)));
        }
    }
    while !stopped {
        let Some(Reverse((_, i))) = heap.pop() else {
            break;
        };
        let shard = &mut shards[i];
        let entry = shard.next.take().expect("a queued log has an entry");
        last_time = last_time.max(entry.time);
        fan.entry(&entry);
        if !shard.advance(&mut malformed) {
            stopped = true;
        } else if let Some(e) = &shard.next {
            heap.push(Reverse((e.time, i)));
        }
    }

    if !stopped {
        for shard in &shards {
            if shard.suite_starts > 0 && shard.suite_end.is_none() {
                warn_truncated(&shard.label);
            }
        }
        // The latest suite_end closes the merged run; it comes last, so its
        // time is at least that of every entry before it.
        let end = shards
            .iter_mut()
            .filter_map(|s| s.suite_end.take())
            .reduce(|a, b| if b.time >= a.time { b } else { a });
        match end {
            Some(mut end) => {
                end.time = end.time.max(last_time);
                fan.entry(&end);
            }
            None => eprintln!(
                "warning: no log has a suite_end: the merged run is left open, as the logs are"
            ),
        }
    }
    let failures = fan.finish();
    malformed.summary();
    Ok(status(!failures.is_empty(), stopped, &malformed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, SuiteStart};

    fn read_all(text: &[u8]) -> Vec<(u64, Result<String, String>)> {
        LogReader::new(text)
            .map(|r| {
                let (n, e) = r.unwrap();
                (
                    n,
                    e.map(|e| e.action.name().to_string())
                        .map_err(|e| describe(&e)),
                )
            })
            .collect()
    }

    #[test]
    fn lines_are_numbered_and_blank_ones_skipped() {
        let log = b"\xef\xbb\xbf{\"action\":\"shutdown\",\"time\":1}\r\n\n   \n\
            {\"action\":\"suite_end\",\"time\":2}\n{\"action\":\"shutdown\",\"ti";
        let got = read_all(log);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], (1, Ok("shutdown".into())));
        assert_eq!(got[1], (4, Ok("suite_end".into())));
        assert_eq!(got[2].0, 5);
        let err = got[2].1.as_ref().unwrap_err();
        assert!(err.contains("EOF") && err.contains("at column"), "{err}");
        assert!(!err.contains("line 1"), "{err}");
    }

    #[test]
    fn the_line_buffer_is_reused() {
        let line = b"{\"action\":\"shutdown\",\"time\":1}\n".repeat(100);
        let mut r = LogReader::new(&line[..]);
        r.next_entry().unwrap();
        let ptr = r.line.as_ptr();
        while r.next_entry().unwrap().is_some() {}
        assert_eq!(r.line.as_ptr(), ptr);
        assert_eq!(r.line_number(), 100);
    }

    #[test]
    fn a_huge_line_does_not_keep_its_buffer() {
        let mut log = format!(
            "{{\"action\":\"log\",\"time\":1,\"level\":\"INFO\",\"message\":\"{}\"}}\n",
            "x".repeat(KEEP_LINE_CAPACITY + 10)
        )
        .into_bytes();
        log.extend_from_slice(b"{\"action\":\"shutdown\",\"time\":2}\n");
        let mut r = LogReader::new(&log[..]);
        assert!(r.next_entry().unwrap().unwrap().1.is_ok());
        assert!(r.next_entry().unwrap().unwrap().1.is_ok());
        assert!(r.line.capacity() <= KEEP_LINE_CAPACITY);
    }

    fn start(tests: &[(&str, &[&str])], time: u64, shards: Option<u64>) -> Entry {
        let o = Origin {
            thread: "main".into(),
            pid: 1,
            source: "s".into(),
        };
        let mut info = serde_json::Map::new();
        info.insert("os".into(), "linux".into());
        if let Some(n) = shards {
            info.insert("shards".into(), n.into());
        }
        o.entry(
            time,
            Action::SuiteStart(SuiteStart {
                tests: tests
                    .iter()
                    .map(|(g, t)| (g.to_string(), t.iter().map(|s| s.to_string()).collect()))
                    .collect::<crate::model::TestGroups>()
                    .into(),
                run_info: Some(info),
                ..Default::default()
            }),
        )
    }

    #[test]
    fn suite_starts_merge_their_tests() {
        let starts = vec![
            (
                0,
                start(&[("a", &["a 1", "a 2"]), ("c", &["c 1"])], 20, None),
            ),
            (1, start(&[("b", &["b 1"]), ("c", &["c 2"])], 10, Some(2))),
        ];
        let e = merged_start(&starts, false).ok().unwrap();
        assert_eq!(e.time, 10);
        let Action::SuiteStart(s) = e.action else {
            panic!()
        };
        let tests = s.tests.groups();
        assert_eq!(tests["a"], ["a 1", "a 2"]);
        assert_eq!(tests["b"], ["b 1"]);
        assert_eq!(tests["c"], ["c 1", "c 2"]);
        let info = s.run_info.unwrap();
        assert_eq!(info["shards"], 3);
        assert_eq!(info["os"], "linux");
    }

    #[test]
    fn a_test_in_two_logs_is_a_duplicate() {
        let starts = vec![
            (0, start(&[("a", &["a 1", "a 2"])], 1, None)),
            (2, start(&[("other", &["a 2"])], 1, None)),
        ];
        let Err(dups) = merged_start(&starts, false) else {
            panic!("duplicates accepted")
        };
        assert_eq!(dups.len(), 1);
        assert_eq!(
            (dups[0].test.as_str(), dups[0].first, dups[0].second),
            ("a 2", 0, 2)
        );
        let e = merged_start(&starts, true).ok().unwrap();
        let Action::SuiteStart(s) = e.action else {
            panic!()
        };
        let tests = s.tests.groups();
        assert_eq!(tests["a"], ["a 1", "a 2"]);
        assert!(!tests.contains_key("other"));
    }

    #[test]
    fn the_exit_status_ranks_sink_failures_first() {
        let mut m = Malformed::new(false);
        assert_eq!(status(false, false, &m), exit::OK);
        m.count = 3;
        assert_eq!(status(false, false, &m), exit::MALFORMED_INPUT);
        assert_eq!(status(false, true, &m), exit::USAGE);
        assert_eq!(status(true, true, &m), exit::SINK_FAILED);
    }
}
