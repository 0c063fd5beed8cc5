//! What the webhook-enrich tests share: a real event fixture carrying a delivery signed with the demo
//! webhook secret (the standard scheme), the library's state on the simulated tenant, and the
//! handler's answer.

#![allow(dead_code)]

use defender_shared::{secret::SecretString, webhook};
use lambda_http::{Body, http::StatusCode};
use serde_json::{Value, json};
use testkit::{
    SimEnv,
    demo::{WHSEC, now},
};
use webhook_enrich::{config::EnrichConfig, handler, state};

/// The event fixture `tests/fixtures/<fixture>` carrying `body`, signed now as message `id`.
pub fn signed(fixture: &str, body: &str, id: &str) -> Value {
    let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let ts = now();
    let sig = webhook::sign_standard(&SecretString::new(WHSEC), id, ts, body.as_bytes()).unwrap();
    v["body"] = json!(body);
    v["headers"]["webhook-id"] = json!(id);
    v["headers"]["webhook-timestamp"] = json!(ts.to_string());
    v["headers"]["webhook-signature"] = json!(sig);
    v
}

/// An API Gateway v2 `POST /enrich` carrying `body`, signed now as message `id`.
pub fn event(body: &str, id: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&signed("apigw-v2-post-enrich.json", body, id).to_string()).unwrap()
}

/// The library's state on the demo tenant, with the function's `settings` (the rest unset).
pub async fn setup(settings: &[(&str, String)]) -> (SimEnv, handler::State) {
    let sim = SimEnv::demo().await;
    let rt = sim.runtime().await;
    let cfg = EnrichConfig::from_lookup(|k| settings.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap();
    let st = state::build(rt, cfg, now).await.unwrap();
    (sim, st)
}

/// The handler's status and JSON answer to `body` signed as message `id`.
pub async fn call(st: &handler::State, body: &str, id: &str) -> (StatusCode, Value) {
    let r = handler::handle(st, event(body, id)).await;
    let status = r.status();
    let Body::Text(t) = r.body() else { panic!("no text body") };
    (status, serde_json::from_str(t).unwrap())
}
