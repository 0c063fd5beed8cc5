//! The hand-off from the callback (which must answer Slack within 3 s) to the worker, and the
//! worker's way back to the chat (`response_url`).
//!
//! [`HandOff`] is the seam. [`ChannelHandOff`] is an in-process channel for tests and `make run`. In
//! production the SAM template should wire an **SQS queue**: the callback's implementation sends the
//! [`Job`] JSON with `SendMessage` (`DelaySeconds` for follow-up re-checks, up to 900 s), the worker
//! function is the queue's event source (batch size 1, a DLQ after 3 receives); that needs
//! `aws-sdk-sqs`, which this crate does not yet depend on.

use crate::{
    command::{ChatUser, Origin},
    followup::Pending,
};
use async_trait::async_trait;
use defender_shared::ids::TenantName;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;

/// Work for the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// An authorised command to run (the text is parsed again by the worker).
    Command {
        /// The tenant.
        tenant: TenantName,
        /// Who asked.
        user: ChatUser,
        /// Where from.
        origin: Origin,
        /// The command text.
        text: String,
        /// Where to post the result.
        response_url: Option<String>,
    },
    /// A confirmed action to execute once.
    Execute {
        /// The sealed confirmation token.
        token: String,
        /// When the callback accepted it (the token is opened as of then: queueing does not expire it).
        accepted_at: i64,
        /// Where to post the result.
        response_url: Option<String>,
    },
    /// Actions to follow to a terminal state.
    Recheck {
        /// The actions.
        pending: Vec<Pending>,
    },
}

/// The hand-off failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hand-off failed: {0}")]
pub struct HandOffError(pub String);

/// Hands a job to the worker (after `delay`).
#[async_trait]
pub trait HandOff: Send + Sync {
    /// Sends `job`; it is delivered no sooner than `delay` from now.
    ///
    /// # Errors
    /// [`HandOffError`] when the job could not be sent (the caller answers with an error).
    async fn send(&self, job: &Job, delay: Duration) -> Result<(), HandOffError>;
}

/// In-process hand-off: an unbounded channel of `(job, delay)`; the receiver is the worker.
#[derive(Debug, Clone)]
pub struct ChannelHandOff {
    tx: mpsc::UnboundedSender<(Job, Duration)>,
}

impl ChannelHandOff {
    /// A hand-off and its receiving end.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<(Job, Duration)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
}

#[async_trait]
impl HandOff for ChannelHandOff {
    async fn send(&self, job: &Job, delay: Duration) -> Result<(), HandOffError> {
        // Through JSON, as a queue would carry it.
        let text = serde_json::to_string(job).map_err(|e| HandOffError(e.to_string()))?;
        let job: Job = serde_json::from_str(&text).map_err(|e| HandOffError(e.to_string()))?;
        self.tx.send((job, delay)).map_err(|_| HandOffError("the worker is gone".into()))
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
        if r.status().is_success() { Ok(()) } else { Err(format!("post answered {}", r.status().as_u16())) }
    }
}
