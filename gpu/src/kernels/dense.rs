//! Dense (fully connected) layers, chained on the device: the dense prefix
//! of a neural network.

use std::sync::Arc;
use std::time::Instant;

use crate::gpu::{Gpu, WORKGROUP};
use crate::{cpu, Device, GpuError, KeepAlive, LimitKind};

/// The layer kernel, which `matmul` runs too (no bias, no activation).
pub(super) const SHADER: &str = include_str!("../shaders/dense.wgsl");
const SOFTMAX: &str = include_str!("../shaders/softmax.wgsl");

/// Rows and columns of a layer's output one workgroup computes; also the
/// fewest rows a block must hold.
const TILE: usize = 16;

/// What a [`Layer`] applies to `alpha·x·W + beta·bias`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// Nothing: the value as it is.
    Identity,
    /// `max(v, 0)`; NaN stays NaN.
    Relu,
    /// `1 / (1 + e^-v)`, evaluated so that it stays finite for any `v`.
    Sigmoid,
    /// `tanh(v)`, evaluated as `sign(v)·(1 − e)/(1 + e)` with `e = e^-2|v|`.
    Tanh,
    /// `v` for `v ≥ 0`, else the slope times `v`.
    LeakyRelu(f32),
    /// Per row: `e^(v − max) / Σ e^(v − max)`.
    Softmax,
}

impl Activation {
    /// The shader's `act` and `leak` for the element-wise part (softmax
    /// runs as a pass of its own after the identity).
    fn code(self) -> (u32, f32) {
        match self {
            Activation::Identity | Activation::Softmax => (0, 0.0),
            Activation::Relu => (1, 0.0),
            Activation::Sigmoid => (2, 0.0),
            Activation::Tanh => (3, 0.0),
            Activation::LeakyRelu(leak) => (4, leak),
        }
    }
}

/// One dense layer: `y = act(alpha·x·W + beta·bias)` for each row `x`.
#[derive(Debug, Clone)]
pub struct Layer {
    /// W, `k`×`n`, row-major (a transposed weight, as ONNX Gemm's
    /// `transB=1` stores it, is transposed before it gets here). Held in an
    /// `Arc` so its device copy can be kept for later calls.
    pub weights: Arc<[f32]>,
    /// `n` values added to each row, scaled by `beta`; `None` adds nothing.
    pub bias: Option<Arc<[f32]>>,
    /// Inputs per row.
    pub k: usize,
    /// Outputs per row.
    pub n: usize,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the bias.
    pub beta: f32,
    /// What is applied last.
    pub activation: Activation,
}

impl Device {
    /// `x` (rows×k₀, row-major) through `layers`, each taking the previous
    /// one's outputs; returns rows×n of the last layer.
    ///
    /// Both implementations sum the k products in f32 in order of k, then
    /// take `alpha·sum + beta·bias` and the activation in f32 (the GPU may
    /// fuse a multiply-add); they agree within a few f32 ulps per layer.
    ///
    /// On the GPU, rows go in blocks whose device bytes (all weights and
    /// biases, the block of `x`, the intermediates and the output) fit
    /// `max_bytes`; intermediates stay on the device, and each block is
    /// read back once. The weights and biases are kept on the device while
    /// their `Arc`s live, so a later call with the same layers does not
    /// upload them again. Every wait ends at `deadline`
    /// ([`GpuError::Timeout`]); the CPU implementation does not wait and
    /// ignores it, as it ignores `max_bytes`.
    ///
    /// Errors before anything is dispatched: layers that do not chain, or
    /// whose weights, bias or `x` have the wrong number of values, or whose
    /// weights do not fit one device buffer, are [`GpuError::InvalidInput`];
    /// weights and biases plus 16 rows over `max_bytes` are
    /// [`GpuError::LimitExceeded`] ([`LimitKind::TotalBytes`]).
    pub fn dense(
        &self,
        x: &[f32],
        layers: &[Layer],
        max_bytes: u64,
        deadline: Option<Instant>,
    ) -> Result<Vec<f32>, GpuError> {
        let rows = check(x, layers)?;
        let Some(gpu) = &self.kernels else {
            return Ok(cpu::dense(x, layers));
        };
        let plan = Plan::new(gpu, self.max_buffer_bytes, layers, max_bytes)?;
        if rows == 0 {
            return Ok(Vec::new());
        }
        run(gpu, x, layers, &plan, deadline)
    }
}

