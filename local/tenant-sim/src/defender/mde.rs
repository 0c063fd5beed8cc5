//! Defender for Endpoint resources: alerts, machines, files, IPs, domains, users, indicators,
//! investigations. Relations (an IP's alerts, a file's machines, a domain's machines) are derived from
//! the seeded alerts' `evidence`, so every answer tells one consistent story.

use super::{Ctx, Reply, collection, entity, field_eq, list};
use crate::{clock::iso, errors::ApiError, state::lock};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

pub(super) fn handle(ctx: &Ctx<'_>) -> Reply {
    match ctx.ep.name.as_str() {
        "mde.alerts.list" => alerts_list(ctx),
        "mde.alerts.get" => alert_get(ctx),
        "mde.alerts.update" => alert_update(ctx),
        "mde.alerts.batch_update" => alerts_batch_update(ctx),
        "mde.alerts.create_by_reference" => alert_create(ctx),
        "mde.alerts.related_domains" => alert_related(ctx, Related::Domains),
        "mde.alerts.related_files" => alert_related(ctx, Related::Files),
        "mde.alerts.related_ips" => alert_related(ctx, Related::Ips),
        "mde.alerts.related_machine" => alert_related(ctx, Related::Machine),
        "mde.alerts.related_user" => alert_related(ctx, Related::User),
        "mde.machines.list" => machines_list(ctx),
        "mde.machines.get" => machine_get(ctx),
        "mde.machines.find_by_ip" => machines_by_ip(ctx),
        "mde.machines.find_by_tag" => machines_by_tag(ctx),
        "mde.machines.logon_users" => per_machine(ctx, |s| &s.logon_users),
        "mde.machines.software" => per_machine(ctx, |s| &s.software),
        "mde.machines.vulnerabilities" => per_machine(ctx, |s| &s.vulnerabilities),
        "mde.machines.alerts" => machine_alerts(ctx),
        "mde.machines.tags" => machine_tags(ctx),
        "mde.machines.tags_multiple" => machines_tags(ctx),
        "mde.files.get" => file_get(ctx),
        "mde.files.stats" => file_stats(ctx),
        "mde.files.alerts" => file_related(ctx, false),
        "mde.files.machines" => file_related(ctx, true),
        "mde.ips.stats" => ip_stats(ctx),
        "mde.ips.alerts" => ip_alerts(ctx),
        "mde.domains.stats" => domain_stats(ctx),
        "mde.domains.alerts" => domain_related(ctx, false),
        "mde.domains.machines" => domain_related(ctx, true),
        "mde.users.alerts" => user_related(ctx, false),
        "mde.users.machines" => user_related(ctx, true),
        "mde.indicators.list" => indicators_list(ctx),
        "mde.indicators.submit" => indicator_submit(ctx),
        "mde.indicators.import" => indicators_import(ctx),
        "mde.indicators.delete" => indicator_delete(ctx),
        "mde.indicators.batch_delete" => indicators_batch_delete(ctx),
        "mde.investigations.list" => investigations_list(ctx),
        "mde.investigations.get" => investigation_get(ctx),
        "mde.investigations.start" => investigation_start(ctx),
        other => Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, "NotImplemented", format!("{other} has no handler"))),
    }
}

// ---------- alerts ----------

/// An alert as listed: `evidence` is empty unless `$expand=evidence` (as the documented list shows).
fn shape_alert(a: &Value, expand_evidence: bool) -> Value {
    let mut a = a.clone();
    if !expand_evidence
        && let Some(o) = a.as_object_mut()
        && o.contains_key("evidence")
    {
        o.insert("evidence".into(), json!([]));
    }
    a
}

fn expands(ctx: &Ctx<'_>, what: &str) -> bool {
    ctx.q("$expand").is_some_and(|e| e.split(',').any(|x| x.trim().eq_ignore_ascii_case(what)))
}

fn alerts_list(ctx: &Ctx<'_>) -> Reply {
    let expand = expands(ctx, "evidence");
    let items: Vec<Value> = lock(&ctx.sim.tenant).seed.alerts.iter().map(|a| shape_alert(a, expand)).collect();
    list(ctx, items)
}

/// `GET /api/alerts` when the seed holds a procedural sequence ([`crate::seed::GeneratedAlerts`]):
/// its page as JSON text (`None`: no sequence seeded; the seeded alerts answer). The text is written
/// directly, the first seeded alert's members serialised once per page and each alert's `id` and
/// `lastUpdateTime` put before them, instead of a JSON tree of 10,000 cloned alerts that is then
/// serialised: a volume bench measures the client's work, not the stand-in's. What is answered —
/// bounds, order, `$top`/`$skip`, errors — is as strict as the seeded list's.
pub(super) fn generated_alerts_page(ctx: &Ctx<'_>) -> Option<Result<Vec<u8>, ApiError>> {
    let g = lock(&ctx.sim.tenant).seed.generated_alerts.clone()?;
    Some(generated_alerts(ctx, &g, expands(ctx, "evidence")))
}

