//! Parity with `std::collections::HashMap`: every method and trait of the public API
//! (design/api-contract.md) behaves as std's does, plus the research accessors (`capacity`,
//! `log2_buckets`, `stats`, `header`) agree with each other.

mod common;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::iter::FusedIterator;

use common::{with_maps, ConstantHasher, FixedHasher, HasherKind, Ledger, LowEntropyHasher};
use hmap::hash_map::{
    Drain, Entry, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys, OccupiedEntry, VacantEntry,
    Values, ValuesMut,
};
use hmap::{
    DefaultHashBuilder, GrowthKind, HashMap, LoadFactor, MapStats, TryReserveError,
    SLOTS_PER_BUCKET,
};

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

fn map_of(n: u64) -> HashMap<u64, u64> {
    (0..n).map(|i| (i, i * 10)).collect()
}

// ---------------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------------

#[test]
fn new_map_is_empty_with_one_bucket_of_capacity() {
    let m: HashMap<u64, u64> = HashMap::new();
    assert_eq!(m.len(), 0);
    assert!(m.is_empty());
    assert_eq!(m.get(&1), None);
    assert_eq!(m.iter().next(), None);
    assert_eq!(m.log2_buckets(), 0);
    assert_eq!(m.capacity(), 8);
    assert!(!m.is_growing());
    assert_eq!(m.load_factor_setting(), LoadFactor::Go122);
    m.check_invariants();

    let d: HashMap<u64, u64> = HashMap::default();
    assert!(d.is_empty());
    assert_eq!(d, m);
}

#[test]
fn with_capacity_fits_that_many_entries_without_growing() {
    for capacity in [0, 1, 7, 8, 9, 50, 100, 1000, 5000] {
        let mut m: HashMap<u64, u64> = HashMap::with_capacity(capacity);
        assert!(
            m.capacity() >= capacity,
            "capacity({capacity}) = {}",
            m.capacity()
        );
        let log2 = m.log2_buckets();
        for i in 0..capacity as u64 {
            m.insert(i, i);
        }
        assert_eq!(m.log2_buckets(), log2, "with_capacity({capacity}) grew");
        assert!(!m.is_growing());
        m.check_invariants();
    }
}

#[test]
fn hasher_constructors_use_the_given_hasher() {
    let m: HashMap<u64, u64, ConstantHasher> = HashMap::with_hasher(ConstantHasher);
    let state = m.hasher();
    assert_eq!(state.hash_one(1u64), state.hash_one(2u64));

    let m: HashMap<u64, u64, LowEntropyHasher> =
        HashMap::with_capacity_and_hasher(100, LowEntropyHasher);
    assert!(m.capacity() >= 100);
    assert_eq!(m.hasher().hash_one(65u64), 1);

    let m = HashMap::<u64, u64, _>::with_capacity_hasher_and_load_factor(
        100,
        FixedHasher::default(),
        LoadFactor::Go121,
    );
    assert_eq!(m.load_factor_setting(), LoadFactor::Go121);
    assert_eq!(
        m.log2_buckets(),
        5,
        "hint 100 at load factor 6.0: 97–192 → B = 5"
    );
    assert_eq!(m.capacity(), 12 * 32 / 2);

    let m: HashMap<u64, u64> = HashMap::with_load_factor(LoadFactor::Go121);
    assert_eq!(m.load_factor_setting(), LoadFactor::Go121);
    assert!(m.is_empty());
}

#[test]
fn default_hash_builder_is_seeded_per_map() {
    // Two maps built with DefaultHashBuilder hash differently (random per-map seed).
    let a = DefaultHashBuilder::default();
    let b = DefaultHashBuilder::default();
    let differs = (0u64..16).any(|k| a.hash_one(k) != b.hash_one(k));
    assert!(differs, "two default hash builders hash identically");
}

#[test]
fn load_factor_values() {
    assert_eq!(LoadFactor::Go122.num(), 13);
    assert_eq!(LoadFactor::Go121.num(), 12);
    assert_eq!(LoadFactor::Go122.den(), 2);
    assert_eq!(LoadFactor::Go121.den(), 2);
    assert_eq!(LoadFactor::Go122.as_f64(), 6.5);
    assert_eq!(LoadFactor::Go121.as_f64(), 6.0);
    assert_eq!(LoadFactor::default(), LoadFactor::Go122);
    assert_eq!(SLOTS_PER_BUCKET, 8);
}

// ---------------------------------------------------------------------------------------------
// Basic operations
// ---------------------------------------------------------------------------------------------

