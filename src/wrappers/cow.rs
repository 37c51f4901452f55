//! [`CowMap`]: an immutable map behind an atomically swapped pointer; writers copy it.
#![deny(unsafe_code)]

use core::fmt;
use core::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;

use super::reentry::{self, CallbackScope};
use super::{value_of, SharedMap};
use crate::{DefaultHashBuilder, HashMap};

/// Copy-on-write: Go's `atomic.Value` holding an immutable map (the `DeepCopyMap` of Go's
/// `sync` tests). Readers load the current map with one atomic pointer load and never lock;
/// a writer copies the whole map, changes the copy, and publishes it with one atomic store.
///
/// Writers serialise on a mutex, so concurrent writers never lose each other's writes. (The
/// seed article's version loads, copies, modifies and stores **without** a lock: two writers
/// that copy the same version both publish, and the first one's write vanishes. Go's
/// `atomic.Value` documentation shows the mutex; [`CowMap::modify`] is that pattern.)
///
/// # Costs
/// A read costs one `arc-swap` load (no lock, no shared write on the fast path). A write costs
/// a full copy of the map: O(n) time and a second map's worth of memory until readers of the
/// old version let go of it. Use it for maps read constantly and written rarely (configuration,
/// routing tables); batch writes with [`modify`](Self::modify).
///
/// Readers see one version for the whole operation: [`snapshot`](Self::snapshot) hands it out,
/// and `range` iterates one version without holding anything writers need, so `f` may use the
/// map freely (its writes publish new versions that this `range` does not see).
///
/// A panic while a write runs (a panicking `Hash`, `Eq` or `Clone`) publishes nothing: the map
/// keeps its previous version.
///
/// A write from inside [`modify`](Self::modify)'s closure to the same map panics (it would wait
/// for the writer lock its own thread holds); reads there are fine. The version a write
/// replaces, and a copy that a panic abandons, are dropped after the unlock, so their values'
/// destructors may write to the map. The one `Drop` that runs under the lock is that of the
/// clones a panicking `Clone` leaves behind while the copy is being made.
///
/// ```
/// use hmap::wrappers::{CowMap, SharedMap};
///
/// let map = CowMap::new();
/// map.store("timeout", 30u32);
/// let before = map.snapshot();
/// map.modify(|m| {
///     m.insert("timeout", 60);
///     m.insert("retries", 3);
/// });
/// assert_eq!(before.get("timeout"), Some(&30)); // old versions stay as they were
/// assert_eq!(map.load(&"timeout"), Some(60));
/// assert_eq!(map.len(), 2);
/// ```
pub struct CowMap<K, V, S = DefaultHashBuilder> {
    /// The current version; replaced, never changed in place.
    current: ArcSwap<HashMap<K, V, S>>,
    /// Held by writers from the load of the version they copy to the store of their copy.
    writer: Mutex<()>,
}

impl<K, V> CowMap<K, V, DefaultHashBuilder> {
    /// An empty map.
    pub fn new() -> Self {
        Self::from_map(HashMap::new())
    }
}

impl<K, V, S> CowMap<K, V, S> {
    /// An empty map hashing with `hash_builder`.
    pub fn with_hasher(hash_builder: S) -> Self {
        Self::from_map(HashMap::with_hasher(hash_builder))
    }

    /// Publishes `map` as the first version.
    pub fn from_map(map: HashMap<K, V, S>) -> Self {
        Self {
            current: ArcSwap::from_pointee(map),
            writer: Mutex::new(()),
        }
    }

    /// The current version, borrowed for one operation.
    fn version(&self) -> arc_swap::Guard<Arc<HashMap<K, V, S>>> {
        // ORDERING: SeqCst (arc-swap's load). Sees the version `publish` stored and, through it,
        // the map, never changed once published; under the writer lock, the one the last writer
        // published.
        self.current.load()
    }

    /// The current version. It never changes; later writes publish new versions.
    pub fn snapshot(&self) -> Arc<HashMap<K, V, S>> {
        arc_swap::Guard::into_inner(self.version())
    }

    /// The number of entries in the current version.
    pub fn len(&self) -> usize {
        self.version().len()
    }

    /// Whether the current version is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` on the entries of the current version until it returns `false`.
    pub fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        let version = self.snapshot();
        for (key, value) in version.iter() {
            if !f(key, value) {
                break;
            }
        }
    }
}

