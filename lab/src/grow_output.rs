//! The growth experiment's output: `grow.json`, `grow.csv` (a row per run, the machine and
//! command in the last columns), `grow_series.csv` (the plot's data), the table of medians with
//! the ratios that answer the experiment's question, and `grow.svg` (one panel per map, the
//! slowest insert of each chunk against the insert number, log scale). `render` serves both a
//! live run and `hmap-lab report`. A run that a signal stopped (`interrupted`) is written the
//! same way with the runs it measured; its tables show the maps and sizes not run as `-`. A
//! size with nothing to plot (every run failed) gets no SVG (and loses one an earlier render
//! left), and a line says so. A map whose first repetition failed is plotted from a later one.

use std::fmt::Write as _;

use crate::conc::ConcKind;
use crate::grow::{GrowResult, GrowRun, Series, SizeResult, CONCURRENT};
use crate::measure::{format_ns, median};
use crate::plot::{self, Line, LinePanel};
use crate::report::{Csv, Output};
use crate::LabError;

/// Columns of `grow.csv`, before the machine columns.
const CSV_COLUMNS: [&str; 26] = [
    "map",
    "group",
    "repetition",
    "keys",
    "readers",
    "p50_ns",
    "p99_ns",
    "p9999_ns",
    "max_ns",
    "own_max_ns",
    "mean_ns",
    "cpu_max_ns",
    "untimed_total_ns",
    "timed_loop_ns",
    "reader_gets",
    "reader_p50_ns",
    "reader_p99_ns",
    "reader_p9999_ns",
    "reader_max_ns",
    "reader_own_max_ns",
    "rss_before_kb",
    "rss_after_kb",
    "peak_rss_kb",
    "bytes_per_entry_end",
    "bytes_per_entry_peak",
    "garbage_objects",
];

fn csv_cells(run: &GrowRun) -> Vec<String> {
    let o = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
    vec![
        run.map.clone(),
        run.group.clone(),
        run.repetition.to_string(),
        run.keys.to_string(),
        run.readers.to_string(),
        run.p50_ns.to_string(),
        run.p99_ns.to_string(),
        run.p9999_ns.to_string(),
        run.max_ns.to_string(),
        o(run.own_max_ns),
        format!("{:.1}", run.mean_ns),
        o(run.cpu_max_ns),
        o(run.untimed_total_ns),
        run.timed_loop_ns.to_string(),
        o(run.reader_gets),
        o(run.reader_p50_ns),
        o(run.reader_p99_ns),
        o(run.reader_p9999_ns),
        o(run.reader_max_ns),
        o(run.reader_own_max_ns),
        run.rss_before_kb.to_string(),
        run.rss_after_kb.to_string(),
        run.peak_rss_kb.to_string(),
        format!("{:.2}", run.bytes_per_entry_end),
        format!("{:.2}", run.bytes_per_entry_peak),
        o(run.garbage_objects),
    ]
}

/// Writes `grow.json`, `grow.csv` and `grow_series.csv`.
pub(crate) fn save(result: &GrowResult, out: &Output) -> Result<(), LabError> {
    out.write_json("grow.json", result)?;
    let mut csv = Csv::new(&CSV_COLUMNS, &result.meta);
    for size in &result.sizes {
        for run in &size.runs {
            csv.row(csv_cells(run));
        }
    }
    out.write_text("grow.csv", &csv.into_text())?;
    let mut series =
        String::from("map,group,repetition,keys,first_insert,inserts,max_ns,cpu_max_ns\n");
    for size in &result.sizes {
        for s in &size.series {
            for (i, value) in s.max_ns.iter().enumerate() {
                let first = i * s.chunk;
                let inserts = s.chunk.min(s.keys as usize - first);
                let cpu = s.cpu_max_ns.get(i).map_or(String::new(), u32::to_string);
                let _ = writeln!(
                    series,
                    "{},{},{},{},{first},{inserts},{value},{cpu}",
                    s.map, s.group, s.repetition, s.keys
                );
            }
        }
    }
    out.write_text("grow_series.csv", &series)?;
    Ok(())
}

