use bbwrap::Rng;
use hmap::HashMap;
use hmap::hash_map::Entry;
use std::cell::Cell;
use std::collections::HashMap as StdMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

#[derive(Default, Clone)]
struct ConstHasher;
impl Hasher for ConstHasher {
    fn finish(&self) -> u64 { 0x1234_5678 }
    fn write(&mut self, _: &[u8]) {}
}
type Const = BuildHasherDefault<ConstHasher>;

/// A hasher that only keeps a few bits: lots of tophash collisions, many overflow buckets.
#[derive(Default, Clone)]
struct FewBits(u64);
impl Hasher for FewBits {
    fn finish(&self) -> u64 { self.0 & 0x0F00_0000_0000_0007 }
    fn write(&mut self, b: &[u8]) { for &x in b { self.0 = self.0.wrapping_mul(31).wrapping_add(x as u64); self.0 ^= self.0 << 40; } }
}
type Few = BuildHasherDefault<FewBits>;

fn same<S: BuildHasher>(m: &HashMap<u32, u64, S>, s: &StdMap<u32, u64>) {
    assert_eq!(m.len(), s.len());
    let mut a: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
    a.sort();
    let mut b: Vec<_> = s.iter().map(|(k, v)| (*k, *v)).collect();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(m.iter().len(), s.len());
    m.check_invariants();
}

fn parity<S: BuildHasher + Clone>(seed: u64, keys: u64, ops: usize, mk: impl Fn() -> HashMap<u32, u64, S>) {
    let mut r = Rng(seed | 1);
    let mut m = mk();
    let mut s: StdMap<u32, u64> = StdMap::new();
    for i in 0..ops {
        let k = r.below(keys) as u32;
        let v = r.next();
        match r.below(22) {
            0..=4 => assert_eq!(m.insert(k, v), s.insert(k, v), "insert op {i}"),
            5..=7 => assert_eq!(m.remove(&k), s.remove(&k), "remove op {i}"),
            8 => assert_eq!(m.remove_entry(&k), s.remove_entry(&k)),
            9 => assert_eq!(m.get(&k), s.get(&k)),
            10 => {
                if let Some(x) = m.get_mut(&k) { *x = x.wrapping_add(1); }
                if let Some(x) = s.get_mut(&k) { *x = x.wrapping_add(1); }
            }
            11 => {
                let a = *m.entry(k).and_modify(|x| *x ^= 5).or_insert(v);
                let b = *s.entry(k).and_modify(|x| *x ^= 5).or_insert(v);
                assert_eq!(a, b);
            }
            12 => match (m.entry(k), s.entry(k)) {
                (Entry::Occupied(o), std::collections::hash_map::Entry::Occupied(p)) => {
                    assert_eq!(o.key(), p.key());
                    if v % 2 == 0 { assert_eq!(o.remove(), p.remove()); }
                    else { assert_eq!(o.remove_entry(), p.remove_entry()); }
                }
                (Entry::Vacant(o), std::collections::hash_map::Entry::Vacant(p)) => {
                    if v % 3 == 0 { assert_eq!(o.into_key(), p.into_key()); }
                    else { o.insert(v); p.insert(v); }
                }
                _ => panic!("entry kind mismatch op {i}"),
            },
            13 => {
                let a = *m.entry(k).or_insert_with_key(|k| *k as u64 * 3);
                let b = *s.entry(k).or_insert_with_key(|k| *k as u64 * 3);
                assert_eq!(a, b);
            }
            14 => {
                if r.below(20) == 0 {
                    let t = r.next();
                    m.retain(|k, v| { *v = v.wrapping_add(1); (*k as u64 ^ t) % 3 != 0 });
                    s.retain(|k, v| { *v = v.wrapping_add(1); (*k as u64 ^ t) % 3 != 0 });
                }
            }
            15 => {
                if r.below(50) == 0 {
                    let n = r.below(s.len() as u64 + 2) as usize;
                    let mut got: Vec<_> = m.drain().take(n).collect();
                    got.sort();
                    for (k, v) in &got { assert_eq!(s.get(k), Some(v)); }
                    assert!(m.is_empty());
                    s.clear();
                    m.check_invariants();
                }
            }
            16 => {
                if r.below(60) == 0 { m.clear(); s.clear(); }
            }
            17 => {
                let add = r.below(300) as usize;
                m.reserve(add);
                let cap = m.capacity();
                assert!(cap >= m.len() + add, "reserve({add}) len {} capacity {cap}", m.len());
                s.reserve(add);
            }
            18 => {
                for (_, v) in m.iter_mut() { *v = v.rotate_left(1); }
                for (_, v) in s.iter_mut() { *v = v.rotate_left(1); }
            }
            19 => {
                let items: Vec<(u32, u64)> = (0..r.below(40)).map(|_| (r.below(keys) as u32, r.next())).collect();
                m.extend(items.iter().cloned());
                s.extend(items);
            }
            20 => {
                let c = m.clone();
                assert!(c == m);
                c.check_invariants();
                same(&c, &s);
                if r.below(3) == 0 { m = c; }
            }
            _ => {
                // partial iteration with ExactSizeIterator checks
                let mut it = m.iter();
                let total = it.len();
                assert_eq!(total, s.len());
                let mut n = 0;
                while let Some(_) = it.next() {
                    n += 1;
                    assert_eq!(it.len(), total - n);
                    if r.below(10) == 0 { break; }
                }
            }
        }
        if i % 97 == 0 { same(&m, &s); }
    }
    same(&m, &s);
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort();
    let mut w: Vec<_> = s.into_iter().collect();
    w.sort();
    assert_eq!(v, w);
}

