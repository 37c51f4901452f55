//! The tour: what `cargo run --release` (no arguments) shows, in about a minute on 2 cores.
//!
//! 1. The seed article's crash program on `FailFastMap` (the caught panic, Go's message), then
//!    on every safe map (the correct final state): `crash.rs`.
//! 2. The headline growth experiment, every insert timed from empty to 2M keys: hmap against
//!    hashbrown and std, and `ConcurrentHashMap` with a concurrent reader against papaya and
//!    scc; a table and `grow.svg`: `grow.rs`.
//! 3. The wrappers on the article's read-mostly workload (QPS, mean, p99): `wrappers.rs`.
//! 4. Where everything was written (`tour.json` lists it).
//!
//! `--quick` shrinks every part to a few seconds (for tests and CI); the output files are the
//! same.
//!
//! A signal (`interrupt.rs`) ends the part it comes in as that experiment ends on its own: the
//! crash program runs to its end (in-process threads, seconds at most), the growth experiment
//! and the wrappers kill their child and save the runs and maps measured before, marked
//! `interrupted`. No later part starts; `tour.json` is still written for the parts that ran,
//! with `interrupted: true`, the part the signal stopped (`interrupted_part`) and the parts that
//! did not start (`not_run`), and the exit status is 130 (1 if a part failed).

use std::fs;
use std::time::Instant;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::crash::{self, CrashPlan};
use crate::grow::{self, GrowPlan};
use crate::grow_output;
use crate::report::{Meta, Output};
use crate::shared::SharedKind;
use crate::wrappers::{self, WrappersPlan};
use crate::{interrupt, LabError};

/// Keys in the tour's growth experiment: just past hashbrown's resize at 1,835,009 keys (2^21
/// buckets, 7/8 full), so its largest stop-the-world rehash is in the run, and half of `grow`'s
/// default (4M) to keep the tour near a minute on 2 cores.
const TOUR_KEYS: usize = 2_000_000;

#[derive(Debug, Args)]
pub(crate) struct TourArgs {
    /// A reduced tour (a few seconds, small sizes): for tests and CI. The files are the same.
    #[arg(long)]
    pub(crate) quick: bool,
}

/// The tour's parts, in the order they run.
const PARTS: [&str; 3] = ["crash", "grow", "wrappers"];

/// The saved index of a tour (`tour.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct TourResult {
    pub(crate) meta: Meta,
    pub(crate) quick: bool,
    /// Seconds per part that started (crash, grow, wrappers), the one a signal stopped included.
    pub(crate) parts: Vec<(String, f64)>,
    /// Every file the tour wrote, relative to its directory.
    pub(crate) files: Vec<String>,
    pub(crate) failures: Vec<String>,
    /// A signal stopped the tour (`interrupt.rs`). This and the two fields after it are absent
    /// (false, none, empty) in files from before they existed.
    #[serde(default)]
    pub(crate) interrupted: bool,
    /// The part the signal stopped part-way, which ended as that experiment ends on a signal:
    /// `grow` or `wrappers` (its file marked interrupted). None when the signal came during the
    /// crash program, which runs to its end, or between parts.
    #[serde(default)]
    pub(crate) interrupted_part: Option<String>,
    /// The parts that did not start because of the signal.
    #[serde(default)]
    pub(crate) not_run: Vec<String>,
}

