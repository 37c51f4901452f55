use bb_collide::*;
use hmap::ConcurrentHashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

static DROPS: AtomicUsize = AtomicUsize::new(0);
#[repr(align(4096))]
struct Big { k: u64, pad: [u64; 3] }
impl Drop for Big { fn drop(&mut self) { DROPS.fetch_add(1, Ordering::SeqCst); assert_eq!(self.pad[2], self.k); } }

#[test]
fn odd_types() {
    let m: ConcurrentHashMap<u64, Big, HB> = ConcurrentHashMap::with_hasher(HB(Kind::Const(1)));
    std::thread::scope(|s| for t in 0..3u64 { let m = &m; s.spawn(move || {
        for i in 0..3000u64 { let k = (i * 7 + t) % 500; let p = m.pin();
            if i % 3 == 0 { p.remove(&k); } else { p.insert(k, Big { k, pad: [0, 0, k] }); }
            if let Some(v) = p.get(&k) { assert_eq!(v as *const Big as usize % 4096, 0); assert_eq!(v.pad[2], k); }
            if i % 500 == 0 { m.force_growth(i % 1000 == 0); } } }); });
    m.check_invariants();
    drop(m);
    let z: ConcurrentHashMap<(), (), HB> = ConcurrentHashMap::with_hasher(HB(Kind::Good));
    z.pin().insert((), ()); assert_eq!(z.len(), 1); z.pin().remove(&()); assert_eq!(z.len(), 0);
    let big: ConcurrentHashMap<u64, [u8; 100_000]> = ConcurrentHashMap::new();
    for i in 0..50 { big.pin().insert(i, [i as u8; 100_000]); }
    for i in 0..50 { assert_eq!(big.pin().get(&i).unwrap()[99_999], i as u8); }
    let r = std::panic::catch_unwind(|| ConcurrentHashMap::<u64, u64>::with_capacity(usize::MAX));
    let msg = r.err().map(|e| e.downcast_ref::<&str>().map(|s| s.to_string()).or(e.downcast_ref::<String>().cloned()));
    eprintln!("with_capacity(MAX): {msg:?}");
}
