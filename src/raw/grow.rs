//! Growth: starting one (`hash_grow`), moving it along (`grow_work`, `evacuate`) and ending it
//! (`advance_evacuation_mark`). Go: the functions of the same names in `runtime/map.go`.
//!
//! The work bound: a write evacuates at most two old chains (the one its key needs, then the one
//! at the mark), and the mark's skip loop reads at most 1024 heads. Reads evacuate nothing.
//! `design/incremental-resize.md` walks through a growth step by step.
//!
//! Unwinding: `evacuate` computes every X/Y destination (the only user code it runs, `Hash`)
//! before it moves anything, so a panicking `Hash` leaves the chain unevacuated and I3 intact.

use core::hash::{BuildHasher, Hash};
use core::ptr::{self, NonNull};

use super::bucket::{Bucket, SLOTS_PER_BUCKET};
use super::bucket_array;
use super::tophash::TopHash;
use super::{Flags, RawMap};
use crate::error::{Fallibility, TryReserveError};

/// The old mark's skip loop reads at most this many heads per call. Go: the 1024 in
/// `advanceEvacuationMark`.
const MAX_MARK_SKIP: usize = 1024;

/// One evacuation destination: where the next entry sent to X (or Y) goes. Go: `evacDst`.
struct Destination<K, V> {
    bucket: *mut Bucket<K, V>,
    slot: usize,
}

/// One bit per slot of an old chain: whether its entry goes to Y. Inline for chains of up to 32
/// buckets, on the heap beyond (only adversarial hashers make such chains).
enum DestinationBits {
    Inline([u64; 4]),
    Heap(Vec<u64>),
}

impl DestinationBits {
    fn with_slots(slots: usize) -> Self {
        let words = slots.div_ceil(64);
        if words <= 4 {
            Self::Inline([0; 4])
        } else {
            Self::Heap(vec![0; words])
        }
    }

    fn words(&mut self) -> &mut [u64] {
        match self {
            Self::Inline(words) => words,
            Self::Heap(words) => words,
        }
    }

    fn set(&mut self, n: usize) {
        self.words()[n / 64] |= 1 << (n % 64);
    }

    fn get(&mut self, n: usize) -> bool {
        self.words()[n / 64] & (1 << (n % 64)) != 0
    }
}

impl<K, V, S> RawMap<K, V, S> {
    /// Starts a growth (Go: `hashGrow`): doubling if the next insert would exceed the load
    /// factor, else same-size (the trigger was too many overflow buckets). Allocates the new array
    /// and moves nothing.
    pub(crate) fn hash_grow(&mut self) {
        let bigger = self
            .load_factor
            .is_exceeded(self.header.count + 1, self.header.log2_buckets);
        self.try_hash_grow(bigger, Fallibility::Infallible)
            .expect("an infallible allocation panics or aborts instead of failing");
    }

    /// [`RawMap::hash_grow`] with the kind chosen by the caller.
    ///
    /// # Errors
    /// Capacity overflow or allocation failure, as `fallibility` directs; the map is unchanged.
    pub(crate) fn try_hash_grow(
        &mut self,
        bigger: bool,
        fallibility: Fallibility,
    ) -> Result<(), TryReserveError> {
        debug_assert!(!self.is_growing(), "growths never overlap");
        let new_log2 = self.header.log2_buckets + u8::from(bigger);
        let new = bucket_array::allocate::<K, V>(new_log2, fallibility)?;
        self.start_growth_into(new, bigger);
        Ok(())
    }

