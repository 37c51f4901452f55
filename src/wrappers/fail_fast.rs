//! [`FailFastMap`]: Go's `hashWriting` misuse detector, made sound.
#![deny(unsafe_code)]

use core::fmt;
use core::hash::{BuildHasher, Hash};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::SharedMap;
use crate::sync::{AtomicU64, AtomicUsize, Ordering};
use crate::{DefaultHashBuilder, HashMap};

/// Go's message when a write meets another write.
pub(super) const WRITES: &str = "concurrent map writes";
/// Go's message when a read meets a write.
pub(super) const READ_AND_WRITE: &str = "concurrent map read and map write";
/// Go's message when an iteration meets a write.
pub(super) const ITERATION_AND_WRITE: &str = "concurrent map iteration and map write";

/// State-word bit: a write is in progress (Go: `hashWriting`).
const WRITER: u64 = 1;
/// State-word unit for one read in progress (bits 1..32 count them).
const READER: u64 = 1 << 1;
/// State-word unit for one `range` in progress (bits 32..64 count them).
const ITERATOR: u64 = 1 << 32;
/// Mask of the reader count.
const READERS: u64 = ITERATOR - READER;

/// A map for one goroutine at a time, which says so when it is shared: Go's concurrent-misuse
/// detection (the `hashWriting` flag), rebuilt as a sound detector.
///
/// Go's runtime sets `hashWriting` in the map header for the duration of every write and checks
/// it on entry to reads, writes and iteration steps, with plain loads and stores: "best-effort
/// detection", which misses overlaps and can itself race. When it catches one, it kills the
/// process with a `fatal error` that cannot be recovered.
///
/// `FailFastMap` keeps the same contract and Go's exact messages, but:
/// - **it never misses an overlap**: every operation announces itself in one atomic state word
///   (writer bit, reader count, iterator count) before it touches the map, so of two operations
///   that overlap in time and conflict (a write with anything), the later one sees the earlier
///   one and panics;
/// - **the panic is an ordinary Rust panic**, which `catch_unwind` (or a thread's `join`) can
///   catch, with the message as its `&'static str` payload:
///   - a write that meets a write: `"concurrent map writes"`,
///   - a read that meets a write, or a write that meets a read: `"concurrent map read and map
///     write"`,
///   - a `range` that meets a write, or a write that meets a `range`:
///     `"concurrent map iteration and map write"`;
/// - **the operation that panics takes no effect** (it panics before touching the map), and the
///   operation it collided with completes normally, so the map stays consistent and usable;
/// - **no undefined behaviour**: the map sits behind a `std::sync::RwLock` that the state word
///   guarantees is never contended (it is there to hand out `&`/`&mut` in safe Rust, not to make
///   anyone wait).
///
/// Operations that do not overlap never panic, whatever threads they come from. Reads overlap
/// reads freely. Like Go's `len`, [`len`](Self::len) is never checked.
///
/// GO: inside a Go `range` loop the same goroutine may write to the map. Here `range` lends
/// `&K`/`&V` into the map to its callback, so a write from the callback is an overlap like any
/// other and panics with the iteration message.
///
/// ```
/// use hmap::wrappers::FailFastMap;
/// use std::panic::{catch_unwind, AssertUnwindSafe};
///
/// let map = FailFastMap::new();
/// map.insert(1u64, "one");
/// let caught = catch_unwind(AssertUnwindSafe(|| {
///     map.range(|_, _| {
///         map.insert(2, "two"); // a write while the range is running
///         true
///     })
/// }));
/// let message = *caught.unwrap_err().downcast_ref::<&str>().unwrap();
/// assert_eq!(message, "concurrent map iteration and map write");
/// assert_eq!(map.len(), 1); // the write took no effect; the map is fine
/// assert_eq!(map.get(&1), Some("one"));
/// ```
///
/// # Invariants
/// - F1: `state`'s writer bit is set exactly while one writer holds (or is about to take, or has
///   just released) `map`'s write lock, and no reader or iterator count is then nonzero except
///   transiently, from an operation that will panic without touching `map`.
/// - F2: the reader and iterator counts are at least the number of read and range operations
///   holding (or about to take) `map`'s read lock; therefore `map`'s locks are never contended
///   and no operation waits.
/// - F3: `len` equals `map.len()` whenever no write is in progress.
pub struct FailFastMap<K, V, S = DefaultHashBuilder> {
    /// F1, F2: writer bit, reader count, iterator count (Go: the `hashWriting` bit of `flags`).
    state: AtomicU64,
    /// F2.
    map: RwLock<HashMap<K, V, S>>,
    /// F3: Go's `count`, read without any check.
    len: AtomicUsize,
    /// Overlaps detected so far (each one a panic).
    detections: AtomicU64,
}

