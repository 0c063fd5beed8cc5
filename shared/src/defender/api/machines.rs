//! MDE machines: list, get, find by IP or tag, logon users, alerts, software, vulnerabilities, tags,
//! and the response actions (isolate, scan, restrict, collect, stop and quarantine, offboard, live
//! response), each answering a [`MachineAction`].

use super::{ListQuery, MDE_MAX_PAGE, get, get_with, post, seg};
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
use futures::stream::BoxStream;
use std::net::IpAddr;

fn machine_path(id: &MachineId, tail: &str) -> String {
    format!("/api/machines/{}{tail}", seg(id.as_str()))
}

/// `GET /api/machines` (stream: no `$top`).
pub fn list_call(q: &ListQuery<Machines>) -> Call {
    get_with(Endpoint::MdeMachinesList, "/api/machines".into(), q.stream_query())
}
/// `GET /api/machines?$top=..` (one page).
pub fn list_page_call(q: &ListQuery<Machines>) -> Call {
    get_with(Endpoint::MdeMachinesList, "/api/machines".into(), q.page_query(MDE_MAX_PAGE))
}
/// `GET /api/machines/{id}`.
pub fn get_call(id: &MachineId) -> Call {
    get(Endpoint::MdeMachinesGet, machine_path(id, ""))
}
/// `GET /api/machines/findbyip(ip='{IP}',timestamp={TimeStamp})`: the IP quoted, the timestamp bare
/// (whole seconds, UTC), as documented.
pub fn find_by_ip_call(ip: IpAddr, at: DateTime<Utc>) -> Call {
    let ts = at.format("%Y-%m-%dT%H:%M:%SZ");
    get(Endpoint::MdeMachinesFindByIp, format!("/api/machines/findbyip(ip='{}',timestamp={ts})", seg(&ip.to_string())))
}
/// `GET /api/machines/findbytag?tag={tag}&useStartsWithFilter={bool}`.
pub fn find_by_tag_call(tag: &MachineTag, starts_with: bool) -> Call {
    let query = vec![
        ("tag".to_string(), tag.as_str().to_string()),
        ("useStartsWithFilter".to_string(), starts_with.to_string()),
    ];
    get_with(Endpoint::MdeMachinesFindByTag, "/api/machines/findbytag".into(), query)
}
/// `GET /api/machines/{id}/logonusers`.
pub fn logon_users_call(id: &MachineId) -> Call {
    get(Endpoint::MdeMachinesLogonUsers, machine_path(id, "/logonusers"))
}
/// `GET /api/machines/{id}/alerts`.
pub fn alerts_call(id: &MachineId) -> Call {
    get(Endpoint::MdeMachinesAlerts, machine_path(id, "/alerts"))
}
/// `GET /api/machines/{machineId}/software`.
pub fn software_call(id: &MachineId) -> Call {
    get(Endpoint::MdeMachinesSoftware, machine_path(id, "/software"))
}
/// `GET /api/machines/{machineId}/vulnerabilities`.
pub fn vulnerabilities_call(id: &MachineId) -> Call {
    get(Endpoint::MdeMachinesVulnerabilities, machine_path(id, "/vulnerabilities"))
}
/// `POST /api/machines/{id}/tags`.
///
/// # Errors
/// As [`super::with_body`].
pub fn tags_call(id: &MachineId, req: &TagRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesTags, machine_path(id, "/tags"), req)
}
/// `POST /api/machines/AddOrRemoveTagForMultipleMachines`.
///
/// # Errors
/// As [`super::with_body`].
pub fn tags_multiple_call(req: &TagMultipleRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesTagsMultiple, "/api/machines/AddOrRemoveTagForMultipleMachines".into(), req)
}
/// `POST /api/machines/{id}/isolate`.
///
/// # Errors
/// As [`super::with_body`].
pub fn isolate_call(id: &MachineId, req: &IsolateRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesIsolate, machine_path(id, "/isolate"), req)
}
/// `POST /api/machines/{id}/unisolate`.
///
/// # Errors
/// As [`super::with_body`].
pub fn unisolate_call(id: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesUnisolate, machine_path(id, "/unisolate"), req)
}
/// `POST /api/machines/{id}/restrictCodeExecution`.
///
/// # Errors
/// As [`super::with_body`].
pub fn restrict_code_execution_call(id: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesRestrictCodeExecution, machine_path(id, "/restrictCodeExecution"), req)
}
/// `POST /api/machines/{id}/unrestrictCodeExecution`.
///
/// # Errors
/// As [`super::with_body`].
pub fn unrestrict_code_execution_call(id: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesUnrestrictCodeExecution, machine_path(id, "/unrestrictCodeExecution"), req)
}
/// `POST /api/machines/{id}/runAntiVirusScan`.
///
/// # Errors
/// As [`super::with_body`].
pub fn run_av_scan_call(id: &MachineId, req: &ScanRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesRunAvScan, machine_path(id, "/runAntiVirusScan"), req)
}
/// `POST /api/machines/{id}/collectInvestigationPackage`.
///
/// # Errors
/// As [`super::with_body`].
pub fn collect_investigation_package_call(id: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesCollectInvestigationPackage, machine_path(id, "/collectInvestigationPackage"), req)
}
/// `POST /api/machines/{id}/StopAndQuarantineFile`.
///
/// # Errors
/// As [`super::with_body`].
pub fn stop_and_quarantine_file_call(id: &MachineId, req: &StopAndQuarantineRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesStopAndQuarantineFile, machine_path(id, "/StopAndQuarantineFile"), req)
}
/// `POST /api/machines/{id}/offboard`.
///
/// # Errors
/// As [`super::with_body`].
pub fn offboard_call(id: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesOffboard, machine_path(id, "/offboard"), req)
}
/// `POST /api/machines/{machine_id}/runliveresponse`.
///
/// # Errors
/// As [`super::with_body`].
pub fn run_live_response_call(id: &MachineId, req: &LiveResponseRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachinesRunLiveResponse, machine_path(id, "/runliveresponse"), req)
}

