//! The xunit sink against real checkers: every recorded stream in every
//! flavor and mapmode validated by xmllint against the schemas in
//! `fixtures/schemas/`, and the real tool run on the fixture workspace, its
//! XML validated and read by junitparser (a real consumer), result by result
//! against the raw log of the same run.

use crate::common::{fixture_manifest, program, python_with, read_raw, root, run, structlog};
use cargo_structlog::model::{Action, Entry};
use cargo_structlog::sink::xunit::{Flavor, MapMode, Xunit, XunitOptions};
use cargo_structlog::sink::Sink;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Flavors, as the flag spells them, with the schema each must validate against.
const FLAVORS: [(Flavor, &str, &str); 3] = [
    (Flavor::Jenkins, "jenkins", "jenkins-junit-10.xsd"),
    (Flavor::Ant, "ant", "ant-junit.xsd"),
    (
        Flavor::Extended,
        "extended",
        "jenkins-junit-10-extended.xsd",
    ),
];

const MODES: [(MapMode, &str); 4] = [
    (MapMode::Success, "success"),
    (MapMode::Failure, "failure"),
    (MapMode::Ignore, "ignore"),
    (MapMode::Passthru, "passthru"),
];

const STREAMS: [&str; 4] = ["statuses", "build-failed", "empty", "incomplete"];

fn schema(name: &str) -> PathBuf {
    root().join("fixtures/schemas").join(name)
}

/// A recorded stream, with its placeholder output line made 1 MiB long.
fn recorded(name: &str) -> Vec<Entry> {
    let path = root().join(format!("fixtures/streams/{name}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .map(|l| {
            let mut e = Entry::from_json(l.as_bytes()).unwrap();
            if let Action::ProcessOutput(p) = &mut e.action {
                if p.data == "BIG-OUTPUT-PLACEHOLDER" {
                    p.data = "0123456789abcdef".repeat(65536);
                }
            }
            e
        })
        .collect()
}

/// Renders entries through the library's sink into a file.
fn render(entries: &[Entry], opts: XunitOptions, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut sink = Xunit::new(Box::new(std::io::BufWriter::new(file)), opts);
    for e in entries {
        sink.entry(e).unwrap();
    }
    sink.finish().unwrap();
}

