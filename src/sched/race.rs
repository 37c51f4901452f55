//! The `resize_race` harness: 2–3 threads run short operation lists on a tiny
//! [`ConcurrentHashMap`] across a growth, interleaved by the scheduler as the input's bytes say;
//! then every result is checked. One copy, used by the fuzz target
//! (`fuzz/fuzz_targets/resize_race.rs`) and by its test twin (`tests/resize_race.rs`).
//!
//! # Input
//! | bytes | meaning |
//! |---|---|
//! | 0 | bit 0: 2 or 3 threads; bits 1–2: hasher (0, 1: foldhash with two fixed seeds; 2: identity; 3: constant); bits 3–4: the growth when the threads start (0: none yet, the prefill stops at the threshold and the threads' inserts start one; 1, 2: a doubling; 3: a same-size growth); bits 5–6: B ∈ {0, 1, 2, 4}; bit 7: unused |
//! | 1 | bits 0–2: operations per thread (2–6); bit 3: how far below the growth threshold the prefill stops (0–1 entries); bits 4–7: unused |
//! | 2..38 | thread `t`'s operation `i` is bytes `2 + 12t + 2i` (kind) and `3 + 12t + 2i` (key); unused ones are skipped, so counts do not shift the schedule |
//! | 38.. | the scheduler's choices (`sched::run`) |
//!
//! Missing bytes read as 0. Kinds: `kind % 16` is 14 for `retain` (its key byte salts the
//! predicate), 15 for `clear`, 13 for `compute` (insert, replace or remove, by the key's
//! value); otherwise `kind % 8` names insert (0, 1), remove, get, update, get_or_insert_with,
//! iter, flush-then-get. Keys: an even key byte names one of 4 *shared* keys
//! (any thread may use them), an odd one one of 6 keys *owned* by the thread. Values are unique
//! per operation. The prefill holds some shared and owned keys (so that threads find some keys
//! present and others absent) and filler keys no thread touches.
//!
//! # Checks
//! - no thread panicked (the map's debug assertions included), and the run ended;
//! - **per-key linearizability**: each key's operations (with their intervals in the
//!   scheduler's global order, which is exact: one thread runs at a time) fit some sequential
//!   order of a `HashMap`-like register that starts at the prefill value and ends at the value
//!   the map holds after the run (`linearize.rs`). For owned keys this is the exact audit: no
//!   lost, duplicated or resurrected key or update;
//! - **`retain`**: each call of its predicate is recorded (key, value, verdict, and the global
//!   order's time of the call) and joins the key's history as an atomic "saw this value, removed
//!   it if rejected" that took effect between the call and the end of the `retain`. A key that
//!   no other write touched during the `retain` and that the predicate never saw must have been
//!   absent throughout (every entry present for the whole call is tested);
//! - **`clear`** (unobserved): for a key no other write touched meanwhile, one removal inside
//!   the call; for a key written meanwhile, any number of removals inside the call, none
//!   included (passes restart when a growth starts, and an entry inserted meanwhile may
//!   survive);
//! - **iteration** (weakly consistent): a key that no write touched during an iteration is
//!   yielded by it exactly when present, once, with its value; any yielded value is one the key
//!   had during the iteration; no key outside the test's keys;
//! - after the run: the map's `check_invariants`, a final iteration that yields every key once
//!   and agrees with `get`, and `len` exact;
//! - last, **growth** (since session 32; until then only the twin's statistics noticed a map
//!   that never grows): this thread, alone, inserts fresh keys until `2·BATCH` of them in a row
//!   met no growth running; the map must then hold at most the threshold of its B plus
//!   `BATCH − 1` ([`probe_growth`], which `threads_asan` calls too). The probe keys are removed
//!   again.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use super::linearize::{is_linearizable, Action, KeyOp};
use super::{run, session, RunReport};
use crate::concurrent::Operation;
use crate::ConcurrentHashMap;

/// Where the operation bytes start and how many there are at most.
const OPS_AT: usize = 2;
const MAX_OPS: usize = 6;
const MAX_RACE_THREADS: usize = 3;
/// Where the scheduler's choices start.
pub const CHOICES_AT: usize = OPS_AT + MAX_RACE_THREADS * MAX_OPS * 2;

