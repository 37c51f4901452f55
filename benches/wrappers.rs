//! The Go toolkit for safe maps under a read-mostly load: QPS and single-operation latency of
//! every `hmap::wrappers` map with many more threads than cores, 95% `load` / 5% `store` on a
//! hot key set. This reproduces the experiment shape of the article behind the module, which
//! claims that 16 shards give about 4× the QPS of one `sync.RWMutex` and cut p99 latency from
//! 47.6 ms to 11.3 ms; the output prints that claim next to what we measure.
//!
//! Dimensions:
//! - **Implementations** (all through `hmap::wrappers::SharedMap`, all over hmap's Go 1.22 map):
//!   `safe/rwlock`, `safe/mutex`, `safe/actor` (`SafeMap` with `RwLockBackend`, `MutexBackend`,
//!   `ActorBackend`: one map behind one `RwLock`, one `Mutex`, or owned by one thread that runs
//!   every operation sent to it); `sharded/16` (`ShardedMap`, 16 `RwLock`ed shards); `sync`
//!   (`SyncMap`, Go's `sync.Map`); `cow` (`CowMap`, copy-on-write behind an atomically swapped
//!   `Arc`: a store copies the whole map, O(keys)); `failfast` (`FailFastMap`, which panics on
//!   any overlapping use, so it runs on **one thread only**, with the same total number of
//!   operations as the other rows of its table); `concurrent` (`hmap::ConcurrentHashMap`).
//!   `safe/rwlock` is the article's baseline (one RWMutex around a map): every row's QPS is
//!   also given as a ratio to it.
//! - **Keys and values**: a hot set of `K` `u64` splitmix64 hit keys (`common/keys.rs`,
//!   `K` = 1,000 by default), prefilled with value = key; `SafeMap` and `ConcurrentHashMap` are
//!   built with capacity `K`, the others (which have no capacity constructor) from empty.
//! - **Hasher**: `common::bench_hasher()` (foldhash `FixedState`, one fixed seed) for every map
//!   (and every shard).
//! - **Threads**: `T` = 64 by default, well above the core count of the machines this runs on
//!   (the point of the experiment: lock holders get preempted while others queue); a comma list
//!   sweeps, one table per thread count.
//! - **Operations**: each thread runs `N` operations (`N` = 50,000 by default, so 3.2M per cell
//!   at 64 threads): 95% `load`, 5% `store` (value = key) of a key drawn uniformly from the hot
//!   set, in a per-thread sequence precomputed before the start barrier (splitmix64 seeded with
//!   the thread index; no RNG in the timed loop). The method is in `common/read_mostly.rs`,
//!   which the `hmap-lab` crate shares.
//! - **Reported**: QPS = all operations / wall time from the first thread leaving the barrier to
//!   the last one finishing; mean, p50, p99, p99.9 and max single-operation latency (every
//!   operation between two `Instant::now()` calls, recorded in per-thread log-linear histograms
//!   of ~3% resolution, merged; mean and max exact). Each latency includes one clock-read pair
//!   (its median cost is printed once) and any time the thread was descheduled mid-operation.
//!
//! Each (map, thread count) cell runs `R` times (`R` = 3), each time in a fresh child process
//! (this executable re-invoked as `__cell <map> <threads> <ops_per_thread> <keys> <write_pct>`,
//! killed after a timeout), and the table shows the repetition with the median QPS (all its
//! columns from that one repetition). Every cell also checks the map: every `load` of a hot key
//! must return `Some(key)`, and after the run every hot key must be present and `len()` must
//! equal `K`; a violation fails the cell (the child exits non-zero with the reason on stderr,
//! the table shows `FAIL`, and the bench exits non-zero at the end).
//!
//! Output: a table per thread count (map, QPS, ÷ `safe/rwlock`, mean, p50, p99, p99.9, max),
//! then the article's claim next to our `sharded/16` ÷ `safe/rwlock` QPS ratio and p99s. One CSV
//! row per repetition (also the load-only and store-only latencies), with CPU model, core count,
//! `rustc -V`, commit and the command in every row, goes to `target/hmap-bench/wrappers.csv`.
//!
//! Size: a full run (8 maps × 3 repetitions at 64 threads) takes about two minutes on a 2-core
//! VM, most of it `safe/actor` (every operation is a message to one owner thread and back).
//!
//! # Running
//!
//! ```sh
//! cargo bench --bench wrappers                          # 64 threads, 1,000 keys, 3 repetitions
//! cargo bench --bench wrappers -- --quick               # CI smoke: 1,000 ops per thread, 1 repetition
//! cargo bench --bench wrappers -- safe sharded          # only maps whose name contains a filter
//! HMAP_WRAP_THREADS=1,4,16,64 cargo bench --bench wrappers
//! HMAP_WRAP_KEYS=100K HMAP_WRAP_WRITE_PCT=1 cargo bench --bench wrappers -- sharded sync
//! ```
//!
//! Environment: `HMAP_WRAP_THREADS` (comma list, default 64), `HMAP_WRAP_KEYS` (hot set, default
//! 1,000; `K`/`M` suffixes), `HMAP_WRAP_OPS` (per thread, default 50K), `HMAP_WRAP_WRITE_PCT`
//! (0..=100, default 5), `HMAP_WRAP_REPEAT` (default 3), `HMAP_WRAP_TIMEOUT_S` (per child
//! process, default 300). These override `--quick` too. Without `--bench` (`cargo test
//! --benches`) it runs a tiny smoke test (1 and 4 threads, 64 keys, 500 ops) and writes no CSV.
//! `--list` prints nothing; other criterion options are accepted and ignored.

