//! Safe machine actions — the heart of the function.
//!
//! 1. **Authorise** ([`Safety::authorize`], in the callback, no Defender call): the origin's tenant,
//!    the user's permission in it ([`crate::config::Rbac`]) and the tenant's `allowed_actions`.
//! 2. **Prepare** ([`Safety::prepare`], in the worker): the machine is resolved by *exact* match (id,
//!    exact host name, IP through find-by-IP) and refused when none or several match; its current
//!    state — derived from its machine actions, as MDE exposes no isolation flag — and its pending
//!    actions are checked; then a confirmation naming the machine's name, id and the reason is
//!    answered, carrying a sealed, expiring token ([`crate::confirm`]).
//! 3. **Accept** ([`Safety::accept`], in the callback, on the button): the token is opened (MAC,
//!    expiry), must be pressed by the requester, is authorised again, and is claimed in the
//!    [`IdempotencyStore`] under its request id — a double click, concurrent presses or a Slack retry
//!    find the claim and do nothing.
//! 4. **Two-person approval** (per tenant and action, `two_person` in the policy): the requester's
//!    confirm only records a pending approval and shows an `approve` button to the channel;
//!    [`Safety::approve`] needs a second, different user holding the same permission in the same
//!    tenant, and claims `approve:` once. The requester pressing approve does nothing.
//! 5. **Execute** ([`Safety::execute`], in the worker): the worker trusts nothing the queue message
//!    says beyond a sealed token: it re-derives the confirmation (and the approval) from the claims in
//!    the [`IdempotencyStore`] ([`Claim`]: state, who, when, and the [`confirm::digest`] of the whole
//!    sealed request — action, machine, tenant, requester, reason), so a message naming another
//!    approver, a token that was prompted but never confirmed, or one confirmed after its expiry is
//!    refused before Defender is called; then a second claim (`exec:`) guards against a hand-off
//!    delivered twice; the state is checked again; the Defender `Comment` names the chat user (and
//!    the approver) and the request id.
//! 6. **Cancel** ([`Safety::cancel`]): only the requester, or (for a two-person action) a person who
//!    could approve it, may cancel; the cancellation is a claim, so the request can no longer be
//!    confirmed or approved.
//!
//! Other changes — incidents (`incident <id> resolve|assign|classify`), alerts (`alert <id>
//! status|classify|assign`), indicators (`block`, `unblock`) — follow the same path with their own
//! sealed token ([`ChangeConfirmation`]), in [`changes`]: [`Safety::prepare_change`],
//! [`Safety::accept_incident`] (requester only, the change's own permission checked again),
//! [`Safety::execute_change`] (claims re-checked, run once).
//!
//! Every decision is one structured `audit` line ([`audit`]); no token or secret is ever logged.

// `changes` is a child: it continues [`Safety`] (an `impl Safety` block) for the confirmed changes
// that are not machine actions, with this module's claims and audit; [`Safety::cancel`] reads its
// [`changes::Change`]. One unit split for size, not a cycle between siblings.
pub mod changes;

use crate::{
    command::IncidentChange,
    command::{ChatUser, ChatUserId, Command, MachineRef, Origin, Reason},
    config::{Permission, Rbac},
    confirm::{self, ChangeConfirmation, Confirmation},
    defender::{DefenderOps, OpsError, Tenants},
    history::{machine_state, state_conflict},
    idempotency::IdempotencyStore,
    reply::{Prompt, Refusal, Reply, Unresolved, plain, untrusted},
};
use defender_shared::{
    defender::models::{actions::MachineAction, alerts::Classification, machines::Machine},
    ids::{MachineId, TenantName},
    secret::SecretString,
    tenants::Action,
};
use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};
use tracing::info;

/// What a claim in the idempotency store records about a request (`confirm:<id>`, `approve:<id>`):
/// the state, who made it, when, and the digest of the sealed request it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The state.
    pub state: ClaimState,
    /// The chat user id who made it.
    pub by: ChatUserId,
    /// When, unix seconds.
    pub at: i64,
    /// [`confirm::digest`] of the sealed request.
    pub job: String,
}

/// The state a claim records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    /// Confirmed by the requester; runs.
    Confirmed,
    /// Confirmed by the requester; waits for a second person.
    AwaitingApproval,
    /// Approved by a second person.
    Approved,
    /// Cancelled (by the requester or a person who could approve).
    Cancelled,
}

impl Claim {
    /// A claim.
    pub(crate) fn new(state: ClaimState, by: &ChatUserId, at: i64, job: String) -> Self {
        Self { state, by: by.clone(), at, job }
    }

