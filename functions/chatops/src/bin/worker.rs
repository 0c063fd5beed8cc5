//! The chat-ops worker Lambda. With `CHATOPS_QUEUE_URL` and `CHATOPS_IDEMPOTENCY_TABLE` it is the SQS
//! queue's event source: each record's body is a [`chatops::handoff::Job`], the answer a partial
//! batch response (`batchItemFailures`), follow-up re-checks go back on the queue with
//! `DelaySeconds`. Without them it runs only in local mode (`DEFENDER_LOCAL_MODE=1`), taking a job
//! (or an SQS-shaped event) as the event and delaying re-checks in-process. All logic lives in the
//! library.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chatops::{
    config::ChatOpsConfig,
    handoff::{ChannelHandOff, Job},
    idempotency::MemoryStore,
    queue,
    state::{self, Mode, Wiring},
};
use defender_shared::{
    config::Config,
    events::{DEFAULT_TIMEOUT, EventBridgeSink, EventsConfig},
    runtime::Runtime,
    telemetry,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::sync::Arc;

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn jobs(event: Value) -> Result<Vec<Job>, serde_json::Error> {
    match event.get("Records").and_then(Value::as_array) {
        Some(records) => records
            .iter()
            .map(|r| serde_json::from_str(r.get("body").and_then(Value::as_str).unwrap_or_default()))
            .collect(),
        None => serde_json::from_value(event).map(|j| vec![j]),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    defender_shared::telemetry::init("chatops-worker");
    let config = Config::from_env()?;
    let cfg = ChatOpsConfig::from_lookup(|k| std::env::var(k).ok())?;
    let mode = state::wiring_mode(&cfg, config.local_mode, now_unix).await?;
    let rt = Runtime::from_config(config).await?;
    state::self_check(&rt, &cfg)?;
    state::teams_bot(&rt, &cfg)?;
    // SOC events (EVENT_BUS; unset: off): machine-action outcomes, best effort.
    let bus = EventsConfig::from_lookup(|k| std::env::var(k).ok()).bus;
    let events = Arc::new(EventBridgeSink::publisher(bus.as_deref(), DEFAULT_TIMEOUT).await);
    match mode {
        Mode::Aws { handoff, idempotency } => {
            let wiring = Wiring { idempotency, handoff, responder: None, clock: now_unix };
            let (_, worker) = state::build_with_events(&rt, cfg, wiring, events);
            let worker = &worker;
            lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
                let answer = telemetry::invocation(&event.context.request_id, queue::handle_sqs(worker, event.payload));
                Ok::<SqsBatchResponse, Error>(answer.await)
            }))
            .await
        }
        Mode::Local => {
            let (handoff, mut again) = ChannelHandOff::new();
            let wiring = Wiring {
                idempotency: Arc::new(MemoryStore::with_clock(now_unix)),
                handoff: Arc::new(handoff),
                responder: None,
                clock: now_unix,
            };
            let (_, worker) = state::build_with_events(&rt, cfg, wiring, events);
            let rechecks = worker.clone();
            tokio::spawn(async move {
                while let Some((job, delay)) = again.recv().await {
                    let w = rechecks.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        w.run(job).await;
                    });
                }
            });
            let worker = &worker;
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                let list = jobs(event.payload)?;
                let replies = telemetry::invocation(&event.context.request_id, async {
                    let mut replies = Vec::new();
                    for job in list {
                        replies.push(worker.run(job).await.map(|r| r.text));
                    }
                    replies
                });
                Ok::<_, Error>(json!({ "replies": replies.await }))
            }))
            .await
        }
    }
}
