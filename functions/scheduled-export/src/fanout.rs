//! MSSP fan-out: one SQS FIFO job per (tenant, stream) instead of every pair in one invocation.
//!
//! With hundreds of tenants one invocation cannot export every (tenant, stream) inside Lambda's
//! 15 minutes, and the tenants at the end of the list lag most. In fan-out mode
//! (`EXPORT_JOB_QUEUE_URL` set; the template's `ExportFanOut=sqs-fifo`) the schedule's invocation
//! only **enqueues**, and the `export-worker` function, fed by the queue's event source mapping,
//! **runs one job** — today's export of one (tenant, stream), with its cursor, lease and
//! exactly-once rules ([`crate::export`]) unchanged:
//!
//! - `MessageGroupId` = the tenant: SQS FIFO never delivers a message of a group while an earlier
//!   one of that group is in flight, so a tenant's jobs run one at a time (its Defender quota is
//!   spent by one export at a time) while the tenants run in parallel, up to the mapping's
//!   concurrency.
//! - `MessageDeduplicationId` = a digest of (tenant, stream, schedule period[, backfill window]):
//!   two firings for the same period (the Scheduler's retry, an overlapping manual run) enqueue each
//!   job once within FIFO's 5-minute deduplication interval. Past it, or for a later period, the
//!   duplicate job is harmless by the cursor's own rules: it runs after the first (same group), finds
//!   the cursor advanced and writes only what changed since; a job that meets another run's live
//!   lease stops with `conflict` having written nothing.
//! - Each job that ran (completed, stopped, in conflict, or failed in the export) is published as
//!   one `Export Run Summary` SOC event (`EVENT_BUS`), as the single export publishes each of its
//!   streams ([`crate::events`]); its run id is `<request id>:<message id>`, the export's own.
//! - A job that fails (Defender 5xx after the client's retries, S3, an unreadable job) is reported
//!   in the partial batch response, so SQS delivers it again after the visibility timeout and, after
//!   the queue's `maxReceiveCount`, moves it to the dead-letter queue — holding back only the rest of
//!   its own tenant's group meanwhile, never the other tenants. A job stopped by its deadline or by
//!   the quota (`stopped`) or by another run's lease (`conflict`) succeeded: the next period resumes
//!   from the cursor.
//!
//! Per-tenant quota: the group serialises a tenant's exports; what else spends that tenant's quota
//! at the same time (enrichment bursts, chat-ops) is absorbed by the client's pacing and its 429
//! feedback (`Retry-After` honoured). docs/export.md gives the choice and the measurement.

use crate::{
    events,
    export::{Backfill, Outcome, Source, Stream, StreamSummary, part},
    handler::{self, ExportEvent, RunSummary, State, StreamFailure},
    invoke::Scheduled,
};
use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, DurationRound, Utc};
use defender_shared::{defender::Deadline, events::Publisher};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

/// Sends in flight at once while enqueuing.
pub const SENDERS: usize = 16;

/// One job: export `stream` of `tenant` for the schedule period `period` (or over a backfill window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportJob {
    /// The tenant's registry name.
    pub tenant: String,
    /// The stream's name (`mde-alerts`, `hunting:<name>`).
    pub stream: String,
    /// The schedule period the job belongs to (the scheduled time, to the minute).
    pub period: DateTime<Utc>,
    /// A backfill window instead of the scheduled cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Window>,
}

/// A backfill window in a job (`[from, to)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
}

impl From<Backfill> for Window {
    fn from(b: Backfill) -> Self {
        Self { from: b.from, to: b.to }
    }
}

impl From<Window> for Backfill {
    fn from(w: Window) -> Self {
        Self { from: w.from, to: w.to }
    }
}

impl ExportJob {
    /// `MessageGroupId`: the tenant (SQS allows 1–128 characters of `[A-Za-z0-9]` and punctuation;
    /// the key-safe form of the name is within that, cut to 128).
    pub fn group(&self) -> String {
        let mut g = part(&self.tenant);
        g.truncate(128);
        if g.is_empty() { "-".to_string() } else { g }
    }

