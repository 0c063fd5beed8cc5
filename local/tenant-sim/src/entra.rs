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

// ---------------------------------------------------------------------------------------------------
// Scopes and resources
// ---------------------------------------------------------------------------------------------------

/// A requested scope string, resolved to one resource.
#[derive(Debug, Clone)]
struct Scope {
    /// The resource's App ID URI as the table spells it.
    resource: &'static str,
    kind: Resource,
    offline: bool,
    /// `openid` was asked for: the answer carries an ID token.
    openid: bool,
    /// `profile` was asked for: the ID token carries `oid`, `preferred_username` and `name`.
    profile: bool,
}

/// The canonical App ID URI for a requested resource.
fn canonical_resource(requested: &str) -> Option<(&'static str, Resource)> {
    let r = requested.trim_end_matches('/');
    RESOURCES.iter().find(|(uri, _)| uri.eq_ignore_ascii_case(r)).map(|(uri, kind)| (*uri, *kind))
}

fn unknown_resource(sim: &Sim, resource: &str) -> EntraError {
    bad_request(
        "invalid_resource",
        500_011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            sim.tenant_id()
        ),
    )
}

/// A client-credentials scope that is not `<resource>/.default`: Entra answers AADSTS1002012 today
/// (it answered 70011 before).
fn invalid_client_credentials_scope(scope: &str) -> EntraError {
    bad_request(
        "invalid_scope",
        1_002_012,
        format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        ),
    )
}

