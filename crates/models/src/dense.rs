//! The dense layers at the head of a network (an optional `Scaler`, then
//! `MatMul`/`Gemm` with a bias and an activation, layer after layer), found
//! in the graph so that a GPU can run them; the nodes after them stay with
//! ONNX Runtime as a smaller model (the *tail*) reading their result.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use weft_gpu::{Activation, Device, GpuError, Layer};

use crate::graph::{Graph, Op};
use crate::model::Port;

/// A model's dense head, ready for a GPU.
pub(crate) struct Dense {
    /// `(x - offset) * scale` per feature, before the first layer.
    scaler: Option<(Vec<f32>, Vec<f32>)>,
    layers: Vec<Layer>,
    /// The value the last layer gives, and its width.
    pub boundary: String,
    pub width: usize,
    /// The model of the remaining nodes, when an output needs them.
    pub tail: Option<Vec<u8>>,
}

impl Dense {
    /// Where a model with this head runs, in words.
    pub fn describe(&self) -> String {
        let rest = match self.tail {
            Some(_) => ", the nodes after them on ONNX Runtime",
            None => "",
        };
        format!(
            "its {} dense layers on a GPU when the step's compute offers one (else ONNX Runtime){rest}",
            self.layers.len()
        )
    }

    /// The layers' result for `x` (rows × features, row-major) on `device`.
    pub fn run(
        &self,
        x: &[f32],
        device: &Device,
        max_bytes: u64,
        deadline: Option<Instant>,
    ) -> Result<Vec<f32>, GpuError> {
        let Some((offset, scale)) = &self.scaler else {
            return device.dense(x, &self.layers, max_bytes, deadline);
        };
        let k = self.layers[0].k;
        let at = |values: &[f32], j: usize| values[if values.len() == 1 { 0 } else { j % k }];
        let scaled: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(j, v)| (v - at(offset, j)) * at(scale, j))
            .collect();
        device.dense(&scaled, &self.layers, max_bytes, deadline)
    }
}

/// A `k × n` matrix, row-major, and its `n`.
type Weights = (Arc<[f32]>, usize);

/// Where the layer being read stands.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Product,
    Biased,
    Activated,
}

/// The walk from the model's input along its dense layers.
struct Walk<'g> {
    graph: &'g Graph<'g>,
    scaler: Option<(Vec<f32>, Vec<f32>)>,
    layers: Vec<Layer>,
    stage: Stage,
    width: usize,
    /// The nodes taken, in order.
    taken: Vec<usize>,
    /// How many taken nodes end at the boundary, which value that is, its width.
    cut: Option<(usize, String, usize)>,
    /// Weights read so far, by initializer and orientation: a matrix that
    /// several layers use is held (and sent to the device) once.
    read: HashMap<(String, bool), Weights>,
}

/// The dense head of `graph`, whose inputs ONNX Runtime reads as `ports`;
/// `Err` says why the model has none a GPU can run.
pub(crate) fn plan(graph: &Graph<'_>, ports: &[Port]) -> Result<Dense, String> {
    let (input, k) = feature_input(graph, ports)?;
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, op) in graph.ops.iter().enumerate() {
        for name in op.inputs.iter().filter(|n| !n.is_empty()) {
            consumers.entry(name).or_default().push(i);
        }
    }
    let outputs: HashSet<&str> = graph.outputs.iter().map(|o| o.name.as_str()).collect();
    let mut walk = Walk {
        graph,
        scaler: None,
        layers: Vec::new(),
        stage: Stage::Activated,
        width: k,
        taken: Vec::new(),
        cut: None,
        read: HashMap::new(),
    };
    let mut value = input.clone();
    while !outputs.contains(value.as_str()) {
        let Some(&[next]) = consumers.get(value.as_str()).map(Vec::as_slice) else {
            break;
        };
        match walk.take(next, &value) {
            Some(out) => value = out,
            None => break,
        }
    }
    let (count, boundary, width) = walk.cut.ok_or("its first node is no dense layer")?;
    let prefix = &walk.taken[..count];
    let tail = tail(graph, prefix, &input, &boundary, width)?;
    Ok(Dense {
        scaler: walk.scaler,
        layers: walk.layers,
        boundary,
        width,
        tail,
    })
}