// The sync facade (clippy.toml) is for the library; the benches may use std's atomics.
#![allow(clippy::disallowed_types)]

#[allow(
    dead_code,
    reason = "each bench target uses a different part of common/"
)]
mod common;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use hmap::wrappers::{
    ActorBackend, CowMap, FailFastMap, MutexBackend, RwLockBackend, SafeMap, ShardedMap, SharedMap,
    SyncMap,
};

use common::child;
use common::keys::{self, hit_keys};
use common::measure::{self, format_ns};
use common::output::{child_exit, write_csv, Machine};
use common::read_mostly::{self, CellResult, Latency, Workload};
use common::{bench_hasher, env_count, env_counts, env_text, BenchHasher, HarnessArgs};

// ---------------------------------------------------------------------------------------------
// The adapter
// ---------------------------------------------------------------------------------------------

/// One map as this benchmark sees it: a [`SharedMap`] over `u64`s with the shared hasher, and a
/// constructor.
trait WrapperMap: SharedMap<u64, u64> + Sync + Sized {
    /// Report row, CSV value, child argument and filter target.
    const NAME: &'static str;
    /// Panics on overlapping use: run on one thread only.
    const ONE_THREAD_ONLY: bool = false;
    /// An empty map, with room for `capacity` entries where the type offers that.
    fn build(capacity: usize) -> Self;
}

impl WrapperMap for SafeMap<u64, u64, RwLockBackend, BenchHasher> {
    const NAME: &'static str = "safe/rwlock";
    fn build(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, bench_hasher())
    }
}

impl WrapperMap for SafeMap<u64, u64, MutexBackend, BenchHasher> {
    const NAME: &'static str = "safe/mutex";
    fn build(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, bench_hasher())
    }
}

impl WrapperMap for SafeMap<u64, u64, ActorBackend, BenchHasher> {
    const NAME: &'static str = "safe/actor";
    fn build(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, bench_hasher())
    }
}

impl WrapperMap for ShardedMap<u64, u64, BenchHasher> {
    const NAME: &'static str = "sharded/16";
    fn build(_capacity: usize) -> Self {
        Self::with_shards_and_hasher(16, bench_hasher())
    }
}

impl WrapperMap for SyncMap<u64, u64, BenchHasher> {
    const NAME: &'static str = "sync";
    fn build(_capacity: usize) -> Self {
        Self::with_hasher(bench_hasher())
    }
}

