//! The public iterators of [`HashMap`](crate::HashMap), thin wrappers over `raw::iter`.
//!
//! All of them walk the table in Go's randomized order and yield each entry exactly once, also
//! in the middle of a growth; all are `ExactSizeIterator` and `FusedIterator`.
#![deny(unsafe_code)]

use core::fmt;
use core::iter::FusedIterator;

use crate::raw::iter::{RawDrain, RawIntoIter, RawMutIter, RawRefIter};
use crate::raw::RawMap;

/// Iterator over `(&K, &V)`. Made by [`HashMap::iter`](crate::HashMap::iter).
pub struct Iter<'a, K, V> {
    raw: RawRefIter<'a, K, V>,
}

impl<'a, K, V> Iter<'a, K, V> {
    pub(crate) fn new<S>(map: &'a RawMap<K, V, S>) -> Self {
        Self {
            raw: RawRefIter::new(map),
        }
    }

    /// An iteration starting where Go's would for the random draw `random`.
    #[cfg(any(test, fuzzing, feature = "invariants"))]
    pub(crate) fn with_random<S>(map: &'a RawMap<K, V, S>, random: u64) -> Self {
        Self {
            raw: RawRefIter::with_random(map, random),
        }
    }
}

impl<K, V> Clone for Iter<'_, K, V> {
    fn clone(&self) -> Self {
        Self {
            raw: self.raw.clone(),
        }
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.raw.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.raw.len(), Some(self.raw.len()))
    }
}

/// Iterator over `(&K, &mut V)`. Made by [`HashMap::iter_mut`](crate::HashMap::iter_mut).
pub struct IterMut<'a, K, V> {
    raw: RawMutIter<'a, K, V>,
}

impl<'a, K, V> IterMut<'a, K, V> {
    pub(crate) fn new<S>(map: &'a mut RawMap<K, V, S>) -> Self {
        Self {
            raw: RawMutIter::new(map),
        }
    }
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.raw.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.raw.len(), Some(self.raw.len()))
    }
}

/// Owning iterator over `(K, V)`. Made by `HashMap::into_iter`; entries not consumed are
/// dropped with it. Unlike std's it names the hasher type (defaulted, so `IntoIter<K, V>` is the
/// default-hasher map's), because it owns the map, hasher included.
pub struct IntoIter<K, V, S = crate::DefaultHashBuilder> {
    raw: RawIntoIter<K, V, S>,
}

impl<K, V, S> IntoIter<K, V, S> {
    pub(crate) fn new(map: RawMap<K, V, S>) -> Self {
        Self {
            raw: RawIntoIter::new(map),
        }
    }
}

impl<K, V, S> Iterator for IntoIter<K, V, S> {
    type Item = (K, V);
    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        self.raw.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.raw.len(), Some(self.raw.len()))
    }
}

/// Draining iterator over `(K, V)`. Made by [`HashMap::drain`](crate::HashMap::drain); when it
/// is dropped the map is empty, with its B kept.
pub struct Drain<'a, K, V, S = crate::DefaultHashBuilder> {
    raw: RawDrain<'a, K, V, S>,
}

impl<'a, K, V, S> Drain<'a, K, V, S> {
    pub(crate) fn new(map: &'a mut RawMap<K, V, S>) -> Self {
        Self {
            raw: RawDrain::new(map),
        }
    }
}

impl<K, V, S> Iterator for Drain<'_, K, V, S> {
    type Item = (K, V);
    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        self.raw.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.raw.len(), Some(self.raw.len()))
    }
}

/// Iterator over `&K`. Made by [`HashMap::keys`](crate::HashMap::keys).
pub struct Keys<'a, K, V> {
    pub(crate) inner: Iter<'a, K, V>,
}

/// Iterator over `&V`. Made by [`HashMap::values`](crate::HashMap::values).
pub struct Values<'a, K, V> {
    pub(crate) inner: Iter<'a, K, V>,
}

/// Iterator over `&mut V`. Made by [`HashMap::values_mut`](crate::HashMap::values_mut).
pub struct ValuesMut<'a, K, V> {
    pub(crate) inner: IterMut<'a, K, V>,
}

/// Owning iterator over `K`. Made by [`HashMap::into_keys`](crate::HashMap::into_keys).
pub struct IntoKeys<K, V, S = crate::DefaultHashBuilder> {
    pub(crate) inner: IntoIter<K, V, S>,
}

/// Owning iterator over `V`. Made by [`HashMap::into_values`](crate::HashMap::into_values).
pub struct IntoValues<K, V, S = crate::DefaultHashBuilder> {
    pub(crate) inner: IntoIter<K, V, S>,
}

impl<K, V> Clone for Keys<'_, K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<K, V> Clone for Values<'_, K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

macro_rules! projection {
    ($name:ident [$($generics:tt)*], $item:ty, |$entry:pat_param| $project:expr) => {
        impl<$($generics)*> Iterator for $name<$($generics)*> {
            type Item = $item;
            #[inline]
            fn next(&mut self) -> Option<$item> {
                self.inner.next().map(|$entry| $project)
            }
            fn size_hint(&self) -> (usize, Option<usize>) {
                self.inner.size_hint()
            }
        }
    };
}

projection!(Keys['a, K, V], &'a K, |(k, _)| k);
projection!(Values['a, K, V], &'a V, |(_, v)| v);
projection!(ValuesMut['a, K, V], &'a mut V, |(_, v)| v);
projection!(IntoKeys[K, V, S], K, |(k, v)| {
    drop(v);
    k
});
projection!(IntoValues[K, V, S], V, |(k, v)| {
    drop(k);
    v
});

macro_rules! exact_and_fused {
    ($($name:ident [$($generics:tt)*]),* $(,)?) => {
        $(
            impl<$($generics)*> ExactSizeIterator for $name<$($generics)*> {}
            impl<$($generics)*> FusedIterator for $name<$($generics)*> {}
        )*
    };
}

exact_and_fused!(
    Iter['a, K, V],
    IterMut['a, K, V],
    IntoIter[K, V, S],
    Drain['a, K, V, S],
    Keys['a, K, V],
    Values['a, K, V],
    ValuesMut['a, K, V],
    IntoKeys[K, V, S],
    IntoValues[K, V, S],
);

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for IterMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.raw.as_ref_iter()).finish()
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for IntoIter<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.raw.as_ref_iter()).finish()
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for Drain<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.raw.as_ref_iter()).finish()
    }
}

impl<K: fmt::Debug, V> fmt::Debug for Keys<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<K, V: fmt::Debug> fmt::Debug for Values<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<K, V: fmt::Debug> fmt::Debug for ValuesMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.inner.raw.as_ref_iter().map(|(_, v)| v))
            .finish()
    }
}

impl<K: fmt::Debug, V, S> fmt::Debug for IntoKeys<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.inner.raw.as_ref_iter().map(|(k, _)| k))
            .finish()
    }
}

impl<K, V: fmt::Debug, S> fmt::Debug for IntoValues<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.inner.raw.as_ref_iter().map(|(_, v)| v))
            .finish()
    }
}
