//! The sandbox contains a hostile step: every attack of
//! `tests/plugins/hostile` either fails inside the guest (and the run goes on)
//! or fails the run with a message naming the step and the limit, leaving
//! nothing in the output folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::Float64Array;
use serde_json::json;
use weft_tests::*;

const INPUT: &str = "id,x,name\n1,0.5,a\n2,,b\n3,-2.25,\n4,8,d\n";
const LIMITS: &str = "limits: { timeoutSeconds: 2, memory: 64Mi, maxOutput: 64Mi }";

/// A work folder with the input, a readable grant (`grant/secret.txt`) and a
/// one-step pipeline `evil` running `attack`, mounted at `/granted`.
fn setup(attack: &str) -> (Workdir, PathBuf) {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    dir.write("grant/secret.txt", "the-secret-is-4711\n");
    let manifest = Pipeline::new("in.csv")
        .plugin("hostile", &plugin("hostile"))
        .spec(LIMITS)
        .step(
            "evil",
            "hostile",
            json!({ "attack": attack }),
            "mounts: [ { path: grant, as: /granted } ]",
        )
        .write(&dir, "pipeline.yaml");
    (dir, manifest)
}

/// The output equals the input: `steps` (in execution order) passed the
/// batch through.
#[track_caller]
fn assert_passed_through(out: &Path, steps: &[&str]) {
    let batch = read_parquet(&out.join("data.parquet"));
    assert_eq!(names(&batch), ["id", "x", "name"]);
    assert_eq!(
        f64s(&batch, "id"),
        [Some(1.0), Some(2.0), Some(3.0), Some(4.0)]
    );
    assert_eq!(f64s(&batch, "x"), [Some(0.5), None, Some(-2.25), Some(8.0)]);
    assert_eq!(
        strings(&batch, "name"),
        [Some("a".into()), Some("b".into()), None, Some("d".into())]
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["rowsOut"], 4);
    let ran = report["steps"].as_array().expect("steps");
    assert_eq!(ran.len(), steps.len(), "{report:#}");
    for (step, name) in ran.iter().zip(steps) {
        assert_eq!(step["name"], *name, "{report:#}");
        assert_eq!(step["rowsIn"], 4, "{report:#}");
        assert_eq!(step["rowsOut"], 4, "{report:#}");
    }
}

/// An attack the guest cannot carry out: the plugin gets an error from WASI,
/// returns normally, and the run succeeds without the plugin's "ESCAPED".
fn contained(attack: &str) {
    let (dir, manifest) = setup(attack);
    dir.run(&manifest, &[]).ok().never_says("ESCAPED");
    assert_passed_through(&dir.join("out"), &["evil"]);
}

/// An attack that must fail the run, with `needles` in the message.
fn fails(attack: &str, needles: &[&str]) -> Run {
    let (dir, manifest) = setup(attack);
    let run = dir.run(&manifest, &[]);
    run.failed()
        .stderr_has(&["step \"evil\" failed in transform"])
        .stderr_has(needles)
        .never_says("ESCAPED");
    assert_no_outputs(&dir.join("out"));
    run
}

#[test]
fn no_attack_passes_data_through() {
    contained("none");
}

#[test]
fn cannot_read_host_files() {
    contained("read-file");
}

#[test]
fn cannot_list_the_root() {
    contained("list-root");
}

#[test]
fn cannot_open_sockets() {
    contained("socket");
}

#[test]
fn sees_no_environment_or_arguments() {
    contained("env");
}

