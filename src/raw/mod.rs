//! The sequential Go mirror: [`RawMap`] (Go: `hmap`) and everything it is built from. All of the
//! sequential map's `unsafe` code lives in this folder.
//!
//! # The mental model
//! A map is an array of 2^B buckets (`log2_buckets` is Go's `B`). Each bucket has eight slots:
//! eight tophash bytes, then the eight keys, then the eight values, then a pointer to an overflow
//! bucket. A key's bucket is its hash's low B bits; its tophash is the hash's top byte (moved
//! above the marker values). A chain is a bucket and its overflow buckets. Lookups scan a chain's
//! tophash bytes and compare keys only where the byte matches; an `EMPTY_REST` byte ends the scan.
//!
//! When an insert would make the average load exceed 6.5 entries per bucket (13/2; Go 1.21's
//! accidental 6.0 is [`LoadFactor::Go121`]) the map *doubles*; when overflow buckets are about as
//! many as buckets it grows to the *same size* to compact them. Growth only allocates the new
//! array: entries move later, one old chain at a time (`evacuate`), two chains per write at most
//! (`grow_work`). An old chain's entries split between new bucket `i` (X) and `i + old count` (Y)
//! on hash bit `B - 1`. Reads never move anything. `grow.rs` has the details; `iter.rs` explains
//! why iteration in the middle of a growth visits every entry exactly once.
//!
//! Go's load-factor table and our growth points (asserted against Go 1.22's measured ones by
//! `tests/go_parity`) are in `design/incremental-resize.md`.

#![allow(
    unsafe_code,
    reason = "the raw layer is where the sequential map's unsafe code lives (style.md §2)"
)]

pub(crate) mod bucket;
pub(crate) mod bucket_array;
mod check;
mod clone;
pub(crate) mod entry;
mod grow;
pub(crate) mod iter;
mod rand;
pub(crate) mod reclaim;
#[cfg(test)]
mod tests;
pub(crate) mod tophash;

use core::any::Any;
use core::borrow::Borrow;
use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;
use core::mem;
use core::ops::{Deref, DerefMut};
use core::ptr::{self, NonNull};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use self::bucket::{Bucket, SLOTS_PER_BUCKET};
use self::bucket_array::ArrayShape;
use self::tophash::TopHash;
use crate::error::{Fallibility, TryReserveError};
use crate::load_factor::LoadFactor;

pub(crate) use self::rand::rand64;
#[cfg(any(test, fuzzing, feature = "invariants"))]
pub(crate) use self::rand::reseed;

/// The header's flags byte, with Go's bit values. Go: `hmap.flags`.
///
/// GO: `iterator` and `oldIterator` are never set: an iterator borrows the map, so no write can
/// meet it (D1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct Flags(u8);

impl Flags {
    /// A write is in progress. Go: `hashWriting`.
    pub(crate) const WRITING: u8 = 4;
    /// The growth in progress keeps the bucket count. Go: `sameSizeGrow`.
    pub(crate) const SAME_SIZE_GROW: u8 = 8;

    pub(crate) fn bits(self) -> u8 {
        self.0
    }

