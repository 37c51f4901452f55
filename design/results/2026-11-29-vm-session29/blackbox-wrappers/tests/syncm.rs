use bbwrap::Rng;
use hmap::wrappers::*;
use std::collections::HashMap as StdMap;
use std::hash::BuildHasherDefault;
use std::hash::Hasher;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Barrier;

#[derive(Default, Clone)]
struct ConstHasher;
impl Hasher for ConstHasher { fn finish(&self) -> u64 { 42 } fn write(&mut self, _: &[u8]) {} }

fn model_run<S: std::hash::BuildHasher + Clone>(m: SyncMap<u64, u64, S>, seed: u64, keys: u64, ops: usize) {
    let mut s: StdMap<u64, u64> = StdMap::new();
    let mut r = Rng(seed | 1);
    for i in 0..ops {
        let k = r.below(keys);
        let v = r.below(4);
        match r.below(12) {
            0 => { m.store(k, v); s.insert(k, v); }
            1 => assert_eq!(m.load(&k), s.get(&k).copied(), "load op {i}"),
            2 => { let got = m.load_or_store(k, v); let want = match s.get(&k) { Some(x) => (*x, true), None => { s.insert(k, v); (v, false) } }; assert_eq!(got, want, "los op {i}"); }
            3 => assert_eq!(m.load_and_delete(&k), s.remove(&k), "lad op {i}"),
            4 => { m.delete(&k); s.remove(&k); }
            5 => assert_eq!(m.swap(k, v), s.insert(k, v), "swap op {i}"),
            6 => { let old = r.below(4); let got = m.compare_and_swap(&k, &old, v); let want = s.get(&k) == Some(&old); if want { s.insert(k, v); } assert_eq!(got, want, "cas op {i}"); }
            7 => { let old = r.below(4); let got = m.compare_and_delete(&k, &old); let want = s.get(&k) == Some(&old); if want { s.remove(&k); } assert_eq!(got, want, "cad op {i}"); }
            8 => { if r.below(40) == 0 { m.clear(); s.clear(); } }
            9 => { let mut seen = vec![]; m.range(|k, v| { seen.push((*k, *v)); true }); seen.sort(); let mut w: Vec<_> = s.iter().map(|(a, b)| (*a, *b)).collect(); w.sort(); assert_eq!(seen, w, "range op {i}"); }
            10 => assert_eq!(m.len(), s.len(), "len op {i}"),
            _ => { let mut n = 0; let stop = r.below(5) as usize; m.range(|_, _| { n += 1; n <= stop }); assert!(n <= s.len().min(stop + 1)); assert_eq!(m.is_empty(), s.is_empty()); }
        }
        if i % 13 == 0 { m.check_invariants(); }
    }
}

#[test]
fn model_single_thread() {
    for seed in 0..40 { model_run(SyncMap::new(), seed, [3, 10, 50, 400][seed as usize % 4], 4000); }
    for seed in 0..10 { model_run(SyncMap::with_hasher(BuildHasherDefault::<ConstHasher>::default()), seed + 99, 30, 3000); }
}

#[test]
fn deleted_key_not_resurrected_by_promotion() {
    // Walk: k in read; delete -> nil; new key makes dirty (k expunged); promote via misses.
    let m = SyncMap::new();
    m.store(1u64, 10u64);
    assert_eq!(m.load(&99), None); // promote
    assert!(!m.stats().amended);
    m.delete(&1);
    m.store(2, 20); // dirty built; 1 expunged
    let st = m.stats();
    assert_eq!(st.read_expunged, 1, "{st:?}");
    for _ in 0..5 { assert_eq!(m.load(&99), None); }
    assert_eq!(m.load(&1), None);
    assert_eq!(m.load(&2), Some(20));
    let mut ks = vec![]; m.range(|k, _| { ks.push(*k); true });
    assert_eq!(ks, [2]);
    assert_eq!(m.len(), 1);
    m.check_invariants();

    // dirty-only key deleted by compare_and_delete stays nil in dirty; after promotion gone
    let m = SyncMap::new();
    m.store(1u64, 1u64);
    m.load(&100); // promote
    m.store(5, 50); // dirty only
    assert!(m.compare_and_delete(&5, &50));
    assert_eq!(m.load(&5), None);
    for _ in 0..5 { m.load(&100); }
    assert_eq!(m.load(&5), None);
    assert_eq!(m.len(), 1);
    // store to 5 again, then delete via each method, promote via range
    for method in 0..4 {
        m.store(5, 51);
        m.store(6 + method, 1); // another new key
        match method { 0 => m.delete(&5), 1 => { m.load_and_delete(&5); } 2 => { m.compare_and_delete(&5, &51); } _ => { m.swap(5, 0); m.delete(&5); } }
        let mut seen = vec![]; m.range(|k, v| { seen.push((*k, *v)); true });
        assert!(!seen.iter().any(|x| x.0 == 5), "method {method}: deleted key 5 seen by range: {seen:?}");
        assert_eq!(m.load(&5), None, "method {method}");
        m.check_invariants();
    }
    // expunged key revived by store is seen
    let m = SyncMap::new();
    m.store(1u64, 1u64); m.load(&0);
    m.delete(&1); m.store(2, 2); // 1 expunged
    m.store(1, 11);
    assert_eq!(m.load(&1), Some(11));
    for _ in 0..5 { m.load(&0); }
    assert_eq!(m.load(&1), Some(11));
    m.check_invariants();
    // clear then load of old keys
    m.clear();
    assert_eq!(m.load(&1), None);
    assert_eq!(m.len(), 0);
    m.store(3, 3);
    assert_eq!(m.len(), 1);
    m.check_invariants();
}

