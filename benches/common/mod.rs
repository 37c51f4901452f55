//! Code shared by the bench targets: deterministic inputs (`keys`), the growth-latency
//! measurement core (`measure`), the read-mostly workload core of the wrappers bench
//! (`read_mostly`), the concurrent maps of the concurrent bench (`conc_maps`) with its throughput
//! mixes (`mixes`) and its growth runs with readers (`conc_grow`), the child-process protocol
//! (`child`), the machine description and CSV files of the child-process benches (`output`),
//! the `BenchMap` adapter that lets every benchmark body be written once for every
//! implementation, and the bench sizes with the growth thresholds they sit near.
//!
//! Every implementation is built with the same hasher, `foldhash::fast::FixedState` seeded with
//! `keys::HASH_SEED`, so differences come from the table, not the hash function. Every file but
//! this one and `output.rs` is also part of `lab/` (included by `#[path]`), so it names only
//! crates the lab depends on too: std, `hmap`, `libc` (`measure.rs`), and the hasher and the
//! concurrent peers (`conc_maps.rs`).

pub(crate) mod child;
pub(crate) mod conc_grow;
pub(crate) mod conc_maps;
pub(crate) mod keys;
pub(crate) mod measure;
pub(crate) mod mixes;
pub(crate) mod output;
pub(crate) mod read_mostly;

/// The hasher every benchmarked map uses (foldhash, fixed seed: deterministic across runs).
pub(crate) type BenchHasher = foldhash::fast::FixedState;

/// The hasher instance: the same seed for every map.
pub(crate) fn bench_hasher() -> BenchHasher {
    foldhash::fast::FixedState::with_seed(keys::HASH_SEED)
}

/// How reports name the hasher.
pub(crate) fn hasher_name() -> String {
    format!(
        "foldhash::fast::FixedState::with_seed({:#x})",
        keys::HASH_SEED
    )
}

/// hmap, the Go 1.22 mirror under test.
pub(crate) type HmapMap = hmap::HashMap<u64, u64, BenchHasher>;
/// hashbrown's SwissTable; grows by one stop-the-world rehash.
pub(crate) type HashbrownMap = hashbrown::HashMap<u64, u64, BenchHasher>;
/// std's HashMap (hashbrown inside, std's API layer on top).
pub(crate) type StdMap = std::collections::HashMap<u64, u64, BenchHasher>;
/// griddle: hashbrown with incremental resizing, the closest published peer of hmap's design.
pub(crate) type GriddleMap = griddle::HashMap<u64, u64, BenchHasher>;

