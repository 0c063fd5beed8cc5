//! The Defender client: one typed client for Defender for Endpoint, Defender XDR and Graph security.
//!
//! # Layout
//! - [`client`] — `DefenderClient`, the [`Call`] descriptor, sending with retries inside a [`Deadline`],
//!   paging as a `Stream`. (core work)
//! - [`error`] — `DefenderError`: status, service code, `retry_after`, `is_retryable()`. (core work)
//! - `governor` — client-side pacing from the documented limits. (core work)
//! - `models` / `api` — models for every documented endpoint and the typed calls built on [`Call`];
//!   `odata` / `kql` — filter and query building from typed values; `permissions` — the manifest.
//!   (api work)
//! - [`models`] — models for every documented endpoint: unknown fields kept, open enums, lenient ids.
//! - [`api`] — the typed calls (`*_call` builders and `DefenderClient` methods), `ListQuery`, `ENDPOINTS`.
//! - [`odata`] — the typed `$filter` builder (fields from fixed per-resource sets, escaped literals).
//! - [`kql`] — allow-listed hunting templates with typed, escaped parameters.
//! - [`permissions`] — the permission manifest and the `doctor` check (`needs`, `missing`).

pub mod api;
pub mod client;
pub mod error;
pub mod kql;
pub mod models;
pub mod odata;
pub mod permissions;

pub use client::{Call, Deadline, DefenderClient};
pub use error::DefenderError;
