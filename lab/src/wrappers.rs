//! The wrappers compared on the seed article's read-mostly workload: many more threads than
//! cores, 95% `load` / 5% `store` on a hot key set, every operation timed. The method is
//! `benches/common/read_mostly.rs` (shared with `benches/wrappers.rs`, included by path); each
//! map runs in a fresh child process. `failfast` panics on overlapping use, so it runs on one
//! thread with the same total number of operations. The article claims 16 shards give about 4×
//! the QPS of one `sync.RWMutex` and cut p99 from 47.6 ms to 11.3 ms; the table prints our
//! ratio beside it.
//!
//! A signal (`interrupt.rs`) ends the run after the repetition it interrupted, whose child is
//! killed and not counted; as in `throughput`, the maps measured before are saved with
//! `interrupted: true` (a map stopped between its repetitions keeps the ones it finished), the
//! table shows the maps not run as `-`, and the exit status is 130 (1 if a map failed).

use std::time::Instant;

use clap::Args;
use serde::{Deserialize, Serialize};

use hmap::wrappers::SharedMap;

use crate::measure::format_ns;
use crate::plot::{self, BarPanel};
use crate::read_mostly::{self, CellResult, Latency, Workload};
use crate::report::{Csv, Meta, Output};
use crate::shared::{parse_shared_maps, SharedKind, SharedMaps, Visit};
use crate::{args, child, interrupt, keys, LabError};

/// The article's baseline (one RWMutex around one map) and its sharded map.
const BASELINE: &str = "safe/rwlock";
const SHARDED: &str = "sharded/16";
/// The article's claims: QPS ratio of 16 shards to one RWMutex, and p99 before and after (ms).
const ARTICLE_QPS_RATIO: f64 = 4.0;
const ARTICLE_P99_MS: (f64, f64) = (47.6, 11.3);

#[derive(Debug, Args)]
pub(crate) struct WrappersArgs {
    /// Maps, comma-separated: failfast, safe/rwlock, safe/mutex, safe/actor, sharded/16, sync,
    /// cow, concurrent, audited; or all.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = parse_shared_maps)]
    pub(crate) maps: SharedMaps,
    /// Threads sharing the map, at most 4096 (failfast runs on one, with the same total
    /// operations).
    #[arg(long, value_name = "N", default_value = "64", value_parser = args::threads)]
    pub(crate) threads: usize,
    /// Operations per thread.
    #[arg(long, value_name = "N", default_value = "20K", value_parser = args::count)]
    pub(crate) ops: usize,
    /// Hot keys, prefilled; every operation picks one uniformly. At most 2^30.
    #[arg(long, value_name = "K", default_value = "1000", value_parser = args::keys)]
    pub(crate) keys: usize,
    /// Share of stores, in percent (the rest are loads).
    #[arg(long, value_name = "PCT", default_value = "5", value_parser = args::percent)]
    pub(crate) write_pct: u32,
    /// Repetitions per map, each in a fresh process; the table shows the one at the median QPS
    /// (for an even count, the faster of the two middle ones).
    #[arg(long, value_name = "R", default_value = "1", value_parser = args::count)]
    pub(crate) repeat: usize,
}

/// What one wrappers comparison runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct WrappersPlan {
    pub(crate) maps: Vec<String>,
    pub(crate) threads: usize,
    pub(crate) ops_per_thread: usize,
    pub(crate) keys: usize,
    pub(crate) write_pct: u32,
    pub(crate) repeat: usize,
}

impl WrappersArgs {
    pub(crate) fn plan(&self) -> Result<WrappersPlan, LabError> {
        if self.keys > read_mostly::MAX_KEYS {
            return Err(LabError::Usage(format!(
                "--keys {}: at most {} hot keys",
                self.keys,
                read_mostly::MAX_KEYS
            )));
        }
        Ok(WrappersPlan {
            maps: self.maps.0.iter().map(|m| m.name().to_owned()).collect(),
            threads: self.threads,
            ops_per_thread: self.ops,
            keys: self.keys,
            write_pct: self.write_pct,
            repeat: self.repeat,
        })
    }
}

