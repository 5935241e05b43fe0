//! `weft push` and `weft pull`: plugin components to and from OCI
//! registries, in the CNCF Wasm layout `wkg` reads and writes; and `weft
//! push` of other files (models) in the ORAS file layout step mounts read.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use weft_oci::Store;

/// Options of `weft push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The plugin component (.wasm), e.g. what `weft build` printed, or a
    /// file to mount (e.g. a model, churn.onnx).
    plugin: PathBuf,
    /// Where to push it: registry/namespace/name:tag, e.g.
    /// ghcr.io/acme/scale:1.0 or 127.0.0.1:5000/weft/scale:dev.
    reference: String,
    /// Push the file as a file for a step mount (the ORAS file layout,
    /// titled by its name) even if it is Wasm; files that are not Wasm
    /// are pushed so without it.
    #[arg(long)]
    file: bool,
    /// Allow plain HTTP to a registry that is not on loopback (loopback
    /// registries may always use it; HTTPS is tried first).
    #[arg(long)]
    insecure: bool,
}

/// Options of `weft pull`.
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// registry/namespace/name:tag or registry/namespace/name@sha256:<hex>.
    reference: String,
    /// The component's expected sha256 (hex), as a manifest pins it; a
    /// component already in the cache is then used without asking the
    /// registry.
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long)]
    insecure: bool,
}

/// `weft push`: check that the file is a weft step, push it, print its
/// digests and, last, the reference by digest; a file that is not Wasm
/// (or any, with `--file`) goes as a file for a mount.
pub fn push(args: PushArgs) -> Result<ExitCode> {
    if args.file || !starts_as_wasm(&args.plugin)? {
        return push_file(&args);
    }
    let plugin = super::load_plugin(&args.plugin).with_context(|| {
        format!(
            "{}: weft push sends weft steps only, and this one does not load",
            args.plugin.display()
        )
    })?;
    let pushed = weft_oci::push(&args.plugin, &args.reference, args.insecure)?;
    let meta = &plugin.meta;
    println!(
        "pushed {} {} to {}",
        meta.name, meta.version, args.reference
    );
    println!("manifest digest: {}", pushed.manifest_digest);
    println!(
        "component sha256: {} (pin it as the plugin's sha256)",
        pushed.sha256
    );
    println!("{}", pushed.pinned);
    Ok(ExitCode::SUCCESS)
}

/// Whether `file` begins with the Wasm magic (a component, or a core
/// module that `weft push` then refuses as no weft step).
fn starts_as_wasm(file: &std::path::Path) -> Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let mut opened =
        std::fs::File::open(file).with_context(|| format!("{}: cannot read it", file.display()))?;
    let n = opened
        .read(&mut head)
        .with_context(|| format!("{}: cannot read it", file.display()))?;
    Ok(n == 4 && head == *b"\0asm")
}

/// `weft push --file`: push the file for a step mount; print its digests
/// and, last, the reference by digest.
fn push_file(args: &PushArgs) -> Result<ExitCode> {
    let pushed = weft_oci::push_file(&args.plugin, &args.reference, args.insecure)?;
    let title = args
        .plugin
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    println!("pushed file {title} to {}", args.reference);
    println!("manifest digest: {}", pushed.manifest_digest);
    println!(
        "file sha256: {} (pin it as the mount's sha256)",
        pushed.sha256
    );
    println!("{}", pushed.pinned);
    Ok(ExitCode::SUCCESS)
}

/// `weft pull`: pull into the cache, check that the component is a weft
/// step, print the cached file as the last line.
pub fn pull(args: PullArgs) -> Result<ExitCode> {
    let store = Store::default_location();
    let pulled = weft_oci::pull(
        &store,
        &args.reference,
        args.sha256.as_deref(),
        args.insecure,
    )?;
    let plugin = super::load_plugin(&pulled.path).with_context(|| {
        format!(
            "{}: pulled into {}, but it is not a weft step",
            args.reference,
            pulled.path.display()
        )
    })?;
    let meta = &plugin.meta;
    let manifest = pulled
        .manifest_digest
        .as_deref()
        .unwrap_or("not asked: the pinned component was cached");
    println!(
        "pulled {} {} from {}",
        meta.name, meta.version, args.reference
    );
    println!("manifest digest: {manifest}");
    println!("component sha256: {}", pulled.sha256);
    println!("{}", pulled.path.display());
    Ok(ExitCode::SUCCESS)
}
