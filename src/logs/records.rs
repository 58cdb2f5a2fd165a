//! The record each run keeps: its raw log under
//! `<target-dir>/structlog/runs/` (`<session-dir>/runs/` with `--session-dir`), whatever sinks were asked for, the last
//! [`KEEP`] runs. `cargo structlog runs` lists them; `--last-failed` and
//! `--failed-first` read them (or `--from-log` files) to learn which tests
//! failed.
//!
//! A record is `<UTC start>-<pid>.log` (names sort by time), written as
//! the run goes, at the raw sink's default level; `<same>.exit` holds the
//! run's exit status once it has one. A run killed outright leaves a log
//! without it, and its unfinished tests count as failed.

use crate::error::Error;
use crate::model::summary::Summary;
use crate::model::{Action, Entry, Level};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Runs kept.
pub const KEEP: usize = 10;

/// Where the records are: `runs` in the session directory (`--session-dir`,
/// else `<target-dir>/structlog`).
pub fn dir(session_dir: Option<&Path>, target_dir: &Path) -> PathBuf {
    match session_dir {
        Some(d) => d.join("runs"),
        None => target_dir.join("structlog").join("runs"),
    }
}

/// The records in a directory, oldest first.
pub fn all(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut logs: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs
}

/// A run's record being written.
pub struct Recorder {
    out: Option<BufWriter<File>>,
    path: PathBuf,
}

impl Recorder {
    /// Starts the record of a run that started at `now_ms`, first removing
    /// the oldest so that [`KEEP`] are left with it. A directory that
    /// cannot be written is said on stderr, and the run goes on unrecorded.
    pub fn start(dir: &Path, now_ms: u64, pid: u32) -> Option<Recorder> {
        let warn = |e: &dyn std::fmt::Display| {
            eprintln!(
                "cargo-structlog: warning: {}: this run is not recorded: {e}",
                dir.display()
            );
        };
        if let Err(e) = std::fs::create_dir_all(dir) {
            warn(&e);
            return None;
        }
        let old = all(dir);
        for stale in old.iter().take((old.len() + 1).saturating_sub(KEEP)) {
            let _ = std::fs::remove_file(stale);
            let _ = std::fs::remove_file(stale.with_extension("exit"));
        }
        let c = crate::text::Civil::from_millis(now_ms);
        let name = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z-{pid}.log",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            now_ms % 1000
        );
        let path = dir.join(name);
        match File::create(&path) {
            Ok(f) => Some(Recorder {
                out: Some(BufWriter::with_capacity(64 * 1024, f)),
                path,
            }),
            Err(e) => {
                warn(&e);
                None
            }
        }
    }

    /// Writes an entry (`log` entries from INFO up, as the raw sink does).
    pub fn entry(&mut self, e: &Entry) {
        if matches!(&e.action, Action::Log(l) if l.level > Level::Info) {
            return;
        }
        let Some(out) = &mut self.out else {
            return;
        };
        let written = e.write_json(&mut *out).and_then(|_| out.write_all(b"\n"));
        if let Err(err) = written {
            self.fail(&err);
        }
    }

    /// Writes out what is held (as the live sinks are flushed).
    pub fn flush(&mut self) {
        if let Some(out) = &mut self.out {
            if let Err(e) = out.flush() {
                self.fail(&e);
            }
        }
    }

    fn fail(&mut self, e: &std::io::Error) {
        eprintln!(
            "cargo-structlog: warning: {}: the run's record is cut short: {e}",
            self.path.display()
        );
        self.out = None;
    }

    /// The run is over with this exit status.
    pub fn finish(mut self, status: i32) {
        self.flush();
        if self.out.is_some() {
            let _ = std::fs::write(self.path.with_extension("exit"), format!("{status}\n"));
        }
    }
}

/// The tests whose last result in these raw logs (read in order, a later
/// result replacing an earlier one) was unexpected, or that never got one:
/// listed or started in a run and not ended (crashed with their process,
/// killed with the run). Malformed lines are skipped with a warning.
pub fn failed(logs: &[PathBuf]) -> Result<Vec<String>, Error> {
    let mut last: BTreeMap<String, bool> = BTreeMap::new();
    for log in logs {
        let reader = crate::logs::replay::LogReader::open(log)
            .map_err(|e| Error::caused(format!("{}: cannot read", log.display()), e))?;
        let mut suite = Suite::default();
        for item in reader {
            let (line, entry) =
                item.map_err(|e| Error::caused(format!("{}: cannot read", log.display()), e))?;
            match entry {
                Ok(e) => match e.action {
                    Action::SuiteStart(s) => {
                        std::mem::take(&mut suite).settle(&mut last);
                        s.tests.each(&mut |_, id| {
                            if let Some(id) = id {
                                suite.unfinished.insert(id.to_string());
                            }
                        });
                    }
                    Action::TestStart(s) => {
                        suite.unfinished.insert(s.test);
                    }
                    Action::TestEnd(end) => {
                        suite.unfinished.remove(&end.test);
                        let bad = end.is_unexpected();
                        suite.ended.insert(end.test, bad);
                    }
                    _ => {}
                },
                Err(err) => eprintln!(
                    "cargo-structlog: warning: {}:{line}: skipped: {err}",
                    log.display()
                ),
            }
        }
        suite.settle(&mut last);
    }
    Ok(last
        .into_iter()
        .filter(|(_, failed)| *failed)
        .map(|(id, _)| id)
        .collect())
}