    /// The stored value.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored value (`None`: not a claim this code wrote).
    pub fn decode(v: &str) -> Option<Self> {
        serde_json::from_str(v).ok()
    }
}

fn cancelled(prev: &str) -> bool {
    Claim::decode(prev).is_some_and(|c| c.state == ClaimState::Cancelled)
}

/// An audited decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Refused (permission, resolution, state, token).
    Refused,
    /// A confirmation was offered.
    Prompted,
    /// A confirmation was accepted and handed to the worker.
    Confirmed,
    /// Confirmed by the requester; waiting for a second person.
    AwaitingApproval,
    /// A second person approved.
    Approved,
    /// A repeated confirmation (double click, retry) that did nothing.
    Duplicate,
    /// Cancelled by the user.
    Cancelled,
    /// Defender accepted the action.
    Executed,
    /// Defender refused or failed the call.
    Failed,
    /// The follow-up saw a terminal status.
    Completed,
}

impl Decision {
    /// The log value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::Prompted => "prompted",
            Self::Confirmed => "confirmed",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Approved => "approved",
            Self::Duplicate => "duplicate",
            Self::Cancelled => "cancelled",
            Self::Executed => "executed",
            Self::Failed => "failed",
            Self::Completed => "completed",
        }
    }
}

/// One structured audit line (`target: "audit"`). `detail` is a short reason, never a secret.
pub fn audit(
    decision: Decision,
    tenant: Option<&str>,
    user: &ChatUser,
    action: &str,
    machine_id: Option<&str>,
    request_id: Option<&str>,
    detail: &str,
) {
    audit_line(decision, "-", Audited { tenant, user, action, machine_id, request_id }, detail);
}

/// Who asked what, for an audit line.
#[derive(Debug, Clone, Copy)]
pub struct Audited<'a> {
    /// The tenant, when known.
    pub tenant: Option<&'a str>,
    /// The chat user.
    pub user: &'a ChatUser,
    /// The action or change label.
    pub action: &'a str,
    /// The machine, when one is named.
    pub machine_id: Option<&'a str>,
    /// The request, when one was made.
    pub request_id: Option<&'a str>,
}

impl<'a> Audited<'a> {
    /// Only who asked and what: no tenant, machine or request is known yet.
    pub fn user(user: &'a ChatUser, action: &'a str) -> Self {
        Self { tenant: None, user, action, machine_id: None, request_id: None }
    }
}

/// Opens a sealed token; a refusal is audited as `action` by `user` (nothing else is known yet).
pub(crate) fn open_audited<T: confirm::Sealed>(
    token: &str,
    keys: &[SecretString],
    now: i64,
    user: &ChatUser,
    action: &str,
) -> Result<T, Refusal> {
    confirm::open(token, keys, now).map_err(|e| {
        let why = Refusal::Token(e.to_string());
        audit_refusal(Audited::user(user, action), &why, "");
        why
    })
}

/// A claim someone took before (`prev`): refused when the request was cancelled, else a duplicate
/// press, audited, answered that the request was already `verb` and nothing more was done.
pub(crate) fn taken_before(who: Audited<'_>, prev: &str, verb: &str) -> Result<String, Refusal> {
    if cancelled(prev) {
        return Err(Refusal::Cancelled);
    }
    let Audited { tenant, user, action, machine_id, request_id } = who;
    audit(Decision::Duplicate, tenant, user, action, machine_id, request_id, prev);
    Ok(format!("Request `{}` was already {verb}; nothing more was done.", request_id.unwrap_or_default()))
}

/// The audit line of a refusal: `reason_code` is the refusal's stable [`Refusal::code`], `detail` its
/// reason as plain text (after `prefix`, e.g. `job refused: `).
pub fn audit_refusal(who: Audited<'_>, why: &Refusal, prefix: &str) {
    audit_line(Decision::Refused, why.code(), who, &format!("{prefix}{}", plain(&why.reason())));
}

fn audit_line(decision: Decision, reason_code: &str, who: Audited<'_>, detail: &str) {
    let Audited { tenant, user, action, machine_id, request_id } = who;
    match decision {
        Decision::Executed => defender_shared::metrics::count("ActionsExecuted", 1),
        Decision::Refused => defender_shared::metrics::count("ActionsRefused", 1),
        Decision::Failed => defender_shared::metrics::count("ActionsFailed", 1),
        _ => {}
    }
    if let Some(t) = tenant {
        defender_shared::telemetry::tenant(t);
    }
    info!(
        target: "audit",
        decision = decision.as_str(),
        tenant = tenant.unwrap_or("-"),
        user_id = %user.id,
        user_name = %user.name,
        action,
        machine_id = machine_id.unwrap_or("-"),
        request_id = request_id.unwrap_or("-"),
        reason_code,
        detail,
        "chatops decision"
    );
}

