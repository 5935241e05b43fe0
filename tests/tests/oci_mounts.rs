//! A step mount whose file comes from an OCI registry, against a real
//! registry (Debian's `docker-registry`, as in `oci.rs`): `weft push` of
//! the churn example's model in the ORAS file layout, the churn model
//! pipeline scoring it mounted by tag, by digest and pin, offline from the
//! cache, and under `weft serve`, each equal to the same pipeline with the
//! model's folder mounted by `path`; and the refusals (a wrong pin, a
//! missing tag, a Wasm component as a mount, a model over the step's
//! `hostMemory`, both `path` and `oci`). Each test has its own cache.

#[path = "served/mod.rs"]
mod served;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::json;
use weft_tests::registry::{self, Registry};
use weft_tests::*;

const PATH_MOUNT: &str = "mounts: [{ path: models, as: /models }]";
const BY_PATH: &str = "path: models, as: /models";

/// `weft ARGS` in `dir` with its caches in `dir/cache`, no docker config
/// and the test venv's ONNX Runtime.
fn weft(dir: &Workdir, args: &[&str]) -> Run {
    let cache = dir.join("cache");
    let none = dir.join("no-docker-config");
    let runtime = onnxruntime_lib();
    let mut envs: Vec<(&str, &OsStr)> = vec![
        ("WEFT_CACHE_DIR", cache.as_os_str()),
        ("DOCKER_CONFIG", none.as_os_str()),
    ];
    envs.extend(
        runtime
            .as_deref()
            .map(|r| ("WEFT_ONNXRUNTIME", r.as_os_str())),
    );
    weft_with(dir.path(), args, &envs)
}

fn churn() -> PathBuf {
    workspace().join("examples/churn")
}

/// Push the churn model to `reference`: its pinned reference (the last
/// line), manifest digest and sha256.
fn push_model(dir: &Workdir, reference: &str) -> (String, String, String) {
    let model = churn().join("models/churn.onnx");
    let run = weft(dir, &["push", &model.to_string_lossy(), reference]);
    let sha = sha256_file(&model);
    run.ok().stdout_has(&[
        &format!("pushed file churn.onnx to {reference}"),
        &format!("file sha256: {sha} (pin it as the mount's sha256)"),
    ]);
    let pinned = run.stdout.lines().last().unwrap().to_owned();
    let digest = pinned.rsplit_once('@').expect("a reference by digest").1;
    run.stdout_has(&[&format!("manifest digest: {digest}")]);
    (pinned.clone(), digest.to_owned(), sha)
}

/// The churn model example in `dir` as `name`, writing to `out/`, its
/// `score` step mounting `mount` (a flow mapping's body) and with `extra`
/// lines in that step; the data and the model's folder copied beside it.
fn churn_model(dir: &Workdir, name: &str, out: &str, mount: &str, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(churn().join("pipeline-model.yaml")).unwrap();
    let target = workspace().join("target");
    let mut yaml = text
        .replace("../../target", &target.to_string_lossy())
        .replace("path: out/model/", &format!("path: {out}/"));
    assert!(yaml.contains(PATH_MOUNT), "{yaml}");
    let step = format!("mounts: [{{ {mount} }}]{extra}");
    yaml = yaml.replace(PATH_MOUNT, &step);
    for file in ["data/train.csv", "models/churn.onnx"] {
        if !dir.join(file).exists() {
            dir.write(file, std::fs::read(churn().join(file)).unwrap());
        }
    }
    dir.write(name, yaml)
}

/// The mounted folders in `dir`'s cache.
fn cached_files(dir: &Workdir) -> Vec<String> {
    files_under(&dir.join("cache/oci/files"))
}

