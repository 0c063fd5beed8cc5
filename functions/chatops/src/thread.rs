//! Where a reply goes, and how long it can go there.
//!
//! Slack's `response_url` accepts at most [`RESPONSE_URL_MAX_POSTS`] posts within
//! [`RESPONSE_URL_LIFETIME_S`] of the interaction ("Handling user interaction": "up to 5 times within
//! 30 minutes"); afterwards Slack answers 404 (`used_url`, `expired_url`). Follow-ups run for hours,
//! so a [`Thread`] carries, from job to job, the `response_url`, when Slack issued it, how many posts
//! it has had, and the channel (and thread) of the command. [`Poster::post`] uses the `response_url`
//! while it is safely inside both limits (a [`RESPONSE_URL_MARGIN_S`] margin before the 30 minutes),
//! then the Web API's `chat.postMessage` with the bot token read from the vault
//! (`CHATOPS_SLACK_BOT_TOKEN_NAME`, scope `chat:write`), mentioning the requester. Without a bot token
//! the outcome of a long action cannot be posted: the requester is told so when it starts
//! ([`Poster::late_outcome_note`]).
//!
//! The Web API's base URL (`CHATOPS_SLACK_API_URL`, default [`DEFAULT_SLACK_API_URL`]) is pinned as the
//! `response_url` prefixes are: https (http only to a loopback stand-in), checked at cold start; the
//! channel comes from Slack's signed payload, never a URL, and is checked again before each
//! `chat.postMessage` against the access policy ([`ChannelPolicy`]: the channel must be routed to the
//! thread's tenant, or be unrouted while that tenant serves unrouted channels), so a queue message
//! cannot send a tenant's outcomes elsewhere. The bot token is a [`SecretString`]: it is
//! never formatted or logged (its vault name is).

use crate::{command::ChatUserId, reply::Reply};
use async_trait::async_trait;
use defender_shared::{
    secret::SecretString,
    vault::{SecretStore, VaultError},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};
use tracing::{info, warn};

/// Posts a `response_url` accepts.
pub const RESPONSE_URL_MAX_POSTS: u32 = 5;
/// Seconds a `response_url` lives after the interaction.
pub const RESPONSE_URL_LIFETIME_S: i64 = 30 * 60;
/// Switch to the Web API this long before the `response_url` expires (a post in flight, clock skew).
pub const RESPONSE_URL_MARGIN_S: i64 = 120;
/// Slack's Web API.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";

/// Where the replies to one interaction go, carried from job to job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// The interaction's `response_url` (Slack), if any.
    #[serde(default)]
    pub response_url: Option<String>,
    /// When Slack issued it (unix seconds: when the callback received the interaction).
    #[serde(default)]
    pub issued_at: i64,
    /// Posts made to it so far.
    #[serde(default)]
    pub posts: u32,
    /// The channel of the command (for `chat.postMessage`).
    #[serde(default)]
    pub channel: Option<String>,
    /// The thread to answer in, when the command came from one.
    #[serde(default)]
    pub thread_ts: Option<String>,
    /// The requester (mentioned in a channel message).
    #[serde(default)]
    pub user_id: Option<ChatUserId>,
    /// A Teams bot conversation: replies go there through the Bot Connector, not to Slack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<crate::connector::TeamsRef>,
    /// The tenant the replies are about: `chat.postMessage` goes only to a channel the policy lets
    /// serve it ([`ChannelPolicy`]), whatever channel a queue message names.
    /// (Named apart: a follow-up's [`crate::followup::Pending`] flattens the thread beside its own
    /// `tenant`.)
    #[serde(default, rename = "thread_tenant", skip_serializing_if = "Option::is_none")]
    pub tenant: Option<defender_shared::ids::TenantName>,
}

/// Which channels a bot message about a tenant may go to (the access policy, read at cold start:
/// a channel in a queue message is not trusted).
pub trait ChannelPolicy: Send + Sync {
    /// Whether replies about `tenant` may be posted to `channel` (`None`: unknown tenant, refused).
    fn may_post(&self, tenant: Option<&defender_shared::ids::TenantName>, channel: &str) -> bool;
}

impl Thread {
    /// Whether the `response_url` can still take a post at `now` (unix seconds).
    pub fn response_url_usable(&self, now: i64) -> bool {
        self.response_url.is_some()
            && self.posts < RESPONSE_URL_MAX_POSTS
            && now.saturating_sub(self.issued_at) < RESPONSE_URL_LIFETIME_S - RESPONSE_URL_MARGIN_S
    }

    /// When the `response_url` stops being used (unix seconds).
    pub fn response_url_until(&self) -> i64 {
        self.issued_at.saturating_add(RESPONSE_URL_LIFETIME_S - RESPONSE_URL_MARGIN_S)
    }
}

