//! The Lambda adapter: an EventBridge Scheduler invocation (or a backfill request) in, every enabled
//! (tenant, stream) exported, the run summary out — as the response and as one CloudWatch Embedded
//! Metric Format line per stream.
//!
//! The event is the Scheduler's default notification or the `Input` the schedule sets (the SAM
//! template passes the documented context attributes `<aws.scheduler.scheduled-time>` etc.). A
//! backfill is the same function invoked with `{"mode": "backfill", "from": .., "to": ..}`.

use crate::{
    config::ExportConfig,
    export::{self, Backfill, Job, Source, StopSignal, Stream, StreamSummary},
    sink::Sink,
};
use chrono::{DateTime, Utc};
use defender_shared::{
    defender::Deadline,
    metrics::{self, Unit},
    telemetry,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tracing::{error, info};

/// The invocation, as far as the export reads it (everything else in the event is ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExportEvent {
    /// `"scheduled"` (default) or `"backfill"`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Backfill start (inclusive).
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Backfill end (exclusive).
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// The schedule's time (`<aws.scheduler.scheduled-time>` or the default notification's `time`).
    #[serde(default, alias = "time")]
    pub scheduled_time: Option<DateTime<Utc>>,
    /// `<aws.scheduler.execution-id>`.
    #[serde(default, alias = "id")]
    pub execution_id: Option<String>,
}

/// The event does not describe a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Unknown mode.
    #[error("unknown mode '{0}' (scheduled, backfill)")]
    Mode(String),
    /// A backfill without a valid window.
    #[error("a backfill needs `from` < `to`")]
    Window,
}

impl ExportEvent {
    /// The backfill window, if this is a backfill.
    ///
    /// # Errors
    /// An unknown mode or a backfill without `from < to`.
    pub fn backfill(&self) -> Result<Option<Backfill>, EventError> {
        match self.mode.as_deref().map(str::trim) {
            None | Some("" | "scheduled") => Ok(None),
            Some("backfill") => match (self.from, self.to) {
                (Some(from), Some(to)) if from < to => Ok(Some(Backfill { from, to })),
                _ => Err(EventError::Window),
            },
            Some(other) => Err(EventError::Mode(other.to_string())),
        }
    }
}

/// Cold-start state.
pub struct State {
    /// The settings.
    pub cfg: ExportConfig,
    /// The sink.
    pub sink: Arc<dyn Sink>,
    /// Per tenant (registry name): its pages.
    pub tenants: Vec<(String, Arc<dyn Source>)>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t: Vec<&str> = self.tenants.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("State").field("cfg", &self.cfg).field("tenants", &t).finish_non_exhaustive()
    }
}

/// A stream that failed, in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamFailure {
    /// Tenant.
    pub tenant: String,
    /// Stream.
    pub stream: String,
    /// The error chain (no secrets: Defender and S3 errors carry codes and messages only).
    pub error: String,
}

/// The function's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// `scheduled` or `backfill`.
    pub mode: &'static str,
    /// The backfill window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Backfill>,
    /// Per (tenant, stream).
    pub streams: Vec<StreamSummary>,
    /// Streams that failed (their cursors stay at the last committed page).
    pub failures: Vec<StreamFailure>,
}

/// The namespace of the per-stream documents (kept from before the shared metrics module, so
/// alarms and queries on it keep working).
pub const NAMESPACE: &str = "DefenderFunctions/Export";

/// How far the stream's export is behind Defender at `now_ms`: 0 when the run completed (caught up
/// as of this run), else the age of the newest record version it committed (its cursor).
fn lag_seconds(s: &StreamSummary, now_ms: i64) -> Option<f64> {
    if s.outcome == export::Outcome::Complete {
        return Some(0.0);
    }
    let at = s.cursor_after.as_ref().or(s.cursor_before.as_ref())?.0;
    Some(((now_ms - at.timestamp_millis()).max(0) / 1000) as f64)
}

/// One EMF document for a stream's run (printed to stdout through [`metrics::emit`], where Lambda's
/// log agent picks it up).
pub fn document(s: &StreamSummary, now_ms: i64) -> metrics::Document {
    let count = |v: u64| v as f64;
    let mut doc = metrics::Document::new(NAMESPACE)
        .dimensions(&[("Tenant", &s.tenant), ("Stream", &s.stream)])
        .metric("Records", Unit::Count, count(s.records))
        .metric("Skipped", Unit::Count, count(s.skipped))
        .metric("Objects", Unit::Count, count(s.objects))
        .metric("ApiCalls", Unit::Count, count(s.api_calls))
        .metric("Throttles", Unit::Count, count(s.throttles))
        .metric("ThrottlesRetried", Unit::Count, count(s.throttles_retried))
        .metric("WindowsHalved", Unit::Count, count(s.windows_halved))
        .metric("Undecodable", Unit::Count, count(s.undecodable))
        .metric("Conflicts", Unit::Count, count(u64::from(s.outcome == export::Outcome::Conflict)));
    if let Some(lag) = lag_seconds(s, now_ms) {
        doc = doc.metric("LagSeconds", Unit::Seconds, lag);
    }
    doc.property("tenant", &s.tenant)
        .property("Outcome", s.outcome)
        .property("StopReason", &s.stop_reason)
        .property("CursorBefore", &s.cursor_before)
        .property("CursorAfter", &s.cursor_after)
}

/// [`document`] as JSON, stamped `now_ms`.
pub fn emf(s: &StreamSummary, now_ms: i64) -> serde_json::Value {
    document(s, now_ms).to_value(now_ms)
}

