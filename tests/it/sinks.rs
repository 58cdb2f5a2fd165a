//! End to end: one run fanned out to every sink at once, a sink that fails
//! while the others carry on, usage errors found before anything runs, the
//! mach format against the real mozlog package's, and the progress bar on a
//! real terminal.

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn sample() -> String {
    fixture_manifest("sample").to_str().unwrap().to_string()
}

#[test]
fn eight_sinks_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let out = run(structlog().args([
        "--manifest-path",
        &sample(),
        "--workspace",
        "--log-raw",
        &p("run.log"),
        "--log-raw",
        &p("copy.log"),
        "--log-mach",
        "-",
        "--log-tbpl",
        &p("tbpl.txt"),
        "--log-errorsummary",
        &p("errors.jsonl"),
        "--log-unittest",
        &p("unittest.txt"),
        "--log-grouped",
        &p("grouped.txt"),
        "--log-html",
        &p("report.html"),
        "--log-xunit",
        &p("out.xml"),
    ]));
    assert_eq!(
        out.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = dir.path().join("run.log");
    let ids = ended(&raw);
    assert_eq!(ids.len(), 29);
    // The same entries in the same order to every sink: two raw sinks are identical.
    assert_eq!(
        std::fs::read(&raw).unwrap(),
        std::fs::read(dir.path().join("copy.log")).unwrap()
    );
    mozlog_check(&raw);

    let mach = String::from_utf8(out.stdout).unwrap();
    assert!(
        mach.contains("SUITE_START: sample - running 29 tests"),
        "{mach}"
    );
    assert!(mach.contains("Unexpected results: 9"), "{mach}");
    assert_eq!(mach.matches("TEST_END: ").count(), 29);

    let tbpl = std::fs::read_to_string(dir.path().join("tbpl.txt")).unwrap();
    assert_eq!(tbpl.matches("TEST-START | ").count(), 29);
    assert_eq!(tbpl.matches("TEST-UNEXPECTED-").count(), 9, "{tbpl}");
    assert!(tbpl.contains("SUITE-START | Running 29 tests"));

    let errors = std::fs::read_to_string(dir.path().join("errors.jsonl")).unwrap();
    let lines: Vec<Value> = errors
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let results = lines
        .iter()
        .filter(|l| l["action"] == "test_result")
        .count();
    assert_eq!(results, 9);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["action"] == "group_result")
            .count(),
        9,
        "one group_result per binary"
    );

    let unittest = std::fs::read_to_string(dir.path().join("unittest.txt")).unwrap();
    assert!(unittest.contains("Ran 29 tests"), "{unittest}");
    let grouped = std::fs::read_to_string(dir.path().join("grouped.txt")).unwrap();
    assert!(grouped.contains("Ran 29 tests"), "{grouped}");

    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for id in &ids {
        let escaped = serde_json::to_string(id).unwrap();
        let escaped = escaped
            .trim_matches('"')
            .replace('<', "\\u003c")
            .replace('>', "\\u003e");
        assert!(html.contains(&escaped), "{id} not in the html report");
    }
    xmllint_valid(&dir.path().join("out.xml"), "jenkins-junit-10.xsd");
}

