//! Reclamation: the only file that names `crossbeam_epoch` (style.md §2).
//!
//! The rest of `concurrent/` speaks three verbs: [`Reclaimer::pin`] (a reader or writer enters
//! a critical section and gets a [`Guard`]), loads of pointers while the guard lives, and
//! [`Guard::retire_with`] / [`Guard::retire_block`] (an object unlinked from every root is freed
//! once every guard that could have seen it is gone).
//!
//! # The map owns its collector
//! Every map has its own `crossbeam_epoch::Collector`, never the global default one, so that
//! (1) a guard of another map or of the default collector cannot be used to protect this map's
//! memory (flurry#46; all guards are made here, from this collector, and `pin` is the only way
//! in), and (2) dropping the map drops everything it retired: the map drops its collector and
//! every thread handle registered with it, which flushes every thread's deferred bag into the
//! collector's queue and runs it (crossbeam runs a `Global`'s queue when its last reference
//! goes). Values retired by a map therefore never outlive it, whatever threads used it, unless a
//! view was leaked with `mem::forget` while pinned: its participant is then never finalized, and
//! what it and the collector's queue hold is leaked, never dropped (see `Reclaimer::drop`).
//!
//! # Handle slots
//! Pinning needs a `LocalHandle` (a participant registered with the collector). Registering one
//! per pin would allocate; keeping one per thread in a `thread_local` would keep the collector
//! (and the garbage parked in that handle's bag) alive after the map is dropped (moka#383). So
//! the map keeps a table of slots, each a lazily registered handle plus an `owner`: the first
//! time a thread pins this map it claims a free slot (one CAS) and keeps it for its life; later
//! pins find the slot by a plain load of `owner` and cost only crossbeam's pin (one full
//! barrier). A thread gives its slots back when it exits (a thread-local list of the slots it
//! owns, each holding the slot table by `Arc`, so this works after the map is gone too). The
//! handle stays in the slot with its partial bag of deferred objects (fewer than 64), which goes
//! to the collector with the next owner's retirements (when the bag fills or the owner flushes),
//! when another thread's flush sweeps the slot ([`Reclaimer::sweep_free_slots`]), or when the map
//! drops; thread exit does not touch the handle, because the map may be dropping it at that
//! moment (see `give_back`).
//!
//! The table grows with the number of threads (`SlotTable`): segment 0, made with the map, has
//! [`Reclaimer::default_slots`] slots; when a thread finds every slot of every segment owned it
//! installs the next segment (one CAS on a null pointer; segment 1 as large as segment 0, every
//! later one twice the previous, so the table doubles), up to [`MAX_SLOTS`]. Segments are freed
//! only with the table. A thread looks for its slot at its home position in each segment first
//! (`token & mask`), so a thread that got its home slot finds it in (segment index + 1) loads.
//! Only past `MAX_SLOTS` live threads does `pin` fall back to a temporary handle for that guard
//! (a registration, an allocation and a global list update per pin: correct, slow, counted in
//! `stats().temporary_pins`), and in a thread-local destructor that runs after its thread gave
//! its slots back (`can_remember_owned`). Pinning never blocks and never waits for another
//! thread.
//!
//! # Entry blocks
//! Entries live in blocks of the map's own chunks (`blocks.rs`), allocated by
//! [`Guard::alloc_block`]. They are freed by [`Guard::retire_block`]: the destructor drops the
//! key and value and gives the block to the running thread's slot (or to the map's pool) for
//! later inserts. The chunks go back to the allocator when the map drops. A thread retires its
//! entries into its slot's pending [`RetiredBatch`], which goes to crossbeam as one deferred
//! function per 64 entries (decision 0010, G1–G2); like the handle's bag, a partial batch stays
//! with the slot when its thread exits, until the slot's next owner or a sweep takes it.
//!
//! # Garbage accounting
//! The reclaimer counts retired objects not yet freed (exposed by `stats()`), so a test or
//! benchmark can check that garbage stays bounded under sustained writes. Like the entry count
//! (`counter.rs`) the tally is striped: each handle slot keeps its owner's part (objects retired
//! through its guards, minus objects freed while its owner ran the destructors), updated with a
//! plain load and store, and threads without a slot use one shared atomic. A single shared
//! counter cost every write two atomic RMWs on one cache line (one at retirement, one at the
//! free), which every writing thread would fight over.

use core::alloc::Layout;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;

use crossbeam_epoch as epoch;
use crossbeam_utils::CachePadded;

use std::sync::Arc;

use super::blocks::{BlockPool, LocalBlocks};
use super::counter::{Counter, Stripe};
use crate::sync::{AtomicBool, AtomicIsize, AtomicPtr, AtomicUsize, Ordering, UnsafeCell};

/// One participant of the collector, owned by one thread at a time.
pub(crate) struct HandleSlot {
    /// The owning thread's `thread_token`, or 0 when free.
    owner: AtomicUsize,
    /// Live guards pinned on this slot's handle; written only by the owner (C1).
    guards: AtomicUsize,
    /// Set by an exiting owner when it gives the slot back, cleared by the next owner (which
    /// takes the slot's garbage along with its own) or by a sweep: a hint that the slot may
    /// hold garbage no thread will pick up (`Reclaimer::sweep_free_slots`). Written by the
    /// owner only (C1).
    abandoned: AtomicBool,
    /// Registered on first use. Accessed only by the owner.
    handle: UnsafeCell<Option<epoch::LocalHandle>>,
    /// The owner's entry blocks (`blocks.rs`): freed ones for its next inserts and the rest of
    /// its current chunk. Accessed only by the owner (C1, K3), or with exclusive access to the
    /// map.
    blocks: UnsafeCell<LocalBlocks>,
    /// The owner's stripe of the map's entry count (`counter.rs`, N1): next to the slot, so that
    /// the count covers every slot the table grows to.
    stripe: Stripe,
    /// The owner's part of the garbage tally (C3): objects retired through this slot's guards
    /// minus objects freed by destructors its owner ran. Written only by the owner (C1), so a
    /// load and a store make an update; may be negative (an object retired on one slot can be
    /// freed by another slot's owner).
    garbage: AtomicIsize,
    /// Entries its owner retired and has not handed to the collector yet (G1): they go to
    /// crossbeam as one deferred function per [`RETIRE_BATCH`] entries. Accessed only by the
    /// owner (C1), or with exclusive access to the map.
    pending: UnsafeCell<Option<Box<RetiredBatch>>>,
}

impl HandleSlot {
    fn new() -> Self {
        Self {
            owner: AtomicUsize::new(0),
            guards: AtomicUsize::new(0),
            abandoned: AtomicBool::new(false),
            handle: UnsafeCell::new(None),
            blocks: UnsafeCell::new(LocalBlocks::new()),
            stripe: Stripe::default(),
            garbage: AtomicIsize::new(0),
            pending: UnsafeCell::new(None),
        }
    }

    /// Takes the pending batch of retired entries out of the slot.
    ///
    /// # Safety
    /// The caller owns the slot (C1) or has exclusive access to the map, and holds no other
    /// borrow of the pending batch.
    unsafe fn take_pending(&self) -> Option<Box<RetiredBatch>> {
        // SAFETY: the caller's contract: no other access to the cell now.
        self.pending
            .with_mut(|pending| unsafe { (*pending).take() })
    }
}

/// Entries per deferred function of crossbeam's. Under loom a batch of two, so that models run
/// both the partial and the full case.
#[cfg(not(loom))]
const RETIRE_BATCH: usize = 64;
#[cfg(loom)]
const RETIRE_BATCH: usize = 2;

/// The destructor of one retired entry, with its type erased (`recycle::<T>` for the map's
/// entry type).
type FreeBlock = unsafe fn(*mut u8, &Counters, Option<&HandleSlot>);

