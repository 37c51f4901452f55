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
//! goes). Values retired by a map therefore never outlive it, whatever threads used it.
//!
//! # Handle slots
//! Pinning needs a `LocalHandle` (a participant registered with the collector). Registering one
//! per pin would allocate; keeping one per thread in a `thread_local` would keep the collector
//! (and the garbage parked in that handle's bag) alive after the map is dropped (moka#383). So
//! the map keeps a fixed table of slots, each a lazily registered handle plus an `owner`: the
//! first time a thread pins this map it claims a free slot (one CAS) and keeps it for its life;
//! later pins find the slot by a plain load of `owner` and cost only crossbeam's pin (one full
//! barrier). A thread gives its slots back when it exits (a thread-local list of the slots it
//! owns, each holding the slot table by `Arc`, so this works after the map is gone too). If no
//! slot is free (more live threads than slots), `pin` registers a temporary handle for that
//! guard. Pinning never blocks and never waits for another thread.
//!
//! # Recycled blocks
//! Entries are freed by [`Guard::retire_block`]: the destructor drops the key and value and keeps
//! the block in the running thread's slot (up to [`SPARE_BLOCKS`]) for its next inserts
//! ([`Guard::take_block`]). Reclamation frees in batches of 64, which overflows the allocator's
//! small per-thread cache; recycling keeps remove-and-insert workloads off its slow paths.
//!
//! # Garbage accounting
//! `garbage` counts retired objects not yet freed (exposed by `stats()`), so a test or benchmark
//! can check that garbage stays bounded under sustained writes.

use core::alloc::Layout;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;

use crossbeam_epoch as epoch;
use crossbeam_utils::CachePadded;

use std::sync::Arc;

use crate::sync::{AtomicUsize, Ordering, UnsafeCell};

/// One participant of the collector, owned by one thread at a time.
struct HandleSlot {
    /// The owning thread's `thread_token`, or 0 when free.
    owner: AtomicUsize,
    /// Live guards pinned on this slot's handle; written only by the owner (C1).
    guards: AtomicUsize,
    /// Registered on first use. Accessed only by the owner.
    handle: UnsafeCell<Option<epoch::LocalHandle>>,
    /// Freed entry blocks kept for the owner's next inserts (at most [`SPARE_BLOCKS`]), so that
    /// a remove-then-insert workload does not round-trip through the allocator. Accessed only by
    /// the owner (C1), or with exclusive access to the map.
    spare: UnsafeCell<Vec<NonNull<u8>>>,
}

/// Freed blocks a slot keeps for reuse.
const SPARE_BLOCKS: usize = 64;

/// The fewest handle slots a map gets, whatever the core count. A thread that finds every slot
/// owned pins through a temporary participant (a registration, an allocation and a global list
/// update per pin), so the table is sized for oversubscribed programs too: on the 2-core VM, 64
/// threads of `benches/wrappers.rs` ran at 0.09× the QPS of `SafeMap<RwLockBackend>` with 16
/// slots (48 threads on the temporary path) and at 1.12× with 64. Cost: 128 bytes per slot and
/// per counter stripe, 16 KiB per map at 64 slots.
#[cfg(not(loom))]
const MIN_SLOTS: usize = 64;

/// The slots, shared by the map and the thread-local lists of the threads owning slots (which
/// release them at thread exit, possibly after the map is gone).
struct SlotTable {
    slots: Box<[CachePadded<HandleSlot>]>,
}

// SAFETY: `handle` and `spare` are accessed only by the slot's owner (C1), handed over through
// `owner`'s Release store (at thread exit) and the next claimer's Acquire CAS; a `LocalHandle` is
// !Send only because crossbeam ties it to the thread using it, which C1 respects, and the spare
// blocks are plain memory of the map's entry layout. The map's drop takes both with exclusive
// access to the map (no guard alive, so no thread is using either).
unsafe impl Send for SlotTable {}
// SAFETY: as above.
unsafe impl Sync for SlotTable {}

