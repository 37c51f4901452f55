//! [`SyncMap`]: a port of Go 1.22's `sync.Map` (`src/sync/map.go`), with Go 1.23's `Clear`.
//!
//! A read-only snapshot that readers load without locking, a dirty map behind a mutex for new
//! keys, and a miss counter that promotes the dirty map once the locked lookups have paid for
//! it. The algorithm follows the spec step by step (`go-hmap-spec.md` §4); comments tagged
//! `GO:` name the Go step, or say where and why the port differs.
//!
//! Memory ordering: every shared pointer is an `arc_swap` pointer (the snapshot, each entry's
//! value). Each of their operations contains a `SeqCst` read-modify-write (arc-swap's
//! "Atomic orderings" documentation), as strong as Go's `atomic.Pointer`, whose operations are
//! sequentially consistent; the port therefore needs no weaker-ordering argument. The dirty
//! map, the miss counter and the promotion counter live under the mutex, so there is no other
//! atomic.
//!
//! Invariants: see [`SyncMap`]'s `# Invariants`; `check_invariants` asserts them.

use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::mem;
use core::ptr;
// NOTE: std's `Arc`, not `crate::sync::Arc`: arc-swap stores std `Arc`s, and this module is not
// compiled under loom (see `wrappers`), so the facade has nothing to swap here.
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::{ArcSwap, ArcSwapOption, Guard};

use super::SharedMap;
use crate::{DefaultHashBuilder, HashMap};

/// The value an entry points to. Go: the `*any` in `entry.p`, with `expunged` as a sentinel.
///
/// Go's third state, nil (deleted), is the absence of a slot: an entry's pointer is an
/// `Option<Arc<Slot<V>>>`.
#[derive(Clone)]
enum Slot<V> {
    /// A live value.
    Value(V),
    /// Deleted, the dirty map exists, and this key is not in it (I2). One `Arc` of this variant
    /// is allocated per map ([`SyncMap`]'s `expunged`) and shared by every expunged entry.
    ///
    /// GO: Go's sentinel is one pointer per process; one per map is equivalent because an entry
    /// never moves between maps, and it keeps `Slot<V>` generic.
    Expunged,
}

/// An entry's pointer, loaded: `None` is Go's nil.
type SlotPtr<V> = Option<Arc<Slot<V>>>;

/// The address an entry's pointer holds, for comparing a compare-and-swap's previous value
/// with the expected one (arc-swap compares addresses, as Go's `CompareAndSwap` does).
fn address<V>(slot: &SlotPtr<V>) -> *const Slot<V> {
    slot.as_ref().map_or(ptr::null(), Arc::as_ptr)
}

/// The value in a loaded pointer, if it is live (neither nil nor expunged).
fn live<V>(slot: &SlotPtr<V>) -> Option<&V> {
    match slot.as_deref() {
        Some(Slot::Value(value)) => Some(value),
        Some(Slot::Expunged) | None => None,
    }
}

/// Whether a loaded pointer is the expunged state.
fn is_expunged<V>(slot: &SlotPtr<V>) -> bool {
    matches!(slot.as_deref(), Some(Slot::Expunged))
}

/// The value of a slot taken out of an entry (a previous value from a swap or delete), moved
/// out when no reader still holds the slot and cloned otherwise. `None` for the expunged slot,
/// which the entry helpers never hand out.
fn into_value<V: Clone>(slot: Arc<Slot<V>>) -> Option<V> {
    match Arc::unwrap_or_clone(slot) {
        Slot::Value(value) => Some(value),
        Slot::Expunged => None,
    }
}

/// A slot in the map: one per key, shared by the read-only snapshot and the dirty map (I1).
///
/// Go: `entry`.
struct Entry<V> {
    /// Go: `p`. `None` = nil (deleted), `Some(Slot::Expunged)` = expunged, otherwise live.
    slot: ArcSwapOption<Slot<V>>,
}

/// What [`Entry::try_load_or_store`] did.
enum LoadOrStore<V> {
    /// The entry held a value; here is a clone.
    Loaded(V),
    /// The entry was nil and now holds the caller's value.
    Stored,
    /// The entry is expunged; nothing happened. Go: `ok == false`.
    Expunged,
}

/// [`Entry::try_swap`] found the entry expunged.
struct IsExpunged;

impl<V> Entry<V> {
    /// Go: `newEntry`.
    fn new(slot: Arc<Slot<V>>) -> Self {
        Self {
            slot: ArcSwapOption::new(Some(slot)),
        }
    }

    /// Go: `entry.p.Load()`.
    fn load_slot(&self) -> Guard<SlotPtr<V>> {
        // ORDERING: SeqCst (arc-swap's load). Sees the value published by the store or CAS that
        // installed it, as Go's `atomic.Pointer.Load`.
        self.slot.load()
    }

    /// The live value, cloned. Go: `entry.load`.
    fn load(&self) -> Option<V>
    where
        V: Clone,
    {
        live(&self.load_slot()).cloned()
    }

    /// The live value's slot, owned (for `range`, which lends the value to the callback for as
    /// long as it likes without holding an arc-swap guard). Go: `entry.load`.
    fn load_full(&self) -> Option<Arc<Slot<V>>> {
        // ORDERING: SeqCst (arc-swap's load_full). As `load_slot`.
        let slot = self.slot.load_full();
        live(&slot)?;
        slot
    }

    /// Whether the entry is expunged. Stable while the caller holds the map's mutex (I2).
    fn is_expunged(&self) -> bool {
        is_expunged(&self.load_slot())
    }

