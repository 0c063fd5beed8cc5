//! MDE alerts: list, get, update, batch update, create by reference, related entities.

use super::MDE_MAX_PAGE;
use crate::{
    defender::{
        DefenderClient,
        models::{
            ODataList, Page,
            alerts::{Alert, AlertBatchUpdate, AlertDomain, AlertIp, AlertUpdate, CreateAlertByReference},
            files::FileInfo,
            machines::{Machine, MdeUser},
        },
        odata::resource::Alerts,
    },
    ids::AlertId,
};

lists! {
    /// All alerts matching `query`, page by page (page size: `query.top`, at most 10,000).
    stream alerts -> Alert = list_call(Alerts, MdeAlertsList, MDE_MAX_PAGE);
    /// One page of alerts (`$top`/`$skip` as in `query`).
    ///
    /// Decoded item by item ([`Page`]): an item our model refuses is kept raw with why, never
    /// failing the page.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    page alerts_page -> Page<Alert> = list_page_call;
}

calls! {
    /// One alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when there is no such alert).
    call get_alert(id: &AlertId) -> Alert = get_call: request(MdeAlertsGet, &[id]);
    /// Updates an alert; answers the updated alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call update_alert(id: &AlertId, req: &AlertUpdate) -> Alert = update_call: with_body(MdeAlertsUpdate, &[id], req);
    /// Updates several alerts (the service answers an empty body).
    ///
    /// # Errors
    /// As [`DefenderClient::call_empty`].
    call_empty batch_update_alerts(req: &AlertBatchUpdate) -> () =
        batch_update_call: with_body(MdeAlertsBatchUpdate, &[], req);
    /// Creates an alert from an advanced-hunting event.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when the event is not found).
    call create_alert_by_reference(req: &CreateAlertByReference) -> Alert =
        create_by_reference_call: with_body(MdeAlertsCreateByReference, &[], req);
    /// Domains related to an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call alert_domains(id: &AlertId) -> ODataList<AlertDomain> =
        related_domains_call: request(MdeAlertsRelatedDomains, &[id]);
    /// Files related to an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call alert_files(id: &AlertId) -> ODataList<FileInfo> = related_files_call: request(MdeAlertsRelatedFiles, &[id]);
    /// IPs related to an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call alert_ips(id: &AlertId) -> ODataList<AlertIp> = related_ips_call: request(MdeAlertsRelatedIps, &[id]);
    /// The machine of an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call alert_machine(id: &AlertId) -> Machine = related_machine_call: request(MdeAlertsRelatedMachine, &[id]);
    /// The user of an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call alert_user(id: &AlertId) -> MdeUser = related_user_call: request(MdeAlertsRelatedUser, &[id]);
}
