//! Weakly consistent iteration.
//!
//! The iterator walks the buckets of the table that was current when it was made, index by
//! index. For each index it picks one source, at the moment it gets there: the old chain that
//! feeds it while that chain is not evacuated (only the entries that belong to this index), else
//! the table's own chain. An entry present and unchanged for the whole iteration lives in exactly
//! one such source when its index is visited, and chains are never cleared (B4), so it is yielded
//! exactly once, also while a growth runs, starts or ends. Entries inserted, replaced or removed
//! during the iteration may or may not be seen; a key removed and inserted again is two entries
//! and may be seen twice (the second one in a slot or chain the walk has not reached yet). GO:
//! Go's iterator also starts at a random bucket and offset; this one starts at bucket 0 (C-D6).

use core::marker::PhantomData;

use super::bucket::{Bucket, Entry};
use super::reclaim::Guard;
use super::table::Table;
use crate::raw::tophash::SlotMask;

/// An iterator over `(&K, &V)`, from [`Pinned::iter`](super::Pinned::iter). Weakly consistent:
/// see the module documentation of [`concurrent`](super).
pub struct Iter<'g, K, V> {
    table: &'g Table,
    old: Option<&'g Table>,
    /// The next table index to visit.
    index: usize,
    /// The bucket being read, and the full slots of its tophash snapshot not yet yielded.
    bucket: Option<&'g Bucket>,
    slots: SlotMask,
    /// Yield only entries whose hash maps to this table index (reading an old chain of a
    /// doubling, whose entries split between two indices).
    only: Option<usize>,
    _entries: PhantomData<&'g Entry<K, V>>,
}

impl<'g, K, V> Iter<'g, K, V> {
    /// Iterates over `table`, which the caller loaded under `guard`.
    pub(crate) fn new(table: &'g Table, guard: &'g Guard<'_>) -> Self {
        Self {
            table,
            old: table.old_table(guard),
            index: 0,
            bucket: None,
            slots: SlotMask::EMPTY,
            only: None,
            _entries: PhantomData,
        }
    }

    /// Starts reading the source of table index `index`.
    fn start(&mut self, index: usize) {
        let mut head = self.table.bucket(index);
        self.only = None;
        if let Some(old) = self.old {
            let source = old.bucket(index);
            #[cfg(not(hmap_bug = "iter_relaxed_mark"))]
            let evacuated = source.is_evacuated();
            // NEGATIVE CONTROL: the mark read without Acquire (P7); loom I1 and I2 must fail.
            #[cfg(hmap_bug = "iter_relaxed_mark")]
            let evacuated = source.is_evacuated_relaxed();
            if !evacuated {
                head = source;
                if !self.table.same_size {
                    self.only = Some(index);
                }
            }
        }
        self.bucket = Some(head);
        self.slots = head.tophash().full();
    }
}

impl<'g, K, V> Iterator for Iter<'g, K, V> {
    type Item = (&'g K, &'g V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(bucket) = self.bucket {
                if let Some(slot) = self.slots.next() {
                    let entry = bucket.entry::<K, V>(slot);
                    if entry.is_null() {
                        continue;
                    }
                    // SAFETY: B1: loaded while pinned for 'g; freed only after the guard goes.
                    let entry: &'g Entry<K, V> = unsafe { &*entry };
                    if let Some(index) = self.only {
                        if entry.hash as usize & self.table.mask != index {
                            continue;
                        }
                    }
                    return Some((&entry.key, &entry.value));
                }
                let next = bucket.overflow();
                if next.is_null() {
                    self.bucket = None;
                } else {
                    // SAFETY: an overflow bucket lives as long as its table (T6), which the
                    // guard keeps alive for 'g.
                    let next: &'g Bucket = unsafe { &*next };
                    self.bucket = Some(next);
                    self.slots = next.tophash().full();
                }
                continue;
            }
            if self.index >= self.table.len() {
                return None;
            }
            let index = self.index;
            self.index += 1;
            self.start(index);
        }
    }
}

impl<K, V> core::fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Iter")
            .field("index", &self.index)
            .field("buckets", &self.table.len())
            .finish_non_exhaustive()
    }
}