/// Shared keys: 0..SHARED. Owned keys of thread `t`: 100·(t+1) + 0..OWNED.
const SHARED: u64 = 4;
const OWNED: u64 = 6;
/// Filler keys of the prefill: FILLER + 0..
const FILLER: u64 = 10_000;
/// A prefilled key's value is `key + PREFILLED`.
const PREFILLED: u64 = 1_000_000;

/// The hashers an input chooses from; all deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaceHasher {
    /// foldhash with a fixed seed: keys spread over chains.
    Fold(u64),
    /// hash = key: chain = key & mask, and every key has the same tophash (top byte 0), so
    /// every slot of a chain is a tophash match.
    Identity,
    /// One hash for every key: a single, long chain, and same-size growths.
    Constant,
}

/// The hasher state of [`RaceHasher`] (keys are `u64`s).
#[derive(Debug)]
pub struct RaceHashState {
    kind: RaceHasher,
    value: u64,
}

impl BuildHasher for RaceHasher {
    type Hasher = RaceHashState;
    fn build_hasher(&self) -> RaceHashState {
        RaceHashState {
            kind: *self,
            value: 0,
        }
    }
}

impl Hasher for RaceHashState {
    fn finish(&self) -> u64 {
        match self.kind {
            RaceHasher::Fold(seed) => {
                foldhash::fast::FixedState::with_seed(seed).hash_one(self.value)
            }
            RaceHasher::Identity => self.value,
            RaceHasher::Constant => 0x9E37_79B9_7F4A_7C15,
        }
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.value = self.value.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.value = value;
    }
}

/// How the map is growing when the threads start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Growth {
    /// Not yet: the prefill stops just below the threshold, the threads' inserts start it.
    AtThreshold,
    /// A doubling was started (`force_growth(false)`), nothing evacuated yet.
    Doubling,
    /// A same-size growth was started (`force_growth(true)`).
    SameSize,
}

/// One operation of a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `insert(key, value)`.
    Insert(u64, u64),
    /// `remove(key)`.
    Remove(u64),
    /// `get(key)`.
    Get(u64),
    /// `update(key, |v| update_value(v, tag))`.
    Update(u64, u64),
    /// `get_or_insert_with(key, || value)`.
    GetOrInsert(u64, u64),
    /// `compute(key, ...)`, moving the key to `compute_next(current, tag)`: insert, replace or
    /// remove.
    Compute(u64, u64),
    /// `iter()`, collected.
    Iter,
    /// `flush()` (hand this thread's garbage to the collector, try to free it), then `get(key)`.
    FlushGet(u64),
    /// `retain(|k, v| retained(salt, k, v))`, every predicate call recorded.
    Retain(u64),
    /// `clear()`.
    Clear,
}

/// The harness's `retain` predicate: a deterministic coin per (salt, key, value).
fn retained(salt: u64, key: u64, value: u64) -> bool {
    let mixed =
        (key ^ value.rotate_left(29) ^ salt.rotate_left(47)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    mixed >> 63 == 0
}

impl Op {
    fn key(self) -> Option<u64> {
        match self {
            Op::Insert(key, _)
            | Op::Remove(key)
            | Op::Get(key)
            | Op::Update(key, _)
            | Op::GetOrInsert(key, _)
            | Op::Compute(key, _)
            | Op::FlushGet(key) => Some(key),
            Op::Iter | Op::Retain(_) | Op::Clear => None,
        }
    }

    /// The action of a single-key operation.
    fn action(self) -> Action {
        match self {
            Op::Insert(_, value) => Action::Insert(value),
            Op::Remove(_) => Action::Remove,
            Op::Get(_) | Op::FlushGet(_) => Action::Read,
            Op::Update(_, tag) => Action::Update(tag),
            Op::GetOrInsert(_, value) => Action::GetOrInsert(value),
            Op::Compute(_, tag) => Action::Compute(tag),
            Op::Iter | Op::Retain(_) | Op::Clear => {
                unreachable!("{self:?} is not a single-key operation")
            }
        }
    }

    /// Whether the operation may change `key`'s entry.
    fn may_write(self, key: u64) -> bool {
        match self {
            Op::Retain(_) | Op::Clear => true,
            Op::Get(_) | Op::FlushGet(_) | Op::Iter => false,
            Op::Insert(..)
            | Op::Remove(_)
            | Op::Update(..)
            | Op::GetOrInsert(..)
            | Op::Compute(..) => self.key() == Some(key),
        }
    }
}

/// A decoded input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The first table has 2^`log2` buckets.
    pub log2: u8,
    pub hasher: RaceHasher,
    pub growth: Growth,
    /// Keys inserted (value `key + 1_000_000`) before the threads start.
    pub prefill: Vec<u64>,
    /// Each thread's operations.
    pub threads: Vec<Vec<Op>>,
    /// The scheduler's choices.
    pub choices: Vec<u8>,
}

