//! Fuzzing support for `hmap`: the shared [`Operation`] enum that the sequential targets decode
//! with `arbitrary`, and the replay-and-compare code behind every target. Each file in
//! `fuzz_targets/` is a few lines that pick a module's entry point.
//!
//! | target | module | property |
//! |---|---|---|
//! | `differential_std` | [`sequential`] | `hmap::HashMap` ≡ `std::collections::HashMap`, invariants after every step, growth starts exactly where Go's rules say |
//! | `collisions` | [`sequential`] | the same under weak hashers only: overflow chains, same-size growths |
//! | `grow_iterate` | [`sequential`] | every iterator, after every step (so in every growth state), equals the model as a multiset |
//! | `concurrent_differential` | [`concurrent`] | `ConcurrentHashMap` on one thread ≡ std, with growth kept running |
//! | `sync_map` | [`sync_map`] | `hmap::wrappers::SyncMap` ≡ a model of Go's `sync.Map` semantics |
//! | `threads_asan` | [`threads`] | 2–4 real threads on a `ConcurrentHashMap`: per-thread linearizable results, an end-of-run audit, and AddressSanitizer watching reclamation |
//! | `resize_race` | `hmap::sched::race` | 2–3 threads across a growth, interleaved by the input through hmap's deterministic scheduler: per-key linearizability, iteration, final state, invariants |
//!
//! Determinism: hashers have fixed seeds ([`hashers`]) and every sequential replay first calls
//! `hmap::seed_thread_rng` with a seed from the input, so the map's `hash0` and iteration start
//! points are a function of the input; `resize_race` also draws its thread interleaving from the
//! input. `threads_asan` alone depends on the OS scheduler.
//!
//! Inputs bound their own size: at most [`MAX_OPS`] operations are replayed, and key domains are
//! small (`u8`, `u16`, a few hundred strings) so that hits, collisions and growths are frequent.

use std::fmt::Debug;
use std::hash::Hash;

use arbitrary::Arbitrary;

pub mod concurrent;
pub mod hashers;
pub mod sequential;
pub mod sync_map;
pub mod threads;

pub use hashers::{FuzzHasher, HasherChoice};

/// Operations replayed per input at most (the rest of a longer input is ignored), so that one
/// execution stays in the millisecond range even with `check_invariants()` after every step.
pub const MAX_OPS: usize = 256;

/// One step on a sequential map (`hmap::HashMap`, mirrored on `std::collections::HashMap`).
/// Keys are raw `u16`s reduced to the input's [`KeyDomain`]; values are small numbers.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `insert(key, value)`.
    Insert(u16, u8),
    /// `insert(start + i, value)` for `i < len`: reaches large tables and growths in few steps.
    InsertRange {
        /// First key.
        start: u16,
        /// Number of keys.
        len: u8,
        /// The value of every key.
        value: u8,
    },
    /// `remove(key)`.
    Remove(u16),
    /// `remove(start + i)` for `i < len`.
    RemoveRange {
        /// First key.
        start: u16,
        /// Number of keys.
        len: u8,
    },
    /// `remove_entry(key)`.
    RemoveEntry(u16),
    /// `get(key)`.
    Get(u16),
    /// `get_key_value(key)`.
    GetKeyValue(u16),
    /// `contains_key(key)`.
    ContainsKey(u16),
    /// `get_mut(key)`, then adds to the value.
    GetMut(u16, u8),
    /// `entry(key)` and one of the entry API's calls.
    Entry(u16, EntryOp),
    /// `retain(|k, v| …)`: drops the entries whose `(key + value) % (modulus + 1) == 0` and adds
    /// `modulus` to the value of every entry it keeps, through the predicate's `&mut V` (so an
    /// entry visited twice, or a change that does not stick, differs from the model).
    Retain {
        /// The predicate's modulus, minus one.
        modulus: u8,
    },
    /// `clear()`.
    Clear,
    /// `reserve(additional)`.
    Reserve(u16),
    /// `try_reserve(additional)`, or `try_reserve(usize::MAX)` (capacity overflow) when `overflow`.
    TryReserve {
        /// Entries to make room for.
        additional: u16,
        /// Ask for `usize::MAX` instead.
        overflow: bool,
    },
    /// `iter()`, `keys()` and `values()`, each compared with the model as a multiset.
    Iter,
    /// `iter_mut()`: adds to every value.
    IterMut(u8),
    /// `values_mut()`: adds to every value.
    ValuesMut(u8),
    /// `drain()`, consuming only `take` items and dropping the rest.
    Drain {
        /// Items consumed before the `Drain` is dropped.
        take: u8,
    },
    /// Replaces the map by its `clone()` (compared with `==` first).
    Clone,
    /// `clone().into_iter()`, `into_keys()` or `into_values()` (by `kind % 3`), compared as a
    /// multiset.
    IntoIter {
        /// Which consuming iterator.
        kind: u8,
    },
    /// `extend(pairs)`.
    Extend(Vec<(u16, u8)>),
}

