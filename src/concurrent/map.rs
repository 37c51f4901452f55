//! [`ConcurrentHashMap`]: the public type, its constructors, statistics and trait impls.
#![deny(unsafe_code)]

use core::borrow::Borrow;
use core::hash::{BuildHasher, Hash};

use super::pinned::Pinned;
use super::raw::{RawMap, LOAD_FACTOR};
use super::stats::ConcurrentStats;
use crate::DefaultHashBuilder;

/// Go's classic map made concurrent: 8-slot buckets with tophash bytes and overflow chains,
/// incremental growth from `old` to `buckets`, lock-free readers, per-chain writer exclusion,
/// and cooperative evacuation. See the [module documentation](super) for the guarantees.
///
/// ```
/// use hmap::ConcurrentHashMap;
///
/// let map = ConcurrentHashMap::new();
/// std::thread::scope(|s| {
///     for t in 0..4u64 {
///         let map = &map;
///         s.spawn(move || {
///             let view = map.pin();
///             for i in 0..1000 {
///                 view.insert(t * 1000 + i, i);
///             }
///         });
///     }
/// });
/// assert_eq!(map.len(), 4000);
/// assert_eq!(map.pin().get(&2042), Some(&42));
/// ```
pub struct ConcurrentHashMap<K, V, S = DefaultHashBuilder> {
    /// Boxed so that it never moves: deferred destructors point at its reclaimer's counters.
    raw: Box<RawMap<K, V>>,
    hash_builder: S,
}

impl<K, V> ConcurrentHashMap<K, V, DefaultHashBuilder> {
    /// An empty map with one bucket (B = 0), like Go's `make(map[K]V)`.
    pub fn new() -> Self {
        Self::with_hasher(DefaultHashBuilder::default())
    }

    /// An empty map with room for `capacity` entries before its first growth (Go's size hint:
    /// B = 0 up to 8 entries, else the smallest B with `capacity <= 6.5 * 2^B`).
    ///
    /// # Panics
    /// "capacity overflow" if the table would not fit in memory addresses. A table that fits
    /// in addresses but not in memory (from about 2^36 entries on a 64-bit machine) aborts the
    /// process when its allocation fails, as std's collections do.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, DefaultHashBuilder::default())
    }
}

impl<K, V, S> ConcurrentHashMap<K, V, S> {
    /// An empty map hashing with `hash_builder`.
    pub fn with_hasher(hash_builder: S) -> Self {
        Self::with_capacity_and_hasher(0, hash_builder)
    }

    /// An empty map with room for `capacity` entries, hashing with `hash_builder` (B as in
    /// [`with_capacity`](ConcurrentHashMap::with_capacity)).
    ///
    /// # Panics
    /// "capacity overflow" if the table would not fit in memory addresses; an allocation that
    /// fails aborts, as in [`with_capacity`](ConcurrentHashMap::with_capacity).
    pub fn with_capacity_and_hasher(capacity: usize, hash_builder: S) -> Self {
        let log2 = LOAD_FACTOR.log2_buckets_for(capacity);
        Self {
            raw: Box::new(RawMap::new(log2)),
            hash_builder,
        }
    }

