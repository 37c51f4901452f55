//! [`SafeMap`]: Go's lock-wrapped map, over a pluggable [`Backend`].
#![deny(unsafe_code)]

use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;

use super::backend::{Backend, RwLockBackend};
use super::reentry::{self, CallbackScope};
use super::{clear_for_unlocked_drop, value_of, SharedMap};
use crate::{DefaultHashBuilder, HashMap};

/// One [`HashMap`] behind one lock: the article's `SafeMap` (a struct holding a map and a
/// `sync.RWMutex`, with `Load`/`Store`/`Delete`/`Range`/`Len` methods), with the lock chosen by
/// the backend `B`: [`RwLockBackend`] (the default, readers share), [`MutexBackend`] (everyone
/// excludes everyone) or [`ActorBackend`] (one thread owns the map, operations are messages).
///
/// Every operation is linearizable (it takes effect at one instant, under the lock or on the
/// owner thread). `range` sees one consistent state: writers are excluded for the whole call.
///
/// ```
/// use hmap::wrappers::{ActorBackend, SafeMap, SharedMap};
///
/// let map: SafeMap<u64, String, ActorBackend> = SafeMap::new();
/// std::thread::scope(|s| {
///     for t in 0..4u64 {
///         let map = &map;
///         s.spawn(move || map.store(t, format!("thread {t}")));
///     }
/// });
/// assert_eq!(map.len(), 4);
/// assert_eq!(map.load(&2).as_deref(), Some("thread 2"));
/// ```
///
/// # Costs
/// Every operation takes the one lock (or makes a round trip to the owner thread), so writes
/// serialise and, under [`RwLockBackend`], a waiting writer also holds back new readers. `load`
/// clones the value. Keys and values must be `Send + 'static` for every backend, because
/// [`ActorBackend`] sends them to its owner thread (and clones the key of a lookup).
///
/// # `range` and re-entrance
/// `range` holds the lock while it calls `f` (Go: `RLock` held across the loop), so `f` must not
/// use the same map: in Go that deadlocks; here it panics with a message saying so (a
/// thread-local check on every operation). `f` may use other maps, and other threads may use
/// this one meanwhile, but the check sees only the calling thread: an `f` that waits for
/// another thread's write to this map waits forever, and two threads whose callbacks write into
/// each other's maps (A's `range` into B, B's into A) deadlock under every backend, as nested
/// locks do (Go's too): under [`RwLockBackend`] each range's read lock holds off the other's
/// write.
///
/// # User code under the lock
/// The keys' `Hash` and `Eq` and the `Clone` of keys and values run under the lock (on the
/// owner thread for [`ActorBackend`]), so they must not use the same map: that deadlocks, and
/// no check catches it. `Drop` of keys and values runs after the lock is released, on the
/// calling thread: a replaced or removed value, the key a replacing `insert` did not store, the
/// stored key `remove` took out, every entry `clear` removed (collected first, then dropped),
/// the key clone a lookup sent to the actor, and the actor's copies in `range` (kept until the
/// range ends, then dropped). So a destructor may use the map (found by a review in session 31:
/// each of those drops ran under the lock or on the owner thread and deadlocked there, as
/// `CowMap`'s and `SyncMap`'s did before session 29 and 30).
///
/// [`MutexBackend`]: super::MutexBackend
/// [`ActorBackend`]: super::ActorBackend
pub struct SafeMap<K, V, B: Backend = RwLockBackend, S = DefaultHashBuilder> {
    cell: B::Cell<K, V, S>,
    backend: PhantomData<fn() -> B>,
}

impl<K, V, B> SafeMap<K, V, B, DefaultHashBuilder>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    B: Backend,
{
    /// An empty map.
    pub fn new() -> Self {
        Self::with_capacity_and_hasher(0, DefaultHashBuilder::default())
    }

    /// An empty map with room for `capacity` entries before it grows.
    ///
    /// # Panics
    /// "capacity overflow" if the table would not fit in memory addresses.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, DefaultHashBuilder::default())
    }
}

