//! Preparing a run: plugins loaded and compiled, each step checked against
//! its plugin (config schema, mounts, reference data) with errors located
//! in the manifest, and the sandbox sized for the steps and workers.

use std::collections::BTreeMap;
use std::sync::Arc;

use weft_gpu::{Choice, Shared};
use weft_manifest::{Compute, Limits, Manifest, Mount};
use weft_oci::Store;
use weft_record::MountOci;

use super::{Failure, Instance, Prepared, RunError, RunOptions, StepFailure, StepPlan, StepSetup};
use crate::plugin::{Cache, Plugin, PluginOci};
use crate::sandbox::{Grant, PoolSize, Sandbox};

/// The folder mount `m` grants: a host folder ([`folder_grant`]), or the
/// folder holding the file of an `oci` mount, pulled into the store (or
/// found there) and refused past `limits.hostMemory` before the
/// download, with where that file came from; else the manifest field an
/// error is about, and the error.
fn grant_of(
    manifest: &Manifest,
    m: &Mount,
    limits: &Limits,
) -> Result<(Grant, Option<MountOci>), (&'static str, String)> {
    let Some(reference) = &m.oci else {
        let path = m.path.as_deref().unwrap_or_default();
        let grant = folder_grant(manifest, path, &m.guest).map_err(|e| ("mounts", e))?;
        return Ok((grant, None));
    };
    let store = Store::default_location();
    let pin = m.sha256.as_deref();
    let pulled = weft_oci::pull_file(&store, reference, pin, m.insecure, limits.host_bytes)
        .map_err(|e| ("oci", format!("the mount as {:?}: {e}", m.guest)))?;
    let host = pulled.folder.canonicalize().map_err(|e| {
        let shown = pulled.folder.display();
        ("oci", format!("the mount as {:?}: {shown}: {e}", m.guest))
    })?;
    let source = MountOci {
        guest: m.guest.clone(),
        reference: reference.clone(),
        manifest_digest: pulled.manifest_digest,
        sha256: pulled.sha256,
    };
    let grant = Grant {
        host,
        guest: m.guest.clone(),
    };
    Ok((grant, Some(source)))
}

/// The folder `path` grants, links followed, if it lies under the
/// manifest's folder or under a folder named in `WEFT_MOUNT_ROOTS`
/// (colon-separated): a manifest cannot grant a step `/etc`.
fn folder_grant(manifest: &Manifest, path: &str, guest: &str) -> Result<Grant, String> {
    let host = manifest.resolve(path);
    let real = host
        .canonicalize()
        .map_err(|e| format!("mount path {path:?} ({}): {e}", host.display()))?;
    let base = manifest.resolve(".");
    let roots = std::env::var_os("WEFT_MOUNT_ROOTS").unwrap_or_default();
    let allowed = std::iter::once(base.clone())
        .chain(std::env::split_paths(&roots))
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| real.starts_with(root));
    if !allowed {
        return Err(format!(
            "mount path {path:?} is {}, outside the manifest's folder {}; mounts are folders under it, or under a folder named in WEFT_MOUNT_ROOTS",
            real.display(),
            base.display()
        ));
    }
    Ok(Grant {
        host: real,
        guest: guest.to_owned(),
    })
}

/// Where kernels run: `--compute`, else `WEFT_COMPUTE`, else the manifest's
/// `compute`, else `auto`. Under `gpu` the device is opened now, so a
/// missing adapter fails the run before any step starts.
fn compute_of(manifest: &Manifest, options: &RunOptions) -> Result<Arc<Shared>, RunError> {
    let from_manifest = || match manifest.pipeline.spec.compute {
        Some(Compute::Gpu) => Choice::Gpu,
        Some(Compute::Cpu) => Choice::Cpu,
        Some(Compute::Auto) | None => Choice::Auto,
    };
    let choice = match options.compute {
        Some(c) => c,
        None if std::env::var_os(Choice::ENV).is_some() => Choice::from_env()?,
        None => from_manifest(),
    };
    let shared = Arc::new(Shared::new(choice));
    if choice == Choice::Gpu {
        shared.get()?;
    }
    Ok(shared)
}

