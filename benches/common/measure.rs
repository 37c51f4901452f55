//! The growth-latency measurement core: time every insert into a map growing from empty, read
//! the process's resident memory around the loop, summarise the samples, and pass one run's
//! result from a child process to its parent as a single text line.
//!
//! Used by `benches/grow_latency.rs` and by the `hmap-lab` crate, which includes this file (and
//! `keys.rs`) with `#[path]` so that both tools measure in exactly one way. Std only: no map
//! crate is named here; callers pass a constructor and an insert closure.
//!
//! Method, and what it costs:
//! - Each insert sits between two `Instant::now()` calls (vDSO `clock_gettime` on Linux, about
//!   20 ns); `timer_overhead_ns` measures an empty pair so readers can subtract it by eye. Samples
//!   are `u32` nanoseconds, so a single pause saturates at about 4.29 s.
//! - The sample buffer is allocated and written before the baseline memory reading, so it is
//!   not counted in bytes per entry; keys are computed on the fly (`keys::hit_key`), never stored.
//! - Memory is `VmRSS` and `VmHWM` from `/proc/self/status` (the same counters as
//!   `/proc/self/statm`, already in kB). Both are process-wide, which is why every run happens
//!   in a fresh child process: no other map, allocator cache or earlier run shares the numbers.
//!   Off Linux the memory columns read 0.
//! - A third child (`Mode::CpuTimed`) reads the thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`, a
//!   system call, about 0.3 µs) around each insert and keeps only the largest: the worst pause
//!   the map itself caused, with time the thread spent descheduled (host steal, timer ticks,
//!   other processes) left out. On a shared VM the wall-clock maximum is dominated by such
//!   stalls (multi-millisecond spikes appear in every map, resizing or not), so both are reported.
//! - The timed child also keeps [`OwnMax`]: the worst insert with the thread's run-queue waits
//!   taken out, read from `/proc/thread-self/schedstat` every 1024 inserts and after each slow
//!   one (a system call, outside the timed spans), so no second process is needed for it. The
//!   CPU time of hmap's own `hmap-reclaimer` thread in each window stays in ([`ExcusedWait`]).
//!   The CPU-clock maximum cannot tell that thread from others: it leaves waits behind it out.

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::sync::atomic::{compiler_fence, Ordering};
use std::time::Instant;

use super::keys::hit_key;

/// Prefix of the one stdout line on which a child reports its run.
pub(crate) const RESULT_PREFIX: &str = "HMAP-RESULT";

/// What a child process measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every insert timed on its own: latency distribution and memory.
    Timed,
    /// The same inserts with no per-insert clock reads: total time only.
    Untimed,
    /// Every insert timed with the thread's CPU clock; only the maximum is kept.
    CpuTimed,
}

impl Mode {
    /// The name used on the child's command line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Timed => "timed",
            Mode::Untimed => "untimed",
            Mode::CpuTimed => "cputimed",
        }
    }

    /// Parses [`Mode::as_str`]'s output.
    pub(crate) fn parse(text: &str) -> Option<Mode> {
        match text {
            "timed" => Some(Mode::Timed),
            "untimed" => Some(Mode::Untimed),
            "cputimed" => Some(Mode::CpuTimed),
            _ => None,
        }
    }
}

/// Resident memory of this process, in kB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Memory {
    /// `VmRSS`: resident now.
    pub(crate) rss_kb: u64,
    /// `VmHWM`: the highest `VmRSS` so far.
    pub(crate) peak_kb: u64,
}

/// Reads `VmRSS` and `VmHWM` from `/proc/self/status`; zeros where that file does not exist.
pub(crate) fn read_memory() -> Memory {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Memory::default();
    };
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kb: field("VmRSS:"),
        peak_kb: field("VmHWM:"),
    }
}

/// Percentiles of one run's per-insert latencies, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct LatencySummary {
    /// Median insert.
    pub(crate) p50_ns: u64,
    /// 99th percentile.
    pub(crate) p99_ns: u64,
    /// 99.99th percentile.
    pub(crate) p9999_ns: u64,
    /// The longest single insert: the worst pause a caller saw.
    pub(crate) max_ns: u64,
    /// Mean insert.
    pub(crate) mean_ns: f64,
}

