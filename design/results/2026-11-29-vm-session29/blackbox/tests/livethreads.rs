mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::sync::{Arc, Barrier};
use std::thread;

/// Threads that retired values are still alive (parked) when the map is dropped.
#[test]
fn drop_map_while_retiring_threads_alive() {
    let l = Ledger::new(1 << 16);
    let m = Arc::new(ConcurrentHashMap::<u64, Tracked>::new());
    let b1 = Arc::new(Barrier::new(5));
    let b2 = Arc::new(Barrier::new(5));
    let hs: Vec<_> = (0..4u64).map(|t| { let m = m.clone(); let l = l.clone(); let b1 = b1.clone(); let b2 = b2.clone(); thread::spawn(move || {
        for i in 0..30u64 { m.pin().insert(t, Tracked::new(i, &l)); } // 29 retired, few -> stay in local bag
        m.pin().remove(&t);
        drop(m);
        b1.wait(); // map dropped by main now
        b2.wait();
    })}).collect();
    b1.wait();
    let m = Arc::try_unwrap(m).ok().expect("sole owner");
    drop(m);
    let live = l.live();
    l.check_no_double();
    b2.wait();
    for h in hs { h.join().unwrap(); }
    assert_eq!(live, 0, "values not dropped when the map was dropped while retiring threads are alive");
    l.check_all_dropped_once();
}

/// Views alive in other threads? Not possible (borrow). Scoped threads retire, park; map dropped after scope.
#[test]
fn garbage_tally_and_len_after_threads_exit() {
    let l = Ledger::new(1 << 20);
    let m = ConcurrentHashMap::<u64, Tracked>::new();
    thread::scope(|s| { for t in 0..8u64 { let m = &m; let l = &l; s.spawn(move || { for i in 0..1000 { m.pin().insert(t * 10 + i % 10, Tracked::new(i, l)); } }); } });
    assert_eq!(m.len(), 80);
    for _ in 0..4 { m.pin().flush(); }
    let s = m.stats();
    eprintln!("{s:?} live {}", l.live());
    assert!(l.live() as usize >= 80);
    drop(m);
    l.check_all_dropped_once();
}
