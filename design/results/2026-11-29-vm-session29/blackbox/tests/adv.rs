mod common;
use common::*;
use hmap::concurrent::Operation;
use hmap::ConcurrentHashMap;
use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::thread;

thread_local! { static ARM_HASH: Cell<bool> = const { Cell::new(false) }; static ARM_EQ: Cell<bool> = const { Cell::new(false) }; static ARM_CLONE: Cell<bool> = const { Cell::new(false) }; }

#[derive(Debug)]
struct PK(u64);
impl Hash for PK { fn hash<H: Hasher>(&self, h: &mut H) { if ARM_HASH.with(|a| a.get()) { panic!("hash boom") } self.0.hash(h) } }
impl PartialEq for PK { fn eq(&self, o: &Self) -> bool { if ARM_EQ.with(|a| a.get()) { panic!("eq boom") } self.0 == o.0 } }
impl Eq for PK {}
impl Clone for PK { fn clone(&self) -> Self { if ARM_CLONE.with(|a| a.get()) { panic!("clone boom") } PK(self.0) } }

fn consistent<S: std::hash::BuildHasher>(m: &ConcurrentHashMap<PK, u64, S>, expect: &std::collections::HashMap<u64, u64>) {
    let v = m.pin();
    let mut n = 0;
    for (k, val) in v.iter() { n += 1; assert_eq!(expect.get(&k.0), Some(val), "key {}", k.0); }
    assert_eq!(n, expect.len());
    assert_eq!(m.len(), expect.len());
    for (k, val) in expect { assert_eq!(v.get(&PK(*k)), Some(val)); }
}

fn arm(h: bool, e: bool, c: bool) { ARM_HASH.with(|a| a.set(h)); ARM_EQ.with(|a| a.set(e)); ARM_CLONE.with(|a| a.set(c)); }

fn panics_leave_map_consistent<S: std::hash::BuildHasher + Send + Sync + Clone + 'static>(s: S) {
    let m = ConcurrentHashMap::<PK, u64, S>::with_hasher(s);
    let mut expect = std::collections::HashMap::new();
    for i in 0..200 { m.pin().insert(PK(i), i); expect.insert(i, i); }
    for round in 0..300u64 {
        let k = round % 250; // some present, some absent
        let which = round % 14;
        let r = catch_unwind(AssertUnwindSafe(|| {
            match which {
                0 => { arm(true, false, false); m.pin().insert(PK(k), 999); }
                1 => { arm(false, true, false); m.pin().insert(PK(k), 999); }
                2 => { arm(true, false, false); m.pin().get(&PK(k)); }
                3 => { arm(false, true, false); m.pin().remove(&PK(k)); }
                4 => { arm(false, false, false); m.pin().update(&PK(k), |_| panic!("closure boom")); }
                5 => { arm(false, false, true); m.pin().update(&PK(k), |v| v + 1); }
                6 => { arm(false, false, false); m.pin().get_or_insert_with(PK(k), || panic!("goiw boom")); }
                7 => { arm(false, false, false); m.pin().compute(PK(k), |_| panic!("compute boom")); }
                8 => { arm(false, true, false); m.pin().compute(PK(k), |_| Operation::Set(5)); }
                9 => { arm(false, false, false); let mut n = 0; m.retain(|_, _| { n += 1; if n == 50 { panic!("retain boom") } true }); }
                10 => { arm(false, true, false); m.pin().update(&PK(k), |v| v + 1); }
                11 => { arm(false, false, false); m.update(&PK(k), |_| panic!("closure boom")); }
                12 => { arm(true, false, false); let _ = m.clone(); }
                _ => { arm(false, true, false); m.pin().get_or_insert_with(PK(k), || 5); }
            }
        }));
        arm(false, false, false);
        // Decide what should have happened: panicking ops change nothing
        match r {
            Ok(()) => {
                // Op didn't panic (e.g. eq not called because empty chain). Reflect effect.
                match which {
                    0 | 1 => { expect.insert(k, 999); }
                    3 => { expect.remove(&k); }
                    5 | 10 => { if let Some(v) = expect.get_mut(&k) { *v += 1; } }
                    8 => { expect.insert(k, 5); }
                    13 => { expect.entry(k).or_insert(5); }
                    4 | 11 => { assert!(!expect.contains_key(&k), "update with panicking f returned Ok for present key {k}"); }
                    6 => { assert!(expect.contains_key(&k)); }
                    7 => unreachable!(),
                    _ => {}
                }
            }
            Err(_) => {}
        }
        consistent(&m, &expect);
        // ensure not deadlocked: a write in the same chain from another thread works
        thread::scope(|sc| { sc.spawn(|| { m.pin().insert(PK(k), k + 1000); m.pin().remove(&PK(k)); }); });
        if let Some(v) = expect.get(&k) { m.pin().insert(PK(k), *v); }
        consistent(&m, &expect);
    }
}