    /// CAS the pointer from `current` to `new`; `Ok` with the replaced pointer, or `Err` with
    /// the pointer found instead.
    fn compare_and_swap(
        &self,
        current: &SlotPtr<V>,
        new: SlotPtr<V>,
    ) -> Result<SlotPtr<V>, Guard<SlotPtr<V>>> {
        // ORDERING: SeqCst (arc-swap's compare_and_swap, success and failure alike). Success
        // publishes `new`; failure returns what it found, which the caller re-checks, as Go's
        // CAS loops do after a failed `CompareAndSwap`.
        // NOTE: the comparison is by address, as Go's. `current` is held by the caller (a guard
        // or an `Arc`), so its allocation cannot be freed and reused meanwhile: an equal address
        // is the same slot. The only ABA is Go's own: the shared expunged slot, or nil, stored
        // again, which carry no value.
        let previous = self.slot.compare_and_swap(address(current), new);
        if address(&previous) == address(current) {
            Ok(Guard::into_inner(previous))
        } else {
            Err(previous)
        }
    }

    /// Replaces a live value equal to `old` with `new`; false if the entry is nil, expunged, or
    /// holds a different value. Go: `tryCompareAndSwap`.
    fn try_compare_and_swap(&self, old: &V, new: V) -> bool
    where
        V: PartialEq,
    {
        // GO: `p := e.p.Load(); if p == nil || p == expunged || *p != old { return false }`.
        // UNWIND: `V::eq` may panic; nothing has changed yet.
        let mut current = self.load_slot();
        if live(&current) != Some(old) {
            return false;
        }
        // GO: `nc := new`, allocated only once the first comparison has passed.
        let new = Arc::new(Slot::Value(new));
        loop {
            match self.compare_and_swap(&current, Some(Arc::clone(&new))) {
                Ok(_) => return true,
                // GO: Go reloads `p`; the pointer the failed CAS saw is such a reload.
                Err(found) => current = found,
            }
            if live(&current) != Some(old) {
                return false;
            }
        }
    }

    /// Deletes a live value equal to `old`. Go: the loop at the end of `Map.CompareAndDelete`.
    fn compare_and_delete(&self, old: &V) -> bool
    where
        V: PartialEq,
    {
        loop {
            let current = self.load_slot();
            // GO: `if p == nil || p == expunged || *p != old { return false }`.
            if live(&current) != Some(old) {
                return false;
            }
            if self.compare_and_swap(&current, None).is_ok() {
                return true;
            }
        }
    }

    /// Moves an expunged entry to nil; whether it was expunged. Called with the mutex held, after
    /// the entry has been put back into the dirty map. Go: `unexpungeLocked`.
    fn unexpunge_locked(&self, expunged: &Arc<Slot<V>>) -> bool {
        // ORDERING: SeqCst (arc-swap's compare_and_swap). Only the mutex holder leaves the
        // expunged state, so no other thread races this CAS out of it.
        let previous = self.slot.compare_and_swap(expunged, None);
        address(&previous) == Arc::as_ptr(expunged)
    }

    /// Stores `new` unconditionally; the previous pointer (never expunged: the caller holds the
    /// mutex and knows the entry is not). Go: `swapLocked`.
    fn swap_locked(&self, new: Arc<Slot<V>>) -> SlotPtr<V> {
        // ORDERING: SeqCst (arc-swap's swap). Publishes `new`.
        let previous = self.slot.swap(Some(new));
        debug_assert!(!is_expunged(&previous), "swap_locked on an expunged entry");
        previous
    }

    /// Loads the live value, or stores a clone of `value` into a nil entry. Go:
    /// `tryLoadOrStore`.
    ///
    /// `keep`: a caller that holds the mutex passes its [`Locked::retired_slots`], and the
    /// pointers this call loaded and its unused clone of `value` go there instead of being
    /// dropped here. Each may be the last reference to a value that a racing `swap` replaced,
    /// and a value's `Drop` must not run under the mutex (found by session 30's review). The
    /// exception is an unwind from a panicking `V::clone`, which drops them on the way out.
    fn try_load_or_store(
        &self,
        value: &V,
        mut keep: Option<&mut Vec<Arc<Slot<V>>>>,
    ) -> LoadOrStore<V>
    where
        V: Clone,
    {
        let mut current = self.load_slot();
        let mut pending = None;
        let outcome = loop {
            // GO: `if p == expunged { return nil, false, false }`; `if p != nil { return *p,
            // true, true }`.
            match current.as_deref() {
                Some(Slot::Expunged) => break LoadOrStore::Expunged,
                Some(Slot::Value(existing)) => break LoadOrStore::Loaded(existing.clone()),
                None => {}
            }
            // GO: `ic := i`, allocated only when the entry is nil.
            // UNWIND: `V::clone` may panic; nothing has changed.
            let slot = pending.get_or_insert_with(|| Arc::new(Slot::Value(value.clone())));
            match self.compare_and_swap(&None, Some(Arc::clone(slot))) {
                Ok(_) => break LoadOrStore::Stored,
                Err(found) => {
                    let seen = core::mem::replace(&mut current, found);
                    if let Some(keep) = keep.as_deref_mut() {
                        keep.extend(Guard::into_inner(seen));
                    }
                }
            }
        };
        if let Some(keep) = keep {
            keep.extend(Guard::into_inner(current));
            keep.extend(pending);
        }
        outcome
    }

    /// Deletes the live value; the deleted value's slot. Go: `entry.delete`.
    fn delete(&self) -> Option<Arc<Slot<V>>> {
        loop {
            let current = self.load_slot();
            // GO: `if p == nil || p == expunged { return nil, false }`.
            live(&current)?;
            if let Ok(previous) = self.compare_and_swap(&current, None) {
                return previous;
            }
        }
    }

    /// Stores `new` unless the entry is expunged; the previous pointer (`None` if it was nil).
    /// Go: `trySwap`.
    fn try_swap(&self, new: &Arc<Slot<V>>) -> Result<SlotPtr<V>, IsExpunged> {
        loop {
            let current = self.load_slot();
            if is_expunged(&current) {
                return Err(IsExpunged);
            }
            if let Ok(previous) = self.compare_and_swap(&current, Some(Arc::clone(new))) {
                return Ok(previous);
            }
        }
    }

