//! The Teams bot on the Bot Framework: `POST /chatops/teams-bot`, the messaging endpoint an Azure Bot
//! resource points at (the outgoing webhook on `/chatops/teams` stays as the simple option).
//!
//! 1. Every activity's JWT is verified first ([`crate::bot_auth`]): anything else is answered 401
//!    (403 for a missing channel endorsement) before the activity is read further — no Defender,
//!    Entra, vault or store call.
//! 2. The Teams tenant is admitted by the same policy as the webhook's (`teams.tenants`); the sender
//!    is `from.aadObjectId` (the RBAC key, as for the webhook); an activity id is acted on once.
//! 3. A `message` is a command: authorised at once, then handed to the worker as a [`Job::Teams`], so
//!    the reply — a card: machine, alert, or the confirmation card with `Action.Execute` buttons — is
//!    sent through the Bot Connector with no 5-second limit.
//! 4. An `invoke` named `adaptiveCard/action` is a button press (Universal Actions): `confirm`,
//!    `approve`, `confirm-incident` and `cancel` go through [`Safety`](crate::actions::Safety) exactly
//!    as Slack's buttons do (same RBAC, expiry, exact machine, exactly-once claims); the answer is
//!    the updated card (replacing the card in place for the presser) and the card message is
//!    updated for everyone through the Bot Connector. A refusal is a message to the presser; the
//!    card stays.
//! 5. The confirmed action's outcome, and its follow-up until a terminal state, are posted to the
//!    conversation by the worker ([`crate::thread::Poster`] → [`crate::connector`]).

use super::{State, approval_request};
use crate::{
    actions::{Accepted, IncidentAccepted},
    bot_auth::BotAuth,
    cards,
    command::{ChatUser, Command, Origin, Parsed, parse_text, teams_plain_text, usage},
    config::{ChatOpsConfigError, Platform, check_response_url_prefix, list, nonempty, seconds},
    connector::{BotConnector, TeamsRef},
    handoff::Job,
    reply::{ButtonAction, Reply, untrusted},
};
use defender_shared::vault::read_keys;
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};
use tracing::{info, warn};

/// The bot's messaging endpoint.
pub const TEAMS_BOT_ROUTE: &str = "/chatops/teams-bot";
/// Time the callback gives a Bot Connector call it makes itself (a refusal, a card update).
pub const INLINE_POST_BUDGET: Duration = Duration::from_secs(3);

/// The bot's settings (`CHATOPS_BOT_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsBotConfig {
    /// `CHATOPS_BOT_APP_ID`: the Azure Bot's Microsoft App ID (the tokens' audience).
    pub app_id: defender_shared::ids::ClientId,
    /// `CHATOPS_BOT_TENANT_ID`: the bot app's home tenant (single-tenant bot).
    pub tenant_id: defender_shared::ids::TenantId,
    /// `CHATOPS_BOT_SECRET_NAME` (client secret) or `CHATOPS_BOT_CERT_NAME` (certificate PEM with its
    /// key): the vault secret the bot authenticates with.
    pub credential: BotCredential,
    /// `CHATOPS_BOT_OPENID_METADATA_URL`: replaces the cloud's metadata URL (a stand-in only).
    pub metadata_url: Option<String>,
    /// `CHATOPS_BOT_SERVICE_URL_PREFIXES`: `serviceUrl` prefixes accepted beside the cloud's Teams hosts.
    pub service_url_prefixes: Vec<String>,
    /// `CHATOPS_BOT_KEYS_MIN_REFRESH_S`: the least time between two key fetches for unknown key ids.
    pub keys_min_refresh: Duration,
    /// `CHATOPS_BOT_POST_DEADLINE_S`: how long one post to the Bot Connector is retried.
    pub post_deadline: Duration,
}

/// The bot's credential in the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotCredential {
    /// A client secret, by vault name.
    Secret(String),
    /// A certificate and private key (PEM), by vault name.
    Certificate(String),
}

