//! `SyncMap`, the port of Go's `sync.Map`: Go's own tests (`src/sync/map_test.go`, go1.22, plus
//! Go 1.23's `Clear`), ported by name, and tests of what the port adds.
//!
//! * `map_matches_rwmutex` (`TestMapMatchesRWMutex`): random call sequences agree with a plain
//!   map behind an `RwLock`, call by call, under the default and a constant hasher.
//! * `entry_walks_every_state_and_stats_follow_promotion`: nil, expunged, unexpunge, promotion
//!   after `len(dirty)` misses, `range` promoting at once, `clear` (white-box, via `stats()`).
//! * `concurrent_load_or_store_has_one_winner`, `concurrent_range` (`TestConcurrentRange`),
//!   `disjoint_concurrent_writers_exact_final_state`, `concurrent_owners_match_their_models`
//!   (each thread's calls on its own keys agree with a private model while all threads share
//!   the snapshot).
//! * `issue_40999_deleted_keys_are_not_kept_alive` (`TestIssue40999`), `range_nested_call`
//!   (`TestMapRangeNestedCall`), `compare_and_swap_non_existing_key`
//!   (`TestCompareAndSwap_NonExistingKey`), `range_early_exit`.
//! * Drops (no value or key outlives the map; no destructor runs under the mutex), unwinding (a panicking `Clone` while the dirty
//!   map is built), `Send + Sync`, and the std traits.
//!
//! The tests that change the map call `check_invariants()` (I1–I6 of `SyncMap`) at their quiet
//! points (`range_early_exit` and `shared_map_and_std_traits` do not).

// The sync facade (clippy.toml) is for the library; the tests use std's atomics directly.
#![allow(clippy::disallowed_types)]

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap as StdHashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Barrier, RwLock};
use std::thread;

use hmap::wrappers::{SharedMap, SyncMap, SyncMapStats};

mod common;
use common::finishes_in_time;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// SplitMix64: a small deterministic generator, so the tests need no `rand`.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Every key hashes alike, so every lookup walks one overflow chain and compares keys.
#[derive(Clone, Copy, Debug, Default)]
struct ConstantHasher;

impl BuildHasher for ConstantHasher {
    type Hasher = ConstantState;

    fn build_hasher(&self) -> ConstantState {
        ConstantState
    }
}

struct ConstantState;

impl Hasher for ConstantState {
    fn finish(&self) -> u64 {
        0xDEAD_BEEF_1234_5679
    }

    fn write(&mut self, _bytes: &[u8]) {}
}

/// The map's live entries, collected with `range`.
fn contents<K, V, S>(map: &SyncMap<K, V, S>) -> BTreeMap<K, V>
where
    K: Eq + Hash + Clone + Ord,
    V: Clone,
    S: BuildHasher + Clone,
{
    let mut seen = BTreeMap::new();
    map.range(|key, value| {
        assert!(
            seen.insert(key.clone(), value.clone()).is_none(),
            "range visited a key twice"
        );
        true
    });
    seen
}

/// The parts of `stats()` the state walk checks: (read_len, read_deleted, read_expunged,
/// dirty_len, amended, misses, promotions).
type Shape = (usize, usize, usize, Option<usize>, bool, usize, u64);

fn shape(stats: SyncMapStats) -> Shape {
    (
        stats.read_len,
        stats.read_deleted,
        stats.read_expunged,
        stats.dirty_len,
        stats.amended,
        stats.misses,
        stats.promotions,
    )
}

// ---------------------------------------------------------------------------------------------
// Go: TestMapMatchesRWMutex
// ---------------------------------------------------------------------------------------------

/// Go's `RWMutexMap` (`map_reference_test.go`): a plain map behind a reader-writer lock.
#[derive(Default)]
struct RwLockMap(RwLock<StdHashMap<u8, u8>>);