    fn is_set(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    fn set(&mut self, bit: u8) {
        self.0 |= bit;
    }

    fn clear(&mut self, bit: u8) {
        self.0 &= !bit;
    }
}

/// The map header, laid out field for field like Go's `hmap` so that the offsets match on 64-bit
/// targets (count 0, flags 8, B 9, noverflow 10, hash0 12, buckets 16, oldbuckets 24,
/// nevacuate 32, extra 40; size 48). The hasher lives beside it in [`RawMap`]. Go: `hmap`.
///
/// GO: Go's `extra` points to a `mapextra` whose `overflow`/`oldoverflow` lists only keep
/// overflow buckets alive for the garbage collector; the one field we need, `nextOverflow`, sits
/// directly in its place (D2).
#[repr(C)]
pub(crate) struct Header<K, V> {
    /// Live entries (I1). Go: `count`.
    pub(crate) count: usize,
    /// Go: `flags` (I6).
    pub(crate) flags: Flags,
    /// log2 of the bucket count. Go: `B` (I5).
    pub(crate) log2_buckets: u8,
    /// Overflow buckets of `buckets`, exact below B = 16 and sampled above. Go: `noverflow`.
    pub(crate) overflow_count: u16,
    /// Per-map seed mixed into every hash, renewed when the map becomes empty. Go: `hash0`.
    pub(crate) hash0: u32,
    /// The current array of 2^B buckets plus spares; `None` until the first insert when B = 0.
    /// Go: `buckets`.
    pub(crate) buckets: Option<NonNull<Bucket<K, V>>>,
    /// The previous array, `Some` exactly while growing (I2). Go: `oldbuckets`.
    pub(crate) old_buckets: Option<NonNull<Bucket<K, V>>>,
    /// Every old bucket below this index is evacuated (I3). Go: `nevacuate`.
    pub(crate) evacuation_mark: usize,
    /// The next unused spare overflow bucket of `buckets` (I7). Go: `extra.nextOverflow`.
    pub(crate) spare_overflow: Option<NonNull<Bucket<K, V>>>,
}

/// The sequential map's engine. Go: `hmap` plus the functions of `runtime/map.go`.
///
/// # Invariants
/// - I1: `count` is the number of full slots in the chains of `buckets` plus those in the
///   unevacuated chains of `old_buckets`.
/// - I2: `old_buckets` is `Some` exactly while a growth is in progress; then it has
///   2^(B-1) buckets (doubling) or 2^B (same size, flag `SAME_SIZE_GROW` set).
/// - I3: every old chain with index below `evacuation_mark` is evacuated (and may no longer be
///   read: D6); an old
///   chain is evacuated entirely or not at all (slot 0 of its head says which), except inside
///   `evacuate`.
/// - I4: during a doubling growth, new buckets `j` and `j + old count` are empty until old
///   chain `j` is evacuated; during a same-size growth, new bucket `j` is empty until old chain
///   `j` is.
/// - I5: the slots of a chain that are not `EMPTY_REST` form a prefix of the chain, and the last
///   of them is not `EMPTY_ONE` (Go's tombstone rule, `MapTombstoneCheck`).
/// - I6: `SAME_SIZE_GROW` is set only while growing; `WRITING` only inside a mutation.
/// - I7: `spare_overflow` is `None` or points into the spare region of `buckets`; the spares from
///   it to the end of the region are zeroed and unlinked.
/// - I8: every full slot's key hashes to the chain it is in (given a consistent `Hash`), and its
///   tophash is that hash's tophash.
///
/// Bucket-level invariants B1–B3 are on [`Bucket`].
pub(crate) struct RawMap<K, V, S> {
    pub(crate) header: Header<K, V>,
    pub(crate) hash_builder: S,
    pub(crate) load_factor: LoadFactor,
    /// The map owns its keys and values (drop check).
    marker: PhantomData<(K, V)>,
}

// SAFETY: the map owns its keys and values exclusively (the raw pointers are to memory it
// owns); moving it to another thread moves them, which `K: Send, V: Send` allows.
unsafe impl<K: Send, V: Send, S: Send> Send for RawMap<K, V, S> {}
// SAFETY: `&RawMap` only reads (`get`, iteration hand out `&K`/`&V`), so sharing it needs
// `K: Sync, V: Sync`; no interior mutability is reachable through `&self`.
unsafe impl<K: Sync, V: Sync, S: Sync> Sync for RawMap<K, V, S> {}

/// GO: Go seeds the hash function itself with `hash0`; a generic `BuildHasher` cannot be
/// reseeded, so we mix `hash0` into its output (D5).
///
/// Mixes the per-map seed into a hash: a folded
/// multiply whose low bits depend on every bit of `hash`, so keys that collide in the low bits
/// under one seed do not under the next.
///
/// Built with `--cfg hmap_go_hash` (tests only: `tests/go_parity/trace.rs`), the builder's hash
/// is used as it is, so that a hasher replaying the hashes a real Go map computed places every
/// key where Go placed it.
#[inline(always)]
#[cfg(not(hmap_go_hash))]
fn seeded(hash: u64, hash0: u32) -> u64 {
    let x = hash ^ (u64::from(hash0) << 32 | u64::from(hash0));
    let product = u128::from(x) * 0x9e37_79b9_7f4a_7c15_u128;
    (product as u64) ^ ((product >> 64) as u64)
}

/// The lockstep test's build (see the other `seeded`): no mixing.
#[inline(always)]
#[cfg(hmap_go_hash)]
fn seeded(hash: u64, _hash0: u32) -> u64 {
    hash
}

/// 2^B − 1. Go: `bucketMask`.
#[inline(always)]
fn bucket_mask(log2_buckets: u8) -> usize {
    (1usize << log2_buckets) - 1
}

/// Sets the writing flag for the duration of a mutation and clears it however the mutation ends
/// (a panicking `Hash`/`Eq`/`Drop` included). Go: the `hashWriting` toggles of `mapassign`,
/// `mapdelete` and `mapclear`.
pub(crate) struct Writing<'a, K, V, S>(&'a mut RawMap<K, V, S>);

impl<K, V, S> Drop for Writing<'_, K, V, S> {
    fn drop(&mut self) {
        // INVARIANT: I6, the flag is clear outside mutations.
        self.0.header.flags.clear(Flags::WRITING);
    }
}

impl<K, V, S> Deref for Writing<'_, K, V, S> {
    type Target = RawMap<K, V, S>;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl<K, V, S> DerefMut for Writing<'_, K, V, S> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0
    }
}

/// Where a key lives: a bucket and a slot in it.
pub(crate) type SlotRef<K, V> = (*mut Bucket<K, V>, usize);

/// A live chain: its head, the array it belongs to and that array's B.
type LiveChain<K, V> = (*mut Bucket<K, V>, NonNull<Bucket<K, V>>, u8);

/// Where an absent key would be inserted: the first empty slot of its chain, or a new overflow
/// bucket after the chain's last bucket.
pub(crate) enum Vacancy<K, V> {
    Slot(SlotRef<K, V>),
    AfterLast(*mut Bucket<K, V>),
}

