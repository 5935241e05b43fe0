//! A model mounted from an OCI registry on the node: the test's own
//! registry (Debian's `docker-registry`) listens on every address, and
//! the operator and the stage pods reach it on the pod bridge's gateway,
//! over plain HTTP (`insecure: true`, as that address is not loopback).

use std::net::{IpAddr, Ipv4Addr};

use weft_tests::registry::Registry;
use weft_tests::*;

use super::node::node;
use super::{assert_same_output, example, local_run, step, submit, yaml};

/// The host's address on the pod bridge (scripts/kube-node.sh).
const GATEWAY: &str = "10.88.77.1";

/// The churn model example with `score` mounting the model by tag from a
/// registry: the operator pins it to a digest and sha256 for the run, the
/// pods pull it themselves, and the output is a local run's.
#[test]
fn the_churn_model_from_a_registry_scores_on_the_node_as_here() {
    let Some(node) = node() else { return };
    let Some(registry) = Registry::start_on(IpAddr::V4(Ipv4Addr::UNSPECIFIED), None) else {
        return;
    };
    let model = workspace().join("examples/churn/models/churn.onnx");
    let pushed = weft_in(
        workspace(),
        [
            "push".as_ref(),
            model.as_os_str(),
            registry.reference("models/churn:1").as_ref(),
        ],
    );
    pushed.ok();
    let digest = pushed
        .stdout
        .lines()
        .last()
        .unwrap()
        .rsplit_once('@')
        .unwrap()
        .1
        .to_owned();
    let port = registry.addr.rsplit_once(':').unwrap().1;
    let reference = format!("{GATEWAY}:{port}/models/churn:1");

    let name = "churn-registry";
    let mut doc = example("pipeline-model.yaml", name);
    let steps = doc["spec"]["steps"].as_sequence_mut().unwrap();
    let score = steps.iter_mut().find(|s| s["name"] == "score").unwrap();
    score["mounts"] = yaml(&format!(
        "[{{ oci: \"{reference}\", insecure: true, as: /models }}]"
    ));
    let case = submit(&node, &doc);
    let status = node.finished(name, &["Succeeded"], 300);
    let gate = &step(&status, "evaluate")["gates"][0];
    assert_eq!(gate["passed"].as_bool(), Some(true), "{status:#}");

    // The pods ran the manifest with the mount pinned for this run.
    let sha = sha256_file(&model);
    let config_maps = node.owned("configmaps", name);
    let ran = config_maps[0]["data"]["pipeline.yaml"].as_str().unwrap();
    let pinned = format!("{GATEWAY}:{port}/models/churn@{digest}");
    assert!(ran.contains(&pinned) && ran.contains(&sha), "{ran}");

    let local = local_run(&doc, &case);
    assert_same_output(
        &case.join("out/model/data.parquet"),
        &local.join("model/data.parquet"),
    );
}
