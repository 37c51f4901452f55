//! Natural same-size growths (overflow-bucket buildup from delete/insert churn at a constant
//! count): stable keys stay visible to get and iter, models stay exact.
mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

const STABLE: u64 = 1 << 60;

#[test]
fn same_size_growth_under_churn() {
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let stable = 500u64;
    for i in 0..stable {
        map.pin().insert(STABLE + i, i);
    }
    // Fill to just under a doubling threshold so churn never doubles but builds overflow chains.
    let per_thread = 4200u64;
    let stop = AtomicBool::new(false);
    let same_size_seen = AtomicUsize::new(0);
    let models: Vec<HashMap<u64, u64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3u64)
            .map(|t| {
                let map = &map;
                s.spawn(move || {
                    let mut rng = Rng::new(t + 40);
                    let mut model = HashMap::new();
                    let mut live: Vec<u64> = vec![];
                    let mut next = 0u64;
                    for _ in 0..per_thread {
                        let k = t << 40 | next;
                        next += 1;
                        map.pin().insert(k, k);
                        model.insert(k, k);
                        live.push(k);
                    }
                    for _ in 0..600_000 {
                        // delete a random live key, insert a brand-new one
                        let idx = rng.below(live.len() as u64) as usize;
                        let old = live.swap_remove(idx);
                        assert_eq!(map.pin().remove(&old), Some(&old));
                        model.remove(&old);
                        let k = t << 40 | next;
                        next += 1;
                        assert_eq!(map.pin().insert(k, k), None);
                        model.insert(k, k);
                        live.push(k);
                        let r = live[rng.below(live.len() as u64) as usize];
                        assert_eq!(map.pin().get(&r), Some(&r));
                    }
                    model
                })
            })
            .collect();
        {
            let (map, stop, ss) = (&map, &stop, &same_size_seen);
            s.spawn(move || {
                while !stop.load(SeqCst) {
                    let st = map.stats();
                    if st.growing && st.same_size_growth {
                        ss.fetch_add(1, SeqCst);
                    }
                    let v = map.pin();
                    let mut seen = HashSet::new();
                    let mut n = 0;
                    for (k, val) in v.iter() {
                        if *k >= STABLE {
                            assert_eq!(*val, *k - STABLE);
                            assert!(seen.insert(*k), "stable {k} twice");
                            n += 1;
                        }
                    }
                    assert_eq!(n, stable, "iteration missed stable keys");
                    for i in 0..stable {
                        assert_eq!(v.get(&(STABLE + i)), Some(&i));
                    }
                }
            });
        }
        let r = hs.into_iter().map(|h| h.join().unwrap()).collect();
        stop.store(true, SeqCst);
        r
    });
    let st = map.stats();
    eprintln!("stats {st:?}; reader saw same-size growth in progress {} times", same_size_seen.load(SeqCst));
    let mut all: HashMap<u64, u64> = models.into_iter().flatten().collect();
    for i in 0..stable {
        all.insert(STABLE + i, i);
    }
    assert_eq!(map.len(), all.len());
    let v = map.pin();
    let got: HashMap<u64, u64> = v.iter().map(|(a, b)| (*a, *b)).collect();
    assert_eq!(got.len(), all.len());
    assert_eq!(got, all);
    // Log2 stayed put across all the churn => the growths beyond the initial ones were same-size.
    assert!(st.growths as u8 > st.log2_buckets, "no same-size growth happened: {st:?}");
}
