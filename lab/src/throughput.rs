//! The throughput experiment: the conc-map-bench mixes (ReadHeavy 98/1/1/0, Exchange
//! 10/40/40/10, RapidGrow 5/80/5/10 pre-sized, and RapidGrow from an empty map, which really
//! grows) at each thread count, for each concurrent map, every cell in a fresh child process
//! (the hidden `__cell` command below; the workload is `benches/common/mixes.rs`, shared with
//! `benches/concurrent.rs` and included by path as `mixes`). Reports the best of the repetitions in Mop/s, each map's ratio to the best of
//! papaya, scc and dashmap, a table per mix, `throughput.csv`/`.json`, and `throughput.svg`
//! (Mop/s against threads, a panel per mix).

use std::fmt::Write as _;
use std::time::Instant;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::conc::{ConcKind, ConcVisit};
use crate::conc_maps::ConcMap;
use crate::mixes::{self, Cell, CellRecord, MIXES};
use crate::plot::{self, Line, LinePanel};
use crate::report::{Csv, Meta, Output};
use crate::{args, child, interrupt, LabError};

/// `--maps` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConcMaps(pub(crate) Vec<ConcKind>);

fn parse_maps(text: &str) -> Result<ConcMaps, String> {
    args::name_list(text, &ConcKind::accepted()).map(ConcMaps)
}

/// `--mixes` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MixList(pub(crate) Vec<&'static str>);

fn parse_mixes(text: &str) -> Result<MixList, String> {
    let accepted: Vec<(&'static str, &'static str)> =
        MIXES.iter().map(|m| (m.name, m.name)).collect();
    args::name_list(text, &accepted).map(MixList)
}

/// `--threads` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Threads(pub(crate) Vec<usize>);

fn parse_threads(text: &str) -> Result<Threads, String> {
    args::thread_list(text).map(Threads)
}

#[derive(Debug, Args)]
pub(crate) struct ThroughputArgs {
    /// Mixes, comma-separated: read_heavy, exchange, rapid_grow, rapid_grow_empty; or all.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = parse_mixes)]
    pub(crate) mixes: MixList,
    /// Thread counts, comma-separated, each at most 4096 [default: 1 and the number of logical
    /// CPUs].
    #[arg(long, value_name = "LIST", value_parser = parse_threads)]
    pub(crate) threads: Option<Threads>,
    /// Table size and operation count, as log2 (20: 2^20 = 1,048,576), in 7..=30 (each thread
    /// needs at least 100 operations).
    #[arg(long, value_name = "L", default_value_t = 20, value_parser = clap::value_parser!(u32).range(7..=30))]
    pub(crate) log2: u32,
    /// Maps, comma-separated: concurrent (= hmap::ConcurrentHashMap), papaya, scc, dashmap,
    /// rwlock_hashbrown; or all.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = parse_maps)]
    pub(crate) maps: ConcMaps,
    /// Repetitions per cell, each in a fresh process; the best is reported.
    #[arg(long, value_name = "R", default_value = "1", value_parser = args::count)]
    pub(crate) repeat: usize,
}

/// What one throughput experiment runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct ThroughputPlan {
    pub(crate) mixes: Vec<String>,
    pub(crate) threads: Vec<usize>,
    pub(crate) log2: u32,
    pub(crate) maps: Vec<String>,
    pub(crate) repeat: usize,
}

impl ThroughputPlan {
    /// Child processes the plan runs: one per cell (mix, threads, map) and repetition.
    pub(crate) fn cell_runs(&self) -> usize {
        self.mixes.len() * self.threads.len() * self.maps.len() * self.repeat
    }
}

/// One cell repetition.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct CellRow {
    pub(crate) mix: String,
    pub(crate) map: String,
    pub(crate) threads: usize,
    pub(crate) repetition: usize,
    pub(crate) ops: u64,
    pub(crate) elapsed_ns: u64,
    pub(crate) mops: f64,
    pub(crate) len: u64,
    pub(crate) garbage_objects: Option<u64>,
    pub(crate) peak_rss_kb: u64,
}

/// The saved result (`throughput.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct ThroughputResult {
    pub(crate) meta: Meta,
    pub(crate) plan: ThroughputPlan,
    pub(crate) cells: Vec<CellRow>,
    pub(crate) failures: Vec<String>,
    /// A signal stopped the run (`interrupt.rs`): the cells after the last one measured did
    /// not run (absent, false, in files from before it existed).
    #[serde(default)]
    pub(crate) interrupted: bool,
}

