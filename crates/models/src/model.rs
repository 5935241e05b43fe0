//! One loaded model: its inputs and outputs, the ONNX Runtime sessions
//! that run it and, for a network, its dense layers, which a GPU runs
//! when the step's compute offers one; a tree ensemble weft evaluates
//! itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arrow::array::{ArrayRef, Float32Array};
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};
use weft_gpu::{Device, GpuError};
use weft_types::Dtype;

use crate::dense::{self, Dense};
use crate::graph::{self, Graph};
use crate::session::Sessions;
use crate::trees::{self, Trees};
use crate::{runtime, tensor, ModelError};

/// An input or output of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    /// The name in the graph.
    pub name: String,
    /// ONNX Runtime's spelling of the type, e.g. `Tensor<f32>(dyn, 8)`.
    pub onnx_type: String,
    /// The column type of the values, when the port is a tensor weft
    /// reads or writes.
    pub dtype: Option<Dtype>,
    /// Dimensions, `-1` where dynamic (the rows).
    pub shape: Vec<i64>,
    /// The tensor's element type, as the host feeds it.
    pub(crate) element: Option<TensorElementType>,
}

impl Port {
    /// Whether the output is one column (`[N]` or `[N, 1]`), named after
    /// it by `onnx-model` ([`weft_types::shape`]).
    pub fn single_column(&self) -> bool {
        weft_types::shape::single_column(&self.shape)
    }
}

/// A model ready to run: compiled once, run by any number of threads.
pub struct Model {
    digest: String,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    onnxruntime: Sessions,
    dense: Option<Dense>,
    /// The tree ensemble weft runs instead of ONNX Runtime.
    trees: Option<Trees>,
    /// The model of the nodes after the dense layers, compiled on first use.
    tail: OnceLock<Option<Sessions>>,
    /// Whether a GPU run has fallen back to ONNX Runtime (said once).
    fell_back: AtomicBool,
}

/// A GPU for a model's dense layers, and how many bytes of its memory they
/// may take (`limits.gpuMemory`).
#[derive(Clone, Copy)]
pub struct Offload<'a> {
    /// The device.
    pub device: &'a Device,
    /// Most bytes of weights and activations on the device at once.
    pub max_bytes: u64,
}

/// Where a run computed: report both when a network's dense layers ran on
/// the GPU and the nodes after them on ONNX Runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ran {
    /// The dense layers ran on the GPU.
    pub gpu: bool,
    /// ONNX Runtime ran the model or its tail.
    pub onnxruntime: bool,
    /// weft's own tree-ensemble evaluator ran the model.
    pub trees: bool,
}

/// Columns of each wanted output.
type Made = Vec<Vec<ArrayRef>>;

