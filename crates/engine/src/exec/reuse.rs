//! Content-addressed outputs: a run's key digests everything its outputs
//! depend on (input files, plugins, configs, mounted files, the states it
//! starts from); a run whose key matches the report already in its output
//! folder, with the data and states that report names still there and
//! unchanged, is not run again. A cluster stage re-run after a failure
//! skips the stages that had finished this way.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{OutputPaths, Prepared, RunOptions, RunReport};
use crate::plugin::sha256_hex;

/// Feed `field` to `hash`, length-prefixed so that fields cannot run into
/// each other.
fn feed(hash: &mut Sha256, field: &[u8]) {
    hash.update((field.len() as u64).to_le_bytes());
    hash.update(field);
}

/// Most folders deep a key reads: past it (a link looping back up, say)
/// there is no key and the run runs.
const MAX_DEPTH: usize = 32;

/// Feed the contents of a file, or of every file under a folder (sorted by
/// path), to `hash`.
fn feed_path(hash: &mut Sha256, path: &Path) -> std::io::Result<()> {
    feed_tree(hash, path, 0)
}

fn feed_tree(hash: &mut Sha256, path: &Path, depth: usize) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(std::io::Error::other("folders nested too deep"));
    }
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            feed(
                hash,
                entry.file_name().unwrap_or_default().as_encoded_bytes(),
            );
            feed_tree(hash, &entry, depth + 1)?;
        }
        return Ok(());
    }
    feed(hash, &file_digest(path)?);
    Ok(())
}

/// The sha256 of a file's contents, read in 1 MiB pieces.
fn file_digest(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut contents = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        contents.update(&buffer[..n]);
    }
    Ok(contents.finalize().into())
}

/// The hex sha256 of the data file a run wrote, recorded in its report so
/// that a later run trusts the file only while it is unchanged.
pub(super) fn data_digest(path: &Path) -> std::io::Result<String> {
    file_digest(path).map(hex::encode)
}

/// The key of the run `prepared` makes, as `options` ask, from `states`
/// (given, not fitted); `None` when a file it reads cannot be read (the
/// run then says why).
pub(super) fn key(
    prepared: &Prepared,
    options: &RunOptions,
    states: &[Option<Arc<Vec<u8>>>],
) -> Option<String> {
    let mut hash = Sha256::new();
    feed(&mut hash, env!("CARGO_PKG_VERSION").as_bytes());
    let share = options.share.map_or([0, 0], |s| [s.index + 1, s.count]);
    feed(
        &mut hash,
        &[share[0].to_le_bytes(), share[1].to_le_bytes()].concat(),
    );
    feed(&mut hash, &[u8::from(options.fit_only)]);
    feed_path(&mut hash, &prepared.input()).ok()?;
    let data = prepared.output().data;
    feed(
        &mut hash,
        data.file_name().unwrap_or_default().as_encoded_bytes(),
    );
    for &i in &prepared.order {
        let step = &prepared.steps[i];
        for field in [
            step.setup.name.as_bytes(),
            step.plugin.digest.as_bytes(),
            step.setup.config.as_bytes(),
            &[u8::from(step.fit)],
        ] {
            feed(&mut hash, field);
        }
        for need in &step.needs {
            feed(&mut hash, &need.to_le_bytes());
        }
        if let Some(reference) = &step.reference {
            feed_path(&mut hash, reference).ok()?;
        }
        for grant in &step.setup.grants {
            feed(&mut hash, grant.guest.as_bytes());
            feed_path(&mut hash, &grant.host).ok()?;
        }
        let gates = serde_json::to_vec(&step.gates).unwrap_or_default();
        feed(&mut hash, &gates);
        feed(
            &mut hash,
            states[i].as_deref().map_or(&[][..], Vec::as_slice),
        );
    }
    Some(hex::encode(hash.finalize()))
}

/// Whether `out` holds a report that [`earlier`] could match (if not, no
/// run needs the key before it ends).
pub(super) fn might_hold(out: &OutputPaths) -> bool {
    out.dir.join("report.json").is_file()
}

/// The report of an earlier run with `key` in `out`, if its data file and
/// every state file it names are there and unchanged. A data file that
/// differs from the digest its report recorded (a run killed between
/// writing new data and its report, a file damaged since) is not trusted.
pub(super) fn earlier(out: &OutputPaths, key: &str) -> Option<RunReport> {
    let bytes = std::fs::read(out.dir.join("report.json")).ok()?;
    let report: RunReport = serde_json::from_slice(&bytes).ok()?;
    if report.cache_key.as_deref() != Some(key) {
        return None;
    }
    // A fit-only run (a share of a sharded step) writes no data.
    if !report.output.is_empty() {
        let digest = data_digest(&out.data).ok()?;
        if report.output_sha256.as_deref() != Some(digest.as_str()) {
            return None;
        }
    }
    let states_intact = report
        .steps
        .iter()
        .filter_map(|s| s.state.as_ref())
        .all(|state| {
            std::fs::read(out.dir.join(&state.path)).is_ok_and(|b| sha256_hex(&b) == state.sha256)
        });
    states_intact.then_some(report)
}