#[test]
fn panics_default_hasher() { with_timeout(60, "panics", || panics_leave_map_consistent(hmap::DefaultHashBuilder::default())); }
#[test]
fn panics_constant_hasher() { with_timeout(60, "panics", || panics_leave_map_consistent(ConstState)); }

#[test]
fn panics_during_growth() {
    with_timeout(60, "panics growth", || {
        let m = ConcurrentHashMap::<PK, u64>::new();
        let mut expect = std::collections::HashMap::new();
        for i in 0..2000u64 {
            m.pin().insert(PK(i), i); expect.insert(i, i);
            if m.is_growing() {
                for which in 0..3 {
                    let k = i * 7 % 2100;
                    let r = catch_unwind(AssertUnwindSafe(|| match which {
                        0 => { arm(false, true, false); m.pin().insert(PK(k), 1); }
                        1 => { m.pin().update(&PK(k), |_| panic!("x")); }
                        _ => { arm(true, false, false); m.pin().remove(&PK(k)); }
                    }));
                    arm(false, false, false);
                    if r.is_ok() && which == 0 { expect.insert(k, 1); }
                }
            }
        }
        consistent(&m, &expect);
    });
}

#[test]
fn constant_hasher_many_keys_concurrent() {
    with_timeout(100, "const", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64, ConstState>::with_hasher(ConstState));
        let hs: Vec<_> = (0..4u64).map(|t| { let m = m.clone(); thread::spawn(move || {
            for i in 0..600u64 { assert_eq!(m.insert(t * 1000 + i, i), None); }
            for i in 0..600u64 { assert_eq!(m.get_cloned(&(t * 1000 + i)), Some(i)); }
            for i in (0..600u64).step_by(2) { assert_eq!(m.remove(&(t * 1000 + i)), Some(i)); }
        })}).collect();
        for h in hs { h.join().unwrap(); }
        assert_eq!(m.len(), 1200);
        assert_eq!(m.pin().iter().count(), 1200);
        eprintln!("{:?}", m.stats());
    });
}

// Inconsistent Hash/Eq: Eq always true, random hash; or hash random per call.
#[derive(Debug, Clone)]
struct Liar(u64);
static LIAR_CTR: AtomicUsize = AtomicUsize::new(0);
impl Hash for Liar { fn hash<H: Hasher>(&self, h: &mut H) { (self.0 ^ LIAR_CTR.fetch_add(1, Relaxed) as u64 % 3).hash(h) } }
impl PartialEq for Liar { fn eq(&self, o: &Self) -> bool { (self.0 + o.0) % 2 == 0 } }
impl Eq for Liar {}

#[test]
fn inconsistent_hash_eq_no_ub_no_hang() {
    with_timeout(60, "liar", || {
        let m = Arc::new(ConcurrentHashMap::<Liar, u64>::new());
        let hs: Vec<_> = (0..3u64).map(|t| { let m = m.clone(); thread::spawn(move || {
            for i in 0..20_000u64 {
                let k = Liar(i % 500 + t);
                match i % 5 { 0 | 1 => { m.pin().insert(k, i); } 2 => { m.pin().remove(&k); } 3 => { m.pin().update(&k, |v| v + 1); } _ => { m.pin().get_or_insert_with(k, || 0); } }
                if i % 5000 == 0 { m.retain(|k, _| k.0 % 3 != 0); }
            }
        })}).collect();
        for h in hs { h.join().unwrap(); }
        let n = m.pin().iter().count();
        assert_eq!(n, m.len(), "len must match iteration even with lying keys");
        let c = (*m).clone();
        let _ = c.len();
        m.clear();
        assert_eq!(m.len(), 0);
        assert_eq!(m.pin().iter().count(), 0);
    });
}

