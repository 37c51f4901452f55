//! What the examples share: the keys they use.

/// `n` splitmix64 outputs from a fixed seed: random positions in every table, the same on every
/// run, so that the examples' figures can be compared across commits.
pub(crate) fn splitmix(n: usize) -> Vec<u64> {
    let mut state = 0x1234_5678_9abc_def0_u64;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
        .collect()
}
