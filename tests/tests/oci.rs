//! Plugins from OCI registries, against a real registry (Debian's
//! `docker-registry`) started per test on a free port: `weft push` and
//! `weft pull` in the CNCF Wasm layout, `weft run` of a manifest whose
//! plugin is an `oci` reference, pins, a registry that is down, artifacts
//! that are not components, plain HTTP off loopback, TLS with basic auth
//! from a docker config file. Each test has its own cache folder, so
//! "nothing was cached" is checked on a folder no other test writes.

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use weft_tests::registry::{self, Login, Registry};
use weft_tests::*;

mod served;

const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";

/// `weft ARGS` in `dir` with the cache (AOT and OCI) in `dir/cache` and
/// `envs`; no docker config unless `envs` names one.
fn weft(dir: &Workdir, args: &[&str], envs: &[(&str, &OsStr)]) -> Run {
    let cache = dir.join("cache");
    let none = dir.join("no-docker-config");
    let mut all: Vec<(&str, &OsStr)> = vec![
        ("WEFT_CACHE_DIR", cache.as_os_str()),
        ("DOCKER_CONFIG", none.as_os_str()),
    ];
    all.extend_from_slice(envs);
    weft_with(dir.path(), args, &all)
}

/// The components in `dir`'s OCI cache.
fn cached(dir: &Workdir) -> Vec<String> {
    files_under(&dir.join("cache/oci"))
}

/// Push the scale plugin to `reference`; its pinned reference (the last
/// line), manifest digest and sha256.
fn push_scale(dir: &Workdir, reference: &str, envs: &[(&str, &OsStr)]) -> (String, String, String) {
    let scale = plugin("scale");
    let run = weft(dir, &["push", &scale.to_string_lossy(), reference], envs);
    run.ok();
    let sha = sha256_file(&scale);
    run.stdout_has(&[&format!("component sha256: {sha}")]);
    let pinned = run.stdout.lines().last().unwrap().to_owned();
    let digest = pinned
        .rsplit_once('@')
        .expect("a reference by digest")
        .1
        .to_owned();
    assert!(
        run.stdout.contains(&format!("manifest digest: {digest}")),
        "{}",
        run.stdout
    );
    (pinned, digest, sha)
}

/// The churn pipeline with its scale plugin given as `plugin` (a flow
/// mapping's body, e.g. `oci: "..."`), written as `name` in `dir`.
fn churn_with_scale(dir: &Workdir, name: &str, out: &str, scale: &str) -> PathBuf {
    let yaml = churn_pipeline("median").output(out).yaml();
    let path_line = format!("scale: {{ path: \"{}\" }}", plugin("scale").display());
    assert!(yaml.contains(&path_line), "{yaml}");
    dir.write(
        name,
        yaml.replace(&path_line, &format!("scale: {{ {scale} }}")),
    )
}

fn copy_churn_data(dir: &Workdir) {
    std::fs::copy(
        workspace().join("examples/churn/data/train.csv"),
        dir.join("train.csv"),
    )
    .unwrap();
}

#[test]
fn push_then_pull_round_trips_in_the_wasm_layout() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = Workdir::new();
    let reference = registry.reference("weft/scale:1.0");
    let (pinned, digest, sha) = push_scale(&dir, &reference, &[]);
    assert_eq!(pinned, registry.reference(&format!("weft/scale@{digest}")));

    let manifest = registry::raw_manifest(&reference);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(manifest["config"]["mediaType"], WASM_CONFIG);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["digest"], format!("sha256:{sha}"));

    for asked in [reference.as_str(), pinned.as_str()] {
        let run = weft(&dir, &["pull", asked], &[]);
        run.ok()
            .stdout_has(&[&format!("manifest digest: {digest}")]);
        let path = PathBuf::from(run.stdout.lines().last().unwrap());
        assert_eq!(path, dir.join(format!("cache/oci/sha256/{sha}.wasm")));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(plugin("scale")).unwrap()
        );
    }
    assert_eq!(cached(&dir), vec![format!("sha256/{sha}.wasm")]);

    // Pinned and cached: no registry needed any more.
    drop(registry);
    weft(&dir, &["pull", &reference, "--sha256", &sha], &[])
        .ok()
        .stdout_has(&["not asked: the pinned component was cached"]);
}

