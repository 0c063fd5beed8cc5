//! The rig shared by the simulator and AWS stand-in tests: the simulated tenant, the callback state
//! and worker over a chosen idempotency store, a local `response_url` receiver, signed Slack/Teams
//! events, and the scenarios both run.

#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub use axum::{Json, Router, extract::Path, routing::post};
pub use chatops::{
    command::Reason,
    config::ChatOpsConfig,
    confirm::{self, Confirmation},
    handler::{self, State},
    handoff::{ChannelHandOff, HandOff, Job},
    idempotency::{IdempotencyStore, MemoryStore},
    state::{self, Wiring},
    worker::Worker,
};
pub use defender_shared::{
    config::Config,
    runtime::Runtime,
    secret::SecretString,
    vault::{SecretStore, VaultError},
    webhook,
};
pub use futures::future::BoxFuture;
pub use lambda_http::{Body, http::StatusCode};
pub use serde_json::{Value, json};
pub use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
pub use tenant_sim::{RunningSim, SimOptions, start};
pub use tokio::sync::mpsc::UnboundedReceiver;

pub use testkit::{
    SimEnv,
    demo::{ANALYST, APP, PUBLIC_CLIENT, READER, SECRET, now},
};
pub const ISOLATED: &str = "ws-fin-014.contoso.com";
pub const SHARED_IP: &str = "10.20.30.66";
/// The analyst with every right, the reader with `read` only (the kit's, shared with the soak).
pub use testkit::demo::POLICY_WITH_READER as POLICY;

pub type Posts = Arc<Mutex<Vec<(String, Value)>>>;

