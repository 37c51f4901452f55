use hmap::ConcurrentHashMap;
use std::sync::{Arc, OnceLock};

static MAP: OnceLock<ConcurrentHashMap<u64, u64>> = OnceLock::new();

struct Registration(u64);
impl Drop for Registration {
    fn drop(&mut self) {
        // Common pattern: a thread deregisters itself from a global map when it exits.
        MAP.get().unwrap().pin().remove(&self.0);
    }
}
thread_local! {
    static REG: std::cell::RefCell<Option<Registration>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn tls_destructor_uses_map_after_first_pin() {
    MAP.get_or_init(ConcurrentHashMap::new);
    let h = std::thread::spawn(|| {
        // The user TLS is initialized (and its destructor registered) before the first pin.
        REG.with(|r| *r.borrow_mut() = Some(Registration(7)));
        MAP.get().unwrap().pin().insert(7, 7);
    });
    h.join().unwrap();
    assert!(MAP.get().unwrap().pin().get(&7).is_none());
}

struct Late(Arc<ConcurrentHashMap<u64, u64>>);
impl Drop for Late {
    fn drop(&mut self) { self.0.pin().insert(1, 1); }
}
thread_local! {
    static LATE: std::cell::RefCell<Option<Late>> = const { std::cell::RefCell::new(None) };
}
#[test]
fn tls_destructor_pins_map_first_time() {
    let map = Arc::new(ConcurrentHashMap::new());
    let m2 = map.clone();
    let other = Arc::new(ConcurrentHashMap::<u64,u64>::new());
    let o2 = other.clone();
    std::thread::spawn(move || {
        LATE.with(|r| *r.borrow_mut() = Some(Late(m2)));
        o2.pin().insert(5, 5); // registers OWNED via another map
    }).join().unwrap();
    assert_eq!(map.pin().get(&1), Some(&1));
}