/// Retired entries that go to crossbeam together (decision 0010). Retiring an entry through
/// crossbeam one by one cost a 32-byte deferred function per entry (built on the stack and
/// copied into the thread's bag, where the copy stalls on store forwarding), a bag sealed and
/// queued per 64 entries, and, when the bag is collected, an indirect call per entry that looked
/// up the running thread's slot and counted the free on its own. A batch is one deferred
/// function for up to [`RETIRE_BATCH`] entries.
///
/// # Invariants
/// (G for garbage; G1–G2 were D1–D2 until 2026-11-27, which clashed with the sequential map's
/// divergences D1–D17 in `go-correspondence.md`.)
/// - **G1** Every entry in a batch was retired (unreachable from the map, `retire_with`'s
///   contract) and is in no other batch and no crossbeam bag; it is freed exactly once, by
///   [`free_all`](Self::free_all) after crossbeam runs the batch's deferred function (at
///   least one grace period after the batch was deferred, which is after the entry was retired),
///   or by `Reclaimer::drop` for a batch still pending when the map drops.
/// - **G2** `items[..len]` are the entries, all holding the map's entry type, which `free`
///   destroys.
pub(crate) struct RetiredBatch {
    len: usize,
    free: FreeBlock,
    /// Whether freeing an entry runs drop glue (`needs_drop` of the entry type), which may be
    /// user code: only then must a batch that falls due under a chain wait (G4).
    drops: bool,
    items: [*mut u8; RETIRE_BATCH],
}

impl RetiredBatch {
    /// An empty batch of entries of type `T`.
    fn new<T>() -> Box<Self> {
        Box::new(Self {
            len: 0,
            free: recycle_erased::<T>,
            drops: core::mem::needs_drop::<T>(),
            items: [core::ptr::null_mut(); RETIRE_BATCH],
        })
    }

    /// Adds a retired entry; `true` when the batch is full.
    fn push(&mut self, entry: *mut u8) -> bool {
        self.items[self.len] = entry;
        self.len += 1;
        self.len == RETIRE_BATCH
    }

    /// Frees every entry of the batch on the running thread (whose slot is `slot`, C1), each
    /// destructor's panic contained and counted, and takes them off the garbage tally.
    ///
    /// # Safety
    /// G1: the grace period has passed (or the map is being dropped), so nothing else can
    /// reach the entries; `slot` is the running thread's own slot, if any.
    unsafe fn free_all(&self, counters: &Counters, slot: Option<&HandleSlot>) {
        for &entry in &self.items[..self.len] {
            // Each destructor's panic is contained on its own, so the batch's other entries are
            // still freed.
            // SAFETY: G1 and G2: a retired entry of the kind `free` takes, owned by nobody else.
            unsafe { counters.free_contained(self.free, entry, slot) };
        }
        count_garbage(slot, counters, -(self.len as isize));
    }
}

/// A segment of the slot table: slots padded to their own cache lines (each is written by its
/// owner on every pin).
type Slots = [CachePadded<HandleSlot>];

/// A segment of `len` free slots.
fn new_segment(len: usize) -> Box<Slots> {
    (0..len)
        .map(|_| CachePadded::new(HandleSlot::new()))
        .collect()
}

/// The fewest handle slots a map starts with (segment 0 of its slot table), whatever the core
/// count. The table grows when every slot is owned, so this is no longer a limit on threads:
/// it only decides how many threads pin without ever touching a later segment. A thread beyond
/// segment 0 first claims a slot in segment 1 (installing it if needed, once per map) and then
/// finds it in two loads instead of one. 64 keeps the 64-thread cell of `benches/wrappers.rs`
/// in segment 0 (with 16 slots and no growth, that cell ran at 0.09× the QPS of
/// `SafeMap<RwLockBackend>`, 48 threads on the temporary path; 1.12× with 64). Cost: 128 bytes
/// per slot (its handle, block lists and count stripe on one padded line), 8 KiB per map.
#[cfg(not(loom))]
const MIN_SLOTS: usize = 64;

/// The most slots a table grows to (the cap; a power of two). Past it, more live threads pin
/// through temporary handles. 2^16 slots are 8 MiB per map; a program with that many live
/// threads using one map has other problems. Under loom a model has at most 4 threads, and 8
/// slots keep the table (4 segments) small.
#[cfg(not(loom))]
const MAX_SLOTS: usize = 1 << 16;
#[cfg(loom)]
const MAX_SLOTS: usize = 8;

/// The owner token under which a thread holds a free slot while it sweeps it
/// ([`Reclaimer::sweep_free_slots`]). No thread draws it (tokens count up from 1, and the
/// scheduler's from 2^62 in blocks of 2^20), so no thread's `find_owned` matches it (S4).
const SWEEPER: usize = usize::MAX;

/// Segments a table can have: segment 0 of at least one slot, then each later one doubling the
/// total, up to `MAX_SLOTS` (S3).
const MAX_SEGMENTS: usize = MAX_SLOTS.trailing_zeros() as usize + 1;

/// The slots, shared by the map and the thread-local lists of the threads owning slots (which
/// release them at thread exit, possibly after the map is gone).
///
/// Slot `i` (a flat index) is slot `i` of segment 0 for `i < first.len()`, and otherwise slot
/// `i - (first.len() << j)` of segment `j + 1`, where `j = log2(i / first.len())`: segment
/// k ≥ 1 holds flat indices `first.len() << (k - 1)` up to `first.len() << k`.
///
/// # Invariants
/// - **S1** Segment 0 is `first`. Segment k ≥ 1 is `more[k - 1]`: null until installed, then
///   the first slot of a leaked `Box<Slots>` of `segment_len(k)` = `first.len() << (k - 1)`
///   slots, initialized before it was installed by a Release CAS (P9), never replaced, freed
///   only when the table drops.
/// - **S2** Installed segments form a prefix: segment k ≥ 1 is installed only by a thread that
///   saw segments 0..k installed (and found all their slots owned).
/// - **S3** At most `limit` segments: `first.len() << (limit - 1)` = [`MAX_SLOTS`] (or
///   `max_slots` given to `new`), with `first.len()` a power of two no larger.
/// - **S4** A thread owns at most one slot of a table: it claims one only after looking through
///   every installed segment for one it owns (`find_owned`), and only it stores its token. A
///   sweeping thread also holds free slots under [`SWEEPER`], one at a time, each for one
///   sweep step (`Reclaimer::sweep_free_slots`); no thread's token is `SWEEPER`.
struct SlotTable {
    /// The map's entry count (`counter.rs`): its shared parts live here, beside the slots that
    /// hold its stripes, so that a thread giving its slot back at exit can fold its stripe's
    /// unflushed changes into the approximation even while the map is being dropped (this
    /// table outlives the map through the threads' `Arc`s).
    count: Counter,
    /// Segment 0, made with the table (S1).
    first: Box<Slots>,
    /// Segments 1.. (S1, S2); only the first `limit - 1` are ever used.
    more: [AtomicPtr<CachePadded<HandleSlot>>; MAX_SEGMENTS - 1],
    /// S3.
    limit: usize,
}

// SAFETY: `handle` and `blocks` are accessed only by the slot's owner (C1), handed over through
// `owner`'s Release store (at thread exit) and the next claimer's Acquire CAS; a `LocalHandle` is
// !Send only because crossbeam ties it to the thread using it, which C1 respects, and the block
// lists point into the map's chunks (plain memory of the entry layout, owned by the map, K1).
// The map's drop takes both with exclusive access to the map (no guard alive, so no thread is
// using either). The segment pointers are
// owned boxes (S1) of such slots.
unsafe impl Send for SlotTable {}
// SAFETY: as above.
unsafe impl Sync for SlotTable {}

impl SlotTable {
    /// A table whose segment 0 has `first` slots (a power of two) and which grows to at most
    /// `max_slots` (a power of two, at least `first`).
    fn new(first: usize, max_slots: usize) -> Self {
        debug_assert!(first.is_power_of_two() && max_slots.is_power_of_two());
        debug_assert!(first <= max_slots && max_slots <= MAX_SLOTS);
        Self {
            count: Counter::new(),
            first: new_segment(first),
            more: core::array::from_fn(|_| AtomicPtr::new(core::ptr::null_mut())),
            // INVARIANT: S3, `first << (limit - 1) == max_slots`.
            limit: (max_slots.trailing_zeros() - first.trailing_zeros()) as usize + 1,
        }
    }

