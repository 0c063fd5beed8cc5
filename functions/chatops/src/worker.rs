//! The worker: runs what the callback handed off and posts the result to the chat.
//!
//! - [`Job::Command`]: lookups (machine, alert, incident, action status, hunt), incident changes, and
//!   the confirmation prompt of a machine action ([`Safety::prepare`]).
//! - [`Job::Execute`]: a confirmed action, exactly once ([`Safety::execute`]), then a delayed
//!   [`Job::Recheck`] to follow it. The message is not evidence: the confirmation (and approval) is
//!   re-derived from the idempotency store's claims ([`Safety::verify_claims`]).
//! - [`Job::UpdateIncident`]: a confirmed incident change, the same way ([`Safety::execute_incident`]).
//! - [`Job::Recheck`]: one follow-up pass ([`followup::recheck`]); what is not final goes round again.
//! - [`Job::Later`]: a long wait, sent round again until due, then run.
//! - [`Job::LinkPoll`]: one step of a `/defender link` sign-in: polls for at most
//!   `CHATOPS_LINK_STEP_S` (well inside the function's timeout), then sends the next step with the
//!   poll interval as its delay; each step is claimed once in the idempotency store, so a redelivered
//!   step does not fork the polling, and a redelivered `link` shows the same code.
//!
//! Every reply goes to the job's [`Thread`] through the [`Poster`]: the `response_url` while Slack
//! takes posts there, then `chat.postMessage` ([`crate::thread`]).
//!
//! [`Worker::try_run`] says when a job must be delivered again ([`JobError`]: the queue redelivers it,
//! then dead-letters it); nothing is lost by answering an error.

