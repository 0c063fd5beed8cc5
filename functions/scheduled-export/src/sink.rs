//! Where the export goes: data objects (overwritten by key) and the cursor (compare-and-swap).
//!
//! [`DirSink`] writes a local directory (for `make run`): every file is written to a temporary name
//! and renamed, and the cursor's compare-and-swap holds an OS file lock, so two processes cannot both
//! advance it. [`crate::s3::S3Sink`] is the production sink.

use async_trait::async_trait;
use std::path::{Path, PathBuf};

/// An opaque version tag of the cursor object (S3's `ETag`; a content hash in [`DirSink`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(pub String);

/// A sink operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The cursor changed since it was read (412): another run advanced it.
    #[error("cursor {key} was changed by another run")]
    CursorConflict {
        /// The cursor's key.
        key: String,
    },
    /// A local file operation failed.
    #[error("local sink: {key}")]
    Io {
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The object store refused or failed.
    #[error("object store: {op} {key}: {message}")]
    Store {
        /// The operation.
        op: &'static str,
        /// The key.
        key: String,
        /// The store's answer (code and message, no credentials).
        message: String,
    },
}

/// The export's storage.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Writes (or overwrites) one data object.
    ///
    /// # Errors
    /// The store failed.
    async fn put_object(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError>;

    /// The cursor document and its tag, `None` if there is none yet.
    ///
    /// # Errors
    /// The store failed.
    async fn get_cursor(&self, key: &str) -> Result<Option<(Vec<u8>, ETag)>, SinkError>;

    /// Writes the cursor if it is still at `expected` (`None`: only if it does not exist yet).
    ///
    /// # Errors
    /// [`SinkError::CursorConflict`] when it is not; otherwise the store failed.
    async fn put_cursor(&self, key: &str, body: Vec<u8>, expected: Option<&ETag>) -> Result<ETag, SinkError>;
}

/// A local directory.
#[derive(Debug, Clone)]
pub struct DirSink {
    root: PathBuf,
}

/// FNV-1a, 64 bits: the emulated ETag (the cursor carries a generation counter, so successive
/// documents never have the same bytes).
fn etag_of(bytes: &[u8]) -> ETag {
    tag(fnv(FNV_START, bytes))
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn tag(h: u64) -> ETag {
    ETag(format!("\"{h:016x}\""))
}

/// The tag of the file at `path` (`None`: there is none), read in small blocks: a cursor document
/// (megabytes with its identities) is never held a second time to compare its tag.
fn etag_of_file(path: &Path) -> std::io::Result<Option<ETag>> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut block = [0u8; 16 * 1024];
    let mut h = FNV_START;
    loop {
        match file.read(&mut block)? {
            0 => return Ok(Some(tag(h))),
            n => h = fnv(h, &block[..n]),
        }
    }
}

fn write_atomic(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}

impl DirSink {
    /// A sink under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        // Keys are built by the export from sanitised parts; still, never leave the root.
        let rel: PathBuf = key.split('/').filter(|s| !s.is_empty() && *s != "." && *s != "..").collect();
        self.root.join(rel)
    }

    async fn blocking<T: Send + 'static>(
        key: &str,
        f: impl FnOnce() -> Result<T, SinkError> + Send + 'static,
    ) -> Result<T, SinkError> {
        match tokio::task::spawn_blocking(f).await {
            Ok(r) => r,
            Err(e) => Err(SinkError::Io { key: key.to_string(), source: std::io::Error::other(e) }),
        }
    }
}

#[async_trait]
impl Sink for DirSink {
    async fn put_object(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError> {
        let path = self.path(key);
        let k = key.to_string();
        Self::blocking(key, move || write_atomic(&path, &body).map_err(|source| SinkError::Io { key: k, source })).await
    }

    async fn get_cursor(&self, key: &str) -> Result<Option<(Vec<u8>, ETag)>, SinkError> {
        let path = self.path(key);
        let k = key.to_string();
        Self::blocking(key, move || match std::fs::read(&path) {
            Ok(b) => {
                let tag = etag_of(&b);
                Ok(Some((b, tag)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SinkError::Io { key: k, source }),
        })
        .await
    }

    async fn put_cursor(&self, key: &str, body: Vec<u8>, expected: Option<&ETag>) -> Result<ETag, SinkError> {
        let path = self.path(key);
        let k = key.to_string();
        let expected = expected.cloned();
        Self::blocking(key, move || {
            let io = |source| SinkError::Io { key: k.clone(), source };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let mut lock_path = path.as_os_str().to_owned();
            lock_path.push(".lock");
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(PathBuf::from(lock_path))
                .map_err(io)?;
            lock.lock().map_err(io)?;
            let current = etag_of_file(&path).map_err(io)?;
            if current != expected {
                return Err(SinkError::CursorConflict { key: k.clone() });
            }
            write_atomic(&path, &body).map_err(io)?;
            // Unlocked when `lock` is dropped.
            Ok(etag_of(&body))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cursor_compare_and_swap() {
        let dir = std::env::temp_dir().join(format!("se-sink-{}", std::process::id()));
        let s = DirSink::new(&dir);
        assert!(s.get_cursor("_state/c.json").await.unwrap().is_none());
        let e1 = s.put_cursor("_state/c.json", b"one".to_vec(), None).await.unwrap();
        assert!(matches!(
            s.put_cursor("_state/c.json", b"x".to_vec(), None).await,
            Err(SinkError::CursorConflict { .. })
        ));
        let e2 = s.put_cursor("_state/c.json", b"two".to_vec(), Some(&e1)).await.unwrap();
        assert!(matches!(
            s.put_cursor("_state/c.json", b"y".to_vec(), Some(&e1)).await,
            Err(SinkError::CursorConflict { .. })
        ));
        assert_eq!(s.get_cursor("_state/c.json").await.unwrap().unwrap(), (b"two".to_vec(), e2));
        s.put_object("../../escape/a.gz", b"z".to_vec()).await.unwrap();
        assert!(dir.join("escape/a.gz").exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
