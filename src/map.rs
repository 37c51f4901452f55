//! [`HashMap`]: the safe, std-like face of the sequential Go mirror (`raw::RawMap`).
//!
//! Every method here is a thin wrapper; the algorithms and all `unsafe` code live in `raw/`.
//! Each item's doc ends with its Go counterpart.
#![deny(unsafe_code)]

use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::ops::Index;

use crate::entry::{Entry, OccupiedEntry, VacantEntry};
use crate::error::{Fallibility, TryReserveError};
use crate::iter::{Drain, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys, Values, ValuesMut};
use crate::raw::entry::RawEntry;
use crate::raw::RawMap;
use crate::{DefaultHashBuilder, HeaderSnapshot, LoadFactor, MapStats};

/// A hash map with Go 1.22's classic layout and incremental growth.
///
/// Buckets of eight slots with a tophash byte per slot, overflow chains, load factor 6.5, and
/// growth that allocates the new bucket array at once but moves entries a chain or two per write
/// (see the crate docs and `design/incremental-resize.md`). The API follows
/// `std::collections::HashMap`.
///
/// # Examples
/// ```
/// use hmap::HashMap;
///
/// let mut ages = HashMap::new();
/// ages.insert("gopher", 14);
/// ages.insert("ferris", 9);
/// assert_eq!(ages.get("gopher"), Some(&14));
/// assert_eq!(ages.log2_buckets(), 0); // Go's B: one bucket holds up to 8 entries
/// ```
///
/// Go: `map[K]V` (`runtime.hmap`).
#[doc(alias = "hmap")]
pub struct HashMap<K, V, S = DefaultHashBuilder> {
    pub(crate) raw: RawMap<K, V, S>,
}

impl<K, V> HashMap<K, V, DefaultHashBuilder> {
    /// An empty map. Allocates nothing until the first insert.
    ///
    /// Go: `make(map[K]V)` (`makemap_small`).
    #[doc(alias = "makemap_small")]
    pub fn new() -> Self {
        Self::with_hasher(DefaultHashBuilder::default())
    }

    /// An empty map that holds `capacity` entries before it first grows: B is the smallest for
    /// which `capacity` does not exceed the load factor.
    ///
    /// # Panics
    /// With "capacity overflow" if no bucket array can hold `capacity` entries.
    ///
    /// Go: `make(map[K]V, hint)` (`makemap`).
    #[doc(alias = "makemap")]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, DefaultHashBuilder::default())
    }

    /// An empty map with the given load factor ([`LoadFactor::Go121`] reproduces Go 1.21).
    pub fn with_load_factor(load_factor: LoadFactor) -> Self {
        Self::with_capacity_hasher_and_load_factor(0, DefaultHashBuilder::default(), load_factor)
    }
}

impl<K, V, S> HashMap<K, V, S> {
    /// An empty map that hashes with `hash_builder`.
    pub fn with_hasher(hash_builder: S) -> Self {
        Self::with_capacity_and_hasher(0, hash_builder)
    }

    /// An empty map for `capacity` entries that hashes with `hash_builder`.
    ///
    /// # Panics
    /// With "capacity overflow" if no bucket array can hold `capacity` entries.
    pub fn with_capacity_and_hasher(capacity: usize, hash_builder: S) -> Self {
        Self::with_capacity_hasher_and_load_factor(capacity, hash_builder, LoadFactor::default())
    }

    /// An empty map for `capacity` entries with a hasher and a load factor.
    ///
    /// # Panics
    /// With "capacity overflow" if no bucket array can hold `capacity` entries.
    pub fn with_capacity_hasher_and_load_factor(
        capacity: usize,
        hash_builder: S,
        load_factor: LoadFactor,
    ) -> Self {
        match RawMap::try_with_capacity(
            capacity,
            hash_builder,
            load_factor,
            Fallibility::Infallible,
        ) {
            Ok(raw) => Self { raw },
            Err(_) => {
                unreachable!("the infallible path panics or aborts instead of returning an error")
            }
        }
    }

    /// The map's hasher.
    pub fn hasher(&self) -> &S {
        &self.raw.hash_builder
    }

