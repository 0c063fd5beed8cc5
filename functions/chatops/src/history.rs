//! `actions <host>`: the machine's recent actions with their states, newest first.
//!
//! The machine is resolved exactly (as for a machine action), then its history is read with a
//! filtered query (`$filter=machineId eq '…'`, every page: [`crate::defender::history_query`]).
//! `GET /api/machineactions` documents no `$orderby`, and a service may ignore an undocumented
//! option, so none is sent: the order is made here, from parsed instants (when the action was asked
//! for, then its last update, then its id), whatever order the pages came in. Read-only: no
//! confirmation.

use crate::reply::untrusted;
use chrono::{DateTime, Utc};
use defender_shared::defender::models::actions::MachineAction;

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

fn opt(v: Option<impl std::fmt::Display>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// The reply: the newest [`SHOWN`] actions, one line each.
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
