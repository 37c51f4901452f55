//! 9. ZST / large values, String keys with &str lookups; API semantics; retain/clear under
//! concurrency; panic safety; many threads (handle slot growth).
mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

#[test]
fn zst_values_concurrent() {
    let map: ConcurrentHashMap<u64, ()> = ConcurrentHashMap::new();
    let models: Vec<HashSet<u64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4u64)
            .map(|t| {
                let map = &map;
                s.spawn(move || {
                    let mut rng = Rng::new(t);
                    let mut m = HashSet::new();
                    for _ in 0..100_000 {
                        let k = t * 10_000 + rng.below(10_000);
                        let v = map.pin();
                        match rng.below(4) {
                            0 | 1 => assert_eq!(v.insert(k, ()).is_some(), !m.insert(k)),
                            2 => assert_eq!(v.remove(&k).is_some(), m.remove(&k)),
                            _ => assert_eq!(v.update(&k, |_| ()).is_some(), m.contains(&k)),
                        }
                    }
                    m
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: HashSet<u64> = models.into_iter().flatten().collect();
    assert_eq!(map.len(), all.len());
    let got: HashSet<u64> = map.pin().keys().copied().collect();
    assert_eq!(got, all);
}

static ZST_LIVE: AtomicUsize = AtomicUsize::new(0);
static ZST_MADE: AtomicUsize = AtomicUsize::new(0);
struct Z;
impl Z {
    fn new() -> Z {
        ZST_MADE.fetch_add(1, SeqCst);
        ZST_LIVE.fetch_add(1, SeqCst);
        Z
    }
}
impl Drop for Z {
    fn drop(&mut self) {
        ZST_LIVE.fetch_sub(1, SeqCst);
    }
}

#[test]
fn zst_with_drop_all_dropped() {
    let map: ConcurrentHashMap<u64, Z> = ConcurrentHashMap::new();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let map = &map;
            s.spawn(move || {
                let mut rng = Rng::new(t + 50);
                for _ in 0..50_000 {
                    let k = rng.below(5000);
                    let v = map.pin();
                    match rng.below(4) {
                        0 | 1 => {
                            v.insert(k, Z::new());
                        }
                        2 => {
                            v.remove(&k);
                        }
                        _ => {
                            v.update(&k, |_| Z::new());
                        }
                    }
                }
            });
        }
    });
    map.retain(|k, _| k % 2 == 0);
    drop(map);
    assert_eq!(ZST_LIVE.load(SeqCst), 0, "made {}", ZST_MADE.load(SeqCst));
}

#[test]
fn large_values_concurrent() {
    fn mk(k: u64, ver: u8) -> [u8; 256] {
        let mut a = [0u8; 256];
        for (i, b) in a.iter_mut().enumerate() {
            *b = (k as u8).wrapping_mul(31).wrapping_add(i as u8) ^ ver;
        }
        a[0] = ver;
        a
    }
    fn ok(k: u64, a: &[u8; 256]) {
        assert_eq!(*a, mk(k, a[0]), "torn large value for key {k}");
    }
    let map: ConcurrentHashMap<u64, [u8; 256]> = ConcurrentHashMap::new();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut ws = vec![];
        for t in 0..3u64 {
            let map = &map;
            ws.push(s.spawn(move || {
                let mut rng = Rng::new(t);
                for i in 0..40_000u64 {
                    let k = rng.below(20_000);
                    let v = map.pin();
                    match rng.below(3) {
                        0 => {
                            if let Some(o) = v.insert(k, mk(k, i as u8)) {
                                ok(k, o);
                            }
                        }
                        1 => {
                            if let Some(o) = v.remove(&k) {
                                ok(k, o);
                            }
                        }
                        _ => {
                            if let Some(n) = v.update(&k, |o| {
                                ok(k, o);
                                mk(k, o[0].wrapping_add(1))
                            }) {
                                ok(k, n);
                            }
                        }
                    }
                }
            }));
        }
        for t in 0..2u64 {
            let (map, stop) = (&map, &stop);
            s.spawn(move || {
                let mut rng = Rng::new(t + 9);
                while !stop.load(SeqCst) {
                    let v = map.pin();
                    for _ in 0..100 {
                        let k = rng.below(20_000);
                        if let Some(a) = v.get(&k) {
                            ok(k, a);
                        }
                    }
                    if rng.below(50) == 0 {
                        for (k, a) in v.iter() {
                            ok(*k, a);
                        }
                    }
                }
            });
        }
        for w in ws {
            w.join().unwrap();
        }
        stop.store(true, SeqCst);
    });
    assert_eq!(map.pin().iter().count(), map.len());
}

