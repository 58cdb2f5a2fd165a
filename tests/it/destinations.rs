//! End to end: sinks beyond files. Socket destinations (`tcp://`, `unix:`)
//! that receive what a file of the same format gets, peers that hang up or
//! are not there, `--log-exec` commands that read the raw stream (or stop
//! reading, or never exit), and the GitHub Actions sink with its job summary.

use crate::common::*;
use serde_json::Value;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest a run of the sample may take here (several run at once, and the
/// first one builds it).
const RUN_LIMIT: Duration = Duration::from_secs(300);

fn sample() -> String {
    fixture_manifest("sample").to_str().unwrap().to_string()
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

/// Runs the tool, failing (not hanging) if it takes longer than `limit` or
/// if something it started still holds its stdout or stderr afterwards.
fn run_within(cmd: &mut Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cargo-structlog");
    let drain = |mut r: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            let _ = tx.send(v);
        });
        rx
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
            panic!(
                "cargo-structlog still runs after {limit:?}:\n{}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let left = "a process the tool started still holds its stdout or stderr";
    let stdout = out.recv_timeout(Duration::from_secs(30)).expect(left);
    let stderr = err.recv_timeout(Duration::from_secs(30)).expect(left);
    (
        Output {
            status,
            stdout,
            stderr,
        },
        elapsed,
    )
}

/// Accepts one connection and reads it to the end, in a thread.
fn read_tcp(listener: TcpListener) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + RUN_LIMIT;
        let mut s = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "nobody connected");
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(RUN_LIMIT)).unwrap();
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        v
    })
}

/// [`read_tcp`] for a Unix socket.
fn read_unix(listener: UnixListener) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + RUN_LIMIT;
        let mut s = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "nobody connected");
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(RUN_LIMIT)).unwrap();
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        v
    })
}

/// Test ids that ended in a raw log.
fn ended(raw: &Path) -> usize {
    read_raw(raw)
        .iter()
        .filter(|e| e["action"] == "test_end")
        .count()
}

/// The checks that a run's file outputs are whole: the raw log has every
/// result and reads as mozlog, the xunit document is closed.
fn complete(raw: &Path, xml: &Path) {
    assert_eq!(ended(raw), 29);
    mozlog_check(raw);
    let xml = std::fs::read_to_string(xml).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 29, "{xml}");
    assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
}

#[test]
fn sockets_receive_the_bytes_a_file_gets() {
    let dir = tempfile::tempdir().unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let sock = dir.path().join("collector.sock");
    let unix = UnixListener::bind(&sock).unwrap();
    let (tcp_bytes, unix_bytes) = (read_tcp(tcp), read_unix(unix));
    let (out, _) = run_within(
        structlog().args([
            "--manifest-path",
            &sample(),
            "--workspace",
            "--log-raw",
            &path(dir.path(), "run.log"),
            "--log-raw",
            &format!("tcp://127.0.0.1:{port}"),
            "--log-tbpl",
            &path(dir.path(), "tbpl.txt"),
            "--log-tbpl",
            &format!("unix:{}", sock.display()),
            "--log-connect-timeout",
            "10",
        ]),
        RUN_LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    let raw = std::fs::read(dir.path().join("run.log")).unwrap();
    assert_eq!(ended(&dir.path().join("run.log")), 29);
    assert_eq!(
        String::from_utf8(tcp_bytes.join().unwrap()).unwrap(),
        String::from_utf8(raw).unwrap()
    );
    let tbpl = std::fs::read(dir.path().join("tbpl.txt")).unwrap();
    assert!(String::from_utf8_lossy(&tbpl).contains("SUITE-END"));
    assert_eq!(
        String::from_utf8(unix_bytes.join().unwrap()).unwrap(),
        String::from_utf8(tbpl).unwrap()
    );
}

#[test]
fn a_peer_that_hangs_up_fails_its_sink_only() {
    let dir = tempfile::tempdir().unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let (got_tx, got_rx) = mpsc::channel();
    // Reads the beginning of the stream, then hangs up.
    std::thread::spawn(move || {
        let (mut s, _) = tcp.accept().unwrap();
        s.set_read_timeout(Some(RUN_LIMIT)).unwrap();
        let mut buf = [0u8; 100];
        let n = s.read(&mut buf).unwrap();
        let _ = got_tx.send(buf[..n].to_vec());
    });
    let dest = format!("tcp://127.0.0.1:{port}");
    let (raw, xml) = (dir.path().join("run.log"), dir.path().join("out.xml"));
    let (out, _) = run_within(
        structlog().args([
            "--manifest-path",
            &sample(),
            "--workspace",
            "--log-raw",
            &dest,
            "--log-raw",
            raw.to_str().unwrap(),
            "--log-xunit",
            xml.to_str().unwrap(),
        ]),
        RUN_LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(103), "{stderr}");
    let label = format!("--log-raw {dest}");
    assert_eq!(stderr.matches(&label).count(), 1, "reported once: {stderr}");
    let report = stderr.lines().find(|l| l.contains(&label)).unwrap();
    assert!(
        report.contains("Broken pipe") || report.contains("Connection reset"),
        "{report}"
    );
    assert!(report.contains("the other outputs carry on"), "{report}");
    let first = got_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        first.starts_with(b"{\"action\":\"suite_start\""),
        "{first:?}"
    );
    complete(&raw, &xml);
}