/// One page of the procedural sequence, computed from the query, as JSON text.
fn generated_alerts(ctx: &Ctx<'_>, g: &crate::seed::GeneratedAlerts, expand: bool) -> Result<Vec<u8>, ApiError> {
    let bad = |m: String| ApiError::bad_request("ODataError", m);
    let first =
        crate::clock::parse_iso(&g.first).ok_or_else(|| bad(format!("bad generated_alerts.first {}", g.first)))?;
    let step = i64::max(g.step_ms, 1) * 1_000_000;
    let count = g.count as i64;
    let ns = |t: chrono::DateTime<chrono::Utc>| {
        (t - first).num_nanoseconds().unwrap_or(if t > first { i64::MAX } else { i64::MIN })
    };
    // The first index whose time is >= t (or > t).
    let at_least = |t| ns(t).div_euclid(step) + i64::from(ns(t).rem_euclid(step) != 0);
    let above = |t| ns(t).div_euclid(step) + 1;
    let (mut lo, mut hi) = (0i64, count);
    if let Some(f) = ctx.q("$filter") {
        for clause in f.split(" and ") {
            let parts: Vec<&str> = clause.split_whitespace().collect();
            let [field, op, value] = parts.as_slice() else {
                return Err(bad(format!("generated alerts: unsupported filter clause '{clause}'")));
            };
            let t = crate::clock::parse_iso(value.trim_matches('\''))
                .filter(|_| *field == "lastUpdateTime")
                .ok_or_else(|| bad(format!("generated alerts: unsupported filter clause '{clause}'")))?;
            match *op {
                "ge" => lo = lo.max(at_least(t)),
                "gt" => lo = lo.max(above(t)),
                "lt" => hi = hi.min(at_least(t)),
                "le" => hi = hi.min(above(t)),
                _ => return Err(bad(format!("generated alerts: unsupported operator '{op}'"))),
            }
        }
    }
    let (strict, key) = {
        let c = lock(&ctx.sim.config);
        (c.strict, c.order_key)
    };
    // Strict: `$orderby` is not documented here and is ignored (see the module's "Strict paging").
    if !strict
        && let Some(o) = ctx.q("$orderby")
        && !matches!(o.trim(), "lastUpdateTime" | "lastUpdateTime asc")
    {
        return Err(bad(format!("generated alerts: unsupported orderby '{o}'")));
    }
    let num = |name: &str| -> Result<Option<i64>, ApiError> {
        ctx.q(name)
            .map(|v| v.trim().parse::<i64>().map_err(|_| bad(format!("Invalid value '{v}' for {name}"))))
            .transpose()
    };
    let max = ctx.ep.max_top.unwrap_or(10_000) as i64;
    let top = num("$top")?;
    if top.is_some_and(|t| t > max || t < 0) {
        return Err(bad(format!("The limit of '{max}' for Top query has been exceeded.")));
    }
    let skip = num("$skip")?.unwrap_or(0).max(0);
    let page = top.unwrap_or(max);
    let (lo, hi) = (lo.max(0), hi.min(count));
    let start = lo.saturating_add(skip);
    let end = hi.min(start.saturating_add(page));
    let template = lock(&ctx.sim.tenant).seed.alerts.first().cloned().unwrap_or_else(|| json!({}));
    let internal =
        |e: &serde_json::Error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string());
    // The template serialised once, with marks where each alert's `id` and `lastUpdateTime` go (the
    // members keep the template's order, so the text is the one a tree of clones would serialise to).
    const ID: &str = "\u{1}id\u{1}";
    const TIME: &str = "\u{1}time\u{1}";
    let mut shaped = shape_alert(&template, expand);
    if let Some(o) = shaped.as_object_mut() {
        o.insert("id".into(), json!(ID));
        o.insert("lastUpdateTime".into(), json!(TIME));
    }
    let text = serde_json::to_string(&shaped).map_err(|e| internal(&e))?;
    // The text between the marks, each piece followed by the member it precedes (`None`: the end).
    let (id_mark, time_mark) =
        (serde_json::to_string(ID).map_err(|e| internal(&e))?, serde_json::to_string(TIME).map_err(|e| internal(&e))?);
    let mut marks: Vec<(usize, usize, bool)> = [(&id_mark, true), (&time_mark, false)]
        .into_iter()
        .filter_map(|(m, is_id)| text.find(m.as_str()).map(|at| (at, m.len(), is_id)))
        .collect();
    marks.sort_unstable();
    let mut pieces: Vec<(&str, Option<bool>)> = Vec::with_capacity(3);
    let mut from = 0;
    for (at, len, is_id) in marks {
        pieces.push((&text[from..at], Some(is_id)));
        from = at + len;
    }
    pieces.push((&text[from..], None));
    let json_text = |v: &str| serde_json::to_string(v).map_err(|e| internal(&e));
    let n = usize::try_from((end - start).max(0)).unwrap_or(0);
    let mut out = Vec::with_capacity(256 + n * (text.len() + 16));
    out.extend_from_slice(b"{\"@odata.context\":");
    out.extend_from_slice(json_text(&ctx.context())?.as_bytes());
    if top.is_none() && end < hi {
        out.extend_from_slice(b",\"@odata.nextLink\":");
        let link = super::next_link(ctx, usize::try_from(skip + page).unwrap_or(0), page as usize, strict);
        out.extend_from_slice(json_text(&link)?.as_bytes());
    }
    out.extend_from_slice(b",\"value\":[");
    let order = Stride::new(key, u64::try_from(hi - lo).unwrap_or(0));
    for p in start..end {
        // Position `p` of the answer; strict: a keyed permutation of the filtered range.
        let i = if strict { lo + i64::try_from(order.at(u64::try_from(p - lo).unwrap_or(0))).unwrap_or(0) } else { p };
        if p > start {
            out.push(b',');
        }
        for (piece, member) in &pieces {
            out.extend_from_slice(piece.as_bytes());
            // Digits, letters, `-`, `:` and `.`: nothing to escape.
            match member {
                Some(true) => out.extend_from_slice(format!("\"da-gen-{i:010}\"").as_bytes()),
                Some(false) => {
                    let time = iso(first + chrono::Duration::nanoseconds(i * step));
                    out.extend_from_slice(format!("\"{time}\"").as_bytes());
                }
                None => {}
            }
        }
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// A keyed permutation of `0..n`: `p -> (a·p + c) mod n` with `a` coprime to `n` near `n/φ`, so
/// neighbours in the answer are far apart in time (and no arithmetic needs the whole range).
struct Stride {
    n: u64,
    a: u64,
    c: u64,
}

impl Stride {
    fn new(key: u64, n: u64) -> Self {
        fn gcd(mut x: u64, mut y: u64) -> u64 {
            while y != 0 {
                (x, y) = (y, x % y);
            }
            x
        }
        if n <= 1 {
            return Self { n, a: 1, c: 0 };
        }
        let mut a = ((n as f64) * 0.618_033_988_749_895) as u64 + super::keyed_hash(key, &n.to_le_bytes()) % 7;
        a = a.clamp(1, n - 1);
        while gcd(a, n) != 1 {
            a = a % (n - 1) + 1;
        }
        Self { n, a, c: super::keyed_hash(key, b"offset") % n }
    }

    fn at(&self, p: u64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        ((u128::from(self.a) * u128::from(p) + u128::from(self.c)) % u128::from(self.n)) as u64
    }
}

fn find_alert(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    lock(&ctx.sim.tenant)
        .seed
        .alerts
        .iter()
        .find(|a| field_eq(a, "id", id))
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Alert {id} was not found")))
}

fn alert_get(ctx: &Ctx<'_>) -> Reply {
    let a = find_alert(ctx, ctx.id())?;
    entity(ctx, StatusCode::OK, a)
}

const ALERT_STATUS: &[&str] = &["New", "InProgress", "Resolved"];
const CLASSIFICATION: &[&str] = &["Unknown", "FalsePositive", "TruePositive", "InformationalExpectedActivity"];
/// Defender's determinations (Graph spells several differently: those are refused here).
const DETERMINATION: &[&str] = &[
    "NotAvailable",
    "Apt",
    "Malware",
    "SecurityPersonnel",
    "SecurityTesting",
    "UnwantedSoftware",
    "Other",
    "MultiStagedAttack",
    "CompromisedUser",
    "Phishing",
    "MaliciousUserActivity",
    "Clean",
    "InsufficientData",
    "ConfirmedUserActivity",
    "LineOfBusinessApplication",
];

fn apply_alert_update(a: &mut Value, body: &Map<String, Value>, actor: &str, now: &str) -> Result<(), ApiError> {
    for key in body.keys() {
        if !["status", "assignedTo", "classification", "determination", "comment", "alertIds"].contains(&key.as_str()) {
            return Err(ApiError::bad_request(
                "InvalidRequestBody",
                format!("Unknown property '{key}' (body parameters are case-sensitive)"),
            ));
        }
    }
    let enum_check = |key: &str, allowed: &[&str]| -> Result<Option<String>, ApiError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if allowed.iter().any(|x| x == s) => Ok(Some(s.clone())),
            Some(v) => Err(ApiError::bad_request(
                "InvalidRequestBody",
                format!("Invalid value {v} for {key}; expected one of {}", allowed.join(", ")),
            )),
        }
    };
    let status = enum_check("status", ALERT_STATUS)?;
    let classification = enum_check("classification", CLASSIFICATION)?;
    enum_check("determination", DETERMINATION)?;
    if let Some(v) = body.get("assignedTo").filter(|v| !v.is_null() && !v.is_string()) {
        return Err(ApiError::bad_request("InvalidRequestBody", format!("Invalid value {v} for assignedTo")));
    }
    if let Some(v) = body.get("comment").filter(|v| !v.is_null() && !v.is_string()) {
        return Err(ApiError::bad_request("InvalidRequestBody", format!("Invalid value {v} for comment")));
    }
    let Some(o) = a.as_object_mut() else { return Ok(()) };
    if let Some(s) = status {
        if s == "Resolved" {
            o.insert("resolvedTime".into(), json!(now));
        }
        o.insert("status".into(), json!(s));
    }
    if let Some(c) = classification {
        o.insert("classification".into(), json!(c));
    }
    for key in ["assignedTo", "determination"] {
        if let Some(v) = body.get(key) {
            o.insert(key.into(), v.clone());
        }
    }
    if let Some(Value::String(c)) = body.get("comment") {
        let entry = json!({"comment": c, "createdBy": actor, "createdTime": now});
        match o.get_mut("comments") {
            Some(Value::Array(list)) => list.push(entry),
            _ => {
                o.insert("comments".into(), json!([entry]));
            }
        }
    }
    o.insert("lastUpdateTime".into(), json!(now));
    Ok(())
}