impl<K, V, S> RawMap<K, V, S> {
    /// An empty map with room for `capacity` entries before it grows. Buckets are allocated now
    /// if B > 0, lazily otherwise. Go: `makemap`.
    ///
    /// # Errors
    /// Capacity overflow or allocation failure, as `fallibility` directs.
    pub(crate) fn try_with_capacity(
        capacity: usize,
        hash_builder: S,
        load_factor: LoadFactor,
        fallibility: Fallibility,
    ) -> Result<Self, TryReserveError> {
        // GO: Go treats a hint it cannot satisfy as 0; we report it (D7).
        let log2_buckets = load_factor.log2_buckets_for(capacity);
        let buckets = if log2_buckets > 0 {
            Some(bucket_array::allocate::<K, V>(log2_buckets, fallibility)?)
        } else {
            None
        };
        let mut map = Self {
            header: Header {
                count: 0,
                flags: Flags::default(),
                log2_buckets,
                overflow_count: 0,
                hash0: rand64() as u32,
                buckets,
                old_buckets: None,
                evacuation_mark: 0,
                spare_overflow: None,
            },
            hash_builder,
            load_factor,
            marker: PhantomData,
        };
        map.header.spare_overflow = map.first_spare();
        Ok(map)
    }

    /// Live entries.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.header.count
    }

    /// Whether a growth is in progress. Go: `growing()`.
    #[inline]
    pub(crate) fn is_growing(&self) -> bool {
        self.header.old_buckets.is_some()
    }

    /// Whether the growth in progress keeps the bucket count. Go: `isSameSizeGrow`.
    #[inline]
    pub(crate) fn is_same_size_grow(&self) -> bool {
        self.header.flags.is_set(Flags::SAME_SIZE_GROW)
    }

    /// Buckets in the old array (meaningful while growing). Go: `noldbuckets`.
    #[inline]
    pub(crate) fn old_bucket_count(&self) -> usize {
        1usize << self.old_log2_buckets()
    }

    /// B of the old array (meaningful while growing).
    #[inline]
    pub(crate) fn old_log2_buckets(&self) -> u8 {
        if self.is_same_size_grow() {
            self.header.log2_buckets
        } else {
            self.header.log2_buckets - 1
        }
    }

    /// Entries that fit before the next doubling: 8 for B = 0, else num·2^B/den.
    pub(crate) fn capacity(&self) -> usize {
        let log2 = self.header.log2_buckets;
        if log2 == 0 {
            SLOTS_PER_BUCKET
        } else {
            (1usize << (log2 - 1)).saturating_mul(self.load_factor.num())
        }
    }

    /// The first spare overflow bucket of the current array, if it has any.
    fn first_spare(&self) -> Option<NonNull<Bucket<K, V>>> {
        let buckets = self.header.buckets?;
        let shape = ArrayShape::of_allocated::<K, V>(self.header.log2_buckets);
        // SAFETY: `shape.buckets <= shape.total`, so the offset stays inside (or one past) the
        // allocation.
        (shape.total > shape.buckets).then(|| unsafe { buckets.add(shape.buckets) })
    }

    /// Whether old chain `old_index` is evacuated; reads the head only at or above the mark
    /// (I3: below it the mark answers, with a compare instead of a memory read; D6).
    /// Go: `evacuated(oldbucket)`.
    #[inline(always)]
    pub(crate) fn is_old_evacuated(&self, old: NonNull<Bucket<K, V>>, old_index: usize) -> bool {
        // GO: Go always reads the head's slot 0; we let the mark answer first (D6).
        // SAFETY: an index at or above the mark is a live head of the old array (I2, I3).
        old_index < self.header.evacuation_mark
            || unsafe { Bucket::is_evacuated(old.as_ptr().add(old_index)) }
    }

    /// The chain a read of `hash` must search: the new bucket, or the old one if its chain has
    /// not been evacuated yet (I4 says the new one is then empty). Go: `mapaccess1` steps 3–4.
    #[inline(always)]
    fn chain_for_read(&self, buckets: NonNull<Bucket<K, V>>, hash: u64) -> *mut Bucket<K, V> {
        let index = hash as usize & bucket_mask(self.header.log2_buckets);
        if let Some(old) = self.header.old_buckets {
            let old_index = index & (self.old_bucket_count() - 1);
            if !self.is_old_evacuated(old, old_index) {
                // SAFETY: in bounds of the old array (I2).
                return unsafe { old.as_ptr().add(old_index) };
            }
        }
        // SAFETY: index ≤ mask, in bounds of the current array.
        unsafe { buckets.as_ptr().add(index) }
    }

    /// Starts a mutation: sets the writing flag until the guard drops.
    #[inline]
    pub(crate) fn writing(&mut self) -> Writing<'_, K, V, S> {
        debug_assert!(
            !self.header.flags.is_set(Flags::WRITING),
            "concurrent map writes: the writing flag was already set"
        );
        self.header.flags.set(Flags::WRITING);
        Writing(self)
    }

    /// Takes a spare overflow bucket of the current array, or allocates one, and links it after
    /// `last`. Go: `newoverflow`.
    ///
    /// # Safety
    /// `last` is the last bucket of a chain of the current array.
    unsafe fn new_overflow(&mut self, last: *mut Bucket<K, V>) -> *mut Bucket<K, V> {
        let bucket = match self.header.spare_overflow {
            Some(spare) => {
                let buckets = self
                    .header
                    .buckets
                    .expect("spares exist only with an array");
                let shape = ArrayShape::of_allocated::<K, V>(self.header.log2_buckets);
                // SAFETY: I7: the spare is inside the spare region, so one past it is at most the
                // end of the allocation.
                let next = unsafe { spare.add(1) };
                // SAFETY: `total` is the allocation's length.
                let end = unsafe { buckets.add(shape.total) };
                // INVARIANT: I7, the cursor stays inside the region or becomes None.
                self.header.spare_overflow = (next < end).then_some(next);
                spare.as_ptr()
            }
            None => bucket_array::allocate_overflow::<K, V>(),
        };
        self.increment_overflow_count();
        // SAFETY: `last` is a live bucket (caller); `bucket` is zeroed and unlinked (I7 or fresh).
        unsafe { Bucket::set_overflow(last, bucket) };
        bucket
    }

    /// Go: `incrnoverflow`: exact below B = 16, then incremented with probability 1/2^(B−15) so
    /// that a `u16` can still stand for about 2^B buckets.
    fn increment_overflow_count(&mut self) {
        let log2 = self.header.log2_buckets;
        if log2 < 16 {
            // GO: Go's counter wraps; ours saturates (D8).
            self.header.overflow_count = self.header.overflow_count.saturating_add(1);
        } else {
            let mask = (1u64 << (log2 - 15).min(63)) - 1;
            if rand64() & mask == 0 {
                self.header.overflow_count = self.header.overflow_count.saturating_add(1);
            }
        }
    }

    /// Whether the overflow buckets are about as many as the buckets. Go: `tooManyOverflowBuckets`.
    fn too_many_overflow_buckets(&self) -> bool {
        let log2 = self.header.log2_buckets.min(15);
        usize::from(self.header.overflow_count) >= 1usize << log2
    }

    /// Removes the entry in `slot` of `bucket`, a bucket of the chain headed by `head`, and
    /// returns it. Keeps I5 (turns trailing `EMPTY_ONE`s into `EMPTY_REST`) and renews `hash0`
    /// when the map becomes empty. Go: `mapdelete` from the hit onward.
    ///
    /// # Safety
    /// `head` is a live chain of this map, `bucket` is in it and `slot` is full.
    pub(crate) unsafe fn remove_slot(
        &mut self,
        head: *mut Bucket<K, V>,
        bucket: *mut Bucket<K, V>,
        slot: usize,
    ) -> (K, V) {
        // SAFETY: full slot (caller), so key and value are initialized (B1); they are moved
        // out and the slot marked empty below, so they are read exactly once.
        let entry = unsafe {
            (
                ptr::read(Bucket::key(bucket, slot)),
                ptr::read(Bucket::value(bucket, slot)),
            )
        };
        // SAFETY: the chain is live and `slot` in bounds (caller); every bucket named below is
        // reached through the chain's links.
        unsafe {
            // INVARIANT: B1, the moved-out slot is no longer full.
            Bucket::set_tophash(bucket, slot, TopHash::EMPTY_ONE);
            // GO: Go zeroes the key and value here (issue 25936); our slots hold no value until
            // the next insert writes one, so there is nothing to zero (D9).
            let is_last = if slot == SLOTS_PER_BUCKET - 1 {
                let next = Bucket::overflow(bucket);
                next.is_null() || Bucket::tophash(next, 0) == TopHash::EMPTY_REST
            } else {
                Bucket::tophash(bucket, slot + 1) == TopHash::EMPTY_REST
            };
            if is_last {
                // INVARIANT: I5, walk back turning the trailing EMPTY_ONEs into EMPTY_REST.
                let (mut b, mut i) = (bucket, slot);
                loop {
                    Bucket::set_tophash(b, i, TopHash::EMPTY_REST);
                    if i == 0 {
                        if b == head {
                            break;
                        }
                        let mut previous = head;
                        while Bucket::overflow(previous) != b {
                            previous = Bucket::overflow(previous);
                        }
                        b = previous;
                        i = SLOTS_PER_BUCKET - 1;
                    } else {
                        i -= 1;
                    }
                    if Bucket::tophash(b, i) != TopHash::EMPTY_ONE {
                        break;
                    }
                }
            }
        }
        self.header.count -= 1;
        if self.header.count == 0 {
            // Go: reseed when empty (issue 25237), so an attacker who found colliding keys must
            // start over.
            self.header.hash0 = rand64() as u32;
        }
        entry
    }

    /// Visits the head of every live chain: all 2^B of the current array, then the unevacuated
    /// ones of the old array. `f` gets the head, the array it belongs to and that array's B.
    fn for_each_chain(&self, mut f: impl FnMut(LiveChain<K, V>)) {
        for n in 0..self.chain_positions() {
            if let Some(chain) = self.live_chain(n) {
                f(chain);
            }
        }
    }

    /// How many chain positions [`RawMap::live_chain`] numbers: 2^B new ones, then the old ones.
    fn chain_positions(&self) -> usize {
        match self.header.buckets {
            None => 0,
            Some(_) if self.is_growing() => {
                (1usize << self.header.log2_buckets) + self.old_bucket_count()
            }
            Some(_) => 1usize << self.header.log2_buckets,
        }
    }

    /// Chain position `n`: new chain `n` while `n < 2^B`, then old chain `n − 2^B` if it is not
    /// evacuated yet (`None` otherwise): its head, the array it lives in and that array's B.
    fn live_chain(&self, n: usize) -> Option<LiveChain<K, V>> {
        let buckets = self.header.buckets?;
        let log2 = self.header.log2_buckets;
        let new_count = 1usize << log2;
        if n < new_count {
            // SAFETY: n < 2^B, in bounds of the current array.
            return Some((unsafe { buckets.as_ptr().add(n) }, buckets, log2));
        }
        let old = self.header.old_buckets?;
        let old_index = n - new_count;
        if self.is_old_evacuated(old, old_index) {
            return None;
        }
        // SAFETY: an unevacuated old index is below the old count (callers stay below
        // `chain_positions`), in bounds of the old array.
        Some((
            unsafe { old.as_ptr().add(old_index) },
            old,
            self.old_log2_buckets(),
        ))
    }

    /// Drops every entry, marking each slot empty before its drop runs, so that a panicking
    /// `Drop` never leads to a second drop of the same entry. A panicking `Drop` of a key or
    /// value does not stop it (nor the drop of the other half of that entry): like a `Vec`, it
    /// drops everything, and returns the first panic's payload for the caller to resume once the
    /// structure is restored (later ones are discarded). Until session 23 the first panic ended
    /// it and every entry after it leaked, as in hashbrown.
    #[must_use = "a panic of a `Drop` must be resumed"]
    fn drop_entries(&mut self) -> Option<Box<dyn Any + Send>> {
        if !mem::needs_drop::<K>() && !mem::needs_drop::<V>() {
            return None;
        }
        let mut panic = None;
        let mut keep_first = |outcome: std::thread::Result<()>| {
            if let Err(payload) = outcome {
                panic.get_or_insert(payload);
            }
        };
        self.for_each_chain(|(head, _, _)| {
            let mut b = head;
            while !b.is_null() {
                for slot in 0..SLOTS_PER_BUCKET {
                    // SAFETY: `b` is a live bucket of a live chain, `slot` in bounds.
                    unsafe {
                        if Bucket::tophash(b, slot).is_full() {
                            // INVARIANT: B1, the slot stops being full before its contents drop.
                            Bucket::set_tophash(b, slot, TopHash::EMPTY_ONE);
                            let key = Bucket::key(b, slot);
                            let value = Bucket::value(b, slot);
                            // SAFETY: the slot was full (B1), so both halves are initialized;
                            // each is dropped here once, its slot already marked empty.
                            // UNWIND: a panic is caught and kept; the other half and the other
                            // entries are still dropped.
                            keep_first(catch_unwind(AssertUnwindSafe(|| ptr::drop_in_place(key))));
                            keep_first(catch_unwind(AssertUnwindSafe(|| {
                                ptr::drop_in_place(value);
                            })));
                        }
                    }
                }
                // SAFETY: live bucket.
                b = unsafe { Bucket::overflow(b) };
            }
        });
        panic
    }

    /// Resumes the panic [`drop_entries`](Self::drop_entries) kept, if any, unless this thread
    /// is already unwinding (a second panic out of a destructor would abort the process).
    fn resume_drop_panic(panic: Option<Box<dyn Any + Send>>) {
        if let Some(payload) = panic {
            if !std::thread::panicking() {
                resume_unwind(payload);
            }
        }
    }

    /// Frees every separately allocated overflow bucket of every live chain (spares stay with
    /// their array), without touching entries.
    fn free_overflow_buckets(&mut self) {
        self.for_each_chain(|(head, array, log2)| {
            // SAFETY: live chain head.
            let mut b = unsafe { Bucket::overflow(head) };
            while !b.is_null() {
                // SAFETY: live bucket; read the link before the bucket may be freed.
                let next = unsafe { Bucket::overflow(b) };
                if !bucket_array::is_spare(array, log2, b) {
                    // SAFETY: not a spare, so it came from `allocate_overflow` (B3), and it is
                    // reachable only through this chain, which is being dismantled.
                    unsafe { bucket_array::free_overflow(b) };
                }
                b = next;
            }
        });
    }

    /// Empties the map but keeps B and the current array: drops every entry, ends any growth,
    /// zeroes the array, renews `hash0`. Go: `mapclear` (without its `count == 0` shortcut, which
    /// is [`RawMap::clear`]'s).
    pub(crate) fn reset(&mut self) {
        self.writing().reset_inner();
    }

    /// [`RawMap::reset`] inside a mutation that already holds the writing flag.
    fn reset_inner(&mut self) {
        // `drop_entries` catches the panics of `Drop`s: the structure is restored before one is
        // resumed.
        let panic = self.drop_entries();
        self.free_overflow_buckets();
        if let Some(old) = self.header.old_buckets.take() {
            // SAFETY: every entry was dropped and every overflow bucket freed; the array came
            // from `allocate` with this B and is unlinked now.
            unsafe { bucket_array::retire(old, self.old_log2_buckets()) };
        }
        let header = &mut self.header;
        if let Some(buckets) = header.buckets {
            // SAFETY: same reasoning; zeroing makes it a valid empty array (B2).
            unsafe { bucket_array::zero(buckets, header.log2_buckets) };
        }
        // INVARIANT: I1–I7 hold for an empty, non-growing map.
        header.flags.clear(Flags::SAME_SIZE_GROW);
        header.count = 0;
        header.overflow_count = 0;
        header.evacuation_mark = 0;
        header.hash0 = rand64() as u32;
        self.header.spare_overflow = self.first_spare();
        Self::resume_drop_panic(panic);
    }

    /// Go: `mapclear`: nothing to do for an empty map (no reseed either), else [`RawMap::reset`].
    pub(crate) fn clear(&mut self) {
        if self.header.count == 0 {
            return;
        }
        self.reset();
    }

    /// Removes every entry for which `keep` returns false, in storage order. Each removal is a
    /// complete `remove_slot`, so a panic in `keep` or in a `Drop` leaves a consistent map.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        // Removals never evacuate or unlink, so the live chains stay the same during the walk.
        // GO: Go's range loop that deletes does growth work at each delete; this does none (D18).
        for n in 0..self.chain_positions() {
            let Some((head, _, _)) = self.live_chain(n) else {
                continue;
            };
            let mut b = head;
            while !b.is_null() {
                for slot in 0..SLOTS_PER_BUCKET {
                    // SAFETY: `b` is a live bucket of a live chain; removals only rewrite tophash
                    // bytes at or before the removed slot and never unlink buckets, so the walk
                    // stays valid.
                    unsafe {
                        if !Bucket::tophash(b, slot).is_full() {
                            continue;
                        }
                        // UNWIND: `keep` panicking leaves the map untouched for this entry.
                        if !keep(&*Bucket::key(b, slot), &mut *Bucket::value(b, slot)) {
                            let entry = {
                                let mut map = self.writing();
                                map.remove_slot(head, b, slot)
                            };
                            // UNWIND: dropped after the removal is complete.
                            drop(entry);
                        }
                    }
                }
                // SAFETY: live bucket.
                b = unsafe { Bucket::overflow(b) };
            }
        }
    }

    /// A snapshot of the header as plain numbers and addresses.
    pub(crate) fn header_snapshot(&self) -> crate::HeaderSnapshot {
        let h = &self.header;
        crate::HeaderSnapshot {
            count: h.count,
            flags: h.flags.bits(),
            log2_buckets: h.log2_buckets,
            overflow_count: h.overflow_count,
            hash0: h.hash0,
            buckets: h.buckets.map_or(0, |p| p.as_ptr() as usize),
            old_buckets: h.old_buckets.map_or(0, |p| p.as_ptr() as usize),
            evacuation_mark: h.evacuation_mark,
            extra: h.spare_overflow.map_or(0, |p| p.as_ptr() as usize),
        }
    }
}