impl WrapperMap for CowMap<u64, u64, BenchHasher> {
    const NAME: &'static str = "cow";
    fn build(_capacity: usize) -> Self {
        Self::with_hasher(bench_hasher())
    }
}

impl WrapperMap for FailFastMap<u64, u64, BenchHasher> {
    const NAME: &'static str = "failfast";
    const ONE_THREAD_ONLY: bool = true;
    fn build(_capacity: usize) -> Self {
        Self::with_hasher(bench_hasher())
    }
}

impl WrapperMap for hmap::ConcurrentHashMap<u64, u64, BenchHasher> {
    const NAME: &'static str = "concurrent";
    fn build(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, bench_hasher())
    }
}

/// One implementation: its name and the monomorphized cell its child process runs.
struct MapEntry {
    name: &'static str,
    one_thread_only: bool,
    cell: fn(&Workload, &[u64]) -> Result<CellResult, String>,
}

/// Builds a [`MapEntry`] for `M`.
const fn entry<M: WrapperMap>() -> MapEntry {
    MapEntry {
        name: M::NAME,
        one_thread_only: M::ONE_THREAD_ONLY,
        cell: run_cell::<M>,
    }
}

/// The implementations, in report order.
const MAPS: [MapEntry; 8] = [
    entry::<SafeMap<u64, u64, RwLockBackend, BenchHasher>>(),
    entry::<SafeMap<u64, u64, MutexBackend, BenchHasher>>(),
    entry::<SafeMap<u64, u64, ActorBackend, BenchHasher>>(),
    entry::<ShardedMap<u64, u64, BenchHasher>>(),
    entry::<SyncMap<u64, u64, BenchHasher>>(),
    entry::<CowMap<u64, u64, BenchHasher>>(),
    entry::<FailFastMap<u64, u64, BenchHasher>>(),
    entry::<hmap::ConcurrentHashMap<u64, u64, BenchHasher>>(),
];

/// The article's baseline: one RWMutex around one map.
const BASELINE: &str = "safe/rwlock";
/// The article's sharded map.
const SHARDED: &str = "sharded/16";
/// The article's claims: QPS ratio of 16 shards to one RWMutex, and p99 before and after (ms).
const ARTICLE_QPS_RATIO: f64 = 4.0;
const ARTICLE_P99_RWMUTEX_MS: f64 = 47.6;
const ARTICLE_P99_SHARDED_MS: f64 = 11.3;

/// The child side of one cell: build the map, run the workload, check it.
fn run_cell<M: WrapperMap>(workload: &Workload, hot_keys: &[u64]) -> Result<CellResult, String> {
    if M::ONE_THREAD_ONLY && workload.threads != 1 {
        return Err(format!(
            "{} panics on overlapping use; run it with one thread",
            M::NAME
        ));
    }
    let map = M::build(hot_keys.len());
    let result = read_mostly::run(&map, hot_keys, workload);
    // Dropped before the result line is printed, so a panicking drop fails the cell too.
    drop(map);
    result
}

// ---------------------------------------------------------------------------------------------
// Child protocol
// ---------------------------------------------------------------------------------------------

/// First argument of a cell child: `__cell <map> <threads> <ops_per_thread> <keys> <write_pct>`.
const CELL_COMMAND: &str = "__cell";

/// Runs one cell and prints its result line; a failed check is a failed exit.
fn child(args: &[String]) -> ExitCode {
    child::exit_on_panic();
    let parsed = match args {
        [map, threads, ops, keys, write_pct] => (|| {
            Some((
                MAPS.iter().find(|m| m.name == map)?,
                Workload {
                    threads: keys::parse_count(threads).ok()?,
                    ops_per_thread: keys::parse_count(ops).ok()?,
                    write_pct: write_pct.parse().ok().filter(|&p| p <= 100)?,
                },
                keys::parse_count(keys)
                    .ok()
                    .filter(|&k| k <= read_mostly::MAX_KEYS)?,
            ))
        })(),
        _ => None,
    };
    let Some((entry, workload, key_count)) = parsed else {
        eprintln!(
            "wrappers: usage: {CELL_COMMAND} <map> <threads> <ops_per_thread> <keys> <write_pct>; got `{}`",
            args.join(" ")
        );
        return ExitCode::from(2);
    };
    let result = (entry.cell)(&workload, &hit_keys(key_count)).map(|r| r.to_line());
    child_exit(result, "wrappers", CELL_COMMAND, args)
}

