//! Replays an [`Input`] of [`Operation`]s on `hmap::HashMap` and on `std::collections::HashMap`
//! (the model), comparing every result. Used by `differential_std`, `collisions` and
//! `grow_iterate`, which differ only in the [`Mode`].
//!
//! After every step: `check_invariants()` (the raw layer's I1–I8), `len()` against the model, and
//! a check of the header against Go's growth rules:
//! - an insert of a new key that finds the map not growing starts a doubling exactly when
//!   `overLoadFactor(count + 1, B)` holds, else a same-size growth exactly when
//!   `tooManyOverflowBuckets(noverflow, B)` holds, else no growth (B and the bucket array stay);
//! - reads (`get`, `iter`, `get_mut`, …) change nothing in the header: reads never evacuate;
//! - other writes (removals, `retain`, entry calls that insert nothing) never start a growth;
//! - `clear` and `drain` keep B and end any growth; `reserve` ends at the B Go's hint rule gives.

use std::collections::HashMap as StdHashMap;

use hmap::hash_map::Entry;
use hmap::{GrowthKind, HashMap, HeaderSnapshot, LoadFactor};

use crate::{
    assert_same_multiset, collect_exact, Config, EntryOp, FuzzHasher, FuzzKey, FuzzValue,
    HasherChoice, Input, KeyDomain, Operation, MAX_OPS,
};

/// What a target checks beyond the common differential checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `differential_std`: every hasher; iterators compared on [`Operation::Iter`].
    Differential,
    /// `collisions`: weak hashers only (constant or at most 16 distinct hashes), and `stats()`
    /// cross-checked after every step.
    Collisions,
    /// `grow_iterate`: every iterator compared with the model after every step.
    GrowIterate,
}

/// Replays `input` in `mode`. Panics on the first difference.
pub fn run(input: &Input, mode: Mode) {
    let mut config = input.config;
    if mode == Mode::Collisions {
        config.hasher = config.hasher.weak();
    }
    let ops = &input.ops[..input.ops.len().min(MAX_OPS)];
    hmap::seed_thread_rng(config.rng_seed);
    // Under a weak hash every insert scans a long chain: keep those domains small.
    let weak = !matches!(config.hasher, HasherChoice::Fixed(_));
    let wide = if weak { 0x1FF } else { 0xFFFF };
    match config.keys {
        KeyDomain::U8 => Replay::<u8, u32>::new(config, 0xFF, mode).run(ops),
        KeyDomain::U16 => Replay::<u16, u32>::new(config, wide, mode).run(ops),
        KeyDomain::Tiny => Replay::<u8, Box<u32>>::new(config, 0xF, mode).run(ops),
        KeyDomain::Strings => Replay::<String, Box<u32>>::new(config, wide & 0x3FF, mode).run(ops),
    }
}

/// Go's `overLoadFactor(count, B)`, recomputed here from the public `LoadFactor`.
pub fn over_load_factor(load_factor: LoadFactor, count: usize, log2: u8) -> bool {
    count > hmap::SLOTS_PER_BUCKET
        && count as u128 > load_factor.num() as u128 * ((1u128 << log2) / load_factor.den() as u128)
}

/// The most entries 2^`log2` buckets hold without exceeding the load factor: the largest count
/// for which [`over_load_factor`] is false.
pub fn load_limit(load_factor: LoadFactor, log2: u8) -> usize {
    let buckets = 1usize.checked_shl(u32::from(log2)).unwrap_or(usize::MAX);
    hmap::SLOTS_PER_BUCKET.max(
        load_factor
            .num()
            .saturating_mul(buckets / load_factor.den()),
    )
}

/// Go's `tooManyOverflowBuckets(noverflow, B)`.
pub fn too_many_overflow_buckets(noverflow: u16, log2: u8) -> bool {
    usize::from(noverflow) >= 1usize << log2.min(15)
}

/// The smallest B that holds `count` entries (Go's hint rule, as `reserve` uses it).
pub fn log2_for(load_factor: LoadFactor, count: usize) -> u8 {
    let mut log2 = 0;
    while over_load_factor(load_factor, count, log2) {
        log2 += 1;
    }
    log2
}

