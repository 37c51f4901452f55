//! Result files: where they go, the facts that make a number reproducible (machine, the toolchain
//! and the commit the binary was built with and from, hasher, exact command line: [`Meta`], in
//! every JSON file and as the last columns of
//! every row of the tables, `crash.csv`, `grow.csv` and the others; `grow_series.csv`, the
//! points of the growth plot, leaves them to `grow.json`), and the writers. JSON is written from, and read back into (`report`), the
//! same serde structs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::child::command_output;
use crate::ui::Ui;
use crate::{maps, LabError};

/// Where one invocation writes, how loud it is, and how it was called.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) ui: Ui,
    /// The results directory (created and checked writable before any experiment runs).
    pub(crate) dir: PathBuf,
    /// The exact command line, program name first.
    pub(crate) command_line: Vec<String>,
    /// When the invocation started, `YYYYMMDDTHHMMSSZ`.
    pub(crate) timestamp: String,
    /// The checkout's HEAD when the invocation started, if it is not the commit the binary was
    /// built from ([`Meta::run_time_head`]).
    pub(crate) run_time_head: Option<String>,
    /// Whether this invocation made `dir` (the default `lab-results/<timestamp>`), so that it is
    /// removed again if nothing was written into it (see `Drop`).
    made_dir: bool,
}