/// The most entries a table of 2^`log2` buckets holds before it doubles (load factor 6.5, and
/// at least one full bucket).
fn threshold(log2: u8) -> usize {
    (13usize << log2 >> 1).max(8)
}

impl Case {
    /// Decodes any byte string (see the module documentation).
    pub fn decode(data: &[u8]) -> Self {
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        let config = byte(0);
        let threads = 2 + usize::from(config & 1);
        let hasher = match (config >> 1) & 3 {
            0 => RaceHasher::Fold(0x5EED),
            1 => RaceHasher::Fold(0xF00D),
            2 => RaceHasher::Identity,
            _ => RaceHasher::Constant,
        };
        let growth = match (config >> 3) & 3 {
            0 => Growth::AtThreshold,
            1 | 2 => Growth::Doubling,
            _ => Growth::SameSize,
        };
        let log2 = [0, 1, 2, 4][usize::from((config >> 5) & 3)];
        let shape = byte(1);
        let ops = 2 + usize::from(shape & 3) + usize::from((shape >> 2) & 1);
        let slack = usize::from((shape >> 3) & 1);
        let prefill = prefill_keys(threshold(log2).saturating_sub(slack));
        let threads = (0..threads)
            .map(|thread| {
                (0..ops)
                    .map(|i| {
                        let at = OPS_AT + (thread * MAX_OPS + i) * 2;
                        decode_op(thread, i, byte(at), byte(at + 1))
                    })
                    .collect()
            })
            .collect();
        Self {
            log2,
            hasher,
            growth,
            prefill,
            threads,
            choices: data.get(CHOICES_AT..).unwrap_or(&[]).to_vec(),
        }
    }

    /// Every key the case can touch or find.
    fn keys(&self) -> Vec<u64> {
        let mut keys: Vec<u64> = self.prefill.clone();
        keys.extend(self.threads.iter().flatten().filter_map(|op| op.key()));
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// `count` prefill keys: up to half of them (at most 13) shared and owned keys, interleaved
/// (0, 100, 200, 300, 1, 101, …), so that the threads find some of their keys present and some
/// absent (whose inserts push the map over its threshold); then fillers.
fn prefill_keys(count: usize) -> Vec<u64> {
    let mut keys = Vec::new();
    for j in 0..OWNED {
        if j < SHARED {
            keys.push(j);
        }
        for thread in 0..MAX_RACE_THREADS as u64 {
            keys.push(100 * (thread + 1) + j);
        }
    }
    keys.truncate(count.div_ceil(2).min(13));
    keys.extend((0..).map(|i| FILLER + i).take(count - keys.len()));
    keys
}

fn decode_op(thread: usize, index: usize, kind: u8, key: u8) -> Op {
    match kind % 16 {
        // The key byte salts the predicate's coin.
        14 => return Op::Retain(u64::from(key)),
        15 => return Op::Clear,
        _ => {}
    }
    let key = if key & 1 == 0 {
        u64::from(key >> 1) % SHARED
    } else {
        100 * (thread as u64 + 1) + u64::from(key >> 1) % OWNED
    };
    // Unique per operation, never a prefill value.
    let value = 1000 * (thread as u64 + 1) + 10 * index as u64 + 1;
    if kind % 16 == 13 {
        return Op::Compute(key, value);
    }
    match kind % 8 {
        0 | 1 => Op::Insert(key, value),
        2 => Op::Remove(key),
        3 => Op::Get(key),
        4 => Op::Update(key, value),
        5 => Op::GetOrInsert(key, value),
        6 => Op::Iter,
        _ => Op::FlushGet(key),
    }
}

/// What an operation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Value(Option<u64>),
    Entries(Vec<(u64, u64)>),
    /// `retain`'s predicate calls, in order.
    Calls(Vec<Call>),
    /// `clear` returns nothing.
    Cleared,
}

/// One call of `retain`'s predicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Call {
    key: u64,
    value: u64,
    kept: bool,
    /// The global order's time of the call (its tick).
    at: usize,
}

