//! Concurrent maps: throughput under the conc-map-bench workloads at 1..N threads, and the cost of
//! one insert (and of one concurrent read) while a map grows from empty.
//!
//! Dimensions:
//! - **Implementations**: `hmap` (`hmap::ConcurrentHashMap`, the map under test), `papaya`
//!   (lock-free, incremental resize), `scc` (`scc::HashMap`, bucket locks, incremental resize),
//!   `dashmap` (sharded `RwLock`s, stop-the-world resize per shard) and `rwlock_hashbrown`
//!   (`std::sync::RwLock<hashbrown::HashMap>`, the baseline every concurrent map must beat).
//! - **Keys and values**: `u64` splitmix64 hit keys from `common/keys.rs`; thread `t` owns keys
//!   `t·K .. (t+1)·K` of that sequence, so the threads' key sets are disjoint. Value = key.
//! - **Hasher**: `common::bench_hasher()` (foldhash `FixedState`, one fixed seed) for every map,
//!   so differences come from the table design.
//!
//! # Sub-benchmark `mixes`: throughput
//!
//! A port of bustle's `Workload::run` (jonhoo/bustle, the harness conc-map-bench uses):
//! - the table size is `2^L` (`L` = 20 by default) and every run performs `2^L` operations in
//!   total, split evenly over `T` threads;
//! - each thread owns a key vector of `K` keys, where `K` is a power of two large enough for its
//!   prefill plus every insert it will make (and at least 10,000 keys across all threads), so a
//!   full-period LCG (`a = K/2 + 1`, `c = K/4 − 1`) walks it for reads and updates;
//! - the map is `with_capacity(2^L)` (pre-sized mixes) or empty (`rapid_grow_empty`); each
//!   thread inserts its share of the prefill, then all threads wait on a barrier;
//! - each thread replays a 100-entry operation sequence, shuffled once per thread by a
//!   deterministic splitmix64 RNG seeded with the thread index (no RNG runs in the loop): reads
//!   and updates look up the LCG's next key, inserts add the thread's next unused key, removes
//!   delete the thread's oldest live key;
//! - like bustle, every result is checked against what the thread knows (inserts are new, removes
//!   find their key, a read finds a key iff it is live), and the final `len()` must equal the sum
//!   of live keys. A violation fails the cell: this doubles as a smoke test of `hmap`'s
//!   concurrent map under contention;
//! - **throughput** = total operations / wall time from the first thread leaving the barrier to
//!   the last thread finishing (each worker reads the clock itself), in Mop/s. Each repetition
//!   runs in a fresh child process, so allocator state and garbage awaiting reclamation never
//!   carry over; the best of `R` repetitions is reported.
//!
//! **Size**: `L` = 20 follows `peer-numbers.md` ("table 2^20, ops = table size");
//! conc-map-bench itself uses 2^25. The pre-sized mixes never cross a growth threshold of any
//! map (prefill 75% plus at most 1% more for `read_heavy`; `rapid_grow`'s net inserts are 75%
//! of the operations); `rapid_grow_empty` crosses every threshold from an empty table up to
//! about 0.75·2^L live keys, so it measures growth under contention.
//!
//! | mix | read | insert | remove | update | prefill | map built with |
//! |---|---|---|---|---|---|---|
//! | `read_heavy` | 98 | 1 | 1 | 0 | 75% | `with_capacity(2^L)` |
//! | `exchange` | 10 | 40 | 40 | 10 | 75% | `with_capacity(2^L)` |
//! | `rapid_grow` | 5 | 80 | 5 | 10 | 0% | `with_capacity(2^L)` |
//! | `rapid_grow_empty` | 5 | 80 | 5 | 10 | 0% | empty: the map really grows |
//!
//! Update increments the value in place: `hmap` and `papaya` `pin().update(&k, |v| v + 1)`, `scc`
//! `update_sync`, `dashmap` `get_mut`, `rwlock_hashbrown` the write lock and `get_mut`. Every
//! operation pins on its own (`map.pin().get(&k)`), as conc-map-bench's papaya adapter does.
//!
//! Output: one table per mix (Mop/s per thread count and map, then each map's ratio to the best
//! of papaya, scc and dashmap at that thread count, then `hmap`'s `stats().garbage_objects` at
//! the end of the run: garbage awaiting reclamation, which must stay bounded). One CSV row per
//! repetition goes to `target/hmap-bench/concurrent.csv`.
//!
//! # Sub-benchmark `grow`: growth latency with a concurrent reader
//!
//! In a fresh process per map and repetition, one writer thread inserts hit keys `0..N` (`N` = 8M
//! by default) into an empty map, timing every insert with a pair of `Instant::now()` calls and
//! publishing how many keys it has inserted through an `AtomicUsize` (release). One reader thread
//! meanwhile looks up random keys below that watermark (acquire: every key it asks for must be
//! found), timing every get. Reported: the writer's p50/p99/p99.99/max insert (exact, from every
//! sample) and total loop time, the reader's get count and p50/p99/p99.99 (log-linear histogram,
//! about 3% resolution) and exact max, resident bytes per entry at the end and at the peak (VmRSS
//! and VmHWM deltas, `common/measure.rs`), and `hmap`'s garbage objects at the end. A
//! `RwLock<hashbrown>` reader waits behind the writer's rehash; the concurrent maps' readers
//! should not. Medians over the repetitions; one CSV row per repetition goes to
//! `target/hmap-bench/concurrent_grow.csv`.
//!
//! # Running
//!
//! ```sh
//! cargo bench --bench concurrent                       # both sub-benchmarks, full size
//! cargo bench --bench concurrent -- mixes              # throughput only
//! cargo bench --bench concurrent -- grow               # growth latency only
//! cargo bench --bench concurrent -- --quick            # CI smoke: 2^16 table, 100K-key growth
//! cargo bench --bench concurrent -- hmap papaya        # only maps whose name contains a filter
//! HMAP_CONC_LOG2=16 HMAP_CONC_THREADS=1,2 cargo bench --bench concurrent -- mixes
//! ```
//!
//! Environment: `HMAP_CONC_LOG2` (table size and operation count, default 20),
//! `HMAP_CONC_THREADS` (comma list, default `1..=available_parallelism`), `HMAP_CONC_MIXES`
//! (comma list of mix names, default all four), `HMAP_CONC_REPEAT` (default 3),
//! `HMAP_CONC_GROW_KEYS` (default 8M; `K`/`M` suffixes), `HMAP_CONC_GROW_REPEAT` (default 3),
//! `HMAP_CONC_TIMEOUT_S` (per child process, default 600: a hung cell fails instead of hanging
//! the run). These override `--quick` too. Without `--bench` (`cargo test --benches`) it runs a
//! tiny smoke test and writes no CSV. `--list` prints nothing; other criterion options are
//! accepted and ignored.
//!
//! The child processes are this executable re-invoked as `__cell <mix> <map> <threads> <log2>`
//! and `__grow <map> <keys>`; each prints one result line on stdout.

// The sync facade (clippy.toml) is for the library, so that loom can swap its atomics; the
// benches use std's atomics directly.
#![allow(clippy::disallowed_types)]

#[allow(
    dead_code,
    reason = "each bench target uses a different part of common/"
)]
mod common;

