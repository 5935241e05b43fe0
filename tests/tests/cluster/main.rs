//! End to end on a real single-node cluster: `scripts/kube-node.sh up`
//! starts it (kube-apiserver, controller-manager, scheduler, kubelet,
//! kube-proxy, containerd) with this checkout's image as `weft:dev`, and
//! `scripts/test.sh` runs these tests with `WEFT_E2E_KUBECONFIG` set:
//!
//! ```sh
//! sudo scripts/kube-node.sh up      # prints the kubeconfig path last
//! WEFT_E2E_KUBECONFIG=/tmp/weft-node/kubeconfig cargo test -p weft-tests --test cluster
//! ```
//!
//! The chart is installed with helm; its operator runs as a pod and turns
//! Pipelines into stage Jobs whose pods run the weft image on the node's
//! hostPath volume. Without a node the tests say so and pass.

mod node;
mod registry;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use serde_yaml::Value as Yaml;
use weft_tests::*;

use node::{copy_into, node, Node, NAMESPACE, RELEASE, STUCK_SECONDS};

/// Rows of the churn demo's data.
const ROWS: u64 = 2000;

/// The churn demo as the Pipeline `name`, working in the volume's folder
/// `name`: plugins from the image, `score` on pods of its own (a stage of
/// its own, and `evaluate` another), 8 s of a slow pass-through step when
/// `slow` (retried twice).
fn churn(name: &str, slow: bool) -> Yaml {
    let mut doc = example("pipeline.yaml", name);
    let spec = &mut doc["spec"];
    let steps = spec["steps"].as_sequence_mut().unwrap();
    steps[4]["resources"] = yaml("{ memory: 256Mi }");
    if slow {
        spec["plugins"]["slow"] = yaml("{ path: plugins/hostile.wasm }");
        spec["batchRows"] = 100.into();
        spec["workers"] = 1.into();
        let wait = "{ name: wait, plugin: slow, needs: [fill-plan], retries: 2, config: { attack: slow } }";
        let steps = spec["steps"].as_sequence_mut().unwrap();
        steps.insert(2, yaml(wait));
        steps[3]["needs"] = yaml("[fill-numbers, wait]");
    }
    doc
}

/// The churn example's `file` as the Pipeline `name`, working in the
/// volume's folder `name`, with the plugins of the image.
fn example(file: &str, name: &str) -> Yaml {
    let text = std::fs::read_to_string(workspace().join("examples/churn").join(file)).unwrap();
    let mut doc: Yaml = serde_yaml::from_str(&text).unwrap();
    doc["metadata"]["name"] = name.into();
    let spec = &mut doc["spec"];
    for (_, plugin) in spec["plugins"].as_mapping_mut().unwrap().iter_mut() {
        let file = Path::new(plugin["path"].as_str().unwrap())
            .file_name()
            .unwrap();
        plugin["path"] = format!("/opt/weft/plugins/{}", file.to_string_lossy()).into();
    }
    spec["storage"] = yaml(&format!("{{ claimName: data, subPath: {name} }}"));
    doc
}

fn yaml(text: &str) -> Yaml {
    serde_yaml::from_str(text).unwrap()
}

/// Lay out the volume's folder for the Pipeline `name`: the demo's data and
/// model, the slow step's plugin; the folder.
fn lay_out(node: &Node, name: &str) -> PathBuf {
    let case = node.case(name);
    copy_into(&workspace().join("examples/churn/data"), &case.join("data"));
    copy_into(
        &workspace().join("examples/churn/models"),
        &case.join("models"),
    );
    std::fs::create_dir_all(case.join("plugins")).unwrap();
    node::open_to_pods(&case.join("plugins"));
    std::fs::copy(plugin("hostile"), case.join("plugins/hostile.wasm")).unwrap();
    case
}

/// Lay out the folder of `doc` and apply it as a Pipeline; the folder.
fn submit(node: &Node, doc: &Yaml) -> PathBuf {
    let case = lay_out(node, doc["metadata"]["name"].as_str().unwrap());
    node.apply(&serde_yaml::to_string(doc).unwrap());
    case
}

