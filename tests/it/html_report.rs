//! The html report in a real browser: the tool run end to end on the sample
//! workspace writes a report that headless Chromium renders without a single
//! request leaving the page, with the counts and the test ids of the raw log;
//! and a generated report of 20,000 tests renders in reasonable time.
//!
//! The browser side is `tests/browser/check-html.mjs` (playwright-core driving
//! `/usr/bin/chromium`, or `$CHROMIUM`). Without node, playwright-core
//! (`npm ci` in `tests/browser`) or Chromium the browser checks fail, or
//! are skipped under `STRUCTLOG_ALLOW_MISSING_TOOLS=1`. Reports and
//! screenshots are kept in `target/tmp/html_report/` for a look.

use crate::common::{fixture_manifest, missing, program, read_raw, root, run, structlog};
use cargo_structlog::model::{
    Action, Entry, Origin, ProcessOutput, Status, SuiteStart, TestEnd, TestGroups, TestStart,
};
use cargo_structlog::sink::html::Html;
use cargo_structlog::sink::Sink;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the reports and screenshots of these tests are kept.
fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html_report");
    std::fs::create_dir_all(&dir).expect("create the output directory");
    dir
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Node, when everything the browser check needs is there (else `None`,
/// after [`missing`]).
fn browser_check() -> Option<PathBuf> {
    let node = program("node")?;
    if !root()
        .join("tests/browser/node_modules/playwright-core")
        .is_dir()
    {
        missing(
            "playwright-core",
            "tests/browser/node_modules/playwright-core is absent (run `npm ci` in tests/browser)",
        );
        return None;
    }
    if !chromium().is_file() {
        missing(
            "chromium",
            &format!(
                "{} is absent (apt-get install chromium)",
                chromium().display()
            ),
        );
        return None;
    }
    Some(node)
}

/// Runs the browser check on a report; its JSON report. Panics when the
/// check finds a problem.
fn check(node: &Path, html: &Path, png: &Path) -> Value {
    let _ = std::fs::remove_file(png);
    let out = Command::new(node)
        .arg(root().join("tests/browser/check-html.mjs"))
        .arg(html)
        .arg(png)
        .env("CHROMIUM", chromium())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        let start: String = stdout.chars().take(2000).collect();
        panic!("check-html.mjs printed no report ({e}):\n{start}\n{stderr}")
    });
    assert!(
        out.status.success() && report["ok"] == true,
        "the browser check of {} failed: {}\n{stderr}",
        html.display(),
        report["problems"]
    );
    report
}

/// No request but the report's own file, and nothing the CSP had to block.
fn assert_offline(report: &Value, html: &Path) {
    let url = report["url"].as_str().expect("url");
    let name = html.file_name().unwrap().to_str().unwrap();
    assert!(url.starts_with("file:///") && url.ends_with(name), "{url}");
    assert_eq!(report["requests"], serde_json::json!([url]), "{report}");
    assert_eq!(report["external"], serde_json::json!([]));
    assert_eq!(report["violations"], serde_json::json!([]));
}

fn assert_png(png: &Path) {
    let bytes = std::fs::read(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(
        bytes.len() > 1000,
        "{} is {} bytes",
        png.display(),
        bytes.len()
    );
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        png.display()
    );
}

/// The report's outcome of a result: what its filters and counts use.
fn outcome(status: &str, expected: Option<&str>, known: &[&str]) -> &'static str {
    match expected {
        Some(_) if known.contains(&status) => "intermittent",
        Some(_) => "unexpected",
        None => match status {
            "PASS" | "OK" => "pass",
            "SKIP" | "NOTRUN" => "skip",
            _ => "xfail",
        },
    }
}