/// One map's chosen repetition (median QPS; the faster middle one for an even count), in a
/// serde-friendly shape.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct WrapperRow {
    pub(crate) map: String,
    pub(crate) type_name: String,
    pub(crate) threads: u64,
    pub(crate) ops: u64,
    pub(crate) elapsed_ns: u64,
    pub(crate) qps: f64,
    pub(crate) mean_ns: f64,
    pub(crate) p50_ns: u64,
    pub(crate) p99_ns: u64,
    pub(crate) p999_ns: u64,
    pub(crate) max_ns: u64,
    pub(crate) load_p99_ns: u64,
    pub(crate) store_p99_ns: u64,
    /// QPS of every repetition.
    pub(crate) qps_runs: Vec<f64>,
}

/// The saved result (`wrappers.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct WrappersResult {
    pub(crate) meta: Meta,
    pub(crate) plan: WrappersPlan,
    pub(crate) timer_overhead_ns: u64,
    pub(crate) rows: Vec<WrapperRow>,
    pub(crate) failures: Vec<String>,
    /// A signal stopped the run (`interrupt.rs`): the maps and repetitions after the last one
    /// measured did not run (absent, false, in files from before it existed).
    #[serde(default)]
    pub(crate) interrupted: bool,
}

/// `wrappers`: measure, save, render.
pub(crate) fn run(args: &WrappersArgs, out: &Output) -> Result<(), LabError> {
    let result = measure_plan(&args.plan()?, out)?;
    render(&result, out)?;
    save(&result, out)?;
    interrupt::conclude(
        "wrappers",
        interruption(&result),
        (!result.failures.is_empty()).then(|| result.failures.join("; ")),
        SAVED,
    )
}

/// The end of the message of an interrupted run: where its results are.
pub(crate) const SAVED: &str = "see wrappers.json";

/// When a signal stopped `result`, and how much of its plan was measured by then, for
/// `interrupt::conclude`; `None` if it ran to the end.
pub(crate) fn interruption(result: &WrappersResult) -> Option<(f64, String)> {
    result.interrupted.then(|| {
        let measured: usize = result.rows.iter().map(|r| r.qps_runs.len()).sum();
        let planned = result.plan.maps.len() * result.plan.repeat;
        (
            result.meta.elapsed_s,
            format!("{measured} of {planned} map repetition(s)"),
        )
    })
}

