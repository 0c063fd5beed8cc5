//! MDE alerts: list, get, update, batch update, create by reference, related entities.

use super::{MDE_MAX_PAGE, request, with_body};
use crate::{
    defender::{
        Call, DefenderClient, DefenderError, Endpoint,
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
    /// `GET /api/alerts/{id}`.
    fn get_call(id: &AlertId) -> Call = request(Endpoint::MdeAlertsGet, &[id]);
    /// One alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when there is no such alert).
    call get_alert -> Alert;
    /// `PATCH /api/alerts/{id}`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn update_call(id: &AlertId, req: &AlertUpdate) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeAlertsUpdate, &[id], req);
    /// Updates an alert; answers the updated alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call update_alert -> Alert;
    /// `POST /api/alerts/batchUpdate`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn batch_update_call(req: &AlertBatchUpdate) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeAlertsBatchUpdate, &[], req);
    /// Updates several alerts (the service answers an empty body).
    ///
    /// # Errors
    /// As [`DefenderClient::call_empty`].
    call_empty batch_update_alerts -> ();
    /// `POST /api/alerts/CreateAlertByReference`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn create_by_reference_call(req: &CreateAlertByReference) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeAlertsCreateByReference, &[], req);
    /// Creates an alert from an advanced-hunting event.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when the event is not found).
    call create_alert_by_reference -> Alert;
    /// `GET /api/alerts/{id}/domains`.
    fn related_domains_call(id: &AlertId) -> Call = request(Endpoint::MdeAlertsRelatedDomains, &[id]);
    /// Domains related to an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call alert_domains -> ODataList<AlertDomain>;
    /// `GET /api/alerts/{id}/files`.
    fn related_files_call(id: &AlertId) -> Call = request(Endpoint::MdeAlertsRelatedFiles, &[id]);
    /// Files related to an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call alert_files -> ODataList<FileInfo>;
    /// `GET /api/alerts/{id}/ips`.
    fn related_ips_call(id: &AlertId) -> Call = request(Endpoint::MdeAlertsRelatedIps, &[id]);
    /// IPs related to an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call alert_ips -> ODataList<AlertIp>;
    /// `GET /api/alerts/{id}/machine`.
    fn related_machine_call(id: &AlertId) -> Call = request(Endpoint::MdeAlertsRelatedMachine, &[id]);
    /// The machine of an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call alert_machine -> Machine;
    /// `GET /api/alerts/{id}/user`.
    fn related_user_call(id: &AlertId) -> Call = request(Endpoint::MdeAlertsRelatedUser, &[id]);
    /// The user of an alert.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call alert_user -> MdeUser;
}
