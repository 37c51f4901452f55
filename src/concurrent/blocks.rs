//! Entry blocks: the memory the map's entries live in.
//!
//! Entries are immutable and boxed (C-D1), one block per insert and per replacement. Taking each
//! block from the global allocator cost almost half of an insert: with glibc, 181 of the
//! 404 instructions of a pre-sized insert were `malloc`'s, because nothing freed feeds its
//! per-thread cache while a map fills (callgrind, `design/results/2026-11-27-vm-session12/`),
//! and each 24-byte `u64`/`u64` entry took a 32-byte chunk. So blocks come from chunks of about
//! 64 KiB that the map allocates and frees only when it is dropped:
//!
//! - each handle slot (one thread at a time, C1) carves new blocks off its current chunk with a
//!   bump pointer, and keeps blocks freed on its thread in two *magazines* of up to [`BATCH`]
//!   blocks each, intrusive free lists (a free block's first word links to the next);
//! - a thread whose magazines are both full hands a full one to the map's shared pool, and a
//!   thread with both empty and its chunk used up takes one from the pool before it allocates a
//!   new chunk. Blocks freed
//!   by one thread and allocated by another so travel a magazine at a time, with one lock per
//!   `BATCH` blocks, and a producer/consumer pair of threads reuses memory instead of growing
//!   the chunks without bound; with two magazines a thread that alternates frees and
//!   allocations at a magazine's edge does not bounce one magazine through the pool on every
//!   operation (Bonwick's magazine layer);
//! - threads without a slot (temporary handles) allocate from and free to the pool directly,
//!   under its lock; the thread dropping the map frees into its own slot if it owns one, else
//!   to the pool, and allocates nothing.
//!
//! What the map no longer does is give an entry's memory back when the entry goes: blocks are
//! reused by later inserts and returned with the chunks when the map drops, as a table's
//! buckets are (a table never shrinks either, Go's neither). Values themselves are dropped when
//! their entry is reclaimed, as before.
//!
//! # Invariants
//! - **K1** Every block handed out lies inside a chunk recorded in the pool; chunks are freed
//!   only by [`BlockPool::free_chunks`], which `Reclaimer::drop` calls after every deferred
//!   destructor has run and every live entry has been dropped.
//! - **K2** A block is in exactly one place: holding a live or retired entry, in one slot's
//!   magazine or bump region, or in the pool (loose or in a magazine).
//! - **K3** A slot's [`LocalBlocks`] is accessed only by the slot's owner (C1) or with exclusive
//!   access to the map; the pool only under its lock.
//! - **K4** Every list of free blocks holds at most `BATCH` blocks: the pool's magazines, its
//!   loose list (fewer: it becomes a magazine at `BATCH`) and a slot's two magazines. So the
//!   free blocks a slot can strand when its thread exits are at most `2 × BATCH` plus the rest
//!   of its current chunk. (Until session 31 the loose list grew without bound, from the frees
//!   of threads without a slot, and a thread took all of it at once: a review measured 49,983
//!   to 95,647 free blocks stranded in single slots of exited threads, and the chunks grew by
//!   one map's worth per cycle of its test.)

use core::alloc::Layout;
use core::ptr::NonNull;

use std::sync::Mutex;

/// Blocks per magazine.
pub(crate) const BATCH: usize = 64;

/// Bytes a chunk aims for (it holds at least one block).
const CHUNK_BYTES: usize = 64 * 1024;

/// An intrusive list of free blocks: each block's first word holds the next block's address.
struct FreeList {
    head: *mut u8,
    len: usize,
}

impl FreeList {
    const fn new() -> Self {
        Self {
            head: core::ptr::null_mut(),
            len: 0,
        }
    }

    /// Adds a free block of `size` bytes.
    ///
    /// # Safety
    /// `block` is a free block (K2: owned by this list from now on) of `size` bytes, at least one
    /// word, aligned for a pointer.
    unsafe fn push(&mut self, block: NonNull<u8>, size: usize) {
        if is_poisoned(block.as_ptr()) {
            // Only under AddressSanitizer. Abort, as ASan does on a double free: a panic here
            // would run inside a deferred destructor, whose panics are contained and counted.
            eprintln!("hmap: entry block {block:p} freed twice (it is free already)");
            std::process::abort();
        }
        // SAFETY: the caller's contract: the block is ours and can hold a pointer.
        unsafe { block.as_ptr().cast::<*mut u8>().write(self.head) };
        poison(block.as_ptr(), size);
        self.head = block.as_ptr();
        self.len += 1;
    }

