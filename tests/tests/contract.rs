//! Contract tests: for every documented endpoint with a response example, the simulated tenant —
//! seeded with that example's entities — answers the documented request with a body of the same
//! field names and JSON types (see `integration_tests::shape_diff` for the exact rule).
//!
//! The examples come from `contract/defender-api/` (Microsoft's docs, copied with their sources).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Undocumented members the simulator answers because real tenants send them: (endpoint, the
/// difference `shape_diff` reports), with the recorded answer that shows it.
const RECORDED_BEYOND_DOCS: &[(&str, &str)] = &[
    // contract/real-responses/cisco_relay__advanced_hunting.json: MDE `advancedqueries/run` with `Stats`.
    ("mde.advanced_hunting.run", "$.Stats: in the answer, not documented"),
];

/// The members of a recorded machine action (contract/real-responses/sekoia__machine_actions.json,
/// a real tenant's answers to isolate/scan/restrict in 2024): the simulator creates actions with
/// every one of them.
fn recorded_action_members() -> Vec<String> {
    let rec: Value =
        serde_json::from_str(include_str!("../../contract/real-responses/sekoia__machine_actions.json")).unwrap();
    rec["entities"][0].as_object().unwrap().keys().cloned().collect()
}

use integration_tests::{DEMO_APP, GRAPH, MDE, XDR, app_token, shape_diff};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tenant_sim::{RunningSim, SimOptions, seed::DEMO, spec::SpecTable, start};

/// One documented request, and how to seed the tenant for it.
struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    scope: &'static str,
    /// Advance the simulated clock before the request (actions that must have completed).
    setup: Setup,
}

enum Setup {
    None,
    /// POST this action first and substitute its id for `{action}` in the path.
    Action {
        kind_path: &'static str,
        body: Value,
        advance_s: i64,
    },
}

fn strip_context(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("@odata.context");
    }
    v
}

/// The demo seed with the example's entities put where the endpoint reads them.
fn seed_for(name: &str, ex: &Value, all_roles: &[String]) -> Value {
    let mut seed: Value = serde_json::from_str(DEMO).expect("demo seed is json");
    seed["apps"][0]["roles"] = json!(all_roles);
    let first_value = ex["value"].as_array().and_then(|a| a.first()).cloned().unwrap_or(Value::Null);
    match name {
        "mde.alerts.list" => seed["alerts"] = json!([first_value]),
        "mde.alerts.get" => seed["alerts"].as_array_mut().unwrap().push(ex.clone()),
        "mde.alerts.related_machine" => {
            let machine = ex.clone();
            let mut alert = seed["alerts"][0].clone();
            alert["id"] = json!("contract-alert");
            alert["machineId"] = machine["id"].clone();
            seed["machines"].as_array_mut().unwrap().push(machine);
            seed["alerts"].as_array_mut().unwrap().push(alert);
        }
        "mde.alerts.related_user" => {
            let id = seed["alerts"][0]["id"].clone();
            seed["alert_users"][id.as_str().unwrap()] = strip_context(ex);
        }
        "mde.machines.list" | "mde.machines.get" => {
            let m = if name.ends_with("list") { first_value } else { strip_context(ex) };
            seed["machines"] = json!([m]);
        }
        "mde.machines.logon_users" | "mde.machines.software" | "mde.machines.vulnerabilities" => {
            let key = name.rsplit('.').next().unwrap();
            let mid = seed["machines"][0]["id"].as_str().unwrap().to_string();
            seed[key][mid] = ex["value"].clone();
        }
        "mde.files.get" => seed["files"] = json!([{"file": strip_context(ex), "stats": {}}]),
        "mde.files.stats" => {
            let stats = strip_context(ex);
            seed["files"] = json!([{"file": {"sha1": stats["sha1"]}, "stats": stats}]);
        }
        "mde.ips.stats" => seed["ips"] = json!([{"stats": strip_context(ex)}]),
        "mde.domains.stats" => seed["domains"] = json!([{"stats": strip_context(ex)}]),
        "mde.indicators.list" => seed["indicators"] = ex["value"].clone(),
        "mde.investigations.list" => seed["investigations"] = ex["value"].clone(),
        "mde.machineactions.list" => seed["machine_actions"] = ex["value"].clone(),
        "mde.machineactions.get" => seed["machine_actions"] = json!([strip_context(ex)]),
        "xdr.incidents.list" => seed["incidents"] = ex["value"].clone(),
        "graph.security.alerts_v2.list" => seed["graph_alerts"] = ex["value"].clone(),
        "graph.security.alerts_v2.get" | "graph.security.alerts_v2.update" => seed["graph_alerts"] = json!([ex]),
        "graph.security.incidents.list" => seed["graph_incidents"] = ex["value"].clone(),
        "graph.security.incidents.get" | "graph.security.incidents.update" => seed["graph_incidents"] = json!([ex]),
        _ => {}
    }
    seed
}

