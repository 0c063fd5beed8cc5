//! The endpoint table, read from the documented contract at build time.
//!
//! Every file in `contract/defender-api/` with a method and a path becomes an [`Endpoint`]: its route
//! pattern, the permissions that admit a caller (any one suffices), its rate limits, its `$top` maximum
//! and the fields its `$filter` documents. Nothing here is typed by hand.

use serde_json::Value;

include!(concat!(env!("OUT_DIR"), "/spec_files.rs"));

/// Which service answers an endpoint; decides the token audience and the error envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// Defender for Endpoint (`/api/...`, WindowsDefenderATP permissions).
    Mde,
    /// Defender XDR (`/api/incidents`, `/api/advancedhunting`).
    Xdr,
    /// Microsoft Graph security (`/v1.0/security/...`).
    Graph,
}

impl Api {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "mde" => Some(Self::Mde),
            "xdr" => Some(Self::Xdr),
            "graph" => Some(Self::Graph),
            _ => None,
        }
    }
}

/// One segment of a documented path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A literal, compared case-insensitively (the Defender API's routing is case-insensitive).
    Literal(String),
    /// `{name}`.
    Param(String),
    /// `name(key='{a}',other={b})`: an OData function call; the arguments are parsed when matched.
    Function(String),
}

/// A documented rate limit: `calls` per `window_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed in the window.
    pub calls: u32,
    /// Window length in seconds.
    pub window_s: u32,
}

/// One documented endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// File stem, e.g. `mde.alerts.list`.
    pub name: String,
    /// Which service.
    pub api: Api,
    /// HTTP method, upper case.
    pub method: String,
    /// Path pattern, Graph paths prefixed with `/v1.0`.
    pub segments: Vec<Segment>,
    /// Application permissions (`roles` claim); any one suffices.
    pub application: Vec<String>,
    /// Delegated permissions (`scp` claim); any one suffices. Empty: no delegated access.
    pub delegated: Vec<String>,
    /// Documented rate limits.
    pub limits: Vec<RateLimit>,
    /// Documented `$top` maximum, if the endpoint pages.
    pub max_top: Option<usize>,
    /// Fields documented as filterable.
    pub filter_fields: Vec<String>,
    /// Whether `$expand` is documented, and for what.
    pub expand: Vec<String>,
    /// The whole documented file.
    pub doc: Value,
}

/// Errors in the embedded contract (caught by a unit test, so they never reach a user).
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A file is not JSON.
    #[error("contract file {file} is not valid json")]
    Json {
        /// File name.
        file: String,
        /// Parser error.
        #[source]
        source: serde_json::Error,
    },
    /// A required field is missing.
    #[error("contract file {file} lacks {field}")]
    Missing {
        /// File name.
        file: String,
        /// Field name.
        field: &'static str,
    },
}

/// The whole table.
#[derive(Debug, Clone)]
pub struct SpecTable {
    /// Every servable endpoint (auth and error files excluded).
    pub endpoints: Vec<Endpoint>,
    /// Every file, by name, for the contract tests and the auth/error shapes.
    pub files: Vec<(String, Value)>,
}

impl SpecTable {
    /// Loads the embedded contract.
    ///
    /// # Errors
    /// A file that is not JSON or lacks `method`/`path`/`api`.
    pub fn load() -> Result<Self, SpecError> {
        let mut endpoints = Vec::new();
        let mut files = Vec::new();
        for (file, text) in SPEC_FILES {
            let doc: Value =
                serde_json::from_str(text).map_err(|source| SpecError::Json { file: (*file).to_string(), source })?;
            let name = file.trim_end_matches(".json").to_string();
            files.push((name.clone(), doc.clone()));
            let get = |field: &'static str| {
                doc.get(field)
                    .and_then(Value::as_str)
                    .ok_or_else(|| SpecError::Missing { file: (*file).to_string(), field })
            };
            let Some(api) = Api::parse(get("api")?) else { continue };
            let method = get("method")?.to_ascii_uppercase();
            if method == "ANY" {
                continue; // the error-envelope files
            }
            let mut path = get("path")?.split('?').next().unwrap_or_default().to_string();
            if api == Api::Graph {
                path = format!("/v1.0{path}");
            }
            endpoints.push(Endpoint {
                name,
                api,
                method,
                segments: parse_path(&path),
                application: strings(&doc["permissions"]["application"]),
                delegated: strings(&doc["permissions"]["delegated"]),
                limits: parse_limits(doc.get("limits").and_then(Value::as_str).unwrap_or_default()),
                max_top: parse_max_top(&doc),
                filter_fields: parse_filter_fields(&doc),
                expand: parse_expand(&doc),
                doc,
            });
        }
        Ok(Self { endpoints, files })
    }

    /// The documented file of that name.
    pub fn file(&self, name: &str) -> Option<&Value> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Which API family a permission name belongs to (from the endpoints that list it).
    pub fn permission_api(&self, permission: &str) -> Option<Api> {
        self.endpoints
            .iter()
            .find(|e| e.application.iter().chain(&e.delegated).any(|p| p.eq_ignore_ascii_case(permission)))
            .map(|e| e.api)
    }

    /// Finds the endpoint for a request. `Err(true)` when the path exists with another method.
    pub fn route(&self, method: &str, path: &str) -> Result<Matched<'_>, bool> {
        let path = normalise_version(path);
        let actual: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let mut best: Option<(usize, Matched<'_>)> = None;
        let mut other_method = false;
        for ep in &self.endpoints {
            let Some((score, params)) = match_segments(&ep.segments, &actual) else { continue };
            if !ep.method.eq_ignore_ascii_case(method) {
                other_method = true;
                continue;
            }
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, Matched { endpoint: ep, params }));
            }
        }
        best.map(|(_, m)| m).ok_or(other_method)
    }
}