impl RwLockMap {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, StdHashMap<u8, u8>> {
        self.0.read().expect("no test panics under the lock")
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, StdHashMap<u8, u8>> {
        self.0.write().expect("no test panics under the lock")
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Load(u8),
    Store(u8, u8),
    LoadOrStore(u8, u8),
    LoadAndDelete(u8),
    Delete(u8),
    Swap(u8, u8),
    CompareAndSwap(u8, u8, u8),
    CompareAndDelete(u8, u8),
    Clear,
    /// Range, stopping after this many entries (0 = visit all).
    Range(usize),
    Len,
}

/// What a call returned, in a form both maps can produce. Range results are order-free.
#[derive(Debug, PartialEq)]
enum Outcome {
    Value(Option<u8>),
    Pair(u8, bool),
    Flag(bool),
    Unit,
    /// How many entries were visited, and every pair visited agreed with the other map.
    Visited(usize),
    Len(usize),
}

/// Keys and values come from small domains, so keys cycle through every entry state
/// (promotion, expunge, unexpunge) and compare-and-swap often finds its old value.
fn random_op(rng: &mut Rng) -> Op {
    let key = rng.below(8) as u8;
    let value = rng.below(4) as u8;
    let other = rng.below(4) as u8;
    match rng.below(23) {
        0..=4 => Op::Load(key),
        5..=7 => Op::Store(key, value),
        8..=9 => Op::LoadOrStore(key, value),
        10..=11 => Op::LoadAndDelete(key),
        12..=13 => Op::Delete(key),
        14..=15 => Op::Swap(key, value),
        16..=17 => Op::CompareAndSwap(key, value, other),
        18..=19 => Op::CompareAndDelete(key, value),
        20 => Op::Clear,
        21 => Op::Range(rng.below(4) as usize),
        _ => Op::Len,
    }
}

fn apply_sync<S: BuildHasher + Clone>(
    map: &SyncMap<u8, u8, S>,
    reference: &StdHashMap<u8, u8>,
    op: Op,
) -> Outcome {
    match op {
        Op::Load(key) => Outcome::Value(map.load(&key)),
        Op::Store(key, value) => {
            map.store(key, value);
            Outcome::Unit
        }
        Op::LoadOrStore(key, value) => {
            let (actual, loaded) = map.load_or_store(key, value);
            Outcome::Pair(actual, loaded)
        }
        Op::LoadAndDelete(key) => Outcome::Value(map.load_and_delete(&key)),
        Op::Delete(key) => {
            map.delete(&key);
            Outcome::Unit
        }
        Op::Swap(key, value) => Outcome::Value(map.swap(key, value)),
        Op::CompareAndSwap(key, old, new) => Outcome::Flag(map.compare_and_swap(&key, &old, new)),
        Op::CompareAndDelete(key, old) => Outcome::Flag(map.compare_and_delete(&key, &old)),
        Op::Clear => {
            map.clear();
            Outcome::Unit
        }
        Op::Range(stop_after) => {
            // The order differs between the maps, so check each visited pair against the
            // reference (taken before the call; `range` does not write).
            let mut visited = 0;
            map.range(|key, value| {
                assert_eq!(
                    reference.get(key),
                    Some(value),
                    "range offered {key} => {value}"
                );
                visited += 1;
                visited != stop_after
            });
            Outcome::Visited(visited)
        }
        Op::Len => Outcome::Len(map.len()),
    }
}

fn apply_reference(map: &RwLockMap, op: Op) -> Outcome {
    match op {
        Op::Load(key) => Outcome::Value(map.read().get(&key).copied()),
        Op::Store(key, value) => {
            map.write().insert(key, value);
            Outcome::Unit
        }
        Op::LoadOrStore(key, value) => {
            let mut map = map.write();
            match map.get(&key) {
                Some(&actual) => Outcome::Pair(actual, true),
                None => {
                    map.insert(key, value);
                    Outcome::Pair(value, false)
                }
            }
        }
        Op::LoadAndDelete(key) => Outcome::Value(map.write().remove(&key)),
        Op::Delete(key) => {
            map.write().remove(&key);
            Outcome::Unit
        }
        Op::Swap(key, value) => Outcome::Value(map.write().insert(key, value)),
        Op::CompareAndSwap(key, old, new) => {
            let mut map = map.write();
            let swapped = map.get(&key) == Some(&old);
            if swapped {
                map.insert(key, new);
            }
            Outcome::Flag(swapped)
        }
        Op::CompareAndDelete(key, old) => {
            let mut map = map.write();
            let deleted = map.get(&key) == Some(&old);
            if deleted {
                map.remove(&key);
            }
            Outcome::Flag(deleted)
        }
        Op::Clear => {
            map.write().clear();
            Outcome::Unit
        }
        Op::Range(stop_after) => {
            let len = map.read().len();
            Outcome::Visited(if stop_after == 0 {
                len
            } else {
                len.min(stop_after)
            })
        }
        Op::Len => Outcome::Len(map.read().len()),
    }
}

fn matches_rwmutex_with<S: BuildHasher + Clone>(hasher: S, seed: u64) {
    let mut rng = Rng(seed);
    let map = SyncMap::with_hasher(hasher);
    let reference = RwLockMap::default();
    for step in 0..300 {
        let op = random_op(&mut rng);
        let before = reference.read().clone();
        let expected = apply_reference(&reference, op);
        let actual = apply_sync(&map, &before, op);
        assert_eq!(actual, expected, "seed {seed}, step {step}: {op:?}");
        map.check_invariants();
    }
    let expected: BTreeMap<u8, u8> = reference.read().iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(contents(&map), expected, "seed {seed}: final contents");
}

/// Go: `TestMapMatchesRWMutex` (testing/quick sequences of Load, Store, LoadOrStore,
/// LoadAndDelete, Delete, Swap, CompareAndSwap, CompareAndDelete against `RWMutexMap`). Here also
/// Clear, Range (with early exit) and Len, 40 seeds of 300 calls, under two hashers.
#[test]
fn map_matches_rwmutex() {
    for seed in 0..40 {
        matches_rwmutex_with(hmap::DefaultHashBuilder::default(), seed);
        matches_rwmutex_with(ConstantHasher, seed);
    }
}

// ---------------------------------------------------------------------------------------------
// The entry states and promotion, white-box
// ---------------------------------------------------------------------------------------------

/// Not a Go test: one key walks value → nil → value (lock-free) → nil → expunged →
/// unexpunged, while `stats()` shows the dirty map appear, misses add up to `len(dirty)` and
/// promote, `range` promote at once, and `clear` reset everything (Go 1.23).
#[test]
fn entry_walks_every_state_and_stats_follow_promotion() {
    let map: SyncMap<u32, u32> = SyncMap::new();
    let check = |expected: Shape, what: &str| {
        map.check_invariants();
        assert_eq!(shape(map.stats()), expected, "{what}");
    };
    // (read_len, read_deleted, read_expunged, dirty_len, amended, misses, promotions)
    check((0, 0, 0, None, false, 0, 0), "new");

    map.store(1, 10);
    check(
        (0, 0, 0, Some(1), true, 0, 0),
        "a new key goes to the dirty map",
    );
    assert_eq!(map.load(&1), Some(10));
    check(
        (1, 0, 0, None, false, 0, 1),
        "1 miss >= len(dirty) = 1 promotes",
    );

    map.store(2, 20);
    check(
        (1, 0, 0, Some(2), true, 0, 1),
        "dirtyLocked copies the snapshot",
    );
    assert_eq!(map.load(&1), Some(10));
    check((1, 0, 0, Some(2), true, 0, 1), "a snapshot hit is no miss");
    assert_eq!(map.load(&2), Some(20));
    check((1, 0, 0, Some(2), true, 1, 1), "1 miss < len(dirty) = 2");
    assert_eq!(map.swap(2, 21), Some(20));
    check((1, 0, 0, Some(2), true, 1, 1), "Swap counts no miss");
    assert_eq!(map.load(&99), None);
    check(
        (2, 0, 0, None, false, 0, 2),
        "a miss on an absent key counts too",
    );

    // Value → nil, and back without the lock (there is no dirty map).
    map.delete(&1);
    check((2, 1, 0, None, false, 0, 2), "delete leaves a nil entry");
    assert_eq!(map.load(&1), None);
    map.store(1, 11);
    check(
        (2, 0, 0, None, false, 0, 2),
        "a store revives a nil entry in place",
    );

    // Nil → expunged when a new key makes the dirty map.
    map.delete(&1);
    map.store(3, 30);
    check(
        (2, 0, 1, Some(2), true, 0, 2),
        "dirtyLocked expunges the nil entry",
    );
    assert_eq!(map.load(&1), None);
    check(
        (2, 0, 1, Some(2), true, 0, 2),
        "an expunged key is in the snapshot: no miss",
    );
    assert!(!map.compare_and_swap(&1, &11, 12));
    assert!(!map.compare_and_delete(&1, &11));
    assert_eq!(map.load_and_delete(&1), None);
    check(
        (2, 0, 1, Some(2), true, 0, 2),
        "expunged: nothing to compare or delete",
    );

    // Expunged → nil → value: the store takes the lock and puts the entry back.
    assert_eq!(map.load_or_store(1, 12), (12, false));
    check(
        (2, 0, 0, Some(3), true, 0, 2),
        "unexpunged into the dirty map",
    );
    assert_eq!(map.load(&1), Some(12));

    // A nil entry in both maps survives the promotion by `range`; the next dirty map drops it.
    map.delete(&1);
    check(
        (2, 1, 0, Some(3), true, 0, 2),
        "deleted, still in the dirty map",
    );
    assert_eq!(contents(&map), BTreeMap::from([(2, 21), (3, 30)]));
    check((3, 1, 0, None, false, 0, 3), "range promotes at once");
    map.store(4, 40);
    check((3, 0, 1, Some(3), true, 0, 3), "expunged again");
    assert_eq!(map.len(), 3);
    check(
        (3, 0, 0, None, false, 0, 4),
        "len promotes like range: key 1 is gone",
    );

    // A key only in the dirty map: load_and_delete removes it from there and counts a miss.
    map.store(5, 50);
    check((3, 0, 0, Some(4), true, 0, 4), "new key");
    assert_eq!(map.load_and_delete(&5), Some(50));
    check(
        (3, 0, 0, Some(3), true, 1, 4),
        "removed from dirty, one miss",
    );
    // compare_and_delete keeps the key in the dirty map (nil) for the comparison.
    map.store(6, 60);
    assert!(map.compare_and_delete(&6, &60));
    check(
        (3, 0, 0, Some(4), true, 2, 4),
        "kept in dirty, one more miss",
    );
    assert!(!map.compare_and_swap(&6, &60, 61));
    check(
        (3, 0, 0, Some(4), true, 3, 4),
        "compare_and_swap on a dirty key is a miss",
    );
    assert_eq!(map.load_or_store(6, 62), (62, false));
    check(
        (4, 0, 0, None, false, 0, 5),
        "so is load_or_store: 4 misses promote",
    );

    // Go 1.23's Clear: empty snapshot, the dirty map (if any) emptied and kept, no misses.
    map.store(7, 70);
    assert_eq!(map.load(&7), Some(70));
    check((4, 0, 0, Some(5), true, 1, 5), "before clear");
    map.clear();
    check((0, 0, 0, Some(0), false, 0, 5), "cleared");
    assert!(map.is_empty());
    map.store(8, 80);
    check(
        (0, 0, 0, Some(1), true, 0, 5),
        "the kept dirty map takes the new key",
    );
    assert_eq!(map.load(&8), Some(80));
    check((1, 0, 0, None, false, 0, 6), "promoted");
    map.clear();
    check((0, 0, 0, None, false, 0, 6), "cleared without a dirty map");
    map.clear();
    check(
        (0, 0, 0, None, false, 0, 6),
        "clearing an empty map does nothing",
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// Not a Go test: 8 threads race `load_or_store(key, thread)` on the same 256 keys, each in its
/// own order. For every key exactly one thread stores, and every thread gets the winner's value.
#[test]
fn concurrent_load_or_store_has_one_winner() {
    const THREADS: usize = 8;
    const KEYS: usize = 256;
    let map: SyncMap<usize, usize> = SyncMap::new();
    let barrier = Barrier::new(THREADS);
    let results: Vec<Vec<(usize, bool)>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (map, barrier) = (&map, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let mut results = vec![(0, false); KEYS];
                    for i in 0..KEYS {
                        // Threads start at different keys and half of them walk backwards.
                        let step = if thread % 2 == 0 { i } else { KEYS - 1 - i };
                        let key = (step + thread * 31) % KEYS;
                        results[key] = map.load_or_store(key, thread);
                    }
                    results
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    map.check_invariants();
    for key in 0..KEYS {
        let winners: Vec<usize> = (0..THREADS).filter(|&t| !results[t][key].1).collect();
        assert_eq!(winners.len(), 1, "key {key}: stored by {winners:?}");
        let winner = winners[0];
        for (thread, result) in results.iter().enumerate() {
            assert_eq!(result[key].0, winner, "key {key}, thread {thread}");
        }
        assert_eq!(map.load(&key), Some(winner));
    }
    assert_eq!(map.len(), KEYS);
}

/// Go: `TestConcurrentRange`. 1024 entries n → n; writer threads load every key and, once in
/// 1024 calls, store n·i·g. Meanwhile each of 64 range passes (Go: 1024, 16 in short mode) sees
/// every value as a multiple of its key, never a key twice, and all 1024 keys.
#[test]
fn concurrent_range() {
    const MAP_SIZE: u64 = 1 << 10;
    const PASSES: usize = 64;
    let map: SyncMap<u64, u64> = SyncMap::new();
    for n in 1..=MAP_SIZE {
        map.store(n, n);
    }
    let threads = thread::available_parallelism().map_or(4, |n| n.get().clamp(2, 8)) as u64;
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        for g in 1..=threads {
            let (map, done) = (&map, &done);
            s.spawn(move || {
                let mut rng = Rng(g);
                let mut i = 0u64;
                while !done.load(Ordering::Relaxed) {
                    for n in 1..MAP_SIZE {
                        if rng.below(MAP_SIZE) == 0 {
                            map.store(n, n * i * g);
                        } else {
                            map.load(&n);
                        }
                    }
                    i += 1;
                }
            });
        }
        for pass in 0..PASSES {
            let mut seen = HashSet::with_capacity(MAP_SIZE as usize);
            map.range(|&key, &value| {
                assert_eq!(value % key, 0, "pass {pass}: {key} => {value}");
                assert!(seen.insert(key), "pass {pass}: key {key} visited twice");
                true
            });
            assert_eq!(seen.len(), MAP_SIZE as usize, "pass {pass}");
        }
        done.store(true, Ordering::Relaxed);
    });
    map.check_invariants();
}

/// Not a Go test: 8 threads store 1000 disjoint keys each (every key new, so each store takes
/// the lock and misses promote along the way); the final map holds exactly the 8000 entries.
#[test]
fn disjoint_concurrent_writers_exact_final_state() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 1000;
    let map: SyncMap<u64, u64> = SyncMap::new();
    thread::scope(|s| {
        for t in 0..THREADS {
            let map = &map;
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let key = t * PER_THREAD + i;
                    map.store(key, key * 3);
                    // Read some keys back, so misses promote the dirty map mid-run.
                    if i % 16 == 0 {
                        assert_eq!(map.load(&key), Some(key * 3));
                    }
                }
            });
        }
    });
    map.check_invariants();
    assert_eq!(map.len(), (THREADS * PER_THREAD) as usize);
    for key in 0..THREADS * PER_THREAD {
        assert_eq!(map.load(&key), Some(key * 3), "key {key}");
    }
    assert!(map.stats().promotions > 0);
}