impl LatencySummary {
    /// Summarises `samples` (sorting them in place). Percentiles use the nearest-rank method.
    pub(crate) fn from_samples(samples: &mut [u32]) -> LatencySummary {
        if samples.is_empty() {
            return LatencySummary::default();
        }
        samples.sort_unstable();
        let rank = |q: f64| -> u64 {
            let index = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
            u64::from(samples[index])
        };
        let sum: u64 = samples.iter().map(|&s| u64::from(s)).sum();
        LatencySummary {
            p50_ns: rank(0.50),
            p99_ns: rank(0.99),
            p9999_ns: rank(0.9999),
            max_ns: u64::from(samples[samples.len() - 1]),
            mean_ns: sum as f64 / samples.len() as f64,
        }
    }
}

/// One map growing from empty to `keys` entries, as measured in one process.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RunRecord {
    /// Entries inserted.
    pub(crate) keys: u64,
    /// Wall time of the whole insert loop (in `Mode::Timed` this includes the clock reads).
    pub(crate) loop_ns: u64,
    /// Memory just before the first insert (the empty map already exists).
    pub(crate) before: Memory,
    /// Memory just after the last insert, with the map still alive.
    pub(crate) after: Memory,
    /// Per-insert latencies; `None` unless `Mode::Timed`.
    pub(crate) latency: Option<LatencySummary>,
    /// The longest single insert by the thread's CPU clock; `None` unless `Mode::CpuTimed`.
    pub(crate) cpu_max_ns: Option<u64>,
    /// The longest single insert by the wall clock with the thread's run-queue waits taken out
    /// ([`OwnMax`]); `None` unless `Mode::Timed` (or where the waits cannot be read).
    pub(crate) own_max_ns: Option<u64>,
}

impl RunRecord {
    /// Resident bytes per entry once all keys are in: `(VmRSS after − VmRSS before) / keys`.
    pub(crate) fn bytes_per_entry_end(&self) -> f64 {
        self.after.rss_kb.saturating_sub(self.before.rss_kb) as f64 * 1024.0
            / self.keys.max(1) as f64
    }

    /// Peak resident bytes per entry during the run: `(VmHWM after − VmRSS before) / keys`. The
    /// peak includes the moments when old and new bucket arrays both exist.
    pub(crate) fn bytes_per_entry_peak(&self) -> f64 {
        self.after.peak_kb.saturating_sub(self.before.rss_kb) as f64 * 1024.0
            / self.keys.max(1) as f64
    }

    /// The child's report line: the prefix, then `name=value` pairs separated by spaces.
    pub(crate) fn to_line(&self) -> String {
        let mut line = format!(
            "{RESULT_PREFIX} keys={} loop_ns={} rss_before_kb={} peak_before_kb={} rss_after_kb={} peak_after_kb={}",
            self.keys,
            self.loop_ns,
            self.before.rss_kb,
            self.before.peak_kb,
            self.after.rss_kb,
            self.after.peak_kb
        );
        if let Some(cpu_max_ns) = self.cpu_max_ns {
            line += &format!(" cpu_max_ns={cpu_max_ns}");
        }
        if let Some(own_max_ns) = self.own_max_ns {
            line += &format!(" own_max_ns={own_max_ns}");
        }
        if let Some(l) = &self.latency {
            line += &format!(
                " p50_ns={} p99_ns={} p9999_ns={} max_ns={} mean_ns={:.1}",
                l.p50_ns, l.p99_ns, l.p9999_ns, l.max_ns, l.mean_ns
            );
        }
        line
    }

    /// Parses [`RunRecord::to_line`]'s output; `None` if the line is not a complete report.
    pub(crate) fn parse_line(line: &str) -> Option<RunRecord> {
        let rest = line.trim().strip_prefix(RESULT_PREFIX)?;
        let pairs: Vec<(&str, &str)> = rest
            .split_whitespace()
            .filter_map(|p| p.split_once('='))
            .collect();
        let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let int = |name: &str| get(name)?.parse::<u64>().ok();
        let latency = match get("p50_ns") {
            None => None,
            Some(_) => Some(LatencySummary {
                p50_ns: int("p50_ns")?,
                p99_ns: int("p99_ns")?,
                p9999_ns: int("p9999_ns")?,
                max_ns: int("max_ns")?,
                mean_ns: get("mean_ns")?.parse().ok()?,
            }),
        };
        Some(RunRecord {
            keys: int("keys")?,
            loop_ns: int("loop_ns")?,
            before: Memory {
                rss_kb: int("rss_before_kb")?,
                peak_kb: int("peak_before_kb")?,
            },
            after: Memory {
                rss_kb: int("rss_after_kb")?,
                peak_kb: int("peak_after_kb")?,
            },
            latency,
            cpu_max_ns: int("cpu_max_ns"),
            own_max_ns: int("own_max_ns"),
        })
    }
}