impl<K, V, S: BuildHasher> RawMap<K, V, S> {
    /// The seeded hash of `key`: the builder's hash mixed with `hash0`.
    #[inline(always)]
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        seeded(self.hash_builder.hash_one(key), self.header.hash0)
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> RawMap<K, V, S> {
    /// The slot holding `key`, if any. Reads only. Go: `mapaccess2`/`mapaccessK`.
    #[inline]
    pub(crate) fn find<Q>(&self, hash: u64, key: &Q) -> Option<SlotRef<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let buckets = self.header.buckets?;
        let top = TopHash::from_hash(hash);
        let mut b = self.chain_for_read(buckets, hash);
        Bucket::prefetch(b);
        loop {
            // SAFETY: `b` is a live bucket of the chain (B3); matching slots are full, so their
            // keys are initialized (B1).
            unsafe {
                let word = Bucket::tophash_word(b);
                for slot in word.matching(top) {
                    // UNWIND: a panicking Eq leaves the map untouched.
                    if key == (*Bucket::key(b, slot)).borrow() {
                        return Some((b, slot));
                    }
                }
                if word.has_empty_rest() {
                    return None;
                }
                b = Bucket::overflow(b);
            }
            if b.is_null() {
                return None;
            }
        }
    }

    /// The first steps of every write: allocate the first bucket if needed, and move the growth
    /// along (evacuating the old chain of the key's bucket, then one at the mark). Afterwards the
    /// key's chain is in the current array. Go: `mapassign` steps 4–5, `mapdelete` step 3.
    #[inline]
    pub(crate) fn prepare_write(&mut self, hash: u64) {
        if self.header.buckets.is_none() {
            let buckets =
                bucket_array::allocate::<K, V>(self.header.log2_buckets, Fallibility::Infallible)
                    .expect("an infallible allocation panics or aborts instead of failing");
            self.header.buckets = Some(buckets);
            self.header.spare_overflow = self.first_spare();
        }
        if self.is_growing() {
            // UNWIND: a panicking Hash inside evacuate leaves that chain unevacuated (grow.rs).
            self.grow_work(hash as usize & bucket_mask(self.header.log2_buckets));
        }
    }

