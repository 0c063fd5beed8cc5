//! Defender XDR incidents: list (at most 100 per page, most recent first), get, update.

use super::XDR_INCIDENTS_MAX_PAGE;
use crate::{
    defender::{
        DefenderClient,
        models::{
            Page,
            incidents::{Incident, IncidentUpdate},
        },
        odata::resource::Incidents,
    },
    ids::IncidentId,
};

lists! {
    /// All incidents matching `query`, page by page (page size: `query.top`, at most 100).
    stream incidents -> Incident = list_call(Incidents, XdrIncidentsList, XDR_INCIDENTS_MAX_PAGE);
    /// One page of incidents.
    ///
    /// Decoded item by item ([`Page`]): an item our model refuses is kept raw with why, never
    /// failing the page.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    page incidents_page -> Page<Incident> = list_page_call;
}

calls! {
    /// One incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when there is no such incident).
    call get_incident(id: IncidentId) -> Incident = get_call: request(XdrIncidentsGet, &[&id]);
    /// Updates an incident; answers the updated incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call update_incident(id: IncidentId, req: &IncidentUpdate) -> Incident =
        update_call: with_body(XdrIncidentsUpdate, &[&id], req);
}