#[test]
fn string_keys_borrowed_lookup_concurrent() {
    let map: ConcurrentHashMap<String, String> = ConcurrentHashMap::new();
    let models: Vec<HashMap<String, String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4u64)
            .map(|t| {
                let map = &map;
                s.spawn(move || {
                    let mut rng = Rng::new(t + 3);
                    let mut m: HashMap<String, String> = HashMap::new();
                    for i in 0..60_000u64 {
                        let key = format!("t{t}-key-{}", rng.below(8000));
                        let k: &str = &key;
                        let v = map.pin();
                        match rng.below(6) {
                            0 | 1 => {
                                let val = format!("{k}={i}");
                                assert_eq!(v.insert(key.clone(), val.clone()).cloned(), m.insert(key.clone(), val));
                            }
                            2 => assert_eq!(v.remove(k).cloned(), m.remove(k)),
                            3 => {
                                let got = v.update(k, |o| format!("{o}+")).cloned();
                                let exp = m.get_mut(k).map(|o| {
                                    o.push('+');
                                    o.clone()
                                });
                                assert_eq!(got, exp);
                            }
                            4 => {
                                assert_eq!(v.get(k), m.get(k));
                                assert_eq!(v.contains_key(k), m.contains_key(k));
                                if let Some((kk, _)) = v.get_key_value(k) {
                                    assert_eq!(kk, k);
                                }
                            }
                            _ => {
                                let got = v.get_or_insert_with(key.clone(), || format!("{k}=goi")).clone();
                                let exp = m.entry(key.clone()).or_insert_with(|| format!("{k}=goi")).clone();
                                assert_eq!(got, exp);
                            }
                        }
                    }
                    m
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: HashMap<String, String> = models.into_iter().flatten().collect();
    assert_eq!(map.len(), all.len());
    let v = map.pin();
    for (k, val) in &all {
        assert_eq!(v.get(k.as_str()), Some(val));
    }
    let got: HashMap<String, String> = v.iter().map(|(a, b)| (a.clone(), b.clone())).collect();
    assert_eq!(got, all);
}

#[test]
fn api_semantics_single_thread() {
    let map: ConcurrentHashMap<u64, u64> = Default::default();
    assert!(map.is_empty());
    assert_eq!(map.len(), 0);
    assert_eq!(format!("{map:?}"), "{}");
    let v = map.pin();
    assert_eq!(v.get(&1), None);
    assert_eq!(v.remove(&1), None);
    assert_eq!(v.update(&1, |x| x + 1), None);
    assert!(!v.contains_key(&1), "update on absent key must not insert");
    assert_eq!(v.insert(1, 10), None);
    assert_eq!(v.insert(1, 11), Some(&10));
    assert_eq!(v.update(&1, |x| x * 2), Some(&22));
    assert_eq!(v.get(&1), Some(&22));
    assert_eq!(*v.get_or_insert_with(1, || panic!("must not run")), 22);
    assert_eq!(*v.get_or_insert(2, 5), 5);
    assert_eq!(*v.get_or_insert(2, 6), 5);
    assert_eq!(v.len(), 2);
    assert_eq!(format!("{:?}", map.pin().get_key_value(&2)), "Some((2, 5))");
    let dbg = format!("{map:?}");
    assert!(dbg == "{1: 22, 2: 5}" || dbg == "{2: 5, 1: 22}", "{dbg}");
    assert_eq!(v.remove(&1), Some(&22));
    assert_eq!(v.len(), 1);
    drop(v);
    map.clear();
    assert!(map.is_empty());
    // FromIterator / Extend
    let m2: ConcurrentHashMap<u64, u64> = (0..1000).map(|i| (i % 100, i)).collect();
    assert_eq!(m2.len(), 100);
    assert_eq!(m2.pin().get(&7), Some(&907));
    let mut m3: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::with_capacity(10);
    m3.extend([(1, 1), (2, 2), (1, 3)]);
    assert_eq!(m3.len(), 2);
    assert_eq!(m3.pin().get(&1), Some(&3));
    let m4: ConcurrentHashMap<u64, u64, FewBuild> = (0..500).map(|i| (i, i)).collect();
    assert_eq!(m4.len(), 500);
    assert!((0..500).all(|i| m4.pin().get(&i) == Some(&i)));
    let m5: ConcurrentHashMap<u64, u64, FewBuild> = ConcurrentHashMap::with_capacity_and_hasher(100, FewBuild);
    assert!(m5.is_empty());
    let _: &FewBuild = m5.hasher();
}

/// A key whose Eq looks at `k` only, carrying a tag: insert must replace the stored key too.
#[derive(Clone, Debug)]
struct Tagged {
    k: u64,
    tag: u64,
}
impl PartialEq for Tagged {
    fn eq(&self, o: &Self) -> bool {
        self.k == o.k
    }
}
impl Eq for Tagged {}
impl Hash for Tagged {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.k.hash(h)
    }
}

#[test]
fn insert_replaces_stored_key() {
    let map: ConcurrentHashMap<Tagged, u64> = ConcurrentHashMap::new();
    let v = map.pin();
    v.insert(Tagged { k: 1, tag: 1 }, 1);
    v.insert(Tagged { k: 1, tag: 2 }, 2);
    let (k, val) = v.get_key_value(&Tagged { k: 1, tag: 0 }).unwrap();
    assert_eq!((k.tag, *val), (2, 2));
    // get_or_insert on a present key keeps the stored key.
    v.get_or_insert(Tagged { k: 1, tag: 3 }, 3);
    assert_eq!(v.get_key_value(&Tagged { k: 1, tag: 0 }).unwrap().0.tag, 2);
}

#[test]
fn with_capacity_no_growth_until_capacity() {
    for cap in [1usize, 7, 8, 13, 14, 100, 1000, 6656, 10_000] {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::with_capacity(cap);
        let b0 = map.log2_buckets();
        let v = map.pin();
        for i in 0..cap as u64 {
            v.insert(i, i);
        }
        let st = map.stats();
        assert_eq!(st.growths, 0, "cap {cap}: grew before reaching capacity (B {b0} -> {})", st.log2_buckets);
        assert_eq!(st.len, cap);
    }
}

#[test]
fn stats_are_consistent() {
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    assert_eq!(map.stats().log2_buckets, 0);
    let mut saw_growing = false;
    for i in 0..100_000u64 {
        map.pin().insert(i, i);
        let st = map.stats();
        assert_eq!(st.len as u64, i + 1);
        assert_eq!(st.growing, map.is_growing());
        if st.growing {
            saw_growing = true;
            assert!(st.old_evacuated <= st.old_buckets, "{st:?}");
            assert!(st.claimed <= st.old_buckets, "{st:?}");
            assert!(st.old_buckets > 0);
            if !st.same_size_growth {
                assert_eq!(st.old_buckets * 2, 1usize << st.log2_buckets, "{st:?}");
            }
        } else {
            assert_eq!(st.old_buckets, 0);
        }
    }
    assert!(saw_growing);
    assert!(map.stats().growths >= 10);
}

#[test]
fn retain_concurrent_with_inserts() {
    for round in 0..5u64 {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        let n = 20_000u64;
        for i in 0..n {
            map.pin().insert(i, i);
        }
        let fresh_done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let (mapr, fd) = (&map, &fresh_done);
            s.spawn(move || {
                for i in 0..60_000u64 {
                    mapr.pin().insert(1_000_000 + round * 100_000 + i, i);
                }
                fd.store(true, SeqCst);
            });
            let mapr = &map;
            s.spawn(move || {
                // Disjoint updater of the odd pre-existing keys (keeps them present).
                for i in (1..n).step_by(2) {
                    mapr.pin().update(&i, |x| x + 0);
                }
            });
            // Entries present for the whole call are tested; fresh ones may or may not be.
            map.retain(|k, _| *k >= n || k % 2 == 1);
        });
        let v = map.pin();
        for i in 0..n {
            assert_eq!(v.contains_key(&i), i % 2 == 1, "round {round}: key {i} after retain");
        }
        for i in 0..60_000u64 {
            assert!(v.contains_key(&(1_000_000 + round * 100_000 + i)), "fresh key lost by retain");
        }
        assert_eq!(map.len() as u64, n / 2 + 60_000);
        assert_eq!(v.iter().count(), map.len());
    }
}

