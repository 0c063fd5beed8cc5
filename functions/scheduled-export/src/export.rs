//! The export use case: for one (tenant, stream), everything that changed since the committed cursor,
//! page by page to the sink, the cursor committed after each page's object.
//!
//! # How a run reads
//! The first query is `lastUpdateTime ge (high_water.time − overlap)` (no filter before the first
//! commit; `ge from and lt to` in backfill), `$orderby=lastUpdateTime asc`, `$top` = the stream's
//! documented maximum page. The next page is *keyset-anchored*: `lastUpdateTime ge T` where `T` is the
//! last time of the previous page, with `$skip` = how many records at or after `T` this run has
//! already been given (only the ties at `T`). So an update that moves a record out of the way while
//! the run pages cannot shift an unread record past the page boundary, and a run of ties longer than a
//! page (300 records sharing one `lastUpdateTime`) pages on through `$skip`. Each page is sorted by
//! `(lastUpdateTime, id)`; versions in the cursor's `recent` set are skipped, the others are written as
//! one gzip JSON Lines object and then the cursor is committed with a conditional write.
//!
//! # Delivery guarantee
//! A record version is the pair `(id, lastUpdateTime)`; an update is a new version, exported again.
//! - **No loss** of any version that is visible to the API while its `lastUpdateTime` is at or above
//!   `high_water.time − overlap`: every version at or below the committed high-water mark was returned
//!   by a committed page (pages are in time order), and versions inside the overlap window that no
//!   committed page wrote (late arrivals, unread ties at the boundary) are read again by the next run.
//!   A version that becomes visible more than `overlap` after a later version was committed, or that
//!   is replaced by a newer one between two runs, is never seen (nothing polling could see it).
//! - **Objects: at-least-once.** An object is written before the cursor that covers it; a run that
//!   stops between the two (crash, deadline, store error, a lost race) leaves an object the next run
//!   writes again. Keys are deterministic — `tenant=…/stream=…/date=<from's date>/<from>_<to>_<first
//!   id>.jsonl.gz` from the versions in it — and the next run starts from the same committed cursor,
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
//! - Ordering assumption: `$orderby` is not in the Defender docs for these lists (the simulator, like
//!   the service, accepts it). If the service ignored it, pages would still be sorted and deduplicated,
//!   but the per-page commit would no longer imply "everything earlier was read"; the tests pin the
//!   ordering the simulator serves.
//!
//! Memory is one page (at most 10,000 alerts) plus the overlap window's identities, whatever the volume.

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
use std::{fmt, io::Write, str::FromStr, time::Duration};

/// A list stream: records with an id and a last-update time, read by keyset pages.
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
    /// documents no maximum and pages with `@odata.nextLink`, so the shared client's
    /// [`GRAPH_PAGE`](defender_shared::defender::api::GRAPH_PAGE) (the docs' own example, 100).
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

/// One record version, already serialised as one JSON line (unknown fields kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's id (incident id, alert id).
    pub id: String,
    /// Its `lastUpdateTime` (`DateTime::MIN_UTC` if the service sent none).
    pub updated: DateTime<Utc>,
    /// The JSON document, without the newline.
    pub line: Vec<u8>,
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

/// One page of a list stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The records.
    pub records: Vec<Record>,
    /// Whether the service says more follow (Graph: an `@odata.nextLink`); `None` when it does not
    /// say (MDE, XDR), and a short page is the end.
    pub more: Option<bool>,
}

