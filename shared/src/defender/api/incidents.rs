//! Defender XDR incidents: list (at most 100 per page, most recent first), get, update.

use super::{ListQuery, XDR_INCIDENTS_MAX_PAGE, get, get_with, patch};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
        models::{
            Page,
            incidents::{Incident, IncidentUpdate},
        },
        odata::resource::Incidents,
    },
    ids::{IncidentId, TenantName},
};
use futures::stream::BoxStream;

/// `GET /api/incidents` (stream: no `$top`).
pub fn list_call(q: &ListQuery<Incidents>) -> Call {
    get_with(Endpoint::XdrIncidentsList, "/api/incidents".into(), q.stream_query())
}
/// `GET /api/incidents?$top=..` (one page, `$top` at most 100).
pub fn list_page_call(q: &ListQuery<Incidents>) -> Call {
    get_with(Endpoint::XdrIncidentsList, "/api/incidents".into(), q.page_query(XDR_INCIDENTS_MAX_PAGE))
}
/// `GET /api/incidents/{id}`.
pub fn get_call(id: IncidentId) -> Call {
    get(Endpoint::XdrIncidentsGet, format!("/api/incidents/{id}"))
}
/// `PATCH /api/incidents/{id}`.
///
/// # Errors
/// As [`super::with_body`].
pub fn update_call(id: IncidentId, req: &IncidentUpdate) -> Result<Call, DefenderError> {
    patch(Endpoint::XdrIncidentsUpdate, format!("/api/incidents/{id}"), req)
}

impl<T: TokenSource> DefenderClient<T> {
    /// All incidents matching `query`, page by page (page size: `query.top`, at most 100).
    pub fn incidents<'a>(
        &'a self,
        tenant: &'a TenantName,
        query: &ListQuery<Incidents>,
        deadline: Deadline,
    ) -> BoxStream<'a, Result<Vec<Incident>, DefenderError>> {
        self.pages(tenant, list_call(query), query.page_size(XDR_INCIDENTS_MAX_PAGE), deadline)
    }

    /// One page of incidents.
    ///
    /// Decoded item by item ([`Page`]): an item our model refuses is kept raw with why, never
    /// failing the page.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn incidents_page(
        &self,
        tenant: &TenantName,
        query: &ListQuery<Incidents>,
        deadline: Deadline,
    ) -> Result<Page<Incident>, DefenderError> {
        self.call(tenant, list_page_call(query), deadline).await
    }

    /// One incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when there is no such incident).
    pub async fn get_incident(
        &self,
        tenant: &TenantName,
        id: IncidentId,
        deadline: Deadline,
    ) -> Result<Incident, DefenderError> {
        self.call(tenant, get_call(id), deadline).await
    }

    /// Updates an incident; answers the updated incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn update_incident(
        &self,
        tenant: &TenantName,
        id: IncidentId,
        req: &IncidentUpdate,
        deadline: Deadline,
    ) -> Result<Incident, DefenderError> {
        self.call(tenant, update_call(id, req)?, deadline).await
    }
}
