//! MDE indicators: list, submit, import, delete, batch delete.

use super::MDE_MAX_PAGE;
use crate::defender::{
    DefenderClient,
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
    /// Submits (or updates) an indicator.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call submit_indicator(req: &IndicatorSubmit) -> Indicator = submit_call: with_body(MdeIndicatorsSubmit, &[], req);
    /// Imports up to 500 indicators; the answer reports each item (check `is_failed` on every one).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call import_indicators(req: &IndicatorImport) -> ODataList<IndicatorImportResult> =
        import_call: with_body(MdeIndicatorsImport, &[], req);
    /// Deletes an indicator.
    ///
    /// # Errors
    /// As [`DefenderClient::call_empty`] (`404` when unknown).
    call_empty delete_indicator(id: &IndicatorId) -> () = delete_call: request(MdeIndicatorsDelete, &[id]);
    /// Deletes up to 500 indicators.
    ///
    /// # Errors
    /// As [`DefenderClient::call_empty`] (`404` when any id is unknown).
    call_empty batch_delete_indicators(req: &IndicatorBatchDelete) -> () =
        batch_delete_call: with_body(MdeIndicatorsBatchDelete, &[], req);
}
