//! What the functions say back, independent of the chat system, and its Slack and Teams renderings.
//!
//! # Untrusted text
//! Text the functions do not control — what an endpoint reports (machine names, alert titles,
//! hunting rows, file paths), incident fields, chat display names and a requester's reason — is
//! marked where it enters a reply with [`untrusted`] and escaped when the reply is rendered, with
//! one function per format: [`escape_slack`] (Slack's `&`, `<`, `>`, so `<https://evil|Open in
//! Defender>` is shown as typed, never as a link) and [`escape_teams`] (HTML and Markdown: entities
//! for `&`, `<`, `>`, quotes and the Markdown characters, so neither a tag nor `[text](url)` is
//! formed). The marks are private-use characters, removed from the untrusted text itself first, so
//! it cannot close its own span.

use crate::{
    config::Denied,
    history::{Conflict, SHOWN, machine_state, newest_first},
};
use defender_shared::{
    defender::models::{
        actions::{ActionStatus, MachineAction},
        alerts::Alert,
        hunting::HuntingResponse,
        incidents::Incident,
        machines::Machine,
    },
    ids::{ActionId, AlertId, IncidentId, MachineId, TenantName},
    tenants::Action,
};
use serde_json::{Value, json};
use std::fmt::Display;

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// Marks text the functions do not control, to be escaped by the renderer of each format.
pub fn untrusted(s: impl AsRef<str>) -> String {
    let inner: String = s.as_ref().chars().filter(|c| *c != OPEN && *c != CLOSE).collect();
    format!("{OPEN}{inner}{CLOSE}")
}

/// Escapes text for Slack mrkdwn (and the `text` of a message): `&`, `<`, `>` as Slack documents.
pub fn escape_slack(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a Teams message (Markdown with HTML): numeric entities for the HTML characters
/// (`&`, `<`, `>`, quotes) and for the Markdown characters that form a link or an image (`[`, `]`,
/// `(`, `)`), close a code span (`` ` ``), escape (`\`) or emphasise (`*`); an entity is shown as its
/// character and never parsed as syntax. (`_` is left: ids and host names hold it, and it forms no
/// link.)
pub fn escape_teams(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' | '<' | '>' | '"' | '\'' | '\\' | '`' | '*' | '[' | ']' | '(' | ')' => {
                out.push_str(&format!("&#{};", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Renders a reply text: marked spans through `escape`, the rest as written.
fn render(text: &str, escape: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let (inner, next) = match after.find(CLOSE) {
            Some(end) => (&after[..end], &after[end + CLOSE.len_utf8()..]),
            None => (after, ""),
        };
        out.push_str(&escape(inner));
        rest = next;
    }
    out.push_str(&rest.replace(CLOSE, ""));
    out
}

/// The text as `(untrusted, piece)` pieces, marks removed: for renderers of other formats (the
/// Adaptive Cards of [`crate::cards`]).
pub fn segments(text: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push((false, rest[..start].replace(CLOSE, "")));
        let after = &rest[start + OPEN.len_utf8()..];
        let (inner, next) = match after.find(CLOSE) {
            Some(end) => (&after[..end], &after[end + CLOSE.len_utf8()..]),
            None => (after, ""),
        };
        out.push((true, inner.to_string()));
        rest = next;
    }
    out.push((false, rest.replace(CLOSE, "")));
    out.retain(|(_, s)| !s.is_empty());
    out
}

/// The reply text without marks and unescaped (plain-text fields, logs, tests).
pub fn plain(text: &str) -> String {
    text.chars().filter(|c| *c != OPEN && *c != CLOSE).collect()
}

/// The buttons of a prompt: Slack's `action_id` and the Adaptive Card's `verb` are these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    /// Confirm a machine action (the requester).
    Confirm,
    /// Approve a machine action under the two-person rule (another authorised user).
    Approve,
    /// Confirm a change that is not a machine action (incident, alert, indicator).
    ConfirmChange,
    /// Cancel the pending request (the requester or an approver).
    Cancel,
}

impl ButtonAction {
    /// The name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Approve => "approve",
            Self::ConfirmChange => "confirm-incident",
            Self::Cancel => "cancel",
        }
    }

    /// The button a pressed `action_id`/`verb` names (`None`: not ours; nothing is done).
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Confirm, Self::Approve, Self::ConfirmChange, Self::Cancel].into_iter().find(|b| b.as_str() == name)
    }

    /// The button that goes ahead with `p`.
    pub const fn go_ahead(p: &Prompt) -> Self {
        match (p.approval, p.incident) {
            (true, _) => Self::Approve,
            (false, true) => Self::ConfirmChange,
            (false, false) => Self::Confirm,
        }
    }
}

