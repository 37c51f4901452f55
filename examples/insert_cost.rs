//! What one insert costs: `hmap::ConcurrentHashMap` beside dashmap, papaya and a plain
//! `hashbrown::HashMap`, one thread, pre-sized tables, the same keys and hasher.
//!
//! The write-heavy mixes of `benches/concurrent.rs` (`rapid_grow`: 80% inserts into a
//! `with_capacity(2^20)` map) put hmap at about 0.6–0.7 of dashmap's throughput at one thread.
//! This example takes the mix apart: it inserts 3/4 · 2^L keys into a fresh pre-sized map (the
//! `rapid_grow` pattern without the other operations), then removes them all and inserts them
//! again into the same map (tables already faulted in, hmap's entry blocks recycled). hmap runs
//! twice: with a pin per insert (as the bench does) and with one view for the whole pass, which
//! shows what the pin's barrier costs. `design/concurrent-protocol.md` (section 8, "Writes")
//! quotes the numbers and what a profile says about them.
//!
//! ```text
//! cargo run --release --example insert_cost            # 2^20-key tables, 3 rounds
//! cargo run --release --example insert_cost -- 16 5    # 2^16, 5 rounds
//! ```
//!
//! Keys are splitmix64 outputs (random positions in every table); every map is built with the
//! same foldhash `FixedState`. Each figure is the mean time of one insert over a whole pass.

use std::hint::black_box;
use std::time::Instant;

use foldhash::fast::FixedState;

mod common;
use common::splitmix;

/// Mean nanoseconds per key of `pass` over `keys`.
fn per_key(keys: &[u64], pass: impl FnOnce(&[u64])) -> f64 {
    let start = Instant::now();
    pass(keys);
    start.elapsed().as_nanos() as f64 / keys.len() as f64
}

/// The columns of one line: hmap with a pin per insert, hmap with one view, dashmap, papaya
/// with a pin per insert, hashbrown.
struct Maps {
    hmap_per_op: hmap::ConcurrentHashMap<u64, u64, FixedState>,
    hmap_one_pin: hmap::ConcurrentHashMap<u64, u64, FixedState>,
    dashmap: dashmap::DashMap<u64, u64, FixedState>,
    papaya: papaya::HashMap<u64, u64, FixedState>,
    hashbrown: hashbrown::HashMap<u64, u64, FixedState>,
}

impl Maps {
    fn new(capacity: usize, hasher: &FixedState) -> Self {
        Self {
            hmap_per_op: hmap::ConcurrentHashMap::with_capacity_and_hasher(
                capacity,
                hasher.clone(),
            ),
            hmap_one_pin: hmap::ConcurrentHashMap::with_capacity_and_hasher(
                capacity,
                hasher.clone(),
            ),
            dashmap: dashmap::DashMap::with_capacity_and_hasher(capacity, hasher.clone()),
            papaya: papaya::HashMap::builder()
                .capacity(capacity)
                .hasher(hasher.clone())
                .build(),
            hashbrown: hashbrown::HashMap::with_capacity_and_hasher(capacity, hasher.clone()),
        }
    }

    /// Inserts every key into every map; ns per insert for each.
    fn insert_all(&mut self, keys: &[u64]) -> [f64; 5] {
        let Self {
            hmap_per_op,
            hmap_one_pin,
            dashmap,
            papaya,
            hashbrown,
        } = self;
        [
            per_key(keys, |keys| {
                for &key in keys {
                    black_box(hmap_per_op.pin().insert(key, key));
                }
            }),
            per_key(keys, |keys| {
                let view = hmap_one_pin.pin();
                for &key in keys {
                    black_box(view.insert(key, key));
                }
            }),
            per_key(keys, |keys| {
                for &key in keys {
                    black_box(dashmap.insert(key, key));
                }
            }),
            per_key(keys, |keys| {
                for &key in keys {
                    black_box(papaya.pin().insert(key, key));
                }
            }),
            per_key(keys, |keys| {
                for &key in keys {
                    black_box(hashbrown.insert(key, key));
                }
            }),
        ]
    }

    /// Removes every key from every map (untimed).
    fn remove_all(&mut self, keys: &[u64]) {
        let (per_op, one_pin, papaya) = (
            self.hmap_per_op.pin(),
            self.hmap_one_pin.pin(),
            self.papaya.pin(),
        );
        for key in keys {
            assert!(per_op.remove(key).is_some());
            assert!(one_pin.remove(key).is_some());
            assert!(self.dashmap.remove(key).is_some());
            assert!(papaya.remove(key).is_some());
            assert!(self.hashbrown.remove(key).is_some());
        }
    }
}

fn print_row(label: &str, round: usize, ns: [f64; 5]) {
    let [per_op, one_pin, dash, papaya, hashbrown] = ns;
    println!(
        "{label:<8} {round:>5}  {per_op:>13.1}  {one_pin:>13.1}  {dash:>7.1}  {papaya:>15.1}  {hashbrown:>9.1}"
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let log2: u32 = args
        .next()
        .map_or(20, |a| a.parse().expect("log2 of the table capacity"));
    let rounds: usize = args
        .next()
        .map_or(3, |a| a.parse().expect("number of rounds"));
    let capacity = 1usize << log2;
    let keys = splitmix(capacity / 4 * 3);
    let hasher = FixedState::with_seed(7);

    println!(
        "{} u64 keys into with_capacity({capacity}) maps, ns per insert (mean of one pass)",
        keys.len()
    );
    println!("fresh: a new map per round; again: the same maps after removing every key");
    println!("pass     round  hmap pin/ins  hmap one pin  dashmap  papaya pin/ins  hashbrown");
    for round in 1..=rounds {
        let mut maps = Maps::new(capacity, &hasher);
        print_row("fresh", round, maps.insert_all(&keys));
        maps.remove_all(&keys);
        print_row("again", round, maps.insert_all(&keys));
    }
}
