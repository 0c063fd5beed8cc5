//! The Lambda adapter: API Gateway v2 (HTTP API) and function-URL events through `lambda_http`.
//!
//! 1. Only `POST` with a JSON body; bodies over [`MAX_BODY`] are 413 before anything else is read.
//! 2. The caller is authenticated as one **sender** ([`defender_shared::senders`]): Standard Webhooks
//!    (`webhook-id`/`-timestamp`/`-signature`, 5-minute window, several signatures and secrets) or, for
//!    senders that can do nothing better, GitHub's `X-Hub-Signature-256` (no timestamp, so no replay
//!    window — weaker; off unless a sender uses it). The sender is the one whose key verified the
//!    signature; the `webhook-sender` header, when sent, limits the keys tried to that sender's.
//!    Secrets come from the vault on every request through the shared TTL cache, so a rotation is
//!    picked up within the TTL. Any failure is 401 with one generic body; the log gets the reason,
//!    never the body or a signature.
//! 3. A `webhook-id` this instance already answered definitely (not 5xx) for the same sender within
//!    twice the window gets the same answer again without work (409 when the answer was too large to
//!    keep); the id is recorded only after that answer, so a retry after a 5xx or a cut-short
//!    invocation is processed (the enrichment is read-only, so a replay across instances costs a
//!    lookup, nothing more). Ids are per sender: another sender's id never returns this one's answer.
//! 4. The body is parsed ([`crate::request`]) and its `tenant` checked against the sender's binding:
//!    another tenant is 403 `TenantNotAllowed`, none for a sender of several tenants 400
//!    `TenantRequired` — both before any Defender call. The use case runs within the Lambda deadline,
//!    and the response document is returned — 200 even when some items are `error`.

use crate::{
    enrich::{DefenderLookups, enrich},
    request::EnrichRequest,
};
use defender_shared::{
    ids::TenantName,
    senders::{BindingError, SENDER_HEADER, Scheme, Sender, Senders},
    vault::{SecretStore, VaultError, read_keys},
    webhook,
};
use lambda_http::{Body, Request, RequestExt, Response, http::StatusCode};
use serde_json::json;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tracing::{info, instrument, warn};

/// Largest accepted body (documented in `infra/openapi.yaml`).
pub const MAX_BODY: usize = 256 * 1024;

/// Time kept back from the Lambda deadline to write the response.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);
/// Deadline used when no Lambda context is present (local runs).
const DEFAULT_BUDGET: Duration = Duration::from_secs(10);

/// Resolves a tenant name to the lookups for it.
pub trait TenantLookups: Send + Sync {
    /// The lookups for `tenant` (the default tenant when `None`), bounded by `deadline`, and the
    /// tenant's name.
    ///
    /// # Errors
    /// A message for the caller when the tenant is unknown.
    fn lookups(
        &self,
        tenant: Option<&TenantName>,
        deadline: tokio::time::Instant,
    ) -> Result<(String, Arc<dyn DefenderLookups>), String>;
}

/// Cold-start state.
pub struct State {
    /// Where the webhook secrets live.
    pub store: Arc<dyn SecretStore>,
    /// Who may sign requests, with which keys, about which tenants.
    pub senders: Senders,
    /// Defender, per tenant.
    pub tenants: Arc<dyn TenantLookups>,
    /// Unix seconds now (injected for tests).
    pub clock: fn() -> i64,
    /// `(sender, webhook-id)`s answered definitely, with when and (when small) the answer.
    pub seen: Mutex<HashMap<String, Answered>>,
    /// Where each result is POSTed as well, the client to do it with, and the vault name of the
    /// outbound key it is signed with (never an inbound key).
    pub callback: Option<(url::Url, reqwest::Client, String)>,
    /// Allow-listed hunting queries run per matching indicator.
    pub hunting: Vec<&'static crate::hunting::NamedQuery>,
    /// SOC events (`EVENT_BUS`): verdicts at or above a severity ([`crate::events`]); off by default.
    pub events: crate::events::VerdictEvents,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("senders", &self.senders).finish_non_exhaustive()
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::Text(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", lambda_http::http::HeaderValue::from_static("application/json"));
    r
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    reply(status, json!({"error": {"code": code, "message": message}}))
}

/// The webhook secrets could not be read because the vault is unavailable: not the sender's fault, so
/// not a 401 — a 503 with `Retry-After` that Standard Webhooks senders retry.
fn store_unavailable(e: &VaultError) -> Response<Body> {
    warn!(error = %e, "webhook secrets unavailable: answering 503");
    let mut r = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "SecretStoreUnavailable",
        "the webhook secrets cannot be read now; retry shortly",
    );
    r.headers_mut().insert("retry-after", lambda_http::http::HeaderValue::from_static("5"));
    r
}

