//! Confirmed changes that are not machine actions: incident and alert updates, indicators submitted
//! (`block`) and removed (`unblock`). One path for all of them, the same as machine actions take:
//!
//! 1. **Prepare** ([`Safety::prepare_change`], in the worker, after the lookups the prompt shows): a
//!    [`ChangeConfirmation`] sealing the command's canonical words, answered as a prompt with a
//!    `confirm-incident` button (Slack), a typed code (Teams outgoing webhook) or a card — nothing is
//!    sent to Defender before it is confirmed.
//! 2. **Accept** ([`Safety::accept_incident`], in the callback): the token is opened (MAC, expiry),
//!    must be confirmed by its requester, the command's own permission ([`Permission::for_command`])
//!    is checked again where it was made, and `confirm:<request>` is claimed once in the idempotency
//!    store — concurrent presses and retries find the claim and do nothing.
//! 3. **Execute** ([`Safety::execute_change`], in the worker, from `Job::UpdateIncident`): the claim
//!    is re-derived from the store (the queue message is not evidence), `exec:<request>` is claimed
//!    once, the words are parsed again into a [`Change`] and the one Defender call is made.
//!
//! Every decision is an `audit` line ([`audit`]) under the change's label (`incident-update`,
//! `alert-update`, `block`, `unblock`).

use super::{
    Audited, Claim, ClaimState, Decision, IncidentAccepted, Safety, audit, audit_refusal, open_audited, taken_before,
};
use crate::{
    command::indicators::{BlockRequest, UnblockTarget},
    command::{AlertChange, ChatUser, Command, IncidentChange, Origin, Parsed, parse_text},
    config::Permission,
    confirm::{self, ChangeConfirmation},
    defender::{DefenderOps, OpsError},
    reply::{Prompt, Refusal, Reply, untrusted},
};
use defender_shared::{
    defender::models::{
        alerts::AlertUpdate,
        incidents::{IncidentStatus, IncidentUpdate},
        indicators::{Indicator, IndicatorId},
    },
    ids::{AlertId, IncidentId, TenantName},
    secret::SecretString,
};

/// A confirmable change, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An incident update.
    Incident(IncidentId, IncidentChange),
    /// An alert update.
    Alert(AlertId, AlertChange),
    /// An indicator to submit.
    Block(BlockRequest),
    /// An indicator to delete, by the id it was resolved to.
    Unblock(IndicatorId),
}

impl Change {
    /// The change a command asks for (`None`: not a change, or an `unblock` by value, which is
    /// resolved to an id first).
    pub fn from_command(cmd: &Command) -> Option<Self> {
        Some(match cmd {
            Command::UpdateIncident(id, c) => Self::Incident(*id, c.clone()),
            Command::UpdateAlert(id, c) => Self::Alert(id.clone(), c.clone()),
            Command::Block(b) => Self::Block(b.clone()),
            Command::Unblock(UnblockTarget::Id(id)) => Self::Unblock(id.clone()),
            _ => return None,
        })
    }

    /// Parses sealed command words back.
    pub fn parse(words: &str) -> Option<Self> {
        match parse_text(words) {
            Parsed::Command(c) => Self::from_command(&c),
            Parsed::Usage(_) => None,
        }
    }

    /// The canonical command words (`None`: a classification this code does not offer).
    pub fn words(&self) -> Option<String> {
        Some(match self {
            Self::Incident(id, c) => format!("incident {id} {}", super::change_words(c)?),
            Self::Alert(id, c) => format!("alert {id} {}", c.words()),
            Self::Block(b) => b.words(),
            Self::Unblock(id) => format!("unblock {}", id.as_str()),
        })
    }

    /// The command, typed (for its permission).
    pub fn command(&self) -> Command {
        match self {
            Self::Incident(id, c) => Command::UpdateIncident(*id, c.clone()),
            Self::Alert(id, c) => Command::UpdateAlert(id.clone(), c.clone()),
            Self::Block(b) => Command::Block(b.clone()),
            Self::Unblock(id) => Command::Unblock(UnblockTarget::Id(id.clone())),
        }
    }

    /// The permission it needs.
    pub fn permission(&self) -> Permission {
        match self {
            Self::Incident(..) => Permission::Incident,
            Self::Alert(..) => Permission::AlertUpdate,
            Self::Block(_) => Permission::Block,
            Self::Unblock(_) => Permission::Unblock,
        }
    }