#[test]
fn a_pipeline_runs_a_plugin_from_the_registry() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = Workdir::new();
    copy_churn_data(&dir);
    let reference = registry.reference("weft/scale:1.0");
    let (_, digest, sha) = push_scale(&dir, &reference, &[]);

    churn_pipeline("median")
        .output("by-path")
        .write(&dir, "path.yaml");
    weft(&dir, &["run", "-q", "path.yaml"], &[]).ok();
    churn_with_scale(&dir, "oci.yaml", "by-oci", &format!("oci: \"{reference}\""));
    weft(&dir, &["validate", "oci.yaml"], &[]).ok();
    weft(&dir, &["run", "-q", "oci.yaml"], &[]).ok();

    assert_eq!(
        read_parquet(&dir.join("by-oci/data.parquet")),
        read_parquet(&dir.join("by-path/data.parquet"))
    );
    let report = read_json(&dir.join("by-oci/report.json"));
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "scale")
        .unwrap();
    assert_eq!(step["pluginSha256"], sha.as_str());
    assert_eq!(step["pluginOci"]["reference"], reference.as_str());
    assert_eq!(step["pluginOci"]["manifestDigest"], digest.as_str());
    let path_report = read_json(&dir.join("by-path/report.json"));
    assert!(path_report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s.get("pluginOci").is_none()));

    // Pinned by sha256, by manifest digest too: the same run.
    let pinned = registry.reference(&format!("weft/scale@{digest}"));
    churn_with_scale(
        &dir,
        "pinned.yaml",
        "pinned",
        &format!("oci: \"{pinned}\", sha256: {sha}"),
    );
    weft(&dir, &["run", "-q", "pinned.yaml"], &[]).ok();
    assert_eq!(
        read_parquet(&dir.join("pinned/data.parquet")),
        read_parquet(&dir.join("by-path/data.parquet"))
    );
}

#[test]
fn weft_serve_answers_with_a_plugin_from_the_registry() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let (dir, by_path) = served::fitted("none");
    let reference = registry.reference("weft/scale:serve");
    let (_, _, sha) = push_scale(&dir, &reference, &[]);
    let yaml = std::fs::read_to_string(&by_path).unwrap();
    let path_line = format!("scale: {{ path: \"{}\" }}", plugin("scale").display());
    assert!(yaml.contains(&path_line), "{yaml}");
    let by_oci = dir.write(
        "oci.yaml",
        yaml.replace(&path_line, &format!("scale: {{ oci: \"{reference}\" }}")),
    );
    let cache = dir.join("serve-cache");
    let envs = [("WEFT_CACHE_DIR", cache.as_os_str())];
    let request = served::request_columns();
    let from_path = served::Served::start(&dir, &by_path, &[]).json(&request);
    // The fitted states name the component by sha256, whichever way it came.
    let from_oci = served::Served::start_with(&dir, &by_oci, &[], &envs).json(&request);
    assert_eq!(from_oci.0, 200, "{}", from_oci.1);
    assert_eq!(from_oci, from_path);
    assert_eq!(
        files_under(&cache.join("oci")),
        vec![format!("sha256/{sha}.wasm")]
    );
}

/// `wkg` (wasm-pkg-tools), as scripts/setup.sh --test installs it.
fn wkg() -> std::process::Command {
    tool("wkg/bin/wkg", "builds wkg")
}

#[test]
fn artifacts_interoperate_with_wkg_both_ways() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = Workdir::new();
    let scale = plugin("scale");
    let bytes = std::fs::read(&scale).unwrap();
    // wkg pushes, weft pulls (and runs it).
    let by_wkg = registry.reference("wkg/scale:1.0");
    output(
        wkg()
            .args(["oci", "push", "--insecure", &registry.addr, &by_wkg])
            .arg(&scale)
            .env("DOCKER_CONFIG", dir.join("no-docker-config")),
    );
    let pulled = weft(&dir, &["pull", &by_wkg], &[]);
    pulled.ok();
    assert_eq!(
        std::fs::read(pulled.stdout.lines().last().unwrap()).unwrap(),
        bytes
    );
    copy_churn_data(&dir);
    churn_with_scale(&dir, "wkg.yaml", "out", &format!("oci: \"{by_wkg}\""));
    weft(&dir, &["run", "-q", "wkg.yaml"], &[]).ok();
    // weft pushes, wkg pulls.
    let by_weft = registry.reference("weft/scale:1.0");
    push_scale(&dir, &by_weft, &[]);
    let file = dir.join("from-wkg.wasm");
    output(
        wkg()
            .args(["oci", "pull", "--insecure", &registry.addr, &by_weft, "-o"])
            .arg(&file)
            .env("DOCKER_CONFIG", dir.join("no-docker-config")),
    );
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
}

