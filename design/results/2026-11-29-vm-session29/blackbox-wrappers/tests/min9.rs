use hmap::wrappers::SyncMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

static MAP: OnceLock<Arc<SyncMap<u64, V>>> = OnceLock::new();
#[derive(Debug)]
struct V(u64);
impl Clone for V { fn clone(&self) -> Self { V(self.0 + 100) } }
impl PartialEq for V { fn eq(&self, o: &Self) -> bool { self.0 % 100 == o.0 % 100 } }
impl Drop for V {
    fn drop(&mut self) {
        if self.0 == 1 { if let Some(m) = MAP.get() { eprintln!("  drop V(1): calling load"); let _ = m.load(&12345); eprintln!("  drop V(1): load returned"); } }
    }
}

#[test]
fn cas_on_snapshot_key() {
    let m = Arc::new(SyncMap::new());
    MAP.set(m.clone()).unwrap();
    m.store(7u64, V(1));
    m.load(&0); // promote: 7 now in the read-only snapshot
    m.store(8, V(50)); // a new key: dirty map exists, amended
    eprintln!("stats {:?}", m.stats());
    let (tx, rx) = std::sync::mpsc::channel();
    let m2 = m.clone();
    std::thread::spawn(move || { eprintln!("calling cas"); let ok = m2.compare_and_swap(&7, &V(101), V(2)); eprintln!("cas returned {ok}"); tx.send(ok).unwrap(); });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(ok) => println!("compare_and_swap returned {ok}"),
        Err(_) => panic!("hang"),
    }
}
