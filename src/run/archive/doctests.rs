//! Doctests in an archive: compiled where the archive is made, run where it
//! is run, where there is no rustdoc.
//!
//! Where it is made, rustdoc compiles each doctest on its own and keeps the
//! executables (`-Zunstable-options --persist-doctests DIR --no-run
//! --merge-doctests=no`; rustdoc 1.95 keeps `DIR/<file>_<line>_<n>/rust_out`,
//! the file's `/` and `.` written `_`, `n` counting the doctests of one
//! line). What compiling decided stays decided: a `compile_fail` doctest,
//! a `no_run` one, one that did not compile.
//!
//! Where it is run, this tool's own binary stands in for the libtest inside
//! rustdoc ([`runner_main`], started with [`DOCTEST_RUNNER_ENV`]): it takes
//! the arguments rustdoc's libtest takes (as `--test-args`, split at
//! whitespace as rustdoc splits them), lists and runs the doctests as
//! rustdoc runs them (in `--test-run-directory`, with the libraries'
//! directories first on the library search path, through the target's
//! runner), and judges and reports each as rustdoc does (the same JSON
//! events, the same failure text: `Test executable failed (exit status:
//! N).` with the output, `Test executable succeeded, but it's marked
//! `should_panic`.`).

use crate::cargo::RustdocInvocation;
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// Set (to the run's plan file) when this binary is to run doctests.
pub const DOCTEST_RUNNER_ENV: &str = "CARGO_STRUCTLOG_DOCTESTS";

/// A doctest, as listed and as compiled.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Doctest {
    pub name: String,
    pub ignore: bool,
    pub ignore_message: Option<String>,
    pub source_path: Option<String>,
    pub start_line: Option<u32>,
    pub should_panic: bool,
    pub outcome: Outcome,
}

/// What running a doctest means.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Run this executable (a member's path in the archive; once
    /// extracted, its path).
    Run { exe: PathBuf },
    /// Decided when it was compiled (`compile_fail`, `no_run`, or a doctest
    /// that did not compile), with rustdoc's output for a failure.
    Compiled {
        passed: bool,
        stdout: Option<String>,
    },
}

/// A package's doctests as the runner takes them: every path where it is now.
#[derive(Debug, Serialize, Deserialize)]
pub struct Plan {
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    /// The target's runner and its arguments (empty: none).
    pub runner: Vec<String>,
    pub tests: Vec<Doctest>,
}

