//! Handles to one slot, for the public entry API (`map.rs` and `entry.rs` stay free of `unsafe`).

use core::hash::{BuildHasher, Hash};

use super::bucket::Bucket;
use super::{RawMap, SlotRef, Vacancy};

/// A full slot of a mutably borrowed map: the key, its hash and where it lives.
///
/// # Invariants
/// - O1: `slot` is a full slot in the current array's chain for `hash` (the caller ran
///   `prepare_write(hash)` first), and the map is not modified except through this handle.
pub(crate) struct RawOccupied<'a, K, V, S> {
    map: &'a mut RawMap<K, V, S>,
    slot: SlotRef<K, V>,
    hash: u64,
}

// SAFETY: the handle is a unique borrow of the map plus the position of one of its slots, so it
// may move to another thread exactly when `&mut RawMap` may.
unsafe impl<K, V, S> Send for RawOccupied<'_, K, V, S> where RawMap<K, V, S>: Send {}
// SAFETY: through `&RawOccupied` only `&K` and `&V` are reachable, as through `&RawMap`.
unsafe impl<K, V, S> Sync for RawOccupied<'_, K, V, S> where RawMap<K, V, S>: Sync {}

impl<'a, K: Eq + Hash, V, S: BuildHasher> RawOccupied<'a, K, V, S> {
    pub(crate) fn key(&self) -> &K {
        // SAFETY: O1, full slot (B1).
        unsafe { &*Bucket::key(self.slot.0, self.slot.1) }
    }

    pub(crate) fn get(&self) -> &V {
        // SAFETY: O1, full slot (B1).
        unsafe { &*Bucket::value(self.slot.0, self.slot.1) }
    }

    pub(crate) fn get_mut(&mut self) -> &mut V {
        // SAFETY: O1, full slot; the handle holds the map's unique borrow.
        unsafe { &mut *Bucket::value(self.slot.0, self.slot.1) }
    }

    pub(crate) fn into_mut(self) -> &'a mut V {
        // SAFETY: O1; the unique borrow of the map moves into the returned reference.
        unsafe { &mut *Bucket::value(self.slot.0, self.slot.1) }
    }

    pub(crate) fn remove_entry(self) -> (K, V) {
        let head = self.map.current_head(self.hash);
        let mut map = self.map.writing();
        // SAFETY: O1: the slot is full and in the chain headed by `head`.
        unsafe { map.remove_slot(head, self.slot.0, self.slot.1) }
    }
}

/// A key that is not in the map yet, with its hash; `prepare_write(hash)` has run.
pub(crate) struct RawVacant<'a, K, V, S> {
    map: &'a mut RawMap<K, V, S>,
    hash: u64,
    key: K,
    /// Still exact: the map is borrowed by this handle, so nothing moved since the lookup.
    vacancy: Vacancy<K, V>,
}

// SAFETY: a unique borrow of the map, the key, and the position of an empty slot of the map's
// own memory: it may move to another thread exactly when `&mut RawMap` and `K` may.
unsafe impl<K: Send, V, S> Send for RawVacant<'_, K, V, S> where RawMap<K, V, S>: Send {}
// SAFETY: through `&RawVacant` only `&K` (the new key) is reachable.
unsafe impl<K: Sync, V, S> Sync for RawVacant<'_, K, V, S> where RawMap<K, V, S>: Sync {}

impl<'a, K: Eq + Hash, V, S: BuildHasher> RawVacant<'a, K, V, S> {
    pub(crate) fn key(&self) -> &K {
        &self.key
    }

    pub(crate) fn into_key(self) -> K {
        self.key
    }

    /// Inserts the entry. Go: `mapassign` from step 7 on.
    pub(crate) fn insert(self, value: V) -> &'a mut V {
        let (bucket, slot) =
            self.map
                .writing()
                .insert_vacant(self.hash, self.key, value, self.vacancy);
        // SAFETY: `insert_vacant` just filled this slot (B1); the returned reference takes over the
        // map's unique borrow.
        unsafe { &mut *Bucket::value(bucket, slot) }
    }
}

/// The raw side of `HashMap::entry`.
pub(crate) enum RawEntry<'a, K, V, S> {
    Occupied(RawOccupied<'a, K, V, S>),
    Vacant(RawVacant<'a, K, V, S>),
}

impl<K: Eq + Hash, V, S: BuildHasher> RawMap<K, V, S> {
    /// Finds `key`'s slot for a write. Like every write, moves a growth along first.
    /// Go: `mapassign` steps 1–6.
    #[inline]
    pub(crate) fn entry(&mut self, key: K) -> RawEntry<'_, K, V, S> {
        // UNWIND: hashing and the lookup's Eq run before anything changes but the growth work,
        // which is complete by then.
        let hash = self.hash(&key);
        self.writing().prepare_write(hash);
        match self.find_for_write(hash, &key) {
            Ok(slot) => RawEntry::Occupied(RawOccupied {
                map: self,
                slot,
                hash,
            }),
            Err(vacancy) => RawEntry::Vacant(RawVacant {
                map: self,
                hash,
                key,
                vacancy,
            }),
        }
    }

    /// The entry for `key`, as shared references. Go: `mapaccessK`.
    #[inline]
    pub(crate) fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: core::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.header.count == 0 {
            return None;
        }
        let (bucket, slot) = self.find(self.hash(key), key)?;
        // SAFETY: a found slot is full (B1) and stays so while `self` is borrowed.
        Some(unsafe { (&*Bucket::key(bucket, slot), &*Bucket::value(bucket, slot)) })
    }

    /// The entry for `key`, with the value mutable.
    #[inline]
    pub(crate) fn get_key_value_mut<Q>(&mut self, key: &Q) -> Option<(&K, &mut V)>
    where
        K: core::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.header.count == 0 {
            return None;
        }
        let (bucket, slot) = self.find(self.hash(key), key)?;
        // SAFETY: as `get_key_value`, and `self` is borrowed uniquely.
        Some(unsafe {
            (
                &*Bucket::key(bucket, slot),
                &mut *Bucket::value(bucket, slot),
            )
        })
    }
}