/// The map under test, its model and the replay state.
struct Replay<K, V> {
    map: HashMap<K, V, FuzzHasher>,
    model: StdHashMap<K, V>,
    /// Raw keys are reduced with this mask.
    mask: u16,
    load_factor: LoadFactor,
    mode: Mode,
    /// The step being replayed (for messages).
    step: usize,
}

impl<K: FuzzKey, V: FuzzValue> Replay<K, V> {
    fn new(config: Config, mask: u16, mode: Mode) -> Self {
        let load_factor = if config.go121 {
            LoadFactor::Go121
        } else {
            LoadFactor::Go122
        };
        let map = HashMap::with_capacity_hasher_and_load_factor(
            usize::from(config.capacity),
            config.hasher.build(),
            load_factor,
        );
        Self {
            map,
            model: StdHashMap::new(),
            mask,
            load_factor,
            mode,
            step: 0,
        }
    }

    fn key(&self, raw: u16) -> K {
        K::from_raw(raw & self.mask)
    }

    fn run(mut self, ops: &[Operation]) {
        for (step, op) in ops.iter().enumerate() {
            self.step = step;
            self.apply(op);
            self.map.check_invariants();
            assert_eq!(self.map.len(), self.model.len(), "step {step}: len");
            assert_eq!(self.map.is_empty(), self.model.is_empty(), "step {step}");
            match self.mode {
                Mode::Differential => {}
                Mode::Collisions => self.check_stats(),
                Mode::GrowIterate => self.compare_iterators(),
            }
        }
        self.compare_iterators();
        // Dropping the map drops every entry once (ASan and LSan watch the boxed values).
    }

