//! [`LoadFactor`]: when a map doubles. Go: `loadFactorNum` / `loadFactorDen` and `overLoadFactor`.
#![deny(unsafe_code)]

use crate::SLOTS_PER_BUCKET;

/// Which of Go's load factors decides when the map doubles.
///
/// Go: `loadFactorNum / loadFactorDen`. Go 1.22 restored the intended 13/2; Go 1.21 computed the
/// numerator with an integer division that made it 12/2 (golang/go#63438).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LoadFactor {
    /// 6.5 entries per bucket on average (13/2), as in Go 1.22 and later. The default.
    #[default]
    Go122,
    /// 6.0 entries per bucket (12/2), Go 1.21's real load factor.
    Go121,
}

impl LoadFactor {
    /// The numerator: 13 or 12. Go: `loadFactorNum`.
    pub const fn num(self) -> usize {
        match self {
            Self::Go122 => 13,
            Self::Go121 => 12,
        }
    }

    /// The denominator, 2. Go: `loadFactorDen`.
    pub const fn den(self) -> usize {
        2
    }

    /// `num / den` as a float. Go: `runtime.HashLoad`.
    pub fn as_f64(self) -> f64 {
        self.num() as f64 / self.den() as f64
    }

    /// Whether `count` entries are too many for 2^`log2_buckets` buckets. Go: `overLoadFactor`.
    #[inline]
    pub(crate) fn is_exceeded(self, count: usize, log2_buckets: u8) -> bool {
        // count > num * (2^B / den); a threshold past usize::MAX (B ≥ 64) is never exceeded.
        let threshold = match 1usize.checked_shl(u32::from(log2_buckets)) {
            Some(buckets) => (buckets / self.den()).saturating_mul(self.num()),
            None => usize::MAX,
        };
        count > SLOTS_PER_BUCKET && count > threshold
    }

    /// The smallest B that holds `count` entries without exceeding the load factor.
    pub(crate) fn log2_buckets_for(self, count: usize) -> u8 {
        let mut log2 = 0u8;
        while self.is_exceeded(count, log2) {
            log2 += 1;
        }
        log2
    }
}