    /// The number of slots of segment `k` (S1); also the flat index of its first slot, for k ≥ 1.
    #[inline]
    fn segment_len(&self, k: usize) -> usize {
        match k {
            0 => self.first.len(),
            _ => self.first.len() << (k - 1),
        }
    }

    /// Segment `k`, if it is installed.
    #[inline]
    fn segment(&self, k: usize) -> Option<&Slots> {
        let Some(later) = k.checked_sub(1) else {
            return Some(&self.first);
        };
        // ORDERING: Acquire. The installer initialized the segment's slots before publishing it.
        // Pairs with [P9]: the installing CAS in `install`.
        let first = self.more.get(later)?.load(Ordering::Acquire);
        if first.is_null() {
            return None;
        }
        // SAFETY: S1: a non-null pointer is the first slot of a live segment of
        // `segment_len(k)` initialized slots (initialization acquired just above), freed only
        // when the table drops, which `&self` prevents; it is only ever accessed shared.
        Some(unsafe { core::slice::from_raw_parts(first, self.segment_len(k)) })
    }

    /// The installed segments, in order (S2).
    #[inline]
    fn segments(&self) -> impl Iterator<Item = &Slots> {
        (0..self.limit).map_while(|k| self.segment(k))
    }

    /// Every slot of every installed segment.
    fn slots(&self) -> impl Iterator<Item = &HandleSlot> {
        self.segments().flatten().map(|slot| &**slot)
    }

    /// The number of slots allocated (the installed segments).
    fn allocated(&self) -> usize {
        self.segments().map(<[_]>::len).sum()
    }

    /// The slot at flat index `index`, whose segment is installed. (Used by thread exit, which
    /// gives slots back; under loom threads never do.)
    #[cfg(not(loom))]
    fn slot(&self, index: usize) -> &HandleSlot {
        let first = self.first.len();
        let (k, offset) = if index < first {
            (0, index)
        } else {
            let j = (index / first).ilog2() as usize;
            (j + 1, index - (first << j))
        };
        &self.segment(k).expect("the slot's segment is installed")[offset]
    }

    /// The slot `token`'s thread owns, if any (S4). Home positions first: a thread that claimed
    /// its home slot, the usual case, finds it in (segment index + 1) loads.
    #[inline]
    fn find_owned(&self, token: usize) -> Option<&HandleSlot> {
        for segment in self.segments() {
            let slot = &segment[token & (segment.len() - 1)];
            // ORDERING: Relaxed. Only this thread stores its own token (and removes it at its
            // exit), so seeing it means we own the slot; C1's handover was acquired by our CAS.
            if slot.owner.load(Ordering::Relaxed) == token {
                return Some(slot);
            }
        }
        self.find_owned_elsewhere(token)
    }

    /// `find_owned` past the home positions: the thread's slot, if any, is where probing from
    /// its home position first found a free slot when it claimed.
    #[cold]
    fn find_owned_elsewhere(&self, token: usize) -> Option<&HandleSlot> {
        for segment in self.segments() {
            let mask = segment.len() - 1;
            for i in 1..segment.len() {
                let slot = &segment[(token + i) & mask];
                // ORDERING: Relaxed. As in `find_owned`.
                if slot.owner.load(Ordering::Relaxed) == token {
                    return Some(slot);
                }
            }
        }
        None
    }

    /// Claims a free slot for `token`'s thread, which owns none (S4): the first free one probing
    /// from the home position of each segment in turn, installing the next segment when every
    /// installed one is full. Returns the slot and its flat index; `None` when the table is
    /// full at its cap (S3).
    #[cold]
    fn claim(&self, token: usize) -> Option<(usize, &HandleSlot)> {
        for k in 0..self.limit {
            let segment = match self.segment(k) {
                Some(segment) => segment,
                // INVARIANT: S2, every slot of segments 0..k was seen owned.
                None => self.install(k),
            };
            let mask = segment.len() - 1;
            for i in 0..segment.len() {
                let index = (token + i) & mask;
                let slot = &segment[index];
                // ORDERING: Relaxed. A hint only; the CAS below re-validates it.
                let free = slot.owner.load(Ordering::Relaxed) == 0;
                // ORDERING: Acquire on success: the previous owner's uses of the handle, block
                // lists and stripe happen before ours. Pairs with [P8]: `give_back` (thread
                // exit) and the end of a sweep. Relaxed on failure: nothing is read.
                if free
                    && slot
                        .owner
                        .compare_exchange(0, token, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                {
                    let start = if k == 0 { 0 } else { self.segment_len(k) };
                    return Some((start + index, slot));
                }
            }
        }
        None
    }

    /// Installs segment `k` ≥ 1 (one CAS on its null pointer), or returns the one another thread
    /// installed first (the loser frees its allocation).
    #[cold]
    fn install(&self, k: usize) -> &Slots {
        let len = self.segment_len(k);
        let fresh = Box::into_raw(new_segment(len)).cast::<CachePadded<HandleSlot>>();
        // ORDERING: Release on success: the new segment's initialized slots (every owner 0,
        // every stripe 0) happen before any use by a thread that loads the pointer. Acquire on
        // failure: the same for the winner's segment, which we use instead. Pairs with [P9]:
        // the Acquire load in `segment` (and this CAS's failure load).
        let installed = match self.more[k - 1].compare_exchange(
            core::ptr::null_mut(),
            fresh,
            Ordering::Release,
            Ordering::Acquire,
        ) {
            // INVARIANT: S1, installed once, initialized before.
            Ok(_) => fresh,
            Err(winner) => {
                // SAFETY: `fresh` came from `Box::into_raw` of a `len`-slot box just above and
                // was never published (the CAS failed), so we still own it.
                drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(fresh, len)) });
                winner
            }
        };
        // SAFETY: S1: `installed` is the first slot of a live `len`-slot segment, initialized
        // before the CAS that published it (ours, or the winner's that we acquired), freed only
        // when the table drops, which `&self` prevents.
        unsafe { core::slice::from_raw_parts(installed, len) }
    }
}

impl Drop for SlotTable {
    fn drop(&mut self) {
        for k in 1..self.limit {
            // ORDERING: Relaxed. The table's last reference is gone (`Arc`'s drop orders every
            // other thread's accesses, the installs included, before this).
            let first = self.more[k - 1].load(Ordering::Relaxed);
            if first.is_null() {
                break;
            }
            // SAFETY: S1: a leaked box of `segment_len(k)` slots, freed once, here; nothing else
            // refers to the table any more.
            drop(unsafe {
                Box::from_raw(core::ptr::slice_from_raw_parts_mut(
                    first,
                    self.segment_len(k),
                ))
            });
        }
    }
}

/// The map's collector, its handle slots and its garbage counter.
///
/// # Invariants
/// - **C1** A slot's `handle` (and `blocks`, and `stripe`'s writes) is accessed only by the
///   thread whose token is in `owner` (from its Acquire CAS of `owner` 0 → token until its
///   Release store of 0), or with exclusive access to the map (`Reclaimer::drop`).
/// - **C2** Every guard handed out comes from `collector` (through a slot's handle or a temporary
///   handle registered with it).
/// - **C3** `Counters::garbage` plus the `garbage` part of every allocated slot = objects passed
///   to `retire_with` whose destructor has not run yet. A slot's part is written by its owner
///   only (C1); `Counters::garbage` (threads without a slot) by RMW only.
pub(crate) struct Reclaimer {
    collector: ManuallyDrop<epoch::Collector>,
    slots: Arc<SlotTable>,
    /// Counters the deferred destructors update. A separate allocation reached through a raw
    /// pointer (not a field), because destructors also run inside `Reclaimer::drop`, while
    /// `&mut self` forbids any other access to the reclaimer's own memory (Miri's Tree Borrows
    /// rejected the field version). Freed at the end of `drop`.
    counters: NonNull<Counters>,
    /// Pins that found no slot (the table full at its cap) and used a temporary handle.
    temporary_pins: AtomicUsize,
    /// Guards on a temporary handle not dropped yet: at the map's drop, only those leaked with
    /// `mem::forget` (see `drop`).
    temporary_live: AtomicUsize,
}