fn alert_update(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    let now = iso(ctx.now);
    let mut tenant = lock(&ctx.sim.tenant);
    let a = ctx.item_mut(&mut tenant.seed.alerts, "id", "Alert")?;
    apply_alert_update(a, &body, &ctx.actor(), &now)?;
    let a = a.clone();
    drop(tenant);
    entity(ctx, StatusCode::OK, a)
}

fn alerts_batch_update(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    let ids: Vec<String> = match body.get("alertIds") {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => return Err(ApiError::bad_request("MissingRequiredParameter", "alertIds is required")),
    };
    let now = iso(ctx.now);
    let mut tenant = lock(&ctx.sim.tenant);
    if let Some(missing) = ids.iter().find(|id| !tenant.seed.alerts.iter().any(|a| field_eq(a, "id", id))) {
        return Err(ApiError::not_found(format!("Alert {missing} was not found")));
    }
    for a in tenant.seed.alerts.iter_mut().filter(|a| ids.iter().any(|id| field_eq(a, "id", id))) {
        apply_alert_update(a, &body, &ctx.actor(), &now)?;
    }
    Ok((StatusCode::OK, None))
}

fn alert_create(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    let required =
        ["machineId", "severity", "title", "description", "recommendedAction", "eventTime", "reportId", "category"];
    let get = |k: &str| {
        body.get(k).and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string())))
    };
    for k in required {
        if get(k).is_none() {
            return Err(ApiError::bad_request("MissingRequiredParameter", format!("{k} is required")));
        }
    }
    let (machine_id, report_id, event_time) = (
        get("machineId").unwrap_or_default(),
        get("reportId").unwrap_or_default(),
        get("eventTime").unwrap_or_default(),
    );
    let mut tenant = lock(&ctx.sim.tenant);
    let event_found = tenant.seed.hunting.values().flatten().any(|row| {
        row.get("DeviceId").and_then(Value::as_str) == Some(machine_id.as_str())
            && row.get("ReportId").is_some_and(|r| r.to_string().trim_matches('"') == report_id)
            && row.get("Timestamp").and_then(Value::as_str).and_then(crate::clock::parse_iso)
                == crate::clock::parse_iso(&event_time)
    });
    let machine = tenant.seed.machines.iter().find(|m| field_eq(m, "id", &machine_id)).cloned();
    let (Some(machine), true) = (machine, event_found) else {
        return Err(ApiError::not_found(format!(
            "Event (reportId {report_id}, eventTime {event_time}, machineId {machine_id}) was not found"
        )));
    };
    let now = iso(ctx.now);
    let template = tenant.seed.alerts.first().cloned().unwrap_or_else(|| json!({}));
    let mut alert = template.as_object().cloned().unwrap_or_default();
    for v in alert.values_mut() {
        *v = Value::Null;
    }
    let id = format!("da{}_{}", ctx.now.timestamp_micros(), rand::random::<u32>());
    let fields = [
        ("id", json!(id)),
        ("severity", json!(get("severity"))),
        ("status", json!("New")),
        ("title", json!(get("title"))),
        ("description", json!(get("description"))),
        ("category", json!(get("category"))),
        ("detectionSource", json!("CustomDetection")),
        ("alertCreationTime", json!(now)),
        ("firstEventTime", json!(event_time)),
        ("lastEventTime", json!(event_time)),
        ("lastUpdateTime", json!(now)),
        ("machineId", machine["id"].clone()),
        ("computerDnsName", machine["computerDnsName"].clone()),
        ("rbacGroupName", machine["rbacGroupName"].clone()),
        ("aadTenantId", json!(tenant.seed.tenant_id)),
        ("mitreTechniques", json!([])),
        ("comments", json!([])),
        ("evidence", json!([])),
    ];
    for (k, v) in fields {
        alert.insert(k.into(), v);
    }
    let alert = Value::Object(alert);
    tenant.seed.alerts.push(alert.clone());
    drop(tenant);
    Ok((StatusCode::OK, Some(alert)))
}

