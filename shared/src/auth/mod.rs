//! Tokens from Entra ID, in application and user context. (The auth work fills this module; the seam
//! below is what the rest of the crate codes against.)

use crate::{ids::TenantName, secret::SecretString};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

/// A bearer token and when it expires.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token; never printed.
    pub secret: SecretString,
    /// Expiry, from `expires_in`.
    pub expires_at: DateTime<Utc>,
}

/// Why a token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Entra refused the request.
    #[error("entra id refused the token request: {error} (AADSTS{aadsts})")]
    Entra {
        /// OAuth error code.
        error: String,
        /// The AADSTS number.
        aadsts: u32,
    },
    /// The tenant is not in the registry.
    #[error("unknown tenant {0}")]
    UnknownTenant(String),
    /// Transport failure.
    #[error("token request failed")]
    Http(#[source] reqwest::Error),
}

/// Something that hands out bearer tokens per (tenant, scope).
pub trait TokenSource: Send + Sync + 'static {
    /// A token for `scope` (`<resource>/.default`) in `tenant`.
    fn token<'a>(&'a self, tenant: &'a TenantName, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>>;
}
