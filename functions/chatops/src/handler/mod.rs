//! The callback Lambda: `POST /chatops/slack` and `POST /chatops/teams` through `lambda_http`.
//!
//! 1. Bodies over [`MAX_BODY`] are 413; the signature is verified first (Slack v0 with a 5-minute
//!    window, Teams HMAC with the signed activity's `timestamp` held to the same window; constant
//!    time, secrets from the vault through the shared TTL cache); any failure is 401 with one generic
//!    body. A signed Teams activity `id` is claimed in the idempotency store (`teams-activity:…`), so
//!    a replay within the window is answered without doing anything again.
//! 2. The request is parsed ([`crate::command`]); help and usage, refusals by policy
//!    ([`Safety::authorize`]) and confirm/cancel buttons are answered at once — none needs Defender.
//!    A refused button press (expired, another user's, not allowed) is also posted to the click's
//!    `response_url`, ephemeral: Slack does not show the body acknowledging a `block_actions`.
//!    Incident changes have their own button (`confirm-incident`); `cancel` carries the sealed token
//!    and is honoured only for the requester or a possible approver ([`Safety::cancel`]).
//! 3. Everything that calls Defender is handed to the worker ([`HandOff`]) and answered "working on
//!    it": the callback never waits on Defender, so it answers well within Slack's 3 s.
//! 4. Teams outgoing webhooks must be answered in the response (within 5 s, no `response_url`) and
//!    cannot carry buttons: lookups and the action prompt run inline within [`TEAMS_BUDGET`]; the
//!    prompt shows a short code (kept in the idempotency store as `teams-code:<code>` → the sealed
//!    token, until the token expires) and the analyst types `confirm <code>` (a second person
//!    `approve <code>`), checked exactly as the Slack buttons are. The confirmed action is handed to
//!    the worker; its outcome is read with `machine …` or `action …` (no `response_url`).

// `teams_bot` (`POST /chatops/teams-bot`) is a child: this adapter routes to it, and it shares this
// adapter's [`State`] and approval card; one adapter, not a cycle between siblings.
pub mod teams_bot;

use crate::{
    actions::{Accepted, Audited, IncidentAccepted, Safety, audit_refusal},
    command::{ChatUser, Command, ConfirmCode, Origin, Parsed, SlackRequest, parse_slack, parse_teams, usage},
    config::Platform,
    confirm::Confirmation,
    handoff::{HandOff, Job},
    reply::{ButtonAction, Prompt, Refusal, Reply, untrusted},
    worker::Worker,
};
use defender_shared::{
    vault::{SecretStore, VaultError, read_keys},
    webhook,
};
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};
use tracing::{info, warn};

/// The Slack route: slash commands and interactivity (`infra/slack-app-manifest.yaml`).
pub const SLACK_ROUTE: &str = "/chatops/slack";
/// The Teams outgoing-webhook route.
pub const TEAMS_ROUTE: &str = "/chatops/teams";

/// Largest accepted body.
pub const MAX_BODY: usize = 64 * 1024;
/// Time the callback gives a reply posted to a button's `response_url` (Slack wants the
/// acknowledgement within 3 s).
pub const PRESSER_POST_BUDGET: Duration = Duration::from_millis(1500);
/// Time a Teams lookup may take (Teams gives an outgoing webhook 5 s).
pub const TEAMS_BUDGET: Duration = Duration::from_millis(4000);

/// Cold-start state of the callback.
pub struct State {
    /// Where the signing secrets live.
    pub store: Arc<dyn SecretStore>,
    /// Slack signing secret names, current first.
    pub slack_secret_names: Vec<String>,
    /// Teams outgoing-webhook secret names, current first.
    pub teams_secret_names: Vec<String>,
    /// Policy and exactly-once.
    pub safety: Arc<Safety>,
    /// To the worker.
    pub handoff: Arc<dyn HandOff>,
    /// For Teams' inline lookups.
    pub worker: Arc<Worker>,
    /// Unix seconds now (injected for tests).
    pub clock: fn() -> i64,
    /// The Teams bot (`None`: `POST /chatops/teams-bot` is 404).
    pub teams_bot: Option<Arc<teams_bot::TeamsBot>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("slack_secret_names", &self.slack_secret_names).finish_non_exhaustive()
    }
}

