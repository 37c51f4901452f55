mod common;
use common::*;
use hmap::HashMap;
use std::collections::HashMap as Std;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn same(m: &HashMap<u64, u64>, s: &Std<u64, u64>) {
    assert_eq!(m.len(), s.len());
    let mut seen = HashSet::new();
    for (k, v) in m.iter() {
        assert!(seen.insert(*k), "key {k} yielded twice");
        assert_eq!(s.get(k), Some(v), "key {k}");
    }
    assert_eq!(seen.len(), s.len());
}

#[test]
fn random_ops_vs_std_1m() {
    let mut rng = Rng(42);
    let mut m: HashMap<u64, u64> = HashMap::new();
    let mut s: Std<u64, u64> = Std::new();
    let mut range = 64u64;
    for step in 0..1_000_000u64 {
        if step % 100_000 == 0 {
            range = [16, 1000, 50_000, 300, 5000, 200_000, 8, 100_000, 2000, 70_000][(step / 100_000) as usize];
        }
        let k = rng.below(range);
        match rng.below(100) {
            0..=39 => assert_eq!(m.insert(k, step), s.insert(k, step)),
            40..=59 => assert_eq!(m.remove(&k), s.remove(&k)),
            60..=69 => assert_eq!(m.get(&k), s.get(&k)),
            70..=72 => assert_eq!(m.remove_entry(&k), s.remove_entry(&k)),
            73..=77 => {
                use hmap::hash_map::Entry as E;
                match m.entry(k) {
                    E::Occupied(mut o) => {
                        assert_eq!(o.key(), &k);
                        let old = *o.get();
                        if step % 3 == 0 {
                            assert_eq!(o.remove(), s.remove(&k).unwrap());
                        } else {
                            assert_eq!(o.insert(step), old);
                            s.insert(k, step);
                        }
                    }
                    E::Vacant(vac) => {
                        assert!(!s.contains_key(&k));
                        *vac.insert(1) += step;
                        s.insert(k, 1 + step);
                    }
                }
            }
            78..=80 => {
                *m.entry(k).or_insert(7) += 1;
                *s.entry(k).or_insert(7) += 1;
            }
            81 => {
                let cut = rng.below(4);
                m.retain(|k, v| {
                    *v += 1;
                    k % 4 != cut
                });
                s.retain(|k, v| {
                    *v += 1;
                    k % 4 != cut
                });
            }
            82..=84 => {
                for (_, v) in m.iter_mut() {
                    *v = v.wrapping_mul(3);
                }
                for v in s.values_mut() {
                    *v = v.wrapping_mul(3);
                }
            }
            85 => {
                if rng.below(50) == 0 {
                    let mut d: Vec<_> = m.drain().collect();
                    let mut e: Vec<_> = s.drain().collect();
                    d.sort();
                    e.sort();
                    assert_eq!(d, e);
                }
            }
            86 => {
                if rng.below(20) == 0 {
                    m.try_reserve(rng.below(5000) as usize).unwrap();
                }
            }
            87 => {
                if rng.below(30) == 0 {
                    m = m.clone();
                }
            }
            88 => {
                // partially consumed drain
                if rng.below(100) == 0 {
                    let n = rng.below(10) as usize;
                    let taken: Vec<_> = m.drain().take(n).collect();
                    assert!(taken.len() <= n);
                    s.clear();
                }
            }
            _ => assert_eq!(m.contains_key(&k), s.contains_key(&k)),
        }
        if step % 9973 == 0 {
            m.check_invariants();
            same(&m, &s);
        }
    }
    m.check_invariants();
    same(&m, &s);
}

#[test]
fn iterate_during_incremental_growth_every_step() {
    // At each insert during a growth, a fresh iteration must yield every key once.
    let mut m: HashMap<u64, u64> = HashMap::new();
    let mut growing_seen = 0;
    for i in 0..20_000u64 {
        m.insert(i, i);
        if m.is_growing() || i % 97 == 0 {
            if m.is_growing() {
                growing_seen += 1;
            }
            let mut seen = HashSet::new();
            for (k, v) in &m {
                assert_eq!(k, v);
                assert!(seen.insert(*k), "dup {k} at {i}");
            }
            assert_eq!(seen.len() as u64, i + 1, "at {i}");
        }
    }
    assert!(growing_seen > 0);
    // same-size growth through delete churn
    let mut ss = 0;
    for &cap in &[12usize, 50, 100, 400, 3000] {
    let mut m: HashMap<u64, u64> = HashMap::new();
    let mut s = Std::new();
    let mut rng = Rng(9 + cap as u64);
    let mut order = std::collections::VecDeque::new();
    for step in 0..100_000u64 {
        let k = rng.below(1 << 40);
        m.insert(k, step);
        if s.insert(k, step).is_none() { order.push_back(k); }
        if s.len() > cap {
            let victim = order.remove(rng.below(order.len() as u64) as usize).unwrap();
            s.remove(&victim);
            m.remove(&victim);
        }
        if m.is_growing() {
            if matches!(m.stats().growth, Some(hmap::GrowthKind::SameSize)) {
                ss += 1;
            }
            if step % 7 == 0 {
                same(&m, &s);
            }
        }
    }
    m.check_invariants();
    same(&m, &s);
    }
    eprintln!("same-size growing steps seen: {ss}");
    assert!(ss > 0);
}