#[test]
fn insert_get_remove_roundtrip_in_every_configuration() {
    with_maps(500, |config, mut m| {
        for i in 0..500u64 {
            assert_eq!(m.insert(i, i * 2), None, "{config}: fresh insert {i}");
            assert_eq!(m.len() as u64, i + 1);
        }
        m.check_invariants();
        for i in 0..500u64 {
            assert_eq!(m.get(&i), Some(&(i * 2)), "{config}: get {i}");
            assert!(m.contains_key(&i));
            assert_eq!(m.insert(i, i * 3), Some(i * 2), "{config}: update {i}");
        }
        assert_eq!(m.len(), 500);
        assert_eq!(m.get(&500), None);
        assert!(!m.contains_key(&10_000));
        for i in (0..500u64).step_by(3) {
            assert_eq!(m.remove(&i), Some(i * 3), "{config}: remove {i}");
            assert_eq!(m.remove(&i), None, "{config}: second remove {i}");
        }
        m.check_invariants();
        for i in 0..500u64 {
            let want = (i % 3 != 0).then_some(i * 3);
            assert_eq!(m.get(&i).copied(), want, "{config}: after removes, key {i}");
        }
        assert_eq!(m.len(), 500 - 167);
    });
}

#[test]
fn get_mut_changes_the_stored_value() {
    let mut m = map_of(100);
    for i in 0..100 {
        *m.get_mut(&i).unwrap() += 1;
    }
    assert!(m.get_mut(&100).is_none());
    for i in 0..100 {
        assert_eq!(m[&i], i * 10 + 1);
    }
}

#[test]
fn get_key_value_and_remove_entry_return_the_stored_key() {
    /// Equal by `id`; `tag` tells the stored key from a lookup key.
    #[derive(Clone, Copy, Debug)]
    struct Tagged {
        id: u64,
        tag: u8,
    }
    impl PartialEq for Tagged {
        fn eq(&self, other: &Self) -> bool {
            self.id == other.id
        }
    }
    impl Eq for Tagged {}
    impl Hash for Tagged {
        fn hash<H: Hasher>(&self, state: &mut H) {
            self.id.hash(state);
        }
    }
    let mut m: HashMap<Tagged, u64> = HashMap::new();
    m.insert(Tagged { id: 1, tag: 1 }, 10);
    let (k, v) = m.get_key_value(&Tagged { id: 1, tag: 9 }).unwrap();
    assert_eq!((k.tag, *v), (1, 10));
    // std: insert on an existing key updates the value and keeps the stored key.
    assert_eq!(m.insert(Tagged { id: 1, tag: 2 }, 20), Some(10));
    let (k, v) = m.get_key_value(&Tagged { id: 1, tag: 9 }).unwrap();
    assert_eq!((k.tag, *v), (1, 20), "insert replaced the stored key");
    let (k, v) = m.remove_entry(&Tagged { id: 1, tag: 9 }).unwrap();
    assert_eq!((k.tag, v), (1, 20));
    assert!(m.remove_entry(&Tagged { id: 1, tag: 9 }).is_none());
    assert!(m.get_key_value(&Tagged { id: 1, tag: 9 }).is_none());
}

#[test]
fn lookups_accept_borrowed_forms_of_the_key() {
    let mut m: HashMap<String, u64> = HashMap::new();
    for i in 0..100 {
        m.insert(format!("key{i}"), i);
    }
    assert_eq!(m.get("key7"), Some(&7));
    assert_eq!(m["key8"], 8);
    assert!(m.contains_key("key9"));
    assert!(!m.contains_key("key100"));
    *m.get_mut("key10").unwrap() = 1000;
    assert_eq!(
        m.get_key_value("key10"),
        Some((&String::from("key10"), &1000))
    );
    assert_eq!(m.remove("key11"), Some(11));
    assert_eq!(m.remove_entry("key12"), Some((String::from("key12"), 12)));
    assert_eq!(m.len(), 98);

    let mut boxed: HashMap<Box<[u8]>, u64> = HashMap::new();
    boxed.insert(Box::from(&b"abc"[..]), 1);
    assert_eq!(boxed.get(&b"abc"[..]), Some(&1));

    let mut vecs: HashMap<Vec<u64>, u64> = HashMap::new();
    vecs.insert(vec![1, 2, 3], 6);
    assert_eq!(vecs.get(&[1, 2, 3][..]), Some(&6));
}

#[test]
fn index_returns_the_value() {
    let m = map_of(50);
    for i in 0..50 {
        assert_eq!(m[&i], i * 10);
    }
}

#[test]
#[should_panic]
fn index_panics_on_a_missing_key() {
    let m = map_of(50);
    let _ = m[&50];
}

#[test]
#[should_panic]
fn index_panics_on_an_empty_map() {
    let m: HashMap<u64, u64> = HashMap::new();
    let _ = m[&0];
}

// ---------------------------------------------------------------------------------------------
// Entry API
// ---------------------------------------------------------------------------------------------

