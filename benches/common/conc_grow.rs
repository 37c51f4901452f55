//! Growth latency of a concurrent map with concurrent readers, child side: the cost of one
//! insert (and of one concurrent get) while a map grows from empty.
//!
//! In a fresh process, one writer inserts hit keys `0..N` into an empty map, timing every insert
//! with a pair of `Instant::now()` calls (exact percentiles from every sample) and publishing
//! how many keys it has inserted through an `AtomicUsize` (release). Each reader meanwhile looks
//! up random keys below that watermark (acquire: every key it asks for must be found) and times
//! every get into a log-linear histogram (`read_mostly::Histogram`, about 3% resolution; exact
//! max). With zero readers the writer runs alone. Resident memory is read around the loop as in
//! `measure.rs`. The writer and every reader also keep `measure::OwnMax`, their worst operation
//! with the time they waited on a run queue taken out (`own_max_ns` in both lines).
//!
//! With [`WriterClock::ThreadCpu`] the writer reads its thread's CPU clock around each insert
//! instead (`CLOCK_THREAD_CPUTIME_ID`, a system call of about 0.3 µs) and reports only the largest
//! (`cpu_max_ns`): the worst pause the map itself caused, page faults included, with the time the
//! thread spent descheduled left out (on a 2-vCPU VM the writer, the reader and any reclaimer
//! thread share the CPUs, and the host steals time, so wall-clock maxima are mostly scheduling).
//! It is a separate process because the system calls slow every insert down.
//!
//! Used by `benches/concurrent.rs` (sub-benchmark `grow`: one reader, as `common::conc_grow`)
//! and by the `hmap-lab` crate (`grow`: the reader count and the latency series as parameters),
//! which includes this file with `#[path]`. Generic over [`ConcMap`] (`conc_maps.rs`).
#![allow(
    clippy::disallowed_types,
    reason = "the sync facade of clippy.toml is for the library, so that loom can swap its atomics; the watermark and the stop flag use std's"
)]

use std::hint::black_box;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use super::child::{self, optional, Fields};
use super::conc_maps::ConcMap;
use super::keys::{hit_key, SplitMix};
use super::measure::{self, LatencySummary, Memory, OwnMax, RunRecord};
use super::read_mostly::Histogram;

/// Prefix of a grow child's reader line (the writer's is `measure::RESULT_PREFIX`).
const READER_PREFIX: &str = "HMAP-CONC-READER";
/// Seed of the readers' key choice (xored with the reader index).
const READER_SEED: u64 = 0x00EA_DE20_0000_0001;

/// The readers' side of one growth run (all readers merged), plus hmap's reclamation state at
/// the end.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ReaderRecord {
    /// Gets over all readers.
    pub(crate) gets: u64,
    /// Their latencies (histogram percentiles, exact max and mean).
    pub(crate) latency: LatencySummary,
    /// hmap only: garbage objects after the last insert.
    pub(crate) garbage_objects: Option<u64>,
    /// The worst get of any reader with its thread's run-queue waits taken out
    /// (`measure::OwnMax`); `None` where the waits cannot be read.
    pub(crate) own_max_ns: Option<u64>,
}

impl ReaderRecord {
    /// The child's reader line: the prefix, then `name=value` pairs separated by spaces.
    pub(crate) fn to_line(&self) -> String {
        let l = &self.latency;
        format!(
            "{READER_PREFIX} gets={} p50_ns={} p99_ns={} p9999_ns={} max_ns={} mean_ns={:.1} garbage_objects={} own_max_ns={}",
            self.gets,
            l.p50_ns,
            l.p99_ns,
            l.p9999_ns,
            l.max_ns,
            l.mean_ns,
            optional(self.garbage_objects),
            optional(self.own_max_ns)
        )
    }

