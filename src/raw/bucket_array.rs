//! Bucket arrays (Go: `makeBucketArray`): 2^B buckets followed by the spare overflow buckets
//! (2^(B-4) of them when B ≥ 4), in one zeroed allocation; and single overflow buckets.
//!
//! GO: Go allocates bucket arrays from its garbage-collected heap (D15).
//!
//! Large arrays come straight from `mmap` (on Unix, outside Miri) rather than from the global
//! allocator, for two reasons measured in `design/incremental-resize.md` ("Memory"):
//! - a fresh anonymous mapping is zero without a `memset`, so allocating even a several-hundred-
//!   megabyte array is one system call, not a pause proportional to its size;
//! - a mapping can be handed whole to the reclaimer thread ([`retire`], `reclaim.rs`), so the
//!   write that ends a growth does not pay for unmapping hundreds of megabytes (D17).
//!
//! Everything here is a function of `(pointer, B)`: the array's length, its spare region and
//! whether it is mapped are all derived from B, so the header needs no extra fields.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::bucket::Bucket;
use crate::error::{Fallibility, TryReserveError};

/// Arrays of at least this many bytes are mapped directly (see the module docs).
const MAP_THRESHOLD: usize = 1 << 20;

/// The shape of the array for one B.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArrayShape {
    /// 2^B, the buckets that keys hash to.
    pub(crate) buckets: usize,
    /// `buckets` plus the spare overflow buckets.
    pub(crate) total: usize,
    /// Layout of the whole allocation.
    pub(crate) layout: Layout,
}

impl ArrayShape {
    /// The shape for `log2_buckets`, or `None` on arithmetic overflow.
    pub(crate) fn new<K, V>(log2_buckets: u8) -> Option<Self> {
        let buckets = 1usize.checked_shl(u32::from(log2_buckets))?;
        // GO: Go also rounds the allocation up to its malloc size class and uses every spare
        // bucket that fits; we take exactly base/16 (D4).
        let spare = if log2_buckets >= 4 { buckets >> 4 } else { 0 };
        let total = buckets.checked_add(spare)?;
        let layout = Layout::array::<Bucket<K, V>>(total).ok()?;
        Some(Self {
            buckets,
            total,
            layout,
        })
    }

    /// The shape of an array that was allocated, so [`ArrayShape::new`] succeeded before.
    pub(crate) fn of_allocated<K, V>(log2_buckets: u8) -> Self {
        Self::new::<K, V>(log2_buckets)
            .expect("the shape of an allocated array was computed once already")
    }

    fn is_mapped(&self) -> bool {
        cfg!(all(unix, not(miri)))
            && self.layout.size() >= MAP_THRESHOLD
            && self.layout.align() <= 4096
    }
}

/// Allocates a zeroed array of 2^`log2_buckets` buckets plus spares (B2 makes it a valid empty
/// array). Go: `makeBucketArray`.
///
/// # Errors
/// Capacity overflow or allocator failure, as `fallibility` directs.
pub(crate) fn allocate<K, V>(
    log2_buckets: u8,
    fallibility: Fallibility,
) -> Result<NonNull<Bucket<K, V>>, TryReserveError> {
    let Some(shape) = ArrayShape::new::<K, V>(log2_buckets) else {
        return Err(fallibility.capacity_overflow());
    };
    if shape.layout.size() > isize::MAX as usize {
        return Err(fallibility.capacity_overflow());
    }
    let raw = if shape.is_mapped() {
        map_zeroed(shape.layout.size())
    } else {
        // SAFETY: the layout has non-zero size: a bucket always holds its tophash array.
        NonNull::new(unsafe { std::alloc::alloc_zeroed(shape.layout) })
    };
    match raw {
        Some(ptr) => Ok(ptr.cast()),
        None => Err(fallibility.alloc_err(shape.layout)),
    }
}

/// Frees an array without touching its contents.
///
/// # Safety
/// `array` came from [`allocate`] with this `log2_buckets` and is not used afterwards. Entries
/// still in it are leaked, not dropped.
pub(crate) unsafe fn free<K, V>(array: NonNull<Bucket<K, V>>, log2_buckets: u8) {
    let shape = ArrayShape::of_allocated::<K, V>(log2_buckets);
    if shape.is_mapped() {
        // SAFETY: the mapping was created by `map_zeroed` with this size (same shape).
        unsafe { unmap(array.cast(), shape.layout.size()) }
    } else {
        // SAFETY: allocated by the global allocator with this layout.
        unsafe { std::alloc::dealloc(array.as_ptr().cast(), shape.layout) }
    }
}

