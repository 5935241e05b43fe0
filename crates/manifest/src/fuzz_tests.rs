//! Property test of the manifest parser over mutated manifests, from a
//! fixed seed: every text parses or fails with an error located in the
//! file, never a panic; YAML aliases cannot multiply a small file.

use std::path::Path;

use super::Manifest;
use weft_fuzz::{mutate, Rng};

/// A manifest using most of the format (DAG, limits, gates, mounts, shards).
const MANIFEST: &str = include_str!("../../../examples/churn/pipeline.yaml");

/// YAML that parsers have got wrong: anchors, merges, tags, deep nesting,
/// odd scalars.
const TOKENS: [&[u8]; 16] = [
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"!!binary ",
    b"!Tag ",
    b"{",
    b"]",
    b"- ",
    b": ",
    b"\n  ",
    b"\t",
    b"1e999",
    b"-0x1",
    b"~",
    b"\"\\u0000\"",
    b"[[[[[[[[[[[[[[[[[[[[",
];

fn check(text: &[u8], case: u64) {
    let source = String::from_utf8_lossy(text).into_owned();
    let lines = source.lines().count() + 1;
    if let Err(e) = Manifest::parse(Path::new("p.yaml"), source) {
        assert!(!e.message.is_empty(), "case {case}: an empty message");
        assert!(
            e.line <= lines,
            "case {case}: line {} of {lines}: {e}",
            e.line
        );
        assert_eq!(e.file, "p.yaml", "case {case}");
    }
}

#[test]
fn mutated_manifests_parse_or_are_located() {
    let mut rng = Rng::new(0x005e_ed0f_3a41);
    for case in 0..3000 {
        let mut text = MANIFEST.as_bytes().to_vec();
        mutate(&mut rng, &mut text, &TOKENS);
        check(&text, case);
    }
}

#[test]
fn aliases_cannot_blow_a_small_file_up() {
    let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (i, name) in "bcdefghijk".chars().enumerate() {
        let prev = (b'a' + i as u8) as char;
        laughs.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let e = Manifest::parse(Path::new("p.yaml"), laughs).unwrap_err();
    assert!(!e.message.is_empty());
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    Manifest::parse(Path::new("p.yaml"), deep).unwrap_err();
}
