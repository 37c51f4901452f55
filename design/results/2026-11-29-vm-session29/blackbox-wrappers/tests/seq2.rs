use hmap::HashMap;
use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! { static LIVE: Cell<i64> = const { Cell::new(0) }; }
#[derive(Debug)]
struct K(u64, bool);
impl K { fn new(x: u64, b: bool) -> Self { LIVE.with(|l| l.set(l.get() + 1)); K(x, b) } }
impl Drop for K { fn drop(&mut self) { LIVE.with(|l| l.set(l.get() - 1)); if self.1 && !std::thread::panicking() { panic!("key bomb") } } }
impl Hash for K { fn hash<H: Hasher>(&self, h: &mut H) { self.0.hash(h) } }
impl PartialEq for K { fn eq(&self, o: &Self) -> bool { self.0 == o.0 } }
impl Eq for K {}
fn live() -> i64 { LIVE.with(|l| l.get()) }

#[test]
fn key_drop_panic_on_replace_insert_and_entry() {
    let mut m = HashMap::new();
    for i in 0..120u64 { m.insert(K::new(i, false), i); }
    let r = catch_unwind(AssertUnwindSafe(|| m.insert(K::new(5, true), 555)));
    assert!(r.is_err());
    m.check_invariants();
    assert_eq!(m.len(), 120);
    assert_eq!(live(), 120, "keys live");
    let r = catch_unwind(AssertUnwindSafe(|| { *m.entry(K::new(6, true)).or_insert(0) += 1; }));
    println!("entry with bomb key on occupied: {:?}", r.is_err());
    m.check_invariants();
    assert_eq!(live(), 120);
    // removal of a bomb key stored in map
    m.insert(K::new(1000, true), 1);
    let r = catch_unwind(AssertUnwindSafe(|| { m.remove(&K::new(1000, false)); }));
    assert!(r.is_err());
    m.check_invariants();
    assert_eq!(m.len(), 120);
    assert_eq!(live(), 120);
    drop(m);
    assert_eq!(live(), 0);
}

#[test]
fn forget_drain_and_iter_sizes() {
    let mut m: HashMap<u64, String> = (0..1000).map(|i| (i, i.to_string())).collect();
    m.insert(5000, "x".into());
    {
        let mut d = m.drain();
        assert_eq!(d.len(), 1001);
        d.next();
        assert_eq!(d.len(), 1000);
        assert_eq!(d.size_hint(), (1000, Some(1000)));
        std::mem::forget(d);
    }
    // must be safe: whatever state, consistent
    m.check_invariants();
    assert_eq!(m.len(), m.iter().count());
    m.insert(1, "a".into());
    m.check_invariants();
    let n = m.len();
    let mut it = m.clone().into_iter();
    let mut c = n;
    while it.next().is_some() { c -= 1; assert_eq!(it.len(), c); }
    let ks = m.keys(); assert_eq!(ks.len(), n);
    let vs = m.values(); assert_eq!(vs.len(), n);
    let vm = m.values_mut(); assert_eq!(vm.len(), n);
    let im = m.iter_mut(); assert_eq!(im.len(), n);
    let ik = m.clone().into_keys(); assert_eq!(ik.len(), n);
    let iv = m.clone().into_values(); assert_eq!(iv.len(), n);
}

#[test]
fn entry_during_growth_and_vacant_insert_triggering_growth() {
    for start in [8u64, 13, 26, 52, 104, 208, 416, 832] {
        let mut m = HashMap::new();
        for i in 0..start { m.insert(i, i); }
        let b = m.log2_buckets();
        let v = m.entry(start).or_insert(77);
        *v += 1;
        assert_eq!(m[&start], 78);
        assert!(m.log2_buckets() > b, "start {start}");
        m.check_invariants();
        // entry API on every key during growth
        for i in 0..=start { *m.entry(i).or_insert(0) += 1; }
        for i in 0..start { assert_eq!(m[&i], i + 1); }
        m.check_invariants();
        // remove via occupied entry during growth
        for i in 0..start / 2 {
            if let hmap::hash_map::Entry::Occupied(o) = m.entry(i) { o.remove(); } else { panic!() }
        }
        m.check_invariants();
        assert_eq!(m.len() as u64, start + 1 - start / 2);
    }
}

#[test]
fn shrink_remove_everything_during_growth_then_iterate() {
    let mut m = HashMap::new();
    for i in 0..833u64 { m.insert(i, i); }
    assert!(m.is_growing());
    for i in 0..833u64 { assert_eq!(m.remove(&i), Some(i)); }
    assert!(m.is_empty());
    assert_eq!(m.iter().count(), 0);
    m.check_invariants();
    for i in 0..833u64 { m.insert(i, i); }
    assert_eq!(m.iter().count(), 833);
    m.check_invariants();
}
