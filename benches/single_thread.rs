//! Single-thread throughput: does mirroring Go's bucket-and-overflow layout cost speed against a
//! SwissTable, once growth is out of the picture (pre-sized insert, lookups, removal, iteration)
//! and with it (insert from empty)?
//!
//! Dimensions:
//! - **Operations** (criterion group names): `insert_empty` (from `new()`, growing as it goes),
//!   `insert_presized` (into `with_capacity(n)`), `get_hit`, `get_miss` (keys from a disjoint
//!   set), `remove` (every key, from a map built by inserting them), `iterate` (sum of values).
//! - **Implementations**: `hmap`, `hashbrown`, `std` (griddle is in `grow_latency.rs`, where its
//!   incremental resize is the point).
//! - **Keys**: `u64`, splitmix64 outputs (`common/keys.rs`), value = key, looked up in insertion
//!   order; no RNG runs inside a timed loop.
//! - **Hasher**: foldhash `FixedState` with one seed for every map.
//! - **Sizes**: 1K, 100K, 1M, 8M keys (see `common::DEFAULT_SIZES` for where each sits relative
//!   to the growth thresholds), overridable with `HMAP_BENCH_SIZES=1K,100K`. `insert_empty` and
//!   `get_hit` also run at `common::THRESHOLD_SIZES`, one key either side of hmap's and
//!   hashbrown's growth thresholds; `HMAP_BENCH_THRESHOLDS=0` skips those.
//!
//! Every iteration processes all `n` keys and throughput is reported in elements, so criterion
//! prints keys per second. `BenchmarkId`s read `operation/implementation/size`, e.g.
//! `get_hit/hmap/1M`; filter with `cargo bench --bench single_thread -- get_hit/hmap`.
//! Sizes above 20K use flat sampling with few samples so the 8M cases stay affordable; criterion's
//! `--sample-size`, `--warm-up-time` and `--measurement-time` options override the per-size choice.
//! Under `cargo test --benches` (criterion's test mode) only the 1K size runs, once.

#[allow(
    dead_code,
    reason = "each bench target uses a different part of common/"
)]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{BenchMap, HashbrownMap, HmapMap, StdMap};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};

/// The operations, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    InsertEmpty,
    InsertPresized,
    GetHit,
    GetMiss,
    Remove,
    Iterate,
}

impl Operation {
    const ALL: [Operation; 6] = [
        Operation::InsertEmpty,
        Operation::InsertPresized,
        Operation::GetHit,
        Operation::GetMiss,
        Operation::Remove,
        Operation::Iterate,
    ];

    fn name(self) -> &'static str {
        match self {
            Operation::InsertEmpty => "insert_empty",
            Operation::InsertPresized => "insert_presized",
            Operation::GetHit => "get_hit",
            Operation::GetMiss => "get_miss",
            Operation::Remove => "remove",
            Operation::Iterate => "iterate",
        }
    }

    /// Whether the operation also runs at `common::THRESHOLD_SIZES`.
    fn at_thresholds(self) -> bool {
        matches!(self, Operation::InsertEmpty | Operation::GetHit)
    }
}

/// The keys for one size: what gets inserted, and (for `get_miss`) what is looked up in vain.
struct Inputs {
    label: String,
    hits: Vec<u64>,
    misses: Vec<u64>,
}

