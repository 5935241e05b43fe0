//! Expected values worked out by hand from numpy's definitions (see the
//! parent module); the comments show the virtual index and gamma.

use super::*;
use arrow::array::{Float32Array, Float64Array, Int64Array};
use QuantileMethod::*;

fn q(values: &[f64], qs: &[f64], method: QuantileMethod) -> Vec<f64> {
    quantiles_with(&[&Float64Array::from(values.to_vec())], qs, method).unwrap()
}

#[test]
fn every_method_at_a_quarter_of_four_values() {
    // v = [1, 2, 3, 4], n = 4, q = 0.25.
    let expected = [
        // n*q - 1 = 0, gamma 0: keep index 0.
        (InvertedCdf, 1.0),
        // n*q - 1 = 0, gamma 0 -> 0.5: halfway between v[0] and v[1].
        (AveragedInvertedCdf, 1.5),
        // n*q - 1.5 = -0.5, gamma 0.5: next index 0.
        (ClosestObservation, 1.0),
        // n*q + 0 - 1 = 0.
        (InterpolatedInvertedCdf, 1.0),
        // n*q + 0.5 - 1 = 0.5.
        (Hazen, 1.5),
        // n*q + q - 1 = 0.25.
        (Weibull, 1.25),
        // (n-1)*q = 0.75.
        (Linear, 1.75),
        // n*q + 3/8 + q/4 - 1 = 0.4375.
        (NormalUnbiased, 1.4375),
        // floor(0.75) = 0, ceil(0.75) = 1, round(0.75) = 1.
        (Lower, 1.0),
        (Higher, 2.0),
        (Nearest, 2.0),
        // 0.5 * (0 + 1) = 0.5, not whole: gamma 0.5.
        (Midpoint, 1.5),
    ];
    for (method, want) in expected {
        assert_eq!(
            q(&[4.0, 1.0, 3.0, 2.0], &[0.25], method),
            [want],
            "{method}"
        );
    }
    // n*q + 1/3 + q/3 - 1 = 5/12, with rounding in the thirds.
    let m = q(&[1.0, 2.0, 3.0, 4.0], &[0.25], MedianUnbiased)[0];
    assert!((m - (1.0 + 5.0 / 12.0)).abs() < 1e-15, "{m}");
}

#[test]
fn ends_clamp_to_the_extremes() {
    for method in QuantileMethod::ALL {
        assert_eq!(
            q(&[3.0, -2.0, 7.5, 1.0], &[0.0, 1.0], method),
            [-2.0, 7.5],
            "{method}"
        );
    }
}

#[test]
fn averaged_inverted_cdf_averages_where_the_cdf_steps() {
    // v = [1, 2, 2, 5]: q = 0.5 -> index 1, gamma 0 -> 0.5: (2 + 2) / 2;
    // q = 0.75 -> index 2: (2 + 5) / 2; q = 0.6 -> 1.4, gamma 1: v[2].
    let v = [5.0, 2.0, 1.0, 2.0];
    assert_eq!(
        q(&v, &[0.5, 0.75, 0.6], AveragedInvertedCdf),
        [2.0, 3.5, 2.0]
    );
    // inverted_cdf keeps the lower value at the step: v[1], v[2], v[2].
    assert_eq!(q(&v, &[0.5, 0.75, 0.6], InvertedCdf), [2.0, 2.0, 2.0]);
}

#[test]
fn nearest_rounds_half_to_even() {
    // v = [1..5], (n-1)*q = 0.5, 1.5, 2.5 -> indexes 0, 2, 2.
    let v = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(q(&v, &[0.125, 0.375, 0.625], Nearest), [1.0, 3.0, 3.0]);
}

#[test]
fn closest_observation_prefers_odd_indexes_on_ties() {
    // v = [1, 2, 3, 4]: q = 0.375 -> 1.5 - 1.5 = 0, gamma 0, floor 0 even:
    // next index 1; q = 0.625 -> 1, gamma 0, floor 1 odd: keep 1.
    let v = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(q(&v, &[0.375, 0.625], ClosestObservation), [2.0, 2.0]);
}

#[test]
fn midpoint_of_a_whole_index_is_that_value() {
    // v = [1, 2, 3, 4, 5], (n-1)*q = 2: floor = ceil = 2, gamma 0.
    assert_eq!(q(&[1.0, 2.0, 3.0, 4.0, 5.0], &[0.5], Midpoint), [3.0]);
}

#[test]
fn a_single_value_is_every_quantile() {
    for method in QuantileMethod::ALL {
        assert_eq!(q(&[4.5], &[0.0, 0.3, 1.0], method), [4.5; 3], "{method}");
    }
}

