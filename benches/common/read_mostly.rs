//! The read-mostly workload core: many threads share one map through
//! [`hmap::wrappers::SharedMap`] and hammer a small hot key set with mostly `load`s and a few
//! `store`s, every operation timed on its own.
//!
//! This is the experiment shape of the article the `wrappers` module answers ("threads well
//! above the core count, 95% reads / 5% writes on a hot key set"). `benches/wrappers.rs` runs it
//! per (map, thread count) in a fresh child process; the `hmap-lab` crate includes this file by
//! path for its wrappers experiment. Std, `hmap` and the sibling `keys.rs` and `measure.rs`
//! only: the caller passes the hot keys and builds the map (so the hasher, the key generator and
//! the map crates stay on its side). Its [`Histogram`] also times the readers of
//! `conc_grow.rs`.
//!
//! Method:
//! - the map is prefilled with every hot key (value = key) on the calling thread;
//! - every thread gets its own operation sequence, computed before the start barrier by a
//!   splitmix64 stream seeded with the thread index ([`op_sequence`]): exactly
//!   `round(ops · write_pct / 100)` stores at shuffled positions, loads everywhere else, each on
//!   a key drawn uniformly from the hot set. No RNG runs in the timed loop; an operation is one
//!   `u32` (hot-key index, top bit = store);
//! - after the barrier each thread reads the clock, runs its operations, and reads the clock
//!   again; every operation sits between two `Instant::now()` calls (with compiler fences, so
//!   the map's memory traffic cannot move outside them) and its nanoseconds go into the thread's
//!   own log-linear [`Histogram`] (one for loads, one for stores; allocated before the barrier).
//!   The histograms are merged after the run;
//! - a store writes value = key again, so every `load` must return `Some(key)`: a miss or a
//!   wrong value is counted and fails the run;
//! - **QPS** = all threads' operations / wall time from the first thread leaving the barrier to
//!   the last thread finishing (each worker reads the clock itself: a coordinator woken late on
//!   a loaded machine would shorten the interval);
//! - after the run, every hot key must still be present with its value and `len()` must equal
//!   the number of hot keys ([`run`] returns `Err` otherwise).
//!
//! The latency of one operation includes one clock-read pair (`measure::timer_overhead_ns`
//! reports its cost) and any time the thread spent descheduled in the middle of it: with more
//! threads than cores that is part of what the experiment measures (a lock holder preempted
//! while others queue behind it).

use std::hint::black_box;
use std::sync::atomic::{compiler_fence, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use hmap::wrappers::SharedMap;

use super::keys::SplitMix;
use super::measure::LatencySummary;

/// Top bit of an encoded operation: a `store` (clear: a `load`).
const STORE_BIT: u32 = 1 << 31;
/// The hot-key index of an encoded operation.
const INDEX_MASK: u32 = STORE_BIT - 1;
/// The largest hot set an encoded operation can address.
pub(crate) const MAX_KEYS: usize = INDEX_MASK as usize + 1;
/// Seed of the per-thread operation streams (xored with the thread index).
pub(crate) const OP_SEED: u64 = 0x00AE_ADC0_57A7_0000;

/// One run's shape: how many threads, how many operations each, which share are stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Workload {
    /// Worker threads, all sharing one map.
    pub(crate) threads: usize,
    /// Operations each thread performs after the barrier.
    pub(crate) ops_per_thread: usize,
    /// Share of `store`s, in percent (0..=100); the rest are `load`s.
    pub(crate) write_pct: u32,
}

impl Workload {
    /// Operations over all threads.
    pub(crate) fn total_ops(&self) -> usize {
        self.threads * self.ops_per_thread
    }
}

/// Thread `thread`'s `ops` operations over a hot set of `keys` keys: exactly
/// `round(ops · write_pct / 100)` stores at positions shuffled by Fisher–Yates, each operation's
/// key index drawn uniformly from `0..keys`, all from one splitmix64 stream seeded with
/// `OP_SEED ^ thread`.
///
/// # Panics
/// If `keys` is 0 or above [`MAX_KEYS`], or `write_pct` above 100.
pub(crate) fn op_sequence(thread: usize, ops: usize, keys: usize, write_pct: u32) -> Vec<u32> {
    assert!(
        (1..=MAX_KEYS).contains(&keys),
        "the hot set needs 1..={MAX_KEYS} keys"
    );
    assert!(write_pct <= 100, "write_pct is a percentage");
    let stores = (ops * write_pct as usize + 50) / 100;
    let mut rng = SplitMix(OP_SEED ^ thread as u64);
    let mut sequence: Vec<u32> = (0..ops)
        .map(|i| {
            let index = rng.below(keys as u64) as u32;
            if i < stores {
                index | STORE_BIT
            } else {
                index
            }
        })
        .collect();
    for i in (1..sequence.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        sequence.swap(i, j);
    }
    sequence
}

