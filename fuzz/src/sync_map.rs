//! `sync_map`: `hmap::wrappers::SyncMap` (the port of Go's `sync.Map`) against a plain
//! `std::collections::HashMap` holding what Go's documented semantics say the map holds.
//! `check_invariants()` (the read-only/dirty invariants I1–I6) runs after every step, so the
//! fuzzer drives the map through its internal states (misses, promotions, expunged entries) and
//! any state that breaks them is reported even when the results still agree.

use std::collections::HashMap as StdHashMap;
use std::fmt::Debug;
use std::hash::Hash;

use arbitrary::Arbitrary;
use hmap::wrappers::SyncMap;

use crate::{assert_same_multiset, FuzzHasher, HasherChoice, MAX_OPS};

/// One step on the `SyncMap`. Values are reduced modulo 16 so that the compare-and-swap family
/// hits often.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum SyncOp {
    /// `load(key)`.
    Load(u8),
    /// `store(key, value)`.
    Store(u8, u8),
    /// `load_or_store(key, value)`.
    LoadOrStore(u8, u8),
    /// `load_and_delete(key)`.
    LoadAndDelete(u8),
    /// `delete(key)`.
    Delete(u8),
    /// `swap(key, value)`.
    Swap(u8, u8),
    /// `compare_and_swap(key, old, new)`.
    CompareAndSwap {
        /// The key.
        key: u8,
        /// Expected value.
        old: u8,
        /// Replacement.
        new: u8,
    },
    /// `compare_and_delete(key, old)`.
    CompareAndDelete {
        /// The key.
        key: u8,
        /// Expected value.
        old: u8,
    },
    /// `range(f)` where `f` stops after `stop_after + 1` entries.
    Range {
        /// Entries visited before `f` returns false, minus one.
        stop_after: u8,
    },
    /// `range(f)` where `f`, on its first call, runs one single-key operation on the same map
    /// (Go allows any method inside `Range`), its result checked against the model; nothing
    /// runs if the map is empty. The operation: `kind % 8` picks load, store, load_or_store,
    /// load_and_delete, delete, swap, compare_and_swap (`value` → `value + 1`) or
    /// compare_and_delete (`value`), on `key`.
    RangeAndWrite {
        /// Which operation.
        kind: u8,
        /// Its key.
        key: u8,
        /// Its value.
        value: u8,
    },
    /// `clear()`.
    Clear,
    /// `len()` and `is_empty()`.
    Len,
}

impl SyncOp {
    /// The operation a [`SyncOp::RangeAndWrite`] runs inside `range`.
    fn range_write(kind: u8, key: u8, value: u8) -> SyncOp {
        match kind % 8 {
            0 => SyncOp::Load(key),
            1 => SyncOp::Store(key, value),
            2 => SyncOp::LoadOrStore(key, value),
            3 => SyncOp::LoadAndDelete(key),
            4 => SyncOp::Delete(key),
            5 => SyncOp::Swap(key, value),
            6 => SyncOp::CompareAndSwap {
                key,
                old: value,
                new: value.wrapping_add(1),
            },
            _ => SyncOp::CompareAndDelete { key, old: value },
        }
    }
}

/// Key and value types of a `sync_map` input.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncTypes {
    /// `u8` keys and values.
    Numbers,
    /// `String` keys and values: entries that need `Drop`, shared between the read-only and
    /// dirty maps through `Arc`s.
    Strings,
}

/// The whole input of `sync_map`.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct SyncInput {
    /// The hasher of the map's inner maps.
    pub hasher: HasherChoice,
    /// Key and value types.
    pub types: SyncTypes,
    /// Seed for `hmap::seed_thread_rng` (the inner maps' `hash0`).
    pub rng_seed: u64,
    /// The steps, of which the first [`MAX_OPS`] are replayed.
    pub ops: Vec<SyncOp>,
}

/// Keys and values made from raw bytes.
trait Item: Clone + Eq + Hash + Ord + Debug {
    fn from_raw(raw: u8) -> Self;
}

impl Item for u8 {
    fn from_raw(raw: u8) -> Self {
        raw
    }
}

impl Item for String {
    fn from_raw(raw: u8) -> Self {
        format!("s{raw}")
    }
}

/// Replays `input`. Panics on the first difference.
pub fn run(input: &SyncInput) {
    hmap::seed_thread_rng(input.rng_seed);
    let ops = &input.ops[..input.ops.len().min(MAX_OPS)];
    match input.types {
        SyncTypes::Numbers => replay::<u8, u8>(input.hasher, ops),
        SyncTypes::Strings => replay::<String, String>(input.hasher, ops),
    }
}

