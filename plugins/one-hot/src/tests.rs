//! Native tests: expected values worked out by hand, run through the SDK's
//! [`Harness`] as the host runs the step: fit, state as bytes, fresh
//! instances that load it and transform.

use super::*;
use weft_sdk::testing::{batch, Harness};

/// A text column; "" is a null.
fn text(v: &[&str]) -> Column {
    let valid: Vec<bool> = v.iter().map(|s| !s.is_empty()).collect();
    Column::from_strings(
        &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        Some(&valid),
    )
}

fn harness(policy: &str) -> Harness<OneHot> {
    Harness::new(serde_json::json!({"columns": ["c"], "handle_unknown": policy}))
}

/// A batch of `c` between two columns that pass through.
fn around(c: &[&str]) -> Batch {
    let other: Vec<&str> = c.iter().map(|_| "1").collect();
    batch(&[("a", &text(&other)), ("c", &text(c)), ("z", &text(&other))])
}

#[test]
fn sorted_categories_replace_the_column_in_place_on_two_workers() {
    let fit = [around(&["b", "a"]), around(&[""]), around(&["b"])];
    let out = harness("error")
        .transform(&fit, &[around(&["a", ""]), around(&["b"])], 2)
        .unwrap();
    assert_eq!(out[0].column_names(), ["a", "c=a", "c=b", "c=null", "z"]);
    assert_eq!(out[0].f64s("c=a").unwrap(), [1.0, 0.0]);
    assert_eq!(out[0].f64s("c=null").unwrap(), [0.0, 1.0]);
    assert_eq!(out[1].f64s("c=b").unwrap(), [1.0]);
    assert_eq!(out[1].f64s("c=a").unwrap(), [0.0]);
}

#[test]
fn unknown_values_error_or_zero() {
    let (fit, probe) = (
        [batch(&[("c", &text(&["a"]))])],
        [batch(&[("c", &text(&["zz"]))])],
    );
    let Err(err) = harness("error").transform(&fit, &probe, 1) else {
        panic!("an unknown value was encoded");
    };
    let err = err.to_string();
    assert!(
        err.contains("\"c\"") && err.contains("zz") && err.contains("known categories: a"),
        "{err}"
    );
    let out = harness("ignore").transform(&fit, &probe, 1).unwrap();
    assert_eq!(out[0].f64s("c=a").unwrap(), [0.0]);
}

#[test]
fn shard_merge_is_the_sorted_union_bit_for_bit() {
    let data = [around(&["c", "a"]), around(&["b", "a"]), around(&["", "c"])];
    let h = harness("error");
    let (whole, merged) = (
        h.fit(&data).unwrap(),
        h.fit_shards(&[&data[..1], &data[1..]]).unwrap(),
    );
    let state = h.state_of(&merged).unwrap();
    let seen: Vec<(String, u64)> = state[0].iter().map(|(v, n)| (v.to_string(), *n)).collect();
    let want = [("a", 2), ("b", 1), ("c", 2), ("null", 1)].map(|(v, n)| (v.to_string(), n));
    assert_eq!(seen, want);
    // Categories and counts merge exactly: the same state, the same output.
    assert_eq!(merged, whole);
    let probe = around(&["c", "", "a"]);
    let encoded = |state: &[u8]| {
        let out = h.loaded(state).unwrap().transform(&probe).unwrap();
        let hot: Vec<String> = out
            .column_names()
            .into_iter()
            .filter(|n| n.starts_with("c="))
            .collect();
        let bits: Vec<Vec<u64>> = hot
            .iter()
            .map(|n| out.f64s(n).unwrap().iter().map(|x| x.to_bits()).collect())
            .collect();
        (hot, bits)
    };
    assert_eq!(encoded(&merged), encoded(&whole));
}

#[test]
fn indicators_take_the_type_asked() {
    let data = [around(&["b", "a", "b"])];
    for (dtype, want) in [
        ("float64", weft_sdk::Dtype::F64),
        ("float32", weft_sdk::Dtype::F32),
        ("uint8", weft_sdk::Dtype::S64),
        ("bool", weft_sdk::Dtype::Boolean),
    ] {
        let config = serde_json::json!({"columns": ["c"], "dtype": dtype});
        let out = Harness::<OneHot>::new(config).run(&data, 1).unwrap();
        let b = out[0].column("c=b").unwrap();
        assert_eq!(b.dtype(), want, "{dtype}");
        match want {
            weft_sdk::Dtype::Boolean => assert_eq!(b.to_bools().unwrap(), [true, false, true]),
            _ => assert_eq!(b.to_f64s().unwrap(), [1.0, 0.0, 1.0], "{dtype}"),
        }
    }
}