/// `xmllint --noout [--schema XSD] FILES`: (success, stderr).
fn xmllint(xmllint: &Path, xsd: Option<&Path>, files: &[PathBuf]) -> (bool, String) {
    let mut cmd = Command::new(xmllint);
    cmd.arg("--noout");
    if let Some(x) = xsd {
        cmd.arg("--schema").arg(x);
    }
    let out = cmd.args(files).output().expect("run xmllint");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Validates files against a schema and checks xmllint named each one valid.
fn assert_valid(lint: &Path, xsd: &Path, files: &[PathBuf]) {
    let (ok, report) = xmllint(lint, Some(xsd), files);
    assert!(ok, "xmllint rejects against {}:\n{report}", xsd.display());
    for f in files {
        assert!(
            report.contains(&format!("{} validates", f.display())),
            "{} not reported valid:\n{report}",
            f.display()
        );
    }
}

#[test]
fn recorded_streams_validate_in_every_flavor_and_mapmode() {
    let Some(lint) = program("xmllint") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut well_formed_only = Vec::new();
    for (flavor, fname, xsd) in FLAVORS {
        let mut valid = Vec::new();
        for stream in STREAMS {
            let entries = recorded(stream);
            for (xfail, xfname) in MODES {
                for (xpass, xpname) in MODES {
                    let path = dir
                        .path()
                        .join(format!("{stream}-{fname}-{xfname}-{xpname}.xml"));
                    let opts = XunitOptions {
                        flavor,
                        xfail,
                        xpass,
                        ..XunitOptions::default()
                    };
                    render(&entries, opts, &path);
                    if xfail == MapMode::Passthru || xpass == MapMode::Passthru {
                        well_formed_only.push(path);
                    } else {
                        valid.push(path);
                    }
                }
            }
        }
        assert_eq!(valid.len(), STREAMS.len() * 9);
        assert_valid(&lint, &schema(xsd), &valid);
    }
    // passthru is outside every schema: well-formed, not valid.
    let (ok, report) = xmllint(&lint, None, &well_formed_only);
    assert!(ok && report.is_empty(), "not well-formed:\n{report}");
    let passthru = dir.path().join("statuses-jenkins-passthru-passthru.xml");
    let (ok, report) = xmllint(
        &lint,
        Some(&schema("jenkins-junit-10.xsd")),
        std::slice::from_ref(&passthru),
    );
    assert!(
        !ok && report.contains("expected-failure"),
        "passthru is expected to fall outside junit-10.xsd:\n{report}"
    );
}

#[test]
fn the_validators_tell_the_flavors_apart() {
    let Some(lint) = program("xmllint") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let entries = recorded("statuses");
    let write = |flavor| {
        let path = dir.path().join(format!("{flavor:?}.xml"));
        let opts = XunitOptions {
            flavor,
            ..XunitOptions::default()
        };
        render(&entries, opts, &path);
        path
    };
    // Output inside testcases, no package/id: not Ant.
    let (ok, report) = xmllint(
        &lint,
        Some(&schema("ant-junit.xsd")),
        &[write(Flavor::Jenkins)],
    );
    assert!(!ok, "the jenkins flavor passed the Ant schema:\n{report}");
    // file and line on testcases: outside plain junit-10.xsd.
    let (ok, report) = xmllint(
        &lint,
        Some(&schema("jenkins-junit-10.xsd")),
        &[write(Flavor::Extended)],
    );
    assert!(
        !ok && report.contains("'file'"),
        "the extended flavor passed plain junit-10.xsd:\n{report}"
    );
}

/// What a result in the raw log must be in the XML, as junitparser sees it.
/// `None`: left out.
fn expected_result(end: &Value, xfail: MapMode, xpass: MapMode) -> Option<&'static str> {
    let status = end["status"].as_str().unwrap();
    let mapped = |m: MapMode| match m {
        MapMode::Success => Some("pass"),
        MapMode::Failure => Some("failure"),
        MapMode::Ignore => None,
        // An element junitparser does not know: no result, a pass to it.
        MapMode::Passthru => Some("pass"),
    };
    let pass_like = matches!(status, "PASS" | "OK");
    match end.get("expected") {
        Some(_) => {
            let known = end["known_intermittent"]
                .as_array()
                .is_some_and(|k| k.iter().any(|s| s == status));
            if known {
                Some("pass")
            } else if pass_like {
                mapped(xpass)
            } else if matches!(status, "ERROR" | "CRASH") {
                Some("error")
            } else {
                Some("failure")
            }
        }
        None if pass_like => Some("pass"),
        None if matches!(status, "SKIP" | "NOTRUN") => Some("skipped"),
        None => mapped(xfail),
    }
}

/// `(classname, name)` of a test id: binary id plus module path, and function.
fn names(test: &str, group: &str) -> (String, String) {
    let libtest = test
        .strip_prefix(&format!("{group} "))
        .expect("test ids start with their binary id");
    match libtest.rsplit_once("::") {
        Some((module, f)) if !libtest.contains(' ') => (format!("{group}::{module}"), f.into()),
        _ => (group.to_string(), libtest.to_string()),
    }
}

/// Per suite, the sorted `(classname, name, result)` the raw log calls for.
type Expected = BTreeMap<String, Vec<(String, String, String)>>;

fn expected_from_raw(raw: &[Value], xfail: MapMode, xpass: MapMode) -> Expected {
    let mut suites = Expected::new();
    let mut started = false;
    for e in raw {
        match e["action"].as_str().unwrap() {
            "suite_start" => {
                started = true;
                for group in e["tests"].as_object().unwrap().keys() {
                    suites.entry(group.clone()).or_default();
                }
            }
            "test_status" => panic!("the fixture has no subtests; this model does not cover them"),
            "test_end" => {
                let group = e["group"].as_str().unwrap();
                let (classname, name) = names(e["test"].as_str().unwrap(), group);
                if let Some(r) = expected_result(e, xfail, xpass) {
                    suites.entry(group.to_string()).or_default().push((
                        classname,
                        name,
                        r.to_string(),
                    ));
                }
            }
            "log" if started && matches!(e["level"].as_str(), Some("ERROR" | "CRITICAL")) => {
                let source = e["source"].as_str().unwrap();
                let first = e["message"].as_str().unwrap().lines().next().unwrap_or("");
                suites.entry(source.to_string()).or_default().push((
                    source.to_string(),
                    first.to_string(),
                    "error".to_string(),
                ));
            }
            _ => {}
        }
    }
    for cases in suites.values_mut() {
        cases.sort();
    }
    suites
}

