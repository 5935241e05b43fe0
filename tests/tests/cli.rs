//! The `weft` command line: bad input is refused with a message that points
//! at the file and line, the step, the column or the field; `validate`,
//! `inspect` and `--help`; data formats; reusing fitted states.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float32Array, Float64Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use serde_json::{json, Value};
use weft_tests::*;

const INPUT: &str = "id,x,name\n1,0.5,a\n2,,b\n3,-2.25,\n4,8,d\n";

fn hostile() -> PathBuf {
    plugin("hostile")
}

/// A work folder with `in.csv` and a pass-through pipeline.
fn passthrough() -> (Workdir, Pipeline) {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let p = Pipeline::new("in.csv").plugin("hostile", &hostile()).step(
        "pass",
        "hostile",
        json!({ "attack": "none" }),
        "",
    );
    (dir, p)
}

// ---------------------------------------------------------------- manifests

#[test]
fn unknown_manifest_field_is_located() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let yaml = format!(
        "{}    - name: pass\n      plugin: hostile\n      confg: {{ attack: none }}\n",
        Pipeline::new("in.csv").plugin("hostile", &hostile()).yaml()
    );
    let manifest = dir.write("pipeline.yaml", &yaml);
    let run = dir.run(&manifest, &[]);
    assert_located(
        &run,
        &manifest,
        "name: pass",
        "confg",
        "spec.steps[0]: unknown field `confg`",
    );
    assert_no_outputs(&dir.join("out"));
    // validate says the same.
    let validate = dir.validate(&manifest);
    assert_located(
        &validate,
        &manifest,
        "name: pass",
        "confg",
        "spec.steps[0]: unknown field `confg`",
    );
}

#[test]
fn manifest_mistakes_are_located() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let base = || Pipeline::new("in.csv").plugin("hostile", &hostile());
    let none = json!({ "attack": "none" });
    // (pipeline, located after, needle, message)
    let cases: Vec<(Pipeline, &str, &str, &str)> = vec![
        (
            base()
                .step("a", "hostile", none.clone(), "needs: [b]")
                .step("b", "hostile", none.clone(), "needs: [a]"),
            "name: a",
            "needs",
            "the steps a, b need each other in a cycle",
        ),
        (
            base().step("a", "nope", none.clone(), ""),
            "name: a",
            "plugin",
            "step \"a\" uses plugin \"nope\", which spec.plugins does not define (defined: hostile)",
        ),
        (
            base().step("a", "hostile", none.clone(), "needs: [ghost]"),
            "name: a",
            "ghost",
            "step \"a\" needs \"ghost\", which is not a step",
        ),
        (
            base().step("Bad_Name", "hostile", none.clone(), ""),
            "name: Bad_Name",
            "Bad_Name",
            "step name \"Bad_Name\" must be 1-63 lowercase letters",
        ),
        (
            base().step("a", "hostile", none.clone(), "limits: { memory: lots }"),
            "name: a",
            "memory",
            "step \"a\": limits.memory: \"lots\" is not a byte quantity",
        ),
        (
            base().step("a", "hostile", none.clone(), "limits: { timeoutSeconds: 0 }"),
            "name: a",
            "timeoutSeconds",
            "step \"a\": limits.timeoutSeconds: must be positive",
        ),
        (
            base().spec("batchRows: 0").step("a", "hostile", none.clone(), ""),
            "",
            "batchRows",
            "batchRows must be at least 1",
        ),
        (
            base().spec("workers: 0").step("a", "hostile", none.clone(), ""),
            "",
            "workers",
            "workers must be at least 1",
        ),
        (
            base(),
            "",
            "steps",
            "the pipeline has no steps",
        ),
    ];
    for (i, (pipeline, after, needle, message)) in cases.into_iter().enumerate() {
        let manifest = pipeline.write(&dir, &format!("case{i}.yaml"));
        let run = dir.run(&manifest, &[]);
        assert_located(&run, &manifest, after, needle, message);
        let validate = dir.validate(&manifest);
        assert_located(&validate, &manifest, after, needle, message);
    }
    assert_no_outputs(&dir.join("out"));

    let wrong_api = dir.write(
        "api.yaml",
        base()
            .step("a", "hostile", none.clone(), "")
            .yaml()
            .replace("weft.dev/v1alpha1", "weft.dev/v9"),
    );
    let run = dir.run(&wrong_api, &[]);
    assert_located(
        &run,
        &wrong_api,
        "",
        "apiVersion",
        "apiVersion is \"weft.dev/v9\"; weft reads \"weft.dev/v1alpha1\"",
    );
}

#[test]
fn errors_point_at_the_step_they_are_about() {
    // The step names share a prefix: the location must be the offending
    // step's line, not the first step whose name starts the same.
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let none = json!({ "attack": "none" });
    let base = || Pipeline::new("in.csv").plugin("hostile", &hostile());
    let manifest = base()
        .step("fill-all", "hostile", none.clone(), "")
        .step("fill", "nope", none.clone(), "")
        .write(&dir, "prefix.yaml");
    let run = dir.run(&manifest, &[]);
    assert_located(
        &run,
        &manifest,
        "name: fill,",
        "plugin",
        "step \"fill\" uses plugin \"nope\"",
    );
}

#[test]
fn duplicate_step_name_points_at_the_second_definition() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let none = json!({ "attack": "none" });
    let base = || Pipeline::new("in.csv").plugin("hostile", &hostile());
    let manifest = base()
        .step("dup", "hostile", none.clone(), "")
        .step("other", "hostile", none.clone(), "")
        .step("dup", "hostile", none.clone(), "")
        .write(&dir, "dup.yaml");
    let run = dir.run(&manifest, &[]);
    assert_located(
        &run,
        &manifest,
        "name: other",
        "dup",
        "two steps are named \"dup\"",
    );
}

/// The cluster-only fields run locally unchanged; their bounds are still
/// checked, with the line of the field.
#[test]
fn cluster_fields_are_accepted_locally_and_bounded() {
    let (dir, p) = passthrough();
    let cluster = "resources: { cpu: 2, memory: 4Gi, nvidia.com/gpu: 1 }, shards: 2, retries: 3";
    let manifest = p
        .clone()
        .spec("image: registry.example/weft:1")
        .spec("storage: { claimName: data, subPath: churn }")
        .spec("nodeSelector: { pool: gpu }")
        .spec("tolerations: [{ key: nvidia.com/gpu, operator: Exists, effect: NoSchedule }]")
        .spec("activeDeadlineSeconds: 600")
        .spec("ttlSecondsAfterFinished: 60")
        .step("more", "hostile", json!({ "attack": "none" }), cluster)
        .write(&dir, "cluster.yaml");
    dir.run(&manifest, &[]).ok();
    let zero = p
        .step("split", "hostile", json!({ "attack": "none" }), "shards: 0")
        .write(&dir, "zero.yaml");
    let run = dir.validate(&zero);
    assert_located(
        &run,
        &zero,
        "name: split",
        "shards",
        "step \"split\": shards must be at least 1",
    );
}

