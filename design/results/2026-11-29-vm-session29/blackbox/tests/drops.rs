mod common;
use common::*;
use hmap::concurrent::Operation;
use hmap::ConcurrentHashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::thread;

/// A key with tracked drops.
#[derive(Clone)]
struct TKey(u64, Arc<AtomicUsize>, Arc<AtomicUsize>); // val, created, dropped
impl TKey { fn new(v: u64, c: &Arc<AtomicUsize>, d: &Arc<AtomicUsize>) -> Self { c.fetch_add(1, SeqCst); TKey(v, c.clone(), d.clone()) } }
impl Drop for TKey { fn drop(&mut self) { self.2.fetch_add(1, SeqCst); } }
impl PartialEq for TKey { fn eq(&self, o: &Self) -> bool { self.0 == o.0 } }
impl Eq for TKey {}
impl Hash for TKey { fn hash<H: Hasher>(&self, h: &mut H) { self.0.hash(h) } }
// Clone must count creations
#[derive(Eq, PartialEq, Hash)]
struct CKey(TKey);
impl Clone for CKey { fn clone(&self) -> Self { CKey(TKey::new(self.0.0, &self.0.1, &self.0.2)) } }

#[test]
fn every_value_dropped_exactly_once_single_thread() {
    let l = Ledger::new(1 << 20);
    let kc = Arc::new(AtomicUsize::new(0)); let kd = Arc::new(AtomicUsize::new(0));
    {
        let m: ConcurrentHashMap<CKey, Tracked> = ConcurrentHashMap::new();
        for i in 0..5000u64 {
            let k = CKey(TKey::new(i % 1000, &kc, &kd));
            m.insert(k, Tracked::new(i, &l)); // returns clones of previous: dropped here
            if i % 7 == 0 { drop(m.remove(&CKey(TKey::new(i % 1000, &kc, &kd)))); }
            if i % 5 == 0 { drop(m.update(&CKey(TKey::new(i % 1000, &kc, &kd)), |v| Tracked::new(v.val + 1, &l))); }
            if i % 11 == 0 { drop(m.get_or_insert_with(CKey(TKey::new(i % 1000 + 5000, &kc, &kd)), || Tracked::new(0, &l))); }
            if i % 13 == 0 {
                let v = m.pin();
                v.compute(CKey(TKey::new(i % 1000, &kc, &kd)), |c| match c { Some(_) => Operation::Remove, None => Operation::Set(Tracked::new(1, &l)) });
                v.compute(CKey(TKey::new(i % 1000 + 1, &kc, &kd)), |_| Operation::Keep);
                v.compute(CKey(TKey::new(i % 1000 + 2, &kc, &kd)), |c| Operation::Set(Tracked::new(c.map_or(0, |t| t.val), &l)));
            }
            if i % 1000 == 999 { m.retain(|k, _| k.0.0 % 2 == 0); }
            if i == 3000 { m.clear(); }
        }
        let v = m.pin();
        assert_eq!(v.iter().count(), m.len());
        drop(v);
        l.check_no_double();
    }
    l.check_all_dropped_once();
    assert_eq!(kc.load(SeqCst), kd.load(SeqCst), "keys created vs dropped");
}

