//! The growth experiment: every insert timed while a map grows from empty.
//!
//! - Single-threaded maps (hmap, hashbrown, std): per repetition a timed child (every insert
//!   timed, resident memory before and after, the latency series), an untimed child (total time
//!   only) and a CPU-timed child (the worst insert by the thread's CPU clock), each a fresh
//!   process (`benches/common/measure.rs`, shared with `benches/grow_latency.rs`).
//! - Concurrent maps (`concurrent` = `hmap::ConcurrentHashMap`, papaya, scc, ...): one child per
//!   repetition (the hidden `__cgrow` command below), one writer timing every insert while
//!   `--readers` threads time their gets (`benches/common/conc_grow.rs`, shared with
//!   `benches/concurrent.rs` and included by path as `conc_grow`).
//!
//! Output (`grow_output.rs`): one table of medians over repetitions, `grow.csv` (a row per run),
//! `grow.json` (everything, with the series), `grow_series.csv`, and `grow.svg`: the largest
//! latency in each chunk of consecutive inserts against the insert index, log scale, so a
//! stop-the-world rehash shows as a spike and incremental growth as a flat band.
//!
//! A signal (`interrupt.rs`) stops the experiment at the run (one size, map and repetition) it
//! comes in: that run's child is killed (for a single-threaded map, whichever of its three was
//! running) and the run is not counted. As in `throughput` and `wrappers`, the runs measured
//! before are saved with `interrupted: true`, the tables show the maps and sizes not run as `-`,
//! and the exit status is 130 (1 if a run failed).

use std::time::Instant;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::conc::{ConcKind, ConcVisit};
use crate::conc_grow::{self, GrowRecord};
use crate::conc_maps::ConcMap;
use crate::maps::MapKind;
use crate::measure::{self, format_ns, Mode, RunRecord};
use crate::report::{Meta, Output};
use crate::{args, child, grow_output, interrupt, LabError};

/// A map the growth experiment can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GrowMap {
    Seq(MapKind),
    Conc(ConcKind),
}

impl GrowMap {
    fn accepted() -> Vec<(&'static str, GrowMap)> {
        let mut all: Vec<(&'static str, GrowMap)> = MapKind::ALL
            .iter()
            .map(|k| (k.name(), GrowMap::Seq(*k)))
            .collect();
        all.extend(ConcKind::ALL.iter().map(|k| (k.name(), GrowMap::Conc(*k))));
        all
    }

    fn name(self) -> &'static str {
        match self {
            GrowMap::Seq(kind) => kind.name(),
            GrowMap::Conc(kind) => kind.name(),
        }
    }

    fn group(self) -> &'static str {
        match self {
            GrowMap::Seq(_) => SEQUENTIAL,
            GrowMap::Conc(_) => CONCURRENT,
        }
    }
}

const SEQUENTIAL: &str = "sequential";
pub(crate) const CONCURRENT: &str = "concurrent";

/// `--maps` value: a list of growth maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GrowMaps(pub(crate) Vec<GrowMap>);

fn parse_maps(text: &str) -> Result<GrowMaps, String> {
    args::name_list(text, &GrowMap::accepted()).map(GrowMaps)
}

/// `--keys` value: a list of sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sizes(pub(crate) Vec<usize>);

fn parse_sizes(text: &str) -> Result<Sizes, String> {
    args::key_list(text).map(Sizes)
}