/// `throughput`: measure, save, render.
pub(crate) fn run(args: &ThroughputArgs, out: &Output) -> Result<(), LabError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut default_threads = vec![1, cores];
    default_threads.dedup();
    let plan = ThroughputPlan {
        mixes: args.mixes.0.iter().map(|m| (*m).to_owned()).collect(),
        threads: args.threads.clone().map_or(default_threads, |t| t.0),
        log2: args.log2,
        maps: args.maps.0.iter().map(|m| m.name().to_owned()).collect(),
        repeat: args.repeat,
    };
    for &threads in &plan.threads {
        if let Some(problem) = mixes::too_few_operations(threads, plan.log2) {
            return Err(LabError::Usage(format!(
                "--threads {threads} --log2 {}: {problem}",
                plan.log2
            )));
        }
    }
    let result = measure_plan(&plan, out)?;
    render(&result, out)?;
    save(&result, out)?;
    interrupt::conclude(
        "throughput",
        result.interrupted.then(|| {
            let measured = format!(
                "{} of {} cell repetition(s)",
                result.cells.len(),
                plan.cell_runs()
            );
            (result.meta.elapsed_s, measured)
        }),
        (!result.failures.is_empty()).then(|| result.failures.join("; ")),
        "see throughput.json",
    )
}