/// Resolves a machine by exact match.
///
/// # Errors
/// [`Unresolved`] when none or several match, or Defender cannot be asked.
pub async fn resolve(ops: &dyn DefenderOps, target: &MachineRef) -> Result<Machine, Unresolved> {
    let found = match target {
        MachineRef::Id(id) => ops.machine(id).await.map(|m| m.into_iter().collect::<Vec<_>>()),
        MachineRef::Host(h) => ops.machines_by_host(h).await,
        MachineRef::Ip(ip) => ops.machines_by_ip(*ip).await,
    }
    .map_err(|e| Unresolved::Lookup { target: target.to_string(), error: e.to_string() })?;
    let mut found: Vec<Machine> = found.into_iter().filter(|m| m.id.valid().is_some()).collect();
    match found.len() {
        0 => Err(Unresolved::NoMatch(target.to_string())),
        1 => Ok(found.remove(0)),
        _ => Err(Unresolved::Ambiguous {
            target: target.to_string(),
            machines: found.iter().map(|m| (m.computer_dns_name.clone(), m.id.to_string())).collect(),
        }),
    }
}

fn clean(name: &str) -> String {
    name.chars().filter(|ch| !ch.is_control()).take(80).collect()
}

/// The Defender comment: the chat user (and the approver), the request id, the reason (control
/// characters removed).
pub fn comment(c: &Confirmation, approver: Option<&ChatUser>) -> String {
    let approved =
        approver.map(|a| format!(", approved by {} ({})", clean(&a.name), clean(a.id.as_str()))).unwrap_or_default();
    format!(
        "{} requested in chat by {} ({}){approved}; request {}; reason: {}",
        c.action,
        clean(&c.user_name),
        c.user_id,
        c.request_id,
        c.reason.as_str()
    )
}

/// An action command to prepare.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// What.
    pub action: Action,
    /// On which machine.
    pub target: &'a MachineRef,
    /// Why.
    pub reason: &'a Reason,
}

/// What happened to a confirm button press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// This press won: hand the confirmation to the worker.
    Go(Box<Confirmation>),
    /// Confirmed by the requester; a second person must approve (two-person rule).
    AwaitingApproval(Box<Confirmation>),
    /// Already confirmed (double click, concurrent press, retry): nothing to do.
    Duplicate(String),
    /// Refused.
    Refused(Refusal),
}

/// What happened to an incident change's confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentAccepted {
    /// This confirmation won: hand it to the worker.
    Go(Box<ChangeConfirmation>),
    /// Already confirmed: nothing to do.
    Duplicate(String),
    /// Refused.
    Refused(Refusal),
}

/// The canonical command words of an incident change (`None`: a classification this code does not
/// offer).
pub fn change_words(change: &IncidentChange) -> Option<String> {
    Some(match change {
        IncidentChange::Assign(upn) => format!("assign {}", upn.as_str()),
        IncidentChange::Resolve => "resolve".to_string(),
        IncidentChange::Classify(Classification::TruePositive) => "classify tp".to_string(),
        IncidentChange::Classify(Classification::FalsePositive) => "classify fp".to_string(),
        IncidentChange::Classify(Classification::InformationalExpectedActivity) => "classify informational".to_string(),
        IncidentChange::Classify(_) => return None,
    })
}

/// What the worker's execution did.
#[derive(Debug, Clone, PartialEq)]
pub enum Executed {
    /// Defender accepted the action.
    Started(Box<MachineAction>),
    /// Already executed under this request id.
    Duplicate(String),
    /// Not run.
    Refused(Refusal),
    /// Defender failed the call.
    Failed(String),
}

/// The safety policy and its state.
pub struct Safety {
    /// Who may do what.
    pub rbac: Rbac,
    /// The tenants' `allowed_actions`, and Defender.
    pub tenants: Arc<dyn Tenants>,
    /// How long a confirmation is valid.
    pub confirm_ttl: Duration,
    /// Exactly-once.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Unix seconds now.
    pub clock: fn() -> i64,
}

impl std::fmt::Debug for Safety {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Safety").field("confirm_ttl", &self.confirm_ttl).finish_non_exhaustive()
    }
}

fn action_name(cmd: &Command) -> &'static str {
    match cmd {
        Command::Help => "help",
        Command::Machine(_) => "machine",
        Command::Alert(_) => "alert",
        Command::Incident(_) => "incident",
        Command::UpdateIncident(..) => "incident-update",
        Command::UpdateAlert(..) => "alert-update",
        Command::Block(_) => "block",
        Command::Unblock(_) => "unblock",
        Command::MachineActions(_) => "actions",
        Command::Hunt(_) => "hunt",
        Command::Act { action, .. } => action.as_str(),
        Command::ActionStatus(_) => "action",
        Command::Link => "link",
        Command::Confirm { approve: false, .. } => "confirm",
        Command::Confirm { approve: true, .. } => "approve",
    }
}