/// Percentiles of one run's single-operation latencies, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Latency {
    /// Operations recorded.
    pub(crate) count: u64,
    /// Mean (exact: from the sum).
    pub(crate) mean_ns: f64,
    /// Median (histogram bucket upper bound).
    pub(crate) p50_ns: u64,
    /// 99th percentile (histogram bucket upper bound).
    pub(crate) p99_ns: u64,
    /// 99.9th percentile (histogram bucket upper bound).
    pub(crate) p999_ns: u64,
    /// The longest single operation (exact).
    pub(crate) max_ns: u64,
}

/// A log-linear latency histogram: exact below 64 ns, then 32 buckets per power of two (each at
/// most 1/32 ≈ 3% wide), with the exact count, sum and maximum on the side. About 15 KiB.
#[derive(Clone, Debug)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    const SUB_BUCKETS: u64 = 32;
    const LINEAR: u64 = 64;

    /// An empty histogram (every bucket allocated and zeroed now, not in the timed loop).
    pub(crate) fn new() -> Histogram {
        Histogram {
            counts: vec![0; Self::index(u64::MAX) + 1],
            total: 0,
            sum: 0,
            max: 0,
        }
    }

    fn index(value: u64) -> usize {
        if value < Self::LINEAR {
            return value as usize;
        }
        let exponent = 63 - u64::from(value.leading_zeros()); // >= 6
        let sub = (value >> (exponent - 5)) & (Self::SUB_BUCKETS - 1);
        (Self::LINEAR + (exponent - 6) * Self::SUB_BUCKETS + sub) as usize
    }

    /// The largest value that falls in bucket `index`.
    fn upper_bound(index: usize) -> u64 {
        let index = index as u64;
        if index < Self::LINEAR {
            return index;
        }
        let exponent = (index - Self::LINEAR) / Self::SUB_BUCKETS + 6;
        let sub = (index - Self::LINEAR) % Self::SUB_BUCKETS;
        let width = 1u64 << (exponent - 5);
        ((Self::SUB_BUCKETS + sub) << (exponent - 5)).saturating_add(width - 1)
    }

    /// Records one value.
    #[inline]
    pub(crate) fn record(&mut self, value: u64) {
        self.counts[Self::index(value)] += 1;
        self.total += 1;
        self.sum += u128::from(value);
        self.max = self.max.max(value);
    }

    /// Adds every value `other` recorded.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    /// Values recorded.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Nearest-rank percentile, as the upper bound of its bucket (never above the maximum).
    pub(crate) fn percentile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::upper_bound(index).min(self.max);
            }
        }
        self.max
    }

    /// Count, mean, p50, p99, p99.9 and max.
    pub(crate) fn latency(&self) -> Latency {
        Latency {
            count: self.total,
            mean_ns: if self.total == 0 {
                0.0
            } else {
                self.sum as f64 / self.total as f64
            },
            p50_ns: self.percentile(0.50),
            p99_ns: self.percentile(0.99),
            p999_ns: self.percentile(0.999),
            max_ns: self.max,
        }
    }

    /// p50, p99, p99.99, max and mean, in the shape of the growth measurements' records (the
    /// concurrent readers of `conc_grow.rs`).
    pub(crate) fn summary(&self) -> LatencySummary {
        LatencySummary {
            p50_ns: self.percentile(0.50),
            p99_ns: self.percentile(0.99),
            p9999_ns: self.percentile(0.9999),
            max_ns: self.max,
            mean_ns: if self.total == 0 {
                0.0
            } else {
                self.sum as f64 / self.total as f64
            },
        }
    }
}