/// One map implementation as the benches see it: `u64` keys and values, the shared hasher.
pub(crate) trait BenchMap: Sized {
    /// Implementation name, the middle part of every `BenchmarkId`.
    const NAME: &'static str;
    /// An empty map that has allocated nothing.
    fn new() -> Self;
    /// An empty map with room for `capacity` entries before it grows.
    fn with_capacity(capacity: usize) -> Self;
    /// Inserts or overwrites; returns the previous value.
    fn insert(&mut self, key: u64, value: u64) -> Option<u64>;
    /// Looks `key` up.
    fn get(&self, key: u64) -> Option<u64>;
    /// Removes `key`; returns its value.
    fn remove(&mut self, key: u64) -> Option<u64>;
    /// Visits every entry; returns the wrapping sum of the values.
    fn iter_sum(&self) -> u64;
    /// Number of entries.
    fn len(&self) -> usize;
    /// Whether the map has no entries.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Implements `BenchMap` for a map type whose API matches std's `HashMap` (all four do). A macro
/// only removes four copies of the same forwarding code; the benches themselves loop over
/// arrays of implementations.
macro_rules! forward_bench_map {
    ($ty:ty, $name:literal) => {
        impl BenchMap for $ty {
            const NAME: &'static str = $name;
            #[inline]
            fn new() -> Self {
                <$ty>::with_hasher(bench_hasher())
            }
            #[inline]
            fn with_capacity(capacity: usize) -> Self {
                <$ty>::with_capacity_and_hasher(capacity, bench_hasher())
            }
            #[inline]
            fn insert(&mut self, key: u64, value: u64) -> Option<u64> {
                <$ty>::insert(self, key, value)
            }
            #[inline]
            fn get(&self, key: u64) -> Option<u64> {
                <$ty>::get(self, &key).copied()
            }
            #[inline]
            fn remove(&mut self, key: u64) -> Option<u64> {
                <$ty>::remove(self, &key)
            }
            #[inline]
            fn iter_sum(&self) -> u64 {
                self.iter()
                    .fold(0u64, |sum, (_, &value)| sum.wrapping_add(value))
            }
            #[inline]
            fn len(&self) -> usize {
                <$ty>::len(self)
            }
        }
    };
}

forward_bench_map!(HmapMap, "hmap");
forward_bench_map!(HashbrownMap, "hashbrown");
forward_bench_map!(StdMap, "std");
forward_bench_map!(GriddleMap, "griddle");

/// Builds a map the way a program would: from empty, inserting `keys` in order (value = key).
pub(crate) fn build<M: BenchMap>(keys: &[u64]) -> M {
    let mut map = M::new();
    for &key in keys {
        map.insert(key, key);
    }
    assert_eq!(map.len(), keys.len(), "{}: keys must be distinct", M::NAME);
    map
}

/// Entries at which hmap (Go 1.22 load factor 6.5) with 2^`log2_buckets` buckets is exactly full:
/// `6.5 · 2^B`. Inserting one more key starts a doubling. (For B = 0 it is 8: a bucket's slots.)
pub(crate) const fn go_full(log2_buckets: u32) -> usize {
    if log2_buckets == 0 {
        8
    } else {
        13 << (log2_buckets - 1)
    }
}

/// Entries at which hashbrown (and std, and griddle) with 2^`log2_buckets` buckets is exactly
/// full: 7/8 of the buckets (valid for 2^3 buckets and more). One more key triggers a resize.
pub(crate) const fn swiss_full(log2_buckets: u32) -> usize {
    (1 << log2_buckets) / 8 * 7
}

/// The default bench sizes (1K, 100K, 1M, 8M keys). Where they sit, in share of the maximum load
/// after growing from empty:
/// - 1K: hmap B = 8 (60% of its 1,664 limit); hashbrown 2^11 buckets (56% of 1,792).
/// - 100K: hmap B = 14 (94% of 106,496: nearly full, long overflow chains likely);
///   hashbrown 2^17 buckets (87% of 114,688).
/// - 1M: hmap B = 18 (59%); hashbrown 2^21 buckets (55%).
/// - 8M: hmap B = 21 (59%); hashbrown 2^24 buckets (55%).
///
/// So 100K compares both designs near full, the others just after a doubling.
pub(crate) const DEFAULT_SIZES: [usize; 4] = [1_000, 100_000, 1_000_000, 8_000_000];

/// Sizes on either side of a growth threshold, for the operations whose cost depends on which
/// side they land (inserting from empty pays for the last doubling or not; a lookup in hmap just
/// past its threshold runs while the map is still growing, with most keys in the old buckets):
/// - `go_full(13)` = 53,248: hmap full at B = 13; 53,249 starts hmap's doubling to B = 14.
/// - `swiss_full(16)` = 57,344: hashbrown/std full at 2^16 buckets; 57,345 forces their rehash
///   into 2^17 buckets.
pub(crate) const THRESHOLD_SIZES: [usize; 4] = [
    go_full(13),
    go_full(13) + 1,
    swiss_full(16),
    swiss_full(16) + 1,
];

/// A size as it appears in a `BenchmarkId`: `1K`, `8M` for round numbers, digits otherwise.
pub(crate) fn size_label(n: usize) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n % 1_000 == 0 {
        format!("{}K", n / 1_000)
    } else {
        n.to_string()
    }
}

/// Reads a comma-separated list of counts from environment variable `var`; `default` when unset.
///
/// # Panics
/// With a readable message when the variable is set but malformed: a bench run with a typo in
/// its configuration should stop, not silently measure something else.
pub(crate) fn counts_from_env(var: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(var) {
        Ok(text) if !text.trim().is_empty() => text
            .split(',')
            .map(|item| keys::parse_count(item).unwrap_or_else(|e| panic!("{var}={text}: {e}")))
            .collect(),
        _ => default.to_vec(),
    }
}