    /// `MessageDeduplicationId`: the SHA-256 of (tenant, stream, period, backfill window), hex.
    pub fn dedup_id(&self) -> String {
        let mut h = Sha256::new();
        for p in [self.tenant.as_str(), self.stream.as_str(), &self.period.to_rfc3339()] {
            h.update(p.as_bytes());
            h.update([0]);
        }
        if let Some(w) = self.backfill {
            h.update(format!("{}\0{}", w.from.to_rfc3339(), w.to.to_rfc3339()).as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// A message to send: its group, its deduplication id, its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `MessageGroupId`.
    pub group: String,
    /// `MessageDeduplicationId`.
    pub dedup: String,
    /// The [`ExportJob`] as JSON.
    pub body: String,
}

impl From<&ExportJob> for Envelope {
    fn from(j: &ExportJob) -> Self {
        // Serialising plain strings and times cannot fail; the fallback keeps the type honest.
        Self { group: j.group(), dedup: j.dedup_id(), body: serde_json::to_string(j).unwrap_or_default() }
    }
}

/// The queue refused some of the jobs.
#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    /// The event does not describe a run.
    #[error("the event does not describe a run")]
    Event(#[from] handler::EventError),
    /// Sending failed (the SDK's message; the jobs already sent stay sent, and a retry of the
    /// invocation sends them again under the same deduplication ids).
    #[error("enqueuing jobs failed: {0}")]
    Send(String),
}

/// Where jobs go (production: [`SqsJobQueue`]).
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Sends one message.
    ///
    /// # Errors
    /// The queue refused it, or the call failed.
    async fn send(&self, job: &Envelope) -> Result<(), FanoutError>;
}

/// SQS `SendMessage` on a FIFO queue — one call per job, so the role needs exactly
/// `sqs:SendMessage` on the queue (calls run [`SENDERS`] at a time: 1,000 jobs take about a second).
#[derive(Debug, Clone)]
pub struct SqsJobQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsJobQueue {
    /// A queue at `url` through `client`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// The SQS client from the environment (`AWS_ENDPOINT_URL_SQS` honoured).
    pub async fn client_from_env() -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await)
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn send(&self, job: &Envelope) -> Result<(), FanoutError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(&job.body)
            .message_group_id(&job.group)
            .message_deduplication_id(&job.dedup)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| FanoutError::Send(format!("SendMessage: {}", aws_sdk_sqs::error::DisplayErrorContext(e))))
    }
}

/// The schedule period of an event: its scheduled time to the minute (the Scheduler's retry of a
/// firing carries the same time); `now` to the minute when the event names none.
pub fn period(event: &ExportEvent, now: DateTime<Utc>) -> DateTime<Utc> {
    let t = event.scheduled_time.unwrap_or(now);
    t.duration_trunc(chrono::Duration::minutes(1)).unwrap_or(t)
}

/// The jobs of one firing: every (tenant, stream) of `state`, tenant by tenant.
///
/// # Errors
/// The event is not a valid run request.
pub fn jobs(state: &State, event: &ExportEvent, now: DateTime<Utc>) -> Result<Vec<ExportJob>, FanoutError> {
    let backfill = event.backfill()?.map(Window::from);
    let period = period(event, now);
    Ok(state
        .tenants
        .iter()
        .flat_map(|(tenant, _)| {
            state.cfg.streams.iter().map(move |s| ExportJob {
                tenant: tenant.clone(),
                stream: s.to_string(),
                period,
                backfill,
            })
        })
        .collect())
}

/// What a firing enqueued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    /// `scheduled` or `backfill`.
    pub mode: &'static str,
    /// The period the jobs belong to.
    pub period: DateTime<Utc>,
    /// Jobs sent (SQS drops the ones whose deduplication id it saw in the last 5 minutes).
    pub jobs: usize,
    /// Distinct tenants (message groups).
    pub tenants: usize,
}

/// The schedule's invocation in fan-out mode: one job per (tenant, stream) on `queue`.
///
/// # Errors
/// A bad event, or the queue refused a batch (the invocation fails; the Scheduler's retry sends
/// every job again under the same deduplication ids, so the ones already sent are not doubled).
pub async fn enqueue(
    state: &State,
    queue: &dyn JobQueue,
    event: &ExportEvent,
    now: DateTime<Utc>,
) -> Result<Enqueued, FanoutError> {
    let jobs = jobs(state, event, now)?;
    let envelopes: Vec<Envelope> = jobs.iter().map(Envelope::from).collect();
    futures::stream::iter(envelopes.iter().map(Ok)).try_for_each_concurrent(SENDERS, |e| queue.send(e)).await?;
    let out = Enqueued {
        mode: if event.backfill()?.is_some() { "backfill" } else { "scheduled" },
        period: period(event, now),
        jobs: jobs.len(),
        tenants: state.tenants.len(),
    };
    info!(jobs = out.jobs, tenants = out.tenants, period = %out.period, "export jobs enqueued");
    Ok(out)
}

