//! A table: one bucket array of the concurrent map, plus the state of the growth that fills it.
//!
//! Go keeps `buckets`, `oldbuckets` and `nevacuate` side by side in the `hmap` header. Here the
//! growth state lives *in the new table*: a table made by a growth points back to the table it
//! replaces (`old`) and carries the evacuation cursor. The map publishes one pointer, the current
//! table, so a reader that loads it gets a bucket array and its growth state together and can
//! never pair an array with another growth's old array.
//!
//! # Invariants
//! - **T1** `buckets` holds `1 << log2` head buckets; `mask == (1 << log2) - 1`.
//! - **T2** `old` is non-null exactly while this table's growth is in progress; it goes from the
//!   old table to null once, when every old chain has been evacuated (`done == old.len()`), and
//!   never back. The old table is then retired.
//! - **T3** An old table has `1 << log2` (same-size growth) or `1 << (log2 - 1)` (doubling)
//!   head buckets.
//! - **T4** `done` counts old chains marked `EVACUATED`, each exactly once (the marker holds the
//!   chain's lock, see `evacuate.rs`).
//! - **T5** `grow_started` is set once, by the thread that starts this table's own growth; a table
//!   is the source of at most one growth, and only after its own growth is done (T2), so growths
//!   never overlap and there are never more than two tables in play.
//! - **T6** Overflow buckets reachable from `buckets` are owned by this table and freed with it:
//!   spares (in the array, after the head buckets, handed out by `next_spare`) go with the array,
//!   boxed ones (allocated once the spares ran out, counted by `boxed_overflow`) one by one.
//!   Entries are never owned by a table (see `raw.rs`, R1) and never freed with it.

use core::alloc::Layout;
use core::ptr::NonNull;

use crossbeam_utils::CachePadded;

use super::bucket::{Bucket, Chain};
use super::reclaim::Guard;
use crate::sync::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// One bucket array and the growth that fills it. See T1–T6.
pub(crate) struct Table {
    /// Go's `B`: the table has `1 << log2` head buckets (T1).
    pub(crate) log2: u8,
    /// `(1 << log2) - 1` (T1).
    pub(crate) mask: usize,
    /// The head buckets, then `spares` spare overflow buckets (T1, T6).
    buckets: NonNull<Bucket>,
    /// Spare overflow buckets allocated with the array. GO: Go preallocates 2^(B-4) spares
    /// (`makeBucketArray`); here a quarter of the head count (C-D5), in the same zeroed
    /// allocation, so the ones never used are never touched (for mapped arrays, never resident).
    spares: usize,
    /// The table this one replaces while its growth runs, else null (T2). Go: `oldbuckets`.
    pub(crate) old: AtomicPtr<Table>,
    /// The growth's shared counters, on their own cache line: writers hammer them during a
    /// growth, and readers must not lose the line holding `old`, `mask` and `buckets`.
    pub(crate) claim: CachePadded<Claim>,
    /// This table's own growth has been started (T5).
    pub(crate) grow_started: AtomicBool,
    /// Overflow-bucket counters, on their own cache line for the same reason as `claim`.
    pub(crate) overflow: CachePadded<OverflowCounters>,
    /// Whether this table came from a same-size growth (T3).
    pub(crate) same_size: bool,
    /// Tests only: told the name of the thread that drops the table.
    #[cfg(test)]
    dropped_on: Option<std::sync::mpsc::Sender<Option<String>>>,
}

/// The counters of a growth (see `Table::claim`).
#[derive(Default)]
pub(crate) struct Claim {
    /// The claim cursor over the old table's chains: the next chain index not yet handed out.
    /// Threads advance it with `fetch_add` to claim chunks. GO: `nevacuate`, which Go's single
    /// writer advances one chain at a time past evacuated chains (C-D4).
    pub(crate) evacuated: AtomicUsize,
    /// Old chains marked evacuated (T4).
    pub(crate) done: AtomicUsize,
    /// Threads evacuating a claimed chunk right now (statistic).
    pub(crate) claims_in_flight: AtomicUsize,
}