#[test]
fn missing_manifest_is_named() {
    let dir = Workdir::new();
    let missing = dir.join("nowhere.yaml");
    dir.run(&missing, &[]).failed().stderr_has(&[
        &format!("{}", missing.display()),
        "cannot read the manifest",
    ]);
}

#[test]
fn missing_input_file_is_named() {
    let (dir, p) = passthrough();
    let manifest = dir.write(
        "pipeline.yaml",
        p.yaml()
            .replace("path: \"in.csv\"", "path: \"data/missing.csv\""),
    );
    let missing = dir.join("data/missing.csv");
    dir.run(&manifest, &[])
        .failed()
        .stderr_has(&[&format!("error: {}: No such file", missing.display())]);
    assert_no_outputs(&dir.join("out"));
    dir.validate(&manifest).failed().stderr_has(&[
        &format!("error: {}: spec.input.path", manifest.display()),
        &format!("{}: No such file", missing.display()),
    ]);
}

#[test]
fn unknown_input_format_is_refused() {
    let (dir, p) = passthrough();
    dir.write("in.xlsx", "whatever");
    let manifest = dir.write(
        "pipeline.yaml",
        p.yaml().replace("path: \"in.csv\"", "path: \"in.xlsx\""),
    );
    dir.run(&manifest, &[]).failed().stderr_has(&[&format!(
        "{}: unknown data format (use .csv, .parquet or .jsonl)",
        dir.join("in.xlsx").display()
    )]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn missing_plugin_file_is_named() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let ghost = dir.join("plugins/ghost.wasm");
    let manifest = Pipeline::new("in.csv")
        .plugin("ghost", &ghost)
        .step("a", "ghost", json!({}), "")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[])
        .failed()
        .stderr_has(&[&format!("error: {}: cannot read plugin", ghost.display())]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let junk = dir.write("junk.wasm", b"\0asm not really");
    let manifest = Pipeline::new("in.csv")
        .plugin("junk", &junk)
        .step("a", "junk", json!({}), "")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).failed().stderr_has(&[&format!(
        "error: {}: not a loadable component",
        junk.display()
    )]);
}

#[test]
fn sha256_mismatch_shows_both_digests() {
    let (dir, _) = passthrough();
    let wrong = "ab".repeat(32);
    let actual = sha256_file(&hostile());
    let manifest = Pipeline::new("in.csv")
        .pinned_plugin("hostile", &hostile(), &wrong)
        .step("pass", "hostile", json!({ "attack": "none" }), "")
        .write(&dir, "pipeline.yaml");
    let expected = format!(
        "error: {}: sha256 is {actual} but the manifest expects {wrong}",
        hostile().display()
    );
    dir.run(&manifest, &[]).failed().stderr_has(&[&expected]);
    assert_no_outputs(&dir.join("out"));
    dir.validate(&manifest).failed().stderr_has(&[&expected]);
    // The right pin (in upper case, too) is accepted.
    let pinned = Pipeline::new("in.csv")
        .pinned_plugin("hostile", &hostile(), &actual.to_uppercase())
        .step("pass", "hostile", json!({ "attack": "none" }), "")
        .write(&dir, "pinned.yaml");
    dir.run(&pinned, &[]).ok();
    assert!(dir.join("out/data.parquet").exists());
}