/// One run of the workload, as [`run`] measured it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CellResult {
    /// Worker threads.
    pub(crate) threads: u64,
    /// Operations over all threads.
    pub(crate) ops: u64,
    /// Wall time from the first thread leaving the barrier to the last one finishing.
    pub(crate) elapsed_ns: u64,
    /// Every operation.
    pub(crate) all: Latency,
    /// The `load`s only.
    pub(crate) loads: Latency,
    /// The `store`s only.
    pub(crate) stores: Latency,
    /// `len()` after the run.
    pub(crate) len: u64,
}

/// Prefix of the one stdout line on which a child reports its run.
pub(crate) const RESULT_PREFIX: &str = "HMAP-READ-MOSTLY";

impl CellResult {
    /// Operations per second over the whole run.
    pub(crate) fn qps(&self) -> f64 {
        self.ops as f64 * 1e9 / self.elapsed_ns.max(1) as f64
    }

    /// The child's report line: the prefix, then `name=value` pairs separated by spaces.
    pub(crate) fn to_line(&self) -> String {
        let mut line = format!(
            "{RESULT_PREFIX} threads={} ops={} elapsed_ns={} len={}",
            self.threads, self.ops, self.elapsed_ns, self.len
        );
        for (prefix, l) in [
            ("", &self.all),
            ("load_", &self.loads),
            ("store_", &self.stores),
        ] {
            line += &format!(
                " {prefix}count={} {prefix}mean_ns={:.1} {prefix}p50_ns={} {prefix}p99_ns={} \
                 {prefix}p999_ns={} {prefix}max_ns={}",
                l.count, l.mean_ns, l.p50_ns, l.p99_ns, l.p999_ns, l.max_ns
            );
        }
        line
    }

    /// Parses [`CellResult::to_line`]'s output; `None` if the line is not a complete report.
    pub(crate) fn parse_line(line: &str) -> Option<CellResult> {
        let rest = line.trim().strip_prefix(RESULT_PREFIX)?;
        let pairs: Vec<(&str, &str)> = rest
            .split_whitespace()
            .filter_map(|p| p.split_once('='))
            .collect();
        let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let int = |name: &str| get(name)?.parse::<u64>().ok();
        let latency = |prefix: &str| -> Option<Latency> {
            Some(Latency {
                count: int(&format!("{prefix}count"))?,
                mean_ns: get(&format!("{prefix}mean_ns"))?.parse().ok()?,
                p50_ns: int(&format!("{prefix}p50_ns"))?,
                p99_ns: int(&format!("{prefix}p99_ns"))?,
                p999_ns: int(&format!("{prefix}p999_ns"))?,
                max_ns: int(&format!("{prefix}max_ns"))?,
            })
        };
        Some(CellResult {
            threads: int("threads")?,
            ops: int("ops")?,
            elapsed_ns: int("elapsed_ns")?,
            all: latency("")?,
            loads: latency("load_")?,
            stores: latency("store_")?,
            len: int("len")?,
        })
    }
}

/// What one worker thread measured.
struct ThreadOutcome {
    loads: Histogram,
    stores: Histogram,
    /// Loads that did not return `Some(key)`.
    bad_loads: u64,
    /// The first such key.
    first_bad: Option<u64>,
    /// When the thread left the barrier and when it finished its last operation.
    started: Instant,
    finished: Instant,
}

