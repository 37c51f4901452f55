//! Instruction count of one insert (session 12, 2026-11-27). Copy to `examples/` and run:
//!
//! ```text
//! cargo build --release --example callgrind-insert
//! valgrind --tool=callgrind --callgrind-out-file=cg.h target/release/examples/callgrind-insert h
//! callgrind_annotate cg.h | head -40
//! ```
//!
//! `h`: hmap, one view for all inserts; `p`: hmap, a pin per insert; `d`: dashmap; anything else:
//! the key generation alone (the baseline to subtract). 49,152 inserts into a
//! `with_capacity(2^16)` map; the map is leaked so that its drop is not counted.

use std::hint::black_box;
use foldhash::fast::FixedState;
fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let n = 1usize << 16;
    let mut state = 1u64;
    let keys: Vec<u64> = (0..n / 4 * 3).map(|_| { state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); state ^ (state >> 29) }).collect();
    let h = FixedState::with_seed(7);
    match which.as_str() {
        "h" => { let m = hmap::ConcurrentHashMap::with_capacity_and_hasher(n, h); let v = m.pin(); for &k in &keys { black_box(v.insert(k, k)); } drop(v); std::mem::forget(m); }
        "p" => { let m = hmap::ConcurrentHashMap::with_capacity_and_hasher(n, h); for &k in &keys { black_box(m.pin().insert(k, k)); } std::mem::forget(m); }
        "d" => { let m = dashmap::DashMap::with_capacity_and_hasher(n, h); for &k in &keys { black_box(m.insert(k, k)); } std::mem::forget(m); }
        _ => { let v: u64 = keys.iter().sum(); black_box(v); }
    }
}