#[test]
fn parity_default_many_seeds() {
    for seed in 0..60 {
        parity(seed * 7919 + 3, [8, 50, 400, 3000][seed as usize % 4], 6000, HashMap::new);
    }
}

#[test]
fn parity_go121() {
    for seed in 0..20 {
        parity(seed + 100, 1000, 5000, || HashMap::with_load_factor(hmap::LoadFactor::Go121));
    }
}

#[test]
fn parity_const_hasher() {
    for seed in 0..8 {
        parity(seed + 1000, [20, 90, 300][seed as usize % 3], 2500, || HashMap::with_hasher(Const::default()));
    }
}

#[test]
fn parity_few_bits_hasher() {
    for seed in 0..20 {
        parity(seed + 5000, 2000, 6000, || HashMap::with_hasher(Few::default()));
    }
}

#[test]
fn growth_facts() {
    let mut m = HashMap::new();
    let mut bumps = vec![];
    let mut b = m.log2_buckets();
    for i in 0..7000u64 {
        m.insert(i, i);
        if m.log2_buckets() != b { bumps.push(i + 1); b = m.log2_buckets(); }
    }
    assert_eq!(bumps, [9, 14, 27, 53, 105, 209, 417, 833, 1665, 3329, 6657]);
    for (hint, want) in [(0, 0), (8, 0), (9, 1), (13, 1), (14, 2), (26, 2), (27, 3), (52, 3), (53, 4), (104, 4), (105, 5), (208, 5), (209, 6), (416, 6)] {
        let m: HashMap<u8, u8> = HashMap::with_capacity(hint);
        assert_eq!(m.log2_buckets(), want, "hint {hint}");
        assert!(m.capacity() >= hint);
    }
}

#[test]
fn evacuation_bounded() {
    let mut m = HashMap::new();
    for i in 0..105u64 { m.insert(i, i); }
    assert!(m.is_growing());
    let mut last = m.stats().old_buckets_evacuated;
    let mut i = 105u64;
    while m.is_growing() {
        if i % 2 == 0 { m.insert(i, i); } else { m.remove(&(i / 3)); }
        let e = m.stats().old_buckets_evacuated;
        if m.is_growing() { assert!(e <= last + 2, "{last} -> {e}"); last = e; }
        i += 1;
    }
}