    /// Moves a nil entry to expunged; whether the entry ends up expunged. Called with the mutex
    /// held, while building the dirty map. Go: `tryExpungeLocked`.
    fn try_expunge_locked(&self, expunged: &Arc<Slot<V>>) -> bool {
        let mut current = self.load_slot();
        while current.is_none() {
            // GO: `if e.p.CompareAndSwap(nil, expunged) { return true }`; on failure, reload.
            match self.compare_and_swap(&None, Some(Arc::clone(expunged))) {
                Ok(_) => return true,
                Err(found) => current = found,
            }
        }
        is_expunged(&current)
    }
}

/// The entries of one map generation: a published snapshot's, or the dirty map.
type Entries<K, V, S> = HashMap<K, Arc<Entry<V>>, S>;

/// The read-only snapshot. Never mutated once published (I5); entries change through their own
/// pointers.
///
/// Go: `readOnly`.
struct ReadOnly<K, V, S> {
    /// Go: `m`. Behind its own `Arc` so that publishing `amended: true` reuses it, as Go's
    /// `readOnly{m: read.m, amended: true}` copies only the map's header pointer.
    map: Arc<Entries<K, V, S>>,
    /// Whether the dirty map may hold keys that `map` lacks (I4). Go: `amended`.
    amended: bool,
}

/// The state behind the mutex. Go: the fields `dirty` and `misses` that `mu` guards.
struct Dirty<K, V, S> {
    /// Go: `dirty` (nil = `None`). See I1–I4.
    map: Option<Entries<K, V, S>>,
    /// Locked lookups since the snapshot was last replaced (I6). Go: `misses`.
    misses: usize,
    /// Promotions so far, for [`SyncMap::stats`]. Not in Go.
    promotions: u64,
}

/// A held mutex plus what the critical section took out of the map: old snapshots, a cleared
/// dirty map, a key removed from the dirty map, a caller's key the map did not take, the value
/// pointers a locked `LoadOrStore` let go of. Fields drop in declaration order, so the lock is
/// released first and user `Drop` code (keys, values) never runs under it: it can neither
/// poison the mutex nor deadlock by calling back into the map.
struct Locked<'a, K, V, S> {
    state: MutexGuard<'a, Dirty<K, V, S>>,
    retired_read: Option<Arc<ReadOnly<K, V, S>>>,
    retired_dirty: Option<Entries<K, V, S>>,
    retired_entry: Option<(K, Arc<Entry<V>>)>,
    /// The caller's key when the entry it names was no longer expunged (so the dirty map
    /// already has the key). Until session 30 it dropped under the lock.
    retired_key: Option<K>,
    /// See [`Entry::try_load_or_store`].
    retired_slots: Vec<Arc<Slot<V>>>,
}

/// Undoes a partial `dirty_locked` if cloning or hashing a key panics: every entry it expunged
/// goes back to nil. With the dirty map still `None`, no entry of the snapshot was expunged
/// before (I2), so un-expunging all of them restores the state exactly.
struct UnexpungeOnUnwind<'a, K, V, S> {
    entries: &'a Entries<K, V, S>,
    expunged: &'a Arc<Slot<V>>,
}

impl<K, V, S> Drop for UnexpungeOnUnwind<'_, K, V, S> {
    fn drop(&mut self) {
        for entry in self.entries.values() {
            entry.unexpunge_locked(self.expunged);
        }
    }
}

/// A snapshot of a [`SyncMap`]'s internal state, for research and tests. Made by
/// [`SyncMap::stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SyncMapStats {
    /// Keys in the read-only snapshot, live or not. Go: `len(read.m)`.
    pub read_len: usize,
    /// Snapshot entries that are nil (deleted; revivable without the lock).
    pub read_deleted: usize,
    /// Snapshot entries that are expunged (deleted and left out of the dirty map).
    pub read_expunged: usize,
    /// Keys in the dirty map, or `None` when there is none. Go: `len(dirty)`, nil.
    pub dirty_len: Option<usize>,
    /// Whether the dirty map may hold keys the snapshot lacks. Go: `read.amended`.
    pub amended: bool,
    /// Locked lookups since the last promotion. Go: `misses`.
    pub misses: usize,
    /// Promotions of the dirty map to the snapshot since the map was made (by misses or by
    /// `range`). Not in Go.
    pub promotions: u64,
}

