#![allow(dead_code)]
use std::cell::Cell;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};

// ---------- thread-local fault injection ----------
thread_local! {
    pub static HASH_PANIC_IN: Cell<i64> = const { Cell::new(-1) };  // panics when it reaches 0
    pub static EQ_PANIC_IN: Cell<i64> = const { Cell::new(-1) };
    pub static CLONE_PANIC_IN: Cell<i64> = const { Cell::new(-1) };
    pub static DROP_PANIC_IN: Cell<i64> = const { Cell::new(-1) };
}

pub fn tick(c: &'static std::thread::LocalKey<Cell<i64>>, what: &str) {
    let fire = c.with(|c| {
        let n = c.get();
        if n < 0 {
            return false;
        }
        c.set(n - 1);
        n == 0
    });
    if fire {
        panic!("injected {what} panic");
    }
}

pub fn reset_faults() {
    HASH_PANIC_IN.with(|c| c.set(-1));
    EQ_PANIC_IN.with(|c| c.set(-1));
    CLONE_PANIC_IN.with(|c| c.set(-1));
    DROP_PANIC_IN.with(|c| c.set(-1));
}

/// A key whose Hash/Eq/Clone may panic on demand, and that can be made to collide.
#[derive(Debug)]
pub struct PKey {
    pub k: u64,
    pub collide: bool,
}
impl PKey {
    pub fn new(k: u64) -> Self {
        PKey { k, collide: false }
    }
    pub fn col(k: u64) -> Self {
        PKey { k, collide: true }
    }
}
impl Hash for PKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        tick(&HASH_PANIC_IN, "hash");
        if self.collide {
            0u64.hash(h)
        } else {
            self.k.hash(h)
        }
    }
}
impl PartialEq for PKey {
    fn eq(&self, o: &Self) -> bool {
        tick(&EQ_PANIC_IN, "eq");
        self.k == o.k
    }
}
impl Eq for PKey {}
impl Clone for PKey {
    fn clone(&self) -> Self {
        tick(&CLONE_PANIC_IN, "clone");
        PKey { k: self.k, collide: self.collide }
    }
}

// ---------- drop accounting (global, keyed by a "pool" id so tests don't interfere) ----------
pub static LIVE: [AtomicI64; 64] = [const { AtomicI64::new(0) }; 64];

/// A value that counts live instances in pool `p`; its drop may panic on demand.
#[derive(Debug)]
pub struct Tracked {
    pub v: u64,
    pub pool: usize,
    pub dropped: bool,
}
impl Tracked {
    pub fn new(pool: usize, v: u64) -> Self {
        LIVE[pool].fetch_add(1, Ordering::SeqCst);
        Tracked { v, pool, dropped: false }
    }
}
impl Clone for Tracked {
    fn clone(&self) -> Self {
        assert!(!self.dropped, "clone of dropped value");
        tick(&CLONE_PANIC_IN, "clone");
        Tracked::new(self.pool, self.v)
    }
}
impl PartialEq for Tracked {
    fn eq(&self, o: &Self) -> bool {
        self.v == o.v
    }
}
impl Drop for Tracked {
    fn drop(&mut self) {
        assert!(!self.dropped, "double drop");
        self.dropped = true;
        let prev = LIVE[self.pool].fetch_sub(1, Ordering::SeqCst);
        assert!(prev > 0, "more drops than creations in pool {}", self.pool);
        tick(&DROP_PANIC_IN, "drop");
    }
}
pub fn live(pool: usize) -> i64 {
    LIVE[pool].load(Ordering::SeqCst)
}

/// Deterministic hasher (identity-ish) builder.
#[derive(Clone, Default)]
pub struct ConstState;
pub struct ConstHasher(u64);
impl Hasher for ConstHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, b: &[u8]) {
        for x in b {
            self.0 = self.0.wrapping_mul(31).wrapping_add(*x as u64);
        }
    }
}
impl BuildHasher for ConstState {
    type Hasher = ConstHasher;
    fn build_hasher(&self) -> ConstHasher {
        ConstHasher(0)
    }
}

/// splitmix
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let s = info.to_string();
            if s.contains("injected") || s.contains("concurrent map") || s.contains("hmap: `") {
                return;
            }
            prev(info)
        }));
    });
}

pub fn panic_msg(e: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = e.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string>".into()
    }
}

pub fn save_faults() -> [i64; 4] {
    let r = [HASH_PANIC_IN.with(|c| c.get()), EQ_PANIC_IN.with(|c| c.get()), CLONE_PANIC_IN.with(|c| c.get()), DROP_PANIC_IN.with(|c| c.get())];
    reset_faults();
    r
}
pub fn restore_faults(r: [i64; 4]) {
    HASH_PANIC_IN.with(|c| c.set(r[0]));
    EQ_PANIC_IN.with(|c| c.set(r[1]));
    CLONE_PANIC_IN.with(|c| c.set(r[2]));
    DROP_PANIC_IN.with(|c| c.set(r[3]));
}
