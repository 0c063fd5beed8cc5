//! The webhook-enrichment Lambda: builds its state once per cold start, then serves API Gateway v2 /
//! function-URL events through `lambda_http`. All logic lives in the library.

use defender_shared::lambda::{self, Error};
use webhook_enrich::{handler, state};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = lambda::init("webhook-enrich")?;
    let state = state::from_env(config).await?;
    lambda::serve_http(&state, handler::handle).await
}