/// What an operation announced in the state word; withdraws it on drop (also on unwind).
struct Announcement<'a> {
    state: &'a AtomicU64,
    unit: u64,
}

impl Drop for Announcement<'_> {
    fn drop(&mut self) {
        // ORDERING: Release. Everything this operation did to the map happens-before the next
        // operation that announces itself (its Acquire RMW reads this value or a later one), so
        // the next writer's `&mut` follows our accesses. Pairs with [W1]: the Acquire RMWs in
        // `announce` / `announce_write`.
        self.state.fetch_sub(self.unit, Ordering::Release);
    }
}

impl<K, V> FailFastMap<K, V, DefaultHashBuilder> {
    /// An empty map.
    pub fn new() -> Self {
        Self::with_hasher(DefaultHashBuilder::default())
    }

    /// An empty map with room for `capacity` entries before it grows.
    ///
    /// # Panics
    /// "capacity overflow" if the table would not fit in memory addresses.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::from_map(HashMap::with_capacity(capacity))
    }
}

impl<K, V, S> FailFastMap<K, V, S> {
    /// An empty map hashing with `hash_builder`.
    pub fn with_hasher(hash_builder: S) -> Self {
        Self::from_map(HashMap::with_hasher(hash_builder))
    }

    /// Wraps `map`.
    pub fn from_map(map: HashMap<K, V, S>) -> Self {
        Self {
            state: AtomicU64::new(0),
            len: AtomicUsize::new(map.len()),
            map: RwLock::new(map),
            detections: AtomicU64::new(0),
        }
    }

    /// The inner map.
    pub fn into_inner(self) -> HashMap<K, V, S> {
        self.map
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The number of entries, unchecked, as Go's `len(m)`: during a write it may be the count
    /// before or after it.
    pub fn len(&self) -> usize {
        // ORDERING: Relaxed. A statistic, like Go's unsynchronised `count` read; nothing is
        // read through it.
        self.len.load(Ordering::Relaxed)
    }

    /// Whether the map has no entries (unchecked, like [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many overlapping operations this map has caught (each was a panic).
    pub fn detections(&self) -> u64 {
        // ORDERING: Relaxed. A statistic.
        self.detections.load(Ordering::Relaxed)
    }

    /// Panics with `message` after counting the detection.
    #[cold]
    #[inline(never)]
    fn detected(&self, message: &'static str) -> ! {
        // ORDERING: Relaxed. A statistic.
        self.detections.fetch_add(1, Ordering::Relaxed);
        std::panic::panic_any(message)
    }

    /// Announces a read (`unit` = `READER`) or a range (`ITERATOR`); panics if a write is in
    /// progress. Go: the `h.flags&hashWriting != 0` check on entry to `mapaccess` and in
    /// `mapiternext`.
    fn announce(&self, unit: u64, message: &'static str) -> Announcement<'_> {
        // ORDERING: Acquire. Sees the writer bit of any write announced before us, and makes
        // the last write's map accesses (released in its `Announcement::drop`) visible to our
        // reads. Pairs with [W1]: `Announcement::drop`.
        let before = self.state.fetch_add(unit, Ordering::Acquire);
        let announcement = Announcement {
            state: &self.state,
            unit,
        };
        if before & WRITER != 0 {
            drop(announcement);
            self.detected(message);
        }
        announcement
    }

    /// Announces a write; panics if any operation is in progress. Go: the `hashWriting` checks
    /// of `mapassign` / `mapdelete` / `mapclear`, made exact.
    fn announce_write(&self) -> Announcement<'_> {
        // ORDERING: success Acquire: the previous operations' accesses (released when they
        // withdrew) happen-before our `&mut`. Pairs with [W1]: `Announcement::drop`.
        // Failure Relaxed: we only pick the panic message from the value.
        match self
            .state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Announcement {
                state: &self.state,
                unit: WRITER,
            },
            Err(now) if now & WRITER != 0 => self.detected(WRITES),
            Err(now) if now & READERS != 0 => self.detected(READ_AND_WRITE),
            Err(_) => self.detected(ITERATION_AND_WRITE),
        }
    }