use std::fmt::Write as _;
use std::fs;
use std::hint::black_box;
use std::io::Read as _;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use common::keys::{self, hit_key};
use common::measure::{self, LatencySummary, Memory, RunRecord};
use common::{bench_hasher, env_count, env_text, results_dir, BenchHasher};

// ---------------------------------------------------------------------------------------------
// The adapter
// ---------------------------------------------------------------------------------------------

/// hmap's concurrent map, the map under test.
type HmapConcurrent = hmap::ConcurrentHashMap<u64, u64, BenchHasher>;
/// papaya: lock-free reads and writes, incremental resize, one boxed entry per key.
type PapayaMap = papaya::HashMap<u64, u64, BenchHasher>;
/// scc: bucket-level locks, incremental resize.
type SccMap = scc::HashMap<u64, u64, BenchHasher>;
/// dashmap: a fixed number of `RwLock`ed hashbrown shards; each shard resizes stop-the-world.
type DashMap = dashmap::DashMap<u64, u64, BenchHasher>;
/// One `RwLock` around a hashbrown map: the baseline.
type LockedHashbrown = RwLock<hashbrown::HashMap<u64, u64, BenchHasher>>;

/// Reclamation state that only `hmap` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ReclaimStats {
    /// Objects retired but not yet freed (replaced entries, old bucket arrays).
    garbage_objects: usize,
    /// log2 of the bucket count (the table's current size).
    log2_buckets: u8,
}

/// One concurrent map as these benchmarks see it: `u64` keys and values, the shared hasher,
/// every method callable from many threads at once through `&self`.
trait ConcMap: Send + Sync + Sized {
    /// Implementation name: report column, CSV value, child argument and filter target.
    const NAME: &'static str;
    /// An empty map that has allocated nothing (or as little as the implementation allows).
    fn new() -> Self;
    /// An empty map with room for `capacity` entries before it grows.
    fn with_capacity(capacity: usize) -> Self;
    /// Inserts or overwrites; `true` if the key was new.
    fn insert(&self, key: u64, value: u64) -> bool;
    /// Looks `key` up.
    fn get(&self, key: u64) -> Option<u64>;
    /// Removes `key`; `true` if it was present.
    fn remove(&self, key: u64) -> bool;
    /// Increments `key`'s value in place; `true` if the key was present.
    fn update(&self, key: u64) -> bool;
    /// Number of entries (only read when no other thread runs).
    fn len(&self) -> usize;
    /// Garbage awaiting reclamation; `None` for maps that do not report it.
    fn reclaim_stats(&self) -> Option<ReclaimStats> {
        None
    }
}

impl ConcMap for HmapConcurrent {
    const NAME: &'static str = "hmap";
    fn new() -> Self {
        HmapConcurrent::with_hasher(bench_hasher())
    }
    fn with_capacity(capacity: usize) -> Self {
        HmapConcurrent::with_capacity_and_hasher(capacity, bench_hasher())
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) -> bool {
        self.pin().insert(key, value).is_none()
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.pin().get(&key).copied()
    }
    #[inline]
    fn remove(&self, key: u64) -> bool {
        self.pin().remove(&key).is_some()
    }
    #[inline]
    fn update(&self, key: u64) -> bool {
        self.pin().update(&key, |v| v.wrapping_add(1)).is_some()
    }
    fn len(&self) -> usize {
        HmapConcurrent::len(self)
    }
    fn reclaim_stats(&self) -> Option<ReclaimStats> {
        let stats = self.stats();
        Some(ReclaimStats {
            garbage_objects: stats.garbage_objects,
            log2_buckets: stats.log2_buckets,
        })
    }
}

impl ConcMap for PapayaMap {
    const NAME: &'static str = "papaya";
    fn new() -> Self {
        PapayaMap::with_hasher(bench_hasher())
    }
    fn with_capacity(capacity: usize) -> Self {
        PapayaMap::with_capacity_and_hasher(capacity, bench_hasher())
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) -> bool {
        self.pin().insert(key, value).is_none()
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.pin().get(&key).copied()
    }
    #[inline]
    fn remove(&self, key: u64) -> bool {
        self.pin().remove(&key).is_some()
    }
    #[inline]
    fn update(&self, key: u64) -> bool {
        self.pin().update(key, |v| v.wrapping_add(1)).is_some()
    }
    fn len(&self) -> usize {
        PapayaMap::len(self)
    }
}

impl ConcMap for SccMap {
    const NAME: &'static str = "scc";
    fn new() -> Self {
        SccMap::with_hasher(bench_hasher())
    }
    fn with_capacity(capacity: usize) -> Self {
        SccMap::with_capacity_and_hasher(capacity, bench_hasher())
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) -> bool {
        // `insert_sync` refuses an existing key; the workloads only insert new keys, and an
        // overwrite would be reported as a failed check either way.
        self.insert_sync(key, value).is_ok()
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.read_sync(&key, |_, &v| v)
    }
    #[inline]
    fn remove(&self, key: u64) -> bool {
        self.remove_sync(&key).is_some()
    }
    #[inline]
    fn update(&self, key: u64) -> bool {
        self.update_sync(&key, |_, v| *v = v.wrapping_add(1))
            .is_some()
    }
    fn len(&self) -> usize {
        SccMap::len(self)
    }
}

impl ConcMap for DashMap {
    const NAME: &'static str = "dashmap";
    fn new() -> Self {
        DashMap::with_hasher(bench_hasher())
    }
    fn with_capacity(capacity: usize) -> Self {
        DashMap::with_capacity_and_hasher(capacity, bench_hasher())
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) -> bool {
        DashMap::insert(self, key, value).is_none()
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        DashMap::get(self, &key).map(|entry| *entry.value())
    }
    #[inline]
    fn remove(&self, key: u64) -> bool {
        DashMap::remove(self, &key).is_some()
    }
    #[inline]
    fn update(&self, key: u64) -> bool {
        match self.get_mut(&key) {
            Some(mut entry) => {
                *entry = entry.wrapping_add(1);
                true
            }
            None => false,
        }
    }
    fn len(&self) -> usize {
        DashMap::len(self)
    }
}

impl ConcMap for LockedHashbrown {
    const NAME: &'static str = "rwlock_hashbrown";
    fn new() -> Self {
        RwLock::new(hashbrown::HashMap::with_hasher(bench_hasher()))
    }
    fn with_capacity(capacity: usize) -> Self {
        RwLock::new(hashbrown::HashMap::with_capacity_and_hasher(
            capacity,
            bench_hasher(),
        ))
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) -> bool {
        let mut map = self.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(key, value).is_none()
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        let map = self.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&key).copied()
    }
    #[inline]
    fn remove(&self, key: u64) -> bool {
        let mut map = self.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(&key).is_some()
    }
    #[inline]
    fn update(&self, key: u64) -> bool {
        let mut map = self.write().unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(&key) {
            Some(value) => {
                *value = value.wrapping_add(1);
                true
            }
            None => false,
        }
    }
    fn len(&self) -> usize {
        self.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// One implementation: its name and the monomorphized measurements its child processes run.
struct MapEntry {
    name: &'static str,
    cell: fn(&Cell) -> Result<CellRecord, String>,
    grow: fn(usize) -> Result<GrowRecord, String>,
}

/// Builds a [`MapEntry`] for `M`.
const fn entry<M: ConcMap>() -> MapEntry {
    MapEntry {
        name: M::NAME,
        cell: run_cell::<M>,
        grow: run_grow::<M>,
    }
}

/// The implementations, in report order.
const MAPS: [MapEntry; 5] = [
    entry::<HmapConcurrent>(),
    entry::<PapayaMap>(),
    entry::<SccMap>(),
    entry::<DashMap>(),
    entry::<LockedHashbrown>(),
];

/// The established concurrent maps: each map's ratio is taken to the best of these.
const PEERS: [&str; 3] = [PapayaMap::NAME, SccMap::NAME, DashMap::NAME];

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

/// One conc-map-bench workload: operation percentages, prefill, and how the map is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Mix {
    name: &'static str,
    read: u8,
    insert: u8,
    remove: u8,
    update: u8,
    /// Share of the table size inserted before the timed phase, in percent.
    prefill_percent: u8,
    /// `with_capacity(2^L)` if true, an empty map if false.
    presized: bool,
}

