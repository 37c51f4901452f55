//! A key type whose destructor writes to the *same* map the key is passed to.
mod common;
use common::*;
use hmap::concurrent::Operation;
use hmap::ConcurrentHashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

static MAP: OnceLock<ConcurrentHashMap<K, u64>> = OnceLock::new();
#[derive(Debug)]
struct K(u64, bool);
impl PartialEq for K { fn eq(&self, o: &Self) -> bool { self.0 == o.0 } }
impl Eq for K {}
impl std::hash::Hash for K { fn hash<H: std::hash::Hasher>(&self, h: &mut H) { self.0.hash(h) } }
impl Drop for K {
    fn drop(&mut self) {
        if self.1 {
            if let Some(m) = MAP.get() {
                // write to the same chain (same key value) and elsewhere
                m.pin().insert(K(self.0, false), 1);
                m.pin().compute(K(self.0 + 1, false), |_| Operation::Set(2));
            }
        }
    }
}

#[test]
fn unstored_key_destructor_writes_same_map() {
    std::panic::set_hook(Box::new(|_| {}));
    let _w = watchdog("unstored_key_destructor_writes_same_map", 30);
    let m = MAP.get_or_init(|| ConcurrentHashMap::with_capacity(0));
    for i in (0..3000u64).step_by(3) {
        let choice = i % 4;
        let r = catch_unwind(AssertUnwindSafe(|| {
            m.pin().compute(K(i, true), |_| match choice {
                0 => Operation::Keep,
                1 => Operation::Remove,
                2 => panic!("closure panics"),
                _ => Operation::Set(9),
            });
        }));
        assert_eq!(r.is_err(), choice == 2);
        if choice != 3 {
            assert_eq!(m.pin().get(&K(i, false)).copied(), Some(1), "i={i}");
        } else {
            // stored key: not dropped yet
            assert_eq!(m.pin().get(&K(i, false)).copied(), Some(9));
        }
        assert_eq!(m.pin().get(&K(i + 1, false)).copied(), if choice != 3 { Some(2) } else { None });
    }
    m.check_invariants();
}
