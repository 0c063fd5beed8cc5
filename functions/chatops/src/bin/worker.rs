//! The chat-ops worker Lambda. With `CHATOPS_QUEUE_URL` and `CHATOPS_IDEMPOTENCY_TABLE` it is the SQS
//! queue's event source: each record's body is a [`chatops::handoff::Job`], the answer a partial
//! batch response (`batchItemFailures`), follow-up re-checks go back on the queue with
//! `DelaySeconds`. Without them it runs only in local mode (`DEFENDER_LOCAL_MODE=1`), taking a job
//! (or an SQS-shaped event) as the event and delaying re-checks in-process. All logic lives in the
//! library.

use chatops::{
    queue,
    state::{self, Served},
};
use defender_shared::{
    events::EventBridgeSink,
    lambda::{self, Error},
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = state::from_env(lambda::init("chatops-worker")?).await?;
    // SOC events (EVENT_BUS; unset: off): machine-action outcomes, best effort.
    match started.worker(EventBridgeSink::publisher_from_env().await) {
        Served::Sqs(worker) => lambda::serve_events(&*worker, queue::sqs_invocation).await,
        Served::Local(worker) => lambda::serve_events(&*worker, queue::local_invocation).await,
    }
}
