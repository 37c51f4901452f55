//! Introspection: statistics and the invariant checker (style.md §5: one checker, asserting
//! every numbered invariant of `RawMap` and `Bucket`).

#[cfg(any(test, fuzzing, feature = "invariants"))]
use core::hash::{BuildHasher, Hash};

use super::bucket::Bucket;
#[cfg(any(test, fuzzing, feature = "invariants"))]
use super::bucket::SLOTS_PER_BUCKET;
use super::bucket_array::{self, ArrayShape};
#[cfg(any(test, fuzzing, feature = "invariants"))]
use super::tophash::TopHash;
use super::RawMap;
#[cfg(any(test, fuzzing, feature = "invariants"))]
use super::{bucket_mask, Flags};
#[cfg(any(test, fuzzing, feature = "invariants"))]
use crate::{BucketImage, MapImage};
use crate::{GrowthKind, MapStats};
#[cfg(any(test, fuzzing, feature = "invariants"))]
use core::ptr::NonNull;

impl<K, V, S> RawMap<K, V, S> {
    /// Research statistics; walks every chain, so O(buckets + entries).
    pub(crate) fn stats(&self) -> MapStats {
        let log2 = self.header.log2_buckets;
        let mut overflow_buckets = 0;
        let mut spare_overflow_buckets = 0;
        let mut bucket_bytes = 0;
        if let Some(buckets) = self.header.buckets {
            let shape = ArrayShape::of_allocated::<K, V>(log2);
            bucket_bytes += shape.layout.size();
            for index in 0..shape.buckets {
                // SAFETY: index < 2^B, a live head.
                let mut b = unsafe { Bucket::overflow(buckets.as_ptr().add(index)) };
                while !b.is_null() {
                    overflow_buckets += 1;
                    if !bucket_array::is_spare(buckets, log2, b) {
                        bucket_bytes += size_of::<Bucket<K, V>>();
                    }
                    // SAFETY: live bucket (B3).
                    b = unsafe { Bucket::overflow(b) };
                }
            }
            if let Some(spare) = self.header.spare_overflow {
                // SAFETY: I7: the spare and the array's end are in one allocation.
                let end = unsafe { buckets.as_ptr().add(shape.total) };
                // SAFETY: both pointers are into the same allocation, spare ≤ end.
                spare_overflow_buckets = unsafe { end.offset_from(spare.as_ptr()) } as usize;
            }
        }
        let (growth, old_buckets_evacuated, old_buckets_total) = match self.header.old_buckets {
            Some(old) => {
                let total = self.old_bucket_count();
                bucket_bytes += ArrayShape::of_allocated::<K, V>(self.old_log2_buckets())
                    .layout
                    .size();
                let evacuated = (0..total)
                    .filter(|&i| self.is_old_evacuated(old, i))
                    .count();
                let kind = if self.is_same_size_grow() {
                    GrowthKind::SameSize
                } else {
                    GrowthKind::Doubling
                };
                (Some(kind), evacuated, total)
            }
            None => (None, 0, 0),
        };
        MapStats {
            len: self.header.count,
            log2_buckets: log2,
            buckets: 1usize << log2,
            overflow_buckets,
            overflow_count_estimate: self.header.overflow_count,
            spare_overflow_buckets,
            growth,
            old_buckets_evacuated,
            old_buckets_total,
            load_factor: self.header.count as f64 / (1usize << log2) as f64,
            max_load_factor: self.load_factor.as_f64(),
            bucket_bytes,
        }
    }

    /// Both arrays, chain by chain, as Go shows them (`HashMap::image`); an evacuated old chain
    /// is `None` (D6: it may no longer be read).
    #[cfg(any(test, fuzzing, feature = "invariants"))]
    pub(crate) fn image(&self) -> MapImage<'_, K, V> {
        let chains = |array: NonNull<Bucket<K, V>>, index: usize| {
            let mut images = Vec::new();
            // SAFETY: `index` is below the array's bucket count (the callers' ranges), so a
            // live head.
            let mut b = unsafe { array.as_ptr().add(index) };
            while !b.is_null() {
                let mut image = BucketImage {
                    tophash: [0; SLOTS_PER_BUCKET],
                    slots: [None; SLOTS_PER_BUCKET],
                };
                for slot in 0..SLOTS_PER_BUCKET {
                    // SAFETY: a live bucket of a live chain, in-bounds slot.
                    let top = unsafe { Bucket::tophash(b, slot) };
                    image.tophash[slot] = top.0;
                    if top.is_full() {
                        // SAFETY: a full slot's key and value are initialized (B1); they stay
                        // borrowed from `self` for the image's lifetime, during which `&self`
                        // rules out every write.
                        image.slots[slot] =
                            unsafe { Some((&*Bucket::key(b, slot), &*Bucket::value(b, slot))) };
                    }
                }
                images.push(image);
                // SAFETY: live bucket (B3).
                b = unsafe { Bucket::overflow(b) };
            }
            images
        };
        let buckets = self.header.buckets.map(|array| {
            (0..1usize << self.header.log2_buckets)
                .map(|index| chains(array, index))
                .collect()
        });
        let old_buckets = self.header.old_buckets.map(|old| {
            (0..self.old_bucket_count())
                .map(|index| (!self.is_old_evacuated(old, index)).then(|| chains(old, index)))
                .collect()
        });
        MapImage {
            buckets,
            old_buckets,
        }
    }

    #[cfg(any(test, fuzzing, feature = "invariants"))]
    /// Checks the chain-shape invariants of one chain and counts its full slots: B1's tophash
    /// side, I5 (the `EMPTY_REST` prefix rule) and that no marker appears in a live chain.
    fn check_chain(&self, head: *mut Bucket<K, V>, what: &str) -> usize {
        let mut full = 0;
        let mut seen_empty_rest = false;
        let mut last_live = TopHash::EMPTY_REST;
        let mut b = head;
        while !b.is_null() {
            for slot in 0..SLOTS_PER_BUCKET {
                // SAFETY: a live bucket of a live chain, in-bounds slot.
                let top = unsafe { Bucket::tophash(b, slot) };
                assert!(
                    !top.is_evacuation_marker(),
                    "I3 broken: evacuation marker in live {what} chain"
                );
                if top == TopHash::EMPTY_REST {
                    seen_empty_rest = true;
                } else {
                    assert!(
                        !seen_empty_rest,
                        "I5 broken: slot {top:?} after EMPTY_REST in {what} chain"
                    );
                    last_live = top;
                    if top.is_full() {
                        full += 1;
                    }
                }
            }
            // SAFETY: live bucket.
            b = unsafe { Bucket::overflow(b) };
        }
        assert!(
            last_live != TopHash::EMPTY_ONE,
            "I5 broken: {what} chain's live prefix ends in EMPTY_ONE"
        );
        full
    }
}

