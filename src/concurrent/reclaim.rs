//! Reclamation: the only file that names `crossbeam_epoch` (style.md §2).
//!
//! The rest of `concurrent/` speaks three verbs: [`Reclaimer::pin`] (a reader or writer enters
//! a critical section and gets a [`Guard`]), loads of pointers while the guard lives, and
//! [`Guard::retire`] (an object unlinked from every root is freed once every guard that could
//! have seen it is gone).
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
//! the map keeps a fixed array of slots, each a lazily registered handle plus a `busy` flag:
//! `pin` takes the slot its thread prefers (a per-thread hint), or any free one, and gives it
//! back when the guard drops. A handle is thus used by one thread at a time, with the slot's
//! Acquire/Release flag ordering each user after the previous one. If every slot is busy
//! (more concurrent pins than slots, or nested pins), `pin` registers a temporary handle for
//! that guard. Pinning never blocks and never waits for another thread.
//!
//! # Garbage accounting
//! `garbage` counts retired objects not yet freed (exposed by `stats()`), so a test or benchmark
//! can check that garbage stays bounded under sustained writes.

use core::mem::ManuallyDrop;

use crossbeam_epoch as epoch;
use crossbeam_utils::CachePadded;

use crate::sync::{AtomicBool, AtomicUsize, Ordering, UnsafeCell};

/// One reusable participant of the collector.
struct HandleSlot {
    /// Someone holds this slot's handle (inside a live [`Guard`]).
    busy: AtomicBool,
    /// Registered on first use. Accessed only by the thread that set `busy`.
    handle: UnsafeCell<Option<epoch::LocalHandle>>,
}

/// The map's collector, its handle slots and its garbage counter.
///
/// # Invariants
/// - **C1** `handle` of a slot is accessed only by the thread that swapped its `busy` flag from
///   false to true, until it stores false again.
/// - **C2** Every guard handed out comes from `collector` (through a slot's handle or a temporary
///   handle registered with it).
/// - **C3** `garbage` = objects passed to `retire` whose destructor has not run yet.
pub(crate) struct Reclaimer {
    collector: ManuallyDrop<epoch::Collector>,
    slots: Box<[CachePadded<HandleSlot>]>,
    garbage: AtomicUsize,
    /// Destructors of retired objects that panicked (the panic was contained).
    drop_panics: AtomicUsize,
}

// SAFETY: the handles are used by one thread at a time (C1), handed over through the slot's
// Acquire/Release `busy` flag; a `LocalHandle` is !Send only because crossbeam ties it to the
// thread that uses it, which C1 respects for the duration of each use. Everything else is atomics
// or the collector, which is Send + Sync.
unsafe impl Send for Reclaimer {}
// SAFETY: as above.
unsafe impl Sync for Reclaimer {}

impl Reclaimer {
    /// A new collector with `slots` handle slots (rounded up to a power of two).
    pub(crate) fn new(slots: usize) -> Self {
        let slots = slots.clamp(1, 1024).next_power_of_two();
        Self {
            collector: ManuallyDrop::new(epoch::Collector::new()),
            slots: (0..slots)
                .map(|_| {
                    CachePadded::new(HandleSlot {
                        busy: AtomicBool::new(false),
                        handle: UnsafeCell::new(None),
                    })
                })
                .collect(),
            garbage: AtomicUsize::new(0),
            drop_panics: AtomicUsize::new(0),
        }
    }

    /// The default number of slots: two per available core.
    pub(crate) fn default_slots() -> usize {
        #[cfg(loom)]
        {
            4
        }
        #[cfg(not(loom))]
        {
            std::thread::available_parallelism().map_or(8, |n| 2 * n.get())
        }
    }

    /// Enters a critical section: pointers loaded from the map stay valid until the guard drops.
    pub(crate) fn pin(&self) -> Guard<'_> {
        let mask = self.slots.len() - 1;
        let start = crate::sync::thread_hint();
        for i in 0..self.slots.len() {
            let slot = &self.slots[(start + i) & mask];
            // ORDERING: Acquire on taking the slot: the previous user's accesses to the handle
            // happen before ours. Pairs with [P9]: `Guard::drop` releasing the slot.
            if !slot.busy.swap(true, Ordering::Acquire) {
                let guard = slot.handle.with_mut(|handle| {
                    // SAFETY: we own the slot (C1) until `Guard::drop` releases it.
                    let handle = unsafe { &mut *handle };
                    handle
                        .get_or_insert_with(|| self.collector.register())
                        .pin()
                });
                return Guard {
                    guard: ManuallyDrop::new(guard),
                    owner: Owner::Slot(&slot.busy),
                    reclaimer: self,
                };
            }
        }
        // Every slot is busy: a temporary participant (C2).
        let handle = self.collector.register();
        let guard = handle.pin();
        Guard {
            guard: ManuallyDrop::new(guard),
            owner: Owner::Temporary(ManuallyDrop::new(handle)),
            reclaimer: self,
        }
    }

    /// Retired objects not freed yet (C3).
    pub(crate) fn garbage(&self) -> usize {
        // ORDERING: Relaxed. A statistic.
        self.garbage.load(Ordering::Relaxed)
    }

    /// Destructors of retired objects that panicked.
    pub(crate) fn drop_panics(&self) -> usize {
        // ORDERING: Relaxed. A statistic.
        self.drop_panics.load(Ordering::Relaxed)
    }
}