impl Safety {
    /// Whether `user` at `origin` may run `cmd`: the tenant, or the refusal message. Needs no Defender
    /// call. Refusals are audited.
    ///
    /// # Errors
    /// The refusal to answer.
    pub fn authorize(&self, origin: &Origin, user: &ChatUser, cmd: &Command) -> Result<Option<TenantName>, Refusal> {
        let Some(perm) = Permission::for_command(cmd) else { return Ok(None) };
        let refuse = |tenant: Option<&str>, why: Refusal| {
            let who = Audited { tenant, user, action: action_name(cmd), machine_id: None, request_id: None };
            audit_refusal(who, &why, "");
            Err(why)
        };
        let tenant = match self.rbac.check(origin, user, perm) {
            Ok(t) => t,
            Err(e) => return refuse(self.rbac.tenant_for(origin).map(TenantName::as_str), Refusal::Policy(e)),
        };
        if let Command::Act { action, .. } = cmd
            && !self.tenants.allows(&tenant, *action)
        {
            let why = Refusal::TenantDisallows { tenant: tenant.clone(), action: *action };
            return refuse(Some(tenant.as_str()), why);
        }
        Ok(Some(tenant))
    }

    /// The confirmation for an authorised action command (or the refusal).
    pub async fn prepare(
        &self,
        ops: &dyn DefenderOps,
        tenant: &TenantName,
        user: &ChatUser,
        ask: Ask<'_>,
        key: &SecretString,
    ) -> Reply {
        let Ask { action, target, reason } = ask;
        let request_id = uuid::Uuid::new_v4().to_string();
        let refuse = |machine_id: Option<&str>, why: Refusal| {
            let (tenant, request_id) = (Some(tenant.as_str()), Some(request_id.as_str()));
            audit_refusal(Audited { tenant, user, action: action.as_str(), machine_id, request_id }, &why, "");
            Reply::refused(&why)
        };
        let machine = match resolve(ops, target).await {
            Ok(m) => m,
            Err(why) => return refuse(None, Refusal::Unresolved(why)),
        };
        let Some(mid) = machine.id.valid().cloned() else { return refuse(None, Refusal::MalformedMachineId) };
        let name = machine.computer_dns_name.clone().unwrap_or_else(|| mid.to_string());
        let actions = match ops.machine_actions(&mid).await {
            Ok(a) => a,
            Err(e) => return refuse(Some(mid.as_str()), Refusal::ActionsUnreadable(e.to_string())),
        };
        if let Some(conflict) = state_conflict(action, &machine_state(&actions)) {
            return refuse(Some(mid.as_str()), Refusal::Conflict { machine: Some(name), conflict });
        }
        let ttl = self.confirm_ttl.as_secs();
        let c = Confirmation {
            v: 1,
            tenant: tenant.clone(),
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            action: action.as_str().to_string(),
            machine_id: mid.clone(),
            machine_name: name.clone(),
            reason: reason.clone(),
            request_id: request_id.clone(),
            exp: (self.clock)() + ttl as i64,
        };
        let token = match confirm::seal(&c, key) {
            Ok(t) => t,
            Err(e) => return refuse(Some(mid.as_str()), Refusal::Seal(e.to_string())),
        };
        audit(
            Decision::Prompted,
            Some(tenant.as_str()),
            user,
            action.as_str(),
            Some(mid.as_str()),
            Some(&request_id),
            "",
        );
        Reply {
            text: format!(
                "*{}* `{}` (id `{mid}`)?\nReason: {}\nRequest `{request_id}` — this button expires in {} min.",
                capitalise(action.as_str()),
                untrusted(&name),
                untrusted(reason.as_str()),
                ttl.div_ceil(60)
            ),
            prompt: Some(Prompt {
                action: action.as_str().to_string(),
                machine_name: name,
                machine_id: mid.to_string(),
                reason: reason.as_str().to_string(),
                request_id,
                expires_in_s: ttl,
                token,
                approval: false,
                incident: false,
            }),
            replace_original: false,
            in_channel: false,
        }
    }