/// A concurrent map for keys that are written once and read many times, or for threads that
/// work on disjoint keys: a port of Go 1.22's `sync.Map` (with Go 1.23's `Clear`).
///
/// # Design
///
/// - **Read-only snapshot.** An immutable map from key to a shared `Arc<Entry>`, published
///   through an arc-swap pointer. `load`, and the fast paths of `store`, `swap`,
///   `load_or_store`, `compare_and_swap`, `compare_and_delete`, `load_and_delete` and `delete`,
///   find the key there and work on the entry's own atomic pointer, **without the lock**.
/// - **Dirty map.** Behind a mutex: a copy of the snapshot's live entries (the same `Arc`s)
///   plus the keys added since. A new key always takes the lock.
/// - **`amended`.** A flag in the snapshot: the dirty map holds keys the snapshot lacks, so a
///   key absent from the snapshot must be looked up again under the lock.
/// - **Misses and promotion.** A locked lookup of a key the snapshot lacks counts a miss
///   (`load`, `load_and_delete`, `delete`, `compare_and_delete`: found or not;
///   `load_or_store`, `compare_and_swap`: when the dirty map has the key; `store` and `swap`:
///   never). When the misses reach the dirty map's length, the dirty map becomes the new
///   snapshot (O(1): the map is moved, not copied) and there is no dirty map until the next new
///   key. `range` (and so `len`) promotes at once, since it costs O(n) anyway.
/// - **Entry states.** Live (a value), deleted (nil: the dirty map is absent or holds this
///   entry, so a store may revive it lock-free), and **expunged** (deleted, and left out of the
///   dirty map when that map was built; reviving it takes the lock, to put it back). Deleting a
///   key in the snapshot only marks its entry nil; the key leaves for good at the promotion
///   after it was expunged.
///
/// Best for the two cases Go's documentation names: keys written once and read many times, and
/// threads that read, write and overwrite disjoint sets of keys. A workload that keeps adding
/// new keys takes the mutex on every new key and copies the snapshot into a fresh dirty map
/// after every promotion.
///
/// # Invariants
///
/// 1. **I1** When the dirty map exists, it holds every entry of the snapshot that is not
///    expunged, under the same key and as the same `Arc<Entry>` (a store through either is seen
///    through both), plus the keys added since the last promotion.
/// 2. **I2** An entry is expunged only while the dirty map exists, and an expunged entry is never
///    in it. Only the mutex holder moves an entry into or out of the expunged state.
/// 3. **I3** A nil (deleted) entry of the snapshot is in the dirty map, or there is no dirty
///    map: a lock-free store that revives it reaches the next snapshot either way (from I1, I2).
/// 4. **I4** A key in the dirty map but not in the snapshot implies `amended`; `amended` implies
///    that the dirty map exists. (`amended` may stay true after `load_and_delete` removed the
///    last such key, as in Go.)
/// 5. **I5** A published snapshot is never mutated; only the mutex holder publishes one.
/// 6. **I6** `misses` is 0 when there is no dirty map, and otherwise 0 or below its length.
///
/// # Divergences from Go
///
/// - GO: values are **cloned out** (`load`, `load_or_store`, `swap`, `load_and_delete`) because
///   a reader cannot borrow from a map that other threads may change; Go returns the interface
///   value, and its GC keeps it alive. `range` lends `&V` without cloning.
/// - GO: `compare_and_swap` and `compare_and_delete` need `V: PartialEq`; Go compares
///   interfaces with `==`, which panics at run time for incomparable values.
/// - GO: keys are typed (`K: Eq + Hash + Clone`: the dirty map holds its own copy of each key
///   it shares with the snapshot) and the hasher is a type parameter; Go hashes `any`.
/// - GO: `len`, `is_empty`, `stats`, `Debug`, `FromIterator` are not in Go (`len` walks the
///   map as `range` does). Go 1.22 has no `Clear` either; `clear` is Go 1.23's.
/// - GO: keys and values removed under the lock are dropped after it is released, and the
///   mutex recovers from poisoning; a panicking `Hash`, `Eq` or `Clone` under the lock leaves
///   I1–I6 intact (the steps are ordered for that; see the `UNWIND:` comments). Two locked
///   steps therefore run in the opposite order to Go's: a revived expunged entry is put into
///   the dirty map before it leaves the expunged state, and a new key is inserted before
///   `amended` is published. Nobody can tell under the mutex.
/// - GO: `clear` swaps in a new, empty dirty map (so the old entries drop after the unlock)
///   where Go 1.23 empties it in place and keeps its buckets; it allocates two objects (the
///   snapshot and its map) where Go allocates one.
///
/// # Examples
///
/// ```
/// use hmap::wrappers::SyncMap;
///
/// let map = SyncMap::new();
/// map.store("gopher", 1);
/// assert_eq!(map.load(&"gopher"), Some(1));
/// assert_eq!(map.load_or_store("gopher", 2), (1, true));
/// assert_eq!(map.load_or_store("ferris", 2), (2, false));
/// assert!(map.compare_and_swap(&"gopher", &1, 10));
/// assert_eq!(map.swap("gopher", 11), Some(10));
/// assert!(map.compare_and_delete(&"ferris", &2));
/// assert_eq!(map.load_and_delete(&"ferris"), None);
///
/// // A new key goes to the dirty map; a locked lookup for each dirty key promotes it.
/// let map = SyncMap::new();
/// map.store(1, "one");
/// let stats = map.stats();
/// assert!(stats.amended);
/// assert_eq!((stats.read_len, stats.dirty_len), (0, Some(1)));
/// assert_eq!(map.load(&2), None); // a miss: 1 miss >= len(dirty) = 1, so promote
/// let stats = map.stats();
/// assert!(!stats.amended);
/// assert_eq!((stats.read_len, stats.dirty_len, stats.promotions), (1, None, 1));
///
/// let mut seen = Vec::new();
/// map.range(|key, value| {
///     seen.push((*key, *value));
///     true
/// });
/// assert_eq!(seen, [(1, "one")]);
/// ```
///
/// Go: `sync.Map`.
pub struct SyncMap<K, V, S = DefaultHashBuilder> {
    /// The published snapshot (I1, I3–I5). Go: `read atomic.Pointer[readOnly]`.
    read: ArcSwap<ReadOnly<K, V, S>>,
    /// The dirty map and the miss counter (I1–I4, I6). Go: `mu`, `dirty`, `misses`.
    dirty: Mutex<Dirty<K, V, S>>,
    /// The one expunged slot of this map (I2). Go: `expunged`.
    expunged: Arc<Slot<V>>,
    /// Cloned into every map generation. Not in Go.
    hasher: S,
}

impl<K, V> SyncMap<K, V, DefaultHashBuilder> {
    /// An empty map with a randomly seeded default hasher. Allocates the (empty) snapshot only.
    ///
    /// Go: `var m sync.Map`.
    pub fn new() -> Self {
        Self::with_hasher(DefaultHashBuilder::default())
    }
}

impl<K, V, S: Clone> SyncMap<K, V, S> {
    /// An empty map whose maps hash with `hasher`.
    pub fn with_hasher(hasher: S) -> Self {
        Self::from_read_map(HashMap::with_hasher(hasher.clone()), hasher)
    }

    /// A map whose snapshot is `map` (not amended, no dirty map).
    fn from_read_map(map: Entries<K, V, S>, hasher: S) -> Self {
        Self {
            read: ArcSwap::from_pointee(ReadOnly {
                map: Arc::new(map),
                amended: false,
            }),
            dirty: Mutex::new(Dirty {
                map: None,
                misses: 0,
                promotions: 0,
            }),
            expunged: Arc::new(Slot::Expunged),
            hasher,
        }
    }
}

