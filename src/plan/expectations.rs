//! Expected statuses and known intermittents (`--expectations FILE`, by
//! default `structlog.toml` at the workspace root when it exists).
//!
//! ```toml
//! [[test]]
//! id = "*always_broken"            # a test id, or a pattern with * and ?
//! expected = "FAIL"                # any mozlog status
//! reason = "broken since the parser rewrite"
//! issue = "https://example.com/issues/42"
//!
//! [[test]]
//! id = "alpha::it_net fetches"
//! known_intermittent = ["FAIL", "TIMEOUT"]
//! ```
//!
//! Each `[[test]]` needs `id` and `expected` and/or `known_intermittent`. An
//! id with `*` or `?` is a glob over test ids (`*` matches any text, `/` and
//! spaces included); any other id is compared whole. The first entry that
//! matches a test applies to it: its `expected` replaces the status the test
//! would otherwise be expected to have, and its `known_intermittent`
//! statuses are counted as expected, as mozlog counts them.

use crate::error::Error;
use crate::model::Status;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One `[[test]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub id: String,
    pub expected: Option<Status>,
    pub known_intermittent: Vec<Status>,
    pub reason: Option<String>,
    pub issue: Option<String>,
    /// Where the entry is, for messages.
    pub line: usize,
}

/// An expectations file.
#[derive(Debug, Default)]
pub struct Expectations {
    pub path: PathBuf,
    pub entries: Vec<Expectation>,
    matchers: Vec<Option<globset::GlobMatcher>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    test: Vec<toml::Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    expected: Option<Status>,
    #[serde(default)]
    known_intermittent: Vec<Status>,
    reason: Option<String>,
    issue: Option<String>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Expectations {
    /// Reads and checks a file; a malformed one is an error naming its line.
    pub fn load(path: &Path) -> Result<Expectations, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Setup(format!("{}: cannot read: {e}", path.display())))?;
        Expectations::parse(&text, path)
    }

    /// Parses the text of a file named `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Expectations, Error> {
        let file: File = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| format!(":{}", line_of(text, s.start)))
                .unwrap_or_default();
            Error::Setup(format!(
                "{}{at}: {}",
                path.display(),
                e.message().trim_end()
            ))
        })?;
        let mut out = Expectations {
            path: path.to_path_buf(),
            ..Default::default()
        };
        for spanned in file.test {
            let line = line_of(text, spanned.span().start);
            let e = spanned.into_inner();
            let err = |msg: String| Error::Setup(format!("{}:{line}: {msg}", path.display()));
            if e.id.is_empty() {
                return Err(err("`id` is empty".into()));
            }
            if e.expected.is_none() && e.known_intermittent.is_empty() {
                return Err(err(format!(
                    "the entry for `{}` needs `expected` or `known_intermittent`",
                    e.id
                )));
            }
            let matcher = if e.id.contains(['*', '?']) {
                let glob = globset::GlobBuilder::new(&e.id)
                    .literal_separator(false)
                    .backslash_escape(true)
                    .build()
                    .map_err(|g| err(format!("`{}` is not a valid pattern: {g}", e.id)))?;
                Some(glob.compile_matcher())
            } else {
                None
            };
            out.matchers.push(matcher);
            out.entries.push(Expectation {
                id: e.id,
                expected: e.expected,
                known_intermittent: e.known_intermittent,
                reason: e.reason,
                issue: e.issue,
                line,
            });
        }
        Ok(out)
    }

    /// The index of the first entry that matches a test id.
    pub fn lookup(&self, test_id: &str) -> Option<usize> {
        self.entries
            .iter()
            .zip(&self.matchers)
            .position(|(e, m)| match m {
                Some(m) => m.is_match(test_id),
                None => e.id == test_id,
            })
    }
}

