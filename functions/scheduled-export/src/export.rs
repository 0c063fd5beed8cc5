//! The export use case: for one (tenant, stream), everything that changed since the committed cursor,
//! window by window and page by page to the sink, the cursor committed after each page's object.
//!
//! # How a run reads
//! Only documented query options are sent: `$filter` on the record's time field (`ge a and lt b`),
//! `$top` (the stream's maximum page) and `$skip`. No order is assumed — none of these lists
//! documents `$orderby`, XDR's "most recent first" is not relied on, nor is Graph's
//! `@odata.nextLink` (`alerts_v2` omits it when `$top` is given). What is assumed is what makes the
//! documented `$skip` usable at all: while the set matching a filter is unchanged, the service lists
//! it in one order, and versions that stay keep their relative order when others leave.
//!
//! - The run's range starts at `mark − overlap` (the whole history before the first mark; a
//!   backfill's `[from, to)`). Its first page (`$skip=0`) is usually all of it: fewer than `$top`
//!   records complete the range in one call.
//! - Otherwise that page is a sample: the range is cut into **closed windows** `[a, b)`, in ascending
//!   time, each read completely before the next. Windows are sized from the sample and then from the
//!   previous window's count (about [`WINDOW_PAGES`] pages); on the first run a lower bound is found
//!   below the sample, four times further each try, until what lies below it fits in one page.
//!   Windows end at the latest time seen; the last one is open (or ends at the backfill's `to`).
//! - A window is read with `$skip` pages that **overlap by one** (`$skip` advances by `$top − 1`).
//!   Every page after the first must begin with a version this pass has read; if it does not, a
//!   version earlier in the service's order left the window (it was updated) and the rest moved up,
//!   so the pass steps back a page until it does. A window ends at a verified page shorter than
//!   `$top`: then no version present throughout the pass was passed over. A run of ties at one
//!   instant longer than a page (300 records sharing one `lastUpdateTime`) is just a window read by
//!   `$skip`.
//! - Each page is sorted by `(time, id)`, its versions already in the cursor are skipped and the rest
//!   written as one gzip JSON Lines object, then the cursor is committed with a conditional write:
//!   the new versions, and when the page completes its window, the mark moved to the window's end
//!   (an open window: the latest time it held).
//! - Calls: a window of `n` records costs `⌊(n − 1)/($top − 1)⌋ + 1` pages (one more when
//!   `n − 1` is a multiple of `$top − 1`), plus one page back per shift detected. A run over `N`
//!   records makes at most `ceil(N / ($top − 1)) + W + 1` calls without changes under way, with `W`
//!   the number of windows (about `N / (8·$top)` plus the few of a first sizing) and, on a first
//!   run, the lower-bound probes (`log4` of how far below the sample the data starts). The tests
//!   assert `calls ≤ ceil(N / $top) · 5/4 + 8`; docs/export.md gives the measured figures.
//!
//! # Delivery guarantee
//! A record version is the pair `(id, lastUpdateTime)`; an update is a new version, exported again.
//! - **No loss** of any version that is visible to the API while its `lastUpdateTime` is at or above
//!   `mark − overlap`: every version below the committed mark that was present while its window was
//!   read was returned by a committed page (a window completes only at a verified short page, and
//!   the mark only moves past completed windows); versions inside the overlap window that no
//!   committed page wrote (late arrivals, a window cut half-way, updates made while the open window
//!   was read) are read again by the next run. A version that becomes visible more than `overlap`
//!   after the mark passed it, or that is replaced by a newer one between two runs, is never seen
//!   (nothing polling could see it).
//! - **Objects: at-least-once.** An object is written before the cursor that covers it; a run that
//!   stops between the two (crash, deadline, store error, a lost race) leaves an object the next run
//!   writes again. Keys are deterministic — `tenant=…/stream=…/date=<from's date>/<from>_<to>_<first
//!   id>.jsonl.gz` from the versions in it — and the next run starts from the same committed cursor
//!   and cuts the same windows (they depend only on the cursor and the answers, never on a clock),
//!   so if Defender's answer is unchanged it rebuilds the same pages and **overwrites** the same keys.
//! - **Exactly-once per `(id, lastUpdateTime)` in the union of objects** holds when every uncommitted
//!   object is rewritten by an identical retry (the cases tested: a retry after a failed cursor write,
//!   a run cut at its deadline, two concurrent runs over the same data). If Defender's answer changed
//!   between the failed attempt and the retry, the orphan object can hold versions the retry writes
//!   under another key: consumers dedupe by `(id, lastUpdateTime)`, which is always sufficient.
//! - **Two overlapping runs cannot both advance the cursor**: every cursor write is conditional
//!   (`If-None-Match: *` for the first, `If-Match: <etag>` after). A run first takes a *lease* in the
//!   cursor (its id and its deadline) with such a write, before it reads Defender; a second run that
//!   finds a live lease, or loses the race to write one, stops at once ([`Outcome::Conflict`]) having
//!   written nothing. The lease is released at the end; a run killed at its deadline leaves one that
//!   has expired by then, so the next run takes over from the last committed page.
//!
//! # Record fidelity
//! Each line is one JSON object `{"tenant":…,"stream":…,"record":…}`: the tenant's and stream's
//! names (as in the object's key), and as `record` the item as Defender returned it — the bytes of
//! that item in the page's JSON, verbatim, with its nulls, unknown members, key order and number
//! spellings, never our model re-serialised (a hunting row: the row as the service's JSON answer
//! held it). The envelope only adds bytes before and after the item's; a line break inside an item
//! (an answer sent pretty-printed: JSON allows CR/LF only between tokens) becomes a space, so a
//! record is always one line and its value unchanged. The
//! typed view is used only for the cursor (`id`, time); an item our model cannot read is written all
//! the same, logged (id, member, kind of failure; never a value) and counted in
//! [`StreamSummary::undecodable`].
//!
//! # Records without a usable time
//! An item with no time field, or one that does not parse, has the version `(MIN, id)`: it is
//! written with the page that returned it (the first, unfiltered page of a range too, which is
//! otherwise only a sample), sorts first in that page's object, never moves the mark or the
//! high-water mark, and is forgotten by the cursor once a mark exists; so every run whose query
//! returns it exports it again (consumers dedupe by id). It is counted in
//! [`StreamSummary::untimed`]. A time-filtered query cannot match such an item, so only an
//! unfiltered page (a first run's, or a backfill without bounds) can return it: polling by time cannot
//! promise more for a record the service gives no time.
//!
//! Memory is one page (at most 10,000 alerts) plus the identities of the overlap window and of the
//! window being read (windows are sized for about 40,000), whatever the volume.

