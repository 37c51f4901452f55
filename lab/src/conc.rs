//! The concurrent maps the lab compares: `hmap::ConcurrentHashMap` (named `concurrent`),
//! papaya, scc, dashmap and `RwLock<hashbrown>`, behind one small trait, as in
//! `benches/concurrent.rs` (whose adapter this ports). Every map uses the lab's hasher.

use std::sync::{PoisonError, RwLock};

use crate::maps::{hasher, LabHasher};

/// hmap's concurrent map, the map under test.
type Concurrent = hmap::ConcurrentHashMap<u64, u64, LabHasher>;
/// papaya: lock-free reads and writes, incremental resize.
type Papaya = papaya::HashMap<u64, u64, LabHasher>;
/// scc: bucket-level locks, incremental resize.
type Scc = scc::HashMap<u64, u64, LabHasher>;
/// dashmap: `RwLock`ed hashbrown shards, each resizing stop-the-world.
type Dash = dashmap::DashMap<u64, u64, LabHasher>;
/// One `RwLock` around a hashbrown map: the baseline.
type Locked = RwLock<hashbrown::HashMap<u64, u64, LabHasher>>;

/// One concurrent map as the experiments see it: `u64` keys and values, `&self` everywhere.
pub(crate) trait ConcMap: Send + Sync {
    fn new() -> Self;
    fn with_capacity(capacity: usize) -> Self;
    /// Inserts or overwrites; `true` if the key was new.
    fn insert(&self, key: u64, value: u64) -> bool;
    fn get(&self, key: u64) -> Option<u64>;
    /// Removes `key`; `true` if it was present.
    fn remove(&self, key: u64) -> bool;
    /// Increments `key`'s value in place; `true` if the key was present.
    fn update(&self, key: u64) -> bool;
    /// Entries (read when no other thread runs).
    fn len(&self) -> usize;
    /// Garbage objects awaiting reclamation (hmap only).
    fn garbage_objects(&self) -> Option<u64> {
        None
    }
}

impl ConcMap for Concurrent {
    fn new() -> Self {
        Self::with_hasher(hasher())
    }
    fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, hasher())
    }
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
    fn update(&self, key: u64) -> bool {
        self.pin().update(&key, |v| v.wrapping_add(1)).is_some()
    }
    fn len(&self) -> usize {
        Concurrent::len(self)
    }
    fn garbage_objects(&self) -> Option<u64> {
        Some(self.stats().garbage_objects as u64)
    }
}

impl ConcMap for Papaya {
    fn new() -> Self {
        Self::with_hasher(hasher())
    }
    fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, hasher())
    }
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
    fn update(&self, key: u64) -> bool {
        self.pin().update(key, |v| v.wrapping_add(1)).is_some()
    }
    fn len(&self) -> usize {
        Papaya::len(self)
    }
}

impl ConcMap for Scc {
    fn new() -> Self {
        Self::with_hasher(hasher())
    }
    fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, hasher())
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) -> bool {
        // `insert_sync` refuses an existing key; the workloads only insert new keys.
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
    fn len(&self) -> usize {
        Scc::len(self)
    }
}

impl ConcMap for Dash {
    fn new() -> Self {
        Self::with_hasher(hasher())
    }
    fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, hasher())
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) -> bool {
        Dash::insert(self, key, value).is_none()
    }
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        Dash::get(self, &key).map(|entry| *entry.value())
    }
    #[inline]
    fn remove(&self, key: u64) -> bool {
        Dash::remove(self, &key).is_some()
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
    fn len(&self) -> usize {
        Dash::len(self)
    }
}

impl ConcMap for Locked {
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

/// A concurrent implementation the lab can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConcKind {
    Concurrent,
    Papaya,
    Scc,
    Dashmap,
    RwlockHashbrown,
}

impl ConcKind {
    pub(crate) const ALL: [ConcKind; 5] = [
        ConcKind::Concurrent,
        ConcKind::Papaya,
        ConcKind::Scc,
        ConcKind::Dashmap,
        ConcKind::RwlockHashbrown,
    ];

    /// The established concurrent maps: ratios are taken to the best of these.
    pub(crate) const PEERS: [ConcKind; 3] = [ConcKind::Papaya, ConcKind::Scc, ConcKind::Dashmap];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ConcKind::Concurrent => "concurrent",
            ConcKind::Papaya => "papaya",
            ConcKind::Scc => "scc",
            ConcKind::Dashmap => "dashmap",
            ConcKind::RwlockHashbrown => "rwlock_hashbrown",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<ConcKind> {
        ConcKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// `(name, kind)` pairs for `args::name_list`.
    pub(crate) fn accepted() -> Vec<(&'static str, ConcKind)> {
        ConcKind::ALL.iter().map(|k| (k.name(), *k)).collect()
    }

    /// Calls `visit` with this map type.
    pub(crate) fn dispatch<V: ConcVisit>(self, visit: V) -> V::Output {
        match self {
            ConcKind::Concurrent => visit.visit::<Concurrent>(),
            ConcKind::Papaya => visit.visit::<Papaya>(),
            ConcKind::Scc => visit.visit::<Scc>(),
            ConcKind::Dashmap => visit.visit::<Dash>(),
            ConcKind::RwlockHashbrown => visit.visit::<Locked>(),
        }
    }
}

/// Code generic over the map type, run by [`ConcKind::dispatch`].
pub(crate) trait ConcVisit {
    type Output;
    fn visit<M: ConcMap>(self) -> Self::Output;
}
