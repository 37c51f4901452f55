//! The entry API of [`HashMap`](crate::HashMap), over `raw::entry`'s slot handles.
#![deny(unsafe_code)]

use core::fmt;
use core::hash::{BuildHasher, Hash};

use crate::raw::entry::{RawOccupied, RawVacant};

/// A view into one key's place in the map, occupied or vacant. Made by
/// [`HashMap::entry`](crate::HashMap::entry).
pub enum Entry<'a, K, V, S> {
    /// The key is present.
    Occupied(OccupiedEntry<'a, K, V, S>),
    /// The key is absent.
    Vacant(VacantEntry<'a, K, V, S>),
}

/// A present key. Go: the slot `mapassign` found.
pub struct OccupiedEntry<'a, K, V, S> {
    pub(crate) raw: RawOccupied<'a, K, V, S>,
}

/// An absent key, hashed once, ready to be inserted.
pub struct VacantEntry<'a, K, V, S> {
    pub(crate) raw: RawVacant<'a, K, V, S>,
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> Entry<'a, K, V, S> {
    /// The value, inserting `default` if the key is absent.
    pub fn or_insert(self, default: V) -> &'a mut V {
        match self {
            Self::Occupied(entry) => entry.into_mut(),
            Self::Vacant(entry) => entry.insert(default),
        }
    }

    /// The value, inserting `default()` if the key is absent.
    pub fn or_insert_with<F: FnOnce() -> V>(self, default: F) -> &'a mut V {
        match self {
            Self::Occupied(entry) => entry.into_mut(),
            Self::Vacant(entry) => entry.insert(default()),
        }
    }

    /// The value, inserting `default(&key)` if the key is absent.
    pub fn or_insert_with_key<F: FnOnce(&K) -> V>(self, default: F) -> &'a mut V {
        match self {
            Self::Occupied(entry) => entry.into_mut(),
            Self::Vacant(entry) => {
                let value = default(entry.key());
                entry.insert(value)
            }
        }
    }

    /// The value, inserting `V::default()` if the key is absent.
    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }

    /// Runs `f` on the value if the key is present.
    #[must_use]
    pub fn and_modify<F: FnOnce(&mut V)>(mut self, f: F) -> Self {
        if let Self::Occupied(entry) = &mut self {
            f(entry.get_mut());
        }
        self
    }

    /// The entry's key.
    pub fn key(&self) -> &K {
        match self {
            Self::Occupied(entry) => entry.key(),
            Self::Vacant(entry) => entry.key(),
        }
    }
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> OccupiedEntry<'a, K, V, S> {
    /// The stored key.
    pub fn key(&self) -> &K {
        self.raw.key()
    }

    /// The value.
    pub fn get(&self) -> &V {
        self.raw.get()
    }

    /// The value, mutably.
    pub fn get_mut(&mut self) -> &mut V {
        self.raw.get_mut()
    }

    /// The value, mutably, for as long as the map borrow.
    pub fn into_mut(self) -> &'a mut V {
        self.raw.into_mut()
    }

    /// Replaces the value, returning the old one.
    pub fn insert(&mut self, value: V) -> V {
        core::mem::replace(self.get_mut(), value)
    }

    /// Removes the entry, returning the value. Go: `mapdelete`.
    pub fn remove(self) -> V {
        let (key, value) = self.raw.remove_entry();
        drop(key);
        value
    }

    /// Removes the entry, returning the stored key and the value.
    pub fn remove_entry(self) -> (K, V) {
        self.raw.remove_entry()
    }
}

impl<'a, K: Eq + Hash, V, S: BuildHasher> VacantEntry<'a, K, V, S> {
    /// The key that would be inserted.
    pub fn key(&self) -> &K {
        self.raw.key()
    }

    /// Gives the key back.
    pub fn into_key(self) -> K {
        self.raw.into_key()
    }

    /// Inserts the entry (starting a growth first if the map is full). Go: `mapassign`.
    pub fn insert(self, value: V) -> &'a mut V {
        self.raw.insert(value)
    }
}

impl<K: fmt::Debug + Eq + Hash, V: fmt::Debug, S: BuildHasher> fmt::Debug for Entry<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Occupied(entry) => f.debug_tuple("Entry").field(entry).finish(),
            Self::Vacant(entry) => f.debug_tuple("Entry").field(entry).finish(),
        }
    }
}

impl<K: fmt::Debug + Eq + Hash, V: fmt::Debug, S: BuildHasher> fmt::Debug
    for OccupiedEntry<'_, K, V, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OccupiedEntry")
            .field("key", self.key())
            .field("value", self.get())
            .finish()
    }
}

impl<K: fmt::Debug + Eq + Hash, V, S: BuildHasher> fmt::Debug for VacantEntry<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VacantEntry").field(self.key()).finish()
    }
}
