mod common;
use common::*;
use hmap::concurrent::Operation;
use hmap::ConcurrentHashMap;
use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, OnceLock};
use std::thread;

thread_local! { static POISON: Cell<u64> = const { Cell::new(u64::MAX) }; }
#[derive(Debug, Clone)]
struct PK(u64);
impl Hash for PK { fn hash<H: Hasher>(&self, h: &mut H) { if POISON.with(|p| p.get()) == self.0 { panic!("poisoned hash {}", self.0) } self.0.hash(h) } }
impl PartialEq for PK { fn eq(&self, o: &Self) -> bool { self.0 == o.0 } }
impl Eq for PK {}

fn check_all(m: &ConcurrentHashMap<PK, u64>, keys: &std::collections::BTreeMap<u64, u64>) {
    let v = m.pin();
    let mut seen = std::collections::BTreeMap::new();
    for (k, val) in v.iter() { *seen.entry(k.0).or_insert(0) += 1; assert_eq!(keys.get(&k.0), Some(val), "key {} value {val}", k.0); }
    for (k, c) in &seen { assert_eq!(*c, 1, "key {k} iterated {c} times"); }
    assert_eq!(seen.len(), keys.len(), "iteration count");
    assert_eq!(m.len(), keys.len(), "len");
    for (k, val) in keys { assert_eq!(v.get(&PK(*k)), Some(val), "get {k}"); }
}

/// Hash of a stored key panics when an evacuation rehashes it.
#[test]
fn hash_panic_during_evacuation() {
    with_timeout(60, "evac", || {
        for poison in [0u64, 3, 17, 100, 250] {
            let m = ConcurrentHashMap::<PK, u64>::new();
            let mut keys = std::collections::BTreeMap::new();
            for i in 0..300u64 { m.insert(PK(i), i); keys.insert(i, i); }
            POISON.with(|p| p.set(poison));
            let mut panics = 0;
            let mut i = 300u64;
            while i < 5000 {
                let r = catch_unwind(AssertUnwindSafe(|| m.insert(PK(i), i)));
                if r.is_ok() { keys.insert(i, i); } else { panics += 1; }
                i += 1;
                if panics > 50 { break; }
            }
            POISON.with(|p| p.set(u64::MAX));
            eprintln!("poison {poison}: {panics} panics, stats {:?}", m.stats());
            // After disarming: every key must still be present exactly once.
            check_all(&m, &keys);
            for j in 5000..8000u64 { m.insert(PK(j), j); keys.insert(j, j); }
            check_all(&m, &keys);
            assert!(!m.is_growing() || m.stats().old_evacuated <= m.stats().old_buckets);
        }
    });
}

/// Same, with forced same-size growth (no rehash needed?) and removes.
#[test]
fn hash_panic_during_forced_growth() {
    with_timeout(60, "evac2", || {
        for same in [false, true] {
            let m = ConcurrentHashMap::<PK, u64>::new();
            let mut keys = std::collections::BTreeMap::new();
            for i in 0..500u64 { m.insert(PK(i), i); keys.insert(i, i); }
            assert!(m.force_growth(same));
            POISON.with(|p| p.set(42));
            let mut panics = 0;
            for i in 0..500u64 {
                if i == 42 { continue; }
                let r = catch_unwind(AssertUnwindSafe(|| m.remove(&PK(i))));
                match r { Ok(v) => { assert_eq!(v, keys.remove(&i)); } Err(_) => panics += 1 }
                if i % 2 == 0 { let r = catch_unwind(AssertUnwindSafe(|| m.insert(PK(i + 10_000), i))); if r.is_ok() { keys.insert(i + 10_000, i); } else { panics += 1 } }
            }
            POISON.with(|p| p.set(u64::MAX));
            eprintln!("same={same}: {panics} panics");
            check_all(&m, &keys);
        }
    });
}

// ---- Key / value destructors that write to the map ----
static KM: OnceLock<ConcurrentHashMap<DK, u64>> = OnceLock::new();
static DROP_WRITES: AtomicUsize = AtomicUsize::new(0);
#[derive(Debug)]
struct DK(u64, bool);
impl Clone for DK { fn clone(&self) -> Self { DK(self.0, self.1) } }
impl Hash for DK { fn hash<H: Hasher>(&self, h: &mut H) { self.0.hash(h) } }
impl PartialEq for DK { fn eq(&self, o: &Self) -> bool { self.0 == o.0 } }
impl Eq for DK {}
impl Drop for DK {
    fn drop(&mut self) {
        if self.1 {
            if let Some(m) = KM.get() {
                m.insert(DK(1_000_000 + self.0, false), 1);
                DROP_WRITES.fetch_add(1, SeqCst);
            }
        }
    }
}

