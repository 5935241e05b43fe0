//! Live against a real Kubernetes API server (1.20, built from Debian's
//! source package by `scripts/kube-test-server.sh`; no scheduler or
//! kubelet, so no pod ever runs): `helm install` of the chart, whose CRD
//! the server must accept as a structural schema; Pipelines validated by the
//! server itself; the chart's ServiceAccount, authenticated with its own
//! token, allowed what the operator needs and refused the rest; and
//! `weft operator`, running as that ServiceAccount, driving Pipelines while
//! the test plays the Job controller (it writes Job status as one would).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use weft_tests::registry::{self, Login, Registry};
use weft_tests::{
    chart_for_1_20, helm, output, plugin, weft_bin, weft_with, with_stdin, workspace,
};

/// etcd, kube-apiserver and kube-controller-manager on loopback, stopped on drop.
struct Server {
    dir: tempfile::TempDir,
    url: String,
}

fn script() -> PathBuf {
    workspace().join("scripts/kube-test-server.sh")
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let url = output(Command::new(script()).arg("start").arg(dir.path()))
            .trim()
            .to_owned();
        Server { dir, url }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn admin(&self) -> String {
        std::fs::read_to_string(self.file("admin.token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// `method path` with `token` and an optional YAML body: the status
    /// code and the JSON answer.
    fn call(&self, token: &str, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-w", "\n%{http_code}", "-X", method, "--cacert"])
            .arg(self.file("ca.crt"))
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .arg(format!("{}{path}", self.url));
        if let Some(body) = body {
            let kind = match method {
                "PATCH" => "application/merge-patch+json",
                _ => "application/yaml",
            };
            cmd.args([
                "-H",
                &format!("Content-Type: {kind}"),
                "--data-binary",
                body,
            ]);
        }
        let text = output(&mut cmd);
        let (json, code) = text.rsplit_once('\n').unwrap();
        (
            code.parse().unwrap(),
            serde_json::from_str(json).unwrap_or(Value::Null),
        )
    }

    /// `helm install weft` (v3) of the chart into namespace `ml`, with `extra` arguments.
    fn install(&self, extra: &[&str]) {
        let chart = chart_for_1_20();
        let path = chart.path().to_string_lossy();
        let mut args = vec![
            "install",
            "weft",
            &path,
            "--namespace",
            "ml",
            "--create-namespace",
        ];
        args.extend(extra);
        self.helm("v3", &args);
    }

    fn helm(&self, major: &str, args: &[&str]) -> String {
        output(
            helm(major)
                .arg("--kubeconfig")
                .arg(self.file("kubeconfig"))
                .args(args),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// A Pipeline object in namespace `ml`; `step_tail` is added to its step.
fn pipeline(name: &str, step_tail: &str) -> String {
    format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\nmetadata: {{ name: {name}, namespace: ml }}\n\
         spec:\n  plugins: {{ scale: {{ path: /opt/weft/plugins/scale.wasm }} }}\n  \
         input: {{ path: in.parquet }}\n  output: {{ path: out/ }}\n  \
         steps:\n    - {{ name: s, plugin: scale, config: {{ columns: [x], method: standard }}{step_tail} }}\n"
    )
}

#[track_caller]
fn expect(got: (u16, Value), code: u16) -> Value {
    assert_eq!(got.0, code, "{:#}", got.1);
    got.1
}

#[test]
fn chart_crd_and_rbac_work_on_a_real_api_server() {
    let server = Server::start();
    let admin = server.admin();
    server.install(&[]);
    let crd = expect(
        server.call(
            &admin,
            "GET",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/pipelines.weft.dev",
            None,
        ),
        200,
    );
    let conditions = crd["status"]["conditions"].as_array().unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True"),
        "{crd:#}"
    );
    assert!(
        conditions
            .iter()
            .all(|c| c["type"] != "NonStructuralSchema"),
        "{crd:#}"
    );

    // The server validates Pipelines with the CRD's schema.
    let pipelines = "/apis/weft.dev/v1alpha1/namespaces/ml/pipelines";
    expect(
        server.call(
            &admin,
            "POST",
            pipelines,
            Some(&pipeline("good", ", shards: 2, retries: 1")),
        ),
        201,
    );
    let refused = expect(
        server.call(
            &admin,
            "POST",
            pipelines,
            Some(&pipeline("bad", ", shards: 0")),
        ),
        422,
    );
    assert!(
        refused["message"].as_str().unwrap().contains("shards"),
        "{refused:#}"
    );
    let stored = expect(
        server.call(&admin, "GET", &format!("{pipelines}/good"), None),
        200,
    );
    assert_eq!(stored["spec"]["steps"][0]["shards"], 2);

    // The chart's ServiceAccount, with its own token.
    let token = service_account_token(&server, &admin);
    expect(server.call(&token, "GET", pipelines, None), 200);
    expect(
        server.call(&token, "GET", "/apis/batch/v1/namespaces/ml/jobs", None),
        200,
    );
    expect(
        server.call(&token, "GET", "/api/v1/namespaces/ml/configmaps", None),
        200,
    );
    expect(
        server.call(&token, "GET", "/api/v1/namespaces/ml/secrets", None),
        403,
    );
    expect(
        server.call(&token, "DELETE", &format!("{pipelines}/good"), None),
        403,
    );
    expect(
        server.call(
            &token,
            "POST",
            "/api/v1/namespaces",
            Some("apiVersion: v1\nkind: Namespace\nmetadata: { name: x }\n"),
        ),
        403,
    );
    server.helm("v3", &["uninstall", "weft", "--namespace", "ml"]);
}

/// The token of the chart's ServiceAccount `weft`, from the Secret the
/// token controller makes for it.
fn service_account_token(server: &Server, admin: &str) -> String {
    for _ in 0..100 {
        let (_, sa) = server.call(
            admin,
            "GET",
            "/api/v1/namespaces/ml/serviceaccounts/weft",
            None,
        );
        if let Some(secret) = sa["secrets"][0]["name"].as_str() {
            let s = expect(
                server.call(
                    admin,
                    "GET",
                    &format!("/api/v1/namespaces/ml/secrets/{secret}"),
                    None,
                ),
                200,
            );
            let encoded = s["data"]["token"].as_str().unwrap();
            return decode(encoded);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no token Secret for ServiceAccount ml/weft");
}

/// `base64 -d` of `text`.
fn decode(text: &str) -> String {
    let out = with_stdin(Command::new("base64").arg("-d"), text.as_bytes());
    String::from_utf8(out.stdout).unwrap()
}

/// `weft operator` as the chart's ServiceAccount, killed on drop.
struct Operator {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

impl Operator {
    fn start(server: &Server, token: &str, identity: &str) -> Operator {
        Operator::start_with(server, token, identity, &[])
    }

    /// [`Operator::start`] with `envs` set for the operator.
    fn start_with(
        server: &Server,
        token: &str,
        identity: &str,
        envs: &[(&str, &std::ffi::OsStr)],
    ) -> Operator {
        let kubeconfig = server.file(&format!("{identity}.kubeconfig"));
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\n\
                 clusters: [{{ name: test, cluster: {{ server: \"{}\", certificate-authority: \"{}\" }} }}]\n\
                 users: [{{ name: weft, user: {{ token: \"{token}\" }} }}]\n\
                 contexts: [{{ name: test, context: {{ cluster: test, user: weft }} }}]\n\
                 current-context: test\n",
                server.url,
                server.file("ca.crt").display()
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = server.file(&format!("{identity}.log"));
        let stderr = std::fs::File::create(&log).unwrap();
        let child = Command::new(weft_bin())
            .args(["--log", "weft=debug,info", "operator", "--leader-elect"])
            .args(["--lease-namespace", "ml", "--lease-seconds", "3"])
            .args(["--identity", identity, "--image", "weft:test"])
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .envs(envs.iter().copied())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Operator { child, port, log }
    }

    /// `GET path` on the operator's HTTP port: status code (0 when nothing
    /// listens yet) and body.
    fn get(&self, path: &str) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}"])
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let (body, code) = text.rsplit_once('\n').unwrap_or_default();
        (code.parse().unwrap_or(0), body.to_owned())
    }
}

impl Drop for Operator {
    /// Stop it; when the test failed, show what it logged.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- {} (last lines)", self.log.display());
            tail.iter().rev().for_each(|l| eprintln!("{l}"));
        }
    }
}

/// Poll `probe` every 100 ms for up to 30 s; its first `Some`.
#[track_caller]
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(found) = probe() {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

const PIPELINES: &str = "/apis/weft.dev/v1alpha1/namespaces/ml/pipelines";
const JOBS: &str = "/apis/batch/v1/namespaces/ml/jobs";

/// Two stages: `prep` (impute, scale) and `score` on 2 CPUs.
fn two_stages(name: &str, method: &str) -> String {
    format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\nmetadata: {{ name: {name}, namespace: ml }}\n\
         spec:\n  plugins: {{ impute: {{ path: /opt/weft/plugins/impute.wasm }}, scale: {{ path: /opt/weft/plugins/scale.wasm }} }}\n  \
         input: {{ path: in.parquet }}\n  output: {{ path: out/ }}\n  \
         storage: {{ claimName: data }}\n  ttlSecondsAfterFinished: 600\n  \
         steps:\n    - {{ name: fill, plugin: impute, config: {{ columns: [x], strategy: mean }} }}\n    \
         - {{ name: norm, plugin: scale, config: {{ columns: [x], method: {method} }}, needs: [fill] }}\n    \
         - {{ name: score, plugin: scale, config: {{ columns: [label], method: standard }}, needs: [norm], \
         resources: {{ cpu: 2 }}, retries: 2 }}\n"
    )
}

impl Server {
    fn get(&self, path: &str) -> Option<Value> {
        let (code, body) = self.call(&self.admin(), "GET", path, None);
        (code == 200).then_some(body)
    }

    fn pipeline_status(&self, name: &str) -> Value {
        self.get(&format!("{PIPELINES}/{name}"))
            .map(|p| p["status"].clone())
            .unwrap_or(Value::Null)
    }

    /// Wait until the Pipeline's status satisfies `check`.
    #[track_caller]
    fn status_until(&self, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        eventually(what, || {
            Some(self.pipeline_status(name)).filter(|s| check(s))
        })
    }

    /// Write a Job's status as the Job controller would.
    fn finish_job(&self, name: &str, condition: &str, reason: &str) {
        let now = "2026-12-01T00:00:00Z";
        let counts = match condition {
            "Complete" => r#""succeeded": 1"#,
            _ => r#""failed": 3"#,
        };
        let body = format!(
            r#"{{"status": {{"startTime": "{now}", {counts}, "conditions": [{{"type": "{condition}", "status": "True", "reason": "{reason}", "message": "as the job controller says", "lastProbeTime": "{now}", "lastTransitionTime": "{now}"}}]}}}}"#
        );
        expect(
            self.call(
                &self.admin(),
                "PATCH",
                &format!("{JOBS}/{name}/status"),
                Some(&body),
            ),
            200,
        );
    }

    /// A pod of the stage Job `job` of `pipeline`, with `status` written
    /// as a kubelet (or the scheduler) would: no kubelet runs it.
    fn pod(&self, pipeline: &str, job: &str, status: &Value) {
        let pod = format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{ name: {job}-x1, namespace: ml, labels: \
             {{ job-name: {job}, weft.dev/pipeline: {pipeline}, app.kubernetes.io/managed-by: weft-operator }} }}\n\
             spec: {{ containers: [{{ name: weft, image: weft:test }}] }}\n"
        );
        expect(
            self.call(
                &self.admin(),
                "POST",
                "/api/v1/namespaces/ml/pods",
                Some(&pod),
            ),
            201,
        );
        let path = format!("/api/v1/namespaces/ml/pods/{job}-x1/status");
        let body = serde_json::json!({ "status": status }).to_string();
        expect(self.call(&self.admin(), "PATCH", &path, Some(&body)), 200);
    }

    /// A pod of Job `job` of `pipeline` that ended leaving `summary` as its
    /// termination message.
    fn pod_ended(&self, pipeline: &str, job: &str, exit_code: i32, summary: &Value) {
        let now = "2026-12-01T00:00:00Z";
        let status = serde_json::json!({
            "phase": if exit_code == 0 { "Succeeded" } else { "Failed" },
            "containerStatuses": [{
                "name": "weft", "image": "weft:test", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {
                    "exitCode": exit_code, "message": summary.to_string(),
                    "startedAt": now, "finishedAt": now
                }}
            }]
        });
        self.pod(pipeline, job, &status);
    }

    /// Wait for Job `name` and complete it.
    fn finish_job_when_made(&self, name: &str) {
        eventually(name, || self.get(&format!("{JOBS}/{name}")));
        self.finish_job(name, "Complete", "Completed");
    }

    /// The reasons of the Events about Pipeline `name`.
    fn event_reasons(&self, name: &str) -> Vec<String> {
        let events = self
            .get("/apis/events.k8s.io/v1/namespaces/ml/events")
            .unwrap();
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["regarding"]["name"] == name && e["regarding"]["kind"] == "Pipeline")
            .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// The condition `kind` of a status.
fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} condition in {status:#}"))
}

#[test]
fn the_operator_runs_pipelines_on_a_real_api_server() {
    let server = Server::start();
    let admin = server.admin();
    server.install(&["--set", "operator.leaderElection.enabled=true"]);
    let token = service_account_token(&server, &admin);
    let mut operator = Operator::start(&server, &token, "op-1");
    eventually("the operator to be ready", || {
        (operator.get("/readyz").0 == 200).then_some(())
    });
    assert_eq!(operator.get("/healthz"), (200, "ok\n".into()));

    // A Pipeline gets its ConfigMap and its first stage's Job.
    expect(
        server.call(
            &admin,
            "POST",
            PIPELINES,
            Some(&two_stages("two", "standard")),
        ),
        201,
    );
    let uid = server.get(&format!("{PIPELINES}/two")).unwrap()["metadata"]["uid"].clone();
    let job = eventually("stage 0's Job", || {
        server.get(&format!("{JOBS}/two-stage-0"))
    });
    assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], uid, "{job:#}");
    assert_eq!(job["metadata"]["ownerReferences"][0]["controller"], true);
    let labels = &job["metadata"]["labels"];
    assert_eq!(labels["weft.dev/pipeline"], "two");
    assert_eq!(labels["weft.dev/stage"], "0");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "weft-operator");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "weft:test");
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.windows(2).any(|w| w == ["--stage", "0"]), "{args:?}");
    let cm = server
        .get("/api/v1/namespaces/ml/configmaps/two-manifest")
        .unwrap();
    assert_eq!(cm["metadata"]["ownerReferences"][0]["uid"], uid);
    assert!(cm["data"]["pipeline.yaml"]
        .as_str()
        .unwrap()
        .contains("name: score"));
    assert!(server.get(&format!("{JOBS}/two-stage-1")).is_none());
    let status = server.status_until("two", "Running", |s| s["phase"] == "Running");
    assert_eq!(status["stepsDone"], 0);
    assert_eq!(status["stepsTotal"], 3);
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(
        status["stages"][0]["steps"],
        serde_json::json!(["fill", "norm"])
    );
    assert_eq!(status["stages"][0]["phase"], "Running");
    assert_eq!(status["stages"][1]["phase"], "Pending");

    // Stage 0 succeeds (its pod found its outputs there already): stage 1
    // starts, and stage 0's rows and metrics reach the status.
    let summary = serde_json::json!({"cacheHit": true, "steps": [
        {"name": "fill", "phase": "Succeeded", "rowsOut": 500},
        {"name": "norm", "phase": "Succeeded", "rowsOut": 500,
         "metrics": [{"name": "mean", "labels": {"column": "x"}, "value": 0.25}]}
    ]});
    server.pod_ended("two", "two-stage-0", 0, &summary);
    server.finish_job("two-stage-0", "Complete", "Completed");
    let job1 = eventually("stage 1's Job", || {
        server.get(&format!("{JOBS}/two-stage-1"))
    });
    assert_eq!(job1["spec"]["backoffLimit"], 2, "{job1:#}");
    let status = server.status_until("two", "stage 0 done", |s| s["stepsDone"] == 2);
    assert_eq!(status["stages"][0]["phase"], "Succeeded");
    assert_eq!(status["stages"][1]["phase"], "Running");
    assert_eq!(status["steps"][0]["phase"], "Succeeded");
    assert_eq!(status["stages"][0]["cacheHit"], true, "{status:#}");
    assert_eq!(status["steps"][0]["rowsOut"], 500);
    assert_eq!(status["steps"][1]["metrics"][0]["value"], 0.25);
    assert_eq!(status["steps"][1]["metrics"][0]["labels"]["column"], "x");

    // A deleted Job is made again.
    let first_uid = job1["metadata"]["uid"].clone();
    expect(
        server.call(&admin, "DELETE", &format!("{JOBS}/two-stage-1"), None),
        200,
    );
    let again = eventually("stage 1's Job again", || {
        server
            .get(&format!("{JOBS}/two-stage-1"))
            .filter(|j| j["metadata"]["uid"] != first_uid)
    });
    // The stage now started when its new Job was made: wait until the
    // operator has seen it, or the restart below would be the one to write it.
    let made = again["metadata"]["creationTimestamp"].clone();
    eventually("stage 1 to start with its new Job", || {
        let p = server.get(&format!("{PIPELINES}/two"))?;
        (p["status"]["stages"][1]["startTime"] == made).then_some(())
    });

    // A restarted operator picks up where the last one was, changing nothing.
    drop(operator);
    let before = server.get(&format!("{PIPELINES}/two")).unwrap();
    operator = Operator::start(&server, &token, "op-2");
    eventually("the new operator to lead and list", || {
        (operator.get("/readyz").0 == 200).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    let after = server.get(&format!("{PIPELINES}/two")).unwrap();
    assert_eq!(after["status"], before["status"]);
    assert_eq!(
        after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
        "an idle reconcile wrote the Pipeline"
    );
    let still = server.get(&format!("{JOBS}/two-stage-1")).unwrap();
    assert_eq!(still["metadata"]["uid"], again["metadata"]["uid"]);

    // A second replica waits: the Lease is held.
    let standby = Operator::start(&server, &token, "op-3");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        standby.get("/readyz").0,
        503,
        "the standby replica reconciles"
    );
    let lease = server
        .get("/apis/coordination.k8s.io/v1/namespaces/ml/leases/weft-operator")
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "op-2");
    drop(standby);

    // A spec change while running is refused; the run goes on.
    expect(
        server.call(
            &admin,
            "POST",
            PIPELINES,
            Some(&two_stages("three", "standard")),
        ),
        201,
    );
    let three = eventually("three's stage 0", || {
        server.get(&format!("{JOBS}/three-stage-0"))
    });
    server.status_until("three", "Running", |s| s["phase"] == "Running");
    let median = r#"{"spec": {"steps": [{"name": "fill", "plugin": "impute", "config": {"columns": ["x"], "strategy": "median"}}]}}"#;
    expect(
        server.call(&admin, "PATCH", &format!("{PIPELINES}/three"), Some(median)),
        200,
    );
    let status = server.status_until("three", "the change refused", |s| {
        s["observedGeneration"] == 2
    });
    let accepted = condition(&status, "SpecAccepted");
    assert_eq!(accepted["status"], "False", "{status:#}");
    assert_eq!(accepted["reason"], "SpecChangedWhileRunning");
    assert_eq!(status["phase"], "Running");
    let cm = server
        .get("/api/v1/namespaces/ml/configmaps/three-manifest")
        .unwrap();
    let held = cm["data"]["pipeline.yaml"].as_str().unwrap();
    assert!(
        held.contains("name: score") && !held.contains("median"),
        "{held}"
    );
    let still = server.get(&format!("{JOBS}/three-stage-0")).unwrap();
    assert_eq!(still["metadata"]["uid"], three["metadata"]["uid"]);

    // Stage 1 fails for good, on a gate (weft exits 3): so does the
    // Pipeline, saying which stage and gate.
    let gate = serde_json::json!({"steps": [{"name": "score", "phase": "Succeeded", "rowsOut": 500,
        "gates": [{"metric": "r2", "value": 0.5, "min": 0.9, "passed": false}]}]});
    server.pod_ended("two", "two-stage-1", 3, &gate);
    server.finish_job("two-stage-1", "Failed", "BackoffLimitExceeded");
    let status = server.status_until("two", "Failed", |s| s["phase"] == "Failed");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains("stage 1 (steps score) failed: gate failed"),
        "{message}"
    );
    assert!(message.contains("r2 = 0.5, needs >= 0.9"), "{message}");
    assert_eq!(status["steps"][2]["gates"][0]["passed"], false);
    let reasons = eventually("the events", || {
        let r = server.event_reasons("two");
        r.iter().any(|x| x == "StageFailed").then_some(r)
    });
    for reason in [
        "StageStarted",
        "StageSucceeded",
        "StageFailed",
        "GateFailed",
    ] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} in {reasons:?}"
        );
    }

    // Once finished, a changed spec runs anew.
    let old = server.get(&format!("{JOBS}/two-stage-0")).unwrap();
    expect(
        server.call(&admin, "PATCH", &format!("{PIPELINES}/two"), Some(median)),
        200,
    );
    let status = server.status_until("two", "the new spec running", |s| {
        s["observedGeneration"] == 2 && s["phase"] == "Running"
    });
    assert_eq!(condition(&status, "SpecAccepted")["status"], "True");
    assert_eq!(status["stepsTotal"], 1);
    eventually("a new stage 0 Job", || {
        server
            .get(&format!("{JOBS}/two-stage-0"))
            .filter(|j| j["metadata"]["uid"] != old["metadata"]["uid"])
    });
    assert!(server.get(&format!("{JOBS}/two-stage-1")).is_none());
    let cm = server
        .get("/api/v1/namespaces/ml/configmaps/two-manifest")
        .unwrap();
    assert!(cm["data"]["pipeline.yaml"]
        .as_str()
        .unwrap()
        .contains("median"));

    // Bad specs fail with a message naming the field; the operator goes on.
    let missing = two_stages("missing", "standard").replace(
        "plugin: scale, config: { columns: [label]",
        "plugin: nowhere, config: { columns: [label]",
    );
    expect(server.call(&admin, "POST", PIPELINES, Some(&missing)), 201);
    let status = server.status_until("missing", "Failed", |s| s["phase"] == "Failed");
    assert!(
        status["message"].as_str().unwrap().contains("nowhere"),
        "{status:#}"
    );
    let cycle = two_stages("cycle", "standard").replace(
        "config: { columns: [x], strategy: mean } }",
        "config: { columns: [x], strategy: mean }, needs: [score] }",
    );
    expect(server.call(&admin, "POST", PIPELINES, Some(&cycle)), 201);
    let status = server.status_until("cycle", "Failed", |s| s["phase"] == "Failed");
    assert!(
        status["message"].as_str().unwrap().contains("cycle"),
        "{status:#}"
    );
    assert!(server.get(&format!("{JOBS}/cycle-stage-0")).is_none());

    // A stage whose pods no node can take fails, its Job removed.
    let gpus = two_stages("gpus", "standard")
        .replace("resources: { cpu: 2 }", "resources: { nvidia.com/gpu: 8 }");
    expect(server.call(&admin, "POST", PIPELINES, Some(&gpus)), 201);
    server.finish_job_when_made("gpus-stage-0");
    eventually("gpus' stage 1", || {
        server.get(&format!("{JOBS}/gpus-stage-1"))
    });
    let why = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.";
    let stuck = serde_json::json!({"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": why, "lastTransitionTime": "2026-11-30T00:00:00Z"
    }]});
    server.pod("gpus", "gpus-stage-1", &stuck);
    let status = server.status_until("gpus", "Failed", |s| s["phase"] == "Failed");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains(
            "cannot be scheduled (0/3 nodes are available: 3 Insufficient nvidia.com/gpu.)"
        ),
        "{message}"
    );
    assert!(message.contains("steps score"), "{message}");
    eventually("the stuck Job removed", || {
        server
            .get(&format!("{JOBS}/gpus-stage-1"))
            .is_none()
            .then_some(())
    });

    // The operator counts what it did.
    let (code, metrics) = operator.get("/metrics");
    assert_eq!(code, 200);
    weft_tests::assert_valid_exposition(&metrics);
    // missing, cycle and gpus failed; two and three run.
    for line in [
        "weft_operator_pipelines{phase=\"Failed\"} 3",
        "weft_operator_pipelines{phase=\"Running\"} 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    let reconciles: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("weft_operator_reconciles_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(reconciles >= 3.0, "{metrics}");

    // Deleting the Pipeline lets the garbage collector take its objects.
    expect(
        server.call(&admin, "DELETE", &format!("{PIPELINES}/two"), None),
        200,
    );
    eventually("the garbage collector", || {
        let gone = server.get(&format!("{JOBS}/two-stage-0")).is_none()
            && server.get(&format!("{JOBS}/two-stage-1")).is_none()
            && server
                .get("/api/v1/namespaces/ml/configmaps/two-manifest")
                .is_none();
        gone.then_some(())
    });
    drop(operator);
    server.helm("v3", &["uninstall", "weft", "--namespace", "ml"]);
}

