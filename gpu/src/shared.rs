//! One device per process, opened on first use.

use std::fmt;
use std::sync::OnceLock;

use crate::{Choice, Device, GpuError};

/// The process's compute device, opened the first time a kernel needs it so
/// that runs which never call a device kernel never load a Vulkan driver.
/// Every step shares it; wgpu's device and queue are safe to use from
/// concurrent threads.
pub struct Shared {
    choice: Choice,
    device: OnceLock<Result<Device, String>>,
}

impl Shared {
    /// A device to be opened with `choice`.
    pub fn new(choice: Choice) -> Shared {
        Shared {
            choice,
            device: OnceLock::new(),
        }
    }

    /// What was asked for.
    pub fn choice(&self) -> Choice {
        self.choice
    }

    /// The device, opened now if it was not yet; an error (e.g. no adapter
    /// under [`Choice::Gpu`]) is remembered and returned on every call.
    pub fn get(&self) -> Result<&Device, GpuError> {
        self.device
            .get_or_init(|| Device::new(self.choice).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|message| GpuError::Unavailable(message.clone()))
    }

    /// The device if it has been opened successfully already.
    pub fn opened(&self) -> Option<&Device> {
        self.device.get().and_then(|d| d.as_ref().ok())
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("choice", &self.choice)
            .field("opened", &self.opened().map(|d| d.info().name.clone()))
            .finish()
    }
}
