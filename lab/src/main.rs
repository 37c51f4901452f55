//! `hmap-lab`: every experiment on hmap one command away, with tables, plots and a stress runner.
//!
//! - no command, or `tour`: the seed article's crash program on every map, the growth
//!   experiment (hmap vs hashbrown and std; `ConcurrentHashMap` with a reader vs papaya and
//!   scc), and the wrappers on the read-mostly workload, in about a minute (`tour.rs`);
//! - `grow`, `throughput`, `stress`, `crash`, `wrappers`, `layout`: one experiment each, one
//!   module each; `report` redraws saved results (`rerender.rs`).
//!
//! Every experiment writes CSV and JSON (machine, rustc, commit, hasher, command line:
//! `report.rs`) and SVG plots (`plot.rs`) under `lab-results/<UTC timestamp>/` or `--out`.
//! Measurements that need a clean process run in child processes (`child`): this executable
//! re-invoked with a hidden command. The measurement code is shared with `benches/` by path
//! (`benches/common/`: `keys.rs`, `measure.rs`, `read_mostly.rs`, the concurrent maps
//! `conc_maps.rs` with the throughput mixes `mixes.rs` and the growth runs `conc_grow.rs`, and
//! the child-process protocol `child.rs`), so both tools measure in one way.
//!
//! Exit status: 0 on success; 1 when an experiment failed or found a violation; 2 for bad input
//! (one line on stderr naming the problem and the accepted values); 130 when SIGINT, SIGTERM or
//! SIGHUP stopped a run (`interrupt.rs`: `stress`, `grow`, `throughput` and `wrappers` save what
//! they measured, the tour its index of the parts that ran; the experiments that run child
//! processes kill theirs).
#![allow(
    clippy::disallowed_types,
    reason = "the sync facade of clippy.toml is for the library, so that loom can swap its atomics; the lab uses std's"
)]

#[allow(
    dead_code,
    reason = "shared with the benches; the lab starts its children with run_watched (interrupt::run_child)"
)]
#[path = "../../benches/common/child.rs"]
mod child;
#[allow(dead_code, reason = "shared with the benches, which use more of it")]
#[path = "../../benches/common/conc_grow.rs"]
mod conc_grow;
#[allow(dead_code, reason = "shared with the benches, which use more of it")]
#[path = "../../benches/common/conc_maps.rs"]
mod conc_maps;
#[allow(dead_code, reason = "shared with the benches, which use more of it")]
#[path = "../../benches/common/keys.rs"]
mod keys;
#[allow(dead_code, reason = "shared with the benches, which use more of it")]
#[path = "../../benches/common/measure.rs"]
#[allow(
    unsafe_code,
    reason = "one libc call reads the thread CPU clock (SAFETY comment at the site)"
)]
mod measure;
#[allow(dead_code, reason = "shared with the benches, which use more of it")]
#[path = "../../benches/common/mixes.rs"]
mod mixes;
#[allow(dead_code, reason = "shared with the benches, which use more of it")]
#[path = "../../benches/common/read_mostly.rs"]
mod read_mostly;

mod args;
mod conc;
mod crash;
mod grow;
mod grow_output;
mod interrupt;
mod layout;
mod maps;
mod plot;
mod report;
mod rerender;
mod shared;
mod stress;
mod stress_round;
mod throughput;
mod tour;
mod ui;
mod workers;
mod wrappers;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use crate::report::Output;
use crate::ui::Ui;

/// First argument of a single-threaded growth child:
/// `__child <map> <timed|untimed|cputimed> <keys> [points]`.
pub(crate) const SEQ_CHILD: &str = "__child";

/// A child gets this long before it is killed and its cell reported as failed.
pub(crate) const CHILD_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Parser)]
#[command(
    name = "hmap-lab",
    version,
    about = "Experiments on hmap (Go 1.22's map in Rust): growth latency, throughput, stress, the seed's crash program, the Go-pattern wrappers, the header layout",
    after_help = "With no command, runs the tour (about a minute on 2 cores). Results go to lab-results/<UTC timestamp>/ unless --out is given."
)]
struct Cli {
    /// Print no tables and no progress: only the paths of the files written, and errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Directory for the result files.
    #[arg(
        long,
        value_name = "DIR",
        global = true,
        help = "Directory for the result files [default: lab-results/<UTC timestamp>]"
    )]
    out: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The tour (the default): crash program, growth experiment, wrappers, in about a minute.
    Tour(tour::TourArgs),
    /// Time every insert from empty: hmap vs hashbrown and std, ConcurrentHashMap (with readers) vs papaya and scc.
    Grow(grow::GrowArgs),
    /// The conc-map-bench mixes (ReadHeavy, Exchange, RapidGrow, RapidGrow from empty) over threads and maps.
    Throughput(throughput::ThroughputArgs),
    /// Mixed operations on N threads for a duration, every result checked; exits 1 on any violation.
    Stress(stress::StressArgs),
    /// The seed article's crash program (writers and readers on one map) on FailFastMap and every safe map.
    Crash(crash::CrashArgs),
    /// The Go-pattern wrappers on the article's read-mostly workload (QPS, mean, p99).
    Wrappers(wrappers::WrappersArgs),
    /// The header's field offsets next to Go's, and a live map's header through one doubling.
    Layout(layout::LayoutArgs),
    /// Re-render the tables and plots of saved results.
    Report(rerender::ReportArgs),
    #[command(name = "__child", hide = true)]
    SeqChild {
        map: String,
        mode: String,
        keys: String,
        #[arg(default_value_t = 0)]
        points: usize,
    },
    #[command(name = "__cgrow", hide = true)]
    ConcGrowChild {
        map: String,
        keys: String,
        readers: usize,
        points: usize,
    },
    #[command(name = "__cell", hide = true)]
    MixChild {
        mix: String,
        map: String,
        threads: usize,
        log2: u32,
    },
    #[command(name = "__wcell", hide = true)]
    WrapperChild {
        map: String,
        threads: usize,
        ops: usize,
        keys: usize,
        write_pct: u32,
    },
}

