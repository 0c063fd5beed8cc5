//! A local JSON file of secrets, for development: `{ "name": "value", ... }`.
//!
//! Every `get` reads the file (put a [`CachedStore`](super::CachedStore) in front to avoid that), so an
//! edit shows up without a restart. `set` rewrites the whole file atomically: it writes a temporary file
//! next to it (mode 0600 on Unix), flushes it to disk and renames it over the original, so a reader sees
//! either the old file or the new one, never half of one. Names it does not know — and non-string
//! values — are kept as they were, in their order. Writes within one process are serialized; two
//! processes writing the same file at once may lose one update (a development store, not a database).
//!
//! A missing file, or one that is not a JSON object, is an error naming the path, never a value.

use super::VaultError;
use crate::secret::SecretString;
use serde_json::{Map, Value};
use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

/// Secrets in a local JSON file.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    /// Serializes read-modify-write cycles of `set`.
    write_lock: tokio::sync::Mutex<()>,
}

impl FileStore {
    /// A store over the file at `path`, which must exist and hold a JSON object (checked now, so a
    /// misconfigured path fails at start-up rather than at the first secret).
    ///
    /// # Errors
    /// [`VaultError::File`] if the file cannot be read; [`VaultError::FileFormat`] if it is not a JSON
    /// object.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, VaultError> {
        let store = Self { path: path.into(), write_lock: tokio::sync::Mutex::new(()) };
        store.load().await?;
        Ok(store)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn load(&self) -> Result<Map<String, Value>, VaultError> {
        let bytes = tokio::fs::read(&self.path).await.map_err(|e| VaultError::File {
            path: self.path.clone(),
            action: "read",
            source: Arc::new(e),
        })?;
        parse(&self.path, &bytes)
    }
}

impl super::Backend for FileStore {
    async fn read(&self, name: &str) -> Result<SecretString, VaultError> {
        let mut map = self.load().await?;
        match map.remove(name) {
            Some(Value::String(s)) => Ok(SecretString::new(s)),
            Some(_) => Err(VaultError::FileFormat {
                path: self.path.clone(),
                reason: format!("the value of {name} is not a string"),
            }),
            None => Err(VaultError::NotFound(name.to_string())),
        }
    }

    async fn write(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        let _guard = self.write_lock.lock().await;
        let mut map = self.load().await?;
        map.insert(name.to_string(), Value::String(value.expose().to_string()));
        let bytes = serde_json::to_vec_pretty(&map).map_err(|_| VaultError::FileFormat {
            path: self.path.clone(),
            reason: "cannot encode the secrets as JSON".into(),
        })?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || replace_atomically(&path, &bytes))
            .await
            .map_err(|_| VaultError::Store(format!("writing secrets file {} was interrupted", self.path.display())))?
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Map<String, Value>, VaultError> {
    // serde_json's syntax errors name a line and column only; type errors could quote a value, so the
    // shape is checked here rather than by deserializing into a map directly.
    let value: Value = serde_json::from_slice(bytes).map_err(|e| VaultError::FileFormat {
        path: path.to_path_buf(),
        reason: format!("not JSON (line {}, column {})", e.line(), e.column()),
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(VaultError::FileFormat {
            path: path.to_path_buf(),
            reason: "expected a JSON object of name to value".into(),
        }),
    }
}

fn replace_atomically(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let io = |source: std::io::Error| VaultError::File {
        path: path.to_path_buf(),
        action: "written",
        source: Arc::new(source),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.{}.tmp", std::process::id(), rand::random::<u64>()));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::SecretStore;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("vault-file-{}-{}", std::process::id(), rand::random::<u64>()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test]
    async fn reads_writes_and_keeps_unknown_names() {
        let dir = TempDir::new();
        let path = dir.0.join("secrets.json");
        std::fs::write(&path, r#"{"keep-me": "k", "n": 5, "client-secret": "old"}"#).unwrap();
        let store = FileStore::open(&path).await.unwrap();
        assert_eq!(store.get("client-secret").await.unwrap().expose(), "old");

        store.set("client-secret", &SecretString::new("new")).await.unwrap();
        store.set("refresh-token", &SecretString::new("rt")).await.unwrap();

        assert_eq!(store.get_fresh("client-secret").await.unwrap().expose(), "new");
        assert_eq!(store.get("refresh-token").await.unwrap().expose(), "rt");
        let on_disk: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let keys: Vec<&str> = on_disk.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["keep-me", "n", "client-secret", "refresh-token"]);
        assert_eq!(on_disk["keep-me"], "k");
        assert_eq!(on_disk["n"], 5);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn concurrent_sets_lose_nothing() {
        let dir = TempDir::new();
        let path = dir.0.join("s.json");
        std::fs::write(&path, "{}").unwrap();
        let store = FileStore::open(&path).await.unwrap();
        let values: Vec<SecretString> = (0..20).map(|i| SecretString::new(format!("v{i}"))).collect();
        let names: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
        futures::future::try_join_all(names.iter().zip(&values).map(|(n, v)| store.set(n, v))).await.unwrap();
        for (n, v) in names.iter().zip(&values) {
            assert_eq!(store.get(n).await.unwrap().expose(), v.expose());
        }
    }

    #[tokio::test]
    async fn errors_name_the_path_and_never_the_value() {
        let dir = TempDir::new();
        let missing = dir.0.join("missing.json");
        let e = FileStore::open(&missing).await.unwrap_err();
        assert!(matches!(e, VaultError::File { action: "read", .. }), "{e:?}");
        assert!(e.to_string().contains("missing.json"), "{e}");

        let bad = dir.0.join("bad.json");
        std::fs::write(&bad, r#"{"a": "hunter2-secret""#).unwrap();
        let e = FileStore::open(&bad).await.unwrap_err();
        assert!(matches!(e, VaultError::FileFormat { .. }), "{e:?}");
        assert!(e.to_string().contains("bad.json") && !e.to_string().contains("hunter2"), "{e}");

        let not_object = dir.0.join("str.json");
        std::fs::write(&not_object, r#""hunter2-secret""#).unwrap();
        let e = FileStore::open(&not_object).await.unwrap_err();
        assert!(e.to_string().contains("str.json") && !e.to_string().contains("hunter2"), "{e}");

        let ok = dir.0.join("ok.json");
        std::fs::write(&ok, r#"{"n": 1}"#).unwrap();
        let store = FileStore::open(&ok).await.unwrap();
        assert!(matches!(store.get("absent").await, Err(VaultError::NotFound(n)) if n == "absent"));
        assert!(matches!(store.get("n").await, Err(VaultError::FileFormat { .. })));
        // A file that went bad after start-up: `set` refuses rather than overwrite it.
        std::fs::write(&ok, "not json").unwrap();
        assert!(matches!(store.set("x", &SecretString::new("v")).await, Err(VaultError::FileFormat { .. })));
        assert_eq!(std::fs::read_to_string(&ok).unwrap(), "not json");
    }
}
