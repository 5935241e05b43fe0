//! `onnx-model`: score rows with a trained ONNX model. The host compiles
//! the model once per process and runs it natively (ONNX Runtime); the step
//! names the feature columns and turns the model's outputs into columns.
//!
//! ```yaml
//! - name: score
//!   plugin: onnx-model
//!   mounts: [{ path: models, as: /models }]
//!   config: { model: /models/churn.onnx, features: [tenure, charges], outputs: { probabilities: p } }
//! ```
//!
//! `features` fill the model's inputs in order: an input `[N, k]` takes `k`
//! columns, an input `[N]` one; nulls read as NaN, as scikit-learn, XGBoost
//! and LightGBM read a missing value. Each output `[N]` or `[N, 1]` becomes
//! one column named after it, an output `[N, C]` becomes `<name>_0` …
//! `<name>_{C-1}`: a skl2onnx classifier exported with `zipmap: False` gives
//! `label` and `probabilities_0`, `probabilities_1`, …. `outputs` picks
//! outputs and renames them (the default: every tensor output, under its
//! own name). An output never replaces an input column: rename it.
//!
//! The step fits nothing: it is stateless.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use weft_sdk::model::Model;
use weft_sdk::{log, Batch, Column, Meta, Result, Step, StepError, Transform};

/// `{"model": PATH, "features": [...], "outputs": {onnx_output: column}}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "onnx-model")]
pub struct Config {
    /// The model file as the step sees it, in a folder mounted into the
    /// step (`mounts`), e.g. `/models/churn.onnx`.
    model: String,
    /// Feature columns, in the order of the model's inputs.
    #[schemars(length(min = 1))]
    features: Vec<String>,
    /// The outputs to write and their column names, e.g. `{label:
    /// predicted, probabilities: p}`; default: every tensor output under
    /// its own name.
    #[serde(default)]
    outputs: Option<BTreeMap<String, String>>,
}

/// The step: its model, and which outputs it writes under which names.
pub struct OnnxModel {
    features: Vec<String>,
    model: Model,
    /// ONNX output names, in the model's order, and their column names.
    outputs: Vec<(String, String)>,
}

impl Step for OnnxModel {
    type Config = Config;
    type State = ();
    const META: Meta = Meta {
        name: "onnx-model",
        version: env!("CARGO_PKG_VERSION"),
        description: "Score rows with a trained ONNX model (skl2onnx, onnxmltools, networks), run by the host",
        stateful: false,
    };

    fn new(config: Config) -> Result<Self> {
        let model = Model::open(&config.model)?;
        check_features(&model, &config.features)?;
        let outputs = chosen(&model, config.outputs)?;
        Ok(OnnxModel {
            features: config.features,
            model,
            outputs,
        })
    }
}

/// The outputs to write: those `renames` names, else every tensor output.
fn chosen(
    model: &Model,
    renames: Option<BTreeMap<String, String>>,
) -> Result<Vec<(String, String)>> {
    let ports = model.outputs();
    let Some(mut renames) = renames else {
        for port in ports.iter().filter(|p| p.dtype.is_none()) {
            log::info(&format!(
                "skipping output {:?} ({}): not a tensor",
                port.name, port.onnx_type
            ));
        }
        return Ok(ports
            .into_iter()
            .filter(|p| p.dtype.is_some())
            .map(|p| (p.name.clone(), p.name))
            .collect());
    };
    let known: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
    if let Some(unknown) = renames.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(StepError::InvalidConfig(format!(
            "outputs: the model has no output {unknown:?}; its outputs are: {}",
            known.join(", ")
        )));
    }
    Ok(ports
        .iter()
        .filter_map(|p| {
            renames
                .remove(&p.name)
                .map(|column| (p.name.clone(), column))
        })
        .collect())
}

/// Whether `features` fill the model's inputs, where their widths are fixed.
fn check_features(model: &Model, features: &[String]) -> Result<()> {
    let inputs = model.inputs();
    let widths: Option<Vec<i64>> = inputs
        .iter()
        .map(|p| match p.shape.as_slice() {
            [_] => Some(1),
            [_, k] if *k > 0 => Some(*k),
            _ => None,
        })
        .collect();
    let Some(widths) = widths else { return Ok(()) };
    let wanted: i64 = widths.iter().sum();
    if wanted != features.len() as i64 {
        let shapes: Vec<String> = inputs
            .iter()
            .map(|p| format!("{:?} {}", p.name, p.onnx_type))
            .collect();
        return Err(StepError::InvalidConfig(format!(
            "features: the model takes {wanted} columns ({}), {} listed",
            shapes.join(", "),
            features.len()
        )));
    }
    Ok(())
}

impl Transform for OnnxModel {
    fn transform(&mut self, batch: &Batch) -> Result<Batch> {
        let features = self
            .features
            .iter()
            .map(|name| batch.numeric(name))
            .collect::<Result<Vec<_>>>()?;
        let names: Vec<&str> = self.outputs.iter().map(|(o, _)| o.as_str()).collect();
        let made = self
            .model
            .run(&features.iter().collect::<Vec<_>>(), &names)?;
        let mut columns: Vec<(String, Column)> = Vec::new();
        for ((output, name), group) in self.outputs.iter().zip(made) {
            let single = group.len() == 1;
            for (i, column) in group.into_iter().enumerate() {
                let column_name = if single {
                    name.clone()
                } else {
                    format!("{name}_{i}")
                };
                if batch.get(&column_name).is_some() {
                    return Err(StepError::InvalidConfig(format!(
                        "outputs: the model's output would replace the input column {column_name:?}; \
                         rename it, e.g. outputs: {{{output}: predicted}}"
                    )));
                }
                columns.push((column_name, column));
            }
        }
        let pairs: Vec<(&str, &Column)> = columns.iter().map(|(n, c)| (n.as_str(), c)).collect();
        batch.with_columns(&pairs)
    }
}

weft_sdk::export_transform!(OnnxModel);