#[test]
fn nested_read_same_map_in_update() {
    with_timeout(30, "nested", || {
        let m = ConcurrentHashMap::<u64, u64, ConstState>::with_hasher(ConstState);
        for i in 0..100 { m.insert(i, i); }
        // read same key and same chain within update closure
        let r = m.update(&5, |v| { let o = m.pin(); assert_eq!(o.get(&5), Some(&5)); assert_eq!(m.get_cloned(&6), Some(6)); o.iter().count() as u64 + v });
        assert_eq!(r, Some(105));
        let v = m.pin();
        let r = v.update(&5, |x| { assert_eq!(v.get(&5), Some(x)); assert!(v.contains_key(&7)); x + 1 });
        assert_eq!(r, Some(&106));
        let r = v.get_or_insert_with(500, || v.len() as u64);
        assert_eq!(*r, 100);
        m.retain(|k, _| { assert!(m.contains_key(k)); let _ = m.stats(); let _ = m.len(); true });
    });
}

fn msg(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| e.downcast_ref::<String>().cloned()).unwrap_or_default()
}

#[test]
fn write_from_closure_panics_not_deadlocks() {
    with_timeout(30, "nested write", || {
        let m = ConcurrentHashMap::<u64, u64>::new();
        for i in 0..100 { m.insert(i, i); }
        let cases: Vec<Box<dyn Fn(&ConcurrentHashMap<u64, u64>)>> = vec![
            Box::new(|m| { m.update(&5, |v| { m.insert(5, 0); *v }); }),
            Box::new(|m| { m.update(&5, |v| { m.insert(77777, 0); *v }); }),
            Box::new(|m| { m.update(&5, |v| { m.remove(&6); *v }); }),
            Box::new(|m| { m.update(&5, |v| { m.update(&5, |x| x + 1); *v }); }),
            Box::new(|m| { m.get_or_insert_with(1000, || { m.insert(1000, 1); 0 }); }),
            Box::new(|m| { m.pin().compute(5, |_| { m.clear(); Operation::Keep }); }),
            Box::new(|m| { m.retain(|_, _| { m.insert(9999, 1); true }); }),
            Box::new(|m| { m.update(&5, |v| { m.retain(|_, _| true); *v }); }),
        ];
        for (i, c) in cases.iter().enumerate() {
            let before: Vec<(u64, u64)> = { let mut v: Vec<_> = m.pin().iter().map(|(a, b)| (*a, *b)).collect(); v.sort(); v };
            let r = catch_unwind(AssertUnwindSafe(|| c(&m)));
            match r { Ok(()) => panic!("case {i}: write from closure did not panic"), Err(e) => eprintln!("case {i}: {}", msg(e)) }
            let after: Vec<(u64, u64)> = { let mut v: Vec<_> = m.pin().iter().map(|(a, b)| (*a, *b)).collect(); v.sort(); v };
            // Map must remain consistent; nothing should have changed (the outer op unwound).
            assert_eq!(m.len(), after.len());
            assert_eq!(before, after, "case {i}: map changed by a panicking nested write");
            m.insert(5, 5); m.remove(&5); m.insert(5, 5);
        }
    });
}

#[test]
fn write_other_map_from_closure_ok() {
    with_timeout(30, "other", || {
        let a = ConcurrentHashMap::<u64, u64>::new();
        let b = ConcurrentHashMap::<u64, u64>::new();
        a.insert(1, 1);
        for i in 0..1000 {
            a.update(&1, |v| { b.insert(i, *v); b.update(&i, |x| x + 1); v + 1 });
        }
        assert_eq!(b.len(), 1000);
        assert_eq!(a.get_cloned(&1), Some(1001));
        // nested chain of maps
        let c = ConcurrentHashMap::<u64, u64>::new();
        c.insert(0, 0);
        a.update(&1, |v| { b.update(&0, |w| { c.insert(1, *v); c.update(&0, |z| z + 1); *w }); *v });
        assert_eq!(c.get_cloned(&1), Some(1001));
        assert_eq!(c.get_cloned(&0), Some(1));
    });
}

