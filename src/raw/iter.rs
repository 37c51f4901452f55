//! The raw iterator (Go: `hiter` with `mapiterinit`/`mapiternext`): yields the slot of every
//! entry exactly once, starting at a random bucket and rotating the slot order by a random
//! offset, in every growth state.
//!
//! While a growth is in progress the iterator walks the *new* array's indices, as Go's does. At
//! new index `i` whose old chain `j = i & (old count − 1)` is not evacuated yet, the new buckets
//! `j` and `j + old count` are still empty (I4) and every entry destined for either is in old
//! chain `j`. Go yields that chain's entries split by hash between `i = j` and `i = j + old
//! count` (the `checkBucket` filter), because writes may evacuate the chain between the two
//! visits. Here an iterator borrows the map, so nothing moves while it lives: we yield the whole
//! old chain at `i = j` and nothing at `i = j + old count`, with no hashing (D11). Either way each
//! entry is produced once: it is in exactly one chain, and each chain is visited once.

use core::ptr;

use super::bucket::{Bucket, SLOTS_PER_BUCKET};
use super::{rand64, RawMap, SlotRef};

/// Iteration state over a map that does not change while it lives. Go: `hiter`.
///
/// GO: no `checkBucket` X/Y filter; unevacuated old chains are yielded whole at their X index
/// (D11, module docs).
///
/// # Invariants
/// - R1: the map that made it outlives it and is not modified meanwhile (the public iterators
///   hold a borrow; `IntoIter`/`Drain` only empty slots already yielded).
/// - R2: `remaining` is the number of full slots not yet yielded.
pub(crate) struct RawIter<K, V> {
    buckets: *mut Bucket<K, V>,
    old_buckets: *mut Bucket<K, V>,
    log2_buckets: u8,
    old_mask: usize,
    evacuation_mark: usize,
    /// Go: `startBucket`.
    start_bucket: usize,
    /// Go: `offset`.
    offset: usize,
    /// Go: `wrapped`.
    wrapped: bool,
    /// Go: `bucket`, the next index to visit.
    next_index: usize,
    /// Go: `bptr`, the bucket being walked (null between chains).
    current: *mut Bucket<K, V>,
    /// Go: `i`, the next slot position (before rotation) in `current`.
    position: usize,
    remaining: usize,
}

// SAFETY: a RawIter is a cursor of plain positions; it never dereferences a bucket on its own
// behalf except to read tophash bytes and links, which no `&`-reachable code writes (R1). Every
// wrapper that hands out keys or values carries a PhantomData (`&K`/`&V`, `&mut V`) or owns or
// borrows the RawMap, so the wrappers get std's Send/Sync conditions from those fields.
unsafe impl<K, V> Send for RawIter<K, V> {}
// SAFETY: as above; `&RawIter` allows only `len` and `clone`, which read the cursor.
unsafe impl<K, V> Sync for RawIter<K, V> {}

impl<K, V> RawIter<K, V> {
    /// Starts an iteration over `map`. Go: `mapiterinit`.
    pub(crate) fn new<S>(map: &RawMap<K, V, S>) -> Self {
        let random = if map.header.count == 0 { 0 } else { rand64() };
        Self::with_random(map, random)
    }

    /// [`new`](Self::new) with Go's random draw given: `startBucket` is its low B bits, `offset`
    /// the three above them.
    pub(crate) fn with_random<S>(map: &RawMap<K, V, S>, random: u64) -> Self {
        let header = &map.header;
        let log2 = header.log2_buckets;
        let mask = (1usize << log2) - 1;
        let (old_buckets, old_mask) = match header.old_buckets {
            Some(old) => (old.as_ptr(), map.old_bucket_count() - 1),
            None => (ptr::null_mut(), 0),
        };
        let start_bucket = random as usize & mask;
        Self {
            buckets: header.buckets.map_or(ptr::null_mut(), |b| b.as_ptr()),
            old_buckets,
            log2_buckets: log2,
            old_mask,
            evacuation_mark: header.evacuation_mark,
            start_bucket,
            offset: (random >> log2) as usize & (SLOTS_PER_BUCKET - 1),
            wrapped: false,
            next_index: start_bucket,
            current: ptr::null_mut(),
            position: 0,
            remaining: header.count,
        }
    }

    /// Entries not yet yielded.
    pub(crate) fn len(&self) -> usize {
        self.remaining
    }

