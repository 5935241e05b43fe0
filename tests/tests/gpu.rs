//! Compute offload through the real `weft` binary, on Mesa lavapipe (a real
//! Vulkan driver on the CPU; `--compute gpu` accepts a software adapter):
//! custom WGSL kernels from a sandboxed step and their limits, the built-in
//! kernels of `scale` on the device vs the CPU, and what happens without
//! any adapter (the Vulkan loader pointed at a driver file that does not
//! exist).

use std::ffi::OsStr;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array};
use arrow::record_batch::RecordBatch;
use serde_json::{json, Value};
use weft_tests::*;

/// `output[i] = 2 * input[i]`.
const DOUBLE: &str = r#"
@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < arrayLength(&input) {
        output[id.x] = input[id.x] * 2.0;
    }
}
"#;

const ROWS: usize = 1000;

/// Environment that hides every Vulkan driver from the loader.
const NO_DRIVER: [(&str, &str); 3] = [
    ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
    ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
    ("WGPU_BACKEND", "vulkan"),
];

/// A work folder with `in.parquet`: f32 columns `x` (with awkward values)
/// and `y`.
fn workdir() -> Workdir {
    let dir = Workdir::new();
    let x: Vec<f32> = (0..ROWS).map(|i| (i as f32 - 500.5) * 1.25).collect();
    let y: Vec<f32> = (0..ROWS).map(|i| ((i * 37) % 101) as f32 / 7.0).collect();
    let batch = RecordBatch::try_from_iter([
        ("x", Arc::new(Float32Array::from(x)) as ArrayRef),
        ("y", Arc::new(Float32Array::from(y)) as ArrayRef),
    ])
    .unwrap();
    write_parquet(&dir.join("in.parquet"), &batch);
    dir
}

/// A pipeline of one `wgsl` step with `config` and step `extra` YAML.
fn kernel(dir: &Workdir, config: Value, extra: &str) -> std::path::PathBuf {
    Pipeline::new("in.parquet")
        .plugin("wgsl", &plugin("wgsl"))
        .step("k", "wgsl", config, extra)
        .write(dir, "pipeline.yaml")
}

fn doubling(extra: Value) -> Value {
    let mut config = json!({"column": "x", "output": "x2", "source": DOUBLE});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    config
}