/// The number of rows of `x`, once the shapes are checked.
fn check(x: &[f32], layers: &[Layer]) -> Result<usize, GpuError> {
    let invalid = |message: String| Err(GpuError::InvalidInput(format!("dense: {message}")));
    let Some(first) = layers.first() else {
        return invalid("no layers".into());
    };
    let mut width = first.k;
    for (i, layer) in layers.iter().enumerate() {
        let (k, n) = (layer.k, layer.n);
        if k != width {
            return invalid(format!(
                "layer {i} takes {k} inputs, the layer before gives {width}"
            ));
        }
        if k == 0 || n == 0 {
            return invalid(format!("layer {i} is {k}×{n}"));
        }
        if k.checked_mul(n) != Some(layer.weights.len()) {
            let len = layer.weights.len();
            return invalid(format!("layer {i} has {len} weights, not {k}×{n}"));
        }
        if let Some(len) = layer.bias.as_ref().map(|b| b.len()).filter(|&len| len != n) {
            return invalid(format!("layer {i} has {len} biases, not {n}"));
        }
        width = n;
    }
    if !x.len().is_multiple_of(first.k) {
        let (len, k) = (x.len(), first.k);
        return invalid(format!("x has {len} values, not a multiple of {k}"));
    }
    let rows = x.len() / first.k;
    let widest = layers.iter().map(|l| l.n).max().unwrap_or(0);
    if rows.checked_mul(widest).is_none() {
        return invalid(format!("{rows} rows of {widest} values are too many"));
    }
    Ok(rows)
}

/// Which of the three activation buffers layer `i` of `count` writes:
/// hidden layers alternate between 0 and 1, the last one writes 2.
fn slot(i: usize, count: usize) -> usize {
    if i + 1 == count {
        2
    } else {
        i % 2
    }
}

/// How a call runs on the device.
struct Plan {
    /// Rows per block.
    rows: usize,
    /// Values per row of each activation buffer (see [`slot`]).
    widths: [usize; 3],
}

impl Plan {
    /// The blocks for `layers` within the buffer cap and `max_bytes`.
    fn new(
        gpu: &Gpu,
        buffer_bytes: u64,
        layers: &[Layer],
        max_bytes: u64,
    ) -> Result<Plan, GpuError> {
        let cap = gpu.chunk_len(buffer_bytes);
        let max_groups = gpu.limits.max_compute_workgroups_per_dimension as usize;
        let k0 = layers[0].k;
        let (mut widths, mut widest, mut weights) = ([0; 3], k0, 0u64);
        let mut counted = std::collections::HashSet::new();
        for (i, layer) in layers.iter().enumerate() {
            let (k, n) = (layer.k, layer.n);
            if k * n > cap || n.div_ceil(TILE) > max_groups {
                return Err(GpuError::InvalidInput(format!(
                    "dense: the weights of layer {i} ({k}×{n}) do not fit one device buffer \
                     of {cap} values"
                )));
            }
            let s = slot(i, layers.len());
            widths[s] = widths[s].max(n);
            widest = widest.max(n);
            // A matrix several layers share is on the device once.
            for values in std::iter::once(&layer.weights).chain(&layer.bias) {
                if counted.insert(values.as_ptr()) {
                    weights += 4 * values.len() as u64;
                }
            }
        }
        let row_bytes = 4 * (k0 + widths.iter().sum::<usize>()) as u64;
        let least = weights + TILE as u64 * row_bytes;
        if least > max_bytes {
            return Err(GpuError::LimitExceeded {
                kind: LimitKind::TotalBytes,
                requested: least,
                limit: max_bytes,
            });
        }
        let fit = usize::try_from((max_bytes - weights) / row_bytes).unwrap_or(usize::MAX);
        let rows = fit.min(cap / widest).min(max_groups * TILE).max(1);
        Ok(Plan { rows, widths })
    }
}

