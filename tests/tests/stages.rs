//! `weft run --stage N`, what a cluster stage pod runs: stage after stage on
//! the hand-offs (and a sharded step's shares, merged) gives the output of
//! one whole run; outputs already there are not made again.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::record_batch::RecordBatch;
use serde_json::json;
use weft_tests::*;

/// Rows of the input: x with some nulls, y.
const ROWS: usize = 500;

/// impute(x) | scale(x), scale(y) on another resource class: two stages.
fn pipeline(dir: &Workdir) -> std::path::PathBuf {
    let x: Vec<Option<f64>> = (0..ROWS)
        .map(|i| (i % 7 != 0).then(|| (i as f64 * 0.37).sin() * 10.0))
        .collect();
    let y: Vec<f64> = (0..ROWS).map(|i| (i * 13 % 29) as f64).collect();
    let batch = RecordBatch::try_from_iter([
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("y", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap();
    write_parquet(&dir.join("in.parquet"), &batch);
    let big = "resources: { cpu: 2, memory: 1Gi }";
    Pipeline::new("in.parquet")
        .plugin("impute", &plugin("impute"))
        .plugin("scale", &plugin("scale"))
        .step(
            "fill",
            "impute",
            json!({"columns": ["x"], "strategy": "mean"}),
            "",
        )
        .step(
            "scale-x",
            "scale",
            json!({"columns": ["x"], "method": "standard"}),
            &format!("needs: [fill], {big}"),
        )
        .step(
            "scale-y",
            "scale",
            json!({"columns": ["y"], "method": "minmax"}),
            &format!("needs: [scale-x], {big}"),
        )
        .write(dir, "pipeline.yaml")
}

#[test]
fn stage_runs_one_after_another_equal_one_whole_run() {
    let whole = Workdir::new();
    let manifest = pipeline(&whole);
    whole.run(&manifest, &[]).ok();

    let staged = Workdir::new();
    let manifest = pipeline(&staged);
    staged.run(&manifest, &["--stage", "0"]).ok();
    // Stage 0 leaves its hand-off: data, report and the fitted state.
    for file in ["data.parquet", "report.json", "state/fill.bin"] {
        assert!(
            staged.join("weft-stages/0").join(file).is_file(),
            "{file}: {:?}",
            files_under(staged.path())
        );
    }
    assert!(!staged.join("out").exists(), "stage 0 wrote the output");
    let report = read_json(&staged.join("weft-stages/0/report.json"));
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["fill"]);

    staged.run(&manifest, &["--stage", "1"]).ok();
    let report = read_json(&staged.join("out/report.json"));
    assert_eq!(report["steps"].as_array().unwrap().len(), 2, "{report:#}");
    assert!(staged.join("out/state/scale-y.bin").is_file());
    // The output holds every fitted state, stage 0's too, as a whole run's
    // does: `weft serve` takes it as it is.
    let index = |dir: &Workdir| read_json(&dir.join("out/state/index.json"));
    assert_eq!(index(&staged), index(&whole));
    for step in ["fill", "scale-x", "scale-y"] {
        let file = format!("out/state/{step}.bin");
        assert_eq!(
            std::fs::read(staged.join(&file)).unwrap(),
            std::fs::read(whole.join(&file)).unwrap(),
            "{step}"
        );
    }
    assert_eq!(
        read_parquet(&staged.join("out/data.parquet")),
        read_parquet(&whole.join("out/data.parquet")),
        "the staged output differs from the whole run's"
    );
}

#[test]
fn a_stage_that_does_not_exist_is_named_with_the_ones_that_do() {
    let dir = Workdir::new();
    let manifest = pipeline(&dir);
    dir.run(&manifest, &["--stage", "2"]).failed().stderr_has(&[
        "stage 2 does not exist",
        "2 stage(s), 0 to 1",
        "weft plan",
    ]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn a_later_stage_before_its_hand_off_exists_says_which_file_is_missing() {
    let dir = Workdir::new();
    let manifest = pipeline(&dir);
    dir.run(&manifest, &["--stage", "1"])
        .failed()
        .stderr_has(&["weft-stages/0/data.parquet"]);
}

#[test]
fn a_run_whose_outputs_are_there_already_is_not_run_again() {
    let dir = Workdir::new();
    let manifest = pipeline(&dir);
    dir.run(&manifest, &[]).ok();
    let first = std::fs::read(dir.join("out/report.json")).unwrap();
    let key = read_json(&dir.join("out/report.json"))["cacheKey"].clone();
    assert_eq!(key.as_str().map(str::len), Some(64), "{key}");

    // Same inputs: nothing runs, nothing is rewritten but metrics.prom.
    dir.run(&manifest, &[])
        .ok()
        .stderr_has(&["up to date", "--no-cache"]);
    assert_eq!(std::fs::read(dir.join("out/report.json")).unwrap(), first);

    // --no-cache runs it: a new report, the same key and outputs.
    dir.run(&manifest, &["--no-cache"])
        .ok()
        .never_says("up to date");
    let report = read_json(&dir.join("out/report.json"));
    assert_ne!(serde_json::to_vec_pretty(&report).unwrap(), first);
    assert_eq!(report["cacheKey"], key);

    // A changed state file is not the outputs the report describes.
    std::fs::write(dir.join("out/state/fill.bin"), b"tampered").unwrap();
    dir.run(&manifest, &[]).ok().never_says("up to date");
    // Nor is a run on other data.
    write_parquet(
        &dir.join("in.parquet"),
        &read_parquet(&dir.join("out/data.parquet")),
    );
    dir.run(&manifest, &[]).ok().never_says("up to date");
    assert_ne!(read_json(&dir.join("out/report.json"))["cacheKey"], key);
}

#[test]
fn a_data_file_other_than_the_one_its_report_describes_is_made_again() {
    let dir = Workdir::new();
    let manifest = pipeline(&dir);
    dir.run(&manifest, &[]).ok();
    let data = dir.join("out/data.parquet");
    let good = std::fs::read(&data).unwrap();
    let digest = read_json(&dir.join("out/report.json"))["outputSha256"].clone();
    assert_eq!(digest.as_str(), Some(sha256_file(&data).as_str()));

    // Cut short, as by a disk that filled up or a copy that stopped.
    std::fs::write(&data, &good[..good.len() / 2]).unwrap();
    dir.run(&manifest, &[]).ok().never_says("up to date");
    assert_eq!(std::fs::read(&data).unwrap(), good);

    // Another run's data beside this run's report, as a run killed after
    // renaming its data into place and before writing its report leaves it.
    let other = Workdir::new();
    let other_manifest = pipeline(&other);
    std::fs::write(other.join("in.parquet"), std::fs::read(&data).unwrap()).unwrap();
    other.run(&other_manifest, &[]).ok();
    std::fs::copy(other.join("out/data.parquet"), &data).unwrap();
    assert_ne!(std::fs::read(&data).unwrap(), good);
    dir.run(&manifest, &[]).ok().never_says("up to date");
    assert_eq!(std::fs::read(&data).unwrap(), good);
}

#[test]
fn stage_runs_again_skip_the_stages_that_finished() {
    let dir = Workdir::new();
    let manifest = pipeline(&dir);
    dir.run(&manifest, &["--stage", "0"]).ok();
    dir.run(&manifest, &["--stage", "1"]).ok();
    let output = std::fs::read(dir.join("out/data.parquet")).unwrap();
    // A re-run, as after a failure further on: both stages find their outputs.
    dir.run(&manifest, &["--stage", "0"])
        .ok()
        .stderr_has(&["up to date", "weft-stages/0"]);
    dir.run(&manifest, &["--stage", "1"])
        .ok()
        .stderr_has(&["up to date"]);
    assert_eq!(std::fs::read(dir.join("out/data.parquet")).unwrap(), output);
}

#[test]
fn a_stage_leaves_a_summary_of_its_steps_or_its_error() {
    let dir = Workdir::new();
    let manifest = pipeline(&dir);
    let file = dir.join("summary.json");
    let summary_file = file.to_str().unwrap();
    dir.run(&manifest, &["--stage", "0", "--summary-file", summary_file])
        .ok();
    let summary = read_json(&file);
    assert_eq!(summary["steps"][0]["name"], "fill");
    assert_eq!(summary["steps"][0]["rowsOut"], ROWS);
    assert!(summary.get("cacheHit").is_none(), "{summary}");
    dir.run(&manifest, &["--stage", "0", "--summary-file", summary_file])
        .ok();
    assert_eq!(read_json(&file)["cacheHit"], true);
    // Stage 1 without its hand-off fails: the summary carries the error.
    std::fs::remove_dir_all(dir.join("weft-stages")).unwrap();
    dir.run(&manifest, &["--stage", "1", "--summary-file", summary_file])
        .failed();
    let error = read_json(&file)["error"].as_str().unwrap().to_owned();
    assert!(error.contains("weft-stages/0/data.parquet"), "{error}");
    assert!(read_json(&file).get("location").is_none());
    // An error in the manifest carries its place there, as data.
    let text = std::fs::read_to_string(&manifest).unwrap();
    let bad = dir.write("bad.yaml", text.replace("\"mean\"", "\"modal\""));
    dir.run(&bad, &["--stage", "0", "--summary-file", summary_file])
        .failed();
    let summary = read_json(&file);
    let fill = text.find("name: fill").unwrap();
    let line = text[..fill].matches('\n').count() + 1;
    assert_eq!(summary["location"]["line"], line, "{summary}");
    assert!(
        summary["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("bad.yaml"),
        "{summary}"
    );
}

/// Three parquet files in `in/`, and a pipeline whose `scale-x` fits on 3
/// shares of them: stages fit shares | merge, transform | scale-y.
fn sharded(dir: &Workdir) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    for part in 0..3 {
        let x: Vec<f64> = (0..200)
            .map(|i| ((i * 7 + part * 13) % 97) as f64 * 0.5 + part as f64)
            .collect();
        let y: Vec<f64> = (0..200).map(|i| (i % 11) as f64).collect();
        let batch = RecordBatch::try_from_iter([
            ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
            ("y", Arc::new(Float64Array::from(y)) as ArrayRef),
        ])
        .unwrap();
        write_parquet(&dir.join(format!("in/part-{part}.parquet")), &batch);
    }
    Pipeline::new("in/")
        .plugin("scale", &plugin("scale"))
        .step(
            "scale-x",
            "scale",
            json!({"columns": ["x"], "method": "standard"}),
            "shards: 3",
        )
        .step(
            "scale-y",
            "scale",
            json!({"columns": ["y"], "method": "minmax"}),
            "needs: [scale-x]",
        )
        .write(dir, "pipeline.yaml")
}

#[test]
fn a_sharded_step_fits_shares_merges_them_and_equals_the_whole_run() {
    let whole = Workdir::new();
    let manifest = sharded(&whole);
    whole.run(&manifest, &[]).ok();
    whole
        .weft(["plan", manifest.to_str().unwrap()])
        .ok()
        .stdout_has(&["fit shares", "merge, transform"]);

    let staged = Workdir::new();
    let manifest = sharded(&staged);
    staged
        .run(&manifest, &["--stage", "0"])
        .failed()
        .stderr_has(&["stage 0 fits the input in 3 shares", "--shard I (0 to 2)"]);
    staged
        .run(&manifest, &["--stage", "0", "--shard", "3"])
        .failed()
        .stderr_has(&["there is no share 3"]);
    for share in ["0", "1"] {
        staged
            .run(&manifest, &["--stage", "0", "--shard", share])
            .ok();
    }
    // As an Indexed Job's pod would be told.
    let index = std::ffi::OsStr::new("2");
    let args = ["run", "-q", "--stage", "0", manifest.to_str().unwrap()];
    weft_with(staged.path(), args, &[("JOB_COMPLETION_INDEX", index)]).ok();
    for share in 0..3 {
        let state = staged.join(format!("weft-stages/0/share-{share}/state/scale-x.bin"));
        assert!(state.is_file(), "{}", state.display());
    }
    assert!(!staged.join("weft-stages/0/share-0/data.parquet").exists());
    staged.run(&manifest, &["--stage", "1"]).ok();
    staged.run(&manifest, &["--stage", "2"]).ok();
    let (got, want) = (
        read_parquet(&staged.join("out/data.parquet")),
        read_parquet(&whole.join("out/data.parquet")),
    );
    assert_eq!(got.num_rows(), 600);
    for column in ["x", "y"] {
        assert_close(
            column,
            &f64s(&got, column),
            &f64s(&want, column),
            1e-12,
            1e-12,
        );
    }
}

#[test]
fn a_folder_input_whose_files_differ_names_the_odd_one() {
    let dir = Workdir::new();
    let manifest = sharded(&dir);
    let odd = RecordBatch::try_from_iter([(
        "x",
        Arc::new(arrow::array::StringArray::from(vec!["a"])) as ArrayRef,
    )])
    .unwrap();
    write_parquet(&dir.join("in/part-3.parquet"), &odd);
    dir.run(&manifest, &[]).failed().stderr_has(&[
        "part-3.parquet: its columns (x: Utf8) differ from those of",
        "part-0.parquet (x: Float64, y: Float64)",
    ]);
    std::fs::remove_dir_all(dir.join("in")).unwrap();
    std::fs::create_dir(dir.join("in")).unwrap();
    dir.run(&manifest, &[])
        .failed()
        .stderr_has(&["the folder holds no data files"]);
}

/// A mounted folder is part of what the outputs depend on (a retrained
/// model under the same name); a link looping back up inside it leaves
/// the run without a key, so it runs, rather than failing or recursing.
#[test]
fn a_changed_mounted_file_makes_the_outputs_again() {
    let dir = Workdir::new();
    pipeline(&dir);
    dir.write("models/model.txt", "first");
    let manifest = Pipeline::new("in.parquet")
        .plugin("impute", &plugin("impute"))
        .step(
            "fill",
            "impute",
            json!({"columns": ["x"], "strategy": "mean"}),
            "mounts: [ { path: models, as: /models } ]",
        )
        .write(&dir, "mounted.yaml");
    dir.run(&manifest, &[]).ok();
    dir.run(&manifest, &[]).ok().stderr_has(&["up to date"]);
    dir.write("models/model.txt", "second");
    dir.run(&manifest, &[]).ok().never_says("up to date");
    std::os::unix::fs::symlink(dir.join("models"), dir.join("models/loop")).unwrap();
    dir.run(&manifest, &[]).ok().never_says("up to date");
    dir.run(&manifest, &[]).ok().never_says("up to date");
}
