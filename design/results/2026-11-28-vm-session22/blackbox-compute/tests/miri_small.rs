//! Small scenarios sized for Miri: `cargo +nightly miri test --test miri_small`.
use hmap::concurrent::{Computed, Operation};
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

static MADE: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);
#[derive(Debug, PartialEq)]
struct V(Box<u64>);
impl V {
    fn new(x: u64) -> V {
        MADE.fetch_add(1, Ordering::SeqCst);
        V(Box::new(x))
    }
}
impl Drop for V {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn miri_compute_outcomes_growth_and_refs() {
    {
        let map: ConcurrentHashMap<u64, V> = ConcurrentHashMap::new();
        let view = map.pin();
        let mut keep = Vec::new();
        for i in 0..60u64 {
            let r = view.compute(i % 25, |c| match c {
                None => Operation::Set(V::new(i)),
                Some(v) if *v.0 % 3 == 0 => Operation::Remove,
                Some(v) => Operation::Set(V::new(*v.0 + 100)),
            });
            if let Some(p) = r.previous() {
                keep.push((p, *p.0));
            }
            if let Some(c) = r.current() {
                keep.push((c, *c.0));
            }
            let r2 = view.compute(i % 25, |_| Operation::Keep);
            let _ = r2.current().map(|v| *v.0);
            drop(map.insert(1000 + i, V::new(i)));
        }
        for (r, x) in &keep {
            assert_eq!(*r.0, *x);
        }
        drop(view);
        for _ in 0..3 {
            map.pin().flush();
        }
        assert!(map.stats().growths > 0);
    }
    assert_eq!(MADE.load(Ordering::SeqCst), DROPPED.load(Ordering::SeqCst));
}

impl Clone for V {
    fn clone(&self) -> V {
        V::new(*self.0)
    }
}

#[test]
fn miri_two_threads_compute_and_remove() {
    let map: ConcurrentHashMap<u64, u64> = ConcurrentHashMap::new();
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let map = &map;
            s.spawn(move || {
                for i in 0..40u64 {
                    let v = map.pin();
                    let r = v.compute(i % 10, |c| Operation::Set(c.map_or(1, |c| c + 1)));
                    assert!(matches!(r, Computed::Inserted(_) | Computed::Updated { .. }));
                    if t == 1 && i % 7 == 0 {
                        let v2 = map.pin();
                        let _ = v2.compute(100 + i, |_| Operation::Set(1));
                        let _ = v2.compute(100 + i, |_| Operation::Remove);
                    }
                }
            });
        }
    });
    let total: u64 = map.pin().values().sum();
    assert_eq!(total, 80);
}

static KM: std::sync::OnceLock<ConcurrentHashMap<K, u64>> = std::sync::OnceLock::new();
#[derive(Debug)]
struct K(u64, bool);
impl PartialEq for K {
    fn eq(&self, o: &K) -> bool {
        self.0 == o.0
    }
}
impl Eq for K {}
impl std::hash::Hash for K {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h)
    }
}
impl Drop for K {
    fn drop(&mut self) {
        if self.1 {
            KM.get().unwrap().pin().compute(K(self.0 + 1000, false), |_| Operation::Set(1));
        }
    }
}

#[test]
fn miri_key_drop_writes_panicking_closure_and_refs_across_threads() {
    let m = KM.get_or_init(ConcurrentHashMap::new);
    for i in 0..12u64 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            m.pin().compute(K(i, true), |_| if i % 3 == 0 { panic!("p") } else if i % 3 == 1 { Operation::Keep } else { Operation::Remove });
        }));
        assert_eq!(r.is_err(), i % 3 == 0);
        assert!(m.pin().contains_key(&K(i + 1000, false)));
    }
    let view = m.pin();
    let r = view.compute(K(5, false), |_| Operation::Set(55));
    std::thread::scope(|s| {
        s.spawn(|| {
            for j in 0..10 {
                m.pin().compute(K(5, false), |_| if j % 2 == 0 { Operation::Remove } else { Operation::Set(j) });
                m.pin().flush();
            }
        });
    });
    assert_eq!(r.current(), Some(&55));
}
