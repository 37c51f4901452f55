mod common;
use common::*;
use hmap::concurrent::{Computed, Operation};
use hmap::ConcurrentHashMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Barrier;

fn counter_inc(c: Option<&u64>) -> Operation<u64> {
    Operation::Set(c.map_or(1, |c| c + 1))
}

#[test]
fn compute_counters_exact_from_empty_many_thread_counts() {
    let _w = watchdog("counters", 60);
    for threads in 2..=8usize {
        for &keys in &[1u64, 7, 500, 5000] {
            let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
            let per = 20_000 / threads;
            let bar = Barrier::new(threads);
            std::thread::scope(|s| {
                for t in 0..threads {
                    let map = &map;
                    let bar = &bar;
                    s.spawn(move || {
                        bar.wait();
                        let mut rng = Rng::new(t as u64 + 11);
                        for i in 0..per {
                            let k = (rng.below(keys) + i as u64) % keys;
                            let view = map.pin();
                            let r = view.compute(k, counter_inc);
                            match r {
                                Computed::Inserted(n) => assert_eq!(*n, 1),
                                Computed::Updated { old, new } => assert_eq!(*new, *old + 1),
                                other => panic!("unexpected {other:?}"),
                            }
                        }
                    });
                }
            });
            let total: u64 = map.pin().values().sum();
            assert_eq!(total, (per * threads) as u64, "threads={threads} keys={keys}");
            assert_eq!(map.len(), map.pin().iter().count());
            assert!(map.len() as u64 <= keys);
            let st = map.stats();
            assert_eq!(st.len, map.len());
            map.check_invariants();
        }
    }
}

#[test]
fn refcount_inc_dec_ends_empty_while_growing() {
    let _w = watchdog("refcount", 60);
    for threads in [2usize, 4, 8] {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        std::thread::scope(|s| {
            for t in 0..threads {
                let map = &map;
                s.spawn(move || {
                    let mut rng = Rng::new(t as u64 * 7 + 1);
                    let mut held: Vec<u64> = Vec::new();
                    for _ in 0..30_000 / threads {
                        if held.is_empty() || (rng.below(100) < 55 && held.len() < 3000) {
                            let k = rng.below(4000);
                            let pv = map.pin(); let r = pv.compute(k, counter_inc);
                            assert!(matches!(r, Computed::Inserted(&1) | Computed::Updated { .. }));
                            held.push(k);
                        } else {
                            let idx = rng.below(held.len() as u64) as usize;
                            let k = held.swap_remove(idx);
                            let v = map.pin();
                            let r = v.compute(k, |c| match c {
                                None => panic!("refcount key {k} missing while held"),
                                Some(1) => Operation::Remove,
                                Some(c) => Operation::Set(c - 1),
                            });
                            match r {
                                Computed::Removed(&1) => {}
                                Computed::Updated { old, new } => assert_eq!(*old, *new + 1),
                                other => panic!("unexpected {other:?}"),
                            }
                        }
                    }
                    for k in held {
                        map.pin().compute(k, |c| match c {
                            None => panic!("missing"),
                            Some(1) => Operation::Remove,
                            Some(c) => Operation::Set(c - 1),
                        });
                    }
                });
            }
        });
        assert_eq!(map.len(), 0, "threads={threads}");
        assert_eq!(map.pin().iter().count(), 0);
        assert!(map.stats().growths > 0);
        map.check_invariants();
    }
}

