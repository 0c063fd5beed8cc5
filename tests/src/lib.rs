//! Helpers shared by the integration and contract tests: tokens from the simulated tenant and a
//! structural comparison of JSON documents.

// This crate exists only to support tests: failing loudly is its job.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

/// The demo tenant's full-permission application.
pub const DEMO_APP: (&str, &str) = (testkit::demo::APP, testkit::demo::SECRET);
/// The demo tenant's read-only application.
pub const READER_APP: (&str, &str) = (testkit::demo::READER_APP, testkit::demo::READER_SECRET);

/// MDE `.default` scope.
pub const MDE: &str = "https://api.securitycenter.microsoft.com/.default";
/// XDR `.default` scope.
pub const XDR: &str = "https://api.security.microsoft.com/.default";
/// Graph `.default` scope.
pub const GRAPH: &str = "https://graph.microsoft.com/.default";

/// Client-credentials token from the simulator's token endpoint.
///
/// # Panics
/// When the simulator refuses (tests only).
pub async fn app_token(http: &reqwest::Client, base: &str, tenant: &str, app: (&str, &str), scope: &str) -> String {
    let resp = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", app.0), ("client_secret", app.1), ("scope", scope)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("token request failed: {e}"));
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or_else(|e| panic!("token response is not json: {e}"));
    assert!(status.is_success(), "token for {scope}: {status} {body}");
    body["access_token"].as_str().unwrap_or_else(|| panic!("no access_token: {body}")).to_string()
}

/// JSON type names, with null apart.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences in field names and JSON types between a documented example and an actual answer.
///
/// Rules: objects must have the same keys, except OData annotations (`@odata.*`), which a page may or
/// may not carry; `null` on either side matches any type (the docs show null where a value is optional);
/// arrays compare their first elements when both have one.
pub fn shape_diff(path: &str, documented: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match (documented, actual) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(d), Value::Object(a)) => {
            for k in d.keys().filter(|k| !k.starts_with("@odata.")) {
                match a.get(k) {
                    Some(av) => out.extend(shape_diff(&format!("{path}.{k}"), &d[k], av)),
                    None => out.push(format!("{path}.{k}: documented, missing in the answer")),
                }
            }
            for k in a.keys().filter(|k| !k.starts_with("@odata.") && !d.contains_key(*k)) {
                out.push(format!("{path}.{k}: in the answer, not documented"));
            }
        }
        (Value::Array(d), Value::Array(a)) => {
            if let (Some(d0), Some(a0)) = (d.first(), a.first()) {
                out.extend(shape_diff(&format!("{path}[0]"), d0, a0));
            }
        }
        (d, a) if kind(d) != kind(a) => out.push(format!("{path}: documented {}, answered {}", kind(d), kind(a))),
        _ => {}
    }
    out
}

/// A token minted directly with the simulator's key, for shapes the token endpoint would never issue
/// (expired, another tenant, a chosen role set).
pub fn mint(sim: &tenant_sim::RunningSim, aud: &str, roles: &[&str], scp: Option<&str>, ttl_s: i64) -> String {
    let now = sim.sim.now().timestamp();
    let tid = sim.tenant_id();
    let claims = tenant_sim::tokens::Claims {
        aud: aud.to_string(),
        iss: sim.sim.issuer(&tid),
        iat: now,
        nbf: now,
        exp: now + ttl_s,
        tid,
        appid: "99999999-9999-4999-8999-999999999999".into(),
        idtyp: if scp.is_some() { "user".into() } else { "app".into() },
        roles: roles.iter().map(|r| r.to_string()).collect(),
        scp: scp.map(str::to_string),
        upn: scp.map(|_| "carol@contoso.com".to_string()),
        oid: "00000000-0000-4000-8000-000000000001".into(),
        sub: "00000000-0000-4000-8000-000000000001".into(),
        uti: "test".into(),
        ver: "2.0".into(),
    };
    sim.sim.keys.sign(&claims).expect("sign")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shape_diff_catches_missing_extra_and_mistyped_fields() {
        let doc = json!({"a": 1, "b": "x", "c": null, "d": [{"e": true}], "@odata.context": "u"});
        assert!(shape_diff("$", &doc, &json!({"a": 2, "b": "y", "c": [1], "d": [{"e": false}]})).is_empty());
        let diffs = shape_diff("$", &doc, &json!({"a": "2", "c": 1, "d": [{"e": 1}], "z": 0}));
        assert_eq!(diffs.len(), 4, "{diffs:?}");
        assert!(diffs.iter().any(|d| d.starts_with("$.b:")));
        assert!(diffs.iter().any(|d| d.starts_with("$.z:")));
        assert!(diffs.iter().any(|d| d.starts_with("$.d[0].e:")));
    }
}
