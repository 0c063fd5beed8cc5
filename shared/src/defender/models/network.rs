//! MDE IP and domain statistics (`/api/ips/{ip}/stats`, `/api/domains/{domain}/stats`).

use super::{Timestamp, model};
use serde::{Deserialize, Serialize};

/// IP statistics.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpStats {
    /// The address.
    pub ip_address: Option<String>,
    /// Devices in the organisation that talked to it.
    pub organization_prevalence: Option<i64>,
    /// First seen.
    pub org_first_seen: Option<Timestamp>,
    /// Last seen.
    pub org_last_seen: Option<Timestamp>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: super::Extra,
}

model! {
    /// Domain statistics.
    pub struct DomainStats {
        /// The domain.
        pub host: Option<String>,
        /// Devices in the organisation that reached it.
        pub organization_prevalence: Option<i64>,
        /// First seen.
        pub org_first_seen: Option<Timestamp>,
        /// Last seen.
        pub org_last_seen: Option<Timestamp>,
    }
}