#[test]
fn iter_mut_and_values_mut_during_growth() {
    let mut m: HashMap<u64, u64> = HashMap::new();
    for i in 0..5000u64 {
        m.insert(i, 0);
        if m.is_growing() {
            let n = m.iter_mut().map(|(_, v)| *v += 1).count();
            assert_eq!(n as u64, i + 1);
            let n2 = m.values_mut().count();
            assert_eq!(n2 as u64, i + 1);
            assert_eq!(m.iter().len(), m.len());
        }
    }
    m.check_invariants();
}

#[test]
fn all_colliding_keys() {
    let mut m: HashMap<PKey, u64> = HashMap::new();
    for i in 0..600 {
        assert!(m.insert(PKey::col(i), i).is_none());
    }
    m.check_invariants();
    for i in 0..600 {
        assert_eq!(m.get(&PKey::col(i)), Some(&i));
    }
    for i in (0..600).step_by(2) {
        assert_eq!(m.remove(&PKey::col(i)), Some(i));
    }
    m.check_invariants();
    assert_eq!(m.len(), 300);
    assert_eq!(m.iter().count(), 300);
    for i in 0..600 {
        m.insert(PKey::col(i), i + 1);
    }
    assert_eq!(m.len(), 600);
    m.retain(|k, _| k.k % 3 == 0);
    assert_eq!(m.len(), 200);
    m.check_invariants();
    let c = m.clone();
    assert_eq!(c.len(), 200);
    c.check_invariants();
}

#[test]
fn zst_keys_and_values() {
    let mut m: HashMap<(), ()> = HashMap::new();
    assert_eq!(m.insert((), ()), None);
    assert_eq!(m.insert((), ()), Some(()));
    assert_eq!(m.len(), 1);
    assert_eq!(m.iter().count(), 1);
    assert_eq!(m.remove(&()), Some(()));
    assert!(m.is_empty());
    let mut m: HashMap<u64, ()> = HashMap::new();
    for i in 0..10_000 {
        m.insert(i, ());
    }
    assert_eq!(m.iter().count(), 10_000);
    m.retain(|k, _| k % 2 == 0);
    assert_eq!(m.len(), 5000);
    m.check_invariants();
    let v: Vec<_> = m.drain().collect();
    assert_eq!(v.len(), 5000);
}

#[repr(align(128))]
#[derive(Clone, Debug, PartialEq)]
struct Big(u64, [u8; 3]);

#[test]
fn over_aligned_values_and_keys() {
    let mut m: HashMap<u64, Big> = HashMap::new();
    for i in 0..3000u64 {
        m.insert(i, Big(i, [1, 2, 3]));
        if i % 500 == 0 {
            for (_, v) in m.iter() {
                assert_eq!((v as *const Big as usize) % 128, 0);
            }
        }
    }
    for (k, v) in m.iter() {
        assert_eq!(*k, v.0);
        assert_eq!((v as *const Big as usize) % 128, 0);
    }
    #[repr(align(64))]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    struct AK(u32);
    let mut m2: HashMap<AK, u8> = HashMap::new();
    for i in 0..2000 {
        m2.insert(AK(i), 1);
    }
    for (k, _) in m2.iter() {
        assert_eq!((k as *const AK as usize) % 64, 0);
    }
    m2.check_invariants();
}

fn pk_map(n: u64, pool: usize) -> HashMap<PKey, Tracked> {
    let mut m = HashMap::new();
    for i in 0..n {
        m.insert(PKey::new(i), Tracked::new(pool, i));
    }
    m
}

