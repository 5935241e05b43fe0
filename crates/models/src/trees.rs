//! weft's own evaluator of tree ensembles: a model that is one
//! `TreeEnsembleClassifier` or `TreeEnsembleRegressor` (`ai.onnx.ml`) on
//! one float input `[N, k]`, with at most `Identity`s, `Cast`s that change
//! nothing and one `Mul` by a constant around it, as skl2onnx and
//! onnxmltools export forests and boosted trees, runs here instead of on
//! ONNX Runtime, with its results. Anything else, or any attribute this
//! module does not implement, is left to ONNX Runtime.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float32Array, Int64Array};

use crate::ensemble::{self, Ensemble};
use crate::graph::{Graph, Op};
use crate::model::Port;
use crate::scores::{Aggregate, Head, Kind, Post};
use crate::{tensor, ModelError};

/// Rows walked through every tree before the next block.
const BLOCK: usize = 64;
/// `TensorProto.DataType.INT64`.
const INT64: i64 = 7;

/// A tree-ensemble model, ready to run.
#[derive(Debug)]
pub(crate) struct Trees {
    ensemble: Ensemble,
    head: Head,
    /// Features per row.
    k: usize,
    /// What each graph output is.
    outputs: HashMap<String, Output>,
}

/// A graph output: the label, or the scores (times a constant).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Output {
    Label,
    Scores(Option<f32>),
}

/// A value of the graph, as far as the plan follows it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Features,
    Label,
    /// The scores, multiplied by a constant when one is given.
    Scores(Option<f32>),
}

/// The plan for `graph`, whose inputs ONNX Runtime reads as `ports`; `Err`
/// says why the model is left to ONNX Runtime.
pub(crate) fn plan(graph: &Graph<'_>, ports: &[Port]) -> Result<Trees, String> {
    let (input, k) = crate::dense::feature_input(graph, ports)?;
    let mut values = HashMap::from([(input, Value::Features)]);
    let mut found = None;
    for op in &graph.ops {
        let from = |i: usize| op.inputs.get(i).and_then(|name| values.get(name)).copied();
        let named = format!("node {:?} ({})", op.node.name, op.node.op_type);
        let made = match (op.node.domain.as_str(), op.node.op_type.as_str(), from(0)) {
            (
                "ai.onnx.ml",
                "TreeEnsembleClassifier" | "TreeEnsembleRegressor",
                Some(Value::Features),
            ) if found.is_none() => {
                found = Some(read(op, k).map_err(|why| format!("{named}: {why}"))?);
                let regressor = op.node.op_type == "TreeEnsembleRegressor";
                match regressor {
                    true => vec![Value::Scores(None)],
                    false => vec![Value::Label, Value::Scores(None)],
                }
            }
            ("ai.onnx", "Identity", Some(value)) => vec![value],
            ("ai.onnx", "Cast", Some(value @ (Value::Features | Value::Scores(_))))
                if op.int("to", 0) == crate::graph::FLOAT =>
            {
                vec![value]
            }
            ("ai.onnx", "Cast", Some(Value::Label)) if op.int("to", 0) == INT64 => {
                vec![Value::Label]
            }
            ("ai.onnx", "Mul", _) => vec![scaled(graph, op, &values).ok_or(named)?],
            _ => return Err(format!("{named} is not part of a tree ensemble weft runs")),
        };
        if op.outputs.len() != made.len() {
            return Err(format!(
                "node {:?} has {} outputs",
                op.node.name,
                op.outputs.len()
            ));
        }
        values.extend(op.outputs.iter().cloned().zip(made));
    }
    let (ensemble, head) = found.ok_or("it has no tree ensemble")?;
    let mut outputs = HashMap::new();
    for output in &graph.outputs {
        let made = match values.get(&output.name) {
            Some(Value::Label) => Output::Label,
            Some(Value::Scores(factor)) => Output::Scores(*factor),
            _ => return Err(format!("output {:?} is not the ensemble's", output.name)),
        };
        outputs.insert(output.name.clone(), made);
    }
    Ok(Trees {
        ensemble,
        head,
        k,
        outputs,
    })
}

