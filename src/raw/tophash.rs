//! The tophash byte (Go: `tophash`) and its markers, and a word-at-a-time view of a bucket's
//! eight tophash bytes.
//!
//! Every slot of a bucket has one tophash byte. A live entry stores the top 8 bits of its hash,
//! bumped to at least [`TopHash::MIN_TOP_HASH`]; values below that are state markers. Go:
//! `emptyRest` … `minTopHash` in `runtime/map.go`.

use super::bucket::SLOTS_PER_BUCKET;

/// One tophash byte. `#[repr(transparent)]` over `u8`, so a bucket's array of them is Go's
/// `tophash [8]uint8` and zeroed memory means "every slot `EMPTY_REST`".
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub(crate) struct TopHash(pub(crate) u8);

impl TopHash {
    /// The slot is empty and so is every later slot of this bucket and of its overflow
    /// buckets. Go: `emptyRest`.
    pub(crate) const EMPTY_REST: Self = Self(0);
    /// The slot is empty; later slots may be in use. Go: `emptyOne`.
    pub(crate) const EMPTY_ONE: Self = Self(1);
    /// In an old bucket during growth: the entry moved to the X (same index) half. Go: `evacuatedX`.
    pub(crate) const EVACUATED_X: Self = Self(2);
    /// In an old bucket during growth: the entry moved to the Y (index + old count) half. Go: `evacuatedY`.
    pub(crate) const EVACUATED_Y: Self = Self(3);
    /// In an old bucket during growth: the slot was empty when its bucket was evacuated. Go: `evacuatedEmpty`.
    pub(crate) const EVACUATED_EMPTY: Self = Self(4);
    /// The smallest tophash a live entry can have. Go: `minTopHash`.
    pub(crate) const MIN_TOP_HASH: Self = Self(5);

    /// The tophash of a full 64-bit hash: its top 8 bits, moved out of the marker range.
    /// Go: `tophash(hash)`.
    #[inline(always)]
    pub(crate) fn from_hash(hash: u64) -> Self {
        let top = (hash >> 56) as u8;
        if top < Self::MIN_TOP_HASH.0 {
            Self(top + Self::MIN_TOP_HASH.0)
        } else {
            Self(top)
        }
    }

    /// `EMPTY_REST` or `EMPTY_ONE`. Go: `isEmpty`.
    #[inline(always)]
    pub(crate) fn is_empty(self) -> bool {
        self.0 <= Self::EMPTY_ONE.0
    }

    /// A live entry.
    #[inline(always)]
    pub(crate) fn is_full(self) -> bool {
        self.0 >= Self::MIN_TOP_HASH.0
    }

    /// One of the three evacuation markers. Applied to slot 0 of a chain's head bucket this is
    /// Go's `evacuated(b)`.
    #[inline(always)]
    pub(crate) fn is_evacuation_marker(self) -> bool {
        self.0 >= Self::EVACUATED_X.0 && self.0 <= Self::EVACUATED_EMPTY.0
    }
}

/// The eight tophash bytes of one bucket read as one little-endian word: byte `i` is slot `i`.
///
/// GO: Go scans the bytes one by one; reading them as a word and matching with SWAR bit tricks
/// gives the same answers (the masks below are exact, not probabilistic) with fewer branches (D10).
#[derive(Clone, Copy)]
pub(crate) struct TopHashWord(u64);

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const SEVEN_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH_BITS: u64 = LOW_BITS << 7;

impl TopHashWord {
    /// Packs the bucket's tophash array.
    #[inline(always)]
    pub(crate) fn new(bytes: [TopHash; SLOTS_PER_BUCKET]) -> Self {
        Self(u64::from_le_bytes(bytes.map(|t| t.0)))
    }

    /// The word as stored in the concurrent map's atomic tophash word.
    #[inline(always)]
    pub(crate) const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw word.
    #[inline(always)]
    pub(crate) const fn bits(self) -> u64 {
        self.0
    }

    /// Slot `slot`'s tophash.
    #[inline(always)]
    pub(crate) fn get(self, slot: usize) -> TopHash {
        TopHash((self.0 >> (8 * slot)) as u8)
    }

    /// The word with slot `slot`'s tophash replaced by `top`.
    #[inline(always)]
    pub(crate) fn with(self, slot: usize, top: TopHash) -> Self {
        let shift = 8 * slot;
        Self((self.0 & !(0xff << shift)) | (u64::from(top.0) << shift))
    }

    /// Slots holding a live entry.
    #[inline(always)]
    pub(crate) fn full(self) -> SlotMask {
        // Full means "not one of the five marker values", that is a byte of at least
        // `MIN_TOP_HASH` (5). With each byte's top bit forced on, every byte is at least 0x80, so
        // subtracting 5 from each borrows from no neighbour, and leaves the top bit set exactly
        // when the byte's low seven bits are at least 5; a byte of 0x80 or more is full anyway.
        // Four operations instead of five exact matches (about 30), twice per evacuated bucket
        // (session 33); `full_is_every_byte_from_min_top_hash` checks it against the definition.
        let forced = self.0 | HIGH_BITS;
        SlotMask(((forced - LOW_BITS * u64::from(TopHash::MIN_TOP_HASH.0)) | self.0) & HIGH_BITS)
    }