/// Runs the tool on the fixture workspace with an xunit output; returns the
/// raw log and the XML.
fn run_fixture(dir: &Path, flavor: &str, xfail: &str, xpass: &str) -> (PathBuf, PathBuf) {
    let raw = dir.join("raw.jsonl");
    let xml = dir.join("out.xml");
    let out = run(structlog()
        .arg("--manifest-path")
        .arg(fixture_manifest("sample"))
        .arg("--workspace")
        .arg("--log-raw")
        .arg(&raw)
        .arg("--log-xunit")
        .arg(&xml)
        .args(["--log-xunit-flavor", flavor])
        .args(["--log-xunit-xfail", xfail])
        .args(["--log-xunit-xpass", xpass]));
    // The fixture fails on purpose: 101 as cargo test.
    assert_eq!(
        out.status.code(),
        Some(101),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (raw, xml)
}

/// junitparser's reading of a file (tests/tools/junit_counts.py).
fn junitparser(xml: &Path) -> Option<Value> {
    let python = python_with(&["junitparser"])?;
    let out = Command::new(python)
        .arg(root().join("tests/tools/junit_counts.py"))
        .arg(xml)
        .output()
        .expect("run junit_counts.py");
    assert!(
        out.status.success(),
        "junitparser cannot read {}:\n{}",
        xml.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("junit_counts.py prints JSON"))
}

fn end_to_end(flavor: &str, xfail: &str, xpass: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (raw_path, xml) = run_fixture(dir.path(), flavor, xfail, xpass);
    let passthru = xfail == "passthru" || xpass == "passthru";
    let doc = std::fs::read_to_string(&xml).unwrap();
    assert!(doc.trim_end().ends_with("</testsuites>"), "{doc}");

    // 1. The schema (well-formedness only for passthru, outside every schema).
    let xsd = FLAVORS.iter().find(|f| f.1 == flavor).unwrap().2;
    let lint = program("xmllint");
    if let Some(lint) = &lint {
        if passthru {
            let (ok, report) = xmllint(lint, None, std::slice::from_ref(&xml));
            assert!(ok && report.is_empty(), "{report}");
        } else {
            assert_valid(lint, &schema(xsd), std::slice::from_ref(&xml));
        }
    }

    // 2. junitparser's reading against the raw log, suite by suite, test by test.
    let Some(seen) = junitparser(&xml) else {
        return;
    };
    let raw = read_raw(&raw_path);
    let xfail_mode = MapMode::parse(xfail).unwrap();
    let xpass_mode = MapMode::parse(xpass).unwrap();
    let expected = expected_from_raw(&raw, xfail_mode, xpass_mode);
    let run_info = &raw[0]["run_info"];
    let first_start: HashMap<&str, u64> =
        raw.iter()
            .filter(|e| e["action"] == "test_start")
            .fold(HashMap::new(), |mut m, e| {
                let t = e["time"].as_u64().unwrap();
                let g = m.entry(e["group"].as_str().unwrap()).or_insert(t);
                *g = (*g).min(t);
                m
            });

    let suites = seen["suites"].as_array().unwrap();
    let mut got = Expected::new();
    for s in suites {
        let name = s["name"].as_str().unwrap().to_string();
        // The attributes say what the cases hold.
        for k in ["tests", "failures", "errors", "skipped"] {
            assert_eq!(s[k], s["counted"][k], "{name}: attribute {k}");
        }
        assert_eq!(s["hostname"], run_info["hostname"], "{name}: hostname");
        if let Some(&t) = first_start.get(name.as_str()) {
            assert_eq!(
                s["timestamp_ms"].as_u64(),
                Some(t / 1000 * 1000),
                "{name}: timestamp is the first test's start"
            );
        }
        let mut cases: Vec<(String, String, String)> = s["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let text = |k: &str| c[k].as_str().unwrap().to_string();
                (text("classname"), text("name"), text("result"))
            })
            .collect();
        cases.sort();
        assert!(
            got.insert(name.clone(), cases).is_none(),
            "suite {name} twice"
        );
    }
    assert_eq!(
        got, expected,
        "junitparser's reading differs from the raw log"
    );
    let total: usize = expected.values().map(Vec::len).sum();
    assert!(total > 20, "the fixture's results are all there ({total})");

    // The reason of a skip, and the message of a failure or error, are the
    // element's text too, for readers that take text and not attributes.
    let mut reasons = 0;
    for c in suites.iter().flat_map(|s| s["cases"].as_array().unwrap()) {
        let message = c["message"].as_str().unwrap_or("");
        match c["result"].as_str().unwrap() {
            "skipped" if !message.is_empty() => {
                assert_eq!(c["text"].as_str(), Some(message), "{c}");
                reasons += 1;
            }
            "failure" | "error" => {
                assert!(!c["text"].as_str().unwrap_or("").is_empty(), "{c}");
            }
            _ => {}
        }
    }
    let needs_network = suites
        .iter()
        .flat_map(|s| s["cases"].as_array().unwrap())
        .find(|c| c["message"] == "needs network");
    if let Some(c) = needs_network {
        assert_eq!(c["text"], "needs network", "{c}");
    }
    assert!(reasons > 0, "no skip reason read");

    // 3. Captured output, where the flavor puts it.
    let case = |suite: &str, name: &str| -> Value {
        suites
            .iter()
            .find(|s| s["name"] == suite)
            .and_then(|s| {
                s["cases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == name)
            })
            .unwrap_or_else(|| panic!("no case {suite} {name}"))
            .clone()
    };
    let printed = "hello from stdout (fail)\nhello from stderr (fail)";
    if flavor == "ant" {
        let out = suites.iter().find(|s| s["name"] == "alpha").unwrap()["system_out"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(out.contains(&format!(
            "---- alpha tests::prints_then_fails ----\n{printed}"
        )));
        assert!(case("alpha", "prints_then_fails")["system_out"].is_null());
    } else {
        let out = case("alpha", "prints_then_fails")["system_out"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(out.starts_with(printed), "{out}");
    }
    let fails = case("alpha", "fails_assert");
    assert_eq!(fails["type"], "fail");
    assert!(fails["message"]
        .as_str()
        .unwrap()
        .starts_with("assertion `left == right` failed: one plus one"));
    let skip = case("beta", "ignored_with_quotes");
    assert_eq!(skip["message"], "needs \"quoted\" config");

    // 4. file and line, in the extended flavor only.
    for e in raw.iter().filter(|e| e["action"] == "test_end") {
        let Some(line) = e["extra"]["line"].as_u64() else {
            continue;
        };
        let group = e["group"].as_str().unwrap();
        let (_, name) = names(e["test"].as_str().unwrap(), group);
        let Some(s) = suites.iter().find(|s| s["name"] == group) else {
            continue;
        };
        let Some(c) = s["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name.as_str())
        else {
            continue; // left out by an `ignore` mapmode
        };
        if flavor == "extended" {
            assert_eq!(c["line"], line.to_string(), "{group} {name}");
            let start = raw
                .iter()
                .find(|s| s["action"] == "test_start" && s["test"] == e["test"])
                .unwrap();
            assert_eq!(c["file"], start["path"], "{group} {name}");
        } else {
            assert!(c["line"].is_null() && c["file"].is_null());
        }
    }
}

#[test]
fn end_to_end_jenkins() {
    end_to_end("jenkins", "success", "failure");
}

#[test]
fn end_to_end_ant() {
    end_to_end("ant", "success", "failure");
}

#[test]
fn end_to_end_extended_with_xfail_failure_and_xpass_success() {
    end_to_end("extended", "failure", "success");
}

#[test]
fn end_to_end_jenkins_ignoring_xfail_and_xpass() {
    end_to_end("jenkins", "ignore", "ignore");
}

#[test]
fn end_to_end_passthru_is_well_formed() {
    end_to_end("jenkins", "passthru", "passthru");
}
