//! The growth experiment: for each map and repetition, a timed child process (every insert
//! timed, resident memory before and after) and an untimed one (total time only), then a table
//! of medians, the ratio of hmap's worst pause to hashbrown's, and CSV + JSON on disk.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::maps::{self, MapKind, MapList};
use crate::measure::{self, Run, Summary};
use crate::{keys, report, LabError};

#[derive(Debug, Args)]
pub(crate) struct GrowArgs {
    /// Keys to insert into each map, from empty (suffixes K and M accepted: 200K, 4M). 4M is just
    /// past hashbrown's growth at 3,670,017 keys, so its largest resize is in the run.
    #[arg(long, value_name = "N", default_value = "4M", value_parser = parse_positive)]
    pub(crate) keys: usize,
    /// Maps to compare, comma-separated (accepted: hmap, hashbrown, std).
    #[arg(long, value_name = "LIST", default_value = "hmap,hashbrown,std", value_parser = maps::parse_map_list)]
    pub(crate) maps: MapList,
    /// Repetitions per map, each in a fresh process; the table shows medians. Two keep the
    /// default tour near a minute on 2 cores.
    #[arg(long, value_name = "R", default_value = "2", value_parser = parse_positive)]
    pub(crate) repeat: usize,
    /// Directory for grow.csv and grow.json [default: lab-results/YYYYMMDDTHHMMSSZ, UTC now].
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

fn parse_positive(text: &str) -> Result<usize, String> {
    keys::parse_count(text)
}

pub(crate) fn run(args: &GrowArgs, command_line: &[String]) -> Result<(), LabError> {
    let timestamp = report::utc_timestamp();
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("lab-results").join(&timestamp));
    report::prepare_dir(&out_dir).map_err(|e| {
        LabError::Usage(format!(
            "--out {}: not a writable directory ({e})",
            out_dir.display()
        ))
    })?;
    if cfg!(debug_assertions) {
        eprintln!("hmap-lab: warning: debug build, timings mean little; use `cargo run --release -p hmap-lab`");
    }

    let names: Vec<&str> = args.maps.0.iter().map(|kind| kind.name()).collect();
    println!(
        "grow: {} u64 keys from empty into {} ({} repetition(s) each, every one in its own process)",
        args.keys,
        names.join(", "),
        args.repeat
    );
    println!("hasher: {}", maps::hasher_name());
    let timer_overhead_ns = measure::timer_overhead_ns();
    println!("timer overhead (empty Instant pair, median): {timer_overhead_ns} ns");

    let started = Instant::now();
    let mut runs: Vec<Run> = Vec::new();
    for kind in &args.maps.0 {
        for repetition in 1..=args.repeat {
            let run = measure::run_repetition(kind.name(), repetition, args.keys)
                .map_err(LabError::Failed)?;
            eprintln!(
                "  {} {repetition}/{}: max pause {}, total {}",
                kind.name(),
                args.repeat,
                measure::format_ns(run.timed.latency.unwrap_or_default().max_ns as f64),
                measure::format_ns(run.untimed_ns as f64)
            );
            runs.push(run);
        }
    }
    let elapsed = started.elapsed();

    let summaries = Summary::per_map(&runs);
    print!(
        "\n{}",
        measure::format_table(&summaries, MapKind::Hashbrown.name())
    );
    println!("{}", measure::TABLE_LEGEND);
    let max_of = |kind: MapKind| {
        summaries
            .iter()
            .find(|s| s.map == kind.name())
            .map(|s| (s.max_ns, s.cpu_max_ns))
    };
    if let (Some(hmap), Some(hashbrown)) = (max_of(MapKind::Hmap), max_of(MapKind::Hashbrown)) {
        if hashbrown.0 > 0.0 && hashbrown.1 > 0.0 {
            println!(
                "hmap max pause / hashbrown max pause = {:.4} wall ({} vs {}), {:.4} CPU time ({} vs {})",
                hmap.0 / hashbrown.0,
                measure::format_ns(hmap.0),
                measure::format_ns(hashbrown.0),
                hmap.1 / hashbrown.1,
                measure::format_ns(hmap.1),
                measure::format_ns(hashbrown.1)
            );
        }
    }

    let experiment = report::Experiment {
        command_line,
        timestamp: &timestamp,
        keys: args.keys,
        repeat: args.repeat,
        maps: &names,
        hasher: &maps::hasher_name(),
        timer_overhead_ns,
        elapsed_s: elapsed.as_secs_f64(),
    };
    let written = report::write_grow(&out_dir, &experiment, &summaries, &runs).map_err(|e| {
        LabError::Failed(format!(
            "cannot write results to {}: {e}",
            out_dir.display()
        ))
    })?;
    for path in written {
        println!("wrote {}", path.display());
    }
    println!("experiment time: {:.1} s", elapsed.as_secs_f64());
    Ok(())
}