    /// After [`RawMap::prepare_write`]: the slot holding `key`, or where it would be inserted,
    /// found in one pass over the key's chain in the current array. Go: `mapassign` step 6
    /// (remembering the first empty slot while looking for the key).
    #[inline]
    pub(crate) fn find_for_write(
        &self,
        hash: u64,
        key: &K,
    ) -> Result<SlotRef<K, V>, Vacancy<K, V>> {
        let top = TopHash::from_hash(hash);
        let mut b = self.current_head(hash);
        Bucket::prefetch(b);
        let mut vacancy = None;
        loop {
            // SAFETY: `b` is a live bucket of the key's chain (B3); matching slots are full, so
            // their keys are initialized (B1).
            unsafe {
                let word = Bucket::tophash_word(b);
                for slot in word.matching(top) {
                    // UNWIND: a panicking Eq leaves the map untouched (growth work is complete).
                    if *key == *Bucket::key(b, slot) {
                        return Ok((b, slot));
                    }
                }
                if vacancy.is_none() {
                    vacancy = word.empty().lowest().map(|slot| (b, slot));
                }
                // An EMPTY_REST slot ends the chain's live prefix (I5), and is itself empty, so
                // `vacancy` is set whenever this breaks.
                if word.has_empty_rest() {
                    break;
                }
                let next = Bucket::overflow(b);
                if next.is_null() {
                    break;
                }
                b = next;
            }
        }
        Err(match vacancy {
            Some(slot) => Vacancy::Slot(slot),
            None => Vacancy::AfterLast(b),
        })
    }