fn respond(status: StatusCode, body: Value) -> Response<Body> {
    let mut r = Response::new(Body::Text(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", lambda_http::http::HeaderValue::from_static("application/json"));
    r
}

/// The signing secrets could not be read because the vault is unavailable: not the caller's fault, so
/// not a 401 — Slack and Teams retry a 503.
fn store_unavailable(e: &VaultError) -> Response<Body> {
    warn!(error = %e, "signing secrets unavailable: answering 503");
    let mut r = respond(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": {"code": "SecretStoreUnavailable", "message": "the signing secrets cannot be read now; retry shortly"}}),
    );
    r.headers_mut().insert("retry-after", lambda_http::http::HeaderValue::from_static(RETRY_AFTER_S));
    r
}

/// The idempotency store could not record a Teams activity: refused with 503 rather than acted on
/// unrecorded (a replay could then run it twice).
fn store_unavailable_idempotency() -> Response<Body> {
    let mut r = respond(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": {"code": "IdempotencyStoreUnavailable", "message": "the request cannot be recorded now; retry shortly"}}),
    );
    r.headers_mut().insert("retry-after", lambda_http::http::HeaderValue::from_static(RETRY_AFTER_S));
    r
}

/// `Retry-After` when the vault is unavailable, seconds.
const RETRY_AFTER_S: &str = "5";

fn unauthorized() -> Response<Body> {
    respond(
        StatusCode::UNAUTHORIZED,
        json!({"error": {"code": "Unauthorized", "message": "missing, invalid or stale signature"}}),
    )
}

fn slack(reply: &Reply) -> Response<Body> {
    respond(StatusCode::OK, reply.to_slack())
}

/// Handles one request.
pub async fn handle(state: &State, req: Request) -> Response<Body> {
    if req.method() != lambda_http::http::Method::POST {
        return respond(StatusCode::METHOD_NOT_ALLOWED, json!({"error": {"code": "MethodNotAllowed"}}));
    }
    let body: &[u8] = match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if body.len() > MAX_BODY {
        return respond(StatusCode::PAYLOAD_TOO_LARGE, json!({"error": {"code": "PayloadTooLarge"}}));
    }
    let path = req.uri().path().trim_end_matches('/').to_string();
    if path.ends_with(SLACK_ROUTE) {
        slack_route(state, &req, body).await
    } else if path.ends_with(teams_bot::TEAMS_BOT_ROUTE)
        && let Some(bot) = state.teams_bot.clone()
    {
        teams_bot::handle(state, &bot, &req, body).await
    } else if path.ends_with(TEAMS_ROUTE) {
        teams_route(state, &req, body).await
    } else {
        respond(StatusCode::NOT_FOUND, json!({"error": {"code": "NotFound"}}))
    }
}

async fn slack_route(state: &State, req: &Request, body: &[u8]) -> Response<Body> {
    let headers = req.headers();
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let keys = match read_keys(state.store.as_ref(), &state.slack_secret_names).await {
        Ok(keys) => keys,
        Err(e) => return store_unavailable(&e),
    };
    let now = (state.clock)();
    if let Err(e) = webhook::verify_slack(
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        &keys,
        now,
        webhook::DEFAULT_WINDOW,
    ) {
        warn!(reason = %e, bytes = body.len(), "unauthenticated Slack request refused");
        return unauthorized();
    }
    if let Some(id) = crate::correlation::slack(body) {
        defender_shared::telemetry::correlate(&id);
    }
    let retry = header("x-slack-retry-num").map(str::to_string);
    let parsed = match parse_slack(body) {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, "unusable Slack request");
            return respond(
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "BadRequest", "message": e.to_string()}}),
            );
        }
    };
    // Before anything else: the app, workspace and organisation the policy admits. A signature only
    // shows the request came through our Slack app, which may be installed in other workspaces too.
    let origin = match &parsed {
        SlackRequest::Slash { origin, .. } | SlackRequest::Button { origin, .. } => origin,
    };
    if let Err(e) = state.safety.rbac.admit(Platform::Slack, origin) {
        warn!(team = %origin.team, app = origin.app.as_deref().unwrap_or(""), reason = %e, "Slack request from outside the policy refused");
        return slack(&Reply::text(e.to_string()));
    }
    match parsed {
        SlackRequest::Slash { user, origin, response_url, parsed } => {
            let cmd = match parsed {
                Parsed::Usage(why) => return slack(&Reply::text(format!("{why}\n{}", usage()))),
                Parsed::Command(Command::Help) => return slack(&Reply::text(usage())),
                Parsed::Command(Command::Confirm { .. }) => {
                    return slack(&Reply::text("In Slack, confirm with the prompt's button."));
                }
                Parsed::Command(c) => c,
            };
            let tenant = match state.safety.authorize(&origin, &user, &cmd) {
                Ok(Some(t)) => t,
                Ok(None) => return slack(&Reply::text(usage())),
                Err(why) => return slack(&Reply::refused(&why)),
            };
            defender_shared::telemetry::tenant(tenant.as_str());
            let text = form_text(body);
            let job = Job::Command { tenant, user, origin, text, response_url, received_at: now };
            match state.handoff.send(&job, Duration::ZERO).await {
                Ok(()) => {
                    info!(retry = retry.as_deref().unwrap_or("0"), "command handed to the worker");
                    slack(&Reply::text("Working on it…"))
                }
                Err(e) => {
                    warn!(error = %e, "hand-off failed");
                    slack(&Reply::text("Sorry, the request could not be queued; try again."))
                }
            }
        }
        SlackRequest::Button { user, origin, response_url, action_id, value, thread_ts } => {
            match ButtonAction::parse(&action_id) {
                Some(ButtonAction::Confirm) => match state.safety.accept(&value, &user, &origin, &keys).await {
                    Accepted::Go(c) => {
                        execute(state, *c, value, now, (response_url, thread_ts), &origin, None, "confirm").await
                    }
                    Accepted::AwaitingApproval(c) => {
                        let reply = approval_request(&c, &user, value);
                        // The approval request goes to the channel, where a second person can see it.
                        if let Some(url) = response_url.as_deref()
                            && let Err(e) = state.worker.responder.post(url, &reply.to_slack()).await
                        {
                            warn!(error = %e, "could not post the approval request");
                        }
                        slack(&reply)
                    }
                    Accepted::Duplicate(msg) => {
                        info!(retry = retry.as_deref().unwrap_or("0"), "duplicate confirmation ignored");
                        slack(&Reply::text(msg))
                    }
                    Accepted::Refused(why) => to_presser(state, response_url.as_deref(), Reply::refused(&why)).await,
                },
                Some(ButtonAction::Approve) => match state.safety.approve(&value, &user, &origin, &keys).await {
                    Accepted::Go(c) => {
                        execute(state, *c, value, now, (response_url, thread_ts), &origin, Some(user), "approve").await
                    }
                    Accepted::Duplicate(msg) => {
                        info!(retry = retry.as_deref().unwrap_or("0"), "duplicate approval ignored");
                        slack(&Reply::text(msg))
                    }
                    Accepted::Refused(why) => to_presser(state, response_url.as_deref(), Reply::refused(&why)).await,
                    Accepted::AwaitingApproval(_) => slack(&Reply::text("Nothing to do.")),
                },
                Some(ButtonAction::ConfirmChange) => {
                    match state.safety.accept_incident(&value, &user, &origin, &keys).await {
                        IncidentAccepted::Go(c) => {
                            let channel = (!origin.channel.is_empty()).then(|| origin.channel.clone());
                            let job = Job::UpdateIncident {
                                token: value,
                                accepted_at: now,
                                response_url: response_url.clone(),
                                channel,
                            };
                            match state.handoff.send(&job, Duration::ZERO).await {
                                Ok(()) => slack(&Reply::replacing(format!(
                                    "Confirmed: {} (request `{}`) — working on it…",
                                    c.summary, c.request_id
                                ))),
                                Err(e) => {
                                    warn!(error = %e, "hand-off failed");
                                    if let Err(e) =
                                        state.safety.idempotency.remove(&format!("confirm:{}", c.request_id)).await
                                    {
                                        warn!(error = %e, "could not release a claim");
                                    }
                                    let again =
                                        Reply::text("Sorry, the change could not be queued; press confirm again.");
                                    to_presser(state, response_url.as_deref(), again).await
                                }
                            }
                        }
                        IncidentAccepted::Duplicate(msg) => slack(&Reply::text(msg)),
                        IncidentAccepted::Refused(why) => {
                            to_presser(state, response_url.as_deref(), Reply::refused(&why)).await
                        }
                    }
                }
                // Only the requester, or a person who could approve, may cancel (refusals ephemeral).
                Some(ButtonAction::Cancel) => match state.safety.cancel(&value, &user, &origin, &keys).await {
                    Ok(msg) => to_presser(state, response_url.as_deref(), Reply::replacing(msg)).await,
                    Err(why) => to_presser(state, response_url.as_deref(), Reply::refused(&why)).await,
                },
                None => {
                    info!(action_id = %action_id, "button ignored");
                    slack(&Reply::text("Nothing to do."))
                }
            }
        }
    }
}