/// The calling thread's CPU time in nanoseconds (0 where the clock is unavailable).
pub(crate) fn thread_cpu_ns() -> u64 {
    #[cfg(unix)]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable timespec; the clock id is a constant the kernel knows.
        let result = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        if result == 0 {
            return now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64;
        }
    }
    0
}

/// The calling thread's time spent runnable but not running (waiting on a CPU's run queue), in
/// nanoseconds: the second field of `/proc/thread-self/schedstat` (Linux with
/// `CONFIG_SCHED_INFO`). The file is opened once, by the thread it describes, and read with
/// `pread`, a system call of about 1-2 µs. `None` where it cannot be read.
pub(crate) struct RunQueueWait {
    #[cfg(target_os = "linux")]
    file: Option<std::fs::File>,
}

impl RunQueueWait {
    /// For the calling thread.
    pub(crate) fn for_this_thread() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            file: std::fs::File::open("/proc/thread-self/schedstat").ok(),
        }
    }

    /// The thread's total run-queue wait so far.
    pub(crate) fn read(&self) -> Option<u64> {
        #[cfg(target_os = "linux")]
        {
            schedstat_field(self.file.as_ref()?, 1)
        }
        #[cfg(not(target_os = "linux"))]
        None
    }
}

/// The largest latency of one thread's timed operations *with the time the thread waited on a
/// run queue during it taken out*: the worst pause the operation itself caused, leaving out the
/// other tasks that held the CPU meanwhile (on the 2-vCPU VM, the kernel's `kdamond` monitor
/// takes 1-8 ms of CPU every 500 ms, and scheduler ticks are 4 ms).
///
/// Reading the wait around every operation would cost a system call each, so the wait is read
/// every [`OwnMax::EVERY`] operations and after each operation slower than [`OwnMax::SLOW_NS`];
/// a slow operation is charged its own latency minus the wait accrued since the last reading
/// (at most its latency). A wait that fell between two operations of that window (outside every
/// timed span: the loop's own code, a few percent of its time) is therefore also taken off the
/// next slow operation; fast operations are taken as they are. Both readings lie outside the
/// timed spans. `None` where the wait cannot be read.
pub(crate) struct OwnMax<W = ExcusedWait> {
    /// Where the run-queue wait is read from.
    waits: W,
    /// The wait at the last reading.
    last: Option<u64>,
    /// Operations since the last reading.
    since: u32,
    max_ns: u64,
}

/// A source of a thread's total run-queue wait that may be taken out: [`ExcusedWait`], or a
/// script in tests.
pub(crate) trait WaitSource {
    fn read(&mut self) -> Option<u64>;
}

/// The name of the one background thread `hmap` starts (`src/raw/reclaim.rs`).
pub(crate) const HMAP_RECLAIMER: &str = "hmap-reclaimer";

/// The run-queue wait that [`OwnMax`] may take out of the calling thread's operations: its
/// run-queue wait less the CPU time the process's own [`HMAP_RECLAIMER`] thread used meanwhile,
/// summed window by window (between two readings), never below zero in a window.
///
/// The reclaimer unmaps and frees what hmap's growths let go of, work the peers do inline on
/// the measured threads. When it preempts the writer or a reader, that wait is hmap's own
/// work, and taking it out would favour hmap (found by session 30's review). Not knowing which
/// waits the reclaimer caused, every thread is charged all of the reclaimer's CPU time in the
/// window: a bound that can only err against hmap. A process without the thread (every peer)
/// is unaffected. The thread starts on first use, so it is looked for at each of the first
/// [`Self::EAGER_SCANS`] readings, then at every [`Self::SCAN_EVERY`]th (a directory scan of
/// `/proc/self/task`, outside the timed spans).
pub(crate) struct ExcusedWait {
    own: RunQueueWait,
    /// The reclaimer's `schedstat` file (its first field: CPU time), once found.
    #[cfg(target_os = "linux")]
    reclaimer: Option<std::fs::File>,
    readings: u32,
    /// The last reading of (own wait, reclaimer CPU time if found).
    last: Option<(u64, Option<u64>)>,
    /// The wait taken out so far.
    excused: u64,
}

