//! White-box tests of the concurrent map: growth states, evacuation bookkeeping, reclamation.

use std::collections::HashMap as StdMap;
use std::sync::Arc;

use super::ConcurrentHashMap;
use crate::sync::{AtomicPtr, AtomicUsize, Ordering::SeqCst};
use crate::test_util::ConstantState;

/// Scales loop counts down under Miri.
fn n(full: usize) -> usize {
    if cfg!(miri) {
        (full / 50).max(20)
    } else {
        full
    }
}

#[test]
fn insert_get_remove_through_growths() {
    let map = ConcurrentHashMap::new();
    let view = map.pin();
    let count = n(20_000) as u64;
    for i in 0..count {
        assert_eq!(view.insert(i, i * 2), None);
        assert_eq!(view.get(&i), Some(&(i * 2)), "key {i} right after insert");
    }
    assert_eq!(map.len(), count as usize);
    assert!(map.stats().growths > 0);
    for i in 0..count {
        assert_eq!(view.get(&i), Some(&(i * 2)));
    }
    for i in (0..count).step_by(2) {
        assert_eq!(view.insert(i, i), Some(&(i * 2)));
    }
    for i in (1..count).step_by(2) {
        assert_eq!(view.remove(&i), Some(&(i * 2)));
        assert_eq!(view.get(&i), None);
    }
    assert_eq!(map.len(), (count as usize).div_ceil(2));
    let mut seen: Vec<u64> = view.keys().copied().collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..count).step_by(2).collect::<Vec<_>>());
}

#[test]
fn growth_is_incremental_and_bounded() {
    // With B = 4 (16 buckets), the 105th key starts a doubling; each later write evacuates at
    // most 1 + EVACUATION_CHUNK old chains.
    let map = ConcurrentHashMap::with_capacity(100);
    assert_eq!(map.log2_buckets(), 4);
    let view = map.pin();
    let mut i = 0u64;
    while !map.is_growing() {
        view.insert(i, i);
        i += 1;
        assert!(i < 10_000, "never started growing");
    }
    let stats = map.stats();
    assert_eq!(stats.log2_buckets, 5);
    assert_eq!(stats.old_buckets, 16);
    let before = stats.old_evacuated;
    view.insert(1_000_000, 0);
    let after = map.stats();
    assert!(
        after.old_evacuated - before <= 1 + after.evacuation_chunk,
        "one write evacuated {} chains",
        after.old_evacuated - before
    );
    // Writes finish the growth: 16 chains, at least EVACUATION_CHUNK per write.
    for k in 0..16 {
        view.insert(2_000_000 + k, 0);
    }
    assert!(!map.is_growing());
    for k in 0..i {
        assert_eq!(view.get(&k), Some(&k));
    }
}

#[test]
fn reads_during_growth_see_old_and_new_chains() {
    let map = ConcurrentHashMap::with_capacity(100);
    let view = map.pin();
    let mut i = 0u64;
    while !map.is_growing() {
        view.insert(i, i);
        i += 1;
    }
    // Mid-growth: some chains evacuated, most not; every key readable, iteration exact.
    view.insert(i, i);
    i += 1;
    assert!(map.is_growing());
    for k in 0..i {
        assert_eq!(view.get(&k), Some(&k));
    }
    let mut keys: Vec<u64> = view.keys().copied().collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..i).collect::<Vec<_>>());
}

#[test]
fn same_size_growth_after_churn() {
    // All keys in one chain (constant hash) → many overflow buckets → same-size growth.
    let map = ConcurrentHashMap::with_hasher(ConstantState(0x4200_0000_0000_0000));
    let view = map.pin();
    let count = n(300) as u64;
    for i in 0..count {
        view.insert(i, i);
    }
    for i in 0..count {
        assert_eq!(view.get(&i), Some(&i));
    }
    assert!(map.stats().growths > 0);
    for i in 0..count {
        assert_eq!(view.remove(&i), Some(&i));
    }
    assert!(map.is_empty());
    assert_eq!(view.iter().count(), 0);
}

