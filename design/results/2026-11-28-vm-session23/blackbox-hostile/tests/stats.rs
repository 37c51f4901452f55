//! 10. `stats()` read concurrently during growth: every field plausible at every read, monotone
//! fields never go back. The docs say the fields are read one by one, each exact at some
//! instant, so only single-field checks and monotonicity are hard failures; cross-field
//! relations (evacuated <= old_buckets, ...) are counted and reported.
use bbhostile::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

#[test]
fn stats_plausible_during_growth() {
    watchdog(60, || {
        let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        let done = AtomicBool::new(false);
        const WRITERS: u64 = 2;
        const PER: u64 = 60_000;
        let cross = std::thread::scope(|s| {
            let (m, done) = (&m, &done);
            let ws: Vec<_> = (0..WRITERS)
                .map(|t| {
                    s.spawn(move || {
                        for i in 0..PER {
                            m.pin().insert(t << 32 | i, i);
                            if i % 5 == 4 {
                                m.pin().remove(&(t << 32 | (i - 2)));
                            }
                            if i % 20_000 == 0 {
                                m.force_growth(true);
                            }
                        }
                    })
                })
                .collect();
            let reader = s.spawn(move || {
                let mut prev = m.stats();
                let mut reads = 0u64;
                let mut cross = Vec::new();
                loop {
                    let fin = done.load(SeqCst);
                    let st = m.stats();
                    reads += 1;
                    // single fields
                    assert!(st.len <= (WRITERS * PER) as usize, "len {st:?}");
                    assert!(st.log2_buckets < 40, "{st:?}");
                    assert!(st.handle_slots >= 64 && st.handle_slots.is_power_of_two() && st.handle_slots <= 65_536, "{st:?}");
                    assert!(st.evacuation_chunk <= 8, "chunk: a write evacuates at most 9 chains: {st:?}");
                    assert!(st.claims_in_flight <= WRITERS as usize + 2, "claims in flight {st:?}");
                    assert_eq!(st.temporary_pins, 0, "{st:?}");
                    assert_eq!(st.drop_panics, 0);
                    assert!(st.old_buckets == 0 || st.old_buckets.is_power_of_two(), "{st:?}");
                    // monotone
                    assert!(st.growths >= prev.growths, "growths went back: {prev:?} -> {st:?}");
                    assert!(st.log2_buckets >= prev.log2_buckets, "B went back: {prev:?} -> {st:?}");
                    assert!(st.handle_slots >= prev.handle_slots);
                    assert!(st.entry_chunk_bytes >= prev.entry_chunk_bytes, "chunk bytes shrank: {prev:?} -> {st:?}");
                    // cross-field (not atomic together: counted)
                    let mut bad = Vec::new();
                    if st.old_evacuated > st.old_buckets {
                        bad.push("old_evacuated > old_buckets");
                    }
                    if st.claimed > st.old_buckets {
                        bad.push("claimed > old_buckets");
                    }
                    if !st.growing && (st.old_buckets != 0 || st.same_size_growth) {
                        bad.push("not growing but old_buckets/same_size set");
                    }
                    if st.growing && st.old_buckets == 0 {
                        bad.push("growing with old_buckets 0");
                    }
                    if st.growing && !st.same_size_growth && st.old_buckets * 2 != 1 << st.log2_buckets {
                        bad.push("doubling: old_buckets != 2^B / 2");
                    }
                    if st.growing && st.same_size_growth && st.old_buckets != 1 << st.log2_buckets {
                        bad.push("same-size: old_buckets != 2^B");
                    }
                    if !bad.is_empty() {
                        cross.push(format!("{bad:?}: {st:?}"));
                    }
                    prev = st;
                    if fin {
                        break;
                    }
                }
                eprintln!("stats reads: {reads}, cross-field oddities: {}", cross.len());
                for c in cross.iter().take(5) {
                    eprintln!("  {c}");
                }
                cross
            });
            for w in ws {
                w.join().unwrap();
            }
            done.store(true, SeqCst);
            reader.join().unwrap()
        });
        let st = m.stats();
        assert_eq!(st.len, m.len());
        assert_eq!(st.len, m.pin().iter().count());
        assert!(st.growths >= 10, "{st:?}");
        // quiescent: cross-field relations must hold exactly
        assert!(st.old_evacuated <= st.old_buckets && st.claimed <= st.old_buckets, "{st:?}");
        assert_eq!(st.claims_in_flight, 0, "{st:?}");
        let _ = cross;
    });
}

#[test]
fn stats_quiescent_after_forced_growths() {
    let m: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for i in 0..1000u64 {
        m.insert(i, i);
    }
    for same in [false, true, false, true] {
        let started = m.force_growth(same);
        let st = m.stats();
        if started {
            assert!(st.growing, "{st:?}");
            assert_eq!(st.same_size_growth, same, "{st:?}");
            assert!(st.old_evacuated <= st.old_buckets && st.claimed <= st.old_buckets, "{st:?}");
        }
        for i in 0..2000u64 {
            m.insert(1 << 32 | i, i);
            m.remove(&(1 << 32 | i));
        }
        let st = m.stats();
        assert!(!st.growing, "growth should be finished: {st:?}");
        assert_eq!(st.old_buckets, 0, "{st:?}");
        assert_eq!(st.len, 1000);
    }
    m.check_invariants();
}
