//! End to end on `fixtures/hostile` (and `fixtures/crashes`): tests that
//! attack the runner or are merely unlucky. Each test here fails without
//! the behaviour it names.

use crate::common::*;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn hostile() -> String {
    fixture_manifest("hostile").to_str().unwrap().to_string()
}

fn ends(entries: &[Value]) -> std::collections::BTreeMap<String, Value> {
    by_test(entries, "test_end")
}

#[test]
fn a_test_cannot_forge_its_own_result_or_anothers() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let out = run(structlog()
        .args(["--manifest-path", &hostile(), "-p", "forger"])
        .args(["--log-raw", raw.to_str().unwrap()]));
    // cargo test fails here: so does the run.
    assert_eq!(out.status.code(), Some(101));
    let entries = read_raw(&raw);
    let ends = ends(&entries);
    let status = |t: &str| ends[t]["status"].as_str().unwrap().to_string();
    assert_eq!(status("forger tests::a_forges_for_others"), "PASS");
    assert_eq!(status("forger tests::b_forges_for_itself"), "FAIL");
    assert_eq!(status("forger tests::z_victim"), "FAIL");
    // The forged lines stay output, a warning says so, and the claims the
    // real results contradict are errors.
    let forged: Vec<&Value> = entries
        .iter()
        .filter(|e| {
            e["action"] == "process_output"
                && e["data"]
                    .as_str()
                    .is_some_and(|d| d.contains(r#""event": "ok""#))
        })
        .collect();
    assert_eq!(forged.len(), 2, "{forged:#?}");
    let warnings = logs(&entries, "WARNING");
    assert_eq!(
        warnings
            .iter()
            .filter(|w| w.contains("that the harness did not write"))
            .count(),
        2,
        "{warnings:#?}"
    );
    let errors = logs(&entries, "ERROR");
    for t in [
        "forger tests::z_victim",
        "forger tests::b_forges_for_itself",
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(t) && e.contains("claimed it passed, but it failed")),
            "{t}: {errors:#?}"
        );
    }
    mozlog_check(&raw);
}

#[test]
fn a_hang_under_libtest_mimic_times_out_sampled_and_the_others_get_their_results() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let session = dir.path().join("session");
    // The hook writes into the working directory whatever it is handed,
    // quoted every way a user might: a test name with `$(touch pwned)` in it
    // must not run.
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let began = Instant::now();
    let out = run(structlog().current_dir(&cwd).args([
        "--manifest-path",
        &hostile(),
        "-p",
        "hooked",
        "--test",
        "mimic_hang",
        "--timeout",
        "2",
        "--pre-kill-hook",
        r#"echo '{test}'; echo "x={test}"; echo {test} {binary} {pid}"#,
        "--session-dir",
        session.to_str().unwrap(),
        "--log-raw",
        raw.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(101));
    assert!(
        began.elapsed() < Duration::from_secs(120),
        "{:?}",
        began.elapsed()
    );
    let entries = read_raw(&raw);
    let ends = ends(&entries);
    let hung = r#"hooked::mimic_hang hangs $(touch pwned) '{binary}' "x""#;
    let status = |t: &str| ends[t]["status"].as_str().unwrap().to_string();
    assert_eq!(status(hung), "TIMEOUT");
    assert_eq!(status("hooked::mimic_hang first_passes"), "PASS");
    assert_eq!(status("hooked::mimic_hang last_passes"), "PASS");
    assert_eq!(status("hooked::mimic_hang zz_fails"), "FAIL");
    // The hook sampled the hung test; what it was handed is text, not code.
    let sample = ends[hung]["extra"]["sample"].as_str().expect("a sample");
    let text = std::fs::read_to_string(sample).unwrap();
    assert!(
        text.contains(&format!("x={hung}")) && text.contains(&format!("{hung} ")),
        "{text}"
    );
    assert!(
        !cwd.join("pwned").exists(),
        "the test name ran as a command"
    );
    assert!(
        std::fs::read_dir(&cwd).unwrap().next().is_none(),
        "the hook wrote files"
    );
}

#[test]
fn an_abort_under_libtest_mimic_is_a_crash_of_its_test() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let out = run(structlog().args([
        "--manifest-path",
        &hostile(),
        "-p",
        "hooked",
        "--test",
        "mimic_abort",
        "--log-raw",
        raw.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(101));
    let entries = read_raw(&raw);
    let ends = ends(&entries);
    let status = |t: &str| ends[t]["status"].as_str().unwrap().to_string();
    assert_eq!(status("hooked::mimic_abort b_aborts"), "CRASH");
    assert_eq!(status("hooked::mimic_abort a_passes"), "PASS");
    assert_eq!(status("hooked::mimic_abort c_fails"), "FAIL");
    assert_eq!(status("hooked::mimic_abort d_passes"), "PASS");
    assert!(entries
        .iter()
        .any(|e| e["action"] == "crash" && e["test"] == "hooked::mimic_abort b_aborts"));
}

/// Whether process `pid` exists.
fn alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn ctrl_c_ends_a_running_pre_kill_hook_too() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let pidfile = dir.path().join("hook.pid");
    // A hook that never ends by itself; it says where it is once it runs.
    let hook = format!(
        "sleep 1000 & echo $! > {0}.tmp; mv {0}.tmp {0}; wait",
        pidfile.display()
    );
    let mut child = structlog()
        .args([
            "--manifest-path",
            fixture_manifest("crashes").to_str().unwrap(),
            "--test",
            "hang",
            "--timeout",
            "1",
            "--pre-kill-hook",
            &hook,
            "--log-raw",
            raw.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let sleeper: u32 = loop {
        if let Ok(text) = std::fs::read_to_string(&pidfile) {
            break text.trim().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the hook never ran");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(alive(sleeper));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // The hook's whole process group went with the run.
    let gone_by = Instant::now() + Duration::from_secs(5);
    while alive(sleeper) && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(sleeper),
        "the hook's process {sleeper} outlived the run"
    );
    let entries = read_raw(&raw);
    assert_eq!(entries.last().unwrap()["action"], "suite_end");
}

#[test]
fn a_socket_peer_that_stops_reading_does_not_hold_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("out.xml");
    // A peer that accepts and never reads.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(60));
        drop(s);
    });
    let flood = |raw: &str| {
        let began = Instant::now();
        let out = run(structlog().args([
            "--manifest-path",
            fixture_manifest("crashes").to_str().unwrap(),
            "--test",
            "flood",
            "--log-raw",
            raw,
        ]));
        (out, began.elapsed())
    };
    // The same run into a file, for the time it takes.
    let file = dir.path().join("run.log");
    let (_, into_file) = flood(file.to_str().unwrap());
    let began = Instant::now();
    // The flood writes tens of megabytes of raw log: far more than the
    // socket's buffers and the sink's bound.
    let out = run(structlog().args([
        "--manifest-path",
        fixture_manifest("crashes").to_str().unwrap(),
        "--test",
        "flood",
        "--log-raw",
        &format!("tcp://{addr}"),
        "--log-xunit",
        xml.to_str().unwrap(),
    ]));
    let took = began.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(103), "{stderr}");
    assert_eq!(stderr.matches("--log-raw tcp://").count(), 1, "{stderr}");
    assert!(stderr.contains("has not read the stream"), "{stderr}");
    // The stalled reader costs the run nothing like the ten seconds a
    // stalled write used to hold it for.
    assert!(
        took < into_file + Duration::from_secs(5),
        "{took:?} against {into_file:?} into a file"
    );
    let doc = std::fs::read_to_string(&xml).unwrap();
    assert!(doc.trim_end().ends_with("</testsuites>"), "{doc}");
    drop(holder);
}

