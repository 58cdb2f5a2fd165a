//! End to end at the desk: the record every run keeps, `--last-failed`,
//! `--failed-first` and `--from-log` reading it, `runs`, and `list`,
//! against the fixture workspace.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

fn sample() -> String {
    fixture_manifest("sample").to_str().unwrap().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the fixture workspace with its records in `session` and a raw log.
fn run_in(session: &Path, raw: &Path, extra: &[&str]) -> Output {
    run(structlog()
        .args(["--manifest-path", &sample()])
        .args(["--session-dir", session.to_str().unwrap()])
        .args(["--log-raw", raw.to_str().unwrap()])
        .args(extra))
}

/// The ids that started, in order.
fn started(raw: &Path) -> Vec<String> {
    read_raw(raw)
        .iter()
        .filter(|e| e["action"] == "test_start")
        .map(|e| e["test"].as_str().unwrap().to_string())
        .collect()
}

/// The ids whose result was unexpected.
fn unexpected(raw: &Path) -> BTreeSet<String> {
    read_raw(raw)
        .iter()
        .filter(|e| e["action"] == "test_end")
        .filter(|e| e.get("expected").is_some_and(|x| *x != e["status"]))
        .map(|e| e["test"].as_str().unwrap().to_string())
        .collect()
}

/// What `--last-failed` must pick from a set of failed ids: those ids, and
/// every doctest of a file that had a failing doctest.
fn picked(failed: &BTreeSet<String>, all: &[String]) -> BTreeSet<String> {
    let doc_file = |id: &str| -> Option<String> {
        let (bin, name) = id.split_once(' ')?;
        bin.ends_with("::doc")
            .then(|| format!("{bin} {}", name.split(" - ").next().unwrap()))
    };
    let files: BTreeSet<String> = failed.iter().filter_map(|i| doc_file(i)).collect();
    all.iter()
        .filter(|id| failed.contains(*id) || doc_file(id).is_some_and(|f| files.contains(&f)))
        .cloned()
        .collect()
}

#[test]
fn last_failed_runs_exactly_what_failed_and_failed_first_runs_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session");
    let full = dir.path().join("full.log");
    let out = run_in(&session, &full, &[]);
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    let all = started(&full);
    let failed = unexpected(&full);
    assert!(
        failed.len() >= 5,
        "the fixture has failing tests: {failed:?}"
    );
    assert!(
        failed.iter().any(|f| f.contains("::doc ")),
        "a failing doctest: {failed:?}"
    );
    let want = picked(&failed, &all);
    assert!(
        want.len() > failed.len(),
        "a passing doctest of the same file"
    );

    // The record of that run is what --last-failed reads.
    let again = dir.path().join("again.log");
    let out = run_in(&session, &again, &["--last-failed"]);
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    let ran: BTreeSet<String> = started(&again).into_iter().collect();
    assert_eq!(ran, want);
    assert_eq!(unexpected(&again), failed);
    if let Some(report) = mozlog_check(&again) {
        assert!(
            report.contains(&format!("{} tests", want.len())),
            "{report}"
        );
    }

    // The usual selection and partitions apply to what failed.
    let beta = dir.path().join("beta.log");
    let out = run_in(&session, &beta, &["--last-failed", "-p", "beta"]);
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    let want_beta: BTreeSet<String> = want
        .iter()
        .filter(|t| t.starts_with("beta"))
        .cloned()
        .collect();
    assert!(!want_beta.is_empty());
    assert_eq!(
        started(&beta).into_iter().collect::<BTreeSet<_>>(),
        want_beta
    );
    let mut shards = BTreeSet::new();
    for k in 1..=2 {
        let shard = dir.path().join(format!("shard{k}.log"));
        let p = format!("count:{k}/2");
        let _ = run_in(&session, &shard, &["--last-failed", "--partition", &p]);
        let ran = started(&shard);
        assert!(!ran.is_empty(), "shard {k} of the failures is empty");
        for t in ran {
            assert!(shards.insert(t.clone()), "{t} in both shards");
        }
    }
    assert_eq!(shards, want);

    // Every run was recorded, each with its counts and exit status.
    let runs = run(structlog().args(["runs", "--session-dir", session.to_str().unwrap()]));
    assert_eq!(runs.status.code(), Some(0), "{}", stderr(&runs));
    let table = String::from_utf8_lossy(&runs.stdout).into_owned();
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 5, "{table}");
    let first: Vec<&str> = rows[0].split_whitespace().collect();
    // STARTED (date, time), DURATION (n, s), TESTS, PASSED, UNEXPECTED, SKIPPED, EXIT, RECORD
    assert_eq!(first[4], all.len().to_string(), "{table}");
    assert_eq!(first[6], failed.len().to_string(), "{table}");
    assert_eq!(first[8], "101", "{table}");
    let second: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(second[4], want.len().to_string(), "{table}");

    // --failed-first: everything runs, what failed before the rest (one
    // binary at a time, so that the order is the order things start).
    let first_log = dir.path().join("first.log");
    let out = run_in(
        &session,
        &first_log,
        &["--failed-first", "--test-binaries", "1"],
    );
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    let order = started(&first_log);
    assert_eq!(
        order.iter().cloned().collect::<BTreeSet<_>>(),
        all.iter().cloned().collect::<BTreeSet<_>>()
    );
    let (head, _) = order.split_at(want.len());
    assert_eq!(
        head.iter().cloned().collect::<BTreeSet<_>>(),
        want,
        "{order:#?}"
    );
}

