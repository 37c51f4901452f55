mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::thread;

/// One thread inserts keys, another removes them: stripes of different threads.
/// len() is only promised exact when quiescent, but it must never exceed the
/// number of keys that could possibly be present (wrap-around of a negative sum).
#[test]
fn len_never_wraps_during_cross_thread_insert_remove() {
    with_timeout(60, "lenwrap", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let stop = Arc::new(AtomicBool::new(false));
        let ins = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || { let mut i = 0u64; while !stop.load(Relaxed) { m.insert(i % 64, i); i += 1; } })};
        let rem = { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || { let mut i = 0u64; while !stop.load(Relaxed) { m.remove(&(i % 64)); i += 1; } })};
        let mut max = 0; let mut bad = 0; let mut worst = 0usize; let mut sbad = 0;
        for _ in 0..2_000_000 {
            let l = m.len();
            if l > 64 { bad += 1; worst = worst.max(l); }
            max = max.max(l.min(64));
            let _ = m.is_empty();
            let s = m.stats();
            if s.growing && (s.claimed > s.old_buckets || s.old_evacuated > s.old_buckets) { sbad += 1; eprintln!("{s:?}"); }
            if s.len > 64 { sbad += 1; }
        }
        stop.store(true, Relaxed);
        ins.join().unwrap(); rem.join().unwrap();
        assert_eq!(m.len(), m.pin().iter().count());
        assert!(bad == 0 && sbad == 0, "len() returned {bad} impossible values (> 64 keys possible), worst {worst}; stats bad {sbad}");
    });
}

#[test]
fn stats_claimed_bounded_under_growth() {
    with_timeout(60, "claimed", || {
        let m = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let stop = Arc::new(AtomicBool::new(false));
        let ws: Vec<_> = (0..2u64).map(|t| { let m = m.clone(); let stop = stop.clone(); thread::spawn(move || {
            let mut i = 0u64; while !stop.load(Relaxed) && i < 3_000_000 { m.insert(t << 40 | i, i); i += 1; }
        })}).collect();
        let mut bad = vec![];
        let mut grow = 0;
        for _ in 0..300_000 {
            let s = m.stats();
            if s.growing { grow += 1;
                if s.claimed > s.old_buckets || s.old_evacuated > s.old_buckets { bad.push(s.clone()); }
                if !s.same_size_growth && s.old_buckets * 2 != 1usize << s.log2_buckets { bad.push(s.clone()); }
            }
            if !s.growing && s.old_buckets != 0 { bad.push(s.clone()); }
        }
        stop.store(true, Relaxed);
        for w in ws { w.join().unwrap(); }
        eprintln!("growing samples {grow}, bad {}", bad.len());
        for b in bad.iter().take(5) { eprintln!("{b:?}"); }
        assert!(bad.is_empty());
    });
}
