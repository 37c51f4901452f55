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
//! - each thread owns a key vector of `K` keys, sized as bustle 0.5 sizes it: `K` =
//!   `next_pow2(ceil((max(2^L, ceil(2^L / 100) · insert%) + prefill) / T))`, so a full-period
//!   LCG (`a = K/2 + 1`, `c = K/4 − 1`) walks it for reads and updates, which hit about a
//!   quarter of the time in ReadHeavy (before session 30, `K` covered only the thread's prefill
//!   and inserts: half of bustle's in ReadHeavy, where reads then hit about three times in
//!   four, which favoured hmap; results before then measured that);
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
//!   carry over; the best of `R` repetitions is reported (stderr also gives each cell's range).
//!   Repetitions are interleaved: at one mix and thread count, round `r` runs every map once,
//!   starting with the `r`-th, so a slow stretch of a shared machine (on the 2-vCPU VM one
//!   cell's time moves by 30–60% between runs) falls on every map instead of on whichever map's
//!   repetitions it met.
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
//! In a fresh process per map and repetition (interleaved like the mixes: round `r` grows every
//! map once, starting with the `r`-th), one writer thread inserts hit keys `0..N` (`N` = 8M
//! by default) into an empty map, timing every insert with a pair of `Instant::now()` calls and
//! publishing how many keys it has inserted through an `AtomicUsize` (release). One reader thread
//! meanwhile looks up random keys below that watermark (acquire: every key it asks for must be
//! found), timing every get. Reported: the writer's p50/p99/p99.99/max insert (exact, from every
//! sample) and total loop time, the reader's get count and p50/p99/p99.99 (log-linear histogram,
//! about 3% resolution) and exact max, resident bytes per entry at the end and at the peak (VmRSS
//! and VmHWM deltas, `common/measure.rs`), and `hmap`'s garbage objects at the end. Beside each
//! maximum, `w max own` and `r max own`: the worst insert and get with the time the thread waited
//! on a run queue taken out (`measure::OwnMax`: the thread's `/proc/thread-self/schedstat`, read
//! every 1024 operations and after each one over 50 µs, outside the timed spans), that is, with
//! the other tasks that held its CPU meanwhile left out. On the 2-vCPU VM the kernel's DAMON
//! thread (`kdamond`, sampling every 500 ms) takes 1-8 ms of one CPU at a time, and whichever of
//! the writer and the reader it displaces shows that as a wall-clock maximum, in every map
//! (session 27, `perf` sched traces in `design/results/2026-11-29-vm-session27/`). Time the host
//! takes from the whole vCPU is not a run-queue wait and stays in. Neither does the CPU time of
//! hmap's own `hmap-reclaimer` thread in the same window (`measure::ExcusedWait`): it does work
//! the peers do inline, so a wait behind it is hmap's (until session 30 it was taken out too,
//! which favoured hmap). A
//! `RwLock<hashbrown>` reader waits behind the writer's rehash; the concurrent maps' readers
//! should not. With `HMAP_CONC_GROW_CPU=1` each repetition also runs a second process in which
//! the writer times its inserts with its thread's CPU clock instead (`w max CPU`: the worst
//! insert with the time the writer spent descheduled left out, `common/conc_grow.rs`), a
//! diagnostic for the wall-clock maximum, which on a shared VM is mostly scheduling. Off by
//! default: the clock is two system calls per insert (the 8M-key loop takes about 17 s instead
//! of 4 on the 2-core VM), and there the CPU-clock maxima of every map are milliseconds too
//! (timer and host work are charged to the running thread). Medians over the repetitions; one
//! CSV row per repetition goes to `target/hmap-bench/concurrent_grow.csv`.
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
//! `HMAP_CONC_GROW_CPU` (`1`: add the CPU-clock process, default `0`),
//! `HMAP_CONC_TIMEOUT_S` (per child process, default 600: a hung cell fails instead of hanging
//! the run). These override `--quick` too. Without `--bench` (`cargo test --benches`) it runs a
//! tiny smoke test and writes no CSV. `--list` prints nothing; other criterion options are
//! accepted and ignored.
//!
//! The child processes are this executable re-invoked as `__cell <mix> <map> <threads> <log2>`
//! and `__grow <map> <keys> [cpu]`; each prints its result line(s) on stdout.

