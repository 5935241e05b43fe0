//! Seeded random inputs, the same on every run.

/// A small seeded generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `len` values uniform in [0, 1): positive, so a kernel that drops
    /// terms cannot hide behind cancellation.
    pub fn unit_f32s(&mut self, len: usize) -> Vec<f32> {
        (0..len)
            .map(|_| (self.next_u64() >> 40) as f32 / (1u32 << 24) as f32)
            .collect()
    }
}
