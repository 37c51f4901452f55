//! Shared helpers for the black-box tests.
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize};

pub struct Rng(pub u64);
impl Rng {
    pub fn new(seed: u64) -> Self { Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1) }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0; x ^= x << 13; x ^= x >> 7; x ^= x << 17; self.0 = x;
        x.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 { if n == 0 { 0 } else { self.next() % n } }
}

pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 33; x = x.wrapping_mul(0xff51afd7ed558ccd); x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb3f99fe1a9b3); x ^= x >> 33; x
}

/// Hasher that can be configured: mask of hash bits kept.
#[derive(Clone, Default)]
pub struct MaskHB(pub u64);
pub struct MaskH(u64, u64);
impl Hasher for MaskH {
    fn finish(&self) -> u64 { mix(self.0) & self.1 }
    fn write(&mut self, b: &[u8]) { for &x in b { self.0 = self.0.wrapping_mul(31).wrapping_add(x as u64); } }
    fn write_u64(&mut self, v: u64) { self.0 = self.0.wrapping_mul(0x100000001b3) ^ v; }
}
impl BuildHasher for MaskHB {
    type Hasher = MaskH;
    fn build_hasher(&self) -> MaskH { MaskH(0, if self.0 == 0 { u64::MAX } else { self.0 }) }
}

/// Counts live instances.
pub static LIVE: AtomicUsize = AtomicUsize::new(0);
pub static MADE: AtomicU64 = AtomicU64::new(0);

pub fn panic_msg(e: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = e.downcast_ref::<&str>() { s.to_string() }
    else if let Some(s) = e.downcast_ref::<String>() { s.clone() }
    else { "<non-string panic>".into() }
}
