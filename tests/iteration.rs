//! Iteration in every growth state.
//!
//! While a growth is under way, entries live in two arrays: an iterator walks the new bucket
//! array and, where the old bucket feeding a new one has not been evacuated yet, must read the
//! old bucket instead and produce each of its entries once (Go does this with the X/Y filter,
//! `checkBucket`). Getting that wrong produces an entry twice or not at all, and only at the
//! sizes where a growth is under way. These tests insert one entry at a time across many
//! growth points and iterate after every insert, so every intermediate state is visited; they
//! also check that every iterator (`iter`, `iter_mut`, `keys`, `values`, `values_mut`, `drain`,
//! `into_iter`, `into_keys`, `into_values`) agrees, and that partially consumed owning
//! iterators drop the rest exactly once.

mod common;

use std::hash::BuildHasher;

use common::{
    assert_same_entries, start_same_size_growth, start_same_size_growth_with, DropCounter,
    FixedHasher, HasherKind, Ledger, LowEntropyHasher, MatrixHasher,
};
use hmap::{GrowthKind, HashMap, LoadFactor};

fn value_of(key: u64) -> u64 {
    key.wrapping_mul(3) + 1
}

/// Checks that iterating `m` yields exactly the keys `k` with `expected[k]`, each once, with
/// value `value_of(k)`, and that `len()` agrees.
#[track_caller]
fn check_exactly_once<S: BuildHasher>(m: &HashMap<u64, u64, S>, expected: &[bool], context: &str) {
    let mut seen = vec![false; expected.len()];
    let iter = m.iter();
    let want_len = expected.iter().filter(|&&present| present).count();
    assert_eq!(iter.len(), want_len, "{context}: iter().len()");
    assert_eq!(m.len(), want_len, "{context}: len()");
    let mut count = 0;
    for (&k, &v) in iter {
        let index = k as usize;
        assert!(
            index < expected.len() && expected[index],
            "{context}: produced key {k}, which is not in the map"
        );
        assert!(!seen[index], "{context}: produced key {k} twice");
        seen[index] = true;
        assert_eq!(v, value_of(k), "{context}: value of key {k}");
        count += 1;
    }
    assert_eq!(count, want_len, "{context}: iteration missed entries");
}

/// Inserts 0..n one at a time into `m`, iterating after every insert. Returns how many of those
/// iterations happened in the middle of a growth.
fn insert_and_iterate_each_step<S: BuildHasher>(
    m: &mut HashMap<u64, u64, S>,
    n: u64,
    context: &str,
) -> usize {
    let mut expected = vec![false; n as usize];
    let mut mid_growth = 0;
    for k in 0..n {
        m.insert(k, value_of(k));
        expected[k as usize] = true;
        m.check_invariants();
        if m.is_growing() {
            mid_growth += 1;
        }
        check_exactly_once(m, &expected, &format!("{context}, after inserting {k}"));
    }
    mid_growth
}

/// Every growth point up to B = 8 (inserts 9, 14, 27, 53, 105, 209, 417, 833), every hasher.
#[test]
fn every_entry_exactly_once_after_each_insert() {
    for hasher in HasherKind::ALL {
        let mut m = HashMap::with_hasher(hasher.build());
        let mid_growth = insert_and_iterate_each_step(&mut m, 900, &format!("{hasher:?}"));
        // Growths from B ≥ 2 stay under way for several writes.
        assert!(
            mid_growth >= 6 * 2,
            "{hasher:?}: only {mid_growth} mid-growth iterations"
        );
    }
}

/// The same with presized maps and with Go 1.21's load factor (different growth points).
#[test]
fn every_entry_exactly_once_after_each_insert_presized_and_go121() {
    for hasher in [
        HasherKind::Fixed,
        HasherKind::LowEntropy,
        HasherKind::Constant,
    ] {
        for capacity in [3, 60] {
            let mut m = HashMap::with_capacity_and_hasher(capacity, hasher.build());
            insert_and_iterate_each_step(&mut m, 500, &format!("{hasher:?}, capacity {capacity}"));
        }
        let mut m: HashMap<u64, u64, MatrixHasher> =
            HashMap::with_capacity_hasher_and_load_factor(0, hasher.build(), LoadFactor::Go121);
        insert_and_iterate_each_step(&mut m, 800, &format!("{hasher:?}, Go121"));
    }
}