    /// The audit label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Incident(..) => "incident-update",
            Self::Alert(..) => "alert-update",
            Self::Block(_) => "block",
            Self::Unblock(_) => "unblock",
        }
    }

    /// The short verb on the confirm button.
    fn verb(&self) -> String {
        match self {
            Self::Incident(_, c) => super::change_words(c).unwrap_or_default(),
            Self::Alert(_, c) => c.words(),
            Self::Block(b) => b.action.as_str().to_string(),
            Self::Unblock(_) => "unblock".to_string(),
        }
    }

    /// What is changed (the Slack confirm dialog's subject) and its id.
    fn subject(&self) -> (String, String) {
        match self {
            Self::Incident(id, _) => (format!("incident {id}"), id.to_string()),
            Self::Alert(id, _) => (format!("alert {id}"), id.to_string()),
            Self::Block(b) => (format!("indicator {}", b.value.value()), b.value.indicator_type().as_str().into()),
            Self::Unblock(id) => (format!("indicator {}", id.as_str()), id.as_str().to_string()),
        }
    }
}

/// What the prompt of a change shows: a heading (`*Incident* `42` name`) and the change's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The first line's subject, untrusted text marked.
    pub heading: String,
    /// The change as the answers name it (sealed), untrusted text marked.
    pub summary: String,
    /// More lines (the reason, the indicator it updates), untrusted text marked.
    pub detail: Vec<String>,
}

/// The audit label of a change command (before it is resolved).
pub fn label_of(cmd: &Command) -> &'static str {
    match cmd {
        Command::UpdateIncident(..) => "incident-update",
        Command::UpdateAlert(..) => "alert-update",
        Command::Block(_) => "block",
        Command::Unblock(_) => "unblock",
        _ => "change",
    }
}

fn indicator_line(i: &Indicator) -> String {
    format!(
        "{} `{}` · *{}* · expires {} · {}",
        untrusted(i.indicator_type.as_ref().map(|t| t.as_str().to_string()).unwrap_or_else(|| "-".into())),
        untrusted(i.indicator_value.as_deref().unwrap_or("-")),
        untrusted(i.action.as_ref().map(|t| t.as_str().to_string()).unwrap_or_else(|| "-".into())),
        untrusted(i.expiration_time.as_ref().map(|t| t.as_str().to_string()).unwrap_or_else(|| "never".into())),
        untrusted(i.title.as_deref().unwrap_or("-")),
    )
}

