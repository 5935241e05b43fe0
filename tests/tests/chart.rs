//! The Kubernetes assets: the committed CRD is exactly what `weft crd`
//! prints; the Helm chart lints and renders under helm v3 and v4 with default
//! and non-default values; every rendered object (the CRD too) passes
//! `kubernetes-validate --strict` against Kubernetes 1.31; RBAC is exactly the
//! least-privilege set; every pod is hardened; example pipelines are valid
//! custom resources. helm comes from `scripts/setup.sh --test` (cached in
//! `~/.cache/weft/tools`), kubernetes-validate from the test venv.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use std::ffi::OsStr;

use weft_tests::{helm, output, python, weft_in, workspace, Workdir};

/// The committed CRD, relative to the workspace.
const CRD_FILE: &str = "charts/weft/crds/pipelines.weft.dev.yaml";

/// The Kubernetes version rendered objects are validated against.
const KUBERNETES: &str = "1.31.0";

/// Values that turn on everything optional and change what can be changed.
const CUSTOM_VALUES: &str = r#"
image: { repository: registry.example/ml/weft, tag: "1.2.3", pullPolicy: Always }
imagePullSecrets: [{ name: regcred }]
operator:
  replicas: 2
  leaderElection: { enabled: true }
  resources: { requests: { cpu: 100m, memory: 128Mi }, limits: { cpu: "1", memory: 512Mi } }
  nodeSelector: { kubernetes.io/os: linux }
serve:
  enabled: true
  args: [/pipeline/pipeline.yaml, --state, /state]
  resources: { requests: { cpu: "2", memory: 4Gi }, limits: { memory: 4Gi, nvidia.com/gpu: 1 } }
  env: [{ name: WEFT_COMPUTE, value: gpu }]
  tolerations: [{ key: nvidia.com/gpu, operator: Exists, effect: NoSchedule }]
  volumes: [{ name: pipeline, configMap: { name: churn } }]
  volumeMounts: [{ name: pipeline, mountPath: /pipeline, readOnly: true }]
  autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 8 }
metrics:
  serviceMonitor: { enabled: true, labels: { release: prometheus } }
"#;

fn chart() -> PathBuf {
    workspace().join("charts/weft")
}

/// A test scratch folder holding the custom values file.
fn custom_values() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, CUSTOM_VALUES).unwrap();
    (dir, file)
}

/// `helm template` of the chart (CRDs included) with an optional values file.
fn render(major: &str, values: Option<&Path>) -> String {
    let mut cmd = helm(major);
    cmd.args(["template", "rel", "--namespace", "ml", "--include-crds"])
        .arg(chart());
    if let Some(file) = values {
        cmd.arg("--values").arg(file);
    }
    output(&mut cmd)
}

/// The objects of a multi-document YAML stream, as JSON.
fn objects(yaml: &str) -> Vec<Value> {
    yaml.split("\n---")
        .filter_map(|doc| serde_yaml::from_str::<Option<Value>>(doc).unwrap())
        .collect()
}

fn kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

#[track_caller]
fn one<'a>(objects: &'a [Value], wanted: &str) -> &'a Value {
    match kind(objects, wanted).as_slice() {
        [o] => o,
        other => panic!("expected one {wanted}, got {}", other.len()),
    }
}

#[test]
fn committed_crd_is_what_weft_crd_prints() {
    let printed = weft_in(workspace(), ["crd"]).ok().stdout.clone();
    let committed = std::fs::read_to_string(workspace().join(CRD_FILE)).unwrap_or_default();
    assert!(
        printed == committed,
        "{CRD_FILE} differs from `weft crd`; regenerate it with\n  \
         cargo run -q -p weft -- crd > {CRD_FILE}"
    );
    let crd = &objects(&printed)[0];
    assert_eq!(crd["metadata"]["name"], "pipelines.weft.dev");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["wfp"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], json!({}));
    let columns: Vec<&Value> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["jsonPath"])
        .collect();
    assert_eq!(
        columns,
        [
            ".status.phase",
            ".status.stepsDone",
            ".status.stepsTotal",
            ".metadata.creationTimestamp"
        ]
    );
}

