//! The arguments given to test binaries.
//!
//! The user's test selection (`TESTNAME`, `--exact`, `--skip`, `--ignored`,
//! ...) and everything after `--` are merged into [`TestFlags`], then spelled
//! for each harness: libtest gets `--format json -Zunstable-options
//! --report-time --show-output` on top (rustdoc the same without
//! `--show-output`); libtest-mimic the same without the
//! flags it rejects; a custom `harness = false` binary gets exactly what
//! `cargo test` would give it. libtest's option parser rejects a flag given
//! twice, so every flag is written once.

use crate::error::Error;
use crate::plan::Harness;

/// Which tests run with respect to `#[ignore]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ignored {
    #[default]
    Skip,
    Only,
    Include,
}

/// The test selection and libtest options of a run.
#[derive(Clone, Debug, Default)]
pub struct TestFlags {
    pub filters: Vec<String>,
    pub exact: bool,
    pub skip: Vec<String>,
    pub ignored: Ignored,
    pub test_threads: Option<u32>,
    /// `--nocapture`: tests write straight to the binary's stdout/stderr.
    pub nocapture: bool,
    /// Other options for libtest, passed through (`--shuffle`, `--ensure-time`, ...).
    pub passthrough: Vec<String>,
    /// What `cargo test` would give a custom harness: the filter, the selection
    /// flags and the user's arguments, verbatim.
    pub cargo_test_args: Vec<String>,
}

/// Flags the tool writes itself: the user may not give them.
const OWNED: &[&str] = &[
    "--format",
    "--logfile",
    "--list",
    "--report-time",
    "-Z",
    "--bench",
];

/// Options of libtest that take a value as the next argument.
const WITH_VALUE: &[&str] = &["--color", "--shuffle-seed", "-Z", "--format", "--logfile"];