    /// Takes a free block of `size` bytes, if any.
    fn pop(&mut self, size: usize) -> Option<NonNull<u8>> {
        let block = NonNull::new(self.head)?;
        unpoison(block.as_ptr(), size);
        // SAFETY: `head` is a free block of this list (K2) whose first word `push` wrote.
        self.head = unsafe { block.as_ptr().cast::<*mut u8>().read() };
        self.len -= 1;
        Some(block)
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn take(&mut self) -> Self {
        core::mem::replace(self, Self::new())
    }
}

/// A slot's blocks: two magazines of freed blocks and the unused end of its current chunk.
/// Owner-only (K3).
pub(crate) struct LocalBlocks {
    /// The magazine frees go to and allocations come from.
    loaded: FreeList,
    /// The other magazine: empty, or full (`BATCH` blocks, K4).
    previous: FreeList,
    /// The next block to carve off the current chunk, and where that chunk's blocks end.
    bump: *mut u8,
    end: *mut u8,
}

impl LocalBlocks {
    pub(crate) const fn new() -> Self {
        Self {
            loaded: FreeList::new(),
            previous: FreeList::new(),
            bump: core::ptr::null_mut(),
            end: core::ptr::null_mut(),
        }
    }

    /// A block for a new entry: one this thread freed, else one carved off this slot's chunk,
    /// else one of a magazine from the pool, else one of a new chunk (`alloc_slow`).
    ///
    /// The loaded magazine and the current chunk are inline (a non-empty previous magazine
    /// still goes first, through `alloc_slow`): a map that only grows (every insert a new key,
    /// no block freed) takes every block from its chunk, and a call to the cold path cost it
    /// about 20 instructions an insert, most of them the call's register saves (cachegrind,
    /// session 33).
    #[inline]
    pub(crate) fn alloc(&mut self, pool: &BlockPool) -> NonNull<u8> {
        let size = pool.block.size();
        if let Some(block) = self.loaded.pop(size) {
            return block;
        }
        if self.previous.is_empty() && self.bump != self.end {
            return self.carve(size);
        }
        self.alloc_slow(pool)
    }

    /// The next block of the current chunk; the caller checked `bump != end`.
    #[inline]
    fn carve(&mut self, size: usize) -> NonNull<u8> {
        debug_assert!(self.bump != self.end, "the current chunk has a block left");
        let block = self.bump;
        // SAFETY: `bump < end`, both inside the current chunk, and `end - bump` is a multiple of
        // the block size; the result is at most `end`.
        self.bump = unsafe { block.add(size) };
        unpoison(block, size);
        NonNull::new(block).expect("a chunk's blocks are non-null")
    }

    /// The other magazine, the rest of the current chunk, a magazine from the pool, a new chunk:
    /// in that order, so that the pool's lock is taken only once the current chunk is used up
    /// (a thread carves at most one chunk past what the pool could have given it).
    #[cold]
    fn alloc_slow(&mut self, pool: &BlockPool) -> NonNull<u8> {
        let size = pool.block.size();
        if !self.previous.is_empty() {
            core::mem::swap(&mut self.loaded, &mut self.previous);
            return self.loaded.pop(size).expect("a non-empty magazine");
        }
        if self.bump == self.end {
            if let Some(mut magazine) = pool.take_magazine() {
                let block = magazine
                    .pop(size)
                    .expect("the pool keeps no empty magazine");
                self.loaded = magazine;
                return block;
            }
            let (start, blocks) = pool.new_chunk();
            self.bump = start.as_ptr();
            // SAFETY: the chunk holds `blocks` blocks of `size` bytes.
            self.end = unsafe { start.as_ptr().add(blocks * size) };
        }
        self.carve(size)
    }

