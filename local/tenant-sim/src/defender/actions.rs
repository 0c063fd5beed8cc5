//! Machine actions and their lifecycle.
//!
//! A new action is `Pending` for `action_pending_s`, then `InProgress` for `action_running_s`, then
//! `Succeeded` (simulated clock; `POST /_sim/clock` moves it). Status is derived from the clock each
//! time an action is read, so nothing runs in the background. A machine's isolation and code-execution
//! restriction follow from its last succeeded (un)isolate / (un)restrict action.
//!
//! Like the real service:
//! - a second request of a type already `Pending`/`InProgress` on the machine gets 400
//!   `ActiveRequestAlreadyExists` ("Action is already in progress");
//! - isolating a machine that is already isolated is accepted (201) but the new action stays `Pending`
//!   (reported against the live API in MicrosoftDocs/microsoft-365-docs#5903) — callers must check the
//!   state first, which is what our chat-ops does;
//! - offboarding answers 200, the others 201; `Comment` is required; cancel works only before completion;
//!   the investigation package link exists only once the collection succeeded (else 404).

use super::{Ctx, Reply, entity, field_eq, list};
use crate::{
    clock::{iso, parse_iso},
    errors::ApiError,
    state::{SimConfig, Tenant, lock},
};
use axum::http::StatusCode;
use serde_json::{Value, json};

/// The action endpoints under `/api/machines/{id}/...` and their MachineAction `type`.
const KINDS: &[(&str, &str)] = &[
    ("mde.machines.isolate", "Isolate"),
    ("mde.machines.unisolate", "Unisolate"),
    ("mde.machines.restrict_code_execution", "RestrictCodeExecution"),
    ("mde.machines.unrestrict_code_execution", "UnrestrictCodeExecution"),
    ("mde.machines.run_av_scan", "RunAntiVirusScan"),
    ("mde.machines.collect_investigation_package", "CollectInvestigationPackage"),
    ("mde.machines.stop_and_quarantine_file", "StopAndQuarantineFile"),
    ("mde.machines.offboard", "Offboard"),
    ("mde.machines.run_live_response", "LiveResponse"),
];

/// Whether the endpoint creates a machine action.
pub(super) fn is_action(name: &str) -> bool {
    KINDS.iter().any(|(n, _)| *n == name)
}

pub(super) fn handle(ctx: &Ctx<'_>) -> Reply {
    let cfg = lock(&ctx.sim.config).clone();
    refresh(&mut lock(&ctx.sim.tenant), ctx.now, &cfg);
    match ctx.ep.name.as_str() {
        "mde.machineactions.list" => {
            let items = lock(&ctx.sim.tenant).actions.clone();
            list(ctx, items)
        }
        "mde.machineactions.get" => {
            let a = find(ctx)?;
            entity(ctx, StatusCode::OK, a)
        }
        "mde.machineactions.cancel" => cancel(ctx),
        "mde.machineactions.get_package_uri" => download_link(ctx, "CollectInvestigationPackage"),
        "mde.machineactions.get_live_response_result" => download_link(ctx, "LiveResponse"),
        name => match KINDS.iter().find(|(n, _)| *n == name) {
            Some((_, kind)) => create(ctx, kind),
            None => Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, "NotImplemented", format!("{name} has no handler"))),
        },
    }
}

/// Brings every simulator-created action's status in line with the clock.
pub(crate) fn refresh(tenant: &mut Tenant, now: chrono::DateTime<chrono::Utc>, cfg: &SimConfig) {
    for a in tenant.actions.iter_mut() {
        let Some(o) = a.as_object_mut() else { continue };
        let status = o.get("status").and_then(Value::as_str).unwrap_or_default().to_string();
        if !(status == "Pending" || status == "InProgress") || o.get("_stuck").is_some() {
            continue;
        }
        let Some(created) = o.get("creationDateTimeUtc").and_then(Value::as_str).and_then(parse_iso) else { continue };
        let running_at = created + chrono::Duration::seconds(cfg.action_pending_s);
        let done_at = running_at + chrono::Duration::seconds(cfg.action_running_s);
        let (next, at) = if now >= done_at {
            ("Succeeded", done_at)
        } else if now >= running_at {
            ("InProgress", running_at)
        } else {
            continue;
        };
        if next != status {
            o.insert("status".into(), json!(next));
            o.insert("lastUpdateDateTimeUtc".into(), json!(iso(at)));
        }
    }
}

