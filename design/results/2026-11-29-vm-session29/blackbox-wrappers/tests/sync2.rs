use bbwrap::Rng;
use hmap::wrappers::*;
use std::sync::atomic::{AtomicBool, Ordering::*};

#[test]
fn syncmap_stress_with_clear_range_len() {
    let m: SyncMap<u64, u64> = SyncMap::new();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for t in 0..3u64 { let (m, stop) = (&m, &stop); s.spawn(move || {
            let mut r = Rng(t * 11 + 1);
            let mut i = 0u64;
            while !stop.load(Relaxed) {
                i += 1;
                let k = r.below(300);
                let v = k + 1000 * (i % 1000);
                match r.below(12) {
                    0 => m.store(k, v), 1 => m.delete(&k), 2 => { m.swap(k, v); } 3 => { m.load_and_delete(&k); }
                    4 => { m.load_or_store(k, v); } 5 => { if let Some(c) = m.load(&k) { m.compare_and_swap(&k, &c, v); } }
                    6 => { if let Some(c) = m.load(&k) { m.compare_and_delete(&k, &c); } }
                    7 => { if r.below(200) == 0 { m.clear(); } }
                    8 => { let _ = m.len(); }
                    9 => { let mut seen = std::collections::HashSet::new(); m.range(|k, v| { assert_eq!(v % 1000, *k); assert!(seen.insert(*k)); true }); }
                    _ => { if let Some(x) = m.load(&k) { assert_eq!(x % 1000, k); } }
                }
            }
        }); }
        std::thread::sleep(std::time::Duration::from_secs(4));
        stop.store(true, Relaxed);
    });
    m.check_invariants();
    let st = m.stats();
    println!("{st:?}");
    let n = m.len();
    let mut c = 0; m.range(|_, _| { c += 1; true });
    assert_eq!(n, c);
}

#[test]
fn syncmap_from_iter_and_debug() {
    let m: SyncMap<u64, u64> = [(1, 1), (2, 2), (1, 3)].into_iter().collect();
    assert_eq!(m.load(&1), Some(3));
    assert_eq!(m.len(), 2);
    let st = m.stats();
    assert!(!st.amended);
    assert_eq!(st.dirty_len, None);
    m.check_invariants();
    let _ = format!("{m:?}");
}

#[test]
fn syncmap_go_walk_states() {
    // Go semantics: misses counted; promotion when misses >= len(dirty)
    let m: SyncMap<u64, u64> = SyncMap::new();
    for k in 0..4 { m.store(k, k); }
    let st = m.stats();
    assert_eq!((st.read_len, st.dirty_len, st.amended, st.misses), (0, Some(4), true, 0));
    for i in 1..4 { m.load(&0); assert_eq!(m.stats().misses, i); }
    m.load(&0);
    let st = m.stats();
    assert_eq!((st.read_len, st.dirty_len, st.amended, st.misses, st.promotions), (4, None, false, 0, 1));
    // store on existing read key: lock-free, no dirty
    m.store(1, 100);
    assert_eq!(m.stats().dirty_len, None);
    // delete -> nil, new key -> dirty built with expunge
    m.delete(&2);
    assert_eq!(m.stats().read_deleted, 1);
    m.store(10, 10);
    let st = m.stats();
    assert_eq!((st.read_expunged, st.dirty_len, st.amended), (1, Some(4), true), "{st:?}");
    // swap never counts a miss
    m.swap(11, 11);
    assert_eq!(m.stats().misses, 0);
    m.check_invariants();
}
