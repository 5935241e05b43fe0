//! `weft serve` over loopback with a real HTTP client: formats, bad bodies,
//! a trapping step under concurrent load, overload, hot reload during load,
//! and the SIGTERM drain. The served pipeline is fitted by `weft run`
//! first, and the online answer equals the batch run's on the same rows.

mod served;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Float64Array};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use serde_json::{json, Value};
use served::*;
use weft_tests::*;

#[test]
fn online_answers_equal_the_batch_run_in_every_format() {
    let (dir, manifest) = fitted("none");
    let served = Served::start(&dir, &manifest, &["--workers", "2"]);
    let batch = read_parquet(&dir.join("out/data.parquet"));
    let want = |column: &str| f64s(&batch, column)[10..20].to_vec();

    let (status, body) = served.json(&request_columns());
    assert_eq!(status, 200, "{body}");
    let got = |v: &Value| -> Vec<Option<f64>> {
        v.as_array().unwrap().iter().map(Value::as_f64).collect()
    };
    assert_close("x", &got(&body["columns"]["x"]), &want("x"), 1e-12, 1e-12);
    assert_close("y", &got(&body["columns"]["y"]), &want("y"), 1e-12, 1e-12);

    let columns = request_columns();
    let records: Vec<Value> = (0..10)
        .map(|i| json!({"x": columns["columns"]["x"][i], "y": columns["columns"]["y"][i]}))
        .collect();
    let (status, body) = served.json(&json!({ "records": records }));
    assert_eq!(status, 200, "{body}");
    let xs: Vec<Option<f64>> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["x"].as_f64())
        .collect();
    assert_close("x", &xs, &want("x"), 1e-12, 1e-12);

    // Arrow IPC in, Arrow IPC out.
    let input = batch_of(&columns);
    let mut writer = StreamWriter::try_new(Vec::new(), &input.schema()).unwrap();
    writer.write(&input).unwrap();
    let bytes = writer.into_inner().unwrap();
    let (status, _, body) = served.post(
        "/v1/transform",
        "application/vnd.apache.arrow.stream",
        &bytes,
    );
    assert_eq!(status, 200);
    let out: Vec<RecordBatch> = StreamReader::try_new(std::io::Cursor::new(body), None)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_close("x", &f64s(&out[0], "x"), &want("x"), 1e-12, 1e-12);

    // Health and metrics.
    assert_eq!(served.get("/healthz"), (200, "ok\n".into()));
    assert_eq!(
        served.metric("weft_serve_requests_total{route=\"/v1/transform\",status=\"200\"} "),
        3.0
    );
    assert!(served.metric("weft_serve_step_duration_seconds_count{step=\"norm\"} ") >= 3.0);
    assert_eq!(served.metric("weft_serve_pool_workers "), 2.0);
    assert_valid_exposition(&served.get("/metrics").1);
    let (_, evaluate) = served.json(&json!(null));
    assert!(evaluate["error"].is_string());
}

/// The request's columns as an Arrow batch (f64, nulls kept).
fn batch_of(request: &Value) -> RecordBatch {
    let column = |name: &str| -> ArrayRef {
        let values: Vec<Option<f64>> = request["columns"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::as_f64)
            .collect();
        Arc::new(Float64Array::from(values))
    };
    RecordBatch::try_from_iter([("x", column("x")), ("y", column("y"))]).unwrap()
}

#[test]
fn bad_bodies_get_a_4xx_that_says_what_is_wrong() {
    let (dir, manifest) = fitted("none");
    let served = Served::start(&dir, &manifest, &["--max-body", "2Ki"]);
    let cases: [(&str, &[u8], u16, &str); 6] = [
        ("application/json", b"{\"columns\": ", 400, "malformed JSON"),
        (
            "application/json",
            b"{\"columns\": {\"x\": [1], \"y\": [1, 2]}}",
            400,
            "column \"y\" has 2 values, the others 1",
        ),
        (
            "application/json",
            b"{\"columns\": {\"x\": [\"a\"], \"y\": [1]}}",
            422,
            "step \"fill\"",
        ),
        (
            "application/json",
            b"{\"columns\": {\"y\": [1.0]}}",
            422,
            "no column \"x\"",
        ),
        ("text/csv", b"x,y\n1,2\n", 415, "send application/json"),
        (
            "application/vnd.apache.arrow.stream",
            b"nope",
            400,
            "malformed Arrow IPC body",
        ),
    ];
    for (kind, body, status, says) in cases {
        let (got, _, text) = served.post("/v1/transform", kind, body);
        let answer: Value = serde_json::from_slice(&text).unwrap();
        let error = answer["error"].as_str().unwrap();
        let sent = String::from_utf8_lossy(body);
        assert_eq!(got, status, "{kind} {sent}: {error}");
        assert!(error.contains(says), "{error} lacks {says}");
    }
    let big = format!(
        "{{\"columns\": {{\"x\": [{}], \"y\": [1]}}}}",
        "1.0,".repeat(1000)
    );
    assert_eq!(
        served
            .post("/v1/transform", "application/json", big.as_bytes())
            .0,
        413
    );
    let (status, _, text) = served.post("/v1/evaluate", "application/json", b"[{\"x\": 1}]");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&text));
    // Still serving.
    assert_eq!(served.json(&request_columns()).0, 200);
}

