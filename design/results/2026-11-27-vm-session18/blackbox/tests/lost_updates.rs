//! 2. Lost updates: N threads update shared keys M times, also while the map grows.
mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
static GROW_UPD: AtomicUsize = AtomicUsize::new(0);

fn lost_updates<S: std::hash::BuildHasher + Sync>(map: ConcurrentHashMap<u64, u64, S>, shared: u64, updaters: u64, m: u64, inserters: u64, fresh: u64) {
    // Shared keys spread out (u64::MAX - i) so they do not clash with fresh ones.
    for i in 0..shared {
        assert!(map.pin().insert(u64::MAX - i, 0).is_none());
    }
    let done = AtomicBool::new(false);
    let bar = std::sync::Barrier::new((inserters + updaters) as usize);
    let results: Vec<Vec<Vec<u64>>> = std::thread::scope(|s| {
        for t in 0..inserters {
            let map = &map;
            let done = &done;
            let bar = &bar;
            s.spawn(move || {
                bar.wait();
                let mut i = 0;
                while i < fresh && !done.load(SeqCst) {
                    let view = map.pin();
                    for _ in 0..16 {
                        view.insert(t * fresh + i, i);
                        i += 1;
                    }
                }
            });
        }
        let hs: Vec<_> = (0..updaters)
            .map(|t| {
                let map = &map;
                let bar = &bar;
                s.spawn(move || {
                    bar.wait();
                    let mut rng = Rng::new(t + 5);
                    let mut got = vec![Vec::new(); shared as usize];
                    for i in 0..m {
                        let which = if t % 2 == 0 { rng.below(shared) } else { i % shared };
                        let view = map.pin();
                        let k = u64::MAX - which;
                        let new = *view.update(&k, |v| v + 1).expect("shared key vanished");
                        got[which as usize].push(new);
                        if map.is_growing() { GROW_UPD.fetch_add(1, SeqCst); }
                        // Within one thread, successive results for one key strictly increase.
                        let g = &got[which as usize];
                        if g.len() >= 2 {
                            assert!(g[g.len() - 2] < g[g.len() - 1]);
                        }
                        assert!(*view.get(&k).unwrap() >= new);
                        if i % 256 == 0 { std::thread::yield_now(); }
                    }
                    got
                })
            })
            .collect();
        let r = hs.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, SeqCst);
        r
    });
    let view = map.pin();
    let mut total = 0;
    for which in 0..shared as usize {
        let mut all: Vec<u64> = results.iter().flat_map(|r| r[which].iter().copied()).collect();
        all.sort_unstable();
        let n = all.len() as u64;
        total += n;
        // Every update returned a distinct value 1..=n: no two updates read the same old value.
        assert_eq!(all, (1..=n).collect::<Vec<_>>(), "key {which}: duplicate/missing update results");
        assert_eq!(*view.get(&(u64::MAX - which as u64)).unwrap(), n, "lost updates on key {which}");
    }
    assert_eq!(total, updaters * m);
    eprintln!("stats len {} growths {} updates-during-growth(all tests) {}", map.len(), map.stats().growths, GROW_UPD.load(SeqCst));
}

#[test]
fn lost_updates_no_growth() {
    lost_updates(ConcurrentHashMap::new(), 4, 6, 30_000, 0, 0);
}

#[test]
fn lost_updates_while_growing() {
    for _ in 0..3 {
        lost_updates(ConcurrentHashMap::new(), 8, 4, 40_000, 2, 150_000);
    }
}

#[test]
fn lost_updates_while_growing_one_key() {
    lost_updates(ConcurrentHashMap::new(), 1, 5, 40_000, 2, 150_000);
}

#[test]
fn lost_updates_colliding_hasher_while_growing() {
    lost_updates(ConcurrentHashMap::with_hasher(Build(Mode::Few(8))), 8, 4, 5_000, 2, 2_000);
}

#[test]
fn lost_updates_identity_hasher_while_growing() {
    lost_updates(ConcurrentHashMap::with_hasher(IdentityBuild), 8, 4, 30_000, 2, 100_000);
}