    /// Inserts a key that [`RawMap::find_for_write`] did not find, at the place it reported;
    /// starts a growth first if the map is full (the place is then stale and found again).
    /// Returns the new entry's slot. Go: `mapassign` steps 7–9.
    #[inline]
    pub(crate) fn insert_vacant(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        vacancy: Vacancy<K, V>,
    ) -> SlotRef<K, V> {
        let log2 = self.header.log2_buckets;
        let vacancy = if !self.is_growing()
            && (self.load_factor.is_exceeded(self.header.count + 1, log2)
                || self.too_many_overflow_buckets())
        {
            self.hash_grow();
            self.grow_work(hash as usize & bucket_mask(self.header.log2_buckets));
            match self.find_for_write(hash, &key) {
                Err(vacancy) => vacancy,
                // A growth moves keys but never adds one, so only a key type whose `Eq` (or
                // `Hash`) changes its answers gets here: a logic error (lib.rs), named as such.
                // UNWIND: the growth has started and is consistent; `key` and `value` drop.
                Ok(_) => panic!(
                    "hmap: a key absent before a growth matched an entry after it: the key \
                     type's `Eq` or `Hash` gives inconsistent answers"
                ),
            }
        } else {
            vacancy
        };
        let (bucket, slot) = match vacancy {
            Vacancy::Slot(slot) => slot,
            // SAFETY: `last` ends the key's chain in the current array (find_for_write).
            Vacancy::AfterLast(last) => (unsafe { self.new_overflow(last) }, 0),
        };
        // SAFETY: the slot is empty and in the key's chain of the current array (I4: after
        // grow_work it is the key's only chain), so writing it initializes it (B1).
        unsafe {
            Bucket::key(bucket, slot).write(key);
            Bucket::value(bucket, slot).write(value);
            // INVARIANT: B1 (initialized before marked full), I5 (the first empty slot of the
            // chain is filled, so the non-EMPTY_REST prefix grows by at most this slot), I8.
            Bucket::set_tophash(bucket, slot, TopHash::from_hash(hash));
        }
        self.header.count += 1;
        (bucket, slot)
    }