    /// The number of entries. Go: `len(m)`.
    #[doc(alias = "maplen")]
    #[inline]
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the map has no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw.len() == 0
    }

    /// How many entries fit before the next doubling growth: 8 for B = 0, else 6.5·2^B
    /// (6·2^B with [`LoadFactor::Go121`]).
    pub fn capacity(&self) -> usize {
        self.raw.capacity()
    }

    /// The load factor this map grows at.
    pub fn load_factor_setting(&self) -> LoadFactor {
        self.raw.load_factor
    }

    /// log2 of the number of buckets. Go: `h.B`.
    pub fn log2_buckets(&self) -> u8 {
        self.raw.header.log2_buckets
    }

    /// Whether a growth is in progress (old buckets not yet all evacuated). Go: `h.growing()`.
    pub fn is_growing(&self) -> bool {
        self.raw.is_growing()
    }

    /// Statistics for research: sizes, overflow buckets, growth progress. Walks the whole
    /// table, so it costs O(buckets).
    pub fn stats(&self) -> MapStats {
        self.raw.stats()
    }

    /// The Go-shaped header as plain numbers (see [`crate::header_layout`] for its layout).
    pub fn header(&self) -> HeaderSnapshot {
        self.raw.header_snapshot()
    }

    /// An iterator over `(&K, &V)` in Go's randomized order: a random start bucket and a random
    /// rotation of the slots within every bucket. Each entry exactly once, also mid-growth.
    ///
    /// Go: `for k, v := range m` (`mapiterinit`, `mapiternext`).
    #[doc(alias = "mapiterinit")]
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(&self.raw)
    }

    /// An iterator over `(&K, &mut V)`.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut::new(&mut self.raw)
    }

    /// An iterator over the keys.
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys { inner: self.iter() }
    }

    /// An iterator over the values.
    pub fn values(&self) -> Values<'_, K, V> {
        Values { inner: self.iter() }
    }

    /// An iterator over mutable values.
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V> {
        ValuesMut {
            inner: self.iter_mut(),
        }
    }

    /// A consuming iterator over the keys.
    pub fn into_keys(self) -> IntoKeys<K, V, S> {
        IntoKeys {
            inner: self.into_iter(),
        }
    }

    /// A consuming iterator over the values.
    pub fn into_values(self) -> IntoValues<K, V, S> {
        IntoValues {
            inner: self.into_iter(),
        }
    }

    /// Removes every entry, yielding them; entries not consumed are dropped when the iterator
    /// is. Like [`HashMap::clear`] it keeps B.
    pub fn drain(&mut self) -> Drain<'_, K, V, S> {
        Drain::new(&mut self.raw)
    }

    /// Removes every entry but keeps B and the bucket array; on a map with entries it also ends
    /// any growth and renews the map's seed. An empty map is left as it is, growth included:
    /// Go's `mapclear` returns early too, and only `retain` can leave an empty map growing
    /// (D18). A panicking `Drop` of a key or value does not stop it: every entry is dropped and
    /// the map left empty, then the first panic goes on to the caller.
    ///
    /// Go: `clear(m)` (`mapclear`).
    #[doc(alias = "mapclear")]
    pub fn clear(&mut self) {
        self.raw.clear();
    }

    /// Keeps only the entries for which `keep` returns true. Each removal is a full delete (the
    /// tombstone rule is kept), so a panic in `keep` or in a `Drop` leaves a consistent map.
    ///
    /// GO: Go's idiom, a range loop that deletes, also does growth work at each delete; these
    /// removals evacuate nothing (D18).
    pub fn retain<F: FnMut(&K, &mut V) -> bool>(&mut self, keep: F) {
        self.raw.retain(keep);
    }

    /// Asserts every internal invariant (`raw::RawMap`'s I1–I8); panics naming the broken
    /// one. For tests and fuzzing: walks the whole table and rehashes every key.
    #[doc(hidden)]
    #[cfg(any(test, fuzzing, feature = "invariants"))]
    pub fn check_invariants(&self)
    where
        K: Hash + Eq,
        S: BuildHasher,
    {
        self.raw.check_invariants();
    }

    /// Every bucket's tophash bytes and entries, chain by chain, in both arrays: what a Go
    /// program reads from its map through `unsafe`. For the Go lockstep test
    /// (`tests/go_parity/trace.rs`); O(buckets).
    #[doc(hidden)]
    #[cfg(any(test, fuzzing, feature = "invariants"))]
    pub fn image(&self) -> crate::MapImage<'_, K, V> {
        self.raw.image()
    }

    /// [`iter`](Self::iter) with the random draw given instead of taken from the thread's
    /// source: the start bucket is its low B bits and the slot rotation the three above them
    /// (Go: `mapiterinit`'s `r`). For the Go lockstep test, which replays the draw a Go
    /// iteration made.
    #[doc(hidden)]
    #[cfg(any(test, fuzzing, feature = "invariants"))]
    pub fn iter_with_random(&self, random: u64) -> Iter<'_, K, V> {
        Iter::with_random(&self.raw, random)
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> HashMap<K, V, S> {
    /// Makes room for `additional` more entries with no doubling in between. Unlike every other
    /// write this may move all entries at once: the caller asked for the room now.
    ///
    /// If the room is already there it does nothing: a growth in progress goes on as before,
    /// two old buckets per write. Otherwise it finishes any growth in progress, then doubles
    /// until the entries fit (D13). A same-size growth can still start during those inserts:
    /// it answers too many overflow buckets (left by deletes), not the number of entries, as in
    /// Go (found by session 30's review; the promise said "no growth").
    ///
    /// # Panics
    /// With "capacity overflow" if the new size overflows.
    pub fn reserve(&mut self, additional: usize) {
        if self
            .raw
            .reserve(additional, Fallibility::Infallible)
            .is_err()
        {
            unreachable!("the infallible path panics or aborts instead of returning an error");
        }
    }

    /// Like [`HashMap::reserve`], but reports failure instead of panicking; on failure the map
    /// is unchanged.
    ///
    /// # Errors
    /// [`TryReserveError::CapacityOverflow`] if the size overflows,
    /// [`TryReserveError::AllocError`] if the allocator refuses.
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        self.raw.reserve(additional, Fallibility::Fallible)
    }

    /// Inserts `value` under `key`, returning the previous value. The stored key is kept on
    /// replacement, as in std. During a growth, first evacuates at most two old chains.
    ///
    /// Go: `m[k] = v` (`mapassign`).
    #[doc(alias = "mapassign")]
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.raw.insert(key, value)
    }

    /// [`insert`](Self::insert), but a replace returns the unused `key` with the old value
    /// instead of dropping it: for the wrappers, which drop both after releasing their lock.
    #[inline]
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn insert_or_replace(&mut self, key: K, value: V) -> Option<(K, V)> {
        self.raw.insert_or_replace(key, value)
    }

    /// The value under `key`. Reads never move entries.
    ///
    /// Go: `v, ok := m[k]` (`mapaccess2`).
    #[doc(alias = "mapaccess1")]
    #[doc(alias = "mapaccess2")]
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.raw.get_key_value(key).map(|(_, v)| v)
    }

    /// The stored key and value under `key`. Go: `mapaccessK`.
    #[doc(alias = "mapaccessK")]
    #[inline]
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.raw.get_key_value(key)
    }

    /// A mutable reference to the value under `key`.
    #[inline]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.raw.get_key_value_mut(key).map(|(_, v)| v)
    }

    /// Whether `key` is present.
    #[inline]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.raw.get_key_value(key).is_some()
    }

    /// Removes `key`, returning its value. Renews the map's seed when the map becomes empty.
    ///
    /// Go: `delete(m, k)` (`mapdelete`).
    #[doc(alias = "mapdelete")]
    #[inline]
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.raw.remove(key).map(|(k, v)| {
            drop(k);
            v
        })
    }

    /// Removes `key`, returning the stored key and its value. Go: `mapdelete`.
    #[inline]
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.raw.remove(key)
    }

    /// The entry for `key`, for in-place manipulation. Counts as a write: during a growth it
    /// evacuates at most two old chains.
    ///
    /// Go: the lookup half of `mapassign`.
    #[inline]
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V, S> {
        match self.raw.entry(key) {
            RawEntry::Occupied(raw) => Entry::Occupied(OccupiedEntry { raw }),
            RawEntry::Vacant(raw) => Entry::Vacant(VacantEntry { raw }),
        }
    }
}

