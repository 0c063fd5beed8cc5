//! MDE machines: list, get, find by IP or tag, logon users, alerts, software, vulnerabilities, tags,
//! and the response actions (isolate, scan, restrict, collect, stop and quarantine, offboard, live
//! response), each answering a [`MachineAction`].

use super::{ListQuery, MDE_MAX_PAGE, request, with_body, with_query};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
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
    /// `GET /api/machines/{id}`.
    fn get_call(id: &MachineId) -> Call = request(Endpoint::MdeMachinesGet, &[id]);
    /// One machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when there is no such machine).
    call get_machine -> Machine;
    /// `GET /api/machines/findbyip(ip='{IP}',timestamp={TimeStamp})`: the IP quoted, the timestamp bare
    /// (whole seconds, UTC), as documented.
    fn find_by_ip_call(ip: IpAddr, at: DateTime<Utc>) -> Call
        = request(Endpoint::MdeMachinesFindByIp, &[&ip, &at.format("%Y-%m-%dT%H:%M:%SZ")]);
    /// Machines that had `ip` around `at` (within the past 30 days).
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` when `at` is older than 30 days).
    call find_machines_by_ip -> ODataList<Machine>;
    /// `GET /api/machines/findbytag?tag={tag}&useStartsWithFilter={bool}`.
    fn find_by_tag_call(tag: &MachineTag, starts_with: bool) -> Call = with_query(
        Endpoint::MdeMachinesFindByTag,
        &[],
        vec![("tag".into(), tag.as_str().into()), ("useStartsWithFilter".into(), starts_with.to_string())],
    );
    /// Machines with a tag (or a tag starting with it).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call find_machines_by_tag -> ODataList<Machine>;
    /// `GET /api/machines/{id}/logonusers`.
    fn logon_users_call(id: &MachineId) -> Call = request(Endpoint::MdeMachinesLogonUsers, &[id]);
    /// Users who logged on to a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call machine_logon_users -> ODataList<MdeUser>;
    /// `GET /api/machines/{id}/alerts`.
    fn alerts_call(id: &MachineId) -> Call = request(Endpoint::MdeMachinesAlerts, &[id]);
    /// Alerts of a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call machine_alerts -> ODataList<Alert>;
    /// `GET /api/machines/{machineId}/software`.
    fn software_call(id: &MachineId) -> Call = request(Endpoint::MdeMachinesSoftware, &[id]);
    /// Software installed on a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call machine_software -> ODataList<Software>;
    /// `GET /api/machines/{machineId}/vulnerabilities`.
    fn vulnerabilities_call(id: &MachineId) -> Call = request(Endpoint::MdeMachinesVulnerabilities, &[id]);
    /// Vulnerabilities discovered on a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call machine_vulnerabilities -> ODataList<Vulnerability>;
    /// `POST /api/machines/{id}/tags`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn tags_call(id: &MachineId, req: &TagRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesTags, &[id], req);
    /// Adds or removes a tag; answers the updated machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call tag_machine -> Machine;
    /// `POST /api/machines/AddOrRemoveTagForMultipleMachines`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn tags_multiple_call(req: &TagMultipleRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesTagsMultiple, &[], req);
    /// Adds or removes a tag on up to 500 machines; answers the updated machines.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call tag_machines -> ODataList<Machine>;
    /// `POST /api/machines/{id}/isolate`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn isolate_call(id: &MachineId, req: &IsolateRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesIsolate, &[id], req);
    /// Isolates a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` when an isolation is already in progress).
    call isolate -> MachineAction;
    /// `POST /api/machines/{id}/unisolate`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn unisolate_call(id: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesUnisolate, &[id], req);
    /// Releases a machine from isolation.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call unisolate -> MachineAction;
    /// `POST /api/machines/{id}/restrictCodeExecution`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn restrict_code_execution_call(id: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesRestrictCodeExecution, &[id], req);
    /// Restricts code execution to Microsoft-signed binaries.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call restrict_code_execution -> MachineAction;
    /// `POST /api/machines/{id}/unrestrictCodeExecution`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn unrestrict_code_execution_call(id: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesUnrestrictCodeExecution, &[id], req);
    /// Lifts the code-execution restriction.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call unrestrict_code_execution -> MachineAction;
    /// `POST /api/machines/{id}/runAntiVirusScan`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn run_av_scan_call(id: &MachineId, req: &ScanRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesRunAvScan, &[id], req);
    /// Starts an antivirus scan.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call run_av_scan -> MachineAction;
    /// `POST /api/machines/{id}/collectInvestigationPackage`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn collect_investigation_package_call(id: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesCollectInvestigationPackage, &[id], req);
    /// Collects an investigation package.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` when a collection is already running).
    call collect_investigation_package -> MachineAction;
    /// `POST /api/machines/{id}/StopAndQuarantineFile`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn stop_and_quarantine_file_call(id: &MachineId, req: &StopAndQuarantineRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesStopAndQuarantineFile, &[id], req);
    /// Stops a file's processes and quarantines it.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call stop_and_quarantine_file -> MachineAction;
    /// `POST /api/machines/{id}/offboard`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn offboard_call(id: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesOffboard, &[id], req);
    /// Offboards a machine (Windows only).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call offboard -> MachineAction;
    /// `POST /api/machines/{machine_id}/runliveresponse`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn run_live_response_call(id: &MachineId, req: &LiveResponseRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachinesRunLiveResponse, &[id], req);
    /// Runs live response commands.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call run_live_response -> MachineAction;
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