// ---------------------------------------------------------------------------------------------
// Go's regression tests
// ---------------------------------------------------------------------------------------------

/// A key whose only identity is its number; the `Arc` lets the test count the map's copies.
#[derive(Clone, Debug)]
struct ArcKey(Arc<u64>);

impl PartialEq for ArcKey {
    fn eq(&self, other: &Self) -> bool {
        *self.0 == *other.0
    }
}

impl Eq for ArcKey {}

impl Hash for ArcKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// Go: `TestIssue40999` (a deleted key must not be kept alive by the dirty map: Go waits for a
/// finalizer; here the key's `Arc` count must drop back to 1 right after `delete`). Sixteen
/// keys are stored first, so the dirty map is long and the deletes' misses do not promote it:
/// the key is freed by the removal from the dirty map, not by a promotion.
#[test]
fn issue_40999_deleted_keys_are_not_kept_alive() {
    let map: SyncMap<ArcKey, u64> = SyncMap::new();
    for i in 0..16 {
        map.store(ArcKey(Arc::new(1000 + i)), i);
    }
    for i in 0..10 {
        let key = Arc::new(i);
        map.store(ArcKey(Arc::clone(&key)), i);
        assert!(Arc::strong_count(&key) > 1, "the map holds the key");
        map.delete(&ArcKey(Arc::new(i)));
        assert_eq!(
            Arc::strong_count(&key),
            1,
            "iteration {i}: deleted key kept alive"
        );
        map.check_invariants();
    }
    assert_eq!(
        map.stats().promotions,
        0,
        "the keys were freed without a promotion"
    );
    // The same with load_and_delete, and across promotions.
    for i in 10..100 {
        let key = Arc::new(i);
        map.store(ArcKey(Arc::clone(&key)), i);
        assert_eq!(map.load_and_delete(&ArcKey(Arc::new(i))), Some(i));
        assert_eq!(
            Arc::strong_count(&key),
            1,
            "iteration {i}: deleted key kept alive"
        );
    }
    assert!(map.stats().promotions > 0);
    map.check_invariants();
}