impl ExcusedWait {
    /// Readings at which the reclaimer thread is always looked for.
    const EAGER_SCANS: u32 = 64;
    /// Later, it is looked for at every this many readings.
    const SCAN_EVERY: u32 = 64;

    /// For the calling thread.
    pub(crate) fn for_this_thread() -> Self {
        Self {
            own: RunQueueWait::for_this_thread(),
            #[cfg(target_os = "linux")]
            reclaimer: None,
            readings: 0,
            last: None,
            excused: 0,
        }
    }

    /// The reclaimer's total CPU time so far; `None` while it has not been found.
    fn reclaimer_cpu_ns(&mut self) -> Option<u64> {
        #[cfg(target_os = "linux")]
        {
            let due = self.readings < Self::EAGER_SCANS || self.readings % Self::SCAN_EVERY == 0;
            if self.reclaimer.is_none() && due {
                self.reclaimer = find_thread_schedstat(HMAP_RECLAIMER);
            }
            self.reclaimer
                .as_ref()
                .and_then(|file| schedstat_field(file, 0))
        }
        #[cfg(not(target_os = "linux"))]
        None
    }
}

/// What one window may excuse: the thread's wait in it less the reclaimer's CPU time in it.
/// A reclaimer first found at the window's end is charged all the CPU time it has used (more
/// than its share of the window, if it started earlier: the bound errs against hmap).
fn excusable(last: (u64, Option<u64>), now: (u64, Option<u64>)) -> u64 {
    let waited = now.0.saturating_sub(last.0);
    let reclaimer = match (last.1, now.1) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        (None, Some(after)) => after,
        (_, None) => 0,
    };
    waited.saturating_sub(reclaimer)
}

impl WaitSource for ExcusedWait {
    fn read(&mut self) -> Option<u64> {
        let wait = self.own.read()?;
        let now = (wait, self.reclaimer_cpu_ns());
        self.readings = self.readings.wrapping_add(1);
        if let Some(last) = self.last {
            self.excused += excusable(last, now);
        }
        self.last = Some(now);
        Some(self.excused)
    }
}

/// Field `index` (0: time on a CPU, 1: time waiting on a run queue, in ns) of a `schedstat`
/// file opened earlier, read with `pread`.
#[cfg(target_os = "linux")]
fn schedstat_field(file: &std::fs::File, index: usize) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 96];
    let n = file.read_at(&mut buf, 0).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    text.split_whitespace().nth(index)?.parse().ok()
}

/// The `schedstat` file of this process's thread named `name`, if it runs.
#[cfg(target_os = "linux")]
fn find_thread_schedstat(name: &str) -> Option<std::fs::File> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .filter_map(Result::ok)
        .find(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .and_then(|task| std::fs::File::open(task.path().join("schedstat")).ok())
}

impl OwnMax<ExcusedWait> {
    /// For the calling thread, which must be the one whose operations it records.
    pub(crate) fn for_this_thread() -> Self {
        Self::new(ExcusedWait::for_this_thread())
    }
}

impl<W: WaitSource> OwnMax<W> {
    /// Operations slower than this (ns) are checked for run-queue waits.
    pub(crate) const SLOW_NS: u64 = 50_000;
    /// The wait is read at least once every this many operations.
    pub(crate) const EVERY: u32 = 1024;

    fn new(mut waits: W) -> Self {
        let last = waits.read();
        Self {
            waits,
            last,
            since: 0,
            max_ns: 0,
        }
    }

    /// Records one operation that took `elapsed_ns` (by the wall clock).
    #[inline]
    pub(crate) fn record(&mut self, elapsed_ns: u64) {
        if elapsed_ns < Self::SLOW_NS {
            self.max_ns = self.max_ns.max(elapsed_ns);
            self.since += 1;
            if self.since >= Self::EVERY {
                self.since = 0;
                self.last = self.waits.read();
            }
            return;
        }
        let now = self.waits.read();
        let waited = match (now, self.last) {
            (Some(now), Some(last)) => now.saturating_sub(last),
            _ => 0,
        };
        self.max_ns = self.max_ns.max(elapsed_ns - waited.min(elapsed_ns));
        self.last = now;
        self.since = 0;
    }

    /// The largest operation so far with its run-queue wait taken out; `None` where the wait
    /// cannot be read.
    pub(crate) fn max_ns(&self) -> Option<u64> {
        self.last.map(|_| self.max_ns)
    }
}