/// See `Reclaimer::counters`.
pub(crate) struct Counters {
    /// C3: the part of the garbage tally kept by threads that own no slot of this map.
    garbage: AtomicIsize,
    /// Destructors of retired objects that panicked (the panic was contained).
    drop_panics: AtomicUsize,
    /// The slot table, for destructors: they find the running thread's slot there, to count
    /// the free on its garbage part and to give an entry's block back to it.
    slots: *const SlotTable,
    /// The map's entry blocks (`blocks.rs`): chunks, and blocks shared between threads.
    pool: BlockPool,
    /// Batches of retired entries whose grace period ended while their thread ran a closure
    /// under a chain of some map (G4), with their number. Freed by the next [`Guard::flush`]
    /// of this map that runs outside such a closure, or when the map drops.
    // NOTE: a std `Mutex`, not a facade type: no critical section contains a facade operation
    // (as for `BlockPool`). Under loom nothing is ever postponed (`sync::enter_held_map` records
    // nothing there), and `free_postponed` returns before its load, so models see no new
    // operation. Boxed batches: they come boxed from the deferred function (528 bytes each).
    #[allow(
        clippy::vec_box,
        reason = "the batches arrive boxed; unboxing would copy each one out of its box"
    )]
    postponed: std::sync::Mutex<Vec<Box<RetiredBatch>>>,
    postponed_batches: AtomicUsize,
}

impl Counters {
    /// Keeps `batch` for a later flush instead of freeing it now (G4).
    fn postpone(&self, batch: Box<RetiredBatch>) {
        let mut postponed = self
            .postponed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        postponed.push(batch);
        // ORDERING: Relaxed. A hint for `free_postponed`, written under the lock; a flush that
        // misses a batch pushed meanwhile leaves it to the next flush or to the map's drop.
        self.postponed_batches
            .store(postponed.len(), Ordering::Relaxed);
    }

    /// Frees the postponed batches (G4), on the calling thread, which must not run a closure
    /// under any map's chain (unless the map is dropping) and must hold no chain lock (G3).
    fn free_postponed(&self) {
        // ORDERING: Relaxed. A hint (see `postpone`); the lock below orders the batches.
        if cfg!(loom) || self.postponed_batches.load(Ordering::Relaxed) == 0 {
            return;
        }
        let batches = {
            let mut postponed = self
                .postponed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // ORDERING: Relaxed, under the lock, as in `postpone`.
            self.postponed_batches.store(0, Ordering::Relaxed);
            core::mem::take(&mut *postponed)
        };
        // Outside the lock: the destructors may retire, flush and postpone again.
        for batch in batches {
            // SAFETY: G1: a batch whose grace period has passed, taken out of the list, so
            // in no other place; this thread's slot, if any, is found as a destructor would.
            unsafe { batch.free_all(self, self.running_slot()) };
        }
    }

    /// The slot of the thread running a deferred destructor, if it owns one of this map's. The
    /// thread is pinned on this map (crossbeam runs destructors from a participant's pin or
    /// flush) or is dropping it; its slot is usually at its home position in segment 0.
    fn running_slot(&self) -> Option<&HandleSlot> {
        // SAFETY: the slot table outlives every deferred destructor and the reclaimer's drop
        // (the reclaimer holds it until after its collector is dropped).
        unsafe { &*self.slots }.find_owned(crate::sync::thread_token())
    }