// ---------------------------------------------------------------------------------------------
// Plan
// ---------------------------------------------------------------------------------------------

const DEFAULT_THREADS: usize = 64;
const DEFAULT_KEYS: usize = 1_000;
const DEFAULT_OPS: usize = 50_000;
const DEFAULT_WRITE_PCT: u32 = 5;
const DEFAULT_REPEAT: usize = 3;
/// The variable that sets the per-child timeout (seconds).
const TIMEOUT_VAR: &str = "HMAP_WRAP_TIMEOUT_S";
const DEFAULT_TIMEOUT_S: usize = 300;
const QUICK_OPS: usize = 1_000;
const SMOKE_THREADS: [usize; 2] = [1, 4];
const SMOKE_KEYS: usize = 64;
const SMOKE_OPS: usize = 500;

/// How this invocation runs, from its arguments and the environment.
struct Plan {
    label: &'static str,
    threads: Vec<usize>,
    keys: usize,
    ops_per_thread: usize,
    write_pct: u32,
    repeat: usize,
    maps: Vec<&'static MapEntry>,
    timeout: Duration,
    write_csv: bool,
    /// The command that reproduces this run (for the CSV).
    command: String,
}

impl Plan {
    /// `None` when there is nothing to run (`--list`, `--help`).
    fn from_args(args: &[String]) -> Result<Option<Plan>, String> {
        let Some(cli) = HarnessArgs::parse(args, &[], || {
            format!(
                "wrappers [--quick] [MAP_FILTER...]; env HMAP_WRAP_THREADS ({DEFAULT_THREADS}; \
                 comma list), HMAP_WRAP_KEYS ({DEFAULT_KEYS}), HMAP_WRAP_OPS (per thread, \
                 {DEFAULT_OPS}), HMAP_WRAP_WRITE_PCT ({DEFAULT_WRITE_PCT}), HMAP_WRAP_REPEAT \
                 ({DEFAULT_REPEAT}), HMAP_WRAP_TIMEOUT_S ({DEFAULT_TIMEOUT_S}); maps: {}",
                MAPS.map(|m| m.name).join(", ")
            )
        }) else {
            return Ok(None);
        };
        let (smoke, quick) = (cli.smoke, cli.quick);
        let (label, threads, keys, ops, repeat) = if smoke {
            (
                "smoke test (cargo test --benches)",
                SMOKE_THREADS.to_vec(),
                SMOKE_KEYS,
                SMOKE_OPS,
                1,
            )
        } else if quick {
            ("quick", vec![DEFAULT_THREADS], DEFAULT_KEYS, QUICK_OPS, 1)
        } else {
            (
                "full",
                vec![DEFAULT_THREADS],
                DEFAULT_KEYS,
                DEFAULT_OPS,
                DEFAULT_REPEAT,
            )
        };
        let threads = env_counts("HMAP_WRAP_THREADS")?.unwrap_or(threads);
        let keys = env_count("HMAP_WRAP_KEYS")?.unwrap_or(keys);
        if keys > read_mostly::MAX_KEYS {
            return Err(format!(
                "HMAP_WRAP_KEYS={keys}: at most {} keys",
                read_mostly::MAX_KEYS
            ));
        }
        let write_pct = match env_text("HMAP_WRAP_WRITE_PCT") {
            Some(text) => text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| {
                    format!("HMAP_WRAP_WRITE_PCT={text}: expected an integer in 0..=100")
                })?,
            None => DEFAULT_WRITE_PCT,
        };
        let maps = MAPS.iter().filter(|m| cli.selects(m.name)).collect();
        Ok(Some(Plan {
            label,
            threads,
            keys,
            ops_per_thread: env_count("HMAP_WRAP_OPS")?.unwrap_or(ops),
            write_pct,
            repeat: env_count("HMAP_WRAP_REPEAT")?.unwrap_or(repeat),
            maps,
            timeout: Duration::from_secs(
                env_count(TIMEOUT_VAR)?.unwrap_or(DEFAULT_TIMEOUT_S) as u64
            ),
            write_csv: !smoke,
            command: reproducing_command(args),
        }))
    }

    /// The workload a cell of the `threads` table runs for `entry`: one-thread-only maps do the
    /// same total number of operations on one thread.
    fn workload(&self, entry: &MapEntry, threads: usize) -> Workload {
        let (threads, ops_per_thread) = if entry.one_thread_only {
            (1, threads * self.ops_per_thread)
        } else {
            (threads, self.ops_per_thread)
        };
        Workload {
            threads,
            ops_per_thread,
            write_pct: self.write_pct,
        }
    }
}