impl<K, V, S> SyncMap<K, V, S>
where
    K: Eq + Hash + Clone,
    S: BuildHasher + Clone,
{
    // ----- The locked helpers ---------------------------------------------------------------

    /// Takes the mutex. A poisoned mutex is recovered: the steps under it are ordered so that a
    /// panic (in `Hash`, `Eq`, `Clone`) leaves I1–I6 intact, and `HashMap` stays consistent
    /// when a key's `Hash` or `Eq` panics.
    fn lock(&self) -> Locked<'_, K, V, S> {
        Locked {
            state: self.dirty.lock().unwrap_or_else(PoisonError::into_inner),
            retired_read: None,
            retired_dirty: None,
            retired_entry: None,
            retired_key: None,
            retired_slots: Vec::new(),
        }
    }

    /// Loads the snapshot. Go: `loadReadOnly`.
    fn load_read(&self) -> Guard<Arc<ReadOnly<K, V, S>>> {
        // ORDERING: SeqCst (arc-swap's load). Sees the snapshot (and, through it, the entries
        // and keys) published by `publish_locked`, as Go's `read.Load()`.
        self.read.load()
    }

    /// Publishes a new snapshot; the old one is dropped after the unlock. Go: `m.read.Store`.
    fn publish_locked(&self, locked: &mut Locked<'_, K, V, S>, read: ReadOnly<K, V, S>) {
        // ORDERING: SeqCst (arc-swap's swap). Publishes the new snapshot with its map, pairs
        // with `load_read`.
        let old = self.read.swap(Arc::new(read));
        // INVARIANT: I5, only the mutex holder publishes. A critical section publishes at most
        // once, so one slot is enough; a second old snapshot would merely drop here, under the
        // lock.
        drop(locked.retired_read.replace(old));
    }

    /// Makes the dirty map the snapshot. Go: the body of `missLocked` after the length check,
    /// and the promotion in `Range`.
    fn promote_locked(&self, locked: &mut Locked<'_, K, V, S>) {
        let Some(map) = locked.state.map.take() else {
            // Unreachable by I4 (a promotion happens only while amended). Go would promote the
            // nil map and so empty the snapshot; we keep the snapshot.
            debug_assert!(false, "I4: promotion without a dirty map");
            return;
        };
        // GO: `m.read.Store(&readOnly{m: m.dirty}); m.dirty = nil; m.misses = 0`. Go 1.22's
        // `Range` stores a copy of the `readOnly` struct; here the map moves into a new `Arc`.
        locked.state.misses = 0;
        locked.state.promotions += 1;
        // INVARIANT: I1–I4, I6: no dirty map, nothing expunged (the old snapshot's expunged
        // entries were never in the dirty map), not amended, no misses.
        self.publish_locked(
            locked,
            ReadOnly {
                map: Arc::new(map),
                amended: false,
            },
        );
    }

    /// Counts a locked lookup; promotes once the misses have paid for it. Go: `missLocked`.
    fn miss_locked(&self, locked: &mut Locked<'_, K, V, S>) {
        locked.state.misses += 1;
        let dirty_len = locked.state.map.as_ref().map_or(0, HashMap::len);
        // GO: `if m.misses < len(m.dirty) { return }`.
        if locked.state.misses < dirty_len {
            return;
        }
        self.promote_locked(locked);
    }

    /// Creates the dirty map from the snapshot if there is none, expunging deleted entries and
    /// leaving them out. Go: `dirtyLocked`.
    fn dirty_locked(&self, locked: &mut Locked<'_, K, V, S>, read: &ReadOnly<K, V, S>) {
        if locked.state.map.is_some() {
            return;
        }
        let restore = UnexpungeOnUnwind {
            entries: &read.map,
            expunged: &self.expunged,
        };
        // UNWIND: `S::clone` may panic; nothing has changed.
        let mut dirty = HashMap::with_capacity_and_hasher(read.map.len(), self.hasher.clone());
        for (key, entry) in read.map.iter() {
            // GO: `if !e.tryExpungeLocked() { m.dirty[k] = e }`.
            if !entry.try_expunge_locked(&self.expunged) {
                // UNWIND: `K::clone` and `K::hash` may panic; `restore` un-expunges every entry,
                // and the dirty map stays `None`.
                dirty.insert(key.clone(), Arc::clone(entry));
            }
        }
        mem::forget(restore);
        // INVARIANT: I1 (every non-expunged snapshot entry copied), I2 (the expunged ones left
        // out; they were expunged just now, with the dirty map about to exist).
        locked.state.map = Some(dirty);
    }

    /// Adds a key absent from both maps. Go: the last branch of `Swap` and `LoadOrStore`.
    fn insert_new_locked(
        &self,
        locked: &mut Locked<'_, K, V, S>,
        read: &ReadOnly<K, V, S>,
        key: K,
        slot: Arc<Slot<V>>,
    ) {
        // GO: `if !read.amended { m.dirtyLocked(); m.read.Store(&readOnly{m: read.m, amended:
        // true}) }; m.dirty[key] = newEntry(value)`. We insert before publishing `amended`:
        // nobody sees the dirty map before the unlock, and a panicking `K::hash` then leaves
        // a dirty map without the key and `amended` false, which I1–I4 allow.
        self.dirty_locked(locked, read);
        let dirty = locked
            .state
            .map
            .as_mut()
            .expect("dirty_locked has just made the dirty map");
        // UNWIND: `K::hash`/`K::eq` may panic; the key is not added.
        dirty.insert(key, Arc::new(Entry::new(slot)));
        if !read.amended {
            // INVARIANT: I4, the new key is in the dirty map only.
            self.publish_locked(
                locked,
                ReadOnly {
                    map: Arc::clone(&read.map),
                    amended: true,
                },
            );
        }
    }

    /// Puts an expunged snapshot entry back into the dirty map and makes it nil. Go: `if
    /// e.unexpungeLocked() { m.dirty[key] = e }`.
    fn unexpunge_into_dirty_locked(
        &self,
        locked: &mut Locked<'_, K, V, S>,
        key: K,
        entry: &Arc<Entry<V>>,
    ) {
        // GO: Go unexpunges first and inserts second. The order is invisible under the mutex
        // (only its holder leaves the expunged state, I2); inserting first means a panicking
        // `K::hash` leaves the entry expunged and out of the dirty map, as before.
        if entry.is_expunged() {
            let dirty = locked
                .state
                .map
                .as_mut()
                .expect("I2: an expunged entry implies a dirty map");
            // UNWIND: `K::hash`/`K::eq` may panic; the entry stays expunged.
            dirty.insert(key, Arc::clone(entry));
            let was_expunged = entry.unexpunge_locked(&self.expunged);
            // INVARIANT: I1, I2: the entry is in the dirty map and no longer expunged.
            debug_assert!(was_expunged, "I2: only the mutex holder leaves expunged");
        } else {
            // Another writer put the key back while we waited for the lock: its `Drop` runs
            // after the unlock.
            locked.retired_key = Some(key);
        }
    }

    /// Runs `f` on `key`'s entry: found in the snapshot (lock-free, borrowed from it, so no
    /// shared reference count is touched), or under the lock in the dirty map (a miss), with
    /// `remove` taking it out of the dirty map; `f` then runs after the unlock. Go: the lookup
    /// at the top of `Load`, `LoadAndDelete` and `CompareAndDelete`, and the `e.*` call after it.
    fn with_entry<R>(&self, key: &K, remove: bool, f: impl FnOnce(&Entry<V>) -> R) -> Option<R> {
        {
            let read = self.load_read();
            if let Some(entry) = read.map.get(key) {
                return Some(f(entry));
            }
            if !read.amended {
                return None;
            }
        }
        let entry = self.find_entry_locked(key, remove)?;
        Some(f(&entry))
    }

    /// The slow path of [`with_entry`](Self::with_entry).
    fn find_entry_locked(&self, key: &K, remove: bool) -> Option<Arc<Entry<V>>> {
        let mut locked = self.lock();
        // GO: reload: the dirty map may have been promoted while we waited for the lock.
        let read = self.load_read();
        if let Some(entry) = read.map.get(key) {
            return Some(Arc::clone(entry));
        }
        if !read.amended {
            return None;
        }
        let dirty = locked.state.map.as_mut()?;
        let entry = if remove {
            // GO: `delete(m.dirty, key)`, so deleted keys are not kept alive (issue 40999). The
            // key drops after the unlock.
            // UNWIND: `K::hash`/`K::eq` may panic; `HashMap` stays consistent, nothing else
            // has changed.
            dirty.remove_entry(key).map(|(stored_key, entry)| {
                let found = Arc::clone(&entry);
                locked.retired_entry = Some((stored_key, entry));
                found
            })
        } else {
            dirty.get(key).cloned()
        };
        // GO: a miss whether or not the key was found: it takes the slow path until promoted.
        self.miss_locked(&mut locked);
        entry
    }

    /// Stores `slot` under `key`; the previous pointer. Go: `Swap`.
    fn swap_slot(&self, key: K, slot: Arc<Slot<V>>) -> SlotPtr<V> {
        {
            let read = self.load_read();
            if let Some(entry) = read.map.get(&key) {
                // GO: fast path; a nil entry is revived lock-free (I3 makes that safe).
                if let Ok(previous) = entry.try_swap(&slot) {
                    return previous;
                }
            }
        }
        let mut locked = self.lock();
        let read = self.load_read();
        if let Some(entry) = read.map.get(&key) {
            self.unexpunge_into_dirty_locked(&mut locked, key, entry);
            entry.swap_locked(slot)
        } else if let Some(entry) = locked.state.map.as_ref().and_then(|dirty| dirty.get(&key)) {
            // GO: a dirty key; Swap counts no miss.
            entry.swap_locked(slot)
        } else {
            self.insert_new_locked(&mut locked, &read, key, slot);
            None
        }
    }

    // ----- The public operations ------------------------------------------------------------

    /// Stores `value` under `key`, replacing any value. Lock-free when the key is in the
    /// snapshot and not expunged.
    ///
    /// Go: `Store`.
    #[doc(alias = "Store")]
    pub fn store(&self, key: K, value: V) {
        // GO: `Store` is `Swap` with the results discarded (1.21, 1.22).
        drop(self.swap_slot(key, Arc::new(Slot::Value(value))));
    }

    /// Deletes `key`. Lock-free when the key is in the snapshot.
    ///
    /// Go: `Delete`.
    #[doc(alias = "Delete")]
    pub fn delete(&self, key: &K) {
        // GO: `Delete` is `LoadAndDelete` with the results discarded.
        self.with_entry(key, true, |entry| drop(entry.delete()));
    }

    /// Deletes `key` if its value equals `old`; whether it did. Lock-free when the key is in
    /// the snapshot. A key only in the dirty map stays there (nil) until the next promotion.
    ///
    /// Go: `CompareAndDelete`.
    #[doc(alias = "CompareAndDelete")]
    pub fn compare_and_delete(&self, key: &K, old: &V) -> bool
    where
        V: PartialEq,
    {
        // GO: don't delete the key from the dirty map: the comparison still has to happen.
        self.with_entry(key, false, |entry| entry.compare_and_delete(old))
            .unwrap_or(false)
    }

    /// Replaces `key`'s value with `new` if it equals `old`; whether it did. A missing key
    /// gives false. Lock-free when the key is in the snapshot, or absent and not amended.
    ///
    /// Go: `CompareAndSwap`.
    #[doc(alias = "CompareAndSwap")]
    pub fn compare_and_swap(&self, key: &K, old: &V, new: V) -> bool
    where
        V: PartialEq,
    {
        {
            let read = self.load_read();
            if let Some(entry) = read.map.get(key) {
                return entry.try_compare_and_swap(old, new);
            }
            if !read.amended {
                // GO: "No existing value for key."
                return false;
            }
        }
        let entry = {
            let mut locked = self.lock();
            let read = self.load_read();
            if let Some(entry) = read.map.get(key) {
                Arc::clone(entry)
            } else if let Some(entry) = locked
                .state
                .map
                .as_ref()
                .and_then(|dirty| dirty.get(key))
                .cloned()
            {
                // GO: the key set does not change, so count a miss toward promotion.
                self.miss_locked(&mut locked);
                entry
            } else {
                // `new` drops after the unlock (parameters drop after the body's locals).
                return false;
            }
        };
        // GO: (W-D9) Go swaps under the lock, as its deferred unlock does. Here the swap runs
        // after the unlock, as Go's `CompareAndDelete` does its loop, because it drops values:
        // the one it replaces (or the guard that was the last to see it) and, when it fails,
        // `new`. Dropped under the mutex, a destructor that used this map waited for it forever
        // (found by a black-box test in session 29). The entry's slot is atomic, so the result
        // is the same: if the key is deleted (and its entry left nil or expunged) between the
        // unlock and the swap, the swap fails, linearized at that moment, as a key absent then.
        entry.try_compare_and_swap(old, new)
    }

    /// Calls `f` for each key and live value until it returns `false`. Promotes the dirty map
    /// first if the snapshot is amended, then walks the snapshot **without the lock**, in Go's
    /// randomised order: `f` may call any method of this map, `range` included.
    ///
    /// Each key is visited at most once; the value is one the key held at some moment during
    /// the call. Writes made during the call may or may not be seen. O(n) even if `f` stops
    /// early.
    ///
    /// Go: `Range`.
    #[doc(alias = "Range")]
    pub fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        // ORDERING: SeqCst (arc-swap's load_full). As `load_read`; owned, since `f` may run long.
        let mut read = self.read.load_full();
        if read.amended {
            let mut locked = self.lock();
            // ORDERING: SeqCst (arc-swap's load_full). As above; under the lock it is stable.
            read = self.read.load_full();
            if read.amended {
                // GO: promote at once: a full range is O(n) anyway.
                self.promote_locked(&mut locked);
                // ORDERING: SeqCst (arc-swap's load_full). Our own publication.
                read = self.read.load_full();
            }
        }
        for (key, entry) in read.map.iter() {
            let Some(slot) = entry.load_full() else {
                continue;
            };
            if let Slot::Value(value) = &*slot {
                if !f(key, value) {
                    break;
                }
            }
        }
    }

    /// Deletes every entry. Go 1.23's `Clear`: returns at once if the snapshot is empty and not
    /// amended; otherwise publishes an empty snapshot, empties the dirty map (keeping it, so the
    /// next new key needs no copy) and resets the misses.
    ///
    /// Go: `Clear` (Go 1.23).
    #[doc(alias = "Clear")]
    pub fn clear(&self) {
        {
            let read = self.load_read();
            if read.map.is_empty() && !read.amended {
                // GO: "Avoid allocating a new readOnly when the map is already clear."
                return;
            }
        }
        // UNWIND: `S::clone` may panic; nothing has changed.
        let empty_read = HashMap::with_hasher(self.hasher.clone());
        let empty_dirty = HashMap::with_hasher(self.hasher.clone());
        let mut locked = self.lock();
        let read = self.load_read();
        if !read.map.is_empty() || read.amended {
            self.publish_locked(
                &mut locked,
                ReadOnly {
                    map: Arc::new(empty_read),
                    amended: false,
                },
            );
        }
        // GO: `clear(m.dirty)` empties the dirty map in place, keeping its buckets. We swap in
        // an empty map instead, so the entries drop after the unlock.
        if let Some(dirty) = locked.state.map.as_mut() {
            let cleared = mem::replace(dirty, empty_dirty);
            locked.retired_dirty = Some(cleared);
        }
        // GO: "Don't immediately promote the newly-cleared dirty map on the next operation."
        // INVARIANT: I1–I6 with an empty snapshot and an empty (or no) dirty map.
        locked.state.misses = 0;
    }

    /// The number of live entries, counted as [`range`](Self::range) walks them: O(n), and it
    /// promotes the dirty map if the snapshot is amended. Under concurrent writes the count
    /// need not match any single moment.
    ///
    /// Not in Go (`sync.Map` has no `Len`).
    pub fn len(&self) -> usize {
        let mut len = 0;
        self.range(|_, _| {
            len += 1;
            true
        });
        len
    }

    /// Whether no entry is live: a [`range`](Self::range) that stops at the first entry (it
    /// promotes the dirty map if the snapshot is amended).
    ///
    /// Not in Go.
    pub fn is_empty(&self) -> bool {
        let mut empty = true;
        self.range(|_, _| {
            empty = false;
            false
        });
        empty
    }

    /// The internal state: snapshot and dirty sizes, `amended`, misses, promotions. Takes the
    /// mutex and walks the snapshot (O(n)); changes nothing.
    ///
    /// Not in Go.
    pub fn stats(&self) -> SyncMapStats {
        let locked = self.lock();
        let read = self.load_read();
        let (mut read_deleted, mut read_expunged) = (0, 0);
        for entry in read.map.values() {
            let slot = entry.load_slot();
            match slot.as_deref() {
                None => read_deleted += 1,
                Some(Slot::Expunged) => read_expunged += 1,
                Some(Slot::Value(_)) => {}
            }
        }
        SyncMapStats {
            read_len: read.map.len(),
            read_deleted,
            read_expunged,
            dirty_len: locked.state.map.as_ref().map(HashMap::len),
            amended: read.amended,
            misses: locked.state.misses,
            promotions: locked.state.promotions,
        }
    }

    /// Asserts I1–I6 (see [`SyncMap`]). Takes the mutex, so the expunged states and both maps'
    /// key sets are stable while it runs.
    ///
    /// # Panics
    ///
    /// If an invariant is broken, naming it.
    #[doc(hidden)]
    #[cfg(any(test, fuzzing, feature = "invariants"))]
    pub fn check_invariants(&self) {
        let locked = self.lock();
        let read = self.load_read();
        match locked.state.map.as_ref() {
            Some(dirty) => {
                for (key, entry) in read.map.iter() {
                    match dirty.get(key) {
                        Some(in_dirty) => {
                            assert!(Arc::ptr_eq(entry, in_dirty), "I1: entry not shared");
                            assert!(!entry.is_expunged(), "I2: expunged entry in dirty");
                        }
                        None => assert!(entry.is_expunged(), "I1: live entry not in dirty"),
                    }
                }
                if dirty.keys().any(|key| !read.map.contains_key(key)) {
                    assert!(read.amended, "I4: new dirty key but not amended");
                }
                let misses = locked.state.misses;
                assert!(misses == 0 || misses < dirty.len(), "I6: misses {misses}");
            }
            None => {
                let expunged = read.map.values().any(|entry| entry.is_expunged());
                assert!(!expunged, "I2: expunged entry without a dirty map");
                assert!(!read.amended, "I4: amended without a dirty map");
                assert_eq!(locked.state.misses, 0, "I6: misses without a dirty map");
            }
        }
    }
}

