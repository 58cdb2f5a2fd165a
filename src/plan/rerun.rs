//! Which tests `--last-failed` and `--failed-first` pick out: the tests
//! whose last result in a reference (the kept records of earlier runs, or
//! `--from-log` files) was unexpected or never came.
//!
//! A test is picked by its id. A doctest is picked by its file: its name
//! holds its line, which moves as the file is edited, so every doctest of
//! a file that had a failing one runs again.

use super::flags::TestFlags;
use super::{Harness, TestInfo};
use std::collections::{BTreeMap, BTreeSet};

/// Whether only the picked tests run, or all of them with those first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `--last-failed`.
    Only,
    /// `--failed-first`.
    First,
}

/// The tests to run again.
#[derive(Clone, Debug)]
pub struct Rerun {
    pub mode: Mode,
    /// What the reference was, for messages ("the last run", a file).
    pub source: String,
    /// Test names by binary id (doctests aside).
    tests: BTreeMap<String, BTreeSet<String>>,
    /// Doctest files by binary id.
    doc_files: BTreeMap<String, BTreeSet<String>>,
}

/// Whether a binary id is a package's doctests (`<package>::doc`).
pub fn is_doctest_binary(id: &str) -> bool {
    id.ends_with("::doc")
}

/// The file of a doctest named `<file> - <item> (line N)`.
pub fn doctest_file(name: &str) -> &str {
    name.split(" - ").next().unwrap_or(name)
}

impl Rerun {
    /// The tests of `ids` (`<binary id> <test name>`) to run again.
    pub fn new(mode: Mode, source: String, ids: impl IntoIterator<Item = String>) -> Rerun {
        let mut r = Rerun {
            mode,
            source,
            tests: BTreeMap::new(),
            doc_files: BTreeMap::new(),
        };
        for id in ids {
            let Some((binary, name)) = id.split_once(' ') else {
                continue;
            };
            if is_doctest_binary(binary) {
                r.doc_files
                    .entry(binary.to_string())
                    .or_default()
                    .insert(doctest_file(name).to_string());
            } else {
                r.tests
                    .entry(binary.to_string())
                    .or_default()
                    .insert(name.to_string());
            }
        }
        r
    }

    /// How many tests (doctest files counted once each) are to run again.
    pub fn len(&self) -> usize {
        self.tests.values().map(BTreeSet::len).sum::<usize>()
            + self.doc_files.values().map(BTreeSet::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether any doctest is to run again.
    pub fn has_doctests(&self) -> bool {
        !self.doc_files.is_empty()
    }

    /// Whether a test of binary `binary` is to run again.
    pub fn picks(&self, binary: &str, harness: Harness, name: &str) -> bool {
        if harness == Harness::Rustdoc {
            self.doc_files
                .get(binary)
                .is_some_and(|f| f.contains(doctest_file(name)))
        } else {
            self.tests.get(binary).is_some_and(|t| t.contains(name))
        }
    }

    /// The doctest files of a binary to run again.
    pub fn files(&self, binary: &str) -> Vec<String> {
        self.doc_files
            .get(binary)
            .map(|f| f.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// What was to run again in this binary but is not in its listing,
    /// though the run's own filters would have chosen it: a test (or a
    /// doctest file) that no longer exists.
    pub fn missing(
        &self,
        binary: &str,
        harness: Harness,
        listed: &[TestInfo],
        flags: &TestFlags,
    ) -> Vec<String> {
        if harness == Harness::Rustdoc {
            let Some(files) = self.doc_files.get(binary) else {
                return Vec::new();
            };
            let have: BTreeSet<&str> = listed.iter().map(|t| doctest_file(&t.name)).collect();
            files
                .iter()
                .filter(|f| !have.contains(f.as_str()))
                .map(|f| format!("{binary} {f} (its doctests)"))
                .collect()
        } else {
            let Some(names) = self.tests.get(binary) else {
                return Vec::new();
            };
            let have: BTreeSet<&str> = listed.iter().map(|t| t.name.as_str()).collect();
            names
                .iter()
                .filter(|n| !have.contains(n.as_str()) && flags.selects(n))
                .map(|n| format!("{binary} {n}"))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> TestInfo {
        TestInfo {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn tests_are_picked_by_id_and_doctests_by_file() {
        let r = Rerun::new(
            Mode::Only,
            "the last run".into(),
            [
                "alpha tests::fails".to_string(),
                "alpha::doc src/lib.rs - add (line 3)".to_string(),
                "alpha::doc src/lib.rs - sub (line 9)".to_string(),
                "malformed".to_string(),
            ],
        );
        assert_eq!(r.len(), 2);
        assert!(r.picks("alpha", Harness::Libtest, "tests::fails"));
        assert!(!r.picks("alpha", Harness::Libtest, "tests::passes"));
        assert!(!r.picks("beta", Harness::Libtest, "tests::fails"));
        // The line moved: the file is what counts.
        assert!(r.picks("alpha::doc", Harness::Rustdoc, "src/lib.rs - add (line 5)"));
        assert!(r.picks("alpha::doc", Harness::Rustdoc, "src/lib.rs - mul (line 20)"));
        assert!(!r.picks("alpha::doc", Harness::Rustdoc, "src/ops.rs - add (line 3)"));
        assert_eq!(r.files("alpha::doc"), ["src/lib.rs"]);
    }

    #[test]
    fn what_is_gone_is_named_unless_the_filters_leave_it_out() {
        let r = Rerun::new(
            Mode::Only,
            "x".into(),
            [
                "alpha gone".to_string(),
                "alpha kept".to_string(),
                "alpha other".to_string(),
                "alpha::doc src/old.rs - f (line 1)".to_string(),
            ],
        );
        let flags = TestFlags {
            filters: vec!["o".into()],
            ..Default::default()
        };
        let missing = r.missing("alpha", Harness::Libtest, &[info("kept")], &flags);
        // `kept` is listed; the filter `o` would choose `gone` and `other`.
        assert_eq!(missing, ["alpha gone", "alpha other"]);
        let flags = TestFlags {
            filters: vec!["gone".into()],
            ..Default::default()
        };
        assert_eq!(
            r.missing("alpha", Harness::Libtest, &[], &flags),
            ["alpha gone"]
        );
        assert_eq!(
            r.missing(
                "alpha::doc",
                Harness::Rustdoc,
                &[info("src/lib.rs - f (line 1)")],
                &TestFlags::default()
            ),
            ["alpha::doc src/old.rs (its doctests)"]
        );
    }
}