#[test]
fn a_wrong_pin_names_the_reference_and_caches_nothing() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = Workdir::new();
    copy_churn_data(&dir);
    let reference = registry.reference("weft/scale:1.0");
    let (_, _, sha) = push_scale(&dir, &reference, &[]);
    let wrong = "ab".repeat(32);

    let manifest = churn_with_scale(
        &dir,
        "p.yaml",
        "out",
        &format!("oci: \"{reference}\", sha256: \"{wrong}\""),
    );
    let text = std::fs::read_to_string(&manifest).unwrap();
    let (line, column) = locate(&text, "scale:", "oci:");
    let run = weft(&dir, &["run", "-q", "p.yaml"], &[]);
    run.failed();
    let error = run.error_line();
    assert!(
        error.contains(&format!(
            "p.yaml:{line}:{column}: plugin \"scale\": {reference}"
        )),
        "{error}"
    );
    assert!(
        error.contains(&format!("sha256 is {sha} but {wrong} is pinned")),
        "{error}"
    );
    assert_no_outputs(&dir.join("out"));

    weft(&dir, &["pull", &reference, "--sha256", &wrong], &[])
        .failed()
        .stderr_has(&[&reference, &wrong, "nothing was cached"]);
    assert_eq!(cached(&dir), Vec::<String>::new());
}

#[test]
fn a_registry_that_is_down_is_named() {
    let dir = Workdir::new();
    copy_churn_data(&dir);
    let port = registry::free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let reference = format!("127.0.0.1:{port}/weft/scale:1.0");
    weft(&dir, &["pull", &reference], &[])
        .failed()
        .stderr_has(&[
            &format!("{reference}: registry unreachable at https://127.0.0.1:{port}/v2/"),
            "Connection refused",
        ]);
    let manifest = churn_with_scale(&dir, "p.yaml", "out", &format!("oci: \"{reference}\""));
    let (line, column) = locate(
        &std::fs::read_to_string(manifest).unwrap(),
        "scale:",
        "oci:",
    );
    let run = weft(&dir, &["run", "-q", "p.yaml"], &[]);
    run.failed();
    assert!(
        run.error_line().contains(&format!(
            "p.yaml:{line}:{column}: plugin \"scale\": {reference}: registry unreachable"
        )),
        "{}",
        run.error_line()
    );
    assert_no_outputs(&dir.join("out"));
}

#[test]
fn artifacts_that_are_not_components_are_refused() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let dir = Workdir::new();

    let image = registry.reference("weft/image:v1");
    registry::push_artifact(
        &image,
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.oci.image.layer.v1.tar",
        b"not a tar",
    );
    weft(&dir, &["pull", &image], &[]).failed().stderr_has(&[
        &format!("{image}: not a Wasm component artifact"),
        "config media type application/vnd.oci.image.config.v1+json",
        "application/vnd.oci.image.layer.v1.tar",
    ]);

    // The Wasm media types around a core module: refused once its bytes are seen.
    let module = registry.reference("weft/module:v1");
    let sha = registry::push_artifact(&module, WASM_CONFIG, "application/wasm", b"\0asm\x01\0\0\0");
    weft(&dir, &["pull", &module], &[])
        .failed()
        .stderr_has(&[&format!(
            "{module}: not a Wasm component artifact: a core Wasm module"
        )]);
    assert!(!dir.join(format!("cache/oci/sha256/{sha}.wasm")).exists());
    assert_eq!(cached(&dir), Vec::<String>::new());

    // `weft push` sends weft steps only.
    let core = dir.write("core.wasm", b"\0asm\x01\0\0\0");
    weft(
        &dir,
        &[
            "push",
            &core.to_string_lossy(),
            &registry.reference("weft/core:v1"),
        ],
        &[],
    )
    .failed()
    .stderr_has(&["core.wasm", "weft push sends weft steps only"]);
    assert!(
        !registry::has_manifest(&registry.reference("weft/core:v1")),
        "a refused push reached the registry"
    );
}