/// One suite's results, as read.
#[derive(Default)]
struct Suite {
    ended: BTreeMap<String, bool>,
    unfinished: BTreeSet<String>,
}

impl Suite {
    fn settle(self, last: &mut BTreeMap<String, bool>) {
        for (id, bad) in self.ended {
            last.insert(id, bad);
        }
        for id in self.unfinished {
            last.insert(id, true);
        }
    }
}

/// `cargo structlog runs`: the recorded runs, oldest first: when each
/// started, how long it took, its counts and its exit status.
pub fn runs(dir: &Path) -> Result<i32, Error> {
    let logs = all(dir);
    if logs.is_empty() {
        println!("No run is recorded in {} yet.", dir.display());
        return Ok(crate::error::exit::OK);
    }
    println!(
        "{:<19}  {:>8}  {:>6}  {:>6}  {:>10}  {:>7}  {:>4}  RECORD",
        "STARTED (UTC)", "DURATION", "TESTS", "PASSED", "UNEXPECTED", "SKIPPED", "EXIT"
    );
    for log in &logs {
        let mut summary = Summary::new();
        let (mut first, mut end) = (None::<u64>, None::<u64>);
        if let Ok(reader) = crate::logs::replay::LogReader::open(log) {
            for (_, e) in reader.map_while(Result::ok) {
                let Ok(e) = e else { continue };
                first.get_or_insert(e.time);
                if matches!(e.action, Action::SuiteEnd(_)) {
                    end = Some(e.time);
                }
                summary.entry(&e);
            }
        }
        let exit = std::fs::read_to_string(log.with_extension("exit"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| if end.is_some() { "?" } else { "-" }.into());
        let started = first.map_or_else(
            || "-".to_string(),
            |t| {
                let c = crate::text::Civil::from_millis(t);
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    c.year, c.month, c.day, c.hour, c.minute, c.second
                )
            },
        );
        let duration = match (first, end) {
            (Some(a), Some(b)) => format!("{:.1} s", b.saturating_sub(a) as f64 / 1000.0),
            _ => "unended".into(),
        };
        let t = &summary.tests;
        let count = |s: crate::model::Status| {
            t.expected.get(&s).copied().unwrap_or(0) + t.unexpected.get(&s).copied().unwrap_or(0)
        };
        println!(
            "{:<19}  {:>8}  {:>6}  {:>6}  {:>10}  {:>7}  {:>4}  {}",
            started,
            duration,
            t.count,
            count(crate::model::Status::Pass),
            t.unexpected_total(),
            count(crate::model::Status::Skip),
            exit,
            log.display()
        );
    }
    Ok(crate::error::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(dir: &Path, name: &str, lines: &[&str]) -> PathBuf {
        let p = dir.join(name);
        let mut text = String::new();
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    const START: &str = r#"{"action":"suite_start","time":1,"thread":"m","pid":1,"source":"s","tests":{"a":["a x","a y","a z","a w"]}}"#;

    fn end(test: &str, status: &str, expected: Option<&str>, extra: &str) -> String {
        let exp = expected.map_or(String::new(), |e| format!(r#","expected":"{e}""#));
        format!(
            r#"{{"action":"test_end","time":3,"thread":"t","pid":1,"source":"s","test":"{test}","status":"{status}"{exp}{extra}}}"#
        )
    }

    #[test]
    fn the_last_result_of_each_test_counts_and_an_unfinished_test_failed() {
        let dir = tempfile::tempdir().unwrap();
        let first = log(
            dir.path(),
            "1.log",
            &[
                START,
                &end("a x", "FAIL", Some("PASS"), ""),
                &end("a y", "FAIL", Some("PASS"), ""),
                &end("a z", "PASS", None, ""),
                // A known intermittent is not a failure.
                &end(
                    "a w",
                    "FAIL",
                    Some("PASS"),
                    r#","known_intermittent":["FAIL"]"#,
                ),
            ],
        );
        // Killed while `a z` ran: it never ended; `a y` passed now; `a x`
        // did not run in this one.
        let second = log(
            dir.path(),
            "2.log",
            &[
                r#"{"action":"suite_start","time":1,"thread":"m","pid":1,"source":"s","tests":{"a":["a y","a z"]}}"#,
                &end("a y", "PASS", None, ""),
                r#"{"action":"test_start","time":2,"thread":"t","pid":1,"source":"s","test":"a z"}"#,
                "not json",
            ],
        );
        assert_eq!(
            failed(std::slice::from_ref(&first)).unwrap(),
            ["a x", "a y"]
        );
        assert_eq!(failed(&[first, second]).unwrap(), ["a x", "a z"]);
    }

    #[test]
    fn the_oldest_records_are_pruned_and_a_record_gets_its_exit_status() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..KEEP + 3 {
            let r = Recorder::start(dir.path(), 1_000_000 + i as u64, 7).unwrap();
            r.finish(i as i32);
        }
        let kept = all(dir.path());
        assert_eq!(kept.len(), KEEP);
        // Oldest first: the first three went.
        let last = kept.last().unwrap();
        assert_eq!(
            std::fs::read_to_string(last.with_extension("exit")).unwrap(),
            format!("{}\n", KEEP + 2)
        );
        let exits = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "exit")
            .count();
        assert_eq!(exits, KEEP);
    }
}