#[test]
fn entry_or_insert_family() {
    let mut m: HashMap<String, u64> = HashMap::new();
    assert_eq!(*m.entry(String::from("a")).or_insert(1), 1);
    assert_eq!(
        *m.entry(String::from("a")).or_insert(2),
        1,
        "occupied keeps its value"
    );
    *m.entry(String::from("a")).or_insert(0) += 10;
    assert_eq!(m["a"], 11);

    let mut calls = 0;
    assert_eq!(
        *m.entry(String::from("b")).or_insert_with(|| {
            calls += 1;
            2
        }),
        2
    );
    m.entry(String::from("b")).or_insert_with(|| {
        calls += 1;
        3
    });
    assert_eq!(
        calls, 1,
        "or_insert_with calls the closure only for a vacant entry"
    );

    assert_eq!(
        *m.entry(String::from("ccc"))
            .or_insert_with_key(|k| k.len() as u64),
        3
    );
    assert_eq!(*m.entry(String::from("d")).or_default(), 0);
    assert_eq!(m.len(), 4);

    assert_eq!(m.entry(String::from("zz")).key(), "zz");
    assert_eq!(m.entry(String::from("a")).key(), "a");
    assert_eq!(m.len(), 4, "entry() alone inserts nothing");
}

#[test]
fn entry_and_modify() {
    let mut m: HashMap<u64, u64> = HashMap::new();
    m.entry(1).and_modify(|v| *v += 1).or_insert(10);
    assert_eq!(m[&1], 10);
    m.entry(1).and_modify(|v| *v += 1).or_insert(10);
    assert_eq!(m[&1], 11);
    let entry = m
        .entry(2)
        .and_modify(|_| panic!("vacant entries are not modified"));
    assert!(matches!(entry, Entry::Vacant(_)));
    assert_eq!(m.len(), 1);
}

#[test]
fn occupied_entry_methods() {
    let mut m: HashMap<u64, String> = HashMap::new();
    m.insert(1, String::from("one"));
    m.insert(2, String::from("two"));
    m.insert(3, String::from("three"));

    let Entry::Occupied(mut entry) = m.entry(1) else {
        panic!("key 1 is present");
    };
    assert_eq!(*entry.key(), 1);
    assert_eq!(entry.get(), "one");
    entry.get_mut().push('!');
    assert_eq!(entry.insert(String::from("uno")), "one!");
    let value: &mut String = entry.into_mut();
    value.push('?');
    assert_eq!(m[&1], "uno?");

    let Entry::Occupied(entry) = m.entry(2) else {
        panic!("key 2 is present");
    };
    let _: &OccupiedEntry<'_, u64, String, DefaultHashBuilder> = &entry;
    assert_eq!(entry.remove(), "two");
    assert!(!m.contains_key(&2));

    let Entry::Occupied(entry) = m.entry(3) else {
        panic!("key 3 is present");
    };
    assert_eq!(entry.remove_entry(), (3, String::from("three")));
    assert_eq!(m.len(), 1);
    m.check_invariants();
}

#[test]
fn vacant_entry_methods() {
    let mut m: HashMap<String, u64> = HashMap::new();
    let Entry::Vacant(entry) = m.entry(String::from("k")) else {
        panic!("empty map");
    };
    let _: &VacantEntry<'_, String, u64, DefaultHashBuilder> = &entry;
    assert_eq!(entry.key(), "k");
    assert_eq!(entry.into_key(), "k");
    assert!(m.is_empty(), "into_key inserts nothing");

    let Entry::Vacant(entry) = m.entry(String::from("k")) else {
        panic!("still empty");
    };
    let value = entry.insert(5);
    *value += 1;
    assert_eq!(m["k"], 6);
    assert_eq!(m.len(), 1);
}

/// Vacant-entry inserts must start and advance growth like `insert` does: fill a map through
/// several growth points with the entry API only.
#[test]
fn entry_inserts_through_growth_points() {
    for hasher in HasherKind::ALL {
        let mut m = HashMap::with_hasher(hasher.build());
        for i in 0..700u64 {
            match m.entry(i) {
                Entry::Vacant(entry) => {
                    entry.insert(i + 1);
                }
                Entry::Occupied(_) => panic!("{hasher:?}: key {i} present before insert"),
            }
            m.check_invariants();
            // An entry for a present key changes nothing.
            m.entry(i / 2).or_insert(0);
        }
        assert_eq!(m.len(), 700);
        for i in 0..700 {
            assert_eq!(m[&i], i + 1, "{hasher:?}");
        }
        // Removal through occupied entries, mid-growth too.
        for i in (0..700u64).step_by(2) {
            let Entry::Occupied(entry) = m.entry(i) else {
                panic!("{hasher:?}: key {i} missing");
            };
            assert_eq!(entry.remove(), i + 1);
            m.check_invariants();
        }
        assert_eq!(m.len(), 350);
    }
}

// ---------------------------------------------------------------------------------------------
// Iterators
// ---------------------------------------------------------------------------------------------

fn assert_fused<I: FusedIterator>(_: &I) {}