    fn apply(&mut self, op: &Operation) {
        let step = self.step;
        let before = self.map.header();
        match op {
            Operation::Insert(k, v) => self.insert(self.key(*k), V::from_raw(*v)),
            Operation::InsertRange { start, len, value } => {
                for i in 0..u16::from(*len) {
                    self.insert(self.key(start.wrapping_add(i)), V::from_raw(*value));
                }
            }
            Operation::Remove(k) => {
                let k = self.key(*k);
                assert_eq!(
                    self.map.remove(&k),
                    self.model.remove(&k),
                    "step {step}: remove"
                );
                self.check_no_growth_started(&before);
            }
            Operation::RemoveRange { start, len } => {
                for i in 0..u16::from(*len) {
                    let k = self.key(start.wrapping_add(i));
                    assert_eq!(self.map.remove(&k), self.model.remove(&k), "step {step}");
                }
                self.check_no_growth_started(&before);
            }
            Operation::RemoveEntry(k) => {
                let k = self.key(*k);
                assert_eq!(
                    self.map.remove_entry(&k),
                    self.model.remove_entry(&k),
                    "step {step}: remove_entry"
                );
                self.check_no_growth_started(&before);
            }
            Operation::Get(k) => {
                let k = self.key(*k);
                assert_eq!(self.map.get(&k), self.model.get(&k), "step {step}: get");
                self.check_unchanged(&before, "get");
            }
            Operation::GetKeyValue(k) => {
                let k = self.key(*k);
                assert_eq!(
                    self.map.get_key_value(&k),
                    self.model.get_key_value(&k),
                    "step {step}: get_key_value"
                );
                self.check_unchanged(&before, "get_key_value");
            }
            Operation::ContainsKey(k) => {
                let k = self.key(*k);
                assert_eq!(self.map.contains_key(&k), self.model.contains_key(&k));
                self.check_unchanged(&before, "contains_key");
            }
            Operation::GetMut(k, by) => {
                let k = self.key(*k);
                let got = self.map.get_mut(&k).map(|v| {
                    v.bump(*by);
                    v.clone()
                });
                let want = self.model.get_mut(&k).map(|v| {
                    v.bump(*by);
                    v.clone()
                });
                assert_eq!(got, want, "step {step}: get_mut");
                self.check_unchanged(&before, "get_mut");
            }
            Operation::Entry(k, entry_op) => self.entry(self.key(*k), *entry_op, &before),
            Operation::Retain { modulus } => {
                let keep = |k: &K, v: &V| {
                    !(k.number().wrapping_add(v.number())).is_multiple_of(u32::from(*modulus) + 1)
                };
                let keep_and_bump = |k: &K, v: &mut V| {
                    let keep = keep(k, v);
                    if keep {
                        v.bump(*modulus);
                    }
                    keep
                };
                self.map.retain(keep_and_bump);
                self.model.retain(keep_and_bump);
                self.check_no_growth_started(&before);
            }
            Operation::Clear => {
                self.map.clear();
                self.model.clear();
                self.check_cleared(&before);
            }
            Operation::Reserve(additional) => {
                self.map.reserve(usize::from(*additional));
                self.check_reserved(&before, usize::from(*additional));
            }
            Operation::TryReserve {
                additional,
                overflow,
            } => {
                if *overflow {
                    assert_eq!(
                        self.map.try_reserve(usize::MAX),
                        Err(hmap::TryReserveError::CapacityOverflow),
                        "step {step}: try_reserve(usize::MAX)"
                    );
                    self.check_unchanged(&before, "a failed try_reserve");
                } else {
                    assert_eq!(self.map.try_reserve(usize::from(*additional)), Ok(()));
                    self.check_reserved(&before, usize::from(*additional));
                }
            }
            Operation::Iter => {
                self.compare_iterators();
                self.check_unchanged(&before, "iteration");
            }
            Operation::IterMut(by) => {
                for (_, v) in self.map.iter_mut() {
                    v.bump(*by);
                }
                for v in self.model.values_mut() {
                    v.bump(*by);
                }
                self.check_unchanged(&before, "iter_mut");
            }
            Operation::ValuesMut(by) => {
                let got = collect_exact(self.map.values_mut(), "values_mut").len();
                assert_eq!(got, self.model.len(), "step {step}: values_mut");
                for v in self.map.values_mut() {
                    v.bump(*by);
                }
                for v in self.model.values_mut() {
                    v.bump(*by);
                }
                self.check_unchanged(&before, "values_mut");
            }
            Operation::Drain { take } => {
                let drained: Vec<(K, V)> = self.map.drain().take(usize::from(*take)).collect();
                for (k, v) in drained {
                    assert_eq!(self.model.remove(&k), Some(v), "step {step}: drain");
                }
                self.model.clear();
                self.check_cleared(&before);
            }
            Operation::Clone => {
                let copy = self.map.clone();
                copy.check_invariants();
                assert!(copy == self.map, "step {step}: clone() != original");
                let after = copy.header();
                // A structural clone: same B, seed, growth state and evacuation mark.
                assert_eq!(
                    (after.count, after.flags, after.log2_buckets, after.hash0),
                    (
                        before.count,
                        before.flags,
                        before.log2_buckets,
                        before.hash0
                    ),
                    "step {step}: clone's header"
                );
                assert_eq!(
                    (after.old_buckets != 0, after.evacuation_mark),
                    (before.old_buckets != 0, before.evacuation_mark),
                    "step {step}: clone's growth state"
                );
                self.check_unchanged(&before, "clone");
                self.map = copy;
            }
            Operation::IntoIter { kind } => {
                let copy = self.map.clone();
                match kind % 3 {
                    0 => assert_same_multiset(
                        collect_exact(copy.into_iter(), "into_iter"),
                        self.model.clone().into_iter().collect(),
                        "into_iter",
                    ),
                    1 => assert_same_multiset(
                        collect_exact(copy.into_keys(), "into_keys"),
                        self.model.keys().cloned().collect(),
                        "into_keys",
                    ),
                    _ => assert_same_multiset(
                        collect_exact(copy.into_values(), "into_values"),
                        self.model.values().cloned().collect(),
                        "into_values",
                    ),
                }
                self.check_unchanged(&before, "a clone's into_iter");
            }
            Operation::Extend(pairs) => {
                let pairs: Vec<(K, V)> = pairs
                    .iter()
                    .take(64)
                    .map(|(k, v)| (self.key(*k), V::from_raw(*v)))
                    .collect();
                self.map.extend(pairs.iter().cloned());
                self.model.extend(pairs);
                let after = self.map.header();
                assert!(
                    after.log2_buckets >= before.log2_buckets,
                    "step {step}: B shrank"
                );
            }
        }
    }

    /// `insert(k, v)` on both maps, with the growth-trigger check.
    fn insert(&mut self, k: K, v: V) {
        let step = self.step;
        let before = self.map.header();
        let new_key = !self.model.contains_key(&k);
        assert_eq!(
            self.map.insert(k.clone(), v.clone()),
            self.model.insert(k, v),
            "step {step}: insert"
        );
        if new_key {
            self.check_growth_trigger(&before);
        } else {
            self.check_no_growth_started(&before);
        }
    }

