//! How a quantile is read from sorted values: numpy's `method=` names.

use serde::{Deserialize, Serialize};

/// One of numpy's `np.quantile(..., method=...)` definitions (numpy ≥ 1.22),
/// named in JSON exactly as numpy names it (`"averaged_inverted_cdf"`).
///
/// The first nine are Hyndman and Fan's sample quantiles H&F 1–9; the last
/// four are numpy's older `interpolation=` choices. `Linear` (H&F 7) is
/// numpy's default; scikit-learn 1.9's `KBinsDiscretizer` defaults to
/// `AveragedInvertedCdf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantileMethod {
    /// H&F 1: the smallest value whose empirical CDF reaches `q`.
    InvertedCdf,
    /// H&F 2: as `InvertedCdf`, averaging the two values where the CDF
    /// steps exactly at `q`.
    AveragedInvertedCdf,
    /// H&F 3: the nearest order statistic, the even one on a tie.
    ClosestObservation,
    /// H&F 4: linear interpolation of the empirical CDF (α = 0, β = 1).
    InterpolatedInvertedCdf,
    /// H&F 5: piecewise linear, knots at the midpoints (α = β = ½).
    Hazen,
    /// H&F 6: unbiased for the CDF value (α = β = 0).
    Weibull,
    /// H&F 7: numpy's default, linear between order statistics (α = β = 1).
    #[default]
    Linear,
    /// H&F 8: median-unbiased whatever the distribution (α = β = ⅓).
    MedianUnbiased,
    /// H&F 9: unbiased for normally distributed data (α = β = ⅜).
    NormalUnbiased,
    /// The order statistic below the linear method's position.
    Lower,
    /// The order statistic above the linear method's position.
    Higher,
    /// The mean of `Lower` and `Higher`.
    Midpoint,
    /// The order statistic nearest the linear method's position, the even
    /// index on a tie (numpy rounds half to even).
    Nearest,
}

impl QuantileMethod {
    /// Every method, in numpy's documentation order.
    pub const ALL: [QuantileMethod; 13] = [
        QuantileMethod::InvertedCdf,
        QuantileMethod::AveragedInvertedCdf,
        QuantileMethod::ClosestObservation,
        QuantileMethod::InterpolatedInvertedCdf,
        QuantileMethod::Hazen,
        QuantileMethod::Weibull,
        QuantileMethod::Linear,
        QuantileMethod::MedianUnbiased,
        QuantileMethod::NormalUnbiased,
        QuantileMethod::Lower,
        QuantileMethod::Higher,
        QuantileMethod::Midpoint,
        QuantileMethod::Nearest,
    ];

    /// numpy's name of the method (`"averaged_inverted_cdf"`).
    pub fn name(self) -> &'static str {
        match self {
            QuantileMethod::InvertedCdf => "inverted_cdf",
            QuantileMethod::AveragedInvertedCdf => "averaged_inverted_cdf",
            QuantileMethod::ClosestObservation => "closest_observation",
            QuantileMethod::InterpolatedInvertedCdf => "interpolated_inverted_cdf",
            QuantileMethod::Hazen => "hazen",
            QuantileMethod::Weibull => "weibull",
            QuantileMethod::Linear => "linear",
            QuantileMethod::MedianUnbiased => "median_unbiased",
            QuantileMethod::NormalUnbiased => "normal_unbiased",
            QuantileMethod::Lower => "lower",
            QuantileMethod::Higher => "higher",
            QuantileMethod::Midpoint => "midpoint",
            QuantileMethod::Nearest => "nearest",
        }
    }
}

impl std::fmt::Display for QuantileMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_numpys() {
        for method in QuantileMethod::ALL {
            let json = serde_json::to_string(&method).unwrap();
            assert_eq!(json, format!("\"{}\"", method.name()));
            assert_eq!(
                serde_json::from_str::<QuantileMethod>(&json).unwrap(),
                method
            );
        }
        let m: QuantileMethod = serde_json::from_str("\"averaged_inverted_cdf\"").unwrap();
        assert_eq!(m, QuantileMethod::AveragedInvertedCdf);
        assert!(serde_json::from_str::<QuantileMethod>("\"cubic\"").is_err());
    }

    #[test]
    fn linear_is_the_default() {
        assert_eq!(QuantileMethod::default(), QuantileMethod::Linear);
    }
}
