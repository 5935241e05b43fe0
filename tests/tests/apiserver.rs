//! Live against a real Kubernetes API server (1.20, built from Debian's
//! source package by `scripts/kube-test-server.sh`; no scheduler or
//! kubelet, so no pod ever runs): `helm install` of the chart, whose CRD
//! the server must accept as a structural schema; Pipelines validated by the
//! server itself; and the chart's ServiceAccount, authenticated with its own
//! token, allowed what the operator needs and refused the rest.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;
use weft_tests::{helm, output, workspace};

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
            cmd.args([
                "-H",
                "Content-Type: application/yaml",
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

/// A copy of the chart whose `kubeVersion` admits the 1.20 test server
/// (production needs 1.27 or later; nothing else changes).
fn chart_for_1_20() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    output(
        Command::new("cp")
            .arg("-r")
            .arg(workspace().join("charts/weft/."))
            .arg(copy.path()),
    );
    let file = copy.path().join("Chart.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let relaxed: String = text
        .lines()
        .map(|l| match l.starts_with("kubeVersion:") {
            true => "kubeVersion: \">=1.20.0-0\"\n".to_owned(),
            false => format!("{l}\n"),
        })
        .collect();
    assert_ne!(relaxed, text, "Chart.yaml has no kubeVersion line");
    std::fs::write(&file, relaxed).unwrap();
    copy
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
    let chart = chart_for_1_20();
    server.helm(
        "v3",
        &[
            "install",
            "weft",
            &chart.path().to_string_lossy(),
            "--namespace",
            "ml",
            "--create-namespace",
        ],
    );
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
    let mut child = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}