enum Related {
    Domains,
    Files,
    Ips,
    Machine,
    User,
}

fn evidence(a: &Value) -> impl Iterator<Item = &Value> {
    a.get("evidence").and_then(Value::as_array).into_iter().flatten()
}

/// The host of a URL evidence (`https://x.example/p` → `x.example`).
fn url_host(u: &str) -> Option<String> {
    let with_scheme = if u.contains("://") { u.to_string() } else { format!("http://{u}") };
    url::Url::parse(&with_scheme).ok().and_then(|p| p.host_str().map(str::to_ascii_lowercase))
}

fn alert_related(ctx: &Ctx<'_>, what: Related) -> Reply {
    let a = find_alert(ctx, ctx.id())?;
    let tenant = lock(&ctx.sim.tenant);
    match what {
        Related::Domains => {
            let hosts: BTreeSet<String> = evidence(&a).filter_map(|e| e["url"].as_str()).filter_map(url_host).collect();
            drop(tenant);
            collection(ctx, hosts.into_iter().map(|h| json!({"host": h})).collect())
        }
        Related::Ips => {
            let ips: BTreeSet<String> =
                evidence(&a).filter_map(|e| e["ipAddress"].as_str().map(str::to_string)).collect();
            drop(tenant);
            collection(ctx, ips.into_iter().map(|ip| json!({"id": ip})).collect())
        }
        Related::Files => {
            let sha1s: BTreeSet<String> =
                evidence(&a).filter_map(|e| e["sha1"].as_str().map(str::to_ascii_lowercase)).collect();
            let files: Vec<Value> = tenant
                .seed
                .files
                .iter()
                .filter_map(|f| f.get("file"))
                .filter(|f| f["sha1"].as_str().is_some_and(|s| sha1s.contains(&s.to_ascii_lowercase())))
                .cloned()
                .collect();
            drop(tenant);
            collection(ctx, files)
        }
        Related::Machine => {
            let mid = a["machineId"].as_str().unwrap_or_default();
            let m = tenant.seed.machines.iter().find(|m| field_eq(m, "id", mid)).cloned();
            drop(tenant);
            let m = m.ok_or_else(|| ApiError::not_found(format!("Machine {mid} was not found")))?;
            entity(ctx, StatusCode::OK, m)
        }
        Related::User => {
            let u = tenant.seed.alert_users.get(ctx.id()).cloned();
            drop(tenant);
            let u = u.ok_or_else(|| ApiError::not_found(format!("No user is related to alert {}", ctx.id())))?;
            entity(ctx, StatusCode::OK, u)
        }
    }
}

// ---------- machines ----------

fn machines_list(ctx: &Ctx<'_>) -> Reply {
    let items = lock(&ctx.sim.tenant).seed.machines.clone();
    list(ctx, items)
}

fn find_machine(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    let tenant = lock(&ctx.sim.tenant);
    // The API accepts the machine id or its DNS name.
    tenant
        .seed
        .machines
        .iter()
        .find(|m| field_eq(m, "id", id))
        .or_else(|| tenant.seed.machines.iter().find(|m| field_eq(m, "computerDnsName", id)))
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Machine {id} was not found")))
}

fn machine_get(ctx: &Ctx<'_>) -> Reply {
    let m = find_machine(ctx, ctx.id())?;
    entity(ctx, StatusCode::OK, m)
}

fn machine_alerts(ctx: &Ctx<'_>) -> Reply {
    let m = find_machine(ctx, ctx.id())?;
    let mid = m["id"].as_str().unwrap_or_default();
    let alerts: Vec<Value> = lock(&ctx.sim.tenant)
        .seed
        .alerts
        .iter()
        .filter(|a| field_eq(a, "machineId", mid))
        .map(|a| shape_alert(a, false))
        .collect();
    collection(ctx, alerts)
}

