//! The concurrent map's algorithm, below the hasher: lookups, writes under a chain lock, and
//! the map's ownership of entries. Growth lives in `evacuate.rs`, iteration in `iter.rs`.
//!
//! The protocol, the linearization points and the ordering table `[P1]`… that the `ORDERING:`
//! comments cite are in `design/concurrent-protocol.md`.

use core::any::Any;
use core::marker::PhantomData;
use core::panic::AssertUnwindSafe;
use std::panic::{catch_unwind, resume_unwind};

use super::bucket::{prefetch, Bucket, ChainLock, Entry, SplitHint, SLOTS};
use super::counter::Stripe;
use super::reclaim::{FlushDue, Guard, Reclaimer};
use super::table::{chain, HeadHint, Table};
use crate::raw::tophash::TopHash;
use crate::sync::{AtomicPtr, AtomicUsize, Ordering};
use crate::LoadFactor;

/// The map below the hasher.
///
/// # Invariants
/// - **R1** Ownership: every entry is owned by exactly one *live slot*: a slot of a chain of the
///   current table whose source chain (if a growth runs) is evacuated, or a slot of a
///   not-yet-evacuated chain of the old table. Frozen chains (B4) hold non-owning copies of
///   pointers. An entry leaves its live slot only under the chain's lock, and is then retired
///   exactly once.
/// - **R2** `table` points to a live `Table` (a `Box`), replaced only by a growth (with the old
///   one kept as the new one's `old`, T2).
/// - **R3** `count` (N2) changes by +1 for each new key placed in a live slot and −1 for each
///   entry removed from one, both while holding the chain.
/// - **R4** `hint` names the current table or an earlier one (H1): it is set as each table is
///   published and only used to prefetch.
pub(crate) struct RawMap<K, V> {
    /// The current table. Go: `buckets` (and, through `Table::old`, `oldbuckets`).
    table: AtomicPtr<Table>,
    /// Where the current table's head buckets lie, readable before a pin (R4, H1).
    hint: HeadHint,
    /// Growths started (statistic).
    growths: AtomicUsize,
    reclaimer: Reclaimer,
    /// The map owns `Entry<K, V>`s (R1) through type-erased pointers.
    _owns: PhantomData<Entry<K, V>>,
}

/// What a chain search under the lock found.
pub(crate) enum Search<'t, K, V> {
    /// The key is in `slot` of `bucket`.
    Found {
        bucket: &'t Bucket,
        slot: usize,
        entry: *mut Entry<K, V>,
    },
    /// The key is absent. `vacancy` is the chain's first empty slot, if any; otherwise `last` is
    /// the chain's last bucket, to which an overflow bucket must be linked.
    Absent {
        vacancy: Option<(&'t Bucket, usize)>,
        last: &'t Bucket,
    },
}

/// A chain held for writing: the table whose chain it is, the head and the lock.
pub(crate) struct Held<'t> {
    pub(crate) table: &'t Table,
    pub(crate) head: &'t Bucket,
    pub(crate) lock: ChainLock<'t>,
}

/// While it lives, the calling thread is recorded as running user code under a chain of the
/// map at `map` (`sync::enter_held_map`): the closures of `update`, `get_or_insert_with`,
/// `compute` and `retain` run inside one, so that a write they make to that map, or to the map
/// of any closure they run inside, panics ([`RawMap::refuse_write_under_own_chain`]) instead of
/// waiting for a chain their own thread holds. Dropped right after the call, also when it
/// unwinds, which ends the record (records nest: the closure may run another map's).
pub(crate) struct UnderChain {
    /// Made only by `enter`, so that every record is left exactly once.
    _entered: (),
}

impl UnderChain {
    /// Records that user code runs under a chain of the map at address `map`.
    #[inline]
    pub(crate) fn enter(map: usize) -> Self {
        crate::sync::enter_held_map(map);
        Self { _entered: () }
    }
}

impl Drop for UnderChain {
    #[inline]
    fn drop(&mut self) {
        crate::sync::leave_held_map();
    }
}

/// Growth policy: the load factor that doubles the table (Go 1.22's 6.5).
pub(crate) const LOAD_FACTOR: LoadFactor = LoadFactor::Go122;

