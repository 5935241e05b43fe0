//! Dense layers of ONNX networks on the GPU through the real `weft` binary,
//! on Mesa lavapipe (a real Vulkan driver on the CPU; `--compute gpu`
//! accepts a software adapter). `tests/python/dense_nets.py` writes
//! hand-made networks (Gemm and MatMul + Add forms, every activation), two
//! scikit-learn MLPs exported by skl2onnx and a forest, with a float64
//! numpy forward pass and scikit-learn's `predict_proba` as references.
//! The GPU run must equal them, and ONNX Runtime's run, within f32
//! rounding, and say in report.json where each model ran.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arrow::record_batch::RecordBatch;
use serde_json::json;
use weft_tests::*;

const MOUNT: &str = "mounts: [ { path: models, as: /models } ]";
/// The nets, each with its number of classes.
const NETS: [(&str, usize); 6] = [
    ("dense_gemm", 2),
    ("dense_matmul", 2),
    ("dense_acts", 2),
    ("mlp2", 2),
    ("mlp3", 3),
    ("forest", 2),
];

/// The nets, their data and references, made once.
fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("dense-nets");
        let _ = std::fs::remove_dir_all(&dir);
        let args = ["export".as_ref(), "--out".as_ref(), dir.as_os_str()];
        python_fixture("dense_nets.py", &args);
        dir
    })
}

/// A pipeline scoring every net in `nets`, one step each, with `extra`
/// step YAML, in a work folder holding the models.
fn scoring(nets: &[(&str, usize)], extra: &str) -> (Workdir, PathBuf) {
    let dir = Workdir::new();
    let mut p = Pipeline::new(fixture().join("data.parquet").to_str().unwrap())
        .plugin("onnx", &plugin("onnx-model"))
        .spec("batchRows: 512");
    for (name, _) in nets {
        dir.write(
            format!("models/{name}.onnx"),
            std::fs::read(fixture().join(format!("{name}.onnx"))).unwrap(),
        );
        let mut outputs = json!({"probabilities": format!("{name}_p")});
        if !name.starts_with("dense") {
            outputs["label"] = json!(format!("{name}_label"));
        }
        let config = json!({
            "model": format!("/models/{name}.onnx"),
            "features": (0..8).map(|i| format!("f{i}")).collect::<Vec<_>>(),
            "outputs": outputs,
        });
        let step = name.replace('_', "-");
        p = p.step(&step, "onnx", config, &format!("{MOUNT}{extra}"));
    }
    let manifest = p.write(&dir, "pipeline.yaml");
    (dir, manifest)
}

/// Each net's probabilities in `out` against the references, and against
/// `other` (another run's output) within f32 rounding.
fn check(out: &RecordBatch, other: Option<&RecordBatch>) {
    for (name, classes) in NETS {
        compare(out, name, classes, other);
    }
}

/// Net `name`'s probabilities of `classes` classes in `out`.
fn compare(out: &RecordBatch, name: &str, classes: usize, other: Option<&RecordBatch>) {
    let want = read_parquet(&fixture().join("expected.parquet"));
    for class in 0..classes {
        let got = f64s(out, &format!("{name}_p_{class}"));
        let label = format!("{name} p{class}");
        let reference = f64s(&want, &format!("{name}_p{class}"));
        assert_close(&label, &got, &reference, 0.0, 1e-5);
        if let Some(other) = other {
            let other = f64s(other, &format!("{name}_p_{class}"));
            assert_close(&label, &got, &other, 1e-5, 1e-6);
        }
    }
}

/// The report's `compute` of each step, by step name.
fn computes(dir: &Workdir) -> Vec<(String, String)> {
    let report = read_json(&dir.join("out/report.json"));
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["compute"].to_string(),
            )
        })
        .collect()
}

#[test]
fn dense_layers_run_on_lavapipe_as_on_onnx_runtime() {
    let (gpu, manifest) = scoring(&NETS, "");
    gpu.run(&manifest, &["--compute", "gpu"]).ok();
    let (cpu, manifest) = scoring(&NETS, "");
    cpu.run(&manifest, &["--compute", "cpu"]).ok();
    let on_cpu = read_parquet(&cpu.join("out/data.parquet"));
    let on_gpu = read_parquet(&gpu.join("out/data.parquet"));
    check(&on_cpu, None);
    check(&on_gpu, Some(&on_cpu));
    let want = read_parquet(&fixture().join("expected.parquet"));
    for name in ["mlp2", "mlp3"] {
        let label = |batch| f64s(batch, &format!("{name}_label"));
        assert_eq!(label(&on_gpu), label(&want), "{name}: labels");
    }
    for (step, compute) in computes(&gpu) {
        let lavapipe = compute.contains("llvmpipe") && compute.contains("software");
        let onnxruntime = compute.contains("onnxruntime 1.32.0 (cpu)");
        let trees = compute.contains("weft trees (cpu)");
        let want = match step.as_str() {
            // The dense nets' one output is the last layer's.
            s if s.starts_with("dense") => (true, false, false),
            // The MLPs' labels come from nodes after the layers.
            "mlp2" | "mlp3" => (true, true, false),
            // The forest runs on weft's own tree evaluator.
            _ => (false, false, true),
        };
        assert_eq!((lavapipe, onnxruntime, trees), want, "{step}: {compute}");
    }
    for (step, compute) in computes(&cpu) {
        let want = match step.as_str() {
            "forest" => r#"["weft trees (cpu)"]"#,
            _ => r#"["onnxruntime 1.32.0 (cpu)"]"#,
        };
        assert_eq!(compute, want, "{step}");
    }
    let report = read_json(&gpu.join("out/report.json"));
    let hits = report["gpuTransfers"]["residentHits"].as_u64().unwrap();
    assert!(
        hits > 0,
        "weights are sent once: {}",
        report["gpuTransfers"]
    );
}