/// Why one job failed (it is delivered again, then dead-lettered).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The body is not a job.
    #[error("the message is not an export job: {0}")]
    Malformed(String),
    /// The job names a tenant this function's registry does not hold.
    #[error("no tenant '{0}' in the registry")]
    UnknownTenant(String),
    /// The job names a stream this function does not export.
    #[error("stream '{0}' is not enabled")]
    UnknownStream(String),
    /// The export failed; its cursor stays at the last committed page.
    #[error("{0}")]
    Export(String),
    /// An earlier message of the same batch and group failed: FIFO order forbids running it before
    /// that one succeeds.
    #[error("an earlier job of tenant group '{0}' in this batch failed")]
    Held(String),
}

fn job_of(record: &SqsMessage) -> Result<ExportJob, JobError> {
    let body = record.body.as_deref().ok_or_else(|| JobError::Malformed("the record has no body".into()))?;
    serde_json::from_str(body).map_err(|e| JobError::Malformed(e.to_string()))
}

fn resolve<'a>(state: &'a State, job: &ExportJob) -> Result<(&'a dyn Source, &'a Stream), JobError> {
    let source = state
        .tenants
        .iter()
        .find(|(n, _)| *n == job.tenant)
        .map(|(_, s)| s.as_ref())
        .ok_or_else(|| JobError::UnknownTenant(job.tenant.clone()))?;
    let stream = state
        .cfg
        .streams
        .iter()
        .find(|s| s.to_string() == job.stream)
        .ok_or_else(|| JobError::UnknownStream(job.stream.clone()))?;
    Ok((source, stream))
}

/// Runs one job: the export of its (tenant, stream) until `deadline` less the margin.
///
/// # Errors
/// [`JobError`]: an unknown tenant or stream, or the export failed.
pub async fn run_job(
    state: &State,
    job: &ExportJob,
    run_id: &str,
    deadline: Deadline,
) -> Result<StreamSummary, JobError> {
    let (source, stream) = resolve(state, job)?;
    let observe = |_: &Stream, _: u64, _: DateTime<Utc>| {};
    handler::export_one(
        state,
        &job.tenant,
        source,
        stream,
        job.backfill.map(Backfill::from),
        run_id,
        deadline,
        &observe,
    )
    .await
    .map_err(|f| JobError::Export(f.error))
}

/// A job's run as the single export would summarise it (one stream, or its failure), for its SOC
/// event; `None` for a job that never reached the export (unknown tenant or stream).
pub fn run_summary(job: &ExportJob, outcome: &Result<StreamSummary, JobError>) -> Option<RunSummary> {
    let (streams, failures) = match outcome {
        Ok(s) => (vec![s.clone()], Vec::new()),
        Err(JobError::Export(error)) => (
            Vec::new(),
            vec![StreamFailure { tenant: job.tenant.clone(), stream: job.stream.clone(), error: error.clone() }],
        ),
        Err(_) => return None,
    };
    let backfill = job.backfill.map(Backfill::from);
    Some(RunSummary { mode: if backfill.is_some() { "backfill" } else { "scheduled" }, backfill, streams, failures })
}

/// The worker's SQS adapter: runs each record's job in order and answers the ones SQS must deliver
/// again (`ReportBatchItemFailures`). After a failure, the later records of the same group in the
/// batch are reported too, unrun (FIFO: a group's messages are processed in order). Each job that
/// ran is published on `bus` when it ends ([`run_summary`]; best effort, never fails the job).
pub async fn handle_sqs(
    state: &State,
    bus: &Publisher,
    event: SqsEvent,
    run_id: &str,
    deadline: Deadline,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let mut failed_groups: Vec<String> = Vec::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let group = record.attributes.get("MessageGroupId").cloned().unwrap_or_default();
        let outcome = match job_of(&record) {
            Err(e) => Err(e),
            Ok(job) if failed_groups.contains(&job.group()) || failed_groups.contains(&group) => {
                Err(JobError::Held(job.group()))
            }
            Ok(job) => {
                let run = format!("{run_id}:{id}");
                let r = run_job(state, &job, &run, deadline).await;
                if r.is_err() {
                    failed_groups.push(job.group());
                }
                if let Some(summary) = run_summary(&job, &r) {
                    events::publish(bus, &run, &summary).await;
                }
                r
            }
        };
        match &outcome {
            Ok(s) => info!(message_id = %id, tenant = %s.tenant, stream = %s.stream, records = s.records,
                outcome = ?s.outcome, conflict = s.outcome == Outcome::Conflict, "export job done"),
            Err(e) => warn!(message_id = %id, error = %e, "export job failed; SQS will deliver it again"),
        }
        if outcome.is_err() {
            if !group.is_empty() && !failed_groups.contains(&group) {
                failed_groups.push(group);
            }
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// The schedule function's loop in fan-out mode: each invocation enqueues its jobs on `queue_url`.
///
/// # Errors
/// The runtime's.
pub async fn serve_scheduler(state: &State, queue_url: &str) -> Result<(), lambda_runtime::Error> {
    use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
    let queue = SqsJobQueue::new(SqsJobQueue::client_from_env().await, queue_url);
    let queue = &queue;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<serde_json::Value>| async move {
        let event: ExportEvent = serde_json::from_value(ev.payload)
            .map_err(|e| Diagnostic { error_type: "Export.BadEvent".into(), error_message: e.to_string() })?;
        if let Some(id) = &event.execution_id {
            defender_shared::telemetry::correlate(id);
        }
        enqueue(state, queue, &event, Utc::now()).await.map_err(|e| match e {
            FanoutError::Event(e) => Diagnostic { error_type: "Export.BadEvent".into(), error_message: e.to_string() },
            FanoutError::Send(m) => Diagnostic { error_type: "Export.EnqueueFailed".into(), error_message: m },
        })
    }))
    .await
}

