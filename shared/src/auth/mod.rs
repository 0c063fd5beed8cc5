//! Tokens from Entra ID, in application and user context.
//!
//! [`TokenProvider`] hands out access tokens per (tenant, scope) from Entra ID v2
//! (`{authority}/{tenant_id}/oauth2/v2.0/token`) for every credential a tenant can have
//! ([`CredentialKind`]): a client secret, a certificate (a `private_key_jwt` assertion we sign, no
//! OpenSSL), a federated assertion (a rotated token file, or AWS STS `GetWebIdentityToken` behind the
//! `aws-sts` feature), or a user's refresh token kept in the vault (signed in once with
//! [`device_code_login`]). Secret material comes from a [`crate::vault::SecretStore`] or inline.
//!
//! # Layout
//! - [`credential`] — `TenantCredential`, `CredentialKind`, `Material`.
//! - [`assertion`] — federated assertion sources; the certificate `client_assertion` JWT.
//! - [`cache`] — one slot per (tenant, client, scope): refresh-ahead and single-flight.
//! - [`provider`] — `TokenProvider`: the token endpoint, rotation of vault material, user context.
//! - [`device_code`] — `device_code_login` (for `defender-functions login`) and the refresh grant.
//! - [`error`] — what Entra said (`error`, AADSTS codes, trace id) and what to fix.
//! - [`azure`] — `azure_core` `TokenCredential` over the same provider, for the Key Vault SDK.
//!
//! # What is not here
//! PFX/PKCS#12 certificates (convert to PEM: `openssl pkcs12 -in app.pfx -nodes`), encrypted private
//! keys, and confidential clients in user context (the delegated flow uses a public client).

pub mod assertion;
pub mod azure;
pub mod cache;
pub mod credential;
pub mod device_code;
pub mod error;
pub mod provider;

pub use crate::clock::{Clock, SystemClock};
pub use assertion::{AssertionSource, FetchAssertion};
pub use azure::ProviderCredential;
pub use credential::{CredentialKind, Material, TenantCredential};
pub use device_code::{
    DeviceCodeLogin, DeviceCodePrompt, DeviceCodeStarted, DevicePoll, DeviceRedeem, LoginOutcome, Redeemed,
    SignedInUser, device_code_begin, device_code_login, device_code_poll, device_code_redeem,
};
pub use error::{AuthError, EntraCause, EntraRefusal, RequestContext};
pub use provider::TokenProvider;

use crate::{ids::TenantName, secret::SecretString};
use base64::Engine;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::Deserialize;

/// Used when a token response has no `expires_in` (Entra always sends it). Here, beside
/// [`AccessToken`], so the client-credentials grant ([`provider`]) and the refresh and device-code
/// grants ([`device_code`]) share it without either importing the other: `provider` calls
/// `device_code::refresh_grant`, and nothing in `device_code` reaches back into `provider`.
pub(crate) const DEFAULT_LIFETIME_S: i64 = 3600;

/// A bearer token and when it expires.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token; never printed.
    pub secret: SecretString,
    /// Expiry, from `expires_in`.
    pub expires_at: DateTime<Utc>,
}

/// What a token says about itself, read WITHOUT verifying its signature: for diagnostics (the doctor's
/// self-check: "does the token carry the permission the call needs?"), never for access decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenClaims {
    /// Audience (the resource's App ID URI).
    pub aud: Option<String>,
    /// Tenant id.
    pub tid: Option<String>,
    /// The client application (`appid`, or `azp` in v2 tokens).
    pub appid: Option<String>,
    /// `app` or `user`.
    pub idtyp: Option<String>,
    /// Application permissions (`roles`).
    pub roles: Vec<String>,
    /// Delegated permissions (`scp`, split on spaces).
    pub scp: Vec<String>,
    /// The signed-in user, for delegated tokens.
    pub upn: Option<String>,
    /// Expiry (seconds since the epoch).
    pub exp: Option<i64>,
}

impl TokenClaims {
    /// Whether the token carries `permission` as an application role or a delegated scope.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.roles.iter().chain(&self.scp).any(|p| p.eq_ignore_ascii_case(permission))
    }
}

/// The JSON payload of a JWT, read WITHOUT verifying its signature; `None` when `token` is not a JWT
/// with a payload of that shape.
pub(crate) fn jwt_payload<T: serde::de::DeserializeOwned>(token: &str) -> Option<T> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[derive(Deserialize)]
struct RawClaims {
    aud: Option<serde_json::Value>,
    tid: Option<String>,
    appid: Option<String>,
    azp: Option<String>,
    idtyp: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    scp: Option<String>,
    upn: Option<String>,
    exp: Option<i64>,
}

impl AccessToken {
    /// The token's claims, decoded without verification (see [`TokenClaims`]).
    ///
    /// # Errors
    /// [`AuthError::TokenUnreadable`] when the token is not a JWT with a JSON payload (some resources
    /// issue opaque tokens).
    pub fn claims(&self) -> Result<TokenClaims, AuthError> {
        let raw: RawClaims = jwt_payload(self.secret.expose()).ok_or(AuthError::TokenUnreadable)?;
        let aud = match raw.aud {
            Some(serde_json::Value::String(a)) => Some(a),
            Some(serde_json::Value::Array(list)) => list.first().and_then(|v| v.as_str()).map(str::to_string),
            _ => None,
        };
        Ok(TokenClaims {
            aud,
            tid: raw.tid,
            appid: raw.appid.or(raw.azp),
            idtyp: raw.idtyp,
            roles: raw.roles,
            scp: raw.scp.map(|s| s.split_whitespace().map(str::to_string).collect()).unwrap_or_default(),
            upn: raw.upn,
            exp: raw.exp,
        })
    }

    /// Checks that the token carries `permission` (an application role or a delegated scope).
    ///
    /// # Errors
    /// [`AuthError::MissingPermission`] naming the app, the tenant, the permission and what the token
    /// holds; [`AuthError::TokenUnreadable`] for an opaque token.
    pub fn require_permission(&self, permission: &str) -> Result<(), AuthError> {
        let claims = self.claims()?;
        if claims.has_permission(permission) {
            return Ok(());
        }
        let delegated = claims.idtyp.as_deref() == Some("user") || !claims.scp.is_empty();
        let held = if delegated { claims.scp.clone() } else { claims.roles.clone() };
        Err(AuthError::MissingPermission {
            permission: permission.to_string(),
            app: claims.appid.unwrap_or_else(|| "?".into()),
            tenant: claims.tid.unwrap_or_else(|| "?".into()),
            resource: claims.aud.unwrap_or_else(|| "?".into()),
            delegated,
            held,
        })
    }
}

/// Something that hands out bearer tokens per (tenant, scope).
pub trait TokenSource: Send + Sync + 'static {
    /// A token for `scope` (`<resource>/.default`) in `tenant`.
    fn token<'a>(&'a self, tenant: &'a TenantName, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>>;
}
