//! The host side of `weft:step/compute`: kernels run natively (or on the
//! GPU, see its `device` module) over the host-resident columns a step names by handle.

pub(super) mod device;
mod held;

use arrow::array::{Array, ArrayRef};
use wasmtime::component::Resource;
use weft_gpu::{Access, GpuError};
use weft_kernels::KernelError;

use super::convert::{
    kernel_indicator, kernel_method, kernel_policy, kernel_scalar, wit_scalar, wit_stats,
};
use crate::sandbox::bindings::weft::step::compute::{
    Buffer, BufferSource, DeviceInfo, Host, Indicator, QuantileMethod, Stats, UnknownPolicy,
};
use crate::sandbox::bindings::weft::step::types::{Scalar, StepError};
use crate::sandbox::{Column, KernelDeadline, StepCtx};
use held::Held;
use weft_kernels as k;
use weft_kernels::ColumnSource;

type Fallible<T> = wasmtime::Result<Result<T, StepError>>;

/// A kernel refusing its input is the step's invalid input.
impl From<KernelError> for StepError {
    fn from(e: KernelError) -> Self {
        StepError::InvalidInput(e.to_string())
    }
}

fn refs(arrays: &[ArrayRef]) -> Vec<&dyn Array> {
    arrays.iter().map(|a| a.as_ref()).collect()
}

impl StepCtx {
    /// Run a kernel over the named columns; kernel errors go back to the
    /// step. Kernels need at most as much working space as their input
    /// holds, which must fit the step's host memory.
    fn kernel<T>(
        &mut self,
        columns: &[Resource<Column>],
        f: impl FnOnce(&[&dyn Array]) -> weft_kernels::Result<T>,
    ) -> Fallible<T> {
        let input = |a: &[&dyn Array]| a.iter().map(|a| a.get_array_memory_size()).sum();
        self.kernel_in(columns, input, f)
    }

    /// Run a kernel that needs `space(columns)` bytes of working space,
    /// which must fit the step's host memory.
    fn kernel_in<T>(
        &mut self,
        columns: &[Resource<Column>],
        space: impl FnOnce(&[&dyn Array]) -> usize,
        f: impl FnOnce(&[&dyn Array]) -> weft_kernels::Result<T>,
    ) -> Fallible<T> {
        let spilled = self.spilled_size(columns)?;
        let arrays = self.arrays(columns)?;
        let arrays = refs(&arrays);
        self.working_space(spilled + space(&arrays) as u64)?;
        self.on_cpu();
        Ok(f(&arrays).map_err(StepError::from))
    }

    /// Quantiles by `method`, charged the working space they hold; spilled
    /// columns are read back one at a time, once per pass.
    fn quantile_kernel(
        &mut self,
        columns: &[Resource<Column>],
        qs: &[f64],
        method: weft_kernels::QuantileMethod,
    ) -> Fallible<Vec<f64>> {
        let held = Held::new(self.columns(columns)?);
        let space = weft_kernels::quantiles_working_bytes(held.rows(), qs.len());
        self.working_space((space + held.largest_spilled()) as u64)?;
        self.on_cpu();
        let found = weft_kernels::quantiles_of(&held, qs, method);
        held.unread()?;
        Ok(found.map_err(StepError::from))
    }

    /// Hand the columns a kernel made to the step, charged to its output budget.
    fn hand_over(
        &mut self,
        made: Result<Vec<ArrayRef>, StepError>,
    ) -> Fallible<Vec<Resource<Column>>> {
        match made {
            Err(e) => Ok(Err(e)),
            Ok(arrays) => Ok(Ok(arrays
                .into_iter()
                .map(|a| self.created_column(Column::Host(a)))
                .collect::<wasmtime::Result<_>>()?)),
        }
    }
}

impl Host for StepCtx {
    fn column_stats(&mut self, columns: Vec<Resource<Column>>) -> Fallible<Stats> {
        Ok(self.stats_of(&columns)?.map(wit_stats))
    }

