//! The scheduled-export Lambda: builds its state once per cold start, then serves EventBridge
//! Scheduler invocations through `lambda_runtime`. `scheduled-export backfill --from .. --to ..` runs a
//! backfill from a terminal instead (progress bar on stderr when it is a terminal, the summary of
//! each pass as JSON on stdout). All logic lives in the library.

use defender_shared::{
    config::Config,
    defender::Deadline,
    events::{DEFAULT_TIMEOUT, EventBridgeSink, EventsConfig, Publisher},
    runtime::Runtime,
    telemetry,
};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use scheduled_export::{
    cli::{self, BACKFILL_SLICE, Command, ProgressBar},
    config::ExportConfig,
    export::{Backfill, Outcome},
    handler, state,
};
use serde_json::Value;
use std::{
    io::IsTerminal,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// The invocation's deadline as a monotonic instant.
fn deadline(ctx: &lambda_runtime::Context) -> Deadline {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    Deadline::after(Duration::from_millis(ctx.deadline.saturating_sub(now_ms)))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scheduled-export: {e}");
            std::process::exit(2);
        }
    };
    defender_shared::telemetry::init("scheduled-export");
    let config = Config::from_env()?;
    let cfg = ExportConfig::from_lookup(|k| std::env::var(k).ok())?;
    let rt = Runtime::from_config(config).await?;
    let state = state::build(rt, cfg).await;
    match command {
        Command::Lambda => {
            // Fan-out mode (EXPORT_JOB_QUEUE_URL): the schedule only enqueues (src/fanout.rs).
            if let Some(queue) = state.cfg.job_queue.clone() {
                return scheduled_export::fanout::serve_scheduler(&state, &queue).await;
            }
            // SOC events (EVENT_BUS; unset: off): one run summary per tenant and stream.
            let bus = EventsConfig::from_lookup(|k| std::env::var(k).ok()).bus;
            let events = EventBridgeSink::publisher(bus.as_deref(), DEFAULT_TIMEOUT).await;
            lambda(&state, &events).await
        }
        Command::Backfill(window) => backfill(&state, window).await,
    }
}

async fn lambda(state: &handler::State, events: &Publisher) -> Result<(), Error> {
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        let event: handler::ExportEvent = serde_json::from_value(ev.payload)
            .map_err(|e| Diagnostic { error_type: "Export.BadEvent".into(), error_message: e.to_string() })?;
        let run = handler::handle(state, &event, &ev.context.request_id, deadline(&ev.context));
        let summary = telemetry::invocation(&ev.context.request_id, run)
            .await
            .map_err(|e| Diagnostic { error_type: "Export.BadEvent".into(), error_message: e.to_string() })?;
        scheduled_export::events::publish(events, &ev.context.request_id, &summary).await;
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

/// Passes of at most [`BACKFILL_SLICE`] until every stream is complete (or one fails or is held by
/// another run).
async fn backfill(state: &handler::State, window: Backfill) -> Result<(), Error> {
    let run_id = format!("cli-backfill-{}", std::process::id());
    let bar = std::io::stderr().is_terminal().then(|| ProgressBar::new(window));
    let observe = |s: &scheduled_export::export::Stream, n: u64, at: chrono::DateTime<chrono::Utc>| {
        if let Some(b) = &bar {
            b.update(s, n, at);
        }
    };
    loop {
        let summary = handler::run(state, Some(window), &run_id, Deadline::after(BACKFILL_SLICE), &observe).await;
        println!("{}", serde_json::to_string(&summary)?);
        let again = summary.failures.is_empty()
            && summary.streams.iter().any(|s| s.outcome == Outcome::Stopped)
            && summary.streams.iter().all(|s| s.outcome != Outcome::Conflict);
        if !again {
            if let Some(b) = &bar {
                b.finish();
            }
            if !summary.failures.is_empty() {
                return Err(format!(
                    "{} stream(s) failed; run the same command again to resume",
                    summary.failures.len()
                )
                .into());
            }
            if summary.streams.iter().any(|s| s.outcome == Outcome::Conflict) {
                return Err("another run holds a stream of this backfill; try again when it ends".into());
            }
            return Ok(());
        }
    }
}
