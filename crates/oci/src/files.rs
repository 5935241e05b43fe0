//! The store's pulled files, for step mounts: one folder per file and
//! title, `<dir>/files/<sha256>-<title>/<title>`, which a mount grants
//! read-only. A download goes into a temporary folder beside them, is
//! counted against a size limit and hashed as it arrives, and the folder
//! is renamed into place only once the sha256 matches: a folder there is
//! always whole and always what its name says.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use sha2::{Digest, Sha256};

use crate::artifact::FileLayer;
use crate::{OciError, Store};

/// A file of the store: its folder (what a mount grants) and its title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Kept {
    pub(crate) folder: PathBuf,
    pub(crate) title: String,
}

impl Store {
    fn files(&self) -> PathBuf {
        self.dir().join("files")
    }

    /// The folder of file `sha256` titled `title`, if kept.
    pub(crate) fn file(&self, sha256: &str, title: &str) -> Option<Kept> {
        let folder = self
            .files()
            .join(format!("{}-{title}", sha256.to_ascii_lowercase()));
        folder.join(title).is_file().then(|| Kept {
            folder,
            title: title.to_owned(),
        })
    }

    /// The folder of file `sha256`, if it is kept under one title only
    /// (under several, the artifact's manifest says which one it is).
    pub(crate) fn pinned_file(&self, sha256: &str) -> Option<Kept> {
        let prefix = format!("{}-", sha256.to_ascii_lowercase());
        let mut titles = std::fs::read_dir(self.files())
            .ok()?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_prefix(&prefix).map(str::to_owned));
        match (titles.next(), titles.next()) {
            (Some(title), None) => self.file(sha256, &title),
            _ => None,
        }
    }

    /// A temporary folder to download `layer` into, and the writer that
    /// fills its file, refusing more than `limit` bytes.
    pub(crate) fn partial(
        &self,
        layer: &FileLayer,
        limit: u64,
    ) -> Result<(tempfile::TempDir, Capped), OciError> {
        let folder = self.files();
        let io = |source| OciError::Io {
            path: folder.clone(),
            source,
        };
        std::fs::create_dir_all(&folder).map_err(io)?;
        let temp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempdir_in(&folder)
            .map_err(io)?;
        let file = std::fs::File::create(temp.path().join(&layer.title)).map_err(io)?;
        let capped = Capped {
            file,
            hash: Sha256::new(),
            written: 0,
            limit,
        };
        Ok((temp, capped))
    }

    /// Keep what `capped` wrote into `temp` as `layer`, which `reference`
    /// named: refused, and nothing kept, past the limit or unless it
    /// hashes to the layer's sha256.
    pub(crate) fn keep(
        &self,
        reference: &str,
        layer: &FileLayer,
        temp: tempfile::TempDir,
        capped: Capped,
    ) -> Result<Kept, OciError> {
        if capped.written > capped.limit {
            return Err(too_large(
                reference,
                &layer.title,
                capped.written,
                capped.limit,
            ));
        }
        let actual = hex::encode(capped.hash.finalize());
        if actual != layer.sha256 {
            return Err(OciError::Digest {
                reference: reference.to_owned(),
                what: "file",
                expected: layer.sha256.clone(),
                actual,
            });
        }
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| OciError::Io { path, source }
        };
        capped.file.sync_all().map_err(io(temp.path()))?;
        let file = temp.path().join(&layer.title);
        let mut permissions = std::fs::metadata(&file).map_err(io(&file))?.permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(&file, permissions).map_err(io(&file))?;
        let folder = self
            .files()
            .join(format!("{}-{}", layer.sha256, layer.title));
        if let Err(e) = std::fs::rename(temp.path(), &folder) {
            // Another pull kept the same file first: use that one.
            if self.file(&layer.sha256, &layer.title).is_none() {
                return Err(io(&folder)(e));
            }
        }
        Ok(Kept {
            folder,
            title: layer.title.clone(),
        })
    }
}

/// The error for the file `title`, `size` bytes, over `limit`.
pub(crate) fn too_large(reference: &str, title: &str, size: u64, limit: u64) -> OciError {
    OciError::TooLarge {
        reference: reference.to_owned(),
        title: title.to_owned(),
        size,
        limit,
    }
}

/// A file being downloaded: written as the bytes come, hashed, counted,
/// and failing once past its limit.
pub(crate) struct Capped {
    file: std::fs::File,
    hash: Sha256,
    written: u64,
    limit: u64,
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.written += buf.len() as u64;
        if this.written > this.limit {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "more than {} bytes",
                this.limit
            ))));
        }
        this.hash.update(buf);
        Poll::Ready(this.file.write_all(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().file.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Capped {
    /// Whether the download went past the limit (its error is then ours).
    pub(crate) fn over(&self) -> Option<(u64, u64)> {
        (self.written > self.limit).then_some((self.written, self.limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWrite;

    fn layer(bytes: &[u8]) -> FileLayer {
        FileLayer {
            descriptor: Default::default(),
            title: "m.onnx".into(),
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        }
    }

    fn write(capped: &mut Capped, bytes: &[u8]) -> std::io::Result<usize> {
        let waker = std::task::Waker::noop();
        match Pin::new(capped).poll_write(&mut Context::from_waker(waker), bytes) {
            Poll::Ready(r) => r,
            Poll::Pending => unreachable!("a file write is ready at once"),
        }
    }

    fn names(store: &Store) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(store.files())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_verified_file_is_kept_under_its_digest_and_title() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_owned());
        let layer = layer(b"model");
        let (temp, mut capped) = store.partial(&layer, 5).unwrap();
        write(&mut capped, b"model").unwrap();
        let kept = store.keep("r/m:1", &layer, temp, capped).unwrap();
        assert_eq!(std::fs::read(kept.folder.join("m.onnx")).unwrap(), b"model");
        assert_eq!(names(&store), vec![format!("{}-m.onnx", layer.sha256)]);
        assert_eq!(store.pinned_file(&layer.sha256), Some(kept.clone()));
        assert_eq!(store.file(&layer.sha256, "m.onnx"), Some(kept));
        assert!(store.file(&layer.sha256, "other.onnx").is_none());
    }

    #[test]
    fn a_mismatch_or_an_oversized_download_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_owned());
        let layer = layer(b"model");
        let (temp, mut capped) = store.partial(&layer, 100).unwrap();
        write(&mut capped, b"other").unwrap();
        let err = store.keep("r/m:1", &layer, temp, capped).unwrap_err();
        assert!(err.to_string().contains("the file's sha256 is"), "{err}");

        let (temp, mut capped) = store.partial(&layer, 3).unwrap();
        assert!(write(&mut capped, b"model").is_err());
        assert_eq!(capped.over(), Some((5, 3)));
        let err = store.keep("r/m:1", &layer, temp, capped).unwrap_err();
        assert!(
            matches!(
                err,
                OciError::TooLarge {
                    size: 5,
                    limit: 3,
                    ..
                }
            ),
            "{err}"
        );
        assert!(names(&store).is_empty(), "{:?}", names(&store));
    }
}
