//! Graph security v1.0: `alerts_v2` and `incidents` (list, get, update). Graph pages with
//! `@odata.nextLink`.

use super::{GRAPH_PAGE, ListQuery, get, get_with, patch, seg};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
        models::{
            Page,
            graph::{GraphAlert, GraphAlertUpdate, GraphIncident, GraphIncidentUpdate},
        },
        odata::resource::{GraphAlerts, GraphIncidents},
    },
    ids::{AlertId, IncidentId, TenantName},
};
use futures::stream::BoxStream;

/// `GET /security/alerts_v2` (stream: no `$top`).
pub fn alerts_list_call(q: &ListQuery<GraphAlerts>) -> Call {
    get_with(Endpoint::GraphSecurityAlertsV2List, "/security/alerts_v2".into(), q.stream_query())
}
/// `GET /security/alerts_v2?$top=..` (one page).
pub fn alerts_list_page_call(q: &ListQuery<GraphAlerts>) -> Call {
    get_with(Endpoint::GraphSecurityAlertsV2List, "/security/alerts_v2".into(), q.page_query(GRAPH_PAGE))
}
/// `GET /security/alerts_v2/{alertId}`.
pub fn alert_get_call(id: &AlertId) -> Call {
    get(Endpoint::GraphSecurityAlertsV2Get, format!("/security/alerts_v2/{}", seg(id.as_str())))
}
/// `PATCH /security/alerts_v2/{alertId}`.
///
/// # Errors
/// As [`super::with_body`].
pub fn alert_update_call(id: &AlertId, req: &GraphAlertUpdate) -> Result<Call, DefenderError> {
    patch(Endpoint::GraphSecurityAlertsV2Update, format!("/security/alerts_v2/{}", seg(id.as_str())), req)
}
/// `GET /security/incidents` (stream: no `$top`).
pub fn incidents_list_call(q: &ListQuery<GraphIncidents>) -> Call {
    get_with(Endpoint::GraphSecurityIncidentsList, "/security/incidents".into(), q.stream_query())
}
/// `GET /security/incidents?$top=..` (one page).
pub fn incidents_list_page_call(q: &ListQuery<GraphIncidents>) -> Call {
    get_with(Endpoint::GraphSecurityIncidentsList, "/security/incidents".into(), q.page_query(GRAPH_PAGE))
}
/// `GET /security/incidents/{incidentId}`.
pub fn incident_get_call(id: IncidentId) -> Call {
    get(Endpoint::GraphSecurityIncidentsGet, format!("/security/incidents/{id}"))
}
/// `PATCH /security/incidents/{incidentId}`.
///
/// # Errors
/// As [`super::with_body`].
pub fn incident_update_call(id: IncidentId, req: &GraphIncidentUpdate) -> Result<Call, DefenderError> {
    patch(Endpoint::GraphSecurityIncidentsUpdate, format!("/security/incidents/{id}"), req)
}

impl<T: TokenSource> DefenderClient<T> {
    /// All Graph alerts matching `query`, page by page.
    pub fn graph_alerts<'a>(
        &'a self,
        tenant: &'a TenantName,
        query: &ListQuery<GraphAlerts>,
        deadline: Deadline,
    ) -> BoxStream<'a, Result<Vec<GraphAlert>, DefenderError>> {
        self.pages(tenant, alerts_list_call(query), query.page_size(GRAPH_PAGE), deadline)
    }

    /// One page of Graph alerts.
    ///
    /// Decoded item by item ([`Page`]): an item our model refuses is kept raw with why, never
    /// failing the page.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn graph_alerts_page(
        &self,
        tenant: &TenantName,
        query: &ListQuery<GraphAlerts>,
        deadline: Deadline,
    ) -> Result<Page<GraphAlert>, DefenderError> {
        self.call(tenant, alerts_list_page_call(query), deadline).await
    }

    /// One Graph alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn get_graph_alert(
        &self,
        tenant: &TenantName,
        id: &AlertId,
        deadline: Deadline,
    ) -> Result<GraphAlert, DefenderError> {
        self.call(tenant, alert_get_call(id), deadline).await
    }

    /// Updates a Graph alert; answers the updated alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn update_graph_alert(
        &self,
        tenant: &TenantName,
        id: &AlertId,
        req: &GraphAlertUpdate,
        deadline: Deadline,
    ) -> Result<GraphAlert, DefenderError> {
        self.call(tenant, alert_update_call(id, req)?, deadline).await
    }

    /// All Graph incidents matching `query`, page by page.
    pub fn graph_incidents<'a>(
        &'a self,
        tenant: &'a TenantName,
        query: &ListQuery<GraphIncidents>,
        deadline: Deadline,
    ) -> BoxStream<'a, Result<Vec<GraphIncident>, DefenderError>> {
        self.pages(tenant, incidents_list_call(query), query.page_size(GRAPH_PAGE), deadline)
    }

    /// One page of Graph incidents.
    ///
    /// Decoded item by item ([`Page`]): an item our model refuses is kept raw with why, never
    /// failing the page.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn graph_incidents_page(
        &self,
        tenant: &TenantName,
        query: &ListQuery<GraphIncidents>,
        deadline: Deadline,
    ) -> Result<Page<GraphIncident>, DefenderError> {
        self.call(tenant, incidents_list_page_call(query), deadline).await
    }

    /// One Graph incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn get_graph_incident(
        &self,
        tenant: &TenantName,
        id: IncidentId,
        deadline: Deadline,
    ) -> Result<GraphIncident, DefenderError> {
        self.call(tenant, incident_get_call(id), deadline).await
    }

    /// Updates a Graph incident; answers the updated incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn update_graph_incident(
        &self,
        tenant: &TenantName,
        id: IncidentId,
        req: &GraphIncidentUpdate,
        deadline: Deadline,
    ) -> Result<GraphIncident, DefenderError> {
        self.call(tenant, incident_update_call(id, req)?, deadline).await
    }
}