/// One executed operation, with its interval in the global order.
#[derive(Clone, Debug)]
struct Record {
    thread: usize,
    index: usize,
    op: Op,
    invoked: usize,
    returned: usize,
    outcome: Outcome,
}

impl Record {
    /// An operation on one key's history spanning this record's interval, run by its thread,
    /// taking effect once.
    fn key_op(&self, action: Action, result: Option<u64>) -> KeyOp {
        KeyOp {
            invoked: self.invoked,
            returned: self.returned,
            action,
            result,
            repeats: false,
            by: (self.thread, self.index),
        }
    }
}

#[derive(Default)]
struct History {
    clock: usize,
    records: Vec<Record>,
}

impl History {
    fn tick(history: &Mutex<History>) -> usize {
        let mut history = history.lock().unwrap_or_else(PoisonError::into_inner);
        history.clock += 1;
        history.clock
    }
}

/// Numbers from a run, for coverage checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaceStats {
    /// Whether a growth was running when the threads started.
    pub growing_at_start: bool,
    /// Growths started by the threads.
    pub growths_during: usize,
    /// Whether a growth was still running when they finished.
    pub growing_at_end: bool,
    /// `retain` calls whose predicate saw a key more than once: the walk restarted because the
    /// next growth started under it.
    pub retain_repeats: usize,
    /// The scheduler's report.
    pub report: RunReport,
}

type RaceMap = ConcurrentHashMap<u64, u64, RaceHasher>;

/// Decodes `data`, runs it, checks it; panics with a report on any violation. The fuzz target.
///
/// # Panics
/// On any violation (see the module documentation), with the decoded case and the interleaving.
pub fn check(data: &[u8]) {
    if let Err(failure) = run_case(&Case::decode(data)) {
        panic!("{failure}");
    }
}

/// Runs `case` and checks it; returns the failure report.
///
/// # Errors
/// The report of the first violation found.
pub fn run_case(case: &Case) -> Result<RaceStats, String> {
    session(|| {
        let map = Arc::new(RaceMap::with_capacity_and_hasher(
            threshold(case.log2),
            case.hasher,
        ));
        {
            let view = map.pin();
            for &key in &case.prefill {
                view.insert(key, key + PREFILLED);
            }
        }
        match case.growth {
            Growth::AtThreshold => {}
            Growth::Doubling => {
                map.force_growth(false);
            }
            Growth::SameSize => {
                map.force_growth(true);
            }
        }
        map.check_invariants();
        let before = map.stats();
        let history = Arc::new(Mutex::new(History::default()));
        let threads: Vec<Box<dyn FnOnce() + Send>> = case
            .threads
            .iter()
            .enumerate()
            .map(|(thread, ops)| {
                let map = Arc::clone(&map);
                let history = Arc::clone(&history);
                let ops = ops.clone();
                Box::new(move || run_thread(&map, &history, thread, &ops)) as Box<_>
            })
            .collect();
        let report = run(threads, &case.choices);
        let after = map.stats();
        let history = std::mem::take(&mut *history.lock().unwrap_or_else(PoisonError::into_inner));
        let stats = RaceStats {
            growing_at_start: before.growing,
            growths_during: after.growths - before.growths,
            growing_at_end: after.growing,
            retain_repeats: history
                .records
                .iter()
                .filter(|record| match &record.outcome {
                    Outcome::Calls(calls) => {
                        let mut keys: Vec<u64> = calls.iter().map(|call| call.key).collect();
                        keys.sort_unstable();
                        keys.windows(2).any(|pair| pair[0] == pair[1])
                    }
                    _ => false,
                })
                .count(),
            report,
        };
        audit(case, &map, &history.records, &stats).map_err(|failure| {
            let mut text = format!("resize_race: {failure}\n{case:?}\n");
            for record in &history.records {
                let _ = writeln!(
                    text,
                    "  t{} op{} {:?} [{}, {}] -> {:?}",
                    record.thread,
                    record.index,
                    record.op,
                    record.invoked,
                    record.returned,
                    record.outcome
                );
            }
            let _ = write!(
                text,
                "growing at start {}, growths during {}, growing at end {}; {} points, {} \
                 switches, trace (thread, points) {:?}",
                stats.growing_at_start,
                stats.growths_during,
                stats.growing_at_end,
                stats.report.points,
                stats.report.switches,
                &stats.report.trace[..stats.report.trace.len().min(200)]
            );
            text
        })?;
        Ok(stats)
    })
}

