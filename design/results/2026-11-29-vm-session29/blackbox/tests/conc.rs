mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Barrier};
use std::thread;

const W: usize = 16;
#[derive(Clone, Copy, Debug, PartialEq)]
struct Wide([u64; W]);
fn wide(k: u64, ver: u64) -> Wide {
    let mut a = [0u64; W];
    for (i, x) in a.iter_mut().enumerate() { *x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ver ^ (i as u64).rotate_left(17); }
    a[0] = k; a[1] = ver;
    Wide(a)
}
fn check_wide(k: u64, w: &Wide) {
    assert_eq!(w.0[0], k, "torn/misattributed value: key {k} read {w:?}");
    assert_eq!(*w, wide(k, w.0[1]), "torn value for key {k}");
}

fn torn_reads_with<S: std::hash::BuildHasher + Send + Sync + Clone + 'static>(s: S, keys: u64, iters: u64) {
    let m = Arc::new(ConcurrentHashMap::<u64, Wide, S>::with_hasher(s));
    let stop = Arc::new(AtomicBool::new(false));
    let mut hs = vec![];
    for t in 0..2u64 {
        let m = m.clone();
        hs.push(thread::spawn(move || {
            let mut ver = t;
            for i in 0..iters {
                let k = (i.wrapping_mul(7919) + t) % keys;
                ver += 2;
                match i % 5 {
                    0 | 1 => { if let Some(old) = m.pin().insert(k, wide(k, ver)) { check_wide(k, old) } }
                    2 => { if let Some(old) = m.pin().remove(&k) { check_wide(k, old) } }
                    3 => { if let Some(new) = m.pin().update(&k, |o| { check_wide(k, o); wide(k, o.0[1] + 1) }) { check_wide(k, new) } }
                    _ => { let v = m.pin(); let r = v.get_or_insert_with(k, || wide(k, ver)); check_wide(k, r); }
                }
            }
        }));
    }
    for _ in 0..2 {
        let m = m.clone();
        let stop = stop.clone();
        hs.push(thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Relaxed) {
                let v = m.pin();
                for k in 0..keys.min(64) {
                    let k = (k * 31 + n) % keys;
                    if let Some(w) = v.get(&k) { check_wide(k, w) }
                    if let Some((kk, w)) = v.get_key_value(&k) { assert_eq!(*kk, k); check_wide(k, w) }
                }
                if n % 16 == 0 {
                    for (k, w) in v.iter() { check_wide(*k, w) }
                }
                n += 1;
            }
        }));
    }
    for h in hs.drain(..2) { h.join().unwrap(); }
    stop.store(true, Relaxed);
    for h in hs { h.join().unwrap(); }
    let n = m.pin().iter().inspect(|(k, w)| check_wide(**k, w)).count();
    assert_eq!(n, m.len());
}

#[test]
fn no_torn_reads_default() { with_timeout(60, "torn", || torn_reads_with(hmap::DefaultHashBuilder::default(), 20_000, 200_000)); }
#[test]
fn no_torn_reads_small_keyspace() { with_timeout(60, "torn", || torn_reads_with(hmap::DefaultHashBuilder::default(), 50, 200_000)); }
#[test]
fn no_torn_reads_constant_hash() { with_timeout(60, "torn", || torn_reads_with(ConstState, 200, 30_000)); }
#[test]
fn no_torn_reads_identity_hash() { with_timeout(60, "torn", || torn_reads_with(IdState, 5000, 200_000)); }

