//! Doctests in an archive: compiled where the archive is made, run where it
//! is run, where there is no rustdoc.
//!
//! Where it is made, rustdoc compiles them as `cargo test` has it compile
//! them and keeps the executables (`-Zunstable-options --persist-doctests
//! DIR --no-run`): from edition 2024 on merged into one executable
//! (`DIR/merged_doctest_<edition>_<n>/rust_out`, beside the runner source
//! that says which doctest is which of its tests; rustdoc 1.95 runs it even
//! with `--no-run`, so it is given a runtool that runs nothing), before
//! that each on its own (`--merge-doctests=no`;
//! `DIR/<file>_<line>_<n>/rust_out`, the file's `/` and `.` written `_`,
//! `n` counting the doctests of one line). rustdoc's report of the compile
//! names the doctests compiled on their own, the runner source the merged
//! ones: no listing pass is needed. What compiling decided stays decided: a
//! `compile_fail` doctest, a `no_run` one, one that did not compile.
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
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// Set (to the run's plan file) when this binary is to run doctests.
pub const DOCTEST_RUNNER_ENV: &str = "CARGO_STRUCTLOG_DOCTESTS";

/// What makes rustdoc's merged executable run one of its doctests, in its
/// own process, as rustdoc's runner starts it (rustdoc 1.82 and later:
/// `src/librustdoc/doctest/runner.rs`).
const MERGED_TEST_ENV: &str = "RUSTDOC_DOCTEST_RUN_NB_TEST";

/// The exit status of a test that panicked (libtest's `ERROR_EXIT_CODE`),
/// which rustdoc's merged runner takes as a `should_panic` doctest's pass.
const PANICKED: i32 = 101;

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
    /// Run test `index` of this merged executable, rustdoc's bundle of a
    /// crate's doctests, as rustdoc's own runner does: the executable
    /// started with [`MERGED_TEST_ENV`] set to the index.
    Merged { exe: PathBuf, index: usize },
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
/// by [`crate::cargo::record_doctests`]) into `dir`, and reads what became
/// of each from rustdoc's report of the compile (and a merged executable's
/// runner source): no listing pass is needed. `root` is the workspace root
/// (the doctests' fences are read there); the doctests, by name, each with
/// what running it means.
pub fn compile(
    inv: &RustdocInvocation,
    dir: &Path,
    merges: bool,
    root: &Path,
) -> Result<Vec<Doctest>, Error> {
    // As `cargo test` compiles them: merged where rustdoc merges by default
    // (edition 2024 on), so that every result is the one `cargo test`
    // gives; each on its own before. A merged compile whose outcome cannot
    // be read is done again, each on its own.
    let merged_edition = crate::plan::edition_of(&inv.args).is_some_and(|e| e >= 2024);
    if merges && merged_edition {
        let at = dir.join("merged");
        if let Ok(Some(tests)) = compile_as(inv, &at, How::Merged, root) {
            return Ok(tests);
        }
        let _ = std::fs::remove_dir_all(&at);
    }
    let how = if merges { How::Standalone } else { How::AsItIs };
    compile_as(inv, dir, how, root)?.ok_or_else(|| {
        Error::Setup("rustdoc compiled the doctests in a way that cannot be read".into())
    })
}

/// How rustdoc is asked to compile.
#[derive(Clone, Copy, PartialEq)]
enum How {
    /// As it does by default, its merged executable kept and not run.
    Merged,
    /// Each on its own (`--merge-doctests=no`).
    Standalone,
    /// As it does (a rustdoc that never merges).
    AsItIs,
}

