//! One live instance of a step: a store, its bindings, and the calls into it
//! with limits armed. A trapped instance is thrown away and remade from the
//! plugin's `InstancePre` before its next call.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::Store;
use weft_gpu::{Choice, Shared};

use super::bindings::{self, Metadata, Metric, PluginPre, StepError};
use super::failure::{classify, guest_text, lend_failure, Failure, StepFailure};
use super::series::StepSeries;
use super::{Batch, Grant, Limits, SpillError, StepCtx, TICK};

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

/// A live instance of one step.
pub struct Instance {
    pre: PluginPre<StepCtx>,
    setup: Arc<StepSetup>,
    state: Option<Arc<Vec<u8>>>,
    live: Option<(Store<StepCtx>, bindings::Plugin)>,
    series: Arc<StepSeries>,
    devices: BTreeSet<String>,
    /// Most host memory any of its stores held.
    peak_host_bytes: u64,
    /// Most bytes of columns one of its stores moved to its spill file.
    spilled_bytes: u64,
    /// When calls must end by, besides `limits.timeoutSeconds` (a served
    /// request's deadline).
    deadline: Option<Instant>,
}

impl Instance {
    /// Instantiate and configure the step, loading `state` if given. The
    /// metrics it emits go to a table of its own, which only bounds them.
    pub fn new(
        pre: PluginPre<StepCtx>,
        setup: Arc<StepSetup>,
        state: Option<Arc<Vec<u8>>>,
    ) -> Result<Instance, StepFailure> {
        let series = StepSeries::alone(setup.limits.max_series);
        Instance::with_series(pre, setup, state, series)
    }

    /// Like [`Instance::new`], the metrics it emits going to `series`, the
    /// run's table for this step.
    pub fn with_series(
        pre: PluginPre<StepCtx>,
        setup: Arc<StepSetup>,
        state: Option<Arc<Vec<u8>>>,
        series: Arc<StepSeries>,
    ) -> Result<Instance, StepFailure> {
        let mut instance = Instance {
            pre,
            setup,
            state,
            live: None,
            series,
            devices: BTreeSet::new(),
            peak_host_bytes: 0,
            spilled_bytes: 0,
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
            rows: None,
        }
    }

    fn revive(&mut self) -> Result<(), StepFailure> {
        let setup = &self.setup;
        let ctx = StepCtx::new(
            &setup.name,
            &setup.limits,
            &setup.grants,
            setup.compute.clone(),
            self.series.clone(),
        )
        .map_err(|e| self.fail("instantiate", Failure::Host(format!("{e:#}"))))?;
        let (store, bindings) = instantiate(&self.pre, ctx, &setup.limits, self.deadline)
            .map_err(|f| self.fail("instantiate", f))?;
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
            .map_err(|e| self.fail(call, lend_failure(e)))?;
        let borrowed = wasmtime::component::Resource::new_borrow(handle.rep());
        let result = self.call(call, |b, s| f(b, s, borrowed));
        if let Some((store, _)) = self.live.as_mut() {
            let _ = store.data_mut().take_batch(handle);
        }
        let value = result?;
        self.spill(call)?;
        Ok(value)
    }

    /// After a call: move what the step keeps past a quarter of its host
    /// memory to its spill file.
    fn spill(&mut self, call: &'static str) -> Result<(), StepFailure> {
        let Some((store, _)) = self.live.as_mut() else {
            return Ok(());
        };
        let spilled = store.data_mut().spill_if_over();
        self.spilled_bytes = self.spilled_bytes.max(store.data().spilled_bytes());
        spilled.map_err(|e| match e {
            SpillError::Limit(limit) => self.fail(call, Failure::Output(limit.to_string())),
            e => self.fail(call, Failure::Host(e.to_string())),
        })
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

    /// The devices the step's kernels ran on since the last time asked.
    pub fn take_devices(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.devices)
    }

    /// Most host memory any of the step's stores held.
    pub fn peak_host_bytes(&self) -> u64 {
        self.peak_host_bytes
    }

    /// Most bytes of columns one of the step's stores moved to disk.
    pub fn spilled_bytes(&self) -> u64 {
        self.spilled_bytes
    }
}

/// A store for `ctx` with every limit armed, and the component instantiated
/// in it.
fn instantiate(
    pre: &PluginPre<StepCtx>,
    ctx: StepCtx,
    limits: &Limits,
    deadline: Option<Instant>,
) -> Result<(Store<StepCtx>, bindings::Plugin), Failure> {
    let mut store = Store::new(pre.engine(), ctx);
    store.limiter(|c| c.limiter());
    arm(&mut store, limits, deadline);
    match pre.instantiate(&mut store) {
        Ok(bindings) => Ok((store, bindings)),
        Err(e) => Err(classify(e, limits, &mut store)),
    }
}

/// What the component says about itself, asked in a sandbox with the
/// default limits, no grants and the CPU.
pub fn describe(pre: &PluginPre<StepCtx>) -> Result<Metadata, Failure> {
    let limits = Limits::default();
    let compute = Arc::new(Shared::new(Choice::Cpu));
    let ctx = StepCtx::new("describe", &limits, &[], compute, StepSeries::alone(0))
        .map_err(|e| Failure::Host(format!("{e:#}")))?;
    let (mut store, plugin) = instantiate(pre, ctx, &limits, None)?;
    plugin
        .weft_step_step()
        .call_describe(&mut store)
        .map_err(|e| classify(e, &limits, &mut store))
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