    /// Exact mask of the zero bytes of `x`: bit 7 of byte `i` is set iff byte `i` is zero.
    #[inline(always)]
    fn zero_bytes(x: u64) -> SlotMask {
        SlotMask(!(((x & SEVEN_BITS).wrapping_add(SEVEN_BITS)) | x | SEVEN_BITS))
    }

    /// Slots whose tophash equals `top`.
    #[inline(always)]
    pub(crate) fn matching(self, top: TopHash) -> SlotMask {
        Self::zero_bytes(self.0 ^ (LOW_BITS * u64::from(top.0)))
    }

    /// Slots that are `EMPTY_ONE` or `EMPTY_REST`.
    #[inline(always)]
    pub(crate) fn empty(self) -> SlotMask {
        Self::zero_bytes(self.0 & !LOW_BITS)
    }

    /// Whether any slot is `EMPTY_REST`, which ends a scan of the chain.
    #[inline(always)]
    pub(crate) fn has_empty_rest(self) -> bool {
        Self::zero_bytes(self.0).any()
    }
}

/// A set of slot indices, one bit per slot at bit `8 * i + 7`.
#[derive(Clone, Copy)]
pub(crate) struct SlotMask(u64);

impl SlotMask {
    /// No slots.
    pub(crate) const EMPTY: Self = Self(0);

    /// Whether the set is non-empty.
    #[inline(always)]
    pub(crate) fn any(self) -> bool {
        self.0 != 0
    }

    /// The smallest slot in the set.
    #[inline(always)]
    pub(crate) fn lowest(self) -> Option<usize> {
        if self.0 == 0 {
            None
        } else {
            Some(self.0.trailing_zeros() as usize / 8)
        }
    }
}

impl Iterator for SlotMask {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        let slot = self.lowest()?;
        self.0 &= self.0 - 1;
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_exact() {
        let bytes = [5u8, 0, 1, 5, 200, 4, 0, 133].map(TopHash);
        let word = TopHashWord::new(bytes);
        assert_eq!(word.matching(TopHash(5)).collect::<Vec<_>>(), vec![0, 3]);
        assert_eq!(word.matching(TopHash(133)).collect::<Vec<_>>(), vec![7]);
        assert_eq!(word.empty().collect::<Vec<_>>(), vec![1, 2, 6]);
        assert!(word.has_empty_rest());
        let full = TopHashWord::new([9u8, 1, 1, 1, 1, 1, 1, 1].map(TopHash));
        assert!(!full.has_empty_rest());
        assert_eq!(full.matching(TopHash(1)).count(), 7);
        // A borrow from a zero byte must not make its neighbour look like a match.
        let tricky = TopHashWord::new([0u8, 1, 0x80, 0x81, 0xff, 0, 0x01, 0x00].map(TopHash));
        assert_eq!(tricky.matching(TopHash(0x81)).collect::<Vec<_>>(), vec![3]);
        assert_eq!(tricky.empty().collect::<Vec<_>>(), vec![0, 1, 5, 6, 7]);
        assert_eq!(word.full().collect::<Vec<_>>(), vec![0, 3, 4, 7]);
        assert_eq!(word.get(4), TopHash(200));
        assert_eq!(word.with(1, TopHash(9)).get(1), TopHash(9));
        assert_eq!(word.with(1, TopHash(9)).get(0), TopHash(5));
    }

    #[test]
    fn full_is_every_byte_from_min_top_hash() {
        // Every byte value in every slot, beside neighbours that are markers, full, or 0x80
        // and 0xff (the edges of a borrow). Under Miri (20,480 cases took 8 minutes there) a
        // sample: four neighbours, and the values around 5 and 0x80 with every 17th other one.
        let fills: &[u8] = if cfg!(miri) {
            &[0, 5, 0x80, 0xff]
        } else {
            &[0, 1, 4, 5, 6, 0x7f, 0x80, 0x84, 0x85, 0xff]
        };
        let values: Vec<u8> = (0u8..=255)
            .filter(|&v| {
                !cfg!(miri) || v % 17 == 0 || (3..=6).contains(&v) || (0x7e..=0x86).contains(&v)
            })
            .collect();
        for &fill in fills {
            for slot in 0..8 {
                for &value in &values {
                    let mut bytes = [fill; 8];
                    bytes[slot] = value;
                    let word = TopHashWord::new(bytes.map(TopHash));
                    let want = (0..8)
                        .filter(|&i| bytes[i] >= TopHash::MIN_TOP_HASH.0)
                        .fold(0u64, |mask, i| mask | 0x80 << (8 * i));
                    assert_eq!(word.full().0, want, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn from_hash_skips_markers() {
        for top in 0u8..=255 {
            let t = TopHash::from_hash(u64::from(top) << 56);
            assert!(t.is_full());
            if top >= 5 {
                assert_eq!(t.0, top);
            } else {
                assert_eq!(t.0, top + 5);
            }
        }
    }
}