/// Prints the tables and draws the plots of a growth result (live or re-read by `report`).
pub(crate) fn render(result: &GrowResult, out: &Output) -> Result<(), LabError> {
    let ui = &out.ui;
    ui.out(&format!(
        "grow: every insert timed, from empty; {} repetition(s) per map, medians; concurrent maps with {} reader thread(s)",
        result.plan.repeat, result.plan.readers
    ));
    ui.out(&format!("machine: {}", result.meta.describe()));
    ui.out(&format!(
        "hasher: {}; timer overhead (empty Instant pair, median): {} ns",
        result.meta.hasher, result.timer_overhead_ns
    ));
    if result.interrupted {
        ui.out("INTERRUPTED by a signal: maps and sizes shown as - did not run");
    }
    // Named after the plan, not after what ran, so that an interrupted run of several sizes
    // names its plots as the whole run would.
    let plot_name = |keys: usize| {
        if result.plan.keys.len() == 1 {
            "grow.svg".to_owned()
        } else {
            format!("grow_{keys}.svg")
        }
    };
    for size in &result.sizes {
        ui.out(&format!("\n{} keys:", size.keys));
        ui.out(&table(size, result));
        let name = plot_name(size.keys);
        // As `throughput` and `wrappers` do, a plot with nothing to show is not drawn: an SVG of
        // empty axes would pass for a result.
        let panels = panels(size, result.plan.readers);
        if panels.is_empty() {
            out.remove_stale(&name)?;
            ui.out(&no_plot_note(size, &name));
            continue;
        }
        let path = out.path(&name);
        plot::lines(
            &path,
            &format!(
                "Per-insert latency while growing from empty to {} keys",
                size.keys
            ),
            &panels,
            PANEL_HEIGHT,
        )
        .map_err(|e| LabError::Failed(format!("cannot draw {}: {e}", path.display())))?;
        ui.wrote(&path);
    }
    if result.interrupted {
        // The run stops at the signal, so the sizes not reached are the plan's last ones.
        for &keys in &result.plan.keys {
            if !result.sizes.iter().any(|s| s.keys == keys) {
                let none = SizeResult {
                    keys,
                    runs: Vec::new(),
                    series: Vec::new(),
                };
                ui.out(&format!("\n{keys} keys:"));
                ui.out(&table(&none, result));
                // An earlier render's plot of this size would pass for this run's (a review in
                // session 31 found one left behind).
                out.remove_stale(&plot_name(keys))?;
            }
        }
    }
    ui.out(LEGEND);
    Ok(())
}

/// Why the plot of `size`, `name`, was not drawn: every run at that size failed, or the runs
/// that finished saved no latency series.
fn no_plot_note(size: &SizeResult, name: &str) -> String {
    let why = if size.runs.is_empty() {
        "every run failed"
    } else {
        "no run saved a latency series"
    };
    format!("no plot for {} keys ({name} not drawn): {why}", size.keys)
}

/// Height of one map's panel in `grow.svg`.
const PANEL_HEIGHT: u32 = 190;

/// The legend under the growth table.
const LEGEND: &str = "\
columns: medians over repetitions. p50..max = one insert's latency, each including one clock-read pair;
max own = the worst insert with the thread's run-queue waits (other tasks on its CPU) taken out, read from
/proc/thread-self/schedstat every 1024 inserts and after each one over 50 us (time the host takes stays in);
max CPU = the worst insert by the thread's CPU clock (separate process; descheduled time left out);
total = all inserts without clock reads (single-threaded maps, separate process) or the timed writer loop (concurrent maps);
reader p99 / max = one get by a reader thread while the map grows (histogram, ~3%; exact max); r max own as max own;
B/e = resident bytes per entry after the last insert and at the peak. concurrent = hmap::ConcurrentHashMap.
grow.svg: per map, the slowest insert of each chunk; single-threaded maps also by thread CPU time (from the
max-CPU process: kernel time such as page faults counts, descheduled time does not), the line that shows
a stop-the-world rehash on a noisy machine.";

