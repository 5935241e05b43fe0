//! Live parity of the quantile and binning kernels with numpy.
//!
//! Seeded data sets (ties, duplicates, negatives, NaN and nulls, integers,
//! a single value, two values, infinities) go to `tests/python/kernel_parity.py`,
//! which answers with `numpy.quantile(valid, qs, method=m)` for all thirteen
//! methods and `numpy.digitize(valid, edges, right)` for several edge lists.
//! The quantiles `q` include 0, 1, every `i/n` and `i/(n-1)` (where the
//! methods land exactly on order statistics or on the steps of the empirical
//! CDF) and seeded random ones.
//!
//! `weft_kernels::quantiles_with` follows numpy's own formulas operation by
//! operation (virtual index, gamma, `_lerp`), so the results must be the
//! same f64 bit for bit, not merely close. Bins are integers and must be
//! equal; where a value is null or NaN, weft gives null (numpy would count
//! NaN past the last edge).

use std::process::Command;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use arrow::datatypes::Int64Type;
use serde_json::{json, Value};
use weft_fuzz::Rng;
use weft_kernels::QuantileMethod;
use weft_tests::*;

struct Dataset {
    name: &'static str,
    /// `None` is a null; NaN is a NaN.
    values: Vec<Option<f64>>,
    /// Hand the values to the kernels as an Int64 column.
    integers: bool,
    qs: Vec<f64>,
    edges: Vec<Vec<f64>>,
}

fn datasets() -> Vec<Dataset> {
    let mut rng = Rng::new(0x5eed_0013);
    let missing = |rng: &mut Rng, v: f64| match rng.below(12) {
        0 => None,
        1 => Some(f64::NAN),
        _ => Some(v),
    };
    let ties: Vec<_> = (0..120)
        .map(|_| {
            let v = (rng.below(11) as f64 - 5.0) * 0.5;
            missing(&mut rng, v)
        })
        .collect();
    let mut continuous: Vec<Option<f64>> = Vec::new();
    for _ in 0..97 {
        let v = match continuous.len() {
            n if n > 0 && rng.one_in(5) => continuous[rng.below(n)].unwrap_or(1.5),
            _ => (rng.below(2_000_001) as f64 - 1e6) / 1e3,
        };
        continuous.push(missing(&mut rng, v));
    }
    let integers: Vec<_> = (0..61)
        .map(|_| (!rng.one_in(9)).then(|| rng.below(50) as f64 - 25.0))
        .collect();
    let ten: Vec<_> = [7, 3, 10, 1, 9, 2, 8, 5, 4, 6]
        .map(|v| Some(f64::from(v)))
        .to_vec();
    let inf = f64::INFINITY;
    let infinite = [-inf, -2.0, 0.5, 7.0, inf, inf, -2.0].map(Some).to_vec();
    let sets = [
        ("ties", ties, false),
        ("continuous", continuous, false),
        ("integers", integers, true),
        ("ten", ten, false),
        ("single", vec![None, Some(3.75), Some(f64::NAN)], false),
        ("two", vec![Some(4.0), Some(-1.0)], false),
        ("infinite", infinite, false),
    ];
    sets.into_iter()
        .map(|(name, values, integers)| Dataset {
            name,
            qs: qs(&values, &mut rng),
            edges: edges(&values),
            values,
            integers,
        })
        .collect()
}

fn valid(values: &[Option<f64>]) -> Vec<f64> {
    values
        .iter()
        .flatten()
        .copied()
        .filter(|v| !v.is_nan())
        .collect()
}

/// 0, 1, halves, quarters, eighths, thirds, every `i/n` and `i/(n-1)`
/// for the `n` valid values, and 20 seeded ones.
fn qs(values: &[Option<f64>], rng: &mut Rng) -> Vec<f64> {
    let n = valid(values).len();
    let mut qs = vec![
        0.0, 1.0, 0.5, 0.25, 0.75, 0.1, 0.9, 0.01, 0.99, 0.001, 0.999,
    ];
    qs.extend([1.0 / 3.0, 2.0 / 3.0, 0.125, 0.375, 0.625, 0.875]);
    for d in [n, n.saturating_sub(1)].into_iter().filter(|d| *d > 0) {
        qs.extend((0..=d).map(|i| i as f64 / d as f64));
    }
    qs.extend((0..20).map(|_| rng.below(1_000_001) as f64 / 1e6));
    qs
}

