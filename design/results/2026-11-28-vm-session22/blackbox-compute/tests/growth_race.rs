mod common;
use common::*;
use hmap::concurrent::{Computed, Operation};
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// A slow compute holds its chain while other threads fill the map and start growths.
/// Its decision must survive the evacuation of its chain; removed keys must not come back.
#[test]
fn slow_compute_while_growths_start_and_run() {
    let _w = watchdog("slow_compute_growth", 120);
    for trial in 0..40u64 {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        for k in 0..100 {
            map.insert(k, k);
        }
        let started = AtomicBool::new(false);
        let growths_during = AtomicU64::new(0);
        std::thread::scope(|s| {
            let (map, started, gd) = (&map, &started, &growths_during);
            let writer = s.spawn(move || {
                while !started.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                let mut n = 0u64;
                let g0 = map.stats().growths;
                for i in 0..3000u64 {
                    map.insert(1000 + trial * 100_000 + i, i);
                    n += 1;
                }
                gd.store(map.stats().growths as u64 - g0 as u64, Ordering::SeqCst);
                n
            });
            let v = map.pin();
            let k = trial % 100;
            let remove = trial % 2 == 0;
            let r = v.compute(k, |c| {
                started.store(true, Ordering::SeqCst);
                // hold the chain while the writer works (it may wait on us if it needs our chain)
                std::thread::sleep(Duration::from_millis(3));
                if remove {
                    Operation::Remove
                } else {
                    Operation::Set(c.unwrap() + 1_000_000)
                }
            });
            if remove {
                assert_eq!(r, Computed::Removed(&k));
            } else {
                assert_eq!(r, Computed::Updated { old: &k, new: &(k + 1_000_000) });
            }
            assert_eq!(writer.join().unwrap(), 3000);
            drop(v);
            let want = if remove { None } else { Some(k + 1_000_000) };
            assert_eq!(map.get_cloned(&k), want, "trial {trial}");
            // finish any growth and check again
            map.clear_probe();
            assert_eq!(map.get_cloned(&k), want, "trial {trial} after growth");
            assert_eq!(map.len(), 100 + 3000 - remove as usize);
            let seen = map.pin().iter().filter(|(kk, _)| **kk == k).count();
            assert_eq!(seen, !remove as usize);
            map.check_invariants();
        });
    }
}

trait Probe {
    fn clear_probe(&self);
}
impl Probe for ConcurrentHashMap<u64, u64> {
    /// Drive any running growth to completion with writes of a dummy key.
    fn clear_probe(&self) {
        let mut i = 0;
        while self.is_growing() && i < 100_000 {
            self.insert(u64::MAX, 0);
            self.remove(&u64::MAX);
            i += 1;
        }
    }
}

/// Many threads compute on a few hot keys while another inserts continuously from empty
/// (growth after growth). Exact counter totals at the end.
#[test]
fn hot_key_computes_across_continuous_growth() {
    let _w = watchdog("hot_keys_growth", 120);
    for round in 0..5u64 {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let (m, st) = (&map, &stop);
            s.spawn(move || {
                let mut i = 0u64;
                while !st.load(Ordering::Relaxed) && i < 300_000 {
                    m.insert(10_000 + i, i);
                    i += 1;
                }
            });
            let hs: Vec<_> = (0..3u64)
                .map(|t| {
                    s.spawn(move || {
                        let mut rng = Rng::new(round * 10 + t);
                        for _ in 0..30_000 {
                            let k = rng.below(8);
                            let v = m.pin();
                            v.compute(k, |c| Operation::Set(c.map_or(1, |c| c + 1)));
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            stop.store(true, Ordering::Relaxed);
        });
        let total: u64 = (0..8).map(|k| map.get_cloned(&k).unwrap_or(0)).sum();
        assert_eq!(total, 90_000, "round {round}");
        eprintln!("round {round}: growths={}", map.stats().growths);
        map.check_invariants();
    }
}
