//! Property tests of the CSV and JSON Lines readers over generated and
//! mutated files, from a fixed seed: every file reads as batches or fails
//! with an error naming it, never a panic; well-formed files read every row.

use std::path::Path;

use super::{DataError, Reader};
use weft_fuzz::{mutate, Rng};

/// Cases per format; the whole run takes a few seconds in a debug build.
const CASES: u64 = 1200;

const WORDS: [&str; 8] = ["a", "b c", "ünï", "x\"y", "1e5", "-0", "true", "2024-01-02"];

/// A CSV field: plain, quoted (with quotes, commas and newlines inside),
/// empty, numeric, long, or bytes that are not UTF-8.
fn csv_field(rng: &mut Rng, valid: bool) -> Vec<u8> {
    match rng.below(if valid { 5 } else { 7 }) {
        0 => rng.below(1000).to_string().into_bytes(),
        1 => format!("{}.{}", rng.below(100), rng.below(100)).into_bytes(),
        2 => format!("\"{}\"", rng.pick(&WORDS).replace('"', "\"\"") + ",\n\r").into_bytes(),
        3 if rng.one_in(50) => vec![b'z'; 1 << 16],
        3 => Vec::new(),
        4 => rng.pick(&["a", "b", "c", "yes"]).as_bytes().to_vec(),
        5 => vec![0xff, 0xfe, b'"', 0xc3],
        _ => rng.pick(&WORDS).as_bytes().to_vec(),
    }
}

/// A CSV file and, when well-formed, its data rows.
fn csv_file(rng: &mut Rng) -> (Vec<u8>, Option<usize>) {
    let valid = rng.one_in(3);
    let columns = 2 + rng.below(6);
    let most = if rng.one_in(20) { 1000 } else { 40 };
    let rows = rng.below(most);
    let mut out = (0..columns)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes();
    for _ in 0..rows {
        out.extend_from_slice(if !valid && rng.one_in(4) {
            b"\r\n"
        } else {
            b"\n"
        });
        let width = if !valid && rng.one_in(30) {
            rng.below(columns + 2)
        } else {
            columns
        };
        for c in 0..width {
            if c > 0 {
                out.push(b',');
            }
            out.extend(csv_field(rng, valid));
        }
    }
    out.push(b'\n');
    (out, valid.then_some(rows))
}

/// A JSON value of `depth` levels at most; deeply nested now and then.
fn json_value(rng: &mut Rng, depth: usize, valid: bool) -> String {
    if !valid && rng.one_in(200) {
        let deep = 1 + rng.below(200_000);
        return format!("{}{}", "[".repeat(deep), "]".repeat(deep * rng.below(2)));
    }
    match rng.below(if depth == 0 { 5 } else { 7 }) {
        0 => rng.below(1 << 20).to_string(),
        1 => format!("{}.5", rng.below(100)),
        2 => format!("{:?}", rng.pick(&WORDS)),
        3 => rng.pick(&["true", "false", "null"]).to_owned(),
        4 if rng.one_in(40) => format!("\"{}\"", "q".repeat(1 << 16)),
        4 => "\"\\u00e9\\n\\\"\"".to_owned(),
        5 => format!("[{}]", json_value(rng, depth - 1, valid)),
        _ => format!("{{\"k\": {}}}", json_value(rng, depth - 1, valid)),
    }
}

/// A JSON Lines file and, when well-formed, its rows. Well-formed files
/// give each key one type (or null), so inference agrees with every row.
fn jsonl_file(rng: &mut Rng) -> (Vec<u8>, Option<usize>) {
    let valid = rng.one_in(3);
    let most = if rng.one_in(20) { 1000 } else { 40 };
    let rows = 1 + rng.below(most);
    let mut out = Vec::new();
    for _ in 0..rows {
        let line = if valid {
            let n = rng.below(1000);
            match rng.below(3) {
                0 => format!("{{\"n\": {n}, \"s\": \"v{n}\", \"l\": [{n}]}}"),
                1 => format!("{{\"s\": null, \"o\": {{\"k\": {n}}}}}"),
                _ => format!("{{\"n\": {n}, \"b\": true}}"),
            }
        } else {
            format!("{{\"k{}\": {}}}", rng.below(4), json_value(rng, 3, valid))
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    (out, valid.then_some(rows))
}

/// What the mutator inserts: the bytes that delimit CSV and JSON.
const TOKENS: [&[u8]; 9] = [
    b"\"", b",", b"\n", b"\r\n", b"{", b"[", b"]", b"\\", b"\xff",
];

/// Read `path` whole: the rows, or the error, which must name the file.
fn read(path: &Path, batch_rows: usize) -> Result<usize, DataError> {
    let mut rows = 0;
    for batch in Reader::open(path, batch_rows)? {
        rows += batch?.num_rows();
    }
    Ok(rows)
}

fn fuzz(ext: &str, seed: u64, generate: fn(&mut Rng) -> (Vec<u8>, Option<usize>)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("case.{ext}"));
    let mut rng = Rng::new(seed);
    let (mut refused, mut read_ok) = (0, 0);
    for case in 0..CASES {
        let (mut bytes, rows) = generate(&mut rng);
        let rows = if rng.one_in(3) {
            mutate(&mut rng, &mut bytes, &TOKENS);
            None
        } else {
            rows
        };
        std::fs::write(&path, &bytes).unwrap();
        let batch_rows = 1 + rng.below(64);
        match (read(&path, batch_rows), rows) {
            (Ok(got), Some(want)) => assert_eq!(got, want, "case {case} of seed {seed:#x}"),
            (Ok(_), None) => read_ok += 1,
            (Err(e), Some(_)) => {
                panic!("case {case} of seed {seed:#x}: well-formed file refused: {e}")
            }
            (Err(e), None) => {
                let message = e.to_string();
                assert!(
                    message.contains("case."),
                    "case {case} of seed {seed:#x}: {message}"
                );
                refused += 1;
            }
        }
    }
    assert!(
        refused > 50 && read_ok > 50,
        "{refused} refused, {read_ok} read"
    );
}

#[test]
fn fuzzed_csv_reads_or_names_the_file() {
    fuzz("csv", 0x5eed_c5f0, csv_file);
}

#[test]
fn fuzzed_jsonl_reads_or_names_the_file() {
    fuzz("jsonl", 0x5eed_1501, jsonl_file);
}

#[test]
fn random_bytes_read_or_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5eed_b17e);
    for case in 0..CASES / 2 {
        let ext = if case % 2 == 0 { "csv" } else { "jsonl" };
        let path = dir.path().join(format!("case.{ext}"));
        let bytes: Vec<u8> = (0..rng.below(300)).map(|_| rng.next_u64() as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        if let Err(e) = read(&path, 1 + rng.below(8)) {
            assert!(e.to_string().contains("case."), "case {case}: {e}");
        }
    }
}