pub(crate) fn measure_plan(
    plan: &ThroughputPlan,
    out: &Output,
) -> Result<ThroughputResult, LabError> {
    let bar = out.ui.bar(plan.cell_runs() as u64, "throughput");
    let started = Instant::now();
    let mut cells = Vec::new();
    let mut failures = Vec::new();
    // A signal ends the run after the cell it interrupted (whose child is killed and not
    // recorded); what was measured before is kept.
    'cells: for mix in &plan.mixes {
        for &threads in &plan.threads {
            for map in &plan.maps {
                for repetition in 1..=plan.repeat {
                    if interrupt::requested() {
                        break 'cells;
                    }
                    bar.set_message(format!("{mix}, {map}, {threads} thread(s)"));
                    let args = vec![
                        mixes::CELL_COMMAND.to_owned(),
                        mix.clone(),
                        map.clone(),
                        threads.to_string(),
                        plan.log2.to_string(),
                    ];
                    let result =
                        interrupt::run_child(&args, crate::CHILD_TIMEOUT).and_then(|stdout| {
                            stdout
                                .lines()
                                .find_map(CellRecord::parse_line)
                                .ok_or_else(|| {
                                    format!("child `{}` printed no result", args.join(" "))
                                })
                        });
                    bar.inc(1);
                    match result {
                        Ok(r) => cells.push(CellRow {
                            mix: mix.clone(),
                            map: map.clone(),
                            threads,
                            repetition,
                            ops: r.ops,
                            elapsed_ns: r.elapsed_ns,
                            mops: r.mops(),
                            len: r.len,
                            garbage_objects: r.garbage_objects,
                            peak_rss_kb: r.peak_rss_kb,
                        }),
                        Err(_) if interrupt::requested() => break 'cells,
                        Err(message) => {
                            out.ui
                                .note(&bar, &format!("  {mix} {map} {threads}: FAILED: {message}"));
                            failures.push(format!("{mix} {map} {threads} threads: {message}"));
                            break;
                        }
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    Ok(ThroughputResult {
        meta: out.meta("throughput", started.elapsed().as_secs_f64()),
        plan: plan.clone(),
        cells,
        failures,
        interrupted: interrupt::requested(),
    })
}

/// Writes `throughput.json` and `throughput.csv`.
pub(crate) fn save(result: &ThroughputResult, out: &Output) -> Result<(), LabError> {
    out.write_json("throughput.json", result)?;
    let mut csv = Csv::new(
        &[
            "mix",
            "map",
            "threads",
            "log2",
            "repetition",
            "ops",
            "elapsed_ns",
            "mops",
            "len",
            "garbage_objects",
            "peak_rss_kb",
        ],
        &result.meta,
    );
    for c in &result.cells {
        csv.row(vec![
            c.mix.clone(),
            c.map.clone(),
            c.threads.to_string(),
            result.plan.log2.to_string(),
            c.repetition.to_string(),
            c.ops.to_string(),
            c.elapsed_ns.to_string(),
            format!("{:.3}", c.mops),
            c.len.to_string(),
            child::optional(c.garbage_objects),
            c.peak_rss_kb.to_string(),
        ]);
    }
    out.write_text("throughput.csv", &csv.into_text())?;
    Ok(())
}

/// Whether a repetition of (mix, map, threads) failed.
fn failed(result: &ThroughputResult, mix: &str, map: &str, threads: usize) -> bool {
    let prefix = format!("{mix} {map} {threads} threads:");
    result.failures.iter().any(|f| f.starts_with(&prefix))
}

/// The best Mop/s of (mix, map, threads): `None` if no repetition ran or one failed (the
/// repetitions before a failure are in the CSV, but a failed cell shows no number and enters no
/// ratio; until session 30 they did, found by a review).
fn best(result: &ThroughputResult, mix: &str, map: &str, threads: usize) -> Option<f64> {
    if failed(result, mix, map, threads) {
        return None;
    }
    result
        .cells
        .iter()
        .filter(|c| c.mix == mix && c.map == map && c.threads == threads)
        .map(|c| c.mops)
        .reduce(f64::max)
}

/// Prints a table per mix and draws `throughput.svg`.
pub(crate) fn render(result: &ThroughputResult, out: &Output) -> Result<(), LabError> {
    let plan = &result.plan;
    // The peers this run measures: the ratio and its header name only these (`--maps` may
    // leave some out).
    let peers: Vec<&str> = ConcKind::PEERS
        .iter()
        .map(|k| k.name())
        .filter(|name| plan.maps.iter().any(|m| m == name))
        .collect();
    let mut text = format!(
        "throughput: table 2^{} (operations = table size), best of {} process(es) per cell; Mop/s\nmachine: {}\n",
        plan.log2,
        plan.repeat,
        result.meta.describe()
    );
    if result.interrupted {
        text += "INTERRUPTED by a signal: cells shown as - did not run, and the cell it stopped \
                 is the best of the repetitions that finished\n";
    }
    for mix_name in &plan.mixes {
        let Some(mix) = MIXES.iter().find(|m| m.name == mix_name) else {
            continue;
        };
        let _ = writeln!(text, "\n{} ({})", mix.name, mix.describe());
        let _ = write!(text, "{:>7}", "threads");
        for map in &plan.maps {
            let _ = write!(text, " {map:>16}");
        }
        if peers.is_empty() {
            text += " | concurrent ÷ best peer (no peer in --maps)\n";
        } else {
            let _ = writeln!(text, " | concurrent ÷ best of {}", peers.join("/"));
        }
        for &threads in &plan.threads {
            let _ = write!(text, "{threads:>7}");
            for map in &plan.maps {
                match best(result, mix.name, map, threads) {
                    Some(mops) => {
                        let _ = write!(text, " {mops:>16.2}");
                    }
                    None => {
                        let failed = failed(result, mix.name, map, threads);
                        let shown = if result.interrupted && !failed {
                            "-"
                        } else {
                            "FAIL"
                        };
                        let _ = write!(text, " {shown:>16}");
                    }
                }
            }
            // No ratio where a peer of the plan failed or did not run (a signal stopped the
            // run first): it would drop out of "the best peer" (a review in session 31 found a
            // ratio against papaya alone printed after Ctrl-C).
            let peer_missing = peers
                .iter()
                .any(|p| best(result, mix.name, p, threads).is_none());
            let best_peer = peers
                .iter()
                .filter_map(|p| best(result, mix.name, p, threads))
                .reduce(f64::max)
                .filter(|_| !peer_missing);
            match (best(result, mix.name, "concurrent", threads), best_peer) {
                (Some(c), Some(p)) if p > 0.0 => {
                    let _ = writeln!(text, " | {:.2}", c / p);
                }
                _ => text += " | -\n",
            }
        }
    }
    text += "\nMop/s = all threads' operations / wall time from the first thread leaving the start barrier to the last one \
             finishing (best repetition). concurrent = hmap::ConcurrentHashMap.";
    out.ui.out(&text);
    let panels: Vec<LinePanel> = plan
        .mixes
        .iter()
        .map(|mix| LinePanel {
            title: format!("{mix}: Mop/s (higher is better)"),
            x_desc: "threads".to_owned(),
            y_desc: "Mop/s".to_owned(),
            log_y: false,
            y_range: None,
            lines: plan
                .maps
                .iter()
                .map(|map| Line {
                    name: map.clone(),
                    faint: false,
                    points: plan
                        .threads
                        .iter()
                        .filter_map(|&t| best(result, mix, map, t).map(|m| (t as f64, m)))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    if !result.cells.is_empty() {
        let path = out.path("throughput.svg");
        plot::lines(
            &path,
            &format!(
                "Concurrent maps, conc-map-bench mixes, table 2^{}",
                plan.log2
            ),
            &panels,
            0,
        )
        .map_err(|e| LabError::Failed(format!("cannot draw {}: {e}", path.display())))?;
        out.ui.wrote(&path);
    } else {
        out.remove_stale("throughput.svg")?;
    }
    Ok(())
}

/// The hidden child command: one cell, its report line on stdout.
pub(crate) fn child(mix: &str, map: &str, threads: usize, log2: u32) -> Result<(), LabError> {
    child::exit_on_panic();
    let mix = MIXES
        .iter()
        .find(|m| m.name == mix)
        .ok_or_else(|| LabError::Usage(format!("unknown mix '{mix}'")))?;
    let kind =
        ConcKind::parse(map).ok_or_else(|| LabError::Usage(format!("unknown map '{map}'")))?;
    if threads == 0 || !(7..=30).contains(&log2) {
        return Err(LabError::Usage("bad cell arguments".to_owned()));
    }
    let record = kind
        .dispatch(Cell { mix, threads, log2 })
        .map_err(LabError::Failed)?;
    println!("{}", record.to_line());
    Ok(())
}

impl ConcVisit for Cell {
    type Output = Result<CellRecord, String>;

    fn visit<M: ConcMap>(self) -> Self::Output {
        mixes::run_cell::<M>(&self)
    }
}