/// A confirmation prompt: the machine's name and id, the action and reason, and the sealed token the
/// confirm button carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// `isolate`, ...
    pub action: String,
    /// The machine's host name.
    pub machine_name: String,
    /// The machine's id.
    pub machine_id: String,
    /// Why.
    pub reason: String,
    /// The request id.
    pub request_id: String,
    /// Seconds until the button expires.
    pub expires_in_s: u64,
    /// The sealed confirmation token.
    pub token: String,
    /// A second person's approval (an `approve` button in the channel), not the requester's confirm.
    pub approval: bool,
    /// An incident change (`confirm-incident` button), not a machine action.
    pub incident: bool,
}

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The message (Slack mrkdwn subset: `*bold*`, `` `code` ``).
    pub text: String,
    /// A confirmation to ask for.
    pub prompt: Option<Prompt>,
    /// Replace the message the button was on (Slack).
    pub replace_original: bool,
    /// Shown to the channel (`in_channel`), not only to the requester: a second person must see an
    /// approval request.
    pub in_channel: bool,
}

impl Reply {
    /// A plain message.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), prompt: None, replace_original: false, in_channel: false }
    }

    /// A message replacing the one the button was on.
    pub fn replacing(text: impl Into<String>) -> Self {
        Self { text: text.into(), prompt: None, replace_original: true, in_channel: false }
    }

    /// This reply, replacing the message the button was on.
    #[must_use]
    pub fn replacing_original(self) -> Self {
        Self { replace_original: true, ..self }
    }

    /// Slack's message JSON (ephemeral — only the requester sees it — unless `in_channel`).
    pub fn to_slack(&self) -> Value {
        let kind = if self.in_channel { "in_channel" } else { "ephemeral" };
        let text = self.slack_text();
        let mut v = json!({"response_type": kind, "text": text});
        if self.replace_original {
            v["replace_original"] = json!(true);
        }
        if let Some(p) = &self.prompt {
            let button = ButtonAction::go_ahead(p);
            let id = button.as_str();
            let verb = if button == ButtonAction::Approve { "Approve" } else { "Confirm" };
            v["blocks"] = json!([
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "actions", "block_id": format!("{id}-{}", p.request_id), "elements": [
                    {"type": "button", "action_id": id, "style": "danger", "value": p.token,
                     "text": {"type": "plain_text", "text": plain(&format!("{verb} {}", p.action))},
                     "confirm": {"title": {"type": "plain_text", "text": "Are you sure?"},
                                 "text": {"type": "plain_text",
                                          "text": plain(&format!("{} {} ({})", p.action, p.machine_name, p.machine_id))},
                                 "confirm": {"type": "plain_text", "text": "Yes"},
                                 "deny": {"type": "plain_text", "text": "No"}}},
                    // The cancel button carries the token: only the requester or an approver may cancel.
                    {"type": "button", "action_id": ButtonAction::Cancel.as_str(), "value": p.token,
                     "text": {"type": "plain_text", "text": "Cancel"}}
                ]}
            ]);
        }
        v
    }

    /// The text as Slack mrkdwn, untrusted spans escaped.
    pub fn slack_text(&self) -> String {
        render(&self.text, escape_slack)
    }

    /// The text as Teams Markdown, untrusted spans escaped.
    pub fn teams_text(&self) -> String {
        render(&self.text, escape_teams).replace('\n', "<br>")
    }

    /// A Teams outgoing-webhook reply (a message activity).
    pub fn to_teams(&self) -> Value {
        json!({"type": "message", "text": self.teams_text()})
    }
}

