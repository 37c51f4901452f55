use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

fn main() {
    let same_key = std::env::args().nth(1).as_deref() == Some("same");
    let a = Arc::new(ConcurrentHashMap::<u64, u64>::new());
    let b = Arc::new(ConcurrentHashMap::<u64, u64>::new());
    a.insert(0, 0);
    b.insert(0, 0);
    let p1 = Arc::new(AtomicU64::new(0));
    let p2 = Arc::new(AtomicU64::new(0));
    let (a1, b1, q1) = (a.clone(), b.clone(), p1.clone());
    thread::spawn(move || for i in 1..u64::MAX { let k = if same_key { 0 } else { i }; a1.update(&0, |v| { b1.insert(k, i); v + 1 }); q1.store(i, Relaxed); });
    let (a2, b2, q2) = (a.clone(), b.clone(), p2.clone());
    thread::spawn(move || for i in 1..u64::MAX { let k = if same_key { 0 } else { i }; b2.update(&0, |v| { a2.insert(k, i); v + 1 }); q2.store(i, Relaxed); });
    let mut last = (0, 0);
    for _ in 0..10 {
        thread::sleep(Duration::from_secs(1));
        let now = (p1.load(Relaxed), p2.load(Relaxed));
        println!("progress t1={} t2={}  a: B={} growing={}  b: B={} growing={}", now.0, now.1, a.log2_buckets(), a.is_growing(), b.log2_buckets(), b.is_growing());
        if now == last { println!("NO PROGRESS for 1s: both threads stuck -> deadlock"); std::process::exit(1); }
        last = now;
    }
    println!("no deadlock observed");
}
