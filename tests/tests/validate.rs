//! `weft validate` runs what only the plugins can check: each step's
//! `configure` (a config the schema allows but the plugin refuses) and a
//! dry run of the step graph on the first rows of the input (columns that
//! are missing or of the wrong type as the batch flows through the steps).
//! Every failure is located at its step in the manifest; nothing is written.

use serde_json::json;
use weft_tests::*;

const FEATURES: [&str; 5] = ["age", "income", "plan=basic", "plan=enterprise", "plan=pro"];

/// A folder with the churn example's `train.csv` (2000 rows).
fn churn_dir() -> Workdir {
    let dir = Workdir::new();
    let data = workspace().join("examples/churn/data/train.csv");
    std::fs::copy(data, dir.join("train.csv")).unwrap();
    dir
}

/// The churn pipeline, then a logistic score over the one-hot columns and
/// classification metrics of it: steps that read columns fitted steps make.
fn scored(score_features: serde_json::Value, label: &str) -> Pipeline {
    churn_pipeline("median")
        .plugin("linear-model", &plugin("linear-model"))
        .plugin("metrics", &plugin("classification-metrics"))
        .step(
            "score",
            "linear-model",
            json!({ "features": score_features, "weights_file": "/models/model.json",
                    "link": "logistic", "output": "p" }),
            "needs: [encode], mounts: [{ path: models, as: /models }]",
        )
        .step(
            "metrics",
            "metrics",
            json!({ "label": label, "score": "p" }),
            "needs: [score]",
        )
}

/// `models/model.json`: a logistic model over [`FEATURES`].
fn with_model(dir: &Workdir) {
    let model =
        json!({ "features": FEATURES, "weights": [0.1, -0.2, 0.3, 0.0, -0.1], "intercept": 0.5 });
    dir.write("models/model.json", model.to_string());
}

#[test]
fn a_sound_pipeline_passes_and_names_its_output_columns() {
    let dir = churn_dir();
    with_model(&dir);
    let manifest = scored(json!(FEATURES), "churned").write(&dir, "pipeline.yaml");
    dir.validate(&manifest).ok().stdout_has(&[
        "ok (5 steps, 5 plugins; dry run on 1000 rows of",
        "plan=pro (Float64)",
        "p (Float64)",
    ]);
    assert_no_outputs(&dir.join("out"));
    // --rows bounds the sample; a file shorter than it is read whole.
    let all = dir.weft([
        "validate".as_ref(),
        "--rows".as_ref(),
        "5000".as_ref(),
        manifest.as_os_str(),
    ]);
    all.ok().stdout_has(&["dry run on 2000 rows"]);
}

#[test]
fn a_missing_or_mistyped_column_is_located_at_the_step_that_reads_it() {
    let dir = churn_dir();
    with_model(&dir);
    // (pipeline, the failing step, message)
    let cases = [
        (
            churn_pipeline("median").step("late", "scale", json!({ "columns": ["incme"], "method": "standard" }), "needs: [encode]"),
            "late",
            "step \"late\": fit failed in a dry run on the first 1000 rows of {train}: invalid input: no column \"incme\" in the input",
        ),
        (
            churn_pipeline("median").step("late", "scale", json!({ "columns": ["customer_id", "plan=pro", "churned"], "method": "standard" }), "needs: [fill]"),
            "late",
            "step \"late\": fit failed in a dry run on the first 1000 rows of {train}: invalid input: no column \"plan=pro\"",
        ),
        (
            scored(json!(FEATURES), "churn"),
            "metrics",
            "step \"metrics\": update failed in a dry run on the first 1000 rows of {train}: invalid input: no column \"churn\"",
        ),
    ];
    for (i, (pipeline, step, message)) in cases.into_iter().enumerate() {
        let manifest = pipeline.write(&dir, &format!("case{i}.yaml"));
        let message = message.replace("{train}", &dir.join("train.csv").display().to_string());
        let after = format!("name: {step}");
        assert_located(&dir.validate(&manifest), &manifest, &after, step, &message);
    }
    let text = churn_pipeline("median").step(
        "late",
        "scale",
        json!({ "columns": ["plan"], "method": "standard" }),
        "needs: [fill]",
    );
    let manifest = text.write(&dir, "typed.yaml");
    dir.validate(&manifest).failed().stderr_has(&[
        "step \"late\"",
        "column \"plan\" holds Text values; this step needs numbers",
    ]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn a_config_the_plugin_refuses_is_located_at_its_config_in_validate_and_run() {
    let dir = churn_dir();
    let manifest = scored(json!(FEATURES), "churned").write(&dir, "pipeline.yaml");
    let message = "step \"score\": plugin \"linear-model\" refuses its config: weights_file \"/models/model.json\" cannot be read";
    std::fs::create_dir(dir.join("models")).unwrap();
    assert_located(
        &dir.validate(&manifest),
        &manifest,
        "name: score",
        "config",
        message,
    );
    assert_located(
        &dir.run(&manifest, &[]),
        &manifest,
        "name: score",
        "config",
        message,
    );
    assert_no_outputs(&dir.join("out"));
    // A config the model file contradicts: the plugin, not the schema, knows.
    with_model(&dir);
    let swapped = ["income", "age", "plan=basic", "plan=enterprise", "plan=pro"];
    let manifest = scored(json!(swapped), "churned").write(&dir, "swapped.yaml");
    assert_located(
        &dir.validate(&manifest),
        &manifest,
        "name: score",
        "config",
        "step \"score\": plugin \"linear-model\" refuses its config: weights_file \"/models/model.json\" was trained on features",
    );
}

#[test]
fn with_no_rows_columns_fitted_steps_derive_are_flagged_as_sample_bound() {
    let dir = churn_dir();
    with_model(&dir);
    let manifest = scored(json!(FEATURES), "churned").write(&dir, "pipeline.yaml");
    let run = dir.weft([
        "validate".as_ref(),
        "--rows".as_ref(),
        "0".as_ref(),
        manifest.as_os_str(),
    ]);
    // With no rows, impute drops the columns it has nothing to learn from
    // (as scikit-learn does), so the scaler after it finds no "age".
    let message = format!(
        "step \"scale\": fit failed in a dry run on no rows of {} (its columns only): invalid input: no column \"age\"",
        dir.join("train.csv").display()
    );
    assert_located(&run, &manifest, "name: scale", "scale", &message);
    run.stderr_has(&["reflect the sample only: --rows widens it"]);
    assert_no_outputs(&dir.join("out"));
}