#[test]
fn a_model_from_the_registry_scores_as_the_same_model_from_a_folder() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = Workdir::new();
    let reference = registry.reference("models/churn:1");
    let (pinned, digest, sha) = push_model(&dir, &reference);
    assert_eq!(
        pinned,
        registry.reference(&format!("models/churn@{digest}"))
    );

    // The ORAS file layout: the empty config, one layer titled churn.onnx.
    let manifest = registry::raw_manifest(&reference);
    assert_eq!(manifest["artifactType"], "application/vnd.weft.file.v1");
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["digest"], format!("sha256:{sha}"));
    assert_eq!(
        layers[0]["annotations"]["org.opencontainers.image.title"],
        "churn.onnx"
    );

    churn_model(&dir, "path.yaml", "by-path", BY_PATH, "");
    weft(&dir, &["run", "-q", "path.yaml"]).ok();
    let want = read_parquet(&dir.join("by-path/data.parquet"));
    let by_tag = format!("oci: \"{reference}\", as: /models");
    let by_pin = format!("oci: \"{pinned}\", sha256: {sha}, as: /models");
    let tag_pin = format!("oci: \"{reference}\", sha256: {sha}, as: /models");
    for (name, mount) in [("tag", &by_tag), ("pin", &by_pin)] {
        churn_model(&dir, &format!("{name}.yaml"), name, mount, "");
        weft(&dir, &["validate", &format!("{name}.yaml")]).ok();
        weft(&dir, &["run", "-q", &format!("{name}.yaml")]).ok();
        assert_eq!(
            read_parquet(&dir.join(format!("{name}/data.parquet"))),
            want
        );
    }
    // The report says which bytes each step was given.
    let report = read_json(&dir.join("tag/report.json"));
    let score = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["mounts"].is_array());
    let mounted =
        json!([{"as": "/models", "reference": reference, "manifestDigest": digest, "sha256": sha}]);
    assert_eq!(score.map(|s| &s["mounts"]), Some(&mounted), "{report}");
    let path_report = read_json(&dir.join("by-path/report.json"));
    let steps = path_report["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s.get("mounts").is_none()),
        "{path_report}"
    );
    let folder = format!("{sha}-churn.onnx");
    assert_eq!(cached_files(&dir), vec![format!("{folder}/churn.onnx")]);
    let kept = dir.join(format!("cache/oci/files/{folder}/churn.onnx"));
    assert_eq!(sha256_file(&kept), sha);
    assert!(std::fs::metadata(&kept).unwrap().permissions().readonly());

    // Pinned and cached: no registry needed any more.
    drop(registry);
    churn_model(&dir, "offline.yaml", "offline", &tag_pin, "");
    weft(&dir, &["run", "-q", "offline.yaml"]).ok();
    assert_eq!(read_parquet(&dir.join("offline/data.parquet")), want);
    let run = weft(&dir, &["run", "-q", "tag.yaml", "--no-cache"]);
    run.failed().stderr_has(&["registry unreachable"]);
}

#[test]
fn weft_serve_scores_with_a_model_from_the_registry() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = Workdir::new();
    let reference = registry.reference("models/churn:serve");
    push_model(&dir, &reference);
    let by_path = churn_model(&dir, "path.yaml", "out", BY_PATH, "");
    let mount = format!("oci: \"{reference}\", as: /models");
    let by_oci = churn_model(&dir, "oci.yaml", "out", &mount, "");
    // The fitted states the server needs.
    weft(&dir, &["run", "-q", "path.yaml"]).ok();
    let request = json!({"columns": {
        "age": [27, 70, null], "income": [21280.68, null, 53174.44],
        "plan": ["basic", "pro", null], "tenure_months": [11, 28, 13],
        "monthly_charges": [27.26, 29.77, 52.78]
    }});
    let cache = dir.join("serve-cache");
    let envs = [("WEFT_CACHE_DIR", cache.as_os_str())];
    let from_path = served::Served::start(&dir, &by_path, &[]).json(&request);
    let from_oci = served::Served::start_with(&dir, &by_oci, &[], &envs).json(&request);
    assert_eq!(from_oci.0, 200, "{}", from_oci.1);
    assert_eq!(from_oci, from_path);
    assert!(
        from_oci.1["columns"]["churn_1"].is_array(),
        "{}",
        from_oci.1
    );
    let sha = sha256_file(&churn().join("models/churn.onnx"));
    assert_eq!(
        files_under(&cache.join("oci/files")),
        vec![format!("{sha}-churn.onnx/churn.onnx")]
    );
}

/// Run `manifest` in `dir`, expecting it to fail with an error at the
/// first `needle` after the `score` step's name that says `says`, and
/// no outputs.
#[track_caller]
fn refused(dir: &Workdir, manifest: &Path, needle: &str, says: &[&str]) {
    let text = std::fs::read_to_string(manifest).unwrap();
    let (line, column) = locate(&text, "name: score", needle);
    let name = manifest.file_name().unwrap().to_string_lossy();
    for command in [&["validate"][..], &["run", "-q"]] {
        let run = weft(dir, &[command, &[name.as_ref()]].concat());
        let error = run.failed().error_line().to_owned();
        assert!(
            error.contains(&format!("{name}:{line}:{column}: step \"score\": ")),
            "{error}"
        );
        for s in says {
            assert!(error.contains(s), "{s:?} not in {error}");
        }
    }
    assert_no_outputs(&dir.join("out"));
    assert_eq!(cached_files(dir), Vec::<String>::new());
}

