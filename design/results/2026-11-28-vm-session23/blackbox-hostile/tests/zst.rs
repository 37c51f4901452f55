//! 1. Zero-sized keys and values, with counting `Drop`, in both maps, concurrently too.
use bbhostile::*;
use hmap::concurrent::Operation;
use hmap::{ConcurrentHashMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

const SLOTS: usize = 16;
static CREATED: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static DROPPED: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

/// A zero-sized value; slot `N` counts its creations and drops (one slot per test).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Z<const N: usize>;
impl<const N: usize> Z<N> {
    fn new() -> Self {
        CREATED[N].fetch_add(1, SeqCst);
        Z
    }
}
impl<const N: usize> Clone for Z<N> {
    fn clone(&self) -> Self {
        Z::new()
    }
}
impl<const N: usize> Drop for Z<N> {
    fn drop(&mut self) {
        DROPPED[N].fetch_add(1, SeqCst);
    }
}
fn exact<const N: usize>(what: &str) {
    assert_eq!(CREATED[N].load(SeqCst), DROPPED[N].load(SeqCst), "{what}: created vs dropped ZSTs");
}
fn alive<const N: usize>() -> usize {
    CREATED[N].load(SeqCst) - DROPPED[N].load(SeqCst)
}

#[test]
fn seq_unit_key_zst_value() {
    {
        let mut m: HashMap<(), Z<0>> = HashMap::new();
        assert!(m.insert((), Z::new()).is_none());
        assert!(m.insert((), Z::new()).is_some()); // returned value dropped here
        assert_eq!(m.len(), 1);
        assert_eq!(alive::<0>(), 1);
        assert!(m.get(&()).is_some());
        assert!(m.remove(&()).is_some());
        assert_eq!(m.len(), 0);
        assert_eq!(alive::<0>(), 0);
        for _ in 0..100 {
            m.insert((), Z::new());
        }
        assert_eq!(m.len(), 1);
        assert_eq!(m.iter().count(), 1);
        m.check_invariants();
        let c = m.clone();
        assert_eq!(c.len(), 1);
        assert_eq!(alive::<0>(), 2);
        drop(c);
        m.clear();
        assert_eq!(m.len(), 0);
        m.insert((), Z::new());
        m.retain(|_, _| false);
        assert!(m.is_empty());
        m.insert((), Z::new());
    }
    exact::<0>("seq unit key");
}

#[test]
fn seq_many_keys_zst_values_through_growth() {
    {
        let mut m: HashMap<u64, Z<1>> = HashMap::new();
        for i in 0..5000u64 {
            m.insert(i, Z::new());
        }
        assert_eq!(m.len(), 5000);
        m.check_invariants();
        for i in (0..5000u64).step_by(3) {
            assert!(m.remove(&i).is_some());
        }
        m.check_invariants();
        assert_eq!(m.len(), m.iter().count());
        assert_eq!(alive::<1>(), m.len());
        let d: Vec<_> = m.drain().take(10).collect();
        assert_eq!(d.len(), 10);
        drop(d);
        assert!(m.is_empty());
        for i in 0..300u64 {
            m.insert(i, Z::new());
        }
        let v: Vec<_> = m.into_values().take(5).collect();
        drop(v);
    }
    exact::<1>("seq many keys");
}

#[test]
fn seq_zst_key_and_value_unit_unit() {
    let mut m: HashMap<(), ()> = HashMap::new();
    let mut s: std::collections::HashMap<(), ()> = Default::default();
    for i in 0..50 {
        assert_eq!(m.insert((), ()), s.insert((), ()), "insert {i}");
        if i % 3 == 0 {
            assert_eq!(m.remove(&()), s.remove(&()));
        }
        assert_eq!(m.len(), s.len());
    }
    *m.entry(()).or_insert(()) = ();
    assert_eq!(m.len(), 1);
    m.check_invariants();
    assert_eq!(format!("{m:?}"), "{(): ()}");
}

#[test]
fn conc_unit_key_zst_value_contention() {
    watchdog(30, || {
        {
            let m: ConcurrentHashMap<(), Z<2>> = ConcurrentHashMap::new();
            std::thread::scope(|s| {
                for t in 0..4u64 {
                    let m = &m;
                    s.spawn(move || {
                        let mut r = Rng(t + 1);
                        for _ in 0..20_000 {
                            let p = m.pin();
                            match r.below(8) {
                                0 => {
                                    p.insert((), Z::new());
                                }
                                1 => {
                                    p.remove(&());
                                }
                                2 => {
                                    p.update(&(), |_| Z::new());
                                }
                                3 => {
                                    p.get_or_insert_with((), Z::new);
                                }
                                4 => {
                                    p.compute((), |v| match v {
                                        Some(_) => Operation::Remove,
                                        None => Operation::Set(Z::new()),
                                    });
                                }
                                5 => {
                                    let _ = m.get_cloned(&());
                                }
                                6 => {
                                    assert!(p.iter().count() <= 1);
                                }
                                _ => {
                                    let _ = m.insert((), Z::new());
                                }
                            }
                        }
                    });
                }
            });
            let n = m.pin().iter().count();
            assert!(n <= 1);
            assert_eq!(m.len(), n);
            m.check_invariants();
        }
        exact::<2>("concurrent unit key");
    });
}

#[test]
fn conc_many_keys_zst_values_growth() {
    watchdog(30, || {
        {
            let m: ConcurrentHashMap<u64, Z<3>> = ConcurrentHashMap::new();
            std::thread::scope(|s| {
                for t in 0..3u64 {
                    let m = &m;
                    s.spawn(move || {
                        for i in 0..20_000u64 {
                            let k = t * 100_000 + i;
                            let p = m.pin();
                            p.insert(k, Z::new());
                            if i % 2 == 0 {
                                assert!(p.remove(&k).is_some());
                            }
                        }
                    });
                }
                // a reader
                let m = &m;
                s.spawn(move || {
                    for _ in 0..50 {
                        let p = m.pin();
                        let n = p.iter().count();
                        assert!(n <= 30_000);
                    }
                });
            });
            assert_eq!(m.len(), 30_000);
            assert_eq!(m.pin().iter().count(), 30_000);
            m.check_invariants();
            m.clear();
            assert_eq!(m.len(), 0);
            for i in 0..1000u64 {
                m.insert(i, Z::new());
            }
        }
        exact::<3>("concurrent zst values");
    });
}

/// A zero-sized key type with counting drop.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ZK;
static ZK_CREATED: AtomicUsize = AtomicUsize::new(0);
static ZK_DROPPED: AtomicUsize = AtomicUsize::new(0);
impl ZK {
    fn new() -> Self {
        ZK_CREATED.fetch_add(1, SeqCst);
        ZK
    }
}
impl Clone for ZK {
    fn clone(&self) -> Self {
        ZK::new()
    }
}
impl Drop for ZK {
    fn drop(&mut self) {
        ZK_DROPPED.fetch_add(1, SeqCst);
    }
}

#[test]
fn conc_zst_key_and_zst_value_with_forced_growths() {
    watchdog(30, || {
        {
            let m: ConcurrentHashMap<ZK, Z<4>> = ConcurrentHashMap::new();
            std::thread::scope(|s| {
                for t in 0..3 {
                    let m = &m;
                    s.spawn(move || {
                        let probe = ZK::new();
                        for i in 0..5000 {
                            let p = m.pin();
                            p.insert(ZK::new(), Z::new());
                            if (i + t) % 7 == 0 {
                                m.force_growth(i % 2 == 0);
                            }
                            if i % 5 == 0 {
                                p.remove(&probe);
                            }
                            let _ = p.update(&probe, |_| Z::new());
                            let _ = p.get_key_value(&probe);
                        }
                    });
                }
            });
            let n = m.pin().iter().count();
            assert!(n <= 1);
            assert_eq!(m.len(), n);
            m.check_invariants();
        }
        exact::<4>("zst key + zst value");
        assert_eq!(ZK_CREATED.load(SeqCst), ZK_DROPPED.load(SeqCst), "ZK keys");
    });
}

#[test]
fn conc_unit_unit_map_debug_and_from_iter() {
    let m: ConcurrentHashMap<(), ()> = std::iter::repeat(((), ())).take(1000).collect();
    assert_eq!(m.len(), 1);
    assert_eq!(format!("{m:?}"), "{(): ()}");
    let mut m2: ConcurrentHashMap<(), ()> = ConcurrentHashMap::default();
    m2.extend(std::iter::repeat(((), ())).take(10));
    assert_eq!(m2.len(), 1);
    assert_eq!(m2.update(&(), |_| ()), Some(()));
    assert_eq!(m2.remove(&()), Some(()));
    assert!(m2.is_empty());
    m2.check_invariants();
}
