//! Injected latency and the timeline: each request waits one round trip, each new connection two, and
//! the timeline's round-trip count sees requests that waited for one another, not requests in all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::time::{Duration, Instant};
use tenant_sim::{
    SimOptions,
    latency::{SpanKind, round_trips},
};

const LATENCY: Duration = Duration::from_millis(40);

#[tokio::test(flavor = "multi_thread")]
async fn requests_wait_a_round_trip_and_only_sequential_ones_chain() {
    let sim = tenant_sim::start(SimOptions { latency: LATENCY, ..SimOptions::demo().unwrap() }).await.unwrap();
    let http = sim.client().unwrap();
    let discovery = format!("{}/{}/v2.0/.well-known/openid-configuration", sim.url, sim.tenant_id());
    let get = || async { http.get(&discovery).send().await.unwrap().status().as_u16() };

    let started = Instant::now();
    // One request on a new connection, then three at once, then one more: three sequential requests.
    assert_eq!(get().await, 200);
    let (a, b, c) = tokio::join!(get(), get(), get());
    assert_eq!((a, b, c), (200, 200, 200));
    assert_eq!(get().await, 200);
    let elapsed = started.elapsed();

    let spans = sim.wire.timeline();
    let requests: Vec<_> = spans.iter().filter(|s| s.kind == SpanKind::Request).collect();
    assert_eq!(requests.len(), 5);
    for s in &requests {
        assert!(s.completed_us - s.arrived_us >= LATENCY.as_micros() as u64, "each request waits the latency: {s:?}");
    }
    let rt = round_trips(&spans, None);
    assert_eq!(rt.requests, 3, "{spans:#?}");
    // The first connection's handshake (two round trips) precedes the first request; the concurrent ones
    // may open connections of their own, which overlap and never add to the chain more than once.
    assert!(rt.connection_count >= 1);
    assert!(rt.total >= 5, "{rt:?}");
    assert!(rt.total <= 3 + 2 * 2, "{rt:?}");
    // The client's wall time is at least the chain times the latency.
    assert!(elapsed >= LATENCY * rt.total, "{elapsed:?} for {rt:?}");

    // The control API reads it back (undelayed, unrecorded), sets the latency and clears the timeline.
    let t0 = Instant::now();
    let doc: Value = http.get(format!("{}/_sim/timeline", sim.url)).send().await.unwrap().json().await.unwrap();
    assert!(t0.elapsed() < LATENCY, "the control API is not delayed");
    assert_eq!(doc["round_trips"]["requests"], 3);
    assert_eq!(doc["value"].as_array().unwrap().len(), spans.len());
    let r = http.post(format!("{}/_sim/latency", sim.url)).json(&serde_json::json!({"ms": 0})).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(http.delete(format!("{}/_sim/timeline", sim.url)).send().await.unwrap().status().is_success());
    let t0 = Instant::now();
    assert_eq!(get().await, 200);
    assert!(t0.elapsed() < LATENCY, "latency 0 is no delay");
    assert_eq!(sim.wire.timeline().iter().filter(|s| s.kind == SpanKind::Request).count(), 1);
}
