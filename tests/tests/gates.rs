//! Gates, `metrics.prom`, the Pushgateway, and fitting on reference data,
//! through the real `weft` binary, real plugins and the real Prometheus
//! tools (`promtool`, `prometheus-pushgateway`, installed by
//! `scripts/setup.sh --test`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::json;
use weft_tests::{f64s, installed, plugin, read_json, read_parquet, Pipeline, Workdir};

/// 100 rows where the prediction is off by exactly 0.5: mae 0.5, mse 0.25.
fn scored(dir: &Workdir) {
    let mut csv = String::from("y,p\n");
    for i in 0..100 {
        csv.push_str(&format!("{i},{}\n", i as f64 + 0.5));
    }
    dir.write("in.csv", csv);
}

/// A pipeline that evaluates `in.csv` with regression-metrics and `gates`.
fn evaluated(dir: &Workdir, gates: &str) -> PathBuf {
    scored(dir);
    Pipeline::new("in.csv")
        .name("quality")
        .plugin("regression", &plugin("regression-metrics"))
        .step(
            "eval",
            "regression",
            json!({"target": "y", "prediction": "p"}),
            gates,
        )
        .write(dir, "pipeline.yaml")
}

fn code(run: &weft_tests::Run) -> Option<i32> {
    run.code
}

#[test]
fn a_failed_gate_exits_3_names_the_metric_and_keeps_outputs() {
    let dir = Workdir::new();
    let manifest = evaluated(
        &dir,
        "gates: [{metric: mae, max: 0.1}, {metric: mse, max: 1}]",
    );
    let run = dir.run(&manifest, &[]);
    assert_eq!(code(&run), Some(3), "{}", run.stderr);
    run.stderr_has(&["gate failed: step \"eval\": mae = 0.5, needs <= 0.1"])
        .never_says("mse = 0.25, needs");
    for file in ["data.parquet", "report.json", "metrics.prom"] {
        assert!(dir.join("out").join(file).exists(), "{file} was not kept");
    }
    let gates = &read_json(&dir.join("out/report.json"))["steps"][0]["gates"];
    assert_eq!(
        gates[0],
        json!({"metric": "mae", "value": 0.5, "max": 0.1, "passed": false})
    );
    assert_eq!(
        gates[1],
        json!({"metric": "mse", "value": 0.25, "max": 1.0, "passed": true})
    );
}

#[test]
fn passing_gates_exit_0_and_a_missing_metric_fails() {
    let dir = Workdir::new();
    let manifest = evaluated(&dir, "gates: [{metric: r2, min: 0.99}]");
    dir.run(&manifest, &[]).ok();
    let gate = &read_json(&dir.join("out/report.json"))["steps"][0]["gates"][0];
    assert_eq!(gate["passed"], true);

    let manifest = evaluated(&dir, "gates: [{metric: accuracy, min: 0.9}]");
    let run = dir.run(&manifest, &[]);
    assert_eq!(code(&run), Some(3));
    run.stderr_has(&["gate failed: step \"eval\": accuracy = not reported, needs >= 0.9"]);
}

#[test]
fn a_gate_without_bounds_is_a_manifest_error_at_its_step() {
    let dir = Workdir::new();
    let manifest = evaluated(&dir, "gates: [{metric: mae}]");
    let run = dir.validate(&manifest);
    run.failed();
    let line = run.error_line();
    assert!(line.contains("pipeline.yaml:"), "{line}");
    assert!(
        line.contains("the gate on \"mae\" needs a min, a max or both"),
        "{line}"
    );
}

fn promtool() -> Command {
    installed("promtool")
}

#[test]
fn metrics_prom_passes_promtool_and_carries_step_metrics_and_gates() {
    let dir = Workdir::new();
    let manifest = evaluated(&dir, "gates: [{metric: mae, max: 1}]");
    dir.run(&manifest, &[]).ok();
    let prom = dir.join("out/metrics.prom");
    let text = std::fs::read_to_string(&prom).unwrap();
    let out = promtool()
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&prom).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "weft_run_success{pipeline=\"quality\"} 1",
        "weft_run_rows_out_total{pipeline=\"quality\"} 100",
        "weft_step_rows_in_total{pipeline=\"quality\",step=\"eval\"} 100",
        "weft_step_errors_total{pipeline=\"quality\",step=\"eval\"} 0",
        "weft_mae{pipeline=\"quality\",step=\"eval\"} 0.5",
        "weft_mse{pipeline=\"quality\",step=\"eval\"} 0.25",
        "weft_gate_passed{pipeline=\"quality\",step=\"eval\",metric=\"mae\"} 1",
        "# TYPE weft_step_rows_in_total counter",
        "# TYPE weft_mae gauge",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "metrics.prom lacks {line:?}:\n{text}"
        );
    }
}

