//! `kbins`: bin numeric columns exactly as scikit-learn 1.9's
//! `KBinsDiscretizer(encode="ordinal", subsample=None)`, strategies
//! `uniform` and `quantile` (any of its nine quantile methods).
//!
//! Fit learns each column's bin edges through the host's kernels (column
//! statistics; exact quantiles over every batch fitted); transform is one
//! host `digitize` per column, written as f64 bin indexes like
//! scikit-learn's. Missing values (null, NaN), which scikit-learn refuses,
//! are skipped by fit and stay null. Other columns pass through by handle.

mod bins;

pub use bins::Config;

use bins::{Bins, Seen};
use weft_sdk::{Batch, Column, Meta, Result, Step, StepError, Transform};

/// The step: its config, what fit has seen, and the fitted bins.
pub struct KBins {
    config: Config,
    seen: Vec<Seen>,
    bins: Option<Vec<Bins>>,
}

impl Step for KBins {
    type Config = Config;
    type State = Vec<Bins>;
    const META: Meta = Meta {
        name: "kbins",
        version: env!("CARGO_PKG_VERSION"),
        description: "Bin numeric columns into n_bins intervals, uniform or by quantile (scikit-learn KBinsDiscretizer, ordinal)",
        stateful: true,
    };

    fn new(config: Config) -> Result<Self> {
        bins::check(&config)?;
        let seen = config.columns.iter().map(|_| Seen::default()).collect();
        Ok(KBins {
            config,
            seen,
            bins: None,
        })
    }

    fn fit(&mut self, batch: &Batch) -> Result<()> {
        for (name, seen) in self.config.columns.iter().zip(&mut self.seen) {
            seen.observe(batch.numeric(name)?, self.config.strategy)?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<Bins>> {
        if self.bins.is_none() {
            let names = self.config.columns.iter();
            let fitted = names
                .zip(&self.seen)
                .map(|(name, seen)| seen.finish(name, &self.config));
            self.bins = Some(fitted.collect::<Result<_>>()?);
        }
        Ok(self.bins.clone().expect("fitted above"))
    }

    fn load_state(&mut self, state: Vec<Bins>) -> Result<()> {
        if state.len() != self.config.columns.len() {
            return Err(StepError::InvalidInput(
                "the state was fitted for other columns".into(),
            ));
        }
        self.bins = Some(state);
        Ok(())
    }

    fn merge(&self, states: Vec<Vec<Bins>>) -> Result<Vec<Bins>> {
        bins::merge(states, &self.config)
    }
}

impl Transform for KBins {
    fn transform(&mut self, batch: &Batch) -> Result<Batch> {
        let bins = self.state()?;
        let binned = (self.config.columns.iter().zip(&bins))
            .map(|(name, b)| b.index(&batch.numeric(name)?))
            .collect::<Result<Vec<Column>>>()?;
        let names = self.config.columns.iter().map(String::as_str);
        batch.with_columns(&names.zip(&binned).collect::<Vec<_>>())
    }
}

weft_sdk::export_transform!(KBins);

#[cfg(test)]
mod tests;
