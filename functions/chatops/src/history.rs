//! What a machine's actions say: its recent actions newest first (`actions <host>`, rendered by
//! [`crate::reply::history`]) and its state ([`machine_state`]: isolated, restricted, pending), which
//! the safety checks ([`crate::actions`]) and `/defender machine` read.
//!
//! The machine is resolved exactly (as for a machine action), then its history is read with a
//! filtered query (`$filter=machineId eq '…'`, every page: [`crate::defender::history_query`]).
//! `GET /api/machineactions` documents no `$orderby`, and a service may ignore an undocumented
//! option, so none is sent: the order is made here, from parsed instants (when the action was asked
//! for, then its last update, then its id), whatever order the pages came in. Read-only: no
//! confirmation.

use chrono::{DateTime, Utc};
use defender_shared::{
    defender::models::actions::{ActionStatus, ActionType, MachineAction},
    tenants::Action,
};

/// How many actions the reply lists.
pub const SHOWN: usize = 10;

fn key(a: &MachineAction) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>, String) {
    (a.creation_date_time_utc.as_ref().map(|t| t.at()), a.last_update().map(|t| t.at()), a.id.as_str().to_string())
}

/// The actions, newest first (by when they were asked for; an action without a time last).
pub fn newest_first(mut actions: Vec<MachineAction>) -> Vec<MachineAction> {
    actions.sort_by_cached_key(key);
    actions.reverse();
    // `None` sorts first ascending, so last after the reverse: an action without a time is shown last.
    actions
}

/// What the machine's actions say about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineState {
    /// The latest finished isolate/unisolate was an isolate that succeeded.
    pub isolated: bool,
    /// The latest finished restrict/unrestrict was a restrict that succeeded.
    pub restricted: bool,
    /// Actions not final: type and id.
    pub pending: Vec<(ActionType, String)>,
}

/// The order of finished actions: by when they finished (last update), then by when they were
/// asked for, then by id — instants, never text, whatever order the service listed them in.
fn when(a: &MachineAction) -> (Option<chrono::DateTime<chrono::Utc>>, Option<chrono::DateTime<chrono::Utc>>, String) {
    // Parsed instants: compared as text, `…:00.5Z` would sort before `…:00Z`.
    let created = a.creation_date_time_utc.as_ref().map(|t| t.at());
    let updated = a.last_update().map(|t| t.at()).or(created);
    (updated, created, a.id.as_str().to_string())
}

/// Derives the state from a machine's actions (in any order).
pub fn machine_state(actions: &[MachineAction]) -> MachineState {
    let mut done: Vec<&MachineAction> =
        actions.iter().filter(|a| a.status.as_ref() == Some(&ActionStatus::Succeeded)).collect();
    done.sort_by_cached_key(|a| when(a));
    let latest =
        |kinds: [ActionType; 2]| done.iter().rev().find_map(|a| a.kind.as_ref().filter(|k| kinds.contains(k)).cloned());
    MachineState {
        isolated: latest([ActionType::Isolate, ActionType::Unisolate]) == Some(ActionType::Isolate),
        restricted: latest([ActionType::RestrictCodeExecution, ActionType::UnrestrictCodeExecution])
            == Some(ActionType::RestrictCodeExecution),
        pending: actions
            .iter()
            .filter(|a| a.status.as_ref().is_some_and(|s| !s.is_final()))
            .filter_map(|a| a.kind.clone().map(|k| (k, a.id.as_str().to_string())))
            .collect(),
    }
}

/// What in a machine's state stands in the way of an action (said by [`crate::reply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// An action of a conflicting kind is not final yet.
    Pending {
        /// Its type.
        kind: ActionType,
        /// Its id.
        action_id: String,
    },
    /// Isolate, but the machine is isolated.
    AlreadyIsolated,
    /// Unisolate, but the machine is not isolated.
    NotIsolated,
    /// Restrict, but app execution is restricted.
    AlreadyRestricted,
    /// Unrestrict, but app execution is not restricted.
    NotRestricted,
}

/// The Defender action types an action conflicts with while pending.
fn conflicting(action: Action) -> &'static [ActionType] {
    match action {
        Action::Isolate | Action::Unisolate => &[ActionType::Isolate, ActionType::Unisolate],
        Action::Restrict | Action::Unrestrict => {
            &[ActionType::RestrictCodeExecution, ActionType::UnrestrictCodeExecution]
        }
        Action::Scan => &[ActionType::RunAntiVirusScan],
        Action::Collect => &[ActionType::CollectInvestigationPackage],
    }
}

/// Why `action` must not run now, if it must not.
pub fn state_conflict(action: Action, s: &MachineState) -> Option<Conflict> {
    if let Some((kind, id)) = s.pending.iter().find(|(k, _)| conflicting(action).contains(k)) {
        return Some(Conflict::Pending { kind: kind.clone(), action_id: id.clone() });
    }
    match action {
        Action::Isolate if s.isolated => Some(Conflict::AlreadyIsolated),
        Action::Unisolate if !s.isolated => Some(Conflict::NotIsolated),
        Action::Restrict if s.restricted => Some(Conflict::AlreadyRestricted),
        Action::Unrestrict if !s.restricted => Some(Conflict::NotRestricted),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn act(id: &str, at: Option<&str>) -> MachineAction {
        let mut v = json!({"id": id, "type": "Isolate", "status": "Succeeded"});
        if let Some(at) = at {
            v["creationDateTimeUtc"] = json!(at);
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn newest_first_by_instant_not_text_nor_list_order() {
        let list = vec![
            act("a0000000-0000-4000-8000-000000000001", Some("2026-01-05T00:00:00Z")),
            act("a0000000-0000-4000-8000-000000000002", None),
            act("a0000000-0000-4000-8000-000000000003", Some("2026-01-05T00:00:00.5Z")),
            act("a0000000-0000-4000-8000-000000000004", Some("2026-01-05T01:30:00+02:00")),
        ];
        let ids: Vec<String> = newest_first(list).iter().map(|a| a.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "a0000000-0000-4000-8000-000000000003",
                "a0000000-0000-4000-8000-000000000001",
                "a0000000-0000-4000-8000-000000000004",
                "a0000000-0000-4000-8000-000000000002"
            ]
        );
    }
}