/// The map's collector, its handle slots and its garbage counter.
///
/// # Invariants
/// - **C1** A slot's `handle` is accessed only by the thread whose token is in `owner` (from its
///   Acquire CAS of `owner` 0 → token until its Release store of 0), or with exclusive access to
///   the map (`Reclaimer::drop`).
/// - **C2** Every guard handed out comes from `collector` (through a slot's handle or a temporary
///   handle registered with it).
/// - **C3** `garbage` = objects passed to `retire_with` whose destructor has not run yet.
pub(crate) struct Reclaimer {
    collector: ManuallyDrop<epoch::Collector>,
    slots: Arc<SlotTable>,
    /// Counters the deferred destructors update. A separate allocation reached through a raw
    /// pointer (not a field), because destructors also run inside `Reclaimer::drop`, while
    /// `&mut self` forbids any other access to the reclaimer's own memory (Miri's Tree Borrows
    /// rejected the field version). Freed at the end of `drop`.
    counters: NonNull<Counters>,
}

/// See `Reclaimer::counters`.
pub(crate) struct Counters {
    /// C3.
    garbage: AtomicUsize,
    /// Destructors of retired objects that panicked (the panic was contained).
    drop_panics: AtomicUsize,
    /// The slot table, for destructors that give a block back to the running thread's slot.
    slots: *const SlotTable,
    /// The layout of the blocks `retire_block` recycles (the map's entry type).
    block: Layout,
}

impl Reclaimer {
    /// A new collector with `slots` handle slots (rounded up to a power of two).
    pub(crate) fn new(slots: usize, block: Layout) -> Self {
        let slots = slots.clamp(1, 1024).next_power_of_two();
        let slots = Arc::new(SlotTable {
            slots: (0..slots)
                .map(|_| {
                    CachePadded::new(HandleSlot {
                        owner: AtomicUsize::new(0),
                        guards: AtomicUsize::new(0),
                        handle: UnsafeCell::new(None),
                        spare: UnsafeCell::new(Vec::new()),
                    })
                })
                .collect(),
        });
        let counters = NonNull::from(Box::leak(Box::new(Counters {
            garbage: AtomicUsize::new(0),
            drop_panics: AtomicUsize::new(0),
            slots: Arc::as_ptr(&slots),
            block,
        })));
        Self {
            collector: ManuallyDrop::new(epoch::Collector::new()),
            slots,
            counters,
        }
    }