    /// `user` may take `action` in `tenant` (the tenant the policy gives them here: else `foreign`),
    /// and the tenant allows it.
    fn may_act(
        &self,
        origin: &Origin,
        user: &ChatUser,
        tenant: &TenantName,
        action: Action,
        foreign: Refusal,
    ) -> Result<(), Refusal> {
        match self.rbac.check(origin, user, Permission::Act(action)) {
            Ok(t) if t == *tenant => {}
            Ok(_) => return Err(foreign),
            Err(e) => return Err(Refusal::Policy(e)),
        }
        if !self.tenants.allows(tenant, action) {
            return Err(Refusal::TenantDisallows { tenant: tenant.clone(), action });
        }
        Ok(())
    }

    /// A confirm button press: open the token, check the presser, authorise again, claim it once.
    pub async fn accept(&self, token: &str, user: &ChatUser, origin: &Origin, keys: &[SecretString]) -> Accepted {
        let now = (self.clock)();
        let c: Confirmation = match open_audited(token, keys, now, user, "confirm") {
            Ok(c) => c,
            Err(why) => return Accepted::Refused(why),
        };
        let (tenant, mid, rid) = (Some(c.tenant.as_str()), Some(c.machine_id.as_str()), Some(c.request_id.as_str()));
        let who = Audited { tenant, user, action: &c.action, machine_id: mid, request_id: rid };
        let refuse = |why: Refusal| {
            audit_refusal(who, &why, "");
            Accepted::Refused(why)
        };
        if c.user_id != user.id {
            return refuse(Refusal::NotRequester { change: false });
        }
        let Ok(action) = c.action() else { return refuse(Refusal::UnknownAction) };
        // The policy may have changed since the prompt, and the token must be used where it was made.
        if let Err(why) = self.may_act(origin, user, &c.tenant, action, Refusal::ForeignConfirmation) {
            return refuse(why);
        }
        let key = format!("confirm:{}", c.request_id);
        let two = self.rbac.needs_two_person(&c.tenant, action);
        let state = if two { ClaimState::AwaitingApproval } else { ClaimState::Confirmed };
        let value = Claim::new(state, &user.id, now, confirm::digest(&c)).encode();
        match self.idempotency.put_if_absent(&key, &value, c.exp).await {
            Ok(None) if two => {
                audit(Decision::AwaitingApproval, tenant, user, &c.action, mid, rid, "two-person rule");
                Accepted::AwaitingApproval(Box::new(c))
            }
            Ok(None) => {
                audit(Decision::Confirmed, tenant, user, &c.action, mid, rid, "");
                Accepted::Go(Box::new(c))
            }
            Ok(Some(prev)) => taken_before(who, &prev, "confirmed").map_or_else(refuse, Accepted::Duplicate),
            Err(e) => refuse(Refusal::Store(e.to_string())),
        }
    }

    /// A second person's approval of a confirmed two-person action: open the token, refuse the
    /// requester, authorise the approver for the same action in the same tenant, require the
    /// requester's confirmation, claim the approval once.
    pub async fn approve(&self, token: &str, approver: &ChatUser, origin: &Origin, keys: &[SecretString]) -> Accepted {
        let now = (self.clock)();
        let c: Confirmation = match open_audited(token, keys, now, approver, "approve") {
            Ok(c) => c,
            Err(why) => return Accepted::Refused(why),
        };
        let (tenant, mid, rid) = (Some(c.tenant.as_str()), Some(c.machine_id.as_str()), Some(c.request_id.as_str()));
        let who = Audited { tenant, user: approver, action: &c.action, machine_id: mid, request_id: rid };
        let refuse = |why: Refusal| {
            audit_refusal(who, &why, "");
            Accepted::Refused(why)
        };
        let Ok(action) = c.action() else { return refuse(Refusal::UnknownAction) };
        if !self.rbac.needs_two_person(&c.tenant, action) {
            return refuse(Refusal::NoApprovalNeeded);
        }
        if c.user_id == approver.id {
            return refuse(Refusal::SelfApproval);
        }
        if let Err(why) = self.may_act(origin, approver, &c.tenant, action, Refusal::ForeignApproval) {
            return refuse(why);
        }
        let job = confirm::digest(&c);
        match self
            .idempotency
            .get(&format!("confirm:{}", c.request_id))
            .await
            .map(|v| v.as_deref().and_then(Claim::decode))
        {
            Ok(Some(cl)) if cl.state == ClaimState::Cancelled => return refuse(Refusal::Cancelled),
            Ok(Some(cl)) if cl.state == ClaimState::AwaitingApproval && cl.job == job && cl.by == c.user_id => {}
            Ok(_) => return refuse(Refusal::NotConfirmedByRequester),
            Err(e) => return refuse(Refusal::Store(e.to_string())),
        }
        let key = format!("approve:{}", c.request_id);
        let value = Claim::new(ClaimState::Approved, &approver.id, now, job).encode();
        match self.idempotency.put_if_absent(&key, &value, c.exp).await {
            Ok(None) => {
                audit(
                    Decision::Approved,
                    tenant,
                    approver,
                    &c.action,
                    mid,
                    rid,
                    &format!("requested by {}", c.user_id),
                );
                Accepted::Go(Box::new(c))
            }
            Ok(Some(prev)) => taken_before(who, &prev, "approved").map_or_else(refuse, Accepted::Duplicate),
            Err(e) => refuse(Refusal::Store(e.to_string())),
        }
    }

