//! Key Vault (stand-in): the secrets REST surface with versions, and the challenge-based bearer auth
//! real vaults use.
//!
//! # Routes (every call needs `api-version`: 7.0 to 7.6, their `-preview` variants, or 2025-07-01)
//! | route | what |
//! |---|---|
//! | `GET /secrets/{name}` | the latest version (`SecretBundle`) |
//! | `GET /secrets/{name}/{version}` | that version |
//! | `PUT /secrets/{name}` | `{"value", "contentType"?, "tags"?, "attributes"?: {"enabled"?}}` → a new version, 200 with its bundle |
//! | `PATCH /secrets/{name}/{version}` | Update Secret: `{"contentType"?, "tags"?, "attributes"?: {"enabled"?}}` on that version (the latest when `{version}` is empty); omitted fields unchanged, the value cannot change (400); needs `set`; 200 with the bundle without its value |
//! | `GET /secrets` | `{"value":[{id, attributes, tags, contentType?}], "nextLink"}` (no values); `maxresults` 1–25 (default 25), `$skiptoken` |
//! | `GET /secrets/{name}/versions` | the versions in no documented order (here by version id, not creation), paged the same way |
//!
//! A bundle is `{"value", "contentType"?, "id": "{vault}/secrets/{name}/{version}", "attributes": {"enabled",
//! "created", "updated", "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}, "tags"}`, where
//! `{vault}` is `https://` + the request's `Host` (so both `https://127.0.0.1:<port>` and
//! `https://<name>.vault.localhost:<port>` work). Secret names are case-insensitive, as in Key Vault.
//! `attributes.nbf`/`exp` are accepted on `PUT` but not stored.
//!
//! # Auth
//! - No bearer token → 401 `Unauthorized` "AKV10000: Request is missing a Bearer or PoP token." with
//!   `WWW-Authenticate: Bearer authorization="{base}/{tenant}", resource="https://vault.azure.net"`. When the
//!   `Host` is `*.vault.localhost[:port]` the resource is `https://vault.localhost` instead, so the official
//!   Azure SDKs' check that the challenge resource matches the vault's host passes locally. Every 401
//!   carries the challenge.
//! - A token that is malformed, badly signed, expired, for another audience (AKV10022) or from another
//!   tenant (AKV10032) → 401 `Unauthorized`. Tokens for either vault audience are accepted on any host.
//! - A vault token of an app whose seed says `vault_access: false`, or any delegated (user) token — users
//!   have no vault access in the simulator — → 403 `Forbidden` with `innererror.code` `AccessDenied`.
//! - An app whose seed lists `vault_secrets` holds Azure RBAC's "Key Vault Secrets User" on each of those
//!   secrets (a role assignment scoped to `/secrets/{name}`) and nothing on the vault: it may `GET` those
//!   secrets and list their versions; any other secret, listing the vault and every `PUT` → 403 as
//!   above. The caller is the token's app (`appid`), as Key Vault evaluates RBAC for the principal.
//!
//! # Other errors
//! Throttling: the next `vault_throttle_next` requests (set through
//! `POST /_sim/config`) answer 429 `Throttled` with `Retry-After: vault_retry_after_s`, as Key Vault does
//! past its service limits (4,000 secret transactions per 10 s per vault).
//! Missing or unknown `api-version`, invalid secret name (1–127 of `0-9a-zA-Z-`), bad `maxresults` or
//! `$skiptoken`, malformed `PUT` body → 400 `BadParameter`; unknown secret or version → 404
//! `SecretNotFound`; a disabled version on `GET` → 403 `Forbidden` (`SecretDisabled`).
//! Secret values are never logged.

use crate::{
    auth::{AuthFailure, authenticate},
    errors::vault_error,
    state::{SecretVersion, Sim, lock},
    tokens::{Claims, Resource},
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{FromRequestParts, Path, rejection::PathRejection},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header, request::Parts},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use std::{collections::BTreeMap, sync::Arc};

