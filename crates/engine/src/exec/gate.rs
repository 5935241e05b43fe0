//! Gates: bounds on the metrics a step reports, checked after the run.

use std::collections::BTreeMap;

use super::MetricValue;
use weft_manifest::Gate;
use weft_record::GateResult;

/// Check each gate against every metric it selects; a gate that selects
/// nothing fails, with no value.
pub fn check(gates: &[Gate], metrics: &[MetricValue]) -> Vec<GateResult> {
    gates.iter().flat_map(|g| check_one(g, metrics)).collect()
}

fn check_one(gate: &Gate, metrics: &[MetricValue]) -> Vec<GateResult> {
    let result = |labels: BTreeMap<String, String>, value: Option<f64>| GateResult {
        metric: gate.metric.clone(),
        labels,
        value,
        min: gate.min,
        max: gate.max,
        passed: value.is_some_and(|v| within(v, gate)),
    };
    let selected: Vec<GateResult> = metrics
        .iter()
        .filter(|m| m.name == gate.metric)
        .filter(|m| gate.labels.iter().all(|(k, v)| m.labels.get(k) == Some(v)))
        .map(|m| result(m.labels.clone(), Some(m.value)))
        .collect();
    if selected.is_empty() {
        return vec![result(gate.labels.clone(), None)];
    }
    selected
}

fn within(value: f64, gate: &Gate) -> bool {
    !value.is_nan()
        && gate.min.is_none_or(|lo| value >= lo)
        && gate.max.is_none_or(|hi| value <= hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(name: &str, value: f64, labels: &[(&str, &str)]) -> MetricValue {
        MetricValue {
            name: name.into(),
            value,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn gate(metric: &str, min: Option<f64>, max: Option<f64>, labels: &[(&str, &str)]) -> Gate {
        Gate {
            metric: metric.into(),
            min,
            max,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn bounds_are_inclusive_and_nan_fails() {
        let g = [gate("accuracy", Some(0.9), Some(1.0), &[])];
        let passed = |v: f64| check(&g, &[metric("accuracy", v, &[])])[0].passed;
        assert!(passed(0.9) && passed(1.0) && passed(0.95));
        assert!(!passed(0.8999) && !passed(f64::NAN));
    }

    #[test]
    fn labels_select_and_unlabelled_gates_cover_every_series() {
        let metrics = [
            metric("psi", 0.05, &[("column", "age")]),
            metric("psi", 0.4, &[("column", "income")]),
        ];
        let one = check(
            &[gate("psi", None, Some(0.2), &[("column", "age")])],
            &metrics,
        );
        assert_eq!(one.len(), 1);
        assert!(one[0].passed);
        let all = check(&[gate("psi", None, Some(0.2), &[])], &metrics);
        assert_eq!(
            all.iter().map(|r| r.passed).collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(all[1].target(), "psi{column=income}");
    }

    #[test]
    fn a_missing_metric_fails_without_a_value() {
        let r = check(
            &[gate("f1", Some(0.5), None, &[])],
            &[metric("accuracy", 1.0, &[])],
        );
        assert_eq!((r[0].value, r[0].passed), (None, false));
        assert_eq!(r[0].bound(), ">= 0.5");
    }
}
