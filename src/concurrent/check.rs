//! The concurrent map's invariant checker (style.md §5): asserts the numbered invariants of
//! `table.rs` (T1–T4), `bucket.rs` (B2–B7), `evacuate.rs` (E2, E3), `raw.rs` (R1) and
//! `counter.rs` (N2, N3), and R4 (`raw.rs`), that can be checked from outside an operation.
//!
//! It reads the map as its owner would (lock-holder loads) and so must run while no other thread
//! uses the map: between runs of a test or fuzz target, never concurrently with a write.

use super::bucket::{Bucket, Entry, SplitHint, EVACUATED, SLOTS, WRITING};
use super::raw::RawMap;
use super::table::{chain, Table};
use crate::raw::tophash::TopHash;
use crate::sync::Ordering;

impl<K, V> RawMap<K, V> {
    /// Asserts every checkable invariant; panics naming the broken one. `hash` recomputes a
    /// key's hash (the map's hasher). The map must be quiescent: no operation in flight.
    pub(crate) fn check_invariants(&self, hash: impl Fn(&K) -> u64)
    where
        K: Eq,
    {
        let guard = self.pin();
        let table = self.table(&guard);
        check_shape(table);
        assert!(
            self.hint_names(table),
            "R4: the prefetch hint names the current table once its publication is done"
        );
        let old = table.old_table(&guard);
        // The live entries (R1): (table, chain index, entry).
        let mut live: Vec<*mut Entry<K, V>> = Vec::new();
        if let Some(old) = old {
            check_shape(old);
            if table.same_size {
                assert_eq!(old.log2, table.log2, "T3: a same-size growth keeps B");
            } else {
                assert_eq!(old.log2 + 1, table.log2, "T3: a doubling adds one to B");
            }
            let evacuated = (0..old.len())
                .filter(|&i| old.bucket(i).is_evacuated())
                .count();
            // ORDERING: Relaxed. The map is quiescent (the caller's contract).
            let done = table.claim.done.load(Ordering::Relaxed);
            assert_eq!(
                done, evacuated,
                "T4: `done` counts the evacuated old chains"
            );
            assert!(
                done < old.len(),
                "T2: a growth whose chains are all done has ended"
            );
            // ORDERING: Relaxed. Quiescent.
            let claimed = table.claim.evacuated.load(Ordering::Relaxed);
            for index in 0..claimed.min(old.len()) {
                assert!(
                    old.bucket(index).is_evacuated(),
                    "E3: old chain {index} was claimed, so its claimer evacuated it"
                );
            }
            for index in 0..old.len() {
                let head = old.bucket(index);
                if !head.is_evacuated() {
                    check_chain::<K, V>(old, index, &hash, &mut live);
                }
            }
        }
        for index in 0..table.len() {
            let source_pending =
                old.is_some_and(|old| !old.bucket(index & old.mask).is_evacuated());
            if source_pending {
                for bucket in chain(table, index) {
                    assert_eq!(
                        bucket.tophash_locked().bits(),
                        0,
                        "E2: chain {index} is empty until its source is evacuated"
                    );
                }
                assert!(
                    table.bucket(index).overflow().is_null(),
                    "E2: chain {index} has no overflow bucket until its source is evacuated"
                );
                continue;
            }
            assert_eq!(
                table.bucket(index).state_bits() & EVACUATED,
                0,
                "T2, T5: only an old table has evacuated chains (chain {index})"
            );
            check_chain::<K, V>(table, index, &hash, &mut live);
        }
        // R1: every entry is owned by one live slot, and no key is in two. Keys are compared
        // only within groups of equal hashes, so this is O(n log n) with a good hasher.
        let mut by_address = live.clone();
        by_address.sort_unstable();
        by_address.dedup();
        assert_eq!(
            by_address.len(),
            live.len(),
            "R1: an entry is in two live slots"
        );
        // SAFETY: live entries (B1), protected by `guard`.
        live.sort_unstable_by_key(|&entry| unsafe { (*entry).hash });
        // SAFETY: as above.
        for group in live.chunk_by(|&a, &b| unsafe { (*a).hash == (*b).hash }) {
            for (i, &a) in group.iter().enumerate() {
                for &b in &group[i + 1..] {
                    // SAFETY: as above.
                    let same = unsafe { (*a).key == (*b).key };
                    assert!(!same, "R1: a key is in two live slots");
                }
            }
        }
        let (exact, approx) = self
            .reclaimer()
            .count()
            .quiescent_totals(self.reclaimer().stripes());
        // Unclamped: `len` clamps at 0, which would hide a count gone negative.
        assert_eq!(
            exact,
            live.len() as isize,
            "N2: the count equals the live entries"
        );
        assert_eq!(
            approx, exact,
            "N3: the approximation and every stripe's unflushed changes add up to the count"
        );
    }
}

