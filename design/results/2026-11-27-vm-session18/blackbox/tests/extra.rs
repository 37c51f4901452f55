//! Extra: closures that read the map, nested views, map address reuse across thread-local
//! handles, map dropped before its threads exit, reclamation keeps up.
mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};

#[test]
fn closures_may_read_the_map_during_growth() {
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for i in 0..100 {
        map.pin().insert(i, 1);
    }
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let map = &map;
            s.spawn(move || {
                for i in 0..80_000u64 {
                    map.pin().insert(1000 + t * 100_000 + i, 0);
                }
            });
        }
        for t in 0..3u64 {
            let map = &map;
            s.spawn(move || {
                let mut rng = Rng::new(t);
                for _ in 0..20_000 {
                    let k = rng.below(100);
                    let other = rng.below(100);
                    map.pin().update(&k, |v| {
                        // Read the map (another key, possibly same chain) inside the closure.
                        let o = map.pin().get(&other).copied().unwrap_or(0);
                        let _ = map.pin().iter().take(3).count();
                        v + 1 + o * 0
                    });
                    map.pin().get_or_insert_with(200 + k, || map.pin().get(&other).copied().unwrap_or(0) * 0);
                }
            });
        }
        let map = &map;
        s.spawn(move || {
            for _ in 0..20 {
                map.retain(|k, _| {
                    let _ = map.pin().get(&(k ^ 1));
                    true
                });
            }
        });
    });
    let total: u64 = (0..100).map(|k| *map.pin().get(&k).unwrap()).sum();
    assert_eq!(total, 100 + 3 * 20_000);
}

#[test]
fn nested_views_same_and_different_maps() {
    let a: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let b: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (a, b) = (&a, &b);
            s.spawn(move || {
                for i in 0..20_000u64 {
                    let va1 = a.pin();
                    let vb = b.pin();
                    let va2 = a.pin();
                    va1.insert(t * 100_000 + i, i);
                    vb.insert(t * 100_000 + i, i + 1);
                    let r1 = va1.get(&(t * 100_000 + i)).unwrap();
                    va2.remove(&(t * 100_000 + i));
                    // Non-LIFO drop order.
                    drop(va2);
                    assert_eq!(*r1, i);
                    drop(va1);
                    assert_eq!(vb.get(&(t * 100_000 + i)), Some(&(i + 1)));
                    drop(vb);
                    assert_eq!(va_get(a, t * 100_000 + i), None);
                }
            });
        }
    });
    assert_eq!(a.len(), 0);
    assert_eq!(b.len(), 80_000);
    fn va_get(m: &ConcurrentHashMap<u64, u64>, k: u64) -> Option<u64> {
        m.pin().get(&k).copied()
    }
}

#[test]
fn sequential_maps_reuse_address_in_long_lived_threads() {
    // Long-lived threads use map after map; maps are dropped and new ones likely land at the same
    // address. Per-thread handle caches must not carry over to a new map.
    let reg = Registry::leak();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| mpsc::channel::<Option<Arc<ConcurrentHashMap<u64, TVal>>>>()).unzip();
    let bar = Arc::new(Barrier::new(5));
    let hs: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(t, rx)| {
            let bar = bar.clone();
            std::thread::spawn(move || {
                while let Ok(Some(map)) = rx.recv() {
                    for i in 0..3000u64 {
                        let k = t as u64 * 10_000 + i % 1000;
                        let v = map.pin();
                        v.insert(k, TVal::new(reg, k, i));
                        if i % 3 == 0 {
                            v.remove(&k);
                        }
                    }
                    drop(map);
                    bar.wait();
                }
            })
        })
        .collect();
    let mut addrs = std::collections::HashSet::new();
    let mut reused = 0;
    for round in 0..200 {
        let map = Arc::new(ConcurrentHashMap::new());
        if !addrs.insert(Arc::as_ptr(&map) as usize) {
            reused += 1;
        }
        for tx in &txs {
            tx.send(Some(map.clone())).unwrap();
        }
        bar.wait();
        let map = Arc::try_unwrap(map).ok().expect("threads dropped their Arcs");
        // Each thread: keys i%1000 for i in 0..3000; the last write to k=i%1000 is at i in 2000..3000,
        // removed iff i % 3 == 0.
        let expect = (2000..3000u64).filter(|i| i % 3 != 0).count() * 4;
        assert_eq!(map.len(), expect, "round {round}: len");
        assert_eq!(map.pin().iter().count(), expect, "round {round}: iter");
        reg.assert_clean("seq maps");
        drop(map);
        assert_eq!(reg.live.load(SeqCst), 0, "round {round}: live values after drop");
    }
    for tx in &txs {
        tx.send(None).unwrap();
    }
    for h in hs {
        h.join().unwrap();
    }
    reg.assert_clean("seq maps");
    eprintln!("map addresses reused: {reused}");
}

#[test]
fn map_dropped_before_its_threads_exit() {
    let reg = Registry::leak();
    for _ in 0..50 {
        let map = Arc::new(ConcurrentHashMap::<u64, TVal>::new());
        let go_exit = Arc::new(AtomicBool::new(false));
        let bar = Arc::new(Barrier::new(4));
        let hs: Vec<_> = (0..3u64)
            .map(|t| {
                let (map, go_exit, bar) = (map.clone(), go_exit.clone(), bar.clone());
                std::thread::spawn(move || {
                    for i in 0..2000u64 {
                        let v = map.pin();
                        v.insert(i % 500 + t * 1000, TVal::new(reg, i % 500 + t * 1000, i));
                        v.remove(&((i + 7) % 500 + t * 1000));
                    }
                    drop(map);
                    bar.wait();
                    while !go_exit.load(SeqCst) {
                        std::thread::yield_now();
                    }
                    // Thread exits (thread-local destructors run) after the map is gone.
                })
            })
            .collect();
        bar.wait();
        let map = Arc::try_unwrap(map).ok().unwrap();
        drop(map);
        assert_eq!(reg.live.load(SeqCst), 0);
        // Another map in between, maybe at the same address.
        let m2: ConcurrentHashMap<u64, TVal> = ConcurrentHashMap::new();
        m2.pin().insert(1, TVal::new(reg, 1, 1));
        go_exit.store(true, SeqCst);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(m2.len(), 1);
        assert_eq!(m2.pin().get(&1).unwrap().ver, 1);
        drop(m2);
        assert_eq!(reg.live.load(SeqCst), 0);
        reg.assert_clean("dropped before exit");
    }
}

#[test]
fn reclamation_keeps_up_with_short_views() {
    let reg = Registry::leak();
    let map: ConcurrentHashMap<u64, TVal> = ConcurrentHashMap::new();
    let mut max_live = 0;
    std::thread::scope(|s| {
        for t in 0..3u64 {
            let map = &map;
            s.spawn(move || {
                let mut rng = Rng::new(t);
                for i in 0..300_000u64 {
                    let k = rng.below(1000);
                    map.pin().insert(k, TVal::new(reg, k, i));
                }
            });
        }
    });
    for _ in 0..1000 {
        map.pin().flush();
    }
    max_live = max_live.max(reg.live.load(SeqCst));
    // 1000 keys live; garbage must be bounded, not ~900k retired values.
    assert!(max_live < 200_000, "reclamation fell behind: {max_live} live values for 1000 keys; {:?}", map.stats());
    eprintln!("max live (sampled) {max_live}, final live {}, stats {:?}", reg.live.load(SeqCst), map.stats());
}