#[test]
fn key_destructor_writes_to_map() {
    with_timeout(30, "keydrop", || {
        let m = KM.get_or_init(ConcurrentHashMap::new);
        m.insert(DK(1, false), 1);
        let mut results = vec![];
        let cases: Vec<(&str, Box<dyn Fn()>)> = vec![
            ("get_or_insert_with present", Box::new(|| { m.get_or_insert_with(DK(1, true), || 5); })),
            ("pinned get_or_insert present", Box::new(|| { m.pin().get_or_insert(DK(1, true), 5); })),
            ("compute keep", Box::new(|| { m.pin().compute(DK(1, true), |_| Operation::Keep); })),
            ("compute remove absent", Box::new(|| { m.pin().compute(DK(2, true), |_| Operation::Remove); })),
            ("get_or_insert_with panicking f", Box::new(|| { let _ = catch_unwind(AssertUnwindSafe(|| m.get_or_insert_with(DK(3, true), || panic!("f")))); })),
            ("insert replacing (old key retired)", Box::new(|| { m.insert(DK(4, true), 1); m.insert(DK(4, false), 2); m.pin().flush(); })),
            ("remove retired key", Box::new(|| { m.insert(DK(5, true), 1); m.remove(&DK(5, false)); m.pin().flush(); })),
        ];
        for (name, c) in cases {
            let before = DROP_WRITES.load(SeqCst);
            let r = catch_unwind(AssertUnwindSafe(|| c()));
            let after = DROP_WRITES.load(SeqCst);
            results.push(format!("{name}: {} (drop writes {})", if r.is_ok() { "ok" } else { "PANICKED" }, after - before));
            assert_eq!(m.len(), m.pin().iter().count());
        }
        for r in &results { eprintln!("{r}"); }
        assert!(results.iter().all(|r| r.contains(": ok")), "{results:#?}");
    });
}

// Value destructor that writes to the map, for values that are passed in but not stored.
static VM: OnceLock<ConcurrentHashMap<u64, DV>> = OnceLock::new();
#[derive(Debug)]
struct DV(u64, bool);
impl Clone for DV { fn clone(&self) -> Self { DV(self.0, false) } }
impl Drop for DV { fn drop(&mut self) { if self.1 { if let Some(m) = VM.get() { m.pin().insert(1_000_000 + self.0, DV(0, false)); } } } }

#[test]
fn value_destructor_writes_to_map() {
    with_timeout(30, "valdrop", || {
        let m = VM.get_or_init(ConcurrentHashMap::new);
        m.pin().insert(1, DV(1, false));
        let mut results = vec![];
        let cases: Vec<(&str, Box<dyn Fn()>)> = vec![
            ("get_or_insert present (value unused)", Box::new(|| { m.pin().get_or_insert(1, DV(7, true)); })),
            ("update f captures droppable", Box::new(|| { let cap = DV(8, true); m.pin().update(&1, move |_| { let _ = &cap; DV(1, false) }); })),
            ("update returns value, key absent", Box::new(|| { let cap = DV(9, true); m.pin().update(&12345, move |_| { let _ = &cap; DV(1, false) }); })),
            ("compute set replaces (old retired)", Box::new(|| { m.pin().insert(2, DV(10, true)); m.pin().compute(2, |_| Operation::Set(DV(2, false))); m.pin().flush(); })),
            ("retain removes (retired)", Box::new(|| { m.pin().insert(3, DV(11, true)); m.retain(|k, _| *k != 3); m.pin().flush(); })),
            ("clear (retired)", Box::new(|| { m.pin().insert(4, DV(12, true)); m.clear(); m.pin().flush(); })),
        ];
        for (name, c) in cases {
            let r = catch_unwind(AssertUnwindSafe(|| c()));
            results.push(format!("{name}: {}", if r.is_ok() { "ok" } else { "PANICKED" }));
            assert_eq!(m.len(), m.pin().iter().count());
        }
        for r in &results { eprintln!("{r}"); }
        assert!(results.iter().all(|r| r.ends_with(": ok")), "{results:#?}");
    });
}

