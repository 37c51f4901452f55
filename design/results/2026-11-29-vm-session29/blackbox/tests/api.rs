mod common;
use common::*;
use hmap::concurrent::{Computed, Operation};
use hmap::ConcurrentHashMap;
use std::collections::HashMap as StdMap;

#[test]
fn insert_returns_previous_remove_returns_value() {
    let m = ConcurrentHashMap::new();
    assert_eq!(m.insert(1u32, "a".to_string()), None);
    assert_eq!(m.insert(1, "b".to_string()), Some("a".to_string()));
    assert_eq!(m.len(), 1);
    assert_eq!(m.remove(&1), Some("b".to_string()));
    assert_eq!(m.remove(&1), None);
    assert_eq!(m.len(), 0);
    assert!(m.is_empty());
    let v = m.pin();
    assert_eq!(v.insert(5, "x".into()), None);
    assert_eq!(v.insert(5, "y".into()).map(|s| s.as_str()), Some("x"));
    assert_eq!(v.get(&5).map(|s| s.as_str()), Some("y"));
    assert_eq!(v.remove(&5).map(|s| s.as_str()), Some("y"));
    assert_eq!(v.get(&5), None);
    assert_eq!(v.remove(&5), None);
}

#[test]
fn insert_replaces_stored_key() {
    // Key with eq ignoring a tag.
    #[derive(Debug, Clone)]
    struct K(u32, u32);
    impl PartialEq for K { fn eq(&self, o: &Self) -> bool { self.0 == o.0 } }
    impl Eq for K {}
    impl std::hash::Hash for K { fn hash<H: std::hash::Hasher>(&self, h: &mut H) { self.0.hash(h) } }
    let m = ConcurrentHashMap::new();
    let v = m.pin();
    v.insert(K(1, 100), 1);
    v.insert(K(1, 200), 2);
    let (k, val) = v.get_key_value(&K(1, 0)).unwrap();
    assert_eq!((k.1, *val), (200, 2), "doc: If the key was present, the stored key is replaced by `key` too");
    // update keeps/clones the key
    v.update(&K(1, 999), |x| x + 1);
    let (k, val) = v.get_key_value(&K(1, 0)).unwrap();
    assert_eq!(*val, 3);
    let _ = k;
    // compute Set: key becomes stored key
    v.compute(K(1, 300), |_| Operation::Set(10));
    let (k, val) = v.get_key_value(&K(1, 0)).unwrap();
    assert_eq!((k.1, *val), (300, 10));
    // compute Keep: key not stored
    v.compute(K(1, 400), |_| Operation::Keep);
    let (k, _) = v.get_key_value(&K(1, 0)).unwrap();
    assert_eq!(k.1, 300);
    drop(v);
    assert_eq!(m.len(), 1);
}

#[test]
fn update_semantics() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let calls = std::cell::Cell::new(0);
    assert_eq!(m.update(&1, |v| { calls.set(calls.get() + 1); v + 1 }), None);
    assert_eq!(calls.get(), 0, "update on absent key must not call f");
    assert_eq!(m.len(), 0);
    assert!(!m.contains_key(&1));
    m.insert(1, 10);
    assert_eq!(m.update(&1, |v| v * 2), Some(20));
    assert_eq!(m.get_cloned(&1), Some(20));
    let v = m.pin();
    assert_eq!(v.update(&1, |v| v + 1), Some(&21));
    assert_eq!(v.update(&2, |v| v + 1), None);
    assert_eq!(v.len(), 1);
}

#[test]
fn get_or_insert_with_semantics() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let mut calls = 0;
    assert_eq!(m.get_or_insert_with(1, || { calls += 1; 5 }), 5);
    assert_eq!(m.get_or_insert_with(1, || { calls += 1; 6 }), 5);
    assert_eq!(calls, 1);
    let v = m.pin();
    assert_eq!(*v.get_or_insert(1, 7), 5);
    assert_eq!(*v.get_or_insert(2, 7), 7);
    assert_eq!(v.len(), 2);
}