    /// Runs `free(ptr, ..)` for a deferred destructor, a panic contained and counted: a panic
    /// must not unwind into crossbeam's collector, which would abort the process when the bag
    /// drops its other deferred functions during unwinding.
    ///
    /// # Safety
    /// `free`'s own contract for `ptr` (a retired object of the kind it takes, owned by nobody
    /// else); `slot` is the running thread's own slot, if any.
    unsafe fn free_contained<T>(
        &self,
        free: unsafe fn(*mut T, &Counters, Option<&HandleSlot>),
        ptr: *mut T,
        slot: Option<&HandleSlot>,
    ) {
        // SAFETY: the caller's contract.
        let outcome = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| unsafe {
            free(ptr, self, slot);
        }));
        if outcome.is_err() {
            // ORDERING: Relaxed. A statistic.
            self.drop_panics.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Reclaimer {
    /// A new collector whose slot table starts with `slots` handle slots (rounded up to a power
    /// of two) and grows to at most [`MAX_SLOTS`].
    pub(crate) fn new(slots: usize, block: Layout) -> Self {
        Self::with_max_slots(slots, MAX_SLOTS, block)
    }

    /// [`new`](Self::new) with a lower cap on the table (a power of two up to `MAX_SLOTS`), so
    /// that tests can reach the temporary path.
    pub(crate) fn with_max_slots(slots: usize, max_slots: usize, block: Layout) -> Self {
        let first = slots.clamp(1, 1024.min(max_slots)).next_power_of_two();
        let slots = Arc::new(SlotTable::new(first, max_slots));
        let counters = NonNull::from(Box::leak(Box::new(Counters {
            garbage: AtomicIsize::new(0),
            drop_panics: AtomicUsize::new(0),
            slots: Arc::as_ptr(&slots),
            pool: BlockPool::new(block),
            postponed: std::sync::Mutex::new(Vec::new()),
            postponed_batches: AtomicUsize::new(0),
        })));
        Self {
            collector: ManuallyDrop::new(epoch::Collector::new()),
            slots,
            counters,
            temporary_pins: AtomicUsize::new(0),
            temporary_live: AtomicUsize::new(0),
        }
    }

    /// The default size of segment 0: four slots per available core, at least [`MIN_SLOTS`].
    /// Under loom one slot, so that every model with two threads grows the table.
    pub(crate) fn default_slots() -> usize {
        #[cfg(loom)]
        {
            1
        }
        #[cfg(not(loom))]
        {
            // A map made under the deterministic scheduler must not depend on the machine.
            #[cfg(feature = "sched")]
            if crate::sched::is_scheduled() {
                return crate::sched::DETERMINISTIC_SLOTS;
            }
            std::thread::available_parallelism().map_or(MIN_SLOTS, |n| (4 * n.get()).max(MIN_SLOTS))
        }
    }

    /// Enters a critical section: pointers loaded from the map stay valid until the guard drops.
    ///
    /// Built for the hot path of every operation: the guard is assembled in one place from plain
    /// values (no call returns a `Guard` into it) and the function is always inlined, so its
    /// fields stay in registers until they are stored where the caller keeps the guard (the
    /// view's `OnceCell`). Before, the guard was returned through a stack temporary, which the
    /// caller copied with 16-byte loads over the 8-byte stores that had just built it: a
    /// store-forwarding stall on every pin (`perf annotate`: 30–40% of the pin's samples on that
    /// copy; a cache-resident read took 26 instead of 20 ns, session 15).
    #[inline(always)]
    pub(crate) fn pin(&self) -> Guard<'_> {
        let token = crate::sync::thread_token();
        let slot = match self.slots.find_owned(token) {
            Some(slot) => Some(slot),
            None => self.claim_slot(token),
        };
        let (guard, temporary) = match slot {
            Some(slot) => {
                // ORDERING (load and store): Relaxed. Only the owner writes `guards` (C1); the
                // owner reads it back at thread exit.
                let guards = slot.guards.load(Ordering::Relaxed);
                slot.guards.store(guards + 1, Ordering::Relaxed);
                // SAFETY: we own the slot (C1), and only `register_handle` writes the cell, with
                // no borrow of it live. A shared borrow, because the pin may run destructors
                // (crossbeam collects there) that pin this map again (G3): nested pins of this
                // thread reuse the handle, which crossbeam supports (it counts guards per
                // handle).
                let pinned = slot
                    .handle
                    .with(|handle| unsafe { &*handle }.as_ref().map(epoch::LocalHandle::pin));
                let guard = match pinned {
                    Some(guard) => guard,
                    None => self.register_handle(slot).pin(),
                };
                (guard, None)
            }
            None => {
                // Every slot up to the cap is owned by another thread, or this thread is past
                // giving its slots back at exit: a temporary participant (C2).
                let handle = self.temporary_handle();
                (handle.pin(), Some(ManuallyDrop::new(handle)))
            }
        };
        Guard {
            guard: ManuallyDrop::new(guard),
            slot,
            retired: core::cell::Cell::new(0),
            temporary,
            reclaimer: self,
        }
    }

    /// Hands to the collector the garbage that exited threads left in their slots. A slot given
    /// back at thread exit keeps its handle's bag and its pending batch (see "Handle slots");
    /// without a sweep they wait for the slot's next owner to retire or flush, or for the map
    /// to drop, so after a burst of threads that all exited, thousands of retired values could
    /// stay undropped while the map lived (found by a black-box test in session 20: 200 threads
    /// that each inserted and removed 40 values, then 1,000 flushes by the main thread, left
    /// 5,436 retired values undropped).
    ///
    /// Each free slot that has a handle is swept as a new owner would use it: claimed (CAS of
    /// `owner` 0 → [`SWEEPER`], C1), its handle pinned, its pending batch deferred and its bag
    /// flushed to the collector's queue, then given back (Release store of 0, as at thread
    /// exit). A slot some thread claims meanwhile is skipped; that thread takes the garbage
    /// along with its own. Runs destructors (crossbeam collects in the flush), so the caller
    /// holds no chain lock (G3). O(slots allocated); for [`Pinned::flush`].
    ///
    /// [`Pinned::flush`]: super::Pinned::flush
    pub(crate) fn sweep_free_slots(&self) {
        /// Gives a swept slot back, also if a flush unwinds.
        struct GiveBack<'s>(&'s HandleSlot);
        impl Drop for GiveBack<'_> {
            fn drop(&mut self) {
                // ORDERING: Release. Our uses of the slot's handle and pending batch happen
                // before the next owner's. Pairs with [P8]: the Acquire CAS of `claim` and of
                // the next sweep.
                self.0.owner.store(0, Ordering::Release);
            }
        }
        for slot in self.slots.slots() {
            // ORDERING: Relaxed (both). A hint only: the CAS below re-validates `owner`, and a
            // give-back not seen yet is swept by a later call (a thread that joined the exited
            // one sees it).
            if slot.owner.load(Ordering::Relaxed) != 0 || !slot.abandoned.load(Ordering::Relaxed) {
                continue;
            }
            // NEGATIVE CONTROL `hmap_bug = "sweep_relaxed_claim"` (loom S2 must fail): the sweep
            // claims without Acquire and races with the exited owner's last uses of the slot.
            let claim = if cfg!(hmap_bug = "sweep_relaxed_claim") {
                Ordering::Relaxed
            } else {
                Ordering::Acquire
            };
            // ORDERING: Acquire on success (`claim`): the previous owner's uses of the handle,
            // block lists, stripes and pending batch happen before ours. Pairs with [P8]: the
            // Release store of 0 in `give_back` (thread exit) or at the end of a sweep. Relaxed
            // on failure: nothing is read.
            if slot
                .owner
                .compare_exchange(0, SWEEPER, claim, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // Declared before the guard, so dropped after it: the slot is given back unpinned.
            let _give_back = GiveBack(slot);
            // ORDERING: Relaxed. We own the slot (C1); the give-back's Release publishes it.
            slot.abandoned.store(false, Ordering::Relaxed);
            // SAFETY: we own the slot (C1), and only `register_handle`, which its owner calls,
            // writes the cell.
            let pinned = slot
                .handle
                .with(|handle| unsafe { &*handle }.as_ref().map(epoch::LocalHandle::pin));
            // A slot whose handle was never registered never retired anything.
            let Some(pinned) = pinned else { continue };
            // ORDERING (load and store): Relaxed. We own the slot (C1); as in `pin`.
            let guards = slot.guards.load(Ordering::Relaxed);
            slot.guards.store(guards + 1, Ordering::Relaxed);
            let guard = Guard {
                guard: ManuallyDrop::new(pinned),
                slot: Some(slot),
                retired: core::cell::Cell::new(0),
                temporary: None,
                reclaimer: self,
            };
            guard.flush();
        }
    }

    /// The slot of a thread that owns none of this map's yet: it claims one (growing the table
    /// if every slot is owned); `None` with the table full at its cap, or when the thread is
    /// exiting and has already given its slots back (see [`can_remember_owned`]).
    #[cold]
    fn claim_slot(&self, token: usize) -> Option<&HandleSlot> {
        if !can_remember_owned() {
            return None;
        }
        let (index, slot) = self.slots.claim(token)?;
        // ORDERING: Relaxed. We own the slot (C1): its garbage goes with ours from now on, so
        // sweeps can pass it by.
        slot.abandoned.store(false, Ordering::Relaxed);
        remember_owned(&self.slots, index);
        Some(slot)
    }

    /// Registers a participant of this map's collector in `slot`, which the calling thread owns
    /// and which has none yet (its first pin since the slot was made), and returns it.
    #[cold]
    fn register_handle<'s>(&self, slot: &'s HandleSlot) -> &'s epoch::LocalHandle {
        slot.handle.with_mut(|handle| {
            // SAFETY: we own the slot (C1), and no borrow of its handle is live: the caller's
            // shared borrow found `None` and has ended, and registering runs no user code.
            let handle = unsafe { &mut *handle };
            &*handle.insert(self.collector.register())
        })
    }

    /// A participant of this map's collector for one pin, when every slot is owned (C2).
    #[cold]
    fn temporary_handle(&self) -> epoch::LocalHandle {
        // ORDERING: Relaxed. A statistic.
        self.temporary_pins.fetch_add(1, Ordering::Relaxed);
        // ORDERING: Relaxed. Read only by `drop`, which the guard's drop (or a join) happens
        // before.
        self.temporary_live.fetch_add(1, Ordering::Relaxed);
        self.collector.register()
    }

    /// Handle slots allocated so far (every installed segment of the table).
    pub(crate) fn slots(&self) -> usize {
        self.slots.allocated()
    }

    /// Pins that found every slot owned, up to the cap, and used a temporary handle.
    pub(crate) fn temporary_pins(&self) -> usize {
        // ORDERING: Relaxed. A statistic.
        self.temporary_pins.load(Ordering::Relaxed)
    }

    /// The count stripe of every allocated slot (`counter.rs`): O(slots allocated).
    pub(crate) fn stripes(&self) -> impl Iterator<Item = &Stripe> {
        self.slots.slots().map(|slot| &slot.stripe)
    }

    /// The map's entry count (its stripes are in the slots: [`stripes`](Self::stripes)).
    #[inline]
    pub(crate) fn count(&self) -> &Counter {
        &self.slots.count
    }

    fn counters(&self) -> &Counters {
        // SAFETY: allocated in `new`, freed only at the end of `drop`.
        unsafe { self.counters.as_ref() }
    }

    /// Retired objects not freed yet (C3): exact when no write or collection is in flight,
    /// O(slots allocated). A sum read while an object retired on one slot is freed on another
    /// can be transiently off by the objects in flight (clamped at 0).
    pub(crate) fn garbage(&self) -> usize {
        // ORDERING: Relaxed. A statistic; see `count_garbage`.
        let shared = self.counters().garbage.load(Ordering::Relaxed);
        let slots: isize = self
            .slots
            .slots()
            // ORDERING: Relaxed. As above.
            .map(|slot| slot.garbage.load(Ordering::Relaxed))
            .sum();
        usize::try_from(shared + slots).unwrap_or(0)
    }

    /// Bytes of the entry chunks allocated so far (`blocks.rs`).
    pub(crate) fn entry_chunk_bytes(&self) -> usize {
        self.counters().pool.chunk_bytes()
    }

    /// Destructors of retired objects that panicked.
    pub(crate) fn drop_panics(&self) -> usize {
        // ORDERING: Relaxed. A statistic.
        self.counters().drop_panics.load(Ordering::Relaxed)
    }
}

/// Records that this thread owns slot `index` (flat) of `slots`, so that it gives it back at
/// exit.
#[cfg(not(loom))]
fn remember_owned(slots: &Arc<SlotTable>, index: usize) {
    OWNED.with(|owned| {
        let mut owned = owned.borrow_mut();
        // Forget the slots of maps that are gone (only our entry keeps their table alive).
        owned.0.retain(|(table, _)| Arc::strong_count(table) > 1);
        owned.0.push((Arc::clone(slots), index));
    });
}

