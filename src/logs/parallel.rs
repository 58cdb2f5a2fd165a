//! Parsing a raw log on several threads, the entries delivered in order.
//!
//! Parsing is most of a replay's work: spread over the machine's cores, it
//! leaves the formatting thread the sinks' work alone. One thread reads the
//! input and cuts it into chunks of whole lines; each chunk goes to the next
//! parser in turn, and the reader of [`ParallelReader`] takes the parsed
//! chunks back from the parsers in that same turn, so the order of the log
//! is kept without any sorting. A chunk is given back to the parser that
//! made it once formatted: its entries are freed by the thread that
//! allocated them, which is what the allocator does fastest.
//!
//! Memory stays bounded: each parser holds at most one chunk waiting and one
//! parsed batch ahead.

use super::replay::{line_text, parse_owned, LineEntry, KEEP_LINE_CAPACITY};
use crate::memory::EagerRelease;
use crate::model::{Entry, ParseError};
use std::io::{self, Read};
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::thread;

/// The size a chunk of whole lines is cut at (it ends at the first newline
/// past it): small enough to stay in the processor's cache while parsed.
const CHUNK: usize = 64 << 10;

/// At most this many parsers.
const MAX_PARSERS: usize = 4;

/// Lines of the input, for a parser.
struct Chunk {
    /// Whole lines (the last one may lack its newline at the end of input).
    data: Vec<u8>,
    /// The number of the chunk's first line.
    first_line: u64,
    /// For a line longer than a chunk: memory goes back at once until the
    /// line is freed.
    eager: Option<EagerRelease>,
    /// A line longer than [`super::MAX_LINE`], of this many bytes: not kept
    /// (`data` is empty), it is reported as such.
    too_long: Option<u64>,
}

/// What goes from the input reader to a parser, in the turn of chunks.
enum ToParser {
    Lines(Chunk),
    /// Reading failed after the given line.
    Failed(io::Error, u64),
}

/// A parsed chunk: its entries, each with the place of its line's text.
#[derive(Default)]
struct Batch {
    entries: Vec<LineEntry>,
    /// Where each entry's line is in `text` (empty when the entry kept
    /// the line itself).
    spans: Vec<Range<usize>>,
    text: Vec<u8>,
    /// The chunk's, let go once the entries are freed (it is the last
    /// field: dropped last).
    eager: Option<EagerRelease>,
}

impl Batch {
    fn clear(&mut self) {
        self.entries.clear();
        self.spans.clear();
        self.text.clear();
        self.eager = None;
    }
}

/// What comes back from a parser, in the same turn.
enum Parsed {
    /// A chunk's entries, and the number of its last line.
    Entries(Batch, u64),
    Failed(io::Error, u64),
}

struct Parser {
    parsed: Receiver<Parsed>,
    /// Formatted batches going back to be freed (and their room reused).
    done: SyncSender<Batch>,
}

/// An entry as [`ParallelReader`] gives it: its line number, the entry (or
/// why the line holds none), and the line's text as read (trimmed; empty
/// for a line the entry keeps).
pub type ReadEntry<'a> = (u64, &'a Result<Entry, ParseError>, &'a [u8]);

/// Entries of a log parsed on several threads; see the module doc.
pub struct ParallelReader {
    parsers: Vec<Parser>,
    /// The parser whose batch comes next.
    turn: usize,
    /// A batch taken by [`ParallelReader::ready`], not handed out yet.
    pending: Option<ParsedBatch>,
    line: u64,
    failed: Option<io::Error>,
    ended: bool,
}

/// The entries of one chunk of a log, in order. Dropped, the batch goes
/// back to the parser that made it, to be freed there.
pub struct ParsedBatch {
    batch: Batch,
    home: Option<SyncSender<Batch>>,
}

impl ParsedBatch {
    pub fn len(&self) -> usize {
        self.batch.entries.len()
    }

    /// The `i`th entry of the batch.
    pub fn get(&self, i: usize) -> ReadEntry<'_> {
        let (line, entry) = &self.batch.entries[i];
        (*line, entry, &self.batch.text[self.batch.spans[i].clone()])
    }

    pub fn iter(&self) -> impl Iterator<Item = ReadEntry<'_>> {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl Drop for ParsedBatch {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            // A parser that has finished has hung up, or has more than it
            // needs: the batch is freed here then.
            let _ = home.try_send(std::mem::take(&mut self.batch));
        }
    }
}

