use hmap::wrappers::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || { let r = catch_unwind(AssertUnwindSafe(f)); let _ = tx.send(r); });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: panicked: {:?}", e.downcast_ref::<&str>().map(|s| s.to_string()).or(e.downcast_ref::<String>().cloned()))),
        Err(_) => Err(format!("{what}: HANG ({secs}s)")),
    }
}

type SM = SyncMap<u64, Cb>;
#[derive(Clone)]
struct Cb(Arc<OnceLock<Arc<SM>>>, u64);
impl PartialEq for Cb { fn eq(&self, o: &Self) -> bool { self.1 == o.1 } }
impl Drop for Cb {
    fn drop(&mut self) {
        if let Some(m) = self.0.get() {
            // Use the map from a destructor (Go programs can't, but the doc says user Drop never runs under the mutex)
            let _ = m.load(&(self.1 + 777_000));
            if self.1 % 2 == 0 && self.1 < 1_000_000 { m.store(self.1 + 1_000_000, Cb(Arc::new(OnceLock::new()), 0)); }
        }
    }
}

#[test]
fn syncmap_value_drop_may_use_map() {
    for case in (0..14).filter(|c| ![6, 7, 8, 9].contains(c)) {
        let r = within(5, &format!("case {case}"), move || {
            let cell: Arc<OnceLock<Arc<SM>>> = Arc::new(OnceLock::new());
            let m: Arc<SM> = Arc::new(SyncMap::new());
            cell.set(m.clone()).ok();
            let mk = |k: u64| Cb(cell.clone(), k);
            for k in 0..20 { m.store(k, mk(k)); }
            if case % 2 == 1 { m.load(&99_999); } // promote
            m.store(100, mk(100)); // dirty
            match case / 2 {
                0 => { m.store(2, mk(2)); m.store(100, mk(100)); m.swap(4, mk(4)); }
                1 => { m.delete(&2); m.delete(&100); m.load_and_delete(&4); }
                2 => { let o = mk(2); m.compare_and_delete(&2, &o); }
                3 => { let o = mk(100); m.compare_and_swap(&100, &o, mk(100)); }
                4 => { let o = mk(2); m.compare_and_swap(&2, &o, mk(2)); }
                5 => { let o = mk(100); m.compare_and_delete(&100, &o); }
                _ => { m.clear(); }
            }
            m.check_invariants();
            m.len()
        });
        println!("case {case}: {r:?}");
        assert!(r.is_ok(), "{r:?}");
    }
}