#[test]
fn malformed_csv_row_names_file_and_line() {
    let (dir, p) = passthrough();
    let bad = dir.write("in.csv", "id,x,name\n1,0.5,a\n2,1.5,b\n3\n4,8,d\n");
    let manifest = p.write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[])
        .failed()
        .stderr_has(&[&format!("error: {}: ", bad.display()), "line 4"]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn malformed_csv_row_past_type_inference_names_its_line() {
    // Types are inferred from the first 100000 rows; a bad row after those is
    // found while reading batches, and must still be located in the file.
    let (dir, p) = passthrough();
    let mut csv = String::from("id,x,name\n");
    for i in 0..100_010 {
        csv.push_str(&format!("{i},{i}.5,n{i}\n"));
    }
    csv.push_str("7,7.5\n");
    csv.push_str("8,8.5,ok\n");
    let bad = dir.write("in.csv", csv);
    let manifest = p.write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[])
        .failed()
        .stderr_has(&[&format!("error: {}: ", bad.display()), "line 100012"]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn config_violating_the_plugin_schema_names_the_step() {
    let (dir, _) = passthrough();
    let manifest = Pipeline::new("in.csv")
        .plugin("hostile", &hostile())
        .step("first", "hostile", json!({ "attack": "none" }), "")
        .step(
            "wrong",
            "hostile",
            json!({ "atack": "none" }),
            "needs: [first]",
        )
        .write(&dir, "pipeline.yaml");
    let run = dir.run(&manifest, &[]);
    assert_located(
        &run,
        &manifest,
        "name: wrong",
        "config",
        "step \"wrong\" (plugin \"hostile\"): config: missing field \"attack\", which is required; is atack a misspelling of it?",
    );
    assert_no_outputs(&dir.join("out"));
}

// ------------------------------------------------- reference-plugin configs

/// A pipeline with one `scale` step `s` over `config`, on `csv`.
fn scale_run(csv: &str, config: Value) -> (Workdir, Run) {
    let dir = Workdir::new();
    dir.write("in.csv", csv);
    let manifest = Pipeline::new("in.csv")
        .plugin("scale", &plugin("scale"))
        .step("s", "scale", config, "")
        .write(&dir, "pipeline.yaml");
    let run = dir.run(&manifest, &[]);
    (dir, run)
}

/// The failure names step `s` and contains every one of `needles`.
#[track_caller]
fn assert_step_error(run: &Run, needles: &[&str]) {
    run.failed();
    let line = run.error_line();
    assert!(
        line.contains("step \"s\""),
        "does not name the step: {line}"
    );
    for n in needles {
        assert!(line.contains(n), "does not mention {n:?}: {line}");
    }
}

/// A one-step pipeline `s` running `package` with `config` on [`INPUT`].
fn step_run(package: &str, config: Value) -> (Workdir, Run) {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    let manifest = Pipeline::new("in.csv")
        .plugin("p", &plugin(package))
        .step("s", "p", config, "")
        .write(&dir, "pipeline.yaml");
    let run = dir.run(&manifest, &[]);
    (dir, run)
}

/// Config mistakes of the impute and one-hot plugins are refused before
/// anything runs, naming the step and the field.
#[test]
fn config_mistakes_name_the_step_and_field() {
    // (plugin, config, the key the error is at, message)
    let cases = [
        (
            "impute",
            json!({ "strategy": "mean" }),
            "config",
            "config: missing field \"columns\", which is required",
        ),
        (
            "impute",
            json!({ "columns": ["x"], "strategy": "avg" }),
            "strategy",
            "config.strategy: avg is not one of mean, median, most_frequent, constant",
        ),
        (
            "impute",
            json!({ "columns": [], "strategy": "mean" }),
            "columns",
            "config.columns: [] has less than 1 item",
        ),
        (
            "one-hot",
            json!({ "columns": ["name"], "handle_unknown": "maybe" }),
            "handle_unknown",
            "config.handle_unknown: maybe is not one of error, ignore",
        ),
        (
            "one-hot",
            json!({ "columns": ["name"], "handle_unknwn": "error" }),
            "handle_unknwn",
            "config.handle_unknwn: unknown field; did you mean handle_unknown? (fields: columns, dtype, handle_unknown)",
        ),
    ];
    for (package, config, key, message) in cases {
        let (dir, run) = step_run(package, config.clone());
        let manifest = dir.join("pipeline.yaml");
        let plugin = package;
        let message = format!("step \"s\" (plugin \"{plugin}\"): {message}");
        assert_located(&run, &manifest, "name: s", key, &message);
        assert_no_outputs(&dir.join("out"));
    }
}

/// The same for scale, whose schema is a `oneOf` over its methods.
#[test]
fn scale_config_mistakes_name_the_field() {
    let cases = [
        (json!({ "method": "standard" }), vec!["columns"]),
        (
            json!({ "columns": ["x"], "method": "bogus" }),
            vec!["method", "bogus", "standard"],
        ),
        (
            json!({ "columns": ["x"], "method": "standard", "with_mean": "yes" }),
            vec!["with_mean", "boolean"],
        ),
        (
            json!({ "colums": ["x"], "method": "standard" }),
            vec!["colums"],
        ),
    ];
    let mut wrong = Vec::new();
    for (config, needles) in cases {
        let (dir, run) = step_run("scale", config.clone());
        run.failed();
        assert_no_outputs(&dir.join("out"));
        let line = run.error_line();
        assert!(
            line.contains("step \"s\""),
            "does not name the step: {line}"
        );
        // The config itself is quoted in some messages: look past it.
        let said = line.replace(&config.to_string(), "<config>");
        let missing: Vec<_> = needles.iter().filter(|n| !said.contains(*n)).collect();
        if !missing.is_empty() {
            wrong.push(format!(
                "config {config}: does not mention {missing:?}: {line}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn scale_on_a_missing_column_names_it() {
    let (dir, run) = scale_run(
        INPUT,
        json!({ "columns": ["x", "nope"], "method": "standard" }),
    );
    assert_step_error(&run, &["nope"]);
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn scale_on_a_text_column_names_it_and_its_type() {
    let (dir, run) = scale_run(INPUT, json!({ "columns": ["name"], "method": "standard" }));
    assert_step_error(&run, &["name"]);
    let line = run.error_line().to_lowercase();
    assert!(
        ["text", "string", "utf8"].iter().any(|t| line.contains(t)),
        "does not name the type: {line}"
    );
    assert_no_outputs(&dir.join("out"));
}

// -------------------------------------------------------- contract versions

/// A tiny component built with wit-bindgen against a copy of `wit/` that
/// declares `package weft:step@VERSION`. Its crate lives in
/// `<target>/weft-tests/contract-VERSION` and builds into the shared target
/// folder, so it reuses the already compiled wit-bindgen.
fn plugin_for_contract(version: &str) -> PathBuf {
    let root = scratch().join(format!("contract-{version}"));
    let wit = std::fs::read_to_string(workspace().join("wit/step.wit")).unwrap();
    let ours = format!("package weft:step@{CONTRACT};");
    assert!(wit.contains(&ours), "wit/step.wit changed its package line");
    let crate_name = format!("weft-contract-probe-{}", version.replace('.', "-"));
    let files = [
        (
            "wit/step.wit",
            wit.replace(&ours, &format!("package weft:step@{version};")),
        ),
        (
            "Cargo.toml",
            PROBE_CARGO
                .replace("{NAME}", &crate_name)
                .replace("{VERSION}", version),
        ),
        ("src/lib.rs", PROBE_LIB.replace("{VERSION}", version)),
    ];
    for (rel, text) in &files {
        let path = root.join(rel);
        // Unchanged files keep their mtimes, so Cargo does not rebuild.
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
    }
    if !root.join("Cargo.lock").exists() {
        // The workspace's lock pins the same wit-bindgen as the plugins use.
        std::fs::copy(workspace().join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
    }
    let manifest = root.join("Cargo.toml");
    let target = target_dir();
    let args = [
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--manifest-path",
        manifest.to_str().unwrap(),
        "--target-dir",
        target.to_str().unwrap(),
    ];
    if let Err(e) = cargo_build(&args, &[]) {
        let mut offline: Vec<&str> = args.to_vec();
        offline.push("--offline");
        cargo_build(&offline, &[]).unwrap_or_else(|e2| panic!("{e}\n(offline: {e2})"));
    }
    let wasm = target.join(format!(
        "wasm32-wasip2/release/{}.wasm",
        crate_name.replace('-', "_")
    ));
    assert!(wasm.exists(), "{} was not built", wasm.display());
    wasm
}

/// The host's contract version, as `wit/step.wit` declares it.
const CONTRACT: &str = "0.1.4";

const PROBE_CARGO: &str = r#"# Generated by weft-tests (tests/tests/cli.rs): a step built for weft:step@{VERSION}.
[package]
name = "{NAME}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
wit-bindgen = { version = "0.61.1", default-features = false, features = ["macros", "realloc"] }

# Not part of the weft workspace.
[workspace]

# The weft workspace's release settings, so shared dependencies are reused.
[profile.release]
debug = "line-tables-only"

[profile.release.package."*"]
debug = false
"#;

const PROBE_LIB: &str = r#"//! Generated by weft-tests: the smallest step, built for weft:step@{VERSION}.
wit_bindgen::generate!({ path: "wit", world: "plugin" });

use exports::weft::step::step::{Guest, Kind, Metadata, Metric};
use weft::step::types::{Batch, StepError};

struct Probe;

impl Guest for Probe {
    fn describe() -> Metadata {
        Metadata {
            name: "probe".into(),
            version: "{VERSION}".into(),
            kind: Kind::Transform,
            description: "built for weft:step@{VERSION}".into(),
            config_schema: "{}".into(),
            stateful: false,
        }
    }
    fn configure(_: String) -> Result<(), StepError> { Ok(()) }
    fn fit(_: &Batch) -> Result<(), StepError> { Ok(()) }
    fn state() -> Result<Vec<u8>, StepError> { Ok(Vec::new()) }
    fn load_state(_: Vec<u8>) -> Result<(), StepError> { Ok(()) }
    fn merge(_: Vec<Vec<u8>>) -> Result<Vec<u8>, StepError> { Ok(Vec::new()) }
    fn transform(data: &Batch) -> Result<Batch, StepError> {
        let names = data.column_names();
        let columns: Vec<_> = names.iter().filter_map(|n| data.column(n)).collect();
        Batch::from_columns(&names, &columns.iter().collect::<Vec<_>>())
    }
    fn update(_: &Batch) -> Result<(), StepError> { Ok(()) }
    fn report() -> Result<Vec<Metric>, StepError> { Ok(Vec::new()) }
}

export!(Probe);
"#;

#[test]
fn plugin_for_another_contract_version_is_refused() {
    // Another 0.minor line, and a newer release of ours (its additions are
    // missing here).
    for version in ["0.2.0", "0.1.5"] {
        let probe = plugin_for_contract(version);
        let expected = format!(
            "error: {}: built for weft:step@{version}, but this host implements weft:step@{CONTRACT}",
            probe.display()
        );
        let dir = Workdir::new();
        dir.write("in.csv", INPUT);
        let manifest = Pipeline::new("in.csv")
            .plugin("probe", &probe)
            .step("a", "probe", json!({}), "")
            .write(&dir, "pipeline.yaml");
        dir.run(&manifest, &[]).failed().stderr_has(&[&expected]);
        assert_no_outputs(&dir.join("out"));
        dir.validate(&manifest).failed().stderr_has(&[&expected]);
        dir.weft([OsStr::new("inspect"), probe.as_os_str()])
            .failed()
            .stderr_has(&[&expected]);
    }
}

#[test]
fn plugin_for_an_older_compatible_contract_runs() {
    for version in ["0.1.0", "0.1.1", "0.1.2"] {
        let probe = plugin_for_contract(version);
        let dir = Workdir::new();
        dir.write("in.csv", INPUT);
        let manifest = Pipeline::new("in.csv")
            .plugin("probe", &probe)
            .step("a", "probe", json!({}), "")
            .write(&dir, "pipeline.yaml");
        dir.run(&manifest, &[]).ok();
        let out = read_parquet(&dir.join("out/data.parquet"));
        assert_eq!(out.num_rows(), INPUT.lines().count() - 1);
        dir.weft([OsStr::new("inspect"), probe.as_os_str()])
            .ok()
            .stdout_has(&[&format!("weft:step/step@{version}")]);
    }
}

// ---------------------------------------------------- validate, inspect, help

#[test]
fn validate_accepts_a_good_pipeline_and_writes_nothing() {
    let (dir, p) = passthrough();
    let manifest = p
        .step(
            "again",
            "hostile",
            json!({ "attack": "none" }),
            "needs: [pass]",
        )
        .write(&dir, "pipeline.yaml");
    dir.validate(&manifest)
        .ok()
        .stdout_has(&[&format!(
            "{}: ok (2 steps, 1 plugins; dry run on 4 rows of {} gives 3 columns: id (Int64), x (Float64), name (Utf8)",
            manifest.display(),
            dir.join("in.csv").display()
        )]);
    assert!(
        !dir.join("out").exists(),
        "validate created the output folder"
    );
}

#[test]
fn inspect_json_describes_the_plugin() {
    let dir = Workdir::new();
    let path = hostile();
    let run = dir.weft([
        OsStr::new("inspect"),
        path.as_os_str(),
        OsStr::new("--json"),
    ]);
    run.ok();
    let doc: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("inspect --json is not JSON ({e}): {}", run.stdout));
    assert_eq!(doc["sha256"], sha256_file(&path));
    assert_eq!(doc["path"], path.display().to_string());
    let meta = &doc["metadata"];
    assert_eq!(meta["name"], "hostile");
    assert_eq!(meta["version"], "0.1.0");
    assert_eq!(meta["kind"], "transform");
    assert_eq!(meta["stateful"], false);
    assert_eq!(meta["config_schema"]["required"], json!(["attack"]));
    assert_eq!(
        meta["config_schema"]["properties"]["attack"]["type"],
        "string"
    );
    let exports: Vec<&str> = doc["exports"]
        .as_array()
        .expect("exports")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let step = format!("weft:step/step@{CONTRACT}");
    assert!(exports.contains(&step.as_str()), "{exports:?}");
    let imports: Vec<&str> = doc["imports"]
        .as_array()
        .expect("imports")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let types = format!("weft:step/types@{CONTRACT}");
    assert!(imports.contains(&types.as_str()), "{imports:?}");
    for i in imports.iter().filter(|i| i.starts_with("weft:")) {
        assert!(i.ends_with(&format!("@{CONTRACT}")), "{i}");
    }

    // The text form says the same things.
    let text = dir.weft([OsStr::new("inspect"), path.as_os_str()]);
    text.ok().stdout_has(&["hostile", "0.1.0", &step, "attack"]);
}

#[test]
fn a_component_without_the_step_export_names_the_macro_to_call() {
    let dir = Workdir::new();
    // A valid component (text form) that exports nothing.
    let empty = dir.write("empty.wasm", "(component)");
    dir.weft([OsStr::new("inspect"), empty.as_os_str()])
        .failed()
        .stderr_has(&[
            &format!(
                "{}: does not export the weft:step/step interface",
                empty.display()
            ),
            "weft_sdk::export_transform!(YourStep);",
            "weft_sdk::export_evaluate!(YourStep);",
        ]);
}

#[test]
fn inspect_json_describes_the_reference_plugins() {
    let dir = Workdir::new();
    for (package, name) in [
        ("impute", "impute"),
        ("scale", "scale"),
        ("one-hot", "one-hot"),
    ] {
        let path = plugin(package);
        let run = dir.weft([
            OsStr::new("inspect"),
            path.as_os_str(),
            OsStr::new("--json"),
        ]);
        run.ok();
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        let meta = &doc["metadata"];
        assert_eq!(meta["name"], name, "{doc:#}");
        assert_eq!(meta["kind"], "transform", "{doc:#}");
        assert_eq!(meta["stateful"], true, "{doc:#}");
        // Every alternative of the schema requires a list of column names.
        let schema = &meta["config_schema"];
        let branches = match schema["oneOf"].as_array() {
            Some(branches) => branches.iter().collect(),
            None => vec![schema],
        };
        for b in branches {
            assert_eq!(b["type"], "object", "{doc:#}");
            assert_eq!(b["properties"]["columns"]["type"], "array", "{doc:#}");
            assert!(
                b["required"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!("columns"))),
                "{name}: columns should be required: {doc:#}"
            );
        }
        assert!(
            doc["exports"]
                .as_array()
                .unwrap()
                .contains(&json!(format!("weft:step/step@{CONTRACT}"))),
            "{doc:#}"
        );
    }
}

#[test]
fn help_mentions_commands_and_options() {
    let dir = Workdir::new();
    dir.weft(["--help"])
        .ok()
        .stdout_has(&["run", "validate", "inspect", "head", "--log"]);
    dir.weft(["run", "--help"]).ok().stdout_has(&[
        "MANIFEST",
        "--state",
        "--workers",
        "--no-cache",
        "--no-compile-cache",
        "--quiet",
    ]);
    dir.weft(["inspect", "--help"]).ok().stdout_has(&["--json"]);
    let wrong = dir.weft(["frobnicate"]);
    assert_eq!(wrong.code, Some(2), "usage errors exit with 2: {wrong:?}");
    assert!(
        wrong
            .stderr
            .contains("unrecognized subcommand 'frobnicate'"),
        "{wrong:?}"
    );
}

// -------------------------------------------------------------------- formats

#[test]
fn output_as_csv() {
    let (dir, p) = passthrough();
    let manifest = p.output("out/result.csv").write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    assert_eq!(
        files_under(&dir.join("out")),
        ["metrics.prom", "report.json", "result.csv"]
    );
    let text = std::fs::read_to_string(dir.join("out/result.csv")).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0], ["id", "x", "name"], "{text}");
    assert_eq!(rows.len(), 5, "{text}");
    let x: Vec<Option<f64>> = rows[1..]
        .iter()
        .map(|r| (!r[1].is_empty()).then(|| r[1].parse().unwrap()))
        .collect();
    assert_eq!(x, [Some(0.5), None, Some(-2.25), Some(8.0)], "{text}");
    let names: Vec<&str> = rows[1..].iter().map(|r| r[2]).collect();
    assert_eq!(names, ["a", "b", "", "d"], "{text}");
    let report = read_json(&dir.join("out/report.json"));
    assert_eq!(
        report["output"],
        dir.join("out/result.csv").display().to_string()
    );
    assert_eq!(report["rowsOut"], 4);
}

#[test]
fn output_as_jsonl() {
    let (dir, p) = passthrough();
    let manifest = p.output("out/result.jsonl").write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    assert_eq!(
        files_under(&dir.join("out")),
        ["metrics.prom", "report.json", "result.jsonl"]
    );
    let text = std::fs::read_to_string(dir.join("out/result.jsonl")).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert_eq!(rows[0], json!({ "id": 1, "x": 0.5, "name": "a" }));
    assert_eq!(rows[1]["id"], 2);
    assert!(rows[1]["x"].is_null(), "{text}");
    assert_eq!(rows[2]["x"], -2.25);
    assert!(rows[2]["name"].is_null(), "{text}");
    assert_eq!(rows[3], json!({ "id": 4, "x": 8.0, "name": "d" }));
}

#[test]
fn output_as_a_named_parquet_file() {
    let (dir, p) = passthrough();
    let manifest = p
        .output("results/train.parquet")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    assert_eq!(
        files_under(&dir.join("results")),
        ["metrics.prom", "report.json", "train.parquet"]
    );
    let batch = read_parquet(&dir.join("results/train.parquet"));
    assert_eq!(f64s(&batch, "x"), [Some(0.5), None, Some(-2.25), Some(8.0)]);
}

#[test]
fn parquet_outputs_are_compressed_as_asked_and_numbers_skip_the_dictionary() {
    use parquet::basic::{Compression, Encoding};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let (dir, p) = passthrough();
    for (asked, want) in [
        ("", Compression::UNCOMPRESSED),
        ("snappy", Compression::SNAPPY),
        ("lz4", Compression::LZ4_RAW),
        ("zstd", Compression::ZSTD(Default::default())),
    ] {
        let yaml = p.clone().output(&format!("out-{asked}/")).yaml();
        let yaml = match asked {
            "" => yaml,
            _ => yaml.replace(
                &format!("output: {{ path: \"out-{asked}/\" }}"),
                &format!("output: {{ path: \"out-{asked}/\", compression: {asked} }}"),
            ),
        };
        let manifest = dir.write(format!("{asked}.yaml"), yaml);
        dir.run(&manifest, &[]).ok();
        let path = dir.join(format!("out-{asked}/data.parquet"));
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let column = |name: &str| {
            (0..group.num_columns())
                .map(|i| group.column(i))
                .find(|c| c.column_path().string() == name)
                .unwrap()
        };
        assert_eq!(column("x").compression(), want, "{asked}");
        assert!(
            !column("x")
                .encodings()
                .any(|e| e == Encoding::RLE_DICTIONARY),
            "{asked}"
        );
        assert!(
            column("id")
                .encodings()
                .any(|e| e == Encoding::DELTA_BINARY_PACKED),
            "{asked}"
        );
        assert!(
            column("name")
                .encodings()
                .any(|e| e == Encoding::RLE_DICTIONARY),
            "{asked}"
        );
        assert_eq!(
            f64s(&read_parquet(&path), "x"),
            [Some(0.5), None, Some(-2.25), Some(8.0)]
        );
    }
    let input = p.yaml().replace(
        "input: { path: \"in.csv\" }",
        "input: { path: \"in.csv\", compression: zstd }",
    );
    let manifest = dir.write("input.yaml", input);
    assert_located(
        &dir.run(&manifest, &[]),
        &manifest,
        "input",
        "compression",
        "input.compression: compression is an output setting",
    );
}

#[test]
fn parquet_input_keeps_its_types() {
    let dir = Workdir::new();
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "i",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(-3)])),
        ),
        (
            "f",
            Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN), None])),
        ),
        (
            "g",
            Arc::new(Float32Array::from(vec![Some(0.25f32), None, Some(2.0)])),
        ),
        (
            "b",
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![Some("x"), None, Some("z")])),
        ),
    ];
    let input = RecordBatch::try_from_iter(columns).unwrap();
    write_parquet(&dir.join("in.parquet"), &input);
    let manifest = Pipeline::new("in.parquet")
        .plugin("hostile", &hostile())
        .step("pass", "hostile", json!({ "attack": "none" }), "")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_eq!(names(&out), ["i", "f", "g", "b", "s"]);
    assert_eq!(dtype(&out, "i"), DataType::Int64);
    assert_eq!(dtype(&out, "f"), DataType::Float64);
    assert_eq!(dtype(&out, "g"), DataType::Float32);
    assert_eq!(dtype(&out, "b"), DataType::Boolean);
    assert_eq!(f64s(&out, "i"), [Some(1.0), None, Some(-3.0)]);
    let f = f64s(&out, "f");
    assert!(
        f[0] == Some(1.5) && f[1].is_some_and(f64::is_nan) && f[2].is_none(),
        "{f:?}"
    );
    assert_eq!(f64s(&out, "g"), [Some(0.25), None, Some(2.0)]);
    assert_eq!(
        strings(&out, "b"),
        [Some("true".into()), Some("false".into()), None]
    );
    assert_eq!(
        strings(&out, "s"),
        [Some("x".into()), None, Some("z".into())]
    );
}