/// A reply to the person who pressed a button, posted to the click's `response_url`: Slack shows
/// nothing of the body that acknowledges a `block_actions` payload, so a refusal answered only there
/// would never reach them. Ephemeral and not replacing: the message the button was on (an approval
/// request in the channel, say) stays for everyone else. The body carries it too, for the log and
/// for clients that read it.
async fn to_presser(state: &State, response_url: Option<&str>, reply: Reply) -> Response<Body> {
    match response_url {
        Some(url) => {
            // Bounded: the acknowledgement itself must still reach Slack within its 3 s.
            match tokio::time::timeout(PRESSER_POST_BUDGET, state.worker.responder.post(url, &reply.to_slack())).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => warn!(error = %e, "could not post a refusal to the presser"),
                Err(_) => warn!("posting a refusal to the presser took too long; given up"),
            }
        }
        None => warn!("a button press without a response_url: the refusal cannot be shown"),
    }
    slack(&reply)
}

/// Hands a confirmed (or approved) action to the worker; on failure releases the claim so the
/// button can be pressed again.
#[allow(clippy::too_many_arguments)]
async fn execute(
    state: &State,
    c: Confirmation,
    token: String,
    now: i64,
    (response_url, thread_ts): (Option<String>, Option<String>),
    origin: &Origin,
    approver: Option<ChatUser>,
    claim: &str,
) -> Response<Body> {
    let by = approver.as_ref().map(|a| format!(" by {}", untrusted(&a.name))).unwrap_or_default();
    let channel = (!origin.channel.is_empty()).then(|| origin.channel.clone());
    let url = response_url.clone();
    let job = Job::Execute { token, accepted_at: now, response_url, approver, channel, thread_ts };
    match state.handoff.send(&job, Duration::ZERO).await {
        Ok(()) => slack(&Reply::replacing(format!(
            "{}{by}: {} `{}` (request `{}`) — working on it…",
            if claim == "approve" { "Approved" } else { "Confirmed" },
            c.action,
            untrusted(&c.machine_name),
            c.request_id
        ))),
        Err(e) => {
            warn!(error = %e, "hand-off failed");
            state.safety.release(&c, claim).await;
            to_presser(
                state,
                url.as_deref(),
                Reply::text(format!("Sorry, the action could not be queued; press {claim} again.")),
            )
            .await
        }
    }
}

