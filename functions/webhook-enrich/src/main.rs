//! The webhook-enrichment Lambda: builds its state once per cold start, then serves API Gateway v2 /
//! function-URL events through `lambda_http`. All logic lives in the library.

use defender_shared::{config::Config, runtime::Runtime};
use lambda_http::{Error, service_fn};
use webhook_enrich::{config::EnrichConfig, handler, state};

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    defender_shared::telemetry::init();
    let config = Config::from_env()?;
    let cfg = EnrichConfig::from_lookup(|k| std::env::var(k).ok())?;
    let rt = Runtime::from_config(config).await?;
    let state = &*Box::leak(Box::new(state::build(rt, cfg, now_unix).await?));
    lambda_http::run(service_fn(move |req| async move { Ok::<_, Error>(handler::handle(state, req).await) })).await
}
