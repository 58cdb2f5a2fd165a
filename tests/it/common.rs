//! Shared helpers for the integration tests: running the real binary on the
//! fixture workspaces, and finding the real external checkers (mozlog,
//! xmllint, junitparser, Chromium).
//!
//! External checkers are looked up, not assumed: a test whose checker is
//! missing fails and says how to get it (`scripts/test.sh` installs them
//! all), unless `STRUCTLOG_ALLOW_MISSING_TOOLS=1` is set, where the check is
//! skipped with a note on stderr. A green run has therefore checked
//! everything, or was told not to.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture workspace's manifest: `fixtures/<name>/Cargo.toml`.
pub fn fixture_manifest(name: &str) -> PathBuf {
    root().join("fixtures").join(name).join("Cargo.toml")
}

/// The tool, as `cargo structlog` would run it.
pub fn structlog() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-structlog"));
    cmd.arg("structlog");
    // The checks below must not depend on the terminal or the caller's settings.
    cmd.env_remove("CARGO_TERM_COLOR").env("NO_COLOR", "1");
    cmd
}

/// Runs the tool to the end and returns its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run cargo-structlog")
}

/// Whether a missing external checker may be skipped.
pub fn missing_tools_allowed() -> bool {
    std::env::var("STRUCTLOG_ALLOW_MISSING_TOOLS").is_ok_and(|v| v == "1")
}

/// Fails (or, with `STRUCTLOG_ALLOW_MISSING_TOOLS=1`, skips) for a missing
/// checker.
pub fn missing(tool: &str, why: &str) {
    if !missing_tools_allowed() {
        panic!(
            "{tool} is needed for this check, but {why}: `scripts/test.sh` installs every \
             checker and runs the tests; STRUCTLOG_ALLOW_MISSING_TOOLS=1 skips the checks \
             whose tool is missing"
        );
    }
    eprintln!("note: skipping the {tool} check (STRUCTLOG_ALLOW_MISSING_TOOLS=1): {why}");
}

/// A Python with the given modules importable: `$STRUCTLOG_PYTHON`, else
/// `python3`. `None` (after [`missing`]) when there is none.
pub fn python_with(modules: &[&str]) -> Option<PathBuf> {
    let python = std::env::var_os("STRUCTLOG_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let import = format!("import {}", modules.join(", "));
    let ok = Command::new(&python)
        .args(["-c", &import])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(python)
    } else {
        missing(
            &format!("python ({})", modules.join(", ")),
            &format!("{} cannot `{import}`", python.display()),
        );
        None
    }
}

/// A program on PATH, or `None` (after [`missing`]).
pub fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        missing(name, "it is not on PATH");
    }
    found
}

/// Checks a raw log with the real mozlog package (`../shared/tools/mozlog-check.py`,
/// copied to `tests/tools/mozlog-check.py`). Returns its report; panics if not conforming.
pub fn mozlog_check(log: &Path) -> Option<String> {
    let python = python_with(&["mozlog"])?;
    let out = Command::new(python)
        .arg(root().join("tests/tools/mozlog-check.py"))
        .arg(log)
        .output()
        .expect("run mozlog-check");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains("conforming"),
        "mozlog-check rejects {}:\n{text}{}",
        log.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(text)
}

/// Validates an XML file against one of `fixtures/schemas/` with xmllint
/// (skip-or-fail when xmllint is missing); panics if it is not valid.
pub fn xmllint_valid(xml: &Path, schema: &str) {
    let Some(xmllint) = program("xmllint") else {
        return;
    };
    let out = Command::new(xmllint)
        .args(["--noout", "--schema"])
        .arg(root().join("fixtures/schemas").join(schema))
        .arg(xml)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "{} is not valid against {schema}:\n{}",
        xml.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The entries of an action, by test id (the last one when a test has several).
pub fn by_test(
    entries: &[serde_json::Value],
    action: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    entries
        .iter()
        .filter(|e| e["action"] == action)
        .map(|e| (e["test"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

/// The ids of the tests a `suite_start` entry lists, group after group.
pub fn listed(suite_start: &serde_json::Value) -> Vec<String> {
    suite_start["tests"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
        })
        .collect()
}

/// The ids of the tests that ended in a raw log.
pub fn ended(raw: &Path) -> std::collections::BTreeSet<String> {
    by_test(&read_raw(raw), "test_end").into_keys().collect()
}

/// Reads a raw log as JSON values.
pub fn read_raw(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The messages of the `log` entries at `level`.
pub fn logs(entries: &[serde_json::Value], level: &str) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["action"] == "log" && e["level"] == level)
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

/// A mach text without one of the sections the tool adds to mozlog's
/// summary (its heading, its dashes, its lines, and the blank line before).
pub fn without_section(text: &str, heading: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(at) = lines.iter().position(|l| *l == heading) else {
        return text.to_string();
    };
    let start = if at > 0 && lines[at - 1].is_empty() {
        at - 1
    } else {
        at
    };
    let end = (at + 2..lines.len())
        .find(|i| lines[*i].is_empty())
        .unwrap_or(lines.len());
    let mut out: Vec<&str> = lines[..start].to_vec();
    out.extend(&lines[end..]);
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Each test's (status, expected) in a raw log's entries (`expected` null
/// when absent).
pub fn results(
    entries: &[serde_json::Value],
) -> std::collections::BTreeMap<String, (serde_json::Value, serde_json::Value)> {
    entries
        .iter()
        .filter(|e| e["action"] == "test_end")
        .map(|e| {
            (
                e["test"].as_str().unwrap().to_string(),
                (
                    e["status"].clone(),
                    e.get("expected")
                        .cloned()
                        .unwrap_or(serde_json::Value::Null),
                ),
            )
        })
        .collect()
}

/// A copy of a workspace's sources, without its target directory.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if path.is_dir() {
            if name != "target" {
                copy_tree(&path, &to.join(name));
            }
        } else {
            std::fs::copy(&path, to.join(name)).unwrap();
        }
    }
}
