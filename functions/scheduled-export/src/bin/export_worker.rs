//! The export worker (fan-out mode): one (tenant, stream) export per SQS FIFO job. All logic lives
//! in the library ([`scheduled_export::fanout`]).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    defender_shared::telemetry::init("export-worker");
    let state = scheduled_export::fanout::cold_start().await?;
    scheduled_export::fanout::serve_worker(&state).await
}
