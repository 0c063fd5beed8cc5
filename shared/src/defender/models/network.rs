//! MDE IP and domain statistics (`/api/ips/{ip}/stats`, `/api/domains/{domain}/stats`).

use super::model;

model! {
    /// IP statistics.
    pub struct IpStats {
        /// The address.
        pub ip_address: Option<String>,
        ..in_org_stats,
    }
}

model! {
    /// Domain statistics.
    pub struct DomainStats {
        /// The domain.
        pub host: Option<String>,
        ..in_org_stats,
    }
}
