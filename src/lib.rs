//! # hmap — Go's runtime map, rebuilt in Rust for research on incremental resize
//!
//! - [What this is](#what-this-is)
//! - [Guarantees](#guarantees)
//! - [Research hooks](#research-hooks)
//! - [Design documents](#design-documents)
//!
//! ## What this is
//! [`HashMap`] mirrors the classic map of Go 1.22 (`runtime/map.go`, used up to Go 1.23): 2^B
//! buckets of eight slots, a tophash byte per slot, overflow chains with preallocated spare
//! overflow buckets, load factor 6.5 ([`LoadFactor::Go121`] gives Go 1.21's 6.0), and
//! *incremental growth*: a growth allocates the new bucket array at once, but entries move one
//! old chain at a time, at most two chains per write, so no insert ever pays for rehashing the
//! whole table. The header is `#[repr(C)]` with Go's field offsets ([`header_layout`]).
//!
//! ```
//! use hmap::HashMap;
//!
//! let mut map = HashMap::new();
//! for i in 0..105u64 {
//!     map.insert(i, i * 10);
//! }
//! // The 105th insert started a doubling from B = 4 to B = 5, as in Go 1.22 ...
//! assert_eq!(map.log2_buckets(), 5);
//! assert!(map.is_growing());
//! // ... and the next writes finish it, two old buckets at a time.
//! for i in 105..130u64 {
//!     map.insert(i, i * 10);
//! }
//! assert!(!map.is_growing());
//! assert_eq!(map[&42], 420);
//! ```
//!
//! [`ConcurrentHashMap`] is the same shape made concurrent: lock-free readers, per-chain writer
//! exclusion, cooperative incremental evacuation (at most nine old chains per write, claimed
//! with an atomic cursor), crossbeam-epoch reclamation through the map's own collector. See the
//! [`concurrent`] module.
//!
//! The [`wrappers`] module rebuilds the patterns Go programs use to share a map between
//! goroutines (the `hashWriting` detector made sound, an `RWMutex`-wrapped map over pluggable
//! lock backends, a sharded map, a port of `sync.Map`, a copy-on-write map, an audited map),
//! all behind one trait, [`wrappers::SharedMap`], for side-by-side measurement.
//!
//! ## Guarantees
//! - **Iteration** visits every entry exactly once, whatever the growth state, starting at a
//!   random bucket and slot offset as Go's does.
//! - **Bounded work per write**: an insert or remove during a growth evacuates at most two old
//!   chains; reads move nothing. Allocating a bucket array is one `mmap` for large arrays, and
//!   an old array is unmapped by a background thread (`hmap-reclaimer`) once its growth ends, so
//!   no write pays for giving memory back.
//! - **Unwinding**: a panicking `Hash`, `Eq` or `Drop` leaves the map consistent and usable;
//!   entries are never dropped twice. A panicking `Drop` during `clear`, a drain's end or the
//!   map's own drop does not stop the others: every entry is dropped, then the first panic
//!   goes on to the caller (as a `Vec`'s does; hashbrown leaks the rest).
//! - **Logic errors** (a `Hash` inconsistent with `Eq`, an `Eq` that changes its answers, a key
//!   mutated in place) are confined to this map: lookups may miss and an insert may panic,
//!   naming the cause, but there is no undefined behaviour and no entry is dropped twice.
//! - **Capacity overflow** panics with "capacity overflow" ([`HashMap::with_capacity`],
//!   [`HashMap::reserve`]) or is an error ([`HashMap::try_reserve`]).
//!
//! ## Research hooks
//! [`HashMap::log2_buckets`] (Go's `B`), [`HashMap::is_growing`], [`HashMap::stats`] (overflow
//! buckets, spares, evacuation progress) and [`HashMap::header`] (the header's fields as Go
//! would show them).
//!
//! ## Design documents
//! In the repository's `design/` folder: `ARCHITECTURE.md` (codemap), `go-correspondence.md`
//! (Go identifier → Rust item, divergences D1…), `incremental-resize.md` (how growth works and
//! what it costs, measured).
#![deny(unsafe_code)]

pub mod concurrent;
mod debug;
mod entry;
mod error;
mod iter;
mod load_factor;
mod map;
mod raw;
#[cfg(all(feature = "sched", not(loom)))]
#[doc(hidden)]
pub mod sched;
mod sync;
#[cfg(test)]
mod test_util;
#[cfg(not(loom))]
pub mod wrappers;

pub use crate::concurrent::ConcurrentHashMap;
pub use crate::debug::{
    header_layout, GrowthKind, HeaderField, HeaderSnapshot, MapStats, HEADER_SIZE,
};
#[doc(hidden)]
#[cfg(any(test, fuzzing, feature = "invariants"))]
pub use crate::debug::{BucketImage, ChainImage, MapImage};
pub use crate::error::TryReserveError;
pub use crate::load_factor::LoadFactor;
pub use crate::map::HashMap;
pub use crate::raw::bucket::SLOTS_PER_BUCKET;

/// Restarts the calling thread's random source (behind every map's seed `hash0`, the iteration
/// start points and the sampled overflow count) at `seed`, so that a fuzz input or a regression
/// test replays the same bucket placement and iteration order every time. Maps created on this
/// thread afterwards draw their `hash0` from it. For tests and fuzzing only.
#[doc(hidden)]
#[cfg(any(test, fuzzing, feature = "invariants"))]
pub fn seed_thread_rng(seed: u64) {
    raw::reseed(seed);
}

/// The default hasher: foldhash, seeded randomly per map (Go: `hash0`, plus the seed mixed in
/// by the map itself, which is renewed whenever the map becomes empty).
pub type DefaultHashBuilder = foldhash::fast::RandomState;

/// The types of [`HashMap`]'s entry API and iterators, as in `std::collections::hash_map`.
pub mod hash_map {
    pub use crate::entry::{Entry, OccupiedEntry, VacantEntry};
    pub use crate::iter::{
        Drain, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys, Values, ValuesMut,
    };
    pub use crate::map::HashMap;
}