#[test]
fn many_threads_disjoint_keys() {
    let map = ConcurrentHashMap::new();
    let threads = 4u64;
    let per = n(20_000) as u64;
    std::thread::scope(|s| {
        for t in 0..threads {
            let map = &map;
            s.spawn(move || {
                for i in 0..per {
                    let key = t * per + i;
                    map.pin().insert(key, key + 1);
                    if i % 3 == 0 {
                        assert_eq!(map.pin().remove(&key), Some(&(key + 1)));
                    }
                }
            });
        }
    });
    let view = map.pin();
    let mut expected = StdMap::new();
    for t in 0..threads {
        for i in 0..per {
            if i % 3 != 0 {
                let key = t * per + i;
                expected.insert(key, key + 1);
            }
        }
    }
    assert_eq!(map.len(), expected.len());
    let got: StdMap<u64, u64> = view.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(got, expected);
}

#[test]
fn concurrent_updates_are_not_lost() {
    let map = ConcurrentHashMap::new();
    for key in 0..8u64 {
        map.pin().insert(key, 0u64);
    }
    let rounds = n(5_000) as u64;
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let map = &map;
            s.spawn(move || {
                for i in 0..rounds {
                    map.pin().update(&((i + t) % 8), |v| v + 1);
                    // Keep the map growing meanwhile.
                    map.pin().insert(1_000 + t * rounds + i, 0);
                }
            });
        }
    });
    let total: u64 = (0..8u64).map(|k| *map.pin().get(&k).unwrap()).sum();
    assert_eq!(total, 4 * rounds);
}

/// Counts drops of the values it is attached to.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        // ORDERING: SeqCst, test bookkeeping: the strongest order, nothing to pair.
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn every_value_is_dropped_once_with_the_map() {
    let drops = Arc::new(AtomicUsize::new(0));
    let made = n(10_000);
    {
        let map = ConcurrentHashMap::new();
        std::thread::scope(|s| {
            for t in 0..2usize {
                let (map, drops) = (&map, &drops);
                s.spawn(move || {
                    for i in 0..made / 2 {
                        let key = i % 1000 + t * 1000;
                        map.pin().insert(key, Counted(drops.clone()));
                    }
                });
            }
        });
        // Values replaced long ago may have been freed; the rest are owned or pending.
        let distinct = 2 * (made / 2).min(1000);
        assert_eq!(map.len(), distinct);
        // ORDERING: SeqCst, test bookkeeping: the strongest order, nothing to pair.
        assert!(drops.load(SeqCst) <= made - distinct);
    }
    assert_eq!(
        // ORDERING: SeqCst, test bookkeeping: the strongest order, nothing to pair.
        drops.load(SeqCst),
        made,
        "dropping the map drops everything"
    );
}

#[test]
fn garbage_is_freed_while_the_map_lives() {
    let map = ConcurrentHashMap::new();
    for round in 0..n(50_000) as u64 {
        map.pin().insert(round % 64, round);
    }
    // Pinning collects: with no view alive, garbage drains.
    for _ in 0..1_000 {
        drop(map.pin());
    }
    let garbage = map.stats().garbage_objects;
    assert!(garbage < 5_000, "{garbage} objects awaiting reclamation");
}

