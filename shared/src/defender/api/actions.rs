//! MDE machine actions: list, get, cancel, investigation package link, live response result link.

use super::{MDE_MAX_PAGE, request, with_body};
use crate::{
    defender::{
        Call, DefenderClient, DefenderError, Endpoint,
        models::{
            DownloadLink, ODataList,
            actions::{CommentRequest, MachineAction},
        },
        odata::resource::MachineActions,
    },
    ids::ActionId,
};

lists! {
    /// All machine actions matching `query`, page by page (page size: `query.top`, at most 10,000).
    stream machine_actions -> MachineAction = list_call(MachineActions, MdeMachineactionsList, MDE_MAX_PAGE);
    /// One page of machine actions.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    page machine_actions_page -> ODataList<MachineAction> = list_page_call;
}

calls! {
    /// `GET /api/machineactions/{id}`.
    fn get_call(id: &ActionId) -> Call = request(Endpoint::MdeMachineactionsGet, &[id]);
    /// One machine action (poll it until [`ActionStatus::is_final`]).
    ///
    /// [`ActionStatus::is_final`]: crate::defender::models::actions::ActionStatus::is_final
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call get_machine_action -> MachineAction;
    /// `POST /api/machineactions/{id}/cancel`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn cancel_call(id: &ActionId, req: &CommentRequest) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeMachineactionsCancel, &[id], req);
    /// Cancels an action not yet final.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call cancel_machine_action -> MachineAction;
    /// `GET /api/machineactions/{id}/getPackageUri`.
    fn get_package_uri_call(id: &ActionId) -> Call = request(Endpoint::MdeMachineactionsGetPackageUri, &[id]);
    /// The download link of a collected investigation package.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` until the collection succeeded).
    call investigation_package_uri -> DownloadLink;
    /// `GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index={index})`.
    fn get_live_response_result_call(id: &ActionId, index: u32) -> Call
        = request(Endpoint::MdeMachineactionsGetLiveResponseResult, &[id, &index]);
    /// The download link of one live response command's result.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call live_response_result_link -> DownloadLink;
}
