//! The graph of an ONNX model, read straight from its protobuf encoding
//! (`ModelProto.graph`): its nodes, to name the node behind an operator
//! ONNX Runtime refuses and to find the dense layers a GPU can run, and its
//! initializers, inputs and outputs, to write the model of what remains.

use std::collections::HashSet;

use crate::wire::{self, Field};

/// One node of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node's name (may be empty).
    pub name: String,
    /// The operator, e.g. `TreeEnsembleRegressor`.
    pub op_type: String,
    /// The operator's domain, `ai.onnx` for the default one.
    pub domain: String,
}

/// Field numbers, from onnx.proto.
const MODEL_GRAPH: u64 = 7;
const GRAPH_NODE: u64 = 1;
const GRAPH_NAME: u64 = 2;
const GRAPH_INITIALIZER: u64 = 5;
const GRAPH_INPUT: u64 = 11;
const GRAPH_OUTPUT: u64 = 12;
const GRAPH_SPARSE_INITIALIZER: u64 = 15;
const NODE_INPUT: u64 = 1;
const NODE_OUTPUT: u64 = 2;
const NODE_NAME: u64 = 3;
const NODE_OP_TYPE: u64 = 4;
const NODE_ATTRIBUTE: u64 = 5;
const NODE_DOMAIN: u64 = 7;
const ATTRIBUTE_NAME: u64 = 1;
const ATTRIBUTE_F: u64 = 2;
const ATTRIBUTE_I: u64 = 3;
const ATTRIBUTE_S: u64 = 4;
const ATTRIBUTE_T: u64 = 5;
const ATTRIBUTE_G: u64 = 6;
const ATTRIBUTE_FLOATS: u64 = 7;
const ATTRIBUTE_INTS: u64 = 8;
const ATTRIBUTE_STRINGS: u64 = 9;
const ATTRIBUTE_GRAPHS: u64 = 11;
const TENSOR_DIMS: u64 = 1;
const TENSOR_DATA_TYPE: u64 = 2;
const TENSOR_SEGMENT: u64 = 3;
const TENSOR_FLOAT_DATA: u64 = 4;
const TENSOR_NAME: u64 = 8;
const TENSOR_RAW_DATA: u64 = 9;
const TENSOR_DATA_LOCATION: u64 = 14;
const VALUE_INFO_NAME: u64 = 1;
const VALUE_INFO_TYPE: u64 = 2;
/// `TensorProto.DataType.FLOAT`.
pub(crate) const FLOAT: i64 = 1;

/// The nodes of the top-level graph of the model in `bytes`; `None` when
/// the bytes are not a well-formed protobuf message.
pub fn nodes(bytes: &[u8]) -> Option<Vec<Node>> {
    let graph = Graph::parse(bytes)?;
    Some(graph.ops.into_iter().map(|op| op.node).collect())
}

/// The top-level graph of a model, with the raw bytes of what a smaller
/// model made of some of its nodes copies unchanged.
pub(crate) struct Graph<'a> {
    /// The model's fields other than its graph (IR version, opsets, ...).
    model: Vec<&'a [u8]>,
    /// The graph's name and sparse initializers.
    kept: Vec<&'a [u8]>,
    pub ops: Vec<Op<'a>>,
    pub initializers: Vec<Initializer<'a>>,
    pub inputs: Vec<Named<'a>>,
    pub outputs: Vec<Named<'a>>,
}

/// A node with its operands, results and attributes.
pub(crate) struct Op<'a> {
    pub node: Node,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attributes: Vec<Attribute>,
    raw: &'a [u8],
}

/// A node attribute of the kinds dense layers and tree ensembles use.
pub(crate) struct Attribute {
    pub name: String,
    pub f: Option<f32>,
    pub i: Option<i64>,
    pub s: Option<String>,
    /// The values of a float tensor (`None` for other tensors).
    pub t: Option<Vec<f32>>,
    pub floats: Vec<f32>,
    pub ints: Vec<i64>,
    pub strings: Vec<String>,
    /// Whether it holds a subgraph (`If`, `Loop`, `Scan`).
    pub graph: bool,
}

/// A constant tensor of the graph.
pub(crate) struct Initializer<'a> {
    pub name: String,
    body: &'a [u8],
    raw: &'a [u8],
}

/// A graph input or output.
pub(crate) struct Named<'a> {
    pub name: String,
    raw: &'a [u8],
}