/// What `op`, a `Mul`, makes: the scores (not yet scaled) times a
/// scalar float constant.
fn scaled(graph: &Graph<'_>, op: &Op<'_>, values: &HashMap<String, Value>) -> Option<Value> {
    let [a, b] = op.inputs.as_slice() else {
        return None;
    };
    let scores = Some(&Value::Scores(None));
    let constant = match (values.get(a) == scores, values.get(b) == scores) {
        (true, false) => b,
        (false, true) => a,
        _ => return None,
    };
    let (dims, factor) = graph.initializer(constant)?.floats()?;
    match factor.as_slice() {
        [factor] if dims.len() <= 2 => Some(Value::Scores(Some(*factor))),
        _ => None,
    }
}

/// The trees and what they make, from the ensemble node `op`.
fn read(op: &Op<'_>, k: usize) -> Result<(Ensemble, Head), String> {
    let text = |name: &str, default: &str| {
        op.attribute(name)
            .and_then(|a| a.s.clone())
            .unwrap_or_else(|| default.to_owned())
    };
    let post = match text("post_transform", "NONE").as_str() {
        "NONE" => Post::None,
        "LOGISTIC" => Post::Logistic,
        "SOFTMAX" => Post::Softmax,
        "SOFTMAX_ZERO" => Post::SoftmaxZero,
        // ONNX Runtime's approximate inverse erf: not matched within 1e-5.
        other => return Err(format!("post_transform {other:?}")),
    };
    let base = ensemble::floats(op, "base_values")?;
    let (kind, width, prefix) = match op.node.op_type.as_str() {
        "TreeEnsembleRegressor" => {
            let aggregate = match text("aggregate_function", "SUM").as_str() {
                "SUM" => Aggregate::Sum,
                "AVERAGE" => Aggregate::Average,
                "MIN" => Aggregate::Min,
                "MAX" => Aggregate::Max,
                other => return Err(format!("aggregate_function {other:?}")),
            };
            let width = usize::try_from(op.int("n_targets", 0)).unwrap_or(0);
            (Kind::Regressor(aggregate), width, "target")
        }
        _ => {
            let kind = classes(op, &base)?;
            let Kind::Classifier { labels, .. } = &kind else {
                return Err("not a classifier".into());
            };
            let width = labels.len();
            (kind, width, "class")
        }
    };
    if !(1..=tensor::MAX_OUTPUT_COLUMNS as usize).contains(&width) {
        return Err(format!("{width} targets or classes"));
    }
    let ensemble = Ensemble::read(op, prefix, width, k)?;
    let trees = ensemble.trees.len();
    Ok((
        ensemble,
        Head {
            kind,
            width,
            post,
            base,
            trees,
        },
    ))
}

/// A classifier's labels and its two-class case, refused where ONNX
/// Runtime would leave an output unwritten.
fn classes(op: &Op<'_>, base: &[f32]) -> Result<Kind, String> {
    if op
        .attribute("classlabels_strings")
        .is_some_and(|a| !a.strings.is_empty())
    {
        return Err("its class labels are strings".into());
    }
    let labels = op
        .attribute("classlabels_int64s")
        .map_or_else(Vec::new, |a| a.ints.clone());
    let ids = op.attribute("class_ids").map_or(&[][..], |a| &a.ints);
    let weights = ensemble::floats(op, "class_weights")?;
    let mut named: Vec<i64> = ids.to_vec();
    named.sort_unstable();
    named.dedup();
    let binary = labels.len() == 2 && named.len() == 1;
    let positive = !weights.iter().any(|&w| w < 0.0);
    if labels.len() < 2 || base.len() > labels.len() {
        return Err(format!(
            "{} classes, {} base values",
            labels.len(),
            base.len()
        ));
    }
    if labels.len() == 2 && base.len() == 1 && !binary {
        return Err("two classes, two weight columns and one base value".into());
    }
    Ok(Kind::Classifier {
        labels,
        binary,
        positive,
    })
}

