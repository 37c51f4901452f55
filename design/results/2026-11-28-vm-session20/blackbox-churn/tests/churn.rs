use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Arc, Barrier};

#[derive(Debug)]
struct D(Arc<AtomicUsize>, u64);
impl Drop for D { fn drop(&mut self) { self.0.fetch_add(1, SeqCst); } }

fn rng(seed: &mut u64) -> u64 { *seed ^= *seed << 13; *seed ^= *seed >> 7; *seed ^= *seed << 17; *seed }

#[test]
fn waves_of_short_threads_reuse_slots() {
    let map = Arc::new(ConcurrentHashMap::<u64, D>::new());
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    for wave in 0..200u64 {
        let hs: Vec<_> = (0..10u64).map(|t| {
            let (map, drops, made) = (map.clone(), drops.clone(), made.clone());
            std::thread::spawn(move || {
                let mut s = wave * 1000 + t + 1;
                for _ in 0..3 {
                    let p = map.pin();
                    for _ in 0..20 {
                        let k = rng(&mut s) % 500;
                        match rng(&mut s) % 4 {
                            0 | 1 => { made.fetch_add(1, SeqCst); p.insert(k, D(drops.clone(), k)); }
                            2 => { p.remove(&k); }
                            _ => { let _ = p.get(&k); }
                        }
                    }
                }
                if t == 0 { let _ = map.pin(); } // unused view
            })
        }).collect();
        for h in hs { h.join().unwrap(); }
        let st = map.stats();
        assert_eq!(st.handle_slots, 64, "wave {wave}: {st:?}");
        assert_eq!(st.temporary_pins, 0);
    }
    map.check_invariants();
    let len = map.len();
    assert_eq!(len, map.pin().iter().count());
    let st = map.stats();
    eprintln!("after waves: {st:?} made={} drops={}", made.load(SeqCst), drops.load(SeqCst));
    drop(map);
    assert_eq!(made.load(SeqCst), drops.load(SeqCst));
}

#[test]
fn many_alive_at_once_grow_slots() {
    let map = Arc::new(ConcurrentHashMap::<u64, D>::new());
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    for round in 0..3u64 {
        let n = 300;
        let barrier = Arc::new(Barrier::new(n));
        let hs: Vec<_> = (0..n as u64).map(|t| {
            let (map, drops, made, barrier) = (map.clone(), drops.clone(), made.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut s = round * 10000 + t + 1;
                map.pin().insert(t + 100000, D(drops.clone(), t)); made.fetch_add(1, SeqCst);
                barrier.wait();
                for _ in 0..5 {
                    let p = map.pin();
                    for _ in 0..10 {
                        let k = rng(&mut s) % 2000;
                        if rng(&mut s) % 2 == 0 { made.fetch_add(1, SeqCst); p.insert(k, D(drops.clone(), k)); }
                        else { p.remove(&k); }
                    }
                }
                barrier.wait();
            })
        }).collect();
        for h in hs { h.join().unwrap(); }
        let st = map.stats();
        eprintln!("round {round}: slots={} temp={} len={} garbage={}", st.handle_slots, st.temporary_pins, st.len, st.garbage_objects);
        assert!(st.handle_slots >= 300 && st.handle_slots <= 512, "{st:?}");
        assert_eq!(st.temporary_pins, 0);
    }
    map.check_invariants();
    assert_eq!(map.len(), map.pin().iter().count());
    drop(map);
    assert_eq!(made.load(SeqCst), drops.load(SeqCst));
}