    fn entry(&mut self, k: K, op: EntryOp, before: &HeaderSnapshot) {
        use std::collections::hash_map::Entry as StdEntry;
        let step = self.step;
        let new_key = !self.model.contains_key(&k);
        let mut inserted = new_key;
        match op {
            EntryOp::OrInsert(v) => {
                let got = self.map.entry(k.clone()).or_insert(V::from_raw(v)).clone();
                let want = self.model.entry(k).or_insert(V::from_raw(v)).clone();
                assert_eq!(got, want, "step {step}: or_insert");
            }
            EntryOp::OrInsertWith(v) => {
                let got = self.map.entry(k.clone()).or_insert_with(|| V::from_raw(v));
                let got = got.clone();
                let want = self
                    .model
                    .entry(k)
                    .or_insert_with(|| V::from_raw(v))
                    .clone();
                assert_eq!(got, want, "step {step}: or_insert_with");
            }
            EntryOp::OrInsertWithKey(v) => {
                let make = |key: &K| {
                    let mut value = V::from_raw(v);
                    value.bump(key.number() as u8);
                    value
                };
                let got = self.map.entry(k.clone()).or_insert_with_key(make).clone();
                let want = self.model.entry(k).or_insert_with_key(make).clone();
                assert_eq!(got, want, "step {step}: or_insert_with_key");
            }
            EntryOp::OrDefault => {
                let got = self.map.entry(k.clone()).or_default().clone();
                let want = self.model.entry(k).or_default().clone();
                assert_eq!(got, want, "step {step}: or_default");
            }
            EntryOp::AndModifyOrInsert(v) => {
                let got = self
                    .map
                    .entry(k.clone())
                    .and_modify(|x| x.bump(v))
                    .or_insert(V::from_raw(v))
                    .clone();
                let want = self
                    .model
                    .entry(k)
                    .and_modify(|x| x.bump(v))
                    .or_insert(V::from_raw(v))
                    .clone();
                assert_eq!(got, want, "step {step}: and_modify.or_insert");
            }
            EntryOp::Insert(v) => {
                let got = match self.map.entry(k.clone()) {
                    Entry::Occupied(mut e) => {
                        assert_eq!(e.key(), &k);
                        Some(e.insert(V::from_raw(v)))
                    }
                    Entry::Vacant(e) => {
                        assert_eq!(e.key(), &k);
                        assert_eq!(*e.insert(V::from_raw(v)), V::from_raw(v));
                        None
                    }
                };
                let want = match self.model.entry(k) {
                    StdEntry::Occupied(mut e) => Some(e.insert(V::from_raw(v))),
                    StdEntry::Vacant(e) => {
                        e.insert(V::from_raw(v));
                        None
                    }
                };
                assert_eq!(got, want, "step {step}: entry insert");
            }
            EntryOp::Remove => {
                inserted = false;
                let got = match self.map.entry(k.clone()) {
                    Entry::Occupied(e) => Some(e.remove_entry()),
                    Entry::Vacant(e) => {
                        assert_eq!(e.into_key(), k, "step {step}: into_key");
                        None
                    }
                };
                let want = match self.model.entry(k) {
                    StdEntry::Occupied(e) => Some(e.remove_entry()),
                    StdEntry::Vacant(_) => None,
                };
                assert_eq!(got, want, "step {step}: entry remove");
            }
            EntryOp::Peek(by) => {
                inserted = false;
                let got = match self.map.entry(k.clone()) {
                    Entry::Occupied(mut e) => {
                        assert_eq!(e.key(), &k);
                        e.get_mut().bump(by);
                        Some(e.into_mut().clone())
                    }
                    Entry::Vacant(e) => {
                        assert_eq!(e.key(), &k);
                        None
                    }
                };
                let want = self.model.get_mut(&k).map(|v| {
                    v.bump(by);
                    v.clone()
                });
                assert_eq!(got, want, "step {step}: entry peek");
            }
        }
        if inserted {
            self.check_growth_trigger(before);
        } else {
            self.check_no_growth_started(before);
        }
    }

