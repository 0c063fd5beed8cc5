//! The Defender client: one typed client for Defender for Endpoint, Defender XDR and Graph security.
//!
//! # Layout
//! - [`client`] — `DefenderClient`, the [`Call`] descriptor, the tenants' API targets
//!   ([`TargetResolver`], [`StaticTargets`]), sending inside a [`Deadline`], paging as a `Stream`.
//! - [`error`] — `DefenderError`: status, service code and request id, `retry_after`, `is_retryable()`.
//! - [`retry`] — what is retried, how long, the idempotency rule; the injectable clock.
//! - [`governor`] — client-side pacing per tenant from a table of documented quota scopes.
//! - [`items`] — a list page read as it streams in: items cut out of the body one at a time.
//! - [`models`] — models for every documented endpoint: unknown fields kept, open enums, lenient ids.
//! - [`api`] — the typed calls (`*_call` builders and `DefenderClient` methods), `ListQuery`, `ENDPOINTS`.
//! - [`odata`] — the typed `$filter` builder (fields from fixed per-resource sets, escaped literals).
//! - [`kql`] — allow-listed hunting templates with typed, escaped parameters.
//! - [`permissions`] — the permission manifest and the `doctor` check (`needs`, `missing`).

pub mod api;
pub mod client;
pub mod error;
pub mod governor;
pub mod items;
pub mod kql;
pub mod models;
pub mod odata;
pub mod permissions;
pub mod retry;

pub use client::{ApiTarget, StaticTargets, TargetResolver};
pub use client::{Call, Deadline, DefenderClient};
pub use error::DefenderError;
