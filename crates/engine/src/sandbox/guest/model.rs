//! The host side of `weft:step/model`: ONNX models, compiled once per
//! process and shared by every instance that loads the same bytes, run
//! natively on the columns a step names by handle. A model's file size is
//! charged to the step's host memory while it holds the model; a run is
//! bounded by the step's deadline.

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, LazyLock};

use wasmtime::component::Resource;
use weft_models::{Model, ModelError, Models, Port};

use crate::sandbox::bindings::weft::step::model::{self, Port as WitPort};
use crate::sandbox::bindings::weft::step::types::{Dtype, StepError};
use crate::sandbox::{Column, KernelDeadline, StepCtx};

type Fallible<T> = wasmtime::Result<Result<T, StepError>>;

/// The models of this process, by digest.
static MODELS: LazyLock<Models> = LazyLock::new(Models::default);

/// A model a step holds, and the host memory charged for it.
pub struct ModelHandle {
    model: Arc<Model>,
    bytes: u64,
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
        for grant in &self.grants {
            let Ok(rest) = Path::new(path).strip_prefix(&grant.guest) else {
                continue;
            };
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
            return Ok(file);
        }
        Err(refused("no grant of the step holds it"))
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

    fn load_model(&mut self, what: &str, bytes: Vec<u8>) -> Fallible<Resource<ModelHandle>> {
        let size = bytes.len() as u64;
        if let Err(e) = self.room_for(what, size) {
            return Ok(Err(e));
        }
        let model = match MODELS.load(bytes) {
            Ok(model) => model,
            Err(e) => return Ok(Err(StepError::InvalidInput(format!("{what}: {e}")))),
        };
        self.held.take(size)?;
        let handle = ModelHandle { model, bytes: size };
        Ok(Ok(self.table.push(handle)?))
    }
}

fn wit_port(port: &Port) -> WitPort {
    WitPort {
        name: port.name.clone(),
        onnx_type: port.onnx_type.clone(),
        dtype: port.dtype.map(|d| match d {
            weft_types::Dtype::F32 => Dtype::F32,
            weft_types::Dtype::F64 => Dtype::F64,
            weft_types::Dtype::S64 => Dtype::S64,
            weft_types::Dtype::Boolean => Dtype::Boolean,
            weft_types::Dtype::Text => Dtype::Text,
        }),
        shape: port.shape.clone(),
    }
}

impl model::HostModel for StepCtx {
    fn open(&mut self, path: String) -> Fallible<Resource<ModelHandle>> {
        let file = match self.granted(&path) {
            Ok(file) => file,
            Err(e) => return Ok(Err(e)),
        };
        let what = format!("model {path:?}");
        let size = std::fs::metadata(&file).map_or(0, |m| m.len());
        if let Err(e) = self.room_for(&what, size) {
            return Ok(Err(e));
        }
        match std::fs::read(&file) {
            Ok(bytes) => self.load_model(&what, bytes),
            Err(e) => Ok(Err(StepError::InvalidConfig(format!(
                "model {path:?}: {e}"
            )))),
        }
    }

    fn from_bytes(&mut self, bytes: Vec<u8>) -> Fallible<Resource<ModelHandle>> {
        self.load_model("the model given as bytes", bytes)
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
        let model = self.table.get(&m)?.model.clone();
        let arrays = self.arrays(&features)?;
        let rows = arrays.first().map_or(0, |a| a.len()) as u64;
        self.working_space(rows * arrays.len() as u64 * 8)?;
        let runtime = weft_models::runtime::runtime().map(|r| r.version.clone());
        self.devices
            .insert(format!("onnxruntime {} (cpu)", runtime.unwrap_or_default()));
        let made = match model.run(&arrays, &outputs, Some(self.deadline())) {
            Ok(made) => made,
            Err(ModelError::Deadline) => return Err(wasmtime::Error::new(KernelDeadline)),
            Err(e) => return Ok(Err(StepError::InvalidInput(e.to_string()))),
        };
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
