//! The chat-ops callback Lambda (`POST /chatops/slack`, `POST /chatops/teams`). All logic lives in
//! the library. The production hand-off (SQS) is not built yet: outside local mode this binary
//! refuses to start rather than run the worker inside the callback.

use chatops::{
    config::ChatOpsConfig,
    handler,
    handoff::ChannelHandOff,
    idempotency::MemoryStore,
    state::{self, Wiring},
};
use defender_shared::{config::Config, runtime::Runtime};
use lambda_http::{Error, service_fn};
use std::sync::Arc;

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let cfg = ChatOpsConfig::from_lookup(|k| std::env::var(k).ok())?;
    if std::env::var("DEFENDER_LOCAL_MODE").ok().as_deref() != Some("1") {
        return Err("no production hand-off is built yet (SQS): run with DEFENDER_LOCAL_MODE=1 only".into());
    }
    let rt = Runtime::from_config(config).await?;
    let (handoff, mut jobs) = ChannelHandOff::new();
    let wiring = Wiring {
        idempotency: Arc::new(MemoryStore::with_clock(now_unix)),
        handoff: Arc::new(handoff),
        responder: None,
        clock: now_unix,
    };
    let (state, worker) = state::build(&rt, cfg, wiring);
    // Local mode only: the in-process worker drains the channel (production: the worker function on SQS).
    tokio::spawn(async move {
        while let Some((job, delay)) = jobs.recv().await {
            let worker = worker.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                worker.run(job).await;
            });
        }
    });
    let state = &*Box::leak(Box::new(state));
    lambda_http::run(service_fn(move |req| async move { Ok::<_, Error>(handler::handle(state, req).await) })).await
}