#[test]
fn plain_http_off_loopback_needs_insecure() {
    let Some(ip) = registry::outward_ip() else {
        eprintln!("skipped: this host has no address besides loopback");
        return;
    };
    let Some(registry) = Registry::start_on(IpAddr::V4(Ipv4Addr::UNSPECIFIED), None) else {
        return;
    };
    let dir = Workdir::new();
    let port = registry.addr.rsplit_once(':').unwrap().1;
    let reference = format!("{ip}:{port}/weft/scale:1.0");
    let scale = plugin("scale");
    weft(&dir, &["push", &scale.to_string_lossy(), &reference], &[])
        .failed()
        .stderr_has(&[
            &reference,
            "plain HTTP is allowed only for loopback registries or with --insecure",
        ]);
    weft(
        &dir,
        &["push", &scale.to_string_lossy(), &reference, "--insecure"],
        &[],
    )
    .ok();
    weft(&dir, &["pull", &reference], &[])
        .failed()
        .stderr_has(&["--insecure"]);
    weft(&dir, &["pull", &reference, "--insecure"], &[]).ok();

    copy_churn_data(&dir);
    churn_with_scale(
        &dir,
        "p.yaml",
        "out",
        &format!("oci: \"{reference}\", insecure: true"),
    );
    weft(&dir, &["run", "-q", "p.yaml"], &[]).ok();
}

/// `SSL_CERT_FILE` (the test CA) and `DOCKER_CONFIG` (`config`).
fn trusting(ca: &Path, config: &Path) -> Vec<(&'static str, OsString)> {
    vec![
        ("SSL_CERT_FILE", ca.into()),
        ("DOCKER_CONFIG", config.into()),
    ]
}

fn refs<'a>(envs: &'a [(&'static str, OsString)]) -> Vec<(&'static str, &'a OsStr)> {
    envs.iter().map(|(k, v)| (*k, v.as_os_str())).collect()
}

#[test]
fn tls_and_basic_auth_with_a_docker_config() {
    let login = Login {
        user: "weft",
        password: "s3cret",
    };
    let Some(registry) = Registry::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), Some(login)) else {
        return;
    };
    let dir = Workdir::new();
    let ca = registry.ca.clone().expect("a TLS registry has a CA");
    let login = |password| Login {
        user: "weft",
        password,
    };
    let good = registry::docker_config(&dir.join("good"), &registry.addr, &login("s3cret"));
    let bad = registry::docker_config(&dir.join("bad"), &registry.addr, &login("wrong"));
    let reference = registry.reference("weft/scale:1.0");

    let with_good = trusting(&ca, &good);
    let (_, _, sha) = push_scale(&dir, &reference, &refs(&with_good));
    let run = weft(&dir, &["pull", &reference], &refs(&with_good));
    run.ok();
    let cached_file = dir.join(format!("cache/oci/sha256/{sha}.wasm"));
    assert_eq!(
        run.stdout.lines().last().unwrap(),
        cached_file.to_string_lossy()
    );

    // A pin whose file is not cached still asks the registry, which refuses.
    let bad_config = bad.join("config.json");
    weft(
        &dir,
        &["pull", &reference, "--sha256", &"0".repeat(64)],
        &refs(&trusting(&ca, &bad)),
    )
    .failed()
    .stderr_has(&[
        &format!("{reference}: the registry refused access"),
        &format!(
            "credentials sent for {}: the user in {}",
            registry.addr,
            bad_config.display()
        ),
    ]);
    weft(
        &dir,
        &["pull", &reference],
        &refs(&trusting(&ca, &dir.join("nowhere"))),
    )
    .failed()
    .stderr_has(&["the registry refused access", "none (", "does not exist"]);
    weft(
        &dir,
        &["pull", &reference],
        &[("DOCKER_CONFIG", good.as_os_str())],
    )
    .failed()
    .stderr_has(&[
        &format!(
            "{reference}: the TLS certificate of https://{}/v2/ is not trusted",
            registry.addr
        ),
        "SSL_CERT_FILE",
    ]);
}
