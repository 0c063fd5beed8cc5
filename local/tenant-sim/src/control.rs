//! The `/_sim/` control API: what tests and `make run` use to steer the simulator. Off with
//! `--no-control` (then these paths are 404 like any unknown path).
//!
//! | route | effect |
//! |---|---|
//! | `POST /_sim/seed` | replace the tenant with a seed document (400 with the reason if invalid; 413 naming the limit over [`SEED_LIMIT`], the limit `--seed PATH` has too) |
//! | `POST /_sim/reset` | back to the last seed; clears log, faults, quotas, device codes, clock offset |
//! | `POST /_sim/faults` / `GET` / `DELETE` | add (one rule or a list), list, clear fault rules |
//! | `GET /_sim/requests` / `DELETE` | the request log (method, path, query, status, client, timestamp, matched endpoint) |
//! | `POST /_sim/devicecode/approve` | `{"user_code","upn"}` approves, `{"user_code","decline":true}` declines |
//! | `POST /_sim/clock` / `GET` | `{"advance_s": n}` moves simulated time; answers `{"now": ...}` |
//! | `POST /_sim/config` / `GET` | behaviour switches ([`SimConfig`]) |
//! | `GET /_sim/timeline` / `DELETE`, `POST /_sim/latency` / `GET` | served by [`crate::latency`]: the timeline of round trips, the injected latency |
//! | `GET /_sim/ca.pem` | not served: the CA comes from `--ca-out` or [`crate::RunningSim::ca_pem`] |
//! | `POST /_sim/issuer/token` | `{"sub","aud","ttl_s"}`: a JWT from the simulator's test issuer, for federated credentials |
//! | `GET /_sim/issuer/.well-known/openid-configuration`, `GET /_sim/issuer/jwks` | that issuer's metadata and keys |

use crate::{
    clock::iso,
    seed::{SEED_LIMIT, Seed},
    state::{FaultRule, Sim, SimConfig, Tenant, lock},
};
use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The control routes (nested under `/_sim`).
pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/seed", post(seed))
        .route("/reset", post(reset))
        .route("/faults", post(add_faults).get(list_faults).delete(clear_faults))
        .route("/requests", get(requests).delete(clear_requests))
        .route("/devicecode/approve", post(approve))
        .route("/clock", post(advance).get(now))
        .route("/config", post(set_config).get(get_config))
        .route("/issuer/token", post(issuer_token))
        .route("/issuer/.well-known/openid-configuration", get(issuer_metadata))
        .route("/issuer/jwks", get(issuer_jwks))
}

fn bad(message: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": "BadRequest", "message": message.to_string()}})))
        .into_response()
}

/// Reads a body of at most `limit` bytes. Past the limit it reads on to the end (up to four times the
/// limit) without keeping anything, so a client still sending gets the answer rather than a reset
/// connection: `Err(bytes seen)`.
async fn read_limited(mut body: Body, limit: usize) -> Result<Result<Vec<u8>, usize>, axum::Error> {
    use hyper::body::Body as _;
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(data) = frame?.into_data() else { continue };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            buf.extend_from_slice(&data);
        } else if seen > limit.saturating_mul(4) {
            break;
        } else {
            buf = Vec::new();
        }
    }
    Ok(if seen > limit { Err(seen) } else { Ok(buf) })
}

/// `POST /_sim/seed`: the seed route reads its own body (not the app's `DefaultBodyLimit`) so that a
/// document over [`SEED_LIMIT`] gets a 413 naming the limit, not a closed connection.
async fn seed(State(sim): State<Arc<Sim>>, body: Body) -> Response {
    let body = match read_limited(body, SEED_LIMIT).await {
        Ok(Ok(b)) => b,
        Ok(Err(seen)) => {
            let message = format!(
                "the seed document is {}{seen} bytes, over the limit of {SEED_LIMIT} bytes (the same as --seed PATH)",
                if seen > SEED_LIMIT.saturating_mul(4) { "over " } else { "" }
            );
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({"error": {"code": "PayloadTooLarge", "message": message}, "limit_bytes": SEED_LIMIT})),
            )
                .into_response();
        }
        Err(e) => return bad(format!("cannot read the seed document: {e}")),
    };
    let text = String::from_utf8_lossy(&body);
    match Seed::parse(&text) {
        Ok(seed) => {
            let counts = json!({"machines": seed.machines.len(), "alerts": seed.alerts.len(), "incidents": seed.incidents.len()});
            *lock(&sim.tenant) = Tenant::from_seed(seed, sim.now());
            lock(&sim.quotas).clear();
            Json(json!({"seeded": counts})).into_response()
        }
        Err(e) => bad(crate::errors::chain(&e)),
    }
}

