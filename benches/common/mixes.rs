//! The conc-map-bench workloads (ReadHeavy, Exchange, RapidGrow, and RapidGrow from an empty
//! map), child side: a port of bustle's `Workload::run` (jonhoo/bustle, the harness
//! conc-map-bench uses). The method, the sizes and the table of mixes are documented in
//! `benches/concurrent.rs` (sub-benchmark `mixes`). In short: a table of `2^L`, `2^L` operations
//! split over `T` threads, each replaying a shuffled 100-operation sequence over its own keys
//! after a prefill and a barrier; every result is checked against what the thread knows, and the
//! final `len()` against the live keys. Throughput = operations / wall time from the first
//! thread leaving the barrier to the last one finishing.
//!
//! Used by `benches/concurrent.rs` (as `common::mixes`) and by the `hmap-lab` crate, which
//! includes this file with `#[path]` for its `throughput` experiment: one cell ([`run_cell`]) in
//! one child process (`__cell <mix> <map> <threads> <log2>` in both tools), reported on one
//! line ([`CellRecord`]). Generic over [`ConcMap`] (`conc_maps.rs`); no map crate is named here.

use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use super::child::{optional, Fields};
use super::conc_maps::ConcMap;
use super::keys::{hit_key, SplitMix};
use super::measure;

/// First argument of a throughput child: `__cell <mix> <map> <threads> <log2>`.
pub(crate) const CELL_COMMAND: &str = "__cell";

/// One conc-map-bench workload: operation percentages, prefill, and how the map is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mix {
    /// Name: table title, CSV value, child argument.
    pub(crate) name: &'static str,
    /// Share of reads, in percent.
    pub(crate) read: u8,
    /// Share of inserts of a new key, in percent.
    pub(crate) insert: u8,
    /// Share of removes, in percent.
    pub(crate) remove: u8,
    /// Share of in-place updates, in percent.
    pub(crate) update: u8,
    /// Share of the table size inserted before the timed phase, in percent.
    pub(crate) prefill_percent: u8,
    /// `with_capacity(2^L)` if true, an empty map if false.
    pub(crate) presized: bool,
}