impl TeamsBotConfig {
    /// Reads the `CHATOPS_BOT_*` settings; `Ok(None)` without `CHATOPS_BOT_APP_ID` (no bot).
    ///
    /// # Errors
    /// The variable and the reason.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ChatOpsConfigError> {
        let Some(app) = nonempty(get, "CHATOPS_BOT_APP_ID") else { return Ok(None) };
        let err = |var: &'static str| move |e: String| ChatOpsConfigError { var, reason: e };
        let app_id =
            app.parse().map_err(|e: defender_shared::ids::InvalidId| err("CHATOPS_BOT_APP_ID")(e.to_string()))?;
        let tenant_id = nonempty(get, "CHATOPS_BOT_TENANT_ID")
            .ok_or_else(|| err("CHATOPS_BOT_TENANT_ID")("required with CHATOPS_BOT_APP_ID (single-tenant bot)".into()))?
            .parse()
            .map_err(|e: defender_shared::ids::InvalidId| err("CHATOPS_BOT_TENANT_ID")(e.to_string()))?;
        let name = |var: &'static str| {
            nonempty(get, var)
                .map(|n| defender_shared::vault::check_name(&n).map(|()| n).map_err(|e| err(var)(e.to_string())))
                .transpose()
        };
        let credential = match (name("CHATOPS_BOT_SECRET_NAME")?, name("CHATOPS_BOT_CERT_NAME")?) {
            (Some(_), Some(_)) => {
                return Err(err("CHATOPS_BOT_CERT_NAME")(
                    "set CHATOPS_BOT_SECRET_NAME or CHATOPS_BOT_CERT_NAME, not both".into(),
                ));
            }
            (None, Some(c)) => BotCredential::Certificate(c),
            (Some(s), None) => BotCredential::Secret(s),
            (None, None) => BotCredential::Secret("teams-bot-secret".into()),
        };
        let metadata_url = nonempty(get, "CHATOPS_BOT_OPENID_METADATA_URL");
        if let Some(u) = &metadata_url {
            check_response_url_prefix(u).map_err(err("CHATOPS_BOT_OPENID_METADATA_URL"))?;
        }
        let service_url_prefixes = list(get("CHATOPS_BOT_SERVICE_URL_PREFIXES"), &[]);
        for p in &service_url_prefixes {
            check_response_url_prefix(p).map_err(err("CHATOPS_BOT_SERVICE_URL_PREFIXES"))?;
        }
        Ok(Some(Self {
            app_id,
            tenant_id,
            credential,
            metadata_url,
            service_url_prefixes,
            keys_min_refresh: seconds(get, "CHATOPS_BOT_KEYS_MIN_REFRESH_S", 0..=3600, 60)?,
            post_deadline: seconds(get, "CHATOPS_BOT_POST_DEADLINE_S", 1..=60, 15)?,
        }))
    }
}

/// The bot at run time.
pub struct TeamsBot {
    /// Inbound verification.
    pub auth: BotAuth,
    /// Outbound.
    pub connector: Arc<dyn BotConnector>,
}

impl std::fmt::Debug for TeamsBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsBot").field("auth", &self.auth).finish_non_exhaustive()
    }
}

fn respond(status: StatusCode, body: &Value) -> Response<Body> {
    let mut r = Response::new(Body::Text(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", lambda_http::http::HeaderValue::from_static("application/json"));
    r
}

fn ok(body: &Value) -> Response<Body> {
    respond(StatusCode::OK, body)
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "serviceUrl")]
    service_url: String,
    #[serde(rename = "channelId")]
    channel_id: String,
}

#[derive(Deserialize, Default)]
struct IdName {
    #[serde(default)]
    id: String,
    #[serde(default, rename = "conversationType")]
    conversation_type: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "aadObjectId")]
    aad_object_id: Option<String>,
}

#[derive(Deserialize)]
struct Activity {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    from: IdName,
    #[serde(default)]
    conversation: IdName,
    #[serde(default, rename = "channelData")]
    channel_data: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default, rename = "replyToId")]
    reply_to_id: Option<String>,
}