#[derive(Debug, Args)]
pub(crate) struct GrowArgs {
    /// Keys to insert into each map, from empty; a comma list runs every size (suffixes K and
    /// M: 200K, 4M), each at most 2^30. 4M is just past hashbrown's growth at 3,670,017 keys,
    /// so its largest resize is in the run.
    #[arg(long, value_name = "N[,N..]", default_value = "4M", value_parser = parse_sizes)]
    pub(crate) keys: Sizes,
    /// Maps, comma-separated: hmap, hashbrown, std (single-threaded); concurrent (=
    /// hmap::ConcurrentHashMap), papaya, scc, dashmap, rwlock_hashbrown; or all.
    #[arg(long, value_name = "LIST", default_value = "hmap,hashbrown,std,concurrent,papaya,scc", value_parser = parse_maps)]
    pub(crate) maps: GrowMaps,
    /// Reader threads running gets while a concurrent map grows (0: the writer alone), at most
    /// 4096. Single-threaded maps always run alone.
    #[arg(long, value_name = "N", default_value = "1", value_parser = args::threads_or_none)]
    pub(crate) readers: usize,
    /// Repetitions per map, each in fresh processes; tables show medians.
    #[arg(long, value_name = "R", default_value = "1", value_parser = args::count)]
    pub(crate) repeat: usize,
    /// Points per latency series in the plot (each the largest of keys/points inserts).
    #[arg(long, value_name = "P", default_value = "1000", value_parser = args::count)]
    pub(crate) points: usize,
}

/// What one growth experiment runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct GrowPlan {
    pub(crate) keys: Vec<usize>,
    pub(crate) maps: Vec<String>,
    pub(crate) readers: usize,
    pub(crate) repeat: usize,
    pub(crate) points: usize,
}

impl GrowArgs {
    pub(crate) fn plan(&self) -> GrowPlan {
        GrowPlan {
            keys: self.keys.0.clone(),
            maps: self.maps.0.iter().map(|m| m.name().to_owned()).collect(),
            readers: self.readers,
            repeat: self.repeat,
            points: self.points,
        }
    }
}

/// One run of one map (a repetition), as the CSV and JSON record it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct GrowRun {
    pub(crate) map: String,
    /// `sequential` or `concurrent`.
    pub(crate) group: String,
    pub(crate) repetition: usize,
    pub(crate) keys: u64,
    /// Reader threads during the run (0 for single-threaded maps).
    pub(crate) readers: usize,
    pub(crate) p50_ns: u64,
    pub(crate) p99_ns: u64,
    pub(crate) p9999_ns: u64,
    pub(crate) max_ns: u64,
    /// The worst insert with the writer's run-queue waits taken out (`measure::OwnMax`): the
    /// other tasks that held its CPU meanwhile left out, except hmap's own reclaimer thread
    /// (since session 30; before, waits behind it were taken out too). `None` where they cannot
    /// be read (and in results saved before session 27).
    pub(crate) own_max_ns: Option<u64>,
    pub(crate) mean_ns: f64,
    /// The worst insert by the thread's CPU clock (single-threaded maps; separate child).
    pub(crate) cpu_max_ns: Option<u64>,
    /// All inserts without per-insert clock reads (single-threaded maps; separate child).
    pub(crate) untimed_total_ns: Option<u64>,
    /// The timed loop's wall time, clock reads included.
    pub(crate) timed_loop_ns: u64,
    pub(crate) reader_gets: Option<u64>,
    pub(crate) reader_p50_ns: Option<u64>,
    pub(crate) reader_p99_ns: Option<u64>,
    pub(crate) reader_p9999_ns: Option<u64>,
    pub(crate) reader_max_ns: Option<u64>,
    /// The readers' worst get with their run-queue waits taken out (as `own_max_ns`).
    pub(crate) reader_own_max_ns: Option<u64>,
    pub(crate) rss_before_kb: u64,
    pub(crate) rss_after_kb: u64,
    pub(crate) peak_rss_kb: u64,
    pub(crate) bytes_per_entry_end: f64,
    pub(crate) bytes_per_entry_peak: f64,
    /// hmap's concurrent map: garbage objects awaiting reclamation after the last insert.
    pub(crate) garbage_objects: Option<u64>,
}

