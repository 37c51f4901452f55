//! Growth latency: what does one insert cost while the map grows from empty, and how long is the
//! worst pause? This is the point of Go's incremental evacuation: hmap should trade a slightly
//! higher median for a far shorter maximum than a stop-the-world rehash.
//!
//! Dimensions:
//! - **Implementations**: `hmap`, `hashbrown`, `std`, `griddle` (hashbrown with incremental
//!   resize, the closest published peer).
//! - **Workload**: insert hit keys `0..N` (splitmix64 `u64`s, value = key) one at a time into a
//!   map made with `new()`, timing each insert with a pair of `Instant::now()` calls.
//! - **Hasher**: foldhash `FixedState`, one seed for every map.
//! - **Size**: `N` = 8M keys (`HMAP_GROW_KEYS`, e.g. `2M`), `R` = 3 repetitions per map
//!   (`HMAP_GROW_REPEAT`), each repetition a fresh process.
//! - **Reported**: p50, p99, p99.99 and max single-insert latency, the largest single insert
//!   by the thread's CPU clock (`max CPU`, a third process), total insert time measured without
//!   per-insert clock reads, and resident bytes per entry (end and peak), medians over the
//!   repetitions.
//!
//! Criterion cannot time single calls, so this is a plain `main` (`harness = false`). It
//! re-invokes its own executable (`__child <map> <timed|untimed|cputimed> <keys>`) for every
//! measurement, so resident memory and allocator state are never shared between maps or
//! repetitions (`common/measure.rs` has the method). Results: a table on stdout and one CSV row
//! per repetition in `target/hmap-bench/grow_latency.csv`.
//!
//! Arguments: `--quick` (200K keys, 1 repetition), `--bench` (passed by `cargo bench`), and
//! positional filters that keep only maps whose name contains one of them. Without `--bench`
//! (`cargo test --benches`) it runs a 20K-key smoke test and writes no CSV. `--list` prints
//! nothing. Other criterion options are accepted and ignored.

#[allow(
    dead_code,
    reason = "each bench target uses a different part of common/"
)]
mod common;

use std::fs;
use std::hint::black_box;
use std::process::ExitCode;

use common::measure::{self, Mode, Run, RunRecord, Summary};
use common::{
    env_count, results_dir, BenchMap, GriddleMap, HarnessArgs, HashbrownMap, HmapMap, StdMap,
};

/// One implementation: its name and the monomorphized measurement that a child runs.
struct MapEntry {
    name: &'static str,
    measure: fn(Mode, usize) -> RunRecord,
}

/// The implementations, in report order.
const MAPS: [MapEntry; 4] = [
    MapEntry {
        name: HmapMap::NAME,
        measure: grow::<HmapMap>,
    },
    MapEntry {
        name: HashbrownMap::NAME,
        measure: grow::<HashbrownMap>,
    },
    MapEntry {
        name: StdMap::NAME,
        measure: grow::<StdMap>,
    },
    MapEntry {
        name: GriddleMap::NAME,
        measure: grow::<GriddleMap>,
    },
];

const DEFAULT_KEYS: usize = 8_000_000;
const DEFAULT_REPEAT: usize = 3;
const QUICK_KEYS: usize = 200_000;
const SMOKE_KEYS: usize = 20_000;

fn grow<M: BenchMap>(mode: Mode, keys: usize) -> RunRecord {
    measure::measure_growth(mode, keys, M::new, |map, key| {
        black_box(map.insert(key, key));
    })
}

/// How this invocation runs, from its arguments and the environment.
struct Plan {
    keys: usize,
    repeat: usize,
    maps: Vec<&'static MapEntry>,
    write_csv: bool,
    label: &'static str,
}

impl Plan {
    /// `None` when there is nothing to run (`--list`, `--help`).
    fn from_args(args: &[String]) -> Result<Option<Plan>, String> {
        let Some(cli) = HarnessArgs::parse(args, &[], || {
            "grow_latency [--quick] [MAP_FILTER...]; env HMAP_GROW_KEYS (default 8M), \
             HMAP_GROW_REPEAT (default 3); maps: hmap, hashbrown, std, griddle"
                .to_owned()
        }) else {
            return Ok(None);
        };
        let (smoke, quick) = (cli.smoke, cli.quick);
        let (default_keys, default_repeat, label) = if smoke {
            (SMOKE_KEYS, 1, "smoke test (cargo test --benches)")
        } else if quick {
            (QUICK_KEYS, 1, "quick")
        } else {
            (DEFAULT_KEYS, DEFAULT_REPEAT, "full")
        };
        let keys = env_count("HMAP_GROW_KEYS")?.unwrap_or(default_keys);
        let repeat = env_count("HMAP_GROW_REPEAT")?.unwrap_or(default_repeat);
        let maps = MAPS.iter().filter(|m| cli.selects(m.name)).collect();
        Ok(Some(Plan {
            keys,
            repeat,
            maps,
            write_csv: !smoke,
            label,
        }))
    }
}

/// The child side: `__child <map> <mode> <keys>`; prints one report line.
fn child(args: &[String]) -> ExitCode {
    let parsed = match args {
        [map, mode, keys] => MAPS
            .iter()
            .find(|m| m.name == map)
            .zip(Mode::parse(mode))
            .zip(common::keys::parse_count(keys).ok()),
        _ => None,
    };
    let Some(((entry, mode), keys)) = parsed else {
        eprintln!(
            "grow_latency: usage: {} <map> <timed|untimed> <keys>",
            measure::CHILD_COMMAND
        );
        return ExitCode::from(2);
    };
    println!("{}", (entry.measure)(mode, keys).to_line());
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(measure::CHILD_COMMAND) {
        return child(&args[1..]);
    }
    let plan = match Plan::from_args(&args) {
        Ok(Some(plan)) => plan,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("grow_latency: {message}");
            return ExitCode::from(2);
        }
    };
    if plan.maps.is_empty() {
        println!("grow_latency: no map matches the filter; nothing to run");
        return ExitCode::SUCCESS;
    }

    println!(
        "grow_latency ({}): {} u64 keys from empty, {} repetition(s) per map, each in its own process; hasher {}",
        plan.label,
        plan.keys,
        plan.repeat,
        common::hasher_name()
    );
    println!(
        "timer overhead (empty Instant pair, median): {} ns",
        measure::timer_overhead_ns()
    );
    let mut runs: Vec<Run> = Vec::new();
    for entry in &plan.maps {
        for repetition in 1..=plan.repeat {
            match measure::run_repetition(entry.name, repetition, plan.keys) {
                Ok(run) => {
                    eprintln!(
                        "  {} {repetition}/{}: max pause {}",
                        entry.name,
                        plan.repeat,
                        measure::format_ns(run.timed.latency.unwrap_or_default().max_ns as f64)
                    );
                    runs.push(run);
                }
                Err(message) => {
                    eprintln!("grow_latency: {message}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    print!(
        "\n{}",
        measure::format_table(&Summary::per_map(&runs), HashbrownMap::NAME)
    );
    println!("{}", measure::TABLE_LEGEND);

    if plan.write_csv {
        let dir = results_dir();
        let path = dir.join("grow_latency.csv");
        let mut csv = format!("{}\n", measure::CSV_HEADER);
        for run in &runs {
            csv += &run.csv_row();
            csv.push('\n');
        }
        if let Err(e) = fs::create_dir_all(&dir).and_then(|()| fs::write(&path, csv)) {
            eprintln!("grow_latency: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}