/// The garbage tally is striped per handle slot (`reclaim.rs`, C3): objects retired by one thread
/// and freed by another leave one part positive and another negative, and only the sum means
/// anything. Once every object is freed it is exactly zero, also when the retiring threads have
/// exited and given their slots back, and while a new thread reuses one of those slots.
#[test]
fn garbage_tally_sums_across_threads() {
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let keys = n(2_000) as u64;
    let drain = |map: &ConcurrentHashMap<u64, u64>| {
        for _ in 0..n(2_000) {
            if map.stats().garbage_objects == 0 {
                return;
            }
            map.pin().flush();
        }
        panic!("garbage never drained: {:?}", map.stats());
    };
    for round in 0..3u64 {
        // A used view holds the epoch: nothing retired from here on can be freed until it drops.
        let holder = map.pin();
        assert!(!holder.contains_key(&u64::MAX));
        std::thread::scope(|s| {
            for t in 0..2u64 {
                let map = &map;
                s.spawn(move || {
                    for i in 0..keys {
                        // Replaces the previous round's entry: one object retired per insert.
                        map.pin().insert(i * 2 + t, round);
                    }
                    // Hand this thread's partial bag to the collector before exiting: a slot
                    // given back at thread exit keeps its handle's bag until the slot's next
                    // owner pins or a flush sweeps it (`reclaim.rs`, "Handle slots").
                    map.pin().flush();
                });
            }
        });
        if round == 0 {
            // `retain` finishes a growth still in flight, so that later rounds retire entries only.
            map.pin().retain(|_, _| true);
            assert!(!map.is_growing());
        } else {
            // Every insert replaced an entry (no growth after round 0): each retired one object,
            // counted on the inserting thread's slot, and none could be freed yet.
            assert_eq!(
                map.stats().garbage_objects,
                2 * keys as usize,
                "round {round}"
            );
        }
        drop(holder);
        // The scoped threads have exited; this thread's flushes free what they retired, and
        // count the frees on this thread's slot.
        drain(&map);
        assert_eq!(map.stats().garbage_objects, 0, "round {round}");
    }
    assert_eq!(map.len(), 2 * keys as usize);
}

/// A view pins at its first operation, not when it is made: unused, it holds no garbage back;
/// once used, it keeps everything retired after that alive until it is dropped.
#[test]
fn a_view_pins_at_its_first_operation() {
    let map = ConcurrentHashMap::new();
    map.pin().insert(0u64, 0u64);
    let churn = n(1_000) as u64;
    let replace_all_and_collect = |map: &ConcurrentHashMap<u64, u64>| {
        for i in 0..churn {
            map.pin().insert(0, i);
        }
        // Each flush tries to advance the epoch and free what no pinned thread can see.
        for _ in 0..8 {
            map.pin().flush();
        }
        map.stats().garbage_objects
    };
    let view = map.pin();
    assert_eq!(
        replace_all_and_collect(&map),
        0,
        "an unused view must not hold garbage back"
    );
    assert!(view.get(&0).is_some());
    let held = replace_all_and_collect(&map);
    assert!(
        held >= churn as usize,
        "a used view keeps what was retired after it pinned: {held} < {churn}"
    );
    drop(view);
    assert_eq!(
        replace_all_and_collect(&map),
        0,
        "dropped, it holds nothing"
    );
}

#[test]
fn panicking_eq_releases_the_chain() {
    #[derive(Hash, Debug)]
    #[allow(
        clippy::derived_hash_with_manual_eq,
        reason = "Eq agrees with the derived Hash except that it panics on 13"
    )]
    struct Touchy(u64);
    impl PartialEq for Touchy {
        fn eq(&self, other: &Self) -> bool {
            assert!(self.0 != 13 && other.0 != 13, "Eq panics on 13");
            self.0 == other.0
        }
    }
    impl Eq for Touchy {}
    #[derive(Default)]
    struct Zero;
    impl core::hash::BuildHasher for Zero {
        type Hasher = std::collections::hash_map::DefaultHasher;
        fn build_hasher(&self) -> Self::Hasher {
            std::collections::hash_map::DefaultHasher::new()
        }
    }
    let map = ConcurrentHashMap::with_hasher(Zero);
    map.pin().insert(Touchy(13), 1);
    let result = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
        map.pin().insert(Touchy(13), 2);
    }));
    assert!(result.is_err());
    // The chain is free again: a write to it completes.
    map.pin().insert(Touchy(14), 3);
    assert_eq!(map.len(), 2);
}

#[test]
fn stats_are_coherent() {
    let map = ConcurrentHashMap::with_capacity(n(1000));
    let view = map.pin();
    // Under Miri: 20 slots' worth, 100 inserts, still several growths.
    for i in 0..n(5_000) as u64 {
        view.insert(i, i);
        let stats = map.stats();
        assert!(stats.old_evacuated <= stats.old_buckets);
        assert!(stats.claimed <= stats.old_buckets);
        assert_eq!(stats.growing, stats.old_buckets > 0);
    }
}