/// Makes every byte of the array zero again (B2: every bucket empty, every overflow link cut).
/// A mapped array is handed back to the kernel instead, which zeroes it lazily. Go: the `reuse`
/// path of `makeBucketArray`, used by `mapclear`.
///
/// # Safety
/// `array` came from [`allocate`] with this `log2_buckets`; the caller has dropped or moved every
/// entry in it and freed the separately allocated overflow buckets it links to.
pub(crate) unsafe fn zero<K, V>(array: NonNull<Bucket<K, V>>, log2_buckets: u8) {
    let shape = ArrayShape::of_allocated::<K, V>(log2_buckets);
    if shape.is_mapped() {
        // SAFETY: the whole mapping, which starts page-aligned.
        unsafe { discard(array.as_ptr().cast(), shape.layout.size()) }
    } else {
        // SAFETY: in bounds of the allocation.
        unsafe {
            array
                .as_ptr()
                .cast::<u8>()
                .write_bytes(0, shape.layout.size())
        }
    }
}

/// Frees an array that is empty and unreachable, off the caller's critical path: a mapped array
/// is handed to the reclaimer thread, which unmaps it; a small one is freed at once.
///
/// # Safety
/// As [`free`].
pub(crate) unsafe fn retire<K, V>(array: NonNull<Bucket<K, V>>, log2_buckets: u8) {
    let shape = ArrayShape::of_allocated::<K, V>(log2_buckets);
    if shape.is_mapped() {
        // SAFETY: a mapped array is a whole mapping (`map_zeroed`), unreferenced by the
        // caller's contract.
        unsafe { super::reclaim::unmap_later(array.cast(), shape.layout.size()) };
    } else {
        // SAFETY: forwarded contract.
        unsafe { free(array, log2_buckets) }
    }
}

/// Whether `bucket` is one of the spare overflow buckets of `array` (rather than a separate
/// allocation from [`allocate_overflow`]).
pub(crate) fn is_spare<K, V>(
    array: NonNull<Bucket<K, V>>,
    log2_buckets: u8,
    bucket: *const Bucket<K, V>,
) -> bool {
    let shape = ArrayShape::of_allocated::<K, V>(log2_buckets);
    let size = size_of::<Bucket<K, V>>();
    let base = array.as_ptr().addr();
    let addr = bucket.addr();
    addr >= base + shape.buckets * size && addr < base + shape.total * size
}

/// Allocates one zeroed overflow bucket on the heap (when the spares are used up).
pub(crate) fn allocate_overflow<K, V>() -> *mut Bucket<K, V> {
    let layout = Layout::new::<Bucket<K, V>>();
    // SAFETY: non-zero size (a bucket always holds its tophash array).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    ptr.cast()
}

/// Frees a bucket from [`allocate_overflow`] without touching its contents.
///
/// # Safety
/// `bucket` came from [`allocate_overflow`] and is not used afterwards.
pub(crate) unsafe fn free_overflow<K, V>(bucket: *mut Bucket<K, V>) {
    // SAFETY: allocated by the global allocator with this layout.
    unsafe { std::alloc::dealloc(bucket.cast(), Layout::new::<Bucket<K, V>>()) }
}

#[cfg(all(unix, not(miri)))]
pub(crate) fn map_zeroed(size: usize) -> Option<NonNull<u8>> {
    // SAFETY: an anonymous private mapping with no address hint has no preconditions; failure
    // is reported as MAP_FAILED and checked below.
    let ptr = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return None;
    }
    NonNull::new(ptr.cast())
}

/// Asks the kernel to back `ptr..ptr + size` with transparent huge pages (`MADV_HUGEPAGE`), for
/// the concurrent map's large tables (decision 0008). Advice only: returns whether the kernel
/// took it (it refuses on kernels without transparent huge pages, and `never` in
/// `/sys/kernel/mm/transparent_hugepage/enabled` ignores it); either way the memory stays valid.
///
/// # Safety
/// `ptr..ptr + size` lies inside one mapping made by [`map_zeroed`].
#[cfg(all(unix, not(miri)))]
#[cfg_attr(
    loom,
    allow(
        dead_code,
        reason = "under loom the concurrent map's tables are not mapped"
    )
)]
pub(crate) unsafe fn advise_huge_pages(ptr: NonNull<u8>, size: usize) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: the caller's contract: a range of our own anonymous mapping. The advice changes
        // how the kernel backs the pages, never their contents (they still read as zero).
        unsafe { libc::madvise(ptr.as_ptr().cast(), size, libc::MADV_HUGEPAGE) == 0 }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (ptr, size);
        false
    }
}

