mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

thread_local! { static ARM: Cell<bool> = const { Cell::new(false) }; }
struct CV(Tracked);
impl Clone for CV { fn clone(&self) -> Self { if ARM.with(|a| a.get()) { panic!("value clone boom") } CV(self.0.clone()) } }

#[test]
fn value_clone_panics_in_convenience_methods() {
    let l = Ledger::new(1 << 16);
    {
        let m: ConcurrentHashMap<u64, CV, ConstState> = ConcurrentHashMap::with_hasher(ConstState);
        for i in 0..20 { m.pin().insert(i, CV(Tracked::new(i, &l))); }
        let ops: Vec<(&str, Box<dyn Fn(&ConcurrentHashMap<u64, CV, ConstState>, &Arc<Ledger>)>)> = vec![
            ("insert present", Box::new(|m, l| { m.insert(1, CV(Tracked::new(100, l))); })),
            ("remove present", Box::new(|m, _| { m.remove(&2); })),
            ("update present", Box::new(|m, l| { m.update(&3, |v| CV(Tracked::new(v.0.val + 1, l))); })),
            ("get_or_insert_with present", Box::new(|m, l| { m.get_or_insert_with(4, || CV(Tracked::new(0, l))); })),
            ("get_or_insert_with absent", Box::new(|m, l| { m.get_or_insert_with(50, || CV(Tracked::new(50, l))); })),
            ("get_cloned", Box::new(|m, _| { m.get_cloned(&5); })),
            ("clone map", Box::new(|m, _| { let _ = m.clone(); })),
        ];
        for (name, op) in ops {
            let before: Vec<(u64, u64)> = { let mut v: Vec<_> = m.pin().iter().map(|(k, v)| (*k, v.0.val)).collect(); v.sort(); v };
            ARM.with(|a| a.set(true));
            let r = catch_unwind(AssertUnwindSafe(|| op(&m, &l)));
            ARM.with(|a| a.set(false));
            let after: Vec<(u64, u64)> = { let mut v: Vec<_> = m.pin().iter().map(|(k, v)| (*k, v.0.val)).collect(); v.sort(); v };
            eprintln!("{name}: panicked={} changed={}", r.is_err(), before != after);
            assert_eq!(m.len(), after.len());
            // map usable: write same chain
            m.insert(999, CV(Tracked::new(999, &l)));
            m.remove(&999);
            l.check_no_double();
        }
    }
    l.check_all_dropped_once();
}
