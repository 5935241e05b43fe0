//! The built-in kernels, each a method of [`crate::Device`] with a WGSL
//! implementation and a CPU one ([`crate::cpu`]).

mod affine;
mod dense;
mod histogram;
mod matmul;
mod stats;

pub use dense::{Activation, Layer};

/// Reinterpret bytes read back from the device as f32 values.
fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytemuck::pod_collect_to_vec(bytes)
}