// ---------------------------------------------------------------------------------------------
// The lookups' replies
// ---------------------------------------------------------------------------------------------

/// The reply when no signing secret can be read (nothing can be sealed).
pub const NO_SIGNING_SECRET: &str = "The signing secret is unavailable.";
/// Defender answered a machine whose id is not a machine id.
pub const MALFORMED_MACHINE_ID: &str = "The machine id is malformed.";
/// `link` typed where only Slack's slash command can run it.
pub const LINK_IN_SLACK: &str = "Use `/defender link` in Slack: the sign-in code is posted to you there.";
/// A typed `confirm` outside Teams.
pub const CONFIRM_WITH_BUTTON: &str = "Confirm with the prompt's button (typed codes are for Teams).";

fn opt(v: Option<impl Display>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// A confirmed machine action Defender accepted (replacing the prompt): `what` names the action and
/// the machine, `context` whose identity ran it, `note` where the outcome will be posted.
pub fn started(
    what: &str,
    action_id: &ActionId,
    status: Option<&ActionStatus>,
    context: &str,
    request_id: &str,
    note: &str,
) -> Reply {
    Reply::replacing(format!(
        "{what}: accepted by Defender — action `{action_id}`, status *{}*, {context}. Request `{request_id}`. {note}",
        opt(status),
    ))
}

/// Linking is off: actions run in the app's context.
pub const LINKING_OFF: &str = "Linking is not configured here: actions run in the app's context, naming you.";
/// The device code expired unused.
pub const LINK_EXPIRED: &str =
    "Not linked: the sign-in code expired before it was used. Run `/defender link` again for a new one.";

/// The device code to enter (`reused`: a sign-in already waiting), valid `left` more minutes.
pub fn link_code(reused: bool, uri: &str, code: &str, left: i64) -> Reply {
    Reply::text(if reused {
        format!("Your sign-in is still waiting: open {uri} and enter the code `{code}` (valid {left} more min).")
    } else {
        format!("To link your Entra identity, open {uri} and enter the code `{code}` (valid {left} min).")
    })
}

/// The sign-in finished: who the user's actions now run as.
pub fn linked(tenant: &TenantName, user: Option<&str>) -> Reply {
    Reply::text(format!(
        "Linked: your machine actions in '{tenant}' now run as {}.",
        user.unwrap_or("your Entra identity")
    ))
}

/// The sign-in could not be started or finished.
pub fn not_linked(e: &impl Display) -> Reply {
    Reply::text(format!("Not linked: {e}."))
}

/// Someone other than the chat user signed in: nothing was stored.
pub fn link_refused(why: &impl Display) -> Reply {
    Reply::text(format!(
        "Not linked: {why}. Nothing was stored. Run `/defender link` again and sign in as yourself, \
         or ask an administrator to map your chat account."
    ))
}

/// A command that did not parse: why, then the usage.
pub fn usage_because(why: &str) -> Reply {
    Reply::text(format!("{why}\n{}", crate::command::usage()))
}

/// A refusal replacing the message the button was on.
pub fn replacing(why: &Refusal) -> Reply {
    Reply::refused(why).replacing_original()
}

/// A tenant the registry does not know.
pub fn unknown_tenant(tenant: &TenantName) -> Reply {
    Reply::text(format!("Unknown tenant '{tenant}'."))
}

/// `/defender alert <id>`: the alert, or that there is none, or why it could not be read.
pub fn alert(id: &AlertId, found: Result<Option<Alert>, impl Display>) -> Reply {
    Reply::text(match found {
        Ok(Some(a)) => alert_text(&a),
        Ok(None) => format!("No alert `{id}`."),
        Err(e) => format!("Could not read alert `{id}`: {e}"),
    })
}

/// `/defender incident <id>`.
pub fn incident(id: IncidentId, found: Result<Option<Incident>, impl Display>) -> Reply {
    Reply::text(match found {
        Ok(Some(i)) => incident_text(&i),
        Ok(None) => format!("No incident `{id}`."),
        Err(e) => format!("Could not read incident `{id}`: {e}"),
    })
}

/// `/defender status <action id>`.
pub fn action_status(id: &ActionId, found: Result<Option<MachineAction>, impl Display>) -> Reply {
    Reply::text(match found {
        Ok(Some(a)) => action_text(&a),
        Ok(None) => format!("No machine action `{id}`."),
        Err(e) => format!("Could not read action `{id}`: {e}"),
    })
}

/// `/defender actions <machine>`: its recent actions, newest first.
pub fn history(name: &str, id: &MachineId, found: Result<Vec<MachineAction>, impl Display>) -> Reply {
    Reply::text(match found {
        Ok(list) => history_text(name, id.as_str(), list),
        Err(e) => format!("Could not read the actions of `{}`: {e}", untrusted(name)),
    })
}

/// `/defender hunt <name>`: the row count and the first ten rows.
pub fn hunt(name: &str, found: Result<HuntingResponse, impl Display>) -> Reply {
    Reply::text(match found {
        Ok(r) => {
            let rows = r.results.unwrap_or_default();
            let mut lines = vec![format!("*Hunt* `{name}`: {} row(s)", rows.len())];
            for row in rows.iter().take(10) {
                lines.push(format!("  – {}", untrusted(serde_json::to_string(row).unwrap_or_default())));
            }
            lines.join("\n")
        }
        Err(e) => format!("Hunt `{name}` failed: {e}"),
    })
}

/// The reply to `/defender actions`: the newest [`SHOWN`] actions, one line each.
pub fn history_text(name: &str, id: &str, actions: Vec<MachineAction>) -> String {
    let total = actions.len();
    let actions = newest_first(actions);
    let mut lines = vec![format!("*Actions on* `{}` (id `{id}`): {total}", untrusted(name))];
    for a in actions.iter().take(SHOWN) {
        lines.push(format!(
            "  – {} · {} · *{}* · by {} · `{}`",
            untrusted(opt(a.creation_date_time_utc.as_ref().map(|t| t.as_str().to_string()))),
            untrusted(opt(a.kind.as_ref())),
            untrusted(opt(a.status.as_ref())),
            untrusted(opt(a.requestor.as_ref())),
            untrusted(a.id.to_string()),
        ));
    }
    if total > SHOWN {
        lines.push(format!("  … and {} older", total - SHOWN));
    }
    lines.join("\n")
}

/// The reply to `/defender machine`: the machine's facts, its isolation and pending actions (from its
/// action history, or why that is unavailable) and its first five alerts (or why they are unavailable).
pub fn machine_text(
    m: &Machine,
    id: &MachineId,
    actions: Result<&[MachineAction], String>,
    alerts: Result<&[Alert], String>,
) -> String {
    let state = actions.map(machine_state);
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
                    format!(
                        "  – `{}` {} ({})",
                        untrusted(a.id.to_string()),
                        untrusted(opt(a.title.as_ref())),
                        untrusted(opt(a.severity.as_ref()))
                    )
                })
                .collect();
            lines.insert(0, format!("Alerts: {}", list.len()));
            lines.join("\n")
        }
        Err(e) => format!("Alerts: unavailable ({e})"),
    };
    format!(
        "*{}* (id `{id}`)\nOS: {} · health: {} · risk: {} · exposure: {} · last seen: {} · IP: {}\n\
         Isolation: {isolation} · pending actions: {pending}\n{alerts}",
        untrusted(opt(m.computer_dns_name.as_ref())),
        untrusted(opt(m.os_platform.as_ref())),
        untrusted(opt(m.health_status.as_ref())),
        untrusted(opt(m.risk_score.as_ref())),
        untrusted(opt(m.exposure_level.as_ref())),
        untrusted(opt(m.last_seen.as_ref().map(|t| t.as_str().to_string()))),
        untrusted(opt(m.last_ip_address.as_ref())),
    )
}