impl<'a> Graph<'a> {
    /// The graph of the model in `bytes`; `None` when malformed.
    pub fn parse(bytes: &'a [u8]) -> Option<Graph<'a>> {
        let mut graph = Graph {
            model: Vec::new(),
            kept: Vec::new(),
            ops: Vec::new(),
            initializers: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        };
        for field in wire::fields(bytes)? {
            if field.number != MODEL_GRAPH {
                graph.model.push(field.raw);
                continue;
            }
            for part in wire::fields(field.bytes()?)? {
                graph.add(part)?;
            }
        }
        Some(graph)
    }

    fn add(&mut self, part: Field<'a>) -> Option<()> {
        match part.number {
            GRAPH_NODE => self.ops.push(Op::parse(part)?),
            GRAPH_INITIALIZER => self.initializers.push(Initializer::parse(part)?),
            GRAPH_INPUT => self.inputs.push(Named::parse(part)?),
            GRAPH_OUTPUT => self.outputs.push(Named::parse(part)?),
            GRAPH_NAME | GRAPH_SPARSE_INITIALIZER => self.kept.push(part.raw),
            _ => {}
        }
        Some(())
    }

    /// The initializer called `name`.
    pub fn initializer(&self, name: &str) -> Option<&Initializer<'a>> {
        self.initializers.iter().find(|i| i.name == name)
    }

    /// A model of the nodes at `ops` (in graph order) that reads the float
    /// tensor `input`, `[N, width]`, and gives the graph's outputs other
    /// than it; it keeps the initializers those nodes read.
    pub fn submodel(&self, ops: &[usize], input: &str, width: usize) -> Vec<u8> {
        let read: HashSet<&str> = ops
            .iter()
            .flat_map(|&i| self.ops[i].inputs.iter().map(String::as_str))
            .collect();
        let mut graph: Vec<u8> = self.kept.concat();
        for &i in ops {
            graph.extend_from_slice(self.ops[i].raw);
        }
        for constant in self
            .initializers
            .iter()
            .filter(|c| read.contains(c.name.as_str()))
        {
            graph.extend_from_slice(constant.raw);
        }
        // Models before IR 4 list their initializers as inputs too.
        for named in self
            .inputs
            .iter()
            .filter(|n| read.contains(n.name.as_str()))
        {
            if self.initializer(&named.name).is_some() {
                graph.extend_from_slice(named.raw);
            }
        }
        wire::put_bytes(&mut graph, GRAPH_INPUT, &float_matrix(input, width));
        for output in self.outputs.iter().filter(|o| o.name != input) {
            graph.extend_from_slice(output.raw);
        }
        let mut model: Vec<u8> = self.model.concat();
        wire::put_bytes(&mut model, MODEL_GRAPH, &graph);
        model
    }
}

/// A `ValueInfoProto` for a float tensor `[N, width]`.
fn float_matrix(name: &str, width: usize) -> Vec<u8> {
    let (mut rows, mut columns, mut shape, mut tensor, mut ty) =
        (vec![], vec![], vec![], vec![], vec![]);
    wire::put_bytes(&mut rows, 2, b"N");
    wire::put_int(&mut columns, 1, width as u64);
    wire::put_bytes(&mut shape, 1, &rows);
    wire::put_bytes(&mut shape, 1, &columns);
    wire::put_int(&mut tensor, 1, FLOAT as u64);
    wire::put_bytes(&mut tensor, 2, &shape);
    wire::put_bytes(&mut ty, 1, &tensor);
    let mut info = Vec::new();
    wire::put_bytes(&mut info, VALUE_INFO_NAME, name.as_bytes());
    wire::put_bytes(&mut info, VALUE_INFO_TYPE, &ty);
    info
}

impl<'a> Op<'a> {
    fn parse(field: Field<'a>) -> Option<Op<'a>> {
        let mut op = Op {
            node: Node {
                name: String::new(),
                op_type: String::new(),
                domain: "ai.onnx".into(),
            },
            inputs: Vec::new(),
            outputs: Vec::new(),
            attributes: Vec::new(),
            raw: field.raw,
        };
        for part in wire::fields(field.bytes()?)? {
            match part.number {
                NODE_INPUT => op.inputs.push(part.text()?),
                NODE_OUTPUT => op.outputs.push(part.text()?),
                NODE_NAME => op.node.name = part.text()?,
                NODE_OP_TYPE => op.node.op_type = part.text()?,
                NODE_ATTRIBUTE => op.attributes.push(Attribute::parse(part.bytes()?)?),
                NODE_DOMAIN => {
                    let domain = part.text()?;
                    if !domain.is_empty() {
                        op.node.domain = domain;
                    }
                }
                _ => {}
            }
        }
        Some(op)
    }

    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// An integer attribute, or `default` when absent.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.attribute(name).and_then(|a| a.i).unwrap_or(default)
    }

    /// A float attribute, or `default` when absent.
    pub fn float(&self, name: &str, default: f32) -> f32 {
        self.attribute(name).and_then(|a| a.f).unwrap_or(default)
    }
}

