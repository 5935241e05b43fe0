//! Glue between the generated `Guest` trait and the SDK's traits; used by the
//! export macros, not by plugin authors.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::bindings::exports::weft::step::step::{Guest, Kind, Metadata, Metric as WitMetric};
use crate::bindings::weft::step::types::{Batch as WitBatch, StepError as WitError};

use crate::{state, Batch, Evaluate, Result, Step, Transform};

/// Where the one configured step of this instance lives.
pub type Slot<T> = RefCell<Option<T>>;

type Out<T> = std::result::Result<T, WitError>;

/// The component's exported step: what `__export_step!` declares for the
/// plugin's type. Every such type is a [`Guest`].
pub trait Export {
    /// The plugin's step.
    type Step: Step;
    /// [`Transforms`] or [`Evaluates`]: the calls that differ by kind.
    type Kind: Calls<Self::Step>;
    /// The thread-local slot holding the configured step.
    fn slot() -> &'static LocalKey<Slot<Self::Step>>;
}

/// The calls of the `step` interface that a kind of step answers its own
/// way; the other kind's calls are errors.
pub trait Calls<T> {
    /// The kind `describe` reports.
    const KIND: Kind;
    /// `transform`.
    fn transform(slot: &Slot<T>, batch: &WitBatch) -> Out<WitBatch>;
    /// `update`.
    fn update(slot: &Slot<T>, batch: &WitBatch) -> Out<()>;
    /// `report`.
    fn report(slot: &Slot<T>) -> Out<Vec<WitMetric>>;
}

/// The calls of a [`Transform`] step.
pub struct Transforms;

/// The calls of an [`Evaluate`] step.
pub struct Evaluates;

impl<T: Transform> Calls<T> for Transforms {
    const KIND: Kind = Kind::Transform;
    fn transform(slot: &Slot<T>, batch: &WitBatch) -> Out<WitBatch> {
        with(slot, |s| s.transform(Batch::from_wit(batch)).map(|b| b.0))
    }
    fn update(_: &Slot<T>, _: &WitBatch) -> Out<()> {
        Err(not_for("transform", "update"))
    }
    fn report(_: &Slot<T>) -> Out<Vec<WitMetric>> {
        Err(not_for("transform", "report"))
    }
}

impl<T: Evaluate> Calls<T> for Evaluates {
    const KIND: Kind = Kind::Evaluate;
    fn transform(_: &Slot<T>, _: &WitBatch) -> Out<WitBatch> {
        Err(not_for("evaluate", "transform"))
    }
    fn update(slot: &Slot<T>, batch: &WitBatch) -> Out<()> {
        with(slot, |s| s.update(Batch::from_wit(batch)))
    }
    fn report(slot: &Slot<T>) -> Out<Vec<WitMetric>> {
        with(slot, |s| {
            Ok(s.report()?.into_iter().map(WitMetric::from).collect())
        })
    }
}

impl<E: Export> Guest for E {
    fn describe() -> Metadata {
        let meta = E::Step::META;
        Metadata {
            name: meta.name.into(),
            version: meta.version.into(),
            kind: E::Kind::KIND,
            description: meta.description.into(),
            config_schema: E::Step::config_schema().to_string(),
            stateful: meta.stateful,
        }
    }
    fn configure(config: String) -> Out<()> {
        let step = crate::step::configure(&config)?;
        E::slot().with(|s| *s.borrow_mut() = Some(step));
        Ok(())
    }
    fn fit(batch: &WitBatch) -> Out<()> {
        E::slot().with(|slot| with(slot, |s| s.fit(Batch::from_wit(batch))))
    }
    fn state() -> Out<Vec<u8>> {
        E::slot().with(|slot| with(slot, |s| state::encode(&s.state()?)))
    }
    fn load_state(bytes: Vec<u8>) -> Out<()> {
        E::slot().with(|slot| with(slot, |s| s.load_state(state::decode(&bytes)?)))
    }
    fn merge(states: Vec<Vec<u8>>) -> Out<Vec<u8>> {
        E::slot().with(|slot| {
            with(slot, |s| {
                let states = states
                    .iter()
                    .map(|b| state::decode(b))
                    .collect::<Result<Vec<_>>>()?;
                state::encode(&s.merge(states)?)
            })
        })
    }
    fn transform(batch: &WitBatch) -> Out<WitBatch> {
        E::slot().with(|slot| E::Kind::transform(slot, batch))
    }
    fn update(batch: &WitBatch) -> Out<()> {
        E::slot().with(|slot| E::Kind::update(slot, batch))
    }
    fn report() -> Out<Vec<WitMetric>> {
        E::slot().with(E::Kind::report)
    }
}

/// Run `f` on the configured step.
fn with<T, R>(slot: &Slot<T>, f: impl FnOnce(&mut T) -> Result<R>) -> Out<R> {
    let mut guard = slot.borrow_mut();
    let step = guard
        .as_mut()
        .ok_or_else(|| WitError::Internal("configure was not called".into()))?;
    f(step).map_err(WitError::from)
}

/// The error a transform step gives for evaluate calls, and vice versa.
fn not_for(kind: &str, call: &str) -> WitError {
    WitError::Internal(format!("{call} is not available on a {kind} step"))
}
