//! End to end: expectations files and retries on the `fixtures/flaky`
//! workspace (a known-broken test, a test that fails on its first attempt
//! only, and a plain one).

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn flaky() -> String {
    fixture_manifest("flaky").to_str().unwrap().to_string()
}

/// Runs the tool on the flaky workspace with a fresh marker (so that
/// `flaky_once` fails on its first attempt), writing a raw log to `dir`.
fn run_flaky(dir: &Path, args: &[&str]) -> (Output, Vec<Value>) {
    let raw = dir.join("run.log");
    let marker = dir.join("marker");
    let _ = std::fs::remove_file(&marker);
    let out = run(structlog()
        .args([
            "--manifest-path",
            &flaky(),
            "--log-raw",
            raw.to_str().unwrap(),
        ])
        .args(args)
        .env("STRUCTLOG_FLAKY_MARKER", &marker));
    let entries = if raw.exists() {
        read_raw(&raw)
    } else {
        Vec::new()
    };
    (out, entries)
}

#[test]
fn expectations_and_retries_make_a_green_run() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("out.xml");
    let mach = dir.path().join("mach.txt");
    let tbpl = dir.path().join("tbpl.txt");
    let (out, entries) = run_flaky(
        dir.path(),
        &[
            "--retries",
            "2",
            "--log-xunit",
            xml.to_str().unwrap(),
            "--log-mach",
            mach.to_str().unwrap(),
            "--log-tbpl",
            tbpl.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ends = by_test(&entries, "test_end");
    // The known-broken test is an expected FAIL, from structlog.toml.
    let broken = &ends["flaky::checks always_broken"];
    assert_eq!(broken["status"], "FAIL");
    assert!(broken.get("expected").is_none());
    assert_eq!(
        broken["extra"]["expectation"]["issue"],
        "https://example.com/issues/42"
    );
    // The flaky test: one test_start and one test_end, the attempts in extra.
    let flaky = &ends["flaky::checks flaky_once"];
    assert_eq!(flaky["status"], "PASS");
    assert_eq!(flaky["extra"]["flaky"], true);
    let attempts: Vec<&str> = flaky["extra"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(attempts, ["FAIL", "PASS"]);
    assert_eq!(
        flaky["extra"]["attempts"][0]["message"],
        "first attempt fails"
    );
    let starts = entries
        .iter()
        .filter(|e| e["action"] == "test_start" && e["test"] == "flaky::checks flaky_once")
        .count();
    assert_eq!(starts, 1);
    mozlog_check(&dir.path().join("run.log"));

    let mach = std::fs::read_to_string(&mach).unwrap();
    assert!(
        mach.contains("FLAKY: FAIL then PASS (2 attempts)"),
        "{mach}"
    );
    assert!(mach.contains("Flaky: 1 tests"), "{mach}");
    let tbpl = std::fs::read_to_string(&tbpl).unwrap();
    assert!(
        tbpl.contains("TEST-KNOWN-INTERMITTENT-FAIL | flaky::checks flaky_once | attempt 1 of 2"),
        "{tbpl}"
    );
    assert!(
        tbpl.contains("TEST-KNOWN-FAIL | flaky::checks always_broken"),
        "{tbpl}"
    );
    let doc = std::fs::read_to_string(&xml).unwrap();
    assert!(doc.contains("<flakyFailure"), "{doc}");
    xmllint_valid(&xml, "jenkins-junit-10.xsd");
}

#[test]
fn without_them_the_run_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (out, entries) = run_flaky(dir.path(), &["--no-expectations"]);
    assert_eq!(out.status.code(), Some(101));
    let ends = by_test(&entries, "test_end");
    assert_eq!(ends["flaky::checks always_broken"]["expected"], "PASS");
    assert_eq!(ends["flaky::checks flaky_once"]["status"], "FAIL");

    // Retries alone: green but for the broken test.
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_flaky(dir.path(), &["--no-expectations", "--retries", "1"]);
    assert_eq!(out.status.code(), Some(101));

    // Flaky tests can be made to fail the run.
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_flaky(dir.path(), &["--retries", "1", "--fail-on-flaky"]);
    assert_eq!(out.status.code(), Some(101));
}

#[test]
fn expectations_that_match_nothing_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.toml");
    std::fs::write(
        &file,
        "[[test]]\nid = \"*always_broken\"\nexpected = \"FAIL\"\n\n[[test]]\nid = \"*no_such_test\"\nexpected = \"FAIL\"\n",
    )
    .unwrap();
    let (out, entries) = run_flaky(
        dir.path(),
        &["--expectations", file.to_str().unwrap(), "--retries", "1"],
    );
    assert_eq!(out.status.code(), Some(0));
    let warning = entries
        .iter()
        .find(|e| e["action"] == "log" && e["level"] == "WARNING")
        .expect("a warning");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .ends_with("x.toml:5: `*no_such_test` matches no test"),
        "{warning}"
    );

    let dir2 = tempfile::tempdir().unwrap();
    let (out, entries) = run_flaky(
        dir2.path(),
        &[
            "--expectations",
            file.to_str().unwrap(),
            "--strict-expectations",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`*no_such_test` matches no test"));
    assert!(by_test(&entries, "test_end").is_empty(), "no test runs");
    assert_eq!(entries.last().unwrap()["action"], "suite_end");
}

#[test]
fn a_malformed_file_stops_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.toml");
    std::fs::write(&file, "[[test]]\nid = \"a\"\n\nexpected = \"FIAL\"\n").unwrap();
    let (out, entries) = run_flaky(dir.path(), &["--expectations", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("x.toml:4:"), "{stderr}");
    assert!(!stderr.contains("Finished"), "nothing was built: {stderr}");
    assert!(entries.is_empty());
}

#[test]
fn an_expectations_file_is_written_from_runs() {
    let dir = tempfile::tempdir().unwrap();
    // Two runs without expectations: flaky_once fails in the first only.
    let (_, _) = run_flaky(dir.path(), &["--no-expectations"]);
    let first = dir.path().join("first.log");
    std::fs::rename(dir.path().join("run.log"), &first).unwrap();
    let second = dir.path().join("second.log");
    let out = run(structlog().args([
        "--manifest-path",
        &flaky(),
        "--no-expectations",
        "--log-raw",
        second.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(101));
    let file = dir.path().join("generated.toml");
    let out = run(structlog()
        .args(["expectations", "--from"])
        .arg(&first)
        .arg(&second)
        .arg("-o")
        .arg(&file));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    // Writing over an input (by another name: a hard link) is refused, and
    // the input is left as it was.
    let link = dir.path().join("link.log");
    std::fs::hard_link(&first, &link).unwrap();
    let before = std::fs::read(&first).unwrap();
    let out = run(structlog()
        .args(["expectations", "--from"])
        .arg(&first)
        .arg("-o")
        .arg(&link));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("also an input"));
    assert_eq!(std::fs::read(&first).unwrap(), before);
    assert!(
        text.contains("id = \"flaky::checks always_broken\"\nexpected = \"FAIL\""),
        "{text}"
    );
    assert!(
        text.contains("id = \"flaky::checks flaky_once\"\nknown_intermittent = [\"FAIL\"]"),
        "{text}"
    );
    // A run with the generated file (and a fresh marker, so flaky_once fails): green.
    let dir2 = tempfile::tempdir().unwrap();
    let (out, _) = run_flaky(dir2.path(), &["--expectations", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
