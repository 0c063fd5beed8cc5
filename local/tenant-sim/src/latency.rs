//! Injected latency and the timeline of round trips.
//!
//! On loopback every request costs microseconds, so a client that asks Entra, Key Vault and Defender one
//! after another looks as fast as one that asks them at once. From an AWS region each request to
//! Microsoft costs a round trip of tens of milliseconds, and a cold start is as long as its chain of
//! requests that wait for one another. This module makes that visible:
//!
//! - **Latency.** With `--latency-ms N` (or `TENANT_SIM_LATENCY_MS`, or `POST /_sim/latency
//!   {"ms": N}`), every request to Entra, Key Vault, the Defender APIs or the Bot Framework waits `N` ms
//!   before it is served (one round trip), and every new TLS connection waits `2 × N` ms before its
//!   handshake (the TCP handshake and the TLS 1.3 handshake, one round trip each). The control API
//!   (`/_sim/…`) is never delayed. `0` (the default) turns it off.
//! - **Timeline.** Every connection and every request (the control API aside) is recorded with its
//!   arrival and completion times (microseconds since the Unix epoch, so another process on the same
//!   machine can compare them with its own clock): `GET /_sim/timeline`, cleared by `DELETE`.
//! - **Round trips.** [`round_trips`] counts the *sequential* round trips in a timeline: the weight of
//!   the heaviest chain of spans `s1, s2, …, sk` in which each span arrived at or after the previous
//!   one completed (so it may have waited for it), a request weighing 1 and a new connection 2. Spans
//!   that overlap cannot wait for each other and never chain, so requests sent concurrently count once.
//!   Under injected latency `L`, a client's time is at least `round trips × L`; it is that count, not the
//!   number of requests, that a cold start pays from a region far from Microsoft.
//!
//! All services share one origin here, so a client reuses one connection for Entra, Key Vault and
//! Defender where the real services (three hosts) need three: the connection count is a lower bound.

use axum::{
    Json, Router,
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// Round trips a new connection costs before its first request: TCP's handshake and TLS 1.3's.
pub const HANDSHAKE_ROUND_TRIPS: u32 = 2;

/// What a span of the timeline was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// A TCP connection accepted and its TLS handshake done (or failed).
    Connect,
    /// One HTTP request, from its arrival to its response.
    Request,
}

impl SpanKind {
    /// The round trips the span stands for.
    pub fn round_trips(self) -> u32 {
        match self {
            Self::Connect => HANDSHAKE_ROUND_TRIPS,
            Self::Request => 1,
        }
    }
}

/// One connection or request, with when it arrived and when it was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Connection or request.
    pub kind: SpanKind,
    /// The request's method (empty for a connection).
    pub method: String,
    /// The request's path (empty for a connection).
    pub path: String,
    /// The response's status (0 for a connection).
    pub status: u16,
    /// Arrival, µs since the Unix epoch (before any injected delay).
    pub arrived_us: u64,
    /// Completion, µs since the Unix epoch (the response handed to the connection, or the handshake done).
    pub completed_us: u64,
}

/// The injected latency and the timeline, shared by the server loop and the middleware.
#[derive(Debug, Default)]
pub struct Wire {
    latency_us: AtomicU64,
    timeline: Mutex<Vec<Span>>,
}

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)).unwrap_or(0)
}

impl Wire {
    /// A wire with this latency per round trip.
    pub fn new(latency: Duration) -> Self {
        let w = Self::default();
        w.set_latency(latency);
        w
    }

    /// The latency per round trip.
    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    /// Sets the latency per round trip (zero: none).
    pub fn set_latency(&self, latency: Duration) {
        self.latency_us.store(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The timeline so far.
    pub fn timeline(&self) -> Vec<Span> {
        crate::state::lock(&self.timeline).clone()
    }

    /// Empties the timeline.
    pub fn clear(&self) {
        crate::state::lock(&self.timeline).clear();
    }

    fn record(&self, span: Span) {
        crate::state::lock(&self.timeline).push(span);
    }

    /// Waits the handshake's round trips, runs `handshake`, and records the connection.
    pub(crate) async fn connect<T>(&self, handshake: impl Future<Output = T>) -> T {
        let arrived_us = now_us();
        let latency = self.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency * HANDSHAKE_ROUND_TRIPS).await;
        }
        let out = handshake.await;
        self.record(Span {
            kind: SpanKind::Connect,
            method: String::new(),
            path: String::new(),
            status: 0,
            arrived_us,
            completed_us: now_us(),
        });
        out
    }
}

/// The middleware: one round trip of latency before the request is served, and its span recorded.
pub(crate) async fn delay(State(wire): State<Arc<Wire>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_sim/") {
        return next.run(req).await;
    }
    let arrived_us = now_us();
    let method = req.method().to_string();
    let latency = wire.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let resp = next.run(req).await;
    wire.record(Span {
        kind: SpanKind::Request,
        method,
        path,
        status: resp.status().as_u16(),
        arrived_us,
        completed_us: now_us(),
    });
    resp
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetLatency {
    ms: u64,
}

