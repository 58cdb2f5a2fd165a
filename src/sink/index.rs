//! Tests and names as sinks keep them: ids indexed by hash without a second
//! copy, a suite's listing walked in place, and strings referred to by a
//! small index.

use crate::model::Tests;
use std::cell::Cell;
use std::collections::{hash_map, HashMap};
use std::hash::BuildHasherDefault;

/// Strings a sink's records refer to by a 32-bit index (a run's groups, its
/// test files): each kept once, however many records name it. No index is
/// `u32::MAX`, which a record may use for "none".
#[derive(Debug, Default)]
pub(crate) struct Names {
    names: Vec<Box<str>>,
    index: foldhash::HashMap<Box<str>, u32>,
}

impl Names {
    /// The index of `name`, which is added if it is new.
    pub(crate) fn index(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len())
            .ok()
            .filter(|&i| i != u32::MAX)
            .expect("fewer than 2^32 - 1 names");
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        i
    }

    /// Every name, at its index.
    pub(crate) fn all(&self) -> &[Box<str>] {
        &self.names
    }
}

/// A test id's 64-bit hash, for the tables sinks key by hash: foldhash with
/// a fixed seed (an id always maps to the same hash), whose bits are evenly
/// spread even for ids that differ in a character or two, as such a table
/// needs (it takes the hash as it is), at a fraction of SipHash's cost.
pub(crate) fn hash_id(id: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x05ee_d1d5).hash_one(id)
}

/// The hasher of tables keyed by [`hash_id`]s, which are hashes already.
#[derive(Debug, Default)]
pub(crate) struct PreHashed(u64);

impl std::hash::Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; any other input still hashes.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A test id without its group's name and the space after it, if it
/// starts with them: what a record keeps of the id of a test of a known
/// group (the runner's ids are `"<binary-id> <libtest name>"`).
pub(crate) fn strip_group<'a>(test: &'a str, group: &str) -> Option<&'a str> {
    test.strip_prefix(group)?.strip_prefix(' ')
}

/// Whether `id` is `group`, a space and `rest`: the id of which
/// [`strip_group`] kept `rest`.
pub(crate) fn is_in_group(id: &str, group: &str, rest: &str) -> bool {
    id.len() == group.len() + 1 + rest.len()
        && id.starts_with(group)
        && id.as_bytes()[group.len()] == b' '
        && id.ends_with(rest)
}

/// Test ids to the latest record of each, without a second copy of the ids
/// (the records have them): keyed by a 64-bit hash of the id, each hit
/// checked against the record found (`is(record, id)`: whether it is the
/// record of a test `id`). The rare id whose hash is already another id's
/// is kept whole, in a map of its own.
pub(crate) struct IdIndex<V> {
    by_hash: HashMap<u64, V, BuildHasherDefault<PreHashed>>,
    collided: HashMap<Box<str>, V>,
    /// The latest ids found, with their hashes: a test's start, output and
    /// result come close together in a log, and in a large run's table each
    /// lookup is a cache miss. Emptied by every insert, so that what it
    /// holds is what the table would say.
    recent: Cell<[Option<(u64, V)>; RECENT]>,
    /// Whether an id has been given a second value (a test that ran twice,
    /// or a record moved): from then on, [`IdIndex::get`] guesses no more.
    reindexed: bool,
}

/// The ids [`IdIndex`] keeps at hand: tests that run at once (a binary's
/// test threads) interleave their entries.
const RECENT: usize = 4;

impl<V> std::fmt::Debug for IdIndex<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdIndex")
            .field("ids", &(self.by_hash.len() + self.collided.len()))
            .finish_non_exhaustive()
    }
}

impl<V> Default for IdIndex<V> {
    fn default() -> Self {
        IdIndex {
            by_hash: HashMap::default(),
            collided: HashMap::new(),
            recent: Cell::new([const { None }; RECENT]),
            reindexed: false,
        }
    }
}