/// Whether this thread can still record a slot it claims, so as to give it back when it exits:
/// false in a thread-local destructor that runs after the list of owned slots was destroyed
/// (thread-local destructors run newest first, so a thread-local made before this thread's
/// first pin is destroyed after it). A slot claimed then could never be given back, and
/// recording it would panic inside a thread-local destructor, which aborts the process: such
/// pins use a temporary handle instead (found by a black-box test in session 20: a
/// thread-local's destructor that removed its thread's key from a map aborted the process).
#[cfg(not(loom))]
fn can_remember_owned() -> bool {
    OWNED.try_with(|_| ()).is_ok()
}

/// Under loom threads never give slots back (see `remember_owned`).
#[cfg(loom)]
fn can_remember_owned() -> bool {
    true
}

/// Gives back every slot the calling thread owns, as its exit does. For `crate::sched`, whose
/// logical threads end while their pooled OS thread lives on.
#[cfg(all(feature = "sched", not(loom)))]
pub(crate) fn release_thread_slots() {
    let owned = OWNED.with(|owned| core::mem::take(&mut owned.borrow_mut().0));
    drop(OwnedSlots(owned));
}

/// Under loom: gives back the slot the calling thread owns, as its exit would (loom threads
/// never give slots back by themselves, see `remember_owned`), so that a model can sweep it.
#[cfg(loom)]
pub(crate) fn give_back_thread_slot(reclaimer: &Reclaimer) {
    if let Some(slot) = reclaimer.slots.find_owned(crate::sync::thread_token()) {
        give_back(&reclaimer.slots, slot);
    }
}

/// Under loom threads never give slots back: the table grows instead (a model has at most 4
/// threads, the loom table holds up to 8).
#[cfg(loom)]
fn remember_owned(_slots: &Arc<SlotTable>, _index: usize) {}

/// The slots this thread owns (table, flat index), given back when it exits.
#[cfg(not(loom))]
struct OwnedSlots(Vec<(Arc<SlotTable>, usize)>);

#[cfg(not(loom))]
std::thread_local! {
    static OWNED: core::cell::RefCell<OwnedSlots> = const {
        core::cell::RefCell::new(OwnedSlots(Vec::new()))
    };
}

#[cfg(not(loom))]
impl Drop for OwnedSlots {
    /// Gives back every slot this exiting thread owns.
    fn drop(&mut self) {
        for (table, index) in self.0.drain(..) {
            give_back(&table, table.slot(index));
        }
    }
}

/// Gives back a slot of `table` that its exiting owner (the calling thread) holds, marked
/// abandoned for sweeps, with its stripe's unflushed count changes folded into the count's
/// approximation: otherwise they would stay out of it until the map drops, and the growth
/// trigger, which reads the approximation, would be off by up to `BATCH - 1` for every thread
/// that ever exited (found by a review in session 31: 53 threads that inserted 31 keys each
/// and exited kept a lone writer's table at B = 8 with 11.7 keys per bucket).
///
/// A guard of this thread kept in another thread-local that is not destroyed yet still uses the
/// handle: the slot is then kept (leaked to this dead thread) rather than a pinned handle handed
/// over. This reads `guards`, never `handle`: the map may be being dropped right now on another
/// thread (a scoped thread's TLS destructors run after its scope has been joined), and its drop
/// takes the handles (Miri found that race).
fn give_back(table: &SlotTable, slot: &HandleSlot) {
    // ORDERING: Relaxed. Only this thread writes `guards` (C1).
    if slot.guards.load(Ordering::Relaxed) == 0 {
        // We still own the slot, so its stripe is ours to write (N1).
        table.count.fold(&slot.stripe);
        // ORDERING: Relaxed. Published by the Release store below.
        slot.abandoned.store(true, Ordering::Relaxed);
        // ORDERING: Release. Our uses of the handle, block lists, stripes and pending batch
        // happen before the next owner's or sweeper's. Pairs with [P8]: the claiming CAS in
        // `SlotTable::claim` and the sweeping CAS in `Reclaimer::sweep_free_slots`.
        slot.owner.store(0, Ordering::Release);
    }
}

impl Drop for Reclaimer {
    fn drop(&mut self) {
        // `&mut self`: no guard is alive (guards borrow the reclaimer), so no thread is using a
        // handle, whoever owns its slot (C1's exclusive-access case). Every segment is visited.
        for slot in self.slots.slots() {
            // SAFETY: exclusive access, as just argued.
            if let Some(batch) = unsafe { slot.take_pending() } {
                // SAFETY: G1: retired entries, and with no guard alive no thread can hold one;
                // this thread's slot, if any, is found as a destructor would find it.
                unsafe { batch.free_all(self.counters(), self.counters().running_slot()) };
            }
        }
        // A handle still pinned here belongs to a view leaked with `mem::forget` (a live view
        // borrows the map). Its participant is never finalized, so it keeps the collector alive
        // and its bag and the collector's queue are never run: what they hold is leaked, never
        // dropped, as std leaks what a forgotten value owns (found by a review in session 29:
        // this drop's garbage assertion then panicked). Nothing can run them later either:
        // every handle is gone and the forgotten guard cannot be reached.
        // ORDERING: Relaxed. Every guard's drop happens before this one (`&mut self`).
        let mut forgotten_pin = self.temporary_live.load(Ordering::Relaxed) != 0;
        for slot in self.slots.slots() {
            // SAFETY: exclusive access, as just argued.
            let handle = slot.handle.with_mut(|handle| unsafe { (*handle).take() });
            forgotten_pin |= handle.as_ref().is_some_and(epoch::LocalHandle::is_pinned);
            drop(handle);
        }
        // SAFETY: dropped once, here. With every handle gone (and none forgotten while pinned)
        // this is the collector's last reference: crossbeam then runs every deferred destructor
        // still queued (C3 reaches 0) before this function returns, while `counters` is still
        // alive. With a forgotten pin, the queued destructors never run (above), so the chunks
        // and `counters` they point into may be freed below.
        unsafe { ManuallyDrop::drop(&mut self.collector) };
        // The batches postponed by destructors that ran inside a closure under a chain (G4),
        // those of the collector's drop just now included: the map is going away, so they are
        // freed here even if this drop itself runs inside such a closure.
        self.counters().free_postponed();
        debug_assert!(
            forgotten_pin || self.garbage() == 0,
            "every retired object is freed with the map"
        );
        for slot in self.slots.slots() {
            // SAFETY: exclusive access (no guard, no deferred destructor left to run). The slot
            // table may outlive the map (threads' exit lists hold it); its lists must not point
            // into freed chunks.
            slot.blocks.with_mut(|blocks| unsafe { (*blocks).clear() });
        }
        // SAFETY: K1: every deferred destructor has run (above), the map's drop dropped every
        // live entry before dropping the reclaimer, every slot's lists are cleared, and no guard
        // can allocate any more (`&mut self`).
        unsafe { self.counters().pool.free_chunks() };
        // SAFETY: from `Box::leak` in `new`; the last deferred destructor that used it has run.
        drop(unsafe { Box::from_raw(self.counters.as_ptr()) });
    }
}

impl core::fmt::Debug for Reclaimer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reclaimer")
            .field("slots", &self.slots())
            .field("temporary_pins", &self.temporary_pins())
            .field("garbage", &self.garbage())
            .finish()
    }
}

/// Objects a guard retires between two flushes: one crossbeam bag.
const FLUSH_EVERY: u32 = 64;

/// Whether retirements made a flush due ([`Guard::count_retired`]). A flush runs the
/// destructors of older garbage, which are user code (`K::drop`, `V::drop`) that may use the
/// map, so a thread that holds a chain lock keeps this until it releases the lock (G3).
#[must_use = "run it with `Guard::flush_due` once no chain lock is held"]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FlushDue(bool);

impl FlushDue {
    /// Due if either is.
    pub(crate) fn or(self, other: Self) -> Self {
        Self(self.0 || other.0)
    }
}

