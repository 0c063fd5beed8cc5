//! The chat-ops callback Lambda (`POST /chatops/slack`, `POST /chatops/teams`). All logic lives in
//! the library. With `CHATOPS_QUEUE_URL` and `CHATOPS_IDEMPOTENCY_TABLE` it hands work to the worker
//! function through SQS and claims confirmations in DynamoDB; without them it runs only in local
//! mode (`DEFENDER_LOCAL_MODE=1`), with an in-process worker and a memory store.

use chatops::{handler, state};
use defender_shared::lambda::{self, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = state::from_env(lambda::init("chatops-callback")?).await?;
    let state = started.callback();
    lambda::serve_http(&state, handler::handle).await
}
