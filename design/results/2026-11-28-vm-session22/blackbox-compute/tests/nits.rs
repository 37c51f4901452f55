//! Smaller observations (documentation / messages).
mod common;
use common::*;
use hmap::concurrent::Operation;
use hmap::ConcurrentHashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The refusal message names `update`, `get_or_insert_with` and `retain`, not `compute`,
/// although the write came from `compute`'s closure.
#[test]
fn refusal_message_from_compute_names_compute() {
    std::panic::set_hook(Box::new(|_| {}));
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        map.pin().compute(1, |_| {
            map.insert(2, 2);
            Operation::Keep
        });
    }));
    let e = r.unwrap_err();
    let msg = e.downcast_ref::<&str>().map(|s| s.to_string()).or(e.downcast_ref::<String>().cloned()).unwrap();
    eprintln!("message: {msg}");
    assert!(msg.contains("may read the map but not write to it"));
    assert!(msg.contains("compute"), "message does not mention compute: {msg:?}");
}

/// force_growth (doc-hidden) from inside a compute closure: not refused; does the decision survive?
#[test]
fn force_growth_inside_compute_closure() {
    let _w = watchdog("force_growth_in_closure", 20);
    for same in [false, true] {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        for k in 0..100 {
            map.insert(k, k);
        }
        let v = map.pin();
        v.compute(5, |_| {
            map.force_growth(same);
            Operation::Set(555)
        });
        v.compute(6, |_| {
            map.force_growth(same);
            Operation::Remove
        });
        drop(v);
        for i in 0..1000 {
            map.insert(10_000 + i, 0);
        }
        assert_eq!(map.get_cloned(&5), Some(555));
        assert_eq!(map.get_cloned(&6), None);
        map.check_invariants();
    }
}
