#![allow(dead_code)]
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicIsize, AtomicU8, AtomicUsize, Ordering::SeqCst};

/// splitmix64-based RNG (no external crates available offline).
#[derive(Clone)]
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDEAD_BEEF_CAFE_F00D)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Accumulating hasher: FNV-ish over written bytes, then `f` applied in finish.
#[derive(Clone, Copy)]
pub enum Mode {
    /// Every key hashes to the same constant.
    Const(u64),
    /// Only `n` distinct hashes.
    Few(u64),
    /// Identity of the last written u64 (top byte 0 for small keys => tophash "marker" range).
    Identity,
    /// Random low bits, top byte fixed to the given value (0..=4 are Go's tophash markers).
    TopByte(u8),
    /// Varying top bits, low 32 bits zero (everything in bucket 0 for B <= 32).
    LowZero,
    /// Varying low bits, top byte constant 0xFF ... (same tophash for all).
    SameTop,
}

#[derive(Clone, Copy)]
pub struct Build(pub Mode);
pub struct H {
    mode: Mode,
    st: u64,
}
impl BuildHasher for Build {
    type Hasher = H;
    fn build_hasher(&self) -> H {
        H { mode: self.0, st: 0xcbf2_9ce4_8422_2325 }
    }
}
impl Hasher for H {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.st ^= *b as u64;
            self.st = self.st.wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, x: u64) {
        match self.mode {
            Mode::Identity => self.st = x,
            _ => self.write(&x.to_le_bytes()),
        }
    }
    fn finish(&self) -> u64 {
        let m = mix(self.st);
        match self.mode {
            Mode::Const(c) => c,
            Mode::Few(n) => mix(m % n),
            Mode::Identity => self.st,
            Mode::TopByte(t) => (m & 0x00FF_FFFF_FFFF_FFFF) | ((t as u64) << 56),
            Mode::LowZero => m & !0xFFFF_FFFF,
            Mode::SameTop => (m & 0x00FF_FFFF_FFFF_FFFF) | (0xABu64 << 56),
        }
    }
}

macro_rules! default_build {
    ($name:ident, $mode:expr) => {
        #[derive(Clone, Copy)]
        pub struct $name;
        impl Default for $name {
            fn default() -> Self {
                $name
            }
        }
        impl BuildHasher for $name {
            type Hasher = H;
            fn build_hasher(&self) -> H {
                Build($mode).build_hasher()
            }
        }
    };
}
default_build!(ConstBuild, Mode::Const(0x1234_5678_9abc_def0));
default_build!(FewBuild, Mode::Few(4));
default_build!(IdentityBuild, Mode::Identity);

// ---------------------------------------------------------------------------------------------
// Drop tracking

pub const REG_CAP: usize = 1 << 23;

/// Per-test registry: state per instance id (0 = never made, 1 = alive, 2 = dropped).
pub struct Registry {
    states: Vec<AtomicU8>,
    next: AtomicUsize,
    pub live: AtomicIsize,
    pub double_drops: AtomicUsize,
    pub dead_reads: AtomicUsize,
}
impl Registry {
    pub fn leak() -> &'static Registry {
        let mut states = Vec::with_capacity(REG_CAP);
        states.resize_with(REG_CAP, || AtomicU8::new(0));
        Box::leak(Box::new(Registry {
            states,
            next: AtomicUsize::new(0),
            live: AtomicIsize::new(0),
            double_drops: AtomicUsize::new(0),
            dead_reads: AtomicUsize::new(0),
        }))
    }
    fn alloc(&'static self) -> usize {
        let id = self.next.fetch_add(1, SeqCst);
        assert!(id < REG_CAP, "registry full");
        let prev = self.states[id].swap(1, SeqCst);
        assert_eq!(prev, 0);
        self.live.fetch_add(1, SeqCst);
        id
    }
    fn free(&self, id: usize) {
        let prev = self.states[id].swap(2, SeqCst);
        if prev != 1 {
            self.double_drops.fetch_add(1, SeqCst);
            eprintln!("DOUBLE DROP (or drop of never-made) id {id}, prev state {prev}");
        }
        self.live.fetch_sub(1, SeqCst);
    }
    fn check(&self, id: usize) {
        let s = self.states[id].load(SeqCst);
        if s != 1 {
            self.dead_reads.fetch_add(1, SeqCst);
            eprintln!("READ OF DROPPED VALUE id {id}, state {s}");
        }
    }
    pub fn made(&self) -> usize {
        self.next.load(SeqCst)
    }
    pub fn assert_clean(&self, ctx: &str) {
        assert_eq!(self.double_drops.load(SeqCst), 0, "{ctx}: double drops");
        assert_eq!(self.dead_reads.load(SeqCst), 0, "{ctx}: reads of dropped values");
    }
}

/// A tracked value: payload (key, ver) plus a tracked identity.
pub struct TVal {
    id: usize,
    reg: &'static Registry,
    pub key: u64,
    pub ver: u64,
    pub check: u64,
}
impl TVal {
    pub fn new(reg: &'static Registry, key: u64, ver: u64) -> Self {
        TVal { id: reg.alloc(), reg, key, ver, check: mix(key ^ mix(ver)) }
    }
    /// Asserts this instance is alive (not dropped) and its payload is intact.
    pub fn verify(&self, key: u64) {
        self.reg.check(self.id);
        assert_eq!(self.key, key, "value belongs to another key");
        assert_eq!(self.check, mix(self.key ^ mix(self.ver)), "torn tracked value");
    }
}
impl Clone for TVal {
    fn clone(&self) -> Self {
        self.reg.check(self.id);
        TVal { id: self.reg.alloc(), reg: self.reg, key: self.key, ver: self.ver, check: self.check }
    }
}
impl Drop for TVal {
    fn drop(&mut self) {
        self.reg.free(self.id);
    }
}

/// A tracked key: Hash/Eq on `k` only.
pub struct TKey {
    id: usize,
    reg: &'static Registry,
    pub k: u64,
}
impl TKey {
    pub fn new(reg: &'static Registry, k: u64) -> Self {
        TKey { id: reg.alloc(), reg, k }
    }
    pub fn verify(&self) {
        self.reg.check(self.id);
    }
}
impl Clone for TKey {
    fn clone(&self) -> Self {
        self.reg.check(self.id);
        TKey { id: self.reg.alloc(), reg: self.reg, k: self.k }
    }
}
impl Drop for TKey {
    fn drop(&mut self) {
        self.reg.free(self.id);
    }
}
impl PartialEq for TKey {
    fn eq(&self, o: &Self) -> bool {
        self.reg.check(self.id);
        o.reg.check(o.id);
        self.k == o.k
    }
}
impl Eq for TKey {}
impl Hash for TKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.k.hash(h)
    }
}
impl std::borrow::Borrow<u64> for TKey {
    fn borrow(&self) -> &u64 {
        &self.k
    }
}

// ---------------------------------------------------------------------------------------------
// Checksummed value for torn-read tests.

pub type Sum = [u64; 4];
pub fn mkv(key: u64, ver: u64) -> Sum {
    let a = mix(key ^ ver.rotate_left(32));
    [key, ver, a, a ^ key.rotate_left(17) ^ !ver]
}
pub fn chk(key: u64, v: &Sum) {
    let good = v[0] == key && *v == mkv(key, v[1]);
    assert!(good, "torn/foreign value for key {key}: {v:?}");
}