/// The reply to `/defender alert`.
pub fn alert_text(a: &Alert) -> String {
    format!(
        "*Alert* `{}`: {}\nSeverity: {} · status: {} · category: {} · incident: {} · machine: {}",
        untrusted(a.id.to_string()),
        untrusted(opt(a.title.as_ref())),
        untrusted(opt(a.severity.as_ref())),
        untrusted(opt(a.status.as_ref())),
        untrusted(opt(a.category.as_ref())),
        untrusted(opt(a.incident_id)),
        untrusted(opt(a.computer_dns_name.as_ref())),
    )
}

/// The reply to `/defender status`: one machine action.
pub fn action_text(a: &MachineAction) -> String {
    format!(
        "Action `{}`: {} on `{}` — *{}* (by {}, updated {})",
        untrusted(a.id.to_string()),
        untrusted(opt(a.kind.as_ref())),
        untrusted(opt(a.computer_dns_name.as_ref())),
        untrusted(opt(a.status.as_ref())),
        untrusted(opt(a.requestor.as_ref())),
        untrusted(opt(a.last_update().map(|t| t.as_str().to_string()))),
    )
}

/// The reply to `/defender incident` (and after an incident change).
pub fn incident_text(i: &Incident) -> String {
    format!(
        "*Incident* `{}`: {}\nStatus: {} · severity: {} · assigned to: {} · classification: {} · alerts: {}",
        i.incident_id,
        untrusted(opt(i.incident_name.as_ref())),
        untrusted(opt(i.status.as_ref())),
        untrusted(opt(i.severity.as_ref())),
        untrusted(opt(i.assigned_to.as_ref())),
        untrusted(opt(i.classification.as_ref())),
        i.alerts.as_ref().map(Vec::len).unwrap_or(0),
    )
}

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