use crate::{
    actions::{Ask, Executed, Safety, capitalise, resolve},
    command::{ChatUser, Command, Parsed, parse_text, usage},
    confirm,
    confirm::{ChangeConfirmation, Confirmation},
    defender::{DefenderOps, Tenants},
    followup::{self, Pending},
    handoff::{HandOff, HandOffError, Job},
    identity::IdentityCheck,
    reply::{self, Refusal, Reply, untrusted},
    thread::{Poster, Responder, SlackApi, Thread},
    user::{LinkStep, UserContext, pending_name},
};
use defender_shared::{auth::Clock, ids::TenantName, secret::SecretString, vault::SecretStore};
use std::{sync::Arc, time::Duration};
use tracing::{info, warn};

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
    /// How long one invocation polls a `link` sign-in before handing on to the next step.
    pub link_step: Duration,
    /// `chat.postMessage` with the bot token, for replies after a `response_url` is spent (`None`:
    /// no bot token configured).
    pub slack: Option<Arc<dyn SlackApi>>,
    /// The Bot Connector, for jobs of the Teams bot (`None`: no bot configured).
    pub teams: Option<Arc<dyn crate::connector::BotConnector>>,
    /// SOC events (`EVENT_BUS`): machine-action outcomes ([`crate::followup::events`]); off by default.
    pub events: Arc<defender_shared::events::Publisher>,
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
        self.try_run_in(job, None).await
    }

    /// Runs one job whose replies go to `teams` (a Teams bot conversation) when given.
    async fn try_run_in(&self, job: Job, teams: Option<crate::connector::TeamsRef>) -> Result<Option<Reply>, JobError> {
        if let Job::Command { tenant, .. } | Job::LinkPoll { tenant, .. } = &job {
            defender_shared::telemetry::tenant(tenant.as_str());
        }
        match job {
            Job::Teams { conversation, job } => Box::pin(self.try_run_in(*job, Some(conversation))).await,
            Job::Command { tenant, user, origin, text, response_url, received_at } => {
                let mut thread = Thread {
                    response_url,
                    // A job queued before the field existed: its URL is young enough to try.
                    issued_at: if received_at > 0 { received_at } else { self.now() },
                    channel: (!origin.channel.is_empty()).then(|| origin.channel.clone()),
                    user_id: Some(user.id.clone()),
                    teams: teams.clone(),
                    tenant: Some(tenant.clone()),
                    ..Thread::default()
                };
                if parse_text(&text) == Parsed::Command(Command::Link) {
                    return self.link(&tenant, &user, &origin, thread).await;
                }
                let reply = self.command(&tenant, &user, &origin, &text).await;
                self.post(&mut thread, &reply).await;
                Ok(Some(reply))
            }
            Job::Execute { token, accepted_at, response_url, approver, channel, thread_ts } => {
                let mut thread = Thread {
                    response_url,
                    issued_at: accepted_at,
                    channel,
                    thread_ts,
                    teams: teams.clone(),
                    ..Thread::default()
                };
                let (reply, pending) = self.execute(&token, &mut thread, approver.as_ref()).await;
                self.post(&mut thread, &reply).await;
                if let Some(mut pending) = pending {
                    // The follow-up continues the thread, posts counted.
                    pending.thread = thread;
                    if let Err(e) =
                        self.handoff.send(&Job::Recheck { pending: vec![pending] }, self.recheck_after).await
                    {
                        warn!(error = %e, "follow-up not queued");
                    }
                }
                Ok(Some(reply))
            }
            Job::UpdateIncident { token, accepted_at, response_url, channel } => {
                let mut thread =
                    Thread { response_url, issued_at: accepted_at, channel, teams: teams.clone(), ..Thread::default() };
                let reply = self.update_incident(&token, &mut thread).await;
                self.post(&mut thread, &reply).await;
                Ok(Some(reply))
            }
            Job::Recheck { pending } => {
                let limits = followup::Limits { now: self.now(), max_age: self.followup_max_age };
                let still =
                    followup::recheck_publishing(self.tenants.as_ref(), &self.poster(), pending, limits, &self.events)
                        .await;
                if !still.is_empty() {
                    self.handoff
                        .send(&Job::Recheck { pending: still }, self.recheck_after)
                        .await
                        .map_err(JobError::Requeue)?;
                }
                Ok(None)
            }
            Job::LinkPoll { tenant, user, mut thread, started, step } => {
                thread.tenant = Some(tenant.clone());
                self.link_step(&tenant, &user, thread, started, step).await
            }
            Job::Later { not_before, job } => {
                let now = (self.safety.clock)();
                if now < not_before {
                    let wait = Duration::from_secs(u64::try_from(not_before - now).unwrap_or(0));
                    let later = Job::Later { not_before, job };
                    let later = match teams {
                        Some(conversation) => Job::Teams { conversation, job: Box::new(later) },
                        None => later,
                    };
                    self.handoff.send(&later, wait).await.map_err(JobError::Requeue)?;
                    return Ok(None);
                }
                Box::pin(self.try_run_in(*job, teams)).await
            }
        }
    }

    fn now(&self) -> i64 {
        (self.safety.clock)()
    }

    /// The poster of this worker's replies.
    pub fn poster(&self) -> Poster {
        Poster {
            responder: self.responder.clone(),
            api: self.slack.clone(),
            teams: self.teams.clone(),
            channels: Some(self.safety.clone()),
        }
    }

    async fn post(&self, thread: &mut Thread, reply: &Reply) {
        if thread.response_url.is_none() && thread.channel.is_none() && thread.teams.is_none() {
            return; // Teams outgoing webhook: answered inline, nowhere to post
        }
        if let Err(e) = self.poster().post(thread, reply, self.now()).await {
            warn!(error = %e, "could not post a reply");
        }
    }

    /// Claims step `step` of a sign-in once (a redelivered job must not fork the polling). A store
    /// that cannot answer does not stop the sign-in: better two pollers than none.
    async fn claim_link_step(&self, tenant: &TenantName, user: &ChatUser, started: i64, step: u32) -> bool {
        let key = format!("link-step:{}:{started}:{step}", pending_name(tenant, &user.id));
        let exp = self.now().saturating_add(3_600);
        match self.safety.idempotency.put_if_absent(&key, "sent", exp).await {
            Ok(None) => true,
            Ok(Some(_)) => false,
            Err(e) => {
                warn!(error = %e, "link step not claimed; sending it anyway");
                true
            }
        }
    }

    async fn release_link_step(&self, tenant: &TenantName, user: &ChatUser, started: i64, step: u32) {
        let key = format!("link-step:{}:{started}:{step}", pending_name(tenant, &user.id));
        if let Err(e) = self.safety.idempotency.remove(&key).await {
            warn!(error = %e, "link step claim not released");
        }
    }

    /// Sends step `step` of a sign-in after `delay`, once.
    async fn send_link_step(
        &self,
        tenant: &TenantName,
        user: &ChatUser,
        thread: Thread,
        started: i64,
        step: u32,
        delay: Duration,
    ) -> Result<(), JobError> {
        if !self.claim_link_step(tenant, user, started, step).await {
            info!(step, "link step already sent: this delivery is a duplicate");
            return Ok(());
        }
        let job = Job::LinkPoll { tenant: tenant.clone(), user: user.clone(), thread, started, step };
        if let Err(e) = self.handoff.send(&job, delay).await {
            self.release_link_step(tenant, user, started, step).await;
            return Err(JobError::Requeue(e));
        }
        Ok(())
    }

    /// `/defender link`: asks Entra for a device code once (kept in the vault), posts it to the
    /// requester and queues the first poll step; it never waits for the sign-in.
    async fn link(
        &self,
        tenant: &TenantName,
        user: &ChatUser,
        origin: &crate::command::Origin,
        mut thread: Thread,
    ) -> Result<Option<Reply>, JobError> {
        let reply = if let Err(why) = self.safety.authorize(origin, user, &Command::Link) {
            Reply::refused(&why)
        } else if let Some(users) = &self.users {
            match users.link_begin(tenant, user, self.link_clock.as_ref()).await {
                Ok(s) => {
                    let left = (s.expires_at - self.link_clock.utc_now().timestamp()).max(0) / 60;
                    let reply = reply::link_code(s.reused, &s.verification_uri, &s.user_code, left);
                    self.post(&mut thread, &reply).await;
                    self.send_link_step(tenant, user, thread, s.started, 1, s.interval).await?;
                    return Ok(Some(reply));
                }
                Err(e) => {
                    warn!(error = %e, "link not started");
                    reply::not_linked(&e)
                }
            }
        } else {
            Reply::text(reply::LINKING_OFF)
        };
        self.post(&mut thread, &reply).await;
        Ok(Some(reply))
    }

    /// One step of a sign-in: polls every interval while the next poll still fits in
    /// [`Worker::link_step`], then hands on; posts the outcome when there is one.
    async fn link_step(
        &self,
        tenant: &TenantName,
        user: &ChatUser,
        mut thread: Thread,
        started: i64,
        step: u32,
    ) -> Result<Option<Reply>, JobError> {
        let Some(users) = &self.users else { return Ok(None) };
        let clock = self.link_clock.as_ref();
        let began = clock.utc_now();
        let budget = chrono::Duration::from_std(self.link_step).unwrap_or(chrono::Duration::zero());
        let check =
            IdentityCheck { mapping: self.safety.rbac.linked_identity(tenant, &user.id), slack: self.slack.as_deref() };
        let reply = loop {
            match users.link_poll(tenant, user, started, clock, &check).await {
                LinkStep::Pending { interval } => {
                    let wait = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::zero());
                    if clock.utc_now() - began + wait > budget {
                        self.send_link_step(tenant, user, thread, started, step + 1, interval).await?;
                        return Ok(None);
                    }
                    clock.sleep(interval).await;
                }
                LinkStep::Gone => {
                    info!(step, "sign-in already finished or replaced: step dropped");
                    return Ok(None);
                }
                LinkStep::Linked(o) => break reply::linked(tenant, o.user.as_deref()),
                LinkStep::Expired => break Reply::text(reply::LINK_EXPIRED),
                LinkStep::Failed(e) => {
                    warn!(error = %e, "link failed");
                    break reply::not_linked(&e);
                }
                LinkStep::Refused(why) => break reply::link_refused(&why),
            }
        };
        self.post(&mut thread, &reply).await;
        Ok(Some(reply))
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
            Parsed::Usage(why) => return reply::usage_because(&why),
        };
        // Authorised by the callback; checked again (the policy is cheap to consult).
        match self.safety.authorize(origin, user, &cmd) {
            Ok(Some(t)) if &t == tenant => {}
            Ok(None) => return Reply::text(usage()),
            Ok(Some(_)) => return Reply::refused(&Refusal::TenantMismatch),
            Err(why) => return Reply::refused(&why),
        }
        let Some(ops) = self.ops(tenant) else { return reply::unknown_tenant(tenant) };
        let ops = ops.as_ref();
        match cmd {
            Command::Help => Reply::text(usage()),
            Command::Act { action, machine, reason } => {
                let keys = secrets(self.store.as_ref(), &self.slack_secret_names).await;
                let Some(key) = keys.first() else { return Reply::text(reply::NO_SIGNING_SECRET) };
                self.safety.prepare(ops, tenant, user, Ask { action, target: &machine, reason: &reason }, key).await
            }
            Command::Machine(target) => match resolve(ops, &target).await {
                Err(why) => Reply::text(why.to_string()),
                Ok(m) => {
                    let Some(id) = m.id.valid().cloned() else { return Reply::text(reply::MALFORMED_MACHINE_ID) };
                    let (actions, alerts) = tokio::join!(ops.machine_actions(&id), ops.machine_alerts(&id));
                    let actions = actions.as_deref().map_err(|e| e.to_string());
                    let alerts = alerts.as_deref().map_err(|e| e.to_string());
                    Reply::text(reply::machine_text(&m, &id, actions, alerts))
                }
            },
            Command::Alert(id) => reply::alert(&id, ops.alert(&id).await),
            Command::Incident(id) => reply::incident(id, ops.incident(id).await),
            Command::UpdateIncident(..) | Command::UpdateAlert(..) | Command::Block(_) | Command::Unblock(_) => {
                self.prepare_change(ops, tenant, user, cmd).await
            }
            Command::MachineActions(target) => match resolve(ops, &target).await {
                Err(why) => Reply::text(why.to_string()),
                Ok(m) => {
                    let Some(id) = m.id.valid().cloned() else { return Reply::text(reply::MALFORMED_MACHINE_ID) };
                    let name = m.computer_dns_name.clone().unwrap_or_else(|| id.to_string());
                    reply::history(&name, &id, ops.machine_history(&id).await)
                }
            },
            Command::Hunt(h) => reply::hunt(h.name(), ops.hunt(&h).await),
            Command::Link => Reply::text(reply::LINK_IN_SLACK),
            Command::Confirm { .. } => Reply::text(reply::CONFIRM_WITH_BUTTON),
            Command::ActionStatus(id) => reply::action_status(&id, ops.action(&id).await),
        }
    }

    /// Executes a confirmed action; answers the reply and, when Defender accepted it, the action to
    /// follow (its thread is set by the caller after the reply is posted).
    async fn execute(&self, token: &str, thread: &mut Thread, approver: Option<&ChatUser>) -> (Reply, Option<Pending>) {
        let keys = secrets(self.store.as_ref(), &self.slack_secret_names).await;
        // The expiry is checked against the recorded claims (`Safety::execute`), never against the
        // message's `accepted_at`.
        let c: Confirmation = match confirm::open_sealed(token, &keys) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "a job with an unusable token refused");
                return (reply::replacing(&Refusal::JobToken(e.to_string())), None);
            }
        };
        thread.user_id = Some(c.user_id.clone());
        thread.tenant = Some(c.tenant.clone());
        let requester = ChatUser { id: c.user_id.clone(), name: c.user_name.clone() };
        let delegated = match &self.users {
            Some(u) => u.ops(&c.tenant, &requester, tokio::time::Instant::now() + self.budget).await,
            None => None,
        };
        let context = if delegated.is_some() { "as your linked identity" } else { "in the app's context" };
        let Some(ops) = delegated.or_else(|| self.ops(&c.tenant)) else {
            return (reply::unknown_tenant(&c.tenant).replacing_original(), None);
        };
        let what = format!("{} `{}` (id `{}`)", capitalise(&c.action), untrusted(&c.machine_name), c.machine_id);
        match self.safety.execute(ops.as_ref(), &c, approver).await {
            Executed::Started(a) => {
                let Some(action_id) = a.id.valid().cloned() else {
                    return (Reply::replacing(format!("{what}: accepted by Defender as `{}`.", a.id)), None);
                };
                let pending = Pending {
                    tenant: c.tenant.clone(),
                    action_id: action_id.clone(),
                    action: c.action.clone(),
                    machine_name: c.machine_name.clone(),
                    request_id: c.request_id.clone(),
                    thread: Thread::default(),
                    checks: 0,
                    started_at: self.now(),
                    outcome_published: false,
                };
                let note = if thread.teams.is_some() {
                    "The outcome will be posted to this conversation."
                } else {
                    self.poster().late_outcome_note()
                };
                let reply = reply::started(&what, &action_id, a.status.as_ref(), context, &c.request_id, note);
                (reply, Some(pending))
            }
            Executed::Duplicate(prev) => {
                (Reply::replacing(format!("{what}: request `{}` was already handled ({prev}).", c.request_id)), None)
            }
            Executed::Refused(why) => (Reply::replacing(format!("{what}: refused — {}.", why.reason())), None),
            Executed::Failed(why) => (Reply::replacing(format!("{what}: failed — {why}.")), None),
        }
    }
}