#[test]
fn bad_registry_mounts_are_refused_naming_the_step_and_the_reference() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = Workdir::new();
    let reference = registry.reference("models/churn:1");
    let (_, _, sha) = push_model(&dir, &reference);
    let wrong = "ab".repeat(32);
    let scale = registry.reference("weft/scale:1");
    weft(&dir, &["push", &plugin("scale").to_string_lossy(), &scale]).ok();
    let missing = registry.reference("models/churn:nope");

    let size = std::fs::metadata(churn().join("models/churn.onnx"))
        .unwrap()
        .len();
    let cases = [
        (
            format!("oci: \"{reference}\", sha256: {wrong}, as: /models"),
            "",
            "oci",
            vec![
                format!("the mount as \"/models\": {reference}: the file's sha256 is {sha} but {wrong} is pinned"),
                "nothing was cached".to_owned(),
            ],
        ),
        (
            format!("oci: \"{missing}\", as: /models"),
            "",
            "oci",
            vec![format!("{missing}: not found in the registry")],
        ),
        (
            format!("oci: \"{scale}\", as: /models"),
            "",
            "oci",
            vec![format!("{scale}: not a file artifact for a mount: a Wasm component (use it as a plugin")],
        ),
        (
            "oci: \"models/churn:1\", as: /models".to_owned(),
            "",
            "oci",
            vec!["\"models/churn:1\" is not a registry reference".to_owned()],
        ),
        (
            format!("oci: \"{reference}\", as: /models"),
            "\n      limits: { hostMemory: 16Ki }",
            "oci",
            vec![format!("{reference}: the file \"churn.onnx\" is {size} bytes, over the limit of 16384 bytes")],
        ),
        (
            format!("path: models, oci: \"{reference}\", as: /models"),
            "",
            "mounts",
            vec!["the mount as \"/models\" needs exactly one of `path`".to_owned()],
        ),
    ];
    for (i, (mount, extra, needle, says)) in cases.iter().enumerate() {
        let manifest = churn_model(&dir, &format!("p{i}.yaml"), "out", mount, extra);
        let says: Vec<&str> = says.iter().map(String::as_str).collect();
        refused(&dir, &manifest, needle, &says);
    }
}

#[test]
fn a_component_pushed_as_a_file_mounts_and_odd_files_are_refused() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = Workdir::new();
    // --file pushes even Wasm as a plain file, under its name.
    let scale = plugin("scale");
    let reference = registry.reference("files/scale:1");
    weft(
        &dir,
        &["push", "--file", &scale.to_string_lossy(), &reference],
    )
    .ok()
    .stdout_has(&["pushed file scale.wasm", &sha256_file(&scale)]);
    let manifest = registry::raw_manifest(&reference);
    assert_eq!(
        manifest["layers"][0]["annotations"]["org.opencontainers.image.title"],
        "scale.wasm"
    );
    // An image layer without a title is no file for a mount.
    let image = registry.reference("weft/image:v1");
    registry::push_artifact(
        &image,
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.oci.image.layer.v1.tar",
        b"not a tar",
    );
    let mount = format!("oci: \"{image}\", as: /models");
    let manifest = churn_model(&dir, "image.yaml", "out", &mount, "");
    refused(
        &dir,
        &manifest,
        "oci",
        &["not a file artifact for a mount: a layer of media type application/vnd.oci.image.layer.v1.tar without an org.opencontainers.image.title annotation"],
    );
    // A plugin reference that names a file is no component.
    let text = std::fs::read_to_string(churn_model(&dir, "p.yaml", "out", BY_PATH, "")).unwrap();
    let file_ref = registry.reference("models/churn:1");
    push_model(&dir, &file_ref);
    let swapped: Vec<String> = text
        .lines()
        .map(
            |line| match line.trim_start().starts_with("onnx-model: { path:") {
                true => format!("    onnx-model: {{ oci: \"{file_ref}\" }}"),
                false => line.to_owned(),
            },
        )
        .collect();
    assert!(swapped.iter().any(|l| l.contains(&file_ref)), "{text}");
    dir.write("plugin.yaml", swapped.join("\n"));
    weft(&dir, &["run", "-q", "plugin.yaml"])
        .failed()
        .stderr_has(&[
            &format!("{file_ref}: not a Wasm component artifact"),
            "config media type application/vnd.oci.empty.v1+json",
        ]);
}