#[test]
fn clear_concurrent_with_inserts() {
    for round in 0..5u64 {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        for i in 0..20_000u64 {
            map.pin().insert(i, i);
        }
        let inserted = std::thread::scope(|s| {
            let mapr = &map;
            let h = s.spawn(move || {
                let mut v = vec![];
                for i in 0..30_000u64 {
                    let k = 1_000_000 + i;
                    mapr.pin().insert(k, i);
                    v.push(k);
                }
                v
            });
            map.clear();
            h.join().unwrap()
        });
        let v = map.pin();
        for i in 0..20_000u64 {
            assert!(!v.contains_key(&i), "round {round}: pre-existing key {i} survived clear");
        }
        let survivors = inserted.iter().filter(|k| v.contains_key(k)).count();
        assert_eq!(map.len(), survivors, "len disagrees with contents after concurrent clear");
        assert_eq!(v.iter().count(), survivors);
    }
}

#[derive(Clone, PartialEq, Eq)]
struct PanicKey(u64);
static PANIC_HASH: AtomicBool = AtomicBool::new(false);
impl Hash for PanicKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        if PANIC_HASH.load(SeqCst) && self.0 == 13 {
            panic!("hash panic");
        }
        self.0.hash(h)
    }
}

#[test]
fn panic_safety_update_closure_and_hash() {
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for i in 0..1000 {
        map.pin().insert(i, i);
    }
    for i in 0..50 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map.pin().update(&i, |_| panic!("boom"));
        }));
        assert!(r.is_err());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map.pin().get_or_insert_with(5000 + i, || panic!("boom"));
        }));
        assert!(r.is_err());
        assert!(!map.pin().contains_key(&(5000 + i)));
        // The chain must not stay locked: writes to the same key still work (from another thread too).
        assert_eq!(map.pin().get(&i), Some(&i));
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(map.pin().update(&i, |x| x + 1), Some(&(i + 1))));
        });
        assert_eq!(map.pin().insert(i, i), Some(&(i + 1)));
    }
    // Panics during growth (evacuation in progress).
    let mut k = 2000;
    for _ in 0..20 {
        while !map.is_growing() {
            map.pin().insert(k, k);
            k += 1;
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map.pin().update(&7, |_| panic!("boom during growth"));
        }));
        assert!(r.is_err());
        assert_eq!(map.pin().update(&7, |x| *x), Some(&7));
    }
    assert_eq!(map.len() as u64, 1000 + (k - 2000));

    let pm: ConcurrentHashMap<PanicKey, u64> = ConcurrentHashMap::new();
    for i in 0..100 {
        pm.pin().insert(PanicKey(i), i);
    }
    PANIC_HASH.store(true, SeqCst);
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pm.pin().insert(PanicKey(13), 0);
    }))
    .is_err());
    PANIC_HASH.store(false, SeqCst);
    assert_eq!(pm.pin().get(&PanicKey(13)), Some(&13));
    assert_eq!(pm.len(), 100);
}

