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
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    },
    sync::Arc,
    thread::yield_now,
};

#[cfg(not(loom))]
pub(crate) use std::{
    hint::spin_loop,
    sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    },
    sync::Arc,
    thread::yield_now,
};

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