impl<K, V, B, S> SafeMap<K, V, B, S>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    B: Backend,
    S: BuildHasher + Send + 'static,
{
    /// An empty map with room for `capacity` entries, hashing with `hash_builder`.
    ///
    /// # Panics
    /// "capacity overflow" if the table would not fit in memory addresses.
    pub fn with_capacity_and_hasher(capacity: usize, hash_builder: S) -> Self {
        Self {
            cell: B::new_cell(HashMap::with_capacity_and_hasher(capacity, hash_builder)),
            backend: PhantomData,
        }
    }

    /// The backend's name (`"mutex"`, `"rwlock"` or `"actor"`).
    pub fn backend_name(&self) -> &'static str {
        B::NAME
    }

    fn check(&self, operation: &str) {
        reentry::check(core::ptr::from_ref(self).cast(), operation);
    }

    /// The value for `key`, cloned. Go: `Load` (under `RLock`).
    pub fn load(&self, key: &K) -> Option<V> {
        self.check("load");
        B::read_key(&self.cell, key, |map, key| map.get(key).cloned())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.check("contains_key");
        B::read_key(&self.cell, key, |map, key| map.contains_key(key))
    }

    /// Stores `value` for `key`. Go: `Store` (under `Lock`).
    pub fn store(&self, key: K, value: V) {
        self.insert(key, value);
    }

    /// Stores `value` for `key` and returns the previous value. On a replace the stored key is
    /// kept, and the `key` given is dropped after the lock is released.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.check("insert");
        let replaced = B::write(&self.cell, (key, value), |map, (key, value)| {
            map.insert_or_replace(key, value)
        });
        // Unlocked: the unused key's `Drop` may use the map.
        value_of(replaced)
    }

    /// Removes `key`. Go: `Delete`.
    pub fn delete(&self, key: &K) {
        self.remove(key);
    }

    /// Removes `key` and returns its value (the stored key is dropped after the lock is
    /// released).
    pub fn remove(&self, key: &K) -> Option<V> {
        self.check("remove");
        let removed = B::write_key(&self.cell, key, |map, key| map.remove_entry(key));
        // Unlocked, as in `insert`.
        value_of(removed)
    }

    /// Removes every entry (the map keeps its bucket array, as Go's `clear`). Entries whose
    /// types have drop glue are moved out under the lock and dropped after it is released.
    pub fn clear(&self) {
        self.check("clear");
        let removed = B::write(&self.cell, (), |map, ()| clear_for_unlocked_drop(map));
        drop(removed);
    }

    /// The number of entries. Go: `Len` (under `RLock`).
    pub fn len(&self) -> usize {
        self.check("len");
        B::read(&self.cell, HashMap::len)
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` on every entry until it returns `false`, holding the lock for the whole call
    /// (writers wait). Go: `Range`.
    ///
    /// # Panics
    /// If `f` calls any method of this map (that would deadlock; see the type's documentation).
    pub fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        self.check("range");
        let map = core::ptr::from_ref(self).cast();
        // The scope covers each call of `f`, not the backend's own work between calls: the
        // actor's copies are dropped after the range, outside any scope, where their `Drop` may
        // use the map.
        B::range(&self.cell, &mut |key, value| {
            let _scope = CallbackScope::enter(map, "range");
            f(key, value)
        });
    }
}

impl<K, V, B, S> Default for SafeMap<K, V, B, S>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    B: Backend,
    S: BuildHasher + Default + Send + 'static,
{
    fn default() -> Self {
        Self::with_capacity_and_hasher(0, S::default())
    }
}

impl<K, V, B, S> fmt::Debug for SafeMap<K, V, B, S>
where
    K: Eq + Hash + Clone + Send + fmt::Debug + 'static,
    V: Clone + Send + fmt::Debug + 'static,
    B: Backend,
    S: BuildHasher + Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut entries = Vec::new();
        self.range(|k, v| {
            entries.push((k.clone(), v.clone()));
            true
        });
        f.debug_struct("SafeMap")
            .field("backend", &B::NAME)
            .field("entries", &DebugEntries(&entries))
            .finish()
    }
}

/// Formats cloned entries as a map.
struct DebugEntries<'a, K, V>(&'a [(K, V)]);

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for DebugEntries<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K, V, B, S> FromIterator<(K, V)> for SafeMap<K, V, B, S>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    B: Backend,
    S: BuildHasher + Default + Send + 'static,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let map: HashMap<K, V, S> = iter.into_iter().collect();
        Self {
            cell: B::new_cell(map),
            backend: PhantomData,
        }
    }
}

impl<K, V, B, S> SharedMap<K, V> for SafeMap<K, V, B, S>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
    B: Backend,
    S: BuildHasher + Send + 'static,
{
    fn load(&self, key: &K) -> Option<V> {
        SafeMap::load(self, key)
    }

    fn store(&self, key: K, value: V) {
        SafeMap::store(self, key, value);
    }

    fn delete(&self, key: &K) {
        SafeMap::delete(self, key);
    }

    fn range(&self, f: impl FnMut(&K, &V) -> bool) {
        SafeMap::range(self, f);
    }

    fn len(&self) -> usize {
        SafeMap::len(self)
    }
}
