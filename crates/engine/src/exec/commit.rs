//! How a run's outputs become visible. `report.json` is the record that
//! vouches for the other files: it names the digest of the data file and of
//! every state file. A run that will write takes a lock on the output
//! folder, removes the previous record (and `metrics.prom`, made from it)
//! before it replaces any file, cleans what killed runs left (`.weft-*`
//! temporary files), and writes the new record last. Killed at any point,
//! the folder holds either a record whose files match their digests, or no
//! record, and the next run recomputes: it never trusts files no record
//! vouches for (see the `reuse` module).

use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;

use super::{OutputPaths, RunError};
use crate::data::io;

/// Prefix of the temporary files outputs are written to before their rename.
const TEMPORARY: &str = ".weft-";

/// The files made from the record, removed with it.
const RECORDS: [&str; 2] = ["report.json", "metrics.prom"];

/// An exclusive lock on an output folder, held while a run writes it. A
/// second run into the folder waits for the first (as a Job's replacement
/// pod waits for the pod it replaces to stop).
#[derive(Debug)]
pub struct Lock {
    _dir: File,
}

impl Lock {
    /// Lock `out`'s folder (made if missing) and remove the temporary files
    /// killed runs left in it and in its `state/`.
    pub fn take(out: &OutputPaths) -> Result<Lock, RunError> {
        let dir = &out.dir;
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let handle = File::open(dir).map_err(|e| io(dir, e))?;
        match handle.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::warn!(
                    folder = %dir.display(),
                    "another weft run is writing this output folder; waiting for it to finish"
                );
                handle.lock().map_err(|e| io(dir, e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(dir, e).into()),
        }
        for folder in [dir.clone(), dir.join("state")] {
            clean(&folder)?;
        }
        Ok(Lock { _dir: handle })
    }
}

/// Remove the `.weft-*` files in `folder` (not folders: a merged state
/// folder is made before the run takes its lock).
fn clean(folder: &Path) -> Result<(), RunError> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(folder, e).into()),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io(folder, e))?;
        let leftover = entry.file_name().to_string_lossy().starts_with(TEMPORARY)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if leftover {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
            tracing::info!(path = %path.display(), "removed what a killed run left");
        }
    }
    Ok(())
}

/// Remove the previous run's record, before any of its files is replaced.
pub fn retract(out: &OutputPaths) -> Result<(), RunError> {
    for name in RECORDS {
        let path = out.dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path, e).into()),
        }
    }
    fault("retracted");
    Ok(())
}

/// A testing aid for crash consistency: when `WEFT_FAULT_AT` names `point`,
/// say so on stderr and wait there to be killed.
pub fn fault(point: &str) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    let at = AT.get_or_init(|| std::env::var("WEFT_FAULT_AT").ok());
    if at.as_deref() == Some(point) {
        eprintln!("weft: reached fault point {point}; waiting to be killed");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