/// Which of a binary's tests a process runs.
#[derive(Clone, Copy, Debug)]
pub enum Selection<'a> {
    /// The user's selection (filters, `--skip`, `--exact`).
    All,
    /// Exactly these tests (positional names with `--exact`).
    Only(&'a [String]),
    /// Every test but these (`--exact --skip NAME...`): for libtest-mimic,
    /// which takes a single positional filter.
    AllBut(&'a [String]),
    /// The tests whose names contain one of these (rustdoc, which splits
    /// its test arguments at whitespace: no name with a space can be given
    /// whole), with the user's `--skip` and ignored tests.
    Containing(&'a [String]),
}

/// Flags libtest-mimic rejects (with exit status 2).
const MIMIC_REJECTS: &[&str] = &[
    "--report-time",
    "--ensure-time",
    "--shuffle",
    "--shuffle-seed",
];

impl TestFlags {
    /// Merges the command line's selection with the arguments after `--`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        filter: Option<&str>,
        exact: bool,
        skip: &[String],
        ignored: bool,
        include_ignored: bool,
        test_threads: Option<u32>,
        trailing: &[String],
    ) -> Result<TestFlags, Error> {
        let mut f = TestFlags {
            filters: filter.map(str::to_string).into_iter().collect(),
            exact,
            skip: skip.to_vec(),
            ignored: if include_ignored {
                Ignored::Include
            } else if ignored {
                Ignored::Only
            } else {
                Ignored::Skip
            },
            test_threads,
            ..Default::default()
        };
        let mut it = trailing.iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            let owned = OWNED.contains(&name) || (name.starts_with("-Z") && name.len() > 2);
            if owned {
                return Err(Error::Usage(format!(
                    "`{arg}` after `--` is not allowed: cargo-structlog gives the test binaries \
                     their output format itself (use --log-<format> to choose outputs)"
                )));
            }
            let mut value = |name: &str| -> Result<String, Error> {
                match &inline {
                    Some(v) => Ok(v.clone()),
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| Error::Usage(format!("`{name}` after `--` needs a value"))),
                }
            };
            match name {
                "--exact" => f.exact = true,
                "--include-ignored" => f.ignored = Ignored::Include,
                "--ignored" => {
                    if f.ignored != Ignored::Include {
                        f.ignored = Ignored::Only
                    }
                }
                "--skip" => f.skip.push(value(name)?),
                "--test-threads" => {
                    let v = value(name)?;
                    f.test_threads = Some(v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        Error::Usage(format!("--test-threads: `{v}` is not a positive number"))
                    })?);
                }
                "--nocapture" | "--no-capture" => f.nocapture = true,
                // Always given (captured output is kept in the log); -q has no effect on JSON.
                "--show-output" | "-q" | "--quiet" => {}
                _ if !name.starts_with('-') => f.filters.push(arg.clone()),
                _ if WITH_VALUE.contains(&name) => {
                    let v = value(name)?;
                    f.passthrough.push(format!("{name}={v}"));
                }
                _ => f.passthrough.push(arg.clone()),
            }
        }
        // What cargo test passes: TESTNAME first, then everything after `--`;
        // the selection flags are ours here but live after `--` for cargo test.
        let mut cargo = Vec::new();
        cargo.extend(filter.map(str::to_string));
        if include_ignored {
            cargo.push("--include-ignored".into());
        } else if ignored {
            cargo.push("--ignored".into());
        }
        if exact {
            cargo.push("--exact".into());
        }
        for s in skip {
            cargo.push("--skip".into());
            cargo.push(s.clone());
        }
        if let Some(n) = test_threads {
            cargo.push("--test-threads".into());
            cargo.push(n.to_string());
        }
        cargo.extend(trailing.iter().cloned());
        f.cargo_test_args = cargo;
        Ok(f)
    }

    fn selection(&self, out: &mut Vec<String>) {
        out.extend(self.filters.iter().cloned());
        if self.exact {
            out.push("--exact".into());
        }
        for s in &self.skip {
            out.push("--skip".into());
            out.push(s.clone());
        }
        self.ignored_flag(out);
    }

    fn ignored_flag(&self, out: &mut Vec<String>) {
        match self.ignored {
            Ignored::Skip => {}
            Ignored::Only => out.push("--ignored".into()),
            Ignored::Include => out.push("--include-ignored".into()),
        }
    }

    /// Arguments that list the tests a run would run.
    /// Whether libtest would choose a test of this name by the filters
    /// and `--skip` (matched as parts of the name, or whole with `--exact`).
    pub fn selects(&self, name: &str) -> bool {
        let hit = |f: &String| {
            if self.exact {
                name == f
            } else {
                name.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(hit)) && !self.skip.iter().any(hit)
    }

    pub fn list_args(&self, harness: Harness) -> Vec<String> {
        let mut out = Vec::new();
        self.selection(&mut out);
        match harness {
            // libtest-mimic and tester list as text whatever the format
            // (tester takes `-Z` options on stable, and knows
            // `--exclude-should-panic`).
            Harness::Mimic => out.extend(["--list", "--format", "terse"].map(String::from)),
            Harness::Tester => {
                out.extend(["--list", "--format", "terse", "-Zunstable-options"].map(String::from))
            }
            _ => out.extend(["--list", "--format", "json", "-Zunstable-options"].map(String::from)),
        }
        out
    }

    /// Arguments that list the tests a run would run but its
    /// `#[should_panic]` ones (libtest's `--exclude-should-panic`).
    pub fn list_args_without_should_panic(&self, harness: Harness) -> Vec<String> {
        let mut out = self.list_args(harness);
        out.push("--exclude-should-panic".into());
        out
    }

    /// Arguments that run the selected tests (a resumed, isolated or
    /// partitioned run names them), on `threads` threads when given, without
    /// capturing output when `nocapture` (so that what a crashing test
    /// printed survives it), writing its results to `logfile` as well when
    /// given (see [`crate::libtest::witness`]). Returns the arguments and the user's
    /// arguments left out because the harness rejects them.
    pub fn run_args(
        &self,
        harness: Harness,
        selection: Selection,
        threads: Option<u32>,
        nocapture: bool,
        logfile: Option<&std::path::Path>,
    ) -> (Vec<String>, Vec<String>) {
        if harness == Harness::Custom {
            return (self.cargo_test_args.clone(), Vec::new());
        }
        let mut out: Vec<String> = ["--format", "json", "-Zunstable-options"]
            .map(String::from)
            .to_vec();
        let mimic_like = matches!(harness, Harness::Mimic | Harness::Tester);
        if !mimic_like {
            out.push("--report-time".into());
        }
        if self.nocapture || nocapture {
            out.push("--nocapture".into());
        } else if harness != Harness::Rustdoc {
            // rustdoc shows no passing doctest's output even with it, and
            // compiles every doctest on its own when given it.
            out.push("--show-output".into());
        }
        if let Some(n) = threads.or(self.test_threads) {
            out.push(format!("--test-threads={n}"));
        }
        if let Some(path) = logfile {
            out.push(format!("--logfile={}", path.display()));
        }
        let mut dropped = Vec::new();
        for p in &self.passthrough {
            let name = p.split('=').next().unwrap_or(p);
            if mimic_like && MIMIC_REJECTS.contains(&name) {
                dropped.push(p.clone());
            } else {
                out.push(p.clone());
            }
        }
        match selection {
            Selection::All => self.selection(&mut out),
            Selection::Only(names) => {
                out.push("--exact".into());
                self.ignored_flag(&mut out);
                out.extend(names.iter().cloned());
            }
            Selection::Containing(parts) => {
                out.extend(parts.iter().cloned());
                for s in &self.skip {
                    out.push("--skip".into());
                    out.push(s.clone());
                }
                self.ignored_flag(&mut out);
            }
            Selection::AllBut(names) => {
                out.push("--exact".into());
                self.ignored_flag(&mut out);
                for n in names {
                    out.push("--skip".into());
                    out.push(n.clone());
                }
            }
        }
        (out, dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(filter: Option<&str>, trailing: &[&str]) -> Result<TestFlags, Error> {
        let t: Vec<String> = trailing.iter().map(|s| s.to_string()).collect();
        TestFlags::new(filter, false, &[], false, false, None, &t)
    }

    #[test]
    fn owned_flags_are_refused() {
        for bad in [
            &["--format", "pretty"][..],
            &["--format=json"],
            &["-Zunstable-options"],
            &["--list"],
            &["-Z", "x"],
        ] {
            let err = flags(None, bad).unwrap_err().to_string();
            assert!(err.contains("not allowed"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn trailing_args_merge_without_duplicates() {
        let f = flags(
            Some("foo"),
            &[
                "--exact",
                "bar",
                "--skip=x",
                "--test-threads",
                "3",
                "--show-output",
                "--shuffle",
                "--color",
                "never",
            ],
        )
        .unwrap();
        assert_eq!(f.filters, vec!["foo", "bar"]);
        assert!(f.exact);
        assert_eq!(f.skip, vec!["x"]);
        assert_eq!(f.test_threads, Some(3));
        let (libtest, _) = f.run_args(Harness::Libtest, Selection::All, None, false, None);
        assert_eq!(
            libtest,
            "--format json -Zunstable-options --report-time --show-output --test-threads=3 --shuffle --color=never foo bar --exact --skip x"
                .split(' ')
                .collect::<Vec<_>>()
        );
        let (mimic, dropped) = f.run_args(
            Harness::Mimic,
            Selection::Only(&["a b".to_string()]),
            Some(1),
            false,
            None,
        );
        assert!(!mimic.contains(&"--report-time".to_string()));
        assert!(!mimic.contains(&"--shuffle".to_string()));
        assert_eq!(dropped, vec!["--shuffle"]);
        assert!(mimic.ends_with(&["--exact".to_string(), "a b".to_string()]));
        assert!(mimic.contains(&"--test-threads=1".to_string()));
        let (custom, _) = f.run_args(Harness::Custom, Selection::All, None, false, None);
        assert_eq!(
            custom,
            "foo --exact bar --skip=x --test-threads 3 --show-output --shuffle --color never"
                .split(' ')
                .collect::<Vec<_>>()
        );
        // rustdoc: no --show-output (it would compile every doctest on its
        // own); a doctest is named by parts of its name.
        let (doc, _) = f.run_args(Harness::Rustdoc, Selection::All, None, false, None);
        assert!(!doc.contains(&"--show-output".to_string()), "{doc:?}");
        let (doc, _) = f.run_args(
            Harness::Rustdoc,
            Selection::Containing(&["Foo::bar".to_string()]),
            None,
            false,
            None,
        );
        assert_eq!(
            doc,
            "--format json -Zunstable-options --report-time --test-threads=3 --shuffle --color=never Foo::bar --skip x"
                .split(' ')
                .collect::<Vec<_>>()
        );
    }
}
