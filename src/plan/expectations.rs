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
//!
//! A top-level `doctests = "standalone"` (or `"merged"`, the default) says
//! how rustdoc compiles the doctests, as `--doctests` does.

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
    /// `doctests`: how rustdoc compiles the doctests.
    pub doctests: Option<crate::plan::DoctestMode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    test: Vec<toml::Spanned<Entry>>,
    doctests: Option<toml::Spanned<String>>,
    /// Run options, read by the command line's reader.
    #[serde(default, rename = "profile")]
    _profile: Option<toml::Value>,
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
            .map_err(|e| Error::caused(format!("{}: cannot read", path.display()), e))?;
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
        if let Some(d) = file.doctests {
            let line = line_of(text, d.span().start);
            out.doctests = Some(crate::plan::DoctestMode::parse(d.get_ref()).ok_or_else(|| {
                Error::Setup(format!(
                    "{}:{line}: `doctests` is `merged` or `standalone`, not `{}`",
                    path.display(),
                    d.get_ref()
                ))
            })?);
        }
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
    fn doctests_say_how_rustdoc_compiles_them() {
        use crate::plan::DoctestMode;
        assert_eq!(parse("").unwrap().doctests, None);
        let x = parse("doctests = \"standalone\"\n[[test]]\nid = \"a\"\nexpected = \"FAIL\"\n");
        assert_eq!(x.unwrap().doctests, Some(DoctestMode::Standalone));
        assert_eq!(
            parse("doctests = \"merged\"").unwrap().doctests,
            Some(DoctestMode::Merged)
        );
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
            (
                "\ndoctests = \"fast\"\n",
                "structlog.toml:2: `doctests` is `merged` or `standalone`, not `fast`",
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