/// The one input the model reads features from: f32 `[N, k]`, k fixed.
pub(crate) fn feature_input(graph: &Graph<'_>, ports: &[Port]) -> Result<(String, usize), String> {
    let fed: Vec<&str> = graph
        .inputs
        .iter()
        .map(|i| i.name.as_str())
        .filter(|name| graph.initializer(name).is_none())
        .collect();
    let [name] = fed.as_slice() else {
        return Err(format!("it has {} inputs, not one", fed.len()));
    };
    let port = ports.iter().find(|p| p.name == *name);
    match port.map(|p| (p.element, p.shape.as_slice())) {
        Some((Some(ort::value::TensorElementType::Float32), &[_, k])) if k > 0 => {
            Ok(((*name).to_owned(), k as usize))
        }
        _ => Err(format!("input {name:?} is not a float [N, k] tensor")),
    }
}

/// The model of the nodes after the dense head, when some output is not
/// the head's result; `Err` when they read a value inside the head.
fn tail(
    graph: &Graph<'_>,
    prefix: &[usize],
    input: &str,
    boundary: &str,
    width: usize,
) -> Result<Option<Vec<u8>>, String> {
    let mut inside: HashSet<&str> = prefix
        .iter()
        .flat_map(|&i| graph.ops[i].outputs.iter().map(String::as_str))
        .collect();
    inside.insert(input);
    inside.remove(boundary);
    let rest: Vec<usize> = (0..graph.ops.len())
        .filter(|i| !prefix.contains(i))
        .collect();
    for &i in &rest {
        let op = &graph.ops[i];
        if op.attributes.iter().any(|a| a.graph) {
            return Err(format!("node {:?} holds a subgraph", op.node.name));
        }
        if let Some(name) = op.inputs.iter().find(|n| inside.contains(n.as_str())) {
            return Err(format!(
                "node {:?} reads {name:?} inside the dense layers",
                op.node.name
            ));
        }
    }
    if let Some(output) = graph
        .outputs
        .iter()
        .find(|o| inside.contains(o.name.as_str()))
    {
        return Err(format!(
            "output {:?} is inside the dense layers",
            output.name
        ));
    }
    let needed = graph.outputs.iter().any(|o| o.name != boundary);
    Ok(needed.then(|| graph.submodel(&rest, boundary, width)))
}

