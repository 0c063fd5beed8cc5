//! defender-soak — the project measuring its own robustness: the fuzz target bodies, the soak under
//! injected faults, and the scan of every log and answer for secrets.
//!
//! # Layout
//! - [`targets`] — one `fn(&[u8])` per fuzz target, each asserting a property; `fuzz/fuzz_targets/*`
//!   wrap them for `cargo fuzz`, `tests/replay.rs` runs the committed corpus through them on stable.
//! - [`harness`] (feature `harness`, on by default) — the simulated tenant, both functions' handlers
//!   built from the real runtime, log capture, the Slack `response_url` receiver.
//! - [`soak`] (feature `harness`) — the soak: webhook requests and chat-ops clicks at a fixed
//!   concurrency under seeded Defender faults and a vault outage window; figures and verdicts.
//!
//! The binary `defender-soak` (`make soak`) runs [`soak`] with the full numbers; `tests/soak.rs` runs a
//! short version in `make test`; `tests/secrets.rs` is the secret scan.

pub mod targets;

#[cfg(feature = "harness")]
pub mod harness;
#[cfg(feature = "harness")]
pub mod soak;
