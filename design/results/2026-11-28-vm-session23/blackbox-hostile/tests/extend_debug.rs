//! 9. `Extend` / `FromIterator` with an iterator that panics midway (both maps); `Debug` of a
//! large concurrent map while other threads grow it.
use bbhostile::*;
use hmap::{ConcurrentHashMap, HashMap};

fn panicking_iter(tr: &std::sync::Arc<Tracker>, at: u64) -> impl Iterator<Item = (u64, Tracked)> + '_ {
    (0..10_000u64).map(move |k| {
        if k == at {
            panic!("{HOSTILE} iterator panics at item {k}");
        }
        (k, Tracked::new(tr, k))
    })
}

#[test]
fn conc_from_iter_panicking_midway_drops_everything_once() {
    quiet_hostile_panics();
    let tr = Tracker::new();
    let r = catch(|| {
        let m: ConcurrentHashMap<u64, Tracked> = panicking_iter(&tr, 5000).collect();
        m
    });
    assert!(r.is_err());
    assert_eq!(tr.created(), 5000);
    tr.assert_exact("FromIterator panicking midway");
}

#[test]
fn conc_extend_panicking_midway_keeps_the_prefix() {
    quiet_hostile_panics();
    let tr = Tracker::new();
    {
        let mut m: ConcurrentHashMap<u64, Tracked> = ConcurrentHashMap::new();
        let r = catch(|| m.extend(panicking_iter(&tr, 3000)));
        assert!(r.is_err());
        assert_eq!(m.len(), 3000);
        m.check_invariants();
        let mut mm = &m;
        let r = catch(|| mm.extend(panicking_iter(&tr, 7000)));
        assert!(r.is_err());
        assert_eq!(m.len(), 7000);
        assert_eq!(m.pin().iter().count(), 7000);
        let p = m.pin();
        for k in 0..7000u64 {
            assert_eq!(p.get(&k).map(|v| v.payload), Some(k));
        }
        drop(p);
        m.check_invariants();
    }
    tr.assert_exact("Extend panicking midway");
}

#[test]
fn conc_extend_from_several_threads_through_shared_ref() {
    watchdog(30, || {
        let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        std::thread::scope(|s| {
            for t in 0..3u64 {
                let m = &m;
                s.spawn(move || {
                    let mut mm = m;
                    mm.extend((0..10_000u64).map(|i| (t << 32 | i, i)));
                });
            }
        });
        assert_eq!(m.len(), 30_000);
        m.check_invariants();
    });
}

#[test]
fn seq_from_iter_and_extend_panicking_midway() {
    quiet_hostile_panics();
    let tr = Tracker::new();
    let r = catch(|| panicking_iter(&tr, 4000).collect::<HashMap<u64, Tracked>>());
    assert!(r.is_err());
    tr.assert_exact("seq FromIterator");
    let tr = Tracker::new();
    {
        let mut m: HashMap<u64, Tracked> = HashMap::new();
        let r = catch(|| m.extend(panicking_iter(&tr, 2500)));
        assert!(r.is_err());
        assert_eq!(m.len(), 2500);
        assert_eq!(m.iter().count(), 2500);
        m.check_invariants();
        for k in 0..2500u64 {
            assert_eq!(m.get(&k).map(|v| v.payload), Some(k));
        }
    }
    tr.assert_exact("seq Extend");
}

#[test]
fn conc_debug_of_large_map_while_growing() {
    watchdog(60, || {
        let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        for i in 0..5000u64 {
            m.insert(i, i * 2);
        }
        std::thread::scope(|s| {
            for t in 1..3u64 {
                let m = &m;
                s.spawn(move || {
                    for i in 0..40_000u64 {
                        let k = t << 32 | i;
                        m.pin().insert(k, k * 2);
                        if i % 3 == 0 {
                            m.pin().remove(&(t << 32 | (i / 2)));
                        }
                    }
                });
            }
            let m = &m;
            s.spawn(move || {
                for _ in 0..20 {
                    let s = format!("{m:?}");
                    assert!(s.starts_with('{') && s.ends_with('}'), "{}", &s[..50.min(s.len())]);
                    let body = &s[1..s.len() - 1];
                    let mut n = 0;
                    let mut seen = std::collections::HashSet::new();
                    if !body.is_empty() {
                        for e in body.split(", ") {
                            let (k, v) = e.split_once(": ").expect("k: v");
                            let k: u64 = k.parse().unwrap();
                            let v: u64 = v.parse().unwrap();
                            assert_eq!(v, k * 2, "entry {e}");
                            if k < 5000 {
                                // never touched by the writers: must appear exactly once
                                assert!(seen.insert(k), "key {k} twice in Debug output");
                            }
                            n += 1;
                        }
                    }
                    assert!(seen.len() == 5000, "stable keys in Debug: {} of 5000", seen.len());
                    assert!(n >= 5000);
                    let p = m.pin();
                    let _ = format!("{p:?}");
                }
            });
        });
        m.check_invariants();
    });
}
