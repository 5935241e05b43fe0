//! `weft serve`: a pipeline's transform steps, with the states a batch run
//! fitted, applied to HTTP requests: `POST /v1/transform` (and
//! `/v1/evaluate` when the pipeline evaluates), `/healthz`, `/readyz`,
//! `/v1/status` (what is loaded, why a reload was refused), `/metrics`. Instances are pooled per worker; a request that traps fails
//! alone. The pipeline reloads on SIGHUP or when its files change, and a
//! version that does not load is rejected while the old one keeps serving.
//!
//! Abuse is bounded: bodies by size (`--max-body`) and by the cells they
//! decode into ([`cell_limit`], [`MAX_COLUMNS`]), malformed ones answer 4xx;
//! a request past its deadline is answered 504 and its step stopped;
//! connections by number (`--max-connections`) and by the time their
//! headers take (`--header-timeout`).

mod codec;
mod ipc;
mod json;
mod listen;
mod metrics;
mod problem;
mod routes;
#[cfg(test)]
mod tests;
mod version;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;
use tokio::sync::Semaphore;

pub use codec::{cell_limit, decode, encode, BadBody, Shape, ARROW, MAX_COLUMNS};
pub use listen::serve;
pub use metrics::Metrics;
use problem::Problem;

pub use routes::router;
use version::{fingerprint, load, Fingerprint, Loaded};
use weft_engine::exec;
use weft_engine::sandbox::CompilerChoice;

/// How much of a body already known to be too large is read before the
/// 413, and for how long at most.
const LINGER_BYTES: usize = 1 << 20;
const LINGER: Duration = Duration::from_secs(1);

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Pipeline manifest.
    pub manifest: PathBuf,
    /// Fitted states (a batch run's `out/state`).
    pub state: PathBuf,
    /// Requests run at once (each on its own instances).
    pub workers: usize,
    /// Requests waiting for a worker before more are refused with 503.
    pub queue: usize,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Time a request may take, queueing included.
    pub deadline: Duration,
    /// How often the manifest, plugins and states are checked for changes
    /// (`None`: only SIGHUP reloads).
    pub watch: Option<Duration>,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: u32,
    /// Time a connection has to send a request's headers (an idle
    /// kept-alive one too) before it is closed.
    pub header_timeout: Duration,
    /// Which compiler compiles each plugin.
    pub compiler: CompilerChoice,
}

/// The server's state, shared by the handlers.
pub struct Server {
    options: Options,
    loaded: RwLock<Option<Arc<Loaded>>>,
    /// The files as the last load attempt saw them.
    seen: Mutex<Fingerprint>,
    /// Why the last load failed, when it did.
    rejected: Mutex<Option<Problem>>,
    permits: Arc<Semaphore>,
    admitted: AtomicUsize,
    next_id: AtomicU64,
    /// Counters behind `/metrics`.
    pub metrics: Metrics,
}

/// Gives back an admission when dropped: when the request's work ends,
/// which may be after its 504 was answered.
struct Admitted(Arc<Server>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::SeqCst);
        self.0.metrics.in_flight(-1);
    }
}

impl Server {
    /// A server for `options`, not loaded yet ([`Server::reload`] loads).
    pub fn new(options: Options) -> Arc<Server> {
        Arc::new(Server {
            permits: Arc::new(Semaphore::new(options.workers)),
            options,
            loaded: RwLock::new(None),
            seen: Mutex::new(Vec::new()),
            rejected: Mutex::new(None),
            admitted: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            metrics: Metrics::default(),
        })
    }

    fn current(&self) -> Option<Arc<Loaded>> {
        self.loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether a version is loaded.
    pub fn ready(&self) -> bool {
        self.current().is_some()
    }

    /// `/v1/status`: whether a version is loaded, and why the last load
    /// was refused (message and manifest location) when it was.
    fn status(&self) -> Response {
        let rejected = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
        let body = json!({
            "ready": self.ready(),
            "rejected": rejected.as_ref().map(Problem::to_json),
        });
        axum::Json(body).into_response()
    }

    /// Load the pipeline again and swap it in; requests in flight finish
    /// on the old version. A version that fails to load is rejected (the
    /// error is returned) and the old one keeps serving.
    pub async fn reload(self: &Arc<Self>) -> anyhow::Result<()> {
        let options = self.options.clone();
        let loaded = tokio::task::spawn_blocking(move || (fingerprint(&options), load(&options)));
        let (seen, loaded) = loaded.await?;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = seen;
        match loaded {
            Ok(loaded) => {
                self.metrics.pool_size(self.options.workers);
                *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(loaded));
                self.metrics.reload("ok");
                *self.rejected.lock().unwrap_or_else(|p| p.into_inner()) = None;
                tracing::info!(manifest = %self.options.manifest.display(), "pipeline loaded");
                Ok(())
            }
            Err(e) => {
                self.metrics.reload("failed");
                let mut problem = Problem::new(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}"));
                problem.location = exec::location_in(e.chain());
                *self.rejected.lock().unwrap_or_else(|p| p.into_inner()) = Some(problem);
                Err(e)
            }
        }
    }

