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
//!   previous window's count, toward a whole number of pages' worth of new records (see
//!   [`window_target`]: for MDE's 10,000, 4 pages); on the first run a lower bound is found
//!   below the sample, four times further each try, until what lies below it fits in one page, and
//!   a window starting below the sample's least time ends at most the first width above it (and
//!   the next is sized from that part above the least time: what the count was read over).
//!   Windows end at the latest time seen; the last one is open (or ends at the backfill's `to`).
//! - A window is read with `$skip` pages that **overlap by one** (`$skip` advances by `$top − 1`).
//!   Every page after the first must begin with a version this pass has read; if it does not, a
//!   version earlier in the service's order left the window (it was updated) and the rest moved up,
//!   so the pass steps back a page until it does. A window ends at a verified page shorter than
//!   `$top`: then no version present throughout the pass was passed over. A run of ties at one
//!   instant longer than a page (300 records sharing one `lastUpdateTime`) is just a window read by
//!   `$skip`.
//! - Each page is read as it streams in: every record is compressed into the page's gzip JSON Lines
//!   object the moment its bytes arrive (in the service's order), unless its version is in the
//!   cursor or earlier in the page; only the versions stay. The object is put under a key named
//!   after its least and greatest version, then the cursor is committed with a conditional write:
//!   the new versions, the window's [`Position`] (its bounds and the `$skip` of the next page), and
//!   when the page completes its window, the mark moved to the window's end (an open window: the
//!   latest time it held).
//! - A run that stops inside a window (its deadline, a quota slot after it) leaves that position:
//!   the next run reads the overlap below the window again (late arrivals), then goes on in the
//!   window at the committed `$skip`, its first page verified against the versions the window
//!   already wrote (the cursor keeps a window's identities until it completes) — a step back if
//!   records left meanwhile. So a window holding more than one run can read completes over several
//!   runs instead of starting over each time.
//! - Calls: a window of `n` records costs `⌊(n − 1)/($top − 1)⌋ + 1` pages, plus one page back per
//!   shift detected (a resumed window: plus the overlap below it read again). A run over `N`
//!   records makes at most `ceil(N / ($top − 1)) + W + 1` calls without changes under way, with `W`
//!   the number of windows (about `N / (k·($top − 1))` for windows of `k` pages, plus the few of a
//!   first sizing) and, on a first run, the lower-bound probes (`log4` of how far below the sample
//!   the data starts). Windows sized just under `k·($top − 1)` records cost `k` pages each, so
//!   `W` mostly pays for itself. The tests assert `calls ≤ ceil(N / $top) · 5/4 + 8`;
//!   docs/export.md gives the measured figures.
//!
//! # Delivery guarantee
//! A record version is the pair `(id, lastUpdateTime)`; an update is a new version, exported again.
//! - **No loss** of any version that is visible to the API while its `lastUpdateTime` is at or above
//!   `max(mark − overlap, floor)`: every version below the committed mark that was present while
//!   its window was read (by one run or, resumed, by several) was returned by a committed page (a
//!   window completes only at a verified short page, and the mark only moves past completed
//!   windows); versions inside the overlap window that no committed page wrote (late arrivals, a
//!   window cut half-way, updates made while the open window was read) are read again by the next
//!   run. A version that becomes visible more than `overlap` after the mark passed it, or that is
//!   replaced by a newer one between two runs, is never seen (nothing polling could see it). The
//!   *floor* is where the cursor's bounded identities begin ([`crate::cursor::MAX_IDENTITIES`]
//!   below the mark): it is below `mark − overlap` — so changes nothing — unless more versions than
//!   that changed within one overlap window; then the oldest instants' identities are forgotten,
//!   counted in [`StreamSummary::identities_dropped`], and no run reads below them again (reading
//!   them would write them twice).
//! - **Objects: at-least-once.** An object is written before the cursor that covers it; a run that
//!   stops between the two (crash, deadline, store error, a lost race) leaves an object the next run
//!   writes again. Keys are deterministic — `tenant=…/stream=…/date=<from's date>/<from>_<to>_<first
//!   id>.jsonl.gz` from the least and greatest version in it — and the next run starts from the same
//!   committed cursor (and position) and cuts the same windows (they depend only on the cursor and
//!   the answers, never on a clock), so if Defender's answer is unchanged it rebuilds the same pages,
//!   in the same order, and **overwrites** the same keys. An object of 8 MiB or more goes up to S3
//!   in parts and appears only when complete ([`crate::s3`]).
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
//! record is always one line and its value unchanged.
//!
//! # What the export reads of a record
//! Two members, and nothing else is decoded: the id (`id`; XDR incidents `incidentId`) and the
//! time ([`StreamKind::time_field`]), read from the item's bytes ([`ItemKey`]); the rest of the
//! item is only checked to be JSON (an item that is not — not UTF-8, not one value — fails its page,
//! as a body that is not JSON does). The record's version is then:
//! - id: a string, exactly as sent (escapes resolved; no trimming, no length limit, no character
//!   set: two ids that differ anywhere are two records); a number, as its JSON text (`7587`).
//!   Missing, `null`, of another type, given twice, or an item that is not an object: a digest of
//!   the item's bytes (`sha256:` and 32 hex digits), so a retry names it the same and two different
//!   items apart;
//! - time: a string in any of the forms [`Timestamp`](defender_shared::defender::models::Timestamp)
//!   reads (RFC 3339 with 0–7 fractional digits, a date-time without offset, a date); missing or
//!   `null`: none (an untimed record, below); a string that does not parse, another type, or given
//!   twice: none as well.
//!
//! A record whose id or time falls back for any reason but "no time" is **undecodable**: written
//! all the same, logged (the id, at most 128 characters, and the reason; never a value) and counted
//! in [`StreamSummary::undecodable`]. It is never dropped, and never merged with another: the
//! fallback id is the item's own digest. Members we do not read are not judged: an alert with a
//! severity as a number or an unknown evidence shape (which the full `Alert` model refuses) is
//! keyed and counted like any other. (Until this was changed, each item was decoded into the full
//! model and `undecodable` counted what the model refused, and the id came from the model: an alert
//! id over 128 characters, which the model refuses, was then keyed by its first 128 characters, so
//! two such alerts at one time were one version and the second was not written.)
//!
//! # Records without a usable time
//! An item with no time field, or one that does not parse, has the version `(MIN, id)`: it is
//! written with the page that returned it (the first, unfiltered page of a range too, which is
//! otherwise only a sample), names the object when it is the least version in it, never moves the mark or the
//! high-water mark, and is forgotten by the cursor once a mark exists; so every run whose query
//! returns it exports it again (consumers dedupe by id). It is counted in
//! [`StreamSummary::untimed`]. A time-filtered query cannot match such an item, so only an
//! unfiltered page (a first run's, or a backfill without bounds) can return it: polling by time cannot
//! promise more for a record the service gives no time.
//!
//! # Memory
//! Constant, whatever the volume: no page is held — one item's bytes at a time, the page's object
//! compressed as it grows (a 10,000-alert page is under 1 MB of gzip) and the page's versions; plus
//! the identities of the overlap window (at most [`crate::cursor::MAX_IDENTITIES`], counted in
//! [`StreamSummary::identities`]) and of the window being read (windows are sized for about
//! 40,000).