#[test]
fn no_lost_updates() {
    with_timeout(60, "lost", || {
        for keys in [1u64, 7, 1000] {
            let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
            for k in 0..keys { m.insert(k, 0); }
            let n = 8; let per = 20_000u64;
            let b = Arc::new(Barrier::new(n));
            let hs: Vec<_> = (0..n).map(|t| { let m = m.clone(); let b = b.clone(); thread::spawn(move || {
                b.wait();
                for i in 0..per {
                    let k = (i + t as u64) % keys;
                    if i % 2 == 0 { assert!(m.update(&k, |v| v + 1).is_some()); }
                    else { assert!(m.pin().update(&k, |v| v + 1).is_some()); }
                    // also insert/remove churn on other keys to force growth
                    if i % 4 == 0 { m.insert(1_000_000 + t as u64 * per + i, 0); }
                }
            })}).collect();
            for h in hs { h.join().unwrap(); }
            let total: u64 = (0..keys).map(|k| m.get_cloned(&k).unwrap()).sum();
            assert_eq!(total, n as u64 * per, "lost updates with {keys} keys");
            assert_eq!(m.len() as u64, keys + n as u64 * per / 4);
        }
    });
}

#[test]
fn no_lost_updates_compute_and_collisions() {
    with_timeout(60, "lost2", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64, ConstState>::with_hasher(ConstState));
        let n = 4; let per = 5_000u64;
        let hs: Vec<_> = (0..n).map(|_| { let m = m.clone(); thread::spawn(move || {
            let v = m.pin();
            for i in 0..per {
                let k = i % 5;
                v.compute(k, |c| hmap::concurrent::Operation::Set(c.map_or(1, |c| c + 1)));
            }
        })}).collect();
        for h in hs { h.join().unwrap(); }
        let total: u64 = (0..5).map(|k| m.get_cloned(&k).unwrap()).sum();
        assert_eq!(total, n as u64 * per);
    });
}

#[test]
fn disjoint_keys_exact_final_state() {
    with_timeout(60, "disjoint", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let n = 16u64; let per = 10_000u64;
        let hs: Vec<_> = (0..n).map(|t| { let m = m.clone(); thread::spawn(move || {
            for i in 0..per {
                let k = t * per + i;
                assert_eq!(m.insert(k, i), None);
            }
            for i in (0..per).step_by(3) {
                let k = t * per + i;
                assert_eq!(m.remove(&k), Some(i));
            }
            for i in (1..per).step_by(3) {
                let k = t * per + i;
                assert_eq!(m.update(&k, |v| v * 10), Some(i * 10));
            }
            for i in (0..per).step_by(3) {
                let k = t * per + i;
                assert_eq!(m.get_or_insert_with(k, || i + 7), i + 7);
            }
        })}).collect();
        for h in hs { h.join().unwrap(); }
        assert_eq!(m.len() as u64, n * per);
        let v = m.pin();
        for t in 0..n { for i in 0..per {
            let want = if i % 3 == 0 { i + 7 } else if i % 3 == 1 { i * 10 } else { i };
            assert_eq!(v.get(&(t * per + i)), Some(&want), "key {}", t * per + i);
        }}
        assert_eq!(v.iter().count() as u64, n * per);
    });
}

#[test]
fn len_exact_when_quiescent_with_many_threads() {
    with_timeout(60, "len", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let expected = Arc::new(AtomicUsize::new(0));
        for round in 0..5u64 {
            let hs: Vec<_> = (0..40u64).map(|t| { let m = m.clone(); let e = expected.clone(); thread::spawn(move || {
                for i in 0..500u64 {
                    let k = (round * 40 + t) * 1000 + i;
                    if m.insert(k, i).is_none() { e.fetch_add(1, SeqCst); }
                    if i % 5 == 0 && m.remove(&(k / 2)).is_some() { e.fetch_sub(1, SeqCst); }
                }
            })}).collect();
            for h in hs { h.join().unwrap(); }
            assert_eq!(m.len(), expected.load(SeqCst));
            assert_eq!(m.pin().iter().count(), expected.load(SeqCst));
            assert_eq!(m.stats().len, expected.load(SeqCst));
        }
    });
}

