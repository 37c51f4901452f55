//! [`ConcurrentStats`]: what a researcher wants to see of a running map.
#![deny(unsafe_code)]

use super::evacuate::EVACUATION_CHUNK;
use super::raw::RawMap;
use crate::sync::Ordering;

/// A snapshot of a [`ConcurrentHashMap`](super::ConcurrentHashMap)'s shape, growth and
/// reclamation, from [`stats`](super::ConcurrentHashMap::stats). Fields are read one by one while
/// other threads may be writing, so they are each exact at some instant but not all at the same
/// one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConcurrentStats {
    /// Entries (as [`len`](super::ConcurrentHashMap::len)).
    pub len: usize,
    /// Go's `B` of the current table.
    pub log2_buckets: u8,
    /// Whether a growth is in progress.
    pub growing: bool,
    /// Whether the running growth keeps the bucket count (Go's same-size growth).
    pub same_size_growth: bool,
    /// Chains of the old table (0 when not growing). Go: `noldbuckets()`.
    pub old_buckets: usize,
    /// Old chains evacuated so far.
    pub old_evacuated: usize,
    /// The claim cursor: old chains handed out to helpers so far (at most `old_buckets`). Go:
    /// `nevacuate`.
    pub claimed: usize,
    /// Threads evacuating a claimed chunk right now.
    pub claims_in_flight: usize,
    /// Old chains a write claims per call, besides its own: the evacuation bound per write is
    /// `1 + evacuation_chunk` chains.
    pub evacuation_chunk: usize,
    /// Growths started since the map was made.
    pub growths: usize,
    /// Overflow buckets in the current table. Go: `noverflow`.
    pub overflow_buckets: usize,
    /// Retired objects (replaced or removed entries, old tables) not freed yet.
    pub garbage_objects: usize,
    /// Destructors of retired values that panicked; the panics were contained.
    pub drop_panics: usize,
    /// Per-thread handle slots allocated: at least 64 (4 per core), growing by doubling when
    /// more threads pin the map at once than it has slots, up to 65,536; never shrinking while
    /// the map lives. [`len`](super::ConcurrentHashMap::len) is O(this).
    pub handle_slots: usize,
    /// Pins that found every handle slot owned with the table at its cap (65,536 live threads),
    /// or that ran in a thread-local destructor after the thread gave its slots back, and pinned
    /// through a temporary participant, a much slower path. Otherwise 0.
    pub temporary_pins: usize,
    /// Bytes of the chunks that entries are carved from (about 64 KiB each): entries live and
    /// retired, and free blocks kept for later inserts. Never shrinks while the map lives, like
    /// its tables; the chunks are freed when the map drops.
    pub entry_chunk_bytes: usize,
}

impl ConcurrentStats {
    pub(crate) fn collect<K, V>(raw: &RawMap<K, V>) -> Self {
        let guard = raw.pin();
        let table = raw.table(&guard);
        let old = table.old_table(&guard);
        // The old array's own length, not one derived from `log2_buckets` and the growth kind,
        // so that a check comparing the three compares three things (T3).
        let old_buckets = old.map_or(0, |old| old.len());
        // ORDERING: Relaxed. A statistic; nothing is read through it.
        let old_evacuated = if old.is_none() {
            0
        } else {
            table.claim.done.load(Ordering::Relaxed)
        };
        // ORDERING: Relaxed. A statistic.
        let claimed = table
            .claim
            .evacuated
            .load(Ordering::Relaxed)
            .min(old_buckets);
        // ORDERING: Relaxed. A statistic.
        let claims_in_flight = table.claim.claims_in_flight.load(Ordering::Relaxed);
        // ORDERING: Relaxed. A statistic.
        let overflow_buckets = table.overflow.noverflow.load(Ordering::Relaxed);
        Self {
            len: raw.len(),
            log2_buckets: table.log2,
            growing: old.is_some(),
            same_size_growth: old.is_some() && table.same_size,
            old_buckets,
            old_evacuated,
            claimed,
            claims_in_flight,
            evacuation_chunk: EVACUATION_CHUNK,
            growths: raw.growths(),
            overflow_buckets,
            garbage_objects: raw.reclaimer().garbage(),
            drop_panics: raw.reclaimer().drop_panics(),
            handle_slots: raw.reclaimer().slots(),
            temporary_pins: raw.reclaimer().temporary_pins(),
            entry_chunk_bytes: raw.reclaimer().entry_chunk_bytes(),
        }
    }
}
