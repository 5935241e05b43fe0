//! Where the kernels run: the routing of built-in kernels to the process's
//! GPU device (weft-gpu) or to the native CPU kernels (weft-kernels), and
//! the custom WGSL kernels of `run-wgsl`.
//!
//! Under `gpu` every eligible call runs on the device; under `auto` only
//! calls over at least [`AUTO_MIN_VALUES`] values, and only on a hardware
//! adapter (a software one is slower than the native kernels). Only f32
//! columns are eligible for the statistics, affine and histogram kernels,
//! so that both paths compute in the same precision; `matmul` is f32 by
//! contract and takes columns of any numeric type.

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::{DataType, Float32Type};
use weft_gpu::{Choice, Device, GpuError, Input, KeepAlive, Kind};

use crate::sandbox::bindings::weft::step::compute::{DeviceInfo, DeviceKind};
use crate::sandbox::bindings::weft::step::types::StepError;
use crate::sandbox::{BatchError, Column, StepCtx};

/// A column that could not be read back, as the step sees it.
pub(super) fn read_error(kernel: &str, e: BatchError) -> StepError {
    match e {
        BatchError::Device(e) => step_error(kernel, e),
        e => StepError::Internal(format!("{kernel}: {e}")),
    }
}

/// Under `auto`, calls over fewer values stay on the CPU: moving them to a
/// device costs more than it saves.
pub const AUTO_MIN_VALUES: usize = 1 << 16;

/// The label a report gives the CPU kernels.
const CPU: &str = "cpu";

/// A device failure as the step sees it: its own mistakes (shader, limits,
/// shapes) are invalid input, the rest internal.
pub(super) fn step_error(kernel: &str, e: GpuError) -> StepError {
    let message = format!("{kernel}: {e}");
    match e {
        GpuError::InvalidShader(_)
        | GpuError::LimitExceeded { .. }
        | GpuError::InvalidInput(_)
        | GpuError::Validation(_) => StepError::InvalidInput(message),
        _ => StepError::Internal(message),
    }
}

/// How a report names a device.
pub(in crate::sandbox::guest) fn label(device: &Device) -> String {
    let info = device.info();
    match info.kind {
        Kind::CpuFallback => CPU.to_owned(),
        kind => format!("{} ({}, {kind})", info.name, info.backend),
    }
}

/// The device's description for `compute.device`.
pub(super) fn info(device: Option<&Device>) -> DeviceInfo {
    let Some(info) = device.map(Device::info) else {
        return DeviceInfo {
            name: CPU.into(),
            backend: CPU.into(),
            kind: DeviceKind::CpuFallback,
        };
    };
    DeviceInfo {
        name: info.name.clone(),
        backend: info.backend.clone(),
        kind: match info.kind {
            Kind::Discrete => DeviceKind::Discrete,
            Kind::Integrated => DeviceKind::Integrated,
            Kind::Other => DeviceKind::Other,
            Kind::Software => DeviceKind::Software,
            Kind::CpuFallback => DeviceKind::CpuFallback,
        },
    }
}

/// An f32 column's values for a device kernel: the values a kernel left
/// on the device, or host memory whose device copy the device may keep for
/// later kernels while the column's buffer lives.
///
/// Panics unless `column` is f32 in memory (callers check with [`all_f32`]).
pub(super) fn input(column: &Column) -> Input<'_> {
    match column {
        Column::Kept(_) | Column::Spilled(_) => {
            Input::from(column.kept().expect("a kept column, not a spilled one"))
        }
        Column::Host(array) => {
            let f = array.as_primitive::<Float32Type>();
            let keep: KeepAlive = Arc::new(f.values().inner().clone());
            Input::resident(f.values().as_ref(), keep)
        }
    }
}

/// Whether every column is f32, in memory or on the device.
pub(super) fn all_f32(columns: &[Column]) -> bool {
    let in_memory = |c: &Column| !matches!(c, Column::Spilled(_));
    columns
        .iter()
        .all(|c| in_memory(c) && c.data_type() == DataType::Float32)
}

impl StepCtx {
    /// The GPU device for a built-in kernel over `values` values, or `None`
    /// for the native CPU kernels; records which ran.
    pub(super) fn offload(&mut self, values: usize) -> Option<Device> {
        let device = self.device_for(values);
        self.devices
            .insert(device.as_ref().map_or_else(|| CPU.to_owned(), label));
        device
    }

    /// The GPU device for work over `values` values under the step's
    /// compute choice, or `None` for the CPU; records nothing.
    pub(in crate::sandbox::guest) fn device_for(&self, values: usize) -> Option<Device> {
        match self.compute.choice() {
            Choice::Cpu => None,
            Choice::Auto if values < AUTO_MIN_VALUES => None,
            _ => self.compute.get().ok(),
        }
        .filter(|d| d.info().kind != Kind::CpuFallback)
        .cloned()
    }

    /// Record that a kernel ran on the CPU.
    pub(super) fn on_cpu(&mut self) -> Option<Device> {
        self.devices.insert(CPU.to_owned());
        None
    }

    /// The device for custom WGSL kernels, opened whatever the choice (it
    /// knows whether it has an adapter for them); records which ran.
    pub(super) fn custom_device(&mut self) -> Result<Device, GpuError> {
        let device = self.compute.get()?.clone();
        self.devices.insert(label(&device));
        Ok(device)
    }
}
