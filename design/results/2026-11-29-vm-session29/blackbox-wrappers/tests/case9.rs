use hmap::wrappers::*;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
type SM = SyncMap<u64, Cb>;
#[derive(Clone)]
struct Cb(Arc<OnceLock<Arc<SM>>>, u64);
impl PartialEq for Cb { fn eq(&self, o: &Self) -> bool { self.1 == o.1 } }
impl Drop for Cb {
    fn drop(&mut self) {
        if let Some(m) = self.0.get() {
            eprintln!("drop Cb({}) load\n{}", self.1, std::backtrace::Backtrace::force_capture());
            let _ = m.load(&(self.1 + 777_000));
            if self.1 % 2 == 0 && self.1 < 1_000_000 { eprintln!("drop Cb({}) store", self.1); m.store(self.1 + 1_000_000, Cb(Arc::new(OnceLock::new()), 0)); }
            eprintln!("drop Cb({}) done", self.1);
        }
    }
}
#[test]
fn case9() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let cell: Arc<OnceLock<Arc<SM>>> = Arc::new(OnceLock::new());
        let m: Arc<SM> = Arc::new(SyncMap::new());
        cell.set(m.clone()).ok();
        let mk = |k: u64| Cb(cell.clone(), k);
        for k in 0..20 { m.store(k, mk(k)); }
        m.load(&99_999);
        m.store(100, mk(100));
        eprintln!("-- cas");
        let o = mk(2); m.compare_and_swap(&2, &o, mk(2));
        eprintln!("-- drop o");
        drop(o);
        eprintln!("-- invariants");
        m.check_invariants();
        eprintln!("-- len");
        tx.send(m.len()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(5)).expect("hang");
}