/// Drains `iter`, checking that `len()` and `size_hint()` count down exactly, and that it keeps
/// returning `None` once finished.
fn check_exact_and_fused<I>(mut iter: I, expected_len: usize) -> Vec<I::Item>
where
    I: ExactSizeIterator + FusedIterator,
{
    assert_fused(&iter);
    let mut items = Vec::new();
    for remaining in (1..=expected_len).rev() {
        assert_eq!(iter.len(), remaining);
        assert_eq!(iter.size_hint(), (remaining, Some(remaining)));
        items.push(iter.next().expect("iterator ended before its len()"));
    }
    assert_eq!(iter.len(), 0);
    assert_eq!(iter.size_hint(), (0, Some(0)));
    for _ in 0..3 {
        assert!(iter.next().is_none(), "iterator resumed after None");
    }
    items
}

#[test]
fn iterators_are_exact_size_and_fused() {
    // Sizes chosen so that several maps are in the middle of a growth.
    for n in [0u64, 1, 8, 9, 27, 28, 105, 106, 107, 300] {
        let len = n as usize;
        let mut m = map_of(n);
        let pairs: Vec<(u64, u64)> = (0..n).map(|i| (i, i * 10)).collect();

        let _: &Iter<'_, u64, u64> = &m.iter();
        let got = check_exact_and_fused(m.iter(), len);
        assert_eq!(
            sorted(got.into_iter().map(|(&k, &v)| (k, v)).collect()),
            pairs
        );
        let _: &Keys<'_, u64, u64> = &m.keys();
        let got = check_exact_and_fused(m.keys(), len);
        assert_eq!(
            sorted(got.into_iter().copied().collect()),
            (0..n).collect::<Vec<_>>()
        );
        let _: &Values<'_, u64, u64> = &m.values();
        let got = check_exact_and_fused(m.values(), len);
        assert_eq!(
            sorted(got.into_iter().copied().collect()),
            (0..n).map(|i| i * 10).collect::<Vec<_>>()
        );
        let _: &IterMut<'_, u64, u64> = &m.iter_mut();
        check_exact_and_fused(m.iter_mut(), len);
        let _: &ValuesMut<'_, u64, u64> = &m.values_mut();
        check_exact_and_fused(m.values_mut(), len);

        let _: &IntoIter<u64, u64, DefaultHashBuilder> = &m.clone().into_iter();
        let got = check_exact_and_fused(m.clone().into_iter(), len);
        assert_eq!(sorted(got), pairs);
        let _: &IntoKeys<u64, u64, DefaultHashBuilder> = &m.clone().into_keys();
        check_exact_and_fused(m.clone().into_keys(), len);
        let _: &IntoValues<u64, u64, DefaultHashBuilder> = &m.clone().into_values();
        check_exact_and_fused(m.clone().into_values(), len);

        let mut copy = m.clone();
        let _: &Drain<'_, u64, u64, DefaultHashBuilder> = &copy.drain();
        let mut copy = m.clone();
        let got = check_exact_and_fused(copy.drain(), len);
        assert_eq!(sorted(got), pairs);
        assert!(copy.is_empty());

        // The iterator borrowed `m` mutably above; it is still intact.
        assert_eq!(m.len(), len);
        m.check_invariants();
    }
}

#[test]
fn iter_clone_restarts_from_the_same_position() {
    let m = map_of(100);
    let mut iter = m.iter();
    for _ in 0..40 {
        iter.next();
    }
    let rest: Vec<_> = iter.clone().collect();
    let rest_again: Vec<_> = iter.collect();
    assert_eq!(rest.len(), 60);
    assert_eq!(rest, rest_again);
}

#[test]
fn into_iterator_for_owned_shared_and_mutable_maps() {
    let mut m = map_of(30);
    let mut count = 0;
    for (k, v) in &m {
        assert_eq!(*v, k * 10);
        count += 1;
    }
    assert_eq!(count, 30);
    for (k, v) in &mut m {
        *v += k;
    }
    assert!(m.iter().all(|(&k, &v)| v == k * 11));
    let owned: Vec<(u64, u64)> = sorted(m.into_iter().collect());
    assert_eq!(owned, (0..30).map(|k| (k, k * 11)).collect::<Vec<_>>());
}

#[test]
fn iter_mut_and_values_mut_write_through() {
    let mut m = map_of(200);
    for (_, v) in m.iter_mut() {
        *v += 1;
    }
    for v in m.values_mut() {
        *v *= 2;
    }
    for i in 0..200 {
        assert_eq!(m[&i], (i * 10 + 1) * 2);
    }
}