#[test]
fn reserve_during_growth_and_capacity() {
    for n in [9u64, 14, 27, 105, 833] {
        let mut m = HashMap::new();
        for i in 0..n { m.insert(i, i); }
        m.reserve(1000);
        m.check_invariants();
        assert!(m.capacity() >= m.len() + 1000);
        let b = m.log2_buckets();
        for i in n..n + 1000 { m.insert(i, i); }
        assert_eq!(m.log2_buckets(), b, "no growth after reserve, n={n}");
        for i in 0..n + 1000 { assert_eq!(m.get(&i), Some(&i)); }
        m.check_invariants();
    }
}

#[test]
fn try_reserve_errors() {
    let mut m: HashMap<u64, u64> = (0..100).map(|i| (i, i)).collect();
    let before = (m.len(), m.log2_buckets(), m.capacity(), m.is_growing());
    assert_eq!(m.try_reserve(usize::MAX), Err(hmap::TryReserveError::CapacityOverflow));
    assert_eq!(m.try_reserve(usize::MAX - 100), Err(hmap::TryReserveError::CapacityOverflow));
    let e = m.try_reserve(usize::MAX / 16);
    assert!(e.is_err(), "{e:?}");
    assert_eq!(before, (m.len(), m.log2_buckets(), m.capacity(), m.is_growing()));
    m.check_invariants();
    for i in 0..100 { assert_eq!(m[&i], i); }
    assert!(m.try_reserve(10).is_ok());
    let r = catch_unwind(AssertUnwindSafe(|| m.reserve(usize::MAX)));
    let msg = r.unwrap_err();
    let s = msg.downcast_ref::<&str>().map(|s| s.to_string()).or(msg.downcast_ref::<String>().cloned()).unwrap();
    assert!(s.contains("capacity overflow"), "{s}");
    m.check_invariants();
    assert_eq!(m.len(), 100);
    let r = catch_unwind(|| HashMap::<u64, u64>::with_capacity(usize::MAX));
    assert!(r.is_err());
    // empty map try_reserve
    let mut e: HashMap<u64, u64> = HashMap::new();
    assert_eq!(e.try_reserve(usize::MAX), Err(hmap::TryReserveError::CapacityOverflow));
    assert!(e.try_reserve(0).is_ok());
    assert_eq!(e.len(), 0);
    // ZST values: capacity overflow on length still
    let mut z: HashMap<(), ()> = HashMap::new();
    assert!(z.try_reserve(usize::MAX).is_err());
}

#[test]
fn zst() {
    let mut m: HashMap<(), ()> = HashMap::new();
    assert_eq!(m.insert((), ()), None);
    assert_eq!(m.insert((), ()), Some(()));
    assert_eq!(m.len(), 1);
    assert_eq!(m.iter().count(), 1);
    assert_eq!(m.remove(&()), Some(()));
    assert!(m.is_empty());
    let mut m: HashMap<u16, ()> = HashMap::new();
    for i in 0..5000u16 { m.insert(i, ()); }
    for i in (0..5000u16).step_by(2) { m.remove(&i); }
    assert_eq!(m.len(), 2500);
    m.check_invariants();
    assert_eq!(m.keys().count(), 2500);
    let mut m: HashMap<(), u64> = HashMap::new();
    *m.entry(()).or_default() += 5;
    *m.entry(()).or_default() += 5;
    assert_eq!(m[&()], 10);
    let d: Vec<_> = m.drain().collect();
    assert_eq!(d, [((), 10)]);
}

