//! Reproduction: `retain` called while a growth is in progress, with another thread inserting
//! fresh keys (so that the next growth starts while retain runs), skips entries that were present
//! and untouched for the whole call: `keep` is never called on them and they survive although
//! `keep` would reject them. Docs: "every entry present for the whole call is tested".
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

fn round(n: u64, fresh: u64, use_clear: bool) -> Option<String> {
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for i in 0..n {
        map.pin().insert(i, i);
    }
    while map.is_growing() {
        map.pin().insert(u64::MAX, 0);
        map.pin().remove(&u64::MAX);
    }
    let b0 = map.log2_buckets();
    let mut tested = vec![0u32; n as usize];
    let mut growing_at_start = false;
    std::thread::scope(|s| {
        let m = &map;
        s.spawn(move || {
            for i in 0..fresh {
                m.pin().insert(1 << 40 | i, i);
            }
        });
        // Start retain as soon as the inserter has started a growth.
        while !map.is_growing() && map.len() < (n + fresh) as usize {
            std::hint::spin_loop();
        }
        growing_at_start = map.is_growing();
        if use_clear {
            map.clear();
            tested.iter_mut().for_each(|c| *c = 1);
        } else {
            map.retain(|k, _| {
                if *k < n {
                    tested[*k as usize] += 1;
                }
                *k >= n || k % 2 == 1 // reject even prefilled keys
            });
        }
    });
    let v = map.pin();
    assert_eq!(v.iter().count(), map.len(), "len disagrees with iter after retain/clear");
    let survivors: Vec<u64> = (0..n).step_by(if use_clear { 1 } else { 2 }).filter(|k| v.contains_key(k)).collect();
    let untested = tested.iter().filter(|c| **c == 0).count();
    if survivors.is_empty() && untested == 0 {
        return None;
    }
    Some(format!(
        "{} n={n}: B {b0} -> {} (growing at retain start: {growing_at_start}); {} rejected keys survived (e.g. {:?}), {untested} of {n} keys present for the whole call never passed to keep",
        if use_clear { "clear" } else { "retain" },
        map.log2_buckets(),
        survivors.len(),
        &survivors[..survivors.len().min(4)]
    ))
}

fn drive(use_clear: bool, hogs: usize) {
    let stop = AtomicBool::new(false);
    let mut failures = vec![];
    let mut rounds = 0;
    std::thread::scope(|s| {
        // CPU hogs: preempt the retain thread at arbitrary points (the machine has 2 cores).
        for _ in 0..hogs {
            let stop = &stop;
            s.spawn(move || {
                while !stop.load(SeqCst) {
                    std::hint::spin_loop();
                }
            });
        }
        let t0 = std::time::Instant::now();
        while t0.elapsed().as_secs() < 20 && failures.len() < 3 {
            for (n, fresh) in [(20_000u64, 60_000u64), (1_000, 4_000), (200, 1_000)] {
                rounds += 1;
                if let Some(f) = round(n, fresh, use_clear) {
                    failures.push(f);
                }
            }
        }
        stop.store(true, SeqCst);
    });
    assert!(failures.is_empty(), "{} of {rounds} rounds failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn retain_skips_entries_during_back_to_back_growths() {
    drive(false, 3);
}

#[test]
fn clear_skips_entries_during_back_to_back_growths() {
    drive(true, 3);
}

#[test]
fn retain_skips_entries_no_cpu_hogs() {
    drive(false, 0);
}
