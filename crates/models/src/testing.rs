//! Models written by hand, byte by byte, for the unit tests.

use crate::wire::{put_bytes, put_int};

/// A `ValueInfoProto` of only a name.
pub(crate) fn named(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, 1, name.as_bytes());
    out
}

/// A model of `nodes` and `constants` reading `input` and giving `outputs`.
pub(crate) fn model(nodes: &[Vec<u8>], constants: &[Vec<u8>], outputs: &[&str]) -> Vec<u8> {
    let mut graph = Vec::new();
    nodes.iter().for_each(|n| put_bytes(&mut graph, 1, n));
    constants.iter().for_each(|c| put_bytes(&mut graph, 5, c));
    put_bytes(&mut graph, 11, &named("input"));
    outputs
        .iter()
        .for_each(|o| put_bytes(&mut graph, 12, &named(o)));
    let mut model = Vec::new();
    put_int(&mut model, 1, 8);
    put_bytes(&mut model, 7, &graph);
    model
}