#[test]
fn into_keys_and_into_values() {
    let m = map_of(77);
    assert_eq!(
        sorted(m.clone().into_keys().collect()),
        (0..77).collect::<Vec<_>>()
    );
    assert_eq!(
        sorted(m.into_values().collect()),
        (0..77).map(|i| i * 10).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------------
// Bulk operations
// ---------------------------------------------------------------------------------------------

#[test]
fn extend_with_owned_and_borrowed_pairs() {
    let mut m: HashMap<u64, u64> = HashMap::new();
    m.extend((0..50).map(|i| (i, i)));
    assert_eq!(m.len(), 50);
    let source: Vec<(u64, u64)> = (25..100).map(|i| (i, i + 1)).collect();
    m.extend(source.iter().map(|(k, v)| (k, v)));
    assert_eq!(m.len(), 100);
    assert_eq!(m[&10], 10);
    assert_eq!(m[&30], 31, "later pairs overwrite");
    let other = map_of(5);
    m.extend(&other);
    assert_eq!(m[&4], 40);
    m.check_invariants();
}

#[test]
fn from_iterator_keeps_the_last_value_per_key() {
    let m: HashMap<u64, u64> = [(1, 1), (2, 2), (1, 3)].into_iter().collect();
    assert_eq!(m.len(), 2);
    assert_eq!(m[&1], 3);
    let big: HashMap<u64, u64> = (0..1000).map(|i| (i % 600, i)).collect();
    assert_eq!(big.len(), 600);
    assert_eq!(big[&0], 600);
    assert_eq!(big[&599], 599);
    big.check_invariants();
}

#[test]
fn drain_empties_the_map_and_leaves_it_usable() {
    with_maps(300, |config, mut m| {
        for i in 0..300u64 {
            m.insert(i, i);
        }
        let drained = sorted(m.drain().collect::<Vec<_>>());
        assert_eq!(
            drained,
            (0..300).map(|i| (i, i)).collect::<Vec<_>>(),
            "{config}"
        );
        assert!(m.is_empty(), "{config}");
        assert_eq!(m.iter().count(), 0);
        m.check_invariants();
        for i in 0..100u64 {
            m.insert(i, i + 1);
        }
        assert_eq!(m.len(), 100);
        assert!((0..100).all(|i| m[&i] == i + 1), "{config}");
        m.check_invariants();
    });
}

#[test]
fn drain_dropped_early_still_empties_the_map() {
    let ledger = Ledger::new();
    let mut m: HashMap<u64, common::DropCounter> = HashMap::new();
    for i in 0..200 {
        m.insert(i, ledger.counter(i));
    }
    let taken: Vec<_> = m.drain().take(50).collect();
    assert_eq!(taken.len(), 50);
    assert!(m.is_empty());
    assert_eq!(
        ledger.total(),
        150,
        "the undrained 150 are dropped with the Drain"
    );
    drop(taken);
    assert_eq!(ledger.total(), 200);
    ledger.assert_no_double_drop();
    m.check_invariants();
}

#[test]
fn retain_keeps_exactly_the_matching_entries() {
    with_maps(400, |config, mut m| {
        for i in 0..400u64 {
            m.insert(i, i);
        }
        let mut visited = 0;
        m.retain(|&k, v| {
            visited += 1;
            *v += 1;
            k % 3 == 0
        });
        assert_eq!(visited, 400, "{config}: retain visits every entry once");
        assert_eq!(m.len(), 134, "{config}");
        m.check_invariants();
        for i in 0..400u64 {
            let want = (i % 3 == 0).then_some(i + 1);
            assert_eq!(m.get(&i).copied(), want, "{config}: key {i}");
        }
        m.retain(|_, _| false);
        assert!(m.is_empty());
        m.check_invariants();
    });
}

#[test]
fn retain_in_the_middle_of_a_growth() {
    let mut m: HashMap<u64, u64, FixedHasher> = HashMap::with_hasher(FixedHasher::default());
    for i in 0..833 {
        m.insert(i, i);
    }
    assert!(
        m.is_growing(),
        "833 entries start a growth from 128 buckets"
    );
    m.retain(|&k, _| k % 2 == 1);
    m.check_invariants();
    assert_eq!(m.len(), 416);
    assert!((0..833).all(|k| m.contains_key(&k) == (k % 2 == 1)));
    for i in 833..2000 {
        m.insert(i, i);
    }
    m.check_invariants();
    assert_eq!(m.len(), 416 + 1167);
}

#[test]
fn clear_keeps_the_bucket_array_size() {
    with_maps(1000, |config, mut m| {
        for i in 0..1000u64 {
            m.insert(i, i);
        }
        let log2 = m.log2_buckets();
        m.clear();
        assert!(m.is_empty(), "{config}");
        assert_eq!(m.log2_buckets(), log2, "{config}: clear changed B");
        assert!(!m.is_growing());
        assert_eq!(m.iter().count(), 0);
        assert_eq!(m.get(&5), None);
        m.check_invariants();
        for i in 0..1000u64 {
            m.insert(i, i * 2);
        }
        assert_eq!(
            m.log2_buckets(),
            log2,
            "{config}: refilling to the same size grew"
        );
        assert!((0..1000).all(|i| m[&i] == i * 2));
        m.check_invariants();
    });
}

#[test]
fn clear_in_the_middle_of_a_growth_ends_it() {
    let mut m = map_of(833);
    assert!(m.is_growing());
    let log2 = m.log2_buckets();
    m.clear();
    assert!(!m.is_growing());
    assert_eq!(m.stats().growth, None);
    assert_eq!(m.log2_buckets(), log2);
    assert_eq!(m.header().old_buckets, 0);
    m.check_invariants();
    m.insert(1, 1);
    assert_eq!(m[&1], 1);
}

#[test]
fn reserve_prevents_growth_until_the_reserved_count() {
    for (initial, additional) in [(0u64, 100usize), (10, 100), (100, 1000), (5, 3), (0, 9)] {
        let mut m = map_of(initial);
        m.reserve(additional);
        let total = initial as usize + additional;
        assert!(
            m.capacity() >= total,
            "reserve({additional}) at {initial}: {}",
            m.capacity()
        );
        let log2 = m.log2_buckets();
        for i in initial..total as u64 {
            m.insert(i, i);
            assert_eq!(
                m.log2_buckets(),
                log2,
                "insert #{} after reserve grew",
                i + 1
            );
        }
        m.check_invariants();
        assert!((0..total as u64).all(|i| m.contains_key(&i)));
    }
}

#[test]
fn reserve_in_the_middle_of_a_growth() {
    for additional in [1usize, 100, 2000] {
        let mut m = map_of(833);
        assert!(
            m.is_growing(),
            "833 entries start a growth from 128 buckets"
        );
        m.reserve(additional);
        m.check_invariants();
        assert!(m.capacity() >= 833 + additional);
        let log2 = m.log2_buckets();
        for i in 833..833 + additional as u64 {
            m.insert(i, i * 10);
            assert_eq!(
                m.log2_buckets(),
                log2,
                "reserve({additional}), insert #{}",
                i + 1
            );
        }
        m.check_invariants();
        assert!((0..833 + additional as u64).all(|i| m[&i] == i * 10));
    }
}

/// `reserve` that finds the room already there does nothing: a growth in progress goes on
/// incrementally (the docs said it was always finished until session 30, when a review found
/// the early return). `clear` of an empty map leaves it growing, as Go's `mapclear` does.
#[test]
fn reserve_that_fits_and_clear_of_an_empty_map_leave_a_growth_going() {
    let mut m = map_of(833);
    assert!(m.is_growing());
    let log2 = m.log2_buckets();
    m.reserve(1);
    assert!(m.is_growing(), "reserve(1) had room and did nothing");
    assert_eq!(m.log2_buckets(), log2);
    m.check_invariants();
    // Only `retain` can empty a growing map (D18).
    m.retain(|_, _| false);
    assert!(m.is_empty() && m.is_growing());
    m.clear();
    assert!(m.is_growing(), "clear of an empty map returns at once");
    m.check_invariants();
    m.insert(1, 1);
    assert_eq!(m[&1], 1);
}

/// An `Eq` that changes its answer is a logic error: an insert may panic, with a message that
/// names the key type's `Eq` (not an internal `unreachable!`, as before session 30), and the
/// map stays consistent and usable.
#[test]
fn an_eq_that_changes_its_answers_gets_a_panic_that_names_it() {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hash, Hasher};
    thread_local!(static CALLS: Cell<u32> = const { Cell::new(0) });
    /// Every key hashes alike; `eq` is honest for the first 8 calls after a reset, then says
    /// "equal".
    struct Fickle(u32);
    impl Hash for Fickle {
        fn hash<H: Hasher>(&self, state: &mut H) {
            state.write_u32(0);
        }
    }
    impl PartialEq for Fickle {
        fn eq(&self, other: &Self) -> bool {
            let calls = CALLS.with(|c| {
                c.set(c.get() + 1);
                c.get()
            });
            self.0 == other.0 || calls > 8
        }
    }
    impl Eq for Fickle {}
    #[derive(Clone, Default)]
    struct Fixed;
    impl BuildHasher for Fixed {
        type Hasher = std::hash::DefaultHasher;
        fn build_hasher(&self) -> Self::Hasher {
            std::hash::DefaultHasher::new()
        }
    }
    let mut m = HashMap::with_hasher(Fixed);
    for i in 0..8 {
        CALLS.with(|c| c.set(0));
        m.insert(Fickle(i), i);
    }
    CALLS.with(|c| c.set(0));
    // The 9th entry starts a growth, then looks the key up again, and `eq` now says "equal".
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        m.insert(Fickle(8), 8);
    }));
    let payload = caught.expect_err("the lookup after the growth finds a match");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(
        message.contains("`Eq` or `Hash` gives inconsistent answers"),
        "{message}"
    );
    assert_eq!(m.len(), 8);
    m.check_invariants();
}

