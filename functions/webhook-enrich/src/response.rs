//! The response document (see `infra/openapi.yaml`): one result per requested item with a `status`
//! (`found`, `not_found`, `invalid`, `error` + `reason`) and what Defender knows, plus a summary.

use crate::request::Kind;
use serde::{Deserialize, Serialize};

/// Status of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Defender knows something about it.
    Found,
    /// Defender knows nothing about it.
    NotFound,
    /// The value is not a valid indicator of its kind (never queried).
    Invalid,
    /// A lookup failed (throttled past the deadline, service error); the reason says which.
    Error,
}

/// A machine, as the enrichment reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineFacts {
    /// MDE machine id.
    pub id: String,
    /// DNS name.
    pub computer_dns_name: Option<String>,
    /// OS platform.
    pub os_platform: Option<String>,
    /// Health status.
    pub health_status: Option<String>,
    /// Risk score.
    pub risk_score: Option<String>,
    /// Exposure level.
    pub exposure_level: Option<String>,
    /// Last seen.
    pub last_seen: Option<String>,
    /// Last internal IP.
    pub last_ip_address: Option<String>,
    /// Users seen logged on (account names).
    #[serde(default)]
    pub logged_on_users: Vec<String>,
}

/// An alert, as the enrichment reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertFacts {
    /// Alert id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Severity (`Informational`, `Low`, `Medium`, `High`).
    pub severity: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Machine it fired on.
    pub machine_id: Option<String>,
    /// XDR incident.
    pub incident_id: Option<u64>,
    /// Creation time.
    pub created: Option<String>,
}

/// File facts (info and organisation prevalence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    /// SHA-1.
    pub sha1: Option<String>,
    /// SHA-256.
    pub sha256: Option<String>,
    /// File type.
    pub file_type: Option<String>,
    /// Signer.
    pub signer: Option<String>,
    /// Whether the signature is valid.
    pub is_valid_certificate: Option<bool>,
    /// Global prevalence.
    pub global_prevalence: Option<i64>,
    /// Machines in the organisation that saw it.
    pub organization_prevalence: Option<i64>,
    /// First seen in the organisation.
    pub org_first_seen: Option<String>,
    /// Last seen in the organisation.
    pub org_last_seen: Option<String>,
}

/// Organisation prevalence of an IP or a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prevalence {
    /// Machines in the organisation that communicated with it.
    pub organization_prevalence: i64,
    /// First seen.
    pub org_first_seen: Option<String>,
    /// Last seen.
    pub org_last_seen: Option<String>,
}

/// One item's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// Indicator kind.
    pub kind: Kind,
    /// The value as received.
    pub input: String,
    /// The normalised value that was looked up (absent when invalid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `request` or the JSON path it was extracted from.
    pub source: String,
    /// Outcome.
    pub status: Status,
    /// Why `invalid` or `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Machines related to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machines: Vec<MachineFacts>,
    /// Alerts related to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertFacts>,
    /// File facts (hashes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileFacts>,
    /// Organisation prevalence (IPs, domains, URLs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prevalence: Option<Prevalence>,
    /// Results of the configured allow-listed hunting queries for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hunting: Vec<HuntingFacts>,
}

/// One allow-listed hunting query's answer for an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HuntingFacts {
    /// The query's name.
    pub query: String,
    /// Its rows (`DeviceName`, `count_`), or absent when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<serde_json::Value>>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Counts of items per status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Found.
    pub found: usize,
    /// Not found.
    pub not_found: usize,
    /// Invalid.
    pub invalid: usize,
    /// Error.
    pub error: usize,
}

/// The verdict over the whole request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Highest severity among related alerts (`null` when none).
    pub highest_alert_severity: Option<String>,
    /// Distinct related alerts.
    pub alerts: usize,
    /// Distinct affected machines (machines with a related alert or the indicator on them).
    pub affected_machines: usize,
    /// Items per status.
    pub items: Counts,
    /// Whether every lookup completed (`false` when any item is `error`).
    pub complete: bool,
}

/// The response document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichResponse {
    /// The tenant asked.
    pub tenant: String,
    /// One result per distinct item, in request order.
    pub results: Vec<ItemResult>,
    /// The verdict.
    pub summary: Summary,
    /// Whether the configured callback got the document too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackDelivery>,
}

/// The outcome of POSTing the result to the configured callback URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackDelivery {
    /// Whether the callback answered 2xx.
    pub delivered: bool,
    /// Its HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it was not delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Ranks Defender severities; unknown values rank lowest.
pub fn severity_rank(s: &str) -> u8 {
    match s.to_ascii_lowercase().as_str() {
        "high" => 4,
        "medium" => 3,
        "low" => 2,
        "informational" => 1,
        _ => 0,
    }
}

impl Summary {
    /// Computes the summary from the results.
    pub fn of(results: &[ItemResult]) -> Self {
        let mut counts = Counts::default();
        let mut alerts = std::collections::BTreeSet::new();
        let mut machines = std::collections::BTreeSet::new();
        let mut highest: Option<String> = None;
        for r in results {
            match r.status {
                Status::Found => counts.found += 1,
                Status::NotFound => counts.not_found += 1,
                Status::Invalid => counts.invalid += 1,
                Status::Error => counts.error += 1,
            }
            for a in &r.alerts {
                alerts.insert(a.id.clone());
                if let Some(m) = &a.machine_id {
                    machines.insert(m.clone());
                }
                if let Some(sev) = &a.severity
                    && highest.as_deref().is_none_or(|h| severity_rank(sev) > severity_rank(h))
                {
                    highest = Some(sev.clone());
                }
            }
            for m in &r.machines {
                machines.insert(m.id.clone());
            }
        }
        Self {
            highest_alert_severity: highest,
            alerts: alerts.len(),
            affected_machines: machines.len(),
            complete: counts.error == 0,
            items: counts,
        }
    }
}
