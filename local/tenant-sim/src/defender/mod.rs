//! Defender for Endpoint, Defender XDR and Graph security: one dispatcher over the documented table.
//!
//! Every request is routed through [`crate::spec::SpecTable::route`], then checked as the services do:
//! 401 without a valid token for *this* API's audience, 403 unless the token holds one of the endpoint's
//! documented permissions (`roles` for apps, `scp` for users), 429 past the documented rate limits. The
//! handler for the endpoint (one module per resource family) then answers in the documented shape.
//!
//! # Paging
//! - MDE lists: `$top` up to the documented maximum (10,000; more is a 400 `ODataError`), `$skip`;
//!   without `$top` a page holds the maximum and `@odata.nextLink` points at the next one.
//! - XDR incidents: `$top` up to 100 (default 100), `$skip`; no `@odata.nextLink` (as documented).
//! - Graph: `$top`, `$skip`, `$count=true`; pages carry `@odata.nextLink` (the original query with the
//!   next `$skip`) until the last one.
//!
//! # Strict paging (the default, [`SimConfig::strict`](crate::state::SimConfig::strict))
//! Where the docs are silent the simulator answers as the least favourable plausible service:
//! - `$top` is capped per endpoint: the documented maxima (MDE 10,000, XDR incidents 100) and the
//!   field-reported Graph `security/incidents` cap of 50 (a 400 above it, as the live service).
//! - No list documents `$orderby`: it is **ignored** (not refused — a service that does not
//!   implement an option skips it), and the list's own order is served: XDR incidents "most recent
//!   first" by `createdTime` (its creation is what makes an incident recent; an update does not move
//!   it), ties and every other list by a keyed hash of the id — stable for an unchanged set, so the
//!   documented `$skip` keeps its meaning, and unrelated to time. The procedural alert sequence is
//!   served in a keyed stride permutation of the filtered range, for the same reasons.
//! - Graph `alerts_v2` omits `@odata.nextLink` when the request gave `$top` (reported against the
//!   live service, elastic/integrations#20234); a `nextLink` the simulator writes carries `$top`
//!   only if the request did.

mod actions;
mod graph;
mod hunting;
mod hunting_schema;

/// The documented row cap of a hunting answer.
pub use hunting::MAX_ROWS as MAX_HUNTING_ROWS;
mod mde;
mod xdr;

use crate::{
    auth::{AuthFailure, authenticate},
    errors::ApiError,
    odata::{Filter, OrderBy},
    spec::{Api, Endpoint, Matched},
    state::{Sim, lock},
    tokens::{Claims, Resource},
};
use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// What a handler answers: a status and an optional JSON body.
pub(crate) type Reply = Result<(StatusCode, Option<Value>), ApiError>;

/// Everything a handler may look at.
pub(crate) struct Ctx<'a> {
    pub sim: &'a Sim,
    pub ep: &'a Endpoint,
    pub matched: &'a Matched<'a>,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    pub claims: Claims,
    pub now: DateTime<Utc>,
    pub path: String,
}

impl Ctx<'_> {
    /// A query parameter (case-insensitive name).
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first path parameter.
    pub fn id(&self) -> &str {
        self.matched.first_param()
    }

    /// The item of `items` whose `key` is this request's id ([`field_eq`]), or the 404 Defender answers:
    /// `{what} {id} was not found`.
    pub fn item_mut<'v>(&self, items: &'v mut [Value], key: &str, what: &str) -> Result<&'v mut Value, ApiError> {
        let id = self.id();
        items
            .iter_mut()
            .find(|x| field_eq(x, key, id))
            .ok_or_else(|| ApiError::not_found(format!("{what} {id} was not found")))
    }

    /// The JSON body as an object; 400 `InvalidRequestBody` otherwise.
    pub fn json_body(&self) -> Result<Map<String, Value>, ApiError> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(ApiError::bad_request("InvalidRequestBody", "Request body must be a JSON object")),
            Err(e) => Err(ApiError::bad_request("InvalidRequestBody", format!("Request body is incorrect: {e}"))),
        }
    }

    /// `@odata.context` for this endpoint, from the documented example, on our own origin.
    pub fn context(&self) -> String {
        let documented = self.ep.doc["response_example"]["@odata.context"].as_str().unwrap_or_default();
        let fragment = documented.split_once("$metadata").map(|(_, f)| f).unwrap_or("");
        match self.ep.api {
            Api::Graph => format!("{}/v1.0/$metadata{fragment}", self.sim.base_url),
            _ => format!("{}/api/$metadata{fragment}", self.sim.base_url),
        }
    }

    /// Who the service records as having acted (`requestor`, `createdBy`, `lastUpdatedBy`).
    pub fn actor(&self) -> String {
        self.claims.caller().to_string()
    }
}