    /// After an insert of a new key: a growth started exactly where Go's rules say.
    fn check_growth_trigger(&self, before: &HeaderSnapshot) {
        let step = self.step;
        let after = self.map.header();
        self.check_started_growth(before, &after);
        let growing = before.old_buckets != 0;
        let over = over_load_factor(self.load_factor, before.count + 1, before.log2_buckets);
        assert_eq!(after.count, before.count + 1, "step {step}: count");
        if growing {
            // The running growth may end during this write, and then a new one may start: Go's
            // `mapassign` runs `growWork` first and then tests `!growing() && overLoadFactor`.
            if after.log2_buckets != before.log2_buckets {
                assert!(over, "step {step}: a doubling under the load factor");
                assert_eq!(after.log2_buckets, before.log2_buckets + 1, "step {step}");
            }
            // Session 31 (a review): a growth that ended in this write over the load factor
            // must be followed by a doubling in the same write, not one write later.
            assert!(
                after.old_buckets != 0 || !over,
                "step {step}: the growth ended at overLoadFactor({}, {}) and no doubling started",
                before.count + 1,
                before.log2_buckets
            );
            if after.buckets != before.buckets && over {
                assert_eq!(
                    after.log2_buckets,
                    before.log2_buckets + 1,
                    "step {step}: a growth started at overLoadFactor is a doubling"
                );
            }
            return;
        }
        if over {
            assert_eq!(
                after.log2_buckets,
                before.log2_buckets + 1,
                "step {step}: overLoadFactor({}, {}) must start a doubling",
                before.count + 1,
                before.log2_buckets
            );
            assert_ne!(after.buckets, before.buckets, "step {step}: no new array");
            if after.old_buckets != 0 {
                assert_eq!(self.map.stats().growth, Some(GrowthKind::Doubling));
            }
        } else if too_many_overflow_buckets(before.overflow_count, before.log2_buckets) {
            assert_eq!(after.log2_buckets, before.log2_buckets, "step {step}");
            assert_ne!(
                after.buckets, before.buckets,
                "step {step}: tooManyOverflowBuckets({}, {}) must start a same-size growth",
                before.overflow_count, before.log2_buckets
            );
            if after.old_buckets != 0 {
                assert_eq!(self.map.stats().growth, Some(GrowthKind::SameSize));
            }
        } else {
            assert_eq!(
                after.log2_buckets, before.log2_buckets,
                "step {step}: B changed with no growth due"
            );
            if before.buckets != 0 {
                assert_eq!(
                    after.buckets, before.buckets,
                    "step {step}: a growth started with no cause (count {}, B {}, noverflow {})",
                    before.count, before.log2_buckets, before.overflow_count
                );
            }
        }
    }

    /// A growth that this insert started has the array current before the insert as its old
    /// array: `stats()` must report 2^B(before) old buckets, and a doubling exactly when B rose
    /// by one. `stats()` derives both from the `sameSizeGrow` flag and B, so comparing it with
    /// those fields could not fail (a review in session 31); this compares it with the map's
    /// history instead. Per insert, not per step: within one insert the only array freed is a
    /// finished growth's old one, so the array current before the insert (alive until this
    /// growth ends) cannot be confused with a newer array at a reused address, which a step of
    /// many inserts and several growths could meet (a review in session 33).
    fn check_started_growth(&self, before: &HeaderSnapshot, after: &HeaderSnapshot) {
        let step = self.step;
        if before.buckets == 0 || after.old_buckets != before.buckets {
            return;
        }
        let want = match after.log2_buckets.checked_sub(before.log2_buckets) {
            Some(1) => GrowthKind::Doubling,
            Some(0) => GrowthKind::SameSize,
            _ => panic!(
                "step {step}: a growth from a 2^{} array to a 2^{} one",
                before.log2_buckets, after.log2_buckets
            ),
        };
        let stats = self.map.stats();
        assert_eq!(
            stats.growth,
            Some(want),
            "step {step}: the growth kind against B's history"
        );
        assert_eq!(
            stats.old_buckets_total,
            1usize << before.log2_buckets,
            "step {step}: old bucket count against the array current before the insert"
        );
    }

    /// After a write that inserts nothing: no growth started (a running one may have ended).
    /// (A write to a map that has no bucket array yet may allocate it.)
    fn check_no_growth_started(&self, before: &HeaderSnapshot) {
        let after = self.map.header();
        assert_eq!(
            after.log2_buckets, before.log2_buckets,
            "step {}: a write that inserted nothing changed B",
            self.step
        );
        if before.buckets != 0 {
            assert_eq!(
                after.buckets, before.buckets,
                "step {}: a write that inserted nothing replaced the bucket array",
                self.step
            );
        }
    }

