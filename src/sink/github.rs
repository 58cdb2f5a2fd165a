//! `github`: GitHub Actions workflow commands, for `--log-github -` in a
//! workflow step (or a file `cat`ed there), and a job summary.
//!
//! # Annotations
//!
//! - `::error file=F,line=L,col=C,title=T::M` for each unexpected result
//!   (a test's, or a subtest's under its test), a test that started and
//!   never ended (the log ends first), an ERROR or CRITICAL `log` entry (a
//!   build that failed, a binary that cannot start: no file), and a `crash`
//!   outside any test. The title is the test id with its status and the
//!   expected one (`alpha tests::adds: FAIL, expected PASS`), the message the
//!   result's message and stack.
//! - `::warning ...` for a known intermittent result (a status listed in
//!   `known_intermittent`), and for a flaky test: one whose `extra.attempts`
//!   (a list of statuses, or of objects with a `status`, one per attempt)
//!   holds a status other than the final one, when the final result is not
//!   already an error.
//!
//! The place is the panic's (`extra.panic_location`, else `panicked at
//! FILE:LINE:COL` in the stack) when it lies in the workspace, else the
//! test's own (`test_start.path` and `extra.line`); a doctest always takes
//! its own, since its panics count lines of the program rustdoc generates.
//! Paths are relative to the workspace root (`run_info.workspace`), where
//! GitHub expects them when the workspace is the repository; a location
//! outside it (a dependency, the standard library) is not used. GitHub shows
//! at most 10 errors and 10 warnings per step: the log and the job summary
//! carry all of them.
//!
//! # Groups
//!
//! Each test binary's output (its `process_output` lines, with a `---- test
//! ----` line where the test changes) is one `::group::<binary id>` ...
//! `::endgroup::` section, and the binary's annotations follow it, out of
//! the fold. Binaries run in parallel interleave, so one group is open at a
//! time: lines of the open binary go out as they come; another binary's
//! lines wait until the open one has ended (every test `suite_start` lists
//! for it has a result) and then go out as its group, which stays open for
//! its later lines. Every binary's lines thus stay together, live when
//! nothing else runs. Lines that arrive after their binary ended get a group
//! of their own; everything still held goes out at `suite_end`. Held lines
//! are kept in memory until their turn.
//!
//! Test output is not trusted to be free of `::` lines: it is written
//! between `::stop-commands::TOKEN` and `::TOKEN::`, so GitHub does not take
//! a printed `::error::` or `::endgroup::` for a command. The token is
//! derived from a secret chosen at random for each run (given to the sink,
//! as a time or a host is, so that tests can fix it) and the `suite_start`
//! entry: a test that reads the raw log cannot predict it and print a
//! command of its own after a forged `::TOKEN::`.
//!
//! Escaping follows GitHub's rules: in data (the message, a group title)
//! `%`, CR and LF become `%25`, `%0D` and `%0A`; in properties `:` and `,`
//! become `%3A` and `%2C` as well. ANSI escapes are removed from messages
//! and other control characters shown as `\xNN`; output lines keep their
//! colors, which GitHub's log viewer draws.
//!
//! # Job summary
//!
//! When given a second writer (the CLI opens `$GITHUB_STEP_SUMMARY` for
//! appending when it is set), `finish` appends Markdown there: a line on
//! the outcome, a table of the results per status (expected, unexpected,
//! known intermittent), a table of the unexpected results with their place
//! and message's first line (at most [`MAX_ROWS`]), and the harness errors.

use super::{Output, Sink};
use crate::model::{Action, Entry, Level, Status, TestEnd, TestStatus};
use crate::text::{safe_text, strip_ansi, Ansi};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};

/// Rows of the unexpected-results table in the job summary.
pub const MAX_ROWS: usize = 200;

/// Bytes of an annotation's message (GitHub cuts long ones anyway).
const MAX_MESSAGE: usize = 4096;