/// One logical thread: its operations, each under its own pin, recorded with their interval.
fn run_thread(map: &RaceMap, history: &Mutex<History>, thread: usize, ops: &[Op]) {
    for (index, &op) in ops.iter().enumerate() {
        let view = map.pin();
        let invoked = History::tick(history);
        let outcome = match op {
            Op::Insert(key, value) => Outcome::Value(view.insert(key, value).copied()),
            Op::Remove(key) => Outcome::Value(view.remove(&key).copied()),
            Op::Get(key) => Outcome::Value(view.get(&key).copied()),
            Op::Update(key, tag) => Outcome::Value(
                view.update(&key, |&old| super::linearize::update_value(old, tag))
                    .copied(),
            ),
            Op::GetOrInsert(key, value) => {
                Outcome::Value(Some(*view.get_or_insert_with(key, || value)))
            }
            Op::Compute(key, tag) => {
                let done = view.compute(key, |current| {
                    match super::linearize::compute_next(current.copied(), tag) {
                        Some(next) => Operation::Set(next),
                        None => Operation::Remove,
                    }
                });
                let previous = done.previous().copied();
                assert_eq!(
                    done.current().copied(),
                    super::linearize::compute_next(previous, tag),
                    "compute({key}) reported {done:?}"
                );
                Outcome::Value(previous)
            }
            Op::Iter => Outcome::Entries(view.iter().map(|(&k, &v)| (k, v)).collect()),
            Op::FlushGet(key) => {
                view.flush();
                Outcome::Value(view.get(&key).copied())
            }
            Op::Retain(salt) => {
                let mut calls = Vec::new();
                view.retain(|&key, &value| {
                    // The history's lock is the harness's own, taken and released here with
                    // no scheduling point inside, so it cannot deadlock with the chain held.
                    let at = History::tick(history);
                    let kept = retained(salt, key, value);
                    calls.push(Call {
                        key,
                        value,
                        kept,
                        at,
                    });
                    kept
                });
                Outcome::Calls(calls)
            }
            Op::Clear => {
                view.clear();
                Outcome::Cleared
            }
        };
        let returned = History::tick(history);
        history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .records
            .push(Record {
                thread,
                index,
                op,
                invoked,
                returned,
                outcome,
            });
        drop(view);
    }
}