#[cfg(all(unix, not(miri)))]
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, size: usize) {
    // Tearing a large mapping down takes tens of milliseconds on our VMs, and a thread that
    // touches a fresh page meanwhile can wait for it: with `munmap` in 1 MiB steps, a growing
    // `ConcurrentHashMap`'s writer still stalled 4–7 ms on one page fault (with 5–34 context
    // switches) just after each growth ended, while this ran on the reclaimer thread. So the
    // pages go first, 1 MiB at a time, with `MADV_DONTNEED`, which leaves the mapping in place
    // (no split, no exclusive lock on it) and let the writer's faults through in the same
    // measurement; the `munmap` that follows has no pages left to free. On the reclaimer thread
    // a step that had pages to discard is followed by a sleep as long as the step, so that the
    // thread never keeps a CPU from the map's users for a whole scheduler tick
    // (`reclaim::between_steps`).
    // (`design/decisions/0003-background-reclaimer.md`, "Later: pages first, then the mapping",
    // and "Later: a pause between steps".)
    const STEP: usize = 1 << 20;
    let mut offset = 0;
    while offset < size {
        let len = STEP.min(size - offset);
        let started = std::time::Instant::now();
        // SAFETY: the caller passes a whole mapping made by `map_zeroed`, which nothing uses any
        // more; `offset` is a multiple of STEP (page-aligned) and `offset..offset + len` lies
        // inside it. A failure only leaves the pages for the `munmap` below.
        let discarded = unsafe { dont_need(ptr.as_ptr().add(offset), len) };
        debug_assert!(discarded, "madvise of a bucket array failed");
        offset += len;
        if offset < size {
            super::reclaim::between_steps(started.elapsed());
        }
    }
    // SAFETY: the whole mapping, as `map_zeroed` made it; nothing references it.
    let result = unsafe { libc::munmap(ptr.as_ptr().cast(), size) };
    debug_assert_eq!(result, 0, "munmap of a bucket array failed");
}

#[cfg(all(unix, not(miri)))]
unsafe fn discard(ptr: *mut u8, size: usize) {
    // SAFETY: the caller passes a page-aligned range inside a private anonymous mapping; after
    // MADV_DONTNEED its pages read as zero, which B2 makes a valid empty array.
    if !unsafe { dont_need(ptr, size) } {
        // NOTE: madvise can only fail here on a kernel that refuses MADV_DONTNEED; zeroing by hand
        // keeps the contract (the bytes read as zero) at the cost of touching the pages.
        // SAFETY: same range, writable.
        unsafe { ptr.write_bytes(0, size) }
    }
}

/// `madvise(MADV_DONTNEED)` on `ptr..ptr + size`: the pages go back to the kernel and read as zero
/// afterwards. Returns whether the kernel accepted it.
///
/// # Safety
/// `ptr..ptr + size` is a page-aligned range inside a private anonymous mapping whose contents
/// nobody needs.
#[cfg(all(unix, not(miri)))]
unsafe fn dont_need(ptr: *mut u8, size: usize) -> bool {
    // SAFETY: the caller's contract; discarding private anonymous pages cannot touch other memory.
    unsafe { libc::madvise(ptr.cast(), size, libc::MADV_DONTNEED) == 0 }
}

#[cfg(not(all(unix, not(miri))))]
fn map_zeroed(_size: usize) -> Option<NonNull<u8>> {
    unreachable!("arrays are mapped only on Unix outside Miri")
}

#[cfg(not(all(unix, not(miri))))]
pub(crate) unsafe fn unmap(_ptr: NonNull<u8>, _size: usize) {
    unreachable!("arrays are mapped only on Unix outside Miri")
}

#[cfg(not(all(unix, not(miri))))]
unsafe fn discard(ptr: *mut u8, size: usize) {
    // SAFETY: forwarded contract: a writable range.
    unsafe { ptr.write_bytes(0, size) }
}
