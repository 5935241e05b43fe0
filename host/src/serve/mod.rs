//! `weft serve`: a pipeline's transform steps, with the states a batch run
//! fitted, applied to HTTP requests: `POST /v1/transform` (and
//! `/v1/evaluate` when the pipeline evaluates), `/healthz`, `/readyz`,
//! `/metrics`. Instances are pooled per worker; a request that traps fails
//! alone. The pipeline reloads on SIGHUP or when its files change, and a
//! version that does not load is rejected while the old one keeps serving.

mod codec;
mod metrics;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::exec::{self, Failure, Online, RunError, RunOptions, Worker};
use crate::manifest::Manifest;
pub use codec::{Shape, ARROW};
pub use metrics::Metrics;

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
}

/// One loaded version of the pipeline and its workers.
struct Loaded {
    online: Online,
    pool: Mutex<Vec<Worker>>,
}

/// Files with their modification times.
type Fingerprint = Vec<(PathBuf, Option<SystemTime>)>;

/// The server's state, shared by the handlers.
pub struct Server {
    options: Options,
    loaded: RwLock<Option<Arc<Loaded>>>,
    /// The files as the last load attempt saw them.
    seen: Mutex<Fingerprint>,
    permits: Arc<Semaphore>,
    admitted: AtomicUsize,
    next_id: AtomicU64,
    /// Counters behind `/metrics`.
    pub metrics: Metrics,
}

/// An answer other than success: status and message (and step, if one failed).
struct Problem {
    status: StatusCode,
    message: String,
    step: Option<String>,
}

impl Problem {
    fn new(status: StatusCode, message: impl Into<String>) -> Problem {
        Problem {
            status,
            message: message.into(),
            step: None,
        }
    }
}

impl From<RunError> for Problem {
    fn from(e: RunError) -> Problem {
        let status = match &e {
            RunError::Step(f)
                if matches!(
                    f.failure,
                    Failure::InvalidInput(_) | Failure::InvalidConfig(_)
                ) =>
            {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            RunError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let step = match &e {
            RunError::Step(f) => Some(f.step.clone()),
            _ => None,
        };
        Problem {
            status,
            message: e.to_string(),
            step,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.message, "step": self.step });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The files a version depends on (manifest, plugins, states), or only the
/// manifest and states while the manifest does not parse.
fn fingerprint(options: &Options) -> Fingerprint {
    let mut files = vec![options.manifest.clone()];
    if let Ok(manifest) = Manifest::load(&options.manifest) {
        let plugins = manifest.pipeline.spec.plugins.values();
        files.extend(plugins.map(|p| manifest.resolve(&p.path)));
    }
    if let Ok(entries) = std::fs::read_dir(&options.state) {
        files.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
    }
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let modified = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
            (f, modified)
        })
        .collect()
}

/// Load a version: manifest, plugins compiled, states, one worker per
/// slot (each instance configured and given its state).
fn load(options: &Options) -> anyhow::Result<Loaded> {
    let manifest = Manifest::load(&options.manifest)?;
    let run = RunOptions {
        workers: Some(options.workers),
        ..RunOptions::default()
    };
    let online = Online::new(exec::prepare(manifest, &run)?, &options.state)?;
    let pool = (0..options.workers)
        .map(|_| online.worker())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Loaded {
        online,
        pool: Mutex::new(pool),
    })
}

/// Gives back an admission when dropped.
struct Admitted<'a>(&'a Server);