async fn reset(State(sim): State<Arc<Sim>>) -> Response {
    let origin = lock(&sim.tenant).origin.clone();
    sim.clock.reset();
    *lock(&sim.tenant) = Tenant::from_seed(origin, sim.now());
    lock(&sim.quotas).clear();
    lock(&sim.faults).clear();
    lock(&sim.log).clear();
    Json(json!({"reset": true})).into_response()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<FaultRule>),
    One(FaultRule),
}

async fn add_faults(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let rules = match serde_json::from_slice::<OneOrMany>(&body) {
        Ok(OneOrMany::Many(r)) => r,
        Ok(OneOrMany::One(r)) => vec![r],
        Err(e) => return bad(format!("invalid fault rule: {e}")),
    };
    for r in &rules {
        if r.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return bad("probability must be between 0 and 1");
        }
        if r.status != 0 && StatusCode::from_u16(r.status).is_err() {
            return bad(format!("invalid status {}", r.status));
        }
    }
    let mut faults = lock(&sim.faults);
    for r in rules {
        let rng = crate::fault_rng(r.seed);
        faults.push((r, rng));
    }
    Json(json!({"faults": faults.len()})).into_response()
}

async fn list_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let faults: Vec<FaultRule> = lock(&sim.faults).iter().map(|(r, _)| r.clone()).collect();
    Json(json!({"value": faults}))
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> StatusCode {
    lock(&sim.faults).clear();
    StatusCode::NO_CONTENT
}

async fn requests(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"value": *lock(&sim.log)}))
}

async fn clear_requests(State(sim): State<Arc<Sim>>) -> StatusCode {
    lock(&sim.log).clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Approve {
    user_code: String,
    upn: Option<String>,
    #[serde(default)]
    decline: bool,
}

async fn approve(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let req: Approve = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("invalid approval: {e}")),
    };
    let mut tenant = lock(&sim.tenant);
    if !req.decline {
        let Some(upn) = req.upn.as_deref() else { return bad("upn is required to approve") };
        if tenant.user(upn).is_none() {
            return bad(format!("no user {upn} in this tenant"));
        }
    }
    let Some(code) = tenant.device_codes.values_mut().find(|c| c.user_code.eq_ignore_ascii_case(&req.user_code)) else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": {"code": "NotFound", "message": "no such user code"}})))
            .into_response();
    };
    if req.decline {
        code.declined = true;
    } else {
        code.approved_by = req.upn.clone();
    }
    Json(json!({"user_code": code.user_code, "approved_by": code.approved_by, "declined": code.declined}))
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    advance_s: i64,
}

async fn advance(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Advance>(&body) {
        Ok(a) => {
            sim.clock.advance(chrono::Duration::seconds(a.advance_s));
            Json(json!({"now": iso(sim.now())})).into_response()
        }
        Err(e) => bad(format!("invalid clock request: {e}")),
    }
}

async fn now(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"now": iso(sim.now())}))
}

async fn set_config(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let mut current = serde_json::to_value(&*lock(&sim.config)).unwrap_or_default();
    let patch: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad(format!("invalid config: {e}")),
    };
    let (Some(cur), Some(p)) = (current.as_object_mut(), patch.as_object()) else {
        return bad("config must be a JSON object");
    };
    for (k, v) in p {
        cur.insert(k.clone(), v.clone());
    }
    match serde_json::from_value::<SimConfig>(current) {
        Ok(cfg) => {
            *lock(&sim.config) = cfg.clone();
            Json(json!(cfg)).into_response()
        }
        Err(e) => bad(format!("invalid config: {e}")),
    }
}

async fn get_config(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!(*lock(&sim.config)))
}

/// The issuer URL of the simulator's test token issuer (for federated credentials).
pub fn issuer_url(sim: &Sim) -> String {
    format!("{}/_sim/issuer", sim.base_url)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueRequest {
    sub: String,
    aud: Option<String>,
    ttl_s: Option<i64>,
}

async fn issuer_token(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let req: IssueRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("invalid issue request: {e}")),
    };
    let now = sim.now().timestamp();
    let claims = json!({
        "iss": issuer_url(&sim),
        "sub": req.sub,
        "aud": req.aud.unwrap_or_else(|| "api://AzureADTokenExchange".into()),
        "iat": now, "nbf": now, "exp": now + req.ttl_s.unwrap_or(600),
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(sim.keys.kid.clone());
    match sim.keys.sign_value(&header, &claims) {
        Ok(token) => Json(json!({"token": token})).into_response(),
        Err(e) => bad(crate::errors::chain(&e)),
    }
}

async fn issuer_metadata(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let iss = issuer_url(&sim);
    Json(json!({"issuer": iss, "jwks_uri": format!("{iss}/jwks"), "id_token_signing_alg_values_supported": ["RS256"]}))
}

async fn issuer_jwks(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"keys": [sim.keys.jwk.clone()]}))
}