impl ParallelReader {
    /// Starts reading `input` and parsing it on `parsers` threads (at
    /// least one).
    pub fn new(input: impl Read + Send + 'static, parsers: usize) -> ParallelReader {
        let n = parsers.clamp(1, MAX_PARSERS);
        let mut to_parsers = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        // Buffers in flight: a few per parser.
        let (free_tx, free_rx) = sync_channel::<Vec<u8>>(4 * n);
        for _ in 0..n {
            let (chunk_tx, chunk_rx) = sync_channel::<ToParser>(1);
            let (parsed_tx, parsed_rx) = sync_channel::<Parsed>(1);
            // Room for the batches in flight: being parsed, waiting, being
            // formatted (by several threads), on their way back.
            let (done_tx, done_rx) = sync_channel::<Batch>(8);
            let free = free_tx.clone();
            thread::spawn(move || parse_chunks(chunk_rx, parsed_tx, done_rx, free));
            to_parsers.push(chunk_tx);
            handles.push(Parser {
                parsed: parsed_rx,
                done: done_tx,
            });
        }
        drop(free_tx);
        thread::spawn(move || read_chunks(input, to_parsers, free_rx));
        ParallelReader {
            parsers: handles,
            turn: 0,
            pending: None,
            line: 0,
            failed: None,
            ended: false,
        }
    }

