//! MDE indicators: list, submit, import, delete, batch delete.

use super::{ListQuery, MDE_MAX_PAGE, delete, get_with, post, seg};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
        models::{
            ODataList,
            indicators::{
                Indicator, IndicatorBatchDelete, IndicatorId, IndicatorImport, IndicatorImportResult, IndicatorSubmit,
            },
        },
        odata::resource::Indicators,
    },
    ids::TenantName,
};
use futures::stream::BoxStream;

/// `GET /api/indicators` (stream: no `$top`).
pub fn list_call(q: &ListQuery<Indicators>) -> Call {
    get_with(Endpoint::MdeIndicatorsList, "/api/indicators".into(), q.stream_query())
}
/// `GET /api/indicators?$top=..` (one page).
pub fn list_page_call(q: &ListQuery<Indicators>) -> Call {
    get_with(Endpoint::MdeIndicatorsList, "/api/indicators".into(), q.page_query(MDE_MAX_PAGE))
}
/// `POST /api/indicators`.
///
/// # Errors
/// As [`super::with_body`].
pub fn submit_call(req: &IndicatorSubmit) -> Result<Call, DefenderError> {
    post(Endpoint::MdeIndicatorsSubmit, "/api/indicators".into(), req)
}
/// `POST /api/indicators/import`.
///
/// # Errors
/// As [`super::with_body`].
pub fn import_call(req: &IndicatorImport) -> Result<Call, DefenderError> {
    post(Endpoint::MdeIndicatorsImport, "/api/indicators/import".into(), req)
}
/// `DELETE /api/indicators/{id}`.
pub fn delete_call(id: &IndicatorId) -> Call {
    delete(Endpoint::MdeIndicatorsDelete, format!("/api/indicators/{}", seg(id.as_str())))
}
/// `POST /api/indicators/BatchDelete`.
///
/// # Errors
/// As [`super::with_body`].
pub fn batch_delete_call(req: &IndicatorBatchDelete) -> Result<Call, DefenderError> {
    post(Endpoint::MdeIndicatorsBatchDelete, "/api/indicators/BatchDelete".into(), req)
}

impl<T: TokenSource> DefenderClient<T> {
    /// All indicators matching `query`, page by page (page size: `query.top`, at most 10,000).
    pub fn indicators<'a>(
        &'a self,
        tenant: &'a TenantName,
        query: &ListQuery<Indicators>,
        deadline: Deadline,
    ) -> BoxStream<'a, Result<Vec<Indicator>, DefenderError>> {
        self.pages(tenant, list_call(query), query.page_size(MDE_MAX_PAGE), deadline)
    }

    /// One page of indicators.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn indicators_page(
        &self,
        tenant: &TenantName,
        query: &ListQuery<Indicators>,
        deadline: Deadline,
    ) -> Result<ODataList<Indicator>, DefenderError> {
        self.call(tenant, list_page_call(query), deadline).await
    }

    /// Submits (or updates) an indicator.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn submit_indicator(
        &self,
        tenant: &TenantName,
        req: &IndicatorSubmit,
        deadline: Deadline,
    ) -> Result<Indicator, DefenderError> {
        self.call(tenant, submit_call(req)?, deadline).await
    }

    /// Imports up to 500 indicators; the answer reports each item (check `is_failed` on every one).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn import_indicators(
        &self,
        tenant: &TenantName,
        req: &IndicatorImport,
        deadline: Deadline,
    ) -> Result<ODataList<IndicatorImportResult>, DefenderError> {
        self.call(tenant, import_call(req)?, deadline).await
    }

    /// Deletes an indicator.
    ///
    /// # Errors
    /// As [`DefenderClient::call_empty`] (`404` when unknown).
    pub async fn delete_indicator(
        &self,
        tenant: &TenantName,
        id: &IndicatorId,
        deadline: Deadline,
    ) -> Result<(), DefenderError> {
        self.call_empty(tenant, delete_call(id), deadline).await
    }

    /// Deletes up to 500 indicators.
    ///
    /// # Errors
    /// As [`DefenderClient::call_empty`] (`404` when any id is unknown).
    pub async fn batch_delete_indicators(
        &self,
        tenant: &TenantName,
        req: &IndicatorBatchDelete,
        deadline: Deadline,
    ) -> Result<(), DefenderError> {
        self.call_empty(tenant, batch_delete_call(req)?, deadline).await
    }
}
