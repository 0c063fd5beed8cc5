//! The scheduled-export Lambda: builds its state once per cold start, then serves EventBridge
//! Scheduler invocations through `lambda_runtime`. All logic lives in the library.

use defender_shared::{config::Config, defender::Deadline, runtime::Runtime};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use scheduled_export::{config::ExportConfig, handler, state};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The invocation's deadline as a monotonic instant.
fn deadline(ctx: &lambda_runtime::Context) -> Deadline {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    Deadline::after(Duration::from_millis(ctx.deadline.saturating_sub(now_ms)))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let cfg = ExportConfig::from_lookup(|k| std::env::var(k).ok())?;
    let rt = Runtime::from_config(config).await?;
    let state = &*Box::leak(Box::new(state::build(rt, cfg).await));
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        let event: handler::ExportEvent = serde_json::from_value(ev.payload)
            .map_err(|e| Diagnostic { error_type: "Export.BadEvent".into(), error_message: e.to_string() })?;
        let summary = handler::handle(state, &event, &ev.context.request_id, deadline(&ev.context))
            .await
            .map_err(|e| Diagnostic { error_type: "Export.BadEvent".into(), error_message: e.to_string() })?;
        if summary.failures.is_empty() {
            Ok(summary)
        } else {
            Err(Diagnostic {
                error_type: "Export.StreamFailed".into(),
                error_message: serde_json::to_string(&summary.failures).unwrap_or_default(),
            })
        }
    }))
    .await
}