#[test]
fn chart_lints_under_helm_3_and_4() {
    let (_dir, values) = custom_values();
    for major in ["v3", "v4"] {
        output(helm(major).args(["lint", "--strict"]).arg(chart()));
        output(
            helm(major)
                .args(["lint", "--strict", "--values"])
                .arg(&values)
                .arg(chart()),
        );
    }
}

/// `kubernetes-validate --strict` of `yaml` against [`KUBERNETES`]; the
/// kinds it had no schema for.
fn kubernetes_validate(yaml: &str) -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, yaml).unwrap();
    let bin = python().with_file_name("kubernetes-validate");
    let report = output(
        Command::new(&bin)
            .args(["--strict", "--kubernetes-version", KUBERNETES])
            .arg(&file),
    );
    assert!(!report.contains("ERROR"), "{report}");
    report
        .lines()
        .filter(|l| l.starts_with("WARN"))
        .map(|l| {
            let (_, rest) = l.split_once("for kind ").unwrap_or_else(|| panic!("{l}"));
            rest.split(' ').next().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn rendered_objects_are_valid_kubernetes_1_31() {
    let (_dir, values) = custom_values();
    for major in ["v3", "v4"] {
        let plain = render(major, None);
        assert!(kubernetes_validate(&plain).is_empty());
        assert_eq!(kind(&objects(&plain), "CustomResourceDefinition").len(), 1);
        // The ServiceMonitor's schema is the Prometheus Operator's, not
        // Kubernetes'; servicemonitor_scrapes_the_services checks it.
        let custom = render(major, Some(&values));
        assert_eq!(
            kubernetes_validate(&custom),
            BTreeSet::from(["ServiceMonitor".to_owned()])
        );
    }
}

#[test]
fn defaults_render_only_the_operator() {
    let objects = objects(&render("v3", None));
    let mut kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "Deployment",
            "Service",
            "ServiceAccount"
        ]
    );
    let pod = &one(&objects, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["image"], "weft:0.1.0");
    assert_eq!(
        pod["containers"][0]["args"],
        json!(["operator", "--listen=0.0.0.0:8080"])
    );
}

/// `(apiGroup, resource, sorted verbs)` of each rule of a Role or ClusterRole.
fn rules(role: &Value) -> BTreeSet<(String, String, Vec<String>)> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let mut set = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        let mut verbs = strings(&rule["verbs"]);
        verbs.sort();
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                set.insert((group.clone(), resource, verbs.clone()));
            }
        }
    }
    set
}

fn rule(group: &str, resource: &str, verbs: &[&str]) -> (String, String, Vec<String>) {
    let mut verbs: Vec<String> = verbs.iter().map(|v| v.to_string()).collect();
    verbs.sort();
    (group.into(), resource.into(), verbs)
}