impl Mix {
    /// `read/insert/remove/update`, as the tables print it.
    fn describe(&self) -> String {
        format!(
            "{}/{}/{}/{} read/insert/remove/update, prefill {}%, {}",
            self.read,
            self.insert,
            self.remove,
            self.update,
            self.prefill_percent,
            if self.presized {
                "with_capacity(2^L)"
            } else {
                "from an empty map"
            }
        )
    }
}

/// The four workloads (conc-map-bench's three, plus RapidGrow from an empty map).
const MIXES: [Mix; 4] = [
    Mix {
        name: "read_heavy",
        read: 98,
        insert: 1,
        remove: 1,
        update: 0,
        prefill_percent: 75,
        presized: true,
    },
    Mix {
        name: "exchange",
        read: 10,
        insert: 40,
        remove: 40,
        update: 10,
        prefill_percent: 75,
        presized: true,
    },
    Mix {
        name: "rapid_grow",
        read: 5,
        insert: 80,
        remove: 5,
        update: 10,
        prefill_percent: 0,
        presized: true,
    },
    Mix {
        name: "rapid_grow_empty",
        read: 5,
        insert: 80,
        remove: 5,
        update: 10,
        prefill_percent: 0,
        presized: false,
    },
];

/// One operation of a mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Read,
    Insert,
    Remove,
    Update,
}

/// splitmix64 as a stream: deterministic, and only ever used outside timed code.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        keys::mix(self.0)
    }
}

/// Seed of the per-thread operation shuffles (xored with the thread index).
const OP_SEED: u64 = 0x0B5E_55ED_0000_0000;
/// Seed of the growth reader's key choice.
const READER_SEED: u64 = 0x00EA_DE20_0000_0001;

/// Thread `thread`'s 100 operations: `mix`'s counts, shuffled (Fisher–Yates) by a splitmix64
/// stream seeded with the thread index.
fn op_sequence(mix: &Mix, thread: usize) -> [Op; 100] {
    let mut ops = [Op::Read; 100];
    let counts = [
        (Op::Read, mix.read),
        (Op::Insert, mix.insert),
        (Op::Remove, mix.remove),
        (Op::Update, mix.update),
    ];
    let mut filled = 0;
    for (op, count) in counts {
        for slot in &mut ops[filled..filled + usize::from(count)] {
            *slot = op;
        }
        filled += usize::from(count);
    }
    assert_eq!(filled, 100, "mix {} must add up to 100%", mix.name);
    let mut rng = SplitMix(OP_SEED ^ thread as u64);
    for i in (1..ops.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        ops.swap(i, j);
    }
    ops
}

/// One throughput measurement: a mix, a thread count and a table size.
#[derive(Clone, Copy, Debug)]
struct Cell {
    mix: &'static Mix,
    threads: usize,
    log2: u32,
}

impl Cell {
    /// Operations over all threads: the table size (bustle's `ops_f = 1.0`).
    fn total_ops(&self) -> usize {
        1 << self.log2
    }

    fn ops_per_thread(&self) -> usize {
        self.total_ops() / self.threads
    }

    fn prefill_per_thread(&self) -> usize {
        (1usize << self.log2) * usize::from(self.mix.prefill_percent) / 100 / self.threads
    }

    /// Keys per thread: a power of two that covers the prefill plus every insert the thread can
    /// make (the op sequence repeats every 100 operations), and at least 10,000 keys over all
    /// threads, as in bustle.
    fn keys_per_thread(&self) -> usize {
        let inserts = self.ops_per_thread().div_ceil(100) * usize::from(self.mix.insert);
        (self.prefill_per_thread() + inserts + 1)
            .max(10_000usize.div_ceil(self.threads))
            .max(16)
            .next_power_of_two()
    }
}

/// What one thread saw, for the checks after the run.
#[derive(Debug, Default)]
struct ThreadOutcome {
    /// Keys this thread inserted and did not remove: `insert_seq - erase_seq`.
    live: usize,
    /// Results that contradict what the thread knows about its own keys.
    check_failures: usize,
    /// The first such contradiction, described.
    first_failure: Option<String>,
    /// When this thread left the start barrier and when it finished its last operation.
    timed: Option<(Instant, Instant)>,
}

impl ThreadOutcome {
    #[cold]
    fn fail(&mut self, what: &str, key: u64) {
        self.check_failures += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(format!("{what} (key {key:#x})"));
        }
    }
}

/// bustle's `mix` function: prefill, wait for every thread at the barrier, replay `ops` for
/// `op_count` operations. The thread reads the clock itself right after the barrier and after its
/// last operation: a coordinating thread that reads the clock after the barrier can be woken late
/// (on a loaded VM, later than a small run takes). Checks never panic (a panicking thread would
/// leave the others waiting on the barrier); they are counted in the outcome.
fn worker<M: ConcMap>(
    map: &M,
    keys: &[u64],
    ops: &[Op; 100],
    op_count: usize,
    prefill: usize,
    barrier: &Barrier,
) -> ThreadOutcome {
    let mut outcome = ThreadOutcome::default();
    for &key in &keys[..prefill] {
        if !map.insert(key, key) {
            outcome.fail("prefill insert found the key present", key);
        }
    }
    barrier.wait();
    let started = Instant::now();

    // Invariants: erase_seq <= insert_seq < keys.len(); keys[erase_seq..insert_seq] are live.
    let n = keys.len();
    let (a, c, mask) = (n / 2 + 1, n / 4 - 1, n - 1);
    let (mut erase_seq, mut insert_seq, mut find_seq) = (0usize, prefill, 0usize);
    for &op in ops.iter().cycle().take(op_count) {
        match op {
            Op::Read => {
                let key = keys[find_seq];
                let found = black_box(map.get(black_box(key))).is_some();
                // Keys below erase_seq were removed, keys at or above insert_seq never inserted.
                if found != (find_seq >= erase_seq && find_seq < insert_seq) {
                    outcome.fail("read disagrees with the thread's own history", key);
                }
                find_seq = (a * find_seq + c) & mask;
            }
            Op::Insert => {
                let key = keys[insert_seq];
                if !map.insert(black_box(key), key) {
                    outcome.fail("insert of a new key found it present", key);
                }
                insert_seq += 1;
            }
            Op::Remove => {
                if erase_seq == insert_seq {
                    // The thread has no live key: whatever the LCG picks must be absent.
                    let key = keys[find_seq];
                    if map.remove(black_box(key)) {
                        outcome.fail("remove found a key the thread never left live", key);
                    }
                    find_seq = (a * find_seq + c) & mask;
                } else {
                    let key = keys[erase_seq];
                    if !map.remove(black_box(key)) {
                        outcome.fail("remove of a live key found it absent", key);
                    }
                    erase_seq += 1;
                }
            }
            Op::Update => {
                let key = keys[find_seq];
                let updated = map.update(black_box(key));
                if updated != (find_seq >= erase_seq && find_seq < insert_seq) {
                    outcome.fail("update disagrees with the thread's own history", key);
                }
                find_seq = (a * find_seq + c) & mask;
            }
        }
    }
    outcome.timed = Some((started, Instant::now()));
    outcome.live = insert_seq - erase_seq;
    outcome
}

