//! Defender XDR incidents: list (most recent first, `$top` ≤ 100, no `@odata.nextLink`), get, update.

use super::{Ctx, Reply, entity, field_eq, list};
use crate::{clock::iso, errors::ApiError, state::lock};
use axum::http::StatusCode;
use serde_json::{Value, json};

pub(super) fn handle(ctx: &Ctx<'_>) -> Reply {
    match ctx.ep.name.as_str() {
        "xdr.incidents.list" => {
            let mut items = lock(&ctx.sim.tenant).seed.incidents.clone();
            let (strict, key) = {
                let c = lock(&ctx.sim.config);
                (c.strict, c.order_key)
            };
            // "most recent first": by `createdTime` (an incident is as recent as its creation; an
            // update does not move it). Strict: ties in the keyed-hash order, not the seed's.
            let created = |v: &Value| v["createdTime"].as_str().and_then(crate::clock::parse_iso);
            if strict {
                items.sort_by_cached_key(|i| (std::cmp::Reverse(created(i)), super::order_rank(key, i)));
            } else {
                items.sort_by_key(|i| std::cmp::Reverse(created(i)));
            }
            list(ctx, items)
        }
        "xdr.incidents.get" => {
            let found =
                lock(&ctx.sim.tenant).seed.incidents.iter().find(|i| field_eq(i, "incidentId", ctx.id())).cloned();
            let inc = found.ok_or_else(|| ApiError::not_found(format!("Incident {} was not found", ctx.id())))?;
            entity(ctx, StatusCode::OK, inc)
        }
        "xdr.incidents.update" => update(ctx),
        other => Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, "NotImplemented", format!("{other} has no handler"))),
    }
}

const STATUS: &[&str] = &["Active", "Resolved", "InProgress", "Redirected"];
const CLASSIFICATION: &[&str] = &["Unknown", "FalsePositive", "TruePositive", "InformationalExpectedActivity"];

fn update(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    for (k, v) in &body {
        let ok = match k.as_str() {
            "status" => v.as_str().is_some_and(|s| STATUS.contains(&s)),
            "classification" => v.as_str().is_some_and(|s| CLASSIFICATION.contains(&s)),
            "assignedTo" | "determination" | "comment" => v.is_string() || v.is_null(),
            "tags" => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            _ => {
                return Err(ApiError::bad_request(
                    "InvalidRequestBody",
                    format!("Unknown property '{k}' (body parameters are case-sensitive)"),
                ));
            }
        };
        if !ok {
            return Err(ApiError::bad_request("InvalidRequestBody", format!("Invalid value {v} for {k}")));
        }
    }
    let now = iso(ctx.now);
    let actor = ctx.actor();
    let mut tenant = lock(&ctx.sim.tenant);
    let inc = ctx.item_mut(&mut tenant.seed.incidents, "incidentId", "Incident")?;
    if let Some(o) = inc.as_object_mut() {
        for (k, v) in &body {
            if k == "comment" {
                let entry = json!({"comment": v, "createdBy": actor, "createdTime": now});
                match o.get_mut("comments") {
                    Some(Value::Array(c)) => c.push(entry),
                    _ => {
                        o.insert("comments".into(), json!([entry]));
                    }
                }
            } else {
                o.insert(k.clone(), v.clone());
            }
        }
        o.insert("lastUpdateTime".into(), json!(now));
    }
    let out = inc.clone();
    drop(tenant);
    entity(ctx, StatusCode::OK, out)
}
