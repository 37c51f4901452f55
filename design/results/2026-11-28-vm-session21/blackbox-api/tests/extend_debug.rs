//! FromIterator / Extend with duplicate keys compared with std (last value wins), Extend for
//! &map from several threads at once (overlapping keys), and Debug of a map / pinned view during
//! growth (every key once, parses back).
use bb4::*;
use hmap::ConcurrentHashMap;
use std::collections::HashMap as Std;

#[test]
fn from_iter_and_extend_duplicates_like_std() {
    for n in [0usize, 1, 2, 7, 8, 9, 100, 1023, 1024, 1025, 5000, 50_000] {
        let mut r = Rng::new(n as u64 + 1);
        let v: Vec<(u64, u64)> = (0..n).map(|i| (r.below(n as u64 / 3 + 1), i as u64)).collect();
        let c: ConcurrentHashMap<u64, u64> = v.iter().copied().collect();
        let s: Std<u64, u64> = v.iter().copied().collect();
        assert_eq!(c.len(), s.len(), "n {n}");
        for (k, x) in &s { assert_eq!(c.pin().get(k), Some(x), "n {n}"); }
        // iterator with lying size_hint (claims huge lower bound? not allowed; use 0 / exact)
        let mut c2: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        c2.extend(v.iter().copied().filter(|_| true));
        c2.extend(v.iter().map(|&(k, x)| (k, x + 1)));
        let mut s2 = Std::new(); s2.extend(v.iter().copied()); s2.extend(v.iter().map(|&(k, x)| (k, x + 1)));
        assert_eq!(c2.len(), s2.len());
        for (k, x) in &s2 { assert_eq!(c2.pin().get(k), Some(x)); }
        c2.check_invariants();
    }
}

/// size_hint lower bound larger than the real count (a buggy iterator, allowed by the trait as
/// long as it is not unsafe code relying on it): from_iter must not misbehave.
struct Liar(std::ops::Range<u64>, usize);
impl Iterator for Liar { type Item = (u64, u64); fn next(&mut self) -> Option<(u64, u64)> { self.0.next().map(|k| (k, k)) } fn size_hint(&self) -> (usize, Option<usize>) { (self.1, None) } }

#[test]
fn from_iter_with_lying_size_hint() {
    let c: ConcurrentHashMap<u64, u64> = Liar(0..10, 1 << 20).collect();
    assert_eq!(c.len(), 10);
    let c: ConcurrentHashMap<u64, u64> = Liar(0..10_000, 0).collect();
    assert_eq!(c.len(), 10_000);
    // size_hint of usize::MAX: std would panic "capacity overflow" too?
    let r = std::panic::catch_unwind(|| { let c: ConcurrentHashMap<u64, u64> = Liar(0..10, usize::MAX).collect(); c.len() });
    eprintln!("size_hint usize::MAX: {:?}", r.map_err(|e| panic_msg(&e)));
}

#[test]
fn extend_ref_from_many_threads() {
    for round in 0..20u64 {
        let m: ConcurrentHashMap<u64, (u64, u64)> = ConcurrentHashMap::with_capacity(round as usize);
        let threads = 4u64;
        let n = 5000 + round * 1000;
        let mut kk = (n / 2) | 1; if kk % 7 == 0 { kk += 2; }
        std::thread::scope(|s| for t in 0..threads { let m = &m; s.spawn(move || {
            // each thread extends with overlapping keys, values tagged (thread, seq); within a
            // thread, seq increases, and each key appears several times
            let items = (0..n).map(move |i| ((i * 7 + t * 13) % kk, (t, i)));
            let mut mr = m; mr.extend(items);
        }); });
        assert_eq!(m.len(), kk as usize);
        let p = m.pin();
        for k in 0..kk {
            let (t, i) = *p.get(&k).unwrap();
            // must be the last occurrence of k in thread t's sequence
            let last = (0..n).rev().find(|&j| (j * 7 + t * 13) % kk == k).unwrap();
            assert_eq!(i, last, "round {round}: key {k} holds a non-last value from thread {t}");
        }
        drop(p);
        m.check_invariants();
    }
}

fn parse_debug(s: &str) -> Vec<(u64, u64)> {
    let s = s.trim(); assert!(s.starts_with('{') && s.ends_with('}'), "{s:.80}");
    let inner = &s[1..s.len() - 1];
    if inner.is_empty() { return vec![]; }
    inner.split(", ").map(|kv| { let (a, b) = kv.split_once(": ").unwrap(); (a.parse().unwrap(), b.parse().unwrap()) }).collect()
}

#[test]
fn debug_during_growth() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    assert_eq!(format!("{m:?}"), "{}");
    assert_eq!(format!("{:?}", m.pin()), "{}");
    let stable = 2000u64;
    for i in 0..stable { m.pin().insert(i, i + 1); }
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let (m, stop) = (&m, &stop);
        s.spawn(move || { let mut i = 0u64; while !stop.load(std::sync::atomic::Ordering::Relaxed) { let p = m.pin(); p.insert(1_000_000 + mix(i) % 20_000, 0); p.remove(&(1_000_000 + mix(i ^ 77) % 20_000)); if i % 20_000 == 0 { m.force_growth(i % 40_000 == 0); } i += 1; } });
        for round in 0..200 {
            let txt = if round % 2 == 0 { format!("{m:?}") } else { let p = m.pin(); format!("{p:?}") };
            let pairs = parse_debug(&txt);
            let mut seen = Std::new();
            for (k, v) in pairs { if k < stable { assert_eq!(v, k + 1); assert!(seen.insert(k, ()).is_none(), "dup {k} in Debug"); } }
            assert_eq!(seen.len() as u64, stable, "round {round}: Debug missed stable keys");
            let alt = format!("{m:#?}");
            assert!(alt.lines().count() as u64 >= stable + 2);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    eprintln!("{:?}", m.stats());
}

static LIVE2: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);
struct T(u64);
impl T { fn new(x: u64) -> T { LIVE2.fetch_add(1, std::sync::atomic::Ordering::SeqCst); T(x) } }
impl Drop for T { fn drop(&mut self) { LIVE2.fetch_sub(1, std::sync::atomic::Ordering::SeqCst); } }

/// The source iterator of `extend` writes to the same map from `next()` (no chain lock is held
/// there), across the 1024-item re-pin; and a source that panics midway in `from_iter`.
#[test]
fn extend_source_writes_to_map_and_panics() {
    let m: ConcurrentHashMap<u64, T> = ConcurrentHashMap::new();
    (&m).extend((0..5000u64).map(|i| { let p = m.pin(); p.insert(1_000_000 + i, T::new(i)); if i % 2 == 0 { p.remove(&(1_000_000 + i / 2)); } (i, T::new(i)) }));
    assert_eq!(m.len(), 5000 + 5000 - 2500);
    for i in 0..5000u64 { assert_eq!(m.pin().get(&i).map(|t| t.0), Some(i)); }
    m.check_invariants();
    drop(m);
    let r = std::panic::catch_unwind(|| {
        let c: ConcurrentHashMap<u64, T> = (0..3000u64).map(|i| { if i == 2500 { panic!("source panic"); } (i % 700, T::new(i)) }).collect();
        c.len()
    });
    assert!(r.is_err());
    assert_eq!(LIVE2.load(std::sync::atomic::Ordering::SeqCst), 0, "values leaked or double dropped");
}