#[test]
fn rbac_is_exactly_least_privilege() {
    let (_dir, values) = custom_values();
    let objects = objects(&render("v4", Some(&values)));
    let cluster = rules(one(&objects, "ClusterRole"));
    let expected = BTreeSet::from([
        rule("weft.dev", "pipelines", &["get", "list", "watch"]),
        rule("weft.dev", "pipelines/status", &["get", "patch", "update"]),
        rule(
            "batch",
            "jobs",
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        rule(
            "",
            "configmaps",
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        rule("", "pods", &["get", "list", "watch"]),
        rule("", "secrets", &["get"]),
        rule("", "nodes", &["get"]),
        rule("events.k8s.io", "events", &["create", "patch"]),
    ]);
    assert_eq!(cluster, expected);
    let leases = one(&objects, "Role");
    assert_eq!(leases["metadata"]["namespace"], "ml");
    assert_eq!(
        rules(leases),
        BTreeSet::from([rule(
            "coordination.k8s.io",
            "leases",
            &["get", "create", "update"]
        )])
    );
    let account = one(&objects, "ServiceAccount");
    assert_eq!(account["automountServiceAccountToken"], false);
    for binding in kind(&objects, "ClusterRoleBinding")
        .into_iter()
        .chain(kind(&objects, "RoleBinding"))
    {
        assert_eq!(
            binding["subjects"],
            json!([{ "kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "ml" }])
        );
    }
}

#[test]
fn every_pod_is_hardened() {
    let (_dir, values) = custom_values();
    for values in [None, Some(values.as_path())] {
        let objects = objects(&render("v3", values));
        for deployment in kind(&objects, "Deployment") {
            let name = deployment["metadata"]["name"].as_str().unwrap();
            let pod = &deployment["spec"]["template"]["spec"];
            let security = &pod["securityContext"];
            assert_eq!(security["runAsNonRoot"], true, "{name}");
            assert_eq!(
                security["seccompProfile"]["type"], "RuntimeDefault",
                "{name}"
            );
            // Only the operator talks to the API server.
            let operator = name.ends_with("-operator");
            assert_eq!(pod["automountServiceAccountToken"], operator, "{name}");
            for container in pod["containers"].as_array().unwrap() {
                let security = &container["securityContext"];
                assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
                assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
                assert_eq!(security["runAsNonRoot"], true, "{name}");
                assert_eq!(
                    security["capabilities"],
                    json!({ "drop": ["ALL"] }),
                    "{name}"
                );
                assert!(
                    container["resources"]["limits"]["memory"].is_string(),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn custom_values_reach_the_objects() {
    let (_dir, values) = custom_values();
    let objects = objects(&render("v4", Some(&values)));
    for object in &objects {
        if object["kind"] == "CustomResourceDefinition" {
            continue;
        }
        let labels = &object["metadata"]["labels"];
        for key in ["name", "instance", "component", "version", "managed-by"] {
            let label = format!("app.kubernetes.io/{key}");
            assert!(
                labels[&label].is_string(),
                "{} lacks {label}",
                object["metadata"]["name"]
            );
        }
    }
    let deployments = kind(&objects, "Deployment");
    let serve = deployments
        .iter()
        .find(|d| d["metadata"]["name"] == "rel-weft-serve")
        .expect("serve is enabled");
    assert!(serve["spec"]["replicas"].is_null(), "the HPA owns replicas");
    let container = &serve["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example/ml/weft:1.2.3");
    assert_eq!(container["resources"]["limits"]["nvidia.com/gpu"], 1);
    assert_eq!(
        container["args"],
        json!([
            "serve",
            "--listen=0.0.0.0:8080",
            "/pipeline/pipeline.yaml",
            "--state",
            "/state"
        ])
    );
    let operator = deployments
        .iter()
        .find(|d| d["metadata"]["name"] == "rel-weft-operator")
        .unwrap();
    assert_eq!(operator["spec"]["replicas"], 2);
    assert!(
        operator["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--leader-elect"))
    );
    let hpa = one(&objects, "HorizontalPodAutoscaler");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "rel-weft-serve");
    assert_eq!(
        (&hpa["spec"]["minReplicas"], &hpa["spec"]["maxReplicas"]),
        (&json!(2), &json!(8))
    );
}

#[test]
fn servicemonitor_scrapes_the_services() {
    let (_dir, values) = custom_values();
    let objects = objects(&render("v3", Some(&values)));
    let monitor = one(&objects, "ServiceMonitor");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap();
    let mut scraped = BTreeSet::new();
    for service in kind(&objects, "Service") {
        let labels = &service["metadata"]["labels"];
        assert!(selector.iter().all(|(k, v)| &labels[k] == v), "{service}");
        for port in service["spec"]["ports"].as_array().unwrap() {
            scraped.insert(port["name"].as_str().unwrap().to_owned());
        }
    }
    let endpoints: BTreeSet<String> = monitor["spec"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["port"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(endpoints, scraped);
}

/// Validate `objects` against the CRD's OpenAPI schema with Python's
/// jsonschema; one line per object, "ok" or the first error.
fn against_crd_schema(objects: &[Value]) -> Vec<String> {
    let crd = &objects_of_crd()[0];
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let script = "import json, sys, jsonschema\n\
        schema, docs = json.load(sys.stdin)\n\
        for doc in docs:\n\
        \x20   errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=str)\n\
        \x20   print('ok' if not errors else '/'.join(map(str, errors[0].path)) + ': ' + errors[0].message)\n";
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    std::fs::write(&input, json!([schema, objects]).to_string()).unwrap();
    let stdin = std::fs::File::open(&input).unwrap();
    output(Command::new(python()).args(["-c", script]).stdin(stdin))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn objects_of_crd() -> Vec<Value> {
    objects(&std::fs::read_to_string(workspace().join(CRD_FILE)).unwrap())
}

#[test]
fn manifests_are_valid_custom_resources() {
    let churn = std::fs::read_to_string(workspace().join("examples/churn/pipeline.yaml")).unwrap();
    let good = objects(&churn).remove(0);
    let mut zero_shards = good.clone();
    zero_shards["spec"]["steps"][0]["shards"] = json!(0);
    let mut bad_compute = good.clone();
    bad_compute["spec"]["compute"] = json!("tpu");
    let mut no_steps = good.clone();
    no_steps["spec"]["steps"] = json!([]);
    let mut cluster = good.clone();
    cluster["spec"]["storage"] = json!({ "claimName": "data", "subPath": "churn" });
    cluster["spec"]["steps"][0]["resources"] =
        json!({ "cpu": 2, "memory": "4Gi", "nvidia.com/gpu": 1 });
    cluster["spec"]["tolerations"] = json!([{ "key": "nvidia.com/gpu", "operator": "Exists" }]);
    let verdicts = against_crd_schema(&[good, cluster, zero_shards, bad_compute, no_steps]);
    assert_eq!(verdicts[..2], ["ok", "ok"], "{verdicts:?}");
    assert!(
        verdicts[2].starts_with("spec/steps/0/shards: 0 is less than"),
        "{verdicts:?}"
    );
    assert!(
        verdicts[3].starts_with("spec/compute: 'tpu' is not one of"),
        "{verdicts:?}"
    );
    assert!(verdicts[4].starts_with("spec/steps: [] "), "{verdicts:?}");
}

/// `weft plan`: the stage table, and `--objects` (ConfigMap + one Job per
/// stage) valid for Kubernetes 1.31 and hardened like the chart's pods.
#[test]
fn weft_plan_cuts_stages_and_renders_valid_jobs() {
    let dir = Workdir::new();
    let manifest = dir.write(
        "pipeline.yaml",
        r#"apiVersion: weft.dev/v1alpha1
kind: Pipeline
metadata: { name: churn, namespace: ml }
spec:
  plugins: { p: { path: p.wasm } }
  input: { path: in.csv }
  output: { path: out/ }
  storage: { claimName: ml-data, subPath: churn }
  activeDeadlineSeconds: 600
  steps:
    - { name: fill, plugin: p }
    - { name: scale, plugin: p, needs: [fill], retries: 2 }
    - { name: score, plugin: p, needs: [scale], resources: { memory: 4Gi, nvidia.com/gpu: 1 } }
    - { name: eval, plugin: p, needs: [score], shards: 3 }
"#,
    );
    let table = dir.weft([OsStr::new("plan"), manifest.as_os_str()]);
    table.ok().stdout_has(&[
        "0      fill, scale  run               1     2",
        "1      score        run               1     0        memory=4Gi nvidia.com/gpu=1",
        "2      eval         fit shares        3     0",
        "3      eval         merge, transform  1     0",
    ]);
    let run = dir.weft([
        OsStr::new("plan"),
        OsStr::new("--objects"),
        manifest.as_os_str(),
    ]);
    run.ok();
    assert!(kubernetes_validate(&run.stdout).is_empty());
    let objects = objects(&run.stdout);
    assert_eq!(
        one(&objects, "ConfigMap")["metadata"]["name"],
        "churn-manifest"
    );
    let jobs = kind(&objects, "Job");
    assert_eq!(jobs.len(), 4);
    assert_eq!(jobs[2]["spec"]["completionMode"], "Indexed");
    assert_eq!(jobs[2]["spec"]["completions"], 3);
    assert!(jobs[3]["spec"]["completionMode"].is_null(), "{:#}", jobs[3]);
    for job in jobs {
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["automountServiceAccountToken"], false, "{job:#}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let c = &pod["containers"][0]["securityContext"];
        assert_eq!(c["readOnlyRootFilesystem"], true, "{job:#}");
        assert_eq!(c["capabilities"]["drop"][0], "ALL", "{job:#}");
    }
    // A manifest mistake is reported as by `weft validate`.
    let bad = dir.write(
        "bad.yaml",
        "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\n",
    );
    dir.weft([OsStr::new("plan"), bad.as_os_str()])
        .failed()
        .stderr_has(&["bad.yaml"]);
}