#[test]
fn nulls_and_nan_are_skipped_across_columns_and_types() {
    let a = Float64Array::from(vec![Some(4.0), None, Some(f64::NAN)]);
    let b = Float32Array::from(vec![Some(1.0), Some(f32::NAN)]);
    let c = Int64Array::from(vec![Some(3), None, Some(2)]);
    let got = quantiles_with(&[&a, &b, &c], &[0.5], AveragedInvertedCdf).unwrap();
    // v = [1, 2, 3, 4]: index 1, gamma 0.5 -> 2.5.
    assert_eq!(got, [2.5]);
}

#[test]
fn no_values_give_nan() {
    let a = Float64Array::from(vec![None, Some(f64::NAN)]);
    let got = quantiles_with(&[&a], &[0.0, 0.5], InvertedCdf).unwrap();
    assert!(got.iter().all(|v| v.is_nan()) && got.len() == 2);
}

#[test]
fn q_outside_the_unit_interval_is_an_error() {
    let a = Float64Array::from(vec![1.0]);
    for bad in [-0.1, 1.5, f64::NAN] {
        let err = quantiles_with(&[&a], &[0.5, bad], Hazen).unwrap_err();
        assert!(err.to_string().contains("outside [0, 1]"), "{err}");
    }
}

#[test]
fn linear_matches_numpy_default() {
    // numpy.percentile([1, 2, 3, 4, 10], [0, 25, 50, 90, 100]) == [1, 2, 3, 7.6, 10]
    let a = Float64Array::from(vec![4.0, 1.0, 10.0, 3.0, 2.0]);
    let got = quantiles(&[&a], &[0.0, 0.25, 0.5, 0.9, 1.0]).unwrap();
    assert_eq!(got[..3], [1.0, 2.0, 3.0]);
    assert!((got[3] - 7.6).abs() < 1e-12);
    assert_eq!(got[4], 10.0);
}

#[test]
fn text_is_refused() {
    let a = arrow::array::StringArray::from(vec!["x"]);
    assert!(quantiles_with(&[&a], &[0.5], Linear).is_err());
}

#[test]
fn selecting_order_statistics_equals_a_full_sort() {
    // Ties, signed zeros and a spread of sizes, for every method and a few
    // qs at once (and more than SELECT_AT_MOST, which sorts).
    let mut seed = 7u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % 50) as f64 - 25.0
    };
    let many: Vec<f64> = (0..=40).map(|i| f64::from(i) / 40.0).collect();
    for n in [1, 2, 3, 10, 101, 1000] {
        let values: Vec<f64> = (0..n).map(|_| next()).collect();
        let mut sorted = values.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        let column = Float64Array::from(values);
        for method in QuantileMethod::ALL {
            for qs in [&[0.5][..], &[0.0, 0.25, 0.5, 0.75, 1.0], &many] {
                let got = quantiles_with(&[&column], qs, method).unwrap();
                let want: Vec<f64> = qs
                    .iter()
                    .map(|q| quantile(sorted.as_slice(), *q, method))
                    .collect();
                assert_eq!(got, want, "n {n}, {method:?}, qs {qs:?}");
            }
        }
    }
}

#[test]
fn quantiles_past_the_copy_bound_equal_a_full_sort() {
    // Enough rows that the order statistics are selected where they lie,
    // across two columns of different types with nulls and NaN skipped.
    let n = radix::COPY_AT_MOST + 5;
    let floats: Vec<Option<f64>> = (0..n)
        .map(|i| match i % 97 {
            0 => None,
            1 => Some(f64::NAN),
            _ => Some(((i * 7919) % 1013) as f64 / 8.0 - 60.0),
        })
        .collect();
    let ints: Vec<i64> = (0..1000).map(|i| (i * 31) % 211 - 100).collect();
    let mut sorted: Vec<f64> = floats
        .iter()
        .flatten()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    sorted.extend(ints.iter().map(|&v| v as f64));
    sorted.sort_unstable_by(f64::total_cmp);
    let (floats, ints) = (Float64Array::from(floats), Int64Array::from(ints));
    let qs = [0.0, 0.1, 0.25, 0.5, 0.75, 0.999, 1.0];
    for method in QuantileMethod::ALL {
        let got = quantiles_with(&[&floats, &ints], &qs, method).unwrap();
        let want: Vec<f64> = qs
            .iter()
            .map(|q| quantile(sorted.as_slice(), *q, method))
            .collect();
        assert_eq!(got, want, "{method:?}");
    }
    let nothing = Float64Array::from(vec![None; n]);
    let got = quantiles_with(&[&nothing], &qs, Linear).unwrap();
    assert!(got.iter().all(|v| v.is_nan()), "{got:?}");
}