/// A run that wrote nothing into the results directory it made (bad input found by the
/// experiment itself, a failure before the first file) leaves no empty
/// `lab-results/<timestamp>` behind. `remove_dir` removes only an empty directory, and a
/// directory given with `--out` is never removed.
impl Drop for Output {
    fn drop(&mut self) {
        if self.made_dir {
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

impl Output {
    /// Prepares `dir` (default `lab-results/<timestamp>`); an unwritable one is a usage error.
    pub(crate) fn new(
        ui: Ui,
        dir: Option<PathBuf>,
        command_line: Vec<String>,
    ) -> Result<Output, LabError> {
        let timestamp = utc_timestamp();
        let made_dir = dir.is_none();
        let dir = match dir {
            Some(dir) => dir,
            None => fresh_dir(&PathBuf::from("lab-results").join(&timestamp)).map_err(|e| {
                LabError::Usage(format!(
                    "cannot create a results directory under lab-results ({e}); give one with --out DIR"
                ))
            })?,
        };
        prepare_dir(&dir).map_err(|e| {
            LabError::Usage(format!(
                "--out {}: not a writable directory ({e}); give a directory you can write, e.g. --out /tmp/lab",
                dir.display()
            ))
        })?;
        let run_time_head = run_time_head(BUILT_FROM);
        if let Some(head) = &run_time_head {
            eprintln!(
                "hmap-lab: warning: this binary was built from {}, but the checkout {} is now at {}; \
                 the results record both (rebuild to measure the checkout)",
                short_commit(BUILT_FROM),
                Path::new(REPO)
                    .canonicalize()
                    .unwrap_or_else(|_| PathBuf::from(REPO))
                    .display(),
                short_commit(head)
            );
        }
        Ok(Output {
            ui,
            dir,
            command_line,
            timestamp,
            run_time_head,
            made_dir,
        })
    }

    /// The facts about this run, for experiment `experiment` that took `elapsed_s`.
    pub(crate) fn meta(&self, experiment: &str, elapsed_s: f64) -> Meta {
        Meta {
            experiment: experiment.to_owned(),
            lab_version: env!("CARGO_PKG_VERSION").to_owned(),
            timestamp_utc: self.timestamp.clone(),
            command: self.command_line.join(" "),
            command_line: self.command_line.clone(),
            machine: Machine::detect(),
            rustc: Some(BUILT_WITH.to_owned()),
            built_from: Some(BUILT_FROM.to_owned()),
            run_time_head: self.run_time_head.clone(),
            git_commit: None,
            git_dirty: None,
            hasher: maps::hasher_name(),
            key_generator: "splitmix64 hit keys (benches/common/keys.rs)".to_owned(),
            build_profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
            elapsed_s,
            interrupted: crate::interrupt::requested(),
        }
    }

    /// Writes `value` as pretty JSON to `<dir>/<name>` and reports the path.
    pub(crate) fn write_json<T: Serialize>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<PathBuf, LabError> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| LabError::Failed(format!("cannot encode {name}: {e}")))?;
        self.write_text(name, &(text + "\n"))
    }

    /// Writes `text` to `<dir>/<name>` and reports the path.
    pub(crate) fn write_text(&self, name: &str, text: &str) -> Result<PathBuf, LabError> {
        let path = self.dir.join(name);
        fs::write(&path, text)
            .map_err(|e| LabError::Failed(format!("cannot write {}: {e}", path.display())))?;
        self.ui.wrote(&path);
        Ok(path)
    }

    /// Reports a file written by someone else (the plots).
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Removes the plot `name` from the results directory, if it is there, when this result
    /// draws none (nothing to show): `report` renders a directory again in place, and a plot an
    /// earlier render (or an older lab) left there would pass for this result's.
    pub(crate) fn remove_stale(&self, name: &str) -> Result<(), LabError> {
        let path = self.dir.join(name);
        match fs::remove_file(&path) {
            Ok(()) => {
                self.ui.out(&format!(
                    "removed {} (an earlier render's plot; this result has nothing to plot)",
                    path.display()
                ));
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LabError::Failed(format!(
                "cannot remove the stale {}: {e}",
                path.display()
            ))),
        }
    }
}

/// What makes a result reproducible: which experiment, how it was called, where and on what.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Meta {
    pub(crate) experiment: String,
    pub(crate) lab_version: String,
    pub(crate) timestamp_utc: String,
    /// The command line as one string (arguments joined by spaces).
    pub(crate) command: String,
    pub(crate) command_line: Vec<String>,
    pub(crate) machine: Machine,
    /// `rustc -V` of the compiler that built the lab binary ([`BUILT_WITH`]). Files written
    /// before `built_from` existed have the `rustc -V` found when the run started instead.
    pub(crate) rustc: Option<String>,
    /// The commit the lab binary was built from ([`BUILT_FROM`]): `git rev-parse HEAD` when it
    /// was built, `-dirty` appended when tracked files differed from it, `unknown` when it was
    /// not built from a git checkout. `None` only in files written before it existed (they have
    /// `git_commit`).
    #[serde(default)]
    pub(crate) built_from: Option<String>,
    /// The checkout's HEAD when the run started, recorded only when it is not the commit in
    /// `built_from` (the binary was built before a checkout, a pull or a commit; a warning said
    /// so on stderr).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) run_time_head: Option<String>,
    /// Files written before `built_from` existed only (read, never written): the checkout's
    /// HEAD when the run started, which was not necessarily what the binary was built from.
    #[serde(default, skip_serializing)]
    pub(crate) git_commit: Option<String>,
    /// Files written before `built_from` existed only (read, never written): uncommitted
    /// changes in the checkout when the run started.
    #[serde(default, skip_serializing)]
    pub(crate) git_dirty: Option<bool>,
    pub(crate) hasher: String,
    pub(crate) key_generator: String,
    pub(crate) build_profile: String,
    /// Wall time of the experiment, seconds.
    pub(crate) elapsed_s: f64,
    /// Whether a signal had stopped the run when this was recorded (at its end), so that every
    /// CSV row says so too (since session 30: before, only the JSON did; a review).
    #[serde(default)]
    pub(crate) interrupted: bool,
}

impl Meta {
    /// The CSV columns every row ends with.
    pub(crate) const CSV_COLUMNS: [&'static str; 9] = [
        "interrupted",
        "cpu_model",
        "logical_cpus",
        "memory_total_kb",
        "rustc",
        "built_from",
        "run_time_head",
        "hasher",
        "command",
    ];