#[test]
fn get_or_insert_with_concurrent_agreement() {
    with_timeout(60, "goiw", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let n = 8; let keys = 20_000u64;
        let b = Arc::new(Barrier::new(n));
        let hs: Vec<_> = (0..n).map(|t| { let m = m.clone(); let calls = calls.clone(); let b = b.clone(); thread::spawn(move || {
            b.wait();
            let mut out = Vec::with_capacity(keys as usize);
            for k in 0..keys {
                let v = if k % 2 == 0 { m.get_or_insert_with(k, || { calls.fetch_add(1, SeqCst); k * 100 + t as u64 }) }
                    else { *m.pin().get_or_insert_with(k, || { calls.fetch_add(1, SeqCst); k * 100 + t as u64 }) };
                out.push(v);
            }
            out
        })}).collect();
        let outs: Vec<Vec<u64>> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(calls.load(SeqCst), keys as usize, "closure ran more than once per key");
        for k in 0..keys as usize {
            let v0 = outs[0][k];
            for o in &outs { assert_eq!(o[k], v0, "callers disagree on key {k}"); }
            assert_eq!(m.get_cloned(&(k as u64)), Some(v0));
        }
    });
}

/// Iteration during growth: stable keys present & unchanged for whole iteration exactly once.
fn iter_during_growth<S: std::hash::BuildHasher + Default + Send + Sync + 'static>(stable: u64, rounds: usize) {
    let mut growth_seen = 0;
    let mut iters = 0;
    for _round in 0..rounds {
        let m = Arc::new(ConcurrentHashMap::<u64, u64, S>::with_hasher(S::default()));
        for k in 0..stable { m.insert(k, k * 3); }
        let done = Arc::new(AtomicBool::new(false));
        let writer = { let m = m.clone(); let done = done.clone(); thread::spawn(move || {
            for i in 0..stable * 20 {
                let k = 1u64 << 40 | i;
                m.insert(k, i);
                if i % 3 == 0 { m.remove(&(1u64 << 40 | (i / 2))); }
                if i % 20_000 == 19_999 { m.retain(|k, _| *k < (1 << 40) || k % 7 != 0); }
            }
            done.store(true, SeqCst);
        })};
        while !done.load(SeqCst) {
            let v = m.pin();
            if m.is_growing() { growth_seen += 1; }
            iters += 1;
            let mut seen = vec![0u8; stable as usize];
            for (k, val) in v.iter() {
                if *k < stable {
                    assert_eq!(*val, k * 3);
                    seen[*k as usize] += 1;
                } else {
                    assert!(*k >> 40 == 1, "garbage key {k}");
                }
            }
            for (k, c) in seen.iter().enumerate() {
                assert_eq!(*c, 1, "stable key {k} yielded {c} times");
            }
        }
        writer.join().unwrap();
    }
    eprintln!("growth seen at start of {growth_seen}/{iters} iterations");
}

#[test]
fn iteration_during_growth_default() { with_timeout(100, "iter", || iter_during_growth::<hmap::DefaultHashBuilder>(2000, 20)); }
#[test]
fn iteration_during_growth_idhash() { with_timeout(100, "iter", || iter_during_growth::<IdState>(2000, 20)); }

/// Iterate while a concurrent writer forces growth on a small map repeatedly
#[test]
fn iteration_during_forced_growths() {
    with_timeout(100, "iter2", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        for k in 0..200 { m.insert(k, k); }
        let stop = Arc::new(AtomicBool::new(false));
        let w = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Relaxed) {
                m.force_growth(i % 2 == 0);
                m.insert(1000 + (i % 100), i); // write to drive evacuation
                m.remove(&(1000 + ((i + 50) % 100)));
                i += 1;
            }
        })};
        for _ in 0..3000 {
            let v = m.pin();
            let mut seen = [0u8; 200];
            for (k, val) in v.iter() { if *k < 200 { assert_eq!(k, val); seen[*k as usize] += 1; } }
            assert!(seen.iter().all(|&c| c == 1), "{:?}", seen.iter().enumerate().filter(|(_, c)| **c != 1).collect::<Vec<_>>());
            // gets during growth
            for k in 0..200 { assert_eq!(v.get(&k), Some(&k)); }
        }
        stop.store(true, Relaxed);
        w.join().unwrap();
    });
}