    /// The chain to walk for new index `index`, or null if its entries are yielded elsewhere.
    fn chain_at(&self, index: usize) -> *mut Bucket<K, V> {
        if !self.old_buckets.is_null() {
            let old_index = index & self.old_mask;
            // SAFETY: R1; old_index ≤ old mask; heads at or above the mark are live (I3).
            let evacuated = old_index < self.evacuation_mark
                || unsafe { Bucket::is_evacuated(self.old_buckets.add(old_index)) };
            if !evacuated {
                return if index == old_index {
                    // SAFETY: in bounds of the old array.
                    unsafe { self.old_buckets.add(old_index) }
                } else {
                    ptr::null_mut()
                };
            }
        }
        // SAFETY: index < 2^B, in bounds of the current array.
        unsafe { self.buckets.add(index) }
    }
}

impl<K, V> Iterator for RawIter<K, V> {
    type Item = SlotRef<K, V>;

    /// Go: `mapiternext`.
    fn next(&mut self) -> Option<SlotRef<K, V>> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if self.current.is_null() {
                if self.next_index == self.start_bucket && self.wrapped {
                    debug_assert!(
                        false,
                        "iteration wrapped with {} entries unseen",
                        self.remaining
                    );
                    return None;
                }
                self.current = self.chain_at(self.next_index);
                self.next_index += 1;
                if self.next_index == 1usize << self.log2_buckets {
                    self.next_index = 0;
                    self.wrapped = true;
                }
                self.position = 0;
                continue;
            }
            while self.position < SLOTS_PER_BUCKET {
                let slot = (self.position + self.offset) & (SLOTS_PER_BUCKET - 1);
                self.position += 1;
                // SAFETY: R1; `current` is a live bucket of a live chain.
                if unsafe { Bucket::tophash(self.current, slot) }.is_full() {
                    self.remaining -= 1;
                    return Some((self.current, slot));
                }
            }
            // SAFETY: live bucket.
            self.current = unsafe { Bucket::overflow(self.current) };
            self.position = 0;
            if self.current.is_null() {
                continue;
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> Clone for RawIter<K, V> {
    fn clone(&self) -> Self {
        Self { ..*self }
    }
}

/// Shared-borrow iterator over `(&K, &V)`.
pub(crate) struct RawRefIter<'a, K, V> {
    inner: RawIter<K, V>,
    marker: core::marker::PhantomData<(&'a K, &'a V)>,
}

impl<'a, K, V> RawRefIter<'a, K, V> {
    pub(crate) fn new<S>(map: &'a RawMap<K, V, S>) -> Self {
        Self {
            inner: RawIter::new(map),
            marker: core::marker::PhantomData,
        }
    }

    /// An iteration starting where Go's would for the random draw `random`.
    #[cfg(any(test, fuzzing, feature = "invariants"))]
    pub(crate) fn with_random<S>(map: &'a RawMap<K, V, S>, random: u64) -> Self {
        Self {
            inner: RawIter::with_random(map, random),
            marker: core::marker::PhantomData,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }
}

impl<K, V> Clone for RawRefIter<'_, K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            marker: core::marker::PhantomData,
        }
    }
}

impl<'a, K, V> Iterator for RawRefIter<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (bucket, slot) = self.inner.next()?;
        // SAFETY: a yielded slot is full (B1) and, by R1, stays so for 'a, the map borrow.
        Some(unsafe { (&*Bucket::key(bucket, slot), &*Bucket::value(bucket, slot)) })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Unique-borrow iterator over `(&K, &mut V)`.
pub(crate) struct RawMutIter<'a, K, V> {
    inner: RawIter<K, V>,
    marker: core::marker::PhantomData<(&'a K, &'a mut V)>,
}

impl<'a, K, V> RawMutIter<'a, K, V> {
    pub(crate) fn new<S>(map: &'a mut RawMap<K, V, S>) -> Self {
        Self {
            inner: RawIter::new(map),
            marker: core::marker::PhantomData,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }

    /// A shared view of the entries not yet yielded (for `Debug`).
    pub(crate) fn as_ref_iter(&self) -> RawRefIter<'_, K, V> {
        RawRefIter {
            inner: self.inner.clone(),
            marker: core::marker::PhantomData,
        }
    }
}