/// One benchmark body per implementation, all instances of the same generic function.
type BenchFn = fn(&mut BenchmarkGroup<'_, WallTime>, Operation, &Inputs);

/// The implementations compared, in report order.
const IMPLEMENTATIONS: [BenchFn; 3] = [
    bench_one::<HmapMap>,
    bench_one::<HashbrownMap>,
    bench_one::<StdMap>,
];

/// Runs `operation` at `inputs` for implementation `M`.
fn bench_one<M: BenchMap>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    operation: Operation,
    inputs: &Inputs,
) {
    let id = BenchmarkId::new(M::NAME, &inputs.label);
    let hits = &inputs.hits[..];
    // Criterion calls the closure several times (warm-up, then measurement) and not at all when
    // a filter excludes it, so a prebuilt map is built lazily, once.
    let mut prebuilt: Option<M> = None;
    match operation {
        Operation::InsertEmpty => group.bench_function(id, |b| {
            b.iter_custom(|iterations| time_inserts(iterations, M::new, hits))
        }),
        Operation::InsertPresized => group.bench_function(id, |b| {
            b.iter_custom(|iterations| {
                time_inserts(iterations, || M::with_capacity(hits.len()), hits)
            })
        }),
        Operation::GetHit | Operation::GetMiss => {
            let lookups = if operation == Operation::GetHit {
                hits
            } else {
                &inputs.misses[..]
            };
            group.bench_function(id, |b| {
                let map = prebuilt.get_or_insert_with(|| common::build(hits));
                b.iter(|| {
                    let map = black_box(&*map);
                    let mut sum = 0u64;
                    for &key in lookups {
                        sum = sum.wrapping_add(map.get(key).unwrap_or(1));
                    }
                    sum
                })
            })
        }
        Operation::Remove => group.bench_function(id, |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let mut map: M = common::build(hits);
                    let start = Instant::now();
                    for &key in hits {
                        black_box(map.remove(key));
                    }
                    total += start.elapsed();
                    assert!(map.is_empty(), "{}: remove left entries behind", M::NAME);
                }
                total
            })
        }),
        Operation::Iterate => group.bench_function(id, |b| {
            let map = prebuilt.get_or_insert_with(|| common::build(hits));
            b.iter(|| black_box(&*map).iter_sum())
        }),
    };
}

/// Times inserting every key into a map made by `new_map`, `iterations` times; creating and
/// dropping the maps is not timed.
fn time_inserts<M: BenchMap>(
    iterations: u64,
    mut new_map: impl FnMut() -> M,
    keys: &[u64],
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iterations {
        let mut map = new_map();
        let start = Instant::now();
        for &key in keys {
            map.insert(key, key);
        }
        total += start.elapsed();
        black_box(&map);
    }
    total
}

/// Sampling that keeps every size affordable: many samples for fast cases, few flat samples for
/// the ones whose single iteration takes milliseconds or more. Criterion's own command-line
/// options (`--sample-size`, `--warm-up-time`, `--measurement-time`) win over these.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    group.throughput(Throughput::Elements(n as u64));
    let (samples, seconds, mode) = match n {
        0..=20_000 => (100, 2, SamplingMode::Auto),
        20_001..=200_000 => (20, 3, SamplingMode::Flat),
        200_001..=2_000_000 => (20, 4, SamplingMode::Flat),
        _ => (10, 8, SamplingMode::Flat),
    };
    group.sampling_mode(mode);
    if !cli_sets("--warm-up-time") {
        group.warm_up_time(Duration::from_secs(1));
    }
    if !cli_sets("--sample-size") {
        group.sample_size(samples);
    }
    if !cli_sets("--measurement-time") {
        group.measurement_time(Duration::from_secs(seconds));
    }
}

/// Whether criterion's command line carries `option` (as `--option value` or `--option=value`).
fn cli_sets(option: &str) -> bool {
    std::env::args().any(|arg| arg == option || arg.starts_with(&format!("{option}=")))
}

fn single_thread(c: &mut Criterion) {
    let test_mode = common::test_mode();
    let explicit_sizes = std::env::var_os("HMAP_BENCH_SIZES").is_some();
    let sizes = match (test_mode, explicit_sizes) {
        (true, false) => vec![1_000],
        _ => common::counts_from_env("HMAP_BENCH_SIZES", &common::DEFAULT_SIZES),
    };
    let thresholds_on =
        !test_mode && std::env::var("HMAP_BENCH_THRESHOLDS").map_or(true, |v| v != "0");

    for operation in Operation::ALL {
        let mut group = c.benchmark_group(operation.name());
        let mut operation_sizes = sizes.clone();
        if thresholds_on && operation.at_thresholds() {
            operation_sizes.extend(common::THRESHOLD_SIZES);
        }
        for n in operation_sizes {
            configure(&mut group, n);
            let inputs = Inputs {
                label: common::size_label(n),
                hits: common::keys::hit_keys(n),
                misses: if operation == Operation::GetMiss {
                    common::keys::miss_keys(n)
                } else {
                    Vec::new()
                },
            };
            for bench in IMPLEMENTATIONS {
                bench(&mut group, operation, &inputs);
            }
        }
        group.finish();
    }
}

criterion_group!(benches, single_thread);
criterion_main!(benches);