    /// Starts a growth into `new`, an array from [`bucket_array::allocate`] of
    /// 2^(B + `bigger`) buckets (`reserve` allocates its arrays ahead, so that a refused one
    /// changes nothing).
    pub(crate) fn start_growth_into(&mut self, new: NonNull<Bucket<K, V>>, bigger: bool) {
        debug_assert!(!self.is_growing(), "growths never overlap");
        let new_log2 = self.header.log2_buckets + u8::from(bigger);
        let header = &mut self.header;
        // INVARIANT: I2 (old array of the documented size), I3 (mark 0: nothing evacuated),
        // I4 (the new array is zeroed), I6, I7 (spares of the new array; the old array's
        // leftover spares are abandoned, as in Go).
        if !bigger {
            header.flags.set(Flags::SAME_SIZE_GROW);
        }
        header.log2_buckets = new_log2;
        header.old_buckets = header.buckets.replace(new);
        header.evacuation_mark = 0;
        header.overflow_count = 0;
        self.header.spare_overflow = self.first_spare();
    }

    /// Ends the growth once the mark has passed every old chain: the old array is empty and
    /// unreachable, and goes to the reclaimer.
    fn end_growth_if_done(&mut self) {
        if self.header.evacuation_mark != self.old_bucket_count() {
            return;
        }
        let old = self.header.old_buckets.take().expect("only while growing");
        let old_log2 = self.old_log2_buckets();
        // INVARIANT: I2, I6.
        self.header.flags.clear(Flags::SAME_SIZE_GROW);
        // SAFETY: every old chain is evacuated: its entries moved and its separately allocated
        // overflow buckets freed by `evacuate`; nothing points into the array any more.
        unsafe { bucket_array::retire(old, old_log2) };
    }
}

impl<K: Hash, V, S: BuildHasher> RawMap<K, V, S> {
    /// Moves the growth along before a write to new bucket `index`: evacuates the old chain
    /// that feeds it, then (if the growth is still going) the chain at the mark. Go: `growWork`.
    pub(crate) fn grow_work(&mut self, index: usize) {
        self.evacuate(index & (self.old_bucket_count() - 1));
        if self.is_growing() {
            self.evacuate(self.header.evacuation_mark);
        }
    }

    /// Evacuates every remaining old chain (used by `reserve`, which stops the world on purpose).
    pub(crate) fn finish_growth(&mut self) {
        while self.is_growing() {
            self.evacuate(self.header.evacuation_mark);
        }
    }