/// Go: `TestMapRangeNestedCall` (issue 46399). Inside a range, a nested range loads each
/// offered key, stores and deletes key 42; the outer callback deletes its key. Afterwards a
/// range visits nothing.
#[test]
fn range_nested_call() {
    let map: SyncMap<i32, &'static str> = SyncMap::new();
    for (i, value) in ["hello", "world", "Go"].into_iter().enumerate() {
        map.store(i as i32, value);
    }
    map.range(|&key, _| {
        map.range(|key, value| {
            // No concurrent delete: the offered key loads the offered value.
            assert_eq!(map.load(key), Some(*value));
            // 42 was never kept in the map, so this stores.
            assert_eq!(map.load_or_store(42, "dummy"), ("dummy", false));
            map.store(42, "sync.Map");
            assert_eq!(map.load_and_delete(&42), Some("sync.Map"));
            true
        });
        // Remove the key on the fly.
        map.delete(&key);
        true
    });
    let mut length = 0;
    map.range(|_, _| {
        length += 1;
        true
    });
    assert_eq!(length, 0);
    map.check_invariants();
}

/// Go: `TestCompareAndSwap_NonExistingKey` (`CompareAndSwap(absent, nil, 42)` is false). A
/// missing key is not a "nil value": with `Option` values, `None` as the old value does not
/// match it. Checked on the lock-free path (not amended) and the locked one (amended).
#[test]
fn compare_and_swap_non_existing_key() {
    let map: SyncMap<u32, Option<u32>> = SyncMap::new();
    assert!(!map.compare_and_swap(&1, &None, Some(42)));
    assert_eq!(map.load(&1), None);
    map.store(2, None);
    assert!(map.stats().amended);
    assert!(!map.compare_and_swap(&1, &None, Some(42)));
    assert_eq!(map.load(&1), None);
    // A present `None` does match.
    assert!(map.compare_and_swap(&2, &None, Some(42)));
    assert_eq!(map.load(&2), Some(Some(42)));
    map.check_invariants();
}