#[test]
fn grant_is_readable_but_not_writable() {
    let (dir, manifest) = setup("write-file");
    // The step could not write /granted/pwned.txt, then read the secret
    // through the grant and failed with it: proof that the mount works and
    // is read-only.
    dir.run(&manifest, &[])
        .failed()
        .stderr_has(&[
            "step \"evil\" failed in transform: invalid input: grant readable: the-secret-is-4711",
        ])
        .never_says("ESCAPED");
    assert_eq!(files_under(&dir.join("grant")), ["secret.txt"]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn without_a_grant_nothing_is_readable() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let manifest = Pipeline::new("in.csv")
        .plugin("hostile", &plugin("hostile"))
        .step("evil", "hostile", json!({ "attack": "write-file" }), "")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[])
        .failed()
        .stderr_has(&["step \"evil\" failed in transform: invalid input: cannot read grant"])
        .never_says("ESCAPED");
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn endless_loop_hits_the_timeout() {
    let run = fails(
        "loop",
        &["ran longer than its limit of 2s (limits.timeoutSeconds) and was stopped"],
    );
    assert!(
        run.took >= Duration::from_secs(2) && run.took < Duration::from_secs(60),
        "stopped after {:?}",
        run.took
    );
}

#[test]
fn hoarding_memory_hits_the_memory_limit() {
    fails(
        "memory",
        &["tried to grow its memory past 67108864 bytes (limits.memory) and was stopped"],
    );
}

#[test]
fn runaway_recursion_overflows_the_stack() {
    fails("recursion", &["overflowed its stack"]);
}

#[test]
fn making_huge_columns_hits_the_output_limit() {
    fails(
        "oversize",
        &["created more than 67108864 bytes of columns in one call (limits.maxOutput)"],
    );
}

#[test]
fn panic_is_reported_with_its_message_and_rows() {
    // One batch of the four rows; no advice to set RUST_BACKTRACE, which a
    // step, seeing no environment, could not follow.
    fails(
        "panic",
        &[
            "failed in transform: crashed",
            "panicked at tests/plugins/hostile/src/lib.rs",
            ": hostile step panicked on purpose (on rows 1-4 of its input)",
        ],
    )
    .never_says("RUST_BACKTRACE");
}

#[test]
fn unknown_attack_is_an_invalid_config() {
    fails("teleport", &["invalid config: unknown attack \"teleport\""]);
}

/// Two steps `good` -> `bad`; `bad` runs `attack`.
fn chain(dir: &Workdir, attack: &str) -> PathBuf {
    Pipeline::new("in.csv")
        .plugin("hostile", &plugin("hostile"))
        .spec(LIMITS)
        .step("good", "hostile", json!({ "attack": "none" }), "")
        .step(
            "bad",
            "hostile",
            json!({ "attack": attack }),
            "needs: [good]",
        )
        .write(dir, "pipeline.yaml")
}

#[test]
fn a_failed_run_does_not_affect_the_next() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    for attack in ["panic", "memory", "oversize"] {
        let manifest = chain(&dir, attack);
        let run = dir.run(&manifest, &[]);
        run.failed()
            .stderr_has(&["step \"bad\" failed in transform"]);
        assert!(
            !run.stderr.contains("step \"good\""),
            "blames the wrong step: {}",
            run.stderr
        );
        assert_no_outputs(&dir.join("out"));
    }
    // Same folder, same output, the bad step fixed: the run is unaffected.
    let manifest = chain(&dir, "none");
    dir.run(&manifest, &[]).ok();
    assert_passed_through(&dir.join("out"), &["good", "bad"]);
    assert_eq!(
        files_under(&dir.join("out")),
        ["data.parquet", "metrics.prom", "report.json"]
    );
    // A failing run after a good one leaves the earlier outputs as they
    // were, with nothing partial beside them.
    let manifest = chain(&dir, "panic");
    dir.run(&manifest, &[]).failed();
    assert_eq!(
        files_under(&dir.join("out")),
        ["data.parquet", "metrics.prom", "report.json"]
    );
    assert_passed_through(&dir.join("out"), &["good", "bad"]);
}