/// A pinned critical section of one map. `!Send`: it stays on the thread that pinned.
///
/// # Invariants
/// - **G3** A thread runs destructors of retired objects (user code: `K::drop`, `V::drop`) only
///   where it holds no chain lock: inside an outermost `pin` (crossbeam collects there; a pin
///   nested in one of the same thread shares its handle and does not) and inside a flush, never
///   between a chain's lock and its release. (A thread without a slot, past `MAX_SLOTS` live
///   threads, pins a fresh participant every time, so a pin in a closure that runs under a lock
///   may collect there.) A destructor may use the map, and under a held chain its write to that
///   chain would wait for the lock forever. Retirements under a lock (`retain`) therefore take
///   the [`FlushDue`] variants and flush after the release; the others retire after unlocking.
///   `Pinned::flush` does nothing while its thread runs a closure under any map's chain lock
///   (session 21). A closure of map A that pins map B makes an outermost pin of B (and one
///   that writes to B may flush B): crossbeam may run B's due deferred functions there, under
///   A's chain; G4 keeps entry destructors out of them.
/// - **G4** (session 22) The deferred function of a batch of retired entries frees it only if
///   its thread runs no closure under any map's chain (`sync::under_any_chain()` is false); otherwise it
///   hands the batch to the map's postponed list (`Counters::postpone`), which the map's next
///   [`Guard::flush`] outside such a closure, or its drop, frees. Every retired entry goes
///   through that function (a thread without a slot defers batches of one), so entry
///   destructors never run inside a closure of `update`, `get_or_insert_with`, `compute` or
///   `retain` of any map, except when a map is dropped inside one. Before, one that wrote to
///   the closure's map panicked there (`RawMap::refuse_write_under_own_chain`, contained and
///   counted in `drop_panics`) and its write was lost. Retired tables run no user code and are
///   freed where they fall due.
pub(crate) struct Guard<'r> {
    guard: ManuallyDrop<epoch::Guard>,
    /// The handle slot this guard's thread owns, if it is pinned on one (C1).
    slot: Option<&'r HandleSlot>,
    /// Objects retired through this guard since its last flush.
    retired: core::cell::Cell<u32>,
    /// The handle the guard is pinned on, when it is not a slot's.
    temporary: Option<ManuallyDrop<epoch::LocalHandle>>,
    reclaimer: &'r Reclaimer,
}

impl Guard<'_> {
    /// Hands `ptr` to the collector: once every guard that could have loaded it has been
    /// dropped, `free` receives it (with the reclaimer's counters and the slot of the thread
    /// running the destructor, if it owns one, C1).
    ///
    /// # Safety
    /// - `ptr` is what `free` expects (a `Box::into_raw` pointer for `Table::free`, an entry in
    ///   a block of the map's pool for `recycle`) and is retired once;
    /// - it is unreachable from the map: every location from which a new reader could load it
    ///   was overwritten (or is unreachable itself) before this call, so only threads pinned
    ///   now can hold it;
    /// - running `free` on any thread, at any later time before the map is dropped, is sound
    ///   (the map's `Send`/`Sync` bounds on `K` and `V` provide this for entries).
    pub(crate) unsafe fn retire_with<T>(
        &self,
        ptr: *mut T,
        free: unsafe fn(*mut T, &Counters, Option<&HandleSlot>),
    ) {
        // SAFETY: forwarded contract.
        let due = unsafe { self.retire_with_held(ptr, free) };
        self.flush_due(due);
    }

    /// [`retire_with`](Self::retire_with) for a thread that may hold a chain lock: the flush
    /// that the retirement makes due is returned instead of run (G3).
    ///
    /// # Safety
    /// As for `retire_with`.
    unsafe fn retire_with_held<T>(
        &self,
        ptr: *mut T,
        free: unsafe fn(*mut T, &Counters, Option<&HandleSlot>),
    ) -> FlushDue {
        count_garbage(self.slot, self.reclaimer.counters(), 1);
        let counters: NonNull<Counters> = self.reclaimer.counters;
        let destroy = move || {
            // SAFETY: deferred functions run at the latest while `Reclaimer::drop` drops the
            // collector, before it frees `counters`.
            let counters = unsafe { counters.as_ref() };
            let slot = counters.running_slot();
            // SAFETY: the contract above: sole owner, unreachable, droppable here, of the kind
            // `free` takes.
            unsafe { counters.free_contained(free, ptr, slot) };
            count_garbage(slot, counters, -1);
        };
        // SAFETY: crossbeam's contract for `defer_unchecked`: the closure may run on another
        // thread after every currently pinned participant unpins, or when the collector drops.
        // It only frees an object that is unreachable (contract above) and touches the
        // reclaimer's atomics, which outlive the collector.
        unsafe { self.guard.defer_unchecked(destroy) };
        self.count_retired(false)
    }

    /// Counts one object retired through this guard; a flush is due every [`FLUSH_EVERY`], or
    /// at once when `batch_deferred` (a full batch of entries just became a deferred function).
    ///
    /// crossbeam collects on its own only every 128 pins, and then at most 8 bags of 64, so a
    /// view that retires more than about 4 objects per pin (a batch of writes under one pin)
    /// would outrun it and garbage would grow without bound: every full bag's worth retired
    /// through one guard is handed to the collector, which also collects. And without the flush
    /// after a full batch a thread's crossbeam bag would hold up to 64 batches (4,096 entries)
    /// before it went to the collector; with it, garbage stays where it was with one deferred
    /// function per entry (`garbage_objects` at the end of a 2^20-operation `exchange` cell: 50
    /// and 100 at 1 and 2 threads, against 2,738 and 3,748 without), for one flush per 64
    /// entries.
    ///
    /// The flush is returned rather than run (G3): the caller runs it with
    /// [`flush_due`](Self::flush_due) once its thread holds no chain lock.
    #[inline]
    fn count_retired(&self, batch_deferred: bool) -> FlushDue {
        let retired = self.retired.get() + 1;
        if batch_deferred || retired >= FLUSH_EVERY {
            self.retired.set(0);
            FlushDue(true)
        } else {
            self.retired.set(retired);
            FlushDue(false)
        }
    }

    /// Runs the flush that retirements made due, if any. The calling thread must hold no chain
    /// lock (G3).
    #[inline]
    pub(crate) fn flush_due(&self, due: FlushDue) {
        if due.0 {
            self.flush();
        }
    }

    /// The count stripe of the handle slot this guard's thread owns (C1, N1), or `None` for a
    /// temporary handle (which counts on the counter's shared stripe).
    #[inline]
    pub(crate) fn stripe(&self) -> Option<&Stripe> {
        self.slot.map(|slot| &slot.stripe)
    }

    /// A block of the map's entry layout for a new entry (`blocks.rs`): from this thread's slot,
    /// or from the shared pool for a thread without one.
    #[inline]
    pub(crate) fn alloc_block(&self) -> NonNull<u8> {
        let pool = &self.reclaimer.counters().pool;
        match self.slot {
            // SAFETY: we own the slot (C1, K3), and nothing else of ours borrows its blocks now
            // (destructors that free into them run inside `pin`/`flush`, never during this call).
            Some(slot) => slot
                .blocks
                .with_mut(|blocks| unsafe { (*blocks).alloc(pool) }),
            None => pool.alloc_shared(),
        }
    }

    /// [`retire_with`](Self::retire_with) for an object in a block from
    /// [`alloc_block`](Self::alloc_block): once it is unreachable its contents are dropped and
    /// its block goes to the slot of the thread that runs the destructor (or to the pool).
    ///
    /// A thread that owns a slot adds the entry to its slot's pending batch, which goes to
    /// crossbeam as one deferred function when it holds [`RETIRE_BATCH`] entries (followed by a
    /// flush, so that the batches do not pile up in the thread's crossbeam bag) or when the
    /// thread flushes (G1, decision 0010); a thread without a slot retires it alone.
    ///
    /// # Safety
    /// As for `retire_with`; `ptr` was allocated by `alloc_block` of this map and holds a live
    /// `T`, and `T`'s layout is the block layout given to `Reclaimer::new`.
    pub(crate) unsafe fn retire_block<T>(&self, ptr: *mut T) {
        // SAFETY: forwarded contract.
        let due = unsafe { self.retire_block_held(ptr) };
        self.flush_due(due);
    }

    /// [`retire_block`](Self::retire_block) for a thread that holds a chain lock: the flush that
    /// the retirement makes due is returned instead of run, for [`flush_due`](Self::flush_due)
    /// once the lock is released (G3).
    ///
    /// # Safety
    /// As for `retire_block`.
    pub(crate) unsafe fn retire_block_held<T>(&self, ptr: *mut T) -> FlushDue {
        debug_assert_eq!(Layout::new::<T>(), self.reclaimer.counters().pool.block);
        let Some(slot) = self.slot else {
            // A thread without a slot has no pending batch: it defers the entry as a batch of
            // one, so that every retired entry is freed through `defer_batch`'s function (G4).
            // An allocation per entry, on a path that already registers a participant per pin.
            count_garbage(None, self.reclaimer.counters(), 1);
            let mut batch = RetiredBatch::new::<T>();
            let _ = batch.push(ptr.cast());
            // SAFETY: G1: the entry is retired (forwarded contract), in this batch only; G2: a
            // block of this map holds its entry type (the layout check above).
            unsafe { self.defer_batch(batch) };
            return self.count_retired(false);
        };
        count_garbage(Some(slot), self.reclaimer.counters(), 1);
        // SAFETY: we own the slot (C1), and nothing else of ours borrows its pending batch now
        // (only this function and `defer_pending` touch it, neither reentrantly).
        let full = slot.pending.with_mut(|pending| unsafe {
            let pending = &mut *pending;
            let batch = pending.get_or_insert_with(|| RetiredBatch::new::<T>());
            // G2: every block of this map holds its entry type (the layout check above), so the
            // batch's `free` fits this entry too.
            if batch.push(ptr.cast()) {
                pending.take()
            } else {
                None
            }
        });
        let batch_deferred = full.is_some();
        if let Some(batch) = full {
            // SAFETY: G1: retired entries, taken out of the slot.
            unsafe { self.defer_batch(batch) };
        }
        self.count_retired(batch_deferred)
    }

    /// Hands a batch of retired entries to crossbeam as one deferred function.
    ///
    /// # Safety
    /// G1: the batch's entries are retired (`retire_with`'s contract for each) and in no other
    /// batch.
    unsafe fn defer_batch(&self, batch: Box<RetiredBatch>) {
        let counters: NonNull<Counters> = self.reclaimer.counters;
        let batch = Box::into_raw(batch);
        let destroy = move || {
            // SAFETY: deferred functions run at the latest while `Reclaimer::drop` drops the
            // collector, before it frees `counters`; the batch was leaked for this function.
            let (counters, batch) = unsafe { (counters.as_ref(), Box::from_raw(batch)) };
            if batch.drops && crate::sync::under_any_chain() {
                // G4: this thread runs a closure under a chain of some map, which the entries'
                // destructors may write to. Entries without drop glue run no code when freed,
                // so they never wait (a map of plain data written only from other maps'
                // closures would otherwise postpone every batch while it lives: a review in
                // session 31).
                counters.postpone(batch);
                return;
            }
            // SAFETY: crossbeam runs this after the grace period (G1).
            unsafe { batch.free_all(counters, counters.running_slot()) };
        };
        // SAFETY: crossbeam's contract for `defer_unchecked`, as in `retire_with`: the closure
        // frees only retired entries and touches the reclaimer's atomics, which outlive the
        // collector.
        unsafe { self.guard.defer_unchecked(destroy) };
    }

    /// Hands this thread's pending batch, if any, to crossbeam.
    fn defer_pending(&self) {
        let Some(slot) = self.slot else { return };
        // SAFETY: we own the slot (C1); no borrow of its pending batch is live.
        if let Some(batch) = unsafe { slot.take_pending() } {
            // SAFETY: G1: retired entries, taken out of the slot.
            unsafe { self.defer_batch(batch) };
        }
    }

    /// Moves this thread's retired objects (its pending batch, then its crossbeam bag) to the
    /// collector's queue and tries to free some: used after retiring a whole table, so that it
    /// does not wait in a per-thread bag, and by `Pinned::flush`.
    pub(crate) fn flush(&self) {
        self.defer_pending();
        self.guard.flush();
        if !crate::sync::under_any_chain() {
            self.reclaimer.counters().free_postponed();
        }
    }
}