/// The layers on `gpu` over `x`, block by block.
fn run(
    gpu: &Gpu,
    x: &[f32],
    layers: &[Layer],
    plan: &Plan,
    deadline: Option<Instant>,
) -> Result<Vec<f32>, GpuError> {
    // An overrun reports the whole time the call was given.
    let budget = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let expired = || GpuError::Timeout(budget.unwrap_or_default());
    let pipelines = [
        gpu.builtin("dense", SHADER)?,
        gpu.builtin("softmax", SOFTMAX)?,
    ];
    let k0 = layers[0].k;
    gpu.scoped(|| {
        let weights = upload(gpu, layers);
        let mut y = Vec::with_capacity(x.len() / k0 * plan.widths[2]);
        for block in x.chunks(plan.rows * k0) {
            let left = match deadline.map(|d| d.saturating_duration_since(Instant::now())) {
                Some(left) if left.is_zero() => return Err(expired()),
                left => left,
            };
            let out = launch(gpu, &pipelines, &weights, layers, block, &plan.widths);
            let read = gpu.read(&[&out], left).map_err(|e| match e {
                GpuError::Timeout(_) => expired(),
                e => e,
            })?;
            y.extend(super::f32s(&read[0]));
        }
        Ok(y)
    })
}

/// Launch `layers` over the rows of `block` without waiting, using
/// activation buffers of `widths` values per row; returns the buffer the
/// last layer writes.
fn launch(
    gpu: &Gpu,
    [dense, softmax]: &[wgpu::ComputePipeline; 2],
    weights: &[(wgpu::Buffer, wgpu::Buffer)],
    layers: &[Layer],
    block: &[f32],
    widths: &[usize; 3],
) -> wgpu::Buffer {
    let rows = block.len() / layers[0].k;
    let activations = widths.map(|w| gpu.zeroed(4 * (rows * w).max(1) as u64));
    let mut input = gpu.input(block, None);
    for (i, (layer, (w, bias))) in layers.iter().zip(weights).enumerate() {
        let out = &activations[slot(i, layers.len())];
        let params = gpu.uniform(bytemuck::cast_slice(&uniform(layer, rows)));
        let group = gpu.bind(
            &dense.get_bind_group_layout(0),
            &[&params, &input, w, bias, out],
        );
        let grid = [layer.n.div_ceil(TILE) as u32, rows.div_ceil(TILE) as u32, 1];
        gpu.launch(dense, &group, grid);
        if layer.activation == Activation::Softmax {
            normalize(gpu, softmax, out, rows, layer.n);
        }
        input = out.clone();
    }
    input
}

/// Each layer's weights and bias on the device (a zero-filled stand-in for
/// no bias): the kept copies when an earlier call left them, else uploads
/// that are kept while the layer's `Arc`s live.
fn upload(gpu: &Gpu, layers: &[Layer]) -> Vec<(wgpu::Buffer, wgpu::Buffer)> {
    let kept = |values: &Arc<[f32]>| {
        let keep: KeepAlive = Arc::new(values.clone());
        gpu.input(values, Some(&keep))
    };
    layers
        .iter()
        .map(|layer| {
            let bias = layer.bias.as_ref().map_or_else(|| gpu.zeroed(4), kept);
            (kept(&layer.weights), bias)
        })
        .collect()
}

/// `dense.wgsl`'s parameters of `layer` over `rows` rows.
fn uniform(layer: &Layer, rows: usize) -> [u32; 8] {
    let (act, leak) = layer.activation.code();
    [
        rows as u32,
        layer.k as u32,
        layer.n as u32,
        act,
        layer.alpha.to_bits(),
        layer.beta.to_bits(),
        leak.to_bits(),
        u32::from(layer.bias.is_some()),
    ]
}

/// `dense.wgsl`'s parameters for the plain product of `rows`×`k` by `k`×`n`.
pub(super) fn product(rows: usize, k: usize, n: usize) -> [u32; 8] {
    [
        rows as u32,
        k as u32,
        n as u32,
        0,
        1f32.to_bits(),
        1f32.to_bits(),
        0,
        0,
    ]
}

/// Launch the softmax of each of the `rows` rows of `n` values in `y`, in place.
fn normalize(gpu: &Gpu, softmax: &wgpu::ComputePipeline, y: &wgpu::Buffer, rows: usize, n: usize) {
    let grid = gpu.grid((rows as u32).div_ceil(WORKGROUP));
    let params = [rows as u32, n as u32, grid[0] * WORKGROUP, 0];
    let params = gpu.uniform(bytemuck::cast_slice(&params));
    let group = gpu.bind(&softmax.get_bind_group_layout(0), &[&params, y]);
    gpu.launch(softmax, &group, grid);
}
