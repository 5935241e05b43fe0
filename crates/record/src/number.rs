//! Metric values in JSON: finite numbers as numbers, and NaN and the
//! infinities (which JSON has no number for, and which serde_json would
//! write as `null`) as the strings Prometheus uses: `"NaN"`, `"+Inf"`,
//! `"-Inf"`. A report with an undefined metric (a ROC AUC over one class)
//! then reads back as it was written.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A metric value as JSON holds it.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum Number {
    /// A finite value.
    Finite(f64),
    /// A value JSON has no number for.
    NonFinite(NonFinite),
}

/// NaN and the infinities, spelled as Prometheus spells them.
#[derive(Serialize, Deserialize, JsonSchema)]
pub(super) enum NonFinite {
    /// Not a number (an undefined metric).
    #[serde(rename = "NaN")]
    NaN,
    /// Positive infinity.
    #[serde(rename = "+Inf")]
    Inf,
    /// Negative infinity.
    #[serde(rename = "-Inf")]
    NegInf,
}

impl From<f64> for Number {
    fn from(v: f64) -> Number {
        match v {
            v if v.is_finite() => Number::Finite(v),
            v if v.is_nan() => Number::NonFinite(NonFinite::NaN),
            v if v > 0.0 => Number::NonFinite(NonFinite::Inf),
            _ => Number::NonFinite(NonFinite::NegInf),
        }
    }
}

impl From<Number> for f64 {
    fn from(n: Number) -> f64 {
        match n {
            Number::Finite(v) => v,
            Number::NonFinite(NonFinite::NaN) => f64::NAN,
            Number::NonFinite(NonFinite::Inf) => f64::INFINITY,
            Number::NonFinite(NonFinite::NegInf) => f64::NEG_INFINITY,
        }
    }
}

/// Write `v` as a [`Number`].
pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    Number::from(*v).serialize(s)
}

/// Read a [`Number`].
pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Number::deserialize(d).map(f64::from)
}

#[cfg(test)]
mod tests {
    use crate::MetricValue;

    #[test]
    fn every_value_reads_back_as_written() {
        for v in [0.5, -0.0, 1e300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let m = MetricValue {
                name: "m".into(),
                value: v,
                labels: Default::default(),
            };
            let text = serde_json::to_string(&m).unwrap();
            let back: MetricValue = serde_json::from_str(&text).unwrap();
            assert!(
                back.value.to_bits() == v.to_bits() || (v.is_nan() && back.value.is_nan()),
                "{text}"
            );
        }
        let nan = serde_json::to_string(&MetricValue {
            name: "m".into(),
            value: f64::NAN,
            labels: Default::default(),
        });
        assert_eq!(nan.unwrap(), r#"{"name":"m","value":"NaN"}"#);
    }
}