/// Handles one request.
#[instrument(skip_all, fields(webhook_id, sender))]
pub async fn handle(state: &State, req: Request) -> Response<Body> {
    if req.method() != lambda_http::http::Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "use POST");
    }
    let body: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if body.len() > MAX_BODY {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge", &format!("the body exceeds {MAX_BODY} bytes"));
    }
    let headers = req.headers();
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let now = (state.clock)();
    let (sender, verified) = match authenticate(state, &header, body, now).await {
        Ok(found) => found,
        Err(Refused::Unavailable(e)) => return store_unavailable(&e),
        Err(Refused::Unauthenticated(reason)) => {
            warn!(reason = %reason, bytes = body.len(), "unauthenticated webhook refused");
            return error(StatusCode::UNAUTHORIZED, "Unauthorized", "missing, invalid or stale signature");
        }
    };
    tracing::Span::current().record("sender", sender.name.as_str());
    let Some(webhook_id) = verified.id.clone() else {
        return answer(state, &req, body, &verified, sender).await;
    };
    tracing::Span::current().record("webhook_id", webhook_id.as_str());
    defender_shared::telemetry::correlate(&webhook_id);
    // Per sender: an id another sender chose never returns this sender's stored answer.
    let id = format!("{}\n{webhook_id}", sender.name);
    let window = i64::try_from(webhook::DEFAULT_WINDOW.as_secs()).unwrap_or(i64::MAX);
    {
        let mut seen = state.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, a| now.saturating_sub(a.at) <= 2 * window);
        match seen.get(&id) {
            Some(Answered { stored: Some((status, text)), .. }) => {
                info!("webhook id already answered: the stored answer is returned");
                let mut r = Response::new(Body::Text(text.clone()));
                *r.status_mut() = *status;
                r.headers_mut().insert("content-type", lambda_http::http::HeaderValue::from_static("application/json"));
                return r;
            }
            Some(Answered { stored: None, .. }) => {
                info!("webhook id already processed");
                return error(StatusCode::CONFLICT, "AlreadyProcessed", "this webhook-id was already processed");
            }
            None => {}
        }
    }
    let r = answer(state, &req, body, &verified, sender).await;
    // Only a definite answer is recorded: after a 5xx (or an invocation cut short) the sender's
    // retry is processed, not refused.
    if !r.status().is_server_error() {
        let stored = match r.body() {
            Body::Text(t) if t.len() <= MAX_STORED_ANSWER => Some((r.status(), t.clone())),
            _ => None,
        };
        let mut seen = state.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.insert(id, Answered { at: now, stored });
    }
    r
}

/// Largest answer kept for a retry of the same `webhook-id`, bytes; a retry of a larger one is 409.
const MAX_STORED_ANSWER: usize = 16 * 1024;

/// A `webhook-id` this instance answered definitely.
#[derive(Debug, Clone)]
pub struct Answered {
    /// When, unix seconds.
    pub at: i64,
    /// The answer, when small enough to keep for a retry.
    pub stored: Option<(StatusCode, String)>,
}

/// Why a request was not authenticated.
enum Refused {
    /// No sender's key verifies it (the reason is for the log only).
    Unauthenticated(String),
    /// The keys could not be read: not the sender's fault.
    Unavailable(VaultError),
}

