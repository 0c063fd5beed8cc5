//! Hunting streams: a named advanced-hunting query from the configuration, exported slice by slice.
//!
//! The time range of a run (`cursor … now − overlap`, or a backfill window) is cut into slices of
//! `slice` length. Each slice runs `<query> | where <time_column> >= datetime(from) and <time_column>
//! < datetime(to)` — built by the shared KQL builder, the bounds bound as typed datetimes — through
//! Graph `runHuntingQuery`. An answer with `max_rows` rows (the documented limit is 100,000 rows;
//! the service cuts the rest) or an answer that a CPU quota, a timeout or the result size was
//! exceeded **halves the window** and retries it; after a slice succeeds, the window doubles back up
//! to `slice`. A finished slice is one object (`<from>_<to>.jsonl.gz`, deterministic) and then the
//! cursor's high-water mark moves to the slice's end, so the next run resumes at the first unfinished
//! slice. Rows are identified by their slice: slices are disjoint, so a row is written once unless
//! it arrives later than `overlap` after its time (the settle lag the run leaves before now).

use super::{
    ExportError, Job, Outcome, Source, StopReason, StopSignal, StreamSummary, gzip_lines, line_prefix, quota_stop,
    sink_put, slice_key, source_error,
};
use chrono::{DateTime, Duration, Utc};
use defender_shared::defender::{
    DefenderError,
    kql::{HuntingQuery, KqlError, KqlQuery},
};
use serde::Deserialize;

/// The documented row limit of one hunting answer.
pub const MAX_ROWS: usize = 100_000;

/// The smallest window a slice is halved to.
pub const MIN_WINDOW: Duration = Duration::seconds(1);

/// One configured hunting stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuntingSpec {
    /// The stream's name (`hunting:<name>`): `[A-Za-z0-9_-]`.
    pub name: String,
    /// The query with the slice filter appended, as a shared-builder template (`{from}`, `{to}`).
    template: &'static str,
    /// The column the slices cut on.
    pub time_column: String,
    /// Slice length (`EXPORT_HUNTING_SLICE_MINUTES`, default 60).
    pub slice: Duration,
    /// First run: how far back (`EXPORT_HUNTING_LOOKBACK_HOURS`, default 24; the data keeps 30 days).
    pub lookback: Duration,
    /// Rows that mean "truncated" (`EXPORT_HUNTING_MAX_ROWS`, default the documented 100,000).
    pub max_rows: usize,
}

/// One entry of `EXPORT_HUNTING_QUERIES`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// Name.
    pub name: String,
    /// KQL from the configuration (never from a request).
    pub query: String,
    /// The time column (`Timestamp`).
    pub time_column: String,
}

/// A hunting query in the configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Name not `[A-Za-z0-9_-]{1,64}`.
    #[error("hunting query name '{0}' must be 1-64 characters of A-Z a-z 0-9 _ -")]
    Name(String),
    /// Not an identifier.
    #[error("hunting query '{name}': time_column '{column}' is not a column name")]
    Column {
        /// Query name.
        name: String,
        /// The column.
        column: String,
    },
    /// The shared builder refuses it.
    #[error("hunting query '{name}': {source}")]
    Query {
        /// Query name.
        name: String,
        /// Why.
        #[source]
        source: KqlError,
    },
}

impl HuntingSpec {
    /// Validates one configured query. The template is built once per cold start and lives as long
    /// as the process (the shared builder takes `&'static str` templates).
    ///
    /// # Errors
    /// A bad name or column, or a query the KQL builder refuses (a `{` or `}` outside strings must
    /// be doubled; none may appear in strings or comments).
    pub fn new(q: QueryConfig, slice: Duration, lookback: Duration, max_rows: usize) -> Result<Self, SpecError> {
        let ok_name = !q.name.is_empty()
            && q.name.len() <= 64
            && q.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok_name {
            return Err(SpecError::Name(q.name));
        }
        let col = q.time_column.trim();
        let ok_col = col.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && col.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok_col {
            return Err(SpecError::Column { name: q.name, column: q.time_column });
        }
        let text = format!("{}\n| where {col} >= {{from}} and {col} < {{to}}", q.query.trim());
        let template: &'static str = Box::leak(text.into_boxed_str());
        let spec = Self {
            name: q.name,
            template,
            time_column: col.to_string(),
            slice: slice.max(MIN_WINDOW),
            lookback,
            max_rows: max_rows.max(1),
        };
        let now = Utc::now();
        spec.query(now - Duration::hours(1), now)
            .map_err(|source| SpecError::Query { name: spec.name.clone(), source })?;
        Ok(spec)
    }

