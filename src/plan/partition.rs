//! `--partition count:K/N` and `--partition hash:K/N`: deterministic shards
//! of a run's tests, for CI matrices that split a suite across machines.
//!
//! - `count:K/N` deals the discovered tests out in turn, in the run's order
//!   (binaries in cargo's order, tests in libtest's): test `i` (from 0) is in
//!   shard `i % N + 1`. The shards are as even as can be, but adding a test
//!   moves the ones after it.
//! - `hash:K/N` puts a test in shard `h % N + 1`, where `h` is the 64-bit
//!   FNV-1a hash of its id: a test stays in its shard whatever tests are added
//!   or removed elsewhere.
//!
//! Either way the N shards together are exactly the full run, with no test
//! twice; each shard's `suite_start` lists only its own tests.

use std::fmt;

/// One shard of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    Count { k: u64, n: u64 },
    Hash { k: u64, n: u64 },
}

impl Partition {
    /// Parses `count:K/N` or `hash:K/N` (1 ≤ K ≤ N).
    pub fn parse(s: &str) -> Result<Partition, String> {
        let bad = || format!("`{s}` is not count:K/N or hash:K/N with 1 <= K <= N");
        let (kind, shard) = s.split_once(':').ok_or_else(bad)?;
        let (k, n) = shard.split_once('/').ok_or_else(bad)?;
        let k: u64 = k.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        match kind {
            "count" => Ok(Partition::Count { k, n }),
            "hash" => Ok(Partition::Hash { k, n }),
            _ => Err(bad()),
        }
    }

    /// Whether the test with this id, at this place in the run's order
    /// (from 0), belongs to this shard.
    pub fn contains(&self, index: u64, id: &str) -> bool {
        match *self {
            Partition::Count { k, n } => index % n + 1 == k,
            Partition::Hash { k, n } => fnv1a(id.as_bytes()) % n + 1 == k,
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partition::Count { k, n } => write!(f, "count:{k}/{n}"),
            Partition::Hash { k, n } => write!(f, "hash:{k}/{n}"),
        }
    }
}

/// 64-bit FNV-1a: stable across runs, platforms and versions (unlike std's hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(
            Partition::parse("count:2/3"),
            Ok(Partition::Count { k: 2, n: 3 })
        );
        assert_eq!(
            Partition::parse("hash:1/1"),
            Ok(Partition::Hash { k: 1, n: 1 })
        );
        for bad in [
            "count:0/3",
            "count:4/3",
            "hash:1",
            "mod:1/2",
            "count:a/2",
            "count:1/0",
        ] {
            assert!(Partition::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Partition::parse("hash:2/5").unwrap().to_string(),
            "hash:2/5"
        );
    }

    #[test]
    fn shards_cover_every_test_once() {
        let ids: Vec<String> = (0..1000).map(|i| format!("pkg::it test_{i}")).collect();
        for make in [
            |k, n| Partition::Count { k, n },
            |k, n| Partition::Hash { k, n },
        ] {
            let n = 4;
            let mut counts = vec![0; ids.len()];
            let mut sizes = Vec::new();
            for k in 1..=n {
                let p = make(k, n);
                let mut size = 0;
                for (i, id) in ids.iter().enumerate() {
                    if p.contains(i as u64, id) {
                        counts[i] += 1;
                        size += 1;
                    }
                }
                sizes.push(size);
            }
            assert!(counts.iter().all(|c| *c == 1));
            assert!(sizes.iter().all(|s| (150..=350).contains(s)), "{sizes:?}");
        }
    }

    #[test]
    fn hash_shards_do_not_move_when_tests_are_added() {
        let p = |k| Partition::Hash { k, n: 3 };
        let shard_of = |id: &str| (1..=3).find(|k| p(*k).contains(0, id)).unwrap();
        let before = shard_of("pkg tests::stays");
        // Its place in the run changes, its shard does not.
        assert!((1..=3).all(
            |k| p(k).contains(0, "pkg tests::stays") == p(k).contains(999, "pkg tests::stays")
        ));
        assert_eq!(shard_of("pkg tests::stays"), before);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
