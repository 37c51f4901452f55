//! Over-aligned keys and values, ZST keys, ZST values with Drop, 64 KiB values (inline and boxed),
//! under concurrency with growth; alignment and content of every reference checked.
use bb4::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicIsize, Ordering::*};

#[repr(align(64))] #[derive(Clone, Debug, PartialEq, Eq, Hash)] struct K64(u64);
#[repr(align(4096))] #[derive(Clone, Debug, PartialEq, Eq, Hash)] struct K4096(u64);
#[repr(align(8192))] #[derive(Clone, Debug)] struct V8192(u64, [u8; 3]);
#[repr(align(2))] #[derive(Clone, Debug, PartialEq, Eq, Hash)] struct K2(u16);

fn hammer<K, V, FK, FV, CV>(mk: FK, mv: FV, chk: CV, keys: u64, ops: u64, ctx: &str)
where K: std::hash::Hash + Eq + Clone + Send + Sync, V: Send + Sync, FK: Fn(u64) -> K + Sync, FV: Fn(u64) -> V + Sync, CV: Fn(&K, &V) + Sync {
    let m: ConcurrentHashMap<K, V> = ConcurrentHashMap::new();
    std::thread::scope(|s| for t in 0..2u64 { let (m, mk, mv, chk) = (&m, &mk, &mv, &chk); s.spawn(move || {
        let mut r = Rng::new(t + 3);
        for i in 0..ops {
            let k = r.below(keys); let p = m.pin();
            match r.below(6) {
                0 | 1 => { if let Some(v) = p.insert(mk(k), mv(k)) { chk(&mk(k), v); } }
                2 => { if let Some(v) = p.remove(&mk(k)) { chk(&mk(k), v); } }
                3 => { if let Some(v) = p.update(&mk(k), |_| mv(k)) { chk(&mk(k), v); } }
                4 => { let v = p.get_or_insert_with(mk(k), || mv(k)); chk(&mk(k), v); }
                _ => { if let Some((kk, v)) = p.get_key_value(&mk(k)) { assert!(kk == &mk(k)); chk(kk, v); } }
            }
            if i % 5000 == 0 { m.force_growth(i % 10000 == 0); }
            if i % 1000 == 0 { for (kk, v) in p.iter() { chk(kk, v); } }
        }
    }); });
    m.check_invariants();
    let n = m.pin().iter().map(|(k, v)| chk(k, v)).count();
    assert_eq!(n, m.len(), "{ctx}");
}

fn al<T>(r: &T, a: usize, what: &str) { assert_eq!(r as *const T as usize % a, 0, "{what} misaligned"); }

#[test]
fn over_aligned_keys_and_values() {
    hammer(K64, |k| k * 3, |k: &K64, v: &u64| { al(k, 64, "K64"); assert_eq!(*v, k.0 * 3); }, 3000, 100_000, "k64");
    hammer(K4096, |k| k ^ 9, |k: &K4096, v: &u64| { al(k, 4096, "K4096"); assert_eq!(*v, k.0 ^ 9); }, 500, 20_000, "k4096");
    hammer(|k| k, |k| V8192(k, [k as u8; 3]), |k: &u64, v: &V8192| { al(v, 8192, "V8192"); assert_eq!(v.0, *k); assert_eq!(v.1, [*k as u8; 3]); }, 300, 10_000, "v8192");
    hammer(|k| K2(k as u16), |k| (k as u8, ()), |k: &K2, v: &(u8, ())| { al(k, 2, "K2"); assert_eq!(v.0, k.0 as u8); }, 60_000, 100_000, "k2");
    hammer(|k| (k as u8,), |_| (), |_: &(u8,), _: &()| {}, 256, 50_000, "u8 key unit value");
}

static ZLIVE: AtomicIsize = AtomicIsize::new(0);
#[derive(Debug, PartialEq, Eq, Hash)] struct ZK;
impl Clone for ZK { fn clone(&self) -> Self { ZLIVE.fetch_add(1, SeqCst); ZK } }
impl Drop for ZK { fn drop(&mut self) { ZLIVE.fetch_sub(1, SeqCst); } }
fn zk() -> ZK { ZLIVE.fetch_add(1, SeqCst); ZK }
#[derive(Debug)] struct ZV;
impl Drop for ZV { fn drop(&mut self) { ZLIVE.fetch_sub(1, SeqCst); } }
fn zv() -> ZV { ZLIVE.fetch_add(1, SeqCst); ZV }

#[test]
fn zero_sized_key_and_value_with_drop() {
    {
        let m: ConcurrentHashMap<ZK, ZV> = ConcurrentHashMap::new();
        std::thread::scope(|s| for t in 0..2 { let m = &m; s.spawn(move || {
            for i in 0..100_000u64 {
                let p = m.pin();
                match (i + t) % 5 { 0 => { p.insert(zk(), zv()); } 1 => { p.remove(&zk()); } 2 => { p.update(&zk(), |_| zv()); } 3 => { p.get_or_insert_with(zk(), zv); } _ => { assert!(p.len() <= 1); } }
                assert!(p.iter().count() <= 1);
                if i % 10_000 == 0 { m.force_growth(i % 20_000 == 0); }
            }
        }); });
        assert!(m.len() <= 1);
        assert_eq!(m.len(), m.pin().iter().count());
        m.check_invariants();

    }
    // ZK created by the assert above are balanced; map dropped
    assert_eq!(ZLIVE.load(SeqCst), 0, "ZST keys/values not dropped exactly once");
    // unit key
    let m: ConcurrentHashMap<(), u8> = ConcurrentHashMap::with_capacity(1000);
    for i in 0..=255u8 { assert_eq!(m.pin().insert((), i).copied(), i.checked_sub(1)); }
    assert_eq!(m.len(), 1);
    assert_eq!(format!("{m:?}"), "{(): 255}");
}

#[test]
fn huge_values() {
    let m: ConcurrentHashMap<u32, [u64; 8192]> = ConcurrentHashMap::new(); // 64 KiB values, = chunk size
    std::thread::scope(|s| for t in 0..2u32 { let m = &m; s.spawn(move || {
        for i in 0..3000u32 { let k = (i * 7 + t) % 400; let p = m.pin();
            if i % 3 == 0 { p.remove(&k); } else { p.insert(k, [k as u64; 8192]); }
            if let Some(v) = p.get(&k) { assert!(v[0] == k as u64 && v[8191] == k as u64); }
            if i % 700 == 0 { m.force_growth(i % 1400 == 0); } }
    }); });
    for (k, v) in m.pin().iter() { assert!(v.iter().all(|x| *x == *k as u64)); }
    let m2: ConcurrentHashMap<u64, [u8; 65536 + 1]> = ConcurrentHashMap::new(); // entry > 64 KiB chunk
    for i in 0..200u64 { m2.pin().insert(i, [i as u8; 65537]); }
    for i in 0..200u64 { let p = m2.pin(); let v = p.get(&i).unwrap(); assert_eq!((v[0], v[65536]), (i as u8, i as u8)); }
    let m3: ConcurrentHashMap<u64, Box<[u8; 65536]>> = ConcurrentHashMap::new();
    std::thread::scope(|s| for t in 0..2u64 { let m3 = &m3; s.spawn(move || {
        for i in 0..20_000u64 { let k = i % 64; let p = m3.pin(); if (i + t) % 2 == 0 { p.insert(k, Box::new([k as u8; 65536])); } else { p.remove(&k); }
            if let Some(v) = p.get(&k) { assert_eq!(v[65535], k as u8); } }
    }); });
}
