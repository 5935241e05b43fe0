//! The bins of one column as scikit-learn's `KBinsDiscretizer` fits them:
//! the config, what fit keeps, the edges, the bin of each value, and how
//! shard states merge.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_sdk::{compute, log, Column, QuantileMethod, Result, Stats, StepError};

/// `{"columns": [...], "n_bins": 5, "strategy": "quantile", "quantile_method": "averaged_inverted_cdf"}`
/// (scikit-learn's names and defaults).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The numeric columns to bin, each on its own.
    #[schemars(length(min = 1))]
    pub(crate) columns: Vec<String>,
    /// Bins per column (at least 2); fewer where a column is constant or
    /// quantile bins are too narrow.
    #[serde(default = "five")]
    #[schemars(range(min = 2))]
    n_bins: usize,
    /// How the edges are placed.
    #[serde(default)]
    pub(crate) strategy: Strategy,
    /// How quantile edges are read from the values (strategy `quantile`).
    #[serde(default)]
    quantile_method: Method,
}

fn five() -> usize {
    5
}

/// How the edges are placed.
#[derive(Deserialize, JsonSchema, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Equal widths between the column's minimum and maximum.
    Uniform,
    /// At the quantiles `0, 1/n_bins, ..., 1` of the column.
    #[default]
    Quantile,
}

/// The quantile methods scikit-learn's `quantile_method` accepts (numpy's
/// names); scikit-learn 1.9 defaults to `averaged_inverted_cdf`.
#[derive(Deserialize, JsonSchema, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// numpy's `inverted_cdf`.
    InvertedCdf,
    /// numpy's `averaged_inverted_cdf`.
    #[default]
    AveragedInvertedCdf,
    /// numpy's `closest_observation`.
    ClosestObservation,
    /// numpy's `interpolated_inverted_cdf`.
    InterpolatedInvertedCdf,
    /// numpy's `hazen`.
    Hazen,
    /// numpy's `weibull`.
    Weibull,
    /// numpy's `linear` (its default).
    Linear,
    /// numpy's `median_unbiased`.
    MedianUnbiased,
    /// numpy's `normal_unbiased`.
    NormalUnbiased,
}

impl Method {
    /// The host kernel's name for the method.
    fn numpy(self) -> QuantileMethod {
        match self {
            Method::InvertedCdf => QuantileMethod::InvertedCdf,
            Method::AveragedInvertedCdf => QuantileMethod::AveragedInvertedCdf,
            Method::ClosestObservation => QuantileMethod::ClosestObservation,
            Method::InterpolatedInvertedCdf => QuantileMethod::InterpolatedInvertedCdf,
            Method::Hazen => QuantileMethod::Hazen,
            Method::Weibull => QuantileMethod::Weibull,
            Method::Linear => QuantileMethod::Linear,
            Method::MedianUnbiased => QuantileMethod::MedianUnbiased,
            Method::NormalUnbiased => QuantileMethod::NormalUnbiased,
        }
    }
}

/// Refuse what scikit-learn refuses (as the schema does, for the steps
/// that are built without the host's schema check).
pub fn check(config: &Config) -> Result<()> {
    if config.n_bins < 2 {
        return Err(StepError::InvalidConfig(format!(
            "n_bins: {} bins are too few; need at least 2",
            config.n_bins
        )));
    }
    Ok(())
}

/// What fit has seen of one column: its statistics and, for the quantile
/// strategy, the columns themselves (exact quantiles need every value).
#[derive(Default)]
pub struct Seen {
    stats: Stats,
    kept: Vec<Column>,
}

impl Seen {
    /// Learn from one batch's column.
    pub fn observe(&mut self, column: Column, strategy: Strategy) -> Result<()> {
        self.stats = self.stats.merge(&compute::column_stats(&[&column])?);
        if strategy == Strategy::Quantile {
            self.kept.push(column);
        }
        Ok(())
    }

