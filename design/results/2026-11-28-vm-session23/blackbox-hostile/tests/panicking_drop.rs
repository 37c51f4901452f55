//! 6. A value `Drop` that panics (ids divisible by N), hit via insert-replace, remove, clear,
//! retain and dropping the map, with concurrent threads. Docs (concurrent module, "Unwinding"):
//! a panicking `Drop` of a retired value is contained and counted (`drop_panics`); one of a value
//! still in the map when it drops does not stop that drop: every other value is dropped, then
//! the first panic reaches the caller. Sequential map (crate docs): entries are never dropped
//! twice; some may leak when a `Drop` panics during `clear`.
use bbhostile::*;
use hmap::concurrent::Operation;
use hmap::{ConcurrentHashMap, HashMap};
use std::sync::atomic::Ordering::SeqCst;

fn conc_run(every: u64, threads: u64, keys: u64, ops: usize, seed: u64, with_clear: bool) {
    quiet_hostile_panics();
    let tr = Tracker::new();
    tr.panic_every.store(every, SeqCst);
    tr.panic_on.store(true, SeqCst);
    let own_drop_panics: usize;
    let escaped: Vec<String>;
    {
        let m: ConcurrentHashMap<u64, Tracked> = ConcurrentHashMap::new();
        let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|t| {
                    let (m, tr) = (&m, &tr);
                    s.spawn(move || {
                        let mut r = Rng(seed * 17 + t + 1);
                        let mut own = 0usize;
                        let mut escaped = Vec::new();
                        for i in 0..ops {
                            let k = r.below(keys);
                            let op = r.below(if with_clear { 100 } else { 99 });
                            // operations through a view: no drop panic may escape them
                            let res = catch(|| {
                                let p = m.pin();
                                match op {
                                    0..=39 => {
                                        p.insert(k, Tracked::new(tr, i as u64));
                                    }
                                    40..=59 => {
                                        p.remove(&k);
                                    }
                                    60..=74 => {
                                        p.update(&k, |v| Tracked::new(tr, v.payload + 1));
                                    }
                                    75..=84 => {
                                        p.compute(k, |v| match v {
                                            Some(_) if i % 2 == 0 => Operation::Remove,
                                            _ => Operation::Set(Tracked::new(tr, i as u64)),
                                        });
                                    }
                                    85..=92 => {
                                        p.get_or_insert_with(k, || Tracked::new(tr, 0));
                                    }
                                    93..=96 => {
                                        let _ = p.iter().count();
                                    }
                                    97 => p.flush(),
                                    98 => p.retain(|k, _| k % 5 != 0),
                                    _ => p.clear(),
                                }
                            });
                            if let Err(msg) = res {
                                escaped.push(format!("op {op}: {msg}"));
                            }
                            // map-level calls return clones, whose drop (ours) may panic
                            if i % 10 == 0 {
                                let v = m.remove(&k);
                                if catch(move || drop(v)).is_err() {
                                    own += 1;
                                }
                                let v = m.insert(k, Tracked::new(tr, 1));
                                if catch(move || drop(v)).is_err() {
                                    own += 1;
                                }
                            }
                        }
                        (own, escaped)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        own_drop_panics = results.iter().map(|r| r.0).sum();
        escaped = results.into_iter().flat_map(|r| r.1).collect();
        m.check_invariants();
        assert_eq!(m.len(), m.pin().iter().count(), "len vs iterated");
        m.pin().flush();
        let st = m.stats();
        let contained_so_far = tr.drop_panics.load(SeqCst) - own_drop_panics;
        eprintln!(
            "stats.drop_panics {} / panics in collector-run drops {} / in our own drops {} / escaped {}",
            st.drop_panics,
            contained_so_far,
            own_drop_panics,
            escaped.len()
        );
        assert!(escaped.is_empty(), "drop panics escaped view operations: {:?}", &escaped[..escaped.len().min(5)]);
        assert_eq!(st.drop_panics, contained_so_far, "drop_panics counts the contained panics");
        // Which values left in the map panic when dropped?
        let in_map_panicky = m.pin().values().filter(|v| v.id % every == 0).count();
        let before = tr.drop_panics.load(SeqCst);
        let r = catch(move || drop(m));
        let at_drop = tr.drop_panics.load(SeqCst) - before;
        eprintln!("map drop: result {:?}, panicky values in map {in_map_panicky}, panics during drop {at_drop}", r.as_ref().err());
        if in_map_panicky > 0 {
            assert!(r.is_err(), "a value's drop panicked during the map's drop, but no panic reached the caller");
        }
        if let Err(msg) = &r {
            assert!(msg.starts_with(HOSTILE), "map drop panicked with an unexpected message: {msg}");
        }
    }
    tr.assert_exact("panicking drop, concurrent");
}

#[test]
fn conc_panicking_drop_no_clear() {
    watchdog(60, || conc_run(7, 3, 2000, 15_000, 1, false));
}

#[test]
fn conc_panicking_drop_with_clear_and_retain() {
    watchdog(60, || conc_run(5, 3, 3000, 15_000, 2, true));
}

#[test]
fn conc_every_value_drop_panics() {
    watchdog(60, || conc_run(1, 2, 1000, 8000, 3, true));
}

/// Clear and retain on one thread while the others grow the map, all drops of ids % 3 panic.
#[test]
fn conc_clear_and_retain_with_panicking_drops_during_growth() {
    watchdog(60, || {
        quiet_hostile_panics();
        let tr = Tracker::new();
        tr.panic_every.store(3, SeqCst);
        tr.panic_on.store(true, SeqCst);
        {
            let m: ConcurrentHashMap<u64, Tracked> = ConcurrentHashMap::new();
            std::thread::scope(|s| {
                for t in 0..2u64 {
                    let (m, tr) = (&m, &tr);
                    s.spawn(move || {
                        for i in 0..30_000u64 {
                            let r = catch(|| {
                                m.pin().insert(t << 32 | i, Tracked::new(tr, i));
                            });
                            assert!(r.is_ok(), "insert: {r:?}");
                        }
                    });
                }
                let m = &m;
                s.spawn(move || {
                    for round in 0..40 {
                        let r = catch(|| {
                            if round % 2 == 0 {
                                m.clear()
                            } else {
                                m.retain(|k, _| k % 3 == 0)
                            }
                        });
                        assert!(r.is_ok(), "clear/retain: {r:?}");
                        std::thread::yield_now();
                    }
                });
            });
            m.check_invariants();
            assert_eq!(m.len(), m.pin().iter().count());
            tr.panic_on.store(false, SeqCst);
        }
        tr.assert_exact("clear/retain with panicking drops");
    });
}

// ------------------------------------------------------------------ sequential map

fn filled(tr: &std::sync::Arc<Tracker>, n: u64) -> HashMap<u64, Tracked> {
    let mut m = HashMap::new();
    for k in 0..n {
        m.insert(k, Tracked::new(tr, k));
    }
    m
}

#[test]
fn seq_clear_with_panicking_drop_leaves_empty_usable_map() {
    quiet_hostile_panics();
    let tr = Tracker::new();
    tr.panic_every.store(10, SeqCst);
    let mut m = filled(&tr, 1000);
    tr.panic_on.store(true, SeqCst);
    let r = catch(|| m.clear());
    assert!(r.is_err());
    assert_eq!(m.len(), 0, "doc: leaves the map empty");
    assert_eq!(m.iter().count(), 0);
    m.check_invariants();
    tr.panic_on.store(false, SeqCst);
    for k in 0..100 {
        assert!(m.insert(k, Tracked::new(&tr, k)).is_none(), "key {k} still there after clear");
    }
    m.check_invariants();
    drop(m);
    assert_eq!(tr.double_drops(), 0);
    eprintln!("clear leaked {} values (documented)", tr.alive());
}

#[test]
fn seq_retain_with_panicking_drop_consistent() {
    quiet_hostile_panics();
    let tr = Tracker::new();
    tr.panic_every.store(7, SeqCst);
    let mut m = filled(&tr, 3000);
    tr.panic_on.store(true, SeqCst);
    let mut rounds = 0;
    loop {
        rounds += 1;
        let r = catch(|| m.retain(|k, _| k % 2 == 0));
        m.check_invariants();
        assert_eq!(m.len(), m.iter().count());
        if r.is_ok() {
            break;
        }
        assert!(rounds < 10_000);
    }
    assert!(m.keys().all(|k| k % 2 == 0));
    assert_eq!(m.len(), 1500);
    tr.panic_on.store(false, SeqCst);
    drop(m);
    tr.assert_exact("seq retain");
}

#[test]
fn seq_drop_map_with_panicking_values() {
    quiet_hostile_panics();
    let tr = Tracker::new();
    tr.panic_every.store(10, SeqCst);
    let m = filled(&tr, 1000);
    tr.panic_on.store(true, SeqCst);
    let r = catch(move || drop(m));
    assert!(r.is_err());
    assert_eq!(tr.double_drops(), 0);
    // Not documented either way (the crate docs name only `clear` as leaking); std's HashMap
    // leaks the rest the same way (see `std_comparison_of_leaks_on_panicking_drop`).
    eprintln!("seq map drop: {} of {} values never dropped", tr.alive(), tr.created());
    assert!(tr.dropped() >= 1);
}

#[test]
fn seq_replace_remove_drain_into_iter_with_panicking_drop() {
    quiet_hostile_panics();
    let tr = Tracker::new();
    tr.panic_every.store(4, SeqCst);
    tr.panic_on.store(true, SeqCst);
    let mut m: HashMap<u64, Tracked> = HashMap::new();
    let mut s: std::collections::HashMap<u64, u64> = Default::default();
    let mut r = Rng(9);
    for i in 0..20_000u64 {
        let k = r.below(1000);
        match r.below(4) {
            0 | 1 => {
                let old = m.insert(k, Tracked::new(&tr, i));
                assert_eq!(old.as_ref().map(|v| v.payload), s.insert(k, i));
                let _ = catch(move || drop(old));
            }
            2 => {
                let old = m.remove(&k);
                assert_eq!(old.as_ref().map(|v| v.payload), s.remove(&k));
                let _ = catch(move || drop(old));
            }
            _ => {
                if let hmap::hash_map::Entry::Occupied(o) = m.entry(k) {
                    let mut o = o;
                    let old = o.insert(Tracked::new(&tr, i));
                    s.insert(k, i);
                    let _ = catch(move || drop(old));
                }
            }
        }
    }
    m.check_invariants();
    assert_eq!(m.len(), s.len());
    // drain half, drop the rest of the drain (panicky)
    let r1 = catch(|| {
        let mut d = m.drain();
        for _ in 0..(s.len() / 2) {
            let v = d.next();
            let _ = catch(move || drop(v));
        }
    });
    eprintln!("drain drop result: {:?}", r1.as_ref().err());
    assert_eq!(m.len(), 0, "drain empties the map even when a drop panics");
    m.check_invariants();
    let m2 = filled(&tr, 500);
    let r2 = catch(move || {
        let mut it = m2.into_iter();
        let first = it.next();
        let _ = catch(move || drop(first));
        drop(it);
    });
    eprintln!("into_iter drop result: {:?}", r2.as_ref().err());
    drop(m);
    assert_eq!(tr.double_drops(), 0);
    eprintln!("values never dropped: {} of {}", tr.alive(), tr.created());
}

/// The same panicking-drop scenarios on `std::collections::HashMap`, for comparison: prints how
/// many values std leaks in each (std makes no promise either way).
#[test]
fn std_comparison_of_leaks_on_panicking_drop() {
    quiet_hostile_panics();
    type Std = std::collections::HashMap<u64, Tracked>;
    let fill = |tr: &std::sync::Arc<Tracker>| -> Std { (0..1000).map(|k| (k, Tracked::new(tr, k))).collect() };
    let mk = || {
        let tr = Tracker::new();
        tr.panic_every.store(10, SeqCst);
        tr
    };
    let tr = mk();
    let m = fill(&tr);
    tr.panic_on.store(true, SeqCst);
    let _ = catch(move || drop(m));
    eprintln!("std drop: {} of {} leaked, double {}", tr.alive(), tr.created(), tr.double_drops());
    let tr = mk();
    let mut m = fill(&tr);
    tr.panic_on.store(true, SeqCst);
    let _ = catch(|| m.clear());
    eprintln!("std clear: {} of {} leaked, len after {}", tr.alive(), tr.created(), m.len());
    let tr = mk();
    let mut m = fill(&tr);
    tr.panic_on.store(true, SeqCst);
    let _ = catch(|| drop(m.drain()));
    eprintln!("std drain drop: {} of {} leaked, len after {}", tr.alive(), tr.created(), m.len());
    drop(m);
    let tr = mk();
    let m = fill(&tr);
    tr.panic_on.store(true, SeqCst);
    let _ = catch(move || drop(m.into_iter()));
    eprintln!("std into_iter drop: {} of {} leaked", tr.alive(), tr.created());

    // hmap, same scenarios
    let tr = mk();
    let m: HashMap<u64, Tracked> = (0..1000).map(|k| (k, Tracked::new(&tr, k))).collect();
    tr.panic_on.store(true, SeqCst);
    let _ = catch(|| drop(m));
    eprintln!("hmap drop: {} of {} leaked, double {}", tr.alive(), tr.created(), tr.double_drops());
    let tr = mk();
    let mut m: HashMap<u64, Tracked> = (0..1000).map(|k| (k, Tracked::new(&tr, k))).collect();
    tr.panic_on.store(true, SeqCst);
    let _ = catch(|| drop(m.drain()));
    eprintln!("hmap drain drop: {} of {} leaked, len after {}", tr.alive(), tr.created(), m.len());
    drop(m);
    let tr = mk();
    let m: HashMap<u64, Tracked> = (0..1000).map(|k| (k, Tracked::new(&tr, k))).collect();
    tr.panic_on.store(true, SeqCst);
    let _ = catch(move || drop(m.into_iter()));
    eprintln!("hmap into_iter drop: {} of {} leaked", tr.alive(), tr.created());
}