/// Fixed edges (one repeated), a single edge, edges on data values, and
/// infinite outer edges.
fn edges(values: &[Option<f64>]) -> Vec<Vec<f64>> {
    let mut sorted = valid(values);
    sorted.sort_by(f64::total_cmp);
    let mut on_data: Vec<f64> = (0..5).map(|k| sorted[k * (sorted.len() - 1) / 4]).collect();
    on_data.dedup();
    let inf = f64::INFINITY;
    vec![
        vec![-2.0, -0.5, 0.0, 0.0, 1.5, 2.5],
        vec![0.5],
        on_data,
        vec![-inf, 0.0, inf],
    ]
}

/// A float as JSON: a number, or "nan", "inf", "-inf".
fn encode(v: f64) -> Value {
    match v {
        v if v.is_nan() => json!("nan"),
        v if v.is_infinite() => json!(if v > 0.0 { "inf" } else { "-inf" }),
        v => json!(v),
    }
}

#[track_caller]
fn decode(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().expect("nan, inf or -inf"),
        v => v.as_f64().expect("a number"),
    }
}

/// numpy's answers for every data set, computed once per run.
fn numpy() -> &'static Value {
    static ANSWERS: OnceLock<Value> = OnceLock::new();
    ANSWERS.get_or_init(|| {
        let dir = scratch().join("kernel-parity");
        std::fs::create_dir_all(&dir).unwrap();
        let spec = json!({
            "methods": QuantileMethod::ALL.map(QuantileMethod::name),
            "datasets": datasets().iter().map(|d| json!({
                "name": d.name,
                "values": d.values.iter().map(|v| v.map_or(Value::Null, encode)).collect::<Vec<_>>(),
                "qs": d.qs,
                "edges": d.edges.iter().map(|e| e.iter().map(|x| encode(*x)).collect()).collect::<Vec<Vec<_>>>(),
            })).collect::<Vec<_>>(),
        });
        let (spec_path, out_path) = (dir.join("spec.json"), dir.join("numpy.json"));
        std::fs::write(&spec_path, serde_json::to_vec(&spec).unwrap()).unwrap();
        output(
            Command::new(python())
                .arg(workspace().join("tests/python/kernel_parity.py"))
                .arg(&spec_path)
                .arg(&out_path),
        );
        read_json(&out_path)
    })
}

/// The values as the kernels get them: two columns (halves), f64 or Int64.
fn columns(d: &Dataset) -> Vec<ArrayRef> {
    let (a, b) = d.values.split_at(d.values.len() / 2);
    let column = |part: &[Option<f64>]| -> ArrayRef {
        if d.integers {
            Arc::new(Int64Array::from_iter(
                part.iter().map(|v| v.map(|x| x as i64)),
            ))
        } else {
            Arc::new(Float64Array::from(part.to_vec()))
        }
    };
    vec![column(a), column(b)]
}

#[test]
fn quantiles_match_numpy_bit_for_bit() {
    let answers = numpy();
    let mut checked = 0;
    for (d, want) in datasets()
        .iter()
        .zip(answers["datasets"].as_array().unwrap())
    {
        assert_eq!(want["name"], d.name);
        let arrays = columns(d);
        let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
        for method in QuantileMethod::ALL {
            let got = weft_kernels::quantiles_with(&refs, &d.qs, method).unwrap();
            let want = want["quantiles"][method.name()].as_array().unwrap();
            assert_eq!(got.len(), want.len());
            for ((q, g), w) in d.qs.iter().zip(&got).zip(want) {
                let w = decode(w);
                assert!(
                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                    "{}: quantile {q} by {method}: weft {g:e}, numpy {} {w:e}",
                    d.name,
                    answers["numpy"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 5000, "only {checked} quantiles compared");
}

#[test]
fn digitize_matches_numpy() {
    let answers = numpy();
    for (d, want) in datasets()
        .iter()
        .zip(answers["datasets"].as_array().unwrap())
    {
        let x = Float64Array::from(d.values.clone());
        for case in want["digitize"].as_array().unwrap() {
            let edges = &d.edges[case["edges"].as_u64().unwrap() as usize];
            let right = case["right"].as_bool().unwrap();
            let got = weft_kernels::digitize(&x, edges, right).unwrap();
            let got: Vec<Option<i64>> = got.as_primitive::<Int64Type>().iter().collect();
            let want: Vec<Option<i64>> = case["bins"]
                .as_array()
                .unwrap()
                .iter()
                .map(Value::as_i64)
                .collect();
            assert_eq!(got, want, "{}: edges {edges:?}, right {right}", d.name);
        }
    }
}