/// The lookups a change's prompt shows, and the change resolved (an `unblock` by value becomes the
/// one indicator it matches exactly). Reads only.
///
/// # Errors
/// The message for the user (not found, ambiguous, Defender unavailable): nothing is prompted.
pub async fn shown(ops: &dyn DefenderOps, cmd: &Command) -> Result<(Change, Shown), String> {
    match cmd {
        Command::UpdateIncident(id, c) => {
            let i = match ops.incident(*id).await {
                Ok(Some(i)) => i,
                Ok(None) => return Err(format!("No incident `{id}`.")),
                Err(e) => return Err(format!("Could not read incident `{id}`: {e}")),
            };
            let words = super::change_words(c).ok_or_else(|| Refusal::UnknownChange.text())?;
            Ok((
                Change::Incident(*id, c.clone()),
                Shown {
                    heading: format!("*Incident* `{id}` {}", untrusted(i.incident_name.as_deref().unwrap_or("-"))),
                    summary: format!("incident `{id}` {}", untrusted(words)),
                    detail: Vec::new(),
                },
            ))
        }
        Command::UpdateAlert(id, c) => {
            let a = match ops.alert(id).await {
                Ok(Some(a)) => a,
                Ok(None) => return Err(format!("No alert `{}`.", untrusted(id.to_string()))),
                Err(e) => return Err(format!("Could not read alert `{}`: {e}", untrusted(id.to_string()))),
            };
            Ok((
                Change::Alert(id.clone(), c.clone()),
                Shown {
                    heading: format!(
                        "*Alert* `{}` {}",
                        untrusted(id.to_string()),
                        untrusted(a.title.as_deref().unwrap_or("-"))
                    ),
                    summary: format!("alert `{}` {}", untrusted(id.to_string()), untrusted(c.words())),
                    detail: vec![format!(
                        "Now: status {} · classification {} · assigned to {}",
                        untrusted(a.status.as_ref().map(|s| s.as_str().to_string()).unwrap_or_else(|| "-".into())),
                        untrusted(
                            a.classification.as_ref().map(|s| s.as_str().to_string()).unwrap_or_else(|| "-".into())
                        ),
                        untrusted(a.assigned_to.as_deref().unwrap_or("-")),
                    )],
                },
            ))
        }
        Command::Block(b) => {
            let existing = ops
                .indicators_by_value(&b.value)
                .await
                .map_err(|e| format!("Could not check the existing indicators: {e}"))?;
            let action = b.action.api_action(&b.value)?;
            let kind = b.value.indicator_type();
            let mut detail = vec![
                format!("Reason: {}", untrusted(b.reason.as_str())),
                format!("Defender action *{}*, expires after {}.", action.as_str(), b.expiry),
            ];
            for i in &existing {
                detail.push(format!(
                    "This replaces indicator `{}`: {}",
                    untrusted(i.id.to_string()),
                    indicator_line(i)
                ));
            }
            Ok((
                Change::Block(b.clone()),
                Shown {
                    heading: format!("*Block* {} `{}`", kind.as_str(), untrusted(b.value.value())),
                    summary: format!(
                        "{} {} `{}` for {}",
                        b.action.as_str(),
                        kind.as_str(),
                        untrusted(b.value.value()),
                        b.expiry
                    ),
                    detail,
                },
            ))
        }
        Command::Unblock(UnblockTarget::Id(id)) => Ok((
            Change::Unblock(id.clone()),
            Shown {
                heading: format!("*Unblock* indicator `{}`", id.as_str()),
                summary: format!("unblock indicator `{}`", id.as_str()),
                detail: Vec::new(),
            },
        )),
        Command::Unblock(UnblockTarget::Value(v)) => {
            let found =
                ops.indicators_by_value(v).await.map_err(|e| format!("Could not look up the indicator: {e}"))?;
            let shown = untrusted(v.value());
            match found.as_slice() {
                [] => Err(format!(
                    "No indicator is `{shown}` ({}) exactly (an app granted Ti.ReadWrite sees only the ones it created).",
                    v.indicator_type().as_str()
                )),
                [one] => {
                    let Some(id) = one.id.valid().cloned() else {
                        return Err("The indicator's id is malformed.".into());
                    };
                    Ok((
                        Change::Unblock(id.clone()),
                        Shown {
                            heading: format!("*Unblock* indicator `{}`", id.as_str()),
                            summary: format!("unblock indicator `{}` ({shown})", id.as_str()),
                            detail: vec![indicator_line(one)],
                        },
                    ))
                }
                many => Err(format!(
                    "{} indicators are `{shown}`: {}; use the id.",
                    many.len(),
                    many.iter().map(|i| format!("`{}`", untrusted(i.id.to_string()))).collect::<Vec<_>>().join(", ")
                )),
            }
        }
        _ => Err("Refused: not a change.".into()),
    }
}

fn clean(name: &str) -> String {
    name.chars().filter(|ch| !ch.is_control()).take(80).collect()
}

impl Safety {
    /// The confirmation prompt of an authorised change (the caller did the lookups it shows).
    pub fn prepare_change(
        &self,
        tenant: &TenantName,
        user: &ChatUser,
        change: &Change,
        shown: Shown,
        key: &SecretString,
    ) -> Reply {
        let request_id = uuid::Uuid::new_v4().to_string();
        let Some(command) = change.words() else { return Reply::refused(&Refusal::UnknownChange) };
        let ttl = self.confirm_ttl.as_secs();
        let c = ChangeConfirmation {
            v: 1,
            tenant: tenant.clone(),
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            command,
            summary: shown.summary.clone(),
            request_id: request_id.clone(),
            exp: (self.clock)() + ttl as i64,
        };
        let token = match confirm::seal(&c, key) {
            Ok(t) => t,
            Err(e) => return Reply::refused(&Refusal::Seal(e.to_string())),
        };
        let label = change.label();
        audit(
            Decision::Prompted,
            Some(tenant.as_str()),
            user,
            label,
            None,
            Some(&request_id),
            &crate::reply::plain(&shown.summary),
        );
        let verb = change.verb();
        let (subject, id) = change.subject();
        let mut lines = vec![format!("{}: *{}*?", shown.heading, untrusted(&verb))];
        lines.extend(shown.detail);
        lines.push(format!("Asked by {}.", untrusted(&user.name)));
        lines.push(format!("Request `{request_id}` — this button expires in {} min.", ttl.div_ceil(60)));
        // Slack caps a button's text at 75 characters: the button says the verb, the text says all.
        let button: String = verb.split_whitespace().take(3).collect::<Vec<_>>().join(" ").chars().take(40).collect();
        let button =
            if button.contains('@') { verb.split_whitespace().next().unwrap_or("change").to_string() } else { button };
        Reply {
            text: lines.join("\n"),
            prompt: Some(Prompt {
                action: button,
                machine_name: subject,
                machine_id: id,
                reason: String::new(),
                request_id,
                expires_in_s: ttl,
                token,
                approval: false,
                incident: true,
            }),
            replace_original: false,
            in_channel: false,
        }
    }