    /// The go-ahead of a machine action in Teams (a typed code or a card button): the second person's
    /// [`Safety::approve`] when `approve`, else the requester's [`Safety::accept`].
    pub async fn press(
        &self,
        approve: bool,
        token: &str,
        user: &ChatUser,
        origin: &Origin,
        keys: &[SecretString],
    ) -> Accepted {
        if approve {
            self.approve(token, user, origin, keys).await
        } else {
            self.accept(token, user, origin, keys).await
        }
    }

    /// Releases a claim whose hand-off failed (so the analyst can press again).
    pub async fn release(&self, c: &Confirmation, key: &str) {
        if let Err(e) = self.idempotency.remove(&format!("{key}:{}", c.request_id)).await {
            tracing::warn!(error = %e, request_id = %c.request_id, "could not release a claim");
        }
    }

    async fn claim(&self, key: &str) -> Result<Option<Claim>, Refusal> {
        match self.idempotency.get(key).await {
            Ok(None) => Ok(None),
            Ok(Some(v)) => Claim::decode(&v).map(Some).ok_or_else(|| Refusal::NotAClaim(key.to_string())),
            Err(e) => Err(Refusal::Store(e.to_string())),
        }
    }

    /// Re-derives, from the idempotency store alone, that this exact request was confirmed by its
    /// requester before it expired and, when it waits for a second person, approved by `approver`
    /// (and nobody else) before it expired. The queue message is not evidence of either.
    ///
    /// # Errors
    /// Why the job must not run.
    pub async fn verify_claims(&self, c: &Confirmation, approver: Option<&ChatUser>) -> Result<(), Refusal> {
        let job = confirm::digest(c);
        let Some(confirmed) = self.claim(&format!("confirm:{}", c.request_id)).await? else {
            return Err(Refusal::NoConfirmation);
        };
        if confirmed.job != job || confirmed.by != c.user_id {
            return Err(Refusal::ConfirmationMismatch);
        }
        if confirmed.at > c.exp {
            return Err(Refusal::ConfirmedLate);
        }
        match (confirmed.state, approver) {
            (ClaimState::Confirmed, None) => Ok(()),
            (ClaimState::Confirmed, Some(_)) => Err(Refusal::ApproverWithoutApproval),
            (ClaimState::AwaitingApproval, None) => Err(Refusal::ApprovalMissing),
            (ClaimState::AwaitingApproval, Some(a)) => {
                let Some(approved) = self.claim(&format!("approve:{}", c.request_id)).await? else {
                    return Err(Refusal::NoApproval);
                };
                if approved.state != ClaimState::Approved || approved.job != job {
                    return Err(Refusal::ApprovalMismatch);
                }
                if approved.by != a.id || a.id == c.user_id {
                    return Err(Refusal::WrongApprover);
                }
                if approved.at > c.exp {
                    return Err(Refusal::ApprovedLate);
                }
                Ok(())
            }
            (ClaimState::Cancelled, _) => Err(Refusal::Cancelled),
            (ClaimState::Approved, _) => Err(Refusal::MalformedClaim),
        }
    }

