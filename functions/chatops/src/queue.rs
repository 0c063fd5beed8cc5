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
use defender_shared::{
    lambda::{Error, LambdaEvent},
    telemetry,
};
use serde_json::{Value, json};
use tracing::{info, warn};

/// One SQS invocation of the worker (production), inside its invocation.
///
/// # Errors
/// None (the type the runtime asks for): a failed record is in the batch response.
pub async fn sqs_invocation(worker: &Worker, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    Ok(telemetry::invocation(&event.context.request_id, handle_sqs(worker, event.payload)).await)
}

/// One local-mode invocation of the worker: a job, or an SQS-shaped event of jobs; the replies'
/// texts as `{"replies": [..]}`.
///
/// # Errors
/// The event is neither (nothing runs).
pub async fn local_invocation(worker: &Worker, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let list = jobs(event.payload)?;
    let replies = telemetry::invocation(&event.context.request_id, async {
        let mut replies = Vec::new();
        for job in list {
            replies.push(worker.run(job).await.map(|r| r.text));
        }
        replies
    });
    Ok(json!({ "replies": replies.await }))
}

fn jobs(event: Value) -> Result<Vec<Job>, serde_json::Error> {
    match event.get("Records").and_then(Value::as_array) {
        Some(records) => records
            .iter()
            .map(|r| serde_json::from_str(r.get("body").and_then(Value::as_str).unwrap_or_default()))
            .collect(),
        None => serde_json::from_value(event).map(|j| vec![j]),
    }
}

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
