//! stats() sampled concurrently while writers grow and churn: per-snapshot invariants,
//! monotonic growths, len bounds; garbage bounded under churn and drained after flushes.
use bb4::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};

#[test]
fn stats_invariants_sampled_during_growth() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let stop = AtomicBool::new(false);
    let inserted = AtomicUsize::new(0);
    let max_garbage = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (m, stop, inserted, mg) = (&m, &stop, &inserted, &max_garbage);
        for t in 0..2u64 {
            s.spawn(move || {
                // insert-only: len only grows; count inserted before and after
                for i in 0..300_000u64 {
                    m.pin().insert(i * 2 + t, i);
                    inserted.fetch_add(1, SeqCst);
                }
            });
        }
        s.spawn(move || {
            let mut last_g = 0; let mut last_log = 0u8; let mut last_len = 0; let mut n = 0; let mut growing_seen = 0;
            while inserted.load(SeqCst) < 600_000 {
                let before = inserted.load(SeqCst);
                let st = m.stats();
                let after = inserted.load(SeqCst);
                n += 1;
                assert!(st.old_evacuated <= st.old_buckets, "{st:?}");
                assert!(st.claimed <= st.old_buckets, "{st:?}");
                assert!(st.claims_in_flight <= 3, "{st:?}");
                assert!(st.growths >= last_g, "growths decreased {last_g} -> {st:?}");
                assert!(st.log2_buckets >= last_log, "log2 decreased {last_log} -> {st:?}");
                // len: inserts counted after insert returned, so len >= before (each returned insert is visible)... and <= after+2 in flight
                assert!(st.len + 0 >= before.min(st.len) , "");
                assert!(st.len >= last_len, "len decreased in insert-only run: {last_len} -> {st:?}");
                assert!(st.len <= after + 2, "len {} > inserted {} + in-flight", st.len, after);
                assert!(st.len + 2 >= before, "len {} < inserted-before {before}", st.len);
                assert!(!st.same_size_growth || st.growing, "{st:?}");
                if st.growing { growing_seen += 1; if !st.same_size_growth { assert!(st.old_buckets * 2 == 1 << st.log2_buckets, "{st:?}"); } }
                else { assert_eq!(st.old_buckets, 0, "{st:?}"); assert_eq!(st.old_evacuated, 0, "{st:?}"); }
                assert!(st.handle_slots >= 64, "{st:?}");
                mg.fetch_max(st.garbage_objects, Relaxed);
                last_g = st.growths; last_log = st.log2_buckets; last_len = st.len;
            }
            eprintln!("samples {n}, growing seen {growing_seen}");
            stop.store(true, Relaxed);
        });
    });
    assert_eq!(m.len(), 600_000);
    let st = m.stats();
    eprintln!("final {st:?} max garbage {}", max_garbage.load(Relaxed));
    assert_eq!(st.claims_in_flight, 0);
}

#[test]
fn garbage_bounded_under_churn_and_drains() {
    for &ops in &[200_000u64, 2_000_000] {
    let m: ConcurrentHashMap<u64, Vec<u8>> = ConcurrentHashMap::with_capacity(2000);
    let stop = AtomicBool::new(false);
    let maxg = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (m, stop, maxg) = (&m, &stop, &maxg);
        s.spawn(move || {
            while !stop.load(Relaxed) {
                let st = m.stats();
                maxg.fetch_max(st.garbage_objects, Relaxed);
                std::thread::sleep(std::time::Duration::from_micros(200));
                assert!(st.len <= 2000, "len {} > keyspace", st.len);
            }
        });
        std::thread::scope(|s2| {
            for t in 0..2u64 {
                s2.spawn(move || {
                    let mut r = Rng::new(t + 1);
                    for i in 0..ops / 2 {
                        let k = r.below(2000);
                        let p = m.pin();
                        match i % 3 { 0 => { p.insert(k, vec![1; 16]); } 1 => { p.remove(&k); } _ => { p.update(&k, |v| v.clone()); } }
                    }
                });
            }
        });
        stop.store(true, Relaxed);
    });
    let st = m.stats();
    eprintln!("ops {ops}: after churn garbage {}, max garbage {}", st.garbage_objects, maxg.load(Relaxed));
    assert!(maxg.load(Relaxed) < 100_000, "garbage grew to {}", maxg.load(Relaxed));
    for _ in 0..300 { m.pin().flush(); }
    let st2 = m.stats();
    eprintln!("after flushes {st2:?}");
    assert!(st2.garbage_objects <= 200, "garbage not drained: {st2:?}");
    assert_eq!(m.len(), m.pin().iter().count());
    }
}
