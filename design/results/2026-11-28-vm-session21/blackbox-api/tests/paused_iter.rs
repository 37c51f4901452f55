//! Iterators paused (kept alive, partially consumed) while other threads grow the map by several
//! doublings and same-size growths, churn other keys, then resumed: each stable key exactly once.
use bb4::*;
use hmap::ConcurrentHashMap;
use std::collections::HashMap as Std;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Barrier;

const STABLE_TAG: u64 = 1 << 40;

fn check_yield(yielded: &[(u64, u64)], stable: u64, ctx: &str) {
    let mut cnt: Std<u64, usize> = Std::new();
    for &(k, v) in yielded {
        if k & STABLE_TAG != 0 {
            let i = k & !STABLE_TAG;
            assert!(i < stable, "{ctx}: bogus stable key {k}");
            assert_eq!(v, i * 7 + 1, "{ctx}: stable value wrong for {i}");
            *cnt.entry(i).or_default() += 1;
        } else {
            assert_eq!(v, k ^ 0xabc, "{ctx}: churn value wrong");
        }
    }
    let mut missing = vec![]; let mut dup = vec![];
    for i in 0..stable { match cnt.get(&i).copied().unwrap_or(0) { 0 => missing.push(i), 1 => {}, n => dup.push((i, n)) } }
    assert!(missing.is_empty() && dup.is_empty(), "{ctx}: missing {} {:?}.. dup {} {:?}..", missing.len(), &missing[..missing.len().min(8)], dup.len(), &dup[..dup.len().min(8)]);
    // no churn key yielded twice either? churn keys may be removed+reinserted: allowed twice.
}

fn paused<S: BuildHasher + Sync>(m: ConcurrentHashMap<u64, u64, S>, stable: u64, grow_to: u64, pause_at: &[usize], forced: bool, ctx: &str) {
    for i in 0..stable { m.pin().insert(i | STABLE_TAG, i * 7 + 1); }
    let p = m.pin();
    let mut its: Vec<_> = pause_at.iter().map(|_| p.iter()).collect();
    let mut ys: Vec<Vec<(u64, u64)>> = vec![vec![]; its.len()];
    for (j, it) in its.iter_mut().enumerate() {
        for _ in 0..pause_at[j] { if let Some((k, v)) = it.next() { ys[j].push((*k, *v)); } }
    }
    let log0 = m.log2_buckets();
    // other threads grow the map while our iterators sit paused
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let m = &m;
            s.spawn(move || {
                let mut r = Rng::new(t + 5);
                for i in 0..grow_to {
                    let k = (i * 2 + t) % (1 << 39);
                    let p = m.pin();
                    p.insert(k, k ^ 0xabc);
                    if r.below(3) == 0 { p.remove(&(r.below(i + 1) * 2 + t)); }
                    if forced && i % 5000 == 0 { m.force_growth(r.below(2) == 0); }
                }
            });
        }
    });
    let log1 = m.log2_buckets();
    for (j, it) in its.into_iter().enumerate() {
        for (k, v) in it { ys[j].push((*k, *v)); }
        check_yield(&ys[j], stable, &format!("{ctx}: iter {j} paused at {} log2 {log0}->{log1} growing {}", pause_at[j], m.is_growing()));
    }
}

#[test]
fn paused_iterators_across_doublings() {
    for (round, &stable) in [10u64, 100, 1000, 20_000].iter().enumerate() {
        let pauses: Vec<usize> = vec![0, 1, (stable / 2) as usize, stable as usize - 1, stable as usize, stable as usize + 5];
        paused(ConcurrentHashMap::new(), stable, stable * 8 + 2000, &pauses, false, &format!("default r{round}"));
        paused(ConcurrentHashMap::with_capacity(stable as usize), stable, stable * 8 + 2000, &pauses, true, &format!("forced r{round}"));
        paused(ConcurrentHashMap::with_hasher(MaskHB(0xff00_0000_0000_00ff)), stable.min(2000), stable.min(2000) * 8, &pauses, true, &format!("mask r{round}"));
    }
}

/// Paused mid-growth: start iterating while a growth is in progress (forced, nothing evacuated yet).
#[test]
fn paused_iter_started_mid_growth() {
    for round in 0..40u64 {
        let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        let stable = 50 + round * 37;
        for i in 0..stable { m.pin().insert(i | STABLE_TAG, i * 7 + 1); }
        m.force_growth(round % 2 == 0);
        let p = m.pin();
        let mut it = p.iter();
        let mut y = vec![];
        for _ in 0..(round as usize * 3) { if let Some((k, v)) = it.next() { y.push((*k, *v)); } }
        std::thread::scope(|s| {
            let m = &m;
            s.spawn(move || { for i in 0..stable * 20 { m.pin().insert(i, i ^ 0xabc); if i % 97 == 0 { m.force_growth(i % 2 == 0); } } });
        });
        for (k, v) in it { y.push((*k, *v)); }
        check_yield(&y, stable, &format!("mid-growth round {round}"));
    }
}

/// Many threads iterate continuously (each iteration interleaved with sleeps) while writers grow.
#[test]
fn many_concurrent_slow_iterators() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let stable = 3000u64;
    for i in 0..stable { m.pin().insert(i | STABLE_TAG, i * 7 + 1); }
    let stop = AtomicBool::new(false);
    let iters = AtomicUsize::new(0);
    let bar = Barrier::new(7);
    std::thread::scope(|s| {
        for t in 0..6u64 {
            let (m, stop, iters, bar) = (&m, &stop, &iters, &bar);
            s.spawn(move || {
                bar.wait();
                let mut n = 0;
                while !stop.load(Relaxed) || n < 2 {
                    let p = m.pin();
                    let mut y = vec![];
                    for (c, (k, v)) in p.iter().enumerate() {
                        y.push((*k, *v));
                        if c % (500 + t as usize * 100) == 0 { std::thread::yield_now(); }
                    }
                    check_yield(&y, stable, &format!("iter thread {t} #{n}"));
                    n += 1;
                }
                iters.fetch_add(n, Relaxed);
            });
        }
        let (m, stop, bar) = (&m, &stop, &bar);
        s.spawn(move || {
            bar.wait();
            let mut r = Rng::new(3);
            for i in 0..400_000u64 {
                let p = m.pin();
                p.insert(i, i ^ 0xabc);
                if r.below(2) == 0 { p.remove(&r.below(i + 1)); }
                if i % 50_000 == 0 { m.force_growth(true); }
            }
            stop.store(true, Relaxed);
        });
    });
    eprintln!("iterations {} growths {}", iters.load(Relaxed), m.stats().growths);
}
