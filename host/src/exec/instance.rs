//! One live instance of a step: a store, its bindings, and the calls into it
//! with limits armed. A trapped instance is thrown away and remade from the
//! plugin's `InstancePre` before its next call.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};
use weft_gpu::Shared;

use super::report::StepStats;
use crate::plugin::Plugin;
use crate::sandbox::bindings::{self, Metric, StepError};
use crate::sandbox::series::StepSeries;
use crate::sandbox::stdio::{sanitise, MAX_MESSAGE};
use crate::sandbox::{
    Batch, Grant, HostMemoryLimit, KernelDeadline, Limits, OutputLimit, StepCtx, TICK,
};

/// How a step is set up: everything needed to (re)make an instance.
#[derive(Debug, Clone)]
pub struct StepSetup {
    /// Step name, for logs and errors.
    pub name: String,
    /// Config document, JSON.
    pub config: String,
    /// Host-enforced limits.
    pub limits: Limits,
    /// Read-only folders.
    pub grants: Vec<Grant>,
    /// The process's compute device.
    pub compute: Arc<Shared>,
}

/// Why a call into a step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    /// The step rejected its config.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The step rejected its input.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The step reported an internal error.
    #[error("internal error: {0}")]
    Internal(String),
    /// The call ran past `limits.timeoutSeconds`.
    #[error("ran longer than its limit of {0:?} (limits.timeoutSeconds) and was stopped")]
    Timeout(Duration),
    /// The call ran out of fuel.
    #[error("used up its fuel of {0} (limits.fuel) and was stopped")]
    Fuel(u64),
    /// The step's memory would have grown past its cap.
    #[error("tried to grow its memory past {0} bytes (limits.memory) and was stopped")]
    Memory(u64),
    /// The guest's stack overflowed.
    #[error("overflowed its stack (runaway recursion) and was stopped")]
    Stack,
    /// The step made or held more host columns than allowed.
    #[error("{0}")]
    Output(String),
    /// The guest panicked or hit `unreachable`.
    #[error("crashed ({trap}){}", if .stderr.is_empty() { String::new() } else { format!("; it printed: {}", .stderr) })]
    Crash {
        /// The trap.
        trap: String,
        /// The tail of the guest's stderr.
        stderr: String,
    },
    /// A host-side failure while calling the step.
    #[error("host error: {0}")]
    Host(String),
}

/// A failed call, naming the step and the call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("step {step:?} failed in {call}: {failure}")]
pub struct StepFailure {
    /// Step name.
    pub step: String,
    /// The call (`transform`, `fit`, ...).
    pub call: &'static str,
    /// What went wrong.
    pub failure: Failure,
}

/// A live instance of one step.
pub struct Instance {
    plugin: Arc<Plugin>,
    setup: Arc<StepSetup>,
    state: Option<Arc<Vec<u8>>>,
    live: Option<(Store<StepCtx>, bindings::Plugin)>,
    series: Arc<StepSeries>,
    devices: BTreeSet<String>,
    /// Most host memory any of its stores held.
    peak_host_bytes: u64,
    /// When calls must end by, besides `limits.timeoutSeconds` (a served
    /// request's deadline).
    deadline: Option<Instant>,
}

impl Instance {
    /// Instantiate and configure the step, loading `state` if given. The
    /// metrics it emits go to a table of its own, which only bounds them.
    pub fn new(
        plugin: Arc<Plugin>,
        setup: Arc<StepSetup>,
        state: Option<Arc<Vec<u8>>>,
    ) -> Result<Instance, StepFailure> {
        let series = StepSeries::alone(setup.limits.max_series);
        Instance::with_series(plugin, setup, state, series)
    }

    /// Like [`Instance::new`], the metrics it emits going to `series`, the
    /// run's table for this step.
    pub fn with_series(
        plugin: Arc<Plugin>,
        setup: Arc<StepSetup>,
        state: Option<Arc<Vec<u8>>>,
        series: Arc<StepSeries>,
    ) -> Result<Instance, StepFailure> {
        let mut instance = Instance {
            plugin,
            setup,
            state,
            live: None,
            series,
            devices: BTreeSet::new(),
            peak_host_bytes: 0,
            deadline: None,
        };
        instance.revive()?;
        Ok(instance)
    }

