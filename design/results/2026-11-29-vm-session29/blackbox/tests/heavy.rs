mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::thread;

#[test]
fn iteration_exactly_once_16_threads() {
    with_timeout(100, "heavy-iter", || {
        for round in 0..6 {
            let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
            let stable = 1500u64;
            for k in 0..stable { m.insert(k, !k); }
            let stop = Arc::new(AtomicBool::new(false));
            let ws: Vec<_> = (0..14u64).map(|t| { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Relaxed) && i < 20_000 {
                    let k = (t + 1) << 32 | i;
                    m.insert(k, i);
                    if i % 2 == 0 { m.remove(&((t + 1) << 32 | (i / 2))); }
                    if i % 5 == 0 { m.update(&((t + 1) << 32 | (i - i % 7)), |v| v + 1); }
                    if round % 2 == 1 && i % 3000 == 0 { m.force_growth(t % 2 == 0); }
                    i += 1;
                }
            })}).collect();
            let readers: Vec<_> = (0..2).map(|_| { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Relaxed) {
                    let v = m.pin();
                    let mut seen = vec![0u8; stable as usize];
                    for (k, val) in v.iter() { if *k < stable { assert_eq!(*val, !*k); seen[*k as usize] += 1; } }
                    for (k, c) in seen.iter().enumerate() { assert_eq!(*c, 1, "stable key {k} seen {c} times"); }
                    for k in (0..stable).step_by(17) { assert_eq!(v.get(&k), Some(&!k)); }
                    n += 1;
                }
                n
            })}).collect();
            for w in ws { w.join().unwrap(); }
            stop.store(true, Relaxed);
            let n: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
            assert_eq!(m.len(), m.pin().iter().count());
            eprintln!("round {round}: {n} iterations, growths {}", m.stats().growths);
        }
    });
}
