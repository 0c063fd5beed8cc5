//! Graph security v1.0: `alerts_v2` and `incidents` (list, get, update). Graph pages with
//! `@odata.nextLink`.

use super::GRAPH_PAGE;
use crate::{
    defender::{
        DefenderClient,
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
    stream graph_incidents -> GraphIncident =
        incidents_list_call(GraphIncidents, GraphSecurityIncidentsList, GRAPH_PAGE);
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
    /// One Graph alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call get_graph_alert(id: &AlertId) -> GraphAlert = alert_get_call: request(GraphSecurityAlertsV2Get, &[id]);
    /// Updates a Graph alert; answers the updated alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call update_graph_alert(id: &AlertId, req: &GraphAlertUpdate) -> GraphAlert =
        alert_update_call: with_body(GraphSecurityAlertsV2Update, &[id], req);
    /// One Graph incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call get_graph_incident(id: IncidentId) -> GraphIncident =
        incident_get_call: request(GraphSecurityIncidentsGet, &[&id]);
    /// Updates a Graph incident; answers the updated incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call update_graph_incident(id: IncidentId, req: &GraphIncidentUpdate) -> GraphIncident =
        incident_update_call: with_body(GraphSecurityIncidentsUpdate, &[&id], req);
}
