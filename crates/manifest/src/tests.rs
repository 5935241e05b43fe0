use super::*;

fn parse(yaml: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(Path::new("p.yaml"), yaml.to_owned())
}

const HEAD: &str = "apiVersion: weft.dev/v1alpha1\nkind: Pipeline\nmetadata: { name: t }\nspec:\n  plugins:\n    id: { path: id.wasm }\n  input: { path: in.csv }\n  output: { path: out/ }\n  steps:\n";

#[test]
fn orders_by_needs() {
    let m = parse(&format!(
        "{HEAD}    - {{ name: b, plugin: id, needs: [a] }}\n    - {{ name: a, plugin: id }}\n"
    ))
    .unwrap();
    assert_eq!(m.order, vec![1, 0]);
}

#[test]
fn unknown_field_is_located() {
    let e = parse(&format!(
        "{HEAD}    - name: a\n      plugin: id\n      confg: {{}}\n"
    ))
    .unwrap_err();
    assert_eq!(e.line, 12, "{e}");
    assert!(e.message.contains("unknown field `confg`"), "{e}");
}

#[test]
fn cycle_names_the_steps() {
    let e = parse(&format!("{HEAD}    - {{ name: a, plugin: id, needs: [b] }}\n    - {{ name: b, plugin: id, needs: [a] }}\n")).unwrap_err();
    assert!(e.message.contains("a, b need each other in a cycle"), "{e}");
    assert_eq!(e.line, 10);
}

#[test]
fn missing_plugin_and_need_are_named() {
    let e = parse(&format!("{HEAD}    - {{ name: a, plugin: nope }}\n")).unwrap_err();
    assert!(e.message.contains("plugin \"nope\""), "{e}");
    let e = parse(&format!(
        "{HEAD}    - {{ name: a, plugin: id, needs: [zz] }}\n"
    ))
    .unwrap_err();
    assert!(e.message.contains("needs \"zz\""), "{e}");
    assert_eq!((e.line, e.column), (10, 38));
}

#[test]
fn cluster_fields_are_read_and_bounded() {
    let m = parse(&format!(
        "{HEAD}    - name: a\n      plugin: id\n      shards: 4\n      retries: 0\n      resources: {{ cpu: 2, memory: 4Gi, nvidia.com/gpu: 1 }}\n  image: weft:dev\n  storage: {{ claimName: data }}\n  tolerations: [{{ key: gpu, operator: Exists }}]\n"
    ))
    .unwrap();
    let step = &m.pipeline.spec.steps[0];
    assert_eq!((step.shards, step.retries), (Some(4), Some(0)));
    let resources = step.resources.as_ref().unwrap();
    assert_eq!(resources.cpu.as_ref().unwrap().0, "2");
    assert_eq!(resources.gpu, Some(1));
    let e = parse(&format!(
        "{HEAD}    - name: a\n      plugin: id\n      shards: 0\n"
    ))
    .unwrap_err();
    assert_eq!((e.line, e.column), (12, 7), "{e}");
    assert!(e.message.contains("shards must be at least 1"), "{e}");
    let e = parse(&format!(
        "{HEAD}    - name: a\n      plugin: id\n      retries: -1\n"
    ))
    .unwrap_err();
    assert_eq!(e.line, 12, "{e}");
}

#[test]
fn bad_limits_and_names() {
    let e = parse(&format!(
        "{HEAD}    - {{ name: a, plugin: id, limits: {{ memory: lots }} }}\n"
    ))
    .unwrap_err();
    assert!(e.message.contains("limits.memory"), "{e}");
    let e = parse(&format!("{HEAD}    - {{ name: A_b, plugin: id }}\n")).unwrap_err();
    assert!(e.message.contains("lowercase"), "{e}");
}

#[test]
fn spill_limit_defaults_parses_and_turns_off() {
    let limits = |spill: &str| {
        let spec = crate::LimitsSpec {
            spill: (!spill.is_empty()).then(|| spill.to_owned()),
            ..Default::default()
        };
        crate::Limits::resolve(Some(&spec), None)
    };
    assert_eq!(limits("").unwrap().spill_bytes, 8 << 30);
    assert_eq!(limits("20Gi").unwrap().spill_bytes, 20 << 30);
    assert_eq!(limits("0").unwrap().spill_bytes, 0);
    let e = limits("a lot").unwrap_err();
    assert_eq!(e.field, "spill", "{e}");
    let e = parse(&format!(
        "{HEAD}    - {{ name: a, plugin: id, limits: {{ spill: lots }} }}\n"
    ))
    .unwrap_err();
    assert!(e.message.contains("limits.spill"), "{e}");
}

#[test]
fn metric_series_limit_is_read_bounded_and_located() {
    let m = parse(&format!(
        "{HEAD}    - {{ name: a, plugin: id, limits: {{ maxMetricSeries: 5000 }} }}\n"
    ))
    .unwrap();
    let limits = m.pipeline.spec.steps[0].limits.as_ref().unwrap();
    assert_eq!(limits.max_metric_series, Some(5000));
    let e = parse(&format!(
        "{HEAD}    - {{ name: a, plugin: id, limits: {{ maxMetricSeries: 20000 }} }}\n"
    ))
    .unwrap_err();
    assert_eq!((e.line, e.column), (10, 40), "{e}");
    assert!(
        e.message
            .contains("limits.maxMetricSeries: 20000 is over 10000"),
        "{e}"
    );
    let e = parse(&format!(
        "{HEAD}    - {{ name: a, plugin: id, limits: {{ maxMetricSeries: -1 }} }}\n"
    ))
    .unwrap_err();
    assert_eq!(e.line, 10, "{e}");
    let e = parse(&HEAD.replace(
        "  steps:\n",
        "  limits: { maxMetricSeries: 10001 }\n  steps:\n    - { name: a, plugin: id }\n",
    ))
    .unwrap_err();
    assert_eq!((e.line, e.column), (9, 13), "{e}");
}