/// A routed request: the endpoint and its path parameters (function arguments included, by name).
#[derive(Debug)]
pub struct Matched<'a> {
    /// The endpoint.
    pub endpoint: &'a Endpoint,
    /// Path parameters and function-call arguments, percent-decoded, quotes removed.
    pub params: Vec<(String, String)>,
}

impl Matched<'_> {
    /// The value of a path parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first path parameter (most endpoints have exactly one).
    pub fn first_param(&self) -> &str {
        self.params.first().map(|(_, v)| v.as_str()).unwrap_or_default()
    }
}

/// `/api/v1.0/alerts` is the same as `/api/alerts` (the docs' optional version segment).
fn normalise_version(path: &str) -> String {
    let lower = path.to_ascii_lowercase();
    if lower.starts_with("/api/v1.0/") { format!("/api/{}", &path["/api/v1.0/".len()..]) } else { path.to_string() }
}

fn parse_path(path: &str) -> Vec<Segment> {
    path.trim_end_matches('/')
        .split('/')
        .skip(1)
        .map(|s| {
            if let Some(open) = s.find('(') {
                Segment::Function(s[..open].to_string())
            } else if s.starts_with('{') && s.ends_with('}') {
                Segment::Param(s[1..s.len() - 1].to_string())
            } else {
                Segment::Literal(s.to_string())
            }
        })
        .collect()
}

fn match_segments(pattern: &[Segment], actual: &[&str]) -> Option<(usize, Vec<(String, String)>)> {
    if pattern.len() != actual.len() {
        return None;
    }
    let mut score = 0;
    let mut params = Vec::new();
    for (seg, got) in pattern.iter().zip(actual) {
        let got = percent_decode(got);
        match seg {
            Segment::Literal(l) => {
                if !l.eq_ignore_ascii_case(&got) {
                    return None;
                }
                score += 2;
            }
            Segment::Param(name) => {
                if got.is_empty() {
                    return None;
                }
                params.push((name.clone(), got));
            }
            Segment::Function(name) => {
                let lower = got.to_ascii_lowercase();
                if !lower.starts_with(&format!("{}(", name.to_ascii_lowercase())) || !got.ends_with(')') {
                    return None;
                }
                score += 2;
                let args = &got[name.len() + 1..got.len() - 1];
                for arg in split_args(args) {
                    let (k, v) = arg.split_once('=').unwrap_or(("", arg.as_str()));
                    let v = v.trim();
                    let v = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(v);
                    params.push((k.trim().to_string(), v.to_string()));
                }
            }
        }
    }
    Some((score, params))
}

fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in args.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Decodes `%XX` escapes (paths arrive raw).
pub fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

/// Reads "100 calls per minute and 1,500 calls per hour", "45/min", "150 requests per minute".
fn parse_limits(text: &str) -> Vec<RateLimit> {
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '/' || c == ';' || c == '(')
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ',' | ')' | '>' | '=')).to_string())
        .collect();
    let mut out: Vec<RateLimit> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let window_s = match w.to_ascii_lowercase().as_str() {
            "minute" | "min" => 60,
            "hour" | "h" => 3600,
            _ => continue,
        };
        // "10 min timeout" (hunting) is a running-time budget, not a call rate.
        if words.get(i + 1).is_some_and(|n| n.eq_ignore_ascii_case("timeout")) {
            continue;
        }
        if out.iter().any(|l| l.window_s == window_s) {
            continue; // the first figure of each window is the endpoint's own
        }
        let number = words[i.saturating_sub(4)..i].iter().rev().find_map(|n| n.replace(',', "").parse::<u32>().ok());
        if let Some(calls) = number {
            out.push(RateLimit { calls, window_s });
        }
    }
    out
}

fn parse_max_top(doc: &Value) -> Option<usize> {
    let mut texts: Vec<String> = strings(&doc["query_options"]);
    texts.push(doc.get("limits").and_then(Value::as_str).unwrap_or_default().to_string());
    for t in texts {
        let lower = t.to_ascii_lowercase();
        for marker in ["$top (max ", "maximum page size is ", "max page size "] {
            if let Some(at) = lower.find(marker) {
                let digits: String = lower[at + marker.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == ',')
                    .filter(char::is_ascii_digit)
                    .collect();
                if let Ok(n) = digits.parse() {
                    return Some(n);
                }
            }
        }
    }
    None
}

