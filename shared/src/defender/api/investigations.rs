//! MDE automated investigations: list, get, start.

use super::{MDE_MAX_PAGE, request, with_body};
use crate::{
    defender::{
        Call, DefenderClient, DefenderError, Endpoint,
        models::{
            ODataList,
            actions::CommentRequest,
            investigations::{Investigation, InvestigationId},
        },
        odata::resource::Investigations,
    },
    ids::MachineId,
};

lists! {
    /// All investigations matching `query`, page by page (page size: `query.top`, at most 10,000).
    stream investigations -> Investigation = list_call(Investigations, MdeInvestigationsList, MDE_MAX_PAGE);
    /// One page of investigations.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    page investigations_page -> ODataList<Investigation> = list_page_call;
}

calls! {
    /// `GET /api/investigations/{id}` (an investigation id or the triggering alert's id).
    fn get_call(id: &InvestigationId) -> Call = request(Endpoint::MdeInvestigationsGet, &[id]);
    /// One investigation.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call get_investigation -> Investigation;
    /// `POST /api/machines/{id}/startInvestigation`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn start_call(machine: &MachineId, req: &CommentRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeInvestigationsStart, &[machine], req);
    /// Starts an automated investigation on a machine (50 per hour).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call start_investigation -> Investigation;
}
