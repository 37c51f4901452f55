use hmap::wrappers::SyncMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
static MAP: OnceLock<Arc<SyncMap<u64, V>>> = OnceLock::new();
#[derive(Debug)]
struct V(u64);
impl Clone for V { fn clone(&self) -> Self { V(self.0 + 100) } }
impl PartialEq for V { fn eq(&self, o: &Self) -> bool { self.0 % 100 == o.0 % 100 } }
impl Drop for V { fn drop(&mut self) { if self.0 == 9 { if let Some(m) = MAP.get() { let _ = m.load(&12345); } } } }
#[test]
fn failed_cas_on_dirty_only_key_drops_new_value_under_lock() {
    let m = Arc::new(SyncMap::new());
    MAP.set(m.clone()).unwrap();
    m.store(7u64, V(1)); // dirty-only
    let (tx, rx) = std::sync::mpsc::channel();
    let m2 = m.clone();
    std::thread::spawn(move || { let ok = m2.compare_and_swap(&7, &V(5), V(9)); tx.send(ok).unwrap(); });
    match rx.recv_timeout(Duration::from_secs(5)) { Ok(ok) => println!("returned {ok}"), Err(_) => panic!("failed CAS hung: rejected `new` dropped under the mutex") }
}