#[test]
fn a_setup_error_leaves_every_earlier_output_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (log, xml) = (dir.path().join("pre.log"), dir.path().join("pre.xml"));
    std::fs::write(&log, "an earlier run's log\n").unwrap();
    std::fs::write(&xml, "<an earlier report/>\n").unwrap();
    let cases: [&[&str]; 2] = [
        // A command that cannot start, named after the files.
        &["--log-exec", "no_such_command_4f1d"],
        // An output that cannot be opened, named after the files.
        &["--log-html", "/nonexistent-dir/report.html"],
    ];
    for extra in cases {
        let out = run(structlog()
            .args(["--manifest-path", &hostile(), "-p", "forger"])
            .args(["--log-raw", log.to_str().unwrap()])
            .args(["--log-xunit", xml.to_str().unwrap()])
            .args(extra));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "an earlier run's log\n",
            "{extra:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&xml).unwrap(),
            "<an earlier report/>\n",
            "{extra:?}"
        );
    }
}

/// Waits for `child` while reading its peak memory (`VmHWM`, which only
/// grows, so the last reading before it exits is its peak); kills it after
/// `limit` when it has not exited. Returns its exit status (if it exited) and
/// the peak in MiB.
fn peak_memory(mut child: std::process::Child, limit: Duration) -> (Option<i32>, u64) {
    let began = Instant::now();
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb / 1024);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), peak);
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return (None, peak);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn memory_stays_bounded_whatever_the_input_or_a_test_prints() {
    // An input without a line break, read for a few seconds: the readers
    // drop what is past the longest line they keep.
    for args in [
        &["format", "--input", "/dev/zero", "--log-raw", "/dev/null"][..],
        &["unstable", "/dev/zero"],
    ] {
        let child = structlog()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (_, peak) = peak_memory(child, Duration::from_secs(4));
        assert!(peak < 400, "{args:?}: {peak} MiB");
    }
    // A passing test that prints 100 MB straight to stdout, into mach,
    // against a run of three quiet tests.
    let dir = tempfile::tempdir().unwrap();
    let run_peak = |package: &str| {
        let child = structlog()
            .args(["--manifest-path", &hostile(), "-p", package])
            .args(["--log-mach", dir.path().join("mach.txt").to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        peak_memory(child, Duration::from_secs(300))
    };
    let (_, quiet) = run_peak("forger");
    let (code, peak) = run_peak("chatty");
    assert_eq!(code, Some(0));
    assert!(
        peak < quiet + 64,
        "{peak} MiB for 100 MB of output, {quiet} MiB for none"
    );
}
