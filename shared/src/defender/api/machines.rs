//! MDE machines: list, get, find by IP or tag, logon users, alerts, software, vulnerabilities, tags,
//! and the response actions (isolate, scan, restrict, collect, stop and quarantine, offboard, live
//! response), each answering a [`MachineAction`].

use super::{ListQuery, MDE_MAX_PAGE};
use crate::{
    auth::TokenSource,
    defender::{
        Deadline, DefenderClient, DefenderError,
        models::{
            ODataList,
            actions::{
                CommentRequest, IsolateRequest, LiveResponseRequest, MachineAction, ScanRequest,
                StopAndQuarantineRequest,
            },
            alerts::Alert,
            machines::{Machine, MachineTag, MdeUser, Software, TagMultipleRequest, TagRequest, Vulnerability},
        },
        odata::{Filter, fields, resource::Machines},
    },
    ids::{Hostname, MachineId, TenantName},
};
use chrono::{DateTime, Utc};
use std::net::IpAddr;

/// The documented query of `findbytag`.
fn tag_query(tag: &MachineTag, starts_with: bool) -> Vec<(String, String)> {
    vec![("tag".into(), tag.as_str().into()), ("useStartsWithFilter".into(), starts_with.to_string())]
}

/// Declares the machine response actions: each `POST`s its request body to the machine's
/// `/api/machines/{id}/<action>` and answers the [`MachineAction`] it started (a [`calls!`] entry each).
macro_rules! response_actions {
    ($($(#[$attr:meta])* $method:ident($req:ty) = $call:ident: $endpoint:ident;)*) => {
        calls! {
            $(
                $(#[$attr])*
                call $method(id: &MachineId, req: &$req) -> MachineAction = $call: with_body($endpoint, &[id], req);
            )*
        }
    };
}

lists! {
    /// All machines matching `query`, page by page (page size: `query.top`, at most 10,000).
    stream machines -> Machine = list_call(Machines, MdeMachinesList, MDE_MAX_PAGE);
    /// One page of machines.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    page machines_page -> ODataList<Machine> = list_page_call;
}

calls! {
    /// One machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when there is no such machine).
    call get_machine(id: &MachineId) -> Machine = get_call: request(MdeMachinesGet, &[id]);
    /// Machines that had `ip` around `at` (within the past 30 days).
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` when `at` is older than 30 days).
    call find_machines_by_ip(ip: IpAddr, at: DateTime<Utc>) -> ODataList<Machine> =
        /// The IP quoted, the timestamp bare (whole seconds, UTC), as documented.
        find_by_ip_call: request(MdeMachinesFindByIp, &[&ip, &at.format("%Y-%m-%dT%H:%M:%SZ")]);
    /// Machines with a tag (or a tag starting with it).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call find_machines_by_tag(tag: &MachineTag, starts_with: bool) -> ODataList<Machine> =
        /// `tag` and `useStartsWithFilter` are the query, as documented.
        find_by_tag_call: with_query(MdeMachinesFindByTag, &[], tag_query(tag, starts_with));
    /// Users who logged on to a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call machine_logon_users(id: &MachineId) -> ODataList<MdeUser> =
        logon_users_call: request(MdeMachinesLogonUsers, &[id]);
    /// Alerts of a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call machine_alerts(id: &MachineId) -> ODataList<Alert> = alerts_call: request(MdeMachinesAlerts, &[id]);
    /// Software installed on a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call machine_software(id: &MachineId) -> ODataList<Software> = software_call: request(MdeMachinesSoftware, &[id]);
    /// Vulnerabilities discovered on a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call machine_vulnerabilities(id: &MachineId) -> ODataList<Vulnerability> =
        vulnerabilities_call: request(MdeMachinesVulnerabilities, &[id]);
    /// Adds or removes a tag; answers the updated machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call tag_machine(id: &MachineId, req: &TagRequest) -> Machine = tags_call: with_body(MdeMachinesTags, &[id], req);
    /// Adds or removes a tag on up to 500 machines; answers the updated machines.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call tag_machines(req: &TagMultipleRequest) -> ODataList<Machine> =
        tags_multiple_call: with_body(MdeMachinesTagsMultiple, &[], req);
}

response_actions! {
    /// Isolates a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` when an isolation is already in progress).
    isolate(IsolateRequest) = isolate_call: MdeMachinesIsolate;
    /// Releases a machine from isolation.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    unisolate(CommentRequest) = unisolate_call: MdeMachinesUnisolate;
    /// Restricts code execution to Microsoft-signed binaries.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    restrict_code_execution(CommentRequest) = restrict_code_execution_call: MdeMachinesRestrictCodeExecution;
    /// Lifts the code-execution restriction.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    unrestrict_code_execution(CommentRequest) = unrestrict_code_execution_call: MdeMachinesUnrestrictCodeExecution;
    /// Starts an antivirus scan.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    run_av_scan(ScanRequest) = run_av_scan_call: MdeMachinesRunAvScan;
    /// Collects an investigation package.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` when a collection is already running).
    collect_investigation_package(CommentRequest) =
        collect_investigation_package_call: MdeMachinesCollectInvestigationPackage;
    /// Stops a file's processes and quarantines it.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    stop_and_quarantine_file(StopAndQuarantineRequest) =
        stop_and_quarantine_file_call: MdeMachinesStopAndQuarantineFile;
    /// Offboards a machine (Windows only).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    offboard(CommentRequest) = offboard_call: MdeMachinesOffboard;
    /// Runs live response commands.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    run_live_response(LiveResponseRequest) = run_live_response_call: MdeMachinesRunLiveResponse;
}

impl<T: TokenSource> DefenderClient<T> {
    /// The machines named `host` (see [`Hostname::names`]): one page of at most `top` machines
    /// asked for by `computerDnsName eq 'host' or startswith(computerDnsName,'host ')` — the exact
    /// name, or the name followed by whitespace, which Defender keeps as the device reported it —
    /// then held to an exact match (trailing whitespace aside) here, whatever the service's filter
    /// let through. Items of the page without a typed view are named in `undecodable`.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn machines_by_host(
        &self,
        tenant: &TenantName,
        host: &Hostname,
        top: Option<usize>,
        deadline: Deadline,
    ) -> Result<ODataList<Machine>, DefenderError> {
        let name = fields::machines::COMPUTER_DNS_NAME;
        let filter = Filter::eq(name, host.as_str()).or(Filter::startswith(name, format!("{} ", host.as_str())));
        let mut query = ListQuery::new().filter(filter);
        if let Some(top) = top {
            query = query.top(top);
        }
        let mut page = self.machines_page(tenant, &query, deadline).await?;
        page.value.retain(|m| m.computer_dns_name.as_deref().is_some_and(|n| host.names(n)));
        Ok(page)
    }
}