fn per_machine(
    ctx: &Ctx<'_>,
    pick: fn(&crate::seed::Seed) -> &std::collections::BTreeMap<String, Vec<Value>>,
) -> Reply {
    let m = find_machine(ctx, ctx.id())?;
    let mid = m["id"].as_str().unwrap_or_default();
    let items = pick(&lock(&ctx.sim.tenant).seed).get(mid).cloned().unwrap_or_default();
    collection(ctx, items)
}

fn machines_by_ip(ctx: &Ctx<'_>) -> Reply {
    let ip_text = ctx.matched.param("ip").unwrap_or_default();
    let ip: std::net::IpAddr = ip_text
        .parse()
        .map_err(|_| ApiError::bad_request("InvalidIpAddress", format!("'{ip_text}' is not a valid IP address")))?;
    let ts_text = ctx.matched.param("timestamp").unwrap_or_default();
    let ts = crate::clock::parse_iso(ts_text)
        .ok_or_else(|| ApiError::bad_request("InvalidInput", format!("'{ts_text}' is not a valid timestamp")))?;
    if ts > ctx.now || ctx.now - ts > chrono::Duration::days(30) {
        return Err(ApiError::bad_request("InvalidInput", "The timestamp must be within the past 30 days"));
    }
    let ip = ip.to_string();
    let items: Vec<Value> = lock(&ctx.sim.tenant)
        .seed
        .machines
        .iter()
        .filter(|m| {
            field_eq(m, "lastIpAddress", &ip)
                || m["ipAddresses"].as_array().is_some_and(|a| a.iter().any(|x| field_eq(x, "ipAddress", &ip)))
        })
        .cloned()
        .collect();
    collection(ctx, items)
}

fn machines_by_tag(ctx: &Ctx<'_>) -> Reply {
    let tag =
        ctx.q("tag").ok_or_else(|| ApiError::bad_request("MissingRequiredParameter", "tag is required"))?.to_string();
    let starts = ctx.q("useStartsWithFilter").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let items: Vec<Value> = lock(&ctx.sim.tenant)
        .seed
        .machines
        .iter()
        .filter(|m| {
            m["machineTags"].as_array().is_some_and(|tags| {
                tags.iter().filter_map(Value::as_str).any(|t| {
                    if starts {
                        t.to_ascii_lowercase().starts_with(&tag.to_ascii_lowercase())
                    } else {
                        t.eq_ignore_ascii_case(&tag)
                    }
                })
            })
        })
        .cloned()
        .collect();
    collection(ctx, items)
}

fn tag_op(body: &Map<String, Value>) -> Result<(String, bool), ApiError> {
    let value = body.get("Value").and_then(Value::as_str).filter(|v| !v.trim().is_empty());
    let action = body.get("Action").and_then(Value::as_str);
    match (value, action) {
        (Some(v), Some("Add")) => Ok((v.to_string(), true)),
        (Some(v), Some("Remove")) => Ok((v.to_string(), false)),
        (None, _) => Err(ApiError::bad_request(
            "MissingRequiredParameter",
            "Value is required (body parameters are case-sensitive)",
        )),
        (_, _) => Err(ApiError::bad_request("InvalidRequestBody", "Action must be 'Add' or 'Remove'")),
    }
}

fn retag(m: &mut Value, tag: &str, add: bool) {
    if let Some(o) = m.as_object_mut() {
        let mut tags: Vec<Value> = o.get("machineTags").and_then(Value::as_array).cloned().unwrap_or_default();
        tags.retain(|t| t.as_str() != Some(tag));
        if add {
            tags.push(json!(tag));
        }
        o.insert("machineTags".into(), Value::Array(tags));
    }
}

fn machine_tags(ctx: &Ctx<'_>) -> Reply {
    let (tag, add) = tag_op(&ctx.json_body()?)?;
    let mut tenant = lock(&ctx.sim.tenant);
    let m = ctx.item_mut(&mut tenant.seed.machines, "id", "Machine")?;
    retag(m, &tag, add);
    let m = m.clone();
    drop(tenant);
    entity(ctx, StatusCode::OK, m)
}

fn machines_tags(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    let (tag, add) = tag_op(&body)?;
    let ids: Vec<String> = body
        .get("MachineIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if ids.is_empty() {
        return Err(ApiError::bad_request("MissingRequiredParameter", "MachineIds is required"));
    }
    if ids.len() > 500 {
        return Err(ApiError::bad_request("MaximumBatchSizeExceeded", "Up to 500 machines per call"));
    }
    let mut tenant = lock(&ctx.sim.tenant);
    let mut out = Vec::new();
    for m in tenant.seed.machines.iter_mut().filter(|m| ids.iter().any(|id| field_eq(m, "id", id))) {
        retag(m, &tag, add);
        out.push(m.clone());
    }
    drop(tenant);
    collection(ctx, out)
}

// ---------- files, IPs, domains, users ----------

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The seeded file whose SHA-1, SHA-256 or MD5 is `id`, to the letter. Microsoft's pages do not say
/// whether `/api/files/{id}` matches a hash without its case; the API answers with lower-case hex,
/// and the least lenient Defender finds a file only by that spelling: an upper-case hash is a well-formed
/// hash of no file (404), never the same file.
fn file_record(ctx: &Ctx<'_>, id: &str) -> Result<Option<Value>, ApiError> {
    if !(is_hex(id, 40) || is_hex(id, 64) || is_hex(id, 32)) {
        return Err(ApiError::bad_request("InvalidHashValue", format!("'{id}' is not a valid file hash")));
    }
    Ok(lock(&ctx.sim.tenant)
        .seed
        .files
        .iter()
        .find(|f| ["sha1", "sha256", "md5"].iter().any(|k| f["file"][k].as_str() == Some(id)))
        .cloned())
}

