mod common;
use common::*;
use hmap::concurrent::{Computed, Operation};
use hmap::ConcurrentHashMap;
use std::collections::HashMap;
use std::hash::BuildHasher;

fn check_full<S: BuildHasher>(map: &ConcurrentHashMap<u64, u64, S>, model: &HashMap<u64, u64>, ctx: &str) {
    assert_eq!(map.len(), model.len(), "{ctx}: len");
    let view = map.pin();
    let mut seen = HashMap::new();
    for (k, v) in view.iter() {
        assert!(seen.insert(*k, *v).is_none(), "{ctx}: key {k} yielded twice");
    }
    assert_eq!(&seen, model, "{ctx}: contents");
}

fn run_diff<S: BuildHasher + Clone>(cap: usize, hasher: S, seed: u64, ops: usize, key_range: u64, tag: &str) -> (usize, usize) {
    let map: ConcurrentHashMap<u64, u64, S> = ConcurrentHashMap::with_capacity_and_hasher(cap, hasher);
    let mut model: HashMap<u64, u64> = HashMap::new();
    let mut rng = Rng::new(seed);
    let mut next_val = 1_000_000u64;
    let mut compute_during_growth = 0usize;
    let mut growths_seen = 0usize;
    let mut i = 0;
    while i < ops {
        // A batch of operations under one view; references collected and re-checked at the end.
        let view = map.pin();
        let mut held: Vec<(&u64, u64)> = Vec::new();
        let batch = 1 + rng.below(20) as usize;
        for _ in 0..batch {
            i += 1;
            let ctx = format!("{tag} cap={cap} seed={seed} op#{i}");
            let k = rng.below(key_range);
            let op = rng.below(100);
            next_val += 1;
            let nv = next_val;
            if op < 40 {
                if map.is_growing() {
                    compute_during_growth += 1;
                }
                let before = model.get(&k).copied();
                let choice = rng.below(3);
                let mut saw = None;
                let mut calls = 0;
                let r = view.compute(k, |cur| {
                    calls += 1;
                    saw = Some(cur.copied());
                    match choice {
                        0 => Operation::Keep,
                        1 => Operation::Set(nv),
                        _ => Operation::Remove,
                    }
                });
                assert_eq!(calls, 1, "{ctx}");
                assert_eq!(saw, Some(before), "{ctx}: closure saw wrong value");
                match (choice, before) {
                    (0, b) => {
                        assert_eq!(r, Computed::Unchanged(b.as_ref()), "{ctx}");
                    }
                    (1, None) => {
                        assert_eq!(r, Computed::Inserted(&nv), "{ctx}");
                        model.insert(k, nv);
                    }
                    (1, Some(o)) => {
                        assert_eq!(r, Computed::Updated { old: &o, new: &nv }, "{ctx}");
                        model.insert(k, nv);
                    }
                    (_, None) => assert_eq!(r, Computed::Unchanged(None), "{ctx}"),
                    (_, Some(o)) => {
                        assert_eq!(r, Computed::Removed(&o), "{ctx}");
                        model.remove(&k);
                    }
                }
                assert_eq!(r.previous().copied(), before, "{ctx}: previous");
                assert_eq!(r.current().copied(), model.get(&k).copied(), "{ctx}: current");
                if let Some(p) = r.previous() {
                    held.push((p, before.unwrap()));
                }
                if let Some(c) = r.current() {
                    held.push((c, *c));
                }
            } else if op < 50 {
                let r = view.insert(k, nv);
                assert_eq!(r.copied(), model.insert(k, nv), "{ctx}: insert");
                if let Some(p) = r {
                    held.push((p, *p));
                }
            } else if op < 55 {
                assert_eq!(map.insert(k, nv), model.insert(k, nv), "{ctx}: map.insert");
            } else if op < 63 {
                let r = view.remove(&k);
                assert_eq!(r.copied(), model.remove(&k), "{ctx}: remove");
                if let Some(p) = r {
                    held.push((p, *p));
                }
            } else if op < 66 {
                assert_eq!(map.remove(&k), model.remove(&k), "{ctx}: map.remove");
            } else if op < 74 {
                assert_eq!(view.get(&k), model.get(&k), "{ctx}: get");
                assert_eq!(map.get_cloned(&k), model.get(&k).copied(), "{ctx}: get_cloned");
                assert_eq!(map.contains_key(&k), model.contains_key(&k), "{ctx}: contains_key");
                assert_eq!(view.contains_key(&k), model.contains_key(&k), "{ctx}: contains_key");
            } else if op < 80 {
                let r = view.update(&k, |v| v + 7);
                let m = model.get_mut(&k).map(|v| {
                    *v += 7;
                    *v
                });
                assert_eq!(r.copied(), m, "{ctx}: update");
            } else if op < 84 {
                let r = map.update(&k, |v| v * 3 + 1);
                let m = model.get_mut(&k).map(|v| {
                    *v = *v * 3 + 1;
                    *v
                });
                assert_eq!(r, m, "{ctx}: map.update");
            } else if op < 90 {
                let r = *view.get_or_insert_with(k, || nv);
                let m = *model.entry(k).or_insert(nv);
                assert_eq!(r, m, "{ctx}: get_or_insert_with");
            } else if op < 94 {
                let r = map.get_or_insert_with(k, || nv);
                let m = *model.entry(k).or_insert(nv);
                assert_eq!(r, m, "{ctx}: map.get_or_insert_with");
            } else if op < 98 {
                // compute whose decision depends on parity of the current value
                let r = view.compute(k, |cur| match cur {
                    None => Operation::Set(nv),
                    Some(v) if v % 2 == 0 => Operation::Remove,
                    Some(v) => Operation::Set(v + 1),
                });
                match model.get(&k).copied() {
                    None => {
                        assert!(matches!(r, Computed::Inserted(&x) if x == nv), "{ctx}");
                        model.insert(k, nv);
                    }
                    Some(v) if v % 2 == 0 => {
                        assert!(matches!(r, Computed::Removed(&x) if x == v), "{ctx}");
                        model.remove(&k);
                    }
                    Some(v) => {
                        assert!(matches!(r, Computed::Updated{old:&o,new:&n} if o==v && n==v+1), "{ctx}");
                        model.insert(k, v + 1);
                    }
                }
            } else if op < 99 {
                let m = rng.below(3) + 2;
                view.retain(|k, _| k % m != 0);
                model.retain(|k, _| k % m != 0);
            } else {
                if rng.below(4) == 0 {
                    map.clear();
                    model.clear();
                }
            }
        }
        for (r, v) in &held {
            assert_eq!(**r, *v, "{tag} cap={cap} seed={seed}: reference changed within view");
        }
        drop(view);
        if map.stats().growths > growths_seen {
            growths_seen = map.stats().growths;
        }
        if i % 997 < 20 {
            map.check_invariants();
            check_full(&map, &model, &format!("{tag} cap={cap} seed={seed} op#{i}"));
        }
    }
    check_full(&map, &model, &format!("{tag} cap={cap} seed={seed} end"));
    map.check_invariants();
    (compute_during_growth, growths_seen)
}


