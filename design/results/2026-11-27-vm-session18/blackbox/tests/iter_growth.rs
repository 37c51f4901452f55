//! 5. Iteration during growth: stable keys yielded exactly once per iteration, no duplicates.
mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

const STABLE_BASE: u64 = 1 << 40;
const CHURN_BASE: u64 = 1 << 41;
static CHURN_DUPS: AtomicUsize = AtomicUsize::new(0);

fn iter_during_growth<S: BuildHasher + Sync>(map: ConcurrentHashMap<u64, u64, S>, stable: u64, churn: u64, fresh_per_thread: u64, slow: bool) -> (usize, usize) {
    for i in 0..stable {
        map.pin().insert(STABLE_BASE + i, !i);
    }
    for i in 0..churn {
        map.pin().insert(CHURN_BASE + i, i);
    }
    let stop = AtomicBool::new(false);
    let iterations = AtomicUsize::new(0);
    let multi_growth_iters = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let mut writers = vec![];
        // Fresh inserters: force growths.
        for t in 0..2u64 {
            let map = &map;
            writers.push(s.spawn(move || {
                for i in 0..fresh_per_thread {
                    map.pin().insert(t * fresh_per_thread + i, i);
                    if slow && i % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
            }));
        }
        // Churn: remove and re-insert / update a separate key set.
        {
            let map = &map;
            let stop = &stop;
            s.spawn(move || {
                let mut rng = Rng::new(99);
                while !stop.load(SeqCst) {
                    let k = CHURN_BASE + rng.below(churn);
                    let v = map.pin();
                    match rng.below(3) {
                        0 => {
                            v.remove(&k);
                        }
                        1 => {
                            v.insert(k, rng.next());
                        }
                        _ => {
                            v.update(&k, |x| x + 1);
                        }
                    }
                }
            });
        }
        // Iterators.
        for it in 0..2 {
            let map = &map;
            let stop = &stop;
            let iterations = &iterations;
            let multi = &multi_growth_iters;
            s.spawn(move || {
                while !stop.load(SeqCst) {
                    let g0 = map.stats().growths;
                    let view = map.pin();
                    let mut seen = HashSet::new();
                    let mut stable_seen = 0u64;
                    for (n, (k, v)) in view.iter().enumerate() {
                        if !seen.insert(*k) {
                            // Churn keys are removed and re-inserted during the iteration; a
                            // duplicate of those is reported separately (see repro_iter_dup.rs).
                            assert!(*k >= CHURN_BASE, "key {k} (never removed) yielded twice in one iteration");
                            CHURN_DUPS.fetch_add(1, SeqCst);
                        }
                        if *k >= STABLE_BASE && *k < STABLE_BASE + stable {
                            assert_eq!(*v, !(*k - STABLE_BASE), "stable key {k} wrong value");
                            stable_seen += 1;
                        } else if *k >= CHURN_BASE {
                            assert!(*k < CHURN_BASE + churn);
                        } else {
                            assert!(*k < 2 * fresh_per_thread, "unknown key {k}");
                        }
                        if slow && (n + it) % 97 == 0 {
                            std::thread::yield_now();
                        }
                    }
                    drop(view);
                    if stable_seen != stable {
                        let missing: Vec<u64> = (0..stable).filter(|i| !seen.contains(&(STABLE_BASE + i))).take(10).collect();
                        panic!("iteration yielded {stable_seen} of {stable} stable keys; missing e.g. {missing:?}; stats {:?}", map.stats());
                    }
                    let g1 = map.stats().growths;
                    if g1 >= g0 + 2 {
                        multi.fetch_add(1, SeqCst);
                    }
                    if g1 > g0 {
                        iterations.fetch_add(1, SeqCst);
                    }
                }
            });
        }
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, SeqCst);
    });
    // Final full check.
    let view = map.pin();
    let mut seen = HashSet::new();
    for (k, _) in view.iter() {
        assert!(seen.insert(*k));
    }
    assert_eq!(seen.len(), map.len());
    for i in 0..stable {
        assert_eq!(view.get(&(STABLE_BASE + i)), Some(&!i));
    }
    for i in 0..2 * fresh_per_thread {
        assert_eq!(view.get(&i).copied(), Some(i % fresh_per_thread));
    }
    let r = (iterations.load(SeqCst), multi_growth_iters.load(SeqCst));
    eprintln!("iterations spanning a growth start: {}, spanning >=2 growths: {}; churn-key duplicates so far {}; stats {:?}", r.0, r.1, CHURN_DUPS.load(SeqCst), map.stats());
    r
}

