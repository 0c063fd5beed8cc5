//! The real binary, as Lambda runs it: `webhook-enrich` is spawned with the Runtime API variables,
//! initialises (config, vault, tokens, permission self-check) against the simulated tenant, polls the
//! Runtime API, and answers a signed API Gateway v2 event. A broken `main` fails this test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::signed;
use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Binary, SimEnv};

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_boots_under_the_runtime_api_and_answers_a_signed_event() {
    let sim = SimEnv::demo().await;
    let mut lambda = Binary::spawn(env!("CARGO_BIN_EXE_webhook-enrich"), "webhook-enrich", sim.env()).await;
    let machine = sim.sim.tenant.lock().unwrap().seed.machines[0].clone();
    let body = json!({"indicators": {"machine_ids": [machine["id"]], "ips": ["not-an-ip"]}}).to_string();
    let mut event = signed("function-url-post.json", &body, "msg_boot");
    let resp = lambda.invoke(&event, Duration::from_secs(60)).await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let out: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(out["results"][0]["status"], "found", "{out}");
    assert_eq!(out["results"][0]["machines"][0]["computer_dns_name"], machine["computerDnsName"]);
    assert_eq!(out["results"][1]["status"], "invalid");
    assert!(lambda.emu.first_poll().is_some());

    // A second, unsigned event: 401 from the same warm process.
    event["headers"]["webhook-signature"] = json!("v1,AAAA");
    event["headers"]["webhook-id"] = json!("msg_boot_2");
    let resp = lambda.invoke(&event, Duration::from_secs(30)).await;
    assert_eq!(resp["statusCode"], 401);
}
