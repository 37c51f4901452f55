use hmap::ConcurrentHashMap;
use std::sync::OnceLock;
static MAP: OnceLock<ConcurrentHashMap<u64, u64>> = OnceLock::new();
struct Deregister;
impl Drop for Deregister {
    fn drop(&mut self) { MAP.get().unwrap().pin().remove(&1); }
}
thread_local! { static REG: Deregister = const { Deregister }; }
#[test]
fn map_used_in_tls_destructor() {
    MAP.get_or_init(ConcurrentHashMap::new);
    std::thread::spawn(|| {
        REG.with(|_| {});                       // TLS destructor registered first
        MAP.get().unwrap().pin().insert(1, 1);  // first pin: hmap registers its slot list
    }).join().unwrap();                         // exit: hmap's list is destroyed, then REG's drop pins
    assert!(MAP.get().unwrap().pin().get(&1).is_none());
}
