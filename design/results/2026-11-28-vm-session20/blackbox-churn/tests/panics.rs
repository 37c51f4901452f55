use hmap::ConcurrentHashMap;
use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;

static KEYS_MADE: AtomicUsize = AtomicUsize::new(0);
static KEYS_DROPPED: AtomicUsize = AtomicUsize::new(0);
static VALS_MADE: AtomicUsize = AtomicUsize::new(0);
static VALS_DROPPED: AtomicUsize = AtomicUsize::new(0);
static ARMED: AtomicBool = AtomicBool::new(false);
thread_local! { static SEED: Cell<u64> = const { Cell::new(0x9E3779B97F4A7C15) }; }
fn rnd() -> u64 { SEED.with(|s| { let mut x = s.get(); x ^= x << 13; x ^= x >> 7; x ^= x << 17; s.set(x); x }) }
fn maybe_panic(what: &str, one_in: u64) {
    if ARMED.load(Relaxed) && !std::thread::panicking() && rnd() % one_in == 0 { panic!("injected {what}"); }
}

struct K(u64);
impl K { fn new(k: u64) -> K { KEYS_MADE.fetch_add(1, SeqCst); K(k) } }
impl Clone for K { fn clone(&self) -> K { maybe_panic("clone", 50); K::new(self.0) } }
impl Hash for K { fn hash<H: Hasher>(&self, h: &mut H) { maybe_panic("hash", 100); self.0.hash(h) } }
impl PartialEq for K { fn eq(&self, o: &K) -> bool { maybe_panic("eq", 100); self.0 == o.0 } }
impl Eq for K {}
impl Drop for K { fn drop(&mut self) { KEYS_DROPPED.fetch_add(1, SeqCst); maybe_panic("kdrop", 200); } }

struct V(u64, #[allow(dead_code)] Box<u64>);
impl V { fn new(v: u64) -> V { VALS_MADE.fetch_add(1, SeqCst); V(v, Box::new(v)) } }
impl Drop for V { fn drop(&mut self) { VALS_DROPPED.fetch_add(1, SeqCst); maybe_panic("vdrop", 100); } }

#[test]
fn panics_everywhere() {
    std::panic::set_hook(Box::new(|_| {}));
    let iters: u64 = std::env::var("PANIC_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    for round in 0..iters {
        let map = Arc::new(ConcurrentHashMap::<K, V>::new());
        ARMED.store(true, SeqCst);
        let hs: Vec<_> = (0..4u64).map(|t| {
            let map = map.clone();
            std::thread::spawn(move || {
                SEED.with(|s| s.set(round * 7919 + t * 104729 + 1));
                let mut caught = 0;
                for i in 0..4000u64 {
                    let k = rnd() % 512;
                    let op = rnd() % 100;
                    let r = catch_unwind(AssertUnwindSafe(|| {
                        let p = map.pin();
                        match op {
                            0..=29 => { p.insert(K::new(k), V::new(k)); }
                            30..=49 => { p.remove(&K::new(k)); }
                            50..=64 => { p.update(&K::new(k), |v| { maybe_panic("update", 20); V::new(v.0 + 1) }); }
                            65..=79 => { let v = p.get_or_insert_with(K::new(k), || { maybe_panic("goiw", 20); V::new(k) }); let _ = v.0; }
                            80..=97 => { let _ = p.get(&K::new(k)).map(|v| v.0); }
                            98 => { p.retain(|k, _| { maybe_panic("retain", 300); k.0 % 3 != 0 }); }
                            _ => { let ss = rnd() % 4 == 0; if ss || map.log2_buckets() < 9 { let _ = map.force_growth(ss); } }
                        }
                        if i % 500 == 0 { p.flush(); }
                    }));
                    if r.is_err() { caught += 1; }
                }
                caught
            })
        }).collect();
        let caught: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
        ARMED.store(false, SeqCst);
        map.check_invariants();
        let n = map.pin().iter().count();
        assert_eq!(n, map.len());
        // the map still works
        for k in 1000..1100 { map.pin().insert(K::new(k), V::new(k)); }
        for k in 1000..1100 { let q = K::new(k); assert_eq!(map.pin().get(&q).map(|v| v.0), Some(k)); }
        for k in 1000..1100 { assert!(map.pin().remove(&K::new(k)).is_some()); }
        map.check_invariants();
        let st = map.stats();
        drop(map);
        let (km, kd, vm, vd) = (KEYS_MADE.load(SeqCst), KEYS_DROPPED.load(SeqCst), VALS_MADE.load(SeqCst), VALS_DROPPED.load(SeqCst));
        eprintln!("round {round}: caught={caught} drop_panics={} growths={} keys {km}/{kd} vals {vm}/{vd}", st.drop_panics, st.growths);
        assert_eq!(vm, vd, "values made vs dropped");
        // K(k) temporaries for get: created without K::new, but dropped: compensate
        assert_eq!(km, kd - 0, "keys made vs dropped");
    }
}
