//! A bucket of the concurrent map (Go: `bmap`) and the entries its slots point to.
//!
//! The shape is the sequential mirror's: eight slots, a tophash byte per slot with Go's markers,
//! an overflow link. What changes is that every field is an atomic, so a reader can scan a bucket
//! while a writer changes it, and that a slot holds a pointer to an immutable [`Entry`] instead of
//! the key and value themselves: a reader that loads the pointer sees a whole entry or none, never
//! half of one (no torn reads), and the entry stays valid while the reader is pinned.
//!
//! The head bucket of each chain also carries the chain's state, in the two low bits of its
//! overflow link (buckets are 8-aligned, so a pointer's low bits are free): Go's `hashWriting`
//! flag, per chain instead of per map ([`WRITING`]), and the chain's evacuation mark
//! ([`EVACUATED`]). One word for both keeps a bucket at 80 bytes (8 tophash bytes, the link,
//! 8 entry pointers).
//!
//! # Invariants
//! - **B1** A slot's entry pointer in a live chain, with its low three bits (the [`SplitHint`])
//!   masked off, is null or points to a live [`Entry`] allocated in the map's pool that no one
//!   has retired while the slot still points to it. (An evacuated, frozen chain (B4) keeps
//!   pointers to entries retired later; reading them is safe for a pinned reader, R1.)
//! - **B2** Tophash and entry pointers of a chain change only while its head bucket's `WRITING`
//!   bit is held, except in a new table's bucket being filled by the evacuation of its one
//!   source chain (see `evacuate.rs`, E2), which no one else writes or reads until that source is
//!   marked evacuated.
//! - **B3** Slot `i` is full (tophash ≥ `MIN_TOP_HASH`) only if its entry pointer is non-null and
//!   the tophash is that entry's. Empty markers keep Go's `emptyRest` rule: the non-`EMPTY_REST`
//!   slots of a chain form a prefix (used by writers only; readers never stop at `EMPTY_REST`,
//!   they follow the overflow link).
//! - **B4** Once a head bucket is `EVACUATED` its chain is frozen: nothing in it changes again
//!   (the evacuation copied the pointers, it did not clear them), so a reader that started on it
//!   keeps reading a consistent, if aging, chain.
//! - **B5** All-zero bytes are a valid empty bucket (null pointers, `EMPTY_REST` tophash, state
//!   0), so arrays can come from zeroed memory.
//! - **B6** The overflow link changes (from null to a bucket, once) only while the chain is held
//!   or, in a destination chain, by its evacuator (B2); its state bits change only through the
//!   chain lock. Every store to the link keeps the other part: the state bits when linking, the
//!   pointer when locking or unlocking.
//! - **B7** A slot's split hint is [`SplitHint::UNKNOWN`] or agrees with its entry's hash for
//!   the table the bucket belongs to ([`SplitHint::from_hash`] with that table's `log2`, or what
//!   [`SplitHint::split`] left of it); a null slot's hint is `UNKNOWN`.

use crate::raw::tophash::{TopHash, TopHashWord};
use crate::sync::{spin_loop, yield_now, AtomicPtr, AtomicU64, Ordering};

/// Slots per bucket, as in Go (`bucketCnt`).
pub(crate) const SLOTS: usize = 8;

/// State bit (in a head bucket's link): a writer or an evacuator holds this chain. GO:
/// `hashWriting`, per chain instead of per map, and waited on instead of fatal (C-D3).
pub(crate) const WRITING: usize = 1;
/// State bit (in a head bucket's link): this chain (in an old table) has been evacuated to the
/// new table. Go: tophash
/// markers `evacuatedX` / `evacuatedY` / `evacuatedEmpty` in every slot (C-D2).
pub(crate) const EVACUATED: usize = 2;

/// Both state bits.
const STATE_BITS: usize = WRITING | EVACUATED;

/// The pointer part of a link.
#[inline(always)]
fn untag(link: *mut Bucket) -> *mut Bucket {
    link.map_addr(|addr| addr & !STATE_BITS)
}

