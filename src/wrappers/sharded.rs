//! [`ShardedMap`]: N independently locked [`HashMap`]s.
#![deny(unsafe_code)]

use core::fmt;
use core::hash::{BuildHasher, Hash};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crossbeam_utils::CachePadded;

use super::reentry::{self, CallbackScope};
use super::{clear_for_unlocked_drop, value_of, SharedMap};
use crate::{DefaultHashBuilder, HashMap};

/// The default number of shards (the article's 16).
pub const DEFAULT_SHARDS: usize = 16;

/// N [`HashMap`]s, each behind its own `RwLock`: Go's sharded map (a slice of `RWMutex` +
/// `map` pairs, the shard picked from the key's hash). Operations on keys in different shards
/// never wait for each other.
///
/// **Shard selection.** The map hashes a key once with its own `BuildHasher` and takes the shard
/// index from the hash's **top** `log2(N)` bits. Each shard's inner map picks its bucket from
/// the **low** B bits of its own hash (and its tophash byte from a hash mixed with its per-map
/// seed), so the bits that choose the shard are never the bits that choose the bucket: every
/// shard's keys still spread over all of its buckets. (Had the shard come from the low bits of
/// the same hash, every key of shard `i` would have `i` in its low bits and fill only
/// 1/N of each inner map's buckets.) The shards hash with clones of the same builder, so a
/// key is hashed twice per operation: once to pick the shard, once inside it.
///
/// Each shard's lock sits on its own cache line (`CachePadded`), so threads working on
/// different shards do not contend through false sharing.
///
/// `len` sums the shards (N read locks, not one atomic snapshot). `range` visits one shard at
/// a time under that shard's read lock (writers to that shard wait; writers to others do not),
/// so it is not a snapshot of the whole map; `f` must not use the same map (it panics, instead
/// of deadlocking as in Go). Two threads whose `range` callbacks write into each other's maps
/// can still deadlock, as nested locks do (each range's read lock holds off the other's write).
///
/// **User code under a lock.** The keys' `Hash` and `Eq` and the values' `Clone` (in `load`)
/// run under a shard's lock, so they must not use the same map (that deadlocks, and no check
/// catches it). `Drop` of keys and values runs after the lock is released: a replaced or removed
/// value, the key a replacing `insert` did not store, the stored key `remove` took out, and a
/// shard's entries in `clear` (collected first, then dropped), so a destructor may use the map
/// (found by a review in session 31: those drops ran under the shard's write lock and
/// deadlocked when they used the map).
///
/// ```
/// use hmap::wrappers::{SharedMap, ShardedMap};
///
/// let map = ShardedMap::with_shards(8);
/// for i in 0..100u64 {
///     map.store(i, i * i);
/// }
/// assert_eq!(map.len(), 100);
/// assert_eq!(map.load(&9), Some(81));
/// assert_eq!(map.shard_lens().iter().sum::<usize>(), 100);
/// ```
pub struct ShardedMap<K, V, S = DefaultHashBuilder> {
    shards: Box<[Shard<K, V, S>]>,
    hash_builder: S,
    /// `64 - log2(shards.len())`; the shard index is `hash >> shift` (0 for one shard).
    shift: u32,
}

/// One shard: its map behind its own lock, on its own cache line.
type Shard<K, V, S> = CachePadded<RwLock<HashMap<K, V, S>>>;

fn read<K, V, S>(shard: &RwLock<HashMap<K, V, S>>) -> RwLockReadGuard<'_, HashMap<K, V, S>> {
    // A panicking `Hash`/`Eq` poisons the lock but leaves the (panic-safe) map consistent.
    shard.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<K, V, S>(shard: &RwLock<HashMap<K, V, S>>) -> RwLockWriteGuard<'_, HashMap<K, V, S>> {
    shard.write().unwrap_or_else(PoisonError::into_inner)
}

impl<K, V> ShardedMap<K, V, DefaultHashBuilder> {
    /// An empty map with [`DEFAULT_SHARDS`] (16) shards.
    pub fn new() -> Self {
        Self::with_shards(DEFAULT_SHARDS)
    }

    /// An empty map with `shards` shards.
    ///
    /// # Panics
    /// If `shards` is not a power of two (1, 2, 4, …).
    pub fn with_shards(shards: usize) -> Self {
        Self::with_shards_and_hasher(shards, DefaultHashBuilder::default())
    }
}

impl<K, V, S: Clone> ShardedMap<K, V, S> {
    /// An empty map with `shards` shards, hashing with `hash_builder` (the shards use clones).
    ///
    /// # Panics
    /// If `shards` is not a power of two (1, 2, 4, …).
    pub fn with_shards_and_hasher(shards: usize, hash_builder: S) -> Self {
        assert!(
            shards.is_power_of_two(),
            "ShardedMap: the shard count must be a power of two (1, 2, 4, …), got {shards}"
        );
        let shards: Box<[_]> = (0..shards)
            .map(|_| CachePadded::new(RwLock::new(HashMap::with_hasher(hash_builder.clone()))))
            .collect();
        Self {
            shift: 64 - shards.len().trailing_zeros(),
            shards,
            hash_builder,
        }
    }
}