impl GrowRun {
    fn from_writer(map: GrowMap, repetition: usize, readers: usize, writer: &RunRecord) -> GrowRun {
        let latency = writer.latency.unwrap_or_default();
        GrowRun {
            map: map.name().to_owned(),
            group: map.group().to_owned(),
            repetition,
            keys: writer.keys,
            readers,
            p50_ns: latency.p50_ns,
            p99_ns: latency.p99_ns,
            p9999_ns: latency.p9999_ns,
            max_ns: latency.max_ns,
            own_max_ns: writer.own_max_ns,
            mean_ns: latency.mean_ns,
            timed_loop_ns: writer.loop_ns,
            rss_before_kb: writer.before.rss_kb,
            rss_after_kb: writer.after.rss_kb,
            peak_rss_kb: writer.after.peak_kb,
            bytes_per_entry_end: writer.bytes_per_entry_end(),
            bytes_per_entry_peak: writer.bytes_per_entry_peak(),
            ..GrowRun::default()
        }
    }
}

/// One map's per-insert latency over one run: the largest of each `chunk` consecutive inserts.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Series {
    pub(crate) map: String,
    pub(crate) group: String,
    pub(crate) repetition: usize,
    pub(crate) keys: u64,
    /// Inserts per point.
    pub(crate) chunk: usize,
    /// Wall-clock: the slowest insert of each chunk (the timed child).
    pub(crate) max_ns: Vec<u32>,
    /// Thread CPU time: the slowest insert of each chunk (the CPU-timed child; single-threaded
    /// maps only). Time the thread spent descheduled is not in it, so on a noisy machine this is
    /// the line that shows what the map itself did.
    #[serde(default)]
    pub(crate) cpu_max_ns: Vec<u32>,
}

/// Everything measured at one size.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct SizeResult {
    pub(crate) keys: usize,
    pub(crate) runs: Vec<GrowRun>,
    pub(crate) series: Vec<Series>,
}

/// The saved result of one growth experiment (`grow.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct GrowResult {
    pub(crate) meta: Meta,
    pub(crate) plan: GrowPlan,
    /// Median cost of an empty `Instant::now()` pair: the floor under every sample.
    pub(crate) timer_overhead_ns: u64,
    pub(crate) sizes: Vec<SizeResult>,
    /// Runs that failed (a child that crashed or found a wrong result).
    pub(crate) failures: Vec<String>,
    /// A signal stopped the run (`interrupt.rs`): the runs after the last one measured did not
    /// run, and the size it stopped in is absent if none of its runs finished (absent, false, in
    /// files from before it existed).
    #[serde(default)]
    pub(crate) interrupted: bool,
}

/// `grow`: measure, save, render.
pub(crate) fn run(args: &GrowArgs, out: &Output) -> Result<(), LabError> {
    let result = measure_plan(&args.plan(), out)?;
    grow_output::render(&result, out)?;
    grow_output::save(&result, out)?;
    interrupt::conclude(
        "grow",
        interruption(&result),
        (!result.failures.is_empty()).then(|| {
            format!(
                "{} growth run(s) failed: {}",
                result.failures.len(),
                result.failures.join("; ")
            )
        }),
        SAVED,
    )
}

/// The end of the message of an interrupted run: where its results are.
pub(crate) const SAVED: &str = "see grow.json";

/// When a signal stopped `result`, and how many of its plan's runs (size, map, repetition)
/// were measured by then, for `interrupt::conclude`; `None` if it ran to the end.
pub(crate) fn interruption(result: &GrowResult) -> Option<(f64, String)> {
    result.interrupted.then(|| {
        let measured: usize = result.sizes.iter().map(|s| s.runs.len()).sum();
        let plan = &result.plan;
        let planned = plan.keys.len() * plan.maps.len() * plan.repeat;
        (
            result.meta.elapsed_s,
            format!("{measured} of {planned} growth run(s)"),
        )
    })
}

