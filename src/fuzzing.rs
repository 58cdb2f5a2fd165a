//! Entry points for the fuzz targets in `fuzz/` (not a public interface).
//!
//! Each takes arbitrary bytes, drives one reader of untrusted input the way
//! the tool does, and panics when a property the tool relies on fails:
//!
//! - [`libtest_stream`]: a test binary's stdout and stderr (what a test
//!   prints is anyone's bytes) through the line reader and the translation,
//!   with or without a `--logfile` witness; every action becomes an entry
//!   whose JSON reads back as the same entry, and the entries go to every
//!   sink.
//! - [`raw_log`]: a raw log through the reader and every sink; the XML of
//!   the xunit output is well formed, and each line of the raw output reads
//!   back.
//! - [`expectations`]: an expectations file (`structlog.toml`) through its
//!   parser, and its patterns matched against a few test ids.

use crate::libtest::witness::Records;
use crate::libtest::Outcome;
use crate::model::{Action, Entry, Level, Origin, SuiteStart, TestGroups};
use crate::plan::{Harness, TestInfo};
use crate::sink::{self, Sink};
use crate::translate::{BinaryState, Witness};
use std::io::{self, BufRead, Write};
use std::sync::{Arc, Mutex};

/// Ends the listing in [`libtest_stream`]'s input.
pub const RUN_MARK: &[u8] = b"\n--run--\n";
/// Separates a stream's bytes from the witness's in [`libtest_stream`]'s input.
pub const WITNESS_MARK: &[u8] = b"\n--witness--\n";

/// The tests the stream's binary has when the input gives no listing.
const TESTS: &[(&str, bool)] = &[
    ("a", false),
    ("b", false),
    ("m::c", false),
    ("sp", true),
    ("with space", false),
    ("src/lib.rs - f (line 3)", true),
];

/// Cut lines longer than this, small enough for the fuzzer to reach.
const LINE_CAP: usize = 300;

#[derive(Debug)]
struct FuzzWitness(Records);

impl Witness for FuzzWitness {
    fn confirms(&mut self, name: &str, outcome: Outcome) -> bool {
        self.0.confirm(name, outcome)
    }
}

/// An output every sink can share, kept for the checks after the run.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// Every format, options picked by `bits`; the raw and xunit outputs are
/// returned apart for checking.
struct AllSinks {
    sinks: Vec<Box<dyn Sink>>,
    raw: Shared,
    xunit: Shared,
}

impl AllSinks {
    fn new(bits: u8) -> AllSinks {
        use sink::buffer::Limit;
        use sink::xunit::{Flavor, MapMode};
        let mut opts = sink::Config {
            mach_verbose: bits & 1 != 0,
            tbpl_compact: bits & 2 != 0,
            raw_level: if bits & 4 != 0 {
                Level::Debug
            } else {
                Level::Info
            },
            mach_buffer: (bits & 8 != 0).then(|| Limit::parse("2").unwrap()),
            ..Default::default()
        };
        opts.xunit.flavor = if bits & 16 != 0 {
            Flavor::parse("ant").unwrap()
        } else {
            Flavor::Jenkins
        };
        if bits & 32 != 0 {
            opts.xunit.xfail = MapMode::parse("failure").unwrap();
            opts.xunit.xpass = MapMode::parse("success").unwrap();
        }
        opts.xunit.max_output = 100;
        let (raw, xunit) = (Shared::default(), Shared::default());
        let mut summary: Option<sink::Output> = Some(Box::new(io::sink()));
        let sinks = sink::FORMATS
            .iter()
            .map(|format| {
                let out: sink::Output = match *format {
                    "raw" => Box::new(raw.clone()),
                    "xunit" => Box::new(xunit.clone()),
                    _ => Box::new(io::sink()),
                };
                sink::make(format, out, &opts, bits & 64 != 0, &mut summary)
            })
            .collect();
        AllSinks { sinks, raw, xunit }
    }

    fn entry(&mut self, e: &Entry, line: Option<&[u8]>) {
        for s in &mut self.sinks {
            match line {
                Some(line) => s.entry_read(e, line).unwrap(),
                None => s.entry(e).unwrap(),
            }
        }
    }

