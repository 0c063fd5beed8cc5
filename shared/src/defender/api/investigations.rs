//! MDE automated investigations: list, get, start.

use super::{ListQuery, MDE_MAX_PAGE, get, get_with, post, seg};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
        models::{
            ODataList,
            actions::CommentRequest,
            investigations::{Investigation, InvestigationId},
        },
        odata::resource::Investigations,
    },
    ids::{MachineId, TenantName},
};
use futures::stream::BoxStream;

/// `GET /api/investigations` (stream: no `$top`).
pub fn list_call(q: &ListQuery<Investigations>) -> Call {
    get_with(Endpoint::MdeInvestigationsList, "/api/investigations".into(), q.stream_query())
}
/// `GET /api/investigations?$top=..` (one page).
pub fn list_page_call(q: &ListQuery<Investigations>) -> Call {
    get_with(Endpoint::MdeInvestigationsList, "/api/investigations".into(), q.page_query(MDE_MAX_PAGE))
}
/// `GET /api/investigations/{id}` (an investigation id or the triggering alert's id).
pub fn get_call(id: &InvestigationId) -> Call {
    get(Endpoint::MdeInvestigationsGet, format!("/api/investigations/{}", seg(id.as_str())))
}
/// `POST /api/machines/{id}/startInvestigation`.
///
/// # Errors
/// As [`super::with_body`].
pub fn start_call(machine: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError> {
    post(Endpoint::MdeInvestigationsStart, format!("/api/machines/{}/startInvestigation", seg(machine.as_str())), req)
}

impl<T: TokenSource> DefenderClient<T> {
    /// All investigations matching `query`, page by page (page size: `query.top`, at most 10,000).
    pub fn investigations<'a>(
        &'a self,
        tenant: &'a TenantName,
        query: &ListQuery<Investigations>,
        deadline: Deadline,
    ) -> BoxStream<'a, Result<Vec<Investigation>, DefenderError>> {
        self.pages(tenant, list_call(query), query.page_size(MDE_MAX_PAGE), deadline)
    }

    /// One page of investigations.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn investigations_page(
        &self,
        tenant: &TenantName,
        query: &ListQuery<Investigations>,
        deadline: Deadline,
    ) -> Result<ODataList<Investigation>, DefenderError> {
        self.call(tenant, list_page_call(query), deadline).await
    }

    /// One investigation.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn get_investigation(
        &self,
        tenant: &TenantName,
        id: &InvestigationId,
        deadline: Deadline,
    ) -> Result<Investigation, DefenderError> {
        self.call(tenant, get_call(id), deadline).await
    }

    /// Starts an automated investigation on a machine (50 per hour).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn start_investigation(
        &self,
        tenant: &TenantName,
        machine: &MachineId,
        req: &CommentRequest,
        deadline: Deadline,
    ) -> Result<Investigation, DefenderError> {
        self.call(tenant, start_call(machine, req)?, deadline).await
    }
}