impl Drop for Guard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped once, here, before the handle it was pinned on.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        if let Some(slot) = self.slot {
            let guards = &slot.guards;
            // ORDERING (load and store): Relaxed. Only the owner writes `guards` (C1).
            guards.store(guards.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        }
        if let Some(handle) = &mut self.temporary {
            // SAFETY: dropped once, here; the guard pinned on it is gone. Dropping the handle
            // moves its deferred bag to the collector's queue.
            unsafe { ManuallyDrop::drop(handle) };
            // ORDERING: Relaxed. See `temporary_live`.
            self.reclaimer
                .temporary_live
                .fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl core::fmt::Debug for Guard<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

/// Adds `delta` to the garbage tally (C3): on `slot`, which the calling thread owns (C1), or on
/// the shared part for a thread without a slot.
#[inline]
fn count_garbage(slot: Option<&HandleSlot>, counters: &Counters, delta: isize) {
    match slot {
        Some(slot) => {
            // ORDERING (load and store): Relaxed. Only the owner writes its part (C1), so a load
            // and a store make an update, with no RMW; nothing is published through the tally,
            // and readers of `garbage()` that joined the writers see every update through the
            // join.
            let garbage = slot.garbage.load(Ordering::Relaxed);
            slot.garbage.store(garbage + delta, Ordering::Relaxed);
        }
        None => {
            // ORDERING: Relaxed. A statistic (C3); many writers, hence an RMW.
            counters.garbage.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

/// [`recycle`] for a batch, which keeps its entries as untyped pointers.
///
/// # Safety
/// As for `recycle`, with `ptr` pointing to a `T`.
unsafe fn recycle_erased<T>(ptr: *mut u8, counters: &Counters, slot: Option<&HandleSlot>) {
    // SAFETY: forwarded.
    unsafe { recycle(ptr.cast::<T>(), counters, slot) }
}

/// The destructor of `retire_block`: drops the contents, then gives the block to `slot`, the
/// running thread's (if it owns one), or to the pool.
///
/// # Safety
/// `ptr` holds a live `T` in a block of the map's pool (K1), owned by nobody else; `slot` is the
/// running thread's own slot (C1).
unsafe fn recycle<T>(ptr: *mut T, counters: &Counters, slot: Option<&HandleSlot>) {
    /// Gives the block back when `recycle` ends, also when the drop below unwinds: drop glue
    /// drops the remaining fields while it unwinds, so the block is plain memory either way
    /// (until session 31 a panicking drop left its block out of the pool until the map
    /// dropped, and the chunks grew with every contained panic: found by a review). The
    /// caller contains the panic.
    struct GiveBlockBack<'a> {
        block: NonNull<u8>,
        counters: &'a Counters,
        slot: Option<&'a HandleSlot>,
    }
    impl Drop for GiveBlockBack<'_> {
        fn drop(&mut self) {
            let (block, pool) = (self.block, &self.counters.pool);
            match self.slot {
                // SAFETY: we own the slot (C1, K3), and `alloc_block` never holds this borrow
                // across a pin or flush, the only places destructors run; the block is a free
                // block of the pool now (K2).
                Some(slot) => slot
                    .blocks
                    .with_mut(|blocks| unsafe { (*blocks).free(block, pool) }),
                // SAFETY: as above.
                None => unsafe { pool.free_shared(block) },
            }
        }
    }
    let _give_back = GiveBlockBack {
        block: NonNull::new(ptr.cast::<u8>()).expect("an entry pointer is non-null"),
        counters,
        slot,
    };
    // SAFETY: the contract: a live, owned `T`; `_give_back` frees its block afterwards.
    unsafe { core::ptr::drop_in_place(ptr) };
}
