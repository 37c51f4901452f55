//! The entry count, exact and cheap to update.
//!
//! Every insert of a new key adds 1 and every removal subtracts 1. Updating one shared atomic
//! would make every writer on every core fight over one cache line, and even a private atomic
//! RMW is a full barrier on x86. So the count has one [`Stripe`] per handle slot of the map's
//! reclaimer, stored inside the slot (`reclaim.rs`): a slot belongs to one thread at a time
//! (C1), so its stripe has a single writer, which updates it with a plain load and store, no
//! RMW. Guards without a slot (temporary handles, used only once the slot table is full at its
//! cap) use a shared stripe with `fetch_add`.
//!
//! `len` sums the stripes of every allocated slot and the shared one: exact whenever no write is
//! in flight, O(slots allocated). The slot table grows with the number of threads that use the
//! map at once, so that cost grows with the peak number of live threads that ever used it (64
//! slots at least, 4 per core; never shrinks while the map lives). The growth trigger needs
//! the count often and only roughly, so each stripe also batches its changes into one shared
//! approximation (`approx`), flushed every [`BATCH`] changes and when its thread gives the slot
//! back at exit ([`Counter::fold`]): O(1) to read; a thread reading it adds its own stripe's
//! unflushed changes, so it is off by less than `BATCH` per other live thread that holds
//! unflushed changes (exact when no other live thread does, e.g. with one writer). The growth
//! trigger confirms with the exact count before it chooses a same-size growth
//! (`RawMap::needs_growth`), because with hundreds of threads that error is not small.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicIsize, Ordering};

/// Changes a stripe accumulates before adding them to the shared approximation.
pub(crate) const BATCH: isize = 32;

/// One slot's stripe: the exact count of its writer and the part not yet in `approx`. Lives in
/// a handle slot (`reclaim.rs`), on the owner's cache line.
#[derive(Default)]
pub(crate) struct Stripe {
    exact: AtomicIsize,
    pending: AtomicIsize,
}

/// The parts of the count that are not per slot.
///
/// # Invariants
/// - **N1** A slot's stripe is written only by the thread that owns the slot (C1; handed over
///   with the slot, P8), so its load-then-store updates are never lost; `shared` is updated by
///   RMW only.
/// - **N2** The sum of the `exact` fields of every allocated slot's stripe, plus `shared`,
///   equals inserts of new keys minus removals completed so far (a stripe may be negative: a
///   key inserted on one stripe can be removed on another). A slot allocated later starts at 0
///   (P9 publishes its zeroed stripe).
/// - **N3** `approx` + the sum of the `pending` fields = the sum of the `exact` fields + `shared`.
pub(crate) struct Counter {
    /// The stripe of guards without a slot (temporary handles).
    shared: CachePadded<AtomicIsize>,
    approx: CachePadded<AtomicIsize>,
}

impl Counter {
    /// A zero count (its per-slot stripes live in the reclaimer's slots).
    pub(crate) fn new() -> Self {
        Self {
            shared: CachePadded::new(AtomicIsize::new(0)),
            approx: CachePadded::new(AtomicIsize::new(0)),
        }
    }

    /// Adds `delta` on `stripe`, the stripe of the caller's own handle slot, or on the shared
    /// stripe for `None`. Returns true when the change reached `approx`: a good moment to look
    /// at the load factor.
    #[inline]
    pub(crate) fn add(&self, stripe: Option<&Stripe>, delta: isize) -> bool {
        match stripe {
            Some(stripe) => {
                // ORDERING (both loads and stores): Relaxed. N1: we are the only writer, so a
                // load and a store make an increment; nothing is published through the count
                // (entries are published by their slots), and `len` readers that joined the
                // writers see every update through the join.
                let exact = stripe.exact.load(Ordering::Relaxed);
                stripe.exact.store(exact + delta, Ordering::Relaxed);
                let pending = stripe.pending.load(Ordering::Relaxed) + delta;
                if pending.abs() >= BATCH {
                    stripe.pending.store(0, Ordering::Relaxed);
                    // ORDERING: Relaxed. A growth heuristic; N3.
                    self.approx.fetch_add(pending, Ordering::Relaxed);
                    true
                } else {
                    stripe.pending.store(pending, Ordering::Relaxed);
                    false
                }
            }
            None => {
                // ORDERING: Relaxed. As above; the shared stripe has many writers, hence RMWs.
                self.shared.fetch_add(delta, Ordering::Relaxed);
                // ORDERING: Relaxed. N3 (the shared stripe keeps nothing pending).
                self.approx.fetch_add(delta, Ordering::Relaxed);
                true
            }
        }
    }

    /// The exact sum over `stripes` (every allocated slot's, from `Reclaimer::stripes`) and the
    /// shared stripe, clamped at 0 (a sum read while removals race with inserts on other stripes
    /// can be transiently negative). O(slots allocated).
    pub(crate) fn sum<'s>(&self, stripes: impl Iterator<Item = &'s Stripe>) -> usize {
        // ORDERING: Relaxed. See `add`.
        let shared = self.shared.load(Ordering::Relaxed);
        let total: isize = stripes
            // ORDERING: Relaxed. See `add`.
            .map(|stripe| stripe.exact.load(Ordering::Relaxed))
            .sum();
        usize::try_from(total + shared).unwrap_or(0)
    }

    /// Adds what `stripe` has not flushed to `approx` (N3 holds): its owner, the caller, is
    /// giving the slot back at thread exit, and the next owner may not write for a long time.
    pub(crate) fn fold(&self, stripe: &Stripe) {
        // ORDERING: Relaxed (all three). N1: the caller owns the stripe; the give-back's Release
        // store hands it over. A growth heuristic, as in `add`.
        let pending = stripe.pending.load(Ordering::Relaxed);
        if pending != 0 {
            stripe.pending.store(0, Ordering::Relaxed);
            self.approx.fetch_add(pending, Ordering::Relaxed);
        }
    }

    /// For the invariant checker, on a quiescent map: the unclamped sum of the `exact` fields of
    /// `stripes` (every allocated slot's) and `shared` (N2's left side), and `approx` plus the
    /// `pending` fields (N3's left side).
    #[cfg(any(test, fuzzing, feature = "invariants", feature = "sched"))]
    pub(crate) fn quiescent_totals<'s>(
        &self,
        stripes: impl Iterator<Item = &'s Stripe>,
    ) -> (isize, isize) {
        // ORDERING: Relaxed (all). The caller joined every writer (quiescent map).
        let mut exact = self.shared.load(Ordering::Relaxed);
        // ORDERING: Relaxed. As above.
        let mut approx = self.approx.load(Ordering::Relaxed);
        for stripe in stripes {
            // ORDERING: Relaxed (both). As above.
            exact += stripe.exact.load(Ordering::Relaxed);
            approx += stripe.pending.load(Ordering::Relaxed);
        }
        (exact, approx)
    }

    /// The approximation for the growth trigger: the shared approximation plus what the
    /// caller's own stripe `own` has not flushed yet, clamped at 0. Exact when no other live
    /// thread holds unflushed changes; otherwise off by less than `BATCH` per such thread.
    /// `own` must be the caller's stripe (N1: only its owner writes it, so the load sees its
    /// latest value).
    pub(crate) fn approx(&self, own: Option<&Stripe>) -> usize {
        // ORDERING: Relaxed (both). A heuristic; `own.pending` was last stored by this thread.
        let approx = self.approx.load(Ordering::Relaxed);
        let pending = own.map_or(0, |stripe| stripe.pending.load(Ordering::Relaxed));
        usize::try_from(approx + pending).unwrap_or(0)
    }
}