    /// Parses [`ReaderRecord::to_line`]'s output; `None` if the line is not a complete report.
    pub(crate) fn parse_line(line: &str) -> Option<ReaderRecord> {
        let fields = Fields::parse(line, READER_PREFIX)?;
        Some(ReaderRecord {
            gets: fields.int("gets")?,
            latency: LatencySummary {
                p50_ns: fields.int("p50_ns")?,
                p99_ns: fields.int("p99_ns")?,
                p9999_ns: fields.int("p9999_ns")?,
                max_ns: fields.int("max_ns")?,
                mean_ns: fields.get("mean_ns")?.parse().ok()?,
            },
            garbage_objects: fields.optional_int("garbage_objects")?,
            own_max_ns: fields.optional_int("own_max_ns")?,
        })
    }
}

/// One growth run: the writer's record (latencies, loop time, memory), the readers', and the
/// writer's latency series (chunk maxima; empty unless points were asked for).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct GrowRecord {
    /// The writer's inserts, as `measure.rs` records a run.
    pub(crate) writer: RunRecord,
    /// The readers' gets.
    pub(crate) reader: ReaderRecord,
    /// The writer's per-insert latencies reduced by `measure::chunk_maxima`.
    pub(crate) series: Vec<u32>,
}

impl GrowRecord {
    /// The child's report: the writer's line, the reader line, and the series line when there is
    /// a series (no trailing newline).
    pub(crate) fn to_lines(&self) -> String {
        let mut lines = format!("{}\n{}", self.writer.to_line(), self.reader.to_line());
        if !self.series.is_empty() {
            lines.push('\n');
            lines += &child::series_line(&self.series);
        }
        lines
    }

    /// Parses a child's stdout; `None` without a writer and a reader line.
    pub(crate) fn parse(stdout: &str) -> Option<GrowRecord> {
        Some(GrowRecord {
            writer: stdout.lines().find_map(RunRecord::parse_line)?,
            reader: stdout.lines().find_map(ReaderRecord::parse_line)?,
            series: child::parse_series(stdout),
        })
    }
}

/// How the writer times its inserts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriterClock {
    /// `Instant::now()` pairs: every insert's wall time (percentiles, max, series).
    Wall,
    /// The thread's CPU clock: only the largest insert (`RunRecord::cpu_max_ns`); no latency
    /// summary and no series.
    ThreadCpu,
}

