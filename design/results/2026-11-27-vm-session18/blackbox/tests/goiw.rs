//! 7. get_or_insert_with racing on the same keys: one closure wins per key, all agree.
mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Barrier;

fn race<S: BuildHasher + Sync>(map: ConcurrentHashMap<u64, (u64, u64), S>, threads: u64, keys: u64, rounds: u64) {
    let calls: Vec<AtomicUsize> = (0..keys * rounds).map(|_| AtomicUsize::new(0)).collect();
    let bar = Barrier::new(threads as usize);
    let seen: Vec<Vec<(u64, u64)>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (map, calls, bar) = (&map, &calls, &bar);
                s.spawn(move || {
                    let mut out = Vec::new();
                    for r in 0..rounds {
                        bar.wait();
                        // Different threads walk keys in different orders.
                        for j in 0..keys {
                            let i = if t % 2 == 0 { j } else { keys - 1 - j };
                            let k = r * keys + i;
                            let v = map.pin();
                            let got = *v.get_or_insert_with(k, || {
                                calls[k as usize].fetch_add(1, SeqCst);
                                (k, t)
                            });
                            assert_eq!(got.0, k);
                            // Subsequent reads agree.
                            assert_eq!(v.get(&k), Some(&got));
                            assert_eq!(*map.pin().get_or_insert(k, (k, 999)), got);
                            out.push(got);
                        }
                    }
                    out
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for k in 0..keys * rounds {
        assert_eq!(calls[k as usize].load(SeqCst), 1, "closure for key {k} ran {} times", calls[k as usize].load(SeqCst));
    }
    let v = map.pin();
    for per_thread in &seen {
        assert_eq!(per_thread.len() as u64, keys * rounds);
    }
    for idx in 0..(keys * rounds) as usize {
        let k = seen[0][idx].0;
        let stored = *v.get(&k).unwrap();
        for per_thread in &seen {
            let got = per_thread.iter().find(|x| x.0 == k).unwrap();
            assert_eq!(*got, stored, "threads disagree on key {k}");
        }
    }
    assert_eq!(map.len() as u64, keys * rounds);
}

#[test]
fn goiw_race_small_rounds_growing() {
    // Each round adds fresh keys, so the races happen during growths from new().
    race(ConcurrentHashMap::new(), 6, 300, 60);
}

#[test]
fn goiw_race_one_key_many_rounds() {
    race(ConcurrentHashMap::new(), 8, 1, 3000);
}

#[test]
fn goiw_race_colliding() {
    race(ConcurrentHashMap::with_hasher(Build(Mode::Few(8))), 6, 100, 20);
}

#[test]
fn goiw_race_with_concurrent_removes() {
    // Remover deletes keys while others get_or_insert them: every returned value must be one
    // that some closure produced for that key, and the closure runs once per insertion.
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let made = AtomicUsize::new(0);
    let removed_some = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (map, made) = (&map, &made);
            s.spawn(move || {
                let mut rng = Rng::new(t);
                for _ in 0..50_000 {
                    let k = rng.below(200);
                    let v = *map.pin().get_or_insert_with(k, || {
                        made.fetch_add(1, SeqCst);
                        k * 1000 + t
                    });
                    assert_eq!(v / 1000, k);
                }
            });
        }
        let (map, removed_some) = (&map, &removed_some);
        s.spawn(move || {
            let mut rng = Rng::new(77);
            for _ in 0..50_000 {
                if map.pin().remove(&rng.below(200)).is_some() {
                    removed_some.fetch_add(1, SeqCst);
                }
            }
        });
    });
    // insertions = removals + final len
    assert_eq!(made.load(SeqCst), removed_some.load(SeqCst) + map.len(), "closure calls != insertions");
}
