//! SOC pipeline events: what the functions tell an EventBridge bus of the user's choice
//! (`EVENT_BUS`, a name or an ARN; unset or empty: nothing is published).
//!
//! Three detail-types, each with a JSON Schema in `docs/events/` (source [`SOURCE`]):
//! [`DetailType::EnrichmentVerdict`] (webhook-enrich, verdicts at or above a severity),
//! [`DetailType::MachineActionOutcome`] (chat-ops worker, an action's terminal state) and
//! [`DetailType::ExportRunSummary`] (scheduled-export, one per tenant and stream of a run).
//!
//! # What publishing may and may not do
//! Publishing is a side channel: the product's own work (an answer, an action, an export) is done and
//! committed before anything is published, and a failed publish never fails, retries or repeats that
//! work. [`Publisher::publish`] is bounded by its timeout, logs a failure (the detail-type and the
//! error, never the detail) and counts it ([`Publisher::failures`]); it returns what happened for the
//! caller's metrics.
//!
//! # Delivery guarantee: best effort, deduplicated by `event_id`
//! Neither at-least-once nor exactly-once. An event can be **lost**: nothing is kept to publish it
//! again later (an outbox would need a store and a retry loop per function), and making the
//! invocation fail so that Lambda or SQS retries it would repeat the product's work, which must not
//! happen for a publish. An event can be **duplicated**: the SDK retries a call whose answer was lost,
//! EventBridge delivers to its targets at least once, and a redelivered job or retried webhook that
//! reaches the same outcome again publishes it again. Every detail therefore carries a deterministic
//! `event_id` (the same outcome gives the same id), which consumers dedupe on.
//!
//! The publisher is generic over [`EventSink`] so the cores are tested with an in-memory sink;
//! [`EventBridgeSink`] (feature `aws-events`) is the production one.

use async_trait::async_trait;
use serde::Serialize;
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// The `source` of every event.
pub const SOURCE: &str = "defender-functions";

/// The detail schema's version, in every detail as `schema_version`; a breaking change bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// EventBridge's documented maximum of entries per `PutEvents` call.
pub const MAX_ENTRIES: usize = 10;

/// The default bound of one publish (all its calls).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The kinds of events, each with its schema in `docs/events/<schema_file>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum DetailType {
    /// An enrichment whose highest related-alert severity is at or above the configured one.
    EnrichmentVerdict,
    /// A machine action run from chat-ops reached a terminal state in Defender.
    MachineActionOutcome,
    /// One tenant and stream of an export run: what it wrote and how it ended.
    ExportRunSummary,
}

impl DetailType {
    /// Every detail-type.
    pub const ALL: [DetailType; 3] =
        [DetailType::EnrichmentVerdict, DetailType::MachineActionOutcome, DetailType::ExportRunSummary];

    /// The `detail-type` on the bus (what a rule matches).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EnrichmentVerdict => "Enrichment Verdict",
            Self::MachineActionOutcome => "Machine Action Outcome",
            Self::ExportRunSummary => "Export Run Summary",
        }
    }

    /// The schema's file name under `docs/events/`.
    pub fn schema_file(self) -> &'static str {
        match self {
            Self::EnrichmentVerdict => "enrichment-verdict.schema.json",
            Self::MachineActionOutcome => "machine-action-outcome.schema.json",
            Self::ExportRunSummary => "export-run-summary.schema.json",
        }
    }
}

/// One event: its detail-type and its detail (a JSON object).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What it is.
    pub detail_type: DetailType,
    /// The detail, as documented by the detail-type's schema.
    pub detail: serde_json::Value,
}

impl Event {
    /// An event of `detail_type` with `detail` serialised (a detail that does not serialise to a
    /// JSON object is an error of ours, reported as such).
    ///
    /// # Errors
    /// [`EventsError::Detail`].
    pub fn new(detail_type: DetailType, detail: &impl Serialize) -> Result<Self, EventsError> {
        match serde_json::to_value(detail) {
            Ok(v @ serde_json::Value::Object(_)) => Ok(Self { detail_type, detail: v }),
            Ok(_) => Err(EventsError::Detail { detail_type: detail_type.as_str(), reason: "not an object".into() }),
            Err(e) => Err(EventsError::Detail { detail_type: detail_type.as_str(), reason: e.to_string() }),
        }
    }
}

/// A publish failed (logged and counted by the [`Publisher`]; never the caller's failure).
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The bus refused some entries (`FailedEntryCount` > 0).
    #[error("the bus refused {failed} of {total} entries (first error: {code})")]
    Rejected {
        /// Entries refused.
        failed: usize,
        /// Entries sent.
        total: usize,
        /// The first refused entry's error code.
        code: String,
    },
    /// The call failed (network, permissions, throttling after the SDK's retries).
    #[error("PutEvents failed")]
    Call(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The publish did not finish within its bound.
    #[error("PutEvents did not complete within {0:?}")]
    Timeout(Duration),
    /// A detail could not be built.
    #[error("the {detail_type} detail could not be serialised: {reason}")]
    Detail {
        /// The detail-type.
        detail_type: &'static str,
        /// Why.
        reason: String,
    },
}