fn file_get(ctx: &Ctx<'_>) -> Reply {
    let f =
        file_record(ctx, ctx.id())?.ok_or_else(|| ApiError::not_found(format!("File {} was not found", ctx.id())))?;
    entity(ctx, StatusCode::OK, f["file"].clone())
}

fn file_stats(ctx: &Ctx<'_>) -> Reply {
    lookback(ctx)?;
    let f =
        file_record(ctx, ctx.id())?.ok_or_else(|| ApiError::not_found(format!("File {} was not found", ctx.id())))?;
    entity(ctx, StatusCode::OK, f["stats"].clone())
}

/// A file's alerts or machines: the alerts whose evidence names its SHA-1 to the letter (as
/// [`file_record`], case and all).
fn file_related(ctx: &Ctx<'_>, machines: bool) -> Reply {
    let id = ctx.id();
    if !is_hex(id, 40) {
        return Err(ApiError::bad_request("InvalidHashValue", "Only SHA-1 is supported for this operation"));
    }
    let tenant = lock(&ctx.sim.tenant);
    let alerts: Vec<&Value> =
        tenant.seed.alerts.iter().filter(|a| evidence(a).any(|e| e["sha1"].as_str() == Some(id))).collect();
    let out = if machines {
        machines_of(&tenant.seed.machines, &alerts, usize::MAX)
    } else {
        alerts.iter().map(|a| shape_alert(a, false)).collect()
    };
    drop(tenant);
    collection(ctx, out)
}

fn machines_of(all: &[Value], alerts: &[&Value], cap: usize) -> Vec<Value> {
    let ids: BTreeSet<&str> = alerts.iter().filter_map(|a| a["machineId"].as_str()).collect();
    all.iter().filter(|m| m["id"].as_str().is_some_and(|id| ids.contains(id))).take(cap).cloned().collect()
}

fn lookback(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    if let Some(h) = ctx.q("lookBackHours") {
        match h.parse::<i32>() {
            Ok(n) if (1..=720).contains(&n) => {}
            _ => {
                return Err(ApiError::bad_request(
                    "InvalidInput",
                    "lookBackHours must be an integer between 1 and 720",
                ));
            }
        }
    }
    Ok(())
}

fn parse_ip(text: &str) -> Result<String, ApiError> {
    text.parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| ApiError::bad_request("InvalidIpAddress", format!("'{text}' is not a valid IP address")))
}

fn ip_stats(ctx: &Ctx<'_>) -> Reply {
    lookback(ctx)?;
    let ip = parse_ip(ctx.id())?;
    let found =
        lock(&ctx.sim.tenant).seed.ips.iter().map(|i| &i["stats"]).find(|s| field_eq(s, "ipAddress", &ip)).cloned();
    let stats = found.unwrap_or_else(
        || json!({"ipAddress": ip, "organizationPrevalence": 0, "orgFirstSeen": null, "orgLastSeen": null}),
    );
    entity(ctx, StatusCode::OK, stats)
}

fn ip_alerts(ctx: &Ctx<'_>) -> Reply {
    let ip = parse_ip(ctx.id())?;
    let alerts: Vec<Value> = lock(&ctx.sim.tenant)
        .seed
        .alerts
        .iter()
        .filter(|a| evidence(a).any(|e| field_eq(e, "ipAddress", &ip)))
        .map(|a| shape_alert(a, false))
        .collect();
    collection(ctx, alerts)
}

fn parse_domain(text: &str) -> Result<String, ApiError> {
    let d = text.trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(d)
    } else {
        Err(ApiError::bad_request("InvalidDomainName", format!("'{text}' is not a valid domain name")))
    }
}

fn alert_touches_domain(a: &Value, domain: &str) -> bool {
    evidence(a).any(|e| {
        e["url"].as_str().and_then(url_host).is_some_and(|h| h == domain || h.ends_with(&format!(".{domain}")))
    })
}

fn domain_stats(ctx: &Ctx<'_>) -> Reply {
    lookback(ctx)?;
    let d = parse_domain(ctx.id())?;
    let found =
        lock(&ctx.sim.tenant).seed.domains.iter().map(|x| &x["stats"]).find(|s| field_eq(s, "host", &d)).cloned();
    let stats = found
        .unwrap_or_else(|| json!({"host": d, "organizationPrevalence": 0, "orgFirstSeen": null, "orgLastSeen": null}));
    entity(ctx, StatusCode::OK, stats)
}

fn domain_related(ctx: &Ctx<'_>, machines: bool) -> Reply {
    let d = parse_domain(ctx.id())?;
    let tenant = lock(&ctx.sim.tenant);
    let alerts: Vec<&Value> = tenant.seed.alerts.iter().filter(|a| alert_touches_domain(a, &d)).collect();
    // "Responses are limited to 500 devices."
    let out = if machines {
        machines_of(&tenant.seed.machines, &alerts, 500)
    } else {
        alerts.iter().map(|a| shape_alert(a, false)).collect()
    };
    drop(tenant);
    collection(ctx, out)
}

fn user_related(ctx: &Ctx<'_>, machines: bool) -> Reply {
    // {id} is the account name (optionally DOMAIN\name).
    let raw = ctx.id();
    let name = raw.rsplit(['\\', '/']).next().unwrap_or(raw).to_string();
    let tenant = lock(&ctx.sim.tenant);
    let out: Vec<Value> = if machines {
        let ids: BTreeSet<&String> = tenant
            .seed
            .logon_users
            .iter()
            .filter(|(_, users)| users.iter().any(|u| field_eq(u, "accountName", &name) || field_eq(u, "id", &name)))
            .map(|(mid, _)| mid)
            .collect();
        tenant
            .seed
            .machines
            .iter()
            .filter(|m| m["id"].as_str().is_some_and(|id| ids.contains(&id.to_string())))
            .cloned()
            .collect()
    } else {
        tenant
            .seed
            .alerts
            .iter()
            .filter(|a| field_eq(&a["relatedUser"], "userName", &name))
            .map(|a| shape_alert(a, false))
            .collect()
    };
    drop(tenant);
    collection(ctx, out)
}