#[test]
fn invariants_hold_through_growths_removals_and_same_size_growths() {
    // Every state a single thread can reach: doublings (checked mid-growth after every write),
    // removals (EMPTY_ONE / EMPTY_REST), same-size growths of long chains (constant hash).
    let map = ConcurrentHashMap::with_capacity(20);
    let view = map.pin();
    let count = n(1_000) as u64;
    for i in 0..count {
        view.insert(i, i);
        map.check_invariants();
    }
    for i in (0..count).step_by(3) {
        view.remove(&i);
        map.check_invariants();
    }
    assert!(map.force_growth(true) || map.is_growing());
    map.check_invariants();
    for i in 0..40 {
        view.insert(i, i + 1);
        map.check_invariants();
    }
    let colliding = ConcurrentHashMap::with_hasher(ConstantState(0x4200_0000_0000_0000));
    let colliding_view = colliding.pin();
    for i in 0..n(200) as u64 {
        colliding_view.insert(i, i);
        colliding.check_invariants();
    }
    assert!(
        colliding.stats().growths > 0,
        "long chains force same-size growths"
    );
}

/// A reclaimer shared by test threads the way `RawMap` shares its own.
struct SharedReclaimer(super::reclaim::Reclaimer);

// SAFETY: as for `RawMap` (raw.rs): the reclaimer is its collector, its slot table (Send + Sync,
// C1) and counters touched only through atomics; these tests retire nothing.
unsafe impl Send for SharedReclaimer {}
// SAFETY: as above.
unsafe impl Sync for SharedReclaimer {}

/// Spawns `threads` threads that each pin `reclaimer` twice (nested) and hold both guards until
/// all have pinned, then exit (and give their slots back, which `join` waits for).
fn pin_at_once(reclaimer: &Arc<SharedReclaimer>, threads: usize) {
    let barrier = Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (reclaimer, barrier) = (Arc::clone(reclaimer), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let outer = reclaimer.0.pin();
                let inner = reclaimer.0.pin();
                barrier.wait();
                drop(inner);
                drop(outer);
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

/// The slot table grows (segments of 2, 2 and 4 slots) while more threads pin at once than it
/// has slots, pins temporarily only past its cap, and gets every slot back when its threads exit
/// (the flat index each thread remembers names the right slot of the right segment).
#[test]
fn slot_table_grows_to_its_cap_then_pins_temporarily() {
    let reclaimer = Arc::new(SharedReclaimer(super::reclaim::Reclaimer::with_max_slots(
        2,
        8,
        core::alloc::Layout::new::<u64>(),
    )));
    assert_eq!(reclaimer.0.slots(), 2);
    pin_at_once(&reclaimer, 3);
    assert_eq!(reclaimer.0.slots(), 4, "segment 1 installed once");
    assert_eq!(reclaimer.0.temporary_pins(), 0);
    // 10 threads holding guards at once: 8 own slots, 2 pin temporarily (twice each).
    pin_at_once(&reclaimer, 10);
    assert_eq!(reclaimer.0.slots(), 8, "grown to the cap");
    assert_eq!(reclaimer.0.temporary_pins(), 4);
    // Every slot was given back: 8 new threads fit without growing or pinning temporarily.
    pin_at_once(&reclaimer, 8);
    assert_eq!(reclaimer.0.slots(), 8);
    assert_eq!(reclaimer.0.temporary_pins(), 4);
}

/// Threads beyond segment 0 count on the stripes of the slots they claim in later segments:
/// `len` covers every segment and is exact once the writers are done.
#[test]
fn len_is_exact_across_slot_segments() {
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let first = map.stats().handle_slots;
    let threads = first + 3;
    let per_thread = n(100) as u64;
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            let (map, barrier) = (&map, &barrier);
            s.spawn(move || {
                let view = map.pin();
                // A view pins on its first operation: pin before the barrier, so that every
                // thread holds a slot at once.
                assert!(!view.contains_key(&u64::MAX));
                barrier.wait();
                for i in 0..per_thread {
                    view.insert(i * threads as u64 + t, i);
                }
                for i in (0..per_thread).step_by(4) {
                    view.remove(&(i * threads as u64 + t));
                }
            });
        }
    });
    let stats = map.stats();
    assert_eq!(stats.handle_slots, 2 * first, "segment 1 installed once");
    assert_eq!(stats.temporary_pins, 0);
    let kept = per_thread - per_thread.div_ceil(4);
    assert_eq!(map.len(), threads * kept as usize);
    assert_eq!(map.pin().iter().count(), map.len());
}

