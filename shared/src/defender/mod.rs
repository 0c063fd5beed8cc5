//! The Defender client: one typed client for Defender for Endpoint, Defender XDR and Graph security.
//!
//! # Layout
//! - [`client`] — `DefenderClient`, the [`Call`] descriptor, the tenants' API targets
//!   ([`TargetResolver`], [`StaticTargets`]), sending inside a [`Deadline`], paging as a `Stream`.
//!   (core work)
//! - [`error`] — `DefenderError`: status, service code and request id, `retry_after`, `is_retryable()`.
//!   (core work)
//! - [`retry`] — what is retried, how long, the idempotency rule; the injectable clock. (core work)
//! - [`governor`] — client-side pacing per tenant from the documented limits. (core work)
//! - `models` / `api` — models for every documented endpoint and the typed calls built on [`Call`];
//!   `odata` / `kql` — filter and query building from typed values; `permissions` — the manifest.
//!   (api work)

pub mod client;
pub mod error;
pub mod governor;
pub mod retry;

pub use client::{ApiTarget, StaticTargets, TargetResolver};
pub use client::{Call, Deadline, DefenderClient};
pub use error::DefenderError;