/// The overflow-bucket counters (see `Table::overflow`).
#[derive(Default)]
pub(crate) struct OverflowCounters {
    /// Overflow buckets allocated in this table (exact). Go: `noverflow` (Go samples it above
    /// B = 16; an exact atomic count costs one relaxed RMW per overflow allocation).
    pub(crate) noverflow: AtomicUsize,
    /// The next spare to hand out (may run past `spares`: then overflow buckets are boxed).
    next_spare: AtomicUsize,
    /// Overflow buckets that had to be boxed because the spares ran out (T6).
    boxed_overflow: AtomicUsize,
}

// SAFETY: a Table is a bucket array of atomics plus atomics; the raw pointer `buckets` is owned
// (T6) and only read through shared references to atomics. Entries are type-erased and never
// dereferenced by the table itself.
unsafe impl Send for Table {}
// SAFETY: as above: every shared access goes through atomics.
unsafe impl Sync for Table {}

/// Head-bucket arrays of at least this many bytes come straight from `mmap`, like the sequential
/// map's (zeroed lazily by the kernel, so allocating a 100 MB table is not a pause).
#[cfg(all(unix, not(miri), not(loom)))]
const MAP_THRESHOLD: usize = 1 << 20;

/// Retired tables whose arrays (spares included) are at least this many bytes are freed on the
/// reclaimer thread, not by the thread that collects them. Below [`MAP_THRESHOLD`] an array comes
/// from the global allocator, and glibc serves blocks from 128 KiB up (its default `mmap`
/// threshold) with a mapping of their own, so freeing one is a `munmap`: a TLB shootdown of every
/// CPU running the process, 0.1-0.3 ms on our VMs. Crossbeam runs a retired table's destructor in
/// whichever thread collects, often a reader: freed inline, the tables of 2^11..2^13 buckets made
/// a reader's worst get of a growth to 8M keys (its run-queue waits taken out) 94-299 µs, median
/// 133, against 60-123 µs, median 89, with this threshold, in eight alternating rounds (session
/// 27, `design/results/2026-11-29-vm-session27/`). Smaller arrays come from the heap, and freeing
/// them costs less than a message to the thread.
#[cfg(all(unix, not(miri), not(loom)))]
const FREE_LATER_THRESHOLD: usize = 128 << 10;

/// A map's first table (the one `with_capacity` sized), when mapped and at least this many bytes
/// (one x86-64 huge page), is advised to use transparent huge pages (decision 0008): an
/// operation's head bucket is a random line of the array, and with 4 KiB pages nearly every one
/// also misses the TLB once the array outgrows the TLB's reach (a few MiB). Tables made by a
/// growth are not advised: on our VMs a fresh huge page's first touch is a fault of several
/// milliseconds in the middle of a write, against the growth's pause target.
#[cfg(all(unix, not(miri), not(loom)))]
const HUGE_PAGE_THRESHOLD: usize = 2 << 20;

impl Table {
    /// A new empty table of `1 << log2` buckets, filling the growth from `old` (null for none).
    ///
    /// # Panics
    /// "capacity overflow" if the array's size does not fit `isize`.
    pub(crate) fn new(log2: u8, old: *mut Table, same_size: bool) -> Box<Self> {
        let len = 1usize
            .checked_shl(u32::from(log2))
            .filter(|_| u32::from(log2) < usize::BITS)
            .expect("capacity overflow");
        let spares = (len / 4).max(1);
        // Huge pages only for a map's first table, the one `with_capacity` sized (decision 0008).
        let buckets = allocate(len + spares, old.is_null());
        Box::new(Self {
            log2,
            mask: len - 1,
            buckets,
            old: AtomicPtr::new(old),
            claim: CachePadded::new(Claim::default()),
            grow_started: AtomicBool::new(false),
            overflow: CachePadded::new(OverflowCounters::default()),
            spares,
            same_size,
            #[cfg(test)]
            dropped_on: None,
        })
    }

