//! MDE IPs: statistics and related alerts.

use super::{files::look_back, request, with_query};
use crate::defender::{
    Call, DefenderClient, Endpoint,
    models::{ODataList, alerts::Alert, network::IpStats},
};
use std::net::IpAddr;

calls! {
    /// `GET /api/ips/{ip}/stats[?lookBackHours=N]` (N capped at 720).
    fn stats_call(ip: IpAddr, look_back_hours: Option<u32>) -> Call
        = with_query(Endpoint::MdeIpsStats, &[&ip], look_back(look_back_hours));
    /// An IP's organisation statistics.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call ip_stats -> IpStats;
    /// `GET /api/ips/{ip}/alerts`.
    fn alerts_call(ip: IpAddr) -> Call = request(Endpoint::MdeIpsAlerts, &[&ip]);
    /// Alerts related to an IP.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call ip_alerts -> ODataList<Alert>;
}
