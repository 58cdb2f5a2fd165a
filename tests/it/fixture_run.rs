//! End to end: the real tool on the fixture workspace (`fixtures/sample`),
//! checked against a table of what every test there must report, against
//! `cargo test`'s own counts, and against the real mozlog package.

use crate::common::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Every test of the fixture workspace: id, status, expected (when unexpected),
/// and a piece of its message.
const EXPECTED: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    ("alpha tests::passes", "PASS", None, None),
    (
        "alpha tests::fails_assert",
        "FAIL",
        Some("PASS"),
        Some("one plus one"),
    ),
    (
        "alpha tests::returns_err",
        "FAIL",
        Some("PASS"),
        Some("Error: \"returned an Err value\""),
    ),
    ("alpha tests::ignored_plain", "SKIP", None, None),
    (
        "alpha tests::ignored_with_reason",
        "SKIP",
        None,
        Some("needs network"),
    ),
    (
        "alpha tests::should_panic_panics",
        "FAIL",
        None,
        Some("division by zero"),
    ),
    (
        "alpha tests::should_panic_no_panic",
        "PASS",
        Some("FAIL"),
        Some("did not panic as expected"),
    ),
    (
        "alpha tests::should_panic_wrong_message",
        "ERROR",
        Some("FAIL"),
        Some("panic did not contain expected string"),
    ),
    ("alpha tests::prints_then_passes", "PASS", None, None),
    (
        "alpha tests::prints_then_fails",
        "FAIL",
        Some("PASS"),
        Some("failed after printing"),
    ),
    ("alpha tests::shared_name", "PASS", None, None),
    ("alpha::bin/alpha tests::bin_passes", "PASS", None, None),
    ("alpha::it_one adds", "PASS", None, None),
    ("alpha::it_one shared_name", "PASS", None, None),
    (
        "alpha::it_two shared_name",
        "FAIL",
        Some("PASS"),
        Some("integer division"),
    ),
    ("alpha::it_two writes_raw_stdout", "PASS", None, None),
    ("alpha::mimic mimic_passes", "PASS", None, None),
    (
        "alpha::mimic mimic_fails",
        "FAIL",
        Some("PASS"),
        Some("mimic says no"),
    ),
    ("alpha::mimic mimic_ignored", "SKIP", None, None),
    ("alpha::plain plain", "PASS", None, None),
    (
        "alpha::doc alpha/src/lib.rs - add (line 5)",
        "PASS",
        None,
        None,
    ),
    (
        "alpha::doc alpha/src/lib.rs - add (line 11)",
        "FAIL",
        Some("PASS"),
        Some("doctest arithmetic is off"),
    ),
    (
        "alpha::doc alpha/src/lib.rs - divide (line 20)",
        "FAIL",
        None,
        None,
    ),
    (
        "alpha::doc alpha/src/lib.rs - divide (line 24)",
        "SKIP",
        None,
        None,
    ),
    ("beta tests::shared_name", "PASS", None, None),
    (
        "beta tests::ignored_with_quotes",
        "SKIP",
        None,
        Some("needs \"quoted\" config"),
    ),
    (
        "beta tests::unicode_output",
        "FAIL",
        Some("PASS"),
        Some("unicode output was printed"),
    ),
    (
        "beta::doc beta/src/lib.rs - greet (line 5)",
        "PASS",
        None,
        None,
    ),
    (
        "beta::doc beta/src/lib.rs - greet (line 9)",
        "PASS",
        None,
        None,
    ),
];

struct Run {
    dir: tempfile::TempDir,
    status: Option<i32>,
    entries: Vec<Value>,
    stderr: String,
}

impl Run {
    fn raw(&self) -> PathBuf {
        self.dir.path().join("run.log")
    }
}

/// The tool runs once for all the tests in this file.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("run.log");
        let out = crate::common::run(structlog().args([
            "--manifest-path",
            fixture_manifest("sample").to_str().unwrap(),
            "--workspace",
            "--log-raw",
            raw.to_str().unwrap(),
            "--log-mach",
            dir.path().join("mach.txt").to_str().unwrap(),
        ]));
        let entries = read_raw(&raw);
        Run {
            status: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            entries,
            dir,
        }
    })
}