/// Where events go: one `PutEvents` call of at most [`MAX_ENTRIES`] entries.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Sends `events` (at most [`MAX_ENTRIES`]).
    ///
    /// # Errors
    /// The call failed or some entries were refused.
    async fn put(&self, events: &[Event]) -> Result<(), EventsError>;
}

/// What a [`Publisher::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// No bus configured: nothing was sent.
    Off,
    /// Nothing to send.
    Nothing,
    /// Every event was accepted by the bus.
    Sent(usize),
    /// Some or all were not (logged and counted).
    Failed,
}

/// Publishes events without ever failing its caller (see the module docs).
pub struct Publisher {
    sink: Option<Arc<dyn EventSink>>,
    timeout: Duration,
    sent: AtomicU64,
    failures: AtomicU64,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("on", &self.sink.is_some())
            .field("timeout", &self.timeout)
            .field("failures", &self.failures())
            .finish()
    }
}

impl Default for Publisher {
    fn default() -> Self {
        Self::off()
    }
}

impl Publisher {
    /// Publishes nothing (no bus configured).
    pub fn off() -> Self {
        Self { sink: None, timeout: DEFAULT_TIMEOUT, sent: AtomicU64::new(0), failures: AtomicU64::new(0) }
    }

    /// Publishes to `sink`, each [`Publisher::publish`] bounded by `timeout`.
    pub fn new(sink: Arc<dyn EventSink>, timeout: Duration) -> Self {
        Self { sink: Some(sink), timeout, sent: AtomicU64::new(0), failures: AtomicU64::new(0) }
    }

    /// Whether a bus is configured.
    pub fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    /// Publishes failed so far (each failed call, timeout or refused batch once).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Events accepted by the bus so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends `events` in batches of [`MAX_ENTRIES`], all within the timeout (or `bound`, when
    /// shorter: the caller's own deadline). Never fails: a failure is logged and counted.
    pub async fn publish(&self, events: Vec<Event>, bound: Option<Duration>) -> Published {
        let Some(sink) = &self.sink else { return Published::Off };
        if events.is_empty() {
            return Published::Nothing;
        }
        let limit = bound.map_or(self.timeout, |b| b.min(self.timeout));
        let all = async {
            let mut sent = 0usize;
            let mut failed = None;
            for batch in events.chunks(MAX_ENTRIES) {
                match sink.put(batch).await {
                    Ok(()) => sent += batch.len(),
                    Err(e) => {
                        failed.get_or_insert((batch[0].detail_type, e));
                    }
                }
            }
            (sent, failed)
        };
        let (sent, failed) = match tokio::time::timeout(limit, all).await {
            Ok(r) => r,
            Err(_) => (0, Some((events[0].detail_type, EventsError::Timeout(limit)))),
        };
        self.sent.fetch_add(sent as u64, Ordering::Relaxed);
        match failed {
            None => Published::Sent(sent),
            Some((detail_type, e)) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(detail_type = detail_type.as_str(), events = events.len(), sent,
                    error = %crate::errors::chain(&e), "events not published (the product's work is unaffected)");
                Published::Failed
            }
        }
    }
}

/// An in-memory sink (tests, `make run`): keeps what it was given; can be told to fail.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<Event>>,
    fail: std::sync::atomic::AtomicBool,
    delay: Mutex<Option<Duration>>,
}

impl MemorySink {
    /// Every event put so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// From now on every put fails (`true`) or succeeds.
    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::Relaxed);
    }

    /// From now on every put takes `delay` first.
    pub fn set_delay(&self, delay: Option<Duration>) {
        if let Ok(mut d) = self.delay.lock() {
            *d = delay;
        }
    }
}

#[async_trait]
impl EventSink for MemorySink {
    async fn put(&self, events: &[Event]) -> Result<(), EventsError> {
        let delay = self.delay.lock().ok().and_then(|d| *d);
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if self.fail.load(Ordering::Relaxed) {
            return Err(EventsError::Rejected { failed: events.len(), total: events.len(), code: "Test".into() });
        }
        if let Ok(mut v) = self.events.lock() {
            v.extend_from_slice(events);
        }
        Ok(())
    }
}

/// The bus setting: `EVENT_BUS` (a bus name or ARN; unset or blank: off).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventsConfig {
    /// The bus, as given.
    pub bus: Option<String>,
}

