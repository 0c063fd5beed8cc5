//! MDE domains: statistics, related alerts and machines.

use super::{files::look_back, get, get_with, seg};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
        models::{ODataList, alerts::Alert, machines::Machine, network::DomainStats},
    },
    ids::{DomainName, TenantName},
};

fn domain_path(d: &DomainName, tail: &str) -> String {
    format!("/api/domains/{}{tail}", seg(d.as_str()))
}

/// `GET /api/domains/{domain}/stats[?lookBackHours=N]` (N capped at 720).
pub fn stats_call(d: &DomainName, look_back_hours: Option<u32>) -> Call {
    get_with(Endpoint::MdeDomainsStats, domain_path(d, "/stats"), look_back(look_back_hours))
}
/// `GET /api/domains/{domain}/alerts`.
pub fn alerts_call(d: &DomainName) -> Call {
    get(Endpoint::MdeDomainsAlerts, domain_path(d, "/alerts"))
}
/// `GET /api/domains/{domain}/machines` (at most 500 devices).
pub fn machines_call(d: &DomainName) -> Call {
    get(Endpoint::MdeDomainsMachines, domain_path(d, "/machines"))
}

impl<T: TokenSource> DefenderClient<T> {
    /// A domain's organisation statistics.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn domain_stats(
        &self,
        tenant: &TenantName,
        domain: &DomainName,
        look_back_hours: Option<u32>,
        deadline: Deadline,
    ) -> Result<DomainStats, DefenderError> {
        self.call(tenant, stats_call(domain, look_back_hours), deadline).await
    }

    /// Alerts related to a domain.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn domain_alerts(
        &self,
        tenant: &TenantName,
        domain: &DomainName,
        deadline: Deadline,
    ) -> Result<ODataList<Alert>, DefenderError> {
        self.call(tenant, alerts_call(domain), deadline).await
    }

    /// Machines that reached a domain.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn domain_machines(
        &self,
        tenant: &TenantName,
        domain: &DomainName,
        deadline: Deadline,
    ) -> Result<ODataList<Machine>, DefenderError> {
        self.call(tenant, machines_call(domain), deadline).await
    }
}
