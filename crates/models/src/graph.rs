//! The nodes of an ONNX model, read straight from its protobuf encoding
//! (`ModelProto.graph.node`: name, operator, domain), to name the node
//! behind an operator ONNX Runtime refuses.

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

/// Field numbers of the protobuf messages read.
const MODEL_GRAPH: u64 = 7;
const GRAPH_NODE: u64 = 1;
const NODE_NAME: u64 = 3;
const NODE_OP_TYPE: u64 = 4;
const NODE_DOMAIN: u64 = 7;

/// The nodes of the top-level graph of the model in `bytes`; `None` when
/// the bytes are not a well-formed protobuf message.
pub fn nodes(bytes: &[u8]) -> Option<Vec<Node>> {
    let mut nodes = Vec::new();
    for (field, value) in fields(bytes)? {
        if field == MODEL_GRAPH {
            for (field, node) in fields(value?)? {
                if field == GRAPH_NODE {
                    nodes.push(node_of(node?)?);
                }
            }
        }
    }
    Some(nodes)
}

fn node_of(bytes: &[u8]) -> Option<Node> {
    let mut node = Node {
        name: String::new(),
        op_type: String::new(),
        domain: "ai.onnx".into(),
    };
    for (field, value) in fields(bytes)? {
        let text = value.map(|v| String::from_utf8_lossy(v).into_owned());
        match field {
            NODE_NAME => node.name = text?,
            NODE_OP_TYPE => node.op_type = text?,
            NODE_DOMAIN => {
                let domain = text?;
                if !domain.is_empty() {
                    node.domain = domain;
                }
            }
            _ => {}
        }
    }
    Some(node)
}

/// A field's number and, for a length-delimited one, its bytes (`None` for
/// the others, whose values are skipped).
type Field<'a> = (u64, Option<&'a [u8]>);

/// The fields of one message.
fn fields(mut bytes: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let value = match key & 7 {
            0 => varint(&mut bytes).map(|_| None)?,
            1 => skip(&mut bytes, 8).map(|_| None)?,
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                Some(skip(&mut bytes, len)?)
            }
            5 => skip(&mut bytes, 4).map(|_| None)?,
            _ => return None,
        };
        out.push((key >> 3, value));
    }
    Some(out)
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn skip<'a>(bytes: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if bytes.len() < len {
        return None;
    }
    let (taken, rest) = bytes.split_at(len);
    *bytes = rest;
    Some(taken)
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