fn by_action<'a>(run: &'a Run, action: &str) -> Vec<&'a Value> {
    run.entries
        .iter()
        .filter(|e| e["action"] == action)
        .collect()
}

#[test]
fn every_test_reports_its_expected_status() {
    let run = run();
    let ends: HashMap<&str, &Value> = by_action(run, "test_end")
        .into_iter()
        .map(|e| (e["test"].as_str().unwrap(), e))
        .collect();
    let mut problems = Vec::new();
    for (id, status, expected, message) in EXPECTED {
        let Some(end) = ends.get(id) else {
            problems.push(format!("{id}: no test_end"));
            continue;
        };
        if end["status"] != *status {
            problems.push(format!("{id}: status {} (want {status})", end["status"]));
        }
        if end.get("expected").and_then(Value::as_str) != *expected {
            problems.push(format!(
                "{id}: expected {:?} (want {expected:?})",
                end.get("expected")
            ));
        }
        if let Some(m) = message {
            let got = end.get("message").and_then(Value::as_str).unwrap_or("");
            if !got.contains(m) {
                problems.push(format!("{id}: message {got:?} lacks {m:?}"));
            }
        }
        if end["group"] != id.split(' ').next().unwrap() {
            problems.push(format!("{id}: group {}", end["group"]));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nstderr:\n{}",
        problems.join("\n"),
        run.stderr
    );
    assert_eq!(
        ends.len(),
        EXPECTED.len(),
        "tests not in the table: {:?}",
        ends.keys()
    );
    // Some results are unexpected: cargo test's exit status.
    assert_eq!(run.status, Some(101), "{}", run.stderr);
}

#[test]
fn the_stream_keeps_mozlogs_protocol() {
    let run = run();
    let starts = by_action(run, "suite_start");
    assert_eq!(starts.len(), 1);
    assert_eq!(run.entries[0]["action"], "suite_start");
    assert_eq!(run.entries.last().unwrap()["action"], "suite_end");
    let listed = listed(starts[0]);
    assert_eq!(listed.len(), EXPECTED.len());
    let mut count: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for e in &run.entries {
        let action = e["action"].as_str().unwrap();
        for key in ["time", "pid"] {
            assert!(e[key].is_u64(), "{key} is not an integer in {e}");
        }
        assert!(e["thread"].is_string() && e["source"].is_string(), "{e}");
        match action {
            "test_start" => count.entry(e["test"].as_str().unwrap()).or_default().0 += 1,
            "test_end" => count.entry(e["test"].as_str().unwrap()).or_default().1 += 1,
            _ => {}
        }
    }
    for id in &listed {
        assert_eq!(
            count.get(id.as_str()),
            Some(&(1, 1)),
            "{id} must start and end exactly once"
        );
    }
    let info = &starts[0]["run_info"];
    for key in ["os", "arch", "debug", "profile", "rustc", "workspace"] {
        assert!(!info[key].is_null(), "run_info lacks {key}");
    }
    assert_eq!(info["profile"], "dev");
    assert!(info["rustc"].as_str().unwrap().starts_with("rustc "));
    // The same test name in four binaries gives four ids; paths are relative to the workspace.
    let shared: Vec<&String> = listed
        .iter()
        .filter(|t| t.ends_with("shared_name"))
        .collect();
    assert_eq!(shared.len(), 4);
    let start = by_action(run, "test_start")
        .into_iter()
        .find(|e| e["test"] == "alpha tests::passes")
        .unwrap();
    assert_eq!(start["path"], "alpha/src/lib.rs");
    mozlog_check(&run.raw());
}

#[test]
fn output_is_kept_and_attributed() {
    let run = run();
    let outputs = by_action(run, "process_output");
    let of = |id: &str| -> Vec<&str> {
        outputs
            .iter()
            .filter(|o| o["test"] == id)
            .map(|o| o["data"].as_str().unwrap())
            .collect()
    };
    for (id, want) in [
        (
            "alpha tests::prints_then_passes",
            "hello from stdout (pass)",
        ),
        (
            "alpha tests::prints_then_passes",
            "hello from stderr (pass)",
        ),
        ("alpha tests::prints_then_fails", "hello from stdout (fail)"),
        ("alpha tests::prints_then_fails", "hello from stderr (fail)"),
        ("alpha::plain plain", "plain harness: checking things"),
        ("alpha::plain plain", "plain harness: all good"),
        (
            "beta tests::unicode_output",
            "größe: ✓ — \u{1b}[31mred\u{1b}[0m",
        ),
    ] {
        assert!(
            of(id).contains(&want),
            "{id} lacks output {want:?}: {:?}",
            of(id)
        );
    }
    // A test's direct writes: a line that looks like a result for a test
    // that is not this binary's stays output, and bytes that are not UTF-8
    // are kept (replaced), never an error.
    let all: Vec<&str> = outputs
        .iter()
        .map(|o| o["data"].as_str().unwrap())
        .collect();
    assert!(all
        .iter()
        .any(|d| d.contains(r#""name": "adds", "event": "failed""#)));
    assert!(all.contains(&"raw bytes \u{fffd}\u{fffd} not utf-8"));
    let adds = by_action(run, "test_end")
        .into_iter()
        .find(|e| e["test"] == "alpha::it_one adds")
        .unwrap();
    assert_eq!(adds["status"], "PASS");
}

/// `cargo test`'s per-binary counts (passed, failed, ignored), keyed by the
/// binary's id as cargo-structlog forms it.
fn cargo_test_counts() -> BTreeMap<String, (u64, u64, u64)> {
    let manifest = fixture_manifest("sample");
    let out = Command::new("sh")
        .arg("-c")
        .arg("cargo test --workspace --no-fail-fast --manifest-path \"$0\" 2>&1")
        .arg(&manifest)
        .env_remove("RUSTC_BOOTSTRAP")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut current: Option<String> = None;
    let mut counts: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("Running ") {
            // `Running tests/it_one.rs (target/debug/deps/it_one-0123)` or `unittests src/lib.rs (...)`
            let exe = rest.rsplit('(').next().unwrap().trim_end_matches(')');
            let name = exe.rsplit('/').next().unwrap();
            let stem = name.rsplit_once('-').map_or(name, |(s, _)| s).to_string();
            let source = rest.split(' ').find(|w| w.ends_with(".rs")).unwrap_or("");
            let id = match (stem.as_str(), source) {
                ("alpha", "src/lib.rs") => "alpha".to_string(),
                ("alpha", "src/main.rs") => "alpha::bin/alpha".to_string(),
                ("beta", _) => "beta".to_string(),
                (t, _) => format!("alpha::{t}"),
            };
            current = Some(id);
        } else if let Some(pkg) = l.strip_prefix("Doc-tests ") {
            current = Some(format!("{pkg}::doc"));
        } else if let Some(result) = l.strip_prefix("test result: ") {
            let num = |key: &str| -> u64 {
                result
                    .split(';')
                    .find_map(|part| part.trim().strip_suffix(key))
                    .and_then(|n| n.trim().rsplit(' ').next().unwrap().parse().ok())
                    .unwrap_or(0)
            };
            let c = counts
                .entry(current.clone().expect("a result line before any binary"))
                .or_default();
            c.0 += num("passed");
            c.1 += num("failed");
            c.2 += num("ignored");
        }
    }
    counts
}

#[test]
fn per_binary_counts_match_cargo_test() {
    let run = run();
    let mut ours: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for e in by_action(run, "test_end") {
        let group = e["group"].as_str().unwrap().to_string();
        let c = ours.entry(group).or_default();
        let status = e["status"].as_str().unwrap();
        let unexpected = e.get("expected").is_some();
        match (status, unexpected) {
            ("SKIP", _) => c.2 += 1,
            (_, true) => c.1 += 1,
            (_, false) => c.0 += 1,
        }
    }
    // A plain harness = false binary prints no summary line in cargo test.
    ours.remove("alpha::plain");
    let theirs = cargo_test_counts();
    assert_eq!(ours, theirs, "(passed, failed, ignored) per binary");
}

#[test]
fn nothing_is_rebuilt_afterwards() {
    let _ = run();
    let out = Command::new("cargo")
        .args(["test", "--no-run", "--workspace", "--manifest-path"])
        .arg(fixture_manifest("sample"))
        .env_remove("RUSTC_BOOTSTRAP")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("Compiling"),
        "cargo test rebuilt after cargo structlog:\n{stderr}"
    );
}
