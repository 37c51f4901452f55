//! Hashers whose build_hasher / write / finish panic now and then (per-thread deterministic), and
//! hashers that are inconsistent across calls, under concurrency and growth. A panicking hash
//! must leave the map untouched (the op never ran), drop what was moved in exactly once, and
//! never break other keys; inconsistent hashes may lose keys but len == iter count when quiescent.
use bb4::*;
use hmap::ConcurrentHashMap;
use std::cell::Cell;
use std::collections::HashMap as Std;
use std::hash::{BuildHasher, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, AtomicU64, Ordering::*};

thread_local! { static CALLS: Cell<u64> = const { Cell::new(0) }; static ARMED: Cell<bool> = const { Cell::new(false) }; }
fn tick(where_: u64, every: u64) {
    if !ARMED.with(|a| a.get()) { return; }
    let c = CALLS.with(|c| { let v = c.get() + 1; c.set(v); v });
    if c % every == where_ { panic!("hasher panic {where_}"); }
}

#[derive(Clone, Default)]
struct PanicHB;
struct PanicH(u64);
impl BuildHasher for PanicHB { type Hasher = PanicH; fn build_hasher(&self) -> PanicH { tick(1, 23); PanicH(0) } }
impl Hasher for PanicH {
    fn finish(&self) -> u64 { tick(2, 23); mix(self.0) }
    fn write(&mut self, _: &[u8]) { unreachable!() }
    fn write_u64(&mut self, v: u64) { tick(3, 23); self.0 ^= v; }
}

static VLIVE: AtomicUsize = AtomicUsize::new(0);
#[derive(Debug)]
struct V(u64, u64);
impl V { fn new(k: u64, g: u64) -> Self { VLIVE.fetch_add(1, SeqCst); V(k, g) } }
impl Drop for V { fn drop(&mut self) { assert_ne!(self.1, u64::MAX, "double drop"); self.1 = u64::MAX; VLIVE.fetch_sub(1, SeqCst); } }

#[test]
fn panicking_hasher_concurrent_model() {
    std::panic::set_hook(Box::new(|_| {}));
    let m: ConcurrentHashMap<u64, V, PanicHB> = ConcurrentHashMap::with_hasher(PanicHB);
    let threads = 2u64;
    let panics = AtomicU64::new(0);
    let models: Vec<Std<u64, u64>> = std::thread::scope(|s| {
        (0..threads).map(|t| { let (m, panics) = (&m, &panics); s.spawn(move || {
            ARMED.with(|a| a.set(true));
            let mut r = Rng::new(t + 11);
            let mut model: Std<u64, u64> = Std::new();
            for i in 0..200_000u64 {
                let k = r.below(20_000) * threads + t;
                let g = i + 1;
                let res = catch_unwind(AssertUnwindSafe(|| {
                    let p = m.pin();
                    match r.below(10) {
                        0..=3 => p.insert(k, V::new(k, g)).map(|v| v.1),
                        4..=5 => p.remove(&k).map(|v| v.1),
                        6 => p.update(&k, |v| V::new(k, v.1 + 1)).map(|v| v.1),
                        7 => Some(p.get_or_insert_with(k, || V::new(k, g)).1),
                        8 => { if i % 20_000 == 0 { m.force_growth(i % 40_000 == 0); } p.get(&k).map(|v| v.1) }
                        _ => p.get(&k).map(|v| v.1),
                    }
                }));
                // replay on model only if no panic: need op kind; recompute deterministically
                let _ = res.as_ref().map(|_| ()).map_err(|_| panics.fetch_add(1, Relaxed));
                // re-derive: we cannot know op after the fact; so compare get with model lazily below
                if let Ok(_) = res {
                    // read back (unarmed) and sync model to map for this key, check plausibility
                    ARMED.with(|a| a.set(false));
                    let cur = m.pin().get(&k).map(|v| { assert_eq!(v.0, k); v.1 });
                    ARMED.with(|a| a.set(true));
                    match cur { Some(x) => { model.insert(k, x); } None => { model.remove(&k); } }
                } else {
                    // a panicking op must not have changed the key
                    ARMED.with(|a| a.set(false));
                    let cur = m.pin().get(&k).map(|v| v.1);
                    ARMED.with(|a| a.set(true));
                    assert_eq!(cur, model.get(&k).copied(), "panicking op on {k} changed it");
                }
            }
            ARMED.with(|a| a.set(false));
            model
        }) }).collect::<Vec<_>>().into_iter().map(|h| h.join().unwrap()).collect()
    });
    let _ = std::panic::take_hook();
    let mut all = Std::new();
    for md in models { all.extend(md); }
    assert_eq!(m.len(), all.len());
    let p = m.pin();
    let mut n = 0;
    for (k, v) in p.iter() { n += 1; assert_eq!(all.get(k), Some(&v.1)); }
    assert_eq!(n, all.len());
    drop(p);
    m.check_invariants();
    eprintln!("panics {} stats {:?}", panics.load(Relaxed), m.stats());
    drop(m);
    for _ in 0..10 { if VLIVE.load(SeqCst) == 0 { break; } std::thread::sleep(std::time::Duration::from_millis(10)); }
    assert_eq!(VLIVE.load(SeqCst), 0, "values leaked or double-dropped");
}

