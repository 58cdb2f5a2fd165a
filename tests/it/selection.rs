//! End to end: cargo test's selection flags, the arguments after `--`, and
//! a build that fails.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn sample() -> String {
    fixture_manifest("sample").to_str().unwrap().to_string()
}

/// Runs the tool on the sample workspace with `args`; its exit status and
/// raw log's entries.
fn run_sample_log(dir: &Path, args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let raw = dir.join("run.log");
    let out = run(structlog()
        .args([
            "--manifest-path",
            &sample(),
            "--log-raw",
            raw.to_str().unwrap(),
        ])
        .args(args));
    assert!(raw.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), read_raw(&raw))
}

/// As [`run_sample_log`], with the ids of the tests that ended.
fn run_sample(dir: &Path, args: &[&str]) -> (Option<i32>, BTreeSet<String>) {
    let (code, entries) = run_sample_log(dir, args);
    (code, by_test(&entries, "test_end").into_keys().collect())
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_filter_selects_tests_in_every_binary() {
    let dir = tempfile::tempdir().unwrap();
    let (code, ids) = run_sample(dir.path(), &["--workspace", "shared_name"]);
    assert_eq!(code, Some(101), "it_two's shared_name fails");
    // A plain harness = false binary gets the filter as cargo test gives it,
    // and runs as it likes.
    assert_eq!(
        ids,
        set(&[
            "alpha tests::shared_name",
            "alpha::it_one shared_name",
            "alpha::it_two shared_name",
            "beta tests::shared_name",
            "alpha::plain plain",
        ])
    );
}

#[test]
fn a_testname_runs_no_doctests_as_in_cargo_test() {
    let dir = tempfile::tempdir().unwrap();
    let docs = |ids: &BTreeSet<String>| -> BTreeSet<String> {
        ids.iter()
            .filter(|i| i.contains("::doc "))
            .cloned()
            .collect()
    };
    let add = set(&[
        "alpha::doc alpha/src/lib.rs - add (line 5)",
        "alpha::doc alpha/src/lib.rs - add (line 11)",
    ]);
    // `cargo test add` runs no doctests at all.
    let (_, ids) = run_sample(dir.path(), &["--workspace", "add"]);
    assert_eq!(docs(&ids), set(&[]));
    assert!(ids.contains("alpha::it_one adds"), "{ids:?}");
    // `cargo test -- add` gives the doctests the filter.
    let (_, ids) = run_sample(dir.path(), &["--workspace", "--", "add"]);
    assert_eq!(docs(&ids), add);
    // So do `--doc add` and, asked for, `--filter-doctests add`.
    let (_, ids) = run_sample(dir.path(), &["--workspace", "--doc", "add"]);
    assert_eq!(docs(&ids), add);
    let (_, ids) = run_sample(dir.path(), &["--workspace", "--filter-doctests", "add"]);
    assert_eq!(docs(&ids), add);
    assert!(ids.contains("alpha::it_one adds"), "{ids:?}");
}

#[test]
fn target_and_package_selection() {
    let dir = tempfile::tempdir().unwrap();
    let (code, ids) = run_sample(dir.path(), &["-p", "alpha", "--test", "it_one"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        ids,
        set(&["alpha::it_one adds", "alpha::it_one shared_name"])
    );

    let (_, ids) = run_sample(dir.path(), &["-p", "beta", "--doc"]);
    assert_eq!(
        ids,
        set(&[
            "beta::doc beta/src/lib.rs - greet (line 5)",
            "beta::doc beta/src/lib.rs - greet (line 9)"
        ])
    );

    let (_, ids) = run_sample(dir.path(), &["--workspace", "--exclude", "alpha", "--lib"]);
    assert_eq!(
        ids,
        set(&[
            "beta tests::ignored_with_quotes",
            "beta tests::shared_name",
            "beta tests::unicode_output"
        ])
    );
}

#[test]
fn libtest_selection_flags_and_trailing_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let (code, ids) = run_sample(
        dir.path(),
        &[
            "-p",
            "alpha",
            "--lib",
            "--exact",
            "tests::passes",
            "--",
            "tests::shared_name",
        ],
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        ids,
        set(&["alpha tests::passes", "alpha tests::shared_name"])
    );

    let (_, ids) = run_sample(
        dir.path(),
        &[
            "-p",
            "alpha",
            "--lib",
            "--skip",
            "should_panic",
            "--skip",
            "prints",
        ],
    );
    assert!(!ids
        .iter()
        .any(|i| i.contains("should_panic") || i.contains("prints")));
    assert!(ids.contains("alpha tests::passes"));

    // --ignored runs the ignored tests only, and they pass.
    let (code, entries) = run_sample_log(dir.path(), &["-p", "alpha", "--lib", "--ignored"]);
    assert_eq!(code, Some(0));
    let ends: Vec<Value> = entries
        .into_iter()
        .filter(|e| e["action"] == "test_end")
        .collect();
    assert_eq!(ends.len(), 2);
    assert!(ends.iter().all(|e| e["status"] == "PASS"));

    // --test-threads=1: the tests of a binary run one after the other.
    let (code, entries) =
        run_sample_log(dir.path(), &["-p", "alpha", "--lib", "--test-threads", "1"]);
    assert_eq!(code, Some(101));
    let mut running = 0;
    for e in entries {
        match e["action"].as_str().unwrap() {
            "test_start" => {
                running += 1;
                assert_eq!(running, 1, "two tests at once with --test-threads 1");
            }
            "test_end" => running -= 1,
            _ => {}
        }
    }
}

#[test]
fn a_build_failure_is_recorded_in_every_sink() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("broken");
    std::fs::create_dir_all(ws.join("src")).unwrap();
    std::fs::write(
        ws.join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("src/lib.rs"),
        "pub fn f() -> u32 { \"not a number\" }\n",
    )
    .unwrap();
    let raw = dir.path().join("run.log");
    let xml = dir.path().join("out.xml");
    let out = run(structlog().args([
        "--manifest-path",
        ws.join("Cargo.toml").to_str().unwrap(),
        "--target-dir",
        dir.path().join("target").to_str().unwrap(),
        "--log-raw",
        raw.to_str().unwrap(),
        "--log-xunit",
        xml.to_str().unwrap(),
        "--log-mach",
        "-",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(102), "{stderr}");
    // cargo's own rendering of the error reaches the user.
    assert!(
        stderr.contains("error[E0308]: mismatched types"),
        "{stderr}"
    );
    let entries = read_raw(&raw);
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["suite_start", "log", "suite_end"]);
    assert_eq!(entries[1]["level"], "ERROR");
    assert!(entries[1]["message"]
        .as_str()
        .unwrap()
        .contains("mismatched types"));
    mozlog_check(&raw);
    xmllint_valid(&xml, "jenkins-junit-10.xsd");
    let mach = String::from_utf8_lossy(&out.stdout);
    assert!(
        mach.contains("ERROR build failed") && mach.contains("SUITE_END"),
        "{mach}"
    );
}

#[test]
fn no_workspace_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(structlog()
        .current_dir(dir.path())
        .args(["--log-raw", dir.path().join("run.log").to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cargo.toml"));
}

/// The remembered JSON listing files (`target/structlog/listings/`) whose
/// listing arguments hold `probe`, with their contents (not the listings
/// without `#[should_panic]` tests, nor the text listings that make up for
/// what libtest's JSON loses). The other tests here write listings of their
/// own meanwhile: a file being written (and renamed away) is passed over.
fn remembered_listings(probe: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let dir = fixture_manifest("sample")
        .parent()
        .unwrap()
        .join("target/structlog/listings");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        // A file being written is a hidden one beside its place.
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let args = text.lines().nth(4).unwrap_or_default();
        if args.contains(probe)
            && args.contains("\"json\"")
            && !args.contains("exclude-should-panic")
        {
            found.push((path, bytes));
        }
    }
    found
}

#[test]
fn a_binarys_listing_is_remembered_until_it_is_rebuilt() {
    // A --skip of a name no test has makes these listings this test's own.
    let probe = "listing_cache_probe_4f1d";
    let args = ["-p", "beta", "--lib", "--skip", probe];
    let listed = |dir: &Path| -> BTreeSet<String> {
        let (_, entries) = run_sample_log(dir, &args);
        let start = entries.iter().find(|e| e["action"] == "suite_start");
        listed(start.expect("a suite_start")).into_iter().collect()
    };
    // Listings an earlier version of the tool remembered with other
    // arguments are not this test's.
    for (file, _) in remembered_listings(probe) {
        let _ = std::fs::remove_file(file);
    }
    let dir = tempfile::tempdir().unwrap();
    let first = listed(dir.path());
    assert!(first.contains("beta tests::unicode_output"), "{first:?}");

    // The listing is remembered: one file, keyed by the executable and the
    // arguments, holding libtest's own output.
    let files = remembered_listings(probe);
    assert_eq!(files.len(), 1, "{files:?}");
    let (file, bytes) = &files[0];
    let text = String::from_utf8_lossy(bytes).into_owned();
    let binary = text
        .lines()
        .nth(2)
        .expect("the executable's path")
        .to_string();
    assert!(Path::new(&binary).is_file(), "{binary}");
    let line = text
        .lines()
        .find(|l| l.contains("\"discovered\"") && l.contains("unicode_output"))
        .expect("libtest's line for unicode_output");

    // A remembered listing is what the next run uses: one that names a test
    // the binary does not have shows it.
    let planted = line.replace("unicode_output", "only_in_the_remembered_listing");
    std::fs::write(file, format!("{text}{planted}\n")).unwrap();
    let second = listed(dir.path());
    assert!(
        second.contains("beta tests::only_in_the_remembered_listing"),
        "{second:?}"
    );

    // A rebuilt executable (here: only its modification time changes) is
    // listed again, and what is remembered is libtest's again.
    let exe = std::fs::File::options().write(true).open(&binary).unwrap();
    exe.set_modified(std::time::SystemTime::now()).unwrap();
    drop(exe);
    let third = listed(dir.path());
    assert_eq!(third, first);
    let files = remembered_listings(probe);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(!String::from_utf8_lossy(&files[0].1).contains("only_in_the_remembered"));
}

/// Writes a one-library workspace (its own target directory) in `dir`.
fn write_library(dir: &Path, lib: &str, readme: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"docprobe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    std::fs::write(dir.join("README.md"), readme).unwrap();
}

/// Runs the tool on the library in `dir` (every target, as `cargo test`);
/// the doctests its suite_start lists.
fn doctests_listed(dir: &Path, rustdocflags: Option<&str>) -> BTreeSet<String> {
    let raw = dir.join("run.log");
    let mut cmd = structlog();
    cmd.arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--log-raw")
        .arg(&raw)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTDOCFLAGS")
        .env_remove("CARGO_ENCODED_RUSTDOCFLAGS");
    if let Some(flags) = rustdocflags {
        cmd.env("RUSTDOCFLAGS", flags);
    }
    let out = run(&mut cmd);
    assert!(raw.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    let entries = read_raw(&raw);
    let start = entries.iter().find(|e| e["action"] == "suite_start");
    listed(start.expect("a suite_start"))
        .into_iter()
        .filter(|t| t.starts_with("docprobe::doc "))
        .collect()
}

/// The remembered doctest listings of the library in `dir`.
fn remembered_doctests(dir: &Path) -> Vec<std::path::PathBuf> {
    let listings = dir.join("target/structlog/listings");
    let Ok(entries) = std::fs::read_dir(listings) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("doctests-")
        })
        .collect()
}

/// How long after its library was built a doctest listing is remembered
/// (and a little more).
const SETTLED: std::time::Duration = std::time::Duration::from_millis(2100);

fn with(names: &BTreeSet<String>, part: &str) -> usize {
    names.iter().filter(|n| n.contains(part)).count()
}

#[test]
fn a_doctest_listing_is_remembered_while_what_it_depends_on_holds() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let one = "/// ```\n/// assert_eq!(docprobe::one(), 1);\n/// ```\npub fn one() -> u32 {\n    1\n}\n\n\
               #[cfg_attr(docprobe_extra, doc = \"```\\nassert!(true);\\n```\")]\npub fn extra() {}\n";
    write_library(dir, one, "");
    let first = doctests_listed(dir, None);
    assert_eq!(with(&first, " - one (line"), 1, "{first:?}");
    assert_eq!(first.len(), 1, "{first:?}");
    // A library built moments before its listing is not remembered (it
    // might have changed while it was listed)...
    assert!(remembered_doctests(dir).is_empty());
    std::thread::sleep(SETTLED);
    // ... one built a while before is.
    assert_eq!(doctests_listed(dir, None), first);

    // What cargo ran and rustdoc listed is remembered; the next run uses
    // it: a test planted in it is listed.
    let files = remembered_doctests(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let mut stored: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let lines = stored["invocations"][0]["lines"].as_array_mut().unwrap();
    let line = lines
        .iter()
        .find(|l| l.as_str().unwrap().contains(" - one (line"))
        .expect("rustdoc's line for one")
        .as_str()
        .unwrap()
        .replace(" - one (line", " - planted (line");
    lines.push(line.into());
    std::fs::write(&files[0], serde_json::to_vec(&stored).unwrap()).unwrap();
    let second = doctests_listed(dir, None);
    assert_eq!(with(&second, " - planted (line"), 1, "{second:?}");

    // RUSTDOCFLAGS change what rustdoc sees, and nothing cargo builds: the
    // listing is made again.
    let flagged = doctests_listed(dir, Some("--cfg docprobe_extra"));
    assert_eq!(with(&flagged, " - extra (line"), 1, "{flagged:?}");
    assert_eq!(with(&flagged, " - planted (line"), 0, "{flagged:?}");

    // An edited source rebuilds the library: listed again.
    let two =
        "/// ```\n/// assert_eq!(docprobe::two(), 2);\n/// ```\npub fn two() -> u32 {\n    2\n}\n";
    write_library(dir, &format!("{one}\n{two}"), "");
    let third = doctests_listed(dir, None);
    assert_eq!(with(&third, " - two (line"), 1, "{third:?}");
    assert_eq!(third.len(), 2, "{third:?}");
    assert!(remembered_doctests(dir).is_empty());

    // Doctests from files only rustdoc reads (under cfg(doctest)), which
    // the library's build does not see change: the listing is remembered
    // with those files' stamps, and an edit to one shows in the next run.
    let readme_lib = format!(
        "{one}\n#[cfg(doctest)]\n#[doc = include_str!(\"../README.md\")]\npub struct ReadmeDoctests;\n\
         #[cfg(doctest)]\nmod more;\n"
    );
    let example = "```\nassert_eq!(docprobe::one(), 1);\n```\n";
    let more = |n: usize| {
        (0..n)
            .map(|i| format!("/// ```\n/// assert!({i} < 9);\n/// ```\npub fn more{i}() {{}}\n"))
            .collect::<String>()
    };
    write_library(dir, &readme_lib, example);
    std::fs::write(dir.join("src/more.rs"), more(1)).unwrap();
    let fourth = doctests_listed(dir, None);
    assert_eq!(with(&fourth, " - ReadmeDoctests (line"), 1, "{fourth:?}");
    assert_eq!(with(&fourth, "more.rs - "), 1, "{fourth:?}");
    std::thread::sleep(SETTLED);
    assert_eq!(doctests_listed(dir, None), fourth);
    assert_eq!(remembered_doctests(dir).len(), 1);
    std::fs::write(
        dir.join("README.md"),
        format!("{example}\nMore:\n\n{example}"),
    )
    .unwrap();
    let fifth = doctests_listed(dir, None);
    assert_eq!(with(&fifth, " - ReadmeDoctests (line"), 2, "{fifth:?}");
    std::thread::sleep(SETTLED);
    assert_eq!(doctests_listed(dir, None), fifth);
    std::fs::write(dir.join("src/more.rs"), more(3)).unwrap();
    let sixth = doctests_listed(dir, None);
    assert_eq!(with(&sixth, "more.rs - "), 3, "{sixth:?}");

    // A path the listing cannot follow (made by a macro): never remembered.
    let opaque_lib = format!(
        "{one}\nmacro_rules! readme {{ () => {{ \"../README.md\" }} }}\n\
         #[cfg(doctest)]\n#[doc = include_str!(readme!())]\npub struct ReadmeDoctests;\n"
    );
    write_library(dir, &opaque_lib, example);
    let seventh = doctests_listed(dir, None);
    assert_eq!(with(&seventh, " - ReadmeDoctests (line"), 1, "{seventh:?}");
    std::thread::sleep(SETTLED);
    assert_eq!(doctests_listed(dir, None), seventh);
    assert!(remembered_doctests(dir).is_empty());
    std::fs::write(dir.join("README.md"), format!("{example}\n{example}")).unwrap();
    let eighth = doctests_listed(dir, None);
    assert_eq!(with(&eighth, " - ReadmeDoctests (line"), 2, "{eighth:?}");
}