#[test]
fn limits_are_per_step() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    // The pipeline allows a minute and 256Mi; only `spin` is cut to 1s and
    // only `hog` to 32Mi.
    let spin = Pipeline::new("in.csv")
        .plugin("hostile", &plugin("hostile"))
        .spec("limits: { timeoutSeconds: 60, memory: 256Mi }")
        .step(
            "spin",
            "hostile",
            json!({ "attack": "loop" }),
            "limits: { timeoutSeconds: 1 }",
        )
        .step(
            "after",
            "hostile",
            json!({ "attack": "none" }),
            "needs: [spin]",
        )
        .write(&dir, "spin.yaml");
    let run = dir.run(&spin, &[]);
    run.failed().stderr_has(&[
        "step \"spin\" failed in transform: ran longer than its limit of 1s (limits.timeoutSeconds)",
    ]);
    assert!(
        run.took < Duration::from_secs(30),
        "stopped after {:?}",
        run.took
    );
    assert_no_outputs(&dir.join("out"));

    let hog = Pipeline::new("in.csv")
        .plugin("hostile", &plugin("hostile"))
        .spec("limits: { timeoutSeconds: 60, memory: 256Mi }")
        .step("first", "hostile", json!({ "attack": "none" }), "")
        .step(
            "hog",
            "hostile",
            json!({ "attack": "memory" }),
            "needs: [first], limits: { memory: 32Mi }",
        )
        .write(&dir, "hog.yaml");
    dir.run(&hog, &[]).failed().stderr_has(&[
        "step \"hog\" failed in transform: tried to grow its memory past 33554432 bytes (limits.memory)",
    ]);
    assert_no_outputs(&dir.join("out"));

    // A step-level override of another step does not lift the pipeline's
    // limit from a step without one.
    let other = Pipeline::new("in.csv")
        .plugin("hostile", &plugin("hostile"))
        .spec("limits: { timeoutSeconds: 1 }")
        .step(
            "patient",
            "hostile",
            json!({ "attack": "none" }),
            "limits: { timeoutSeconds: 600 }",
        )
        .step(
            "spin",
            "hostile",
            json!({ "attack": "loop" }),
            "needs: [patient]",
        )
        .write(&dir, "other.yaml");
    let run = dir.run(&other, &[]);
    run.failed().stderr_has(&[
        "step \"spin\" failed in transform: ran longer than its limit of 1s (limits.timeoutSeconds)",
    ]);
    assert!(
        run.took < Duration::from_secs(30),
        "stopped after {:?}",
        run.took
    );
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn fuel_limit_stops_a_loop() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let manifest = Pipeline::new("in.csv")
        .plugin("hostile", &plugin("hostile"))
        .spec("limits: { timeoutSeconds: 60 }")
        .step(
            "burn",
            "hostile",
            json!({ "attack": "loop" }),
            "limits: { fuel: 1000000 }",
        )
        .write(&dir, "pipeline.yaml");
    let run = dir.run(&manifest, &[]);
    run.failed().stderr_has(&[
        "step \"burn\" failed in transform: used up its fuel of 1000000 (limits.fuel)",
    ]);
    assert!(
        run.took < Duration::from_secs(30),
        "stopped after {:?}",
        run.took
    );
    assert_no_outputs(&dir.join("out"));
}

/// Series a metrics flood emits per call (one call per batch, two batches).
const FLOOD: u64 = 99_000;

/// Run hostile steps that each emit the same [`FLOOD`] metric series on
/// both batches of the input; `spec` lines add limits, `steps` are
/// `(name, extra)` in a chain. Prints the run's time and peak memory.
fn flood(spec: &[&str], steps: &[(&str, &str)]) -> (Workdir, Run, serde_json::Value, String) {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let mut pipeline = Pipeline::new("in.csv")
        .plugin("hostile", &plugin("hostile"))
        .spec("batchRows: 2");
    for line in spec {
        pipeline = pipeline.spec(line);
    }
    for (name, extra) in steps {
        let config = json!({ "attack": "metrics-flood", "series": FLOOD });
        pipeline = pipeline.step(name, "hostile", config, extra);
    }
    let run = dir.run(&pipeline.write(&dir, "pipeline.yaml"), &[]);
    run.ok().never_says("ESCAPED");
    assert_passed_through(
        &dir.join("out"),
        &steps.iter().map(|s| s.0).collect::<Vec<_>>(),
    );
    let report = read_json(&dir.join("out/report.json"));
    let prom = std::fs::read_to_string(dir.join("out/metrics.prom")).unwrap();
    eprintln!(
        "metrics flood, {} step(s) x {FLOOD} series x 2 batches: weft run took {:.2?}, peak RSS {:.1} MiB, metrics.prom {} KiB",
        steps.len(),
        run.took,
        report["peakRssBytes"].as_f64().unwrap_or(f64::NAN) / f64::from(1 << 20),
        prom.len() >> 10
    );
    assert_valid_exposition(&prom);
    (dir, run, report, prom)
}