    /// Finishes every sink and checks what the raw and xunit ones wrote.
    fn finish(mut self) {
        for s in &mut self.sinks {
            s.finish().unwrap();
        }
        for line in self.raw.take().split(|b| *b == b'\n') {
            if !line.is_empty() {
                if let Err(e) = Entry::from_json(line) {
                    panic!(
                        "the raw output does not read back ({e:?}): {}",
                        String::from_utf8_lossy(line)
                    );
                }
            }
        }
        let xml = self.xunit.take();
        let text = match std::str::from_utf8(&xml) {
            Ok(text) => text,
            Err(e) => panic!("the xunit output is not UTF-8: {e}"),
        };
        if let Some(c) = text.chars().find(|c| !xml_char(*c)) {
            panic!("the xunit output holds {c:?}, which XML 1.0 forbids:\n{text}");
        }
        let mut reader = quick_xml::Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        let mut depth = 0i64;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Start(_)) => depth += 1,
                Ok(quick_xml::events::Event::End(_)) => depth -= 1,
                Ok(quick_xml::events::Event::GeneralRef(r)) => {
                    let name: &str = &r;
                    let ok = match name.strip_prefix('#') {
                        Some(n) => match n.strip_prefix('x') {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => n.parse().ok(),
                        }
                        .and_then(char::from_u32)
                        .is_some_and(xml_char),
                        None => ["lt", "gt", "amp", "quot", "apos"].contains(&name),
                    };
                    assert!(ok, "the xunit output refers to &{name};");
                }
                Ok(_) => {}
                Err(e) => panic!("the xunit output is not well formed XML: {e}\n{text}"),
            }
        }
        assert_eq!(depth, 0, "unclosed xunit elements");
    }
}

/// Whether XML 1.0 allows `c` in a document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Reads one line as the runner does (see `run::process`).
fn next_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> Option<bool> {
    crate::run::read_line_capped(r, line, LINE_CAP)
}

