//! What `weft serve` counts, rendered for Prometheus at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use weft_report::exposition::escape_value;

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(&mut self.counts) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct Tallies {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<(String, u16), Histogram>,
    steps: BTreeMap<String, Histogram>,
    reloads: BTreeMap<&'static str, u64>,
}

/// Requests by route and status, their latency, time per step, requests in
/// flight, the instance pool, open connections, and reloads.
#[derive(Default)]
pub struct Metrics {
    tallies: Mutex<Tallies>,
    in_flight: AtomicI64,
    connections: AtomicI64,
    pool_size: AtomicI64,
    pool_busy: AtomicI64,
}

impl Metrics {
    fn tallies(&self) -> std::sync::MutexGuard<'_, Tallies> {
        self.tallies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request to `route` answered `status` after `took`.
    pub fn request(&self, route: &str, status: u16, took: Duration) {
        let mut t = self.tallies();
        *t.requests.entry((route.to_owned(), status)).or_default() += 1;
        t.latency
            .entry((route.to_owned(), status))
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// Time inside `step` for one request.
    pub fn step(&self, step: &str, took: Duration) {
        self.tallies()
            .steps
            .entry(step.to_owned())
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// A reload that went `outcome` (`ok` or `failed`).
    pub fn reload(&self, outcome: &'static str) {
        *self.tallies().reloads.entry(outcome).or_default() += 1;
    }

    /// Requests in flight change by `delta`.
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.fetch_add(delta, Ordering::Relaxed);
    }

    /// Connections open change by `delta`.
    pub fn connections(&self, delta: i64) {
        self.connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// The pool holds `size` workers.
    pub fn pool_size(&self, size: usize) {
        self.pool_size.store(size as i64, Ordering::Relaxed);
    }

    /// Workers busy change by `delta`.
    pub fn pool_busy(&self, delta: i64) {
        self.pool_busy.fetch_add(delta, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let t = self.tallies();
        let mut out = String::new();
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut out,
            "weft_serve_requests_total",
            "counter",
            "Requests by route and status.",
        );
        for ((route, status), n) in &t.requests {
            let _ = writeln!(
                out,
                "weft_serve_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape_value(route)
            );
        }
        let name = "weft_serve_request_duration_seconds";
        head(
            &mut out,
            name,
            "histogram",
            "Request latency by route and status.",
        );
        for ((route, status), h) in &t.latency {
            let labels = format!("route=\"{}\",status=\"{status}\"", escape_value(route));
            h.render(&mut out, name, &labels);
        }
        let name = "weft_serve_step_duration_seconds";
        head(
            &mut out,
            name,
            "histogram",
            "Time inside each step per request.",
        );
        for (step, h) in &t.steps {
            h.render(&mut out, name, &format!("step=\"{}\"", escape_value(step)));
        }
        head(
            &mut out,
            "weft_serve_reloads_total",
            "counter",
            "Reloads of the pipeline by outcome.",
        );
        for (outcome, n) in &t.reloads {
            let _ = writeln!(out, "weft_serve_reloads_total{{outcome=\"{outcome}\"}} {n}");
        }
        for (name, help, value) in [
            (
                "weft_serve_in_flight_requests",
                "Requests being served or queued.",
                &self.in_flight,
            ),
            (
                "weft_serve_pool_workers",
                "Workers (instance sets) in the pool.",
                &self.pool_size,
            ),
            (
                "weft_serve_pool_busy_workers",
                "Workers running a request.",
                &self.pool_busy,
            ),
            (
                "weft_serve_open_connections",
                "Connections open (at most --max-connections).",
                &self.connections,
            ),
        ] {
            head(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}
