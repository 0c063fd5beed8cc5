//! The callback → SQS → worker wiring on moto, shared by the AWS and binary tests: an SDK
//! configuration on moto, the job queue and the idempotency table (key `pk`, TTL on `expires_at`, as
//! the template's), the queue's messages as the SQS event Lambda delivers, a signed Slack slash
//! command on the API Gateway fixture, and [`Wired`]: both real binaries running under their own
//! Runtime API emulator, pointed at the simulator (the test kit's [`SimEnv`]), moto and the kit's
//! `response_url` [`Receiver`].

#![allow(dead_code)]

use defender_shared::{secret::SecretString, webhook};
use lambda_emu::Emulator;
use serde_json::{Value, json};
use std::process::Stdio;
use testkit::{Moto, Receiver, SimEnv, demo::now};

/// The variables both binaries get besides the AWS ones: the simulator's, with `isolate` allowed.
pub fn sim_env(sim: &SimEnv) -> Vec<(String, String)> {
    let mut env = sim.env();
    env.push(("DEFENDER_ALLOWED_ACTIONS".into(), "isolate".into()));
    env
}

/// The callback and worker binaries wired through moto's queue and table.
pub struct Wired {
    /// The AWS stand-in (kept running).
    pub moto: Moto,
    /// An SQS client on moto.
    pub sqs: aws_sdk_sqs::Client,
    /// The job queue's URL.
    pub queue: String,
    /// Where the worker posts (`CHATOPS_RESPONSE_URL_PREFIXES` is its base).
    pub receiver: Receiver,
    /// The callback's Runtime API.
    pub callback: Emulator,
    /// The worker's Runtime API.
    pub worker: Emulator,
    /// The two binaries (killed when dropped).
    pub children: Vec<tokio::process::Child>,
}

/// Starts moto with `queue` and `table`, the receiver, and both binaries under `policy`.
pub async fn wired(sim: &SimEnv, policy: &str, queue: &str, table: &str) -> Wired {
    let moto = Moto::start().await.unwrap();
    let conf = aws_conf(&moto.url);
    let (sqs, queue_url) = create_queue(&conf, queue).await;
    create_table(&conf, table).await;
    let receiver = Receiver::start().await.unwrap();
    let mut env = sim_env(sim);
    for (k, v) in [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL_SQS", &moto.url),
        ("AWS_ENDPOINT_URL_DYNAMODB", &moto.url),
        ("CHATOPS_RBAC", policy),
        ("CHATOPS_RESPONSE_URL_PREFIXES", &receiver.base),
        ("CHATOPS_QUEUE_URL", &queue_url),
        ("CHATOPS_IDEMPOTENCY_TABLE", table),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    let (callback, worker) = (Emulator::start().await.unwrap(), Emulator::start().await.unwrap());
    let spawn = |bin: &str, emu: &Emulator, name: &str| {
        tokio::process::Command::new(bin)
            .env_clear()
            .envs(emu.env(name))
            .envs(env.clone())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let children = vec![
        spawn(env!("CARGO_BIN_EXE_chatops-callback"), &callback, "chatops-callback"),
        spawn(env!("CARGO_BIN_EXE_chatops-worker"), &worker, "chatops-worker"),
    ];
    Wired { moto, sqs, queue: queue_url, receiver, callback, worker, children }
}

/// An SDK configuration on moto at `url` (region `us-east-1`, test credentials).
pub fn aws_conf(url: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "test"),
        ))
        .endpoint_url(url)
        .build()
}

/// Creates the idempotency table `name` as the template does; answers a client on it.
pub async fn create_table(conf: &aws_config::SdkConfig, name: &str) -> aws_sdk_dynamodb::Client {
    let c = aws_sdk_dynamodb::Client::new(conf);
    testkit::aws::create_idempotency_table(&c, name).await;
    c
}

/// Creates the queue `name`; answers an SQS client and the queue's URL.
pub async fn create_queue(conf: &aws_config::SdkConfig, name: &str) -> (aws_sdk_sqs::Client, String) {
    let c = aws_sdk_sqs::Client::new(conf);
    let url = c.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    (c, url)
}

/// What is on the queue now (no long poll), as the records of the SQS event Lambda would deliver.
pub async fn records(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let out = sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(0).send().await;
    out.unwrap()
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                   "eventSource": "aws:sqs", "awsRegion": "us-east-1"})
        })
        .collect()
}

/// The form body of the analyst's `/defender <text>` in `C1` of the demo workspace, answered at
/// `response_url`.
pub fn slash_form(text: &str, response_url: &str) -> String {
    testkit::slack::slash_form("U0ANALYST", "C1", text, response_url)
}

/// The API Gateway v2 fixture carrying `body`, signed now with the simulator's Slack signing secret.
pub fn slack_event(sim: &SimEnv, body: &str) -> Value {
    let secret = sim.secret("slack-signing-secret");
    let ts = now();
    let sig = webhook::sign_slack(&SecretString::new(secret), ts, body.as_bytes()).unwrap();
    let mut event: Value = serde_json::from_str(include_str!("../fixtures/apigw-v2-slack.json")).unwrap();
    event["body"] = json!(body);
    event["headers"]["x-slack-request-timestamp"] = json!(ts.to_string());
    event["headers"]["x-slack-signature"] = json!(sig);
    event
}