use crate::cursor::{Cursor, Lease, Version};
pub use crate::hunting::HuntingSpec;
use crate::sink::{ETag, Sink, SinkError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use defender_shared::defender::{
    Deadline, DefenderError,
    kql::{KqlError, KqlQuery},
};
use flate2::{Compression, write::GzEncoder};
use serde::Serialize;
use std::{fmt, io::Write, str::FromStr};

/// A list stream: records with an id and a last-update time, read by closed time windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamKind {
    /// Defender XDR incidents (with their alerts), `/api/incidents`, by `lastUpdateTime`.
    XdrIncidents,
    /// MDE alerts with `$expand=evidence`, `/api/alerts`, by `lastUpdateTime`.
    MdeAlerts,
    /// Graph `alerts_v2`, `/security/alerts_v2`, by `lastUpdateDateTime`.
    GraphAlerts,
    /// Graph incidents, `/security/incidents`, by `lastUpdateDateTime`.
    GraphIncidents,
}

impl StreamKind {
    /// Every list stream.
    pub const ALL: [StreamKind; 4] =
        [StreamKind::XdrIncidents, StreamKind::MdeAlerts, StreamKind::GraphAlerts, StreamKind::GraphIncidents];

    /// The streams enabled when `EXPORT_STREAMS` is not set (the Graph ones need Graph permissions).
    pub const DEFAULT: [StreamKind; 2] = [StreamKind::XdrIncidents, StreamKind::MdeAlerts];

    /// The name in keys, settings and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::XdrIncidents => "xdr-incidents",
            Self::MdeAlerts => "mde-alerts",
            Self::GraphAlerts => "graph-alerts",
            Self::GraphIncidents => "graph-incidents",
        }
    }

    /// The page size asked for: the documented maximum `$top` (MDE 10,000, XDR incidents 100); Graph
    /// documents no maximum, so the shared client's
    /// [`GRAPH_PAGE`](defender_shared::defender::api::GRAPH_PAGE) (50: the live `security/incidents`
    /// refuses more).
    pub fn max_page(self) -> usize {
        use defender_shared::defender::api::{GRAPH_PAGE, MDE_MAX_PAGE, XDR_INCIDENTS_MAX_PAGE};
        match self {
            Self::XdrIncidents => XDR_INCIDENTS_MAX_PAGE,
            Self::MdeAlerts => MDE_MAX_PAGE,
            Self::GraphAlerts | Self::GraphIncidents => GRAPH_PAGE,
        }
    }

    /// The record's time field in the service's documents.
    pub fn time_field(self) -> &'static str {
        match self {
            Self::XdrIncidents | Self::MdeAlerts => "lastUpdateTime",
            Self::GraphAlerts | Self::GraphIncidents => "lastUpdateDateTime",
        }
    }
}

/// Any exported stream: a list, or a named hunting query (`hunting:<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stream {
    /// A list stream.
    List(StreamKind),
    /// A hunting query, sliced by time.
    Hunting(std::sync::Arc<HuntingSpec>),
}