fn find(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    lock(&ctx.sim.tenant)
        .actions
        .iter()
        .find(|a| field_eq(a, "id", ctx.id()))
        .map(public)
        .ok_or_else(|| ApiError::not_found(format!("Machine action {} was not found", ctx.id())))
}

/// Drops the simulator's private markers.
fn public(a: &Value) -> Value {
    let mut a = a.clone();
    if let Some(o) = a.as_object_mut() {
        o.retain(|k, _| !k.starts_with('_'));
    }
    a
}

/// Whether the machine is currently in the state `on` puts it in (isolated / restricted).
fn machine_state(tenant: &Tenant, machine_id: &str, on: &str, off: &str) -> bool {
    let mut last: Option<(&str, &str)> = None;
    for a in
        tenant.actions.iter().filter(|a| field_eq(a, "machineId", machine_id) && field_eq(a, "status", "Succeeded"))
    {
        let kind = a["type"].as_str().unwrap_or_default();
        if kind == on || kind == off {
            let when =
                a["lastUpdateDateTimeUtc"].as_str().or_else(|| a["lastUpdateTimeUtc"].as_str()).unwrap_or_default();
            if last.is_none_or(|(w, _)| parse_iso(when) >= parse_iso(w)) {
                last = Some((when, kind));
            }
        }
    }
    last.is_some_and(|(_, k)| k == on)
}

fn create(ctx: &Ctx<'_>, kind: &str) -> Reply {
    let body = ctx.json_body()?;
    let comment = body.get("Comment").and_then(Value::as_str).filter(|c| !c.trim().is_empty());
    if kind != "LiveResponse" && comment.is_none() {
        return Err(ApiError::bad_request(
            "MissingRequiredParameter",
            "Comment is required (body parameters are case-sensitive)",
        ));
    }
    match kind {
        "Isolate" => {
            let t = body.get("IsolationType").and_then(Value::as_str).unwrap_or("Full");
            if !["Full", "Selective", "UnManagedDevice"].contains(&t) {
                return Err(ApiError::bad_request(
                    "InvalidRequestBody",
                    format!("IsolationType '{t}' is not supported; use Full, Selective or UnManagedDevice"),
                ));
            }
        }
        "RunAntiVirusScan" => {
            let t = body.get("ScanType").and_then(Value::as_str).unwrap_or("Quick");
            if !["Quick", "Full"].contains(&t) {
                return Err(ApiError::bad_request(
                    "InvalidRequestBody",
                    format!("ScanType '{t}' is not supported; use Quick or Full"),
                ));
            }
        }
        "StopAndQuarantineFile" => {
            let sha1 = body.get("Sha1").and_then(Value::as_str).unwrap_or_default();
            if !(sha1.len() == 40 && sha1.bytes().all(|b| b.is_ascii_hexdigit())) {
                return Err(ApiError::bad_request("InvalidHashValue", "Sha1 must be a SHA-1 hash"));
            }
        }
        "LiveResponse" => {
            let ok = body.get("Commands").and_then(Value::as_array).is_some_and(|c| !c.is_empty());
            if !ok {
                return Err(ApiError::bad_request("MissingRequiredParameter", "Commands is required"));
            }
        }
        _ => {}
    }
    let mut tenant = lock(&ctx.sim.tenant);
    let machine = tenant
        .seed
        .machines
        .iter()
        .find(|m| field_eq(m, "id", ctx.id()))
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Machine {} was not found", ctx.id())))?;
    let mid = machine["id"].as_str().unwrap_or_default().to_string();
    let active = tenant.actions.iter().any(|a| {
        field_eq(a, "machineId", &mid)
            && field_eq(a, "type", kind)
            && (field_eq(a, "status", "Pending") || field_eq(a, "status", "InProgress"))
            && a.get("_stuck").is_none()
    });
    if active {
        return Err(ApiError::bad_request("ActiveRequestAlreadyExists", "Action is already in progress"));
    }
    let stuck = match kind {
        "Isolate" => machine_state(&tenant, &mid, "Isolate", "Unisolate"),
        "RestrictCodeExecution" => machine_state(&tenant, &mid, "RestrictCodeExecution", "UnrestrictCodeExecution"),
        _ => false,
    };
    let now = iso(ctx.now);
    let commands: Vec<Value> = body
        .get("Commands")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| json!({"index": i, "startTime": null, "endTime": null, "commandStatus": "Created", "errors": [], "command": c}))
        .collect();
    // Every member, in the order, of a recorded answer (contract/real-responses/
    // sekoia__machine_actions.json, 2024): the documented ones and `title`, the cancellation trio,
    // `errorHResult`, `externalId`, `requestSource`, `commands`, `troubleshootInfo`, nulls included.
    let action = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "title": null,
        "requestor": ctx.actor(),
        "requestorComment": comment,
        "status": "Pending",
        "machineId": mid,
        "computerDnsName": machine["computerDnsName"],
        "creationDateTimeUtc": now,
        "lastUpdateDateTimeUtc": now,
        "cancellationRequestor": null,
        "cancellationComment": null,
        "cancellationDateTimeUtc": null,
        "errorHResult": 0,
        "scope": body.get("IsolationType").or_else(|| body.get("ScanType")).cloned().unwrap_or(Value::Null),
        "externalId": null,
        "requestSource": "PublicApi",
        "relatedFileInfo": body.get("Sha1").map(|s| json!({"fileIdentifier": s, "fileIdentifierType": "Sha1"})).unwrap_or(Value::Null),
        "commands": commands,
        "troubleshootInfo": null,
    });
    let mut stored = action.clone();
    if stuck && let Some(o) = stored.as_object_mut() {
        o.insert("_stuck".into(), json!(true));
    }
    tenant.actions.push(stored);
    drop(tenant);
    let status = if kind == "Offboard" { StatusCode::OK } else { StatusCode::CREATED };
    // Recorded answers to every action carry `@odata.context` (the docs' examples only sometimes).
    let mut out = serde_json::Map::new();
    out.insert("@odata.context".into(), json!(format!("{}/api/$metadata#MachineActions/$entity", ctx.sim.base_url)));
    if let Value::Object(o) = action {
        out.extend(o);
    }
    Ok((status, Some(Value::Object(out))))
}