    /// Number of head buckets.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.mask + 1
    }

    /// Where head bucket 0 lies (for [`HeadHint`]: an address to prefetch, never to read).
    #[cfg(not(any(loom, feature = "sched")))]
    #[inline]
    pub(crate) fn buckets_ptr(&self) -> *const Bucket {
        self.buckets.as_ptr()
    }

    /// Head bucket `index & mask`.
    #[inline]
    pub(crate) fn bucket(&self, index: usize) -> &Bucket {
        let index = index & self.mask;
        // SAFETY: `index <= mask < len` (T1), and the array lives as long as `self`.
        unsafe { &*self.buckets.as_ptr().add(index) }
    }

    /// The old table of the growth in progress, or null (T2).
    #[inline]
    pub(crate) fn old(&self) -> *mut Table {
        // ORDERING: Acquire. Null means the growth is over: every evacuation's stores to this
        // table happen before the Release store of null. Non-null was stored before the table
        // was published. Pairs with [P2]: `finish_growth`, and [P1]: the publication of `self`.
        self.old.load(Ordering::Acquire)
    }

    /// The old table of the growth in progress, if any, for as long as `self` is borrowed: `self`
    /// was loaded while pinned by the caller's guard, whose borrow `'g` stands for.
    #[inline]
    pub(crate) fn old_table<'g>(&'g self, _guard: &'g Guard<'_>) -> Option<&'g Table> {
        let old = self.old();
        // SAFETY: T2: an old table is retired only after `finish_growth` unlinked it, and `self`
        // was reachable while the guard was pinned (the caller loaded it under that guard), so
        // anything loaded from `self.old` now was reachable while pinned and lives for 'g.
        (!old.is_null()).then(|| unsafe { &*old })
    }

    /// An empty overflow bucket for this table: the next spare, or a boxed one once the spares
    /// ran out (T6).
    pub(crate) fn new_overflow(&self) -> *mut Bucket {
        // ORDERING: Relaxed. A statistic and a growth trigger; nothing is published through it.
        self.overflow.noverflow.fetch_add(1, Ordering::Relaxed);
        // ORDERING: Relaxed. Only uniqueness of the index matters (RMWs on one location are
        // totally ordered); the bucket is published by the link that makes it reachable [P6].
        let spare = self.overflow.next_spare.fetch_add(1, Ordering::Relaxed);
        if spare < self.spares {
            // SAFETY: `len() + spare < len() + spares`, inside the allocation; a spare is
            // zeroed memory (B5), handed out once (the index is unique).
            return unsafe { self.buckets.as_ptr().add(self.len() + spare) };
        }
        // ORDERING: Relaxed. Read only by `Drop`, which owns the table exclusively.
        self.overflow.boxed_overflow.fetch_add(1, Ordering::Relaxed);
        Box::into_raw(Box::new(Bucket::new()))
    }

    /// Whether `bucket` is one of this table's spares (rather than boxed).
    fn is_spare(&self, bucket: *const Bucket) -> bool {
        let start = self.buckets.as_ptr().cast_const();
        let end = start.wrapping_add(self.len() + self.spares);
        bucket >= start && bucket < end
    }

    /// Frees the table, its array and its overflow buckets (T6), never entries. Tables of
    /// [`FREE_LATER_THRESHOLD`] or more are freed on the reclaimer thread, so that no operation
    /// pays for walking their chains or for giving their memory back.
    pub(crate) fn free(table: Box<Table>) {
        #[cfg(all(unix, not(miri), not(loom)))]
        {
            // Arrays with spares, as `allocate` and `deallocate` size them: mapped ones and the
            // larger ones from the global allocator.
            if layout(table.len() + table.spares).size() >= FREE_LATER_THRESHOLD {
                crate::raw::reclaim::run_later(Box::new(move || drop(table)));
                return;
            }
        }
        drop(table);
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // ORDERING: Relaxed. `&mut self`: the table is owned exclusively.
        if self.overflow.boxed_overflow.load(Ordering::Relaxed) > 0 {
            // Only then is there anything to free but the array: walk the chains for the boxed
            // overflow buckets (spares go with the array).
            for index in 0..self.len() {
                let mut next = self.bucket(index).overflow_owned();
                while !next.is_null() {
                    let spare = self.is_spare(next);
                    // SAFETY: an overflow bucket of this table (T6), alive until the array or
                    // its box is freed below; read before that.
                    let after = unsafe { (*next).overflow_owned() };
                    if !spare {
                        // SAFETY: a boxed overflow bucket owned by this table (T6), linked once,
                        // and nobody else can reach it: the table is being dropped.
                        drop(unsafe { Box::from_raw(next) });
                    }
                    next = after;
                }
            }
        }
        // SAFETY: `buckets` came from `allocate(self.len() + self.spares)` and nothing
        // references it any more.
        unsafe { deallocate(self.buckets, self.len() + self.spares) };
        #[cfg(test)]
        if let Some(dropped_on) = self.dropped_on.take() {
            let _ = dropped_on.send(std::thread::current().name().map(str::to_owned));
        }
    }
}

