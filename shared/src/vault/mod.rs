//! App secrets: Azure Key Vault through the official SDK, a local file store, and a TTL cache.
//!
//! - [`KeyVaultStore`] — Azure Key Vault through Microsoft's official Azure SDK for Rust
//!   (`azure_security_keyvault_secrets::SecretClient` on `azure_core` 1.x), over our one reqwest client.
//!   The older `azure_security_keyvault` crate is deliberately not used: it is the unofficial, community
//!   predecessor, frozen at 0.21 and marked as abandoned in its own README, so it gets no security fixes
//!   and speaks an older `azure_core`. See [`keyvault`] for the local-mode relaxation of the challenge check.
//! - [`FileStore`] — a local JSON file `{ "name": "value" }` for development (`make run`).
//! - [`CachedStore`] — a TTL cache (default 5 minutes) with single-flight per name in front of either.
//!
//! A function builds `CachedStore<KeyVaultStore>` (or `CachedStore<FileStore>` locally) once per cold
//! start. The auth layer reads secrets with [`SecretStore::get`], and calls [`SecretStore::get_fresh`] once
//! when Entra says the secret it used is invalid (the secret was rotated in the vault).
//!
//! Secret values are [`SecretString`]s: nothing here formats or logs one, and no error carries one. Errors
//! name the vault, the secret or the file, never the value.

use crate::secret::SecretString;
use futures::future::BoxFuture;
use std::{path::PathBuf, sync::Arc};

pub mod cache;
pub mod file;
pub mod keyvault;

pub use cache::CachedStore;
pub use file::FileStore;
pub use keyvault::KeyVaultStore;

/// Why a secret could not be read or written.
///
/// `Clone` (sources are behind `Arc`) so that one failed read can be handed to every caller that waited
/// on it (see [`CachedStore`]).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No secret of that name.
    #[error("secret {0} not found")]
    NotFound(String),
    /// The store refused or failed.
    #[error("secret store failed: {0}")]
    Store(String),
    /// The caller may not read or write the secret (Key Vault 401 or 403).
    #[error("access to secret {name} in key vault {vault} denied (status {status})")]
    AccessDenied {
        /// The vault URL.
        vault: String,
        /// The secret name.
        name: String,
        /// 401 or 403.
        status: u16,
    },
    /// Key Vault answered with another error status.
    #[error("key vault {vault} answered {status} for secret {name}{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Http {
        /// The vault URL.
        vault: String,
        /// The secret name.
        name: String,
        /// The HTTP status.
        status: u16,
        /// The service's error code, when it sent one.
        code: Option<String>,
    },
    /// The request never got an answer from Key Vault: connection, TLS, credential or challenge failure.
    #[error("key vault {vault} request for secret {name} failed")]
    Unavailable {
        /// The vault URL.
        vault: String,
        /// The secret name.
        name: String,
        /// What the SDK said.
        #[source]
        source: Arc<azure_core::Error>,
    },
    /// Key Vault did not answer within the read budget (its retries included).
    #[error("key vault {vault} did not answer for secret {name} within {budget_ms} ms")]
    TimedOut {
        /// The vault URL.
        vault: String,
        /// The secret name.
        name: String,
        /// The budget, milliseconds.
        budget_ms: u64,
    },
    /// Not a valid Key Vault secret name (1–127 of `0-9`, `a-z`, `A-Z`, `-`).
    #[error("invalid secret name {0:?}")]
    InvalidName(String),
    /// The secrets file could not be read or written.
    #[error("secrets file {path} cannot be {action}", path = path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// `read` or `written`.
        action: &'static str,
        /// The I/O error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The secrets file is not a JSON object of strings.
    #[error("secrets file {path} is invalid: {reason}", path = path.display())]
    FileFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong (never a value).
        reason: String,
    },
}

impl VaultError {
    /// The HTTP status, when the store answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::AccessDenied { status, .. } | Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the same call may succeed later (throttling, a server error, no answer at all).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Http { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            Self::Unavailable { .. } | Self::TimedOut { .. } => true,
            _ => false,
        }
    }
}

