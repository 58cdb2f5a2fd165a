//! Runs for a target (`--target`) and through target runners, end to end
//! on copies of `fixtures/runner` with a `.cargo/config.toml` written
//! beside them: every test executable and every doctest goes through the
//! runner cargo would choose, the results are `cargo test`'s, and neither
//! tool leaves the other anything to rebuild.

use crate::common::*;
use crate::real_suites::cargo_results;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The host's triple, as rustc names it.
fn host() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

/// The variable that names a target's runner.
fn runner_var(triple: &str) -> String {
    format!(
        "CARGO_TARGET_{}_RUNNER",
        triple.to_uppercase().replace(['-', '.'], "_")
    )
}

/// A copy of `fixtures/runner` in a directory of its own (its own target
/// directory, its own configuration), with a runner script at
/// `tools/run.sh`: it insists on the argument its configuration gives it
/// (`--via-runner`), writes down the executable it is asked to run, and
/// runs it.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace { dir };
        copy_tree(fixture_manifest("runner").parent().unwrap(), ws.root());
        let script = ws.root().join("tools/run.sh");
        std::fs::create_dir_all(script.parent().unwrap()).unwrap();
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n\
                 [ \"$1\" = --via-runner ] || {{ echo 'run.sh: no --via-runner' >&2; exit 3; }}\n\
                 shift\n\
                 printf '%s\\n' \"$1\" >> '{}'\n\
                 exec \"$@\"\n",
                ws.log().display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        ws
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn runner(&self) -> PathBuf {
        self.root().join("tools/run.sh")
    }

    fn log(&self) -> PathBuf {
        self.root().join("runner.log")
    }

    /// Writes `.cargo/config.toml` (or removes it).
    fn configure(&self, text: Option<&str>) {
        let file = self.root().join(".cargo/config.toml");
        match text {
            Some(text) => {
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, text).unwrap();
            }
            None => {
                let _ = std::fs::remove_file(file);
            }
        }
    }

    /// A command run in the workspace, told nothing of the caller's target
    /// or runner.
    fn hermetic(&self, mut cmd: Command) -> Command {
        cmd.current_dir(self.root())
            .env("RUST_BACKTRACE", "0")
            .env_remove("RUSTC_BOOTSTRAP")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove(runner_var(&host()))
            .env_remove("CARGO_TERM_COLOR")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `cargo ARGS`, its stderr in the pipe of its stdout (so that its
    /// `Running` lines stay in order with the tests' results).
    fn cargo(&self, args: &[&str]) -> Output {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut sh = Command::new("sh");
        sh.args(["-c", "exec \"$@\" 2>&1", "sh"])
            .arg(cargo)
            .args(args);
        self.hermetic(sh).output().unwrap()
    }

    /// The tool with `args` (and `env`), and the entries of its raw log.
    fn structlog(&self, args: &[&str], env: &[(String, String)]) -> (Output, Vec<Value>) {
        let raw = self.root().join("structlog.jsonl");
        let mut cmd = self.hermetic(structlog());
        cmd.args(args).arg("--log-raw").arg(&raw);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let out = run(&mut cmd);
        (out, read_raw(&raw))
    }

    /// The executables the runner was asked to run since the last call.
    fn ran(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let _ = std::fs::remove_file(self.log());
        text.lines().map(str::to_string).collect()
    }

    /// Of the executables the runner ran, the test binaries (in the target
    /// directory), and how many others there were (doctests, which rustdoc
    /// builds in a temporary directory).
    fn split(&self, ran: &[String]) -> (BTreeSet<String>, usize) {
        let target = self.root().join("target");
        let (binaries, doctests): (Vec<&String>, Vec<&String>) = ran
            .iter()
            .partition(|exe| Path::new(exe).starts_with(&target));
        (binaries.into_iter().cloned().collect(), doctests.len())
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Each test's status, and whether it was expected, by id.
fn statuses(entries: &[Value]) -> BTreeMap<String, (String, bool)> {
    by_test(entries, "test_end")
        .into_iter()
        .map(|(id, e)| {
            let status = e["status"].as_str().unwrap().to_string();
            (id, (status, e.get("expected").is_none()))
        })
        .collect()
}

/// The test processes the tool started (`process_start`): binary id and
/// command.
fn processes(entries: &[Value]) -> Vec<(String, String)> {
    entries
        .iter()
        .filter(|e| e["action"] == "process_start")
        .map(|e| {
            let group = e["thread"].as_str().unwrap().to_string();
            (group, e["command"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Checks that every test process the tool started went through the
/// workspace's runner (`ran`: what the runner wrote down): the test
/// binaries as `run.sh --via-runner EXE ...`, each EXE under `target`; the
/// doctests by rustdoc's `--test-runtool`, the runner having run at least
/// one. Returns the test binaries run.
fn all_through_the_runner(ws: &Workspace, entries: &[Value], ran: &[String]) -> BTreeSet<String> {
    let (ran_binaries, ran_doctests) = ws.split(ran);
    let prefix = format!("{} --via-runner ", ws.runner().display());
    let mut binaries = BTreeSet::new();
    let mut rustdocs = 0;
    for (group, command) in processes(entries) {
        if group.ends_with("::doc") {
            let runtool = format!("--test-runtool {}", ws.runner().display());
            assert!(command.contains(&runtool), "{group}: {command}");
            rustdocs += 1;
            continue;
        }
        let rest = command
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{group} not through the runner: {command}"));
        let exe = rest.split(' ').next().unwrap().to_string();
        assert!(ran_binaries.contains(&exe), "{exe} not run: {ran:#?}");
        binaries.insert(exe);
    }
    assert!(rustdocs > 0 && ran_doctests > 0, "{ran:#?}");
    // Nothing else went through it (the tool also lists each binary through
    // the runner, as it runs it).
    assert_eq!(binaries, ran_binaries);
    binaries
}

/// Where the tool's results differ from what `cargo test` printed: each
/// result must be the one the README's status mapping gives to cargo's.
/// The custom harness (`older::plain`), which prints no results, must pass,
/// as it does under cargo (its exit status).
fn differences_from_cargo(entries: &[Value], cargo_output: &str) -> Vec<String> {
    // rustdoc runs merged doctests through a runner without telling their
    // runner where it is, which says so (under either tool) in a line
    // the reader of cargo's output would take for the start of a result.
    let cargo_output: String = cargo_output
        .lines()
        .filter(|l| !l.starts_with("WARNING: No rustdoc doctest environment variable"))
        .map(|l| format!("{l}\n"))
        .collect();
    let said = cargo_results(&cargo_output);
    let mut exes: BTreeMap<String, String> = BTreeMap::new();
    for (group, command) in processes(entries) {
        let exe = match group.strip_suffix("::doc") {
            Some(package) => format!("rustdoc:{package}"),
            None => {
                let exe = command.split(' ').find(|a| a.contains("/deps/")).unwrap();
                Path::new(exe)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            }
        };
        exes.insert(group, exe);
    }
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (id, end) in by_test(entries, "test_end") {
        let group = end["group"].as_str().unwrap();
        let name = &id[group.len() + 1..];
        let status = end["status"].as_str().unwrap();
        let expected = end.get("expected").is_none();
        let key = (exes[group].clone(), name.to_string());
        let Some(theirs) = said.get(&key) else {
            if group != "older::plain" || status != "PASS" || !expected {
                problems.push(format!(
                    "{id}: {status} (expected: {expected}), not in cargo's"
                ));
            }
            continue;
        };
        seen.insert(key);
        let should_panic = theirs.should_panic || end["extra"]["should_panic"] == true;
        let agrees = match theirs.outcome.as_str() {
            "ok" if should_panic => status == "FAIL" && expected,
            "ok" => status == "PASS" && expected,
            "ignored" => status == "SKIP",
            _ => !expected,
        };
        if !agrees {
            problems.push(format!(
                "{id}: cargo test said {}, the tool {status} (expected: {expected})",
                theirs.outcome
            ));
        }
    }
    for key in said.keys().filter(|k| !seen.contains(*k)) {
        problems.push(format!("{key:?}: only cargo test has a result"));
    }
    if seen.is_empty() {
        problems.push("no result compared".into());
    }
    problems
}

#[test]
fn a_configured_runner_runs_every_test_executable_and_doctest_as_cargo_test_does() {
    let host = host();
    let ws = Workspace::new();
    // A program path with a slash: relative to the configuration's
    // workspace, as cargo reads it.
    ws.configure(Some(&format!(
        "[target.{host}]\nrunner = [\"tools/run.sh\", \"--via-runner\"]\n"
    )));
    let theirs = ws.cargo(&["test", "--no-fail-fast", "--target", &host]);
    let cargo_ran = ws.ran();
    let (mine, entries) = ws.structlog(&["--target", &host], &[]);
    let tool_ran = ws.ran();
    assert_eq!(mine.status.code(), theirs.status.code(), "{}", text(&mine));
    // cargo test built it all for the target: the tool builds the same.
    assert!(!text(&mine).contains("Compiling"), "{}", text(&mine));

    // Through the runner: the same test binaries, built for the target,
    // and as many doctest executables (rustdoc runs them through it).
    let binaries = all_through_the_runner(&ws, &entries, &tool_ran);
    let (cargo_binaries, cargo_doctests) = ws.split(&cargo_ran);
    assert_eq!(binaries, cargo_binaries);
    assert_eq!(ws.split(&tool_ran).1, cargo_doctests);
    let target_dir = ws.root().join("target").join(&host);
    assert!(binaries
        .iter()
        .all(|b| Path::new(b).starts_with(&target_dir)));
    for (group, command) in processes(&entries) {
        if group.ends_with("::doc") {
            assert!(command.contains(&format!("--target {host}")), "{command}");
        }
    }
    // The results are cargo test's.
    let problems = differences_from_cargo(&entries, &text(&theirs));
    assert!(problems.is_empty(), "{problems:#?}\n{}", text(&theirs));

    // And runs without the runner, for the host and for the host's
    // triple (doctests merged again), have the same results.
    ws.configure(None);
    for args in [vec![], vec!["--target", host.as_str()]] {
        let (plain, plain_entries) = ws.structlog(&args, &[]);
        assert_eq!(plain.status.code(), mine.status.code(), "{}", text(&plain));
        assert!(ws.ran().is_empty());
        assert_eq!(statuses(&plain_entries), statuses(&entries), "{args:?}");
    }
}

#[test]
fn after_a_target_run_cargo_test_for_that_target_compiles_nothing() {
    let host = host();
    let ws = Workspace::new();
    ws.configure(Some(&format!(
        "[target.{host}]\nrunner = \"tools/run.sh --via-runner\"\n"
    )));
    // The tool builds the tests (nothing was built before).
    let (out, entries) = ws.structlog(&["--target", &host], &[]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    assert!(text(&out).contains("Compiling"), "{}", text(&out));
    assert!(!statuses(&entries).is_empty());
    let again = ws.cargo(&["test", "--target", &host, "--no-run"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        !text(&again).contains("Compiling"),
        "cargo test rebuilt what the tool built:\n{}",
        text(&again)
    );
}

#[test]
fn cfg_and_environment_runners_are_the_ones_cargo_would_use() {
    let host = host();
    let ws = Workspace::new();
    // A `cfg(...)` table, the runner written as one string; no --target:
    // the host's runner applies, as under cargo test.
    let (arch, os) = (std::env::consts::ARCH, std::env::consts::OS);
    ws.configure(Some(&format!(
        "[target.'cfg(all(target_arch = \"{arch}\", target_os = \"{os}\"))']\n\
         runner = \"tools/run.sh --via-runner\"\n"
    )));
    let (out, by_cfg) = ws.structlog(&[], &[]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    all_through_the_runner(&ws, &by_cfg, &ws.ran());

    // The environment's runner comes before the configuration's, whose
    // program does not exist (the run would fail through it).
    ws.configure(Some(&format!(
        "[target.{host}]\nrunner = \"tools/missing.sh\"\n"
    )));
    let env = [(
        runner_var(&host),
        format!("{} --via-runner", ws.runner().display()),
    )];
    let (out, by_env) = ws.structlog(&["--target", &host], &env);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    all_through_the_runner(&ws, &by_env, &ws.ran());
    assert_eq!(statuses(&by_env), statuses(&by_cfg));
}

#[test]
fn a_runner_that_cannot_be_started_is_reported_in_the_log() {
    let host = host();
    let ws = Workspace::new();
    ws.configure(Some(&format!(
        "[target.{host}]\nrunner = \"tools/missing.sh\"\n"
    )));
    let (out, entries) = ws.structlog(&[], &[]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let missing = ws.root().join("tools/missing.sh");
    let errors = logs(&entries, "ERROR");
    assert!(
        errors.iter().any(|e| e.contains(&format!(
            "cannot start {} to list its tests",
            missing.display()
        ))),
        "{errors:#?}"
    );
    // What could not run is not a pass.
    let statuses = statuses(&entries);
    assert!(!statuses.is_empty());
    assert!(
        statuses.values().all(|(_, expected)| !expected),
        "{statuses:#?}"
    );
}
