//! Differential tests against `std::collections::HashMap`: long random sequences of operations
//! (insert, get, remove, entry, retain, clear, iterate, reserve, bulk inserts) are applied to
//! both maps and every result is compared. `check_invariants()` runs after every mutation, and
//! the whole contents are compared as a multiset at random points, many of them in the middle
//! of a growth.
//!
//! Key domains: `u8` (at most 256 keys, so hits and re-inserts are frequent), `u16`, and sparse
//! `u64`. Hashers: the default one, a fixed SipHash, the constant hasher (every key collides)
//! and the low-entropy hasher (64 distinct hashes: large groups of fully colliding keys).
//! Operations are seeded; the default hasher and the map's own seed (Go's `hash0`) are random,
//! so a failure message names the seed, hasher, domain and step to narrow it down.

mod common;

use std::collections::HashMap as StdHashMap;
use std::fmt::Debug;
use std::hash::Hash;

use common::{HasherKind, MatrixHasher, Rng};
use hmap::hash_map::Entry;
use hmap::{HashMap, LoadFactor};

/// A key type with a way to draw random keys from its domain.
trait KeyDomain: Copy + Hash + Eq + Ord + Debug {
    const NAME: &'static str;
    fn draw(rng: &mut Rng) -> Self;
}

impl KeyDomain for u8 {
    const NAME: &'static str = "u8";
    fn draw(rng: &mut Rng) -> Self {
        rng.next_u64() as u8
    }
}

impl KeyDomain for u16 {
    const NAME: &'static str = "u16";
    fn draw(rng: &mut Rng) -> Self {
        rng.next_u64() as u16
    }
}