/// The sender whose key verifies the request, and what the signature told us. The scheme is
/// Standard Webhooks when its header is present (or no sender uses GitHub's); the senders tried are
/// the one `webhook-sender` names, or all of the scheme while their keys are few
/// ([`Senders::candidates`]) — the body is hashed once per key tried, never per candidate signature.
async fn authenticate<'s, 'h>(
    state: &'s State,
    header: &impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    now: i64,
) -> Result<(&'s Sender, webhook::Verified), Refused> {
    let scheme = if header("webhook-signature").is_some() || !state.senders.uses(Scheme::Github) {
        Scheme::Standard
    } else {
        Scheme::Github
    };
    let candidates =
        state.senders.candidates(scheme, header(SENDER_HEADER)).map_err(|e| Refused::Unauthenticated(e.to_string()))?;
    let mut unavailable = None;
    let mut last = webhook::SignatureError::NoSecret;
    for sender in candidates {
        let keys = match read_keys(state.store.as_ref(), &sender.secret_names).await {
            Ok(keys) => keys,
            Err(e) => {
                unavailable.get_or_insert(e);
                continue;
            }
        };
        let verified = match scheme {
            Scheme::Standard => webhook::verify_standard(header, body, &keys, now, webhook::DEFAULT_WINDOW),
            Scheme::Github => webhook::verify_github(header("x-hub-signature-256"), body, &keys),
        };
        match verified {
            Ok(v) => return Ok((sender, v)),
            // This sender's keys do not verify it: try the next sender's.
            Err(e @ (webhook::SignatureError::Mismatch | webhook::SignatureError::NoSecret)) => last = e,
            // The headers themselves are wrong (missing, malformed, stale): the same for every key.
            Err(e) => return Err(Refused::Unauthenticated(e.to_string())),
        }
    }
    match unavailable {
        Some(e) => Err(Refused::Unavailable(e)),
        None => Err(Refused::Unauthenticated(last.to_string())),
    }
}

/// The answer to an authenticated request: parse, hold the tenant to the sender's binding, enrich,
/// call back.
async fn answer(
    state: &State,
    req: &Request,
    body: &[u8],
    verified: &webhook::Verified,
    sender: &Sender,
) -> Response<Body> {
    let parsed = match EnrichRequest::parse(body) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, "InvalidRequest", &e.to_string()),
    };
    // Before any Defender call: the sender may ask about its own tenants only.
    let bound = match sender.resolve(parsed.tenant.as_ref()) {
        Ok(t) => t,
        Err(e @ BindingError::NotBound { .. }) => {
            warn!(sender = %sender.name, reason = %e, "tenant outside the sender's binding refused");
            return error(StatusCode::FORBIDDEN, "TenantNotAllowed", &e.to_string());
        }
        Err(e @ BindingError::TenantRequired { .. }) => {
            return error(StatusCode::BAD_REQUEST, "TenantRequired", &e.to_string());
        }
    };
    let deadline = deadline(req);
    let (tenant, lookups) = match state.tenants.lookups(Some(bound), deadline) {
        Ok(t) => t,
        Err(message) => return error(StatusCode::BAD_REQUEST, "UnknownTenant", &message),
    };
    defender_shared::telemetry::tenant(&tenant);
    let mut out = enrich(&parsed, &tenant, lookups.as_ref(), deadline, &state.hunting).await;
    info!(items = out.results.len(), found = out.summary.items.found, errors = out.summary.items.error, "enriched");
    if let Some((url, http, key_name)) = &state.callback {
        let id = format!("{}-result", verified.id.as_deref().unwrap_or("github"));
        out.callback = Some(deliver(state, (url, http, key_name), &id, &out, deadline).await);
    }
    if state.events.publisher.is_on() {
        publish_verdict(state, &out, sender, verified.id.as_deref(), deadline).await;
    }
    match serde_json::to_value(&out) {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => {
            warn!(error = %e, "response serialisation failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "the response could not be written")
        }
    }
}

/// Publishes the verdict when it meets the configured severity, within the request's deadline (at
/// most 1 s): the answer never waits longer, and a failure changes nothing in it.
async fn publish_verdict(
    state: &State,
    out: &crate::response::EnrichResponse,
    sender: &Sender,
    webhook_id: Option<&str>,
    deadline: tokio::time::Instant,
) {
    match crate::events::verdict(out, sender.name.as_str(), webhook_id, &state.events.min_severity) {
        Ok(Some(event)) => {
            let budget = deadline.saturating_duration_since(tokio::time::Instant::now()).min(Duration::from_secs(1));
            state.events.publisher.publish(vec![event], Some(budget)).await;
        }
        Ok(None) => {}
        Err(e) => warn!(error = %e, "verdict event not built"),
    }
}