    fn csv_cells(&self) -> Vec<String> {
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            self.interrupted.to_string(),
            or_empty(&self.machine.cpu_model),
            self.machine.logical_cpus.to_string(),
            self.machine
                .memory_total_kb
                .map_or(String::new(), |kb| kb.to_string()),
            or_empty(&self.rustc),
            or_empty(&self.built_from),
            or_empty(&self.run_time_head),
            self.hasher.clone(),
            self.command.clone(),
        ]
    }

    /// One line for the top of a table: machine, toolchain, commit.
    pub(crate) fn describe(&self) -> String {
        let commit = match (&self.built_from, &self.run_time_head) {
            (Some(built), Some(head)) => format!(
                "built from {} (checkout at {} when run)",
                short_commit(built),
                short_commit(head)
            ),
            (Some(built), None) => format!("built from {}", short_commit(built)),
            // Written before `built_from` existed: the checkout when the run started.
            (None, _) => format!(
                "commit {}{}",
                self.git_commit
                    .as_deref()
                    .map_or("?".to_owned(), short_commit),
                if self.git_dirty == Some(true) {
                    " (dirty)"
                } else {
                    ""
                }
            ),
        };
        format!(
            "{} ({} logical CPUs, {} GiB), {}, {commit}",
            self.machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
            self.machine.logical_cpus,
            self.machine
                .memory_total_kb
                .map_or("?".to_owned(), |kb| format!(
                    "{:.0}",
                    kb as f64 / 1_048_576.0
                )),
            self.rustc.as_deref().unwrap_or("rustc ?"),
        )
    }
}

/// The commit this binary was built from, `-dirty` appended if the tree had changes, or
/// `unknown` (`build.rs`).
pub(crate) const BUILT_FROM: &str = env!("HMAP_LAB_BUILT_FROM");

/// `rustc -V` of the compiler that built this binary, or `unknown` (`build.rs`).
pub(crate) const BUILT_WITH: &str = env!("HMAP_LAB_RUSTC");

/// The checkout this binary was built in (the workspace root), where [`run_time_head`] looks.
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The commit `REPO`'s HEAD is at now, if it is not the commit in `built_from` (whose `-dirty`
/// marker is left out of the comparison); `None` when it is, or when `REPO` is no longer a git
/// checkout (the binary was copied elsewhere, or built from a tarball).
fn run_time_head(built_from: &str) -> Option<String> {
    let answer = command_output("git", &["-C", REPO, "rev-parse", "--show-toplevel", "HEAD"])?;
    let mut lines = answer.lines();
    let (top, head) = (lines.next()?, lines.next()?.trim());
    // A tarball unpacked inside some other checkout is not that checkout.
    if Path::new(top).canonicalize().ok()? != Path::new(REPO).canonicalize().ok()? {
        return None;
    }
    let built = built_from.strip_suffix("-dirty").unwrap_or(built_from);
    (head != built).then(|| head.to_owned())
}

/// A commit as tables show it: the first 7 hex digits, and `-dirty` if marked so; anything
/// else (`unknown`) as it is.
fn short_commit(commit: &str) -> String {
    let (hash, dirty) = match commit.strip_suffix("-dirty") {
        Some(hash) => (hash, "-dirty"),
        None => (commit, ""),
    };
    if hash.len() >= 7 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("{}{dirty}", &hash[..7])
    } else {
        commit.to_owned()
    }
}

/// CPU model, logical CPUs, memory, OS, architecture and kernel.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Machine {
    pub(crate) cpu_model: Option<String>,
    pub(crate) logical_cpus: usize,
    pub(crate) memory_total_kb: Option<u64>,
    pub(crate) os: String,
    pub(crate) arch: String,
    pub(crate) kernel: Option<String>,
}

impl Machine {
    pub(crate) fn detect() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
            .map(|(_, model)| model.trim().to_owned());
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_total_kb = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            });
        Machine {
            cpu_model,
            logical_cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_total_kb,
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_owned()),
        }
    }
}

/// A CSV file being built: a header, then rows, each ending with the [`Meta`] columns. Cells
/// with a comma, a quote or a line break are quoted (RFC 4180).
#[derive(Debug)]
pub(crate) struct Csv {
    text: String,
    meta: Vec<String>,
}

impl Csv {
    pub(crate) fn new(columns: &[&str], meta: &Meta) -> Csv {
        let mut header: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
        header.extend(Meta::CSV_COLUMNS.iter().map(|c| (*c).to_owned()));
        let mut csv = Csv {
            text: String::new(),
            meta: meta.csv_cells(),
        };
        csv.line(&header);
        csv
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.extend(self.meta.iter().cloned());
        self.line(&cells);
    }