/// One key and value. Immutable once published: replacing a value publishes a new entry.
/// GO: Go stores keys and values inline in the bucket; boxed immutable entries are what lets
/// readers go lock-free without torn reads (C-D1).
///
/// The full hash is kept so that evacuation never calls the user's `Hash` (no user code runs
/// while a chain is locked for evacuation) and so that the X/Y choice cannot disagree with the
/// hash that placed the entry (GO: Go rehashes the key, C-D7). For `u64` keys and values the
/// entry is 24 bytes, the size of its block in the map's entry pool (`blocks.rs`).
///
/// Aligned to 8 bytes on every target so that the low three bits of an entry pointer are free
/// for the slot's [`SplitHint`].
#[repr(align(8))]
pub(crate) struct Entry<K, V> {
    pub(crate) hash: u64,
    pub(crate) key: K,
    pub(crate) value: V,
}

/// What a slot points to, with the key and value types erased, so that buckets and tables are
/// not generic: a retired table can then be freed on the reclaimer thread without naming `K`
/// and `V` (it never touches entries, see `table.rs`).
pub(crate) enum ErasedEntry {}

/// The low bits of a slot's entry pointer that hold its [`SplitHint`].
const HINT_BITS: usize = 0b111;

/// Where an entry goes in the next doublings of its table, kept in the low three bits of its
/// slot's entry pointer (entries are 8-aligned) so that an evacuation can choose X or Y without
/// loading the entry: the entries of an old chain were allocated in insertion order, not chain
/// order, so each hash load is a cache miss of its own (GO: Go rehashes the key, which lies in
/// the bucket; C-D10).
///
/// A doubling from a table of `1 << L` chains sends an entry to Y when bit `L` of its hash is
/// set. The hint holds the next two such bits when a writer places the entry (bits `L` and
/// `L + 1` for a table of `1 << L` chains), the one left after a doubling used the first, or
/// none. Encoding: `0b__1`: two bits known, the next at bit 1 and the one after at bit 2;
/// `0b_10`: one bit known, at bit 2; `0b000`: unknown (the value of null slots and zeroed
/// memory, B5). An evacuation that meets `UNKNOWN` loads the hash and stores a two-bit hint for
/// the new table, so an entry's hash is loaded at most once every three doublings.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct SplitHint(usize);

impl SplitHint {
    /// Nothing known: the evacuation loads the entry's hash.
    pub(crate) const UNKNOWN: Self = Self(0);

    /// The hint for an entry of hash `hash` in a table of `1 << log2` chains: its next two X/Y
    /// bits.
    #[inline]
    pub(crate) fn from_hash(hash: u64, log2: u8) -> Self {
        // `checked_shr`: a table of 2^63 chains cannot exist, but the shift must not wrap.
        let bits = hash.checked_shr(u32::from(log2)).unwrap_or(0) & 0b11;
        // `as usize`: two bits.
        Self(0b001 | (bits as usize) << 1)
    }

    /// The next doubling's choice (`true`: Y) if this hint knows it, and the hint the entry
    /// carries in the doubled table.
    #[inline]
    pub(crate) fn split(self) -> Option<(bool, Self)> {
        if self.0 & 0b001 != 0 {
            Some((self.0 & 0b010 != 0, Self(0b010 | (self.0 & 0b100))))
        } else if self.0 & 0b010 != 0 {
            Some((self.0 & 0b100 != 0, Self::UNKNOWN))
        } else {
            None
        }
    }

    /// Whether this hint is a valid one for an entry of hash `hash` in a table of `1 << log2`
    /// chains (B7): unknown, or the bits it knows are the hash's.
    #[cfg(any(test, fuzzing, feature = "invariants", feature = "sched"))]
    pub(crate) fn agrees_with(self, hash: u64, log2: u8) -> bool {
        // What a writer stores in this table, or what a doubling from the table half its size
        // left of what a writer stored there.
        let left_by_doubling = || {
            log2.checked_sub(1)
                .and_then(|half| Self::from_hash(hash, half).split())
                .map(|(_, rest)| rest)
        };
        self == Self::UNKNOWN
            || self == Self::from_hash(hash, log2)
            || left_by_doubling() == Some(self)
    }
}

