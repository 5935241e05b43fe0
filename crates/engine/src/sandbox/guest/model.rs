//! The host side of `weft:step/model`: ONNX models, compiled once per
//! process and shared by every instance that loads the same bytes, run
//! natively on the columns a step names by handle (a network's dense
//! layers on the step's GPU, when it has one). A model's file size is
//! charged to the step's host memory while it holds the model; a run is
//! bounded by the step's deadline.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, LazyLock};

use wasmtime::component::Resource;
use weft_gpu::Device;
use weft_models::{Model, ModelError, Models, Offload, Port, Ran};

use super::compute::device::label;
use super::convert::wit_dtype_of;
use crate::sandbox::bindings::weft::step::model::{self, Port as WitPort};
use crate::sandbox::bindings::weft::step::types::StepError;
use crate::sandbox::{Column, KernelDeadline, StepCtx};

type Fallible<T> = wasmtime::Result<Result<T, StepError>>;

/// The models of this process, by digest.
static MODELS: LazyLock<Models> = LazyLock::new(Models::default);

/// A model a step holds, the host memory charged for it, and how errors
/// name it (`model "/models/churn.onnx"`).
pub struct ModelHandle {
    model: Arc<Model>,
    bytes: u64,
    what: String,
}

impl StepCtx {
    /// The host file behind `path` as the step sees it, inside one of its
    /// grants (no `..`, no link leading out).
    fn granted(&self, path: &str) -> Result<PathBuf, StepError> {
        let refused = |why: &str| {
            StepError::InvalidConfig(format!(
                "model {path:?}: {why}; mount its folder into the step (spec.steps[].mounts: \
                 {{path, as}}) and name the file as the step sees it"
            ))
        };
        // The grant with the longest matching path, as WASI resolves
        // nested mounts.
        let (grant, rest) = self
            .grants
            .iter()
            .filter_map(|g| Path::new(path).strip_prefix(&g.guest).ok().map(|r| (g, r)))
            .max_by_key(|(g, _)| Path::new(&g.guest).components().count())
            .ok_or_else(|| refused("no grant of the step holds it"))?;
        if rest
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(refused("the path leaves its grant"));
        }
        let root = grant
            .host
            .canonicalize()
            .map_err(|e| refused(&e.to_string()))?;
        let file = root
            .join(rest)
            .canonicalize()
            .map_err(|e| refused(&e.to_string()))?;
        if !file.starts_with(&root) || !file.is_file() {
            return Err(refused("not a file inside its grant"));
        }
        Ok(file)
    }

    /// The bytes of `file`, opened once: its size, taken from the open
    /// file, must fit the step's host memory, and no more than that is read.
    fn read_within(&self, file: &Path, what: &str) -> Result<Vec<u8>, StepError> {
        let unreadable = |e: std::io::Error| StepError::InvalidConfig(format!("{what}: {e}"));
        let mut opened = std::fs::File::open(file).map_err(unreadable)?;
        let size = opened.metadata().map_err(unreadable)?.len();
        self.room_for(what, size)?;
        let mut bytes = Vec::with_capacity(size as usize);
        opened
            .by_ref()
            .take(size)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        Ok(bytes)
    }

    /// Whether the step's host memory has room for a model of `size` bytes.
    fn room_for(&self, what: &str, size: u64) -> Result<(), StepError> {
        self.held.check(size).map_err(|e| {
            StepError::InvalidInput(format!(
                "{what} is {size} bytes: more than the step's host memory has room for \
                 (limits.hostMemory is {} bytes, {} held); raise limits.hostMemory",
                e.limit, e.held
            ))
        })
    }

    /// Compile `bytes`, whose size was found to fit the step's host
    /// memory, and charge them to it.
    fn load_model(&mut self, what: &str, bytes: Vec<u8>) -> Fallible<Resource<ModelHandle>> {
        let size = bytes.len() as u64;
        let model = match MODELS.load(bytes) {
            Ok(model) => model,
            Err(e) => return Ok(Err(StepError::InvalidInput(format!("{what}: {e}")))),
        };
        self.held.take(size)?;
        let handle = ModelHandle {
            model,
            bytes: size,
            what: what.to_owned(),
        };
        Ok(Ok(self.table.push(handle)?))
    }
}