    /// A confirmation of a change (incident, alert, indicator): open the token, only its requester,
    /// the change's own permission checked again where it was made, claimed once. (The name is the
    /// one the incident changes, the first kind, had.)
    pub async fn accept_incident(
        &self,
        token: &str,
        user: &ChatUser,
        origin: &Origin,
        keys: &[SecretString],
    ) -> IncidentAccepted {
        let now = (self.clock)();
        let c: ChangeConfirmation = match open_audited(token, keys, now, user, "change") {
            Ok(c) => c,
            Err(why) => return IncidentAccepted::Refused(why),
        };
        let (tenant, rid) = (Some(c.tenant.as_str()), Some(c.request_id.as_str()));
        let who = |action| Audited { tenant, user, action, machine_id: None, request_id: rid };
        let Some(change) = Change::parse(&c.command) else {
            audit_refusal(who("change"), &Refusal::UnknownChange, "");
            return IncidentAccepted::Refused(Refusal::UnknownChange);
        };
        let label = change.label();
        let refuse = |why: Refusal| {
            audit_refusal(who(label), &why, "");
            IncidentAccepted::Refused(why)
        };
        if c.user_id != user.id {
            return refuse(Refusal::NotRequester { change: true });
        }
        match self.rbac.check(origin, user, change.permission()) {
            Ok(t) if t == c.tenant => {}
            Ok(_) => return refuse(Refusal::ForeignConfirmation),
            Err(e) => return refuse(Refusal::Policy(e)),
        }
        let value = Claim::new(ClaimState::Confirmed, &user.id, now, confirm::digest(&c)).encode();
        match self.idempotency.put_if_absent(&format!("confirm:{}", c.request_id), &value, c.exp).await {
            Ok(None) => {
                audit(Decision::Confirmed, tenant, user, label, None, rid, &crate::reply::plain(&c.summary));
                IncidentAccepted::Go(Box::new(c))
            }
            Ok(Some(prev)) => {
                taken_before(who(label), &prev, "confirmed").map_or_else(refuse, IncidentAccepted::Duplicate)
            }
            Err(e) => refuse(Refusal::Store(e.to_string())),
        }
    }

    /// Runs a confirmed change once: the confirmation re-derived from the store, then an `exec:`
    /// claim, then the one Defender call (naming the chat user and the request). Answers the text to
    /// show.
    ///
    /// # Errors
    /// The message to answer (refused, duplicate or failed).
    pub async fn execute_change(&self, ops: &dyn DefenderOps, c: &ChangeConfirmation) -> Result<String, String> {
        let user = ChatUser { id: c.user_id.clone(), name: c.user_name.clone() };
        let (tenant, rid) = (Some(c.tenant.as_str()), Some(c.request_id.as_str()));
        let change = Change::parse(&c.command);
        let label = change.as_ref().map_or("change", Change::label);
        let refuse = |why: Refusal| {
            let who = Audited { tenant, user: &user, action: label, machine_id: None, request_id: rid };
            audit_refusal(who, &why, "job refused: ");
            Err(format!("refused — {}", why.reason()))
        };
        let key = format!("confirm:{}", c.request_id);
        let confirmed = match self.idempotency.get(&key).await {
            Ok(Some(v)) => match Claim::decode(&v) {
                Some(cl) => cl,
                None => return refuse(Refusal::NotAClaim(key)),
            },
            Ok(None) => return refuse(Refusal::NoConfirmation),
            Err(e) => return refuse(Refusal::Store(e.to_string())),
        };
        if confirmed.state != ClaimState::Confirmed || confirmed.job != confirm::digest(c) || confirmed.by != c.user_id
        {
            return refuse(Refusal::ConfirmationMismatch);
        }
        if confirmed.at > c.exp {
            return refuse(Refusal::ConfirmedLate);
        }
        let Some(change) = change else { return refuse(Refusal::UnknownChange) };
        let key = format!("exec:{}", c.request_id);
        match self.idempotency.put_if_absent(&key, "running", c.exp).await {
            Ok(None) => {}
            Ok(Some(prev)) => {
                audit(Decision::Duplicate, tenant, &user, label, None, rid, &prev);
                return Err(format!("request `{}` was already handled ({prev})", c.request_id));
            }
            Err(e) => return refuse(Refusal::Store(e.to_string())),
        }
        let note = format!("changed in chat by {} ({}); request {}", clean(&c.user_name), c.user_id, c.request_id);
        let outcome = self.run_change(ops, c, &change, note).await;
        let (decision, detail) = match &outcome {
            Ok(_) => (Decision::Executed, crate::reply::plain(&c.summary)),
            Err(e) => (Decision::Failed, e.clone()),
        };
        audit(decision, tenant, &user, label, None, rid, &detail);
        if let Err(e) = self.idempotency.set(&key, &format!("{}: {detail}", decision.as_str())).await {
            tracing::warn!(error = %e, "could not record an outcome");
        }
        outcome.map_err(|e| format!("failed — {e}"))
    }

