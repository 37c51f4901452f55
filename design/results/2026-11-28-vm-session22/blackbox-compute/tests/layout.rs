mod common;
use common::*;
use hmap::concurrent::{Computed, Operation};
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(align(128))]
struct A128(u64);
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(align(4096))]
struct A4096(u64);

#[test]
fn overaligned_values_via_compute_are_aligned() {
    let _w = watchdog("align", 60);
    let m: ConcurrentHashMap<u64, A128> = ConcurrentHashMap::new();
    for i in 0..5000u64 {
        let v = m.pin();
        let r = v.compute(i % 700, |c| match c {
            Some(x) if x.0 % 5 == 0 => Operation::Remove,
            Some(x) => Operation::Set(A128(x.0 + 1)),
            None => Operation::Set(A128(i)),
        });
        for x in [r.current(), r.previous()].into_iter().flatten() {
            assert_eq!(x as *const A128 as usize % 128, 0, "misaligned A128");
        }
    }
    let m: ConcurrentHashMap<u64, A4096> = ConcurrentHashMap::new();
    for i in 0..3000u64 {
        let v = m.pin();
        let r = v.compute(i % 300, |c| Operation::Set(A4096(c.map_or(0, |x| x.0 + 1))));
        for x in [r.current(), r.previous()].into_iter().flatten() {
            assert_eq!(x as *const A4096 as usize % 4096, 0, "misaligned A4096");
        }
        if i % 7 == 0 {
            m.remove(&(i % 300));
        }
    }
    m.check_invariants();
    // aligned keys too
    let m: ConcurrentHashMap<u64, (A128, u8)> = ConcurrentHashMap::new();
    for i in 0..1000u64 {
        let v = m.pin();
        let r = v.compute(i, |_| Operation::Set((A128(i), 1)));
        assert_eq!(r.current().unwrap() as *const _ as usize % 128, 0);
    }
}

static ZDROPS: AtomicUsize = AtomicUsize::new(0);
static ZMADE: AtomicUsize = AtomicUsize::new(0);
#[derive(Debug, PartialEq)]
struct Z;
impl Z {
    fn new() -> Z {
        ZMADE.fetch_add(1, Ordering::SeqCst);
        Z
    }
}
impl Drop for Z {
    fn drop(&mut self) {
        ZDROPS.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn zero_sized_keys_and_values() {
    let _w = watchdog("zst", 60);
    {
        let m: ConcurrentHashMap<(), Z> = ConcurrentHashMap::new();
        let v = m.pin();
        assert!(matches!(v.compute((), |_| Operation::Set(Z::new())), Computed::Inserted(_)));
        assert!(matches!(v.compute((), |_| Operation::Set(Z::new())), Computed::Updated { .. }));
        assert!(matches!(v.compute((), |_| Operation::Keep), Computed::Unchanged(Some(_))));
        assert!(matches!(v.compute((), |_| Operation::Remove), Computed::Removed(_)));
        assert!(matches!(v.compute((), |_| Operation::Remove), Computed::Unchanged(None)));
        assert_eq!(m.len(), 0);
        let m2: ConcurrentHashMap<u32, Z> = ConcurrentHashMap::new();
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let m2 = &m2;
                s.spawn(move || {
                    for i in 0..20_000u32 {
                        let v = m2.pin();
                        v.compute((i * 7 + t) % 3000, |c| if c.is_some() && i % 3 == 0 { Operation::Remove } else { Operation::Set(Z::new()) });
                    }
                });
            }
        });
        m2.check_invariants();
        let _ = v;
    }
    assert_eq!(ZMADE.load(Ordering::SeqCst), ZDROPS.load(Ordering::SeqCst));
    let m3: ConcurrentHashMap<u8, ()> = ConcurrentHashMap::new();
    for i in 0..=255u8 {
        m3.pin().compute(i, |_| Operation::Set(()));
    }
    assert_eq!(m3.len(), 256);
}