impl From<StreamKind> for Stream {
    fn from(k: StreamKind) -> Self {
        Self::List(k)
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::List(k) => f.write_str(k.as_str()),
            Self::Hunting(h) => write!(f, "hunting:{}", h.name),
        }
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not a stream name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stream '{0}' (known: xdr-incidents, mde-alerts, graph-alerts, graph-incidents, hunting:<name>)")]
pub struct UnknownStream(pub String);

impl FromStr for StreamKind {
    type Err = UnknownStream;
    fn from_str(s: &str) -> Result<Self, UnknownStream> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| UnknownStream(s.to_string()))
    }
}

/// One record version: the item exactly as the service returned it, as one JSON line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's id (incident id, alert id).
    pub id: String,
    /// Its `lastUpdateTime`; `DateTime::MIN_UTC` when it has no usable one (see "Records without a
    /// usable time" in the module docs).
    pub updated: DateTime<Utc>,
    /// The JSON document as received, without the newline.
    pub line: Vec<u8>,
    /// Our model could not read the item (it is exported as received all the same).
    pub undecodable: bool,
}

/// One page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    /// `lastUpdateTime ge from`.
    pub from: Option<DateTime<Utc>>,
    /// `lastUpdateTime lt until` (backfill).
    pub until: Option<DateTime<Utc>>,
    /// `$skip`.
    pub skip: usize,
    /// `$top`.
    pub top: usize,
}

/// One page of a list stream, in the service's order (no order is assumed; `@odata.nextLink` is not
/// relied on either: Graph `alerts_v2` omits it when `$top` is given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The records.
    pub records: Vec<Record>,
}

/// Where records come from.
#[async_trait]
pub trait Source: Send + Sync {
    /// One page of a list stream: the records with `from <= time < until`, `$skip`/`$top` applied,
    /// in whatever order the service lists them.
    ///
    /// # Errors
    /// The service's error after the client's retries within `deadline`.
    async fn page(&self, stream: StreamKind, q: &PageQuery, deadline: Deadline) -> Result<Page, DefenderError>;

    /// The rows of one hunting query (a slice), one JSON object per row, as many as the service
    /// answered (a full answer may have been truncated).
    ///
    /// # Errors
    /// The service's error after the client's retries within `deadline`.
    async fn hunt(&self, query: &KqlQuery, deadline: Deadline) -> Result<Vec<Vec<u8>>, DefenderError>;

    /// A running count of the 429 answers the client met and retried (the production source: its
    /// [`DefenderClient::throttles_retried`](defender_shared::defender::DefenderClient::throttles_retried));
    /// a stream's count is the difference across its run. A source without retries counts none.
    fn throttles_retried(&self) -> u64 {
        0
    }
}

/// Asked before each page: stop now, with the cursor at the last committed page? Also told how far
/// each stream got (for a progress bar).
pub trait StopSignal: Send + Sync {
    /// True when no further page should start.
    fn should_stop(&self) -> bool;

    /// A page or slice of `stream` was committed: `records` written so far in this run, and the
    /// time the stream's cursor reached.
    fn progress(&self, _stream: &Stream, _records: u64, _at: DateTime<Utc>) {}
}

/// A backfill window `[from, to)`, with its own cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Backfill {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
}

/// One (tenant, stream) export.
#[derive(Debug, Clone)]
pub struct Job {
    /// This run's id (the Lambda request id): the lease holder.
    pub run_id: String,
    /// Wall-clock start of the run (compared with another run's lease).
    pub started: DateTime<Utc>,
    /// Wall-clock end of this run's lease (its deadline).
    pub lease_until: DateTime<Utc>,
    /// Tenant name (registry name), in keys.
    pub tenant: String,
    /// The stream.
    pub stream: Stream,
    /// Page size (the documented maximum unless a test wants smaller).
    pub page_size: usize,
    /// How far below the high-water mark each run re-reads.
    pub overlap: chrono::Duration,
    /// A backfill window instead of the scheduled cursor.
    pub backfill: Option<Backfill>,
    /// Deadline of each Defender call.
    pub deadline: Deadline,
}

/// How a stream's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything up to now was exported.
    Complete,
    /// Stopped before the deadline; the next run resumes from the cursor.
    Stopped,
    /// Another run holds the stream or advanced the cursor first; this one stopped.
    Conflict,
}

/// Why a stream's run stopped before it was complete (outcome `stopped`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// The run's deadline (less the margin) came, or a call ran into its deadline.
    Deadline,
    /// The quota's next slot is after the deadline: the client's pacing would have had to wait past
    /// it for the documented rate limit, or the service answered 429 asking for a wait that ends after
    /// it. Nothing is wrong with the data; the next run resumes from the cursor.
    Quota {
        /// The call that was throttled (`xdr.incidents.list`).
        endpoint: &'static str,
        /// When the quota allows the next call, seconds from the stop (rounded up).
        retry_after_s: u64,
    },
}