#[test]
fn jsonl_input_is_read() {
    let dir = Workdir::new();
    dir.write(
        "in.jsonl",
        "{\"id\": 1, \"x\": 0.5, \"name\": \"a\"}\n{\"id\": 2, \"name\": \"b\"}\n{\"id\": 3, \"x\": -2.25, \"name\": null}\n",
    );
    let manifest = Pipeline::new("in.jsonl")
        .plugin("hostile", &hostile())
        .step("pass", "hostile", json!({ "attack": "none" }), "")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    let mut sorted = names(&out);
    sorted.sort();
    assert_eq!(sorted, ["id", "name", "x"]);
    assert_eq!(dtype(&out, "id"), DataType::Int64);
    assert_eq!(f64s(&out, "id"), [Some(1.0), Some(2.0), Some(3.0)]);
    assert_eq!(f64s(&out, "x"), [Some(0.5), None, Some(-2.25)]);
    assert_eq!(
        strings(&out, "name"),
        [Some("a".into()), Some("b".into()), None]
    );
}

#[test]
fn jsonl_input_keeps_the_column_order_of_the_file() {
    // Like CSV and Parquet input, and like pandas' read_json(lines=True).
    let dir = Workdir::new();
    dir.write(
        "in.jsonl",
        "{\"zeta\": 1, \"alpha\": 2.5, \"mid\": \"m\"}\n",
    );
    let manifest = Pipeline::new("in.jsonl")
        .plugin("hostile", &hostile())
        .step("pass", "hostile", json!({ "attack": "none" }), "")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_eq!(names(&out), ["zeta", "alpha", "mid"]);
}