fn replay<K: Item, V: Item>(hasher: HasherChoice, ops: &[SyncOp]) {
    let map: SyncMap<K, V, FuzzHasher> = SyncMap::with_hasher(hasher.build());
    let mut model: StdHashMap<K, V> = StdHashMap::new();
    for (step, op) in ops.iter().enumerate() {
        match *op {
            SyncOp::Range { stop_after } => {
                let limit = usize::from(stop_after) + 1;
                let mut seen = Vec::new();
                map.range(|k, v| {
                    seen.push((k.clone(), v.clone()));
                    seen.len() < limit
                });
                assert_eq!(
                    seen.len(),
                    limit.min(model.len()),
                    "step {step}: range count"
                );
                if limit >= model.len() {
                    let want = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    assert_same_multiset(seen, want, "range");
                } else {
                    let mut keys: Vec<&K> = seen.iter().map(|(k, _)| k).collect();
                    keys.sort();
                    keys.dedup();
                    assert_eq!(keys.len(), seen.len(), "step {step}: range repeated a key");
                    for (k, v) in &seen {
                        assert_eq!(model.get(k), Some(v), "step {step}: range yielded {k:?}");
                    }
                }
            }
            SyncOp::RangeAndWrite { kind, key, value } => {
                let write = SyncOp::range_write(kind, key, value);
                let touched = K::from_raw(key);
                let before = model.clone();
                let mut seen = Vec::new();
                map.range(|k, v| {
                    if seen.is_empty() {
                        apply(&map, &mut model, &write, step);
                    }
                    seen.push((k.clone(), v.clone()));
                    true
                });
                // Every entry present before whose key `f` did not write is visited once, with
                // its value; the written key may be visited with its value from before or after
                // the write, or (if it was absent before or removed) not at all.
                let mut keys: Vec<&K> = seen.iter().map(|(k, _)| k).collect();
                keys.sort();
                keys.dedup();
                assert_eq!(keys.len(), seen.len(), "step {step}: range repeated a key");
                for (k, v) in &seen {
                    let ok = before.get(k) == Some(v) || (*k == touched && model.get(k) == Some(v));
                    assert!(ok, "step {step}: range yielded {k:?} → {v:?}");
                }
                let untouched = before.keys().filter(|k| **k != touched).count();
                let seen_untouched = seen.iter().filter(|(k, _)| *k != touched).count();
                assert_eq!(
                    seen_untouched, untouched,
                    "step {step}: range missed entries"
                );
            }
            ref op => apply(&map, &mut model, op, step),
        }
        map.check_invariants();
    }
    let mut all = Vec::new();
    map.range(|k, v| {
        all.push((k.clone(), v.clone()));
        true
    });
    assert_same_multiset(all, model.into_iter().collect(), "final range");
    map.check_invariants();
}

/// One operation other than the `range` family on `map` and on `model`, comparing the results.
fn apply<K: Item, V: Item>(
    map: &SyncMap<K, V, FuzzHasher>,
    model: &mut StdHashMap<K, V>,
    op: &SyncOp,
    step: usize,
) {
    let key = |raw: u8| K::from_raw(raw);
    let value = |raw: u8| V::from_raw(raw % 16);
    match *op {
        SyncOp::Load(k) => {
            let k = key(k);
            assert_eq!(map.load(&k), model.get(&k).cloned(), "step {step}: load");
        }
        SyncOp::Store(k, v) => {
            map.store(key(k), value(v));
            model.insert(key(k), value(v));
        }
        SyncOp::LoadOrStore(k, v) => {
            let want = match model.get(&key(k)) {
                Some(existing) => (existing.clone(), true),
                None => {
                    model.insert(key(k), value(v));
                    (value(v), false)
                }
            };
            assert_eq!(
                map.load_or_store(key(k), value(v)),
                want,
                "step {step}: load_or_store"
            );
        }
        SyncOp::LoadAndDelete(k) => {
            let k = key(k);
            assert_eq!(map.load_and_delete(&k), model.remove(&k), "step {step}");
        }
        SyncOp::Delete(k) => {
            map.delete(&key(k));
            model.remove(&key(k));
        }
        SyncOp::Swap(k, v) => {
            let want = model.insert(key(k), value(v));
            assert_eq!(map.swap(key(k), value(v)), want, "step {step}: swap");
        }
        SyncOp::CompareAndSwap { key: k, old, new } => {
            let (k, old, new) = (key(k), value(old), value(new));
            let want = model.get(&k) == Some(&old);
            if want {
                model.insert(k.clone(), new.clone());
            }
            assert_eq!(
                map.compare_and_swap(&k, &old, new),
                want,
                "step {step}: CAS"
            );
        }
        SyncOp::CompareAndDelete { key: k, old } => {
            let (k, old) = (key(k), value(old));
            let want = model.get(&k) == Some(&old);
            if want {
                model.remove(&k);
            }
            assert_eq!(map.compare_and_delete(&k, &old), want, "step {step}: CAD");
        }
        SyncOp::Clear => {
            map.clear();
            model.clear();
        }
        SyncOp::Len => {
            assert_eq!(map.len(), model.len(), "step {step}: len");
            assert_eq!(map.is_empty(), model.is_empty(), "step {step}: is_empty");
        }
        SyncOp::Range { .. } | SyncOp::RangeAndWrite { .. } => {
            unreachable!("the range family is replayed by `replay`")
        }
    }
}
