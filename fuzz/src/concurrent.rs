//! `concurrent_differential`: one-thread operation sequences on `hmap::ConcurrentHashMap`,
//! compared with `std::collections::HashMap`.
//!
//! The map starts tiny (B = 0 or 1), and with [`ConcurrentInput::keep_growing`] a new growth is
//! forced (`force_growth`, doc-hidden) whenever none is running, so that most operations meet an
//! evacuation in progress: a write evacuates its own old chain plus a claimed chunk, a read looks
//! in the old or new table. Operations run on a pinned view that lives until a
//! [`ConcurrentOp::Repin`]; the values that `insert` and `remove` return must stay readable, and
//! unchanged, until then (AddressSanitizer reports it if reclamation frees them early). After
//! every step: `check_invariants()` (the T, B, E, R, N labels of `design/concurrent-protocol.md`),
//! `len()` and `stats()` against the model, with no evacuation claim left in flight.
//!
//! **Growth trigger.** After every operation (each key of a range) the map must not sit over the
//! load factor with no growth running by more than the concurrent trigger allows
//! (`Replay::check_growth_due`): a map that never grows, or grows much too late, fails.

use std::cell::Cell;
use std::collections::HashMap as StdHashMap;

use arbitrary::Arbitrary;
use hmap::concurrent::{Operation, Pinned};
use hmap::sched::race::COUNT_BATCH;
use hmap::ConcurrentHashMap;

use crate::sequential::load_limit;
use crate::{assert_same_multiset, FuzzHasher, HasherChoice, MAX_OPS};

/// Doublings are forced only up to this B (then same-size growths), to bound memory.
const MAX_FORCED_LOG2: u8 = 7;

/// Values are boxed so that every retired entry is a heap object ASan can watch.
type Value = Box<u32>;

/// One step on the concurrent map.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub enum ConcurrentOp {
    /// `insert(key, value)`.
    Insert(u16, u8),
    /// `insert(start + i, value)` for `i < len`.
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
    /// `get(key)`.
    Get(u16),
    /// `get_key_value(key)`.
    GetKeyValue(u16),
    /// `contains_key(key)`.
    ContainsKey(u16),
    /// `update(key, |v| v + by)`.
    Update(u16, u8),
    /// `get_or_insert(key, value)`.
    GetOrInsert(u16, u8),
    /// `get_or_insert_with(key, || value)`, counting the closure's calls.
    GetOrInsertWith(u16, u8),
    /// `compute(key, ..)`: inserts `value` if absent, removes a value divisible by 3, otherwise
    /// adds `value`; the closure must see the model's value.
    Compute(u16, u8),
    /// `retain(|k, v| (k + v) % (modulus + 1) != 0)`.
    Retain {
        /// The predicate's modulus, minus one.
        modulus: u8,
    },
    /// `clear()`.
    Clear,
    /// `iter()`, `keys()`, `values()` against the model.
    Iter,
    /// `force_growth(same_size)` (doublings only up to a bound).
    ForceGrowth {
        /// Same-size growth instead of doubling.
        same_size: bool,
    },
    /// Drops the pinned view (after checking the references it handed out) and pins again.
    Repin,
    /// `flush()`: hands this thread's garbage to the collector.
    Flush,
}

/// The whole input of `concurrent_differential`.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct ConcurrentInput {
    /// The map's hasher.
    pub hasher: HasherChoice,
    /// `with_capacity` hint, reduced modulo 16 (B = 0 to 2 at the start).
    pub capacity: u8,
    /// Force a new growth after every step that leaves none running.
    pub keep_growing: bool,
    /// Bit i says whether the i-th forced growth (mod 8) is same-size.
    pub same_size_pattern: u8,
    /// The steps, of which the first [`MAX_OPS`] are replayed.
    pub ops: Vec<ConcurrentOp>,
}

/// Replays `input`. Panics on the first difference.
pub fn run(input: &ConcurrentInput) {
    let mask: u16 = match input.hasher {
        HasherChoice::Fixed(_) => 0x3FF,
        _ => 0xFF,
    };
    let map: ConcurrentHashMap<u16, Value, FuzzHasher> =
        ConcurrentHashMap::with_capacity_and_hasher(
            usize::from(input.capacity % 16),
            input.hasher.build(),
        );
    let mut replay = Replay {
        map: &map,
        model: StdHashMap::new(),
        mask,
        forced: 0,
        len_while_growing: 0,
        input,
        step: 0,
    };
    let ops = &input.ops[..input.ops.len().min(MAX_OPS)];
    let mut rest = ops;
    while !rest.is_empty() {
        let segment_len = rest
            .iter()
            .position(|op| *op == ConcurrentOp::Repin)
            .map_or(rest.len(), |at| at + 1);
        let (segment, tail) = rest.split_at(segment_len);
        replay.run_pinned(segment);
        rest = tail;
    }
    replay.check_contents(&map.pin());
    drop(map);
}