/// Every check after the run.
fn audit(case: &Case, map: &RaceMap, records: &[Record], stats: &RaceStats) -> Result<(), String> {
    if let Some((thread, message)) = stats.report.panics.first() {
        return Err(format!("thread {thread} panicked: {message}"));
    }
    map.check_invariants();
    let keys = case.keys();
    // The final state, read alone: iteration must be exact now.
    let view = map.pin();
    let mut last: BTreeMap<u64, u64> = BTreeMap::new();
    for (&key, &value) in view.iter() {
        if last.insert(key, value).is_some() {
            return Err(format!("the final iteration yields key {key} twice"));
        }
    }
    for &key in &keys {
        let got = view.get(&key).copied();
        if got != last.get(&key).copied() {
            return Err(format!(
                "key {key}: get says {got:?}, the final iteration {:?}",
                last.get(&key)
            ));
        }
    }
    if let Some(stranger) = last.keys().find(|key| keys.binary_search(key).is_err()) {
        return Err(format!(
            "the map holds key {stranger}, which no one inserted"
        ));
    }
    if map.len() != last.len() {
        return Err(format!(
            "len() is {}, but the map holds {} keys",
            map.len(),
            last.len()
        ));
    }
    drop(view);
    // Per key: the operations on it, and the iterations' observations of it.
    let mut per_key: BTreeMap<u64, Vec<KeyOp>> = keys.iter().map(|&k| (k, Vec::new())).collect();
    for record in records {
        match (&record.op, &record.outcome) {
            (Op::Iter, Outcome::Entries(entries)) => {
                observe_iteration(record, entries, records, &keys, &mut per_key)?;
            }
            (Op::Retain(_), Outcome::Calls(calls)) => {
                observe_retain(record, calls, records, &keys, &mut per_key)?;
            }
            (Op::Clear, Outcome::Cleared) => {
                for &key in &keys {
                    // A pass over the key's chain removes it if present. Without writes to the
                    // key meanwhile, every pass after the first finds it as the first left it,
                    // so the removal happened once; with writes, it may have happened any
                    // number of times (the key put back in between), or not at all.
                    per_key.get_mut(&key).expect("a case key").push(KeyOp {
                        repeats: overlapping_writes(record, key, records) > 0,
                        ..record.key_op(Action::Clear, None)
                    });
                }
            }
            (op, Outcome::Value(result)) => {
                let key = op.key().expect("a single-key operation");
                per_key
                    .get_mut(&key)
                    .expect("a case key")
                    .push(record.key_op(op.action(), *result));
            }
            (op, outcome) => unreachable!("{op:?} cannot return {outcome:?}"),
        }
    }
    for (key, ops) in &per_key {
        let initial = case.prefill.contains(key).then_some(key + PREFILLED);
        let final_value = last.get(key).copied();
        if !is_linearizable(initial, ops, final_value) {
            let mut text = format!(
                "key {key}: no sequential order explains its history (initially {initial:?}, \
                 finally {final_value:?}):"
            );
            for op in ops {
                let _ = write!(
                    text,
                    "\n    t{} op{} {:?} [{}, {}] -> {:?}",
                    op.by.0, op.by.1, op.action, op.invoked, op.returned, op.result
                );
            }
            return Err(text);
        }
    }
    probe_growth(map, 0, |i| PROBE + i as u64, |_| 0, |_, _| {})
}

/// Keys of the race's growth probe: none of them is a case key (shared, owned or filler).
const PROBE: u64 = 1 << 40;

/// Count changes a thread's count stripe holds back before they reach the shared approximation
/// (`BATCH` of `counter.rs`): a stripe's unflushed part stays within ±(this − 1). For the fuzz
/// oracles' growth bounds.
pub const COUNT_BATCH: usize = crate::concurrent::COUNT_BATCH.unsigned_abs();

/// The most keys [`probe_growth`] inserts, besides its `first`, before it reports that growth
/// never settles.
const PROBE_KEYS: usize = 4096;

/// A growth probe, for a map no other thread uses any more (the race's audit, `threads_asan`'s
/// end). It inserts `first` fresh keys (`key(0)`, `key(1)`, …, valued `value(&key)`), then more
/// until `2·COUNT_BATCH` in a row met no growth running. The caller's count stripe holds less
/// than `COUNT_BATCH` unflushed changes of either sign (`counter.rs`), so a flush fell among
/// those keys. At a flush the growth trigger reads the exact count (below B = 8 `len()`; above,
/// the approximation, exact once every other thread has exited and folded its stripe) and starts
/// a doubling if it is over the threshold. So when the probe stops, `len` is at most the
/// threshold of the current B plus the `COUNT_BATCH − 1` keys inserted since that flush; a map
/// that does not grow when due, or starts late by more than a batch, fails. Then every probe key
/// is removed, and `removed` sees what each removal returned.
///
/// # Errors
/// The count over that bound, or growth that does not settle within `first + 4096` keys.
pub fn probe_growth<K, V, S>(
    map: &ConcurrentHashMap<K, V, S>,
    first: usize,
    key: impl Fn(usize) -> K,
    value: impl Fn(&K) -> V,
    mut removed: impl FnMut(&K, Option<&V>),
) -> Result<(), String>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    let view = map.pin();
    let mut quiet = 0;
    let mut inserted = 0;
    let verdict = loop {
        if inserted >= first && quiet >= 2 * COUNT_BATCH {
            let (len, log2) = (map.len(), map.log2_buckets());
            let limit = threshold(log2) + COUNT_BATCH - 1;
            break if len > limit {
                Err(format!(
                    "growth probe: {len} entries in 2^{log2} buckets, no growth running after \
                     {quiet} probe inserts in a row: the map did not grow when due (at most \
                     {limit})"
                ))
            } else {
                Ok(())
            };
        }
        if inserted == first + PROBE_KEYS {
            break Err(format!(
                "growth probe: {inserted} inserts and the map is still growing ({} entries, 2^{} \
                 buckets)",
                map.len(),
                map.log2_buckets()
            ));
        }
        let new = key(inserted);
        let new_value = value(&new);
        if view.insert(new, new_value).is_some() {
            break Err(format!(
                "growth probe: probe key {inserted} was already present"
            ));
        }
        inserted += 1;
        quiet = if map.is_growing() { 0 } else { quiet + 1 };
    };
    for i in 0..inserted {
        let old = key(i);
        removed(&old, view.remove(&old));
    }
    verdict
}

