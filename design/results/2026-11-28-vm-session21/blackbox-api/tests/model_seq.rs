//! Single-threaded random op sequences compared with std HashMap, from many starting capacities,
//! with delete-heavy phases (same-size growth), checking every answer plus len/iter/stats/invariants
//! at phase ends. Also borrowed-key lookups (String/&str, Vec<u8>/&[u8], Box<str>/&str) and
//! loose-Eq keys (which key is kept).
use bb4::*;
use hmap::ConcurrentHashMap;
use std::collections::HashMap as Std;
use std::hash::{BuildHasher, Hash, Hasher};

fn check_full<S: BuildHasher>(m: &ConcurrentHashMap<u64, u64, S>, model: &Std<u64, u64>, ctx: &str) {
    assert_eq!(m.len(), model.len(), "{ctx}: len");
    assert_eq!(m.is_empty(), model.is_empty(), "{ctx}");
    let p = m.pin();
    let mut seen = Std::new();
    for (k, v) in p.iter() {
        assert!(seen.insert(*k, *v).is_none(), "{ctx}: iter dup {k}");
    }
    assert_eq!(seen.len(), model.len(), "{ctx}: iter count");
    assert_eq!(&seen, model, "{ctx}: iter content");
    assert_eq!(p.keys().count(), model.len(), "{ctx}");
    assert_eq!(p.values().map(|v| *v as u128).sum::<u128>(), model.values().map(|v| *v as u128).sum::<u128>(), "{ctx}");
    let st = m.stats();
    assert_eq!(st.len, model.len(), "{ctx}: stats.len {st:?}");
    assert!(st.old_evacuated <= st.old_buckets, "{ctx}: {st:?}");
    assert!(st.claimed <= st.old_buckets, "{ctx}: {st:?}");
    assert_eq!(st.claims_in_flight, 0, "{ctx}: {st:?}");
    assert_eq!(st.growing, m.is_growing(), "{ctx}: {st:?}");
    assert_eq!(st.log2_buckets, m.log2_buckets(), "{ctx}: {st:?}");
    if !st.growing { assert_eq!(st.old_buckets, 0, "{ctx}: {st:?}"); assert!(!st.same_size_growth, "{ctx}: {st:?}"); }
    else if st.same_size_growth { assert_eq!(st.old_buckets, 1usize << st.log2_buckets, "{ctx}: {st:?}"); }
    else { assert_eq!(st.old_buckets * 2, 1usize << st.log2_buckets, "{ctx}: {st:?}"); }
    assert_eq!(st.drop_panics, 0);
    drop(p);
    m.check_invariants();
}