/// Handles one request to the bot's messaging endpoint.
pub async fn handle(state: &State, bot: &TeamsBot, req: &Request, body: &[u8]) -> Response<Body> {
    let denied = |status: u16, why: &str| {
        respond(
            StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED),
            &json!({"error": {"code": if status == 403 { "Forbidden" } else { "Unauthorized" }, "message": why}}),
        )
    };
    let Ok(env) = serde_json::from_slice::<Envelope>(body) else {
        warn!(bytes = body.len(), "Teams bot request without an activity envelope refused");
        return denied(401, "missing or invalid Bot Framework token");
    };
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
    let now = (state.clock)();
    if let Err(e) = bot.auth.verify(auth, &env.service_url, &env.channel_id, now).await {
        warn!(reason = %e, bytes = body.len(), "unauthenticated Teams bot activity refused");
        return match e.status() {
            403 => denied(403, "the channel is not endorsed"),
            503 => respond(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": {"code": "KeysUnavailable", "message": "the Bot Framework keys cannot be read now"}}),
            ),
            _ => denied(401, "missing or invalid Bot Framework token"),
        };
    }
    let Ok(a) = serde_json::from_slice::<Activity>(body) else {
        return respond(StatusCode::BAD_REQUEST, &json!({"error": {"code": "BadRequest"}}));
    };
    let tenant = a
        .channel_data
        .as_ref()
        .and_then(|c| c.pointer("/tenant/id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let origin = Origin { team: tenant, channel: a.conversation.id.clone(), ..Origin::default() };
    // The RBAC key is the Entra object id; a sender without one (a bot, a guest) is nobody.
    let user = a.from.aad_object_id.as_deref().and_then(|raw| {
        let id = raw.parse().ok()?;
        Some(ChatUser { name: a.from.name.clone().unwrap_or_else(|| raw.to_string()), id })
    });
    let here = TeamsRef {
        service_url: env.service_url.clone(),
        conversation: a.conversation.id.clone(),
        reply_to: (!a.id.is_empty()).then(|| a.id.clone()),
        card: None,
    };
    let invoke = a.kind == "invoke";
    let here_ref = &here;
    let tell = |text: String| async move {
        if invoke {
            ok(&cards::invoke_message(&text))
        } else {
            post_inline(bot, here_ref, &Reply::text(text)).await;
            ok(&json!({}))
        }
    };
    if let Err(e) = state.safety.rbac.admit(Platform::Teams, &origin) {
        warn!(tenant = %origin.team, reason = %e, "Teams bot activity from outside the policy refused");
        return tell(e.to_string()).await;
    }
    if !matches!(a.kind.as_str(), "message" | "invoke") {
        info!(kind = %a.kind.chars().take(32).collect::<String>(), "Teams bot activity ignored");
        return ok(&json!({}));
    }
    // An activity is acted on once (a redelivery inside the token's life does nothing again).
    let key = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(origin.channel.as_bytes());
        h.update([0]);
        h.update(a.id.as_bytes());
        format!("teams-bot-activity:{}", hex::encode(h.finalize()))
    };
    match state.safety.idempotency.put_if_absent(&key, "seen", now.saturating_add(2 * 3600)).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            info!("Teams bot activity already handled: replay ignored");
            return if invoke { ok(&cards::invoke_message("Already handled.")) } else { ok(&json!({})) };
        }
        Err(e) => {
            warn!(error = %e, "could not record the Teams bot activity: refused");
            return respond(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": {"code": "IdempotencyStoreUnavailable"}}),
            );
        }
    }
    let Some(user) = user else {
        return tell("Refused: your Entra identity is not in the activity.".into()).await;
    };
    if invoke {
        if a.name.as_deref() != Some("adaptiveCard/action") {
            return ok(&cards::invoke_message("Nothing to do."));
        }
        let action = a.value.as_ref().and_then(|v| v.get("action"));
        let verb = action.and_then(|v| v.get("verb")).and_then(Value::as_str).unwrap_or_default();
        let token = action.and_then(|v| v.pointer("/data/token")).and_then(Value::as_str).unwrap_or_default();
        let card_conv = TeamsRef { card: a.reply_to_id.clone(), reply_to: None, ..here.clone() };
        return press(state, bot, &user, &origin, card_conv, verb, token).await;
    }
    let text = teams_plain_text(&a.text);
    let cmd = match parse_text(&text) {
        Parsed::Usage(why) => return tell(format!("{why}\n{}", usage())).await,
        Parsed::Command(Command::Help) => return tell(usage()).await,
        Parsed::Command(Command::Confirm { .. }) => {
            return tell("Here, confirm with the card's buttons.".into()).await;
        }
        // The sign-in code of `link` is for its requester's eyes only: a 1:1 chat with the bot.
        Parsed::Command(Command::Link) if a.conversation.conversation_type.as_deref() != Some("personal") => {
            return tell("Run `link` in a 1:1 chat with the bot: a sign-in code is never shown in a channel.".into())
                .await;
        }
        Parsed::Command(c) => c,
    };
    let tenant = match state.safety.authorize(&origin, &user, &cmd) {
        Ok(Some(t)) => t,
        Ok(None) => return tell(usage()).await,
        Err(why) => return tell(why.text()).await,
    };
    let job = Job::Command { tenant, user, origin, text, response_url: None, received_at: now };
    let job = Job::Teams { conversation: here.clone(), job: Box::new(job) };
    match state.handoff.send(&job, Duration::ZERO).await {
        Ok(()) => ok(&json!({})),
        Err(e) => {
            warn!(error = %e, "hand-off failed");
            tell("Sorry, the request could not be queued; try again.".into()).await
        }
    }
}

