//! The worker: runs what the callback handed off and posts the result to the chat.
//!
//! - [`Job::Command`]: lookups (machine, alert, incident, action status, hunt), incident changes, and
//!   the confirmation prompt of a machine action ([`Safety::prepare`]).
//! - [`Job::Execute`]: a confirmed action, exactly once ([`Safety::execute`]), then a delayed
//!   [`Job::Recheck`] to follow it.
//! - [`Job::Recheck`]: one follow-up pass ([`followup::recheck`]); what is not final goes round again.
//! - [`Job::Later`]: a long wait, sent round again until due, then run.
//!
//! [`Worker::try_run`] says when a job must be delivered again ([`JobError`]: the queue redelivers it,
//! then dead-letters it); nothing is lost by answering an error.

use crate::{
    actions::{Ask, Executed, Safety, capitalise, machine_state, resolve},
    command::{ChatUser, Command, IncidentChange, Parsed, parse_text, usage},
    confirm,
    defender::{DefenderOps, Tenants},
    followup::{self, Pending},
    handoff::{HandOff, HandOffError, Job, Responder},
    reply::Reply,
    user::UserContext,
};
use defender_shared::{
    auth::Clock,
    defender::models::incidents::{IncidentStatus, IncidentUpdate},
    secret::SecretString,
    vault::SecretStore,
};
use std::{sync::Arc, time::Duration};
use tracing::warn;

/// Worker state.
pub struct Worker {
    /// Policy and exactly-once.
    pub safety: Arc<Safety>,
    /// Defender per tenant.
    pub tenants: Arc<dyn Tenants>,
    /// Where the confirmation keys live.
    pub store: Arc<dyn SecretStore>,
    /// The confirmation keys' names: the Slack signing secrets, then the Teams secrets (the first
    /// available seals, any opens).
    pub slack_secret_names: Vec<String>,
    /// Posts to the chat.
    pub responder: Arc<dyn Responder>,
    /// Hands re-checks back to the worker.
    pub handoff: Arc<dyn HandOff>,
    /// Delay between follow-up passes.
    pub recheck_after: Duration,
    /// Stop following an action this long after it was accepted.
    pub followup_max_age: Duration,
    /// Budget of one job's Defender calls.
    pub budget: Duration,
    /// Linked chat users' delegated calls (`None`: linking is off, actions run in app context).
    pub users: Option<Arc<UserContext>>,
    /// The device-code poll's clock (`link`).
    pub link_clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("recheck_after", &self.recheck_after).finish_non_exhaustive()
    }
}

/// Reads the named secrets (the ones unavailable are logged and skipped; an unavailable store gives none).
pub async fn secrets(store: &dyn SecretStore, names: &[String]) -> Vec<SecretString> {
    defender_shared::vault::read_keys(store, names).await.unwrap_or_default()
}