    /// A cancel button press (the button carries the prompt's sealed token): only the requester or,
    /// for a two-person action, a person who could approve it may cancel; the cancellation is
    /// claimed so the request can no longer be confirmed or approved. Refusals are audited.
    ///
    /// # Errors
    /// The refusal to show the presser.
    pub async fn cancel(
        &self,
        token: &str,
        user: &ChatUser,
        origin: &Origin,
        keys: &[SecretString],
    ) -> Result<String, Refusal> {
        let now = (self.clock)();
        let (tenant, requester, label, perm, rid, exp, job, two, mid) =
            match confirm::open::<Confirmation>(token, keys, now) {
                Ok(c) => {
                    let Ok(action) = c.action() else { return Err(Refusal::UnknownAction) };
                    let two = self.rbac.needs_two_person(&c.tenant, action);
                    let job = confirm::digest(&c);
                    let mid = Some(c.machine_id.to_string());
                    (c.tenant, c.user_id, c.action, Permission::Act(action), c.request_id, c.exp, job, two, mid)
                }
                Err(first) => match confirm::open::<ChangeConfirmation>(token, keys, now) {
                    Ok(c) => {
                        let job = confirm::digest(&c);
                        let change = changes::Change::parse(&c.command);
                        let Some(change) = change else { return Err(Refusal::UnknownChange) };
                        (
                            c.tenant,
                            c.user_id,
                            change.label().to_string(),
                            change.permission(),
                            c.request_id,
                            c.exp,
                            job,
                            false,
                            None,
                        )
                    }
                    Err(_) => {
                        let why = Refusal::NothingToCancel(first.to_string());
                        audit_refusal(Audited::user(user, "cancel"), &why, "");
                        return Err(why);
                    }
                },
            };
        let refuse = |why: Refusal| {
            let (tenant, request_id) = (Some(tenant.as_str()), Some(rid.as_str()));
            audit_refusal(Audited { tenant, user, action: "cancel", machine_id: mid.as_deref(), request_id }, &why, "");
            Err(why)
        };
        let may_approve = two && matches!(self.rbac.check(origin, user, perm), Ok(t) if t == tenant);
        if user.id != requester && !may_approve {
            return refuse(Refusal::NotRequesterOrApprover);
        }
        let claim = Claim::new(ClaimState::Cancelled, &user.id, now, job).encode();
        let done = |what: &str| {
            audit(Decision::Cancelled, Some(tenant.as_str()), user, &label, mid.as_deref(), Some(&rid), what);
            Ok("Cancelled; nothing was done.".to_string())
        };
        match self.idempotency.put_if_absent(&format!("confirm:{rid}"), &claim, exp).await {
            Ok(None) => return done("before confirmation"),
            Ok(Some(prev)) => match Claim::decode(&prev).map(|c| c.state) {
                Some(ClaimState::AwaitingApproval) => {}
                Some(ClaimState::Cancelled) => return Ok("Already cancelled; nothing was done.".to_string()),
                _ => return refuse(Refusal::AlreadyConfirmed),
            },
            Err(e) => return refuse(Refusal::Store(e.to_string())),
        }
        match self.idempotency.put_if_absent(&format!("approve:{rid}"), &claim, exp).await {
            Ok(None) => done("before approval"),
            Ok(Some(prev)) if cancelled(&prev) => Ok("Already cancelled; nothing was done.".to_string()),
            Ok(Some(_)) => refuse(Refusal::AlreadyApproved),
            Err(e) => refuse(Refusal::Store(e.to_string())),
        }
    }

    /// Runs a confirmed (and, under the two-person rule, approved) action exactly once.
    pub async fn execute(&self, ops: &dyn DefenderOps, c: &Confirmation, approver: Option<&ChatUser>) -> Executed {
        let user = ChatUser { id: c.user_id.clone(), name: c.user_name.clone() };
        let (tenant, mid, rid) = (Some(c.tenant.as_str()), Some(c.machine_id.as_str()), Some(c.request_id.as_str()));
        let who = Audited { tenant, user: &user, action: &c.action, machine_id: mid, request_id: rid };
        if let Err(why) = self.verify_claims(c, approver).await {
            audit_refusal(who, &why, "job refused: ");
            return Executed::Refused(why);
        }
        let key = format!("exec:{}", c.request_id);
        match self.idempotency.put_if_absent(&key, "running", c.exp).await {
            Ok(None) => {}
            Ok(Some(prev)) => {
                audit(Decision::Duplicate, tenant, &user, &c.action, mid, rid, &prev);
                return Executed::Duplicate(prev);
            }
            Err(e) => return Executed::Refused(Refusal::Store(e.to_string())),
        }
        let finish = |outcome: String| async move {
            if let Err(e) = self.idempotency.set(&key, &outcome).await {
                tracing::warn!(error = %e, "could not record an outcome");
            }
        };
        let Ok(action) = c.action() else { return Executed::Refused(Refusal::UnknownAction) };
        let refusal = 'check: {
            let state = match ops.machine_actions(&c.machine_id).await {
                Ok(a) => machine_state(&a),
                Err(e) => break 'check Some(Refusal::ActionsUnreadable(e.to_string())),
            };
            if let Some(conflict) = state_conflict(action, &state) {
                break 'check Some(Refusal::Conflict { machine: None, conflict });
            }
            if self.rbac.needs_two_person(&c.tenant, action) && approver.is_none_or(|a| a.id == c.user_id) {
                break 'check Some(Refusal::ApprovalMissing);
            }
            None
        };
        if let Some(why) = refusal {
            audit_refusal(who, &why, "");
            finish(format!("refused: {}", plain(&why.reason()))).await;
            return Executed::Refused(why);
        }
        match ops.act(action, &c.machine_id, &comment(c, approver)).await {
            Ok(a) => {
                audit(Decision::Executed, tenant, &user, &c.action, mid, rid, &format!("machine action {}", a.id));
                finish(format!("machine action {}", a.id)).await;
                Executed::Started(Box::new(a))
            }
            Err(e) => {
                let why = match e {
                    OpsError::AlreadyInProgress => e.to_string(),
                    _ => format!("{e} (not retried: check `/defender machine {}` first)", c.machine_id),
                };
                audit(Decision::Failed, tenant, &user, &c.action, mid, rid, &why);
                finish(format!("failed: {why}")).await;
                Executed::Failed(why)
            }
        }
    }
}