/// The `export-worker` function's invocation: one SQS batch of jobs in, the partial batch response
/// out (a failed job is a failed item, never a failed invocation), each job's run summary published
/// on the SOC bus.
///
/// # Errors
/// None: the error type is what [`defender_shared::lambda::serve_events`] asks for.
pub async fn worker(
    s: &Scheduled,
    ev: lambda_runtime::LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Diagnostic> {
    let deadline = Deadline::from_lambda_ms(ev.context.deadline);
    let run = handle_sqs(&s.state, &s.events, ev.payload, &ev.context.request_id, deadline);
    Ok(defender_shared::telemetry::invocation(&ev.context.request_id, run).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(tenant: &str, stream: &str, period: &str) -> ExportJob {
        ExportJob { tenant: tenant.into(), stream: stream.into(), period: period.parse().unwrap(), backfill: None }
    }

    #[test]
    fn dedup_ids_name_tenant_stream_and_period() {
        let a = job("contoso", "mde-alerts", "2026-12-06T08:00:00Z");
        assert_eq!(a.dedup_id(), job("contoso", "mde-alerts", "2026-12-06T08:00:00Z").dedup_id());
        assert_eq!(a.dedup_id().len(), 64);
        for other in [
            job("fabrikam", "mde-alerts", "2026-12-06T08:00:00Z"),
            job("contoso", "xdr-incidents", "2026-12-06T08:00:00Z"),
            job("contoso", "mde-alerts", "2026-12-06T08:05:00Z"),
        ] {
            assert_ne!(a.dedup_id(), other.dedup_id(), "{other:?}");
        }
        let mut b = a.clone();
        b.backfill = Some(Window { from: "2026-11-01T00:00:00Z".parse().unwrap(), to: a.period });
        assert_ne!(a.dedup_id(), b.dedup_id());
        assert_eq!(job("a b/c", "x", "2026-12-06T08:00:00Z").group(), "a-b-c");
        let round: ExportJob = serde_json::from_str(&Envelope::from(&b).body).unwrap();
        assert_eq!(round, b);
    }

    #[test]
    fn a_job_that_failed_in_the_export_is_one_failed_run_summary_and_an_unrun_one_is_none() {
        let mut j = job("contoso", "mde-alerts", "2026-12-06T08:00:00Z");
        j.backfill = Some(Window { from: "2026-11-01T00:00:00Z".parse().unwrap(), to: j.period });
        let run = run_summary(&j, &Err(JobError::Export("defender: 500".into()))).unwrap();
        assert_eq!((run.mode, run.backfill, run.streams.len()), ("backfill", j.backfill.map(Backfill::from), 0));
        let want =
            StreamFailure { tenant: "contoso".into(), stream: "mde-alerts".into(), error: "defender: 500".into() };
        assert_eq!(run.failures, vec![want]);
        let listed = events::run_summaries("req:msg", &run).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].detail["event_id"], "req:msg/contoso/mde-alerts");
        assert_eq!(listed[0].detail["outcome"], "failed");
        for unrun in [JobError::UnknownTenant("x".into()), JobError::Held("g".into()), JobError::Malformed("m".into())]
        {
            assert_eq!(run_summary(&j, &Err(unrun.clone())), None, "{unrun}");
        }
    }

    #[test]
    fn the_period_is_the_scheduled_minute() {
        let ev: ExportEvent = serde_json::from_str(r#"{"scheduled_time":"2026-12-06T08:05:00Z"}"#).unwrap();
        let now: DateTime<Utc> = "2026-12-06T08:05:41.5Z".parse().unwrap();
        assert_eq!(period(&ev, now), "2026-12-06T08:05:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(period(&ExportEvent::default(), now), "2026-12-06T08:05:00Z".parse::<DateTime<Utc>>().unwrap());
    }
}