/// The quota's next slot is after `deadline`: the governor refused to wait for it (`Paced`), or a
/// 429 asked for a wait that ends after it. `None` for anything else — a 429 whose retries ran out
/// inside the deadline, or that named no wait, stays a failure.
pub(crate) fn quota_stop(e: &DefenderError, deadline: Deadline) -> Option<StopReason> {
    let (endpoint, wait) = match e {
        DefenderError::Paced { endpoint, wait } => (*endpoint, *wait),
        DefenderError::Throttled { endpoint, retry_after: Some(wait), .. } if *wait >= deadline.remaining() => {
            (*endpoint, *wait)
        }
        _ => return None,
    };
    Some(StopReason::Quota { endpoint, retry_after_s: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) })
}

/// What one stream's run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamSummary {
    /// Tenant.
    pub tenant: String,
    /// Stream (`mde-alerts`, `hunting:<name>`).
    pub stream: String,
    /// Record versions (hunting: rows) written.
    pub records: u64,
    /// Versions read again in the overlap window and skipped.
    pub skipped: u64,
    /// Data objects written.
    pub objects: u64,
    /// Page requests made (each counted once, whatever the client's retries).
    pub api_calls: u64,
    /// Throttles that ended the stream: a 429 the client did not retry (its wait would end after the
    /// deadline, or the attempts ran out) or a call the quota had no slot for before the deadline —
    /// whether the stream then stopped cleanly (`stop_reason` `quota`) or failed.
    pub throttles: u64,
    /// 429 answers met and retried by the client during the stream (each answer once; the call then
    /// went through or met another). Not in `throttles`.
    pub throttles_retried: u64,
    /// Hunting: slices halved because the answer was truncated or hit a quota or timeout.
    pub windows_halved: u64,
    /// Lists: pages read again because records earlier in the service's order left a window while
    /// it was read (the next page did not begin with a record already read).
    pub steps_back: u64,
    /// Records written that our model could not read (written as received all the same).
    pub undecodable: u64,
    /// Records written without a usable time (they do not move the cursor).
    pub untimed: u64,
    /// High-water mark before.
    pub cursor_before: Option<Version>,
    /// High-water mark after.
    pub cursor_after: Option<Version>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it stopped, when `outcome` is `stopped`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
}

/// The run failed; the cursor is at the last committed page.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Defender failed.
    #[error("{stream}: reading from Defender failed")]
    Source {
        /// Stream.
        stream: String,
        /// Cause.
        #[source]
        source: DefenderError,
    },
    /// The sink failed.
    #[error("{stream}: writing to the sink failed")]
    Sink {
        /// Stream.
        stream: String,
        /// Cause.
        #[source]
        source: SinkError,
    },
    /// The cursor document is not ours.
    #[error("{key}: the cursor document is unreadable")]
    Cursor {
        /// Key.
        key: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// A hunting query could not be built.
    #[error("{stream}: the hunting query could not be built")]
    Query {
        /// Stream.
        stream: String,
        /// Cause.
        #[source]
        source: KqlError,
    },
    /// A hunting slice is still truncated (or over a quota or time limit) at the smallest window.
    #[error("{stream}: the slice from {from} is too large even at {window_ms} ms")]
    Window {
        /// Stream.
        stream: String,
        /// Start of the slice.
        from: DateTime<Utc>,
        /// The smallest window tried.
        window_ms: i64,
    },
    /// A window's pages kept starting with unread records: the service does not list a window in
    /// one order between requests, so `$skip` cannot enumerate it.
    #[error("{stream}: the service's order changed between pages more often than records left")]
    UnstableOrder {
        /// Stream.
        stream: String,
    },
    /// Compression failed (only on allocation failure).
    #[error("gzip")]
    Gzip(#[source] std::io::Error),
}

/// A key part: only `[A-Za-z0-9._-]`, anything else becomes `-`.
pub(crate) fn part(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect()
}

pub(crate) fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%S%.9fZ").to_string()
}

fn data_prefix(job: &Job) -> String {
    let base = format!("tenant={}/stream={}", part(&job.tenant), part(&job.stream.to_string()));
    match job.backfill {
        Some(b) => format!("backfill/{}_{}/{base}", stamp(b.from), stamp(b.to)),
        None => base,
    }
}

/// The cursor's key: `_state/…/cursor.json` (backfills: their own cursor beside the data).
pub fn cursor_key(job: &Job) -> String {
    format!("_state/{}/cursor.json", data_prefix(job))
}

/// A data object's key, determined by the versions in it.
pub fn object_key(job: &Job, first: &Version, last: &Version) -> String {
    format!(
        "{}/date={}/{}_{}_{}.jsonl.gz",
        data_prefix(job),
        first.0.format("%Y-%m-%d"),
        stamp(first.0),
        stamp(last.0),
        part(&first.1)
    )
}

