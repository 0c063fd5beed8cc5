//! Graph security: `alerts_v2` and `incidents` (list with `@odata.nextLink` paging and `$count`,
//! `$expand=alerts` on incidents, get, update).

use super::{Ctx, Reply, entity, field_eq, list};
use crate::{clock::iso, errors::ApiError, state::lock};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

pub(super) fn handle(ctx: &Ctx<'_>) -> Reply {
    match ctx.ep.name.as_str() {
        "graph.security.alerts_v2.list" => {
            let items = lock(&ctx.sim.tenant).seed.graph_alerts.clone();
            list(ctx, items)
        }
        "graph.security.alerts_v2.get" => {
            let a = find(&lock(&ctx.sim.tenant).seed.graph_alerts, ctx.id(), "alert")?;
            entity(ctx, StatusCode::OK, a)
        }
        "graph.security.incidents.list" => {
            let tenant = lock(&ctx.sim.tenant);
            let expand = ctx.q("$expand").is_some_and(|e| e.trim().eq_ignore_ascii_case("alerts"));
            let items: Vec<Value> = tenant
                .seed
                .graph_incidents
                .iter()
                .map(|i| if expand { with_alerts(i, &tenant.seed.graph_alerts) } else { i.clone() })
                .collect();
            drop(tenant);
            list(ctx, items)
        }
        "graph.security.incidents.get" => {
            let tenant = lock(&ctx.sim.tenant);
            let mut inc = find(&tenant.seed.graph_incidents, ctx.id(), "incident")?;
            if ctx.q("$expand").is_some_and(|e| e.trim().eq_ignore_ascii_case("alerts")) {
                inc = with_alerts(&inc, &tenant.seed.graph_alerts);
            }
            drop(tenant);
            entity(ctx, StatusCode::OK, inc)
        }
        "graph.security.alerts_v2.update" => update(ctx, true),
        "graph.security.incidents.update" => update(ctx, false),
        other => Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, "NotImplemented", format!("{other} has no handler"))),
    }
}

/// Members of Graph's evolvable enums (listed after `unknownFutureValue` in the v1.0 docs), by
/// property: Graph answers them only to a caller that sends `Prefer: include-unknown-enum-members`;
/// everyone else gets `unknownFutureValue`.
const EVOLVABLE: &[(&str, &[&str])] = &[
    // microsoft.graph.security.incidentStatus
    ("status", &["awaitingAction"]),
    // microsoft.graph.security.serviceSource / detectionSource
    ("serviceSource", &["microsoftSentinel", "microsoftInsiderRiskManagement"]),
    ("detectionSource", &["microsoftSentinel", "microsoftInsiderRiskManagement"]),
];

/// Whether the request asked for evolvable enum members (`Prefer: include-unknown-enum-members`,
/// possibly among other preferences).
pub(super) fn includes_unknown_enum_members(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("include-unknown-enum-members")))
}

/// Replaces evolvable enum members with `unknownFutureValue` in an entity, a collection page and
/// expanded alerts.
pub(super) fn hide_evolvable_members(body: &mut Value) {
    match body {
        Value::Array(items) => items.iter_mut().for_each(hide_evolvable_members),
        Value::Object(o) => {
            for (field, members) in EVOLVABLE {
                if let Some(v) = o.get_mut(*field)
                    && v.as_str().is_some_and(|s| members.iter().any(|m| m.eq_ignore_ascii_case(s)))
                {
                    *v = json!("unknownFutureValue");
                }
            }
            for nested in ["value", "alerts"] {
                if let Some(v) = o.get_mut(nested) {
                    hide_evolvable_members(v);
                }
            }
        }
        _ => {}
    }
}

fn find(list: &[Value], id: &str, what: &str) -> Result<Value, ApiError> {
    list.iter().find(|x| field_eq(x, "id", id)).cloned().ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "itemNotFound", format!("The {what} with id {id} was not found"))
    })
}

