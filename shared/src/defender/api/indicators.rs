//! MDE indicators: list, submit, import, delete, batch delete.

use super::{MDE_MAX_PAGE, request, with_body};
use crate::defender::{
    Call, DefenderClient, DefenderError, Endpoint,
    models::{
        ODataList,
        indicators::{
            Indicator, IndicatorBatchDelete, IndicatorId, IndicatorImport, IndicatorImportResult, IndicatorSubmit,
        },
    },
    odata::resource::Indicators,
};

lists! {
    /// All indicators matching `query`, page by page (page size: `query.top`, at most 10,000).
    stream indicators -> Indicator = list_call(Indicators, MdeIndicatorsList, MDE_MAX_PAGE);
    /// One page of indicators.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    page indicators_page -> ODataList<Indicator> = list_page_call;
}

calls! {
    /// `POST /api/indicators`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn submit_call(req: &IndicatorSubmit) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeIndicatorsSubmit, &[], req);
    /// Submits (or updates) an indicator.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call submit_indicator -> Indicator;
    /// `POST /api/indicators/import`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn import_call(req: &IndicatorImport) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeIndicatorsImport, &[], req);
    /// Imports up to 500 indicators; the answer reports each item (check `is_failed` on every one).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call import_indicators -> ODataList<IndicatorImportResult>;
    /// `DELETE /api/indicators/{id}`.
    fn delete_call(id: &IndicatorId) -> Call = request(Endpoint::MdeIndicatorsDelete, &[id]);
    /// Deletes an indicator.
    ///
    /// # Errors
    /// As [`DefenderClient::call_empty`] (`404` when unknown).
    call_empty delete_indicator -> ();
    /// `POST /api/indicators/BatchDelete`.
    ///
    /// # Errors
    /// As [`super::with_body`].
    fn batch_delete_call(req: &IndicatorBatchDelete) -> Result<Call, DefenderError>
        = with_body(Endpoint::MdeIndicatorsBatchDelete, &[], req);
    /// Deletes up to 500 indicators.
    ///
    /// # Errors
    /// As [`DefenderClient::call_empty`] (`404` when any id is unknown).
    call_empty batch_delete_indicators -> ();
}