/// A Pipeline `name` in `ml` with one scale step whose plugin is `oci`,
/// pulled with the Secret `secret`.
fn from_registry(name: &str, oci: &str, secret: &str) -> String {
    format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\nmetadata: {{ name: {name}, namespace: ml }}\n\
         spec:\n  plugins: {{ scale: {{ oci: \"{oci}\" }} }}\n  imagePullSecrets: [{{ name: {secret} }}]\n  \
         input: {{ path: in.parquet }}\n  output: {{ path: out/ }}\n  storage: {{ claimName: data }}\n  \
         steps:\n    - {{ name: norm, plugin: scale, config: {{ columns: [x], method: standard }} }}\n"
    )
}

#[test]
fn registry_plugins_are_pinned_to_digests_once_per_run_with_the_pull_secret() {
    let login = Login {
        user: "weft",
        password: "s3cret",
    };
    let localhost = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let Some(registry) = Registry::start_on(localhost, Some(login)) else {
        return;
    };
    let ca = registry.ca.clone().expect("a TLS registry has a CA");
    let work = tempfile::tempdir().unwrap();
    let login = Login {
        user: "weft",
        password: "s3cret",
    };
    let docker = registry::docker_config(&work.path().join("docker"), &registry.addr, &login);
    let reference = registry.reference("weft/scale:1.0");
    let pushed = weft_with(
        work.path(),
        [
            "push".as_ref(),
            plugin("scale").as_os_str(),
            reference.as_ref(),
        ],
        &[
            ("SSL_CERT_FILE", ca.as_os_str()),
            ("DOCKER_CONFIG", docker.as_os_str()),
        ],
    );
    pushed.ok();
    let pinned = pushed.stdout.lines().last().unwrap().to_owned();
    let sha = weft_tests::sha256_file(&plugin("scale"));

    let server = Server::start();
    let admin = server.admin();
    server.install(&["--set", "operator.leaderElection.enabled=true"]);
    let token = service_account_token(&server, &admin);
    // The operator trusts the test CA but has no docker config of its own:
    // only the Pipeline's Secret can let it in.
    let nowhere = work.path().join("no-docker-config");
    let operator = Operator::start_with(
        &server,
        &token,
        "op-pin",
        &[
            ("SSL_CERT_FILE", ca.as_os_str()),
            ("DOCKER_CONFIG", nowhere.as_os_str()),
        ],
    );
    eventually("the operator to be ready", || {
        (operator.get("/readyz").0 == 200).then_some(())
    });
    let config = std::fs::read(docker.join("config.json")).unwrap();
    let encoded =
        String::from_utf8(with_stdin(Command::new("base64").arg("-w0"), &config).stdout).unwrap();
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{ name: regcred, namespace: ml }}\n\
         type: kubernetes.io/dockerconfigjson\ndata: {{ .dockerconfigjson: {encoded} }}\n"
    );
    expect(
        server.call(
            &admin,
            "POST",
            "/api/v1/namespaces/ml/secrets",
            Some(&secret),
        ),
        201,
    );

    expect(
        server.call(
            &admin,
            "POST",
            PIPELINES,
            Some(&from_registry("tagged", &reference, "regcred")),
        ),
        201,
    );
    let cm = eventually("the pinned manifest", || {
        server.get("/api/v1/namespaces/ml/configmaps/tagged-manifest")
    });
    let held = cm["data"]["pipeline.yaml"].as_str().unwrap();
    assert!(held.contains(&format!("oci: {pinned}")), "{held}");
    assert!(held.contains(&format!("sha256: {sha}")), "{held}");
    assert!(!held.contains(":1.0"), "the tag is gone: {held}");
    eventually("stage 0's Job", || {
        server.get(&format!("{JOBS}/tagged-stage-0"))
    });
    server.status_until("tagged", "Running", |s| s["phase"] == "Running");

    // The tag moves during the run: the run keeps the component it started
    // with (each reconcile, such as the one its pod's start causes, reads
    // the held manifest).
    weft_with(
        work.path(),
        [
            "push".as_ref(),
            plugin("impute").as_os_str(),
            reference.as_ref(),
        ],
        &[
            ("SSL_CERT_FILE", ca.as_os_str()),
            ("DOCKER_CONFIG", docker.as_os_str()),
        ],
    )
    .ok();
    let observed = || {
        let log = std::fs::read_to_string(&operator.log).unwrap();
        log.lines()
            .filter(|l| l.contains("observed") && l.contains("tagged"))
            .count()
    };
    let before = observed();
    server.pod(
        "tagged",
        "tagged-stage-0",
        &serde_json::json!({ "phase": "Running" }),
    );
    eventually("a reconcile after the pod", || {
        (observed() > before).then_some(())
    });
    let again = server
        .get("/api/v1/namespaces/ml/configmaps/tagged-manifest")
        .unwrap();
    assert_eq!(again["data"], cm["data"]);
    let log = std::fs::read_to_string(&operator.log).unwrap();
    assert_eq!(
        log.matches("plugin resolved for this run").count(),
        1,
        "{log}"
    );

    // What cannot be resolved is refused, naming the plugin and the cause.
    let cases = [
        (
            "no-secret",
            reference.clone(),
            "nope",
            "spec.imagePullSecrets: Secret ml/nope does not exist",
        ),
        (
            "no-tag",
            registry.reference("weft/scale:9.9"),
            "regcred",
            "spec.plugins.scale.oci: ",
        ),
    ];
    for (name, oci, secret, says) in cases {
        expect(
            server.call(
                &admin,
                "POST",
                PIPELINES,
                Some(&from_registry(name, &oci, secret)),
            ),
            201,
        );
        let status = server.status_until(name, "Failed", |s| s["phase"] == "Failed");
        let message = status["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
        assert!(server
            .get(&format!("/api/v1/namespaces/ml/configmaps/{name}-manifest"))
            .is_none());
    }
    let status = server.pipeline_status("no-tag");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("not found in the registry"),
        "{status}"
    );
}