/// Bigger growths (from 256, 512 and 1024 old buckets), checked at every step. Slower.
#[test]
#[ignore = "quadratic in the size; run with --release --ignored"]
fn every_entry_exactly_once_after_each_insert_large() {
    for hasher in [
        HasherKind::Default,
        HasherKind::Fixed,
        HasherKind::LowEntropy,
    ] {
        let mut m = HashMap::with_hasher(hasher.build());
        insert_and_iterate_each_step(&mut m, 7000, &format!("{hasher:?}"));
    }
}

/// Removes interleaved with inserts: after every operation, iteration produces exactly the
/// live entries, in growing and non-growing states alike.
#[test]
fn every_entry_exactly_once_with_removes_interleaved() {
    for hasher in HasherKind::ALL {
        let n = 1200u64;
        let mut m = HashMap::with_hasher(hasher.build());
        let mut expected = vec![false; n as usize];
        let mut mid_growth = 0;
        for k in 0..n {
            m.insert(k, value_of(k));
            expected[k as usize] = true;
            if k % 3 == 2 {
                // Remove an older key: some in evacuated buckets, some not.
                let victim = (k * 7) % (k + 1);
                let removed = m.remove(&victim);
                assert_eq!(removed.is_some(), expected[victim as usize], "{hasher:?}");
                expected[victim as usize] = false;
            }
            m.check_invariants();
            if m.is_growing() {
                mid_growth += 1;
                check_exactly_once(&m, &expected, &format!("{hasher:?}, step {k}"));
            } else if k % 16 == 0 {
                check_exactly_once(&m, &expected, &format!("{hasher:?}, step {k}"));
            }
        }
        assert!(mid_growth > 0, "{hasher:?}");
    }
}

/// Sizes around the growth points, where maps are in the middle of a doubling.
fn interesting_sizes() -> Vec<u64> {
    let mut sizes = vec![0, 1, 8, 9, 13, 14, 15];
    for point in [27u64, 53, 105, 209, 417, 833] {
        sizes.extend([point - 1, point, point + 1, point + 2, point + 5]);
    }
    sizes
}

fn filled(hasher: HasherKind, n: u64) -> HashMap<u64, u64, MatrixHasher> {
    let mut m = HashMap::with_hasher(hasher.build());
    for k in 0..n {
        m.insert(k, value_of(k));
    }
    m
}

#[test]
fn iter_mut_modifications_are_seen_by_later_reads() {
    for hasher in HasherKind::ALL {
        for n in interesting_sizes() {
            let mut m = filled(hasher, n);
            let growing = m.is_growing();
            let mut visited = 0;
            for (&k, v) in m.iter_mut() {
                assert_eq!(*v, value_of(k));
                *v += 1000;
                visited += 1;
            }
            assert_eq!(visited, n);
            assert_eq!(
                m.is_growing(),
                growing,
                "iteration changed the growth state"
            );
            for k in 0..n {
                assert_eq!(
                    m.get(&k),
                    Some(&(value_of(k) + 1000)),
                    "{hasher:?}, n = {n}"
                );
            }
            for v in m.values_mut() {
                *v -= 1000;
            }
            let expected = vec![true; n as usize];
            check_exactly_once(&m, &expected, &format!("{hasher:?}, n = {n}"));
            // Writes after iteration still advance and finish the growth correctly.
            for k in n..n + 300 {
                m.insert(k, value_of(k));
            }
            m.check_invariants();
            check_exactly_once(
                &m,
                &vec![true; n as usize + 300],
                &format!("{hasher:?}, n = {n}"),
            );
        }
    }
}