impl KeyDomain for u64 {
    const NAME: &'static str = "u64";
    fn draw(rng: &mut Rng) -> Self {
        // 3000 distinct, widely spread keys: sparse in the domain, yet drawn again often enough
        // for hits.
        rng.below(3000).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

/// Counts of interesting states a run went through, to show the runs are not vacuous.
#[derive(Default, Debug)]
struct Coverage {
    comparisons_mid_growth: usize,
    comparisons: usize,
    max_len: usize,
    max_log2: u8,
}

/// Compares the full contents of both maps as a multiset.
#[track_caller]
fn compare_contents<K: KeyDomain>(
    m: &HashMap<K, u64, MatrixHasher>,
    model: &StdHashMap<K, u64>,
    context: &str,
    coverage: &mut Coverage,
) {
    let iter = m.iter();
    assert_eq!(iter.len(), model.len(), "{context}: iter().len()");
    let mut got: Vec<(K, u64)> = iter.map(|(&k, &v)| (k, v)).collect();
    let mut want: Vec<(K, u64)> = model.iter().map(|(&k, &v)| (k, v)).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "{context}: contents differ");
    coverage.comparisons += 1;
    if m.is_growing() {
        coverage.comparisons_mid_growth += 1;
    }
}

/// Runs `ops` random operations on a map built with `hasher` and on a std map.
fn run<K: KeyDomain>(
    seed: u64,
    hasher: HasherKind,
    load_factor: LoadFactor,
    ops: usize,
) -> Coverage {
    let mut rng = Rng::new(seed ^ 0x5EED_0000);
    let capacity = [0, 0, 3, 100][rng.below(4) as usize];
    let mut m: HashMap<K, u64, MatrixHasher> =
        HashMap::with_capacity_hasher_and_load_factor(capacity, hasher.build(), load_factor);
    let mut model: StdHashMap<K, u64> = StdHashMap::new();
    let mut coverage = Coverage::default();
    let run_name = format!(
        "seed {seed}, {hasher:?} hasher, {} keys, {load_factor:?}, capacity {capacity}",
        K::NAME
    );

    for step in 0..ops {
        let k = K::draw(&mut rng);
        let v = rng.next_u64();
        let op = rng.below(100);
        let context = format!("{run_name}, step {step}, op {op}, key {k:?}");
        let mut mutated = true;
        match op {
            // insert
            0..=29 => assert_eq!(m.insert(k, v), model.insert(k, v), "{context}: insert"),
            // lookups
            30..=44 | 92..=95 => {
                mutated = false;
                assert_eq!(m.get(&k), model.get(&k), "{context}: get");
                assert_eq!(m.contains_key(&k), model.contains_key(&k), "{context}");
                assert_eq!(m.get_key_value(&k), model.get_key_value(&k), "{context}");
            }
            // remove
            45..=56 => assert_eq!(m.remove(&k), model.remove(&k), "{context}: remove"),
            57..=59 => assert_eq!(
                m.remove_entry(&k),
                model.remove_entry(&k),
                "{context}: remove_entry"
            ),
            // get_mut
            60..=64 => {
                let ours = m.get_mut(&k).map(|value| {
                    *value = value.wrapping_add(v);
                    *value
                });
                let theirs = model.get_mut(&k).map(|value| {
                    *value = value.wrapping_add(v);
                    *value
                });
                assert_eq!(ours, theirs, "{context}: get_mut");
            }
            // entry API
            65..=76 => apply_entry(&mut m, &mut model, k, v, rng.below(5), &context),
            // retain, rarely: it walks the whole map
            77 => {
                let modulus = rng.below(4) + 2;
                let keep = |k: &K, v: &mut u64| {
                    *v = v.wrapping_mul(3);
                    (format!("{k:?}").len() as u64 + *v) % modulus != 0
                };
                m.retain(keep);
                model.retain(keep);
            }
            // clear, very rarely, so that maps get big
            78 if rng.chance(1, 8) => {
                let log2 = m.log2_buckets();
                m.clear();
                model.clear();
                assert_eq!(m.log2_buckets(), log2, "{context}: clear changed B");
            }
            // compare the whole contents
            79..=83 => {
                mutated = false;
                compare_contents(&m, &model, &context, &mut coverage);
            }
            // reserve
            84..=85 => {
                let additional = rng.below(60) as usize;
                m.reserve(additional);
                assert!(m.capacity() >= m.len() + additional, "{context}: reserve");
            }
            // a burst of inserts: crosses growth points, and compares mid-growth
            86..=89 => {
                for _ in 0..rng.below(30) {
                    let k = K::draw(&mut rng);
                    let v = rng.next_u64();
                    assert_eq!(m.insert(k, v), model.insert(k, v), "{context}: burst");
                    m.check_invariants();
                    if m.is_growing() && rng.chance(1, 4) {
                        compare_contents(&m, &model, &context, &mut coverage);
                    }
                }
            }
            // iter_mut / values_mut
            90..=91 => {
                let delta = v & 0xFF;
                if op % 2 == 0 {
                    for (_, value) in m.iter_mut() {
                        *value = value.wrapping_add(delta);
                    }
                } else {
                    for value in m.values_mut() {
                        *value = value.wrapping_add(delta);
                    }
                }
                for value in model.values_mut() {
                    *value = value.wrapping_add(delta);
                }
            }
            // extend
            96..=97 => {
                let pairs: Vec<(K, u64)> = (0..rng.below(20))
                    .map(|_| (K::draw(&mut rng), rng.next_u64()))
                    .collect();
                m.extend(pairs.iter().map(|&(k, v)| (k, v)));
                model.extend(pairs.iter().map(|&(k, v)| (k, v)));
            }
            // drain, rarely
            98 if rng.chance(1, 4) => {
                let mut drained: Vec<(K, u64)> = m.drain().collect();
                let mut want: Vec<(K, u64)> = model.drain().collect();
                drained.sort_unstable();
                want.sort_unstable();
                assert_eq!(drained, want, "{context}: drain");
            }
            _ => mutated = false,
        }
        if mutated {
            m.check_invariants();
            // Growth windows are short: look at many of them.
            if m.is_growing() && rng.chance(1, 3) {
                compare_contents(&m, &model, &context, &mut coverage);
            }
        }
        assert_eq!(m.len(), model.len(), "{context}: len");
        assert_eq!(m.is_empty(), model.is_empty(), "{context}: is_empty");
        coverage.max_len = coverage.max_len.max(m.len());
        coverage.max_log2 = coverage.max_log2.max(m.log2_buckets());
    }

    compare_contents(&m, &model, &run_name, &mut coverage);
    for (k, v) in &model {
        assert_eq!(m.get(k), Some(v), "{run_name}: final lookup");
    }
    let mut owned: Vec<(K, u64)> = m.into_iter().collect();
    let mut want: Vec<(K, u64)> = model.into_iter().collect();
    owned.sort_unstable();
    want.sort_unstable();
    assert_eq!(owned, want, "{run_name}: into_iter");
    coverage
}

fn apply_entry<K: KeyDomain>(
    m: &mut HashMap<K, u64, MatrixHasher>,
    model: &mut StdHashMap<K, u64>,
    k: K,
    v: u64,
    variant: u64,
    context: &str,
) {
    use std::collections::hash_map::Entry as StdEntry;
    match variant {
        0 => assert_eq!(
            *m.entry(k).or_insert(v),
            *model.entry(k).or_insert(v),
            "{context}: or_insert"
        ),
        1 => {
            let ours = *m.entry(k).and_modify(|x| *x ^= v).or_insert(v);
            let theirs = *model.entry(k).and_modify(|x| *x ^= v).or_insert(v);
            assert_eq!(ours, theirs, "{context}: and_modify");
        }
        2 => assert_eq!(
            *m.entry(k).or_default(),
            *model.entry(k).or_default(),
            "{context}: or_default"
        ),
        3 => {
            let ours = match m.entry(k) {
                Entry::Occupied(entry) => Some(entry.remove_entry()),
                Entry::Vacant(entry) => {
                    assert_eq!(*entry.key(), k);
                    None
                }
            };
            let theirs = match model.entry(k) {
                StdEntry::Occupied(entry) => Some(entry.remove_entry()),
                StdEntry::Vacant(_) => None,
            };
            assert_eq!(ours, theirs, "{context}: occupied remove");
        }
        _ => {
            let ours = match m.entry(k) {
                Entry::Occupied(mut entry) => Some(entry.insert(v)),
                Entry::Vacant(entry) => {
                    entry.insert(v);
                    None
                }
            };
            let theirs = model.insert(k, v);
            assert_eq!(ours, theirs, "{context}: entry insert");
        }
    }
}

const SEEDS: [u64; 4] = [1, 2, 3, 0xDEAD_BEEF];

fn run_seeds<K: KeyDomain>(hasher: HasherKind, ops: usize) {
    let mut total = Coverage::default();
    for seed in SEEDS {
        let coverage = run::<K>(seed, hasher, LoadFactor::Go122, ops);
        total.comparisons += coverage.comparisons;
        total.comparisons_mid_growth += coverage.comparisons_mid_growth;
        total.max_len = total.max_len.max(coverage.max_len);
        total.max_log2 = total.max_log2.max(coverage.max_log2);
    }
    // The runs must reach growths and compare contents in the middle of some.
    assert!(total.max_log2 >= 3, "{hasher:?} {}: {total:?}", K::NAME);
    assert!(
        total.comparisons_mid_growth > 0,
        "{hasher:?} {}: {total:?}",
        K::NAME
    );
}

#[test]
fn u8_keys_match_std_with_default_hasher() {
    run_seeds::<u8>(HasherKind::Default, 3000);
}

#[test]
fn u8_keys_match_std_with_fixed_hasher() {
    run_seeds::<u8>(HasherKind::Fixed, 3000);
}

#[test]
fn u8_keys_match_std_with_constant_hasher() {
    run_seeds::<u8>(HasherKind::Constant, 2000);
}

#[test]
fn u8_keys_match_std_with_low_entropy_hasher() {
    run_seeds::<u8>(HasherKind::LowEntropy, 3000);
}

#[test]
fn u16_keys_match_std_with_default_hasher() {
    run_seeds::<u16>(HasherKind::Default, 2000);
}

#[test]
fn u16_keys_match_std_with_fixed_hasher() {
    run_seeds::<u16>(HasherKind::Fixed, 2000);
}

#[test]
fn u16_keys_match_std_with_constant_hasher() {
    run_seeds::<u16>(HasherKind::Constant, 1200);
}

#[test]
fn u16_keys_match_std_with_low_entropy_hasher() {
    run_seeds::<u16>(HasherKind::LowEntropy, 2000);
}

#[test]
fn u64_keys_match_std_with_default_hasher() {
    run_seeds::<u64>(HasherKind::Default, 2000);
}

#[test]
fn u64_keys_match_std_with_fixed_hasher() {
    run_seeds::<u64>(HasherKind::Fixed, 2000);
}

#[test]
fn u64_keys_match_std_with_constant_hasher() {
    run_seeds::<u64>(HasherKind::Constant, 1200);
}

#[test]
fn u64_keys_match_std_with_low_entropy_hasher() {
    run_seeds::<u64>(HasherKind::LowEntropy, 2000);
}

#[test]
fn u16_keys_match_std_with_go121_load_factor() {
    for seed in SEEDS {
        run::<u16>(seed, HasherKind::Default, LoadFactor::Go121, 1500);
    }
}

/// Heavier variant: more seeds and longer runs. Run with `--release --ignored`.
#[test]
#[ignore = "long differential run; use --release --ignored"]
fn many_seeds_match_std() {
    for seed in 100..116 {
        for hasher in HasherKind::ALL {
            // Every key in one chain makes each operation linear: shorter runs.
            let ops = if hasher == HasherKind::Constant {
                2_000
            } else {
                5_000
            };
            run::<u8>(seed, hasher, LoadFactor::Go122, 20_000);
            run::<u16>(seed, hasher, LoadFactor::Go122, ops);
            run::<u64>(seed, hasher, LoadFactor::Go121, ops);
        }
    }
}
