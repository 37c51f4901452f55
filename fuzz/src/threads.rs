//! `threads_asan`: 2–4 real threads hammering one `ConcurrentHashMap` (growth, removal,
//! reclamation), meant for the default AddressSanitizer build of `cargo fuzz run`.
//!
//! Each thread owns a key range (`owner << 8 | k`) that only it writes, so its results on those
//! keys are exact and checked against its own model: linearizability per key gives no other
//! outcome. All threads also read everyone's keys and write a shared range. Every value must be
//! well formed (a boxed payload that names its key and carries a checksum: a torn, misplaced or
//! freed entry fails the check, or ASan reports the read); on the shared range every version
//! read, returned or left at the end must be one some thread wrote to that key, and a shared key
//! that no thread removed must end with the version of some thread's last write to it.
//! References handed out by `insert`/`remove` are re-read when the thread's view is dropped.
//!
//! After the threads join, the **audit**: `check_invariants()`; every thread's model is exactly
//! what the map holds for its range (present keys with their versions, nothing more); iteration
//! yields every key once; `len()` agrees; no evacuation claim is in flight. Then a probe: this
//! thread inserts fresh keys until the map stays within the load factor (`check_grew`: a map
//! that does not grow when due fails), and removes them. Then the map is dropped, and
//! LeakSanitizer checks that every entry, table and retired object was freed.
//!
//! Not deterministic: the OS schedules the threads, so a crash may need several replays
//! (`cargo fuzz run threads_asan <artifact> -- -runs=100`).

use std::collections::{BTreeMap, BTreeSet, HashMap as StdHashMap};
use std::sync::Barrier;

use arbitrary::Arbitrary;
use hmap::concurrent::Pinned;
use hmap::sched::race::probe_growth;
use hmap::ConcurrentHashMap;

use crate::{FuzzHasher, HasherChoice};

/// Operations replayed per input at most, over all threads.
pub const MAX_THREAD_OPS: usize = 512;

/// The owner number of the shared key range.
const SHARED: u32 = 0xF;

/// Doublings are forced only up to this B (then same-size growths), to bound memory.
const MAX_FORCED_LOG2: u8 = 8;

/// A value that names its key: any mix-up or torn read fails [`Payload::verify`].
#[derive(Debug)]
pub struct Payload {
    key: u32,
    version: u32,
    check: u64,
}

impl Payload {
    fn new(key: u32, version: u32) -> Box<Payload> {
        Box::new(Payload {
            key,
            version,
            check: Self::checksum(key, version),
        })
    }

    fn checksum(key: u32, version: u32) -> u64 {
        (u64::from(key) << 32 | u64::from(version)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5A5A
    }

    /// Asserts that this is a well-formed payload of `key`; returns its version.
    fn verify(&self, key: u32) -> u32 {
        assert_eq!(self.key, key, "a value under the wrong key");
        assert_eq!(
            self.check,
            Self::checksum(self.key, self.version),
            "a torn value"
        );
        self.version
    }
}

type Value = Box<Payload>;
type Map = ConcurrentHashMap<u32, Value, FuzzHasher>;

/// One step of one thread. `k` are keys in the thread's own range unless named otherwise.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum ThreadOp {
    /// `insert(own k, version)`.
    Insert(u8, u8),
    /// `insert(own start + i, version)` for `i < len`.
    InsertRange {
        /// First key.
        start: u8,
        /// Number of keys.
        len: u8,
        /// The version written.
        version: u8,
    },
    /// `remove(own k)`.
    Remove(u8),
    /// `remove(own start + i)` for `i < len`.
    RemoveRange {
        /// First key.
        start: u8,
        /// Number of keys.
        len: u8,
    },
    /// `get(own k)`.
    Get(u8),
    /// `update(own k, version + by)`.
    Update(u8, u8),
    /// `get_or_insert(own k, version)`.
    GetOrInsert(u8, u8),
    /// `retain`, removing own keys whose `(k + version) % (modulus + 1) == 0` and keeping every
    /// other thread's.
    RetainOwn {
        /// The predicate's modulus, minus one.
        modulus: u8,
    },
    /// `iter()`: own keys exactly once with their versions, every value well formed.
    Iter,
    /// `get` of any key: the owner is `raw >> 8` modulo the threads, or the shared range.
    ReadAny(u16),
    /// `insert` into the shared range.
    WriteShared(u8, u8),
    /// `remove` from the shared range.
    RemoveShared(u8),
    /// `force_growth(same_size)` (doublings only up to a bound).
    ForceGrowth {
        /// Same-size growth instead of doubling.
        same_size: bool,
    },
    /// Drops the view (after re-reading the references it handed out) and pins again.
    Repin,
    /// `flush()` this thread's garbage.
    Flush,
    /// `std::thread::yield_now()`.
    Yield,
}