impl Drop for Admitted<'_> {
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
                tracing::info!(manifest = %self.options.manifest.display(), "pipeline loaded");
                Ok(())
            }
            Err(e) => {
                self.metrics.reload("failed");
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
    fn admit(&self) -> Result<Admitted<'_>, Problem> {
        let limit = self.options.workers + self.options.queue;
        if self.admitted.fetch_add(1, Ordering::SeqCst) >= limit {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("busy: {limit} requests are being served or queued; retry shortly"),
            ));
        }
        self.metrics.in_flight(1);
        Ok(Admitted(self))
    }

    async fn answer(
        self: &Arc<Self>,
        headers: &HeaderMap,
        body: Bytes,
        evaluate: bool,
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
        let _admitted = self.admit()?;
        // Parsing, the steps and writing the answer run off the async
        // threads, within the request's worker slot and deadline.
        let work = async {
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore stays open");
            let server = self.clone();
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                server.respond(&loaded, content_type.as_deref(), &body, evaluate)
            })
            .await
            .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        };
        tokio::time::timeout(self.options.deadline, work)
            .await
            .map_err(|_| {
                Problem::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "the request took longer than its deadline of {:?}",
                        self.options.deadline
                    ),
                )
            })?
    }

    /// Read the body, run it through the steps and write the answer (blocking).
    fn respond(
        &self,
        loaded: &Loaded,
        content_type: Option<&str>,
        body: &[u8],
        evaluate: bool,
    ) -> Result<Response, Problem> {
        let (batch, shape) = codec::decode(content_type, body).map_err(|e| {
            let status = if e.0.starts_with("unsupported content type") {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            } else {
                StatusCode::BAD_REQUEST
            };
            Problem::new(status, e.0)
        })?;
        let applied = self.apply(loaded, batch, evaluate)?;
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
            .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        Ok(([(header::CONTENT_TYPE, media)], bytes).into_response())
    }

    /// Run `batch` through a pooled worker (blocking).
    fn apply(
        &self,
        loaded: &Loaded,
        batch: arrow::record_batch::RecordBatch,
        evaluate: bool,
    ) -> Result<exec::Applied, Problem> {
        let lock = || loaded.pool.lock().unwrap_or_else(|p| p.into_inner());
        let mut worker = match lock().pop() {
            Some(w) => w,
            None => loaded.online.worker()?,
        };
        self.metrics.pool_busy(1);
        let result = loaded.online.apply(&mut worker, batch, evaluate);
        self.metrics.pool_busy(-1);
        lock().push(worker);
        let applied = result?;
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
        body: Bytes,
        evaluate: bool,
    ) -> Response {
        let started = Instant::now();
        let id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(
                || format!("{:016x}", self.next_id.fetch_add(1, Ordering::Relaxed)),
                str::to_owned,
            );
        let mut response = match self.answer(&headers, body, evaluate).await {
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

/// The routes.
pub fn router(server: Arc<Server>) -> Router {
    let max_body = server.options.max_body;
    Router::new()
        .route(
            "/v1/transform",
            post(|State(s): State<Arc<Server>>, h: HeaderMap, b: Bytes| {
                s.handle("/v1/transform", h, b, false)
            }),
        )
        .route(
            "/v1/evaluate",
            post(|State(s): State<Arc<Server>>, h: HeaderMap, b: Bytes| {
                s.handle("/v1/evaluate", h, b, true)
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|State(s): State<Arc<Server>>| async move {
                match s.ready() {
                    true => (StatusCode::OK, "ready\n"),
                    false => (StatusCode::SERVICE_UNAVAILABLE, "loading\n"),
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(s): State<Arc<Server>>| async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    s.metrics.render(),
                )
            }),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(server)
}

/// Serve on `listen` until SIGTERM or Ctrl-C, then finish the requests in
/// flight for at most `grace`. Loads the pipeline after binding (so
/// `/healthz` answers while plugins compile) and reloads it on SIGHUP and,
/// with `options.watch`, when its files change.
pub async fn serve(options: Options, listen: SocketAddr, grace: Duration) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("listening on {listen}: {e}"))?;
    let server = Server::new(options);
    tracing::info!(%listen, "serving");
    let app = axum::serve(listener, router(server.clone()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopping = async move {
        let mut rx = stop_rx;
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut running = tokio::spawn(std::future::IntoFuture::into_future(
        app.with_graceful_shutdown(stopping),
    ));
    server
        .reload()
        .await
        .map_err(|e| e.context("loading the pipeline"))?;
    tokio::spawn(reloads(server.clone()));
    tokio::select! {
        done = &mut running => return Ok(done??),
        () = terminated() => {}
    }
    tracing::info!(grace_seconds = grace.as_secs_f64(), "draining");
    let _ = stop_tx.send(true);
    match tokio::time::timeout(grace, running).await {
        Ok(done) => Ok(done??),
        Err(_) => {
            tracing::warn!("the grace period ended with requests in flight");
            Ok(())
        }
    }
}

/// Reload on SIGHUP and when the files change.
async fn reloads(server: Arc<Server>) {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .expect("a SIGHUP handler");
    let every = server.options.watch.unwrap_or(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = hup.recv() => {}
            () = tokio::time::sleep(every) => {
                let watched = server.clone();
                let changed = tokio::task::spawn_blocking(move || watched.options.watch.is_some() && watched.changed()).await;
                if !changed.unwrap_or(false) {
                    continue;
                }
            }
        }
        if let Err(e) = server.reload().await {
            tracing::error!(error = %format!("{e:#}"), "the new version does not load; the old one keeps serving");
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