thread_local! { static LIVE: Cell<i64> = const { Cell::new(0) }; static DROPS: Cell<i64> = const { Cell::new(0) }; }
#[derive(Debug)]
struct D(u64, bool);
impl D { fn new(x: u64) -> Self { LIVE.with(|l| l.set(l.get() + 1)); D(x, false) } fn bomb(x: u64) -> Self { LIVE.with(|l| l.set(l.get() + 1)); D(x, true) } }
impl Clone for D { fn clone(&self) -> Self { LIVE.with(|l| l.set(l.get() + 1)); D(self.0, self.1) } }
impl Drop for D {
    fn drop(&mut self) {
        LIVE.with(|l| l.set(l.get() - 1));
        DROPS.with(|l| l.set(l.get() + 1));
        assert!(LIVE.with(|l| l.get()) >= 0, "double drop");
        if self.1 && !std::thread::panicking() { panic!("drop bomb {}", self.0); }
    }
}
fn live() -> i64 { LIVE.with(|l| l.get()) }

#[test]
fn drop_accounting_basic() {
    {
        let mut m = HashMap::new();
        for i in 0..2000u64 { m.insert(i, D::new(i)); }
        assert_eq!(live(), 2000);
        for i in 0..1000u64 { m.insert(i, D::new(i + 1)); }
        assert_eq!(live(), 2000);
        for i in 0..500u64 { drop(m.remove(&i)); }
        assert_eq!(live(), 1500);
        m.retain(|k, _| k % 2 == 0);
        assert_eq!(live(), 750);
        let c = m.clone();
        assert_eq!(live(), 1500);
        drop(c);
        {
            let mut d = m.drain();
            let _ = d.next();
            let _ = d.next();
        }
        assert_eq!(live(), 0);
        assert!(m.is_empty());
        for i in 0..300u64 { m.insert(i, D::new(i)); }
        let mut it = m.into_iter();
        let _ = it.next();
        drop(it);
        assert_eq!(live(), 0);
        let mut m = HashMap::new();
        for i in 0..300u64 { m.insert(i, D::new(i)); }
        let mut iv = m.into_values();
        iv.next();
        drop(iv);
        assert_eq!(live(), 0);
        let mut m = HashMap::new();
        for i in 0..300u64 { m.insert(D::new(i).0, D::new(i)); }
        let mut ik = m.into_keys();
        ik.next();
        drop(ik);
        assert_eq!(live(), 0);
    }
    assert_eq!(live(), 0);
}

#[derive(Debug, Clone)]
struct DK(u64);
impl PartialEq for DK { fn eq(&self, o: &Self) -> bool { self.0 == o.0 } }
impl Eq for DK {}
impl Hash for DK { fn hash<H: Hasher>(&self, h: &mut H) { self.0.hash(h) } }

#[test]
fn drop_panics_clear_drain_drop() {
    for which in 0..5 {
        LIVE.with(|l| l.set(0));
        let mut m = HashMap::new();
        for i in 0..200u64 { m.insert(i, if i == 17 || i == 150 { D::bomb(i) } else { D::new(i) }); }
        let r = catch_unwind(AssertUnwindSafe(|| match which {
            0 => m.clear(),
            1 => { let d = m.drain(); drop(d); }
            2 => { let mut d = m.drain(); for _ in 0..10 { if let Some((_, v)) = d.next() { std::mem::forget(v.0); } } drop(d); }
            3 => { let m2 = std::mem::take(&mut m); drop(m2); }
            _ => { let m2 = std::mem::take(&mut m); let it = m2.into_iter(); drop(it); }
        }));
        assert!(r.is_err(), "case {which}: expected bomb");
        // everything must be dropped exactly once, map empty and usable
        assert_eq!(live(), 0, "case {which}: live after panic");
        assert!(m.is_empty(), "case {which}");
        m.check_invariants();
        m.insert(1, D::new(1));
        assert_eq!(m.len(), 1);
        drop(m);
        assert_eq!(live(), 0);
    }
}

