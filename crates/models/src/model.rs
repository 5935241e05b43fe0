//! One loaded model: its inputs and outputs, and ONNX Runtime sessions
//! that run it, one per concurrent caller (ONNX Runtime's sessions are not
//! safe to run from two threads at once), sharing pre-packed weights.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use arrow::array::ArrayRef;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};
use ort::session::{RunOptions, Session};
use ort::value::{TensorElementType, ValueType};
use weft_types::Dtype;

use crate::{graph, runtime, tensor, ModelError};

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

/// A model ready to run: compiled once, run by any number of threads.
pub struct Model {
    digest: String,
    bytes: Arc<[u8]>,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    idle: Mutex<Vec<Session>>,
    prepacked: PrepackedWeights,
}

impl Model {
    /// Compile the ONNX model in `bytes`, whose sha256 is `digest`.
    pub fn load(bytes: Arc<[u8]>, digest: String) -> Result<Model, ModelError> {
        // Every ONNX Runtime call needs the library loaded first.
        runtime::runtime()?;
        let prepacked = PrepackedWeights::new();
        let session = session(&bytes, &prepacked).map_err(|e| explain(e, &bytes))?;
        let inputs = session
            .inputs()
            .iter()
            .map(|o| port(o.name(), o.dtype()))
            .collect();
        let outputs = session
            .outputs()
            .iter()
            .map(|o| port(o.name(), o.dtype()))
            .collect();
        Ok(Model {
            digest,
            bytes,
            inputs,
            outputs,
            idle: Mutex::new(vec![session]),
            prepacked,
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

    /// Run the model on `columns` (filling the inputs in order, see
    /// [`tensor::inputs`]) and return the columns of each output named in
    /// `wanted`, refused when they would take more than `budget` bytes;
    /// past `deadline` the run is stopped.
    pub fn run(
        &self,
        columns: &[ArrayRef],
        wanted: &[String],
        budget: u64,
        deadline: Option<Instant>,
    ) -> Result<Vec<Vec<ArrayRef>>, ModelError> {
        let ports = wanted
            .iter()
            .map(|name| self.output(name))
            .collect::<Result<Vec<_>, _>>()?;
        let values = tensor::inputs(&self.inputs, columns)?;
        let rows = columns.first().map_or(0, |c| c.len());
        let mut session = self.checkout()?;
        let options = RunOptions::new().map_err(|e| ModelError::Run(e.to_string()))?;
        let result = {
            let ran = watch(deadline, &options, || {
                session.run_with_options(values, &options)
            });
            match ran {
                Ok(outputs) => read(&ports, &outputs, rows, budget),
                Err(_) if deadline.is_some_and(|d| Instant::now() >= d) => {
                    Err(ModelError::Deadline)
                }
                Err(e) => Err(ModelError::Run(e.to_string())),
            }
        };
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(session);
        result
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

    /// An idle session, or a new one when every session is running.
    fn checkout(&self) -> Result<Session, ModelError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(session) => Ok(session),
            None => session(&self.bytes, &self.prepacked),
        }
    }
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

/// A session of one thread (weft's workers run batches in parallel).
fn session(bytes: &[u8], prepacked: &PrepackedWeights) -> Result<Session, ModelError> {
    let runtime = runtime::runtime()?;
    let built = || -> ort::Result<Session> {
        Session::builder(&runtime.environment)?
            .with_optimization_level(GraphOptimizationLevel::All)?
            .with_intra_threads(1)?
            .with_inter_threads(1)?
            .with_prepacked_weights(prepacked)?
            .commit_from_memory(bytes)
    };
    built().map_err(|e| ModelError::Invalid(e.to_string()))
}

/// Call `run`; when `deadline` passes first, tell ONNX Runtime to stop it.
fn watch<T>(deadline: Option<Instant>, options: &RunOptions, run: impl FnOnce() -> T) -> T {
    let Some(deadline) = deadline else {
        return run();
    };
    let (done, finished) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        // Without a watchdog thread (none could start) the run goes on
        // unbounded; the step's own deadline still ends the call after it.
        let _ = std::thread::Builder::new().spawn_scoped(scope, move || {
            let left = deadline.saturating_duration_since(Instant::now());
            if finished.recv_timeout(left).is_err() {
                let _ = options.terminate();
            }
        });
        let out = run();
        let _ = done.send(());
        out
    })
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