/// The counts the summary must show, from the raw log's test_end entries,
/// and their test ids.
fn counts_of_raw(raw: &[Value]) -> (BTreeMap<String, u64>, Vec<String>) {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut ids = Vec::new();
    for e in raw.iter().filter(|e| e["action"] == "test_end") {
        let status = e["status"].as_str().expect("status");
        let known: Vec<&str> = e["known_intermittent"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let o = outcome(status, e["expected"].as_str(), &known);
        *counts.entry("total".into()).or_default() += 1;
        *counts.entry(o.into()).or_default() += 1;
        if o == "unexpected" {
            *counts.entry(format!("unexpected-{status}")).or_default() += 1;
        }
        ids.push(e["test"].as_str().expect("test").to_string());
    }
    (counts, ids)
}

/// The DOM's counts equal `expected`; outcomes not in it are zero or absent.
fn assert_counts(report: &Value, expected: &BTreeMap<String, u64>) {
    let dom = report["counts"].as_object().expect("counts");
    for (k, v) in expected {
        assert_eq!(
            dom.get(k).and_then(Value::as_u64),
            Some(*v),
            "count {k}: {report}"
        );
    }
    for k in [
        "unexpected",
        "unfinished",
        "intermittent",
        "pass",
        "xfail",
        "skip",
        "notstarted",
    ] {
        if !expected.contains_key(k) {
            assert_eq!(
                dom.get(k).and_then(Value::as_u64).unwrap_or(0),
                0,
                "count {k}"
            );
        }
    }
}

fn dom_ids(report: &Value) -> BTreeSet<String> {
    report["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("id").to_string())
        .collect()
}

#[test]
fn the_sample_workspace_report_renders_offline_with_the_raw_logs_results() {
    let dir = out_dir();
    let raw = dir.join("sample.log");
    let html = dir.join("sample.html");
    let png = dir.join("sample.png");
    let out = run(structlog()
        .arg("--manifest-path")
        .arg(fixture_manifest("sample"))
        .arg("--workspace")
        .arg("--log-raw")
        .arg(&raw)
        .arg("--log-html")
        .arg(&html));
    // The sample has failing tests on purpose.
    assert_eq!(
        out.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).expect("the report is written");
    assert!(page.contains("Content-Security-Policy"));
    let (counts, ids) = counts_of_raw(&read_raw(&raw));
    assert!(
        counts["total"] > 20 && counts["unexpected"] > 0,
        "{counts:?}"
    );

    let Some(node) = browser_check() else {
        return;
    };
    let report = check(&node, &html, &png);
    assert_offline(&report, &html);
    assert_png(&png);
    assert_eq!(report["verdict"], "FAILED");
    assert_counts(&report, &counts);
    assert_slowest(&report, &read_raw(&raw));
    let shown = dom_ids(&report);
    for id in &ids {
        assert!(shown.contains(id), "{id} is not in the table");
    }
    assert_eq!(report["shown"].as_u64(), Some(ids.len() as u64));
    assert_eq!(
        report["filter"]["matching"].as_u64(),
        Some(counts["unexpected"])
    );
    assert_eq!(
        report["filter"]["visible"].as_u64(),
        Some(counts["unexpected"])
    );
    eprintln!(
        "report: {}\nscreenshot: {}\nbrowser check: {}",
        html.display(),
        png.display(),
        serde_json::json!({
            "verdict": report["verdict"],
            "counts": report["counts"],
            "shown": report["shown"],
            "filter": report["filter"],
            "search": report["search"],
            "requests": report["requests"],
            "renderMs": report["renderMs"],
        })
    );
}

/// The report's slowest tests are the ten slowest of the raw log (by
/// `test_start` to `test_end`), slowest first.
fn assert_slowest(report: &Value, raw: &[Value]) {
    let mut started = BTreeMap::new();
    let mut took = BTreeMap::new();
    for e in raw {
        let Some(test) = e["test"].as_str() else {
            continue;
        };
        let time = e["time"].as_u64().unwrap();
        match e["action"].as_str() {
            Some("test_start") => {
                started.insert(test.to_string(), time);
            }
            Some("test_end") => {
                if let Some(t0) = started.get(test) {
                    took.insert(test.to_string(), time - t0);
                }
            }
            _ => {}
        }
    }
    let rows = report["slowest"].as_array().expect("the slowest tests");
    assert_eq!(rows.len(), took.len().min(10), "{rows:?}");
    let shown: Vec<&str> = rows.iter().map(|r| r[1].as_str().unwrap()).collect();
    let fastest_shown = shown.iter().map(|id| took[*id]).min().unwrap();
    for (id, ms) in &took {
        if !shown.contains(&id.as_str()) {
            assert!(
                *ms <= fastest_shown,
                "{id} ({ms} ms) is slower than one shown"
            );
        }
    }
    let order: Vec<u64> = shown.iter().map(|id| took[*id]).collect();
    assert!(order.windows(2).all(|w| w[0] >= w[1]), "{order:?}");
}

/// A run of `n` tests in 40 groups: one in 50 fails, one in 200 is skipped,
/// one in 250 fails as expected, one in 1000 is a known intermittent; one in
/// 100 prints a few lines. Returns the entries and the expected counts.
fn big_run(n: usize) -> (Vec<Entry>, BTreeMap<String, u64>) {
    let o = Origin {
        thread: "main".into(),
        pid: 7,
        source: "cargo-structlog".into(),
    };
    let id = |i: usize| {
        format!(
            "crate_{:02}::it_{} module_{}::case_{i:05}",
            i % 40,
            i % 7,
            i % 13
        )
    };
    let group = |i: usize| format!("crate_{:02}::it_{}", i % 40, i % 7);
    let mut tests = TestGroups::new();
    for i in 0..n {
        tests.entry(group(i)).or_default().push(id(i));
    }
    let mut run_info = Map::new();
    run_info.insert("hostname".into(), "big-host".into());
    run_info.insert("os".into(), "linux".into());
    let mut entries = vec![o.entry(
        1_700_000_000_000,
        Action::SuiteStart(SuiteStart {
            tests: tests.into(),
            name: Some("big".into()),
            run_info: Some(run_info),
            ..SuiteStart::default()
        }),
    )];
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut time = 1_700_000_000_001;
    for i in 0..n {
        let test = id(i);
        entries.push(o.entry(
            time,
            Action::TestStart(TestStart {
                test: test.clone(),
                group: Some(group(i)),
                ..TestStart::default()
            }),
        ));
        if i % 100 == 0 {
            for line in 0..3 {
                entries.push(o.entry(
                    time,
                    Action::ProcessOutput(ProcessOutput {
                        process: "7".into(),
                        data: format!("line {line} of {test}"),
                        command: None,
                        test: Some(test.clone()),
                        subsuite: None,
                    }),
                ));
            }
        }
        let (status, expected, known) = if i % 50 == 0 {
            (Status::Fail, Status::Pass, false)
        } else if i % 200 == 1 {
            (Status::Skip, Status::Pass, false)
        } else if i % 250 == 2 {
            (Status::Fail, Status::Fail, false)
        } else if i % 1000 == 3 {
            (Status::Fail, Status::Pass, true)
        } else {
            (Status::Pass, Status::Pass, false)
        };
        let mut end = TestEnd::new(test.clone(), status);
        end.set_expected(expected);
        end.group = Some(group(i));
        if known {
            end.known_intermittent = vec![Status::Fail];
        }
        if status == Status::Fail {
            end.message = Some(format!("assertion failed in case {i}"));
        }
        let o_ = outcome(
            status.as_str(),
            end.expected.map(Status::as_str),
            &end.known_intermittent
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
        );
        *counts.entry("total".into()).or_default() += 1;
        *counts.entry(o_.into()).or_default() += 1;
        if o_ == "unexpected" {
            *counts.entry(format!("unexpected-{status}")).or_default() += 1;
        }
        time += (i % 17) as u64;
        entries.push(o.entry(time, Action::TestEnd(end)));
    }
    entries.push(o.entry(time + 5, Action::SuiteEnd(Default::default())));
    (entries, counts)
}

#[test]
fn a_report_of_twenty_thousand_tests_renders_quickly() {
    const N: usize = 20_000;
    let dir = out_dir();
    let html = dir.join("big.html");
    let png = dir.join("big.png");
    let (entries, counts) = big_run(N);
    let file = std::fs::File::create(&html).expect("create the report");
    let mut sink = Html::new(Box::new(std::io::BufWriter::new(file)));
    let written = Instant::now();
    for e in &entries {
        sink.entry(e).unwrap();
    }
    sink.finish().unwrap();
    drop(sink);
    let written = written.elapsed();
    let size = std::fs::metadata(&html).unwrap().len();
    assert!(size < 8 << 20, "the report of {N} tests is {size} bytes");
    assert!(
        written < Duration::from_secs(20),
        "writing took {written:?}"
    );

    let Some(node) = browser_check() else {
        return;
    };
    let started = Instant::now();
    let report = check(&node, &html, &png);
    let took = started.elapsed();
    assert_offline(&report, &html);
    assert_png(&png);
    assert_counts(&report, &counts);
    assert_eq!(report["counts"]["total"].as_u64(), Some(N as u64));
    assert_eq!(report["shown"].as_u64(), Some(N as u64));
    assert_eq!(dom_ids(&report).len(), N);
    assert_eq!(
        report["filter"]["matching"].as_u64(),
        Some(counts["unexpected"])
    );
    let render_ms = report["renderMs"].as_u64().expect("renderMs");
    assert!(render_ms < 20_000, "the first render took {render_ms} ms");
    assert!(
        took < Duration::from_secs(180),
        "the whole check took {took:?}"
    );
    eprintln!(
        "report: {} ({size} bytes, written in {written:?})\nscreenshot: {}\nfirst render: {render_ms} ms, check: {took:?}, pages: {}",
        html.display(),
        png.display(),
        report["pages"]
    );
}
