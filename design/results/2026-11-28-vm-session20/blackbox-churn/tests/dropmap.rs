use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Arc;
struct P(Arc<AtomicUsize>, bool);
impl Drop for P { fn drop(&mut self) { self.0.fetch_add(1, SeqCst); if self.1 { panic!("drop panic"); } } }

#[test]
fn live_value_drop_panics_during_map_drop() {
    let drops = Arc::new(AtomicUsize::new(0));
    let map = ConcurrentHashMap::<u64, P>::new();
    for k in 0..100 { map.pin().insert(k, P(drops.clone(), k == 50)); }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(map)));
    eprintln!("drop result is_err={} dropped={}", r.is_err(), drops.load(SeqCst));
    assert_eq!(drops.load(SeqCst), 100);
}

#[test]
fn retired_value_drop_panics_during_map_drop() {
    let drops = Arc::new(AtomicUsize::new(0));
    let map = ConcurrentHashMap::<u64, P>::new();
    for k in 0..100 { map.pin().insert(k, P(drops.clone(), k % 10 == 0)); }
    for k in 0..100 { map.pin().remove(&k); }
    let st = map.stats();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(map)));
    eprintln!("{st:?} drop result is_err={} dropped={}", r.is_err(), drops.load(SeqCst));
    assert_eq!(drops.load(SeqCst), 100);
}