/// The channel message asking a second person to approve a confirmed action.
pub fn approval_request(c: &Confirmation, requester: &ChatUser, token: String) -> Reply {
    Reply {
        text: format!(
            "*Approval needed*: {} asked to *{}* `{}` (id `{}`).\nReason: {}\nRequest `{}` — a second authorised \
             person must approve before the confirmation expires.",
            untrusted(&requester.name),
            c.action,
            untrusted(&c.machine_name),
            c.machine_id,
            untrusted(c.reason.as_str()),
            c.request_id
        ),
        prompt: Some(Prompt {
            action: c.action.clone(),
            machine_name: c.machine_name.clone(),
            machine_id: c.machine_id.to_string(),
            reason: c.reason.as_str().to_string(),
            request_id: c.request_id.clone(),
            expires_in_s: 0,
            token,
            approval: true,
            incident: false,
        }),
        // A new message in the channel: an ephemeral prompt cannot be replaced by a public one.
        replace_original: false,
        in_channel: true,
    }
}

fn form_text(body: &[u8]) -> String {
    url::form_urlencoded::parse(body).find(|(k, _)| k == "text").map(|(_, v)| v.into_owned()).unwrap_or_default()
}

async fn teams_route(state: &State, req: &Request, body: &[u8]) -> Response<Body> {
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
    let keys = match read_keys(state.store.as_ref(), &state.teams_secret_names).await {
        Ok(keys) => keys,
        Err(e) => return store_unavailable(&e),
    };
    let now = (state.clock)();
    let verified = match webhook::verify_teams(auth, body, &keys, now, webhook::DEFAULT_WINDOW) {
        Ok(v) => v,
        Err(e) => {
            warn!(reason = %e, bytes = body.len(), "unauthenticated or stale Teams request refused");
            return unauthorized();
        }
    };
    if let Some(id) = crate::correlation::teams(body) {
        defender_shared::telemetry::correlate(&id);
    }
    let r = match parse_teams(body) {
        Ok(r) => r,
        Err(e) => {
            return respond(
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "BadRequest", "message": e.to_string()}}),
            );
        }
    };
    let teams = |reply: Reply| respond(StatusCode::OK, reply.to_teams());
    // Before anything else (the replay claim included): the Teams tenant the policy admits.
    if let Err(e) = state.safety.rbac.admit(Platform::Teams, &r.origin) {
        warn!(tenant = %r.origin.team, reason = %e, "Teams activity from outside the policy refused");
        return teams(Reply::text(e.to_string()));
    }
    // A signed activity is acted on once: its id (per conversation) is claimed in the shared
    // idempotency store for twice the window, so a replay inside the window does nothing again, on
    // any instance. A store failure refuses the request (nothing is done unrecorded).
    let activity = {
        use sha2::{Digest, Sha256};
        // Hashed: the conversation id is sender-chosen text of any length; the key stays 79 bytes.
        let mut h = Sha256::new();
        h.update(r.origin.channel.as_bytes());
        h.update([0]);
        h.update(verified.id.as_deref().unwrap_or_default().as_bytes());
        format!("teams-activity:{}", hex::encode(h.finalize()))
    };
    let window = i64::try_from(webhook::DEFAULT_WINDOW.as_secs()).unwrap_or(i64::MAX);
    match state.safety.idempotency.put_if_absent(&activity, "seen", now.saturating_add(2 * window)).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            info!("Teams activity already handled: replay ignored");
            return teams(Reply::text("This message was already handled; nothing was done again."));
        }
        Err(e) => {
            warn!(error = %e, "could not record the Teams activity: refused");
            return store_unavailable_idempotency();
        }
    }
    let cmd = match r.parsed {
        Parsed::Usage(why) => return teams(Reply::text(format!("{why}\n{}", usage()))),
        Parsed::Command(c) => c,
    };
    if let Command::Confirm { code, approve } = &cmd {
        return teams(teams_confirm(state, &r.user, &r.origin, code, *approve).await);
    }
    let tenant = match state.safety.authorize(&r.origin, &r.user, &cmd) {
        Ok(Some(t)) => t,
        Ok(None) => return teams(Reply::text(usage())),
        Err(why) => return teams(Reply::refused(&why)),
    };
    defender_shared::telemetry::tenant(tenant.as_str());
    let text = parse_text_of(body);
    let reply = match tokio::time::timeout(TEAMS_BUDGET, state.worker.command(&tenant, &r.user, &r.origin, &text)).await
    {
        Ok(reply) => reply,
        Err(_) => return teams(Reply::text("Defender did not answer in time; try again.")),
    };
    match &reply.prompt {
        Some(p) => teams(teams_prompt(state, &reply, p).await),
        None => teams(reply),
    }
}