#[test]
fn all_iterators_agree() {
    for hasher in HasherKind::ALL {
        for n in interesting_sizes() {
            let context = format!("{hasher:?}, n = {n}");
            let mut m = filled(hasher, n);
            let want: Vec<(u64, u64)> = (0..n).map(|k| (k, value_of(k))).collect();
            let sorted = |mut items: Vec<(u64, u64)>| {
                items.sort_unstable();
                items
            };
            let sorted_u64 = |mut items: Vec<u64>| {
                items.sort_unstable();
                items
            };

            assert_eq!(
                sorted(m.iter().map(|(&k, &v)| (k, v)).collect()),
                want,
                "{context}"
            );
            assert_eq!(
                sorted_u64(m.keys().copied().collect()),
                want.iter().map(|p| p.0).collect::<Vec<_>>(),
                "{context}: keys"
            );
            assert_eq!(
                sorted_u64(m.values().copied().collect()),
                sorted_u64(want.iter().map(|p| p.1).collect()),
                "{context}: values"
            );
            assert_eq!(
                sorted_u64(m.values_mut().map(|v| *v).collect()),
                sorted_u64(want.iter().map(|p| p.1).collect()),
                "{context}: values_mut"
            );
            assert_eq!(
                sorted(m.iter_mut().map(|(&k, v)| (k, *v)).collect()),
                want,
                "{context}: iter_mut"
            );
            assert_eq!(
                sorted((&m).into_iter().map(|(&k, &v)| (k, v)).collect()),
                want
            );
            assert_eq!(
                sorted(m.clone().into_iter().collect()),
                want,
                "{context}: into_iter"
            );
            assert_eq!(
                sorted_u64(m.clone().into_keys().collect()),
                want.iter().map(|p| p.0).collect::<Vec<_>>(),
                "{context}: into_keys"
            );
            assert_eq!(
                sorted_u64(m.clone().into_values().collect()),
                sorted_u64(want.iter().map(|p| p.1).collect()),
                "{context}: into_values"
            );
            assert_eq!(sorted(m.drain().collect()), want, "{context}: drain");
            assert!(m.is_empty(), "{context}");
            assert_eq!(m.iter().count(), 0, "{context}");
            m.check_invariants();
        }
    }
}

#[test]
fn zero_sized_values_and_keys_iterate() {
    let mut set: HashMap<u64, ()> = HashMap::new();
    let mut mid_growth = 0;
    for k in 0..600u64 {
        set.insert(k, ());
        if set.is_growing() {
            mid_growth += 1;
        }
        let mut keys: Vec<u64> = set.keys().copied().collect();
        keys.sort_unstable();
        assert_eq!(keys, (0..=k).collect::<Vec<_>>());
        assert_eq!(set.values().len(), k as usize + 1);
    }
    assert!(mid_growth > 0);
    assert_eq!(set.drain().count(), 600);

    let mut unit_key: HashMap<(), String> = HashMap::new();
    assert_eq!(unit_key.iter().count(), 0);
    unit_key.insert((), String::from("a"));
    unit_key.insert((), String::from("b"));
    assert_eq!(
        unit_key.iter().collect::<Vec<_>>(),
        [(&(), &String::from("b"))]
    );
    assert_eq!(
        unit_key.into_iter().collect::<Vec<_>>(),
        [((), String::from("b"))]
    );

    let mut both: HashMap<(), ()> = HashMap::new();
    both.insert((), ());
    assert_eq!(both.iter().count(), 1);
    assert_eq!(both.into_iter().count(), 1);
}

/// Partially consumed `IntoIter` and `Drain` drop the rest exactly once, in every growth state;
/// values already handed out are not dropped by the iterator.
#[test]
fn partially_consumed_owning_iterators_drop_the_rest_once() {
    for n in interesting_sizes() {
        for taken in [0, 1, n / 2, n] {
            let taken = taken as usize;
            for use_drain in [false, true] {
                let ledger = Ledger::new();
                let mut m: HashMap<u64, DropCounter, FixedHasher> =
                    HashMap::with_hasher(FixedHasher::default());
                for k in 0..n {
                    m.insert(k, ledger.counter(k));
                }
                let kept: Vec<(u64, DropCounter)> = if use_drain {
                    m.drain().take(taken).collect()
                } else {
                    std::mem::replace(&mut m, HashMap::with_hasher(FixedHasher::default()))
                        .into_iter()
                        .take(taken)
                        .collect()
                };
                let context = format!("n = {n}, taken {taken}, drain {use_drain}");
                assert_eq!(kept.len(), taken.min(n as usize), "{context}");
                assert!(m.is_empty(), "{context}");
                assert_eq!(
                    ledger.total(),
                    n as usize - kept.len(),
                    "{context}: the rest"
                );
                for (k, v) in &kept {
                    assert_eq!(*k, v.id());
                    assert_eq!(
                        ledger.drops_of(*k),
                        0,
                        "{context}: handed-out value dropped"
                    );
                }
                drop(kept);
                assert_eq!(ledger.total(), n as usize, "{context}");
                ledger.assert_no_double_drop();
                m.check_invariants();
                m.insert(1, ledger.counter(1_000));
                assert_eq!(m.len(), 1);
            }
        }
    }
}