/// POSTs the result to the callback, signed (Standard Webhooks) with the callback's own outbound key,
/// within the request's deadline (at most 2 s). The answer to the caller never waits longer than that.
/// Signing with an inbound key would hand every callback receiver a key that webhook-enrich accepts.
async fn deliver(
    state: &State,
    (url, http, key_name): (&url::Url, &reqwest::Client, &String),
    id: &str,
    out: &crate::response::EnrichResponse,
    deadline: tokio::time::Instant,
) -> crate::response::CallbackDelivery {
    use crate::response::CallbackDelivery;
    let failed = |reason: String| CallbackDelivery { delivered: false, status: None, reason: Some(reason) };
    let Ok(body) = serde_json::to_vec(out) else { return failed("the result could not be serialised".into()) };
    let keys = read_keys(state.store.as_ref(), std::slice::from_ref(key_name)).await.unwrap_or_default();
    let Some(key) = keys.first() else { return failed("no callback secret to sign the callback with".into()) };
    let ts = (state.clock)();
    let Ok(sig) = webhook::sign_standard(key, id, ts, &body) else {
        return failed("the callback secret is not a whsec_ value".into());
    };
    let budget = deadline.saturating_duration_since(tokio::time::Instant::now()).min(Duration::from_secs(2));
    let sent = http
        .post(url.clone())
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .timeout(budget)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            CallbackDelivery { delivered: true, status: Some(r.status().as_u16()), reason: None }
        }
        Ok(r) => {
            warn!(status = r.status().as_u16(), host = url.host_str().unwrap_or(""), "callback refused the result");
            CallbackDelivery {
                delivered: false,
                status: Some(r.status().as_u16()),
                reason: Some("the callback answered an error".into()),
            }
        }
        Err(e) => {
            warn!(error = %e, host = url.host_str().unwrap_or(""), "callback unreachable");
            failed(if e.is_timeout() {
                "the callback did not answer in time".into()
            } else {
                "the callback could not be reached".into()
            })
        }
    }
}