    fn read_guard(&self) -> RwLockReadGuard<'_, HashMap<K, V, S>> {
        // F2: never contended; poisoning (a panicking `Hash`/`Eq` in an earlier write) leaves a
        // consistent map, because the map is panic-safe.
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_guard(&self) -> RwLockWriteGuard<'_, HashMap<K, V, S>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a write; `len` is refreshed however it ends.
    fn write<R>(&self, op: impl FnOnce(&mut HashMap<K, V, S>) -> R) -> R {
        struct RefreshLen<'a, K, V, S> {
            len: &'a AtomicUsize,
            map: RwLockWriteGuard<'a, HashMap<K, V, S>>,
        }
        impl<K, V, S> Drop for RefreshLen<'_, K, V, S> {
            fn drop(&mut self) {
                // ORDERING: Relaxed. A statistic (F3); the map itself is published by the
                // announcement's Release.
                self.len.store(self.map.len(), Ordering::Relaxed);
            }
        }
        let _announcement = self.announce_write();
        let mut guard = RefreshLen {
            len: &self.len,
            map: self.write_guard(),
        };
        op(&mut guard.map)
    }

    /// Calls `f` on every entry until it returns `false`. Panics with "concurrent map iteration
    /// and map write" if a write is in progress; a write that starts while the range runs (from
    /// another thread, or from `f`) panics with the same message instead.
    pub fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        let _announcement = self.announce(ITERATOR, ITERATION_AND_WRITE);
        let map = self.read_guard();
        for (key, value) in map.iter() {
            if !f(key, value) {
                break;
            }
        }
    }
}

impl<K, V, S> FailFastMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher,
{
    /// The value for `key`, cloned.
    ///
    /// # Panics
    /// "concurrent map read and map write" if a write is in progress.
    pub fn get(&self, key: &K) -> Option<V>
    where
        V: Clone,
    {
        let _announcement = self.announce(READER, READ_AND_WRITE);
        // A named guard, declared after the announcement, is released before it is withdrawn
        // (F2). As a temporary of the tail expression it would outlive the announcement
        // (edition 2021).
        let map = self.read_guard();
        map.get(key).cloned()
    }

    /// Whether `key` is present.
    ///
    /// # Panics
    /// "concurrent map read and map write" if a write is in progress.
    pub fn contains_key(&self, key: &K) -> bool {
        let _announcement = self.announce(READER, READ_AND_WRITE);
        // Named, as in `get`.
        let map = self.read_guard();
        map.contains_key(key)
    }

    /// Inserts `value` for `key`; returns the previous value.
    ///
    /// # Panics
    /// If any other operation is in progress: "concurrent map writes" (a write),
    /// "concurrent map read and map write" (a read) or "concurrent map iteration and map write"
    /// (a `range`). The insert then takes no effect.
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.write(|map| map.insert(key, value))
    }

    /// Removes `key`; returns its value.
    ///
    /// # Panics
    /// As [`insert`](Self::insert).
    pub fn remove(&self, key: &K) -> Option<V> {
        self.write(|map| map.remove(key))
    }

    /// Removes every entry.
    ///
    /// # Panics
    /// As [`insert`](Self::insert).
    pub fn clear(&self) {
        self.write(HashMap::clear);
    }
}

impl<K, V, S: Default> Default for FailFastMap<K, V, S> {
    fn default() -> Self {
        Self::from_map(HashMap::default())
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for FailFastMap<K, V, S> {
    /// Formats the entries as a `range` would (and panics like one during a write).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _announcement = self.announce(ITERATOR, ITERATION_AND_WRITE);
        // Named, as in `get`.
        let map = self.read_guard();
        f.debug_map().entries(map.iter()).finish()
    }
}

impl<K: Eq + Hash, V, S: BuildHasher + Default> FromIterator<(K, V)> for FailFastMap<K, V, S> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_map(iter.into_iter().collect())
    }
}

impl<K, V, S> SharedMap<K, V> for FailFastMap<K, V, S>
where
    K: Eq + Hash,
    V: Clone,
    S: BuildHasher,
{
    fn load(&self, key: &K) -> Option<V> {
        self.get(key)
    }

    fn store(&self, key: K, value: V) {
        self.insert(key, value);
    }

    fn delete(&self, key: &K) {
        self.remove(key);
    }

    fn range(&self, f: impl FnMut(&K, &V) -> bool) {
        FailFastMap::range(self, f);
    }

    fn len(&self) -> usize {
        FailFastMap::len(self)
    }
}
