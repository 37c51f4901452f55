mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::sync::Arc;
use std::thread;

/// Same key on both sides.
#[test]
fn abba_same_key() {
    with_timeout(20, "abba_same_key", || {
        let a = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let b = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        a.insert(0, 0);
        b.insert(0, 0);
        let (a1, b1) = (a.clone(), b.clone());
        let t1 = thread::spawn(move || for _ in 0..1_000_000 { a1.update(&0, |v| { b1.insert(0, 0); v + 1 }); });
        let t2 = thread::spawn(move || for _ in 0..1_000_000 { b.update(&0, |v| { a.insert(0, 0); v + 1 }); });
        t1.join().unwrap();
        t2.join().unwrap();
    });
}

/// Disjoint keys: each closure inserts fresh keys into the other map.
#[test]
fn abba_disjoint_keys() {
    with_timeout(20, "abba_disjoint_keys", || {
        let a = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        let b = Arc::new(ConcurrentHashMap::<u64, u64>::new());
        a.insert(0, 0);
        b.insert(0, 0);
        let (a1, b1) = (a.clone(), b.clone());
        let t1 = thread::spawn(move || for i in 1..300_000u64 { a1.update(&0, |v| { b1.insert(i, i); v + 1 }); });
        let t2 = thread::spawn(move || for i in 1..300_000u64 { b.update(&0, |v| { a.insert(i, i); v + 1 }); });
        t1.join().unwrap();
        t2.join().unwrap();
    });
}