/// What step `name` kept and dropped: its `weft_flood` series in
/// metrics.prom and report.json, and its dropped counter in both.
#[track_caller]
fn assert_flood(report: &serde_json::Value, prom: &str, name: &str, kept: usize, dropped: u64) {
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap();
    assert_eq!(step["metrics"].as_array().unwrap().len(), kept);
    assert_eq!(step["droppedMetricSeries"], dropped);
    let label = format!("step=\"{name}\"");
    let series = prom
        .lines()
        .filter(|l| l.starts_with("weft_flood{") && l.contains(&label))
        .count();
    assert_eq!(series, kept, "weft_flood series of step {name}");
    let counter =
        format!("weft_metric_series_dropped_total{{pipeline=\"test\",{label}}} {dropped}");
    assert!(
        prom.lines().any(|l| l == counter),
        "metrics.prom lacks {counter:?}"
    );
}

#[test]
fn a_metrics_flood_is_capped_with_one_warning() {
    let (_dir, run, report, prom) = flood(&[], &[("flood", "")]);
    // 1000 series kept (updated by the second batch); 98 000 new ones
    // refused on each of the two batches.
    assert_flood(&report, &prom, "flood", 1000, 2 * 98_000);
    run.stderr_has(&[
        "warning: step \"flood\" emitted more than 1000 metric series; 196000 values of new series were dropped (raise limits.maxMetricSeries)",
    ]);
    assert_eq!(run.stderr.matches("warning:").count(), 1, "{}", run.stderr);
}

#[test]
fn a_raised_series_limit_lets_more_through_up_to_the_run_cap() {
    let (_dir, run, report, prom) = flood(
        &["workers: 1", "limits: { maxMetricSeries: 6000 }"],
        &[
            ("first", ""),
            (
                "second",
                "needs: [first], limits: { maxMetricSeries: 8000 }",
            ),
        ],
    );
    // `first` keeps its 6000; `second` could keep 8000, but the run's
    // 10 000 leave it 4000.
    assert_flood(&report, &prom, "first", 6000, 2 * 93_000);
    assert_flood(&report, &prom, "second", 4000, 2 * 95_000);
    run.stderr_has(&[
        "warning: step \"first\" emitted more than 6000 metric series; 186000 values",
        "warning: step \"second\" emitted metric series past the run's cap of 10000 (all steps together); 190000 values",
    ]);
    assert_eq!(run.stderr.matches("warning:").count(), 2, "{}", run.stderr);
}

#[test]
fn a_chatty_step_is_streamed_rate_limited_and_cannot_forge_records() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    // 2 batches x 60 000 lines of each stream: 1.6 MiB, past the 1 MiB that
    // used to break the guest's stdout.
    let manifest = Pipeline::new("in.csv")
        .plugin("hostile", &plugin("hostile"))
        .spec("batchRows: 2")
        .step(
            "chat",
            "hostile",
            json!({ "attack": "chatty", "n": 60_000 }),
            "",
        )
        .write(&dir, "pipeline.yaml");
    let run = dir.run(&manifest, &["--log", "info"]);
    run.ok().stderr_has(&[
        "out line 0",
        "err line 0",
        "lines not logged: more than 100 lines per second",
        "real record\\u{a}ERROR forged record \\u{1b}[31mred",
    ]);
    assert_passed_through(&dir.join("out"), &["chat"]);
    assert!(
        !run.stderr.lines().any(|l| l.starts_with("ERROR forged")) && !run.stderr.contains('\x1b'),
        "a forged record or an escape reached the log:\n{}",
        &run.stderr[..run.stderr.len().min(4000)]
    );
    let logged = run.stderr.matches("out line").count();
    assert!(
        (1000..10_000).contains(&logged),
        "{logged} stdout lines logged"
    );
    eprintln!("chatty step, 2 x 60 000 lines per stream: {logged} stdout lines logged, weft run took {:.2?}", run.took);
}