impl<K, V, S> CowMap<K, V, S>
where
    K: Eq + Hash + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    /// Copies the current version, applies `change` to the copy and publishes it, excluding
    /// other writers for the whole time. Returns what `change` returns.
    ///
    /// If `change` (or a `Clone`/`Hash`/`Eq` it triggers) panics, nothing is published.
    ///
    /// # Panics
    /// If `change` writes to this map (any write method, `modify` included): it would wait
    /// forever for the writer lock this call holds. Until session 29 it did wait forever
    /// (found by a black-box test).
    pub fn modify<R>(&self, change: impl FnOnce(&mut HashMap<K, V, S>) -> R) -> R {
        self.modify_as("modify", change)
    }

    /// [`modify`](Self::modify), named `operation` in the panic of a refused write, from outside
    /// or from inside `change` (and the `Clone`, `Hash` and `Eq` calls it makes).
    fn modify_as<R>(
        &self,
        operation: &'static str,
        change: impl FnOnce(&mut HashMap<K, V, S>) -> R,
    ) -> R {
        // Declared before the lock, so dropped after it, also when `change` panics: the copy's
        // values are dropped with no lock held.
        let mut next = None;
        let writer = self.lock_writer(operation);
        let scope = CallbackScope::enter(self.address(), operation);
        let result = change(next.insert(HashMap::clone(&self.version())));
        drop(scope);
        if let Some(next) = next.take() {
            self.publish(writer, next);
        }
        result
    }

    /// This map's address, which names it in the thread's record of callbacks (`reentry`).
    fn address(&self) -> *const () {
        core::ptr::from_ref(self).cast()
    }

    /// Takes the writer lock, after refusing a write from inside this map's `modify` closure
    /// (or from user code that another write runs under the lock).
    fn lock_writer(&self, operation: &'static str) -> MutexGuard<'_, ()> {
        // GO: (W-D10) Go's copy-on-write writer deadlocks here; this panics.
        reentry::check(self.address(), operation);
        // The lock protects no data (the `()`), only the copy-modify-publish sequence, so a
        // poisoned lock means nothing: the panicking writer published nothing.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes `next`, then releases the writer lock, then drops the version it replaced:
    /// the last reference to it drops every value only it held, whose destructors may write to
    /// this map.
    fn publish(&self, writer: MutexGuard<'_, ()>, next: HashMap<K, V, S>) {
        // ORDERING: SeqCst (arc-swap's swap). Publishes the new version, built before
        // it, to every later load.
        let previous = self.current.swap(Arc::new(next));
        drop(writer);
        drop(previous);
    }

    /// The value for `key` in the current version, cloned.
    pub fn load(&self, key: &K) -> Option<V> {
        self.version().get(key).cloned()
    }

    /// Whether `key` is in the current version.
    pub fn contains_key(&self, key: &K) -> bool {
        self.version().contains_key(key)
    }

    /// Publishes a copy with `value` stored for `key`.
    pub fn store(&self, key: K, value: V) {
        drop(self.insert_as("store", key, value));
    }

    /// Publishes a copy with `value` stored for `key`; returns the previous value.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.insert_as("insert", key, value)
    }

    /// [`insert`](Self::insert), named `operation` in the panic of a refused write.
    fn insert_as(&self, operation: &'static str, key: K, value: V) -> Option<V> {
        // The previous value, and `key` when the copy keeps its stored key (as `HashMap::insert`
        // does), come out of the closure and drop after the unlock: their destructors may write
        // to this map (session 30's review: `HashMap::insert` dropped `key` under the lock).
        let replaced = self.modify_as(operation, |map| map.insert_or_replace(key, value));
        value_of(replaced)
    }

    /// Publishes a copy without `key` (publishes nothing if `key` is absent).
    pub fn delete(&self, key: &K) {
        drop(self.remove_as("delete", key));
    }

    /// Publishes a copy without `key`; returns its value. Publishes nothing if `key` is absent.
    pub fn remove(&self, key: &K) -> Option<V> {
        self.remove_as("remove", key)
    }

    /// [`remove`](Self::remove), named `operation` in the panic of a refused write, from
    /// outside or from the `Clone`, `Hash` and `Eq` calls it makes.
    fn remove_as(&self, operation: &'static str, key: &K) -> Option<V> {
        // As in `modify`: the copy is dropped after the lock if a panic abandons it.
        let mut next = None;
        let writer = self.lock_writer(operation);
        let scope = CallbackScope::enter(self.address(), operation);
        let current = self.version();
        if !current.contains_key(key) {
            return None;
        }
        // The copy's stored key comes out with the value and drops after the unlock, like the
        // value (session 30's review: `HashMap::remove` dropped it under the lock).
        let removed = next.insert(HashMap::clone(&current)).remove_entry(key);
        drop(scope);
        if let Some(next) = next.take() {
            self.publish(writer, next);
        }
        value_of(removed)
    }

    /// Publishes an empty map with the same hasher.
    pub fn clear(&self) {
        let writer = self.lock_writer("clear");
        let hasher = self.version().hasher().clone();
        self.publish(writer, HashMap::with_hasher(hasher));
    }
}

impl<K, V, S: Default> Default for CowMap<K, V, S> {
    fn default() -> Self {
        Self::from_map(HashMap::default())
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for CowMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.snapshot().iter()).finish()
    }
}

impl<K: Eq + Hash, V, S: BuildHasher + Default> FromIterator<(K, V)> for CowMap<K, V, S> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_map(iter.into_iter().collect())
    }
}

impl<K, V, S> SharedMap<K, V> for CowMap<K, V, S>
where
    K: Eq + Hash + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    fn load(&self, key: &K) -> Option<V> {
        CowMap::load(self, key)
    }

    fn store(&self, key: K, value: V) {
        CowMap::store(self, key, value);
    }

    fn delete(&self, key: &K) {
        CowMap::delete(self, key);
    }

    fn range(&self, f: impl FnMut(&K, &V) -> bool) {
        CowMap::range(self, f);
    }

    fn len(&self) -> usize {
        CowMap::len(self)
    }
}