/// Not a Go test: `range` stops right after the callback returns false.
#[test]
fn range_early_exit() {
    let map: SyncMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
    for stop_after in [1, 10, 100] {
        let mut calls = 0;
        map.range(|_, _| {
            calls += 1;
            calls < stop_after
        });
        assert_eq!(calls, stop_after);
    }
}

// ---------------------------------------------------------------------------------------------
// Drops, unwinding, traits
// ---------------------------------------------------------------------------------------------

/// Not a Go test: every key and value the map was given, kept, replaced, deleted, cleared or
/// left in an expunged entry, is released by the time the map is dropped.
#[test]
fn keys_and_values_are_released() {
    let token = Arc::new(0u64);
    let key = |i: u64| ArcKey(Arc::new(i));
    {
        let map: SyncMap<ArcKey, Arc<u64>> = SyncMap::new();
        for i in 0..64 {
            map.store(key(i), Arc::clone(&token));
        }
        for i in 0..64 {
            map.load(&key(i));
        }
        for i in 0..16 {
            map.delete(&key(i)); // nil in the snapshot
        }
        map.store(key(100), Arc::clone(&token)); // expunges 0..16
        for i in 16..32 {
            assert!(map.swap(key(i), Arc::clone(&token)).is_some());
            assert!(map.load_or_store(key(i), Arc::clone(&token)).1);
        }
        assert!(map.compare_and_swap(&key(40), &token, Arc::clone(&token)));
        assert!(map.compare_and_delete(&key(41), &token));
        assert!(map.load_and_delete(&key(42)).is_some());
        assert!(Arc::strong_count(&token) > 1);
        map.check_invariants();
    }
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "values leaked or released twice"
    );

    // Clear releases at once, also with a dirty map.
    let map: SyncMap<u64, Arc<u64>> = (0..32).map(|i| (i, Arc::clone(&token))).collect();
    map.store(100, Arc::clone(&token));
    map.clear();
    assert_eq!(Arc::strong_count(&token), 1, "clear kept values alive");

    // Values written from several threads.
    thread::scope(|s| {
        for t in 0..4u64 {
            let (map, token) = (&map, &token);
            s.spawn(move || {
                for i in 0..200 {
                    map.store(i % 50, Arc::clone(token));
                    if i % 3 == t % 3 {
                        map.delete(&(i % 50));
                    }
                }
            });
        }
    });
    map.check_invariants();
    drop(map);
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "values leaked by concurrent writes"
    );
}