#[test]
fn compute_all_variants() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let v = m.pin();
    let r = v.compute(1, |c| { assert_eq!(c, None); Operation::Keep });
    assert_eq!(r, Computed::Unchanged(None));
    assert_eq!(r.current(), None); assert_eq!(r.previous(), None);
    let r = v.compute(1, |_| Operation::Remove);
    assert_eq!(r, Computed::Unchanged(None));
    let r = v.compute(1, |_| Operation::Set(10));
    assert_eq!(r, Computed::Inserted(&10));
    assert_eq!(r.current(), Some(&10)); assert_eq!(r.previous(), None);
    let r = v.compute(1, |c| Operation::Set(c.unwrap() + 1));
    assert_eq!(r, Computed::Updated { old: &10, new: &11 });
    assert_eq!(r.current(), Some(&11)); assert_eq!(r.previous(), Some(&10));
    let r = v.compute(1, |_| Operation::Keep);
    assert_eq!(r, Computed::Unchanged(Some(&11)));
    assert_eq!(r.current(), Some(&11)); assert_eq!(r.previous(), Some(&11));
    assert_eq!(v.len(), 1);
    let r = v.compute(1, |_| Operation::Remove);
    assert_eq!(r, Computed::Removed(&11));
    assert_eq!(r.current(), None); assert_eq!(r.previous(), Some(&11));
    assert_eq!(v.len(), 0);
    assert_eq!(v.get(&1), None);
}

#[test]
fn string_keys_by_str() {
    let m: ConcurrentHashMap<String, usize> = ConcurrentHashMap::new();
    for i in 0..1000 { m.insert(format!("key{i}"), i); }
    let v = m.pin();
    for i in 0..1000 {
        let s = format!("key{i}");
        assert_eq!(v.get(s.as_str()), Some(&i));
        assert!(v.contains_key(s.as_str()));
    }
    assert_eq!(m.get_cloned("key5"), Some(5));
    assert_eq!(m.update("key5", |x| x + 1), Some(6));
    assert_eq!(m.remove("key5"), Some(6));
    assert_eq!(v.remove("key6"), Some(&6));
    assert_eq!(v.get_key_value("key7").map(|(k, v)| (k.as_str(), *v)), Some(("key7", 7)));
    assert_eq!(m.len(), 998);
}

#[test]
fn with_capacity_zero_and_small() {
    let m: ConcurrentHashMap<u32, u32> = ConcurrentHashMap::with_capacity(0);
    assert_eq!(m.log2_buckets(), 0);
    for i in 0..100 { m.insert(i, i); }
    assert_eq!(m.len(), 100);
    for c in [1usize, 8, 9, 13, 14, 26, 27, 52, 53, 104, 105, 1000, 100_000] {
        let m: ConcurrentHashMap<u32, u32> = ConcurrentHashMap::with_capacity(c);
        let b = m.log2_buckets();
        // smallest B with c <= 6.5 * 2^B
        let mut want = 0u8;
        while c > 8 && (c as f64) > 6.5 * (1u64 << want) as f64 { want += 1; }
        assert_eq!(b, want, "with_capacity({c}) gave B={b}, want {want}");
        assert!(!m.is_growing());
        for i in 0..c.min(2000) as u32 { m.insert(i, i); }
        if c <= 2000 { assert_eq!(m.stats().growths, 0, "with_capacity({c}): growth before {c} inserts"); }
    }
}

fn panic_msg(e: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = e.downcast_ref::<&str>() { s.to_string() }
    else if let Some(s) = e.downcast_ref::<String>() { s.clone() }
    else { "<non-string panic>".into() }
}

#[test]
fn with_capacity_huge_panics_capacity_overflow() {
    for c in [usize::MAX, usize::MAX / 2, 1usize << 62, 1 << 61, 1 << 60, 1 << 59] {
        let r = std::panic::catch_unwind(|| {
            let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::with_capacity(c);
            m.log2_buckets()
        });
        match r {
            Ok(b) => panic!("with_capacity({c}) did not panic, B={b}"),
            Err(e) => {
                let msg = panic_msg(e);
                assert!(msg.contains("capacity overflow"), "with_capacity({c}) panic message: {msg:?}");
            }
        }
    }
    let r = std::panic::catch_unwind(|| {
        let m: ConcurrentHashMap<u64, [u8; 4096], _> = ConcurrentHashMap::with_capacity_and_hasher(usize::MAX / 3, IdState);
        m.log2_buckets()
    });
    assert!(r.is_err());
}

