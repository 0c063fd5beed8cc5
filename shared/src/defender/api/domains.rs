//! MDE domains: statistics, related alerts and machines.

use super::{files::look_back, request, with_query};
use crate::{
    defender::{
        Call, DefenderClient, Endpoint,
        models::{ODataList, alerts::Alert, machines::Machine, network::DomainStats},
    },
    ids::DomainName,
};

calls! {
    /// `GET /api/domains/{domain}/stats[?lookBackHours=N]` (N capped at 720).
    fn stats_call(d: &DomainName, look_back_hours: Option<u32>) -> Call
        = with_query(Endpoint::MdeDomainsStats, &[d], look_back(look_back_hours));
    /// A domain's organisation statistics.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call domain_stats -> DomainStats;
    /// `GET /api/domains/{domain}/alerts`.
    fn alerts_call(d: &DomainName) -> Call = request(Endpoint::MdeDomainsAlerts, &[d]);
    /// Alerts related to a domain.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call domain_alerts -> ODataList<Alert>;
    /// `GET /api/domains/{domain}/machines` (at most 500 devices).
    fn machines_call(d: &DomainName) -> Call = request(Endpoint::MdeDomainsMachines, &[d]);
    /// Machines that reached a domain.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call domain_machines -> ODataList<Machine>;
}