/// One throughput run, as a child process measures it.
#[derive(Clone, Debug, Default, PartialEq)]
struct CellRecord {
    ops: u64,
    elapsed_ns: u64,
    len: u64,
    /// hmap only: garbage objects after the run (all worker threads gone, nothing flushed).
    garbage_objects: Option<u64>,
    /// hmap only: log2 of the bucket count after the run.
    log2_buckets: Option<u8>,
    /// The child's peak resident memory (`VmHWM`), kB.
    peak_rss_kb: u64,
}

/// Prefix of a cell child's result line.
const CELL_PREFIX: &str = "HMAP-CONC-CELL";

impl CellRecord {
    fn mops(&self) -> f64 {
        self.ops as f64 * 1e3 / self.elapsed_ns.max(1) as f64
    }

    fn to_line(&self) -> String {
        format!(
            "{CELL_PREFIX} ops={} elapsed_ns={} len={} garbage_objects={} log2_buckets={} peak_rss_kb={}",
            self.ops,
            self.elapsed_ns,
            self.len,
            optional(self.garbage_objects),
            optional(self.log2_buckets),
            self.peak_rss_kb
        )
    }

    fn parse_line(line: &str) -> Option<CellRecord> {
        let fields = Fields::parse(line, CELL_PREFIX)?;
        Some(CellRecord {
            ops: fields.int("ops")?,
            elapsed_ns: fields.int("elapsed_ns")?,
            len: fields.int("len")?,
            garbage_objects: fields.optional_int("garbage_objects")?,
            log2_buckets: fields.optional_int("log2_buckets")?,
            peak_rss_kb: fields.int("peak_rss_kb")?,
        })
    }
}

