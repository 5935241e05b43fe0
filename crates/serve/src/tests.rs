//! Bodies: the budget of cells and columns, the JSON shapes agreeing with
//! each other, and mutated bodies (a fixed seed, a few thousand cases) that
//! must decode or be refused, never panic.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, NullArray, StringArray,
};
use arrow::datatypes::{DataType, Int32Type};
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use serde_json::{json, Value};

use super::codec::{
    cell_limit, decode, encode, BadBody, Shape, ARROW, DECODER_FAILED, MAX_CELLS, MAX_COLUMNS,
    MIN_CELLS,
};
use super::ipc;
use weft_fuzz::{mutate, Rng};

/// Bytes a mutation may insert: JSON punctuation and tokens, and words
/// that read as Arrow IPC lengths (the continuation marker, -1, 2^31 - 1).
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"null",
    b"1e999",
    b"-0",
    b"\\u0000",
    &[0xff; 4],
    &[0xff, 0xff, 0xff, 0x7f],
    &[0; 8],
];

/// `body` mutated as the generator picks.
fn mutated(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = body.to_vec();
    mutate(rng, &mut out, TOKENS);
    out
}

fn json_bodies() -> Vec<Vec<u8>> {
    [
        json!({"columns": {"x": [1.5, null, 3], "y": ["a", "b", null], "z": [true, false, true]}}),
        json!({"records": [{"x": 1, "y": "a"}, {"x": 2.5, "z": false}, {"w": null}]}),
        json!([{"a": 1e300, "b": -7}, {"a": null, "c": "\u{e9}\n"}]),
    ]
    .iter()
    .map(|v| v.to_string().into_bytes())
    .collect()
}