/// `HMAP_WRAP_*=… cargo bench --bench wrappers -- <args>`, from the environment and `args`.
fn reproducing_command(args: &[String]) -> String {
    let mut vars: Vec<String> = std::env::vars()
        .filter(|(name, value)| name.starts_with("HMAP_WRAP_") && !value.trim().is_empty())
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    vars.sort();
    let rest: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--bench")
        .collect();
    let mut command = vars.join(" ");
    if !command.is_empty() {
        command.push(' ');
    }
    command += "cargo bench --bench wrappers";
    if !rest.is_empty() {
        command += " -- ";
        command += &rest.join(" ");
    }
    command
}

// ---------------------------------------------------------------------------------------------
// Output files (the machine description and the CSV writer are `common/output.rs`)
// ---------------------------------------------------------------------------------------------

/// `text` as one CSV field: quoted, inner quotes doubled.
fn csv_quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

// ---------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------

/// One repetition of one cell, as the parent records it.
struct CellRun {
    /// The thread count of the table it belongs to (`failfast` runs on one thread regardless).
    table_threads: usize,
    map: &'static str,
    workload: Workload,
    repetition: usize,
    result: CellResult,
}

/// One cell's median-QPS repetition (`None` if any repetition failed).
struct MedianCell {
    table_threads: usize,
    map: &'static str,
    result: Option<CellResult>,
}

/// The repetition with the median QPS (the lower middle one for an even count).
fn median_run(mut results: Vec<CellResult>) -> Option<CellResult> {
    results.sort_by(|a, b| a.qps().total_cmp(&b.qps()));
    let middle = results.len().checked_sub(1)? / 2;
    results.into_iter().nth(middle)
}

/// `n` with `,` between groups of three digits: `3,200,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Operations per second with a unit: `12.3M`, `456.7K`.
fn format_qps(qps: f64) -> String {
    if qps >= 1e6 {
        format!("{:.2}M", qps / 1e6)
    } else if qps >= 1e3 {
        format!("{:.1}K", qps / 1e3)
    } else {
        format!("{qps:.0}")
    }
}

