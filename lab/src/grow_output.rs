//! The growth experiment's output: `grow.json`, `grow.csv` (a row per run, the machine and
//! command in the last columns), `grow_series.csv` (the plot's data), the table of medians with
//! the ratios that answer the experiment's question, and `grow.svg` (one panel per map, the
//! slowest insert of each chunk against the insert number, log scale). `render` serves both a
//! live run and `hmap-lab report`.

use std::fmt::Write as _;

use crate::conc::ConcKind;
use crate::grow::{GrowResult, GrowRun, Series, SizeResult, CONCURRENT};
use crate::measure::{format_ns, median};
use crate::plot::{self, Line, LinePanel};
use crate::report::{Csv, Output};
use crate::LabError;

/// Columns of `grow.csv`, before the machine columns.
const CSV_COLUMNS: [&str; 24] = [
    "map",
    "group",
    "repetition",
    "keys",
    "readers",
    "p50_ns",
    "p99_ns",
    "p9999_ns",
    "max_ns",
    "mean_ns",
    "cpu_max_ns",
    "untimed_total_ns",
    "timed_loop_ns",
    "reader_gets",
    "reader_p50_ns",
    "reader_p99_ns",
    "reader_p9999_ns",
    "reader_max_ns",
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
        format!("{:.1}", run.mean_ns),
        o(run.cpu_max_ns),
        o(run.untimed_total_ns),
        run.timed_loop_ns.to_string(),
        o(run.reader_gets),
        o(run.reader_p50_ns),
        o(run.reader_p99_ns),
        o(run.reader_p9999_ns),
        o(run.reader_max_ns),
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
    for size in &result.sizes {
        ui.out(&format!("\n{} keys:", size.keys));
        ui.out(&table(size));
        let name = if result.sizes.len() == 1 {
            "grow.svg".to_owned()
        } else {
            format!("grow_{}.svg", size.keys)
        };
        let path = out.path(&name);
        plot::lines(
            &path,
            &format!(
                "Per-insert latency while growing from empty to {} keys",
                size.keys
            ),
            &panels(size, result.plan.readers),
            PANEL_HEIGHT,
        )
        .map_err(|e| LabError::Failed(format!("cannot draw {}: {e}", path.display())))?;
        ui.wrote(&path);
    }
    ui.out(LEGEND);
    Ok(())
}

/// Height of one map's panel in `grow.svg`.
const PANEL_HEIGHT: u32 = 190;

/// The legend under the growth table.
const LEGEND: &str = "\
columns: medians over repetitions. p50..max = one insert's latency, each including one clock-read pair;
max CPU = the worst insert by the thread's CPU clock (separate process; descheduled time left out);
total = all inserts without clock reads (single-threaded maps, separate process) or the timed writer loop (concurrent maps);
reader p99 / max = one get by a reader thread while the map grows (histogram, ~3%; exact max);
B/e = resident bytes per entry after the last insert and at the peak. concurrent = hmap::ConcurrentHashMap.
grow.svg: per map, the slowest insert of each chunk; single-threaded maps also by thread CPU time (from the
max-CPU process: kernel time such as page faults counts, descheduled time does not), the line that shows
a stop-the-world rehash on a noisy machine.";

/// Medians per map, one line each, then the ratios that answer the experiment's question.
fn table(size: &SizeResult) -> String {
    let mut names: Vec<(&str, &str)> = Vec::new();
    for run in &size.runs {
        if !names.iter().any(|(n, _)| *n == run.map) {
            names.push((&run.map, &run.group));
        }
    }
    let mut out = format!(
        "{:<17} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6}\n",
        "map", "p50", "p99", "p99.99", "max", "max CPU", "total", "r p99", "r max", "B/e", "peak"
    );
    // (name, wall max, cpu max, reader max)
    let mut maxima: Vec<(&str, f64, Option<f64>, Option<f64>)> = Vec::new();
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
        maxima.push((name, max, cpu, reader_max));
        let label = if *group == CONCURRENT && runs[0].readers > 0 {
            format!("{name} +{}r", runs[0].readers)
        } else {
            (*name).to_owned()
        };
        let _ = writeln!(
            out,
            "{:<17} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6.1} {:>6.1}",
            label,
            format_ns(med(&|r| r.p50_ns as f64)),
            format_ns(med(&|r| r.p99_ns as f64)),
            format_ns(med(&|r| r.p9999_ns as f64)),
            format_ns(max),
            cell(cpu),
            format_ns(med(
                &|r| r.untimed_total_ns.unwrap_or(r.timed_loop_ns) as f64
            )),
            cell(med_opt(&|r| r.reader_p99_ns)),
            cell(reader_max),
            med(&|r| r.bytes_per_entry_end),
            med(&|r| r.bytes_per_entry_peak),
        );
    }
    let find = |name: &str| maxima.iter().find(|m| m.0 == name);
    if let (Some(h), Some(b)) = (find("hmap"), find("hashbrown")) {
        let cpu = match (h.2, b.2) {
            (Some(hc), Some(bc)) if hc > 0.0 => format!(
                ", 1/{:.0} by CPU time ({} vs {})",
                bc / hc,
                format_ns(hc),
                format_ns(bc)
            ),
            _ => String::new(),
        };
        if h.1 > 0.0 {
            let _ = writeln!(
                out,
                "hmap's worst insert is 1/{:.0} of hashbrown's ({} vs {}){cpu}",
                b.1 / h.1,
                format_ns(h.1),
                format_ns(b.1)
            );
        }
    }
    if let Some(c) = find("concurrent") {
        let peers: Vec<_> = maxima
            .iter()
            .filter(|m| ConcKind::PEERS.iter().any(|p| p.name() == m.0))
            .collect();
        if let Some(best) = peers.iter().min_by(|a, b| a.1.total_cmp(&b.1)) {
            let _ = write!(
                out,
                "concurrent's worst insert: {} vs {} for the best peer ({})",
                format_ns(c.1),
                format_ns(best.1),
                best.0
            );
            let best_reader = peers
                .iter()
                .filter_map(|m| m.3.map(|r| (m.0, r)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let (Some(cr), Some((peer, pr))) = (c.3, best_reader) {
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
    out
}

/// The plot's panels: one per map (repetition 1), single-threaded maps first, all on the same
/// log y axis, so that a stop-the-world rehash stands out as a spike above the map's band.
fn panels(size: &SizeResult, readers: usize) -> Vec<LinePanel> {
    let scale = if size.keys >= 2_000_000 { 1e6 } else { 1e3 };
    let unit = if scale == 1e6 { "M" } else { "K" };
    let series: Vec<&Series> = size
        .series
        .iter()
        .filter(|s| s.repetition == 1 && !s.max_ns.is_empty())
        .collect();
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
            LinePanel {
                title: if s.group == CONCURRENT {
                    format!(
                        "{} with {readers} concurrent reader(s): slowest insert of each {} (log scale)",
                        s.map, s.chunk
                    )
                } else {
                    format!("{}: slowest insert of each {} (log scale)", s.map, s.chunk)
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