/// Why the safety checks refused a request. Each is said in one place ([`Refusal::reason`],
/// [`Refusal::text`], [`Reply::refused`]) for Slack and Teams alike, and named in the audit line by
/// its stable [`Refusal::code`] (`reason_code`), which dashboards and alarms may match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The access policy does not let this user do this here.
    Policy(Denied),
    /// The tenant's `allowed_actions` do not hold the action.
    TenantDisallows {
        /// The tenant.
        tenant: TenantName,
        /// The action.
        action: Action,
    },
    /// The job's tenant is not the one the policy routes the command to.
    TenantMismatch,
    /// The machine is not one exact match.
    Unresolved(Unresolved),
    /// Defender's machine carries an id that is not a machine id.
    MalformedMachineId,
    /// The machine's actions could not be read (the error), so its state is unknown.
    ActionsUnreadable(String),
    /// The machine's state forbids the action now; `machine` is its name where the prompt shows it.
    Conflict {
        /// The machine's host name (prompt only).
        machine: Option<String>,
        /// What stands in the way.
        conflict: Conflict,
    },
    /// The confirmation could not be sealed (the error).
    Seal(String),
    /// The pressed button's token does not open (expired, altered, another key).
    Token(String),
    /// The cancel button's token does not open.
    NothingToCancel(String),
    /// A job's token does not open.
    JobToken(String),
    /// Only the requester confirms (`true`: a change, not a machine action).
    NotRequester {
        /// A change (incident, alert, indicator) rather than a machine action.
        change: bool,
    },
    /// The confirmation names an action this code does not know.
    UnknownAction,
    /// The confirmation names a change this code does not know.
    UnknownChange,
    /// The confirmation was made in another tenant.
    ForeignConfirmation,
    /// The approval is pressed in another tenant.
    ForeignApproval,
    /// The request was cancelled.
    Cancelled,
    /// The idempotency store could not answer (the error): nothing is done without it.
    Store(String),
    /// Approve pressed on an action that needs no second person.
    NoApprovalNeeded,
    /// Approve typed for a change (changes have no second person).
    ChangeNeedsNoApproval,
    /// The requester approving their own request.
    SelfApproval,
    /// Approve pressed before the requester confirmed.
    NotConfirmedByRequester,
    /// Cancel pressed by someone who neither asked nor could approve.
    NotRequesterOrApprover,
    /// Cancel pressed after the confirmation.
    AlreadyConfirmed,
    /// Cancel pressed after the approval.
    AlreadyApproved,
    /// A Teams code that names no pending request.
    UnknownCode(String),
    /// The job: no confirmation is recorded.
    NoConfirmation,
    /// The job: the recorded confirmation is another request's.
    ConfirmationMismatch,
    /// The job: confirmed after the expiry.
    ConfirmedLate,
    /// The job names an approver, but no approval is recorded.
    ApproverWithoutApproval,
    /// The job: the two-person rule's second person is missing.
    ApprovalMissing,
    /// The job: no approval is recorded.
    NoApproval,
    /// The job: the recorded approval is another request's.
    ApprovalMismatch,
    /// The job: the approver is not the one recorded.
    WrongApprover,
    /// The job: approved after the expiry.
    ApprovedLate,
    /// The job: the recorded confirmation has an impossible state.
    MalformedClaim,
    /// The job: a record under this key is not a claim.
    NotAClaim(String),
}

