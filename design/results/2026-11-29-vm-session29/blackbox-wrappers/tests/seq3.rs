use bbwrap::Rng;
use hmap::HashMap;
use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! { static LIVE: Cell<i64> = const { Cell::new(0) }; static ARM: Cell<bool> = const { Cell::new(false) }; }
struct V;
impl V { fn new() -> V { LIVE.with(|l| l.set(l.get() + 1)); V } }
impl Drop for V { fn drop(&mut self) { LIVE.with(|l| l.set(l.get() - 1)); } }
impl Clone for V { fn clone(&self) -> V { V::new() } }
#[derive(Clone, Debug)]
struct K(u64);
impl Hash for K { fn hash<H: Hasher>(&self, h: &mut H) { if ARM.with(|a| a.get()) && self.0 % 13 == 5 { panic!("h") } self.0.hash(h) } }
impl PartialEq for K { fn eq(&self, o: &Self) -> bool { if ARM.with(|a| a.get()) && self.0 % 17 == 3 { panic!("e") } self.0 == o.0 } }
impl Eq for K {}

#[test]
fn hash_eq_panics_during_growth_count_values() {
    std::panic::set_hook(Box::new(|_| {}));
    let mut r = Rng(12345);
    let mut m: HashMap<K, V> = HashMap::new();
    for step in 0..60_000u64 {
        let k = r.below(5000);
        ARM.with(|a| a.set(r.below(3) == 0));
        let op = r.below(10);
        let _ = catch_unwind(AssertUnwindSafe(|| match op {
            0..=4 => { m.insert(K(k), V::new()); }
            5 | 6 => { m.remove(&K(k)); }
            7 => { m.entry(K(k)).or_insert_with(V::new); }
            8 => { if step % 500 == 0 { m.retain(|k, _| k.0 % 4 != 0); } }
            _ => { if step % 3000 == 0 { let c = m.clone(); drop(c); } }
        }));
        ARM.with(|a| a.set(false));
        assert_eq!(LIVE.with(|l| l.get()) as usize, m.len(), "step {step}: live values != len");
        if step % 1000 == 0 { m.check_invariants(); assert_eq!(m.iter().count(), m.len()); }
    }
    m.check_invariants();
    drop(m);
    assert_eq!(LIVE.with(|l| l.get()), 0);
}

#[test]
fn go121_growth_and_capacity_formula() {
    let mut m = HashMap::with_load_factor(hmap::LoadFactor::Go121);
    let mut bumps = vec![]; let mut b = 0;
    for i in 0..6200u64 { m.insert(i, ()); if m.log2_buckets() != b { bumps.push(i + 1); b = m.log2_buckets(); } }
    assert_eq!(bumps, [9, 13, 25, 49, 97, 193, 385, 769, 1537, 3073, 6145]);
    let m2: HashMap<u64, ()> = HashMap::new();
    assert_eq!(m2.capacity(), 8);
    let mut m3 = HashMap::new();
    for i in 0..1000u64 { m3.insert(i, ()); let b = m3.log2_buckets() as u32; let want = if b == 0 { 8 } else { 13 * (1usize << b) / 2 }; assert_eq!(m3.capacity(), want); }
    let b = m3.log2_buckets();
    m3.clear();
    assert_eq!(m3.log2_buckets(), b);
    assert_eq!(m.capacity(), 6 * (1 << m.log2_buckets()) as usize);
}

#[test]
fn wrappers_with_capacity_overflow_panics_not_hangs() {
    use hmap::wrappers::*;
    let r = catch_unwind(|| FailFastMap::<u64, u64>::with_capacity(usize::MAX));
    assert!(r.is_err());
    let r = catch_unwind(|| SafeMap::<u64, u64, RwLockBackend>::with_capacity(usize::MAX));
    assert!(r.is_err());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || { let r = catch_unwind(|| SafeMap::<u64, u64, ActorBackend>::with_capacity(usize::MAX)); tx.send(r.is_err()).unwrap(); });
    assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)), Ok(true));
}

#[test]
fn concurrent_hashmap_conservation_bonus() {
    let m: hmap::ConcurrentHashMap<u64, u64> = hmap::ConcurrentHashMap::new();
    let res: Vec<(Vec<u64>, Vec<u64>)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4u64).map(|t| { let m = &m; s.spawn(move || {
            let mut r = Rng(t * 31 + 7); let (mut w, mut o) = (vec![], vec![]);
            for i in 0..30_000u64 { let k = r.below(64); let v = (t << 32) | i;
                if r.below(5) == 0 { if let Some(x) = m.remove(&k) { o.push(x); } } else { w.push(v); if let Some(x) = m.insert(k, v) { o.push(x); } } }
            (w, o) }) }).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut w: Vec<u64> = res.iter().flat_map(|r| r.0.clone()).collect();
    let mut o: Vec<u64> = res.iter().flat_map(|r| r.1.clone()).collect();
    let p = m.pin(); for (_, v) in p.iter() { o.push(*v); }
    w.sort(); o.sort();
    assert_eq!(w, o);
}
