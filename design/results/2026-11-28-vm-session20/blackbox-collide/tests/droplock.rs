use hmap::ConcurrentHashMap;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static CLONE_PANICS: AtomicBool = AtomicBool::new(false);

#[derive(PartialEq, Eq, Debug)]
struct K(u64);
impl Hash for K {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.hash(h)
    }
}
impl Clone for K {
    fn clone(&self) -> Self {
        if CLONE_PANICS.load(Ordering::SeqCst) {
            panic!("K::clone panics");
        }
        K(self.0)
    }
}

/// A value whose destructor writes to the map (allowed for retired values by the contract).
struct V(bool);
impl Drop for V {
    fn drop(&mut self) {
        if self.0 {
            eprintln!("V::drop: writing to the map");
            MAP.get().unwrap().pin().insert(K(1), V(false));
            eprintln!("V::drop: write done");
        }
    }
}

static MAP: OnceLock<ConcurrentHashMap<K, V>> = OnceLock::new();

#[test]
fn value_dropped_under_chain_lock_when_clone_panics() {
    let map = MAP.get_or_init(ConcurrentHashMap::new);
    map.pin().insert(K(1), V(false));
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(5));
        eprintln!("HANG: update did not return within 5 s");
        std::process::exit(3);
    });
    CLONE_PANICS.store(true, Ordering::SeqCst);
    let r = catch_unwind(AssertUnwindSafe(|| {
        map.pin().update(&K(1), |_| V(true));
    }));
    CLONE_PANICS.store(false, Ordering::SeqCst);
    assert!(r.is_err());
    eprintln!("update returned (panicked as planned)");
}
