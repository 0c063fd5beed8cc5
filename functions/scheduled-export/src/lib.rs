//! scheduled-export — an EventBridge schedule runs it; it pulls what changed in Defender since the last
//! run and writes it to S3 (gzip JSON Lines) for a data lake or SIEM, losing and duplicating nothing at
//! page and timestamp boundaries. The guarantee is stated exactly in [`export`].
//!
//! # Layout
//! - [`export`] — the use case over the narrow [`export::Source`] and [`sink::Sink`] traits: closed
//!   time windows read completely with `$filter`/`$top`/`$skip` (no order assumed), deterministic
//!   object keys, the cursor committed after the data.
//!   - [`export::hunting`] — hunting streams: a configured query cut into time slices, halved when an
//!     answer is truncated or over a quota, resumed from the last finished slice (a child of the
//!     export: it uses the run's cursor, sink and summary, and the export dispatches to it).
//! - [`cursor`] — the committed per-(tenant, stream) state: the mark of completed windows + the ids
//!   written since `mark − overlap`.
//! - [`sink`] — the sink trait and [`sink::DirSink`] (a local directory, for `make run`).
//! - [`s3`] — [`s3::S3Sink`]: `aws-sdk-s3`, conditional writes for the cursor.
//! - [`defender`] — the production source: the shared client's typed list pages.
//! - [`events`] — the SOC event of each stream's run (EventBridge, best effort).
//! - [`config`] — the function's own settings (sink, streams, overlap, deadline margin).
//! - [`handler`] — the Lambda adapter: the EventBridge Scheduler event (or a backfill request) in, the
//!   run summary out, and the same summary as EMF metrics.
//! - [`fanout`] — MSSP fan-out: the schedule enqueues one SQS FIFO job per (tenant, stream)
//!   (group = tenant), the `export-worker` binary runs one job per message with the same cursor rules.
//! - [`invoke`] — one Lambda invocation: event in, the run inside its invocation, SOC events out.
//! - [`cli`] — the binary's command line (`backfill --from .. --to ..`) and the progress bar.
//! - [`state`] — cold-start state: the shared runtime, the sink.

pub mod cli;
pub mod config;
pub mod cursor;
pub mod defender;
pub mod events;
pub mod export;
pub mod fanout;
pub mod handler;
pub mod invoke;
pub mod s3;
pub mod sink;
pub mod state;

use defender_shared::defender::Endpoint;
/// The hunting streams, at their old path for callers (they live in [`export::hunting`]).
pub use export::hunting;

/// Every documented endpoint the export may call.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint::XdrIncidentsList,
    Endpoint::MdeAlertsList,
    Endpoint::GraphSecurityAlertsV2List,
    Endpoint::GraphSecurityIncidentsList,
    Endpoint::GraphSecurityRunHuntingQuery,
];
