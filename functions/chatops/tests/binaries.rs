//! The real binaries and their cold start: outside local mode without the production hand-off they
//! refuse to start; a policy granting what a tenant does not allow stops them at start; with
//! `CHATOPS_QUEUE_URL` and `CHATOPS_IDEMPOTENCY_TABLE` (against moto, through
//! `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL_DYNAMODB`) the callback hands a signed slash command to
//! SQS and the worker binary, driven by the SQS event, posts the result and answers a partial batch
//! response.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_wiring;

use aws_wiring::Wired;

use lambda_emu::Emulator;
use serde_json::{Value, json};
use std::{process::Stdio, time::Duration};
use testkit::SimEnv;

const POLICY: &str = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U0ANALYST":["read","isolate"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["read","isolate"]}}}"#;

/// Runs a binary that is expected to stop during its init; answers its stderr.
async fn init_failure(bin: &str, env: Vec<(String, String)>) -> String {
    let emu = Emulator::start().await.unwrap();
    let out = tokio::process::Command::new(bin)
        .env_clear()
        .envs(emu.env("chatops"))
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out).await.expect("the binary stopped").unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn outside_local_mode_without_queue_and_table_the_binaries_refuse_to_start() {
    let env: Vec<(String, String)> = [
        ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
        ("AZURE_CLIENT_ID", "11111111-1111-4111-8111-111111111111"),
        ("AZURE_CLIENT_SECRET", "not-used"),
        ("CHATOPS_RBAC", POLICY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for bin in [env!("CARGO_BIN_EXE_chatops-callback"), env!("CARGO_BIN_EXE_chatops-worker")] {
        let err = init_failure(bin, env.clone()).await;
        assert!(err.contains(r#"var: "CHATOPS_QUEUE_URL""#), "{bin}: {err}");
        assert!(err.contains("set CHATOPS_QUEUE_URL and CHATOPS_IDEMPOTENCY_TABLE"), "{bin}: {err}");
        let mut half = env.clone();
        half.push(("CHATOPS_QUEUE_URL".into(), "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs".into()));
        let err = init_failure(bin, half).await;
        assert!(
            err.contains(r#"var: "CHATOPS_IDEMPOTENCY_TABLE", reason: "required with CHATOPS_QUEUE_URL"#),
            "{bin}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_granting_what_the_tenant_does_not_allow_stops_the_cold_start() {
    let sim = SimEnv::demo().await;
    let mut env = aws_wiring::sim_env(&sim);
    env.push((
        "CHATOPS_RBAC".into(),
        r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U1":["isolate","collect"]},"ghost":{"T0001:U1":["read"]}}}"#
            .into(),
    ));
    let err = init_failure(env!("CARGO_BIN_EXE_chatops-callback"), env).await;
    assert!(
        err.contains("user 'T0001:U1' is granted collect in tenant 'default', whose allowed_actions do not include it"),
        "{err}"
    );
    assert!(err.contains("tenants: 'ghost' is not a configured tenant"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_to_sqs_to_the_worker_binary_with_dynamodb_through_the_aws_endpoint_variables() {
    let sim = SimEnv::demo().await;
    let Wired { moto: _moto, sqs, queue, receiver, callback: cb_emu, worker: wk_emu, children: _children } =
        aws_wiring::wired(&sim, POLICY, "chatops-jobs", "chatops-idem").await;
    let hooks = receiver.base.clone();

    let event = aws_wiring::slack_event(
        &sim,
        &aws_wiring::slash_form("machine ws-fin-011.contoso.com", &format!("{hooks}slash")),
    );
    let t = std::time::Instant::now();
    let resp: Value = serde_json::from_slice(&cb_emu.invoke(&event, Duration::from_secs(60)).await.unwrap()).unwrap();
    let ack = t.elapsed();
    assert_eq!(resp["statusCode"], 200, "{resp}");
    assert_eq!(serde_json::from_str::<Value>(resp["body"].as_str().unwrap()).unwrap()["text"], "Working on it…");
    assert!(receiver.all().is_empty(), "the callback did not run the job itself");

    // What Lambda's SQS event source would deliver: the queue's messages, plus one that is not a job.
    sqs.send_message().queue_url(&queue).message_body("not json").send().await.unwrap();
    let records = aws_wiring::records(&sqs, &queue).await;
    assert_eq!(records.len(), 2);
    let bad = records.iter().find(|r| r["body"] == "not json").unwrap()["messageId"].clone();
    let t = std::time::Instant::now();
    let answer = wk_emu.invoke(&json!({ "Records": records }), Duration::from_secs(60)).await.unwrap();
    eprintln!("first (cold) invocations: callback ack through SQS {ack:?}; worker batch of 2 {:?}", t.elapsed());
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer, json!({"batchItemFailures": [{"itemIdentifier": bad}]}));
    let posted = receiver.posted("slash");
    assert_eq!(posted.len(), 1);
    assert!(posted[0]["text"].as_str().unwrap().starts_with("*ws-fin-011.contoso.com* (id `bf44e1ec"), "{posted:?}");
}