/// `GET`/`DELETE /_sim/timeline`, `GET`/`POST /_sim/latency`.
pub(crate) fn control_routes(wire: Arc<Wire>) -> Router {
    Router::new()
        .route(
            "/_sim/timeline",
            get(|State(w): State<Arc<Wire>>| async move {
                let latency_ms = w.latency().as_secs_f64() * 1e3;
                let spans = w.timeline();
                let rt = round_trips(&spans, None);
                Json(serde_json::json!({"latency_ms": latency_ms, "round_trips": rt, "value": spans}))
            })
            .delete(|State(w): State<Arc<Wire>>| async move {
                w.clear();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/_sim/latency",
            post(|State(w): State<Arc<Wire>>, Json(body): Json<SetLatency>| async move {
                w.set_latency(Duration::from_millis(body.ms));
                StatusCode::NO_CONTENT.into_response()
            })
            .get(|State(w): State<Arc<Wire>>| async move {
                Json(serde_json::json!({"ms": w.latency().as_secs_f64() * 1e3}))
            }),
        )
        .with_state(wire)
}

/// The sequential round trips of a timeline (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundTrips {
    /// The heaviest chain, a connection weighing [`HANDSHAKE_ROUND_TRIPS`] and a request 1.
    pub total: u32,
    /// The longest chain of requests alone (connections left out).
    pub requests: u32,
    /// Requests counted.
    pub request_count: usize,
    /// Connections counted.
    pub connection_count: usize,
}

/// Counts the sequential round trips among the spans that completed by `until_us` (all: `None`) — e.g.
/// the client's first answer, so work that finished after it (or ran beside it) is not on its path.
pub fn round_trips(spans: &[Span], until_us: Option<u64>) -> RoundTrips {
    let mut done: Vec<&Span> = spans.iter().filter(|s| until_us.is_none_or(|u| s.completed_us <= u)).collect();
    done.sort_by_key(|s| (s.arrived_us, s.completed_us));
    let heaviest = |weight: &dyn Fn(&Span) -> u32| -> u32 {
        // best[i]: the heaviest chain ending with done[i]. Spans are sorted by arrival, so every span
        // a chain can end with before done[i] (completed by its arrival) comes earlier in the order.
        let mut best: Vec<u32> = Vec::with_capacity(done.len());
        for (i, s) in done.iter().enumerate() {
            let before = (0..i).filter(|&j| done[j].completed_us <= s.arrived_us).map(|j| best[j]).max().unwrap_or(0);
            best.push(before + weight(s));
        }
        best.into_iter().max().unwrap_or(0)
    };
    RoundTrips {
        total: heaviest(&|s| s.kind.round_trips()),
        requests: heaviest(&|s| u32::from(s.kind == SpanKind::Request)),
        request_count: done.iter().filter(|s| s.kind == SpanKind::Request).count(),
        connection_count: done.iter().filter(|s| s.kind == SpanKind::Connect).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(arrived_us: u64, completed_us: u64) -> Span {
        Span { kind: SpanKind::Request, method: "GET".into(), path: "/x".into(), status: 200, arrived_us, completed_us }
    }

    fn conn(arrived_us: u64, completed_us: u64) -> Span {
        Span {
            kind: SpanKind::Connect,
            method: String::new(),
            path: String::new(),
            status: 0,
            arrived_us,
            completed_us,
        }
    }

    #[test]
    fn sequential_requests_chain_and_concurrent_ones_count_once() {
        // Three one after another.
        let seq = [req(0, 10), req(12, 20), req(20, 30)];
        assert_eq!(round_trips(&seq, None).requests, 3);
        // Three at once, then one that waited for them: two round trips.
        let par = [req(0, 10), req(1, 11), req(2, 9), req(11, 20)];
        let rt = round_trips(&par, None);
        assert_eq!((rt.requests, rt.total, rt.request_count), (2, 2, 4));
        // Overlapping by a microsecond: they could not have waited for each other.
        assert_eq!(round_trips(&[req(0, 10), req(9, 20)], None).requests, 1);
        assert_eq!(round_trips(&[], None), RoundTrips::default());
    }

    #[test]
    fn the_heaviest_chain_wins_whatever_the_order_of_the_log() {
        // A long chain beside a short one, logged in completion order rather than arrival order.
        let spans = [req(30, 40), req(0, 50), req(0, 10), req(15, 25), req(55, 60)];
        // 0-10 → 15-25 → 30-40 → 55-60 is four; 0-50 → 55-60 only two.
        assert_eq!(round_trips(&spans, None).requests, 4);
    }

    #[test]
    fn a_new_connection_weighs_two_round_trips_and_chains_with_its_requests() {
        let spans = [conn(0, 20), req(21, 30), req(31, 40), conn(31, 50), req(51, 60)];
        let rt = round_trips(&spans, None);
        // conn → req → conn → req: 2 + 1 + 2 + 1 = 6; requests alone: 21-30 → 31-40 → 51-60, three.
        assert_eq!(rt.total, 6);
        assert_eq!(rt.requests, 3);
        assert_eq!((rt.request_count, rt.connection_count), (3, 2));
    }

    #[test]
    fn only_spans_done_by_the_cut_off_count() {
        let spans = [req(0, 10), req(10, 20), req(20, 30), req(5, 100)];
        assert_eq!(round_trips(&spans, Some(20)).requests, 2);
        assert_eq!(round_trips(&spans, Some(20)).request_count, 2);
        assert_eq!(round_trips(&spans, Some(99)).requests, 3);
    }
}