/// The child side of one throughput cell: build keys and op sequences, fill, run, check.
fn run_cell<M: ConcMap>(cell: &Cell) -> Result<CellRecord, String> {
    let per_thread = cell.keys_per_thread();
    let keys: Vec<Vec<u64>> = (0..cell.threads)
        .map(|t| {
            (0..per_thread)
                .map(|i| hit_key((t * per_thread + i) as u64))
                .collect()
        })
        .collect();
    let sequences: Vec<[Op; 100]> = (0..cell.threads)
        .map(|t| op_sequence(cell.mix, t))
        .collect();
    let (op_count, prefill) = (cell.ops_per_thread(), cell.prefill_per_thread());
    let map = if cell.mix.presized {
        M::with_capacity(cell.total_ops())
    } else {
        M::new()
    };
    let barrier = Barrier::new(cell.threads);

    let outcomes: Vec<ThreadOutcome> = thread::scope(|scope| {
        let workers: Vec<_> = keys
            .iter()
            .zip(&sequences)
            .map(|(keys, ops)| {
                let (map, barrier) = (&map, &barrier);
                scope.spawn(move || worker(map, keys, ops, op_count, prefill, barrier))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    // Wall time: from the first thread's start to the last thread's finish.
    let first_start = outcomes.iter().filter_map(|o| o.timed).map(|t| t.0).min();
    let last_finish = outcomes.iter().filter_map(|o| o.timed).map(|t| t.1).max();
    let elapsed = match (first_start, last_finish) {
        (Some(start), Some(finish)) => finish.duration_since(start),
        _ => return Err("a worker thread did not finish".to_owned()),
    };

    let failures: usize = outcomes.iter().map(|o| o.check_failures).sum();
    if failures > 0 {
        let first = outcomes.iter().find_map(|o| o.first_failure.clone());
        return Err(format!(
            "{failures} check failure(s); first: {}",
            first.unwrap_or_default()
        ));
    }
    let expected_len: usize = outcomes.iter().map(|o| o.live).sum();
    let len = map.len();
    if len != expected_len {
        return Err(format!(
            "len() = {len} after the run, but the threads left {expected_len} keys live"
        ));
    }
    let stats = map.reclaim_stats();
    Ok(CellRecord {
        ops: (op_count * cell.threads) as u64,
        elapsed_ns: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
        len: len as u64,
        garbage_objects: stats.map(|s| s.garbage_objects as u64),
        log2_buckets: stats.map(|s| s.log2_buckets),
        peak_rss_kb: measure::read_memory().peak_kb,
    })
}

// ---------------------------------------------------------------------------------------------
// Growth latency
// ---------------------------------------------------------------------------------------------

/// A log-linear latency histogram: exact below 64 ns, then 32 buckets per power of two (each
/// bucket at most 1/32 ≈ 3% wide). Exact count, sum and maximum on the side.
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    max: u64,
}

impl Histogram {
    const SUB_BUCKETS: u64 = 32;
    const LINEAR: u64 = 64;

    fn new() -> Histogram {
        Histogram {
            // The index of u64::MAX, plus one.
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

    #[inline]
    fn record(&mut self, value: u64) {
        self.counts[Self::index(value)] += 1;
        self.total += 1;
        self.sum += u128::from(value);
        self.max = self.max.max(value);
    }

    /// Nearest-rank percentile, as the upper bound of its bucket (never above the maximum).
    fn percentile(&self, q: f64) -> u64 {
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

    fn summary(&self) -> LatencySummary {
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

/// The reader's side of one growth run, plus hmap's reclamation state at the end.
#[derive(Clone, Debug, Default, PartialEq)]
struct ReaderRecord {
    gets: u64,
    latency: LatencySummary,
    garbage_objects: Option<u64>,
}

/// Prefix of a grow child's reader line (the writer's is `measure::RESULT_PREFIX`).
const READER_PREFIX: &str = "HMAP-CONC-READER";

impl ReaderRecord {
    fn to_line(&self) -> String {
        let l = &self.latency;
        format!(
            "{READER_PREFIX} gets={} p50_ns={} p99_ns={} p9999_ns={} max_ns={} mean_ns={:.1} garbage_objects={}",
            self.gets,
            l.p50_ns,
            l.p99_ns,
            l.p9999_ns,
            l.max_ns,
            l.mean_ns,
            optional(self.garbage_objects)
        )
    }

    fn parse_line(line: &str) -> Option<ReaderRecord> {
        let fields = Fields::parse(line, READER_PREFIX)?;
        Some(ReaderRecord {
            gets: fields.int("gets")?,
            latency: LatencySummary {
                p50_ns: fields.int("p50_ns")?,
                p99_ns: fields.int("p99_ns")?,
                p9999_ns: fields.int("p9999_ns")?,
                max_ns: fields.int("max_ns")?,
                mean_ns: fields.get("mean_ns")?.parse().ok()?,
            },
            garbage_objects: fields.optional_int("garbage_objects")?,
        })
    }
}

/// One growth run: the writer's record (latencies, loop time, memory) and the reader's.
#[derive(Clone, Debug, Default, PartialEq)]
struct GrowRecord {
    writer: RunRecord,
    reader: ReaderRecord,
}

/// The child side of one growth run: one writer from empty to `keys` keys, one reader behind it.
fn run_grow<M: ConcMap>(keys: usize) -> Result<GrowRecord, String> {
    // Allocated and written before the baseline memory reading, as in `measure_growth`.
    let mut samples = vec![u32::MAX; keys];
    let mut histogram = Histogram::new();
    let map = M::new();
    let watermark = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let barrier = Barrier::new(3);

    let (before, loop_ns, insert_failures, read_failures) = thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut rng = SplitMix(READER_SEED);
            let mut failures = 0u64;
            barrier.wait();
            while !done.load(Ordering::Acquire) {
                let inserted = watermark.load(Ordering::Acquire);
                if inserted == 0 {
                    std::hint::spin_loop();
                    continue;
                }
                let key = hit_key(rng.next() % inserted as u64);
                let t0 = Instant::now();
                compiler_fence(Ordering::SeqCst);
                let found = black_box(map.get(black_box(key)));
                compiler_fence(Ordering::SeqCst);
                let elapsed = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                histogram.record(elapsed);
                failures += u64::from(found != Some(key));
            }
            failures
        });
        let writer = scope.spawn(|| {
            let mut failures = 0u64;
            barrier.wait();
            let start = Instant::now();
            for (i, sample) in samples.iter_mut().enumerate() {
                let key = hit_key(i as u64);
                let t0 = Instant::now();
                compiler_fence(Ordering::SeqCst);
                let new = map.insert(black_box(key), key);
                compiler_fence(Ordering::SeqCst);
                *sample = u32::try_from(t0.elapsed().as_nanos()).unwrap_or(u32::MAX);
                watermark.store(i + 1, Ordering::Release);
                failures += u64::from(!new);
            }
            let loop_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            done.store(true, Ordering::Release);
            (loop_ns, failures)
        });
        let before = measure::read_memory();
        barrier.wait();
        let (loop_ns, insert_failures) = writer.join().unwrap_or((0, u64::MAX));
        let read_failures = reader.join().unwrap_or(u64::MAX);
        (before, loop_ns, insert_failures, read_failures)
    });
    let after: Memory = measure::read_memory();
    if insert_failures > 0 || read_failures > 0 {
        return Err(format!(
            "{insert_failures} insert(s) of a new key found it present, {read_failures} get(s) \
             of an inserted key missed it or read a wrong value"
        ));
    }
    if map.len() != keys {
        return Err(format!("len() = {} after {keys} inserts", map.len()));
    }
    let garbage = map.reclaim_stats().map(|s| s.garbage_objects as u64);
    drop(map);
    Ok(GrowRecord {
        writer: RunRecord {
            keys: keys as u64,
            loop_ns,
            before,
            after,
            latency: Some(LatencySummary::from_samples(&mut samples)),
            cpu_max_ns: None,
        },
        reader: ReaderRecord {
            gets: histogram.total,
            latency: histogram.summary(),
            garbage_objects: garbage,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Child protocol
// ---------------------------------------------------------------------------------------------

/// First argument of a throughput child: `__cell <mix> <map> <threads> <log2>`.
const CELL_COMMAND: &str = "__cell";
/// First argument of a growth child: `__grow <map> <keys>`.
const GROW_COMMAND: &str = "__grow";

/// `name=value` pairs of one result line.
struct Fields<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Fields<'a> {
    fn parse(line: &'a str, prefix: &str) -> Option<Fields<'a>> {
        let rest = line.trim().strip_prefix(prefix)?;
        Some(Fields(
            rest.split_whitespace()
                .filter_map(|pair| pair.split_once('='))
                .collect(),
        ))
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    fn int<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.get(name)?.parse().ok()
    }

    /// `Some(None)` for `-`, `Some(Some(n))` for a number, `None` when missing or malformed.
    fn optional_int<T: std::str::FromStr>(&self, name: &str) -> Option<Option<T>> {
        match self.get(name)? {
            "-" => Some(None),
            text => text.parse().ok().map(Some),
        }
    }
}

/// A value for a result line or CSV cell: the number, or `-` when absent.
fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Runs the child side and prints its result line(s); a failed check is a failed exit.
fn child(command: &str, args: &[String]) -> ExitCode {
    // A panic on any thread ends the process at once: other threads may be waiting on a
    // barrier the panicking thread will never reach.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::exit(101);
    }));
    let find_map = |name: &str| MAPS.iter().find(|m| m.name == name);
    let result = match (command, args) {
        (CELL_COMMAND, [mix, map, threads, log2]) => {
            let mix = MIXES.iter().find(|m| m.name == mix);
            let threads = threads.parse::<usize>().ok().filter(|&t| t > 0);
            let log2 = log2.parse::<u32>().ok();
            match (mix, find_map(map), threads, log2) {
                (Some(mix), Some(entry), Some(threads), Some(log2)) => {
                    (entry.cell)(&Cell { mix, threads, log2 }).map(|r| r.to_line())
                }
                _ => Err(format!("bad arguments: {}", args.join(" "))),
            }
        }
        (GROW_COMMAND, [map, keys]) => match (find_map(map), keys::parse_count(keys).ok()) {
            (Some(entry), Some(keys)) => (entry.grow)(keys)
                .map(|r| format!("{}\n{}", r.writer.to_line(), r.reader.to_line())),
            _ => Err(format!("bad arguments: {}", args.join(" "))),
        },
        _ => Err(format!(
            "usage: {CELL_COMMAND} <mix> <map> <threads> <log2> | {GROW_COMMAND} <map> <keys>"
        )),
    };
    match result {
        Ok(lines) => {
            println!("{lines}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("concurrent: {command} {}: {message}", args.join(" "));
            ExitCode::FAILURE
        }
    }
}

/// Runs this executable with `args`, lets its stderr through, and returns its stdout; kills it
/// after `timeout`.
fn run_child(args: &[String], timeout: Duration) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    let mut child = Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "child `{}` killed after {} s (HMAP_CONC_TIMEOUT_S)",
                    args.join(" "),
                    timeout.as_secs()
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for child `{}`: {e}", args.join(" "))),
        }
    };
    let text = reader.join().unwrap_or_default();
    if status.success() {
        Ok(text)
    } else {
        Err(format!("child `{}` failed: {status}", args.join(" ")))
    }
}

// ---------------------------------------------------------------------------------------------
// Plan
// ---------------------------------------------------------------------------------------------

const DEFAULT_LOG2: u32 = 20;
const DEFAULT_REPEAT: usize = 3;
const DEFAULT_GROW_KEYS: usize = 8_000_000;
const DEFAULT_GROW_REPEAT: usize = 3;
const DEFAULT_TIMEOUT_S: usize = 600;
const QUICK_LOG2: u32 = 16;
const QUICK_GROW_KEYS: usize = 100_000;
const SMOKE_LOG2: u32 = 12;
const SMOKE_GROW_KEYS: usize = 20_000;

/// How this invocation runs, from its arguments and the environment.
struct Plan {
    label: &'static str,
    run_mixes: bool,
    run_grow: bool,
    log2: u32,
    threads: Vec<usize>,
    mixes: Vec<&'static Mix>,
    repeat: usize,
    grow_keys: usize,
    grow_repeat: usize,
    maps: Vec<&'static MapEntry>,
    timeout: Duration,
    write_csv: bool,
}

impl Plan {
    /// `None` when there is nothing to run (`--list`, `--help`).
    fn from_args(args: &[String]) -> Result<Option<Plan>, String> {
        let (mut bench, mut test, mut quick) = (false, false, false);
        let (mut run_mixes, mut run_grow) = (false, false);
        let mut filters = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "--bench" => bench = true,
                "--test" => test = true,
                "--quick" => quick = true,
                "--list" => return Ok(None),
                "--help" | "-h" => {
                    println!(
                        "concurrent [--quick] [mixes] [grow] [MAP_FILTER...]; env HMAP_CONC_LOG2 (20), \
                         HMAP_CONC_THREADS (1..=cores), HMAP_CONC_MIXES ({}), HMAP_CONC_REPEAT (3), \
                         HMAP_CONC_GROW_KEYS (8M), HMAP_CONC_GROW_REPEAT (3), HMAP_CONC_TIMEOUT_S (600); \
                         maps: {}",
                        MIXES.map(|m| m.name).join(","),
                        MAPS.map(|m| m.name).join(", ")
                    );
                    return Ok(None);
                }
                "mixes" => run_mixes = true,
                "grow" => run_grow = true,
                option if common::CRITERION_OPTIONS_WITH_VALUE.contains(&option) => {
                    iter.next();
                }
                option if option.starts_with('-') => {}
                filter => filters.push(filter.to_owned()),
            }
        }
        if !run_mixes && !run_grow {
            (run_mixes, run_grow) = (true, true);
        }
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        let smoke = !bench || test;
        let (label, log2, threads, repeat, grow_keys, grow_repeat) = if smoke {
            let threads = vec![1, 2];
            (
                "smoke test (cargo test --benches)",
                SMOKE_LOG2,
                threads,
                1,
                SMOKE_GROW_KEYS,
                1,
            )
        } else if quick {
            let mut threads = vec![1, cores];
            threads.dedup();
            ("quick", QUICK_LOG2, threads, 1, QUICK_GROW_KEYS, 1)
        } else {
            let threads = (1..=cores).collect();
            (
                "full",
                DEFAULT_LOG2,
                threads,
                DEFAULT_REPEAT,
                DEFAULT_GROW_KEYS,
                DEFAULT_GROW_REPEAT,
            )
        };
        let log2 = match env_text("HMAP_CONC_LOG2") {
            Some(text) => text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|l| (4..=32).contains(l))
                .ok_or_else(|| format!("HMAP_CONC_LOG2={text}: expected an integer in 4..=32"))?,
            None => log2,
        };
        let threads = match env_text("HMAP_CONC_THREADS") {
            Some(text) => text
                .split(',')
                .map(|item| {
                    keys::parse_count(item).map_err(|e| format!("HMAP_CONC_THREADS={text}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => threads,
        };
        let mixes = match env_text("HMAP_CONC_MIXES") {
            Some(text) => text
                .split(',')
                .map(|name| {
                    MIXES.iter().find(|m| m.name == name.trim()).ok_or_else(|| {
                        format!(
                            "HMAP_CONC_MIXES={text}: unknown mix `{}` (mixes: {})",
                            name.trim(),
                            MIXES.map(|m| m.name).join(", ")
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => MIXES.iter().collect(),
        };
        let maps = MAPS
            .iter()
            .filter(|m| filters.is_empty() || filters.iter().any(|f| m.name.contains(f.as_str())))
            .collect();
        Ok(Some(Plan {
            label,
            run_mixes,
            run_grow,
            log2,
            threads,
            mixes,
            repeat: env_count("HMAP_CONC_REPEAT")?.unwrap_or(repeat),
            grow_keys: env_count("HMAP_CONC_GROW_KEYS")?.unwrap_or(grow_keys),
            grow_repeat: env_count("HMAP_CONC_GROW_REPEAT")?.unwrap_or(grow_repeat),
            maps,
            timeout: Duration::from_secs(
                env_count("HMAP_CONC_TIMEOUT_S")?.unwrap_or(DEFAULT_TIMEOUT_S) as u64,
            ),
            write_csv: !smoke,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Machine description and output files
// ---------------------------------------------------------------------------------------------

/// What every result row records about where it was measured.
struct Machine {
    cpu_model: String,
    logical_cpus: usize,
    rustc: String,
    git_commit: String,
    git_dirty: String,
}

impl Machine {
    fn detect() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown", |(_, model)| model.trim())
            .replace(',', ";");
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        let repo = env!("CARGO_MANIFEST_DIR");
        Machine {
            cpu_model,
            logical_cpus: thread::available_parallelism().map_or(0, |n| n.get()),
            rustc: command_output(&rustc, &["-V"]).unwrap_or_else(|| "unknown".to_owned()),
            git_commit: command_output("git", &["-C", repo, "rev-parse", "HEAD"])
                .unwrap_or_else(|| "unknown".to_owned()),
            git_dirty: command_output("git", &["-C", repo, "status", "--porcelain"])
                .map_or_else(|| "unknown".to_owned(), |s| (!s.is_empty()).to_string()),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} ({} logical CPUs), {}, commit {} (dirty: {})",
            self.cpu_model, self.logical_cpus, self.rustc, self.git_commit, self.git_dirty
        )
    }

    const CSV_COLUMNS: &'static str = "cpu_model,logical_cpus,rustc,git_commit,git_dirty";

    fn csv_cells(&self) -> String {
        format!(
            "{},{},{},{},{}",
            self.cpu_model,
            self.logical_cpus,
            self.rustc.replace(',', ";"),
            self.git_commit,
            self.git_dirty
        )
    }
}

/// The trimmed stdout of a command that succeeded; `None` if it is missing or failed.
fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn write_csv(name: &str, contents: &str) -> Result<(), String> {
    let dir = results_dir();
    let path = dir.join(name);
    fs::create_dir_all(&dir)
        .and_then(|()| fs::write(&path, contents))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Parent: throughput
// ---------------------------------------------------------------------------------------------

/// One cell's best repetition (`None` if it failed) and hmap's largest garbage count.
struct BestCell {
    threads: usize,
    map: &'static str,
    record: Option<CellRecord>,
    max_garbage: Option<u64>,
}

/// One repetition of one cell, as the parent records it.
struct CellRun {
    mix: &'static str,
    map: &'static str,
    threads: usize,
    repetition: usize,
    record: CellRecord,
}

/// Runs every (mix, threads, map) cell `plan.repeat` times; prints one table per mix. Failed
/// cells are reported on stderr, shown as `FAIL` and returned.
fn run_mixes(plan: &Plan, machine: &Machine) -> Vec<String> {
    let mut failures = Vec::new();
    let mut runs: Vec<CellRun> = Vec::new();
    for &mix in &plan.mixes {
        println!(
            "\n{} ({}): 2^{} operations, best of {} process(es) per cell",
            mix.name,
            mix.describe(),
            plan.log2,
            plan.repeat
        );
        let mut best: Vec<BestCell> = Vec::new();
        for &threads in &plan.threads {
            for entry in &plan.maps {
                let args = vec![
                    CELL_COMMAND.to_owned(),
                    mix.name.to_owned(),
                    entry.name.to_owned(),
                    threads.to_string(),
                    plan.log2.to_string(),
                ];
                let mut cell_best: Option<CellRecord> = None;
                let mut max_garbage: Option<u64> = None;
                for repetition in 1..=plan.repeat {
                    let result = run_child(&args, plan.timeout).and_then(|stdout| {
                        stdout
                            .lines()
                            .find_map(CellRecord::parse_line)
                            .ok_or_else(|| format!("child `{}` printed no result", args.join(" ")))
                    });
                    match result {
                        Ok(record) => {
                            if let Some(g) = record.garbage_objects {
                                max_garbage = Some(max_garbage.unwrap_or(0).max(g));
                            }
                            if cell_best.as_ref().is_none_or(|b| record.mops() > b.mops()) {
                                cell_best = Some(record.clone());
                            }
                            runs.push(CellRun {
                                mix: mix.name,
                                map: entry.name,
                                threads,
                                repetition,
                                record,
                            });
                        }
                        Err(message) => {
                            eprintln!("concurrent: {message}");
                            failures.push(format!(
                                "{} {} {threads} threads: {message}",
                                mix.name, entry.name
                            ));
                            cell_best = None;
                            break;
                        }
                    }
                }
                if let Some(b) = &cell_best {
                    eprintln!(
                        "  {} {} {threads} thread(s): {:.2} Mop/s{}",
                        mix.name,
                        entry.name,
                        b.mops(),
                        max_garbage
                            .map_or(String::new(), |g| format!(", garbage objects at end ≤ {g}"))
                    );
                }
                best.push(BestCell {
                    threads,
                    map: entry.name,
                    record: cell_best,
                    max_garbage,
                });
            }
        }
        print!("{}", mix_table(plan, &best));
    }
    println!(
        "\nMop/s = all threads' operations / wall time from the first thread leaving the start \
         barrier to the last one finishing;\nbest repetition. ÷ best = that map's Mop/s / the best \
         of {} at the same thread count.\nhmap garbage = hmap's stats().garbage_objects after the \
         run, before the map is dropped (largest over repetitions).",
        PEERS.join(", ")
    );
    if plan.write_csv {
        let mut csv = format!(
            "mix,map,threads,log2,repetition,ops,elapsed_ns,mops,len,garbage_objects,log2_buckets,peak_rss_kb,{}\n",
            Machine::CSV_COLUMNS
        );
        for run in &runs {
            let r = &run.record;
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{},{:.3},{},{},{},{},{}",
                run.mix,
                run.map,
                run.threads,
                plan.log2,
                run.repetition,
                r.ops,
                r.elapsed_ns,
                r.mops(),
                r.len,
                optional(r.garbage_objects),
                optional(r.log2_buckets),
                r.peak_rss_kb,
                machine.csv_cells()
            );
        }
        if let Err(message) = write_csv("concurrent.csv", &csv) {
            failures.push(message);
        }
    }
    failures
}

/// One mix's table: a row per thread count; Mop/s per map, then each map's ratio to the best
/// peer at that thread count, then hmap's garbage objects.
fn mix_table(plan: &Plan, best: &[BestCell]) -> String {
    let names: Vec<&str> = plan.maps.iter().map(|m| m.name).collect();
    let widths: Vec<usize> = names.iter().map(|n| n.len().max(7)).collect();
    let has_peer = names.iter().any(|n| PEERS.contains(n));
    let has_hmap = names.contains(&HmapConcurrent::NAME);
    let block: usize = widths.iter().map(|w| w + 1).sum();
    // Group headings over the two blocks of columns.
    let mut out = format!("{:>7} {:<block$}", "", "Mop/s");
    if has_peer {
        let _ = write!(
            out,
            "| {:<block$}",
            format!("÷ best of {}", PEERS.join("/"))
        );
    }
    out = out.trim_end().to_owned();
    out.push('\n');
    let _ = write!(out, "{:>7}", "threads");
    let header = |out: &mut String| {
        for (name, width) in names.iter().zip(&widths) {
            let _ = write!(out, " {name:>width$}");
        }
    };
    header(&mut out);
    if has_peer {
        out += " |";
        header(&mut out);
    }
    if has_hmap {
        let _ = write!(out, " | {:>12}", "hmap garbage");
    }
    out.push('\n');
    for &threads in &plan.threads {
        let cell = |name: &str| {
            best.iter()
                .find(|b| b.threads == threads && b.map == name)
                .and_then(|b| b.record.as_ref().map(|r| (r.mops(), b.max_garbage)))
        };
        let _ = write!(out, "{threads:>7}");
        for (name, width) in names.iter().zip(&widths) {
            match cell(name) {
                Some((mops, _)) => {
                    let _ = write!(out, " {mops:>width$.2}");
                }
                None => {
                    let _ = write!(out, " {:>width$}", "FAIL");
                }
            }
        }
        if has_peer {
            let best_peer = PEERS
                .iter()
                .filter_map(|p| cell(p).map(|(mops, _)| mops))
                .fold(0.0f64, f64::max);
            out += " |";
            for (name, width) in names.iter().zip(&widths) {
                match cell(name) {
                    Some((mops, _)) if best_peer > 0.0 => {
                        let _ = write!(out, " {:>width$.2}", mops / best_peer);
                    }
                    _ => {
                        let _ = write!(out, " {:>width$}", "-");
                    }
                }
            }
        }
        if has_hmap {
            let garbage = cell(HmapConcurrent::NAME).and_then(|(_, g)| g);
            let _ = write!(out, " | {:>12}", optional(garbage));
        }
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Parent: growth latency
// ---------------------------------------------------------------------------------------------

/// One repetition of one map's growth run, as the parent records it.
struct GrowRun {
    map: &'static str,
    repetition: usize,
    record: GrowRecord,
}

/// Runs every map's growth child `plan.grow_repeat` times; prints the table of medians.
fn run_growth(plan: &Plan, machine: &Machine) -> Vec<String> {
    let mut failures = Vec::new();
    let mut runs: Vec<GrowRun> = Vec::new();
    println!(
        "\ngrow: one writer inserts {} u64 keys into an empty map (every insert timed) while one reader \
         gets already-inserted keys (every get timed); {} process(es) per map",
        plan.grow_keys, plan.grow_repeat
    );
    println!(
        "timer overhead (empty Instant pair, median): {} ns",
        measure::timer_overhead_ns()
    );
    for entry in &plan.maps {
        for repetition in 1..=plan.grow_repeat {
            let args = vec![
                GROW_COMMAND.to_owned(),
                entry.name.to_owned(),
                plan.grow_keys.to_string(),
            ];
            let result = run_child(&args, plan.timeout).and_then(|stdout| {
                let writer = stdout.lines().find_map(RunRecord::parse_line);
                let reader = stdout.lines().find_map(ReaderRecord::parse_line);
                writer
                    .zip(reader)
                    .map(|(writer, reader)| GrowRecord { writer, reader })
                    .ok_or_else(|| format!("child `{}` printed no result", args.join(" ")))
            });
            match result {
                Ok(record) => {
                    eprintln!(
                        "  grow {} {repetition}/{}: writer max {}, reader max {}",
                        entry.name,
                        plan.grow_repeat,
                        measure::format_ns(record.writer.latency.unwrap_or_default().max_ns as f64),
                        measure::format_ns(record.reader.latency.max_ns as f64)
                    );
                    runs.push(GrowRun {
                        map: entry.name,
                        repetition,
                        record,
                    });
                }
                Err(message) => {
                    eprintln!("concurrent: {message}");
                    failures.push(format!("grow {}: {message}", entry.name));
                    break;
                }
            }
        }
    }
    print!("\n{}", grow_table(plan, &runs));
    if plan.write_csv {
        let mut csv = format!(
            "map,repetition,keys,w_p50_ns,w_p99_ns,w_p9999_ns,w_max_ns,w_mean_ns,w_loop_ns,\
             r_gets,r_p50_ns,r_p99_ns,r_p9999_ns,r_max_ns,r_mean_ns,rss_before_kb,rss_after_kb,peak_rss_kb,\
             bytes_per_entry_end,bytes_per_entry_peak,garbage_objects,{}\n",
            Machine::CSV_COLUMNS
        );
        for run in &runs {
            let (w, r) = (&run.record.writer, &run.record.reader);
            let wl = w.latency.unwrap_or_default();
            let rl = r.latency;
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{},{:.1},{},{},{},{},{},{},{:.1},{},{},{},{:.2},{:.2},{},{}",
                run.map,
                run.repetition,
                w.keys,
                wl.p50_ns,
                wl.p99_ns,
                wl.p9999_ns,
                wl.max_ns,
                wl.mean_ns,
                w.loop_ns,
                r.gets,
                rl.p50_ns,
                rl.p99_ns,
                rl.p9999_ns,
                rl.max_ns,
                rl.mean_ns,
                w.before.rss_kb,
                w.after.rss_kb,
                w.after.peak_kb,
                w.bytes_per_entry_end(),
                w.bytes_per_entry_peak(),
                optional(r.garbage_objects),
                machine.csv_cells()
            );
        }
        if let Err(message) = write_csv("concurrent_grow.csv", &csv) {
            failures.push(message);
        }
    }
    failures
}

/// The growth table: one line per map, medians over its repetitions, then each map's writer and
/// reader maximum relative to the best (lowest) of the peers'.
fn grow_table(plan: &Plan, runs: &[GrowRun]) -> String {
    let mut out = format!(
        "{:<16} {:>9} {:>9} {:>9} {:>10} {:>10} | {:>11} {:>9} {:>9} {:>9} {:>10} | {:>7} {:>8} {:>8}\n",
        "map",
        "w p50",
        "w p99",
        "w p99.99",
        "w max",
        "w total",
        "r gets",
        "r p50",
        "r p99",
        "r p99.99",
        "r max",
        "B/e end",
        "B/e peak",
        "garbage"
    );
    // (name, writer max, reader max) medians, for the ratio line.
    let mut maxima: Vec<(&str, f64, f64)> = Vec::new();
    for entry in &plan.maps {
        let mine: Vec<&GrowRecord> = runs
            .iter()
            .filter(|r| r.map == entry.name)
            .map(|r| &r.record)
            .collect();
        if mine.is_empty() {
            let _ = writeln!(out, "{:<16} FAIL", entry.name);
            continue;
        }
        let median =
            |f: &dyn Fn(&GrowRecord) -> f64| measure::median(mine.iter().map(|r| f(r)).collect());
        let writer = |r: &GrowRecord| r.writer.latency.unwrap_or_default();
        let w_max = median(&|r| writer(r).max_ns as f64);
        let r_max = median(&|r| r.reader.latency.max_ns as f64);
        maxima.push((entry.name, w_max, r_max));
        let garbage = mine.iter().filter_map(|r| r.reader.garbage_objects).max();
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>9} {:>9} {:>10} {:>10} | {:>11.0} {:>9} {:>9} {:>9} {:>10} | {:>7.1} {:>8.1} {:>8}",
            entry.name,
            measure::format_ns(median(&|r| writer(r).p50_ns as f64)),
            measure::format_ns(median(&|r| writer(r).p99_ns as f64)),
            measure::format_ns(median(&|r| writer(r).p9999_ns as f64)),
            measure::format_ns(w_max),
            measure::format_ns(median(&|r| r.writer.loop_ns as f64)),
            median(&|r| r.reader.gets as f64),
            measure::format_ns(median(&|r| r.reader.latency.p50_ns as f64)),
            measure::format_ns(median(&|r| r.reader.latency.p99_ns as f64)),
            measure::format_ns(median(&|r| r.reader.latency.p9999_ns as f64)),
            measure::format_ns(r_max),
            median(&|r| r.writer.bytes_per_entry_end()),
            median(&|r| r.writer.bytes_per_entry_peak()),
            optional(garbage)
        );
    }
    let best_peer = |pick: fn(&(&str, f64, f64)) -> f64| {
        maxima
            .iter()
            .filter(|m| PEERS.contains(&m.0))
            .map(pick)
            .filter(|&v| v > 0.0)
            .reduce(f64::min)
    };
    if let (Some(w_best), Some(r_best)) = (best_peer(|m| m.1), best_peer(|m| m.2)) {
        let ratios: Vec<String> = maxima
            .iter()
            .map(|(name, w, r)| format!("{name} {:.2} / {:.2}", w / w_best, r / r_best))
            .collect();
        let _ = writeln!(
            out,
            "writer max / reader max relative to the best of {}: {}",
            PEERS.join(", "),
            ratios.join(", ")
        );
    }
    out += "columns: medians over repetitions. w = the writer's single inserts (exact percentiles; each includes one \
            clock-read pair), w total = the writer's loop time with clock reads;\nr = the reader's single gets (percentiles \
            from a histogram, upper bucket bound, ~3%; exact max); B/e = resident bytes per entry after the last insert \
            and at the peak;\ngarbage = hmap's stats().garbage_objects after the last insert (largest over repetitions).\n";
    out
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(command) = args
        .first()
        .filter(|a| *a == CELL_COMMAND || *a == GROW_COMMAND)
    {
        return child(command, &args[1..]);
    }
    let plan = match Plan::from_args(&args) {
        Ok(Some(plan)) => plan,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("concurrent: {message}");
            return ExitCode::from(2);
        }
    };
    if plan.maps.is_empty() {
        println!("concurrent: no map matches the filter; nothing to run");
        return ExitCode::SUCCESS;
    }
    let machine = Machine::detect();
    println!(
        "concurrent ({}): maps {}; hasher {}; u64 keys (splitmix64), value = key",
        plan.label,
        plan.maps
            .iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
            .join(", "),
        common::hasher_name()
    );
    println!("machine: {}", machine.describe());
    if plan.run_mixes {
        println!(
            "mixes: table 2^{} = {} (operations = table size), threads {:?}, each repetition a fresh process",
            plan.log2,
            1u64 << plan.log2,
            plan.threads
        );
    }
    let mut failures = Vec::new();
    if plan.run_mixes {
        failures.extend(run_mixes(&plan, &machine));
    }
    if plan.run_grow {
        failures.extend(run_growth(&plan, &machine));
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("\nconcurrent: {} failure(s):", failures.len());
        for failure in &failures {
            eprintln!("  {failure}");
        }
        ExitCode::FAILURE
    }
}