    /// Inserts or replaces. Go: `mapassign`.
    #[inline]
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.insert_or_replace(key, value).map(|(key, old)| {
            // UNWIND: the unused key is dropped while `old` is a local, so a panicking
            // `K::drop` drops `old` on the way out instead of leaking it (rust#47949).
            drop(key);
            old
        })
    }

    /// Inserts or replaces; a replace hands back the unused `key` with the old value instead
    /// of dropping it, so that a caller holding a lock can drop both after releasing it.
    #[inline]
    pub(crate) fn insert_or_replace(&mut self, key: K, value: V) -> Option<(K, V)> {
        // UNWIND: hashing happens before anything changes.
        let hash = self.hash(&key);
        let mut map = self.writing();
        map.prepare_write(hash);
        match map.find_for_write(hash, &key) {
            Ok((bucket, slot)) => {
                // GO: Go overwrites the stored key for float/string keys (NeedKeyUpdate); std
                // keeps it, and so do we (D12).
                // SAFETY: a found slot is full (B1).
                let old = mem::replace(unsafe { &mut *Bucket::value(bucket, slot) }, value);
                Some((key, old))
            }
            Err(vacancy) => {
                map.insert_vacant(hash, key, value, vacancy);
                None
            }
        }
    }

    /// Removes `key`. Go: `mapdelete`.
    #[inline]
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.header.count == 0 {
            return None;
        }
        let hash = self.hash(key);
        let mut map = self.writing();
        map.prepare_write(hash);
        let (bucket, slot) = map.find(hash, key)?;
        let head = map.current_head(hash);
        // SAFETY: after prepare_write the key's chain is `head` in the current array, and
        // `find` returned a full slot of it.
        Some(unsafe { map.remove_slot(head, bucket, slot) })
    }

    /// The head of `hash`'s chain in the current array.
    #[inline]
    pub(crate) fn current_head(&self, hash: u64) -> *mut Bucket<K, V> {
        let buckets = self
            .header
            .buckets
            .expect("a map with entries has an array");
        // SAFETY: index ≤ mask, in bounds.
        unsafe {
            buckets
                .as_ptr()
                .add(hash as usize & bucket_mask(self.header.log2_buckets))
        }
    }

    /// Makes room for `additional` more entries without a doubling in between. GO: no Go
    /// counterpart (D13).
    ///
    /// Does nothing if the load factor already allows `len + additional` at the current B (a
    /// growth in progress then goes on incrementally). Otherwise finishes any growth in
    /// progress, then doubles (evacuating everything at once) until it does. A same-size growth
    /// can still start later: it depends on the overflow count, not on `len`. Go has no
    /// counterpart: this is the one place where the map deliberately stops the world, because
    /// the caller asked for it.
    ///
    /// # Errors
    /// Capacity overflow or allocation failure, as `fallibility` directs.
    pub(crate) fn reserve(
        &mut self,
        additional: usize,
        fallibility: Fallibility,
    ) -> Result<(), TryReserveError> {
        let Some(target) = self.header.count.checked_add(additional) else {
            return Err(fallibility.capacity_overflow());
        };
        let target_log2 = self.load_factor.log2_buckets_for(target);
        if target_log2 <= self.header.log2_buckets {
            return Ok(());
        }
        // Check the final size before any work, so a doomed reserve changes nothing.
        if ArrayShape::new::<K, V>(target_log2)
            .is_none_or(|s| s.layout.size() > isize::MAX as usize)
        {
            return Err(fallibility.capacity_overflow());
        }
        let mut map = self.writing();
        if map.header.count == 0 {
            let buckets = bucket_array::allocate::<K, V>(target_log2, fallibility)?;
            map.reset_inner();
            if let Some(old) = map.header.buckets.replace(buckets) {
                // SAFETY: the map is empty and reset: no entries, no overflow buckets.
                unsafe { bucket_array::retire(old, map.header.log2_buckets) };
            }
            map.header.log2_buckets = target_log2;
            map.header.spare_overflow = map.first_spare();
            return Ok(());
        }
        // Every array the doublings need is allocated before the first is used, so that a
        // refused allocation leaves the map as it was (`try_reserve`'s promise; until session
        // 29 the map kept the doublings that had fit, found by a black-box test). Large arrays
        // are lazily zeroed mappings, so the ones allocated ahead cost address space, not memory,
        // until their doubling fills them.
        let mut ahead = ArraysAhead(Vec::with_capacity(usize::from(
            target_log2 - map.header.log2_buckets,
        )));
        // Largest first, so that `pop` hands them out smallest first.
        for log2 in (map.header.log2_buckets + 1..=target_log2).rev() {
            // A refusal drops `ahead`, which frees what was allocated.
            ahead
                .0
                .push((bucket_array::allocate::<K, V>(log2, fallibility)?, log2));
        }
        map.finish_growth();
        while let Some((array, _)) = ahead.0.pop() {
            map.start_growth_into(array, true);
            map.finish_growth();
        }
        Ok(())
    }
}