#[test]
fn drop_panic_in_remove_insert_retain() {
    LIVE.with(|l| l.set(0));
    let mut m = HashMap::new();
    for i in 0..100u64 { m.insert(i, D::new(i)); }
    m.insert(5, D::bomb(5));
    // replacing a bomb: insert returns old value, caller drops → panic outside the map
    let old = m.insert(5, D::new(5));
    assert!(catch_unwind(AssertUnwindSafe(|| drop(old))).is_err());
    m.check_invariants();
    assert_eq!(m.len(), 100);
    // retain removing bombs
    m.insert(7, D::bomb(7));
    m.insert(9, D::bomb(9));
    assert_eq!(live(), 100);
    let r = catch_unwind(AssertUnwindSafe(|| m.retain(|k, _| k % 2 == 0)));
    assert!(r.is_err());
    m.check_invariants();
    // whatever remains must be consistent; live count equals len
    assert_eq!(live() as usize, m.len(), "retain drop-panic: live {} len {}", live(), m.len());
    for (k, _) in m.iter() { let _ = k; }
    let _ = catch_unwind(AssertUnwindSafe(|| drop(m)));
    assert_eq!(live(), 0);
}

thread_local! { static HASH_BOMB: Cell<bool> = const { Cell::new(false) }; static EQ_BOMB: Cell<bool> = const { Cell::new(false) }; }
#[derive(Debug, Clone)]
struct PK(u64);
impl Hash for PK { fn hash<H: Hasher>(&self, h: &mut H) { if HASH_BOMB.with(|b| b.get()) && self.0 % 7 == 3 { panic!("hash bomb") } self.0.hash(h) } }
impl PartialEq for PK { fn eq(&self, o: &Self) -> bool { if EQ_BOMB.with(|b| b.get()) && self.0 % 5 == 1 { panic!("eq bomb") } self.0 == o.0 } }
impl Eq for PK {}

#[test]
fn panicking_hash_eq_keep_map_usable() {
    for hasher_const in [false, true] {
        let mut r = Rng(77);
        let mut m: HashMap<PK, u64, std::hash::RandomState> = HashMap::with_hasher(Default::default());
        let mut mc: HashMap<PK, u64, Const> = HashMap::with_hasher(Default::default());
        let mut s = StdMap::new();
        for step in 0..20000 {
            let k = r.below(if hasher_const { 200 } else { 3000 });
            let bomb = r.below(4) == 0;
            HASH_BOMB.with(|b| b.set(bomb && r.below(2) == 0));
            EQ_BOMB.with(|b| b.set(bomb));
            let op = r.below(6);
            let res = catch_unwind(AssertUnwindSafe(|| {
                if hasher_const {
                    match op { 0 | 1 | 2 => { mc.insert(PK(k), step); } 3 => { mc.remove(&PK(k)); } 4 => { *mc.entry(PK(k)).or_insert(0) += 1; } _ => { mc.retain(|k, _| k.0 % 11 != (step % 11)); } }
                } else {
                    match op { 0 | 1 | 2 => { m.insert(PK(k), step); } 3 => { m.remove(&PK(k)); } 4 => { *m.entry(PK(k)).or_insert(0) += 1; } _ => { if step % 50 == 0 { m.retain(|k, _| k.0 % 11 != (step % 11)); } } }
                }
            }));
            HASH_BOMB.with(|b| b.set(false));
            EQ_BOMB.with(|b| b.set(false));
            if res.is_ok() {
                // apply to std model
                match op {
                    0 | 1 | 2 => { s.insert(k, step); }
                    3 => { s.remove(&k); }
                    4 => { *s.entry(k).or_insert(0) += 1; }
                    _ => { if hasher_const || step % 50 == 0 { s.retain(|k, _| k % 11 != (step % 11)); } }
                }
            } else {
                // resync model from map: all map content must come from model-consistent states
                s.clear();
                if hasher_const { for (k, v) in mc.iter() { s.insert(k.0, *v); } } else { for (k, v) in m.iter() { s.insert(k.0, *v); } }
            }
            if step % 200 == 0 {
                if hasher_const { mc.check_invariants(); assert_eq!(mc.len(), s.len()); for (k, v) in &s { assert_eq!(mc.get(&PK(*k)), Some(v)); } }
                else { m.check_invariants(); assert_eq!(m.len(), s.len()); for (k, v) in &s { assert_eq!(m.get(&PK(*k)), Some(v)); } }
            }
        }
    }
}

