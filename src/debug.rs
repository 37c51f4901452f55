//! Introspection types for research: [`MapStats`], [`HeaderSnapshot`] and the Go-shaped
//! header's layout ([`header_layout`]).
#![deny(unsafe_code)]

use core::mem::{offset_of, size_of};

use crate::raw::Header;

/// The kind of growth in progress. Go: `sameSizeGrow` flag clear or set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrowthKind {
    /// The bucket count doubles; old chains split between X and Y. Go: `hashGrow` with `bigger = 1`.
    Doubling,
    /// The bucket count stays; chains are compacted to shed overflow buckets. Go: `sameSizeGrow`.
    SameSize,
}

/// A snapshot of a map's shape, for research and tests. Made by
/// [`HashMap::stats`](crate::HashMap::stats).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MapStats {
    /// Live entries. Go: `count`.
    pub len: usize,
    /// Go's `B`.
    pub log2_buckets: u8,
    /// 2^B.
    pub buckets: usize,
    /// Overflow buckets linked into the current array's chains (counted exactly).
    pub overflow_buckets: usize,
    /// The header's estimate (Go: `noverflow`), exact below B = 16, sampled above.
    pub overflow_count_estimate: u16,
    /// Preallocated spare overflow buckets not yet used. Go: what is left after `nextOverflow`.
    pub spare_overflow_buckets: usize,
    /// The growth in progress, if any.
    pub growth: Option<GrowthKind>,
    /// Old buckets already evacuated (0 when not growing).
    pub old_buckets_evacuated: usize,
    /// Old buckets in all (0 when not growing).
    pub old_buckets_total: usize,
    /// Entries per bucket now: `len / 2^B`.
    pub load_factor: f64,
    /// Entries per bucket at which the map doubles: 6.5 (or 6.0).
    pub max_load_factor: f64,
    /// Bytes of bucket memory the map holds: both arrays (with spares) and heap overflow buckets.
    pub bucket_bytes: usize,
}

/// The header's fields as plain numbers: what Go's `hmap` would show through `unsafe`.
/// Made by [`HashMap::header`](crate::HashMap::header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeaderSnapshot {
    /// Go: `count`.
    pub count: usize,
    /// Go: `flags` (bit 4 `hashWriting`, bit 8 `sameSizeGrow`).
    pub flags: u8,
    /// Go: `B`.
    pub log2_buckets: u8,
    /// Go: `noverflow`.
    pub overflow_count: u16,
    /// Go: `hash0`.
    pub hash0: u32,
    /// Go: `buckets`, as an address (0 before the first insert).
    pub buckets: usize,
    /// Go: `oldbuckets`, as an address (0 when not growing).
    pub old_buckets: usize,
    /// Go: `nevacuate`.
    pub evacuation_mark: usize,
    /// Go: `extra`; here the next spare overflow bucket's address (0 when none).
    pub extra: usize,
}

/// One field of the Go-shaped header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderField {
    /// The Rust field name.
    pub name: &'static str,
    /// Go's field name in `runtime.hmap`.
    pub go_name: &'static str,
    /// Byte offset, measured with `core::mem::offset_of!`.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

type H = Header<u64, u64>;

const LAYOUT: [HeaderField; 9] = [
    HeaderField {
        name: "count",
        go_name: "count",
        offset: offset_of!(H, count),
        size: size_of::<usize>(),
    },
    HeaderField {
        name: "flags",
        go_name: "flags",
        offset: offset_of!(H, flags),
        size: 1,
    },
    HeaderField {
        name: "log2_buckets",
        go_name: "B",
        offset: offset_of!(H, log2_buckets),
        size: 1,
    },
    HeaderField {
        name: "overflow_count",
        go_name: "noverflow",
        offset: offset_of!(H, overflow_count),
        size: 2,
    },
    HeaderField {
        name: "hash0",
        go_name: "hash0",
        offset: offset_of!(H, hash0),
        size: 4,
    },
    HeaderField {
        name: "buckets",
        go_name: "buckets",
        offset: offset_of!(H, buckets),
        size: size_of::<usize>(),
    },
    HeaderField {
        name: "old_buckets",
        go_name: "oldbuckets",
        offset: offset_of!(H, old_buckets),
        size: size_of::<usize>(),
    },
    HeaderField {
        name: "evacuation_mark",
        go_name: "nevacuate",
        offset: offset_of!(H, evacuation_mark),
        size: size_of::<usize>(),
    },
    HeaderField {
        name: "spare_overflow",
        go_name: "extra",
        offset: offset_of!(H, spare_overflow),
        size: size_of::<usize>(),
    },
];

/// The size of the Go-shaped header: 48 bytes on 64-bit targets, as Go's `hmap`
/// (`TestHmapSize`: 8 + 5 pointers).
pub const HEADER_SIZE: usize = size_of::<H>();

/// The header's fields in Go's order with their measured offsets: on 64-bit targets count 0,
/// flags 8, B 9, noverflow 10, hash0 12, buckets 16, oldbuckets 24, nevacuate 32, extra 40.
///
/// ```
/// let offsets: Vec<usize> = hmap::header_layout().iter().map(|f| f.offset).collect();
/// if cfg!(target_pointer_width = "64") {
///     assert_eq!(offsets, [0, 8, 9, 10, 12, 16, 24, 32, 40]);
///     assert_eq!(hmap::HEADER_SIZE, 48);
/// }
/// ```
pub fn header_layout() -> &'static [HeaderField] {
    &LAYOUT
}

/// One bucket as Go's runtime shows it through `unsafe`: its eight tophash bytes (markers
/// included) and the key and value of every full slot. For the Go lockstep test
/// (`tests/go_parity/trace.rs`); made by [`HashMap::image`](crate::HashMap::image).
#[doc(hidden)]
#[cfg(any(test, fuzzing, feature = "invariants"))]
#[derive(Debug)]
pub struct BucketImage<'a, K, V> {
    /// Go: `tophash`.
    pub tophash: [u8; crate::SLOTS_PER_BUCKET],
    /// The entry of each full slot (tophash ≥ `minTopHash`), `None` for the others.
    pub slots: [Option<(&'a K, &'a V)>; crate::SLOTS_PER_BUCKET],
}

/// One chain: its head bucket and its overflow buckets, in link order.
#[doc(hidden)]
#[cfg(any(test, fuzzing, feature = "invariants"))]
pub type ChainImage<'a, K, V> = Vec<BucketImage<'a, K, V>>;

/// Both bucket arrays, chain by chain (a chain is its head bucket and its overflow buckets, in
/// link order). Made by [`HashMap::image`](crate::HashMap::image).
#[doc(hidden)]
#[cfg(any(test, fuzzing, feature = "invariants"))]
#[derive(Debug)]
pub struct MapImage<'a, K, V> {
    /// The 2^B chains of `buckets`; `None` while no array is allocated (B = 0 before the first
    /// insert).
    pub buckets: Option<Vec<ChainImage<'a, K, V>>>,
    /// While growing, the chains of `oldbuckets`: `None` for an evacuated chain, whose contents
    /// differ from Go's on purpose (D6: Go leaves marks and cleared slots there).
    pub old_buckets: Option<Vec<Option<ChainImage<'a, K, V>>>>,
}
