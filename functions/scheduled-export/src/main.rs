//! The scheduled-export Lambda: builds its state once per cold start, then serves EventBridge
//! Scheduler invocations through `lambda_runtime`. `scheduled-export backfill --from .. --to ..` runs a
//! backfill from a terminal instead (progress bar on stderr when it is a terminal, the summary of
//! each pass as JSON on stdout). All logic lives in the library.

use defender_shared::lambda::{self, Error};
use scheduled_export::{
    cli::{self, Command},
    invoke::{self, Scheduled},
    state,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let command = cli::from_args();
    let state = state::from_env(lambda::init("scheduled-export")?).await?;
    match command {
        // Fan-out mode (EXPORT_JOB_QUEUE_URL): the schedule only enqueues one job per (tenant, stream).
        Command::Lambda => match state.cfg.job_queue.clone() {
            Some(queue) => scheduled_export::fanout::serve_scheduler(&state, &queue).await,
            None => lambda::serve_events(&Scheduled::from_env(state).await, invoke::handle).await,
        },
        Command::Backfill(window) => cli::backfill(&state, window).await,
    }
}
