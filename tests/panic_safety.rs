//! Panic safety: user code that unwinds out of the middle of a map operation.
//!
//! The bug class: a map mutation is several steps (hash, grow, evacuate old buckets, write the
//! slot, update the count, drop the replaced or removed entry). User code runs between those
//! steps (`Hash`, `Eq`, `Drop`, `Clone`, the `retain` predicate), and if it panics the map is
//! left half-way. A naive implementation then drops an entry twice, drops an entry it still
//! holds (a use after free on the next read), counts entries it no longer has, or breaks the
//! bucket invariants (an old bucket chain evacuated in part, a hole before an `emptyRest`).
//!
//! Every test here makes user code panic at a chosen call (per-thread counters in
//! `common::Hook`), catches the panic, and then checks:
//! * no value was dropped twice (`Ledger`), and nothing still in the map was dropped;
//! * `check_invariants()` passes and `len()` equals the number of entries iteration yields;
//! * the map stays usable: further inserts, lookups and removes work;
//! * dropping the map afterwards drops every entry it still held exactly once.
//!
//! Entries may be lost (leaked) by a panic; that is allowed (style.md §8), double drops are not.

mod common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{
    quiet_armed_panics, ConstantHasher, DropCounter, FixedHasher, Hook, Ledger, PanicOnClone,
    PanicOnDrop, PanicOnEq, PanicOnHash, ARMED_PANIC_MESSAGE, CLONE_ID_OFFSET,
};
use hmap::HashMap;

/// Catches a panic from `f`, checks that it was the armed one, and disarms `hook`. Returns
/// whether a panic happened.
fn catch_armed(hook: Hook, f: impl FnOnce()) -> bool {
    let result = catch_unwind(AssertUnwindSafe(f));
    let fired = !hook.is_armed();
    hook.disarm();
    match result {
        Ok(()) => false,
        Err(payload) => {
            let message = common::panic_message(payload.as_ref());
            assert!(
                message.contains(ARMED_PANIC_MESSAGE),
                "unexpected panic: {message}"
            );
            assert!(fired, "panicked although the hook did not fire");
            true
        }
    }
}

/// The checks every test runs on a map that survived a panic: invariants, no double drop, no
/// dropped value still in the map, every iterated key found, `len()` equal to the iteration
/// count. Returns `key_id(key) → value id` for the entries still in the map.
fn check_survivor<K, S>(
    m: &HashMap<K, DropCounter, S>,
    ledger: &Ledger,
    key_id: impl Fn(&K) -> u64,
) -> BTreeMap<u64, u64>
where
    K: std::hash::Hash + Eq,
    S: std::hash::BuildHasher,
{
    m.check_invariants();
    ledger.assert_no_double_drop();
    let mut live = BTreeMap::new();
    for (k, v) in m {
        let id = key_id(k);
        assert!(live.insert(id, v.id()).is_none(), "key {id} produced twice");
        assert_eq!(
            ledger.drops_of(v.id()),
            0,
            "value {} is in the map but was dropped",
            v.id()
        );
        assert!(m.get(k).is_some(), "key {id} iterated but not found");
    }
    assert_eq!(m.len(), live.len(), "len() disagrees with iteration");
    live
}

/// Inserts fresh entries, looks everything up, removes the fresh ones: the map still works.
fn check_usable<S: std::hash::BuildHasher>(
    m: &mut HashMap<PanicOnHash, DropCounter, S>,
    ledger: &Ledger,
) {
    let before = check_survivor(m, ledger, |k| k.0);
    for id in 10_000..10_300 {
        assert!(m.insert(PanicOnHash(id), ledger.counter(id)).is_none());
    }
    m.check_invariants();
    for (&key, &value) in &before {
        assert_eq!(m.get(&PanicOnHash(key)).map(DropCounter::id), Some(value));
    }
    for id in 10_000..10_300 {
        assert_eq!(m.remove(&PanicOnHash(id)).map(|v| v.id()), Some(id));
    }
    m.check_invariants();
    assert_eq!(check_survivor(m, ledger, |k| k.0), before);
}

/// Drops the map and checks that everything it still held was dropped exactly once.
fn drop_and_check<K, S>(m: HashMap<K, DropCounter, S>, ledger: &Ledger, key_id: impl Fn(&K) -> u64)
where
    K: std::hash::Hash + Eq,
    S: std::hash::BuildHasher,
{
    let live = check_survivor(&m, ledger, key_id);
    drop(m);
    ledger.assert_no_double_drop();
    for &value in live.values() {
        assert_eq!(
            ledger.drops_of(value),
            1,
            "value {value} not dropped with the map"
        );
    }
}