#[test]
fn many_batches_on_many_workers_keep_row_order() {
    let dir = Workdir::new();
    let mut csv = String::from("id,x\n");
    for i in 0..5000 {
        csv.push_str(&format!("{i},{}\n", i as f64 * 0.5));
    }
    dir.write("in.csv", csv);
    let manifest = Pipeline::new("in.csv")
        .plugin("hostile", &hostile())
        .spec("batchRows: 7")
        .step("a", "hostile", json!({ "attack": "none" }), "")
        .step("b", "hostile", json!({ "attack": "none" }), "needs: [a]")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &["--workers", "3"]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    let ids: Vec<Option<f64>> = (0..5000).map(|i| Some(i as f64)).collect();
    assert_eq!(f64s(&out, "id"), ids);
    let report = read_json(&dir.join("out/report.json"));
    assert_eq!(report["workers"], 3);
    assert_eq!(report["rowsOut"], 5000);
    assert_eq!(report["steps"][1]["rowsIn"], 5000);
    let peak = report["peakRssBytes"]
        .as_u64()
        .expect("Linux reports VmHWM");
    assert!(peak > 1 << 20, "peak RSS {peak} bytes is implausibly small");
}

#[test]
fn compile_cache_is_used_unless_disabled() {
    let (dir, p) = passthrough();
    let manifest = p.write(&dir, "pipeline.yaml");
    let cache = dir.join("aot");
    let env = [("WEFT_CACHE_DIR", cache.as_os_str())];
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "-q", manifest.to_str().unwrap()];
        args.extend(extra);
        weft_with(dir.path(), args, &env)
    };
    run(&["--no-compile-cache"]).ok();
    assert_eq!(
        files_under(&cache),
        Vec::<String>::new(),
        "--no-compile-cache wrote the cache"
    );
    // --no-cache is about the outputs: the compile cache still fills.
    run(&["--no-cache"]).ok();
    let cached = files_under(&cache);
    let digest = sha256_file(&hostile());
    assert!(
        cached.len() == 1 && cached[0].starts_with(&digest) && cached[0].ends_with(".cwasm"),
        "{cached:?}"
    );
    run(&[]).ok();
    assert_eq!(files_under(&cache), cached);
}

