//! 8. `clear` (and `retain`) racing inserts, gets, iteration and other writers during growth.
//! Afterwards: len == iterated, invariants hold, exact drop counts after the map drops; and
//! what the docs promise of a non-atomic clear/retain: every entry present for the whole call
//! is removed (clear) or tested (retain).
use bbhostile::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

#[test]
fn clear_races_inserts_gets_iter_retain_during_growth() {
    watchdog(60, || {
        let tr = Tracker::new();
        {
            let m: ConcurrentHashMap<u64, Tracked> = ConcurrentHashMap::new();
            let stop = AtomicBool::new(false);
            std::thread::scope(|s| {
                for t in 0..2u64 {
                    let (m, tr) = (&m, &tr);
                    s.spawn(move || {
                        let mut r = Rng(t + 1);
                        for i in 0..40_000u64 {
                            let k = t << 32 | r.below(20_000);
                            let p = m.pin();
                            if i % 4 == 3 {
                                p.remove(&k);
                            } else {
                                p.insert(k, Tracked::new(tr, k));
                            }
                            if let Some(v) = p.get(&k) {
                                assert_eq!(v.payload, k);
                            }
                        }
                    });
                }
                let (m, stop) = (&m, &stop);
                s.spawn(move || {
                    let mut round = 0u64;
                    while !stop.load(SeqCst) {
                        round += 1;
                        match round % 4 {
                            0 => m.clear(),
                            1 => m.retain(|k, v| {
                                assert_eq!(*k, v.payload);
                                k % 3 != 0
                            }),
                            2 => {
                                let p = m.pin();
                                for (k, v) in p.iter() {
                                    assert_eq!(*k, v.payload);
                                }
                            }
                            _ => {
                                let _ = m.len();
                                let _ = m.stats();
                            }
                        }
                        std::thread::yield_now();
                    }
                });
                // stop the clearer once the writers have run for a while
                std::thread::sleep(std::time::Duration::from_millis(300));
                stop.store(true, SeqCst);
            });
            m.check_invariants();
            assert_eq!(m.len(), m.pin().iter().count(), "len vs iterated");
            m.clear();
            assert_eq!(m.len(), 0);
            assert_eq!(m.pin().iter().count(), 0);
            m.check_invariants();
        }
        tr.assert_exact("clear races");
    });
}

/// Entries present for the whole `clear` are all gone afterwards, even with concurrent inserts
/// of other keys forcing growths.
#[test]
fn clear_removes_every_entry_present_for_the_whole_call() {
    watchdog(60, || {
        let tr = Tracker::new();
        {
            let m: ConcurrentHashMap<u64, Tracked> = ConcurrentHashMap::new();
            for round in 0..30u64 {
                for k in 0..2000u64 {
                    m.pin().insert(k, Tracked::new(&tr, k));
                }
                let go = AtomicBool::new(false);
                std::thread::scope(|s| {
                    let (m, tr, go) = (&m, &tr, &go);
                    s.spawn(move || {
                        go.store(true, SeqCst);
                        for i in 0..3000u64 {
                            let k = 1 << 40 | round << 20 | i;
                            m.pin().insert(k, Tracked::new(tr, k));
                        }
                    });
                    while !go.load(SeqCst) {
                        std::hint::spin_loop();
                    }
                    m.clear();
                    let p = m.pin();
                    for k in 0..2000u64 {
                        assert!(p.get(&k).is_none(), "round {round}: key {k} survived clear");
                    }
                });
                assert_eq!(m.len(), m.pin().iter().count());
                m.check_invariants();
            }
        }
        tr.assert_exact("clear whole-call");
    });
}

/// `retain` tests every entry present for the whole call, with concurrent inserts of other keys.
#[test]
fn retain_tests_every_entry_present_for_the_whole_call() {
    watchdog(60, || {
        let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        for round in 0..30u64 {
            m.clear();
            for k in 0..3000u64 {
                m.pin().insert(k, k);
            }
            std::thread::scope(|s| {
                let m = &m;
                s.spawn(move || {
                    for i in 0..4000u64 {
                        let k = 1 << 40 | round << 20 | i;
                        m.pin().insert(k, k);
                    }
                });
                m.retain(|k, _| *k >= 1 << 40 || k % 2 == 0);
                let p = m.pin();
                for k in 0..3000u64 {
                    assert_eq!(p.get(&k).is_some(), k % 2 == 0, "round {round}: key {k}");
                }
            });
            assert_eq!(m.len(), m.pin().iter().count());
            m.check_invariants();
        }
    });
}

/// Two threads clearing while two insert and one reads: no hang, exact counts.
#[test]
fn concurrent_clears() {
    watchdog(60, || {
        let tr = Tracker::new();
        {
            let m: ConcurrentHashMap<u64, Tracked> = ConcurrentHashMap::with_capacity(10);
            std::thread::scope(|s| {
                for t in 0..2u64 {
                    let (m, tr) = (&m, &tr);
                    s.spawn(move || {
                        for i in 0..20_000u64 {
                            m.pin().insert(t << 32 | i, Tracked::new(tr, i));
                            if i % 1000 == 0 {
                                m.force_growth(i % 2000 == 0);
                            }
                        }
                    });
                }
                for _ in 0..2 {
                    let m = &m;
                    s.spawn(move || {
                        for _ in 0..200 {
                            m.clear();
                            std::thread::yield_now();
                        }
                    });
                }
            });
            m.check_invariants();
            assert_eq!(m.len(), m.pin().iter().count());
        }
        tr.assert_exact("concurrent clears");
    });
}