type HashKeyMap<S> = HashMap<PanicOnHash, DropCounter, S>;

fn filled<S: std::hash::BuildHasher>(hasher: S, n: u64, ledger: &Ledger) -> HashKeyMap<S> {
    let mut m = HashMap::with_hasher(hasher);
    for id in 0..n {
        m.insert(PanicOnHash(id), ledger.counter(id));
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Hash
// ---------------------------------------------------------------------------------------------

/// The insert that starts a doubling growth hashes the new key and then, while evacuating,
/// every key of up to two old buckets. A panic at each of those hash calls in turn.
#[test]
fn panicking_hash_during_growing_insert() {
    quiet_armed_panics();
    let mut panics_after_first_hash = 0;
    for nth in 1..=40 {
        let ledger = Ledger::new();
        // 104 entries: B = 4 is full, the next new key starts a growth to B = 5.
        let mut m = filled(FixedHasher::default(), 104, &ledger);
        assert!(!m.is_growing());
        Hook::Hash.arm(nth);
        let panicked = catch_armed(Hook::Hash, || {
            m.insert(PanicOnHash(104), ledger.counter(104));
        });
        if panicked && nth > 1 {
            panics_after_first_hash += 1;
        }
        check_usable(&mut m, &ledger);
        drop_and_check(m, &ledger, |k| k.0);
    }
    assert!(
        panics_after_first_hash > 0,
        "no panic happened during evacuation"
    );
}

/// Under the constant hasher the whole map is one chain, so a doubling growth rehashes every
/// key of that chain in one evacuation: panics in the middle of evacuating one bucket.
#[test]
fn panicking_hash_in_the_middle_of_evacuating_a_chain() {
    quiet_armed_panics();
    // Every few hash calls, well past the first pass over the chain (an implementation may
    // hash every key once to plan the moves, then again).
    for nth in (1..=230).step_by(3) {
        let ledger = Ledger::new();
        let mut m = filled(ConstantHasher, 104, &ledger);
        Hook::Hash.arm(nth);
        catch_armed(Hook::Hash, || {
            m.insert(PanicOnHash(104), ledger.counter(104));
        });
        check_usable(&mut m, &ledger);
        drop_and_check(m, &ledger, |k| k.0);
    }
}

/// Writes in the middle of a growth evacuate before they look the key up: panics there, for
/// removes, for updates of existing keys and for inserts of new keys.
#[test]
fn panicking_hash_during_writes_in_the_middle_of_a_growth() {
    quiet_armed_panics();
    for operation in 0..3 {
        for nth in 1..=24 {
            let ledger = Ledger::new();
            // 833 entries: a growth from 128 old buckets has just started.
            let mut m = filled(FixedHasher::default(), 833, &ledger);
            assert!(m.is_growing());
            Hook::Hash.arm(nth);
            catch_armed(Hook::Hash, || {
                let _ = match operation {
                    0 => m.remove(&PanicOnHash(400)),
                    1 => m.insert(PanicOnHash(401), ledger.counter(5_000)),
                    _ => m.insert(PanicOnHash(900), ledger.counter(900)),
                };
            });
            check_usable(&mut m, &ledger);
            // Finish the growth, then check again.
            for id in 20_000..20_200 {
                m.insert(PanicOnHash(id), ledger.counter(id));
            }
            check_survivor(&m, &ledger, |k| k.0);
            drop_and_check(m, &ledger, |k| k.0);
        }
    }
}

/// A panicking hash during a lookup leaves the map untouched.
#[test]
fn panicking_hash_during_lookup() {
    quiet_armed_panics();
    let ledger = Ledger::new();
    let mut m = filled(FixedHasher::default(), 833, &ledger);
    let before = check_survivor(&m, &ledger, |k| k.0);
    Hook::Hash.arm(1);
    assert!(catch_armed(Hook::Hash, || {
        let _ = m.get(&PanicOnHash(3));
    }));
    assert_eq!(check_survivor(&m, &ledger, |k| k.0), before);
    check_usable(&mut m, &ledger);
    drop_and_check(m, &ledger, |k| k.0);
}

// ---------------------------------------------------------------------------------------------
// Eq
// ---------------------------------------------------------------------------------------------

/// Under the constant hasher every lookup compares the probe with stored keys one by one.
/// A panic at each comparison of an insert, a lookup and a remove, with and without a growth
/// under way: nothing is added or removed, and the map stays consistent.
#[test]
fn panicking_eq_leaves_contents_unchanged() {
    quiet_armed_panics();
    for size in [50u64, 104, 105, 120] {
        for operation in 0..4 {
            for nth in [1, 2, 7, 8, 9, 30, 49] {
                let ledger = Ledger::new();
                let mut m: HashMap<PanicOnEq, DropCounter, ConstantHasher> =
                    HashMap::with_hasher(ConstantHasher);
                for id in 0..size {
                    m.insert(PanicOnEq(id), ledger.counter(id));
                }
                let before = check_survivor(&m, &ledger, |k| k.0);
                Hook::Eq.arm(nth);
                let panicked = catch_armed(Hook::Eq, || match operation {
                    0 => {
                        let _ = m.insert(PanicOnEq(1_000), ledger.counter(1_000));
                    }
                    1 => {
                        let _ = m.get(&PanicOnEq(size - 1));
                    }
                    2 => {
                        let _ = m.remove(&PanicOnEq(size - 1));
                    }
                    _ => {
                        let _ = m.entry(PanicOnEq(1_001));
                    }
                });
                let after = check_survivor(&m, &ledger, |k| k.0);
                if panicked {
                    assert_eq!(after, before, "size {size}, op {operation}, eq call {nth}");
                }
                // Usable: every old key is found, new keys go in and come out.
                for id in 0..size {
                    if after.contains_key(&id) {
                        assert!(m.contains_key(&PanicOnEq(id)));
                    }
                }
                m.insert(PanicOnEq(2_000), ledger.counter(2_000));
                assert_eq!(m.remove(&PanicOnEq(2_000)).map(|v| v.id()), Some(2_000));
                m.check_invariants();
                drop_and_check(m, &ledger, |k| k.0);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Drop
// ---------------------------------------------------------------------------------------------

type DropValueMap = HashMap<u64, PanicOnDrop, FixedHasher>;

fn drop_value_map(n: u64, ledger: &Ledger) -> DropValueMap {
    let mut m = HashMap::with_hasher(FixedHasher::default());
    for id in 0..n {
        m.insert(id, PanicOnDrop::new(ledger, id));
    }
    m
}

/// Checks a surviving map whose values are `PanicOnDrop`: consistent, nothing in it dropped,
/// usable; then drops it (disarmed) and checks its remaining values were dropped once each.
fn check_drop_value_survivor(mut m: DropValueMap, ledger: &Ledger) {
    m.check_invariants();
    ledger.assert_no_double_drop();
    let mut live = Vec::new();
    for (&k, v) in &m {
        assert_eq!(
            ledger.drops_of(v.id()),
            0,
            "value {} is in the map but was dropped",
            v.id()
        );
        assert!(m.contains_key(&k));
        live.push((k, v.id()));
    }
    assert_eq!(m.len(), live.len(), "len() disagrees with iteration");
    for id in 50_000..50_100 {
        m.insert(id, PanicOnDrop::new(ledger, id));
    }
    m.check_invariants();
    assert!((50_000..50_100).all(|id| m.contains_key(&id)));
    for &(k, value) in &live {
        assert_eq!(m.get(&k).map(PanicOnDrop::id), Some(value));
    }
    drop(m);
    ledger.assert_no_double_drop();
    let values = live
        .into_iter()
        .map(|(_, value)| value)
        .chain(50_000..50_100);
    for value in values {
        assert_eq!(
            ledger.drops_of(value),
            1,
            "value {value} not dropped with the map"
        );
    }
}

#[test]
fn panicking_drop_during_clear() {
    quiet_armed_panics();
    for (n, nth) in [(5, 1), (100, 1), (100, 50), (833, 400), (833, 833)] {
        let ledger = Ledger::new();
        let mut m = drop_value_map(n, &ledger);
        let log2 = m.log2_buckets();
        Hook::Drop.arm(nth);
        assert!(
            catch_armed(Hook::Drop, || m.clear()),
            "clear of {n} must reach drop {nth}"
        );
        assert_eq!(m.log2_buckets(), log2);
        // The panic did not stop the clear (since session 23): every value was dropped once,
        // the panicking one included, and the map is empty.
        assert!(m.is_empty());
        assert!(
            (0..n).all(|id| ledger.drops_of(id) == 1),
            "n = {n}, nth = {nth}: a value was not dropped exactly once"
        );
        check_drop_value_survivor(m, &ledger);
    }
}

#[test]
fn panicking_drop_while_dropping_the_map() {
    quiet_armed_panics();
    for (n, nth) in [(1, 1), (100, 1), (100, 60), (833, 500)] {
        let ledger = Ledger::new();
        let m = drop_value_map(n, &ledger);
        Hook::Drop.arm(nth);
        assert!(catch_armed(Hook::Drop, || drop(m)));
        ledger.assert_no_double_drop();
        // Every value was dropped, those after the panicking one too (since session 23).
        assert!(
            (0..n).all(|id| ledger.drops_of(id) == 1),
            "n = {n}, nth = {nth}: a value was not dropped exactly once"
        );
    }
}

/// Keys and values whose `Drop` panics for some ids: dropping the map, clearing it or ending a
/// drain drops every key and value once (the other half of a panicking entry too), then the
/// first panic reaches the caller, as a `Vec`'s would. Before session 23 the first panic ended
/// the drop and every entry after it leaked, as in hashbrown.
#[test]
fn many_panicking_drops_still_drop_every_entry_once() {
    /// Counts its drop in the ledger (the field drops even when the body panics); panics when
    /// `panics`.
    #[derive(Debug)]
    struct Droppy {
        counter: DropCounter,
        panics: bool,
    }
    impl Droppy {
        /// Makes its drop not panic.
        fn disarm(&mut self) {
            self.panics = false;
        }
    }
    impl Drop for Droppy {
        fn drop(&mut self) {
            assert!(
                !self.panics,
                "{ARMED_PANIC_MESSAGE}: drop of {}",
                self.counter.id()
            );
        }
    }
    /// A key whose `Drop` (its `Droppy`'s) may panic; equal by id.
    #[derive(Debug)]
    struct Key(u64, Droppy);
    impl PartialEq for Key {
        fn eq(&self, other: &Self) -> bool {
            self.0 == other.0
        }
    }
    impl Eq for Key {}
    impl std::hash::Hash for Key {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            self.0.hash(state);
        }
    }
    quiet_armed_panics();
    const N: u64 = 1_000;
    const VALUE_IDS: u64 = 1_000_000;
    for end in ["drop", "clear", "drain"] {
        let ledger = Ledger::new();
        let mut m: HashMap<Key, Droppy, FixedHasher> = HashMap::with_hasher(FixedHasher::default());
        for id in 0..N {
            // Every 7th key and every 11th value panic when dropped (both, for some entries).
            let key = Droppy {
                counter: ledger.counter(id),
                panics: id % 7 == 3,
            };
            let value = Droppy {
                counter: ledger.counter(VALUE_IDS + id),
                panics: id % 11 == 5,
            };
            m.insert(Key(id, key), value);
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| match end {
            "drop" => drop(m),
            "clear" => {
                m.clear();
                unreachable!("clear must resume a panic");
            }
            _ => {
                let mut drain = m.drain();
                // Take a few, drop the rest with the drain. The taken ones are dropped here,
                // outside the map: disarmed, so that the drain's end is what panics.
                for (mut key, mut value) in drain.by_ref().take(10) {
                    key.1.disarm();
                    value.disarm();
                }
                drop(drain);
                unreachable!("the drain's end must resume a panic");
            }
        }));
        let payload = outcome.expect_err(end);
        let message = payload.downcast_ref::<String>().map_or("", String::as_str);
        assert!(message.contains(ARMED_PANIC_MESSAGE), "{end}: {message}");
        ledger.assert_no_double_drop();
        let undropped = (0..N)
            .flat_map(|id| [id, VALUE_IDS + id])
            .filter(|&id| ledger.drops_of(id) != 1)
            .count();
        assert_eq!(undropped, 0, "{end}: halves not dropped exactly once");
    }
}

#[test]
fn panicking_drop_during_retain() {
    quiet_armed_panics();
    for (n, nth) in [(20, 1), (100, 3), (833, 100), (833, 416)] {
        let ledger = Ledger::new();
        let mut m = drop_value_map(n, &ledger);
        Hook::Drop.arm(nth);
        assert!(catch_armed(Hook::Drop, || m.retain(|&k, _| k % 2 == 0)));
        // Every odd key that is still in the map was not dropped (checked by the survivor
        // check); no even key may have been removed.
        assert!(
            (0..n).step_by(2).all(|k| m.contains_key(&k)),
            "retain lost a kept entry"
        );
        check_drop_value_survivor(m, &ledger);
    }
}

#[test]
fn panicking_retain_predicate() {
    quiet_armed_panics();
    for (n, panic_at) in [(20u64, 0u64), (100, 57), (833, 400)] {
        let ledger = Ledger::new();
        let mut m = drop_value_map(n, &ledger);
        let mut calls = 0;
        let result = catch_unwind(AssertUnwindSafe(|| {
            m.retain(|&k, _| {
                calls += 1;
                assert!(
                    calls != panic_at + 1,
                    "{ARMED_PANIC_MESSAGE}: retain predicate"
                );
                k % 3 != 0
            });
        }));
        assert!(result.is_err());
        check_drop_value_survivor(m, &ledger);
    }
}

#[test]
fn panicking_key_drop_during_remove() {
    quiet_armed_panics();
    for n in [1u64, 9, 100, 833] {
        let ledger = Ledger::new();
        let mut m: HashMap<PanicOnDrop, DropCounter, FixedHasher> =
            HashMap::with_hasher(FixedHasher::default());
        for id in 0..n {
            m.insert(
                PanicOnDrop::new(&ledger, id),
                ledger.counter(1_000_000 + id),
            );
        }
        // `remove` returns the value and drops the stored key inside the call.
        Hook::Drop.arm(1);
        let mut removed = None;
        assert!(catch_armed(Hook::Drop, || removed = m.remove(&(n / 2))));
        drop(removed);
        check_survivor(&m, &ledger, PanicOnDrop::id);
        assert!(!m.contains_key(&(n / 2)) || ledger.drops_of(n / 2) == 0);
        // The removed value is dropped as the panic leaves `remove`, not leaked: until session
        // 30 it was already the return value when the key's drop panicked (rust#47949).
        assert!(
            !m.contains_key(&(n / 2)),
            "n = {n}: the key was removed before its drop"
        );
        assert_eq!(
            ledger.drops_of(1_000_000 + n / 2),
            1,
            "n = {n}: the removed value"
        );
        for id in 0..n {
            if id != n / 2 {
                assert!(m.contains_key(&id), "n = {n}: key {id} lost");
            }
        }
        m.insert(PanicOnDrop::new(&ledger, 7_000), ledger.counter(1_007_000));
        assert!(m.contains_key(&7_000));
        drop_and_check(m, &ledger, PanicOnDrop::id);
    }
}

/// `OccupiedEntry::remove`, `into_values` and `into_keys` drop one half of an entry and hand
/// out the other: a panic in the first drop drops the second on the way out. Until session 30
/// (a review) it was already the return value, and rust#47949 leaked it.
#[test]
fn a_panicking_drop_of_one_half_of_an_entry_drops_the_other_half() {
    quiet_armed_panics();
    let filled = |ledger: &Ledger| {
        let mut m = HashMap::with_hasher(FixedHasher::default());
        for id in 0..3 {
            m.insert(PanicOnDrop::new(ledger, id), ledger.counter(1_000_000 + id));
        }
        m
    };
    let ledger = Ledger::new();
    let mut m = filled(&ledger);
    // `entry` drops the probe key when it finds the stored one, before the hook is armed.
    let hmap::hash_map::Entry::Occupied(entry) = m.entry(PanicOnDrop::new(&Ledger::new(), 1))
    else {
        unreachable!("key 1 is present")
    };
    Hook::Drop.arm(1);
    assert!(catch_armed(Hook::Drop, || drop(entry.remove())));
    assert_eq!(
        ledger.drops_of(1_000_001),
        1,
        "OccupiedEntry::remove's value"
    );
    check_survivor(&m, &ledger, PanicOnDrop::id);
    drop_and_check(m, &ledger, PanicOnDrop::id);

    // `into_values`: each key is dropped as its value is handed out. The first key's drop
    // panics; its value must not leak. The rest are dropped with the iterator.
    let ledger = Ledger::new();
    let m = filled(&ledger);
    Hook::Drop.arm(1);
    assert!(catch_armed(Hook::Drop, || {
        for value in m.into_values() {
            drop(value);
        }
    }));
    ledger.assert_no_double_drop();
    for id in 0..3 {
        assert_eq!(ledger.drops_of(id), 1, "into_values: key {id}");
        assert_eq!(
            ledger.drops_of(1_000_000 + id),
            1,
            "into_values: value {id}"
        );
    }
}

#[test]
fn panicking_key_drop_during_insert_of_an_existing_key() {
    quiet_armed_panics();
    for n in [1u64, 9, 104, 833] {
        let ledger = Ledger::new();
        let mut m: HashMap<PanicOnDrop, DropCounter, FixedHasher> =
            HashMap::with_hasher(FixedHasher::default());
        for id in 0..n {
            m.insert(
                PanicOnDrop::new(&ledger, id),
                ledger.counter(1_000_000 + id),
            );
        }
        // One of the two equal keys (std keeps the stored one) is dropped inside `insert`. The
        // duplicate's own drop is recorded under the same id, so give it a separate ledger.
        let probe_ledger = Ledger::new();
        Hook::Drop.arm(1);
        let mut replaced = None;
        assert!(catch_armed(Hook::Drop, || {
            replaced = m.insert(
                PanicOnDrop::new(&probe_ledger, 0),
                ledger.counter(2_000_000),
            );
        }));
        drop(replaced);
        probe_ledger.assert_no_double_drop();
        let live = check_survivor(&m, &ledger, PanicOnDrop::id);
        // The new value is in; the old one is dropped as the panic leaves `insert`, not leaked:
        // until session 30 it was already the return value when the key's drop panicked
        // (rust#47949).
        assert_eq!(live.get(&0), Some(&2_000_000), "n = {n}: value of key 0");
        assert_eq!(ledger.drops_of(1_000_000), 1, "n = {n}: the replaced value");
        for id in 1..n {
            assert_eq!(live.get(&id), Some(&(1_000_000 + id)), "n = {n}: key {id}");
        }
        m.insert(PanicOnDrop::new(&ledger, 7_000), ledger.counter(1_007_000));
        drop_and_check(m, &ledger, PanicOnDrop::id);
    }
}

#[test]
fn panicking_drop_of_a_replaced_value_outside_the_map() {
    quiet_armed_panics();
    let ledger = Ledger::new();
    let mut m = drop_value_map(100, &ledger);
    Hook::Drop.arm(1);
    // The old value is returned, so its drop (and panic) happens after `insert` has finished.
    assert!(catch_armed(Hook::Drop, || {
        m.insert(5, PanicOnDrop::new(&ledger, 5_000));
    }));
    assert_eq!(ledger.drops_of(5), 1);
    assert_eq!(m.get(&5).map(PanicOnDrop::id), Some(5_000));
    check_drop_value_survivor(m, &ledger);
}

#[test]
fn panicking_drop_in_partially_consumed_drain_and_into_iter() {
    quiet_armed_panics();
    for (n, taken, nth) in [(100u64, 10usize, 1u64), (100, 0, 50), (833, 300, 100)] {
        // Drain: the undrained rest is dropped when the Drain is; the map is empty afterwards.
        let ledger = Ledger::new();
        let mut m = drop_value_map(n, &ledger);
        let mut kept = Vec::new();
        Hook::Drop.arm(nth);
        assert!(catch_armed(Hook::Drop, || {
            let mut drain = m.drain();
            kept.extend(drain.by_ref().take(taken));
            drop(drain);
        }));
        ledger.assert_no_double_drop();
        assert_eq!(kept.len(), taken);
        for (k, _) in &kept {
            assert_eq!(ledger.drops_of(*k), 0, "a drained value was dropped");
        }
        check_drop_value_survivor(m, &ledger);
        drop(kept);
        ledger.assert_no_double_drop();

        // IntoIter.
        let ledger = Ledger::new();
        let m = drop_value_map(n, &ledger);
        let mut kept = Vec::new();
        Hook::Drop.arm(nth);
        assert!(catch_armed(Hook::Drop, || {
            let mut iter = m.into_iter();
            kept.extend(iter.by_ref().take(taken));
            drop(iter);
        }));
        ledger.assert_no_double_drop();
        for (k, _) in &kept {
            assert_eq!(ledger.drops_of(*k), 0, "a yielded value was dropped");
        }
        drop(kept);
        ledger.assert_no_double_drop();
    }
}

// ---------------------------------------------------------------------------------------------
// Clone
// ---------------------------------------------------------------------------------------------

/// A hasher whose `Clone` panics when [`Hook::Clone`] is armed.
#[derive(Default)]
struct PanickyCloneHasher(FixedHasher);

impl Clone for PanickyCloneHasher {
    fn clone(&self) -> Self {
        Hook::Clone.tick();
        Self(self.0.clone())
    }
}

impl std::hash::BuildHasher for PanickyCloneHasher {
    type Hasher = <FixedHasher as std::hash::BuildHasher>::Hasher;

    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

/// A panicking `S::clone` during `HashMap::clone`, with both arrays of a growth to copy: the
/// copy's arrays are not allocated yet, so nothing leaks (until session 30 they were allocated
/// first and leaked, about 58 KB here; a review found it with a counting allocator; CI's ASan
/// step runs this file under LeakSanitizer), and the original is untouched.
#[test]
fn panicking_hasher_clone_during_map_clone() {
    quiet_armed_panics();
    let mut m: HashMap<u64, u64, PanickyCloneHasher> =
        HashMap::with_hasher(PanickyCloneHasher::default());
    let mut n = 0;
    while !m.is_growing() {
        m.insert(n, n);
        n += 1;
    }
    Hook::Clone.arm(1);
    assert!(catch_armed(Hook::Clone, || drop(m.clone())));
    m.check_invariants();
    assert_eq!(m.len() as u64, n);
    let copy = m.clone();
    for key in 0..n {
        assert_eq!((m.get(&key), copy.get(&key)), (Some(&key), Some(&key)));
    }
}

#[test]
fn panicking_value_clone_during_map_clone() {
    quiet_armed_panics();
    for (n, nth) in [(1u64, 1u64), (50, 25), (833, 600)] {
        let ledger = Ledger::new();
        let mut m: HashMap<u64, PanicOnClone, FixedHasher> =
            HashMap::with_hasher(FixedHasher::default());
        for id in 0..n {
            m.insert(id, PanicOnClone::new(&ledger, id));
        }
        Hook::Clone.arm(nth);
        assert!(catch_armed(Hook::Clone, || drop(m.clone())));
        ledger.assert_no_double_drop();
        // The original is untouched; the clones made before the panic were not leaked twice.
        m.check_invariants();
        assert_eq!(m.len() as u64, n);
        for id in 0..n {
            assert_eq!(m.get(&id).map(PanicOnClone::id), Some(id));
            assert_eq!(ledger.drops_of(id), 0);
            assert!(ledger.drops_of(id + CLONE_ID_OFFSET) <= 1);
        }
        // A full clone now works. Its values reuse the ids of the clones made before the panic,
        // so from here on count the originals only.
        let copy = m.clone();
        assert_eq!(copy.len() as u64, n);
        drop(copy);
        drop(m);
        for id in 0..n {
            assert_eq!(ledger.drops_of(id), 1, "original {id}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Collisions
// ---------------------------------------------------------------------------------------------

/// 2000 keys that all collide (constant hasher): one chain of 250 buckets, several doubling
/// growths; every key is found, updated and removed correctly.
#[test]
fn colliding_keys_stay_correct() {
    let ledger = Ledger::new();
    let mut m: HashMap<u64, DropCounter, ConstantHasher> = HashMap::with_hasher(ConstantHasher);
    for id in 0..2000 {
        assert!(m.insert(id, ledger.counter(id)).is_none());
        if id % 250 == 0 {
            m.check_invariants();
        }
    }
    m.check_invariants();
    for id in 0..2000 {
        assert_eq!(m.get(&id).map(DropCounter::id), Some(id));
    }
    assert!(m.get(&2000).is_none());
    for id in (0..2000).step_by(2) {
        let old = m.insert(id, ledger.counter(10_000 + id)).expect("present");
        assert_eq!(old.id(), id);
    }
    for id in 0..2000 {
        let want = if id % 2 == 0 { 10_000 + id } else { id };
        assert_eq!(m.remove(&id).map(|v| v.id()), Some(want));
        if id % 250 == 0 {
            m.check_invariants();
        }
    }
    assert!(m.is_empty());
    m.check_invariants();
    assert_eq!(ledger.total(), 3000);
    ledger.assert_no_double_drop();
}