    /// The default number of slots: four per available core, at least [`MIN_SLOTS`].
    pub(crate) fn default_slots() -> usize {
        #[cfg(loom)]
        {
            4
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
    pub(crate) fn pin(&self) -> Guard<'_> {
        let token = crate::sync::thread_token();
        let slots = &self.slots.slots;
        let mask = slots.len() - 1;
        for i in 0..slots.len() {
            let index = (token + i) & mask;
            let slot = &slots[index];
            // ORDERING: Relaxed. Only this thread stores its own token (and removes it at its
            // exit), so seeing it means we own the slot; C1's handover was acquired by our CAS.
            let owner = slot.owner.load(Ordering::Relaxed);
            let ours = owner == token
                || (owner == 0
                    // ORDERING: Acquire on success: the previous owner's uses of the handle
                    // happen before ours. Pairs with [P8]: `release_owned_slots`. Relaxed on
                    // failure: nothing is read.
                    && slot
                        .owner
                        .compare_exchange(0, token, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    && {
                        remember_owned(&self.slots, index);
                        true
                    });
            if ours {
                // ORDERING (load and store): Relaxed. Only the owner writes `guards` (C1); the
                // owner reads it back at thread exit.
                let guards = slot.guards.load(Ordering::Relaxed);
                slot.guards.store(guards + 1, Ordering::Relaxed);
                let guard = slot.handle.with_mut(|handle| {
                    // SAFETY: we own the slot (C1); nested pins of this thread reuse the handle,
                    // which crossbeam supports (it counts guards per handle).
                    let handle = unsafe { &mut *handle };
                    handle
                        .get_or_insert_with(|| self.collector.register())
                        .pin()
                });
                return Guard {
                    guard: ManuallyDrop::new(guard),
                    slot: Some(index),
                    retired: core::cell::Cell::new(0),
                    temporary: None,
                    reclaimer: self,
                };
            }
        }
        // Every slot is owned by another thread: a temporary participant (C2).
        let handle = self.collector.register();
        let guard = handle.pin();
        Guard {
            guard: ManuallyDrop::new(guard),
            slot: None,
            retired: core::cell::Cell::new(0),
            temporary: Some(ManuallyDrop::new(handle)),
            reclaimer: self,
        }
    }

    /// Number of handle slots.
    pub(crate) fn slots(&self) -> usize {
        self.slots.slots.len()
    }

    fn counters(&self) -> &Counters {
        // SAFETY: allocated in `new`, freed only at the end of `drop`.
        unsafe { self.counters.as_ref() }
    }

    /// Retired objects not freed yet (C3).
    pub(crate) fn garbage(&self) -> usize {
        // ORDERING: Relaxed. A statistic.
        self.counters().garbage.load(Ordering::Relaxed)
    }

    /// Destructors of retired objects that panicked.
    pub(crate) fn drop_panics(&self) -> usize {
        // ORDERING: Relaxed. A statistic.
        self.counters().drop_panics.load(Ordering::Relaxed)
    }
}

/// Records that this thread owns slot `index` of `slots`, so that it gives it back at exit.
#[cfg(not(loom))]
fn remember_owned(slots: &Arc<SlotTable>, index: usize) {
    OWNED.with(|owned| {
        let mut owned = owned.borrow_mut();
        // Forget the slots of maps that are gone (only our entry keeps their table alive).
        owned.0.retain(|(table, _)| Arc::strong_count(table) > 1);
        owned.0.push((Arc::clone(slots), index));
    });
}

/// Gives back every slot the calling thread owns, as its exit does. For `crate::sched`, whose
/// logical threads end while their pooled OS thread lives on.
#[cfg(all(feature = "sched", not(loom)))]
pub(crate) fn release_thread_slots() {
    let owned = OWNED.with(|owned| core::mem::take(&mut owned.borrow_mut().0));
    drop(OwnedSlots(owned));
}

/// Under loom threads never give slots back (a model has fewer threads than slots).
#[cfg(loom)]
fn remember_owned(_slots: &Arc<SlotTable>, _index: usize) {}

/// The slots this thread owns, given back when it exits.
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
            let slot = &table.slots[index];
            // A guard of this thread kept in another thread-local that is not destroyed yet
            // still uses the handle: keep the slot (leaked to this dead thread) rather than hand
            // over a pinned handle. This reads `guards`, never `handle`: the map may be being
            // dropped right now on another thread (a scoped thread's TLS destructors run after
            // its scope has been joined), and its drop takes the handles (Miri found that race).
            // ORDERING: Relaxed. Only this thread writes `guards` (C1).
            if slot.guards.load(Ordering::Relaxed) == 0 {
                // ORDERING: Release. Our uses of the handle happen before the next owner's.
                // Pairs with [P8]: the claiming CAS in `Reclaimer::pin`.
                slot.owner.store(0, Ordering::Release);
            }
        }
    }
}

impl Drop for Reclaimer {
    fn drop(&mut self) {
        // `&mut self`: no guard is alive (guards borrow the reclaimer), so no thread is using a
        // handle, whoever owns its slot (C1's exclusive-access case).
        for slot in self.slots.slots.iter() {
            // SAFETY: exclusive access, as just argued.
            slot.handle
                .with_mut(|handle| drop(unsafe { (*handle).take() }));
        }
        // SAFETY: dropped once, here. With every handle gone this is the collector's last
        // reference: crossbeam then runs every deferred destructor still queued (C3 reaches 0)
        // before this function returns, while `counters` is still alive.
        unsafe { ManuallyDrop::drop(&mut self.collector) };
        debug_assert_eq!(
            self.garbage(),
            0,
            "every retired object is freed with the map"
        );
        let block = self.counters().block;
        for slot in self.slots.slots.iter() {
            // SAFETY: exclusive access (no guard, no deferred destructor left to run).
            let spare = slot
                .spare
                .with_mut(|spare| core::mem::take(unsafe { &mut *spare }));
            for ptr in spare {
                // SAFETY: every spare block was allocated with `block` (the entry layout, by
                // `Box::new`) and is owned by nobody else.
                unsafe { std::alloc::dealloc(ptr.as_ptr(), block) };
            }
        }
        // SAFETY: from `Box::leak` in `new`; the last deferred destructor that used it has run.
        drop(unsafe { Box::from_raw(self.counters.as_ptr()) });
    }
}

