use bb_collide::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

type M = ConcurrentHashMap<u64, Val, HB>;

/// Stable keys [0, ns) never change; writers churn volatile keys [ns, ns+nv) and force
/// growths; readers check every stable key is seen exactly once by iter and always by get.
fn run(kind: Kind, ns: u64, nv: u64, writers: usize, readers: usize, millis: u64, maxb: u8, seed: u64) {
    let tr = Tracker::new(20_000_000);
    let map: M = ConcurrentHashMap::with_hasher(HB(kind));
    {
        let p = map.pin();
        for k in 0..ns {
            p.insert(k, Val::new(&tr, k, 0));
        }
    }
    let stop = AtomicBool::new(false);
    let ops = AtomicUsize::new(0);
    let iters = AtomicUsize::new(0);
    let growths = AtomicUsize::new(0);
    let clears = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for w in 0..writers {
            let (map, tr, stop, ops, growths, clears) = (&map, &tr, &stop, &ops, &growths, &clears);
            s.spawn(move || {
                let mut rng = Rng(mix(seed ^ (w as u64 + 77)) | 1);
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let k = ns + rng.below(nv);
                    let p = map.pin();
                    for _ in 0..16 {
                        let k = if rng.below(2) == 0 { k } else { ns + rng.below(nv) };
                        match rng.below(100) {
                            0..=34 => {
                                if let Some(v) = p.insert(k, Val::new(tr, k, rng.next() | 1)) {
                                    v.check(k);
                                }
                            }
                            35..=64 => {
                                if let Some(v) = p.remove(&k) {
                                    v.check(k);
                                }
                            }
                            65..=74 => {
                                if let Some(v) = p.update(&k, |v| {
                                    v.check(k);
                                    Val::new(tr, k, v.gen.wrapping_add(2))
                                }) {
                                    v.check(k);
                                }
                            }
                            75..=84 => {
                                let g = rng.next() | 1;
                                p.get_or_insert_with(k, || Val::new(tr, k, g)).check(k);
                            }
                            85..=96 => {
                                let sk = rng.below(ns);
                                let v = p.get(&sk).unwrap_or_else(|| panic!("stable key {sk} missing (get)"));
                                v.check(sk);
                                assert_eq!(v.gen, 0);
                            }
                            97 => {
                                if rng.below(8) == 0 {
                                    let m = rng.below(4);
                                    p.retain(|k, v| {
                                        v.check(*k);
                                        *k < ns || v.gen % 4 != m
                                    });
                                    clears.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            _ => {
                                let same = rng.below(3) != 0;
                                if !same && map.log2_buckets() >= maxb {
                                    continue;
                                }
                                if map.force_growth(same) {
                                    growths.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        n += 1;
                    }
                }
                ops.fetch_add(n, Ordering::Relaxed);
            });
        }
        for r in 0..readers {
            let (map, stop, iters) = (&map, &stop, &iters);
            s.spawn(move || {
                let mut rng = Rng(mix(seed ^ (r as u64 + 999)) | 1);
                let mut seen = vec![0u8; ns as usize];
                while !stop.load(Ordering::Relaxed) {
                    let p = map.pin();
                    if rng.below(4) == 0 {
                        seen.iter_mut().for_each(|x| *x = 0);
                        for (k, v) in p.iter() {
                            v.check(*k);
                            if *k < ns {
                                assert_eq!(v.gen, 0);
                                seen[*k as usize] += 1;
                            }
                        }
                        for (k, &c) in seen.iter().enumerate() {
                            assert_eq!(c, 1, "{kind:?}: iter yielded stable key {k} {c} times");
                        }
                        iters.fetch_add(1, Ordering::Relaxed);
                    } else {
                        for _ in 0..64 {
                            let k = rng.below(ns + nv);
                            match p.get(&k) {
                                Some(v) => v.check(k),
                                None => assert!(k >= ns, "{kind:?}: stable key {k} missing"),
                            }
                        }
                    }
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(millis));
        stop.store(true, Ordering::Relaxed);
    });
    let n = map.pin().iter().count();
    eprintln!(
        "{kind:?} ns={ns} nv={nv} w={writers} r={readers}: ops={} iters={} forced={} retains={} len={} itercount={n} log2={} growths={}",
        ops.load(Ordering::Relaxed),
        iters.load(Ordering::Relaxed),
        growths.load(Ordering::Relaxed),
        clears.load(Ordering::Relaxed),
        map.len(),
        map.log2_buckets(),
        map.stats().growths
    );
    assert_eq!(map.len(), n);
    map.check_invariants();
    drop(map);
    tr.verify();
}

#[test]
fn stable_keys() {
    let ms = env("MS", 1500);
    let rounds = env("ROUNDS", 1);
    for r in 0..rounds {
        let seed = mix(r + 12345);
        for (kind, ns, nv) in [
            (Kind::Const(0xdead_beef_0000_0000), 40u64, 60u64),
            (Kind::Const(7), 300, 300),
            (Kind::TopOnly, 200, 400),
            (Kind::LowOnly, 500, 1000),
            (Kind::Good, 500, 1000),
            (Kind::Good, 5, 5000),
        ] {
            run(kind, ns, nv, 2, 1, ms, 7, seed);
            run(kind, ns, nv, 1, 2, ms, 7, seed);
            run(kind, ns, nv, 3, 1, ms, 7, seed);
        }
    }
}