// The sync facade (clippy.toml) is for the library, so that loom can swap its atomics; the
// benches use std's atomics directly.
#![allow(clippy::disallowed_types)]

#[allow(
    dead_code,
    reason = "each bench target uses a different part of common/"
)]
mod common;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use common::child::{self, optional};
use common::conc_grow::{self, GrowRecord, WriterClock};
use common::conc_maps::{ConcMap, DashMap, HmapConcurrent, LockedHashbrown, PapayaMap, SccMap};
use common::keys;
use common::measure;
use common::mixes::{self, Cell, CellRecord, Mix, CELL_COMMAND, MIXES};
use common::output::{child_exit, write_csv, Machine};
use common::{env_count, env_counts, env_text, HarnessArgs};

// ---------------------------------------------------------------------------------------------
// The maps (the adapter is `common/conc_maps.rs`; the measurements are `common/mixes.rs` and
// `common/conc_grow.rs`, shared with the lab)
// ---------------------------------------------------------------------------------------------

/// One implementation: its name and the monomorphized measurements its child processes run.
struct MapEntry {
    name: &'static str,
    cell: fn(&Cell) -> Result<CellRecord, String>,
    grow: fn(usize, usize, usize, WriterClock) -> Result<GrowRecord, String>,
}

/// Builds a [`MapEntry`] for `M`.
const fn entry<M: ConcMap>() -> MapEntry {
    MapEntry {
        name: M::NAME,
        cell: mixes::run_cell::<M>,
        grow: conc_grow::run_grow::<M>,
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
// Child protocol
// ---------------------------------------------------------------------------------------------

/// First argument of a growth child: `__grow <map> <keys> [cpu]` (`cpu`: the writer times its
/// inserts with its thread's CPU clock, [`WriterClock::ThreadCpu`]).
const GROW_COMMAND: &str = "__grow";
/// Reader threads in a growth child.
const GROW_READERS: usize = 1;
/// Last argument of a growth child that times the writer's CPU clock.
const GROW_CPU: &str = "cpu";

/// Runs the child side and prints its result line(s); a failed check is a failed exit.
fn child(command: &str, args: &[String]) -> ExitCode {
    child::exit_on_panic();
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
        (GROW_COMMAND, [map, keys, clock @ ..]) => {
            let clock = match clock {
                [] => Some(WriterClock::Wall),
                [cpu] if cpu == GROW_CPU => Some(WriterClock::ThreadCpu),
                _ => None,
            };
            match (find_map(map), keys::parse_count(keys).ok(), clock) {
                (Some(entry), Some(keys), Some(clock)) => {
                    (entry.grow)(keys, GROW_READERS, 0, clock).map(|r| r.to_lines())
                }
                _ => Err(format!("bad arguments: {}", args.join(" "))),
            }
        }
        _ => Err(format!(
            "usage: {CELL_COMMAND} <mix> <map> <threads> <log2> | {GROW_COMMAND} <map> <keys> [{GROW_CPU}]"
        )),
    };
    child_exit(result, "concurrent", command, args)
}

// ---------------------------------------------------------------------------------------------
// Plan
// ---------------------------------------------------------------------------------------------

const DEFAULT_LOG2: u32 = 20;
const DEFAULT_REPEAT: usize = 3;
const DEFAULT_GROW_KEYS: usize = 8_000_000;
const DEFAULT_GROW_REPEAT: usize = 3;
/// The variable that sets the per-child timeout (seconds).
const TIMEOUT_VAR: &str = "HMAP_CONC_TIMEOUT_S";
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
    /// Whether each growth repetition adds a process timed by the writer's CPU clock.
    grow_cpu: bool,
    maps: Vec<&'static MapEntry>,
    timeout: Duration,
    write_csv: bool,
}