/// A post did not reach the chat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The `response_url` is used up or expired and no bot token is configured.
    #[error("the response_url is used up or expired and no Slack bot token is configured")]
    NoRoute,
    /// The `response_url` refused or failed.
    #[error("response_url: {0}")]
    ResponseUrl(String),
    /// The Web API answered `ok: false` (or 429).
    #[error("the Slack Web API answered {error}")]
    Slack {
        /// Slack's error code (`not_in_channel`, `invalid_auth`, `ratelimited`, ...).
        error: String,
        /// `Retry-After`, on 429.
        retry_after: Option<Duration>,
    },
    /// The bot token is not in the vault (a setup error: not retried).
    #[error("the Slack bot token '{0}' is not in the vault")]
    Token(String),
    /// The vault could not be read now (retried).
    #[error("the Slack bot token '{0}' cannot be read from the vault now")]
    Vault(String),
    /// Transport or an unreadable answer.
    #[error("chat.postMessage failed: {0}")]
    Http(String),
    /// The Bot Connector (Teams bot).
    #[error("Teams: {0}")]
    Teams(#[from] crate::connector::ConnectorError),
    /// The policy does not let the channel serve the thread's tenant (not retried).
    #[error("the channel does not serve this tenant in the access policy")]
    ChannelNotAllowed,
}

impl PostError {
    /// Worth trying again later (rate limit, Slack or network trouble, vault unavailable).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Slack { error, retry_after } => {
                retry_after.is_some()
                    || matches!(
                        error.as_str(),
                        "ratelimited"
                            | "rate_limited"
                            | "internal_error"
                            | "fatal_error"
                            | "service_unavailable"
                            | "request_timeout"
                    )
            }
            Self::Http(_) | Self::Vault(_) => true,
            Self::Teams(e) => e.is_retryable(),
            Self::NoRoute | Self::ResponseUrl(_) | Self::Token(_) | Self::ChannelNotAllowed => false,
        }
    }
}

/// Slack's Web API, the part chat-ops uses.
#[async_trait]
pub trait SlackApi: Send + Sync {
    /// `chat.postMessage` with `message` (`channel`, `text`, optional `thread_ts`); answers the
    /// message's `ts`.
    ///
    /// # Errors
    /// [`PostError`].
    async fn post_message(&self, message: &Value) -> Result<String, PostError>;

    /// `users.info` for `user` (scopes `users:read` and `users:read.email`): who a chat user is in
    /// the workspace, for checking a `/defender link` sign-in against it.
    ///
    /// # Errors
    /// [`PostError`] (the Web API's error code in [`PostError::Slack`]: `user_not_found`,
    /// `missing_scope`, ...).
    async fn users_info(&self, user: &str) -> Result<SlackUser, PostError>;
}

/// A workspace member as `users.info` describes them (the fields the link check reads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SlackUser {
    /// The member id (`U…`/`W…`).
    #[serde(default)]
    pub id: String,
    /// Deactivated.
    #[serde(default)]
    pub deleted: bool,
    /// A bot user.
    #[serde(default)]
    pub is_bot: bool,
    /// Whether Slack has confirmed the e-mail address (absent from some answers).
    #[serde(default)]
    pub is_email_confirmed: Option<bool>,
    /// The profile; `email` only with `users:read.email`.
    #[serde(default)]
    pub profile: SlackProfile,
}

/// The part of a member's `profile` the link check reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SlackProfile {
    /// The member's e-mail address (present only with the `users:read.email` scope).
    #[serde(default)]
    pub email: Option<String>,
}

/// `chat.postMessage` over HTTPS with the bot token from the vault.
pub struct HttpSlackApi {
    http: reqwest::Client,
    base: String,
    store: Arc<dyn SecretStore>,
    token_name: String,
}

impl std::fmt::Debug for HttpSlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSlackApi").field("base", &self.base).field("token_name", &self.token_name).finish()
    }
}

impl HttpSlackApi {
    /// The Web API at `base` (checked by the configuration), with the bot token named `token_name`.
    pub fn new(
        http: reqwest::Client,
        base: impl Into<String>,
        store: Arc<dyn SecretStore>,
        token_name: String,
    ) -> Self {
        Self { http, base: base.into().trim_end_matches('/').to_string(), store, token_name }
    }
}

#[derive(Deserialize)]
struct ApiAnswer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    user: Option<SlackUser>,
}

impl HttpSlackApi {
    async fn token(&self) -> Result<SecretString, PostError> {
        self.store.get(&self.token_name).await.map_err(|e| match e {
            VaultError::NotFound(_) => PostError::Token(self.token_name.clone()),
            _ => PostError::Vault(self.token_name.clone()),
        })
    }
}