#[cfg(any(test, fuzzing, feature = "invariants"))]
impl<K: Hash + Eq, V, S: BuildHasher> RawMap<K, V, S> {
    /// Asserts every invariant (I1–I8, B1–B3 as far as they are observable). Panics naming the
    /// broken one. Assumes `Hash` and `Eq` are consistent (I8 cannot hold otherwise).
    pub(crate) fn check_invariants(&self) {
        let header = &self.header;
        let log2 = header.log2_buckets;
        assert!(
            !header.flags.is_set(Flags::WRITING),
            "I6 broken: writing flag set outside a mutation"
        );
        assert!(
            self.is_growing() || !header.flags.is_set(Flags::SAME_SIZE_GROW),
            "I6 broken: SAME_SIZE_GROW without a growth"
        );
        let Some(buckets) = header.buckets else {
            assert_eq!(header.count, 0, "I1 broken: entries without an array");
            assert!(
                header.old_buckets.is_none(),
                "I2 broken: growing without an array"
            );
            return;
        };
        let mask = bucket_mask(log2);
        let mut count = 0;
        for index in 0..=mask {
            // SAFETY: index ≤ mask, a live head.
            let head = unsafe { buckets.as_ptr().add(index) };
            count += self.check_chain(head, "new");
            self.check_placement(head, index, mask);
        }
        if let Some(old) = header.old_buckets {
            let old_count = self.old_bucket_count();
            assert!(
                header.evacuation_mark < old_count,
                "I3 broken: growth not ended at the mark"
            );
            for old_index in 0..old_count {
                if self.is_old_evacuated(old, old_index) {
                    continue;
                }
                // SAFETY: at or above the mark (evacuated below it), a live head.
                let head = unsafe { old.as_ptr().add(old_index) };
                count += self.check_chain(head, "old");
                self.check_placement(head, old_index, old_count - 1);
                // I4: the new buckets fed by an unevacuated old chain are still empty.
                let destinations: &[usize] = if self.is_same_size_grow() {
                    &[old_index]
                } else {
                    &[old_index, old_index + old_count]
                };
                for &index in destinations {
                    // SAFETY: index < 2^B.
                    let word = unsafe { Bucket::tophash_word(buckets.as_ptr().add(index)) };
                    assert_eq!(
                        word.empty().count(),
                        SLOTS_PER_BUCKET,
                        "I4 broken: new bucket {index} filled early"
                    );
                }
            }
        }
        assert_eq!(
            count, header.count,
            "I1 broken: count differs from the full slots"
        );
        if let Some(spare) = header.spare_overflow {
            let shape = ArrayShape::of_allocated::<K, V>(log2);
            assert!(
                bucket_array::is_spare(buckets, log2, spare.as_ptr())
                    && shape.total > shape.buckets,
                "I7 broken: spare cursor outside the spare region"
            );
        }
    }

    /// I8: every full slot's key hashes to `index` under `mask`, with a matching tophash.
    fn check_placement(&self, head: *mut Bucket<K, V>, index: usize, mask: usize) {
        let mut b = head;
        while !b.is_null() {
            for slot in 0..SLOTS_PER_BUCKET {
                // SAFETY: live bucket, in-bounds slot; full slots hold a key (B1).
                unsafe {
                    let top = Bucket::tophash(b, slot);
                    if top.is_full() {
                        let hash = self.hash(&*Bucket::key(b, slot));
                        assert_eq!(
                            hash as usize & mask,
                            index,
                            "I8 broken: key in the wrong chain"
                        );
                        assert_eq!(
                            TopHash::from_hash(hash),
                            top,
                            "I8 broken: tophash differs from the key's"
                        );
                    }
                }
            }
            // SAFETY: live bucket.
            b = unsafe { Bucket::overflow(b) };
        }
    }
}