/// `cargo structlog expectations --from LOG... [-o FILE]`.
pub fn command(args: crate::cli::ExpectationsArgs) -> Result<i32, Error> {
    let text = generate(&args.from)?;
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Error::Setup(format!("{}: cannot write: {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(crate::error::exit::OK)
}

/// One test's results across runs: (status, expected status) per run.
type Seen = Vec<(Status, Status)>;

/// `cargo structlog expectations --from LOG...`: an expectations file from
/// runs' raw logs, so a suite that is not green today can adopt the tool.
/// A test whose result was unexpected with the same status in every run
/// gets `expected = STATUS`; a test whose status varied gets the statuses it
/// had besides its expected one as `known_intermittent`. Tests always as
/// expected are left out. Malformed lines are skipped with a warning.
pub fn generate(logs: &[PathBuf]) -> Result<String, Error> {
    use crate::model::Action;
    use std::collections::BTreeMap;
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for log in logs {
        let reader = crate::logs::replay::LogReader::open(log)
            .map_err(|e| Error::Setup(format!("{}: cannot read: {e}", log.display())))?;
        for item in reader {
            let (line, entry) =
                item.map_err(|e| Error::Setup(format!("{}: cannot read: {e}", log.display())))?;
            match entry {
                Ok(e) => {
                    if let Action::TestEnd(end) = e.action {
                        let expected = end.expected_status();
                        seen.entry(end.test)
                            .or_default()
                            .push((end.status, expected));
                    }
                }
                Err(err) => eprintln!(
                    "cargo-structlog: warning: {}:{line}: skipped: {err}",
                    log.display()
                ),
            }
        }
    }
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let names: Vec<String> = logs.iter().map(|l| l.display().to_string()).collect();
    let mut out = format!(
        "# The tests whose results were not the expected ones in {} run{}:\n# {}\n# (cargo structlog expectations --from ...)\n",
        logs.len(),
        if logs.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    for (test, results) in &seen {
        let runs = results.len();
        let unexpected: Vec<Status> = results
            .iter()
            .filter(|(s, e)| s != e)
            .map(|(s, _)| *s)
            .collect();
        if unexpected.is_empty() {
            continue;
        }
        let first = results[0].0;
        let same = results.iter().all(|(s, _)| *s == first);
        out.push_str(&format!("\n[[test]]\nid = {}\n", quote(test)));
        if same {
            out.push_str(&format!("expected = {}\n", quote(first.as_str())));
            out.push_str(&format!(
                "reason = {}\n",
                quote(&format!("{first} in {runs} of {runs} runs"))
            ));
        } else {
            let mut statuses: Vec<Status> = Vec::new();
            for s in unexpected {
                if !statuses.contains(&s) {
                    statuses.push(s);
                }
            }
            let list: Vec<String> = statuses.iter().map(|s| quote(s.as_str())).collect();
            out.push_str(&format!("known_intermittent = [{}]\n", list.join(", ")));
            let counts: Vec<String> = statuses
                .iter()
                .map(|s| {
                    format!(
                        "{s} in {} of {runs} runs",
                        results.iter().filter(|(x, _)| x == s).count()
                    )
                })
                .collect();
            out.push_str(&format!("reason = {}\n", quote(&counts.join(", "))));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Expectations, Error> {
        Expectations::parse(text, Path::new("structlog.toml"))
    }

    #[test]
    fn entries_match_ids_and_globs() {
        let e = parse(
            "[[test]]\nid = \"*always_broken\"\nexpected = \"FAIL\"\nreason = \"x\"\n\n[[test]]\nid = \"alpha::doc src/lib.rs - f (line 3)\"\nknown_intermittent = [\"FAIL\", \"TIMEOUT\"]\n",
        )
        .unwrap();
        assert_eq!(e.lookup("pkg::it tests::always_broken"), Some(0));
        assert_eq!(e.lookup("alpha::doc src/lib.rs - f (line 3)"), Some(1));
        assert_eq!(e.lookup("alpha::doc src/lib.rs - f (line 33)"), None);
        assert_eq!(
            e.entries[1].known_intermittent,
            vec![Status::Fail, Status::Timeout]
        );
        assert_eq!(e.entries[1].line, 6);
    }

    #[test]
    fn generated_files_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let line = |t: u64, test: &str, status: &str, expected: Option<&str>| {
            let exp = expected
                .map(|e| format!(",\"expected\":\"{e}\""))
                .unwrap_or_default();
            format!("{{\"action\":\"test_end\",\"time\":{t},\"thread\":\"t\",\"pid\":1,\"source\":\"s\",\"test\":\"{test}\",\"status\":\"{status}\"{exp}}}\n")
        };
        let a = dir.path().join("a.log");
        let b = dir.path().join("b.log");
        std::fs::write(
            &a,
            line(1, "p broken", "FAIL", Some("PASS"))
                + &line(2, "p flaky", "FAIL", Some("PASS"))
                + &line(3, "p fine", "PASS", None)
                + "not json\n",
        )
        .unwrap();
        std::fs::write(
            &b,
            line(1, "p broken", "FAIL", Some("PASS"))
                + &line(2, "p flaky", "PASS", None)
                + &line(3, "p fine", "PASS", None),
        )
        .unwrap();
        let text = generate(&[a, b]).unwrap();
        let x = parse(&text).unwrap();
        assert_eq!(x.entries.len(), 2, "{text}");
        let broken = &x.entries[x.lookup("p broken").unwrap()];
        assert_eq!(broken.expected, Some(Status::Fail));
        let flaky = &x.entries[x.lookup("p flaky").unwrap()];
        assert_eq!(
            (flaky.expected, flaky.known_intermittent.clone()),
            (None, vec![Status::Fail])
        );
        assert!(x.lookup("p fine").is_none());
    }

    #[test]
    fn malformed_files_name_their_line() {
        let cases = [
            ("[[test]]\nid = \"a\"\nexpected = \"FAILED\"\n", ":3:"),
            ("[[test]]\nid = \"a\"\n", ":1: the entry for `a` needs"),
            (
                "[[test]]\nid = \"a\"\nexpected = \"FAIL\"\ncolour = 1\n",
                ":4:",
            ),
            ("[[test]\nid = 1", ":1:"),
            (
                "\n\n[[test]]\nid = \"[a*\"\nexpected = \"FAIL\"\n",
                "structlog.toml:3: `[a*` is not a valid pattern",
            ),
        ];
        for (text, want) in cases {
            let msg = parse(text).unwrap_err().to_string();
            assert!(msg.contains(want), "{text:?}: {msg}");
        }
        // `[a` has no wildcard: it is an id compared whole, not a pattern.
        assert!(parse("[[test]]\nid = \"[a\"\nexpected = \"FAIL\"\n").is_ok());
        assert!(parse("[[test]]\nid = \"[a*\"\nexpected = \"FAIL\"\n").is_err());
    }
}