// ---------------------------------------------------------------- --state

/// Fit `scale` (standard) on A, apply to B with `--state`.
#[test]
fn state_from_a_previous_run_is_applied_to_new_data() {
    let dir = Workdir::new();
    dir.write("a/in.csv", "x,y\n1,10\n2,20\n3,30\n4,40\n");
    dir.write("b/in.csv", "x,y\n10,-5\n0,5\n2.5,\n");
    let scale = plugin("scale");
    let config = json!({ "columns": ["x", "y"], "method": "standard" });
    let a = Pipeline::new("in.csv")
        .plugin("scale", &scale)
        .step("s", "scale", config.clone(), "")
        .write(&dir, "a/pipeline.yaml");
    dir.run(&a, &[]).ok();
    let index = read_json(&dir.join("a/out/state/index.json"));
    let report_a = read_json(&dir.join("a/out/report.json"));
    assert_eq!(report_a["steps"][0]["fitRows"], 4);
    assert_eq!(report_a["steps"][0]["state"], index["s"]);
    assert_eq!(index["s"]["path"], "state/s.bin");
    assert_eq!(index["s"]["pluginSha256"], sha256_file(&scale));
    assert_eq!(
        index["s"]["sha256"],
        sha256_file(&dir.join("a/out/state/s.bin"))
    );

    let b = Pipeline::new("in.csv")
        .plugin("scale", &scale)
        .step("s", "scale", config.clone(), "")
        .write(&dir, "b/pipeline.yaml");
    let state_a = dir.join("a/out/state");
    dir.run(&b, &["--state", state_a.to_str().unwrap()]).ok();
    let out = read_parquet(&dir.join("b/out/data.parquet"));
    // A: x mean 2.5, population std sqrt(1.25); y mean 25, std sqrt(125).
    let (sx, sy) = (1.25f64.sqrt(), 125f64.sqrt());
    let want_x = [(10.0 - 2.5) / sx, (0.0 - 2.5) / sx, 0.0].map(Some);
    let want_y = [Some((-5.0 - 25.0) / sy), Some((5.0 - 25.0) / sy), None];
    assert_close("x", &f64s(&out, "x"), &want_x, 1e-12, 1e-12);
    assert_close("y", &f64s(&out, "y"), &want_y, 1e-12, 1e-12);
    let report_b = read_json(&dir.join("b/out/report.json"));
    assert_eq!(report_b["steps"][0]["fitRows"], 0, "{report_b:#}");
    assert_eq!(
        std::fs::read(dir.join("b/out/state/s.bin")).unwrap(),
        std::fs::read(dir.join("a/out/state/s.bin")).unwrap(),
        "the applied state is the one loaded"
    );

    // B fitted on its own data would differ: the state really came from A.
    dir.run(&b, &[]).ok();
    let own = read_parquet(&dir.join("b/out/data.parquet"));
    assert!(
        !close(f64s(&own, "x")[0], want_x[0], 1e-6, 0.0),
        "fitting on B gave A's result"
    );

    // A state fitted by a different plugin file is refused, naming both digests.
    let other = dir.join("scale-rebuilt.wasm");
    let mut bytes = std::fs::read(&scale).unwrap();
    // A custom section at the end: the same component, another file digest.
    let name = b"weft-tests";
    let payload = b"rebuilt";
    bytes.push(0);
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    std::fs::write(&other, bytes).unwrap();
    std::fs::remove_dir_all(dir.join("b/out")).unwrap();
    let c = Pipeline::new("in.csv")
        .plugin("scale", &other)
        .step("s", "scale", config.clone(), "")
        .write(&dir, "b/other.yaml");
    dir.run(&c, &[]).ok(); // the altered file is a valid plugin
    std::fs::remove_dir_all(dir.join("b/out")).unwrap();
    dir.run(&c, &["--state", state_a.to_str().unwrap()])
        .failed()
        .stderr_has(&[&format!(
            "{}: state of step \"s\" was fitted with plugin {} but the manifest loads {}",
            state_a.join("s.bin").display(),
            sha256_file(&scale),
            sha256_file(&other)
        )]);
    assert_no_outputs(&dir.join("b/out"));

    // A state file that does not match its digest is refused.
    let tampered = dir.join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    std::fs::copy(state_a.join("index.json"), tampered.join("index.json")).unwrap();
    let mut state = std::fs::read(state_a.join("s.bin")).unwrap();
    state.push(0);
    std::fs::write(tampered.join("s.bin"), state).unwrap();
    dir.run(&b, &["--state", tampered.to_str().unwrap()])
        .failed()
        .stderr_has(&["s.bin: state file does not match its digest in index.json"]);
    assert_no_outputs(&dir.join("b/out"));

    // A state file without its index.json cannot be checked: refused.
    std::fs::remove_file(tampered.join("index.json")).unwrap();
    std::fs::copy(state_a.join("s.bin"), tampered.join("s.bin")).unwrap();
    dir.run(&b, &["--state", tampered.to_str().unwrap()])
        .failed()
        .stderr_has(&[
            "s.bin: no entry for step \"s\" in",
            "use a state folder written by weft run",
        ]);
    assert_no_outputs(&dir.join("b/out"));

    // A folder without the step's state is refused, naming the step.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    dir.run(&b, &["--state", empty.to_str().unwrap()])
        .failed()
        .stderr_has(&["cannot read the fitted state of step \"s\""]);
    assert_no_outputs(&dir.join("b/out"));
}

