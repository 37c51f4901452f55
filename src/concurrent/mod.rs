//! [`ConcurrentHashMap`]: Go's classic map made safe for many threads.
//!
//! - [Shape](#shape)
//! - [Guarantees](#guarantees)
//! - [Growth](#growth)
//! - [Memory](#memory)
//!
//! # Shape
//! The same shape as the sequential mirror [`HashMap`](crate::HashMap): 2^B buckets of eight
//! slots, a tophash byte per slot with Go's markers, overflow chains, load factor 6.5, doubling
//! and same-size growth, X/Y split. What differs, and why, is listed as C-D1… in
//! `design/go-correspondence.md`; the protocol (states, linearization points, the ordering table
//! `[P1]`… that the `ORDERING:` comment of every synchronizing access cites (Relaxed
//! statistics and probes say why they need no ordering instead), the reclamation argument) is
//! `design/concurrent-protocol.md`.
//!
//! # Guarantees
//! - **Readers are lock-free**: [`Pinned::get`] pins an epoch and scans one chain; it never
//!   waits for a writer, never retries because of one, and never writes map memory. It never
//!   observes a torn entry (a slot points to an immutable entry) or a half-evacuated bucket (an
//!   old chain is read until it is marked evacuated, and is frozen, not cleared, when it is).
//!   During a growth a read returns the value the key had at some instant during the read.
//! - **Writers** exclude each other per chain: the chain's head bucket carries Go's
//!   `hashWriting` flag, so writers of different chains never contend.
//! - **Writes are linearizable**, including [`Pinned::update`], which applies its function
//!   while holding the key's chain: concurrent updates of one key are never lost; and
//!   [`Pinned::compute`], whose closure sees the key's value and chooses to keep it, set a new
//!   one (inserting the key if absent) or remove the key, in the same single step.
//! - **API**: every operation goes through a [`Pinned`] view from [`ConcurrentHashMap::pin`],
//!   whose references live as long as the view; for one-off calls the map itself has
//!   `insert`, `remove`, `get_cloned`, `contains_key`, `update` and `get_or_insert_with`, which
//!   pin for the call and return owned values (clones).
//! - **[`ConcurrentHashMap::len`]** is exact whenever no write is in flight, and costs one load
//!   per handle slot (striped counter), independent of the number of entries.
//! - **Iteration** is weakly consistent: an entry present and unchanged for the whole iteration
//!   is yielded exactly once, also across a growth. A key removed and inserted again during the
//!   iteration is two entries, and may be yielded twice.
//! - **Unwinding**: a panicking `Hash`, `Eq`, `Clone` or closure leaves the map consistent (the
//!   chain lock is released on unwind and nothing was changed yet). One exception: the map's
//!   one-call methods that return owned values clone the value they return after the write, so
//!   a panicking `V::clone` there unwinds with the write done (and the map consistent); a panicking `Drop` of a
//!   retired value is contained and counted ([`ConcurrentStats::drop_panics`]); one of a value
//!   still in the map when the map drops does not stop that drop: every other value is dropped,
//!   the memory freed, and then the first such panic goes on to the caller.
//!
//! # Growth
//! Incremental and cooperative. A write that finds the table over the load factor allocates the
//! new table (one zeroed allocation, `mmap` for large ones) and publishes it, linked to the old
//! one. From then on every write first evacuates the old chain it needs, then claims the next
//! [`ConcurrentStats::evacuation_chunk`] old chains with one `fetch_add` on the shared cursor and
//! evacuates them: **at most nine chains per write**, however large the table. Readers never
//! evacuate. The evacuation that completes the count ends the growth and retires the old table.
//! Growths never overlap. [`ConcurrentHashMap::stats`] shows the progress.
//!
//! # Memory
//! Replaced and removed entries and old tables are reclaimed by crossbeam-epoch once no pinned
//! view can see them, through **the map's own collector**: dropping the map drops every value it
//! still holds or has retired, whatever threads used it. [`ConcurrentStats::garbage_objects`]
//! counts what awaits reclamation. Old tables of 128 KiB and more are freed on the
//! `hmap-reclaimer` thread, so that no operation, a reader's included, pays for giving their
//! memory back.
//! Retired entries whose time comes while their thread runs a closure under a chain of any map
//! (crossbeam collects in pins and flushes, and such a closure may pin or write to this map)
//! are not dropped there, where a destructor writing to that closure's map would be refused:
//! they wait for this map's next flush outside such a closure (every 64 retirements, or
//! [`Pinned::flush`]) or its drop. Entries whose key and value types have no drop glue run no
//! code when freed and never wait. So a map whose values have destructors and that is written
//! **only** from other maps' closures keeps every entry it retires until it is flushed outside
//! a closure or dropped: call [`Pinned::flush`] from outside the closures now and then
//! (found by a review in session 31: 200,000 such values awaited reclamation after 200,000
//! writes to a map of at most one key).
//! Entries live in the map's own chunks of about 64 KiB: a reclaimed entry's value is dropped
//! and its block reused by a later insert; the chunks are freed when the map drops
//! ([`ConcurrentStats::entry_chunk_bytes`]; `design/decisions/0007-entry-pool.md`).
//!
//! Each thread that pins the map owns one of its handle slots (a crossbeam participant, its free
//! entry blocks and the thread's stripes of the count and of the garbage tally, 128 bytes) until
//! it exits. A map starts
//! with 64 slots (4 per core if more) and, when more threads pin it at once, doubles its slot
//! table, up to 65,536 slots; the table never shrinks while the map lives
//! ([`ConcurrentStats::handle_slots`]). Beyond that cap, pins fall back to a slow temporary
//! participant ([`ConcurrentStats::temporary_pins`]).

#![allow(
    unsafe_code,
    reason = "concurrent/ is one of the two homes of unsafe code (style.md §2); the public-facing \
              files map.rs, pinned.rs and stats.rs deny it again"
)]

mod blocks;
mod bucket;
#[cfg(any(test, fuzzing, feature = "invariants", feature = "sched"))]
mod check;
mod compute;
mod counter;
mod evacuate;
mod iter;
mod map;
mod ops;
mod pinned;
mod raw;
mod reclaim;
mod stats;
mod table;
#[cfg(test)]
mod tests;

pub use self::compute::{Computed, Operation};
#[cfg(all(feature = "sched", not(loom)))]
pub(crate) use self::counter::BATCH as COUNT_BATCH;
pub use self::iter::Iter;
pub use self::map::ConcurrentHashMap;
pub use self::pinned::Pinned;
#[cfg(all(feature = "sched", not(loom)))]
pub(crate) use self::reclaim::release_thread_slots;
pub use self::stats::ConcurrentStats;