    fn fail(&self, call: &'static str, failure: Failure) -> StepFailure {
        StepFailure {
            step: self.setup.name.clone(),
            call,
            failure,
        }
    }

    fn revive(&mut self) -> Result<(), StepFailure> {
        let host = |e: wasmtime::Error| Failure::Host(format!("{e:#}"));
        let setup = &self.setup;
        let ctx = StepCtx::new(
            &setup.name,
            &setup.limits,
            &setup.grants,
            setup.compute.clone(),
            self.series.clone(),
        )
        .map_err(|e| self.fail("instantiate", host(e)))?;
        let mut store = Store::new(self.plugin.pre.engine(), ctx);
        store.limiter(|c| c.limiter());
        arm(&mut store, &self.setup.limits, self.deadline);
        let bindings =
            self.plugin.pre.instantiate(&mut store).map_err(|e| {
                self.fail("instantiate", classify(e, &self.setup.limits, &mut store))
            })?;
        self.live = Some((store, bindings));
        let config = self.setup.config.clone();
        self.call("configure", |b, s| {
            b.weft_step_step().call_configure(s, &config)
        })?;
        if let Some(state) = self.state.clone() {
            self.call("load-state", |b, s| {
                b.weft_step_step().call_load_state(s, &state)
            })?;
        }
        Ok(())
    }

    /// Call into the step with its limits armed; a trap discards the instance.
    fn call<T>(
        &mut self,
        call: &'static str,
        f: impl FnOnce(&bindings::Plugin, &mut Store<StepCtx>) -> wasmtime::Result<Result<T, StepError>>,
    ) -> Result<T, StepFailure> {
        if self.live.is_none() {
            self.revive()?;
        }
        let limits = &self.setup.limits;
        let (store, bindings) = self.live.as_mut().expect("revived above");
        arm(store, limits, self.deadline);
        store.data_mut().begin_call();
        let result = f(bindings, store);
        store.data_mut().flush_stdio();
        self.devices.append(&mut store.data_mut().devices);
        self.peak_host_bytes = self.peak_host_bytes.max(store.data().peak_host_bytes());
        let failure = match result {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(StepError::InvalidConfig(m))) => Failure::InvalidConfig(guest_text(&m)),
            Ok(Err(StepError::InvalidInput(m))) => Failure::InvalidInput(guest_text(&m)),
            Ok(Err(StepError::Internal(m))) => Failure::Internal(guest_text(&m)),
            Err(trap) => {
                let failure = classify(trap, limits, store);
                self.live = None;
                failure
            }
        };
        Err(self.fail(call, failure))
    }

    /// Stop calls at `deadline` too (a trap, as at `limits.timeoutSeconds`).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// The step's transform of `batch`.
    pub fn transform(&mut self, batch: Batch) -> Result<Batch, StepFailure> {
        let out = self.with_batch("transform", batch, |b, s, r| {
            b.weft_step_step().call_transform(s, r)
        })?;
        let (store, _) = self.live.as_mut().expect("call succeeded");
        let taken = store.data_mut().take_batch(out);
        taken.map_err(|e| self.fail("transform", Failure::Host(e.to_string())))
    }

    /// Feed one batch to `fit`.
    pub fn fit(&mut self, batch: Batch) -> Result<(), StepFailure> {
        self.with_batch("fit", batch, |b, s, r| b.weft_step_step().call_fit(s, r))
    }

    /// Feed one batch to `update` (evaluate steps).
    pub fn update(&mut self, batch: Batch) -> Result<(), StepFailure> {
        self.with_batch("update", batch, |b, s, r| {
            b.weft_step_step().call_update(s, r)
        })
    }

    fn with_batch<T>(
        &mut self,
        call: &'static str,
        batch: Batch,
        f: impl FnOnce(
            &bindings::Plugin,
            &mut Store<StepCtx>,
            wasmtime::component::Resource<Batch>,
        ) -> wasmtime::Result<Result<T, StepError>>,
    ) -> Result<T, StepFailure> {
        if self.live.is_none() {
            self.revive()?;
        }
        let (store, _) = self.live.as_mut().expect("revived above");
        let handle = store
            .data_mut()
            .lend_batch(batch)
            .map_err(|e| StepFailure {
                step: self.setup.name.clone(),
                call,
                failure: Failure::Host(e.to_string()),
            })?;
        let borrowed = wasmtime::component::Resource::new_borrow(handle.rep());
        let result = self.call(call, |b, s| f(b, s, borrowed));
        if let Some((store, _)) = self.live.as_mut() {
            let _ = store.data_mut().take_batch(handle);
        }
        result
    }

    /// The fitted state.
    pub fn state(&mut self) -> Result<Vec<u8>, StepFailure> {
        self.call("state", |b, s| b.weft_step_step().call_state(s))
    }

    /// Combine shard states into one.
    pub fn merge(&mut self, states: &[Vec<u8>]) -> Result<Vec<u8>, StepFailure> {
        self.call("merge", |b, s| b.weft_step_step().call_merge(s, states))
    }

    /// The evaluation's metrics.
    pub fn report(&mut self) -> Result<Vec<Metric>, StepFailure> {
        self.call("report", |b, s| b.weft_step_step().call_report(s))
    }

    /// The evaluation's metrics, recorded in the step's series table
    /// under the same caps as the metrics it emits.
    pub fn report_into_series(&mut self) -> Result<(), StepFailure> {
        for m in self.report()? {
            self.series.record(m.name, m.labels, m.value);
        }
        Ok(())
    }

    /// Move the devices the step's kernels ran on, and the most host
    /// memory it held, into `stats`.
    pub fn drain_into(&mut self, stats: &mut StepStats) {
        stats.devices.append(&mut self.devices);
        stats.peak_host_bytes = stats.peak_host_bytes.max(self.peak_host_bytes);
    }
}