/// Medians per map, one line each, then the ratios that answer the experiment's question. In
/// an interrupted run, the maps of the plan not run at this size follow as lines of `-`.
fn table(size: &SizeResult, result: &GrowResult) -> String {
    let mut names: Vec<(&str, &str)> = Vec::new();
    for run in &size.runs {
        if !names.iter().any(|(n, _)| *n == run.map) {
            names.push((&run.map, &run.group));
        }
    }
    let mut out = format!(
        "{:<17} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6}\n",
        "map",
        "p50",
        "p99",
        "p99.99",
        "max",
        "max own",
        "max CPU",
        "total",
        "r p99",
        "r max",
        "r max own",
        "B/e",
        "peak"
    );
    let mut maxima: Vec<Maxima<'_>> = Vec::new();
    for (name, group) in &names {
        let runs: Vec<&GrowRun> = size.runs.iter().filter(|r| r.map == *name).collect();
        let med = |f: &dyn Fn(&GrowRun) -> f64| median(runs.iter().map(|r| f(r)).collect());
        let med_opt = |f: &dyn Fn(&GrowRun) -> Option<u64>| {
            let values: Vec<f64> = runs.iter().filter_map(|r| f(r)).map(|v| v as f64).collect();
            (!values.is_empty()).then(|| median(values))
        };
        let cell = |v: Option<f64>| v.map_or("-".to_owned(), format_ns);
        let max = med(&|r| r.max_ns as f64);
        let cpu = med_opt(&|r| r.cpu_max_ns);
        let reader_max = med_opt(&|r| r.reader_max_ns);
        let own = med_opt(&|r| r.own_max_ns);
        let reader_own = med_opt(&|r| r.reader_own_max_ns);
        maxima.push(Maxima {
            name,
            max,
            cpu,
            reader: reader_max,
            own,
            reader_own,
        });
        let label = row_name(name, *group == CONCURRENT, runs[0].readers);
        let _ = writeln!(
            out,
            "{:<17} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6.1} {:>6.1}",
            label,
            format_ns(med(&|r| r.p50_ns as f64)),
            format_ns(med(&|r| r.p99_ns as f64)),
            format_ns(med(&|r| r.p9999_ns as f64)),
            format_ns(max),
            cell(own),
            cell(cpu),
            format_ns(med(
                &|r| r.untimed_total_ns.unwrap_or(r.timed_loop_ns) as f64
            )),
            cell(med_opt(&|r| r.reader_p99_ns)),
            cell(reader_max),
            cell(reader_own),
            med(&|r| r.bytes_per_entry_end),
            med(&|r| r.bytes_per_entry_peak),
        );
    }
    if result.interrupted {
        not_run(&mut out, size, result);
    }
    let find = |name: &str| maxima.iter().find(|m| m.name == name);
    if let (Some(h), Some(b)) = (find("hmap"), find("hashbrown")) {
        let cpu = match (h.cpu, b.cpu) {
            (Some(hc), Some(bc)) if hc > 0.0 && bc > 0.0 => format!(
                ", {} by CPU time ({} vs {})",
                fraction(hc, bc),
                format_ns(hc),
                format_ns(bc)
            ),
            _ => String::new(),
        };
        if h.max > 0.0 && b.max > 0.0 {
            let _ = writeln!(
                out,
                "hmap's worst insert is {} of hashbrown's ({} vs {}){cpu}",
                fraction(h.max, b.max),
                format_ns(h.max),
                format_ns(b.max)
            );
        }
    }
    if let Some(c) = find("concurrent") {
        if let Some((peer, best)) = best_peer(&maxima, |m| Some(m.max)) {
            let _ = write!(
                out,
                "concurrent's worst insert: {} vs {} for the best peer ({peer})",
                format_ns(c.max),
                format_ns(best),
            );
            if let (Some(cr), Some((peer, pr))) = (c.reader, best_peer(&maxima, |m| m.reader)) {
                let _ = write!(
                    out,
                    "; worst get {} vs {} ({peer})",
                    format_ns(cr),
                    format_ns(pr)
                );
            }
            out.push('\n');
        }
    }
    if let Some(line) = own_time_line(&maxima) {
        out += &line;
    }
    out
}