impl Attribute {
    fn parse(bytes: &[u8]) -> Option<Attribute> {
        let fields = wire::fields(bytes)?;
        let mut attribute = Attribute {
            name: String::new(),
            f: None,
            i: None,
            s: None,
            t: None,
            floats: wire::floats(&fields, ATTRIBUTE_FLOATS)?,
            ints: wire::varints(&fields, ATTRIBUTE_INTS)?,
            strings: Vec::new(),
            graph: false,
        };
        for field in &fields {
            match (field.number, field.value) {
                (ATTRIBUTE_NAME, _) => attribute.name = field.text()?,
                (ATTRIBUTE_F, wire::Value::Fixed32(bits)) => {
                    attribute.f = Some(f32::from_bits(bits))
                }
                (ATTRIBUTE_I, _) => attribute.i = Some(field.int()?),
                (ATTRIBUTE_S, _) => attribute.s = Some(field.text()?),
                (ATTRIBUTE_T, _) => attribute.t = float_tensor(field.bytes()?).map(|(_, v)| v),
                (ATTRIBUTE_STRINGS, _) => attribute.strings.push(field.text()?),
                (ATTRIBUTE_G | ATTRIBUTE_GRAPHS, _) => attribute.graph = true,
                _ => {}
            }
        }
        Some(attribute)
    }
}

impl<'a> Initializer<'a> {
    fn parse(field: Field<'a>) -> Option<Initializer<'a>> {
        let body = field.bytes()?;
        let name = wire::fields(body)?
            .iter()
            .find(|f| f.number == TENSOR_NAME)
            .map_or(Some(String::new()), Field::text)?;
        Some(Initializer {
            name,
            body,
            raw: field.raw,
        })
    }

    /// The dimensions and values of a float tensor stored in the file;
    /// `None` for other types and for data kept elsewhere.
    pub fn floats(&self) -> Option<(Vec<i64>, Vec<f32>)> {
        float_tensor(self.body)
    }
}

/// The dimensions and values of the `TensorProto` in `body` when it is a
/// float tensor stored in the file; `None` otherwise.
fn float_tensor(body: &[u8]) -> Option<(Vec<i64>, Vec<f32>)> {
    let fields = wire::fields(body)?;
    let int = |number| {
        fields
            .iter()
            .find(|f| f.number == number)
            .and_then(Field::int)
    };
    let elsewhere = int(TENSOR_DATA_LOCATION).is_some_and(|l| l != 0);
    let segmented = fields.iter().any(|f| f.number == TENSOR_SEGMENT);
    if int(TENSOR_DATA_TYPE) != Some(FLOAT) || elsewhere || segmented {
        return None;
    }
    let dims = wire::varints(&fields, TENSOR_DIMS)?;
    let raw = fields.iter().find(|f| f.number == TENSOR_RAW_DATA);
    let values = match raw {
        Some(raw) => wire::little_endian(raw.bytes()?)?,
        None => wire::floats(&fields, TENSOR_FLOAT_DATA)?,
    };
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?))?;
    (values.len() == count).then_some((dims, values))
}

impl<'a> Named<'a> {
    fn parse(field: Field<'a>) -> Option<Named<'a>> {
        let name = wire::fields(field.bytes()?)?
            .iter()
            .find(|f| f.number == VALUE_INFO_NAME)
            .map_or(Some(String::new()), Field::text)?;
        Some(Named {
            name,
            raw: field.raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length-delimited field.
    fn field(number: u64, value: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3 | 2) as u8, value.len() as u8];
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn nodes_are_read_with_their_operator_and_domain() {
        let mut node = field(NODE_NAME, b"mystery");
        node.extend(field(NODE_OP_TYPE, b"Mystery"));
        node.extend(field(NODE_DOMAIN, b"weft.test"));
        let plain = field(NODE_OP_TYPE, b"Relu");
        let mut graph = field(GRAPH_NODE, &node);
        graph.extend(field(GRAPH_NODE, &plain));
        // ir_version (varint field 1) before the graph.
        let mut model = vec![1 << 3, 8];
        model.extend(field(MODEL_GRAPH, &graph));
        let found = nodes(&model).unwrap();
        assert_eq!(found[0].name, "mystery");
        assert_eq!(
            (found[0].op_type.as_str(), found[0].domain.as_str()),
            ("Mystery", "weft.test")
        );
        assert_eq!(
            (found[1].op_type.as_str(), found[1].domain.as_str()),
            ("Relu", "ai.onnx")
        );
        assert_eq!(nodes(&model[..model.len() - 3]), None, "truncated");
    }
}