#[test]
fn a_refused_connection_fails_its_sink_only_and_is_reported_before_the_build() {
    let dir = tempfile::tempdir().unwrap();
    // Bound, then closed: nobody listens on that port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let unix = format!("unix:{}", path(dir.path(), "nobody.sock"));
    let (raw, xml) = (dir.path().join("run.log"), dir.path().join("out.xml"));
    let (out, _) = run_within(
        structlog().args([
            "--manifest-path",
            &sample(),
            "--workspace",
            "--log-tbpl",
            &tcp,
            "--log-mach",
            &unix,
            "--log-raw",
            raw.to_str().unwrap(),
            "--log-xunit",
            xml.to_str().unwrap(),
        ]),
        RUN_LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(103), "{stderr}");
    for (label, why) in [
        (format!("--log-tbpl {tcp}"), "Connection refused"),
        (format!("--log-mach {unix}"), "No such file"),
    ] {
        assert_eq!(stderr.matches(&label).count(), 1, "{label}: {stderr}");
        let report = stderr.lines().find(|l| l.contains(&label)).unwrap();
        assert!(
            report.contains("connecting failed") && report.contains(why),
            "{report}"
        );
        // Found before cargo builds or runs anything.
        let built = stderr.find("Finished").expect("cargo's report");
        assert!(stderr.find(&label).unwrap() < built, "{stderr}");
    }
    complete(&raw, &xml);
}