/// A raw log in which `ids` failed and `passed` passed.
fn reference(path: &Path, failed: &[&str], passed: &[&str]) {
    let mut lines = vec![serde_json::json!({
        "action": "suite_start", "time": 1, "thread": "main", "pid": 1,
        "source": "ci", "tests": {"default": failed.iter().chain(passed).collect::<Vec<_>>()}
    })];
    for (ids, status) in [(failed, "FAIL"), (passed, "PASS")] {
        for id in ids.iter() {
            lines.push(
                serde_json::json!({"action": "test_start", "time": 2, "thread": "t",
                "pid": 1, "source": "ci", "test": id}),
            );
            let mut end = serde_json::json!({"action": "test_end", "time": 3, "thread": "t",
                "pid": 1, "source": "ci", "test": id, "status": status});
            if status == "FAIL" {
                end["expected"] = Value::from("PASS");
            }
            lines.push(end);
        }
    }
    lines.push(
        serde_json::json!({"action": "suite_end", "time": 4, "thread": "main",
        "pid": 1, "source": "ci"}),
    );
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

#[test]
fn from_log_names_what_is_gone_and_a_green_reference_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session");
    let ci = dir.path().join("ci.log");
    reference(
        &ci,
        &[
            "beta tests::unicode_output",
            "beta tests::renamed_since",
            "alpha::doc alpha/src/removed.rs - f (line 1)",
        ],
        &["beta tests::shared_name"],
    );
    let raw = dir.path().join("run.log");
    let out = run_in(
        &session,
        &raw,
        &["--last-failed", "--from-log", ci.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    assert_eq!(started(&raw), ["beta tests::unicode_output"]);
    let warnings = logs(&read_raw(&raw), "WARNING");
    for gone in [
        "beta tests::renamed_since",
        "alpha::doc alpha/src/removed.rs (its doctests)",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(gone)
                && w.contains("no longer exists")
                && w.contains("ci.log")),
            "{gone}: {warnings:?}"
        );
    }

    // Nothing failed: nothing runs, and the run says so.
    let green = dir.path().join("green.log");
    reference(&green, &[], &["beta tests::shared_name"]);
    let raw = dir.path().join("none.log");
    let out = run_in(
        &session,
        &raw,
        &["--last-failed", "--from-log", green.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing to run"), "{}", stderr(&out));
    let entries = read_raw(&raw);
    assert!(started(&raw).is_empty());
    assert!(logs(&entries, "INFO")
        .iter()
        .any(|m| m.contains("no test failed") && m.contains("green.log")));
    if let Some(report) = mozlog_check(&raw) {
        assert!(report.contains("0 tests"), "{report}");
    }

    // --from-log alone names nothing to do; a record that is not there is
    // an error.
    let out = run(structlog()
        .args(["--manifest-path", &sample(), "--from-log"])
        .arg(&ci));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--last-failed or --failed-first"));
    // Nothing is opened before the reference is read: an earlier output
    // stays as it was.
    let empty = dir.path().join("empty");
    let earlier = dir.path().join("earlier.xml");
    std::fs::write(&earlier, "<testsuites/>\n").unwrap();
    let out = run(structlog()
        .args([
            "--manifest-path",
            &sample(),
            "--last-failed",
            "--session-dir",
        ])
        .arg(&empty)
        .arg("--log-xunit")
        .arg(&earlier));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&earlier).unwrap(),
        "<testsuites/>\n"
    );
    assert!(
        stderr(&out).contains("no run is recorded"),
        "{}",
        stderr(&out)
    );
}