#[test]
fn zero_sized_keys_and_values() {
    let m: ConcurrentHashMap<(), ()> = ConcurrentHashMap::new();
    assert_eq!(m.insert((), ()), None);
    assert_eq!(m.insert((), ()), Some(()));
    assert_eq!(m.len(), 1);
    assert_eq!(m.get_cloned(&()), Some(()));
    assert_eq!(m.pin().iter().count(), 1);
    assert_eq!(m.remove(&()), Some(()));
    assert_eq!(m.len(), 0);
    assert_eq!(m.pin().iter().count(), 0);

    let m: ConcurrentHashMap<u32, ()> = ConcurrentHashMap::new();
    for i in 0..5000 { m.insert(i, ()); }
    assert_eq!(m.len(), 5000);
    assert_eq!(m.pin().iter().count(), 5000);
    let m2: ConcurrentHashMap<(), u64> = (0..10).map(|i| ((), i)).collect();
    assert_eq!(m2.len(), 1);
    assert_eq!(m2.get_cloned(&()), Some(9));
}

#[test]
fn large_values() {
    let m: ConcurrentHashMap<u32, [u8; 4096]> = ConcurrentHashMap::new();
    for i in 0..300u32 { m.pin().insert(i, [i as u8; 4096]); }
    let v = m.pin();
    for i in 0..300u32 { assert!(v.get(&i).unwrap().iter().all(|&b| b == i as u8)); }
    assert_eq!(v.iter().count(), 300);
    drop(v);
    for i in 0..300u32 { m.pin().update(&i, |a| { let mut b = *a; b[4095] = 7; b }); }
    assert_eq!(m.pin().get(&3).unwrap()[4095], 7);
    // giant value type
    let m: ConcurrentHashMap<u8, [u64; 8192]> = ConcurrentHashMap::new();
    for i in 0..20u8 { m.pin().insert(i, [i as u64; 8192]); }
    let v = m.pin();
    for i in 0..20u8 { assert!(v.get(&i).unwrap().iter().all(|&b| b == i as u64)); }
}

#[test]
fn retain_and_clear() {
    let m: ConcurrentHashMap<u32, u32> = (0..10_000).map(|i| (i, i * 2)).collect();
    assert_eq!(m.len(), 10_000);
    let mut seen = 0;
    m.retain(|k, v| { seen += 1; assert_eq!(*v, k * 2); k % 3 == 0 });
    assert!(seen >= 10_000);
    assert_eq!(m.len(), (0..10_000).filter(|k| k % 3 == 0).count());
    let v = m.pin();
    for k in 0..10_000 { assert_eq!(v.contains_key(&k), k % 3 == 0, "{k}"); }
    assert_eq!(v.iter().count(), m.len());
    drop(v);
    let b = m.log2_buckets();
    m.clear();
    assert_eq!(m.len(), 0);
    assert!(m.is_empty());
    assert_eq!(m.pin().iter().count(), 0);
    assert_eq!(m.log2_buckets(), b);
    for i in 0..100 { m.insert(i, i); }
    assert_eq!(m.len(), 100);
    m.pin().retain(|_, _| false);
    assert_eq!(m.len(), 0);
    m.pin().clear();
}

#[test]
fn retain_and_clear_during_growth() {
    for same in [false, true] {
        let m: ConcurrentHashMap<u32, u32> = ConcurrentHashMap::new();
        for i in 0..5000 { m.insert(i, i); }
        // Try to be mid-growth
        let mut tries = 0;
        while !m.is_growing() && tries < 100000 { m.insert(100_000 + tries, 0); tries += 1; }
        let _ = same;
        let n = m.len();
        let expected: Vec<u32> = m.pin().keys().copied().filter(|k| k % 2 == 0).collect();
        assert_eq!(m.pin().iter().count(), n);
        m.retain(|k, _| k % 2 == 0);
        assert_eq!(m.len(), expected.len());
        assert_eq!(m.pin().iter().count(), expected.len());
        m.clear();
        assert_eq!(m.len(), 0);
        assert_eq!(m.pin().iter().count(), 0);
    }
}