/// One map's medians of the worst operations at one size, for the lines under the table.
#[derive(Clone, Copy)]
struct Maxima<'a> {
    name: &'a str,
    /// The worst insert by the wall clock.
    max: f64,
    /// The worst insert by the thread's CPU clock.
    cpu: Option<f64>,
    /// The readers' worst get.
    reader: Option<f64>,
    /// The worst insert with run-queue waits taken out (`max own`).
    own: Option<f64>,
    /// The readers' worst get with run-queue waits taken out (`r max own`).
    reader_own: Option<f64>,
}

/// The concurrent map's peer with the lowest `pick`, and that value.
fn best_peer<'a>(
    maxima: &[Maxima<'a>],
    pick: fn(&Maxima<'_>) -> Option<f64>,
) -> Option<(&'a str, f64)> {
    maxima
        .iter()
        .filter(|m| ConcKind::PEERS.iter().any(|p| p.name() == m.name))
        .filter_map(|m| pick(m).map(|v| (m.name, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// The concurrent map's worst insert and get against the best peer's, both with run-queue waits
/// taken out (`max own`, `r max own`): what is left when the other tasks that held the CPU are
/// left out. `None` without those figures for the concurrent map and a peer.
fn own_time_line(maxima: &[Maxima<'_>]) -> Option<String> {
    let c = maxima.iter().find(|m| m.name == "concurrent")?;
    let mut parts = Vec::new();
    if let (Some(own), Some((peer, best))) = (c.own, best_peer(maxima, |m| m.own)) {
        parts.push(format!(
            "worst insert {} vs {} ({peer})",
            format_ns(own),
            format_ns(best)
        ));
    }
    if let (Some(own), Some((peer, best))) = (c.reader_own, best_peer(maxima, |m| m.reader_own)) {
        parts.push(format!(
            "worst get {} vs {} ({peer})",
            format_ns(own),
            format_ns(best)
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "with run-queue waits taken out, concurrent's {}\n",
            parts.join("; ")
        )
    })
}

/// How a row of the table names `map`: a concurrent map that ran with reader threads carries
/// `+<readers>r`, in a row of medians and in a row of `-` alike.
fn row_name(map: &str, concurrent: bool, readers: usize) -> String {
    if concurrent && readers > 0 {
        format!("{map} +{readers}r")
    } else {
        map.to_owned()
    }
}

/// The lines of an interrupted run's table for the maps of the plan that have no run at this
/// size (a map that failed is named in the failures instead), then a note for each map whose
/// medians are over fewer repetitions than planned.
fn not_run(out: &mut String, size: &SizeResult, result: &GrowResult) {
    let keys = size.keys;
    for map in &result.plan.maps {
        let ran = size.runs.iter().any(|r| &r.map == map);
        let failed = result
            .failures
            .iter()
            .any(|f| f.starts_with(&format!("{map} at {keys} keys: ")));
        if !ran && !failed {
            let name = row_name(map, ConcKind::parse(map).is_some(), result.plan.readers);
            let _ = writeln!(
                out,
                "{name:<17} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6}",
                "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"
            );
        }
    }
    for map in &result.plan.maps {
        let runs = size.runs.iter().filter(|r| &r.map == map).count();
        if (1..result.plan.repeat).contains(&runs) {
            let name = row_name(map, ConcKind::parse(map).is_some(), result.plan.readers);
            let _ = writeln!(
                out,
                "{name}: medians of {runs} of {} repetition(s)",
                result.plan.repeat
            );
        }
    }
}

/// The plot's panels: one per map (its first repetition that saved a series, normally the
/// first), in the order the series were saved (single-threaded maps first), all on the same log
/// y axis, so that a stop-the-world rehash stands out as a spike above the map's band.
fn panels(size: &SizeResult, readers: usize) -> Vec<LinePanel> {
    let scale = if size.keys >= 2_000_000 { 1e6 } else { 1e3 };
    let unit = if scale == 1e6 { "M" } else { "K" };
    let mut series: Vec<&Series> = Vec::new();
    for s in size.series.iter().filter(|s| !s.max_ns.is_empty()) {
        match series.iter_mut().find(|kept| kept.map == s.map) {
            Some(kept) if s.repetition < kept.repetition => *kept = s,
            Some(_) => {}
            None => series.push(s),
        }
    }
    let values = || {
        series.iter().flat_map(|s| {
            s.max_ns
                .iter()
                .chain(&s.cpu_max_ns)
                .map(|&ns| f64::from(ns.max(1)))
        })
    };
    let y_min = values().fold(f64::INFINITY, f64::min);
    let y_max = values().fold(0.0f64, f64::max);
    let y_range = y_min.is_finite().then(|| (y_min / 1.5, y_max * 2.0));
    let points = |values: &[u32], chunk: usize| -> Vec<(f64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &ns)| ((i * chunk) as f64 / scale, f64::from(ns.max(1))))
            .collect()
    };
    series
        .iter()
        .map(|s| {
            let mut lines = vec![Line {
                name: format!("{} wall clock", s.map),
                points: points(&s.max_ns, s.chunk),
                faint: !s.cpu_max_ns.is_empty(),
            }];
            if !s.cpu_max_ns.is_empty() {
                lines.push(Line {
                    name: format!("{} thread CPU time", s.map),
                    points: points(&s.cpu_max_ns, s.chunk),
                    faint: false,
                });
            }
            // A map whose first repetition failed is drawn from a later one, and says so.
            let repetition = if s.repetition > 1 {
                format!(", repetition {}", s.repetition)
            } else {
                String::new()
            };
            LinePanel {
                title: if s.group == CONCURRENT {
                    format!(
                        "{} with {readers} concurrent reader(s): slowest insert of each {} (log scale{repetition})",
                        s.map, s.chunk
                    )
                } else {
                    format!(
                        "{}: slowest insert of each {} (log scale{repetition})",
                        s.map, s.chunk
                    )
                },
                x_desc: format!("insert number ({unit})"),
                y_desc: "latency".to_owned(),
                log_y: true,
                y_range,
                lines,
            }
        })
        .collect()
}

/// `part` as a fraction of `whole`: `1/N` when it is at most half, otherwise a decimal (a
/// worse hmap read "1/1" or "1/0" until session 30, found by a review).
fn fraction(part: f64, whole: f64) -> String {
    if part * 2.0 <= whole {
        format!("1/{:.0}", whole / part)
    } else {
        format!("{:.2}×", part / whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fraction_reads_right_both_ways() {
        assert_eq!(fraction(1.0, 189.0), "1/189");
        assert_eq!(fraction(1.0, 2.0), "1/2");
        assert_eq!(fraction(53.0, 44.1), "1.20×");
        assert_eq!(fraction(3.0, 4.0), "0.75×");
    }

    use crate::grow::GrowPlan;
    use crate::report::Meta;

    /// The metadata of the results below.
    fn meta() -> Meta {
        Output::new(crate::ui::Ui::new(true), Some(std::env::temp_dir()), vec![])
            .unwrap()
            .meta("grow", 1.0)
    }

    /// A result of `maps` at 10 and 20 keys, `repeat` repetitions each, holding `runs`.
    fn result(maps: &[&str], repeat: usize, runs: Vec<GrowRun>, interrupted: bool) -> GrowResult {
        GrowResult {
            meta: meta(),
            plan: GrowPlan {
                keys: vec![10, 20],
                maps: maps.iter().map(|&m| m.to_owned()).collect(),
                readers: 0,
                repeat,
                points: 10,
            },
            timer_overhead_ns: 20,
            sizes: vec![SizeResult {
                keys: 10,
                runs,
                series: Vec::new(),
            }],
            failures: Vec::new(),
            interrupted,
        }
    }

    fn run(map: &str, repetition: usize) -> GrowRun {
        GrowRun {
            map: map.to_owned(),
            group: "sequential".to_owned(),
            repetition,
            keys: 10,
            max_ns: 1_000,
            ..GrowRun::default()
        }
    }

    /// A concurrent map's run with its reader (the default `--readers 1`).
    fn conc_run(map: &str, repetition: usize) -> GrowRun {
        GrowRun {
            group: CONCURRENT.to_owned(),
            readers: 1,
            reader_max_ns: Some(500),
            ..run(map, repetition)
        }
    }

    /// One map's latency series at `keys` keys (repetition 1).
    fn series(map: &str, keys: usize) -> Series {
        Series {
            map: map.to_owned(),
            group: "sequential".to_owned(),
            repetition: 1,
            keys: keys as u64,
            chunk: 1,
            max_ns: vec![100, 5_000, 120],
            cpu_max_ns: Vec::new(),
        }
    }

    #[test]
    fn a_concurrent_map_not_run_is_named_with_its_readers_like_one_that_ran() {
        let mut interrupted = result(
            &["hmap", "concurrent", "papaya", "scc"],
            1,
            vec![run("hmap", 1), conc_run("concurrent", 1)],
            true,
        );
        interrupted.plan.readers = 1;
        let text = table(&interrupted.sizes[0], &interrupted);
        // The second cell of the row naming `map` (its reader suffix), and whether its last ten
        // cells are all `-`.
        let row = |map: &str| {
            let line = text
                .lines()
                .find(|line| line.split_whitespace().next() == Some(map))
                .unwrap_or_else(|| panic!("no line for {map}: {text}"));
            let cells: Vec<&str> = line.split_whitespace().collect();
            let dashes = cells.iter().rev().take(10).all(|cell| *cell == "-");
            (cells[1], dashes)
        };
        assert_eq!(row("concurrent"), ("+1r", false), "{text}");
        for peer in ["papaya", "scc"] {
            assert_eq!(row(peer), ("+1r", true), "{text}");
        }
        // A single-threaded map not run has no reader suffix.
        let mut seq = result(&["hmap", "std"], 1, vec![run("hmap", 1)], true);
        seq.plan.readers = 1;
        let text = table(&seq.sizes[0], &seq);
        assert!(
            text.lines()
                .any(|l| l.starts_with("std ") && !l.contains("+1r")),
            "{text}"
        );
    }

    #[test]
    fn a_size_whose_every_run_failed_gets_no_plot() {
        let dir = crate::report::tests::scratch("grow-no-plot");
        std::fs::create_dir_all(&dir).unwrap();
        let out = Output::new(crate::ui::Ui::new(true), Some(dir.clone()), vec![]).unwrap();
        let mut both = result(&["hmap"], 1, vec![run("hmap", 1)], false);
        both.sizes[0].series = vec![series("hmap", 10)];
        both.sizes.push(SizeResult {
            keys: 20,
            runs: Vec::new(),
            series: Vec::new(),
        });
        both.failures = vec!["hmap at 20 keys: the child crashed".to_owned()];
        // An SVG of empty axes that an older lab drew for the size with nothing to plot: `report`
        // renders into the same directory, and must not leave it there.
        std::fs::write(dir.join("grow_20.svg"), "<svg/>").unwrap();
        render(&both, &out).unwrap();
        assert!(dir.join("grow_10.svg").exists());
        assert!(!dir.join("grow_20.svg").exists());
        assert_eq!(
            no_plot_note(&both.sizes[1], "grow_20.svg"),
            "no plot for 20 keys (grow_20.svg not drawn): every run failed"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_map_whose_first_repetition_failed_is_plotted_from_a_later_one() {
        let at = |map: &str, repetition: usize| Series {
            repetition,
            ..series(map, 10)
        };
        let size = |series: Vec<Series>| SizeResult {
            keys: 10,
            runs: vec![run("hmap", 2), run("std", 1)],
            series,
        };
        let titles = |size: &SizeResult| -> Vec<String> {
            panels(size, 0).into_iter().map(|p| p.title).collect()
        };
        // hmap's repetition 1 failed: its panel comes from repetition 2, and says so.
        let later = titles(&size(vec![at("hmap", 2), at("hmap", 3), at("std", 1)]));
        assert_eq!(later.len(), 2, "{later:?}");
        assert!(
            later[0].starts_with("hmap:") && later[0].ends_with("(log scale, repetition 2)"),
            "{later:?}"
        );
        assert!(later[1].ends_with("(log scale)"), "{later:?}");
        // Otherwise repetition 1, whatever order the series were saved in.
        let first = titles(&size(vec![at("hmap", 2), at("hmap", 1), at("std", 1)]));
        assert!(
            first.iter().all(|t| t.ends_with("(log scale)")),
            "{first:?}"
        );
    }

    #[test]
    fn a_concurrent_map_with_fewer_repetitions_is_named_with_its_readers() {
        let mut partial = result(
            &["hmap", "concurrent"],
            3,
            vec![run("hmap", 1), conc_run("concurrent", 1)],
            true,
        );
        partial.plan.readers = 1;
        let text = table(&partial.sizes[0], &partial);
        assert!(
            text.contains("concurrent +1r: medians of 1 of 3 repetition(s)")
                && text.contains("\nhmap: medians of 1 of 3 repetition(s)"),
            "{text}"
        );
    }

    #[test]
    fn grow_files_from_before_the_interrupted_marker_still_parse() {
        let saved = result(&["hmap"], 1, vec![run("hmap", 1)], true);
        let mut old = serde_json::to_value(&saved).unwrap();
        assert!(old.as_object_mut().unwrap().remove("interrupted").is_some());
        let read: GrowResult = serde_json::from_value(old).unwrap();
        assert!(!read.interrupted);
        assert_eq!(read.sizes, saved.sizes);
    }

    #[test]
    fn an_interrupted_table_shows_the_maps_not_run_as_dashes() {
        let dashes = |line: &str| line.split_whitespace().skip(1).all(|cell| cell == "-");
        let interrupted = result(
            &["hmap", "hashbrown", "std"],
            3,
            vec![
                run("hmap", 1),
                run("hmap", 2),
                run("hmap", 3),
                run("hashbrown", 1),
            ],
            true,
        );
        let mut failed = interrupted.clone();
        failed.failures = vec!["std at 10 keys: the child crashed".to_owned()];
        let size = &interrupted.sizes[0];

        let text = table(size, &interrupted);
        let line = |map: &str| {
            text.lines()
                .find(|line| line.split_whitespace().next() == Some(map))
                .unwrap_or_else(|| panic!("no line for {map}: {text}"))
        };
        assert!(
            !dashes(line("hmap")) && !dashes(line("hashbrown")),
            "{text}"
        );
        assert!(dashes(line("std")), "{text}");
        assert!(
            text.contains("hashbrown: medians of 1 of 3 repetition(s)")
                && !text.contains("hmap: medians"),
            "{text}"
        );
        // A map that failed is not shown as not run; a run that ran to its end shows no dashes.
        assert!(!table(size, &failed).lines().any(|l| l.starts_with("std ")));
        let mut complete = interrupted.clone();
        complete.interrupted = false;
        let text = table(size, &complete);
        assert!(
            !text.lines().any(|l| l.starts_with("std ")) && !text.contains("medians of"),
            "{text}"
        );
    }

    /// The own-time line compares the concurrent map with the best peer for each figure, and is
    /// left out when either side lacks it.
    #[test]
    fn the_own_time_line_names_the_best_peer_of_each_figure() {
        let map = |name, own, reader_own| Maxima {
            name,
            max: 0.0,
            cpu: None,
            reader: None,
            own,
            reader_own,
        };
        let maxima = [
            map("concurrent", Some(450_000.0), Some(90_000.0)),
            map("papaya", Some(9_000_000.0), Some(80_000.0)),
            map("scc", Some(5_000_000.0), Some(7_000_000.0)),
            map("hashbrown", Some(100.0), None),
        ];
        assert_eq!(
            own_time_line(&maxima).as_deref(),
            Some(
                "with run-queue waits taken out, concurrent's worst insert 450 µs vs 5.00 ms (scc); \
                 worst get 90.0 µs vs 80.0 µs (papaya)\n"
            )
        );
        let no_readers = [
            map("concurrent", Some(450_000.0), None),
            map("papaya", Some(9_000_000.0), None),
        ];
        assert_eq!(
            own_time_line(&no_readers).as_deref(),
            Some("with run-queue waits taken out, concurrent's worst insert 450 µs vs 9.00 ms (papaya)\n")
        );
        assert_eq!(
            own_time_line(&[map("concurrent", None, None), maxima[1]]),
            None
        );
        assert_eq!(own_time_line(&maxima[1..]), None);
    }
}