#[test]
fn owned_string_keys_and_values_through_growth_and_removal() {
    with_maps(700, |config, mut m| {
        for i in 0..700u64 {
            m.insert(format!("key {i}"), "v".repeat(i as usize % 40));
        }
        m.check_invariants();
        for i in (0..700u64).step_by(2) {
            assert_eq!(
                m.remove(format!("key {i}").as_str()),
                Some("v".repeat(i as usize % 40))
            );
        }
        for i in (1..700u64).step_by(2) {
            m.get_mut(format!("key {i}").as_str()).unwrap().push('!');
        }
        m.retain(|k, _| !k.ends_with('1'));
        m.check_invariants();
        for i in 0..700u64 {
            let key = format!("key {i}");
            let want = (i % 2 == 1 && i % 10 != 1).then(|| "v".repeat(i as usize % 40) + "!");
            assert_eq!(m.get(key.as_str()).cloned(), want, "{config}: {key}");
        }
        let mut drained: Vec<String> = m.drain().map(|(k, _)| k).collect();
        drained.sort();
        drained.dedup();
        assert_eq!(drained.len(), 280, "{config}");
    });
}

#[test]
fn try_reserve_succeeds_for_reasonable_sizes() {
    let mut m: HashMap<u64, u64> = HashMap::new();
    assert_eq!(m.try_reserve(1000), Ok(()));
    assert!(m.capacity() >= 1000);
    let log2 = m.log2_buckets();
    for i in 0..1000 {
        m.insert(i, i);
    }
    assert_eq!(m.log2_buckets(), log2);
    assert_eq!(m.try_reserve(0), Ok(()));
    assert_eq!(m.log2_buckets(), log2, "try_reserve(0) never grows");
}