/// The documented request for the endpoint, against the seeded data.
fn case_for(name: &str, doc: &Value, seed: &Value) -> Option<Case> {
    let ex = &doc["response_example"];
    let req = doc.get("request_example").cloned().filter(|v| !v.is_null());
    let first_value = ex["value"].as_array().and_then(|a| a.first()).cloned().unwrap_or(Value::Null);
    let machine = seed["machines"][0]["id"].as_str().unwrap_or_default().to_string();
    let alert_with = |field: &str| -> String {
        seed["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["evidence"].as_array().is_some_and(|e| e.iter().any(|x| !x[field].is_null())))
            .map(|a| a["id"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let get = |path: String, scope| Some(Case { method: Method::GET, path, body: None, scope, setup: Setup::None });
    let post =
        |path: String, scope| Some(Case { method: Method::POST, path, body: req.clone(), scope, setup: Setup::None });
    let patch =
        |path: String| Some(Case { method: Method::PATCH, path, body: req.clone(), scope: GRAPH, setup: Setup::None });
    let action = |kind_path: &'static str, path: &str, advance_s: i64| {
        Some(Case {
            method: if path.ends_with("cancel") { Method::POST } else { Method::GET },
            path: path.to_string(),
            body: req.clone(),
            scope: MDE,
            setup: Setup::Action { kind_path, body: json!({"Comment": "contract test"}), advance_s },
        })
    };
    match name {
        "mde.alerts.list" => get("/api/alerts?$expand=evidence".into(), MDE),
        "mde.alerts.get" => get(format!("/api/alerts/{}", ex["id"].as_str()?), MDE),
        "mde.alerts.related_domains" => get(format!("/api/alerts/{}/domains", alert_with("url")), MDE),
        "mde.alerts.related_files" => get(format!("/api/alerts/{}/files", alert_with("sha1")), MDE),
        "mde.alerts.related_ips" => get(format!("/api/alerts/{}/ips", alert_with("ipAddress")), MDE),
        "mde.alerts.related_machine" => get("/api/alerts/contract-alert/machine".into(), MDE),
        "mde.alerts.related_user" => get(format!("/api/alerts/{}/user", seed["alerts"][0]["id"].as_str()?), MDE),
        "mde.machines.list" => get("/api/machines".into(), MDE),
        "mde.machines.get" => get(format!("/api/machines/{}", ex["id"].as_str()?), MDE),
        "mde.machines.logon_users" => get(format!("/api/machines/{machine}/logonusers"), MDE),
        "mde.machines.software" => get(format!("/api/machines/{machine}/software"), MDE),
        "mde.machines.vulnerabilities" => get(format!("/api/machines/{machine}/vulnerabilities"), MDE),
        "mde.files.get" => get(format!("/api/files/{}", ex["sha1"].as_str()?), MDE),
        "mde.files.stats" => get(format!("/api/files/{}/stats", ex["sha1"].as_str()?), MDE),
        "mde.ips.stats" => get(format!("/api/ips/{}/stats", ex["ipAddress"].as_str()?), MDE),
        "mde.domains.stats" => get(format!("/api/domains/{}/stats", ex["host"].as_str()?), MDE),
        "mde.indicators.list" => get("/api/indicators".into(), MDE),
        "mde.indicators.import" => post("/api/indicators/import".into(), MDE),
        "mde.investigations.list" => get("/api/investigations".into(), MDE),
        "mde.machineactions.list" => get("/api/machineactions".into(), MDE),
        "mde.machineactions.get" => get(format!("/api/machineactions/{}", ex["id"].as_str()?), MDE),
        "mde.machineactions.cancel" => action("isolate", "/api/machineactions/{action}/cancel", 0),
        "mde.machineactions.get_package_uri" => {
            action("collectInvestigationPackage", "/api/machineactions/{action}/getPackageUri", 3600)
        }
        "mde.machineactions.get_live_response_result" => Some(Case {
            method: Method::GET,
            path: "/api/machineactions/{action}/GetLiveResponseResultDownloadLink(index=0)".into(),
            body: None,
            scope: MDE,
            setup: Setup::Action {
                kind_path: "runliveresponse",
                body: json!({"Commands": [{"type": "GetFile", "params": [{"key": "Path", "value": "C:\\x.txt"}]}], "Comment": "contract"}),
                advance_s: 3600,
            },
        }),
        n if n.starts_with("mde.machines.") && req.is_some() => {
            let verb = doc["path"].as_str()?.rsplit('/').next()?.to_string();
            post(format!("/api/machines/{machine}/{verb}"), MDE)
        }
        "mde.advanced_hunting.run" => post("/api/advancedqueries/run".into(), MDE),
        "xdr.advanced_hunting.run" => post("/api/advancedhunting/run".into(), XDR),
        "xdr.incidents.list" => get("/api/incidents".into(), XDR),
        "graph.security.run_hunting_query" => post("/v1.0/security/runHuntingQuery".into(), GRAPH),
        "graph.security.alerts_v2.list" => get("/v1.0/security/alerts_v2".into(), GRAPH),
        "graph.security.alerts_v2.get" => get(format!("/v1.0/security/alerts_v2/{}", ex["id"].as_str()?), GRAPH),
        "graph.security.alerts_v2.update" => patch(format!("/v1.0/security/alerts_v2/{}", ex["id"].as_str()?)),
        "graph.security.incidents.list" => get("/v1.0/security/incidents".into(), GRAPH),
        "graph.security.incidents.get" => get(format!("/v1.0/security/incidents/{}", ex["id"].as_str()?), GRAPH),
        "graph.security.incidents.update" => patch(format!("/v1.0/security/incidents/{}", ex["id"].as_str()?)),
        _ => {
            let _ = first_value;
            None
        }
    }
}

#[tokio::test]
async fn every_documented_example_is_answered_in_its_documented_shape() {
    let (sim, http, tenant, spec) = demo().await;
    let all_roles: Vec<String> =
        spec.endpoints.iter().flat_map(|e| e.application.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    for ep in &spec.endpoints {
        let ex = &ep.doc["response_example"];
        if ex.is_null() {
            continue;
        }
        let seed = seed_for(&ep.name, ex, &all_roles);
        let resp = http.post(format!("{}/_sim/seed", sim.url)).json(&seed).send().await.unwrap();
        assert!(resp.status().is_success(), "{}: seeding failed: {}", ep.name, resp.text().await.unwrap());
        let Some(case) = case_for(&ep.name, &ep.doc, &seed) else {
            failures.push(format!("{}: no documented request built for this example", ep.name));
            continue;
        };
        let token = app_token(&http, &sim.url, &tenant, DEMO_APP, case.scope).await;
        let mut path = case.path.clone();
        if let Setup::Action { kind_path, body, advance_s } = &case.setup {
            let machine = seed["machines"][0]["id"].as_str().unwrap();
            let created =
                post_json(&http, &format!("{}/api/machines/{machine}/{kind_path}", sim.url), &token, body).await;
            let id = created["id"].as_str().unwrap_or_else(|| panic!("{}: setup action failed: {created}", ep.name));
            path = path.replace("{action}", id);
            if *advance_s > 0 {
                http.post(format!("{}/_sim/clock", sim.url))
                    .json(&json!({"advance_s": advance_s}))
                    .send()
                    .await
                    .unwrap();
            }
        }
        let token = app_token(&http, &sim.url, &tenant, DEMO_APP, case.scope).await;
        let mut req = http.request(case.method.clone(), format!("{}{path}", sim.url)).bearer_auth(&token);
        if let Some(body) = &case.body {
            req = req.json(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            failures.push(format!("{} {} {path}: {status} {body}", ep.name, case.method));
            continue;
        }
        let mut diffs = shape_diff("$", ex, &body);
        // Members real answers carry beyond the documented example, each shown by a recorded answer
        // of the same endpoint in contract/real-responses/.
        diffs.retain(|d| !RECORDED_BEYOND_DOCS.contains(&(ep.name.as_str(), d.as_str())));
        // A machine action: the members a recorded one carries beyond the documented example.
        if ex.get("requestor").is_some() {
            diffs.retain(|d| {
                !recorded_action_members().iter().any(|m| *d == format!("$.{m}: in the answer, not documented"))
            });
        }
        if !diffs.is_empty() {
            failures.push(format!("{}: {}", ep.name, diffs.join("; ")));
        }
        // Lists must actually hold an element to compare; an empty answer proves nothing.
        if ex["value"].as_array().is_some_and(|v| !v.is_empty()) && body["value"].as_array().is_none_or(Vec::is_empty) {
            failures.push(format!("{}: answered an empty list", ep.name));
        }
        covered.insert(ep.name.clone());
    }
    assert!(failures.is_empty(), "contract mismatches:\n{}", failures.join("\n"));
    let with_examples = spec.endpoints.iter().filter(|e| !e.doc["response_example"].is_null()).count();
    assert_eq!(covered.len(), with_examples, "every endpoint with a response example is checked");
    // 43 of the 65 documented endpoints carry a response example (the rest are checked in simulator.rs).
    assert_eq!(with_examples, 43);
}

#[tokio::test]
async fn error_envelopes_and_token_answers_match_their_documented_shapes() {
    let (sim, http, tenant, spec) = demo().await;
    let doc = |n: &str| spec.file(n).unwrap()["response_example"].clone();

    let token = app_token(&http, &sim.url, &tenant, DEMO_APP, MDE).await;
    let missing =
        get_json(&http, &format!("{}/api/machines/0000000000000000000000000000000000000000", sim.url), &token).await;
    assert_eq!(shape_diff("$", &doc("mde.errors"), &missing), Vec::<String>::new());
    assert_eq!(missing["error"]["code"], "ResourceNotFound");

    let graph = app_token(&http, &sim.url, &tenant, DEMO_APP, GRAPH).await;
    let missing = get_json(&http, &format!("{}/v1.0/security/alerts_v2/nope", sim.url), &graph).await;
    assert_eq!(shape_diff("$", &doc("graph.errors"), &missing), Vec::<String>::new());

    let ok = sim.client_credentials(&http, DEMO_APP, MDE).await.unwrap();
    let mut documented = doc("auth.token.client_credentials_secret");
    // Entra also sends ext_expires_in, which the doc sample leaves out.
    documented["ext_expires_in"] = json!(3599);
    assert_eq!(shape_diff("$", &documented, &ok), Vec::<String>::new());

    let bad = sim.client_credentials(&http, (DEMO_APP.0, "wrong"), MDE).await.unwrap();
    assert_eq!(shape_diff("$", &doc("auth.token.error"), &bad), Vec::<String>::new());
    assert!(bad["error_description"].as_str().unwrap().starts_with("AADSTS7000215:"));
}

/// The JSON a bearer-authenticated GET answers with.
async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Value {
    http.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

/// The JSON a bearer-authenticated POST of `body` answers with.
async fn post_json(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> Value {
    http.post(url).bearer_auth(token).json(body).send().await.unwrap().json().await.unwrap()
}

/// The demo tenant, a client that trusts it, its id and the documented endpoint table.
async fn demo() -> (RunningSim, reqwest::Client, String, SpecTable) {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let http = sim.client().unwrap();
    let tenant = sim.tenant_id();
    (sim, http, tenant, SpecTable::load().unwrap())
}
