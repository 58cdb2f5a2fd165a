//! End to end: timeouts and the pre-kill hook, crash containment, Ctrl-C,
//! and binaries in parallel, on the real tool and the `fixtures/crashes`
//! workspace (tests that hang, abort, segfault, exit, flood).

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn crashes() -> String {
    fixture_manifest("crashes").to_str().unwrap().to_string()
}

/// Every test listed in suite_start has exactly one test_start and one test_end.
fn assert_protocol(entries: &[Value]) {
    let listed = listed(&entries[0]);
    for id in &listed {
        let n_start = entries
            .iter()
            .filter(|e| e["action"] == "test_start" && e["test"] == *id)
            .count();
        let n_end = entries
            .iter()
            .filter(|e| e["action"] == "test_end" && e["test"] == *id)
            .count();
        assert_eq!((n_start, n_end), (1, 1), "{id}: test_start/test_end count");
    }
    assert_eq!(entries.last().unwrap()["action"], "suite_end");
}

#[test]
fn crashes_and_hangs_are_contained() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let session = dir.path().join("session");
    let began = Instant::now();
    let out = run(structlog().args([
        "--manifest-path",
        &crashes(),
        "--test",
        "abort",
        "--test",
        "segv",
        "--test",
        "exit",
        "--test",
        "hang",
        "--timeout",
        "3",
        "--pre-kill-hook",
        "echo hook got pid={pid} test={test}; echo env $STRUCTLOG_PID $STRUCTLOG_TEST",
        "--session-dir",
        session.to_str().unwrap(),
        "--log-raw",
        raw.to_str().unwrap(),
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(began.elapsed() < Duration::from_secs(60));
    let entries = read_raw(&raw);
    let ends = by_test(&entries, "test_end");
    let want: &[(&str, &str)] = &[
        ("crashy::abort a_slow_passes", "PASS"),
        ("crashy::abort b_aborts", "CRASH"),
        ("crashy::abort c_fails", "FAIL"),
        ("crashy::abort d_passes", "PASS"),
        ("crashy::abort e_ignored", "SKIP"),
        ("crashy::segv before_segfault", "PASS"),
        ("crashy::segv segfaults", "CRASH"),
        ("crashy::segv zz_after_segfault", "PASS"),
        ("crashy::exit exits", "CRASH"),
        ("crashy::exit neighbour_passes", "PASS"),
        ("crashy::exit other_neighbour_passes", "PASS"),
        ("crashy::hang hangs", "TIMEOUT"),
        ("crashy::hang quick", "PASS"),
        ("crashy::hang slow_neighbour", "PASS"),
    ];
    for (id, status) in want {
        assert_eq!(ends[*id]["status"], *status, "{id}: {}", ends[*id]);
    }
    assert_eq!(ends.len(), want.len());
    assert_eq!(
        ends["crashy::abort c_fails"]["message"],
        "a real failure next to a crash"
    );
    assert_eq!(ends["crashy::abort e_ignored"]["message"], "not today");
    assert_protocol(&entries);

    // Each crash is recorded with its signal or exit code, and the crashing
    // test's last words (kept by re-running it alone, uncaptured).
    let crashes: BTreeMap<String, &Value> = entries
        .iter()
        .filter(|e| e["action"] == "crash")
        .map(|e| (e["test"].as_str().unwrap().to_string(), e))
        .collect();
    assert_eq!(crashes["crashy::abort b_aborts"]["signature"], "SIGABRT");
    assert!(crashes["crashy::abort b_aborts"]["stackwalk_stdout"]
        .as_str()
        .unwrap()
        .contains("about to abort"));
    assert_eq!(crashes["crashy::segv segfaults"]["signature"], "SIGSEGV");
    assert_eq!(crashes["crashy::exit exits"]["signature"], "exit code 3");
    assert_eq!(crashes.len(), 3);
    assert!(ends["crashy::abort b_aborts"]["message"]
        .as_str()
        .unwrap()
        .contains("signal 6"));

    // The hung test: TIMEOUT soon after the limit, sampled by the hook with the
    // pid the log gives, the sample's path in the result.
    let hang = &ends["crashy::hang hangs"];
    let start = &by_test(&entries, "test_start")["crashy::hang hangs"];
    let took = hang["time"].as_u64().unwrap() - start["time"].as_u64().unwrap();
    assert!((3000..3000 + 5000).contains(&took), "took {took} ms");
    let sample = PathBuf::from(hang["extra"]["sample"].as_str().expect("sample path"));
    assert!(sample.starts_with(&session), "{}", sample.display());
    let text = std::fs::read_to_string(&sample).unwrap();
    let pid = hang["pid"].as_u64().unwrap();
    assert!(
        text.contains(&format!("hook got pid={pid} test=crashy::hang hangs")),
        "{text}"
    );
    assert!(
        text.contains(&format!("env {pid} crashy::hang hangs")),
        "{text}"
    );
    assert!(hang["message"]
        .as_str()
        .unwrap()
        .contains(sample.to_str().unwrap()));
    assert_eq!(hang["extra"]["timeout"], 3.0);
    mozlog_check(&raw);
}

/// A test process that exits while a child it started holds its output
/// open: the run ends once the pipes have been silent a moment, not when
/// the child goes, with the test's result and the child's output.
#[test]
fn a_child_left_holding_the_output_does_not_hold_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let began = Instant::now();
    let out = run(structlog().args([
        "--manifest-path",
        &crashes(),
        "--test",
        "orphan",
        "--log-raw",
        raw.to_str().unwrap(),
    ]));
    let took = began.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(25), "{took:?}");
    let entries = read_raw(&raw);
    let ends = by_test(&entries, "test_end");
    assert_eq!(ends["crashy::orphan leaves_a_child"]["status"], "PASS");
    assert!(entries
        .iter()
        .any(|e| e["action"] == "process_exit" && e["exitcode"] == 0));
    // The child's line is output of its own; libtest's notice about the
    // `--logfile` the tool gives it, which has no line break, is not.
    let output: Vec<&str> = entries
        .iter()
        .filter(|e| e["action"] == "process_output")
        .map(|e| e["data"].as_str().unwrap())
        .collect();
    assert_eq!(output, ["from the child"]);
    mozlog_check(&raw);
}