/// An allocation the allocator refuses leaves the map as it was: same B, same capacity, the same
/// growth state, every entry in place. 2^45 more entries need 2^43 buckets of 144 bytes, over a
/// petabyte: more than a 64-bit machine's user address space, so the mapping is refused on any
/// machine, yet under `isize::MAX`, so not a capacity overflow. Until session 29 the map kept
/// every doubling that fit before the refusal (a black-box test: B 4 → 22 under a 1.5 GB
/// `ulimit -v`, B 27 and 9 GB resident without one).
#[test]
#[cfg(target_pointer_width = "64")]
fn try_reserve_refused_by_the_allocator_leaves_the_map_unchanged() {
    let mut settled: HashMap<u64, u64> = (0..100).map(|i| (i, i)).collect();
    let mut growing: HashMap<u64, u64> = HashMap::new();
    let mut n = 0;
    while !growing.is_growing() {
        growing.insert(n, n);
        n += 1;
    }
    for (m, len) in [(&mut settled, 100), (&mut growing, n)] {
        let before = (m.log2_buckets(), m.capacity(), m.is_growing());
        match m.try_reserve(1 << 45) {
            Err(TryReserveError::AllocError { .. }) => {}
            other => panic!("expected an allocation error, got {other:?}"),
        }
        assert_eq!((m.log2_buckets(), m.capacity(), m.is_growing()), before);
        assert_eq!(m.len() as u64, len);
        for i in 0..len {
            assert_eq!(m.get(&i), Some(&i));
        }
        // Still usable, and a reserve that fits still works.
        assert_eq!(m.try_reserve(1000), Ok(()));
        assert!(m.capacity() >= m.len() + 1000);
    }
}

#[test]
fn try_reserve_error_traits() {
    let mut m: HashMap<u64, u64> = HashMap::new();
    let err = m.try_reserve(usize::MAX).unwrap_err();
    assert_eq!(err, TryReserveError::CapacityOverflow);
    assert_eq!(err.clone(), err);
    assert!(!err.to_string().is_empty());
    let as_error: &dyn std::error::Error = &err;
    assert!(as_error.source().is_none());
    let layout = std::alloc::Layout::from_size_align(64, 8).unwrap();
    let alloc = TryReserveError::AllocError { layout };
    assert_ne!(alloc, err);
    assert!(alloc.to_string().contains("64"));
}

// ---------------------------------------------------------------------------------------------
// Traits
// ---------------------------------------------------------------------------------------------

#[test]
fn debug_formats_like_std() {
    let mut m: HashMap<u64, &str> = HashMap::new();
    assert_eq!(format!("{m:?}"), "{}");
    m.insert(1, "one");
    assert_eq!(format!("{m:?}"), r#"{1: "one"}"#);
    m.insert(2, "two");
    let text = format!("{m:?}");
    assert!(
        text == r#"{1: "one", 2: "two"}"# || text == r#"{2: "two", 1: "one"}"#,
        "{text}"
    );
}

#[test]
fn clone_is_deep_and_independent() {
    with_maps(200, |config, mut m| {
        for i in 0..200u64 {
            m.insert(i, vec![i]);
        }
        let mut copy = m.clone();
        copy.check_invariants();
        assert_eq!(copy, m, "{config}");
        copy.get_mut(&1).unwrap().push(100);
        copy.insert(1000, vec![]);
        copy.remove(&2);
        assert_eq!(m[&1], vec![1], "{config}: the clone shares values");
        assert!(!m.contains_key(&1000));
        assert!(m.contains_key(&2));
        assert_ne!(copy, m);
    });
}

#[test]
fn equality_ignores_insertion_order_and_hasher_state() {
    let a: HashMap<u64, u64> = (0..100).map(|i| (i, i)).collect();
    let b: HashMap<u64, u64> = (0..100).rev().map(|i| (i, i)).collect();
    assert_eq!(a, b);
    let mut c = b.clone();
    c.insert(5, 6);
    assert_ne!(a, c);
    let mut d = b.clone();
    d.remove(&5);
    assert_ne!(a, d);
    assert_ne!(d, a);
    let mut e = b.clone();
    e.insert(100, 100);
    assert_ne!(a, e);
    // Growth state does not matter: a presized map equals a grown one.
    let mut f: HashMap<u64, u64> = HashMap::with_capacity(1000);
    f.extend((0..100).map(|i| (i, i)));
    assert_eq!(a, f);
    fn assert_eq_trait<T: Eq>() {}
    assert_eq_trait::<HashMap<u64, u64>>();
}

#[test]
fn maps_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<HashMap<u64, String>>();
    let m = map_of(10);
    let handle = std::thread::spawn(move || m.len());
    assert_eq!(handle.join().unwrap(), 10);
}