/// Inserts hit keys `0..keys` (value = key) into a map made by `new_map`, measuring as `mode`
/// says. The map stays alive until the final memory reading, then is dropped untimed.
pub(crate) fn measure_growth<M>(
    mode: Mode,
    keys: usize,
    new_map: impl FnOnce() -> M,
    insert: impl FnMut(&mut M, u64),
) -> RunRecord {
    measure_growth_series(mode, keys, 0, new_map, insert).0
}

/// The largest sample of each run of `ceil(samples.len() / points)` consecutive samples, in
/// order: per-insert latency over a run, reduced to at most `points` values for a plot (a
/// stop-the-world pause stays visible, since a chunk keeps its maximum). Empty for `points == 0`.
pub(crate) fn chunk_maxima(samples: &[u32], points: usize) -> Vec<u32> {
    if points == 0 || samples.is_empty() {
        return Vec::new();
    }
    let chunk = samples.len().div_ceil(points);
    samples
        .chunks(chunk)
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .collect()
}

/// As [`measure_growth`], and also returns the per-insert latencies reduced by [`chunk_maxima`]
/// to at most `points` values: wall-clock for `Mode::Timed`, thread CPU time for
/// `Mode::CpuTimed` (which then keeps every sample, not just the maximum), nothing for
/// `Mode::Untimed` or `points == 0`.
pub(crate) fn measure_growth_series<M>(
    mode: Mode,
    keys: usize,
    points: usize,
    new_map: impl FnOnce() -> M,
    mut insert: impl FnMut(&mut M, u64),
) -> (RunRecord, Vec<u32>) {
    // Allocated and written (u32::MAX is not zero, so every page is touched) before the baseline.
    let mut samples = match mode {
        Mode::Timed => vec![u32::MAX; keys],
        Mode::CpuTimed if points > 0 => vec![u32::MAX; keys],
        Mode::Untimed | Mode::CpuTimed => Vec::new(),
    };
    let mut map = new_map();
    let before = read_memory();
    let start = Instant::now();
    let mut cpu_max_ns = 0;
    let mut own = (mode == Mode::Timed).then(OwnMax::for_this_thread);
    match mode {
        Mode::Timed => {
            let own = own.as_mut().expect("made for Mode::Timed");
            for (i, sample) in samples.iter_mut().enumerate() {
                let key = hit_key(i as u64);
                let t0 = Instant::now();
                // The fences keep the compiler from moving the insert's memory traffic outside
                // the clock reads; they emit no instructions.
                compiler_fence(Ordering::SeqCst);
                insert(&mut map, key);
                compiler_fence(Ordering::SeqCst);
                let elapsed = t0.elapsed().as_nanos();
                *sample = u32::try_from(elapsed).unwrap_or(u32::MAX);
                own.record(u64::try_from(elapsed).unwrap_or(u64::MAX));
            }
        }
        Mode::Untimed => {
            for i in 0..keys as u64 {
                insert(&mut map, hit_key(i));
            }
        }
        Mode::CpuTimed => {
            for i in 0..keys as u64 {
                let key = hit_key(i);
                let t0 = thread_cpu_ns();
                compiler_fence(Ordering::SeqCst);
                insert(&mut map, key);
                compiler_fence(Ordering::SeqCst);
                let elapsed = thread_cpu_ns().saturating_sub(t0);
                cpu_max_ns = cpu_max_ns.max(elapsed);
                if let Some(sample) = samples.get_mut(i as usize) {
                    *sample = u32::try_from(elapsed).unwrap_or(u32::MAX);
                }
            }
        }
    }
    let loop_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let after = read_memory();
    black_box(&map);
    drop(map);
    // Before the summary, which sorts the samples.
    let series = chunk_maxima(&samples, points);
    let record = RunRecord {
        keys: keys as u64,
        loop_ns,
        before,
        after,
        latency: (mode == Mode::Timed).then(|| LatencySummary::from_samples(&mut samples)),
        cpu_max_ns: (mode == Mode::CpuTimed).then_some(cpu_max_ns),
        own_max_ns: own.and_then(|own| own.max_ns()),
    };
    (record, series)
}

