//! The enrichment's SOC event: a verdict whose highest related-alert severity is at or above the
//! configured one (`ENRICH_EVENT_MIN_SEVERITY`, default `High`) is published as an `Enrichment
//! Verdict` (schema `docs/events/enrichment-verdict.schema.json`) after the answer is built; best
//! effort and bounded by the request's own deadline (`defender_shared::events`).

use crate::response::{Counts, EnrichResponse, Status, severity_rank};
use defender_shared::events::{DetailType, Event, EventsError, Publisher, SCHEMA_VERSION};
use serde::Serialize;
use std::sync::Arc;

/// At most this many indicators (and alert ids per indicator) in one event: the entry stays far
/// below EventBridge's 256 KB, whatever the request held; `truncated` says when some were left out.
pub const MAX_LISTED: usize = 50;

/// Where verdicts go and which ones.
#[derive(Debug, Clone)]
pub struct VerdictEvents {
    /// The publisher (off: nothing is published).
    pub publisher: Arc<Publisher>,
    /// The lowest severity published (`Informational`, `Low`, `Medium`, `High`).
    pub min_severity: String,
}

impl Default for VerdictEvents {
    fn default() -> Self {
        Self { publisher: Arc::default(), min_severity: "High".into() }
    }
}

/// `ENRICH_EVENT_MIN_SEVERITY`: one of Defender's severities (case-insensitive; default `High`).
///
/// # Errors
/// Another value (the message names the variable).
pub fn min_severity(raw: Option<String>) -> Result<String, String> {
    let Some(v) = raw.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else { return Ok("High".into()) };
    ["Informational", "Low", "Medium", "High"]
        .into_iter()
        .find(|s| s.eq_ignore_ascii_case(&v))
        .map(str::to_string)
        .ok_or_else(|| format!("ENRICH_EVENT_MIN_SEVERITY: '{v}' is not Informational, Low, Medium or High"))
}

/// One indicator of the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictIndicator {
    /// Its kind (`sha256`, `ip`, `hostname`, ...).
    pub kind: String,
    /// The normalised value looked up.
    pub value: String,
    /// Related alert ids (at most [`MAX_LISTED`]).
    pub alert_ids: Vec<String>,
    /// Its highest related-alert severity.
    pub highest_alert_severity: Option<String>,
}

/// The detail of an `Enrichment Verdict` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnrichmentVerdict {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `<sender>/<webhook-id>`: a retried delivery of the same webhook has the same id (dedupe on it).
    pub event_id: String,
    /// The tenant asked.
    pub tenant: String,
    /// The webhook sender (its configured name).
    pub sender: String,
    /// The inbound `webhook-id` (absent for schemes without one).
    pub webhook_id: Option<String>,
    /// The verdict's highest related-alert severity.
    pub highest_alert_severity: String,
    /// The configured threshold it met.
    pub min_severity: String,
    /// Distinct related alerts.
    pub alerts: usize,
    /// Distinct affected machines.
    pub affected_machines: usize,
    /// Items per status.
    pub items: Counts,
    /// Whether every lookup completed.
    pub complete: bool,
    /// The indicators found with related alerts (at most [`MAX_LISTED`]).
    pub indicators: Vec<VerdictIndicator>,
    /// Some indicators or alert ids were left out ([`MAX_LISTED`]).
    pub truncated: bool,
}

/// The event for `out`, when its highest related-alert severity is at or above `min`; `None`
/// otherwise (no alert, or a lower severity).
///
/// # Errors
/// [`EventsError::Detail`] (only if serialisation failed).
pub fn verdict(
    out: &EnrichResponse,
    sender: &str,
    webhook_id: Option<&str>,
    min: &str,
) -> Result<Option<Event>, EventsError> {
    let Some(highest) = out.summary.highest_alert_severity.as_deref() else { return Ok(None) };
    if severity_rank(highest) < severity_rank(min) {
        return Ok(None);
    }
    let mut truncated = false;
    let mut indicators = Vec::new();
    for r in out.results.iter().filter(|r| r.status == Status::Found && !r.alerts.is_empty()) {
        if indicators.len() == MAX_LISTED {
            truncated = true;
            break;
        }
        truncated |= r.alerts.len() > MAX_LISTED;
        let highest = r.alerts.iter().filter_map(|a| a.severity.as_deref()).max_by_key(|s| severity_rank(s));
        indicators.push(VerdictIndicator {
            kind: serde_json::to_value(r.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            value: r.value.clone().unwrap_or_else(|| r.input.clone()),
            alert_ids: r.alerts.iter().take(MAX_LISTED).map(|a| a.id.clone()).collect(),
            highest_alert_severity: highest.map(str::to_string),
        });
    }
    let detail = EnrichmentVerdict {
        schema_version: SCHEMA_VERSION,
        event_id: format!("{sender}/{}", webhook_id.unwrap_or("-")),
        tenant: out.tenant.clone(),
        sender: sender.to_string(),
        webhook_id: webhook_id.map(str::to_string),
        highest_alert_severity: highest.to_string(),
        min_severity: min.to_string(),
        alerts: out.summary.alerts,
        affected_machines: out.summary.affected_machines,
        items: out.summary.items.clone(),
        complete: out.summary.complete,
        indicators,
        truncated,
    };
    Event::new(DetailType::EnrichmentVerdict, &detail).map(Some)
}
