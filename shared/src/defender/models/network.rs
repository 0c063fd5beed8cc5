//! MDE IP and domain statistics (`/api/ips/{ip}/stats`, `/api/domains/{domain}/stats`).

use super::{Timestamp, model};

model! {
    /// IP statistics.
    pub struct IpStats {
        /// The address.
        pub ip_address: Option<String>,
        /// Devices in the organisation that talked to it.
        pub organization_prevalence: Option<i64>,
        /// First seen.
        pub org_first_seen: Option<Timestamp>,
        /// Last seen.
        pub org_last_seen: Option<Timestamp>,
    }
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
