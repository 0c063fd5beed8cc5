//! The callback → SQS → worker wiring on moto, shared by the binary tests: the AWS variables that
//! point the SDKs at moto, the job queue and the idempotency table (key `pk`, as the template's), and
//! [`Wired`]: both real binaries running under their own Runtime API emulator, pointed at the
//! simulator (the test kit's [`SimEnv`]), moto and the kit's `response_url` [`Receiver`].

#![allow(dead_code)]

use lambda_emu::Emulator;
use std::process::Stdio;
use testkit::{Moto, Receiver, SimEnv};

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
    let (aws, sqs, queue_url) = moto_queue_and_table(&moto.url, queue, table).await;
    let receiver = Receiver::start().await.unwrap();
    let mut env = sim_env(sim);
    env.extend(aws);
    env.push(("CHATOPS_RBAC".into(), policy.into()));
    env.push(("CHATOPS_RESPONSE_URL_PREFIXES".into(), receiver.base.clone()));
    env.push(("CHATOPS_QUEUE_URL".into(), queue_url.clone()));
    env.push(("CHATOPS_IDEMPOTENCY_TABLE".into(), table.into()));
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

/// Creates the queue `queue` and the table `table` on moto at `url`; returns the AWS variables for
/// the binaries, an SQS client on moto and the queue's URL.
pub async fn moto_queue_and_table(
    url: &str,
    queue: &str,
    table: &str,
) -> (Vec<(String, String)>, aws_sdk_sqs::Client, String) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let aws = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL_SQS", url),
        ("AWS_ENDPOINT_URL_DYNAMODB", url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(url)
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue_url = sqs.create_queue().queue_name(queue).send().await.unwrap().queue_url.unwrap();
    aws_sdk_dynamodb::Client::new(&conf)
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    (aws, sqs, queue_url)
}
