//! [`Operation`] and [`Computed`]: what the closure of [`Pinned::compute`] decides for its key,
//! and what the call did.
//!
//! `compute` is the map's general atomic read-modify-write (Java's `ConcurrentHashMap.compute`,
//! papaya's `compute`): one closure sees the key's current value and chooses to keep it, set a
//! new one (inserting the key if it was absent) or remove the key, while the key's chain is
//! held. `update` (replace a present value) and `get_or_insert_with` (insert an absent one) are
//! its two most common cases, kept as their own methods because they need no enum.
//!
//! [`Pinned::compute`]: super::Pinned::compute
#![deny(unsafe_code)]

/// What the closure of [`Pinned::compute`](super::Pinned::compute) decides for its key, given
/// the key's current value (`None` if the key is absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation<V> {
    /// Leave the key as it is, present or absent.
    Keep,
    /// Store this value: insert the key if it is absent, replace its value if it is present.
    Set(V),
    /// Remove the key if it is present.
    Remove,
}

/// What [`Pinned::compute`](super::Pinned::compute) did. The references are valid while the
/// view that made the call lives, like those of every other operation of the view (a replaced
/// or removed value is retired, not dropped, until no view can see it).
#[derive(Debug, PartialEq, Eq)]
pub enum Computed<'g, V> {
    /// The key was absent; it now holds this value.
    Inserted(&'g V),
    /// The key's value `old` was replaced by `new`.
    Updated {
        /// The value the key had before the call.
        old: &'g V,
        /// The value the key has now.
        new: &'g V,
    },
    /// The key was removed; this was its value.
    Removed(&'g V),
    /// Nothing changed; the key's value, or `None` if it is absent (the closure chose
    /// [`Operation::Keep`], or [`Operation::Remove`] for an absent key).
    Unchanged(Option<&'g V>),
}

// By hand, not derived: a derive would require `V: Clone` / `V: Copy`, and only references
// are copied.
impl<V> Clone for Computed<'_, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for Computed<'_, V> {}

impl<'g, V> Computed<'g, V> {
    /// The key's value after the call, or `None` if it is absent after the call.
    pub fn current(&self) -> Option<&'g V> {
        match *self {
            Self::Inserted(new) | Self::Updated { new, .. } => Some(new),
            Self::Removed(_) => None,
            Self::Unchanged(value) => value,
        }
    }

    /// The key's value before the call, or `None` if it was absent.
    pub fn previous(&self) -> Option<&'g V> {
        match *self {
            Self::Inserted(_) => None,
            Self::Updated { old, .. } | Self::Removed(old) => Some(old),
            Self::Unchanged(value) => value,
        }
    }
}
