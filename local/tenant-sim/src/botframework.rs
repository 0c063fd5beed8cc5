//! The Bot Framework side of a Teams bot (stand-in): the Bot Connector's OpenID metadata and keys,
//! activities signed as the Bot Connector signs them, and the Teams service (`serviceUrl`) a bot
//! posts to, recording what it posted.
//!
//! # Routes
//! | route | what |
//! |---|---|
//! | `GET /botframework/v1/.well-known/openidconfiguration` | metadata: `issuer` `https://api.botframework.com`, `jwks_uri`, RS256 |
//! | `GET /botframework/v1/.well-known/keys` | the published keys, each with `endorsements` (`msteams`, `webchat`, ...) |
//! | `POST /smba/{region}/v3/conversations/{id}/activities` | a bot sends a message (answers `{"id"}`, 201) |
//! | `PUT /smba/{region}/v3/conversations/{id}/activities/{activityId}` | a bot updates one of its messages |
//! | `POST /_sim/botframework/activity` | signs an activity as the Bot Connector would (test and `make run` helper) |
//! | `POST /_sim/botframework/rotate` | a new signing key; the old one is withdrawn at once |
//! | `GET /_sim/botframework/conversations/{id}` | what the bot posted there, in order |
//!
//! # Strict where the docs are silent
//! - The conversations API takes only an Entra **application** token of this tenant (single-tenant
//!   bot), `aud` `https://api.botframework.com`, whose `appid` is the bot ([`crate::state::SimConfig::bot_app_id`]),
//!   unexpired on the simulated clock; anything else is 401. A conversation the Bot Connector never
//!   delivered an activity from is 404 (`ConversationNotFound`); an update of an activity the bot
//!   did not post there is 404; a body that is not a `message` activity is 400.
//! - A key rotation withdraws the old key immediately: a bot that never fetches the keys again
//!   refuses every later activity.
//! - Tokens are signed with the simulated clock: `nbf` = `iat` = now, `exp` = now + 1 h.

use crate::{
    clock::iso,
    state::{Sim, lock},
    tokens::{Resource, SigningKey},
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use jsonwebtoken::{Algorithm, Header};
use serde::Deserialize;
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex},
};

/// The Bot Connector's token issuer (public cloud).
pub const ISSUER: &str = "https://api.botframework.com";
/// The channels the keys endorse.
pub const ENDORSEMENTS: &[&str] = &["msteams", "webchat", "directline", "skype"];

/// The stand-in's state.
#[derive(Debug)]
pub struct BotFramework {
    keys: Mutex<Vec<SigningKey>>,
    conversations: Mutex<BTreeMap<String, Vec<Value>>>,
    delivered: Mutex<HashSet<String>>,
}

impl BotFramework {
    /// One fresh signing key.
    ///
    /// # Errors
    /// Key generation failure.
    pub fn new() -> Result<Self, crate::tokens::TokenError> {
        Ok(Self {
            keys: Mutex::new(vec![SigningKey::generate()?]),
            conversations: Mutex::new(BTreeMap::new()),
            delivered: Mutex::new(HashSet::new()),
        })
    }

    /// With a given signing key (a fleet of tenants shares one, [`crate::fleet`]).
    pub(crate) fn with_key(key: SigningKey) -> Self {
        Self {
            keys: Mutex::new(vec![key]),
            conversations: Mutex::new(BTreeMap::new()),
            delivered: Mutex::new(HashSet::new()),
        }
    }

    /// A new signing key replaces the old one (withdrawn at once).
    ///
    /// # Errors
    /// Key generation failure.
    pub fn rotate(&self) -> Result<String, crate::tokens::TokenError> {
        let k = SigningKey::generate()?;
        let kid = k.kid.clone();
        *lock(&self.keys) = vec![k];
        Ok(kid)
    }

    /// What the bot posted in `conversation`: `{"method","activity_id","body"}` in order.
    pub fn posted(&self, conversation: &str) -> Vec<Value> {
        lock(&self.conversations).get(conversation).cloned().unwrap_or_default()
    }