    /// A view for reading and writing, which pins this thread on the map's collector at its first
    /// operation and stays pinned until dropped. That first operation hashes its key and
    /// prefetches its bucket *before* pinning: crossbeam-epoch's pin is a full barrier, and a miss
    /// started before it overlaps it instead of following it (`examples/pin_cost.rs`: about 40%
    /// off a lookup with a pin each). Pin once per operation or, for speed, once per batch; but a
    /// live view holds back the reclamation of everything retired meanwhile, so do not keep one
    /// for long. A view dropped unused pins once as it drops (so that empty pins still let the
    /// collector run).
    pub fn pin(&self) -> Pinned<'_, K, V, S> {
        Pinned::new(self)
    }

    /// Number of entries; exact whenever no write is in flight. Independent of the number of
    /// entries: it sums one counter stripe per handle slot, so it costs O(slots), which is at
    /// least 64 and grows with the most threads that ever used the map at once
    /// ([`ConcurrentStats::handle_slots`](super::ConcurrentStats::handle_slots)).
    ///
    /// While writes run it is not a snapshot: the stripes are read one after another, each
    /// thread's as it is then (as with Java's `LongAdder::sum`). A call that is preempted
    /// between two stripes while one thread inserts keys and another removes them sees the
    /// first thread's later count and the second's earlier one, so it can return far more (or
    /// fewer) entries than the map ever held: off by up to the number of writes that ran
    /// meanwhile. It never wraps below zero. For an exact count, read it when writes have
    /// stopped (found by a black-box test in session 29: 75,503 for a map of at most 64 keys,
    /// with the reader preempted on a 2-core machine).
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the map has no entries: `len() == 0`, so exact whenever no write is in flight
    /// and, like `len`, not a snapshot while writes run (inserts and removals on other threads
    /// can make it answer `true` while some key is present throughout).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The map's hasher.
    pub fn hasher(&self) -> &S {
        &self.hash_builder
    }

    /// Go's `B`: the current table has 2^B buckets.
    pub fn log2_buckets(&self) -> u8 {
        let guard = self.raw.pin();
        self.raw.table(&guard).log2
    }

    /// Whether a growth is in progress (old buckets not all evacuated yet).
    pub fn is_growing(&self) -> bool {
        let guard = self.raw.pin();
        !self.raw.table(&guard).old().is_null()
    }

    /// A snapshot of the map's shape, evacuation progress and reclamation backlog. The fields
    /// are read one after another, not atomically together.
    pub fn stats(&self) -> ConcurrentStats {
        ConcurrentStats::collect(&self.raw)
    }

    /// Starts a growth now, if none runs: doubling, or same-size when `same_size`. Returns
    /// whether one was started. For models and tests that need a growth at a chosen point with
    /// few keys; the map starts growths by itself otherwise.
    #[doc(hidden)]
    pub fn force_growth(&self, same_size: bool) -> bool {
        let guard = self.raw.pin();
        let table = self.raw.table(&guard);
        self.raw.start_growth(table, same_size)
    }

    /// Under loom: gives back the handle slot the calling thread owns, as the thread's exit
    /// does outside loom, so that a model can have a later flush sweep it.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn give_back_thread_slot(&self) {
        super::reclaim::give_back_thread_slot(self.raw.reclaimer());
    }

    pub(crate) fn raw(&self) -> &RawMap<K, V> {
        &self.raw
    }
}

impl<K, V, S> ConcurrentHashMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// Asserts the map's internal invariants (`design/concurrent-protocol.md`'s T, B, E, R and
    /// N labels); panics naming the broken one. For tests and fuzzing: walks the whole table
    /// and rehashes every key, and must only be called while no other thread uses the map.
    #[doc(hidden)]
    #[cfg(any(test, fuzzing, feature = "invariants", feature = "sched"))]
    pub fn check_invariants(&self) {
        self.raw.check_invariants(|key| self.hash(key));
    }

    /// The current table's chains, bucket by bucket, as Go's runtime shows its `buckets`
    /// (tophash bytes, and the key and value of every full slot), passed to `f`; `None` (and `f`
    /// not called) while a growth runs. For the Go lockstep test (`tests/go_parity/trace.rs`),
    /// which compares them with the sequential mirror's; O(buckets), and only while no other
    /// thread uses the map.
    #[doc(hidden)]
    #[cfg(any(test, fuzzing, feature = "invariants"))]
    pub fn with_image<R>(&self, f: impl FnOnce(&[crate::ChainImage<'_, K, V>]) -> R) -> Option<R> {
        self.raw.with_image(f)
    }

    /// GO: Go seeds its hash with the map's `hash0`; here the `BuildHasher` is the seed (C-D8).
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hash_builder.hash_one(key)
    }

    /// The value for `key`, cloned. A convenience for one lookup: it pins for the call, like
    /// `self.pin().get(key).cloned()`. To read without cloning, or to do several operations
    /// under one pin, use [`pin`](Self::pin).
    pub fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.pin().get(key).cloned()
    }

    /// Whether `key` is present (pins for the call).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.pin().contains_key(key)
    }

    /// Inserts `key` → `value` and returns a clone of the previous value, if any (pins for the
    /// call; [`Pinned::insert`](crate::concurrent::Pinned::insert) returns a reference instead
    /// and needs no `V: Clone`). The previous value itself cannot be moved out: readers may
    /// still be looking at it, so it is dropped when the map reclaims it.
    pub fn insert(&self, key: K, value: V) -> Option<V>
    where
        V: Clone,
    {
        self.pin().insert(key, value).cloned()
    }

    /// Removes `key` and returns a clone of its value (pins for the call; see
    /// [`insert`](Self::insert) for why a clone).
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.pin().remove(key).cloned()
    }

    /// Replaces the value of `key` with `f(&old)`, atomically per key, and returns a clone of
    /// the new value, or `None` if the key is absent (pins for the call; the rules for `f` are
    /// [`Pinned::update`](crate::concurrent::Pinned::update)'s).
    pub fn update<Q, F>(&self, key: &Q, f: F) -> Option<V>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
        V: Clone,
        F: Fn(&V) -> V,
    {
        self.pin().update(key, f).cloned()
    }

    /// A clone of the value for `key`, inserting `f()` first if the key is absent (pins for the
    /// call; the rules for `f` are
    /// [`Pinned::get_or_insert_with`](crate::concurrent::Pinned::get_or_insert_with)'s).
    pub fn get_or_insert_with<F>(&self, key: K, f: F) -> V
    where
        V: Clone,
        F: FnOnce() -> V,
    {
        self.pin().get_or_insert_with(key, f).clone()
    }

    /// Removes every entry. Not atomic: it finishes a running growth, then empties one chain at
    /// a time; entries inserted meanwhile may survive it.
    pub fn clear(&self) {
        self.pin().clear();
    }

    /// Keeps only the entries `keep` accepts. Not atomic, like [`clear`](Self::clear): every
    /// entry present for the whole call is tested, and `keep` may see an entry more than once if
    /// a growth starts meanwhile. `keep` runs while the entry's chain is held: it may read the
    /// map, and a write to the map from it panics, as for
    /// [`Pinned::update`](crate::concurrent::Pinned::update).
    pub fn retain<F>(&self, keep: F)
    where
        F: FnMut(&K, &V) -> bool,
    {
        self.pin().retain(keep);
    }
}