impl Plan {
    /// `None` when there is nothing to run (`--list`, `--help`).
    fn from_args(args: &[String]) -> Result<Option<Plan>, String> {
        let Some(cli) = HarnessArgs::parse(args, &["mixes", "grow"], || {
            format!(
                "concurrent [--quick] [mixes] [grow] [MAP_FILTER...]; env HMAP_CONC_LOG2 (20), \
                 HMAP_CONC_THREADS (1..=cores), HMAP_CONC_MIXES ({}), HMAP_CONC_REPEAT (3), \
                 HMAP_CONC_GROW_KEYS (8M), HMAP_CONC_GROW_REPEAT (3), HMAP_CONC_GROW_CPU (0), \
                 HMAP_CONC_TIMEOUT_S (600); \
                 maps: {}",
                MIXES.map(|m| m.name).join(","),
                MAPS.map(|m| m.name).join(", ")
            )
        }) else {
            return Ok(None);
        };
        let (mut run_mixes, mut run_grow) = (
            cli.keywords.iter().any(|k| k == "mixes"),
            cli.keywords.iter().any(|k| k == "grow"),
        );
        if !run_mixes && !run_grow {
            (run_mixes, run_grow) = (true, true);
        }
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        let (smoke, quick) = (cli.smoke, cli.quick);
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
        let threads = env_counts("HMAP_CONC_THREADS")?.unwrap_or(threads);
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
        let maps = MAPS.iter().filter(|m| cli.selects(m.name)).collect();
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
            grow_cpu: match env_text("HMAP_CONC_GROW_CPU").as_deref().map(str::trim) {
                None | Some("0") => false,
                Some("1") => true,
                Some(other) => return Err(format!("HMAP_CONC_GROW_CPU={other}: expected 0 or 1")),
            },
            maps,
            timeout: Duration::from_secs(
                env_count(TIMEOUT_VAR)?.unwrap_or(DEFAULT_TIMEOUT_S) as u64
            ),
            write_csv: !smoke,
        }))
    }
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
            // Interleaved: each round runs every map once, starting one map later than the round
            // before, so a slow stretch of a shared machine falls on all maps alike instead of on
            // whichever map's repetitions it happened to meet.
            let mut cells: Vec<BestCell> = plan
                .maps
                .iter()
                .map(|entry| BestCell {
                    threads,
                    map: entry.name,
                    record: None,
                    max_garbage: None,
                })
                .collect();
            let mut failed = vec![false; cells.len()];
            for repetition in 1..=plan.repeat {
                for index in rotated(cells.len(), repetition - 1) {
                    if failed[index] {
                        continue;
                    }
                    let cell = &mut cells[index];
                    let args = vec![
                        CELL_COMMAND.to_owned(),
                        mix.name.to_owned(),
                        cell.map.to_owned(),
                        threads.to_string(),
                        plan.log2.to_string(),
                    ];
                    let result =
                        child::run(&args, plan.timeout, Some(TIMEOUT_VAR)).and_then(|stdout| {
                            stdout
                                .lines()
                                .find_map(CellRecord::parse_line)
                                .ok_or_else(|| {
                                    format!("child `{}` printed no result", args.join(" "))
                                })
                        });
                    match result {
                        Ok(record) => {
                            if let Some(g) = record.garbage_objects {
                                cell.max_garbage = Some(cell.max_garbage.unwrap_or(0).max(g));
                            }
                            if cell
                                .record
                                .as_ref()
                                .is_none_or(|b| record.mops() > b.mops())
                            {
                                cell.record = Some(record.clone());
                            }
                            runs.push(CellRun {
                                mix: mix.name,
                                map: cell.map,
                                threads,
                                repetition,
                                record,
                            });
                        }
                        Err(message) => {
                            eprintln!("concurrent: {message}");
                            failures.push(format!(
                                "{} {} {threads} threads: {message}",
                                mix.name, cell.map
                            ));
                            cell.record = None;
                            failed[index] = true;
                        }
                    }
                }
            }
            for cell in &cells {
                if let Some(b) = &cell.record {
                    let spread = cell_spread(&runs, mix.name, cell.map, threads);
                    eprintln!(
                        "  {} {} {threads} thread(s): {:.2} Mop/s{spread}{}",
                        mix.name,
                        cell.map,
                        b.mops(),
                        cell.max_garbage
                            .map_or(String::new(), |g| format!(", garbage objects at end ≤ {g}"))
                    );
                }
            }
            best.extend(cells);
        }
        print!("{}", mix_table(plan, &best));
        print!("{}", median_line(plan, &runs, &best, mix.name));
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