/// The RFC 3339 `timestamp` a Teams activity sent now (by `clock`) carries (milliseconds, `Z`).
pub fn teams_stamp(clock: fn() -> i64) -> String {
    chrono::DateTime::from_timestamp(clock(), 318_000_000).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub struct Rig {
    pub sim: SimEnv,
    pub state: State,
    pub worker: Arc<Worker>,
    pub jobs: UnboundedReceiver<(Job, Duration)>,
    pub posts: Posts,
    pub slack: Slack,
    pub hooks: String,
    pub slack_secret: String,
    pub teams_secret: String,
    pub idem: Arc<dyn IdempotencyStore>,
}

/// The bot token the Slack stand-in accepts (the rig stores it in the vault as `slack-bot-token`).
pub const BOT_TOKEN: &str = "xoxb-0000000001-0000000002-stand-in-bot-token";
/// The channel of the rig's commands; the bot is a member.
pub use testkit::slack::CHANNEL;

/// What the Slack stand-in holds besides the accepted `response_url` posts.
#[derive(Debug, Default)]
pub struct SlackState {
    /// When each `response_url` was issued (unix seconds), by hook id.
    pub issued: HashMap<String, i64>,
    /// Posts Slack refused, as `(hook id, error)`.
    pub refused: Vec<(String, String)>,
    /// `chat.postMessage` calls Slack accepted (the message as sent, plus its `ts`).
    pub messages: Vec<Value>,
    /// `chat.postMessage` errors answered.
    pub api_errors: Vec<String>,
    /// Channels that exist, and whether the bot is in each.
    pub channels: HashMap<String, bool>,
    /// Answer the next n `chat.postMessage` calls with 429 `ratelimited`.
    pub ratelimit_next: u32,
    /// Workspace members by id, as `users.info` describes them (`profile.email` included here; it is
    /// answered only to a token with `users:read.email`).
    pub members: HashMap<String, Value>,
    /// The bot token's scopes: the manifest's (`infra/slack-app-manifest.yaml`), as an install grants them.
    pub scopes: Vec<String>,
    /// `users.info` calls answered (the `user` argument, or the error).
    pub users_info: Vec<String>,
}

/// The bot scopes `infra/slack-app-manifest.yaml` asks for (what installing the app grants).
pub fn manifest_bot_scopes() -> Vec<String> {
    let m: Value = serde_norway::from_str(include_str!("../../../../infra/slack-app-manifest.yaml")).unwrap();
    m["oauth_config"]["scopes"]["bot"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// A workspace member in `users.info`'s documented shape.
pub fn member(id: &str, name: &str, email: &str) -> Value {
    json!({
        "id": id, "team_id": "T0001", "name": name, "deleted": false, "color": "9f69e7",
        "real_name": name, "tz": "Europe/Amsterdam", "tz_label": "Central European Time", "tz_offset": 3600,
        "profile": {"avatar_hash": "ge3b51ca72de", "real_name": name, "display_name": name,
                    "real_name_normalized": name, "display_name_normalized": name, "email": email,
                    "image_24": "https://a.slack-edge.com/avatar/24.png", "team": "T0001"},
        "is_admin": false, "is_owner": false, "is_primary_owner": false, "is_restricted": false,
        "is_ultra_restricted": false, "is_bot": false, "is_app_user": false, "updated": 1_700_000_000,
        "is_email_confirmed": true, "has_2fa": false
    })
}

pub type Slack = Arc<Mutex<SlackState>>;

/// Slack's documented limits on a `response_url`: 5 posts, 30 minutes after the interaction.
pub const RESPONSE_URL_POSTS: usize = 5;
pub const RESPONSE_URL_LIFETIME_S: i64 = 30 * 60;

fn plain(status: StatusCode, text: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (axum::http::StatusCode::from_u16(status.as_u16()).unwrap(), text.to_string()).into_response()
}

fn web_api(v: Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    Json(v).into_response()
}

/// A Slack Web API method on the stand-in: the bot token is checked first (`not_authed` without
/// one, `invalid_auth` for another), then `method` answers; an error either returns is answered
/// HTTP 200 `{"ok":false,"error":…}` and noted in the list `log` picks.
fn web_api_method(
    slack: &Slack,
    log: fn(&mut SlackState) -> &mut Vec<String>,
    method: fn(&mut SlackState, &axum::http::HeaderMap, &[u8]) -> Result<axum::response::Response, &'static str>,
) -> axum::routing::MethodRouter {
    let st = slack.clone();
    post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
        let st = st.clone();
        async move {
            let mut st = st.lock().unwrap();
            let answer = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                None => Err("not_authed"),
                Some(a) if a != format!("Bearer {BOT_TOKEN}") => Err("invalid_auth"),
                Some(_) => method(&mut st, &headers, &body),
            };
            answer.unwrap_or_else(|e| {
                log(&mut st).push(e.to_string());
                web_api(json!({"ok": false, "error": e}))
            })
        }
    })
}

/// Whether the request's `Content-Type` is `kind`.
fn content_type_is(headers: &axum::http::HeaderMap, kind: &str) -> bool {
    headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with(kind))
}

/// `chat.postMessage` (after the token check).
fn post_message(
    st: &mut SlackState,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<axum::response::Response, &'static str> {
    if st.ratelimit_next > 0 {
        st.ratelimit_next -= 1;
        st.api_errors.push("ratelimited".into());
        use axum::response::IntoResponse;
        return Ok((
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response());
    }
    let json_body = content_type_is(headers, "application/json");
    let Some(v) = json_body.then(|| serde_json::from_slice::<Value>(body).ok()).flatten() else {
        return Err("invalid_arguments");
    };
    let Some(channel) = v["channel"].as_str() else { return Err("channel_not_found") };
    match st.channels.get(channel) {
        None => return Err("channel_not_found"),
        Some(false) => return Err("not_in_channel"),
        Some(true) => {}
    }
    let text = v["text"].as_str().unwrap_or_default();
    if text.is_empty() && v.get("blocks").is_none() {
        return Err("no_text");
    }
    if text.chars().count() > 40_000 {
        return Err("msg_too_long");
    }
    if let Some(ts) = v.get("thread_ts") {
        let ok = ts.as_str().is_some_and(|t| {
            t.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
            })
        });
        if !ok {
            return Err("invalid_thread_ts");
        }
    }
    let ts = format!("{}.{:06}", now(), st.messages.len());
    let mut kept = v.clone();
    kept["ts"] = json!(ts);
    st.messages.push(kept);
    Ok(web_api(json!({"ok": true, "channel": channel, "ts": ts, "message": {"text": text}})))
}