fn arrow_body() -> Vec<u8> {
    let plans: DictionaryArray<Int32Type> = ["a", "b", "a", "c"].into_iter().collect();
    let batch = RecordBatch::try_from_iter([
        (
            "x",
            Arc::new(Float64Array::from(vec![
                Some(1.0),
                None,
                Some(3.0),
                Some(4.0),
            ])) as ArrayRef,
        ),
        ("n", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
        (
            "s",
            Arc::new(StringArray::from(vec![
                Some("a"),
                None,
                Some("ccc"),
                Some(""),
            ])),
        ),
        (
            "b",
            Arc::new(BooleanArray::from(vec![true, false, true, true])),
        ),
        ("plan", Arc::new(plans)),
        ("nothing", Arc::new(NullArray::new(4))),
    ])
    .unwrap();
    let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.write(&batch).unwrap();
    writer.into_inner().unwrap()
}

#[test]
fn mutated_json_bodies_decode_or_are_refused_without_panicking() {
    let mut rng = Rng::new(0x00c0_ffee_d00d);
    let bodies = json_bodies();
    let mut refused = 0;
    for case in 0..3000 {
        let body = mutated(&bodies[case % bodies.len()], &mut rng);
        // The JSON decoder itself, without the panic guard around it.
        match super::json::decode(&body) {
            Ok((batch, _)) => assert!(batch.num_rows() > 0),
            Err(_) => refused += 1,
        }
    }
    assert!(
        refused > 1000,
        "only {refused} of 3000 mutated bodies were refused"
    );
}

#[test]
fn mutated_arrow_bodies_decode_or_are_refused_without_panicking() {
    let mut rng = Rng::new(0x0a11_0c8e_d5ee);
    let valid = arrow_body();
    assert_eq!(ipc::decode(&valid).unwrap().num_rows(), 8);
    let (mut refused, mut guarded) = (0, 0);
    for _ in 0..3000 {
        let body = mutated(&valid, &mut rng);
        match decode(Some(ARROW), &body) {
            Ok((batch, _)) => assert!(batch.num_rows() <= cell_limit(body.len())),
            Err(e) => {
                assert!(
                    matches!(e, BadBody::Arrow(_) | BadBody::Cells { .. }),
                    "{e}"
                );
                assert_eq!(
                    e.status(),
                    if matches!(e, BadBody::Arrow(_)) {
                        400
                    } else {
                        413
                    }
                );
                refused += 1;
                guarded += usize::from(e.to_string().contains(DECODER_FAILED));
            }
        }
    }
    eprintln!("3000 mutated Arrow bodies: {refused} refused, {guarded} of them by the panic guard");
    assert!(
        refused > 1000,
        "only {refused} of 3000 mutated bodies were refused"
    );
    // The checks before Arrow's reader leave it few bodies to panic on
    // (buffers of a length its types cannot hold); the guard answers those.
    assert!(
        guarded < 30,
        "Arrow's reader panicked on {guarded} of 3000 bodies"
    );
}

#[test]
fn an_arrow_body_that_declares_more_than_it_holds_is_refused() {
    let valid = arrow_body();
    // The message after the schema claims 2 GiB of metadata.
    let mut claims = valid.clone();
    let second = 8 + u32::from_le_bytes(valid[4..8].try_into().unwrap()) as usize;
    claims[second + 4..second + 8].copy_from_slice(&i32::MAX.to_le_bytes());
    let e = decode(Some(ARROW), &claims).unwrap_err().to_string();
    assert!(
        e.contains("declares 2147483647 bytes of metadata, but only"),
        "{e}"
    );
    assert_eq!(decode(Some(ARROW), b"nope").unwrap_err().status(), 400);
    assert!(decode(Some(ARROW), b"").is_err());
}

/// `{"records": [{"x": 1.5, "k{i}": i}, ...]}`: `n` rows, `n` + 1 columns.
fn sparse(n: usize) -> Vec<u8> {
    let records: Vec<Value> = (0..n)
        .map(|i| json!({"x": 1.5, format!("k{i}"): i}))
        .collect();
    json!({ "records": records }).to_string().into_bytes()
}

#[test]
fn a_body_may_make_only_so_many_cells_and_columns() {
    assert_eq!(cell_limit(10), MIN_CELLS);
    assert_eq!(cell_limit(1 << 30), MAX_CELLS);
    // 2000 records, each with a key of its own: 4 million cells of a 40 kB body.
    let body = sparse(2000);
    let e = decode(None, &body).unwrap_err();
    assert_eq!(e.status(), 413, "{e}");
    assert!(e.to_string().contains("4002000 cells"), "{e}");
    // Within the budget, decoded.
    let (batch, shape) = decode(None, &sparse(500)).unwrap();
    assert_eq!(
        (batch.num_rows(), batch.num_columns(), shape),
        (500, 501, Shape::Records)
    );
    let wide: serde_json::Map<String, Value> = (0..=MAX_COLUMNS)
        .map(|i| (format!("c{i}"), json!([1])))
        .collect();
    let e = decode(None, json!({ "columns": wide }).to_string().as_bytes()).unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.to_string().contains("10000 columns"), "{e}");
    let nested = decode(None, br#"{"records": [{"x": {"a": 1}}]}"#).unwrap_err();
    assert!(
        nested
            .to_string()
            .contains("key \"x\" of record 0 holds an object"),
        "{nested}"
    );
}

#[test]
fn columns_and_records_decode_to_the_same_types() {
    let columns = json!({"columns": {"i": [1, 2], "f": [1, 2.5], "s": ["a", null], "b": [true, null], "n": [null, null]}});
    let records = json!({"records": [
        {"i": 1, "f": 1, "s": "a", "b": true, "n": null},
        {"i": 2, "f": 2.5, "s": null, "b": null, "n": null},
    ]});
    let (by_columns, _) = decode(None, columns.to_string().as_bytes()).unwrap();
    let (by_records, _) = decode(None, records.to_string().as_bytes()).unwrap();
    assert_eq!(by_columns, by_records);
    let types: Vec<DataType> = by_columns
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        [
            DataType::Int64,
            DataType::Float64,
            DataType::Utf8,
            DataType::Boolean,
            DataType::Null
        ]
    );
}

#[test]
fn answers_are_written_in_the_shape_asked_with_explicit_nulls() {
    let batch = RecordBatch::try_from_iter([
        (
            "x",
            Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN)])) as ArrayRef,
        ),
        (
            "s\"q",
            Arc::new(StringArray::from(vec![Some("a"), Some("b\n"), None])),
        ),
    ])
    .unwrap();
    let (bytes, media) = encode(&batch, Shape::Columns).unwrap();
    assert_eq!(media, "application/json");
    let columns: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        columns,
        json!({"columns": {"x": [1.5, null, null], "s\"q": ["a", "b\n", null]}})
    );
    let (bytes, _) = encode(&batch, Shape::Records).unwrap();
    let records: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(records["records"][1], json!({"x": null, "s\"q": "b\n"}));
    let (bytes, _) = encode(&batch.slice(0, 0), Shape::Records).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap(),
        json!({"records": []})
    );
}