#[test]
fn dense_layers_over_the_gpu_memory_limit_run_on_onnx_runtime() {
    let nets = [NETS[0], NETS[3]];
    let (dir, manifest) = scoring(&nets, ", limits: { gpuMemory: 2Ki }");
    dir.run(&manifest, &["--compute", "gpu"]).ok();
    for (name, _) in nets {
        check_one(&dir, name);
    }
    for (step, compute) in computes(&dir) {
        assert_eq!(compute, r#"["onnxruntime 1.32.0 (cpu)"]"#, "{step}");
    }
}

/// ONNX Runtime scores this net in milliseconds; lavapipe takes seconds.
#[test]
fn dense_layers_past_the_deadline_on_the_gpu_are_stopped() {
    let limits = ", limits: { timeoutSeconds: 1, gpuMemory: 64Mi }";
    let (dir, manifest) = scoring(&[("dense_slow", 1)], limits);
    dir.run(&manifest, &["--compute", "gpu"])
        .failed()
        .stderr_has(&[
            "step \"dense-slow\"",
            "ran longer than its limit of 1s (limits.timeoutSeconds)",
        ]);
}

#[test]
fn without_an_adapter_auto_scores_on_onnx_runtime() {
    let (dir, manifest) = scoring(&NETS[..1], "");
    let (runtime, cache) = (onnxruntime_lib().unwrap(), cache_dir());
    let envs = [
        ("VK_ICD_FILENAMES", OsStr::new("/nonexistent/icd.json")),
        ("VK_DRIVER_FILES", OsStr::new("/nonexistent/icd.json")),
        ("WEFT_ONNXRUNTIME", runtime.as_os_str()),
        ("WEFT_CACHE_DIR", cache.as_os_str()),
    ];
    let args = [OsStr::new("run"), OsStr::new("-q"), manifest.as_os_str()];
    weft_with(dir.path(), args, &envs).ok();
    check_one(&dir, "dense_gemm");
    assert_eq!(computes(&dir)[0].1, r#"["onnxruntime 1.32.0 (cpu)"]"#);
}

/// Net `name`'s two probabilities in the run's output, against the reference.
fn check_one(dir: &Workdir, name: &str) {
    compare(&read_parquet(&dir.join("out/data.parquet")), name, 2, None);
}

/// The networks with bytes flipped at random: whatever ONNX Runtime still
/// loads, weft's planner takes or refuses, and a run on lavapipe (the
/// dense head, then the tail model written from the mutated graph) scores
/// or errs, without a panic.
#[test]
fn mutated_networks_load_and_run_on_the_gpu_or_are_refused() {
    use_test_onnxruntime();
    let device = weft_gpu::Device::new(weft_gpu::Choice::Gpu).unwrap();
    let gpu = weft_models::Offload {
        device: &device,
        max_bytes: 64 << 20,
    };
    let x = read_parquet(&fixture().join("data.parquet"));
    let features: Vec<_> = (0..8)
        .map(|i| x.column_by_name(&format!("f{i}")).unwrap().slice(0, 100))
        .collect();
    let models = weft_models::Models::default();
    let mut rng = weft_fuzz::Rng::new(0x2545_f491_4f6c_dd1d);
    let (mut gpu_runs, mut tried) = (0, 0);
    for (name, _) in &NETS[..5] {
        let bytes = std::fs::read(fixture().join(format!("{name}.onnx"))).unwrap();
        for _ in 0..40 {
            let mut mutant = bytes.clone();
            let at = rng.below(mutant.len());
            mutant[at] ^= 1 << rng.below(8);
            tried += 1;
            let Ok(model) = models.load(mutant) else {
                continue;
            };
            let wanted: Vec<String> = model.outputs().iter().map(|p| p.name.clone()).collect();
            if let Ok((_, ran)) = model.run(&features, &wanted, u64::MAX, None, Some(gpu)) {
                gpu_runs += usize::from(ran.gpu);
            }
        }
    }
    assert!(gpu_runs > 0, "{gpu_runs} of {tried} mutants ran on the GPU");
}
