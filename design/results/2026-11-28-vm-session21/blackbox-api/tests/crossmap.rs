//! Cross-map reentrancy: a closure of map A's `update` (runs under A's chain lock) only *reads*
//! map B; B's retired values have destructors that write to A (allowed: "destructors of retired
//! keys and values may use the map"; here it is another map). Does B's collection run inside A's
//! locked closure and deadlock? Watchdog: the test fails instead of hanging.
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::OnceLock;

#[derive(Clone, Default)]
struct ConstHB;
struct ConstH;
impl std::hash::Hasher for ConstH { fn finish(&self) -> u64 { 42 } fn write(&mut self, _: &[u8]) {} }
impl std::hash::BuildHasher for ConstHB { type Hasher = ConstH; fn build_hasher(&self) -> ConstH { ConstH } }

static A: OnceLock<ConcurrentHashMap<u64, u64, ConstHB>> = OnceLock::new();
static DROPS: AtomicU64 = AtomicU64::new(0);
struct D(u64);
impl Drop for D { fn drop(&mut self) { DROPS.fetch_add(1, Relaxed); A.get().unwrap().pin().insert(1_000_000 + self.0 % 10, self.0); } }

#[test]
#[ignore = "reproduces a hang (exits with status 3 after 10 s); run with --ignored"]
fn cross_map_destructor_under_other_maps_lock() {
    A.get_or_init(|| ConcurrentHashMap::with_hasher(ConstHB));
    let b: &'static ConcurrentHashMap<u64, D> = Box::leak(Box::new(ConcurrentHashMap::new()));
    A.get().unwrap().pin().insert(0, 0);
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    let progress = std::sync::Arc::new(AtomicU64::new(0));
    let p2 = progress.clone();
    let h = std::thread::spawn(move || {
        let a = A.get().unwrap();
        for i in 0..20_000u64 {
            { let p = b.pin(); p.insert(i, D(i)); p.remove(&i); }
            a.pin().update(&0, |v| { let _ = b.pin().get(&(i + 1)); let _ = b.pin().get(&(i + 2)); v + 1 });
            p2.store(i, Relaxed);
        }
        d2.store(true, Relaxed);
    });
    let t = std::time::Instant::now();
    while !done.load(Relaxed) {
        if t.elapsed().as_secs() > 10 {
            eprintln!("HANG: progress {} drops {}", progress.load(Relaxed), DROPS.load(Relaxed));
            std::process::exit(3);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    h.join().unwrap();
    eprintln!("no hang; drops {}", DROPS.load(Relaxed));
}
