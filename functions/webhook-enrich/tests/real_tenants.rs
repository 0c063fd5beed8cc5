//! Enrichment against what real tenants hold (issue 18): a machine whose recorded name ends in a
//! space (`"chat_Desk "`, contract/real-responses/swimlane__list_devices_by_vulnerability.json) is
//! found by its name although an item the typed view refuses shares its page, and a hash received in
//! upper case goes to Defender in the lower case it answers with.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{call, setup};
use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use tenant_sim::RunningSim;
use testkit::sim::request_paths;

const DESK: &str = "afb3f807d1a185ac66668f493af028385bfca184";

async fn paths(sim: &RunningSim) -> Vec<String> {
    request_paths(sim).await
}

fn result<'a>(out: &'a Value, kind: &str, input: &str) -> &'a Value {
    out["results"].as_array().unwrap().iter().find(|r| r["kind"] == kind && r["input"] == input).unwrap_or_else(|| {
        panic!("no {kind} result for {input}: {out}");
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_named_with_a_trailing_space_is_found_beside_an_undecodable_one() {
    let (sim, st) = setup(&[]).await;
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
async fn a_hash_received_in_upper_case_is_asked_for_in_the_lower_case_defender_answers_with() {
    let (sim, st) = setup(&[]).await;
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
    // The hash went to Defender lower-cased: the simulator, like the least lenient Defender, finds a file
    // only by the lower-case hex it answers with (an upper-case path is a 404: not found).
    let log = paths(&sim).await;
    assert!(log.iter().any(|p| p == &format!("/api/files/{sha1}")), "{log:?}");
    assert!(!log.iter().any(|p| p == &format!("/api/files/{upper}")), "{log:?}");
}