fn wit_port(port: &Port) -> WitPort {
    WitPort {
        name: port.name.clone(),
        onnx_type: port.onnx_type.clone(),
        dtype: port.dtype.map(wit_dtype_of),
        shape: port.shape.clone(),
    }
}

impl StepCtx {
    /// Record where a model ran: the GPU for its dense layers, ONNX
    /// Runtime for the rest, or weft's own tree evaluator.
    fn record(&mut self, ran: Ran, gpu: Option<&Device>) {
        if let (true, Some(device)) = (ran.gpu, gpu) {
            self.devices.insert(label(device));
        }
        if ran.trees {
            self.devices.insert("weft trees (cpu)".to_owned());
        }
        if ran.onnxruntime {
            let runtime = weft_models::runtime::runtime().map(|r| r.version.clone());
            self.devices
                .insert(format!("onnxruntime {} (cpu)", runtime.unwrap_or_default()));
        }
    }
}

impl model::HostModel for StepCtx {
    fn open(&mut self, path: String) -> Fallible<Resource<ModelHandle>> {
        let file = match self.granted(&path) {
            Ok(file) => file,
            Err(e) => return Ok(Err(e)),
        };
        let what = format!("model {path:?}");
        match self.read_within(&file, &what) {
            Ok(bytes) => self.load_model(&what, bytes),
            Err(e) => Ok(Err(e)),
        }
    }

    fn from_bytes(&mut self, bytes: Vec<u8>) -> Fallible<Resource<ModelHandle>> {
        let what = "the model given as bytes";
        if let Err(e) = self.room_for(what, bytes.len() as u64) {
            return Ok(Err(e));
        }
        self.load_model(what, bytes)
    }

    fn digest(&mut self, m: Resource<ModelHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(&m)?.model.digest().to_owned())
    }

    fn inputs(&mut self, m: Resource<ModelHandle>) -> wasmtime::Result<Vec<WitPort>> {
        Ok(self
            .table
            .get(&m)?
            .model
            .inputs()
            .iter()
            .map(wit_port)
            .collect())
    }

    fn outputs(&mut self, m: Resource<ModelHandle>) -> wasmtime::Result<Vec<WitPort>> {
        Ok(self
            .table
            .get(&m)?
            .model
            .outputs()
            .iter()
            .map(wit_port)
            .collect())
    }

    fn run(
        &mut self,
        m: Resource<ModelHandle>,
        features: Vec<Resource<Column>>,
        outputs: Vec<String>,
    ) -> Fallible<Vec<Vec<Resource<Column>>>> {
        let handle = self.table.get(&m)?;
        let (model, what) = (handle.model.clone(), handle.what.clone());
        let arrays = self.arrays(&features)?;
        let rows = arrays.first().map_or(0, |a| a.len()) as u64;
        self.working_space(rows * arrays.len() as u64 * 8)?;
        let budget = self.held.limit().saturating_sub(self.held.held());
        let gpu = model
            .gpu_eligible()
            .then(|| self.device_for(rows as usize * arrays.len()))
            .flatten();
        let offload = gpu.as_ref().map(|device| Offload {
            device,
            max_bytes: self.gpu_limits.max_total_bytes,
        });
        let deadline = Some(self.deadline());
        let (made, ran) = match model.run(&arrays, &outputs, budget, deadline, offload) {
            Ok(made) => made,
            Err(ModelError::Deadline) => return Err(wasmtime::Error::new(KernelDeadline)),
            Err(e) => return Ok(Err(StepError::InvalidInput(format!("{what}: {e}")))),
        };
        self.record(ran, gpu.as_ref());
        let mut handed = Vec::with_capacity(made.len());
        for group in made {
            let columns = group
                .into_iter()
                .map(|a| self.created_column(Column::Host(a)))
                .collect::<wasmtime::Result<Vec<_>>>()?;
            handed.push(columns);
        }
        Ok(Ok(handed))
    }

    fn drop(&mut self, m: Resource<ModelHandle>) -> wasmtime::Result<()> {
        let handle = self.table.delete(m)?;
        self.held.give_back(handle.bytes);
        Ok(())
    }
}

impl model::Host for StepCtx {}
