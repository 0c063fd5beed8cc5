//! App secrets: Azure Key Vault through the official SDK, a local file store, and a TTL cache.
//! (The vault work fills this module; the seam below is what the rest of the crate codes against.)

use crate::secret::SecretString;
use futures::future::BoxFuture;

/// Why a secret could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No secret of that name.
    #[error("secret {0} not found")]
    NotFound(String),
    /// The store refused or failed.
    #[error("secret store failed: {0}")]
    Store(String),
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