/// A real Pushgateway on a free loopback port, stopped on drop.
struct Gateway {
    child: Child,
    port: u16,
}

impl Gateway {
    fn start(dir: &Path) -> Gateway {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = installed("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--persistence.file={}",
                dir.join("gateway.db").display()
            ))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let gateway = Gateway { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while gateway.get("/-/ready").is_none() {
            assert!(Instant::now() < deadline, "the Pushgateway did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        gateway
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The body of `GET path`, or `None` when nothing answers.
    fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200").then(|| body.to_owned())
    }

    fn metrics(&self) -> String {
        self.get("/metrics")
            .expect("the Pushgateway serves /metrics")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn has_sample(metrics: &str, name: &str, labels: &[&str], value: &str) -> bool {
    metrics.lines().any(|l| {
        l.starts_with(&format!("{name}{{"))
            && labels.iter().all(|x| l.contains(x))
            && l.ends_with(&format!(" {value}"))
    })
}

#[test]
fn runs_push_to_a_real_pushgateway_grouped_by_job_and_pipeline() {
    let dir = Workdir::new();
    let gateway = Gateway::start(dir.path());
    let manifest = evaluated(&dir, "");
    dir.run(&manifest, &["--pushgateway", &gateway.url()]).ok();
    let metrics = gateway.metrics();
    let group = ["job=\"weft\"", "pipeline=\"quality\""];
    assert!(
        has_sample(
            &metrics,
            "weft_mae",
            &[&group[..], &["step=\"eval\""]].concat(),
            "0.5"
        ),
        "{metrics}"
    );
    assert!(
        has_sample(&metrics, "weft_run_success", &group, "1"),
        "{metrics}"
    );

    // A failing run replaces the group: success 0, an error on the step.
    dir.write("in.csv", "y,p\n1,x\n");
    let run = dir.run(&manifest, &["--pushgateway", &gateway.url()]);
    run.failed();
    let metrics = gateway.metrics();
    assert!(
        has_sample(&metrics, "weft_run_success", &group, "0"),
        "{metrics}"
    );
    assert!(
        has_sample(&metrics, "weft_step_errors_total", &["step=\"eval\""], "1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("weft_mae{"),
        "stale samples stayed: {metrics}"
    );
}

#[test]
fn an_unreachable_pushgateway_is_an_error_naming_the_url() {
    let dir = Workdir::new();
    let manifest = evaluated(&dir, "");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    dir.run(&manifest, &["--pushgateway", &url])
        .failed()
        .stderr_has(&[&format!(
            "pushing metrics to {url}/metrics/job/weft/pipeline/quality"
        )]);
}

#[test]
fn a_stateful_step_fits_on_its_reference_data() {
    let dir = Workdir::new();
    dir.write("ref.csv", "x\n10\n20\n30\n");
    dir.write("in.csv", "x\n20\n40\n");
    let manifest = Pipeline::new("in.csv")
        .plugin("scale", &plugin("scale"))
        .step(
            "scale",
            "scale",
            json!({"columns": ["x"], "method": "standard"}),
            "reference: { path: ref.csv }",
        )
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    // Reference mean 20, population std sqrt(200/3).
    let std = (200.0f64 / 3.0).sqrt();
    let out = f64s(&read_parquet(&dir.join("out/data.parquet")), "x");
    assert_eq!(out, vec![Some(0.0), Some(20.0 / std)]);
    let report = read_json(&dir.join("out/report.json"));
    assert_eq!(report["steps"][0]["fitRows"], 3);
}

#[test]
fn reference_data_on_a_step_that_fits_nothing_is_refused() {
    let dir = Workdir::new();
    dir.write("in.csv", "x\n1\n");
    let manifest = Pipeline::new("in.csv")
        .plugin("hostile", &plugin("hostile"))
        .step(
            "noop",
            "hostile",
            json!({"attack": "none"}),
            "reference: { path: in.csv }",
        )
        .write(&dir, "pipeline.yaml");
    let run = dir.validate(&manifest);
    run.failed();
    assert!(
        run.error_line()
            .contains("fits nothing, so it has no use for reference data"),
        "{}",
        run.stderr
    );
}