impl<K, V, S: Default> Default for ConcurrentHashMap<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K, V, S> core::fmt::Debug for ConcurrentHashMap<K, V, S>
where
    K: core::fmt::Debug,
    V: core::fmt::Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.pin(), f)
    }
}

/// A copy made through one pinned view of `self`, into a map pre-sized for `self.len()` with a
/// clone of the hasher. Weakly consistent while other threads write, as
/// [`iter`](crate::concurrent::Pinned::iter) is: every entry present and unchanged for the whole
/// copy is in the clone with its value; an entry written meanwhile may or may not be, and a key
/// removed and inserted again meanwhile ends up with one of its values. Quiescent, it is an exact
/// copy. The view is held for the whole copy, which delays the reclamation of what other threads
/// retire meanwhile.
impl<K, V, S> Clone for ConcurrentHashMap<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    fn clone(&self) -> Self {
        let copy = Self::with_capacity_and_hasher(self.len(), self.hash_builder.clone());
        let source = self.pin();
        (&copy).extend(
            source
                .iter()
                .map(|(key, value)| (key.clone(), value.clone())),
        );
        drop(source);
        copy
    }
}

/// Equal when both maps have the same number of entries and every key of `self` maps to an
/// equal value in `other` (std's `HashMap` rule; the hashers may differ). While other threads
/// write to either map the answer reflects no single instant, so compare quiescent maps.
impl<K, V, S1, S2> PartialEq<ConcurrentHashMap<K, V, S2>> for ConcurrentHashMap<K, V, S1>
where
    K: Hash + Eq,
    V: PartialEq,
    S1: BuildHasher,
    S2: BuildHasher,
{
    fn eq(&self, other: &ConcurrentHashMap<K, V, S2>) -> bool {
        if core::ptr::addr_eq(self, other) {
            return true;
        }
        if self.len() != other.len() {
            return false;
        }
        let mine = self.pin();
        let theirs = other.pin();
        mine.iter()
            .all(|(key, value)| theirs.get(key).is_some_and(|other| value == other))
    }
}

impl<K, V, S> Eq for ConcurrentHashMap<K, V, S>
where
    K: Hash + Eq,
    V: Eq,
    S: BuildHasher,
{
}

impl<K, V, S> FromIterator<(K, V)> for ConcurrentHashMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher + Default,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let map = Self::with_capacity_and_hasher(iter.size_hint().0, S::default());
        (&map).extend(iter);
        map
    }
}

impl<K, V, S> Extend<(K, V)> for ConcurrentHashMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        (&*self).extend(iter);
    }
}

impl<K, V, S> Extend<(K, V)> for &ConcurrentHashMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        // A fresh pin every 1024 inserts, so that a long extend does not hold back every other
        // thread's reclamation until it ends.
        let mut view = self.pin();
        for (index, (key, value)) in iter.into_iter().enumerate() {
            if index % 1024 == 1023 {
                drop(view);
                view = self.pin();
            }
            view.insert(key, value);
        }
    }
}