/// The Lambda's deadline minus a margin, as a tokio instant.
fn deadline(req: &Request) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let budget = req
        .lambda_context_ref()
        .map(|c| {
            let deadline_ms = c.deadline;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            Duration::from_millis(deadline_ms.saturating_sub(now_ms))
        })
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_BUDGET);
    now + budget.saturating_sub(DEADLINE_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Fake, M1, MemStore};
    use defender_shared::secret::SecretString;
    use serde_json::Value;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const NOW: i64 = 1_795_757_400;

    /// Fake Defenders by tenant name; a request that names no tenant asks the one named "default".
    struct Tenants(Vec<(&'static str, Arc<Fake>)>);
    impl TenantLookups for Tenants {
        fn lookups(
            &self,
            tenant: Option<&TenantName>,
            _deadline: tokio::time::Instant,
        ) -> Result<(String, Arc<dyn DefenderLookups>), String> {
            let name = tenant.map_or("default", TenantName::as_str);
            let (name, fake) =
                self.0.iter().find(|(n, _)| *n == name).ok_or_else(|| format!("unknown tenant {name}"))?;
            Ok((name.to_string(), fake.clone()))
        }
    }

    fn state(github: bool) -> (State, Arc<Fake>) {
        let fake = Arc::new(Fake::default());
        let store = MemStore::with(&[("webhook-secret", SECRET), ("github-secret", "It's a Secret to Everybody")]);
        let state = State {
            store: Arc::new(store),
            senders: Senders::implicit(
                vec!["webhook-secret-next".into(), "webhook-secret".into()],
                if github { vec!["github-secret".into()] } else { vec![] },
                "default".parse().unwrap(),
            ),
            tenants: Arc::new(Tenants(vec![("default", fake.clone())])),
            clock: || NOW,
            seen: Mutex::new(HashMap::new()),
            callback: None,
            hunting: Vec::new(),
            events: Default::default(),
        };
        (state, fake)
    }

    /// A real event fixture with `body` and extra headers filled in.
    fn event(fixture: &str, body: &str, headers: &[(&str, String)]) -> Request {
        let text = match fixture {
            "apigw" => include_str!("../tests/fixtures/apigw-v2-post-enrich.json"),
            _ => include_str!("../tests/fixtures/function-url-post.json"),
        };
        let mut v: Value = serde_json::from_str(text).unwrap();
        v["body"] = Value::String(body.to_string());
        for (k, val) in headers {
            v["headers"][*k] = Value::String(val.clone());
        }
        lambda_http::request::from_str(&v.to_string()).unwrap()
    }

    fn signed(id: &str, ts: i64, body: &str) -> Headers {
        let sig = webhook::sign_standard(&SecretString::new(SECRET), id, ts, body.as_bytes()).unwrap();
        vec![("webhook-id", id.to_string()), ("webhook-timestamp", ts.to_string()), ("webhook-signature", sig)]
    }

    type Headers = Vec<(&'static str, String)>;

    async fn run(state: &State, req: Request) -> (StatusCode, Value) {
        let r = handle(state, req).await;
        let status = r.status();
        let body = match r.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            _ => Value::Null,
        };
        (status, body)
    }

    #[tokio::test]
    async fn a_valid_signed_request_is_enriched_through_both_event_sources() {
        let (state, fake) = state(false);
        let body = format!(r#"{{"indicators":{{"machine_ids":["{M1}"],"ips":["999.0.0.1"]}}}}"#);
        for (i, fixture) in ["apigw", "url"].iter().enumerate() {
            let (status, out) = run(&state, event(fixture, &body, &signed(&format!("msg_{i}"), NOW - 10, &body))).await;
            assert_eq!(status, StatusCode::OK, "{out}");
            assert_eq!(out["tenant"], "default");
            assert_eq!(out["results"][0]["status"], "found");
            assert_eq!(out["results"][1]["status"], "invalid");
            assert!(out["results"][1]["reason"].as_str().unwrap().contains("999.0.0.1"));
        }
        assert_eq!(fake.count("machine"), 2);
    }

    #[tokio::test]
    async fn bad_signatures_are_401_and_do_no_work() {
        let (state, fake) = state(false);
        let body = format!(r#"{{"indicators":{{"machine_ids":["{M1}"]}}}}"#);
        let good = signed("msg_1", NOW, &body);
        let mut wrong_key = good.clone();
        wrong_key[2].1 =
            webhook::sign_standard(&SecretString::new("whsec_dGVzdA=="), "msg_1", NOW, body.as_bytes()).unwrap();
        let cases: Vec<(&str, String, Headers)> = vec![
            ("tampered body", body.replace("machine_ids", "sha1"), good.clone()),
            ("wrong key", body.clone(), wrong_key),
            ("stale timestamp", body.clone(), signed("msg_1", NOW - 301, &body)),
            ("future timestamp", body.clone(), signed("msg_1", NOW + 301, &body)),
            ("missing header", body.clone(), good[1..].to_vec()),
            ("unsigned", body.clone(), vec![]),
        ];
        for (what, b, h) in cases {
            let (status, out) = run(&state, event("apigw", &b, &h)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
            assert_eq!(out["error"]["code"], "Unauthorized", "{what}");
        }
        assert_eq!(fake.total.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn oversize_malformed_replayed_and_unknown_tenant() {
        let (state, fake) = state(false);
        let big = format!(r#"{{"alert":{{"x":"{}"}}}}"#, "a".repeat(MAX_BODY));
        let (status, _) = run(&state, event("apigw", &big, &signed("m1", NOW, &big))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let bad = "{\"indicators\": [";
        let (status, out) = run(&state, event("apigw", bad, &signed("m2", NOW, bad))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            out["error"]["message"].as_str().unwrap().starts_with("the body is not a valid enrichment request"),
            "{out}"
        );
        let body = format!(r#"{{"indicators":{{"machine_ids":["{M1}"]}}}}"#);
        let (status, first) = run(&state, event("apigw", &body, &signed("m3", NOW, &body))).await;
        assert_eq!(status, StatusCode::OK);
        let calls = fake.total.load(std::sync::atomic::Ordering::SeqCst);
        let (status, out) = run(&state, event("apigw", &body, &signed("m3", NOW, &body))).await;
        assert_eq!((status, &out), (StatusCode::OK, &first), "a seen webhook-id gets its stored answer");
        assert_eq!(fake.total.load(std::sync::atomic::Ordering::SeqCst), calls, "and is not processed twice");
        // A definite 400 is stored too.
        let (status, again) = run(&state, event("apigw", bad, &signed("m2", NOW, bad))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(again["error"]["code"], "InvalidRequest");
        let other = format!(r#"{{"tenant":"fabrikam","indicators":{{"machine_ids":["{M1}"]}}}}"#);
        // The implicit sender of a single-tenant deployment is bound to its one tenant: any other
        // name is outside its binding (403), whether or not such a tenant exists.
        let (status, out) = run(&state, event("apigw", &other, &signed("m4", NOW, &other))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(out["error"]["code"], "TenantNotAllowed");
    }

    #[tokio::test]
    async fn a_retry_after_an_answer_that_never_came_is_processed_not_refused() {
        // The first delivery is cut short while Defender hangs (the invocation timed out, the
        // sender saw a 5xx): its retry must be enriched, not answered 409.
        let fake = Arc::new(Fake { hang_domain: true, ..Fake::default() });
        let (mut state, _) = state(false);
        state.tenants = Arc::new(Tenants(vec![("default", fake.clone())]));
        let body = format!(r#"{{"indicators":{{"machine_ids":["{M1}"],"domains":["evil.example"]}}}}"#);
        let cut = tokio::time::timeout(
            Duration::from_millis(200),
            handle(&state, event("apigw", &body, &signed("m7", NOW, &body))),
        );
        assert!(cut.await.is_err(), "the first delivery did not finish");
        let quick = format!(r#"{{"indicators":{{"machine_ids":["{M1}"]}}}}"#);
        let (status, out) = run(&state, event("apigw", &quick, &signed("m7", NOW, &quick))).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        assert_eq!(out["results"][0]["status"], "found");
    }

    #[tokio::test]
    async fn every_invalid_indicator_kind_is_reported_invalid_with_a_reason() {
        let (state, fake) = state(false);
        let body = r#"{"indicators":{"machine_ids":["x"],"hostnames":["a b"],"ips":["1.2.3"],"domains":["x' or 1 eq 1"],"urls":["ftp://x"],"sha1":["1"],"sha256":["a|b"],"md5":["\n"],"users":["a\nb"]}}"#;
        let (status, out) = run(&state, event("url", body, &signed("m9", NOW, body))).await;
        assert_eq!(status, StatusCode::OK);
        let results = out["results"].as_array().unwrap();
        assert_eq!(results.len(), 9);
        for r in results {
            assert_eq!(r["status"], "invalid", "{r}");
            assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
        }
        assert_eq!(fake.total.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing invalid reaches Defender");
    }

    #[tokio::test]
    async fn github_signatures_are_accepted_when_configured() {
        let (state, _) = state(true);
        let body = format!(r#"{{"indicators":{{"machine_ids":["{M1}"]}}}}"#);
        let sig = {
            use hmac::Mac;
            let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"It's a Secret to Everybody").unwrap();
            m.update(body.as_bytes());
            format!("sha256={}", hex::encode(m.finalize().into_bytes()))
        };
        let (status, _) = run(&state, event("apigw", &body, &[("x-hub-signature-256", sig.clone())])).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = run(&state, event("apigw", &format!("{body} "), &[("x-hub-signature-256", sig)])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (no_github, _) = self::state(false);
        let (status, _) = run(&no_github, event("apigw", &body, &[("x-hub-signature-256", "sha256=00".into())])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "github scheme off when no secret is configured");
    }

    const SECRET_A: &str = "whsec_c2VuZGVyLUEtc2lnbmluZy1rZXktMzItYnl0ZXMhIQ==";
    const SECRET_B: &str = "whsec_c2VuZGVyLUItc2lnbmluZy1rZXktMzItYnl0ZXMhIQ==";

    /// An MSSP deployment: sender A bound to contoso, sender B to fabrikam, each with its own key.
    fn mssp() -> (State, Arc<Fake>, Arc<Fake>) {
        let (contoso, fabrikam) = (Arc::new(Fake::default()), Arc::new(Fake::default()));
        let senders = Senders::from_json(
            r#"[{"name":"siem-a","secrets":["a-whsec"],"tenants":["contoso"]},
                {"name":"siem-b","secrets":["b-whsec"],"tenants":["fabrikam"]}]"#,
            |t| matches!(t.as_str(), "contoso" | "fabrikam"),
        )
        .unwrap();
        let state = State {
            store: Arc::new(MemStore::with(&[("a-whsec", SECRET_A), ("b-whsec", SECRET_B)])),
            senders,
            tenants: Arc::new(Tenants(vec![("contoso", contoso.clone()), ("fabrikam", fabrikam.clone())])),
            clock: || NOW,
            seen: Mutex::new(HashMap::new()),
            callback: None,
            hunting: Vec::new(),
            events: Default::default(),
        };
        (state, contoso, fabrikam)
    }

    fn signed_by(secret: &str, id: &str, body: &str) -> Headers {
        let sig = webhook::sign_standard(&SecretString::new(secret), id, NOW, body.as_bytes()).unwrap();
        vec![("webhook-id", id.to_string()), ("webhook-timestamp", NOW.to_string()), ("webhook-signature", sig)]
    }

    fn calls(f: &Fake) -> usize {
        f.total.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_sender_cannot_ask_about_another_senders_tenant() {
        let (state, contoso, fabrikam) = mssp();
        let own = format!(r#"{{"tenant":"contoso","indicators":{{"machine_ids":["{M1}"]}}}}"#);
        let (status, out) = run(&state, event("apigw", &own, &signed_by(SECRET_A, "a1", &own))).await;
        assert_eq!((status, out["tenant"].as_str()), (StatusCode::OK, Some("contoso")), "{out}");
        // Sender A's correctly signed request for fabrikam: refused before any Defender call.
        let other = format!(r#"{{"tenant":"fabrikam","indicators":{{"machine_ids":["{M1}"]}}}}"#);
        let before = (calls(&contoso), calls(&fabrikam));
        let (status, out) = run(&state, event("apigw", &other, &signed_by(SECRET_A, "a2", &other))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{out}");
        assert_eq!(out["error"]["code"], "TenantNotAllowed");
        assert_eq!(out["error"]["message"], "sender 'siem-a' may not ask about tenant 'fabrikam'");
        assert_eq!((calls(&contoso), calls(&fabrikam)), before, "no Defender call for a refused tenant");
        // Naming itself in the header changes nothing; naming the other sender is a 401.
        let mut h = signed_by(SECRET_A, "a3", &other);
        h.push(("webhook-sender", "siem-a".into()));
        assert_eq!(run(&state, event("apigw", &other, &h)).await.0, StatusCode::FORBIDDEN);
        let mut h = signed_by(SECRET_A, "a4", &other);
        h.push(("webhook-sender", "siem-b".into()));
        assert_eq!(run(&state, event("apigw", &other, &h)).await.0, StatusCode::UNAUTHORIZED);
        // No tenant: each sender's only tenant.
        let bare = format!(r#"{{"indicators":{{"machine_ids":["{M1}"]}}}}"#);
        let (status, out) = run(&state, event("apigw", &bare, &signed_by(SECRET_B, "b1", &bare))).await;
        assert_eq!((status, out["tenant"].as_str()), (StatusCode::OK, Some("fabrikam")), "{out}");
        assert_eq!(calls(&contoso), before.0, "B's request went to fabrikam only");
        // B reusing A's webhook-id gets its own answer, never A's stored one.
        let (status, out) = run(&state, event("apigw", &bare, &signed_by(SECRET_B, "a1", &bare))).await;
        assert_eq!((status, out["tenant"].as_str()), (StatusCode::OK, Some("fabrikam")), "{out}");
    }

    #[tokio::test]
    async fn a_sender_of_several_tenants_must_name_one() {
        let (mut state, contoso, fabrikam) = mssp();
        state.senders =
            Senders::from_json(r#"[{"name":"soc","secrets":["a-whsec"],"tenants":["contoso","fabrikam"]}]"#, |t| {
                matches!(t.as_str(), "contoso" | "fabrikam")
            })
            .unwrap();
        let bare = format!(r#"{{"indicators":{{"machine_ids":["{M1}"]}}}}"#);
        let (status, out) = run(&state, event("apigw", &bare, &signed_by(SECRET_A, "s1", &bare))).await;
        assert_eq!((status, &out["error"]["code"]), (StatusCode::BAD_REQUEST, &Value::from("TenantRequired")));
        let named = format!(r#"{{"tenant":"fabrikam","indicators":{{"machine_ids":["{M1}"]}}}}"#);
        let (status, out) = run(&state, event("apigw", &named, &signed_by(SECRET_A, "s2", &named))).await;
        assert_eq!((status, out["tenant"].as_str()), (StatusCode::OK, Some("fabrikam")), "{out}");
        assert!(calls(&fabrikam) > 0);
        assert_eq!(calls(&contoso), 0);
    }
}