const CAPS: [usize; 6] = [0, 1, 3, 13, 100, 10_000];

#[test]
fn diff_default_hasher() {
    let _w = watchdog("diff_default_hasher", 120);
    let mut total_growth_computes = 0;
    for &cap in &CAPS {
        for seed in 1..=4u64 {
            for &range in &[16u64, 300, 5000] {
                let (g, _) = run_diff(cap, hmap::DefaultHashBuilder::default(), seed * 31 + range, 12_000, range, "default");
                total_growth_computes += g;
            }
        }
    }
    eprintln!("computes during growth: {total_growth_computes}");
    assert!(total_growth_computes > 0);
}

#[test]
fn diff_constant_hasher() {
    let _w = watchdog("diff_constant_hasher", 120);
    for &cap in &CAPS {
        for seed in 1..=3u64 {
            run_diff(cap, ConstState, seed, 4_000, 60, "const");
        }
    }
}

#[test]
fn diff_few_hashes() {
    let _w = watchdog("diff_few_hashes", 120);
    for &cap in &CAPS {
        for seed in 1..=3u64 {
            run_diff(cap, FewState, seed, 6_000, 400, "few");
        }
    }
}

#[test]
fn diff_string_keys_borrowed_lookups() {
    let _w = watchdog("diff_string_keys", 120);
    for &cap in &CAPS {
        let map: ConcurrentHashMap<String, String> = ConcurrentHashMap::with_capacity(cap);
        let mut model: HashMap<String, String> = HashMap::new();
        let mut rng = Rng::new(cap as u64 + 5);
        for i in 0..20_000u64 {
            let k = format!("key-{}", rng.below(700));
            let v = format!("v{i}");
            let view = map.pin();
            match rng.below(8) {
                0 | 1 | 2 => {
                    let choice = rng.below(3);
                    let before = model.get(&k).cloned();
                    let r = view.compute(k.clone(), |cur| {
                        assert_eq!(cur.cloned(), before);
                        match choice {
                            0 => Operation::Keep,
                            1 => Operation::Set(v.clone()),
                            _ => Operation::Remove,
                        }
                    });
                    assert_eq!(r.previous().cloned(), before);
                    match choice {
                        0 => {}
                        1 => {
                            model.insert(k.clone(), v.clone());
                        }
                        _ => {
                            model.remove(&k);
                        }
                    }
                    assert_eq!(r.current().cloned(), model.get(&k).cloned());
                }
                3 => assert_eq!(map.remove(k.as_str()), model.remove(&k)),
                4 => assert_eq!(map.get_cloned(k.as_str()), model.get(&k).cloned()),
                5 => assert_eq!(
                    map.update(k.as_str(), |s| format!("{s}+")),
                    model.get_mut(&k).map(|s| {
                        s.push('+');
                        s.clone()
                    })
                ),
                6 => assert_eq!(map.insert(k.clone(), v.clone()), model.insert(k.clone(), v.clone())),
                _ => {
                    assert_eq!(view.get(k.as_str()), model.get(&k));
                    assert_eq!(map.contains_key(k.as_str()), model.contains_key(&k));
                    let kv = view.get_key_value(k.as_str());
                    assert_eq!(kv.map(|(a, b)| (a.clone(), b.clone())), model.get_key_value(&k).map(|(a, b)| (a.clone(), b.clone())));
                }
            }
        }
        assert_eq!(map.len(), model.len());
        let view = map.pin();
        let got: HashMap<String, String> = view.iter().map(|(a, b)| (a.clone(), b.clone())).collect();
        assert_eq!(got, model);
    }
}

