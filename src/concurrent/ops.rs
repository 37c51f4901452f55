//! The map's operations below the hasher: each one locks a chain (`lock_chain`, which does the
//! write's share of a running growth), changes it, and retires what it unlinked.
//!
//! User code (`Eq`, the closures of `update` / `get_or_insert_with` / `compute` / `retain`,
//! `Clone` of the key) runs while the chain is held; if it panics, the `ChainLock` releases the
//! chain on unwind and nothing has been changed yet (every change happens after the last call
//! into user code of that step), so the map stays consistent. Whatever an operation made under the lock before the
//! panic (`update`'s new value) is dropped after the release. That user code may read the map.
//! The closures run inside an [`UnderChain`] record, so a write they make to the map panics
//! (`RawMap::refuse_write_under_own_chain`; before session 21 one that needed the held chain
//! waited for it forever); `Eq` and `Clone` are not watched. The destructors of retired entries
//! are user code too, and they never run under a held chain (G3): operations retire after
//! releasing it, and `retain`, which retires under it, flushes after.

use super::bucket::{Entry, SplitHint};
use super::compute::{Computed, Operation};
use super::raw::{Held, RawMap, Search, UnderChain};
use super::reclaim::{FlushDue, Guard};
use super::table::chain;

impl<K, V> RawMap<K, V> {
    /// Inserts or replaces; returns the replaced entry (valid while `guard` lives).
    /// Linearizes at the Release store of the new entry pointer.
    pub(crate) fn insert<'g>(
        &'g self,
        hash: u64,
        key: K,
        value: V,
        guard: &'g Guard<'_>,
    ) -> Option<&'g Entry<K, V>>
    where
        K: Eq,
    {
        let held = self.lock_chain(hash, guard);
        match Self::search_locked(&held, hash, |candidate| *candidate == key) {
            Search::Found {
                bucket,
                slot,
                entry,
            } => {
                let new = Self::new_entry(hash, key, value, guard);
                Self::replace_found(guard, held, bucket, slot, entry, new, hash);
                // SAFETY: retired after we pinned, so alive while `guard` is ('g).
                Some(unsafe { &*entry })
            }
            Search::Absent { vacancy, last } => {
                let new = Self::new_entry(hash, key, value, guard);
                self.place_new(guard, held, vacancy, last, new, hash);
                None
            }
        }
    }

    /// The entry for the key `eq` accepts, inserting `(key, make())` if there is none. `make`
    /// runs at most once, under the chain's lock, so concurrent callers agree on one value.
    pub(crate) fn get_or_insert_with<'g>(
        &'g self,
        hash: u64,
        key: K,
        make: impl FnOnce() -> V,
        guard: &'g Guard<'_>,
    ) -> &'g Entry<K, V>
    where
        K: Eq,
    {
        let held = self.lock_chain(hash, guard);
        match Self::search_locked(&held, hash, |candidate| *candidate == key) {
            // SAFETY: B1; a live entry, protected by `guard` from here on.
            Search::Found { entry, .. } => unsafe { &*entry },
            Search::Absent { vacancy, last } => {
                let value = {
                    let _closure = UnderChain::enter(self.address());
                    make()
                };
                let new = Self::new_entry(hash, key, value, guard);
                self.place_new(guard, held, vacancy, last, new, hash);
                // SAFETY: just published; retired only by a later remove, after which `guard`
                // (pinned before) still protects it.
                unsafe { &*new }
            }
        }
    }

    /// Removes the entry `eq` accepts; returns it (valid while `guard` lives). Linearizes at the
    /// Release store of the null pointer.
    pub(crate) fn remove<'g>(
        &'g self,
        hash: u64,
        eq: impl FnMut(&K) -> bool,
        guard: &'g Guard<'_>,
    ) -> Option<&'g Entry<K, V>> {
        let held = self.lock_chain(hash, guard);
        match Self::search_locked(&held, hash, eq) {
            Search::Found {
                bucket,
                slot,
                entry,
            } => {
                self.remove_found(guard, held, bucket, slot, entry);
                // SAFETY: retired after we pinned, so alive while `guard` is ('g).
                Some(unsafe { &*entry })
            }
            Search::Absent { .. } => None,
        }
    }

    /// Replaces the value of the entry `eq` accepts with `f(&value)`, atomically with respect to
    /// every other write of that key (the chain is held while `f` runs). Returns the new entry.
    pub(crate) fn update<'g>(
        &'g self,
        hash: u64,
        eq: impl FnMut(&K) -> bool,
        f: impl FnOnce(&V) -> V,
        guard: &'g Guard<'_>,
    ) -> Option<&'g Entry<K, V>>
    where
        K: Clone,
    {
        // Declared before `held`, so that if the key's `Clone` panics after `f` made the new
        // value, unwinding releases the chain before it drops the value: its destructor is user
        // code, which may write to this chain (found by a black-box test in session 20: it
        // waited forever for the lock its own thread held).
        let made;
        let held = self.lock_chain(hash, guard);
        match Self::search_locked(&held, hash, eq) {
            Search::Found {
                bucket,
                slot,
                entry,
            } => {
                // SAFETY: B1; we hold the chain, so it is not retired meanwhile.
                let current = unsafe { &*entry };
                made = {
                    let _closure = UnderChain::enter(self.address());
                    f(&current.value)
                };
                let key = current.key.clone();
                let new = Self::new_entry(hash, key, made, guard);
                Self::replace_found(guard, held, bucket, slot, entry, new, hash);
                // SAFETY: just published; protected by `guard` like any loaded entry.
                Some(unsafe { &*new })
            }
            Search::Absent { .. } => None,
        }
    }

    /// Keeps, sets (inserts or replaces) or removes the entry of `key`, as `f` decides from its
    /// current value; `f` runs once, while the chain is held, so the decision and the change are
    /// one atomic step with respect to every other write of the key. Linearizes where the
    /// write it makes does (the Release store of the new or null entry pointer), or, for
    /// [`Operation::Keep`] and the removal of an absent key, while the chain is held.
    ///
    /// `key` becomes the stored key when `f` sets a value (as `insert` does); otherwise it is
    /// dropped after the chain is released. A panic in `f` or in `Eq` changes nothing.
    pub(crate) fn compute<'g>(
        &'g self,
        hash: u64,
        key: K,
        f: impl FnOnce(Option<&V>) -> Operation<V>,
        guard: &'g Guard<'_>,
    ) -> Computed<'g, V>
    where
        K: Eq,
    {
        // `key` is a parameter, so it is dropped after every local, `held` included: when `f`
        // keeps or removes, or when `f` or `Eq` panics, its destructor runs with the chain
        // released (it is user code and may write to this chain).
        let held = self.lock_chain(hash, guard);
        let search = Self::search_locked(&held, hash, |candidate| *candidate == key);
        let current = match search {
            // SAFETY: B1; we hold the chain, so it is not retired before we release it, and a
            // later retirement comes after our pin, so it lives while `guard` does ('g).
            Search::Found { entry, .. } => Some(unsafe { &*entry }),
            Search::Absent { .. } => None,
        };
        let operation = {
            let _closure = UnderChain::enter(self.address());
            f(current.map(|entry| &entry.value))
        };
        match (operation, search) {
            (Operation::Keep, _) | (Operation::Remove, Search::Absent { .. }) => {
                drop(held);
                Computed::Unchanged(current.map(|entry| &entry.value))
            }
            (
                Operation::Set(value),
                Search::Found {
                    bucket,
                    slot,
                    entry,
                },
            ) => {
                let new = Self::new_entry(hash, key, value, guard);
                Self::replace_found(guard, held, bucket, slot, entry, new, hash);
                // SAFETY: `entry` was retired after we pinned, and `new` is protected like any
                // loaded entry: both stay alive while `guard` is ('g).
                let (old, new) = unsafe { (&*entry, &*new) };
                Computed::Updated {
                    old: &old.value,
                    new: &new.value,
                }
            }
            (Operation::Set(value), Search::Absent { vacancy, last }) => {
                let new = Self::new_entry(hash, key, value, guard);
                self.place_new(guard, held, vacancy, last, new, hash);
                // SAFETY: just published; retired only by a later write, after which `guard`
                // (pinned before) still protects it.
                Computed::Inserted(unsafe { &(*new).value })
            }
            (
                Operation::Remove,
                Search::Found {
                    bucket,
                    slot,
                    entry,
                },
            ) => {
                self.remove_found(guard, held, bucket, slot, entry);
                // SAFETY: retired after we pinned, so alive while `guard` is ('g).
                Computed::Removed(unsafe { &(*entry).value })
            }
        }
    }

    /// Keeps the entries `keep` accepts. Finishes a running growth first (an aggregate
    /// operation is O(n) anyway), then holds each chain of that growth's table in turn. If the
    /// next growth starts meanwhile, the walk meets an evacuated chain and starts over on the
    /// new table, so `keep` may see an entry more than once; each entry present for the whole
    /// call is tested at least once.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool, guard: &Guard<'_>) {
        self.refuse_write_under_own_chain();
        'restart: loop {
            // The table the growth was finished in, not the current one loaded again: the next
            // growth may have started since, and its chains are empty until evacuated (A1).
            let table = self.finish_growth_now(guard);
            // NEGATIVE CONTROL (loom A1 and the race harness must fail): session 18's bug, the
            // current table loaded again after finishing the growth.
            #[cfg(hmap_bug = "retain_reload")]
            let table = self.table(guard);
            for index in 0..table.len() {
                let head = table.bucket(index);
                let held = Held {
                    table,
                    head,
                    lock: head.lock(),
                };
                if held.lock.is_evacuated() {
                    // NEGATIVE CONTROL (loom A2 and the race harness must fail): the walk skips
                    // a chain evacuated under it instead of starting over on the new table.
                    if cfg!(hmap_bug = "retain_skips_evacuated") {
                        continue;
                    }
                    continue 'restart;
                }
                let mut due = FlushDue::default();
                for bucket in chain(table, index) {
                    for slot in bucket.tophash_locked().full() {
                        let entry = bucket.entry_locked::<K, V>(slot);
                        // SAFETY: B1, B3; we hold the chain.
                        let current = unsafe { &*entry };
                        let kept = {
                            let _closure = UnderChain::enter(self.address());
                            keep(&current.key, &current.value)
                        };
                        if !kept {
                            Self::clear_slot(&held, bucket, slot);
                            self.after_remove(guard);
                            // SAFETY: `entry` just left its live slot, under the lock (R1).
                            due = due.or(unsafe { Self::retire_entry_held(guard, entry) });
                        }
                    }
                }
                drop(held);
                // INVARIANT: G3, destructors run only once the chain is released.
                guard.flush_due(due);
            }
            return;
        }
    }

    /// Puts `new` in the place of the found `entry` (slot `slot` of `bucket`, a held chain),
    /// releases the chain, and retires `entry`: the replacing write of `insert`, `update` and
    /// `compute`. Linearizes at the Release store of `new`'s pointer.
    #[inline]
    fn replace_found(
        guard: &Guard<'_>,
        held: Held<'_>,
        bucket: &super::bucket::Bucket,
        slot: usize,
        entry: *mut Entry<K, V>,
        new: *mut Entry<K, V>,
        hash: u64,
    ) {
        bucket.set_entry(slot, new, SplitHint::from_hash(hash, held.table.log2));
        drop(held);
        // SAFETY: `entry` just left its live slot, under the lock (R1).
        unsafe { Self::retire_entry(guard, entry) };
    }

    /// Empties the found `entry`'s slot (`slot` of `bucket`, a held chain), releases the chain,
    /// does the remove bookkeeping and retires `entry`: the removing write of `remove` and
    /// `compute`. Linearizes at the Release store of the null pointer.
    #[inline]
    fn remove_found(
        &self,
        guard: &Guard<'_>,
        held: Held<'_>,
        bucket: &super::bucket::Bucket,
        slot: usize,
        entry: *mut Entry<K, V>,
    ) {
        Self::clear_slot(&held, bucket, slot);
        drop(held);
        self.after_remove(guard);
        // SAFETY: `entry` just left its live slot, under the lock (R1).
        unsafe { Self::retire_entry(guard, entry) };
    }

    /// Places a new entry in a held chain, releases it, and does the insert bookkeeping.
    fn place_new(
        &self,
        guard: &Guard<'_>,
        held: Held<'_>,
        vacancy: Option<(&super::bucket::Bucket, usize)>,
        last: &super::bucket::Bucket,
        new: *mut Entry<K, V>,
        hash: u64,
    ) {
        let (slot, overflowed) = Self::place(&held, vacancy, last, new, hash);
        let table = held.table;
        drop(held);
        self.after_insert(table, slot, overflowed, guard);
    }
}
