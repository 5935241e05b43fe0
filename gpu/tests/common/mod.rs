//! Shared by the test binaries: the lavapipe device, seeded random data and
//! an f64 reference.

#![allow(dead_code)] // Each test binary uses a different part.

use std::sync::OnceLock;

use weft_gpu::{Choice, Device};

/// The device every GPU test uses: any adapter (`Choice::Gpu`), which on a
/// machine without a GPU is Mesa lavapipe. Fails, never skips, without one.
pub fn gpu() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(|| {
        let device = Device::new(Choice::Gpu).unwrap_or_else(|e| {
            panic!(
                "the GPU tests need a Vulkan adapter (Mesa lavapipe will do); \
                 run ./scripts/setup.sh --test to install it. Error: {e}"
            )
        });
        eprintln!("GPU tests run on {:?}", device.info());
        device
    })
}

/// The CPU implementations.
pub fn cpu() -> Device {
    Device::new(Choice::Cpu).expect("the CPU device always opens")
}

/// A small seeded generator (SplitMix64), so the data is the same on every run.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `len` values uniform in `[lo, hi)`, as f32.
    pub fn f32s(&mut self, len: usize, lo: f64, hi: f64) -> Vec<f32> {
        (0..len)
            .map(|_| (lo + (hi - lo) * self.unit()) as f32)
            .collect()
    }
}

/// Relative error of `got` against `want`, scaled by `scale` (> 0).
pub fn rel(got: f64, want: f64, scale: f64) -> f64 {
    if got == want {
        0.0
    } else {
        (got - want).abs() / scale
    }
}