fn parse_filter_fields(doc: &Value) -> Vec<String> {
    strings(&doc["query_options"])
        .iter()
        .filter_map(|o| o.strip_prefix("$filter on "))
        .flat_map(|list| list.split(','))
        .filter_map(|f| f.split_whitespace().next())
        .map(|f| f.trim_matches(|c: char| !c.is_alphanumeric() && c != '/').to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

fn parse_expand(doc: &Value) -> Vec<String> {
    strings(&doc["query_options"])
        .iter()
        .filter(|o| o.starts_with("$expand"))
        .flat_map(|o| {
            let lower = o.to_ascii_lowercase();
            ["evidence", "alerts"].into_iter().filter(move |x| lower.contains(x)).map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SpecTable {
        SpecTable::load().expect("contract loads")
    }

    #[test]
    fn every_documented_endpoint_is_in_the_table() {
        let t = table();
        assert_eq!(t.files.len(), 71);
        // 71 files: 4 auth + 2 error envelopes are not routes.
        assert_eq!(t.endpoints.len(), 65);
    }

    #[test]
    fn routes_pick_the_most_specific_pattern() {
        let t = table();
        let m = t.route("GET", "/api/machines/findbyip(ip='10.1.2.3',timestamp=2026-11-27T10:00:00Z)").unwrap();
        assert_eq!(m.endpoint.name, "mde.machines.find_by_ip");
        assert_eq!(m.param("ip"), Some("10.1.2.3"));
        assert_eq!(m.param("timestamp"), Some("2026-11-27T10:00:00Z"));
        assert_eq!(t.route("GET", "/api/machines/findbytag").unwrap().endpoint.name, "mde.machines.find_by_tag");
        assert_eq!(t.route("GET", "/api/machines/abc").unwrap().endpoint.name, "mde.machines.get");
        assert_eq!(t.route("GET", "/api/v1.0/Alerts").unwrap().endpoint.name, "mde.alerts.list");
        assert_eq!(t.route("POST", "/api/alerts/batchUpdate").unwrap().endpoint.name, "mde.alerts.batch_update");
        assert_eq!(
            t.route("GET", "/v1.0/security/alerts_v2/da123").unwrap().endpoint.name,
            "graph.security.alerts_v2.get"
        );
        let lr = t.route("GET", "/api/machineactions/abc/GetLiveResponseResultDownloadLink(index=0)").unwrap();
        assert_eq!(lr.endpoint.name, "mde.machineactions.get_live_response_result");
        assert_eq!(lr.param("index"), Some("0"));
        assert!(t.route("DELETE", "/api/alerts").unwrap_err());
        assert!(!t.route("GET", "/api/nothing-here").unwrap_err());
    }

    #[test]
    fn limits_top_and_filters_come_from_the_docs() {
        let t = table();
        let ep = |n: &str| t.endpoints.iter().find(|e| e.name == n).unwrap().clone();
        let alerts = ep("mde.alerts.list");
        assert_eq!(
            alerts.limits,
            vec![RateLimit { calls: 100, window_s: 60 }, RateLimit { calls: 1500, window_s: 3600 }]
        );
        assert_eq!(alerts.max_top, Some(10_000));
        assert!(alerts.filter_fields.iter().any(|f| f == "lastUpdateTime"));
        assert!(alerts.filter_fields.iter().any(|f| f == "InvestigationId"));
        assert_eq!(alerts.expand, vec!["evidence"]);
        assert_eq!(ep("xdr.incidents.list").max_top, Some(100));
        assert_eq!(ep("xdr.incidents.list").limits[0], RateLimit { calls: 50, window_s: 60 });
        assert_eq!(ep("mde.alerts.batch_update").limits[0], RateLimit { calls: 10, window_s: 60 });
        assert_eq!(ep("mde.advanced_hunting.run").limits[0], RateLimit { calls: 45, window_s: 60 });
        // Not "10 min timeout": the hunting API's 45 calls per minute.
        assert_eq!(ep("graph.security.run_hunting_query").limits[0], RateLimit { calls: 45, window_s: 60 });
        assert_eq!(ep("graph.security.alerts_v2.list").limits[0], RateLimit { calls: 150, window_s: 60 });
        assert_eq!(ep("mde.investigations.start").limits, vec![RateLimit { calls: 50, window_s: 3600 }]);
        assert!(ep("mde.machines.software").limits.is_empty());
        assert_eq!(t.permission_api("Incident.Read.All"), Some(Api::Xdr));
        assert_eq!(t.permission_api("Machine.Isolate"), Some(Api::Mde));
        assert_eq!(t.permission_api("ThreatHunting.Read.All"), Some(Api::Graph));
    }
}