impl<K, V> RawMap<K, V> {
    /// An empty map whose first table has 2^`log2` buckets.
    pub(crate) fn new(log2: u8) -> Self {
        let reclaimer = Reclaimer::new(
            Reclaimer::default_slots(),
            core::alloc::Layout::new::<Entry<K, V>>(),
        );
        let table = Table::new(log2, core::ptr::null_mut(), false);
        Self {
            hint: HeadHint::new(&table),
            table: AtomicPtr::new(Box::into_raw(table)),
            growths: AtomicUsize::new(0),
            reclaimer,
            _owns: PhantomData,
        }
    }

    /// Starts loading the head bucket of `hash` in the current table, before the caller pins
    /// (see [`HeadHint`]). Needs no guard.
    #[inline]
    pub(crate) fn prefetch_head(&self, hash: u64) {
        self.hint.prefetch(hash);
    }

    /// Whether the prefetch hint names `table` (R4; always true under loom and `sched`, which
    /// keep no hint).
    #[cfg(any(test, fuzzing, feature = "invariants", feature = "sched"))]
    pub(crate) fn hint_names(&self, table: &Table) -> bool {
        self.hint.names(table)
    }

    /// Enters a critical section of this map.
    #[inline(always)]
    pub(crate) fn pin(&self) -> Guard<'_> {
        self.reclaimer.pin()
    }

    /// The current table.
    #[inline]
    pub(crate) fn table<'g>(&'g self, _guard: &'g Guard<'_>) -> &'g Table {
        // ORDERING: Acquire. A table's buckets and its `old` link were initialized before it was
        // published with Release. Pairs with [P1]: `publish`.
        let table = self.table.load(Ordering::Acquire);
        // SAFETY: R2: non-null and live when loaded; a table is retired only after it stopped
        // being reachable from `self.table` (it becomes some table's `old`, then is unlinked by
        // `finish_growth` before retirement), and the guard, pinned before this load, keeps it
        // alive for 'g.
        unsafe { &*table }
    }

    /// The current table as the raw pointer it was published as (for linking it as a new
    /// table's `old`).
    pub(crate) fn current_ptr(&self) -> *mut Table {
        // ORDERING: Acquire, as in `table` [P1].
        self.table.load(Ordering::Acquire)
    }

    /// The number of entries (exact when no write is in flight). O(handle slots allocated):
    /// it sums the count stripe of every slot (`counter.rs`).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.reclaimer.count().sum(self.reclaimer.stripes())
    }

    /// The reclaimer, for statistics.
    pub(crate) fn reclaimer(&self) -> &Reclaimer {
        &self.reclaimer
    }

    /// Growths started so far.
    pub(crate) fn growths(&self) -> usize {
        // ORDERING: Relaxed. A statistic.
        self.growths.load(Ordering::Relaxed)
    }

    pub(crate) fn note_growth(&self) {
        // ORDERING: Relaxed. A statistic.
        self.growths.fetch_add(1, Ordering::Relaxed);
    }

    /// Replaces the current table (a growth's publication).
    pub(crate) fn publish(&self, table: Box<Table>) {
        self.hint.set(&table);
        // ORDERING: Release. Publishes the new table's initialized buckets and its `old` link.
        // Pairs with [P1]: `RawMap::table`.
        self.table.store(Box::into_raw(table), Ordering::Release);
    }

    /// The entry for `hash` that `eq` accepts, as a reader: lock-free, never writes shared
    /// memory, never waits for a writer.
    ///
    /// Linearizes at the Acquire load of the entry pointer it returns (or, for a miss, at the
    /// start of the chain scan: see the protocol document, "Reads").
    pub(crate) fn find<'g>(
        &'g self,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
        guard: &'g Guard<'_>,
    ) -> Option<&'g Entry<K, V>> {
        let table = self.table(guard);
        let head = read_head(table, hash, guard);
        // An 80-byte bucket straddles two cache lines; start loading the second while the
        // first (the tophash word) is being read, so a hit waits for one memory latency, not two.
        prefetch(core::ptr::from_ref(head).cast::<u8>().wrapping_add(64));
        let top = TopHash::from_hash(hash);
        for bucket in chain_from(head) {
            for slot in bucket.tophash().matching(top) {
                let entry = bucket.entry::<K, V>(slot);
                if entry.is_null() {
                    continue;
                }
                // SAFETY: B1: a non-null slot pointer is a live entry; it was loaded while
                // pinned, so it is freed only after `guard` unpins ('g).
                let entry = unsafe { &*entry };
                if entry.hash == hash && eq(&entry.key) {
                    return Some(entry);
                }
            }
        }
        None
    }

    /// Locks the chain that `hash` writes to, in the current table, after helping the growth
    /// (if one runs): the old chain it needs is evacuated first, and a chunk of others is
    /// claimed and evacuated. The returned chain is not evacuated (so writes to it are not
    /// lost) and, if a growth runs, its source chain is.
    ///
    /// Only the first attempt that meets a growth claims a chunk. A retry (the chain was
    /// evacuated by a growth that started after the table load) evacuates only the chain it
    /// needs, so a write evacuates at most one claimed chunk in all (section 6 of the protocol
    /// document; until session 29 each retry claimed another chunk, found by a review).
    #[inline(always)]
    pub(crate) fn lock_chain<'g>(&'g self, hash: u64, guard: &'g Guard<'_>) -> Held<'g> {
        self.refuse_write_under_own_chain();
        let mut may_claim = true;
        loop {
            let table = self.table(guard);
            if let Some(old) = table.old_table(guard) {
                self.help_grow(table, old, hash as usize, may_claim, guard);
                may_claim = false;
            }
            let head = table.bucket(hash as usize);
            // As in `find`: the second cache line of the bucket, while the lock takes the first.
            prefetch(core::ptr::from_ref(head).cast::<u8>().wrapping_add(64));
            let lock = head.lock();
            if lock.is_evacuated() && !cfg!(hmap_bug = "no_recheck") {
                // Another growth started after we loaded `table`, and this chain has moved on:
                // retry in the table that is current now.
                // (NEGATIVE CONTROL `hmap_bug = "no_recheck"` skips this: writes get lost.)
                drop(lock);
                continue;
            }
            return Held { table, head, lock };
        }
    }

    /// This map's address, which identifies it in the record of held chains while it lives.
    #[inline]
    pub(crate) fn address(&self) -> usize {
        core::ptr::from_ref(self).addr()
    }

    /// Panics if the calling thread runs a closure under a chain of this map ([`UnderChain`]),
    /// directly or through closures of other maps: the write about to start comes from the
    /// closure of `update`, `get_or_insert_with`, `compute` or `retain`. Such a write would wait forever if it needed the held chain (its own chain, or
    /// an evacuation of it), and could also finish if it did not; the panic makes the misuse
    /// fail the same way every time, where it happens (GO: Go's runtime throws "concurrent map
    /// writes" for a write that finds `hashWriting` set; C-D3). The panic unwinds through the
    /// user code and the operation holding the chain, which releases it.
    #[inline]
    pub(crate) fn refuse_write_under_own_chain(&self) {
        if crate::sync::under_chain_of(self.address()) {
            write_under_own_chain();
        }
    }

    /// Searches a locked chain (B2) for the key `eq` accepts.
    pub(crate) fn search_locked<'t>(
        held: &Held<'t>,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Search<'t, K, V> {
        let top = TopHash::from_hash(hash);
        let mut vacancy = None;
        let mut last = held.head;
        for bucket in chain_from(held.head) {
            last = bucket;
            let word = bucket.tophash_locked();
            for slot in word.matching(top) {
                let entry = bucket.entry_locked::<K, V>(slot);
                // SAFETY: B1, and we hold the chain, so it cannot be retired meanwhile.
                if !entry.is_null() && unsafe { (*entry).hash == hash && eq(&(*entry).key) } {
                    return Search::Found {
                        bucket,
                        slot,
                        entry,
                    };
                }
            }
            if vacancy.is_none() {
                vacancy = word.empty().lowest().map(|slot| (bucket, slot));
            }
            if word.has_empty_rest() {
                // B3: nothing lives after an EMPTY_REST slot.
                break;
            }
        }
        Search::Absent { vacancy, last }
    }

    /// Places a new entry in a locked chain's vacancy (or a new overflow bucket). Returns the
    /// slot index used and whether an overflow bucket was added, for the growth trigger.
    pub(crate) fn place(
        held: &Held<'_>,
        vacancy: Option<(&Bucket, usize)>,
        last: &Bucket,
        entry: *mut Entry<K, V>,
        hash: u64,
    ) -> (usize, bool) {
        let top = TopHash::from_hash(hash);
        let hint = SplitHint::from_hash(hash, held.table.log2);
        match vacancy {
            Some((bucket, slot)) => {
                bucket.set_entry(slot, entry, hint);
                bucket.set_tophash(slot, top);
                (slot, false)
            }
            None => {
                let next = held.table.new_overflow();
                // SAFETY: just allocated, not yet linked: ours alone.
                let next_ref = unsafe { &*next };
                next_ref.set_entry(0, entry, hint);
                next_ref.set_tophash(0, top);
                last.set_overflow(next);
                (0, true)
            }
        }
    }

    /// Empties `slot` of `bucket` in a locked chain and keeps Go's `emptyRest` rule (B3).
    /// Go: the tail of `mapdelete`.
    pub(crate) fn clear_slot(held: &Held<'_>, bucket: &Bucket, slot: usize) {
        bucket.clear_entry(slot);
        bucket.set_tophash(slot, TopHash::EMPTY_ONE);
        // If the next slot (in this bucket, or the first of the next bucket) is EMPTY_ONE or
        // full, the rule already holds.
        let next_is_rest = if slot + 1 < SLOTS {
            bucket.tophash_locked().get(slot + 1) == TopHash::EMPTY_REST
        } else {
            let next = bucket.overflow();
            // SAFETY: an overflow link of a live chain we hold.
            next.is_null() || unsafe { (*next).tophash_locked().get(0) } == TopHash::EMPTY_REST
        };
        if !next_is_rest {
            return;
        }
        // Walk backwards turning EMPTY_ONE into EMPTY_REST. Buckets have no back links, so the
        // previous bucket is found from the head, as Go does.
        let mut bucket = bucket;
        let mut slot = slot;
        loop {
            bucket.set_tophash(slot, TopHash::EMPTY_REST);
            if slot == 0 {
                if core::ptr::eq(bucket, held.head) {
                    return;
                }
                let mut previous = held.head;
                for candidate in chain_from(held.head) {
                    if core::ptr::eq(candidate.overflow(), bucket) {
                        previous = candidate;
                        break;
                    }
                }
                bucket = previous;
                slot = SLOTS - 1;
            } else {
                slot -= 1;
            }
            if bucket.tophash_locked().get(slot) != TopHash::EMPTY_ONE {
                return;
            }
        }
    }

    /// Bookkeeping after a new key was placed: the count, and the growth trigger. The trigger
    /// looks at the load factor when the insert suggests the table is filling up (it filled a
    /// bucket's last slot or opened an overflow bucket) or when this thread's count changes
    /// reached the shared approximation (every `BATCH`). So a doubling starts after Go's would,
    /// within `BATCH` new keys per writing thread: against real Go maps on one thread (the Go
    /// lockstep test), 0–23 new keys in three runs, about 2 on average. A same-size growth
    /// starts in the insert whose overflow bucket reaches the threshold, one new key before
    /// Go's (C-D5).
    pub(crate) fn after_insert(
        &self,
        table: &Table,
        slot: usize,
        overflowed: bool,
        guard: &Guard<'_>,
    ) {
        let stripe = guard.stripe();
        let flushed = self.reclaimer.count().add(stripe, 1);
        if flushed || overflowed || slot == SLOTS - 1 {
            self.maybe_grow(table, stripe);
        }
    }

    /// Bookkeeping after an entry was removed.
    #[inline]
    pub(crate) fn after_remove(&self, guard: &Guard<'_>) {
        self.reclaimer.count().add(guard.stripe(), -1);
    }

    /// Whether `table` is over the load factor (`Some(false)`: double) or has too many overflow
    /// buckets (`Some(true)`: same-size growth). Small tables use the exact count (Go's growth
    /// points, where a few entries matter); large ones the approximation (`counter.rs`) with
    /// the caller's own unflushed changes (its stripe `own`) added, which is exact when no other
    /// live thread holds unflushed changes (exiting threads fold theirs in) and otherwise short
    /// by less than `BATCH` per such thread. With a few writers that is a rounding error at
    /// B ≥ 8; with hundreds of threads that each wrote a few keys it is not, so before a
    /// same-size growth the exact count decides: a table that is really over the load factor
    /// doubles instead (found by a review in session 31: 1,024 live threads that inserted 31 keys
    /// each kept the table at B = 8 with 124 keys per bucket and started 500–740 same-size
    /// growths).
    pub(crate) fn needs_growth(&self, table: &Table, own: Option<&Stripe>) -> Option<bool> {
        let count = if table.log2 < 8 {
            self.len()
        } else {
            self.reclaimer.count().approx(own)
        };
        if LOAD_FACTOR.is_exceeded(count, table.log2) {
            return Some(false);
        }
        // ORDERING: Relaxed. A heuristic trigger; see `Table::new_overflow`.
        let overflow = table.overflow.noverflow.load(Ordering::Relaxed);
        // Go: tooManyOverflowBuckets, `noverflow >= 2^min(B, 15)`, where from B = 16 on Go counts
        // only one overflow bucket in 2^(B-15) (incrnoverflow), so its threshold is about 2^B
        // real overflow buckets for every B. Our count is exact, so the threshold is 2^B.
        if overflow >= 1usize << table.log2 {
            // The approximation may be short (above); a same-size growth is rare enough to
            // afford the exact count, O(slots allocated).
            let overloaded = table.log2 >= 8 && LOAD_FACTOR.is_exceeded(self.len(), table.log2);
            return Some(!overloaded);
        }
        None
    }

    /// Retires an entry that left its live slot (R1).
    ///
    /// # Safety
    /// `entry` was just removed from its live slot by the caller, under the chain's lock.
    pub(crate) unsafe fn retire_entry(guard: &Guard<'_>, entry: *mut Entry<K, V>) {
        // SAFETY: R1: the entry left its only live slot; frozen copies of the pointer (B4) are
        // reachable only by readers pinned before now, which the epoch protects. It was placed
        // in a block of the map's pool by `new_entry` (K1). Dropping it anywhere is sound by the
        // map's Send bounds; its block has the layout given to the reclaimer.
        unsafe { guard.retire_block(entry) };
    }

    /// [`retire_entry`](Self::retire_entry) while the caller still holds the chain: the flush it
    /// makes due is returned, to run once the chain is released (G3).
    ///
    /// # Safety
    /// As for `retire_entry`.
    pub(crate) unsafe fn retire_entry_held(guard: &Guard<'_>, entry: *mut Entry<K, V>) -> FlushDue {
        // SAFETY: as in `retire_entry`.
        unsafe { guard.retire_block_held(entry) }
    }

    /// Places a new entry in a block of the map's pool (`blocks.rs`).
    pub(crate) fn new_entry(hash: u64, key: K, value: V, guard: &Guard<'_>) -> *mut Entry<K, V> {
        let ptr = guard.alloc_block().as_ptr().cast::<Entry<K, V>>();
        // SAFETY: a free block of `Entry<K, V>`'s layout (the pool's block layout, set in `new`),
        // ours alone (K2); writing makes it a live entry.
        unsafe { ptr.write(Entry { hash, key, value }) };
        ptr
    }

    /// Drops every entry of a live chain (exclusive access), for the map's drop. A panicking
    /// `Drop` of a key or value does not stop it: the first panic is kept in `panic`, for the
    /// map's drop to resume once every entry is dropped and the memory freed; later ones are
    /// discarded.
    fn drain_chain(table: &Table, index: usize, panic: &mut Option<Box<dyn Any + Send>>) {
        for bucket in chain(table, index) {
            for slot in bucket.tophash_locked().full() {
                let entry = bucket.entry_locked::<K, V>(slot);
                if !entry.is_null() {
                    let dropped = catch_unwind(AssertUnwindSafe(|| {
                        // SAFETY: R1: this chain is live and we own the map exclusively (`&mut`
                        // in `Drop`): the entry is owned here, dropped once (a panic in its key's
                        // drop still drops its value, and vice versa). Its block goes with its
                        // chunk when the reclaimer drops (K1).
                        unsafe { core::ptr::drop_in_place(entry) };
                    }));
                    if let Err(payload) = dropped {
                        panic.get_or_insert(payload);
                    }
                }
            }
        }
    }

    /// Takes the current table out, for `Drop`.
    fn take_table(&mut self) -> *mut Table {
        // ORDERING: Relaxed. `&mut self`: no concurrency.
        self.table.swap(core::ptr::null_mut(), Ordering::Relaxed)
    }
}