#[test]
fn a_sink_that_fails_leaves_the_others_complete() {
    if !Path::new("/dev/full").exists() {
        missing("/dev/full", "this system has none");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let xml = dir.path().join("out.xml");
    let out = run(structlog().args([
        "--manifest-path",
        &sample(),
        "--workspace",
        "--log-tbpl",
        "/dev/full",
        "--log-raw",
        raw.to_str().unwrap(),
        "--log-xunit",
        xml.to_str().unwrap(),
        "--log-mach",
        dir.path().join("mach.txt").to_str().unwrap(),
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(103), "{stderr}");
    assert_eq!(
        stderr.matches("--log-tbpl /dev/full").count(),
        1,
        "reported once: {stderr}"
    );
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(ended(&raw).len(), 29);
    mozlog_check(&raw);
    xmllint_valid(&xml, "jenkins-junit-10.xsd");
    let mach = std::fs::read_to_string(dir.path().join("mach.txt")).unwrap();
    assert!(mach.contains("Error Summary"));
}

#[test]
fn bad_destinations_and_options_stop_before_anything_runs() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--log-raw", "/nonexistent-dir/run.log"],
            "--log-raw /nonexistent-dir/run.log: cannot open",
        ),
        (
            &["--log-raw", "-", "--log-mach", "-"],
            "all write to stdout",
        ),
        // An option of a format that is not asked for needs that format.
        (
            &["--log-raw", "x.log", "--log-mach-verbose"],
            "required arguments were not provided:\n  --log-mach <FILE>",
        ),
        (
            &["--log-tbpl-level", "DEBUG"],
            "required arguments were not provided:\n  --log-tbpl <FILE>",
        ),
        (
            &["--log-mach", "-", "--log-raw-level", "DEBUG"],
            "required arguments were not provided:\n  <--log-raw <FILE>|--log-exec <CMD>>",
        ),
        (&["--log-mach-level", "LOUD"], "unknown level"),
        (
            &["--log-mach-buffer", "many"],
            "neither a number nor UNLIMITED",
        ),
        (
            &["--log-html-verbose", "x"],
            "unexpected argument '--log-html-verbose'",
        ),
        (&["--", "--format", "pretty"], "is not allowed"),
        // Durations too long to hold are refused, not a panic.
        (&["--timeout", "1e20"], "more than a year"),
        (&["--pre-kill-hook-timeout", "1e300"], "more than a year"),
        (
            &[
                "--log-raw",
                "tcp://127.0.0.1:9",
                "--log-connect-timeout",
                "1e300",
            ],
            "more than a year",
        ),
        (&["--timeout", "NaN"], "not a positive number"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (args, want) in cases {
        let out = run(structlog()
            .current_dir(dir.path())
            .args(["--manifest-path", &sample()])
            .args(*args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("Finished") && !stderr.contains("Compiling"),
            "built for {args:?}: {stderr}"
        );
    }
}

/// Drops the time prefix and pids, which differ between the two.
fn line_kinds(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let l = l.trim_start();
            let l = match l.split_once(' ') {
                Some((t, rest))
                    if t.contains(':')
                        && t.contains('.')
                        && t.chars().next().unwrap().is_ascii_digit() =>
                {
                    rest
                }
                _ => l,
            };
            let mut words: Vec<String> = l.split(' ').map(str::to_string).collect();
            for w in words.iter_mut() {
                if let Some(pid) = w.strip_prefix("pid:") {
                    if pid.chars().all(|c| c.is_ascii_digit()) {
                        *w = "pid:N".into();
                    }
                }
                if w.trim_end_matches(':').chars().all(|c| c.is_ascii_digit()) && !w.is_empty() {
                    *w = "N".into();
                }
                if w.starts_with('`') && w.ends_with('`') {
                    *w = "`N`".into();
                }
            }
            words.join(" ")
        })
        .collect()
}

#[test]
fn mach_reads_as_mozlogs_mach() {
    let Some(python) = python_with(&["mozlog"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let ours = dir.path().join("mach.txt");
    let out = run(structlog().args([
        "--manifest-path",
        &sample(),
        "--workspace",
        "--log-raw",
        raw.to_str().unwrap(),
        "--log-mach",
        ours.to_str().unwrap(),
        "--log-mach-verbose",
    ]));
    assert_eq!(out.status.code(), Some(101));
    let theirs = Command::new(python)
        .arg(root().join("tests/tools/mozlog_mach.py"))
        .arg(&raw)
        .output()
        .unwrap();
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    // The summary's slowest tests are ours alone.
    let ours = std::fs::read_to_string(&ours).unwrap();
    let ours = line_kinds(&without_section(&ours, "Slowest Tests"));
    // mozlog keeps ANSI escapes from test output when colors are off; we strip them.
    let theirs: Vec<String> = line_kinds(&String::from_utf8_lossy(&theirs.stdout))
        .into_iter()
        .map(|l| cargo_structlog::text::strip_ansi(&l).into_owned())
        .collect();
    assert_eq!(ours.len(), theirs.len());
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert!(ours
        .iter()
        .any(|l| l.starts_with("TEST_END: FAIL, expected PASS - ")));
    assert!(ours.iter().any(|l| l == "Error Summary"));
}

/// Splits what a terminal received into the pieces that stay visible:
/// lines, and within a line the text after each `\r\x1b[2K` (a redraw).
fn terminal_pieces(typescript: &str) -> Vec<String> {
    typescript
        .split('\n')
        .flat_map(|line| {
            line.trim_end_matches('\r')
                .split("\r\x1b[2K")
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_progress_bar_never_tears_a_line() {
    let Some(script) = program("script") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let typescript = dir.path().join("tty.txt");
    let command = format!(
        "{} structlog --manifest-path {} --workspace --color never",
        env!("CARGO_BIN_EXE_cargo-structlog"),
        sample()
    );
    // `script` gives the tool a real terminal for stdout and stderr alike.
    let out = Command::new(script)
        .args(["-qec", &command])
        .arg(&typescript)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    let pieces = terminal_pieces(&text);
    let is_bar = |p: &str| p.contains("] ") && p.contains("/29");
    assert!(
        pieces.iter().any(|p| is_bar(p)),
        "no progress bar was drawn:\n{text}"
    );
    let mut mach_lines = 0;
    for p in &pieces {
        let mach = p.contains("TEST_START: ") || p.contains("TEST_END: ") || p.contains("SUITE_");
        if mach {
            mach_lines += 1;
            assert!(!is_bar(p), "a mach line shares a line with the bar: {p:?}");
            assert!(
                p.starts_with(' ') && p.as_bytes()[1].is_ascii_digit(),
                "torn line: {p:?}"
            );
        }
    }
    assert_eq!(mach_lines, 29 * 2 + 2, "every mach line is whole:\n{text}");
}

#[test]
fn no_progress_bar_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(structlog().args([
        "--manifest-path",
        &sample(),
        "--workspace",
        "--log-raw",
        dir.path().join("run.log").to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(101));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("\x1b[2K") && !stderr.contains("/29"),
        "{stderr}"
    );
}