impl Walk<'_> {
    /// Take node `i`, which reads `value`; its output, or `None` to stop.
    fn take(&mut self, i: usize, value: &str) -> Option<String> {
        let op = &self.graph.ops[i];
        let [out] = op.outputs.as_slice() else {
            return None;
        };
        let ml = op.node.domain == "ai.onnx.ml";
        match (ml, op.node.op_type.as_str()) {
            (false, "Identity") => {}
            (false, "Cast") if op.int("to", 0) == crate::graph::FLOAT => {}
            (true, "Scaler") => self.scaler(op)?,
            (false, "MatMul") if op.inputs.len() == 2 && op.inputs[0] == value => {
                let (weights, n) = self.weights(&op.inputs[1], false)?;
                self.push(weights, n, 1.0, None);
            }
            (false, "Gemm") if op.inputs.len() >= 2 && op.inputs[0] == value => self.gemm(op)?,
            (false, "Add") if self.stage == Stage::Product && op.inputs.len() == 2 => {
                let constant = op.inputs.iter().find(|n| *n != value)?;
                let layer = self.layers.last_mut()?;
                layer.bias = Some(bias(self.graph, constant, layer.n)?);
                layer.beta = 1.0;
                self.stage = Stage::Biased;
            }
            (false, act) if self.stage != Stage::Activated => {
                self.layers.last_mut()?.activation = activation(op, act)?;
                self.stage = Stage::Activated;
            }
            _ => return None,
        }
        self.taken.push(i);
        let same = matches!(op.node.op_type.as_str(), "Identity" | "Cast" | "Scaler");
        let at_cut = self.cut.as_ref().is_some_and(|(_, v, _)| v == value);
        if !same || at_cut {
            self.cut =
                (!self.layers.is_empty()).then(|| (self.taken.len(), out.clone(), self.width));
        }
        Some(out.clone())
    }

    fn scaler(&mut self, op: &Op<'_>) -> Option<()> {
        let fits = |v: &[f32]| v.len() == 1 || v.len() == self.width;
        let offset = op
            .attribute("offset")
            .map_or(vec![0.0], |a| a.floats.clone());
        let scale = op
            .attribute("scale")
            .map_or(vec![1.0], |a| a.floats.clone());
        let first = self.layers.is_empty() && self.scaler.is_none();
        (first && fits(&offset) && fits(&scale)).then(|| self.scaler = Some((offset, scale)))
    }

    fn gemm(&mut self, op: &Op<'_>) -> Option<()> {
        if op.int("transA", 0) != 0 {
            return None;
        }
        let (weights, n) = self.weights(&op.inputs[1], op.int("transB", 0) != 0)?;
        let bias = match op.inputs.get(2).filter(|c| !c.is_empty()) {
            Some(c) => Some(bias(self.graph, c, n)?),
            None => None,
        };
        let beta = if bias.is_some() {
            op.float("beta", 1.0)
        } else {
            1.0
        };
        self.push(weights, n, op.float("alpha", 1.0), bias.map(|b| (b, beta)));
        Some(())
    }

    /// A `k × n` weight matrix (k the current width), row-major.
    fn weights(&mut self, name: &str, transposed: bool) -> Option<Weights> {
        let key = (name.to_owned(), transposed);
        if let Some((weights, n)) = self.read.get(&key) {
            return (weights.len() == self.width * n).then(|| (weights.clone(), *n));
        }
        let (dims, values) = self.graph.initializer(name)?.floats()?;
        let &[rows, columns] = dims.as_slice() else {
            return None;
        };
        let (k, n) = if transposed {
            (columns, rows)
        } else {
            (rows, columns)
        };
        if k as usize != self.width || n <= 0 {
            return None;
        }
        let (k, n) = (self.width, n as usize);
        let weights: Arc<[f32]> = match transposed {
            false => values.into(),
            true => (0..k * n).map(|at| values[(at % n) * k + at / n]).collect(),
        };
        self.read.insert(key, (weights.clone(), n));
        Some((weights, n))
    }

    fn push(&mut self, weights: Arc<[f32]>, n: usize, alpha: f32, bias: Option<(Arc<[f32]>, f32)>) {
        self.stage = if bias.is_some() {
            Stage::Biased
        } else {
            Stage::Product
        };
        self.layers.push(Layer {
            weights,
            k: self.width,
            n,
            alpha,
            beta: bias.as_ref().map_or(1.0, |(_, beta)| *beta),
            bias: bias.map(|(b, _)| b),
            activation: Activation::Identity,
        });
        self.width = n;
    }
}

/// A bias of `n` values from an initializer shaped `[n]`, `[1, n]`, `[]` or `[1]`.
fn bias(graph: &Graph<'_>, name: &str, n: usize) -> Option<Arc<[f32]>> {
    let (dims, values) = graph.initializer(name)?.floats()?;
    let n64 = n as i64;
    match (dims.as_slice(), values.len()) {
        ([] | [1], 1) => Some(vec![values[0]; n].into()),
        ([d] | [1, d], _) if *d == n64 => Some(values.into()),
        _ => None,
    }
}

fn activation(op: &Op<'_>, name: &str) -> Option<Activation> {
    Some(match name {
        "Relu" => Activation::Relu,
        "Sigmoid" => Activation::Sigmoid,
        "Tanh" => Activation::Tanh,
        "LeakyRelu" => Activation::LeakyRelu(op.float("alpha", 0.01)),
        // On a [N, n] tensor every opset's default axis is the last one.
        "Softmax" if matches!(op.int("axis", -1), -1 | 1) => Activation::Softmax,
        _ => return None,
    })
}

#[cfg(test)]
#[path = "dense_tests.rs"]
mod tests;
