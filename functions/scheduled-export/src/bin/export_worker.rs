//! The export worker (fan-out mode): one (tenant, stream) export per SQS FIFO job. All logic lives
//! in the library ([`scheduled_export::fanout`]); each job's run summary goes to the SOC bus
//! (`EVENT_BUS`; unset: off).

use defender_shared::lambda::{self, Error};
use scheduled_export::{fanout, invoke::Scheduled, state};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = state::from_env(lambda::init("export-worker")?).await?;
    lambda::serve_events(&Scheduled::from_env(state).await, fanout::worker).await
}
