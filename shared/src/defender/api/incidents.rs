//! Defender XDR incidents: list (at most 100 per page, most recent first), get, update.

use super::{XDR_INCIDENTS_MAX_PAGE, request, with_body};
use crate::{
    defender::{
        Call, DefenderClient, DefenderError, Endpoint,
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
    /// `GET /api/incidents/{id}`.
    fn get_call(id: IncidentId) -> Call = request(Endpoint::XdrIncidentsGet, &[&id]);
    /// One incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when there is no such incident).
    call get_incident -> Incident;
    /// `PATCH /api/incidents/{id}`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn update_call(id: IncidentId, req: &IncidentUpdate) -> Result<Call, DefenderError>
        = with_body(Endpoint::XdrIncidentsUpdate, &[&id], req);
    /// Updates an incident; answers the updated incident.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call update_incident -> Incident;
}