/// `list --json`'s ids.
fn list_ids(extra: &[&str]) -> (BTreeSet<String>, Vec<Value>) {
    let out = run(structlog()
        .args(["list", "--json", "--manifest-path", &sample()])
        .args(extra));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tests = doc["tests"].as_array().unwrap().clone();
    assert_eq!(doc["count"], tests.len());
    let ids = tests
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    (ids, tests)
}

#[test]
fn list_names_exactly_the_tests_a_run_with_the_same_flags_runs() {
    let dir = tempfile::tempdir().unwrap();
    let selections: &[&[&str]] = &[
        &[],
        &["-p", "beta"],
        &["--test", "it_one"],
        &["shared"],
        &["--doc"],
        &["--partition", "hash:1/2"],
        &["--include-ignored", "--", "--skip", "passes"],
    ];
    for (i, sel) in selections.iter().enumerate() {
        let (listed, _) = list_ids(sel);
        let raw = dir.path().join(format!("{i}.log"));
        let out = run(structlog()
            .args(["--manifest-path", &sample()])
            .args(["--session-dir", dir.path().to_str().unwrap()])
            .args(["--log-raw", raw.to_str().unwrap()])
            .args(*sel));
        assert!(out.status.code().is_some(), "{}", stderr(&out));
        let ran: BTreeSet<String> = started(&raw).into_iter().collect();
        assert!(!ran.is_empty(), "{sel:?}");
        assert_eq!(listed, ran, "{sel:?}");
    }

    // What each test is.
    let (_, tests) = list_ids(&[]);
    let get = |id: &str| -> &Value {
        tests
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed"))
    };
    let t = get("alpha tests::ignored_with_reason");
    assert_eq!(t["ignored"], true);
    assert_eq!(t["ignore_reason"], "needs network");
    assert_eq!(t["kind"], "test");
    assert_eq!(t["path"], "alpha/src/lib.rs");
    assert!(t["line"].as_u64().unwrap() > 0);
    assert_eq!(
        get("alpha tests::should_panic_panics")["should_panic"],
        true
    );
    assert_eq!(get("alpha tests::passes")["should_panic"], false);
    assert_eq!(get("alpha tests::passes")["ignored"], false);
    assert_eq!(get("alpha::plain plain")["kind"], "custom-harness");
    let doc = get("alpha::doc alpha/src/lib.rs - divide (line 20)");
    assert_eq!(doc["kind"], "doctest");
    assert_eq!(doc["should_panic"], true);
    assert_eq!(doc["line"], 20);

    // The text form says the same for people.
    let out = run(structlog().args(["list", "--manifest-path", &sample()]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tests::ignored_with_reason  [ignored: needs network]  alpha/src/lib.rs:")
    );
    assert!(
        text.contains(&format!("{} tests in ", tests.len())),
        "{text}"
    );
}

/// A copy of `fixtures/profiles` with this `structlog.toml`.
fn profiles_workspace(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("fixtures/profiles"), dir.path());
    std::fs::write(dir.path().join("structlog.toml"), toml).unwrap();
    dir
}

/// How many times a test ran (its attempts, with `--retries`).
fn attempts(raw: &Path, test: &str) -> usize {
    let ends = by_test(&read_raw(raw), "test_end");
    let end = &ends[test];
    end["extra"]["attempts"].as_array().map_or(1, Vec::len)
}