    /// After a read: the header is exactly as before (reads never evacuate).
    fn check_unchanged(&self, before: &HeaderSnapshot, what: &str) {
        assert_eq!(
            &self.map.header(),
            before,
            "step {}: {what} changed the header",
            self.step
        );
    }

    /// After `clear` or `drain`: B kept, no growth, empty.
    fn check_cleared(&self, before: &HeaderSnapshot) {
        let after = self.map.header();
        assert_eq!(
            after.log2_buckets, before.log2_buckets,
            "step {}: B",
            self.step
        );
        assert_eq!(after.old_buckets, 0, "step {}: still growing", self.step);
        assert_eq!(after.count, 0, "step {}", self.step);
    }

    /// After `reserve(additional)`: B is Go's hint B for `len + additional`, or unchanged.
    fn check_reserved(&self, before: &HeaderSnapshot, additional: usize) {
        let target = log2_for(self.load_factor, before.count + additional);
        if target <= before.log2_buckets {
            self.check_unchanged(before, "a reserve within capacity");
        } else {
            let after = self.map.header();
            assert_eq!(
                after.log2_buckets, target,
                "step {}: reserve's B",
                self.step
            );
            assert_eq!(
                after.old_buckets, 0,
                "step {}: reserve left a growth",
                self.step
            );
            assert!(self.map.capacity() >= before.count + additional);
        }
    }

    /// `stats()` agrees with the header and the public accessors.
    fn check_stats(&self) {
        let step = self.step;
        let stats = self.map.stats();
        let header = self.map.header();
        assert_eq!(stats.len, self.model.len(), "step {step}: stats.len");
        assert_eq!(stats.log2_buckets, self.map.log2_buckets(), "step {step}");
        assert_eq!(stats.buckets, 1usize << stats.log2_buckets, "step {step}");
        assert_eq!(stats.growth.is_some(), self.map.is_growing(), "step {step}");
        assert_eq!(
            stats.growth.is_some(),
            header.old_buckets != 0,
            "step {step}"
        );
        match stats.growth {
            None => assert_eq!(
                (stats.old_buckets_evacuated, stats.old_buckets_total),
                (0, 0),
                "step {step}: evacuation progress while not growing"
            ),
            Some(kind) => {
                let expected_old = match kind {
                    GrowthKind::Doubling => stats.buckets / 2,
                    GrowthKind::SameSize => stats.buckets,
                };
                assert_eq!(stats.old_buckets_total, expected_old, "step {step}");
                assert!(stats.old_buckets_evacuated < stats.old_buckets_total);
                assert!(stats.old_buckets_evacuated >= header.evacuation_mark);
            }
        }
        assert_eq!(
            stats.overflow_count_estimate, header.overflow_count,
            "step {step}"
        );
        if stats.log2_buckets < 16 && stats.growth.is_none() {
            // Exact below B = 16, and nothing was evacuated away since the count was reset...
            // but removals do not return overflow buckets, so only a lower bound on the estimate.
            assert!(
                usize::from(header.overflow_count) >= stats.overflow_buckets
                    || header.overflow_count == u16::MAX,
                "step {step}: noverflow {} < overflow buckets linked {}",
                header.overflow_count,
                stats.overflow_buckets
            );
        }
    }

    /// Every iterator over the map against the model, as multisets, with exact lengths.
    fn compare_iterators(&mut self) {
        let want: Vec<(K, V)> = self
            .model
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let pairs = collect_exact(self.map.iter(), "iter")
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_same_multiset(pairs, want.clone(), "iter");
        let keys = collect_exact(self.map.keys(), "keys");
        assert_same_multiset(keys, self.model.keys().collect(), "keys");
        let values = collect_exact(self.map.values(), "values");
        assert_same_multiset(values, self.model.values().collect(), "values");
        let mutable = collect_exact(self.map.iter_mut(), "iter_mut")
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_same_multiset(mutable, want, "iter_mut");
        let by_ref: Vec<&K> = (&self.map).into_iter().map(|(k, _)| k).collect();
        assert_eq!(by_ref.len(), self.model.len(), "&map into_iter");
    }
}