    /// Everything the bot posted, per conversation.
    pub fn all_posted(&self) -> BTreeMap<String, Vec<Value>> {
        lock(&self.conversations).clone()
    }
}

/// How to sign an activity (`POST /_sim/botframework/activity`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// The activity; `serviceUrl`, `channelId`, `id` and `timestamp` are filled when absent.
    pub activity: Value,
    /// Seconds to move the token's `iat`/`nbf`/`exp` by (negative: an old, expired token).
    #[serde(default)]
    pub shift_s: i64,
    /// The audience (default: the configured bot app id).
    pub aud: Option<String>,
    /// The `serviceurl` claim (default: the activity's).
    pub serviceurl: Option<String>,
    /// Sign with a fresh key that is not published (a forgery).
    #[serde(default)]
    pub forge: bool,
    /// The issuer (default [`ISSUER`]).
    pub iss: Option<String>,
}

/// A signed activity: the body to send and its `Authorization` header value.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The activity JSON.
    pub activity: Value,
    /// `Bearer <jwt>`.
    pub authorization: String,
}

/// The `serviceUrl` of the stand-in's Teams service.
pub fn service_url(sim: &Sim) -> String {
    format!("{}/smba/amer/", sim.base_url)
}

/// Signs an activity as the Bot Connector would.
///
/// # Errors
/// A message for a request that cannot be honoured (no bot app id configured, key failure).
pub fn mint(sim: &Sim, req: MintRequest) -> Result<Signed, String> {
    let bot = lock(&sim.config).bot_app_id.clone();
    let aud = req.aud.or(bot).ok_or("no bot_app_id configured (POST /_sim/config)")?;
    let mut activity = req.activity;
    let o = activity.as_object_mut().ok_or("the activity must be an object")?;
    o.entry("serviceUrl").or_insert_with(|| service_url(sim).into());
    o.entry("channelId").or_insert_with(|| "msteams".into());
    o.entry("id").or_insert_with(|| format!("1{}", &uuid::Uuid::new_v4().simple().to_string()[..15]).into());
    o.entry("timestamp").or_insert_with(|| iso(sim.now()).into());
    o.entry("recipient").or_insert_with(|| json!({"id": format!("28:{aud}"), "name": "Defender"}));
    let service = o.get("serviceUrl").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(conv) = o.get("conversation").and_then(|c| c.get("id")).and_then(Value::as_str) {
        lock(&sim.botframework.delivered).insert(conv.to_string());
    }
    let now = sim.now().timestamp() + req.shift_s;
    let claims = json!({
        "serviceurl": req.serviceurl.unwrap_or(service),
        "nbf": now, "iat": now, "exp": now + 3600,
        "iss": req.iss.unwrap_or_else(|| ISSUER.to_string()),
        "aud": aud,
    });
    let forged;
    let keys = lock(&sim.botframework.keys).clone();
    let key = if req.forge {
        forged = SigningKey::generate().map_err(|e| e.to_string())?;
        &forged
    } else {
        keys.first().ok_or("no signing key")?
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid =
        Some(if req.forge { keys.first().map(|k| k.kid.clone()).unwrap_or_default() } else { key.kid.clone() });
    header.typ = Some("JWT".into());
    let jwt = key.sign_value(&header, &claims).map_err(|e| e.to_string())?;
    Ok(Signed { activity, authorization: format!("Bearer {jwt}") })
}

/// The public routes (metadata, keys, the Teams service).
pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/botframework/v1/.well-known/openidconfiguration", get(metadata))
        .route("/botframework/v1/.well-known/keys", get(keys))
        .route("/smba/{region}/v3/conversations/{conv}/activities", post(send))
        .route("/smba/{region}/v3/conversations/{conv}/activities/{activity}", put(update))
}

/// The control routes (nested under `/_sim`).
pub fn control_routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/botframework/activity", post(mint_route))
        .route("/botframework/rotate", post(rotate_route))
        .route("/botframework/conversations/{conv}", get(conversation_route))
}

