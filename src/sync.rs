//! The one `cfg(loom)` switch (style.md §3): every atomic, `Arc` and `UnsafeCell` the crate uses
//! comes from here, so that `RUSTFLAGS="--cfg loom"` swaps all of them for loom's modelled versions.
//!
//! Under loom this re-exports loom's types. Otherwise it re-exports std's, plus an `UnsafeCell`
//! shim with loom's closure API (`with` / `with_mut`), so algorithm code is written once.
//!
//! The sequential map (`raw/`) needs none of this; the concurrent map and the writing-flag
//! detector build on it.
#![allow(
    unsafe_code,
    reason = "the UnsafeCell shim is the facade's one permitted unsafe seam"
)]
#![allow(
    clippy::disallowed_types,
    reason = "this module is the facade that the disallowed-types lint points everyone else to"
)]
#![allow(
    dead_code,
    unused_imports,
    reason = "the facade is complete up front; the concurrent map (issue 3) is its first user"
)]

#[cfg(loom)]
pub(crate) use loom::{
    cell::UnsafeCell,
    hint::spin_loop,
    sync::atomic::{
        fence, AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
        Ordering,
    },
    sync::Arc,
    thread::yield_now,
};

#[cfg(all(not(loom), not(feature = "sched")))]
pub(crate) use std::{
    hint::spin_loop,
    sync::atomic::{fence, Ordering},
    sync::Arc,
    thread::yield_now,
};

// With the doc-hidden `sched` feature (the deterministic scheduler of `crate::sched`, for the
// `resize_race` fuzz target and its test twin), every facade operation is also a scheduling
// point: atomics and `fence` call `sched::point()` first, `spin_loop` and `yield_now` call
// `sched::blocked()`. Both are one thread-local check, and do nothing, on a thread that the
// scheduler did not start. Without the feature the wrappers below are not compiled and the
// items above are std's own, so the default build is unchanged.
#[cfg(all(not(loom), feature = "sched"))]
pub(crate) use std::{sync::atomic::Ordering, sync::Arc};

/// std's `fence`, after a scheduling point (`sched` feature).
#[cfg(all(not(loom), feature = "sched"))]
#[inline(always)]
pub(crate) fn fence(order: Ordering) {
    crate::sched::point();
    std::sync::atomic::fence(order);
}

/// std's `spin_loop`, after telling the scheduler that this thread waits for another one
/// (`sched` feature).
#[cfg(all(not(loom), feature = "sched"))]
#[inline(always)]
pub(crate) fn spin_loop() {
    crate::sched::blocked();
    std::hint::spin_loop();
}

/// std's `yield_now`, after telling the scheduler that this thread waits for another one
/// (`sched` feature).
#[cfg(all(not(loom), feature = "sched"))]
#[inline(always)]
pub(crate) fn yield_now() {
    crate::sched::blocked();
    std::thread::yield_now();
}

/// A scheduling point before a facade atomic operation: `crate::sched::point()` with the
/// `sched` feature, nothing (not even an empty call) without it.
#[cfg(all(not(loom), feature = "sched"))]
macro_rules! sched_point {
    () => {
        crate::sched::point()
    };
}

/// Without the `sched` feature a scheduling point expands to nothing.
#[cfg(all(not(loom), not(feature = "sched")))]
macro_rules! sched_point {
    () => {};
}

