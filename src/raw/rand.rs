//! A per-thread fast random source (Go: `rand()`/`fastrand()`), used for the iteration start,
//! the per-map seed `hash0` and the probabilistic overflow count. Not cryptographic.

use core::cell::Cell;
use std::hash::{BuildHasher, RandomState};

thread_local! {
    static STATE: Cell<u64> = Cell::new(initial_state());
}

fn initial_state() -> u64 {
    // std's RandomState draws per-process random keys and varies them per instance, which is all
    // the entropy a research map's seed needs.
    RandomState::new().hash_one(std::thread::current().id()) | 1
}

/// Restarts the calling thread's random source at `seed`: for fuzz targets and regression tests,
/// which need the maps they create afterwards on this thread to draw the same `hash0`, iteration
/// start points and overflow-count samples on every replay.
#[cfg(any(test, fuzzing, feature = "invariants"))]
pub(crate) fn reseed(seed: u64) {
    STATE.with(|state| state.set(seed));
}

/// The next 64 random bits (wyrand).
pub(crate) fn rand64() -> u64 {
    STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        (t as u64) ^ ((t >> 64) as u64)
    })
}