impl core::fmt::Debug for Table {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Table")
            .field("log2", &self.log2)
            .field("growing", &!self.old().is_null())
            .finish_non_exhaustive()
    }
}

/// Where the current table's head buckets lie, kept outside any table so that a thread can read
/// it before it pins: an operation prefetches its head bucket from this hint, then pins (a full
/// barrier, [`super::reclaim`]), and the bucket's cache miss overlaps the barrier instead of
/// following it.
///
/// # Invariants
/// - **H1** The two words describe tables that were current at some time, maybe two different
///   ones (each word is stored on its own). The hint is only ever turned into a prefetch address,
///   never read through: the table it names may have been freed, and a prefetch neither faults
///   nor reads memory architecturally, so a stale or torn hint costs a useless prefetch, nothing
///   else.
///
/// Under loom, and with the `sched` feature of the race kit, it does nothing and keeps nothing: a
/// prefetch means nothing to a model or to a scheduler, and its atomics would only add
/// interleavings (and move the race kit's schedules away from its corpus).
pub(crate) struct HeadHint {
    #[cfg(not(any(loom, feature = "sched")))]
    buckets: AtomicPtr<Bucket>,
    #[cfg(not(any(loom, feature = "sched")))]
    mask: AtomicUsize,
}

#[cfg(not(any(loom, feature = "sched")))]
impl HeadHint {
    /// A hint naming `table`.
    pub(crate) fn new(table: &Table) -> Self {
        Self {
            buckets: AtomicPtr::new(table.buckets_ptr().cast_mut()),
            mask: AtomicUsize::new(table.mask),
        }
    }

    /// Names `table`, which has just been published.
    #[inline]
    pub(crate) fn set(&self, table: &Table) {
        // ORDERING (both stores): Relaxed. Nothing is published through the hint: it is never
        // dereferenced (H1), so a reader pairing it with any table is harmless.
        self.buckets
            .store(table.buckets_ptr().cast_mut(), Ordering::Relaxed);
        self.mask.store(table.mask, Ordering::Relaxed);
    }

    /// Whether both words name `table` (for the invariant checker).
    #[cfg(any(test, fuzzing, feature = "invariants"))]
    pub(crate) fn names(&self, table: &Table) -> bool {
        // ORDERING (both loads): Relaxed: the checker runs on a quiescent map.
        core::ptr::eq(self.buckets.load(Ordering::Relaxed), table.buckets_ptr())
            && self.mask.load(Ordering::Relaxed) == table.mask
    }

    /// Prefetches both cache lines of the head bucket that `hash` maps to in the hinted table.
    /// Sound without a pin: it reads only the hint's two words (H1).
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        // ORDERING (both loads): Relaxed, as in `set`: the words are only an address.
        let mask = self.mask.load(Ordering::Relaxed);
        let buckets = self.buckets.load(Ordering::Relaxed);
        // `wrapping_add`: with a torn hint the address may lie outside any array; it is only
        // prefetched.
        let head = buckets.wrapping_add(hash as usize & mask).cast::<u8>();
        super::bucket::prefetch(head);
        super::bucket::prefetch(head.wrapping_add(64));
    }
}

/// The hint under loom and `sched`: keeps nothing, prefetches nothing (see above).
#[cfg(any(loom, feature = "sched"))]
impl HeadHint {
    pub(crate) fn new(_table: &Table) -> Self {
        Self {}
    }