/// An incident with `$expand=alerts`: the alerts seeded inside the incident, as seeded (a recorded
/// incident keeps its own alerts byte for byte); only an incident seeded without them gets the seeded
/// `alerts_v2` whose `incidentId` is its id.
fn with_alerts(incident: &Value, alerts: &[Value]) -> Value {
    if incident.get("alerts").is_some_and(Value::is_array) {
        return incident.clone();
    }
    let id = incident["id"].as_str().unwrap_or_default();
    let mine: Vec<Value> = alerts.iter().filter(|a| field_eq(a, "incidentId", id)).cloned().collect();
    let mut out = incident.clone();
    if let Some(o) = out.as_object_mut() {
        o.insert("alerts".into(), json!(mine));
    }
    out
}

/// Graph v1.0 enums are camelCase.
fn allowed(alert: bool, key: &str) -> Option<&'static [&'static str]> {
    match key {
        "status" if alert => Some(&["new", "inProgress", "resolved", "unknownFutureValue"]),
        "status" => Some(&["active", "resolved", "inProgress", "redirected", "unknownFutureValue", "awaitingAction"]),
        "classification" => {
            Some(&["unknown", "falsePositive", "truePositive", "informationalExpectedActivity", "unknownFutureValue"])
        }
        // microsoft.graph.security.alertDetermination (v1.0 metadata): not MDE's spellings.
        "determination" => Some(&[
            "unknown",
            "apt",
            "malware",
            "securityPersonnel",
            "securityTesting",
            "unwantedSoftware",
            "other",
            "multiStagedAttack",
            "compromisedAccount",
            "phishing",
            "maliciousUserActivity",
            "notMalicious",
            "notEnoughDataToValidate",
            "confirmedActivity",
            "lineOfBusinessApplication",
            "unknownFutureValue",
        ]),
        _ => None,
    }
}

fn update(ctx: &Ctx<'_>, alert: bool) -> Reply {
    let body: Map<String, Value> = ctx.json_body().map_err(|e| ApiError::bad_request("BadRequest", e.message))?;
    let updatable: &[&str] = if alert {
        &["assignedTo", "classification", "determination", "status"]
    } else {
        &[
            "assignedTo",
            "classification",
            "determination",
            "status",
            "customTags",
            "description",
            "displayName",
            "resolvingComment",
            "summary",
        ]
    };
    for (k, v) in &body {
        if !updatable.contains(&k.as_str()) {
            return Err(ApiError::bad_request("BadRequest", format!("Property '{k}' cannot be updated")));
        }
        if let Some(values) = allowed(alert, k) {
            // Graph accepts enum members case-insensitively and answers camelCase.
            let Some(s) = v.as_str().and_then(|s| values.iter().find(|x| x.eq_ignore_ascii_case(s))) else {
                return Err(ApiError::bad_request("BadRequest", format!("Invalid value {v} for '{k}'")));
            };
            let _ = s;
        }
    }
    let now = iso(ctx.now);
    let mut tenant = lock(&ctx.sim.tenant);
    let list = if alert { &mut tenant.seed.graph_alerts } else { &mut tenant.seed.graph_incidents };
    let item = list.iter_mut().find(|x| field_eq(x, "id", ctx.id())).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "itemNotFound", format!("The item with id {} was not found", ctx.id()))
    })?;
    if let Some(o) = item.as_object_mut() {
        for (k, v) in &body {
            let v = match (allowed(alert, k), v.as_str()) {
                (Some(values), Some(s)) => {
                    values.iter().find(|x| x.eq_ignore_ascii_case(s)).map(|x| json!(x)).unwrap_or_else(|| v.clone())
                }
                _ => v.clone(),
            };
            o.insert(k.clone(), v);
        }
        o.insert("lastUpdateDateTime".into(), json!(now));
    }
    let out = item.clone();
    drop(tenant);
    entity(ctx, StatusCode::OK, out)
}
