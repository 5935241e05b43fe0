//! Native tests of a step, run the way the host runs it.
//!
//! The host never keeps a step between phases: it fits one instance over
//! every batch, asks it for its [`state`](crate::state) as bytes, and gives
//! those bytes to fresh instances (one per worker, and again in `weft serve`)
//! through `load_state` before they transform. Shards of a large input are
//! fitted apart and their states merged. A [`Harness`] does the same, so a
//! plugin's tests catch what only shows there: a state that does not survive
//! its bytes, a transform that relies on fields `fit` left behind, a merge
//! that differs from fitting the whole input.
//!
//! ```
//! use weft_sdk::testing::{batch, Harness};
//! use weft_sdk::{Batch, Column, Meta, Result, Step, Transform};
//!
//! /// Subtracts the mean it fitted.
//! #[derive(Default)]
//! struct Center { sum: f64, count: f64, mean: Option<f64> }
//!
//! impl Step for Center {
//!     type Config = ();
//!     type State = (f64, f64);
//!     const META: Meta = Meta { name: "center", version: "0.1.0", description: "x - mean", stateful: true };
//!     fn new(_: ()) -> Result<Self> { Ok(Center::default()) }
//!     fn fit(&mut self, batch: &Batch) -> Result<()> {
//!         let x = batch.f64s("x")?;
//!         self.sum += x.iter().sum::<f64>();
//!         self.count += x.len() as f64;
//!         Ok(())
//!     }
//!     fn state(&mut self) -> Result<(f64, f64)> { Ok((self.sum, self.count)) }
//!     fn load_state(&mut self, (sum, count): (f64, f64)) -> Result<()> {
//!         self.mean = Some(sum / count);
//!         Ok(())
//!     }
//!     fn merge(&self, states: Vec<(f64, f64)>) -> Result<(f64, f64)> {
//!         Ok(states.iter().fold((0.0, 0.0), |a, s| (a.0 + s.0, a.1 + s.1)))
//!     }
//! }
//!
//! impl Transform for Center {
//!     fn transform(&mut self, batch: &Batch) -> Result<Batch> {
//!         let mean = self.mean.expect("the host loads the state first");
//!         let x: Vec<f64> = batch.f64s("x")?.iter().map(|v| v - mean).collect();
//!         batch.with_columns(&[("x", &Column::from_f64s(&x, None))])
//!     }
//! }
//!
//! let part = |xs: &[f64]| batch(&[("x", &Column::from_f64s(xs, None))]);
//! let data = [part(&[1.0, 2.0]), part(&[3.0, 6.0])];
//! let harness = Harness::<Center>::new(serde_json::json!(null));
//! let out = harness.run(&data, 2).unwrap();
//! assert_eq!(out[1].f64s("x").unwrap(), vec![0.0, 3.0]);
//! // Fitting the two batches as shards and merging gives the same state.
//! assert_eq!(harness.fit_shards(&[&data[..1], &data[1..]]).unwrap(), harness.fit(&data).unwrap());
//! ```

use std::marker::PhantomData;

pub use crate::backend::emitted_metrics;
use crate::{state, Batch, Evaluate, Metric, Result, Step, Transform};

/// A batch from `(name, column)` pairs; panics on mismatched lengths.
pub fn batch(columns: &[(&str, &crate::Column)]) -> Batch {
    Batch::from_columns(columns).expect("columns of equal length")
}

/// Runs a step `T` configured with one config document as the host does:
/// every phase on fresh instances, states only as bytes.
pub struct Harness<T> {
    config: String,
    step: PhantomData<fn() -> T>,
}

impl<T: Step> Harness<T> {
    /// A harness for `T` with `config`, the manifest's `config:` as JSON.
    pub fn new(config: serde_json::Value) -> Harness<T> {
        Harness {
            config: config.to_string(),
            step: PhantomData,
        }
    }

    /// A fresh instance, configured from the JSON text as `configure` is.
    pub fn instance(&self) -> Result<T> {
        crate::step::configure(&self.config)
    }

    /// The bytes of the state one instance fits over all `batches`.
    pub fn fit(&self, batches: &[Batch]) -> Result<Vec<u8>> {
        let mut step = self.instance()?;
        for batch in batches {
            step.fit(batch)?;
        }
        state::encode(&step.state()?)
    }

    /// The bytes of the state fitted shard by shard, each on its own
    /// instance, and merged by another, as `weft merge-states` does.
    pub fn fit_shards(&self, shards: &[&[Batch]]) -> Result<Vec<u8>> {
        let states = shards
            .iter()
            .map(|shard| state::decode(&self.fit(shard)?))
            .collect::<Result<Vec<T::State>>>()?;
        state::encode(&self.instance()?.merge(states)?)
    }

    /// A fresh instance that loaded the state in `bytes`.
    pub fn loaded(&self, bytes: &[u8]) -> Result<T> {
        let mut step = self.instance()?;
        step.load_state(state::decode(bytes)?)?;
        Ok(step)
    }

    /// The state in `bytes`, to look into.
    pub fn state_of(&self, bytes: &[u8]) -> Result<T::State> {
        state::decode(bytes)
    }

    /// Instances ready for data: fitted on `fit` (when the step is
    /// stateful) and loaded through bytes, one per worker.
    fn workers(&self, fit: &[Batch], workers: usize) -> Result<Vec<T>> {
        let bytes = if T::META.stateful {
            Some(self.fit(fit)?)
        } else {
            None
        };
        (0..workers.max(1))
            .map(|_| match &bytes {
                Some(bytes) => self.loaded(bytes),
                None => self.instance(),
            })
            .collect()
    }
}

impl<T: Transform> Harness<T> {
    /// `weft run`: fit on all `batches`, then transform them on `workers`
    /// instances in turn, each loaded from the state's bytes.
    pub fn run(&self, batches: &[Batch], workers: usize) -> Result<Vec<Batch>> {
        self.transform(batches, batches, workers)
    }

    /// `weft run --state`: transform `batches` on `workers` instances in
    /// turn, each loaded from the state `fit` gives.
    pub fn transform(
        &self,
        fit: &[Batch],
        batches: &[Batch],
        workers: usize,
    ) -> Result<Vec<Batch>> {
        let mut instances = self.workers(fit, workers)?;
        let count = instances.len();
        batches
            .iter()
            .enumerate()
            .map(|(i, batch)| instances[i % count].transform(batch))
            .collect()
    }
}

impl<T: Evaluate> Harness<T> {
    /// An evaluation: a stateful step fits its reference (through bytes,
    /// as the host does), then one instance sees every batch and reports.
    pub fn evaluate(&self, reference: &[Batch], batches: &[Batch]) -> Result<Vec<Metric>> {
        let mut step = self.workers(reference, 1)?.remove(0);
        for batch in batches {
            step.update(batch)?;
        }
        step.report()
    }
}