#[test]
fn stats_coherent_under_concurrency() {
    with_timeout(60, "stats", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let stop = Arc::new(AtomicBool::new(false));
        let ws: Vec<_> = (0..3).map(|t| { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Relaxed) && i < 2_000_000 { m.insert(t << 32 | i, i); i += 1; }
        })}).collect();
        let mut growing_seen = 0;
        let mut prev_growths = 0;
        for _ in 0..200_000 {
            let s = m.stats();
            assert!(s.old_evacuated <= s.old_buckets || !s.growing || s.old_buckets == 0, "{s:?}");
            // fields read one by one: old_evacuated may be from another growth; but in a single growth <= total.
            assert!(s.growths >= prev_growths); prev_growths = s.growths;
            if s.growing { growing_seen += 1; }
            assert!(s.evacuation_chunk <= 8);
            assert!(s.handle_slots >= 64);
            let g = m.is_growing();
            let _ = g;
        }
        stop.store(true, Relaxed);
        for w in ws { w.join().unwrap(); }
        let s = m.stats();
        assert_eq!(s.len, m.pin().iter().count());
        assert_eq!(s.claims_in_flight, 0);
        eprintln!("growing seen {growing_seen}, growths {}", s.growths);
    });
}

#[test]
fn arc_shared_many_threads_and_exiting_threads() {
    with_timeout(100, "many", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        for round in 0..20u64 {
            let hs: Vec<_> = (0..16u64).map(|t| { let m = m.clone(); thread::spawn(move || {
                if t % 4 == 0 { return; } // exits holding nothing, never pinned
                if t % 4 == 1 { let _v = m.pin(); return; } // pins and exits without op
                for i in 0..300 { let k = (round * 16 + t) * 1000 + i; m.insert(k, k); }
                for i in 0..300 { let k = (round * 16 + t) * 1000 + i; assert_eq!(m.update(&k, |v| v + 1), Some(k + 1)); }
            })}).collect();
            for h in hs { h.join().unwrap(); }
        }
        let expected = 20 * 8 * 300;
        assert_eq!(m.len(), expected);
        assert_eq!(m.pin().iter().count(), expected);
        let s = m.stats();
        assert_eq!(s.temporary_pins, 0);
        eprintln!("{s:?}");
    });
}

#[test]
fn many_simultaneous_threads_grow_handle_slots() {
    with_timeout(100, "slots", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let n = 200;
        let b = Arc::new(Barrier::new(n));
        let hs: Vec<_> = (0..n as u64).map(|t| { let m = m.clone(); let b = b.clone(); thread::spawn(move || {
            let v = m.pin();
            v.insert(t, t);
            b.wait(); // all pinned at once
            for i in 0..50 { v.insert((t + 1) << 20 | i, i); }
            drop(v);
            b.wait();
        })}).collect();
        for h in hs { h.join().unwrap(); }
        assert_eq!(m.len(), n * 51);
        assert_eq!(m.pin().iter().count(), n * 51);
        let s = m.stats();
        assert!(s.handle_slots >= n, "{s:?}");
    });
}

#[test]
fn map_dropped_in_other_thread() {
    let l = Ledger::new(1 << 20);
    let m = ConcurrentHashMap::<u64, Tracked>::new();
    thread::scope(|s| {
        for t in 0..4u64 { let m = &m; let l = &l; s.spawn(move || {
            for i in 0..2000 { m.pin().insert(t * 10_000 + i % 500, Tracked::new(i, l)); }
        }); }
    });
    assert_eq!(m.len(), 2000);
    let l2 = l.clone();
    thread::spawn(move || { drop(m); }).join().unwrap();
    l2.check_all_dropped_once();
    assert_eq!(l2.live(), 0);
}
