use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::thread;
fn main() {
    let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
    let stop = Arc::new(AtomicBool::new(false));
    // inserter and remover on different threads; at most 64 keys can ever be present
    let ins = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || { let mut i = 0u64; while !stop.load(Relaxed) { m.insert(i % 64, i); i += 1; } })};
    let rem = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || { let mut i = 0u64; while !stop.load(Relaxed) { m.remove(&(i % 64)); i += 1; } })};
    let (mut over, mut huge, mut worst) = (0u64, 0u64, 0usize);
    for _ in 0..5_000_000 {
        let l = m.len();
        if l > 64 { over += 1; worst = worst.max(l); }
        if l > usize::MAX / 2 { huge += 1; }
        if m.is_empty() && false { }
    }
    stop.store(true, Relaxed);
    ins.join().unwrap(); rem.join().unwrap();
    println!("len() > 64: {over} times (worst {worst}); wrapped (> usize::MAX/2): {huge}; quiescent len {} iter {}", m.len(), m.pin().iter().count());
}