// ---------- indicators ----------

const INDICATOR_TYPES: &[&str] =
    &["FileSha1", "FileMd5", "CertificateThumbprint", "FileSha256", "IpAddress", "DomainName", "Url"];
const INDICATOR_ACTIONS: &[&str] =
    &["Alert", "Warn", "Block", "Audit", "BlockAndRemediate", "AlertAndBlock", "Allowed"];
const MAX_ACTIVE_INDICATORS: usize = 15_000;

fn indicators_list(ctx: &Ctx<'_>) -> Reply {
    let items = lock(&ctx.sim.tenant).seed.indicators.clone();
    list(ctx, items)
}

/// The body parameters `POST /api/indicators` documents (case-sensitive).
const INDICATOR_FIELDS: &[&str] = &[
    "indicatorValue",
    "indicatorType",
    "action",
    "application",
    "title",
    "description",
    "expirationTime",
    "severity",
    "recommendedActions",
    "rbacGroupNames",
    "educateUrl",
    "generateAlert",
];
const INDICATOR_SEVERITIES: &[&str] = &["Informational", "Low", "Medium", "High"];
const FILE_INDICATORS: &[&str] = &["FileSha1", "FileMd5", "FileSha256"];

/// Checks a submitted indicator the way the least lenient service plausibly would: documented
/// parameters only (case-sensitive), enums from the documented lists, an action the indicator's kind
/// takes (Defender offers "block and remediate" for files and certificates only, "warn" for network
/// indicators and files, not certificates), `generateAlert: true` with `Audit` (documented as
/// required), and an expiry that parses.
fn validate_indicator(i: &Map<String, Value>) -> Result<(), String> {
    if let Some(k) = i.keys().find(|k| !INDICATOR_FIELDS.contains(&k.as_str())) {
        return Err(format!("Unknown property '{k}' (body parameters are case-sensitive)"));
    }
    let s = |k: &str| i.get(k).and_then(Value::as_str);
    let value = s("indicatorValue").ok_or("indicatorValue is required")?;
    let kind = s("indicatorType").ok_or("indicatorType is required")?;
    if !INDICATOR_TYPES.contains(&kind) {
        return Err(format!("indicatorType '{kind}' is not supported"));
    }
    let action = s("action").ok_or("action is required")?;
    if !INDICATOR_ACTIONS.contains(&action) {
        return Err(format!("action '{action}' is not supported"));
    }
    let file = FILE_INDICATORS.contains(&kind);
    if action == "BlockAndRemediate" && !file && kind != "CertificateThumbprint" {
        return Err(format!("action 'BlockAndRemediate' is not supported for indicatorType '{kind}'"));
    }
    if action == "Warn" && kind == "CertificateThumbprint" {
        return Err(format!("action 'Warn' is not supported for indicatorType '{kind}'"));
    }
    if action == "Audit" && i.get("generateAlert") != Some(&Value::Bool(true)) {
        return Err("generateAlert must be true for action 'Audit'".into());
    }
    if let Some(sev) = i.get("severity").filter(|v| !v.is_null())
        && !sev.as_str().is_some_and(|v| INDICATOR_SEVERITIES.contains(&v))
    {
        return Err(format!("severity {sev} is not supported"));
    }
    if let Some(exp) = i.get("expirationTime").filter(|v| !v.is_null()) {
        // A past expiry is not refused: the documented import example (2021) is answered as created.
        if exp.as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).is_none() {
            return Err(format!("expirationTime {exp} is not a date-time"));
        }
    }
    s("title").filter(|t| !t.trim().is_empty()).ok_or("title is required")?;
    s("description").filter(|t| !t.trim().is_empty()).ok_or("description is required")?;
    let valid = match kind {
        "FileSha1" | "CertificateThumbprint" => is_hex(value, 40),
        "FileSha256" => is_hex(value, 64),
        "FileMd5" => is_hex(value, 32),
        "IpAddress" => value.parse::<std::net::IpAddr>().is_ok(),
        "DomainName" => parse_domain(value).is_ok(),
        _ => url_host(value).is_some(),
    };
    if valid { Ok(()) } else { Err(format!("'{value}' is not a valid {kind}")) }
}

/// Inserts or updates (by type and value) an indicator; returns the stored object.
fn upsert_indicator(
    tenant: &mut crate::state::Tenant,
    i: &Map<String, Value>,
    actor: &str,
    now: &str,
) -> Result<Value, String> {
    validate_indicator(i)?;
    let (value, kind) =
        (i["indicatorValue"].as_str().unwrap_or_default(), i["indicatorType"].as_str().unwrap_or_default());
    if let Some(existing) = tenant
        .seed
        .indicators
        .iter_mut()
        .find(|x| field_eq(x, "indicatorValue", value) && field_eq(x, "indicatorType", kind))
    {
        if let Some(o) = existing.as_object_mut() {
            for (k, v) in i {
                if k != "application" {
                    o.insert(k.clone(), v.clone());
                }
            }
            o.insert("lastUpdateTime".into(), json!(now));
            o.insert("lastUpdatedBy".into(), json!(actor));
        }
        return Ok(existing.clone());
    }
    if tenant.seed.indicators.len() >= MAX_ACTIVE_INDICATORS {
        return Err("the tenant already has 15,000 active indicators".into());
    }
    let next_id = tenant
        .seed
        .indicators
        .iter()
        .filter_map(|x| x["id"].as_str().and_then(|s| s.parse::<u64>().ok()))
        .max()
        .unwrap_or(0)
        + 1;
    let mut o = Map::new();
    for (k, v) in [
        ("id", json!(next_id.to_string())),
        ("indicatorValue", json!(value)),
        ("indicatorType", json!(kind)),
        ("action", i["action"].clone()),
        ("application", i.get("application").cloned().unwrap_or(Value::Null)),
        ("source", json!(actor)),
        ("sourceType", json!(if actor.contains('@') { "User" } else { "AadApp" })),
        ("title", i["title"].clone()),
        ("creationTimeDateTimeUtc", json!(now)),
        ("createdBy", json!(actor)),
        ("expirationTime", i.get("expirationTime").cloned().unwrap_or(Value::Null)),
        ("lastUpdateTime", json!(now)),
        ("lastUpdatedBy", json!(actor)),
        ("severity", i.get("severity").cloned().unwrap_or(json!("Informational"))),
        ("description", i["description"].clone()),
        ("recommendedActions", i.get("recommendedActions").cloned().unwrap_or(Value::Null)),
        ("rbacGroupNames", i.get("rbacGroupNames").cloned().unwrap_or(json!([]))),
    ] {
        o.insert(k.into(), v);
    }
    let v = Value::Object(o);
    tenant.seed.indicators.push(v.clone());
    Ok(v)
}

