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

/// The saved index of a tour (`tour.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct TourResult {
    pub(crate) meta: Meta,
    pub(crate) quick: bool,
    /// Seconds per part: crash, grow, wrappers.
    pub(crate) parts: Vec<(String, f64)>,
    /// Every file the tour wrote, relative to its directory.
    pub(crate) files: Vec<String>,
    pub(crate) failures: Vec<String>,
}

pub(crate) fn run(args: &TourArgs, out: &Output) -> Result<(), LabError> {
    let started = Instant::now();
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
    let mut parts = Vec::new();
    let mut failures = Vec::new();

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
        failures.push(message);
    }
    parts.push(("crash".to_owned(), t0.elapsed().as_secs_f64()));
    if interrupt::requested() {
        return Err(LabError::Interrupted(
            "tour: interrupted after the crash program (its files are written)".to_owned(),
        ));
    }

    ui.out("\n== 2/3  growth: every insert timed, from empty ==");
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
    failures.extend(result.failures.iter().cloned());
    parts.push(("grow".to_owned(), t0.elapsed().as_secs_f64()));

    ui.out("\n== 3/3  the wrappers on the article's read-mostly workload ==");
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
    failures.extend(result.failures.iter().cloned());
    parts.push(("wrappers".to_owned(), t0.elapsed().as_secs_f64()));

    let mut files: Vec<String> = fs::read_dir(&out.dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| !name.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    files.push("tour.json".to_owned());
    files.sort();
    let result = TourResult {
        meta: out.meta("tour", started.elapsed().as_secs_f64()),
        quick,
        parts,
        files,
        failures,
    };
    out.write_json("tour.json", &result)?;
    render_summary(&result, out);
    if result.failures.is_empty() {
        Ok(())
    } else {
        Err(LabError::Failed(format!(
            "tour: {}",
            result.failures.join("; ")
        )))
    }
}

/// The tour's closing summary: where everything is, and what to run next.
pub(crate) fn render_summary(result: &TourResult, out: &Output) {
    let times: Vec<String> = result
        .parts
        .iter()
        .map(|(name, s)| format!("{name} {s:.1} s"))
        .collect();
    out.ui.out(&format!(
        "\n== written to {} ==\n{}\ntables: crash.csv grow.csv wrappers.csv (a row per run, machine/commit/command in the last columns); \
         JSON: everything, with the machine, rustc, commit, hasher and command line; plots: grow.svg wrappers.svg\n\
         tour time {:.1} s ({}){}\n\
         next: hmap-lab grow|throughput|stress|crash|wrappers|layout --help; `hmap-lab report {}` redraws the tables and plots",
        out.dir.display(),
        result.files.join(" "),
        result.meta.elapsed_s,
        times.join(", "),
        if result.failures.is_empty() { String::new() } else { format!("\nFAILURES: {}", result.failures.join("; ")) },
        out.dir.display()
    ));
}