/// Runs every (threads, map) cell `plan.repeat` times; prints one table per thread count.
/// Failed cells are reported on stderr, shown as `FAIL` and returned.
fn run_all(plan: &Plan, machine: &Machine, timer_overhead_ns: u64) -> Vec<String> {
    let mut failures = Vec::new();
    let mut runs: Vec<CellRun> = Vec::new();
    for &threads in &plan.threads {
        let mut cells: Vec<MedianCell> = Vec::new();
        for &entry in &plan.maps {
            let workload = plan.workload(entry, threads);
            let args = vec![
                CELL_COMMAND.to_owned(),
                entry.name.to_owned(),
                workload.threads.to_string(),
                workload.ops_per_thread.to_string(),
                plan.keys.to_string(),
                workload.write_pct.to_string(),
            ];
            let mut results = Vec::new();
            let mut failed = false;
            for repetition in 1..=plan.repeat {
                let result =
                    child::run(&args, plan.timeout, Some(TIMEOUT_VAR)).and_then(|stdout| {
                        stdout
                            .lines()
                            .find_map(CellResult::parse_line)
                            .ok_or_else(|| format!("child `{}` printed no result", args.join(" ")))
                    });
                match result {
                    Ok(result) => {
                        eprintln!(
                            "  {} {} thread(s) {repetition}/{}: {} QPS, p99 {}",
                            entry.name,
                            workload.threads,
                            plan.repeat,
                            format_qps(result.qps()),
                            format_ns(result.all.p99_ns as f64)
                        );
                        results.push(result.clone());
                        runs.push(CellRun {
                            table_threads: threads,
                            map: entry.name,
                            workload,
                            repetition,
                            result,
                        });
                    }
                    Err(message) => {
                        eprintln!("wrappers: {message}");
                        failures.push(format!("{} {threads} threads: {message}", entry.name));
                        failed = true;
                        break;
                    }
                }
            }
            cells.push(MedianCell {
                table_threads: threads,
                map: entry.name,
                result: if failed { None } else { median_run(results) },
            });
        }
        print!("\n{}", table(plan, threads, &cells));
    }
    println!(
        "\nQPS = all threads' operations / wall time from the first thread leaving the start barrier \
         to the last one finishing; median-QPS repetition\n(all columns from that repetition). \
         ÷ {BASELINE} = QPS / {BASELINE}'s at the same thread count. Latencies: single operations \
         (loads and stores together),\neach timed with one Instant pair (median cost {timer_overhead_ns} ns, \
         included), from log-linear histograms (~3% resolution; mean and max exact); a thread \
         descheduled mid-operation\ncounts that time too (rare preemptions of hundreds of ms are why \
         the mean can exceed p99.9)."
    );
    if plan.write_csv {
        let mut csv = format!(
            "map,table_threads,threads,keys,ops_per_thread,write_pct,repetition,ops,elapsed_ns,qps,\
             mean_ns,p50_ns,p99_ns,p999_ns,max_ns,load_count,load_mean_ns,load_p50_ns,load_p99_ns,\
             load_p999_ns,load_max_ns,store_count,store_mean_ns,store_p50_ns,store_p99_ns,store_p999_ns,\
             store_max_ns,len,timer_overhead_ns,{},command\n",
            Machine::CSV_COLUMNS
        );
        for run in &runs {
            let r = &run.result;
            let _ = write!(
                csv,
                "{},{},{},{},{},{},{},{},{},{:.0}",
                run.map,
                run.table_threads,
                run.workload.threads,
                plan.keys,
                run.workload.ops_per_thread,
                run.workload.write_pct,
                run.repetition,
                r.ops,
                r.elapsed_ns,
                r.qps()
            );
            let latency = |l: &Latency| {
                format!(
                    "{:.1},{},{},{},{}",
                    l.mean_ns, l.p50_ns, l.p99_ns, l.p999_ns, l.max_ns
                )
            };
            let _ = writeln!(
                csv,
                ",{},{},{},{},{},{},{timer_overhead_ns},{},{}",
                latency(&r.all),
                r.loads.count,
                latency(&r.loads),
                r.stores.count,
                latency(&r.stores),
                r.len,
                machine.csv_cells(),
                csv_quoted(&plan.command)
            );
        }
        if let Err(message) = write_csv("wrappers.csv", &csv) {
            failures.push(message);
        }
    }
    failures
}