impl Trees {
    /// The columns of `ports` for the `rows` rows of `x` (row-major, `k`
    /// features each), refused past `budget` bytes, stopped past `deadline`.
    pub fn run(
        &self,
        x: &[f32],
        rows: usize,
        ports: &[&Port],
        budget: u64,
        deadline: Option<Instant>,
    ) -> Result<Vec<Vec<ArrayRef>>, ModelError> {
        let width = self.head.width;
        let mut left = budget;
        for port in ports {
            left -= match self.output(port)? {
                Output::Label => tensor::room(port, &[rows as i64], 8, left)?,
                Output::Scores(_) => tensor::room(port, &[rows as i64, width as i64], 4, left)?,
            };
        }
        let (labels, scores) = self.score(x, rows, deadline)?;
        ports
            .iter()
            .map(|port| {
                Ok(match self.output(port)? {
                    Output::Label => vec![Arc::new(Int64Array::from(labels.clone())) as ArrayRef],
                    Output::Scores(factor) => scores
                        .iter()
                        .map(|column| {
                            let values = match factor {
                                Some(f) => column.iter().map(|v| v * f).collect(),
                                None => column.clone(),
                            };
                            Arc::new(Float32Array::from(values)) as ArrayRef
                        })
                        .collect(),
                })
            })
            .collect()
    }

    fn output(&self, port: &Port) -> Result<Output, ModelError> {
        self.outputs
            .get(&port.name)
            .copied()
            .ok_or_else(|| ModelError::Output(format!("output {:?} was not computed", port.name)))
    }

    /// Each row's label and its scores, one column per target or class.
    #[allow(clippy::type_complexity)]
    fn score(
        &self,
        x: &[f32],
        rows: usize,
        deadline: Option<Instant>,
    ) -> Result<(Vec<i64>, Vec<Vec<f32>>), ModelError> {
        let (k, width) = (self.k, self.head.width);
        let mut labels = Vec::with_capacity(rows);
        let mut columns = vec![Vec::with_capacity(rows); width];
        let mut at = [0u32; BLOCK];
        let mut sums = vec![0f32; BLOCK * width];
        let mut has = vec![false; BLOCK * width];
        let mut out = vec![0f32; width];
        // One weight column summed: the common case (boosting) without
        // the general per-class accumulation.
        let summed = self.head.sums_first();
        for start in (0..rows).step_by(BLOCK) {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(ModelError::Deadline);
            }
            let n = BLOCK.min(rows - start);
            let block = &x[start * k..(start + n) * k];
            sums.fill(0.0);
            has.fill(false);
            for &tree in &self.ensemble.trees {
                self.ensemble.walk(tree, block, k, &mut at[..n]);
                if summed {
                    for (sum, &leaf) in sums[..n].iter_mut().zip(&at[..n]) {
                        *sum += self.ensemble.first(leaf);
                    }
                    continue;
                }
                for (row, &leaf) in at[..n].iter().enumerate() {
                    let span = row * width..(row + 1) * width;
                    let weights = self.ensemble.weights(leaf);
                    self.head
                        .add(&mut sums[span.clone()], &mut has[span], weights);
                }
            }
            if summed && !self.ensemble.trees.is_empty() {
                has[..n].fill(true);
            }
            for row in 0..n {
                let span = row * width..(row + 1) * width;
                let label = self
                    .head
                    .finish(&mut sums[span.clone()], &mut has[span], &mut out);
                labels.push(label);
                columns.iter_mut().zip(&out).for_each(|(c, &v)| c.push(v));
            }
        }
        Ok((labels, columns))
    }
}

#[cfg(test)]
#[path = "trees_tests.rs"]
mod tests;