/// One compile of the doctests; `None` when a merged compile left what
/// cannot be read.
fn compile_as(
    inv: &RustdocInvocation,
    dir: &Path,
    how: How,
    root: &Path,
) -> Result<Option<Vec<Doctest>>, Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::caused(format!("cannot create {}", dir.display()), e))?;
    let mut cmd = Command::new(&inv.program);
    let mut args = inv.base_args();
    if let Some(i) = args.iter().position(|a| a == "--color") {
        if i + 1 < args.len() {
            args[i + 1] = "never".into();
        }
    }
    if how == How::Merged {
        args = without_runtool(&args);
    }
    cmd.args(&args)
        .arg("-Zunstable-options")
        .arg("--persist-doctests")
        .arg(dir)
        .arg("--no-run");
    match how {
        // `--no-run` does not keep rustdoc (1.95) from running the merged
        // executable: it is run through a runtool that does nothing.
        How::Merged => {
            cmd.args(["--test-runtool", "true"]);
        }
        How::Standalone => {
            cmd.arg("--merge-doctests=no");
        }
        How::AsItIs => {}
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
    let mut results = HashMap::new();
    for line in out.stdout.split(|b| *b == b'\n') {
        if let Some(crate::libtest::Event::Result(r)) = crate::libtest::parse_line(line) {
            results.insert(r.name.clone(), r);
        }
    }
    // The merged ones report nothing (the runtool ran none); the others
    // report how their compile went.
    let merged = if how == How::Merged {
        merged_tests(dir)
    } else {
        HashMap::new()
    };
    if how == How::Merged && merged.is_empty() && kept_merged(dir) {
        // A merged executable whose runner cannot be read.
        return Ok(None);
    }
    if results.is_empty() && !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        return Err(Error::Setup(format!(
            "rustdoc did not compile the doctests ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    let mut tests = Vec::with_capacity(results.len() + merged.len());
    for (name, m) in merged {
        if results.contains_key(&name) {
            continue;
        }
        let outcome = if m.ignore || m.no_run {
            Outcome::Compiled {
                passed: true,
                stdout: None,
            }
        } else {
            Outcome::Merged {
                exe: m.exe.clone(),
                index: m.index,
            }
        };
        tests.push(doctest(name, m.ignore, m.should_panic, outcome));
    }
    for (name, r) in results {
        let should_panic = crate::plan::doctest_fence_has(root, &name, "should_panic");
        let ignore = r.outcome == crate::libtest::Outcome::Ignored;
        let outcome = match r.outcome {
            crate::libtest::Outcome::Ok => {
                let exe = executable(dir, &name);
                let compile_only = ["no_run", "compile_fail"]
                    .iter()
                    .any(|tok| crate::plan::doctest_fence_has(root, &name, tok));
                match exe.filter(|_| !compile_only) {
                    Some(exe) => Outcome::Run { exe },
                    None if compile_only => Outcome::Compiled {
                        passed: true,
                        stdout: None,
                    },
                    None if how == How::Merged => return Ok(None),
                    None => {
                        return Err(Error::Setup(format!(
                            "rustdoc kept no executable for the doctest `{name}` in {}",
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
        tests.push(doctest(name, ignore, should_panic, outcome));
    }
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(tests))
}

/// A doctest by its name (`FILE - ITEM (line N)`, which says where it is).
fn doctest(name: String, ignore: bool, should_panic: bool, outcome: Outcome) -> Doctest {
    let source_path = name.split_once(" - ").map(|(file, _)| file.to_string());
    let start_line = name
        .rsplit_once("(line ")
        .and_then(|(_, l)| l.strip_suffix(')')?.parse().ok());
    Doctest {
        name,
        ignore,
        ignore_message: None,
        source_path,
        start_line,
        should_panic,
        outcome,
    }
}

/// Whether rustdoc kept a merged executable under `dir`.
fn kept_merged(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("merged_doctest_")
                && e.path()
                    .join(format!("rust_out{}", std::env::consts::EXE_SUFFIX))
                    .is_file()
        })
    })
}

/// A doctest in a merged executable, as rustdoc wrote it in the runner's
/// source.
#[derive(Debug)]
struct MergedTest {
    exe: PathBuf,
    index: usize,
    ignore: bool,
    no_run: bool,
    should_panic: bool,
}

/// The doctests of the merged executables rustdoc kept under `dir`
/// (`merged_doctest_<edition>_<n>/rust_out`), by name, read from the
/// source of their runner (`doctest_runner_<edition>.rs`), which declares
/// each as `mod __doctest_<index> { pub const TEST: ... =
/// test::TestDescAndFn::new_doctest("<name>", <ignore>, "<file>", <line>,
/// <no_run>, <should_panic>, ...`. Nothing for a source that reads
/// otherwise.
fn merged_tests(dir: &Path) -> HashMap<String, MergedTest> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let folder = entry.path();
        let named = entry
            .file_name()
            .to_string_lossy()
            .starts_with("merged_doctest_");
        let exe = folder.join(format!("rust_out{}", std::env::consts::EXE_SUFFIX));
        if !named || !exe.is_file() {
            continue;
        }
        let Ok(files) = std::fs::read_dir(&folder) else {
            continue;
        };
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("doctest_runner_") && name.ends_with(".rs")) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(f.path()) else {
                continue;
            };
            for (test, index, flags) in read_runner(&text) {
                out.insert(
                    test,
                    MergedTest {
                        exe: exe.clone(),
                        index,
                        ignore: flags[0],
                        no_run: flags[1],
                        should_panic: flags[2],
                    },
                );
            }
        }
    }
    out
}

/// Each doctest a merged runner's source declares: its name, its index,
/// and its ignore, no_run and should_panic flags.
fn read_runner(text: &str) -> Vec<(String, usize, [bool; 3])> {
    let mut out = Vec::new();
    for part in text.split("\nmod __doctest_").skip(1) {
        // `mod __doctest_mod`, the runner's helpers, is not a doctest.
        let Some((Ok(index), rest)) = part
            .split_once(" {")
            .map(|(i, rest)| (i.trim().parse::<usize>(), rest))
        else {
            continue;
        };
        let read = || -> Option<(String, usize, [bool; 3])> {
            let rest = rest.split_once("::new_doctest(")?.1.trim_start();
            let (name, rest) = rust_string(rest)?;
            let mut fields = rest.strip_prefix(',')?.trim_start();
            let ignore = bool_field(&mut fields)?;
            let (_file, rest) = rust_string(fields)?;
            fields = rest.strip_prefix(',')?.trim_start();
            let (_line, rest) = fields.split_once(',')?;
            fields = rest.trim_start();
            let no_run = bool_field(&mut fields)?;
            let should_panic = bool_field(&mut fields)?;
            Some((name, index, [ignore, no_run, should_panic]))
        };
        match read() {
            Some(t) => out.push(t),
            // One that cannot be read: none can be trusted.
            None => return Vec::new(),
        }
    }
    out
}

/// `true,` or `false,` at the start of `s`, taken off it.
fn bool_field(s: &mut &str) -> Option<bool> {
    let (word, rest) = s.split_once(',')?;
    let value = match word.trim() {
        "true" => true,
        "false" => false,
        _ => return None,
    };
    *s = rest.trim_start();
    Some(value)
}

/// A string literal as Rust's `{:?}` writes one, at the start of `s`: its
/// value and the text after it.
fn rust_string(s: &str) -> Option<(String, &str)> {
    let mut rest = s.strip_prefix('"')?;
    let mut value = String::new();
    loop {
        let i = rest.find(['"', '\\'])?;
        value.push_str(&rest[..i]);
        if rest[i..].starts_with('"') {
            return Some((value, &rest[i + 1..]));
        }
        let escape = &rest[i + 1..];
        let mut c = escape.chars();
        let e = c.next()?;
        let (ch, used) = match e {
            'n' => ('\n', 1),
            'r' => ('\r', 1),
            't' => ('\t', 1),
            '0' => ('\0', 1),
            '\\' | '"' | '\'' => (e, 1),
            'u' => {
                let (hex, _) = escape[1..].strip_prefix('{')?.split_once('}')?;
                (
                    char::from_u32(u32::from_str_radix(hex, 16).ok()?)?,
                    hex.len() + 3,
                )
            }
            _ => return None,
        };
        value.push(ch);
        rest = &escape[used..];
    }
}

/// rustdoc's arguments without the runtool cargo gave it.
fn without_runtool(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--test-runtool" || a == "--test-runtool-arg" {
            it.next();
        } else if !(a.starts_with("--test-runtool=") || a.starts_with("--test-runtool-arg=")) {
            out.push(a.clone());
        }
    }
    out
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

    /// The plan's doctests these arguments choose.
    fn chosen(&self, plan: &Plan) -> Vec<Doctest> {
        plan.tests
            .iter()
            .filter(|t| self.selects(t))
            .cloned()
            .collect()
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
    listing(&Args::parse(argv).chosen(plan))
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
    let chosen = args.chosen(&plan);
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
    let (exe, index) = match &t.outcome {
        Outcome::Compiled { passed: true, .. } => return Ok(()),
        Outcome::Compiled {
            passed: false,
            stdout,
        } => return Err(stdout.clone().unwrap_or_default()),
        Outcome::Run { exe } => (exe, None),
        Outcome::Merged { exe, index } => (exe, Some(*index)),
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
    if let Some(i) = index {
        cmd.env(MERGED_TEST_ENV, i.to_string());
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => return Err(format!("Couldn't run the test: {e}")),
    };
    // rustdoc judges a merged doctest that should panic by its exit
    // status, one on its own by its failing.
    let panicked = match index {
        Some(_) => out.status.code() == Some(PANICKED),
        None => !out.status.success(),
    };
    match (out.status.success(), t.should_panic) {
        (_, true) if panicked => Ok(()),
        (true, false) => Ok(()),
        (_, true) if index.is_some() => {
            Err("Test didn't panic, but it's marked `should_panic`.\n".into())
        }
        (_, true) => Err("Test executable succeeded, but it's marked `should_panic`.".into()),
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
    fn a_merged_runners_doctests_are_read_from_its_source() {
        // As rustdoc 1.95 writes it (abridged).
        let text = r#"#![allow(unused_extern_crates)]
extern crate test;

mod __doctest_0 {
pub const TEST: test::TestDescAndFn = test::TestDescAndFn::new_doctest(
"src/lib.rs - add (line 1)", false, "src/lib.rs", 1, false, false,
test::StaticTestFn(
    || {test::assert_test_result(crate::__doctest_mod::doctest_runner(bin_path, 0, false))},
));
}

mod __doctest_1 {
pub const TEST: test::TestDescAndFn = test::TestDescAndFn::new_doctest(
"src/lib.rs - Q<\"a\\b\">::\u{e9}t\u{e9} (line 10)", true, "src/lib.rs", 10, true, true,
test::StaticTestFn(
    || {test::assert_test_result(Ok::<(), String>(()))},
));
}

mod __doctest_mod {
    use std::sync::OnceLock;
}
"#;
        let got = read_runner(text);
        assert_eq!(
            got,
            [
                (
                    "src/lib.rs - add (line 1)".to_string(),
                    0,
                    [false, false, false]
                ),
                (
                    "src/lib.rs - Q<\"a\\b\">::\u{e9}t\u{e9} (line 10)".to_string(),
                    1,
                    [true, true, true]
                ),
            ]
        );
        assert_eq!(
            rust_string(r#""x\u{1f600}\n" rest"#),
            Some(("x\u{1f600}\n".to_string(), " rest"))
        );
        // A declaration that reads otherwise: none is trusted.
        let changed = text.replace(", 10, true, true,", ", 10, yes, true,");
        assert!(read_runner(&changed).is_empty());
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
