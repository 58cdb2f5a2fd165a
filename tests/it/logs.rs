//! Logs as data: `format` replays a raw log into sinks exactly as the live
//! run wrote them, `merge` joins the logs of shards into one run, `unstable`
//! finds the tests whose status differs between runs; malformed input is
//! reported by file and line, and a large log streams in bounded memory.

use crate::common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;

/// Every sink, as `--log-<name>` spells it, with the file name used here.
const SINKS: &[(&str, &str)] = &[
    ("raw", "run.log"),
    ("mach", "mach.txt"),
    ("tbpl", "tbpl.txt"),
    ("errorsummary", "errorsummary.json"),
    ("unittest", "unittest.txt"),
    ("grouped", "grouped.txt"),
    ("html", "report.html"),
    ("xunit", "junit.xml"),
];

/// Arguments that write every sink into `dir`.
fn sink_args(dir: &Path) -> Vec<String> {
    SINKS
        .iter()
        .flat_map(|(name, file)| {
            [
                format!("--log-{name}"),
                dir.join(file).to_str().unwrap().to_string(),
            ]
        })
        .collect()
}

/// The fixture workspace run once, live, into every sink.
struct Live {
    dir: tempfile::TempDir,
    status: Option<i32>,
    stderr: String,
}

impl Live {
    fn raw(&self) -> PathBuf {
        self.dir.path().join("run.log")
    }
}

fn live() -> &'static Live {
    static LIVE: OnceLock<Live> = OnceLock::new();
    LIVE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = structlog();
        cmd.args([
            "--manifest-path",
            fixture_manifest("sample").to_str().unwrap(),
            "--workspace",
        ])
        .args(sink_args(dir.path()));
        let out = crate::common::run(&mut cmd);
        Live {
            status: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            dir,
        }
    })
}

/// The live run's raw log, checked to be the fixture's run.
fn live_entries() -> Vec<Value> {
    let live = live();
    // The fixture fails some tests on purpose.
    assert_eq!(live.status, Some(101), "live run:\n{}", live.stderr);
    read_raw(&live.raw())
}

fn tool(args: &[&str]) -> Output {
    crate::common::run(structlog().args(args))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_log(path: &Path, entries: &[Value]) {
    let mut s = String::new();
    for e in entries {
        s.push_str(&e.to_string());
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A minimal entry of our own making.
fn entry(action: &str, time: u64, fields: Value) -> Value {
    let mut e = json!({"action": action, "time": time, "thread": "t", "pid": 1, "source": "test"});
    for (k, v) in fields.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

#[test]
fn replaying_the_raw_log_reproduces_every_sink_byte_for_byte() {
    let live = live();
    // Checks that the live run is the fixture's (exit status 101).
    live_entries();
    let replay = tempfile::tempdir().unwrap();
    let mut cmd = structlog();
    cmd.args(["format", "--input", p(&live.raw())])
        .args(sink_args(replay.path()));
    let out = crate::common::run(&mut cmd);
    // The replayed run failed tests, but formatting it did not fail.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    for (name, file) in SINKS {
        let want = std::fs::read(live.dir.path().join(file)).unwrap();
        let got = std::fs::read(replay.path().join(file)).unwrap();
        assert!(!want.is_empty(), "the live {name} output is empty");
        assert!(
            want == got,
            "--log-{name}: the replay differs from the live run's output\n--- live\n{}\n--- replay\n{}",
            text(&want),
            text(&got)
        );
    }
    // No --input: stdin, here into mach on stdout (the default sink).
    let out = structlog()
        .arg("format")
        .stdin(std::fs::File::open(live.raw()).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mach = std::fs::read(live.dir.path().join("mach.txt")).unwrap();
    assert!(out.stdout == mach, "mach on stdout:\n{}", text(&out.stdout));
}

/// The github sink's stop-commands token, from its output.
fn stop_token(github: &str) -> String {
    github
        .lines()
        .find_map(|l| l.strip_prefix("::stop-commands::"))
        .expect("a stop-commands line")
        .to_string()
}

#[test]
fn the_github_stop_token_cannot_be_predicted_from_the_log() {
    // The same log, replayed twice: every other output is the same bytes
    // (see above); the token, which a test could otherwise work out from
    // the raw log it can read, is new each time.
    let live = live();
    let dir = tempfile::tempdir().unwrap();
    let mut tokens = Vec::new();
    for i in 0..2 {
        let out_file = dir.path().join(format!("github-{i}.txt"));
        let out = tool(&[
            "format",
            "--input",
            p(&live.raw()),
            "--log-github",
            p(&out_file),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        tokens.push(stop_token(&std::fs::read_to_string(&out_file).unwrap()));
    }
    assert_ne!(tokens[0], tokens[1]);
}

#[test]
fn raw_replay_keeps_each_line_as_another_producer_wrote_it() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out, copy, tbpl) = (
        dir.path().join("theirs.log"),
        dir.path().join("out.log"),
        dir.path().join("copy.log"),
        dir.path().join("tbpl.txt"),
    );
    // Another key order, spaces, a field no action of ours has, a reftest
    // id (a list), a line ending in CRLF.
    let lines = [
        r#"{"action": "suite_start", "time": 1, "tests": {"g": ["g a"]}, "run_info": {"os": "linux"}, "source": "mozharness", "thread": "MainThread", "pid": 7}"#,
        r#"{"thread":"MainThread","action":"log","time":2,"level":"INFO","message":"hello","pid":7,"source":"x"}"#,
        r#"{"action":"test_start","time":3,"test":["g a","==","ref.html"],"pid":7,"thread":"MainThread","source":"x","harness_field":42}"#,
        r#"{"action":"log","time":4,"level":"WARNING","message":"careful","pid":7,"thread":"MainThread","source":"x"}"#,
        r#"{"action":"test_end","time":5,"test":["g a","==","ref.html"],"status":"FAIL","expected":"PASS","pid":7,"thread":"MainThread","source":"x"}"#,
        r#"{"action":"suite_end","time":6,"pid":7,"thread":"MainThread","source":"x"}"#,
    ];
    std::fs::write(&input, lines.join("\r\n") + "\r\n").unwrap();
    let res = tool(&[
        "format",
        "--input",
        p(&input),
        "--log-raw",
        p(&out),
        "--log-raw",
        p(&copy),
        "--log-tbpl",
        p(&tbpl),
    ]);
    assert_eq!(res.status.code(), Some(0), "{}", text(&res.stderr));
    let want: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), want);
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), want);
    // The other sinks read the same entries.
    let tbpl = std::fs::read_to_string(&tbpl).unwrap();
    assert!(
        tbpl.contains("TEST-UNEXPECTED-FAIL | g a==ref.html"),
        "{tbpl}"
    );

    // A level filter drops the lines below it and keeps the others as read.
    let filtered = dir.path().join("warnings.log");
    let res = tool(&[
        "format",
        "--input",
        p(&input),
        "--log-raw",
        p(&filtered),
        "--log-raw-level",
        "WARNING",
    ]);
    assert_eq!(res.status.code(), Some(0), "{}", text(&res.stderr));
    let want: String = lines
        .iter()
        .filter(|l| !l.contains("\"INFO\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(std::fs::read_to_string(&filtered).unwrap(), want);
}

#[test]
fn inputs_are_read_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, out) = (
        dir.path().join("a.log"),
        dir.path().join("b.log"),
        dir.path().join("out.log"),
    );
    let suite = |t0: u64, test: &str| {
        vec![
            entry("suite_start", t0, json!({"tests": {"g": [test]}})),
            entry("test_start", t0 + 1, json!({"test": test})),
            entry("test_end", t0 + 2, json!({"test": test, "status": "PASS"})),
            entry("suite_end", t0 + 3, json!({})),
        ]
    };
    write_log(&a, &suite(100, "g first"));
    write_log(&b, &suite(10, "g second"));
    let res = tool(&[
        "format",
        "--input",
        p(&b),
        "--input",
        p(&a),
        "--log-raw",
        p(&out),
    ]);
    assert_eq!(res.status.code(), Some(0), "{}", text(&res.stderr));
    let mut want = read_raw(&b);
    want.extend(read_raw(&a));
    assert_eq!(read_raw(&out), want);
}