#[test]
fn iter_during_growth_fast() {
    for _ in 0..3 {
        iter_during_growth(ConcurrentHashMap::new(), 500, 200, 100_000, false);
    }
}

#[test]
fn iter_during_growth_slow_iterator() {
    // Slow iterators so that several growths start and end during one iteration.
    iter_during_growth(ConcurrentHashMap::new(), 300, 100, 100_000, true);
}

#[test]
fn iter_during_growth_small_stable_set() {
    for _ in 0..5 {
        iter_during_growth(ConcurrentHashMap::new(), 3, 5, 20_000, true);
    }
}

#[test]
fn iter_during_growth_colliding_hasher() {
    iter_during_growth(ConcurrentHashMap::with_hasher(Build(Mode::Few(32))), 200, 50, 1500, true);
}

#[test]
fn iter_during_growth_identity_hasher() {
    iter_during_growth(ConcurrentHashMap::with_hasher(IdentityBuild), 500, 200, 100_000, true);
}

/// Same-size growth (doc-hidden `force_growth(true)`, the only way to get one on demand) and
/// forced doubling in the middle of an iteration.
#[test]
fn iter_across_forced_growths() {
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for i in 0..5000 {
        map.pin().insert(i, i);
    }
    for same in [true, false, true, false] {
        while map.is_growing() {
            map.pin().insert(1 << 50, 0);
            map.pin().remove(&(1 << 50));
        }
        let view = map.pin();
        let mut it = view.iter();
        let mut seen = HashSet::new();
        for _ in 0..1234 {
            let (k, _) = it.next().unwrap();
            assert!(seen.insert(*k));
        }
        assert!(map.force_growth(same));
        // Drive evacuation to completion from other pins while this iterator is mid-way.
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut j = 0u64;
                while map.is_growing() {
                    map.pin().insert((1 << 51) + j, 0);
                    map.pin().remove(&((1 << 51) + j));
                    j += 1;
                }
            });
        });
        for (k, v) in it {
            assert!(seen.insert(*k), "key {k} yielded twice across forced growth (same={same})");
            assert_eq!(k, v);
        }
        assert_eq!(seen.len(), 5000, "same_size={same}");
    }
}

/// Same shape as the retain failure: an iteration that starts while a growth runs, while another
/// thread inserts enough to start the next growth, with CPU hogs forcing preemption.
#[test]
fn iter_started_mid_growth_back_to_back_growths() {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..3 {
            let stop = &stop;
            s.spawn(move || {
                while !stop.load(SeqCst) {
                    std::hint::spin_loop();
                }
            });
        }
        let t0 = std::time::Instant::now();
        let mut rounds = 0;
        while t0.elapsed().as_secs() < 12 {
            for (n, fresh) in [(20_000u64, 60_000u64), (1_000, 4_000)] {
                rounds += 1;
                let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
                for i in 0..n {
                    map.pin().insert(i, i);
                }
                while map.is_growing() {
                    map.pin().insert(u64::MAX, 0);
                    map.pin().remove(&u64::MAX);
                }
                std::thread::scope(|s2| {
                    let m = &map;
                    s2.spawn(move || {
                        for i in 0..fresh {
                            m.pin().insert(1 << 40 | i, i);
                        }
                    });
                    while !map.is_growing() && map.len() < (n + fresh) as usize {
                        std::hint::spin_loop();
                    }
                    let v = map.pin();
                    let mut seen = vec![0u32; n as usize];
                    let mut all = HashSet::new();
                    for (k, val) in v.iter() {
                        assert!(all.insert(*k), "duplicate {k}");
                        if *k < n {
                            assert_eq!(k, val);
                            seen[*k as usize] += 1;
                        }
                    }
                    let missing = seen.iter().filter(|c| **c == 0).count();
                    assert_eq!(missing, 0, "round {rounds}: iteration missed {missing} of {n} stable keys");
                });
            }
        }
        stop.store(true, SeqCst);
        eprintln!("{rounds} rounds");
    });
}