#[test]
fn a_flood_of_output_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let out = run(structlog().args([
        "--manifest-path",
        &crashes(),
        "--test",
        "flood",
        "--log-raw",
        raw.to_str().unwrap(),
        "--log-mach",
        dir.path().join("mach.txt").to_str().unwrap(),
    ]));
    let entries = read_raw(&raw);
    let unexpected = entries
        .iter()
        .filter(|e| {
            e["action"] == "log"
                || e["action"] == "crash"
                || (e["action"] == "test_end" && e.get("expected").is_some())
        })
        .collect::<Vec<_>>();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{unexpected:#?}\n...{}",
        String::from_utf8_lossy(&out.stderr),
        // The summary at the end of the mach output, not the flood.
        std::fs::read_to_string(dir.path().join("mach.txt"))
            .unwrap_or_default()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let lines_of = |id: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == "process_output" && e["test"] == id)
            .count()
    };
    assert_eq!(lines_of("crashy::flood floods"), 200_000);
    let raw_lines = entries
        .iter()
        .filter(|e| {
            e["action"] == "process_output" && e["data"].as_str().unwrap().starts_with("raw line ")
        })
        .count();
    assert_eq!(raw_lines, 40_000);
    let ends = by_test(&entries, "test_end");
    assert!(ends.values().all(|e| e["status"] == "PASS"), "{ends:?}");
    assert_eq!(ends.len(), 3);
}

fn hang_run(hook: &[&str], dir: &Path) -> (Option<i32>, Vec<Value>) {
    let raw = dir.join("run.log");
    let mut cmd = structlog();
    cmd.args([
        "--manifest-path",
        &crashes(),
        "--test",
        "hang",
        "--timeout",
        "2",
    ])
    .args(hook)
    .args(["--session-dir", dir.join("s").to_str().unwrap()])
    .args(["--log-raw", raw.to_str().unwrap()]);
    let out = run(&mut cmd);
    (out.status.code(), read_raw(&raw))
}