    #[inline]
    pub(crate) fn set(&self, _table: &Table) {}

    /// Always true: there is no hint to disagree with the table.
    #[cfg(any(test, fuzzing, feature = "invariants", feature = "sched"))]
    pub(crate) fn names(&self, _table: &Table) -> bool {
        true
    }

    #[inline]
    pub(crate) fn prefetch(&self, _hash: u64) {}
}

/// Walks every bucket of head bucket `index`'s chain.
pub(crate) fn chain(table: &Table, index: usize) -> Chain<'_> {
    Chain::new(table.bucket(index))
}

fn layout(len: usize) -> Layout {
    Layout::array::<Bucket>(len).expect("capacity overflow")
}

/// `len` empty buckets (B5). With `huge_pages`, a mapped array of at least
/// `HUGE_PAGE_THRESHOLD` bytes is advised to use transparent huge pages.
#[cfg(not(loom))]
fn allocate(
    len: usize,
    #[cfg_attr(
        any(miri, not(unix)),
        allow(unused_variables, reason = "only mapped arrays take the advice")
    )]
    huge_pages: bool,
) -> NonNull<Bucket> {
    let layout = layout(len);
    #[cfg(all(unix, not(miri)))]
    {
        if layout.size() >= MAP_THRESHOLD {
            let array = crate::raw::bucket_array::map_zeroed(layout.size())
                .unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
            // GO: Go leaves page sizes to its heap and the system's settings (C-D9).
            if huge_pages && layout.size() >= HUGE_PAGE_THRESHOLD {
                // SAFETY: the whole mapping just made by `map_zeroed`.
                let _advised =
                    unsafe { crate::raw::bucket_array::advise_huge_pages(array, layout.size()) };
            }
            return array.cast();
        }
    }
    // SAFETY: the layout has non-zero size (a bucket is 80 bytes, len >= 1).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    NonNull::new(ptr)
        .unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
        .cast()
}

/// Under loom atomics are not plain memory, so buckets are built one by one.
#[cfg(loom)]
fn allocate(len: usize, _huge_pages: bool) -> NonNull<Bucket> {
    let _ = layout(len);
    let array: Box<[Bucket]> = (0..len).map(|_| Bucket::new()).collect();
    NonNull::new(Box::into_raw(array).cast()).expect("Box is non-null")
}

/// Frees an array from [`allocate`].
///
/// # Safety
/// `buckets` came from `allocate(len)` and is not used afterwards.
#[cfg(not(loom))]
unsafe fn deallocate(buckets: NonNull<Bucket>, len: usize) {
    let layout = layout(len);
    #[cfg(all(unix, not(miri)))]
    {
        if layout.size() >= MAP_THRESHOLD {
            // SAFETY: a whole mapping made by `map_zeroed` with this size. Called on the
            // reclaimer thread for retired tables (`Table::free`), so the cost is nobody's pause.
            unsafe { crate::raw::bucket_array::unmap(buckets.cast(), layout.size()) };
            return;
        }
    }
    // SAFETY: allocated by the global allocator with this layout.
    unsafe { std::alloc::dealloc(buckets.as_ptr().cast(), layout) }
}

/// Frees an array from the loom [`allocate`].
///
/// # Safety
/// As for the non-loom version.
#[cfg(loom)]
unsafe fn deallocate(buckets: NonNull<Bucket>, len: usize) {
    let slice = core::ptr::slice_from_raw_parts_mut(buckets.as_ptr(), len);
    // SAFETY: made by `Box::into_raw` of a boxed slice of this length.
    drop(unsafe { Box::from_raw(slice) });
}

#[cfg(all(test, target_os = "linux", not(miri), not(loom)))]
mod tests {
    use super::{Table, FREE_LATER_THRESHOLD, HUGE_PAGE_THRESHOLD, MAP_THRESHOLD};

    /// Bytes of the array of a table of 2^`log2` head buckets, spares included (`Table::new`).
    fn array_bytes(log2: u8) -> usize {
        let len = 1usize << log2;
        super::layout(len + (len / 4).max(1)).size()
    }