/// The table of one thread count: a row per map, then the article's claim next to ours.
fn table(plan: &Plan, threads: usize, cells: &[MedianCell]) -> String {
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let mut out = format!(
        "{threads} thread(s) on {cores} logical CPU(s): {} hot keys, {}% load / {}% store (uniform), \
         {} ops per thread ({} in all); median-QPS repetition of {}\n",
        thousands(plan.keys),
        100 - plan.write_pct,
        plan.write_pct,
        thousands(plan.ops_per_thread),
        thousands(threads * plan.ops_per_thread),
        plan.repeat
    );
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>13} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "map",
        "QPS",
        format!("÷ {BASELINE}"),
        "mean",
        "p50",
        "p99",
        "p99.9",
        "max"
    );
    let find = |name: &str| {
        cells
            .iter()
            .find(|c| c.table_threads == threads && c.map == name)
            .and_then(|c| c.result.as_ref())
    };
    let baseline = find(BASELINE).map(CellResult::qps);
    let mut one_thread_rows = Vec::new();
    for cell in cells.iter().filter(|c| c.table_threads == threads) {
        let one_thread = plan
            .maps
            .iter()
            .any(|m| m.name == cell.map && m.one_thread_only)
            && threads != 1;
        let name = if one_thread {
            one_thread_rows.push(cell.map);
            format!("{} (1 thr)", cell.map)
        } else {
            cell.map.to_owned()
        };
        match &cell.result {
            Some(r) => {
                let ratio =
                    baseline.map_or_else(|| "-".to_owned(), |b| format!("{:.2}", r.qps() / b));
                let _ = writeln!(
                    out,
                    "{:<16} {:>9} {:>13} {:>9} {:>9} {:>9} {:>9} {:>9}",
                    name,
                    format_qps(r.qps()),
                    ratio,
                    format_ns(r.all.mean_ns),
                    format_ns(r.all.p50_ns as f64),
                    format_ns(r.all.p99_ns as f64),
                    format_ns(r.all.p999_ns as f64),
                    format_ns(r.all.max_ns as f64)
                );
            }
            None => {
                let _ = writeln!(out, "{name:<16} {:>9}", "FAIL");
            }
        }
    }
    for name in one_thread_rows {
        let _ = writeln!(
            out,
            "{name} panics on overlapping use, so it ran on ONE thread with the same {} operations \
             (not comparable as a concurrent result)",
            thousands(threads * plan.ops_per_thread)
        );
    }
    let _ = writeln!(
        out,
        "article (Go): 16 shards ≈ {ARTICLE_QPS_RATIO:.0}× the QPS of one RWMutex; p99 \
         {ARTICLE_P99_RWMUTEX_MS} ms → {ARTICLE_P99_SHARDED_MS} ms ({:.1}× lower)",
        ARTICLE_P99_RWMUTEX_MS / ARTICLE_P99_SHARDED_MS
    );
    match (find(BASELINE), find(SHARDED)) {
        (Some(base), Some(sharded)) => {
            let (base_p99, sharded_p99) = (base.all.p99_ns as f64, sharded.all.p99_ns as f64);
            let p99_change = if sharded_p99 <= base_p99 {
                format!("{:.1}× lower", base_p99 / sharded_p99.max(1.0))
            } else {
                format!("{:.1}× higher", sharded_p99 / base_p99.max(1.0))
            };
            let _ = writeln!(
                out,
                "measured here: {SHARDED} ≈ {:.2}× the QPS of {BASELINE}; p99 {} → {} ({p99_change})",
                sharded.qps() / base.qps(),
                format_ns(base_p99),
                format_ns(sharded_p99)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "measured here: needs both {BASELINE} and {SHARDED} (filtered out or failed)"
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(CELL_COMMAND) {
        return child(&args[1..]);
    }
    let plan = match Plan::from_args(&args) {
        Ok(Some(plan)) => plan,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wrappers: {message}");
            return ExitCode::from(2);
        }
    };
    if plan.maps.is_empty() {
        println!("wrappers: no map matches the filter; nothing to run");
        return ExitCode::SUCCESS;
    }
    if plan.threads.is_empty() || plan.keys == 0 || plan.repeat == 0 {
        eprintln!("wrappers: threads, keys and repetitions must be at least 1");
        return ExitCode::from(2);
    }
    let machine = Machine::print_header("wrappers", plan.label, plan.maps.iter().map(|m| m.name));
    let timer_overhead_ns = measure::timer_overhead_ns();
    println!("timer overhead (empty Instant pair, median): {timer_overhead_ns} ns");
    let started = Instant::now();
    let failures = run_all(&plan, &machine, timer_overhead_ns);
    println!("wall time: {:.1} s", started.elapsed().as_secs_f64());
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("\nwrappers: {} failure(s):", failures.len());
        for failure in &failures {
            eprintln!("  {failure}");
        }
        ExitCode::FAILURE
    }
}
