//! The listening side of `weft serve`: at most `--max-connections`
//! connections open (more wait in the kernel's backlog), each closed when
//! it does not send a request's headers within `--header-timeout` (an idle
//! kept-alive connection too); reloads on SIGHUP and file changes; the
//! drain on SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::{router, Options, Server};

/// Serve on `listen` until SIGTERM or Ctrl-C, then finish the requests in
/// flight for at most `grace`. Loads the pipeline after binding (so
/// `/healthz` answers while plugins compile) and reloads it on SIGHUP and,
/// with `options.watch`, when its files change.
pub async fn serve(options: Options, listen: SocketAddr, grace: Duration) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("listening on {listen}: {e}"))?;
    let server = Server::new(options);
    tracing::info!(%listen, "serving");
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut running = tokio::spawn(accept(listener, server.clone(), stop_rx));
    server
        .reload()
        .await
        .map_err(|e| e.context("loading the pipeline"))?;
    tokio::spawn(reloads(server.clone()));
    tokio::select! {
        done = &mut running => return Ok(done?),
        () = terminated() => {}
    }
    tracing::info!(grace_seconds = grace.as_secs_f64(), "draining");
    let _ = stop_tx.send(true);
    match tokio::time::timeout(grace, running).await {
        Ok(done) => Ok(done?),
        Err(_) => {
            tracing::warn!("the grace period ended with requests in flight");
            Ok(())
        }
    }
}

/// Accept connections, each holding one of `max_connections` places, until
/// `stop`; then wait for the open ones to finish their requests.
async fn accept(listener: TcpListener, server: Arc<Server>, stop: watch::Receiver<bool>) {
    let app = router(server.clone());
    let places = server.options.max_connections;
    let open = Arc::new(Semaphore::new(places as usize));
    let mut stopping = stop.clone();
    loop {
        let place = tokio::select! {
            place = open.clone().acquire_owned() => place.expect("the semaphore stays open"),
            () = stopped(&mut stopping) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut stopping) => break,
        };
        match accepted {
            Ok((stream, _)) => {
                let (app, server, stop) = (app.clone(), server.clone(), stop.clone());
                tokio::spawn(connection(stream, app, server, place, stop));
            }
            // Out of file descriptors, say: wait rather than spin.
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    let _ = open.acquire_many(places).await;
}

/// Counts a connection open while it lives.
struct Open(Arc<Server>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.metrics.connections(-1);
    }
}

/// Serve HTTP/1.1 on `stream` until the client leaves, its headers are
/// late, or `stop` (then the request in flight finishes first).
async fn connection(
    stream: TcpStream,
    app: Router,
    server: Arc<Server>,
    place: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
) {
    let _place = place;
    server.metrics.connections(1);
    let _open = Open(server.clone());
    let _ = stream.set_nodelay(true);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(server.options.header_timeout);
    let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, "connection closed");
    }
}

/// Resolves once `stop` says so.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
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
