//! Growth: starting one, cooperative incremental evacuation, and ending one.
//!
//! Go's `hashGrow` / `growWork` / `evacuate` / `advanceEvacuationMark`, for many threads:
//! - **start** (`maybe_grow`): the writer that finds the current table over the load factor (or
//!   with too many overflow buckets) allocates the new table, linked back to the current one,
//!   and publishes it. Only one thread can start a table's growth (T5), and only once its own
//!   growth is over, so growths never overlap.
//! - **help** (`help_grow`): every write during a growth first evacuates the old chain it needs,
//!   then claims the next [`EVACUATION_CHUNK`] old chains with one `fetch_add` on the table's
//!   `evacuated` cursor (Java's `transferIndex`, Go's `nevacuate` made atomic) and evacuates them.
//!   So a write evacuates at most `1 + EVACUATION_CHUNK` = 9 chains: the bound on evacuation work
//!   per operation. The one exception is a write that must retry because a newer growth moved
//!   its chain after it loaded the table: each retry evacuates the one chain it needs in that
//!   growth, never another chunk (`lock_chain`). Readers never evacuate.
//! - **evacuate** (`evacuate`): under the old chain's lock, copy its entry pointers to the X
//!   and Y chains of the new table (chosen by each slot's split hint, or by the entry's stored
//!   hash where the hint knows nothing: B7, C-D10), then mark it evacuated. The old chain is
//!   left intact, not cleared (B4): a reader that started on it still sees every entry it held.
//! - **end** (`finish_growth`): the thread whose evacuation completes the count (T4) unlinks the
//!   old table (`old` := null) and retires it.
//!
//! # Invariants
//! - **E1** A chain of the old table is evacuated exactly once, under its lock, and counted in
//!   `done` exactly once (T4).
//! - **E2** A new table's chain `x` receives entries only from the evacuation of old chain
//!   `x & old.mask`, and nobody writes or reads it before that evacuation is published: writers
//!   evacuate the source first (`lock_chain`), readers read the old chain until it is marked
//!   (`read_head`). So an evacuation fills empty destination chains, without their locks.
//! - **E3** Growth completes while writes continue: every write whose first helping attempt
//!   meets a growth advances that growth's cursor by `EVACUATION_CHUNK` until it passes the old
//!   table's end, and every claimed chain is evacuated by its claimer, so after at most
//!   `old.len() / EVACUATION_CHUNK` writes that start during the growth every chain is claimed,
//!   and the last claimer to finish ends the growth.

use super::bucket::{prefetch, Bucket, Entry, SplitHint, SLOTS};
use super::counter::Stripe;
use super::raw::RawMap;
use super::reclaim::{Counters, Guard, HandleSlot};
use super::table::{chain, Table};
use crate::raw::tophash::TopHash;
use crate::sync::Ordering;

/// Old chains a write claims per call, besides the one it needs: the bound on evacuation work per
/// write is `1 + EVACUATION_CHUNK` chains. Go evacuates 1 + 1. A larger chunk makes the shared
/// cursor (one atomic RMW, a full barrier) a smaller share of each write's cost under many
/// writers, and lets one bucket's entry loads overlap the next one's; measured on the 2-core VM,
/// RapidGrow from empty at 1 thread went from 3.39 to 3.84 Mop/s going from 2 to 8 (Java's
/// minimum stride is 16; papaya copies 64 entries, about 8 buckets, per write).
#[cfg(not(loom))]
pub(crate) const EVACUATION_CHUNK: usize = 8;

/// Under loom the chunk is 2, so that the models' small tables (4 old chains) need more than one
/// claim and two helpers really race on the cursor; the claim logic does not depend on the value.
#[cfg(loom)]
pub(crate) const EVACUATION_CHUNK: usize = 2;

impl<K, V> RawMap<K, V> {
    /// Starts `table`'s growth if it needs one and none runs (T5). `own` is the caller's count
    /// stripe. Go: the `hashGrow` call in `mapassign`.
    pub(crate) fn maybe_grow(&self, table: &Table, own: Option<&Stripe>) {
        // NEGATIVE CONTROL `hmap_bug = "no_grow"` (design/testing.md, "Negative controls"): a
        // map that never grows on its own (forced growths still run) must fail the fuzz
        // targets' growth checks.
        if cfg!(hmap_bug = "no_grow") {
            return;
        }
        if !table.old().is_null() {
            // Its own growth is still running: growths never overlap (Go: `!h.growing()`).
            return;
        }
        // ORDERING: Relaxed. A cheap probe; the swap in `start_growth` decides.
        if table.grow_started.load(Ordering::Relaxed) {
            return;
        }
        if let Some(same_size) = self.needs_growth(table, own) {
            self.start_growth(table, same_size);
        }
    }