struct Replay<'m> {
    map: &'m ConcurrentHashMap<u16, Value, FuzzHasher>,
    model: StdHashMap<u16, u32>,
    mask: u16,
    /// Growths forced so far.
    forced: u32,
    /// `len()` the last time a growth was seen running (0 before any).
    len_while_growing: usize,
    input: &'m ConcurrentInput,
    step: usize,
}

impl<'m> Replay<'m> {
    /// Runs `segment` on one pinned view, then checks every reference the view handed out.
    fn run_pinned(&mut self, segment: &[ConcurrentOp]) {
        let view = self.map.pin();
        // (reference handed out, the value it had): must still read the same at the end.
        let mut kept: Vec<(&Value, u32)> = Vec::new();
        for op in segment {
            self.apply(&view, op, &mut kept);
            self.after_step();
            self.step += 1;
        }
        for (reference, value) in kept {
            assert_eq!(
                **reference, value,
                "a returned reference changed while pinned"
            );
        }
    }

    fn key(&self, raw: u16) -> u16 {
        raw & self.mask
    }

    fn apply<'v>(
        &mut self,
        view: &'v Pinned<'m, u16, Value, FuzzHasher>,
        op: &ConcurrentOp,
        kept: &mut Vec<(&'v Value, u32)>,
    ) {
        let step = self.step;
        let mut check = |got: Option<&'v Value>, want: Option<u32>, what: &str| {
            assert_eq!(got.map(|v| **v), want, "step {step}: {what}");
            if let Some(got) = got {
                kept.push((got, **got));
            }
        };
        match *op {
            ConcurrentOp::Insert(k, v) => {
                let k = self.key(k);
                check(
                    view.insert(k, Box::new(v.into())),
                    self.model.insert(k, v.into()),
                    "insert",
                );
            }
            ConcurrentOp::InsertRange { start, len, value } => {
                for i in 0..u16::from(len) {
                    let k = self.key(start.wrapping_add(i));
                    let want = self.model.insert(k, value.into());
                    check(view.insert(k, Box::new(value.into())), want, "insert range");
                    self.check_growth_due();
                }
            }
            ConcurrentOp::Remove(k) => {
                let k = self.key(k);
                check(view.remove(&k), self.model.remove(&k), "remove");
            }
            ConcurrentOp::RemoveRange { start, len } => {
                for i in 0..u16::from(len) {
                    let k = self.key(start.wrapping_add(i));
                    check(view.remove(&k), self.model.remove(&k), "remove range");
                }
            }
            ConcurrentOp::Get(k) => {
                let k = self.key(k);
                check(view.get(&k), self.model.get(&k).copied(), "get");
            }
            ConcurrentOp::GetKeyValue(k) => {
                let k = self.key(k);
                let got = view.get_key_value(&k);
                assert_eq!(got.map(|(key, _)| *key), self.model.get(&k).map(|_| k));
                check(
                    got.map(|(_, v)| v),
                    self.model.get(&k).copied(),
                    "get_key_value",
                );
            }
            ConcurrentOp::ContainsKey(k) => {
                let k = self.key(k);
                assert_eq!(view.contains_key(&k), self.model.contains_key(&k));
            }
            ConcurrentOp::Update(k, by) => {
                let k = self.key(k);
                let got = view.update(&k, |old| Box::new(old.wrapping_add(by.into())));
                let want = self.model.get_mut(&k).map(|v| {
                    *v = v.wrapping_add(by.into());
                    *v
                });
                check(got, want, "update");
            }
            ConcurrentOp::GetOrInsert(k, v) => {
                let k = self.key(k);
                let got = view.get_or_insert(k, Box::new(v.into()));
                let want = *self.model.entry(k).or_insert(v.into());
                check(Some(got), Some(want), "get_or_insert");
            }
            ConcurrentOp::GetOrInsertWith(k, v) => {
                let k = self.key(k);
                let absent = !self.model.contains_key(&k);
                let calls = Cell::new(0);
                let got = view.get_or_insert_with(k, || {
                    calls.set(calls.get() + 1);
                    Box::new(v.into())
                });
                assert_eq!(
                    calls.get(),
                    usize::from(absent),
                    "step {step}: closure calls"
                );
                let want = *self.model.entry(k).or_insert(v.into());
                check(Some(got), Some(want), "get_or_insert_with");
            }
            ConcurrentOp::Compute(k, v) => {
                let k = self.key(k);
                let before = self.model.get(&k).copied();
                let next = |current: Option<u32>| match current {
                    None => Some(u32::from(v)),
                    Some(old) if old % 3 == 0 => None,
                    Some(old) => Some(old.wrapping_add(v.into())),
                };
                let done = view.compute(k, |current| {
                    assert_eq!(current.map(|b| **b), before, "step {step}: compute sees");
                    match next(current.map(|b| **b)) {
                        Some(new) => Operation::Set(Box::new(new)),
                        None => Operation::Remove,
                    }
                });
                let after = next(before);
                match after {
                    Some(new) => self.model.insert(k, new),
                    None => self.model.remove(&k),
                };
                check(done.previous(), before, "compute (previous)");
                check(done.current(), after, "compute (current)");
            }
            ConcurrentOp::Retain { modulus } => {
                let keep = |k: u16, v: u32| {
                    !u32::from(k)
                        .wrapping_add(v)
                        .is_multiple_of(u32::from(modulus) + 1)
                };
                view.retain(|k, v| keep(*k, **v));
                self.model.retain(|k, v| keep(*k, *v));
            }
            ConcurrentOp::Clear => {
                view.clear();
                self.model.clear();
            }
            ConcurrentOp::Iter => self.check_contents(view),
            ConcurrentOp::ForceGrowth { same_size } => {
                let was_growing = self.map.is_growing();
                let same_size = same_size || self.map.log2_buckets() >= MAX_FORCED_LOG2;
                assert_eq!(
                    self.map.force_growth(same_size),
                    !was_growing,
                    "step {step}: force_growth starts a growth exactly when none runs"
                );
            }
            ConcurrentOp::Repin => {}
            ConcurrentOp::Flush => view.flush(),
        }
    }

    /// `len()` and `stats()` against the model; then, with `keep_growing`, a new growth if none
    /// runs.
    fn after_step(&mut self) {
        let step = self.step;
        self.check_growth_due();
        self.map.check_invariants();
        assert_eq!(self.map.len(), self.model.len(), "step {step}: len");
        let stats = self.map.stats();
        assert_eq!(stats.len, self.model.len(), "step {step}: stats.len");
        assert_eq!(stats.growing, self.map.is_growing(), "step {step}");
        assert_eq!(stats.log2_buckets, self.map.log2_buckets(), "step {step}");
        assert_eq!(
            stats.claims_in_flight, 0,
            "step {step}: a claim left in flight"
        );
        assert_eq!(stats.drop_panics, 0, "step {step}");
        if stats.growing {
            let buckets = 1usize << stats.log2_buckets;
            let old = if stats.same_size_growth {
                buckets
            } else {
                buckets / 2
            };
            assert_eq!(stats.old_buckets, old, "step {step}: old table size");
            assert!(
                stats.old_evacuated < stats.old_buckets,
                "step {step}: done but growing"
            );
            assert!(stats.claimed <= stats.old_buckets, "step {step}");
        } else {
            assert_eq!(
                (stats.old_buckets, stats.old_evacuated),
                (0, 0),
                "step {step}"
            );
            assert!(!stats.same_size_growth, "step {step}");
        }
        if self.input.keep_growing && !stats.growing {
            let same_size = (self.input.same_size_pattern >> (self.forced % 8)) & 1 == 1
                || stats.log2_buckets >= MAX_FORCED_LOG2;
            assert!(
                self.map.force_growth(same_size),
                "step {step}: force_growth"
            );
            self.forced += 1;
            let log2 = self.map.log2_buckets();
            let expected = stats.log2_buckets + u8::from(!same_size);
            assert_eq!(log2, expected, "step {step}: B after a forced growth");
        }
    }

    /// The growth trigger's promise on one thread (`RawMap::after_insert`): a map with no growth
    /// running holds at most `max(L, E) + 2·COUNT_BATCH` entries, where `L` is the load limit of
    /// its B and `E` what it held when its last growth ended. The trigger looks at the exact count
    /// whenever the thread's stripe flushes, so at the latest after 2·`COUNT_BATCH` − 1 net new
    /// keys (from a stripe at −31 to +32), and at every filled last slot or new overflow bucket;
    /// over the limit it starts a doubling. Inserts during a growth never start one (growths
    /// never overlap), hence `E`, bounded here by the count last seen while growing plus the one
    /// key the ending write may add; forgotten once `len + COUNT_BATCH` is within the limit (the
    /// flushed count is then within it too). Called after every single-key operation.
    fn check_growth_due(&mut self) {
        let len = self.map.len();
        if self.map.is_growing() {
            self.len_while_growing = len;
            return;
        }
        let log2 = self.map.log2_buckets();
        let load = load_limit(hmap::LoadFactor::Go122, log2);
        if len + COUNT_BATCH <= load {
            // The flushed count is under `len + COUNT_BATCH`, so within the limit: from here on
            // no flush lets it pass the limit without a growth, whatever the last growth left.
            self.len_while_growing = 0;
        }
        let limit = load.max(self.len_while_growing + 1) + 2 * COUNT_BATCH;
        assert!(
            len <= limit,
            "step {}: {len} entries in 2^{log2} buckets, no growth running (at most {limit} \
             allowed: the load limit, or {} seen while the last growth ran, plus twice the \
             count batch)",
            self.step,
            self.len_while_growing
        );
    }

    /// Iteration against the model, as a multiset (one thread: iteration is exact).
    fn check_contents(&self, view: &Pinned<'_, u16, Value, FuzzHasher>) {
        let got: Vec<(u16, u32)> = view.iter().map(|(k, v)| (*k, **v)).collect();
        let want: Vec<(u16, u32)> = self.model.iter().map(|(k, v)| (*k, *v)).collect();
        assert_same_multiset(got, want, "iter");
        assert_eq!(view.keys().count(), self.model.len(), "keys");
        assert_eq!(view.values().count(), self.model.len(), "values");
        assert_eq!(view.len(), self.model.len(), "len");
    }
}