/// Versions of the Key Vault REST API the simulator accepts.
pub const API_VERSIONS: &[&str] = &["7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01"];
/// Largest page of a list.
pub const MAX_RESULTS: usize = 25;
/// Largest secret value (Key Vault's limit is 25 KB).
pub const MAX_VALUE_BYTES: usize = 25 * 1024;
/// Most tags a secret may carry.
pub const MAX_TAGS: usize = 15;

/// The Key Vault routes.
pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/secrets", get(list_secrets))
        .route("/secrets/{name}", get(get_latest).put(set_secret))
        // The official SDK asks for the latest version as `/secrets/{name}/` (empty version segment).
        .route("/secrets/{name}/", get(get_latest).patch(update_latest))
        .route("/secrets/{name}/versions", get(list_versions))
        .route("/secrets/{name}/{version}", get(get_version).patch(update_version))
}

/// What every handler takes from the request: the simulator, the URI (host, query) and the headers
/// (authorization, host).
struct VaultRequest {
    sim: Arc<Sim>,
    uri: Uri,
    headers: HeaderMap,
}

impl FromRequestParts<Arc<Sim>> for VaultRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, sim: &Arc<Sim>) -> Result<Self, Self::Rejection> {
        Ok(Self { sim: Arc::clone(sim), uri: parts.uri.clone(), headers: parts.headers.clone() })
    }
}

/// What every handler learns from the request before doing its work.
struct Ctx {
    /// `https://{host}`.
    base: String,
    api_version: String,
    query: Vec<(String, String)>,
}

/// A finished error response (boxed: responses are large).
type Fail = Box<Response>;

fn bad_parameter(message: &str) -> Fail {
    Box::new(vault_error(StatusCode::BAD_REQUEST, "BadParameter", message))
}

/// The host the client addressed (Host header, or the HTTP/2 authority).
fn host(sim: &Sim, headers: &HeaderMap, uri: &Uri) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.as_str().to_string()))
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c)))
        .unwrap_or_else(|| sim.base_url.trim_start_matches("https://").to_string())
}