impl Model {
    /// Compile the ONNX model in `bytes`, whose sha256 is `digest`.
    pub fn load(bytes: Arc<[u8]>, digest: String) -> Result<Model, ModelError> {
        // Every ONNX Runtime call needs the library loaded first.
        runtime::runtime()?;
        let onnxruntime = Sessions::compile(bytes.clone()).map_err(|e| explain(e, &bytes))?;
        let (inputs, outputs) = onnxruntime.with(|session| {
            let ports = |of: &[ort::value::Outlet]| -> Vec<Port> {
                of.iter().map(|o| port(o.name(), o.dtype())).collect()
            };
            (ports(session.inputs()), ports(session.outputs()))
        })?;
        let graph = Graph::parse(&bytes).ok_or_else(|| "the graph does not parse".to_owned());
        let dense = graph
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|graph| dense::plan(graph, &inputs))
            .inspect_err(|why| tracing::debug!(%digest, "no dense layers for a GPU: {why}"))
            .ok();
        let trees = graph
            .and_then(|graph| trees::plan(&graph, &inputs))
            .inspect_err(|why| tracing::debug!(%digest, "ONNX Runtime runs the model, not weft's trees: {why}"))
            .ok();
        Ok(Model {
            digest,
            inputs,
            outputs,
            onnxruntime,
            dense,
            trees,
            tail: OnceLock::new(),
            fell_back: AtomicBool::new(false),
        })
    }

    /// The sha256 of the model file, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The inputs, in the graph's order.
    pub fn inputs(&self) -> &[Port] {
        &self.inputs
    }

    /// The outputs, in the graph's order.
    pub fn outputs(&self) -> &[Port] {
        &self.outputs
    }

    /// How many feature columns the inputs take, when every input's width
    /// is fixed (see [`tensor::inputs`]).
    pub fn feature_columns(&self) -> Option<usize> {
        self.inputs.iter().map(tensor::fixed_width).sum()
    }

    /// Whether the model starts with dense layers a GPU can run.
    pub fn gpu_eligible(&self) -> bool {
        self.dense.is_some()
    }

    /// Where runs compute, in words (what `weft inspect` shows).
    pub fn runs_on(&self) -> String {
        match (&self.trees, &self.dense) {
            (Some(_), _) => "weft's tree evaluator (cpu)".to_owned(),
            (None, Some(dense)) => dense.describe(),
            (None, None) => "ONNX Runtime (cpu)".to_owned(),
        }
    }

    /// Run the model on `columns` (filling the inputs in order, see
    /// [`tensor::inputs`]) and return the columns of each output named in
    /// `wanted`, refused when they would take more than `budget` bytes;
    /// past `deadline` the run is stopped. A tree ensemble weft evaluates
    /// runs here; otherwise, with `gpu`, the dense layers run there (or,
    /// when they do not fit its limits, on ONNX Runtime).
    pub fn run(
        &self,
        columns: &[ArrayRef],
        wanted: &[String],
        budget: u64,
        deadline: Option<Instant>,
        gpu: Option<Offload<'_>>,
    ) -> Result<(Made, Ran), ModelError> {
        let ports = wanted
            .iter()
            .map(|name| self.output(name))
            .collect::<Result<Vec<_>, _>>()?;
        let values = tensor::inputs(&self.inputs, columns)?;
        let rows = columns.first().map_or(0, |c| c.len());
        if let Some(trees) = &self.trees {
            let made = trees.run(floats(&values[0].1)?, rows, &ports, budget, deadline)?;
            let ran = Ran {
                trees: true,
                ..Ran::default()
            };
            return Ok((made, ran));
        }
        if let (Some(gpu), Some(dense)) = (gpu, &self.dense) {
            let run = Run {
                ports: &ports,
                rows,
                budget,
                deadline,
            };
            if let Some(made) = self.on_gpu(dense, gpu, &values[0].1, &run)? {
                return Ok(made);
            }
        }
        let made = self.onnxruntime.run(values, deadline, |outputs| {
            read(&ports, outputs, rows, budget)
        })?;
        let ran = Ran {
            onnxruntime: true,
            ..Ran::default()
        };
        Ok((made, ran))
    }

    /// The dense layers on `gpu`, then the tail on ONNX Runtime if a
    /// wanted output needs it; `None` when the model should run on ONNX
    /// Runtime instead.
    fn on_gpu(
        &self,
        dense: &Dense,
        gpu: Offload<'_>,
        x: &DynValue,
        run: &Run<'_>,
    ) -> Result<Option<(Made, Ran)>, ModelError> {
        let tail_ports: Vec<&Port> = run
            .ports
            .iter()
            .copied()
            .filter(|p| p.name != dense.boundary)
            .collect();
        let tail = match tail_ports.is_empty() {
            true => None,
            false => match self.tail(dense) {
                Some(tail) => Some(tail),
                None => return Ok(None),
            },
        };
        let shape = [run.rows as i64, dense.width as i64];
        let boundary = run.ports.iter().find(|p| p.name == dense.boundary);
        let left = match boundary {
            Some(port) => run.budget - tensor::room(port, &shape, 4, run.budget)?,
            None => run.budget,
        };
        let y = match dense.run(floats(x)?, gpu.device, gpu.max_bytes, run.deadline) {
            Ok(y) => y,
            Err(GpuError::Timeout(_)) => return Err(ModelError::Deadline),
            Err(e @ (GpuError::LimitExceeded { .. } | GpuError::InvalidInput(_))) => {
                if !self.fell_back.swap(true, Ordering::Relaxed) {
                    tracing::warn!(digest = %self.digest, "the model's dense layers run on ONNX Runtime: {e}");
                }
                return Ok(None);
            }
            Err(e) => return Err(ModelError::Run(format!("on the GPU: {e}"))),
        };
        let head = boundary
            .map(|port| {
                tensor::split(port, &shape, &y, run.rows, |v| {
                    Arc::new(Float32Array::from(v))
                })
            })
            .transpose()?;
        let mut rest = match tail {
            Some(tail) => {
                let boundary =
                    Tensor::from_array((shape, y)).map_err(|e| ModelError::Run(e.to_string()))?;
                let values = vec![(dense.boundary.clone(), boundary.into_dyn())];
                tail.run(values, run.deadline, |outputs| {
                    read(&tail_ports, outputs, run.rows, left)
                })?
            }
            None => Vec::new(),
        }
        .into_iter();
        let made = run
            .ports
            .iter()
            .map(|p| match p.name == dense.boundary {
                true => head.clone().unwrap_or_default(),
                false => rest.next().unwrap_or_default(),
            })
            .collect();
        Ok(Some((
            made,
            Ran {
                gpu: true,
                onnxruntime: tail.is_some(),
                trees: false,
            },
        )))
    }

    /// The tail's sessions, compiled on first use; `None` (said once) when
    /// ONNX Runtime refuses it, so the whole model runs there.
    fn tail(&self, dense: &Dense) -> Option<&Sessions> {
        self.tail
            .get_or_init(|| {
                let bytes = dense.tail.clone()?;
                Sessions::compile(bytes.into())
                    .inspect_err(|e| tracing::warn!(digest = %self.digest, "the model runs on ONNX Runtime alone: its tail does not compile: {e}"))
                    .ok()
            })
            .as_ref()
    }

    fn output(&self, name: &str) -> Result<&Port, ModelError> {
        self.outputs.iter().find(|p| p.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.outputs.iter().map(|p| p.name.as_str()).collect();
            ModelError::Output(format!(
                "the model has no output {name:?}; its outputs are: {}",
                names.join(", ")
            ))
        })
    }
}