/// Runs every enabled (tenant, stream) in turn until `deadline` minus the configured margin.
///
/// # Errors
/// The event is not a valid run request. A failing stream does not stop the others: it is listed in
/// [`RunSummary::failures`] (and the binary reports the invocation as failed).
#[tracing::instrument(skip_all, fields(execution_id = event.execution_id.as_deref().unwrap_or("-")))]
pub async fn handle(
    state: &State,
    event: &ExportEvent,
    run_id: &str,
    deadline: Deadline,
) -> Result<RunSummary, EventError> {
    if let Some(id) = &event.execution_id {
        telemetry::correlate(id);
    }
    Ok(run(state, event.backfill()?, run_id, deadline, &|_: &Stream, _: u64, _: DateTime<Utc>| {}).await)
}

/// Told after each committed page or slice: the stream, records written by this run, the time its
/// cursor reached (the backfill CLI draws its progress bar from it).
pub type Observer<'a> = dyn Fn(&Stream, u64, DateTime<Utc>) + Send + Sync + 'a;

/// Stops once `stop` passes (the Lambda's deadline less the margin kept for the page in flight, its
/// object and its commit), and reports progress.
struct Control<'a> {
    stop: Deadline,
    observe: &'a Observer<'a>,
}

impl StopSignal for Control<'_> {
    fn should_stop(&self) -> bool {
        self.stop.passed()
    }
    fn progress(&self, stream: &Stream, records: u64, at: DateTime<Utc>) {
        (self.observe)(stream, records, at);
    }
}

/// Runs every enabled (tenant, stream) once, scheduled (`backfill: None`) or over a backfill window,
/// until `deadline` minus the configured margin, telling `observe` after each commit.
pub async fn run(
    state: &State,
    backfill: Option<Backfill>,
    run_id: &str,
    deadline: Deadline,
    observe: &Observer<'_>,
) -> RunSummary {
    let mut out = RunSummary {
        mode: if backfill.is_some() { "backfill" } else { "scheduled" },
        backfill,
        streams: Vec::new(),
        failures: Vec::new(),
    };
    for (tenant, source) in &state.tenants {
        for stream in &state.cfg.streams {
            match export_one(state, tenant, source.as_ref(), stream, backfill, run_id, deadline, observe).await {
                Ok(s) => out.streams.push(s),
                Err(f) => out.failures.push(f),
            }
        }
    }
    out
}

/// Exports one (tenant, stream) until `deadline` minus the configured margin, with the cursor and
/// exactly-once rules of [`export`]; logs the outcome and emits its EMF document (a failure: the
/// `StreamsFailed` count). [`run`] calls it for every pair in turn; a fan-out job
/// ([`crate::fanout`]) for its one pair.
///
/// # Errors
/// The stream failed (its cursor stays at the last committed page): the failure for the summary.
#[allow(clippy::too_many_arguments)]
pub async fn export_one(
    state: &State,
    tenant: &str,
    source: &dyn Source,
    stream: &Stream,
    backfill: Option<Backfill>,
    run_id: &str,
    deadline: Deadline,
    observe: &Observer<'_>,
) -> Result<StreamSummary, StreamFailure> {
    let started = Utc::now();
    let lease_until = started + chrono::Duration::from_std(deadline.remaining()).unwrap_or_default();
    let stop = Control { stop: deadline.earlier_by(state.cfg.margin), observe };
    // A call may use half the margin; the other half is for its object and the cursor commit.
    let call_deadline = deadline.earlier_by(state.cfg.margin / 2);
    let overlap = chrono::Duration::from_std(state.cfg.overlap).unwrap_or(chrono::Duration::minutes(5));
    let max_page = match stream {
        export::Stream::List(k) => k.max_page(),
        export::Stream::Hunting(_) => 0,
    };
    let job = Job {
        run_id: run_id.to_string(),
        started,
        lease_until,
        tenant: tenant.to_string(),
        stream: stream.clone(),
        page_size: state.cfg.page_size.unwrap_or(max_page),
        overlap,
        backfill,
        deadline: call_deadline,
    };
    match export::export_stream(source, state.sink.as_ref(), &job, &stop).await {
        Ok(s) => {
            info!(tenant = %s.tenant, stream = %s.stream, records = s.records, objects = s.objects,
                api_calls = s.api_calls, throttles = s.throttles, throttles_retried = s.throttles_retried,
                outcome = ?s.outcome, stop_reason = ?s.stop_reason, "stream exported");
            metrics::emit(&document(&s, Utc::now().timestamp_millis()));
            Ok(s)
        }
        Err(e) => {
            let error = defender_shared::errors::chain(&e);
            error!(tenant = %tenant, stream = %stream, error = %error, "stream failed");
            metrics::count("StreamsFailed", 1);
            Err(StreamFailure { tenant: tenant.to_string(), stream: stream.to_string(), error })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_into_modes() {
        let sched: ExportEvent =
            serde_json::from_str(include_str!("../tests/fixtures/eventbridge-scheduler-input.json")).unwrap();
        assert_eq!(sched.backfill().unwrap(), None);
        assert!(sched.scheduled_time.is_some() && sched.execution_id.is_some());
        let default: ExportEvent =
            serde_json::from_str(include_str!("../tests/fixtures/eventbridge-scheduler-default.json")).unwrap();
        assert_eq!(default.backfill().unwrap(), None);
        let b: ExportEvent =
            serde_json::from_str(r#"{"mode":"backfill","from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00Z"}"#)
                .unwrap();
        assert!(b.backfill().unwrap().is_some());
        let bad: ExportEvent = serde_json::from_str(r#"{"mode":"backfill","from":"2026-11-02T00:00:00Z"}"#).unwrap();
        assert_eq!(bad.backfill(), Err(EventError::Window));
        let bad: ExportEvent = serde_json::from_str(r#"{"mode":"replay"}"#).unwrap();
        assert!(matches!(bad.backfill(), Err(EventError::Mode(_))));
    }
}