/// Keys that need dropping, through `into_keys`/`into_values`, partially consumed.
#[test]
fn into_keys_and_into_values_drop_the_rest_once() {
    for n in [0u64, 9, 27, 106, 300] {
        let ledger = Ledger::new();
        let m: HashMap<DropCounter, DropCounter, FixedHasher> = (0..n)
            .map(|k| (ledger.counter(k), ledger.counter(1_000_000 + k)))
            .collect();
        let keys: Vec<DropCounter> = m.into_keys().take(n as usize / 2).collect();
        assert_eq!(ledger.total(), 2 * n as usize - keys.len(), "n = {n}");
        drop(keys);
        assert_eq!(ledger.total(), 2 * n as usize);
        ledger.assert_no_double_drop();

        let ledger = Ledger::new();
        let m: HashMap<DropCounter, DropCounter, FixedHasher> = (0..n)
            .map(|k| (ledger.counter(k), ledger.counter(1_000_000 + k)))
            .collect();
        let values: Vec<DropCounter> = m.into_values().take(3).collect();
        assert_eq!(ledger.total(), 2 * n as usize - values.len(), "n = {n}");
        drop(values);
        assert_eq!(ledger.total(), 2 * n as usize);
        ledger.assert_no_double_drop();
    }
}

/// Dropping a map drops every key and value exactly once, in every growth state.
#[test]
fn dropping_a_map_drops_every_entry_once() {
    for n in interesting_sizes() {
        let ledger = Ledger::new();
        let mut m: HashMap<DropCounter, DropCounter, FixedHasher> =
            HashMap::with_hasher(FixedHasher::default());
        for k in 0..n {
            m.insert(ledger.counter(k), ledger.counter(1_000_000 + k));
        }
        let growing = m.is_growing();
        drop(m);
        assert_eq!(ledger.total(), 2 * n as usize, "n = {n}, growing {growing}");
        ledger.assert_no_double_drop();
    }
}

/// Dropping a map, draining it and consuming it in the middle of a same-size growth drops every
/// live value exactly once (entries are in old and new buckets at the same time).
#[test]
fn dropping_during_same_size_growth_drops_every_entry_once() {
    for how in ["drop", "drain", "into_iter", "clear"] {
        let ledger = Ledger::new();
        let mut m: HashMap<u64, DropCounter, LowEntropyHasher> =
            HashMap::with_capacity_and_hasher(90, LowEntropyHasher);
        let live = start_same_size_growth_with(&mut m, |key| ledger.counter(key));
        assert_eq!(m.len(), live.len());
        let removed_before = ledger.total();
        match how {
            "drop" => drop(m),
            "drain" => assert_eq!(m.drain().count(), live.len()),
            "into_iter" => assert_eq!(m.into_iter().take(5).count(), 5.min(live.len())),
            _ => {
                m.clear();
                m.check_invariants();
                assert!(!m.is_growing());
            }
        }
        ledger.assert_no_double_drop();
        assert_eq!(ledger.total(), removed_before + live.len(), "{how}");
        for key in live {
            assert_eq!(ledger.drops_of(key), 1, "{how}: key {key}");
        }
    }
}

/// Iteration while a same-size growth is under way (entries are in unevacuated old buckets and
/// in the new array at the same time), after every write until it is over.
#[test]
fn every_entry_exactly_once_during_same_size_growth() {
    let mut m: HashMap<u64, u64, LowEntropyHasher> =
        HashMap::with_capacity_and_hasher(90, LowEntropyHasher);
    let mut model = start_same_size_growth(&mut m);
    let mut same_size_states = 0;
    let mut key = 1 << 30;
    while m.stats().growth == Some(GrowthKind::SameSize) {
        same_size_states += 1;
        assert_same_entries(&m, &model);
        // New keys spread over many collision classes; updates once the map is near the
        // doubling threshold (104), so that no doubling follows the same-size growth.
        if model.len() < 100 {
            m.insert(key, key);
            model.insert(key, key);
            key += 1;
        } else {
            m.insert(key - 1, 0);
            model.insert(key - 1, 0);
        }
        m.check_invariants();
        assert_eq!(m.log2_buckets(), 4);
    }
    assert!(same_size_states > 0);
    assert_same_entries(&m, &model);
}
