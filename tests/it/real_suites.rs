//! End to end on `fixtures/realworld`, a workspace shaped like published
//! crates' suites: the tool must report exactly what `cargo test` reports,
//! give each test process exactly the environment `cargo test` gives it, and
//! leave nothing for either to rebuild.

use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

/// The cargo that runs these tests, as a user's cargo would run the tool:
/// `cargo structlog` finds `cargo-structlog` on the PATH.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let tool_dir = Path::new(env!("CARGO_BIN_EXE_cargo-structlog"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let paths = std::iter::once(tool_dir).chain(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(paths).unwrap())
        .env("RUST_BACKTRACE", "0")
        .env_remove("RUSTC_BOOTSTRAP")
        .env_remove("CARGO_TERM_COLOR")
        .env("NO_COLOR", "1")
        .current_dir(fixture_manifest("realworld").parent().unwrap());
    cmd
}

/// Runs `cargo ARGS` as [`cargo`] does, with its stderr in the pipe of its
/// stdout, so that cargo's `Running` lines (stderr) stay in order with the
/// tests' results (stdout).
fn cargo_merged(args: &[&str]) -> Output {
    let base = cargo();
    let mut sh = Command::new("sh");
    sh.args(["-c", "exec \"$@\" 2>&1", "sh"])
        .arg(base.get_program())
        .args(args);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh.current_dir(base.get_current_dir().unwrap());
    sh.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Builds the fixture once (both tools then find it fresh).
fn built() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let out = cargo().args(["test", "--no-run"]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    });
}

/// What a test process wrote down about itself under each tool, by tag
/// (`lib`, `bin`, `integration`): environment, arguments, directory, and
/// what a process it starts sees.
fn dumps(dir: &Path) -> BTreeMap<String, Vec<String>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let tag = path.file_stem().unwrap().to_string_lossy().into_owned();
            let lines = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect();
            (tag, lines)
        })
        .collect()
}

/// The lines of a dump that may differ between the tools, and why.
fn documented_difference(line: &str) -> bool {
    // Each run names its own dump directory.
    line.starts_with("env PROBE_OUT=") || line.starts_with("child PROBE_OUT=")
        // The tool gives libtest its JSON output options (and its log file),
        // where cargo gives none.
        || line.starts_with("arg ")
}