impl<K, V> Drop for RawMap<K, V> {
    fn drop(&mut self) {
        let table = self.take_table();
        if table.is_null() {
            return;
        }
        // SAFETY: R2, and `&mut self`: nobody else can reach the table.
        let table = unsafe { Box::from_raw(table) };
        let mut panic = None;
        // ORDERING: Relaxed. `&mut self`: no concurrency.
        let old = table.old.swap(core::ptr::null_mut(), Ordering::Relaxed);
        if !old.is_null() {
            // SAFETY: T2: the growth's old table, owned by `table`; nobody else can reach it.
            let old = unsafe { Box::from_raw(old) };
            for index in 0..old.len() {
                if !old.bucket(index).is_evacuated() {
                    // R1: a chain not yet evacuated owns its entries.
                    Self::drain_chain(&old, index, &mut panic);
                }
            }
            Table::free(old);
        }
        for index in 0..table.len() {
            // R1: every chain of the current table owns its entries (chains whose source is not
            // evacuated are still empty, E2).
            Self::drain_chain(&table, index, &mut panic);
        }
        Table::free(table);
        // A key's or value's `Drop` panicked: every other entry is dropped and the tables are
        // freed, so the panic goes on to the caller, as a `Vec`'s would (`reclaimer`, a field,
        // is still dropped while it unwinds, freeing everything retired). Not while this thread
        // is already unwinding: a second panic out of a destructor would abort the process.
        if let Some(payload) = panic {
            if !std::thread::panicking() {
                resume_unwind(payload);
            }
        }
        // `reclaimer` drops next (a field), which frees everything retired (reclaim.rs).
    }
}

