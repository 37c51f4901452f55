//! The entry count: striped, so that writers on different cores do not fight over one cache
//! line, and exact: every insert of a new key adds 1 and every removal subtracts 1, under the
//! chain's lock, so the sum over the stripes is the number of entries whenever no write is in
//! flight. Reading it costs one load per stripe, a number fixed when the map is made (O(1) in
//! the number of entries).

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicIsize, Ordering};

/// A striped counter.
///
/// # Invariants
/// - **N1** `stripes.len()` is a power of two.
/// - **N2** The sum of the stripes equals inserts of new keys minus removals completed so far
///   (a stripe may be negative: a key inserted on one stripe can be removed on another).
pub(crate) struct Counter {
    stripes: Box<[CachePadded<AtomicIsize>]>,
}

impl Counter {
    /// A counter with `stripes` stripes (rounded up to a power of two, N1).
    pub(crate) fn new(stripes: usize) -> Self {
        let stripes = stripes.clamp(1, 256).next_power_of_two();
        Self {
            stripes: (0..stripes)
                .map(|_| CachePadded::new(AtomicIsize::new(0)))
                .collect(),
        }
    }

    /// Stripes for this machine: two per core, between 2 and 64. Reading the sum costs one load
    /// per stripe, so fewer is cheaper for readers of `len`; more spreads writers.
    pub(crate) fn default_stripes() -> usize {
        #[cfg(loom)]
        {
            2
        }
        #[cfg(not(loom))]
        {
            std::thread::available_parallelism()
                .map_or(8, |n| 2 * n.get())
                .clamp(2, 64)
        }
    }

    /// Adds `delta` on this thread's stripe; returns that stripe's new value, which callers use
    /// only to decide how often to look at the whole sum.
    #[inline]
    pub(crate) fn add(&self, delta: isize) -> isize {
        let stripe = &self.stripes[crate::sync::thread_hint() & (self.stripes.len() - 1)];
        // ORDERING: Relaxed. A count, not a publication: entries are published by their slots.
        // A reader of `sum` after joining the writers sees every update (the join synchronizes).
        stripe.fetch_add(delta, Ordering::Relaxed) + delta
    }

    /// The sum of the stripes, clamped at 0 (a sum read while removals race with inserts on other
    /// stripes can be transiently negative).
    pub(crate) fn sum(&self) -> usize {
        let total: isize = self
            .stripes
            .iter()
            // ORDERING: Relaxed. See `add`.
            .map(|stripe| stripe.load(Ordering::Relaxed))
            .sum();
        usize::try_from(total).unwrap_or(0)
    }
}
