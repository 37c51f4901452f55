//! Deterministic inputs for the benches and the lab: `u64` keys (splitmix64 outputs, with a
//! miss-key set provably disjoint from the hit keys) and the one hasher seed all maps share.
//!
//! Key `i` of a set is `mix(SEED + j·GAMMA)` where `mix` is splitmix64's output function and
//! `j = 2i` for hit keys, `j = 2i + 1` for miss keys. `GAMMA` is odd, so `j ↦ j·GAMMA` is a
//! bijection on `u64`, and `mix` is a bijection too (xor-shifts and odd multipliers are
//! invertible); even and odd `j` therefore never produce the same key. No RNG state is shared,
//! so key `i` can be computed on the fly inside a measurement loop without storing the set.
//!
//! Std only: `lab/` includes this file with `#[path]`, so the lab and the benches insert exactly
//! the same keys.

/// Start of the splitmix64 sequence; any constant works, this one is fixed for reproducibility.
pub(crate) const SEED: u64 = 0x5EED_0F4D_4150;

/// Seed of the `foldhash::fast::FixedState` every map in the benches and the lab is built with, so
/// that all implementations hash every key identically, run after run.
pub(crate) const HASH_SEED: u64 = 0x00C0_FFEE_D00D_F00D;

/// splitmix64's increment (the golden-ratio constant); odd, hence invertible modulo 2^64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's output function: a bijection on `u64` with good avalanche.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// splitmix64 as a stream: deterministic, and only ever used outside timed code (operation
/// shuffles, a reader's key choice).
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    /// The next output.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// Uniform in `0..bound` (Lemire's multiply-high; the bias is below 2^-32 for our bounds).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(bound)) >> 64) as u64
    }
}

/// The `i`-th hit key (the keys that get inserted).
#[inline]
pub(crate) fn hit_key(i: u64) -> u64 {
    mix(SEED.wrapping_add(i.wrapping_mul(2).wrapping_mul(GAMMA)))
}

/// The `i`-th miss key: never equal to any hit key (see the module docs).
#[inline]
pub(crate) fn miss_key(i: u64) -> u64 {
    mix(SEED.wrapping_add(i.wrapping_mul(2).wrapping_add(1).wrapping_mul(GAMMA)))
}

/// The first `n` hit keys, in insertion order.
pub(crate) fn hit_keys(n: usize) -> Vec<u64> {
    (0..n as u64).map(hit_key).collect()
}

/// The first `n` miss keys.
pub(crate) fn miss_keys(n: usize) -> Vec<u64> {
    (0..n as u64).map(miss_key).collect()
}

/// Parses a count: digits with optional `_`, and an optional `K` (×1,000) or `M` (×1,000,000)
/// suffix, case-insensitive. Zero is rejected.
pub(crate) fn parse_count(text: &str) -> Result<usize, String> {
    let cleaned = text.trim().replace('_', "");
    let (digits, scale) = match cleaned.chars().last() {
        Some('k' | 'K') => (&cleaned[..cleaned.len() - 1], 1_000),
        Some('m' | 'M') => (&cleaned[..cleaned.len() - 1], 1_000_000),
        _ => (&cleaned[..], 1),
    };
    let count = digits
        .parse::<usize>()
        .ok()
        .and_then(|d| d.checked_mul(scale))
        .ok_or_else(|| "not a count (examples: 1000, 100K, 8M)".to_owned())?;
    if count == 0 {
        return Err("the count must be at least 1".to_owned());
    }
    Ok(count)
}
