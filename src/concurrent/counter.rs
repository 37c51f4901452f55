//! The entry count, exact and cheap to update.
//!
//! Every insert of a new key adds 1 and every removal subtracts 1. Updating one shared atomic
//! would make every writer on every core fight over one cache line, and even a private atomic
//! RMW is a full barrier on x86. So the count has one stripe per handle slot of the map's
//! reclaimer (`reclaim.rs`): a slot belongs to one thread at a time (C1), so its stripe has a
//! single writer, which updates it with a plain load and store, no RMW. Guards without a slot
//! (temporary handles) use a shared stripe with `fetch_add`.
//!
//! `len` sums the stripes: exact whenever no write is in flight, O(number of slots), a number
//! fixed when the map is made. The growth trigger needs the count often and only roughly, so
//! each stripe also batches its changes into one shared approximation (`approx`), flushed every
//! [`BATCH`] changes: O(1) to read, off by less than `BATCH` per writing thread.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicIsize, Ordering};

/// Changes a stripe accumulates before adding them to the shared approximation.
pub(crate) const BATCH: isize = 32;

/// One stripe: the exact count of its writer and the part not yet in `approx`.
#[derive(Default)]
struct Stripe {
    exact: AtomicIsize,
    pending: AtomicIsize,
}

/// The striped count.
///
/// # Invariants
/// - **N1** Stripe `i < slots` is written only by the thread that owns handle slot `i` (C1), so
///   its load-then-store updates are never lost; the last stripe is shared and updated by RMW.
/// - **N2** The sum of the `exact` fields equals inserts of new keys minus removals completed
///   so far (a stripe may be negative: a key inserted on one stripe can be removed on another).
/// - **N3** `approx` + the sum of the `pending` fields = the sum of the `exact` fields.
pub(crate) struct Counter {
    stripes: Box<[CachePadded<Stripe>]>,
    approx: CachePadded<AtomicIsize>,
}

impl Counter {
    /// A counter for a reclaimer with `slots` handle slots (one stripe each, plus a shared one).
    pub(crate) fn new(slots: usize) -> Self {
        Self {
            stripes: (0..=slots)
                .map(|_| CachePadded::new(Stripe::default()))
                .collect(),
            approx: CachePadded::new(AtomicIsize::new(0)),
        }
    }

    /// Adds `delta` on the stripe of handle slot `slot` (its owner calls this), or on the shared
    /// stripe for `None`. Returns true when the change reached `approx`: a good moment to look at
    /// the load factor.
    #[inline]
    pub(crate) fn add(&self, slot: Option<usize>, delta: isize) -> bool {
        match slot {
            Some(index) => {
                let stripe = &self.stripes[index];
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
                let shared = &self.stripes[self.stripes.len() - 1];
                // ORDERING: Relaxed. As above; the shared stripe has many writers, hence RMWs.
                shared.exact.fetch_add(delta, Ordering::Relaxed);
                // ORDERING: Relaxed. N3 (the shared stripe keeps nothing pending).
                self.approx.fetch_add(delta, Ordering::Relaxed);
                true
            }
        }
    }

    /// The exact sum, clamped at 0 (a sum read while removals race with inserts on other
    /// stripes can be transiently negative).
    pub(crate) fn sum(&self) -> usize {
        let total: isize = self
            .stripes
            .iter()
            // ORDERING: Relaxed. See `add`.
            .map(|stripe| stripe.exact.load(Ordering::Relaxed))
            .sum();
        usize::try_from(total).unwrap_or(0)
    }

    /// The approximation for the growth trigger: the sum minus what writers have not flushed
    /// yet (less than `BATCH` per stripe), clamped at 0.
    pub(crate) fn approx(&self) -> usize {
        // ORDERING: Relaxed. A heuristic.
        usize::try_from(self.approx.load(Ordering::Relaxed)).unwrap_or(0)
    }
}
