//! The function's library end to end against the simulated tenant: real event fixture → signature →
//! parse → typed Defender calls → the documented answer, compared with what the seed holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{call, setup};
use defender_shared::{secret::SecretString, webhook};
use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use std::time::Instant;
use testkit::{
    SimEnv,
    demo::{WHSEC, now},
    sim::requests,
};
use webhook_enrich::handler;

async fn setup_with(callback: Option<String>) -> (SimEnv, handler::State) {
    let settings: Vec<(&str, String)> = callback.map(|c| ("WEBHOOK_CALLBACK_URL", c)).into_iter().collect();
    setup(&settings).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mixed_request_is_answered_exactly_as_the_seed_says() {
    let (sim, st) = setup(&[]).await;
    let seed = sim.sim.tenant.lock().unwrap().seed.clone();
    // A machine with alerts, its host name, a file and an IP from its alerts' evidence.
    let machine =
        seed.machines.iter().find(|m| seed.alerts.iter().filter(|a| a["machineId"] == m["id"]).count() >= 2).unwrap();
    let mid = machine["id"].as_str().unwrap();
    let host = machine["computerDnsName"].as_str().unwrap();
    let machine_alerts: Vec<&str> =
        seed.alerts.iter().filter(|a| a["machineId"] == machine["id"]).map(|a| a["id"].as_str().unwrap()).collect();
    let file = seed.files.iter().map(|f| &f["file"]).find(|f| f["sha1"].is_string()).unwrap();
    let sha1 = file["sha1"].as_str().unwrap();
    let file_stats = &seed.files.iter().find(|f| f["file"]["sha1"] == file["sha1"]).unwrap()["stats"];
    let body = json!({"indicators": {
        "machine_ids": [mid], "hostnames": [host, "ghost.contoso.com"], "sha1": [sha1],
        "sha256": ["0000000000000000000000000000000000000000000000000000000000000000"], "ips": ["10.999.0.1"]
    }})
    .to_string();
    let (status, out) = call(&st, &body, "msg_mixed").await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let results = out["results"].as_array().unwrap();
    let by = |kind: &str, input: &str| {
        results
            .iter()
            .find(|r| r["kind"] == kind && r["input"] == input)
            .unwrap_or_else(|| panic!("{kind} {input}: {out}"))
    };

    let m = by("machine_id", mid);
    assert_eq!(m["status"], "found");
    assert_eq!(m["machines"][0]["computer_dns_name"], machine["computerDnsName"]);
    assert_eq!(m["machines"][0]["os_platform"], machine["osPlatform"]);
    assert_eq!(m["machines"][0]["health_status"], machine["healthStatus"]);
    assert_eq!(m["machines"][0]["risk_score"], machine["riskScore"]);
    let users: Vec<&str> = seed.logon_users[mid].iter().map(|u| u["accountName"].as_str().unwrap()).collect();
    let got_users: Vec<&str> =
        m["machines"][0]["logged_on_users"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
    assert_eq!(got_users, users);
    let mut got_alerts: Vec<&str> = m["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    got_alerts.sort();
    let mut want = machine_alerts.clone();
    want.sort();
    assert_eq!(got_alerts, want);

    assert_eq!(by("hostname", host)["status"], "found");
    assert_eq!(by("hostname", "ghost.contoso.com")["status"], "not_found");
    let f = by("sha1", sha1);
    assert_eq!(f["status"], "found");
    assert_eq!(f["file"]["organization_prevalence"], file_stats["organizationPrevalence"]);
    assert_eq!(by("sha256", "0000000000000000000000000000000000000000000000000000000000000000")["status"], "not_found");
    let bad = by("ip", "10.999.0.1");
    assert_eq!(bad["status"], "invalid");
    assert!(bad["reason"].as_str().unwrap().contains("10.999.0.1"));
    let sev = out["summary"]["highest_alert_severity"].as_str().unwrap();
    assert!(["High", "Medium", "Low", "Informational"].contains(&sev));
    assert!(out["summary"]["complete"].as_bool().unwrap());
    // The same machine (by id and by host name) had its users and alerts fetched once.
    let log = requests(&sim).await;
    let logon = log.iter().filter(|e| e["path"] == format!("/api/machines/{mid}/logonusers")).count();
    assert_eq!(logon, 1, "duplicate lookups within one request are made once");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_lookups_are_marked_and_the_answer_comes_within_the_deadline() {
    let (sim, st) = setup(&[]).await;
    let http = sim.client().unwrap();
    // Every IP lookup is throttled with a wait far past the request's deadline.
    http.post(format!("{}/_sim/faults", sim.url))
        .json(&json!({"path_prefix": "/api/ips/", "status": 429, "retry_after_s": 120}))
        .send()
        .await
        .unwrap();
    let mid = sim.sim.tenant.lock().unwrap().seed.machines[0]["id"].as_str().unwrap().to_string();
    let body = json!({"indicators": {"ips": ["198.51.100.23"], "machine_ids": [mid]}}).to_string();
    let t = Instant::now();
    let (status, out) = call(&st, &body, "msg_throttle").await;
    assert!(t.elapsed().as_secs() < 10, "answered within the 10 s local deadline");
    assert_eq!(status, StatusCode::OK, "partial failure is still a 200: {out}");
    let ip = out["results"].as_array().unwrap().iter().find(|r| r["kind"] == "ip").unwrap();
    assert_eq!(ip["status"], "error", "{out}");
    assert_eq!(ip["reason"], "throttled by Defender past the request's deadline");
    let m = out["results"].as_array().unwrap().iter().find(|r| r["kind"] == "machine_id").unwrap();
    assert_eq!(m["status"], "found");
    assert_eq!(out["summary"]["complete"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_indicators_never_reach_a_filter_or_a_path() {
    let (sim, st) = setup(&[]).await;
    let hostile = ["x' or 1 eq 1", "a|b", "line\nbreak", "\") or true//", "ws'; drop"];
    let body = json!({"indicators": {
        "hostnames": hostile, "domains": hostile, "users": hostile, "machine_ids": hostile, "sha256": hostile
    }})
    .to_string();
    let (status, out) = call(&st, &body, "msg_hostile").await;
    assert_eq!(status, StatusCode::OK);
    assert!(out["results"].as_array().unwrap().iter().all(|r| r["status"] == "invalid"), "{out}");
    let log = requests(&sim).await;
    for e in log.iter().filter(|e| e["path"].as_str().unwrap().starts_with("/api/")) {
        let seen = format!(
            "{} {}",
            e["path"],
            url::form_urlencoded::parse(e["query"].as_str().unwrap_or("").as_bytes())
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        );
        for h in hostile {
            assert!(!seen.contains(h), "{h:?} reached Defender: {seen}");
        }
        assert!(!seen.contains("1 eq 1") && !seen.contains('|'), "{seen}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_result_is_also_posted_signed_to_the_configured_callback() {
    use axum::{Router, body::Bytes, extract::State as AxState, http::HeaderMap, routing::post};
    type Got = std::sync::Arc<tokio::sync::Mutex<Vec<(HeaderMap, Bytes)>>>;
    let got: Got = Default::default();
    let app = Router::new()
        .route(
            "/hook",
            post(|AxState(g): AxState<Got>, h: HeaderMap, b: Bytes| async move {
                g.lock().await.push((h, b));
                "ok"
            }),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (sim, st) = setup_with(Some(format!("http://{addr}/hook"))).await;
    // The callback's own outbound key, in the vault next to the inbound one.
    const OUTBOUND: &str = "whsec_b3V0Ym91bmQtY2FsbGJhY2sta2V5LTI0Yg==";
    st.store.set("webhook-callback-secret", &SecretString::new(OUTBOUND)).await.unwrap();
    let mid = sim.sim.tenant.lock().unwrap().seed.machines[0]["id"].as_str().unwrap().to_string();
    let body = json!({"indicators": {"machine_ids": [mid]}}).to_string();
    let (status, out) = call(&st, &body, "msg_cb").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(out["callback"], json!({"delivered": true, "status": 200}), "{out}");
    let posted = got.lock().await;
    assert_eq!(posted.len(), 1);
    let (headers, bytes) = &posted[0];
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let v = webhook::verify_standard(h, bytes, &[SecretString::new(OUTBOUND)], now(), webhook::DEFAULT_WINDOW).unwrap();
    assert_eq!(v.id.as_deref(), Some("msg_cb-result"));
    // Not with the inbound key: a callback receiver learns nothing it could sign requests with.
    assert_eq!(
        webhook::verify_standard(h, bytes, &[SecretString::new(WHSEC)], now(), webhook::DEFAULT_WINDOW),
        Err(webhook::SignatureError::Mismatch)
    );
    let doc: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(doc["results"], out["results"]);
    drop(posted);
    // An unreachable callback does not fail the request: it is reported.
    let (_sim2, st2) = setup_with(Some("http://127.0.0.1:9/hook".into())).await;
    let (status, out) = call(&st2, &json!({"indicators": {"ips": ["bad"]}}).to_string(), "msg_cb2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(out["callback"]["delivered"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_hunting_queries_run_for_matching_indicators_only() {
    let (sim, st) = setup(&[("ENRICH_HUNTING_QUERIES", "network_by_ip".to_string())]).await;
    let c2 = sim.sim.tenant.lock().unwrap().seed.hunting["DeviceNetworkEvents"]
        .iter()
        .find_map(|r| r.get("RemoteIP").and_then(Value::as_str).map(str::to_string))
        .unwrap();
    let body = json!({"indicators": {"ips": [c2], "domains": ["evil.example"]}}).to_string();
    let (status, out) = call(&st, &body, "msg_hunt").await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let ip = out["results"].as_array().unwrap().iter().find(|r| r["kind"] == "ip").unwrap();
    assert_eq!(ip["hunting"][0]["query"], "network_by_ip");
    let rows = ip["hunting"][0]["rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows[0]["count_"].as_i64().unwrap() > 0, "{ip}");
    let domain = out["results"].as_array().unwrap().iter().find(|r| r["kind"] == "domain").unwrap();
    assert!(domain.get("hunting").is_none(), "only the configured query, only for its kind");
    let log = requests(&sim).await;
    // Graph runHuntingQuery, never the retiring MDE/XDR hunting APIs (MC1220762).
    let sent = log.iter().filter(|e| e["path"] == "/v1.0/security/runHuntingQuery").count();
    assert_eq!(sent, 1);
    let retiring = ["/api/advancedqueries/run", "/api/advancedhunting/run"];
    assert!(!log.iter().any(|e| retiring.iter().any(|p| e["path"] == *p)), "a retiring hunting API was called");
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_and_incidents_expand_into_their_evidence_through_the_client() {
    let (sim, st) = setup(&[]).await;
    let seed = sim.sim.tenant.lock().unwrap().seed.clone();
    let alert = seed
        .alerts
        .iter()
        .find(|a| a["evidence"].as_array().is_some_and(|e| e.iter().any(|x| x["sha1"].is_string())))
        .unwrap();
    let id = alert["id"].as_str().unwrap();
    let (status, out) = call(&st, &json!({"alert_id": id}).to_string(), "msg_expand_alert").await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let results = out["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["source"] == format!("alert:{id}")), "{out}");
    assert!(
        results.iter().any(|r| r["kind"] == "machine_id" && r["input"] == alert["machineId"] && r["status"] == "found")
    );
    assert!(results.iter().any(|r| r["kind"] == "sha1" || r["kind"] == "sha256"));
    let incident = seed.incidents[0]["incidentId"].as_u64().unwrap();
    let (status, out) = call(&st, &json!({"incident_id": incident}).to_string(), "msg_expand_incident").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!out["results"].as_array().unwrap().is_empty(), "{out}");
    assert!(out["results"].as_array().unwrap().iter().all(|r| r["source"] == format!("incident:{incident}")));
    let (_, out) = call(&st, &json!({"incident_id": 999_999_999}).to_string(), "msg_expand_missing").await;
    assert_eq!(out["results"][0]["kind"], "incident_id");
    assert_eq!(out["results"][0]["status"], "not_found");
}

/// Issue 19.1: `.` and `..` are not user names (nor host names, domains, ids): they are reported
/// `invalid` and never looked up — not `error` from a client that refuses to climb out of `/api`, which
/// would leave the answer incomplete and make a retrying sender retry forever.
#[tokio::test(flavor = "multi_thread")]
async fn dot_segment_values_are_invalid_and_never_looked_up() {
    let (sim, st) = setup(&[]).await;
    let dots = [".", "..", " .. "];
    let body = json!({"indicators": {
        "users": dots, "hostnames": dots, "domains": dots, "machine_ids": dots, "sha1": dots
    }})
    .to_string();
    let (status, out) = call(&st, &body, "msg_dots").await;
    assert_eq!(status, StatusCode::OK);
    let results = out["results"].as_array().unwrap();
    assert!(!results.is_empty(), "{out}");
    for r in results {
        assert_eq!(r["status"], "invalid", "{r}");
        assert!(r.get("value").is_none(), "{r}");
    }
    assert_eq!(results.iter().filter(|r| r["kind"] == "user").count(), dots.len(), "{out}");
    assert_eq!(out["summary"]["complete"], true, "{out}");
    let log = requests(&sim).await;
    assert!(!log.iter().any(|e| e["path"].as_str().unwrap().starts_with("/api/users")), "{log:?}");
}

/// The permission manifest cannot drift from the code: every documented endpoint the enrichment
/// reaches in the simulator (its request log names the endpoint each request routed to) is in
/// `webhook_enrich::ENDPOINTS`, the list `doctor`, the grant script and the cold-start check use.
/// Every indicator kind, an alert and an incident to expand, and a configured hunting query.
#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_the_enrichment_calls_is_in_its_declared_list() {
    let (sim, st) = setup(&[("ENRICH_HUNTING_QUERIES", "network_by_ip".to_string())]).await;
    let seed = sim.sim.tenant.lock().unwrap().seed.clone();
    let machine = &seed.machines[0];
    let file = seed.files.iter().map(|f| &f["file"]).find(|f| f["sha1"].is_string()).unwrap();
    let c2 = seed.hunting["DeviceNetworkEvents"]
        .iter()
        .find_map(|r| r.get("RemoteIP").and_then(Value::as_str).map(str::to_string))
        .unwrap();
    let bodies = [
        json!({"indicators": {
            "machine_ids": [machine["id"]], "hostnames": [machine["computerDnsName"], "ghost.contoso.com"],
            "ips": [c2, "10.1.2.3"], "domains": ["evil.example"], "urls": ["https://evil.example/x"],
            "sha1": [file["sha1"]], "sha256": [file["sha256"]], "md5": [file["md5"]],
            "users": ["CONTOSO\\user1", "user1@contoso.com"]
        }}),
        json!({"alert_id": seed.alerts[0]["id"]}),
        json!({"incident_id": seed.incidents[0]["incidentId"]}),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let (status, out) = call(&st, &body.to_string(), &format!("msg_declared_{i}")).await;
        assert_eq!(status, StatusCode::OK, "{out}");
    }
    let called = sim.endpoints_called();
    let outside = sim.endpoints_called_outside(webhook_enrich::ENDPOINTS.iter().map(|e| e.name()));
    assert!(outside.is_empty(), "called but not in webhook_enrich::ENDPOINTS: {outside:?}");
    // The scenario reaches most of the list (so the check above is not vacuous).
    assert!(called.len() >= 12, "only {called:?}");
}