    fn quantiles(&mut self, columns: Vec<Resource<Column>>, qs: Vec<f64>) -> Fallible<Vec<f64>> {
        self.quantile_kernel(&columns, &qs, weft_kernels::QuantileMethod::Linear)
    }

    fn quantiles_with(
        &mut self,
        columns: Vec<Resource<Column>>,
        qs: Vec<f64>,
        method: QuantileMethod,
    ) -> Fallible<Vec<f64>> {
        self.quantile_kernel(&columns, &qs, kernel_method(method))
    }

    fn digitize(
        &mut self,
        column: Resource<Column>,
        edges: Vec<f64>,
        right: bool,
    ) -> Fallible<Resource<Column>> {
        let rows = self.table.get(&column)?.len();
        self.reserve(output_bytes(rows, 1, 8))?;
        let made = self.kernel(&[column], |c| {
            weft_kernels::digitize(c[0], &edges, right).map(|x| vec![x])
        })?;
        Ok(self.hand_over(made)?.map(|mut v| v.remove(0)))
    }

    fn value_counts(&mut self, columns: Vec<Resource<Column>>) -> Fallible<Vec<(Scalar, u64)>> {
        let counts = self.kernel(&columns, weft_kernels::value_counts)?;
        Ok(counts.map(|c| c.into_iter().map(|(s, n)| (wit_scalar(s), n)).collect()))
    }

    /// On the GPU, the result stays there until something reads it.
    fn affine(&mut self, column: Resource<Column>, a: f64, b: f64) -> Fallible<Resource<Column>> {
        let held = self.loaded(std::slice::from_ref(&column))?.remove(0);
        self.reserve(held.memory_size() as u64)?;
        let nulls = held.nulls()?;
        let made = match self.offload_f32(std::slice::from_ref(&held)) {
            Some(gpu) => gpu
                .affine_kept(device::input(&held), a as f32, b as f32)
                .map(|values| Column::from_kernel(values, nulls))
                .map_err(|e| device::step_error("affine", e)),
            None => weft_kernels::affine(held.array()?.as_ref(), a, b)
                .map(Column::Host)
                .map_err(StepError::from),
        };
        Ok(match made {
            Ok(column) => Ok(self.created_column(column)?),
            Err(e) => Err(e),
        })
    }

    fn fill_nulls(
        &mut self,
        column: Resource<Column>,
        value: Scalar,
    ) -> Fallible<Resource<Column>> {
        let value = kernel_scalar(value);
        self.reserve(self.table.get(&column)?.memory_size() as u64)?;
        let made = self.kernel(&[column], |c| {
            weft_kernels::fill_nulls(c[0], &value).map(|x| vec![x])
        })?;
        Ok(self.hand_over(made)?.map(|mut v| v.remove(0)))
    }

    fn one_hot(
        &mut self,
        column: Resource<Column>,
        categories: Vec<Scalar>,
        unknown: UnknownPolicy,
    ) -> Fallible<Vec<Resource<Column>>> {
        self.one_hot_as(column, categories, unknown, Indicator::Float64)
    }

    fn one_hot_as(
        &mut self,
        column: Resource<Column>,
        categories: Vec<Scalar>,
        unknown: UnknownPolicy,
        kind: Indicator,
    ) -> Fallible<Vec<Resource<Column>>> {
        let rows = self.table.get(&column)?.len();
        let kind = kernel_indicator(kind);
        let width = match kind {
            k::Indicator::Float64 => 8,
            k::Indicator::Float32 => 4,
            k::Indicator::Uint8 | k::Indicator::Bool => 1,
        };
        self.reserve(output_bytes(rows, categories.len(), width))?;
        let categories: Vec<_> = categories.into_iter().map(kernel_scalar).collect();
        let policy = kernel_policy(unknown);
        let made = self.kernel(&[column], |c| {
            weft_kernels::one_hot_as(c[0], &categories, policy, kind)
        })?;
        self.hand_over(made)
    }