#[test]
fn a_command_reads_the_raw_stream_live() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let count = dir.path().join("count.txt");
    let copy = dir.path().join("copy.log");
    let (out, _) = run_within(
        structlog().args([
            "--manifest-path",
            &sample(),
            "--workspace",
            "--log-raw",
            raw.to_str().unwrap(),
            "--log-exec",
            &format!("grep -c '\"action\":\"test_end\"' > '{}'", count.display()),
            "--log-exec",
            &format!("cat > '{}'", copy.display()),
        ]),
        RUN_LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    let n: usize = std::fs::read_to_string(&count)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(n, ended(&raw));
    assert_eq!(n, 29);
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        std::fs::read_to_string(&raw).unwrap()
    );
    // A named --log-exec replaces the default mach on stdout.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn mozlogs_own_formatter_reads_the_stream_live() {
    let Some(python) = python_with(&["mozlog"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let live = dir.path().join("live.txt");
    // mozlog's `structlog format` command, as its console script runs it.
    let mozlog = format!(
        "'{}' -c 'import sys; from mozlog.scripts import main; sys.exit(main())' format tbpl",
        python.display()
    );
    let (out, _) = run_within(
        structlog().args([
            "--manifest-path",
            &sample(),
            "--workspace",
            "--log-raw",
            raw.to_str().unwrap(),
            "--log-exec",
            &format!("{mozlog} --output '{}'", live.display()),
        ]),
        RUN_LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    let after = Command::new("sh")
        .arg("-c")
        .arg(format!("{mozlog} --input '{}'", raw.display()))
        .output()
        .unwrap();
    assert!(after.status.success());
    let live = std::fs::read_to_string(&live).unwrap();
    assert!(live.contains("TEST-UNEXPECTED-FAIL"), "{live}");
    assert_eq!(live, String::from_utf8(after.stdout).unwrap());
}

#[test]
fn a_command_that_stops_reading_fails_its_sink_only() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, xml) = (dir.path().join("run.log"), dir.path().join("out.xml"));
    let (out, _) = run_within(
        structlog().args([
            "--manifest-path",
            &sample(),
            "--workspace",
            "--log-exec",
            "head -n 1 >/dev/null",
            "--log-raw",
            raw.to_str().unwrap(),
            "--log-xunit",
            xml.to_str().unwrap(),
        ]),
        RUN_LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(103), "{stderr}");
    let label = "--log-exec head -n 1 >/dev/null";
    assert_eq!(stderr.matches(label).count(), 1, "reported once: {stderr}");
    let report = stderr.lines().find(|l| l.contains(label)).unwrap();
    assert!(
        report.contains("stopped reading before the end of the stream"),
        "{report}"
    );
    complete(&raw, &xml);
}

#[test]
fn a_command_that_never_reads_nor_exits_does_not_hold_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, xml) = (dir.path().join("run.log"), dir.path().join("out.xml"));
    // `run_within` also fails if the `sleep` is left running: it holds the
    // tool's stdout.
    let (out, elapsed) = run_within(
        structlog().args([
            "--manifest-path",
            &sample(),
            "--workspace",
            "--log-exec",
            "sleep 1000",
            "--log-raw",
            raw.to_str().unwrap(),
            "--log-xunit",
            xml.to_str().unwrap(),
        ]),
        RUN_LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(103), "{stderr}");
    assert!(elapsed < Duration::from_secs(240), "{elapsed:?}");
    let label = "--log-exec sleep 1000";
    assert_eq!(stderr.matches(label).count(), 1, "reported once: {stderr}");
    let report = stderr.lines().find(|l| l.contains(label)).unwrap();
    assert!(
        report.contains("has not read the stream") || report.contains("was killed"),
        "{report}"
    );
    complete(&raw, &xml);
}

#[test]
fn bad_addresses_and_commands_stop_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--log-raw", "tcp://localhost"], "is not HOST:PORT"),
        (&["--log-raw", "tcp://127.0.0.1:http"], "not a port number"),
        (&["--log-raw", "unix:"], "names no socket path"),
        (
            &["--log-raw", "x.log", "--log-connect-timeout", "3"],
            "--log-connect-timeout is given, but no output is a tcp:// or unix: socket",
        ),
        (
            &[
                "--log-raw",
                "tcp://127.0.0.1:9",
                "--log-connect-timeout",
                "0",
            ],
            "not a positive number",
        ),
        (
            &["--log-exec", "no-such-command-for-structlog"],
            "--log-exec no-such-command-for-structlog: cannot start",
        ),
        (
            &["--log-github", "-", "--log-mach", "-"],
            "all write to stdout",
        ),
    ];
    for (args, want) in cases {
        let (out, _) = run_within(
            structlog()
                .current_dir(dir.path())
                .args(["--manifest-path", &sample()])
                .args(*args),
            RUN_LIMIT,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("Finished") && !stderr.contains("Compiling"),
            "built for {args:?}: {stderr}"
        );
    }
}