    /// Whether the files changed since the last load was attempted.
    pub fn changed(&self) -> bool {
        fingerprint(&self.options) != *self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take a place among the requests served or queued; refused past
    /// workers + queue.
    fn admit(self: &Arc<Self>) -> Result<Admitted, Problem> {
        let limit = self.options.workers + self.options.queue;
        if self.admitted.fetch_add(1, Ordering::SeqCst) >= limit {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("busy: {limit} requests are being served or queued; retry shortly"),
            ));
        }
        self.metrics.in_flight(1);
        Ok(Admitted(self.clone()))
    }

    /// Read the body, at most `--max-body` bytes, by `deadline` (408 after).
    async fn read_body(
        &self,
        headers: &HeaderMap,
        body: Body,
        deadline: Instant,
    ) -> Result<Vec<u8>, Problem> {
        let max = self.options.max_body;
        let too_large = || {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {max} bytes (--max-body): split the rows"),
            )
        };
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|n| n > max) {
            // Read (and drop) a bounded part of it first: a server that
            // answers and closes while the client still writes makes the
            // client see a reset instead of the 413.
            let mut chunks = body.into_data_stream();
            let drain = async {
                let mut drained = 0;
                while let Some(Ok(chunk)) = chunks.next().await {
                    drained += chunk.len();
                    if drained > LINGER_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER, drain).await;
            return Err(too_large());
        }
        let read = async {
            let mut chunks = body.into_data_stream();
            let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| {
                    Problem::new(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
                })?;
                if bytes.len() + chunk.len() > max {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(bytes)
        };
        tokio::time::timeout_at(deadline.into(), read)
            .await
            .map_err(|_| {
                Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the body did not arrive within the request's deadline of {:?} (--timeout)",
                        self.options.deadline
                    ),
                )
            })?
    }

    /// The answer to one request: its body read, admitted, decoded, run
    /// through the steps by `deadline`.
    async fn answer(
        self: &Arc<Self>,
        headers: &HeaderMap,
        body: Body,
        evaluate: bool,
        deadline: Instant,
    ) -> Result<Response, Problem> {
        let loaded = self.current().ok_or_else(|| {
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the pipeline is loading",
            )
        })?;
        if evaluate && !loaded.online.evaluates() {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "the pipeline has no evaluate steps",
            ));
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Admitted before its body is read, so that bodies held at once are
        // at most workers + queue (of --max-body each), however many
        // connections send them.
        let admitted = self.admit()?;
        let body = self.read_body(headers, body, deadline).await?;
        // Parsing, the steps and writing the answer run off the async
        // threads, within the request's worker slot. At the deadline the
        // answer is 504 and the steps are stopped; the work holds its slot
        // and admission until it has.
        let work = async {
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore stays open");
            let server = self.clone();
            tokio::task::spawn_blocking(move || {
                let _held = (permit, admitted);
                server.respond(&loaded, content_type.as_deref(), &body, evaluate, deadline)
            })
            .await
            .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        };
        tokio::time::timeout_at(deadline.into(), work)
            .await
            .map_err(|_| Problem::late(self.options.deadline))?
    }

    /// Read the body, run it through the steps and write the answer
    /// (blocking); stop at `deadline`.
    fn respond(
        &self,
        loaded: &Loaded,
        content_type: Option<&str>,
        body: &[u8],
        evaluate: bool,
        deadline: Instant,
    ) -> Result<Response, Problem> {
        let (batch, shape) = codec::decode(content_type, body)?;
        if Instant::now() >= deadline {
            return Err(Problem::late(self.options.deadline));
        }
        let applied = self.apply(loaded, batch, evaluate, deadline)?;
        if evaluate {
            let metrics: Vec<_> = applied
                .metrics
                .iter()
                .flat_map(|(step, ms)| ms.iter().map(move |m| json!({"step": step, "name": m.name, "labels": m.labels, "value": m.value})))
                .collect();
            let rows = applied.output.num_rows();
            return Ok(axum::Json(json!({ "rows": rows, "metrics": metrics })).into_response());
        }
        let (bytes, media) = codec::encode(&applied.output, shape)
            .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        Ok(([(header::CONTENT_TYPE, media)], bytes).into_response())
    }

    /// Run `batch` through a pooled worker (blocking); a step still
    /// running at `deadline` is stopped.
    fn apply(
        &self,
        loaded: &Loaded,
        batch: arrow::record_batch::RecordBatch,
        evaluate: bool,
        deadline: Instant,
    ) -> Result<exec::Applied, Problem> {
        let lock = || loaded.pool.lock().unwrap_or_else(|p| p.into_inner());
        let mut worker = match lock().pop() {
            Some(w) => w,
            None => loaded.online.worker()?,
        };
        self.metrics.pool_busy(1);
        let result = loaded
            .online
            .apply(&mut worker, batch, evaluate, Some(deadline));
        self.metrics.pool_busy(-1);
        lock().push(worker);
        let applied = match result {
            Err(_) if Instant::now() >= deadline => {
                return Err(Problem::late(self.options.deadline))
            }
            result => result?,
        };
        for (step, busy) in loaded.online.prepared().steps.iter().zip(&applied.busy) {
            if !busy.is_zero() {
                self.metrics.step(&step.setup.name, *busy);
            }
        }
        Ok(applied)
    }

    /// Answer one request to `route`, counting and logging it.
    async fn handle(
        self: Arc<Self>,
        route: &'static str,
        headers: HeaderMap,
        body: Body,
        evaluate: bool,
    ) -> Response {
        let started = Instant::now();
        let deadline = started + self.options.deadline;
        let id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(
                || format!("{:016x}", self.next_id.fetch_add(1, Ordering::Relaxed)),
                str::to_owned,
            );
        let mut response = match self.answer(&headers, body, evaluate, deadline).await {
            Ok(r) => r,
            Err(p) => {
                tracing::warn!(request_id = %id, route, status = p.status.as_u16(), step = p.step.as_deref(), error = %p.message, "request failed");
                p.into_response()
            }
        };
        let status = response.status().as_u16();
        let took = started.elapsed();
        self.metrics.request(route, status, took);
        tracing::info!(request_id = %id, route, status, seconds = took.as_secs_f64(), "request");
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }
}