fn indicator_submit(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    let now = iso(ctx.now);
    let stored = upsert_indicator(&mut lock(&ctx.sim.tenant), &body, &ctx.actor(), &now)
        .map_err(|m| ApiError::bad_request("InvalidRequestBody", m))?;
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(format!("{}/api/$metadata#Indicators/$entity", ctx.sim.base_url)));
    if let Some(o) = stored.as_object() {
        out.extend(o.clone());
    }
    Ok((StatusCode::OK, Some(Value::Object(out))))
}

fn indicators_import(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    let Some(list) = body.get("Indicators").and_then(Value::as_array) else {
        return Err(ApiError::bad_request(
            "MissingRequiredParameter",
            "Indicators is required (body parameters are case-sensitive)",
        ));
    };
    if list.len() > 500 {
        return Err(ApiError::bad_request("MaximumBatchSizeExceeded", "Up to 500 indicators per call"));
    }
    let now = iso(ctx.now);
    let mut tenant = lock(&ctx.sim.tenant);
    let results: Vec<Value> = list
        .iter()
        .map(|i| {
            let obj = i.as_object().cloned().unwrap_or_default();
            let shown = obj.get("indicatorValue").cloned().unwrap_or(Value::Null);
            match upsert_indicator(&mut tenant, &obj, &ctx.actor(), &now) {
                Ok(v) => json!({"id": v["id"], "indicator": shown, "isFailed": false, "failureReason": null}),
                Err(reason) => json!({"id": null, "indicator": shown, "isFailed": true, "failureReason": reason}),
            }
        })
        .collect();
    drop(tenant);
    Ok((StatusCode::OK, Some(json!({"value": results}))))
}

fn indicator_delete(ctx: &Ctx<'_>) -> Reply {
    let mut tenant = lock(&ctx.sim.tenant);
    let before = tenant.seed.indicators.len();
    tenant.seed.indicators.retain(|i| !field_eq(i, "id", ctx.id()));
    if tenant.seed.indicators.len() == before {
        return Err(ApiError::not_found(format!("Indicator {} was not found", ctx.id())));
    }
    Ok((StatusCode::NO_CONTENT, None))
}

fn indicators_batch_delete(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    let ids: Vec<String> = match body.get("IndicatorIds") {
        Some(Value::Array(a)) if !a.is_empty() => {
            a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect()
        }
        _ => return Err(ApiError::bad_request("InvalidRequestBody", "IndicatorIds must be a non-empty list")),
    };
    if ids.len() > 500 {
        return Err(ApiError::bad_request("MaximumBatchSizeExceeded", "Up to 500 indicator ids per call"));
    }
    let mut tenant = lock(&ctx.sim.tenant);
    if let Some(missing) = ids.iter().find(|id| !tenant.seed.indicators.iter().any(|i| field_eq(i, "id", id))) {
        return Err(ApiError::not_found(format!("Indicator {missing} was not found")));
    }
    tenant.seed.indicators.retain(|i| !ids.iter().any(|id| field_eq(i, "id", id)));
    Ok((StatusCode::NO_CONTENT, None))
}

// ---------- investigations ----------

fn investigations_list(ctx: &Ctx<'_>) -> Reply {
    let items = lock(&ctx.sim.tenant).seed.investigations.clone();
    list(ctx, items)
}

fn investigation_get(ctx: &Ctx<'_>) -> Reply {
    // {id} is the investigation id or the triggering alert id.
    let found = lock(&ctx.sim.tenant)
        .seed
        .investigations
        .iter()
        .find(|i| field_eq(i, "id", ctx.id()) || field_eq(i, "triggeringAlertId", ctx.id()))
        .cloned();
    let inv = found.ok_or_else(|| ApiError::not_found(format!("Investigation {} was not found", ctx.id())))?;
    Ok((StatusCode::OK, Some(inv)))
}

fn investigation_start(ctx: &Ctx<'_>) -> Reply {
    let body = ctx.json_body()?;
    if body.get("Comment").and_then(Value::as_str).is_none_or(|c| c.trim().is_empty()) {
        return Err(ApiError::bad_request("MissingRequiredParameter", "Comment is required"));
    }
    let m = find_machine(ctx, ctx.id())?;
    let mut tenant = lock(&ctx.sim.tenant);
    let next = tenant
        .seed
        .investigations
        .iter()
        .filter_map(|i| i["id"].as_str().and_then(|s| s.parse::<u64>().ok()).or_else(|| i["id"].as_u64()))
        .max()
        .unwrap_or(0)
        + 1;
    let inv = json!({
        "id": next.to_string(), "startTime": iso(ctx.now), "endTime": null, "state": "Running",
        "cancelledBy": null, "statusDetails": null, "machineId": m["id"], "computerDnsName": m["computerDnsName"],
        "triggeringAlertId": null
    });
    tenant.seed.investigations.push(inv.clone());
    drop(tenant);
    Ok((StatusCode::CREATED, Some(inv)))
}
