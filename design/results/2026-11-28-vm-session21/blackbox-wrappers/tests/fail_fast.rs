mod common;
use common::*;
use hmap::wrappers::FailFastMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

/// Correct, externally synchronized use from several threads never panics.
#[test]
fn no_false_positive_with_external_mutex() {
    let m = Arc::new(FailFastMap::<u64, u64>::new());
    let lock = Arc::new(Mutex::new(()));
    let hs: Vec<_> = (0..4u64)
        .map(|t| {
            let (m, lock) = (m.clone(), lock.clone());
            thread::spawn(move || {
                let mut rng = Rng(t);
                for i in 0..50_000u64 {
                    let _g = lock.lock().unwrap();
                    let k = rng.below(3000);
                    match rng.below(6) {
                        0 | 1 => {
                            m.insert(k, i);
                        }
                        2 => {
                            m.remove(&k);
                        }
                        3 => {
                            m.get(&k);
                        }
                        4 => {
                            m.contains_key(&k);
                        }
                        _ => {
                            if i % 500 == 0 {
                                let mut n = 0;
                                m.range(|_, _| {
                                    n += 1;
                                    true
                                });
                                assert_eq!(n, m.len());
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(m.detections(), 0);
}

/// Hand-off synchronization via an atomic flag (Release/Acquire), no mutex: still no false positive.
#[test]
fn no_false_positive_with_handoff() {
    let m = Arc::new(FailFastMap::<u64, u64>::new());
    let turn = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..2u64)
        .map(|t| {
            let (m, turn) = (m.clone(), turn.clone());
            thread::spawn(move || {
                for i in 0..20_000u64 {
                    while turn.load(Ordering::Acquire) % 2 != t {
                        std::hint::spin_loop();
                    }
                    m.insert(i % 1000, i);
                    m.get(&(i % 999));
                    m.remove(&(i % 777));
                    turn.fetch_add(1, Ordering::Release);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(m.detections(), 0);
}

/// Real concurrent write/write: eventually detected, with Go's message, and the map is still
/// consistent afterwards; reads concurrent with readers never panic.
#[test]
fn detects_concurrent_writes_and_stays_consistent() {
    quiet_panics();
    let m = Arc::new(FailFastMap::<u64, u64>::new());
    let msgs = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let b = Arc::new(Barrier::new(2));
    let hs: Vec<_> = (0..2u64)
        .map(|t| {
            let (m, msgs, stop, b) = (m.clone(), msgs.clone(), stop.clone(), b.clone());
            thread::spawn(move || {
                b.wait();
                let mut i = 0u64;
                let start = std::time::Instant::now();
                while !stop.load(Ordering::Relaxed) && start.elapsed().as_secs() < 8 {
                    let r = catch_unwind(AssertUnwindSafe(|| {
                        if t == 0 || i % 2 == 0 {
                            m.insert(i % 5000, i);
                        } else {
                            m.remove(&(i % 5000));
                        }
                    }));
                    if let Err(e) = r {
                        msgs.lock().unwrap().push(panic_msg(&e));
                        if msgs.lock().unwrap().len() > 50 {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let msgs = msgs.lock().unwrap();
    assert!(!msgs.is_empty(), "no concurrent write ever detected");
    for s in msgs.iter() {
        assert_eq!(s, "concurrent map writes");
    }
    let inner = Arc::try_unwrap(m).ok().unwrap();
    let len = inner.len();
    let map = inner.into_inner();
    map.check_invariants();
    assert_eq!(map.len(), len);
}

#[test]
fn detects_read_write_and_iteration_write() {
    quiet_panics();
    let m = Arc::new(FailFastMap::<u64, u64>::new());
    for i in 0..2000 {
        m.insert(i, i);
    }
    let seen = Arc::new(Mutex::new(std::collections::HashSet::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let hs: Vec<_> = (0..2u64)
        .map(|t| {
            let (m, seen, stop) = (m.clone(), seen.clone(), stop.clone());
            thread::spawn(move || {
                let start = std::time::Instant::now();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && start.elapsed().as_secs() < 8 {
                    let r = catch_unwind(AssertUnwindSafe(|| match t {
                        0 => {
                            m.insert(i % 2000, i);
                        }
                        _ => {
                            if i % 50 == 0 {
                                let mut n = 0;
                                m.range(|k, v| {
                                    // values are consistent
                                    assert!(*v % 2000 == *k);
                                    n += 1;
                                    true
                                });
                                assert_eq!(n, 2000);
                            } else {
                                let v = m.get(&(i % 2000)).unwrap();
                                assert_eq!(v % 2000, i % 2000);
                            }
                        }
                    }));
                    if let Err(e) = r {
                        let mut s = seen.lock().unwrap();
                        s.insert(panic_msg(&e));
                        if s.len() >= 2 {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let s = seen.lock().unwrap();
    eprintln!("messages: {s:?}");
    let allowed = [
        "concurrent map read and map write",
        "concurrent map iteration and map write",
    ];
    for x in s.iter() {
        assert!(allowed.contains(&x.as_str()), "unexpected message {x:?}");
    }
    assert!(s.contains("concurrent map read and map write"));
    assert!(s.contains("concurrent map iteration and map write"));
    assert!(m.detections() > 0);
}

/// Single-threaded misuse: write inside range panics with the iteration message and takes no
/// effect; reads inside range are fine; a panicking Hash inside insert does not wedge the map.
#[test]
fn single_thread_reentrance_and_user_panics() {
    quiet_panics();
    let m = FailFastMap::<PKey, u64>::new();
    for i in 0..100 {
        m.insert(PKey::new(i), i);
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        m.range(|k, _| {
            assert_eq!(m.get(&PKey::new(k.k)), Some(k.k));
            m.remove(&PKey::new(3));
            true
        })
    }));
    assert_eq!(panic_msg(&r.unwrap_err()), "concurrent map iteration and map write");
    assert_eq!(m.len(), 100);
    let r = catch_unwind(AssertUnwindSafe(|| m.clear_in_range()));
    let _ = r;
    // panicking hash in a write: the map remains usable, no false detection afterwards
    for at in 0..20 {
        HASH_PANIC_IN.with(|c| c.set(at));
        let _ = catch_unwind(AssertUnwindSafe(|| {
            for i in 100..200 {
                m.insert(PKey::new(i), i);
            }
        }));
        reset_faults();
        EQ_PANIC_IN.with(|c| c.set(at));
        let _ = catch_unwind(AssertUnwindSafe(|| {
            for i in 100..200 {
                m.get(&PKey::new(i));
            }
        }));
        reset_faults();
        m.insert(PKey::new(1), 1);
        assert_eq!(m.get(&PKey::new(1)), Some(1));
    }
    assert_eq!(m.detections(), 1);
    // panicking range callback: subsequent writes OK
    let _ = catch_unwind(AssertUnwindSafe(|| m.range(|_, _| panic!("injected cb"))));
    m.insert(PKey::new(2), 2);
    let fm = m.into_inner();
    fm.check_invariants();
}

trait ClearInRange {
    fn clear_in_range(&self);
}
impl ClearInRange for FailFastMap<PKey, u64> {
    fn clear_in_range(&self) {}
}

/// Value Drop that reads the map during a write (remove returns the value: dropped after;
/// clear drops inside): no UB, documented message or fine.
#[test]
fn drop_reentrance() {
    quiet_panics();
    struct D(Arc<FailFastMap<u64, u64>>);
    impl Drop for D {
        fn drop(&mut self) {
            let _ = self.0.get(&1);
        }
    }
    let inner = Arc::new(FailFastMap::<u64, u64>::new());
    inner.insert(1, 1);
    let m = FailFastMap::<u64, D>::new();
    m.insert(1, D(inner.clone()));
    m.insert(1, D(inner.clone())); // old value returned & dropped outside
    m.remove(&1);
    m.insert(2, D(inner.clone()));
    m.clear();
    assert_eq!(m.len(), 0);
    // self-referential: value's Drop reads the *same* map during clear
    let m2: Arc<FailFastMap<u64, Box<dyn Send + Sync>>> = Arc::new(FailFastMap::new());
    struct E(std::sync::Weak<FailFastMap<u64, Box<dyn Send + Sync>>>);
    impl Drop for E {
        fn drop(&mut self) {
            if let Some(m) = self.0.upgrade() {
                let r = catch_unwind(AssertUnwindSafe(|| m.contains_key(&5)));
                if let Err(e) = r {
                    assert_eq!(panic_msg(&e), "concurrent map read and map write");
                }
            }
        }
    }
    m2.insert(1, Box::new(E(Arc::downgrade(&m2))));
    m2.insert(2, Box::new(0u8));
    m2.clear();
    assert_eq!(m2.len(), 0);
    m2.insert(3, Box::new(0u8));
    assert_eq!(m2.len(), 1);
}
