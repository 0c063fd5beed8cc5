//! The webhook-enrichment Lambda: builds its state once per cold start, then serves API Gateway v2 /
//! function-URL events through `lambda_http`. All logic lives in the library.

use defender_shared::{
    config::Config,
    events::{DEFAULT_TIMEOUT, EventBridgeSink, EventsConfig},
    runtime::Runtime,
};
use defender_shared::{metrics, telemetry};
use lambda_http::{Error, RequestExt, service_fn};
use std::sync::Arc;
use webhook_enrich::{
    config::EnrichConfig,
    events::{self, VerdictEvents},
    handler, state,
};

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    defender_shared::telemetry::init("webhook-enrich");
    let config = Config::from_env()?;
    let cfg = EnrichConfig::from_lookup(|k| std::env::var(k).ok())?;
    let rt = Runtime::from_config(config).await?;
    let mut state = state::build(rt, cfg, now_unix).await?;
    // SOC events (EVENT_BUS; unset: off): verdicts at or above ENRICH_EVENT_MIN_SEVERITY.
    let bus = EventsConfig::from_lookup(|k| std::env::var(k).ok()).bus;
    state.events = VerdictEvents {
        publisher: Arc::new(EventBridgeSink::publisher(bus.as_deref(), DEFAULT_TIMEOUT).await),
        min_severity: events::min_severity(std::env::var("ENRICH_EVENT_MIN_SEVERITY").ok())?,
    };
    // Borrowed by the handler for as long as `run` serves (no leak, as the runtime's examples do).
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
