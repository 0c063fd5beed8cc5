//! The Defender client: one typed client for Defender for Endpoint, Defender XDR and Graph security.
//!
//! # Layout
//! - [`endpoint`] — [`Endpoint`], generated from the contract: one variant per documented endpoint with
//!   its name, method, path template, API family, permissions, page rate limits and source page.
//! - [`client`] — `DefenderClient`, the [`Call`] descriptor, the tenants' API targets
//!   ([`TargetResolver`], [`StaticTargets`]), sending inside a [`Deadline`], paging as a `Stream`.
//! - [`tenant`] — `TenantClient`: the shared client, one tenant, one deadline (what functions
//!   implement their narrow use-case traits on).
//! - [`error`] — `DefenderError`: status, service code and request id, `retry_after`, `is_retryable()`;
//!   `classify()` into the caller-facing `Failure`.
//! - [`retry`] — what is retried, how long, the idempotency rule (waits on the one `crate::clock::Clock`).
//! - [`governor`] — client-side pacing per tenant from each endpoint's page limits and a table of
//!   documented cross-endpoint quota scopes.
//! - [`items`] — a list page read as it streams in: items cut out of the body one at a time.
//! - [`models`] — models for every documented endpoint: unknown fields kept, open enums, lenient ids.
//! - [`api`] — the typed calls (`*_call` builders and `DefenderClient` methods), `ListQuery`.
//! - [`odata`] — the typed `$filter` builder (fields from fixed per-resource sets, escaped literals).
//! - [`kql`] — allow-listed hunting templates with typed, escaped parameters.
//! - `literal` — the typed values both query builders accept as literals (one list of conversions).
//! - [`permissions`] — the grant and the `doctor` check over [`Endpoint::permissions`] (`missing`, `excess`).

pub mod api;
pub mod client;
pub mod endpoint;
pub mod error;
pub mod governor;
pub mod items;
pub mod kql;
mod literal;
pub mod models;
pub mod odata;
pub mod permissions;
pub mod retry;
pub mod tenant;

pub use client::{ApiTarget, StaticTargets, TargetResolver};
pub use client::{Call, Deadline, DefenderClient};
pub use endpoint::Endpoint;
pub use error::{DefenderError, Failure};
pub use tenant::TenantClient;