impl<V: Copy> IdIndex<V> {
    /// Room for `n` more ids.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.by_hash.reserve(n);
    }

    /// The record of `id`, trying first the value `next` proposes
    /// after each found last (the next test in a run that follows its
    /// listing: memory close by, where the table's is far). Guesses are
    /// tried only while no id has been indexed twice: then the one record
    /// `is` accepts for an id is the one the table holds, given that every
    /// record is indexed when it is made (as xunit's cases and html's
    /// records are).
    pub(crate) fn get(
        &self,
        id: &str,
        is: impl Fn(V, &str) -> bool,
        next: impl Fn(V) -> Option<V>,
    ) -> Option<V> {
        let hash = hash_id(id);
        let mut recent = self.recent.get();
        let near = recent
            .iter()
            .flatten()
            .find(|&&(h, v)| h == hash && is(v, id));
        if let Some(&(_, v)) = near {
            return Some(v);
        }
        let guessed = if self.reindexed {
            None
        } else {
            recent
                .iter()
                .flatten()
                .filter_map(|&(_, v)| next(v))
                .find(|&v| is(v, id))
        };
        let v = match guessed {
            Some(v) => v,
            None => {
                let &v = self.by_hash.get(&hash)?;
                if is(v, id) {
                    v
                } else {
                    *self.collided.get(id)?
                }
            }
        };
        recent.rotate_right(1);
        recent[0] = Some((hash, v));
        self.recent.set(recent);
        Some(v)
    }

    /// Makes `v` the record of `id` (records keep their ids, so an indexed
    /// record is still one of the id it was indexed by).
    pub(crate) fn insert(&mut self, id: &str, v: V, is: impl Fn(V, &str) -> bool) {
        self.recent.set([const { None }; RECENT]);
        match self.by_hash.entry(hash_id(id)) {
            hash_map::Entry::Vacant(slot) => {
                slot.insert(v);
            }
            hash_map::Entry::Occupied(mut slot) => {
                if is(*slot.get(), id) {
                    slot.insert(v);
                    self.reindexed = true;
                } else if self.collided.insert(id.into(), v).is_some() {
                    self.reindexed = true;
                }
            }
        }
    }
}

/// A suite's listing (`suite_start.tests`) in the order of
/// [`Tests::groups`]: groups by name, a group named twice counted once, with
/// its last list. It is walked where it is, in the order it was written
/// (mozlog producers write their groups in any order), rather than taken
/// apart into a sorted copy of its hundreds of thousands of ids: a sink
/// gives each id the place its group's rank and its index in the group
/// decide.
pub(crate) struct Listing {
    /// The groups, in order, each with the number of ids it lists.
    pub(crate) groups: Vec<(String, usize)>,
    /// Each group as written, in order: its rank in `groups`, or `None` for
    /// a group named again later.
    written: Vec<Option<usize>>,
}

impl Listing {
    pub(crate) fn of(tests: &Tests) -> Listing {
        let mut written: Vec<(String, usize)> = Vec::new();
        tests.each(&mut |group, id| match id {
            None => written.push((group.to_string(), 0)),
            Some(_) => {
                if let Some(g) = written.last_mut() {
                    g.1 += 1;
                }
            }
        });
        let mut order: Vec<usize> = (0..written.len()).collect();
        order.sort_by(|&a, &b| written[a].0.cmp(&written[b].0).then(a.cmp(&b)));
        let mut ranks = vec![None; written.len()];
        let mut groups = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            // The last of the groups of a name is the one that counts.
            if order
                .get(k + 1)
                .is_none_or(|&n| written[n].0 != written[i].0)
            {
                ranks[i] = Some(groups.len());
                groups.push(std::mem::take(&mut written[i]));
            }
        }
        Listing {
            groups,
            written: ranks,
        }
    }

    /// Calls `f(rank, index, id)` for each id of the groups that count, in
    /// the order they were written: `rank` is the group's in
    /// [`Listing::groups`], `index` the id's in its group.
    pub(crate) fn each(&self, tests: &Tests, f: &mut dyn FnMut(usize, usize, &str)) {
        let mut written = self.written.iter();
        let mut rank = None;
        let mut index = 0;
        tests.each(&mut |_, id| match id {
            None => {
                rank = written.next().copied().flatten();
                index = 0;
            }
            Some(id) => {
                if let Some(r) = rank {
                    f(r, index, id);
                }
                index += 1;
            }
        });
    }
}