#[test]
fn compute_as_mutex_mutual_exclusion() {
    // insert-if-absent acquires, compare-and-delete releases.
    let _w = watchdog("mutex", 60);
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let keys = 16u64;
    let inside: Vec<AtomicU64> = (0..keys).map(|_| AtomicU64::new(0)).collect();
    let acquired = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 1..=6u64 {
            let (map, inside, acquired) = (&map, &inside, &acquired);
            s.spawn(move || {
                let mut rng = Rng::new(t);
                for i in 0..20_000u64 {
                    let k = rng.below(keys);
                    let token = t << 32 | i;
                    let pv = map.pin(); let r = pv.compute(k, |c| match c {
                        None => Operation::Set(token),
                        Some(_) => Operation::Keep,
                    });
                    if let Computed::Inserted(&tok) = r {
                        assert_eq!(tok, token);
                        assert_eq!(inside[k as usize].swap(token, Ordering::SeqCst), 0, "two holders of {k}");
                        acquired.fetch_add(1, Ordering::Relaxed);
                        std::hint::spin_loop();
                        assert_eq!(inside[k as usize].swap(0, Ordering::SeqCst), token);
                        // someone else's release must fail
                        let pv = map.pin(); let other = pv.compute(k, |c| if c == Some(&(token ^ 1)) { Operation::Remove } else { Operation::Keep });
                        assert_eq!(other, Computed::Unchanged(Some(&token)));
                        let pv = map.pin(); let rel = pv.compute(k, |c| if c == Some(&token) { Operation::Remove } else { Operation::Keep });
                        assert_eq!(rel, Computed::Removed(&token));
                    } else {
                        let Computed::Unchanged(Some(_)) = r else { panic!("{r:?}") };
                    }
                }
            });
        }
    });
    assert!(acquired.load(Ordering::Relaxed) > 100);
    assert_eq!(map.len(), 0);
}

#[test]
fn counters_racing_churn_retain_iter_with_monotonic_readers() {
    let _w = watchdog("churn", 90);
    const CK: u64 = 300; // counter keys: only ever incremented via compute
    for round in 0..3u64 {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        let stop = AtomicBool::new(false);
        let incs = 4;
        let per = 15_000u64;
        std::thread::scope(|s| {
            let mut hs = Vec::new();
            for t in 0..incs {
                let map = &map;
                hs.push(s.spawn(move || {
                    let mut rng = Rng::new(round * 100 + t);
                    let mut mine = vec![0u64; CK as usize];
                    for _ in 0..per {
                        let k = rng.below(CK);
                        mine[k as usize] += 1;
                        match rng.below(3) {
                            0 => {
                                map.pin().compute(k, counter_inc);
                            }
                            1 => {
                                // one-call: get_or_insert_with + update can't be atomic together, so use compute twice? no: compute only
                                let v = map.pin();
                                let r = v.compute(k, |c| Operation::Set(c.copied().unwrap_or(0) + 1));
                                assert_eq!(r.current().copied().unwrap(), r.previous().copied().unwrap_or(0) + 1);
                            }
                            _ => {
                                // update if present, else compute-insert
                                if map.update(&k, |v| v + 1).is_none() {
                                    map.pin().compute(k, counter_inc);
                                }
                            }
                        }
                    }
                    mine
                }));
            }
            // churn: inserts/removes/computes on keys >= CK
            for t in 0..2u64 {
                let (map, stop) = (&map, &stop);
                s.spawn(move || {
                    let mut rng = Rng::new(round * 1000 + t + 77);
                    while !stop.load(Ordering::Relaxed) {
                        let k = CK + rng.below(20_000);
                        match rng.below(5) {
                            0 => drop(map.insert(k, k)),
                            1 => drop(map.remove(&k)),
                            2 => drop(map.pin().compute(k, |c| if c.is_some() { Operation::Remove } else { Operation::Set(1) })),
                            3 => drop(map.get_or_insert_with(k, || 5)),
                            _ => {
                                if rng.below(200) == 0 {
                                    map.retain(|k, _| *k < CK || k % 2 == 0);
                                }
                            }
                        }
                    }
                });
            }
            // monotonic readers + iterator
            {
                let (map, stop) = (&map, &stop);
                s.spawn(move || {
                    let mut last = vec![0u64; CK as usize];
                    let mut rng = Rng::new(5);
                    while !stop.load(Ordering::Relaxed) {
                        let k = rng.below(CK);
                        let v = map.get_cloned(&k).unwrap_or(0);
                        assert!(v >= last[k as usize], "counter {k} went back {} -> {v}", last[k as usize]);
                        last[k as usize] = v;
                        let pv = map.pin(); let r = pv.compute(k, |_| Operation::Keep);
                        let v2 = r.current().copied().unwrap_or(0);
                        assert!(v2 >= v, "compute Keep saw older value");
                        last[k as usize] = v2;
                        if rng.below(500) == 0 {
                            let view = map.pin();
                            let mut seen = std::collections::HashSet::new();
                            for (k, v) in view.iter() {
                                if *k < CK {
                                    assert!(seen.insert(*k), "counter key {k} yielded twice");
                                    assert!(*v >= 1);
                                }
                            }
                        }
                    }
                });
            }
            let mut expect = vec![0u64; CK as usize];
            for h in hs {
                for (i, m) in h.join().unwrap().into_iter().enumerate() {
                    expect[i] += m;
                }
            }
            stop.store(true, Ordering::Relaxed);
            let view = map.pin();
            for k in 0..CK {
                assert_eq!(view.get(&k).copied().unwrap_or(0), expect[k as usize], "round {round} key {k}");
            }
        });
        assert_eq!(map.len(), map.pin().iter().count());
        assert_eq!(map.stats().len, map.len());
        map.check_invariants();
    }
}

