//! End to end on a full cluster (kind, k3d, a cloud one), run only when
//! `WEFT_E2E_KUBECONFIG` names a kubeconfig with cluster-admin rights:
//!
//! ```sh
//! docker build -t weft:e2e . && kind load docker-image weft:e2e
//! WEFT_E2E_KUBECONFIG=~/.kube/config cargo test -p weft-tests --test cluster
//! ```
//!
//! `WEFT_E2E_IMAGE` overrides the image (default `weft:e2e`). It installs
//! the chart in a fresh namespace, copies the churn demo's data onto a
//! PersistentVolumeClaim (default storage class), applies the demo as a
//! Pipeline and waits for it to succeed, with the step reports in its status.
//! Needs `kubectl` and the helm of `scripts/setup.sh --test`. Without the
//! variable the test says so and passes: no cluster runs in CI.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_tests::{helm, output, workspace};

const NAMESPACE: &str = "weft-e2e";

struct Cluster {
    kubeconfig: String,
}

impl Cluster {
    fn kubectl(&self, args: &[&str]) -> String {
        output(
            Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args(["--namespace", NAMESPACE])
                .args(args),
        )
    }

    /// `kubectl apply` of `yaml`.
    fn apply(&self, yaml: &str) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), yaml).unwrap();
        self.kubectl(&["apply", "-f", &file.path().to_string_lossy()]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["delete", "namespace", NAMESPACE, "--wait=false"])
            .status();
    }
}

/// The churn demo as a cluster Pipeline: plugins from the image, data on
/// the claim `data`.
fn churn_pipeline() -> String {
    let demo = std::fs::read_to_string(workspace().join("examples/churn/pipeline.yaml")).unwrap();
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&demo).unwrap();
    doc["metadata"]["name"] = "churn-e2e".into();
    let spec = &mut doc["spec"];
    for (_, plugin) in spec["plugins"].as_mapping_mut().unwrap().iter_mut() {
        let path = plugin["path"].as_str().unwrap().to_owned();
        let file = Path::new(&path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        plugin["path"] = format!("/opt/weft/plugins/{file}").into();
    }
    spec["storage"] = serde_yaml::from_str("{ claimName: data }").unwrap();
    spec["ttlSecondsAfterFinished"] = 3600.into();
    serde_yaml::to_string(&doc).unwrap()
}

/// The claim `data` and a pod that copies the demo's data and model onto it.
const SEED: &str = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 100Mi } } }
---
apiVersion: v1
kind: Pod
metadata: { name: seed }
spec:
  restartPolicy: Never
  securityContext: { runAsUser: 65532, fsGroup: 65532 }
  containers:
    - name: seed
      image: busybox:1.36
      command: [sh, -c, "mkdir -p /data/data /data/models && cp /demo/train.csv /data/data/ && cp /demo/model.json /data/models/"]
      volumeMounts: [{ name: data, mountPath: /data }, { name: demo, mountPath: /demo }]
  volumes:
    - { name: data, persistentVolumeClaim: { claimName: data } }
    - { name: demo, configMap: { name: demo } }
"#;

#[test]
fn the_churn_demo_runs_on_a_real_cluster() {
    let Ok(kubeconfig) = std::env::var("WEFT_E2E_KUBECONFIG") else {
        eprintln!("skipped: set WEFT_E2E_KUBECONFIG to a cluster's kubeconfig to run it");
        return;
    };
    let image = std::env::var("WEFT_E2E_IMAGE").unwrap_or_else(|_| "weft:e2e".into());
    let (repository, tag) = image.rsplit_once(':').unwrap_or((&image, "latest"));
    let cluster = Cluster { kubeconfig };
    let chart = workspace().join("charts/weft");
    output(
        helm("v3")
            .args(["--kubeconfig", &cluster.kubeconfig, "install", "weft-e2e"])
            .arg(&chart)
            .args(["--namespace", NAMESPACE, "--create-namespace", "--wait"])
            .args(["--set", &format!("image.repository={repository}")])
            .args(["--set", &format!("image.tag={tag}")]),
    );
    let demo = workspace().join("examples/churn");
    cluster.kubectl(&[
        "create",
        "configmap",
        "demo",
        &format!("--from-file={}", demo.join("data/train.csv").display()),
        &format!("--from-file={}", demo.join("models/model.json").display()),
    ]);
    cluster.apply(SEED);
    cluster.kubectl(&[
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod/seed",
        "--timeout=300s",
    ]);
    cluster.apply(&churn_pipeline());

    let started = Instant::now();
    let status = loop {
        let text = cluster.kubectl(&["get", "pipeline", "churn-e2e", "-o", "json"]);
        let status: Value = serde_json::from_str::<Value>(&text).unwrap()["status"].clone();
        match status["phase"].as_str() {
            Some("Succeeded") => break status,
            Some("Failed") => panic!("the pipeline failed: {status:#}"),
            _ if started.elapsed() > Duration::from_secs(600) => {
                panic!("not done in 10 min: {status:#}")
            }
            _ => std::thread::sleep(Duration::from_secs(3)),
        }
    };
    assert_eq!(status["stepsDone"], status["stepsTotal"], "{status:#}");
    let steps = status["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["rowsOut"].as_u64() > Some(0)),
        "{status:#}"
    );
    let evaluate = steps.iter().find(|s| s["name"] == "evaluate").unwrap();
    let gate = &evaluate["gates"][0];
    assert_eq!(
        (gate["metric"].as_str(), gate["passed"].as_bool()),
        (Some("roc_auc"), Some(true))
    );
}
