//! A real OCI registry for the tests: Debian's `docker-registry` on a
//! free port with its storage in a temporary folder, plain HTTP or TLS
//! (a CA and server certificate made with openssl) with basic auth (a
//! bcrypt htpasswd line made with perl's crypt, which glibc's libxcrypt
//! gives bcrypt); and artifacts that are not components, pushed with
//! skopeo from an OCI layout written here.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Where Debian installs the registry.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A running registry, stopped on drop.
pub struct Registry {
    child: Child,
    /// `host:port`, as references name it.
    pub addr: String,
    /// The CA that signed its certificate, when it serves TLS.
    pub ca: Option<PathBuf>,
    dir: tempfile::TempDir,
}

/// Basic-auth user and password of a registry that wants them.
pub struct Login<'a> {
    /// User name.
    pub user: &'a str,
    /// Password.
    pub password: &'a str,
}

impl Registry {
    /// A plain-HTTP registry on loopback, or `None` (with the reason
    /// printed) when the registry is not installed.
    pub fn start() -> Option<Registry> {
        Registry::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), None)
    }

    /// A registry listening on `ip` (0.0.0.0 to be reached by another
    /// address of this host), serving TLS with basic auth for `login`
    /// when given; `None` (with the reason printed) when not installed.
    pub fn start_on(ip: IpAddr, login: Option<Login>) -> Option<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            eprintln!("skipped: {REGISTRY_BIN} is not installed (Debian package docker-registry; scripts/setup.sh --test installs it)");
            return None;
        }
        let dir = tempfile::tempdir().expect("registry folder");
        let port = free_port(ip);
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {}\n",
            dir.path().join("storage").display(),
            SocketAddr::new(ip, port)
        );
        let ca = login.map(|login| {
            let tls = dir.path().join("tls");
            let ca = make_certificates(&tls);
            config += &format!(
                "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: weft-test\n    path: {}\n",
                tls.join("server.pem").display(),
                tls.join("server.key").display(),
                write_htpasswd(&tls, &login).display()
            );
            ca
        });
        let config_file = dir.path().join("config.yml");
        std::fs::write(&config_file, config).expect("write the registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry log");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_file)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let shown = if ip.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            ip
        };
        let mut registry = Registry {
            child,
            addr: format!("{shown}:{port}"),
            ca,
            dir,
        };
        registry.wait_ready(SocketAddr::new(shown, port));
        Some(registry)
    }

    /// `<addr>/<path>`.
    pub fn reference(&self, path: &str) -> String {
        format!("{}/{path}", self.addr)
    }

    /// The registry's own log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("docker-registry exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {addr}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now, on `ip`.
pub fn free_port(ip: IpAddr) -> u16 {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// This host's address on its default route, if it has one that is not
/// loopback (found without sending anything).
pub fn outward_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn run(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 and localhost signed by
/// it, in `dir`; returns the CA's PEM file.
fn make_certificates(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("tls folder");
    let openssl = |args: &[&str]| run(Command::new("openssl").current_dir(dir).args(args));
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=weft test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"],
            &ec[..],
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
    dir.join("ca.pem")
}

/// The registry's htpasswd file for `login` (bcrypt, the only hash it reads).
fn write_htpasswd(dir: &Path, login: &Login) -> PathBuf {
    let out = Command::new("perl")
        .args([
            "-e",
            "print crypt($ARGV[0], '$2y$05$' . 'weftweftweftweftweftwe')",
            login.password,
        ])
        .output()
        .expect("run perl");
    let hash = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        hash.starts_with("$2y$05$") && hash.len() == 60,
        "perl's crypt made no bcrypt hash ({hash:?}); libxcrypt is needed"
    );
    let file = dir.join("htpasswd");
    std::fs::write(&file, format!("{}:{hash}\n", login.user)).expect("write htpasswd");
    file
}

/// A docker config folder (for DOCKER_CONFIG) holding `login` for `registry`.
pub fn docker_config(dir: &Path, registry: &str, login: &Login) -> PathBuf {
    let pair = format!("{}:{}", login.user, login.password);
    let out = crate::with_stdin(Command::new("base64").arg("-w0"), pair.as_bytes());
    assert!(out.status.success(), "base64 failed");
    let auth = String::from_utf8(out.stdout).expect("base64 prints ASCII");
    std::fs::create_dir_all(dir).expect("docker config folder");
    let json = serde_json::json!({ "auths": { registry: { "auth": auth.trim() } } });
    std::fs::write(dir.join("config.json"), json.to_string()).expect("write config.json");
    dir.to_owned()
}

/// Push an artifact of `config_type` with one layer of `layer_type`
/// holding `layer` to `reference` (on a plain-HTTP registry), with skopeo
/// from an OCI layout; returns the layer's sha256.
pub fn push_artifact(reference: &str, config_type: &str, layer_type: &str, layer: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("layout folder");
    let blobs = dir.path().join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).expect("blobs folder");
    let blob = |bytes: &[u8]| {
        let hex = hex::encode(Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).expect("write blob");
        serde_json::json!({ "digest": format!("sha256:{hex}"), "size": bytes.len() })
    };
    let mut config = blob(br#"{"architecture":"amd64","os":"linux"}"#);
    config["mediaType"] = config_type.into();
    let mut layer_desc = blob(layer);
    layer_desc["mediaType"] = layer_type.into();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer_desc],
    });
    let mut manifest_desc = blob(manifest.to_string().as_bytes());
    manifest_desc["mediaType"] = "application/vnd.oci.image.manifest.v1+json".into();
    manifest_desc["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": "v1" });
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": [manifest_desc] });
    std::fs::write(dir.path().join("index.json"), index.to_string()).expect("index.json");
    std::fs::write(
        dir.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    run(Command::new("skopeo").args([
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", dir.path().display()),
        &format!("docker://{reference}"),
    ]));
    hex::encode(Sha256::digest(layer))
}

/// The raw manifest of `reference` (plain HTTP), as skopeo reads it.
pub fn raw_manifest(reference: &str) -> serde_json::Value {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ])
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON manifest")
}

/// Whether `reference` (plain HTTP) has a manifest.
pub fn has_manifest(reference: &str) -> bool {
    Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ])
        .output()
        .expect("run skopeo")
        .status
        .success()
}