    /// The query of one slice.
    ///
    /// # Errors
    /// The builder refuses the template (checked when the spec was made).
    pub fn query(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<KqlQuery, KqlError> {
        HuntingQuery::new(self.template).bind("from", from).bind("to", to).render()
    }
}

/// Whether the service refused the slice for its size: a CPU or running-time quota (429 whose body
/// says so — a quota on the *number* of calls does not shrink with the window), a timeout, or the
/// result-size limit (documented as a 400 "exceeded the allowed result size").
pub fn needs_smaller_window(e: &DefenderError) -> bool {
    let (status, message) = match e {
        DefenderError::Api { status, message, code, .. } => (status.as_u16(), format!("{code} {message}")),
        DefenderError::Throttled { message, code, .. } => (429, format!("{code} {message}")),
        _ => return false,
    };
    let m = message.to_ascii_lowercase();
    let has = |w: &[&str]| w.iter().any(|x| m.contains(x));
    match status {
        429 => has(&["cpu", "running time", "execution time", "resources"]),
        408 | 504 => true,
        400 => has(&["result size", "timeout", "timed out", "time limit", "too long"]),
        _ => false,
    }
}

/// Runs `spec`'s slices from the committed cursor (its high-water mark is the end of the last
/// finished slice) up to `now − overlap` (or the backfill's end).
pub(crate) async fn slices(
    source: &dyn Source,
    spec: &HuntingSpec,
    job: &Job,
    stop: &dyn StopSignal,
    state: &mut super::Committed<'_>,
    sum: &mut StreamSummary,
) -> Result<(), ExportError> {
    let end = match job.backfill {
        Some(b) => b.to,
        None => job.started - job.overlap,
    };
    let mut from = match (&state.cursor.high_water, job.backfill) {
        (Some((t, _)), _) => *t,
        (None, Some(b)) => b.from,
        (None, None) => job.started - spec.lookback,
    };
    let mut len = spec.slice;
    while from < end {
        if stop.should_stop() {
            sum.outcome = Outcome::Stopped;
            sum.stop_reason = Some(StopReason::Deadline);
            break;
        }
        let to = (from + len).min(end);
        let query =
            spec.query(from, to).map_err(|source| ExportError::Query { stream: job.stream.to_string(), source })?;
        sum.api_calls += 1;
        let smaller = match source.hunt(&query, job.deadline).await {
            Ok(rows) if rows.len() >= spec.max_rows => true,
            Ok(rows) => {
                if !rows.is_empty() {
                    let body =
                        gzip_lines(&line_prefix(job), rows.iter().map(Vec::as_slice)).map_err(ExportError::Gzip)?;
                    sink_put(state.sink(), job, &slice_key(job, from, to), body).await?;
                    sum.objects += 1;
                }
                let mut next = state.cursor.clone();
                next.high_water = Some((to, String::new()));
                next.generation += 1;
                if !state.commit(next).await? {
                    sum.outcome = Outcome::Conflict;
                    break;
                }
                sum.records += rows.len() as u64;
                sum.cursor_after = state.cursor.high_water.clone();
                stop.progress(&job.stream, sum.records, to);
                from = to;
                len = (len * 2).min(spec.slice);
                false
            }
            Err(e) if e.is_deadline() => {
                sum.outcome = Outcome::Stopped;
                sum.stop_reason = Some(StopReason::Deadline);
                break;
            }
            Err(e) if needs_smaller_window(&e) => {
                if e.is_throttled() {
                    sum.throttles += 1;
                }
                true
            }
            Err(e) => match quota_stop(&e, job.deadline) {
                // A quota for the number of calls, its next slot after the deadline: a clean stop.
                Some(why) => {
                    sum.throttles += 1;
                    sum.outcome = Outcome::Stopped;
                    sum.stop_reason = Some(why);
                    break;
                }
                None => return Err(source_error(job, e, sum)),
            },
        };
        if smaller {
            let half = Duration::milliseconds((to - from).num_milliseconds() / 2);
            if half < MIN_WINDOW {
                return Err(ExportError::Window {
                    stream: job.stream.to_string(),
                    from,
                    window_ms: (to - from).num_milliseconds(),
                });
            }
            len = half;
            sum.windows_halved += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn q(name: &str, query: &str, col: &str) -> QueryConfig {
        QueryConfig { name: name.into(), query: query.into(), time_column: col.into() }
    }

    #[test]
    fn specs_validate_and_render_slices() {
        let h = Duration::hours(1);
        let s = HuntingSpec::new(q("proc", "DeviceProcessEvents | project Timestamp, FileName", "Timestamp"), h, h, 10)
            .unwrap();
        let from: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let text = s.query(from, from + Duration::milliseconds(1500)).unwrap().to_string();
        assert_eq!(
            text,
            "DeviceProcessEvents | project Timestamp, FileName\n| where Timestamp >= datetime(2026-11-01T00:00:00Z) \
             and Timestamp < datetime(2026-11-01T00:00:01.500Z)"
        );
        assert!(matches!(HuntingSpec::new(q("a b", "T", "Timestamp"), h, h, 1), Err(SpecError::Name(_))));
        assert!(matches!(HuntingSpec::new(q("a", "T", "Time stamp"), h, h, 1), Err(SpecError::Column { .. })));
        assert!(matches!(
            HuntingSpec::new(q("a", "T | where X == \"{x}\"", "Timestamp"), h, h, 1),
            Err(SpecError::Query { .. })
        ));
    }

    #[test]
    fn only_size_errors_halve_the_window() {
        let api = |status: u16, message: &str| DefenderError::Api {
            endpoint: defender_shared::defender::Endpoint::GraphSecurityRunHuntingQuery.name(),
            status: StatusCode::from_u16(status).unwrap(),
            code: "BadRequest".into(),
            message: message.into(),
            retry_after: None,
            request_id: None,
        };
        let throttled = |message: &str| DefenderError::Throttled {
            endpoint: defender_shared::defender::Endpoint::GraphSecurityRunHuntingQuery.name(),
            retry_after: None,
            code: "TooManyRequests".into(),
            message: message.into(),
            request_id: None,
        };
        assert!(needs_smaller_window(&api(
            400,
            "Query execution has exceeded the allowed result size. Optimize your query by limiting the number of results and try again"
        )));
        assert!(needs_smaller_window(&api(400, "Query timed out")));
        assert!(needs_smaller_window(&api(504, "")));
        assert!(needs_smaller_window(&throttled("Query quota exceeded: CPU resources (15-minute cycle)")));
        assert!(!needs_smaller_window(&throttled("Query quota exceeded: number of requests (45 calls per minute)")));
        assert!(!needs_smaller_window(&api(400, "Query is invalid: unknown table")));
        assert!(!needs_smaller_window(&api(500, "timeout")));
        assert!(!needs_smaller_window(&DefenderError::Deadline { endpoint: "x" }));
    }
}
