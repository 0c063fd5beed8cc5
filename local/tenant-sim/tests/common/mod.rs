//! What the simulator's own tests share: the demo tenant started with a client that trusts its CA,
//! the demo app, and its tokens.

#![allow(dead_code, clippy::panic)]

use tenant_sim::{RunningSim, SimOptions};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The demo tenant's full-permission app.
pub const APP: &str = "11111111-1111-4111-8111-111111111111";
/// Its client secret.
pub const SECRET: &str = "demo-secret-value-do-not-use-in-prod";

/// The demo tenant started, and a client that trusts its CA.
pub async fn demo() -> Result<(RunningSim, reqwest::Client), Box<dyn std::error::Error>> {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let http = sim.client()?;
    Ok((sim, http))
}

/// A client-credentials token of the app `(client, secret)` for `scope`: a refusal fails the test.
pub async fn token(
    sim: &RunningSim,
    http: &reqwest::Client,
    app: (&str, &str),
    scope: &str,
) -> Result<String, reqwest::Error> {
    let body = sim.client_credentials(http, app, scope).await?;
    let token = body["access_token"].as_str().unwrap_or_else(|| panic!("a token for {scope}: {body}"));
    Ok(token.to_string())
}