/// One worker: wait at the barrier, then run `ops` against `map`, timing each operation.
fn worker<M: SharedMap<u64, u64>>(
    map: &M,
    hot_keys: &[u64],
    ops: &[u32],
    barrier: &Barrier,
) -> ThreadOutcome {
    let (mut loads, mut stores) = (Histogram::new(), Histogram::new());
    let (mut bad_loads, mut first_bad) = (0u64, None);
    barrier.wait();
    let started = Instant::now();
    for &op in ops {
        let key = hot_keys[(op & INDEX_MASK) as usize];
        if op & STORE_BIT == 0 {
            let t0 = Instant::now();
            compiler_fence(Ordering::SeqCst);
            let value = map.load(black_box(&key));
            compiler_fence(Ordering::SeqCst);
            let elapsed = t0.elapsed();
            loads.record(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
            if black_box(value) != Some(key) {
                bad_loads += 1;
                first_bad.get_or_insert(key);
            }
        } else {
            let t0 = Instant::now();
            compiler_fence(Ordering::SeqCst);
            map.store(black_box(key), key);
            compiler_fence(Ordering::SeqCst);
            let elapsed = t0.elapsed();
            stores.record(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
        }
    }
    let finished = Instant::now();
    ThreadOutcome {
        loads,
        stores,
        bad_loads,
        first_bad,
        started,
        finished,
    }
}

/// Stores every hot key (value = key) into `map`; `Err` if `len()` then disagrees.
pub(crate) fn prefill<M: SharedMap<u64, u64>>(map: &M, hot_keys: &[u64]) -> Result<(), String> {
    for &key in hot_keys {
        map.store(key, key);
    }
    if map.len() != hot_keys.len() {
        return Err(format!(
            "len() = {} after prefilling {} keys (are the hot keys distinct?)",
            map.len(),
            hot_keys.len()
        ));
    }
    Ok(())
}

/// Every hot key present with value = key, and `len()` equal to the hot set's size.
pub(crate) fn check<M: SharedMap<u64, u64>>(map: &M, hot_keys: &[u64]) -> Result<(), String> {
    let wrong: Vec<u64> = hot_keys
        .iter()
        .copied()
        .filter(|key| map.load(key) != Some(*key))
        .collect();
    if let Some(first) = wrong.first() {
        return Err(format!(
            "after the run {} of {} hot keys are missing or hold a wrong value (first: {first:#x})",
            wrong.len(),
            hot_keys.len()
        ));
    }
    let len = map.len();
    if len != hot_keys.len() {
        return Err(format!(
            "after the run len() = {len}, expected {} (the hot set)",
            hot_keys.len()
        ));
    }
    Ok(())
}

/// Runs `workload` on `map`: prefill with `hot_keys`, precompute every thread's operations, run
/// them all after one barrier, check the map. `Err` on a wrong `load` result, a lost key or a
/// wrong `len()`.
///
/// A worker that panics (for example `FailFastMap` used from several threads) propagates the
/// panic out of this function once the other workers have finished; callers that must not wait
/// (threads may be parked on the barrier) should install a panic hook that exits the process.
///
/// # Panics
/// If `workload.threads` is 0, if `hot_keys` is empty or larger than [`MAX_KEYS`], or if a
/// worker panics.
pub(crate) fn run<M: SharedMap<u64, u64> + Sync>(
    map: &M,
    hot_keys: &[u64],
    workload: &Workload,
) -> Result<CellResult, String> {
    assert!(workload.threads > 0, "at least one thread");
    prefill(map, hot_keys)?;
    let sequences: Vec<Vec<u32>> = (0..workload.threads)
        .map(|t| {
            op_sequence(
                t,
                workload.ops_per_thread,
                hot_keys.len(),
                workload.write_pct,
            )
        })
        .collect();
    let barrier = Barrier::new(workload.threads);
    let outcomes: Vec<ThreadOutcome> = thread::scope(|scope| {
        let workers: Vec<_> = sequences
            .iter()
            .map(|ops| {
                let barrier = &barrier;
                scope.spawn(move || worker(map, hot_keys, ops, barrier))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });

    let first_start = outcomes.iter().map(|o| o.started).min();
    let last_finish = outcomes.iter().map(|o| o.finished).max();
    let elapsed = match (first_start, last_finish) {
        (Some(start), Some(finish)) => finish.duration_since(start),
        _ => return Err("no worker thread ran".to_owned()),
    };
    let bad_loads: u64 = outcomes.iter().map(|o| o.bad_loads).sum();
    if bad_loads > 0 {
        let first = outcomes.iter().find_map(|o| o.first_bad).unwrap_or(0);
        return Err(format!(
            "{bad_loads} load(s) of a hot key did not return Some(key) (first: {first:#x})"
        ));
    }
    check(map, hot_keys)?;

    let (mut loads, mut stores) = (Histogram::new(), Histogram::new());
    for outcome in &outcomes {
        loads.merge(&outcome.loads);
        stores.merge(&outcome.stores);
    }
    let mut all = loads.clone();
    all.merge(&stores);
    Ok(CellResult {
        threads: workload.threads as u64,
        ops: all.total(),
        elapsed_ns: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
        all: all.latency(),
        loads: loads.latency(),
        stores: stores.latency(),
        len: map.len() as u64,
    })
}