/// The whole input of `threads_asan`.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct ThreadsInput {
    /// 2 + `threads % 3` threads.
    pub threads: u8,
    /// `with_capacity` hint, reduced modulo 16. The high four bits, from 12 on, ask the growth
    /// probe (`check_grew`) to insert 480–1,920 keys before it starts counting, so that it also
    /// reaches B ≥ 8, where the trigger reads the approximate count (with every thread's stripe
    /// folded). Only a quarter of the inputs do, because under ASan those inserts cost several
    /// times the rest of the run.
    pub capacity: u8,
    /// The map's hasher.
    pub hasher: HasherChoice,
    /// `(thread, op)`: the op goes to thread `thread % threads`, in order.
    pub ops: Vec<(u8, ThreadOp)>,
}

/// Runs `input`'s threads, then the audit. Panics (aborts, under libFuzzer) on any failure.
pub fn run(input: &ThreadsInput) {
    let threads = 2 + usize::from(input.threads % 3);
    let mut per_thread: Vec<Vec<ThreadOp>> = vec![Vec::new(); threads];
    for (thread, op) in input.ops.iter().take(MAX_THREAD_OPS) {
        per_thread[usize::from(*thread) % threads].push(op.clone());
    }
    let map: Map = ConcurrentHashMap::with_capacity_and_hasher(
        usize::from(input.capacity % 16),
        input.hasher.build(),
    );
    let barrier = Barrier::new(threads);
    let results: Vec<(StdHashMap<u32, u32>, SharedLog)> = std::thread::scope(|s| {
        let handles: Vec<_> = per_thread
            .iter()
            .enumerate()
            .map(|(me, ops)| {
                let (map, barrier) = (&map, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    Worker {
                        map,
                        me: me as u32,
                        threads: threads as u32,
                        model: StdHashMap::new(),
                        shared: SharedLog::default(),
                    }
                    .run(ops)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker panicked"))
            .collect()
    });
    let (models, logs): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    audit(&map, &models);
    audit_shared(&map, &logs);
    check_grew(
        &map,
        usize::from((input.capacity >> 4).saturating_sub(11)) * 480,
    );
    drop(map);
}

/// The end-of-run audit: the map holds exactly each thread's model in its range.
fn audit(map: &Map, models: &[StdHashMap<u32, u32>]) {
    map.check_invariants();
    let view = map.pin();
    let mut seen: StdHashMap<u32, u32> = StdHashMap::new();
    for (key, value) in view.iter() {
        let version = value.verify(*key);
        assert!(
            seen.insert(*key, version).is_none(),
            "audit: key {key:#x} yielded twice"
        );
        let owner = key >> 8;
        assert!(
            owner == SHARED || (owner as usize) < models.len(),
            "audit: key {key:#x} was never written"
        );
    }
    assert_eq!(view.len(), seen.len(), "audit: len() against iteration");
    for (owner, model) in models.iter().enumerate() {
        for (key, version) in model {
            assert_eq!(
                seen.get(key),
                Some(version),
                "audit: thread {owner}'s key {key:#x}"
            );
            assert_eq!(view.get(key).map(|v| v.verify(*key)), Some(*version));
        }
        let held = seen
            .keys()
            .filter(|key| (*key >> 8) as usize == owner)
            .count();
        assert_eq!(
            held,
            model.len(),
            "audit: thread {owner}'s range holds extra keys"
        );
    }
    let stats = map.stats();
    assert_eq!(stats.claims_in_flight, 0, "audit: a claim left in flight");
    assert_eq!(stats.drop_panics, 0);
    assert_eq!(stats.len, seen.len());
}

/// Keys of the growth probe (`check_grew`): outside every thread's range and the shared one.
const PROBE: u32 = 0x1_0000;

/// After the run (every thread joined, so every count stripe is folded into the approximation):
/// the map grows when due, by `hmap::sched::race::probe_growth` (the `resize_race` harness's
/// probe; its documentation has the argument), which first inserts `first` keys. The threads' own
/// history cannot be bounded tightly: a thread that claimed the last evacuation chunk and was
/// descheduled keeps the growth open while the others insert without any trigger (a review in
/// session 32). A map that never grows (the planted `no_grow`) fails at once, and so does a
/// doubling that starts late by more than a batch.
fn check_grew(map: &Map, first: usize) {
    let key = |i: usize| PROBE + u32::try_from(i).expect("a probe key");
    let verdict = probe_growth(
        map,
        first,
        key,
        |key| Payload::new(*key, 0),
        |key, removed| assert_eq!(removed.map(|v| v.verify(*key)), Some(0)),
    );
    if let Err(failure) = verdict {
        panic!("audit: {failure}");
    }
}

/// What one thread did to and saw of the shared range.
#[derive(Default)]
struct SharedLog {
    /// Key → the versions this thread wrote to it, in order.
    written: BTreeMap<u32, Vec<u32>>,
    /// Keys this thread removed from (whether or not they were present).
    removed: BTreeSet<u32>,
    /// (key, version) of every shared value this thread read or was handed back.
    observed: Vec<(u32, u32)>,
}

/// The shared range after the run: no version appears that no thread wrote (every read during
/// the run and the final state); a key no thread ever removed is present, holding the last
/// version one of its writers wrote (per-thread program order: an overwritten version of a
/// thread cannot win, unless another thread wrote the same number last).
fn audit_shared(map: &Map, logs: &[SharedLog]) {
    let mut written: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    let mut last: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for log in logs {
        for (key, versions) in &log.written {
            written.entry(*key).or_default().extend(versions);
            if let Some(final_version) = versions.last() {
                last.entry(*key).or_default().insert(*final_version);
            }
        }
    }
    let removed: BTreeSet<u32> = logs.iter().flat_map(|log| &log.removed).copied().collect();
    let never_written = BTreeSet::new();
    for (key, version) in logs.iter().flat_map(|log| &log.observed) {
        assert!(
            written.get(key).unwrap_or(&never_written).contains(version),
            "shared key {key:#x} was seen with version {version}, which no thread wrote"
        );
    }
    let view = map.pin();
    for k in 0..=u8::MAX {
        let key = SHARED << 8 | u32::from(k);
        let now = view.get(&key).map(|value| value.verify(key));
        match now {
            Some(version) => assert!(
                written
                    .get(&key)
                    .unwrap_or(&never_written)
                    .contains(&version),
                "audit: shared key {key:#x} holds version {version}, which no thread wrote"
            ),
            None => assert!(
                !written.contains_key(&key) || removed.contains(&key),
                "audit: shared key {key:#x} was written, never removed, and is gone"
            ),
        }
        if let (Some(version), false) = (now, removed.contains(&key)) {
            assert!(
                last[&key].contains(&version),
                "audit: shared key {key:#x} ends at version {version}, not a last write of any \
                 thread ({:?})",
                last[&key]
            );
        }
    }
}

struct Worker<'m> {
    map: &'m Map,
    me: u32,
    threads: u32,
    /// This thread's keys: key → version.
    model: StdHashMap<u32, u32>,
    shared: SharedLog,
}

impl<'m> Worker<'m> {
    fn run(mut self, ops: &[ThreadOp]) -> (StdHashMap<u32, u32>, SharedLog) {
        for segment in ops.split(|op| *op == ThreadOp::Repin) {
            let view = self.map.pin();
            // (reference handed out, its key, its version): re-read before the view goes.
            let mut kept: Vec<(&Value, u32, u32)> = Vec::new();
            for op in segment {
                self.apply(&view, op, &mut kept);
            }
            for (value, key, version) in kept {
                assert_eq!(
                    value.verify(key),
                    version,
                    "a returned value changed while pinned"
                );
            }
        }
        (self.model, self.shared)
    }

    fn own(&self, k: u8) -> u32 {
        self.me << 8 | u32::from(k)
    }

    fn apply<'v>(
        &mut self,
        view: &'v Pinned<'m, u32, Value, FuzzHasher>,
        op: &ThreadOp,
        kept: &mut Vec<(&'v Value, u32, u32)>,
    ) {
        // An own-key result: exact against the model.
        let mut exact = |key: u32, got: Option<&'v Value>, want: Option<u32>| {
            let version = got.map(|v| v.verify(key));
            assert_eq!(version, want, "own key {key:#x}");
            if let (Some(got), Some(version)) = (got, version) {
                kept.push((got, key, version));
            }
        };
        match *op {
            ThreadOp::Insert(k, v) => {
                let key = self.own(k);
                exact(
                    key,
                    view.insert(key, Payload::new(key, v.into())),
                    self.model.insert(key, v.into()),
                );
            }
            ThreadOp::InsertRange {
                start,
                len,
                version,
            } => {
                for i in 0..len {
                    let key = self.own(start.wrapping_add(i));
                    let want = self.model.insert(key, version.into());
                    exact(
                        key,
                        view.insert(key, Payload::new(key, version.into())),
                        want,
                    );
                }
            }
            ThreadOp::Remove(k) => {
                let key = self.own(k);
                exact(key, view.remove(&key), self.model.remove(&key));
            }
            ThreadOp::RemoveRange { start, len } => {
                for i in 0..len {
                    let key = self.own(start.wrapping_add(i));
                    exact(key, view.remove(&key), self.model.remove(&key));
                }
            }
            ThreadOp::Get(k) => {
                let key = self.own(k);
                exact(key, view.get(&key), self.model.get(&key).copied());
            }
            ThreadOp::Update(k, by) => {
                let key = self.own(k);
                let got = view.update(&key, |old| {
                    Payload::new(key, old.verify(key).wrapping_add(by.into()))
                });
                let want = self.model.get_mut(&key).map(|v| {
                    *v = v.wrapping_add(by.into());
                    *v
                });
                exact(key, got, want);
            }
            ThreadOp::GetOrInsert(k, v) => {
                let key = self.own(k);
                let got = view.get_or_insert(key, Payload::new(key, v.into()));
                let want = *self.model.entry(key).or_insert(v.into());
                exact(key, Some(got), Some(want));
            }
            ThreadOp::RetainOwn { modulus } => {
                let me = self.me;
                let keep = |key: u32, version: u32| {
                    !key.wrapping_add(version)
                        .is_multiple_of(u32::from(modulus) + 1)
                };
                let observed = &mut self.shared.observed;
                view.retain(|key, value| {
                    let version = value.verify(*key);
                    if key >> 8 == SHARED {
                        observed.push((*key, version));
                    }
                    key >> 8 != me || keep(*key, version)
                });
                self.model.retain(|key, version| keep(*key, *version));
            }
            ThreadOp::Iter => {
                let mut own = StdHashMap::new();
                for (key, value) in view.iter() {
                    let version = value.verify(*key);
                    if key >> 8 == self.me {
                        assert!(
                            own.insert(*key, version).is_none(),
                            "own key {key:#x} twice"
                        );
                    } else if key >> 8 == SHARED {
                        self.shared.observed.push((*key, version));
                    }
                }
                assert_eq!(own, self.model, "iteration of own keys");
            }
            ThreadOp::ReadAny(raw) => {
                let owner = u32::from(raw >> 8) % (self.threads + 1);
                let owner = if owner == self.threads { SHARED } else { owner };
                let key = owner << 8 | u32::from(raw as u8);
                let got = view.get(&key);
                if owner == self.me {
                    exact(key, got, self.model.get(&key).copied());
                } else if let Some(value) = got {
                    let version = value.verify(key);
                    if owner == SHARED {
                        self.shared.observed.push((key, version));
                    }
                }
            }
            ThreadOp::WriteShared(k, v) => {
                let key = SHARED << 8 | u32::from(k);
                self.shared.written.entry(key).or_default().push(v.into());
                if let Some(old) = view.insert(key, Payload::new(key, v.into())) {
                    let version = old.verify(key);
                    self.shared.observed.push((key, version));
                    kept.push((old, key, version));
                }
            }
            ThreadOp::RemoveShared(k) => {
                let key = SHARED << 8 | u32::from(k);
                self.shared.removed.insert(key);
                if let Some(old) = view.remove(&key) {
                    let version = old.verify(key);
                    self.shared.observed.push((key, version));
                    kept.push((old, key, version));
                }
            }
            ThreadOp::ForceGrowth { same_size } => {
                let same_size = same_size || self.map.log2_buckets() >= MAX_FORCED_LOG2;
                self.map.force_growth(same_size);
            }
            ThreadOp::Repin => {}
            ThreadOp::Flush => view.flush(),
            ThreadOp::Yield => std::thread::yield_now(),
        }
    }
}