#[test]
fn every_value_dropped_exactly_once_concurrent() {
    with_timeout(60, "drops", || {
        let l = Ledger::new(1 << 21);
        let kc = Arc::new(AtomicUsize::new(0)); let kd = Arc::new(AtomicUsize::new(0));
        {
            let m = Arc::new(ConcurrentHashMap::<CKey, Tracked>::new());
            let hs: Vec<_> = (0..4u64).map(|t| { let m = m.clone(); let l = l.clone(); let kc = kc.clone(); let kd = kd.clone(); thread::spawn(move || {
                for i in 0..40_000u64 {
                    let key = (i * 31 + t) % 3000;
                    let k = || CKey(TKey::new(key, &kc, &kd));
                    let v = m.pin();
                    match i % 6 {
                        0 | 1 => { v.insert(k(), Tracked::new(i, &l)); }
                        2 => { v.remove(&k()); }
                        3 => { v.update(&k(), |o| Tracked::new(o.val + 1, &l)); }
                        4 => { v.get_or_insert_with(k(), || Tracked::new(i, &l)); }
                        _ => { v.compute(k(), |c| if c.is_some() && i % 12 == 5 { Operation::Remove } else { Operation::Set(Tracked::new(i, &l)) }); }
                    }
                    if i % 10_000 == 0 && t == 0 { m.retain(|k, _| k.0.0 % 3 != 0); }
                }
            })}).collect();
            for h in hs { h.join().unwrap(); }
            l.check_no_double();
            assert_eq!(m.len(), m.pin().iter().count());
            // live values must be >= entries in map
            assert!(l.live() >= m.len() as isize);
        }
        l.check_all_dropped_once();
        assert_eq!(kc.load(SeqCst), kd.load(SeqCst), "keys created vs dropped");
    });
}

#[test]
fn retired_values_reclaimed_while_map_lives() {
    let l = Ledger::new(1 << 20);
    let m: ConcurrentHashMap<u64, Tracked> = ConcurrentHashMap::new();
    for i in 0..200_000u64 { m.pin().insert(i % 100, Tracked::new(i, &l)); }
    let v = m.pin(); v.flush(); drop(v);
    let v = m.pin(); v.flush(); drop(v);
    // garbage should not grow unboundedly
    let live = l.live();
    eprintln!("live after flush: {live}, stats {:?}", m.stats());
    assert!(live < 10_000, "reclamation does not happen: {live} live of 100 in map");
    drop(m);
    l.check_all_dropped_once();
}

#[test]
fn values_dropped_in_thread_that_exited() {
    // Threads retire values then exit; later drop of map must drop all once.
    let l = Ledger::new(1 << 20);
    let m = Arc::new(ConcurrentHashMap::<u64, Tracked>::new());
    for _ in 0..10 {
        let hs: Vec<_> = (0..4).map(|t| { let m = m.clone(); let l = l.clone(); thread::spawn(move || {
            for i in 0..500u64 { m.pin().insert(t * 10 + i % 10, Tracked::new(i, &l)); }
        })}).collect();
        for h in hs { h.join().unwrap(); }
    }
    let v = m.pin(); v.flush(); drop(v);
    eprintln!("live after exits + flush: {}", l.live());
    l.check_no_double();
    drop(Arc::try_unwrap(m).ok().unwrap());
    l.check_all_dropped_once();
}

struct PanicDrop { armed: bool, dropped: Arc<AtomicUsize> }
impl Drop for PanicDrop {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, SeqCst);
        if self.armed { panic!("boom in drop"); }
    }
}
impl Clone for PanicDrop { fn clone(&self) -> Self { PanicDrop { armed: false, dropped: self.dropped.clone() } } }

#[test]
fn panicking_drop_on_map_drop_drops_all_and_propagates() {
    let d = Arc::new(AtomicUsize::new(0));
    let m: ConcurrentHashMap<u64, PanicDrop> = ConcurrentHashMap::new();
    for i in 0..1000 { m.pin().insert(i, PanicDrop { armed: i % 100 == 0, dropped: d.clone() }); }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(m)));
    assert!(r.is_err(), "the first drop panic should reach the caller");
    assert_eq!(d.load(SeqCst), 1000, "every value dropped once");
}