/// `weft run -q MANIFEST ARGS...` in `dir` with extra environment.
fn run_env(dir: &Workdir, manifest: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all: Vec<&OsStr> = vec!["run".as_ref(), "-q".as_ref(), manifest.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    let cache = cache_dir();
    let mut envs: Vec<(&str, &OsStr)> = vec![("WEFT_CACHE_DIR", cache.as_os_str())];
    envs.extend(env.iter().map(|(k, v)| (*k, OsStr::new(*v))));
    weft_with(dir.path(), all, &envs)
}

/// The devices the report says step `i` ran its kernels on.
fn devices(dir: &Workdir, i: usize) -> String {
    read_json(&dir.join("out/report.json"))["steps"][i]["compute"].to_string()
}

/// Ten batches on four workers: concurrent submissions to the one device.
#[test]
fn a_custom_kernel_runs_on_lavapipe_from_the_sandbox() {
    let dir = workdir();
    let manifest = Pipeline::new("in.parquet")
        .plugin("wgsl", &plugin("wgsl"))
        .spec("batchRows: 100")
        .spec("workers: 4")
        .step("k", "wgsl", doubling(json!({})), "")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &["--compute", "gpu"]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    let x = f64s(&out, "x");
    let doubled: Vec<Option<f64>> = x.iter().map(|v| v.map(|v| v * 2.0)).collect();
    assert_eq!(f64s(&out, "x2"), doubled);
    assert_eq!(names(&out), ["x", "y", "x2"]);
    let used = devices(&dir, 0);
    assert!(
        used.contains("llvmpipe") && used.contains("software"),
        "{used}"
    );
    let report = read_json(&dir.join("out/report.json"));
    let metrics = report["steps"][0]["metrics"].as_array().unwrap();
    // Every batch emits `device_seen{kind}`; the report keeps each series
    // once: a batch on another kind of device would add a series.
    assert_eq!(
        metrics.len(),
        1,
        "one series, every batch on lavapipe: {metrics:?}"
    );
    assert!(
        metrics.iter().all(|m| m["labels"]["kind"] == "software"),
        "{metrics:?}"
    );
}

/// The run fails in step `k`, names the problem, and writes nothing.
#[track_caller]
fn refused(config: Value, extra: &str, needles: &[&str]) {
    let dir = workdir();
    let manifest = kernel(&dir, config, extra);
    let run = dir.run(&manifest, &["--compute", "gpu"]);
    run.failed()
        .stderr_has(&["step \"k\" failed in transform"])
        .stderr_has(needles);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn an_invalid_shader_is_a_step_error_with_its_line() {
    let broken = DOUBLE.replace("input[id.x] * 2.0", "input[id.x] * undefined_name");
    refused(
        json!({"column": "x", "output": "x2", "source": broken}),
        "",
        &["invalid input", "invalid WGSL shader", "line 8:"],
    );
    refused(
        doubling(json!({"entry": "absent"})),
        "",
        &["no compute entry point named `absent`"],
    );
}

#[test]
fn buffers_bytes_and_workgroups_are_capped_by_the_manifest() {
    refused(
        doubling(json!({})),
        "limits: { gpuMemory: 4Ki }",
        &[
            "limit on total buffer bytes",
            "asks for 8000",
            "the limit is 4096",
        ],
    );
    refused(
        doubling(json!({"extra_buffers": 1})),
        "limits: { gpuBuffers: 2 }",
        &["limit on buffers", "asks for 3", "the limit is 2"],
    );
    refused(
        doubling(json!({"workgroups": [1024, 1024, 2]})),
        "",
        &[
            "limit on workgroups",
            "asks for 2097152",
            "the limit is 1048576",
        ],
    );
    refused(
        doubling(json!({"workgroups": [64, 1, 1]})),
        "limits: { gpuWorkgroups: 16 }",
        &["limit on workgroups", "asks for 64", "the limit is 16"],
    );
}

#[test]
fn a_bad_gpu_limit_is_a_manifest_error() {
    let dir = workdir();
    let manifest = kernel(&dir, doubling(json!({})), "limits: { gpuMemory: lots }");
    dir.validate(&manifest)
        .failed()
        .stderr_has(&["limits.gpuMemory"]);
}

#[test]
fn scale_on_lavapipe_equals_scale_on_the_cpu_and_numpy() {
    let config = json!({"columns": ["x", "y"], "method": "standard"});
    let mut outputs = Vec::new();
    for (compute, device) in [("gpu", "llvmpipe"), ("cpu", "\"cpu\"")] {
        let dir = workdir();
        let manifest = Pipeline::new("in.parquet")
            .plugin("scale", &plugin("scale"))
            .step("s", "scale", config.clone(), "")
            .write(&dir, "pipeline.yaml");
        dir.run(&manifest, &["--compute", compute]).ok();
        let used = devices(&dir, 0);
        assert!(used.contains(device), "{compute}: {used}");
        outputs.push(read_parquet(&dir.join("out/data.parquet")));
    }
    let input = read_parquet(&workdir().join("in.parquet"));
    for column in ["x", "y"] {
        let raw: Vec<f64> = f64s(&input, column)
            .into_iter()
            .map(Option::unwrap)
            .collect();
        let mean = raw.iter().sum::<f64>() / raw.len() as f64;
        let std = (raw.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / raw.len() as f64).sqrt();
        let want: Vec<Option<f64>> = raw.iter().map(|v| Some((v - mean) / std)).collect();
        for (out, compute) in outputs.iter().zip(["gpu", "cpu"]) {
            assert_close(
                &format!("{column} on {compute}"),
                &f64s(out, column),
                &want,
                1e-5,
                1e-5,
            );
        }
        assert_close(
            column,
            &f64s(&outputs[0], column),
            &f64s(&outputs[1], column),
            1e-6,
            1e-6,
        );
    }
}

#[test]
fn without_an_adapter_gpu_is_a_clear_error_and_auto_falls_back() {
    let dir = workdir();
    let scale = Pipeline::new("in.parquet")
        .plugin("scale", &plugin("scale"))
        .step(
            "s",
            "scale",
            json!({"columns": ["x"], "method": "standard"}),
            "",
        )
        .write(&dir, "pipeline.yaml");
    run_env(&dir, &scale, &["--compute", "gpu"], &NO_DRIVER)
        .failed()
        .stderr_has(&["no GPU adapter is visible", "WEFT_COMPUTE=auto"]);
    assert_no_outputs(&dir.join("out"));
    let mut env = NO_DRIVER.to_vec();
    env.push(("WEFT_COMPUTE", "gpu"));
    run_env(&dir, &scale, &[], &env)
        .failed()
        .stderr_has(&["no GPU adapter is visible"]);
    run_env(&dir, &scale, &["--compute", "auto"], &NO_DRIVER).ok();
    assert_eq!(devices(&dir, 0), "[\"cpu\"]");

    let custom = kernel(&dir, doubling(json!({})), "");
    run_env(&dir, &custom, &[], &NO_DRIVER)
        .failed()
        .stderr_has(&["run-wgsl", "custom WGSL kernels need a GPU adapter"]);
}

#[test]
fn an_unknown_compute_choice_is_refused() {
    let dir = workdir();
    let manifest = kernel(&dir, doubling(json!({})), "");
    run_env(&dir, &manifest, &[], &[("WEFT_COMPUTE", "tpu")])
        .failed()
        .stderr_has(&["WEFT_COMPUTE=\"tpu\"", "auto, gpu, cpu"]);
    let usage = dir.run(&manifest, &["--compute", "tpu"]);
    assert_eq!(usage.code, Some(2), "a usage error: {}", usage.stderr);
    usage.stderr_has(&["invalid value 'tpu' for '--compute", "auto, gpu or cpu"]);
    usage.never_says("WEFT_COMPUTE");
}

/// `scale` on x followed by `then` (plugin, config), run with `--compute
/// gpu` and `--compute cpu`: each run's `gpuTransfers` and output.
fn after_scale(then: (&str, Value)) -> Vec<(Value, RecordBatch)> {
    ["gpu", "cpu"]
        .into_iter()
        .map(|compute| {
            let dir = workdir();
            let scale = json!({"columns": ["x"], "method": "standard"});
            let manifest = Pipeline::new("in.parquet")
                .plugin("scale", &plugin("scale"))
                .plugin(then.0, &plugin(then.0))
                .step("first", "scale", scale, "")
                .step("second", then.0, then.1.clone(), "needs: [first]")
                .write(&dir, "pipeline.yaml");
            dir.run(&manifest, &["--compute", compute]).ok();
            let report = read_json(&dir.join("out/report.json"));
            let output = read_parquet(&dir.join("out/data.parquet"));
            (report["gpuTransfers"].clone(), output)
        })
        .collect()
}

/// The GPU run's transfers, checked against `want` (uploads, resident
/// hits, downloads); its x equals the CPU run's, which had no transfers.
fn check_transfers(runs: &[(Value, RecordBatch)], want: [u64; 3]) {
    let (gpu, cpu) = (&runs[0], &runs[1]);
    let count = |key: &str| gpu.0[key].as_u64().unwrap();
    let got = [count("uploads"), count("residentHits"), count("downloads")];
    assert_eq!(got, want, "{}", gpu.0);
    assert_eq!(count("downloadedBytes"), 4 * ROWS as u64, "{}", gpu.0);
    assert!(cpu.0.is_null(), "{}", cpu.0);
    let x = |run: &(Value, RecordBatch)| f64s(&run.1, "x");
    assert_close("x", &x(gpu), &x(cpu), 1e-5, 1e-5);
}

/// Two `scale` steps in a row on lavapipe (one batch). Fit pass 1 uploads
/// x; pass 2 uploads x for `first`'s affine and `second` fits on the
/// result where it is; the transform pass uploads x once more, `second`
/// transforms the result where it is, and its result is copied back once,
/// for the output.
#[test]
fn a_column_stays_on_the_device_between_steps() {
    let runs = after_scale(("scale", json!({"columns": ["x"], "method": "standard"})));
    check_transfers(&runs, [3, 2, 1]);
}

/// `scale` then `impute` (mean): impute's fit reads the scaled column's
/// statistics where it is; its transform reads the values (fill-nulls on
/// the host), which copies them back once, and writes a host column, so
/// the output costs no further copy.
#[test]
fn a_kept_column_is_copied_back_when_a_step_reads_it() {
    let runs = after_scale(("impute", json!({"columns": ["x"], "strategy": "mean"})));
    check_transfers(&runs, [3, 1, 1]);
}

/// A shader that runs for seconds: Mesa's lavapipe ends every loop after
/// 65535 iterations, so the work is spread over 4000 workgroups of 64
/// invocations (about 2 s of both CPUs here) rather than one endless loop.
const SPIN: &str = r#"
@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    var x = id.x + u32(input[0]);
    for (var i = 0u; i < 65535u; i++) {
        x = x * 1664525u + 1013904223u + (x >> 13u);
    }
    output[id.x % arrayLength(&output)] = f32(x);
}
"#;

#[test]
fn a_slow_shader_is_stopped_at_the_step_deadline() {
    let config = json!({"column": "x", "output": "y", "source": SPIN, "workgroups": [4000, 1, 1]});
    refused(
        config,
        "limits: { timeoutSeconds: 0.2 }",
        &[
            "ran longer than its limit of 200ms",
            "limits.timeoutSeconds",
        ],
    );
}