use crate::cursor::{Cursor, Key, Lease, Position, Undo, Version};
pub mod hunting;

#[cfg(doc)]
use defender_shared::defender::items::ItemKey;

use crate::sink::{Document, ETag, Sink, SinkError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use defender_shared::defender::{
    Deadline, DefenderError,
    kql::{KqlError, KqlQuery},
};
use flate2::{Compression, write::GzEncoder};
pub use hunting::HuntingSpec;
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

    /// The record's id member in the service's documents.
    pub fn id_field(self) -> &'static str {
        match self {
            Self::XdrIncidents => "incidentId",
            Self::MdeAlerts | Self::GraphAlerts | Self::GraphIncidents => "id",
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
    /// The export could not read the item's id or its time (see "What the export reads of a
    /// record" in the module docs); it is exported as received all the same.
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

/// Receives one page's records in the service's order, as they are read: the production source
/// hands each over as soon as its bytes arrived (see [`crate::defender`]), so a page is never held
/// whole.
pub trait Records: Send {
    /// The next record of the page.
    fn record(&mut self, record: Record);

    /// The page is read again from its start (the client retried an answer whose body broke off):
    /// forget the records given so far.
    fn restart(&mut self);
}

/// A page collected whole, in the service's order (a fake source's answer, a test's view of one).
/// The export itself never collects a page: it writes each record as it comes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The records.
    pub records: Vec<Record>,
}

impl Page {
    /// Hands the records to `out`, in order.
    pub fn replay(self, out: &mut dyn Records) {
        for r in self.records {
            out.record(r);
        }
    }
}

impl Records for Page {
    fn record(&mut self, record: Record) {
        self.records.push(record);
    }
    fn restart(&mut self) {
        self.records.clear();
    }
}

/// Where records come from.
#[async_trait]
pub trait Source: Send + Sync {
    /// One page of a list stream: the records with `from <= time < until`, `$skip`/`$top` applied,
    /// in whatever order the service lists them, handed to `out` one by one as they are read.
    /// (`@odata.nextLink` is not relied on: Graph `alerts_v2` omits it when `$top` is given.)
    ///
    /// # Errors
    /// The service's error after the client's retries within `deadline` (`out` may have been given
    /// part of the page: the export then drops it).
    async fn page(
        &self,
        stream: StreamKind,
        q: &PageQuery,
        deadline: Deadline,
        out: &mut dyn Records,
    ) -> Result<(), DefenderError>;

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
    /// Records written whose id or time the export could not read (an id from the item's digest, no
    /// time; written as received all the same). See "What the export reads of a record".
    pub undecodable: u64,
    /// Records written without a usable time (they do not move the cursor).
    pub untimed: u64,
    /// Identities the cursor keeps after the run (the overlap window's, at most
    /// [`MAX_IDENTITIES`](crate::cursor::MAX_IDENTITIES), and the unfinished window's).
    pub identities: u64,
    /// Identities forgotten during the run to keep that bound (the cursor's floor rose past them).
    pub identities_dropped: u64,
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
        write_line(&mut gz, prefix, l)?;
    }
    gz.finish()
}

