//! `hmap-lab`: experiments on hmap that a benchmark harness cannot express.
//!
//! - `grow` (also what a bare `hmap-lab` runs): every insert from empty timed, for hmap,
//!   hashbrown and std, each repetition in a fresh child process; a table on stdout, CSV and
//!   JSON (with machine, toolchain and commit) under `lab-results/<timestamp>/`.
//! - `layout`: hmap's header next to Go 1.22's `hmap` offsets, then a live map's header after
//!   each insert through the doubling from B = 4 to B = 5.
//!
//! The inputs and the measurement method are shared with `benches/grow_latency.rs`: this crate
//! includes `benches/common/keys.rs` and `benches/common/measure.rs` by path. Bad input prints
//! one line on stderr and exits with status 2; a failed experiment exits with status 1.

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

mod grow;
mod layout;
mod maps;
mod report;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hmap-lab",
    version,
    about = "Experiments on hmap (Go 1.22's map in Rust): growth latency and header layout",
    after_help = "With no command, runs `grow` with its defaults."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Time every insert from empty for each map, each repetition in its own process (default).
    Grow(grow::GrowArgs),
    /// Print hmap's header layout next to Go's, then a live map's header through one doubling.
    Layout,
    /// Measure one run in this process and print one report line (spawned by `grow`).
    #[command(name = "__child", hide = true)]
    Child {
        map: String,
        mode: String,
        keys: String,
    },
}

/// Why a command failed, which decides the exit status.
#[derive(Debug)]
pub(crate) enum LabError {
    /// The input was wrong: status 2.
    Usage(String),
    /// The experiment could not run or finish: status 1.
    Failed(String),
}

fn main() -> ExitCode {
    let command_line: Vec<String> = std::env::args().collect();
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if args.len() == 1 {
        args.push("grow".into());
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            kind => {
                let rendered = e.to_string();
                let first = rendered
                    .lines()
                    .next()
                    .unwrap_or("error: invalid arguments");
                let accepted = if kind == ErrorKind::InvalidSubcommand {
                    " (accepted: grow, layout)"
                } else {
                    ""
                };
                eprintln!(
                    "hmap-lab: {}{accepted}",
                    first.trim_start_matches("error: ")
                );
                return ExitCode::from(2);
            }
        },
    };
    let result = match cli.command {
        Command::Grow(args) => grow::run(&args, &command_line),
        Command::Layout => {
            layout::run();
            Ok(())
        }
        Command::Child { map, mode, keys } => maps::child(&map, &mode, &keys),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(LabError::Usage(message)) => {
            eprintln!("hmap-lab: {message}");
            ExitCode::from(2)
        }
        Err(LabError::Failed(message)) => {
            eprintln!("hmap-lab: {message}");
            ExitCode::FAILURE
        }
    }
}