#[test]
fn a_trapping_step_fails_its_requests_only_under_concurrent_load() {
    let (dir, manifest) = fitted("panic-on-boom");
    let served = Arc::new(Served::start(
        &dir,
        &manifest,
        &["--workers", "4", "--queue", "256"],
    ));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let served = served.clone();
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                for i in 0..25 {
                    let mut request = request_columns();
                    let boom = (t + i) % 5 == 0;
                    if boom {
                        request["columns"]["boom"] = json!(vec![1.0; 10]);
                    }
                    let (status, body) = served.json(&request);
                    outcomes.push((boom, status, body));
                }
                outcomes
            })
        })
        .collect();
    let outcomes: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(outcomes.len(), 200);
    for (boom, status, body) in &outcomes {
        if *boom {
            assert_eq!(*status, 500, "{body}");
            assert_eq!(body["step"], "odd", "{body}");
            assert!(body["error"].as_str().unwrap().contains("boom"), "{body}");
        } else {
            assert_eq!(*status, 200, "{body}");
        }
    }
}

#[test]
fn past_the_queue_requests_get_503_with_retry_after() {
    let (dir, manifest) = fitted("slow");
    let served = Arc::new(Served::start(
        &dir,
        &manifest,
        &["--workers", "1", "--queue", "0"],
    ));
    let busy = {
        let served = served.clone();
        std::thread::spawn(move || served.json(&request_columns()).0)
    };
    std::thread::sleep(Duration::from_millis(150));
    let body = request_columns().to_string();
    let (status, retry, text) = served.post("/v1/transform", "application/json", body.as_bytes());
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&text));
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(busy.join().unwrap(), 200);
}

#[test]
fn a_reload_during_load_drops_nothing_and_a_bad_version_is_refused() {
    let (dir, manifest) = fitted("none");
    let served = Arc::new(Served::start(
        &dir,
        &manifest,
        &["--workers", "2", "--watch", "0.2"],
    ));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (served, stop) = (served.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    statuses.push(served.json(&request_columns()).0);
                }
                statuses
            })
        })
        .collect();
    let reloads = |outcome: &str| {
        served.metric(&format!(
            "weft_serve_reloads_total{{outcome=\"{outcome}\"}} "
        ))
    };
    // A new version: the manifest changed (a step's config).
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"mean\"", "\"median\"")).unwrap();
    eventually(|| reloads("ok") >= 2.0);
    // A broken version is refused; the old one keeps serving.
    std::fs::write(&manifest, "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\n").unwrap();
    eventually(|| reloads("failed") >= 1.0);
    std::thread::sleep(Duration::from_millis(300));
    // One whose config the plugin's schema refuses: /v1/status says where.
    let bad = text.replace("\"mean\"", "\"modal\"");
    std::fs::write(&manifest, &bad).unwrap();
    eventually(|| reloads("failed") >= 2.0);
    let status: Value = serde_json::from_str(&served.get("/v1/status").1).unwrap();
    let config_at = bad.find("name: fill").unwrap()
        + bad[bad.find("name: fill").unwrap()..]
            .find("config")
            .unwrap();
    let line = bad[..config_at].matches('\n').count() + 1;
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(status["rejected"]["location"]["line"], line, "{status}");
    assert!(
        status["rejected"]["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("pipeline.yaml"),
        "{status}"
    );
    assert!(
        status["rejected"]["error"]
            .as_str()
            .unwrap()
            .contains("config.strategy: modal is not one of mean, median"),
        "{status}"
    );
    // Mended, it loads; SIGHUP reloads it again.
    std::fs::write(&manifest, &text).unwrap();
    eventually(|| reloads("ok") >= 3.0);
    let status: Value = serde_json::from_str(&served.get("/v1/status").1).unwrap();
    assert!(status["rejected"].is_null(), "{status}");
    served.signal("-HUP");
    eventually(|| reloads("ok") >= 4.0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses: Vec<u16> = load.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(statuses.len() > 20, "{}", statuses.len());
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

#[test]
fn sigterm_drains_requests_in_flight() {
    let (dir, manifest) = fitted("slow");
    let served = Served::start(&dir, &manifest, &["--grace", "10"]);
    let url = served.url.clone();
    let in_flight = std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .post(format!("{url}/v1/transform"))
            .header("content-type", "application/json")
            .send(request_columns().to_string())
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    });
    std::thread::sleep(Duration::from_millis(150));
    let (code, log) = served.terminate();
    let (status, body) = in_flight.join().unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(code, Some(0), "{log}");
    // Structured logs: one JSON object per line, requests with their id.
    let request = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "request")
        .unwrap_or_else(|| panic!("no request log in {log}"));
    assert_eq!(request["fields"]["status"], 200);
    assert!(request["fields"]["request_id"].is_string(), "{request}");
    assert!(log.contains("draining"), "{log}");
}
