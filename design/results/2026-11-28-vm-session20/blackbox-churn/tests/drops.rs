use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Arc;

struct D<T>(Arc<AtomicUsize>, T);
impl<T> Drop for D<T> { fn drop(&mut self) { self.0.fetch_add(1, SeqCst); } }
fn rng(seed: &mut u64) -> u64 { *seed ^= *seed << 13; *seed ^= *seed >> 7; *seed ^= *seed << 17; *seed }

#[derive(Hash, PartialEq, Eq, Clone, Debug)]
struct Zk;

#[test]
fn garbage_bounded_and_drains() {
    let map = Arc::new(ConcurrentHashMap::<u64, D<u64>>::new());
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hs: Vec<_> = (0..4u64).map(|t| {
        let (map, drops, made, stop) = (map.clone(), drops.clone(), made.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut s = t + 1; let mut n = 0u64;
            while !stop.load(Relaxed) {
                let p = map.pin();
                for _ in 0..8 {
                    let k = rng(&mut s) % 4096;
                    match rng(&mut s) % 3 {
                        0 => { p.remove(&k); }
                        1 => { p.update(&k, |v| { made.fetch_add(1, SeqCst); D(drops.clone(), v.1 + 1) }); }
                        _ => { made.fetch_add(1, SeqCst); p.insert(k, D(drops.clone(), k)); }
                    }
                }
                n += 1;
            }
            n
        })
    }).collect();
    let mut maxg = 0;
    let start = std::time::Instant::now();
    while start.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let g = map.stats().garbage_objects; maxg = maxg.max(g);
        if start.elapsed().as_millis() % 1000 < 20 { eprintln!("t={:?} garbage={g}", start.elapsed()); }
    }
    stop.store(true, Relaxed);
    let ops: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    let before = map.stats().garbage_objects;
    for i in 0..2000 { map.pin().flush(); if i % 200 == 0 { eprintln!("flush {i}: {}", map.stats().garbage_objects); } }
    let after = map.stats().garbage_objects;
    let live = map.len();
    let (m, d) = (made.load(SeqCst), drops.load(SeqCst));
    eprintln!("ops={ops} max garbage={maxg} before flush={before} after flush={after} live={live} made={m} dropped={d} unaccounted={}", m - d - live);
    
    assert_eq!(m - d - live, after, "values neither live nor dropped should equal garbage");
    map.check_invariants();
    drop(map);
    assert_eq!(made.load(SeqCst), drops.load(SeqCst));
}

#[test]
fn large_values_and_zst() {
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    {
        let big = Arc::new(ConcurrentHashMap::<u64, D<[u8; 4096]>>::new());
        let big2 = Arc::new(ConcurrentHashMap::<u64, D<[u64; 16384]>>::new()); // 128 KiB values (> chunk)
        let zk = Arc::new(ConcurrentHashMap::<Zk, D<()>>::new());
        let zz = Arc::new(ConcurrentHashMap::<(), ()>::new());
        let hs: Vec<_> = (0..6u64).map(|t| {
            let (big, big2, zk, zz, drops, made) = (big.clone(), big2.clone(), zk.clone(), zz.clone(), drops.clone(), made.clone());
            std::thread::spawn(move || {
                let mut s = t + 11;
                for i in 0..3000u64 {
                    let k = rng(&mut s) % 300;
                    let p = big.pin();
                    match rng(&mut s) % 4 {
                        0 => { p.remove(&k); }
                        1 => { p.update(&k, |v| { made.fetch_add(1, SeqCst); let mut a = v.1; a[0] = a[0].wrapping_add(1); a[4095] = t as u8; D(drops.clone(), a) }); }
                        _ => { made.fetch_add(1, SeqCst); let mut a = [k as u8; 4096]; a[4095] = t as u8; if let Some(old) = p.insert(k, D(drops.clone(), a)) { assert!(old.1[1] == k as u8); } }
                    }
                    if let Some(v) = p.get(&k) { assert_eq!(v.1[1], k as u8); }
                    drop(p);
                    if i % 10 == 0 {
                        let p = big2.pin();
                        let k = rng(&mut s) % 20;
                        made.fetch_add(1, SeqCst);
                        p.insert(k, D(drops.clone(), [k; 16384]));
                        if let Some(v) = p.get(&k) { assert_eq!(v.1[16383], k); }
                        if rng(&mut s) % 3 == 0 { p.remove(&k); }
                    }
                    let p = zk.pin();
                    match rng(&mut s) % 3 {
                        0 => { p.remove(&Zk); }
                        1 => { p.get_or_insert_with(Zk, || { made.fetch_add(1, SeqCst); D(drops.clone(), ()) }); }
                        _ => { made.fetch_add(1, SeqCst); p.insert(Zk, D(drops.clone(), ())); }
                    }
                    let p = zz.pin();
                    if i % 2 == 0 { p.insert((), ()); } else { p.remove(&()); }
                }
            })
        }).collect();
        for h in hs { h.join().unwrap(); }
        big.check_invariants(); big2.check_invariants(); zk.check_invariants(); zz.check_invariants();
        assert!(zk.len() <= 1 && zz.len() <= 1);
        assert_eq!(big.len(), big.pin().iter().count());
        eprintln!("big stats {:?}", big.stats());
        eprintln!("big2 stats {:?}", big2.stats());
    }
    assert_eq!(made.load(SeqCst), drops.load(SeqCst));
}