    fn device(&mut self) -> wasmtime::Result<DeviceInfo> {
        Ok(device::info(self.compute.get().ok()))
    }

    fn matmul(
        &mut self,
        columns: Vec<Resource<Column>>,
        weights: Vec<f32>,
        outputs: u32,
    ) -> Fallible<Vec<Resource<Column>>> {
        let arrays = self.arrays(&columns)?;
        let n = outputs as usize;
        let rows = arrays.first().map_or(0, |a| a.len());
        self.reserve(output_bytes(rows, n, 4))?;
        let made = match self.offload(rows * arrays.len()) {
            Some(gpu) => gpu_matmul(&gpu, &refs(&arrays), &weights, n),
            None => self.cpu_matmul(&refs(&arrays), &weights, n)?,
        };
        self.hand_over(made)
    }

    fn histogram(&mut self, columns: Vec<Resource<Column>>, edges: Vec<f64>) -> Fallible<Vec<u64>> {
        let held = self.loaded(&columns)?;
        let narrow: Vec<f32> = edges.iter().map(|&e| e as f32).collect();
        let exact = narrow.iter().zip(&edges).all(|(&n, &e)| f64::from(n) == e);
        match self.offload_f32(&held).filter(|_| exact) {
            Some(gpu) => Ok(gpu_histogram(&gpu, &held, &narrow)),
            None => self.kernel(&columns, |a| weft_kernels::histogram(a, &edges)),
        }
    }

    fn run_wgsl(
        &mut self,
        source: String,
        entry: String,
        buffers: Vec<Buffer>,
        workgroups: (u32, u32, u32),
    ) -> Fallible<Vec<Vec<u8>>> {
        let mut bound = Vec::with_capacity(buffers.len());
        for (i, b) in buffers.into_iter().enumerate() {
            let access = if b.writable {
                Access::ReadWrite
            } else {
                Access::Read
            };
            let data = match b.source {
                BufferSource::Bytes(data) => data,
                BufferSource::Column(c) => match self.f32s_of(&c)? {
                    Ok(values) => weft_gpu::Buffer::read(&values).data,
                    Err(e) => {
                        return Ok(Err(StepError::InvalidInput(format!(
                            "run-wgsl: buffer {i}: {e}"
                        ))))
                    }
                },
            };
            bound.push(weft_gpu::Buffer { data, access });
        }
        let limits = self.gpu_limits;
        let (x, y, z) = workgroups;
        let ran = self
            .custom_device()
            .and_then(|gpu| gpu.run_wgsl(&source, &entry, &mut bound, [x, y, z], &limits));
        // Past the step's deadline the step is stopped, as the epoch would stop it.
        if let Err(GpuError::Timeout(_)) = ran {
            return Err(wasmtime::Error::new(KernelDeadline));
        }
        Ok(ran
            .map_err(|e| device::step_error("run-wgsl", e))
            .map(|()| {
                bound
                    .into_iter()
                    .filter(|b| b.access == Access::ReadWrite)
                    .map(|b| b.data)
                    .collect()
            }))
    }
}

impl StepCtx {
    /// Column `c` as f32 values for a GPU buffer, charged as working space.
    fn f32s_of(
        &mut self,
        c: &Resource<Column>,
    ) -> wasmtime::Result<weft_kernels::Result<Vec<f32>>> {
        let array = self.array(c)?;
        self.working_space(output_bytes(array.len(), 1, 4))?;
        Ok(weft_kernels::to_f32s(array.as_ref()))
    }