impl<K, V, S> SyncMap<K, V, S>
where
    K: Eq + Hash + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    /// The value stored under `key`, cloned. Lock-free when the key is in the snapshot or the
    /// snapshot is not amended; otherwise counts a miss.
    ///
    /// Go: `Load`.
    #[doc(alias = "Load")]
    pub fn load(&self, key: &K) -> Option<V> {
        // GO: `Load` looks up like `LoadAndDelete` without the delete, then `e.load()`.
        self.with_entry(key, false, Entry::load).flatten()
    }

    /// The existing value (loaded = true), or stores `value` and returns it (loaded = false).
    /// Lock-free when the key is in the snapshot and not expunged.
    ///
    /// Go: `LoadOrStore`.
    #[doc(alias = "LoadOrStore")]
    pub fn load_or_store(&self, key: K, value: V) -> (V, bool) {
        {
            let read = self.load_read();
            if let Some(entry) = read.map.get(&key) {
                match entry.try_load_or_store(&value, None) {
                    LoadOrStore::Loaded(actual) => return (actual, true),
                    LoadOrStore::Stored => return (value, false),
                    LoadOrStore::Expunged => {}
                }
            }
        }
        self.load_or_store_locked(key, value)
    }

    /// The slow path of [`load_or_store`](Self::load_or_store), under the lock.
    fn load_or_store_locked(&self, key: K, value: V) -> (V, bool) {
        let mut locked = self.lock();
        let read = self.load_read();
        let outcome = if let Some(entry) = read.map.get(&key) {
            self.unexpunge_into_dirty_locked(&mut locked, key, entry);
            entry.try_load_or_store(&value, Some(&mut locked.retired_slots))
        } else if let Some(entry) = locked
            .state
            .map
            .as_ref()
            .and_then(|dirty| dirty.get(&key))
            .cloned()
        {
            let outcome = entry.try_load_or_store(&value, Some(&mut locked.retired_slots));
            // GO: `m.missLocked()` (a dirty hit that did not change the key set).
            self.miss_locked(&mut locked);
            outcome
        } else {
            // UNWIND: `V::clone` may panic; nothing has changed.
            let slot = Arc::new(Slot::Value(value.clone()));
            self.insert_new_locked(&mut locked, &read, key, slot);
            LoadOrStore::Stored
        };
        match outcome {
            LoadOrStore::Loaded(actual) => (actual, true),
            LoadOrStore::Stored => (value, false),
            LoadOrStore::Expunged => {
                unreachable!("I2: the entry was unexpunged under the lock we still hold")
            }
        }
    }

    /// Deletes `key`, returning its value. Lock-free when the key is in the snapshot; a key only
    /// in the dirty map is removed from it (so the map keeps no deleted key alive) and counts a
    /// miss.
    ///
    /// Go: `LoadAndDelete`.
    #[doc(alias = "LoadAndDelete")]
    pub fn load_and_delete(&self, key: &K) -> Option<V> {
        into_value(self.with_entry(key, true, Entry::delete).flatten()?)
    }

    /// Stores `value` under `key`, returning the previous value. Lock-free when the key is in
    /// the snapshot and not expunged; never counts a miss.
    ///
    /// Go: `Swap`.
    #[doc(alias = "Swap")]
    pub fn swap(&self, key: K, value: V) -> Option<V> {
        into_value(self.swap_slot(key, Arc::new(Slot::Value(value)))?)
    }
}