/// Runs every (size, map, repetition) of `plan` in child processes.
pub(crate) fn measure_plan(plan: &GrowPlan, out: &Output) -> Result<GrowResult, LabError> {
    let ui = &out.ui;
    let maps: Vec<GrowMap> = plan
        .maps
        .iter()
        .map(|name| parse_maps(name).map(|m| m.0[0]))
        .collect::<Result<_, _>>()
        .map_err(LabError::Usage)?;
    if cfg!(debug_assertions) {
        eprintln!("hmap-lab: warning: debug build, timings mean little; use `cargo run --release -p hmap-lab`");
    }
    let children_per_size: usize = maps
        .iter()
        .map(|m| match m {
            GrowMap::Seq(_) => 3 * plan.repeat,
            GrowMap::Conc(_) => plan.repeat,
        })
        .sum();
    let bar = ui.bar((children_per_size * plan.keys.len()) as u64, "grow");
    let timer_overhead_ns = measure::timer_overhead_ns();
    let started = Instant::now();
    let mut sizes = Vec::new();
    let mut failures = Vec::new();
    // A signal ends the run after the run it interrupted (whose child is killed and not
    // recorded; a single-threaded map's run needs all three of its children); the runs
    // measured before are kept, including those of the size it stopped in.
    for &keys in &plan.keys {
        let mut size = SizeResult {
            keys,
            runs: Vec::new(),
            series: Vec::new(),
        };
        for &map in &maps {
            for repetition in 1..=plan.repeat {
                if interrupt::requested() {
                    break;
                }
                bar.set_message(format!(
                    "{} keys into {}, repetition {repetition}",
                    keys,
                    map.name()
                ));
                let outcome = match map {
                    GrowMap::Seq(kind) => seq_run(kind, repetition, keys, plan.points, &bar),
                    GrowMap::Conc(kind) => {
                        let result = conc_run(kind, repetition, keys, plan.readers, plan.points);
                        bar.inc(1);
                        result
                    }
                };
                match outcome {
                    Ok((run, series)) => {
                        ui.note(
                            &bar,
                            &format!(
                                "  {} {keys} keys, repetition {repetition}: worst insert {}, total {}",
                                run.map,
                                format_ns(run.max_ns as f64),
                                format_ns(run.untimed_total_ns.unwrap_or(run.timed_loop_ns) as f64)
                            ),
                        );
                        size.runs.push(run);
                        size.series.push(series);
                    }
                    Err(_) if interrupt::requested() => break,
                    Err(message) => {
                        ui.note(
                            &bar,
                            &format!("  {} {keys} keys: FAILED: {message}", map.name()),
                        );
                        failures.push(format!("{} at {keys} keys: {message}", map.name()));
                    }
                }
            }
            if interrupt::requested() {
                break;
            }
        }
        if interrupt::requested() {
            // A size with no run finished did not run; the tables show it as such.
            if !size.runs.is_empty() {
                sizes.push(size);
            }
            break;
        }
        sizes.push(size);
    }
    bar.finish_and_clear();
    Ok(GrowResult {
        meta: out.meta("grow", started.elapsed().as_secs_f64()),
        plan: plan.clone(),
        timer_overhead_ns,
        sizes,
        failures,
        interrupted: interrupt::requested(),
    })
}

/// The three children of one single-threaded repetition.
fn seq_run(
    kind: MapKind,
    repetition: usize,
    keys: usize,
    points: usize,
    bar: &indicatif::ProgressBar,
) -> Result<(GrowRun, Series), String> {
    let child_run = |mode: Mode, points: usize| -> Result<(RunRecord, Vec<u32>), String> {
        let args = vec![
            crate::SEQ_CHILD.to_owned(),
            kind.name().to_owned(),
            mode.as_str().to_owned(),
            keys.to_string(),
            points.to_string(),
        ];
        let stdout = interrupt::run_child(&args, crate::CHILD_TIMEOUT)?;
        bar.inc(1);
        let record = stdout
            .lines()
            .find_map(RunRecord::parse_line)
            .ok_or_else(|| format!("child `{}` printed no result", args.join(" ")))?;
        Ok((record, child::parse_series(&stdout)))
    };
    let (timed, series) = child_run(Mode::Timed, points)?;
    let (untimed, _) = child_run(Mode::Untimed, 0)?;
    let (cpu, cpu_series) = child_run(Mode::CpuTimed, points)?;
    let map = GrowMap::Seq(kind);
    let mut run = GrowRun::from_writer(map, repetition, 0, &timed);
    run.untimed_total_ns = Some(untimed.loop_ns);
    run.cpu_max_ns = cpu.cpu_max_ns;
    let mut series = series_of(map, repetition, keys, points, series);
    series.cpu_max_ns = cpu_series;
    Ok((run, series))
}