#[test]
fn the_checker_catches_a_wrong_split_hint() {
    // B7 is what keeps the X/Y choice right without loading the entry: a wrong hint would send
    // the entry to a chain its hash does not name, where lookups never find it. The checker must
    // see one.
    let map = ConcurrentHashMap::with_capacity(100);
    let view = map.pin();
    for i in 0..50u64 {
        view.insert(i, i);
    }
    map.check_invariants();
    let guard = map.raw().pin();
    let table = map.raw().table(&guard);
    let (index, slot) = (0..table.len())
        .find_map(|index| {
            let bucket = table.bucket(index);
            let _lock = bucket.lock();
            bucket
                .tophash_locked()
                .full()
                .next()
                .map(|slot| (index, slot))
        })
        .expect("50 entries fill some chain");
    let bucket = table.bucket(index);
    {
        let _lock = bucket.lock();
        let (entry, _) = bucket.entry_and_hint_locked::<u64, u64>(slot);
        // SAFETY: a full slot's live entry (B1), the chain held.
        let hash = unsafe { (*entry).hash };
        // A hint made for another table size whose bits differ from this table's.
        let wrong = (0..64u8)
            .map(|log2| super::bucket::SplitHint::from_hash(hash, log2))
            .find(|hint| !hint.agrees_with(hash, table.log2))
            .expect("some size's bits differ");
        bucket.set_entry(slot, entry, wrong);
    }
    drop(guard);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| map.check_invariants()));
    let message = caught.expect_err("the checker must reject the hint");
    let message = message
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(message.contains("B7"), "{message}");
}

/// A value whose destructor uses the map it was stored in (the one `REENTRANT_MAP` points to,
/// while it does): it reads the map and, for `Writes`, inserts a `Plain` value under a key of
/// its own. Destructors of retired values run wherever crossbeam collects: inside an outermost
/// pin (every 128 pins) or inside a flush.
enum Reentrant {
    Plain,
    Writes(u64),
}

type ReentrantMap = ConcurrentHashMap<u64, Reentrant, ConstantState>;

static REENTRANT_MAP: AtomicPtr<ReentrantMap> = AtomicPtr::new(std::ptr::null_mut());
static REENTRANT_DROPS: AtomicUsize = AtomicUsize::new(0);

impl Drop for Reentrant {
    fn drop(&mut self) {
        let Self::Writes(key) = *self else { return };
        // SAFETY: the test clears the pointer before it drops the map.
        // ORDERING: SeqCst, test bookkeeping: the strongest order, nothing to pair.
        let Some(map) = (unsafe { REENTRANT_MAP.load(SeqCst).as_ref() }) else {
            return;
        };
        // ORDERING: SeqCst, test bookkeeping: the strongest order, nothing to pair.
        REENTRANT_DROPS.fetch_add(1, SeqCst);
        let view = map.pin();
        let _ = view.get(&key);
        view.insert(1_000_000 + key, Self::Plain);
    }
}