/// A value whose `Drop` loads an absent key from the map in `REENTRANT_MAP`: with the snapshot
/// amended, that `load` takes the map's mutex.
#[derive(Debug, Clone, PartialEq)]
struct Reentrant(u64);

static REENTRANT_MAP: std::sync::OnceLock<SyncMap<u64, Reentrant>> = std::sync::OnceLock::new();

impl Drop for Reentrant {
    fn drop(&mut self) {
        if let Some(map) = REENTRANT_MAP.get() {
            assert_eq!(map.load(&u64::MAX), None);
        }
    }
}

/// Not a Go test: no method drops a value while it holds the mutex, so a destructor may use
/// the map. Each case works on a key that is only in the dirty map (the locked paths), and
/// drops a replaced, deleted, rejected or cleared value. Before session 29 `compare_and_swap`
/// on such a key dropped the value it replaced, or the rejected `new`, under the mutex, and
/// the destructor's `load` waited for it forever (found by a black-box test).
#[test]
fn destructors_run_after_the_unlock_in_every_method() {
    let map = REENTRANT_MAP.get_or_init(SyncMap::new);
    for case in 0..9u64 {
        finishes_in_time(&format!("case {case}"), || {
            // A new key goes to the dirty map only, and the snapshot is amended.
            map.store(case, Reentrant(1));
            assert!(map.stats().amended);
            match case {
                0 => map.store(case, Reentrant(2)),
                1 => assert_eq!(map.swap(case, Reentrant(2)), Some(Reentrant(1))),
                2 => assert_eq!(map.load_and_delete(&case), Some(Reentrant(1))),
                3 => map.delete(&case),
                4 => assert!(map.compare_and_delete(&case, &Reentrant(1))),
                5 => assert!(map.compare_and_swap(&case, &Reentrant(1), Reentrant(2))),
                6 => assert!(!map.compare_and_swap(&case, &Reentrant(7), Reentrant(3))),
                7 => assert_eq!(map.load_or_store(case, Reentrant(4)), (Reentrant(1), true)),
                _ => map.clear(),
            }
            map.check_invariants();
        });
    }
}

/// The map of the current round of `a_key_that_lost_the_race_to_unexpunge_drops_after_the_unlock`.
static RACE_MAP: std::sync::Mutex<Option<Arc<SyncMap<RaceKey, u64>>>> = std::sync::Mutex::new(None);
/// Thread B's stall: B reports that it holds the mutex on the first channel, then waits on the
/// second.
#[allow(clippy::type_complexity)]
static RACE_STALL: std::sync::Mutex<Option<(Sender<()>, Receiver<()>)>> =
    std::sync::Mutex::new(None);
/// Thread A reports here that its lock-free attempt has hashed the key.
static RACE_A_HASHED: std::sync::Mutex<Option<Sender<()>>> = std::sync::Mutex::new(None);

thread_local! {
    /// 1: thread B, 2: thread A, 0: any other thread.
    static RACE_ROLE: Cell<u8> = const { Cell::new(0) };
    /// How many times this thread has hashed key 1.
    static RACE_HASHES: Cell<u32> = const { Cell::new(0) };
}

/// A key whose `Hash` of id 1 plays the race below, and whose `Drop`, for the one copy marked
/// `reenter`, takes the map's mutex. Clones are not marked.
#[derive(Debug)]
struct RaceKey {
    id: u64,
    reenter: bool,
}

impl Clone for RaceKey {
    fn clone(&self) -> Self {
        RaceKey {
            id: self.id,
            reenter: false,
        }
    }
}

impl PartialEq for RaceKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for RaceKey {}

impl Hash for RaceKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        if self.id != 1 {
            return;
        }
        let count = RACE_HASHES.with(|hashes| {
            hashes.set(hashes.get() + 1);
            hashes.get()
        });
        match (RACE_ROLE.with(Cell::get), count) {
            // B's second hash: its lookup in the snapshot under the mutex, after the lock-free
            // lookup and a `try_swap` that found the entry expunged.
            (1, 2) => {
                let (held, go) = RACE_STALL.lock().unwrap().take().unwrap();
                held.send(()).unwrap();
                go.recv().unwrap();
            }
            // A's first hash: its lock-free lookup, which will find the entry expunged.
            (2, 1) => RACE_A_HASHED
                .lock()
                .unwrap()
                .take()
                .unwrap()
                .send(())
                .unwrap(),
            _ => {}
        }
    }
}

