mod common;
use common::*;
use hmap::wrappers::SyncMap;
use std::collections::{HashMap as Std, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

fn check_vs(m: &SyncMap<u64, u64>, s: &Std<u64, u64>) {
    let mut seen = Std::new();
    m.range(|k, v| {
        assert!(seen.insert(*k, *v).is_none(), "range visited {k} twice");
        true
    });
    assert_eq!(&seen, s);
}

/// Long random single-threaded sequences against a model, including ops inside range.
#[test]
fn single_thread_model() {
    for seed in 0..60u64 {
        let mut rng = Rng(seed);
        let m: SyncMap<u64, u64> = SyncMap::new();
        let mut s: Std<u64, u64> = Std::new();
        let keyspace = [4u64, 16, 64, 300][(seed % 4) as usize];
        for step in 0..6000u64 {
            let k = rng.below(keyspace);
            let v = rng.below(5);
            match rng.below(24) {
                0..=3 => {
                    m.store(k, v);
                    s.insert(k, v);
                }
                4..=6 => assert_eq!(m.load(&k), s.get(&k).copied(), "seed {seed} step {step} load"),
                7 => {
                    m.delete(&k);
                    s.remove(&k);
                }
                8 => assert_eq!(m.load_and_delete(&k), s.remove(&k)),
                9..=10 => {
                    let exp = match s.get(&k) {
                        Some(x) => (*x, true),
                        None => {
                            s.insert(k, v);
                            (v, false)
                        }
                    };
                    assert_eq!(m.load_or_store(k, v), exp, "seed {seed} step {step} los");
                }
                11..=12 => assert_eq!(m.swap(k, v), s.insert(k, v)),
                13..=14 => {
                    let old = rng.below(5);
                    let exp = s.get(&k) == Some(&old);
                    if exp {
                        s.insert(k, v);
                    }
                    assert_eq!(m.compare_and_swap(&k, &old, v), exp, "seed {seed} step {step} cas");
                }
                15 => {
                    let old = rng.below(5);
                    let exp = s.get(&k) == Some(&old);
                    if exp {
                        s.remove(&k);
                    }
                    assert_eq!(m.compare_and_delete(&k, &old), exp, "seed {seed} step {step} cad");
                }
                16 => {
                    if rng.below(30) == 0 {
                        m.clear();
                        s.clear();
                    }
                }
                17 => {
                    // range with mutation of the map from inside: delete unvisited keys,
                    // store existing keys and new keys
                    let snapshot = s.clone();
                    let mut visited = HashSet::new();
                    let mut touched = HashSet::new();
                    let mut deleted = HashSet::new();
                    let mut rng2 = Rng(step ^ seed);
                    let s_ref = &mut s;
                    m.range(|key, val| {
                        assert!(visited.insert(*key), "visited {key} twice");
                        assert!(!deleted.contains(key), "visited {key} after deleting it");
                        // value must equal current model value
                        assert_eq!(s_ref.get(key), Some(val), "range value for {key}");
                        let k2 = rng2.below(keyspace);
                        match rng2.below(4) {
                            0 => {
                                m.delete(&k2);
                                if s_ref.remove(&k2).is_some() || true {
                                    deleted.insert(k2);
                                }
                                touched.insert(k2);
                            }
                            1 => {
                                m.store(k2, 9);
                                s_ref.insert(k2, 9);
                                deleted.remove(&k2);
                                touched.insert(k2);
                            }
                            2 => {
                                let nk = 1000 + rng2.below(50);
                                m.store(nk, 7);
                                s_ref.insert(nk, 7);
                                touched.insert(nk);
                            }
                            _ => {
                                assert_eq!(m.load(&k2), s_ref.get(&k2).copied());
                            }
                        }
                        true
                    });
                    // every key present in the snapshot and never touched must be visited
                    for key in snapshot.keys() {
                        if !touched.contains(key) {
                            assert!(visited.contains(key), "seed {seed} step {step}: untouched key {key} not visited");
                        }
                    }
                }
                18 => {
                    // early-stop range
                    let mut n = 0;
                    m.range(|_, _| {
                        n += 1;
                        n < 3
                    });
                    assert!(n <= 3);
                }
                19 => assert_eq!(m.is_empty(), s.is_empty()),
                20 => assert_eq!(m.len(), s.len()),
                _ => {
                    // misses: load of absent keys to force promotion
                    for _ in 0..rng.below(10) {
                        let a = 5000 + rng.below(10);
                        assert_eq!(m.load(&a), None);
                    }
                }
            }
            m.check_invariants();
        }
        check_vs(&m, &s);
    }
}

/// Walk an entry through expunged and back, many times, checking the model.
#[test]
fn expunged_revival_cycles() {
    let m: SyncMap<u64, u64> = SyncMap::new();
    for round in 0..200u64 {
        m.store(1, round);
        m.store(2, round);
        // promote (misses)
        for _ in 0..5 {
            m.load(&99);
        }
        m.delete(&1); // nil in read
        m.store(10_000 + round, round); // builds dirty: 1 expunged
        let st = m.stats();
        assert!(st.read_expunged >= 1, "round {round} {st:?}");
        match round % 6 {
            0 => m.store(1, 100 + round),
            1 => assert_eq!(m.load_or_store(1, 100 + round), (100 + round, false)),
            2 => assert_eq!(m.swap(1, 100 + round), None),
            3 => assert!(!m.compare_and_swap(&1, &round, 100 + round)),
            4 => assert_eq!(m.load_and_delete(&1), None),
            _ => assert!(!m.compare_and_delete(&1, &round)),
        }
        m.check_invariants();
        let exp1 = if round % 6 <= 2 { Some(100 + round) } else { None };
        assert_eq!(m.load(&1), exp1, "round {round}");
        for _ in 0..5 {
            m.load(&99);
        }
        m.check_invariants();
        assert_eq!(m.load(&1), exp1);
        assert_eq!(m.load(&2), Some(round));
        assert_eq!(m.load(&(10_000 + round)), Some(round));
        let mut c = 0;
        m.range(|_, _| {
            c += 1;
            true
        });
        assert_eq!(c, 2 + exp1.is_some() as usize);
        m.delete(&1);
        m.delete(&(10_000 + round));
    }
}

/// LoadOrStore: all racing callers agree on one value.
#[test]
fn load_or_store_agreement() {
    for round in 0..300u64 {
        let m: Arc<SyncMap<u64, u64>> = Arc::new(SyncMap::new());
        // make the key sometimes in read (nil/expunged), sometimes new
        match round % 3 {
            0 => {}
            1 => {
                m.store(7, 0);
                for _ in 0..3 {
                    m.load(&1000);
                }
                m.delete(&7);
            }
            _ => {
                m.store(7, 0);
                for _ in 0..3 {
                    m.load(&1000);
                }
                m.delete(&7);
                m.store(8, 0); // expunge 7
            }
        }
        let b = Arc::new(Barrier::new(4));
        let hs: Vec<_> = (0..4u64)
            .map(|t| {
                let (m, b) = (m.clone(), b.clone());
                thread::spawn(move || {
                    b.wait();
                    m.load_or_store(7, 100 + t)
                })
            })
            .collect();
        let rs: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<_> = rs.iter().filter(|r| !r.1).collect();
        assert_eq!(winners.len(), 1, "round {round}: {rs:?}");
        let v = winners[0].0;
        assert!(rs.iter().all(|r| r.0 == v), "round {round}: {rs:?}");
        assert_eq!(m.load(&7), Some(v));
        m.check_invariants();
    }
}

/// CAS increments are never lost; swaps conserve tokens; load_and_delete gives each value once.
#[test]
fn cas_counters_never_lost() {
    let m: Arc<SyncMap<u64, u64>> = Arc::new(SyncMap::new());
    const K: u64 = 8;
    for k in 0..K {
        m.store(k, 0);
    }
    let stop = Arc::new(AtomicBool::new(false));
    // A churn thread adds/deletes other keys to force dirty/promotion/expunge cycles.
    let churn = {
        let (m, stop) = (m.clone(), stop.clone());
        thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                m.store(100 + i % 50, i);
                m.delete(&(100 + (i * 7) % 50));
                m.load(&(100000 + i));
                if i % 1000 == 0 {
                    m.range(|_, _| true);
                }
                i += 1;
            }
        })
    };
    let hs: Vec<_> = (0..2)
        .map(|t| {
            let m = m.clone();
            thread::spawn(move || {
                let mut rng = Rng(t);
                for _ in 0..100_000 {
                    let k = rng.below(K);
                    loop {
                        let cur = m.load(&k).unwrap();
                        if m.compare_and_swap(&k, &cur, cur + 1) {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    let total: u64 = (0..K).map(|k| m.load(&k).unwrap()).sum();
    assert_eq!(total, 200_000);
    m.check_invariants();
}

#[test]
fn swap_conserves_tokens_and_load_and_delete_once() {
    for round in 0..20u64 {
        let m: Arc<SyncMap<u64, u64>> = Arc::new(SyncMap::new());
        if round % 2 == 0 {
            m.store(1, 0);
        }
        let hs: Vec<_> = (0..2u64)
            .map(|t| {
                let m = m.clone();
                thread::spawn(move || {
                    let mut got = Vec::new();
                    for i in 0..20_000u64 {
                        let tok = 1 + t * 1_000_000 + i;
                        if i % 3 == 0 {
                            if let Some(v) = m.load_and_delete(&1) {
                                got.push(v);
                            }
                            m.store(1000 + i % 10, i); // dirty churn
                            m.load(&(777_777 + i));
                            got.push(0xFFFF_FFFF_0000 + tok); // marker: tok was never stored
                        } else if let Some(v) = m.swap(1, tok) {
                            got.push(v);
                        }
                    }
                    got
                })
            })
            .collect();
        let mut all: Vec<u64> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
        if let Some(v) = m.load(&1) {
            all.push(v);
        }
        // every stored token (i % 3 != 0) appears exactly once; markers excluded
        let mut stored: Vec<u64> = all.iter().copied().filter(|v| *v < 0xFFFF_FFFF_0000).collect();
        if round % 2 == 0 {
            assert!(stored.contains(&0), "initial value lost");
            stored.retain(|v| *v != 0);
        }
        stored.sort();
        let mut expected: Vec<u64> = (0..2u64)
            .flat_map(|t| (0..20_000u64).filter(|i| i % 3 != 0).map(move |i| 1 + t * 1_000_000 + i))
            .collect();
        expected.sort();
        assert_eq!(stored.len(), expected.len(), "round {round}");
        assert_eq!(stored, expected);
        m.check_invariants();
    }
}

/// Range: keys present & unchanged for the whole Range are visited exactly once; no key
/// visited twice; per-key values monotonic across loads.
#[test]
fn concurrent_range_semantics() {
    let m: Arc<SyncMap<u64, u64>> = Arc::new(SyncMap::new());
    const STABLE: u64 = 200;
    for k in 0..STABLE {
        m.store(k, k);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ver = Arc::new(AtomicU64::new(0));
    let writer = {
        let (m, stop, ver) = (m.clone(), stop.clone(), ver.clone());
        thread::spawn(move || {
            let mut i = 0u64;
            let mut rng = Rng(5);
            while !stop.load(Ordering::Relaxed) {
                // churn keys 1000..1300 (add/delete/expunge) and bump versions of keys 500..520
                let k = 1000 + rng.below(300);
                match rng.below(5) {
                    0 | 1 => m.store(k, i),
                    2 => m.delete(&k),
                    3 => {
                        m.load_or_store(k, i);
                    }
                    _ => {
                        let vk = 500 + rng.below(20);
                        m.store(vk, ver.fetch_add(1, Ordering::SeqCst) + 1);
                    }
                }
                if i % 5000 == 0 && i % 20000 != 0 {
                    // occasionally clear only churn keys not possible; skip
                }
                i += 1;
            }
        })
    };
    let mut last = Std::new();
    for it in 0..3000 {
        let mut seen = HashSet::new();
        m.range(|k, v| {
            assert!(seen.insert(*k), "iteration {it}: {k} twice");
            if *k < STABLE {
                assert_eq!(k, v);
            }
            if (500..520).contains(k) {
                let p = last.entry(*k).or_insert(0u64);
                assert!(*v >= *p, "version went back for {k}: {v} < {p}");
                *p = *v;
            }
            true
        });
        for k in 0..STABLE {
            assert!(seen.contains(&k), "iteration {it}: stable key {k} missed");
        }
        for k in 500..520u64 {
            if let Some(v) = m.load(&k) {
                let p = last.entry(k).or_insert(0);
                assert!(v >= *p, "load: version went back for {k}");
                *p = v;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    m.check_invariants();
}

/// Disjoint writers: exact final state, with clear-free churn.
#[test]
fn disjoint_writers_exact_state() {
    let m: Arc<SyncMap<u64, u64>> = Arc::new(SyncMap::new());
    let hs: Vec<_> = (0..4u64)
        .map(|t| {
            let m = m.clone();
            thread::spawn(move || {
                let mut model = Std::new();
                let mut rng = Rng(t + 100);
                for i in 0..30_000u64 {
                    let k = t * 1_000_000 + rng.below(500);
                    match rng.below(6) {
                        0 | 1 => {
                            m.store(k, i);
                            model.insert(k, i);
                        }
                        2 => {
                            assert_eq!(m.load_and_delete(&k), model.remove(&k));
                        }
                        3 => {
                            let exp = model.get(&k).copied();
                            if let Some(e) = exp {
                                assert!(m.compare_and_swap(&k, &e, i));
                                model.insert(k, i);
                            } else {
                                assert!(!m.compare_and_swap(&k, &i, i));
                            }
                        }
                        4 => assert_eq!(m.swap(k, i), model.insert(k, i)),
                        _ => assert_eq!(m.load(&k), model.get(&k).copied()),
                    }
                }
                model
            })
        })
        .collect();
    let mut all = Std::new();
    for h in hs {
        all.extend(h.join().unwrap());
    }
    check_vs(&m, &all);
    m.check_invariants();
}

/// Values are dropped exactly once and nothing leaks (Tracked values).
#[test]
fn values_dropped_exactly_once() {
    const POOL: usize = 20;
    {
        let m: Arc<SyncMap<u64, Tracked>> = Arc::new(SyncMap::new());
        let hs: Vec<_> = (0..2u64)
            .map(|t| {
                let m = m.clone();
                thread::spawn(move || {
                    let mut rng = Rng(t);
                    for i in 0..30_000u64 {
                        let k = rng.below(200);
                        match rng.below(8) {
                            0 => m.store(k, Tracked::new(POOL, i)),
                            1 => drop(m.swap(k, Tracked::new(POOL, i))),
                            2 => drop(m.load_or_store(k, Tracked::new(POOL, i))),
                            3 => drop(m.load_and_delete(&k)),
                            4 => m.delete(&k),
                            5 => {
                                if let Some(v) = m.load(&k) {
                                    m.compare_and_swap(&k, &v, Tracked::new(POOL, i));
                                }
                            }
                            6 => {
                                if let Some(v) = m.load(&k) {
                                    m.compare_and_delete(&k, &v);
                                }
                            }
                            _ => {
                                if i % 500 == 0 {
                                    m.clear();
                                } else {
                                    m.load(&(k + 10_000));
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let n = m.len() as i64;
        assert_eq!(live(POOL), n, "live values vs map len");
    }
    assert_eq!(live(POOL), 0);
}

/// Panicking Hash/Eq/Clone leaves invariants intact.
#[test]
fn panics_in_user_code() {
    quiet_panics();
    for at in 0..300i64 {
        let m: SyncMap<PKey, u64> = SyncMap::new();
        let mut s = Std::new();
        let mut rng = Rng(at as u64);
        for step in 0..300u64 {
            if step == 50 {
                match at % 3 {
                    0 => HASH_PANIC_IN.with(|c| c.set(at / 3)),
                    1 => EQ_PANIC_IN.with(|c| c.set(at / 3)),
                    _ => CLONE_PANIC_IN.with(|c| c.set(at / 3)),
                }
            }
            let k = rng.below(40);
            let col = k % 2 == 0;
            let key = || if col { PKey::col(k) } else { PKey::new(k) };
            let op = rng.below(5);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match op {
                0 => {
                    m.store(key(), step);
                    Some(step)
                }
                1 => {
                    m.delete(&key());
                    None
                }
                2 => Some(m.load_or_store(key(), step).0),
                3 => m.load(&key()),
                _ => {
                    m.load(&PKey::new(999));
                    m.load(&key())
                }
            }));
            let was_faulty = HASH_PANIC_IN.with(|c| c.get()) >= 0
                || EQ_PANIC_IN.with(|c| c.get()) >= 0
                || CLONE_PANIC_IN.with(|c| c.get()) >= 0;
            let _ = was_faulty;
            if let Ok(res) = r {
                match op {
                    0 => {
                        s.insert(k, step);
                    }
                    1 => {
                        s.remove(&k);
                    }
                    2 => {
                        let e = *s.entry(k).or_insert(step);
                        assert_eq!(res, Some(e));
                    }
                    _ => {
                        let saved = save_faults();
                        assert_eq!(res, s.get(&k).copied(), "at {at} step {step}");
                        restore_faults(saved);
                    }
                }
            } else {
                // the failed op: we don't know whether it took effect; resync model from map
                reset_faults();
                s.remove(&k);
                if let Some(v) = m.load(&key()) {
                    s.insert(k, v);
                }
            }
            let saved = save_faults();
            m.check_invariants();
            restore_faults(saved);
        }
        reset_faults();
        for k in 0..40u64 {
            let key = if k % 2 == 0 { PKey::col(k) } else { PKey::new(k) };
            assert_eq!(m.load(&key), s.get(&k).copied(), "at {at} key {k}");
        }
    }
}
