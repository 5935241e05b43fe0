//! ONNX Runtime sessions of one model, one per concurrent caller (a
//! session is not safe to run from two threads at once), sharing
//! pre-packed weights; each run bounded by a deadline.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};
use ort::session::{RunOptions, Session, SessionOutputs};
use ort::value::DynValue;

use crate::{runtime, ModelError};

/// The sessions of one compiled model.
pub(crate) struct Sessions {
    bytes: Arc<[u8]>,
    idle: Mutex<Vec<Session>>,
    prepacked: PrepackedWeights,
}

impl Sessions {
    /// Compile the model in `bytes` into its first session.
    pub fn compile(bytes: Arc<[u8]>) -> Result<Sessions, ModelError> {
        let prepacked = PrepackedWeights::new();
        let first = session(&bytes, &prepacked)?;
        Ok(Sessions {
            bytes,
            idle: Mutex::new(vec![first]),
            prepacked,
        })
    }

    /// Call `f` with an idle session, or a new one when every session is busy.
    pub fn with<T>(&self, f: impl FnOnce(&mut Session) -> T) -> Result<T, ModelError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut session = match idle {
            Some(session) => session,
            None => session(&self.bytes, &self.prepacked)?,
        };
        let out = f(&mut session);
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(session);
        Ok(out)
    }

    /// Run on `values` and `read` the outputs; past `deadline` the run is
    /// stopped.
    pub fn run<T>(
        &self,
        values: Vec<(String, DynValue)>,
        deadline: Option<Instant>,
        read: impl FnOnce(&SessionOutputs<'_>) -> Result<T, ModelError>,
    ) -> Result<T, ModelError> {
        self.with(|session| {
            let options = RunOptions::new().map_err(|e| ModelError::Run(e.to_string()))?;
            let ran = watch(deadline, &options, || {
                session.run_with_options(values, &options)
            });
            match ran {
                Ok(outputs) => read(&outputs),
                Err(_) if deadline.is_some_and(|d| Instant::now() >= d) => {
                    Err(ModelError::Deadline)
                }
                Err(e) => Err(ModelError::Run(e.to_string())),
            }
        })?
    }
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
