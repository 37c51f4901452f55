mod common;
use common::*;
use hmap::concurrent::{Computed, Operation};
use hmap::ConcurrentHashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

const MSG: &str = "may read the map but not write to it";

fn panic_msg(e: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = e.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "<non-string>".into()
    }
}

fn quiet() {
    std::panic::set_hook(Box::new(|_| {}));
}

#[test]
fn same_map_writes_from_compute_panic_and_leave_map_unchanged() {
    quiet();
    let _w = watchdog("same_map_writes", 30);
    type M = ConcurrentHashMap<u64, u64>;
    let writes: Vec<(&str, Box<dyn Fn(&M, u64)>)> = vec![
        ("pinned insert same key", Box::new(|m, k| drop(m.pin().insert(k, 9)))),
        ("pinned insert other key", Box::new(|m, k| drop(m.pin().insert(k + 1, 9)))),
        ("map.insert", Box::new(|m, k| drop(m.insert(k, 9)))),
        ("map.remove", Box::new(|m, k| drop(m.remove(&k)))),
        ("map.remove other", Box::new(|m, k| drop(m.remove(&(k + 5000))))),
        ("pinned remove absent", Box::new(|m, _| drop(m.pin().remove(&123456789)))),
        ("compute same", Box::new(|m, k| drop(m.pin().compute(k, |_| Operation::Keep)))),
        ("compute other keep", Box::new(|m, k| drop(m.pin().compute(k + 77, |_| Operation::Keep)))),
        ("update", Box::new(|m, k| drop(m.update(&k, |v| v + 1)))),
        ("update absent", Box::new(|m, _| drop(m.update(&999_999, |v| v + 1)))),
        ("get_or_insert_with", Box::new(|m, k| drop(m.get_or_insert_with(k + 3, || 1)))),
        ("get_or_insert_with present", Box::new(|m, k| drop(m.get_or_insert_with(k, || 1)))),
        ("clear", Box::new(|m, _| m.clear())),
        ("retain", Box::new(|m, _| m.retain(|_, _| true))),
        ("extend", Box::new(|m, k| { let mut r = m; r.extend([(k + 9, 1)]) })),
    ];
    for (present, cap) in [(true, 0usize), (false, 0), (true, 1000)] {
        for (name, w) in &writes {
            let map: M = ConcurrentHashMap::with_capacity(cap);
            for k in 0..200 {
                map.insert(k, k);
            }
            let k = if present { 10 } else { 100_000 };
            let r = catch_unwind(AssertUnwindSafe(|| {
                let v = map.pin();
                v.compute(k, |_| {
                    w(&map, k);
                    Operation::Set(4242)
                });
            }));
            let e = r.expect_err(&format!("{name}: write from compute closure did not panic"));
            let m = panic_msg(e);
            assert!(m.contains(MSG), "{name}: message {m:?}");
            // unchanged
            assert_eq!(map.len(), 200, "{name}");
            for q in 0..200 {
                assert_eq!(map.get_cloned(&q), Some(q), "{name}");
            }
            assert_eq!(map.get_cloned(&100_000), None, "{name}");
            // usable, including the same key's chain
            assert_eq!(map.pin().compute(k, |_| Operation::Set(5)).current(), Some(&5), "{name}");
            map.insert(k, 6);
            map.check_invariants();
        }
    }
}

#[test]
fn reads_from_compute_closure_are_allowed() {
    let _w = watchdog("reads", 30);
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for k in 0..500 {
        map.insert(k, k * 2);
    }
    let view = map.pin();
    let r = view.compute(7, |cur| {
        assert_eq!(cur, Some(&14));
        assert_eq!(map.get_cloned(&7), Some(14));
        assert_eq!(map.pin().get(&7), Some(&14));
        assert_eq!(view.get(&7), Some(&14));
        assert!(map.contains_key(&8));
        assert_eq!(map.len(), 500);
        assert_eq!(map.pin().iter().count(), 500);
        let _ = map.stats();
        let _ = map.log2_buckets();
        let _ = map.is_growing();
        let _ = format!("{:?}", map.pin().get(&1));
        view.flush();
        map.pin().flush();
        Operation::Set(cur.unwrap() + 1)
    });
    assert_eq!(r, Computed::Updated { old: &14, new: &15 });
}

#[test]
fn writes_to_other_map_from_compute_closure_work() {
    let _w = watchdog("other_map", 30);
    let a: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let b: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for k in 0..2000u64 {
        a.pin().compute(k, |_| {
            b.insert(k, k);
            b.pin().compute(k, |c| Operation::Set(c.unwrap() + 1));
            b.update(&k, |v| v + 1);
            b.get_or_insert_with(k + 100_000, || 1);
            if k % 3 == 0 {
                b.remove(&k);
            }
            if k % 500 == 0 {
                b.retain(|_, _| true);
            }
            Operation::Set(k)
        });
    }
    assert_eq!(a.len(), 2000);
    for k in 0..2000u64 {
        assert_eq!(b.get_cloned(&k), if k % 3 == 0 { None } else { Some(k + 2) });
    }
    b.check_invariants();
    a.check_invariants();
}