impl<K, V, S: Default + Clone> Default for SyncMap<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

/// Entries as [`range`](SyncMap::range) visits them (so formatting promotes an amended map).
impl<K, V, S> fmt::Debug for SyncMap<K, V, S>
where
    K: Eq + Hash + Clone + fmt::Debug,
    V: fmt::Debug,
    S: BuildHasher + Clone,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        self.range(|key, value| {
            map.entry(key, value);
            true
        });
        map.finish()
    }
}

/// Builds the snapshot directly (not amended, no dirty map, no promotion); a later pair
/// replaces an earlier one with the same key. Not in Go.
impl<K, V, S> FromIterator<(K, V)> for SyncMap<K, V, S>
where
    K: Eq + Hash + Clone,
    S: BuildHasher + Clone + Default,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let hasher = S::default();
        let mut map = HashMap::with_hasher(hasher.clone());
        for (key, value) in iter {
            map.insert(key, Arc::new(Entry::new(Arc::new(Slot::Value(value)))));
        }
        Self::from_read_map(map, hasher)
    }
}

impl<K, V, S> SharedMap<K, V> for SyncMap<K, V, S>
where
    K: Eq + Hash + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    fn load(&self, key: &K) -> Option<V> {
        SyncMap::load(self, key)
    }

    fn store(&self, key: K, value: V) {
        SyncMap::store(self, key, value);
    }

    fn delete(&self, key: &K) {
        SyncMap::delete(self, key);
    }

    /// Promotes an amended map, then walks the snapshot without the lock: `f` may use the map.
    /// See [`SyncMap::range`].
    fn range(&self, f: impl FnMut(&K, &V) -> bool) {
        SyncMap::range(self, f);
    }

    /// O(n); see [`SyncMap::len`].
    fn len(&self) -> usize {
        SyncMap::len(self)
    }

    fn is_empty(&self) -> bool {
        SyncMap::is_empty(self)
    }
}
