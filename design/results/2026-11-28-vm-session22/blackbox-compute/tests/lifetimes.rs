mod common;
use common::*;
use hmap::concurrent::{Computed, Operation};
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// A value with a checksum, so a freed-and-reused value is likely noticed even without ASan.
#[derive(Clone, Debug, PartialEq)]
struct V {
    a: u64,
    s: String,
    b: u64,
}
impl V {
    fn new(x: u64) -> V {
        V { a: x, s: format!("value-{x}"), b: !x }
    }
    fn check(&self) {
        assert_eq!(self.b, !self.a, "corrupted value");
        assert_eq!(self.s, format!("value-{}", self.a), "corrupted value string");
    }
}

#[test]
fn computed_refs_stay_valid_while_other_threads_replace_and_remove() {
    let _w = watchdog("refs_valid", 90);
    let map: ConcurrentHashMap<u64, V> = ConcurrentHashMap::new();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let (map, stop) = (&map, &stop);
            s.spawn(move || {
                let mut rng = Rng::new(t + 1);
                let mut n = 1_000_000 * (t + 1);
                while !stop.load(Ordering::Relaxed) {
                    let k = rng.below(64);
                    n += 1;
                    match rng.below(4) {
                        0 => drop(map.insert(k, V::new(n))),
                        1 => drop(map.remove(&k)),
                        2 => {
                            let v = map.pin();
                            v.compute(k, |c| match c {
                                Some(_) => Operation::Remove,
                                None => Operation::Set(V::new(n)),
                            });
                        }
                        _ => {
                            for _ in 0..4 {
                                map.pin().flush();
                            }
                        }
                    }
                }
            });
        }
        let mut rng = Rng::new(99);
        for round in 0..3000u64 {
            let view = map.pin();
            let mut keep: Vec<(&V, V)> = Vec::new();
            for j in 0..16u64 {
                let k = rng.below(64);
                let nv = round * 100 + j;
                let r = view.compute(k, |c| match (c, j % 3) {
                    (_, 0) => Operation::Set(V::new(nv)),
                    (Some(_), 1) => Operation::Remove,
                    _ => Operation::Keep,
                });
                for x in [r.previous(), r.current()].into_iter().flatten() {
                    x.check();
                    keep.push((x, x.clone()));
                }
                if let Computed::Updated { old, new } = r {
                    assert_ne!(old as *const V, new as *const V);
                }
            }
            // let the other threads replace/remove and flush meanwhile
            std::thread::yield_now();
            for _ in 0..200 {
                std::hint::spin_loop();
            }
            for (r, copy) in &keep {
                r.check();
                assert_eq!(*r, copy, "reference changed while view lives");
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
}
