//! Advanced hunting: Graph (`/security/runHuntingQuery`, `ThreatHunting.Read.All`), which every
//! function uses; MDE (`/api/advancedqueries/run`) and XDR (`/api/advancedhunting/run`) stay here,
//! **retiring** (Microsoft message MC1220762: "retirement began in January 2026") and marked
//! `#[deprecated]`, so no caller outside their own tests uses them. Queries come only from
//! [`HuntingQuery`](crate::defender::kql::HuntingQuery) templates.
//!
//! Graph answers `{schema: [{name, type}], results}` (camelCase keys, read by the same
//! [`HuntingResponse`]); its errors for a query that is too expensive are those of the hunting service
//! behind it: 429 when the tenant's CPU quota for the 15-minute cycle is spent, 400 when the result
//! exceeds the allowed size or the query times out (see the export's window halving).

use crate::defender::{
    DefenderClient,
    models::hunting::{GraphHuntingRequest, HuntingRequest, HuntingResponse},
};

calls! {
    /// Runs a hunting query through the MDE API (last 30 days, 100,000 rows, 45 calls/min).
    /// Retiring: use [`DefenderClient::graph_hunt`].
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`400` for a bad query or an oversized result, `429` with the
    /// exhausted quota in the body).
    #[deprecated(note = "retiring (MC1220762): use graph_hunt (Graph runHuntingQuery)")]
    #[allow(deprecated)]
    call mde_hunt(req: &HuntingRequest) -> HuntingResponse =
        /// Retiring: see [`graph_run_call`].
        #[deprecated(note = "retiring (MC1220762): use graph_run_call (Graph runHuntingQuery)")]
        mde_run_call: with_body(MdeAdvancedHuntingRun, &[], req);
    /// Runs a hunting query through the XDR API (answers `Stats` too). Retiring: use
    /// [`DefenderClient::graph_hunt`].
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    #[deprecated(note = "retiring (MC1220762): use graph_hunt (Graph runHuntingQuery)")]
    #[allow(deprecated)]
    call xdr_hunt(req: &HuntingRequest) -> HuntingResponse =
        /// Retiring: see [`graph_run_call`].
        #[deprecated(note = "retiring (MC1220762): use graph_run_call (Graph runHuntingQuery)")]
        xdr_run_call: with_body(XdrAdvancedHuntingRun, &[], req);
    /// Runs a hunting query through Graph `runHuntingQuery` (optional `Timespan`; default 30 days):
    /// the hunting call every function uses.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call graph_hunt(req: &GraphHuntingRequest) -> HuntingResponse =
        graph_run_call: with_body(GraphSecurityRunHuntingQuery, &[], req);
}
