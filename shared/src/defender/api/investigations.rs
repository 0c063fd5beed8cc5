//! MDE automated investigations: list, get, start.

use super::MDE_MAX_PAGE;
use crate::{
    defender::{
        DefenderClient,
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
    /// One investigation.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call get_investigation(id: &InvestigationId) -> Investigation =
        /// `{id}`: an investigation id or the triggering alert's id.
        get_call: request(MdeInvestigationsGet, &[id]);
    /// Starts an automated investigation on a machine (50 per hour).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call start_investigation(machine: &MachineId, req: &CommentRequest) -> Investigation =
        start_call: with_body(MdeInvestigationsStart, &[machine], req);
}