/// Key whose identity (tag) is not part of Eq/Hash: checks that `Set` stores the passed key.
#[derive(Debug, Clone)]
struct Tagged(u64, u64);
impl PartialEq for Tagged {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for Tagged {}
impl std::hash::Hash for Tagged {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h)
    }
}
impl std::borrow::Borrow<u64> for Tagged {
    fn borrow(&self) -> &u64 {
        &self.0
    }
}

#[test]
fn set_stores_passed_key_other_outcomes_keep_old_key() {
    let map: ConcurrentHashMap<Tagged, u32> = ConcurrentHashMap::new();
    let v = map.pin();
    v.compute(Tagged(1, 100), |_| Operation::Set(1));
    assert_eq!(v.get_key_value(&1u64).unwrap().0 .1, 100);
    v.compute(Tagged(1, 200), |_| Operation::Set(2));
    assert_eq!(v.get_key_value(&1u64).unwrap().0 .1, 200, "Set on present key should store passed key");
    v.compute(Tagged(1, 300), |_| Operation::Keep);
    assert_eq!(v.get_key_value(&1u64).unwrap().0 .1, 200, "Keep must not replace the key");
    v.compute(Tagged(2, 400), |_| Operation::Remove);
    assert!(v.get(&2u64).is_none());
    // update keeps the stored key
    v.update(&1u64, |x| x + 1);
    assert_eq!(v.get_key_value(&1u64).unwrap().0 .1, 200);
    assert_eq!(v.get(&1u64), Some(&3));
}

#[test]
fn computed_is_copy_and_accessors() {
    let map: ConcurrentHashMap<u8, String> = ConcurrentHashMap::new();
    let v = map.pin();
    let a = v.compute(1, |_| Operation::Set("a".into()));
    let b = a; // Copy even though String is not Copy
    assert_eq!(a, b);
    assert_eq!(a.current().map(String::as_str), Some("a"));
    assert_eq!(a.previous(), None);
    let u = v.compute(1, |_| Operation::Set("b".into()));
    assert_eq!(u.previous().map(String::as_str), Some("a"));
    assert_eq!(u.current().map(String::as_str), Some("b"));
    let r = v.compute(1, |_| Operation::Remove);
    assert_eq!(r.previous().map(String::as_str), Some("b"));
    assert_eq!(r.current(), None);
    let n = v.compute(1, |_| Operation::Remove);
    assert_eq!(n, Computed::Unchanged(None));
    assert_eq!(map.len(), 0);
    let _ = format!("{a:?} {u:?} {r:?} {n:?}");
    // old references still valid
    assert_eq!(a.current().unwrap(), "a");
}

#[test]
fn compute_during_forced_growth_small_map() {
    // force_growth is doc-hidden; used only to place compute inside a growth with few keys.
    for same in [false, true] {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        for k in 0..40 {
            map.insert(k, k);
        }
        assert!(map.force_growth(same) || map.is_growing() || true);
        let mut during = 0;
        for k in 0..80u64 {
            if map.is_growing() {
                during += 1;
            }
            let v = map.pin();
            let r = v.compute(k, |c| match c {
                Some(x) if x % 3 == 0 => Operation::Remove,
                Some(x) => Operation::Set(x + 1000),
                None => Operation::Set(k),
            });
            match k {
                k if k < 40 && k % 3 == 0 => assert_eq!(r, Computed::Removed(&k)),
                k if k < 40 => assert_eq!(r, Computed::Updated { old: &k, new: &(k + 1000) }),
                k => assert_eq!(r, Computed::Inserted(&k)),
            }
        }
        eprintln!("same={same}: computes during growth {during}");
        let view = map.pin();
        let mut n = 0;
        for k in 0..80u64 {
            let want = if k < 40 && k % 3 == 0 { None } else if k < 40 { Some(k + 1000) } else { Some(k) };
            assert_eq!(view.get(&k).copied(), want);
            n += want.is_some() as usize;
        }
        assert_eq!(map.len(), n);
    }
}

/// Longer campaign: BB_SEEDS=n to widen (default small so the suite stays fast).
#[test]
fn diff_campaign_env_seeds() {
    let _w = watchdog("diff_campaign", 600);
    let n: u64 = std::env::var("BB_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    for seed in 100..100 + n {
        let cap = CAPS[(seed % 6) as usize];
        run_diff(cap, ConstState, seed, 3_000, 40 + seed % 50, "c-const");
        run_diff(cap, FewState, seed, 8_000, 100 + seed % 900, "c-few");
        run_diff(cap, hmap::DefaultHashBuilder::default(), seed, 20_000, 50 + (seed * 37) % 20_000, "c-default");
    }
}