#[test]
fn many_concurrent_threads_handle_slots() {
    // More threads pinning at once than the initial 64 handle slots.
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let n = 150u64;
    let bar = std::sync::Barrier::new(n as usize);
    std::thread::scope(|s| {
        for t in 0..n {
            let (map, bar) = (&map, &bar);
            s.spawn(move || {
                let v = map.pin();
                v.insert(t * 1000, t); // pin and hold
                bar.wait();
                for i in 1..300 {
                    v.insert(t * 1000 + i, t);
                }
                v.remove(&(t * 1000 + 1));
                v.update(&(t * 1000 + 2), |x| x + 1);
                bar.wait();
            });
        }
    });
    let st = map.stats();
    eprintln!("{st:?}");
    assert!(st.handle_slots >= n as usize, "{st:?}");
    assert_eq!(map.len() as u64, n * 299);
    // Slots reused by later threads; len stays exact after threads exit and new ones come.
    for wave in 0..10u64 {
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let map = &map;
                s.spawn(move || {
                    let k = 10_000_000 + wave * 100 + t;
                    map.pin().insert(k, 0);
                    map.pin().remove(&(t * 1000 + 3 + wave));
                });
            }
        });
    }
    assert_eq!(map.len() as u64, n * 299 + 80 - 80);
    let v = map.pin();
    for t in 0..n {
        assert_eq!(v.get(&(t * 1000 + 2)), Some(&(t + 1)));
        assert_eq!(v.get(&(t * 1000 + 1)), None);
    }
    assert_eq!(v.iter().count(), map.len());
}
