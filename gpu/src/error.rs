//! The errors of device selection, kernels and custom shaders.

use std::fmt;

/// A cap that a kernel call went over: one of a custom kernel's
/// [`crate::Limits`], or the device bytes given to [`crate::Device::dense`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Number of buffers bound to the shader.
    Buffers,
    /// Bytes of all buffers together.
    TotalBytes,
    /// Workgroups dispatched (`x * y * z`).
    Workgroups,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Buffers => "buffers",
            LimitKind::TotalBytes => "total buffer bytes",
            LimitKind::Workgroups => "workgroups",
        })
    }
}

/// What went wrong; every wgpu failure is turned into one of these, never a
/// panic.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// `WEFT_COMPUTE` holds something other than `auto`, `gpu` or `cpu`.
    #[error("WEFT_COMPUTE={0:?} is not one of auto, gpu, cpu")]
    InvalidChoice(String),
    /// `WEFT_COMPUTE=gpu` (or a custom shader) needs an adapter and none is visible.
    #[error(
        "{0}: no GPU adapter is visible (no Vulkan driver found). Install a Vulkan driver \
         (for a software one on the CPU: `apt-get install mesa-vulkan-drivers libvulkan1`, \
         Mesa lavapipe), or set WEFT_COMPUTE=auto or WEFT_COMPUTE=cpu to use the CPU"
    )]
    NoAdapter(&'static str),
    /// The shared device could not be opened earlier (the first error, repeated).
    #[error("{0}")]
    Unavailable(String),
    /// A kernel ran past its time limit; the device may still be busy with it.
    #[error("the GPU kernel ran longer than its limit of {0:?} and was abandoned")]
    Timeout(std::time::Duration),
    /// The adapter was found but opening a device on it failed.
    #[error("could not open the GPU device {adapter}: {message}")]
    DeviceRequest {
        /// Adapter name.
        adapter: String,
        /// wgpu's reason.
        message: String,
    },
    /// A custom WGSL shader does not parse or validate; the message starts
    /// with `line:column`.
    #[error("invalid WGSL shader: {0}")]
    InvalidShader(String),
    /// A kernel call asked for more than its limits allow (a custom
    /// kernel's [`crate::Limits`], or the device bytes given to
    /// [`crate::Device::dense`]); nothing was dispatched.
    #[error("kernel call exceeds its limit on {kind}: asks for {requested}, the limit is {limit}")]
    LimitExceeded {
        /// Which cap.
        kind: LimitKind,
        /// What the call asked for.
        requested: u64,
        /// The cap.
        limit: u64,
    },
    /// The arguments do not fit the kernel (shapes, edges, sizes).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// wgpu rejected an operation (caught in an error scope).
    #[error("GPU validation error: {0}")]
    Validation(String),
    /// The device ran out of memory.
    #[error("GPU out of memory: {0}")]
    OutOfMemory(String),
    /// The driver failed, or waiting for or reading back results failed.
    #[error("GPU failure: {0}")]
    Device(String),
}

impl GpuError {
    /// Map an error caught by a wgpu error scope.
    pub(crate) fn from_wgpu(error: wgpu::Error) -> GpuError {
        match error {
            wgpu::Error::OutOfMemory { source } => GpuError::OutOfMemory(source.to_string()),
            wgpu::Error::Validation { description, .. } => {
                GpuError::Validation(one_line(&description))
            }
            wgpu::Error::Internal { description, .. } => GpuError::Device(one_line(&description)),
        }
    }
}

/// wgpu's indented, multi-line error chain as one line, causes joined by `: `.
fn one_line(description: &str) -> String {
    description
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "Caused by:" && *l != "Validation Error")
        .collect::<Vec<_>>()
        .join(": ")
}