/// Escapes workflow-command data (a message, a group title).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value (`file`, `title`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Text for a message: no ANSI escapes, other control characters but tab,
/// CR and LF shown as `\xNN` (CR and LF are escaped as data), at most `max`
/// bytes (cut on a character boundary, with a mark).
fn clean(s: &str, max: usize) -> String {
    let s = strip_ansi(s);
    let mut out = String::with_capacity(s.len().min(max) + 8);
    for c in s.chars() {
        if out.len() >= max {
            out.push_str(" [...]");
            break;
        }
        if (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}' {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A place in the source, relative to the workspace root.
#[derive(Clone, Debug, PartialEq)]
struct Loc {
    file: String,
    line: Option<u64>,
    col: Option<u64>,
}

impl Loc {
    /// `file=...,line=...,col=...,` (with the trailing comma), or nothing.
    fn properties(loc: Option<&Loc>) -> String {
        let Some(l) = loc else {
            return String::new();
        };
        let mut s = format!("file={},", escape_property(&l.file));
        if let Some(n) = l.line {
            s.push_str(&format!("line={n},"));
            if let Some(c) = l.col {
                s.push_str(&format!("col={c},"));
            }
        }
        s
    }

    /// `file:line` for the summary.
    fn short(&self) -> String {
        match self.line {
            Some(n) => format!("{}:{n}", self.file),
            None => self.file.clone(),
        }
    }
}

/// `file:line:col` (or `file:line`) split up.
fn parse_location(s: &str) -> Option<(&str, u64, Option<u64>)> {
    let (rest, last) = s.rsplit_once(':')?;
    let last: u64 = last.parse().ok()?;
    match rest.rsplit_once(':') {
        Some((file, line)) if line.parse::<u64>().is_ok() => {
            Some((file, line.parse().ok()?, Some(last)))
        }
        _ => Some((rest, last, None)),
    }
}

/// The panic location in a stack (`panicked at FILE:LINE:COL`).
fn panic_in_stack(stack: &str) -> Option<&str> {
    let at = stack.find("panicked at ")? + "panicked at ".len();
    let rest = &stack[at..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches(':'))
}

/// A rustdoc test's name: `<file> - <item> (line N)`.
fn is_doctest(test: &str) -> bool {
    let name = test.split_once(' ').map_or(test, |(_, n)| n);
    name.ends_with(')') && name.contains(" - ") && name.contains("(line ")
}

/// What is known of a test from its `test_start`.
#[derive(Clone, Debug, Default)]
struct TestInfo {
    path: Option<String>,
    group: String,
    order: usize,
    running: bool,
}

/// A binary's lines not written yet.
#[derive(Debug, Default)]
struct Bin {
    /// Output lines (and `---- test ----` headers), held while another
    /// binary's group is open.
    output: Vec<String>,
    /// Annotations, written after the binary's group.
    notes: Vec<String>,
    /// The test of the last output line, for the headers.
    last_test: Option<Option<String>>,
}

/// Results per status: expected, unexpected, known intermittent.
type Row = [u64; 3];

/// A row of the unexpected-results table.
#[derive(Debug)]
struct Unexpected {
    test: String,
    result: String,
    loc: Option<Loc>,
    message: Option<String>,
}

/// The github sink.
pub struct Github {
    out: Output,
    summary: Option<Output>,
    /// Commands are stopped (test output is being written).
    stopped: bool,
    token: String,
    /// Mixed into each token.
    secret: u64,
    workspace: Option<String>,
    suites: Vec<String>,
    tests: HashMap<String, TestInfo>,
    started: usize,
    /// The group `suite_start` lists each test under.
    listed: HashMap<String, String>,
    /// Per group, the listed tests without a result yet.
    remaining: HashMap<String, HashSet<String>>,
    /// Groups all of whose listed tests have a result.
    done: HashSet<String>,
    /// Process id → group, for output lines that name no test.
    processes: HashMap<String, String>,
    bins: HashMap<String, Bin>,
    /// Groups with held lines, in the order they first had some.
    queue: Vec<String>,
    open: Option<String>,
    counts: BTreeMap<Status, Row>,
    subtests: Row,
    incomplete: u64,
    unexpected: Vec<Unexpected>,
    errors: Vec<String>,
}

/// The token before any `suite_start`.
const DEFAULT_TOKEN: &str = "cargo-structlog-output";

/// A secret for [`Github::new`], from the system's randomness (through the
/// keys std's `RandomState` draws for each hasher).
pub fn random_secret() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}

/// FNV-1a: a hash for the stop-commands token.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Github {
    /// A sink writing commands to `out` and, at the end, the job summary to
    /// `summary` (appended). `secret` makes the stop-commands token
    /// unpredictable: give [`random_secret`] outside tests.
    pub fn new(out: Output, summary: Option<Output>, secret: u64) -> Github {
        Github {
            out,
            summary,
            secret,
            stopped: false,
            token: DEFAULT_TOKEN.to_string(),
            workspace: None,
            suites: Vec::new(),
            tests: HashMap::new(),
            started: 0,
            listed: HashMap::new(),
            remaining: HashMap::new(),
            done: HashSet::new(),
            processes: HashMap::new(),
            bins: HashMap::new(),
            queue: Vec::new(),
            open: None,
            counts: BTreeMap::new(),
            subtests: [0; 3],
            incomplete: 0,
            unexpected: Vec::new(),
            errors: Vec::new(),
        }
    }

    // --- the stream of lines ---

    /// Writes a workflow command, resuming commands first if they are stopped.
    fn cmd(&mut self, line: &str) -> io::Result<()> {
        self.resume()?;
        writeln!(self.out, "{line}")
    }

    /// Writes a line of test output, with commands stopped.
    fn text(&mut self, line: &str) -> io::Result<()> {
        if !self.stopped {
            writeln!(self.out, "::stop-commands::{}", self.token)?;
            self.stopped = true;
        }
        writeln!(self.out, "{line}")
    }

    fn resume(&mut self) -> io::Result<()> {
        if self.stopped {
            writeln!(self.out, "::{}::", self.token)?;
            self.stopped = false;
        }
        Ok(())
    }

    fn enqueue(&mut self, group: &str) {
        if self.open.as_deref() != Some(group) && !self.queue.iter().any(|g| g == group) {
            self.queue.push(group.to_string());
        }
    }

    /// A line of a binary's output: out now if its group is open, else held.
    fn output_line(&mut self, group: &str, line: String) -> io::Result<()> {
        if self.open.as_deref() == Some(group) {
            return self.text(&line);
        }
        self.bins
            .entry(group.to_string())
            .or_default()
            .output
            .push(line);
        self.enqueue(group);
        self.settle()
    }

    /// An annotation about a binary's test: written after its group.
    fn note(&mut self, group: &str, line: String) -> io::Result<()> {
        self.bins
            .entry(group.to_string())
            .or_default()
            .notes
            .push(line);
        self.enqueue(group);
        self.settle()
    }

    /// Writes whatever can go out now: closes the open group once its binary
    /// is done, then opens the next one with held output (or writes the
    /// annotations of a done binary that printed nothing).
    fn settle(&mut self) -> io::Result<()> {
        loop {
            if let Some(g) = self.open.clone() {
                if !self.done.contains(&g) {
                    return Ok(());
                }
                self.open = None;
                self.cmd("::endgroup::")?;
                let bin = self.bins.remove(&g).unwrap_or_default();
                for n in &bin.notes {
                    self.cmd(n)?;
                }
                continue;
            }
            let next = self.queue.iter().position(|g| {
                self.bins.get(g).is_some_and(|b| !b.output.is_empty()) || self.done.contains(g)
            });
            let Some(i) = next else {
                return Ok(());
            };
            let g = self.queue.remove(i);
            let bin = self.bins.entry(g.clone()).or_default();
            if bin.output.is_empty() {
                let bin = self.bins.remove(&g).unwrap_or_default();
                for n in &bin.notes {
                    self.cmd(n)?;
                }
                continue;
            }
            let lines = std::mem::take(&mut bin.output);
            self.cmd(&format!("::group::{}", escape_data(&clean(&g, 1024))))?;
            for l in &lines {
                self.text(l)?;
            }
            self.open = Some(g);
        }
    }

    /// The end of a suite: tests still running did not finish, and every
    /// held line goes out.
    fn end_of_suite(&mut self) -> io::Result<()> {
        let mut running: Vec<(usize, String)> = self
            .tests
            .iter()
            .filter(|(_, t)| t.running)
            .map(|(id, t)| (t.order, id.clone()))
            .collect();
        running.sort();
        for (_, test) in running {
            let info = self.tests.get_mut(&test).expect("a known test");
            info.running = false;
            let (path, group) = (info.path.clone(), info.group.clone());
            self.incomplete += 1;
            let loc = self.location(&test, path.as_deref(), None, None);
            let line = Self::annotation(
                "error",
                loc.as_ref(),
                &format!("{test}: did not finish"),
                "the log ends before this test's result (a run cut short?)",
            );
            self.unexpected.push(Unexpected {
                test: test.clone(),
                result: "did not finish".into(),
                loc,
                message: None,
            });
            self.note(&group, line)?;
        }
        let groups: Vec<String> = self.bins.keys().cloned().collect();
        self.done.extend(groups);
        if let Some(g) = self.open.clone() {
            self.done.insert(g);
        }
        self.settle()?;
        self.resume()
    }

    // --- what entries mean ---

    /// The binary (mozlog group) of a test.
    fn group_of(&self, test: &str, given: Option<&str>) -> String {
        given
            .or_else(|| self.tests.get(test).map(|t| t.group.as_str()))
            .or_else(|| self.listed.get(test).map(String::as_str))
            .or_else(|| test.split_once(' ').map(|(g, _)| g))
            .unwrap_or("tests")
            .to_string()
    }

    /// A path from the log, relative to the workspace root; `None` outside it.
    fn relative(&self, file: &str) -> Option<String> {
        let file = file.replace('\\', "/");
        let file = file.strip_prefix("./").unwrap_or(&file);
        if file.is_empty() {
            return None;
        }
        if file.starts_with('/') {
            let root = self.workspace.as_deref()?.trim_end_matches('/');
            let rel = file.strip_prefix(root)?.strip_prefix('/')?;
            return (!rel.is_empty()).then(|| rel.to_string());
        }
        if file.starts_with("../") {
            return None;
        }
        Some(file.to_string())
    }

    /// Where to annotate a test's result (see the module doc).
    fn location(
        &self,
        test: &str,
        path: Option<&str>,
        line: Option<u64>,
        panic: Option<&str>,
    ) -> Option<Loc> {
        if !is_doctest(test) {
            if let Some((file, line, col)) = panic.and_then(parse_location) {
                if let Some(file) = self.relative(file) {
                    return Some(Loc {
                        file,
                        line: Some(line),
                        col,
                    });
                }
            }
        }
        let file = self.relative(path?)?;
        Some(Loc {
            file,
            line,
            col: None,
        })
    }

    fn end_location(&self, e: &TestEnd) -> Option<Loc> {
        let path = self.tests.get(&e.test).and_then(|t| t.path.clone());
        let panic = e
            .extra_str("panic_location")
            .or_else(|| e.stack.as_deref().and_then(panic_in_stack));
        self.location(&e.test, path.as_deref(), e.extra_u64("line"), panic)
    }

    /// The message of an annotation: the result's message and stack.
    fn message(message: Option<&str>, stack: Option<&str>, fallback: &str) -> String {
        let mut m = message
            .filter(|m| !m.trim().is_empty())
            .unwrap_or(fallback)
            .trim_end()
            .to_string();
        if let Some(s) = stack.filter(|s| !s.trim().is_empty()) {
            m.push_str("\n\n");
            m.push_str(s.trim_end());
        }
        escape_data(&clean(&m, MAX_MESSAGE))
    }

    fn annotation(kind: &str, loc: Option<&Loc>, title: &str, message: &str) -> String {
        format!(
            "::{kind} {}title={}::{message}",
            Loc::properties(loc),
            escape_property(&clean(title, 1024))
        )
    }

    /// The statuses of `extra.attempts` when they are not all the final one.
    fn flaky_attempts(e: &TestEnd) -> Option<Vec<Status>> {
        let attempts = e.extra.as_ref()?.get("attempts")?.as_array()?;
        let statuses: Vec<Status> = attempts
            .iter()
            .filter_map(|a| match a {
                Value::String(s) => Status::parse(s),
                Value::Object(o) => o.get("status")?.as_str().and_then(Status::parse),
                _ => None,
            })
            .collect();
        statuses.iter().any(|s| *s != e.status).then_some(statuses)
    }

    fn test_end(&mut self, e: &TestEnd) -> io::Result<()> {
        let group = self.group_of(&e.test, e.group.as_deref());
        if let Some(t) = self.tests.get_mut(&e.test) {
            t.running = false;
        }
        let expected = e.expected_status();
        let loc = self.end_location(e);
        let row = self.counts.entry(e.status).or_default();
        if e.is_unexpected() {
            row[1] += 1;
        } else {
            row[0] += 1;
            if e.is_known_intermittent() {
                row[2] += 1;
            }
        }
        if e.is_unexpected() {
            let title = format!("{}: {}, expected {expected}", e.test, e.status);
            let msg = Self::message(
                e.message.as_deref(),
                e.stack.as_deref(),
                &format!("{}, expected {expected}", e.status),
            );
            self.unexpected.push(Unexpected {
                test: e.test.clone(),
                result: format!("{}, expected {expected}", e.status),
                loc: loc.clone(),
                message: e.message.clone(),
            });
            self.note(
                &group,
                Self::annotation("error", loc.as_ref(), &title, &msg),
            )?;
        } else if e.is_known_intermittent() {
            let title = format!(
                "{}: known intermittent {}, expected {expected}",
                e.test, e.status
            );
            let msg = Self::message(
                e.message.as_deref(),
                None,
                &format!("{} is a known intermittent result", e.status),
            );
            self.note(
                &group,
                Self::annotation("warning", loc.as_ref(), &title, &msg),
            )?;
        } else {
            if let Some(attempts) = Self::flaky_attempts(e) {
                let list: Vec<&str> = attempts.iter().map(|s| s.as_str()).collect();
                let title = format!(
                    "{}: flaky, {} after {} attempts",
                    e.test,
                    e.status,
                    list.len()
                );
                let msg = escape_data(&format!("attempts: {}", list.join(", ")));
                self.note(
                    &group,
                    Self::annotation("warning", loc.as_ref(), &title, &msg),
                )?;
            }
        }
        let now_done = match self.remaining.get_mut(&group) {
            Some(left) => left.remove(&e.test) && left.is_empty(),
            None => false,
        };
        if now_done {
            self.done.insert(group);
            self.settle()?;
        }
        Ok(())
    }

    fn test_status(&mut self, s: &TestStatus) -> io::Result<()> {
        let known = s.known_intermittent.contains(&s.status);
        let expected = s.expected.unwrap_or(s.status);
        if s.expected.is_none() {
            self.subtests[0] += 1;
            return Ok(());
        }
        let group = self.group_of(&s.test, s.group.as_deref());
        let path = self.tests.get(&s.test).and_then(|t| t.path.clone());
        let loc = self.location(&s.test, path.as_deref(), None, None);
        let name = format!("{} / {}", s.test, s.subtest);
        let line = if known {
            self.subtests[0] += 1;
            self.subtests[2] += 1;
            let title = format!(
                "{name}: known intermittent {}, expected {expected}",
                s.status
            );
            let msg = Self::message(
                s.message.as_deref(),
                None,
                &format!("{} is a known intermittent result", s.status),
            );
            Self::annotation("warning", loc.as_ref(), &title, &msg)
        } else {
            self.subtests[1] += 1;
            self.unexpected.push(Unexpected {
                test: name.clone(),
                result: format!("{}, expected {expected}", s.status),
                loc: loc.clone(),
                message: s.message.clone(),
            });
            let title = format!("{name}: {}, expected {expected}", s.status);
            let msg = Self::message(
                s.message.as_deref(),
                s.stack.as_deref(),
                &format!("{}, expected {expected}", s.status),
            );
            Self::annotation("error", loc.as_ref(), &title, &msg)
        };
        self.note(&group, line)
    }

    fn suite_start(&mut self, e: &Entry, s: &crate::model::SuiteStart) -> io::Result<()> {
        // A suite that did not end (logs put together) is ended first, and
        // commands resume under the old token before the new one is chosen.
        self.end_of_suite()?;
        let seed = fnv1a(e.to_json().as_bytes()) ^ self.secret;
        self.token = format!("structlog-{:016x}", fnv1a(&seed.to_le_bytes()));
        self.workspace = s
            .run_info
            .as_ref()
            .and_then(|r| r.get("workspace"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(n) = &s.name {
            if !self.suites.contains(n) {
                self.suites.push(n.clone());
            }
        }
        self.listed.clear();
        self.remaining.clear();
        self.done.clear();
        self.processes.clear();
        for (group, tests) in s.tests.groups().iter() {
            for t in tests {
                self.listed.insert(t.clone(), group.clone());
            }
            self.remaining
                .insert(group.clone(), tests.iter().cloned().collect());
        }
        Ok(())
    }

    fn process_output(&mut self, e: &Entry, p: &crate::model::ProcessOutput) -> io::Result<()> {
        let group = match &p.test {
            Some(t) => {
                let g = self.group_of(t, None);
                self.processes.insert(p.process.clone(), g.clone());
                g
            }
            None => self
                .processes
                .get(&p.process)
                .or_else(|| self.processes.get(&e.pid.to_string()))
                .cloned()
                .unwrap_or_else(|| format!("process {}", p.process)),
        };
        let bin = self.bins.entry(group.clone()).or_default();
        let header = if bin.last_test.as_ref() != Some(&p.test) {
            bin.last_test = Some(p.test.clone());
            Some(match &p.test {
                Some(t) => format!("---- {} ----", clean(t, 1024)),
                None => "---- (outside a test) ----".to_string(),
            })
        } else {
            None
        };
        if let Some(h) = header {
            self.output_line(&group, h)?;
        }
        self.output_line(&group, safe_text(&p.data, Ansi::KeepColors).into_owned())
    }

    // --- the job summary ---

    fn summary_markdown(&self) -> String {
        // A blank line first: whatever the file holds already ends its
        // paragraph or table there.
        let mut md = String::from("\n");
        let title = if self.suites.is_empty() {
            "Test results".to_string()
        } else {
            format!("Test results: {}", self.suites.join(", "))
        };
        md.push_str(&format!("## {}\n\n", md_escape(&title)));
        let total: u64 = self.counts.values().map(|r| r[0] + r[1]).sum::<u64>() + self.incomplete;
        let unexpected: u64 = self.counts.values().map(|r| r[1]).sum::<u64>() + self.subtests[1];
        let intermittent: u64 = self.counts.values().map(|r| r[2]).sum::<u64>() + self.subtests[2];
        let mut outcome = if unexpected + self.incomplete == 0 && self.errors.is_empty() {
            if total == 0 {
                "**No test ran**".to_string()
            } else {
                format!(
                    "**Every result was expected** ({})",
                    plural(total, "test", "tests")
                )
            }
        } else {
            let mut parts = Vec::new();
            if unexpected > 0 {
                parts.push(plural(
                    unexpected,
                    "unexpected result",
                    "unexpected results",
                ));
            }
            if self.incomplete > 0 {
                parts.push(format!(
                    "{} that did not finish",
                    plural(self.incomplete, "test", "tests")
                ));
            }
            if !self.errors.is_empty() {
                parts.push(plural(
                    self.errors.len() as u64,
                    "harness error",
                    "harness errors",
                ));
            }
            let mut s = format!("**{}**", parts.join(", "));
            if total > 0 {
                s.push_str(&format!(" in {}", plural(total, "test", "tests")));
            }
            s
        };
        if intermittent > 0 {
            outcome.push_str(&format!(", {intermittent} known intermittent"));
        }
        md.push_str(&outcome);
        md.push_str(".\n\n");
        if !self.counts.is_empty() {
            md.push_str("| Status | Expected | Unexpected | Known intermittent |\n");
            md.push_str("| :-- | --: | --: | --: |\n");
            let mut sum = [0u64; 3];
            for (status, row) in &self.counts {
                md.push_str(&format!(
                    "| {status} | {} | {} | {} |\n",
                    row[0], row[1], row[2]
                ));
                for i in 0..3 {
                    sum[i] += row[i];
                }
            }
            md.push_str(&format!(
                "| **All** | **{}** | **{}** | **{}** |\n\n",
                sum[0], sum[1], sum[2]
            ));
        }
        let subtests = self.subtests[0] + self.subtests[1];
        if subtests > 0 {
            md.push_str(&format!(
                "Subtests: {}, {} unexpected.\n\n",
                subtests, self.subtests[1]
            ));
        }
        if !self.unexpected.is_empty() {
            md.push_str("### Unexpected results\n\n");
            md.push_str("| Test | Result | Location | Message |\n");
            md.push_str("| :-- | :-- | :-- | :-- |\n");
            for u in self.unexpected.iter().take(MAX_ROWS) {
                let message = u
                    .message
                    .as_deref()
                    .and_then(|m| m.lines().find(|l| !l.trim().is_empty()))
                    .unwrap_or("");
                md.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    md_escape(&u.test),
                    md_escape(&u.result),
                    u.loc
                        .as_ref()
                        .map(|l| md_escape(&l.short()))
                        .unwrap_or_default(),
                    md_escape(&clean(message, 200)),
                ));
            }
            if self.unexpected.len() > MAX_ROWS {
                md.push_str(&format!(
                    "| ... and {} more | | | |\n",
                    self.unexpected.len() - MAX_ROWS
                ));
            }
            md.push('\n');
        }
        if !self.errors.is_empty() {
            md.push_str("### Errors\n\n");
            for e in &self.errors {
                md.push_str("```text\n");
                md.push_str(&clean(e, MAX_MESSAGE).replace("```", "'''"));
                md.push_str("\n```\n\n");
            }
        }
        md
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Text for a Markdown table cell: one line, with what Markdown or HTML
/// would read escaped.
fn md_escape(s: &str) -> String {
    let s = clean(s, usize::MAX);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' | '\t' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

impl Sink for Github {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        match &e.action {
            Action::SuiteStart(s) => self.suite_start(e, s),
            Action::SuiteEnd(_) => self.end_of_suite(),
            Action::TestStart(t) => {
                let group = self.group_of(&t.test, t.group.as_deref());
                self.processes.insert(e.pid.to_string(), group.clone());
                self.started += 1;
                self.tests.insert(
                    t.test.clone(),
                    TestInfo {
                        path: t.path.clone(),
                        group,
                        order: self.started,
                        running: true,
                    },
                );
                Ok(())
            }
            Action::TestStatus(s) => self.test_status(s),
            Action::TestEnd(end) => self.test_end(end),
            Action::ProcessOutput(p) => self.process_output(e, p),
            Action::Log(l) => {
                if !matches!(l.level, Level::Error | Level::Critical) {
                    return Ok(());
                }
                self.errors.push(l.message.clone());
                let title = format!("{} {}", e.source, l.level);
                let msg = Self::message(Some(&l.message), l.stack.as_deref(), "");
                self.cmd(&Self::annotation("error", None, &title, &msg))
            }
            Action::Crash(c) => {
                // A test's crash is reported with its result (CRASH).
                if c.test.is_some() {
                    return Ok(());
                }
                let process = c.process.as_deref().unwrap_or("?");
                let title = format!("process {process} crashed: {}", c.signature);
                let msg = Self::message(
                    c.reason.as_deref(),
                    c.stackwalk_stdout.as_deref(),
                    &c.signature,
                );
                self.errors
                    .push(format!("process {process} crashed: {}", c.signature));
                self.cmd(&Self::annotation("error", None, &title, &msg))
            }
            Action::ProcessStart(_)
            | Action::ProcessExit(_)
            | Action::GroupStart(_)
            | Action::GroupEnd(_)
            | Action::AddSubsuite(_)
            | Action::Shutdown
            | Action::Other { .. } => Ok(()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.end_of_suite()?;
        self.out.flush()?;
        let md = self.summary_markdown();
        if let Some(s) = self.summary.as_mut() {
            s.write_all(md.as_bytes())?;
            s.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Origin, SuiteStart, TestStart};
    use crate::sink::testing::{render, stream, SharedBuf};

    /// The commands and the job summary of a recorded stream.
    fn github(name: &str) -> (String, String) {
        let summary = SharedBuf::default();
        let s = summary.clone();
        let out = render(&stream(name, false), |o| {
            Github::new(o, Some(Box::new(s)), 0)
        });
        (out, summary.text())
    }

    #[test]
    fn statuses() {
        let (out, summary) = github("statuses");
        insta::assert_snapshot!("statuses", out);
        insta::assert_snapshot!("statuses_summary", summary);
    }

    #[test]
    fn incomplete_build_failed_and_empty_runs() {
        for (name, file) in [
            ("incomplete", "incomplete"),
            ("build_failed", "build-failed"),
            ("empty", "empty"),
        ] {
            let (out, summary) = github(file);
            insta::assert_snapshot!(name, out);
            insta::assert_snapshot!(format!("{name}_summary"), summary);
        }
    }

    #[test]
    fn annotations_point_at_the_panic_or_the_test() {
        let (out, _) = github("statuses");
        let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("::error ")).collect();
        // Unexpected: fails, no_panic, wrong_message, hangs, crashes, the
        // subtest, unicode, hostile; and the two ERROR/CRITICAL logs.
        assert_eq!(errors.len(), 10, "{out}");
        assert!(out.contains(
            "::error file=demo/src/lib.rs,line=20,col=9,title=demo tests%3A%3Afails%3A FAIL%2C expected PASS::assertion `left == right` failed%0A  left: 1%0A right: 2%0A%0Apanicked at demo/src/lib.rs:20:9"
        ), "{out}");
        // No panic location: the test's own line.
        assert!(out.contains("::error file=demo/src/lib.rs,line=44,title=demo tests%3A%3Ashould_panic_no_panic%3A PASS%2C expected FAIL::"), "{out}");
        // The panic in the stack when extra has none.
        assert!(out.contains("::error file=demo/src/lib.rs,line=40,col=9,title=demo tests%3A%3Ashould_panic_wrong_message"), "{out}");
        let warnings: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("::warning "))
            .collect();
        assert_eq!(warnings.len(), 1, "{out}");
        assert!(warnings[0].contains("known intermittent FAIL"), "{out}");
        // Every binary's output is one group, its annotations after it.
        assert_eq!(out.matches("::group::").count(), 2);
        assert_eq!(out.matches("::endgroup::").count(), 2);
        let end_demo = out.find("::endgroup::").unwrap();
        let first_error = out.find("::error file=").unwrap();
        assert!(end_demo < first_error, "{out}");
    }

    #[test]
    fn escaping_follows_githubs_rules() {
        assert_eq!(
            escape_data("100% done\r\nnext: a, b"),
            "100%25 done%0D%0Anext: a, b"
        );
        assert_eq!(
            escape_property("100% done\r\nnext: a, b"),
            "100%25 done%0D%0Anext%3A a%2C b"
        );
        // `%` first, so an escape is never escaped twice.
        assert_eq!(escape_property("%3A"), "%253A");
        let mut end = TestEnd::new("g a:b,c%d", Status::Fail);
        end.set_expected(Status::Pass);
        end.message = Some("\u{1b}[31mred\u{1b}[0m 50%\r\nline two: x, y".into());
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        let entries = [
            o.entry(
                1,
                Action::TestStart(TestStart {
                    test: end.test.clone(),
                    path: Some("src/a,b:c.rs".into()),
                    subsuite: None,
                    group: Some("g".into()),
                }),
            ),
            o.entry(2, Action::TestEnd(end)),
        ];
        let out = render(&entries, |o| Github::new(o, None, 0));
        assert_eq!(
            out.trim_end(),
            "::error file=src/a%2Cb%3Ac.rs,title=g a%3Ab%2Cc%25d%3A FAIL%2C expected PASS::red 50%25%0D%0Aline two: x, y"
        );
    }

    #[test]
    fn output_cannot_pass_for_commands_and_interleaved_binaries_stay_whole() {
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        let start = |t: &str, g: &str| {
            Action::TestStart(TestStart {
                test: t.into(),
                path: None,
                subsuite: None,
                group: Some(g.into()),
            })
        };
        let output = |t: &str, d: &str| {
            Action::ProcessOutput(crate::model::ProcessOutput {
                process: "9".into(),
                data: d.into(),
                command: None,
                test: Some(t.into()),
                subsuite: None,
            })
        };
        let mut tests = crate::model::TestGroups::new();
        tests.insert("a".into(), vec!["a x".into()]);
        tests.insert("b".into(), vec!["b y".into()]);
        let actions = vec![
            Action::SuiteStart(SuiteStart {
                tests: tests.into(),
                ..Default::default()
            }),
            start("a x", "a"),
            start("b y", "b"),
            output("a x", "a1"),
            output("b y", "::error::b1"),
            output("a x", "a2"),
            Action::TestEnd(TestEnd::new("a x", Status::Pass)),
            output("b y", "b2"),
            Action::TestEnd(TestEnd::new("b y", Status::Pass)),
        ];
        let entries: Vec<Entry> = actions
            .into_iter()
            .enumerate()
            .map(|(i, a)| o.entry(i as u64, a))
            .collect();
        let out = render(&entries, |o| Github::new(o, None, 0));
        let token = out
            .lines()
            .find_map(|l| l.strip_prefix("::stop-commands::"))
            .expect("commands are stopped around output")
            .to_string();
        let resume = format!("::{token}::");
        let want = [
            "::group::a",
            &format!("::stop-commands::{token}"),
            "---- a x ----",
            "a1",
            "a2",
            &resume,
            "::endgroup::",
            "::group::b",
            &format!("::stop-commands::{token}"),
            "---- b y ----",
            "::error::b1",
            "b2",
            &resume,
            "::endgroup::",
        ];
        assert_eq!(out.lines().collect::<Vec<_>>(), want);
    }

    #[test]
    fn flaky_attempts_warn() {
        let mut end = TestEnd::new("g t", Status::Pass);
        let mut extra = serde_json::Map::new();
        extra.insert(
            "attempts".into(),
            serde_json::json!(["FAIL", {"status": "PASS"}]),
        );
        end.extra = Some(extra);
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        let out = render(&[o.entry(1, Action::TestEnd(end.clone()))], |o| {
            Github::new(o, None, 0)
        });
        assert_eq!(
            out.trim_end(),
            "::warning title=g t%3A flaky%2C PASS after 2 attempts::attempts: FAIL, PASS"
        );
        end.extra.as_mut().unwrap()["attempts"] = serde_json::json!(["PASS"]);
        let out = render(&[o.entry(1, Action::TestEnd(end))], |o| {
            Github::new(o, None, 0)
        });
        assert_eq!(out, "");
    }

    #[test]
    fn locations_stay_in_the_workspace() {
        let mut g = Github::new(Box::new(SharedBuf::default()), None, 0);
        g.workspace = Some("/src/demo".into());
        let loc = |g: &Github, test, path, line, panic| g.location(test, path, line, panic);
        assert_eq!(
            loc(
                &g,
                "a t",
                Some("a/src/lib.rs"),
                Some(3),
                Some("/src/demo/a/src/x.rs:7:2")
            ),
            Some(Loc {
                file: "a/src/x.rs".into(),
                line: Some(7),
                col: Some(2)
            })
        );
        // A panic in a dependency: the test's own place.
        assert_eq!(
            loc(
                &g,
                "a t",
                Some("a/src/lib.rs"),
                Some(3),
                Some("/home/u/.cargo/registry/src/x-1/src/lib.rs:1:1")
            ),
            Some(Loc {
                file: "a/src/lib.rs".into(),
                line: Some(3),
                col: None
            })
        );
        // A doctest's panic counts lines of the generated program.
        assert_eq!(
            loc(
                &g,
                "a::doc a/src/lib.rs - add (line 11)",
                Some("a/src/lib.rs"),
                Some(11),
                Some("a/src/lib.rs:5:1")
            )
            .unwrap()
            .line,
            Some(11)
        );
        assert_eq!(loc(&g, "a t", None, Some(3), None), None);
        assert_eq!(
            panic_in_stack("x\npanicked at a/b.rs:1:2:\nmore"),
            Some("a/b.rs:1:2")
        );
        assert_eq!(parse_location("C:/x.rs:3:4"), Some(("C:/x.rs", 3, Some(4))));
        assert_eq!(parse_location("x.rs:3"), Some(("x.rs", 3, None)));
    }

    #[test]
    fn the_summary_escapes_markdown() {
        assert_eq!(
            md_escape("a|b <i>*x*</i> `c` \u{1b}[1mbold\u{1b}[0m\nnext"),
            "a\\|b &lt;i&gt;\\*x\\*&lt;/i&gt; \\`c\\` bold next"
        );
        let (_, summary) = github("statuses");
        assert!(summary.starts_with("\n## Test results: demo\n\n**8 unexpected results, 2 harness errors** in 14 tests, 1 known intermittent.\n"), "{summary}");
        assert!(summary.contains("| FAIL | 2 | 3 | 1 |\n"), "{summary}");
        assert!(summary.contains("| demo tests::fails | FAIL, expected PASS | demo/src/lib.rs:20 | assertion \\`left == right\\` failed |\n"), "{summary}");
        assert!(summary.contains("| demo tests::with\\_subtests / second | FAIL, expected PASS |  | second subtest failed |"), "{summary}");
    }
}