fn hostname(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split(']').next().map(|h| h.trim_start_matches('[')).unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn is_local_vault_host(host: &str) -> bool {
    let h = hostname(host).to_ascii_lowercase();
    h == "vault.localhost" || h.ends_with(".vault.localhost")
}

fn vault_name(host: &str) -> String {
    let h = hostname(host).to_ascii_lowercase();
    for suffix in [".vault.localhost", ".vault.azure.net"] {
        if let Some(name) = h.strip_suffix(suffix) {
            return name.to_string();
        }
    }
    "tenant-sim".to_string()
}

fn unauthorized(sim: &Sim, host: &str, message: &str) -> Fail {
    let resource = if is_local_vault_host(host) { "https://vault.localhost" } else { "https://vault.azure.net" };
    let challenge = format!("Bearer authorization=\"{}/{}\", resource=\"{resource}\"", sim.base_url, sim.tenant_id());
    let mut resp = vault_error(StatusCode::UNAUTHORIZED, "Unauthorized", message);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    Box::new(resp)
}

fn auth_message(sim: &Sim, host: &str, failure: &AuthFailure) -> String {
    let expected = if is_local_vault_host(host) { "https://vault.localhost" } else { "https://vault.azure.net" };
    match failure {
        AuthFailure::Missing => "AKV10000: Request is missing a Bearer or PoP token.".into(),
        AuthFailure::Invalid => "Token validation failed: the token is malformed or its signature is invalid.".into(),
        AuthFailure::Expired => "Token validation failed: the token is expired.".into(),
        AuthFailure::WrongAudience(aud) => format!("AKV10022: Invalid audience. Expected {expected}, found: {aud}."),
        AuthFailure::WrongTenant => format!(
            "AKV10032: Invalid issuer. Expected one of {}, found a token issued by another tenant.",
            sim.issuer(&sim.tenant_id())
        ),
    }
}

fn forbidden(claims: &Claims, host: &str, permission: &str) -> Fail {
    let who = match &claims.upn {
        Some(upn) => format!("appid={};oid={};upn={upn};iss={}", claims.appid, claims.oid, claims.iss),
        None => format!("appid={};oid={};iss={}", claims.appid, claims.oid, claims.iss),
    };
    let message = format!(
        "The user, group or application '{who}' does not have secrets {permission} permission on key vault '{};location=local'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
        vault_name(host)
    );
    Box::new(
        (
            StatusCode::FORBIDDEN,
            Json(json!({"error": {"code": "Forbidden", "message": message, "innererror": {"code": "AccessDenied"}}})),
        )
            .into_response(),
    )
}

/// Authenticates, authorises `permission` (`get`, `list`, `set`) on `secret` (`None`: the whole vault)
/// and checks `api-version`.
fn guard(sim: &Sim, headers: &HeaderMap, uri: &Uri, permission: &str, secret: Option<&str>) -> Result<Ctx, Fail> {
    let host = host(sim, headers, uri);
    if let Some(retry_after_s) = throttle(sim) {
        return Err(throttled(retry_after_s));
    }
    let claims = authenticate(sim, headers, Resource::Vault)
        .map_err(|f| unauthorized(sim, &host, &auth_message(sim, &host, &f)))?;
    let query: Vec<(String, String)> = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let api_version = query.iter().find(|(k, _)| k == "api-version").map(|(_, v)| v.clone()).unwrap_or_default();
    if api_version.is_empty() {
        return Err(bad_parameter("The request URI contains an invalid or missing api-version parameter."));
    }
    let known = API_VERSIONS.contains(&api_version.as_str())
        || api_version.split_once("-preview").is_some_and(|(v, _)| API_VERSIONS.contains(&v));
    if !known {
        return Err(bad_parameter(&format!(
            "The specified version ({api_version}) is not recognized. Consider using the latest supported version (2025-07-01)."
        )));
    }
    let allowed = claims.scp.is_none()
        && claims.idtyp == "app"
        && lock(&sim.tenant).app(&claims.appid).is_some_and(|a| {
            a.vault_access
                && match (&a.vault_secrets, secret) {
                    // Vault-scope access: every secret.
                    (None, _) => true,
                    // Secret-scope "Secrets User": read that secret (and its versions), nothing else.
                    (Some(mine), Some(name)) => {
                        permission != "set" && mine.iter().any(|m| m.eq_ignore_ascii_case(name))
                    }
                    (Some(_), None) => false,
                }
        });
    if !allowed {
        tracing::info!(caller = claims.caller(), permission, "vault access denied");
        return Err(forbidden(&claims, &host, permission));
    }
    Ok(Ctx { base: format!("https://{host}"), api_version, query })
}

/// Whether this request is throttled (`vault_throttle_next` requests are, after the challenge):
/// Retry-After seconds if so.
fn throttle(sim: &Sim) -> Option<u64> {
    let mut cfg = lock(&sim.config);
    if cfg.vault_throttle_next == 0 {
        return None;
    }
    cfg.vault_throttle_next -= 1;
    Some(cfg.vault_retry_after_s)
}

/// Key Vault's throttling answer: 429 `Throttled` with `Retry-After` (seconds).
fn throttled(retry_after_s: u64) -> Fail {
    let mut resp = vault_error(
        StatusCode::TOO_MANY_REQUESTS,
        "Throttled",
        "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Box::new(resp)
}

fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn check_name(name: &str) -> Result<(), Fail> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(bad_parameter(&format!(
            "The request URI contains an invalid name: {name}. Secret names must be 1-127 characters of 0-9, a-z, A-Z and -."
        )))
    }
}

fn not_found(what: &str) -> Fail {
    Box::new(vault_error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        &format!(
            "A secret with (name/id) {what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
        ),
    ))
}

fn attributes(v: &SecretVersion) -> Value {
    json!({
        "enabled": v.enabled,
        "created": v.created,
        "updated": v.updated,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    })
}

/// A `SecretBundle` (with the value) or a `SecretItem` (without).
fn bundle(id: String, v: &SecretVersion, with_value: bool) -> Value {
    let mut m = Map::new();
    if with_value {
        m.insert("value".into(), Value::String(v.value.clone()));
    }
    if let Some(ct) = &v.content_type {
        m.insert("contentType".into(), Value::String(ct.clone()));
    }
    m.insert("id".into(), Value::String(id));
    m.insert("attributes".into(), attributes(v));
    m.insert("tags".into(), json!(v.tags));
    Value::Object(m)
}

