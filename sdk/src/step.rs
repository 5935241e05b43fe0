//! The traits a step implements.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Batch, Result, StepError};

/// What a step says about itself.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// Step name.
    pub name: &'static str,
    /// Step version (use `env!("CARGO_PKG_VERSION")`).
    pub version: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    /// Whether it must be fitted before transforming.
    pub stateful: bool,
}

/// A named value an evaluate step reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Name, e.g. `accuracy`.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Labels, e.g. `[("class", "1")]`.
    pub labels: Vec<(String, String)>,
}

/// What every step has: a config, an optional fitted state, and the calls
/// that build, fit, save, load and merge it. A step also implements
/// [`Transform`] or [`Evaluate`] for what it does with the data.
///
/// The state is serialized exactly (CBOR, see [`crate::state`]): it is the
/// artifact that carries a fit from training to serving. A stateful evaluate step (`META.stateful`)
/// fits a reference, such as the training distribution a drift step
/// compares against, on the step's `reference` data, and saves and reloads
/// it the same way. Stateless steps keep the defaults and `State = ()`.
pub trait Step: Sized + 'static {
    /// The config document (the manifest's `config`). Derive
    /// `schemars::JsonSchema` beside `Deserialize`: the host checks configs
    /// against that schema (doc comments become descriptions, `#[serde(default)]`
    /// values defaults) before the step sees them.
    type Config: DeserializeOwned + JsonSchema;
    /// The fitted state (or reference); `()` for steps that fit nothing.
    type State: Serialize + DeserializeOwned + Default;
    /// Name, version, description, statefulness.
    const META: Meta;

    /// JSON Schema of [`Self::Config`], derived; override only to tighten it.
    fn config_schema() -> serde_json::Value {
        schemars::schema_for!(Self::Config).to_value()
    }
    /// Build the step from its config.
    fn new(config: Self::Config) -> Result<Self>;
    /// Learn from one batch; called for every batch of the input (of the
    /// reference data, for an evaluate step).
    fn fit(&mut self, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    /// The state fitted so far.
    fn state(&mut self) -> Result<Self::State> {
        Ok(Self::State::default())
    }
    /// Use a state fitted earlier, possibly by another instance.
    fn load_state(&mut self, _state: Self::State) -> Result<()> {
        Ok(())
    }
    /// Combine states fitted on disjoint shards of the input.
    fn merge(&self, states: Vec<Self::State>) -> Result<Self::State> {
        if Self::META.stateful {
            return Err(StepError::Internal(format!(
                "{} does not implement merge",
                Self::META.name
            )));
        }
        Ok(states.into_iter().next().unwrap_or_default())
    }
}

/// A step that turns each batch into a new batch, optionally after fitting
/// a state on the whole input ([`Step::fit`]).
pub trait Transform: Step {
    /// Transform one batch.
    fn transform(&mut self, batch: &Batch) -> Result<Batch>;
}

/// A step that reads every batch and reports metrics at the end, optionally
/// against a reference it fitted first ([`Step::fit`]).
pub trait Evaluate: Step {
    /// Accumulate one batch.
    fn update(&mut self, batch: &Batch) -> Result<()>;
    /// The metrics over everything seen.
    fn report(&mut self) -> Result<Vec<Metric>>;
}

/// A step built from its config document, as `configure` builds it.
pub(crate) fn configure<T: Step>(config: &str) -> Result<T> {
    let config =
        serde_json::from_str(config).map_err(|e| StepError::InvalidConfig(e.to_string()))?;
    T::new(config)
}