#[test]
fn compute_inside_update_and_retain_of_other_map() {
    let _w = watchdog("compute_inside_update", 30);
    let a: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let b: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for k in 0..300 {
        a.insert(k, k);
    }
    for k in 0..300 {
        a.update(&k, |v| {
            b.pin().compute(*v, |c| Operation::Set(c.map_or(1, |x| x + 1)));
            v + 1
        });
    }
    a.retain(|k, _| {
        b.pin().compute(*k, |c| match c {
            Some(_) if k % 2 == 0 => Operation::Remove,
            _ => Operation::Keep,
        });
        true
    });
    a.pin().get_or_insert_with(1000, || {
        b.pin().compute(1000, |_| Operation::Set(5));
        3
    });
    assert_eq!(b.get_cloned(&1000), Some(5));
    for k in 0..300 {
        assert_eq!(b.get_cloned(&k), if k % 2 == 0 { None } else { Some(1) });
    }
    // and compute of a inside compute of b inside compute of a (different maps, writes allowed)
    a.pin().compute(1, |_| {
        b.pin().compute(1, |_| {
            let c: ConcurrentHashMap<u8, u8> = ConcurrentHashMap::new();
            c.pin().compute(1, |_| Operation::Set(1));
            Operation::Set(77)
        });
        Operation::Keep
    });
    assert_eq!(b.get_cloned(&1), Some(77));
}

#[test]
fn write_to_same_map_from_closure_during_growth_panics() {
    quiet();
    let _w = watchdog("growth_write", 30);
    for i in 0..200u64 {
        let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
        for k in 0..(13 + i) {
            map.insert(k, k);
        }
        let grew = map.is_growing();
        let r = catch_unwind(AssertUnwindSafe(|| {
            map.pin().compute(i % 13, |_| {
                map.insert(i % 13 + 1, 0);
                Operation::Remove
            });
        }));
        assert!(panic_msg(r.expect_err("no panic")).contains(MSG), "grew={grew}");
        assert_eq!(map.len() as u64, 13 + i);
    }
}

#[test]
fn panicking_closure_leaves_map_unchanged_and_lock_released() {
    quiet();
    let _w = watchdog("panicking_closure", 30);
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for k in 0..100 {
        map.insert(k, k);
    }
    for k in 0..200u64 {
        let r = catch_unwind(AssertUnwindSafe(|| {
            map.pin().compute(k, |_| -> Operation<u64> { panic!("boom {k}") });
        }));
        assert!(r.is_err());
        assert_eq!(map.len(), 100);
        // lock released: another thread can write the same key
        std::thread::scope(|s| {
            s.spawn(|| {
                map.pin().compute(k, |c| match c {
                    Some(v) => Operation::Set(*v),
                    None => Operation::Keep,
                });
            });
        });
    }
    for k in 0..100u64 {
        assert_eq!(map.get_cloned(&k), Some(k));
    }
    assert_eq!(map.get_cloned(&150), None);
    map.check_invariants();
}

/// Key whose destructor writes to the map in a global static.
static KMAP: std::sync::OnceLock<ConcurrentHashMap<u64, u64>> = std::sync::OnceLock::new();
#[derive(PartialEq, Eq, Hash, Debug)]
struct WritingKey(u64);
impl Drop for WritingKey {
    fn drop(&mut self) {
        if let Some(m) = KMAP.get() {
            if self.0 < 1_000_000 {
                m.insert(self.0 + 1_000_000, self.0);
            }
        }
    }
}
static WMAP: std::sync::OnceLock<ConcurrentHashMap<WritingKey, u64>> = std::sync::OnceLock::new();

#[test]
fn unstored_key_destructor_may_write_to_the_map() {
    quiet();
    let _w = watchdog("key_destructor_writes", 30);
    // Key type's map is another map here (KMAP); then the same map (WMAP).
    let k = KMAP.get_or_init(ConcurrentHashMap::new);
    let _ = k;
    let m = WMAP.get_or_init(ConcurrentHashMap::new);
    let _ = m;
    // Same map: key's Drop writes to WMAP? WritingKey writes to KMAP; do a same-map variant:
    let same: &'static ConcurrentHashMap<u64, u64> = KMAP.get().unwrap();
    for i in 0..100u64 {
        // KMAP<u64,u64> keys are u64; use WMAP with WritingKey whose drop writes to KMAP.
        m.pin().compute(WritingKey(i), |_| Operation::Keep);
        assert_eq!(same.get_cloned(&(i + 1_000_000)), Some(i));
        m.pin().compute(WritingKey(i), |_| Operation::Remove);
        let r = catch_unwind(AssertUnwindSafe(|| { m.pin().compute(WritingKey(i + 500), |_| -> Operation<u64> { panic!("x") }); }));
        assert!(r.is_err());
        assert_eq!(same.get_cloned(&(i + 1_000_500)), Some(i + 500));
    }
}