// ------------------------------------------------------ reports, chains, head

/// `fill` (impute mean) then `scale` (standard), listed in reverse order:
/// `scale` is fitted on `fill`'s output, and the report, states and index
/// say what ran.
#[test]
fn chained_steps_fit_on_upstream_output_and_report_it() {
    let dir = Workdir::new();
    dir.write("in.csv", "id,x,tag\n1,1,a\n2,,b\n3,3,c\n4,8,d\n");
    let (impute, scale) = (plugin("impute"), plugin("scale"));
    let manifest = Pipeline::new("in.csv")
        .name("chain")
        .plugin("imp", &impute)
        .plugin("sc", &scale)
        .spec("workers: 2")
        .step(
            "scale",
            "sc",
            json!({ "columns": ["x"], "method": "standard" }),
            "needs: [fill]",
        )
        .step(
            "fill",
            "imp",
            json!({ "columns": ["x"], "strategy": "mean" }),
            "",
        )
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    assert_eq!(names(&out), ["id", "x", "tag"]);
    // Imputed: [1, 4, 3, 8]; mean 4, population std sqrt(6.5).
    let s = 6.5f64.sqrt();
    let want = [-3.0 / s, 0.0, -1.0 / s, 4.0 / s].map(Some);
    assert_close("x", &f64s(&out, "x"), &want, 1e-12, 1e-12);
    assert_eq!(f64s(&out, "id"), [1.0, 2.0, 3.0, 4.0].map(Some));

    assert_eq!(
        files_under(&dir.join("out")),
        [
            "data.parquet",
            "metrics.prom",
            "report.json",
            "state/fill.bin",
            "state/index.json",
            "state/scale.bin"
        ]
    );
    let report = read_json(&dir.join("out/report.json"));
    assert_eq!(report["pipeline"], "chain");
    assert_eq!(
        report["output"],
        dir.join("out/data.parquet").display().to_string()
    );
    assert_eq!(report["rowsOut"], 4);
    assert_eq!(report["workers"], 2);
    assert!(
        report["durationSeconds"].as_f64().is_some_and(|d| d >= 0.0),
        "{report:#}"
    );
    let steps = report["steps"].as_array().unwrap();
    let order: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(order, ["fill", "scale"], "execution order");
    let index = read_json(&dir.join("out/state/index.json"));
    for (step, key, path, version) in [
        (&steps[0], "imp", &impute, "impute 0.1.0"),
        (&steps[1], "sc", &scale, "scale 0.1.0"),
    ] {
        let name = step["name"].as_str().unwrap();
        assert_eq!(step["plugin"], key, "{step:#}");
        assert_eq!(step["pluginSha256"], sha256_file(path), "{step:#}");
        assert_eq!(step["pluginVersion"], version, "{step:#}");
        assert_eq!(step["kind"], "transform", "{step:#}");
        assert_eq!(step["rowsIn"], 4, "{step:#}");
        assert_eq!(step["rowsOut"], 4, "{step:#}");
        assert_eq!(step["fitRows"], 4, "{step:#}");
        assert!(step["metrics"].is_array(), "{step:#}");
        let state = &step["state"];
        let file = dir.join("out").join(state["path"].as_str().unwrap());
        assert_eq!(state["path"], format!("state/{name}.bin"));
        assert_eq!(state["sha256"], sha256_file(&file), "{step:#}");
        assert_eq!(
            state["bytes"],
            std::fs::metadata(&file).unwrap().len(),
            "{step:#}"
        );
        assert_eq!(state["pluginSha256"], sha256_file(path), "{step:#}");
        assert_eq!(&index[name], state, "index.json agrees with the report");
    }
}