fn cancel(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    if body.get("Comment").and_then(Value::as_str).is_none_or(|c| c.trim().is_empty()) {
        return Err(ApiError::bad_request("MissingRequiredParameter", "Comment is required"));
    }
    let mut tenant = lock(&ctx.sim.tenant);
    let a = ctx.item_mut(&mut tenant.actions, "id", "Machine action")?;
    if !(field_eq(a, "status", "Pending") || field_eq(a, "status", "InProgress")) {
        return Err(ApiError::bad_request(
            "BadRequest",
            format!(
                "Machine action {} is already {} and cannot be cancelled",
                ctx.id(),
                a["status"].as_str().unwrap_or_default()
            ),
        ));
    }
    if let Some(o) = a.as_object_mut() {
        o.insert("status".into(), json!("Cancelled"));
        o.insert("lastUpdateDateTimeUtc".into(), json!(iso(ctx.now)));
        o.insert("cancellationRequestor".into(), json!(ctx.actor()));
        o.insert("cancellationComment".into(), body.get("Comment").cloned().unwrap_or(Value::Null));
        o.insert("cancellationDateTimeUtc".into(), json!(iso(ctx.now)));
        o.remove("_stuck");
    }
    let out = public(a);
    drop(tenant);
    Ok((StatusCode::OK, Some(out)))
}

fn download_link(ctx: &Ctx<'_>, kind: &str) -> Reply {
    let a = find(ctx)?;
    if !field_eq(&a, "type", kind) {
        return Err(ApiError::bad_request("BadRequest", format!("Machine action {} is not a {kind} action", ctx.id())));
    }
    if !field_eq(&a, "status", "Succeeded") {
        return Err(ApiError::not_found(format!("Machine action {} has not completed", ctx.id())));
    }
    if kind == "LiveResponse" {
        let index: usize = ctx
            .matched
            .param("index")
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| ApiError::bad_request("InvalidInput", "index must be a command index"))?;
        if a["commands"].as_array().is_none_or(|c| index >= c.len()) {
            return Err(ApiError::not_found(format!("Command {index} does not exist in action {}", ctx.id())));
        }
    }
    let expiry = ctx.now + chrono::Duration::minutes(30);
    let link = format!(
        "{}/_sim/blob/{}/{}?se={}&sig=simulated",
        ctx.sim.base_url,
        kind.to_ascii_lowercase(),
        ctx.id(),
        expiry.format("%Y-%m-%dT%H%%3A%M%%3A%SZ")
    );
    Ok((StatusCode::OK, Some(json!({"@odata.context": ctx.context(), "value": link}))))
}