#[test]
fn last_arc_dropped_on_other_thread_while_users_alive() {
    for iter in 0..50u64 {
        let drops = Arc::new(AtomicUsize::new(0));
        let made = Arc::new(AtomicUsize::new(0));
        let map = Arc::new(ConcurrentHashMap::<u64, D>::new());
        let n = 20;
        let b1 = Arc::new(Barrier::new(n + 1));
        let b2 = Arc::new(Barrier::new(n + 1));
        let hs: Vec<_> = (0..n as u64).map(|t| {
            let (map, drops, made, b1, b2) = (map.clone(), drops.clone(), made.clone(), b1.clone(), b2.clone());
            std::thread::spawn(move || {
                for i in 0..100 { made.fetch_add(1, SeqCst); map.pin().insert((t * 7 + i) % 64, D(drops.clone(), i)); }
                drop(map);
                b1.wait();
                // second map used after first is gone
                let m2 = ConcurrentHashMap::<u64, D>::new();
                for i in 0..100 { made.fetch_add(1, SeqCst); m2.pin().insert(i % 10, D(drops.clone(), i)); }
                drop(m2);
                b2.wait();
            })
        }).collect();
        // drop the last Arc from a fresh thread while the users are alive
        let m = map;
        b1.wait();
        std::thread::spawn(move || drop(m)).join().unwrap();
        b2.wait();
        for h in hs { h.join().unwrap(); }
        assert_eq!(made.load(SeqCst), drops.load(SeqCst), "iter {iter}");
    }
}

#[test]
fn racing_drop_with_thread_exit() {
    // threads exit at the same time as the map's last Arc is dropped elsewhere
    for iter in 0..300u64 {
        let drops = Arc::new(AtomicUsize::new(0));
        let made = Arc::new(AtomicUsize::new(0));
        let map = Arc::new(ConcurrentHashMap::<u64, D>::new());
        let n = 8;
        let b = Arc::new(Barrier::new(n + 1));
        let hs: Vec<_> = (0..n as u64).map(|t| {
            let (map, drops, made, b) = (map.clone(), drops.clone(), made.clone(), b.clone());
            std::thread::spawn(move || {
                for i in 0..30 { made.fetch_add(1, SeqCst); map.pin().insert((t + i) % 16, D(drops.clone(), i)); }
                b.wait();
                drop(map);
            })
        }).collect();
        let m = map;
        let b2 = b.clone();
        let dropper = std::thread::spawn(move || { b2.wait(); drop(m); });
        for h in hs { h.join().unwrap(); }
        dropper.join().unwrap();
        assert_eq!(made.load(SeqCst), drops.load(SeqCst), "iter {iter}");
    }
}

#[test]
fn many_maps_same_threads() {
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let maps: Vec<Arc<ConcurrentHashMap<u64, D>>> = (0..100).map(|_| Arc::new(ConcurrentHashMap::new())).collect();
    let maps = Arc::new(std::sync::Mutex::new(maps));
    for wave in 0..20u64 {
        let hs: Vec<_> = (0..8u64).map(|t| {
            let (maps, drops, made) = (maps.clone(), drops.clone(), made.clone());
            std::thread::spawn(move || {
                let mine: Vec<_> = maps.lock().unwrap().clone();
                let mut s = wave * 100 + t + 1;
                for _ in 0..500 {
                    let m = &mine[(rng(&mut s) % mine.len() as u64) as usize];
                    let k = rng(&mut s) % 50;
                    let p = m.pin();
                    if rng(&mut s) % 3 == 0 { p.remove(&k); } else { made.fetch_add(1, SeqCst); p.insert(k, D(drops.clone(), k)); }
                }
                // drop some maps from this thread while other threads may still hold them
                if t == 0 {
                    let mut g = maps.lock().unwrap();
                    for _ in 0..3 { if !g.is_empty() { let i = (rng(&mut s) % g.len() as u64) as usize; g.swap_remove(i); } }
                    let n = g.len();
                    for _ in 0..3 { if n < 150 { g.push(Arc::new(ConcurrentHashMap::new())); } }
                }
            })
        }).collect();
        for h in hs { h.join().unwrap(); }
    }
    for m in maps.lock().unwrap().iter() {
        m.check_invariants();
        let st = m.stats();
        assert_eq!(st.handle_slots, 64); assert_eq!(st.temporary_pins, 0);
    }
    drop(maps);
    assert_eq!(made.load(SeqCst), drops.load(SeqCst));
}