#[test]
fn panicking_closures() {
    let mut m: HashMap<u64, u64> = (0..200).map(|i| (i, i)).collect();
    // grow-in-progress state
    for i in 200..209 { m.insert(i, i); }
    let r = catch_unwind(AssertUnwindSafe(|| { m.entry(1000).or_insert_with(|| panic!("x")); }));
    assert!(r.is_err());
    assert!(!m.contains_key(&1000));
    m.check_invariants();
    let r = catch_unwind(AssertUnwindSafe(|| { m.entry(5).and_modify(|_| panic!("x")); }));
    assert!(r.is_err());
    assert_eq!(m[&5], 5);
    let mut n = 0;
    let r = catch_unwind(AssertUnwindSafe(|| m.retain(|k, _| { n += 1; if n == 100 { panic!("x") } k % 2 == 0 })));
    assert!(r.is_err());
    m.check_invariants();
    assert_eq!(m.len(), m.iter().count());
    let r = catch_unwind(AssertUnwindSafe(|| { m.entry(2000).or_insert_with_key(|_| panic!("y")); }));
    assert!(r.is_err());
    m.check_invariants();
    for i in 0..5000 { m.insert(i, i); }
    m.check_invariants();
    assert_eq!(m.len(), 5000);
}

#[test]
fn clone_panic_leaves_source_intact_and_no_leak() {
    LIVE.with(|l| l.set(0));
    struct CB(u64);
    thread_local! { static CLONES: Cell<u64> = const { Cell::new(0) }; }
    impl Clone for CB { fn clone(&self) -> Self { CLONES.with(|c| { c.set(c.get() + 1); if c.get() == 50 { panic!("clone bomb") } }); LIVE.with(|l| l.set(l.get() + 1)); CB(self.0) } }
    impl Drop for CB { fn drop(&mut self) { LIVE.with(|l| l.set(l.get() - 1)); } }
    let mut m = HashMap::new();
    for i in 0..110u64 { LIVE.with(|l| l.set(l.get() + 1)); m.insert(i, CB(i)); }
    assert!(m.is_growing());
    let r = catch_unwind(AssertUnwindSafe(|| m.clone()));
    assert!(r.is_err());
    assert_eq!(live(), 110, "clone panic leaked or double-dropped");
    m.check_invariants();
    CLONES.with(|c| c.set(1000));
    let c = m.clone();
    c.check_invariants();
    assert_eq!(c.len(), 110);
    drop(c);
    drop(m);
    assert_eq!(live(), 0);
}

#[test]
fn all_collide_big() {
    let mut m: HashMap<u32, u32, Const> = HashMap::with_hasher(Const::default());
    for i in 0..3000 { m.insert(i, i); }
    m.check_invariants();
    for i in (0..3000).step_by(3) { assert_eq!(m.remove(&i), Some(i)); }
    m.check_invariants();
    assert_eq!(m.len(), 2000);
    for i in 0..3000 { assert_eq!(m.get(&i).is_some(), i % 3 != 0); }
    let st = m.stats();
    assert_eq!(st.len, 2000);
}