pub(crate) fn measure_plan(plan: &WrappersPlan, out: &Output) -> Result<WrappersResult, LabError> {
    let kinds = SharedKind::parse_all(&plan.maps)?;
    let bar = out.ui.bar((kinds.len() * plan.repeat) as u64, "wrappers");
    let timer_overhead_ns = crate::measure::timer_overhead_ns();
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    // A signal ends the run after the repetition it interrupted (whose child is killed and not
    // recorded); what was measured before is kept, including the finished repetitions of the
    // map it stopped.
    for kind in kinds {
        let (threads, ops) = if kind.one_thread_only() {
            (1, plan.ops_per_thread * plan.threads)
        } else {
            (plan.threads, plan.ops_per_thread)
        };
        let mut runs: Vec<CellResult> = Vec::new();
        for repetition in 1..=plan.repeat {
            if interrupt::requested() {
                break;
            }
            bar.set_message(format!(
                "{} ({threads} threads), repetition {repetition}",
                kind.name()
            ));
            let args = vec![
                CHILD.to_owned(),
                kind.name().to_owned(),
                threads.to_string(),
                ops.to_string(),
                plan.keys.to_string(),
                plan.write_pct.to_string(),
            ];
            let result = interrupt::run_child(&args, crate::CHILD_TIMEOUT).and_then(|stdout| {
                stdout
                    .lines()
                    .find_map(CellResult::parse_line)
                    .ok_or_else(|| format!("child `{}` printed no result", args.join(" ")))
            });
            bar.inc(1);
            match result {
                Ok(cell) => runs.push(cell),
                Err(_) if interrupt::requested() => break,
                Err(message) => {
                    out.ui
                        .note(&bar, &format!("  {}: FAILED: {message}", kind.name()));
                    failures.push(format!("{}: {message}", kind.name()));
                    // A map that failed gets no row (and cannot be the baseline) from the
                    // repetitions before the failure (until session 30 it did; a review).
                    runs.clear();
                    break;
                }
            }
        }
        let qps_runs: Vec<f64> = runs.iter().map(CellResult::qps).collect();
        runs.sort_by(|a, b| a.qps().total_cmp(&b.qps()));
        if let Some(chosen) = runs.get(runs.len() / 2) {
            rows.push(row(kind, chosen, qps_runs));
        }
        if interrupt::requested() {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(WrappersResult {
        meta: out.meta("wrappers", started.elapsed().as_secs_f64()),
        plan: plan.clone(),
        timer_overhead_ns,
        rows,
        failures,
        interrupted: interrupt::requested(),
    })
}

fn row(kind: SharedKind, cell: &CellResult, qps_runs: Vec<f64>) -> WrapperRow {
    let Latency {
        mean_ns,
        p50_ns,
        p99_ns,
        p999_ns,
        max_ns,
        ..
    } = cell.all;
    WrapperRow {
        map: kind.name().to_owned(),
        type_name: kind.type_name().to_owned(),
        threads: cell.threads,
        ops: cell.ops,
        elapsed_ns: cell.elapsed_ns,
        qps: cell.qps(),
        mean_ns,
        p50_ns,
        p99_ns,
        p999_ns,
        max_ns,
        load_p99_ns: cell.loads.p99_ns,
        store_p99_ns: cell.stores.p99_ns,
        qps_runs,
    }
}

/// Writes `wrappers.json` and `wrappers.csv`.
pub(crate) fn save(result: &WrappersResult, out: &Output) -> Result<(), LabError> {
    out.write_json("wrappers.json", result)?;
    let mut csv = Csv::new(
        &[
            "map",
            "type",
            "threads",
            "ops",
            "keys",
            "write_pct",
            "elapsed_ns",
            "qps",
            "mean_ns",
            "p50_ns",
            "p99_ns",
            "p999_ns",
            "max_ns",
            "load_p99_ns",
            "store_p99_ns",
        ],
        &result.meta,
    );
    for r in &result.rows {
        csv.row(vec![
            r.map.clone(),
            r.type_name.clone(),
            r.threads.to_string(),
            r.ops.to_string(),
            result.plan.keys.to_string(),
            result.plan.write_pct.to_string(),
            r.elapsed_ns.to_string(),
            format!("{:.0}", r.qps),
            format!("{:.1}", r.mean_ns),
            r.p50_ns.to_string(),
            r.p99_ns.to_string(),
            r.p999_ns.to_string(),
            r.max_ns.to_string(),
            r.load_p99_ns.to_string(),
            r.store_p99_ns.to_string(),
        ]);
    }
    out.write_text("wrappers.csv", &csv.into_text())?;
    Ok(())
}

/// Prints the table and draws `wrappers.svg`.
pub(crate) fn render(result: &WrappersResult, out: &Output) -> Result<(), LabError> {
    let p = &result.plan;
    let mut text = format!(
        "wrappers: the article's read-mostly workload: {} threads x {} ops, {}% store / {}% load, {} hot keys \
         (failfast: 1 thread, same total); every operation timed\n",
        p.threads,
        p.ops_per_thread,
        p.write_pct,
        100 - p.write_pct,
        p.keys
    );
    text += &format!("machine: {}\n", result.meta.describe());
    if result.interrupted {
        text += "INTERRUPTED by a signal: maps shown as - did not run\n";
    }
    let baseline = result
        .rows
        .iter()
        .find(|r| r.map == BASELINE)
        .map(|r| r.qps);
    text += &format!(
        "{:<12} {:<28} {:>8} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "map", "type", "threads", "QPS", "÷ rwlock", "mean", "p50", "p99", "p99.9", "max"
    );
    for r in &result.rows {
        text += &format!(
            "{:<12} {:<28} {:>8} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            r.map,
            r.type_name,
            r.threads,
            format!("{:.2}M", r.qps / 1e6),
            baseline.map_or("-".to_owned(), |b| format!("{:.2}", r.qps / b)),
            format_ns(r.mean_ns),
            format_ns(r.p50_ns as f64),
            format_ns(r.p99_ns as f64),
            format_ns(r.p999_ns as f64),
            format_ns(r.max_ns as f64)
        );
    }
    if result.interrupted {
        // The run stops at the signal, so the maps not run are the plan's last ones; a map
        // that failed is named in the failures instead.
        let not_run = p.maps.iter().filter(|map| {
            !result.rows.iter().any(|r| &r.map == *map)
                && !result
                    .failures
                    .iter()
                    .any(|f| f.starts_with(&format!("{map}: ")))
        });
        for map in not_run {
            let type_name = SharedKind::parse(map).map_or("-", SharedKind::type_name);
            text += &format!(
                "{map:<12} {type_name:<28} {:>8} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                "-", "-", "-", "-", "-", "-", "-", "-"
            );
        }
    }
    let find = |name: &str| result.rows.iter().find(|r| r.map == name);
    if let (Some(rw), Some(sh)) = (find(BASELINE), find(SHARDED)) {
        text += &format!(
            "article (Go, 4 cores, 100 goroutines): 16 shards = {:.1}x the QPS of one RWMutex, p99 {} ms -> {} ms; \
             here: {:.2}x, p99 {} -> {}\n",
            ARTICLE_QPS_RATIO,
            ARTICLE_P99_MS.0,
            ARTICLE_P99_MS.1,
            sh.qps / rw.qps,
            format_ns(rw.p99_ns as f64),
            format_ns(sh.p99_ns as f64)
        );
    }
    text += &format!(
        "QPS = all operations / wall time from the first thread leaving the start barrier to the last one finishing; \
         latencies from ~3% histograms (mean and max exact), each including a clock-read pair (~{} ns) and any time \
         the thread was descheduled mid-operation.",
        result.timer_overhead_ns
    );
    out.ui.out(&text);
    if !result.rows.is_empty() {
        let path = out.path("wrappers.svg");
        let bars = |f: &dyn Fn(&WrapperRow) -> f64| {
            result.rows.iter().map(|r| (r.map.clone(), f(r))).collect()
        };
        plot::bars(
            &path,
            &format!(
                "Read-mostly workload ({}% stores, {} threads, {} hot keys)",
                p.write_pct, p.threads, p.keys
            ),
            &[
                BarPanel {
                    title: "throughput (operations per second, higher is better)".to_owned(),
                    y_desc: "QPS".to_owned(),
                    log_y: false,
                    bars: bars(&|r| r.qps),
                },
                BarPanel {
                    title: "p99 latency of one operation (log scale, lower is better)".to_owned(),
                    y_desc: "p99".to_owned(),
                    log_y: true,
                    bars: bars(&|r| r.p99_ns as f64),
                },
            ],
        )
        .map_err(|e| LabError::Failed(format!("cannot draw {}: {e}", path.display())))?;
        out.ui.wrote(&path);
    } else {
        out.remove_stale("wrappers.svg")?;
    }
    Ok(())
}

/// First argument of a cell child: `__wcell <map> <threads> <ops_per_thread> <keys> <write_pct>`.
pub(crate) const CHILD: &str = "__wcell";

/// The hidden child command: one read-mostly run, its report line on stdout.
pub(crate) fn child(
    map: &str,
    threads: usize,
    ops: usize,
    key_count: usize,
    write_pct: u32,
) -> Result<(), LabError> {
    child::exit_on_panic();
    let kind =
        SharedKind::parse(map).ok_or_else(|| LabError::Usage(format!("unknown map '{map}'")))?;
    if threads == 0
        || ops == 0
        || key_count == 0
        || key_count > read_mostly::MAX_KEYS
        || write_pct > 100
    {
        return Err(LabError::Usage("bad cell arguments".to_owned()));
    }
    if kind.one_thread_only() && threads != 1 {
        return Err(LabError::Usage(format!(
            "{map} panics on overlapping use; run it with one thread"
        )));
    }
    let workload = Workload {
        threads,
        ops_per_thread: ops,
        write_pct,
    };
    let hot_keys = keys::hit_keys(key_count);
    let result = kind
        .dispatch(
            key_count,
            Cell {
                workload,
                hot_keys: &hot_keys,
            },
        )
        .map_err(LabError::Failed)?;
    println!("{}", result.to_line());
    Ok(())
}

/// One cell, generic over the map through [`Visit`].
struct Cell<'a> {
    workload: Workload,
    hot_keys: &'a [u64],
}

impl Visit for Cell<'_> {
    type Value = u64;
    type Output = Result<CellResult, String>;
    fn visit<M: SharedMap<u64, u64> + Sync>(self, map: M) -> Self::Output {
        let result = read_mostly::run(&map, self.hot_keys, &self.workload);
        // Dropped before the result line is printed, so a panicking drop fails the cell too.
        drop(map);
        result
    }
}