/// The stored spelling of a secret name (names are case-insensitive).
fn stored_name(secrets: &BTreeMap<String, Vec<SecretVersion>>, name: &str) -> Option<String> {
    secrets.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn path_or_bad<T>(p: Result<Path<T>, PathRejection>) -> Result<T, Fail> {
    p.map(|Path(v)| v).map_err(|_| bad_parameter("The request URI is not valid."))
}

fn answer(r: Result<Value, Fail>) -> Response {
    match r {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(resp) => *resp,
    }
}

async fn get_latest(req: VaultRequest, name: Result<Path<String>, PathRejection>) -> Response {
    answer(read(&req, name.map(|Path(n)| Path((n, None)))))
}

async fn get_version(req: VaultRequest, p: Result<Path<(String, String)>, PathRejection>) -> Response {
    answer(read(&req, p.map(|Path((n, v))| Path((n, Some(v))))))
}

fn read(req: &VaultRequest, p: Result<Path<(String, Option<String>)>, PathRejection>) -> Result<Value, Fail> {
    let VaultRequest { sim, uri, headers } = req;
    let named = p.as_ref().ok().map(|Path((n, _))| n.clone());
    let ctx = guard(sim, headers, uri, "get", named.as_deref())?;
    let (name, version) = path_or_bad(p)?;
    check_name(&name)?;
    let tenant = lock(&sim.tenant);
    let Some(stored) = stored_name(&tenant.secrets, &name) else { return Err(not_found(&name)) };
    let versions = tenant.secrets.get(&stored).map(Vec::as_slice).unwrap_or_default();
    let found = match &version {
        Some(v) if !v.is_empty() => versions.iter().find(|x| x.version.eq_ignore_ascii_case(v)),
        _ => versions.last(),
    };
    let Some(v) = found else {
        return Err(not_found(&format!("{name}/{}", version.unwrap_or_default())));
    };
    if !v.enabled {
        return Err(Box::new(
            (
            StatusCode::FORBIDDEN,
            Json(
                json!({"error": {"code": "Forbidden", "message": "Operation get is not allowed on a disabled secret.",
                "innererror": {"code": "SecretDisabled"}}}),
            ),
        )
            .into_response(),
        ));
    }
    Ok(bundle(format!("{}/secrets/{stored}/{}", ctx.base, v.version), v, true))
}

async fn set_secret(req: VaultRequest, name: Result<Path<String>, PathRejection>, body: Bytes) -> Response {
    answer(write(&req, name, &body))
}

fn write(req: &VaultRequest, name: Result<Path<String>, PathRejection>, body: &[u8]) -> Result<Value, Fail> {
    let VaultRequest { sim, uri, headers } = req;
    let named = name.as_ref().ok().map(|Path(n)| n.clone());
    let ctx = guard(sim, headers, uri, "set", named.as_deref())?;
    let name = path_or_bad(name)?;
    check_name(&name)?;
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad_parameter("The request body is not a valid JSON object."));
    };
    let value = match req.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad_parameter("Property 'value' must be a string.")),
        None => return Err(bad_parameter("Property 'value' is required.")),
    };
    if value.len() > MAX_VALUE_BYTES {
        return Err(bad_parameter("The secret value exceeds the maximum size of 25 KB."));
    }
    let content_type = match req.get("contentType") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad_parameter("Property 'contentType' must be a string.")),
    };
    let mut tags = BTreeMap::new();
    match req.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(t)) => {
            if t.len() > MAX_TAGS {
                return Err(bad_parameter("A secret may carry at most 15 tags."));
            }
            for (k, v) in t {
                let Some(s) = v.as_str() else { return Err(bad_parameter("Tag values must be strings.")) };
                tags.insert(k.clone(), s.to_string());
            }
        }
        Some(_) => return Err(bad_parameter("Property 'tags' must be an object.")),
    }
    let enabled = match req.get("attributes") {
        None | Some(Value::Null) => true,
        Some(Value::Object(a)) => match a.get("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad_parameter("Property 'attributes.enabled' must be a boolean.")),
        },
        Some(_) => return Err(bad_parameter("Property 'attributes' must be an object.")),
    };
    let version = SecretVersion {
        version: uuid::Uuid::new_v4().simple().to_string(),
        value,
        content_type,
        tags,
        created: sim.now().timestamp(),
        updated: sim.now().timestamp(),
        enabled,
    };
    let mut tenant = lock(&sim.tenant);
    let stored = stored_name(&tenant.secrets, &name).unwrap_or(name);
    let out = bundle(format!("{}/secrets/{stored}/{}", ctx.base, version.version), &version, true);
    tenant.secrets.entry(stored.clone()).or_default().push(version);
    tracing::info!(secret = %stored, "secret version added");
    Ok(out)
}

