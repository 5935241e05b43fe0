//! Trained models (ONNX) that the weft host runs natively for sandboxed
//! steps, as it runs its other kernels: a step names a model file, the host
//! compiles it once per process ([`Models`]) and runs it on column handles.
//!
//! ONNX Runtime does the work. It is loaded at run time from
//! `libonnxruntime.so` ([`runtime`]), so weft builds, and runs pipelines
//! without models, where it is not installed. The dense layers a network
//! starts with run on a GPU (weft-gpu) when the step is given one, and a
//! tree ensemble on weft's own evaluator (`trees`).

mod dense;
mod ensemble;
pub mod graph;
mod model;
pub mod runtime;
mod scores;
mod session;
mod tensor;
#[cfg(test)]
mod testing;
mod trees;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use sha2::{Digest, Sha256};

pub use model::{Model, Offload, Port, Ran};

/// What went wrong with a model; each message says what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    /// ONNX Runtime could not be loaded.
    #[error("{0}")]
    Runtime(String),
    /// The file is not a model ONNX Runtime can compile: corrupt,
    /// truncated, or using an operator it lacks (named with its node).
    #[error("not a model ONNX Runtime can load: {0}")]
    Invalid(String),
    /// The columns do not fit the model's inputs.
    #[error("{0}")]
    Input(String),
    /// An output weft cannot read, or one the model lacks.
    #[error("{0}")]
    Output(String),
    /// The run passed the step's deadline and was stopped.
    #[error("the model ran past the step's deadline and was stopped")]
    Deadline,
    /// ONNX Runtime failed while running the model.
    #[error("the model failed: {0}")]
    Run(String),
}

/// The models loaded in this process, by the sha256 of their file: a model
/// every worker loads compiles once, and is dropped with its last user.
#[derive(Default)]
pub struct Models {
    loaded: Mutex<HashMap<String, Weak<Model>>>,
}

impl Models {
    /// The model in `bytes`, compiled now or shared with another loader.
    /// It compiles outside the lock, so one large model does not hold up
    /// the others (two loaders of the same new model may both compile it;
    /// the first one kept wins).
    pub fn load(&self, bytes: Vec<u8>) -> Result<Arc<Model>, ModelError> {
        let digest = hex::encode(Sha256::digest(&bytes));
        if let Some(model) = self.get(&digest) {
            return Ok(model);
        }
        let model = Arc::new(Model::load(bytes.into(), digest.clone())?);
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kept) = loaded.get(&digest).and_then(Weak::upgrade) {
            return Ok(kept);
        }
        loaded.retain(|_, m| m.strong_count() > 0);
        loaded.insert(digest, Arc::downgrade(&model));
        Ok(model)
    }

    fn get(&self, digest: &str) -> Option<Arc<Model>> {
        let loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        loaded.get(digest).and_then(Weak::upgrade)
    }
}
