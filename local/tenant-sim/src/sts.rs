//! A strict stand-in for AWS STS `GetWebIdentityToken` (IAM outbound identity federation), the
//! "AWS outbound issuer" Entra trusts in `CredentialMode=federated-sts`. No local AWS stand-in
//! implements this operation, so it lives here, beside the simulated Entra that verifies its tokens.
//!
//! Plain HTTP on its own loopback port (the AWS SDK takes it through `AWS_ENDPOINT_URL_STS`):
//!
//! | route | what |
//! |---|---|
//! | `POST /` `Action=GetWebIdentityToken` (awsQuery, version 2011-06-15) | a JWT for the calling role |
//! | `GET /.well-known/openid-configuration` | the issuer's discovery document |
//! | `GET /.well-known/jwks.json` | the issuer's keys |
//!
//! What it refuses, as AWS would (the least favourable reading where the docs are silent):
//! - a request that is not SigV4-signed for service `sts` in the stand-in's region with a registered
//!   access key (403 `InvalidClientTokenId` / `SignatureDoesNotMatch` / `IncompleteSignature`), or
//!   whose session token does not match (403 `InvalidClientTokenId`), or signed more than 15 minutes
//!   away from now (403 `SignatureDoesNotMatch`, "Signature expired");
//! - an account where outbound identity federation has not been enabled (403
//!   `OutboundWebIdentityFederationDisabledException`) — it is off until [`RunningSts::enable_federation`];
//! - a malformed request: no `Audience.member.N`, more than 10, `DurationSeconds` outside 60–3600, a
//!   `SigningAlgorithm` other than `RS256`/`ES384` or none (400 `ValidationError`); `ES384` is not
//!   modelled (400);
//! - **whatever the role's own policies do not allow** (403 `AccessDenied`): the request is evaluated
//!   against the identity policies registered for the role — in the tests, the resolved statements of
//!   `infra/template.yaml` — with the condition keys `sts:IdentityTokenAudience` (multi-valued),
//!   `sts:DurationSeconds` and `sts:SigningAlgorithm`. A key the request does not carry fails every
//!   single-valued condition on it (so `NumericLessThanEquals sts:DurationSeconds 3600` denies a request
//!   without `DurationSeconds`), as in IAM; an operator this evaluator does not know fails too.
//!
//! The token: RS256 with the issuer's key (`kid` in the header), `iss` the issuer URL, `sub` the role
//! ARN, `aud` the audience (a string for one, an array for several), `iat`/`nbf` now, `exp` now +
//! `DurationSeconds` (default 300), a `jti`, and the `https://sts.amazonaws.com/` claim with the account.

use crate::tokens::{SigningKey, TokenError};
use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// A principal that may call the stand-in: the access key Lambda gives a function for its role.
#[derive(Debug, Clone)]
pub struct StsPrincipal {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY` (a test value).
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, when the credentials carry one (role credentials do).
    pub session_token: Option<String>,
    /// The role the credentials belong to (`arn:aws:iam::<account>:role/<name>`): the token's `sub`.
    pub role_arn: String,
    /// The role's identity policy documents (`{"Version", "Statement": [...]}`).
    pub policies: Vec<Value>,
}

/// A token the stand-in issued (for assertions; the token itself is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// Its `sub` (the role ARN).
    pub subject: String,
    /// Its audiences.
    pub audience: Vec<String>,
    /// Its lifetime in seconds.
    pub duration_s: i64,
}

/// A refused request (for assertions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The AWS error code.
    pub code: String,
    /// Its message.
    pub message: String,
}

#[derive(Debug, Default)]
struct Book {
    principals: Vec<StsPrincipal>,
    federation_enabled: bool,
    issued: Vec<Issued>,
    refused: Vec<Refusal>,
}

struct StsState {
    account: String,
    region: String,
    issuer: String,
    key: SigningKey,
    book: Mutex<Book>,
}

fn book(s: &StsState) -> std::sync::MutexGuard<'_, Book> {
    s.book.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running STS stand-in; stops when dropped.
pub struct RunningSts {
    /// `http://127.0.0.1:<port>` (`AWS_ENDPOINT_URL_STS`), also the issuer URL.
    pub url: String,
    state: Arc<StsState>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RunningSts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSts").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Drop for RunningSts {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RunningSts {
    /// The issuer URL (`iss` of its tokens; what the Entra app's federated credential names).
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// Registers a principal (replacing one with the same access key).
    pub fn register(&self, principal: StsPrincipal) {
        let mut b = book(&self.state);
        b.principals.retain(|p| p.access_key_id != principal.access_key_id);
        b.principals.push(principal);
    }

