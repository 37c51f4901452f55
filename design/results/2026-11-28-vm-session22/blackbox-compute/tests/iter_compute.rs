mod common;
use common::*;
use hmap::concurrent::Operation;
use hmap::ConcurrentHashMap;
use std::collections::HashMap;

/// Compute on every yielded key while iterating the same view; inserts in the loop body make
/// the map grow under the iterator. Untouched keys must be yielded exactly once.
#[test]
fn compute_while_iterating_same_view() {
    let _w = watchdog("iter_compute", 60);
    for n in [10u64, 100, 1000, 5000] {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        for k in 0..n {
            map.insert(k, 0);
        }
        let view = map.pin();
        let mut yielded: HashMap<u64, usize> = HashMap::new();
        let mut extra = 1_000_000u64;
        for (k, v) in view.iter() {
            *yielded.entry(*k).or_default() += 1;
            if *k < 1_000_000 {
                if k % 2 == 0 {
                    view.compute(*k, |c| Operation::Set(c.unwrap() + 1));
                }
                // grow the map meanwhile
                for _ in 0..3 {
                    view.compute(extra, |_| Operation::Set(1));
                    extra += 1;
                }
            }
            let _ = v;
        }
        let twice_touched = yielded.iter().filter(|(k, c)| **k < n && **k % 2 == 0 && **c > 1).count();
        for k in 0..n {
            let c = yielded.get(&k).copied().unwrap_or(0);
            if k % 2 == 1 {
                assert_eq!(c, 1, "n={n}: untouched key {k} yielded {c} times");
            } else {
                assert!(c >= 1, "n={n}: key {k} present throughout not yielded");
            }
        }
        eprintln!("n={n}: replaced keys yielded more than once: {twice_touched}; growths={}", map.stats().growths);
        drop(view);
        map.check_invariants();
    }
}