#[test]
fn nested_refusal_unwinds_both_maps_and_restores_state() {
    quiet();
    let _w = watchdog("nested_refusal", 30);
    let l = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    struct D(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let a: ConcurrentHashMap<u64, D> = ConcurrentHashMap::new();
    let b: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    a.pin().insert(1, D(l.clone()));
    b.insert(1, 1);
    let r = catch_unwind(AssertUnwindSafe(|| {
        a.pin().compute(1, |_| {
            b.pin().compute(1, |_| {
                b.insert(2, 2); // write to B from B's closure: refused
                Operation::Remove
            });
            Operation::Remove
        });
    }));
    assert!(panic_msg(r.unwrap_err()).contains(MSG));
    assert!(a.contains_key(&1));
    assert_eq!(b.get_cloned(&1), Some(1));
    // state restored: writes to both work, and flush is effective again
    for i in 0..500 {
        a.pin().insert(1, D(l.clone()));
        let _ = i;
    }
    b.insert(3, 3);
    for _ in 0..50 {
        a.pin().flush();
    }
    assert!(l.load(std::sync::atomic::Ordering::SeqCst) >= 400, "flush ineffective after nested panic");
    // a closure that catches the refusal itself and then sets: applied, map consistent
    let v = a.pin();
    let r = v.compute(7, |_| {
        let caught = catch_unwind(AssertUnwindSafe(|| drop(a.pin().insert(8, D(l.clone())))));
        assert!(caught.is_err());
        Operation::Set(D(l.clone()))
    });
    assert!(matches!(r, Computed::Inserted(_)));
    assert!(!a.contains_key(&8));
    a.check_invariants();
}

#[test]
fn refusal_still_active_after_inner_map_closure_panicked_and_was_caught() {
    quiet();
    let _w = watchdog("refusal_after_inner_catch", 20);
    let a: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    let b: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    a.insert(1, 1);
    let v = a.pin();
    let r = v.compute(1, |_| {
        let inner = catch_unwind(AssertUnwindSafe(|| {
            b.pin().compute(1, |_| -> Operation<u64> { panic!("inner") });
        }));
        assert!(inner.is_err());
        // B usable from here
        b.insert(2, 2);
        // A still refused
        let w = catch_unwind(AssertUnwindSafe(|| drop(a.insert(3, 3))));
        assert!(panic_msg(w.unwrap_err()).contains(MSG));
        Operation::Set(10)
    });
    assert_eq!(r, Computed::Updated { old: &1, new: &10 });
    assert_eq!(b.get_cloned(&2), Some(2));
    assert!(!a.contains_key(&3));
}

/// Eq panics under the chain lock; the passed key's destructor writes to the map.
static EQ_MAP: std::sync::OnceLock<ConcurrentHashMap<EqKey, u64>> = std::sync::OnceLock::new();
#[derive(Debug)]
struct EqKey(u64, bool, bool); // (k, panic_in_eq, write_on_drop)
impl PartialEq for EqKey {
    fn eq(&self, o: &Self) -> bool {
        if self.1 || o.1 {
            panic!("eq panics");
        }
        self.0 == o.0
    }
}
impl Eq for EqKey {}
impl std::hash::Hash for EqKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h)
    }
}
impl Drop for EqKey {
    fn drop(&mut self) {
        if self.2 {
            EQ_MAP.get().unwrap().pin().insert(EqKey(self.0 + 10_000, false, false), 1);
        }
    }
}

#[test]
fn panicking_eq_in_compute_releases_chain_before_key_drop() {
    quiet();
    let _w = watchdog("eq_panic", 20);
    let m = EQ_MAP.get_or_init(ConcurrentHashMap::new);
    for k in 0..50u64 {
        m.pin().insert(EqKey(k, false, false), k);
    }
    for k in 0..50u64 {
        let mut called = false;
        let r = catch_unwind(AssertUnwindSafe(|| {
            m.pin().compute(EqKey(k, true, true), |_| {
                called = true;
                Operation::Set(0)
            });
        }));
        assert!(r.is_err());
        assert!(!called);
        assert!(m.pin().contains_key(&EqKey(k + 10_000, false, false)));
        assert_eq!(m.pin().get(&EqKey(k, false, false)), Some(&k));
    }
    assert_eq!(m.len(), 100);
}

#[test]
fn compute_from_closures_of_same_map_is_refused() {
    quiet();
    let _w = watchdog("compute_in_same_map_closures", 20);
    let a: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    for k in 0..100 {
        a.insert(k, k);
    }
    let r = catch_unwind(AssertUnwindSafe(|| a.retain(|k, _| { a.pin().compute(*k, |_| Operation::Remove); true })));
    assert!(panic_msg(r.unwrap_err()).contains(MSG));
    let r = catch_unwind(AssertUnwindSafe(|| drop(a.update(&5, |v| { a.pin().compute(5, |_| Operation::Remove); *v }))));
    assert!(panic_msg(r.unwrap_err()).contains(MSG));
    let r = catch_unwind(AssertUnwindSafe(|| drop(a.get_or_insert_with(500, || { a.pin().compute(501, |_| Operation::Keep); 1 }))));
    assert!(panic_msg(r.unwrap_err()).contains(MSG));
    assert_eq!(a.len(), 100);
    a.check_invariants();
}
