//! Follow-up: accepted machine actions are followed to a terminal state (Succeeded, Failed, TimeOut,
//! Cancelled) without a Lambda waiting on them. The worker hands a [`Pending`] list back to itself
//! through the hand-off with a delay (SQS `DelaySeconds` in production); each delivery is one pass of
//! [`recheck`]: terminal actions are posted and dropped, the rest go round again, up to
//! [`MAX_CHECKS`] passes.

use crate::{defender::Tenants, handoff::Responder, reply::Reply};
use defender_shared::ids::{ActionId, TenantName};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tracing::warn;

/// Passes before giving up (with the re-check delay of 30 s: about an hour).
pub const MAX_CHECKS: u32 = 120;

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
    /// Where to post the outcome.
    pub response_url: Option<String>,
    /// Passes so far.
    pub checks: u32,
}

/// One pass: posts the outcome of every action now terminal (or given up on); answers the rest.
pub async fn recheck(tenants: &dyn Tenants, responder: &dyn Responder, pending: Vec<Pending>) -> Vec<Pending> {
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
                    Some(format!(
                        "{} of `{}` (request `{}`, action `{}`): *{s}*.",
                        crate::actions::capitalise(&p.action),
                        p.machine_name,
                        p.request_id,
                        p.action_id
                    ))
                }
                _ if p.checks >= MAX_CHECKS => Some(format!(
                    "Stopped following action `{}` on `{}` after {} checks; ask `/defender action {}`.",
                    p.action_id, p.machine_name, p.checks, p.action_id
                )),
                _ => None,
            },
            Ok(None) => Some(format!("Action `{}` is no longer known to Defender.", p.action_id)),
            Err(e) if p.checks >= MAX_CHECKS => Some(format!("Could not follow action `{}`: {e}", p.action_id)),
            Err(_) => None,
        };
        match (text, &p.response_url) {
            (Some(t), Some(url)) => {
                if let Err(e) = responder.post(url, &Reply::text(t).to_slack()).await {
                    warn!(error = %e, request_id = %p.request_id, "could not post a follow-up");
                }
            }
            (Some(_), None) => {}
            (None, _) => still.push(p),
        }
    }
    still
}