impl Refusal {
    /// The stable, machine-readable name of the refusal (the audit line's `reason_code`).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Policy(Denied::NotAdmitted(_)) => "not_admitted",
            Self::Policy(Denied::NoTenant) => "no_tenant",
            Self::Policy(Denied::NotAllowed(_)) => "not_allowed",
            Self::TenantDisallows { .. } => "tenant_disallows_action",
            Self::TenantMismatch => "tenant_mismatch",
            Self::Unresolved(Unresolved::Lookup { .. }) => "machine_lookup_failed",
            Self::Unresolved(Unresolved::NoMatch(_)) => "machine_not_found",
            Self::Unresolved(Unresolved::Ambiguous { .. }) => "machine_ambiguous",
            Self::MalformedMachineId => "machine_id_malformed",
            Self::ActionsUnreadable(_) => "machine_actions_unreadable",
            Self::Conflict { .. } => "machine_state_conflict",
            Self::Seal(_) => "seal_failed",
            Self::Token(_) | Self::NothingToCancel(_) | Self::JobToken(_) => "token_invalid",
            Self::NotRequester { .. } => "not_requester",
            Self::UnknownAction => "unknown_action",
            Self::UnknownChange => "unknown_change",
            Self::ForeignConfirmation | Self::ForeignApproval => "other_tenant",
            Self::Cancelled => "cancelled",
            Self::Store(_) => "store_unavailable",
            Self::NoApprovalNeeded | Self::ChangeNeedsNoApproval => "no_approval_needed",
            Self::SelfApproval => "self_approval",
            Self::NotConfirmedByRequester => "not_confirmed",
            Self::NotRequesterOrApprover => "not_requester_or_approver",
            Self::AlreadyConfirmed => "already_confirmed",
            Self::AlreadyApproved => "already_approved",
            Self::UnknownCode(_) => "unknown_code",
            Self::NoConfirmation => "no_confirmation_recorded",
            Self::ConfirmationMismatch => "confirmation_mismatch",
            Self::ConfirmedLate => "confirmed_after_expiry",
            Self::ApproverWithoutApproval => "approver_without_approval",
            Self::ApprovalMissing => "approval_missing",
            Self::NoApproval => "no_approval_recorded",
            Self::ApprovalMismatch => "approval_mismatch",
            Self::WrongApprover => "wrong_approver",
            Self::ApprovedLate => "approved_after_expiry",
            Self::MalformedClaim | Self::NotAClaim(_) => "claim_malformed",
        }
    }

    /// The reason as a clause (`the machine is already isolated`), untrusted parts marked.
    pub fn reason(&self) -> String {
        match self {
            Self::Policy(d) => d.to_string(),
            Self::TenantDisallows { tenant, action } => format!("tenant '{tenant}' does not allow {action}"),
            Self::TenantMismatch => "tenant mismatch".into(),
            Self::Unresolved(u) => u.to_string(),
            Self::MalformedMachineId => "the machine id is malformed".into(),
            Self::ActionsUnreadable(e) => format!("could not read the machine's actions: {e}"),
            Self::Conflict { machine: Some(name), conflict } => format!("{}: {conflict}", untrusted(name)),
            Self::Conflict { machine: None, conflict } => conflict.to_string(),
            Self::Seal(e) | Self::Token(e) | Self::NothingToCancel(e) | Self::JobToken(e) | Self::Store(e) => e.clone(),
            Self::NotRequester { change: false } => "only the analyst who asked can confirm this action".into(),
            Self::NotRequester { change: true } => "only the analyst who asked can confirm this change".into(),
            Self::UnknownAction => "unknown action".into(),
            Self::UnknownChange => "unknown change".into(),
            Self::ForeignConfirmation => "this confirmation belongs to another tenant".into(),
            Self::ForeignApproval => "this approval belongs to another tenant".into(),
            Self::Cancelled => "this request was cancelled".into(),
            Self::NoApprovalNeeded => "this action needs no approval".into(),
            Self::ChangeNeedsNoApproval => "this change needs no approval; its requester confirms it".into(),
            Self::SelfApproval => "a second person must approve; the requester's own approval does nothing".into(),
            Self::NotConfirmedByRequester => "the requester has not confirmed this action".into(),
            Self::NotRequesterOrApprover => "only the requester or an approver can cancel this request".into(),
            Self::AlreadyConfirmed => "the request was already confirmed".into(),
            Self::AlreadyApproved => "the request was already approved".into(),
            Self::UnknownCode(code) => format!("no pending action has the code `{code}`"),
            Self::NoConfirmation => "no confirmation of this request is recorded".into(),
            Self::ConfirmationMismatch => "the recorded confirmation is for another request".into(),
            Self::ConfirmedLate => "the request was confirmed after it expired".into(),
            Self::ApproverWithoutApproval => "the job names an approver but no approval is recorded".into(),
            Self::ApprovalMissing => "a second person's approval is missing".into(),
            Self::NoApproval => "no approval of this request is recorded".into(),
            Self::ApprovalMismatch => "the recorded approval is for another request".into(),
            Self::WrongApprover => "the job's approver is not the one recorded".into(),
            Self::ApprovedLate => "the request was approved after it expired".into(),
            Self::MalformedClaim => "the recorded confirmation is malformed".into(),
            Self::NotAClaim(key) => format!("the record under '{key}' is not a claim"),
        }
    }

    /// The sentence shown to the person refused.
    pub fn text(&self) -> String {
        match self {
            Self::Token(e) => format!("Refused: {e}. Run the command again."),
            Self::NothingToCancel(e) => format!("Refused: {e}; nothing to cancel."),
            other => format!("Refused: {}.", other.reason()),
        }
    }
}