#[test]
fn panicking_hash_during_growth_keeps_map_consistent() {
    quiet_panics();
    const POOL: usize = 1;
    // Inject a hash panic at every possible call position during a sequence of inserts.
    for at in 0..400 {
        {
            let mut m: HashMap<PKey, Tracked> = HashMap::new();
            let mut model = Std::new();
            for i in 0..300u64 {
                if i == 100 {
                    HASH_PANIC_IN.with(|c| c.set(at));
                }
                let r = catch_unwind(AssertUnwindSafe(|| m.insert(PKey::new(i), Tracked::new(POOL, i))));
                if r.is_ok() {
                    model.insert(i, i);
                }
            }
            reset_faults();
            m.check_invariants();
            assert_eq!(m.len(), model.len(), "at {at}");
            for (k, v) in &model {
                assert_eq!(m.get(&PKey::new(*k)).map(|t| t.v), Some(*v), "at {at} key {k}");
            }
            // removes during growth with a panicking hash
            HASH_PANIC_IN.with(|c| c.set(at % 37));
            for i in 0..300u64 {
                if catch_unwind(AssertUnwindSafe(|| m.remove(&PKey::new(i)))).is_ok() {
                    model.remove(&i);
                }
            }
            reset_faults();
            m.check_invariants();
            assert_eq!(m.len(), model.len());
        }
        assert_eq!(live(POOL), 0, "leak/double at {at}");
    }
}

#[test]
fn panicking_eq_with_collisions() {
    quiet_panics();
    const POOL: usize = 2;
    for at in 0..200 {
        {
            let mut m: HashMap<PKey, Tracked> = HashMap::new();
            let mut model = Std::new();
            for i in 0..80u64 {
                if i == 20 {
                    EQ_PANIC_IN.with(|c| c.set(at));
                }
                let r = catch_unwind(AssertUnwindSafe(|| m.insert(PKey::col(i), Tracked::new(POOL, i))));
                if r.is_ok() {
                    model.insert(i, i);
                }
                if i % 5 == 0 {
                    if catch_unwind(AssertUnwindSafe(|| m.remove(&PKey::col(i / 2)))).is_ok() {
                        model.remove(&(i / 2));
                    }
                }
            }
            reset_faults();
            m.check_invariants();
            assert_eq!(m.len(), model.len(), "at {at}");
        }
        assert_eq!(live(POOL), 0, "at {at}");
    }
}

#[test]
fn panicking_clone_in_map_clone() {
    quiet_panics();
    const POOL: usize = 3;
    for at in 0..120 {
        {
            let m = pk_map(100, POOL);
            CLONE_PANIC_IN.with(|c| c.set(at));
            let r = catch_unwind(AssertUnwindSafe(|| m.clone()));
            reset_faults();
            if let Ok(c) = r {
                c.check_invariants();
                assert_eq!(c.len(), 100);
            }
            m.check_invariants();
            assert_eq!(m.len(), 100);
        }
        assert_eq!(live(POOL), 0, "at {at}");
    }
}

#[test]
fn panicking_drop_in_retain_remove_insert() {
    quiet_panics();
    const POOL: usize = 4;
    for at in 0..60 {
        {
            let mut m = pk_map(200, POOL);
            DROP_PANIC_IN.with(|c| c.set(at));
            let r = catch_unwind(AssertUnwindSafe(|| m.retain(|k, _| k.k % 2 == 0)));
            reset_faults();
            m.check_invariants();
            // every remaining entry is either even, or odd and not yet visited
            let n = m.len();
            assert_eq!(m.iter().count(), n);
            if r.is_ok() {
                assert_eq!(n, 100);
            }
            // panicking drop on overwrite
            DROP_PANIC_IN.with(|c| c.set(0));
            let r = catch_unwind(AssertUnwindSafe(|| {
                m.insert(PKey::new(0), Tracked::new(POOL, 999));
            }));
            reset_faults();
            assert!(r.is_err());
            m.check_invariants();
            assert_eq!(m.get(&PKey::new(0)).map(|t| t.v), Some(999));
        }
        assert_eq!(live(POOL), 0, "at {at}");
    }
}

#[test]
fn panicking_drop_in_drop_and_into_iter() {
    quiet_panics();
    const POOL: usize = 5;
    for at in 0..50 {
        let m = pk_map(100, POOL);
        DROP_PANIC_IN.with(|c| c.set(at));
        let _ = catch_unwind(AssertUnwindSafe(|| drop(m)));
        reset_faults();
        // drop of the map: documented? At least no double drop. Count leaks.
        let l = live(POOL);
        assert!(l >= 0);
        LIVE[POOL].store(0, std::sync::atomic::Ordering::SeqCst);
        if l != 0 {
            eprintln!("drop(map) with panicking Drop at {at}: leaked {l}");
        }
    }
    for at in 0..50 {
        let m = pk_map(100, POOL);
        DROP_PANIC_IN.with(|c| c.set(at));
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let mut it = m.into_iter();
            for _ in 0..10 {
                it.next();
            }
            drop(it)
        }));
        reset_faults();
        let l = live(POOL);
        LIVE[POOL].store(0, std::sync::atomic::Ordering::SeqCst);
        if l != 0 {
            eprintln!("into_iter drop with panicking Drop at {at}: leaked {l}");
        }
    }
}