#[test]
fn test_processes_get_the_environment_cargo_test_gives() {
    built();
    let under_cargo = tempfile::tempdir().unwrap();
    let under_tool = tempfile::tempdir().unwrap();
    let out = cargo()
        .args(["test", "-p", "probe"])
        .env("PROBE_OUT", under_cargo.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = cargo()
        .args(["structlog", "-p", "probe", "--log-raw", "/dev/null"])
        .env("PROBE_OUT", under_tool.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let (a, b) = (dumps(under_cargo.path()), dumps(under_tool.path()));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        ["bin", "integration", "lib"],
        "every kind of target dumped"
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (tag, lines) in &a {
        let keep = |l: &&String| !documented_difference(l);
        let mine: Vec<&String> = b[tag].iter().filter(keep).collect();
        let theirs: Vec<&String> = lines.iter().filter(keep).collect();
        let missing: Vec<_> = theirs.iter().filter(|l| !mine.contains(l)).collect();
        let extra: Vec<_> = mine.iter().filter(|l| !theirs.contains(l)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{tag}: under cargo test only: {missing:#?}\nunder the tool only: {extra:#?}"
        );
        // What was compared holds what matters.
        for needed in [
            "env LD_LIBRARY_PATH=",
            "env OUT_DIR=",
            "env CARGO_MANIFEST_DIR=",
            "cwd ",
        ] {
            assert!(
                theirs.iter().any(|l| l.starts_with(needed)),
                "{tag}: no {needed}"
            );
        }
    }
    assert!(a["integration"]
        .iter()
        .any(|l| l.starts_with("env CARGO_BIN_EXE_probe-tool=")));
    // The toolchain's libraries are on the path: a proc-macro crate's tests
    // link libstd dynamically.
    assert!(a["lib"]
        .iter()
        .any(|l| l.starts_with("env LD_LIBRARY_PATH=") && l.contains("/lib/rustlib/")));
}

#[test]
fn nothing_is_rebuilt_by_either_tool_after_the_other() {
    built();
    let nested = tempfile::tempdir().unwrap();
    let out = cargo()
        .args(["structlog", "-p", "probe", "--log-raw", "/dev/null"])
        .env("PROBE_NESTED", nested.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // The test built ../nested with its cargo; built again plainly, as the
    // next `cargo test` of such a suite does, nothing is out of date.
    let manifest = fixture_manifest("realworld")
        .parent()
        .unwrap()
        .join("nested/Cargo.toml");
    let out = cargo()
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(nested.path())
        .output()
        .unwrap();
    let again = text(&out);
    assert!(out.status.success(), "{again}");
    assert!(
        !again.contains("Compiling"),
        "the nested build saw something the tool added:\n{again}"
    );
    // And the workspace itself, both ways.
    let out = cargo().args(["test", "--no-run"]).output().unwrap();
    assert!(!text(&out).contains("Compiling"), "{}", text(&out));
    let out = cargo()
        .args(["structlog", "-p", "probe", "--log-raw", "/dev/null"])
        .output()
        .unwrap();
    assert!(!text(&out).contains("Compiling"), "{}", text(&out));
}

/// One result as `cargo test` printed it.
#[derive(Debug, PartialEq)]
pub(crate) struct CargoResult {
    pub(crate) outcome: String,
    pub(crate) should_panic: bool,
}

/// The outcome word a result line ends with (a harness that does not
/// capture its tests' output can let it land between the name and the word).
fn outcome_word(text: &str) -> Option<&'static str> {
    let text = text.trim_end();
    let ignored = text
        .rsplit_once("ignored")
        .is_some_and(|(_, r)| r.is_empty() || r.starts_with(','));
    ["ok", "FAILED"]
        .into_iter()
        .find(|w| text.ends_with(w))
        .or(ignored.then_some("ignored"))
}

/// Reads `cargo test`'s output (stdout and stderr in one pipe): results by
/// test executable and name. A name with a line break spans lines; output
/// a test printed may stand between a name and its outcome.
pub(crate) fn cargo_results(output: &str) -> BTreeMap<(String, String), CargoResult> {
    let mut results = BTreeMap::new();
    let mut exe = String::new();
    let mut pending: Option<String> = None;
    let mut awaiting: Option<(String, bool)> = None;
    for line in output.lines() {
        if let Some(krate) = line.trim_start().strip_prefix("Doc-tests ") {
            exe = format!("rustdoc:{}", krate.trim());
            continue;
        }
        if let Some(rest) = line.trim_start().strip_prefix("Running ") {
            if let Some(start) = rest.rfind(" (") {
                let path = rest[start + 2..].trim_end_matches(')');
                exe = Path::new(path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
            }
            continue;
        }
        if let Some((name, should_panic)) = awaiting.take() {
            match outcome_word(line) {
                Some(word) if !line.contains(" ... ") => {
                    let outcome = word.to_string();
                    results.insert(
                        (exe.clone(), name),
                        CargoResult {
                            outcome,
                            should_panic,
                        },
                    );
                    continue;
                }
                _ => awaiting = Some((name, should_panic)),
            }
        }
        let line = match pending.take() {
            Some(head) => format!("{head}\n{line}"),
            None => line.to_string(),
        };
        let Some(at) = line.find("test ") else {
            continue;
        };
        let result = &line[at + 5..];
        let Some((name, outcome)) = result.rsplit_once(" ... ") else {
            if !line.contains("test result") && !line.contains("test failed") {
                pending = Some(line.clone());
            }
            continue;
        };
        let name = name.trim_end();
        // How a doctest is checked is shown after its name; its name (as
        // listed, and in libtest's JSON) ends before it.
        let name = [" - compile fail", " - compile"]
            .iter()
            .find_map(|mode| name.strip_suffix(mode))
            .unwrap_or(name);
        let (name, should_panic) = match name.strip_suffix(" - should panic") {
            Some(n) => (n, true),
            None => (name, false),
        };
        match outcome_word(outcome) {
            Some(word) => {
                let outcome = word.to_string();
                results.insert(
                    (exe.clone(), name.to_string()),
                    CargoResult {
                        outcome,
                        should_panic,
                    },
                );
            }
            None => awaiting = Some((name.to_string(), should_panic)),
        }
    }
    results
}

/// `tester`'s own output prints no `- should panic` marker; these are its
/// `#[should_panic]` tests, which it leaves out under `--exclude-should-panic`.
const TESTER_SHOULD_PANIC: &[&str] = &["spec #3 panics as it should"];

#[test]
fn every_result_is_what_cargo_test_reports() {
    built();
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let theirs = cargo_merged(&["test", "--no-fail-fast"]);
    let mine = cargo()
        .args(["structlog", "--log-raw", raw.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(mine.status.code(), theirs.status.code(), "{}", text(&mine));
    let cargo_said = cargo_results(&text(&theirs));
    let entries = read_raw(&raw);
    // Which executable each binary id ran.
    let mut exes: BTreeMap<String, String> = BTreeMap::new();
    for e in entries.iter().filter(|e| e["action"] == "process_start") {
        let group = e["thread"].as_str().unwrap().to_string();
        if let Some(package) = group.strip_suffix("::doc") {
            // cargo test names the doctests' section by crate.
            exes.insert(group.clone(), format!("rustdoc:{package}"));
            continue;
        }
        let command = e["command"].as_str().unwrap();
        let program = command.split(' ').next().unwrap().trim_matches('\'');
        let file = Path::new(program).file_name().unwrap().to_string_lossy();
        exes.insert(group, file.into_owned());
    }
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for (id, end) in by_test(&entries, "test_end") {
        let group = end["group"].as_str().unwrap();
        let name = &id[group.len() + 1..];
        let status = end["status"].as_str().unwrap();
        let unexpected = end.get("expected").is_some();
        if group == "harnesses::custom" {
            // A harness of its own: one result, from its exit status.
            assert_eq!((status, unexpected), ("PASS", false), "{id}");
            continue;
        }
        let key = (exes[group].clone(), name.to_string());
        let Some(said) = cargo_said.get(&key) else {
            problems.push(format!("{id}: cargo test has no result"));
            continue;
        };
        seen.insert(key.clone());
        // Nor does a should_panic doctest's line say so (rustdoc checks the
        // panic itself, not libtest); the fixtures' doctests that do are
        // checked against their source in `doctests_run_merged_...`.
        let doctest_should_panic =
            key.0.starts_with("rustdoc:") && end["extra"]["should_panic"] == true;
        let should_panic =
            said.should_panic || doctest_should_panic || TESTER_SHOULD_PANIC.contains(&name);
        let agrees = match said.outcome.as_str() {
            "ok" if should_panic => status == "FAIL" && !unexpected,
            "ok" => status == "PASS" && !unexpected,
            "ignored" => status == "SKIP",
            "FAILED" => unexpected,
            other => panic!("{other:?} for {key:?}"),
        };
        if !agrees {
            problems.push(format!(
                "{id}: cargo test said {said:?}, the tool {status} (unexpected: {unexpected})"
            ));
        }
    }
    for key in cargo_said.keys().filter(|k| !seen.contains(*k)) {
        problems.push(format!("{key:?}: only cargo test has a result"));
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(seen.len() >= 30, "only {} results compared", seen.len());
    // What a test left without a line break is kept as output (tests that
    // run at once may leave theirs on one line).
    let outputs: Vec<&str> = entries
        .iter()
        .filter(|e| e["action"] == "process_output")
        .filter_map(|e| e["data"].as_str())
        .collect();
    for unfinished in [
        "progress: 50%",
        "no newline here",
        "from a child, no newline",
        "half a line",
    ] {
        assert!(
            outputs
                .iter()
                .any(|o| o.contains(unfinished) && !o.contains("{ \"type\"")),
            "{unfinished} not kept: {outputs:#?}"
        );
    }
}

/// The rustdoc commands of a run, by binary id (`pkg::doc`), in order.
fn rustdoc_commands(entries: &[serde_json::Value]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in entries.iter().filter(|e| e["action"] == "process_start") {
        let group = e["thread"].as_str().unwrap();
        if group.ends_with("::doc") {
            out.entry(group.to_string())
                .or_default()
                .push(e["command"].as_str().unwrap().to_string());
        }
    }
    out
}

/// When each process of `group` started and exited (ms, raw log times).
fn process_span(entries: &[serde_json::Value], group: &str) -> (u64, u64) {
    let time = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action && e["thread"] == group)
            .unwrap_or_else(|| panic!("no {action} of {group}"))["time"]
            .as_u64()
            .unwrap()
    };
    (time("process_start"), time("process_exit"))
}

#[test]
fn doctests_compile_beside_a_running_binary_unless_binaries_are_counted() {
    built();
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    for counted in [false, true] {
        let mut cmd = cargo();
        cmd.args(["structlog", "-p", "shapes"])
            .args(["--log-raw", raw.to_str().unwrap()])
            .env("SHAPES_SLOW_MS", "4000");
        if counted {
            cmd.args(["--test-binaries", "1"]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(101), "{}", text(&out));
        let entries = read_raw(&raw);
        let (_, binary_exit) = process_span(&entries, "shapes");
        let (doc_start, _) = process_span(&entries, "shapes::doc");
        // The binary's exit is logged once its last lines are through, which
        // can be a moment after the next process started: a second apart
        // tells the two cases apart (the slow test takes four).
        let during = doc_start + 1000 < binary_exit;
        if counted {
            // `--test-binaries 1`: one process at a time, as cargo test.
            assert!(!during, "{doc_start} vs {binary_exit}");
        } else {
            // By default rustdoc compiles while the slow binary runs.
            assert!(during, "{doc_start} vs {binary_exit}");
        }
        let ends = by_test(&entries, "test_end");
        assert_eq!(
            ends["shapes::doc shapes/src/lib.rs - divide (line 6)"]["status"],
            "PASS"
        );
    }
}

#[test]
fn doctests_run_merged_and_one_that_fails_merged_runs_again_on_its_own() {
    built();
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("run.log");
    let out = cargo()
        .args(["structlog", "-p", "docs2021", "-p", "docs2024", "--doc"])
        .args(["--log-raw", raw.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let entries = read_raw(&raw);
    let commands = rustdoc_commands(&entries);
    // docs2021: merged, then what failed merged on its own; docs2024:
    // merged, as cargo test does, and nothing again.
    let old = &commands["docs2021::doc"];
    assert_eq!(old.len(), 2, "{old:#?}");
    assert!(old[0].contains("--merge-doctests=auto"), "{}", old[0]);
    assert!(old[1].contains("--merge-doctests=no"), "{}", old[1]);
    let new = &commands["docs2024::doc"];
    assert_eq!(new.len(), 1, "{new:#?}");
    assert!(new[0].contains("--merge-doctests=auto"), "{}", new[0]);
    for c in old.iter().chain(new) {
        assert!(!c.contains("--show-output"), "{c}");
    }
    // Two doctests before edition 2024: compiled alone, as cargo test does
    // (a merged crate would cost more than it saves).
    let out = cargo()
        .args(["structlog", "-p", "shapes", "--doc"])
        .args(["--log-raw", raw.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let few = read_raw(&raw);
    let few_commands = &rustdoc_commands(&few)["shapes::doc"];
    assert_eq!(few_commands.len(), 1, "{few_commands:#?}");
    assert!(
        few_commands[0].contains("--merge-doctests=no"),
        "{few_commands:?}"
    );
    assert_eq!(by_test(&few, "test_end").len(), 2);

    let ends = by_test(&entries, "test_end");
    let end = |pkg: &str, item: &str| {
        let id = format!("{pkg}::doc {pkg}/src/lib.rs - {item}");
        ends.get(&id)
            .unwrap_or_else(|| panic!("no result for {id}: {:#?}", ends.keys()))
            .clone()
    };
    // Its own file: passes on its own, as under cargo test (edition 2021);
    // the merged failure is kept beside.
    let own_file = end("docs2021", "twice (line 18)");
    assert_eq!(own_file["status"], "PASS", "{own_file}");
    assert!(own_file.get("expected").is_none(), "{own_file}");
    let merged = &own_file["extra"]["merged"];
    assert_eq!(merged["status"], "FAIL", "{own_file}");
    assert!(
        merged["message"]
            .as_str()
            .unwrap()
            .contains("doctest_bundle"),
        "{own_file}"
    );
    let warnings = logs(&entries, "WARNING");
    assert!(
        warnings.iter().any(|w| w.contains("twice (line 18)")
            && w.contains("FAIL with the doctests compiled merged")
            && w.contains("but PASS compiled on its own")),
        "{warnings:#?}"
    );
    // A real failure fails both ways; its message is from its own file.
    let fails = end("docs2021", "twice (line 26)");
    assert_eq!(fails["status"], "FAIL", "{fails}");
    assert_eq!(fails["extra"]["merged"]["status"], "FAIL", "{fails}");
    assert!(
        fails["stack"].as_str().unwrap_or("").contains("src/lib.rs"),
        "{fails}"
    );
    assert!(!warnings.iter().any(|w| w.contains("twice (line 26)")));
    // Edition 2024: cargo test merges too, and the merged failure stands.
    let merged_2024 = end("docs2024", "twice (line 18)");
    assert_eq!(merged_2024["status"], "FAIL", "{merged_2024}");
    assert!(
        merged_2024["extra"].get("merged").is_none(),
        "{merged_2024}"
    );
    // A doctest's `#![feature]` is refused as on stable; a doctest sees
    // nothing of the tool's environment (asserted inside it).
    for pkg in ["docs2021", "docs2024"] {
        assert_eq!(end(pkg, "attributes (line 80)")["status"], "FAIL");
        assert_eq!(end(pkg, "attributes (line 88)")["status"], "PASS");
        assert_eq!(end(pkg, "statics (line 99)")["status"], "PASS");
        // should_panic doctests: one that panics is an expected FAIL, one
        // that does not an unexpected PASS (cargo test fails it).
        let panics = end(pkg, "inverse (line 35)");
        assert_eq!(panics["extra"]["should_panic"], true, "{panics}");
        assert_eq!(panics["status"], "FAIL", "{panics}");
        assert!(panics.get("expected").is_none(), "{panics}");
        let calm = end(pkg, "inverse (line 39)");
        assert_eq!(calm["extra"]["should_panic"], true, "{calm}");
        assert_eq!(calm["status"], "PASS", "{calm}");
        assert_eq!(calm["expected"], "FAIL", "{calm}");
    }

    // `--doctests standalone`, and the same in an expectations file: one
    // rustdoc each, compiling every doctest alone; the 2024 crate's
    // doctest then passes.
    let file = dir.path().join("structlog.toml");
    std::fs::write(&file, "doctests = \"standalone\"\n").unwrap();
    for how in [
        vec!["--doctests", "standalone"],
        vec!["--expectations", file.to_str().unwrap()],
    ] {
        let raw = dir.path().join("standalone.log");
        let out = cargo()
            .args(["structlog", "-p", "docs2021", "-p", "docs2024", "--doc"])
            .args(&how)
            .args(["--log-raw", raw.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(101), "{}", text(&out));
        let entries = read_raw(&raw);
        for (id, commands) in rustdoc_commands(&entries) {
            assert_eq!(commands.len(), 1, "{how:?} {id}: {commands:#?}");
            assert!(
                commands[0].contains("--merge-doctests=no"),
                "{}",
                commands[0]
            );
        }
        let ends = by_test(&entries, "test_end");
        let id = "docs2024::doc docs2024/src/lib.rs - twice (line 18)";
        assert_eq!(ends[id]["status"], "PASS", "{how:?}");
        assert!(ends
            .values()
            .all(|e| e.get("extra").and_then(|x| x.get("merged")).is_none()));
    }
}
