//! Real responses in chat: every recorded alert, machine, incident and machine action of
//! `contract/real-responses/` (the corpus `shared/tests/real_responses.rs` decodes) is read as a page
//! item, the way the client reads it, and rendered through the replies `/defender alert`, `machine`,
//! `incident` and `status` post — for Slack and for Teams — without a panic, with every field shown
//! and with the untrusted text escaped. The same entities with a link planted in their shown text
//! render it inert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chatops::{
    history::machine_state,
    reply::{Reply, escape_slack, escape_teams},
    reply::{action_text, alert_text, incident_text, machine_text},
};
use defender_shared::defender::models::{
    actions::MachineAction, alerts::Alert, incidents::Incident, machines::Machine,
};
use serde_json::Value;
use testkit::recorded::{entities as recorded, typed};

/// Text a tenant's data could carry to form a link or a tag in a chat message.
const PLANTED: &str = "<https://evil.example/x|Open in Defender> [y](https://evil.example/y) <b>";

/// Renders `text` for both chat systems and checks it: no markup from the data (Slack's `<…>` links,
/// Teams' tags and `[..](..)` links) and every shown value present, escaped.
fn check(at: &str, text: &str, shown: &[Option<&str>]) {
    let reply = Reply::text(text);
    let slack = reply.slack_text();
    assert!(!slack.contains('<') && !slack.contains('>'), "{at}: raw markup in Slack text: {slack}");
    let teams = reply.teams_text().replace("<br>", "\n");
    assert!(
        !teams.contains('<') && !teams.contains('>') && !teams.contains("]("),
        "{at}: raw markup in Teams: {teams}"
    );
    for v in shown.iter().flatten() {
        assert!(slack.contains(&escape_slack(v)), "{at}: `{v}` is not shown in Slack: {slack}");
        assert!(teams.contains(&escape_teams(v)), "{at}: `{v}` is not shown in Teams: {teams}");
    }
    assert_eq!(reply.to_slack()["text"], slack.as_str());
    assert!(reply.to_teams()["text"].is_string());
}

/// The entities with `PLANTED` appended to each of `fields` (where present as text).
fn planted(entities: &[(String, Value)], fields: &[&str]) -> Vec<(String, Value)> {
    entities
        .iter()
        .map(|(at, v)| {
            let mut v = v.clone();
            for f in fields {
                if let Some(s) = v.get(*f).and_then(Value::as_str) {
                    v[*f] = Value::String(format!("{s}{PLANTED}"));
                }
            }
            (format!("{at} (planted)"), v)
        })
        .collect()
}

fn alerts(entities: &[(String, Value)]) -> usize {
    let list = typed::<Alert>(entities);
    for (at, _, a) in &list {
        check(at, &alert_text(a), &[a.title.as_deref(), a.computer_dns_name.as_deref()]);
    }
    list.len()
}

fn incidents(entities: &[(String, Value)]) -> usize {
    let list = typed::<Incident>(entities);
    for (at, _, i) in &list {
        check(at, &incident_text(i), &[i.incident_name.as_deref(), i.assigned_to.as_deref()]);
    }
    list.len()
}

fn actions(entities: &[(String, Value)]) -> usize {
    let list = typed::<MachineAction>(entities);
    for (at, _, a) in &list {
        check(at, &action_text(a), &[a.computer_dns_name.as_deref(), a.requestor.as_deref()]);
    }
    list.len()
}

/// Each machine with the recorded actions and alerts that name it (its history as `/defender machine`
/// reads it), and once with both lookups failed.
fn machines(entities: &[(String, Value)], alerts: &[Alert], actions: &[MachineAction]) -> usize {
    let list = typed::<Machine>(entities);
    let mut shown = 0;
    for (at, _, m) in &list {
        let Some(id) = m.id.valid() else { continue };
        let own = |mid: Option<&str>| mid.is_some_and(|x| x.eq_ignore_ascii_case(id.as_str()));
        let acts: Vec<MachineAction> =
            actions.iter().filter(|a| own(a.machine_id.as_ref().map(|i| i.as_str()))).cloned().collect();
        let alerts: Vec<Alert> =
            alerts.iter().filter(|a| own(a.machine_id.as_ref().map(|i| i.as_str()))).cloned().collect();
        let values = [m.computer_dns_name.as_deref(), m.os_platform.as_deref(), m.last_ip_address.as_deref()];
        check(at, &machine_text(m, id, Ok(&acts), Ok(&alerts)), &values);
        check(at, &machine_text(m, id, Err("throttled".into()), Err("throttled".into())), &values);
        shown += 1;
    }
    shown
}

#[test]
fn every_recorded_alert_machine_incident_and_action_renders_in_slack_and_teams() {
    let (al, ma, inc, act) = (recorded("alert"), recorded("machine"), recorded("incident"), recorded("machineAction"));
    let all_alerts: Vec<Alert> = typed::<Alert>(&al).into_iter().map(|(_, _, a)| a).collect();
    let all_actions: Vec<MachineAction> = typed::<MachineAction>(&act).into_iter().map(|(_, _, a)| a).collect();
    let n = (alerts(&al), machines(&ma, &all_alerts, &all_actions), incidents(&inc), actions(&act));
    // Every recorded file's action history folds into a machine state.
    let s = machine_state(&all_actions);
    assert!(s.pending.len() <= all_actions.len());
    // Machines: the four recorded with a real (40-hex) id; the other twelve carry hand-written ids
    // ("1234", "machine-1") that the reply refuses as malformed before rendering.
    assert!(
        n.0 >= 40 && n.1 >= 4 && n.2 >= 100 && n.3 >= 10,
        "too few rendered (alerts, machines, incidents, actions): {n:?}"
    );
}

#[test]
fn a_link_planted_in_recorded_entities_is_shown_inert() {
    alerts(&planted(&recorded("alert"), &["title", "computerDnsName", "category"]));
    incidents(&planted(&recorded("incident"), &["incidentName", "assignedTo"]));
    actions(&planted(&recorded("machineAction"), &["computerDnsName", "requestor"]));
    machines(&planted(&recorded("machine"), &["computerDnsName", "osPlatform", "lastIpAddress"]), &[], &[]);
}