#[test]
fn profiles_set_options_the_command_line_overrides_them_and_show_config_says_whence() {
    let ws = profiles_workspace(
        "[profile.default]\n\
         log-raw = \"out/default.log\"\n\
         test-threads = 1\n\
         \n\
         [profile.ci]\n\
         log-xunit = \"out/junit.xml\"\n\
         log-raw = [\"out/ci.log\"]\n\
         retries = 1\n",
    );
    let root = ws.path();
    let out_dir = root.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // From a subdirectory: the profile's relative paths are the file's.
    let in_src = || {
        let mut c = structlog();
        c.current_dir(root.join("src"))
            .env_remove("STRUCTLOG_PROFILE");
        c
    };
    let out = run(in_src().args(["-P", "ci"]));
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    assert!(out_dir.join("junit.xml").is_file());
    assert!(
        !out_dir.join("default.log").exists(),
        "ci's log-raw replaces default's"
    );
    // retries = 1: the failing test ran twice.
    assert_eq!(attempts(&out_dir.join("ci.log"), "prof tests::fails"), 2);

    // The environment chooses the profile too; the command line wins.
    std::fs::remove_dir_all(&out_dir).unwrap();
    std::fs::create_dir(&out_dir).unwrap();
    let out = run(in_src()
        .env("STRUCTLOG_PROFILE", "ci")
        .args(["--retries", "0", "--log-raw"])
        .arg(root.join("cli.log")));
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    assert_eq!(attempts(&root.join("cli.log"), "prof tests::fails"), 1);
    assert!(!out_dir.join("ci.log").exists());
    assert!(
        out_dir.join("junit.xml").is_file(),
        "what the line does not give stays"
    );

    // No profile named: [profile.default] alone.
    let out = run(&mut in_src());
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    assert_eq!(
        attempts(&out_dir.join("default.log"), "prof tests::fails"),
        1
    );

    let out = run(in_src().args(["show-config", "-P", "ci", "--timeout", "9"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = |key: &str| -> String {
        shown
            .lines()
            .find(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("{key}: {shown}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("retries"),
        "retries = 1 # profile.ci (structlog.toml:8)"
    );
    assert_eq!(
        line("test-threads"),
        "test-threads = 1 # profile.default (structlog.toml:3)"
    );
    assert_eq!(line("timeout"), "timeout = 9 # command line");
    assert_eq!(
        line("pre-kill-hook-timeout"),
        "pre-kill-hook-timeout = 30 # default"
    );
    assert!(line("log-xunit").ends_with("junit.xml\"] # profile.ci (structlog.toml:6)"));
    // `list` takes the profile's selection options and leaves its sinks.
    let out = run(in_src().args(["list", "-P", "ci"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains("5 tests in 1 binary, 1 ignored"),
        "{listed}"
    );

    let out = run(in_src().env("STRUCTLOG_PROFILE", "ci").arg("show-config"));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("structlog-profile = \"ci\"") && l.ends_with("# environment")),
        "{shown}"
    );
}

#[test]
fn a_bad_profile_names_its_file_line_and_key_and_nothing_runs() {
    let cases: &[(&str, &str)] = &[
        (
            "[profile.ci]\nretries = 1\nbogus = 2\n",
            ":3: [profile.ci] `bogus`: no such option",
        ),
        (
            "[profile.default]\n\ntimeout = \"soon\"\n",
            ":3: [profile.default] `timeout`: invalid value 'soon'",
        ),
        (
            "[profile.ci]\nretries = [1, 2]\n",
            ":2: [profile.ci] `retries`: takes one value",
        ),
        (
            "[profile.ci]\nfail-on-flaky = \"yes\"\n",
            ":2: [profile.ci] `fail-on-flaky`: is a flag",
        ),
        (
            "[profile.ci]\nlog-xunit-flavor = \"weird\"\n",
            ":2: [profile.ci] `log-xunit-flavor`: invalid value 'weird'",
        ),
        (
            "[profile.ci]\nmanifest-path = \"x/Cargo.toml\"\n",
            ":2: [profile.ci] `manifest-path`: no such option",
        ),
        ("[profile.ci\nretries = 1\n", ":1: "),
        // A profile that is not chosen is checked too.
        (
            "[profile.other]\nretries = \"many\"\n",
            ":2: [profile.other] `retries`",
        ),
    ];
    for (toml, want) in cases {
        let ws = profiles_workspace(toml);
        let out = run(structlog()
            .current_dir(ws.path())
            .env_remove("STRUCTLOG_PROFILE")
            .args(["--log-raw", "run.log", "--log-xunit", "junit.xml"]));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{toml}: {err}");
        assert!(
            err.contains(&format!("structlog.toml{want}")),
            "{toml}: {err}"
        );
        assert!(
            !ws.path().join("run.log").exists(),
            "{toml}: a sink was opened"
        );
        assert!(!ws.path().join("target").exists(), "{toml}: cargo ran");
    }
    // A chosen profile that is not there.
    let ws = profiles_workspace("[profile.ci]\nretries = 1\n");
    let out = run(structlog().current_dir(ws.path()).args(["-P", "nightly"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("there is no [profile.nightly] (profiles: ci)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_slowest_tests_are_named_and_a_long_run_says_where_its_time_went() {
    let ws = profiles_workspace("");
    let root = ws.path();
    let raw = root.join("run.log");
    let mach = root.join("mach.txt");
    let out = run(structlog()
        .current_dir(root)
        .args(["--log-raw", "run.log", "--log-mach", "mach.txt"])
        .args(["--slow-threshold", "0.5"]));
    assert_eq!(out.status.code(), Some(101), "{}", stderr(&out));
    let entries = read_raw(&raw);
    let time_of = |action: &str, test: &str| -> u64 {
        entries
            .iter()
            .find(|e| e["action"] == action && e["test"] == test)
            .unwrap()["time"]
            .as_u64()
            .unwrap()
    };
    let took = |t: &str| time_of("test_end", t) - time_of("test_start", t);
    let (slow, slower) = (took("prof tests::slow"), took("prof tests::slower"));
    assert!(
        slow >= 300 && slower >= 600 && slower > slow,
        "{slow} {slower}"
    );
    let text = std::fs::read_to_string(&mach).unwrap();
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "Slowest Tests")
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    let secs = |ms: u64| format!("{:.2} s", ms as f64 / 1000.0);
    // From 0.1 s up, slowest first; over the threshold marked.
    let mut want: Vec<(u64, &str)> = ["passes", "fails", "slow", "slower"]
        .iter()
        .map(|n| {
            let id = format!("prof tests::{n}");
            (took(&id), *n)
        })
        .filter(|(ms, _)| *ms >= 100)
        .collect();
    want.sort_by_key(|w| std::cmp::Reverse(w.0));
    let want: Vec<String> = want
        .iter()
        .map(|(ms, n)| {
            let over = if *ms > 500 { " (over 0.50 s)" } else { "" };
            format!("{:>9}  prof tests::{n}{over}", secs(*ms))
        })
        .collect();
    assert_eq!(
        &want[..2],
        [
            format!("{:>9}  prof tests::slower (over 0.50 s)", secs(slower)),
            format!("{:>9}  prof tests::slow", secs(slow)),
        ]
    );
    assert_eq!(section, want, "{text}");

    // The run's timings are in suite_end; a run under a minute is not
    // taken apart.
    let end = entries.last().unwrap();
    assert_eq!(end["action"], "suite_end");
    let t = &end["extra"]["timings"];
    let total = t["total"].as_f64().unwrap();
    assert!(total >= t["build"].as_f64().unwrap(), "{t}");
    assert!(t["listing"].as_f64().is_some(), "{t}");
    // The tests run on threads of one process: it ran as long as the
    // slowest, at least.
    let busy = t["binaries"]["prof"].as_f64().unwrap();
    assert!(busy * 1000.0 >= slower as f64 && busy < total, "{t}");
    assert!(!text.contains(" Went\n"), "{text}");
    if let Some(report) = mozlog_check(&raw) {
        assert!(report.contains("conforming"));
    }

    // The same log, as from a run of 75 s: where the time went.
    let mut long = entries.clone();
    long.last_mut().unwrap()["extra"]["timings"]["total"] = Value::from(75.0);
    let long_log = root.join("long.log");
    let lines: String = long.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&long_log, lines).unwrap();
    let out = run(structlog()
        .args(["format", "--log-mach", "-", "--input"])
        .arg(&long_log));
    let text = String::from_utf8_lossy(&out.stdout);
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "Where 75.0 s Went")
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    let s = |v: &Value| {
        let ms = (v.as_f64().unwrap() * 1000.0) as u64;
        if ms < 10_000 {
            format!("{:.2} s", ms as f64 / 1000.0)
        } else {
            format!("{:.1} s", ms as f64 / 1000.0)
        }
    };
    assert_eq!(
        section,
        [
            format!("{:>9}  build", s(&t["build"])),
            format!("{:>9}  listing the tests", s(&t["listing"])),
            format!("{:>9}  running prof", s(&t["binaries"]["prof"])),
        ],
        "{text}"
    );
}
