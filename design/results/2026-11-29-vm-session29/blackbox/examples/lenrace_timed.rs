use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::thread;
use std::time::Instant;
fn main() {
    let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
    let stop = Arc::new(AtomicBool::new(false));
    let ins = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || { let mut i = 0u64; while !stop.load(Relaxed) { m.insert(i % 64, i); i += 1; } })};
    let rem = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || { let mut i = 0u64; while !stop.load(Relaxed) { m.remove(&(i % 64)); i += 1; } })};
    let (mut over, mut over_slow, mut slow) = (0u64, 0u64, 0u64);
    let mut worst_fast = 0usize;
    for _ in 0..5_000_000 {
        let t = Instant::now();
        let l = m.len();
        let us = t.elapsed().as_micros();
        if us > 100 { slow += 1; }
        if l > 64 { over += 1; if us > 100 { over_slow += 1 } else { worst_fast = worst_fast.max(l); } }
    }
    stop.store(true, Relaxed);
    ins.join().unwrap(); rem.join().unwrap();
    println!("len()>64: {over}; of those the call took >100us: {over_slow}; worst among fast calls {worst_fast}; slow calls total {slow}");
}