/// Bucket arrays that `reserve` allocated ahead and has not used yet, with their B: freed if
/// a later allocation is refused, or if a user `Hash` panics during one of the doublings.
struct ArraysAhead<K, V>(Vec<(NonNull<Bucket<K, V>>, u8)>);

impl<K, V> Drop for ArraysAhead<K, V> {
    fn drop(&mut self) {
        for (array, log2) in self.0.drain(..) {
            // SAFETY: allocated by `reserve` with this B and never used (a used array is popped
            // first).
            unsafe { bucket_array::free(array, log2) };
        }
    }
}

impl<K, V, S> Drop for RawMap<K, V, S> {
    fn drop(&mut self) {
        // `drop_entries` catches the panics of `Drop`s: the memory is freed before one is
        // resumed.
        let panic = self.drop_entries();
        self.free_overflow_buckets();
        if let Some(old) = self.header.old_buckets.take() {
            // SAFETY: entries dropped, overflow freed; unreachable afterwards.
            unsafe { bucket_array::retire(old, self.old_log2_buckets()) };
        }
        if let Some(buckets) = self.header.buckets.take() {
            // SAFETY: same.
            unsafe { bucket_array::retire(buckets, self.header.log2_buckets) };
        }
        Self::resume_drop_panic(panic);
    }
}
