//! 4. A `Hash` that panics on every Nth call (shared counter), hit while several threads write
//! during growths. Each thread owns disjoint keys and keeps an exact model: an operation that
//! panicked must have changed nothing (crate docs: "nothing was changed yet"), one that returned
//! must match the model. Afterwards: invariants, len == iterated, all model keys findable, and
//! every value dropped exactly once after the map drops.
use bbhostile::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;

#[test]
fn conc_panicking_hash_during_growth_every_37() {
    watchdog(60, || {
        let cfg = Hostility::leak();
        cfg.hash_panic_every.store(37, SeqCst);
        assert!(conc_model_run(cfg, 3, 4000, 20_000, 1) > 0);
    });
}

#[test]
fn conc_panicking_hash_during_growth_every_5() {
    watchdog(60, || {
        let cfg = Hostility::leak();
        cfg.hash_panic_every.store(5, SeqCst);
        assert!(conc_model_run(cfg, 3, 3000, 20_000, 2) > 0);
    });
}

#[test]
fn conc_panicking_hash_many_seeds() {
    watchdog(60, || {
        for seed in 10..16 {
            let cfg = Hostility::leak();
            cfg.hash_panic_every.store(11 + seed, SeqCst);
            assert!(conc_model_run(cfg, 2, 1500, 8000, seed) > 0);
        }
    });
}

#[test]
fn seq_panicking_hash_every_7() {
    watchdog(60, || {
        let cfg = Hostility::leak();
        cfg.hash_panic_every.store(7, SeqCst);
        assert!(seq_model_run(cfg, 1) > 0);
    });
}

#[test]
fn seq_panicking_hash_every_3() {
    watchdog(60, || {
        let cfg = Hostility::leak();
        cfg.hash_panic_every.store(3, SeqCst);
        assert!(seq_model_run(cfg, 2) > 0);
    });
}

#[test]
fn seq_panicking_hash_every_101() {
    watchdog(60, || {
        let cfg = Hostility::leak();
        cfg.hash_panic_every.store(101, SeqCst);
        assert!(seq_model_run(cfg, 3) > 0);
    });
}

/// `FromIterator`/`Extend` with keys whose Hash panics midway: what was inserted stays.
#[test]
fn conc_extend_with_panicking_hash() {
    watchdog(30, || {
        quiet_hostile_panics();
        let cfg = Hostility::leak();
        let tr = Tracker::new();
        {
            let m: ConcurrentHashMap<HKey, Tracked> = ConcurrentHashMap::new();
            cfg.hash_panic_every.store(500, SeqCst);
            cfg.hash_calls.store(0, SeqCst);
            cfg.arm(true);
            let tr2 = tr.clone();
            let r = catch(|| {
                let mut mm = &m;
                mm.extend((0..10_000u64).map(|k| (HKey::new(k, cfg), Tracked::new(&tr2, k))));
            });
            cfg.arm(false);
            assert!(r.is_err());
            m.check_invariants();
            assert_eq!(m.len(), m.pin().iter().count());
            assert!(m.len() < 10_000 && m.len() > 0, "len {}", m.len());
            let _ = Arc::strong_count(&tr);
        }
        tr.assert_exact("extend with panicking hash");
    });
}

/// Operations that do not take a key but may evacuate (and so rehash) during a growth: clear,
/// retain, iter, len, Debug, with a Hash that panics every 3rd call. Retry until each succeeds;
/// the map must stay consistent throughout.
#[test]
fn conc_keyless_operations_during_growth_with_panicking_hash() {
    watchdog(60, || {
        let cfg = Hostility::leak();
        cfg.hash_panic_every.store(3, SeqCst);
        let tr = Tracker::new();
        let mut user_panics = 0;
        {
            let m: ConcurrentHashMap<HKey, Tracked> = ConcurrentHashMap::new();
            for round in 0..30u64 {
                for i in 0..500u64 {
                    m.pin().insert(HKey::new(round << 20 | i, cfg), Tracked::new(&tr, i));
                }
                m.force_growth(round % 2 == 0);
                cfg.arm(true);
                for attempt in 0..10_000 {
                    let r = catch(|| match round % 4 {
                        0 => m.clear(),
                        1 => m.retain(|k, _| k.k % 2 == 0),
                        2 => {
                            let _ = m.pin().iter().count();
                        }
                        _ => {
                            let _ = format!("{m:?}");
                        }
                    });
                    match r {
                        Ok(()) => break,
                        Err(msg) => {
                            assert!(msg.starts_with(HOSTILE), "{msg}");
                            user_panics += 1;
                        }
                    }
                    assert!(attempt < 9_999, "never succeeded");
                }
                cfg.arm(false);
                m.check_invariants();
                let n = m.pin().iter().count();
                assert_eq!(m.len(), n, "round {round}");
                if round % 4 == 0 {
                    // clear succeeded: entries present for the whole call are gone
                    assert_eq!(n, 0, "round {round}: clear left entries");
                }
                if round % 4 == 1 {
                    assert!(m.pin().keys().all(|k| k.k % 2 == 0), "retain kept an odd key");
                }
            }
        }
        eprintln!("user Hash panics inside keyless operations: {user_panics}");
        tr.assert_exact("keyless ops with panicking hash");
    });
}

/// A key whose `Clone` panics, used by `update` (which clones the key) under contention.
#[test]
fn conc_update_with_panicking_key_clone() {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static CLONES: AtomicU64 = AtomicU64::new(0);
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct CK(u64);
    impl Clone for CK {
        fn clone(&self) -> Self {
            if CLONES.fetch_add(1, Relaxed) % 4 == 0 {
                panic!("{HOSTILE} key clone panics");
            }
            CK(self.0)
        }
    }
    watchdog(60, || {
        let tr = Tracker::new();
        {
            let m: ConcurrentHashMap<CK, Tracked> = ConcurrentHashMap::new();
            for k in 0..1000 {
                m.pin().insert(CK(k), Tracked::new(&tr, 0));
            }
            let ok: u64 = std::thread::scope(|s| {
                let hs: Vec<_> = (0..3u64)
                    .map(|t| {
                        let (m, tr) = (&m, &tr);
                        s.spawn(move || {
                            let mut ok = 0;
                            for i in 0..5000u64 {
                                let k = CK((i * 7 + t) % 1000);
                                if catch(|| m.pin().update(&k, |v| Tracked::new(tr, v.payload + 1)).is_some()).is_ok() {
                                    ok += 1;
                                }
                                if i % 50 == 0 {
                                    let _ = catch(|| {
                                        m.pin().insert(CK(10_000 + i + t * 100_000), Tracked::new(tr, 0));
                                    });
                                }
                            }
                            ok
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            m.check_invariants();
            let total: u64 = m.pin().iter().filter(|(k, _)| k.0 < 1000).map(|(_, v)| v.payload).sum();
            assert_eq!(total, ok, "successful updates vs increments stored");
            assert_eq!(m.len(), m.pin().iter().count());
        }
        tr.assert_exact("update with panicking key clone");
    });
}