/// The fallback handler: everything under `/api/` and `/v1.0/`.
pub async fn dispatch(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let family = if path.starts_with("/v1.0/") {
        Api::Graph
    } else if path.starts_with("/api/") {
        Api::Mde
    } else {
        return crate::nothing_here();
    };
    let now = sim.now();
    let matched = match sim.spec.route(method.as_str(), &path) {
        Ok(m) => m,
        Err(path_known) => {
            let e = if path_known {
                let message = format!("The requested resource does not support http method '{method}'.");
                ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
            } else {
                let message = format!("No HTTP resource was found that matches the request URI '{path}'.");
                ApiError::new(StatusCode::NOT_FOUND, "NotFound", message)
            };
            return e.render(family, now);
        }
    };
    let ep = matched.endpoint;
    let claims = match authenticate(&sim, &headers, Resource::Api(ep.api)) {
        Ok(c) => c,
        Err(f) => return unauthorized(&f).render(ep.api, now),
    };
    if !claims.holds_any(&ep.application, &ep.delegated) {
        return forbidden(ep, &claims).render(ep.api, now);
    }
    if lock(&sim.config).quotas && !ep.limits.is_empty() {
        let admitted = lock(&sim.quotas).admit(claims.caller(), &ep.name, &ep.limits, now);
        if let Err(t) = admitted {
            return throttled(ep, &t, now);
        }
    }
    let query = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let ctx = Ctx { sim: &sim, ep, matched: &matched, query, body, claims, now, path };
    if ep.name == "mde.alerts.list"
        && let Some(page) = mde::generated_alerts_page(&ctx)
    {
        return match page {
            Ok(text) => ([(axum::http::header::CONTENT_TYPE, "application/json")], text).into_response(),
            Err(e) => e.render(ep.api, now),
        };
    }
    let result = match ep.api {
        Api::Mde if ep.name.starts_with("mde.machineactions") || actions::is_action(&ep.name) => actions::handle(&ctx),
        Api::Mde if ep.name == "mde.advanced_hunting.run" => hunting::handle(&ctx),
        Api::Mde => mde::handle(&ctx),
        Api::Xdr if ep.name == "xdr.advanced_hunting.run" => hunting::handle(&ctx),
        Api::Xdr => xdr::handle(&ctx),
        Api::Graph if ep.name == "graph.security.run_hunting_query" => hunting::handle(&ctx),
        Api::Graph => graph::handle(&ctx),
    };
    match result {
        Ok((status, Some(mut body))) => {
            if ep.api == Api::Graph && !graph::includes_unknown_enum_members(&headers) {
                graph::hide_evolvable_members(&mut body);
            }
            (status, Json(body)).into_response()
        }
        Ok((status, None)) => status.into_response(),
        Err(e) => e.render(ep.api, now),
    }
}

fn unauthorized(f: &AuthFailure) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", f.message())
}

fn forbidden(ep: &Endpoint, claims: &Claims) -> ApiError {
    let (kind, needed) =
        if claims.scp.is_some() { ("delegated", &ep.delegated) } else { ("application", &ep.application) };
    let message = if needed.is_empty() {
        format!("This operation does not support {kind} permissions.")
    } else {
        format!(
            "The {} does not have any of the required {kind} permissions ({}) to access the resource.",
            if claims.scp.is_some() { "user" } else { "application" },
            needed.join(", ")
        )
    };
    ApiError::new(StatusCode::FORBIDDEN, "Forbidden", message)
}