/// A destructor that uses the map (above) runs in both places crossbeam collects, inside this
/// map's own pin (a nested pin there shares the thread's handle, by shared borrows only) and
/// inside a flush, and it must not hang. It would if it ran while its thread held a chain lock
/// (`retain` retires under the lock, G3): its insert would wait for that chain forever, since
/// under the constant hasher every key shares it. (Checked: with `retain` flushing under the lock
/// this test aborts. Miri runs it too, with Tree Borrows; Stacked Borrows stops inside crossbeam
/// first.)
#[test]
fn destructors_that_use_the_map_run_outside_chain_locks() {
    let map: Box<ReentrantMap> = Box::new(ConcurrentHashMap::with_hasher(ConstantState(7)));
    // ORDERING: SeqCst, test bookkeeping: the strongest order, nothing to pair.
    REENTRANT_MAP.store(std::ptr::from_ref(&*map).cast_mut(), SeqCst);
    // Enough pins for crossbeam's every-128-pins collection, also under Miri.
    let keys: u64 = if cfg!(miri) { 40 } else { 200 };
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let map = &*map;
        s.spawn(move || {
            // Retire values one view at a time, so that pins collect garbage of older epochs.
            for round in 0..10 {
                for key in 0..keys {
                    map.pin().insert(key, Reentrant::Writes(round * keys + key));
                }
            }
            // Garbage of older epochs is ready now; `retain` fills batches, which flush.
            map.retain(|key, _| *key >= 1_000_000);
            sender.send(()).expect("the test waits");
        });
        let limit = std::time::Duration::from_secs(if cfg!(miri) { 3_600 } else { 30 });
        if receiver.recv_timeout(limit).is_err() {
            // The stuck thread cannot be joined: report past the output capture, then abort.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"a destructor that writes to the map never returned: it ran under a chain lock\n",
            );
            std::process::abort();
        }
    });
    for _ in 0..1_000 {
        drop(map.pin());
    }
    map.pin().flush();
    assert!(
        // ORDERING: SeqCst, test bookkeeping: the strongest order, nothing to pair.
        REENTRANT_DROPS.load(SeqCst) > 0,
        "no retired value was dropped while the map lived"
    );
    assert!(map
        .pin()
        .iter()
        .all(|(key, _)| *key >= 1_000_000 || *key < keys));
    // ORDERING: SeqCst, test bookkeeping: the strongest order, nothing to pair.
    REENTRANT_MAP.store(std::ptr::null_mut(), SeqCst);
    drop(map);
}

/// The Go lockstep's view of the chains (`with_image`): `None` while a growth runs; otherwise
/// every entry once, in its hash's chain, under its tophash, and Go's empty markers elsewhere.
#[test]
fn image_shows_every_entry_once_in_its_chain() {
    use crate::raw::tophash::TopHash;
    use core::hash::BuildHasher;
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let view = map.pin();
    let count = n(3_000) as u64;
    for i in 0..count {
        view.insert(i, i + 1);
    }
    for i in (0..count).step_by(3) {
        view.remove(&i);
    }
    if map.is_growing() {
        assert!(map.with_image(|_| ()).is_none(), "no image during a growth");
        // Writes finish the growth (each claims a chunk of old chains).
        for i in 0..count {
            view.update(&i, |v| *v);
        }
    }
    assert!(!map.is_growing());
    assert!(map.force_growth(true));
    assert!(map.with_image(|_| ()).is_none(), "no image during a growth");
    for i in 0..count {
        view.update(&i, |v| *v);
    }
    assert!(!map.is_growing());
    let seen = map
        .with_image(|chains| {
            assert_eq!(chains.len(), 1 << map.log2_buckets());
            let mut seen = StdMap::new();
            for (index, chain) in chains.iter().enumerate() {
                for bucket in chain {
                    for (top, slot) in bucket.tophash.iter().zip(&bucket.slots) {
                        let top = TopHash(*top);
                        match slot {
                            Some((key, value)) => {
                                let hash = map.hasher().hash_one(*key);
                                assert_eq!(top, TopHash::from_hash(hash), "key {key}'s tophash");
                                assert_eq!(hash as usize & (chains.len() - 1), index);
                                assert_eq!(**value, **key + 1);
                                assert!(seen.insert(**key, index).is_none(), "key {key} twice");
                            }
                            None => assert!(top.is_empty(), "an empty slot shows {top:?}"),
                        }
                    }
                }
            }
            seen.len()
        })
        .expect("no growth is running");
    assert_eq!(seen, map.len());
}