#[test]
fn panicking_drop_of_retired_value_contained() {
    let d = Arc::new(AtomicUsize::new(0));
    let m: ConcurrentHashMap<u64, PanicDrop> = ConcurrentHashMap::new();
    for i in 0..1000 { m.pin().insert(i, PanicDrop { armed: true, dropped: d.clone() }); }
    for i in 0..1000 { m.pin().insert(i, PanicDrop { armed: false, dropped: d.clone() }); }
    for i in 0..1000 { m.pin().remove(&i); }
    for _ in 0..3 { let v = m.pin(); v.flush(); }
    let s = m.stats();
    eprintln!("{s:?} dropped {}", d.load(SeqCst));
    assert!(s.drop_panics > 0);
    assert_eq!(m.len(), 0);
    for i in 0..100 { m.pin().insert(i, PanicDrop { armed: false, dropped: d.clone() }); }
    assert_eq!(m.len(), 100);
    drop(m);
    assert_eq!(d.load(SeqCst), 2100);
}

static SELF_MAP: std::sync::OnceLock<ConcurrentHashMap<u64, WriterOnDrop>> = std::sync::OnceLock::new();
struct WriterOnDrop(u64);
impl Drop for WriterOnDrop {
    fn drop(&mut self) {
        if self.0 < 1000 {
            if let Some(m) = SELF_MAP.get() {
                // destructor of a retired value writes to the same map
                m.pin().insert(1_000_000 + self.0, WriterOnDrop(u64::MAX));
                let _ = m.pin().update(&5, |_| WriterOnDrop(u64::MAX - 1));
            }
        }
    }
}

#[test]
fn destructor_of_retired_value_writes_to_map() {
    with_timeout(30, "dtor", || {
        let m = SELF_MAP.get_or_init(ConcurrentHashMap::new);
        for i in 0..1000u64 { m.pin().insert(i, WriterOnDrop(i)); }
        for i in 0..1000u64 { m.pin().remove(&i); }
        m.pin().flush(); m.pin().flush();
        // Also retire under update closure of another map
        let other: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        other.insert(1, 1);
        for i in 0..500u64 { m.pin().insert(i, WriterOnDrop(i)); }
        other.update(&1, |x| { for i in 0..500u64 { m.pin().remove(&i); } x + 1 });
        m.pin().flush();
        eprintln!("len {}", m.len());
        assert_eq!(m.len(), m.pin().iter().count());
    });
}

#[test]
fn forgotten_pinned_does_not_break_map() {
    let l = Ledger::new(1 << 20);
    {
        let m: ConcurrentHashMap<u64, Tracked> = ConcurrentHashMap::new();
        m.insert(1, Tracked::new(1, &l));
        let v = m.pin();
        v.get(&1);
        std::mem::forget(v);
        for i in 0..5000 { m.pin().insert(i % 10, Tracked::new(i, &l)); }
        assert_eq!(m.len(), 10);
    }
    // doc: leaks retired-from-then-on; but no double-drop and map's values dropped.
    l.check_no_double();
    eprintln!("live after forget: {}", l.live());
}

#[test]
fn references_stay_valid_while_view_lives() {
    with_timeout(30, "refs", || {
        let m = Arc::new(ConcurrentHashMap::<u64, Box<[u64; 32]>>::new());
        for k in 0..100 { m.insert(k, Box::new([k; 32])); }
        let stop = Arc::new(AtomicBool::new(false));
        let w = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Relaxed) { let k = i % 100; m.pin().insert(k, Box::new([k; 32])); m.pin().remove(&((i + 50) % 100)); i += 1; }
        })};
        for _ in 0..200 {
            let v = m.pin();
            let refs: Vec<(u64, &Box<[u64; 32]>)> = (0..100).filter_map(|k| v.get(&k).map(|r| (k, r))).collect();
            for _ in 0..50 { for (k, r) in &refs { assert!(r.iter().all(|x| x == k)); } }
            let removed = v.remove(&7);
            let ins = v.insert(8, Box::new([8; 32]));
            for _ in 0..1000 { std::hint::spin_loop(); }
            if let Some(r) = removed { assert!(r.iter().all(|x| *x == 7)); }
            if let Some(r) = ins { assert!(r.iter().all(|x| *x == 8)); }
        }
        stop.store(true, Relaxed);
        w.join().unwrap();
    });
}