    /// Starts `table`'s growth (doubling, or same-size) unless it is growing or has been grown
    /// (T5). Returns whether this call started it. Go: `hashGrow`.
    pub(crate) fn start_growth(&self, table: &Table, same_size: bool) -> bool {
        if !table.old().is_null() {
            return false;
        }
        // ORDERING: Relaxed. Only uniqueness matters (one starter per table); what the starter
        // publishes goes through [P1].
        if table.grow_started.swap(true, Ordering::Relaxed) {
            return false;
        }
        let log2 = if same_size {
            table.log2
        } else {
            table.log2.checked_add(1).expect("capacity overflow")
        };
        // `table` is current: a table stops being current only when its growth starts, which
        // sets `grow_started`, and we just won that flag. The new table's `old` link must carry
        // the pointer from `Box::into_raw` (it is freed through it, T2), not one derived from
        // our shared reference, so it is read back from `self.table`.
        let table_ptr = self.current_ptr();
        debug_assert!(
            core::ptr::eq(table_ptr, table),
            "T5: only the current table grows"
        );
        let next = Table::new(log2, table_ptr, same_size);
        self.publish(next);
        self.note_growth();
        true
    }

    /// A write's share of the growth from `old` to `table`: the chain `index` needs, then, if
    /// `claim` (the write's first attempt that met a growth), one claimed chunk. Go: `growWork`.
    pub(crate) fn help_grow(
        &self,
        table: &Table,
        old: &Table,
        index: usize,
        claim: bool,
        guard: &Guard<'_>,
    ) {
        self.evacuate(table, old, index & old.mask, guard);
        // ORDERING: Relaxed. A probe so that writes after the last claim skip the RMW.
        if !claim || table.claim.evacuated.load(Ordering::Relaxed) >= old.len() {
            return;
        }
        // ORDERING: Relaxed. The cursor only hands out disjoint index ranges (RMWs on one
        // location are totally ordered); the evacuations themselves synchronize through the
        // chains' locks and marks [P3, P7].
        let start = table
            .claim
            .evacuated
            .fetch_add(EVACUATION_CHUNK, Ordering::Relaxed);
        if start >= old.len() {
            return;
        }
        // ORDERING: Relaxed. A statistic.
        table.claim.claims_in_flight.fetch_add(1, Ordering::Relaxed);
        for claimed in start..old.len().min(start + EVACUATION_CHUNK) {
            self.evacuate(table, old, claimed, guard);
        }
        // ORDERING: Relaxed. A statistic.
        table.claim.claims_in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Evacuates old chain `index` into `table` unless that is done already (E1). Go: `evacuate`.
    pub(crate) fn evacuate(&self, table: &Table, old: &Table, index: usize, guard: &Guard<'_>) {
        let head = old.bucket(index);
        if head.is_evacuated() {
            return;
        }
        let mut lock = head.lock();
        if lock.is_evacuated() {
            return;
        }
        // NEGATIVE CONTROL (the race harness and loom must fail): the chain is marked evacuated
        // before its entries are copied.
        #[cfg(hmap_bug = "early_mark")]
        lock.publish_mark_early();
        // E2: the destinations are empty and ours until the mark is published.
        let (x, y) = if table.same_size {
            (index, index)
        } else {
            (index, index + old.len())
        };
        let mut to_x = Destination::new(table, x);
        let mut to_y = Destination::new(table, y);
        for bucket in chain(old, index) {
            let word = bucket.tophash_locked();
            // The X/Y choice needs bit `old.log2` of each entry's hash. The slot's split hint
            // (B7) usually knows it; where it does not, the hash is loaded, one cache miss per
            // entry: start all of a bucket's misses before waiting for the first, so they
            // overlap.
            let mut slots = [(core::ptr::null_mut::<Entry<K, V>>(), SplitHint::UNKNOWN); SLOTS];
            for slot in word.full() {
                slots[slot] = bucket.entry_and_hint_locked::<K, V>(slot);
                if !table.same_size && slots[slot].1 == SplitHint::UNKNOWN {
                    prefetch(slots[slot].0);
                }
            }
            for slot in word.full() {
                let (entry, hint) = slots[slot];
                debug_assert!(!entry.is_null(), "B3: a full slot has an entry");
                if table.same_size {
                    // Same chain index, same table size: the hint stays valid (B7).
                    to_x.push(entry, word.get(slot), hint);
                    continue;
                }
                let (use_y, hint) = hint.split().unwrap_or_else(|| {
                    // SAFETY: B1, and we hold the chain, so the entry cannot be retired
                    // meanwhile.
                    let hash = unsafe { (*entry).hash };
                    // Go: useY = hash & newbit, where newbit is the old bucket count.
                    (
                        hash as usize & old.len() != 0,
                        SplitHint::from_hash(hash, table.log2),
                    )
                });
                if use_y {
                    to_y.push(entry, word.get(slot), hint);
                } else {
                    to_x.push(entry, word.get(slot), hint);
                }
            }
        }
        if cfg!(hmap_bug = "clear_on_evacuate") {
            // NEGATIVE CONTROL (loom must fail): Go clears evacuated slots; here that breaks
            // readers that started on the old chain (B4).
            for bucket in chain(old, index) {
                for slot in bucket.tophash_locked().full() {
                    bucket.clear_entry(slot);
                }
            }
        }
        // INVARIANT: E1, B4: the chain is marked (published on unlock, [P7]) and left intact.
        // GO: Go writes evacuatedX/Y into every slot and clears the keys and values (C-D2).
        lock.mark_evacuated();
        drop(lock);
        // ORDERING: AcqRel. Release: this evacuation's stores happen before the growth's end.
        // Acquire (for the final increment): every other evacuation happens before it, through
        // the release sequence of this RMW chain. Pairs with [P2]: `finish_growth`.
        let done = table.claim.done.fetch_add(1, Ordering::AcqRel) + 1;
        if done == old.len() {
            self.finish_growth(table, guard);
        }
    }

    /// Ends the growth into `table`: unlinks and retires its old table. Called once, by the
    /// evacuation that completed `done` (T4).
    fn finish_growth(&self, table: &Table, guard: &Guard<'_>) {
        // ORDERING: Release. Readers and writers that see null skip the old table, so every
        // evacuation (acquired by the `done` RMW above) must be visible to them. Pairs with
        // [P2]: `Table::old`.
        let old = table.old.swap(core::ptr::null_mut(), Ordering::Release);
        debug_assert!(!old.is_null(), "T2: the growth ends once");
        if cfg!(hmap_bug = "early_retire") {
            // NEGATIVE CONTROL (loom must fail): freed while readers may still be on it.
            // SAFETY: none; this is the planted bug.
            Table::free(unsafe { Box::from_raw(old) });
            return;
        }
        // SAFETY: reclamation argument: the old table was reachable only through
        // `table.old`, just set to null, and through `self.table` before the growth began
        // (replaced then). Threads that loaded it are pinned now and protected; new ones cannot
        // find it. It was `Box::into_raw`ed by `Table::new`'s caller, and is retired once (this
        // is the only swap from non-null, T2). Freeing a table touches no entry (T6).
        unsafe { guard.retire_with(old, free_table) };
        guard.flush();
    }

    /// Evacuates every old chain still pending, for aggregate operations (`retain`, `clear`)
    /// that want one table to work on, and returns that table: the one that was current when
    /// called, whose chains now hold every entry. Unbounded by design: they are O(n) anyway.
    ///
    /// The caller must work on the returned table, not on `self.table()` loaded again: another
    /// writer may start the next growth as soon as this one is over, and the newer table's
    /// chains stay empty until their sources are evacuated (E2), so an aggregate walking them
    /// would skip entries (loom A1).
    pub(crate) fn finish_growth_now<'g>(&'g self, guard: &'g Guard<'_>) -> &'g Table {
        let table = self.table(guard);
        let Some(old) = table.old_table(guard) else {
            return table;
        };
        for index in 0..old.len() {
            self.evacuate(table, old, index, guard);
        }
        table
    }
}

