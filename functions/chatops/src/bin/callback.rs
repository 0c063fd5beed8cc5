//! The chat-ops callback Lambda (`POST /chatops/slack`, `POST /chatops/teams`). All logic lives in
//! the library. With `CHATOPS_QUEUE_URL` and `CHATOPS_IDEMPOTENCY_TABLE` it hands work to the worker
//! function through SQS and claims confirmations in DynamoDB; without them it runs only in local
//! mode (`DEFENDER_LOCAL_MODE=1`), with an in-process worker and a memory store.

use chatops::{
    config::ChatOpsConfig,
    handler,
    handoff::ChannelHandOff,
    idempotency::MemoryStore,
    state::{self, Mode, Wiring},
};
use defender_shared::{config::Config, runtime::Runtime};
use defender_shared::{metrics, telemetry};
use lambda_http::{Error, RequestExt, service_fn};
use std::sync::Arc;

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    defender_shared::telemetry::init("chatops-callback");
    let config = Config::from_env()?;
    let cfg = ChatOpsConfig::from_lookup(|k| std::env::var(k).ok())?;
    let mode = state::wiring_mode(&cfg, config.local_mode, now_unix).await?;
    let rt = Runtime::from_config(config).await?;
    state::self_check(&rt, &cfg)?;
    state::teams_bot(&rt, &cfg)?;
    let state = match mode {
        Mode::Aws { handoff, idempotency } => {
            let wiring = Wiring { idempotency, handoff, responder: None, clock: now_unix };
            state::build(&rt, cfg, wiring).0
        }
        Mode::Local => {
            let (handoff, mut jobs) = ChannelHandOff::new();
            let wiring = Wiring {
                idempotency: Arc::new(MemoryStore::with_clock(now_unix)),
                handoff: Arc::new(handoff),
                responder: None,
                clock: now_unix,
            };
            let (state, worker) = state::build(&rt, cfg, wiring);
            // Local mode only: the in-process worker drains the channel (production: the worker on SQS).
            tokio::spawn(async move {
                while let Some((job, delay)) = jobs.recv().await {
                    let worker = worker.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        worker.run(job).await;
                    });
                }
            });
            state
        }
    };
    let state = &state;
    lambda_http::run(service_fn(move |req: lambda_http::Request| async move {
        let id = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
        let answer = telemetry::invocation(&id, async {
            let r = handler::handle(state, req).await;
            metrics::response(r.status().as_u16());
            r
        });
        Ok::<_, Error>(answer.await)
    }))
    .await
}