/// `0..n` starting at `start % n` and wrapping around: the order of one interleaved round.
fn rotated(n: usize, start: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (start + i) % n)
}

/// Mop/s of every repetition of one cell.
fn cell_mops(runs: &[CellRun], mix: &str, map: &str, threads: usize) -> Vec<f64> {
    runs.iter()
        .filter(|r| r.mix == mix && r.map == map && r.threads == threads)
        .map(|r| r.record.mops())
        .collect()
}

/// ` (range lo–hi over n runs)` of one cell's repetitions in Mop/s, or nothing for a single run:
/// how far the machine moved the cell, beside its best.
fn cell_spread(runs: &[CellRun], mix: &str, map: &str, threads: usize) -> String {
    let mops = cell_mops(runs, mix, map, threads);
    if mops.len() < 2 {
        return String::new();
    }
    let lo = mops.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = mops.iter().copied().fold(0.0f64, f64::max);
    format!(" (range {lo:.2}–{hi:.2} over {} runs)", mops.len())
}

/// Whether any map of the plan failed at `threads` (its best cell has no record): then no ratio
/// is printed at that thread count, because a failed peer would drop out of "the best peer" and
/// the repetitions before a failure would still count (session 30's review).
fn any_cell_failed(plan: &Plan, best: &[BestCell], threads: usize) -> bool {
    plan.maps.iter().any(|entry| {
        best.iter()
            .any(|b| b.threads == threads && b.map == entry.name && b.record.is_none())
    })
}