impl Reply {
    /// The reply to a refusal.
    pub fn refused(why: &Refusal) -> Self {
        Self::text(why.text())
    }
}

/// Why a machine could not be resolved to one exact match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// Defender could not be asked.
    Lookup {
        /// What was typed.
        target: String,
        /// The error.
        error: String,
    },
    /// No machine matches exactly.
    NoMatch(String),
    /// Several machines match.
    Ambiguous {
        /// What was typed.
        target: String,
        /// Each match's host name (`None`: not reported) and id.
        machines: Vec<(Option<String>, String)>,
    },
}

impl Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Lookup { target, error } => write!(f, "could not look up `{}`: {error}", untrusted(target)),
            Self::NoMatch(target) => write!(f, "no machine matches `{}` exactly", untrusted(target)),
            Self::Ambiguous { target, machines } => {
                let names: Vec<String> = machines
                    .iter()
                    .map(|(name, id)| format!("{} ({})", untrusted(name.as_deref().unwrap_or("?")), untrusted(id)))
                    .collect();
                write!(
                    f,
                    "{} machines match `{}`: {}; use the machine id",
                    machines.len(),
                    untrusted(target),
                    names.join(", ")
                )
            }
        }
    }
}

impl Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pending { kind, action_id } => {
                write!(f, "a {kind} action is still pending on this machine (action `{action_id}`)")
            }
            Self::AlreadyIsolated => f.write_str("the machine is already isolated"),
            Self::NotIsolated => f.write_str("the machine is not isolated"),
            Self::AlreadyRestricted => f.write_str("app execution is already restricted"),
            Self::NotRestricted => f.write_str("app execution is not restricted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_button_is_read_back_from_its_wire_name_and_nothing_else_is_a_button() {
        for b in [ButtonAction::Confirm, ButtonAction::Approve, ButtonAction::ConfirmChange, ButtonAction::Cancel] {
            assert_eq!(ButtonAction::parse(b.as_str()), Some(b));
        }
        for other in ["", "Confirm", "confirm ", "delete", "approve-all"] {
            assert_eq!(ButtonAction::parse(other), None, "{other:?}");
        }
    }

    #[test]
    fn refusals_read_as_refusals_and_keep_their_codes() {
        let machine = Unresolved::Ambiguous {
            target: "10.0.0.1".into(),
            machines: vec![(Some("a".into()), "1".into()), (None, "2".into())],
        };
        let cases = [
            (
                Refusal::Unresolved(machine),
                "machine_ambiguous",
                "Refused: 2 machines match `10.0.0.1`: a (1), ? (2); use the machine id.",
            ),
            (
                Refusal::Conflict { machine: Some("ws<1>".into()), conflict: Conflict::AlreadyIsolated },
                "machine_state_conflict",
                "Refused: ws&lt;1&gt;: the machine is already isolated.",
            ),
            (
                Refusal::Token("the confirmation expired".into()),
                "token_invalid",
                "Refused: the confirmation expired. Run the command again.",
            ),
            (Refusal::NothingToCancel("bad token".into()), "token_invalid", "Refused: bad token; nothing to cancel."),
            (
                Refusal::Policy(Denied::NotAllowed("isolate".into())),
                "not_allowed",
                "Refused: you are not allowed to isolate in this tenant.",
            ),
        ];
        for (why, code, text) in cases {
            assert_eq!(why.code(), code, "{why:?}");
            assert_eq!(Reply::refused(&why).slack_text(), text, "{why:?}");
        }
    }

    const PLANTED: &str =
        "<https://evil.example/x|Open in Defender> [Open in Defender](https://evil.example/y) <b>x</b> & *y*";

    #[test]
    fn planted_links_are_inert_in_both_formats_and_cannot_close_their_span() {
        let r = Reply::text(format!("*Alert* `{}`: done", untrusted(PLANTED)));
        let slack = r.slack_text();
        assert!(!slack.contains('<') && !slack.contains('>'), "{slack}");
        assert!(slack.starts_with("*Alert* `&lt;https://evil.example/x|Open in Defender&gt;"), "{slack}");
        assert!(slack.contains("&amp; *y*") && slack.ends_with("`: done"), "{slack}");
        let teams = r.teams_text();
        assert!(!teams.contains('<') && !teams.contains('[') && !teams.contains("]("), "{teams}");
        assert!(teams.starts_with("*Alert* `&#60;https://evil.example/x|Open in Defender&#62;"), "{teams}");
        assert!(teams.ends_with("`: done"), "our own formatting is kept: {teams}");
        // A planted closing mark does not end the span early.
        let sneaky = Reply::text(untrusted(format!("a{CLOSE}<https://evil|x>")));
        assert_eq!(sneaky.slack_text(), "a&lt;https://evil|x&gt;");
        assert_eq!(plain(&sneaky.text), "a<https://evil|x>");
    }
}
