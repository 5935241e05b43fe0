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
use weft_sdk::{log, shape, Batch, Column, Meta, Port, Result, Step, StepError, Transform};

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
    /// The outputs written, in the model's order.
    outputs: Vec<Output>,
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

/// An output to write: its name in the model, its column name, and whether
/// it is one column (`[N]`, `[N, 1]`) or numbered ones (`[N, C]`).
struct Output {
    onnx: String,
    column: String,
    shape: Vec<i64>,
}

/// The outputs to write: those `renames` names, else every tensor output.
fn chosen(model: &Model, renames: Option<BTreeMap<String, String>>) -> Result<Vec<Output>> {
    let ports = model.outputs();
    let output = |p: &Port, column: String| Output {
        onnx: p.name.clone(),
        column,
        shape: p.shape.clone(),
    };
    let Some(mut renames) = renames else {
        for port in ports.iter().filter(|p| p.dtype.is_none()) {
            log::info(&format!(
                "skipping output {:?} ({}): not a tensor",
                port.name, port.onnx_type
            ));
        }
        let tensors = ports.iter().filter(|p| p.dtype.is_some());
        return Ok(tensors.map(|p| output(p, p.name.clone())).collect());
    };
    let known: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
    if let Some(unknown) = renames.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(StepError::InvalidConfig(format!(
            "outputs: the model has no output {unknown:?}; its outputs are: {}",
            known.join(", ")
        )));
    }
    if let Some(p) = ports
        .iter()
        .find(|p| p.dtype.is_none() && renames.contains_key(&p.name))
    {
        return Err(StepError::InvalidConfig(format!(
            "outputs: {:?} is {}, not a tensor: export the model without it (skl2onnx: \
             options={{'zipmap': False}})",
            p.name, p.onnx_type
        )));
    }
    let mut columns: Vec<&String> = renames.values().collect();
    columns.sort();
    if let Some(twice) = columns.windows(2).find(|w| w[0] == w[1]) {
        return Err(StepError::InvalidConfig(format!(
            "outputs: two outputs would both be written as {:?}",
            twice[0]
        )));
    }
    Ok(ports
        .iter()
        .filter_map(|p| renames.remove(&p.name).map(|column| output(p, column)))
        .collect())
}

/// Whether `features` fill the model's inputs, where their widths are fixed.
fn check_features(model: &Model, features: &[String]) -> Result<()> {
    let inputs = model.inputs();
    let widths: Option<Vec<usize>> = inputs
        .iter()
        .map(|p| shape::input_width(&p.shape))
        .collect();
    let Some(widths) = widths else { return Ok(()) };
    let wanted: usize = widths.iter().sum();
    if wanted != features.len() {
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
        let names: Vec<&str> = self.outputs.iter().map(|o| o.onnx.as_str()).collect();
        let made = self
            .model
            .run(&features.iter().collect::<Vec<_>>(), &names)?;
        let mut columns: Vec<(String, Column)> = Vec::new();
        for (output, group) in self.outputs.iter().zip(made) {
            let count = group.len();
            for (i, column) in group.into_iter().enumerate() {
                let name = shape::column_name(&output.column, &output.shape, i, count);
                if batch.get(&name).is_some() || columns.iter().any(|(n, _)| *n == name) {
                    return Err(StepError::InvalidConfig(format!(
                        "outputs: the model's output {:?} would replace the column {name:?}; \
                         rename it, e.g. outputs: {{{}: predicted}}",
                        output.onnx, output.onnx
                    )));
                }
                columns.push((name, column));
            }
        }
        let pairs: Vec<(&str, &Column)> = columns.iter().map(|(n, c)| (n.as_str(), c)).collect();
        batch.with_columns(&pairs)
    }
}

weft_sdk::export_transform!(OnnxModel);