/// The one child of a concurrent repetition.
fn conc_run(
    kind: ConcKind,
    repetition: usize,
    keys: usize,
    readers: usize,
    points: usize,
) -> Result<(GrowRun, Series), String> {
    let args = child_args(kind, keys, readers, points);
    let stdout = interrupt::run_child(&args, crate::CHILD_TIMEOUT)?;
    let record = GrowRecord::parse(&stdout)
        .ok_or_else(|| format!("child `{}` printed no result", args.join(" ")))?;
    let map = GrowMap::Conc(kind);
    let mut run = GrowRun::from_writer(map, repetition, readers, &record.writer);
    if readers > 0 {
        run.reader_gets = Some(record.reader.gets);
    }
    // A reader that made no get before the writer finished (a tiny `--keys`) has no latencies:
    // its empty histogram's zeros would read as measurements (a review in session 31 found
    // "worst get 0 ns vs 0 ns").
    if readers > 0 && record.reader.gets > 0 {
        let r = &record.reader.latency;
        run.reader_p50_ns = Some(r.p50_ns);
        run.reader_p99_ns = Some(r.p99_ns);
        run.reader_p9999_ns = Some(r.p9999_ns);
        run.reader_max_ns = Some(r.max_ns);
        run.reader_own_max_ns = record.reader.own_max_ns;
    }
    run.garbage_objects = record.reader.garbage_objects;
    Ok((run, series_of(map, repetition, keys, points, record.series)))
}

fn series_of(
    map: GrowMap,
    repetition: usize,
    keys: usize,
    points: usize,
    max_ns: Vec<u32>,
) -> Series {
    Series {
        map: map.name().to_owned(),
        group: map.group().to_owned(),
        repetition,
        keys: keys as u64,
        chunk: keys.div_ceil(points.max(1)),
        max_ns,
        cpu_max_ns: Vec::new(),
    }
}

/// First argument of a concurrent growth child: `__cgrow <map> <keys> <readers> <points>`.
const CONC_CHILD: &str = "__cgrow";

/// The arguments that make a child run `map` with `keys` keys, `readers` readers.
fn child_args(map: ConcKind, keys: usize, readers: usize, points: usize) -> Vec<String> {
    vec![
        CONC_CHILD.to_owned(),
        map.name().to_owned(),
        keys.to_string(),
        readers.to_string(),
        points.to_string(),
    ]
}

/// The hidden child command: one concurrent growth run, its report lines on stdout.
pub(crate) fn child(map: &str, keys: &str, readers: usize, points: usize) -> Result<(), LabError> {
    child::exit_on_panic();
    let kind = ConcKind::parse(map)
        .ok_or_else(|| LabError::Usage(format!("unknown concurrent map '{map}'")))?;
    let keys = crate::keys::parse_count(keys).map_err(LabError::Usage)?;
    let record = kind
        .dispatch(ConcGrow {
            keys,
            readers,
            points,
        })
        .map_err(LabError::Failed)?;
    println!("{}", record.to_lines());
    Ok(())
}

/// One concurrent growth run's parameters, generic over the map type through [`ConcVisit`].
struct ConcGrow {
    keys: usize,
    readers: usize,
    points: usize,
}

impl ConcVisit for ConcGrow {
    type Output = Result<GrowRecord, String>;
    fn visit<M: ConcMap>(self) -> Self::Output {
        conc_grow::run_grow::<M>(
            self.keys,
            self.readers,
            self.points,
            conc_grow::WriterClock::Wall,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::child::{parse_series, series_line};

    #[test]
    fn series_lines_round_trip() {
        let line = series_line(&[1, 20, 300]);
        assert_eq!(parse_series(&format!("other\n{line}\n")), vec![1, 20, 300]);
        assert!(parse_series("HMAP-SERIESX values=1").is_empty());
    }
}
