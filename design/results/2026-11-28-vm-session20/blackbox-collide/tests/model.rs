use bb_collide::*;
use hmap::ConcurrentHashMap;
use std::collections::HashMap as Std;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

type M = ConcurrentHashMap<u64, Val, HB>;

/// Each thread owns keys k with k % threads == tid and keeps an exact model of them.
/// All keys share chains through the colliding hasher.
fn run_model(kind: Kind, threads: usize, keys: u64, iters: u64, cap: usize, seed: u64) {
    let tr = Tracker::new(threads * iters as usize * 2 + keys as usize + 1000);
    let map: M = ConcurrentHashMap::with_capacity_and_hasher(cap, HB(kind));
    let growths_forced = AtomicUsize::new(0);
    let same_forced = AtomicUsize::new(0);
    let barrier = Barrier::new(threads);
    let consistent = !matches!(kind, Kind::Inconsistent(_) | Kind::Random);
    let models: Vec<Std<u64, u64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|tid| {
                let map = &map;
                let tr = &tr;
                let barrier = &barrier;
                let gf = &growths_forced;
                let sf = &same_forced;
                s.spawn(move || {
                    let mut rng = Rng(seed ^ mix(tid as u64 + 1) | 1);
                    let mut model: Std<u64, u64> = Std::new();
                    let mut gen = 0u64;
                    barrier.wait();
                    for it in 0..iters {
                        let mine = rng.below(keys / threads as u64) * threads as u64 + tid as u64;
                        let p = map.pin();
                        let op = rng.below(1000);
                        match op {
                            0..=299 => {
                                gen += 1;
                                let prev = p.insert(mine, Val::new(tr, mine, gen));
                                let exp = model.insert(mine, gen);
                                match (prev, exp) {
                                    (Some(v), Some(g)) => {
                                        v.check(mine);
                                        if consistent {
                                            assert_eq!(v.gen, g, "insert prev gen");
                                        }
                                    }
                                    (None, None) => {}
                                    (a, b) => {
                                        if consistent {
                                            panic!("insert {mine}: got {:?} expected {:?}", a.map(|v| v.gen), b)
                                        }
                                    }
                                }
                            }
                            300..=499 => {
                                let got = p.remove(&mine);
                                let exp = model.remove(&mine);
                                if let Some(v) = got {
                                    v.check(mine);
                                }
                                if consistent {
                                    assert_eq!(got.map(|v| v.gen), exp, "remove {mine}");
                                }
                            }
                            500..=599 => {
                                gen += 1;
                                let g2 = gen;
                                let got = p.update(&mine, |v| {
                                    v.check(mine);
                                    Val::new(tr, mine, g2)
                                });
                                if let Some(v) = got {
                                    v.check(mine);
                                }
                                if consistent {
                                    let exp = model.get_mut(&mine).map(|g| {
                                        *g = g2;
                                        g2
                                    });
                                    assert_eq!(got.map(|v| v.gen), exp, "update {mine}");
                                }
                            }
                            600..=699 => {
                                gen += 1;
                                let g2 = gen;
                                let got = p.get_or_insert_with(mine, || Val::new(tr, mine, g2));
                                got.check(mine);
                                if consistent {
                                    let exp = *model.entry(mine).or_insert(g2);
                                    assert_eq!(got.gen, exp, "get_or_insert {mine}");
                                }
                            }
                            700..=849 => {
                                let got = p.get(&mine);
                                if let Some(v) = got {
                                    v.check(mine);
                                }
                                if consistent {
                                    assert_eq!(got.map(|v| v.gen), model.get(&mine).copied(), "get {mine}");
                                }
                                let any = rng.below(keys);
                                if let Some(v) = p.get(&any) {
                                    v.check(any);
                                }
                            }
                            850..=899 => {
                                let same = rng.below(2) == 0;
                                if it % 4 != 0 || (!same && map.log2_buckets() as u64 >= env("MAXB", 6)) {
                                    continue;
                                }
                                if map.force_growth(same) {
                                    gf.fetch_add(1, Ordering::Relaxed);
                                    if same {
                                        sf.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            }
                            900..=980 => {
                                if it % 8 != 0 {
                                    continue;
                                }
                                // iterate: own keys are stable during it
                                let mut seen: Std<u64, u64> = Std::new();
                                for (k, v) in p.iter() {
                                    v.check(*k);
                                    if *k % threads as u64 == tid as u64 {
                                        if let Some(old) = seen.insert(*k, v.gen) {
                                            if consistent {
                                                panic!("iter yielded own key {k} twice (gens {old}, {})", v.gen);
                                            }
                                        }
                                    }
                                }
                                if consistent {
                                    for (k, g) in &model {
                                        assert_eq!(seen.get(k), Some(g), "iter missed/wrong own key {k}");
                                    }
                                    assert_eq!(seen.len(), model.len(), "iter yielded extra own keys");
                                }
                            }
                            981..=999 => {
                                if it % 4 != 0 {
                                    continue;
                                }
                                // retain: drop own keys whose gen % 3 == 0
                                let t = threads as u64;
                                p.retain(|k, v| {
                                    v.check(*k);
                                    !(*k % t == tid as u64 && v.gen % 3 == 0)
                                });
                                model.retain(|_, g| *g % 3 != 0);
                            }
                            _ => unreachable!(),
                        }
                    }
                    model
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: usize = models.iter().map(|m| m.len()).sum();
    let iter_count = map.pin().iter().count();
    eprintln!(
        "{kind:?} threads={threads} keys={keys} iters={iters}: len={} model={} iter={} log2={} forced growths={} (same {}) stats.growths={}",
        map.len(),
        total,
        iter_count,
        map.log2_buckets(),
        growths_forced.load(Ordering::Relaxed),
        same_forced.load(Ordering::Relaxed),
        map.stats().growths
    );
    assert_eq!(map.len(), iter_count, "len vs iter count");
    if consistent {
        map.check_invariants();
        assert_eq!(map.len(), total);
        let p = map.pin();
        for (tid, m) in models.iter().enumerate() {
            let _ = tid;
            for (k, g) in m {
                assert_eq!(p.get(k).map(|v| v.gen), Some(*g));
            }
        }
        // finish any growth and check again
        drop(p);
        while map.is_growing() {
            map.pin().insert(u64::MAX, Val::new(&tr, u64::MAX, 0));
            map.pin().remove(&u64::MAX);
        }
        map.check_invariants();
    }
    drop(map);
    tr.verify();
}

fn kinds() -> Vec<(&'static str, Kind)> {
    vec![
        ("const", Kind::Const(0x1234_5678_9abc_def0)),
        ("const0", Kind::Const(0)),
        ("constmax", Kind::Const(u64::MAX)),
        ("top", Kind::TopOnly),
        ("low", Kind::LowOnly),
        ("good", Kind::Good),
        ("incons", Kind::Inconsistent(1000)),
        ("incons1", Kind::Inconsistent(1)),
        ("random", Kind::Random),
    ]
}

#[test]
fn model_all() {
    let rounds = env("ROUNDS", 1);
    let threads = env("THREADS", 3) as usize;
    let iters = env("ITERS", 20000);
    let only = std::env::var("ONLY").ok();
    for r in 0..rounds {
        for (name, k) in kinds() {
            if only.as_deref().is_some_and(|o| o != name) {
                continue;
            }
            for &(keys, cap) in &[(64u64, 0usize), (600, 0), (3000, 10)] {
                let keys = if matches!(k, Kind::Const(_)) && keys > 600 { 600 } else { keys };
                run_model(k, threads, keys, iters, cap, mix(r ^ keys ^ 0xfeed));
            }
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);
#[allow(dead_code)]
fn unused() {
    STOP.store(true, Ordering::Relaxed);
    let _ = Arc::new(0);
}