/// A message the guest wrote, as the host repeats it: one line, escaped, cut.
fn guest_text(message: &str) -> String {
    sanitise(message, MAX_MESSAGE)
}

/// Arm a store's deadline (the sooner of the step's timeout and
/// `deadline`, never before `deadline`) and fuel for one call. Steps
/// without a fuel limit get unlimited fuel (the setter fails harmlessly
/// when metering is off).
fn arm(store: &mut Store<StepCtx>, limits: &Limits, deadline: Option<Instant>) {
    let ticks = (limits.timeout.as_millis() / TICK.as_millis()).max(1);
    let left = deadline.map_or(ticks, |d| {
        let left = d.saturating_duration_since(Instant::now()).as_millis();
        left.div_ceil(TICK.as_millis()) + 1
    });
    store.set_epoch_deadline(ticks.min(left) as u64);
    let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
}

/// Turn a trap into a failure a person can act on.
fn classify(error: wasmtime::Error, limits: &Limits, store: &mut Store<StepCtx>) -> Failure {
    if error.downcast_ref::<KernelDeadline>().is_some() {
        return Failure::Timeout(limits.timeout);
    }
    if let Some(limit) = error.downcast_ref::<OutputLimit>() {
        return Failure::Output(limit.to_string());
    }
    if let Some(limit) = error.downcast_ref::<HostMemoryLimit>() {
        return Failure::Output(limit.to_string());
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return Failure::Timeout(limits.timeout),
        Some(Trap::OutOfFuel) => return Failure::Fuel(limits.fuel.unwrap_or_default()),
        Some(Trap::StackOverflow) => return Failure::Stack,
        Some(Trap::AllocationTooLarge) => return Failure::Memory(limits.memory_bytes),
        _ => {}
    }
    let text = format!("{error:#}");
    if text.contains("forcing trap when growing memory") || text.contains("memory size") {
        return Failure::Memory(limits.memory_bytes);
    }
    let trap = error.downcast_ref::<Trap>().map_or_else(
        || text.lines().next().unwrap_or_default().to_owned(),
        |t| t.to_string(),
    );
    Failure::Crash {
        trap,
        stderr: store.data().stderr_tail(),
    }
}