#[test]
fn iter_mid_growth_exactly_once() {
    for n in [9u64, 14, 27, 53, 105, 209, 417, 833, 1665, 3329] {
        let mut m = HashMap::new();
        for i in 0..n { m.insert(i, i); }
        // a couple of growth steps
        m.insert(n, n);
        m.remove(&0);
        assert!(n < 53 || m.is_growing(), "n={n}");
        let mut seen: Vec<u64> = m.keys().copied().collect();
        seen.sort();
        let want: Vec<u64> = (1..=n).collect();
        assert_eq!(seen, want, "n={n}");
        for (k, v) in m.iter_mut() { *v = *k + 1; }
        for (k, v) in m.iter() { assert_eq!(*v, *k + 1); }
        for v in m.values_mut() { *v += 1; }
        assert_eq!(m.values().copied().sum::<u64>(), (1..=n).map(|x| x + 2).sum());
        let c = m.clone();
        assert_eq!(c.is_growing(), m.is_growing());
        assert!(c == m);
        let mut c2 = c.clone();
        c2.insert(99999, 0);
        assert!(c2 != m);
        c2.remove(&99999);
        assert!(c2 == m);
        // fused
        let mut it = m.iter();
        for _ in it.by_ref() {}
        assert!(it.next().is_none());
        assert_eq!(it.len(), 0);
    }
}

#[test]
fn eq_with_different_hashers_and_extend_refs() {
    let a: HashMap<u32, u32> = (0..500).map(|i| (i, i)).collect();
    let mut b: HashMap<u32, u32> = HashMap::new();
    b.extend(a.iter());
    assert!(a == b);
    b.insert(3, 4);
    assert!(a != b);
    let e: HashMap<u32, u32> = HashMap::new();
    assert!(e == HashMap::default());
    assert_eq!(format!("{:?}", { let mut x = HashMap::new(); x.insert(1, 2); x }), "{1: 2}");
    let r = catch_unwind(|| { let x: HashMap<u32, u32> = HashMap::new(); x[&1] });
    assert!(r.is_err());
}

#[test]
fn remove_to_empty_and_refill_keeps_working() {
    let mut m = HashMap::new();
    for round in 0..50u64 {
        for i in 0..(round * 37 % 500) { m.insert(i, i + round); }
        let keys: Vec<u64> = m.keys().copied().collect();
        for k in keys { assert!(m.remove(&k).is_some()); }
        assert!(m.is_empty());
        assert_eq!(m.iter().count(), 0);
        m.check_invariants();
    }
}

#[test]
fn borrow_lookup_str() {
    let mut m: HashMap<String, u32> = HashMap::new();
    for i in 0..300 { m.insert(format!("k{i}"), i); }
    assert_eq!(m.get("k7"), Some(&7));
    assert_eq!(m.remove("k7"), Some(7));
    assert_eq!(m.get_key_value("k8"), Some((&"k8".to_string(), &8)));
    assert!(m.contains_key("k9"));
    assert_eq!(m.remove_entry("k9"), Some(("k9".to_string(), 9)));
    assert_eq!(m.len(), 298);
}

#[test]
fn inconsistent_hash_no_hang() {
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Bad(u64);
    thread_local!(static CTR: Cell<u64> = const { Cell::new(0) });
    impl Hash for Bad { fn hash<H: Hasher>(&self, h: &mut H) { CTR.with(|c| { c.set(c.get() + 1); (self.0 ^ c.get()).hash(h) }) } }
    let mut m = HashMap::new();
    for i in 0..5000u64 { m.insert(Bad(i % 300), i); }
    for i in 0..5000u64 { m.remove(&Bad(i % 300)); m.get(&Bad(i)); }
    let n = m.len();
    assert_eq!(m.iter().count(), n);
    m.retain(|_, _| true);
    assert_eq!(m.drain().count(), n);
}

#[test]
fn rc_values_dropped_once_under_churn() {
    let rc = Rc::new(());
    let mut m = HashMap::new();
    let mut r = Rng(5);
    for _ in 0..50000 {
        let k = r.below(2000);
        match r.below(4) {
            0 | 1 => { m.insert(k, rc.clone()); }
            2 => { m.remove(&k); }
            _ => { m.entry(k).or_insert_with(|| rc.clone()); }
        }
        assert_eq!(Rc::strong_count(&rc), m.len() + 1);
    }
    let c = m.clone();
    assert_eq!(Rc::strong_count(&rc), 2 * m.len() + 1);
    drop(c);
    m.clear();
    assert_eq!(Rc::strong_count(&rc), 1);
}
