//! Choosing where kernels run: a GPU adapter, a software Vulkan adapter
//! (Mesa lavapipe) or the CPU implementations.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::gpu::Gpu;
use crate::{GpuError, Transfers};

/// Largest buffer a kernel call puts on the device by default (256 MiB);
/// larger inputs are processed in chunks. See [`Device::with_max_buffer_bytes`].
pub const DEFAULT_MAX_BUFFER_BYTES: u64 = 256 << 20;

/// Which implementation runs the kernels, as `WEFT_COMPUTE=auto|gpu|cpu` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    /// A hardware adapter when there is one, else the CPU implementations.
    #[default]
    Auto,
    /// Any adapter, software ones (lavapipe) included; an error when none is visible.
    Gpu,
    /// The CPU implementations only; custom WGSL kernels are unavailable.
    Cpu,
}

impl Choice {
    /// The environment variable [`Choice::from_env`] reads.
    pub const ENV: &'static str = "WEFT_COMPUTE";

    /// The choice in `WEFT_COMPUTE`; [`Choice::Auto`] when it is unset or empty.
    pub fn from_env() -> Result<Choice, GpuError> {
        match std::env::var(Self::ENV) {
            Ok(value) => value.parse(),
            Err(std::env::VarError::NotPresent) => Ok(Choice::Auto),
            Err(std::env::VarError::NotUnicode(value)) => Err(GpuError::InvalidChoice(
                value.to_string_lossy().into_owned(),
            )),
        }
    }
}

impl FromStr for Choice {
    type Err = GpuError;

    /// `auto`, `gpu` or `cpu` (any case, surrounding blanks ignored); empty is `auto`.
    fn from_str(s: &str) -> Result<Choice, GpuError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Choice::Auto),
            "gpu" => Ok(Choice::Gpu),
            "cpu" => Ok(Choice::Cpu),
            _ => Err(GpuError::InvalidChoice(s.to_owned())),
        }
    }
}

/// What runs the built-in kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A discrete GPU.
    Discrete,
    /// A GPU sharing memory with the CPU.
    Integrated,
    /// A virtual or unclassified GPU adapter.
    Other,
    /// A software Vulkan implementation on the CPU (Mesa lavapipe).
    Software,
    /// weft's own CPU implementations, no adapter.
    CpuFallback,
}

impl Kind {
    /// `discrete`, `integrated`, `other`, `software` or `cpu-fallback`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Discrete => "discrete",
            Kind::Integrated => "integrated",
            Kind::Other => "other",
            Kind::Software => "software",
            Kind::CpuFallback => "cpu-fallback",
        }
    }

    fn of(device_type: wgpu::DeviceType) -> Kind {
        match device_type {
            wgpu::DeviceType::DiscreteGpu => Kind::Discrete,
            wgpu::DeviceType::IntegratedGpu => Kind::Integrated,
            wgpu::DeviceType::VirtualGpu | wgpu::DeviceType::Other => Kind::Other,
            wgpu::DeviceType::Cpu => Kind::Software,
        }
    }

    /// Preference among adapters under [`Choice::Gpu`]: higher is better.
    fn rank(self) -> u8 {
        match self {
            Kind::Discrete => 4,
            Kind::Integrated => 3,
            Kind::Other => 2,
            Kind::Software => 1,
            Kind::CpuFallback => 0,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the kernels of a [`Device`] run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Adapter name (e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`), or `cpu`.
    pub name: String,
    /// Graphics backend (`vulkan`), or `cpu`.
    pub backend: String,
    /// What runs the built-in kernels.
    pub kind: Kind,
    /// The adapter that runs custom WGSL kernels, if any. Under
    /// [`Choice::Auto`] with only a software adapter, the built-in kernels
    /// run on the CPU and custom shaders on the software adapter.
    pub custom_wgsl: Option<String>,
}

/// A compute device: cheap to clone, `Send + Sync`, safe to call from many
/// threads at once (one wgpu device and queue shared behind an `Arc`).
#[derive(Clone)]
pub struct Device {
    /// The adapter that runs the built-in kernels; `None` runs them on the CPU.
    pub(crate) kernels: Option<Arc<Gpu>>,
    /// The adapter that runs custom WGSL kernels.
    pub(crate) custom: Option<Arc<Gpu>>,
    /// Cap on the bytes of one device buffer; bigger inputs are chunked.
    pub(crate) max_buffer_bytes: u64,
    info: Info,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("info", &self.info)
            .field("max_buffer_bytes", &self.max_buffer_bytes)
            .finish()
    }
}

impl Device {
    /// Open the device `choice` asks for. Vulkan adapters are looked up
    /// through the Vulkan loader (wgpu's `WGPU_BACKEND` and related
    /// variables are honoured).
    pub fn new(choice: Choice) -> Result<Device, GpuError> {
        if choice == Choice::Cpu {
            return Ok(Device::cpu(None));
        }
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let best = adapters
            .into_iter()
            .max_by_key(|a| Kind::of(a.get_info().device_type).rank());
        match (choice, best) {
            (Choice::Gpu, None) => Err(GpuError::NoAdapter("WEFT_COMPUTE=gpu")),
            (_, None) => Ok(Device::cpu(None)),
            (Choice::Auto, Some(adapter))
                if Kind::of(adapter.get_info().device_type) == Kind::Software =>
            {
                // A software adapter is slower than native CPU code for the
                // built-in kernels, but it is the only way to run custom ones.
                let gpu = Gpu::open(adapter).ok().map(Arc::new);
                Ok(Device::cpu(gpu))
            }
            (_, Some(adapter)) => {
                let gpu = Arc::new(Gpu::open(adapter)?);
                let info = Info {
                    name: gpu.info.name.clone(),
                    backend: gpu.info.backend.to_string(),
                    kind: Kind::of(gpu.info.device_type),
                    custom_wgsl: Some(gpu.info.name.clone()),
                };
                Ok(Device {
                    kernels: Some(gpu.clone()),
                    custom: Some(gpu),
                    max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
                    info,
                })
            }
        }
    }

    /// The device `WEFT_COMPUTE` asks for ([`Choice::from_env`]).
    pub fn from_env() -> Result<Device, GpuError> {
        Device::new(Choice::from_env()?)
    }

    /// Built-in kernels on the CPU; custom WGSL kernels on `custom`, if any.
    fn cpu(custom: Option<Arc<Gpu>>) -> Device {
        Device {
            info: Info {
                name: "cpu".into(),
                backend: "cpu".into(),
                kind: Kind::CpuFallback,
                custom_wgsl: custom.as_ref().map(|g| g.info.name.clone()),
            },
            kernels: None,
            custom,
            max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES,
        }
    }

    /// Where the kernels run.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// Host-to-device traffic of the built-in kernels so far (zero on the CPU).
    pub fn transfers(&self) -> Transfers {
        self.kernels
            .as_ref()
            .map_or_else(Transfers::default, |gpu| gpu.cache().transfers)
    }

    /// Cap each buffer a built-in kernel puts on the device at `bytes`
    /// (further capped by the adapter's storage-buffer binding size; at
    /// least 4 KiB); inputs that do not fit are processed in chunks.
    pub fn with_max_buffer_bytes(mut self, bytes: u64) -> Device {
        self.max_buffer_bytes = bytes.max(4096);
        self
    }
}