#[test]
fn a_failing_or_hanging_hook_is_logged_and_the_kill_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (code, entries) = hang_run(&["--pre-kill-hook", "echo partial; exit 3"], dir.path());
    assert_eq!(code, Some(101));
    assert_eq!(
        by_test(&entries, "test_end")["crashy::hang hangs"]["status"],
        "TIMEOUT"
    );
    let errors = logs(&entries, "ERROR");
    assert!(
        errors
            .iter()
            .any(|m| m.contains("pre-kill hook") && m.contains("failed")),
        "{errors:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let began = Instant::now();
    let (_, entries) = hang_run(
        &[
            "--pre-kill-hook",
            "sleep 60",
            "--pre-kill-hook-timeout",
            "1",
        ],
        dir.path(),
    );
    assert!(began.elapsed() < Duration::from_secs(30));
    assert_eq!(
        by_test(&entries, "test_end")["crashy::hang hangs"]["status"],
        "TIMEOUT"
    );
    let errors = logs(&entries, "ERROR");
    assert!(
        errors
            .iter()
            .any(|m| m.contains("did not finish within 1 s")),
        "{errors:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let (_, entries) = hang_run(
        &["--pre-kill-hook", "/nonexistent/sampler {pid}"],
        dir.path(),
    );
    assert_eq!(
        by_test(&entries, "test_end")["crashy::hang hangs"]["status"],
        "TIMEOUT"
    );
    assert!(!logs(&entries, "ERROR").is_empty());
}

#[test]
fn the_default_hook_samples_stacks_with_gdb() {
    if program("gdb").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, entries) = hang_run(&[], dir.path());
    let hang = &by_test(&entries, "test_end")["crashy::hang hangs"];
    assert_eq!(hang["status"], "TIMEOUT");
    let errors = logs(&entries, "ERROR");
    let sample = hang["extra"]["sample"]
        .as_str()
        .unwrap_or_else(|| panic!("no sample: {errors:?}"));
    let text = std::fs::read_to_string(sample).unwrap();
    // gdb's all-threads backtrace shows the hung test's frame.
    assert!(text.contains("hang::hangs"), "{text}");
}

/// Starts the tool in the background; returns once `ready` is in the raw log.
/// The caller waits for the child. Its stderr goes to `raw` with `.stderr`
/// added ([`wait_for_text`]).
#[allow(clippy::zombie_processes)]
fn start_in_background(args: &[&str], raw: &Path, ready: &str) -> std::process::Child {
    let mut child = structlog()
        .args(args)
        .args(["--log-raw", raw.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr_of(raw)).unwrap())
        .spawn()
        .unwrap();
    wait_for_text(&mut child, raw, ready);
    child
}

fn stderr_of(raw: &Path) -> std::path::PathBuf {
    raw.with_extension("stderr")
}

/// Waits until `file` holds `text` (written by `child`, which is killed
/// if it never comes).
fn wait_for_text(child: &mut std::process::Child, file: &Path, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if std::fs::read_to_string(file)
            .unwrap_or_default()
            .contains(text)
        {
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{text} never appeared in {}", file.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the tool did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigint(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn ctrl_c_ends_the_run_with_complete_documents() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let xml = dir.path().join("out.xml");
    let mach = dir.path().join("mach.txt");
    let mut child = start_in_background(
        &[
            "--manifest-path",
            &crashes(),
            "--test",
            "hang",
            "--test",
            "segv",
            "--log-xunit",
            xml.to_str().unwrap(),
            "--log-mach",
            mach.to_str().unwrap(),
        ],
        &raw,
        // The hung test's neighbour (a 300 ms nap) has ended, with a result.
        r#""test":"crashy::hang slow_neighbour","status":"PASS""#,
    );
    sigint(&child);
    let code = wait_for(&mut child, Duration::from_secs(15));
    assert_eq!(code, Some(130));
    let stderr = std::fs::read_to_string(stderr_of(&raw)).unwrap();
    assert!(
        stderr.contains(
            "interrupted: stopping the tests (they have 3 s; interrupt again to kill them now)"
        ),
        "{stderr}"
    );
    let entries = read_raw(&raw);
    let ends = by_test(&entries, "test_end");
    assert_eq!(ends["crashy::hang hangs"]["status"], "ERROR");
    assert_eq!(ends["crashy::hang hangs"]["message"], "interrupted");
    let warnings = logs(&entries, "WARNING");
    assert!(
        warnings
            .iter()
            .any(|m| m.starts_with("interrupted: ") && m.contains("crashy::segv segfaults")),
        "the log names what did not run: {warnings:?}"
    );
    assert_eq!(entries.last().unwrap()["action"], "suite_end");
    mozlog_check(&raw);
    let summary = std::fs::read_to_string(&mach).unwrap();
    assert!(
        summary.contains("SUITE_END") && summary.contains("Unexpected results: 1"),
        "{summary}"
    );
    xmllint_valid(&xml, "jenkins-junit-10.xsd");
}

#[test]
fn a_test_that_ignores_ctrl_c_does_not_hold_the_exit() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let mut child = start_in_background(
        &["--manifest-path", &crashes(), "--test", "stubborn"],
        &raw,
        r#""test":"crashy::stubborn ignores_interrupts""#,
    );
    let began = Instant::now();
    sigint(&child);
    // The interrupt is passed on, ignored, and the test killed after the grace period.
    assert_eq!(wait_for(&mut child, Duration::from_secs(20)), Some(130));
    let took = began.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let entries = read_raw(&raw);
    assert_protocol(&entries);
    assert_eq!(
        by_test(&entries, "test_end")["crashy::stubborn ignores_interrupts"]["message"],
        "interrupted"
    );
}

