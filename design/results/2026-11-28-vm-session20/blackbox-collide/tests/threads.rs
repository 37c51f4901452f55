use bb_collide::*;
use hmap::concurrent::Pinned;
use hmap::ConcurrentHashMap;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, OnceLock};

type M = ConcurrentHashMap<u64, Val, HB>;

#[test]
fn many_threads_churn() {
    let tr = Tracker::new(10_000_000);
    let map: M = ConcurrentHashMap::with_hasher(HB(Kind::LowOnly));
    let total = AtomicUsize::new(0);
    for wave in 0..6u64 {
        let n = [10usize, 100, 200, 70, 150, 300][wave as usize];
        let barrier = Barrier::new(n);
        std::thread::scope(|s| {
            for t in 0..n {
                let (map, tr, barrier, total) = (&map, &tr, &barrier, &total);
                s.spawn(move || {
                    let mut rng = Rng(mix(wave * 1000 + t as u64) | 1);
                    let p = map.pin();
                    barrier.wait();
                    for i in 0..200 {
                        let k = rng.below(5000);
                        match i % 4 {
                            0 | 1 => {
                                p.insert(k, Val::new(tr, k, 1));
                            }
                            2 => {
                                p.remove(&k);
                            }
                            _ => {
                                if let Some(v) = p.get(&k) {
                                    v.check(k)
                                }
                            }
                        }
                        if i == 100 && t % 10 == 0 {
                            map.force_growth(t % 20 == 0 || map.log2_buckets() > 9);
                        }
                    }
                    total.fetch_add(1, Ordering::Relaxed);
                });
            }
        });
        let c = map.pin().iter().count();
        eprintln!("wave {wave} threads {n}: len={} iter={c} stats={:?}", map.len(), map.stats());
        assert_eq!(map.len(), c);
        map.check_invariants();
    }
    drop(map);
    tr.verify();
}

static SMAP: OnceLock<M> = OnceLock::new();
static STR: OnceLock<Arc<Tracker>> = OnceLock::new();
thread_local! {
    static TP: RefCell<Option<Pinned<'static, u64, Val, HB>>> = const { RefCell::new(None) };
}

#[test]
fn pinned_in_tls() {
    let map = SMAP.get_or_init(|| ConcurrentHashMap::with_hasher(HB(Kind::Const(42))));
    let tr = STR.get_or_init(|| Tracker::new(5_000_000)).clone();
    for wave in 0..50u64 {
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let tr = tr.clone();
                std::thread::spawn(move || {
                    let mut rng = Rng(mix(wave * 100 + t) | 1);
                    // some threads keep a view in TLS past their body's end
                    if t % 2 == 0 {
                        TP.with(|c| *c.borrow_mut() = Some(map.pin()));
                    }
                    for i in 0..100 {
                        let k = rng.below(200);
                        let p = map.pin();
                        if i % 3 == 0 {
                            p.remove(&k);
                        } else {
                            p.insert(k, Val::new(&tr, k, 0));
                        }
                        if i == 50 && t == 0 {
                            map.force_growth(true);
                        }
                    }
                    TP.with(|c| {
                        if let Some(p) = c.borrow().as_ref() {
                            let k = rng.below(200);
                            p.insert(k, Val::new(&tr, k, 0));
                            for (k, v) in p.iter() {
                                v.check(*k);
                            }
                        }
                    });
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
    let c = map.pin().iter().count();
    eprintln!("tls: len={} iter={c} stats={:?}", map.len(), map.stats());
    assert_eq!(map.len(), c);
    map.check_invariants();
    map.clear();
    assert_eq!(map.len(), 0);
}
