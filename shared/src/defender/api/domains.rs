//! MDE domains: statistics, related alerts and machines.

use super::files::look_back;
use crate::{
    defender::{
        DefenderClient,
        models::{ODataList, alerts::Alert, machines::Machine, network::DomainStats},
    },
    ids::DomainName,
};

calls! {
    /// A domain's organisation statistics.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call domain_stats(d: &DomainName, look_back_hours: Option<u32>) -> DomainStats =
        /// With `lookBackHours=N` when given (N capped at 720).
        stats_call: with_query(MdeDomainsStats, &[d], look_back(look_back_hours));
    /// Alerts related to a domain.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call domain_alerts(d: &DomainName) -> ODataList<Alert> = alerts_call: request(MdeDomainsAlerts, &[d]);
    /// Machines that reached a domain.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call domain_machines(d: &DomainName) -> ODataList<Machine> =
        /// At most 500 devices.
        machines_call: request(MdeDomainsMachines, &[d]);
}