impl Drop for RaceKey {
    fn drop(&mut self) {
        if self.reenter {
            let map = RACE_MAP.lock().unwrap().clone();
            if let Some(map) = map {
                // An absent key while the snapshot is amended: this takes the mutex.
                let absent = RaceKey {
                    id: 999,
                    reenter: false,
                };
                assert_eq!(map.load(&absent), None);
            }
        }
    }
}

/// Not a Go test: two writers of one expunged key. Thread A's lock-free attempt finds the entry
/// expunged; thread B, already holding the mutex, puts it back into the dirty map; A then takes
/// the mutex and finds the key there, so A's own key is not needed. It drops after the unlock,
/// so its destructor may use the map. Until session 30 (a review) it dropped under the mutex
/// (`unexpunge_into_dirty_locked`), and a destructor that took the mutex waited forever. The
/// race is forced: B's `Hash` stalls while B holds the mutex, and A's reports when A has made
/// its lock-free attempt. A runs `store`, then `load_or_store` (both reach that function).
#[test]
fn a_key_that_lost_the_race_to_unexpunge_drops_after_the_unlock() {
    let key = |id| RaceKey { id, reenter: false };
    for a_loads_or_stores in [false, true] {
        let map = Arc::new(SyncMap::new());
        *RACE_MAP.lock().unwrap() = Some(Arc::clone(&map));
        map.store(key(1), 1);
        map.store(key(2), 2);
        map.range(|_, _| true); // promotes: both keys in the snapshot, no dirty map
        map.delete(&key(1)); // nil in the snapshot
        map.store(key(3), 3); // a new key: the dirty map is built and key 1 expunged
        let stats = map.stats();
        assert_eq!((stats.read_expunged, stats.amended), (1, true));
        map.check_invariants();

        let (held_sender, held) = std::sync::mpsc::channel();
        let (go, go_receiver) = std::sync::mpsc::channel();
        *RACE_STALL.lock().unwrap() = Some((held_sender, go_receiver));
        let (a_hashed_sender, a_hashed) = std::sync::mpsc::channel();
        *RACE_A_HASHED.lock().unwrap() = Some(a_hashed_sender);
        let racing = Arc::clone(&map);
        finishes_in_time(&format!("load_or_store: {a_loads_or_stores}"), move || {
            let map = racing;
            thread::scope(|s| {
                // B unexpunges key 1 under the mutex, stalling in its `Hash` first.
                s.spawn(|| {
                    RACE_ROLE.with(|role| role.set(1));
                    map.store(key(1), 10);
                });
                held.recv().unwrap();
                // A: its lock-free attempt finds key 1 expunged; then it waits for the mutex.
                let a = s.spawn(|| {
                    RACE_ROLE.with(|role| role.set(2));
                    let key = RaceKey {
                        id: 1,
                        reenter: true,
                    };
                    if a_loads_or_stores {
                        assert_eq!(map.load_or_store(key, 20), (10, true));
                    } else {
                        map.store(key, 20);
                    }
                });
                a_hashed.recv().unwrap();
                // Give A time to reach the mutex (if it has not, A only takes the lock-free
                // path below, and the test checks less but still passes correctly).
                thread::sleep(std::time::Duration::from_millis(200));
                go.send(()).unwrap();
                a.join().unwrap();
            });
        });
        let expected = if a_loads_or_stores { 10 } else { 20 };
        assert_eq!(map.load(&key(1)), Some(expected));
        map.check_invariants();
        *RACE_MAP.lock().unwrap() = None;
    }
}

thread_local! {
    static CLONE_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// A key whose `Clone` panics while `CLONE_PANICS` is set.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FragileKey(u32);

impl Clone for FragileKey {
    fn clone(&self) -> Self {
        assert!(!CLONE_PANICS.get(), "FragileKey::clone armed");
        FragileKey(self.0)
    }
}

/// Not a Go test: a key `Clone` that panics while the dirty map is being built (after some
/// entries may have been expunged) leaves I1–I6 intact and the map usable.
#[test]
fn panicking_clone_while_building_the_dirty_map_leaves_the_map_consistent() {
    let map: SyncMap<FragileKey, u32> = SyncMap::new();
    for i in 0..8 {
        map.store(FragileKey(i), i);
    }
    assert_eq!(map.len(), 8); // promote: no dirty map
    for i in 0..4 {
        map.delete(&FragileKey(i)); // nil entries, to be expunged by the next dirty map
    }
    CLONE_PANICS.set(true);
    let result = catch_unwind(AssertUnwindSafe(|| map.store(FragileKey(100), 100)));
    CLONE_PANICS.set(false);
    assert!(result.is_err(), "the clone should have panicked");
    map.check_invariants();
    let stats = map.stats();
    assert_eq!((stats.read_expunged, stats.dirty_len), (0, None));
    // Usable, with the poisoned mutex recovered.
    map.store(FragileKey(100), 100);
    map.store(FragileKey(0), 0);
    map.check_invariants();
    let expected: Vec<u32> = [0, 4, 5, 6, 7, 100].into();
    let mut keys: Vec<u32> = Vec::new();
    map.range(|key, _| {
        keys.push(key.0);
        true
    });
    keys.sort_unstable();
    assert_eq!(keys, expected);
}

#[test]
fn sync_map_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SyncMap<u64, u64>>();
    assert_send_sync::<SyncMap<String, Vec<u8>, ConstantHasher>>();
    assert_send_sync::<SyncMapStats>();
}