/// A hunting slice's key, determined by its window `[from, to)`.
pub fn slice_key(job: &Job, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!("{}/date={}/{}_{}.jsonl.gz", data_prefix(job), from.format("%Y-%m-%d"), stamp(from), stamp(to))
}

/// The start of every line of `job`'s objects: `{"tenant":<name>,"stream":<name>,"record":` — the
/// record's bytes follow verbatim, then `}` (see "Record fidelity" in the module docs). The names are
/// the job's own (the registry's tenant name, `mde-alerts`, `hunting:<name>`), JSON-escaped.
pub(crate) fn line_prefix(job: &Job) -> Vec<u8> {
    // Serialising a `&str` cannot fail; the fallback keeps the type honest without an `expect`.
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
    format!("{{\"tenant\":{},\"stream\":{},\"record\":", quoted(&job.tenant), quoted(&job.stream.to_string()))
        .into_bytes()
}

/// One gzip JSON Lines object: each line is the envelope of `prefix` ([`line_prefix`]) around one
/// record's bytes, unchanged.
pub(crate) fn gzip_lines<'a>(prefix: &[u8], lines: impl Iterator<Item = &'a [u8]>) -> Result<Vec<u8>, std::io::Error> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    for l in lines {
        gz.write_all(prefix)?;
        if l.iter().any(|b| matches!(b, b'\n' | b'\r')) {
            // A pretty-printed answer: JSON text holds CR/LF only as whitespace between tokens (a
            // string must escape them), so a space in their place keeps the value and the line whole.
            let one_line: Vec<u8> = l.iter().map(|&b| if matches!(b, b'\n' | b'\r') { b' ' } else { b }).collect();
            gz.write_all(&one_line)?;
        } else {
            gz.write_all(l)?;
        }
        gz.write_all(b"}\n")?;
    }
    gz.finish()
}

async fn load_cursor(sink: &dyn Sink, job: &Job, key: &str) -> Result<(Cursor, Option<ETag>), ExportError> {
    match sink.get_cursor(key).await.map_err(|source| ExportError::Sink { stream: job.stream.to_string(), source })? {
        None => Ok((Cursor { version: 1, ..Cursor::default() }, None)),
        Some((bytes, tag)) => {
            let c = serde_json::from_slice(&bytes).map_err(|source| ExportError::Cursor { key: key.into(), source })?;
            Ok((c, Some(tag)))
        }
    }
}

/// The committed cursor of a run in progress and the tag to write the next one against.
pub(crate) struct Committed<'a> {
    sink: &'a dyn Sink,
    job: &'a Job,
    key: String,
    /// The committed state.
    pub cursor: Cursor,
    etag: Option<ETag>,
}

