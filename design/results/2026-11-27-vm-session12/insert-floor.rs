//! A floor for the concurrent map's insert (session 12, 2026-11-27): the bucket protocol alone,
//! without the map. A binary crate with `libc = "0.2"`; `cargo run --release`. Per insert of
//! 786,432 splitmix64 keys, one thread:
//! - `bucket CAS`: 2^18 80-byte buckets (already written, so resident): CAS the head's link
//!   word, store a slot and the tophash word, unlock;
//! - `bucket no-CAS`: the same without the lock;
//! - `swiss-like`: a 2 MB control-byte array and a 32 MB slot array behind one hot lock;
//! - `fresh mmap CAS`: `bucket CAS` on a fresh anonymous mapping (first touches fault);
//! - `+box`: `bucket CAS` plus a 24-byte `Box` per insert, its pointer stored in the slot.
//! The swiss-like arrays are written when built, so much of them is cached: that column is not a
//! fair floor for dashmap, only for the shape of its critical path.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::*};
use std::time::Instant;
fn splitmix(n: usize) -> Vec<u64> {
    let mut state = 0x1234_5678_9abc_def0_u64;
    (0..n).map(|_| { state = state.wrapping_add(0x9e37_79b9_7f4a_7c15); let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9); z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb); z ^ (z >> 31) }).collect()
}
#[repr(C)] struct Bucket { top: AtomicU64, link: AtomicU64, e: [AtomicU64; 8] }
fn main() {
    let keys = splitmix(786432);
    for _ in 0..3 {
        // hmap-like: 2^18 buckets of 80 B (+ spares), CAS link, store entry + top, release store.
        let n = 1usize << 18;
        let b: Vec<Bucket> = (0..n + n/4).map(|_| Bucket { top: AtomicU64::new(0), link: AtomicU64::new(0), e: Default::default() }).collect();
        let t = Instant::now();
        for &k in &keys {
            let bk = &b[(k as usize) & (n - 1)];
            while bk.link.compare_exchange(0, 1, Acquire, Relaxed).is_err() {}
            let top = bk.top.load(Relaxed);
            let slot = (top.count_ones() / 8) as usize % 8;
            bk.e[slot].store(k, Release);
            bk.top.store(top | (0xffu64 << (slot * 8)), Release);
            bk.link.store(0, Release);
        }
        let a = t.elapsed().as_nanos() as f64 / keys.len() as f64;
        // same, loads only (no CAS): read top then store
        let t = Instant::now();
        for &k in &keys {
            let bk = &b[((k >> 20) as usize) & (n - 1)];
            let top = bk.top.load(Acquire);
            let slot = (top.count_ones() / 8) as usize % 8;
            bk.e[slot].store(k, Release);
            bk.top.store(top | (0xffu64 << (slot * 8)), Release);
        }
        let c = t.elapsed().as_nanos() as f64 / keys.len() as f64;
        // swiss-like: ctrl bytes 2^21 (2 MB) + 16 B slots 2^21 (32 MB); lock on a hot word.
        let m = 1usize << 21;
        let ctrl: Vec<AtomicU8> = (0..m + 16).map(|_| AtomicU8::new(0)).collect();
        let slots: Vec<[AtomicU64; 2]> = (0..m).map(|_| Default::default()).collect();
        let lock = AtomicU64::new(0);
        let t = Instant::now();
        for &k in &keys {
            while lock.compare_exchange(0, 1, Acquire, Relaxed).is_err() {}
            let mut i = (k as usize) & (m - 1);
            while ctrl[i].load(Relaxed) != 0 { i = (i + 1) & (m - 1); }
            ctrl[i].store(1, Relaxed);
            slots[i][0].store(k, Relaxed); slots[i][1].store(k, Relaxed);
            lock.fetch_sub(1, Release);
        }
        let d = t.elapsed().as_nanos() as f64 / keys.len() as f64;
        // fresh mmap + boxed entries
        let bytes = (n + n / 4) * 80;
        let p = unsafe { libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) } as *const Bucket;
        let fb = unsafe { std::slice::from_raw_parts(p, n) };
        let t = Instant::now();
        for &k in &keys {
            let bk = &fb[(k as usize) & (n - 1)];
            while bk.link.compare_exchange(0, 1, Acquire, Relaxed).is_err() {}
            let top = bk.top.load(Relaxed);
            let slot = (top.count_ones() / 8) as usize % 8;
            bk.e[slot].store(k, Release);
            bk.top.store(top | (0xffu64 << (slot * 8)), Release);
            bk.link.store(0, Release);
        }
        let e = t.elapsed().as_nanos() as f64 / keys.len() as f64;
        let t = Instant::now();
        for &k in &keys {
            let bk = &b[((k >> 13) as usize) & (n - 1)];
            let bx = Box::into_raw(Box::new([k, k, k]));
            while bk.link.compare_exchange(0, 1, Acquire, Relaxed).is_err() {}
            let top = bk.top.load(Relaxed);
            let slot = (top.count_ones() / 8) as usize % 8;
            bk.e[slot].store(bx as u64, Release);
            bk.top.store(top | (0xffu64 << (slot * 8)), Release);
            bk.link.store(0, Release);
        }
        let f = t.elapsed().as_nanos() as f64 / keys.len() as f64;
        println!("bucket CAS {a:.0} ns, bucket no-CAS {c:.0} ns, swiss-like {d:.0} ns, fresh mmap CAS {e:.0}, +box (warm array) {f:.0}");
    }
}