/// T1 for one table.
fn check_shape(table: &Table) {
    assert_eq!(table.len(), 1usize << table.log2, "T1: 2^B head buckets");
    assert_eq!(table.mask, table.len() - 1, "T1: mask");
}

/// B2–B6 for live chain `index` of `table`, collecting its entries.
fn check_chain<K, V>(
    table: &Table,
    index: usize,
    hash: &impl Fn(&K) -> u64,
    live: &mut Vec<*mut Entry<K, V>>,
) {
    let head = table.bucket(index);
    assert_eq!(
        head.state_bits(),
        0,
        "B2: chain {index} is neither held nor evacuated (quiescent, live)"
    );
    let mut rest = false;
    for (position, bucket) in chain(table, index).enumerate() {
        if position > 0 {
            assert_eq!(
                bucket.state_bits() & (WRITING | EVACUATED),
                0,
                "B6: state bits only in head buckets"
            );
        }
        check_bucket(bucket, table, index, hash, &mut rest, live);
    }
}

fn check_bucket<K, V>(
    bucket: &Bucket,
    table: &Table,
    index: usize,
    hash: &impl Fn(&K) -> u64,
    rest: &mut bool,
    live: &mut Vec<*mut Entry<K, V>>,
) {
    let word = bucket.tophash_locked();
    for slot in 0..SLOTS {
        let top = word.get(slot);
        let (entry, hint) = bucket.entry_and_hint_locked::<K, V>(slot);
        if *rest {
            assert_eq!(
                top,
                TopHash::EMPTY_REST,
                "B3: only EMPTY_REST after EMPTY_REST"
            );
        }
        if top == TopHash::EMPTY_REST {
            *rest = true;
        }
        if !top.is_full() {
            assert!(
                top.is_empty(),
                "B3: a live chain holds no evacuation marker"
            );
            assert!(
                entry.is_null(),
                "B3: an empty slot has no entry (quiescent)"
            );
            assert_eq!(hint, SplitHint::UNKNOWN, "B7: a null slot knows nothing");
            continue;
        }
        assert!(!entry.is_null(), "B3: a full slot has an entry");
        // SAFETY: B1: a live slot's entry is live; the caller holds a guard.
        let entry_ref = unsafe { &*entry };
        assert_eq!(
            top,
            TopHash::from_hash(entry_ref.hash),
            "B3: the tophash is the entry's"
        );
        assert_eq!(
            hash(&entry_ref.key),
            entry_ref.hash,
            "the stored hash is the key's"
        );
        assert_eq!(
            entry_ref.hash as usize & table.mask,
            index,
            "the entry is in its hash's chain"
        );
        assert!(
            hint.agrees_with(entry_ref.hash, table.log2),
            "B7: the split hint {hint:?} agrees with the entry's hash"
        );
        live.push(entry);
    }
}

#[cfg(any(test, fuzzing, feature = "invariants"))]
impl<K, V> RawMap<K, V> {
    /// The current table's chains as Go's runtime would show its `buckets` (tophash bytes, and
    /// the key and value of every full slot), passed to `f` while pinned; `None` while a growth
    /// runs (the old table's chains are frozen, not Go's, C-D2). The map must be quiescent, as
    /// for [`check_invariants`](Self::check_invariants).
    pub(crate) fn with_image<R>(
        &self,
        f: impl FnOnce(&[crate::ChainImage<'_, K, V>]) -> R,
    ) -> Option<R> {
        let guard = self.pin();
        let table = self.table(&guard);
        if !table.old().is_null() {
            return None;
        }
        let chains: Vec<crate::ChainImage<'_, K, V>> = (0..table.len())
            .map(|index| {
                chain(table, index)
                    .map(|bucket| {
                        let word = bucket.tophash_locked();
                        let mut image = crate::BucketImage {
                            tophash: [0; SLOTS],
                            slots: [None; SLOTS],
                        };
                        for slot in 0..SLOTS {
                            let top = word.get(slot);
                            image.tophash[slot] = top.0;
                            let (entry, _) = bucket.entry_and_hint_locked::<K, V>(slot);
                            if top.is_full() && !entry.is_null() {
                                // SAFETY: B1: a full live slot's entry is live; `guard` is
                                // pinned for as long as `chains` lives.
                                let entry = unsafe { &*entry };
                                image.slots[slot] = Some((&entry.key, &entry.value));
                            }
                        }
                        image
                    })
                    .collect()
            })
            .collect();
        Some(f(&chains))
    }
}
