//! Crash consistency: `weft run` is killed (SIGKILL) at each point where
//! its outputs change (during the Parquet write, after the data rename,
//! between state files, after the report), over the outputs of another
//! run. Right after the kill the output folder holds a report whose files
//! match their digests, or no report. Rerunning either manifest then gives
//! exactly an uninterrupted run's outputs ("up to date" or recomputed,
//! never anything else) and leaves no temporary file behind.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use weft_tests::*;

/// Where `weft run` can be stopped, in the order it reaches them.
const POINTS: [&str; 8] = [
    "parquet-writing",
    "retracted",
    "data-written",
    "state-written:fill",
    "state-written:scale",
    "state-written:encode",
    "states-indexed",
    "report-written",
];

/// A run's outputs as compared: the data, and each state file's bytes.
#[derive(Debug, PartialEq)]
struct Outputs {
    data: RecordBatch,
    states: BTreeMap<String, Vec<u8>>,
}

fn outputs(out: &Path) -> Outputs {
    let states = files_under(&out.join("state"))
        .into_iter()
        .map(|f| {
            (
                f.clone(),
                std::fs::read(out.join("state").join(&f)).unwrap(),
            )
        })
        .collect();
    Outputs {
        data: read_parquet(&out.join("data.parquet")),
        states,
    }
}

/// A folder with the churn data and two manifests that differ in how
/// `fill` imputes (`a.yaml`: median, `b.yaml`: mean).
fn setup() -> Workdir {
    let dir = Workdir::new();
    let data = workspace().join("examples/churn/data/train.csv");
    std::fs::copy(data, dir.join("train.csv")).unwrap();
    for (name, strategy) in [("a.yaml", "median"), ("b.yaml", "mean")] {
        churn_pipeline(strategy)
            .spec("batchRows: 64")
            .write(&dir, name);
    }
    dir
}

/// Start `weft run manifest` in `dir` (with `WEFT_FAULT_AT=point` when
/// given) and return it once a line of its stderr contains `said`; the rest
/// of its stderr is drained.
fn started_until(dir: &Path, manifest: &str, point: Option<&str>, said: &str) -> Child {
    let mut command = Command::new(weft_bin());
    command
        .args(["run", manifest])
        .current_dir(dir)
        .env("WEFT_CACHE_DIR", cache_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(point) = point {
        command.env("WEFT_FAULT_AT", point);
    }
    let mut child = command.spawn().expect("start weft");
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(300)) {
        if line.contains(said) {
            return child;
        }
        lines.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "weft run {manifest} never said {said:?}; it said:\n{}",
        lines.join("\n")
    );
}

/// Start `weft run manifest` in `dir` and return it once it waits at `point`.
fn stopped_at(dir: &Path, manifest: &str, point: &str) -> Child {
    let said = format!("reached fault point {point};");
    started_until(dir, manifest, Some(point), &said)
}

/// Stop `weft run manifest` at `point` and SIGKILL it there.
fn kill_at(dir: &Workdir, manifest: &str, point: &str) {
    let mut child = stopped_at(dir.path(), manifest, point);
    child.kill().expect("SIGKILL weft");
    child.wait().expect("reap weft");
}

/// Right after a kill: a report is there only with every file it vouches for.
#[track_caller]
fn assert_vouched(out: &Path, point: &str) {
    let Ok(bytes) = std::fs::read(out.join("report.json")) else {
        return;
    };
    let report: serde_json::Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("after a kill at {point}: report.json is not JSON: {e}"));
    let data = report["outputSha256"].as_str().expect("outputSha256");
    assert_eq!(
        sha256_file(&out.join("data.parquet")),
        data,
        "after a kill at {point}: data.parquet"
    );
    for step in report["steps"].as_array().unwrap() {
        if let Some(state) = step.get("state") {
            let file = out.join(state["path"].as_str().unwrap());
            assert_eq!(
                sha256_file(&file),
                state["sha256"],
                "after a kill at {point}: {file:?}"
            );
        }
    }
}

/// Rerun `manifest`: its outputs must be `want`, nothing temporary left.
#[track_caller]
fn assert_rerun(dir: &Workdir, manifest: &str, want: &Outputs, point: &str) -> bool {
    let run = dir.run(&PathBuf::from(manifest), &[]);
    run.ok();
    let out = dir.join("out");
    assert!(
        outputs(&out) == *want,
        "after a kill at {point}, rerunning {manifest} gave other outputs ({})",
        if run.stderr.contains("up to date") {
            "it said up to date"
        } else {
            "recomputed"
        }
    );
    let left: Vec<String> = files_under(&out)
        .into_iter()
        .filter(|f| f.contains(".weft-"))
        .collect();
    assert!(
        left.is_empty(),
        "after a kill at {point} and a rerun, left: {left:?}"
    );
    run.stderr.contains("up to date")
}

#[test]
fn a_run_killed_anywhere_leaves_outputs_a_rerun_makes_right() {
    let clean = setup();
    let mut want = BTreeMap::new();
    for manifest in ["a.yaml", "b.yaml"] {
        clean.run(&PathBuf::from(manifest), &["--no-cache"]).ok();
        want.insert(manifest, outputs(&clean.join("out")));
    }
    assert_ne!(
        want["a.yaml"], want["b.yaml"],
        "the two manifests must differ in output"
    );
    for point in POINTS {
        let dir = setup();
        dir.run(&PathBuf::from("a.yaml"), &[]).ok();
        kill_at(&dir, "b.yaml", point);
        assert_vouched(&dir.join("out"), point);
        let cached_a = assert_rerun(&dir, "a.yaml", &want["a.yaml"], point);
        let cached_b = assert_rerun(&dir, "b.yaml", &want["b.yaml"], point);
        eprintln!(
            "killed at {point}: rerun a.yaml {}, b.yaml {}",
            if cached_a { "up to date" } else { "recomputed" },
            if cached_b { "up to date" } else { "recomputed" }
        );
    }
}

#[test]
fn a_second_run_into_a_folder_waits_for_the_first() {
    let clean = setup();
    clean.run(&PathBuf::from("b.yaml"), &[]).ok();
    let want = outputs(&clean.join("out"));
    let dir = setup();
    // The first run holds the folder, stopped before it replaces anything.
    let mut first = stopped_at(dir.path(), "a.yaml", "parquet-writing");
    let mut second = started_until(dir.path(), "b.yaml", None, "waiting for it to finish");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second run did not wait"
    );
    assert!(!dir.join("out/report.json").exists());
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(second.wait().unwrap().success(), "the second run failed");
    assert!(
        outputs(&dir.join("out")) == want,
        "the second run's outputs differ from its own run's"
    );
}