#[test]
fn drain_partial_and_reuse() {
    const POOL: usize = 6;
    {
        let mut m = pk_map(1000, POOL);
        for i in 1000..1100 {
            m.insert(PKey::new(i), Tracked::new(POOL, i));
            if m.is_growing() {
                break;
            }
        }
        let n = m.len();
        let mut d = m.drain();
        let first: Vec<_> = (&mut d).take(5).collect();
        assert_eq!(first.len(), 5);
        assert_eq!(d.len(), n - 5);
        drop(d);
        assert!(m.is_empty());
        m.check_invariants();
        for i in 0..50 {
            m.insert(PKey::new(i), Tracked::new(POOL, i));
        }
        assert_eq!(m.len(), 50);
        m.check_invariants();
        drop(first);
    }
    assert_eq!(live(POOL), 0);
    // mem::forget a drain: must not cause UB (map may leak but must stay usable)
    {
        let mut m = pk_map(100, POOL);
        std::mem::forget(m.drain());
        m.insert(PKey::new(5), Tracked::new(POOL, 5));
        let _ = m.len();
        m.check_invariants();
    }
    LIVE[POOL].store(0, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn try_reserve_overflow_and_exact_size_iters() {
    let mut m: HashMap<u64, u64> = HashMap::new();
    assert!(m.try_reserve(usize::MAX).is_err());
    assert!(m.try_reserve(usize::MAX / 2).is_err());
    m.try_reserve(100).unwrap();
    let b = m.log2_buckets();
    for i in 0..100 {
        m.insert(i, i);
    }
    assert_eq!(m.log2_buckets(), b, "reserve(100) then 100 inserts grew");
    let it = m.iter();
    assert_eq!(it.len(), 100);
    let mut it = m.keys();
    it.next();
    assert_eq!(it.len(), 99);
    let mut it = m.clone().into_iter();
    it.next();
    assert_eq!(it.len(), 99);
    let r = std::panic::catch_unwind(|| {
        let mut m: HashMap<u64, u64> = HashMap::new();
        m.reserve(usize::MAX);
    });
    assert!(r.is_err());
}

#[test]
fn entry_api_edge() {
    let mut m: HashMap<String, Vec<u32>> = HashMap::new();
    for i in 0..2000u32 {
        m.entry(format!("k{}", i % 300)).or_default().push(i);
        m.entry(format!("k{}", i % 7)).and_modify(|v| v.push(0)).or_insert_with(Vec::new);
    }
    assert_eq!(m.len(), 300);
    let total: usize = m.values().map(|v| v.len()).sum();
    assert!(total >= 2000);
    let k = m.entry("zz".to_string()).or_insert_with_key(|k| vec![k.len() as u32]).clone();
    assert_eq!(k, vec![2]);
    if let hmap::hash_map::Entry::Vacant(v) = m.entry("new".into()) {
        assert_eq!(v.into_key(), "new");
    } else {
        panic!()
    }
    assert!(!m.contains_key("new"));
    m.check_invariants();
}

#[test]
fn eq_and_extend_and_index() {
    let a: HashMap<u64, u64> = (0..1000).map(|i| (i, i * 2)).collect();
    let mut b: HashMap<u64, u64> = HashMap::new();
    for i in (0..1000).rev() {
        b.insert(i, i * 2);
    }
    assert_eq!(a, b);
    b.insert(5, 0);
    assert_ne!(a, b);
    b.extend(a.iter().map(|(k, v)| (*k, *v)));
    assert_eq!(a, b);
    assert_eq!(a[&10], 20);
    let r = std::panic::catch_unwind(|| a[&5000]);
    assert!(r.is_err());
}

#[test]
fn clear_keeps_b_and_works_mid_growth() {
    let mut m: HashMap<u64, u64> = HashMap::new();
    let mut i = 0;
    loop {
        m.insert(i, i);
        i += 1;
        if m.is_growing() && i > 100 {
            break;
        }
    }
    let b = m.log2_buckets();
    m.clear();
    assert!(m.is_empty());
    assert!(!m.is_growing());
    assert_eq!(m.log2_buckets(), b);
    m.check_invariants();
    for j in 0..10_000 {
        m.insert(j, j);
    }
    assert_eq!(m.len(), 10_000);
    m.check_invariants();
}
