//! The worker's SOC event: a machine action run from chat-ops reached a terminal state in Defender
//! (`Machine Action Outcome`, schema `docs/events/machine-action-outcome.schema.json`). Published by
//! [`super`] once per action, after the action's status was read as final; best effort
//! (`defender_shared::events`).

use super::Pending;
use defender_shared::events::{DetailType, Event, EventsError, SCHEMA_VERSION};
use serde::Serialize;

/// The detail of a `Machine Action Outcome` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineActionOutcome<'a> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `<tenant>/<action id>/<status>`: the same outcome always has the same id (dedupe on it).
    pub event_id: String,
    /// The tenant (registry name).
    pub tenant: &'a str,
    /// The Defender machine action id.
    pub action_id: &'a str,
    /// `isolate`, `unisolate`, ...
    pub action: &'a str,
    /// The machine's host name as the confirmation named it.
    pub machine_name: &'a str,
    /// The chat request id (the confirmation's).
    pub request_id: &'a str,
    /// Defender's terminal status: `Succeeded`, `Failed`, `TimeOut`, `Cancelled`.
    pub status: &'a str,
    /// When the action was accepted (RFC 3339, UTC).
    pub accepted_at: Option<String>,
    /// Follow-up passes it took.
    pub checks: u32,
}

/// The event for `p` reaching `status`.
///
/// # Errors
/// [`EventsError::Detail`] (only if serialisation failed).
pub fn outcome(p: &Pending, status: &str) -> Result<Event, EventsError> {
    let accepted_at =
        chrono::DateTime::from_timestamp(p.started_at, 0).filter(|_| p.started_at > 0).map(|t| t.to_rfc3339());
    let detail = MachineActionOutcome {
        schema_version: SCHEMA_VERSION,
        event_id: format!("{}/{}/{status}", p.tenant, p.action_id),
        tenant: p.tenant.as_str(),
        action_id: p.action_id.as_str(),
        action: &p.action,
        machine_name: &p.machine_name,
        request_id: &p.request_id,
        status,
        accepted_at,
        checks: p.checks,
    };
    Event::new(DetailType::MachineActionOutcome, &detail)
}
