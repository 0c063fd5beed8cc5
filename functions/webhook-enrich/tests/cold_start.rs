//! The cold start's sequential round trips, counted from the simulator's timeline under injected latency
//! (as from an AWS region to Microsoft): from building the runtime to the first answer, the function
//! waits for no more round trips than the protocol needs (docs/operations.md, "Cold start: round trips").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::event;
use defender_shared::{config::Config, runtime::Runtime};
use lambda_http::{Body, http::StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use tenant_sim::{
    SimOptions,
    latency::{SpanKind, now_us, round_trips},
};
use testkit::{SimEnv, demo::now};
use webhook_enrich::{config::EnrichConfig, handler, state};

/// Long enough that requests sent together overlap on a loaded machine, short enough for a test.
const LATENCY: Duration = Duration::from_millis(60);

/// Client secret in the environment, webhook secret in Key Vault, one machine asked about: the vault's
/// challenge, the vault's token and the Defender tokens go out together, then the secret, then the
/// machine with its users and alerts — three sequential requests, five round trips with the first
/// connection's handshake. Before: the self-check's three tokens one after another before the first
/// poll, then challenge → token → secret, then machine → users → alerts (nine requests in a row).
#[tokio::test(flavor = "multi_thread")]
async fn the_first_answer_waits_three_sequential_requests_under_latency() {
    let sim = SimEnv::start(SimOptions { latency: LATENCY, ..SimOptions::demo().unwrap() }).await;
    let lookup = sim.lookup(&[]);
    let machine = {
        let seed = sim.sim.tenant.lock().unwrap().seed.clone();
        let m = seed.machines.iter().find(|m| seed.alerts.iter().any(|a| a["machineId"] == m["id"])).unwrap();
        m["id"].as_str().unwrap().to_string()
    };
    let body = json!({"indicators": {"machine_ids": [machine]}}).to_string();
    sim.wire.clear();

    // What `main` does, then the first invocation.
    let started = now_us();
    let config = Config::from_lookup(lookup).unwrap();
    let rt = Runtime::from_config(config).await.unwrap();
    let st = state::build(rt, EnrichConfig::from_lookup(|_| None).unwrap(), now).await.unwrap();
    let r = handler::handle(&st, event(&body, "msg_cold_1")).await;
    let answered = now_us();

    let Body::Text(t) = r.body() else { panic!("no text body") };
    assert_eq!(r.status(), StatusCode::OK, "{t}");
    let doc: Value = serde_json::from_str(t).unwrap();
    assert_eq!(doc["results"][0]["status"], "found", "{doc}");
    assert!(!doc["results"][0]["alerts"].as_array().unwrap().is_empty(), "{doc}");

    let spans = sim.wire.timeline();
    let rt = round_trips(&spans, Some(answered));
    let path = |s: &&tenant_sim::latency::Span| format!("{} {} {}", s.method, s.path, s.status);
    let log: Vec<String> = spans.iter().filter(|s| s.kind == SpanKind::Request).map(|s| path(&s)).collect();
    assert_eq!(rt.requests, 3, "sequential requests before the first answer: {rt:?}\n{log:#?}");
    assert_eq!(rt.total, 5, "round trips with the handshake: {rt:?}\n{log:#?}");
    // The wall time follows: at least the chain times the latency.
    let elapsed = Duration::from_micros(answered - started);
    assert!(elapsed >= LATENCY * rt.total, "{elapsed:?} for {rt:?}");
}
