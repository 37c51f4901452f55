//! Per-key monotonic reads during growths: a writer raises each key's counter (insert / update);
//! a reader's successive gets of one key must never go backwards (each get returns a value the
//! key had at some instant during the call, and calls are ordered). Also happens-before
//! visibility: a key published via a Release flag is seen by a reader that Acquires the flag,
//! and a key removed before the flag is not seen.
use bb4::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

#[test]
fn monotonic_reads_during_growth() {
    for round in 0..6u64 {
        let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::with_hasher(hmap::DefaultHashBuilder::default());
        let hot = 64u64;
        for k in 0..hot { m.pin().insert(k, 0); }
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let (m, stop) = (&m, &stop);
            s.spawn(move || {
                let mut r = Rng::new(round);
                for i in 1..400_000u64 {
                    let k = i % hot;
                    let p = m.pin();
                    if r.below(2) == 0 { p.insert(k, i); } else { p.update(&k, |_| i); }
                    // filler to force doublings and same-size growths
                    p.insert(1000 + (i * 31) % 200_000, i);
                    if i % 3 == 0 { p.remove(&(1000 + (i * 17) % 200_000)); }
                    if i % 25_000 == 0 { drop(p); m.force_growth(round % 2 == 0); }
                }
                stop.store(true, Relaxed);
            });
            s.spawn(move || {
                let mut last = vec![0u64; hot as usize];
                let mut n = 0u64;
                while !stop.load(Relaxed) {
                    let k = n % hot; n += 1;
                    let v = *m.pin().get(&k).expect("hot key vanished");
                    assert!(v >= last[k as usize], "round {round}: key {k} went back {} -> {v}", last[k as usize]);
                    last[k as usize] = v;
                    // also within one long-lived view
                    if n % 1000 == 0 {
                        let p = m.pin();
                        for _ in 0..200 { let v = *p.get(&k).unwrap(); assert!(v >= last[k as usize], "pinned: key {k} went back"); last[k as usize] = v; }
                        for (kk, vv) in p.iter() { if *kk < hot { let _ = vv; } }
                    }
                }
            });
        });
        m.check_invariants();
    }
}

#[test]
fn happens_before_visibility_during_growth() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let published = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (m, published, stop) = (&m, &published, &stop);
        s.spawn(move || {
            for i in 1..600_000u64 {
                let p = m.pin();
                p.insert(i, i * 3);
                if i > 10 { assert_eq!(p.remove(&(i - 10)).copied(), Some((i - 10) * 3)); }
                published.store(i, Release);
                if i % 40_000 == 0 { drop(p); m.force_growth(i % 80_000 == 0); }
            }
            stop.store(true, Relaxed);
        });
        s.spawn(move || {
            while !stop.load(Relaxed) {
                let i = published.load(Acquire);
                if i == 0 { continue; }
                let p = m.pin();
                let got = p.get(&i).copied();
                if got != Some(i * 3) { let now = published.load(Acquire); assert!(got.is_none() && now >= i + 9, "published key {i} not visible: {got:?}, published now {now}"); }
                if i > 10 { assert_eq!(p.get(&(i - 10)), None, "key {} removed before publish still visible", i - 10); }
                assert!(p.len() <= 12, "len {} > 12", p.len());
            }
        });
    });
}
