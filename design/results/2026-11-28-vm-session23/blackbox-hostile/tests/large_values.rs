//! 2. Large values (`[u64; 512]`, 4 KiB) under concurrent writers and readers across growths:
//! a reader must never see a mixed pattern.
use bbhostile::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

const W: usize = 512;
type Big = [u64; W];

fn pattern(k: u64, version: u64) -> Big {
    let mut a = [0u64; W];
    for (i, x) in a.iter_mut().enumerate() {
        // every word differs, so a torn copy of two versions is detectable anywhere
        *x = (k << 40) ^ (version << 12) ^ (i as u64);
    }
    a
}

fn check(k: u64, a: &Big) -> u64 {
    let version = ((a[0] ^ (k << 40)) >> 12) & ((1 << 28) - 1);
    for (i, x) in a.iter().enumerate() {
        let want = (k << 40) ^ (version << 12) ^ (i as u64);
        assert_eq!(*x, want, "MIXED PATTERN for key {k} at word {i}: {x:#x} vs {want:#x}");
    }
    version
}

#[test]
fn large_values_never_torn_across_growths() {
    watchdog(60, || {
        let m: Arc<ConcurrentHashMap<u64, Big>> = Arc::new(ConcurrentHashMap::new());
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let mut hs = Vec::new();
        // two writers: insert fresh keys (forcing many growths), and overwrite/update old ones
        for t in 0..2u64 {
            let m = m.clone();
            hs.push(std::thread::spawn(move || {
                let mut r = Rng(77 + t);
                for round in 0..6000u64 {
                    let k = if t == 0 { round } else { r.below(round.max(1).min(6000)) };
                    let p = m.pin();
                    match r.below(4) {
                        0 | 1 => {
                            p.insert(k, pattern(k, round));
                        }
                        2 => {
                            p.update(&k, |old| {
                                let v = check(k, old);
                                pattern(k, (v + 1) & ((1 << 28) - 1))
                            });
                        }
                        _ => {
                            if t == 1 {
                                p.remove(&k);
                            } else {
                                p.get_or_insert_with(k, || pattern(k, 1));
                            }
                        }
                    }
                }
            }));
        }
        // readers: get and iter
        for t in 0..2u64 {
            let m = m.clone();
            let stop = stop.clone();
            let reads = reads.clone();
            hs.push(std::thread::spawn(move || {
                let mut r = Rng(999 + t);
                while !stop.load(SeqCst) {
                    let p = m.pin();
                    if t == 0 {
                        for _ in 0..200 {
                            let k = r.below(6000);
                            if let Some(v) = p.get(&k) {
                                check(k, v);
                                reads.fetch_add(1, SeqCst);
                            }
                            if let Some(v) = m.get_cloned(&k) {
                                check(k, &v);
                            }
                        }
                    } else {
                        for (k, v) in p.iter().take(500) {
                            check(*k, v);
                            reads.fetch_add(1, SeqCst);
                        }
                    }
                }
            }));
        }
        for h in hs.drain(..2) {
            h.join().unwrap();
        }
        stop.store(true, SeqCst);
        for h in hs {
            h.join().unwrap();
        }
        assert!(reads.load(SeqCst) > 0);
        let p = m.pin();
        let mut n = 0;
        for (k, v) in p.iter() {
            check(*k, v);
            n += 1;
        }
        drop(p);
        assert_eq!(n, m.len());
        m.check_invariants();
        assert!(m.stats().growths >= 5, "expected several growths: {:?}", m.stats());
    });
}

/// A 4 KiB value that also counts its drops.
#[derive(Debug)]
struct BigTracked {
    data: Big,
    _t: Tracked,
}
impl Clone for BigTracked {
    fn clone(&self) -> Self {
        BigTracked { data: self.data, _t: self._t.clone() }
    }
}

#[test]
fn large_tracked_values_dropped_exactly_once() {
    watchdog(60, || {
        let tr = Tracker::new();
        {
            let m: ConcurrentHashMap<u64, BigTracked> = ConcurrentHashMap::new();
            std::thread::scope(|s| {
                for t in 0..3u64 {
                    let (m, tr) = (&m, &tr);
                    s.spawn(move || {
                        let mut r = Rng(5 + t);
                        for i in 0..4000u64 {
                            let k = r.below(3000);
                            let p = m.pin();
                            match i % 5 {
                                0 | 1 => {
                                    if let Some(old) = p.insert(k, BigTracked { data: pattern(k, i), _t: Tracked::new(tr, k) }) {
                                        check(k, &old.data);
                                    }
                                }
                                2 => {
                                    if let Some(old) = p.remove(&k) {
                                        check(k, &old.data);
                                    }
                                }
                                3 => {
                                    p.update(&k, |old| {
                                        let v = check(k, &old.data);
                                        BigTracked { data: pattern(k, v + 1), _t: Tracked::new(tr, k) }
                                    });
                                }
                                _ => {
                                    if let Some(v) = m.get_cloned(&k) {
                                        check(k, &v.data);
                                    }
                                }
                            }
                        }
                    });
                }
            });
            m.check_invariants();
            assert_eq!(m.len(), m.pin().iter().count());
        }
        tr.assert_exact("large tracked values");
    });
}