// SAFETY: the map hands `&K`/`&V` to any thread (needs Sync) and drops or moves entries on any
// thread (retired entries are dropped wherever the collector runs; needs Send). Everything else
// is atomics, owned tables and the reclaimer, which are Send + Sync.
unsafe impl<K: Send + Sync, V: Send + Sync> Send for RawMap<K, V> {}
// SAFETY: as above.
unsafe impl<K: Send + Sync, V: Send + Sync> Sync for RawMap<K, V> {}

/// The head bucket a reader of `hash` must scan: the old chain while it is not evacuated (it is
/// the truth until then: writes go to it only before it is evacuated, and it is frozen after,
/// B4), else the current table's. `table` was loaded under `guard`.
#[inline]
pub(crate) fn read_head<'g>(table: &'g Table, hash: u64, guard: &'g Guard<'_>) -> &'g Bucket {
    if let Some(old) = table.old_table(guard) {
        if cfg!(hmap_bug = "reader_skips_old")
            // ORDERING: Relaxed. Part of the planted bug.
            && hash as usize & old.mask < table.claim.evacuated.load(Ordering::Relaxed)
        {
            // NEGATIVE CONTROL (the race harness and loom must fail): the reader trusts the new
            // chain once the claim cursor has passed the old one, i.e. once it is claimed, not
            // once it is copied.
            return table.bucket(hash as usize);
        }
        let head = old.bucket(hash as usize);
        if !head.is_evacuated() {
            return head;
        }
    }
    table.bucket(hash as usize)
}

/// The buckets of the chain starting at `head`.
#[inline]
pub(crate) fn chain_from(head: &Bucket) -> super::bucket::Chain<'_> {
    super::bucket::Chain::new(head)
}

/// The panic of [`RawMap::refuse_write_under_own_chain`].
#[cold]
#[inline(never)]
fn write_under_own_chain() -> ! {
    if crate::sync::past_held_record() {
        panic!(
            "ConcurrentHashMap: a write from closures of `update`, `get_or_insert_with`, \
             `compute` or `retain` nested more than {} deep, too deep to tell whether this \
             thread holds a chain of the map written to; such writes are refused",
            crate::sync::HELD_RECORDED
        )
    }
    panic!(
        "ConcurrentHashMap: a write to the map from the closure of `update`, \
         `get_or_insert_with`, `compute` or `retain`, which runs while this thread holds one of \
         the map's chains; such a closure may read the map but not write to it"
    )
}
