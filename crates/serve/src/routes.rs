//! The server's routes: the step endpoints, health, readiness, status and
//! metrics.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;

use super::Server;

/// The routes.
pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route(
            "/v1/transform",
            post(|State(s): State<Arc<Server>>, h: HeaderMap, b: Body| {
                s.handle("/v1/transform", h, b, false)
            }),
        )
        .route(
            "/v1/evaluate",
            post(|State(s): State<Arc<Server>>, h: HeaderMap, b: Body| {
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
            "/v1/status",
            get(|State(s): State<Arc<Server>>| async move { s.status() }),
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
        .with_state(server)
}
