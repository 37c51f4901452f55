//! One bucket (Go: `bmap`): eight tophash bytes, then the eight keys, then the eight values,
//! then the overflow link.
//!
//! All accessors take raw pointers: buckets live in bucket arrays and overflow allocations that
//! are shared by the iterator, the chain walkers and the evacuator, and never have a unique
//! owner a `&mut` could name. See the `# Invariants` of [`Bucket`].

use core::mem::MaybeUninit;
use core::ptr::{self, addr_of, addr_of_mut};

use super::tophash::{TopHash, TopHashWord};

/// Key/value slots per bucket. Go: `bucketCnt`.
pub const SLOTS_PER_BUCKET: usize = 8;

/// A bucket of eight slots. Go: `bmap`, with the compiler-generated fields made real: keys
/// stored together, then values, so no per-pair padding (Go's layout; for `u64`/`u64` the size is
/// Go's 144 bytes).
///
/// # Invariants
/// - B1: slot `i`'s key and value are initialized exactly when `tophash[i]` is full
///   ([`TopHash::is_full`]). Markers and empty values mean "uninitialized".
/// - B2: all-zero bytes are a valid empty bucket (every slot `EMPTY_REST`, no overflow), so a
///   bucket array is made valid by zeroing it.
/// - B3: `overflow` is null or points to a live bucket of the same chain (a spare of the array
///   the chain belongs to, or a separate allocation of one `Bucket`, see `bucket_array`).
///
/// GO: Go stores keys or values larger than 128 bytes behind a pointer (`indirectkey`); we store
/// every key and value inline, since a Rust move is a copy anyway (D3).
#[repr(C)]
pub(crate) struct Bucket<K, V> {
    tophash: [TopHash; SLOTS_PER_BUCKET],
    keys: [MaybeUninit<K>; SLOTS_PER_BUCKET],
    values: [MaybeUninit<V>; SLOTS_PER_BUCKET],
    overflow: *mut Bucket<K, V>,
}

impl<K, V> Bucket<K, V> {
    /// The tophash of slot `slot`.
    ///
    /// # Safety
    /// - `bucket` points to a live bucket (B3 or an index inside an allocated array);
    /// - `slot < SLOTS_PER_BUCKET`.
    #[inline(always)]
    pub(crate) unsafe fn tophash(bucket: *const Self, slot: usize) -> TopHash {
        debug_assert!(slot < SLOTS_PER_BUCKET);
        // SAFETY: the caller guarantees a live bucket and an in-bounds slot; TopHash is a u8, so
        // every bit pattern (zeroed memory included, B2) is valid.
        unsafe { *addr_of!((*bucket).tophash).cast::<TopHash>().add(slot) }
    }

    /// Sets the tophash of slot `slot`.
    ///
    /// # Safety
    /// As [`Bucket::tophash`]; the caller also upholds B1 for the new value.
    #[inline(always)]
    pub(crate) unsafe fn set_tophash(bucket: *mut Self, slot: usize, top: TopHash) {
        debug_assert!(slot < SLOTS_PER_BUCKET);
        // SAFETY: live bucket and in-bounds slot by the caller's contract.
        unsafe { *addr_of_mut!((*bucket).tophash).cast::<TopHash>().add(slot) = top }
    }

    /// The bucket's eight tophash bytes as one word.
    ///
    /// # Safety
    /// `bucket` points to a live bucket.
    #[inline(always)]
    pub(crate) unsafe fn tophash_word(bucket: *const Self) -> TopHashWord {
        // SAFETY: live bucket by the caller's contract; the array is plain bytes.
        TopHashWord::new(unsafe { ptr::read(addr_of!((*bucket).tophash)) })
    }

    /// A pointer to slot `slot`'s key (initialized only if the slot is full, B1).
    ///
    /// # Safety
    /// As [`Bucket::tophash`].
    #[inline(always)]
    pub(crate) unsafe fn key(bucket: *mut Self, slot: usize) -> *mut K {
        debug_assert!(slot < SLOTS_PER_BUCKET);
        // SAFETY: in-bounds projection of a live bucket by the caller's contract.
        unsafe { addr_of_mut!((*bucket).keys).cast::<K>().add(slot) }
    }

    /// A pointer to slot `slot`'s value (initialized only if the slot is full, B1).
    ///
    /// # Safety
    /// As [`Bucket::tophash`].
    #[inline(always)]
    pub(crate) unsafe fn value(bucket: *mut Self, slot: usize) -> *mut V {
        debug_assert!(slot < SLOTS_PER_BUCKET);
        // SAFETY: in-bounds projection of a live bucket by the caller's contract.
        unsafe { addr_of_mut!((*bucket).values).cast::<V>().add(slot) }
    }

    /// The next bucket of the chain, or null.
    ///
    /// # Safety
    /// `bucket` points to a live bucket.
    #[inline(always)]
    pub(crate) unsafe fn overflow(bucket: *const Self) -> *mut Self {
        // SAFETY: live bucket by the caller's contract.
        unsafe { *addr_of!((*bucket).overflow) }
    }

    /// Links `next` after `bucket`.
    ///
    /// # Safety
    /// `bucket` points to a live bucket; `next` is null or satisfies B3 for this chain.
    #[inline(always)]
    pub(crate) unsafe fn set_overflow(bucket: *mut Self, next: *mut Self) {
        // SAFETY: live bucket by the caller's contract.
        unsafe { *addr_of_mut!((*bucket).overflow) = next }
    }

    /// GO: a hint Go does not give (D16).
    ///
    /// Asks the CPU to start loading the bucket's later cache lines (its values and overflow
    /// link) while the first line (tophash and the first keys) is being read, so that a lookup
    /// that hits pays for one memory latency instead of two. A hint only: no memory is accessed.
    #[inline(always)]
    pub(crate) fn prefetch(bucket: *const Self) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let bytes = bucket.cast::<i8>();
            let mut offset = 64;
            while offset < size_of::<Self>() {
                #[allow(
                    unused_unsafe,
                    reason = "the intrinsic is safe on newer toolchains only"
                )]
                // SAFETY: a prefetch never faults and never reads memory architecturally;
                // `wrapping_add` keeps the address computation free of UB even past the bucket.
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(bytes.wrapping_add(offset));
                }
                offset += 64;
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        let _ = bucket;
    }

    /// Whether this old bucket's chain has been evacuated, read from slot 0 of the head: an
    /// evacuation marks every slot of the chain, so slot 0 speaks for all of it. Go: `evacuated(b)`.
    ///
    /// # Safety
    /// `bucket` points to a live head bucket of the old array.
    #[inline(always)]
    pub(crate) unsafe fn is_evacuated(bucket: *const Self) -> bool {
        // SAFETY: forwarded contract; slot 0 is in bounds.
        unsafe { Self::tophash(bucket, 0) }.is_evacuation_marker()
    }
}
