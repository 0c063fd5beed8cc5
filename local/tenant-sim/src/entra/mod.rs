//! Entra ID (stand-in): the v2 token endpoint, the device-code endpoint, the v1 token endpoint the
//! Defender samples use, OIDC discovery and JWKS — answering like `login.microsoftonline.com` does
//! (`contract/defender-api/auth.*.json`).
//!
//! # Routes
//! | route | what |
//! |---|---|
//! | `POST /{tenant}/oauth2/v2.0/token` | `client_credentials` (secret, certificate or federated assertion), `device_code`, `refresh_token` |
//! | `POST /{tenant}/oauth2/v2.0/devicecode` | starts a device-code sign-in (public clients only) |
//! | `POST /{tenant}/oauth2/token` | v1: `client_credentials` with `resource=` instead of `scope=` (the XDR PowerShell/Python samples); answers in the v1 shape (`expires_in`, `ext_expires_in`, `expires_on`, `not_before` as strings, plus `resource`) |
//! | `GET /{tenant}/v2.0/.well-known/openid-configuration` | OIDC metadata pointing at this simulator |
//! | `GET /{tenant}/discovery/v2.0/keys`, `GET /common/discovery/v2.0/keys` | `{"keys":[<the signing key>]}` |
//!
//! `{tenant}` must be the seed's tenant id (case-insensitive); the simulator has no verified domains, so
//! `contoso.onmicrosoft.com`, `common` or `organizations` on the token endpoints are unknown tenants.
//!
//! # Tokens
//! Access tokens are the simulator's RS256 JWTs ([`crate::tokens::Claims`]): `aud` is the resource's App ID
//! URI as spelled in [`crate::tokens::RESOURCES`], `iss` is [`Sim::issuer`], `iat`/`nbf` now and `exp` now +
//! [`LIFETIME_S`] on the simulated clock. Application tokens (`idtyp` `app`) carry the app's seeded `roles`
//! that belong to the requested API only (none for Key Vault: vault access is the app's `vault_access`
//! flag, checked by the vault). Delegated tokens (`idtyp` `user`) carry `scp`: the user's seeded
//! permissions of that API, space-separated (`user_impersonation` for Key Vault), and `upn`. `oid`/`sub`
//! are GUIDs derived from the client id (apps) or the UPN (users), stable across restarts.
//!
//! A delegated grant whose scope held `openid` also answers an `id_token` (v2.0: `aud` the client id,
//! `tid`, pairwise `sub`; with `profile` also `oid`, `preferred_username`, `name`), as the device-code
//! and refresh responses of Entra do.
//!
//! # Client authentication (`client_credentials`, and confidential clients on `refresh_token`)
//! - `client_secret` in the form, or HTTP Basic (`base64(urlencode(id):urlencode(secret))`, RFC 6749 §2.3.1).
//! - `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` + `client_assertion`:
//!   - app with `certificate_pem`: RS256/PS256 JWT whose header's `x5t#S256` (or `x5t`, SHA-1) is the
//!     registered certificate's thumbprint, signed by its key; `aud` = the token URL, `iss` = `sub` =
//!     client id, `exp` in the future, `nbf` not more than 5 minutes ahead, lifetime at most a day, a
//!     `jti` never seen before (kept until the assertion's `exp`).
//!   - app with `federated`: a JWT from that issuer, verified against its JWKS (inline `jwks`, or fetched
//!     from `jwks_url`, or from the issuer's `/.well-known/openid-configuration`). When the keys live on
//!     this simulator's own test issuer (`{base}/_sim/issuer`), the simulator's key is used directly
//!     instead of calling itself. `iss`, `sub` and `aud` must match the credential exactly. Federated
//!     tokens may be presented more than once (Kubernetes reuses its projected token), so no `jti` check.
//!
//! # Errors (HTTP status, `error`, AADSTS)
//! | failure | answer |
//! |---|---|
//! | tenant not this seed's | 400 `invalid_request` 90002 |
//! | body not form-encoded, or no `grant_type` | 400 `invalid_request` 900144 |
//! | a missing parameter (`client_id`, `scope`, `device_code`, `refresh_token`, `resource` on v1) | 400 `invalid_request` 900144 |
//! | a parameter given twice | 400 `invalid_request` 9000411 |
//! | unknown `grant_type` | 400 `unsupported_grant_type` 70003 |
//! | `resource=` on v2 | 400 `invalid_request` 901002 |
//! | scope not `<resource>/.default` (client credentials), or `openid`… there | 400 `invalid_scope` 1002012 |
//! | scope naming two resources | 400 `invalid_scope` 700022 |
//! | resource not known | 400 `invalid_resource` 500011 |
//! | unknown client | 400 `unauthorized_client` 700016 |
//! | no credential | 401 `invalid_client` 7000218 |
//! | a confidential app on `/devicecode` | 400 `invalid_client` 7000218 |
//! | a public client presenting a credential | 400 `invalid_client` 700025 |
//! | several credentials, Basic/form `client_id` mismatch, malformed Basic header, bad assertion type | 400 `invalid_request` 9002313 |
//! | wrong secret | 401 `invalid_client` 7000215 |
//! | assertion not a JWT | 400 `invalid_request` 50027 |
//! | assertion signature invalid, key not found, algorithm not RS256/PS256 | 401 `invalid_client` 700027 |
//! | thumbprint not the registered certificate's; wrong `aud`; `iss`/`sub` not the client id; replayed `jti` | 401 `invalid_client` 50012 |
//! | assertion missing `exp` or `jti` | 400 `invalid_request` 90014 |
//! | assertion expired, not yet valid, or lifetime over a day | 401 `invalid_client` 700024 |
//! | federated: issuer not the credential's | 401 `invalid_client` 700211 |
//! | federated: subject or audience mismatch, or a credential still propagating (before its `visible_from`) | 400 `invalid_request` 70021 |
//! | federated: the issuer's keys cannot be fetched | 401 `invalid_client` 50166 |
//! | device code: pending / polled faster than `interval` | 400 `authorization_pending` / `slow_down`, 70016 |
//! | device code: past `expires_in` | 400 `expired_token` 70020 |
//! | device code: user declined | 400 `authorization_declined` 70000 |
//! | device code: unknown | 400 `invalid_grant` 9002313 |
//! | device code: already redeemed, or another client's | 400 `invalid_grant` 70000 |
//! | refresh token: unknown | 400 `invalid_grant` 9002313 |
//! | refresh token: another client's | 400 `invalid_grant` 70000 |
//! | refresh token: already redeemed | accepted again: Entra rotates refresh tokens but does not revoke the old one |
//! | refresh token: past its 90 days | 400 `invalid_grant` 70008 |
//! | signing failure (not expected) | 500 `server_error` 50000 |
//!
//! Secrets, assertions and tokens are never logged; logs name the client id only.

