//! webhook-enrich — a SIEM, a ticketing system or a detection pipeline POSTs an alert or a bag of
//! indicators; the function answers with what Defender knows about them.
//!
//! # Layout
//! - [`request`] — the documented request schema, parsed into typed indicators; every invalid value is
//!   kept and reported back per item, never silently dropped and never near a query.
//! - [`extract`] — indicators found in a free-form alert payload.

pub mod extract;
pub mod request;