/// Reads every named secret that can be read — signing keys, the current one first, then those being
/// rotated out. A name that cannot be read is logged (name and error, never a value) and skipped.
///
/// # Errors
/// When **no** name could be read and at least one failure was retryable (the store is unavailable:
/// throttled, 5xx, no answer), that error: the caller should answer 503 with `Retry-After` rather than
/// refuse the request as unsigned. When every failure was permanent (not found, access denied) the
/// result is `Ok` with no keys, and verification fails as it should.
pub async fn read_keys(store: &dyn SecretStore, names: &[String]) -> Result<Vec<SecretString>, VaultError> {
    let mut keys = Vec::with_capacity(names.len());
    let mut unavailable = None;
    for name in names {
        match store.get(name).await {
            Ok(s) => keys.push(s),
            Err(e) => {
                tracing::warn!(secret = %name, error = %e, "signing secret unavailable");
                if e.is_retryable() && unavailable.is_none() {
                    unavailable = Some(e);
                }
            }
        }
    }
    match unavailable {
        Some(e) if keys.is_empty() => Err(e),
        _ => Ok(keys),
    }
}

/// A place app secrets live.
pub trait SecretStore: Send + Sync + 'static {
    /// The current value (may be served from a cache).
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>>;
    /// The current value, bypassing every cache (after Entra said the cached one is invalid).
    fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>>;
    /// Writes a new version (rotated refresh tokens).
    fn set<'a>(&'a self, name: &'a str, value: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>>;
}

/// A store that holds the secrets itself (the file and Key Vault stores): reads and writes as plain
/// futures. The one [`SecretStore`] adapter below boxes them; with no cache of its own, its
/// `get_fresh` is its `get`.
pub(crate) trait Backend: Send + Sync + 'static {
    /// Reads the current value.
    fn read(&self, name: &str) -> impl Future<Output = Result<SecretString, VaultError>> + Send;
    /// Writes a new version.
    fn write(&self, name: &str, value: &SecretString) -> impl Future<Output = Result<(), VaultError>> + Send;
}

impl<B: Backend> SecretStore for B {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        Box::pin(self.read(name))
    }

    fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        Box::pin(self.read(name))
    }

    fn set<'a>(&'a self, name: &'a str, value: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
        Box::pin(self.write(name, value))
    }
}

impl<S: SecretStore + ?Sized> SecretStore for Arc<S> {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        (**self).get(name)
    }

    fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        (**self).get_fresh(name)
    }

    fn set<'a>(&'a self, name: &'a str, value: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
        (**self).set(name, value)
    }
}

/// Checks a name against Key Vault's rule (1–127 of `0-9`, `a-z`, `A-Z`, `-`). The SDK pastes the name
/// into the URL path unescaped, so anything else must never reach it.
///
/// # Errors
/// [`VaultError::InvalidName`].
pub fn check_name(name: &str) -> Result<(), VaultError> {
    if is_secret_name(name) { Ok(()) } else { Err(VaultError::InvalidName(name.to_string())) }
}

/// The secret-name rule (Key Vault's, which every store here follows): 1-127 ASCII letters, digits
/// and `-`.
pub fn is_secret_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// [`is_secret_name`] in words, for error messages.
pub const SECRET_NAME_RULE: &str = "a Key Vault secret name (1-127 letters, digits and '-')";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_key_vault_rules() {
        assert!(check_name("defender-client-secret").is_ok());
        assert!(check_name(&"a".repeat(127)).is_ok());
        for bad in ["", "a/b", "../x", "a b", "a_b", "a?x=1", &"a".repeat(128)] {
            assert!(matches!(check_name(bad), Err(VaultError::InvalidName(_))), "{bad}");
        }
    }

    #[test]
    fn retryable_and_status() {
        let http = |status| VaultError::Http { vault: "v".into(), name: "n".into(), status, code: None };
        assert!(http(429).is_retryable());
        assert!(http(503).is_retryable());
        assert!(!http(400).is_retryable());
        assert_eq!(http(400).status(), Some(400));
        assert!(!VaultError::NotFound("n".into()).is_retryable());
        let denied = VaultError::AccessDenied { vault: "https://v".into(), name: "n".into(), status: 403 };
        assert_eq!(denied.status(), Some(403));
        assert!(!denied.is_retryable());
    }
}
