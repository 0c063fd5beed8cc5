//! The worker's SQS adapter: each record's body is a [`Job`]; every record that fails is reported in
//! the partial batch response (`batchItemFailures`, with the event source mapping's
//! `ReportBatchItemFailures`), so SQS delivers it again — and, after the queue's `maxReceiveCount`,
//! keeps it in the dead-letter queue — while the records that succeeded are deleted.
//!
//! A job is safe to deliver twice: an execution is claimed in the idempotency store under its
//! request id, so a redelivered [`Job::Execute`] answers "already handled" and acts once.

use crate::{
    handoff::Job,
    worker::{JobError, Worker},
};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::{info, warn};

fn job_of(record: &SqsMessage) -> Result<Job, JobError> {
    let body = record.body.as_deref().ok_or_else(|| JobError::Malformed("the record has no body".into()))?;
    serde_json::from_str(body).map_err(|e| JobError::Malformed(e.to_string()))
}

/// Runs every record of an SQS event in order; answers the ones to deliver again.
pub async fn handle_sqs(worker: &Worker, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        // Each record in its own log scope: the correlation id the callback carried (or the message id).
        let run = async {
            let outcome = match job_of(&record) {
                Ok(job) => worker.try_run(job).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match &outcome {
                Ok(()) => info!(message_id = %id, "job done"),
                Err(e) => warn!(message_id = %id, error = %e, "job failed; SQS will deliver it again"),
            }
            outcome
        };
        if defender_shared::telemetry::scope(Some(&crate::correlation::of_record(&record)), run).await.is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}
