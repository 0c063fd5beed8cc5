//! Bearer-token checks shared by the Defender, Graph and Key Vault surfaces.

use crate::{
    state::Sim,
    tokens::{Claims, Resource, resource_of},
};
use axum::http::{HeaderMap, header};

/// Why a bearer token was refused (each maps to the service's own 401 wording).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a token this tenant issued (bad signature, malformed).
    Invalid,
    /// Past `exp` on the simulated clock.
    Expired,
    /// Issued for another resource.
    WrongAudience(String),
    /// Issued by another tenant.
    WrongTenant,
}

impl AuthFailure {
    /// The message the services send.
    pub fn message(&self) -> String {
        match self {
            Self::Missing => "Authorization has been denied for this request. No bearer token was sent.".into(),
            Self::Invalid => {
                "Authorization has been denied for this request. The token is malformed or its signature is invalid."
                    .into()
            }
            Self::Expired => "Authorization has been denied for this request. The token is expired.".into(),
            Self::WrongAudience(aud) => {
                format!("Authorization has been denied for this request. Invalid audience '{aud}'.")
            }
            Self::WrongTenant => {
                "Authorization has been denied for this request. The token was issued by another tenant.".into()
            }
        }
    }
}

/// Extracts and verifies the bearer token, and checks it was issued for `resource`.
///
/// # Errors
/// [`AuthFailure`] for a missing, invalid, expired, foreign or wrong-audience token.
pub fn authenticate(sim: &Sim, headers: &HeaderMap, resource: Resource) -> Result<Claims, AuthFailure> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(AuthFailure::Missing)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthFailure::Missing)?;
    let claims = sim.keys.verify(token).map_err(|_| AuthFailure::Invalid)?;
    if claims.tid != sim.tenant_id() {
        return Err(AuthFailure::WrongTenant);
    }
    if resource_of(&claims.aud) != Some(resource) {
        return Err(AuthFailure::WrongAudience(claims.aud));
    }
    if claims.exp <= sim.now().timestamp() {
        return Err(AuthFailure::Expired);
    }
    Ok(claims)
}

/// The caller named by a token, without verifying it (for the request log only).
pub fn caller_hint(headers: &HeaderMap) -> Option<String> {
    use base64::Engine;
    let token = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("upn").or_else(|| v.get("appid")).and_then(|x| x.as_str()).map(str::to_string)
}