/// `users.info` (after the token check).
fn users_info(
    st: &mut SlackState,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<axum::response::Response, &'static str> {
    if !st.scopes.iter().any(|s| s == "users:read") {
        st.users_info.push("missing_scope".into());
        let provided = st.scopes.join(",");
        return Ok(web_api(
            json!({"ok": false, "error": "missing_scope", "needed": "users:read", "provided": provided}),
        ));
    }
    // users.info takes application/x-www-form-urlencoded arguments (not JSON).
    let form = content_type_is(headers, "application/x-www-form-urlencoded");
    let user = form
        .then(|| url::form_urlencoded::parse(body).find(|(k, _)| k == "user").map(|(_, v)| v.into_owned()))
        .flatten();
    let Some(user) = user else { return Err("invalid_arguments") };
    let Some(mut m) = st.members.get(&user).cloned() else { return Err("user_not_found") };
    if !st.scopes.iter().any(|s| s == "users:read.email")
        && let Some(p) = m["profile"].as_object_mut()
    {
        p.remove("email");
    }
    st.users_info.push(user);
    Ok(web_api(json!({"ok": true, "user": m})))
}

/// A strict Slack stand-in on a loopback port:
/// - `POST /hook/{id}` is a `response_url`: unknown ids answer 404 `invalid_url` (Slack only issues
///   them with an interaction: the rig registers each one it sends), the sixth post 404 `used_url`,
///   any post 30 minutes after issue 404 `expired_url` — what Slack answers; a refused post is not
///   shown (it is recorded in `refused`).
/// - `POST /api/users.info` (form-encoded `user`) answers the member in Slack's documented shape, to
///   the bot token only (`not_authed`, `invalid_auth`), with `users:read` among the manifest's scopes
///   (`missing_scope`), and `profile.email` only with `users:read.email`; unknown members
///   `user_not_found`.
/// - `POST /api/chat.postMessage` is the Web API: a bearer bot token (`not_authed` without,
///   `invalid_auth` for another), a JSON body, a `channel` that exists (`channel_not_found`) with the
///   bot in it (`not_in_channel`), `text` or `blocks` (`no_text`), text ≤ 40,000 characters
///   (`msg_too_long`), `thread_ts` shaped as a Slack ts (`invalid_thread_ts`); errors are HTTP 200
///   `{"ok":false,"error":…}`, a rate limit is 429 with `Retry-After`.
pub async fn receiver() -> (String, Posts, Slack) {
    let posts: Posts = Arc::new(Mutex::new(Vec::new()));
    let slack: Slack = Arc::new(Mutex::new(SlackState::default()));
    {
        let mut st = slack.lock().unwrap();
        st.channels.insert(CHANNEL.to_string(), true);
        st.scopes = manifest_bot_scopes();
        st.members.insert(ANALYST.into(), member(ANALYST, "analyst", "alice@contoso.com"));
        st.members.insert(READER.into(), member(READER, "reader", "bob@contoso.com"));
    }
    let (p, st) = (posts.clone(), slack.clone());
    let hook = post(move |Path(id): Path<String>, body: axum::body::Bytes| {
        let (p, st) = (p.clone(), st.clone());
        async move {
            let mut st = st.lock().unwrap();
            let refuse = |st: &mut SlackState, e: &str| {
                st.refused.push((id.clone(), e.to_string()));
                plain(StatusCode::NOT_FOUND, e)
            };
            let Some(issued) = st.issued.get(&id).copied() else { return refuse(&mut st, "invalid_url") };
            if now() - issued >= RESPONSE_URL_LIFETIME_S {
                return refuse(&mut st, "expired_url");
            }
            let mut p = p.lock().unwrap();
            if p.iter().filter(|(h, _)| *h == id).count() >= RESPONSE_URL_POSTS {
                return refuse(&mut st, "used_url");
            }
            let Ok(v) = serde_json::from_slice::<Value>(&body) else {
                return plain(StatusCode::BAD_REQUEST, "invalid_payload");
            };
            if v.get("text").and_then(Value::as_str).is_none_or(str::is_empty) && v.get("blocks").is_none() {
                return plain(StatusCode::BAD_REQUEST, "no_text");
            }
            p.push((id, v));
            plain(StatusCode::OK, "ok")
        }
    });
    let api = web_api_method(&slack, |st| &mut st.api_errors, post_message);
    let users_info = web_api_method(&slack, |st| &mut st.users_info, users_info);
    let app = Router::new()
        .route("/hook/{id}", hook)
        .route("/api/chat.postMessage", api)
        .route("/api/users.info", users_info);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook/"), posts, slack)
}

