//! The concurrent maps both tools compare, behind one small trait: `hmap::ConcurrentHashMap`
//! (the map under test), papaya, scc, dashmap and `RwLock<hashbrown>` (the baseline), each with
//! `u64` keys and values and the shared hasher (foldhash `FixedState`, `keys::HASH_SEED`), so
//! differences come from the table design.
//!
//! Used by `benches/concurrent.rs` (as `common::conc_maps`) and by the `hmap-lab` crate, which
//! includes this file with `#[path]` (its `conc.rs` names the maps for its command line), so
//! that the throughput mixes (`mixes.rs`) and the growth runs (`conc_grow.rs`) are written once.
//! Needs the map crates, which the root's dev-dependencies and the lab's dependencies both list.

use std::sync::{PoisonError, RwLock};

/// The hasher every concurrent map is built with: the same type and seed as
/// `common::bench_hasher()` and the lab's `maps::hasher()`.
pub(crate) type ConcHasher = foldhash::fast::FixedState;

/// The hasher instance: the same seed for every map.
fn hasher() -> ConcHasher {
    foldhash::fast::FixedState::with_seed(super::keys::HASH_SEED)
}

/// hmap's concurrent map, the map under test.
pub(crate) type HmapConcurrent = hmap::ConcurrentHashMap<u64, u64, ConcHasher>;
/// papaya: lock-free reads and writes, incremental resize, one boxed entry per key.
pub(crate) type PapayaMap = papaya::HashMap<u64, u64, ConcHasher>;
/// scc: bucket-level locks, incremental resize.
pub(crate) type SccMap = scc::HashMap<u64, u64, ConcHasher>;
/// dashmap: a fixed number of `RwLock`ed hashbrown shards; each shard resizes stop-the-world.
pub(crate) type DashMap = dashmap::DashMap<u64, u64, ConcHasher>;
/// One `RwLock` around a hashbrown map: the baseline.
pub(crate) type LockedHashbrown = RwLock<hashbrown::HashMap<u64, u64, ConcHasher>>;

/// Reclamation state that only `hmap` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReclaimStats {
    /// Objects retired but not yet freed (replaced entries, old bucket arrays).
    pub(crate) garbage_objects: usize,
    /// log2 of the bucket count (the table's current size).
    pub(crate) log2_buckets: u8,
}

/// One concurrent map as these measurements see it: `u64` keys and values, the shared hasher,
/// every method callable from many threads at once through `&self`.
pub(crate) trait ConcMap: Send + Sync + Sized {
    /// Implementation name in `benches/concurrent.rs`: report column, CSV value, child argument
    /// and filter target. (The lab names the maps itself: `conc.rs`.)
    const NAME: &'static str;
    /// An empty map that has allocated nothing (or as little as the implementation allows).
    fn new() -> Self;
    /// An empty map with room for `capacity` entries before it grows.
    fn with_capacity(capacity: usize) -> Self;
    /// Inserts `key`; `true` if it was new. Whether an existing key's value is overwritten is
    /// the map's own (scc's `insert_sync` keeps it); the workloads only insert new keys.
    fn insert(&self, key: u64, value: u64) -> bool;
    /// Looks `key` up.
    fn get(&self, key: u64) -> Option<u64>;
    /// Removes `key`; `true` if it was present.
    fn remove(&self, key: u64) -> bool;
    /// Increments `key`'s value in place; `true` if the key was present.
    fn update(&self, key: u64) -> bool;
    /// Number of entries (only read when no other thread runs).
    fn len(&self) -> usize;
    /// Garbage awaiting reclamation; `None` for maps that do not report it.
    fn reclaim_stats(&self) -> Option<ReclaimStats> {
        None
    }
    /// [`ReclaimStats::garbage_objects`], as the result lines carry it.
    fn garbage_objects(&self) -> Option<u64> {
        self.reclaim_stats().map(|s| s.garbage_objects as u64)
    }
}