#[test]
fn compare_and_swap_missing_key() {
    let m: SyncMap<u64, u64> = SyncMap::new();
    assert!(!m.compare_and_swap(&1, &0, 5));
    assert_eq!(m.load(&1), None);
    assert!(!m.compare_and_delete(&1, &0));
    m.store(2, 1); // amended
    assert!(!m.compare_and_swap(&1, &0, 5));
    assert_eq!(m.load(&1), None);
    assert_eq!(m.len(), 1);
    m.check_invariants();
}

#[test]
fn cas_counter_exact() {
    let m: SyncMap<u64, u64> = SyncMap::new();
    for k in 0..8 { m.store(k, 0); }
    let threads = 4; let per = 20_000;
    std::thread::scope(|s| { for t in 0..threads { let m = &m; s.spawn(move || {
        for i in 0..per {
            let k = (i + t) % 8;
            loop { let cur = m.load(&k).unwrap(); if m.compare_and_swap(&k, &cur, cur + 1) { break; } }
            if i % 100 == 0 { m.store(100 + t * per + i, 0); } // churn new keys -> promotions
            if i % 150 == 0 { m.delete(&(100 + t * per + i - 50)); }
        }
    }); } });
    let total: u64 = (0..8).map(|k| m.load(&k).unwrap()).sum();
    assert_eq!(total, threads * per);
    m.check_invariants();
}

#[test]
fn load_or_store_single_winner() {
    for round in 0..20 {
        let m: SyncMap<u64, u64> = SyncMap::new();
        if round % 2 == 0 { for k in 1000..1100 { m.store(k, k); } m.load(&5000); }
        let bar = Barrier::new(4);
        let res: Vec<Vec<(u64, u64, bool)>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4u64).map(|t| { let (m, bar) = (&m, &bar); s.spawn(move || {
                bar.wait();
                (0..300u64).map(|k| { let (v, l) = m.load_or_store(k, t); (k, v, l) }).collect::<Vec<_>>()
            }) }).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for k in 0..300u64 {
            let rows: Vec<_> = res.iter().map(|r| r[k as usize]).collect();
            let winners = rows.iter().filter(|r| !r.2).count();
            assert_eq!(winners, 1, "key {k}: {rows:?}");
            let w = rows.iter().find(|r| !r.2).unwrap().1;
            assert!(rows.iter().all(|r| r.1 == w), "key {k}: {rows:?}");
            assert_eq!(m.load(&k), Some(w));
        }
        m.check_invariants();
    }
}

