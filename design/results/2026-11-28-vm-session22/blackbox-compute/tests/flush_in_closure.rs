mod common;
use common::*;
use hmap::concurrent::Operation;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

static MAP: OnceLock<ConcurrentHashMap<u64, W>> = OnceLock::new();
static DROPS: AtomicUsize = AtomicUsize::new(0);
struct W(u64);
impl Drop for W {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
        if self.0 % 2 == 1 {
            // writes to the map it lives in: must never run under a chain lock of that map
            MAP.get().unwrap().pin().insert(1_000_000 + self.0, W(0));
        }
    }
}

#[test]
fn flush_in_compute_closure_runs_no_destructors() {
    let _w = watchdog("flush_in_closure", 30);
    let m = MAP.get_or_init(ConcurrentHashMap::new);
    let other: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for round in 0..20u64 {
        // create lots of garbage (replaced values, odd ones write on drop)
        for i in 0..300u64 {
            let v = m.pin();
            v.compute(i % 10, |_| Operation::Set(W(round * 1000 + i)));
        }
        let before = DROPS.load(Ordering::SeqCst);
        let v = m.pin();
        v.compute(5, |_| {
            v.flush();
            m.pin().flush();
            other.pin().compute(1, |_| {
                m.pin().flush();
                Operation::Set(1)
            });
            assert_eq!(DROPS.load(Ordering::SeqCst), before, "flush from closure ran destructors");
            Operation::Keep
        });
        drop(v);
        for _ in 0..10 {
            m.pin().flush();
        }
    }
    let st = m.stats();
    eprintln!("drops={} drop_panics={}", DROPS.load(Ordering::SeqCst), st.drop_panics);
    assert_eq!(st.drop_panics, 0);
    assert!(DROPS.load(Ordering::SeqCst) > 1000);
}