fn opt(v: Option<impl std::fmt::Display>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// A job that must be delivered again (or dead-lettered): nothing of it is lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The message is not a job (kept by the queue's dead-letter queue for a human).
    #[error("not a chat-ops job: {0}")]
    Malformed(String),
    /// A follow-up or a long wait could not be sent on.
    #[error("could not send the job on")]
    Requeue(#[source] HandOffError),
}

impl Worker {
    /// Runs one job; posts and answers the reply (none for re-checks). Errors are logged (the
    /// in-process hand-off has no redelivery); [`Worker::try_run`] returns them.
    pub async fn run(&self, job: Job) -> Option<Reply> {
        match self.try_run(job).await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "job failed");
                None
            }
        }
    }

    /// Runs one job; posts and answers the reply (none for re-checks and waits).
    ///
    /// # Errors
    /// [`JobError::Requeue`] when a follow-up or a wait could not be sent on (deliver the job again).
    pub async fn try_run(&self, job: Job) -> Result<Option<Reply>, JobError> {
        match job {
            Job::Command { tenant, user, origin, text, response_url } => {
                let reply = if parse_text(&text) == Parsed::Command(Command::Link) {
                    self.link(&tenant, &user, &origin, response_url.as_deref()).await
                } else {
                    self.command(&tenant, &user, &origin, &text).await
                };
                self.post(response_url.as_deref(), &reply).await;
                Ok(Some(reply))
            }
            Job::Execute { token, accepted_at, response_url, approver } => {
                let reply = self.execute(&token, accepted_at, response_url.clone(), approver.as_ref()).await;
                self.post(response_url.as_deref(), &reply).await;
                Ok(Some(reply))
            }
            Job::Recheck { pending } => {
                let limits = followup::Limits { now: (self.safety.clock)(), max_age: self.followup_max_age };
                let still = followup::recheck(self.tenants.as_ref(), self.responder.as_ref(), pending, limits).await;
                if !still.is_empty() {
                    self.handoff
                        .send(&Job::Recheck { pending: still }, self.recheck_after)
                        .await
                        .map_err(JobError::Requeue)?;
                }
                Ok(None)
            }
            Job::Later { not_before, job } => {
                let now = (self.safety.clock)();
                if now < not_before {
                    let wait = Duration::from_secs(u64::try_from(not_before - now).unwrap_or(0));
                    let later = Job::Later { not_before, job };
                    self.handoff.send(&later, wait).await.map_err(JobError::Requeue)?;
                    return Ok(None);
                }
                Box::pin(self.try_run(*job)).await
            }
        }
    }

    /// `/defender link`: the device-code sign-in; the code goes to the requester (ephemeral) at once,
    /// the outcome when the sign-in ends.
    async fn link(
        &self,
        tenant: &defender_shared::ids::TenantName,
        user: &ChatUser,
        origin: &crate::command::Origin,
        response_url: Option<&str>,
    ) -> Reply {
        if let Err(why) = self.safety.authorize(origin, user, &Command::Link) {
            return Reply::text(why);
        }
        let Some(users) = &self.users else {
            return Reply::text("Linking is not configured here: actions run in the app's context, naming you.");
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let login = users.link(tenant, user, self.link_clock.as_ref(), |p| {
            let _ = tx.send(format!(
                "To link your Entra identity, open {} and enter the code `{}` (valid {} min).",
                p.verification_uri,
                p.user_code,
                p.expires_in.as_secs() / 60
            ));
        });
        let show = async {
            if let Ok(text) = rx.await {
                self.post(response_url, &Reply::text(text)).await;
            }
        };
        let (outcome, ()) = tokio::join!(login, show);
        match outcome {
            Ok(o) => Reply::text(format!(
                "Linked: your machine actions in '{tenant}' now run as {}.",
                o.user.as_deref().unwrap_or("your Entra identity")
            )),
            Err(e) => {
                warn!(error = %e, "link failed");
                Reply::text(format!("Not linked: {e}."))
            }
        }
    }

    async fn post(&self, url: Option<&str>, reply: &Reply) {
        if let Some(url) = url
            && let Err(e) = self.responder.post(url, &reply.to_slack()).await
        {
            warn!(error = %e, "could not post to response_url");
        }
    }

    fn ops(&self, tenant: &defender_shared::ids::TenantName) -> Option<Arc<dyn DefenderOps>> {
        self.tenants.ops(tenant, tokio::time::Instant::now() + self.budget)
    }

    /// Runs an (authorised) command text and answers the reply without posting it (Teams answers
    /// inline with it).
    pub async fn command(
        &self,
        tenant: &defender_shared::ids::TenantName,
        user: &ChatUser,
        origin: &crate::command::Origin,
        text: &str,
    ) -> Reply {
        let cmd = match parse_text(text) {
            Parsed::Command(c) => c,
            Parsed::Usage(why) => return Reply::text(format!("{why}\n{}", usage())),
        };
        // Authorised by the callback; checked again (the policy is cheap to consult).
        match self.safety.authorize(origin, user, &cmd) {
            Ok(Some(t)) if &t == tenant => {}
            Ok(None) => return Reply::text(usage()),
            Ok(Some(_)) => return Reply::text("Refused: tenant mismatch."),
            Err(why) => return Reply::text(why),
        }
        let Some(ops) = self.ops(tenant) else { return Reply::text(format!("Unknown tenant '{tenant}'.")) };
        let ops = ops.as_ref();
        match cmd {
            Command::Help => Reply::text(usage()),
            Command::Act { action, machine, reason } => {
                let keys = secrets(self.store.as_ref(), &self.slack_secret_names).await;
                let Some(key) = keys.first() else { return Reply::text("The signing secret is unavailable.") };
                self.safety.prepare(ops, tenant, user, Ask { action, target: &machine, reason: &reason }, key).await
            }
            Command::Machine(target) => match resolve(ops, &target).await {
                Err(why) => Reply::text(why),
                Ok(m) => {
                    let Some(id) = m.id.valid().cloned() else { return Reply::text("The machine id is malformed.") };
                    let (actions, alerts) = tokio::join!(ops.machine_actions(&id), ops.machine_alerts(&id));
                    let state = actions.as_deref().map(machine_state);
                    let isolation = match &state {
                        Ok(s) if s.isolated => "isolated".to_string(),
                        Ok(_) => "not isolated".to_string(),
                        Err(e) => format!("unknown ({e})"),
                    };
                    let pending = state.as_ref().map(|s| s.pending.len()).unwrap_or(0);
                    let alerts = match alerts {
                        Ok(list) => {
                            let mut lines: Vec<String> = list
                                .iter()
                                .take(5)
                                .map(|a| {
                                    format!("  – `{}` {} ({})", a.id, opt(a.title.as_ref()), opt(a.severity.as_ref()))
                                })
                                .collect();
                            lines.insert(0, format!("Alerts: {}", list.len()));
                            lines.join("\n")
                        }
                        Err(e) => format!("Alerts: unavailable ({e})"),
                    };
                    Reply::text(format!(
                        "*{}* (id `{id}`)\nOS: {} · health: {} · risk: {} · exposure: {} · last seen: {} · IP: {}\n\
                         Isolation: {isolation} · pending actions: {pending}\n{alerts}",
                        opt(m.computer_dns_name.as_ref()),
                        opt(m.os_platform.as_ref()),
                        opt(m.health_status.as_ref()),
                        opt(m.risk_score.as_ref()),
                        opt(m.exposure_level.as_ref()),
                        opt(m.last_seen.as_ref().map(|t| t.as_str().to_string())),
                        opt(m.last_ip_address.as_ref()),
                    ))
                }
            },
            Command::Alert(id) => match ops.alert(&id).await {
                Ok(Some(a)) => Reply::text(format!(
                    "*Alert* `{}`: {}\nSeverity: {} · status: {} · category: {} · incident: {} · machine: {}",
                    a.id,
                    opt(a.title.as_ref()),
                    opt(a.severity.as_ref()),
                    opt(a.status.as_ref()),
                    opt(a.category.as_ref()),
                    opt(a.incident_id),
                    opt(a.computer_dns_name.as_ref()),
                )),
                Ok(None) => Reply::text(format!("No alert `{id}`.")),
                Err(e) => Reply::text(format!("Could not read alert `{id}`: {e}")),
            },
            Command::Incident(id) => match ops.incident(id).await {
                Ok(Some(i)) => Reply::text(incident_text(&i)),
                Ok(None) => Reply::text(format!("No incident `{id}`.")),
                Err(e) => Reply::text(format!("Could not read incident `{id}`: {e}")),
            },
            Command::UpdateIncident(id, change) => {
                let mut u = IncidentUpdate {
                    comment: Some(format!("changed in chat by {} ({})", user.name, user.id)),
                    ..IncidentUpdate::default()
                };
                match &change {
                    IncidentChange::Assign(upn) => u.assigned_to = Some(upn.as_str().to_string()),
                    IncidentChange::Resolve => u.status = Some(IncidentStatus::Resolved),
                    IncidentChange::Classify(c) => u.classification = Some(c.clone()),
                }
                crate::actions::audit(
                    crate::actions::Decision::Executed,
                    Some(tenant.as_str()),
                    user,
                    "incident-update",
                    None,
                    None,
                    &format!("incident {id}: {change:?}"),
                );
                match ops.update_incident(id, &u).await {
                    Ok(i) => Reply::text(format!("Updated.\n{}", incident_text(&i))),
                    Err(e) => Reply::text(format!("Could not update incident `{id}`: {e}")),
                }
            }
            Command::Hunt(h) => match ops.hunt(&h).await {
                Ok(r) => {
                    let rows = r.results.unwrap_or_default();
                    let mut lines = vec![format!("*Hunt* `{}`: {} row(s)", h.name(), rows.len())];
                    for row in rows.iter().take(10) {
                        lines.push(format!("  – {}", serde_json::to_string(row).unwrap_or_default()));
                    }
                    Reply::text(lines.join("\n"))
                }
                Err(e) => Reply::text(format!("Hunt `{}` failed: {e}", h.name())),
            },
            Command::Link => Reply::text("Use `/defender link` in Slack: the sign-in code is posted to you there."),
            Command::Confirm { .. } => Reply::text("Confirm with the prompt's button (typed codes are for Teams)."),
            Command::ActionStatus(id) => match ops.action(&id).await {
                Ok(Some(a)) => Reply::text(format!(
                    "Action `{}`: {} on `{}` — *{}* (by {}, updated {})",
                    a.id,
                    opt(a.kind.as_ref()),
                    opt(a.computer_dns_name.as_ref()),
                    opt(a.status.as_ref()),
                    opt(a.requestor.as_ref()),
                    opt(a.last_update().map(|t| t.as_str().to_string())),
                )),
                Ok(None) => Reply::text(format!("No machine action `{id}`.")),
                Err(e) => Reply::text(format!("Could not read action `{id}`: {e}")),
            },
        }
    }

    async fn execute(
        &self,
        token: &str,
        accepted_at: i64,
        response_url: Option<String>,
        approver: Option<&ChatUser>,
    ) -> Reply {
        let keys = secrets(self.store.as_ref(), &self.slack_secret_names).await;
        let c = match confirm::open(token, &keys, accepted_at) {
            Ok(c) => c,
            Err(e) => return Reply::replacing(format!("Refused: {e}.")),
        };
        let requester = ChatUser { id: c.user_id.clone(), name: c.user_name.clone() };
        let delegated = match &self.users {
            Some(u) => u.ops(&c.tenant, &requester, tokio::time::Instant::now() + self.budget).await,
            None => None,
        };
        let context = if delegated.is_some() { "as your linked identity" } else { "in the app's context" };
        let Some(ops) = delegated.or_else(|| self.ops(&c.tenant)) else {
            return Reply::replacing(format!("Unknown tenant '{}'.", c.tenant));
        };
        let what = format!("{} `{}` (id `{}`)", capitalise(&c.action), c.machine_name, c.machine_id);
        match self.safety.execute(ops.as_ref(), &c, approver).await {
            Executed::Started(a) => {
                let Some(action_id) = a.id.valid().cloned() else {
                    return Reply::replacing(format!("{what}: accepted by Defender as `{}`.", a.id));
                };
                let pending = Pending {
                    tenant: c.tenant.clone(),
                    action_id: action_id.clone(),
                    action: c.action.clone(),
                    machine_name: c.machine_name.clone(),
                    request_id: c.request_id.clone(),
                    response_url,
                    checks: 0,
                    started_at: (self.safety.clock)(),
                };
                if let Err(e) = self.handoff.send(&Job::Recheck { pending: vec![pending] }, self.recheck_after).await {
                    warn!(error = %e, "follow-up not queued");
                }
                Reply::replacing(format!(
                    "{what}: accepted by Defender — action `{action_id}`, status *{}*, {context}. Request `{}`. \
                     The outcome will be posted here.",
                    opt(a.status.as_ref()),
                    c.request_id
                ))
            }
            Executed::Duplicate(prev) => {
                Reply::replacing(format!("{what}: request `{}` was already handled ({prev}).", c.request_id))
            }
            Executed::Refused(why) => Reply::replacing(format!("{what}: refused — {why}.")),
            Executed::Failed(why) => Reply::replacing(format!("{what}: failed — {why}.")),
        }
    }
}

fn incident_text(i: &defender_shared::defender::models::incidents::Incident) -> String {
    format!(
        "*Incident* `{}`: {}\nStatus: {} · severity: {} · assigned to: {} · classification: {} · alerts: {}",
        i.incident_id,
        opt(i.incident_name.as_ref()),
        opt(i.status.as_ref()),
        opt(i.severity.as_ref()),
        opt(i.assigned_to.as_ref()),
        opt(i.classification.as_ref()),
        i.alerts.as_ref().map(Vec::len).unwrap_or(0),
    )
}