    /// Statistics of the columns, on the GPU when they are all f32 and
    /// [`StepCtx::offload`] says so.
    fn stats_of(&mut self, columns: &[Resource<Column>]) -> Fallible<weft_kernels::Stats> {
        let held = self.loaded(columns)?;
        let Some(gpu) = self.offload_f32(&held) else {
            return self.kernel(columns, weft_kernels::column_stats);
        };
        let mut total: Option<weft_kernels::Stats> = None;
        for column in &held {
            let valid = column.validity()?;
            let s = match gpu.column_stats(device::input(column), valid.as_deref()) {
                Ok(s) => s,
                Err(e) => return Ok(Err(device::step_error("column-stats", e))),
            };
            total = Some(total.map_or(s, |t| t.merge(&s)));
        }
        Ok(Ok(total.unwrap_or_else(|| {
            weft_kernels::column_stats(&[]).expect("no columns, no error")
        })))
    }

    /// `columns · weights` on the CPU, a block of rows at a time, stopped
    /// at the step's deadline as the epoch stops the guest.
    fn cpu_matmul(
        &self,
        columns: &[&dyn Array],
        weights: &[f32],
        n: usize,
    ) -> wasmtime::Result<Result<Vec<ArrayRef>, StepError>> {
        let made = weft_kernels::matmul_with(columns, weights, n, |a, b, m, k, n| {
            let rows = (MATMUL_BLOCK / (k * n).max(1)).max(1);
            let mut c = Vec::with_capacity(m * n);
            for block in a.chunks((rows * k).max(1)) {
                if self.past_deadline() {
                    return Err(Stop::Deadline);
                }
                c.extend(weft_kernels::matmul_f32(block, b, block.len() / k, k, n));
            }
            Ok(c)
        });
        match made {
            Ok(columns) => Ok(Ok(columns)),
            Err(Stop::Kernel(e)) => Ok(Err(e.into())),
            Err(Stop::Deadline) => Err(wasmtime::Error::new(KernelDeadline)),
        }
    }

    /// [`StepCtx::offload`] for kernels that take only f32 columns.
    fn offload_f32(&mut self, columns: &[Column]) -> Option<weft_gpu::Device> {
        if device::all_f32(columns) {
            self.offload(columns.iter().map(Column::len).sum())
        } else {
            self.on_cpu()
        }
    }
}

/// Multiply-adds a CPU kernel does between two looks at the deadline.
const MATMUL_BLOCK: usize = 1 << 22;

/// Why a CPU kernel stopped.
enum Stop {
    Kernel(KernelError),
    Deadline,
}

impl From<KernelError> for Stop {
    fn from(e: KernelError) -> Self {
        Stop::Kernel(e)
    }
}

/// Bytes of `columns` output columns of `rows` values `width` bytes wide.
fn output_bytes(rows: usize, columns: usize, width: u64) -> u64 {
    (rows as u64)
        .saturating_mul(columns as u64)
        .saturating_mul(width)
}

/// `columns · weights` with the product computed on `gpu`.
fn gpu_matmul(
    gpu: &weft_gpu::Device,
    columns: &[&dyn Array],
    weights: &[f32],
    n: usize,
) -> Result<Vec<ArrayRef>, StepError> {
    weft_kernels::matmul_with(columns, weights, n, |a, b, m, k, n| {
        gpu.matmul(a, b, m, k, n)
            .map_err(|e| device::step_error("matmul", e))
    })
}

/// Counts per bin of f32 columns on `gpu`; nulls read as NaN, which no bin counts.
fn gpu_histogram(
    gpu: &weft_gpu::Device,
    columns: &[Column],
    edges: &[f32],
) -> Result<Vec<u64>, StepError> {
    weft_kernels::check_edges(edges).map_err(StepError::from)?;
    let mut counts = vec![0u64; edges.len() - 1];
    for column in columns {
        let part = match column.null_count() {
            0 => gpu.histogram(device::input(column), edges),
            _ => {
                let array = column
                    .array()
                    .map_err(|e| device::read_error("histogram", e))?;
                let values = weft_kernels::to_f32s(array.as_ref()).map_err(StepError::from)?;
                gpu.histogram(&values, edges)
            }
        };
        let part = part.map_err(|e| device::step_error("histogram", e))?;
        counts.iter_mut().zip(part).for_each(|(t, c)| *t += c);
    }
    Ok(counts)
}
