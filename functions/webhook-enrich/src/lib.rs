//! webhook-enrich — a SIEM, a ticketing system or a detection pipeline POSTs an alert or a bag of
//! indicators; the function answers with what Defender knows about them.
//!
//! # Layout
//! - [`request`] — the documented request schema, parsed into typed indicators; every invalid value is
//!   kept and reported back per item, never silently dropped and never near a query.
//!   Its child [`request::extract`] finds the indicators in a free-form alert payload.
//! - [`enrich`] — the use case over the [`enrich::DefenderLookups`] trait: bounded fan-out, each
//!   distinct lookup once, per-item errors within the deadline.
//! - [`config`] — the function's own settings (webhook secret names).
//! - [`defender`] — the production lookups, on the shared `TenantClient` (one tenant, one deadline).
//! - [`hunting`] — the allow-list of named hunting queries, bound only to typed indicators.
//! - [`events`] — the SOC event of a verdict at or above a severity (EventBridge, best effort).
//! - [`handler`] — the Lambda adapter: size limit, signature, replay, parse, run, respond.
//! - [`response`] — the response document and its summary verdict.
//! - [`state`] — cold-start state: the shared runtime, tenant resolution, the background warm-up
//!   (secrets and tokens at once) and the permission self-check on its tokens.

pub mod config;
pub mod defender;
pub mod enrich;
pub mod events;
pub mod handler;
pub mod hunting;
pub mod request;
pub mod response;
pub mod state;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_debug_implementations)]
pub(crate) mod testing;

use defender_shared::defender::Endpoint;

/// Every documented endpoint the enrichment may call (checked by `defender-functions doctor` and at
/// cold start against the token's permissions).
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint::MdeAlertsGet,
    Endpoint::MdeMachinesGet,
    Endpoint::MdeMachinesList,
    Endpoint::MdeMachinesFindByIp,
    Endpoint::MdeMachinesLogonUsers,
    Endpoint::MdeMachinesAlerts,
    Endpoint::MdeFilesGet,
    Endpoint::MdeFilesStats,
    Endpoint::MdeFilesAlerts,
    Endpoint::MdeFilesMachines,
    Endpoint::MdeIpsStats,
    Endpoint::MdeIpsAlerts,
    Endpoint::MdeDomainsStats,
    Endpoint::MdeDomainsAlerts,
    Endpoint::MdeDomainsMachines,
    Endpoint::MdeUsersAlerts,
    Endpoint::MdeUsersMachines,
    Endpoint::XdrIncidentsGet,
    Endpoint::GraphSecurityRunHuntingQuery,
];
