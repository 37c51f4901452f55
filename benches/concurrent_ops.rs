//! The cost of one operation of a concurrent map on one thread, when the map is in cache: what
//! a pin, a lookup, an entry allocation and a retirement cost once DRAM is out of the picture.
//! `concurrent.rs` measures the maps at 2^20 keys, where most of an operation is cache and TLB
//! misses; this target isolates the per-operation work those misses hide (and that a machine
//! with a larger cache, or a workload with a hot key set, pays in full).
//!
//! Dimensions:
//! - **Operations** (criterion group names): `get_hit` (look every key up), `update` (increment
//!   every key's value: in hmap and papaya a new entry and a retired one per call),
//!   `insert_remove` (insert a fresh key, then remove the oldest, so the map keeps its size: the
//!   core of the `exchange` mix).
//! - **Implementations**: the maps of `concurrent.rs` (`common/conc_maps.rs`): `hmap`
//!   (`ConcurrentHashMap`), `papaya`, `scc`, `dashmap`, `rwlock_hashbrown`. Every operation of
//!   hmap and papaya pins on its own (`map.pin().get(&k)`), as in `concurrent.rs`.
//! - **Keys**: `u64` splitmix64 hit keys (`common/keys.rs`), value = key, in insertion order.
//! - **Hasher**: foldhash `FixedState`, one seed, for every map.
//! - **Sizes**: 1K and 64K keys (`HMAP_OPS_SIZES=1K,64K` overrides): 1K fits in L1/L2, 64K
//!   (about 2.5 MB of hmap table and entries) in the last-level cache of our machines.
//!
//! Each map is built once per (operation, size) with `with_capacity(n)`, prefilled with `n`
//! keys, and reused by every iteration; one iteration runs the operation over all `n` keys
//! (`insert_remove`: `n` inserts and `n` removes, alternating between two key halves), and
//! throughput is in operations, so criterion prints operations per second. `BenchmarkId`s read
//! `operation/implementation/size`: `cargo bench --bench concurrent_ops -- get_hit/hmap`.
//! Under `cargo test --benches` only 1K runs, once.

#[allow(
    dead_code,
    reason = "each bench target uses a different part of common/"
)]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::conc_maps::{ConcMap, DashMap, HmapConcurrent, LockedHashbrown, PapayaMap, SccMap};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};

/// The operations, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    GetHit,
    Update,
    InsertRemove,
}

impl Operation {
    const ALL: [Operation; 3] = [
        Operation::GetHit,
        Operation::Update,
        Operation::InsertRemove,
    ];

    fn name(self) -> &'static str {
        match self {
            Operation::GetHit => "get_hit",
            Operation::Update => "update",
            Operation::InsertRemove => "insert_remove",
        }
    }

    /// Operations one iteration performs on `n` keys.
    fn ops(self, n: usize) -> u64 {
        match self {
            Operation::GetHit | Operation::Update => n as u64,
            Operation::InsertRemove => 2 * n as u64,
        }
    }
}

/// One benchmark body per implementation, all instances of the same generic function.
type BenchFn = fn(&mut BenchmarkGroup<'_, WallTime>, Operation, &str, &[u64]);

/// The implementations compared, in report order.
const IMPLEMENTATIONS: [BenchFn; 5] = [
    bench_one::<HmapConcurrent>,
    bench_one::<PapayaMap>,
    bench_one::<SccMap>,
    bench_one::<DashMap>,
    bench_one::<LockedHashbrown>,
];

/// Runs `operation` for implementation `M` on the first half of `keys` (the map's keys; the
/// second half is what `insert_remove` swaps in).
fn bench_one<M: ConcMap>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    operation: Operation,
    label: &str,
    keys: &[u64],
) {
    let n = keys.len() / 2;
    let (first, second) = keys.split_at(n);
    // Criterion calls the closure several times (warm-up, then measurement) and not at all when
    // a filter excludes it, so the map is built lazily, once.
    let mut map: Option<M> = None;
    // Which half the map holds now (`insert_remove` swaps them).
    let mut holds_first = true;
    group.bench_function(BenchmarkId::new(M::NAME, label), |b| {
        b.iter_custom(|iterations| {
            let map = map.get_or_insert_with(|| {
                let map = M::with_capacity(n);
                for &key in first {
                    map.insert(key, key);
                }
                map
            });
            let start = Instant::now();
            for _ in 0..iterations {
                match operation {
                    Operation::GetHit => {
                        let live = if holds_first { first } else { second };
                        for &key in live {
                            black_box(map.get(key));
                        }
                    }
                    Operation::Update => {
                        let live = if holds_first { first } else { second };
                        for &key in live {
                            black_box(map.update(key));
                        }
                    }
                    Operation::InsertRemove => {
                        let (old, new) = if holds_first {
                            (first, second)
                        } else {
                            (second, first)
                        };
                        for (&out, &into) in old.iter().zip(new) {
                            black_box(map.insert(into, into));
                            black_box(map.remove(out));
                        }
                        holds_first = !holds_first;
                    }
                }
            }
            start.elapsed()
        });
    });
    if let Some(map) = &map {
        assert_eq!(
            map.len(),
            n,
            "{} {}: the map lost or gained keys",
            M::NAME,
            operation.name()
        );
    }
}

/// Sizes from `HMAP_OPS_SIZES` (comma list, `K`/`M` suffixes) or 1K and 64K; 1K only in test
/// mode.
fn sizes() -> Vec<usize> {
    if !std::env::args().any(|arg| arg == "--bench") {
        return vec![1_000];
    }
    match std::env::var("HMAP_OPS_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                common::keys::parse_count(s.trim())
                    .unwrap_or_else(|e| panic!("HMAP_OPS_SIZES: {e}"))
            })
            .collect(),
        Err(_) => vec![1_000, 64_000],
    }
}

fn concurrent_ops(c: &mut Criterion) {
    for &n in &sizes() {
        // Twice as many keys as the map holds: `insert_remove` alternates between the halves.
        let keys = common::keys::hit_keys(2 * n);
        let label = common::size_label(n);
        for operation in Operation::ALL {
            let mut group = c.benchmark_group(operation.name());
            group.throughput(Throughput::Elements(operation.ops(n)));
            group.warm_up_time(Duration::from_millis(500));
            group.measurement_time(Duration::from_secs(2));
            for bench in IMPLEMENTATIONS {
                bench(&mut group, operation, &label, &keys);
            }
            group.finish();
        }
    }
}

criterion_group!(benches, concurrent_ops);
criterion_main!(benches);