/// The destructor of a retired table.
///
/// # Safety
/// `table` came from `Box::into_raw` and nobody can reach it any more (`finish_growth`).
unsafe fn free_table(table: *mut Table, _: &Counters, _: Option<&HandleSlot>) {
    // SAFETY: the contract.
    Table::free(unsafe { Box::from_raw(table) });
}

/// Where an evacuation appends: the next slot of a destination chain. Go: `evacDst`.
struct Destination<'t> {
    table: &'t Table,
    bucket: &'t Bucket,
    slot: usize,
}

impl<'t> Destination<'t> {
    fn new(table: &'t Table, index: usize) -> Self {
        let bucket = table.bucket(index);
        debug_assert_eq!(
            bucket.tophash_locked().bits(),
            0,
            "E2: a destination chain starts empty"
        );
        Self {
            table,
            bucket,
            slot: 0,
        }
    }

    fn push<K, V>(&mut self, entry: *mut Entry<K, V>, top: TopHash, hint: SplitHint) {
        if self.slot == SLOTS {
            let next = self.table.new_overflow();
            // SAFETY: just allocated; linked below, after which only this evacuation writes it
            // until the mark is published (E2).
            let next_ref = unsafe { &*next };
            self.bucket.set_overflow(next);
            self.bucket = next_ref;
            self.slot = 0;
        }
        self.bucket.set_entry(self.slot, entry, hint);
        self.bucket.set_tophash(self.slot, top);
        self.slot += 1;
    }
}