    /// Keeps a freed block for this thread's next inserts; a full magazine goes to the pool.
    ///
    /// # Safety
    /// `block` is a block of `pool` (K1) whose entry has been dropped, owned by nobody else.
    pub(crate) unsafe fn free(&mut self, block: NonNull<u8>, pool: &BlockPool) {
        if self.loaded.len >= BATCH {
            if !self.previous.is_empty() {
                pool.give_magazine(self.previous.take());
            }
            self.previous = self.loaded.take();
        }
        // SAFETY: the caller's contract; blocks are at least a word and word-aligned (an entry
        // holds its `u64` hash).
        unsafe { self.loaded.push(block, pool.block.size()) };
    }

    /// Empties this slot's lists, for the map's drop (the chunks go right after, K1).
    pub(crate) fn clear(&mut self) {
        *self = Self::new();
    }
}

/// The map's chunks and the magazines and loose blocks shared between threads (K3: under the
/// lock). One per map, inside the reclaimer's counters (destructors reach it there).
pub(crate) struct BlockPool {
    /// The block layout: the map's `Entry<K, V>`.
    pub(crate) block: Layout,
    /// Blocks per chunk.
    chunk_blocks: usize,
    // NOTE: a std `Mutex`, not a facade type: no critical section contains a facade operation
    // (no atomic of the map, no pin), so a holder is never switched out by loom or the `sched`
    // scheduler while holding it, and neither needs to see it.
    shared: Mutex<Shared>,
}

/// What the pool's lock protects.
struct Shared {
    /// The start of every chunk ever allocated (K1); each holds `chunk_blocks` blocks.
    chunks: Vec<NonNull<u8>>,
    /// Full magazines handed over by threads with too many free blocks.
    magazines: Vec<FreeList>,
    /// Blocks freed by threads without a slot.
    loose: FreeList,
}

// SAFETY: the raw pointers are blocks and chunks owned by the pool, touched only under its lock
// (or with exclusive access when freed); moving them between threads is what the pool is for.
unsafe impl Send for Shared {}

impl BlockPool {
    /// A pool of blocks of `block`'s layout (which holds at least one pointer, aligned for it).
    pub(crate) fn new(block: Layout) -> Self {
        assert!(
            block.size() >= size_of::<*mut u8>() && block.align() >= align_of::<*mut u8>(),
            "a block must hold a free-list link"
        );
        Self {
            block,
            chunk_blocks: (CHUNK_BYTES / block.size()).max(1),
            shared: Mutex::new(Shared {
                chunks: Vec::new(),
                magazines: Vec::new(),
                loose: FreeList::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A panic never happens under this lock (no user code runs there), but a poisoned lock
        // still guards consistent data.
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A full magazine (or the loose blocks, fewer than `BATCH`: K4) from the pool, if it has
    /// any.
    fn take_magazine(&self) -> Option<FreeList> {
        let mut shared = self.lock();
        if let Some(magazine) = shared.magazines.pop() {
            return Some(magazine);
        }
        (!shared.loose.is_empty()).then(|| shared.loose.take())
    }

    fn give_magazine(&self, magazine: FreeList) {
        self.lock().magazines.push(magazine);
    }

    /// Allocates and records a new chunk; returns its start and its number of blocks.
    fn new_chunk(&self) -> (NonNull<u8>, usize) {
        self.new_chunk_locked(&mut self.lock())
    }

    /// [`new_chunk`](Self::new_chunk) for a caller that holds the lock.
    fn new_chunk_locked(&self, shared: &mut Shared) -> (NonNull<u8>, usize) {
        let layout = self.chunk_layout();
        // SAFETY: the layout has a non-zero size (at least one block of at least a word).
        let start = NonNull::new(unsafe { std::alloc::alloc(layout) })
            .unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        // Blocks not handed out yet are off limits, as freed ones are.
        poison(start.as_ptr(), layout.size());
        shared.chunks.push(start);
        (start, self.chunk_blocks)
    }

    /// The layout of every chunk: `chunk_blocks` blocks.
    fn chunk_layout(&self) -> Layout {
        let size = self
            .block
            .size()
            .checked_mul(self.chunk_blocks)
            .expect("a chunk's size fits usize");
        Layout::from_size_align(size, self.block.align()).expect("a chunk's layout is valid")
    }

    /// A block for a thread without a slot: a loose or pooled one, else the first of a new
    /// chunk whose other blocks go to the loose list.
    pub(crate) fn alloc_shared(&self) -> NonNull<u8> {
        let mut shared = self.lock();
        if let Some(block) = shared.loose.pop(self.block.size()) {
            return block;
        }
        if let Some(mut magazine) = shared.magazines.pop() {
            let block = magazine
                .pop(self.block.size())
                .expect("the pool keeps no empty magazine");
            shared.loose = magazine;
            return block;
        }
        let (start, blocks) = self.new_chunk_locked(&mut shared);
        // The chunk's blocks are free, not uncarved: they are poisoned one by one as they join
        // the loose list (and, a magazine at a time, the magazines: K4).
        unpoison(start.as_ptr(), blocks * self.block.size());
        for i in 1..blocks {
            // SAFETY: block `i` of the new chunk, inside it, unused (K2: it goes to the pool's
            // lists only).
            unsafe {
                self.push_loose(
                    &mut shared,
                    NonNull::new_unchecked(start.as_ptr().add(i * self.block.size())),
                );
            }
        }
        start
    }

    /// Frees a block for a thread without a slot: it joins the loose list.
    ///
    /// # Safety
    /// As for [`LocalBlocks::free`].
    pub(crate) unsafe fn free_shared(&self, block: NonNull<u8>) {
        // SAFETY: forwarded.
        unsafe { self.push_loose(&mut self.lock(), block) };
    }

    /// Adds a free block to the loose list; a list that reaches `BATCH` blocks becomes a
    /// magazine (K4).
    ///
    /// # Safety
    /// As for [`LocalBlocks::free`].
    unsafe fn push_loose(&self, shared: &mut Shared, block: NonNull<u8>) {
        // SAFETY: forwarded; blocks are at least a word and word-aligned (`new`'s assertion).
        unsafe { shared.loose.push(block, self.block.size()) };
        if shared.loose.len >= BATCH {
            let full = shared.loose.take();
            shared.magazines.push(full);
        }
    }

    /// Bytes of every chunk allocated so far (statistic).
    pub(crate) fn chunk_bytes(&self) -> usize {
        self.lock().chunks.len() * self.chunk_layout().size()
    }

    /// Frees every chunk (K1).
    ///
    /// # Safety
    /// No block is used any more: every entry has been dropped and every slot's lists cleared,
    /// and nothing allocates from this pool again.
    pub(crate) unsafe fn free_chunks(&self) {
        let mut shared = self.lock();
        shared.magazines.clear();
        shared.loose = FreeList::new();
        let layout = self.chunk_layout();
        for start in shared.chunks.drain(..) {
            unpoison(start.as_ptr(), layout.size());
            // SAFETY: allocated by `new_chunk` with this layout; unused, by the contract.
            unsafe { std::alloc::dealloc(start.as_ptr(), layout) };
        }
    }
}

// Under AddressSanitizer (`build.rs` sets `cfg(hmap_asan)` then), free blocks and the
// uncarved rest of each chunk are poisoned, as the allocator's own freed memory would be: a
// read of a reclaimed entry, which the pool keeps instead of freeing, is still reported as a
// use after free, and a block freed twice is caught as it joins a list (it is poisoned already).
use asan::{is_poisoned, poison, unpoison};

/// The ASan runtime's manual poisoning interface.
#[cfg(hmap_asan)]
mod asan {
    unsafe extern "C" {
        fn __asan_poison_memory_region(addr: *const u8, size: usize);
        fn __asan_unpoison_memory_region(addr: *const u8, size: usize);
        fn __asan_address_is_poisoned(addr: *const u8) -> core::ffi::c_int;
    }

    /// Marks `size` bytes at `ptr` as off limits.
    #[inline(always)]
    pub(super) fn poison(ptr: *const u8, size: usize) {
        // SAFETY: it only updates ASan's shadow memory for a range of a chunk the pool owns.
        unsafe { __asan_poison_memory_region(ptr, size) }
    }

    /// Lifts [`poison`] from `size` bytes at `ptr`.
    #[inline(always)]
    pub(super) fn unpoison(ptr: *const u8, size: usize) {
        // SAFETY: as for `poison`.
        unsafe { __asan_unpoison_memory_region(ptr, size) }
    }

    /// Whether `ptr` is poisoned.
    #[inline(always)]
    pub(super) fn is_poisoned(ptr: *const u8) -> bool {
        // SAFETY: it only reads ASan's shadow memory.
        unsafe { __asan_address_is_poisoned(ptr) != 0 }
    }
}

/// Without AddressSanitizer: nothing to poison, nothing poisoned.
#[cfg(not(hmap_asan))]
mod asan {
    #[inline(always)]
    pub(super) fn poison(_ptr: *const u8, _size: usize) {}

    #[inline(always)]
    pub(super) fn unpoison(_ptr: *const u8, _size: usize) {}

    #[inline(always)]
    pub(super) fn is_poisoned(_ptr: *const u8) -> bool {
        false
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn pool() -> BlockPool {
        BlockPool::new(Layout::new::<[u64; 3]>())
    }

    #[test]
    fn blocks_are_distinct_and_reused_in_lifo_order() {
        let pool = pool();
        let mut local = LocalBlocks::new();
        let blocks: Vec<_> = (0..3 * pool.chunk_blocks + 5)
            .map(|_| local.alloc(&pool))
            .collect();
        let mut sorted: Vec<_> = blocks.iter().map(|b| b.as_ptr() as usize).collect();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), blocks.len(), "every block handed out once");
        assert_eq!(pool.chunk_bytes(), 4 * pool.chunk_blocks * 24);
        // SAFETY: blocks of this pool, unused.
        unsafe {
            local.free(blocks[7], &pool);
            local.free(blocks[9], &pool);
        }
        assert_eq!(local.alloc(&pool), blocks[9]);
        assert_eq!(local.alloc(&pool), blocks[7]);
        local.clear();
        // SAFETY: nothing uses the blocks any more.
        unsafe { pool.free_chunks() };
    }

    /// One thread frees what another allocates: the blocks come back through the pool a
    /// magazine at a time, and no new chunk is needed.
    #[test]
    fn a_consumer_thread_feeds_a_producer_through_the_pool() {
        let pool = pool();
        let (mut producer, mut consumer) = (LocalBlocks::new(), LocalBlocks::new());
        let n = 10 * BATCH;
        for _round in 0..20 {
            let blocks: Vec<_> = (0..n).map(|_| producer.alloc(&pool)).collect();
            for block in blocks {
                // SAFETY: blocks of this pool, unused.
                unsafe { consumer.free(block, &pool) };
            }
        }
        let chunks = pool.chunk_bytes() / (pool.chunk_blocks * 24);
        assert!(
            chunks <= 2,
            "{chunks} chunks for {n} blocks in flight: freed blocks were not reused"
        );
        // Without a slot: the loose list, then magazines.
        let shared = pool.alloc_shared();
        // SAFETY: a block of this pool, unused.
        unsafe { pool.free_shared(shared) };
        assert_eq!(pool.alloc_shared(), shared);
        producer.clear();
        consumer.clear();
        // SAFETY: nothing uses the blocks any more.
        unsafe { pool.free_chunks() };
    }

    #[test]
    fn alternating_at_a_magazine_edge_stays_local() {
        let pool = pool();
        let mut local = LocalBlocks::new();
        // One more than a magazine: `loaded` is full and one block sits in the other magazine.
        let blocks: Vec<_> = (0..=BATCH).map(|_| local.alloc(&pool)).collect();
        for &block in &blocks {
            // SAFETY: blocks of this pool, unused.
            unsafe { local.free(block, &pool) };
        }
        // Each round empties the loaded magazine and fills it past its edge again.
        for _ in 0..1_000 {
            let (a, b) = (local.alloc(&pool), local.alloc(&pool));
            // SAFETY: just allocated, unused.
            unsafe {
                local.free(b, &pool);
                local.free(a, &pool);
            }
        }
        assert!(
            pool.lock().magazines.is_empty(),
            "no magazine went to the pool"
        );
        local.clear();
        // SAFETY: nothing uses the blocks any more.
        unsafe { pool.free_chunks() };
    }
}
