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
use crate::sink::{ETag, Sink, SinkError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use defender_shared::defender::{Deadline, DefenderError};
use flate2::{Compression, write::GzEncoder};
use serde::Serialize;
use std::{fmt, io::Write, str::FromStr, time::Duration};

/// An exported stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamKind {
    /// Defender XDR incidents (with their alerts), `/api/incidents`.
    XdrIncidents,
    /// MDE alerts with `$expand=evidence`, `/api/alerts`.
    MdeAlerts,
}

impl StreamKind {
    /// Every stream.
    pub const ALL: [StreamKind; 2] = [StreamKind::XdrIncidents, StreamKind::MdeAlerts];

    /// The name in keys, settings and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::XdrIncidents => "xdr-incidents",
            Self::MdeAlerts => "mde-alerts",
        }
    }

    /// The documented maximum `$top`.
    pub fn max_page(self) -> usize {
        use defender_shared::defender::api::{MDE_MAX_PAGE, XDR_INCIDENTS_MAX_PAGE};
        match self {
            Self::XdrIncidents => XDR_INCIDENTS_MAX_PAGE,
            Self::MdeAlerts => MDE_MAX_PAGE,
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
#[error("unknown stream '{0}' (known: xdr-incidents, mde-alerts)")]
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

/// Where records come from: one page of a stream, ordered by `lastUpdateTime` ascending.
#[async_trait]
pub trait Source: Send + Sync {
    /// One page.
    ///
    /// # Errors
    /// The service's error after the client's retries within `deadline`.
    async fn page(&self, stream: StreamKind, q: &PageQuery, deadline: Deadline) -> Result<Vec<Record>, DefenderError>;
}

/// Asked before each page: stop now, with the cursor at the last committed page?
pub trait StopSignal: Send + Sync {
    /// True when no further page should start.
    fn should_stop(&self) -> bool;
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
    pub stream: StreamKind,
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
    /// Stream.
    pub stream: StreamKind,
    /// Record versions written.
    pub records: u64,
    /// Versions read again in the overlap window and skipped.
    pub skipped: u64,
    /// Data objects written.
    pub objects: u64,
    /// Page requests made (each counted once, whatever the client's retries).
    pub api_calls: u64,
    /// Calls that ended throttled after the client's retries.
    pub throttles: u64,
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
        stream: StreamKind,
        /// Cause.
        #[source]
        source: DefenderError,
    },
    /// The sink failed.
    #[error("{stream}: writing to the sink failed")]
    Sink {
        /// Stream.
        stream: StreamKind,
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
    /// Compression failed (only on allocation failure).
    #[error("gzip")]
    Gzip(#[source] std::io::Error),
}

/// A key part: only `[A-Za-z0-9._-]`, anything else becomes `-`.
fn part(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%S%.9fZ").to_string()
}

fn data_prefix(job: &Job) -> String {
    let base = format!("tenant={}/stream={}", part(&job.tenant), job.stream);
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

fn gzip_lines<'a>(records: impl Iterator<Item = &'a Record>) -> Result<Vec<u8>, std::io::Error> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    for r in records {
        gz.write_all(&r.line)?;
        gz.write_all(b"\n")?;
    }
    gz.finish()
}

async fn load_cursor(sink: &dyn Sink, job: &Job, key: &str) -> Result<(Cursor, Option<ETag>), ExportError> {
    match sink.get_cursor(key).await.map_err(|source| ExportError::Sink { stream: job.stream, source })? {
        None => Ok((Cursor { version: 1, ..Cursor::default() }, None)),
        Some((bytes, tag)) => {
            let c = serde_json::from_slice(&bytes).map_err(|source| ExportError::Cursor { key: key.into(), source })?;
            Ok((c, Some(tag)))
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
    let ckey = cursor_key(job);
    let (mut cursor, mut etag) = load_cursor(sink, job, &ckey).await?;
    let mut sum = StreamSummary {
        tenant: job.tenant.clone(),
        stream: job.stream,
        records: 0,
        skipped: 0,
        objects: 0,
        api_calls: 0,
        throttles: 0,
        cursor_before: cursor.high_water.clone(),
        cursor_after: cursor.high_water.clone(),
        outcome: Outcome::Complete,
    };
    if cursor.lease.as_ref().is_some_and(|l| l.holder != job.run_id && l.until > job.started) {
        sum.outcome = Outcome::Conflict;
        return Ok(sum);
    }
    let mut leased = cursor.clone();
    leased.lease = Some(Lease { holder: job.run_id.clone(), until: job.lease_until });
    leased.generation += 1;
    match commit(sink, job, &ckey, &leased, etag.as_ref()).await? {
        Some(tag) => {
            etag = Some(tag);
            cursor = leased;
        }
        None => {
            sum.outcome = Outcome::Conflict;
            return Ok(sum);
        }
    }
    let result = pages(source, sink, job, stop, &ckey, &mut cursor, &mut etag, &mut sum).await;
    if sum.outcome != Outcome::Conflict {
        // Release the lease (also after an error, best effort: an unreleased one expires anyway).
        let mut free = cursor.clone();
        free.lease = None;
        free.generation += 1;
        let released = commit(sink, job, &ckey, &free, etag.as_ref()).await;
        if result.is_ok() && released?.is_none() {
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
        Err(source) => Err(ExportError::Sink { stream: job.stream, source }),
    }
}

#[allow(clippy::too_many_arguments)]
async fn pages(
    source: &dyn Source,
    sink: &dyn Sink,
    job: &Job,
    stop: &dyn StopSignal,
    ckey: &str,
    cursor: &mut Cursor,
    etag: &mut Option<ETag>,
    sum: &mut StreamSummary,
) -> Result<(), ExportError> {
    let top = job.page_size.clamp(1, job.stream.max_page());
    let mut anchor = match (cursor.query_from(job.overlap), job.backfill) {
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
        let mut page = match source.page(job.stream, &q, job.deadline).await {
            Ok(p) => p,
            Err(DefenderError::Deadline { .. }) => {
                sum.outcome = Outcome::Stopped;
                break;
            }
            Err(e) => {
                if matches!(e, DefenderError::Throttled { .. } | DefenderError::Paced { .. }) {
                    sum.throttles += 1;
                }
                return Err(ExportError::Source { stream: job.stream, source: e });
            }
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
        let fresh: Vec<&Record> = page.iter().filter(|r| !cursor.has(&(r.updated, r.id.clone()))).collect();
        sum.skipped += (n - fresh.len()) as u64;
        if let (Some(first), Some(last)) = (fresh.first(), fresh.last()) {
            let versions: Vec<Version> = fresh.iter().map(|r| (r.updated, r.id.clone())).collect();
            let key = object_key(job, &(first.updated, first.id.clone()), &(last.updated, last.id.clone()));
            let body = gzip_lines(fresh.iter().copied()).map_err(ExportError::Gzip)?;
            sink.put_object(&key, body).await.map_err(|source| ExportError::Sink { stream: job.stream, source })?;
            sum.objects += 1;
            let mut next = cursor.clone();
            next.advance(&versions, job.overlap);
            match commit(sink, job, ckey, &next, etag.as_ref()).await? {
                Some(tag) => {
                    *etag = Some(tag);
                    *cursor = next;
                    sum.records += versions.len() as u64;
                    sum.cursor_after = cursor.high_water.clone();
                }
                None => {
                    sum.outcome = Outcome::Conflict;
                    break;
                }
            }
        }
        if n < top {
            break;
        }
    }
    Ok(())
}