fn run<S: BuildHasher>(m: ConcurrentHashMap<u64, u64, S>, seed: u64, ops: usize, ctx: &str) -> (usize, usize) {
    let mut r = Rng::new(seed);
    let mut model: Std<u64, u64> = Std::new();
    let mut last_growths = 0;
    let mut same_size_seen = 0;
    let phases = 20;
    for phase in 0..phases {
        // phase kinds: grow (insert heavy), churn (insert/remove equal on moving keys), shrink (remove heavy)
        let kind = phase % 4;
        let base = (phase as u64) * 1_000_000;
        let range = match kind { 0 => 50_000, 1 => 4_000, 2 => 50_000, _ => 300 };
        for i in 0..ops / phases {
            let op = r.below(100);
            let k = if kind == 1 { base + i as u64 / 2 + r.below(range) } else { r.below(range) + if r.below(3) == 0 { base } else { 0 } };
            let p = m.pin();
            match (kind, op) {
                (0, 0..=49) | (1, 0..=39) | (2, 0..=9) | (3, 0..=29) => {
                    let v = r.next();
                    assert_eq!(p.insert(k, v).copied(), model.insert(k, v), "{ctx}: insert {k}");
                }
                (_, 50..=64) | (1, 40..=64) | (2, 10..=64) => {
                    assert_eq!(p.remove(&k).copied(), model.remove(&k), "{ctx}: remove {k}");
                }
                (_, 65..=74) => {
                    let got = p.update(&k, |v| v.wrapping_mul(3).wrapping_add(1)).copied();
                    let exp = model.get_mut(&k).map(|v| { *v = v.wrapping_mul(3).wrapping_add(1); *v });
                    assert_eq!(got, exp, "{ctx}: update {k}");
                }
                (_, 75..=79) => {
                    let v = r.next();
                    let mut called = false;
                    let got = *p.get_or_insert_with(k, || { called = true; v });
                    let was = model.contains_key(&k);
                    let exp = *model.entry(k).or_insert(v);
                    assert_eq!(got, exp, "{ctx}: goiw {k}");
                    assert_eq!(called, !was, "{ctx}: goiw called");
                }
                (_, 80..=82) => {
                    let v = r.next();
                    assert_eq!(*p.get_or_insert(k, v), *model.entry(k).or_insert(v), "{ctx}: goi {k}");
                }
                (_, 83..=85) => {
                    assert_eq!(p.get_key_value(&k).map(|(a, b)| (*a, *b)), model.get_key_value(&k).map(|(a, b)| (*a, *b)), "{ctx}: gkv {k}");
                }
                (_, 86..=87) => assert_eq!(p.contains_key(&k), model.contains_key(&k), "{ctx}"),
                (_, 88) if r.below(2000) == 0 => {
                    drop(p);
                    let same = r.below(2) == 0;
                    m.force_growth(same);
                }
                _ => assert_eq!(p.get(&k).copied(), model.get(&k).copied(), "{ctx}: get {k}"),
            }
        }
        let st = m.stats();
        assert!(st.growths >= last_growths, "{ctx}: growths went back");
        last_growths = st.growths;
        if st.same_size_growth { same_size_seen += 1; }
        check_full(&m, &model, &format!("{ctx} phase {phase}"));
        // retain half
        if phase % 5 == 4 {
            let salt = r.next();
            let mut tested = Std::new();
            m.retain(|k, v| { *tested.entry(*k).or_insert(0) += 1; assert_eq!(model.get(k), Some(v)); (k ^ salt) % 3 != 0 });
            for k in model.keys() { assert!(tested.contains_key(k), "{ctx}: retain did not test {k}"); }
            // single-threaded, no growth started by retain? count each once
            let twice = tested.values().filter(|&&c| c > 1).count();
            assert_eq!(twice, 0, "{ctx}: retain tested some twice (single thread)");
            assert_eq!(tested.len(), model.len(), "{ctx}: retain tested extra keys");
            model.retain(|k, _| (k ^ salt) % 3 != 0);
            check_full(&m, &model, &format!("{ctx} after retain {phase}"));
        }
        if phase == 12 {
            m.clear();
            model.clear();
            check_full(&m, &model, &format!("{ctx} after clear"));
        }
    }
    (m.stats().growths, same_size_seen)
}

#[test]
fn model_many_capacities() {
    let caps = [0usize, 1, 7, 8, 9, 13, 14, 15, 27, 31, 33, 63, 65, 127, 129, 1023, 1025, 100_000];
    for (i, &c) in caps.iter().enumerate() {
        let (g, s) = run(ConcurrentHashMap::with_capacity(c), i as u64 + 1, 60_000, &format!("cap {c}"));
        eprintln!("cap {c}: growths {g}, same-size seen {s}");
    }
}

#[test]
fn model_long_default() {
    let (g, s) = run(ConcurrentHashMap::new(), 77, 1_000_000, "long");
    eprintln!("long: growths {g}, same-size seen {s}");
}

#[test]
fn model_colliding_tophash() {
    // only low 16 bits: many equal tophashes, and overflow chains
    run(ConcurrentHashMap::with_capacity_and_hasher(0, MaskHB(0xffff)), 5, 200_000, "low16");
    // only 3 bits: giant chains
    run(ConcurrentHashMap::with_capacity_and_hasher(9, MaskHB(0x7 << 61)), 6, 30_000, "top3");
}

