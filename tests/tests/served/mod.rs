//! What the `weft serve` tests share: a pipeline fitted by `weft run`, a
//! running server with an HTTP client, and requests of the training rows.
//! Each test target uses part of it.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Float64Array};
use arrow::record_batch::RecordBatch;
use serde_json::{json, Value};
use weft_tests::*;

/// Rows of the training data.
pub const ROWS: usize = 300;

/// Training rows: x (some nulls), y.
pub fn training(dir: &Workdir) {
    let x: Vec<Option<f64>> = (0..ROWS)
        .map(|i| (i % 9 != 0).then(|| (i as f64 * 0.73).cos() * 20.0 + 5.0))
        .collect();
    let y: Vec<f64> = (0..ROWS).map(|i| (i * 17 % 31) as f64).collect();
    let batch = RecordBatch::try_from_iter([
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("y", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap();
    write_parquet(&dir.join("train.parquet"), &batch);
}

/// impute x | scale x, y | hostile `attack`: fitted by a batch run.
pub fn fitted(attack: &str) -> (Workdir, std::path::PathBuf) {
    let dir = Workdir::new();
    training(&dir);
    let manifest = Pipeline::new("train.parquet")
        .plugin("impute", &plugin("impute"))
        .plugin("scale", &plugin("scale"))
        .plugin("hostile", &plugin("hostile"))
        .step(
            "fill",
            "impute",
            json!({"columns": ["x"], "strategy": "mean"}),
            "",
        )
        .step(
            "norm",
            "scale",
            json!({"columns": ["x", "y"], "method": "standard"}),
            "needs: [fill]",
        )
        .step("odd", "hostile", json!({"attack": attack}), "needs: [norm]")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    (dir, manifest)
}

/// A running `weft serve`, killed on drop.
pub struct Served {
    /// The server process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    agent: ureq::Agent,
    log: std::path::PathBuf,
}

impl Served {
    /// Start `weft serve MANIFEST --state out/state` in `dir` with `extra`
    /// options, on a free port; returns once `/readyz` answers 200.
    pub fn start(dir: &Workdir, manifest: &std::path::Path, extra: &[&str]) -> Served {
        Served::start_with(dir, manifest, extra, &[])
    }

    /// [`Served::start`] with `envs` set for the server.
    pub fn start_with(
        dir: &Workdir,
        manifest: &std::path::Path,
        extra: &[&str],
        envs: &[(&str, &std::ffi::OsStr)],
    ) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("serve.log");
        let child = Command::new(weft_bin())
            .current_dir(dir.path())
            .args(["--log-json", "--log", "info", "serve"])
            .arg(manifest)
            .args([
                "--state",
                "out/state",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(extra)
            .envs(onnxruntime_lib().map(|lib| ("WEFT_ONNXRUNTIME", lib)))
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let served = Served {
            child,
            url: format!("http://127.0.0.1:{port}"),
            agent,
            log,
        };
        for _ in 0..600 {
            if served.get("/readyz").0 == 200 {
                return served;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("weft serve did not get ready");
    }

    /// GET `path`: status and body (status 0 when no answer came).
    pub fn get(&self, path: &str) -> (u16, String) {
        match self.agent.get(format!("{}{path}", self.url)).call() {
            Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap()),
            Err(_) => (0, String::new()),
        }
    }

    /// POST `body` as `content_type`: status, headers' Retry-After, body.
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Option<String>, Vec<u8>) {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .send(body)
            .unwrap();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (
            r.status().as_u16(),
            retry,
            r.body_mut()
                .with_config()
                .limit(256 << 20)
                .read_to_vec()
                .unwrap(),
        )
    }

    /// POST `body` as JSON to `/v1/transform`: status and the answer.
    pub fn json(&self, body: &Value) -> (u16, Value) {
        let (status, _, bytes) = self.post(
            "/v1/transform",
            "application/json",
            body.to_string().as_bytes(),
        );
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// The exposition line starting with `prefix`, as a number.
    pub fn metric(&self, prefix: &str) -> f64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// Send the server a signal (`-HUP`, `-TERM`).
    pub fn signal(&self, which: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args([which, &pid])
            .status()
            .unwrap()
            .success());
    }

    /// Stop with SIGTERM; the exit status and what it logged.
    pub fn terminate(mut self) -> (Option<i32>, String) {
        self.signal("-TERM");
        let status = self.child.wait().unwrap();
        (status.code(), std::fs::read_to_string(&self.log).unwrap())
    }

    /// The server's peak resident memory so far (VmHWM), in MiB.
    pub fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("Linux reports VmHWM");
        kib / 1024.0
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `done` every 20 ms for up to 30 s; how long it took.
pub fn eventually(done: impl Fn() -> bool) -> Duration {
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if done() {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out");
}

/// The rows 10..20 of the training data as a request.
pub fn request_columns() -> Value {
    let x: Vec<Value> = (10..20)
        .map(|i| {
            if i % 9 == 0 {
                Value::Null
            } else {
                json!((i as f64 * 0.73).cos() * 20.0 + 5.0)
            }
        })
        .collect();
    let y: Vec<f64> = (10..20).map(|i| (i * 17 % 31) as f64).collect();
    json!({"columns": {"x": x, "y": y}})
}
