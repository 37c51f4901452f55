//! Hashers with no hidden randomness, so that an input replays identically: a fixed-seed
//! foldhash (good distribution), a constant hash (every key collides: one long overflow chain,
//! same-size growths) and a low-entropy hash (only 2^bits distinct hashes).
//!
//! The maps mix their own seed (Go's `hash0`) into every hash; the targets make that seed
//! deterministic too with `hmap::seed_thread_rng`.

use std::hash::{BuildHasher, Hasher};

use arbitrary::Arbitrary;
use foldhash::fast::{FixedState, FoldHasher};

/// The hash of every key under [`FuzzHasher::Constant`] (the same value as the integration tests'
/// `ConstantHasher`: its low bits are not all zero, so doublings send the chain to X or Y
/// depending on B).
pub const CONSTANT_HASH: u64 = 0xDEAD_BEEF_1234_5679;

/// Which hasher an input asks for.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasherChoice {
    /// foldhash with this fixed seed.
    Fixed(u64),
    /// Every key hashes to [`CONSTANT_HASH`].
    Constant,
    /// The key's bits folded to `bits % 9` bits (1 to 256 distinct hashes).
    LowEntropy(u8),
}

impl HasherChoice {
    /// The hasher itself.
    pub fn build(self) -> FuzzHasher {
        match self {
            HasherChoice::Fixed(seed) => FuzzHasher::Fixed(FixedState::with_seed(seed)),
            HasherChoice::Constant => FuzzHasher::Constant,
            HasherChoice::LowEntropy(bits) => FuzzHasher::LowEntropy(u32::from(bits % 9)),
        }
    }

    /// The same choice, but never a well-distributed hash: `Fixed` becomes a low-entropy hash
    /// (for the `collisions` target).
    pub fn weak(self) -> HasherChoice {
        match self {
            HasherChoice::Fixed(seed) => HasherChoice::LowEntropy(seed as u8 % 5),
            HasherChoice::LowEntropy(bits) => HasherChoice::LowEntropy(bits % 5),
            HasherChoice::Constant => HasherChoice::Constant,
        }
    }
}

/// One `BuildHasher` type for every [`HasherChoice`].
#[derive(Clone, Debug)]
pub enum FuzzHasher {
    /// See [`HasherChoice::Fixed`].
    Fixed(FixedState),
    /// See [`HasherChoice::Constant`].
    Constant,
    /// See [`HasherChoice::LowEntropy`]: the number of bits kept.
    LowEntropy(u32),
}

/// The `Hasher` of [`FuzzHasher`].
pub enum FuzzHasherState {
    /// foldhash.
    Fixed(FoldHasher<'static>),
    /// Ignores its input.
    Constant,
    /// A multiplicative fold of the input, truncated to `bits` bits by `finish`.
    LowEntropy {
        /// Bits kept.
        bits: u32,
        /// The fold so far.
        state: u64,
    },
}

impl Hasher for FuzzHasherState {
    fn finish(&self) -> u64 {
        match self {
            FuzzHasherState::Fixed(h) => h.finish(),
            FuzzHasherState::Constant => CONSTANT_HASH,
            FuzzHasherState::LowEntropy { bits, state } => {
                // Fold the high bits down first so that every input bit counts.
                let folded = state ^ (state >> 29) ^ (state >> 47);
                folded & ((1u64 << bits) - 1)
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        match self {
            FuzzHasherState::Fixed(h) => h.write(bytes),
            FuzzHasherState::Constant => {}
            FuzzHasherState::LowEntropy { state, .. } => {
                for &byte in bytes {
                    *state = state.wrapping_mul(31).wrapping_add(u64::from(byte));
                }
            }
        }
    }
}

impl BuildHasher for FuzzHasher {
    type Hasher = FuzzHasherState;

    fn build_hasher(&self) -> FuzzHasherState {
        match self {
            FuzzHasher::Fixed(state) => FuzzHasherState::Fixed(state.build_hasher()),
            FuzzHasher::Constant => FuzzHasherState::Constant,
            FuzzHasher::LowEntropy(bits) => FuzzHasherState::LowEntropy {
                bits: *bits,
                state: 0,
            },
        }
    }
}