fn throttled(ep: &Endpoint, t: &crate::quota::Throttled, now: DateTime<Utc>) -> Response {
    let per = if t.limit.window_s == 60 { "minute" } else { "hour" };
    let until = now + chrono::Duration::seconds(t.retry_after_s as i64);
    let message = if ep.name.contains("hunting") {
        // The hunting APIs say which quota was hit in the body.
        format!(
            "Query quota exceeded: number of requests ({} calls per {per}). You can send new requests after {}.",
            t.limit.calls,
            until.format("%Y-%m-%dT%H:%M:%SZ")
        )
    } else {
        format!(
            "Rate limit is exceeded ({} calls per {per}). Try again in {} seconds (after {}).",
            t.limit.calls,
            t.retry_after_s,
            until.format("%Y-%m-%dT%H:%M:%SZ")
        )
    };
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message);
    e.retry_after = Some(t.retry_after_s);
    e.render(ep.api, now)
}

/// A keyed 64-bit hash (FNV-1a, then the SplitMix64 finaliser): the strict simulator's order. Public so
/// that a test can build an order that is adverse for certain, not by chance.
pub fn keyed_hash(key: u64, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ key;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The strict order's key of an item: a keyed hash of its id (`id`, or XDR's `incidentId`).
pub(crate) fn order_rank(key: u64, item: &Value) -> u64 {
    match item.get("id").or_else(|| item.get("incidentId")) {
        Some(Value::String(s)) => keyed_hash(key, s.as_bytes()),
        Some(v) => keyed_hash(key, v.to_string().as_bytes()),
        None => keyed_hash(key, item.to_string().as_bytes()),
    }
}

/// Lists whose handler already serves a documented order (the strict list keeps it).
fn has_documented_order(ep: &Endpoint) -> bool {
    ep.name == "xdr.incidents.list"
}

/// Whether the endpoint's documented query options include `option` (e.g. `$orderby`).
fn documents(ep: &Endpoint, option: &str) -> bool {
    ep.doc["query_options"]
        .as_array()
        .is_some_and(|opts| opts.iter().filter_map(Value::as_str).any(|o| o.split_whitespace().next() == Some(option)))
}

/// The largest `$top` the endpoint accepts: the documented maximum, and in strict mode the caps the
/// live services are reported to enforce where the docs state none.
pub(crate) fn max_top(ep: &Endpoint, strict: bool) -> Option<usize> {
    match ep.name.as_str() {
        // Reported against the live service (e.g. wazuh/wazuh#28070): 400 above 50.
        "graph.security.incidents.list" if strict => Some(50),
        _ => ep.max_top,
    }
}

