//! defender-shared — the library every defender-functions Lambda builds on, and the only crate that
//! talks to Microsoft.
//!
//! A function builds its state once per cold start: [`config::Config`] from the environment, a
//! [`tenants::TenantRegistry`], a [`vault::SecretStore`] (Azure Key Vault through the official SDK, or a
//! local file), a [`auth::TokenProvider`] (application or user context), and a
//! [`defender::DefenderClient`] over one HTTP client. Everything is keyed by tenant, so one customer's
//! throttling or broken credential never touches another's.
//!
//! # Layout
//! - [`clock`] — the one injected `Clock` (wall-clock and monotonic) and `Deadline` (a Lambda's
//!   remaining time, `Deadline::from_lambda_ms`), `now_unix`.
//! - [`config`] — `Config::from_env` / `from_lookup`: the only place environment variables are read.
//! - [`cloud`] — one table: cloud × API family → authority host, `.default` scope, API host.
//! - [`tenant_spec`] — what a tenant is (allowed actions, identity, credential, API overrides): the
//!   types both `config` and `tenants` describe tenants with.
//! - [`tenants`] — the tenant registry (MSSP mode) with single-tenant env config as its one-entry case.
//! - [`ids`] — validated newtypes: tenant/client ids, machine/alert/incident/action ids, indicators.
//! - [`senders`] — webhook senders (MSSP): each with its own signing keys, bound to its tenants.
//! - [`settings`] — readers for the functions' own settings and their one error, `SettingError`.
//! - [`secret`] — `SecretString`: redacted `Debug`, no `Display`.
//! - [`http`] — the one reqwest client (rustls, redirects off, optional extra CA for local mode).
//! - [`vault`] — `SecretStore`: Key Vault (official SDK), file store, TTL cache with single-flight.
//! - [`auth`] — `TokenProvider`: client secret, certificate and federated assertions, device code and
//!   rotating refresh tokens; one cache; `azure_core` `TokenCredential` for the Key Vault SDK.
//! - [`defender`] — `DefenderClient`: typed calls for every documented endpoint, paging streams,
//!   retries within a deadline, the quota governor, OData/KQL escaping, the permission manifest.
//! - [`events`] — SOC pipeline events on an EventBridge bus: three detail-types (schemas in
//!   `docs/events/`), published best effort, bounded, never failing the product's work.
//! - [`doctor`] — the permission self-check (token claims vs. the permission manifest).
//! - `lambda` (feature `lambda`) — the binaries' edge: `init`, `serve_http` (request id, cold start,
//!   metrics per request), `serve_events`.
//! - [`runtime`] — cold-start wiring: config → HTTP client, store, registry, tokens, Defender client.
//! - [`metrics`] — CloudWatch EMF: per-invocation counters, documents, the spec check.
//! - [`telemetry`] — the one tracing set-up: JSON lines under Lambda's JSON log format with service,
//!   cold start, request id, tenant, correlation id and audit objects; text locally.
//! - [`webhook`] — inbound signatures (Standard Webhooks, GitHub, Slack v0, Teams) in constant time,
//!   with a replay window.

pub mod auth;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod defender;
pub mod doctor;
pub mod events;
pub mod http;
pub mod ids;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod metrics;
pub mod runtime;
pub mod secret;
pub mod senders;
pub mod settings;
pub mod telemetry;
pub mod tenant_spec;
pub mod tenants;
pub mod vault;
pub mod webhook;
