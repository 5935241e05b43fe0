//! Glue between the generated `Guest` trait and the SDK's traits; used by the
//! export macros, not by plugin authors.

use std::cell::RefCell;

use crate::bindings::exports::weft::step::step::{Kind, Metadata, Metric as WitMetric};
use crate::bindings::weft::step::types::{Batch as WitBatch, StepError as WitError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Batch, Evaluate, Meta, Result, StepError, Transform};

pub use crate::bindings::exports::weft::step::step::Guest;
pub use crate::bindings::weft::step::types::{Batch as HostBatch, StepError as HostError};

/// Where the one configured step of this instance lives.
pub type Slot<T> = RefCell<Option<T>>;

type Out<T> = std::result::Result<T, WitError>;

fn metadata(meta: Meta, kind: Kind, schema: serde_json::Value) -> Metadata {
    Metadata {
        name: meta.name.into(),
        version: meta.version.into(),
        kind,
        description: meta.description.into(),
        config_schema: schema.to_string(),
        stateful: meta.stateful,
    }
}

fn with<T, R>(slot: &Slot<T>, f: impl FnOnce(&mut T) -> crate::Result<R>) -> Out<R> {
    let mut guard = slot.borrow_mut();
    let step = guard
        .as_mut()
        .ok_or_else(|| WitError::Internal("configure was not called".into()))?;
    f(step).map_err(WitError::from)
}

fn not_for(kind: &str, call: &str) -> WitError {
    WitError::Internal(format!("{call} is not available on a {kind} step"))
}

/// `describe` of a transform step.
pub fn describe_transform<T: Transform>() -> Metadata {
    metadata(T::META, Kind::Transform, T::config_schema())
}

/// `describe` of an evaluate step.
pub fn describe_evaluate<T: Evaluate>() -> Metadata {
    metadata(T::META, Kind::Evaluate, T::config_schema())
}

/// `configure` of a transform step.
pub fn configure_transform<T: Transform>(slot: &Slot<T>, config: String) -> Out<()> {
    let step = parse_config(&config)
        .and_then(T::new)
        .map_err(WitError::from)?;
    *slot.borrow_mut() = Some(step);
    Ok(())
}

/// `configure` of an evaluate step.
pub fn configure_evaluate<T: Evaluate>(slot: &Slot<T>, config: String) -> Out<()> {
    let step = parse_config(&config)
        .and_then(T::new)
        .map_err(WitError::from)?;
    *slot.borrow_mut() = Some(step);
    Ok(())
}

/// `fit`, through `fit` of either trait.
pub fn fit<T>(slot: &Slot<T>, batch: &WitBatch, fit: fn(&mut T, &Batch) -> Result<()>) -> Out<()> {
    with(slot, |s| fit(s, Batch::from_wit(batch)))
}

/// `state`, through `state` of either trait.
pub fn state<T, S: Serialize>(slot: &Slot<T>, state: fn(&mut T) -> Result<S>) -> Out<Vec<u8>> {
    with(slot, |s| encode_state(&state(s)?))
}

/// `load-state`, through `load_state` of either trait.
pub fn load_state<T, S: DeserializeOwned>(
    slot: &Slot<T>,
    bytes: Vec<u8>,
    load: fn(&mut T, S) -> Result<()>,
) -> Out<()> {
    with(slot, |s| load(s, decode_state(&bytes)?))
}

/// `merge`, through `merge` of either trait.
pub fn merge<T, S: Serialize + DeserializeOwned>(
    slot: &Slot<T>,
    states: Vec<Vec<u8>>,
    merge: fn(&T, Vec<S>) -> Result<S>,
) -> Out<Vec<u8>> {
    with(slot, |s| {
        let states = states
            .iter()
            .map(|b| decode_state(b))
            .collect::<Result<Vec<S>>>()?;
        encode_state(&merge(s, states)?)
    })
}

/// `transform`.
pub fn transform<T: Transform>(slot: &Slot<T>, batch: &WitBatch) -> Out<WitBatch> {
    with(slot, |s| s.transform(Batch::from_wit(batch)).map(|b| b.0))
}

/// `update`.
pub fn update<T: Evaluate>(slot: &Slot<T>, batch: &WitBatch) -> Out<()> {
    with(slot, |s| s.update(Batch::from_wit(batch)))
}

/// `report`.
pub fn report<T: Evaluate>(slot: &Slot<T>) -> Out<Vec<WitMetric>> {
    with(slot, |s| {
        Ok(s.report()?
            .into_iter()
            .map(|m| WitMetric {
                name: m.name,
                value: m.value,
                labels: m.labels,
            })
            .collect())
    })
}

/// The error a transform step gives for evaluate calls, and vice versa.
pub fn unsupported<R>(kind: &str, call: &str) -> Out<R> {
    Err(not_for(kind, call))
}

impl From<StepError> for WitError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::InvalidConfig(m) => WitError::InvalidConfig(m),
            StepError::InvalidInput(m) => WitError::InvalidInput(m),
            StepError::Internal(m) => WitError::Internal(m),
        }
    }
}

/// Parse a config document, naming the problem.
fn parse_config<C: DeserializeOwned>(config: &str) -> Result<C> {
    serde_json::from_str(config).map_err(|e| StepError::InvalidConfig(e.to_string()))
}

/// Serialize a state.
fn encode_state<S: Serialize>(state: &S) -> Result<Vec<u8>> {
    serde_json::to_vec(state).map_err(|e| StepError::Internal(format!("cannot encode state: {e}")))
}

/// Deserialize a state, naming the problem.
fn decode_state<S: DeserializeOwned>(bytes: &[u8]) -> Result<S> {
    serde_json::from_slice(bytes).map_err(|e| {
        StepError::InvalidInput(format!(
            "state does not belong to this step or version: {e}"
        ))
    })
}
