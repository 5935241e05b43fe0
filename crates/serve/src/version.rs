//! One loaded version of the pipeline: its workers, and the files it was
//! loaded from (to notice when they change).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use super::Options;
use weft_engine::exec::{self, Online, RunOptions, Worker};
use weft_manifest::Manifest;

/// One loaded version of the pipeline and its workers.
pub(super) struct Loaded {
    pub(super) online: Online,
    pub(super) pool: Mutex<Vec<Worker>>,
}

/// Files with their modification times.
pub(super) type Fingerprint = Vec<(PathBuf, Option<SystemTime>)>;

/// The files a version depends on (manifest, plugins, states), or only the
/// manifest and states while the manifest does not parse.
pub(super) fn fingerprint(options: &Options) -> Fingerprint {
    let mut files = vec![options.manifest.clone()];
    if let Ok(manifest) = Manifest::load(&options.manifest) {
        // An `oci` plugin is not watched: its reference, in the manifest, is.
        let plugins = manifest.pipeline.spec.plugins.values();
        files.extend(plugins.filter_map(|p| p.path.as_ref().map(|f| manifest.resolve(f))));
    }
    if let Ok(entries) = std::fs::read_dir(&options.state) {
        files.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
    }
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let modified = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
            (f, modified)
        })
        .collect()
}

/// Load a version: manifest, plugins compiled, states, one worker per
/// slot (each instance configured and given its state).
pub(super) fn load(options: &Options) -> anyhow::Result<Loaded> {
    let manifest = Manifest::load(&options.manifest)?;
    let run = RunOptions {
        workers: Some(options.workers),
        compiler: options.compiler,
        ..RunOptions::default()
    };
    let online = Online::new(exec::prepare(manifest, &run)?, &options.state)?;
    let pool = (0..options.workers)
        .map(|_| online.worker())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Loaded {
        online,
        pool: Mutex::new(pool),
    })
}
