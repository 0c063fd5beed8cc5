//! Enrichment against what real tenants hold (issue 18): a machine whose recorded name ends in a
//! space (`"chat_Desk "`, contract/real-responses/swimlane__list_devices_by_vulnerability.json) is
//! found by its name although an item the typed view refuses shares its page, and a hash goes to
//! Defender and back to the caller as it was received.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::{config::Config, runtime::Runtime, secret::SecretString, webhook};
use lambda_http::{Body, http::StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use tenant_sim::{RunningSim, SimOptions, start};
use webhook_enrich::{config::EnrichConfig, handler, state};

const APP: &str = "11111111-1111-4111-8111-111111111111";
const SECRET: &str = "demo-secret-value-do-not-use-in-prod";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const DESK: &str = "afb3f807d1a185ac66668f493af028385bfca184";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn setup() -> (RunningSim, handler::State) {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("df-enrich-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join(format!("ca-{}.pem", sim.url.rsplit(':').next().unwrap()));
    std::fs::write(&ca, &sim.ca_pem).unwrap();
    let env: HashMap<&str, String> = [
        ("AZURE_TENANT_ID", sim.tenant_id()),
        ("AZURE_CLIENT_ID", APP.to_string()),
        ("AZURE_CLIENT_SECRET", SECRET.to_string()),
        ("AZURE_AUTHORITY_HOST", sim.url.clone()),
        ("KEY_VAULT_URL", sim.url.clone()),
        ("MDE_API_URL", sim.url.clone()),
        ("XDR_API_URL", sim.url.clone()),
        ("GRAPH_API_URL", sim.url.clone()),
        ("DEFENDER_EXTRA_CA_FILE", ca.display().to_string()),
        ("DEFENDER_LOCAL_MODE", "1".to_string()),
    ]
    .into_iter()
    .collect();
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let rt = Runtime::from_config(config).await.unwrap();
    let cfg = EnrichConfig::from_lookup(|_| None).unwrap();
    let st = state::build(rt, cfg, now).await.unwrap();
    (sim, st)
}

async fn call(st: &handler::State, body: &str, id: &str) -> (StatusCode, Value) {
    let mut v: Value = serde_json::from_str(include_str!("fixtures/apigw-v2-post-enrich.json")).unwrap();
    let ts = now();
    let sig = webhook::sign_standard(&SecretString::new(WHSEC), id, ts, body.as_bytes()).unwrap();
    v["body"] = Value::String(body.to_string());
    v["headers"]["webhook-id"] = json!(id);
    v["headers"]["webhook-timestamp"] = json!(ts.to_string());
    v["headers"]["webhook-signature"] = json!(sig);
    let r = handler::handle(st, lambda_http::request::from_str(&v.to_string()).unwrap()).await;
    let status = r.status();
    let Body::Text(t) = r.body() else { panic!("no text body") };
    (status, serde_json::from_str(t).unwrap())
}

async fn paths(sim: &RunningSim) -> Vec<String> {
    let v: Value =
        sim.client().unwrap().get(format!("{}/_sim/requests", sim.url)).send().await.unwrap().json().await.unwrap();
    v["value"].as_array().unwrap().iter().filter_map(|e| e["path"].as_str().map(str::to_string)).collect()
}

fn result<'a>(out: &'a Value, kind: &str, input: &str) -> &'a Value {
    out["results"].as_array().unwrap().iter().find(|r| r["kind"] == kind && r["input"] == input).unwrap_or_else(|| {
        panic!("no {kind} result for {input}: {out}");
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_named_with_a_trailing_space_is_found_beside_an_undecodable_one() {
    let (sim, st) = setup().await;
    {
        let mut t = sim.sim.tenant.lock().unwrap();
        let mut desk = t.seed.machines[0].clone();
        desk["id"] = json!(DESK);
        desk["computerDnsName"] = json!("chat_Desk ");
        // On the same page: a machine whose `osBuild` is a string (its typed view fails).
        let mut odd = desk.clone();
        odd["id"] = json!("bfb3f807d1a185ac66668f493af028385bfca185");
        odd["computerDnsName"] = json!("chat_desk");
        odd["osBuild"] = json!("22631");
        t.seed.machines.push(odd);
        t.seed.machines.push(desk);
    }
    let body = json!({"indicators": {"hostnames": ["chat_Desk", "chat_Des"]}}).to_string();
    let (status, out) = call(&st, &body, "msg_desk").await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let found = result(&out, "hostname", "chat_Desk");
    assert_eq!(found["status"], "found", "{out}");
    let machines = found["machines"].as_array().unwrap();
    assert_eq!(machines.len(), 1, "the odd machine is left out, the recorded one kept: {out}");
    assert_eq!(machines[0]["computer_dns_name"], "chat_Desk ", "rendered as Defender recorded it");
    assert_eq!(result(&out, "hostname", "chat_Des")["status"], "not_found", "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hash_travels_as_received_and_is_matched_without_its_case() {
    let (sim, st) = setup().await;
    let sha1 = {
        let t = sim.sim.tenant.lock().unwrap();
        t.seed.files.iter().find_map(|f| f["file"]["sha1"].as_str().map(str::to_string)).unwrap()
    };
    let upper = sha1.to_ascii_uppercase();
    assert_ne!(upper, sha1, "the seeded hash has letters");
    let body = json!({"indicators": {"sha1": [upper]}}).to_string();
    let (status, out) = call(&st, &body, "msg_hash").await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let r = result(&out, "sha1", &upper);
    assert_eq!(r["status"], "found", "{out}");
    // What Defender answered is rendered as it answered (its own lower-case hash).
    assert_eq!(r["file"]["sha1"], sha1.as_str(), "{out}");
    // The hash went to Defender as received, not lower-cased on the way.
    let log = paths(&sim).await;
    assert!(log.iter().any(|p| p == &format!("/api/files/{upper}")), "{log:?}");
    assert!(!log.iter().any(|p| p == &format!("/api/files/{sha1}")), "{log:?}");
}