#[test]
fn range_at_most_once_under_churn_and_nested() {
    let m: SyncMap<u64, u64> = SyncMap::new();
    for k in 0..500 { m.store(k, k); }
    let stop = AtomicBool::new(false);
    let ranges = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..2u64 { let (m, stop) = (&m, &stop); s.spawn(move || {
            let mut r = Rng(t + 3);
            while !stop.load(Relaxed) {
                let k = r.below(1000);
                match r.below(5) { 0 => m.store(k, k), 1 => m.delete(&k), 2 => { m.swap(k, k); } 3 => { m.load_and_delete(&k); } _ => { m.load(&(k + 5000)); } }
            }
        }); }
        for _ in 0..300 {
            let mut seen = std::collections::HashSet::new();
            m.range(|k, v| {
                assert_eq!(*k, *v);
                assert!(seen.insert(*k), "key {k} seen twice by one range");
                if *k % 97 == 0 { m.store(*k + 2000, *k + 2000); m.delete(&(*k + 2000)); }
                true
            });
            ranges.fetch_add(1, Relaxed);
        }
        stop.store(true, Relaxed);
    });
    m.check_invariants();
    // nested range
    let mut outer = 0;
    m.range(|_, _| { let mut inner = 0; m.range(|_, _| { inner += 1; true }); assert!(inner > 0); outer += 1; true });
    assert_eq!(outer, m.len());
}

#[test]
fn panicking_value_clone_in_syncmap() {
    #[derive(Debug, PartialEq)]
    struct PV(u64);
    static ARM: AtomicBool = AtomicBool::new(false);
    impl Clone for PV { fn clone(&self) -> Self { if ARM.load(SeqCst) { panic!("clone") } PV(self.0) } }
    let m = SyncMap::new();
    for k in 0..50u64 { m.store(k, PV(k)); }
    m.load(&999);
    for k in 50..60u64 { m.store(k, PV(k)); } // dirty
    ARM.store(true, SeqCst);
    for k in [1u64, 55, 200] {
        let _ = catch_unwind(AssertUnwindSafe(|| m.load(&k)));
        let _ = catch_unwind(AssertUnwindSafe(|| m.load_or_store(k, PV(k))));
        let _ = catch_unwind(AssertUnwindSafe(|| m.swap(k, PV(k))));
        let _ = catch_unwind(AssertUnwindSafe(|| m.load_and_delete(&k)));
        let _ = catch_unwind(AssertUnwindSafe(|| m.compare_and_swap(&(k + 1), &PV(k + 1), PV(7))));
    }
    ARM.store(false, SeqCst);
    m.check_invariants();
    let n = m.len();
    let mut c = 0; m.range(|_, _| { c += 1; true });
    assert_eq!(n, c);
    m.store(1000, PV(1));
    assert_eq!(m.load(&1000), Some(PV(1)));
    m.check_invariants();
}

#[test]
fn panicking_key_hash_under_lock_syncmap_invariants() {
    use std::hash::Hash;
    #[derive(Debug, PartialEq, Eq)]
    struct K(u64);
    static ARM: AtomicBool = AtomicBool::new(false);
    static CLONE_ARM: AtomicBool = AtomicBool::new(false);
    impl Hash for K { fn hash<H: Hasher>(&self, h: &mut H) { if ARM.load(SeqCst) && self.0 % 3 == 0 { panic!("hash") } self.0.hash(h) } }
    impl Clone for K { fn clone(&self) -> Self { if CLONE_ARM.load(SeqCst) && self.0 % 5 == 0 { panic!("kclone") } K(self.0) } }
    let m: SyncMap<K, u64> = SyncMap::new();
    let mut r = Rng(4);
    let mut s: StdMap<u64, u64> = StdMap::new();
    for i in 0..5000u64 {
        let k = r.below(60);
        let arm = r.below(3) == 0;
        ARM.store(arm && r.below(2) == 0, SeqCst);
        CLONE_ARM.store(arm, SeqCst);
        let op = r.below(5);
        let res = catch_unwind(AssertUnwindSafe(|| match op {
            0 => { m.store(K(k), i); }
            1 => { m.delete(&K(k)); }
            2 => { m.load_or_store(K(k), i); }
            3 => { m.swap(K(k), i); }
            _ => { m.load(&K(k + 1000)); }
        }));
        ARM.store(false, SeqCst); CLONE_ARM.store(false, SeqCst);
        if res.is_ok() {
            match op { 0 | 3 => { s.insert(k, i); } 1 => { s.remove(&k); } 2 => { s.entry(k).or_insert(i); } _ => {} }
        } else {
            // operation panicked: it may or may not have taken effect; resync model from the map for key k
            match m.load(&K(k)) { Some(v) => { s.insert(k, v); } None => { s.remove(&k); } }
        }
        m.check_invariants();
        if i % 50 == 0 {
            for kk in 0..60u64 { assert_eq!(m.load(&K(kk)), s.get(&kk).copied(), "step {i} key {kk}"); }
        }
    }
}
