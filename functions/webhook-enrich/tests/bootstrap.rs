//! The real binary, as Lambda runs it: `webhook-enrich` is spawned with the Runtime API variables,
//! initialises (config, vault, tokens, permission self-check) against the simulated tenant, polls the
//! Runtime API, and answers a signed API Gateway v2 event. A broken `main` fails this test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::{secret::SecretString, webhook};
use lambda_emu::Emulator;
use serde_json::{Value, json};
use std::{process::Stdio, time::Duration};
use testkit::{
    SimEnv,
    demo::{WHSEC, now},
};

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_boots_under_the_runtime_api_and_answers_a_signed_event() {
    let sim = SimEnv::demo().await;
    let emu = Emulator::start().await.unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_webhook-enrich"));
    cmd.env_clear()
        .envs(emu.env("webhook-enrich"))
        .envs(sim.env())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();

    let machine = sim.sim.tenant.lock().unwrap().seed.machines[0].clone();
    let body = json!({"indicators": {"machine_ids": [machine["id"]], "ips": ["not-an-ip"]}}).to_string();
    let ts = now();
    let sig = webhook::sign_standard(&SecretString::new(WHSEC), "msg_boot", ts, body.as_bytes()).unwrap();
    let mut event: Value = serde_json::from_str(include_str!("fixtures/function-url-post.json")).unwrap();
    event["body"] = json!(body);
    event["headers"]["webhook-id"] = json!("msg_boot");
    event["headers"]["webhook-timestamp"] = json!(ts.to_string());
    event["headers"]["webhook-signature"] = json!(sig);

    let answer = emu.invoke(&event, Duration::from_secs(60)).await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            let _ = child.start_kill();
            let out = child.wait_with_output().await.unwrap();
            panic!("{e}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
        }
    };
    let resp: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let out: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(out["results"][0]["status"], "found", "{out}");
    assert_eq!(out["results"][0]["machines"][0]["computer_dns_name"], machine["computerDnsName"]);
    assert_eq!(out["results"][1]["status"], "invalid");
    assert!(emu.first_poll().is_some());

    // A second, unsigned event: 401 from the same warm process.
    event["headers"]["webhook-signature"] = json!("v1,AAAA");
    event["headers"]["webhook-id"] = json!("msg_boot_2");
    let resp: Value = serde_json::from_slice(&emu.invoke(&event, Duration::from_secs(30)).await.unwrap()).unwrap();
    assert_eq!(resp["statusCode"], 401);
    child.start_kill().ok();
}
