//! weft's compute offload: a wgpu (Vulkan) backend for the built-in kernels
//! (matmul, dense layers, column statistics, histogram, affine) and for
//! custom WGSL kernels, with a CPU implementation of every built-in kernel
//! used when no adapter is (see [`Choice`], `WEFT_COMPUTE=auto|gpu|cpu`).
//!
//! Mesa's lavapipe (Debian `mesa-vulkan-drivers`) is a real Vulkan device on
//! the CPU, so the GPU code paths are tested without a GPU. The API is
//! synchronous and free of wasmtime types: kernels take and return slices.
//!
//! ```no_run
//! let device = weft_gpu::Device::new(weft_gpu::Choice::Auto)?;
//! let scaled = device.affine(&[1.0, 2.0, 3.0], 2.0, 0.5)?;
//! assert_eq!(scaled, [-0.5, 0.0, 0.5]);
//! # Ok::<(), weft_gpu::GpuError>(())
//! ```

mod cpu;
mod custom;
mod device;
mod error;
mod gpu;
mod kernels;
mod resident;
mod shared;

pub use custom::{Access, Buffer, Limits};
pub use device::{Choice, Device, Info, Kind, DEFAULT_MAX_BUFFER_BYTES};
pub use error::{GpuError, LimitKind};
pub use kernels::{Activation, Layer};
pub use resident::{Input, KeepAlive, Transfers, Values};
pub use shared::Shared;
pub use weft_kernels::Stats;