#[test]
fn a_second_ctrl_c_kills_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let mut child = start_in_background(
        &["--manifest-path", &crashes(), "--test", "stubborn"],
        &raw,
        r#""test":"crashy::stubborn ignores_interrupts""#,
    );
    sigint(&child);
    // Two signals sent at once may arrive as one: the second is sent once
    // the first has been taken.
    wait_for_text(
        &mut child,
        &stderr_of(&raw),
        "interrupted: stopping the tests",
    );
    let began = Instant::now();
    sigint(&child);
    assert_eq!(wait_for(&mut child, Duration::from_secs(10)), Some(130));
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    let entries = read_raw(&raw);
    assert_protocol(&entries);
}

#[test]
fn binaries_in_parallel_give_the_serial_results() {
    let statuses = |extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("run.log");
        let out = run(structlog()
            .args([
                "--manifest-path",
                fixture_manifest("sample").to_str().unwrap(),
                "--workspace",
            ])
            .args(extra)
            .args(["--log-raw", raw.to_str().unwrap()]));
        assert_eq!(out.status.code(), Some(101));
        mozlog_check(&raw);
        let entries = read_raw(&raw);
        assert_protocol(&entries);
        let pids: std::collections::BTreeSet<u64> = entries
            .iter()
            .filter(|e| e["action"] == "process_start")
            .map(|e| e["pid"].as_u64().unwrap())
            .collect();
        let map: BTreeMap<String, (Value, Value)> = by_test(&entries, "test_end")
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    (
                        v["status"].clone(),
                        v.get("expected").cloned().unwrap_or(Value::Null),
                    ),
                )
            })
            .collect();
        (map, pids.len())
    };
    let (serial, _) = statuses(&["--test-binaries", "1"]);
    let (parallel, processes) = statuses(&["--test-binaries", "4"]);
    assert_eq!(serial, parallel);
    assert!(
        processes >= 9,
        "each binary is its own process: {processes}"
    );
}

#[test]
fn a_log_file_shows_a_hanging_test_while_it_hangs() {
    // Files are written out at a pace, not on every event: what is held
    // back must still reach the file when nothing else happens.
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let mut child = structlog()
        .args([
            "--manifest-path",
            &crashes(),
            "--test",
            "hang",
            "--exact",
            "hangs",
            "--timeout",
            "120",
            "--pre-kill-hook",
            "none",
            "--log-raw",
            raw.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let shows = |what: &str| {
        std::fs::read_to_string(&raw)
            .unwrap_or_default()
            .contains(what)
    };
    let mut seen_start = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if seen_start.is_none() && shows(r#""action":"suite_start""#) {
            seen_start = Some(Instant::now());
        }
        if shows(r#""action":"test_start""#) {
            break;
        }
        if seen_start.is_some_and(|t| t.elapsed() > Duration::from_secs(10)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = shows(r#""action":"test_start""#) && shows(r#""test":"crashy::hang hangs""#);
    sigint(&child);
    let code = wait_for(&mut child, Duration::from_secs(60));
    assert!(seen_start.is_some(), "no suite_start in {}", raw.display());
    assert!(started, "the hanging test's start never reached the file");
    assert_eq!(code, Some(130));
    let entries = read_raw(&raw);
    assert_eq!(entries.last().unwrap()["action"], "suite_end");
}