impl<'a, K, V> Iterator for RawMutIter<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (bucket, slot) = self.inner.next()?;
        // SAFETY: a yielded slot is full (B1), stays so for 'a (R1, the map is mutably borrowed
        // by this iterator), and each slot is yielded once, so the `&mut V`s never alias.
        Some(unsafe {
            (
                &*Bucket::key(bucket, slot),
                &mut *Bucket::value(bucket, slot),
            )
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Moves entries out of a map it borrows or owns, emptying each slot as it goes. What it does
/// not yield is dropped by the map's `reset` (drain) or `Drop` (into_iter).
pub(crate) struct RawTakeIter<K, V> {
    inner: RawIter<K, V>,
}

impl<K, V> RawTakeIter<K, V> {
    /// # Safety
    /// The caller keeps `map` alive and otherwise untouched while the iterator lives (R1), and
    /// passes each yielded pair's map to [`RawTakeIter::take`].
    pub(crate) unsafe fn new<S>(map: &RawMap<K, V, S>) -> Self {
        Self {
            inner: RawIter::new(map),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }

    /// A shared view of the entries not yet taken (for `Debug`).
    pub(crate) fn as_ref_iter(&self) -> RawRefIter<'_, K, V> {
        RawRefIter {
            inner: self.inner.clone(),
            marker: core::marker::PhantomData,
        }
    }

    /// Moves the next entry out of `map`, the map this iterator was made from.
    pub(crate) fn take<S>(&mut self, map: &mut RawMap<K, V, S>) -> Option<(K, V)> {
        let (bucket, slot) = self.inner.next()?;
        // SAFETY: a yielded slot is full (B1); it is read once and marked EMPTY_ONE right away,
        // so `reset`/`Drop` will not drop it again. I5 may be broken afterwards (a trailing
        // EMPTY_ONE); normally only `reset` or `Drop` follow, and neither relies on I5. A
        // `Drain` leaked with `mem::forget` leaves those marks, and the map is used on: that
        // is still correct, because lookups and writes read past EMPTY_ONE and stop only at
        // EMPTY_REST, and nothing needs the live prefix to be as short as I5 makes it; but
        // `check_invariants` then reports I5 (found by session 30's review).
        unsafe {
            let entry = (
                ptr::read(Bucket::key(bucket, slot)),
                ptr::read(Bucket::value(bucket, slot)),
            );
            Bucket::set_tophash(bucket, slot, super::tophash::TopHash::EMPTY_ONE);
            map.header.count -= 1;
            Some(entry)
        }
    }
}

/// Owning iterator: the map and a take-iterator over it.
pub(crate) struct RawIntoIter<K, V, S> {
    map: RawMap<K, V, S>,
    iter: RawTakeIter<K, V>,
}

impl<K, V, S> RawIntoIter<K, V, S> {
    pub(crate) fn new(map: RawMap<K, V, S>) -> Self {
        // SAFETY: the iterator and the map move together and the map is touched only by `take`;
        // moving a RawMap does not move its buckets, so the slot pointers stay valid (R1).
        let iter = unsafe { RawTakeIter::new(&map) };
        Self { map, iter }
    }

    pub(crate) fn len(&self) -> usize {
        self.iter.len()
    }

    pub(crate) fn as_ref_iter(&self) -> RawRefIter<'_, K, V> {
        self.iter.as_ref_iter()
    }
}

impl<K, V, S> Iterator for RawIntoIter<K, V, S> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        self.iter.take(&mut self.map)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.iter.len(), Some(self.iter.len()))
    }
}

/// Draining iterator: takes entries out of a borrowed map and resets the map when dropped (the
/// map's `reset` drops whatever was not taken).
pub(crate) struct RawDrain<'a, K, V, S> {
    map: &'a mut RawMap<K, V, S>,
    iter: RawTakeIter<K, V>,
}

impl<'a, K, V, S> RawDrain<'a, K, V, S> {
    pub(crate) fn new(map: &'a mut RawMap<K, V, S>) -> Self {
        // SAFETY: the drain holds the map's unique borrow and touches it only through `take`
        // and, at the end, `reset` (R1).
        let iter = unsafe { RawTakeIter::new(map) };
        Self { map, iter }
    }

    pub(crate) fn len(&self) -> usize {
        self.iter.len()
    }

    pub(crate) fn as_ref_iter(&self) -> RawRefIter<'_, K, V> {
        self.iter.as_ref_iter()
    }
}

impl<K, V, S> Iterator for RawDrain<'_, K, V, S> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        self.iter.take(self.map)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.iter.len(), Some(self.iter.len()))
    }
}

impl<K, V, S> Drop for RawDrain<'_, K, V, S> {
    fn drop(&mut self) {
        // Drops what was not taken and restores I1–I8 (taken slots are EMPTY_ONE, which may
        // break I5 until now). Runs even when the map is already empty, unlike `clear`.
        if self.map.header.buckets.is_some() {
            self.map.reset();
        }
    }
}