use crate::{
    errors::EntraError,
    seed::{AppReg, Federated},
    spec::Api,
    state::{DeviceCode, RefreshGrant, Sim, lock},
    tokens::{Claims, LIFETIME_S, RESOURCES, Resource},
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::Rng;
use serde_json::{Value, json};
use sha2::Digest;
use std::{collections::HashMap, sync::Arc};

mod client_auth;
mod device_code;
mod discovery;
#[cfg(test)]
mod tests;
mod token;

use client_auth::*;
use device_code::*;
use discovery::*;
use token::*;

pub use token::user_oid;

/// `client_assertion_type` for JWT client assertions (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The device-code grant type (RFC 8628).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Where users enter their device code.
pub const VERIFICATION_URI: &str = "https://microsoft.com/devicelogin";
/// Device codes live this long.
pub const DEVICE_CODE_LIFETIME_S: i64 = 900;
/// Minimum seconds between device-code polls.
pub const DEVICE_CODE_INTERVAL_S: i64 = 5;
/// Refresh tokens expire after this many days.
pub const REFRESH_LIFETIME_DAYS: i64 = 90;
/// Allowed clock skew for an assertion's `nbf`.
const SKEW_S: i64 = 300;
/// Longest accepted client-assertion lifetime.
const MAX_ASSERTION_LIFETIME_S: i64 = 86_400;

/// The Entra routes.
pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token_v2))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .route("/{tenant}/oauth2/token", post(token_v1))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(openid_configuration))
        .route("/{tenant}/discovery/v2.0/keys", get(tenant_keys))
        .route("/common/discovery/v2.0/keys", get(common_keys))
}

type EResult<T> = Result<T, EntraError>;

fn bad_request(error: &'static str, code: u32, msg: impl Into<String>) -> EntraError {
    EntraError::new(StatusCode::BAD_REQUEST, error, code, msg)
}

fn unauthorized(code: u32, msg: impl Into<String>) -> EntraError {
    EntraError::new(StatusCode::UNAUTHORIZED, "invalid_client", code, msg)
}

fn missing(name: &str) -> EntraError {
    bad_request("invalid_request", 900_144, format!("The request body must contain the following parameter: '{name}'."))
}

fn malformed(msg: &str) -> EntraError {
    bad_request("invalid_request", 9_002_313, format!("Invalid request. Request is malformed or invalid. {msg}"))
}

fn unknown_grant(msg: &str) -> EntraError {
    bad_request("invalid_grant", 9_002_313, format!("Invalid request. Request is malformed or invalid. {msg}"))
}

/// AADSTS70000, `invalid_grant`: a grant that exists but cannot be redeemed (`msg` says why).
fn malformed_grant(msg: &str) -> EntraError {
    bad_request("invalid_grant", 70_000, format!("Provided grant is invalid or malformed. {msg}"))
}

fn server_error() -> EntraError {
    EntraError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", 50_000, "There was an error issuing a token.")
}

/// The form parameters of a token request.
struct Form(HashMap<String, String>);

impl Form {
    /// Parses a form-encoded body; any other content type reads as an empty form (as Entra does, which
    /// then misses `grant_type`). A repeated parameter is refused.
    fn parse(headers: &HeaderMap, body: &[u8]) -> EResult<Self> {
        let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let is_form = ct.is_empty()
            || ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        let mut map = HashMap::new();
        if is_form {
            for (k, v) in url::form_urlencoded::parse(body) {
                if map.insert(k.to_string(), v.into_owned()).is_some() {
                    return Err(bad_request(
                        "invalid_request",
                        9_000_411,
                        format!("The request is not properly formatted. The parameter '{k}' is duplicated."),
                    ));
                }
            }
        }
        Ok(Self(map))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn need(&self, name: &str) -> EResult<&str> {
        self.get(name).ok_or_else(|| missing(name))
    }
}

/// The tenant segment of the path, checked against the seed.
fn check_tenant(sim: &Sim, uri: &Uri) -> EResult<String> {
    let segment = uri.path().trim_start_matches('/').split('/').next().unwrap_or_default();
    let tenant = crate::spec::percent_decode(segment);
    if tenant.eq_ignore_ascii_case(&sim.tenant_id()) {
        Ok(tenant)
    } else {
        Err(bad_request(
            "invalid_request",
            90_002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        ))
    }
}

fn respond(sim: &Sim, result: EResult<Value>) -> Response {
    match result {
        Ok(body) => {
            let mut resp = (StatusCode::OK, Json(body)).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store, no-cache"));
            resp
        }
        Err(e) => e.render(sim.now()),
    }
}
