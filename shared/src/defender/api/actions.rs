//! MDE machine actions: list, get, cancel, investigation package link, live response result link.

use super::MDE_MAX_PAGE;
use crate::{
    defender::{
        DefenderClient,
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
    /// One machine action (poll it until [`ActionStatus::is_final`]).
    ///
    /// [`ActionStatus::is_final`]: crate::defender::models::actions::ActionStatus::is_final
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call get_machine_action(id: &ActionId) -> MachineAction = get_call: request(MdeMachineactionsGet, &[id]);
    /// Cancels an action not yet final.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call cancel_machine_action(id: &ActionId, req: &CommentRequest) -> MachineAction =
        cancel_call: with_body(MdeMachineactionsCancel, &[id], req);
    /// The download link of a collected investigation package.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` until the collection succeeded).
    call investigation_package_uri(id: &ActionId) -> DownloadLink =
        get_package_uri_call: request(MdeMachineactionsGetPackageUri, &[id]);
    /// The download link of one live response command's result.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call live_response_result_link(id: &ActionId, index: u32) -> DownloadLink =
        get_live_response_result_call: request(MdeMachineactionsGetLiveResponseResult, &[id, &index]);
}