/// Implements [`ConcMap`] for a map built like std's (`with_hasher`, `with_capacity_and_hasher`,
/// `len`), given its other operations. The `pinned` form writes those operations too, for the
/// maps whose every operation pins on its own (`map.pin().get(&k)`, as conc-map-bench's papaya
/// adapter does): hmap and papaya, which differ only in how `update` takes its key. A macro only
/// removes copies of the same forwarding code, as `forward_bench_map!` in `common/mod.rs` does.
macro_rules! conc_map {
    (pinned $ty:ty, $name:literal, update_key: |$key:ident| $update_key:expr, $($extra:tt)*) => {
        conc_map! {
            $ty,
            $name,
            #[inline]
            fn insert(&self, key: u64, value: u64) -> bool {
                self.pin().insert(key, value).is_none()
            }
            #[inline]
            fn get(&self, key: u64) -> Option<u64> {
                self.pin().get(&key).copied()
            }
            #[inline]
            fn remove(&self, key: u64) -> bool {
                self.pin().remove(&key).is_some()
            }
            #[inline]
            fn update(&self, $key: u64) -> bool {
                self.pin().update($update_key, |v| v.wrapping_add(1)).is_some()
            }
            $($extra)*
        }
    };
    ($ty:ty, $name:literal, $($operations:tt)*) => {
        impl ConcMap for $ty {
            const NAME: &'static str = $name;
            fn new() -> Self {
                <$ty>::with_hasher(hasher())
            }
            fn with_capacity(capacity: usize) -> Self {
                <$ty>::with_capacity_and_hasher(capacity, hasher())
            }
            fn len(&self) -> usize {
                <$ty>::len(self)
            }
            $($operations)*
        }
    };
}

conc_map! {
    pinned HmapConcurrent,
    "hmap",
    update_key: |key| &key,
    fn reclaim_stats(&self) -> Option<ReclaimStats> {
        let stats = self.stats();
        Some(ReclaimStats {
            garbage_objects: stats.garbage_objects,
            log2_buckets: stats.log2_buckets,
        })
    }
}

conc_map! {
    pinned PapayaMap,
    "papaya",
    update_key: |key| key,
}

conc_map! {
    SccMap,
    "scc",
    #[inline]
    fn insert(&self, key: u64, value: u64) -> bool {
        // `insert_sync` refuses an existing key; the workloads only insert new keys, and an
        // overwrite would be reported as a failed check either way.
        self.insert_sync(key, value).is_ok()
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.read_sync(&key, |_, &v| v)
    }
    #[inline]
    fn remove(&self, key: u64) -> bool {
        self.remove_sync(&key).is_some()
    }
    #[inline]
    fn update(&self, key: u64) -> bool {
        self.update_sync(&key, |_, v| *v = v.wrapping_add(1))
            .is_some()
    }
}

conc_map! {
    DashMap,
    "dashmap",
    #[inline]
    fn insert(&self, key: u64, value: u64) -> bool {
        DashMap::insert(self, key, value).is_none()
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        DashMap::get(self, &key).map(|entry| *entry.value())
    }
    #[inline]
    fn remove(&self, key: u64) -> bool {
        DashMap::remove(self, &key).is_some()
    }
    #[inline]
    fn update(&self, key: u64) -> bool {
        match self.get_mut(&key) {
            Some(mut entry) => {
                *entry = entry.wrapping_add(1);
                true
            }
            None => false,
        }
    }
}

impl ConcMap for LockedHashbrown {
    const NAME: &'static str = "rwlock_hashbrown";
    fn new() -> Self {
        RwLock::new(hashbrown::HashMap::with_hasher(hasher()))
    }
    fn with_capacity(capacity: usize) -> Self {
        RwLock::new(hashbrown::HashMap::with_capacity_and_hasher(
            capacity,
            hasher(),
        ))
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) -> bool {
        let mut map = self.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(key, value).is_none()
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        let map = self.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&key).copied()
    }
    #[inline]
    fn remove(&self, key: u64) -> bool {
        let mut map = self.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(&key).is_some()
    }
    #[inline]
    fn update(&self, key: u64) -> bool {
        let mut map = self.write().unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(&key) {
            Some(value) => {
                *value = value.wrapping_add(1);
                true
            }
            None => false,
        }
    }
    fn len(&self) -> usize {
        self.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}
