//! The export's SOC event: one `Export Run Summary` per tenant and stream of a run (schema
//! `docs/events/export-run-summary.schema.json`), published after the run, when every cursor it moved
//! is committed; best effort (`defender_shared::events`): a failed publish never fails the run.

use crate::{
    export::{Outcome, StopReason, StreamSummary},
    handler::RunSummary,
};
use defender_shared::events::{DetailType, Event, EventsError, Publisher, SCHEMA_VERSION};
use serde::Serialize;

/// The detail of an `Export Run Summary` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRunSummary {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `<run id>/<tenant>/<stream>`: a retried delivery of the same invocation has the same id.
    pub event_id: String,
    /// The invocation (Lambda request id).
    pub run_id: String,
    /// `scheduled` or `backfill`.
    pub mode: &'static str,
    /// Tenant (registry name).
    pub tenant: String,
    /// Stream (`mde-alerts`, `hunting:<name>`).
    pub stream: String,
    /// `complete`, `stopped`, `conflict` or `failed`.
    pub outcome: &'static str,
    /// Why it stopped (`deadline`, `quota`), when `stopped`.
    pub stop_reason: Option<&'static str>,
    /// The error chain, when `failed` (codes and messages; never a secret or a record).
    pub error: Option<String>,
    /// Record versions (hunting: rows) written.
    pub records: u64,
    /// Data objects written.
    pub objects: u64,
    /// Versions read again in the overlap window and skipped.
    pub skipped: u64,
    /// Page requests made.
    pub api_calls: u64,
    /// Throttles that ended the stream.
    pub throttles: u64,
    /// Records written whose id or time the export could not read (written as received).
    pub undecodable: u64,
    /// Records written without a usable time.
    pub untimed: u64,
    /// The cursor's high-water time after the run (RFC 3339), if any.
    pub cursor_after: Option<String>,
    /// The backfill window `[from, to)` (RFC 3339), for a backfill.
    pub backfill: Option<[String; 2]>,
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Complete => "complete",
        Outcome::Stopped => "stopped",
        Outcome::Conflict => "conflict",
    }
}

fn base(run_id: &str, run: &RunSummary, tenant: &str, stream: &str) -> ExportRunSummary {
    ExportRunSummary {
        schema_version: SCHEMA_VERSION,
        event_id: format!("{run_id}/{tenant}/{stream}"),
        run_id: run_id.to_string(),
        mode: run.mode,
        tenant: tenant.to_string(),
        stream: stream.to_string(),
        outcome: "failed",
        stop_reason: None,
        error: None,
        records: 0,
        objects: 0,
        skipped: 0,
        api_calls: 0,
        throttles: 0,
        undecodable: 0,
        untimed: 0,
        cursor_after: None,
        backfill: run.backfill.map(|b| [b.from.to_rfc3339(), b.to.to_rfc3339()]),
    }
}

fn of_stream(run_id: &str, run: &RunSummary, s: &StreamSummary) -> ExportRunSummary {
    ExportRunSummary {
        outcome: outcome(s.outcome),
        stop_reason: s.stop_reason.as_ref().map(|r| match r {
            StopReason::Deadline => "deadline",
            StopReason::Quota { .. } => "quota",
        }),
        records: s.records,
        objects: s.objects,
        skipped: s.skipped,
        api_calls: s.api_calls,
        throttles: s.throttles,
        undecodable: s.undecodable,
        untimed: s.untimed,
        cursor_after: s.cursor_after.as_ref().map(|v| v.0.to_rfc3339()),
        ..base(run_id, run, &s.tenant, &s.stream)
    }
}

/// One event per stream of `run` (its summaries, then its failures).
///
/// # Errors
/// [`EventsError::Detail`] (only if serialisation failed).
pub fn run_summaries(run_id: &str, run: &RunSummary) -> Result<Vec<Event>, EventsError> {
    let summaries = run.streams.iter().map(|s| of_stream(run_id, run, s));
    let failures = run
        .failures
        .iter()
        .map(|f| ExportRunSummary { error: Some(f.error.clone()), ..base(run_id, run, &f.tenant, &f.stream) });
    summaries.chain(failures).map(|d| Event::new(DetailType::ExportRunSummary, &d)).collect()
}

/// Publishes `run`'s summaries (nothing when `events` is off); never fails the run.
pub async fn publish(events: &Publisher, run_id: &str, run: &RunSummary) {
    if !events.is_on() {
        return;
    }
    match run_summaries(run_id, run) {
        Ok(list) => {
            events.publish(list, None).await;
        }
        Err(e) => tracing::warn!(error = %e, "run summary events not built"),
    }
}