#[async_trait]
impl SlackApi for HttpSlackApi {
    async fn post_message(&self, message: &Value) -> Result<String, PostError> {
        let token: SecretString = self.store.get(&self.token_name).await.map_err(|e| match e {
            VaultError::NotFound(_) => PostError::Token(self.token_name.clone()),
            _ => PostError::Vault(self.token_name.clone()),
        })?;
        let r = self
            .http
            .post(format!("{}/chat.postMessage", self.base))
            .bearer_auth(token.expose())
            .header("content-type", "application/json; charset=utf-8")
            .body(message.to_string())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| PostError::Http(e.without_url().to_string()))?;
        let status = r.status().as_u16();
        let retry_after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let answer: Option<ApiAnswer> = r.json().await.ok();
        if status == 429 {
            let error = answer.and_then(|a| a.error).unwrap_or_else(|| "ratelimited".into());
            return Err(PostError::Slack { error, retry_after: retry_after.or(Some(Duration::from_secs(1))) });
        }
        match answer {
            Some(a) if a.ok && (200..300).contains(&status) => Ok(a.ts.unwrap_or_default()),
            Some(a) => {
                Err(PostError::Slack { error: a.error.unwrap_or_else(|| format!("HTTP {status}")), retry_after })
            }
            None => Err(PostError::Http(format!("answered {status} without a Web API body"))),
        }
    }

    async fn users_info(&self, user: &str) -> Result<SlackUser, PostError> {
        let token = self.token().await?;
        let r = self
            .http
            .post(format!("{}/users.info", self.base))
            .bearer_auth(token.expose())
            .form(&[("user", user)])
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| PostError::Http(e.without_url().to_string()))?;
        let status = r.status().as_u16();
        let answer: Option<ApiAnswer> = r.json().await.ok();
        match answer {
            Some(ApiAnswer { ok: true, user: Some(u), .. }) if (200..300).contains(&status) => Ok(u),
            Some(a) => Err(PostError::Slack {
                error: a.error.unwrap_or_else(|| format!("HTTP {status}")),
                retry_after: (status == 429).then_some(Duration::from_secs(1)),
            }),
            None => Err(PostError::Http(format!("users.info answered {status} without a Web API body"))),
        }
    }
}

/// Posts replies to a [`Thread`]: the `response_url` while it lasts, then `chat.postMessage`.
#[derive(Clone)]
pub struct Poster {
    /// The `response_url` poster.
    pub responder: Arc<dyn Responder>,
    /// The Web API (`None`: no bot token configured).
    pub api: Option<Arc<dyn SlackApi>>,
    /// The Bot Connector (`None`: no Teams bot configured).
    pub teams: Option<Arc<dyn crate::connector::BotConnector>>,
    /// The channels a bot message may go to (`None`: any; tests of the poster alone).
    pub channels: Option<Arc<dyn ChannelPolicy>>,
}

impl std::fmt::Debug for Poster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poster").field("bot", &self.api.is_some()).finish_non_exhaustive()
    }
}

/// Slack answers a used-up or expired `response_url` with 404 (`used_url`, `expired_url`).
fn response_url_gone(error: &str) -> bool {
    error.contains("404") || error.contains("410") || error.contains("used_url") || error.contains("expired_url")
}

impl Poster {
    /// Whether outcomes after the `response_url`'s life can be posted.
    pub fn has_bot(&self) -> bool {
        self.api.is_some()
    }