async fn update_latest(req: VaultRequest, name: Result<Path<String>, PathRejection>, body: Bytes) -> Response {
    answer(update(&req, name.map(|Path(n)| Path((n, String::new()))), &body))
}

async fn update_version(req: VaultRequest, p: Result<Path<(String, String)>, PathRejection>, body: Bytes) -> Response {
    answer(update(&req, p, &body))
}

/// Update Secret: changes the given attributes (`enabled`), `contentType` and `tags` of one version
/// (the latest when the version segment is empty); what the body leaves out is unchanged, and the
/// value cannot be changed. Needs the `set` permission. Answers the bundle without its value.
fn update(req: &VaultRequest, p: Result<Path<(String, String)>, PathRejection>, body: &[u8]) -> Result<Value, Fail> {
    let VaultRequest { sim, uri, headers } = req;
    let (name, version) = path_or_bad(p)?;
    let ctx = guard(sim, headers, uri, "set", Some(&name))?;
    check_name(&name)?;
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad_parameter("The request body is not a valid JSON object."));
    };
    if req.contains_key("value") {
        return Err(bad_parameter("The value of a secret cannot be changed by an update; set a new version."));
    }
    let enabled = match req.get("attributes") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => match a.get("enabled") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(bad_parameter("Property 'attributes.enabled' must be a boolean.")),
        },
        Some(_) => return Err(bad_parameter("Property 'attributes' must be an object.")),
    };
    let content_type = match req.get("contentType") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad_parameter("Property 'contentType' must be a string.")),
    };
    let tags = match req.get("tags") {
        None | Some(Value::Null) => None,
        Some(Value::Object(t)) => {
            if t.len() > MAX_TAGS {
                return Err(bad_parameter("A secret may carry at most 15 tags."));
            }
            let mut tags = BTreeMap::new();
            for (k, v) in t {
                let Some(s) = v.as_str() else { return Err(bad_parameter("Tag values must be strings.")) };
                tags.insert(k.clone(), s.to_string());
            }
            Some(tags)
        }
        Some(_) => return Err(bad_parameter("Property 'tags' must be an object.")),
    };
    let now = sim.now().timestamp();
    let mut tenant = lock(&sim.tenant);
    let Some(stored) = stored_name(&tenant.secrets, &name) else { return Err(not_found(&name)) };
    let versions = tenant.secrets.get_mut(&stored).map(Vec::as_mut_slice).unwrap_or_default();
    let found = if version.is_empty() {
        versions.last_mut()
    } else {
        versions.iter_mut().find(|x| x.version.eq_ignore_ascii_case(&version))
    };
    let Some(v) = found else { return Err(not_found(&format!("{name}/{version}"))) };
    if let Some(e) = enabled {
        v.enabled = e;
    }
    if let Some(ct) = content_type {
        v.content_type = Some(ct);
    }
    if let Some(t) = tags {
        v.tags = t;
    }
    v.updated = now;
    tracing::info!(secret = %stored, version = %v.version, enabled = v.enabled, "secret version updated");
    Ok(bundle(format!("{}/secrets/{stored}/{}", ctx.base, v.version), v, false))
}

