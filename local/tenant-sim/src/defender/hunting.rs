//! Advanced hunting: MDE `/api/advancedqueries/run`, XDR `/api/advancedhunting/run` and Graph
//! `runHuntingQuery`, over the seeded tables with the KQL subset of [`crate::kql`].
//!
//! Shapes follow each API's answer: MDE and XDR `{Stats, Schema, Results}` (MDE's page documents
//! only `Schema` and `Results`, but recorded MDE answers carry `Stats` too — see
//! `contract/real-responses/cisco_relay__advanced_hunting.json`), Graph `{@odata.context, schema:
//! [{name,type}], results}`. Each column is reported with the type the advanced-hunting schema declares
//! for it ([`super::hunting_schema`]: `Int32` ports, `SByte` booleans, `Int64` ids), as real answers
//! do, never one guessed from its values. Results are capped at the documented
//! 100,000 rows; a capped answer says so (XDR/MDE: 400 like an exceeded result limit would be
//! reported is not documented, so the simulator returns the capped rows and marks `Stats.truncated`
//! for XDR and an `x-sim-truncated: true` field nowhere else — callers detect truncation by row count).
//! Only the last 30 days are visible (Graph: `Timespan` narrows or widens the window).

use super::{Ctx, Reply};
use crate::{errors::ApiError, kql, spec::Api, state::lock};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

/// The type a result column is reported with: the one the advanced-hunting schema declares for it in
/// the query's table ([`super::hunting_schema`]); a column the schema does not name (`count_` of a
/// `summarize`, a literal `extend`, a seeded table of its own) has the type of what KQL computed.
fn column_type(table: &str, c: &kql::Column) -> &'static str {
    super::hunting_schema::declared(table, &c.name).unwrap_or_else(|| c.kind.as_str())
}

/// The documented row cap.
pub const MAX_ROWS: usize = 100_000;

pub(super) fn handle(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    let Some(text) = body.get("Query").and_then(Value::as_str) else {
        return Err(ApiError::bad_request(
            "MissingRequiredParameter",
            "Query is required (body parameters are case-sensitive)",
        ));
    };
    let window_days = match (ctx.ep.api, body.get("Timespan").and_then(Value::as_str)) {
        (Api::Graph, Some(ts)) => {
            parse_days(ts).ok_or_else(|| ApiError::bad_request("BadRequest", format!("Invalid Timespan '{ts}'")))?
        }
        _ => 30,
    };
    let query = kql::parse(text).map_err(|e| ApiError::bad_request("BadRequest", format!("Query is invalid: {e}")))?;
    let since = ctx.now - chrono::Duration::days(window_days);
    let tables = {
        let tenant = lock(&ctx.sim.tenant);
        tenant
            .seed
            .hunting
            .iter()
            .map(|(name, rows)| {
                let visible: Vec<Map<String, Value>> = rows
                    .iter()
                    .filter(|r| {
                        r.get("Timestamp")
                            .and_then(Value::as_str)
                            .and_then(crate::clock::parse_iso)
                            .is_none_or(|t| t >= since && t <= ctx.now)
                    })
                    .cloned()
                    .collect();
                (name.clone(), visible)
            })
            .collect()
    };
    // The documented cap, unless the control API lowered it (`hunting_max_rows`) for a small test.
    let cap = lock(&ctx.sim.config).hunting_max_rows.clamp(1, MAX_ROWS);
    let out = query
        .run(&tables, ctx.now, cap)
        .map_err(|e| ApiError::bad_request("BadRequest", format!("Query is invalid: {e}")))?;
    let rows: Vec<Value> = out.rows.into_iter().map(Value::Object).collect();
    let body = match ctx.ep.api {
        Api::Graph => json!({
            "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.security.huntingQueryResults", ctx.sim.base_url),
            "schema": out.schema.iter().map(|c| json!({"name": c.name, "type": column_type(query.table(), c)})).collect::<Vec<_>>(),
            "results": rows,
        }),
        _ => {
            let schema: Vec<Value> =
                out.schema.iter().map(|c| json!({"Name": c.name, "Type": column_type(query.table(), c)})).collect();
            json!({
                "Stats": {"ExecutionTime": 0.01, "resource_usage": {"cache": {"memory": {"hits": 0, "misses": 0, "total": 0}, "disk": {"hits": 0, "misses": 0, "total": 0}}, "cpu": {"user": "00:00:00.0100000", "kernel": "00:00:00", "total cpu": "00:00:00.0100000"}, "memory": {"peak_per_node": 0}}, "dataset_statistics": [{"table_row_count": rows.len(), "table_size": 0}]},
                "Schema": schema,
                "Results": rows,
            })
        }
    };
    Ok((StatusCode::OK, Some(body)))
}

/// Reads the ISO 8601 durations Graph accepts (`P30D`, `P90D`, `PT12H`, `start/end` → days covered).
fn parse_days(ts: &str) -> Option<i64> {
    let part = ts.split('/').find(|p| p.starts_with('P')).unwrap_or(ts);
    let rest = part.strip_prefix('P')?;
    if let Some(d) = rest.strip_suffix('D') {
        return d.parse().ok();
    }
    if let Some(h) = rest.strip_prefix('T').and_then(|t| t.strip_suffix('H')) {
        return h.parse::<i64>().ok().map(|h| (h + 23) / 24);
    }
    // start/end with datetimes: the window reaches back to the start.
    let start = crate::clock::parse_iso(ts.split('/').next()?)?;
    Some((chrono::Utc::now() - start).num_days().max(1) + 1)
}