/// A bucket. See the module's invariants B1–B7.
#[repr(C)]
pub(crate) struct Bucket {
    /// The eight tophash bytes, slot `i` in byte `i` (little-endian), read by readers in one
    /// load. See B2, B3.
    tophash: AtomicU64,
    /// The next bucket of the chain (or null), with [`WRITING`] | [`EVACUATED`] in its low bits
    /// (meaningful in head buckets only). See B2, B4, B6.
    link: AtomicPtr<Bucket>,
    /// Slot `i`'s entry, or null. See B1.
    entries: [AtomicPtr<ErasedEntry>; SLOTS],
}

impl Bucket {
    /// An empty bucket (B5). Used where memory is not zeroed: overflow buckets and loom.
    pub(crate) fn new() -> Self {
        Self {
            tophash: AtomicU64::new(0),
            link: AtomicPtr::new(core::ptr::null_mut()),
            entries: core::array::from_fn(|_| AtomicPtr::new(core::ptr::null_mut())),
        }
    }

    /// The tophash word, for a reader.
    #[inline]
    pub(crate) fn tophash(&self) -> TopHashWord {
        // ORDERING: Acquire. A full tophash was stored after its entry pointer; seeing it makes
        // that pointer visible too. Pairs with [P4]: `set_tophash` in a writer or evacuator.
        TopHashWord::from_bits(self.tophash.load(Ordering::Acquire))
    }

    /// The tophash word, for the holder of the chain's lock (B2).
    #[inline]
    pub(crate) fn tophash_locked(&self) -> TopHashWord {
        // ORDERING: Relaxed. Only lock holders store it (B2); the lock's Acquire [P3] made the
        // previous holder's stores visible. A destination chain an evacuation filled without its
        // lock (E2) has no such holder: its first writer saw the source's mark [P7], and the
        // next growth's evacuator the end of this growth [P2], before locking it.
        TopHashWord::from_bits(self.tophash.load(Ordering::Relaxed))
    }

    /// Sets slot `slot`'s tophash. Caller holds the chain (B2).
    #[inline]
    pub(crate) fn set_tophash(&self, slot: usize, top: TopHash) {
        let word = self.tophash_locked().with(slot, top);
        // ORDERING: Release. Publishes the entry pointer stored before it in the same slot.
        // Pairs with [P4]: `tophash` in a reader.
        self.tophash.store(word.bits(), Ordering::Release);
    }

    /// Slot `slot`'s entry, for a reader: null or an entry that was fully initialized.
    #[inline]
    pub(crate) fn entry<K, V>(&self, slot: usize) -> *mut Entry<K, V> {
        // ORDERING: Acquire. The entry's fields were written before the pointer was stored with
        // Release. Pairs with [P5]: `set_entry`.
        let tagged = self.entries[slot].load(Ordering::Acquire);
        tagged.map_addr(|addr| addr & !HINT_BITS).cast()
    }

    /// Slot `slot`'s entry, for the holder of the chain's lock (B2).
    #[inline]
    pub(crate) fn entry_locked<K, V>(&self, slot: usize) -> *mut Entry<K, V> {
        self.entry_and_hint_locked(slot).0
    }

    /// Slot `slot`'s entry and split hint, for the holder of the chain's lock (B2).
    #[inline]
    pub(crate) fn entry_and_hint_locked<K, V>(&self, slot: usize) -> (*mut Entry<K, V>, SplitHint) {
        // ORDERING: Relaxed. Only lock holders store it (B2), and the lock's Acquire [P3] made the
        // stores of earlier holders, and the entries they published, visible; for a chain an
        // evacuation filled without its lock (E2), [P7] or [P2] did, as in `tophash_locked`.
        let tagged = self.entries[slot].load(Ordering::Relaxed);
        (
            tagged.map_addr(|addr| addr & !HINT_BITS).cast(),
            SplitHint(tagged.addr() & HINT_BITS),
        )
    }

