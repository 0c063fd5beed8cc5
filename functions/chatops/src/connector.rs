//! Outbound to Teams through the Bot Connector REST API: `POST {serviceUrl}/v3/conversations/{id}/activities`
//! (a reply or a proactive message) and `PUT …/activities/{activityId}` (a card updated in place for
//! everyone), with the bot's own token from Entra (single-tenant bot: client credentials in the
//! bot's home tenant, scope `https://api.botframework.com/.default`, or the US Government one)
//! through the shared [`TokenProvider`] and its cache.
//!
//! The `serviceUrl` comes from an activity (and, for the worker, back from the queue): it is checked
//! against [`ServiceUrlPolicy`] before every call, so a bearer token never leaves for a host that is
//! not a documented Teams service of the bot's cloud (or the configured stand-in). Calls are retried
//! on 429 (honouring `Retry-After`), 5xx and transport errors, and once on 401 with a fresh token,
//! all within one deadline.

use crate::bot_auth::ServiceUrlPolicy;
use async_trait::async_trait;
use defender_shared::{auth::TokenProvider, ids::TenantName};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::{sync::Arc, time::Duration};
use tracing::warn;

/// Where a Teams reply goes: the conversation of an activity, carried from job to job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamsRef {
    /// The activity's `serviceUrl` (untrusted until checked again).
    pub service_url: String,
    /// The conversation id.
    pub conversation: String,
    /// The activity answered (`replyToId` of a new message), if any.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The card message to update in place (a button's card), if any.
    #[serde(default)]
    pub card: Option<String>,
}

/// A call to the Bot Connector failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The `serviceUrl` is not an allowed Teams host: nothing was sent.
    #[error("the serviceUrl is not an allowed Teams service host; nothing was sent")]
    ServiceUrl,
    /// No token for the Bot Connector.
    #[error("no Bot Connector token: {0}")]
    Token(String),
    /// The connector refused (a status that retrying does not change).
    #[error("the Bot Connector answered {0}")]
    Refused(u16),
    /// Still failing when the deadline came (429, 5xx, transport).
    #[error("the Bot Connector did not accept the activity within the deadline: {0}")]
    Deadline(String),
}

impl ConnectorError {
    /// Worth trying again on a later pass.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Deadline(_) | Self::Token(_))
    }
}

/// The Bot Connector, the part the bot uses.
#[async_trait]
pub trait BotConnector: Send + Sync {
    /// Sends `activity` to the conversation; answers the new activity's id.
    ///
    /// # Errors
    /// [`ConnectorError`].
    async fn send(&self, to: &TeamsRef, activity: &Value) -> Result<String, ConnectorError>;

    /// Replaces the bot's activity `activity_id` in the conversation.
    ///
    /// # Errors
    /// [`ConnectorError`].
    async fn update(&self, to: &TeamsRef, activity_id: &str, activity: &Value) -> Result<(), ConnectorError>;
}

/// The Bot Connector over HTTPS.
pub struct HttpConnector {
    http: reqwest::Client,
    tokens: Arc<TokenProvider>,
    bot: TenantName,
    scope: String,
    policy: ServiceUrlPolicy,
    deadline: Duration,
}

impl std::fmt::Debug for HttpConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConnector").field("scope", &self.scope).field("deadline", &self.deadline).finish()
    }
}

/// Percent-encodes one path segment (conversation ids hold `:`, `@`, `;`).
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

impl HttpConnector {
    /// A connector posting with the token of `bot` (a credential of `tokens`) for `scope`.
    pub fn new(
        http: reqwest::Client,
        tokens: Arc<TokenProvider>,
        bot: TenantName,
        scope: impl Into<String>,
        policy: ServiceUrlPolicy,
        deadline: Duration,
    ) -> Self {
        Self { http, tokens, bot, scope: scope.into(), policy, deadline }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        to: &TeamsRef,
        tail: &str,
        body: &Value,
    ) -> Result<Value, ConnectorError> {
        if !self.policy.allows(&to.service_url) {
            warn!("refused to post to a serviceUrl outside the allowed Teams hosts");
            return Err(ConnectorError::ServiceUrl);
        }
        let url = format!(
            "{}/v3/conversations/{}/activities{tail}",
            to.service_url.trim_end_matches('/'),
            segment(&to.conversation)
        );
        let until = tokio::time::Instant::now() + self.deadline;
        let mut refreshed = false;
        let mut wait = Duration::from_millis(250);
        loop {
            let token = self
                .tokens
                .token_for(&self.bot, &self.scope)
                .await
                .map_err(|e| ConnectorError::Token(e.to_string()))?;
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let sent = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.secret.expose())
                .json(body)
                .timeout(left.max(Duration::from_millis(100)))
                .send()
                .await;
            let reason = match sent {
                Ok(r) if r.status().is_success() => return Ok(r.json().await.unwrap_or(Value::Null)),
                Ok(r) if r.status().as_u16() == 401 && !refreshed => {
                    self.tokens.invalidate(&self.bot, &self.scope);
                    refreshed = true;
                    continue;
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                    if let Some(s) = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                    {
                        wait = Duration::from_secs(s);
                    }
                    format!("answered {}", r.status().as_u16())
                }
                Ok(r) => return Err(ConnectorError::Refused(r.status().as_u16())),
                Err(e) => e.without_url().to_string(),
            };
            if tokio::time::Instant::now() + wait >= until {
                return Err(ConnectorError::Deadline(reason));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(4));
        }
    }
}

#[async_trait]
impl BotConnector for HttpConnector {
    async fn send(&self, to: &TeamsRef, activity: &Value) -> Result<String, ConnectorError> {
        let answer = self.call(reqwest::Method::POST, to, "", activity).await?;
        Ok(answer.get("id").and_then(Value::as_str).unwrap_or_default().to_string())
    }

    async fn update(&self, to: &TeamsRef, activity_id: &str, activity: &Value) -> Result<(), ConnectorError> {
        self.call(reqwest::Method::PUT, to, &format!("/{}", segment(activity_id)), activity).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_ids_are_one_path_segment() {
        assert_eq!(segment("19:abc@thread.tacv2;messageid=1"), "19%3Aabc%40thread.tacv2%3Bmessageid%3D1");
        assert_eq!(segment("a/../b c"), "a%2F..%2Fb%20c");
    }
}