pub(crate) fn run(args: &TourArgs, out: &Output) -> Result<(), LabError> {
    let started = Instant::now();
    // Files older than this are not this tour's (`files` below).
    let started_at = std::time::SystemTime::now();
    let quick = args.quick;
    let ui = &out.ui;
    ui.out(&format!(
        "hmap-lab tour{}: Go 1.22's map in Rust, three experiments; results in {}\nmachine: {}\n",
        if quick {
            " (--quick: reduced sizes)"
        } else {
            ""
        },
        out.dir.display(),
        out.meta("tour", 0.0).describe()
    ));
    let mut progress = Progress::default();

    ui.out("== 1/3  the seed article's crash program ==");
    let t0 = Instant::now();
    let plan = CrashPlan {
        writers: 10,
        readers: 10,
        iterations: if quick { 100 } else { 1000 },
        rounds: 100,
        maps: SharedKind::ALL
            .iter()
            .map(|k| k.name().to_owned())
            .collect(),
    };
    let result = crash::measure_plan(&plan, out)?;
    crash::render(&result, out);
    crash::save(&result, out)?;
    if let Err(LabError::Failed(message) | LabError::Usage(message)) = crash::check(&result) {
        progress.failures.push(message);
    }
    progress
        .parts
        .push(("crash".to_owned(), t0.elapsed().as_secs_f64()));

    if !interrupt::requested() {
        ui.out("\n== 2/3  growth: every insert timed, from empty ==");
        grow_part(quick, out, &mut progress)?;
    }
    if !interrupt::requested() {
        ui.out("\n== 3/3  the wrappers on the article's read-mostly workload ==");
        wrappers_part(quick, out, &mut progress)?;
    }
    let Progress {
        parts,
        failures,
        stopped,
    } = progress;

    // The files this tour wrote: those written since it started. The directory may hold an
    // earlier run's files, which would pass for this tour's output (a review in session 31
    // found an old `wrappers.json` listed by an interrupted tour that never ran the wrappers,
    // and `tour.json` twice).
    let mut files: Vec<String> = fs::read_dir(&out.dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|modified| modified >= started_at)
                })
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| !name.starts_with('.') && name != "tour.json")
                .collect()
        })
        .unwrap_or_default();
    files.push("tour.json".to_owned());
    files.sort();
    let interrupted = interrupt::requested();
    let result = TourResult {
        meta: out.meta("tour", started.elapsed().as_secs_f64()),
        quick,
        // Empty unless a signal stopped the tour before its last part.
        not_run: PARTS
            .iter()
            .skip(parts.len())
            .map(|&part| part.to_owned())
            .collect(),
        parts,
        files,
        failures,
        interrupted,
        interrupted_part: stopped.as_ref().map(|(part, _)| (*part).to_owned()),
    };
    out.write_json("tour.json", &result)?;
    render_summary(&result, out, &out.dir);
    let mut saved = String::new();
    if let Some((part, message)) = &stopped {
        saved += &format!("stopped in {part} ({message}); ");
    }
    if !result.not_run.is_empty() {
        saved += &format!("not run: {}; ", result.not_run.join(", "));
    }
    saved += "see tour.json";
    interrupt::conclude(
        "tour",
        result.interrupted.then(|| {
            let complete = result
                .parts
                .len()
                .saturating_sub(usize::from(stopped.is_some()));
            (
                result.meta.elapsed_s,
                format!("{complete} of {} part(s)", PARTS.len()),
            )
        }),
        (!result.failures.is_empty()).then(|| result.failures.join("; ")),
        &saved,
    )
}