impl core::fmt::Debug for Reclaimer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reclaimer")
            .field("slots", &self.slots.slots.len())
            .field("garbage", &self.garbage())
            .finish()
    }
}

/// Objects a guard retires between two flushes: one crossbeam bag.
const FLUSH_EVERY: u32 = 64;

/// A pinned critical section of one map. `!Send`: it stays on the thread that pinned.
pub(crate) struct Guard<'r> {
    guard: ManuallyDrop<epoch::Guard>,
    /// The handle slot this guard's thread owns, if it is pinned on one (C1).
    slot: Option<usize>,
    /// Objects retired through this guard since its last flush.
    retired: core::cell::Cell<u32>,
    /// The handle the guard is pinned on, when it is not a slot's.
    temporary: Option<ManuallyDrop<epoch::LocalHandle>>,
    reclaimer: &'r Reclaimer,
}

impl Guard<'_> {
    /// Hands `ptr` to the collector: once every guard that could have loaded it has been
    /// dropped, `free` receives it as a `Box<T>` (and the reclaimer's counters).
    ///
    /// # Safety
    /// - `ptr` came from `Box::into_raw` (or is a block of `T`'s layout that `new_entry` filled)
    ///   and is retired once;
    /// - it is unreachable from the map: every location from which a new reader could load it
    ///   was overwritten (or is unreachable itself) before this call, so only threads pinned
    ///   now can hold it;
    /// - running `free` on any thread, at any later time before the map is dropped, is sound
    ///   (the map's `Send`/`Sync` bounds on `K` and `V` provide this for entries).
    pub(crate) unsafe fn retire_with<T>(&self, ptr: *mut T, free: fn(Box<T>, &Counters)) {
        // ORDERING: Relaxed. A statistic (C3).
        self.reclaimer
            .counters()
            .garbage
            .fetch_add(1, Ordering::Relaxed);
        let counters: NonNull<Counters> = self.reclaimer.counters;
        let destroy = move || {
            // A panicking destructor must not unwind into crossbeam's collector: it would abort
            // the process when the bag drops its other deferred functions during unwinding.
            // SAFETY: deferred functions run at the latest while `Reclaimer::drop` drops the
            // collector, before it frees `counters`.
            let counters = unsafe { counters.as_ref() };
            // SAFETY: the contract above: sole owner, unreachable, droppable here.
            let outcome = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| unsafe {
                free(Box::from_raw(ptr), counters);
            }));
            if outcome.is_err() {
                // ORDERING: Relaxed. A statistic.
                counters.drop_panics.fetch_add(1, Ordering::Relaxed);
            }
            // ORDERING: Relaxed. A statistic (C3).
            counters.garbage.fetch_sub(1, Ordering::Relaxed);
        };
        // SAFETY: crossbeam's contract for `defer_unchecked`: the closure may run on another
        // thread after every currently pinned participant unpins, or when the collector drops.
        // It only frees an object that is unreachable (contract above) and touches the
        // reclaimer's atomics, which outlive the collector.
        unsafe { self.guard.defer_unchecked(destroy) };
        // crossbeam collects on its own only every 128 pins, and then at most 8 bags of 64: a
        // view that retires more than about 4 objects per pin (a batch of writes under one
        // pin) would outrun it and garbage would grow without bound. So every full bag's worth
        // retired through one guard is handed to the collector, which also collects.
        let retired = self.retired.get() + 1;
        if retired >= FLUSH_EVERY {
            self.retired.set(0);
            self.guard.flush();
        } else {
            self.retired.set(retired);
        }
    }

    /// The handle slot this guard's thread owns (C1), or `None` for a temporary handle. Other
    /// per-thread state (the count's stripes) is indexed by it.
    #[inline]
    pub(crate) fn slot(&self) -> Option<usize> {
        self.slot
    }

    /// A freed block of the map's entry layout, if this thread's slot kept one.
    #[inline]
    pub(crate) fn take_block(&self) -> Option<NonNull<u8>> {
        let index = self.slot?;
        let slot = &self.reclaimer.slots.slots[index];
        // SAFETY: we own the slot (C1), and nothing else of ours borrows `spare` now (destructors
        // that push to it run inside `pin`/`flush`, never while this borrow lives).
        slot.spare.with_mut(|spare| unsafe { (*spare).pop() })
    }

    /// [`retire_with`](Self::retire_with) for an object whose block has the map's block layout: once it is
    /// unreachable its contents are dropped and its block is kept by the slot of the thread that
    /// runs the destructor (or freed, if that thread owns no slot or its slot is full).
    ///
    /// # Safety
    /// As for `retire_with`; and `size_of::<T>()` / `align_of::<T>()` are those of the block layout
    /// given to `Reclaimer::new`.
    pub(crate) unsafe fn retire_block<T>(&self, ptr: *mut T) {
        debug_assert_eq!(Layout::new::<T>(), self.reclaimer.counters().block);
        // SAFETY: forwarded contract; `recycle` drops the contents in place and keeps or frees
        // the block, which is what dropping the box would do.
        unsafe { self.retire_with(ptr, recycle::<T>) }
    }

    /// Moves this thread's deferred objects to the collector's queue and tries to free some: used
    /// after retiring a whole table, so that it does not wait in a per-thread bag.
    pub(crate) fn flush(&self) {
        self.guard.flush();
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // SAFETY: dropped once, here, before the handle it was pinned on.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        if let Some(index) = self.slot {
            let guards = &self.reclaimer.slots.slots[index].guards;
            // ORDERING (load and store): Relaxed. Only the owner writes `guards` (C1).
            guards.store(guards.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        }
        if let Some(handle) = &mut self.temporary {
            // SAFETY: dropped once, here; the guard pinned on it is gone. Dropping the handle
            // moves its deferred bag to the collector's queue.
            unsafe { ManuallyDrop::drop(handle) };
        }
    }
}

