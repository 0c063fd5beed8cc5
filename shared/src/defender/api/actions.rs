//! MDE machine actions: list, get, cancel, investigation package link, live response result link.

use super::{ListQuery, MDE_MAX_PAGE, get, get_with, post, seg};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
        models::{
            DownloadLink, ODataList,
            actions::{CommentRequest, MachineAction},
        },
        odata::resource::MachineActions,
    },
    ids::{ActionId, TenantName},
};
use futures::stream::BoxStream;

fn action_path(id: &ActionId, tail: &str) -> String {
    format!("/api/machineactions/{}{tail}", seg(id.as_str()))
}

/// `GET /api/machineactions` (stream: no `$top`).
pub fn list_call(q: &ListQuery<MachineActions>) -> Call {
    get_with(Endpoint::MdeMachineactionsList, "/api/machineactions".into(), q.stream_query())
}
/// `GET /api/machineactions?$top=..` (one page).
pub fn list_page_call(q: &ListQuery<MachineActions>) -> Call {
    get_with(Endpoint::MdeMachineactionsList, "/api/machineactions".into(), q.page_query(MDE_MAX_PAGE))
}
/// `GET /api/machineactions/{id}`.
pub fn get_call(id: &ActionId) -> Call {
    get(Endpoint::MdeMachineactionsGet, action_path(id, ""))
}
/// `POST /api/machineactions/{id}/cancel`.
///
/// # Errors
/// As [`super::with_body`].
pub fn cancel_call(id: &ActionId, req: &CommentRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeMachineactionsCancel, action_path(id, "/cancel"), req)
}
/// `GET /api/machineactions/{id}/getPackageUri`.
pub fn get_package_uri_call(id: &ActionId) -> Call {
    get(Endpoint::MdeMachineactionsGetPackageUri, action_path(id, "/getPackageUri"))
}
/// `GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index={index})`.
pub fn get_live_response_result_call(id: &ActionId, index: u32) -> Call {
    let tail = format!("/GetLiveResponseResultDownloadLink(index={index})");
    get(Endpoint::MdeMachineactionsGetLiveResponseResult, action_path(id, &tail))
}

impl<T: TokenSource> DefenderClient<T> {
    /// All machine actions matching `query`, page by page (page size: `query.top`, at most 10,000).
    pub fn machine_actions<'a>(
        &'a self,
        tenant: &'a TenantName,
        query: &ListQuery<MachineActions>,
        deadline: Deadline,
    ) -> BoxStream<'a, Result<Vec<MachineAction>, DefenderError>> {
        self.pages(tenant, list_call(query), query.page_size(MDE_MAX_PAGE), deadline)
    }

    /// One page of machine actions.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn machine_actions_page(
        &self,
        tenant: &TenantName,
        query: &ListQuery<MachineActions>,
        deadline: Deadline,
    ) -> Result<ODataList<MachineAction>, DefenderError> {
        self.call(tenant, list_page_call(query), deadline).await
    }

    /// One machine action (poll it until [`ActionStatus::is_final`]).
    ///
    /// [`ActionStatus::is_final`]: crate::defender::models::actions::ActionStatus::is_final
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn get_machine_action(
        &self,
        tenant: &TenantName,
        id: &ActionId,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, get_call(id), deadline).await
    }

    /// Cancels an action not yet final.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn cancel_machine_action(
        &self,
        tenant: &TenantName,
        id: &ActionId,
        req: &CommentRequest,
        deadline: Deadline,
    ) -> Result<MachineAction, DefenderError> {
        self.call(tenant, cancel_call(id, req)?, deadline).await
    }

    /// The download link of a collected investigation package.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` until the collection succeeded).
    pub async fn investigation_package_uri(
        &self,
        tenant: &TenantName,
        id: &ActionId,
        deadline: Deadline,
    ) -> Result<DownloadLink, DefenderError> {
        self.call(tenant, get_package_uri_call(id), deadline).await
    }

    /// The download link of one live response command's result.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn live_response_result_link(
        &self,
        tenant: &TenantName,
        id: &ActionId,
        index: u32,
        deadline: Deadline,
    ) -> Result<DownloadLink, DefenderError> {
        self.call(tenant, get_live_response_result_call(id, index), deadline).await
    }
}