    /// Moves old chain `old_index` into the new array: entries whose hash has the new bit set go
    /// to Y (`old_index + old count`), the others to X (`old_index`); in a same-size growth all go
    /// to X. Marks every old slot, frees the chain's separately allocated overflow buckets, and
    /// advances the mark if it pointed here. Go: `evacuate`.
    fn evacuate(&mut self, old_index: usize) {
        let old = self
            .header
            .old_buckets
            .expect("evacuate runs only while growing");
        let new_bit = self.old_bucket_count();
        let old_log2 = self.old_log2_buckets();
        if !self.is_old_evacuated(old, old_index) {
            // SAFETY: old_index < old count (callers mask it or use the mark, which is below the
            // count while growing).
            let head = unsafe { old.as_ptr().add(old_index) };
            let doubling = !self.is_same_size_grow();

            // Pass 1: every destination, before anything moves. UNWIND: a panicking Hash leaves
            // the chain untouched.
            let mut to_y = DestinationBits::with_slots(0);
            if doubling {
                let mut chain_len = 0;
                let mut b = head;
                while !b.is_null() {
                    chain_len += 1;
                    // SAFETY: live bucket of the chain (B3).
                    b = unsafe { Bucket::overflow(b) };
                }
                to_y = DestinationBits::with_slots(chain_len * SLOTS_PER_BUCKET);
                let mut n = 0;
                let mut b = head;
                while !b.is_null() {
                    for slot in 0..SLOTS_PER_BUCKET {
                        // SAFETY: live bucket, in-bounds slot; full slots hold a key (B1).
                        unsafe {
                            if Bucket::tophash(b, slot).is_full()
                                && self.hash(&*Bucket::key(b, slot)) as usize & new_bit != 0
                            {
                                to_y.set(n);
                            }
                        }
                        n += 1;
                    }
                    // SAFETY: live bucket.
                    b = unsafe { Bucket::overflow(b) };
                }
            }

            // Pass 2: move. No user code runs from here to the end of the function.
            let buckets = self
                .header
                .buckets
                .expect("a growing map has a current array");
            let mut x = Destination {
                // SAFETY: X = old_index < old count ≤ 2^B.
                bucket: unsafe { buckets.as_ptr().add(old_index) },
                slot: 0,
            };
            let mut y = Destination {
                bucket: if doubling {
                    // SAFETY: Y = old_index + new_bit < 2 · old count = 2^B in a doubling.
                    unsafe { buckets.as_ptr().add(old_index + new_bit) }
                } else {
                    ptr::null_mut()
                },
                slot: 0,
            };
            let mut n = 0;
            let mut b = head;
            while !b.is_null() {
                for slot in 0..SLOTS_PER_BUCKET {
                    // SAFETY: `b` is a live old bucket and `slot` in bounds. Destinations are new
                    // buckets that were empty before this chain (I4) and are filled densely in
                    // order, so the slot written is empty; the entry is copied bit for bit and
                    // its old slot is marked evacuated, so it has exactly one owner (B1).
                    unsafe {
                        let top = Bucket::tophash(b, slot);
                        if top.is_empty() {
                            Bucket::set_tophash(b, slot, TopHash::EVACUATED_EMPTY);
                            n += 1;
                            continue;
                        }
                        assert!(top.is_full(), "bad map state: evacuating an evacuated slot");
                        let use_y = doubling && to_y.get(n);
                        n += 1;
                        Bucket::set_tophash(
                            b,
                            slot,
                            if use_y {
                                TopHash::EVACUATED_Y
                            } else {
                                TopHash::EVACUATED_X
                            },
                        );
                        let destination = if use_y { &mut y } else { &mut x };
                        if destination.slot == SLOTS_PER_BUCKET {
                            destination.bucket = self.new_overflow(destination.bucket);
                            destination.slot = 0;
                        }
                        let (to, to_slot) = (destination.bucket, destination.slot);
                        ptr::copy_nonoverlapping(Bucket::key(b, slot), Bucket::key(to, to_slot), 1);
                        ptr::copy_nonoverlapping(
                            Bucket::value(b, slot),
                            Bucket::value(to, to_slot),
                            1,
                        );
                        // INVARIANT: I5 holds in the new chain (dense, no holes), I8 (same hash).
                        Bucket::set_tophash(to, to_slot, top);
                        destination.slot += 1;
                    }
                }
                // SAFETY: live bucket; the link is read before the bucket may be freed.
                let next = unsafe { Bucket::overflow(b) };
                if b != head && !bucket_array::is_spare(old, old_log2, b) {
                    // SAFETY: not a spare, so it came from `allocate_overflow`; its entries were
                    // moved and only this chain linked it, and the head is unlinked below.
                    unsafe { bucket_array::free_overflow(b) };
                }
                b = next;
            }
            // SAFETY: live head. INVARIANT: I3, the whole chain is marked, only the head remains.
            unsafe { Bucket::set_overflow(head, ptr::null_mut()) };
        }
        if old_index == self.header.evacuation_mark {
            self.advance_evacuation_mark(new_bit);
        }
    }

    /// Moves the mark past `old_index` and then past old chains that writes evacuated out of
    /// order, reading at most [`MAX_MARK_SKIP`] heads. Go: `advanceEvacuationMark`.
    fn advance_evacuation_mark(&mut self, new_bit: usize) {
        let old = self.header.old_buckets.expect("only while growing");
        let mut mark = self.header.evacuation_mark + 1;
        let stop = (mark + MAX_MARK_SKIP).min(new_bit);
        while mark != stop && mark < new_bit {
            // SAFETY: mark < new_bit = old count, a live head at or above the old mark (I3).
            if !unsafe { Bucket::is_evacuated(old.as_ptr().add(mark)) } {
                break;
            }
            mark += 1;
        }
        // INVARIANT: I3, every chain below the new mark is evacuated.
        self.header.evacuation_mark = mark;
        self.end_growth_if_done();
    }
}
