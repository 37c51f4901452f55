use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

pub static INCONS: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Good,
    Const(u64),
    TopOnly,
    LowOnly,
    /// hash changes every `period` hash calls (global counter)
    Inconsistent(u64),
    /// completely random each call
    Random,
}

#[derive(Clone, Copy, Debug)]
pub struct HB(pub Kind);

pub struct H {
    kind: Kind,
    st: u64,
}

pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

impl Hasher for H {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.st = mix(self.st ^ *b as u64);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.st = mix(self.st ^ x);
    }
    fn finish(&self) -> u64 {
        let m = mix(self.st);
        match self.kind {
            Kind::Good => m,
            Kind::Const(c) => c,
            Kind::TopOnly => m & (0xffu64 << 56),
            Kind::LowOnly => (0xABu64 << 56) | (m & 0xffff),
            Kind::Inconsistent(p) => {
                let c = INCONS.fetch_add(1, Ordering::Relaxed) / p;
                mix(m ^ c)
            }
            Kind::Random => mix(m ^ mix(INCONS.fetch_add(1, Ordering::Relaxed))),
        }
    }
}

impl BuildHasher for HB {
    type Hasher = H;
    fn build_hasher(&self) -> H {
        H { kind: self.0, st: 0 }
    }
}

pub struct Tracker {
    pub created: AtomicUsize,
    pub dropped_total: AtomicUsize,
    pub dropped: Vec<AtomicU8>,
    pub errors: AtomicUsize,
}

impl Tracker {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Tracker {
            created: AtomicUsize::new(0),
            dropped_total: AtomicUsize::new(0),
            dropped: (0..cap).map(|_| AtomicU8::new(0)).collect(),
            errors: AtomicUsize::new(0),
        })
    }
    pub fn verify(&self) {
        let c = self.created.load(Ordering::SeqCst);
        let d = self.dropped_total.load(Ordering::SeqCst);
        let e = self.errors.load(Ordering::SeqCst);
        let mut not_dropped = 0;
        let mut multi = 0;
        for i in 0..c {
            match self.dropped[i].load(Ordering::SeqCst) {
                0 => not_dropped += 1,
                1 => {}
                _ => multi += 1,
            }
        }
        assert!(
            c == d && e == 0 && not_dropped == 0 && multi == 0,
            "created {c} dropped {d} errors {e} never-dropped {not_dropped} multi-dropped {multi}"
        );
    }
}

pub struct Val {
    pub key: u64,
    pub gen: u64,
    pub id: usize,
    pub sum: u64,
    pub tr: Arc<Tracker>,
}

impl Val {
    pub fn new(tr: &Arc<Tracker>, key: u64, gen: u64) -> Val {
        let id = tr.created.fetch_add(1, Ordering::SeqCst);
        assert!(id < tr.dropped.len(), "tracker capacity");
        Val {
            key,
            gen,
            id,
            sum: mix(key ^ mix(gen ^ mix(id as u64))),
            tr: tr.clone(),
        }
    }
    pub fn check(&self, key: u64) {
        assert_eq!(self.key, key, "value under wrong key");
        assert_eq!(
            self.sum,
            mix(self.key ^ mix(self.gen ^ mix(self.id as u64))),
            "torn/dropped value for key {key}"
        );
        assert_eq!(
            self.tr.dropped[self.id].load(Ordering::SeqCst),
            0,
            "value read after drop key {key}"
        );
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        let prev = self.tr.dropped[self.id].fetch_add(1, Ordering::SeqCst);
        if prev != 0 {
            self.tr.errors.fetch_add(1, Ordering::SeqCst);
            eprintln!("DOUBLE DROP of value id {} key {}", self.id, self.key);
        }
        self.tr.dropped_total.fetch_add(1, Ordering::SeqCst);
        self.sum = !self.sum;
    }
}

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
