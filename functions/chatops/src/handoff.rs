//! The hand-off from the callback (which must answer Slack within 3 s) to the worker, and the
//! worker's way back to the chat (`response_url`).
//!
//! [`HandOff`] is the seam. [`ChannelHandOff`] is an in-process channel for tests and `make run`;
//! [`SqsHandOff`] is production (`CHATOPS_QUEUE_URL`): the [`Job`] JSON is the message body, a delay
//! becomes `DelaySeconds` (SQS allows up to [`SQS_MAX_DELAY`]); a longer wait is sent as
//! [`Job::Later`], which the worker sends round again until it is due. The worker function is the
//! queue's event source and answers a partial batch response ([`crate::queue`]).

use crate::{
    command::{ChatUser, Origin},
    followup::Pending,
    thread::Thread,
};
// The poster of replies lives with the rest of where replies go ([`crate::thread`]): re-exported for
// the bins, which wire it with the hand-off.
pub use crate::thread::{HttpResponder, Responder};
use async_trait::async_trait;
use defender_shared::ids::TenantName;
use serde::{Deserialize, Serialize};
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
        /// When the callback received the command (unix seconds): the `response_url`'s age.
        #[serde(default)]
        received_at: i64,
    },
    /// A confirmed action to execute once.
    Execute {
        /// The sealed confirmation token.
        token: String,
        /// When the callback accepted it: the reply thread's age only. The worker checks the expiry
        /// against the time the confirmation claim was recorded, never against this field.
        accepted_at: i64,
        /// Where to post the result.
        response_url: Option<String>,
        /// The second person who approved it (two-person rule).
        #[serde(default)]
        approver: Option<ChatUser>,
        /// The channel of the click (outcomes after the `response_url` expires go there).
        #[serde(default)]
        channel: Option<String>,
        /// The thread of the message the button was on (a channel message), if any.
        #[serde(default)]
        thread_ts: Option<String>,
    },
    /// A confirmed incident change to run once (the worker re-derives the confirmation from the
    /// idempotency store).
    UpdateIncident {
        /// The sealed incident confirmation.
        token: String,
        /// When the callback accepted it (the reply thread's age; not evidence of anything).
        accepted_at: i64,
        /// Where to post the result.
        response_url: Option<String>,
        /// The channel of the click.
        #[serde(default)]
        channel: Option<String>,
    },
    /// One step of a `/defender link` sign-in: poll for a bounded time, then send the next step.
    LinkPoll {
        /// The tenant.
        tenant: TenantName,
        /// Who is linking.
        user: ChatUser,
        /// Where the outcome goes.
        thread: Thread,
        /// Which sign-in (its start, unix seconds; the device code itself stays in the vault).
        started: i64,
        /// The step number (each is claimed once, so a redelivered step does not fork the polling).
        step: u32,
    },
    /// Actions to follow to a terminal state.
    Recheck {
        /// The actions.
        pending: Vec<Pending>,
    },
    /// A job from the Teams bot: its replies go to the Teams conversation through the Bot Connector.
    Teams {
        /// The conversation (and the card to update).
        conversation: crate::connector::TeamsRef,
        /// The job.
        job: Box<Job>,
    },
    /// A job to run no sooner than `not_before` (unix seconds): a wait longer than a queue's
    /// maximum delay, sent round until it is due.
    Later {
        /// When the job is due.
        not_before: i64,
        /// The job.
        job: Box<Job>,
    },
}

/// The longest delay SQS holds a message (`DelaySeconds` ≤ 900).
pub const SQS_MAX_DELAY: Duration = Duration::from_secs(900);

/// What to send for `job` after `delay`, given a queue whose longest delay is `max`: the job itself
/// with the delay, or a [`Job::Later`] due at `now + delay`, held for `max`.
pub fn schedule(job: &Job, delay: Duration, max: Duration, now: i64) -> (Job, Duration) {
    if delay <= max {
        return (job.clone(), delay);
    }
    let not_before = match job {
        Job::Later { not_before, .. } => *not_before,
        _ => now.saturating_add(i64::try_from(delay.as_secs()).unwrap_or(i64::MAX)),
    };
    let inner = match job {
        Job::Later { job, .. } => job.clone(),
        other => Box::new(other.clone()),
    };
    (Job::Later { not_before, job: inner }, max)
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

/// Production hand-off: SQS `SendMessage` with the [`Job`] JSON as the body.
#[derive(Debug, Clone)]
pub struct SqsHandOff {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    clock: fn() -> i64,
}

impl SqsHandOff {
    /// A hand-off to `queue_url` (unix seconds from `clock`, for waits longer than 900 s).
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>, clock: fn() -> i64) -> Self {
        Self { client, queue_url: queue_url.into(), clock }
    }
}

#[async_trait]
impl HandOff for SqsHandOff {
    async fn send(&self, job: &Job, delay: Duration) -> Result<(), HandOffError> {
        let (job, delay) = schedule(job, delay, SQS_MAX_DELAY, (self.clock)());
        let body = serde_json::to_string(&job).map_err(|e| HandOffError(e.to_string()))?;
        let seconds = i32::try_from(delay.as_secs()).unwrap_or(900).min(900);
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(seconds)
            .set_message_attributes(crate::correlation::attributes())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| HandOffError(format!("SQS SendMessage: {}", aws_sdk_sqs::error::DisplayErrorContext(&e))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recheck() -> Job {
        Job::Recheck { pending: Vec::new() }
    }

    #[test]
    fn waits_longer_than_the_queue_allows_become_later_jobs() {
        let max = SQS_MAX_DELAY;
        assert_eq!(schedule(&recheck(), Duration::from_secs(30), max, 1_000), (recheck(), Duration::from_secs(30)));
        assert_eq!(schedule(&recheck(), max, max, 1_000), (recheck(), max));
        let (job, delay) = schedule(&recheck(), Duration::from_secs(2_000), max, 1_000);
        assert_eq!(delay, max);
        assert_eq!(job, Job::Later { not_before: 3_000, job: Box::new(recheck()) });
        // Sent round again: the due time stays, the job is not nested.
        let (again, _) = schedule(&job, Duration::from_secs(1_100), max, 1_900);
        assert_eq!(again, job);
        let wire = serde_json::to_value(&job).unwrap_or_default();
        assert_eq!(wire["kind"], "later");
        assert_eq!(wire["job"]["kind"], "recheck");
    }
}
