//! Growth latency of a concurrent map with concurrent readers: the child side, ported from
//! `benches/concurrent.rs` (sub-benchmark `grow`), with the reader count as a parameter.
//!
//! In a fresh process, one writer inserts hit keys `0..N` into an empty map, timing every insert
//! with a pair of `Instant::now()` calls (exact percentiles from every sample) and publishing
//! how many keys it has inserted through an `AtomicUsize` (release). Each reader meanwhile looks
//! up random keys below that watermark (acquire: every key it asks for must be found) and times
//! every get into a log-linear histogram (`read_mostly::Histogram`, about 3% resolution; exact
//! max). With zero readers the writer runs alone. Resident memory is read around the loop as in
//! `measure.rs`.

use std::hint::black_box;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use crate::child::{self as protocol, optional, Fields};
use crate::conc::{ConcKind, ConcMap, ConcVisit};
use crate::keys::{self, hit_key};
use crate::measure::{self, LatencySummary, RunRecord};
use crate::read_mostly::Histogram;
use crate::LabError;

/// Prefix of a grow child's reader line (the writer's is `measure::RESULT_PREFIX`).
const READER_PREFIX: &str = "HMAP-CONC-READER";
/// Seed of the readers' key choice (xored with the reader index).
const READER_SEED: u64 = 0x00EA_DE20_0000_0001;

/// The readers' side of one growth run, and hmap's reclamation state at the end.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ReaderRecord {
    pub(crate) gets: u64,
    pub(crate) latency: LatencySummary,
    pub(crate) garbage_objects: Option<u64>,
}

impl ReaderRecord {
    fn to_line(&self) -> String {
        let l = &self.latency;
        format!(
            "{READER_PREFIX} gets={} p50_ns={} p99_ns={} p9999_ns={} max_ns={} mean_ns={:.1} garbage_objects={}",
            self.gets,
            l.p50_ns,
            l.p99_ns,
            l.p9999_ns,
            l.max_ns,
            l.mean_ns,
            optional(self.garbage_objects)
        )
    }

    fn parse_line(line: &str) -> Option<ReaderRecord> {
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
        })
    }
}

/// One growth run: the writer's record (latencies, loop time, memory), the readers', and the
/// writer's latency series (chunk maxima).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct GrowRecord {
    pub(crate) writer: RunRecord,
    pub(crate) reader: ReaderRecord,
    pub(crate) series: Vec<u32>,
}

impl GrowRecord {
    /// Parses a child's stdout.
    pub(crate) fn parse(stdout: &str) -> Option<GrowRecord> {
        Some(GrowRecord {
            writer: stdout.lines().find_map(RunRecord::parse_line)?,
            reader: stdout.lines().find_map(ReaderRecord::parse_line)?,
            series: protocol::parse_series(stdout),
        })
    }
}

/// First argument of a growth child: `__cgrow <map> <keys> <readers> <points>`.
pub(crate) const COMMAND: &str = "__cgrow";

/// The arguments that make a child run `map` with `keys` keys, `readers` readers.
pub(crate) fn child_args(map: ConcKind, keys: usize, readers: usize, points: usize) -> Vec<String> {
    vec![
        COMMAND.to_owned(),
        map.name().to_owned(),
        keys.to_string(),
        readers.to_string(),
        points.to_string(),
    ]
}

/// The hidden child command: one growth run, its report lines on stdout.
pub(crate) fn child(map: &str, keys: &str, readers: usize, points: usize) -> Result<(), LabError> {
    protocol::exit_on_panic();
    let kind = ConcKind::parse(map)
        .ok_or_else(|| LabError::Usage(format!("unknown concurrent map '{map}'")))?;
    let keys = keys::parse_count(keys).map_err(LabError::Usage)?;
    let record = kind
        .dispatch(Grow {
            keys,
            readers,
            points,
        })
        .map_err(LabError::Failed)?;
    println!("{}", record.writer.to_line());
    println!("{}", record.reader.to_line());
    if !record.series.is_empty() {
        println!("{}", protocol::series_line(&record.series));
    }
    Ok(())
}

/// One growth run's parameters, generic over the map type through [`ConcVisit`].
struct Grow {
    keys: usize,
    readers: usize,
    points: usize,
}

impl ConcVisit for Grow {
    type Output = Result<GrowRecord, String>;
    fn visit<M: ConcMap>(self) -> Self::Output {
        run::<M>(self.keys, self.readers, self.points)
    }
}

/// splitmix64 as a stream.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        keys::mix(self.0)
    }
}

/// One writer from empty to `keys` keys, `readers` readers behind it.
fn run<M: ConcMap>(keys: usize, readers: usize, points: usize) -> Result<GrowRecord, String> {
    // Allocated and written before the baseline memory reading, as in `measure_growth`.
    let mut samples = vec![u32::MAX; keys];
    let map = M::new();
    let watermark = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let barrier = Barrier::new(readers + 2);

    let (before, loop_ns, insert_failures, histograms) = thread::scope(|scope| {
        let reader_threads: Vec<_> = (0..readers)
            .map(|r| {
                let (map, watermark, done, barrier) = (&map, &watermark, &done, &barrier);
                scope.spawn(move || {
                    let mut histogram = Histogram::new();
                    let mut rng = SplitMix(READER_SEED ^ r as u64);
                    let mut failures = 0u64;
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
                        histogram
                            .record(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
                        failures += u64::from(found != Some(key));
                    }
                    (histogram, failures)
                })
            })
            .collect();
        let writer = scope.spawn(|| {
            let mut failures = 0u64;
            barrier.wait();
            let start = Instant::now();
            for (i, sample) in samples.iter_mut().enumerate() {
                let key = hit_key(i as u64);
                let t0 = Instant::now();
                compiler_fence(Ordering::SeqCst);
                let new = map.insert(black_box(key), key);
                compiler_fence(Ordering::SeqCst);
                *sample = u32::try_from(t0.elapsed().as_nanos()).unwrap_or(u32::MAX);
                watermark.store(i + 1, Ordering::Release);
                failures += u64::from(!new);
            }
            let loop_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            done.store(true, Ordering::Release);
            (loop_ns, failures)
        });
        let before = measure::read_memory();
        barrier.wait();
        let (loop_ns, insert_failures) = writer.join().unwrap_or((0, u64::MAX));
        let histograms: Vec<(Histogram, u64)> = reader_threads
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|_| (Histogram::new(), u64::MAX)))
            .collect();
        (before, loop_ns, insert_failures, histograms)
    });
    let after = measure::read_memory();
    let mut histogram = Histogram::new();
    let mut read_failures = 0u64;
    for (h, failures) in &histograms {
        histogram.merge(h);
        read_failures = read_failures.saturating_add(*failures);
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
    let series = measure::chunk_maxima(&samples, points);
    let reads = histogram.latency();
    Ok(GrowRecord {
        writer: RunRecord {
            keys: keys as u64,
            loop_ns,
            before,
            after,
            latency: Some(LatencySummary::from_samples(&mut samples)),
            cpu_max_ns: None,
        },
        reader: ReaderRecord {
            gets: histogram.total(),
            latency: LatencySummary {
                p50_ns: reads.p50_ns,
                p99_ns: reads.p99_ns,
                p9999_ns: histogram.percentile(0.9999),
                max_ns: reads.max_ns,
                mean_ns: reads.mean_ns,
            },
            garbage_objects,
        },
        series,
    })
}
