//! What the operator counts, rendered for Prometheus at `/metrics`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use kube::runtime::reflector::Store;

use weft_manifest::{Phase, PipelineResource};

/// Reconciles, errors, consecutive failures per Pipeline, and the
/// controller's cache of Pipelines (for the count by phase).
#[derive(Default)]
pub struct Metrics {
    reconciles: AtomicU64,
    errors: AtomicU64,
    failures: Mutex<HashMap<String, u32>>,
    pipelines: OnceLock<Store<PipelineResource>>,
    ready: AtomicBool,
}

impl Metrics {
    /// Count a reconcile.
    pub fn reconciled(&self) {
        self.reconciles.fetch_add(1, Ordering::Relaxed);
    }

    /// A reconcile of `name` went through: its failure streak ends.
    pub fn recovered(&self, name: &str) {
        self.lock().remove(name);
    }

    /// Count a failed reconcile of `name`; its consecutive failures so far.
    pub fn failed(&self, name: &str) -> u32 {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut failures = self.lock();
        let n = failures.entry(name.to_owned()).or_default();
        *n += 1;
        *n
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count Pipelines by phase from the controller's cache.
    pub fn watch(&self, store: Store<PipelineResource>) {
        let _ = self.pipelines.set(store);
    }

    /// The controller runs (this replica leads, when electing).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Whether the controller runs.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "weft_operator_reconciles_total",
            "Reconciles of Pipelines.",
            self.reconciles.load(Ordering::Relaxed),
        );
        counter(
            "weft_operator_reconcile_errors_total",
            "Reconciles that failed and were retried.",
            self.errors.load(Ordering::Relaxed),
        );
        let name = "weft_operator_pipelines";
        let _ = writeln!(
            out,
            "# HELP {name} Pipelines by phase.\n# TYPE {name} gauge"
        );
        let pipelines = self.pipelines.get().map(Store::state).unwrap_or_default();
        for phase in [
            Phase::Pending,
            Phase::Running,
            Phase::Succeeded,
            Phase::Failed,
        ] {
            let count = pipelines
                .iter()
                .filter(|p| p.status.as_ref().map(|s| s.phase).unwrap_or_default() == phase)
                .count();
            let _ = writeln!(out, "{name}{{phase=\"{phase:?}\"}} {count}");
        }
        out
    }
}