#[test]
fn traits_debug_default_fromiter_extend_clone_eq() {
    let m: ConcurrentHashMap<u32, u32> = Default::default();
    assert!(m.is_empty());
    assert_eq!(format!("{m:?}"), "{}");
    m.insert(1, 2);
    assert_eq!(format!("{m:?}"), "{1: 2}");
    let v = m.pin();
    let _ = format!("{v:?}");
    let _ = format!("{:?}", v.iter());
    drop(v);
    let mut a: ConcurrentHashMap<u32, u32> = (0..1000).map(|i| (i, i)).collect();
    let b: ConcurrentHashMap<u32, u32, IdState> = (0..1000).rev().map(|i| (i, i)).collect();
    assert!(a == b);
    let c = a.clone();
    assert!(a == c);
    assert_eq!(c.len(), 1000);
    a.extend((1000..1100).map(|i| (i, i)));
    assert_eq!(a.len(), 1100);
    assert!(a != c);
    (&c).extend((1000..1100).map(|i| (i, i)));
    assert!(a == c);
    c.insert(5, 6);
    assert!(a != c);
    // different length but subset
    let d: ConcurrentHashMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    let e: ConcurrentHashMap<u32, u32> = (0..11).map(|i| (i, i)).collect();
    assert!(d != e && e != d);
    // duplicates in FromIterator: last wins
    let f: ConcurrentHashMap<u32, u32> = [(1, 1), (1, 2), (1, 3)].into_iter().collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f.get_cloned(&1), Some(3));
    // Debug of stats, Default of stats
    let s = a.stats();
    let _ = format!("{s:?}");
    let std_m: StdMap<u32, u32> = a.pin().iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(std_m.len(), 1100);
    // hasher()
    let _h: &hmap::DefaultHashBuilder = a.hasher();
    // IntoIterator for &Pinned
    let v = a.pin();
    let mut n = 0; for (_k, _v) in &v { n += 1; } assert_eq!(n, 1100);
    assert_eq!(v.keys().count(), 1100);
    assert_eq!(v.values().map(|x| *x as u64).sum::<u64>(), (0..1100u64).sum());
    assert!(std::ptr::eq(v.map(), &a));
}

#[test]
fn clone_of_constant_hash_map() {
    let a: ConcurrentHashMap<u32, String, ConstState> = ConcurrentHashMap::with_hasher(ConstState);
    for i in 0..300 { a.insert(i, i.to_string()); }
    let b = a.clone();
    assert!(a == b);
    assert_eq!(b.len(), 300);
    for i in 0..300 { assert_eq!(b.get_cloned(&i), Some(i.to_string())); }
}

#[test]
fn stats_coherent_quiescent() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let mut growths_seen = 0;
    for i in 0..200_000u64 {
        m.insert(i, i);
        if i % 97 == 0 {
            let s = m.stats();
            assert_eq!(s.len, (i + 1) as usize);
            assert!(s.old_evacuated <= s.old_buckets, "{s:?}");
            assert!(s.claimed <= s.old_buckets || !s.growing, "{s:?}");
            assert_eq!(s.growing, s.old_buckets > 0, "{s:?}");
            if !s.growing { assert_eq!(s.old_buckets, 0); assert!(!s.same_size_growth); }
            if s.growing && !s.same_size_growth { assert_eq!(s.old_buckets * 2, 1usize << s.log2_buckets, "{s:?}"); }
            assert_eq!(s.log2_buckets, m.log2_buckets());
            assert!(s.handle_slots >= 64);
            assert_eq!(s.claims_in_flight, 0);
            assert!(s.growths >= growths_seen); growths_seen = s.growths;
            assert_eq!(s.temporary_pins, 0);
            assert_eq!(s.drop_panics, 0);
        }
    }
    // load factor: 200000 <= 6.5 * 2^B
    let b = m.log2_buckets();
    assert!(200_000f64 <= 6.5 * (1u64 << b) as f64);
    assert!(growths_seen > 5);
}

#[test]
fn growth_bounded_evacuation_per_write() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for i in 0..50_000u64 {
        let before = m.stats();
        m.insert(i, i);
        let after = m.stats();
        if before.growing && after.growing && before.growths == after.growths {
            let d = after.old_evacuated - before.old_evacuated;
            assert!(d <= 1 + after.evacuation_chunk, "one write evacuated {d} chains: {before:?} -> {after:?}");
            assert!(1 + after.evacuation_chunk <= 9);
        }
    }
}

#[test]
fn force_growth_same_size_keeps_everything() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for i in 0..1000 { m.insert(i, i); }
    for i in 0..500 { m.remove(&i); }
    let b = m.log2_buckets();
    if m.force_growth(true) {
        let s = m.stats();
        assert!(s.growing && s.same_size_growth, "{s:?}");
        assert_eq!(s.log2_buckets, b);
        assert_eq!(s.old_buckets, 1 << b);
    }
    for i in 500..1000 { assert_eq!(m.get_cloned(&i), Some(i)); }
    assert_eq!(m.pin().iter().count(), 500);
    for i in 2000..4000 { m.insert(i, i); }
    assert_eq!(m.len(), 2500);
    assert_eq!(m.pin().iter().count(), 2500);
}
