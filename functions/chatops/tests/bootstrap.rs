//! The real callback binary, as Lambda runs it: spawned with the Runtime API variables, it initialises
//! against the simulated tenant, answers a signed slash command "working on it" and, through its
//! local-mode in-process worker, posts the machine's details to a local `response_url` receiver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::{secret::SecretString, webhook};
use lambda_emu::Emulator;
use serde_json::{Value, json};
use std::{process::Stdio, time::Duration};
use testkit::{Receiver, SimEnv, demo::now};

#[tokio::test(flavor = "multi_thread")]
async fn the_callback_binary_boots_answers_and_its_worker_posts_the_result() {
    let sim = SimEnv::demo().await;
    let emu = Emulator::start().await.unwrap();
    let receiver = Receiver::start().await.unwrap();
    let hooks = receiver.base.clone();

    let policy = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U0ANALYST":["read"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["read"]}}}"#;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatops-callback"));
    cmd.env_clear()
        .envs(emu.env("chatops-callback"))
        .envs(sim.env())
        .env("CHATOPS_RBAC", policy)
        .env("CHATOPS_RESPONSE_URL_PREFIXES", &hooks)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();

    let secret = sim.sim.tenant.lock().unwrap().seed.secrets["slack-signing-secret"].to_string();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("team_id", "T0001")
        .append_pair("api_app_id", "A0DEFENDER")
        .append_pair("channel_id", "C1")
        .append_pair("user_id", "U0ANALYST")
        .append_pair("user_name", "analyst")
        .append_pair("command", "/defender")
        .append_pair("text", "machine ws-fin-011.contoso.com")
        .append_pair("response_url", &format!("{hooks}boot"))
        .append_pair("trigger_id", "1.2.3")
        .finish();
    let ts = now();
    let sig = webhook::sign_slack(&SecretString::new(secret), ts, body.as_bytes()).unwrap();
    let mut event: Value = serde_json::from_str(include_str!("fixtures/apigw-v2-slack.json")).unwrap();
    event["body"] = json!(body);
    event["headers"]["x-slack-request-timestamp"] = json!(ts.to_string());
    event["headers"]["x-slack-signature"] = json!(sig);

    let answer = match emu.invoke(&event, Duration::from_secs(60)).await {
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
    assert_eq!(out["text"], "Working on it…");
    let posted = receiver.wait_for("boot", 1, Duration::from_secs(30)).await;
    let posted = posted.first().expect("the worker posted").clone();
    assert!(posted["text"].as_str().unwrap().starts_with("*ws-fin-011.contoso.com* (id `bf44e1ec"), "{posted}");

    // Unsigned: 401 from the same warm process.
    event["headers"]["x-slack-signature"] = json!("v0=00");
    let resp: Value = serde_json::from_slice(&emu.invoke(&event, Duration::from_secs(30)).await.unwrap()).unwrap();
    assert_eq!(resp["statusCode"], 401);
    child.start_kill().ok();
}