/// One `hostile` step doing `attack` with `"n": n` over a column of `rows`
/// rows, with `spec` lines (batch size, limits). Prints what it cost.
fn attack_run(attack: &str, n: u64, rows: usize, spec: &[&str]) -> (Workdir, Run) {
    let dir = Workdir::new();
    let csv: String = std::iter::once("x\n".to_owned())
        .chain((0..rows).map(|i| format!("{}\n", i % 7)))
        .collect();
    dir.write("in.csv", &csv);
    let mut pipeline = Pipeline::new("in.csv").plugin("hostile", &plugin("hostile"));
    for line in spec {
        pipeline = pipeline.spec(line);
    }
    let config = json!({ "attack": attack, "n": n });
    let manifest = pipeline
        .step("evil", "hostile", config, "")
        .write(&dir, "pipeline.yaml");
    let run = dir.run(&manifest, &[]);
    eprintln!(
        "{attack} n={n} over {rows} rows ({spec:?}): exit {:?} after {:.2?}, peak RSS {} MiB",
        run.code,
        run.took,
        run.peak_rss >> 20
    );
    (dir, run)
}

#[test]
fn host_columns_kept_across_calls_hit_the_host_memory_limit() {
    // 32 MiB kept per call; before the budget, 100 calls held 3.1 GB.
    let spec = [
        "batchRows: 1",
        "workers: 1",
        "limits: { memory: 64Mi, maxOutput: 64Mi, spill: \"0\" }",
    ];
    let (dir, run) = attack_run("hoard", 4 << 20, 12, &spec);
    run.failed().stderr_has(&[
        "step \"evil\" failed in transform: step would hold more than 134217728 bytes of host memory",
        "(limits.hostMemory): 1006",
        "held, 33554432 more asked",
    ]);
    assert_no_outputs(&dir.join("out"));
    assert!(
        run.peak_rss < 600 << 20,
        "peak RSS {} MiB",
        run.peak_rss >> 20
    );

    // Spilled past a quarter of hostMemory (32 MiB), the hoard stops at
    // limits.spill instead: 3 columns written, the 4th refused.
    let spill = [
        spec[0],
        spec[1],
        "limits: { memory: 64Mi, maxOutput: 64Mi, spill: 100Mi }",
    ];
    let (dir, run) = attack_run("hoard", 4 << 20, 12, &spill);
    run.failed().stderr_has(&[
        "step \"evil\" failed in transform: step keeps more columns than a quarter of its host memory",
        "would pass limits.spill (104857600 bytes): 1006",
        "written, 3355",
        "more asked",
    ]);
    assert_no_outputs(&dir.join("out"));
    assert!(
        run.peak_rss < 600 << 20,
        "peak RSS {} MiB",
        run.peak_rss >> 20
    );

    // Small hoards fit, and the report says how much the step held.
    let (dir, run) = attack_run("hoard", 1000, 12, &spec);
    run.ok();
    let report = read_json(&dir.join("out/report.json"));
    let peak = report["steps"][0]["peakHostBytes"].as_u64().unwrap();
    assert!(
        (12 * 8000..12 * 9000).contains(&peak),
        "peakHostBytes {peak}"
    );
}

#[test]
fn kernel_outputs_are_refused_before_they_are_made() {
    // One-hot of 65 536 rows into 4000 columns: 2 GiB asked at once.
    let rows = ["batchRows: 65536"];
    let (dir, run) = attack_run(
        "one-hot-bomb",
        4000,
        65_536,
        &[rows[0], "limits: { maxOutput: 64Mi }"],
    );
    run.failed().stderr_has(&[
        "step \"evil\" failed in transform: step created more than 67108864 bytes of columns in one call (limits.maxOutput)",
    ]);
    assert_no_outputs(&dir.join("out"));
    assert!(
        run.peak_rss < 400 << 20,
        "peak RSS {} MiB",
        run.peak_rss >> 20
    );
    let limits = "limits: { memory: 64Mi, maxOutput: 8Gi }";
    let (_, run) = attack_run("one-hot-bomb", 4000, 65_536, &[rows[0], limits]);
    run.failed().stderr_has(&[" held, 2097152000 more asked"]);
    assert!(
        run.peak_rss < 400 << 20,
        "peak RSS {} MiB",
        run.peak_rss >> 20
    );
}