    /// The `VmFlags` line of the mapping of `/proc/self/smaps` that contains `address`.
    fn vm_flags(address: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().unwrap_or("");
            if let Some((start, end)) = range.split_once('-') {
                if let (Ok(start), Ok(end)) = (
                    usize::from_str_radix(start, 16),
                    usize::from_str_radix(end, 16),
                ) {
                    inside = (start..end).contains(&address);
                    continue;
                }
            }
            if inside {
                if let Some(flags) = line.strip_prefix("VmFlags:") {
                    return flags.to_owned();
                }
            }
        }
        panic!("no mapping of /proc/self/smaps contains {address:#x}");
    }

    /// Decision 0008: a map's first table of at least 2 MiB is advised to use huge pages (`hg`
    /// in its mapping's flags); a smaller mapped one, or one made by a growth, is not.
    #[test]
    fn large_tables_are_advised_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            eprintln!("SKIPPED: this kernel has no transparent huge pages (madvise refuses)");
            return;
        }
        // 2^14 buckets and spares: 1.6 MiB mapped, below the huge-page threshold; 2^15: 3.1 MiB.
        assert!(array_bytes(14) >= MAP_THRESHOLD && array_bytes(14) < HUGE_PAGE_THRESHOLD);
        assert!(array_bytes(15) >= HUGE_PAGE_THRESHOLD);
        let small = Table::new(14, core::ptr::null_mut(), false);
        let large = Table::new(15, core::ptr::null_mut(), false);
        // A table made by a growth (it has an old table) is not advised, whatever its size.
        let grown = Table::new(
            16,
            Box::into_raw(Table::new(15, core::ptr::null_mut(), false)),
            false,
        );
        let flags = |table: &Table| vm_flags(core::ptr::from_ref(table.bucket(0)) as usize);
        let (small_flags, large_flags) = (flags(&small), flags(&large));
        assert!(
            large_flags.split_whitespace().any(|flag| flag == "hg"),
            "a 3 MiB table is not advised huge pages: VmFlags{large_flags}"
        );
        assert!(
            !small_flags.split_whitespace().any(|flag| flag == "hg"),
            "a 1.6 MiB table is advised huge pages: VmFlags{small_flags}"
        );
        let grown_flags = flags(&grown);
        assert!(
            !grown_flags.split_whitespace().any(|flag| flag == "hg"),
            "a table made by a growth is advised huge pages: VmFlags{grown_flags}"
        );
        // ORDERING: Relaxed: a test's own table, on this thread only; nothing is published.
        let old = grown
            .old
            .swap(core::ptr::null_mut(), crate::sync::Ordering::Relaxed);
        // SAFETY: made by `Box::into_raw` just above; nothing else refers to it.
        drop(unsafe { Box::from_raw(old) });
        drop((small, large, grown));
    }

    /// A retired table of `FREE_LATER_THRESHOLD` or more is freed on the reclaimer thread,
    /// including one from the global allocator (below `MAP_THRESHOLD`), whose free is a
    /// `munmap` with glibc; a smaller one is freed by the caller.
    #[test]
    fn retired_tables_from_128_kib_are_freed_on_the_reclaimer_thread() {
        // 2^10 buckets and spares: 100 KiB; 2^11: 200 KiB, still from the global allocator.
        assert!(array_bytes(10) < FREE_LATER_THRESHOLD);
        assert!(array_bytes(11) >= FREE_LATER_THRESHOLD && array_bytes(11) < MAP_THRESHOLD);
        let dropped_on = |log2: u8| {
            let (sender, receiver) = std::sync::mpsc::channel();
            let mut table = Table::new(log2, core::ptr::null_mut(), false);
            table.dropped_on = Some(sender);
            Table::free(table);
            receiver
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("the table was dropped")
        };
        let here = std::thread::current().name().map(str::to_owned);
        assert_eq!(dropped_on(10), here, "a 100 KiB table is freed inline");
        assert_eq!(
            dropped_on(11).as_deref(),
            Some("hmap-reclaimer"),
            "a 200 KiB table is freed on the reclaimer thread"
        );
        assert_eq!(dropped_on(15).as_deref(), Some("hmap-reclaimer"));
    }
}
