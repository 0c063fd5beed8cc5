//! Where the export goes: data objects (overwritten by key) and the cursor (compare-and-swap).
//!
//! [`DirSink`] writes a local directory (for `make run`): every file is written to a temporary name
//! and renamed, and the cursor's compare-and-swap holds an OS file lock, so two processes cannot both
//! advance it. [`crate::s3::S3Sink`] is the production sink.

use async_trait::async_trait;
use std::io::Write;
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

    /// [`Sink::put_cursor`] of the document `doc` writes. By default the document is written into
    /// one buffer (of [`Document::len_hint`]) and put; a sink that can take it as it is written
    /// ([`DirSink`]) never holds it whole.
    ///
    /// # Errors
    /// As [`Sink::put_cursor`]; or the document could not be written (nothing is put then).
    async fn put_cursor_doc(&self, key: &str, doc: &dyn Document, expected: Option<&ETag>) -> Result<ETag, SinkError> {
        let mut body = Vec::with_capacity(doc.len_hint());
        doc.write_to(&mut body).map_err(|source| SinkError::Io { key: key.to_string(), source })?;
        self.put_cursor(key, body, expected).await
    }
}

/// A cursor document, written on demand (it may be written more than once: a retry writes it
/// again, byte for byte).
pub trait Document: Sync {
    /// Writes the document.
    ///
    /// # Errors
    /// `out` failed, or the document could not be encoded.
    fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()>;

    /// About how many bytes it is (the last one's length): a buffer's first capacity.
    fn len_hint(&self) -> usize {
        0
    }
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
    write_atomic_with(path, |out| out.write_all(body))
}

/// Writes what `write` writes to a temporary file beside `path`, then renames it over `path`; on
/// failure the temporary file is removed and `path` is as it was.
fn write_atomic_with(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::fs::File::create(&tmp)?);
        write(&mut out)?;
        out.flush()
    })();
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            std::fs::remove_file(&tmp).ok();
            Err(e)
        }
    }
}

/// A writer that keeps the FNV-1a of what passes through it: the tag of a document written as a
/// stream, without reading it back.
struct Tagging<W> {
    inner: W,
    h: u64,
}

impl<W: Write> Write for Tagging<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.h = fnv(self.h, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The cursor's compare-and-swap at `path`, under its OS file lock: the file is replaced by what
/// `write` writes if its tag is still `expected` (`None`: it does not exist). Returns the new tag.
fn swap_cursor(
    path: &Path,
    key: &str,
    expected: Option<&ETag>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<ETag, SinkError> {
    let io = |source| SinkError::Io { key: key.to_string(), source };
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
    let current = etag_of_file(path).map_err(io)?;
    if current.as_ref() != expected {
        return Err(SinkError::CursorConflict { key: key.to_string() });
    }
    let mut h = FNV_START;
    write_atomic_with(path, |out| {
        let mut tagging = Tagging { inner: out, h: FNV_START };
        write(&mut tagging)?;
        h = tagging.h;
        Ok(())
    })
    .map_err(io)?;
    // Unlocked when `lock` is dropped.
    Ok(tag(h))
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
        Self::blocking(key, move || swap_cursor(&path, &k, expected.as_ref(), |out| out.write_all(&body))).await
    }

    /// The document goes to the file as it is written, in 64 KiB blocks: it is never held whole.
    /// The file work blocks this thread (`block_in_place` on a multi-threaded runtime, so the
    /// others go on): the document is borrowed, so it cannot move to a blocking task.
    async fn put_cursor_doc(&self, key: &str, doc: &dyn Document, expected: Option<&ETag>) -> Result<ETag, SinkError> {
        let path = self.path(key);
        let swap = || swap_cursor(&path, key, expected, |out| doc.write_to(out));
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(swap),
            _ => swap(),
        }
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

    /// Writes its text in small pieces (as `serde_json` does), failing after `fail_after` bytes.
    struct Pieces {
        text: Vec<u8>,
        fail_after: Option<usize>,
    }

    impl Document for Pieces {
        fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
            for (i, piece) in self.text.chunks(7).enumerate() {
                if self.fail_after.is_some_and(|n| i * 7 >= n) {
                    return Err(std::io::Error::other("the document failed half-way"));
                }
                out.write_all(piece)?;
            }
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_streamed_cursor_document_is_the_same_file_and_tag_as_one_put_whole() {
        let dir = std::env::temp_dir().join(format!("se-sink-doc-{}", std::process::id()));
        let s = DirSink::new(&dir);
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| format!("{i},").into_bytes()).collect();
        let whole = s.put_cursor("_state/a.json", text.clone(), None).await.unwrap();
        let doc = Pieces { text: text.clone(), fail_after: None };
        let streamed = s.put_cursor_doc("_state/b.json", &doc, None).await.unwrap();
        assert_eq!(streamed, whole, "the tag of the bytes, computed as they pass");
        assert_eq!(std::fs::read(dir.join("_state/b.json")).unwrap(), text);
        assert_eq!(s.get_cursor("_state/b.json").await.unwrap().unwrap().1, streamed);
        // Still a compare-and-swap: a stale tag or a second create is refused, nothing written.
        assert!(matches!(s.put_cursor_doc("_state/b.json", &doc, None).await, Err(SinkError::CursorConflict { .. })));
        let next = Pieces { text: b"{\"g\":2}".to_vec(), fail_after: None };
        let e2 = s.put_cursor_doc("_state/b.json", &next, Some(&streamed)).await.unwrap();
        assert!(matches!(
            s.put_cursor_doc("_state/b.json", &next, Some(&streamed)).await,
            Err(SinkError::CursorConflict { .. })
        ));
        // A document that fails half-way leaves the committed one, and no temporary file.
        let broken = Pieces { text: text.clone(), fail_after: Some(100_000) };
        assert!(matches!(s.put_cursor_doc("_state/b.json", &broken, Some(&e2)).await, Err(SinkError::Io { .. })));
        assert_eq!(s.get_cursor("_state/b.json").await.unwrap().unwrap(), (b"{\"g\":2}".to_vec(), e2.clone()));
        let names: Vec<String> = std::fs::read_dir(dir.join("_state"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
        // On a current-thread runtime too (no block_in_place there).
        let e3 = tokio::task::spawn_blocking({
            let s = s.clone();
            move || {
                tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
                    s.put_cursor_doc("_state/b.json", &Pieces { text: b"3".to_vec(), fail_after: None }, Some(&e2))
                        .await
                })
            }
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(s.get_cursor("_state/b.json").await.unwrap().unwrap(), (b"3".to_vec(), e3));
        std::fs::remove_dir_all(&dir).ok();
    }
}