/// How many operations other than `record` may have written `key` while `record` ran.
fn overlapping_writes(record: &Record, key: u64, records: &[Record]) -> usize {
    records
        .iter()
        .filter(|other| {
            !core::ptr::eq(*other, record)
                && other.op.may_write(key)
                && other.invoked < record.returned
                && record.invoked < other.returned
        })
        .count()
}

/// Turns one `retain`'s predicate calls into per-key operations (see the module
/// documentation).
fn observe_retain(
    retain: &Record,
    calls: &[Call],
    records: &[Record],
    keys: &[u64],
    per_key: &mut BTreeMap<u64, Vec<KeyOp>>,
) -> Result<(), String> {
    if let Some(call) = calls.iter().find(|c| keys.binary_search(&c.key).is_err()) {
        return Err(format!(
            "t{} op{} retain's predicate sees key {}, which no one inserted",
            retain.thread, retain.index, call.key
        ));
    }
    for &key in keys {
        let ops = per_key.get_mut(&key).expect("a case key");
        let mut seen = false;
        for call in calls.iter().filter(|c| c.key == key) {
            seen = true;
            // The predicate saw the value at `at`, with the chain held; a rejected entry
            // leaves the chain before the chain is released, so before the retain returns.
            ops.push(KeyOp {
                invoked: call.at,
                ..retain.key_op(Action::Retained { drop: !call.kept }, Some(call.value))
            });
        }
        if !seen && overlapping_writes(retain, key, records) == 0 {
            // Unchanged during the call and never tested: it must have been absent.
            ops.push(retain.key_op(Action::Read, None));
        }
    }
    Ok(())
}

/// Turns one iteration into per-key observations (see the module documentation).
fn observe_iteration(
    iteration: &Record,
    entries: &[(u64, u64)],
    records: &[Record],
    keys: &[u64],
    per_key: &mut BTreeMap<u64, Vec<KeyOp>>,
) -> Result<(), String> {
    let who = (iteration.thread, iteration.index);
    let mut yielded: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &(key, value) in entries {
        if keys.binary_search(&key).is_err() {
            return Err(format!(
                "t{} op{} iterates key {key}, which no one inserted",
                who.0, who.1
            ));
        }
        yielded.entry(key).or_default().push(value);
    }
    for &key in keys {
        let disturbed = overlapping_writes(iteration, key, records) > 0;
        let values = yielded.get(&key).map_or(&[][..], Vec::as_slice);
        let observe = |result| iteration.key_op(Action::Read, result);
        let ops = per_key.get_mut(&key).expect("a case key");
        if disturbed {
            // Written during the iteration: it may be missed or seen more than once, but every
            // value seen is one it had meanwhile.
            ops.extend(values.iter().map(|&value| observe(Some(value))));
        } else {
            if values.len() > 1 {
                return Err(format!(
                    "t{} op{} yields key {key} {} times, though no write touched it meanwhile",
                    who.0,
                    who.1,
                    values.len()
                ));
            }
            ops.push(observe(values.first().copied()));
        }
    }
    Ok(())
}