/// GitHub's escaping of a workflow-command property.
fn property(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .replace(':', "%3A")
        .replace(',', "%2C")
}

/// The properties of a workflow command line (`::error a=1,b=2::msg`).
fn properties(line: &str) -> Vec<(String, String)> {
    let rest = line.split_once(' ').unwrap().1;
    let props = rest.split_once("::").unwrap().0;
    props
        .split(',')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn github_annotations_point_at_real_lines_and_the_summary_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "An earlier step's summary.\n").unwrap();
    let (out, _) = run_within(
        structlog().env("GITHUB_STEP_SUMMARY", &summary).args([
            "--manifest-path",
            &sample(),
            "--workspace",
            "--log-github",
            "-",
            "--log-raw",
            raw.to_str().unwrap(),
        ]),
        RUN_LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    let workspace = root().join("fixtures/sample");

    let entries = read_raw(&raw);
    let unexpected: Vec<&Value> = entries
        .iter()
        .filter(|e| {
            e["action"] == "test_end"
                && e.get("expected").is_some()
                && !e["known_intermittent"]
                    .as_array()
                    .is_some_and(|k| k.contains(&e["status"]))
        })
        .collect();
    assert_eq!(unexpected.len(), 9);
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(errors.len(), unexpected.len(), "{text}");
    for e in &unexpected {
        let id = e["test"].as_str().unwrap();
        let title = format!("title={}%3A ", property(id));
        let mine: Vec<&&str> = errors.iter().filter(|l| l.contains(&title)).collect();
        assert_eq!(mine.len(), 1, "one ::error for {id}:\n{text}");
        let props = properties(mine[0]);
        let get = |k: &str| props.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let file = get("file").unwrap_or_else(|| panic!("no file for {id}: {}", mine[0]));
        let source = workspace.join(&file);
        let lines: Vec<String> = std::fs::read_to_string(&source)
            .unwrap_or_else(|err| panic!("{id}: {}: {err}", source.display()))
            .lines()
            .map(str::to_string)
            .collect();
        let extra = &e["extra"];
        let has_line = extra.get("line").is_some() || extra.get("panic_location").is_some();
        match get("line") {
            Some(l) => {
                let l: usize = l.parse().unwrap();
                assert!((1..=lines.len()).contains(&l), "{id}: line {l} of {file}");
                // A panic's place is the line that panicked.
                if get("col").is_some() {
                    let code = &lines[l - 1];
                    assert!(
                        code.contains("panic!(") || code.contains("assert"),
                        "{id}: {file}:{l} is `{code}`"
                    );
                }
            }
            None => assert!(!has_line, "{id}: the log has a line: {}", mine[0]),
        }
    }

    // Groups never nest, and every binary's output is in one.
    let mut open = false;
    for l in text.lines() {
        if l.starts_with("::group::") {
            assert!(!open, "nested group: {l}");
            open = true;
        } else if l == "::endgroup::" {
            assert!(open, "endgroup without group");
            open = false;
        }
    }
    assert!(!open);
    assert!(text.contains("::group::alpha\n"), "{text}");
    assert!(text.contains("hello from stdout (pass)"), "{text}");

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("An earlier step's summary.\n"),
        "appended:\n{md}"
    );
    assert!(md.contains("**9 unexpected results** in 29 tests"), "{md}");
    assert!(md.contains("| **All** | **20** | **9** | **0** |"), "{md}");
    let table = md
        .split("### Unexpected results\n\n")
        .nth(1)
        .expect("the table of unexpected results");
    let rows: Vec<&str> = table
        .lines()
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    assert_eq!(rows.len(), 9, "{md}");
    assert!(
        rows.iter().any(|r| r.starts_with(
            "| alpha tests::fails\\_assert | FAIL, expected PASS | alpha/src/lib.rs:45 |"
        )),
        "{md}"
    );
}