impl core::fmt::Debug for Guard<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

/// The destructor of `retire_block`: drops the contents, then keeps the block in the running
/// thread's slot (if it owns one with room) or frees it.
fn recycle<T>(boxed: Box<T>, counters: &Counters) {
    let raw = Box::into_raw(boxed);
    // SAFETY: `raw` is a live, owned `T` (it was a box a moment ago); after this its memory is a
    // plain block of `T`'s layout. A panic here leaks the block (the caller contains it).
    unsafe { core::ptr::drop_in_place(raw) };
    let block = NonNull::new(raw.cast::<u8>()).expect("Box is non-null");
    // SAFETY: the slot table outlives every deferred destructor (the reclaimer holds it until
    // after its collector is dropped).
    let table = unsafe { &*counters.slots };
    let token = crate::sync::thread_token();
    let mask = table.slots.len() - 1;
    // The running thread is pinned on this map (crossbeam runs destructors from a participant's
    // pin or flush) or is dropping it; its slot is usually the first probe.
    for i in 0..table.slots.len() {
        let slot = &table.slots[(token + i) & mask];
        // ORDERING: Relaxed. Only this thread stores its own token (C1).
        if slot.owner.load(Ordering::Relaxed) == token {
            // SAFETY: we own the slot (C1); `take_block` never holds this borrow across a pin or
            // flush, the only places destructors run.
            let kept = slot.spare.with_mut(|spare| unsafe {
                let spare = &mut *spare;
                if spare.len() < SPARE_BLOCKS {
                    spare.push(block);
                    true
                } else {
                    false
                }
            });
            if kept {
                return;
            }
            break;
        }
    }
    // SAFETY: allocated by `Box::new::<T>`, i.e. with `T`'s layout; owned by nobody now.
    unsafe { std::alloc::dealloc(block.as_ptr(), Layout::new::<T>()) };
}
