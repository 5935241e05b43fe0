//! Checks of each step's `mounts`: each is a folder or a file from a
//! registry, exactly one, and a registry file's pin is a well-formed
//! sha256.

use crate::{Manifest, ManifestError, Mount};

impl Manifest {
    /// Every mount of step `i`, on its own.
    pub(crate) fn check_mounts(&self, i: usize) -> Result<(), ManifestError> {
        let step = &self.pipeline.spec.steps[i];
        for mount in &step.mounts {
            if let Err((field, problem)) = check_mount(mount) {
                let message = format!(
                    "step {:?}: the mount as {:?} {problem}",
                    step.name, mount.guest
                );
                return Err(self.step_error(i, Some(field), message));
            }
        }
        Ok(())
    }
}

/// The field of `mount` that is wrong, and what is wrong with it.
fn check_mount(mount: &Mount) -> Result<(), (&'static str, String)> {
    match (&mount.path, &mount.oci) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(("mounts", "needs exactly one of `path` (a folder, relative to the manifest) or `oci` (a registry reference of a file, such as ghcr.io/org/models/churn:1)".into()));
        }
        (Some(_), None) if mount.sha256.is_some() => {
            return Err(("sha256", "has a `sha256`, which pins the file of an `oci` mount; a `path` mount is not pinned".into()));
        }
        (Some(_), None) if mount.insecure => {
            return Err(("insecure", "has `insecure`, which allows plain HTTP to a registry, so it goes with `oci`, not `path`".into()));
        }
        _ => {}
    }
    match &mount.sha256 {
        Some(sha) if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) => Err((
            "sha256",
            format!("has a sha256 that is not 64 hex digits (as `sha256sum` prints them): {sha:?}"),
        )),
        _ => Ok(()),
    }
}