/// Sends a reply from the callback itself, bounded.
async fn post_inline(bot: &TeamsBot, to: &TeamsRef, reply: &Reply) {
    match tokio::time::timeout(INLINE_POST_BUDGET, bot.connector.send(to, &cards::activity(reply))).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => warn!(error = %e, "could not post a reply to Teams"),
        Err(_) => warn!("posting a reply to Teams took too long; given up"),
    }
}

/// Replaces the card for everyone in the conversation, bounded.
async fn update_inline(bot: &TeamsBot, to: &TeamsRef, reply: &Reply) {
    let Some(id) = to.card.as_deref() else { return };
    match tokio::time::timeout(INLINE_POST_BUDGET, bot.connector.update(to, id, &cards::activity(reply))).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "could not update the card in Teams"),
        Err(_) => warn!("updating the card in Teams took too long; given up"),
    }
}

/// A button press (`Action.Execute`): the same checks as Slack's buttons.
async fn press(
    state: &State,
    bot: &TeamsBot,
    user: &ChatUser,
    origin: &Origin,
    conv: TeamsRef,
    verb: &str,
    token: &str,
) -> Response<Body> {
    let Ok(keys) = read_keys(state.store.as_ref(), &state.worker.slack_secret_names).await else {
        return ok(&cards::invoke_message(
            "The key vault is unavailable right now: nothing was done; try again shortly.",
        ));
    };
    let now = (state.clock)();
    let token = token.to_string();
    let refused = |msg: String| ok(&cards::invoke_message(&msg));
    let hand = |job: Job| Job::Teams { conversation: conv.clone(), job: Box::new(job) };
    match ButtonAction::parse(verb) {
        Some(button @ (ButtonAction::Confirm | ButtonAction::Approve)) => {
            let approve = button == ButtonAction::Approve;
            let accepted = state.safety.press(approve, &token, user, origin, &keys).await;
            match accepted {
                Accepted::Go(c) => {
                    let approver = approve.then(|| user.clone());
                    let job = Job::Execute {
                        token,
                        accepted_at: now,
                        response_url: None,
                        approver,
                        channel: None,
                        thread_ts: None,
                    };
                    match state.handoff.send(&hand(job), Duration::ZERO).await {
                        Ok(()) => {
                            let done = Reply::replacing(format!(
                                "{} by {}: {} `{}` (request `{}`) — working on it…",
                                if approve { "Approved" } else { "Confirmed" },
                                untrusted(&user.name),
                                c.action,
                                untrusted(&c.machine_name),
                                c.request_id
                            ));
                            update_inline(bot, &conv, &done).await;
                            ok(&cards::invoke_card(&done))
                        }
                        Err(e) => {
                            warn!(error = %e, "hand-off failed");
                            state.safety.release(&c, verb).await;
                            refused(format!("Sorry, the action could not be queued; press {verb} again."))
                        }
                    }
                }
                Accepted::AwaitingApproval(c) => {
                    let card = approval_request(&c, user, token);
                    update_inline(bot, &conv, &card).await;
                    ok(&cards::invoke_card(&card))
                }
                Accepted::Duplicate(msg) => refused(msg),
                Accepted::Refused(why) => refused(why.text()),
            }
        }
        Some(ButtonAction::ConfirmChange) => match state.safety.accept_incident(&token, user, origin, &keys).await {
            IncidentAccepted::Go(c) => {
                let job = Job::UpdateIncident { token, accepted_at: now, response_url: None, channel: None };
                match state.handoff.send(&hand(job), Duration::ZERO).await {
                    Ok(()) => {
                        let done = Reply::replacing(format!(
                            "Confirmed by {}: {} (request `{}`) — working on it…",
                            untrusted(&user.name),
                            c.summary,
                            c.request_id
                        ));
                        update_inline(bot, &conv, &done).await;
                        ok(&cards::invoke_card(&done))
                    }
                    Err(e) => {
                        warn!(error = %e, "hand-off failed");
                        if let Err(e) = state.safety.idempotency.remove(&format!("confirm:{}", c.request_id)).await {
                            warn!(error = %e, "could not release a claim");
                        }
                        refused("Sorry, the change could not be queued; press confirm again.".into())
                    }
                }
            }
            IncidentAccepted::Duplicate(msg) => refused(msg),
            IncidentAccepted::Refused(why) => refused(why.text()),
        },
        Some(ButtonAction::Cancel) => match state.safety.cancel(&token, user, origin, &keys).await {
            Ok(msg) => {
                let done = Reply::replacing(format!("{msg} (by {})", untrusted(&user.name)));
                update_inline(bot, &conv, &done).await;
                ok(&cards::invoke_card(&done))
            }
            Err(why) => refused(why.text()),
        },
        None => refused("Nothing to do.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<TeamsBotConfig>, ChatOpsConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        TeamsBotConfig::from_lookup(&|k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_bot_settings_and_their_refusals() {
        assert_eq!(read(&[]).unwrap(), None, "no app id: no bot");
        let app = ("CHATOPS_BOT_APP_ID", "66666666-6666-4666-8666-666666666666");
        let tenant = ("CHATOPS_BOT_TENANT_ID", "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f");
        let c = read(&[app, tenant]).unwrap().unwrap();
        assert_eq!(c.credential, BotCredential::Secret("teams-bot-secret".into()));
        assert_eq!((c.keys_min_refresh, c.post_deadline), (Duration::from_secs(60), Duration::from_secs(15)));
        assert_eq!(read(&[app]).unwrap_err().var, "CHATOPS_BOT_TENANT_ID", "single-tenant: the tenant is required");
        assert_eq!(read(&[("CHATOPS_BOT_APP_ID", "bot"), tenant]).unwrap_err().var, "CHATOPS_BOT_APP_ID");
        let cert = read(&[app, tenant, ("CHATOPS_BOT_CERT_NAME", "teams-bot-cert")]).unwrap().unwrap();
        assert_eq!(cert.credential, BotCredential::Certificate("teams-bot-cert".into()));
        let both = [app, tenant, ("CHATOPS_BOT_CERT_NAME", "a"), ("CHATOPS_BOT_SECRET_NAME", "b")];
        assert_eq!(read(&both).unwrap_err().var, "CHATOPS_BOT_CERT_NAME");
        for bad in ["http://login.botframework.com/v1/.well-known/openidconfiguration", "https://user@x.example/"] {
            let e = read(&[app, tenant, ("CHATOPS_BOT_OPENID_METADATA_URL", bad)]).unwrap_err();
            assert_eq!(e.var, "CHATOPS_BOT_OPENID_METADATA_URL", "{bad}");
        }
        let e =
            read(&[app, tenant, ("CHATOPS_BOT_SERVICE_URL_PREFIXES", "https://smba.trafficmanager.net")]).unwrap_err();
        assert_eq!(e.var, "CHATOPS_BOT_SERVICE_URL_PREFIXES", "a prefix must pin the whole host");
        assert_eq!(
            read(&[app, tenant, ("CHATOPS_BOT_KEYS_MIN_REFRESH_S", "7200")]).unwrap_err().var,
            "CHATOPS_BOT_KEYS_MIN_REFRESH_S"
        );
    }
}