/// Declares `#[repr(transparent)]` wrappers over std's atomics with the methods the crate uses.
/// They are distinct types, so clippy's `disallowed-types` (std atomics outside this file) can
/// tell a facade atomic from a direct use of std's, which a plain re-export could not. Zeroed
/// memory is a valid value of each, as for std's.
#[cfg(not(loom))]
macro_rules! std_atomic {
    ($name:ident, $value:ty, $($int:ident)?) => {
        #[doc = concat!("std's `", stringify!($name), "` behind the facade.")]
        #[derive(Debug, Default)]
        #[repr(transparent)]
        pub(crate) struct $name(std::sync::atomic::$name);

        impl $name {
            #[inline(always)]
            pub(crate) const fn new(value: $value) -> Self {
                Self(std::sync::atomic::$name::new(value))
            }
            #[inline(always)]
            pub(crate) fn load(&self, order: Ordering) -> $value {
                sched_point!();
                self.0.load(order)
            }
            #[inline(always)]
            pub(crate) fn store(&self, value: $value, order: Ordering) {
                sched_point!();
                self.0.store(value, order)
            }
            #[inline(always)]
            pub(crate) fn swap(&self, value: $value, order: Ordering) -> $value {
                sched_point!();
                self.0.swap(value, order)
            }
            #[inline(always)]
            pub(crate) fn compare_exchange(
                &self,
                current: $value,
                new: $value,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$value, $value> {
                sched_point!();
                self.0.compare_exchange(current, new, success, failure)
            }
        }
        $(std_atomic!(@$int $name, $value);)?
    };
    (@int $name:ident, $value:ty) => {
        impl $name {
            #[inline(always)]
            pub(crate) fn fetch_add(&self, value: $value, order: Ordering) -> $value {
                sched_point!();
                self.0.fetch_add(value, order)
            }
            #[inline(always)]
            pub(crate) fn fetch_sub(&self, value: $value, order: Ordering) -> $value {
                sched_point!();
                self.0.fetch_sub(value, order)
            }
        }
    };
}

#[cfg(not(loom))]
std_atomic!(AtomicBool, bool,);
#[cfg(not(loom))]
std_atomic!(AtomicU8, u8, int);
#[cfg(not(loom))]
std_atomic!(AtomicU32, u32, int);
#[cfg(not(loom))]
std_atomic!(AtomicU64, u64, int);
#[cfg(not(loom))]
std_atomic!(AtomicUsize, usize, int);
#[cfg(not(loom))]
std_atomic!(AtomicIsize, isize, int);

/// std's `AtomicPtr` behind the facade (see `std_atomic!`).
#[cfg(not(loom))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct AtomicPtr<T>(std::sync::atomic::AtomicPtr<T>);

#[cfg(not(loom))]
impl<T> AtomicPtr<T> {
    #[inline(always)]
    pub(crate) const fn new(value: *mut T) -> Self {
        Self(std::sync::atomic::AtomicPtr::new(value))
    }
    #[inline(always)]
    pub(crate) fn load(&self, order: Ordering) -> *mut T {
        sched_point!();
        self.0.load(order)
    }
    #[inline(always)]
    pub(crate) fn store(&self, value: *mut T, order: Ordering) {
        sched_point!();
        self.0.store(value, order)
    }
    #[inline(always)]
    pub(crate) fn swap(&self, value: *mut T, order: Ordering) -> *mut T {
        sched_point!();
        self.0.swap(value, order)
    }
    #[inline(always)]
    pub(crate) fn compare_exchange(
        &self,
        current: *mut T,
        new: *mut T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<*mut T, *mut T> {
        sched_point!();
        self.0.compare_exchange(current, new, success, failure)
    }
}

/// A number unique to the calling thread among all threads of the process that ever asked
/// (never 0, never reused), for claiming per-thread slots.
///
/// With the `sched` feature, a thread under `crate::sched` gets the scheduler's token instead:
/// deterministic (the same for the same logical thread in every replay, whatever the process
/// did before) and still unique within the process.
///
/// Every operation of the concurrent map calls this (its pin finds the thread's slot by the
/// token), so it is inlined, and the token lives in a `const`-initialised cell: a thread-local
/// load and a test, where a lazily initialised `thread_local!` behind a function call cost
/// 6–11% of a cache-resident `get` (`design/results/2026-11-27-vm-session17/README.md`).
#[cfg(not(loom))]
#[inline]
pub(crate) fn thread_token() -> usize {
    #[cfg(feature = "sched")]
    if let Some(token) = crate::sched::token() {
        return token;
    }
    let token = TOKEN.get();
    if token != 0 {
        token
    } else {
        new_thread_token()
    }
}

#[cfg(not(loom))]
std::thread_local! {
    /// This thread's token, 0 until its first `thread_token()`.
    static TOKEN: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Draws this thread's token, on its first `thread_token()`.
#[cfg(not(loom))]
#[cold]
fn new_thread_token() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    // ORDERING: Relaxed. Only uniqueness matters (RMWs on one location are totally ordered);
    // nothing is published.
    let token = NEXT.fetch_add(1, Ordering::Relaxed);
    TOKEN.set(token);
    token
}

/// Under loom: unique per modelled thread, numbered afresh in every execution.
#[cfg(loom)]
pub(crate) fn thread_token() -> usize {
    loom::lazy_static! {
        static ref NEXT: AtomicUsize = AtomicUsize::new(1);
    }
    loom::thread_local! {
        // ORDERING: Relaxed. Only uniqueness matters.
        static TOKEN: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TOKEN.with(|token| *token)
}

/// How many nested closures' maps the record of held chains keeps. Deeper ones are counted but
/// not recorded, so from them no write can be told safe: [`under_chain_of`] answers yes for
/// every map, and the write is refused (until session 23 it answered from the recorded eight
/// only, so a write from the ninth closure to its own map waited forever). Eight maps whose
/// closures run one inside another is far past any real use.
pub(crate) const HELD_RECORDED: usize = 8;

/// The maps (by address) under whose chains the calling thread runs user code, outermost first
/// (see [`enter_held_map`]).
#[cfg(not(loom))]
struct HeldMaps {
    /// Closures entered and not left, recorded or not.
    depth: core::cell::Cell<usize>,
    /// The first `min(depth, HELD_RECORDED)` are the maps of those closures.
    maps: [core::cell::Cell<usize>; HELD_RECORDED],
}

#[cfg(not(loom))]
std::thread_local! {
    /// See `enter_held_map`. `const` cells with no destructor, so the record stays usable in
    /// thread-local destructors.
    static HELD: HeldMaps = const {
        HeldMaps {
            depth: core::cell::Cell::new(0),
            maps: [const { core::cell::Cell::new(0) }; HELD_RECORDED],
        }
    };
}

/// Records that the calling thread now runs user code under a chain of the map at address
/// `map`, until the matching [`leave_held_map`]: `concurrent::raw::UnderChain` brackets the
/// closures of `update`, `get_or_insert_with`, `compute` and `retain` with them, so that a write
/// from such a closure to that map, or to the map of any closure it runs inside, can be refused
/// (`RawMap::refuse_write_under_own_chain`), and the destructors that fall due there are
/// postponed (G4 in `concurrent/reclaim.rs`). Until session 22 only the innermost map was kept,
/// so a closure of map A that ran a closure of map B could write to A (and hang on A's held
/// chain; found by a black-box test).
#[cfg(not(loom))]
#[inline]
pub(crate) fn enter_held_map(map: usize) {
    HELD.with(|held| {
        let depth = held.depth.get();
        if let Some(slot) = held.maps.get(depth) {
            slot.set(map);
        }
        held.depth.set(depth + 1);
    });
}

/// Ends the innermost record of [`enter_held_map`].
#[cfg(not(loom))]
#[inline]
pub(crate) fn leave_held_map() {
    HELD.with(|held| held.depth.set(held.depth.get() - 1));
}

/// Whether the calling thread runs user code under a chain of any map.
#[cfg(not(loom))]
#[inline]
pub(crate) fn under_any_chain() -> bool {
    HELD.with(|held| held.depth.get() != 0)
}

/// Whether the calling thread runs user code under a chain of the map at address `map`, in the
/// innermost closure or any closure around it, or may do so: past [`HELD_RECORDED`] nested
/// closures the maps are not recorded, and the answer is yes for every map.
#[cfg(not(loom))]
#[inline]
pub(crate) fn under_chain_of(map: usize) -> bool {
    HELD.with(|held| {
        let depth = held.depth.get();
        depth != 0
            && (depth > HELD_RECORDED || held.maps[..depth].iter().any(|slot| slot.get() == map))
    })
}

/// Whether the calling thread runs user code inside more nested closures of maps than the
/// record keeps ([`HELD_RECORDED`]), for the message of a refused write.
#[cfg(not(loom))]
pub(crate) fn past_held_record() -> bool {
    HELD.with(|held| held.depth.get() > HELD_RECORDED)
}

/// Under loom the modelled threads share one OS thread's thread-locals, so nothing is
/// recorded (the models never write from user code under a chain).
#[cfg(loom)]
pub(crate) fn enter_held_map(_map: usize) {}

/// Under loom nothing is recorded (see `enter_held_map`).
#[cfg(loom)]
pub(crate) fn leave_held_map() {}

/// Under loom nothing is recorded (see `enter_held_map`).
#[cfg(loom)]
pub(crate) fn under_any_chain() -> bool {
    false
}

/// Under loom nothing is recorded (see `enter_held_map`).
#[cfg(loom)]
pub(crate) fn under_chain_of(_map: usize) -> bool {
    false
}

/// Under loom nothing is recorded (see `enter_held_map`).
#[cfg(loom)]
pub(crate) fn past_held_record() -> bool {
    false
}

/// `std::cell::UnsafeCell` with loom's access API, so the same code compiles under both.
#[cfg(not(loom))]
#[derive(Debug, Default)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Unwraps the value.
    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

#[cfg(not(loom))]
impl<T: ?Sized> UnsafeCell<T> {
    /// Runs `f` with a shared raw pointer to the contents (loom: a tracked immutable access).
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a mutable raw pointer to the contents (loom: a tracked mutable access).
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