async fn metadata(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({
        "issuer": ISSUER,
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{}/botframework/v1/.well-known/keys", sim.base_url),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
}

async fn keys(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let keys: Vec<Value> = lock(&sim.botframework.keys)
        .iter()
        .map(|k| {
            let mut j = k.jwk.clone();
            if let Some(o) = j.as_object_mut() {
                o.insert("endorsements".into(), json!(ENDORSEMENTS));
            }
            j
        })
        .collect();
    Json(json!({ "keys": keys }))
}

fn denied() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"message": "Authorization has been denied for this request."})))
        .into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

/// The bot's token: this tenant's app token for the Bot Connector, of the configured bot.
fn bot_token_ok(sim: &Sim, headers: &HeaderMap) -> bool {
    let Ok(claims) = crate::auth::authenticate(sim, headers, Resource::BotConnector) else { return false };
    let bot = lock(&sim.config).bot_app_id.clone();
    claims.idtyp == "app" && bot.is_some_and(|b| b.eq_ignore_ascii_case(&claims.appid))
}

/// The message activity in a body, or why it is refused (400).
fn message_body(body: &Bytes) -> Result<Value, (&'static str, &'static str)> {
    let v: Value = serde_json::from_slice(body).map_err(|_| ("BadSyntax", "the body is not an activity"))?;
    if v.get("type").and_then(Value::as_str) != Some("message") {
        return Err(("BadArgument", "the activity type must be 'message'"));
    }
    let has_content = v.get("text").and_then(Value::as_str).is_some_and(|t| !t.is_empty())
        || v.get("attachments").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if !has_content {
        return Err(("BadArgument", "the message has neither text nor attachments"));
    }
    Ok(v)
}

async fn send(
    State(sim): State<Arc<Sim>>,
    Path((_region, conv)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !bot_token_ok(&sim, &headers) {
        return denied();
    }
    if !lock(&sim.botframework.delivered).contains(&conv) {
        return error(StatusCode::NOT_FOUND, "ConversationNotFound", "Conversation not found.");
    }
    let v = match message_body(&body) {
        Ok(v) => v,
        Err((code, why)) => return error(StatusCode::BAD_REQUEST, code, why),
    };
    let id = format!("1{}", &uuid::Uuid::new_v4().simple().to_string()[..15]);
    lock(&sim.botframework.conversations)
        .entry(conv)
        .or_default()
        .push(json!({"method": "POST", "activity_id": id, "body": v, "at": iso(sim.now())}));
    (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
}

async fn update(
    State(sim): State<Arc<Sim>>,
    Path((_region, conv, activity)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !bot_token_ok(&sim, &headers) {
        return denied();
    }
    let v = match message_body(&body) {
        Ok(v) => v,
        Err((code, why)) => return error(StatusCode::BAD_REQUEST, code, why),
    };
    let mut convs = lock(&sim.botframework.conversations);
    let Some(list) = convs.get_mut(&conv) else {
        return error(StatusCode::NOT_FOUND, "ConversationNotFound", "Conversation not found.");
    };
    if !list.iter().any(|p| p["method"] == "POST" && p["activity_id"] == activity.as_str()) {
        return error(StatusCode::NOT_FOUND, "ActivityNotFound", "The activity was not sent by this bot here.");
    }
    list.push(json!({"method": "PUT", "activity_id": activity, "body": v, "at": iso(sim.now())}));
    (StatusCode::OK, Json(json!({ "id": activity }))).into_response()
}

async fn mint_route(State(sim): State<Arc<Sim>>, Json(req): Json<MintRequest>) -> Response {
    match mint(&sim, req) {
        Ok(s) => Json(json!({"activity": s.activity, "authorization": s.authorization})).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "BadRequest", &e),
    }
}

async fn rotate_route(State(sim): State<Arc<Sim>>) -> Response {
    match sim.botframework.rotate() {
        Ok(kid) => Json(json!({ "kid": kid })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "KeyGeneration", &e.to_string()),
    }
}

async fn conversation_route(State(sim): State<Arc<Sim>>, Path(conv): Path<String>) -> Json<Value> {
    Json(json!({ "posted": sim.botframework.posted(&conv) }))
}
