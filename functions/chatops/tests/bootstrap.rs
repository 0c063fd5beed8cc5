//! The real callback binary, as Lambda runs it: spawned with the Runtime API variables, it initialises
//! against the simulated tenant, answers a signed slash command "working on it" and, through its
//! local-mode in-process worker, posts the machine's details to a local `response_url` receiver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_wiring;

use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Binary, Receiver, SimEnv};

#[tokio::test(flavor = "multi_thread")]
async fn the_callback_binary_boots_answers_and_its_worker_posts_the_result() {
    let sim = SimEnv::demo().await;
    let receiver = Receiver::start().await.unwrap();
    let hooks = receiver.base.clone();

    let policy = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U0ANALYST":["read"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["read"]}}}"#;
    let mut env = sim.env();
    env.push(("CHATOPS_RBAC".into(), policy.into()));
    env.push(("CHATOPS_RESPONSE_URL_PREFIXES".into(), hooks.clone()));
    let mut lambda = Binary::spawn(env!("CARGO_BIN_EXE_chatops-callback"), "chatops-callback", env).await;

    let mut event = aws_wiring::slack_event(
        &sim,
        &aws_wiring::slash_form("machine ws-fin-011.contoso.com", &format!("{hooks}boot")),
    );
    let resp = lambda.invoke(&event, Duration::from_secs(60)).await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let out: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
    assert_eq!(out["text"], "Working on it…");
    let posted = receiver.wait_for("boot", 1, Duration::from_secs(30)).await;
    let posted = posted.first().expect("the worker posted").clone();
    assert!(posted["text"].as_str().unwrap().starts_with("*ws-fin-011.contoso.com* (id `bf44e1ec"), "{posted}");

    // Unsigned: 401 from the same warm process.
    event["headers"]["x-slack-signature"] = json!("v0=00");
    let resp = lambda.invoke(&event, Duration::from_secs(30)).await;
    assert_eq!(resp["statusCode"], 401);
}
