//! Errors: the public [`TryReserveError`] and the private [`Fallibility`] switch that lets one
//! allocation path serve both the panicking and the fallible front-ends (style.md §8).
#![deny(unsafe_code)]

use core::alloc::Layout;
use core::fmt;

/// The error returned by [`HashMap::try_reserve`](crate::HashMap::try_reserve).
///
/// Go has no counterpart: `makemap` treats an impossible hint as 0 (divergence D7 in
/// `design/go-correspondence.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryReserveError {
    /// The requested number of entries needs a bucket array whose size does not fit in
    /// `isize::MAX` bytes (or whose `B` does not fit in a shift).
    CapacityOverflow,
    /// The allocator refused the bucket array.
    AllocError {
        /// The layout of the refused allocation.
        layout: Layout,
    },
}

impl fmt::Display for TryReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CapacityOverflow => {
                f.write_str("memory allocation failed because the computed capacity exceeded the collection's maximum")
            }
            Self::AllocError { layout } => write!(
                f,
                "memory allocation of {} bytes (alignment {}) failed",
                layout.size(),
                layout.align()
            ),
        }
    }
}

impl std::error::Error for TryReserveError {}

/// Whether a failed allocation panics/aborts (the infallible API) or becomes an `Err`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fallibility {
    /// `with_capacity`, `reserve`, `insert`: capacity overflow panics with "capacity overflow",
    /// an allocator failure calls `handle_alloc_error`.
    Infallible,
    /// `try_reserve`: both become an `Err`.
    Fallible,
}

impl Fallibility {
    /// The single point where a capacity overflow becomes a panic or an error.
    pub(crate) fn capacity_overflow(self) -> TryReserveError {
        match self {
            Self::Infallible => panic!("capacity overflow"),
            Self::Fallible => TryReserveError::CapacityOverflow,
        }
    }

    /// The single point where an allocator failure becomes an abort or an error.
    pub(crate) fn alloc_err(self, layout: Layout) -> TryReserveError {
        match self {
            Self::Infallible => std::alloc::handle_alloc_error(layout),
            Self::Fallible => TryReserveError::AllocError { layout },
        }
    }
}