    /// Stores slot `slot`'s entry pointer and its split hint (B7). Caller holds the chain (B2).
    #[inline]
    pub(crate) fn set_entry<K, V>(&self, slot: usize, entry: *mut Entry<K, V>, hint: SplitHint) {
        debug_assert_eq!(entry.addr() & HINT_BITS, 0, "entries are 8-aligned");
        debug_assert!(
            !entry.is_null() || hint == SplitHint::UNKNOWN,
            "B7: null slots know nothing"
        );
        let tagged = entry.cast::<ErasedEntry>().map_addr(|addr| addr | hint.0);
        // ORDERING: Release. Publishes the entry's initialization to readers that load the
        // pointer. Pairs with [P5]: `entry`.
        self.entries[slot].store(tagged, Ordering::Release);
    }

    /// Empties slot `slot`'s entry pointer. Caller holds the chain (B2).
    #[inline]
    pub(crate) fn clear_entry(&self, slot: usize) {
        self.set_entry::<(), ()>(slot, core::ptr::null_mut(), SplitHint::UNKNOWN);
    }

    /// The next bucket of the chain, or null.
    #[inline]
    pub(crate) fn overflow(&self) -> *mut Bucket {
        // ORDERING: Acquire. A writer initializes an overflow bucket (and publishes its first
        // entry) before linking it; an evacuation links its destination's first and fills it
        // after, which is safe because nobody reads a destination chain before its source's mark
        // [P7] (E2). Pairs with [P6]: `set_overflow`.
        untag(self.link.load(Ordering::Acquire))
    }

    /// Links `next` after this bucket. Caller holds the chain (B2) and `next` is fully
    /// initialized.
    #[inline]
    pub(crate) fn set_overflow(&self, next: *mut Bucket) {
        // ORDERING: Relaxed. B6: only we change the link now; we keep its state bits.
        let state = self.link.load(Ordering::Relaxed).addr() & STATE_BITS;
        // ORDERING: Release. Publishes `next`'s contents. Pairs with [P6]: `overflow`.
        self.link
            .store(next.map_addr(|addr| addr | state), Ordering::Release);
    }

    /// The overflow link for code that owns the whole table (drop, free): no concurrency.
    #[inline]
    pub(crate) fn overflow_owned(&self) -> *mut Bucket {
        // ORDERING: Relaxed. The caller owns the table exclusively (`&mut` or a retired table);
        // the handover that gave it ownership synchronized.
        untag(self.link.load(Ordering::Relaxed))
    }

    /// Whether this head bucket's chain has been evacuated.
    #[inline]
    pub(crate) fn is_evacuated(&self) -> bool {
        // ORDERING: Acquire. The evacuator filled the new table's buckets before it stored
        // EVACUATED with Release; seeing the bit makes them visible. Pairs with [P7]:
        // `ChainLock::drop` after `mark_evacuated`.
        self.link.load(Ordering::Acquire).addr() & EVACUATED != 0
    }

    /// NEGATIVE CONTROL `hmap_bug = "iter_relaxed_mark"` (design/testing.md, "Negative
    /// controls"): [`is_evacuated`](Self::is_evacuated) without its Acquire, used by the
    /// iterator only, so a walk that sees the mark may read the destination chain before the
    /// evacuation's copies (loom models I1 and I2 must fail).
    #[cfg(hmap_bug = "iter_relaxed_mark")]
    pub(crate) fn is_evacuated_relaxed(&self) -> bool {
        // ORDERING: Relaxed, the planted bug: pairs with nothing, where [P7] needs Acquire.
        self.link.load(Ordering::Relaxed).addr() & EVACUATED != 0
    }

