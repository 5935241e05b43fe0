//! `weft serve` against abusive clients: bodies that would decode into far
//! more cells than they hold, malformed Arrow IPC streams, a step that
//! never ends, and connections that never finish a request. Each test
//! bounds what the server may spend (status codes, peak memory), never how
//! fast it is.

mod served;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, StringArray,
};
use arrow::datatypes::Int32Type;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use serde_json::{json, Value};
use served::*;

/// Records of the training columns, each with one more key of its own:
/// `n` rows that decode into `n` x (`n` + 2) cells.
fn sparse_records(n: usize) -> Vec<u8> {
    let records: Vec<Value> = (0..n)
        .map(|i| json!({"x": 1.5, "y": 2.0, format!("k{i}"): i}))
        .collect();
    json!({ "records": records }).to_string().into_bytes()
}

#[test]
fn sparse_keys_are_refused_before_they_cost_anything() {
    let (dir, manifest) = fitted("none");
    let served = Served::start(&dir, &manifest, &["--workers", "1"]);
    for n in [2000, 8000] {
        let body = sparse_records(n);
        let (status, _, text) = served.post("/v1/transform", "application/json", &body);
        let text = String::from_utf8_lossy(&text);
        assert_eq!(status, 413, "{n} keys: {text}");
        assert!(text.contains("cells"), "{text}");
    }
    let many: serde_json::Map<String, Value> =
        (0..10_001).map(|i| (format!("c{i}"), json!([1]))).collect();
    let (status, body) = served.json(&json!({ "columns": many }));
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("10000"), "{body}");
    // Before: 2000 keys took 1.3 GB and 8000 grew past 15 GB.
    let peak = served.peak_mib();
    eprintln!("peak RSS after 2000 and 8000 sparse records (413): {peak:.0} MiB");
    assert!(peak < 150.0, "peak RSS {peak:.0} MiB");
    // The widest request within the budget is answered, in bounded memory.
    let (status, _, text) = served.post("/v1/transform", "application/json", &sparse_records(1000));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&text));
    let answer: Value = serde_json::from_slice(&text).unwrap();
    let records = answer["records"].as_array().unwrap();
    assert_eq!(records.len(), 1000);
    assert_eq!(records[999]["k999"], 999);
    assert!(records[999]["k0"].is_null());
    // Before: this one took 372 MB.
    let peak = served.peak_mib();
    eprintln!("peak RSS after 1000 sparse records (200): {peak:.0} MiB");
    assert!(peak < 200.0, "peak RSS {peak:.0} MiB");
    assert_eq!(served.json(&request_columns()).0, 200);
}

#[test]
fn a_request_past_its_deadline_is_stopped_and_its_worker_freed() {
    let (dir, manifest) = fitted("loop-on-boom");
    let served = Served::start(&dir, &manifest, &["--timeout", "0.3", "--workers", "1"]);
    let mut boom = request_columns();
    boom["columns"]["boom"] = json!(vec![1.0; 10]);
    let (status, body) = served.json(&boom);
    assert_eq!(status, 504, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("deadline of 300ms"), "{body}");
    // The step is stopped, not left spinning: the gauges come back to 0 and
    // the only worker takes the next request (the step's own limit, 60 s,
    // would hold it far past that request's deadline).
    eventually(|| {
        served.metric("weft_serve_in_flight_requests ") == 0.0
            && served.metric("weft_serve_pool_busy_workers ") == 0.0
    });
    let (status, body) = served.json(&request_columns());
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        served.metric("weft_serve_requests_total{route=\"/v1/transform\",status=\"504\"} "),
        1.0
    );
}

/// A deterministic stream of numbers (xorshift64).
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// An Arrow IPC stream of the training columns and a few more types.
fn arrow_body() -> Vec<u8> {
    let rows = 10;
    let x: Vec<Option<f64>> = (0..rows)
        .map(|i| (i % 3 != 0).then_some(i as f64))
        .collect();
    let names: Vec<String> = (0..rows).map(|i| format!("n{i}")).collect();
    let plans: DictionaryArray<Int32Type> = (0..rows).map(|i| ["a", "b"][i % 2]).collect();
    let batch = RecordBatch::try_from_iter([
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        (
            "y",
            Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64))),
        ),
        ("name", Arc::new(StringArray::from(names))),
        ("n", Arc::new(Int64Array::from_iter_values(0..rows as i64))),
        (
            "flag",
            Arc::new(BooleanArray::from_iter((0..rows).map(|i| Some(i % 2 == 0)))),
        ),
        ("plan", Arc::new(plans)),
    ])
    .unwrap();
    let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.into_inner().unwrap()
}

#[test]
fn malformed_arrow_bodies_get_a_4xx_never_a_500() {
    let (dir, manifest) = fitted("none");
    let served = Served::start(&dir, &manifest, &["--workers", "2"]);
    let valid = arrow_body();
    let post =
        |body: &[u8]| served.post("/v1/transform", "application/vnd.apache.arrow.stream", body);
    assert_eq!(post(&valid).0, 200);
    let mut random = Xorshift(0x5eed_0fa7_7000);
    let mut statuses = std::collections::BTreeMap::new();
    for case in 0..400 {
        let mut body = valid.clone();
        if case % 4 == 3 {
            body.truncate(random.below(body.len()));
        } else {
            for _ in 0..4 {
                let at = random.below(body.len());
                body[at] ^= 1 << random.below(8);
            }
        }
        let (status, _, text) = post(&body);
        let text = String::from_utf8_lossy(&text);
        assert!(
            matches!(status, 200 | 400 | 413 | 422),
            "case {case}: {status} {text}"
        );
        *statuses.entry(status).or_insert(0) += 1;
    }
    eprintln!("statuses of 400 mutated Arrow bodies: {statuses:?}");
    // Before: about 1 in 10 answered 500, and the server's peak RSS went
    // from 36 to 491 MB.
    let peak = served.peak_mib();
    eprintln!("peak RSS after 400 mutated Arrow bodies: {peak:.0} MiB");
    assert!(peak < 200.0, "peak RSS {peak:.0} MiB");
    assert_eq!(post(&valid).0, 200);
}

/// Connect to `served` without sending anything.
fn idle(served: &Served) -> TcpStream {
    let stream = TcpStream::connect(served.url.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Whether the server closed `stream` (rather than leaving it open until
/// the read timeout).
fn closed(mut stream: TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

#[test]
fn connections_that_send_no_request_are_closed_and_capped() {
    let (dir, manifest) = fitted("none");
    let served = Served::start(
        &dir,
        &manifest,
        &["--header-timeout", "0.5", "--max-connections", "3"],
    );
    // Three idle connections fill the cap; one of them starts a request
    // and never finishes its headers.
    let quiet = [idle(&served), idle(&served)];
    let mut slow = idle(&served);
    slow.write_all(b"POST /v1/transform HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // A real client is served once the header timeout frees a place.
    assert_eq!(served.json(&request_columns()).0, 200);
    for stream in quiet.into_iter().chain([slow]) {
        assert!(closed(stream), "an idle connection was kept open");
    }
    eventually(|| served.metric("weft_serve_open_connections ") <= 1.0);
}

#[test]
fn a_body_that_never_arrives_gets_408_at_the_deadline() {
    let (dir, manifest) = fitted("none");
    let served = Served::start(&dir, &manifest, &["--timeout", "0.5"]);
    let mut stream = idle(&served);
    stream
        .write_all(b"POST /v1/transform HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"colu")
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("deadline"), "{answer}");
}
