//! End to end: `--partition` shards of the fixture workspace, merged back
//! with `merge`, give the results of one full run.

use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sample() -> String {
    fixture_manifest("sample").to_str().unwrap().to_string()
}

/// Runs the fixture workspace with extra arguments, writing a raw log.
fn run_raw(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let raw = dir.join(name);
    let out = run(structlog()
        .args(["--manifest-path", &sample(), "--workspace"])
        .args(extra)
        .args(["--log-raw", raw.to_str().unwrap()]));
    assert_eq!(
        out.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    raw
}

#[test]
fn shards_merge_into_the_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let full = read_raw(&run_raw(dir.path(), "full.log", &[]));
    let want = results(&full);
    for (kind, n) in [("count", 3), ("hash", 2)] {
        let mut shards = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for k in 1..=n {
            let spec = format!("{kind}:{k}/{n}");
            let raw = run_raw(
                dir.path(),
                &format!("{kind}-{k}.log"),
                &["--partition", &spec],
            );
            let entries = read_raw(&raw);
            assert_eq!(entries[0]["run_info"]["partition"], spec.as_str());
            // A shard lists only its own tests, and runs all of them.
            let ids = listed(&entries[0]);
            let ran: Vec<String> = results(&entries).into_keys().collect();
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(sorted, ran, "{spec}");
            for id in ids {
                *seen.entry(id).or_default() += 1;
            }
            mozlog_check(&raw);
            shards.push(raw);
        }
        assert!(
            seen.values().all(|n| *n == 1),
            "{kind}: a test in two shards: {seen:?}"
        );
        assert_eq!(seen.len(), want.len(), "{kind}: every test in one shard");

        let merged = dir.path().join(format!("{kind}-merged.log"));
        let out = run(structlog()
            .arg("merge")
            .args(&shards)
            .args(["--log-raw", merged.to_str().unwrap()]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let entries = read_raw(&merged);
        assert_eq!(
            results(&entries),
            want,
            "{kind}: merged shards give the full run's results"
        );
        assert_eq!(listed(&entries[0]).len(), want.len());
        mozlog_check(&merged);
    }
}

#[test]
fn a_bad_partition_is_a_usage_error() {
    for bad in ["count:0/2", "count:3/2", "mod:1/2", "hash:1"] {
        let out = run(structlog().args(["--manifest-path", &sample(), "--partition", bad]));
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("count:K/N or hash:K/N"));
    }
}