/// A test binary's listing and output: `data`'s first byte picks the
/// harness and the sinks' options; then, up to [`RUN_MARK`], what
/// `--list --format terse` printed (without it, the binary has [`TESTS`]);
/// then the lines two processes printed (a line starting with `!` is on
/// stderr, one starting with `#` from the second process); then, after
/// [`WITNESS_MARK`], what `--logfile` recorded. A test is `should_panic`
/// when its name's length is a multiple of 3.
pub fn libtest_stream(data: &[u8]) {
    let Some((&bits, data)) = data.split_first() else {
        return;
    };
    let (listing, data) = match memchr::memmem::find(data, RUN_MARK) {
        Some(i) => (Some(&data[..i]), &data[i + RUN_MARK.len()..]),
        None => (None, data),
    };
    let (stream, witness) = match memchr::memmem::find(data, WITNESS_MARK) {
        Some(i) => (&data[..i], Some(&data[i + WITNESS_MARK.len()..])),
        None => (data, None),
    };
    let harness = match bits % 5 {
        0 => Harness::Libtest,
        1 => Harness::Mimic,
        2 => Harness::Tester,
        3 => Harness::Rustdoc,
        _ => Harness::Custom,
    };
    let names: Vec<(String, bool)> = match listing {
        Some(text) => crate::libtest::parse_terse_list(
            &String::from_utf8_lossy(text),
            harness == Harness::Mimic,
        )
        .into_iter()
        .map(|name| {
            let should_panic = name.len() % 3 == 0;
            (name, should_panic)
        })
        .collect(),
        None => TESTS.iter().map(|(n, p)| (n.to_string(), *p)).collect(),
    };
    let tests = names
        .iter()
        .map(|(name, should_panic)| TestInfo {
            name: name.clone(),
            path: None,
            line: None,
            should_panic: *should_panic,
            ..Default::default()
        })
        .collect();
    let mut state = BinaryState::new("pkg".into(), harness, tests, bits & 8 == 0);
    if bits & 128 != 0 {
        state.set_retries(1);
    }
    for pid in [1, 2] {
        if let Some(w) = witness {
            let mut records = Records::new();
            records.push(w);
            state.set_witness(pid, Box::new(FuzzWitness(records)));
        }
    }
    let mut sinks = AllSinks::new(bits);
    let origin = Origin {
        thread: "main".into(),
        pid: 9,
        source: "fuzz".into(),
    };
    let emit = |sinks: &mut AllSinks, time: u64, actions: &mut Vec<Action>| {
        for action in actions.drain(..) {
            let entry = origin.entry(time, action);
            let json = entry.to_json();
            match Entry::from_json(json.as_bytes()) {
                Ok(back) => assert_eq!(back, entry, "{json}"),
                Err(e) => panic!("an entry's JSON does not read back ({e:?}): {json}"),
            }
            sinks.entry(&entry, None);
        }
    };
    let ids = state.tests.iter().map(|t| state.test_id(&t.name)).collect();
    let start = SuiteStart {
        tests: TestGroups::from([("pkg".to_string(), ids)]).into(),
        ..Default::default()
    };
    let mut actions = vec![Action::SuiteStart(start)];
    emit(&mut sinks, 0, &mut actions);
    let mut r = io::BufReader::with_capacity(64, stream);
    let mut line = Vec::new();
    let mut time = 0;
    while let Some(cut) = next_line(&mut r, &mut line) {
        time += 1;
        let (pid, rest) = match line.first() {
            Some(b'#') => (2, &line[1..]),
            _ => (1, &line[..]),
        };
        match rest.first() {
            Some(b'!') => state.stderr_line(pid, &rest[1..], &mut actions),
            _ => {
                // Starting a test the harness does not report (a custom
                // harness) is the runner's part.
                if !harness.speaks_libtest() && time == 1 {
                    if let Some((name, _)) = names.first() {
                        state.start(name, pid, time, &mut actions);
                    }
                }
                state.stdout_line(pid, rest, cut, time, &mut actions);
            }
        }
        emit(&mut sinks, time, &mut actions);
    }
    for pid in [1, 2] {
        let report = state.process_exited(pid);
        for name in &report.in_flight {
            assert!(
                names.iter().any(|(t, _)| t == name),
                "an unknown test is in flight: {name}"
            );
        }
    }
    actions.push(Action::SuiteEnd(Default::default()));
    emit(&mut sinks, time + 1, &mut actions);
    sinks.finish();
}

/// A raw log, as `cargo structlog format` reads it: `data`'s first byte
/// picks the sinks' options, the rest is the log. The parallel reader that
/// `format` uses and the plain one that `merge` uses must agree line for
/// line.
pub fn raw_log(data: &[u8]) {
    let Some((&bits, log)) = data.split_first() else {
        return;
    };
    let mut plain = crate::logs::replay::LogReader::new(log);
    let mut parallel = crate::logs::parallel::ParallelReader::new(io::Cursor::new(log.to_vec()), 2);
    let mut sinks = AllSinks::new(bits);
    while let Some(batch) = parallel.next_batch().unwrap() {
        for (number, read, text) in batch.iter() {
            let (n, other) = plain
                .next_entry()
                .unwrap()
                .expect("the plain reader ends before the parallel one");
            assert_eq!(n, number, "line numbers differ");
            match (read, &other) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "line {n} read differently"),
                (Err(_), Err(_)) => {}
                _ => panic!("line {n}: {read:?} against {other:?}"),
            }
            if let Ok(entry) = read {
                sinks.entry(entry, Some(text));
            }
        }
    }
    assert!(
        plain.next_entry().unwrap().is_none(),
        "the parallel reader ends before the plain one"
    );
    sinks.finish();
}

/// An expectations file: parsed, and when it parses, looked up.
pub fn expectations(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(x) = crate::plan::expectations::Expectations::parse(
        text,
        std::path::Path::new("structlog.toml"),
    ) else {
        return;
    };
    for (id, _) in TESTS {
        let _ = x.lookup(&format!("pkg::{id}"));
    }
}
