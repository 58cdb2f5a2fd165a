//! End to end: `cargo structlog archive` of the fixture workspace, run shard
//! by shard in another checkout of its sources with neither cargo nor rustc
//! on the `PATH`, merged back: the results of a normal full run, doctests
//! included. Damaged and foreign archives are refused, leaving nothing.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes an archive of fixture workspace `name` to `file`.
fn make_archive(name: &str, file: &Path) {
    let out = run(structlog().args([
        "archive",
        "--manifest-path",
        fixture_manifest(name).to_str().unwrap(),
        "--workspace",
        "--archive-file",
        file.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(file.is_file());
}

/// A directory of links to `sh` and a few basic tools: a `PATH` on which
/// there is no cargo, rustc or rustdoc.
fn bare_path(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["sh", "cat", "ls", "env", "sleep"] {
        if let Some(p) = program(tool) {
            std::os::unix::fs::symlink(p, bin.join(tool)).unwrap();
        }
    }
    for absent in ["cargo", "rustc", "rustdoc", "rustup"] {
        assert!(!bin.join(absent).exists());
    }
    bin
}

/// The tool in `cwd` with only `path` as the `PATH` and nothing of cargo's
/// or rustup's in its environment.
fn bare(cwd: &Path, path: &Path) -> Command {
    let mut cmd = structlog();
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", cwd)
        .env("NO_COLOR", "1")
        .current_dir(cwd);
    cmd
}

#[test]
fn shards_run_from_an_archive_without_cargo_give_the_full_runs_results() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("tests.tar.zst");
    make_archive("sample", &archive);

    // The reference: a normal full run.
    let full = dir.path().join("full.log");
    let out = run(structlog().args([
        "--manifest-path",
        fixture_manifest("sample").to_str().unwrap(),
        "--workspace",
        "--log-raw",
        full.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let want = results(&read_raw(&full));
    assert!(
        want.keys().any(|id| id.starts_with("alpha::doc "))
            && want.keys().any(|id| id.starts_with("beta::doc ")),
        "the fixture has doctests: {want:?}"
    );

    let checkout = dir.path().join("checkout");
    copy_tree(&root().join("fixtures/sample"), &checkout);
    assert!(!checkout.join("target").exists());
    // A profile applies to runs from an archive, but for what decides the
    // build (the archive decided it).
    std::fs::write(
        checkout.join("structlog.toml"),
        "[profile.default]\nworkspace = true\nlog-mach = \"mach.txt\"\n",
    )
    .unwrap();
    let path = bare_path(dir.path());
    let n = 3;
    let mut shards = Vec::new();
    for k in 1..=n {
        let raw = dir.path().join(format!("shard-{k}.log"));
        let out = run(bare(&checkout, &path).args([
            "run",
            "--archive-file",
            archive.to_str().unwrap(),
            "--workspace-remap",
            checkout.to_str().unwrap(),
            "--partition",
            &format!("count:{k}/{n}"),
            "--log-raw",
            raw.to_str().unwrap(),
        ]));
        assert!(
            matches!(out.status.code(), Some(0 | 101)),
            "shard {k}: {}",
            text(&out)
        );
        let entries = read_raw(&raw);
        assert!(
            logs(&entries, "ERROR").is_empty(),
            "shard {k}: {:?}",
            logs(&entries, "ERROR")
        );
        assert!(
            checkout.join("mach.txt").is_file(),
            "shard {k}: the profile's sink"
        );
        std::fs::remove_file(checkout.join("mach.txt")).unwrap();
        // Tests ran in the checkout's packages, from the extraction.
        let info = &entries[0]["run_info"];
        assert_eq!(info["workspace"], checkout.to_str().unwrap());
        shards.push(raw);
    }
    let merged = dir.path().join("merged.log");
    let out = run(structlog()
        .arg("merge")
        .args(&shards)
        .args(["--log-raw", merged.to_str().unwrap()]));
    assert!(out.status.success(), "{}", text(&out));
    let got = results(&read_raw(&merged));
    assert_eq!(
        got, want,
        "the shards from the archive give the full run's results"
    );
    // `list` names the same tests from the archive, without cargo either.
    let out = run(bare(&checkout, &path).args([
        "list",
        "--json",
        "--archive-file",
        archive.to_str().unwrap(),
        "--workspace-remap",
        checkout.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: BTreeSet<String> = (listed["tests"].as_array().unwrap().iter())
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, want.keys().cloned().collect::<BTreeSet<_>>());
    // Nothing was built in the checkout: the tests came from the archive
    // (the checkout's target directory holds only the runs' records).
    let built: Vec<_> = std::fs::read_dir(checkout.join("target"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(built, ["structlog"]);
}

#[test]
fn an_extraction_kept_with_extract_to_is_used_again() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("tests.tar.zst");
    make_archive("sample", &archive);
    let checkout = dir.path().join("checkout");
    copy_tree(&root().join("fixtures/sample"), &checkout);
    let kept = dir.path().join("extracted");
    let path = bare_path(dir.path());
    let mut stamps = Vec::new();
    for round in 0..2 {
        let raw = dir.path().join(format!("run-{round}.log"));
        let out = run(bare(&checkout, &path).args([
            "run",
            "--archive-file",
            archive.to_str().unwrap(),
            "--workspace-remap",
            checkout.to_str().unwrap(),
            "--extract-to",
            kept.to_str().unwrap(),
            "--log-raw",
            raw.to_str().unwrap(),
            "tests::passes",
        ]));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        // As under cargo test, a custom harness runs whatever the filter.
        assert_eq!(
            ended(&raw).into_iter().collect::<Vec<_>>(),
            ["alpha tests::passes", "alpha::plain plain"]
        );
        let exe = std::fs::read_dir(kept.join("target/debug/deps"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        stamps.push(std::fs::metadata(exe).unwrap().modified().unwrap());
    }
    assert_eq!(stamps[0], stamps[1], "the second run extracted nothing");

    // The archive holds each libtest executable's listings, as the
    // executable gives them where it is run; runs take them from there.
    let members = members(&archive);
    let data = |name: &str| {
        members
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, d)| d.clone())
            .unwrap_or_else(|| panic!("no member {name}"))
    };
    let manifest: Value = serde_json::from_slice(&data("structlog-archive.json")).unwrap();
    let stored: Vec<Value> =
        serde_json::from_slice(&data("listings/structlog-listings.json")).unwrap();
    let target_dir = manifest["target_dir"].as_str().unwrap();
    let mut listed = BTreeSet::new();
    for l in &stored {
        let b = (manifest["binaries"].as_array().unwrap().iter())
            .find(|b| b["id"] == l["binary"])
            .unwrap();
        assert_eq!(b["harness"], "libtest", "{l}");
        listed.insert(b["id"].as_str().unwrap().to_string());
        let rel = b["exe"].as_str().unwrap().strip_prefix(target_dir).unwrap();
        let exe = kept.join("target").join(rel.trim_start_matches('/'));
        let args: Vec<String> = serde_json::from_value(l["args"].clone()).unwrap();
        let now = Command::new(&exe)
            .args(&args)
            .env("RUSTC_BOOTSTRAP", "1")
            .current_dir(&checkout)
            .output()
            .unwrap();
        assert!(now.status.success(), "{}", text(&now));
        assert_eq!(
            String::from_utf8_lossy(&now.stdout),
            String::from_utf8_lossy(&data(l["member"].as_str().unwrap())),
            "{l}"
        );
        // The run's listing cache knows the executable where it is now.
        let cached = std::fs::read_dir(kept.join("target/structlog/listings"))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .any(|bytes| String::from_utf8_lossy(&bytes).contains(&*exe.to_string_lossy()));
        assert!(cached, "{}", exe.display());
    }
    let libtest: BTreeSet<String> = (manifest["binaries"].as_array().unwrap().iter())
        .filter(|b| b["harness"] == "libtest")
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!libtest.is_empty());
    assert_eq!(listed, libtest);
}

/// The archive's members, decompressed: (name, header, data).
fn members(archive: &Path) -> Vec<(String, tar::Header, Vec<u8>)> {
    let bytes = zstd::decode_all(std::fs::File::open(archive).unwrap()).unwrap();
    let mut tar = tar::Archive::new(&bytes[..]);
    tar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (name, e.header().clone(), data)
        })
        .collect()
}

fn repack(members: &[(String, tar::Header, Vec<u8>)], to: &Path) {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, header, data) in members {
        let mut h = header.clone();
        builder.append_data(&mut h, name, &data[..]).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    std::fs::write(to, zstd::encode_all(&tar[..], 3).unwrap()).unwrap();
}

#[test]
fn damaged_truncated_or_foreign_archives_are_refused_leaving_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.tar.zst");
    make_archive("sample", &good);
    let bytes = std::fs::read(&good).unwrap();
    let all = members(&good);
    let exe = all
        .iter()
        .position(|(n, _, _)| n.starts_with("target/debug/deps/"))
        .expect("a test executable");

    let mut cases: Vec<(&str, PathBuf, &str)> = Vec::new();
    let truncated = dir.path().join("truncated.tar.zst");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    cases.push((
        "truncated",
        truncated,
        "not a whole cargo-structlog archive",
    ));
    let changed = dir.path().join("changed.tar.zst");
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x01;
    std::fs::write(&changed, &flipped).unwrap();
    cases.push((
        "a changed byte",
        changed,
        "not a whole cargo-structlog archive",
    ));
    let missing = dir.path().join("missing.tar.zst");
    let mut fewer = all.clone();
    let gone = fewer.remove(exe).0;
    repack(&fewer, &missing);
    let gone_message = format!("member {gone} is missing");
    cases.push(("a missing member", missing, &gone_message));
    let altered = dir.path().join("altered.tar.zst");
    let mut other = all.clone();
    let last = other[exe].2.len() - 1;
    other[exe].2[last] ^= 0x01;
    repack(&other, &altered);
    let altered_message = format!("member {} differs", all[exe].0);
    cases.push(("an altered member", altered, &altered_message));
    let foreign = dir.path().join("foreign.tar.zst");
    make_archive("flaky", &foreign);
    cases.push(("another workspace's", foreign, "made for another workspace"));
    let not_ours = dir.path().join("not-ours.tar.zst");
    std::fs::write(&not_ours, b"plain text, not an archive\n").unwrap();
    cases.push((
        "not an archive",
        not_ours,
        "not a whole cargo-structlog archive",
    ));

    let checkout = dir.path().join("checkout");
    copy_tree(&root().join("fixtures/sample"), &checkout);
    for (what, file, says) in &cases {
        for keep in [false, true] {
            // Extraction goes to --extract-to's parent, or to TMPDIR: both
            // must be left as they were.
            let tmp = dir.path().join(format!("tmp-{what}-{keep}"));
            let parent = dir.path().join(format!("out-{what}-{keep}"));
            std::fs::create_dir_all(&tmp).unwrap();
            std::fs::create_dir_all(&parent).unwrap();
            let raw = parent.join("run.log");
            let mut cmd = structlog();
            cmd.env("TMPDIR", &tmp).current_dir(&checkout).args([
                "run",
                "--archive-file",
                file.to_str().unwrap(),
                "--workspace-remap",
                checkout.to_str().unwrap(),
                "--log-raw",
                raw.to_str().unwrap(),
            ]);
            if keep {
                cmd.args(["--extract-to", parent.join("x").to_str().unwrap()]);
            }
            let out = run(&mut cmd);
            assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(says) && stderr.contains(file.to_str().unwrap()),
                "{what}: {stderr}"
            );
            for d in [&tmp, &parent] {
                let left: Vec<_> = std::fs::read_dir(d).unwrap().collect();
                assert!(
                    left.is_empty(),
                    "{what}: left behind in {}: {left:?}",
                    d.display()
                );
            }
        }
    }
}

#[test]
fn doctests_the_archive_could_not_hold_are_an_error_in_every_run() {
    let dir = tempfile::tempdir().unwrap();
    // A rustdoc that lists doctests but will not keep them compiled.
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let real = PathBuf::from(String::from_utf8(sysroot.stdout).unwrap().trim()).join("bin/rustdoc");
    let wrapper = dir.path().join("rustdoc");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \" $* \" in *\" --persist-doctests \"*) \
             echo 'error: persisting is switched off here' >&2; exit 1;; esac\nexec '{}' \"$@\"\n",
            real.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let archive = dir.path().join("tests.tar.zst");
    let out = run(structlog().env("RUSTDOC", &wrapper).args([
        "archive",
        "--manifest-path",
        fixture_manifest("sample").to_str().unwrap(),
        "--workspace",
        "--archive-file",
        archive.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the doctests of alpha are not in the archive")
            && stderr.contains("persisting is switched off here"),
        "{stderr}"
    );
    let checkout = dir.path().join("checkout");
    copy_tree(&root().join("fixtures/sample"), &checkout);
    let raw = dir.path().join("run.log");
    let out = run(bare(&checkout, &bare_path(dir.path())).args([
        "run",
        "--archive-file",
        archive.to_str().unwrap(),
        "--workspace-remap",
        checkout.to_str().unwrap(),
        "--log-raw",
        raw.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let entries = read_raw(&raw);
    let errors = logs(&entries, "ERROR");
    for package in ["alpha", "beta"] {
        assert!(
            errors.iter().any(|e| e
                .contains(&format!("the doctests of {package} are not in the archive"))
                && e.contains("persisting is switched off here")),
            "{package}: {errors:?}"
        );
    }
    // The other tests ran.
    assert!(ended(&raw).contains("alpha tests::passes"));
}

/// The host's triple, as rustc names it.
fn host() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .unwrap()
}

#[test]
fn an_archive_for_a_target_runs_through_the_runner_configured_where_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let triple = host();
    let archive = dir.path().join("tests.tar.zst");
    let out = run(structlog().args([
        "archive",
        "--manifest-path",
        fixture_manifest("sample").to_str().unwrap(),
        "--workspace",
        "--target",
        &triple,
        "--archive-file",
        archive.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let checkout = dir.path().join("checkout");
    copy_tree(&root().join("fixtures/sample"), &checkout);
    let path = bare_path(dir.path());
    let run_from = |extra: &[&str], raw: &Path| {
        let mut cmd = bare(&checkout, &path);
        cmd.env("HOME", dir.path()).args([
            "run",
            "--archive-file",
            archive.to_str().unwrap(),
            "--workspace-remap",
            checkout.to_str().unwrap(),
            "--log-raw",
            raw.to_str().unwrap(),
        ]);
        run(cmd.args(extra))
    };
    // Another target is refused.
    let out = run_from(
        &["--target", "wasm32-unknown-unknown"],
        &dir.path().join("no.log"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("built for {triple}")));

    // The runner comes from the cargo configuration of the machine that runs.
    let script = dir.path().join("run.sh");
    let seen = dir.path().join("seen.txt");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexec \"$@\"\n",
            seen.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(checkout.join(".cargo")).unwrap();
    std::fs::write(
        checkout.join(".cargo/config.toml"),
        format!("[target.{triple}]\nrunner = \"{}\"\n", script.display()),
    )
    .unwrap();
    let raw = dir.path().join("run.log");
    let out = run_from(&[], &raw);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let ran = std::fs::read_to_string(&seen).unwrap();
    let entries = read_raw(&raw);
    assert!(
        logs(&entries, "ERROR").is_empty(),
        "{:?}",
        logs(&entries, "ERROR")
    );
    // Every test executable and every doctest that runs went through it.
    let deps = format!("target/{triple}/debug/deps/");
    let binaries: std::collections::BTreeSet<&str> = ran
        .lines()
        .filter(|l| l.contains(&deps))
        .filter_map(|l| l.rsplit('/').next()?.split('-').next())
        .collect();
    for b in ["alpha", "beta", "it_one", "it_two", "mimic", "plain"] {
        assert!(binaries.contains(b), "{b} not through the runner: {ran}");
    }
    let doctests = ran.lines().filter(|l| l.ends_with("/rust_out")).count();
    let run_docs = results(&entries)
        .iter()
        .filter(|(id, (status, _))| id.contains("::doc ") && status != "SKIP")
        .count();
    assert!(doctests > 0 && doctests <= run_docs, "{ran}");
}

/// The doctests of an edition-2024 crate go into the archive merged, as
/// `cargo test` compiles them (one executable, each doctest run from it in
/// a process of its own); an older edition's, each on its own. Either way
/// every result is `cargo test`'s: passing, failing, `should_panic`,
/// `no_run`.
#[test]
fn doctests_are_archived_as_cargo_test_compiles_them_with_its_results() {
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("checkout");
    copy_tree(&root().join("fixtures/runner"), &checkout);
    let archive = dir.path().join("tests.tar.zst");
    let out = run(structlog().args([
        "archive",
        "--manifest-path",
        checkout.join("Cargo.toml").to_str().unwrap(),
        "--doc",
        "--archive-file",
        archive.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let names: Vec<String> = members(&archive).into_iter().map(|m| m.0).collect();
    let merged = |package: &str| {
        names
            .iter()
            .filter(|n| n.starts_with(&format!("doctests/{package}/")))
            .filter(|n| n.contains("/merged_doctest_") && n.ends_with("/rust_out"))
            .count()
    };
    assert_eq!(merged("newer"), 1, "{names:#?}");
    assert_eq!(merged("older"), 0, "{names:#?}");

    // `cargo test --doc`'s own verdicts, from its text output.
    let cargo = Command::new("cargo")
        .args(["test", "--doc", "--no-fail-fast"])
        .current_dir(&checkout)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let mut expected = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&cargo.stdout).lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, verdict)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        let name = name
            .trim_end_matches(" - should panic")
            .trim_end_matches(" - compile");
        expected.insert(name.to_string(), verdict.to_string());
    }
    assert!(expected.len() >= 9, "{expected:?}");

    let raw = dir.path().join("run.log");
    let path = bare_path(dir.path());
    let out = run(bare(&checkout, &path).args([
        "run",
        "--archive-file",
        archive.to_str().unwrap(),
        "--log-raw",
        raw.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let entries = read_raw(&raw);
    assert!(
        logs(&entries, "ERROR").is_empty(),
        "{:?}",
        logs(&entries, "ERROR")
    );
    let got: std::collections::BTreeMap<String, String> = results(&entries)
        .into_iter()
        .map(|(id, (status, exp))| {
            let name = id.split_once("::doc ").unwrap().1.to_string();
            let verdict = match (status.as_str().unwrap(), exp.as_str()) {
                ("PASS", None) | ("FAIL", None) => "ok",
                ("SKIP", None) => "ignored",
                _ => "FAILED",
            };
            (name, verdict.to_string())
        })
        .collect();
    assert_eq!(got, expected);
    assert!(got.values().any(|v| v == "FAILED"));
    mozlog_check(&raw);
}