/// Iteration with all keys colliding while others insert/remove in the same chain and growth is forced.
#[test]
fn iteration_const_hash_churn() {
    with_timeout(60, "iter-const", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64, ConstState>::with_hasher(ConstState));
        for k in 0..100 { m.insert(k, k); }
        let stop = Arc::new(AtomicBool::new(false));
        let w = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Relaxed) {
                m.insert(1000 + i % 300, i);
                m.remove(&(1000 + (i * 7) % 300));
                if i % 100 == 0 { m.force_growth(i % 200 == 0); }
                i += 1;
            }
        })};
        for _ in 0..1500 {
            let v = m.pin();
            let mut seen = [0u8; 100];
            for (k, val) in v.iter() { if *k < 100 { assert_eq!(k, val); seen[*k as usize] += 1; } }
            assert!(seen.iter().all(|&c| c == 1), "{:?}", seen.iter().enumerate().filter(|(_, c)| **c != 1).collect::<Vec<_>>());
        }
        stop.store(true, Relaxed);
        w.join().unwrap();
    });
}

/// len() and iteration agree after concurrent retain/clear/insert.
#[test]
fn concurrent_retain_clear_insert() {
    with_timeout(60, "rci", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let hs: Vec<_> = (0..4u64).map(|t| { let m = m.clone(); thread::spawn(move || {
            for i in 0..30_000u64 {
                let k = (i * 13 + t * 7) % 5000;
                match t {
                    0 => { m.insert(k, i); }
                    1 => { if i % 3000 == 0 { m.clear() } else { m.update(&k, |v| v + 1); } }
                    2 => { if i % 1000 == 0 { m.retain(|k, _| k % 2 == 0) } else { m.get_or_insert_with(k, || 0); } }
                    _ => { m.remove(&k); }
                }
            }
        })}).collect();
        for h in hs { h.join().unwrap(); }
        assert_eq!(m.len(), m.pin().iter().count());
        let keys: std::collections::HashSet<u64> = m.pin().keys().copied().collect();
        assert_eq!(keys.len(), m.len(), "duplicate keys in iteration");
        for k in &keys { assert!(m.contains_key(k)); }
        for k in 0..5000 { assert_eq!(m.contains_key(&k), keys.contains(&k)); }
    });
}

/// update: concurrent update + remove + reinsert on one key; final value consistent.
#[test]
fn update_vs_remove_reinsert() {
    with_timeout(60, "urr", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let applied = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        m.insert(0, 0);
        let remover = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || {
            let mut removed_sum = 0u64;
            let mut n = 0;
            while !stop.load(Relaxed) { if let Some(v) = m.remove(&0) { removed_sum += v; } m.get_or_insert_with(0, || 0); n += 1; if n > 200_000 { break } }
            removed_sum
        })};
        let ups: Vec<_> = (0..2).map(|_| { let m = m.clone(); let a = applied.clone(); thread::spawn(move || {
            for _ in 0..100_000 { if m.update(&0, |v| v + 1).is_some() { a.fetch_add(1, Relaxed); } }
        })}).collect();
        for u in ups { u.join().unwrap(); }
        stop.store(true, Relaxed);
        let removed_sum = remover.join().unwrap();
        let final_v = m.get_cloned(&0).unwrap_or(0);
        assert_eq!(removed_sum + final_v, applied.load(Relaxed), "updates applied vs value accounted");
    });
}

#[test]
fn from_iter_panicking_iterator_drops_everything() {
    let l = Ledger::new(1 << 16);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _m: ConcurrentHashMap<u64, Tracked> = (0..1000u64).map(|i| { if i == 777 { panic!("iter boom") } (i % 300, Tracked::new(i, &l)) }).collect();
    }));
    assert!(r.is_err());
    l.check_all_dropped_once();
}

#[test]
fn extend_ref_from_many_threads() {
    let m = ConcurrentHashMap::<u64, u64>::new();
    thread::scope(|s| { for t in 0..8u64 { let m = &m; s.spawn(move || { let mut r = m; r.extend((0..5000).map(|i| (t * 5000 + i, i))); }); } });
    assert_eq!(m.len(), 40_000);
    assert_eq!(m.pin().iter().count(), 40_000);
}

#[test]
fn clone_during_concurrent_writes() {
    with_timeout(60, "clone", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        for k in 0..2000 { m.insert(k, k); }
        let stop = Arc::new(AtomicBool::new(false));
        let w = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || { let mut i = 0; while !stop.load(Relaxed) { m.insert(10_000 + i % 50_000, i); m.remove(&(10_000 + (i + 25_000) % 50_000)); i += 1; } })};
        for _ in 0..100 {
            let c = (*m).clone();
            for k in 0..2000 { assert_eq!(c.get_cloned(&k), Some(k)); }
            assert_eq!(c.len(), c.pin().iter().count());
        }
        stop.store(true, Relaxed);
        w.join().unwrap();
    });
}
