//! The simulated tenant enforces what the real services enforce: auth, permissions, OData, paging,
//! quotas, the machine-action lifecycle, hunting, fault rules, and real errors for bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use integration_tests::{DEMO_APP, MDE, READER_APP, XDR, app_token, mint};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;
use tenant_sim::{RunningSim, Seed, SimOptions, start};

const MDE_AUD: &str = "https://api.securitycenter.microsoft.com";

async fn sim() -> (RunningSim, Client) {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let http = sim.client().unwrap();
    (sim, http)
}

/// The simulator, a client and the demo app's MDE token.
async fn mde_sim() -> (RunningSim, Client, String) {
    let (sim, http) = sim().await;
    let t = mde_token(&http, &sim).await;
    (sim, http, t)
}

/// A client-credentials token of the demo app for MDE.
async fn mde_token(http: &Client, sim: &RunningSim) -> String {
    app_token(http, &sim.url, &sim.tenant_id(), DEMO_APP, MDE).await
}

/// The id of the seeded entity `pick` chooses.
fn seeded_id(sim: &RunningSim, pick: impl FnOnce(&Seed) -> &Value) -> String {
    pick(&sim.sim.tenant.lock().unwrap().seed)["id"].as_str().unwrap().to_string()
}

async fn get(http: &Client, url: String, token: &str) -> (StatusCode, Value) {
    let r = http.get(url).bearer_auth(token).send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn post(http: &Client, url: String, token: &str, body: Value) -> (StatusCode, Value) {
    let r = http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn control(http: &Client, sim: &RunningSim, path: &str, body: Value) -> Value {
    let r = http.post(format!("{}/_sim/{path}", sim.url)).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "control {path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

#[tokio::test]
async fn unauthenticated_wrong_audience_expired_and_foreign_tokens_get_401() {
    let (sim, http) = sim().await;
    let url = format!("{}/api/alerts", sim.url);
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Unauthorized");
    assert!(body["error"]["target"].is_string());

    let graph = mint(&sim, "https://graph.microsoft.com", &["Alert.Read.All"], None, 3600);
    let (s, body) = get(&http, url.clone(), &graph).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body["error"]["message"].as_str().unwrap().contains("audience"));
    let vault = mint(&sim, "https://vault.azure.net", &["Alert.Read.All"], None, 3600);
    assert_eq!(get(&http, url.clone(), &vault).await.0, StatusCode::UNAUTHORIZED);
    let expired = mint(&sim, MDE_AUD, &["Alert.Read.All"], None, -1);
    let (s, body) = get(&http, url.clone(), &expired).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"));
    assert_eq!(get(&http, url.clone(), "not.a.jwt").await.0, StatusCode::UNAUTHORIZED);
    // A valid token becomes expired when simulated time passes.
    let ok = mint(&sim, MDE_AUD, &["Alert.Read.All"], None, 60);
    assert_eq!(get(&http, url.clone(), &ok).await.0, StatusCode::OK);
    control(&http, &sim, "clock", json!({"advance_s": 61})).await;
    assert_eq!(get(&http, url, &ok).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn permissions_come_from_the_documented_table() {
    let (sim, http) = sim().await;
    let machine = seeded_id(&sim, |s| &s.machines[0]);
    // The reader app holds Machine.Read.All but not Machine.Isolate.
    let reader = app_token(&http, &sim.url, &sim.tenant_id(), READER_APP, MDE).await;
    let (s, _) = get(&http, format!("{}/api/machines/{machine}", sim.url), &reader).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) =
        post(&http, format!("{}/api/machines/{machine}/isolate", sim.url), &reader, json!({"Comment": "x"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "Forbidden");
    assert!(body["error"]["message"].as_str().unwrap().contains("Machine.Isolate"));
    // Roles only count for their own API: Incident.Read.All on an MDE token opens nothing in MDE.
    let wrong = mint(&sim, MDE_AUD, &["Incident.Read.All"], None, 3600);
    assert_eq!(get(&http, format!("{}/api/alerts", sim.url), &wrong).await.0, StatusCode::FORBIDDEN);
    // Delegated tokens are checked against the delegated list; indicators delete has none.
    let user = mint(&sim, MDE_AUD, &[], Some("Ti.ReadWrite Alert.Read"), 3600);
    assert_eq!(get(&http, format!("{}/api/alerts", sim.url), &user).await.0, StatusCode::OK);
    let r = http.delete(format!("{}/api/indicators/1", sim.url)).bearer_auth(&user).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn odata_filters_orderby_top_and_errors() {
    let (sim, http, t) = mde_sim().await;
    let all = sim.sim.tenant.lock().unwrap().seed.alerts.clone();
    let count = |pred: &dyn Fn(&Value) -> bool| all.iter().filter(|a| pred(a)).count();
    let q = |f: &str| format!("{}/api/alerts?$filter={}", sim.url, f);
    let cases: Vec<(&str, usize)> = vec![
        ("severity eq 'High'", count(&|a| a["severity"] == "High")),
        ("severity ne 'High'", count(&|a| a["severity"] != "High")),
        ("severity eq 'high'", count(&|a| a["severity"] == "High")),
        ("status in ('New','InProgress')", count(&|a| a["status"] == "New" || a["status"] == "InProgress")),
        ("severity eq 'High' and status eq 'New'", count(&|a| a["severity"] == "High" && a["status"] == "New")),
        (
            "severity eq 'Low' or severity eq 'Informational'",
            count(&|a| a["severity"] == "Low" || a["severity"] == "Informational"),
        ),
        ("not (severity eq 'High')", count(&|a| a["severity"] != "High")),
    ];
    for (f, want) in cases {
        let (s, body) = get(&http, q(f), &t).await;
        assert_eq!(s, StatusCode::OK, "{f}: {body}");
        assert_eq!(body["value"].as_array().unwrap().len(), want, "{f}");
        assert!(want > 0 || f.contains("not"), "the demo seed should exercise {f}");
    }
    // Date comparisons as instants, unquoted, as the docs write them.
    let mut times: Vec<String> = all.iter().map(|a| a["lastUpdateTime"].as_str().unwrap().to_string()).collect();
    times.sort();
    let mid = &times[times.len() / 2];
    let mid_t = chrono::DateTime::parse_from_rfc3339(mid).unwrap();
    for (op, pred) in [
        ("gt", Box::new(|t: chrono::DateTime<chrono::FixedOffset>| t > mid_t) as Box<dyn Fn(_) -> bool>),
        ("ge", Box::new(|t| t >= mid_t)),
        ("lt", Box::new(|t| t < mid_t)),
        ("le", Box::new(|t| t <= mid_t)),
    ] {
        let want = times.iter().filter(|t| pred(chrono::DateTime::parse_from_rfc3339(t).unwrap())).count();
        let (s, body) = get(&http, q(&format!("lastUpdateTime {op} {mid}")), &t).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(body["value"].as_array().unwrap().len(), want, "lastUpdateTime {op}");
    }
    // $orderby: no list documents it. The strict simulator (the default) ignores it, as a service
    // that does not implement an option; the lenient one sorts as asked.
    let orderby = format!("{}/api/alerts?$orderby=lastUpdateTime desc&$top=5", sim.url);
    let mut want: Vec<&str> = times.iter().map(String::as_str).collect();
    want.reverse();
    let (s, body) = get(&http, orderby.clone(), &t).await;
    assert_eq!(s, StatusCode::OK, "strict: ignored, not refused");
    let got: Vec<&str> =
        body["value"].as_array().unwrap().iter().map(|a| a["lastUpdateTime"].as_str().unwrap()).collect();
    assert_ne!(got, want[..5].to_vec(), "strict: $orderby ignored");
    control(&http, &sim, "config", json!({"strict": false})).await;
    let (_, body) = get(&http, orderby, &t).await;
    let got: Vec<&str> =
        body["value"].as_array().unwrap().iter().map(|a| a["lastUpdateTime"].as_str().unwrap()).collect();
    assert_eq!(got, want[..5].to_vec());
    control(&http, &sim, "config", json!({"strict": true})).await;
    // machines: startswith and the any() lambda on tags
    let (s, body) = get(&http, format!("{}/api/machines?$filter=startswith(computerDnsName,'ws-')", sim.url), &t).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        body["value"].as_array().unwrap().iter().all(|m| m["computerDnsName"].as_str().unwrap().starts_with("ws-"))
    );
    // errors: undocumented field, bad syntax, $top over the documented maximum, unknown option
    for bad in [
        format!("{}/api/alerts?$filter=title eq 'x'", sim.url),
        format!("{}/api/alerts?$filter=severity eq", sim.url),
        format!("{}/api/alerts?$top=10001", sim.url),
        format!("{}/api/alerts?$top=-1", sim.url),
        format!("{}/api/alerts?$select=id", sim.url),
        format!("{}/api/incidents?$top=101", sim.url),
    ] {
        let token = if bad.contains("incidents") {
            app_token(&http, &sim.url, &sim.tenant_id(), DEMO_APP, XDR).await
        } else {
            t.clone()
        };
        let (s, body) = get(&http, bad.clone(), &token).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"]["code"].is_string());
    }
    let (_, body) = get(&http, format!("{}/api/alerts?$top=10001", sim.url), &t).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("10000"));
}

#[tokio::test]
async fn paging_reaches_the_end_without_duplicates() {
    let (sim, http) = sim().await;
    let tenant = sim.tenant_id();
    // MDE: $top/$skip
    let t = app_token(&http, &sim.url, &tenant, DEMO_APP, MDE).await;
    let total = sim.sim.tenant.lock().unwrap().seed.alerts.len();
    let mut seen = HashSet::new();
    let mut skip = 0;
    loop {
        let (_, body) = get(&http, format!("{}/api/alerts?$top=7&$skip={skip}", sim.url), &t).await;
        let page = body["value"].as_array().unwrap();
        assert!(body.get("@odata.nextLink").is_none(), "an explicit $top pages by $skip");
        for a in page {
            assert!(seen.insert(a["id"].as_str().unwrap().to_string()), "duplicate at skip {skip}");
        }
        if page.len() < 7 {
            break;
        }
        skip += 7;
    }
    assert_eq!(seen.len(), total);
    // Graph: follow @odata.nextLink to the end.
    control(&http, &sim, "config", json!({"graph_page_size": 8})).await;
    let g = app_token(&http, &sim.url, &tenant, DEMO_APP, integration_tests::GRAPH).await;
    let mut url = format!("{}/v1.0/security/alerts_v2?$count=true", sim.url);
    let mut ids = HashSet::new();
    let mut pages = 0;
    let mut count = None;
    loop {
        let (s, body) = get(&http, url.clone(), &g).await;
        assert_eq!(s, StatusCode::OK);
        pages += 1;
        count = count.or(body["@odata.count"].as_u64());
        for a in body["value"].as_array().unwrap() {
            assert!(ids.insert(a["id"].as_str().unwrap().to_string()));
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    let graph_total = sim.sim.tenant.lock().unwrap().seed.graph_alerts.len();
    assert_eq!(ids.len(), graph_total);
    assert_eq!(count, Some(graph_total as u64));
    assert_eq!(pages, graph_total.div_ceil(8));
}

#[tokio::test]
async fn quota_429_then_success_after_retry_after() {
    let (sim, http, t) = mde_sim().await;
    // batchUpdate: documented 10 calls per minute.
    let id = seeded_id(&sim, |s| &s.alerts[0]);
    let url = format!("{}/api/alerts/batchUpdate", sim.url);
    let body = json!({"alertIds": [id], "status": "InProgress"});
    for i in 0..10 {
        let (s, b) = post(&http, url.clone(), &t, body.clone()).await;
        assert_eq!(s, StatusCode::OK, "call {i}: {b}");
    }
    let r = http.post(&url).bearer_auth(&t).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "TooManyRequests");
    // Resubmitting sooner is refused again; after Retry-After it goes through.
    control(&http, &sim, "clock", json!({"advance_s": retry - 1})).await;
    assert_eq!(post(&http, url.clone(), &t, body.clone()).await.0, StatusCode::TOO_MANY_REQUESTS);
    control(&http, &sim, "clock", json!({"advance_s": 1})).await;
    assert_eq!(post(&http, url.clone(), &t, body.clone()).await.0, StatusCode::OK);
    // Hunting says which quota in its body.
    let h = format!("{}/api/advancedqueries/run", sim.url);
    for _ in 0..45 {
        assert_eq!(
            post(&http, h.clone(), &t, json!({"Query": "DeviceProcessEvents | take 1"})).await.0,
            StatusCode::OK
        );
    }
    let (s, b) = post(&http, h, &t, json!({"Query": "DeviceProcessEvents | take 1"})).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(b["error"]["message"].as_str().unwrap().contains("45 calls per minute"));
}

#[tokio::test]
async fn machine_action_lifecycle_and_double_isolate() {
    let (sim, http, t) = mde_sim().await;
    let machine = seeded_id(&sim, |s| &s.machines[3]);
    let iso = format!("{}/api/machines/{machine}/isolate", sim.url);
    let (s, b) = post(&http, iso.clone(), &t, json!({"IsolationType": "Full"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "Comment is required: {b}");
    let (s, b) = post(&http, iso.clone(), &t, json!({"Comment": "x", "IsolationType": "Partial"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, action) = post(&http, iso.clone(), &t, json!({"Comment": "IR-1 by alice", "IsolationType": "Full"})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(action["status"], "Pending");
    assert_eq!(action["type"], "Isolate");
    assert_eq!(action["requestor"], DEMO_APP.0);
    let id = action["id"].as_str().unwrap();
    // A second isolate while the first is in flight: 400 as the live API answers.
    let (s, b) = post(&http, iso.clone(), &t, json!({"Comment": "again", "IsolationType": "Full"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["code"], "ActiveRequestAlreadyExists");
    let status = |b: &Value| b["status"].as_str().unwrap().to_string();
    let get_action = format!("{}/api/machineactions/{id}", sim.url);
    control(&http, &sim, "clock", json!({"advance_s": 6})).await;
    assert_eq!(status(&get(&http, get_action.clone(), &t).await.1), "InProgress");
    control(&http, &sim, "clock", json!({"advance_s": 30})).await;
    let t = mde_token(&http, &sim).await;
    assert_eq!(status(&get(&http, get_action.clone(), &t).await.1), "Succeeded");
    // Isolating an isolated machine is accepted but never completes.
    let (s, again) = post(&http, iso.clone(), &t, json!({"Comment": "twice", "IsolationType": "Full"})).await;
    assert_eq!(s, StatusCode::CREATED);
    control(&http, &sim, "clock", json!({"advance_s": 120})).await;
    let t = mde_token(&http, &sim).await;
    let (_, stuck) = get(&http, format!("{}/api/machineactions/{}", sim.url, again["id"].as_str().unwrap()), &t).await;
    assert_eq!(stuck["status"], "Pending");
    assert!(stuck.get("_stuck").is_none(), "private markers never leak");
    // Cancel: only before completion.
    let (s, c) = post(
        &http,
        format!("{}/api/machineactions/{}/cancel", sim.url, again["id"].as_str().unwrap()),
        &t,
        json!({"Comment": "cancel"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["status"], "Cancelled");
    let (s, _) = post(&http, format!("{get_action}/cancel"), &t, json!({"Comment": "too late"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The action list can be filtered by machine and type.
    let (_, list) = get(
        &http,
        format!("{}/api/machineactions?$filter=machineId eq '{machine}' and type eq 'Isolate'", sim.url),
        &t,
    )
    .await;
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
    // Unknown machine: 404 in the documented envelope.
    let (s, b) = post(
        &http,
        format!("{}/api/machines/ffffffffffffffffffffffffffffffffffffffff/isolate", sim.url),
        &t,
        json!({"Comment": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "ResourceNotFound");
}

#[tokio::test]
async fn hunting_answers_in_each_apis_shape() {
    let (sim, http) = sim().await;
    let tenant = sim.tenant_id();
    let q = json!({"Query": "DeviceProcessEvents | where InitiatingProcessFileName =~ \"powershell.exe\" | project Timestamp, FileName, InitiatingProcessFileName | order by Timestamp desc | limit 2"});
    let mde = app_token(&http, &sim.url, &tenant, DEMO_APP, MDE).await;
    let (s, b) = post(&http, format!("{}/api/advancedqueries/run", sim.url), &mde, q.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["Schema"][0], json!({"Name": "Timestamp", "Type": "DateTime"}));
    assert_eq!(b["Results"].as_array().unwrap().len(), 2);
    assert_eq!(b["Results"][0]["InitiatingProcessFileName"].as_str().unwrap().to_lowercase(), "powershell.exe");
    // As recorded MDE answers are: with `Stats`.
    assert!(b["Stats"]["dataset_statistics"].is_array(), "{b}");
    // Ports are declared `Int32` in the schema (recorded answers say so), not inferred `Int64`.
    let ports = json!({"Query": "DeviceNetworkEvents | project Timestamp, RemotePort | limit 1"});
    let (s, p) = post(&http, format!("{}/api/advancedqueries/run", sim.url), &mde, ports).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["Schema"][1], json!({"Name": "RemotePort", "Type": "Int32"}));
    let xdr = app_token(&http, &sim.url, &tenant, DEMO_APP, XDR).await;
    let (s, b) = post(&http, format!("{}/api/advancedhunting/run", sim.url), &xdr, q.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b["Stats"].is_object());
    let g = app_token(&http, &sim.url, &tenant, DEMO_APP, integration_tests::GRAPH).await;
    let (s, b) = post(&http, format!("{}/v1.0/security/runHuntingQuery", sim.url), &g, q).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["schema"][1], json!({"name": "FileName", "type": "String"}));
    // Unsupported KQL and unknown tables are 400s with a reason, never a wrong answer.
    for bad in [
        "DeviceProcessEvents | join (DeviceNetworkEvents) on DeviceId",
        "NoSuchTable | take 1",
        "",
        "DeviceProcessEvents | where",
    ] {
        let (s, b) = post(&http, format!("{}/api/advancedqueries/run", sim.url), &mde, json!({"Query": bad})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {b}");
    }
    let (s, _) = post(&http, format!("{}/api/advancedqueries/run", sim.url), &mde, json!({"query": "x"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "body parameters are case-sensitive");
}

#[tokio::test]
async fn fault_rules_apply_as_written_and_are_logged() {
    let (sim, http, t) = mde_sim().await;
    control(
        &http,
        &sim,
        "faults",
        json!({"method": "GET", "path_prefix": "/api/machines", "status": 429, "retry_after_s": 7, "times": 2}),
    )
    .await;
    for _ in 0..2 {
        let r = http.get(format!("{}/api/machines", sim.url)).bearer_auth(&t).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "7");
    }
    assert_eq!(get(&http, format!("{}/api/machines", sim.url), &t).await.0, StatusCode::OK);
    // Other paths are untouched; a probability rule with a seed is deterministic.
    control(
        &http,
        &sim,
        "faults",
        json!({"path_prefix": "/api/alerts", "status": 503, "probability": 0.5, "seed": 42}),
    )
    .await;
    let mut outcomes = Vec::new();
    for _ in 0..20 {
        outcomes.push(get(&http, format!("{}/api/alerts?$top=1", sim.url), &t).await.0.as_u16());
    }
    assert!(outcomes.contains(&503) && outcomes.contains(&200), "{outcomes:?}");
    let log: Value = http.get(format!("{}/_sim/requests", sim.url)).send().await.unwrap().json().await.unwrap();
    let entries = log["value"].as_array().unwrap();
    let throttled = entries.iter().filter(|e| e["status"] == 429 && e["path"] == "/api/machines").count();
    assert_eq!(throttled, 2);
    assert!(entries.iter().any(|e| e["client"] == DEMO_APP.0));
    // Invalid rules are refused with a reason.
    let r = http
        .post(format!("{}/_sim/faults", sim.url))
        .json(&json!({"path_prefix": "/api", "probability": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_input_gets_the_services_errors_never_a_panic() {
    let (sim, http, t) = mde_sim().await;
    let machine = seeded_id(&sim, |s| &s.machines[0]);
    let r = http
        .post(format!("{}/api/machines/{machine}/isolate", sim.url))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "InvalidRequestBody");
    for (url, code) in [
        (format!("{}/api/alerts/nope", sim.url), StatusCode::NOT_FOUND),
        (format!("{}/api/ips/999.1.1.1/stats", sim.url), StatusCode::BAD_REQUEST),
        (format!("{}/api/files/xyz", sim.url), StatusCode::BAD_REQUEST),
        (format!("{}/api/domains/-bad-/stats", sim.url), StatusCode::BAD_REQUEST),
        (
            format!("{}/api/machines/findbyip(ip='10.0.0.1',timestamp=2001-01-01T00:00:00Z)", sim.url),
            StatusCode::BAD_REQUEST,
        ),
        (format!("{}/api/nothing", sim.url), StatusCode::NOT_FOUND),
    ] {
        let (s, b) = get(&http, url.clone(), &t).await;
        assert_eq!(s, code, "{url}: {b}");
        assert!(b["error"]["code"].is_string(), "{url}: {b}");
    }
    // A bad seed is refused with the reason and the tenant keeps its data.
    let r = http.post(format!("{}/_sim/seed", sim.url)).body("{\"tenant_id\": 5}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(get(&http, format!("{}/api/machines/{machine}", sim.url), &t).await.0, StatusCode::OK);
    // Unknown ip stats: 200 with prevalence 0, as documented.
    let (s, b) = get(&http, format!("{}/api/ips/198.51.100.77/stats", sim.url), &t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["organizationPrevalence"], 0);
}

#[tokio::test]
async fn control_api_can_be_switched_off() {
    let mut opts = SimOptions::demo().unwrap();
    opts.control = false;
    let sim = start(opts).await.unwrap();
    let r = sim.client().unwrap().post(format!("{}/_sim/reset", sim.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