/// Parses `scope`: client credentials need exactly `<resource>/.default`; delegated flows accept
/// `<resource>/.default`, `<resource>/<Permission>`, bare Graph permissions and the OIDC scopes.
fn parse_scope(sim: &Sim, raw: &str, delegated: bool) -> EResult<Scope> {
    let mut found: Option<(&'static str, Resource)> = None;
    let mut offline = false;
    let (mut openid, mut profile) = (false, false);
    let mut any = false;
    for item in raw.split_whitespace() {
        any = true;
        let lower = item.to_ascii_lowercase();
        if matches!(lower.as_str(), "openid" | "profile" | "email" | "offline_access") {
            if !delegated {
                return Err(invalid_client_credentials_scope(item));
            }
            offline |= lower == "offline_access";
            openid |= lower == "openid";
            profile |= lower == "profile";
            continue;
        }
        let resource = if let Some(r) = item.strip_suffix("/.default") {
            r
        } else if !delegated {
            return Err(invalid_client_credentials_scope(item));
        } else if let Some((r, _perm)) = item.rsplit_once('/') {
            r
        } else {
            "https://graph.microsoft.com"
        };
        let Some(res) = canonical_resource(resource) else { return Err(unknown_resource(sim, resource)) };
        match found {
            Some((uri, _)) if uri != res.0 => {
                return Err(bad_request(
                    "invalid_scope",
                    700_022,
                    format!(
                        "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {raw} is not valid."
                    ),
                ));
            }
            _ => found = Some(res),
        }
    }
    if !any {
        return Err(missing("scope"));
    }
    let (resource, kind) = match found {
        Some(f) => f,
        None if delegated => ("https://graph.microsoft.com", Resource::Api(Api::Graph)),
        None => return Err(missing("scope")),
    };
    Ok(Scope { resource, kind, offline, openid, profile })
}

/// The permissions of `all` that belong to `kind`.
fn permissions_for(sim: &Sim, all: &[String], kind: Resource) -> Vec<String> {
    match kind {
        Resource::Api(api) => all.iter().filter(|p| sim.spec.permission_api(p) == Some(api)).cloned().collect(),
        Resource::Vault | Resource::BotConnector => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------------
// Minting
// ---------------------------------------------------------------------------------------------------

/// A stable GUID derived from a name (SHA-256, formatted as a v8-style UUID).
fn stable_guid(kind: &str, name: &str) -> String {
    let digest = sha2::Sha256::digest(format!("tenant-sim:{kind}:{}", name.to_ascii_lowercase()).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Who a token is for.
enum Principal<'a> {
    App,
    User { upn: &'a str, scp: String },
}

fn mint(sim: &Sim, tenant: &str, scope: &Scope, app: &AppReg, who: &Principal<'_>) -> EResult<String> {
    let now = sim.now().timestamp();
    let tid = sim.tenant_id();
    let (idtyp, roles, scp, upn, oid) = match who {
        Principal::App => {
            ("app", permissions_for(sim, &app.roles, scope.kind), None, None, stable_guid("app", &app.client_id))
        }
        Principal::User { upn, scp } => {
            ("user", Vec::new(), Some(scp.clone()), Some((*upn).to_string()), stable_guid("user", upn))
        }
    };
    let claims = Claims {
        aud: scope.resource.to_string(),
        iss: sim.issuer(tenant),
        iat: now,
        nbf: now,
        exp: now + LIFETIME_S,
        tid,
        appid: app.client_id.clone(),
        idtyp: idtyp.into(),
        roles,
        scp,
        upn,
        sub: oid.clone(),
        oid,
        uti: random_token(16),
        ver: "2.0".into(),
    };
    sim.keys.sign(&claims).map_err(|_| server_error())
}

/// The v2.0 ID token of a delegated sign-in, as Entra issues it from the token endpoint when the
/// request's scope held `openid`: `aud` is the client id, `iss`/`tid` the tenant, `sub` pairwise (per
/// app), and — only with `profile` — `oid`, `preferred_username` and `name` (Entra's ID token claims
/// reference). No `upn` (an optional claim the seed's apps do not ask for).
fn mint_id_token(sim: &Sim, tenant: &str, scope: &Scope, app: &AppReg, upn: &str) -> EResult<String> {
    let now = sim.now().timestamp();
    let mut claims = json!({
        "aud": app.client_id,
        "iss": sim.issuer(tenant),
        "iat": now,
        "nbf": now,
        "exp": now + LIFETIME_S,
        "tid": sim.tenant_id(),
        "sub": stable_guid("sub", &format!("{}:{upn}", app.client_id)),
        "ver": "2.0",
    });
    if scope.profile {
        claims["oid"] = json!(stable_guid("user", upn));
        claims["preferred_username"] = json!(upn);
        claims["name"] = json!(upn.split('@').next().unwrap_or(upn));
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(sim.keys.kid.clone());
    header.typ = Some("JWT".into());
    sim.keys.sign_value(&header, &claims).map_err(|_| server_error())
}

/// The object id the simulator gives `upn` in its tokens (`oid`).
pub fn user_oid(upn: &str) -> String {
    stable_guid("user", upn)
}

fn app_token_body(token: String) -> Value {
    json!({"token_type": "Bearer", "expires_in": LIFETIME_S, "ext_expires_in": LIFETIME_S, "access_token": token})
}

// ---------------------------------------------------------------------------------------------------
// Client authentication
// ---------------------------------------------------------------------------------------------------

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte).
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Authorization: Basic` credentials, URL-decoded.
fn basic_credentials(headers: &HeaderMap) -> EResult<Option<(String, String)>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| malformed("The Authorization header is not readable."))?;
    let Some((scheme, rest)) = value.trim().split_once(' ') else {
        return Err(malformed("The Authorization header is malformed."));
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| malformed("The Basic credentials are not base64."))?;
    let text = String::from_utf8(decoded).map_err(|_| malformed("The Basic credentials are not UTF-8."))?;
    let Some((id, secret)) = text.split_once(':') else {
        return Err(malformed("The Basic credentials lack a ':'."));
    };
    Ok(Some((form_decode(id), form_decode(secret))))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// The unverified payload of a JWT (only to learn who claims to have sent it).
fn peek_payload(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn app_not_found(client_id: &str, tenant: &str) -> EntraError {
    bad_request(
        "unauthorized_client",
        700_016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

fn find_app(sim: &Sim, client_id: &str, tenant: &str) -> EResult<AppReg> {
    lock(&sim.tenant).app(client_id).cloned().ok_or_else(|| app_not_found(client_id, tenant))
}

/// Authenticates a confidential client from the form and headers; returns its registration.
async fn authenticate_client(
    sim: &Sim,
    tenant: &str,
    form: &Form,
    headers: &HeaderMap,
    audiences: &[String],
) -> EResult<AppReg> {
    let basic = basic_credentials(headers)?;
    let assertion = form.get("client_assertion");
    let assertion_type = form.get("client_assertion_type");
    match (assertion, assertion_type) {
        (Some(_), None) => return Err(missing("client_assertion_type")),
        (None, Some(_)) => return Err(missing("client_assertion")),
        (Some(_), Some(t)) if t != JWT_BEARER => {
            return Err(malformed(&format!("client_assertion_type must be '{JWT_BEARER}'.")));
        }
        _ => {}
    }
    let body_id = form.get("client_id");
    if let (Some(b), Some((h, _))) = (body_id, &basic)
        && !b.eq_ignore_ascii_case(h)
    {
        return Err(malformed("The client_id in the body does not match the one in the Authorization header."));
    }
    let assertion_id =
        assertion.and_then(peek_payload).and_then(|p| p.get("sub").and_then(Value::as_str).map(str::to_string));
    let client_id = body_id
        .map(str::to_string)
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
        .or(assertion_id)
        .ok_or_else(|| missing("client_id"))?;
    let credentials = [basic.is_some(), form.get("client_secret").is_some(), assertion.is_some()];
    if credentials.iter().filter(|c| **c).count() > 1 {
        return Err(malformed("Only one client authentication method may be used per request."));
    }
    let app = find_app(sim, &client_id, tenant)?;
    let secret = form.get("client_secret").map(str::to_string).or_else(|| basic.map(|(_, s)| s));
    if app.public_client && (secret.is_some() || assertion.is_some()) {
        return Err(bad_request(
            "invalid_client",
            700_025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        ));
    }
    if let Some(secret) = secret {
        return match &app.client_secret {
            Some(s) if constant_time_eq(s, &secret) => Ok(app),
            _ => {
                tracing::info!(client_id = %app.client_id, "token request with an invalid client secret");
                Err(unauthorized(
                    7_000_215,
                    format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                        app.client_id
                    ),
                ))
            }
        };
    }
    let Some(assertion) = assertion else {
        return Err(unauthorized(
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
        bad_request("invalid_request", 50_027, "JWT token is invalid or malformed. The client assertion is not a JWT.")
    })?;
    let has_thumbprint = header.x5t.is_some() || header.x5t_s256.is_some();
    match (&app.certificate_pem, pick_federated(&app, assertion)) {
        (Some(pem), Some(_)) if has_thumbprint => {
            verify_certificate_assertion(sim, &app, pem, assertion, &header, audiences)?
        }
        (_, Some(fed)) => verify_federated_assertion(sim, fed, assertion, &header).await?,
        (Some(pem), None) => verify_certificate_assertion(sim, &app, pem, assertion, &header, audiences)?,
        (None, None) => {
            return Err(unauthorized(
                700_027,
                "Client assertion failed signature validation. [Reason - The key was not found. No certificate or federated credential is registered for the application.]",
            ));
        }
    }
    Ok(app)
}

/// The app's federated credential an assertion is matched against: the one with its issuer and
/// subject, else the first with its issuer, else the first (whose mismatch is then reported).
fn pick_federated<'a>(app: &'a AppReg, assertion: &str) -> Option<&'a Federated> {
    let all: Vec<&Federated> = app.federated.iter().chain(&app.federated_credentials).collect();
    let claims = peek_payload(assertion).unwrap_or_default();
    let claim = |n: &str| claims.get(n).and_then(Value::as_str).unwrap_or_default().to_string();
    let (iss, sub) = (claim("iss"), claim("sub"));
    all.iter()
        .find(|f| f.issuer == iss && f.subject == sub)
        .or_else(|| all.iter().find(|f| f.issuer == iss))
        .or_else(|| all.first())
        .copied()
}

fn b64_any(s: &str) -> Option<Vec<u8>> {
    let t = s.trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(t).ok().or_else(|| base64::engine::general_purpose::STANDARD_NO_PAD.decode(t).ok())
}

fn bad_signature(reason: &str) -> EntraError {
    unauthorized(700_027, format!("Client assertion failed signature validation. [Reason - {reason}]"))
}

fn auth_failed(reason: &str) -> EntraError {
    unauthorized(50_012, format!("Authentication failed. {reason}"))
}

/// Checks `exp`/`nbf` on the simulated clock; returns `exp`.
fn check_time(sim: &Sim, claims: &Value, max_lifetime: Option<i64>) -> EResult<i64> {
    let now = sim.now().timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| {
        bad_request("invalid_request", 90_014, "The required field 'exp' is missing from the credential.")
    })?;
    let nbf = claims.get("nbf").and_then(Value::as_i64);
    let start = nbf.or_else(|| claims.get("iat").and_then(Value::as_i64)).unwrap_or(now);
    let out_of_range =
        exp <= now || nbf.is_some_and(|n| n > now + SKEW_S) || max_lifetime.is_some_and(|max| exp - start > max);
    if out_of_range {
        return Err(unauthorized(
            700_024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
                crate::clock::iso(sim.now()),
                chrono::DateTime::from_timestamp(start, 0).map(crate::clock::iso).unwrap_or_default(),
                chrono::DateTime::from_timestamp(exp, 0).map(crate::clock::iso).unwrap_or_default(),
            ),
        ));
    }
    Ok(exp)
}

fn lenient_validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v
}

fn verify_certificate_assertion(
    sim: &Sim,
    app: &AppReg,
    pem: &str,
    assertion: &str,
    header: &jsonwebtoken::Header,
    audiences: &[String],
) -> EResult<()> {
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(bad_signature(&format!("The algorithm {:?} is not supported; use PS256 or RS256.", header.alg)));
    }
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|_| bad_signature("The registered certificate cannot be read."))?;
    let der = parsed.contents;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|_| bad_signature("The registered certificate cannot be read."))?;
    let spki = cert.public_key().subject_public_key.data.to_vec();
    let s256 = sha2::Sha256::digest(&der).to_vec();
    let s1 = sha1::Sha1::digest(&der).to_vec();
    let thumb_ok = match (&header.x5t_s256, &header.x5t) {
        (Some(t), _) => b64_any(t).is_some_and(|b| b == s256),
        (None, Some(t)) => b64_any(t).is_some_and(|b| b == s1),
        (None, None) => {
            return Err(bad_signature("The key was not found. The assertion header has no x5t#S256 or x5t."));
        }
    };
    if !thumb_ok {
        return Err(auth_failed("Thumbprint of the signing certificate isn't authorized for this application."));
    }
    let key = DecodingKey::from_rsa_der(&spki);
    let data = jsonwebtoken::decode::<Value>(assertion, &key, &lenient_validation(header.alg))
        .map_err(|_| bad_signature("The client assertion contains an invalid signature."))?;
    let claims = data.claims;
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audiences.iter().any(|x| x == a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return Err(auth_failed(&format!(
            "Client assertion audience claim does not match the token endpoint. Expected '{}'.",
            audiences.first().map(String::as_str).unwrap_or_default()
        )));
    }
    let claim = |n: &str| claims.get(n).and_then(Value::as_str).unwrap_or_default().to_string();
    if !claim("iss").eq_ignore_ascii_case(&app.client_id) || !claim("sub").eq_ignore_ascii_case(&app.client_id) {
        return Err(auth_failed(
            "Client assertion application identifier (iss, sub) doesn't match 'client_id' parameter.",
        ));
    }
    let exp = check_time(sim, &claims, Some(MAX_ASSERTION_LIFETIME_S))?;
    let jti = claims.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty()).ok_or_else(|| {
        bad_request("invalid_request", 90_014, "The required field 'jti' is missing from the credential.")
    })?;
    let now = sim.now();
    let key = format!("{}:{jti}", app.client_id.to_ascii_lowercase());
    let mut tenant = lock(&sim.tenant);
    tenant.used_assertions.retain(|_, until| *until > now);
    if tenant.used_assertions.contains_key(&key) {
        return Err(auth_failed("The client assertion was already used (its jti has been seen before)."));
    }
    let until = chrono::DateTime::from_timestamp(exp, 0).unwrap_or(now) + Duration::seconds(SKEW_S);
    tenant.used_assertions.insert(key, until);
    Ok(())
}

/// The JWKS of a federated issuer.
async fn federated_jwks(sim: &Sim, fed: &Federated) -> EResult<Value> {
    if let Some(jwks) = &fed.jwks {
        return Ok(jwks.clone());
    }
    let own_issuer = crate::control::issuer_url(sim);
    let own_jwks = format!("{own_issuer}/jwks");
    let own = json!({"keys": [sim.keys.jwk.clone()]});
    let fetch_failed = || unauthorized(50_166, "Request to External OIDC endpoint failed.");
    let url = match &fed.jwks_url {
        Some(u) if u.trim_end_matches('/') == own_jwks => return Ok(own),
        Some(u) => u.clone(),
        None if fed.issuer.trim_end_matches('/') == own_issuer => return Ok(own),
        None => {
            let meta = fetch_json(&format!("{}/.well-known/openid-configuration", fed.issuer.trim_end_matches('/')))
                .await
                .ok_or_else(fetch_failed)?;
            meta.get("jwks_uri").and_then(Value::as_str).map(str::to_string).ok_or_else(fetch_failed)?
        }
    };
    fetch_json(&url).await.ok_or_else(fetch_failed)
}

async fn fetch_json(url: &str) -> Option<Value> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().ok()?;
    let resp = client.get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json::<Value>().await.ok()
}

async fn verify_federated_assertion(
    sim: &Sim,
    fed: &Federated,
    assertion: &str,
    header: &jsonwebtoken::Header,
) -> EResult<()> {
    let Some(claims) = peek_payload(assertion) else {
        return Err(bad_request("invalid_request", 50_027, "JWT token is invalid or malformed."));
    };
    let claim = |n: &str| claims.get(n).and_then(Value::as_str).unwrap_or_default().to_string();
    let iss = claim("iss");
    if iss != fed.issuer {
        return Err(unauthorized(
            700_211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{iss}'. Please note that the matching is done using a case-sensitive comparison."
            ),
        ));
    }
    let jwks = federated_jwks(sim, fed).await?;
    let keys = jwks.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
    let jwk = match &header.kid {
        Some(kid) => keys.iter().find(|k| k.get("kid").and_then(Value::as_str) == Some(kid.as_str())),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
    .ok_or_else(|| bad_signature("The key was not found in the issuer's JWKS."))?;
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(jwk.clone()).map_err(|_| bad_signature("The issuer's key cannot be read."))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad_signature("The issuer's key cannot be read."))?;
    jsonwebtoken::decode::<Value>(assertion, &key, &lenient_validation(header.alg))
        .map_err(|_| bad_signature("The assertion contains an invalid signature."))?;
    let sub = claim("sub");
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == fed.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(fed.audience.as_str())),
        _ => false,
    };
    // A credential that was just added answers the same for minutes while it propagates.
    let propagating = fed.visible_from.as_deref().and_then(crate::clock::parse_iso).is_some_and(|t| sim.now() < t);
    if sub != fed.subject || !aud_ok || propagating {
        let aud = claims.get("aud").map(Value::to_string).unwrap_or_default();
        return Err(bad_request(
            "invalid_request",
            70_021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'.",
                aud.trim_matches('"')
            ),
        ));
    }
    check_time(sim, &claims, None)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Token endpoint
// ---------------------------------------------------------------------------------------------------

async fn token_v2(State(sim): State<Arc<Sim>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let result = token_v2_inner(&sim, &uri, &headers, &body).await;
    respond(&sim, result)
}

async fn token_v2_inner(sim: &Sim, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> EResult<Value> {
    let tenant = check_tenant(sim, uri)?;
    let form = Form::parse(headers, body)?;
    let grant = form.need("grant_type")?;
    if form.get("resource").is_some() {
        return Err(bad_request("invalid_request", 901_002, "The 'resource' request parameter is not supported."));
    }
    match grant {
        "client_credentials" => {
            let audiences = [sim.token_url(&tenant)];
            let scope_raw = form.need("scope")?;
            let app = authenticate_client(sim, &tenant, &form, headers, &audiences).await?;
            let scope = parse_scope(sim, scope_raw, false)?;
            let token = mint(sim, &tenant, &scope, &app, &Principal::App)?;
            tracing::info!(client_id = %app.client_id, resource = scope.resource, "issued an application token");
            Ok(app_token_body(token))
        }
        DEVICE_CODE_GRANT => device_code_grant(sim, &tenant, &form),
        "refresh_token" => refresh_grant(sim, &tenant, &form, headers).await,
        other => Err(bad_request(
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

async fn token_v1(State(sim): State<Arc<Sim>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let result = token_v1_inner(&sim, &uri, &headers, &body).await;
    respond(&sim, result)
}

async fn token_v1_inner(sim: &Sim, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> EResult<Value> {
    let tenant = check_tenant(sim, uri)?;
    let form = Form::parse(headers, body)?;
    let grant = form.need("grant_type")?;
    if grant != "client_credentials" {
        return Err(bad_request(
            "unsupported_grant_type",
            70_003,
            format!(
                "The app requested an unsupported grant type '{grant}'. The simulator's v1 endpoint serves client_credentials only."
            ),
        ));
    }
    let requested = form.need("resource")?;
    let audiences = [sim.token_url(&tenant), format!("{}/{tenant}/oauth2/token", sim.base_url)];
    let app = authenticate_client(sim, &tenant, &form, headers, &audiences).await?;
    let (resource, kind) = canonical_resource(requested).ok_or_else(|| unknown_resource(sim, requested))?;
    let scope = Scope { resource, kind, offline: false, openid: false, profile: false };
    let token = mint(sim, &tenant, &scope, &app, &Principal::App)?;
    tracing::info!(client_id = %app.client_id, resource, "issued an application token (v1)");
    let now = sim.now().timestamp();
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": LIFETIME_S.to_string(),
        "ext_expires_in": LIFETIME_S.to_string(),
        "expires_on": (now + LIFETIME_S).to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "access_token": token,
    }))
}

/// Issues a delegated token (and a refresh token when `offline` or `always_refresh`).
fn delegated_response(
    sim: &Sim,
    tenant: &str,
    scope: &Scope,
    app: &AppReg,
    upn: &str,
    always_refresh: bool,
) -> EResult<Value> {
    let user = lock(&sim.tenant).user(upn).cloned().ok_or_else(|| {
        bad_request("invalid_grant", 70_000, "Provided grant is invalid or malformed. The user no longer exists.")
    })?;
    let perms = match scope.kind {
        Resource::Vault => vec!["user_impersonation".to_string()],
        kind => permissions_for(sim, &user.scp, kind),
    };
    let token = mint(sim, tenant, scope, app, &Principal::User { upn: &user.upn, scp: perms.join(" ") })?;
    let mut granted: Vec<String> = perms.iter().map(|p| format!("{}/{p}", scope.resource)).collect();
    let mut body = json!({
        "token_type": "Bearer",
        "scope": "",
        "expires_in": LIFETIME_S,
        "ext_expires_in": LIFETIME_S,
        "access_token": token,
    });
    if scope.offline || always_refresh {
        granted.push("offline_access".into());
        let refresh = format!("0.SIM.{}", random_token(64));
        let grant = RefreshGrant {
            client_id: app.client_id.clone(),
            upn: user.upn.clone(),
            expires_at: sim.now() + Duration::days(REFRESH_LIFETIME_DAYS),
            redeemed: false,
        };
        lock(&sim.tenant).refresh_tokens.insert(refresh.clone(), grant);
        body["refresh_token"] = Value::String(refresh);
    }
    if scope.openid {
        granted.push("openid".into());
        if scope.profile {
            granted.push("profile".into());
        }
        body["id_token"] = Value::String(mint_id_token(sim, tenant, scope, app, &user.upn)?);
    }
    body["scope"] = Value::String(granted.join(" "));
    tracing::info!(client_id = %app.client_id, resource = scope.resource, "issued a delegated token");
    Ok(body)
}

fn device_code_grant(sim: &Sim, tenant: &str, form: &Form) -> EResult<Value> {
    let client_id = form.need("client_id")?;
    let device_code = form.need("device_code")?;
    let now = sim.now();
    let (scope_raw, upn) = {
        let mut t = lock(&sim.tenant);
        let Some(code) = t.device_codes.get_mut(device_code) else {
            return Err(unknown_grant("The device_code was not recognized."));
        };
        if !code.client_id.eq_ignore_ascii_case(client_id) {
            return Err(bad_request(
                "invalid_grant",
                70_000,
                "Provided grant is invalid or malformed. The device code was issued to another client.",
            ));
        }
        if code.redeemed {
            return Err(bad_request(
                "invalid_grant",
                70_000,
                "Provided grant is invalid or malformed. The device code was already redeemed.",
            ));
        }
        if now >= code.expires_at {
            return Err(bad_request(
                "expired_token",
                70_020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
            ));
        }
        if code.declined {
            return Err(bad_request(
                "authorization_declined",
                70_000,
                "The end user denied the authorization request.",
            ));
        }
        let Some(upn) = code.approved_by.clone() else {
            let too_fast = code.last_poll.is_some_and(|last| now - last < Duration::seconds(code.interval_s));
            code.last_poll = Some(now);
            if too_fast {
                return Err(bad_request(
                    "slow_down",
                    70_016,
                    format!(
                        "OAuth 2.0 device flow error. Authorization is pending; poll no more often than every {} seconds.",
                        code.interval_s
                    ),
                ));
            }
            return Err(bad_request(
                "authorization_pending",
                70_016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            ));
        };
        code.last_poll = Some(now);
        code.redeemed = true;
        (code.scope.clone(), upn)
    };
    let app = find_app(sim, client_id, tenant)?;
    let scope = parse_scope(sim, &scope_raw, true)?;
    delegated_response(sim, tenant, &scope, &app, &upn, false)
}

async fn refresh_grant(sim: &Sim, tenant: &str, form: &Form, headers: &HeaderMap) -> EResult<Value> {
    let client_id = form.need("client_id")?;
    let refresh = form.need("refresh_token")?;
    let scope_raw = form.need("scope")?;
    let app = find_app(sim, client_id, tenant)?;
    if !app.public_client {
        authenticate_client(sim, tenant, form, headers, &[sim.token_url(tenant)]).await?;
    }
    let scope = parse_scope(sim, scope_raw, true)?;
    let now = sim.now();
    let upn = {
        let mut t = lock(&sim.tenant);
        let Some(grant) = t.refresh_tokens.get_mut(refresh) else {
            return Err(unknown_grant("The refresh token was not recognized."));
        };
        if !grant.client_id.eq_ignore_ascii_case(client_id) {
            return Err(bad_request(
                "invalid_grant",
                70_000,
                "Provided grant is invalid or malformed. The refresh token was issued to another client.",
            ));
        }
        if now >= grant.expires_at {
            return Err(bad_request(
                "invalid_grant",
                70_008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            ));
        }
        // Entra does not revoke a refresh token when it issues a new one: the old one stays valid
        // until it expires or is revoked. A product must not rely on the rotation to retire it.
        grant.redeemed = true;
        grant.upn.clone()
    };
    delegated_response(sim, tenant, &scope, &app, &upn, true)
}

// ---------------------------------------------------------------------------------------------------
// Device-code endpoint
// ---------------------------------------------------------------------------------------------------

async fn devicecode(State(sim): State<Arc<Sim>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let result = devicecode_inner(&sim, &uri, &headers, &body);
    respond(&sim, result)
}

fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..9).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

fn devicecode_inner(sim: &Sim, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> EResult<Value> {
    let tenant = check_tenant(sim, uri)?;
    let form = Form::parse(headers, body)?;
    let client_id = form.need("client_id")?;
    let scope_raw = form.need("scope")?;
    let app = find_app(sim, client_id, &tenant)?;
    if !app.public_client {
        return Err(bad_request(
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'. The application is not a public client.",
        ));
    }
    parse_scope(sim, scope_raw, true)?;
    let code = user_code();
    let device_code = random_token(48);
    let entry = DeviceCode {
        device_code: device_code.clone(),
        user_code: code.clone(),
        client_id: app.client_id.clone(),
        scope: scope_raw.to_string(),
        expires_at: sim.now() + Duration::seconds(DEVICE_CODE_LIFETIME_S),
        interval_s: DEVICE_CODE_INTERVAL_S,
        last_poll: None,
        approved_by: None,
        declined: false,
        redeemed: false,
    };
    lock(&sim.tenant).device_codes.insert(device_code.clone(), entry);
    tracing::info!(client_id = %app.client_id, "started a device-code sign-in");
    Ok(json!({
        "user_code": code,
        "device_code": device_code,
        "verification_uri": VERIFICATION_URI,
        "expires_in": DEVICE_CODE_LIFETIME_S,
        "interval": DEVICE_CODE_INTERVAL_S,
        "message": format!("To sign in, use a web browser to open the page {VERIFICATION_URI} and enter the code {code} to authenticate."),
    }))
}

// ---------------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------------

async fn openid_configuration(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    let tenant = match check_tenant(&sim, &uri) {
        Ok(t) => t,
        Err(e) => return e.render(sim.now()),
    };
    let base = &sim.base_url;
    Json(json!({
        "token_endpoint": sim.token_url(&tenant),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": sim.issuer(&tenant),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "grant_types_supported": ["client_credentials", DEVICE_CODE_GRANT, "refresh_token"],
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "appid", "idtyp", "roles", "scp", "upn", "uti", "ver"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
    .into_response()
}

async fn tenant_keys(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    match check_tenant(&sim, &uri) {
        Ok(_) => Json(json!({"keys": [sim.keys.jwk.clone()]})).into_response(),
        Err(e) => e.render(sim.now()),
    }
}

async fn common_keys(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"keys": [sim.keys.jwk.clone()]}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_follows_the_rfc() {
        assert_eq!(form_decode("a%2Bb+c%3A%25"), "a+b c:%");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz"), "%zz");
    }

    #[test]
    fn guids_are_stable() {
        assert_eq!(stable_guid("app", "ABC"), stable_guid("app", "abc"));
        assert_ne!(stable_guid("app", "abc"), stable_guid("user", "abc"));
        assert!(uuid::Uuid::parse_str(&stable_guid("app", "x")).is_ok());
    }

    #[test]
    fn user_codes_are_nine_characters() {
        let c = user_code();
        assert_eq!(c.len(), 9);
        assert!(c.chars().all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit()));
    }
}