fn with_plugin(plugin: &str) -> Result<Manifest, ManifestError> {
    parse(
        &HEAD
            .replace("id: { path: id.wasm }", plugin)
            .replace("steps:\n", "steps:\n    - { name: a, plugin: id }\n"),
    )
}

#[test]
fn a_plugin_is_a_path_or_an_oci_reference() {
    let m = with_plugin("id: { oci: \"127.0.0.1:5000/weft/id:1\", insecure: true }").unwrap();
    let id = &m.pipeline.spec.plugins["id"];
    assert_eq!(id.oci.as_deref(), Some("127.0.0.1:5000/weft/id:1"));
    assert!(id.insecure && id.path.is_none());
    for plugin in [
        "id: { path: id.wasm, oci: r.io/a/id:1 }",
        "id: { sha256: null }",
    ] {
        let e = with_plugin(plugin).unwrap_err();
        assert!(
            e.message
                .contains("plugin \"id\" needs exactly one of `path`"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (6, 5), "{e}");
    }
}

#[test]
fn plugin_fields_are_checked_where_they_are() {
    let e = with_plugin("id: { path: id.wasm, insecure: true }").unwrap_err();
    assert!(e.message.contains("goes with `oci`"), "{e}");
    assert_eq!((e.line, e.column), (6, 26), "{e}");
    let e = with_plugin("id: { oci: r.io/a/id:1, sha256: abc }").unwrap_err();
    assert!(e.message.contains("sha256 must be 64 hex digits"), "{e}");
    assert_eq!((e.line, e.column), (6, 29), "{e}");
    let pinned = format!("id: {{ oci: r.io/a/id:1, sha256: {} }}", "aB".repeat(32));
    assert!(with_plugin(&pinned).is_ok());
}

#[test]
fn one_pull_secret_at_most() {
    let one = HEAD.replace(
        "  steps:\n",
        "  imagePullSecrets: [{ name: regcred }]\n  steps:\n    - { name: a, plugin: id }\n",
    );
    assert_eq!(
        parse(&one).unwrap().pipeline.spec.image_pull_secrets[0].name,
        "regcred"
    );
    let two = one.replace("[{ name: regcred }]", "[{ name: a }, { name: b }]");
    let e = parse(&two).unwrap_err();
    assert!(
        e.message
            .contains("one kubernetes.io/dockerconfigjson Secret"),
        "{e}"
    );
    assert_eq!((e.line, e.column), (9, 3), "{e}");
}

#[test]
fn a_mount_is_a_folder_or_a_registry_file() {
    let step = |mount: &str| {
        parse(&format!(
            "{HEAD}    - name: score\n      plugin: id\n      mounts: [{mount}]\n"
        ))
    };
    let pin = "ab".repeat(32);
    let m = step(&format!(
        "{{ oci: \"127.0.0.1:5000/models/churn:1\", sha256: {pin}, as: /models }}"
    ))
    .unwrap();
    let mount = &m.pipeline.spec.steps[0].mounts[0];
    assert_eq!(mount.oci.as_deref(), Some("127.0.0.1:5000/models/churn:1"));
    assert_eq!(mount.sha256.as_deref(), Some(pin.as_str()));
    assert_eq!(
        (mount.path.as_deref(), mount.guest.as_str()),
        (None, "/models")
    );
    let m = step("{ path: models, as: /models }").unwrap();
    assert_eq!(
        m.pipeline.spec.steps[0].mounts[0].path.as_deref(),
        Some("models")
    );

    for (mount, says, column) in [
        (
            "{ path: models, oci: \"r.io/m:1\", as: /models }".to_owned(),
            "step \"score\": the mount as \"/models\" needs exactly one of `path`",
            7,
        ),
        ("{ as: /models }".to_owned(), "needs exactly one of `path`", 7),
        (
            "{ oci: \"r.io/m:1\", sha256: abc, as: /m }".to_owned(),
            "the mount as \"/m\" has a sha256 that is not 64 hex digits (as `sha256sum` prints them): \"abc\"",
            35,
        ),
        (
            format!("{{ path: models, sha256: {pin}, as: /m }}"),
            "pins the file of an `oci` mount",
            32,
        ),
        (
            "{ path: models, insecure: true, as: /m }".to_owned(),
            "goes with `oci`, not `path`",
            32,
        ),
    ] {
        let e = step(&mount).unwrap_err();
        assert!(e.message.contains(says), "{e}");
        assert_eq!((e.line, e.column), (12, column), "{e}");
    }
    let e = step("{ oci: r.io/m:1, as: /m, mode: rw }").unwrap_err();
    assert!(e.message.contains("unknown field `mode`"), "{e}");
}