/// Median cost of an empty `Instant::now()` pair, in nanoseconds: the floor under every sample.
pub(crate) fn timer_overhead_ns() -> u64 {
    let mut samples: Vec<u32> = (0..10_000)
        .map(|_| {
            let t0 = Instant::now();
            compiler_fence(Ordering::SeqCst);
            u32::try_from(t0.elapsed().as_nanos()).unwrap_or(u32::MAX)
        })
        .collect();
    LatencySummary::from_samples(&mut samples).p50_ns
}

/// Runs this same executable with `args` (the caller's hidden child subcommand), lets its stderr
/// through, and parses the report line from its stdout.
pub(crate) fn run_child(args: &[String]) -> Result<RunRecord, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    let output = Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    if !output.status.success() {
        return Err(format!(
            "child `{}` failed: {}",
            args.join(" "),
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(RunRecord::parse_line)
        .ok_or_else(|| format!("child `{}` printed no {RESULT_PREFIX} line", args.join(" ")))
}

/// The median of `values` (mean of the middle two for an even count); 0 for none.
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// A duration in nanoseconds with a readable unit and three significant figures (e.g. `12.3 µs`).
pub(crate) fn format_ns(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let decimals = if unit == "ns" || value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$} {unit}")
}

/// First argument of the hidden child command both tools understand:
/// `<exe> __child <map> <timed|untimed> <keys>`.
pub(crate) const CHILD_COMMAND: &str = "__child";

/// One repetition of one map: a timed child (latencies, memory), an untimed child (total time
/// without clock reads) and a CPU-timed child (worst pause by CPU time), each in a fresh process.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Run {
    /// Implementation name.
    pub(crate) map: String,
    /// Repetition number, from 1.
    pub(crate) repetition: usize,
    /// The timed child's record.
    pub(crate) timed: RunRecord,
    /// The untimed child's loop time.
    pub(crate) untimed_ns: u64,
    /// The CPU-timed child's longest insert.
    pub(crate) cpu_max_ns: u64,
}

/// Runs repetition `repetition` of `map` with `keys` keys: one timed child, then one untimed.
pub(crate) fn run_repetition(map: &str, repetition: usize, keys: usize) -> Result<Run, String> {
    let args = |mode: Mode| -> Vec<String> {
        vec![
            CHILD_COMMAND.to_owned(),
            map.to_owned(),
            mode.as_str().to_owned(),
            keys.to_string(),
        ]
    };
    let timed = run_child(&args(Mode::Timed))?;
    let untimed = run_child(&args(Mode::Untimed))?;
    let cpu_timed = run_child(&args(Mode::CpuTimed))?;
    if timed.latency.is_none() {
        return Err(format!("the timed child for {map} reported no latencies"));
    }
    Ok(Run {
        map: map.to_owned(),
        repetition,
        timed,
        untimed_ns: untimed.loop_ns,
        cpu_max_ns: cpu_timed.cpu_max_ns.unwrap_or_default(),
    })
}

/// Column names of [`Run::csv_row`].
pub(crate) const CSV_HEADER: &str =
    "map,repetition,keys,p50_ns,p99_ns,p9999_ns,max_ns,cpu_max_ns,mean_ns,untimed_total_ns,timed_loop_ns,\
rss_before_kb,rss_after_kb,peak_rss_kb,bytes_per_entry_end,bytes_per_entry_peak";

impl Run {
    /// One CSV line (no trailing newline) matching [`CSV_HEADER`].
    pub(crate) fn csv_row(&self) -> String {
        let l = self.timed.latency.unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{},{},{:.1},{},{},{},{},{},{:.2},{:.2}",
            self.map,
            self.repetition,
            self.timed.keys,
            l.p50_ns,
            l.p99_ns,
            l.p9999_ns,
            l.max_ns,
            self.cpu_max_ns,
            l.mean_ns,
            self.untimed_ns,
            self.timed.loop_ns,
            self.timed.before.rss_kb,
            self.timed.after.rss_kb,
            self.timed.after.peak_kb,
            self.timed.bytes_per_entry_end(),
            self.timed.bytes_per_entry_peak()
        )
    }
}