/// A Teams action prompt: the code to type instead of the button.
async fn teams_prompt(state: &State, reply: &Reply, p: &Prompt) -> Reply {
    let code = ConfirmCode::random();
    let exp = (state.clock)() + i64::try_from(p.expires_in_s).unwrap_or(0);
    // An incident change's token is kept marked as such (a token never contains a space).
    let kept = if p.incident { format!("{INCIDENT_CODE}{}", p.token) } else { p.token.clone() };
    match state.safety.idempotency.put_if_absent(&format!("teams-code:{code}"), &kept, exp).await {
        Ok(None) => Reply::text(format!(
            "{}\nTo go ahead, reply `confirm {code}` within {} min.",
            reply.text.lines().take(2).collect::<Vec<_>>().join("\n"),
            p.expires_in_s.div_ceil(60)
        )),
        Ok(Some(_)) => Reply::text("Sorry, a code clash; run the command again."),
        Err(e) => {
            warn!(error = %e, "could not keep a Teams confirmation code");
            Reply::text("Sorry, the confirmation could not be kept; try again.")
        }
    }
}

/// The mark of an incident change's token under `teams-code:`.
const INCIDENT_CODE: &str = "incident ";

/// `confirm <code>` for an incident change in Teams: the same checks as the Slack button.
async fn teams_confirm_incident(
    state: &State,
    user: &ChatUser,
    origin: &Origin,
    token: String,
    approve: bool,
    keys: &[defender_shared::secret::SecretString],
) -> Reply {
    if approve {
        let why = Refusal::ChangeNeedsNoApproval;
        audit_refusal(Audited::user(user, "incident-update"), &why, "");
        return Reply::refused(&why);
    }
    match state.safety.accept_incident(&token, user, origin, keys).await {
        IncidentAccepted::Go(c) => {
            let job = Job::UpdateIncident { token, accepted_at: (state.clock)(), response_url: None, channel: None };
            match state.handoff.send(&job, Duration::ZERO).await {
                Ok(()) => {
                    Reply::text(format!("Confirmed: {} (request `{}`) — sent to Defender.", c.summary, c.request_id))
                }
                Err(e) => {
                    warn!(error = %e, "hand-off failed");
                    if let Err(e) = state.safety.idempotency.remove(&format!("confirm:{}", c.request_id)).await {
                        warn!(error = %e, "could not release a claim");
                    }
                    Reply::text("Sorry, the change could not be queued; confirm again.")
                }
            }
        }
        IncidentAccepted::Duplicate(msg) => Reply::text(msg),
        IncidentAccepted::Refused(why) => Reply::refused(&why),
    }
}