// ---------------------------------------------------------------------------------------------
// Research accessors
// ---------------------------------------------------------------------------------------------

#[test]
fn stats_agree_with_the_accessors() {
    let mut m: HashMap<u64, u64> = HashMap::new();
    for i in 0..2000u64 {
        m.insert(i, i);
        let stats: MapStats = m.stats();
        assert_eq!(stats.len, m.len());
        assert_eq!(stats.log2_buckets, m.log2_buckets());
        assert_eq!(stats.buckets, 1 << m.log2_buckets());
        assert_eq!(stats.max_load_factor, 6.5);
        assert!((stats.load_factor - m.len() as f64 / stats.buckets as f64).abs() < 1e-9);
        assert_eq!(stats.growth.is_some(), m.is_growing());
        if let Some(kind) = stats.growth {
            assert_eq!(kind, GrowthKind::Doubling, "plain inserts only double");
            assert_eq!(stats.old_buckets_total, stats.buckets / 2);
            assert!(stats.old_buckets_evacuated < stats.old_buckets_total);
        }
        assert!(stats.bucket_bytes > 0);
        let header = m.header();
        assert_eq!(header.count, m.len());
        assert_eq!(header.log2_buckets, m.log2_buckets());
        assert_ne!(header.buckets, 0);
        assert_eq!(header.old_buckets != 0, m.is_growing());
        assert_eq!(header.overflow_count, stats.overflow_count_estimate);
    }
    let stats = HashMap::<u64, u64>::with_load_factor(LoadFactor::Go121).stats();
    assert_eq!(stats.max_load_factor, 6.0);
}

#[test]
fn constant_hasher_builds_overflow_chains() {
    let mut m: HashMap<u64, u64, ConstantHasher> = HashMap::with_hasher(ConstantHasher);
    for i in 0..100 {
        m.insert(i, i);
    }
    // 100 entries in one chain need at least 13 buckets: 12 overflow buckets.
    assert!(m.stats().overflow_buckets >= 12, "{:?}", m.stats());
    m.check_invariants();
    let mut fresh: HashMap<u64, u64> = HashMap::new();
    fresh.insert(1, 1);
    assert_eq!(fresh.stats().overflow_buckets, 0);
}

#[test]
fn research_accessors_track_a_model_through_operations() {
    let mut m: HashMap<u64, u64> = HashMap::new();
    let mut model = BTreeMap::new();
    for i in 0..300u64 {
        m.insert(i, i);
        model.insert(i, i);
        if i % 7 == 0 {
            m.remove(&(i / 2));
            model.remove(&(i / 2));
        }
        assert_eq!(m.len(), model.len());
        assert_eq!(m.header().count, model.len());
    }
    common::assert_same_entries(&m, &model);
}

#[test]
fn iterators_and_entries_are_send_and_sync_like_std() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<hmap::hash_map::Iter<'static, u64, String>>();
    send_sync::<hmap::hash_map::IterMut<'static, u64, String>>();
    send_sync::<hmap::hash_map::Keys<'static, u64, String>>();
    send_sync::<hmap::hash_map::Values<'static, u64, String>>();
    send_sync::<hmap::hash_map::ValuesMut<'static, u64, String>>();
    send_sync::<hmap::hash_map::IntoIter<u64, String>>();
    send_sync::<hmap::hash_map::IntoKeys<u64, String>>();
    send_sync::<hmap::hash_map::IntoValues<u64, String>>();
    send_sync::<hmap::hash_map::Drain<'static, u64, String>>();
    send_sync::<hmap::hash_map::Entry<'static, u64, String, hmap::DefaultHashBuilder>>();
    send_sync::<hmap::hash_map::OccupiedEntry<'static, u64, String, hmap::DefaultHashBuilder>>();
    send_sync::<hmap::hash_map::VacantEntry<'static, u64, String, hmap::DefaultHashBuilder>>();
}

#[test]
fn default_works_for_any_default_hasher() {
    type Fixed = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;
    let mut map: hmap::HashMap<u64, u64, Fixed> = Default::default();
    map.insert(1, 2);
    let taken = std::mem::take(&mut map);
    assert_eq!(taken.len(), 1);
    assert!(map.is_empty());
}