/// One line: `prefix`, the record's bytes, `}` and the newline.
fn write_line(out: &mut impl Write, prefix: &[u8], line: &[u8]) -> Result<(), std::io::Error> {
    out.write_all(prefix)?;
    if line.iter().any(|b| matches!(b, b'\n' | b'\r')) {
        // A pretty-printed answer: JSON text holds CR/LF only as whitespace between tokens (a
        // string must escape them), so a space in their place keeps the value and the line whole.
        let one_line: Vec<u8> = line.iter().map(|&b| if matches!(b, b'\n' | b'\r') { b' ' } else { b }).collect();
        out.write_all(&one_line)?;
    } else {
        out.write_all(line)?;
    }
    out.write_all(b"}\n")
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
    /// The length of the last document written.
    doc_len: usize,
}

impl Committed<'_> {
    /// The sink.
    pub(crate) fn sink(&self) -> &dyn Sink {
        self.sink
    }

    /// Writes `next` conditionally; `false` when another run changed the cursor (nothing written).
    pub(crate) async fn commit(&mut self, next: Cursor) -> Result<bool, ExportError> {
        match self.put(&next).await? {
            (Some(tag), len) => {
                self.doc_len = len;
                self.etag = Some(tag);
                self.cursor = next;
                Ok(true)
            }
            (None, _) => Ok(false),
        }
    }

    /// Writes the cursor as [`Cursor::apply`] left it, conditionally; when that fails (`false`:
    /// another run changed it; or an error), the change is undone, so the state is the committed
    /// one whatever happens.
    async fn commit_applied(&mut self, undo: Undo) -> Result<bool, ExportError> {
        let put = self.put(&self.cursor).await;
        match put {
            Ok((Some(tag), len)) => {
                self.etag = Some(tag);
                self.doc_len = len;
                Ok(true)
            }
            Ok((None, _)) => {
                self.cursor.undo(undo);
                Ok(false)
            }
            Err(e) => {
                self.cursor.undo(undo);
                Err(e)
            }
        }
    }

    /// Writes `cursor` conditionally (`None`: another run changed it), and the document's length.
    /// The document goes to the sink as it is written ([`Sink::put_cursor_doc`]); a sink that
    /// needs it whole sizes its buffer from the last one (megabytes with the identities: grown by
    /// doubling, it would take a buffer up to twice its size, and a copy at each growth).
    async fn put(&self, cursor: &Cursor) -> Result<(Option<ETag>, usize), ExportError> {
        let doc = CursorDoc { cursor, len_hint: self.doc_len + self.doc_len / 8 + 1024, len: Default::default() };
        let put = self.sink.put_cursor_doc(&self.key, &doc, self.etag.as_ref()).await;
        let len = doc.len.load(std::sync::atomic::Ordering::Relaxed);
        match put {
            Ok(tag) => Ok((Some(tag), len)),
            Err(SinkError::CursorConflict { .. }) => Ok((None, len)),
            Err(source) => Err(ExportError::Sink { stream: self.job.stream.to_string(), source }),
        }
    }
}

