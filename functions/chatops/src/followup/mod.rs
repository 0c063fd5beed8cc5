//! Follow-up: accepted machine actions are followed to a terminal state (Succeeded, Failed, TimeOut,
//! Cancelled) without a Lambda waiting on them. The worker hands a [`Pending`] list back to itself
//! through the hand-off with a delay (SQS `DelaySeconds` in production); each delivery is one pass of
//! [`recheck`]: terminal actions are posted and dropped, the rest go round again until the action is
//! older than the maximum follow-up age (`CHATOPS_FOLLOWUP_MAX_AGE_S`), when the thread is told to
//! ask for the status itself.
//!
//! The outcome goes to the action's [`Thread`] through the [`Poster`]: the confirm click's
//! `response_url` while Slack still takes posts there (5 within 30 minutes), then `chat.postMessage`
//! to the channel. An outcome that could not be posted for a reason that may pass (Slack's rate
//! limit, the network) stays in the list and is posted on the next pass.

// `events` (the SOC event of an outcome) is a child: it is built from this module's [`Pending`], and
// only [`recheck_publishing`] publishes it.
pub mod events;

use crate::{
    defender::Tenants,
    reply::Reply,
    thread::{Poster, Thread},
};
use defender_shared::{
    events::Publisher,
    ids::{ActionId, TenantName},
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tracing::warn;

/// An action being followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The tenant.
    pub tenant: TenantName,
    /// The Defender machine action.
    pub action_id: ActionId,
    /// `isolate`, ...
    pub action: String,
    /// The machine's host name.
    pub machine_name: String,
    /// The chat request id.
    pub request_id: String,
    /// Where to post the outcome (`response_url` at the top level, as before).
    #[serde(flatten)]
    pub thread: Thread,
    /// Passes so far.
    pub checks: u32,
    /// When the action was accepted (unix seconds): the follow-up stops at the maximum age.
    #[serde(default)]
    pub started_at: i64,
    /// Its terminal outcome was handed to the event publisher already (so a pass that only retries
    /// posting it does not publish it again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outcome_published: bool,
}

/// Limits of one follow-up pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Unix seconds now.
    pub now: i64,
    /// Stop following an action this long after it was accepted.
    pub max_age: Duration,
}

impl Limits {
    fn too_old(&self, p: &Pending) -> bool {
        self.now.saturating_sub(p.started_at) >= i64::try_from(self.max_age.as_secs()).unwrap_or(i64::MAX)
    }
}

/// One pass: posts the outcome of every action now terminal (or given up on); answers the rest.
pub async fn recheck(tenants: &dyn Tenants, poster: &Poster, pending: Vec<Pending>, limits: Limits) -> Vec<Pending> {
    recheck_publishing(tenants, poster, pending, limits, &Publisher::off()).await
}

/// [`recheck`], publishing each terminal outcome once (`Machine Action Outcome`, [`events`])
/// before it is posted; a failed publish is logged and counted by `events` and changes nothing else.
pub async fn recheck_publishing(
    tenants: &dyn Tenants,
    poster: &Poster,
    pending: Vec<Pending>,
    limits: Limits,
    events: &Publisher,
) -> Vec<Pending> {
    let mut still = Vec::new();
    for mut p in pending {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let Some(ops) = tenants.ops(&p.tenant, deadline) else {
            warn!(tenant = %p.tenant, "follow-up for an unknown tenant dropped");
            continue;
        };
        p.checks += 1;
        let text = match ops.action(&p.action_id).await {
            Ok(Some(a)) => match a.status {
                Some(s) if s.is_final() => {
                    tracing::info!(target: "audit", decision = "completed", tenant = %p.tenant,
                        request_id = %p.request_id, action_id = %p.action_id, status = %s, "chatops decision");
                    if events.is_on() && !p.outcome_published {
                        match events::outcome(&p, &s.to_string()) {
                            Ok(e) => {
                                events.publish(vec![e], None).await;
                            }
                            Err(e) => warn!(error = %e, "outcome event not built"),
                        }
                        p.outcome_published = true;
                    }
                    Some(format!(
                        "{} of `{}` (request `{}`, action `{}`): *{s}*.",
                        crate::actions::capitalise(&p.action),
                        crate::reply::untrusted(&p.machine_name),
                        p.request_id,
                        p.action_id
                    ))
                }
                _ if limits.too_old(&p) => Some(format!(
                    "Stopped following action `{}` on `{}` after {} checks over {} min; ask `/defender action {}`.",
                    p.action_id,
                    crate::reply::untrusted(&p.machine_name),
                    p.checks,
                    limits.max_age.as_secs() / 60,
                    p.action_id
                )),
                _ => None,
            },
            Ok(None) => Some(format!("Action `{}` is no longer known to Defender.", p.action_id)),
            Err(e) if limits.too_old(&p) => Some(format!("Could not follow action `{}`: {e}", p.action_id)),
            Err(_) => None,
        };
        let Some(text) = text else {
            still.push(p);
            continue;
        };
        if p.thread.response_url.is_none() && p.thread.channel.is_none() && p.thread.teams.is_none() {
            continue; // Teams: no response_url; the outcome is read with `action <id>`
        }
        // The outcome is about this tenant: the channel is checked against the policy for it.
        p.thread.tenant = Some(p.tenant.clone());
        match poster.post(&mut p.thread, &Reply::text(text), limits.now).await {
            Ok(()) => {}
            Err(e) if e.is_retryable() && !limits.too_old(&p) => {
                warn!(error = %e, request_id = %p.request_id, "follow-up not posted; trying again on the next pass");
                still.push(p);
            }
            Err(e) => warn!(error = %e, request_id = %p.request_id, "could not post a follow-up"),
        }
    }
    still
}