/// Applies the documented OData options to a collection and pages it.
pub(crate) fn list(ctx: &Ctx<'_>, mut items: Vec<Value>) -> Reply {
    let (strict, order_key, graph_page_size) = {
        let c = lock(&ctx.sim.config);
        (c.strict, c.order_key, c.graph_page_size)
    };
    for (k, _) in &ctx.query {
        if k.starts_with('$')
            && !["$filter", "$top", "$skip", "$orderby", "$expand", "$count", "$skiptoken"].contains(&k.as_str())
        {
            return Err(ApiError::bad_request("ODataError", format!("The query parameter '{k}' is not supported.")));
        }
    }
    if let Some(f) = ctx.q("$filter") {
        if ctx.ep.filter_fields.is_empty() {
            return Err(ApiError::bad_request(
                "ODataError",
                "The query parameter '$filter' is not supported by this resource.",
            ));
        }
        let allowed: Vec<&str> = ctx.ep.filter_fields.iter().map(String::as_str).collect();
        let filter = Filter::parse(f, &allowed)
            .map_err(|e| ApiError::bad_request("ODataError", format!("Invalid filter clause: {e}")))?;
        items.retain(|i| filter.matches(i));
    }
    if strict && !has_documented_order(ctx.ep) {
        // No documented order: one unrelated to time, stable while the set is unchanged.
        items.sort_by_cached_key(|i| order_rank(order_key, i));
    }
    match ctx.q("$orderby") {
        // Undocumented here: ignored, the list's own order stands.
        Some(_) if strict && !documents(ctx.ep, "$orderby") => {}
        Some(o) => {
            let order = OrderBy::parse(o)
                .map_err(|e| ApiError::bad_request("ODataError", format!("Invalid orderby clause: {e}")))?;
            order.sort(&mut items);
        }
        None => {}
    }
    let skip = parse_count(ctx, "$skip")?.unwrap_or(0);
    let top = parse_count(ctx, "$top")?;
    let max = max_top(ctx.ep, strict);
    if let (Some(top), Some(max)) = (top, max)
        && top > max
    {
        return Err(ApiError::bad_request(
            "ODataError",
            format!(
                "The limit of '{max}' for Top query has been exceeded. The value from the incoming request is '{top}'."
            ),
        ));
    }
    let total = items.len();
    let page = match (ctx.ep.api, top) {
        (_, Some(t)) => t,
        (Api::Graph, None) => graph_page_size.min(max.unwrap_or(usize::MAX)),
        (_, None) => max.unwrap_or(usize::MAX),
    };
    let value: Vec<Value> = items.into_iter().skip(skip).take(page).collect();
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(ctx.context()));
    if ctx.ep.api == Api::Graph && ctx.q("$count").is_some_and(|c| c.eq_ignore_ascii_case("true")) {
        out.insert("@odata.count".into(), json!(total));
    }
    let more = skip.saturating_add(value.len()) < total;
    let pages_by_link = match ctx.ep.api {
        // Reported: alerts_v2 answers a `$top` without a nextLink.
        Api::Graph => !(strict && top.is_some() && ctx.ep.name == "graph.security.alerts_v2.list"),
        Api::Mde => top.is_none(),
        Api::Xdr => false,
    };
    if more && pages_by_link && !value.is_empty() {
        out.insert("@odata.nextLink".into(), json!(next_link(ctx, skip + value.len(), page, strict)));
    }
    out.insert("value".into(), Value::Array(value));
    Ok((StatusCode::OK, Some(Value::Object(out))))
}

fn parse_count(ctx: &Ctx<'_>, name: &str) -> Result<Option<usize>, ApiError> {
    ctx.q(name)
        .map(|v| {
            v.trim().parse::<usize>().map_err(|_| {
                ApiError::bad_request(
                    "ODataError",
                    format!("Invalid value '{v}' for {name}: expected a non-negative integer."),
                )
            })
        })
        .transpose()
}

/// The next page's URL: the request's options with the next `$skip` (and `$top` — in strict mode only
/// if the request gave one, so following links never turns into a `$top` request).
pub(crate) fn next_link(ctx: &Ctx<'_>, skip: usize, page: usize, strict: bool) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &ctx.query {
        if k != "$skip" && k != "$top" {
            ser.append_pair(k, v);
        }
    }
    if !strict || ctx.q("$top").is_some() {
        ser.append_pair("$top", &page.to_string());
    }
    ser.append_pair("$skip", &skip.to_string());
    format!("{}{}?{}", ctx.sim.base_url, ctx.path, ser.finish())
}

/// A bare collection (`{"@odata.context","value"}`) without OData options.
pub(crate) fn collection(ctx: &Ctx<'_>, value: Vec<Value>) -> Reply {
    Ok((StatusCode::OK, Some(json!({"@odata.context": ctx.context(), "value": value}))))
}

/// An entity with `@odata.context` first, when the documented example has one.
pub(crate) fn entity(ctx: &Ctx<'_>, status: StatusCode, mut v: Value) -> Reply {
    if ctx.ep.doc["response_example"].get("@odata.context").is_some()
        && let Some(o) = v.as_object()
    {
        let mut out = Map::new();
        out.insert("@odata.context".into(), json!(ctx.context()));
        for (k, val) in o {
            out.insert(k.clone(), val.clone());
        }
        v = Value::Object(out);
    }
    Ok((status, Some(v)))
}

/// Case-insensitive string equality on a JSON field.
pub(crate) fn field_eq(v: &Value, field: &str, want: &str) -> bool {
    match v.get(field) {
        Some(Value::String(s)) => s.eq_ignore_ascii_case(want),
        Some(Value::Number(n)) => n.to_string() == want,
        _ => false,
    }
}