/// The cursor's JSON document as a [`Document`]: written by `serde_json` straight into the
/// sink's writer; `len` is the length of the last writing.
struct CursorDoc<'a> {
    cursor: &'a Cursor,
    len_hint: usize,
    len: std::sync::atomic::AtomicUsize,
}

impl Document for CursorDoc<'_> {
    fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut counting = Counting { out, n: 0 };
        serde_json::to_writer(&mut counting, self.cursor)?;
        self.len.store(counting.n, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn len_hint(&self) -> usize {
        self.len_hint
    }
}

/// Counts the bytes written through it.
struct Counting<'a> {
    out: &'a mut dyn Write,
    n: usize,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.n += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
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
        identities: cursor.recent.len() as u64,
        identities_dropped: 0,
        cursor_before: cursor.high_water.clone(),
        cursor_after: cursor.high_water.clone(),
        outcome: Outcome::Complete,
        stop_reason: None,
    };
    let retried_before = source.throttles_retried();
    let dropped_before = cursor.dropped;
    if cursor.lease.as_ref().is_some_and(|l| l.holder != job.run_id && l.until > job.started) {
        sum.outcome = Outcome::Conflict;
        return Ok(sum);
    }
    let mut state = Committed { sink, job, key, cursor, etag, doc_len: 0 };
    let mut leased = state.cursor.clone();
    leased.lease = Some(Lease { holder: job.run_id.clone(), until: job.lease_until });
    leased.generation += 1;
    if !state.commit(leased).await? {
        sum.outcome = Outcome::Conflict;
        return Ok(sum);
    }
    let result = match &job.stream {
        Stream::List(kind) => pages(source, *kind, job, stop, &mut state, &mut sum).await,
        Stream::Hunting(spec) => hunting::slices(source, spec, job, stop, &mut state, &mut sum).await,
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
    sum.identities = state.cursor.recent.len() as u64;
    sum.identities_dropped = state.cursor.dropped.saturating_sub(dropped_before);
    if sum.outcome != Outcome::Stopped {
        sum.stop_reason = None;
    }
    result.map(|()| sum)
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

/// A window is sized for at most this many pages (at most [`WINDOW_MAX_RECORDS`] records): the
/// versions of the window being read are kept in the cursor until it completes.
const WINDOW_PAGES: usize = 8;
/// See [`WINDOW_PAGES`].
const WINDOW_MAX_RECORDS: usize = 40_000;

/// The count a window is sized for, with pages of `top`: a whole number `k` of pages' worth of new
/// records, `k · ($top − 1)` (as many of [`WINDOW_PAGES`] as [`WINDOW_MAX_RECORDS`] allows, at least
/// 2), less a 64th so that a window a little denser than the last still fits.
///
/// Pages overlap by one, so a window of `n` records takes `⌊(n − 1)/($top − 1)⌋ + 1` pages: up to
/// `k · ($top − 1)` records, `k` pages, each but the last carrying `$top − 1` new records. One
/// record more costs a whole page (for `$top` = 10,000: 40,000 records take 5 pages, 39,996 take 4).
fn window_target(top: usize) -> usize {
    let step = top.saturating_sub(1).max(1);
    let pages = (WINDOW_MAX_RECORDS / step).clamp(2, WINDOW_PAGES);
    let most = pages * step;
    most - (most / 64).max(2).min(most / 2)
}

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

/// The versions one pass over a window has read (up to a window's worth, about 40,000 and more
/// when sizing overshoots), each kept as a keyed 128-bit digest of its cursor [`Key`]: 16 bytes in
/// place of a copy of the version. The keys are random per pass, so no key can be chosen to collide;
/// two distinct keys collide with a probability of about `n² / 2¹²⁹` (under 10⁻²⁸ for a window of
/// 100,000), which would at worst take one unverified page for a verified one.
#[derive(Default)]
struct Seen {
    keys: (std::hash::RandomState, std::hash::RandomState),
    digests: std::collections::HashSet<u128>,
    /// The latest time among them.
    latest: Option<DateTime<Utc>>,
}

impl Seen {
    fn digest(&self, k: &Key) -> u128 {
        use std::hash::BuildHasher;
        (u128::from(self.keys.0.hash_one(k)) << 64) | u128::from(self.keys.1.hash_one(k))
    }

    /// Adds the version of key `k`; `false` when it was read already.
    fn insert(&mut self, k: &Key) -> bool {
        self.latest = self.latest.max(Some(k.time()));
        let d = self.digest(k);
        self.digests.insert(d)
    }

    fn contains(&self, k: &Key) -> bool {
        self.digests.contains(&self.digest(k))
    }

    fn len(&self) -> usize {
        self.digests.len()
    }
}

/// How a window's enumeration ended.
enum Read {
    /// Every version in the window was read: how many distinct ones, and the latest time seen.
    Complete { count: usize, latest: Option<DateTime<Utc>> },
    /// Stopped (deadline) or lost the cursor to another run; `sum.outcome` says which.
    Interrupted,
}

/// One page as the export read it: every version in the service's order (and whether this page
/// writes it), and the gzip object of the ones it writes, compressed as they arrived.
struct Fetched {
    /// Every record's version, in the service's order, and whether this page writes it (neither in
    /// the cursor nor earlier in the page).
    versions: Vec<(Version, bool)>,
    /// The object: the envelope lines of the records this page writes, gzip.
    body: Vec<u8>,
    /// Records written whose id or time the export could not read.
    undecodable: u64,
    /// The records written without a usable time, with their lines and whether they are
    /// undecodable (a page that is only a sample writes them apart: no time-filtered window can
    /// return them).
    untimed: Vec<(Version, Vec<u8>, bool)>,
    /// The cursor generation "written already" was decided against.
    generation: u64,
}

impl Fetched {
    fn len(&self) -> usize {
        self.versions.len()
    }

    /// The versions this page writes, in the service's order.
    fn fresh(&self) -> impl Iterator<Item = &Version> {
        self.versions.iter().filter(|(_, fresh)| *fresh).map(|(v, _)| v)
    }

    /// The times of the page's versions that have one.
    fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let mut times = self.versions.iter().map(|(v, _)| v.0).filter(|t| *t != DateTime::<Utc>::MIN_UTC);
        let first = times.next()?;
        Some(times.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t))))
    }
}

