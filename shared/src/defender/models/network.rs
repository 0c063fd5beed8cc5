//! MDE IP and domain statistics (`/api/ips/{ip}/stats`, `/api/domains/{domain}/stats`).

use super::{Extra, Timestamp};
use serde::{Deserialize, Serialize};

/// IP statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpStats {
    /// The address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Devices in the organisation that talked to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_prevalence: Option<i64>,
    /// First seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_first_seen: Option<Timestamp>,
    /// Last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_last_seen: Option<Timestamp>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: super::Extra,
}

/// Domain statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainStats {
    /// The domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Devices in the organisation that reached it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_prevalence: Option<i64>,
    /// First seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_first_seen: Option<Timestamp>,
    /// Last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_last_seen: Option<Timestamp>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}