impl<K, V, S: Default> Default for HashMap<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for HashMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Clone, V: Clone, S: Clone> Clone for HashMap<K, V, S> {
    /// A structural copy: same B, same seed, same growth state, entries cloned in place.
    /// Go: `maps.Clone` (`mapclone2`).
    fn clone(&self) -> Self {
        Self {
            raw: self.raw.clone(),
        }
    }
}

impl<K: Eq + Hash, V: PartialEq, S: BuildHasher> PartialEq for HashMap<K, V, S> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<K: Eq + Hash, V: Eq, S: BuildHasher> Eq for HashMap<K, V, S> {}

impl<K, Q, V, S> Index<&Q> for HashMap<K, V, S>
where
    K: Eq + Hash + Borrow<Q>,
    Q: Eq + Hash + ?Sized,
    S: BuildHasher,
{
    type Output = V;

    /// # Panics
    /// If `key` is not in the map.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("key not found in hmap::HashMap")
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Extend<(K, V)> for HashMap<K, V, S> {
    fn extend<T: IntoIterator<Item = (K, V)>>(&mut self, iter: T) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a, K: Eq + Hash + Copy, V: Copy, S: BuildHasher> Extend<(&'a K, &'a V)> for HashMap<K, V, S> {
    fn extend<T: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: T) {
        for (&k, &v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Eq + Hash, V, S: BuildHasher + Default> FromIterator<(K, V)> for HashMap<K, V, S> {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let mut map = Self::with_hasher(S::default());
        map.extend(iter);
        map
    }
}

impl<K: Eq + Hash, V, const N: usize> From<[(K, V); N]> for HashMap<K, V, DefaultHashBuilder> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<'a, K, V, S> IntoIterator for &'a HashMap<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, K, V, S> IntoIterator for &'a mut HashMap<K, V, S> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<K, V, S> IntoIterator for HashMap<K, V, S> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V, S>;

    fn into_iter(self) -> Self::IntoIter {
        IntoIter::new(self.raw)
    }
}