/// Not a Go test: `SharedMap`, `Default`, `FromIterator` (a later pair wins, no dirty map) and
/// `Debug` (entries as `range` visits them).
#[test]
fn shared_map_and_std_traits() {
    fn fill<M: SharedMap<u64, u64> + Sync>(map: &M) {
        thread::scope(|s| {
            for t in 0..4u64 {
                s.spawn(move || (0..100).for_each(|i| map.store(t * 100 + i, i)));
            }
        });
    }
    let map: SyncMap<u64, u64> = SyncMap::default();
    fill(&map);
    assert_eq!(SharedMap::len(&map), 400);
    assert_eq!(SharedMap::load(&map, &342), Some(42));
    SharedMap::delete(&map, &342);
    assert_eq!(SharedMap::load(&map, &342), None);
    assert!(!SharedMap::is_empty(&map));
    let mut sum = 0;
    SharedMap::range(&map, |_, value| {
        sum += value;
        true
    });
    assert_eq!(sum, 4 * (0..100).sum::<u64>() - 42);

    let map: SyncMap<u32, &str> = [(1, "a"), (2, "b"), (1, "c")].into_iter().collect();
    let stats = map.stats();
    assert_eq!(
        (stats.read_len, stats.dirty_len, stats.amended),
        (2, None, false)
    );
    assert_eq!(map.load(&1), Some("c"));
    let single: SyncMap<u32, &str> = [(7, "x")].into_iter().collect();
    assert_eq!(format!("{single:?}"), r#"{7: "x"}"#);
    let empty: SyncMap<u32, u32, ConstantHasher> = SyncMap::default();
    assert_eq!(format!("{empty:?}"), "{}");
    assert!(empty.is_empty());
}

/// Not a Go test: `map_matches_rwmutex` under concurrency. Four threads each own the keys
/// congruent to their number (mod 4) and run random calls on them against a private model,
/// which must agree call by call, while they also load, range and read-only compare on the
/// other threads' keys. New keys, deletes and misses from all threads keep promoting,
/// expunging and reviving the shared snapshot. Values carry their key, so a foreign read can
/// still be checked.
#[test]
fn concurrent_owners_match_their_models() {
    const THREADS: u64 = 4;
    const KEYS: u64 = 32;
    let map: SyncMap<u64, u64> = SyncMap::new();
    let models: Vec<StdHashMap<u64, u64>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let map = &map;
                s.spawn(move || {
                    let mut rng = Rng(0x5EED + t);
                    let mut model: StdHashMap<u64, u64> = StdHashMap::new();
                    for step in 0..4000u64 {
                        let key = rng.below(KEYS / THREADS) * THREADS + t;
                        let value = key * 1000 + rng.below(3);
                        let old = key * 1000 + rng.below(3);
                        match rng.below(10) {
                            0 => assert_eq!(map.load(&key), model.get(&key).copied()),
                            1 => {
                                map.store(key, value);
                                model.insert(key, value);
                            }
                            2 => {
                                let expected = match model.get(&key) {
                                    Some(&actual) => (actual, true),
                                    None => (*model.entry(key).or_insert(value), false),
                                };
                                assert_eq!(map.load_or_store(key, value), expected);
                            }
                            3 => assert_eq!(map.load_and_delete(&key), model.remove(&key)),
                            4 => {
                                map.delete(&key);
                                model.remove(&key);
                            }
                            5 => assert_eq!(map.swap(key, value), model.insert(key, value)),
                            6 => {
                                let swapped = model.get(&key) == Some(&old);
                                if swapped {
                                    model.insert(key, value);
                                }
                                assert_eq!(map.compare_and_swap(&key, &old, value), swapped);
                            }
                            7 => {
                                let deleted = model.get(&key) == Some(&old);
                                if deleted {
                                    model.remove(&key);
                                }
                                assert_eq!(map.compare_and_delete(&key, &old), deleted);
                            }
                            8 => {
                                // Someone else's key: any value it holds encodes that key.
                                let foreign = rng.below(KEYS);
                                if let Some(value) = map.load(&foreign) {
                                    assert_eq!(value / 1000, foreign);
                                }
                                // A comparison that cannot match changes nothing.
                                assert!(!map.compare_and_swap(&foreign, &u64::MAX, 0));
                            }
                            _ => {
                                if step % 8 == 0 {
                                    // Own keys do not change during the call: seen exactly.
                                    let mut own = 0;
                                    map.range(|&key, &value| {
                                        assert_eq!(value / 1000, key);
                                        if key % THREADS == t {
                                            assert_eq!(model.get(&key), Some(&value));
                                            own += 1;
                                        }
                                        true
                                    });
                                    assert_eq!(own, model.len());
                                }
                            }
                        }
                    }
                    model
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    map.check_invariants();
    assert!(map.stats().promotions > 0, "the snapshot never changed");
    let expected: BTreeMap<u64, u64> = models.into_iter().flatten().collect();
    assert_eq!(contents(&map), expected);
}
