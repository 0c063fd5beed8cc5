//! MDE IPs: statistics and related alerts.

use super::files::look_back;
use crate::defender::{
    DefenderClient,
    models::{ODataList, alerts::Alert, network::IpStats},
};
use std::net::IpAddr;

calls! {
    /// An IP's organisation statistics.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call ip_stats(ip: IpAddr, look_back_hours: Option<u32>) -> IpStats =
        /// With `lookBackHours=N` when given (N capped at 720).
        stats_call: with_query(MdeIpsStats, &[&ip], look_back(look_back_hours));
    /// Alerts related to an IP.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call ip_alerts(ip: IpAddr) -> ODataList<Alert> = alerts_call: request(MdeIpsAlerts, &[&ip]);
}