    /// The number of threads worth running here for work that can be
    /// shared out: one per core, within bounds.
    pub fn threads_for_machine() -> usize {
        thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, MAX_PARSERS)
    }

    /// Takes the next batch from the parser whose turn it is; `block`
    /// waits for it. False when none could be had without waiting.
    fn take(&mut self, block: bool) -> bool {
        let parser = &self.parsers[self.turn];
        let got = if block {
            parser.parsed.recv().map_err(|_| TryRecvError::Disconnected)
        } else {
            parser.parsed.try_recv()
        };
        match got {
            Ok(Parsed::Entries(batch, last_line)) => {
                self.pending = Some(ParsedBatch {
                    batch,
                    home: Some(parser.done.clone()),
                });
                self.line = self.line.max(last_line);
                self.turn = (self.turn + 1) % self.parsers.len();
                true
            }
            Ok(Parsed::Failed(e, line)) => {
                self.failed = Some(e);
                self.line = self.line.max(line);
                self.ended = true;
                true
            }
            Err(TryRecvError::Empty) => false,
            Err(TryRecvError::Disconnected) => {
                self.ended = true;
                true
            }
        }
    }

    /// Whether the next batch (or the end) can be had without waiting.
    pub fn ready(&mut self) -> bool {
        self.pending.is_some() || self.ended || self.take(false)
    }

    /// The next batch of entries, in the order of the log; `Ok(None)` at
    /// the end; an `Err` is a failure to read, after the batches before it.
    pub fn next_batch(&mut self) -> io::Result<Option<ParsedBatch>> {
        loop {
            if let Some(batch) = self.pending.take() {
                return Ok(Some(batch));
            }
            if self.ended {
                return match self.failed.take() {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
            self.take(true);
        }
    }

    /// The number of the last line read.
    pub fn line_number(&self) -> u64 {
        self.line
    }
}

/// The input reader's thread: cuts `input` into chunks of whole lines and
/// deals them to the parsers in turn. Chunks' buffers come back from the
/// parsers (`free`) to be read into again.
fn read_chunks(mut input: impl Read, parsers: Vec<SyncSender<ToParser>>, free: Receiver<Vec<u8>>) {
    let mut turn = 0;
    let mut next_line = 1u64;
    // `buf[..filled]` is read input not yet dealt; all of `buf` is
    // initialized, so a read goes straight into it.
    let mut buf = vec![0u8; 2 * CHUNK];
    let mut filled = 0;
    // The start of a line longer than a chunk, in pieces, until its newline
    // comes: joined then into one buffer of its size, a line of tens of
    // megabytes costs its size once, not twice as a growing buffer would.
    let mut long: Vec<Vec<u8>> = Vec::new();
    let mut long_len = 0usize;
    // A line past MAX_LINE: its bytes so far, while the rest is read and
    // dropped until its newline.
    let mut skipping: Option<u64> = None;
    // Held from a long line's first piece until its entry is freed.
    let mut eager: Option<EagerRelease> = None;
    loop {
        // Read a chunk's worth, or up to the end, or what a pipe has for
        // now (that is parsed without waiting for more).
        let mut eof = false;
        while filled < CHUNK && !eof {
            let room = buf.len() - filled;
            match input.read(&mut buf[filled..]) {
                Ok(0) => eof = true,
                Ok(n) => {
                    filled += n;
                    if n < room {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // The complete lines read so far go first.
                    if long.is_empty() {
                        if let Some(i) = memchr::memrchr(b'\n', &buf[..filled]) {
                            buf.truncate(i + 1);
                            send(&parsers, &mut turn, &mut next_line, buf, None);
                        }
                    }
                    let _ = parsers[turn].send(ToParser::Failed(e, next_line - 1));
                    return;
                }
            }
        }
        if let Some(skipped) = skipping.as_mut() {
            match memchr::memchr(b'\n', &buf[..filled]) {
                Some(i) => {
                    let n = *skipped + i as u64;
                    skipping = None;
                    eager = None;
                    if !send_too_long(&parsers, &mut turn, &mut next_line, n) {
                        return;
                    }
                    buf.copy_within(i + 1..filled, 0);
                    filled -= i + 1;
                }
                None => {
                    *skipped += filled as u64;
                    filled = 0;
                    if eof {
                        let n = *skipped;
                        let _ = send_too_long(&parsers, &mut turn, &mut next_line, n);
                        return;
                    }
                }
            }
            continue;
        }
        if eof {
            if !long.is_empty() {
                buf = join(&mut long, &buf[..filled]);
                filled = buf.len();
            }
            if filled > 0 {
                buf.truncate(filled);
                send(&parsers, &mut turn, &mut next_line, buf, eager.take());
            }
            return;
        }
        if !long.is_empty() {
            match memchr::memchr(b'\n', &buf[..filled]) {
                Some(i) => {
                    long_len = 0;
                    let line = join(&mut long, &buf[..=i]);
                    if !send(&parsers, &mut turn, &mut next_line, line, eager.take()) {
                        return;
                    }
                    buf.copy_within(i + 1..filled, 0);
                    filled -= i + 1;
                }
                None => {
                    long_len += filled;
                    if long_len > super::MAX_LINE {
                        // Too long to keep: the rest is dropped as it comes.
                        skipping = Some(long_len as u64);
                        long.clear();
                        long_len = 0;
                    } else {
                        long.push(buf[..filled].to_vec());
                    }
                    filled = 0;
                }
            }
            continue;
        }
        match memchr::memrchr(b'\n', &buf[..filled]) {
            Some(i) => {
                let cut = i + 1;
                let mut next = free.try_recv().unwrap_or_default();
                if next.len() < 2 * CHUNK {
                    next.resize(2 * CHUNK, 0);
                }
                let rest = filled - cut;
                next[..rest].copy_from_slice(&buf[cut..filled]);
                buf.truncate(cut);
                if !send(&parsers, &mut turn, &mut next_line, buf, None) {
                    return;
                }
                buf = next;
                filled = rest;
            }
            None if filled >= CHUNK => {
                eager.get_or_insert_with(EagerRelease::new);
                long_len = filled;
                long.push(buf[..filled].to_vec());
                filled = 0;
            }
            None => {}
        }
    }
}

/// One buffer of `pieces` followed by `end`, each piece freed once copied.
fn join(pieces: &mut Vec<Vec<u8>>, end: &[u8]) -> Vec<u8> {
    let size = pieces.iter().map(Vec::len).sum::<usize>() + end.len();
    let mut line = Vec::with_capacity(size);
    for piece in pieces.drain(..) {
        line.extend_from_slice(&piece);
    }
    line.extend_from_slice(end);
    line
}

/// Deals one chunk to the parser whose turn it is; false when the reader
/// has gone (nothing more is wanted).
fn send(
    parsers: &[SyncSender<ToParser>],
    turn: &mut usize,
    next_line: &mut u64,
    data: Vec<u8>,
    eager: Option<EagerRelease>,
) -> bool {
    let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
    let lines = if data.last() == Some(&b'\n') {
        lines
    } else {
        lines + 1
    };
    let chunk = Chunk {
        data,
        first_line: *next_line,
        eager,
        too_long: None,
    };
    *next_line += lines;
    let ok = parsers[*turn].send(ToParser::Lines(chunk)).is_ok();
    *turn = (*turn + 1) % parsers.len();
    ok
}

/// Deals a line too long to keep, as a chunk of its own.
fn send_too_long(
    parsers: &[SyncSender<ToParser>],
    turn: &mut usize,
    next_line: &mut u64,
    bytes: u64,
) -> bool {
    let chunk = Chunk {
        data: Vec::new(),
        first_line: *next_line,
        eager: None,
        too_long: Some(bytes),
    };
    *next_line += 1;
    let ok = parsers[*turn].send(ToParser::Lines(chunk)).is_ok();
    *turn = (*turn + 1) % parsers.len();
    ok
}

/// A parser's thread: parses each chunk it is dealt into a batch of
/// entries, and frees the batches given back.
fn parse_chunks(
    chunks: Receiver<ToParser>,
    parsed: SyncSender<Parsed>,
    done: Receiver<Batch>,
    free: SyncSender<Vec<u8>>,
) {
    let mut spare: Vec<Batch> = Vec::new();
    while let Ok(message) = chunks.recv() {
        // Free what has been formatted, here where it was allocated.
        while let Ok(mut batch) = done.try_recv() {
            let text = std::mem::take(&mut batch.text);
            batch.clear();
            spare.push(batch);
            // A buffer grown for a long line is not kept; when the pool
            // is full, the reader allocates another.
            if text.capacity() > 0 && text.capacity() <= 4 * CHUNK {
                let _ = free.try_send(text);
            }
        }
        let out = match message {
            ToParser::Lines(chunk) => {
                let mut batch = spare.pop().unwrap_or_default();
                let last = parse_chunk(chunk, &mut batch);
                Parsed::Entries(batch, last)
            }
            ToParser::Failed(e, line) => Parsed::Failed(e, line),
        };
        if parsed.send(out).is_err() {
            return;
        }
    }
}

/// Parses a chunk's lines into `batch`, which keeps the chunk's text;
/// returns the number of its last line.
fn parse_chunk(chunk: Chunk, batch: &mut Batch) -> u64 {
    let Chunk {
        data,
        first_line,
        eager,
        too_long,
    } = chunk;
    batch.eager = eager;
    let mut number = first_line;
    if let Some(bytes) = too_long {
        batch
            .entries
            .push((number, Err(ParseError::TooLong(bytes))));
        batch.spans.push(0..0);
        return number;
    }
    // A chunk that is one huge line (a large run's suite_start): the entry
    // keeps the chunk itself.
    if data.len() > KEEP_LINE_CAPACITY
        && memchr::memchr(b'\n', &data).is_none_or(|i| i + 1 == data.len())
    {
        if let Some(entry) = parse_owned(number, data) {
            batch.entries.push((number, entry));
            batch.spans.push(0..0);
        }
        return number;
    }
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        if let Some(text) = line_text(number, &data[start..end]) {
            let entry = if text.len() > KEEP_LINE_CAPACITY {
                Entry::from_json_owned(text.to_vec())
            } else {
                Entry::from_json(text)
            };
            let from = text.as_ptr() as usize - data.as_ptr() as usize;
            batch.entries.push((number, entry));
            batch.spans.push(from..from + text.len());
        }
        start = end + 1;
        number += 1;
    }
    batch.text = data;
    number - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::replay::LogReader;

    /// Every (line number, entry or error) a reader gives, as text.
    fn all(mut r: ParallelReader) -> (Vec<(u64, String)>, Option<String>) {
        let mut out = Vec::new();
        loop {
            match r.next_batch() {
                Ok(Some(batch)) => {
                    for (n, e, text) in batch.iter() {
                        // The text is the line's, as read.
                        if !text.is_empty() {
                            let again = Entry::from_json(text);
                            assert_eq!(describe(&again), describe(e));
                        }
                        out.push((n, describe(e)))
                    }
                }
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(format!("{e} after line {}", r.line_number()))),
            }
        }
    }

    fn describe(e: &Result<Entry, ParseError>) -> String {
        match e {
            Ok(e) => e.to_json(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn a_line_past_the_limit_is_reported_and_skipped_not_kept() {
        use std::io::Read as _;
        let good = br#"{"action":"shutdown","time":1}"#;
        let input = || {
            std::io::repeat(b'x')
                .take((super::super::MAX_LINE + 3 * CHUNK) as u64)
                .chain(&b"\n"[..])
                .chain(&good[..])
                .chain(&b"\n"[..])
        };
        for parsers in [1, 3] {
            let (got, err) = all(ParallelReader::new(input(), parsers));
            assert_eq!(err, None);
            assert_eq!(got.len(), 2, "{parsers} parsers");
            assert_eq!(got[0].0, 1);
            assert!(got[0].1.contains("longer than the 64 MiB"), "{}", got[0].1);
            assert_eq!(got[1], (2, describe(&Entry::from_json(good))));
        }
        let mut r = LogReader::new(std::io::BufReader::new(input()));
        let (n, first) = r.next_entry().unwrap().unwrap();
        assert_eq!(n, 1);
        assert!(matches!(first, Err(ParseError::TooLong(_))));
        let (n, second) = r.next_entry().unwrap().unwrap();
        assert_eq!((n, second.unwrap().action.name()), (2, "shutdown"));
    }

    fn sequential(log: &[u8]) -> Vec<(u64, String)> {
        LogReader::new(log)
            .map(|r| r.map(|(n, e)| (n, describe(&e))).unwrap())
            .collect()
    }

    /// A log with lines of every kind: short, blank, malformed, longer than
    /// a chunk, longer than a kept line buffer, a BOM, no final newline.
    fn log() -> Vec<u8> {
        let mut log = b"\xef\xbb\xbf".to_vec();
        let tests: Vec<String> = (0..600_000).map(|i| format!("\"t{i}\"")).collect();
        log.extend_from_slice(
            format!(
                "{{\"action\":\"suite_start\",\"time\":1,\"tests\":[{}]}}\n",
                tests.join(",")
            )
            .as_bytes(),
        );
        assert!(log.len() > KEEP_LINE_CAPACITY);
        for i in 0..20_000u64 {
            match i % 997 {
                0 => log.extend_from_slice(b"\n   \n"),
                1 => log.extend_from_slice(b"{\"action\":\"test_end\",\"time\":\"x\"}\n"),
                2 => log.extend_from_slice(
                    format!(
                        "{{\"action\":\"log\",\"time\":{i},\"level\":\"INFO\",\"message\":\"{}\"}}\n",
                        "m".repeat(3 * CHUNK)
                    )
                    .as_bytes(),
                ),
                _ => log.extend_from_slice(
                    format!(
                        "{{\"action\":\"test_start\",\"time\":{i},\"thread\":\"t\",\"pid\":1,\
                         \"source\":\"s\",\"test\":\"t{i}\"}}\n"
                    )
                    .as_bytes(),
                ),
            }
        }
        log.extend_from_slice(b"{\"action\":\"suite_end\",\"time\":99}");
        log
    }

    #[test]
    fn same_entries_and_line_numbers_as_the_sequential_reader() {
        let log = log();
        let expected = sequential(&log);
        assert!(expected.len() > 19_000);
        for parsers in [1, 2, 3] {
            let (got, err) = all(ParallelReader::new(io::Cursor::new(log.clone()), parsers));
            assert_eq!(err, None);
            assert_eq!(got.len(), expected.len(), "{parsers} parsers");
            for (g, e) in got.iter().zip(&expected) {
                assert!(
                    g == e,
                    "{parsers} parsers: {:?} != {:?}",
                    (g.0, &g.1[..g.1.len().min(80)]),
                    (e.0, &e.1[..e.1.len().min(80)])
                );
            }
        }
    }

    /// A reader that gives a few bytes at a time, as a pipe may.
    struct Trickle(io::Cursor<Vec<u8>>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = self.1 % 4093 + 7;
            let n = buf.len().min(self.1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn short_reads_give_the_same_entries() {
        let log = log();
        let (got, err) = all(ParallelReader::new(
            Trickle(io::Cursor::new(log.clone()), 0),
            2,
        ));
        assert_eq!(err, None);
        assert!(got == sequential(&log));
    }

    /// Gives its bytes, then fails.
    struct Failing(io::Cursor<Vec<u8>>);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::other("device gone")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn a_read_error_comes_after_the_complete_lines_before_it() {
        let log =
            b"{\"action\":\"shutdown\",\"time\":1}\n{\"action\":\"shutdown\",\"time\":2}\n{\"act";
        let (got, err) = all(ParallelReader::new(
            Failing(io::Cursor::new(log.to_vec())),
            2,
        ));
        assert_eq!(got.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(err.as_deref(), Some("device gone after line 2"));
    }

    #[test]
    fn a_line_is_had_before_a_live_producer_writes_more() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let mut r = ParallelReader::new(reader, 2);
        std::io::Write::write_all(&mut writer, b"{\"action\":\"shutdown\",\"time\":7}\n").unwrap();
        // The producer has not closed: the entry comes all the same.
        let batch = r.next_batch().unwrap().unwrap();
        assert_eq!(batch.len(), 1);
        let (n, e, text) = batch.get(0);
        assert_eq!(text, b"{\"action\":\"shutdown\",\"time\":7}");
        assert_eq!((n, e.as_ref().unwrap().time), (1, 7));
        // Nothing more for now, and the input has not ended.
        assert!(!r.ready());
        drop(writer);
        assert!(r.next_batch().unwrap().is_none());
    }
}
