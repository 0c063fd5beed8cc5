//! The Lambda edge every function binary shares (feature `lambda`): the cold-start preamble and the
//! serving loops, so each `main` reads like cargo-lambda's template — init, build the state, serve.
//!
//! [`serve_http`] wraps each request in a [`telemetry::invocation`] (request id, cold start, EMF
//! flush) and counts the response status; [`serve_events`] hands the whole [`LambdaEvent`] to the
//! function, which decides what runs inside its invocation. Both borrow the state for as long as the
//! runtime serves (no `Box::leak`, as the aws-lambda-rust-runtime examples do).

use crate::{
    config::{Config, ConfigError},
    metrics, telemetry,
};
use lambda_http::{Body, Request, RequestExt, Response};
pub use lambda_runtime::{Diagnostic, Error, LambdaEvent};
use serde::{Serialize, de::DeserializeOwned};
use std::future::Future;

/// Cold start, first step: the JSON log set-up for `service`, then the shared settings from the
/// environment.
///
/// # Errors
/// [`ConfigError`] on a missing or invalid setting: the init phase fails.
pub fn init(service: &'static str) -> Result<Config, ConfigError> {
    telemetry::init(service);
    Config::from_env()
}

/// Serves API Gateway v2 / function-URL requests with `handle` until the runtime stops, each request
/// inside its invocation.
///
/// # Errors
/// The runtime's (the Runtime API unreachable or answering out of protocol).
pub async fn serve_http<'a, S, F, Fut>(state: &'a S, handle: F) -> Result<(), Error>
where
    S: Sync + ?Sized,
    F: Fn(&'a S, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send + 'a,
{
    let handle = &handle;
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let id = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
        let answer = handle(state, req);
        async move {
            let answer = telemetry::invocation(&id, async {
                let r = answer.await;
                metrics::response(r.status().as_u16());
                r
            });
            Ok::<_, Error>(answer.await)
        }
    }))
    .await
}

/// Serves events of type `E` (EventBridge, SQS, a direct invoke) with `handle` until the runtime
/// stops.
///
/// # Errors
/// The runtime's (the Runtime API unreachable or answering out of protocol).
pub async fn serve_events<'a, S, E, R, D, F, Fut>(state: &'a S, handle: F) -> Result<(), Error>
where
    S: Sync + ?Sized,
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send,
    D: Into<Diagnostic> + std::fmt::Debug + Send,
    F: Fn(&'a S, LambdaEvent<E>) -> Fut,
    Fut: Future<Output = Result<R, D>> + Send + 'a,
{
    let handle = &handle;
    lambda_runtime::run(lambda_runtime::service_fn(move |ev: LambdaEvent<E>| handle(state, ev))).await
}
