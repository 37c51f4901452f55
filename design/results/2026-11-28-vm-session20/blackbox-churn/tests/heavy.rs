use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Arc, Barrier};

struct D(Arc<AtomicUsize>);
impl Drop for D { fn drop(&mut self) { self.0.fetch_add(1, SeqCst); } }
fn rng(seed: &mut u64) -> u64 { *seed ^= *seed << 13; *seed ^= *seed >> 7; *seed ^= *seed << 17; *seed }
fn env(n: &str, d: u64) -> u64 { std::env::var(n).ok().and_then(|s| s.parse().ok()).unwrap_or(d) }

#[test]
fn thousand_alive_two_maps_nested_pins() {
    let rounds = env("HEAVY_ROUNDS", 3);
    let n = env("HEAVY_THREADS", 1000) as usize;
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let a = Arc::new(ConcurrentHashMap::<u64, D>::new());
    for round in 0..rounds {
        let b = Arc::new(ConcurrentHashMap::<u64, D>::with_capacity(10));
        let barrier = Arc::new(Barrier::new(n));
        let hs: Vec<_> = (0..n as u64).map(|t| {
            let (a, b, drops, made, barrier) = (a.clone(), b.clone(), drops.clone(), made.clone(), barrier.clone());
            std::thread::Builder::new().stack_size(64 * 1024).spawn(move || {
                let mut s = round * 100_000 + t + 1;
                barrier.wait();
                for _ in 0..4 {
                    let pa = a.pin();
                    let pb = b.pin();
                    for _ in 0..8 {
                        let k = rng(&mut s) % 5000;
                        let (p, other) = if rng(&mut s) % 2 == 0 { (&pa, &pb) } else { (&pb, &pa) };
                        match rng(&mut s) % 5 {
                            0 | 1 => { made.fetch_add(1, SeqCst); p.insert(k, D(drops.clone())); }
                            2 => { p.remove(&k); }
                            3 => { p.update(&k, |_| { let _ = other.get(&k); made.fetch_add(1, SeqCst); D(drops.clone()) }); }
                            _ => { let _ = p.get_or_insert_with(k, || { made.fetch_add(1, SeqCst); D(drops.clone()) }); }
                        }
                    }
                }
                if t % 97 == 0 && a.log2_buckets() < 14 { a.force_growth(t % 2 == 0); }
                barrier.wait();
                // drop b's last ref maybe on this thread
                drop(b);
            }).unwrap()
        }).collect();
        drop(b);
        for h in hs { h.join().unwrap(); }
        let st = a.stats();
        eprintln!("round {round}: {st:?}");
        assert_eq!(st.temporary_pins, 0);
        assert!(st.handle_slots <= 2048 && st.handle_slots >= n, "{st:?}");
    }
    a.check_invariants();
    assert_eq!(a.len(), a.pin().iter().count());
    drop(a);
    assert_eq!(made.load(SeqCst), drops.load(SeqCst));
}

#[test]
fn churn_many_waves_during_growth() {
    let waves = env("HEAVY_WAVES", 300);
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let map = Arc::new(ConcurrentHashMap::<u64, D>::new());
    let mut total = 0;
    for wave in 0..waves {
        let hs: Vec<_> = (0..8u64).map(|t| {
            let (map, drops, made) = (map.clone(), drops.clone(), made.clone());
            std::thread::spawn(move || {
                let mut s = wave * 1000 + t + 1;
                for _ in 0..3 {
                    let p = map.pin();
                    for _ in 0..30 {
                        let k = rng(&mut s) % 20000;
                        if rng(&mut s) % 3 == 0 { p.remove(&k); } else { made.fetch_add(1, SeqCst); p.insert(k, D(drops.clone())); }
                    }
                }
            })
        }).collect();
        total += hs.len();
        if wave % 50 == 25 { map.clear(); }
        for h in hs { h.join().unwrap(); }
        if wave % 50 == 0 { map.check_invariants(); assert_eq!(map.len(), map.pin().iter().count()); }
    }
    let st = map.stats();
    eprintln!("{total} threads: {st:?}");
    assert_eq!(st.handle_slots, 64);
    map.check_invariants();
    drop(map);
    assert_eq!(made.load(SeqCst), drops.load(SeqCst));
}