/// Two threads: A.update closure writes to B, B.update closure writes to A. Doc: "Writes to other maps are fine."
#[test]
fn cross_map_writes_from_two_threads() {
    with_timeout(30, "abba", || {
        let a = Arc::new(ConcurrentHashMap::<u64, u64, ConstState>::with_hasher(ConstState));
        let b = Arc::new(ConcurrentHashMap::<u64, u64, ConstState>::with_hasher(ConstState));
        a.insert(0, 0); b.insert(0, 0);
        let h1 = { let a = a.clone(); let b = b.clone(); thread::spawn(move || { for i in 0..200000 { a.update(&0, |v| { b.insert(1, i); v + 1 }); } }) };
        let h2 = { let a = a.clone(); let b = b.clone(); thread::spawn(move || { for i in 0..200000 { b.update(&0, |v| { a.insert(1, i); v + 1 }); } }) };
        h1.join().unwrap(); h2.join().unwrap();
    });
}

#[test]
fn deep_nesting_refused_not_hang() {
    with_timeout(30, "deep", || {
        let maps: Vec<ConcurrentHashMap<u64, u64>> = (0..12).map(|_| { let m = ConcurrentHashMap::new(); m.insert(0, 0); m }).collect();
        fn nest(maps: &[ConcurrentHashMap<u64, u64>], depth: usize, target: usize) {
            if depth == maps.len() { maps[target].insert(0, 1); return; }
            maps[depth].update(&0, |v| { nest(maps, depth + 1, target); *v });
        }
        // write to own held chain at depth 10 (map 0 held)
        let r = catch_unwind(AssertUnwindSafe(|| nest(&maps, 0, 0)));
        eprintln!("deep own: {:?}", r.as_ref().err().map(|_| "panicked"));
        assert!(r.is_err());
        for m in &maps { m.insert(0, 0); assert_eq!(m.len(), 1); }
        // 8-deep nesting then write to a fresh map: allowed
        let fresh = ConcurrentHashMap::<u64, u64>::new();
        fn nest2(maps: &[ConcurrentHashMap<u64, u64>], depth: usize, max: usize, f: &ConcurrentHashMap<u64, u64>) {
            if depth == max { f.insert(1, 1); return; }
            maps[depth].update(&0, |v| { nest2(maps, depth + 1, max, f); *v });
        }
        nest2(&maps, 0, 7, &fresh);
        assert_eq!(fresh.len(), 1);
    });
}

#[test]
fn update_closure_writes_via_flush_and_drops() {
    with_timeout(30, "flush", || {
        let m = ConcurrentHashMap::<u64, u64>::new();
        for i in 0..1000 { m.insert(i, i); }
        for i in 0..1000 { m.insert(i, i + 1); }
        m.update(&5, |v| { m.pin().flush(); *v });
        assert_eq!(m.len(), 1000);
    });
}

#[test]
fn thread_local_destructor_uses_map() {
    static M: std::sync::OnceLock<ConcurrentHashMap<u64, u64>> = std::sync::OnceLock::new();
    struct Tl;
    impl Drop for Tl { fn drop(&mut self) { let m = M.get().unwrap(); m.insert(42, 42); m.update(&42, |v| v + 1); m.pin().get(&42); } }
    thread_local! { static T: Tl = const { Tl }; }
    let m = M.get_or_init(ConcurrentHashMap::new);
    with_timeout(30, "tls", || {
        for _ in 0..20 {
            thread::spawn(|| { T.with(|_| {}); M.get().unwrap().insert(1, 1); }).join().unwrap();
        }
    });
    assert_eq!(m.get_cloned(&42), Some(43));
    eprintln!("{:?}", m.stats());
}