#[test]
fn branches_that_each_replace_a_column_merge_without_bringing_it_back() {
    // scale (after fill-num) passes `plan` through untouched; encode
    // (after fill-cat) replaces it with indicators. The output holds the
    // indicators and the scaled numbers, not the raw `plan` with its gaps.
    let dir = Workdir::new();
    std::fs::copy(
        workspace().join("examples/churn/data/train.csv"),
        dir.join("train.csv"),
    )
    .unwrap();
    let manifest = Pipeline::new("train.csv")
        .plugin("impute", &plugin("impute"))
        .plugin("scale", &plugin("scale"))
        .plugin("one-hot", &plugin("one-hot"))
        .step(
            "fill-num",
            "impute",
            json!({ "columns": ["age"], "strategy": "median" }),
            "",
        )
        .step(
            "fill-cat",
            "impute",
            json!({ "columns": ["plan"], "strategy": "most_frequent" }),
            "",
        )
        .step(
            "scale",
            "scale",
            json!({ "columns": ["age"], "method": "standard" }),
            "needs: [fill-num]",
        )
        .step(
            "encode",
            "one-hot",
            json!({ "columns": ["plan"] }),
            "needs: [fill-cat]",
        )
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let out = read_parquet(&dir.join("out/data.parquet"));
    let columns = names(&out);
    assert!(!columns.contains(&"plan".to_owned()), "{columns:?}");
    assert!(columns.contains(&"plan=basic".to_owned()), "{columns:?}");
    let age = f64s(&out, "age");
    let mean = age.iter().flatten().sum::<f64>() / age.len() as f64;
    assert!(
        age.iter().all(Option::is_some) && mean.abs() < 1e-9,
        "age is imputed and scaled"
    );
}

#[test]
fn failure_after_batches_were_written_leaves_nothing() {
    // Fit on known colours, then apply to 3000 rows whose last row has an
    // unseen one: by then many batches have gone to the temporary file.
    let dir = Workdir::new();
    dir.write("fit/in.csv", "color\nred\nblue\n");
    let mut csv = String::from("color\n");
    for i in 0..3000 {
        csv.push_str(if i % 2 == 0 { "red\n" } else { "blue\n" });
    }
    csv.push_str("purple\n");
    dir.write("apply/in.csv", csv);
    let one_hot = plugin("one-hot");
    let config = json!({ "columns": ["color"], "handle_unknown": "error" });
    let fit = Pipeline::new("in.csv")
        .plugin("oh", &one_hot)
        .step("enc", "oh", config.clone(), "")
        .write(&dir, "fit/pipeline.yaml");
    dir.run(&fit, &[]).ok();
    let apply = Pipeline::new("in.csv")
        .plugin("oh", &one_hot)
        .spec("batchRows: 16")
        .step("enc", "oh", config, "")
        .write(&dir, "apply/pipeline.yaml");
    let state = dir.join("fit/out/state");
    dir.run(
        &apply,
        &["--state", state.to_str().unwrap(), "--workers", "1"],
    )
    .failed()
    .stderr_has(&["step \"enc\" failed in transform", "\"purple\""]);
    assert_no_outputs(&dir.join("apply/out"));
}

#[test]
fn failed_run_into_a_named_file_leaves_nothing_beside_it() {
    let dir = Workdir::new();
    dir.write("in.csv", INPUT);
    dir.write("results/keep.txt", "not ours");
    let manifest = Pipeline::new("in.csv")
        .plugin("hostile", &hostile())
        .output("results/data.csv")
        .step("bad", "hostile", json!({ "attack": "panic" }), "")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).failed();
    assert_eq!(files_under(&dir.join("results")), ["keep.txt"]);
}

#[test]
fn head_shows_the_first_rows() {
    let dir = Workdir::new();
    let csv = dir.write("in.csv", INPUT);
    let run = dir.weft([
        OsStr::new("head"),
        csv.as_os_str(),
        OsStr::new("-n"),
        OsStr::new("2"),
    ]);
    run.ok()
        .stdout_has(&["id", "x", "name", "| 1 ", "0.5", "| 2 "]);
    assert!(!run.stdout.contains("-2.25"), "{}", run.stdout);
}

#[test]
fn states_fitted_on_shards_merge_into_the_state_of_the_whole() {
    let dir = Workdir::new();
    let rows: Vec<String> = (0..300)
        .map(|i| format!("{},{}", (i * 37 % 101) as f64 * 0.25, (i % 7) as f64 - 3.0))
        .collect();
    dir.write("a.csv", format!("x,y\n{}\n", rows[..120].join("\n")));
    dir.write("b.csv", format!("x,y\n{}\n", rows[120..].join("\n")));
    dir.write("all.csv", format!("x,y\n{}\n", rows.join("\n")));
    let pipeline = |input: &str, out: &str| {
        Pipeline::new(input)
            .output(out)
            .plugin("scale", &plugin("scale"))
            .step(
                "scale",
                "scale",
                json!({"columns": ["x", "y"], "method": "standard"}),
                "",
            )
            .write(&dir, &format!("{out}.yaml"))
    };
    dir.run(&pipeline("a.csv", "a"), &[]).ok();
    dir.run(&pipeline("b.csv", "b"), &[]).ok();
    let whole = pipeline("all.csv", "whole");
    dir.run(&whole, &[]).ok();
    dir.weft([
        "merge-states",
        "whole.yaml",
        "a/state",
        "b/state",
        "--out",
        "merged",
    ])
    .ok()
    .stdout_has(&["merged 2 shard(s) of scale into merged"]);
    let applied = pipeline("all.csv", "applied");
    dir.run(&applied, &["--state", "merged"]).ok();
    let want = read_parquet(&dir.join("whole/data.parquet"));
    let got = read_parquet(&dir.join("applied/data.parquet"));
    for column in ["x", "y"] {
        assert_close(
            column,
            &f64s(&got, column),
            &f64s(&want, column),
            1e-12,
            1e-12,
        );
    }

    std::fs::remove_file(dir.join("b/state/scale.bin")).unwrap();
    dir.weft([
        "merge-states",
        "whole.yaml",
        "a/state",
        "b/state",
        "--out",
        "again",
    ])
    .failed()
    .stderr_has(&["scale.bin: cannot read the fitted state of step \"scale\""]);
    assert!(!dir.join("again").exists());
}