impl Worker {
    /// Runs a confirmed change (the confirmation re-derived from the store) and answers the reply.
    async fn update_incident(&self, token: &str, thread: &mut Thread) -> Reply {
        let keys = secrets(self.store.as_ref(), &self.slack_secret_names).await;
        let c: ChangeConfirmation = match confirm::open_sealed(token, &keys) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "a job with an unusable token refused");
                return reply::replacing(&Refusal::JobToken(e.to_string()));
            }
        };
        thread.user_id = Some(c.user_id.clone());
        thread.tenant = Some(c.tenant.clone());
        let Some(ops) = self.ops(&c.tenant) else { return reply::unknown_tenant(&c.tenant).replacing_original() };
        match self.safety.execute_change(ops.as_ref(), &c).await {
            Ok(text) => Reply::replacing(format!("Updated (request `{}`): {}.\n{text}", c.request_id, c.summary)),
            Err(why) => Reply::replacing(format!("{}: {why}.", crate::actions::capitalise(&c.summary))),
        }
    }

    /// The prompt of a change: the lookups it shows (the incident's name, the alert's title, the
    /// indicator an `unblock` by value resolves to, or a `block` would update), then
    /// [`Safety::prepare_change`]. Nothing is changed here.
    async fn prepare_change(&self, ops: &dyn DefenderOps, tenant: &TenantName, user: &ChatUser, cmd: Command) -> Reply {
        let resolved = match crate::actions::changes::shown(ops, &cmd).await {
            Ok(r) => r,
            Err(why) => {
                crate::actions::audit(
                    crate::actions::Decision::Refused,
                    Some(tenant.as_str()),
                    user,
                    crate::actions::changes::label_of(&cmd),
                    None,
                    None,
                    &crate::reply::plain(&why),
                );
                return Reply::text(why);
            }
        };
        let keys = secrets(self.store.as_ref(), &self.slack_secret_names).await;
        let Some(key) = keys.first() else { return Reply::text(reply::NO_SIGNING_SECRET) };
        self.safety.prepare_change(tenant, user, &resolved.0, resolved.1, key)
    }
}
