//! SplitMix64's output function: spreads any 64-bit value over all 64 bits, so that nearby
//! inputs (counters, ids) give unrelated outputs. Deterministic; no secret, no randomness.

/// The golden-ratio increment SplitMix64 steps its state by.
pub(crate) const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// The mix of `z`.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
