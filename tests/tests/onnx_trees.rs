//! weft's own tree-ensemble evaluator against ONNX Runtime, the reference
//! runtime, on random ensembles (`tests/python/random_trees.py`): every
//! comparison mode, missing-value direction, node order, post transform,
//! aggregate function and base value layout, on inputs with NaNs and
//! values on the thresholds. Every case weft's evaluator takes must give
//! ONNX Runtime's labels and, within 1e-5, its scores; the shapes it
//! refuses run on ONNX Runtime, and most cases must not be refused.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, AsArray, Float32Array};
use arrow::datatypes::{Float32Type, Int64Type};
use weft_models::Models;
use weft_tests::*;

const CASES: usize = 300;
const FEATURES: usize = 5;

/// The random ensembles, their inputs and ONNX Runtime's outputs, made once.
fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("random-trees");
        let _ = std::fs::remove_dir_all(&dir);
        let count = CASES.to_string();
        let args = [
            "--count".as_ref(),
            count.as_ref(),
            "--out".as_ref(),
            dir.as_os_str(),
        ];
        python_fixture("random_trees.py", &args);
        dir
    })
}

fn le<const N: usize, T>(path: &Path, read: fn([u8; N]) -> T) -> Option<Vec<T>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        bytes
            .chunks_exact(N)
            .map(|c| read(c.try_into().unwrap()))
            .collect(),
    )
}

/// Case `i`'s feature columns.
fn features(dir: &Path, i: usize) -> Vec<ArrayRef> {
    let x = le(&dir.join(format!("{i}.x")), f32::from_le_bytes).unwrap();
    (0..FEATURES)
        .map(|j| {
            let column: Float32Array = x.iter().skip(j).step_by(FEATURES).copied().collect();
            Arc::new(column) as ArrayRef
        })
        .collect()
}

/// What is wrong with weft's outputs of case `i`, if anything.
fn mismatches(dir: &Path, i: usize, made: &[Vec<ArrayRef>]) -> Vec<String> {
    let z = le(&dir.join(format!("{i}.z")), f32::from_le_bytes).unwrap();
    let label = le(&dir.join(format!("{i}.label")), i64::from_le_bytes);
    let scores = made.last().unwrap();
    let width = scores.len();
    let mut wrong = Vec::new();
    for (c, column) in scores.iter().enumerate() {
        let got = column.as_primitive::<Float32Type>();
        for r in 0..got.len() {
            let (g, w) = (got.value(r), z[r * width + c]);
            let close = (g - w).abs() <= 1e-5 * w.abs().max(1.0) || (g.is_nan() && w.is_nan());
            if !close {
                wrong.push(format!("row {r} score {c}: {g}, ONNX Runtime {w}"));
            }
        }
    }
    if let Some(label) = label {
        let got = made[0][0].as_primitive::<Int64Type>();
        for (r, want) in label.iter().enumerate() {
            if got.value(r) != *want {
                wrong.push(format!(
                    "row {r} label: {}, ONNX Runtime {want}",
                    got.value(r)
                ));
            }
        }
    }
    wrong
}

#[test]
fn random_tree_ensembles_score_as_onnx_runtime_does() {
    let dir = fixture();
    use_test_onnxruntime();
    let models = Models::default();
    let (mut native, mut refused, mut wrong) = (0, 0, Vec::new());
    for i in 0..CASES {
        let Ok(bytes) = std::fs::read(dir.join(format!("{i}.onnx"))) else {
            continue;
        };
        let model = models.load(bytes).unwrap();
        let wanted: Vec<String> = model.outputs().iter().map(|p| p.name.clone()).collect();
        let (made, ran) = model
            .run(&features(dir, i), &wanted, u64::MAX, None, None)
            .unwrap();
        if !ran.trees {
            refused += 1;
            continue;
        }
        native += 1;
        let bad = mismatches(dir, i, &made);
        if !bad.is_empty() {
            wrong.push(format!(
                "case {i}: {} wrong, e.g. {:?}",
                bad.len(),
                &bad[..bad.len().min(3)]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        native >= 3 * refused,
        "weft's evaluator took {native} cases and left {refused} to ONNX Runtime"
    );
}

/// Ensembles with bytes flipped at random: whatever ONNX Runtime still
/// loads, weft's graph reader and planners take or refuse, and the run
/// scores or errs, without a panic.
#[test]
fn mutated_ensembles_load_and_run_or_are_refused() {
    let dir = fixture();
    use_test_onnxruntime();
    let models = Models::default();
    let mut rng = weft_fuzz::Rng::new(0x9e37_79b9_7f4a_7c15);
    let (mut loaded, mut tried) = (0, 0);
    for i in 0..60 {
        let Ok(bytes) = std::fs::read(dir.join(format!("{i}.onnx"))) else {
            continue;
        };
        for _ in 0..20 {
            let mut mutant = bytes.clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(mutant.len());
                mutant[at] ^= 1 << rng.below(8);
            }
            tried += 1;
            let Ok(model) = models.load(mutant) else {
                continue;
            };
            loaded += 1;
            let wanted: Vec<String> = model.outputs().iter().map(|p| p.name.clone()).collect();
            let _ = model.run(&features(dir, i), &wanted, u64::MAX, None, None);
        }
    }
    assert!(
        loaded > 0 && loaded < tried,
        "{loaded} of {tried} mutants loaded"
    );
}