impl Drop for Reclaimer {
    fn drop(&mut self) {
        // `&mut self`: no guard is alive (guards borrow the reclaimer), so every slot is free.
        for slot in self.slots.iter() {
            // SAFETY: exclusive access (C1 holds trivially).
            slot.handle
                .with_mut(|handle| drop(unsafe { (*handle).take() }));
        }
        // SAFETY: dropped once, here. With every handle gone this is the collector's last
        // reference: crossbeam then runs every deferred destructor still queued (C3 reaches 0)
        // before this function returns, while `garbage` is still alive.
        unsafe { ManuallyDrop::drop(&mut self.collector) };
        debug_assert_eq!(
            self.garbage(),
            0,
            "every retired object is freed with the map"
        );
    }
}

impl core::fmt::Debug for Reclaimer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reclaimer")
            .field("slots", &self.slots.len())
            .field("garbage", &self.garbage())
            .finish()
    }
}

enum Owner<'r> {
    /// The guard's handle lives in a slot; release the flag on drop.
    Slot(&'r AtomicBool),
    /// The guard's handle is its own; drop it after the guard.
    Temporary(ManuallyDrop<epoch::LocalHandle>),
}

/// A pinned critical section of one map. `!Send`: it stays on the thread that pinned.
pub(crate) struct Guard<'r> {
    guard: ManuallyDrop<epoch::Guard>,
    owner: Owner<'r>,
    reclaimer: &'r Reclaimer,
}

impl Guard<'_> {
    /// Hands `ptr` to the collector: it is dropped (as a `Box<T>`) once every guard that could
    /// have loaded it has been dropped.
    ///
    /// # Safety
    /// - `ptr` came from `Box::into_raw` and is retired once;
    /// - it is unreachable from the map: every location from which a new reader could load it
    ///   was overwritten (or is unreachable itself) before this call, so only threads pinned
    ///   now can hold it;
    /// - dropping a `T` on any thread, at any later time before the map is dropped, is sound
    ///   (the map's `Send`/`Sync` bounds on `K` and `V` provide this for entries).
    pub(crate) unsafe fn retire<T>(&self, ptr: *mut T) {
        // SAFETY: forwarded contract; dropping the box is the plain destructor.
        unsafe { self.retire_with(ptr, drop::<Box<T>>) }
    }

    /// [`retire`](Self::retire) with a custom destructor for the box (`free` receives it).
    ///
    /// # Safety
    /// As for `retire`, with `free` in place of dropping the box.
    pub(crate) unsafe fn retire_with<T>(&self, ptr: *mut T, free: fn(Box<T>)) {
        // ORDERING: Relaxed. A statistic (C3).
        self.reclaimer.garbage.fetch_add(1, Ordering::Relaxed);
        let counters: *const Reclaimer = self.reclaimer;
        let destroy = move || {
            // A panicking destructor must not unwind into crossbeam's collector: it would abort
            // the process when the bag drops its other deferred functions during unwinding.
            // SAFETY: the contract above: sole owner, unreachable, droppable here.
            let outcome = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| unsafe {
                free(Box::from_raw(ptr));
            }));
            // SAFETY: deferred functions run before the reclaimer's collector is dropped
            // (`Reclaimer::drop`), so the reclaimer is alive; it does not move (the map keeps it
            // boxed).
            let reclaimer = unsafe { &*counters };
            if outcome.is_err() {
                // ORDERING: Relaxed. A statistic.
                reclaimer.drop_panics.fetch_add(1, Ordering::Relaxed);
            }
            // ORDERING: Relaxed. A statistic (C3).
            reclaimer.garbage.fetch_sub(1, Ordering::Relaxed);
        };
        // SAFETY: crossbeam's contract for `defer_unchecked`: the closure may run on another
        // thread after every currently pinned participant unpins, or when the collector drops.
        // It only frees an object that is unreachable (contract above) and touches the
        // reclaimer's atomics, which outlive the collector.
        unsafe { self.guard.defer_unchecked(destroy) };
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
        match &mut self.owner {
            Owner::Slot(busy) => {
                // ORDERING: Release. Our uses of the slot's handle happen before the next
                // owner's. Pairs with [P9]: `Reclaimer::pin`.
                busy.store(false, Ordering::Release);
            }
            Owner::Temporary(handle) => {
                // SAFETY: dropped once, here; the guard pinned on it is gone. Dropping the handle
                // moves its deferred bag to the collector's queue.
                unsafe { ManuallyDrop::drop(handle) };
            }
        }
    }
}

impl core::fmt::Debug for Guard<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}