impl<T: TokenSource> DefenderClient<T> {
    /// All machines matching `query`, page by page (page size: `query.top`, at most 10,000).
    pub fn machines<'a>(
        &'a self,
        tenant: &'a TenantName,
        query: &ListQuery<Machines>,
        deadline: Deadline,
    ) -> BoxStream<'a, Result<Vec<Machine>, DefenderError>> {
        self.pages(tenant, list_call(query), query.page_size(MDE_MAX_PAGE), deadline)
    }

    /// One page of machines.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn machines_page(
        &self,
        tenant: &TenantName,
        query: &ListQuery<Machines>,
        deadline: Deadline,
    ) -> Result<ODataList<Machine>, DefenderError> {
        self.call(tenant, list_page_call(query), deadline).await
    }

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

    /// One machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when there is no such machine).
    pub async fn get_machine(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        deadline: Deadline,
    ) -> Result<Machine, DefenderError> {
        self.call(tenant, get_call(id), deadline).await
    }

    /// Machines that had `ip` around `at` (within the past 30 days).
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` when `at` is older than 30 days).
    pub async fn find_machines_by_ip(
        &self,
        tenant: &TenantName,
        ip: IpAddr,
        at: DateTime<Utc>,
        deadline: Deadline,
    ) -> Result<ODataList<Machine>, DefenderError> {
        self.call(tenant, find_by_ip_call(ip, at), deadline).await
    }

    /// Machines with a tag (or a tag starting with it).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn find_machines_by_tag(
        &self,
        tenant: &TenantName,
        tag: &MachineTag,
        starts_with: bool,
        deadline: Deadline,
    ) -> Result<ODataList<Machine>, DefenderError> {
        self.call(tenant, find_by_tag_call(tag, starts_with), deadline).await
    }

    /// Users who logged on to a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn machine_logon_users(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        deadline: Deadline,
    ) -> Result<ODataList<MdeUser>, DefenderError> {
        self.call(tenant, logon_users_call(id), deadline).await
    }

    /// Alerts of a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn machine_alerts(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        deadline: Deadline,
    ) -> Result<ODataList<Alert>, DefenderError> {
        self.call(tenant, alerts_call(id), deadline).await
    }

    /// Software installed on a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn machine_software(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        deadline: Deadline,
    ) -> Result<ODataList<Software>, DefenderError> {
        self.call(tenant, software_call(id), deadline).await
    }

    /// Vulnerabilities discovered on a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn machine_vulnerabilities(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        deadline: Deadline,
    ) -> Result<ODataList<Vulnerability>, DefenderError> {
        self.call(tenant, vulnerabilities_call(id), deadline).await
    }

    /// Adds or removes a tag; answers the updated machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn tag_machine(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        req: &TagRequest,
        deadline: Deadline,
    ) -> Result<Machine, DefenderError> {
        self.call(tenant, tags_call(id, req)?, deadline).await
    }

    /// Adds or removes a tag on up to 500 machines; answers the updated machines.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn tag_machines(
        &self,
        tenant: &TenantName,
        req: &TagMultipleRequest,
        deadline: Deadline,
    ) -> Result<ODataList<Machine>, DefenderError> {
        self.call(tenant, tags_multiple_call(req)?, deadline).await
    }

    /// Isolates a machine.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` when an isolation is already in progress).
    pub async fn isolate(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        req: &IsolateRequest,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, isolate_call(id, req)?, deadline).await
    }

    /// Releases a machine from isolation.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn unisolate(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        req: &CommentRequest,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, unisolate_call(id, req)?, deadline).await
    }

    /// Restricts code execution to Microsoft-signed binaries.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn restrict_code_execution(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        req: &CommentRequest,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, restrict_code_execution_call(id, req)?, deadline).await
    }

    /// Lifts the code-execution restriction.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn unrestrict_code_execution(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        req: &CommentRequest,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, unrestrict_code_execution_call(id, req)?, deadline).await
    }

    /// Starts an antivirus scan.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn run_av_scan(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        req: &ScanRequest,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, run_av_scan_call(id, req)?, deadline).await
    }

    /// Collects an investigation package.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` when a collection is already running).
    pub async fn collect_investigation_package(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        req: &CommentRequest,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, collect_investigation_package_call(id, req)?, deadline).await
    }

    /// Stops a file's processes and quarantines it.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn stop_and_quarantine_file(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        req: &StopAndQuarantineRequest,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, stop_and_quarantine_file_call(id, req)?, deadline).await
    }

    /// Offboards a machine (Windows only).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn offboard(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        req: &CommentRequest,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, offboard_call(id, req)?, deadline).await
    }

    /// Runs live response commands.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn run_live_response(
        &self,
        tenant: &TenantName,
        id: &MachineId,
        req: &LiveResponseRequest,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, run_live_response_call(id, req)?, deadline).await
    }
}