/// Hash differs on each call with some probability: keys may get lost, but the map must stay
/// self-consistent (len == iter count when quiescent), never hang or crash, other keys intact.
#[derive(Clone, Default)]
struct FlakyHB(std::sync::Arc<AtomicU64>);
struct FlakyH(u64, u64);
impl BuildHasher for FlakyHB { type Hasher = FlakyH; fn build_hasher(&self) -> FlakyH { FlakyH(0, self.0.fetch_add(1, Relaxed)) } }
impl Hasher for FlakyH {
    fn finish(&self) -> u64 { if self.0 & (1 << 62) != 0 && self.1 % 3 == 0 { mix(self.0 ^ self.1) } else { mix(self.0) } }
    fn write(&mut self, _: &[u8]) { unreachable!() }
    fn write_u64(&mut self, v: u64) { self.0 ^= v; }
}

#[test]
fn flaky_hash_keys_isolated() {
    let m: ConcurrentHashMap<u64, u64, FlakyHB> = ConcurrentHashMap::with_hasher(FlakyHB::default());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // good keys (bit 62 clear) owned by thread 0 with an exact model; flaky keys by thread 1
        let (m, stop) = (&m, &stop);
        let h = s.spawn(move || {
            let mut r = Rng::new(1); let mut model = Std::new();
            for i in 0..300_000u64 {
                let k = r.below(30_000);
                let p = m.pin();
                match r.below(4) {
                    0 | 1 => assert_eq!(p.insert(k, i).copied(), model.insert(k, i)),
                    2 => assert_eq!(p.remove(&k).copied(), model.remove(&k)),
                    _ => assert_eq!(p.get(&k).copied(), model.get(&k).copied()),
                }
                if i % 50_000 == 0 { m.force_growth(i % 100_000 == 0); }
            }
            stop.store(true, Relaxed);
            model
        });
        s.spawn(move || {
            let mut r = Rng::new(2); let mut i = 0u64;
            while !stop.load(Relaxed) {
                i += 1;
                let k = (1 << 62) | r.below(30_000);
                let p = m.pin();
                match r.below(4) { 0 | 1 => { p.insert(k, i); } 2 => { p.remove(&k); } _ => { p.update(&k, |v| v + 1); } }
            }
        });
        let model = h.join().unwrap();
        let p = m.pin();
        for (k, v) in &model { assert_eq!(p.get(k), Some(v)); }
    });
    let n = m.pin().iter().count();
    assert_eq!(m.len(), n, "len vs iter count with flaky hashes");
    m.pin().retain(|_, _| true);
    let n2 = m.pin().iter().count();
    assert_eq!(m.len(), n2);
    m.clear();
    assert_eq!(m.len(), 0, "clear left entries");
    assert_eq!(m.pin().iter().count(), 0);
}