/// Whether cargo/criterion runs this bench binary as a test (`cargo test --benches`, or
/// `cargo bench -- --test`): then the benches shrink to a smoke run.
pub(crate) fn test_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let test = args.iter().any(|a| a == "--test");
    !bench || test
}

/// Criterion options that take a value: a bench that takes map names as filters must skip the
/// option's value too.
pub(crate) const CRITERION_OPTIONS_WITH_VALUE: [&str; 18] = [
    "--save-baseline",
    "-s",
    "--baseline",
    "-b",
    "--baseline-lenient",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--profile-time",
    "--output-format",
    "--color",
    "--plotting-backend",
    "--format",
];

/// The variable's value when it is set and not blank.
pub(crate) fn env_text(var: &str) -> Option<String> {
    std::env::var(var)
        .ok()
        .filter(|text| !text.trim().is_empty())
}

/// A count from the environment (`K`/`M` suffixes allowed), `None` when unset or blank.
pub(crate) fn env_count(var: &str) -> Result<Option<usize>, String> {
    env_text(var)
        .map(|text| keys::parse_count(&text).map_err(|e| format!("{var}={text}: {e}")))
        .transpose()
}

/// A comma-separated list of counts from the environment (`K`/`M` suffixes allowed), `None` when
/// unset or blank.
pub(crate) fn env_counts(var: &str) -> Result<Option<Vec<usize>>, String> {
    env_text(var)
        .map(|text| {
            text.split(',')
                .map(|item| keys::parse_count(item).map_err(|e| format!("{var}={text}: {e}")))
                .collect()
        })
        .transpose()
}

/// The command line of a bench that runs its own harness and child processes (`concurrent.rs`,
/// `wrappers.rs`, `grow_latency.rs`), as cargo and criterion pass it. Criterion's own options are accepted and
/// ignored (with their values: [`CRITERION_OPTIONS_WITH_VALUE`]).
pub(crate) struct HarnessArgs {
    /// Run as a test (no `--bench`, as `cargo test --benches` runs it, or `--test`): shrink to a
    /// smoke run and write no CSV.
    pub(crate) smoke: bool,
    /// `--quick`: the CI size.
    pub(crate) quick: bool,
    /// The words that name one of the bench's sub-benchmarks.
    pub(crate) keywords: Vec<String>,
    /// The other words: implementation-name filters.
    pub(crate) filters: Vec<String>,
}

impl HarnessArgs {
    /// Parses `args` (without the program name); a word in `keywords` is a sub-benchmark, any
    /// other word a filter. `None` when there is nothing to run: `--list` (which prints nothing,
    /// as criterion's harness expects) or `--help` (which prints `help()`).
    pub(crate) fn parse(
        args: &[String],
        keywords: &[&str],
        help: impl FnOnce() -> String,
    ) -> Option<HarnessArgs> {
        let (mut bench, mut test, mut quick) = (false, false, false);
        let (mut found, mut filters) = (Vec::new(), Vec::new());
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            match arg.as_str() {
                "--bench" => bench = true,
                "--test" => test = true,
                "--quick" => quick = true,
                "--list" => return None,
                "--help" | "-h" => {
                    println!("{}", help());
                    return None;
                }
                option if CRITERION_OPTIONS_WITH_VALUE.contains(&option) => {
                    iter.next();
                }
                option if option.starts_with('-') => {}
                word if keywords.contains(&word) => found.push(word.to_owned()),
                filter => filters.push(filter.to_owned()),
            }
        }
        Some(HarnessArgs {
            smoke: !bench || test,
            quick,
            keywords: found,
            filters,
        })
    }

    /// Whether an implementation named `name` runs: it contains one of the filters, or there are
    /// none.
    pub(crate) fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// `<target>/hmap-bench`, found from this executable's path (`<target>/<profile>/deps/<exe>`).
pub(crate) fn results_dir() -> std::path::PathBuf {
    use std::path::{Path, PathBuf};
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(Path::to_path_buf))?
    });
    from_exe
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("hmap-bench")
}
