//! [`Pinned`]: the map plus a pinned epoch guard, the view every read and write goes through.
//!
//! The view pins on its first operation, not when it is made: an operation hashes its key,
//! prefetches its head bucket from the map's hint (`HeadHint`, which needs no pin), and only then
//! pins. crossbeam's pin is a full barrier; issued after the prefetch, it no longer delays the
//! bucket's cache miss (`design/concurrent-protocol.md`, section 8). Nothing the view hands out
//! exists before the pin, so when it pins is invisible to callers.
#![deny(unsafe_code)]

use core::borrow::Borrow;
use core::cell::OnceCell;
use core::hash::{BuildHasher, Hash};

use super::compute::{Computed, Operation};
use super::iter::Iter;
use super::map::ConcurrentHashMap;
use super::reclaim::Guard;
use super::stats::ConcurrentStats;
use crate::DefaultHashBuilder;

/// A pinned view of a [`ConcurrentHashMap`], from [`ConcurrentHashMap::pin`].
///
/// While it lives, every reference it hands out stays valid: entries that writers replace or
/// remove meanwhile are freed only after every view that could have seen them is dropped. Keep
/// views short-lived (one per operation or per batch): a view held forever keeps all garbage
/// retired after it alive, and one leaked with `mem::forget` after its first operation leaks
/// everything retired from then on, also past the map's drop (the values the map still holds
/// are dropped with it as usual). It is `!Send`: it belongs to the thread that pinned.
///
/// The epoch is pinned by the view's first operation (after that operation has started loading
/// its bucket) and stays pinned until the view is dropped. A view dropped unused pins once as it
/// drops, which lets the collector run, as every pin does.
pub struct Pinned<'m, K, V, S = DefaultHashBuilder> {
    map: &'m ConcurrentHashMap<K, V, S>,
    /// Empty until the first operation pins; then set for the view's whole life (every
    /// reference handed out borrows the view, so none outlives the guard).
    guard: OnceCell<Guard<'m>>,
}

impl<'m, K, V, S> Pinned<'m, K, V, S> {
    pub(crate) fn new(map: &'m ConcurrentHashMap<K, V, S>) -> Self {
        Self {
            map,
            guard: OnceCell::new(),
        }
    }

    /// The view's guard, pinning now if no operation has yet.
    #[inline]
    fn guard(&self) -> &Guard<'m> {
        if let Some(guard) = self.guard.get() {
            return guard;
        }
        self.install(self.map.raw().pin())
    }

    /// The guard for an operation on `hash`: if the view is not pinned yet, the operation's
    /// head bucket is prefetched first, so that its miss overlaps the pin's barrier.
    ///
    /// Not `OnceCell::get_or_init`: its initializing path is a `#[cold]` function of std's, so
    /// every view's first operation (the only one, for a view per operation) called out of line
    /// to pin, with the register saves and stack traffic of a call: about 20 of the pin's 70
    /// instructions (cachegrind, session 33).
    #[inline(always)]
    fn guard_for(&self, hash: u64) -> &Guard<'m> {
        if let Some(guard) = self.guard.get() {
            return guard;
        }
        self.map.raw().prefetch_head(hash);
        self.install(self.map.raw().pin())
    }

    /// Keeps `guard` as the view's guard and returns it. The view may have been pinned
    /// meanwhile: pinning can run destructors of retired values (crossbeam collects inside
    /// `pin`, after this thread is pinned), and one that reaches this view (through a `'static`
    /// map and a thread-local, say) pins it again and keeps that later guard. `guard` is then
    /// dropped here, which leaves the thread pinned through the kept one (crossbeam counts
    /// guards per handle, and so does the slot's `guards`). `OnceCell::get_or_init` panicked
    /// in that case ("reentrant init"). Test:
    /// `tests/concurrent_api.rs::a_destructor_run_inside_a_views_pin_can_use_that_view`.
    #[inline(always)]
    fn install(&self, guard: Guard<'m>) -> &Guard<'m> {
        if let Err(extra) = self.guard.set(guard) {
            drop(extra);
        }
        match self.guard.get() {
            Some(guard) => guard,
            None => unreachable!("the view's guard was just set"),
        }
    }

    /// The map this view pins.
    pub fn map(&self) -> &'m ConcurrentHashMap<K, V, S> {
        self.map
    }

    /// Number of entries; see [`ConcurrentHashMap::len`].
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape, evacuation progress and reclamation backlog; see [`ConcurrentHashMap::stats`].
    pub fn stats(&self) -> ConcurrentStats {
        self.map.stats()
    }

    /// Hands the garbage this thread retired, and what exited threads left in the map's handle
    /// slots, to the map's collector, and tries to free what no pinned view can see any more.
    /// The map does the first by itself (crossbeam collects every 128 pins and when a thread's
    /// bag of 64 retired objects is full); this is for tests and experiments that want
    /// reclamation at a chosen point, and for a program whose threads have exited and left up
    /// to about 128 retired values each that no later thread picked up. O(handle slots).
    ///
    /// It runs the destructors of retired keys and values that are due, which must not run
    /// while the thread holds a chain lock (a destructor may write to the map): called from the
    /// closure of `update`, `get_or_insert_with`, `compute` or `retain` of any
    /// `ConcurrentHashMap`, it does nothing (found by a black-box test in session 21: a `flush`
    /// in an `update` closure ran a destructor that then waited forever for the chain its
    /// thread held). It also frees what the map postponed because it fell due inside such a
    /// closure (see the module docs, "Memory").
    pub fn flush(&self) {
        if crate::sync::under_any_chain() {
            return;
        }
        self.map.raw().reclaimer().sweep_free_slots();
        self.guard().flush();
    }

    /// Iterates over `(&K, &V)`, weakly consistently: an entry present and unchanged for the
    /// whole iteration is yielded exactly once, also across a growth; entries inserted, replaced
    /// or removed meanwhile may or may not be. A key removed and inserted again during the
    /// iteration is two entries, so it may be yielded twice.
    pub fn iter(&self) -> Iter<'_, K, V> {
        let guard = self.guard();
        Iter::new(self.map.raw().table(guard), guard)
    }

    /// Iterates over the keys (see [`iter`](Self::iter)).
    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(key, _)| key)
    }

    /// Iterates over the values (see [`iter`](Self::iter)).
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, value)| value)
    }
}