/// Where records come from.
#[async_trait]
pub trait Source: Send + Sync {
    /// One page of a list stream, ordered by its time field ascending.
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

/// Stops `margin` before a deadline (the Lambda's).
#[derive(Debug, Clone, Copy)]
pub struct DeadlineStop {
    /// The hard deadline.
    pub deadline: Deadline,
    /// Time kept for the page in flight, its object and its commit.
    pub margin: Duration,
}

impl StopSignal for DeadlineStop {
    fn should_stop(&self) -> bool {
        self.deadline.remaining() <= self.margin
    }
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
    /// Calls that ended throttled after the client's retries.
    pub throttles: u64,
    /// Hunting: slices halved because the answer was truncated or hit a quota or timeout.
    pub windows_halved: u64,
    /// High-water mark before.
    pub cursor_before: Option<Version>,
    /// High-water mark after.
    pub cursor_after: Option<Version>,
    /// How it ended.
    pub outcome: Outcome,
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

pub(crate) fn gzip_lines<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Result<Vec<u8>, std::io::Error> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    for l in lines {
        gz.write_all(l)?;
        gz.write_all(b"\n")?;
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
        windows_halved: 0,
        cursor_before: cursor.high_water.clone(),
        cursor_after: cursor.high_water.clone(),
        outcome: Outcome::Complete,
    };
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

async fn pages(
    source: &dyn Source,
    kind: StreamKind,
    job: &Job,
    stop: &dyn StopSignal,
    state: &mut Committed<'_>,
    sum: &mut StreamSummary,
) -> Result<(), ExportError> {
    let top = job.page_size.clamp(1, kind.max_page());
    let mut anchor = match (state.cursor.query_from(job.overlap), job.backfill) {
        (Some(t), Some(b)) => Some(t.max(b.from)),
        (Some(t), None) => Some(t),
        (None, b) => b.map(|b| b.from),
    };
    let mut skip = 0usize;
    loop {
        if stop.should_stop() {
            sum.outcome = Outcome::Stopped;
            break;
        }
        let q = PageQuery { from: anchor, until: job.backfill.map(|b| b.to), skip, top };
        sum.api_calls += 1;
        let Page { records: mut page, more } = match source.page(kind, &q, job.deadline).await {
            Ok(p) => p,
            Err(e) if e.is_deadline() => {
                sum.outcome = Outcome::Stopped;
                break;
            }
            Err(e) => return Err(source_error(job, e, sum)),
        };
        let n = page.len();
        page.sort_by(|a, b| (a.updated, &a.id).cmp(&(b.updated, &b.id)));
        if let Some(last) = page.last() {
            let t = last.updated;
            if t == DateTime::<Utc>::MIN_UTC || anchor == Some(t) {
                // Still inside one run of ties (or of records without a time): page on by offset.
                skip += n;
            } else {
                // Earlier pages ended before `t`, so only this page's ties at `t` were seen.
                skip = page.iter().filter(|r| r.updated >= t).count();
                anchor = Some(t);
            }
        }
        let fresh: Vec<&Record> = page.iter().filter(|r| !state.cursor.has(&(r.updated, r.id.clone()))).collect();
        sum.skipped += (n - fresh.len()) as u64;
        if let (Some(first), Some(last)) = (fresh.first(), fresh.last()) {
            let versions: Vec<Version> = fresh.iter().map(|r| (r.updated, r.id.clone())).collect();
            let key = object_key(job, &(first.updated, first.id.clone()), &(last.updated, last.id.clone()));
            let body = gzip_lines(fresh.iter().map(|r| r.line.as_slice())).map_err(ExportError::Gzip)?;
            sink_put(state.sink, job, &key, body).await?;
            sum.objects += 1;
            let mut next = state.cursor.clone();
            next.advance(&versions, job.overlap);
            if !state.commit(next).await? {
                sum.outcome = Outcome::Conflict;
                break;
            }
            sum.records += versions.len() as u64;
            sum.cursor_after = state.cursor.high_water.clone();
            if let Some((t, _)) = &sum.cursor_after {
                stop.progress(&job.stream, sum.records, *t);
            }
        }
        // Graph says whether more follow (`@odata.nextLink`); the others end with a short page.
        if !more.unwrap_or(n >= top) || n == 0 {
            break;
        }
    }
    Ok(())
}

pub(crate) async fn sink_put(sink: &dyn Sink, job: &Job, key: &str, body: Vec<u8>) -> Result<(), ExportError> {
    sink.put_object(key, body).await.map_err(|source| ExportError::Sink { stream: job.stream.to_string(), source })
}