/// One map's repetitions reduced to medians (each column's median on its own, so the numbers in
/// a row need not come from the same repetition).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Summary {
    /// Implementation name.
    pub(crate) map: String,
    /// Repetitions summarised.
    pub(crate) repetitions: usize,
    /// Median insert.
    pub(crate) p50_ns: f64,
    /// 99th percentile insert.
    pub(crate) p99_ns: f64,
    /// 99.99th percentile insert.
    pub(crate) p9999_ns: f64,
    /// Longest single insert.
    pub(crate) max_ns: f64,
    /// Longest single insert by the thread's CPU clock (descheduled time left out).
    pub(crate) cpu_max_ns: f64,
    /// Time to insert every key without per-insert clock reads.
    pub(crate) untimed_total_ns: f64,
    /// Time of the timed loop, clock reads included.
    pub(crate) timed_loop_ns: f64,
    /// Resident bytes per entry at the end.
    pub(crate) bytes_per_entry_end: f64,
    /// Peak resident bytes per entry.
    pub(crate) bytes_per_entry_peak: f64,
}

impl Summary {
    /// The medians of `runs` (all of one map).
    pub(crate) fn of(map: &str, runs: &[&Run]) -> Summary {
        let column = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(|r| f(r)).collect());
        let latency = |r: &Run| r.timed.latency.unwrap_or_default();
        Summary {
            map: map.to_owned(),
            repetitions: runs.len(),
            p50_ns: column(&|r| latency(r).p50_ns as f64),
            p99_ns: column(&|r| latency(r).p99_ns as f64),
            p9999_ns: column(&|r| latency(r).p9999_ns as f64),
            max_ns: column(&|r| latency(r).max_ns as f64),
            cpu_max_ns: column(&|r| r.cpu_max_ns as f64),
            untimed_total_ns: column(&|r| r.untimed_ns as f64),
            timed_loop_ns: column(&|r| r.timed.loop_ns as f64),
            bytes_per_entry_end: column(&|r| r.timed.bytes_per_entry_end()),
            bytes_per_entry_peak: column(&|r| r.timed.bytes_per_entry_peak()),
        }
    }

    /// One summary per map name in `runs`, in order of first appearance.
    pub(crate) fn per_map(runs: &[Run]) -> Vec<Summary> {
        let mut names: Vec<&str> = Vec::new();
        for run in runs {
            if !names.contains(&run.map.as_str()) {
                names.push(&run.map);
            }
        }
        names
            .into_iter()
            .map(|name| {
                Summary::of(
                    name,
                    &runs.iter().filter(|r| r.map == name).collect::<Vec<_>>(),
                )
            })
            .collect()
    }
}

/// The summary table, one line per map, plus a line comparing every map's max pause with the
/// `reference` map's when that map is present.
pub(crate) fn format_table(summaries: &[Summary], reference: &str) -> String {
    let mut out = format!(
        "{:<10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}\n",
        "map",
        "p50",
        "p99",
        "p99.99",
        "max pause",
        "max CPU",
        "total",
        "timed loop",
        "B/e end",
        "B/e peak"
    );
    for s in summaries {
        out += &format!(
            "{:<10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>9.1} {:>9.1}\n",
            s.map,
            format_ns(s.p50_ns),
            format_ns(s.p99_ns),
            format_ns(s.p9999_ns),
            format_ns(s.max_ns),
            format_ns(s.cpu_max_ns),
            format_ns(s.untimed_total_ns),
            format_ns(s.timed_loop_ns),
            s.bytes_per_entry_end,
            s.bytes_per_entry_peak
        );
    }
    if let Some(base) = summaries
        .iter()
        .find(|s| s.map == reference && s.max_ns > 0.0)
    {
        let ratios: Vec<String> = summaries
            .iter()
            .filter(|s| s.map != reference)
            .map(|s| {
                format!(
                    "{} {:.4} (CPU {:.4})",
                    s.map,
                    s.max_ns / base.max_ns,
                    s.cpu_max_ns / base.cpu_max_ns.max(1.0)
                )
            })
            .collect();
        if !ratios.is_empty() {
            out += &format!(
                "max pause / {reference}'s (wall, and CPU time): {}\n",
                ratios.join(", ")
            );
        }
    }
    out
}

/// What the table's columns mean, printed under it.
pub(crate) const TABLE_LEGEND: &str = "\
columns: medians over repetitions; p50..max pause = single-insert latency (each includes one clock-read pair);
max CPU = longest single insert by the thread's CPU clock (separate process; time spent descheduled left out);
total = all inserts with no per-insert clock reads (separate process); timed loop = the timed run's wall time;
B/e end = resident bytes per entry after the last insert; B/e peak = peak resident bytes per entry (old + new arrays).";

#[cfg(test)]
mod tests {
    use super::{OwnMax, WaitSource};

    /// Run-queue waits read from a script, one value per reading.
    struct Script(Vec<Option<u64>>);