impl<K, V, S> ShardedMap<K, V, S> {
    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The number of entries in each shard, in shard order (each read under its own lock).
    pub fn shard_lens(&self) -> Vec<usize> {
        self.check("shard_lens");
        self.shards.iter().map(|shard| read(shard).len()).collect()
    }

    /// The number of entries: the sum over the shards, each read under its lock.
    pub fn len(&self) -> usize {
        self.check("len");
        self.shards.iter().map(|shard| read(shard).len()).sum()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry, one shard at a time. Entries whose types have drop glue are moved
    /// out under the shard's lock and dropped after it is released.
    pub fn clear(&self) {
        self.check("clear");
        for shard in self.shards.iter() {
            let removed = clear_for_unlocked_drop(&mut write(shard));
            drop(removed);
        }
    }

    /// Calls `f` on every entry until it returns `false`, one shard at a time under that
    /// shard's read lock.
    ///
    /// # Panics
    /// If `f` calls any method of this map (that would deadlock; see the type's documentation).
    pub fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        self.check("range");
        let _scope = CallbackScope::enter(core::ptr::from_ref(self).cast(), "range");
        for shard in self.shards.iter() {
            for (key, value) in read(shard).iter() {
                if !f(key, value) {
                    return;
                }
            }
        }
    }

    fn check(&self, operation: &str) {
        reentry::check(core::ptr::from_ref(self).cast(), operation);
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> ShardedMap<K, V, S> {
    /// The shard that holds `key`: the top bits of the map's hash of it.
    fn shard(&self, key: &K) -> &RwLock<HashMap<K, V, S>> {
        let hash = self.hash_builder.hash_one(key);
        // `checked_shr` gives None for shift 64 (one shard): index 0.
        let index = hash.checked_shr(self.shift).unwrap_or(0) as usize;
        &self.shards[index]
    }

    /// The index of the shard that holds `key` (for experiments on the key distribution).
    pub fn shard_of(&self, key: &K) -> usize {
        let hash = self.hash_builder.hash_one(key);
        hash.checked_shr(self.shift).unwrap_or(0) as usize
    }

    /// The value for `key`, cloned, under its shard's read lock.
    pub fn load(&self, key: &K) -> Option<V>
    where
        V: Clone,
    {
        self.check("load");
        read(self.shard(key)).get(key).cloned()
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.check("contains_key");
        read(self.shard(key)).contains_key(key)
    }

    /// Stores `value` for `key`, under its shard's write lock.
    pub fn store(&self, key: K, value: V) {
        self.insert(key, value);
    }

    /// Stores `value` for `key`; returns the previous value. On a replace the stored key is
    /// kept, and the `key` given is dropped after the lock is released.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.check("insert");
        let replaced = write(self.shard(&key)).insert_or_replace(key, value);
        // Unlocked (the guard was a temporary of the statement above): the unused key's `Drop`
        // may use the map.
        value_of(replaced)
    }

    /// Removes `key`.
    pub fn delete(&self, key: &K) {
        self.remove(key);
    }

    /// Removes `key`; returns its value (the stored key is dropped after the lock is released).
    pub fn remove(&self, key: &K) -> Option<V> {
        self.check("remove");
        let removed = write(self.shard(key)).remove_entry(key);
        // Unlocked, as in `insert`.
        value_of(removed)
    }
}

impl<K, V, S: Default + Clone> Default for ShardedMap<K, V, S> {
    fn default() -> Self {
        Self::with_shards_and_hasher(DEFAULT_SHARDS, S::default())
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for ShardedMap<K, V, S> {
    /// # Panics
    /// Inside a `range` over this map, like every other method: it takes the shards' read
    /// locks, and a second read lock of the shard the range holds waits forever once a writer
    /// is queued on it (found by a black-box test in session 21: `{map:?}` in a `range`
    /// callback hung while another thread's `store` waited for that shard).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        reentry::check(core::ptr::from_ref(self).cast(), "fmt");
        // The entries' `Debug` runs under the shards' read locks: a use of this map from it
        // panics instead of waiting on them.
        let _scope = CallbackScope::enter(core::ptr::from_ref(self).cast(), "fmt");
        let mut map = f.debug_map();
        for shard in self.shards.iter() {
            map.entries(read(shard).iter());
        }
        map.finish()
    }
}

impl<K: Eq + Hash, V, S: BuildHasher + Clone + Default> FromIterator<(K, V)>
    for ShardedMap<K, V, S>
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let map = Self::default();
        for (key, value) in iter {
            map.insert(key, value);
        }
        map
    }
}

impl<K, V, S> SharedMap<K, V> for ShardedMap<K, V, S>
where
    K: Eq + Hash,
    V: Clone,
    S: BuildHasher,
{
    fn load(&self, key: &K) -> Option<V> {
        ShardedMap::load(self, key)
    }

    fn store(&self, key: K, value: V) {
        ShardedMap::store(self, key, value);
    }

    fn delete(&self, key: &K) {
        ShardedMap::delete(self, key);
    }

    fn range(&self, f: impl FnMut(&K, &V) -> bool) {
        ShardedMap::range(self, f);
    }

    fn len(&self) -> usize {
        ShardedMap::len(self)
    }
}
