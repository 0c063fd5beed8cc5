//! defender-bench — `make bench`'s measuring parts, shared by its binaries: `defender-bench` (the one
//! table in `bench/results.md`, `main.rs`) and the parts that also run alone (`export-bench`,
//! `fanout-bench`, `signature-bench`).
//!
//! # Layout
//! - `functions` (a module of the `defender-bench` binary, which alone uses it) — webhook-enrich's
//!   release binary and the Python handler, each in fresh processes under the Runtime API emulator:
//!   cold start, warm latency, peak RSS (medians of `--runs`).
//! - [`economy`] — token requests and vault reads for 100 invocations: 100 concurrent callers in one
//!   process (shared `TokenProvider` + `CachedStore`), and 100 sequential invocations of one container.
//! - [`artifact`] — deployment zip sizes (both zipped by `bench/zip_artifact.py`).
//! - [`size`] — the release sizes of the five Lambda binaries.
//! - [`client`] — the shared library alone: token cache, per-call overhead, paging throughput and memory.
//! - [`export`] — the scheduled export of 1,000,000 alerts: records/s, RSS, calls against the minimum.
//! - [`fanout`] — the MSSP fan-out: 500 tenants × 2 streams in one schedule period.
//! - [`signature`] — the cost of refusing an unauthenticated webhook.
//! - [`sim`] — the simulator in its own process (optionally with injected latency), its request log
//!   counted and its timeline read back (sequential round trips before the first answer).
//! - [`setup`] — a function's environment and runtime pointed at a simulator (the test kit's
//!   variables), for the parts that build a runtime in process.
//! - [`part`] — a part in its own process: the two-column table its binary prints, and
//!   `defender-bench` running that binary and reading the rows back (so a part's memory is its own).
//! - [`table`] — the one table, medians and ratios.

pub mod artifact;
pub mod client;
pub mod economy;
pub mod export;
pub mod fanout;
pub mod part;
pub mod setup;
pub mod signature;
pub mod sim;
pub mod size;
pub mod table;

/// Errors end the bench with a message; nothing here is a library for others.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