pub async fn rig() -> Rig {
    rig_with(None, None, &[]).await
}

/// The vault name of the Slack bot token in linking rigs.
pub const BOT_TOKEN_SECRET: &str = "slack-bot-token";

/// A rig where chat users may `/defender link`: the public client, and a Slack bot token (the link
/// checks who signed in against `users.info`), plus `extra` settings.
pub async fn linking_rig(extra: &[(&'static str, String)]) -> Rig {
    let mut settings = vec![
        ("CHATOPS_USER_CLIENT_ID", PUBLIC_CLIENT.to_string()),
        ("CHATOPS_SLACK_BOT_TOKEN_NAME", BOT_TOKEN_SECRET.to_string()),
    ];
    settings.extend(extra.iter().cloned());
    let rig = rig_with(None, None, &settings).await;
    rig.state.store.set(BOT_TOKEN_SECRET, &SecretString::new(BOT_TOKEN.to_string())).await.unwrap();
    rig
}

/// A rig over `store` (default: a memory store) and `handoff` (default: the channel whose receiving
/// end is `jobs`), with extra settings.
pub async fn rig_with(
    store: Option<Arc<dyn IdempotencyStore>>,
    handoff: Option<Arc<dyn HandOff>>,
    extra: &[(&'static str, String)],
) -> Rig {
    let sim = SimEnv::demo().await;
    let (hooks, posts, slack) = receiver().await;
    let api = hooks.replace("/hook/", "/api");
    let mut settings = vec![
        ("DEFENDER_ALLOWED_ACTIONS", "isolate,unisolate,scan".to_string()),
        ("CHATOPS_RBAC", POLICY.to_string()),
        ("CHATOPS_RESPONSE_URL_PREFIXES", hooks.clone()),
        ("CHATOPS_SLACK_API_URL", api),
    ];
    settings.extend(extra.iter().cloned());
    let rt = sim.runtime_with(&settings).await;
    let cfg = ChatOpsConfig::from_lookup(sim.lookup(&settings)).unwrap();
    let (channel, jobs) = ChannelHandOff::new();
    let handoff: Arc<dyn HandOff> = handoff.unwrap_or_else(|| Arc::new(channel));
    let idem: Arc<dyn IdempotencyStore> = store.unwrap_or_else(|| Arc::new(MemoryStore::with_clock(now)));
    let wiring = Wiring { idempotency: idem.clone(), handoff, responder: None, clock: now };
    let (state, worker) = state::build(&rt, cfg, wiring);
    let secrets = sim.sim.tenant.lock().unwrap().seed.secrets.clone();
    let slack_secret = secrets["slack-signing-secret"].to_string();
    let teams_secret = secrets["teams-outgoing-secret"].to_string();
    Rig { sim, state, worker, jobs, posts, slack, hooks, slack_secret, teams_secret, idem }
}

pub fn event(fixture: &str, body: &str, headers: &[(&str, String)], base64: bool) -> lambda_http::Request {
    let text = match fixture {
        "slack" => include_str!("../fixtures/apigw-v2-slack.json"),
        _ => include_str!("../fixtures/apigw-v2-teams.json"),
    };
    let mut v: Value = serde_json::from_str(text).unwrap();
    if base64 {
        use base64::Engine;
        v["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
        v["isBase64Encoded"] = json!(true);
    } else {
        v["body"] = json!(body);
    }
    for (k, val) in headers {
        v["headers"][*k] = json!(val);
    }
    lambda_http::request::from_str(&v.to_string()).unwrap()
}

pub async fn call(state: &State, req: lambda_http::Request) -> (StatusCode, Value) {
    let r = handler::handle(state, req).await;
    let status = r.status();
    let Body::Text(t) = r.body() else { panic!("no text body") };
    (status, serde_json::from_str(t).unwrap())
}

impl Rig {
    /// The rig's worker with `link_clock` for its device-code sign-ins and no Teams side (the linking
    /// tests drive the sign-in's time).
    pub fn worker_with_link_clock(&self, link_clock: Arc<dyn defender_shared::auth::Clock>) -> Arc<Worker> {
        let w = &self.worker;
        Arc::new(Worker {
            safety: w.safety.clone(),
            tenants: w.tenants.clone(),
            store: w.store.clone(),
            slack_secret_names: w.slack_secret_names.clone(),
            responder: w.responder.clone(),
            handoff: w.handoff.clone(),
            recheck_after: w.recheck_after,
            followup_max_age: w.followup_max_age,
            budget: w.budget,
            users: w.users.clone(),
            link_clock,
            link_step: w.link_step,
            slack: w.slack.clone(),
            teams: None,
            events: w.events.clone(),
        })
    }

    /// A signed Teams outgoing-webhook message from `aad` saying `said`, sent now.
    pub async fn teams_message(&self, aad: &str, said: &str) -> (StatusCode, Value) {
        let activity = json!({"type": "message", "id": uuid::Uuid::new_v4().to_string(),
            "timestamp": teams_stamp(self.state.clock), "text": format!("<at>Defender</at> {said}"),
            "from": {"id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85g", "name": aad.to_lowercase(), "aadObjectId": aad},
            "conversation": {"id": "19:253b1f341670408fb6fcb7c5d2e8a8d6@thread.skype"},
            "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}})
        .to_string();
        let sig = webhook::sign_teams(&SecretString::new(self.teams_secret.clone()), activity.as_bytes()).unwrap();
        call(&self.state, event("teams", &activity, &[("authorization", sig)], false)).await
    }

    pub fn slack_headers(&self, body: &str, extra: &[(&str, String)]) -> Vec<(&'static str, String)> {
        let ts = now();
        let sig = webhook::sign_slack(&SecretString::new(self.slack_secret.clone()), ts, body.as_bytes()).unwrap();
        let mut h = vec![("x-slack-request-timestamp", ts.to_string()), ("x-slack-signature", sig)];
        for (k, v) in extra {
            h.push((if *k == "x-slack-retry-num" { "x-slack-retry-num" } else { "x-other" }, v.clone()));
        }
        h
    }

    /// Slack issues a `response_url` with each interaction: the stand-in takes posts to it from now.
    pub fn issue(&self, hook: &str) {
        self.slack.lock().unwrap().issued.entry(hook.to_string()).or_insert_with(now);
    }

    /// Moves the issue time of `hook` back by `s` seconds (as if the interaction were that old).
    pub fn age(&self, hook: &str, s: i64) {
        if let Some(t) = self.slack.lock().unwrap().issued.get_mut(hook) {
            *t -= s;
        }
    }

    /// The `chat.postMessage` calls Slack accepted.
    pub fn messages(&self) -> Vec<Value> {
        self.slack.lock().unwrap().messages.clone()
    }

    /// Posts Slack refused on `hook`, by error.
    pub fn refused(&self, hook: &str) -> Vec<String> {
        self.slack.lock().unwrap().refused.iter().filter(|(h, _)| h == hook).map(|(_, e)| e.clone()).collect()
    }

    pub fn slash_body(&self, user: &str, text: &str, hook: &str) -> String {
        self.issue(hook);
        testkit::slack::slash_command(user, text, &format!("{}{hook}", self.hooks))
    }

    pub async fn slash(&self, user: &str, text: &str, hook: &str) -> (StatusCode, Value) {
        let body = self.slash_body(user, text, hook);
        call(&self.state, event("slack", &body, &self.slack_headers(&body, &[]), true)).await
    }

    pub fn button_body(&self, user: &str, action_id: &str, value: &str, hook: &str) -> String {
        self.button_body_on(user, action_id, value, hook, None)
    }

    /// A button press on an ephemeral message (`on: None`) or on the channel message `on` (its ts).
    pub fn button_body_on(&self, user: &str, action_id: &str, value: &str, hook: &str, on: Option<&str>) -> String {
        self.issue(hook);
        let container = match on {
            Some(ts) => json!({"type": "message", "message_ts": ts, "channel_id": CHANNEL, "is_ephemeral": false}),
            None => {
                json!({"type": "message", "message_ts": "1716480000.000009", "channel_id": CHANNEL, "is_ephemeral": true})
            }
        };
        let payload = json!({"type": "block_actions", "user": {"id": user, "username": user.to_lowercase()},
            "team": {"id": "T0001"}, "api_app_id": "A0DEFENDER", "channel": {"id": "C2147483705"}, "trigger_id": "1.2.3",
            "response_url": format!("{}{hook}", self.hooks), "container": container,
            "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value}]});
        url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish()
    }

    pub async fn press(&self, user: &str, action_id: &str, value: &str, retry: Option<u32>) -> (StatusCode, Value) {
        self.press_on("confirm", user, action_id, value, retry).await
    }

    /// A button press whose `response_url` is `hook` (Slack issues one per click).
    pub async fn press_on(
        &self,
        hook: &str,
        user: &str,
        action_id: &str,
        value: &str,
        retry: Option<u32>,
    ) -> (StatusCode, Value) {
        let body = self.button_body(user, action_id, value, hook);
        let extra: Vec<(&str, String)> = retry.map(|n| vec![("x-slack-retry-num", n.to_string())]).unwrap_or_default();
        call(&self.state, event("slack", &body, &self.slack_headers(&body, &extra), false)).await
    }

    /// A button press on the channel message whose ts is `on` (an approval request).
    pub async fn press_in_channel(
        &self,
        hook: &str,
        user: &str,
        action_id: &str,
        value: &str,
        on: &str,
    ) -> (StatusCode, Value) {
        let body = self.button_body_on(user, action_id, value, hook, Some(on));
        let retry: Option<u32> = None;
        let extra: Vec<(&str, String)> = retry.map(|n| vec![("x-slack-retry-num", n.to_string())]).unwrap_or_default();
        call(&self.state, event("slack", &body, &self.slack_headers(&body, &extra), false)).await
    }

    /// Runs every job due now (delay zero); answers the delayed ones, not run.
    pub async fn drain(&mut self) -> Vec<Job> {
        let mut delayed = Vec::new();
        while let Ok((job, delay)) = self.jobs.try_recv() {
            if delay.is_zero() {
                self.worker.run(job).await;
            } else {
                delayed.push(job);
            }
        }
        delayed
    }

    pub fn posted(&self, hook: &str) -> Vec<Value> {
        self.posts.lock().unwrap().iter().filter(|(h, _)| h == hook).map(|(_, v)| v.clone()).collect()
    }

    pub fn machine(&self, host: &str) -> Value {
        self.sim.sim.tenant.lock().unwrap().seed.machines.iter().find(|m| m["computerDnsName"] == host).unwrap().clone()
    }

    /// The simulator's newest machine action on the machine named `host`.
    pub fn last_action(&self, host: &str) -> Value {
        let mid = self.machine(host)["id"].as_str().unwrap().to_string();
        let tenant = self.sim.sim.tenant.lock().unwrap();
        tenant.actions.iter().rev().find(|a| a["machineId"] == mid.as_str()).unwrap().clone()
    }

    /// A confirmation for `action` on `host`, sealed with the rig's Slack signing secret.
    #[allow(clippy::too_many_arguments)]
    pub fn seal(
        &self,
        user_id: &str,
        user_name: &str,
        action: &str,
        host: &str,
        reason: &str,
        request_id: &str,
        exp: i64,
    ) -> String {
        let confirmation = Confirmation {
            v: 1,
            tenant: "default".parse().unwrap(),
            user_id: user_id.parse().unwrap(),
            user_name: user_name.into(),
            action: action.into(),
            machine_id: self.machine(host)["id"].as_str().unwrap().parse().unwrap(),
            machine_name: host.into(),
            reason: Reason::try_from(reason.to_string()).unwrap(),
            request_id: request_id.into(),
            exp,
        };
        confirm::seal(&confirmation, &SecretString::new(self.slack_secret.clone())).unwrap()
    }

    pub async fn requests(&self) -> Vec<Value> {
        testkit::sim::requests(&self.sim).await
    }

    /// Every documented endpoint this rig's simulator has served is in `chatops::ENDPOINTS` (the list
    /// `doctor`, the grant script and the cold-start check use): the permission manifest cannot drift
    /// from what the callback and the worker call. Returns how many distinct endpoints were called.
    pub fn assert_declared_endpoints(&self) -> usize {
        let outside = self.sim.endpoints_called_outside(chatops::ENDPOINTS.iter().map(|e| e.name()));
        assert!(outside.is_empty(), "called but not in chatops::ENDPOINTS: {outside:?}");
        self.sim.endpoints_called().len()
    }

    pub async fn action_posts(&self) -> Vec<Value> {
        let verbs = [
            "/isolate",
            "/unisolate",
            "/runAntiVirusScan",
            "/restrictCodeExecution",
            "/unrestrictCodeExecution",
            "/collectInvestigationPackage",
        ];
        self.requests()
            .await
            .into_iter()
            .filter(|r| r["method"] == "POST" && verbs.iter().any(|v| r["path"].as_str().unwrap().ends_with(v)))
            .collect()
    }

    pub async fn sim_post(&self, path: &str, body: Value) {
        let r = self.sim.client().unwrap().post(format!("{}{path}", self.sim.url)).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
}

pub fn text(v: &Value) -> &str {
    v["text"].as_str().unwrap_or_default()
}

/// The same isolate confirmed 5 times concurrently and retried by Slack: one isolate at Defender,
/// followed to Succeeded (whatever idempotency store the rig has).
pub async fn five_concurrent_confirms_and_a_retry(rig: &mut Rig) {
    let host = "ws-fin-011.contoso.com";
    let m = rig.machine(host);
    let mid = m["id"].as_str().unwrap().to_string();
    let (_, out) = rig.slash(ANALYST, &format!("isolate {} suspected C2 beacon", host.to_uppercase()), "ask").await;
    assert_eq!(text(&out), "Working on it…");
    rig.drain().await;
    let prompt = rig.posted("ask").pop().unwrap();
    let msg = text(&prompt);
    assert!(msg.contains(host) && msg.contains(&mid) && msg.contains("suspected C2 beacon"), "{msg}");
    assert!(msg.contains("expires in 5 min"), "{msg}");
    let button = &prompt["blocks"][1]["elements"][0];
    assert_eq!(button["action_id"], "confirm");
    let token = button["value"].as_str().unwrap().to_string();
    assert!(rig.action_posts().await.is_empty(), "nothing happens before the confirmation");

    // Five concurrent presses and a Slack retry.
    let presses = (0..5).map(|_| rig.press(ANALYST, "confirm", &token, None));
    let results = futures::future::join_all(presses).await;
    let retry = rig.press(ANALYST, "confirm", &token, Some(1)).await;
    let answers: Vec<String> = results
        .iter()
        .chain([&retry])
        .map(|(s, v)| {
            assert_eq!(*s, StatusCode::OK);
            text(v).to_string()
        })
        .collect();
    let confirmed: Vec<&String> = answers.iter().filter(|a| a.starts_with("Confirmed: isolate")).collect();
    assert_eq!(confirmed.len(), 1, "{answers:#?}");
    assert_eq!(answers.iter().filter(|a| a.contains("was already confirmed")).count(), 5, "{answers:#?}");

    // Exactly one execution job; delivering it twice (an SQS redelivery) still acts once.
    let mut execs = Vec::new();
    while let Ok((job, delay)) = rig.jobs.try_recv() {
        assert!(delay.is_zero());
        execs.push(job);
    }
    assert_eq!(execs.len(), 1);
    let first = rig.worker.run(execs[0].clone()).await.unwrap();
    let again = rig.worker.run(execs[0].clone()).await.unwrap();
    assert!(first.text.contains("accepted by Defender — action `"), "{}", first.text);
    assert!(again.text.contains("was already handled"), "{}", again.text);
    let isolates = rig.action_posts().await;
    assert_eq!(isolates.len(), 1, "{isolates:#?}");
    assert_eq!(isolates[0]["path"], format!("/api/machines/{mid}/isolate"));
    assert_eq!(rig.posted("confirm").len(), 2, "both runs answered the thread");

    // The Defender comment names the chat user and the request id.
    let request_id = confirm::open::<Confirmation>(&token, &[SecretString::new(rig.slack_secret.clone())], now())
        .unwrap()
        .request_id;
    let action = rig.last_action(host);
    let comment = action["requestorComment"].as_str().unwrap();
    assert!(comment.contains("u0analyst (U0ANALYST)") && comment.contains(&request_id), "{comment}");
    let exec = rig.idem.put_if_absent(&format!("exec:{request_id}"), "probe", 0).await.unwrap();
    assert!(exec.as_deref().unwrap_or_default().starts_with("machine action "), "{exec:?}");

    // Follow-up: one delayed re-check; still pending now, re-queued; after the clock moves, Succeeded.
    let mut due = rig.drain().await;
    assert_eq!(due.len(), 1);
    assert!(matches!(&due[0], Job::Recheck { pending } if pending.len() == 1));
    rig.worker.run(due.remove(0)).await;
    assert_eq!(rig.posted("confirm").len(), 2, "nothing final yet, nothing posted");
    let mut due = rig.drain().await;
    assert_eq!(due.len(), 1, "re-queued");
    rig.sim_post("/_sim/clock", json!({"advance_s": 40})).await;
    rig.worker.run(due.remove(0)).await;
    let outcome = rig.posted("confirm").pop().unwrap();
    assert!(text(&outcome).starts_with(&format!("Isolate of `{host}` (request `{request_id}`")), "{outcome}");
    assert!(text(&outcome).ends_with("*Succeeded*."), "{outcome}");
    assert!(rig.drain().await.is_empty(), "nothing more to follow");

    // Now isolated: a new isolate is refused; the machine command says so.
    rig.slash(ANALYST, &format!("isolate {host} again"), "after").await;
    rig.slash(ANALYST, &format!("machine {host}"), "info").await;
    rig.drain().await;
    assert!(text(&rig.posted("after")[0]).contains("already isolated"));
    let info = text(&rig.posted("info")[0]).to_string();
    assert!(info.contains("Isolation: isolated") && info.contains(&mid), "{info}");
    assert_eq!(rig.action_posts().await.len(), 1);
}