/// The values of the f32 feature tensor the trees and dense layers read.
fn floats(value: &DynValue) -> Result<&[f32], ModelError> {
    let (_, x) = value
        .try_extract_tensor::<f32>()
        .map_err(|e| ModelError::Run(e.to_string()))?;
    Ok(x)
}

/// What one run asks for.
struct Run<'a> {
    ports: &'a [&'a Port],
    rows: usize,
    budget: u64,
    deadline: Option<Instant>,
}

/// The columns of `ports` in `outputs`, checked to fit `budget` bytes
/// before any is made.
fn read(
    ports: &[&Port],
    outputs: &ort::session::SessionOutputs<'_>,
    rows: usize,
    budget: u64,
) -> Result<Vec<Vec<ArrayRef>>, ModelError> {
    let mut left = budget;
    let mut values = Vec::with_capacity(ports.len());
    for port in ports {
        let value = outputs.get(&port.name).ok_or_else(|| {
            ModelError::Output(format!("output {:?} was not computed", port.name))
        })?;
        left -= tensor::output_bytes(port, value, left)?;
        values.push(value);
    }
    ports
        .iter()
        .zip(values)
        .map(|(port, value)| tensor::columns(port, value, rows))
        .collect()
}

/// A load error with the nodes whose operators it names, or a word on a
/// file that is no ONNX model at all.
fn explain(error: ModelError, bytes: &[u8]) -> ModelError {
    let ModelError::Invalid(text) = error else {
        return error;
    };
    let Some(nodes) = graph::nodes(bytes) else {
        return ModelError::Invalid(format!(
            "{text} (the file is not an ONNX model: corrupt or truncated)"
        ));
    };
    let named: Vec<String> = nodes
        .iter()
        .filter(|n| !n.op_type.is_empty() && text.contains(&format!("{}(", n.op_type)))
        .map(|n| format!("node {:?} ({}:{})", n.name, n.domain, n.op_type))
        .collect();
    if named.is_empty() {
        return ModelError::Invalid(text);
    }
    ModelError::Invalid(format!(
        "{text}; ONNX Runtime has no such operator for {}",
        named.join(", ")
    ))
}

fn port(name: &str, ty: &ValueType) -> Port {
    let (element, shape) = match ty {
        ValueType::Tensor { ty, shape, .. } => (Some(*ty), shape.to_vec()),
        _ => (None, Vec::new()),
    };
    Port {
        name: name.to_owned(),
        onnx_type: ty.to_string(),
        dtype: element.and_then(tensor::dtype_of),
        shape,
        element,
    }
}