    fn line(&mut self, cells: &[String]) {
        let quoted: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        self.text += &quoted.join(",");
        self.text.push('\n');
    }

    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Probes made by this process so far.
    static PROBES: AtomicUsize = AtomicUsize::new(0);
    fs::create_dir_all(dir)?;
    // One name per process and call: runs sharing `--out`, or two threads of one process (the
    // unit tests) probing one directory, would otherwise remove each other's probe.
    // ORDERING: Relaxed; only the value's uniqueness matters, which fetch_add gives.
    let n = PROBES.fetch_add(1, Ordering::Relaxed);
    let probe = dir.join(format!(".hmap-lab-write-test-{}-{n}", std::process::id()));
    fs::write(&probe, b"")?;
    fs::remove_file(&probe)
}

/// Creates `base`, or `base-2`, `base-3`, ... if it exists: the timestamp has one-second
/// resolution, and two runs in the same second must not write into one directory.
fn fresh_dir(base: &Path) -> io::Result<PathBuf> {
    if let Some(parent) = base.parent() {
        fs::create_dir_all(parent)?;
    }
    let (mut dir, mut n) = (base.to_path_buf(), 1);
    loop {
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {
                n += 1;
                let mut name = base.as_os_str().to_owned();
                name.push(format!("-{n}"));
                dir = PathBuf::from(name);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The newest directory under `lab-results/`: see [`latest_results_dir_in`].
pub(crate) fn latest_results_dir() -> Option<PathBuf> {
    latest_results_dir_in(Path::new("lab-results"))
}

/// The newest results directory under `root` that the lab named itself (`<UTC timestamp>`, or
/// `<UTC timestamp>-N` for the N-th run in the same second), ordered by timestamp and then N
/// as a number, so that `-10` comes after `-9`; a directory named otherwise (`baseline`) is
/// chosen only when there is no such directory, then the largest name. Before session 22 the
/// largest name always won, so `baseline` beat every timestamp (a black-box test).
fn latest_results_dir_in(root: &Path) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    let runs = dirs.iter().filter_map(|path| {
        let order = run_order(path.file_name()?.to_str()?)?;
        Some((order, path))
    });
    match runs.max_by(|a, b| a.0.cmp(&b.0)) {
        Some((_, path)) => Some(path.clone()),
        None => dirs.into_iter().max(),
    }
}

/// Where a directory name the lab made sorts among runs: its timestamp, then its suffix (1 for
/// none); `None` for names the lab does not make.
fn run_order(name: &str) -> Option<(&str, u32)> {
    let (stamp, n) = match name.split_once('-') {
        Some((stamp, n)) => (stamp, n.parse().ok()?),
        None => (name, 1),
    };
    let bytes = stamp.as_bytes();
    let is_stamp = bytes.len() == 16
        && bytes[8] == b'T'
        && bytes[15] == b'Z'
        && bytes[..8]
            .iter()
            .chain(&bytes[9..15])
            .all(u8::is_ascii_digit);
    is_stamp.then_some((stamp, n))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn civil_from_days_matches_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_783), (2026, 11, 26));
    }

    /// A path under the system's temporary directory, named for `name` and this process, with
    /// nothing there (the caller creates it if it needs it).
    pub(crate) fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hmap-lab-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    /// A plot this result does not draw goes, if an earlier render left one; nothing else does,
    /// and a second removal (nothing there) is no error.
    #[test]
    fn remove_stale_removes_only_the_named_plot() {
        let dir = scratch("stale");
        fs::create_dir_all(&dir).unwrap();
        let out = Output::new(Ui::new(true), Some(dir.clone()), vec![]).unwrap();
        fs::write(dir.join("throughput.svg"), "<svg/>").unwrap();
        fs::write(dir.join("throughput.json"), "{}").unwrap();
        out.remove_stale("throughput.svg").unwrap();
        assert!(!dir.join("throughput.svg").exists());
        assert!(dir.join("throughput.json").exists());
        out.remove_stale("throughput.svg").unwrap();
        let _ = fs::remove_dir_all(&dir);
    }

    /// Threads of one process probing one directory at once (the unit tests that make an
    /// `Output` in the temporary directory) must not remove each other's probe.
    #[test]
    fn threads_probing_one_directory_do_not_collide() {
        let dir = scratch("probes");
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..500 {
                        prepare_dir(&dir).expect("a writable directory");
                    }
                });
            }
        });
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_latest_results_directory_is_the_newest_run_not_the_largest_name() {
        let root = scratch("latest");
        for name in [
            "20251231T235959Z",
            "20260101T000000Z",
            "20260101T000000Z-9",
            "20260101T000000Z-10",
            "baseline",
        ] {
            fs::create_dir_all(root.join(name)).unwrap();
        }
        assert_eq!(
            latest_results_dir_in(&root),
            Some(root.join("20260101T000000Z-10"))
        );
        // With no directory the lab named, the largest name.
        let other = scratch("latest-other");
        for name in ["alpha", "baseline"] {
            fs::create_dir_all(other.join(name)).unwrap();
        }
        assert_eq!(latest_results_dir_in(&other), Some(other.join("baseline")));
        assert_eq!(latest_results_dir_in(&other.join("missing")), None);
        let _ = fs::remove_dir_all(&root);
        let _ = fs::remove_dir_all(&other);
    }

    #[test]
    fn default_results_directories_made_in_one_second_differ() {
        let root = scratch("fresh");
        let base = root.join("20260101T000000Z");
        let made: Vec<PathBuf> = (0..3).map(|_| fresh_dir(&base).unwrap()).collect();
        assert_eq!(
            made,
            [
                base.clone(),
                root.join("20260101T000000Z-2"),
                root.join("20260101T000000Z-3")
            ]
        );
        assert!(made.iter().all(|d| d.is_dir()));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_write_probe_leaves_other_processes_probes_alone() {
        let dir = scratch("probe");
        fs::create_dir_all(&dir).unwrap();
        // What another run's probe, or an older lab's, may have left there just now.
        let theirs = dir.join(".hmap-lab-write-test");
        fs::write(&theirs, b"").unwrap();
        prepare_dir(&dir).unwrap();
        assert!(theirs.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn commits_are_shortened_with_their_dirty_marker() {
        let hash = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(short_commit(hash), "0123456");
        assert_eq!(short_commit(&format!("{hash}-dirty")), "0123456-dirty");
        assert_eq!(short_commit("unknown"), "unknown");
    }

    #[test]
    fn the_build_time_commit_and_compiler_are_recorded() {
        assert!(
            BUILT_WITH.starts_with("rustc ") || BUILT_WITH == "unknown",
            "{BUILT_WITH}"
        );
        let hash = BUILT_FROM.strip_suffix("-dirty").unwrap_or(BUILT_FROM);
        assert!(
            BUILT_FROM == "unknown"
                || (hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_hexdigit())),
            "{BUILT_FROM}"
        );
    }

    #[test]
    fn result_files_from_before_built_from_still_parse_and_describe_their_commit() {
        // The meta of a session 22 result file: run-time `git_commit` and `git_dirty`.
        let old = r#"{
            "experiment": "stress", "lab_version": "0.1.0", "timestamp_utc": "20261128T120000Z",
            "command": "hmap-lab stress", "command_line": ["hmap-lab", "stress"],
            "machine": {"cpu_model": "AMD EPYC", "logical_cpus": 2, "memory_total_kb": 4000000,
                        "os": "linux", "arch": "x86_64", "kernel": "6.1"},
            "rustc": "rustc 1.95.0 (59807616e 2026-04-14)",
            "git_commit": "fdbbf3b000000000000000000000000000000000", "git_dirty": true,
            "hasher": "foldhash", "key_generator": "splitmix64", "build_profile": "release",
            "elapsed_s": 1.5
        }"#;
        let meta: Meta = serde_json::from_str(old).unwrap();
        assert_eq!(meta.built_from, None);
        assert!(
            meta.describe().ends_with("commit fdbbf3b (dirty)"),
            "{}",
            meta.describe()
        );
        // Written again, it no longer claims a run-time commit is the build's.
        let written = serde_json::to_value(&meta).unwrap();
        assert!(written.get("git_commit").is_none() && written.get("run_time_head").is_none());
    }

    #[test]
    fn csv_cells_are_quoted_only_when_needed() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