#[test]
fn compute_racing_clear_is_self_consistent() {
    let _w = watchdog("clear_race", 60);
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut hs = vec![];
        for t in 0..3u64 {
            let map = &map;
            hs.push(s.spawn(move || {
                let mut rng = Rng::new(t + 3);
                for _ in 0..40_000 {
                    let k = rng.below(3000);
                    let v = map.pin();
                    match v.compute(k, counter_inc) {
                        Computed::Inserted(&1) => {}
                        Computed::Updated { old, new } => assert_eq!(*new, *old + 1),
                        other => panic!("{other:?}"),
                    }
                    if rng.below(10) == 0 {
                        let r = v.compute(k, |c| if c.map_or(false, |c| c % 2 == 0) { Operation::Remove } else { Operation::Keep });
                        match r {
                            Computed::Removed(x) => assert_eq!(x % 2, 0),
                            Computed::Unchanged(x) => assert!(x.map_or(true, |x| x % 2 == 1)),
                            other => panic!("{other:?}"),
                        }
                    }
                }
            }));
        }
        let (map2, stop2) = (&map, &stop);
        s.spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                map2.clear();
                std::thread::yield_now();
            }
        });
        for h in hs {
            h.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(map.len(), map.pin().iter().count());
    map.check_invariants();
    map.clear();
    assert_eq!(map.len(), 0);
}

