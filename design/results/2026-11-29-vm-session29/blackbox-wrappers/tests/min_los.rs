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
fn others() {
    let m = Arc::new(SyncMap::new());
    MAP.set(m.clone()).unwrap();
    m.store(7u64, V(1)); // dirty-only
    let m2 = m.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = m2.load_or_store(7, V(9)); eprintln!("load_or_store dirty-only ok {:?}", r.1);
        m2.store(7, V(9)); m2.store(7, V(1)); eprintln!("store replacing V(9) in dirty ok");
        m2.store(7, V(9)); let _ = m2.swap(7, V(1)); eprintln!("swap ok");
        m2.store(7, V(9)); let _ = m2.load_and_delete(&7); eprintln!("lad ok");
        m2.store(7, V(9)); m2.delete(&7); eprintln!("delete ok");
        m2.store(7, V(9)); m2.store(8, V(2)); m2.clear(); eprintln!("clear ok");
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(5)).expect("hang");
}