    /// What the requester is told when something starts whose outcome may come late.
    pub fn late_outcome_note(&self) -> &'static str {
        if self.has_bot() {
            "The outcome will be posted here (after 30 min, by the bot in this channel)."
        } else {
            "The outcome will be posted here if it comes within 30 min; after that Slack takes no more replies \
             (no bot token is configured), so ask for it yourself."
        }
    }

    /// Posts `reply` to `thread` at `now`, counting the `response_url`'s posts.
    ///
    /// # Errors
    /// [`PostError`]: no route left, or the post failed ([`PostError::is_retryable`] says whether a
    /// later try may succeed).
    pub async fn post(&self, thread: &mut Thread, reply: &Reply, now: i64) -> Result<(), PostError> {
        if let Some(to) = &thread.teams {
            let Some(bot) = &self.teams else { return Err(PostError::NoRoute) };
            let activity = crate::cards::activity(reply);
            return match (&to.card, reply.replace_original) {
                (Some(card), true) => bot.update(to, card, &activity).await.map_err(PostError::from),
                _ => {
                    let mut activity = activity;
                    if let Some(id) = &to.reply_to {
                        activity["replyToId"] = serde_json::json!(id);
                    }
                    bot.send(to, &activity).await.map(|_| ()).map_err(PostError::from)
                }
            };
        }
        if thread.response_url_usable(now)
            && let Some(url) = thread.response_url.clone()
        {
            match self.responder.post(&url, &reply.to_slack()).await {
                Ok(()) => {
                    thread.posts += 1;
                    return Ok(());
                }
                Err(e) if response_url_gone(&e) => {
                    info!(error = %e, "response_url used up or expired: switching to chat.postMessage");
                    thread.posts = RESPONSE_URL_MAX_POSTS;
                }
                Err(e) => return Err(PostError::ResponseUrl(e)),
            }
        }
        let (Some(api), Some(channel)) = (&self.api, &thread.channel) else {
            return Err(PostError::NoRoute);
        };
        if let Some(policy) = &self.channels
            && !policy.may_post(thread.tenant.as_ref(), channel)
        {
            warn!(channel = %channel, tenant = ?thread.tenant, "chat.postMessage refused: the channel does not serve the tenant");
            return Err(PostError::ChannelNotAllowed);
        }
        // A channel message: everyone in the channel sees it, so no buttons (a prompt's token stays
        // with its requester) and the requester is mentioned.
        let text = match &thread.user_id {
            Some(u) => format!("<@{}> {}", crate::reply::escape_slack(u.as_str()), reply.slack_text()),
            None => reply.slack_text(),
        };
        let mut message = json!({"channel": channel, "text": text});
        if let Some(ts) = &thread.thread_ts {
            message["thread_ts"] = json!(ts);
        }
        match api.post_message(&message).await {
            Ok(_) => Ok(()),
            Err(e) => {
                warn!(error = %e, channel = %channel, "chat.postMessage failed");
                Err(e)
            }
        }
    }
}

/// Posts a message to the chat.
#[async_trait]
pub trait Responder: Send + Sync {
    /// POSTs `body` to `url`.
    ///
    /// # Errors
    /// The reason (status or transport).
    async fn post(&self, url: &str, body: &Value) -> Result<(), String>;
}

/// Slack `response_url` poster: only to configured prefixes (production: `https://hooks.slack.com/`).
#[derive(Debug, Clone)]
pub struct HttpResponder {
    http: reqwest::Client,
    prefixes: Vec<String>,
}

impl HttpResponder {
    /// A poster over `http`, to URLs starting with one of `prefixes`.
    pub fn new(http: reqwest::Client, prefixes: Vec<String>) -> Self {
        Self { http, prefixes }
    }
}

#[async_trait]
impl Responder for HttpResponder {
    async fn post(&self, url: &str, body: &Value) -> Result<(), String> {
        if !self.prefixes.iter().any(|p| url.starts_with(p.as_str())) {
            return Err("response_url is not an allowed Slack URL".into());
        }
        let r = self
            .http
            .post(url)
            .json(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("post failed: {}", e.without_url()))?;
        if r.status().is_success() {
            return Ok(());
        }
        // Slack names the refusal in a short text body (`used_url`, `expired_url`, `no_text`): keep a
        // bounded, printable part of it for the caller (no secret is in it).
        let status = r.status().as_u16();
        let said: String = r
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        Err(format!("post answered {status} ({said})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_response_url_is_left_before_five_posts_or_thirty_minutes() {
        let mut t =
            Thread { response_url: Some("https://hooks.slack.com/x".into()), issued_at: 1_000, ..Thread::default() };
        assert!(t.response_url_usable(1_000));
        assert!(t.response_url_usable(1_000 + 27 * 60), "inside the margin");
        assert!(!t.response_url_usable(1_000 + 28 * 60), "two minutes before Slack's 30");
        t.posts = 4;
        assert!(t.response_url_usable(1_000));
        t.posts = 5;
        assert!(!t.response_url_usable(1_000), "Slack refuses the sixth");
        assert!(!Thread::default().response_url_usable(0), "no response_url");
        assert_eq!(t.response_url_until(), 1_000 + 28 * 60);
    }

    #[test]
    fn which_post_errors_are_worth_retrying() {
        let slack = |e: &str| PostError::Slack { error: e.into(), retry_after: None };
        assert!(
            PostError::Slack { error: "ratelimited".into(), retry_after: Some(Duration::from_secs(3)) }.is_retryable()
        );
        assert!(slack("internal_error").is_retryable());
        assert!(!slack("not_in_channel").is_retryable());
        assert!(!slack("invalid_auth").is_retryable());
        assert!(!slack("channel_not_found").is_retryable());
        assert!(!PostError::NoRoute.is_retryable());
        assert!(response_url_gone("post answered 404 (expired_url)"));
        assert!(!response_url_gone("post answered 500"));
    }
}
