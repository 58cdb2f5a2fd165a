//! The floor under `cargo structlog format`: the cost of reading a raw log's
//! lines and parsing them, with no sink at all. `scripts/bench.sh` times it
//! next to the replays, so a replay can be compared with the least work any
//! replay must do.
//!
//! ```text
//! cargo run --release --example replay_floor -- MODE FILE
//! ```
//!
//! MODE:
//! * `lines`: split the file into lines only (reading and scanning for `\n`,
//!   as `format` does: a 1 MiB buffer and a reused line buffer);
//! * `value`: the same, plus a generic JSON parse of each line
//!   (`serde_json::from_slice::<serde_json::Value>`);
//! * `entry`: the tool's own sequential reader, `LogReader`, which parses
//!   each line into a mozlog entry (`Entry::from_json`): the work `format`
//!   does before the sinks, on one thread (`format` spreads it over the
//!   cores).
//!
//! Prints the number of lines (and of parsed entries) on stdout; exits 1 if
//! any line failed to parse, so a benchmark cannot time a broken input.

use cargo_structlog::logs::{LogReader, READ_BUFFER};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

/// Calls `each` with every non-blank line of `path`, trimmed, reading as
/// `LogReader` does (same buffer size, one reused line buffer).
fn for_each_line(path: &str, mut each: impl FnMut(&[u8])) -> std::io::Result<u64> {
    let mut input = BufReader::with_capacity(READ_BUFFER, File::open(path)?);
    let mut line = Vec::with_capacity(4096);
    let mut n = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(n);
        }
        let text = line.trim_ascii();
        if !text.is_empty() {
            n += 1;
            each(text);
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, path] = args.as_slice() else {
        eprintln!("usage: replay_floor lines|value|entry FILE");
        return ExitCode::from(2);
    };
    let mut bad = 0u64;
    let result = match mode.as_str() {
        "lines" => for_each_line(path, |text| {
            std::hint::black_box(text);
        }),
        "value" => for_each_line(path, |text| {
            match serde_json::from_slice::<serde_json::Value>(text) {
                Ok(v) => drop(std::hint::black_box(v)),
                Err(_) => bad += 1,
            }
        }),
        "entry" => (|| {
            let mut reader = LogReader::open(path.as_ref())?;
            let mut n = 0u64;
            while let Some((_, entry)) = reader.next_entry()? {
                n += 1;
                match entry {
                    Ok(e) => drop(std::hint::black_box(e)),
                    Err(_) => bad += 1,
                }
            }
            Ok(n)
        })(),
        other => {
            eprintln!("unknown mode {other:?}: use lines, value or entry");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(n) => {
            println!("{n} lines, {} parsed", n - bad);
            if bad > 0 {
                eprintln!("error: {bad} lines did not parse");
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {path}: {e}");
            ExitCode::from(2)
        }
    }
}