impl EventsConfig {
    /// Reads `EVENT_BUS` through `lookup` (the functions' config readers pass theirs).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self { bus: lookup("EVENT_BUS").map(|b| b.trim().to_string()).filter(|b| !b.is_empty()) }
    }
}

#[cfg(feature = "aws-events")]
pub use eventbridge::EventBridgeSink;

#[cfg(feature = "aws-events")]
mod eventbridge {
    use super::{DEFAULT_TIMEOUT, Event, EventSink, EventsConfig, EventsError, Publisher, SOURCE};
    use async_trait::async_trait;
    use aws_sdk_eventbridge::types::PutEventsRequestEntry;
    use std::{sync::Arc, time::Duration};

    /// `PutEvents` on one bus (name or ARN) with the function's role.
    #[derive(Debug, Clone)]
    pub struct EventBridgeSink {
        client: aws_sdk_eventbridge::Client,
        bus: String,
    }

    impl EventBridgeSink {
        /// A sink over `client` to `bus`.
        pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
            Self { client, bus: bus.into() }
        }

        /// A publisher to `bus` with the SDK's environment configuration (Lambda's role; the
        /// endpoint from `AWS_ENDPOINT_URL_EVENTBRIDGE` / `AWS_ENDPOINT_URL` locally), or
        /// [`Publisher::off`] without a bus.
        pub async fn publisher(bus: Option<&str>, timeout: Duration) -> Publisher {
            let Some(bus) = bus else { return Publisher::off() };
            let conf = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
            let client = aws_sdk_eventbridge::Client::new(&conf);
            Publisher::new(Arc::new(Self::new(client, bus)), timeout)
        }

        /// [`EventBridgeSink::publisher`] for the bus the environment names (`EVENT_BUS`; unset: off),
        /// with [`DEFAULT_TIMEOUT`].
        pub async fn publisher_from_env() -> Publisher {
            Self::publisher(EventsConfig::from_lookup(crate::config::env).bus.as_deref(), DEFAULT_TIMEOUT).await
        }
    }

    #[async_trait]
    impl EventSink for EventBridgeSink {
        async fn put(&self, events: &[Event]) -> Result<(), EventsError> {
            let entries = events
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(SOURCE)
                        .detail_type(e.detail_type.as_str())
                        .detail(e.detail.to_string())
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| EventsError::Call(Box::new(e)))?;
            let failed = usize::try_from(out.failed_entry_count()).unwrap_or(0);
            if failed > 0 {
                let code = out
                    .entries()
                    .iter()
                    .find_map(|e| e.error_code().map(str::to_string))
                    .unwrap_or_else(|| "unknown".into());
                return Err(EventsError::Rejected { failed, total: events.len(), code });
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(n: usize) -> Vec<Event> {
        (0..n).map(|i| Event { detail_type: DetailType::ExportRunSummary, detail: json!({"i": i}) }).collect()
    }

    #[tokio::test]
    async fn batches_of_ten_and_counts() {
        let sink = Arc::new(MemorySink::default());
        let p = Publisher::new(sink.clone(), DEFAULT_TIMEOUT);
        assert_eq!(p.publish(ev(23), None).await, Published::Sent(23));
        assert_eq!(sink.events().len(), 23);
        assert_eq!((p.sent(), p.failures()), (23, 0));
        assert_eq!(Publisher::off().publish(ev(1), None).await, Published::Off);
        assert_eq!(p.publish(Vec::new(), None).await, Published::Nothing);
    }

    #[tokio::test]
    async fn a_failing_bus_is_counted_never_raised() {
        let sink = Arc::new(MemorySink::default());
        sink.set_failing(true);
        let p = Publisher::new(sink.clone(), DEFAULT_TIMEOUT);
        assert_eq!(p.publish(ev(3), None).await, Published::Failed);
        assert_eq!((p.sent(), p.failures()), (0, 1));
    }

    #[tokio::test]
    async fn a_hanging_bus_is_cut_at_the_bound() {
        let sink = Arc::new(MemorySink::default());
        sink.set_delay(Some(Duration::from_secs(3600)));
        let p = Publisher::new(sink.clone(), DEFAULT_TIMEOUT);
        let start = tokio::time::Instant::now();
        assert_eq!(p.publish(ev(1), Some(Duration::from_millis(200))).await, Published::Failed);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < DEFAULT_TIMEOUT,
            "the caller's shorter bound wins: {took:?}"
        );
        assert_eq!(p.failures(), 1);
        assert!(sink.events().is_empty());
    }

    #[test]
    fn the_bus_setting() {
        assert_eq!(EventsConfig::from_lookup(|_| None).bus, None);
        assert_eq!(EventsConfig::from_lookup(|_| Some("  ".into())).bus, None);
        assert_eq!(EventsConfig::from_lookup(|_| Some("soc".into())).bus.as_deref(), Some("soc"));
    }
}