    async fn run_change(
        &self,
        ops: &dyn DefenderOps,
        c: &ChangeConfirmation,
        change: &Change,
        note: String,
    ) -> Result<String, String> {
        let service = |e: OpsError| e.to_string();
        match change {
            Change::Incident(id, ch) => {
                let mut u = IncidentUpdate { comment: Some(note), ..IncidentUpdate::default() };
                match ch {
                    IncidentChange::Assign(upn) => u.assigned_to = Some(upn.as_str().to_string()),
                    IncidentChange::Resolve => u.status = Some(IncidentStatus::Resolved),
                    IncidentChange::Classify(cl) => u.classification = Some(cl.clone()),
                }
                let i = ops.update_incident(*id, &u).await.map_err(service)?;
                Ok(crate::reply::incident_text(&i))
            }
            Change::Alert(id, ch) => {
                let mut u = AlertUpdate {
                    status: None,
                    assigned_to: None,
                    classification: None,
                    determination: None,
                    comment: Some(note),
                };
                match ch {
                    AlertChange::Status(s) => u.status = Some(s.clone()),
                    AlertChange::Classify(cl, d) => {
                        u.classification = Some(cl.clone());
                        u.determination = d.clone();
                    }
                    AlertChange::Assign(upn) => u.assigned_to = Some(upn.as_str().to_string()),
                }
                let a = ops.update_alert(id, &u).await.map_err(service)?;
                Ok(crate::reply::alert_text(&a))
            }
            Change::Block(b) => {
                let now = chrono::DateTime::from_timestamp((self.clock)(), 0).unwrap_or_default();
                let req = b.submit(&c.user_name, c.user_id.as_str(), &c.request_id, now)?;
                let i = ops.submit_indicator(&req).await.map_err(service)?;
                Ok(format!(
                    "Indicator `{}`: {} `{}` — *{}* until {}.",
                    untrusted(i.id.to_string()),
                    req.indicator_type.as_str(),
                    untrusted(&req.indicator_value),
                    req.action.as_str(),
                    req.expiration_time.as_ref().map(|t| t.as_str().to_string()).unwrap_or_else(|| "-".into())
                ))
            }
            Change::Unblock(id) => match ops.delete_indicator(id).await.map_err(service)? {
                true => Ok(format!("Indicator `{}` removed.", id.as_str())),
                false => Err(format!("Defender knows no indicator `{}` (already removed?)", id.as_str())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_round_trips_through_its_words() {
        for words in [
            "incident 42 resolve",
            "incident 42 assign alice@contoso.com",
            "incident 42 classify fp",
            "alert da637_-88 status inprogress",
            "alert da637_-88 classify tp Malware",
            "alert da637_-88 assign bob@contoso.com",
            "block 45.137.21.9 block 30d c2 server",
            "block evil.example warn 12h phishing lure",
            "unblock 8030",
        ] {
            let c = Change::parse(words).unwrap_or_else(|| panic!("{words}"));
            assert_eq!(c.words().as_deref(), Some(words));
            assert_eq!(Some(c.permission()), Permission::for_command(&c.command()), "{words}");
        }
        assert_eq!(Change::parse("unblock 45.137.21.9"), None, "a value is resolved to an id before it is sealed");
        assert_eq!(Change::parse("isolate ws-1 reason here"), None);
    }
}