    /// The bins of column `name` over everything seen.
    pub fn finish(&self, name: &str, config: &Config) -> Result<Bins> {
        let Stats {
            count, min, max, ..
        } = self.stats;
        if count == 0 {
            return Err(StepError::InvalidInput(format!(
                "column {name:?} has no values to fit bins to"
            )));
        }
        if min == max {
            log::warn(&format!(
                "column {name:?} is constant and will be replaced with 0"
            ));
            return Ok(Bins {
                stats: self.stats,
                edges: Vec::new(),
            });
        }
        let edges = match config.strategy {
            Strategy::Uniform => linspace(min, max, config.n_bins + 1),
            Strategy::Quantile => {
                let qs: Vec<f64> = linspace(0.0, 100.0, config.n_bins + 1)
                    .into_iter()
                    .map(|p| p / 100.0)
                    .collect();
                let kept: Vec<&Column> = self.kept.iter().collect();
                let edges = compute::quantiles_with(&kept, &qs, config.quantile_method.numpy())?;
                wide_only(name, edges)
            }
        };
        Ok(Bins {
            stats: self.stats,
            edges,
        })
    }
}

/// `numpy.linspace(start, stop, num)` as numpy computes it: `i * step +
/// start` (`i / div * delta + start` when the step underflows), the last
/// exactly `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let (div, delta) = ((num - 1) as f64, stop - start);
    let step = delta / div;
    let mut y: Vec<f64> = (0..num)
        .map(|i| i as f64)
        .map(|i| if step == 0.0 { i / div * delta } else { i * step } + start)
        .collect();
    y[num - 1] = stop;
    y
}

/// scikit-learn's removal of bins no wider than 1e-8: an edge stays when
/// it is the first or more than 1e-8 above the edge before it.
fn wide_only(name: &str, edges: Vec<f64>) -> Vec<f64> {
    let kept: Vec<f64> = (0..edges.len())
        .filter(|&i| i == 0 || edges[i] - edges[i - 1] > 1e-8)
        .map(|i| edges[i])
        .collect();
    if kept.len() != edges.len() {
        log::warn(&format!(
            "bins whose width are too small (i.e., <= 1e-8) in column {name:?} are removed; consider decreasing the number of bins"
        ));
    }
    kept
}

/// The fitted bins of one column: scikit-learn's `bin_edges_[j]`, except
/// that a constant column (one bin, scikit-learn's `[-inf, inf]`) keeps no
/// edges; and the statistics they came from.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Bins {
    stats: Stats,
    edges: Vec<f64>,
}

impl Bins {
    /// The bin of every value, as f64: scikit-learn's
    /// `searchsorted(edges[1:-1], x, side="right")`, which is `digitize`
    /// on the inner edges. Without inner edges every value is in bin 0
    /// (every number is `<= inf`). Missing values stay null.
    pub fn index(&self, column: &Column) -> Result<Column> {
        let bins = match self.edges.len() {
            0..=2 => compute::digitize(column, &[f64::INFINITY], true)?,
            n => compute::digitize(column, &self.edges[1..n - 1], false)?,
        };
        compute::affine(&bins, 0.0, 1.0)
    }
}

/// Merge per-column states of shards: uniform edges depend only on the
/// minimum and maximum, which merge exactly; quantile edges need every
/// value in one place, so several quantile states are refused.
pub fn merge(states: Vec<Vec<Bins>>, config: &Config) -> Result<Vec<Bins>> {
    if states.iter().any(|s| s.len() != config.columns.len()) {
        return Err(StepError::InvalidInput(
            "states were fitted for different columns".into(),
        ));
    }
    if config.strategy == Strategy::Quantile {
        return match <[Vec<Bins>; 1]>::try_from(states) {
            Ok([one]) => Ok(one),
            Err(_) => Err(StepError::InvalidInput(
                "kbins cannot merge quantile bins fitted on separate shards: exact quantiles need every value in one place; fit this step without shards, or use strategy \"uniform\"".into(),
            )),
        };
    }
    let columns = config.columns.iter().enumerate();
    columns
        .map(|(i, name)| {
            let stats = states
                .iter()
                .fold(Stats::default(), |acc, s| acc.merge(&s[i].stats));
            Seen {
                stats,
                kept: Vec::new(),
            }
            .finish(name, config)
        })
        .collect()
}
