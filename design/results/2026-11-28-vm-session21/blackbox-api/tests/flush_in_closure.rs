//! Same map: an `update` closure calls `pin().flush()` (not a write) while values' destructors
//! write to the map (allowed). Does the flush run destructors under the held chain lock?
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::OnceLock;

#[derive(Clone, Default)]
struct ConstHB;
struct ConstH;
impl std::hash::Hasher for ConstH { fn finish(&self) -> u64 { 42 } fn write(&mut self, _: &[u8]) {} }
impl std::hash::BuildHasher for ConstHB { type Hasher = ConstH; fn build_hasher(&self) -> ConstH { ConstH } }

static A: OnceLock<ConcurrentHashMap<u64, D, ConstHB>> = OnceLock::new();
static DROPS: AtomicU64 = AtomicU64::new(0);
struct D(u64, bool);
thread_local! { static IN_CLOSURE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) }; }
impl Drop for D { fn drop(&mut self) { DROPS.fetch_add(1, Relaxed); if IN_CLOSURE.with(|c| c.get()) && self.1 { eprintln!("destructor of retired value {} runs inside a map closure (chain locked)", self.0); } if self.1 { A.get().unwrap().pin().insert(1_000_000 + self.0 % 10, D(self.0, false)); } } }

#[test]
#[ignore = "reproduces a hang (exits with status 3 after 10 s); run with --ignored"]
fn flush_inside_update_closure() {
    A.get_or_init(|| ConcurrentHashMap::with_hasher(ConstHB));
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    let progress = std::sync::Arc::new(AtomicU64::new(0));
    let p2 = progress.clone();
    std::thread::spawn(move || {
        let a = A.get().unwrap();
        a.pin().insert(0, D(0, false));
        for i in 1..2_000u64 {
            { let p = a.pin(); p.insert(i, D(i, true)); p.remove(&i); }
            a.pin().update(&0, |v| { IN_CLOSURE.with(|c| c.set(true)); a.pin().flush(); IN_CLOSURE.with(|c| c.set(false)); D(v.0 + 1, false) });
            p2.store(i, Relaxed);
        }
        d2.store(true, Relaxed);
    });
    let t = std::time::Instant::now();
    while !done.load(Relaxed) {
        if t.elapsed().as_secs() > 10 { eprintln!("HANG: progress {} drops {}", progress.load(Relaxed), DROPS.load(Relaxed)); std::process::exit(3); }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    eprintln!("no hang; drops {}", DROPS.load(Relaxed));
}

#[test]
#[ignore = "reproduces a hang (exits with status 3 after 10 s); run with --ignored"]
fn flush_inside_retain_closure() {
    A.get_or_init(|| ConcurrentHashMap::with_hasher(ConstHB));
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    let progress = std::sync::Arc::new(AtomicU64::new(0));
    let p2 = progress.clone();
    std::thread::spawn(move || {
        let a = A.get().unwrap();
        a.pin().insert(0, D(0, false));
        for i in 1..2_000u64 {
            { let p = a.pin(); p.insert(i, D(i, true)); p.remove(&i); }
            a.pin().retain(|_, _| { IN_CLOSURE.with(|c| c.set(true)); a.pin().flush(); IN_CLOSURE.with(|c| c.set(false)); true });
            p2.store(i, Relaxed);
        }
        d2.store(true, Relaxed);
    });
    let t = std::time::Instant::now();
    while !done.load(Relaxed) {
        if t.elapsed().as_secs() > 10 { eprintln!("HANG: progress {} drops {}", progress.load(Relaxed), DROPS.load(Relaxed)); std::process::exit(3); }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    eprintln!("no hang; drops {}", DROPS.load(Relaxed));
}
