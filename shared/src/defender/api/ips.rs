//! MDE IPs: statistics and related alerts.

use super::{files::look_back, get, get_with, seg};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
        models::{ODataList, alerts::Alert, network::IpStats},
    },
    ids::TenantName,
};
use std::net::IpAddr;

fn ip_path(ip: IpAddr, tail: &str) -> String {
    format!("/api/ips/{}{tail}", seg(&ip.to_string()))
}

/// `GET /api/ips/{ip}/stats[?lookBackHours=N]` (N capped at 720).
pub fn stats_call(ip: IpAddr, look_back_hours: Option<u32>) -> Call {
    get_with(Endpoint::MdeIpsStats, ip_path(ip, "/stats"), look_back(look_back_hours))
}
/// `GET /api/ips/{ip}/alerts`.
pub fn alerts_call(ip: IpAddr) -> Call {
    get(Endpoint::MdeIpsAlerts, ip_path(ip, "/alerts"))
}

impl<T: TokenSource> DefenderClient<T> {
    /// An IP's organisation statistics.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn ip_stats(
        &self,
        tenant: &TenantName,
        ip: IpAddr,
        look_back_hours: Option<u32>,
        deadline: Deadline,
    ) -> Result<IpStats, DefenderError> {
        self.call(tenant, stats_call(ip, look_back_hours), deadline).await
    }

    /// Alerts related to an IP.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn ip_alerts(
        &self,
        tenant: &TenantName,
        ip: IpAddr,
        deadline: Deadline,
    ) -> Result<ODataList<Alert>, DefenderError> {
        self.call(tenant, alerts_call(ip), deadline).await
    }
}