    /// `iam:EnableOutboundWebIdentityFederation` for the account.
    pub fn enable_federation(&self) {
        book(&self.state).federation_enabled = true;
    }

    /// The tokens issued so far.
    pub fn issued(&self) -> Vec<Issued> {
        book(&self.state).issued.clone()
    }

    /// The requests refused so far.
    pub fn refused(&self) -> Vec<Refusal> {
        book(&self.state).refused.clone()
    }
}

/// Starts the stand-in on an ephemeral loopback port for `account` in `region`.
///
/// # Errors
/// The port cannot be bound, or the signing key cannot be generated.
pub async fn start(account: &str, region: &str) -> Result<RunningSts, StsStartError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(StsStartError::Bind)?;
    let url = format!("http://{}", listener.local_addr().map_err(StsStartError::Bind)?);
    let state = Arc::new(StsState {
        account: account.to_string(),
        region: region.to_string(),
        issuer: url.clone(),
        key: SigningKey::generate()?,
        book: Mutex::new(Book::default()),
    });
    let app = Router::new()
        .route("/", post(action))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(state.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(RunningSts { url, state, task })
}

/// Why the stand-in could not start.
#[derive(Debug, thiserror::Error)]
pub enum StsStartError {
    /// Binding failed.
    #[error("cannot bind the STS stand-in")]
    Bind(#[source] std::io::Error),
    /// Key generation failed.
    #[error("cannot generate the issuer key")]
    Key(#[from] TokenError),
}

async fn discovery(State(s): State<Arc<StsState>>) -> Json<Value> {
    Json(json!({
        "issuer": s.issuer,
        "jwks_uri": format!("{}/.well-known/jwks.json", s.issuer),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES384"],
    }))
}

async fn jwks(State(s): State<Arc<StsState>>) -> Json<Value> {
    Json(json!({"keys": [s.key.jwk.clone()]}))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn error(s: &StsState, status: StatusCode, code: &str, message: &str) -> Response {
    book(s).refused.push(Refusal { code: code.to_string(), message: message.to_string() });
    let kind = if status.is_server_error() { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        xml_escape(code),
        xml_escape(message),
        uuid::Uuid::new_v4()
    );
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for HMAC.
    match HmacSha256::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RFC 3986 encoding as SigV4 wants it (unreserved characters kept).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "-_.~".contains(c) || (keep_slash && c == '/') {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct SigV4<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(v: &str) -> Option<SigV4<'_>> {
    let rest = v.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        if let Some(c) = part.strip_prefix("Credential=") {
            credential = Some(c);
        } else if let Some(h) = part.strip_prefix("SignedHeaders=") {
            signed = Some(h);
        } else if let Some(sig) = part.strip_prefix("Signature=") {
            signature = Some(sig);
        }
    }
    let mut scope = credential?.split('/');
    let (access_key, date, region, service, terminator) =
        (scope.next()?, scope.next()?, scope.next()?, scope.next()?, scope.next()?);
    if terminator != "aws4_request" || scope.next().is_some() {
        return None;
    }
    Some(SigV4 {
        access_key,
        date,
        region,
        service,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    })
}

/// Verifies the request's SigV4 signature; answers the calling principal.
fn authenticate(
    s: &StsState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<StsPrincipal, Box<Response>> {
    let deny = |code: &str, msg: &str| Box::new(error(s, StatusCode::FORBIDDEN, code, msg));
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| deny("MissingAuthenticationToken", "Request is missing Authentication Token"))?;
    let sig = parse_authorization(auth).ok_or_else(|| {
        deny("IncompleteSignature", "Authorization header requires a complete SigV4 credential scope")
    })?;
    let principal = book(s)
        .principals
        .iter()
        .find(|p| p.access_key_id == sig.access_key)
        .cloned()
        .ok_or_else(|| deny("InvalidClientTokenId", "The security token included in the request is invalid."))?;
    if sig.service != "sts" || sig.region != s.region {
        return Err(deny(
            "SignatureDoesNotMatch",
            &format!("Credential should be scoped to a valid region and service 'sts' ({} here)", s.region),
        ));
    }
    let token = headers.get("x-amz-security-token").and_then(|v| v.to_str().ok());
    if token != principal.session_token.as_deref() {
        return Err(deny("InvalidClientTokenId", "The security token included in the request is invalid."));
    }
    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let when = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| deny("IncompleteSignature", "X-Amz-Date is missing or malformed"))?
        .and_utc();
    if (chrono::Utc::now() - when).num_seconds().abs() > 15 * 60 || !amz_date.starts_with(sig.date) {
        return Err(deny("SignatureDoesNotMatch", "Signature expired or not within the credential's date"));
    }
    for required in ["host", "x-amz-date"] {
        if !sig.signed_headers.contains(&required) {
            return Err(deny("SignatureDoesNotMatch", &format!("'{required}' must be a signed header")));
        }
    }
    let mut canonical_headers = String::new();
    for name in &sig.signed_headers {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(deny("SignatureDoesNotMatch", &format!("signed header '{name}' is missing")));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let mut query: Vec<(String, String)> = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
        .collect();
    query.sort();
    let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let payload = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| hex_sha256(body), str::to_string);
    let canonical = format!(
        "{method}\n{}\n{query}\n{canonical_headers}\n{}\n{payload}",
        uri_encode(uri.path(), true),
        sig.signed_headers.join(";")
    );
    let scope = format!("{}/{}/{}/aws4_request", sig.date, sig.region, sig.service);
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex_sha256(canonical.as_bytes()));
    let k = hmac(format!("AWS4{}", principal.secret_access_key).as_bytes(), sig.date);
    let k = hmac(&k, sig.region);
    let k = hmac(&k, sig.service);
    let k = hmac(&k, "aws4_request");
    let expected = hex::encode(hmac(&k, &to_sign));
    if !constant_time_eq(expected.as_bytes(), sig.signature.as_bytes()) {
        return Err(deny(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    Ok(principal)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request's condition context: key (lowercase) → values.
type Context = Vec<(&'static str, Vec<String>)>;

fn context_values<'a>(ctx: &'a Context, key: &str) -> Option<&'a Vec<String>> {
    ctx.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// One operator applied to one request value against the policy's values; `None`: not modelled.
fn compare(op: &str, actual: &str, wanted: &[String]) -> Option<bool> {
    let num = |s: &str| s.trim().parse::<f64>().ok();
    Some(match op {
        "StringEquals" => wanted.iter().any(|w| w == actual),
        "StringNotEquals" => wanted.iter().all(|w| w != actual),
        "StringEqualsIgnoreCase" => wanted.iter().any(|w| w.eq_ignore_ascii_case(actual)),
        "StringLike" => wanted.iter().any(|w| glob(w, actual)),
        "StringNotLike" => wanted.iter().all(|w| !glob(w, actual)),
        "NumericEquals"
        | "NumericNotEquals"
        | "NumericLessThan"
        | "NumericLessThanEquals"
        | "NumericGreaterThan"
        | "NumericGreaterThanEquals" => {
            let Some(a) = num(actual) else { return Some(false) };
            let test = |w: &String| {
                num(w).is_some_and(|w| match op {
                    "NumericEquals" => a == w,
                    "NumericNotEquals" => a != w,
                    "NumericLessThan" => a < w,
                    "NumericLessThanEquals" => a <= w,
                    "NumericGreaterThan" => a > w,
                    _ => a >= w,
                })
            };
            if op == "NumericNotEquals" { wanted.iter().all(test) } else { wanted.iter().any(test) }
        }
        _ => return None,
    })
}

/// IAM's condition semantics for one `operator: {key: values}` block.
fn condition_holds(operator: &str, block: &Value, ctx: &Context) -> bool {
    let Some(block) = block.as_object() else { return false };
    let (set, op) = match operator.split_once(':') {
        Some((q @ ("ForAllValues" | "ForAnyValue"), op)) => (Some(q), op),
        Some(_) => return false,
        None => (None, operator),
    };
    let (op, if_exists) = match op.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (op, false),
    };
    block.iter().all(|(key, wanted)| {
        let wanted = strings(wanted);
        let actual = context_values(ctx, key);
        if op == "Null" {
            // Null: true = the key is absent, false = present.
            let absent = actual.is_none_or(Vec::is_empty);
            return wanted.iter().all(|w| (w == "true") == absent);
        }
        match (set, actual) {
            // ForAllValues over no values is true (IAM's documented trap); ForAnyValue is false.
            (Some("ForAllValues"), None) => true,
            (Some(_), None) => false,
            (None, None) => if_exists,
            (Some("ForAllValues"), Some(vals)) => {
                vals.iter().all(|v| compare(op, v, &wanted).unwrap_or(false)) && compare(op, "", &wanted).is_some()
            }
            (Some(_), Some(vals)) => vals.iter().any(|v| compare(op, v, &wanted).unwrap_or(false)),
            // A single-valued operator on the request's values: every one must satisfy it.
            (None, Some(vals)) => !vals.is_empty() && vals.iter().all(|v| compare(op, v, &wanted).unwrap_or(false)),
        }
    })
}

fn action_matches(pattern: &str, action: &str) -> bool {
    glob(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// Whether the role's policies allow `action` on `*` in `ctx` (an explicit Deny wins; no Allow denies).
fn allowed(policies: &[Value], action: &str, ctx: &Context) -> bool {
    let mut allow = false;
    for doc in policies {
        let statements = match doc.get("Statement") {
            Some(Value::Array(a)) => a.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => continue,
        };
        for st in statements {
            // NotAction / NotResource / NotPrincipal are not modelled: such a statement grants nothing.
            if st.get("NotAction").is_some() || st.get("NotResource").is_some() {
                if st.get("Effect").and_then(Value::as_str) == Some("Deny") {
                    return false;
                }
                continue;
            }
            let acts = strings(st.get("Action").unwrap_or(&Value::Null));
            let res = strings(st.get("Resource").unwrap_or(&Value::Null));
            if !acts.iter().any(|a| action_matches(a, action)) || !res.iter().any(|r| r == "*") {
                continue;
            }
            let conds = st.get("Condition").and_then(Value::as_object);
            let holds = conds.is_none_or(|c| c.iter().all(|(op, block)| condition_holds(op, block, ctx)));
            if !holds {
                continue;
            }
            match st.get("Effect").and_then(Value::as_str) {
                Some("Deny") => return false,
                Some("Allow") => allow = true,
                _ => {}
            }
        }
    }
    allow
}

async fn action(State(s): State<Arc<StsState>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let bad = |msg: &str| error(&s, StatusCode::BAD_REQUEST, "ValidationError", msg);
    if get("Action") != Some("GetWebIdentityToken") {
        let a = get("Action").unwrap_or_default();
        return error(
            &s,
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!("Could not find operation {a} for version 2011-06-15 (this stand-in serves GetWebIdentityToken)"),
        );
    }
    if get("Version") != Some("2011-06-15") {
        return bad("Version must be 2011-06-15");
    }
    let principal = match authenticate(&s, &method, &uri, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let audiences: Vec<String> =
        (1..=11).map_while(|i| get(&format!("Audience.member.{i}")).map(str::to_string)).collect();
    if audiences.is_empty() || audiences.len() > 10 {
        return bad(
            "1 validation error detected: Value at 'audience' failed to satisfy constraint: Member must have length between 1 and 10",
        );
    }
    let duration = match get("DurationSeconds").map(str::parse::<i64>) {
        None => None,
        Some(Ok(d)) if (60..=3600).contains(&d) => Some(d),
        Some(_) => {
            return bad(
                "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 60 and 3600",
            );
        }
    };
    let alg = match get("SigningAlgorithm") {
        Some("RS256") => "RS256",
        Some("ES384") => return bad("SigningAlgorithm ES384 is not modelled by this stand-in; ask for RS256"),
        _ => return bad("SigningAlgorithm must be RS256 or ES384"),
    };
    if !book(&s).federation_enabled {
        return error(
            &s,
            StatusCode::FORBIDDEN,
            "OutboundWebIdentityFederationDisabledException",
            "Outbound web identity federation is not enabled for this account (iam:EnableOutboundWebIdentityFederation)",
        );
    }
    let mut ctx: Context =
        vec![("sts:IdentityTokenAudience", audiences.clone()), ("sts:SigningAlgorithm", vec![alg.into()])];
    if let Some(d) = duration {
        ctx.push(("sts:DurationSeconds", vec![d.to_string()]));
    }
    if !allowed(&principal.policies, "sts:GetWebIdentityToken", &ctx) {
        return error(
            &s,
            StatusCode::FORBIDDEN,
            "AccessDenied",
            &format!(
                "User: {} is not authorized to perform: sts:GetWebIdentityToken because no identity-based policy allows the sts:GetWebIdentityToken action",
                principal.role_arn
            ),
        );
    }
    let duration = duration.unwrap_or(300);
    let now = chrono::Utc::now().timestamp();
    let aud = if audiences.len() == 1 { json!(audiences[0]) } else { json!(audiences) };
    let claims = json!({
        "iss": s.issuer, "sub": principal.role_arn, "aud": aud,
        "iat": now, "nbf": now, "exp": now + duration, "jti": uuid::Uuid::new_v4().to_string(),
        "https://sts.amazonaws.com/": {"aws_account": s.account, "source_region": s.region, "principal_id": principal.role_arn},
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(s.key.kid.clone());
    header.typ = Some("JWT".into());
    let Ok(token) = s.key.sign_value(&header, &claims) else {
        return error(&s, StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "signing failed");
    };
    book(&s).issued.push(Issued { subject: principal.role_arn.clone(), audience: audiences, duration_s: duration });
    let expiration = chrono::DateTime::from_timestamp(now + duration, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let body = format!(
        "<GetWebIdentityTokenResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetWebIdentityTokenResult><WebIdentityToken>{token}</WebIdentityToken><Expiration>{expiration}</Expiration></GetWebIdentityTokenResult><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></GetWebIdentityTokenResponse>",
        uuid::Uuid::new_v4()
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template_statement() -> Value {
        json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "TokenForEntraOnly", "Effect": "Allow", "Action": "sts:GetWebIdentityToken", "Resource": "*",
        "Condition": {
            "ForAllValues:StringEquals": {"sts:IdentityTokenAudience": "api://AzureADTokenExchange"},
            "NumericLessThanEquals": {"sts:DurationSeconds": 3600}
        }}]})
    }

    fn ctx(aud: &[&str], duration: Option<i64>) -> Context {
        let mut c: Context = vec![("sts:IdentityTokenAudience", aud.iter().map(|a| a.to_string()).collect())];
        if let Some(d) = duration {
            c.push(("sts:DurationSeconds", vec![d.to_string()]));
        }
        c
    }

    #[test]
    fn the_templates_statement_allows_only_entra_with_a_bounded_duration() {
        let p = [template_statement()];
        let a = "sts:GetWebIdentityToken";
        assert!(allowed(&p, a, &ctx(&["api://AzureADTokenExchange"], Some(300))));
        assert!(allowed(&p, a, &ctx(&["api://AzureADTokenExchange"], Some(3600))));
        assert!(!allowed(&p, a, &ctx(&["api://AzureADTokenExchange"], Some(3601))), "over the cap");
        assert!(
            !allowed(&p, a, &ctx(&["api://AzureADTokenExchange"], None)),
            "no DurationSeconds: the condition fails"
        );
        assert!(!allowed(&p, a, &ctx(&["https://example.com"], Some(300))), "another audience");
        assert!(!allowed(&p, a, &ctx(&["api://AzureADTokenExchange", "x"], Some(300))), "ForAllValues: every audience");
        assert!(!allowed(&p, "sts:AssumeRole", &ctx(&["api://AzureADTokenExchange"], Some(300))));
        assert!(!allowed(&[], a, &ctx(&["api://AzureADTokenExchange"], Some(300))), "no policy: implicit deny");
        let mut deny = template_statement();
        deny["Statement"].as_array_mut().unwrap().push(json!({"Effect": "Deny", "Action": "sts:*", "Resource": "*"}));
        assert!(!allowed(&[deny], a, &ctx(&["api://AzureADTokenExchange"], Some(300))), "explicit deny wins");
        let unknown = json!({"Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*",
            "Condition": {"DateLessThanMaybe": {"aws:CurrentTime": "2030-01-01"}}}]});
        assert!(!allowed(&[unknown], a, &ctx(&["api://AzureADTokenExchange"], Some(300))), "unknown operator fails");
    }

    #[test]
    fn sigv4_scope_is_parsed_strictly() {
        let v = "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        let s = parse_authorization(v).unwrap();
        assert_eq!((s.access_key, s.date, s.region, s.service), ("AKID", "20261205", "us-east-1", "sts"));
        assert_eq!(s.signed_headers, ["host", "x-amz-date"]);
        assert!(
            parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/sts, Signature=abc").is_none()
        );
        assert!(parse_authorization("Bearer x").is_none());
    }
}