/// The output of `weft run` here on the manifest the cluster ran, with the
/// plugins of this build.
fn local_run(doc: &Yaml, case: &Path) -> PathBuf {
    let mut doc = doc.clone();
    for (_, p) in doc["spec"]["plugins"].as_mapping_mut().unwrap().iter_mut() {
        let path = p["path"].as_str().unwrap().to_owned();
        if let Some(file) = path.strip_prefix("/opt/weft/plugins/") {
            let package = file.trim_end_matches(".wasm").replace('_', "-");
            p["path"] = plugin(&package).display().to_string().into();
        }
    }
    let dir = Workdir::new();
    for folder in ["data", "models", "plugins"] {
        copy_into(&case.join(folder), &dir.join(folder));
    }
    let manifest = dir.write("pipeline.yaml", serde_yaml::to_string(&doc).unwrap());
    dir.run(&manifest, &[]).ok();
    let out = dir.join("out");
    std::mem::forget(dir);
    out
}

/// The data the cluster wrote equals the local run's: same columns, numbers
/// within 1e-12.
fn assert_same_output(cluster: &Path, local: &Path) {
    let (got, want) = (read_parquet(cluster), read_parquet(local));
    assert_eq!(names(&got), names(&want));
    assert_eq!(got.num_rows(), want.num_rows());
    for name in names(&want) {
        if dtype(&want, &name).is_numeric() {
            assert_close(&name, &f64s(&got, &name), &f64s(&want, &name), 1e-12, 1e-12);
        } else {
            assert_eq!(strings(&got, &name), strings(&want, &name), "{name}");
        }
    }
}

/// The entry of step `name` in a Pipeline's status.
#[track_caller]
fn step<'a>(status: &'a Value, name: &str) -> &'a Value {
    let steps = status["steps"].as_array().unwrap();
    steps
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {status:#}"))
}

fn reasons(events: &[(String, String)]) -> Vec<&str> {
    events.iter().map(|(r, _)| r.as_str()).collect()
}

#[test]
fn the_churn_demo_runs_in_stages_and_equals_a_local_run() {
    let Some(node) = node() else { return };
    let doc = churn("churn", false);
    let case = submit(&node, &doc);
    let status = node.finished("churn", &["Succeeded"], 300);

    let stages = status["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 3, "{status:#}");
    for stage in stages {
        assert_eq!(stage["phase"], "Succeeded", "{stage:#}");
        assert!(
            stage["startTime"].is_string() && stage["finishTime"].is_string(),
            "{stage:#}"
        );
    }
    assert_eq!(
        (status["stepsDone"].as_u64(), status["stepsTotal"].as_u64()),
        (Some(6), Some(6))
    );
    for step in status["steps"].as_array().unwrap() {
        assert_eq!(step["rowsOut"].as_u64(), Some(ROWS), "{step:#}");
    }
    let gate = &step(&status, "evaluate")["gates"][0];
    assert_eq!(
        (gate["metric"].as_str(), gate["passed"].as_bool()),
        (Some("roc_auc"), Some(true))
    );
    let events = node.events("churn");
    let reasons = reasons(&events);
    assert_eq!(
        reasons.iter().filter(|r| **r == "StageSucceeded").count(),
        3,
        "{events:?}"
    );
    assert!(reasons.contains(&"Succeeded"), "{events:?}");
    // One Job per stage, each run by a real pod that succeeded.
    assert_eq!(node.owned("jobs", "churn").len(), 3);
    let pods = node.owned("pods", "churn");
    assert!(
        pods.iter().all(|p| p["status"]["phase"] == "Succeeded"),
        "{pods:#?}"
    );

    let local = local_run(&doc, &case);
    assert_same_output(&case.join("out/data.parquet"), &local.join("data.parquet"));
    let report = read_json(&case.join("out/report.json"));
    assert_eq!(report["rowsOut"].as_u64(), Some(ROWS));
}

/// The churn example that scores its exported model: the stage pods run the
/// model with the image's ONNX Runtime, from the volume's `models/`, and
/// write what a local run writes.
#[test]
fn the_churn_model_example_scores_on_the_node_as_here() {
    let Some(node) = node() else { return };
    let doc = example("pipeline-model.yaml", "churn-model");
    let case = submit(&node, &doc);
    let status = node.finished("churn-model", &["Succeeded"], 300);
    let gate = &step(&status, "evaluate")["gates"][0];
    assert_eq!(gate["passed"].as_bool(), Some(true), "{status:#}");
    let local = local_run(&doc, &case);
    let output = case.join("out/model");
    assert_same_output(
        &output.join("data.parquet"),
        &local.join("model/data.parquet"),
    );
    let report = read_json(&output.join("report.json"));
    let score = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "score")
        .unwrap();
    // The churn model is a tree ensemble: weft's own evaluator scores it.
    assert!(
        score["compute"].to_string().contains("weft trees (cpu)"),
        "{score:#}"
    );
}

#[test]
fn stage_pods_killed_mid_run_are_retried_and_the_output_is_right() {
    let Some(node) = node() else { return };
    let doc = churn("retried", true);
    let case = submit(&node, &doc);
    let victim = node.running_pod("retried");
    node.kubectl(&["delete", "pod", &victim, "--wait=false"]);
    // Killed the moment its hand-off data lands: a retry must not take a
    // half-finished hand-off for a finished one.
    let handoff = case.join("weft-stages/0/data.parquet");
    node.wait("stage 0's hand-off", 240, |_| {
        handoff.exists().then_some(())
    });
    let stage0 = "weft.dev/pipeline=retried,weft.dev/stage=0";
    node.kubectl(&["delete", "pod", "-l", stage0, "--grace-period=0", "--force"]);

    let status = node.finished("retried", &["Succeeded"], 300);
    assert_eq!(status["stepsDone"].as_u64(), Some(7), "{status:#}");
    let local = local_run(&doc, &case);
    assert_same_output(&case.join("out/data.parquet"), &local.join("data.parquet"));
    let names: Vec<String> = node
        .owned("pods", "retried")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!names.contains(&victim), "{victim} was deleted: {names:?}");
}