/// Load plugins, check configs and build the sandbox for `manifest`.
pub fn prepare(manifest: Manifest, options: &RunOptions) -> Result<Prepared, RunError> {
    let spec = &manifest.pipeline.spec;
    let workers = options
        .workers
        .or(spec.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let limits = manifest.limits.clone();
    let pool = PoolSize {
        instances: ((workers + 3) * spec.steps.len() + 4) as u32,
        max_memory_bytes: limits.iter().map(|l| l.memory_bytes).max().unwrap_or(0),
        fuel: limits.iter().any(|l| l.fuel.is_some()),
    };
    let sandbox = Sandbox::new(pool)
        .map_err(|e| RunError::Sandbox(format!("{e:#}")))?
        .with_compiler(options.compiler);
    let compute = compute_of(&manifest, options)?;
    let plugins = load_plugins(&manifest, &sandbox, options)?;
    let index: BTreeMap<&str, usize> = spec
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let steps = spec
        .steps
        .iter()
        .zip(limits)
        .enumerate()
        .map(|(i, (step, limits))| {
            let plugin = plugins[step.plugin.as_str()].clone();
            plan(&manifest, i, plugin, limits, &index, &compute)
        })
        .collect::<Result<_, _>>()?;
    let order = manifest.order.clone();
    let batch_rows = spec.batch_rows.unwrap_or(65536);
    Ok(Prepared {
        manifest,
        steps,
        order,
        workers,
        batch_rows,
        compute,
        _sandbox: sandbox,
    })
}

/// Step `at` of `manifest`, checked against its `plugin`: config,
/// mounts, reference data.
fn plan(
    manifest: &Manifest,
    at: usize,
    plugin: Arc<Plugin>,
    limits: Limits,
    index: &BTreeMap<&str, usize>,
    compute: &Arc<Shared>,
) -> Result<StepPlan, RunError> {
    let step = &manifest.pipeline.spec.steps[at];
    if let Err(problems) = plugin.check_config(&step.config) {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let message = format!(
            "step {:?} (plugin {:?}): {}",
            step.name,
            plugin.meta.name,
            listed.join("; ")
        );
        return Err(RunError::Manifest(manifest.config_error(
            at,
            &problems[0].path,
            message,
        )));
    }
    let (grants, mounts): (Vec<Grant>, Vec<Option<MountOci>>) = step
        .mounts
        .iter()
        .map(|m| grant_of(manifest, m, &limits))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|(field, m)| {
            let message = format!("step {:?}: {m}", step.name);
            RunError::Manifest(manifest.step_error(at, Some(field), message))
        })?
        .into_iter()
        .unzip();
    let fit = step.fit.unwrap_or(plugin.meta.stateful);
    if step.reference.is_some() && !fit {
        return Err(RunError::Manifest(manifest.step_error(
            at,
            Some("reference"),
            format!(
                "step {:?}: plugin {:?} fits nothing, so it has no use for reference data",
                step.name, plugin.meta.name
            ),
        )));
    }
    let setup = Arc::new(StepSetup {
        name: step.name.clone(),
        config: step.config.to_string(),
        limits,
        grants,
        compute: compute.clone(),
    });
    configured(manifest, at, &plugin, &setup)?;
    Ok(StepPlan {
        setup,
        plugin,
        plugin_name: step.plugin.clone(),
        fit,
        needs: step.needs.iter().map(|n| index[n.as_str()]).collect(),
        reference: step.reference.as_ref().map(|r| manifest.resolve(&r.path)),
        gates: step.gates.clone(),
        mounts: mounts.into_iter().flatten().collect(),
    })
}

/// Check that the plugin accepts the step's config: one instance, made
/// and configured, so a config the plugin refuses fails before any data is
/// read, located at the step's `config`.
fn configured(
    manifest: &Manifest,
    at: usize,
    plugin: &Plugin,
    setup: &Arc<StepSetup>,
) -> Result<(), RunError> {
    match Instance::new(plugin.pre().clone(), setup.clone(), None) {
        Ok(_) => Ok(()),
        Err(StepFailure { call, failure, .. }) => {
            let what = match failure {
                Failure::InvalidConfig(m) => {
                    format!("plugin {:?} refuses its config: {m}", plugin.meta.name)
                }
                other => format!("{call} failed: {other}"),
            };
            let message = format!("step {:?}: {what}", setup.name);
            Err(RunError::Manifest(manifest.step_error(
                at,
                Some("config"),
                message,
            )))
        }
    }
}

/// Every plugin of the manifest, loaded and compiled (from `options.cache`
/// unless `options.no_compile_cache`).
fn load_plugins<'m>(
    manifest: &'m Manifest,
    sandbox: &Sandbox,
    options: &RunOptions,
) -> Result<BTreeMap<&'m str, Arc<Plugin>>, RunError> {
    let cache = if options.no_compile_cache {
        Cache::new(None)
    } else {
        options
            .cache
            .clone()
            .map_or_else(Cache::default_location, |d| Cache::new(Some(d)))
    };
    let store = Store::default_location();
    let mut plugins = BTreeMap::new();
    for (name, r) in &manifest.pipeline.spec.plugins {
        let plugin = match (&r.oci, &r.path) {
            (Some(reference), _) => pulled(manifest, sandbox, (&cache, &store), name, reference)?,
            (None, Some(path)) => Plugin::load(
                sandbox,
                &cache,
                &manifest.resolve(path),
                r.sha256.as_deref(),
            )?,
            (None, None) => {
                let message = format!("plugin {name:?} has neither `path` nor `oci`");
                return Err(RunError::Manifest(
                    manifest.plugin_error(name, None, message),
                ));
            }
        };
        plugins.insert(name.as_str(), Arc::new(plugin));
    }
    Ok(plugins)
}

/// Plugin `key`, pulled from `reference` into `store` (or found there),
/// then loaded; registry errors are located at the reference.
fn pulled(
    manifest: &Manifest,
    sandbox: &Sandbox,
    (cache, store): (&Cache, &Store),
    key: &str,
    reference: &str,
) -> Result<Plugin, RunError> {
    let r = &manifest.pipeline.spec.plugins[key];
    let pulled =
        weft_oci::pull(store, reference, r.sha256.as_deref(), r.insecure).map_err(|e| {
            let message = format!("plugin {key:?}: {e}");
            RunError::Manifest(manifest.plugin_error(key, Some("oci"), message))
        })?;
    let mut plugin = Plugin::load(sandbox, cache, &pulled.path, Some(&pulled.sha256))?;
    plugin.oci = Some(PluginOci {
        reference: reference.to_owned(),
        manifest_digest: pulled.manifest_digest,
    });
    Ok(plugin)
}