/// What the parts so far left: their times, their failures, and the part a signal stopped
/// part-way with the message that experiment ends with on its own.
#[derive(Default)]
struct Progress {
    parts: Vec<(String, f64)>,
    failures: Vec<String>,
    stopped: Option<(&'static str, String)>,
}

impl Progress {
    /// Records a part that ran since `t0`, saved its files and reported `failures`; `stopped`
    /// is set if `interruption` says a signal stopped it (its failures are the tour's own, so
    /// only the interruption is asked of `interrupt::conclude`).
    fn finish(
        &mut self,
        part: &'static str,
        t0: Instant,
        failures: &[String],
        interruption: Option<(f64, String)>,
        saved: &str,
    ) {
        self.failures.extend(failures.iter().cloned());
        if let Err(LabError::Interrupted(message)) =
            interrupt::conclude(part, interruption, None, saved)
        {
            self.stopped = Some((part, message));
        }
        self.parts
            .push((part.to_owned(), t0.elapsed().as_secs_f64()));
    }
}

/// Part 2, the growth experiment. A signal stops it as it stops `grow`: the running child is
/// killed, the runs measured before are saved, marked interrupted.
fn grow_part(quick: bool, out: &Output, progress: &mut Progress) -> Result<(), LabError> {
    let t0 = Instant::now();
    let plan = GrowPlan {
        keys: vec![if quick { 50_000 } else { TOUR_KEYS }],
        maps: ["hmap", "hashbrown", "std", "concurrent", "papaya", "scc"]
            .map(str::to_owned)
            .to_vec(),
        readers: 1,
        repeat: 1,
        points: if quick { 200 } else { 1000 },
    };
    let result = grow::measure_plan(&plan, out)?;
    grow_output::render(&result, out)?;
    grow_output::save(&result, out)?;
    progress.finish(
        "grow",
        t0,
        &result.failures,
        grow::interruption(&result),
        grow::SAVED,
    );
    Ok(())
}

/// Part 3, the wrappers. A signal stops them as it stops `wrappers`: the maps measured before
/// are saved, marked interrupted.
fn wrappers_part(quick: bool, out: &Output, progress: &mut Progress) -> Result<(), LabError> {
    let t0 = Instant::now();
    let plan = WrappersPlan {
        maps: SharedKind::ALL
            .iter()
            .map(|k| k.name().to_owned())
            .collect(),
        threads: if quick { 8 } else { 64 },
        ops_per_thread: if quick { 200 } else { 2_000 },
        keys: 1_000,
        write_pct: 5,
        repeat: 1,
    };
    let result = wrappers::measure_plan(&plan, out)?;
    wrappers::render(&result, out)?;
    wrappers::save(&result, out)?;
    progress.finish(
        "wrappers",
        t0,
        &result.failures,
        wrappers::interruption(&result),
        wrappers::SAVED,
    );
    Ok(())
}

/// The tour's closing summary: where everything is (`results_dir`: the tour's own directory,
/// or the one `report` reads, whose plots it redraws into `out.dir`), and what to run next.
pub(crate) fn render_summary(result: &TourResult, out: &Output, results_dir: &std::path::Path) {
    let times: Vec<String> = result
        .parts
        .iter()
        .map(|(name, s)| format!("{name} {s:.1} s"))
        .collect();
    let mut interrupted = String::new();
    if result.interrupted {
        interrupted += "\nINTERRUPTED by a signal";
        if let Some(part) = &result.interrupted_part {
            interrupted += &format!(" during {part}");
        }
        if !result.not_run.is_empty() {
            interrupted += &format!("; not run: {}", result.not_run.join(", "));
        }
    }
    // After a signal some of the files below are missing; the list above them is what exists.
    let guide = if result.interrupted {
        "tables (.csv): a row per run, machine/commit/command in the last columns; JSON: everything, \
         with the machine, rustc, commit, hasher and command line; plots (.svg): those of the parts that ran"
            .to_owned()
    } else {
        format!(
            "tables: crash.csv grow.csv wrappers.csv (a row per run, machine/commit/command in the last columns); \
             JSON: everything, with the machine, rustc, commit, hasher and command line; plots: {}",
            plots(&result.files)
        )
    };
    // Until session 30 (a review) a `report --out OTHER` of a tour named OTHER as holding the
    // tour's files, and suggested a `report` of it, which found nothing there.
    let heading = if results_dir == out.dir.as_path() {
        format!("written to {}", results_dir.display())
    } else {
        format!(
            "files of {} (its plots redrawn into {})",
            results_dir.display(),
            out.dir.display()
        )
    };
    out.ui.out(&format!(
        "\n== {heading} ==\n{}\n{guide}\n\
         tour time {:.1} s ({}){}{}\n\
         next: hmap-lab grow|throughput|stress|crash|wrappers|layout --help; `hmap-lab report {}` redraws the tables and plots",
        result.files.join(" "),
        result.meta.elapsed_s,
        times.join(", "),
        if result.failures.is_empty() { String::new() } else { format!("\nFAILURES: {}", result.failures.join("; ")) },
        interrupted,
        results_dir.display()
    ));
}

/// The plots among `files`, as the summary names them: a part whose runs all failed drew none,
/// and the summary must not name a plot that is not there.
fn plots(files: &[String]) -> String {
    let svgs: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|name| name.ends_with(".svg"))
        .collect();
    if svgs.is_empty() {
        "none".to_owned()
    } else {
        svgs.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::wrappers::WrappersResult;

    /// `result` as the lab writes it now, less the `fields` that older files lack.
    fn without(result: &impl Serialize, fields: &[&str]) -> serde_json::Value {
        let mut value = serde_json::to_value(result).unwrap();
        for field in fields {
            assert!(
                value.as_object_mut().unwrap().remove(*field).is_some(),
                "{field}"
            );
        }
        value
    }

    #[test]
    fn the_summary_names_only_the_plots_that_were_drawn() {
        let files = |names: &[&str]| names.iter().map(|&n| n.to_owned()).collect::<Vec<_>>();
        assert_eq!(
            plots(&files(&["crash.csv", "grow.json", "wrappers.svg"])),
            "wrappers.svg"
        );
        assert_eq!(
            plots(&files(&["grow.svg", "tour.json", "wrappers.svg"])),
            "grow.svg wrappers.svg"
        );
        assert_eq!(plots(&files(&["tour.json"])), "none");
    }

    #[test]
    fn tour_and_wrappers_files_from_before_the_interrupted_marker_still_parse() {
        let meta = |experiment| {
            Output::new(crate::ui::Ui::new(true), Some(std::env::temp_dir()), vec![])
                .unwrap()
                .meta(experiment, 1.0)
        };
        let tour = TourResult {
            meta: meta("tour"),
            quick: true,
            parts: vec![("crash".to_owned(), 0.1)],
            files: vec!["tour.json".to_owned()],
            failures: Vec::new(),
            interrupted: true,
            interrupted_part: Some("grow".to_owned()),
            not_run: vec!["wrappers".to_owned()],
        };
        let old = without(&tour, &["interrupted", "interrupted_part", "not_run"]);
        let read: TourResult = serde_json::from_value(old).unwrap();
        assert!(!read.interrupted && read.interrupted_part.is_none() && read.not_run.is_empty());
        assert_eq!(read.parts, tour.parts);

        let wrappers = WrappersResult {
            meta: meta("wrappers"),
            plan: WrappersPlan {
                maps: vec!["sync".to_owned()],
                threads: 1,
                ops_per_thread: 1,
                keys: 1,
                write_pct: 5,
                repeat: 1,
            },
            timer_overhead_ns: 20,
            rows: Vec::new(),
            failures: Vec::new(),
            interrupted: true,
        };
        let read: WrappersResult =
            serde_json::from_value(without(&wrappers, &["interrupted"])).unwrap();
        assert!(!read.interrupted);
        assert_eq!(read.plan, wrappers.plan);
    }
}