    /// The state bits of the link ([`WRITING`] | [`EVACUATED`]), for the invariant checker.
    #[cfg(any(test, fuzzing, feature = "invariants", feature = "sched"))]
    pub(crate) fn state_bits(&self) -> usize {
        // ORDERING: Relaxed. The checker runs on a quiescent map.
        self.link.load(Ordering::Relaxed).addr() & STATE_BITS
    }

    /// Takes this head bucket's chain: waits (spinning, then yielding) while another writer or
    /// evacuator holds it. The returned lock tells whether the chain was already evacuated.
    ///
    /// Only writers and evacuators call this; readers never do.
    ///
    /// The first attempt is a CAS that guesses the link is null (no overflow bucket, unlocked,
    /// not evacuated: most heads), not a load. Besides saving the load when the guess is right,
    /// this makes a writer's first touch of a fresh table page a write: a load first would map
    /// the kernel's shared zero page, and the CAS after it would take a second, copy-on-write
    /// fault whose TLB flush interrupts every other CPU running the process (a failed `lock
    /// cmpxchg` is a write access too, so a wrong guess faults the page in writable as well).
    pub(crate) fn lock(&self) -> ChainLock<'_> {
        let mut link = core::ptr::null_mut::<Bucket>();
        let mut backoff = 0u32;
        loop {
            if link.addr() & WRITING == 0 {
                let locked = link.map_addr(|addr| addr | WRITING);
                // ORDERING: Acquire on success: everything the previous holder did before its
                // Release unlock is visible. Pairs with [P3]: `ChainLock::drop`. Relaxed on
                // failure: only the current value is taken, to retry with.
                match self
                    .link
                    .compare_exchange(link, locked, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => {
                        return ChainLock {
                            bucket: self,
                            evacuated: link.addr() & EVACUATED != 0,
                        }
                    }
                    Err(current) => {
                        link = current;
                        if current.addr() & WRITING == 0 {
                            // The guess was wrong, the chain is free: retry with its value.
                            continue;
                        }
                    }
                }
            }
            if backoff < 6 {
                for _ in 0..1u32 << backoff {
                    spin_loop();
                }
                backoff += 1;
            } else {
                yield_now();
            }
            // ORDERING: Relaxed. A probe only; the CAS acquires.
            link = self.link.load(Ordering::Relaxed);
        }
    }
}

/// Asks the CPU to start loading the cache line at `ptr`. A hint only: no memory is accessed
/// architecturally, so any address is fine.
#[inline(always)]
pub(crate) fn prefetch<T>(ptr: *const T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        #[allow(
            unused_unsafe,
            reason = "the intrinsic is safe on newer toolchains only"
        )]
        // SAFETY: a prefetch never faults and never reads memory architecturally.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(ptr.cast::<i8>());
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = ptr;
}

/// Holding a chain (its head bucket's `WRITING` bit). Dropping it releases the chain, also on
/// unwind, so a panicking `Eq` cannot leave a chain locked.
pub(crate) struct ChainLock<'a> {
    bucket: &'a Bucket,
    evacuated: bool,
}

impl ChainLock<'_> {
    /// Whether the chain is evacuated (it was when locked, or this holder marked it).
    #[inline]
    pub(crate) fn is_evacuated(&self) -> bool {
        self.evacuated
    }

    /// Marks the chain evacuated; the mark is published when the lock is released (B4).
    #[inline]
    pub(crate) fn mark_evacuated(&mut self) {
        self.evacuated = true;
    }

    /// NEGATIVE CONTROL `hmap_bug = "early_mark"` (design/testing.md, "Negative controls"):
    /// publishes the `EVACUATED` mark at once, before the evacuation has copied anything, so
    /// readers and writers move to destination chains that are still empty.
    #[cfg(hmap_bug = "early_mark")]
    pub(crate) fn publish_mark_early(&mut self) {
        self.evacuated = true;
        // ORDERING: Relaxed load (we hold the chain, B6); Release store as in `drop` [P7]. The
        // bug is the moment, not the ordering.
        let link = self.bucket.link.load(Ordering::Relaxed);
        self.bucket
            .link
            .store(link.map_addr(|addr| addr | EVACUATED), Ordering::Release);
    }
}