/// `confirm <code>` / `approve <code>` in Teams: the same checks as the Slack buttons.
async fn teams_confirm(state: &State, user: &ChatUser, origin: &Origin, code: &ConfirmCode, approve: bool) -> Reply {
    let token = match state.safety.idempotency.get(&format!("teams-code:{code}")).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            let why = Refusal::UnknownCode(code.to_string());
            audit_refusal(Audited::user(user, "confirm"), &why, "");
            return Reply::refused(&why);
        }
        Err(e) => return Reply::refused(&Refusal::Store(e.to_string())),
    };
    let Ok(keys) = read_keys(state.store.as_ref(), &state.worker.slack_secret_names).await else {
        return Reply::text("The key vault is unavailable right now: nothing was done; try again shortly.".to_string());
    };
    if let Some(token) = token.strip_prefix(INCIDENT_CODE) {
        return teams_confirm_incident(state, user, origin, token.to_string(), approve, &keys).await;
    }
    let now = (state.clock)();
    let accepted = state.safety.press(approve, &token, user, origin, &keys).await;
    match accepted {
        Accepted::Go(c) => {
            let approver = approve.then(|| user.clone());
            let job =
                Job::Execute { token, accepted_at: now, response_url: None, approver, channel: None, thread_ts: None };
            match state.handoff.send(&job, Duration::ZERO).await {
                Ok(()) => Reply::text(format!(
                    "{}: {} `{}` (request `{}`) — sent to Defender; `machine {}` shows its state.",
                    if approve { "Approved" } else { "Confirmed" },
                    c.action,
                    untrusted(&c.machine_name),
                    c.request_id,
                    c.machine_id
                )),
                Err(e) => {
                    warn!(error = %e, "hand-off failed");
                    state.safety.release(&c, if approve { "approve" } else { "confirm" }).await;
                    Reply::text(format!(
                        "Sorry, the action could not be queued; reply `{} {code}` again.",
                        if approve { "approve" } else { "confirm" }
                    ))
                }
            }
        }
        Accepted::AwaitingApproval(c) => {
            let mut reply = approval_request(&c, user, token);
            reply.prompt = None;
            reply.text.push_str(&format!("\nA second authorised person replies `approve {code}`."));
            reply
        }
        Accepted::Duplicate(msg) => Reply::text(msg),
        Accepted::Refused(why) => Reply::refused(&why),
    }
}

fn parse_text_of(body: &[u8]) -> String {
    // The text the command was parsed from, mention removed (re-parsed by the worker).
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["text"].as_str().map(str::to_string))
        .map(|t| crate::command::teams_plain_text(&t))
        .unwrap_or_default()
}