impl crate::thread::ChannelPolicy for Safety {
    fn may_post(&self, tenant: Option<&TenantName>, channel: &str) -> bool {
        tenant.is_some_and(|t| self.rbac.channel_serves(channel, t))
    }
}

/// `isolate` → `Isolate`.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// The machine id of a machine, when valid.
pub fn machine_id(m: &Machine) -> Option<&MachineId> {
    m.id.valid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn act(kind: &str, status: &str, at: &str) -> MachineAction {
        serde_json::from_value(json!({"id": uuid::Uuid::new_v4().to_string(), "type": kind, "status": status,
            "machineId": "bf44e1ec1d7163de5cf81d93982ed19d185f80d2", "creationDateTimeUtc": at,
            "lastUpdateDateTimeUtc": at}))
        .unwrap()
    }

    #[test]
    fn isolation_is_derived_from_the_latest_finished_action_and_pending_ones_block() {
        let s = machine_state(&[]);
        assert!(!s.isolated && s.pending.is_empty());
        assert_eq!(state_conflict(Action::Unisolate, &s).unwrap().to_string(), "the machine is not isolated");
        assert_eq!(state_conflict(Action::Isolate, &s), None);
        let iso = [act("Isolate", "Succeeded", "2026-01-01T00:00:00Z")];
        assert_eq!(
            state_conflict(Action::Isolate, &machine_state(&iso)).unwrap().to_string(),
            "the machine is already isolated"
        );
        let released = [act("Unisolate", "Succeeded", "2026-01-02T00:00:00Z"), iso[0].clone()];
        assert!(!machine_state(&released).isolated, "the later unisolate wins, whatever the list order");
        let failed = [iso[0].clone(), act("Unisolate", "Failed", "2026-01-03T00:00:00Z")];
        assert!(machine_state(&failed).isolated, "a failed unisolate changes nothing");
        let pending = [act("Isolate", "Pending", "2026-01-04T00:00:00Z")];
        assert!(
            state_conflict(Action::Isolate, &machine_state(&pending)).unwrap().to_string().contains("still pending")
        );
        assert!(
            state_conflict(Action::Unisolate, &machine_state(&pending)).unwrap().to_string().contains("still pending")
        );
        assert_eq!(state_conflict(Action::Scan, &machine_state(&pending)), None, "other kinds are independent");
        // Instants, not text: half a second later is later, whatever the digits or the offset.
        let late_iso = [
            act("Isolate", "Succeeded", "2026-01-05T00:00:00.5Z"),
            act("Unisolate", "Succeeded", "2026-01-05T00:00:00Z"),
        ];
        assert!(machine_state(&late_iso).isolated, "the isolate half a second later wins");
        let offset = [
            act("Unisolate", "Succeeded", "2026-01-05T01:30:00+02:00"),
            act("Isolate", "Succeeded", "2026-01-05T00:00:00.1234567Z"),
        ];
        assert!(machine_state(&offset).isolated, "01:30+02:00 is 23:30Z the day before");
        let scanning = [act("RunAntiVirusScan", "InProgress", "2026-01-04T00:00:00Z")];
        assert!(state_conflict(Action::Scan, &machine_state(&scanning)).is_some());
    }

    #[test]
    fn the_comment_names_user_and_request_without_control_characters() {
        let c = Confirmation {
            user_name: "road\nrunner".into(),
            machine_name: "ws".into(),
            request_id: "r-9".into(),
            ..crate::confirm::tests::sample(0)
        };
        assert_eq!(comment(&c, None), "isolate requested in chat by roadrunner (U1); request r-9; reason: c2 beacon");
        let second = ChatUser { id: "U2".parse().unwrap(), name: "wile\te".into() };
        assert_eq!(
            comment(&c, Some(&second)),
            "isolate requested in chat by roadrunner (U1), approved by wilee (U2); request r-9; reason: c2 beacon"
        );
    }
}
