//! Regression tests from fuzzing (style.md §10): **every crash a fuzz target finds becomes a test
//! here**, with its input written inline as the decoded operation list (`cargo fuzz fmt <target>
//! <artifact>` prints it), replayed through the public API, never as raw bytes: this file does
//! not depend on the fuzz crate, and stays readable when the `Operation` encoding changes. Each
//! test carries a one-line provenance note: target, how it was found, artifact name, and whether
//! the fault was the map's or the fuzz oracle's.
//!
//! Oracle faults are kept too: each pins a behaviour that the oracle now relies on, so the map
//! cannot drift away from it unnoticed.
//!
//! How to add one (design/testing.md, "Fuzzing"): minimise the artifact with `cargo fuzz tmin`,
//! print it with `cargo fuzz fmt`, copy the steps below as calls (keep the input's hasher and
//! `hmap::seed_thread_rng` seed, which fix bucket placement and iteration order), and assert what
//! the oracle asserted at the failing step.
//!
//! So far (campaigns listed in design/testing.md) the targets found **no fault in the maps**;
//! the two crashes below were oracle mistakes found in their first seconds.

mod common;

use common::ConstantHasher;
use hmap::hash_map::Entry;
use hmap::wrappers::SyncMap;
use hmap::HashMap;

/// differential_std, `-seed=1`, first seconds, crash-f3714b26 (oracle fault: it took the lazy
/// allocation of the bucket array for a growth). Input: `Config { hasher: Constant, keys: U8,
/// capacity: 0, go121: false, rng_seed: 4395580306522898432 }`, `[Entry(123, Peek(0))]`.
#[test]
fn entry_on_a_map_without_buckets_allocates_them_without_a_growth() {
    hmap::seed_thread_rng(4_395_580_306_522_898_432);
    let mut map: HashMap<u8, u32, ConstantHasher> = HashMap::with_hasher(ConstantHasher);
    let before = map.header();
    assert_eq!(before.buckets, 0, "no bucket array before the first write");
    match map.entry(123) {
        Entry::Occupied(_) => panic!("an empty map has no occupied entry"),
        Entry::Vacant(entry) => assert_eq!(*entry.key(), 123),
    }
    let after = map.header();
    // The write allocated the array (a legal effect of `entry`), but B is unchanged, nothing was
    // inserted and no growth is running.
    assert_eq!(after.log2_buckets, before.log2_buckets);
    assert_eq!(after.old_buckets, 0);
    assert!(!map.is_growing());
    assert!(map.is_empty());
    map.check_invariants();
}

/// sync_map, `-seed=1`, first seconds, crash-067ed5fd (oracle fault: it applied the store that
/// `f` makes on its first call although `range` over an empty map never calls `f`). Input:
/// `SyncInput { hasher: Constant, types: Strings, .. }`, `[RangeAndStore { key: 10, value: 10 },
/// Load(0)]` (`RangeAndStore` is `RangeAndWrite { kind: 1, .. }` since session 32).
#[test]
fn range_over_an_empty_sync_map_never_calls_its_function() {
    let map: SyncMap<String, String, ConstantHasher> = SyncMap::with_hasher(ConstantHasher);
    map.range(|_, _| {
        map.store("s10".to_owned(), "s10".to_owned());
        true
    });
    assert_eq!(map.load(&"s10".to_owned()), None);
    assert!(map.is_empty());
    map.check_invariants();
}
