//! Helpers for the unit tests of both maps.

use core::hash::{BuildHasher, Hasher};

/// A hasher builder whose every hash is the given value: all keys share one chain, which drives
/// long overflow chains and same-size growth.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConstantState(pub(crate) u64);

impl BuildHasher for ConstantState {
    type Hasher = ConstantHasher;
    fn build_hasher(&self) -> ConstantHasher {
        ConstantHasher(self.0)
    }
}

/// The hasher of [`ConstantState`]: ignores its input.
pub(crate) struct ConstantHasher(u64);

impl Hasher for ConstantHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {}
}
