//! Where the child-process benches (`concurrent.rs`, `wrappers.rs`) put their results: a
//! child's report on stdout and its exit status ([`child_exit`]), the description of the machine
//! that every printed report and every CSV row carries, and the CSV files under
//! `target/hmap-bench/` ([`super::results_dir`]). Bench-only: the lab records its machine in
//! `lab/src/report.rs` and ends its children through its own error type.

use std::fs;
use std::process::ExitCode;
use std::thread;

use super::child::command_output;
use super::results_dir;

/// What every result row records about where it was measured.
pub(crate) struct Machine {
    cpu_model: String,
    logical_cpus: usize,
    rustc: String,
    git_commit: String,
    git_dirty: String,
}

impl Machine {
    /// Detects the machine and prints the report's first two lines: `<bench> (<label>)` with the
    /// implementations that run and the hasher, then the machine.
    pub(crate) fn print_header<'a>(
        bench: &str,
        label: &str,
        maps: impl IntoIterator<Item = &'a str>,
    ) -> Machine {
        let machine = Machine::detect();
        println!(
            "{bench} ({label}): maps {}; hasher {}; u64 keys (splitmix64), value = key",
            maps.into_iter().collect::<Vec<_>>().join(", "),
            super::hasher_name()
        );
        println!("machine: {}", machine.describe());
        machine
    }

    /// Reads the CPU model, the logical CPU count, `rustc -V` and the git state of this checkout.
    ///
    /// The commit is read at run time (`unknown` where git cannot run), unlike the lab, which
    /// records the commit it was built from (`lab/build.rs`). A bench binary is built and run by
    /// one `cargo bench` in the same tree, so the two agree unless the tree changes between the
    /// build and the run. Recording it at build time would take a build script on the `hmap`
    /// package that watches `.git`, and every commit would then rebuild the library and every
    /// test, bench and lab binary on top of it (tried in session 25: a build script's rerun
    /// recompiles its package even when its output is unchanged).
    pub(crate) fn detect() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown", |(_, model)| model.trim())
            .replace(',', ";");
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        let repo = env!("CARGO_MANIFEST_DIR");
        Machine {
            cpu_model,
            logical_cpus: thread::available_parallelism().map_or(0, |n| n.get()),
            rustc: command_output(&rustc, &["-V"]).unwrap_or_else(|| "unknown".to_owned()),
            git_commit: command_output("git", &["-C", repo, "rev-parse", "HEAD"])
                .unwrap_or_else(|| "unknown".to_owned()),
            git_dirty: command_output("git", &["-C", repo, "status", "--porcelain"])
                .map_or_else(|| "unknown".to_owned(), |s| (!s.is_empty()).to_string()),
        }
    }

    /// One line for the report header.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} ({} logical CPUs), {}, commit {} (dirty: {})",
            self.cpu_model, self.logical_cpus, self.rustc, self.git_commit, self.git_dirty
        )
    }

    /// Column names of [`Machine::csv_cells`].
    pub(crate) const CSV_COLUMNS: &'static str =
        "cpu_model,logical_cpus,rustc,git_commit,git_dirty";

    /// The machine's cells of a CSV row (no commas inside a cell).
    pub(crate) fn csv_cells(&self) -> String {
        format!(
            "{},{},{},{},{}",
            self.cpu_model,
            self.logical_cpus,
            self.rustc.replace(',', ";"),
            self.git_commit,
            self.git_dirty
        )
    }
}

/// Writes `contents` to `name` under [`results_dir`] and prints the path.
pub(crate) fn write_csv(name: &str, contents: &str) -> Result<(), String> {
    let dir = results_dir();
    let path = dir.join(name);
    fs::create_dir_all(&dir)
        .and_then(|()| fs::write(&path, contents))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Ends a child process of bench `bench`, run as `<command> <args>`: its report line(s) on stdout
/// and success, or the failure on stderr (naming the child's command line) and a failed exit.
pub(crate) fn child_exit(
    result: Result<String, String>,
    bench: &str,
    command: &str,
    args: &[String],
) -> ExitCode {
    match result {
        Ok(lines) => {
            println!("{lines}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{bench}: {command} {}: {message}", args.join(" "));
            ExitCode::FAILURE
        }
    }
}