impl Committed<'_> {
    /// The sink.
    pub(crate) fn sink(&self) -> &dyn Sink {
        self.sink
    }

    /// Writes `next` conditionally; `false` when another run changed the cursor (nothing written).
    pub(crate) async fn commit(&mut self, next: Cursor) -> Result<bool, ExportError> {
        match commit(self.sink, self.job, &self.key, &next, self.etag.as_ref()).await? {
            Some(tag) => {
                self.etag = Some(tag);
                self.cursor = next;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Exports one (tenant, stream) from its committed cursor until the answer is exhausted, `stop` says
/// so, or another run wins the cursor.
///
/// # Errors
/// Defender or the sink failed (after the client's retries); the cursor is at the last committed page
/// and the next run resumes there. A call cut by its deadline is not an error: [`Outcome::Stopped`].
pub async fn export_stream(
    source: &dyn Source,
    sink: &dyn Sink,
    job: &Job,
    stop: &dyn StopSignal,
) -> Result<StreamSummary, ExportError> {
    let key = cursor_key(job);
    let (cursor, etag) = load_cursor(sink, job, &key).await?;
    let mut sum = StreamSummary {
        tenant: job.tenant.clone(),
        stream: job.stream.to_string(),
        records: 0,
        skipped: 0,
        objects: 0,
        api_calls: 0,
        throttles: 0,
        throttles_retried: 0,
        windows_halved: 0,
        steps_back: 0,
        undecodable: 0,
        untimed: 0,
        cursor_before: cursor.high_water.clone(),
        cursor_after: cursor.high_water.clone(),
        outcome: Outcome::Complete,
        stop_reason: None,
    };
    let retried_before = source.throttles_retried();
    if cursor.lease.as_ref().is_some_and(|l| l.holder != job.run_id && l.until > job.started) {
        sum.outcome = Outcome::Conflict;
        return Ok(sum);
    }
    let mut state = Committed { sink, job, key, cursor, etag };
    let mut leased = state.cursor.clone();
    leased.lease = Some(Lease { holder: job.run_id.clone(), until: job.lease_until });
    leased.generation += 1;
    if !state.commit(leased).await? {
        sum.outcome = Outcome::Conflict;
        return Ok(sum);
    }
    let result = match &job.stream {
        Stream::List(kind) => pages(source, *kind, job, stop, &mut state, &mut sum).await,
        Stream::Hunting(spec) => crate::hunting::slices(source, spec, job, stop, &mut state, &mut sum).await,
    };
    if sum.outcome != Outcome::Conflict {
        // Release the lease (also after an error, best effort: an unreleased one expires anyway).
        let mut free = state.cursor.clone();
        free.lease = None;
        free.generation += 1;
        let released = state.commit(free).await;
        if result.is_ok() && !released? {
            sum.outcome = Outcome::Conflict;
        }
    }
    sum.throttles_retried = source.throttles_retried().saturating_sub(retried_before);
    if sum.outcome != Outcome::Stopped {
        sum.stop_reason = None;
    }
    result.map(|()| sum)
}

/// Writes the cursor conditionally; `None` when another run changed it.
async fn commit(
    sink: &dyn Sink,
    job: &Job,
    key: &str,
    cursor: &Cursor,
    etag: Option<&ETag>,
) -> Result<Option<ETag>, ExportError> {
    let doc = serde_json::to_vec(cursor).map_err(|source| ExportError::Cursor { key: key.to_string(), source })?;
    match sink.put_cursor(key, doc, etag).await {
        Ok(tag) => Ok(Some(tag)),
        Err(SinkError::CursorConflict { .. }) => Ok(None),
        Err(source) => Err(ExportError::Sink { stream: job.stream.to_string(), source }),
    }
}

/// A Defender error as the run reports it (throttles counted).
pub(crate) fn source_error(job: &Job, e: DefenderError, sum: &mut StreamSummary) -> ExportError {
    if e.is_throttled() {
        sum.throttles += 1;
    }
    ExportError::Source { stream: job.stream.to_string(), source: e }
}

/// The resolution of Defender's timestamps (7 fractional digits): window bounds are multiples of it,
/// so a bound means the same instant however the service rounds a literal.
const TICK_NS: i64 = 100;

/// A window is sized for about this many pages (at most [`WINDOW_MAX_RECORDS`] records): the
/// versions of the window being read are kept in the cursor until it completes.
const WINDOW_PAGES: usize = 8;
/// See [`WINDOW_PAGES`].
const WINDOW_MAX_RECORDS: usize = 40_000;

fn align_down(t: DateTime<Utc>) -> DateTime<Utc> {
    let ns = t.timestamp_subsec_nanos() as i64;
    t - chrono::Duration::nanoseconds(ns.rem_euclid(TICK_NS))
}

fn ticks(d: chrono::Duration) -> i64 {
    d.num_nanoseconds().map_or(i64::MAX, |n| n / TICK_NS)
}

fn of_ticks(n: i64) -> chrono::Duration {
    chrono::Duration::nanoseconds(n.clamp(1, i64::MAX / TICK_NS) * TICK_NS)
}

/// How a window's enumeration ended.
enum Read {
    /// Every version in the window was read: how many distinct ones, and the latest time seen.
    Complete { count: usize, latest: Option<DateTime<Utc>> },
    /// Stopped (deadline) or lost the cursor to another run; `sum.outcome` says which.
    Interrupted,
}

/// One list stream's run: closed time windows `[a, b)` read completely with `$filter`, `$top`,
/// `$skip`, in ascending time, the cursor's mark moved to `b` as each completes.
struct Pager<'r, 'c> {
    source: &'r dyn Source,
    kind: StreamKind,
    job: &'r Job,
    stop: &'r dyn StopSignal,
    state: &'r mut Committed<'c>,
    sum: &'r mut StreamSummary,
    top: usize,
}

impl Pager<'_, '_> {
    /// One request; `None` when the run must stop first (or a call ran into its deadline).
    async fn fetch(
        &mut self,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        skip: usize,
    ) -> Result<Option<Vec<Record>>, ExportError> {
        if self.stop.should_stop() {
            self.sum.outcome = Outcome::Stopped;
            self.sum.stop_reason = Some(StopReason::Deadline);
            return Ok(None);
        }
        let q = PageQuery { from, until, skip, top: self.top };
        self.sum.api_calls += 1;
        match self.source.page(self.kind, &q, self.job.deadline).await {
            Ok(p) => Ok(Some(p.records)),
            Err(e) if e.is_deadline() => {
                self.sum.outcome = Outcome::Stopped;
                self.sum.stop_reason = Some(StopReason::Deadline);
                Ok(None)
            }
            Err(e) => match quota_stop(&e, self.job.deadline) {
                Some(why) => {
                    tracing::info!(stream = %self.job.stream, error = %e, "the quota's next slot is after the deadline: stopping");
                    self.sum.throttles += 1;
                    self.sum.outcome = Outcome::Stopped;
                    self.sum.stop_reason = Some(why);
                    Ok(None)
                }
                None => Err(source_error(self.job, e, self.sum)),
            },
        }
    }

    /// Writes the versions of `page` not written yet as one object, then commits them (and, when the
    /// window is complete, the new mark). `false`: another run won the cursor.
    async fn write(&mut self, mut page: Vec<Record>, mark: Option<DateTime<Utc>>) -> Result<bool, ExportError> {
        page.sort_by(|a, b| (a.updated, &a.id).cmp(&(b.updated, &b.id)));
        page.dedup_by(|a, b| (a.updated, &a.id) == (b.updated, &b.id));
        let fresh: Vec<&Record> = page.iter().filter(|r| !self.state.cursor.has(&(r.updated, r.id.clone()))).collect();
        let versions: Vec<Version> = fresh.iter().map(|r| (r.updated, r.id.clone())).collect();
        if let (Some(first), Some(last)) = (versions.first(), versions.last()) {
            let key = object_key(self.job, first, last);
            let body = gzip_lines(&line_prefix(self.job), fresh.iter().map(|r| r.line.as_slice()))
                .map_err(ExportError::Gzip)?;
            sink_put(self.state.sink, self.job, &key, body).await?;
            self.sum.objects += 1;
        }
        let moves = mark.is_some_and(|m| self.state.cursor.mark().is_none_or(|c| m > c));
        if versions.is_empty() && !moves {
            return Ok(true);
        }
        let mut next = self.state.cursor.clone();
        next.advance(&versions, self.job.overlap);
        if let Some(m) = mark {
            next.complete_until(m, self.job.overlap);
        }
        if !self.state.commit(next).await? {
            self.sum.outcome = Outcome::Conflict;
            return Ok(false);
        }
        self.sum.records += versions.len() as u64;
        self.sum.undecodable += fresh.iter().filter(|r| r.undecodable).count() as u64;
        self.sum.untimed += fresh.iter().filter(|r| r.updated == DateTime::<Utc>::MIN_UTC).count() as u64;
        self.sum.cursor_after = self.state.cursor.high_water.clone();
        if let Some(t) = self.state.cursor.mark() {
            self.stop.progress(&self.job.stream, self.sum.records, t);
        }
        Ok(true)
    }

    /// Reads the window `[from, until)` completely (`first`: its page at `$skip=0`, if already read)
    /// and moves the mark to `mark` when done.
    ///
    /// Pages overlap by one (`$skip` advances by `$top − 1`): a page after the first must begin
    /// with a version this pass has read. If it does not — a version earlier in the service's
    /// order left the window (it was updated) and the rest moved up — the pass steps back a page
    /// until it does; so, in any order that is stable for the versions that stay, no version
    /// present throughout the pass is passed over.
    async fn window(
        &mut self,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        mut first: Option<Vec<Record>>,
        mark: impl Fn(Option<DateTime<Utc>>) -> Option<DateTime<Utc>>,
    ) -> Result<Read, ExportError> {
        let mut read: std::collections::HashSet<Version> = std::collections::HashSet::new();
        let mut latest: Option<DateTime<Utc>> = None;
        let mut skip = 0usize;
        let mut steps_back = 0usize;
        loop {
            let page = match first.take() {
                Some(p) => p,
                None => match self.fetch(from, until, skip).await? {
                    Some(p) => p,
                    None => return Ok(Read::Interrupted),
                },
            };
            let n = page.len();
            let verified = skip == 0 || page.first().is_some_and(|r| read.contains(&(r.updated, r.id.clone())));
            for r in &page {
                let v = (r.updated, r.id.clone());
                if !read.contains(&v) {
                    if self.state.cursor.has(&v) {
                        self.sum.skipped += 1;
                    }
                    latest = latest.max(Some(r.updated));
                    read.insert(v);
                }
            }
            let done = verified && n < self.top;
            let m = if done { mark(latest) } else { None };
            if !self.write(page, m).await? {
                return Ok(Read::Interrupted);
            }
            if done {
                return Ok(Read::Complete { count: read.len(), latest });
            }
            if verified {
                skip += n - 1;
            } else {
                self.sum.steps_back += 1;
                steps_back += 1;
                if steps_back > 16 + 2 * read.len() / self.top {
                    // More steps back than pages read: the order is not stable between requests.
                    return Err(ExportError::UnstableOrder { stream: self.job.stream.to_string() });
                }
                skip = skip.saturating_sub(self.top - 1);
            }
        }
    }
}

/// The times of a page's records that have one.
fn span(page: &[Record]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let mut times = page.iter().map(|r| r.updated).filter(|t| *t != DateTime::<Utc>::MIN_UTC);
    let first = times.next()?;
    Some(times.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t))))
}