/// Why a command failed, which decides the exit status.
#[derive(Debug)]
pub(crate) enum LabError {
    /// The input was wrong: status 2.
    Usage(String),
    /// The experiment could not run or finish, or found a violation: status 1.
    Failed(String),
    /// A signal stopped the run (`interrupt.rs`): status 130.
    Interrupted(String),
}

fn main() -> ExitCode {
    // `args_os`: a path that is not UTF-8 is a path all the same (`args` would panic). The
    // copy in the result files is for people, so lossy is fine there.
    let command_line: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let cli = match Cli::try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e),
    };
    match run(cli, command_line) {
        Ok(()) => ExitCode::SUCCESS,
        Err(LabError::Usage(message)) => {
            eprintln!("hmap-lab: {message}");
            ExitCode::from(2)
        }
        Err(LabError::Failed(message)) => {
            eprintln!("hmap-lab: {message}");
            ExitCode::FAILURE
        }
        Err(LabError::Interrupted(message)) => {
            eprintln!("hmap-lab: {message}");
            ExitCode::from(interrupt::EXIT_STATUS)
        }
    }
}

/// `--help` and `--version` as clap prints them; any other parse error as one line, status 2.
fn clap_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        kind => {
            let rendered = e.to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            let first = first.trim_start_matches("error: ");
            let hint = match kind {
                ErrorKind::InvalidSubcommand => {
                    let names: Vec<String> = Cli::command()
                        .get_subcommands()
                        .filter(|c| !c.is_hide_set())
                        .map(|c| c.get_name().to_owned())
                        .collect();
                    format!(" (accepted: {})", names.join(", "))
                }
                ErrorKind::UnknownArgument
                | ErrorKind::MissingRequiredArgument
                | ErrorKind::TooManyValues => " (see hmap-lab [COMMAND] --help)".to_owned(),
                _ => String::new(),
            };
            eprintln!("hmap-lab: {first}{hint}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli, command_line: Vec<String>) -> Result<(), LabError> {
    // The commands that stop cleanly on a signal; the others, and the children, keep the
    // default action (a child dies with its terminal's Ctrl-C, or is killed by its parent).
    if matches!(
        cli.command,
        None | Some(
            Command::Tour(_)
                | Command::Grow(_)
                | Command::Throughput(_)
                | Command::Stress(_)
                | Command::Wrappers(_)
        )
    ) {
        interrupt::install();
    }
    let ui = Ui::new(cli.quiet);
    let output = |dir: Option<PathBuf>| Output::new(ui, dir, command_line.clone());
    match cli.command {
        None => tour::run(&tour::TourArgs { quick: false }, &output(cli.out)?),
        Some(Command::Tour(args)) => tour::run(&args, &output(cli.out)?),
        Some(Command::Grow(args)) => grow::run(&args, &output(cli.out)?),
        Some(Command::Throughput(args)) => throughput::run(&args, &output(cli.out)?),
        Some(Command::Stress(args)) => stress::run(&args, &output(cli.out)?),
        Some(Command::Crash(args)) => crash::run(&args, &output(cli.out)?),
        Some(Command::Wrappers(args)) => wrappers::run(&args, &output(cli.out)?),
        Some(Command::Layout(args)) => layout::run(&args, &output(cli.out)?),
        Some(Command::Report(args)) => {
            let dir = rerender::input_dir(&args)?;
            rerender::run(&dir, &output(Some(cli.out.unwrap_or_else(|| dir.clone())))?)
        }
        Some(Command::SeqChild {
            map,
            mode,
            keys,
            points,
        }) => maps::child(&map, &mode, &keys, points),
        Some(Command::ConcGrowChild {
            map,
            keys,
            readers,
            points,
        }) => grow::child(&map, &keys, readers, points),
        Some(Command::MixChild {
            mix,
            map,
            threads,
            log2,
        }) => throughput::child(&mix, &map, threads, log2),
        Some(Command::WrapperChild {
            map,
            threads,
            ops,
            keys,
            write_pct,
        }) => wrappers::child(&map, threads, ops, keys, write_pct),
    }
}