#[test]
fn a_failing_gate_fails_the_pipeline_with_the_gate_in_status_and_an_event() {
    let Some(node) = node() else { return };
    let mut doc = churn("gated", false);
    doc["spec"]["steps"][5]["gates"] = yaml("[{ metric: roc_auc, min: 0.999 }]");
    submit(&node, &doc);
    let status = node.finished("gated", &["Failed"], 300);
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains("gate failed") && message.contains("roc_auc"),
        "{message}"
    );
    let gate = &step(&status, "evaluate")["gates"][0];
    assert_eq!(gate["passed"], false, "{status:#}");
    let events = node.events("gated");
    assert!(
        events
            .iter()
            .any(|(r, m)| r == "GateFailed" && m.contains("roc_auc")),
        "{events:?}"
    );
}

/// A Pipeline whose stage fails within the operator's patience: its status.
fn fails_with(node: &Node, doc: &Yaml, says: &[&str]) -> Value {
    let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
    submit(node, doc);
    let status = node.finished(&name, &["Failed"], 60 + 3 * STUCK_SECONDS);
    let message = status["message"].as_str().unwrap_or_default();
    for needle in says {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    let events = node.events(&name);
    assert!(
        events
            .iter()
            .any(|(r, m)| r == "StageFailed" && says.iter().all(|s| m.contains(s))),
        "{events:?}"
    );
    status
}

#[test]
fn stages_that_cannot_run_fail_with_the_cause_in_status_and_events() {
    let Some(node) = node() else { return };
    let mut gpu = churn("no-gpu", false);
    gpu["spec"]["steps"][4]["resources"] = yaml("{ nvidia.com/gpu: 1 }");
    fails_with(&node, &gpu, &["Insufficient nvidia.com/gpu"]);
    assert!(node
        .owned("jobs", "no-gpu")
        .iter()
        .all(|j| j["metadata"]["labels"]["weft.dev/stage"] != "1"));

    let mut missing = churn("no-image", false);
    missing["spec"]["image"] = format!("{}/weft:missing", node.registry()).into();
    fails_with(&node, &missing, &["weft:missing", "pulled"]);

    node.apply(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: unbound }\n\
         spec: { storageClassName: none-such, accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Gi } } }\n",
    );
    let mut unbound = churn("no-claim", false);
    unbound["spec"]["storage"]["claimName"] = "unbound".into();
    fails_with(
        &node,
        &unbound,
        &["unbound immediate PersistentVolumeClaims"],
    );

    let mut oom = churn("oom", false);
    oom["spec"]["plugins"]["hog"] = yaml("{ path: plugins/hostile.wasm }");
    oom["spec"]["steps"] = yaml(
        "[{ name: hog, plugin: hog, config: { attack: memory }, limits: { memory: 2Gi }, resources: { memory: 48Mi } }]",
    );
    fails_with(&node, &oom, &["OOM"]);
}

