//! One Lambda invocation of the export: the event parsed, the run inside its invocation (request id,
//! cold start, EMF), the run summary published as SOC events, failed streams reported as the
//! invocation's error.

use crate::{
    events,
    handler::{self, ExportEvent, RunSummary, State},
};
use defender_shared::{
    clock::Deadline,
    events::{EventBridgeSink, Publisher},
    lambda::{Diagnostic, LambdaEvent},
    telemetry,
};
use serde_json::Value;

/// What the export Lambdas serve with (the single export, and the fan-out worker): the run's state
/// and the SOC events publisher.
#[derive(Debug)]
pub struct Scheduled {
    /// The export's state.
    pub state: State,
    /// One run summary per tenant and stream (`EVENT_BUS`; unset: off).
    pub events: Publisher,
}

impl Scheduled {
    /// `state` with the publisher the environment names.
    pub async fn from_env(state: State) -> Self {
        Self { state, events: EventBridgeSink::publisher_from_env().await }
    }
}

/// Handles one invocation.
///
/// # Errors
/// `Export.BadEvent` (the event does not describe a run), `Export.StreamFailed` (the failures, as
/// JSON).
pub async fn handle(s: &Scheduled, ev: LambdaEvent<Value>) -> Result<RunSummary, Diagnostic> {
    let bad = |e: String| Diagnostic { error_type: "Export.BadEvent".into(), error_message: e };
    let event: ExportEvent = serde_json::from_value(ev.payload).map_err(|e| bad(e.to_string()))?;
    let id = &ev.context.request_id;
    let run = handler::handle(&s.state, &event, id, Deadline::from_lambda_ms(ev.context.deadline));
    let summary = telemetry::invocation(id, run).await.map_err(|e| bad(e.to_string()))?;
    events::publish(&s.events, id, &summary).await;
    if summary.failures.is_empty() {
        Ok(summary)
    } else {
        Err(Diagnostic {
            error_type: "Export.StreamFailed".into(),
            error_message: serde_json::to_string(&summary.failures).unwrap_or_default(),
        })
    }
}
