//! Result files: the output directory, the facts that make a number reproducible (machine,
//! toolchain, commit, hasher, exact command line), and the CSV and JSON writers. No serde: the
//! JSON is small and flat enough to write by hand.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::measure::{Run, Summary, CSV_HEADER};

/// What one `grow` invocation was, for the JSON file.
#[derive(Debug)]
pub(crate) struct Experiment<'a> {
    pub(crate) command_line: &'a [String],
    pub(crate) timestamp: &'a str,
    pub(crate) keys: usize,
    pub(crate) repeat: usize,
    pub(crate) maps: &'a [&'a str],
    pub(crate) hasher: &'a str,
    pub(crate) timer_overhead_ns: u64,
    pub(crate) elapsed_s: f64,
}

/// The current UTC time as `YYYYMMDDTHHMMSSZ`, safe in a file name.
pub(crate) fn utc_timestamp() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// restricted to dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Creates `dir` and checks that a file can be written in it, before any experiment runs.
pub(crate) fn prepare_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let probe = dir.join(".hmap-lab-write-test");
    fs::write(&probe, b"")?;
    fs::remove_file(&probe)
}

/// Writes `grow.csv` (one row per repetition) and `grow.json` (everything) into `dir`.
pub(crate) fn write_grow(
    dir: &Path,
    experiment: &Experiment<'_>,
    summaries: &[Summary],
    runs: &[Run],
) -> io::Result<Vec<PathBuf>> {
    let csv_path = dir.join("grow.csv");
    let mut csv = format!("{CSV_HEADER}\n");
    for run in runs {
        csv += &run.csv_row();
        csv.push('\n');
    }
    fs::write(&csv_path, csv)?;

    let json_path = dir.join("grow.json");
    fs::write(&json_path, grow_json(experiment, summaries, runs))?;
    Ok(vec![csv_path, json_path])
}

fn grow_json(experiment: &Experiment<'_>, summaries: &[Summary], runs: &[Run]) -> String {
    let git_commit = command_output("git", &["rev-parse", "HEAD"]);
    let git_dirty = command_output("git", &["status", "--porcelain"]).map(|s| !s.is_empty());
    let rustc = command_output(
        &std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()),
        &["-V"],
    );
    let strings = |items: &[&str]| {
        format!(
            "[{}]",
            items
                .iter()
                .map(|s| json_string(s))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let args: Vec<&str> = experiment.command_line.iter().map(String::as_str).collect();

    let mut json = String::from("{\n");
    let mut field = |name: &str, value: String| {
        let _ = writeln!(json, "  {}: {value},", json_string(name));
    };
    field("experiment", json_string("grow"));
    field("timestamp_utc", json_string(experiment.timestamp));
    field("command_line", strings(&args));
    field("command", json_string(&args.join(" ")));
    field("keys", experiment.keys.to_string());
    field("repeat", experiment.repeat.to_string());
    field("maps", strings(experiment.maps));
    field(
        "key_generator",
        json_string("splitmix64 hit keys, value = key (benches/common/keys.rs)"),
    );
    field("hasher", json_string(experiment.hasher));
    field(
        "build_profile",
        json_string(if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }),
    );
    field(
        "timer_overhead_ns",
        experiment.timer_overhead_ns.to_string(),
    );
    field("elapsed_s", format!("{:.3}", experiment.elapsed_s));
    field("machine", machine_json());
    field("rustc", json_option(rustc.as_deref()));
    field("git_commit", json_option(git_commit.as_deref()));
    field(
        "git_dirty",
        git_dirty.map_or("null".to_owned(), |d| d.to_string()),
    );
    let summary_items: Vec<String> = summaries
        .iter()
        .map(|s| {
            format!(
                "{{\"map\": {}, \"repetitions\": {}, \"p50_ns\": {:.1}, \"p99_ns\": {:.1}, \"p9999_ns\": {:.1}, \
                 \"max_ns\": {:.1}, \"cpu_max_ns\": {:.1}, \"untimed_total_ns\": {:.1}, \"timed_loop_ns\": {:.1}, \
                 \"bytes_per_entry_end\": {:.2}, \"bytes_per_entry_peak\": {:.2}}}",
                json_string(&s.map),
                s.repetitions,
                s.p50_ns,
                s.p99_ns,
                s.p9999_ns,
                s.max_ns,
                s.cpu_max_ns,
                s.untimed_total_ns,
                s.timed_loop_ns,
                s.bytes_per_entry_end,
                s.bytes_per_entry_peak
            )
        })
        .collect();
    field(
        "summary",
        format!("[\n    {}\n  ]", summary_items.join(",\n    ")),
    );
    let columns: Vec<&str> = CSV_HEADER.split(',').collect();
    let run_items: Vec<String> = runs
        .iter()
        .map(|run| {
            let values = run.csv_row();
            let pairs: Vec<String> = columns
                .iter()
                .zip(values.split(','))
                .map(|(column, value)| match *column {
                    "map" => format!("\"map\": {}", json_string(value)),
                    _ => format!("{}: {value}", json_string(column)),
                })
                .collect();
            format!("{{{}}}", pairs.join(", "))
        })
        .collect();
    let _ = writeln!(
        json,
        "  \"runs\": [\n    {}\n  ]\n}}",
        run_items.join(",\n    ")
    );
    json
}

/// CPU model, logical CPUs, total memory, OS and architecture.
fn machine_json() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .and_then(|rest| rest.split_once(':'))
        })
        .map(|(_, model)| model.trim().to_owned());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kb = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        });
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{{\"cpu_model\": {}, \"logical_cpus\": {cpus}, \"memory_total_kb\": {}, \"os\": {}, \"arch\": {}}}",
        json_option(cpu_model.as_deref()),
        memory_kb.map_or("null".to_owned(), |kb| kb.to_string()),
        json_string(std::env::consts::OS),
        json_string(std::env::consts::ARCH)
    )
}

/// The trimmed stdout of a command that succeeded; `None` if it is missing or failed.
fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn json_option(value: Option<&str>) -> String {
    value.map_or("null".to_owned(), json_string)
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_from_days_matches_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_783), (2026, 11, 26));
    }

    #[test]
    fn json_string_escapes_quotes_backslashes_and_controls() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