// ---------- borrowed lookups ----------
#[test]
fn borrowed_keys() {
    let m: ConcurrentHashMap<String, usize> = ConcurrentHashMap::new();
    let mut model: Std<String, usize> = Std::new();
    let mut r = Rng::new(9);
    for i in 0..100_000usize {
        let k = format!("key-{}", r.below(5000));
        let p = m.pin();
        match r.below(4) {
            0 => assert_eq!(p.insert(k.clone(), i).copied(), model.insert(k, i)),
            1 => assert_eq!(p.remove(k.as_str()).copied(), model.remove(k.as_str())),
            2 => assert_eq!(p.update(k.as_str(), |v| v + 1).copied(), model.get_mut(&k).map(|v| { *v += 1; *v })),
            _ => {
                let got = p.get_key_value(k.as_str());
                assert_eq!(got.map(|(a, b)| (a.as_str(), *b)), model.get_key_value(k.as_str()).map(|(a, b)| (a.as_str(), *b)));
            }
        }
    }
    assert_eq!(m.len(), model.len());
    m.check_invariants();
    let mv: ConcurrentHashMap<Vec<u8>, u32> = ConcurrentHashMap::new();
    for i in 0..3000u32 { mv.pin().insert(i.to_le_bytes()[..(i % 4 + 1) as usize].to_vec(), i); }
    let mut sm = Std::new();
    for i in 0..3000u32 { sm.insert(i.to_le_bytes()[..(i % 4 + 1) as usize].to_vec(), i); }
    assert_eq!(mv.len(), sm.len());
    for (k, v) in &sm { assert_eq!(mv.pin().get(k.as_slice()), Some(v)); }
    let mb: ConcurrentHashMap<Box<str>, u32> = ConcurrentHashMap::new();
    for i in 0..3000u32 { mb.pin().insert(format!("{i}").into_boxed_str(), i); }
    for i in 0..3000u32 { assert_eq!(mb.pin().get(format!("{i}").as_str()), Some(&i)); assert!(mb.pin().remove(format!("{i}").as_str()).is_some()); }
    assert!(mb.is_empty());
}

// ---------- loose Eq ----------
#[derive(Clone, Debug)]
struct CI(String);
impl PartialEq for CI { fn eq(&self, o: &Self) -> bool { self.0.eq_ignore_ascii_case(&o.0) } }
impl Eq for CI {}
impl Hash for CI { fn hash<H: Hasher>(&self, h: &mut H) { self.0.to_ascii_lowercase().hash(h) } }

#[test]
fn loose_eq_keys() {
    let m: ConcurrentHashMap<CI, u32> = ConcurrentHashMap::new();
    let p = m.pin();
    assert_eq!(p.insert(CI("Abc".into()), 1), None);
    assert_eq!(p.insert(CI("aBC".into()), 2), Some(&1));
    assert_eq!(m.len(), 1);
    // documented: the stored key is replaced by the inserted key
    assert_eq!(p.get_key_value(&CI("ABC".into())).map(|(k, v)| (k.0.as_str(), *v)), Some(("aBC", 2)));
    // get_or_insert on present key keeps stored key
    assert_eq!(*p.get_or_insert(CI("abc".into()), 9), 2);
    assert_eq!(p.get_key_value(&CI("x".into())).map(|(k, _)| k.0.clone()), None);
    assert_eq!(p.get_key_value(&CI("abc".into())).unwrap().0 .0, "aBC");
    // update keeps stored key (a clone of it)
    assert_eq!(p.update(&CI("ABC".into()), |v| v + 10), Some(&12));
    assert_eq!(p.get_key_value(&CI("abc".into())).unwrap().0 .0, "aBC");
    let keys: Vec<String> = p.keys().map(|k| k.0.clone()).collect();
    assert_eq!(keys, vec!["aBC".to_string()]);
    // across growth: many keys, re-inserted with different case after growth
    for i in 0..2000 { p.insert(CI(format!("k{i}")), i); }
    m.force_growth(false);
    for i in 0..2000 { assert_eq!(p.insert(CI(format!("K{i}")), i + 1), Some(&i)); }
    assert_eq!(m.len(), 2001);
    for i in 0..2000 { assert_eq!(p.get_key_value(&CI(format!("k{i}"))).unwrap().0 .0, format!("K{i}")); }
    drop(p);
    m.check_invariants();
    // FromIterator with loose duplicates: std keeps the first key and last value
    let v = vec![(CI("a".into()), 1), (CI("A".into()), 2)];
    let c: ConcurrentHashMap<CI, i32> = v.clone().into_iter().collect();
    let s: Std<CI, i32> = v.into_iter().collect();
    let ck = c.pin().get_key_value(&CI("a".into())).map(|(k, v)| (k.0.clone(), *v));
    let sk = s.get_key_value(&CI("a".into())).map(|(k, v)| (k.0.clone(), *v));
    eprintln!("loose dup collect: hmap {ck:?}, std {sk:?}");
    assert_eq!(ck.unwrap().1, 2);
}
