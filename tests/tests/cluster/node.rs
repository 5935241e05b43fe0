//! The cluster the end-to-end tests run on, as `scripts/kube-node.sh up`
//! leaves it: the chart installed once in the namespace `weft-e2e` (the
//! operator a real pod), the claim `data` bound to the node's hostPath
//! volume, which the tests read and write directly, each test in its own
//! folder (`storage.subPath`). Tests take the node one at a time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_tests::{chart_for_1_20, helm, output, workspace};

/// Where everything of the tests lives.
pub const NAMESPACE: &str = "weft-e2e";
/// The chart's release.
pub const RELEASE: &str = "weft-e2e";
/// Seconds the operator lets a stage's pods wait for a node or an image.
pub const STUCK_SECONDS: u64 = 15;

/// The node, set up for the tests.
pub struct Node {
    /// Its admin kubeconfig.
    pub kubeconfig: String,
    /// The node's folder (`scripts/kube-node.sh up DIR`).
    pub dir: PathBuf,
    /// The hostPath behind the claim `data`.
    pub volume: PathBuf,
}

/// The node, once it is set up, held by this test alone; `None` (having
/// said why) where no node runs.
pub fn node() -> Option<MutexGuard<'static, Node>> {
    static NODE: OnceLock<Option<Mutex<Node>>> = OnceLock::new();
    let node = NODE.get_or_init(|| {
        let Ok(kubeconfig) = std::env::var("WEFT_E2E_KUBECONFIG") else {
            let why = std::env::var("WEFT_E2E_SKIP").unwrap_or_else(|_| {
                "WEFT_E2E_KUBECONFIG is not set (scripts/kube-node.sh up prints the path)".into()
            });
            // Past the test harness's capture, so that a passing run shows it.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: the cluster end-to-end tests need a node: {why}"
            );
            return None;
        };
        Some(Mutex::new(Node::prepare(kubeconfig)))
    });
    // A test that failed while holding the node leaves it usable.
    node.as_ref()
        .map(|m| m.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

impl Node {
    fn prepare(kubeconfig: String) -> Node {
        let dir = Path::new(&kubeconfig).parent().unwrap().to_owned();
        let mut node = Node {
            kubeconfig,
            dir,
            volume: PathBuf::new(),
        };
        let path = node.kubectl(&[
            "get",
            "pv",
            "weft-data",
            "-o",
            "jsonpath={.spec.hostPath.path}",
        ]);
        node.volume = PathBuf::from(path);
        node.install_chart();
        // A claim of an earlier run is gone with its namespace; the volume
        // (kept on release) is free again once it forgets that claim.
        let forget = r#"[{"op": "remove", "path": "/spec/claimRef"}]"#;
        let _ = node
            .command(&["patch", "pv", "weft-data", "--type", "json", "-p", forget])
            .output();
        node.apply(
            r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
spec:
  storageClassName: weft-local
  volumeName: weft-data
  accessModes: [ReadWriteMany]
  resources: { requests: { storage: 1Gi } }
"#,
        );
        node.wait("the claim data to bind", 60, |n| {
            let phase = n.kubectl(&["get", "pvc", "data", "-o", "jsonpath={.status.phase}"]);
            (phase == "Bound").then_some(())
        });
        node
    }

    fn install_chart(&self) {
        let chart = chart_for_1_20();
        let _ = Command::new("kubectl")
            .args([
                "--kubeconfig",
                &self.kubeconfig,
                "delete",
                "namespace",
                NAMESPACE,
            ])
            .args(["--ignore-not-found", "--wait=true", "--timeout=120s"])
            .output();
        output(
            helm("v3")
                .args(["--kubeconfig", &self.kubeconfig, "install", RELEASE])
                .arg(chart.path())
                .args(["--namespace", NAMESPACE, "--create-namespace"])
                .args(["--wait", "--timeout", "180s"])
                .args(["--set", "image.repository=weft", "--set", "image.tag=dev"])
                .args(["--set", "serve.resources.requests.cpu=50m"])
                .args([
                    "--set",
                    &format!("operator.extraArgs={{--unschedulable-seconds={STUCK_SECONDS}}}"),
                ]),
        );
    }

    /// The port of the node's registry (`127.0.0.1:PORT/weft:dev`).
    pub fn registry(&self) -> String {
        let port = std::fs::read_to_string(self.dir.join("registry.port")).unwrap();
        format!("127.0.0.1:{}", port.trim())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.args(["--kubeconfig", &self.kubeconfig, "--namespace", NAMESPACE]);
        cmd.args(args);
        cmd
    }

    /// `kubectl` in the tests' namespace; its stdout, or a panic.
    #[track_caller]
    pub fn kubectl(&self, args: &[&str]) -> String {
        output(&mut self.command(args))
    }

    /// `kubectl get ... -o json`.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl(&all)).unwrap()
    }

    /// `kubectl apply` of `yaml`.
    #[track_caller]
    pub fn apply(&self, yaml: &str) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), yaml).unwrap();
        self.kubectl(&["apply", "-f", &file.path().to_string_lossy()]);
    }

    /// `scripts/kube-node.sh ARGS DIR`.
    pub fn script(&self, args: &[&str]) {
        output(
            Command::new(workspace().join("scripts/kube-node.sh"))
                .args(args)
                .arg(&self.dir),
        );
    }

    /// Poll `check` every half second until it gives a value; after
    /// `seconds`, panic saying what was awaited.
    #[track_caller]
    pub fn wait<T>(
        &self,
        what: &str,
        seconds: u64,
        mut check: impl FnMut(&Node) -> Option<T>,
    ) -> T {
        let started = Instant::now();
        loop {
            if let Some(found) = check(self) {
                return found;
            }
            if started.elapsed() > Duration::from_secs(seconds) {
                panic!("waited {seconds} s for {what}\n{}", self.diagnosis());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// What a failed test prints: pods, jobs, events and the operator's log.
    fn diagnosis(&self) -> String {
        let run = |args: &[&str]| {
            self.command(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        format!(
            "pods:\n{}\njobs:\n{}\nevents:\n{}\noperator log:\n{}",
            run(&["get", "pods", "-o", "wide"]),
            run(&["get", "jobs"]),
            run(&["get", "events", "--sort-by=.lastTimestamp"]),
            run(&["logs", "deploy/weft-e2e-operator", "--tail=40"]),
        )
    }

    /// A fresh folder `name` on the volume for one test.
    pub fn case(&self, name: &str) -> PathBuf {
        let dir = self.volume.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        open_to_pods(&dir);
        dir
    }

    /// The Pipeline `name` once its phase is one of `phases`: its status.
    #[track_caller]
    pub fn finished(&self, name: &str, phases: &[&str], seconds: u64) -> Value {
        self.wait(
            &format!("Pipeline {name} to reach {phases:?}"),
            seconds,
            |n| {
                let status = n.json(&["get", "pipeline", name])["status"].clone();
                let phase = status["phase"].as_str().unwrap_or_default().to_owned();
                if phase == "Failed" && !phases.contains(&"Failed") {
                    panic!("Pipeline {name} failed: {status:#}\n{}", n.diagnosis());
                }
                phases.contains(&phase.as_str()).then_some(status)
            },
        )
    }

    /// The Events of Pipeline `name`: (reason, message).
    pub fn events(&self, name: &str) -> Vec<(String, String)> {
        let selector = format!("involvedObject.name={name},involvedObject.kind=Pipeline");
        let list = self.json(&["get", "events", "--field-selector", &selector]);
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                (text("reason"), text("message"))
            })
            .collect()
    }

    /// Objects of `kind` made for Pipeline `name` (by its label).
    pub fn owned(&self, kind: &str, name: &str) -> Vec<Value> {
        let selector = format!("weft.dev/pipeline={name}");
        let list = self.json(&["get", kind, "-l", &selector]);
        list["items"].as_array().unwrap().clone()
    }

    /// The name of a pod of Pipeline `name` that runs now.
    pub fn running_pod(&self, name: &str) -> String {
        self.wait(&format!("a running pod of {name}"), 120, |n| {
            n.owned("pods", name).into_iter().find_map(|pod| {
                let running = pod["status"]["phase"] == "Running"
                    && pod["metadata"]["deletionTimestamp"].is_null();
                running.then(|| pod["metadata"]["name"].as_str().unwrap().to_owned())
            })
        })
    }
}

/// Stage pods run as 65532 and a hostPath volume ignores fsGroup: the
/// test's folders are open to them.
pub fn open_to_pods(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
}

/// Copy `from` into `to` (a folder), recursively, open to the pods.
pub fn copy_into(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    open_to_pods(to);
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_into(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