/// Compiles the doctests of one rustdoc invocation (cargo's, as recorded
/// while listing) into `dir`, each on its own, and reads what became of
/// each: `listing` is rustdoc's listing of them (JSON lines), `root` the
/// workspace root (the doctests' fences are read there for `no_run`);
/// the doctests, each with what running it means.
pub fn compile(
    inv: &RustdocInvocation,
    listing: &[Vec<u8>],
    dir: &Path,
    merges: bool,
    root: &Path,
) -> Result<Vec<Doctest>, Error> {
    let mut tests: Vec<Doctest> = Vec::new();
    for line in listing {
        if let Some(crate::libtest::Event::Discovered(d)) = crate::libtest::parse_line(line) {
            let should_panic = crate::plan::doctest_fence_has(root, &d.name, "should_panic");
            tests.push(Doctest {
                name: d.name,
                ignore: d.ignore,
                ignore_message: d.ignore_message,
                source_path: d.source_path,
                start_line: d.start_line,
                should_panic,
                outcome: Outcome::Compiled {
                    passed: false,
                    stdout: None,
                },
            });
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::caused(format!("cannot create {}", dir.display()), e))?;
    let mut cmd = Command::new(&inv.program);
    let mut args = inv.base_args();
    if let Some(i) = args.iter().position(|a| a == "--color") {
        if i + 1 < args.len() {
            args[i + 1] = "never".into();
        }
    }
    cmd.args(&args)
        .arg("-Zunstable-options")
        .arg("--persist-doctests")
        .arg(dir)
        .arg("--no-run");
    if merges {
        cmd.arg("--merge-doctests=no");
    }
    cmd.args([
        "--test-args",
        "--format=json",
        "--test-args",
        "-Zunstable-options",
    ])
    .env_clear()
    .envs(inv.env.iter().map(|(k, v)| (k, v)))
    // rustdoc alone takes it, for its unstable options; it starts only
    // rustc here, no test.
    .env("RUSTC_BOOTSTRAP", "1")
    .current_dir(&inv.cwd)
    .stdin(Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| Error::caused(format!("cannot run {}", inv.program), e))?;
    let mut results = std::collections::HashMap::new();
    for line in out.stdout.split(|b| *b == b'\n') {
        if let Some(crate::libtest::Event::Result(r)) = crate::libtest::parse_line(line) {
            results.insert(r.name.clone(), r);
        }
    }
    if results.is_empty() && !tests.is_empty() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        return Err(Error::Setup(format!(
            "rustdoc did not compile the doctests ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    for t in &mut tests {
        let Some(r) = results.get(&t.name) else {
            return Err(Error::Setup(format!(
                "rustdoc listed the doctest `{}` but did not compile it ({})",
                t.name, out.status
            )));
        };
        t.outcome = match r.outcome {
            crate::libtest::Outcome::Ok => {
                let exe = executable(dir, &t.name);
                let compile_only = ["no_run", "compile_fail"]
                    .iter()
                    .any(|tok| crate::plan::doctest_fence_has(root, &t.name, tok));
                match exe.filter(|_| !compile_only) {
                    Some(exe) => Outcome::Run { exe },
                    None if compile_only => Outcome::Compiled {
                        passed: true,
                        stdout: None,
                    },
                    None => {
                        return Err(Error::Setup(format!(
                            "rustdoc kept no executable for the doctest `{}` in {}",
                            t.name,
                            dir.display()
                        )))
                    }
                }
            }
            crate::libtest::Outcome::Ignored => Outcome::Compiled {
                passed: true,
                stdout: None,
            },
            _ => Outcome::Compiled {
                passed: false,
                stdout: r.stdout.clone(),
            },
        };
    }
    Ok(tests)
}

/// The executable rustdoc kept for doctest `name` (`FILE - ITEM (line N)`).
fn executable(dir: &Path, name: &str) -> Option<PathBuf> {
    let (file, rest) = name.split_once(" - ")?;
    let line = rest.rsplit_once("(line ")?.1.strip_suffix(')')?;
    let folder = file.replace(['\\', '/', ':', '.'], "_");
    let exe = dir
        .join(format!("{folder}_{line}_0"))
        .join(format!("rust_out{}", std::env::consts::EXE_SUFFIX));
    exe.is_file().then_some(exe)
}

/// What the runner was asked, in libtest's terms.
#[derive(Debug, Default)]
struct Args {
    list: bool,
    report_time: bool,
    exact: bool,
    ignored: bool,
    include_ignored: bool,
    filters: Vec<String>,
    skip: Vec<String>,
    threads: Option<usize>,
    logfile: Option<PathBuf>,
}

impl Args {
    /// libtest's options, as rustdoc hands them on: each `--test-args`
    /// value split at whitespace.
    fn parse(argv: &[String]) -> Args {
        let mut words = Vec::new();
        let mut it = argv.iter();
        while let Some(a) = it.next() {
            let value = if a == "--test-args" {
                it.next().cloned().unwrap_or_default()
            } else if let Some(v) = a.strip_prefix("--test-args=") {
                v.to_string()
            } else {
                a.clone()
            };
            words.extend(value.split_whitespace().map(str::to_string));
        }
        let mut args = Args::default();
        let mut it = words.into_iter();
        while let Some(w) = it.next() {
            let (flag, inline) = match w.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (w.clone(), None),
            };
            let value = |it: &mut std::vec::IntoIter<String>| inline.clone().or_else(|| it.next());
            match flag.as_str() {
                "--list" => args.list = true,
                "--report-time" | "--ensure-time" => args.report_time = true,
                "--exact" => args.exact = true,
                "--ignored" => args.ignored = true,
                "--include-ignored" => args.include_ignored = true,
                "--skip" => args.skip.extend(value(&mut it)),
                "--test-threads" => args.threads = value(&mut it).and_then(|v| v.parse().ok()),
                "--logfile" => args.logfile = value(&mut it).map(PathBuf::from),
                "--format" | "-Z" | "--color" | "--shuffle-seed" => {
                    value(&mut it);
                }
                f if f.starts_with('-') => {}
                _ => args.filters.push(w),
            }
        }
        args
    }

    fn selects(&self, t: &Doctest) -> bool {
        let hit = |f: &String| {
            if self.exact {
                t.name == *f
            } else {
                t.name.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(hit))
            && !self.skip.iter().any(hit)
            && (!self.ignored || t.ignore)
    }
}

/// The listing libtest would print of these doctests (`--list --format
/// json`), line by line.
fn listing(chosen: &[Doctest]) -> Vec<Vec<u8>> {
    let mut out = vec![br#"{ "type": "suite", "event": "discovery" }"#.to_vec()];
    for t in chosen {
        let mut line = serde_json::json!({
            "type": "test", "event": "discovered", "name": t.name, "ignore": t.ignore,
        });
        if let Some(m) = &t.ignore_message {
            line["ignore_message"] = m.clone().into();
        }
        if let Some(p) = &t.source_path {
            line["source_path"] = p.clone().into();
        }
        if let Some(l) = t.start_line {
            line["start_line"] = l.into();
        }
        out.push(line.to_string().into_bytes());
    }
    let ignored = chosen.iter().filter(|t| t.ignore).count();
    out.push(
        format!(
            r#"{{ "type": "suite", "event": "completed", "tests": {n}, "benchmarks": 0, "total": {n}, "ignored": {ignored} }}"#,
            n = chosen.len()
        )
        .into_bytes(),
    );
    out
}

/// The listing the runner gives for `plan` and these libtest arguments
/// (as rustdoc takes them), without starting it.
pub fn list(plan: &Plan, argv: &[String]) -> Vec<Vec<u8>> {
    let args = Args::parse(argv);
    let chosen: Vec<Doctest> = plan
        .tests
        .iter()
        .filter(|t| args.selects(t))
        .cloned()
        .collect();
    listing(&chosen)
}

/// The libtest of an archived package's doctests: lists or runs them as
/// told by `argv`, writing libtest's JSON; its exit status.
pub fn runner_main(plan: &Path, argv: &[String]) -> i32 {
    let plan: Plan = match std::fs::read(plan)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "cargo-structlog: cannot read the doctests' plan {}: {e}",
                plan.display()
            );
            return 101;
        }
    };
    let args = Args::parse(argv);
    let chosen: Vec<Doctest> = plan
        .tests
        .iter()
        .filter(|t| args.selects(t))
        .cloned()
        .collect();
    let mut stdout = std::io::stdout().lock();
    if args.list {
        for line in listing(&chosen) {
            let _ = stdout.write_all(&line);
            let _ = stdout.write_all(b"\n");
        }
        return 0;
    }
    let _ = writeln!(
        stdout,
        r#"{{ "type": "suite", "event": "started", "test_count": {} }}"#,
        chosen.len()
    );
    drop(stdout);
    let began = std::time::Instant::now();
    let threads = args
        .threads
        .or_else(|| std::env::var("RUST_TEST_THREADS").ok()?.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let queue = Arc::new(Mutex::new(chosen.into_iter()));
    let counts = Arc::new(Mutex::new((0usize, 0usize, 0usize)));
    let logfile = args
        .logfile
        .as_ref()
        .and_then(|p| std::fs::File::create(p).ok())
        .map(|f| Arc::new(Mutex::new(f)));
    let plan = Arc::new(plan);
    let args = Arc::new(args);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (queue, counts, plan, args, logfile) = (
                queue.clone(),
                counts.clone(),
                plan.clone(),
                args.clone(),
                logfile.clone(),
            );
            std::thread::spawn(move || loop {
                let Some(t) = queue.lock().expect("queue").next() else {
                    return;
                };
                let name = serde_json::to_string(&t.name).expect("a string");
                println!(r#"{{ "type": "test", "event": "started", "name": {name} }}"#);
                let run_ignored = args.ignored || args.include_ignored;
                let started = std::time::Instant::now();
                let result = if t.ignore && !run_ignored {
                    None
                } else {
                    Some(run_one(&plan, &t))
                };
                let mut line = serde_json::json!({"type": "test", "name": t.name});
                let word = match &result {
                    None => "ignored",
                    Some(Ok(())) => "ok",
                    Some(Err(_)) => "failed",
                };
                line["event"] = word.into();
                if let Some(r) = &result {
                    if args.report_time {
                        line["exec_time"] = started.elapsed().as_secs_f64().into();
                    }
                    if let Err(text) = r {
                        line["stdout"] = text.clone().into();
                    }
                }
                {
                    let mut c = counts.lock().expect("counts");
                    match word {
                        "ok" => c.0 += 1,
                        "failed" => c.1 += 1,
                        _ => c.2 += 1,
                    }
                }
                if let Some(f) = &logfile {
                    let _ = writeln!(f.lock().expect("logfile"), "{word} {}", t.name);
                }
                println!("{line}");
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let (passed, failed, ignored) = *counts.lock().expect("counts");
    println!(
        r#"{{ "type": "suite", "event": "{}", "passed": {passed}, "failed": {failed}, "ignored": {ignored}, "measured": 0, "filtered_out": 0, "exec_time": {} }}"#,
        if failed == 0 { "ok" } else { "failed" },
        began.elapsed().as_secs_f64()
    );
    if failed == 0 {
        0
    } else {
        101
    }
}

/// Runs one doctest as rustdoc runs it; `Err` holds what rustdoc would
/// print for its failure.
fn run_one(plan: &Plan, t: &Doctest) -> Result<(), String> {
    let exe = match &t.outcome {
        Outcome::Compiled { passed: true, .. } => return Ok(()),
        Outcome::Compiled {
            passed: false,
            stdout,
        } => return Err(stdout.clone().unwrap_or_default()),
        Outcome::Run { exe } => exe,
    };
    let mut cmd = match plan.runner.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.env_remove(DOCTEST_RUNNER_ENV)
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&plan.cwd)
        .stdin(Stdio::null());
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => return Err(format!("Couldn't run the test: {e}")),
    };
    match (out.status.success(), t.should_panic) {
        (true, false) | (false, true) => Ok(()),
        (true, true) => Err("Test executable succeeded, but it's marked `should_panic`.".into()),
        (false, false) => {
            let reason = match out.status.code() {
                Some(code) => format!("exit status: {code}"),
                None => "terminated by signal".into(),
            };
            let mut text = format!("Test executable failed ({reason}).\n");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !stdout.is_empty() || !stderr.is_empty() {
                text.push('\n');
                if !stdout.is_empty() {
                    text.push_str(&format!("stdout:\n{stdout}\n"));
                }
                if !stderr.is_empty() {
                    text.push_str(&format!("stderr:\n{stderr}\n"));
                }
            }
            Err(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_arguments_come_as_rustdoc_hands_them_on() {
        let argv: Vec<String> = [
            "--test-args",
            "--format",
            "--test-args",
            "json",
            "--test-args",
            "add sub",
            "--test-args=--skip",
            "--test-args",
            "line 9",
            "--test-args",
            "--test-threads=3",
            "--test-args",
            "--report-time",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let a = Args::parse(&argv);
        assert_eq!(a.filters, ["add", "sub", "9"]);
        assert_eq!(a.skip, ["line"]);
        assert_eq!(a.threads, Some(3));
        assert!(a.report_time && !a.list);
        let t = |name: &str, ignore| Doctest {
            name: name.into(),
            ignore,
            ignore_message: None,
            source_path: None,
            start_line: None,
            should_panic: false,
            outcome: Outcome::Compiled {
                passed: true,
                stdout: None,
            },
        };
        let a = Args::parse(&["add".into(), "--ignored".into()]);
        assert!(a.selects(&t("src/lib.rs - add (line 5)", true)));
        assert!(!a.selects(&t("src/lib.rs - add (line 9)", false)));
        assert!(!a.selects(&t("src/lib.rs - mul (line 5)", true)));
    }

    #[test]
    fn kept_executables_are_found_by_the_doctests_name() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("alpha_src_lib_rs_11_0");
        std::fs::create_dir_all(&at).unwrap();
        std::fs::write(at.join("rust_out"), b"").unwrap();
        assert_eq!(
            executable(dir.path(), "alpha/src/lib.rs - add (line 11)"),
            Some(at.join("rust_out"))
        );
        assert_eq!(
            executable(dir.path(), "alpha/src/lib.rs - add (line 5)"),
            None
        );
    }
}