#[test]
fn a_long_kernel_stops_at_the_step_deadline() {
    // 65 536 rows x 3000 outputs: within every memory limit, minutes of work.
    let spec = [
        "batchRows: 65536",
        "limits: { timeoutSeconds: 1, maxOutput: 2Gi, hostMemory: 2Gi }",
    ];
    let (dir, run) = attack_run("matmul-bomb", 3000, 65_536, &spec);
    run.failed().stderr_has(&[
        "step \"evil\" failed in transform: ran longer than its limit of 1s (limits.timeoutSeconds)",
    ]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn a_kernels_working_space_counts_against_host_memory() {
    // A median (impute) and quantile bin edges (kbins) keep every batch's
    // column (2.4 MB held) and sort them all at the end: what they hold and
    // the sort's working space must fit the step's host memory.
    let dir = Workdir::new();
    let csv: String = std::iter::once("x\n".to_owned())
        .chain((0..300_000).map(|i| format!("{}\n", i % 1000)))
        .collect();
    dir.write("in.csv", &csv);
    let steps = [
        ("impute", json!({ "columns": ["x"], "strategy": "median" })),
        (
            "kbins",
            json!({ "columns": ["x"], "n_bins": 4, "strategy": "quantile" }),
        ),
    ];
    for (package, config) in steps {
        let pipeline = |host_memory: &str| {
            Pipeline::new("in.csv")
                .plugin("p", &plugin(package))
                .spec(&format!(
                    "limits: {{ hostMemory: {host_memory}, spill: \"0\" }}"
                ))
                .step("fit", "p", config.clone(), "")
                .write(&dir, "pipeline.yaml")
        };
        dir.run(&pipeline("4Mi"), &[]).failed().stderr_has(&[
            "step \"fit\" failed in",
            "bytes of host memory in columns, batches and models (limits.hostMemory)",
        ]);
        assert_no_outputs(&dir.join("out"));
        dir.run(&pipeline("16Mi"), &[]).ok();
        let report = read_json(&dir.join("out/report.json"));
        let peak = report["steps"][0]["peakHostBytes"].as_u64().unwrap();
        assert!(peak > 2_400_000, "{package}: {peak}");
        std::fs::remove_dir_all(dir.join("out")).unwrap();
    }
}

#[test]
fn a_median_of_millions_of_rows_needs_no_copy_of_them() {
    // 3M held int64 values (24 MB): a copy to sort would need 24 MB more,
    // past 40Mi; selecting where they lie needs ~9 MB. Values 0..999, each
    // 3000 times, so the median is 499.5; the null is filled with it.
    let dir = Workdir::new();
    let csv: String = ["x,y\n".to_owned(), ",0\n".to_owned()]
        .into_iter()
        .chain((0..3_000_000).map(|i| format!("{},0\n", i % 1000)))
        .collect();
    dir.write("in.csv", &csv);
    let pipeline = Pipeline::new("in.csv")
        .plugin("p", &plugin("impute"))
        .spec("limits: { hostMemory: 40Mi, spill: \"0\" }")
        .step(
            "fit",
            "p",
            json!({ "columns": ["x"], "strategy": "median" }),
            "",
        )
        .write(&dir, "pipeline.yaml");
    dir.run(&pipeline, &[]).ok();
    let report = read_json(&dir.join("out/report.json"));
    let peak = report["steps"][0]["peakHostBytes"].as_u64().unwrap();
    assert!(peak > 24_000_000, "{peak}");
    let out = read_parquet(&dir.join("out/data.parquet"));
    let x = out
        .column_by_name("x")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>();
    assert_eq!(x.map(|x| x.value(0)), Some(499.5));
}

#[test]
fn a_median_of_more_rows_than_host_memory_holds_spills_them() {
    // 3M rows of an int64 and a float64 column (48 MB held) under
    // hostMemory 16Mi: past a quarter of it the kept columns move to the
    // spill file, and the medians read them back a column at a time.
    let dir = Workdir::new();
    let y = |i: u64| (i * 7919 % 1_000_003) as f64 / 7.0;
    let mut csv = String::from("x,y\n,\n");
    for i in 0..3_000_000u64 {
        let y = if i % 50 == 0 {
            String::new()
        } else {
            y(i).to_string()
        };
        csv.push_str(&format!("{},{y}\n", i % 1000));
    }
    dir.write("in.csv", &csv);
    let mut ys: Vec<f64> = (0..3_000_000u64).filter(|i| i % 50 != 0).map(y).collect();
    ys.sort_unstable_by(f64::total_cmp);
    let median_y = (ys[ys.len() / 2 - 1] + ys[ys.len() / 2]) / 2.0;
    let pipeline = |limits: &str| {
        Pipeline::new("in.csv")
            .plugin("p", &plugin("impute"))
            .spec(&format!("limits: {{ hostMemory: 16Mi{limits} }}"))
            .step(
                "fit",
                "p",
                json!({ "columns": ["x", "y"], "strategy": "median" }),
                "",
            )
            .write(&dir, "pipeline.yaml")
    };
    dir.run(&pipeline(""), &[]).ok();
    let report = read_json(&dir.join("out/report.json"));
    let step = &report["steps"][0];
    let (peak, spilled) = (
        step["peakHostBytes"].as_u64(),
        step["spilledBytes"].as_u64(),
    );
    assert!(peak.unwrap() < 16 << 20, "{peak:?}");
    assert!(spilled.unwrap() > 40_000_000, "{spilled:?}");
    let out = read_parquet(&dir.join("out/data.parquet"));
    let first = |name: &str| {
        let column = out.column_by_name(name).unwrap();
        column
            .as_any()
            .downcast_ref::<Float64Array>()
            .map(|c| c.value(0))
    };
    assert_eq!((first("x"), first("y")), (Some(499.5), Some(median_y)));
    std::fs::remove_dir_all(dir.join("out")).unwrap();

    // Without spilling, the same run stops at hostMemory; with too little
    // spill, at limits.spill; neither leaves an output.
    dir.run(&pipeline(", spill: \"0\""), &[])
        .failed()
        .stderr_has(&[
            "step \"fit\" failed in fit: step would hold more than 16777216 bytes of host memory",
        ]);
    assert_no_outputs(&dir.join("out"));
    dir.run(&pipeline(", spill: 8Mi"), &[])
        .failed()
        .stderr_has(&[
            "step \"fit\" failed in fit: step keeps more columns than a quarter of its host memory",
            "limits.spill (8388608 bytes)",
        ]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn a_manifest_cannot_mount_folders_outside_its_own() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    dir.write("models/m.txt", "ok\n");
    std::os::unix::fs::symlink("/etc", dir.join("etc-link")).unwrap();
    let step = |path: &str| {
        Pipeline::new("in.csv")
            .plugin("hostile", &plugin("hostile"))
            .step(
                "evil",
                "hostile",
                json!({ "attack": "none" }),
                &format!("mounts: [ {{ path: {path}, as: /granted }} ]"),
            )
            .write(&dir, "pipeline.yaml")
    };
    for (path, shown) in [
        ("/etc", "/etc"),
        ("../../../../etc", "/etc"),
        ("etc-link", "/etc"),
    ] {
        let manifest = step(path);
        let message =
            format!("step \"evil\": mount path {path:?} is {shown}, outside the manifest's folder");
        dir.validate(&manifest).failed().stderr_has(&[
            "pipeline.yaml:",
            &message,
            "WEFT_MOUNT_ROOTS",
        ]);
        dir.run(&manifest, &[]).failed().stderr_has(&[&message]);
        assert_no_outputs(&dir.join("out"));
    }
    dir.validate(&step("models")).ok();
    // A folder an operator allows explicitly.
    let allowed = Workdir::new();
    let manifest = step(&allowed.path().display().to_string());
    let roots = allowed.path().as_os_str();
    weft_with(
        dir.path(),
        ["validate", manifest.to_str().unwrap()],
        &[("WEFT_MOUNT_ROOTS", roots)],
    )
    .ok();
}