impl Drop for ChainLock<'_> {
    fn drop(&mut self) {
        let state = if self.evacuated { EVACUATED } else { 0 };
        // ORDERING: Relaxed. B6: we hold the chain, so only we change the link; keep its pointer.
        let link = self.bucket.link.load(Ordering::Relaxed);
        let unlocked = link.map_addr(|addr| (addr & !STATE_BITS) | state);
        // ORDERING: Release. Publishes this holder's stores to the chain (and, with EVACUATED,
        // to the new table's buckets it filled) to the next holder and to readers that check
        // the mark. Pairs with [P3]: `Bucket::lock`, and [P7]: `Bucket::is_evacuated`.
        let order = if cfg!(hmap_bug = "relaxed_mark") {
            // NEGATIVE CONTROL (loom must fail): the mark no longer publishes the evacuation
            // [P7], and, as planted, no unlock publishes its holder's stores [P3] either.
            Ordering::Relaxed
        } else {
            Ordering::Release
        };
        self.bucket.link.store(unlocked, order);
    }
}

/// An iterator over the buckets of a chain, from its head.
pub(crate) struct Chain<'a> {
    next: *const Bucket,
    _chain: core::marker::PhantomData<&'a Bucket>,
}

impl<'a> Chain<'a> {
    /// The chain starting at `head`. Overflow buckets live as long as their table (B-links are
    /// never cut while the table is live), so they share `head`'s lifetime.
    pub(crate) fn new(head: &'a Bucket) -> Self {
        Self {
            next: head,
            _chain: core::marker::PhantomData,
        }
    }
}

impl<'a> Iterator for Chain<'a> {
    type Item = &'a Bucket;

    #[inline]
    fn next(&mut self) -> Option<&'a Bucket> {
        if self.next.is_null() {
            return None;
        }
        // SAFETY: `next` is the head (a valid reference for 'a) or an overflow link read from a
        // bucket of the same table; overflow buckets are freed only with their table, which
        // outlives 'a (the caller's borrow of the table).
        let bucket = unsafe { &*self.next };
        self.next = bucket.overflow();
        Some(bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::SplitHint;

    /// Bit `n` of `hash`, 0 past the word.
    fn bit(hash: u64, n: u32) -> bool {
        hash.checked_shr(n).unwrap_or(0) & 1 != 0
    }

    #[test]
    fn a_split_hint_knows_the_next_two_doublings_then_nothing() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..1_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let hash = state ^ (state >> 29);
            for log2 in [0u8, 1, 7, 31, 62, 63] {
                let hint = SplitHint::from_hash(hash, log2);
                assert!(hint.agrees_with(hash, log2));
                let (y0, hint) = hint.split().expect("a fresh hint knows the next doubling");
                assert_eq!(y0, bit(hash, u32::from(log2)), "Go: useY = hash & newbit");
                assert!(hint.agrees_with(hash, log2 + 1));
                let (y1, hint) = hint.split().expect("and the one after");
                assert_eq!(y1, bit(hash, u32::from(log2) + 1));
                assert_eq!(hint, SplitHint::UNKNOWN);
                assert!(hint.split().is_none());
            }
        }
    }

    #[test]
    fn a_wrong_hint_disagrees_with_the_hash() {
        let hash = 0b0110_u64;
        assert!(SplitHint::UNKNOWN.agrees_with(hash, 1));
        assert!(SplitHint::from_hash(hash, 1).agrees_with(hash, 1));
        // Made for another table size: bits 2 and 3 (1, 0) against bits 1 and 2 (1, 1).
        assert!(!SplitHint::from_hash(hash, 2).agrees_with(hash, 1));
        // The one bit left after a doubling, checked against the table it was made for.
        let (_, rest) = SplitHint::from_hash(hash, 0).split().unwrap();
        assert!(rest.agrees_with(hash, 1));
        assert!(!rest.agrees_with(hash, 0), "bit 1 is 1, bit 0 is 0");
    }
}
