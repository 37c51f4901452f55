//! What one pin costs a lookup: `hmap::ConcurrentHashMap` read with a pin per `get` (the view
//! pinning lazily, as it does, or pinned before the key is hashed) and with one pin for the whole
//! loop, beside dashmap (a read lock per `get`) and papaya (a pin per `get`).
//!
//! crossbeam-epoch's pin is a full barrier (a `lock cmpxchg` on x86): the CPU must finish every
//! earlier load before any later one starts, so the cache misses of consecutive lookups cannot
//! overlap, and a lookup pinned before it starts pays its whole dependent chain (the bucket line,
//! then the boxed entry) in latency. A view pins at its first operation, after hashing the key
//! and prefetching the bucket, so the bucket's miss runs during the barrier; the "pinned first"
//! column forces the pin before the key is hashed (`iter()` pins the view) to show the
//! difference. With one pin for many lookups every miss can overlap.
//! `design/concurrent-protocol.md` (section 8) quotes the numbers.
//!
//! ```text
//! cargo run --release --example pin_cost            # 2^20 u64 keys, 3 rounds
//! cargo run --release --example pin_cost -- 22 5    # 2^22 keys, 5 rounds
//! ```
//!
//! Keys are splitmix64 outputs, looked up in insertion order (random positions in every table);
//! every map is pre-sized and uses the same foldhash `FixedState`. Each figure is the mean time
//! of one lookup over a whole pass. Single-threaded: it measures latency structure, not scaling.

use std::hint::black_box;
use std::time::Instant;

use foldhash::fast::FixedState;

mod common;
use common::splitmix;

/// Mean nanoseconds per key of one pass of `lookup` over `keys`.
fn per_key(keys: &[u64], mut lookup: impl FnMut(&[u64]) -> u64) -> f64 {
    let start = Instant::now();
    black_box(lookup(keys));
    start.elapsed().as_nanos() as f64 / keys.len() as f64
}

fn main() {
    let mut args = std::env::args().skip(1);
    let log2: u32 = args
        .next()
        .map_or(20, |a| a.parse().expect("log2 of the key count"));
    let rounds: usize = args
        .next()
        .map_or(3, |a| a.parse().expect("number of rounds"));
    let n = 1usize << log2;
    let keys = splitmix(n);
    let hasher = FixedState::with_seed(7);

    let hmap = hmap::ConcurrentHashMap::with_capacity_and_hasher(n, hasher.clone());
    let dashmap = dashmap::DashMap::with_capacity_and_hasher(n, hasher.clone());
    let papaya = papaya::HashMap::builder()
        .capacity(n)
        .hasher(hasher)
        .build();
    {
        let hmap = hmap.pin();
        let papaya = papaya.pin();
        for &key in &keys {
            hmap.insert(key, key);
            dashmap.insert(key, key);
            papaya.insert(key, key);
        }
    }

    println!("{n} u64 keys, ns per get (mean of one pass), {rounds} rounds");
    println!("round  hmap pin/get  hmap pinned first  hmap one pin  dashmap  papaya pin/get");
    for round in 1..=rounds {
        let pin_per_get = per_key(&keys, |keys| {
            keys.iter()
                .map(|key| *hmap.pin().get(key).expect("present"))
                .fold(0, u64::wrapping_add)
        });
        let pinned_first = per_key(&keys, |keys| {
            keys.iter()
                .map(|key| {
                    let view = hmap.pin();
                    // Pins the view now, before `get` hashes the key and prefetches its bucket.
                    let _ = view.iter();
                    *view.get(key).expect("present")
                })
                .fold(0, u64::wrapping_add)
        });
        let one_pin = per_key(&keys, |keys| {
            let view = hmap.pin();
            keys.iter()
                .map(|key| *view.get(key).expect("present"))
                .fold(0, u64::wrapping_add)
        });
        let dash = per_key(&keys, |keys| {
            keys.iter()
                .map(|key| *dashmap.get(key).expect("present"))
                .fold(0, u64::wrapping_add)
        });
        let papaya_per_get = per_key(&keys, |keys| {
            keys.iter()
                .map(|key| *papaya.pin().get(key).expect("present"))
                .fold(0, u64::wrapping_add)
        });
        println!(
            "{round:>5}  {pin_per_get:>12.1}  {pinned_first:>17.1}  {one_pin:>12.1}  {dash:>7.1}  {papaya_per_get:>14.1}"
        );
    }
}