async fn pages(
    source: &dyn Source,
    kind: StreamKind,
    job: &Job,
    stop: &dyn StopSignal,
    state: &mut Committed<'_>,
    sum: &mut StreamSummary,
) -> Result<(), ExportError> {
    state.cursor.upgrade();
    let top = job.page_size.clamp(2, kind.max_page().max(2));
    let end = job.backfill.map(|b| b.to);
    let start = match (state.cursor.query_from(job.overlap), job.backfill) {
        (Some(t), Some(b)) => Some(t.max(b.from)),
        (Some(t), None) => Some(t),
        (None, b) => b.map(|b| b.from),
    }
    .map(align_down);
    let mut p = Pager { source, kind, job, stop, state, sum, top };
    // The range as one window: up to the backfill's end, or open (then the mark is the latest time
    // read).
    let last_mark = move |latest: Option<DateTime<Utc>>| end.or(latest.max(start));
    // 1. The whole range, in one page when it fits (a scheduled run's usual case).
    let Some(probe) = p.fetch(start, end, 0).await? else { return Ok(()) };
    if probe.len() < top {
        p.window(start, end, Some(probe), last_mark).await?;
        return Ok(());
    }
    // 2. More than a page: the probe is a sample of the range, in the service's order. Its records
    //    without a time are written now: no time-filtered window can return them.
    let untimed: Vec<Record> = probe.iter().filter(|r| r.updated == DateTime::<Utc>::MIN_UTC).cloned().collect();
    if !untimed.is_empty() && !p.write(untimed, None).await? {
        return Ok(());
    }
    let Some((lo, hi)) = span(&probe) else {
        // Nothing with a time to cut by: the range is one window.
        p.window(start, end, Some(probe), last_mark).await?;
        return Ok(());
    };
    // The first width: a sixteenth of what the sample spans (and of the range from `start`).
    let spanned = ticks(hi - lo).max(start.map_or(0, |a| ticks(hi - a)));
    let mut width = (spanned / 16).max(1);
    let mut latest_seen = hi;
    // A lower bound: below the sample, four times further each try, until what lies below it fits in
    // one page (that page completes the window `(−∞, a)`).
    let mut a = match start {
        Some(a) => a,
        None => {
            let mut step = spanned.max(ticks(chrono::Duration::seconds(1)));
            loop {
                let below = align_down(lo - of_ticks(step));
                if below.timestamp() < 0 || step > i64::MAX / 8 {
                    // Far below any Defender data: read whatever is there as one window.
                    match p.window(None, Some(below), None, |_| Some(below)).await? {
                        Read::Complete { .. } => break below,
                        Read::Interrupted => return Ok(()),
                    }
                }
                let Some(page) = p.fetch(None, Some(below), 0).await? else { return Ok(()) };
                if page.len() < top {
                    match p.window(None, Some(below), Some(page), |_| Some(below)).await? {
                        Read::Complete { .. } => break below,
                        Read::Interrupted => return Ok(()),
                    }
                }
                step = step.saturating_mul(4);
            }
        }
    };
    // 3. Windows upward, each sized from the last one's count; past the latest time seen, the final
    //    window.
    let target = (top * WINDOW_PAGES).min(WINDOW_MAX_RECORDS.max(top * 2));
    loop {
        let b = align_down(a + of_ticks(width));
        if b > latest_seen || end.is_some_and(|e| b >= e) {
            p.window(Some(a), end, None, move |latest: Option<DateTime<Utc>>| end.or(latest.max(Some(a)))).await?;
            return Ok(());
        }
        match p.window(Some(a), Some(b), None, |_| Some(b)).await? {
            Read::Complete { count, latest } => {
                latest_seen = latest_seen.max(latest.unwrap_or(latest_seen));
                let factor = if count == 0 { 4.0 } else { (target as f64 / count as f64).min(4.0) };
                width = ((width as f64 * factor) as i64).max(1);
                a = b;
            }
            Read::Interrupted => return Ok(()),
        }
    }
}

pub(crate) async fn sink_put(sink: &dyn Sink, job: &Job, key: &str, body: Vec<u8>) -> Result<(), ExportError> {
    sink.put_object(key, body).await.map_err(|source| ExportError::Sink { stream: job.stream.to_string(), source })
}

#[cfg(test)]
mod line_tests {
    use super::gzip_lines;
    use std::io::Read;

    #[test]
    fn a_pretty_printed_record_is_still_one_line_with_its_value_unchanged() {
        let pretty = b"{\r\n  \"id\": \"da1\",\n  \"title\": \"a \\\"quoted\\\" \\n name\",\n  \"n\": null\n}";
        let compact = br#"{"id":"da2"}"#;
        let gz =
            gzip_lines(br#"{"tenant":"t","stream":"s","record":"#, [&pretty[..], &compact[..]].into_iter()).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_string(&mut text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        let seeded: serde_json::Value = serde_json::from_slice(pretty).unwrap();
        assert_eq!(first["record"], seeded);
        assert_eq!(first["record"]["title"], "a \"quoted\" \n name");
        assert_eq!(lines[1], r#"{"tenant":"t","stream":"s","record":{"id":"da2"}}"#);
    }
}