/// The [`Records`] a page is read into: each record is compressed into the page's object the moment
/// it arrives, unless the cursor or this page already holds its version; only its identity stays.
struct PageWriter<'a> {
    cursor: &'a Cursor,
    prefix: &'a [u8],
    gz: GzEncoder<Vec<u8>>,
    seen: std::collections::HashSet<Version>,
    page: Fetched,
    error: Option<std::io::Error>,
}

impl<'a> PageWriter<'a> {
    fn new(cursor: &'a Cursor, prefix: &'a [u8]) -> Self {
        Self {
            cursor,
            prefix,
            gz: GzEncoder::new(Vec::new(), Compression::fast()),
            seen: std::collections::HashSet::new(),
            page: Fetched {
                versions: Vec::new(),
                body: Vec::new(),
                undecodable: 0,
                untimed: Vec::new(),
                generation: cursor.generation,
            },
            error: None,
        }
    }

    fn finish(self) -> Result<Fetched, std::io::Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut page = self.page;
        page.body = self.gz.finish()?;
        Ok(page)
    }
}

impl Records for PageWriter<'_> {
    fn record(&mut self, r: Record) {
        let v = (r.updated, r.id);
        let fresh = !self.cursor.has(&v) && !self.seen.contains(&v);
        if fresh {
            self.seen.insert(v.clone());
            if let Err(e) = write_line(&mut self.gz, self.prefix, &r.line) {
                self.error.get_or_insert(e);
            }
            self.page.undecodable += u64::from(r.undecodable);
            if r.updated == DateTime::<Utc>::MIN_UTC {
                self.page.untimed.push((v.clone(), r.line, r.undecodable));
            }
        }
        self.page.versions.push((v, fresh));
    }

    fn restart(&mut self) {
        *self = Self::new(self.cursor, self.prefix);
    }
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
    prefix: Vec<u8>,
    /// The position committed with the next page (see [`Position`]).
    pos: Option<Position>,
}