/// One page of `items` (sorted by key); the skiptoken is the key of the next page's first item.
fn page(ctx: &Ctx, path: &str, items: Vec<(String, Value)>) -> Result<Value, Fail> {
    let q = |n: &str| ctx.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
    let max = match q("maxresults") {
        None | Some("") => MAX_RESULTS,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_RESULTS).contains(&n) => n,
            _ => return Err(bad_parameter("The value of maxresults must be an integer between 1 and 25.")),
        },
    };
    let start = match q("$skiptoken") {
        None | Some("") => 0,
        Some(t) => {
            let key = URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad_parameter("The $skiptoken is not valid."))?;
            items.iter().position(|(k, _)| *k >= key).unwrap_or(items.len())
        }
    };
    let end = (start + max).min(items.len());
    let next = items.get(end).map(|(k, _)| {
        format!(
            "{}{path}?api-version={}&$skiptoken={}&maxresults={max}",
            ctx.base,
            ctx.api_version,
            URL_SAFE_NO_PAD.encode(k.as_bytes())
        )
    });
    let value: Vec<Value> = items.into_iter().skip(start).take(max).map(|(_, v)| v).collect();
    Ok(json!({"value": value, "nextLink": next}))
}

async fn list_secrets(req: VaultRequest) -> Response {
    answer(list_all(&req))
}

fn list_all(req: &VaultRequest) -> Result<Value, Fail> {
    let VaultRequest { sim, uri, headers } = req;
    let ctx = guard(sim, headers, uri, "list", None)?;
    let mut items: Vec<(String, Value)> = {
        let tenant = lock(&sim.tenant);
        tenant
            .secrets
            .iter()
            .filter_map(|(name, versions)| {
                let latest = versions.last()?;
                Some((name.to_ascii_lowercase(), bundle(format!("{}/secrets/{name}", ctx.base), latest, false)))
            })
            .collect()
    };
    items.sort_by(|a, b| a.0.cmp(&b.0));
    page(&ctx, "/secrets", items)
}

async fn list_versions(req: VaultRequest, name: Result<Path<String>, PathRejection>) -> Response {
    answer(versions(&req, name))
}

fn versions(req: &VaultRequest, name: Result<Path<String>, PathRejection>) -> Result<Value, Fail> {
    let VaultRequest { sim, uri, headers } = req;
    let named = name.as_ref().ok().map(|Path(n)| n.clone());
    let ctx = guard(sim, headers, uri, "list", named.as_deref())?;
    let name = path_or_bad(name)?;
    check_name(&name)?;
    let (stored, items) = {
        let tenant = lock(&sim.tenant);
        let Some(stored) = stored_name(&tenant.secrets, &name) else { return Err(not_found(&name)) };
        // Key Vault documents no order for the versions list: answer them by version id (random), not
        // by creation, so a caller that takes the last item for the newest is caught.
        let mut items: Vec<(String, Value)> = tenant
            .secrets
            .get(&stored)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|v| (v.version.clone(), bundle(format!("{}/secrets/{stored}/{}", ctx.base, v.version), v, false)))
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        (stored, items)
    };
    page(&ctx, &format!("/secrets/{stored}/versions"), items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_key_vault_rules() {
        assert!(valid_name("defender-client-secret"));
        assert!(valid_name(&"a".repeat(127)));
        assert!(!valid_name(&"a".repeat(128)));
        assert!(!valid_name(""));
        assert!(!valid_name("bad_name"));
        assert!(!valid_name("bad.name"));
    }

    #[test]
    fn local_vault_hosts_are_recognised() {
        assert!(is_local_vault_host("myvault.vault.localhost:8443"));
        assert!(is_local_vault_host("myvault.vault.localhost"));
        assert!(!is_local_vault_host("127.0.0.1:8443"));
        assert_eq!(vault_name("myvault.vault.localhost:1"), "myvault");
        assert_eq!(vault_name("127.0.0.1:1"), "tenant-sim");
        assert_eq!(hostname("[::1]:443"), "::1");
    }
}