    impl WaitSource for Script {
        fn read(&mut self) -> Option<u64> {
            assert!(!self.0.is_empty(), "read more often than scripted");
            self.0.remove(0)
        }
    }

    fn own(readings: &[Option<u64>]) -> OwnMax<Script> {
        OwnMax::new(Script(readings.to_owned()))
    }

    const SLOW: u64 = OwnMax::<Script>::SLOW_NS;

    #[test]
    fn a_slow_operation_is_charged_without_the_wait_accrued_during_it() {
        // Readings: at the start, then after each slow operation.
        let mut m = own(&[
            Some(1_000),
            Some(1_000 + 3_000_000),
            Some(1_000 + 3_000_000),
        ]);
        m.record(700);
        m.record(3_400_000); // preempted for 3 ms: 0.4 ms of its own
        assert_eq!(m.max_ns(), Some(400_000));
        m.record(SLOW + 10); // no wait: all its own, but still below 0.4 ms
        assert_eq!(m.max_ns(), Some(400_000));
    }

    #[test]
    fn a_wait_longer_than_the_operation_leaves_nothing_of_it() {
        let mut m = own(&[Some(0), Some(9_000_000)]);
        m.record(2 * SLOW);
        assert_eq!(m.max_ns(), Some(0));
        m.record(123);
        assert_eq!(m.max_ns(), Some(123));
    }

    #[test]
    fn the_wait_is_read_every_so_many_fast_operations_so_an_old_wait_is_not_taken_off() {
        let every = OwnMax::<Script>::EVERY as usize;
        // A wait of 5 ms accrued before the periodic reading is not charged to the slow
        // operation after it; only the 0.1 ms accrued since is.
        let mut m = own(&[Some(0), Some(5_000_000), Some(5_100_000)]);
        for _ in 0..every {
            m.record(100);
        }
        m.record(600_000);
        assert_eq!(m.max_ns(), Some(500_000));
    }

    #[test]
    fn without_readable_waits_there_is_no_figure() {
        let mut m = own(&[None, None]);
        m.record(2 * SLOW);
        assert_eq!(m.max_ns(), None);
    }

    #[test]
    fn the_reclaimers_cpu_time_in_a_window_is_not_taken_out() {
        use super::excusable;
        // 3 ms waited, the reclaimer ran 1 ms meanwhile: 2 ms may be taken out.
        assert_eq!(
            excusable((10, Some(5)), (10 + 3_000_000, Some(5 + 1_000_000))),
            2_000_000
        );
        // The reclaimer ran longer than the wait: nothing is taken out.
        assert_eq!(excusable((0, Some(0)), (1_000, Some(9_000))), 0);
        // No reclaimer (a peer's process): all of the wait.
        assert_eq!(excusable((0, None), (7_000, None)), 7_000);
        // Found at the end of the window: all of its time so far is charged to it.
        assert_eq!(excusable((0, None), (7_000, Some(4_000))), 3_000);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_is_found_by_name_and_its_cpu_time_read() {
        use std::sync::atomic::{AtomicBool, Ordering};
        if std::fs::metadata("/proc/thread-self/schedstat").is_err() {
            eprintln!("SKIP: /proc/thread-self/schedstat is not readable here");
            return;
        }
        let stop = AtomicBool::new(false);
        let (ready, started) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("measure-spin".to_owned())
                .spawn_scoped(s, || {
                    ready.send(()).unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
                .unwrap();
            started.recv().unwrap();
            let file = super::find_thread_schedstat("measure-spin").expect("the thread is found");
            let first = super::schedstat_field(&file, 0).expect("its CPU time reads");
            std::thread::sleep(std::time::Duration::from_millis(30));
            let later = super::schedstat_field(&file, 0).unwrap();
            stop.store(true, Ordering::Relaxed);
            assert!(
                later > first,
                "a spinning thread's CPU time grows: {first} -> {later}"
            );
        });
        assert!(super::find_thread_schedstat("no-such-thread-here").is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_threads_run_queue_wait_reads_and_never_goes_back() {
        let waits = super::RunQueueWait::for_this_thread();
        let Some(first) = waits.read() else {
            eprintln!("SKIP: /proc/thread-self/schedstat is not readable here");
            return;
        };
        std::thread::yield_now();
        let second = waits.read().expect("readable once, readable again");
        assert!(second >= first, "{second} < {first}");
    }
}
