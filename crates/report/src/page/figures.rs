//! What the page's figures draw, picked out of a step's metrics by the
//! metric conventions of the evaluation plugins.

use weft_record::{MetricValue, StepReport};

/// The four cells of a binary confusion matrix (`confusion_matrix{cell=...}`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confusion {
    /// Actual negative, predicted negative.
    pub tn: f64,
    /// Actual negative, predicted positive.
    pub fp: f64,
    /// Actual positive, predicted negative.
    pub fn_: f64,
    /// Actual positive, predicted positive.
    pub tp: f64,
}

/// One column of a drift step: its `psi`, and the KS test or the count of
/// unseen categories where reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// Column name.
    pub column: String,
    /// Population stability index.
    pub psi: f64,
    /// Two-sample Kolmogorov-Smirnov statistic (numeric columns).
    pub ks_statistic: Option<f64>,
    /// Its p-value.
    pub ks_pvalue: Option<f64>,
    /// Rows with categories the reference never had (categorical columns).
    pub unseen: Option<f64>,
}

/// PSI bands: below 0.1 stable, up to 0.25 moderate, above that major.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    /// psi < 0.1.
    Stable,
    /// 0.1 <= psi <= 0.25.
    Moderate,
    /// psi > 0.25 (or not a number).
    Major,
}

impl Band {
    /// Upper bound of the stable band.
    pub const STABLE_BELOW: f64 = 0.1;
    /// Upper bound of the moderate band.
    pub const MODERATE_UP_TO: f64 = 0.25;
    /// Every band, in order.
    pub const ALL: [Band; 3] = [Band::Stable, Band::Moderate, Band::Major];

    /// The band of `psi`.
    pub fn of(psi: f64) -> Band {
        if psi < Self::STABLE_BELOW {
            Band::Stable
        } else if psi <= Self::MODERATE_UP_TO {
            Band::Moderate
        } else {
            Band::Major
        }
    }

    /// Its name, also its CSS class.
    pub fn name(self) -> &'static str {
        match self {
            Band::Stable => "stable",
            Band::Moderate => "moderate",
            Band::Major => "major",
        }
    }

    /// Its range, for the legend.
    pub fn range(self) -> &'static str {
        match self {
            Band::Stable => "psi < 0.1",
            Band::Moderate => "0.1 \u{2264} psi \u{2264} 0.25",
            Band::Major => "psi > 0.25",
        }
    }

    /// Its fill color.
    pub fn color(self) -> &'static str {
        match self {
            Band::Stable => "#2e7d32",
            Band::Moderate => "#f9a825",
            Band::Major => "#c62828",
        }
    }
}

/// The unlabelled metric `name` of `step`.
pub fn value(step: &StepReport, name: &str) -> Option<f64> {
    step.metrics
        .iter()
        .find(|m| m.name == name && m.labels.is_empty())
        .map(|m| m.value)
}

fn labelled<'a>(
    step: &'a StepReport,
    name: &'a str,
    label: &'a str,
) -> impl Iterator<Item = (&'a str, f64)> + 'a {
    step.metrics
        .iter()
        .filter(move |m| m.name == name)
        .filter_map(move |m: &MetricValue| m.labels.get(label).map(|l| (l.as_str(), m.value)))
}

/// The confusion matrix of `step`, when it reports all four cells.
pub fn confusion(step: &StepReport) -> Option<Confusion> {
    let cell = |name: &str| {
        labelled(step, "confusion_matrix", "cell")
            .find(|(c, _)| *c == name)
            .map(|(_, v)| v)
    };
    Some(Confusion {
        tn: cell("tn")?,
        fp: cell("fp")?,
        fn_: cell("fn")?,
        tp: cell("tp")?,
    })
}

/// The ROC curve of `step` (`roc_tpr{fpr=...}`) as `(fpr, tpr)` points
/// sorted by fpr; points with an unreadable or non-finite coordinate are
/// left out.
pub fn roc(step: &StepReport) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = labelled(step, "roc_tpr", "fpr")
        .filter_map(|(fpr, tpr)| Some((fpr.trim().parse::<f64>().ok()?, tpr)))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    points
}

/// One [`Drift`] per column with a `psi`, in the order the step reported them.
pub fn drift(step: &StepReport) -> Vec<Drift> {
    let of = |name: &str, column: &str| {
        labelled(step, name, "column")
            .find(|(c, _)| *c == column)
            .map(|(_, v)| v)
    };
    labelled(step, "psi", "column")
        .map(|(column, psi)| Drift {
            column: column.to_string(),
            psi,
            ks_statistic: of("ks_statistic", column),
            ks_pvalue: of("ks_pvalue", column),
            unseen: of("unseen", column),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands() {
        assert_eq!(Band::of(0.05), Band::Stable);
        assert_eq!(Band::of(0.1), Band::Moderate);
        assert_eq!(Band::of(0.25), Band::Moderate);
        assert_eq!(Band::of(0.26), Band::Major);
        assert_eq!(Band::of(f64::NAN), Band::Major);
    }
}