/// Rewrites the test_end of `test`: its status, and `expected` for an unexpected one.
fn set_status(entries: &mut [Value], test: &str, status: &str, expected: Option<&str>) {
    let end = entries
        .iter_mut()
        .find(|e| e["action"] == "test_end" && e["test"] == test)
        .unwrap_or_else(|| panic!("no test_end for {test}"));
    end["status"] = json!(status);
    match expected {
        Some(x) => end["expected"] = json!(x),
        None => {
            end.as_object_mut().unwrap().remove("expected");
        }
    }
}

#[test]
fn unstable_lists_exactly_the_tests_whose_status_changed() {
    let run = live_entries();
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.log"),
        dir.path().join("b.log"),
        dir.path().join("c.log"),
    );
    write_log(&a, &run);
    let mut second = run.clone();
    set_status(&mut second, "alpha tests::passes", "FAIL", Some("PASS"));
    set_status(&mut second, "alpha tests::fails_assert", "PASS", None);
    write_log(&b, &second);
    let mut third = run.clone();
    set_status(&mut third, "alpha tests::passes", "TIMEOUT", Some("PASS"));
    write_log(&c, &third);

    let out = tool(&["unstable", p(&a), p(&b), p(&c), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("--json writes JSON");
    assert_eq!(report["logs"], 3);
    assert_eq!(report["runs"], 3);
    assert_eq!(report["tests"], 29);
    let got: BTreeMap<String, Value> = report["unstable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            assert_eq!(u["subtest"], Value::Null, "{u}");
            (
                u["test"].as_str().unwrap().to_string(),
                u["statuses"].clone(),
            )
        })
        .collect();
    let want: BTreeMap<String, Value> = [
        (
            "alpha tests::fails_assert".to_string(),
            json!({"FAIL": 2, "PASS": 1}),
        ),
        (
            "alpha tests::passes".to_string(),
            json!({"PASS": 1, "FAIL": 1, "TIMEOUT": 1}),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);

    let out = tool(&["unstable", p(&a), p(&b), p(&c)]);
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["TEST", "PASS", "FAIL", "TIMEOUT"]
    );
    let row = |test: &str| -> Vec<String> {
        let line = lines
            .iter()
            .find(|l| l.starts_with(test))
            .unwrap_or_else(|| panic!("no row for {test}:\n{table}"));
        line[test.len()..]
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(row("alpha tests::fails_assert"), ["1", "2", "-"]);
    assert_eq!(row("alpha tests::passes "), ["1", "1", "1"]);
    // Two rows, a blank line, the count; no other test is listed.
    assert_eq!(lines.len(), 5, "{table}");
    assert_eq!(
        lines[4], "2 of 29 tests are unstable across 3 logs (3 runs)",
        "{table}"
    );

    // The same log twice: nothing is unstable.
    let out = tool(&["unstable", p(&a), p(&a), "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["unstable"], json!([]));
    let out = tool(&["unstable", p(&a), p(&a)]);
    assert!(
        text(&out.stdout).starts_with("no unstable tests"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn unstable_keys_subtests_by_test_and_name() {
    let dir = tempfile::tempdir().unwrap();
    let log = |name: &str, second: &str| {
        let path = dir.path().join(name);
        write_log(
            &path,
            &[
                entry("suite_start", 1, json!({"tests": ["t"]})),
                entry("test_start", 2, json!({"test": "t"})),
                entry(
                    "test_status",
                    3,
                    json!({"test": "t", "subtest": "one", "status": "PASS"}),
                ),
                entry(
                    "test_status",
                    4,
                    json!({"test": "t", "subtest": "two", "status": second}),
                ),
                entry("test_end", 5, json!({"test": "t", "status": "OK"})),
                entry("suite_end", 6, json!({})),
            ],
        );
        path
    };
    let (a, b) = (log("a.log", "PASS"), log("b.log", "FAIL"));
    let out = tool(&["unstable", "--json", p(&a), p(&b)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["unstable"],
        json!([{"test": "t", "subtest": "two", "statuses": {"PASS": 1, "FAIL": 1}}])
    );
    assert_eq!(
        (report["tests"].as_u64(), report["subtests"].as_u64()),
        (Some(1), Some(2))
    );
    let table = text(&tool(&["unstable", p(&a), p(&b)]).stdout);
    assert_eq!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["t", "two", "1", "1"],
        "{table}"
    );
}

/// Splits a run's log into one valid log per shard: each shard gets some of
/// the groups (round robin), the entries of their tests and processes, and
/// the run's suite_start (with its own tests) and suite_end.
fn split(entries: &[Value], shards: usize) -> Vec<Vec<Value>> {
    let start = &entries[0];
    assert_eq!(start["action"], "suite_start");
    let groups: Vec<(&String, &Value)> = start["tests"].as_object().unwrap().iter().collect();
    let mut shard_of_group = BTreeMap::new();
    let mut shard_of_test = BTreeMap::new();
    let mut out: Vec<Vec<Value>> = (0..shards).map(|_| Vec::new()).collect();
    for (i, (group, tests)) in groups.iter().enumerate() {
        shard_of_group.insert(group.as_str(), i % shards);
        for t in tests.as_array().unwrap() {
            shard_of_test.insert(t.as_str().unwrap(), i % shards);
        }
    }
    for (i, shard) in out.iter_mut().enumerate() {
        let mut s = start.clone();
        s["tests"] = Value::Object(
            groups
                .iter()
                .filter(|(g, _)| shard_of_group[g.as_str()] == i)
                .map(|(g, t)| (g.to_string(), (*t).clone()))
                .collect(),
        );
        shard.push(s);
    }
    for e in &entries[1..] {
        match e["action"].as_str().unwrap() {
            "suite_end" => out.iter_mut().for_each(|s| s.push(e.clone())),
            _ => {
                let shard = match e["test"].as_str() {
                    Some(t) => shard_of_test[t],
                    // Process entries carry their binary's group as thread.
                    None => *shard_of_group
                        .get(e["thread"].as_str().unwrap())
                        .unwrap_or(&0),
                };
                out[shard].push(e.clone());
            }
        }
    }
    out
}

fn sorted_lines(entries: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = entries.iter().map(Value::to_string).collect();
    v.sort();
    v
}

fn test_lists(start: &Value) -> BTreeMap<String, BTreeSet<String>> {
    start["tests"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(g, t)| {
            let set = t
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string());
            (g.clone(), set.collect())
        })
        .collect()
}

#[test]
fn merging_shards_gives_one_run_with_the_union_of_their_results() {
    let run = live_entries();
    let times: Vec<u64> = run.iter().map(|e| e["time"].as_u64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "the live log is not in time order"
    );
    let dir = tempfile::tempdir().unwrap();
    let shards = split(&run, 3);
    let mut paths = Vec::new();
    for (i, shard) in shards.iter().enumerate() {
        assert!(shard.len() > 2, "shard {i} has no tests");
        let path = dir.path().join(format!("shard{i}.log"));
        write_log(&path, shard);
        mozlog_check(&path);
        paths.push(path);
    }
    let merged = dir.path().join("merged.log");
    let tbpl = dir.path().join("merged.tbpl");
    let mut args = vec!["merge"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--log-raw", p(&merged), "--log-tbpl", p(&tbpl)]);
    let out = tool(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    mozlog_check(&merged);

    let got = read_raw(&merged);
    let actions: Vec<&str> = got.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "suite_start").count(), 1);
    assert_eq!(actions.iter().filter(|a| **a == "suite_end").count(), 1);
    assert_eq!(actions[0], "suite_start");
    assert_eq!(*actions.last().unwrap(), "suite_end");
    // Every other entry of the run, once, in time order.
    assert_eq!(
        sorted_lines(&got[1..got.len() - 1]),
        sorted_lines(&run[1..run.len() - 1])
    );
    let merged_times: Vec<u64> = got.iter().map(|e| e["time"].as_u64().unwrap()).collect();
    assert!(
        merged_times.windows(2).all(|w| w[0] <= w[1]),
        "not in time order"
    );
    assert_eq!(got.last().unwrap()["time"], run.last().unwrap()["time"]);
    // The run's tests, its run_info and the number of shards.
    assert_eq!(test_lists(&got[0]), test_lists(&run[0]));
    assert_eq!(got[0]["time"], run[0]["time"]);
    let mut info = got[0]["run_info"].clone();
    assert_eq!(info["shards"], 3);
    info.as_object_mut().unwrap().remove("shards");
    assert_eq!(info, run[0]["run_info"]);
    let tbpl = std::fs::read_to_string(&tbpl).unwrap();
    assert!(
        tbpl.starts_with("SUITE-START | Running 29 tests\n"),
        "{tbpl}"
    );
}

#[test]
fn merge_orders_entries_by_time_and_ties_by_log() {
    let dir = tempfile::tempdir().unwrap();
    let shard = |name: &str, test: &str, times: [u64; 4]| {
        let path = dir.path().join(name);
        write_log(
            &path,
            &[
                entry("suite_start", times[0], json!({"tests": {name: [test]}})),
                entry("test_start", times[1], json!({"test": test})),
                entry(
                    "test_end",
                    times[2],
                    json!({"test": test, "status": "PASS"}),
                ),
                entry("suite_end", times[3], json!({})),
            ],
        );
        path
    };
    let a = shard("a", "a1", [10, 20, 40, 50]);
    let b = shard("b", "b1", [5, 20, 30, 70]);
    let out_path = dir.path().join("out.log");
    let out = tool(&["merge", p(&a), p(&b), "--log-raw", p(&out_path)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got: Vec<(String, u64, String)> = read_raw(&out_path)
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["time"].as_u64().unwrap(),
                e["test"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, u64, String)> = [
        ("suite_start", 5, ""),
        ("test_start", 20, "a1"),
        ("test_start", 20, "b1"),
        ("test_end", 30, "b1"),
        ("test_end", 40, "a1"),
        ("suite_end", 70, ""),
    ]
    .iter()
    .map(|(a, t, s)| (a.to_string(), *t, s.to_string()))
    .collect();
    assert_eq!(got, want);
    let start = &read_raw(&out_path)[0];
    assert_eq!(start["tests"], json!({"a": ["a1"], "b": ["b1"]}));
}

#[test]
fn a_test_in_two_logs_is_an_error_unless_duplicates_are_allowed() {
    let run = live_entries();
    let dir = tempfile::tempdir().unwrap();
    let shards = split(&run, 2);
    let (one, again) = (dir.path().join("one.log"), dir.path().join("again.log"));
    write_log(&one, &shards[0]);
    write_log(&again, &shards[0]);
    let merged = dir.path().join("merged.log");
    let out = tool(&["merge", p(&one), p(&again), "--log-raw", p(&merged)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let first_test = shards[0][0]["tests"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()[0]
        .as_str()
        .unwrap()
        .to_string();
    let line = stderr
        .lines()
        .find(|l| l.contains(&format!("`{first_test}`")))
        .unwrap_or_else(|| panic!("{first_test} is not named:\n{stderr}"));
    assert!(line.contains(p(&one)) && line.contains(p(&again)), "{line}");
    assert!(stderr.contains("--allow-duplicates"), "{stderr}");
    assert!(!merged.exists(), "an output was created before the error");

    let out = tool(&[
        "merge",
        p(&one),
        p(&again),
        "--allow-duplicates",
        "--log-raw",
        p(&merged),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = read_raw(&merged);
    let ends = |entries: &[Value]| entries.iter().filter(|e| e["action"] == "test_end").count();
    assert_eq!(ends(&got), 2 * ends(&shards[0]));
    // Listed once, its results kept twice.
    assert_eq!(test_lists(&got[0]), test_lists(&shards[0][0]));
    let listed: usize = got[0]["tests"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_array().unwrap().len())
        .sum();
    assert_eq!(listed, ends(&shards[0]));
}

/// A log with one of each kind of malformed line; its line numbers count
/// the blank line.
fn malformed_log(dir: &Path) -> PathBuf {
    let path = dir.join("bad.log");
    let lines = [
        entry("suite_start", 1, json!({"tests": {"g": ["g a", "g b"]}})).to_string(), // 1
        entry("test_start", 2, json!({"test": "g a"})).to_string(),                  // 2
        String::new(),                                                                // 3: blank
        r#"{"action":"test_end","time":"x","thread":"t","pid":1,"source":"s","test":"g a","status":"PASS"}"#.to_string(), // 4
        "this is not json".to_string(),                                               // 5
        entry("no_such_action", 6, json!({})).to_string(),                            // 6
        entry("test_end", 7, json!({"test": "g a"})).to_string(),                     // 7: no status
        entry("test_end", 8, json!({"test": "g a", "status": "FAIL", "expected": "PASS"})).to_string(), // 8
        entry("test_start", 9, json!({"test": "g b"})).to_string(),                   // 9
        r#"{"action":"test_end","time":10,"thread":"t","pid":1,"#.to_string(),       // 10: cut short
    ];
    // No newline after the last line, and no suite_end: a truncated log.
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

fn assert_complete_documents(dir: &Path) {
    let xml = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.trim_end().ends_with("</html>"), "html is cut short");
    let tbpl = std::fs::read_to_string(dir.join("tbpl.txt")).unwrap();
    assert!(tbpl.contains("SUITE-END"), "{tbpl}");
}

#[test]
fn malformed_lines_are_reported_by_file_and_line_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let bad = malformed_log(dir.path());
    let mut cmd = structlog();
    cmd.args(["format", "--input", p(&bad)])
        .args(sink_args(dir.path()));
    let out = crate::common::run(&mut cmd);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(104), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let b = p(&bad);
    for (line, what) in [
        (4, "invalid type"),
        (5, "not a valid entry"),
        (6, "unknown action \"no_such_action\""),
        (7, "\"status\""),
        (10, "EOF"),
    ] {
        let prefix = format!("{b}:{line}: ");
        let report = stderr
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("line {line} is not reported:\n{stderr}"));
        assert!(report.contains(what), "{report}");
    }
    for line in [1, 2, 3, 8, 9] {
        assert!(
            !stderr.contains(&format!("{b}:{line}:")),
            "line {line} reported:\n{stderr}"
        );
    }
    assert!(stderr.contains("5 malformed lines skipped"), "{stderr}");
    assert!(stderr.contains("without suite_end"), "{stderr}");
    // The good lines went through, and the documents are complete.
    let raw = read_raw(&dir.path().join("run.log"));
    let actions: Vec<&str> = raw.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["suite_start", "test_start", "test_end", "test_start"]
    );
    assert_complete_documents(dir.path());
    let tbpl = std::fs::read_to_string(dir.path().join("tbpl.txt")).unwrap();
    assert!(tbpl.contains("TEST-UNEXPECTED-FAIL | g a"), "{tbpl}");
    assert!(tbpl.contains("TEST-UNEXPECTED-ERROR | g b"), "{tbpl}");

    // --strict: the first malformed line ends the reading, with status 2.
    let strict = tempfile::tempdir().unwrap();
    let mut cmd = structlog();
    cmd.args(["format", "--strict", "--input", p(&bad)])
        .args(sink_args(strict.path()));
    let out = crate::common::run(&mut cmd);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{b}:4: ")), "{stderr}");
    assert!(!stderr.contains(&format!("{b}:5:")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let raw = read_raw(&strict.path().join("run.log"));
    assert_eq!(raw.len(), 2);
    assert_complete_documents(strict.path());
}

#[test]
fn a_sink_failure_outranks_malformed_input() {
    let dev_full = Path::new("/dev/full");
    if !dev_full.exists() {
        missing("/dev/full", "this system has no /dev/full");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = malformed_log(dir.path());
    let out = tool(&["format", "--input", p(&bad), "--log-raw", "/dev/full"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(103), "{stderr}");
    assert!(stderr.contains("--log-raw /dev/full"), "{stderr}");

    // Beside every other sink (written on threads of their own): they
    // still write what they write without the failing one.
    let (alone, beside) = (dir.path().join("alone"), dir.path().join("beside"));
    for d in [&alone, &beside] {
        std::fs::create_dir(d).unwrap();
    }
    let mut cmd = structlog();
    cmd.args(["format", "--input", p(&bad)])
        .args(sink_args(&alone));
    let out = crate::common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(104), "{}", text(&out.stderr));
    let mut cmd = structlog();
    cmd.args(["format", "--input", p(&bad), "--log-tbpl", "/dev/full"])
        .args(sink_args(&beside));
    let out = crate::common::run(&mut cmd);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(103), "{stderr}");
    assert_eq!(
        stderr.matches("--log-tbpl /dev/full").count(),
        1,
        "{stderr}"
    );
    assert_complete_documents(&beside);
    for (_, file) in SINKS {
        let (a, b) = (alone.join(file), beside.join(file));
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{file} differs beside a failing sink"
        );
    }
}

#[test]
fn a_truncated_log_is_formatted_to_complete_documents() {
    let dir = tempfile::tempdir().unwrap();
    let incomplete = root().join("fixtures/streams/incomplete.jsonl");
    let mut cmd = structlog();
    cmd.args(["format", "--input", p(&incomplete)])
        .args(sink_args(dir.path()));
    let out = crate::common::run(&mut cmd);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("incomplete.jsonl: the log ends without suite_end"),
        "{stderr}"
    );
    assert_complete_documents(dir.path());
    // Nothing was malformed: the raw output has every entry of the input.
    assert_eq!(read_raw(&dir.path().join("run.log")), read_raw(&incomplete));
}

#[test]
fn merge_reports_malformed_lines_too() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.log");
    write_log(
        &good,
        &[
            entry("suite_start", 1, json!({"tests": {"h": ["h x"]}})),
            entry("test_start", 2, json!({"test": "h x"})),
            entry("test_end", 3, json!({"test": "h x", "status": "PASS"})),
            entry("suite_end", 4, json!({})),
        ],
    );
    let bad = malformed_log(dir.path());
    let out_path = dir.path().join("out.log");
    let out = tool(&["merge", p(&good), p(&bad), "--log-raw", p(&out_path)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(104), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:6: unknown action", p(&bad))),
        "{stderr}"
    );
    assert!(stderr.contains("5 malformed lines skipped"), "{stderr}");
    assert!(
        stderr.contains("bad.log: the log ends without suite_end"),
        "{stderr}"
    );
    let got = read_raw(&out_path);
    // The header, two entries of each log but their suites', and suite_end.
    assert_eq!(got.len(), 1 + 2 + 3 + 1, "{got:?}");
    assert_eq!(got.last().unwrap()["action"], "suite_end");

    let out = tool(&[
        "merge",
        "--strict",
        p(&good),
        p(&bad),
        "--log-raw",
        p(&out_path),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("{}:4: ", p(&bad))));
}

#[test]
fn inputs_are_checked_before_any_output_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    std::fs::copy(live().raw(), &log).unwrap();
    let before = std::fs::read(&log).unwrap();
    // Writing over the input would truncate it before it is read.
    let out = tool(&["format", "--input", p(&log), "--log-raw", p(&log)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("also an input"));
    assert_eq!(std::fs::read(&log).unwrap(), before);
    let out = tool(&["merge", p(&log), "--log-tbpl", p(&log)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&log).unwrap(), before);
    // The same file by another name (a hard link) is the same input.
    let link = dir.path().join("link.xml");
    std::fs::hard_link(&log, &link).unwrap();
    let out = tool(&["format", "--input", p(&log), "--log-xunit", p(&link)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("also an input"));
    assert_eq!(std::fs::read(&log).unwrap(), before);
    // A missing input: nothing is created.
    let tbpl = dir.path().join("out.tbpl");
    let missing_log = dir.path().join("nope.log");
    let out = tool(&[
        "format",
        "--input",
        p(&log),
        "--input",
        p(&missing_log),
        "--log-tbpl",
        p(&tbpl),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nope.log"),
        "{}",
        text(&out.stderr)
    );
    assert!(!tbpl.exists());
    let out = tool(&["unstable", p(&missing_log)]);
    assert_eq!(out.status.code(), Some(2));
}

/// Writes a log of `n` small entries: tests starting, printing a line and
/// ending, one in ten failing, with no test listed up front.
fn write_big_log(path: &Path, n: usize) -> u64 {
    let f = std::fs::File::create(path).unwrap();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let head = r#""thread":"main","pid":7,"source":"bench""#;
    writeln!(
        w,
        r#"{{"action":"suite_start","time":1,{head},"tests":{{}}}}"#
    )
    .unwrap();
    let mut written = 1;
    let mut i = 0u64;
    while written + 3 < n {
        let t = 1000 + i;
        writeln!(
            w,
            r#"{{"action":"test_start","time":{t},{head},"test":"big tests::t{i}","group":"big"}}"#
        )
        .unwrap();
        writeln!(w, r#"{{"action":"process_output","time":{t},{head},"process":"7","data":"output of test {i}","test":"big tests::t{i}"}}"#).unwrap();
        if i % 10 == 3 {
            writeln!(w, r#"{{"action":"test_end","time":{t},{head},"test":"big tests::t{i}","status":"FAIL","expected":"PASS","message":"assertion failed","group":"big"}}"#).unwrap();
        } else {
            writeln!(w, r#"{{"action":"test_end","time":{t},{head},"test":"big tests::t{i}","status":"PASS","group":"big"}}"#).unwrap();
        }
        written += 3;
        i += 1;
    }
    writeln!(w, r#"{{"action":"suite_end","time":{},{head}}}"#, 1000 + i).unwrap();
    w.flush().unwrap();
    i
}

#[test]
fn a_large_log_streams_through_in_bounded_memory() {
    let Some(time) = program("time") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("big.log");
    let tests = write_big_log(&log, 1_000_000);
    let size = std::fs::metadata(&log).unwrap().len();
    let tbpl = dir.path().join("big.tbpl");
    let peak_file = dir.path().join("peak");
    let out = std::process::Command::new(time)
        .args(["-f", "%M", "-o", p(&peak_file)])
        .arg(env!("CARGO_BIN_EXE_cargo-structlog"))
        .args([
            "structlog",
            "format",
            "--input",
            p(&log),
            "--log-tbpl",
            p(&tbpl),
        ])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let peak_kb: u64 = std::fs::read_to_string(&peak_file)
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time's %M: the peak resident set in KiB");
    // Holding the log, let alone its entries, would take more than the file.
    let limit_kb = 48 * 1024;
    assert!(
        size / 1024 > 2 * limit_kb,
        "the log is too small to tell: {size} bytes"
    );
    assert!(
        peak_kb < limit_kb,
        "replaying a {} MB log peaked at {peak_kb} KiB",
        size >> 20
    );
    // Everything went through.
    let text = std::fs::read_to_string(&tbpl).unwrap();
    let ends = text
        .lines()
        .filter(|l| l.starts_with("TEST-PASS") || l.starts_with("TEST-UNEXPECTED-FAIL"))
        .count();
    assert_eq!(ends as u64, tests);
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("SUITE-END"),
        "the tbpl output ends with {last:?}"
    );
}

/// Formats `input` into every sink in a new directory, returning it with
/// the exit status.
fn format_all(input: &Path) -> (tempfile::TempDir, Option<i32>) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = structlog();
    cmd.args(["format", "--input", p(input)])
        .args(sink_args(dir.path()));
    let out = crate::common::run(&mut cmd);
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    (dir, out.status.code())
}

fn assert_same_sinks(a: &Path, b: &Path, what: &str) {
    for (name, file) in SINKS {
        let (x, y) = (
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
        );
        assert!(
            x == y,
            "--log-{name}: {what}\n--- first\n{}\n--- second\n{}",
            text(&x),
            text(&y)
        );
    }
}

#[test]
fn malformed_lines_change_nothing_and_a_replay_of_the_replay_is_the_same() {
    // The live log with damage between a test's start and its end, in the
    // middle of the run and before its end: a cut line, garbage, a line
    // of another line's halves, an entry missing its time.
    let entries = live_entries();
    let clean = tempfile::tempdir().unwrap();
    let clean_log = clean.path().join("clean.log");
    write_log(&clean_log, &entries);
    let mut damaged = String::new();
    let mut added = 0;
    for (i, e) in entries.iter().enumerate() {
        let line = e.to_string();
        if e["action"] == "test_end" && i % 3 == 0 {
            damaged.push_str(&line[..line.len() / 2]);
            damaged.push('\n');
            damaged.push_str("\u{1}not json at all\n");
            let no_time = line.replace("\"time\":", "\"tim\":");
            damaged.push_str(&no_time);
            damaged.push('\n');
            added += 3;
        }
        damaged.push_str(&line);
        damaged.push('\n');
    }
    assert!(added >= 6, "too little damage: {added} lines");
    let damaged_log = clean.path().join("damaged.log");
    std::fs::write(&damaged_log, damaged).unwrap();

    let (from_clean, status) = format_all(&clean_log);
    assert_eq!(status, Some(0));
    let (from_damaged, status) = format_all(&damaged_log);
    assert_eq!(status, Some(104), "malformed input is reported");
    assert_same_sinks(
        from_clean.path(),
        from_damaged.path(),
        "skipped malformed lines changed the output",
    );
    let (again, status) = format_all(&from_damaged.path().join("run.log"));
    assert_eq!(status, Some(0));
    assert_same_sinks(
        from_damaged.path(),
        again.path(),
        "replaying the replay's raw log differs",
    );

    // A log cut short, with no suite_end and a test left running: the
    // documents are completed the same way from the replay's raw log.
    let bad = malformed_log(clean.path());
    let (first, status) = format_all(&bad);
    assert_eq!(status, Some(104));
    let (second, status) = format_all(&first.path().join("run.log"));
    assert_eq!(status, Some(0));
    assert_same_sinks(
        first.path(),
        second.path(),
        "replaying a truncated log's replay differs",
    );
}

#[test]
fn mach_renders_leak_totals_as_mozlogs_mach_does() {
    let Some(python) = crate::common::python_with(&["mozlog"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("leaks.log");
    let totals = [
        json!({"process": "default", "bytes": 128, "threshold": 0, "objects": ["nsFoo"]}),
        json!({"process": "tab", "bytes": 100, "threshold": 4096, "objects": ["A"]}),
        json!({"process": "gpu", "bytes": 0, "threshold": 0, "objects": []}),
        json!({"process": "rdd", "bytes": null, "threshold": 0, "objects": [], "induced_crash": true}),
        json!({"process": "socket", "bytes": null, "threshold": 0, "objects": [], "ignore_missing": true}),
        json!({"process": "utility", "bytes": null, "threshold": 0, "objects": []}),
    ];
    let mut entries = vec![entry(
        "suite_start",
        1000,
        json!({"tests": {"default": []}}),
    )];
    for (i, t) in totals.iter().enumerate() {
        entries.push(entry("mozleak_total", 1100 + i as u64 * 100, t.clone()));
    }
    entries.push(entry("suite_end", 2000, json!({})));
    write_log(&raw, &entries);
    for verbose in [false, true] {
        let ours = dir.path().join("mach.txt");
        let mut args = vec!["format", "--input", p(&raw), "--log-mach", p(&ours)];
        if verbose {
            args.push("--log-mach-verbose");
        }
        let out = tool(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let ours = std::fs::read_to_string(&ours).unwrap();
        let theirs = std::process::Command::new(&python)
            .arg(crate::common::root().join("tests/tools/mozlog_mach.py"))
            .arg(&raw)
            .output()
            .unwrap();
        assert!(theirs.status.success(), "{}", text(&theirs.stderr));
        let theirs = text(&theirs.stdout);
        // Each total's line, as mozlog writes it (mozlog's own mach is
        // verbose here; the totals read the same in both modes).
        let leak_lines = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| l.contains("leakcheck") || l.contains("total leaks"))
                // Without the time prefix (`0:00.10`).
                .map(|l| {
                    l.trim_start()
                        .split_once(' ')
                        .map_or(l, |(_, r)| r)
                        .to_string()
                })
                .collect()
        };
        let (ours, theirs) = (leak_lines(&ours), leak_lines(&theirs));
        assert_eq!(ours.len(), totals.len(), "{ours:#?}");
        assert_eq!(ours, theirs, "verbose: {verbose}");
        assert_eq!(
            ours[0],
            "UNEXPECTED-FAIL leakcheck: default 128 bytes leaked"
        );
    }
}

/// One deliberate difference between a rendering of ours and mozlog's, as
/// an edit that turns one into the other; each must still apply (a
/// difference that is gone fails the test, so the list stays true).
enum Edit {
    /// mozlog's line holding this is not in ours.
    DropTheirs(&'static str),
    /// The blank lines mozlog writes after a line holding this.
    DropTheirBlanksAfter(&'static str),
    /// mozlog writes two lines as one, with no line break after this.
    SplitTheirsAfter(&'static str),
    /// Our line holding this is not in mozlog's.
    DropOurs(&'static str),
    /// Our line holding the first is mozlog's holding the second.
    OursReads(&'static str, &'static str),
    /// Our section under this heading (and the blank line before it) is
    /// not in mozlog's.
    DropOurSection(&'static str),
}

fn reconcile(ours: &str, theirs: &str, edits: &[(Edit, &str)]) -> (Vec<String>, Vec<String>) {
    let mut ours: Vec<String> = ours.lines().map(str::to_string).collect();
    let mut theirs: Vec<String> = theirs.lines().map(str::to_string).collect();
    for (edit, why) in edits {
        let before = (ours.clone(), theirs.clone());
        match *edit {
            Edit::DropTheirs(s) => theirs.retain(|l| !l.contains(s)),
            Edit::DropTheirBlanksAfter(s) => {
                let mut out: Vec<String> = Vec::new();
                for l in theirs.drain(..) {
                    let after = out
                        .iter()
                        .rev()
                        .find(|p| !p.is_empty())
                        .is_some_and(|p| p.contains(s));
                    let trailing = out.last().is_some_and(|p| p.is_empty() || p.contains(s));
                    if !(l.is_empty() && after && trailing) {
                        out.push(l);
                    }
                }
                theirs = out;
            }
            Edit::SplitTheirsAfter(s) => {
                theirs = theirs
                    .into_iter()
                    .flat_map(|l| match l.find(s) {
                        Some(at) if at + s.len() < l.len() => {
                            vec![l[..at + s.len()].to_string(), l[at + s.len()..].to_string()]
                        }
                        _ => vec![l],
                    })
                    .collect();
            }
            Edit::DropOurs(s) => ours.retain(|l| !l.contains(s)),
            Edit::DropOurSection(heading) => {
                ours = crate::common::without_section(&ours.join("\n"), heading)
                    .lines()
                    .map(str::to_string)
                    .collect();
            }
            Edit::OursReads(a, b) => {
                for l in ours.iter_mut().filter(|l| l.contains(a)) {
                    *l = l.replace(a, b);
                }
            }
        }
        assert!(
            (ours.clone(), theirs.clone()) != before,
            "a deliberate difference no longer shows: {why}"
        );
    }
    (ours, theirs)
}

/// A raw log mozlog's own StructuredLogger wrote, with every action it
/// defines (`fixtures/streams/make-mozlog-all.py`), rendered by our text
/// formats and by mozlog's, line by line. What still differs is deliberate,
/// and listed here with its reason (README "Where the text formats differ
/// from mozlog's").
#[test]
fn a_log_mozlog_wrote_renders_as_mozlogs_formatters_render_it() {
    let Some(python) = crate::common::python_with(&["mozlog"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = crate::common::root().join("fixtures/streams/mozlog-all.jsonl");
    let text_of = |path: &Path| std::fs::read_to_string(path).unwrap();
    // mozlog's tbpl raises on `lint` (its lint handler returns nothing
    // usable): it reads the log without those, ours with them.
    let no_lint = dir.path().join("no-lint.jsonl");
    let all = text_of(&input);
    assert!(all.contains(r#""action": "lint""#));
    std::fs::write(
        &no_lint,
        all.lines()
            .filter(|l| !l.contains(r#""action": "lint""#))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let ours = |format: &str, input: &Path, extra: &[&str]| -> String {
        let out = dir.path().join(format!("ours.{format}"));
        let flag = format!("--log-{format}");
        let mut args = vec!["format", "--input", p(input), &flag, p(&out)];
        args.extend_from_slice(extra);
        let run = tool(&args);
        assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
        text_of(&out)
    };
    let theirs = |args: &[&str]| -> String {
        let out = std::process::Command::new(&python)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let mozlog_format = |format: &str, input: &Path| {
        theirs(&[
            "-c",
            "import sys; from mozlog.scripts import main; sys.argv = ['structlog'] + sys.argv[1:]; main()",
            "format",
            format,
            "--input",
            p(input),
        ])
    };
    let compare = |name: &str, ours: &str, theirs: &str, edits: &[(Edit, &str)]| {
        let (ours, theirs) = reconcile(ours, theirs, edits);
        assert!(ours.len() > 10, "{name}: {ours:#?}");
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(a, b, "{name}, line {}", i + 1);
        }
        assert_eq!(ours.len(), theirs.len(), "{name}: {ours:#?}\n{theirs:#?}");
    };

    // mach, verbose (mozlog's, with times from the log's first entry).
    let mach_theirs = theirs(&[
        p(&crate::common::root().join("tests/tools/mozlog_mach.py")),
        p(&input),
    ]);
    compare(
        "mach",
        &ours("mach", &input, &["--log-mach-verbose"]),
        &mach_theirs,
        &[
            (
                Edit::DropTheirBlanksAfter("leakcheck"),
                "mozlog's leakcheck lines end in a line break and get another: a stray blank line",
            ),
            (
                Edit::DropTheirs("DEBUG a debug message"),
                "a replay writes `log` entries from INFO up unless --log-mach-level says otherwise",
            ),
            (
                Edit::DropOurSection("Slowest Tests"),
                "the mach summary names the slowest tests (from 0.1 s up)",
            ),
        ],
    );
    // mach, default mode.
    let mach_default = theirs(&[
        "-c",
        "import json, sys\n\
         from mozlog import handlers, structuredlog\n\
         from mozlog.formatters import MachFormatter\n\
         entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]\n\
         f = MachFormatter(start_time=entries[0]['time'] / 1000.0, verbose=False, disable_colors=True)\n\
         log = structuredlog.StructuredLogger('mach-compare')\n\
         log.add_handler(handlers.StreamHandler(sys.stdout, f))\n\
         [log.log_raw(e) for e in entries]",
        p(&input),
    ]);
    // A test's TEST_START is written with its result, at its own time
    // (mach's module documents why): the same lines, elsewhere.
    let starts = |t: &str| -> Vec<String> {
        let mut v: Vec<String> = t
            .lines()
            .filter(|l| l.contains("TEST_START"))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    let ours_default = ours("mach", &input, &[]);
    assert_eq!(starts(&ours_default), starts(&mach_default));
    assert_eq!(starts(&ours_default).len(), 5);
    compare(
        "mach (default mode)",
        &ours_default,
        &mach_default,
        &[
            (
                Edit::DropOurs("TEST_START"),
                "compared above: written with the test's result",
            ),
            (
                Edit::DropTheirs("TEST_START"),
                "compared above: written with the test's result",
            ),
            (
                Edit::DropTheirs("a line from a.js without a test field"),
                "output without a test is the test's running alone in its process, and a passing test's output is not shown",
            ),
            (
                Edit::DropTheirs("Started process"),
                "process starts are shown in verbose mode only",
            ),
            (
                Edit::DropTheirBlanksAfter("leakcheck"),
                "mozlog's leakcheck lines end in a line break and get another: a stray blank line",
            ),
            (
                Edit::DropTheirs("DEBUG a debug message"),
                "a replay writes `log` entries from INFO up unless --log-mach-level says otherwise",
            ),
            (
                Edit::DropOurSection("Slowest Tests"),
                "the mach summary names the slowest tests (from 0.1 s up)",
            ),
        ],
    );

    let debug = ours(
        "mach",
        &input,
        &["--log-mach-verbose", "--log-mach-level", "DEBUG"],
    );
    assert!(debug.contains("DEBUG a debug message"), "{debug}");

    // tbpl.
    compare(
        "tbpl",
        &ours("tbpl", &no_lint, &[]),
        &mozlog_format("tbpl", &no_lint),
        &[
            (
                Edit::SplitTheirsAfter("allocation(s)."),
                "mozlog's lsan_summary line lacks its line break",
            ),
            (
                Edit::DropTheirBlanksAfter("bytes leaked"),
                "mozlog's mozleak_total failure line is followed by a stray blank line",
            ),
            (
                Edit::DropTheirs("a debug message"),
                "a replay writes `log` entries from INFO up unless --log-tbpl-level says otherwise",
            ),
        ],
    );
    let with_lint = ours("tbpl", &input, &[]);
    assert!(with_lint.contains("TEST-UNEXPECTED-error | x.js:3:4 | unused (no-unused)"));

    // Not compared here: mozlog's unittest formatter raises (KeyError) on a
    // TIMEOUT or CRASH result, which this log has, so it renders nothing to
    // compare with; xunit and html are documents, read by junitparser,
    // xmllint and a browser in their own tests.

    // errorsummary, line by line as JSON (mozlog puts spaces after `:`).
    let canonical = |t: &str| -> String {
        t.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                format!("{v}\n")
            })
            .collect()
    };
    compare(
        "errorsummary",
        &canonical(&ours("errorsummary", &input, &[])),
        &canonical(&mozlog_format("errorsummary", &input)),
        &[
            (
                Edit::DropOurs(r#""action":"lint""#),
                "lint lines are written (mozlog's errorsummary drops them)",
            ),
            (
                Edit::OursReads(r#""group":"","#, r#""group":[],"#),
                "a shutdown_failure of an unknown group says \"group\":\"\" (mozlog writes an empty list)",
            ),
        ],
    );

    // grouped.
    compare(
        "grouped",
        &ours("grouped", &input, &[]),
        &mozlog_format("grouped", &input),
        &[
            (
                Edit::OursReads("2 known intermittent results", "1 known intermittent results"),
                "a test's own known intermittent result is counted and listed (mozlog only lists it when a subtest also failed)",
            ),
            (
                Edit::DropOurs("└ TIMEOUT [expected PASS, known intermittent [TIMEOUT]] d.js"),
                "the same: d.js's known intermittent TIMEOUT is listed",
            ),
            (
                Edit::OursReads("known intermittent [FAIL]]", "known intermittent [FAIL]"),
                "the bracket is closed (mozlog leaves it open)",
            ),
            (
                Edit::DropOurs("errors logged by the harness"),
                "the summary counts ERROR and CRITICAL log entries, so a broken run does not read as clean",
            ),
        ],
    );
}
