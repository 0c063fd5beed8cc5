//! Advanced hunting: MDE (`/api/advancedqueries/run`), XDR (`/api/advancedhunting/run`) and Graph
//! (`/security/runHuntingQuery`, the one Microsoft recommends). Queries come only from
//! [`HuntingQuery`](crate::defender::kql::HuntingQuery) templates.

use super::post;
use crate::{
    auth::TokenSource,
    cloud::ApiFamily,
    defender::{
        Call, Deadline, DefenderClient, DefenderError,
        models::hunting::{GraphHuntingRequest, HuntingRequest, HuntingResponse},
    },
    ids::TenantName,
};

/// `POST /api/advancedqueries/run` (MDE).
///
/// # Errors
/// As [`super::with_body`].
pub fn mde_run_call(req: &HuntingRequest) -> Result<Call, DefenderError> {
    post("mde.advanced_hunting.run", ApiFamily::Mde, "/api/advancedqueries/run".into(), req)
}
/// `POST /api/advancedhunting/run` (XDR).
///
/// # Errors
/// As [`super::with_body`].
pub fn xdr_run_call(req: &HuntingRequest) -> Result<Call, DefenderError> {
    post("xdr.advanced_hunting.run", ApiFamily::Xdr, "/api/advancedhunting/run".into(), req)
}
/// `POST /security/runHuntingQuery` (Graph).
///
/// # Errors
/// As [`super::with_body`].
pub fn graph_run_call(req: &GraphHuntingRequest) -> Result<Call, DefenderError> {
    post("graph.security.run_hunting_query", ApiFamily::Graph, "/security/runHuntingQuery".into(), req)
}

impl<T: TokenSource> DefenderClient<T> {
    /// Runs a hunting query through the MDE API (last 30 days, 100,000 rows, 45 calls/min).
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` for a bad query or an oversized result, `429` with the
    /// exhausted quota in the body).
    pub async fn mde_hunt(
        &self,
        tenant: &TenantName,
        req: &HuntingRequest,
        deadline: Deadline,
    ) -> Result<HuntingResponse, DefenderError> {
        self.call(tenant, mde_run_call(req)?, deadline).await
    }

    /// Runs a hunting query through the XDR API (answers `Stats` too).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn xdr_hunt(
        &self,
        tenant: &TenantName,
        req: &HuntingRequest,
        deadline: Deadline,
    ) -> Result<HuntingResponse, DefenderError> {
        self.call(tenant, xdr_run_call(req)?, deadline).await
    }

    /// Runs a hunting query through Graph (optional `Timespan`).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn graph_hunt(
        &self,
        tenant: &TenantName,
        req: &GraphHuntingRequest,
        deadline: Deadline,
    ) -> Result<HuntingResponse, DefenderError> {
        self.call(tenant, graph_run_call(req)?, deadline).await
    }
}