impl Pager<'_, '_> {
    /// One request, read into a [`PageWriter`]; `None` when the run must stop first (or a call ran
    /// into its deadline).
    async fn fetch(
        &mut self,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        skip: usize,
    ) -> Result<Option<Fetched>, ExportError> {
        if self.stop.should_stop() {
            self.sum.outcome = Outcome::Stopped;
            self.sum.stop_reason = Some(StopReason::Deadline);
            return Ok(None);
        }
        let q = PageQuery { from, until, skip, top: self.top };
        self.sum.api_calls += 1;
        let mut writer = PageWriter::new(&self.state.cursor, &self.prefix);
        match self.source.page(self.kind, &q, self.job.deadline, &mut writer).await {
            Ok(()) => writer.finish().map(Some).map_err(ExportError::Gzip),
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

    /// Puts the page's object (the versions it holds that were not written yet), then commits them
    /// (and, when the window is complete, the new mark). `false`: another run won the cursor.
    async fn write(&mut self, page: Fetched, mark: Option<DateTime<Utc>>) -> Result<bool, ExportError> {
        // "Written already" was decided against the cursor the page was read with; nothing commits
        // between a read and its write.
        debug_assert_eq!(page.generation, self.state.cursor.generation);
        let versions: Vec<Version> = page.fresh().cloned().collect();
        if let (Some(first), Some(last)) = (versions.iter().min(), versions.iter().max()) {
            let key = object_key(self.job, first, last);
            sink_put(self.state.sink, self.job, &key, page.body).await?;
            self.sum.objects += 1;
        }
        let moves = mark.is_some_and(|m| self.state.cursor.mark().is_none_or(|c| m > c));
        if versions.is_empty() && !moves && self.state.cursor.position == self.pos {
            return Ok(true);
        }
        let undo = self.state.cursor.apply(&versions, mark, self.pos.clone(), self.job.overlap);
        if !self.state.commit_applied(undo).await? {
            self.sum.outcome = Outcome::Conflict;
            return Ok(false);
        }
        self.sum.records += versions.len() as u64;
        self.sum.undecodable += page.undecodable;
        self.sum.untimed += page.untimed.len() as u64;
        self.sum.cursor_after = self.state.cursor.high_water.clone();
        if let Some(t) = self.state.cursor.mark() {
            self.stop.progress(&self.job.stream, self.sum.records, t);
        }
        Ok(true)
    }

    /// Writes the records without a usable time of a page that is only a sample, as their own
    /// object. `false`: another run won the cursor.
    async fn write_untimed(&mut self, untimed: Vec<(Version, Vec<u8>, bool)>) -> Result<bool, ExportError> {
        let body = gzip_lines(&self.prefix, untimed.iter().map(|(_, l, _)| l.as_slice())).map_err(ExportError::Gzip)?;
        let n = untimed.len() as u64;
        let page = Fetched {
            undecodable: untimed.iter().filter(|(_, _, u)| *u).count() as u64,
            versions: untimed.into_iter().map(|(v, _, _)| (v, true)).collect(),
            body,
            untimed: Vec::new(),
            generation: self.state.cursor.generation,
        };
        let done = self.write(page, None).await?;
        if done {
            self.sum.untimed += n;
        }
        Ok(done)
    }

    /// Reads the window `[from, until)` completely (`first`: its page at `$skip=0`, if already read)
    /// and moves the mark to `until` when done (an open window: to the latest time read, at least
    /// `from`). `resume`: go on at this `$skip`, these versions read already. `track`: commit each
    /// page's [`Position`] in this window (off for a window read before resuming another).
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
        mut first: Option<Fetched>,
        resume: Option<(usize, Seen)>,
        track: bool,
    ) -> Result<Read, ExportError> {
        let (mut skip, mut read) = resume.unwrap_or_default();
        let mut latest = read.latest;
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
            let verified = skip == 0 || page.versions.first().is_some_and(|(v, _)| read.contains(&Key::of(v)));
            for (v, _) in &page.versions {
                let k = Key::of(v);
                if read.insert(&k) {
                    if self.state.cursor.recent.contains(&k) {
                        self.sum.skipped += 1;
                    }
                    latest = latest.max(Some(v.0));
                }
            }
            let done = verified && n < self.top;
            let m = if done { until.or(latest.max(from)) } else { None };
            if track {
                let next = if verified { skip + n.saturating_sub(1) } else { skip.saturating_sub(self.top - 1) };
                self.pos = (!done).then_some(Position { from, until, skip: next });
            }
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
    let start = |c: &Cursor| {
        match (c.query_from(job.overlap), job.backfill) {
            (Some(t), Some(b)) => Some(t.max(b.from)),
            (Some(t), None) => Some(t),
            (None, b) => b.map(|b| b.from),
        }
        .map(align_down)
    };
    let pos = state.cursor.position.clone();
    let mut p = Pager { source, kind, job, stop, state, sum, top, prefix: line_prefix(job), pos: pos.clone() };
    // 0. A window the last run left unfinished goes on where it stopped (a window holding more than
    //    one run can read completes over several); the overlap below it is read again first, for
    //    late arrivals, as every run does.
    if let Some(pos) = pos {
        if let (Some(q), Some(f)) = (start(&p.state.cursor), pos.from)
            && q < f
            && let Read::Interrupted = p.window(Some(q), Some(f), None, None, false).await?
        {
            return Ok(());
        }
        let mut read = Seen::default();
        for k in p.state.cursor.recent.iter().filter(|k| pos.holds(k.time())) {
            read.insert(k);
        }
        if let Read::Interrupted = p.window(pos.from, pos.until, None, Some((pos.skip, read)), true).await? {
            return Ok(());
        }
    }
    let start = start(&p.state.cursor);
    // 1. The whole range, in one page when it fits (a scheduled run's usual case).
    let Some(mut probe) = p.fetch(start, end, 0).await? else { return Ok(()) };
    if probe.len() < top {
        p.window(start, end, Some(probe), None, true).await?;
        return Ok(());
    }
    // 2. More than a page: the probe is a sample of the range, in the service's order.
    let Some((lo, hi)) = probe.span() else {
        // Nothing with a time to cut by: the range is one window.
        p.window(start, end, Some(probe), None, true).await?;
        return Ok(());
    };
    // Its records without a time are written now: no time-filtered window can return them.
    let untimed = std::mem::take(&mut probe.untimed);
    drop(probe);
    if !untimed.is_empty() && !p.write_untimed(untimed).await? {
        return Ok(());
    }
    // The first width: a sixteenth of what the sample spans (and of the range from `start`).
    let spanned = ticks(hi - lo).max(start.map_or(0, |a| ticks(hi - a)));
    let first_width = (spanned / 16).max(1);
    let mut width = first_width;
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
                    match p.window(None, Some(below), None, None, true).await? {
                        Read::Complete { .. } => break below,
                        Read::Interrupted => return Ok(()),
                    }
                }
                let Some(page) = p.fetch(None, Some(below), 0).await? else { return Ok(()) };
                if page.len() < top {
                    match p.window(None, Some(below), Some(page), None, true).await? {
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
    let target = window_target(top);
    loop {
        let mut b = align_down(a + of_ticks(width));
        if a < lo {
            // Below the sample's least time nothing says how dense the data is, and empty windows
            // grow the width fourfold each: the window that reaches the sample ends at most the
            // first width above its least time (it would otherwise hold what the grown width
            // spans, on the bench a third of the range in one window).
            b = b.min(align_down(lo + of_ticks(first_width))).max(align_down(a + of_ticks(1)));
        }
        if b > latest_seen || end.is_some_and(|e| b >= e) {
            p.window(Some(a), end, None, None, true).await?;
            return Ok(());
        }
        match p.window(Some(a), Some(b), None, None, true).await? {
            Read::Complete { count, latest } => {
                latest_seen = latest_seen.max(latest.unwrap_or(latest_seen));
                tracing::debug!(stream = %job.stream, from = %a, until = %b, count, "window complete");
                let factor = if count == 0 { 4.0 } else { (target as f64 / count as f64).min(4.0) };
                // The next width is scaled from the span that held the count: `b − a`, or for the
                // window that reaches the sample's least time from below, `b − lo` (what lies below
                // `lo` is unknown and mostly empty, and a grown width scaled by that count would cut
                // a window of many times the target; the smaller span can only cost a page, never
                // memory).
                let held = if a < lo && lo < b { ticks(b - lo) } else { ticks(b - a) };
                width = ((held.max(1) as f64 * factor) as i64).max(1);
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

#[cfg(test)]
mod cursor_doc_tests {
    use super::{CursorDoc, Document};
    use crate::cursor::{Cursor, Position, Version, WINDOWED};
    use crate::sink::{DirSink, Sink};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_cursor_streamed_to_the_sink_is_the_document_serde_writes_whole() {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 123_456_700).unwrap();
        let written: Vec<Version> =
            (0..50_000i64).map(|i| (t0 + chrono::Duration::milliseconds(i * 10), format!("da{i:018}_1"))).collect();
        let mut c = Cursor { version: WINDOWED, ..Cursor::default() };
        let pos = Some(Position { from: Some(t0), until: None, skip: 9_999 });
        let _ = c.apply(&written, Some(t0 + chrono::Duration::seconds(400)), pos, chrono::Duration::minutes(5));
        let whole = serde_json::to_vec(&c).unwrap();
        let dir = std::env::temp_dir().join(format!("se-cursor-doc-{}", std::process::id()));
        let sink = DirSink::new(&dir);
        let doc = CursorDoc { cursor: &c, len_hint: 0, len: Default::default() };
        let tag = sink.put_cursor_doc("_state/c.json", &doc, None).await.unwrap();
        let (read, read_tag) = sink.get_cursor("_state/c.json").await.unwrap().unwrap();
        assert!(read == whole, "byte for byte ({} vs {} bytes)", read.len(), whole.len());
        assert_eq!((read_tag, doc.len.load(std::sync::atomic::Ordering::Relaxed)), (tag, whole.len()));
        assert_eq!(serde_json::from_slice::<Cursor>(&read).unwrap(), c);
        // The default path (a sink that needs the body whole) puts the same bytes.
        let mut buffered = Vec::new();
        doc.write_to(&mut buffered).unwrap();
        assert!(buffered == whole);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[cfg(test)]
mod window_tests {
    use super::{WINDOW_MAX_RECORDS, window_target};

    /// The pages a window of `n` records takes when pages of `top` overlap by one, read as the
    /// pager reads them: the next `$skip` is `$top − 1` further, until a page is short.
    fn pages(n: usize, top: usize) -> usize {
        let (mut skip, mut calls) = (0, 0);
        loop {
            calls += 1;
            let got = n.saturating_sub(skip).min(top);
            if got < top {
                return calls;
            }
            skip += top - 1;
        }
    }

    #[test]
    fn a_window_is_sized_for_whole_pages_of_new_records() {
        for top in [10_000, 100, 50, 10] {
            let target = window_target(top);
            let k = pages(target, top);
            // `k` pages carry up to `k · ($top − 1)` records; the target leaves room below that.
            assert_eq!(pages(k * (top - 1), top), k, "top {top}");
            assert_eq!(pages(k * (top - 1) + 1, top), k + 1, "top {top}");
            assert!(target < k * (top - 1) && target <= WINDOW_MAX_RECORDS, "top {top}: {target}");
            assert!(target > (k - 1) * (top - 1), "top {top}: {target} needs {k} pages");
            assert!(target as f64 >= 0.9 * (k * (top - 1)) as f64, "top {top}: {target}");
        }
        // MDE's 10,000: four pages (40,000 records, as windows were sized before, took five).
        assert_eq!(pages(window_target(10_000), 10_000), 4);
        assert_eq!(pages(40_000, 10_000), 5);
        assert_eq!(pages(window_target(100), 100), 8);
    }
}