impl Mix {
    /// `read/insert/remove/update`, as the tables print it.
    pub(crate) fn describe(&self) -> String {
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
pub(crate) const MIXES: [Mix; 4] = [
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

/// Seed of the per-thread operation shuffles (xored with the thread index).
const OP_SEED: u64 = 0x0B5E_55ED_0000_0000;

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
pub(crate) struct Cell {
    /// The workload.
    pub(crate) mix: &'static Mix,
    /// Worker threads.
    pub(crate) threads: usize,
    /// log2 of the table size and of the operation count.
    pub(crate) log2: u32,
}

impl Cell {
    /// Operations over all threads: the table size (bustle's `ops_f = 1.0`).
    fn total_ops(&self) -> usize {
        1 << self.log2
    }

    fn ops_per_thread(&self) -> usize {
        self.total_ops() / self.threads
    }

    /// See [`too_few_operations`].
    fn too_few_operations(&self) -> Option<String> {
        too_few_operations(self.threads, self.log2)
    }

    /// Keys inserted before the timed phase, over all threads.
    fn prefill(&self) -> usize {
        (1usize << self.log2) * usize::from(self.mix.prefill_percent) / 100
    }

    fn prefill_per_thread(&self) -> usize {
        self.prefill() / self.threads
    }

    /// Keys per thread, as bustle 0.5 sizes them: the larger of the table size and an upper
    /// bound on all threads' inserts (the op sequence repeats every 100 operations), plus the
    /// whole prefill, split over the threads and rounded up to a power of two (at least 16, for
    /// the LCG). Reads and updates walk this key set, so its size sets their hit rate. Until
    /// session 30 (a review) it was the thread's own prefill plus inserts, half of bustle's in
    /// `read_heavy`: reads hit about 75% of the time instead of about 25%, which favoured hmap.
    fn keys_per_thread(&self) -> usize {
        let inserts = self.total_ops().div_ceil(100) * usize::from(self.mix.insert);
        ((1usize << self.log2).max(inserts) + self.prefill())
            .div_ceil(self.threads)
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
pub(crate) struct CellRecord {
    /// Operations over all threads.
    pub(crate) ops: u64,
    /// Wall time from the first thread leaving the barrier to the last one finishing.
    pub(crate) elapsed_ns: u64,
    /// `len()` after the run.
    pub(crate) len: u64,
    /// hmap only: garbage objects after the run (all worker threads gone, nothing flushed).
    pub(crate) garbage_objects: Option<u64>,
    /// hmap only: log2 of the bucket count after the run.
    pub(crate) log2_buckets: Option<u8>,
    /// The child's peak resident memory (`VmHWM`), kB.
    pub(crate) peak_rss_kb: u64,
}

/// Prefix of a cell child's result line.
const CELL_PREFIX: &str = "HMAP-CONC-CELL";

impl CellRecord {
    /// Millions of operations per second over the whole run.
    pub(crate) fn mops(&self) -> f64 {
        self.ops as f64 * 1e3 / self.elapsed_ns.max(1) as f64
    }

    /// The child's report line: the prefix, then `name=value` pairs separated by spaces.
    pub(crate) fn to_line(&self) -> String {
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

    /// Parses [`CellRecord::to_line`]'s output; `None` if the line is not a complete report.
    pub(crate) fn parse_line(line: &str) -> Option<CellRecord> {
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

/// Why `threads` threads on a table of `2^log2` (and as many operations) cannot run a mix as it
/// says, if so: each thread must replay its 100-operation sequence at least once, or the mix's
/// shares do not hold (with more threads than operations a thread ran none, and the cell
/// reported 0 Mop/s; found by session 30's review). Any mix: the check does not depend on it.
pub(crate) fn too_few_operations(threads: usize, log2: u32) -> Option<String> {
    let per_thread = (1usize << log2) / threads;
    (per_thread < 100).then(|| {
        format!(
            "{threads} thread(s) on 2^{log2} operations leave {per_thread} per thread, fewer than \
             one 100-operation sequence: use {}a larger table",
            if threads > 1 { "fewer threads or " } else { "" }
        )
    })
}

/// The child side of one throughput cell: build keys and op sequences, fill, run, check.
pub(crate) fn run_cell<M: ConcMap>(cell: &Cell) -> Result<CellRecord, String> {
    if let Some(problem) = cell.too_few_operations() {
        return Err(problem);
    }
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

#[cfg(test)]
mod tests {
    use super::MIXES;

    fn mix(name: &str) -> &'static super::Mix {
        MIXES
            .iter()
            .find(|m| m.name == name)
            .expect("a mix of the table")
    }

    /// The key set is bustle 0.5's: `next_pow2(ceil((max(2^L, ceil(ops / 100) · insert%) +
    /// prefill) / T))`, which sets how often reads and updates hit.
    #[test]
    fn keys_per_thread_follow_bustle() {
        let keys = |name, threads, log2| {
            super::Cell {
                mix: mix(name),
                threads,
                log2,
            }
            .keys_per_thread()
        };
        // read_heavy, 2^20: 2^20 + 786,432 prefilled = 1,835,008 keys over the threads.
        assert_eq!(keys("read_heavy", 1, 20), 1 << 21);
        assert_eq!(keys("read_heavy", 2, 20), 1 << 20);
        assert_eq!(keys("read_heavy", 16, 20), 1 << 17);
        // exchange at 3 threads: 611,670 per thread.
        assert_eq!(keys("exchange", 3, 20), 1 << 20);
        // rapid_grow: 838,861 inserts < 2^20, no prefill.
        assert_eq!(keys("rapid_grow", 1, 20), 1 << 20);
        assert_eq!(keys("rapid_grow_empty", 2, 20), 1 << 19);
        // The floor for the LCG.
        assert_eq!(keys("read_heavy", 16, 4), 16);
    }
}