/// One line per mix: at each thread count, hmap's median Mop/s over its repetitions divided by
/// the best peer's median, a ratio less moved by one lucky or unlucky process than the best
/// repetition's. Empty without hmap, without a peer, or with a single repetition; `n/a` at a
/// thread count where a cell failed.
fn median_line(plan: &Plan, runs: &[CellRun], best: &[BestCell], mix: &str) -> String {
    if plan.repeat < 2 || !plan.maps.iter().any(|m| m.name == HmapConcurrent::NAME) {
        return String::new();
    }
    let median = |map: &str, threads: usize| {
        let mops = cell_mops(runs, mix, map, threads);
        (!mops.is_empty()).then(|| measure::median(mops))
    };
    let mut parts = Vec::new();
    for &threads in &plan.threads {
        if any_cell_failed(plan, best, threads) {
            parts.push(format!("{threads} T n/a (a cell failed)"));
            continue;
        }
        let Some(hmap) = median(HmapConcurrent::NAME, threads) else {
            continue;
        };
        let best_peer = PEERS
            .iter()
            .filter_map(|&peer| median(peer, threads).map(|mops| (peer, mops)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((peer, mops)) = best_peer.filter(|(_, mops)| *mops > 0.0) {
            parts.push(format!("{threads} T {:.2} ({peer})", hmap / mops));
        }
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "medians of {} repetitions, hmap ÷ best peer: {}\n",
        plan.repeat,
        parts.join(", ")
    )
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
            // No ratios where a cell failed: a failed peer is not "the best peer".
            let best_peer = if any_cell_failed(plan, best, threads) {
                0.0
            } else {
                PEERS
                    .iter()
                    .filter_map(|p| cell(p).map(|(mops, _)| mops))
                    .fold(0.0f64, f64::max)
            };
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

/// One repetition of one map's growth run, as the parent records it: the wall-clock process's
/// record and, with `HMAP_CONC_GROW_CPU=1`, the CPU-clock process's worst insert.
struct GrowRun {
    map: &'static str,
    repetition: usize,
    record: GrowRecord,
    cpu_max_ns: Option<u64>,
}

/// Runs every map's growth child `plan.grow_repeat` times; prints the table of medians.
fn run_growth(plan: &Plan, machine: &Machine) -> Vec<String> {
    let mut failures = Vec::new();
    let mut runs: Vec<GrowRun> = Vec::new();
    println!(
        "\ngrow: one writer inserts {} u64 keys into an empty map (every insert timed) while one reader \
         gets already-inserted keys (every get timed); {} process(es) per map{}",
        plan.grow_keys,
        plan.grow_repeat,
        if plan.grow_cpu {
            ", each followed by one that times the writer's CPU clock"
        } else {
            ""
        }
    );
    println!(
        "timer overhead (empty Instant pair, median): {} ns",
        measure::timer_overhead_ns()
    );
    // Interleaved as the mixes are: each round grows every map once, starting one map later than
    // the round before.
    let mut failed = vec![false; plan.maps.len()];
    for repetition in 1..=plan.grow_repeat {
        for index in rotated(plan.maps.len(), repetition - 1) {
            if failed[index] {
                continue;
            }
            let entry = &plan.maps[index];
            let run = |clock: Option<&str>| {
                let mut args = vec![
                    GROW_COMMAND.to_owned(),
                    entry.name.to_owned(),
                    plan.grow_keys.to_string(),
                ];
                args.extend(clock.map(str::to_owned));
                child::run(&args, plan.timeout, Some(TIMEOUT_VAR)).and_then(|stdout| {
                    GrowRecord::parse(&stdout)
                        .ok_or_else(|| format!("child `{}` printed no result", args.join(" ")))
                })
            };
            let result = run(None).and_then(|record| {
                if !plan.grow_cpu {
                    return Ok((record, None));
                }
                let cpu = run(Some(GROW_CPU))?;
                let cpu_max_ns = cpu
                    .writer
                    .cpu_max_ns
                    .ok_or("the CPU-clock child reported no maximum")?;
                Ok((record, Some(cpu_max_ns)))
            });
            match result {
                Ok((record, cpu_max_ns)) => {
                    let cpu = cpu_max_ns.map_or(String::new(), |ns| {
                        format!(" (CPU clock: {})", measure::format_ns(ns as f64))
                    });
                    let own = |ns: Option<u64>| {
                        ns.map_or(String::new(), |ns| {
                            format!(" (own {})", measure::format_ns(ns as f64))
                        })
                    };
                    eprintln!(
                        "  grow {} {repetition}/{}: writer max {}{}{cpu}, reader max {}{}",
                        entry.name,
                        plan.grow_repeat,
                        measure::format_ns(record.writer.latency.unwrap_or_default().max_ns as f64),
                        own(record.writer.own_max_ns),
                        measure::format_ns(record.reader.latency.max_ns as f64),
                        own(record.reader.own_max_ns)
                    );
                    runs.push(GrowRun {
                        map: entry.name,
                        repetition,
                        record,
                        cpu_max_ns,
                    });
                }
                Err(message) => {
                    eprintln!("concurrent: {message}");
                    failures.push(format!("grow {}: {message}", entry.name));
                    failed[index] = true;
                }
            }
        }
    }
    print!("\n{}", grow_table(plan, &runs));
    if plan.write_csv {
        let mut csv = format!(
            "map,repetition,keys,w_p50_ns,w_p99_ns,w_p9999_ns,w_max_ns,w_own_max_ns,w_cpu_max_ns,w_mean_ns,w_loop_ns,\
             r_gets,r_p50_ns,r_p99_ns,r_p9999_ns,r_max_ns,r_own_max_ns,r_mean_ns,rss_before_kb,rss_after_kb,peak_rss_kb,\
             bytes_per_entry_end,bytes_per_entry_peak,garbage_objects,{}\n",
            Machine::CSV_COLUMNS
        );
        for run in &runs {
            let (w, r) = (&run.record.writer, &run.record.reader);
            let wl = w.latency.unwrap_or_default();
            let rl = r.latency;
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{},{},{},{:.1},{},{},{},{},{},{},{},{:.1},{},{},{},{:.2},{:.2},{},{}",
                run.map,
                run.repetition,
                w.keys,
                wl.p50_ns,
                wl.p99_ns,
                wl.p9999_ns,
                wl.max_ns,
                optional(w.own_max_ns),
                optional(run.cpu_max_ns),
                wl.mean_ns,
                w.loop_ns,
                r.gets,
                rl.p50_ns,
                rl.p99_ns,
                rl.p9999_ns,
                rl.max_ns,
                optional(r.own_max_ns),
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

/// One map's medians of the growth's maxima, for the ratio line of [`grow_table`].
struct Maxima<'a> {
    name: &'a str,
    /// The writer's worst insert by the wall clock.
    writer: f64,
    /// The same with the writer's run-queue waits taken out (`measure::OwnMax`).
    writer_own: Option<f64>,
    /// The writer's worst insert by its thread's CPU clock, if that child ran.
    writer_cpu: Option<f64>,
    /// The reader's worst get.
    reader: f64,
    /// The same with the reader's run-queue waits taken out.
    reader_own: Option<f64>,
}

/// The growth table: one line per map, medians over its repetitions, then each map's writer and
/// reader maximum relative to the best (lowest) of the peers'.
fn grow_table(plan: &Plan, runs: &[GrowRun]) -> String {
    let mut out = format!(
        "{:<16} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} | {:>11} {:>9} {:>9} {:>9} {:>10} {:>10} | {:>7} {:>8} {:>8}\n",
        "map",
        "w p50",
        "w p99",
        "w p99.99",
        "w max",
        "w max own",
        "w max CPU",
        "w total",
        "r gets",
        "r p50",
        "r p99",
        "r p99.99",
        "r max",
        "r max own",
        "B/e end",
        "B/e peak",
        "garbage"
    );
    let mut maxima: Vec<Maxima<'_>> = Vec::new();
    for entry in &plan.maps {
        let my_runs: Vec<&GrowRun> = runs.iter().filter(|r| r.map == entry.name).collect();
        let mine: Vec<&GrowRecord> = my_runs.iter().map(|r| &r.record).collect();
        // The median of the values a repetition has, if every repetition has one.
        let median_of_all = |values: Vec<Option<u64>>| -> Option<f64> {
            let values: Option<Vec<f64>> =
                values.into_iter().map(|v| v.map(|v| v as f64)).collect();
            values.filter(|v| !v.is_empty()).map(measure::median)
        };
        let cpu_max = median_of_all(my_runs.iter().map(|r| r.cpu_max_ns).collect());
        if mine.is_empty() {
            let _ = writeln!(out, "{:<16} FAIL", entry.name);
            continue;
        }
        let median =
            |f: &dyn Fn(&GrowRecord) -> f64| measure::median(mine.iter().map(|r| f(r)).collect());
        let writer = |r: &GrowRecord| r.writer.latency.unwrap_or_default();
        let w_max = median(&|r| writer(r).max_ns as f64);
        let w_own = median_of_all(mine.iter().map(|r| r.writer.own_max_ns).collect());
        let r_max = median(&|r| r.reader.latency.max_ns as f64);
        let r_own = median_of_all(mine.iter().map(|r| r.reader.own_max_ns).collect());
        maxima.push(Maxima {
            name: entry.name,
            writer: w_max,
            writer_own: w_own,
            writer_cpu: cpu_max,
            reader: r_max,
            reader_own: r_own,
        });
        let garbage = mine.iter().filter_map(|r| r.reader.garbage_objects).max();
        let ns_or_dash = |ns: Option<f64>| ns.map_or("-".to_owned(), measure::format_ns);
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} | {:>11.0} {:>9} {:>9} {:>9} {:>10} {:>10} | {:>7.1} {:>8.1} {:>8}",
            entry.name,
            measure::format_ns(median(&|r| writer(r).p50_ns as f64)),
            measure::format_ns(median(&|r| writer(r).p99_ns as f64)),
            measure::format_ns(median(&|r| writer(r).p9999_ns as f64)),
            measure::format_ns(w_max),
            ns_or_dash(w_own),
            ns_or_dash(cpu_max),
            measure::format_ns(median(&|r| r.writer.loop_ns as f64)),
            median(&|r| r.reader.gets as f64),
            measure::format_ns(median(&|r| r.reader.latency.p50_ns as f64)),
            measure::format_ns(median(&|r| r.reader.latency.p99_ns as f64)),
            measure::format_ns(median(&|r| r.reader.latency.p9999_ns as f64)),
            measure::format_ns(r_max),
            ns_or_dash(r_own),
            median(&|r| r.writer.bytes_per_entry_end()),
            median(&|r| r.writer.bytes_per_entry_peak()),
            optional(garbage)
        );
    }
    if let Some(line) = ratio_line(&maxima) {
        out += &line;
    }
    out += "columns: medians over repetitions. w = the writer's single inserts (exact percentiles; each includes one \
            clock-read pair), w max own = the worst insert with the writer's run-queue waits taken out (other tasks \
            holding its CPU; read from /proc/thread-self/schedstat every 1024 inserts and after each one over 50 us), \
            less the CPU time of hmap's own hmap-reclaimer thread in the same window (its waits stay in), \
            w max CPU = with HMAP_CONC_GROW_CPU=1, the worst insert by the writer's thread CPU \
            clock, in a second process (time descheduled left out), w total = the writer's loop time with clock reads;\nr = the reader's single gets (percentiles \
            from a histogram, upper bucket bound, ~3%; exact max; r max own as w max own); B/e = resident bytes per entry after the last insert \
            and at the peak;\ngarbage = hmap's stats().garbage_objects after the last insert (largest over repetitions).\n";
    out
}

/// Each map's maxima relative to the best (lowest) of the peers', one ratio per column that some
/// peer has: writer max, writer max own, writer max CPU, reader max, reader max own.
fn ratio_line(maxima: &[Maxima<'_>]) -> Option<String> {
    type Pick = fn(&Maxima<'_>) -> Option<f64>;
    let columns: [(&str, Pick); 5] = [
        ("writer max", |m| Some(m.writer)),
        ("writer max own", |m| m.writer_own),
        ("writer max CPU", |m| m.writer_cpu),
        ("reader max", |m| Some(m.reader)),
        ("reader max own", |m| m.reader_own),
    ];
    let best_peer = |pick: Pick| {
        maxima
            .iter()
            .filter(|m| PEERS.contains(&m.name))
            .filter_map(pick)
            .filter(|&v| v > 0.0)
            .reduce(f64::min)
    };
    let present: Vec<(&str, Pick, f64)> = columns
        .into_iter()
        .filter_map(|(label, pick)| best_peer(pick).map(|best| (label, pick, best)))
        .collect();
    if present.is_empty() {
        return None;
    }
    let ratios: Vec<String> = maxima
        .iter()
        .map(|m| {
            let cells: Vec<String> = present
                .iter()
                .map(|(_, pick, best)| {
                    pick(m).map_or("-".to_owned(), |v| format!("{:.2}", v / best))
                })
                .collect();
            format!("{} {}", m.name, cells.join(" / "))
        })
        .collect();
    let labels: Vec<&str> = present.iter().map(|(label, _, _)| *label).collect();
    Some(format!(
        "{} relative to the best of {}: {}\n",
        labels.join(" / "),
        PEERS.join(", "),
        ratios.join(", ")
    ))
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
    let machine = Machine::print_header("concurrent", plan.label, plan.maps.iter().map(|m| m.name));
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
