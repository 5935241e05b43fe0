//! State folders are input like any other: `weft run --state DIR` over
//! mutated states (bytes flipped, cut, repeated, zeroed) ends with the run
//! done or exit 1 and a message naming the state file or the step, never a
//! host panic, never output left behind, and never more memory than the
//! step's limits allow. The index is mutated as it comes, and the state files
//! with their digest rewritten, so that each plugin's own `load-state` meets
//! the garbage.

use std::path::Path;

use serde_json::{json, Value};
use weft_tests::*;

/// Runs per state file; each mutates with another operation and place.
const TRIES: usize = 12;

/// Most memory one run over a mutated state may take: the steps' memory
/// limits (64 MiB each) plus the host's own.
const MOST_RSS: u64 = 600 << 20;

/// Mutation `i` of `bytes`: an operation and a place picked from `i` alone,
/// so that a failure names a case that reruns the same.
fn mutate(bytes: &[u8], i: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = (i * 7919 + 13) % bytes.len().max(1);
    match i % 6 {
        0 => out[at] ^= 0x80,
        1 => out.truncate(at),
        2 => out
            .splice(at..at, std::iter::repeat_n(0xff, 8))
            .for_each(drop),
        3 => out[at..].fill(0),
        4 => {
            let tail = bytes[at..].to_vec();
            out.extend_from_slice(&tail);
        }
        _ => out
            .splice(at..at, b"\"\xff\x00{[".iter().copied())
            .for_each(drop),
    }
    out
}

/// A folder with churn data, the state folder a first run fitted
/// (`out/state`), and `pipeline.yaml`, which applies states with each step
/// limited to 64 MiB, into `applied/`.
fn fitted() -> Workdir {
    let dir = Workdir::new();
    std::fs::copy(
        workspace().join("examples/churn/data/train.csv"),
        dir.join("train.csv"),
    )
    .unwrap();
    dir.run(&churn_pipeline("median").write(&dir, "fit.yaml"), &[])
        .ok();
    churn_pipeline("median")
        .spec("limits: { memory: 64Mi, timeoutSeconds: 10 }")
        .output("applied")
        .write(&dir, "pipeline.yaml");
    dir
}

/// Apply the states in `states`, check the run ended as it may, and say
/// whether it was refused.
fn apply(dir: &Workdir, states: &Path, case: &str, names: &[&str]) -> bool {
    let out = dir.join("applied");
    let _ = std::fs::remove_dir_all(&out);
    let run = dir.run(
        &dir.join("pipeline.yaml"),
        &["--state", states.to_str().unwrap()],
    );
    assert!(
        run.code == Some(0) || run.code == Some(1),
        "{case}: exit {:?}, stderr:\n{}",
        run.code,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{case}: {}", run.stderr);
    assert!(
        run.peak_rss < MOST_RSS,
        "{case}: peak RSS {} MiB",
        run.peak_rss >> 20
    );
    if run.code == Some(1) {
        let line = run.error_line();
        assert!(
            names.iter().any(|n| line.contains(n)),
            "{case}: the error names none of {names:?}: {line}"
        );
        assert_no_outputs(&out);
    }
    run.code == Some(1)
}

/// Fail unless most mutations were refused: mutations that change nothing
/// would test nothing.
#[track_caller]
fn most_refused(refused: usize, tries: usize) {
    assert!(
        refused * 2 > tries,
        "only {refused} of {tries} mutations were refused"
    );
}

#[test]
fn a_mutated_index_is_refused_or_harmless() {
    let dir = fitted();
    let fitted = dir.join("out/state");
    let index = std::fs::read(fitted.join("index.json")).unwrap();
    let states = dir.join("mutated");
    let mut refused = 0;
    for i in 0..TRIES * 3 {
        let _ = std::fs::remove_dir_all(&states);
        std::fs::create_dir_all(&states).unwrap();
        for f in files_under(&fitted) {
            std::fs::copy(fitted.join(&f), states.join(&f)).unwrap();
        }
        std::fs::write(states.join("index.json"), mutate(&index, i)).unwrap();
        refused += apply(
            &dir,
            &states,
            &format!("index.json mutation {i}"),
            &["index.json", ".bin"],
        ) as usize;
    }
    most_refused(refused, TRIES * 3);
}

#[test]
fn a_mutated_state_with_a_matching_digest_fails_its_step_cleanly() {
    let dir = fitted();
    let fitted = dir.join("out/state");
    let index: Value = read_json(&fitted.join("index.json"));
    let states = dir.join("mutated");
    let mut refused = 0;
    for step in ["fill", "scale", "encode"] {
        let bytes = std::fs::read(fitted.join(format!("{step}.bin"))).unwrap();
        for i in 0..TRIES {
            let _ = std::fs::remove_dir_all(&states);
            std::fs::create_dir_all(&states).unwrap();
            for f in files_under(&fitted) {
                std::fs::copy(fitted.join(&f), states.join(&f)).unwrap();
            }
            let file = states.join(format!("{step}.bin"));
            std::fs::write(&file, mutate(&bytes, i)).unwrap();
            let mut index = index.clone();
            index[step]["sha256"] = json!(sha256_file(&file));
            std::fs::write(states.join("index.json"), index.to_string()).unwrap();
            let case = format!("{step}.bin mutation {i}");
            let names = [format!("{step:?}"), format!("{step}.bin")];
            refused += apply(&dir, &states, &case, &[&names[0], &names[1]]) as usize;
        }
    }
    most_refused(refused, TRIES * 3);
}