#[test]
fn the_image_is_pulled_from_the_local_registry() {
    let Some(node) = node() else { return };
    let mut doc = churn("pulled", false);
    doc["spec"]["image"] = format!("{}/weft:dev", node.registry()).into();
    submit(&node, &doc);
    node.finished("pulled", &["Succeeded"], 300);
    let pods = node.owned("pods", "pulled");
    let images: Vec<&str> = pods
        .iter()
        .filter_map(|p| p["status"]["containerStatuses"][0]["image"].as_str())
        .collect();
    assert!(
        !images.is_empty() && images.iter().all(|i| i.starts_with("127.0.0.1:")),
        "{images:?}"
    );
}

#[test]
fn a_new_operator_pod_carries_the_run_on_without_duplicating_jobs() {
    let Some(node) = node() else { return };
    let doc = churn("handover", true);
    submit(&node, &doc);
    node.running_pod("handover");
    let first = node.owned("jobs", "handover");
    assert_eq!(first.len(), 1);
    let uid = first[0]["metadata"]["uid"].clone();
    node.kubectl(&[
        "delete",
        "pod",
        "-l",
        "app.kubernetes.io/component=operator",
        "--wait=false",
    ]);
    node.finished("handover", &["Succeeded"], 300);
    let jobs = node.owned("jobs", "handover");
    let stages: Vec<&str> = jobs
        .iter()
        .filter_map(|j| j["metadata"]["labels"]["weft.dev/stage"].as_str())
        .collect();
    assert_eq!(stages.len(), 3, "one Job per stage: {stages:?}");
    let stage0 = jobs
        .iter()
        .find(|j| j["metadata"]["labels"]["weft.dev/stage"] == "0")
        .unwrap();
    assert_eq!(
        stage0["metadata"]["uid"], uid,
        "stage 0's Job was made again"
    );

    // Deleting the Pipeline collects its Jobs and their pods.
    node.kubectl(&["delete", "pipeline", "handover"]);
    node.wait("the Jobs and pods of handover to go", 120, |n| {
        (n.owned("jobs", "handover").is_empty() && n.owned("pods", "handover").is_empty())
            .then_some(())
    });
    assert!(node.json(&["get", "configmaps"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["metadata"]["name"] != "handover-manifest"));
}

#[test]
fn a_step_with_three_shards_runs_on_this_server() {
    let Some(node) = node() else { return };
    let mut doc = churn("sharded", false);
    let spec = &mut doc["spec"];
    spec["input"]["path"] = "data/parts".into();
    spec["steps"][0]["config"]["strategy"] = "mean".into();
    spec["steps"][0]["shards"] = 3.into();
    let case = lay_out(&node, "sharded");
    let text = std::fs::read_to_string(case.join("data/train.csv")).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    std::fs::create_dir_all(case.join("data/parts")).unwrap();
    for (i, part) in rows.chunks(rows.len().div_ceil(3)).enumerate() {
        let file = case.join(format!("data/parts/{i}.csv"));
        std::fs::write(file, format!("{header}\n{}\n", part.join("\n"))).unwrap();
    }
    node::open_to_pods(&case.join("data/parts"));
    node.apply(&serde_yaml::to_string(&doc).unwrap());
    let status = node.finished("sharded", &["Succeeded"], 300);
    let version = node.json(&["version"]);
    let minor: u32 = version["serverVersion"]["minor"]
        .as_str()
        .unwrap()
        .trim_end_matches('+')
        .parse()
        .unwrap();
    let shard_jobs = node
        .owned("jobs", "sharded")
        .into_iter()
        .filter(|j| j["metadata"]["labels"]["weft.dev/stage"] == "0")
        .count();
    assert_eq!(shard_jobs, if minor < 22 { 3 } else { 1 }, "{status:#}");
    let local = local_run(&doc, &case);
    let (got, want) = (
        read_parquet(&case.join("out/data.parquet")),
        read_parquet(&local.join("data.parquet")),
    );
    for column in ["age", "income", "churn_score"] {
        assert_close(
            column,
            &f64s(&got, column),
            &f64s(&want, column),
            1e-9,
            1e-9,
        );
    }
}

#[test]
fn weft_serve_from_the_chart_answers_like_the_batch_run() {
    let Some(node) = node() else { return };
    let doc = churn("served", false);
    let case = submit(&node, &doc);
    node.finished("served", &["Succeeded"], 300);
    let mut manifest = doc.clone();
    manifest["spec"].as_mapping_mut().unwrap().remove("storage");
    std::fs::write(
        case.join("pipeline.yaml"),
        serde_yaml::to_string(&manifest).unwrap(),
    )
    .unwrap();
    let values = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        values.path(),
        "serve:\n  enabled: true\n  args: [/data/pipeline.yaml, --state, /data/out/state, --workers, '1']\n  \
         volumes: [{ name: data, persistentVolumeClaim: { claimName: data } }]\n  \
         volumeMounts: [{ name: data, mountPath: /data, subPath: served, readOnly: true }]\n",
    )
    .unwrap();
    let chart = chart_for_1_20();
    output(
        helm("v3")
            .args(["--kubeconfig", &node.kubeconfig, "upgrade", RELEASE])
            .arg(chart.path())
            .args([
                "--namespace",
                NAMESPACE,
                "--reuse-values",
                "--wait",
                "--timeout",
                "180s",
                "-f",
            ])
            .arg(values.path()),
    );
    let service = node.json(&["get", "service", "weft-e2e-serve"]);
    let address = format!(
        "http://{}:8080/v1/transform",
        service["spec"]["clusterIP"].as_str().unwrap()
    );
    let text = std::fs::read_to_string(case.join("data/train.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let records: Vec<Value> = lines
        .take(20)
        .map(|line| {
            let fields = header.iter().zip(line.split(',')).map(|(k, v)| {
                let value = match v {
                    "" => Value::Null,
                    v => v.parse::<f64>().map_or_else(|_| json!(v), |n| json!(n)),
                };
                ((*k).to_owned(), value)
            });
            Value::Object(fields.collect())
        })
        .collect();
    let answer: Value = node.wait("serve to answer through its Service", 60, |_| {
        let body = json!({ "records": records }).to_string();
        let reply = ureq::post(&address)
            .header("content-type", "application/json")
            .send(body.as_bytes())
            .ok()?;
        serde_json::from_slice(&reply.into_body().read_to_vec().ok()?).ok()
    });
    let scores: Vec<Option<f64>> = answer["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["churn_score"].as_f64())
        .collect();
    let batch = read_parquet(&case.join("out/data.parquet"));
    assert_close(
        "churn_score",
        &scores,
        &f64s(&batch, "churn_score")[..20],
        1e-9,
        1e-9,
    );
}

#[test]
fn a_node_that_goes_away_mid_stage_fails_the_stage_naming_it() {
    let Some(node) = node() else { return };
    let mut doc = churn("node-lost", true);
    doc["spec"]["batchRows"] = 20.into();
    submit(&node, &doc);
    node.running_pod("node-lost");
    node.script(&["kubelet", "stop"]);
    let restart = Restart(&node);
    let status = node.finished("node-lost", &["Failed"], 240);
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains("node.kubernetes.io/unreachable") || message.contains("not ready"),
        "{message}"
    );
    drop(restart);
}

/// Starts the kubelet again however the test ends.
struct Restart<'a>(&'a Node);

impl Drop for Restart<'_> {
    fn drop(&mut self) {
        self.0.script(&["kubelet", "start"]);
        self.0.wait("the node to be Ready again", 120, |n| {
            let ready = n.kubectl(&[
                "get",
                "node",
                "localhost",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ]);
            (ready == "True").then_some(())
        });
    }
}
