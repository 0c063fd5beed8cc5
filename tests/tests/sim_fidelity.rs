//! The simulated tenant serves what real tenants send (issue 18): an incident's seeded alerts as
//! seeded on `$expand=alerts`, machine actions with every member a recorded one has, and hunting
//! answers whose column types are the schema's declared ones (not guessed from values).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use integration_tests::{DEMO_APP, GRAPH, MDE, app_token};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tenant_sim::{RunningSim, SimOptions, start};

async fn sim() -> (RunningSim, Client) {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let http = sim.client().unwrap();
    (sim, http)
}

async fn send(http: &Client, req: reqwest::RequestBuilder) -> (StatusCode, String) {
    let _ = http;
    let r = req.send().await.unwrap();
    let s = r.status();
    (s, r.text().await.unwrap())
}

#[tokio::test]
async fn an_incident_s_seeded_alerts_are_served_as_seeded_on_expand() {
    let (sim, http) = sim().await;
    // A seeded alert whose members the synthesised list would not have (a null, an unknown member,
    // a number as a string), inside an incident that also has a linked `alerts_v2` entry.
    let seeded_alert = json!({"id": "da-seeded-1", "incidentId": "inc-real-1", "title": "Recorded",
        "classification": null, "providerAlertId": "x1", "orgPrevalence": "0"});
    {
        let mut t = sim.sim.tenant.lock().unwrap();
        let mut inc = t.seed.graph_incidents[0].clone();
        inc["id"] = json!("inc-real-1");
        inc["alerts"] = json!([seeded_alert]);
        let mut bare = t.seed.graph_incidents[0].clone();
        t.seed.graph_incidents.insert(0, inc);
        bare["id"] = json!("inc-bare-1");
        bare.as_object_mut().unwrap().remove("alerts");
        t.seed.graph_incidents.push(bare);
        let mut linked = t.seed.graph_alerts[0].clone();
        linked["id"] = json!("da-linked-1");
        linked["incidentId"] = json!("inc-real-1");
        t.seed.graph_alerts.push(linked.clone());
        let mut linked2 = linked;
        linked2["id"] = json!("da-linked-2");
        linked2["incidentId"] = json!("inc-bare-1");
        t.seed.graph_alerts.push(linked2);
    }
    let token = app_token(&http, &sim.url, &sim.tenant_id(), DEMO_APP, GRAPH).await;
    let get =
        |id: &str| http.get(format!("{}/v1.0/security/incidents/{id}?$expand=alerts", sim.url)).bearer_auth(&token);
    let (s, body) = send(&http, get("inc-real-1")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["alerts"], json!([seeded_alert]), "the seeded alerts, not the linked alerts_v2");
    // Byte for byte: the seeded alert's text appears as seeded (member order, null, string number).
    assert!(body.contains(&serde_json::to_string(&seeded_alert).unwrap()), "{body}");
    // An incident seeded without alerts gets the alerts_v2 that name it.
    let (s, body) = send(&http, get("inc-bare-1")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = v["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["da-linked-2"]);
    // The list with `$expand=alerts` keeps them too.
    let (s, body) = send(
        &http,
        http.get(format!("{}/v1.0/security/incidents?$expand=alerts&$top=10", sim.url)).bearer_auth(&token),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let inc = v["value"].as_array().unwrap().iter().find(|i| i["id"] == "inc-real-1").unwrap();
    assert_eq!(inc["alerts"], json!([seeded_alert]));
}

#[tokio::test]
async fn machine_actions_are_created_with_every_member_a_recorded_one_has() {
    let (sim, http) = sim().await;
    let recorded: Value =
        serde_json::from_str(include_str!("../../contract/real-responses/sekoia__machine_actions.json")).unwrap();
    let want: Vec<String> = recorded["entities"][0].as_object().unwrap().keys().cloned().collect();
    let token = app_token(&http, &sim.url, &sim.tenant_id(), DEMO_APP, MDE).await;
    let machine = sim.sim.tenant.lock().unwrap().seed.machines[2]["id"].as_str().unwrap().to_string();
    for (path, body) in [
        ("isolate", json!({"Comment": "c2", "IsolationType": "Full"})),
        ("runAntiVirusScan", json!({"Comment": "scan", "ScanType": "Quick"})),
        ("restrictCodeExecution", json!({"Comment": "lock"})),
    ] {
        let (s, text) = send(
            &http,
            http.post(format!("{}/api/machines/{machine}/{path}", sim.url)).bearer_auth(&token).json(&body),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{path}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let got: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(got, want, "{path}: members and their order as recorded");
        for null in ["title", "cancellationRequestor", "cancellationComment", "externalId", "troubleshootInfo"] {
            assert!(v[null].is_null(), "{path}: {null} is null until set: {v}");
        }
        assert_eq!(v["requestSource"], "PublicApi");
        assert_eq!(v["commands"], json!([]));
        assert_eq!(v["errorHResult"], 0);
        // Read back, the action keeps them.
        let id = v["id"].as_str().unwrap();
        let (_, text) = send(&http, http.get(format!("{}/api/machineactions/{id}", sim.url)).bearer_auth(&token)).await;
        let back: Value = serde_json::from_str(&text).unwrap();
        for k in &want {
            assert!(back.get(k).is_some(), "{path}: {k} read back: {back}");
        }
    }
}

/// A hunting query's answer (which must be a 200 in JSON).
async fn hunt(http: &Client, url: String, token: &str, q: &Value) -> Value {
    let (s, text) = send(http, http.post(url).bearer_auth(token).json(q)).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// A hunting answer's schema as (name, type) pairs, read under the API's own member names
/// (`[list, name, type]`: MDE's `Schema`/`Name`/`Type`, Graph's `schema`/`name`/`type`).
fn schema<'a>(answer: &'a Value, [list, name, ty]: [&str; 3]) -> Vec<(&'a str, &'a str)> {
    let columns = answer[list].as_array().unwrap();
    columns.iter().map(|c| (c[name].as_str().unwrap(), c[ty].as_str().unwrap())).collect()
}

#[tokio::test]
async fn hunting_columns_have_the_schema_s_declared_types_in_each_api() {
    let (sim, http) = sim().await;
    {
        // Rows whose values would suggest other types: a small integer (`long`), a boolean
        // (`boolean` → `SByte`), a column that is all null (`long`), a port (`int`).
        let mut t = sim.sim.tenant.lock().unwrap();
        let ts = t.seed.hunting["DeviceProcessEvents"][0]["Timestamp"].clone();
        t.seed.hunting.insert(
            "DeviceFileEvents".into(),
            vec![
                serde_json::from_value(json!({"Timestamp": ts, "DeviceName": "chat_Desk ", "FileName": "a.exe",
                    "FileSize": null, "IsAzureInfoProtectionApplied": true, "RequestSourcePort": 445, "ReportId": 7}))
                .unwrap(),
            ],
        );
    }
    let q = json!({"Query": "DeviceFileEvents | project Timestamp, FileSize, IsAzureInfoProtectionApplied, RequestSourcePort, ReportId, DeviceName"});
    let want = [
        ("Timestamp", "DateTime"),
        ("FileSize", "Int64"),
        ("IsAzureInfoProtectionApplied", "SByte"),
        ("RequestSourcePort", "Int32"),
        ("ReportId", "Int64"),
        ("DeviceName", "String"),
    ];
    let mde = app_token(&http, &sim.url, &sim.tenant_id(), DEMO_APP, MDE).await;
    let v = hunt(&http, format!("{}/api/advancedqueries/run", sim.url), &mde, &q).await;
    assert_eq!(schema(&v, ["Schema", "Name", "Type"]), want, "MDE Schema with Name/Type");
    assert!(v["Stats"].is_object(), "MDE answers carry Stats: {v}");
    let g = app_token(&http, &sim.url, &sim.tenant_id(), DEMO_APP, GRAPH).await;
    let v = hunt(&http, format!("{}/v1.0/security/runHuntingQuery", sim.url), &g, &q).await;
    assert_eq!(schema(&v, ["schema", "name", "type"]), want, "Graph schema with name/type");
    // A computed column has the type of what KQL computed.
    let q = json!({"Query": "DeviceProcessEvents | summarize count() by DeviceName"});
    let v = hunt(&http, format!("{}/api/advancedqueries/run", sim.url), &mde, &q).await;
    assert_eq!(v["Schema"], json!([{"Name": "DeviceName", "Type": "String"}, {"Name": "count_", "Type": "Int64"}]));
}
