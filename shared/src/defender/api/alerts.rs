//! MDE alerts: list, get, update, batch update, create by reference, related entities.

use super::{ListQuery, MDE_MAX_PAGE, get, get_with, patch, post, seg};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
        models::{
            ODataList, Page,
            alerts::{Alert, AlertBatchUpdate, AlertDomain, AlertIp, AlertUpdate, CreateAlertByReference},
            files::FileInfo,
            machines::{Machine, MdeUser},
        },
        odata::resource::Alerts,
    },
    ids::{AlertId, TenantName},
};
use futures::stream::BoxStream;

fn alert_path(id: &AlertId, tail: &str) -> String {
    format!("/api/alerts/{}{tail}", seg(id.as_str()))
}

/// `GET /api/alerts` (stream: no `$top`).
pub fn list_call(q: &ListQuery<Alerts>) -> Call {
    get_with(Endpoint::MdeAlertsList, "/api/alerts".into(), q.stream_query())
}
/// `GET /api/alerts?$top=..` (one page).
pub fn list_page_call(q: &ListQuery<Alerts>) -> Call {
    get_with(Endpoint::MdeAlertsList, "/api/alerts".into(), q.page_query(MDE_MAX_PAGE))
}
/// `GET /api/alerts/{id}`.
pub fn get_call(id: &AlertId) -> Call {
    get(Endpoint::MdeAlertsGet, alert_path(id, ""))
}
/// `PATCH /api/alerts/{id}`.
///
/// # Errors
/// As [`super::with_body`].
pub fn update_call(id: &AlertId, req: &AlertUpdate) -> Result<Call, DefenderError> {
    patch(Endpoint::MdeAlertsUpdate, alert_path(id, ""), req)
}
/// `POST /api/alerts/batchUpdate`.
///
/// # Errors
/// As [`super::with_body`].
pub fn batch_update_call(req: &AlertBatchUpdate) -> Result<Call, DefenderError> {
    post(Endpoint::MdeAlertsBatchUpdate, "/api/alerts/batchUpdate".into(), req)
}
/// `POST /api/alerts/CreateAlertByReference`.
///
/// # Errors
/// As [`super::with_body`].
pub fn create_by_reference_call(req: &CreateAlertByReference) -> Result<Call, DefenderError> {
    post(Endpoint::MdeAlertsCreateByReference, "/api/alerts/CreateAlertByReference".into(), req)
}
/// `GET /api/alerts/{id}/domains`.
pub fn related_domains_call(id: &AlertId) -> Call {
    get(Endpoint::MdeAlertsRelatedDomains, alert_path(id, "/domains"))
}
/// `GET /api/alerts/{id}/files`.
pub fn related_files_call(id: &AlertId) -> Call {
    get(Endpoint::MdeAlertsRelatedFiles, alert_path(id, "/files"))
}
/// `GET /api/alerts/{id}/ips`.
pub fn related_ips_call(id: &AlertId) -> Call {
    get(Endpoint::MdeAlertsRelatedIps, alert_path(id, "/ips"))
}
/// `GET /api/alerts/{id}/machine`.
pub fn related_machine_call(id: &AlertId) -> Call {
    get(Endpoint::MdeAlertsRelatedMachine, alert_path(id, "/machine"))
}
/// `GET /api/alerts/{id}/user`.
pub fn related_user_call(id: &AlertId) -> Call {
    get(Endpoint::MdeAlertsRelatedUser, alert_path(id, "/user"))
}

impl<T: TokenSource> DefenderClient<T> {
    /// All alerts matching `query`, page by page (page size: `query.top`, at most 10,000).
    pub fn alerts<'a>(
        &'a self,
        tenant: &'a TenantName,
        query: &ListQuery<Alerts>,
        deadline: Deadline,
    ) -> BoxStream<'a, Result<Vec<Alert>, DefenderError>> {
        self.pages(tenant, list_call(query), query.page_size(MDE_MAX_PAGE), deadline)
    }

    /// One page of alerts (`$top`/`$skip` as in `query`).
    ///
    /// Decoded item by item ([`Page`]): an item our model refuses is kept raw with why, never
    /// failing the page.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn alerts_page(
        &self,
        tenant: &TenantName,
        query: &ListQuery<Alerts>,
        deadline: Deadline,
    ) -> Result<Page<Alert>, DefenderError> {
        self.call(tenant, list_page_call(query), deadline).await
    }

    /// One alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when there is no such alert).
    pub async fn get_alert(
        &self,
        tenant: &TenantName,
        id: &AlertId,
        deadline: Deadline,
    ) -> Result<Alert, DefenderError> {
        self.call(tenant, get_call(id), deadline).await
    }

    /// Updates an alert; answers the updated alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn update_alert(
        &self,
        tenant: &TenantName,
        id: &AlertId,
        req: &AlertUpdate,
        deadline: Deadline,
    ) -> Result<Alert, DefenderError> {
        self.call(tenant, update_call(id, req)?, deadline).await
    }

    /// Updates several alerts (the service answers an empty body).
    ///
    /// # Errors
    /// As [`DefenderClient::call_empty`].
    pub async fn batch_update_alerts(
        &self,
        tenant: &TenantName,
        req: &AlertBatchUpdate,
        deadline: Deadline,
    ) -> Result<(), DefenderError> {
        self.call_empty(tenant, batch_update_call(req)?, deadline).await
    }

    /// Creates an alert from an advanced-hunting event.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when the event is not found).
    pub async fn create_alert_by_reference(
        &self,
        tenant: &TenantName,
        req: &CreateAlertByReference,
        deadline: Deadline,
    ) -> Result<Alert, DefenderError> {
        self.call(tenant, create_by_reference_call(req)?, deadline).await
    }

    /// Domains related to an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn alert_domains(
        &self,
        tenant: &TenantName,
        id: &AlertId,
        deadline: Deadline,
    ) -> Result<ODataList<AlertDomain>, DefenderError> {
        self.call(tenant, related_domains_call(id), deadline).await
    }

    /// Files related to an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn alert_files(
        &self,
        tenant: &TenantName,
        id: &AlertId,
        deadline: Deadline,
    ) -> Result<ODataList<FileInfo>, DefenderError> {
        self.call(tenant, related_files_call(id), deadline).await
    }

    /// IPs related to an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn alert_ips(
        &self,
        tenant: &TenantName,
        id: &AlertId,
        deadline: Deadline,
    ) -> Result<ODataList<AlertIp>, DefenderError> {
        self.call(tenant, related_ips_call(id), deadline).await
    }

    /// The machine of an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn alert_machine(
        &self,
        tenant: &TenantName,
        id: &AlertId,
        deadline: Deadline,
    ) -> Result<Machine, DefenderError> {
        self.call(tenant, related_machine_call(id), deadline).await
    }

    /// The user of an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn alert_user(
        &self,
        tenant: &TenantName,
        id: &AlertId,
        deadline: Deadline,
    ) -> Result<MdeUser, DefenderError> {
        self.call(tenant, related_user_call(id), deadline).await
    }
}