#[test]
fn disjoint_writers_model_check() {
    // each thread owns keys t, t+T, ...: its model must match exactly at the end.
    let _w = watchdog("disjoint", 60);
    for threads in [2u64, 5, 8] {
        for cap in [0usize, 3, 100] {
            let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::with_capacity(cap);
            let models: Vec<HashMap<u64, u64>> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads)
                    .map(|t| {
                        let map = &map;
                        s.spawn(move || {
                            let mut model = HashMap::new();
                            let mut rng = Rng::new(t + 99);
                            for i in 0..8000u64 {
                                let k = rng.below(1500) * threads + t;
                                let nv = i * 1000 + t;
                                let before = model.get(&k).copied();
                                let v = map.pin();
                                let r = v.compute(k, |c| {
                                    assert_eq!(c.copied(), before);
                                    match (c, rng.below(3)) {
                                        (_, 0) => Operation::Keep,
                                        (_, 1) => Operation::Set(nv),
                                        _ => Operation::Remove,
                                    }
                                });
                                assert_eq!(r.previous().copied(), before);
                                match r.current() {
                                    Some(x) => model.insert(k, *x),
                                    None => model.remove(&k),
                                };
                            }
                            model
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let mut all = HashMap::new();
            for m in models {
                all.extend(m);
            }
            let got: HashMap<u64, u64> = map.pin().iter().map(|(a, b)| (*a, *b)).collect();
            assert_eq!(got, all);
            assert_eq!(map.len(), all.len());
            map.check_invariants();
        }
    }
}

#[test]
fn disjoint_writers_constant_and_few_hashers() {
    let _w = watchdog("disjoint_const", 90);
    fn go<S: std::hash::BuildHasher + Default + Send + Sync>(threads: u64, keys: u64, ops: u64) -> (usize, bool) {
        let map: ConcurrentHashMap<u64, u64, S> = ConcurrentHashMap::with_hasher(S::default());
        let mut saw_same_size = false;
        let models: Vec<HashMap<u64, u64>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|t| {
                    let map = &map;
                    s.spawn(move || {
                        let mut model = HashMap::new();
                        let mut rng = Rng::new(t + 1234);
                        let mut same = false;
                        for i in 0..ops {
                            let k = rng.below(keys) * threads + t;
                            let before = model.get(&k).copied();
                            let v = map.pin();
                            let c = rng.below(4);
                            let r = v.compute(k, |cur| {
                                assert_eq!(cur.copied(), before);
                                match c {
                                    0 => Operation::Keep,
                                    1 | 2 => Operation::Set(i),
                                    _ => Operation::Remove,
                                }
                            });
                            assert_eq!(r.previous().copied(), before);
                            match r.current() {
                                Some(x) => model.insert(k, *x),
                                None => model.remove(&k),
                            };
                            if i % 64 == 0 {
                                let st = map.stats();
                                same |= st.same_size_growth;
                            }
                        }
                        (model, same)
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    let (m, s) = h.join().unwrap();
                    saw_same_size |= s;
                    m
                })
                .collect()
        });
        let mut all = HashMap::new();
        for m in models {
            all.extend(m);
        }
        let got: HashMap<u64, u64> = map.pin().iter().map(|(a, b)| (*a, *b)).collect();
        assert_eq!(got, all);
        assert_eq!(map.len(), all.len());
        map.check_invariants();
        (map.stats().growths, saw_same_size)
    }
    for threads in [2u64, 4, 8] {
        let (g, s) = go::<ConstState>(threads, 40, 3000);
        eprintln!("const threads={threads}: growths={g} same_size_seen={s}");
        let (g, s) = go::<FewState>(threads, 800, 8000);
        eprintln!("few threads={threads}: growths={g} same_size_seen={s}");
    }
}

#[test]
fn insert_if_absent_agreement_compute_and_get_or_insert_with() {
    let _w = watchdog("agreement", 60);
    for round in 0..200u64 {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::with_capacity((round % 4) as usize);
        let bar = Barrier::new(4);
        let results: Vec<Vec<(u64, bool)>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4u64)
                .map(|t| {
                    let (map, bar) = (&map, &bar);
                    s.spawn(move || {
                        bar.wait();
                        let mut out = vec![];
                        for k in 0..40u64 {
                            if (k + t) % 2 == 0 {
                                let v = map.pin();
                                match v.compute(k, |c| if c.is_none() { Operation::Set(t) } else { Operation::Keep }) {
                                    Computed::Inserted(&x) => out.push((x, true)),
                                    Computed::Unchanged(Some(&x)) => out.push((x, false)),
                                    other => panic!("{other:?}"),
                                }
                            } else {
                                let x = map.get_or_insert_with(k, || t + 100);
                                out.push((x, x == t + 100));
                            }
                        }
                        out
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for k in 0..40usize {
            let winner = map.get_cloned(&(k as u64)).unwrap();
            let mut inserts = 0;
            for r in &results {
                assert_eq!(r[k].0, winner, "round {round} key {k}: disagreement");
                inserts += r[k].1 as usize;
            }
            assert_eq!(inserts, 1, "round {round} key {k}");
        }
    }
}
