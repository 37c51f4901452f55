//! 3. `Borrow` lookups: `String` by `&str`, `Vec<u8>` by `&[u8]`, `Box<str>` by `&str`, through
//! every method that takes `&Q`, in both maps, and concurrently across growths.
use bbhostile::*;
use hmap::concurrent::{Computed, Operation};
use hmap::{ConcurrentHashMap, HashMap};

#[test]
fn conc_string_keys_by_str_all_methods() {
    let m: ConcurrentHashMap<String, u64> = ConcurrentHashMap::new();
    for i in 0..500u64 {
        m.insert(format!("key-{i}"), i);
    }
    let p = m.pin();
    for i in 0..500u64 {
        let s = format!("key-{i}");
        let q: &str = &s;
        assert_eq!(p.get(q), Some(&i));
        assert_eq!(p.get_key_value(q), Some((&s, &i)));
        assert!(p.contains_key(q));
        assert!(m.contains_key(q));
        assert_eq!(m.get_cloned(q), Some(i));
        assert_eq!(p.update(q, |v| v + 1), Some(&(i + 1)));
        assert_eq!(m.update(q, |v| v + 1), Some(i + 2));
    }
    assert_eq!(p.get("absent"), None);
    assert_eq!(p.update("absent", |v| v + 1), None);
    assert_eq!(m.update("absent", |v| v + 1), None);
    assert!(!m.contains_key("absent"));
    for i in (0..500u64).step_by(2) {
        let s = format!("key-{i}");
        assert_eq!(p.remove(s.as_str()), Some(&(i + 2)));
        assert_eq!(m.remove(s.as_str()), None);
    }
    assert_eq!(m.len(), 250);
    assert_eq!(m.remove("key-1"), Some(3));
    assert_eq!(m.len(), 249);
    // compute with an owned key, and reading back by &str
    let c = p.compute("new".to_string(), |v| {
        assert!(v.is_none());
        Operation::Set(42)
    });
    assert_eq!(c, Computed::Inserted(&42));
    assert_eq!(p.get("new"), Some(&42));
    drop(p);
    m.check_invariants();
}

#[test]
fn conc_vec_u8_by_slice_and_box_str_by_str() {
    let m: ConcurrentHashMap<Vec<u8>, usize> = ConcurrentHashMap::new();
    for i in 0..300usize {
        m.insert(vec![i as u8; i % 40 + 1], i);
    }
    m.insert(Vec::new(), 9999);
    {
    }
    let p = m.pin();
    for i in 0..300usize {
        let q: &[u8] = &vec![i as u8; i % 40 + 1];
        // several i share one key (i % 256 and i % 40 both equal): compare against last writer
        assert_eq!(p.get(q), Some(&i), "key {q:?}");
        assert!(p.contains_key(q));
        assert_eq!(p.get_key_value(q).map(|(k, _)| k.as_slice()), Some(q));
    }
    let empty: &[u8] = &[];
    assert!(p.contains_key(empty));
    assert_eq!(p.remove(empty), Some(&9999));
    assert!(!p.contains_key(empty));
    drop(p);

    let b: ConcurrentHashMap<Box<str>, u32> = ConcurrentHashMap::new();
    for i in 0..200u32 {
        b.insert(format!("b{i}").into_boxed_str(), i);
    }
    for i in 0..200u32 {
        let s = format!("b{i}");
        assert_eq!(b.get_cloned(s.as_str()), Some(i));
        assert_eq!(b.pin().get(&*s), Some(&i));
        assert_eq!(b.update(s.as_str(), |v| v * 2), Some(i * 2));
    }
    assert_eq!(b.remove("b7"), Some(14));
    assert_eq!(b.len(), 199);
    b.check_invariants();
}

#[test]
fn conc_str_lookups_during_growth() {
    watchdog(30, || {
        let m: ConcurrentHashMap<String, u64> = ConcurrentHashMap::new();
        std::thread::scope(|s| {
            let m = &m;
            s.spawn(move || {
                for i in 0..20_000u64 {
                    m.pin().insert(format!("k{i}"), i);
                }
            });
            s.spawn(move || {
                let mut r = Rng(3);
                let mut hits = 0;
                for _ in 0..40_000 {
                    let i = r.below(20_000);
                    let key = format!("k{i}");
                    let p = m.pin();
                    if let Some(v) = p.get(key.as_str()) {
                        assert_eq!(*v, i);
                        hits += 1;
                    }
                    if let Some((k, v)) = p.get_key_value(key.as_str()) {
                        assert_eq!(k, &key);
                        assert_eq!(*v, i);
                    }
                }
                let _ = hits;
            });
            s.spawn(move || {
                let mut r = Rng(4);
                for _ in 0..10_000 {
                    let i = r.below(20_000);
                    let key = format!("k{i}");
                    // updates keep the value; removes + reinserts also keep it
                    m.update(key.as_str(), |v| *v);
                    if r.below(4) == 0 {
                        let p = m.pin();
                        if let Some(v) = p.remove(key.as_str()) {
                            assert_eq!(*v, i);
                            p.insert(key.clone(), i);
                        }
                    }
                }
            });
        });
        assert_eq!(m.len(), 20_000);
        let p = m.pin();
        for i in 0..20_000u64 {
            assert_eq!(p.get(format!("k{i}").as_str()), Some(&i));
        }
        drop(p);
        m.check_invariants();
    });
}

#[test]
fn seq_borrow_lookups_match_std() {
    let mut m: HashMap<String, u64> = HashMap::new();
    let mut s: std::collections::HashMap<String, u64> = Default::default();
    let mut r = Rng(11);
    for _ in 0..20_000 {
        let i = r.below(2000);
        let key = format!("s{i}");
        let q: &str = &key;
        match r.below(6) {
            0 | 1 => assert_eq!(m.insert(key.clone(), i), s.insert(key.clone(), i)),
            2 => assert_eq!(m.remove(q), s.remove(q)),
            3 => assert_eq!(m.remove_entry(q), s.remove_entry(q)),
            4 => {
                assert_eq!(m.get_mut(q).map(|v| {
                    *v += 1;
                    *v
                }), s.get_mut(q).map(|v| {
                    *v += 1;
                    *v
                }));
            }
            _ => {
                assert_eq!(m.get(q), s.get(q));
                assert_eq!(m.get_key_value(q), s.get_key_value(q));
                assert_eq!(m.contains_key(q), s.contains_key(q));
                if s.contains_key(q) {
                    assert_eq!(m[q], s[q]);
                }
            }
        }
    }
    assert_eq!(m.len(), s.len());
    m.check_invariants();

    let mut v: HashMap<Vec<u8>, u8> = HashMap::new();
    v.insert(b"abc".to_vec(), 1);
    v.insert(Vec::new(), 2);
    assert_eq!(v.get(&b"abc"[..]), Some(&1));
    assert_eq!(v.get(&[][..]), Some(&2));
    assert_eq!(v.remove(&b"abc"[..]), Some(1));
    let mut bx: HashMap<Box<str>, u8> = HashMap::new();
    bx.insert("x".into(), 9);
    assert_eq!(bx.get("x"), Some(&9));
    assert_eq!(bx["x"], 9);
}

#[test]
#[should_panic]
fn seq_index_missing_str_key_panics() {
    let m: HashMap<String, u8> = HashMap::new();
    let _ = m["nope"];
}
