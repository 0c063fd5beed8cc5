//! Graph security v1.0: `alerts_v2` and `incidents` (list, get, update). Graph pages with
//! `@odata.nextLink`.

use super::{GRAPH_PAGE, request, with_body};
use crate::{
    defender::{
        Call, DefenderClient, DefenderError, Endpoint,
        models::{
            Page,
            graph::{GraphAlert, GraphAlertUpdate, GraphIncident, GraphIncidentUpdate},
        },
        odata::resource::{GraphAlerts, GraphIncidents},
    },
    ids::{AlertId, IncidentId},
};

lists! {
    /// All Graph alerts matching `query`, page by page.
    stream graph_alerts -> GraphAlert = alerts_list_call(GraphAlerts, GraphSecurityAlertsV2List, GRAPH_PAGE);
    /// One page of Graph alerts.
    ///
    /// Decoded item by item ([`Page`]): an item our model refuses is kept raw with why, never
    /// failing the page.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    page graph_alerts_page -> Page<GraphAlert> = alerts_list_page_call;
    /// All Graph incidents matching `query`, page by page.
    stream graph_incidents -> GraphIncident = incidents_list_call(GraphIncidents, GraphSecurityIncidentsList, GRAPH_PAGE);
    /// One page of Graph incidents.
    ///
    /// Decoded item by item ([`Page`]): an item our model refuses is kept raw with why, never
    /// failing the page.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    page graph_incidents_page -> Page<GraphIncident> = incidents_list_page_call;
}

calls! {
    /// `GET /security/alerts_v2/{alertId}`.
    fn alert_get_call(id: &AlertId) -> Call = request(Endpoint::GraphSecurityAlertsV2Get, &[id]);
    /// One Graph alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call get_graph_alert -> GraphAlert;
    /// `PATCH /security/alerts_v2/{alertId}`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn alert_update_call(id: &AlertId, req: &GraphAlertUpdate) -> Result<Call, DefenderError>
        = with_body(Endpoint::GraphSecurityAlertsV2Update, &[id], req);
    /// Updates a Graph alert; answers the updated alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call update_graph_alert -> GraphAlert;
    /// `GET /security/incidents/{incidentId}`.
    fn incident_get_call(id: IncidentId) -> Call = request(Endpoint::GraphSecurityIncidentsGet, &[&id]);
    /// One Graph incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call get_graph_incident -> GraphIncident;
    /// `PATCH /security/incidents/{incidentId}`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn incident_update_call(id: IncidentId, req: &GraphIncidentUpdate) -> Result<Call, DefenderError>
        = with_body(Endpoint::GraphSecurityIncidentsUpdate, &[&id], req);
    /// Updates a Graph incident; answers the updated incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call update_graph_incident -> GraphIncident;
}
