//! The Go toolkit for safe maps, rebuilt for side-by-side study.
//!
//! Go's built-in map is not safe for concurrent use, so Go programs protect it with one of a
//! handful of patterns. Each is rebuilt here over [`crate::HashMap`] (the Go 1.22 mirror), and all
//! of them, with [`crate::ConcurrentHashMap`], implement one trait in Go's vocabulary,
//! [`SharedMap`], so that a benchmark or the lab drives every one through the same code.
//!
//! | Type | Go original | Readers | Writers |
//! |---|---|---|---|
//! | [`FailFastMap`] | the runtime's `hashWriting` check | detect overlap, never wait | detect overlap, never wait |
//! | [`SafeMap`] over a [`Backend`] | a struct with a `sync.RWMutex` (or `Mutex`, or a goroutine owning the map) | shared lock (RwLock), exclusive (Mutex), a message (actor) | exclusive |
//! | [`ShardedMap`] | N `RWMutex`-protected shards | one shard's read lock | one shard's write lock |
//! | [`SyncMap`] | `sync.Map` (Go 1.21/1.22) | lock-free on the read-only snapshot | mutex on the dirty map |
//! | [`CowMap`] | `atomic.Value` holding an immutable map | lock-free snapshot | copy the map, publish |
//! | [`AuditedMap`] | logging middleware around any of them | counts, alerts | counts, alerts |
//! | [`crate::ConcurrentHashMap`] | (none in Go) | lock-free | per-chain flag |
//!
//! `design/go-toolkit.md` compares them: the Go original, our port, where and why it differs,
//! what it costs (measured), and when to use which.
//!
//! None of these types uses `unsafe`: the locks, channels and `arc-swap` pointers they are built
//! from carry the proofs. The module is not compiled under `--cfg loom` (no model uses it).
#![deny(unsafe_code)]

mod audited;
mod backend;
mod cow;
mod fail_fast;
mod reentry;
mod safe;
mod sharded;
mod sync_map;

use core::hash::{BuildHasher, Hash};

use crate::HashMap;

/// The value of an entry an operation took out under a lock (a removed entry, or a replacing
/// insert's unused key and old value), for the caller to finish after the lock is released:
/// the key is dropped here, while the value is still a local, so that a panicking `K::drop`
/// drops the value on the way out instead of leaking it (rust#47949). The wrappers drop user
/// keys and values only after their lock, because a destructor may use the map.
fn value_of<K, V>(entry: Option<(K, V)>) -> Option<V> {
    entry.map(|(key, value)| {
        drop(key);
        value
    })
}

/// Empties `map` (keeping its bucket array) and returns what the caller must drop after
/// releasing its lock: every entry when `(K, V)` has drop glue, whose destructors may use the
/// wrapper, else nothing (freeing such entries runs no code).
fn clear_for_unlocked_drop<K, V, S>(map: &mut HashMap<K, V, S>) -> Vec<(K, V)> {
    if core::mem::needs_drop::<(K, V)>() {
        map.drain().collect()
    } else {
        map.clear();
        Vec::new()
    }
}

pub use self::audited::{
    AccessKind, Alert, AlertRule, AlertSink, AuditReport, AuditRules, AuditedMap, KeyLabel,
    KeyReport, ThreadReport, ThreadTag,
};
pub use self::backend::{ActorBackend, ActorCell, Backend, MutexBackend, RwLockBackend};
pub use self::cow::CowMap;
pub use self::fail_fast::FailFastMap;
pub use self::safe::SafeMap;
pub use self::sharded::{ShardedMap, DEFAULT_SHARDS};
pub use self::sync_map::{SyncMap, SyncMapStats};

/// A map shared between threads, in Go's vocabulary (`Load`, `Store`, `Delete`, `Range`, `Len`).
///
/// Every wrapper of this module implements it, and so does [`crate::ConcurrentHashMap`].
/// Methods take `&self`: synchronisation is the implementation's business. `load` returns a
/// clone because most implementations cannot lend a reference past their lock or snapshot.
///
/// ```
/// use hmap::wrappers::{SafeMap, SharedMap, ShardedMap};
///
/// fn fill<M: SharedMap<u64, u64> + Sync>(map: &M) {
///     std::thread::scope(|s| {
///         for t in 0..4u64 {
///             s.spawn(move || (0..100).for_each(|i| map.store(t * 100 + i, i)));
///         }
///     });
/// }
/// let (safe, sharded) = (SafeMap::<u64, u64>::new(), ShardedMap::new());
/// fill(&safe);
/// fill(&sharded);
/// assert_eq!((safe.len(), sharded.len()), (400, 400));
/// assert_eq!(sharded.load(&342), Some(42));
/// ```
pub trait SharedMap<K, V> {
    /// The value stored for `key`, cloned. Go: `Load`.
    fn load(&self, key: &K) -> Option<V>;
    /// Stores `value` for `key`, replacing any previous value. Go: `Store`.
    fn store(&self, key: K, value: V);
    /// Removes `key` if present. Go: `Delete`.
    fn delete(&self, key: &K);
    /// Calls `f` for the entries of the map until it returns `false`. Go: `Range`.
    ///
    /// What `range` sees while other threads write, and whether `f` may itself use the map,
    /// depends on the implementation (each type's documentation says).
    fn range(&self, f: impl FnMut(&K, &V) -> bool);
    /// The number of entries. Go: `len(m)`.
    fn len(&self) -> usize;
    /// Whether the map has no entries.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K, V, S> SharedMap<K, V> for crate::ConcurrentHashMap<K, V, S>
where
    K: Hash + Eq,
    V: Clone,
    S: BuildHasher,
{
    fn load(&self, key: &K) -> Option<V> {
        self.pin().get(key).cloned()
    }

    fn store(&self, key: K, value: V) {
        self.pin().insert(key, value);
    }

    fn delete(&self, key: &K) {
        self.pin().remove(key);
    }

    /// Weakly consistent: a key present and unchanged for the whole call is visited exactly
    /// once; `f` may read and write the map.
    fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        let view = self.pin();
        for (key, value) in view.iter() {
            if !f(key, value) {
                break;
            }
        }
    }

    fn len(&self) -> usize {
        crate::ConcurrentHashMap::len(self)
    }
}