impl<K, V, S> Pinned<'_, K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// The value for `key`. Lock-free: never waits for a writer and writes no shared memory.
    /// During a growth it returns the value the key had at some instant during the call.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).map(|(_, value)| value)
    }

    /// The stored key and the value for `key`.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.map.hash(key);
        self.map
            .raw()
            .find(
                hash,
                |candidate| candidate.borrow() == key,
                self.guard_for(hash),
            )
            .map(|entry| (&entry.key, &entry.value))
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).is_some()
    }

    /// Inserts `key` → `value`; returns the previous value, if any (it stays readable while this
    /// view lives). If the key was present, the stored key is replaced by `key` too.
    pub fn insert(&self, key: K, value: V) -> Option<&V> {
        let hash = self.map.hash(&key);
        self.map
            .raw()
            .insert(hash, key, value, self.guard_for(hash))
            .map(|entry| &entry.value)
    }

    /// Removes `key`; returns its value (readable while this view lives).
    pub fn remove<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.map.hash(key);
        self.map
            .raw()
            .remove(
                hash,
                |candidate| candidate.borrow() == key,
                self.guard_for(hash),
            )
            .map(|entry| &entry.value)
    }

    /// Replaces the value of `key` with `f(&old)` and returns the new value, or `None` if the key
    /// is absent. Atomic per key: `f` runs while the key's chain is held, so concurrent updates
    /// of one key are never lost. `f` should be quick, as it delays other writers of the chain.
    /// It may read the map; a write to the map from `f` panics (one that needed the held chain,
    /// a key of that chain or, during a growth, that chain's evacuation, would otherwise wait
    /// for it forever, so every write is refused). A write to another map from `f` works, but it
    /// locks a chain of that map (and, during its growth, chains it evacuates) while this one is
    /// held: as with nested mutexes, two threads that write from closures of map A into map B
    /// and from closures of B into A can deadlock. Keep one order between maps (writes from A's
    /// closures into B, never from B's into A), as Java's `ConcurrentHashMap::compute` asks.
    /// `f` itself, and a value it returned when the key's `Clone` then panics, are dropped after
    /// the chain is released, so their destructors may write to the map.
    ///
    /// Entries are immutable once published, so the new entry needs its own copy of the key:
    /// hence `K: Clone`.
    pub fn update<Q, F>(&self, key: &Q, f: F) -> Option<&V>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
        F: Fn(&V) -> V,
    {
        let hash = self.map.hash(key);
        self.map
            .raw()
            .update(
                hash,
                |candidate| candidate.borrow() == key,
                // By reference: `f`, and what it captured, is dropped when this returns, after
                // the chain is released, not at the end of its call under the lock.
                &f,
                self.guard_for(hash),
            )
            .map(|entry| &entry.value)
    }

    /// The value for `key`, inserting `f()` first if the key is absent. Concurrent callers for
    /// one key agree: `f` runs at most once per insertion, while the key's chain is held (so,
    /// as for [`update`](Self::update), it may read the map, and a write to the map from it
    /// panics).
    pub fn get_or_insert_with<F>(&self, key: K, f: F) -> &V
    where
        F: FnOnce() -> V,
    {
        let hash = self.map.hash(&key);
        &self
            .map
            .raw()
            .get_or_insert_with(hash, key, f, self.guard_for(hash))
            .value
    }

    /// The value for `key`, inserting `value` first if the key is absent.
    pub fn get_or_insert(&self, key: K, value: V) -> &V {
        self.get_or_insert_with(key, || value)
    }

    /// Inserts, replaces or removes `key`'s entry as `f` decides from the key's current value
    /// (`None` if absent), and returns what it did. Atomic per key: `f` runs once, while the
    /// key's chain is held, so no other write of the key comes between what `f` sees and what
    /// it decides (Java's `ConcurrentHashMap.compute`). `update` and `get_or_insert_with` are its
    /// two common cases. As for [`update`](Self::update), `f` should be quick, may read the map,
    /// and a write to the map from it panics.
    ///
    /// `key` becomes the stored key if `f` sets a value (as with [`insert`](Self::insert));
    /// otherwise it is dropped after the chain is released. `f` is consumed by its call, so
    /// what it captures and does not return is dropped under the lock, as part of running it
    /// (as for `get_or_insert_with`). If `f` panics, the map is unchanged.
    ///
    /// ```
    /// use hmap::concurrent::{Computed, Operation};
    /// use hmap::ConcurrentHashMap;
    ///
    /// let map = ConcurrentHashMap::new();
    /// let view = map.pin();
    /// // Count words: insert 1 or add 1, in one atomic step.
    /// for word in ["a", "b", "a"] {
    ///     view.compute(word, |count| Operation::Set(count.map_or(1, |c| c + 1)));
    /// }
    /// assert_eq!(view.get("a"), Some(&2));
    /// // Remove "a" only if its count is still 2.
    /// let done = view.compute("a", |count| match count {
    ///     Some(2) => Operation::Remove,
    ///     _ => Operation::Keep,
    /// });
    /// assert_eq!(done, Computed::Removed(&2));
    /// assert_eq!(view.get("a"), None);
    /// ```
    pub fn compute<F>(&self, key: K, f: F) -> Computed<'_, V>
    where
        F: FnOnce(Option<&V>) -> Operation<V>,
    {
        let hash = self.map.hash(&key);
        self.map.raw().compute(hash, key, f, self.guard_for(hash))
    }

    /// Keeps only the entries `keep` accepts; see [`ConcurrentHashMap::retain`].
    pub fn retain<F>(&self, keep: F)
    where
        F: FnMut(&K, &V) -> bool,
    {
        self.map.raw().retain(keep, self.guard());
    }

    /// Removes every entry; see [`ConcurrentHashMap::clear`].
    pub fn clear(&self) {
        self.retain(|_, _| false);
    }
}

impl<K, V, S> Drop for Pinned<'_, K, V, S> {
    /// Inline, with the unused view's pin out of line: with the pin inlined here the drop of
    /// every used view saved and restored seven registers around a test of the guard (session
    /// 33).
    #[inline]
    fn drop(&mut self) {
        if self.guard.get().is_none() {
            self.pin_unused();
        }
    }
}

impl<K, V, S> Pinned<'_, K, V, S> {
    /// A view that was never used pins once as it drops. Pinning is what drives crossbeam's
    /// collection (it collects every 128 pins), so code that pins empty views to let garbage
    /// drain behaves as it would with views that pin when they are made.
    #[cold]
    #[inline(never)]
    fn pin_unused(&self) {
        drop(self.map.raw().pin());
    }
}

/// `for (key, value) in &view`: [`Pinned::iter`].
impl<'a, K, V, S> IntoIterator for &'a Pinned<'_, K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K, V, S> core::fmt::Debug for Pinned<'_, K, V, S>
where
    K: core::fmt::Debug,
    V: core::fmt::Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
