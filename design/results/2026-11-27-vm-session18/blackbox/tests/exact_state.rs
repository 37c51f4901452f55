//! 3. Exact final state with per-thread models over disjoint key ranges (plus 8: adversarial
//! hashers, which make the threads' ranges share chains).
mod common;
use common::*;
use hmap::ConcurrentHashMap;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

pub fn exact_state<S: BuildHasher + Sync>(map: ConcurrentHashMap<u64, u64, S>, threads: u64, range: u64, ops: usize, seed: u64) {
    let models: Vec<HashMap<u64, u64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let map = &map;
                s.spawn(move || {
                    let mut rng = Rng::new(seed ^ (t * 7919));
                    let mut model: HashMap<u64, u64> = HashMap::new();
                    let base = t * range;
                    let mut view = map.pin();
                    for i in 0..ops {
                        if i % 100 == 0 {
                            view = map.pin();
                        }
                        // Bias toward inserts early so the map grows from new().
                        let k = base + rng.below(range);
                        let val = rng.next() >> 1;
                        let op = rng.below(100);
                        match op {
                            0..=34 => {
                                let prev = view.insert(k, val).copied();
                                assert_eq!(prev, model.insert(k, val), "insert({k}) returned wrong previous");
                            }
                            35..=54 => {
                                let prev = view.remove(&k).copied();
                                assert_eq!(prev, model.remove(&k), "remove({k}) returned wrong value");
                            }
                            55..=69 => {
                                let got = view.update(&k, |v| v.wrapping_mul(3).wrapping_add(1)).copied();
                                let exp = model.get_mut(&k).map(|v| {
                                    *v = v.wrapping_mul(3).wrapping_add(1);
                                    *v
                                });
                                assert_eq!(got, exp, "update({k})");
                            }
                            70..=79 => {
                                let had = model.contains_key(&k);
                                let mut called = false;
                                let got = *view.get_or_insert_with(k, || {
                                    called = true;
                                    val
                                });
                                let exp = *model.entry(k).or_insert(val);
                                assert_eq!(got, exp, "get_or_insert_with({k})");
                                assert_eq!(called, !had, "get_or_insert_with({k}): closure ran={called} but key present={had}");
                            }
                            80..=94 => {
                                assert_eq!(view.get(&k).copied(), model.get(&k).copied(), "get({k}) disagrees with model");
                                assert_eq!(view.contains_key(&k), model.contains_key(&k));
                            }
                            _ => {
                                let got = view.get_key_value(&k).map(|(a, b)| (*a, *b));
                                assert_eq!(got, model.get(&k).map(|v| (k, *v)));
                            }
                        }
                    }
                    model
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut union = HashMap::new();
    for m in models {
        union.extend(m);
    }
    assert_eq!(map.len(), union.len(), "len() != model size");
    assert_eq!(map.is_empty(), union.is_empty());
    let view = map.pin();
    let mut seen = HashSet::new();
    for (k, v) in view.iter() {
        assert!(seen.insert(*k), "iter yielded {k} twice");
        assert_eq!(union.get(k), Some(v), "iter yielded {k} -> {v} not in model");
    }
    assert_eq!(seen.len(), union.len(), "iter missed keys");
    for k in 0..threads * range {
        assert_eq!(view.get(&k), union.get(&k), "final get({k})");
    }
    assert_eq!(view.keys().count(), union.len());
    assert_eq!(view.values().count(), union.len());
    let st = map.stats();
    assert_eq!(st.len, union.len());
    eprintln!("exact_state ok: len {} growths {} B {}", union.len(), st.growths, st.log2_buckets);
}

#[test]
fn exact_state_default_hasher() {
    for seed in 0..3 {
        exact_state(ConcurrentHashMap::new(), 4, 20_000, 150_000, seed);
    }
}

#[test]
fn exact_state_small_ranges_heavy_churn() {
    for seed in 0..3 {
        exact_state(ConcurrentHashMap::new(), 6, 64, 100_000, 100 + seed);
    }
}

#[test]
fn exact_state_with_capacity() {
    exact_state(ConcurrentHashMap::with_capacity(50_000), 4, 12_000, 100_000, 7);
    exact_state(ConcurrentHashMap::with_capacity(0), 4, 12_000, 100_000, 8);
    exact_state(ConcurrentHashMap::with_capacity(1), 4, 1_000, 50_000, 9);
}

// ---- 8. adversarial hashers --------------------------------------------------------------

#[test]
fn adversarial_all_collide() {
    exact_state(ConcurrentHashMap::with_hasher(Build(Mode::Const(0xDEAD_BEEF_0000_0001))), 4, 1500, 30_000, 11);
}

#[test]
fn adversarial_all_collide_zero_hash() {
    exact_state(ConcurrentHashMap::with_hasher(Build(Mode::Const(0))), 4, 700, 12_000, 12);
}

#[test]
fn adversarial_all_collide_max_hash() {
    exact_state(ConcurrentHashMap::with_hasher(Build(Mode::Const(u64::MAX))), 4, 700, 12_000, 13);
}

#[test]
fn adversarial_few_hashes() {
    for n in [2, 3, 5, 17] {
        exact_state(ConcurrentHashMap::with_hasher(Build(Mode::Few(n))), 4, 1000, 20_000, 14 + n);
    }
}

#[test]
fn adversarial_tophash_marker_bytes() {
    // Top byte of the hash equal to Go's tophash marker values (0..=4) and the boundary 5.
    for t in 0..=5u8 {
        exact_state(ConcurrentHashMap::with_hasher(Build(Mode::TopByte(t))), 4, 5_000, 60_000, 30 + t as u64);
    }
}

#[test]
fn adversarial_identity_hasher() {
    exact_state(ConcurrentHashMap::with_hasher(IdentityBuild), 4, 20_000, 120_000, 40);
}

#[test]
fn adversarial_low_bits_zero() {
    // Everything lands in bucket 0 of every table; tophash differs.
    exact_state(ConcurrentHashMap::with_hasher(Build(Mode::LowZero)), 4, 1000, 20_000, 41);
}

#[test]
fn adversarial_same_tophash() {
    exact_state(ConcurrentHashMap::with_hasher(Build(Mode::SameTop)), 4, 10_000, 80_000, 42);
}