/// The entry API call of an [`Operation::Entry`].
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryOp {
    /// `or_insert(value)`.
    OrInsert(u8),
    /// `or_insert_with(|| value)`.
    OrInsertWith(u8),
    /// `or_insert_with_key(|k| value)`.
    OrInsertWithKey(u8),
    /// `or_default()`.
    OrDefault,
    /// `and_modify(|v| v += value).or_insert(value)`.
    AndModifyOrInsert(u8),
    /// Occupied: `insert(value)`; vacant: `insert(value)`.
    Insert(u8),
    /// Occupied: `remove_entry()`; vacant: `into_key()`.
    Remove,
    /// Occupied: `get()` and `get_mut()`; vacant: `key()`.
    Peek(u8),
}

/// The key type and domain of a sequential input.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyDomain {
    /// `u8` keys: at most 256 distinct keys, frequent hits.
    U8,
    /// `u16` keys (at most 512 distinct under a constant hash, which makes every insert scan
    /// the whole chain).
    U16,
    /// 16 distinct `u8` keys, with heap-allocated values (`Box<u32>`): drops on every path.
    Tiny,
    /// 1024 distinct `String` keys, with heap-allocated values: keys and values that need
    /// `Drop` move through evacuation.
    Strings,
}

/// How a sequential input sets up its map.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The map's hasher.
    pub hasher: HasherChoice,
    /// Key type and domain.
    pub keys: KeyDomain,
    /// `with_capacity` hint.
    pub capacity: u8,
    /// Go 1.21's load factor (6.0) instead of 6.5.
    pub go121: bool,
    /// Seed for `hmap::seed_thread_rng`: the map's `hash0` and iteration start points.
    pub rng_seed: u64,
}

/// A sequential target's whole input.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// The map's setup.
    pub config: Config,
    /// The steps, of which the first [`MAX_OPS`] are replayed.
    pub ops: Vec<Operation>,
}

/// Keys made from a fuzzer's raw `u16`.
pub trait FuzzKey: Hash + Eq + Ord + Clone + Debug {
    /// The key for `raw` (already reduced to the domain).
    fn from_raw(raw: u16) -> Self;
    /// A number for the `retain` predicate.
    fn number(&self) -> u32;
}

impl FuzzKey for u8 {
    fn from_raw(raw: u16) -> Self {
        raw as u8
    }
    fn number(&self) -> u32 {
        u32::from(*self)
    }
}

impl FuzzKey for u16 {
    fn from_raw(raw: u16) -> Self {
        raw
    }
    fn number(&self) -> u32 {
        u32::from(*self)
    }
}

impl FuzzKey for String {
    fn from_raw(raw: u16) -> Self {
        format!("key-{raw}")
    }
    fn number(&self) -> u32 {
        self.bytes().map(u32::from).sum()
    }
}

/// Values made from a fuzzer's raw `u8`, and changed in place by `get_mut` and `iter_mut`.
pub trait FuzzValue: Clone + PartialEq + Ord + Debug + Default {
    /// The value for `raw`.
    fn from_raw(raw: u8) -> Self;
    /// Adds `by`, wrapping.
    fn bump(&mut self, by: u8);
    /// A number for the `retain` predicate.
    fn number(&self) -> u32;
}

impl FuzzValue for u32 {
    fn from_raw(raw: u8) -> Self {
        u32::from(raw)
    }
    fn bump(&mut self, by: u8) {
        *self = self.wrapping_add(u32::from(by));
    }
    fn number(&self) -> u32 {
        *self
    }
}

impl FuzzValue for Box<u32> {
    fn from_raw(raw: u8) -> Self {
        Box::new(u32::from(raw))
    }
    fn bump(&mut self, by: u8) {
        **self = self.wrapping_add(u32::from(by));
    }
    fn number(&self) -> u32 {
        **self
    }
}

/// Sorts two collections and asserts they are equal: a multiset comparison that reports
/// duplicates and omissions alike.
pub fn assert_same_multiset<T: Ord + Debug>(mut got: Vec<T>, mut want: Vec<T>, what: &str) {
    got.sort();
    want.sort();
    assert_eq!(got, want, "{what}: differs from the model (as a multiset)");
}

/// Consumes an `ExactSizeIterator`, checking that `len()` counts down exactly, and returns what
/// it yielded.
pub fn collect_exact<I: ExactSizeIterator>(mut iter: I, what: &str) -> Vec<I::Item> {
    let mut out = Vec::with_capacity(iter.len());
    loop {
        let remaining = iter.len();
        assert_eq!(
            iter.size_hint(),
            (remaining, Some(remaining)),
            "{what}: size_hint"
        );
        match iter.next() {
            Some(item) => out.push(item),
            None => {
                assert_eq!(remaining, 0, "{what}: ended with len() = {remaining}");
                return out;
            }
        }
    }
}