/// The child side of one growth run: one writer from empty to `keys` keys, `readers` readers
/// behind it; the writer's latencies also reduced to at most `points` chunk maxima.
pub(crate) fn run_grow<M: ConcMap>(
    keys: usize,
    readers: usize,
    points: usize,
    clock: WriterClock,
) -> Result<GrowRecord, String> {
    // Allocated and written before the baseline memory reading, as in `measure_growth`.
    let mut samples = vec![u32::MAX; keys];
    let mut histograms: Vec<Histogram> = (0..readers).map(|_| Histogram::new()).collect();
    let map = M::new();
    let watermark = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let barrier = Barrier::new(readers + 2);

    let (before, loop_ns, insert_failures, read_failures, cpu_max_ns, own_max_ns) =
        thread::scope(|scope| {
            let reader_threads: Vec<_> = histograms
                .iter_mut()
                .enumerate()
                .map(|(r, histogram)| {
                    let (map, watermark, done, barrier) = (&map, &watermark, &done, &barrier);
                    scope.spawn(move || {
                        let mut rng = SplitMix(READER_SEED ^ r as u64);
                        let mut failures = 0u64;
                        let mut own = OwnMax::for_this_thread();
                        barrier.wait();
                        while !done.load(Ordering::Acquire) {
                            let inserted = watermark.load(Ordering::Acquire);
                            if inserted == 0 {
                                std::hint::spin_loop();
                                continue;
                            }
                            let key = hit_key(rng.next() % inserted as u64);
                            let t0 = Instant::now();
                            compiler_fence(Ordering::SeqCst);
                            let found = black_box(map.get(black_box(key)));
                            compiler_fence(Ordering::SeqCst);
                            let elapsed =
                                u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                            histogram.record(elapsed);
                            own.record(elapsed);
                            failures += u64::from(found != Some(key));
                        }
                        (failures, own.max_ns())
                    })
                })
                .collect();
            let writer = scope.spawn(|| {
                let mut failures = 0u64;
                let mut cpu_max_ns = 0u64;
                let mut own = OwnMax::for_this_thread();
                barrier.wait();
                let start = Instant::now();
                for (i, sample) in samples.iter_mut().enumerate() {
                    let key = hit_key(i as u64);
                    // The two clocks' arms are written out so that nothing but the clock call
                    // and the insert lies between the two readings (a shared helper put a
                    // conversion in the window, and the 8M-key p50 rose by 60 and 100 ns in two
                    // of three A/B runs).
                    let new = match clock {
                        WriterClock::Wall => {
                            let t0 = Instant::now();
                            compiler_fence(Ordering::SeqCst);
                            let new = map.insert(black_box(key), key);
                            compiler_fence(Ordering::SeqCst);
                            let elapsed =
                                u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                            *sample = u32::try_from(elapsed).unwrap_or(u32::MAX);
                            own.record(elapsed);
                            new
                        }
                        WriterClock::ThreadCpu => {
                            let t0 = measure::thread_cpu_ns();
                            compiler_fence(Ordering::SeqCst);
                            let new = map.insert(black_box(key), key);
                            compiler_fence(Ordering::SeqCst);
                            cpu_max_ns =
                                cpu_max_ns.max(measure::thread_cpu_ns().saturating_sub(t0));
                            new
                        }
                    };
                    watermark.store(i + 1, Ordering::Release);
                    failures += u64::from(!new);
                }
                let loop_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                done.store(true, Ordering::Release);
                let own_max_ns = (clock == WriterClock::Wall).then(|| own.max_ns()).flatten();
                (loop_ns, failures, cpu_max_ns, own_max_ns)
            });
            let before = measure::read_memory();
            barrier.wait();
            let (loop_ns, insert_failures, cpu_max_ns, writer_own_max_ns) =
                writer.join().unwrap_or((0, u64::MAX, 0, None));
            let mut read_failures = 0u64;
            let mut reader_own_max_ns: Option<u64> = None;
            for reader in reader_threads {
                let (failures, own_max_ns) = reader.join().unwrap_or((u64::MAX, None));
                read_failures = read_failures.saturating_add(failures);
                reader_own_max_ns = reader_own_max_ns.max(own_max_ns);
            }
            (
                before,
                loop_ns,
                insert_failures,
                read_failures,
                cpu_max_ns,
                (writer_own_max_ns, reader_own_max_ns),
            )
        });
    let after: Memory = measure::read_memory();
    let mut histogram = Histogram::new();
    for h in &histograms {
        histogram.merge(h);
    }
    if insert_failures > 0 || read_failures > 0 {
        return Err(format!(
            "{insert_failures} insert(s) of a new key found it present, {read_failures} get(s) \
             of an inserted key missed it or read a wrong value"
        ));
    }
    if map.len() != keys {
        return Err(format!("len() = {} after {keys} inserts", map.len()));
    }
    let garbage_objects = map.garbage_objects();
    drop(map);
    let wall = clock == WriterClock::Wall;
    // Before the summary, which sorts the samples.
    let series = if wall {
        measure::chunk_maxima(&samples, points)
    } else {
        Vec::new()
    };
    Ok(GrowRecord {
        writer: RunRecord {
            keys: keys as u64,
            loop_ns,
            before,
            after,
            latency: wall.then(|| LatencySummary::from_samples(&mut samples)),
            cpu_max_ns: (!wall).then_some(cpu_max_ns),
            own_max_ns: own_max_ns.0,
        },
        reader: ReaderRecord {
            gets: histogram.total(),
            latency: histogram.summary(),
            garbage_objects,
            own_max_ns: own_max_ns.1,
        },
        series,
    })
}
