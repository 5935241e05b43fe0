//! Input files that once took the host down or misled: wide files are read
//! in memory bounded by bytes, not rows; too wide and empty files are
//! refused naming the file; parse errors name the file's line however the
//! rows fall into batches.

use std::path::PathBuf;

use serde_json::json;
use weft_tests::*;

/// Most memory a run over a small input may take, whatever its width.
const PEAK_RSS: u64 = 1 << 30;

/// A work folder with `input` written as `name` and a pass-through
/// pipeline over it writing `output`.
fn pipeline(name: &str, input: impl AsRef<[u8]>, output: &str) -> (Workdir, PathBuf) {
    let dir = Workdir::new();
    dir.write(name, input);
    let manifest = Pipeline::new(name)
        .plugin("hostile", &plugin("hostile"))
        .output(output)
        .step("pass", "hostile", json!({ "attack": "none" }), "")
        .write(&dir, "pipeline.yaml");
    (dir, manifest)
}

/// A CSV file of `columns` columns and one row.
fn wide_csv(columns: usize) -> String {
    let header: Vec<String> = (0..columns).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..columns).map(|i| (i % 10).to_string()).collect();
    format!("{}\n{}\n", header.join(","), row.join(","))
}

#[test]
fn wide_csv_runs_in_bounded_memory() {
    let (dir, manifest) = pipeline("wide.csv", wide_csv(20_000), "out/");
    let run = dir.run(&manifest, &[]);
    run.ok();
    let report = read_json(&dir.join("out/report.json"));
    let peak = report["peakRssBytes"]
        .as_u64()
        .expect("Linux reports VmHWM");
    eprintln!(
        "20 000 columns x 1 row: weft run took {:.2?}, peak RSS {} MiB",
        run.took,
        peak >> 20
    );
    assert!(peak < PEAK_RSS, "peak RSS {} MiB", peak >> 20);
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_eq!((out.num_columns(), out.num_rows()), (20_000, 1));
}

#[test]
fn too_many_columns_is_a_clear_error() {
    let (dir, manifest) = pipeline("wide.csv", wide_csv(100_000), "out/");
    dir.run(&manifest, &[])
        .failed()
        .stderr_has(&["wide.csv: 100000 columns, more than the 30000 weft reads"])
        .never_says("memory allocation");
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn empty_csv_is_refused_naming_the_file() {
    let (dir, manifest) = pipeline("empty.csv", "", "out/");
    let expected = "empty.csv: empty: no header row";
    dir.run(&manifest, &[]).failed().stderr_has(&[expected]);
    dir.validate(&manifest).failed().stderr_has(&[expected]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn header_only_csv_is_a_valid_input_of_no_rows() {
    let (dir, manifest) = pipeline("header.csv", "a,b\n", "out.csv");
    dir.run(&manifest, &[]).ok();
    let written = std::fs::read_to_string(dir.join("out.csv")).unwrap();
    assert_eq!(written, "a,b\n", "the output keeps the columns");
    let report = read_json(&dir.join("report.json"));
    assert_eq!(report["rowsOut"], 0, "{report}");
}

/// `rows` JSON Lines with `bad` at 1-based line `at`.
fn jsonl(rows: usize, at: usize, bad: &str) -> String {
    (1..=rows)
        .map(|i| match i == at {
            true => format!("{bad}\n"),
            false => format!("{{\"id\": {i}, \"x\": {}.5}}\n", i % 7),
        })
        .collect()
}

#[test]
fn jsonl_errors_name_their_line() {
    // In the rows read to infer the columns, and past them, in a later batch.
    for at in [70_001, 150_001] {
        let (dir, manifest) = pipeline(
            "in.jsonl",
            jsonl(200_000, at, "{\"id\": 1, \"x\": oops}"),
            "out/",
        );
        dir.run(&manifest, &[])
            .failed()
            .stderr_has(&[&format!("in.jsonl: line {at}: ")]);
        assert_no_outputs(&dir.join("out"));
    }
}

#[test]
fn csv_errors_name_their_line() {
    // A quoted value spans two lines, so records and lines differ by one.
    let mut csv = String::from("id,x\n1,\"two\nlines\"\n");
    (3..200_000).for_each(|i| csv.push_str(&format!("{i},{i}\n")));
    let at = 150_001;
    csv = csv.replace(
        &format!("\n{},{}\n", at - 1, at - 1),
        &format!("\n{},1,2\n", at - 1),
    );
    let (dir, manifest) = pipeline("in.csv", csv, "out/");
    dir.run(&manifest, &[])
        .failed()
        .stderr_has(&[&format!("in.csv: line {at}: incorrect number of fields")]);
}
