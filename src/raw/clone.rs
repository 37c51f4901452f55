//! Structural clone (Go: `mapclone2`, used by `maps.Clone`): the copy has the same B, seed,
//! growth state and bucket layout, and each entry is cloned into the same slot, so no key is
//! rehashed and `K: Hash` is not required (std's `Clone` bound).

use core::ptr::NonNull;

use super::bucket::{Bucket, SLOTS_PER_BUCKET};
use super::bucket_array::{self, ArrayShape};
use super::{Flags, Header, RawMap};
use crate::error::Fallibility;

// GO: Go 1.22's mapclone2 re-inserts old-bucket entries and caps its hint (issue 69110);
// copying the structure as it is needs neither (D14).
impl<K: Clone, V: Clone, S: Clone> Clone for RawMap<K, V, S> {
    fn clone(&self) -> Self {
        let source = &self.header;
        let allocate = |log2| {
            bucket_array::allocate::<K, V>(log2, Fallibility::Infallible)
                .expect("an infallible allocation panics or aborts instead of failing")
        };
        // The copy starts with zeroed arrays and count 0 and gains each entry only once both its
        // key and value are cloned, so if a `clone` panics the partial copy's `Drop` drops
        // exactly the cloned entries (I1 may be off meanwhile; only `Drop` can observe it).
        // UNWIND: the hasher is cloned before the arrays are allocated: a panicking `S::clone`
        // in the struct literal, after them, leaked both (found by session 30's review).
        let hash_builder = self.hash_builder.clone();
        let mut copy = RawMap {
            header: Header {
                count: 0,
                flags: Flags(source.flags.bits() & Flags::SAME_SIZE_GROW),
                log2_buckets: source.log2_buckets,
                overflow_count: source.overflow_count,
                hash0: source.hash0,
                buckets: source.buckets.map(|_| allocate(source.log2_buckets)),
                old_buckets: source
                    .old_buckets
                    .map(|_| allocate(self.old_log2_buckets())),
                evacuation_mark: source.evacuation_mark,
                spare_overflow: None,
            },
            hash_builder,
            load_factor: self.load_factor,
            marker: core::marker::PhantomData,
        };
        if let (Some(from), Some(to)) = (source.buckets, copy.header.buckets) {
            copy.header.spare_overflow = source
                .spare_overflow
                // SAFETY: both arrays have the same shape and the spare is inside `from`.
                .map(|spare| unsafe { to.add(spare.offset_from(from) as usize) });
            let log2 = source.log2_buckets;
            for index in 0..1usize << log2 {
                // SAFETY: index < 2^B in both arrays of the same shape.
                unsafe { clone_chain(&mut copy.header.count, from, to, log2, index) };
            }
        }
        if let (Some(from), Some(to)) = (source.old_buckets, copy.header.old_buckets) {
            let log2 = self.old_log2_buckets();
            for index in source.evacuation_mark..self.old_bucket_count() {
                // SAFETY: at or above the mark the source heads are live (I3); both arrays have
                // the same shape.
                unsafe { clone_chain(&mut copy.header.count, from, to, log2, index) };
            }
        }
        debug_assert_eq!(copy.header.count, source.count);
        copy
    }
}

/// Clones chain `index` of array `from` into the zeroed array `to` of the same shape: tophash
/// markers copied as they are (an evacuated old chain keeps its marks and nothing else), full
/// slots cloned, spares mapped to the same spare, other overflow buckets freshly allocated.
///
/// # Safety
/// `from` and `to` are arrays of 2^`log2` buckets from `allocate`, `index` < 2^`log2`, the chain
/// in `from` is live, and `to`'s chain is still zeroed.
unsafe fn clone_chain<K: Clone, V: Clone>(
    count: &mut usize,
    from: NonNull<Bucket<K, V>>,
    to: NonNull<Bucket<K, V>>,
    log2: u8,
    index: usize,
) {
    let shape = ArrayShape::of_allocated::<K, V>(log2);
    debug_assert!(index < shape.buckets);
    // SAFETY: caller's contract; every bucket touched is in `from`'s live chain or is its image
    // in `to` (a spare at the same offset, or a fresh zeroed allocation linked right away).
    unsafe {
        let mut source = from.as_ptr().add(index);
        let mut target = to.as_ptr().add(index);
        loop {
            for slot in 0..SLOTS_PER_BUCKET {
                let top = Bucket::tophash(source, slot);
                if top.is_full() {
                    // UNWIND: a panicking clone leaves this slot empty in the copy.
                    let key = (*Bucket::key(source, slot)).clone();
                    let value = (*Bucket::value(source, slot)).clone();
                    Bucket::key(target, slot).write(key);
                    Bucket::value(target, slot).write(value);
                    *count += 1;
                }
                // INVARIANT: B1, marked full only once initialized.
                Bucket::set_tophash(target, slot, top);
            }
            let next = Bucket::overflow(source);
            if next.is_null() {
                return;
            }
            let next_target = if bucket_array::is_spare(from, log2, next) {
                to.as_ptr().add(next.offset_from(from.as_ptr()) as usize)
            } else {
                bucket_array::allocate_overflow::<K, V>()
            };
            Bucket::set_overflow(target, next_target);
            source = next;
            target = next_target;
        }
    }
}
