//! `drift`: how far current data has moved from reference data, per column,
//! with SciPy/numpy semantics.
//!
//! An evaluate step with a fitted reference: the host fits it on the
//! step's `reference` data (or loads a state fitted earlier with
//! `--state`), then feeds it the current data and collects its report.
//! Config: `{"columns": [...], "bins": 10, "epsilon": 1e-4,
//! "max_sample": 100000}`. A column is numeric (f32, f64, s64) or
//! categorical (text, boolean) by its dtype in the reference; nulls and NaN
//! are counted and otherwise left out.
//!
//! Metrics, each labelled `column`:
//!
//! - `rows`, `nulls`: current rows and null/NaN rows.
//! - `psi` (label `exact`): population stability index over the reference's
//!   `bins` quantile bins (numpy `quantile`, linear; duplicate edges
//!   dropped; right-closed bins, the outer ones open) or over the reference
//!   categories plus one bucket for unseen ones:
//!   `sum (a - e) ln(a / e)` with each proportion floored at `epsilon`
//!   (`p = max(p, epsilon)`, no renormalisation). See [`psi`].
//! - numeric: `ks_statistic`, `ks_pvalue` (label `exact`): equal to
//!   `scipy.stats.ks_2samp(reference, current)` (two-sided,
//!   `method='auto'`: exact p-value up to 10 000 values per side,
//!   asymptotic beyond). See [`ks`].
//! - categorical: `unseen`, current rows whose category the reference
//!   never had.
//!
//! **Sampling.** Each side keeps at most `max_sample` valid values per
//! column: all of them while they fit, so everything above is exact;
//! beyond, a deterministic uniform reservoir sample (fixed seed). Then the
//! KS figures are computed on the samples and are approximate, and so are
//! the reference bin edges and proportions: the metrics say so with
//! `exact="false"`. Current bin counts always cover every current value.
//!
//! **Merge.** Shard states merge exactly for categorical counts and for
//! numeric samples while their union fits `max_sample` (bins are then
//! recomputed from the merged sample); beyond, the merged sample draws from
//! each shard in proportion to the rows it saw.
//!
//! **Errors** (invalid input, naming the column): a missing column, a
//! column whose kind (numeric, text, boolean) differs between reference
//! and current, a column with no valid reference value, and current data
//! before any reference was fitted or loaded. Numeric dtypes are
//! interchangeable (an s64 reference compares with f64 current data).

mod config;
mod current;
pub mod ks;
pub mod psi;
mod reference;
mod sample;

pub use config::Config;
pub use reference::Reference;

use current::Current;
use reference::Baseline;
use weft_sdk::{Batch, Evaluate, Meta, Metric, Result, Step, StepError};

/// The step: its config, the reference being fitted or loaded, and the
/// current data seen against it.
pub struct Drift {
    config: Config,
    reference: Vec<Reference>,
    compared: Option<Vec<(Baseline, Current)>>,
}

impl Drift {
    /// The baselines, built from what fit saw when no state was loaded.
    fn compared(&mut self) -> Result<&mut Vec<(Baseline, Current)>> {
        if self.compared.is_none() {
            if self.reference.is_empty() {
                return Err(StepError::InvalidInput(format!(
                    "no reference to compare column {:?} against: give the step `reference` data or run with --state",
                    self.config.columns[0]
                )));
            }
            let state = self.reference.clone();
            self.load_state(state)?;
        }
        Ok(self.compared.as_mut().expect("loaded above"))
    }
}

impl Step for Drift {
    type Config = Config;
    type State = Vec<Reference>;
    const META: Meta = Meta {
        name: "drift",
        version: env!("CARGO_PKG_VERSION"),
        description: "Data drift against reference data: PSI per column, two-sample Kolmogorov-Smirnov (SciPy ks_2samp), unseen categories",
        stateful: true,
    };

    fn new(config: Config) -> Result<Self> {
        config.check()?;
        Ok(Drift {
            config,
            reference: Vec::new(),
            compared: None,
        })
    }

    fn fit(&mut self, batch: &Batch) -> Result<()> {
        if self.reference.is_empty() {
            self.reference = self
                .config
                .columns
                .iter()
                .map(|name| Ok(Reference::new(name, batch.column(name)?.dtype())))
                .collect::<Result<_>>()?;
        }
        for reference in &mut self.reference {
            let column = batch.column(&reference.column)?;
            reference.observe(&column, self.config.max_sample)?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<Reference>> {
        if self.reference.is_empty() {
            return Err(StepError::InvalidInput(format!(
                "the reference data has no rows: column {:?} has nothing to compare against",
                self.config.columns[0]
            )));
        }
        Ok(self.reference.clone())
    }

    fn load_state(&mut self, state: Vec<Reference>) -> Result<()> {
        let names: Vec<&str> = state.iter().map(|r| r.column.as_str()).collect();
        if names != self.config.columns {
            return Err(StepError::InvalidInput(format!(
                "the state was fitted for columns {names:?}, the config names {:?}",
                self.config.columns
            )));
        }
        let compared = state
            .iter()
            .map(|r| {
                let baseline = r.baseline(self.config.bins)?;
                let current = Current::new(&baseline);
                Ok((baseline, current))
            })
            .collect::<Result<_>>()?;
        self.reference = state;
        self.compared = Some(compared);
        Ok(())
    }

    fn merge(&self, states: Vec<Vec<Reference>>) -> Result<Vec<Reference>> {
        let n = self.config.columns.len();
        if let Some(odd) = states.iter().find(|s| s.len() != n) {
            return Err(StepError::InvalidInput(format!(
                "cannot merge states: one has {} columns, the config names {n}",
                odd.len()
            )));
        }
        let mut by_column: Vec<Vec<Reference>> = (0..n).map(|_| Vec::new()).collect();
        for state in states {
            for (i, reference) in state.into_iter().enumerate() {
                by_column[i].push(reference);
            }
        }
        by_column
            .into_iter()
            .filter(|parts| !parts.is_empty())
            .map(|parts| Reference::merge(parts, self.config.max_sample))
            .collect()
    }
}

impl Evaluate for Drift {
    fn update(&mut self, batch: &Batch) -> Result<()> {
        let capacity = self.config.max_sample;
        let columns = self.config.columns.clone();
        for (name, (baseline, current)) in columns.iter().zip(self.compared()?) {
            current.observe(name, &batch.column(name)?, baseline, capacity)?;
        }
        Ok(())
    }

    fn report(&mut self) -> Result<Vec<Metric>> {
        let epsilon = self.config.epsilon;
        let columns = self.config.columns.clone();
        Ok(columns
            .iter()
            .zip(self.compared()?.iter())
            .flat_map(|(name, (baseline, current))| current.metrics(name, baseline, epsilon))
            .collect())
    }
}

weft_sdk::export_evaluate!(Drift);

#[cfg(test)]
mod tests;
