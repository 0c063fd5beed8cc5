//! The function's own settings (the shared ones — tenant, credential, vault, cloud — are read by
//! `defender_shared::config`). Read once at cold start from a lookup, never from `std::env` elsewhere.

use crate::export::{
    Stream, StreamKind,
    hunting::{HuntingSpec, MAX_ROWS, QueryConfig},
};
use defender_shared::settings::{SettingError, number};
use std::{path::PathBuf, sync::Arc, time::Duration};

/// Where the export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    /// `EXPORT_BUCKET` (+ `EXPORT_PREFIX`, `EXPORT_S3_PATH_STYLE`).
    S3 {
        /// Bucket.
        bucket: String,
        /// Key prefix (may be empty).
        prefix: String,
        /// Path-style addressing (moto, MinIO).
        path_style: bool,
    },
    /// `EXPORT_DIR`: a local directory (for `make run`).
    Dir(PathBuf),
}

/// Settings of the export function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// The sink.
    pub sink: SinkConfig,
    /// Enabled streams (`EXPORT_STREAMS`: comma-separated `xdr-incidents`, `mde-alerts`,
    /// `graph-alerts`, `graph-incidents`, `hunting:<name>`; default `xdr-incidents,mde-alerts` and
    /// every hunting query).
    pub streams: Vec<Stream>,
    /// Re-read window below the high-water mark (`EXPORT_OVERLAP_SECONDS`, default 300).
    pub overlap: Duration,
    /// Stop this long before the Lambda deadline (`EXPORT_DEADLINE_MARGIN_SECONDS`, default 30).
    pub margin: Duration,
    /// Page size below the documented maxima (`EXPORT_PAGE_SIZE`; unset: the maxima).
    pub page_size: Option<usize>,
    /// Fan-out mode (`EXPORT_JOB_QUEUE_URL`, an SQS FIFO queue): the schedule enqueues one job per
    /// (tenant, stream) there instead of exporting ([`crate::fanout`]); unset: one invocation exports
    /// every (tenant, stream) in turn.
    pub job_queue: Option<String>,
}

/// A setting is wrong (the variable and why).
pub type ExportConfigError = SettingError;

fn err(var: &'static str, reason: impl Into<String>) -> ExportConfigError {
    SettingError::new(var, reason)
}

/// `EXPORT_HUNTING_QUERIES`: a JSON list of `{"name", "query", "time_column"}`, or the path of a
/// file holding one; `EXPORT_HUNTING_SLICE_MINUTES` (60), `EXPORT_HUNTING_LOOKBACK_HOURS` (24),
/// `EXPORT_HUNTING_MAX_ROWS` (the documented 100,000).
fn hunting_specs(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<Arc<HuntingSpec>>, ExportConfigError> {
    const VAR: &str = "EXPORT_HUNTING_QUERIES";
    let Some(raw) = get(VAR).filter(|v| !v.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let raw = raw.trim();
    let text = if raw.starts_with('[') {
        raw.to_string()
    } else {
        std::fs::read_to_string(raw).map_err(|e| err(VAR, format!("cannot read the file '{raw}': {e}")))?
    };
    let list: Vec<QueryConfig> = serde_json::from_str(&text)
        .map_err(|e| err(VAR, format!("not a list of {{name, query, time_column}}: {e}")))?;
    let slice =
        chrono::Duration::minutes(number(get, "EXPORT_HUNTING_SLICE_MINUTES", 60)?.clamp(1, 30 * 24 * 60) as i64);
    let lookback = chrono::Duration::hours(number(get, "EXPORT_HUNTING_LOOKBACK_HOURS", 24)?.clamp(1, 30 * 24) as i64);
    let max_rows = number(get, "EXPORT_HUNTING_MAX_ROWS", MAX_ROWS as u64)?.clamp(1, MAX_ROWS as u64) as usize;
    let mut out: Vec<Arc<HuntingSpec>> = Vec::new();
    for q in list {
        let spec = HuntingSpec::new(q, slice, lookback, max_rows).map_err(|e| err(VAR, e.to_string()))?;
        if out.iter().any(|o| o.name == spec.name) {
            return Err(err(VAR, format!("the name '{}' is used twice", spec.name)));
        }
        out.push(Arc::new(spec));
    }
    Ok(out)
}

impl ExportConfig {
    /// Reads the settings named on [`ExportConfig`]'s fields.
    ///
    /// # Errors
    /// Neither or both of `EXPORT_BUCKET` / `EXPORT_DIR`, an unknown stream, a value that is not a
    /// number — named with its variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ExportConfigError> {
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let sink = match (nonempty("EXPORT_BUCKET"), nonempty("EXPORT_DIR")) {
            (Some(bucket), None) => SinkConfig::S3 {
                bucket: bucket.trim().to_string(),
                prefix: nonempty("EXPORT_PREFIX").unwrap_or_default().trim().trim_matches('/').to_string(),
                path_style: nonempty("EXPORT_S3_PATH_STYLE").is_some_and(|v| matches!(v.trim(), "1" | "true")),
            },
            (None, Some(dir)) => SinkConfig::Dir(PathBuf::from(dir.trim())),
            (Some(_), Some(_)) => return Err(err("EXPORT_BUCKET", "set EXPORT_BUCKET or EXPORT_DIR, not both")),
            (None, None) => return Err(err("EXPORT_BUCKET", "set EXPORT_BUCKET (S3) or EXPORT_DIR (local)")),
        };
        let hunting = hunting_specs(&get)?;
        let streams = match nonempty("EXPORT_STREAMS") {
            None => StreamKind::DEFAULT
                .into_iter()
                .map(Stream::List)
                .chain(hunting.into_iter().map(Stream::Hunting))
                .collect(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| match s.strip_prefix("hunting:") {
                    Some(name) => {
                        hunting.iter().find(|h| h.name == name).cloned().map(Stream::Hunting).ok_or_else(|| {
                            err(
                                "EXPORT_STREAMS",
                                format!("'{s}': no hunting query named '{name}' in EXPORT_HUNTING_QUERIES"),
                            )
                        })
                    }
                    None => s
                        .parse()
                        .map(Stream::List)
                        .map_err(|e: crate::export::UnknownStream| err("EXPORT_STREAMS", e.to_string())),
                })
                .collect::<Result<_, _>>()?,
        };
        let page = number(&get, "EXPORT_PAGE_SIZE", 0)?;
        Ok(Self {
            sink,
            streams,
            overlap: Duration::from_secs(number(&get, "EXPORT_OVERLAP_SECONDS", 300)?),
            margin: Duration::from_secs(number(&get, "EXPORT_DEADLINE_MARGIN_SECONDS", 30)?),
            page_size: (page > 0).then_some(page as usize),
            job_queue: nonempty("EXPORT_JOB_QUEUE_URL").map(|v| v.trim().to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::settings::only;

    #[test]
    fn sinks_streams_and_errors() {
        let c = ExportConfig::from_lookup(|k| (k == "EXPORT_DIR").then(|| "/tmp/x".to_string())).unwrap();
        assert_eq!(c.sink, SinkConfig::Dir("/tmp/x".into()));
        assert_eq!(c.streams, vec![Stream::List(StreamKind::XdrIncidents), Stream::List(StreamKind::MdeAlerts)]);
        assert_eq!((c.overlap.as_secs(), c.margin.as_secs(), c.page_size), (300, 30, None));
        let c = ExportConfig::from_lookup(only(&[
            ("EXPORT_BUCKET", "b"),
            ("EXPORT_PREFIX", "/raw/"),
            ("EXPORT_STREAMS", "mde-alerts"),
        ]))
        .unwrap();
        assert_eq!(c.sink, SinkConfig::S3 { bucket: "b".into(), prefix: "raw".into(), path_style: false });
        assert_eq!(c.streams, vec![Stream::List(StreamKind::MdeAlerts)]);
        assert_eq!(ExportConfig::from_lookup(|_| None).unwrap_err().var, "EXPORT_BUCKET");
        let e = ExportConfig::from_lookup(only(&[("EXPORT_DIR", "d"), ("EXPORT_STREAMS", "hunting")])).unwrap_err();
        assert_eq!(e.var, "EXPORT_STREAMS");
    }

    #[test]
    fn hunting_queries_become_streams() {
        let queries = r#"[{"name":"proc","query":"DeviceProcessEvents | project Timestamp, FileName","time_column":"Timestamp"},
                          {"name":"net","query":"DeviceNetworkEvents","time_column":"Timestamp"}]"#;
        let get = |extra: &'static str| {
            move |k: &str| match k {
                "EXPORT_DIR" => Some("d".to_string()),
                "EXPORT_HUNTING_QUERIES" => Some(queries.to_string()),
                "EXPORT_HUNTING_MAX_ROWS" => Some("500".to_string()),
                "EXPORT_STREAMS" if !extra.is_empty() => Some(extra.to_string()),
                _ => None,
            }
        };
        let c = ExportConfig::from_lookup(get("")).unwrap();
        let names: Vec<String> = c.streams.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["xdr-incidents", "mde-alerts", "hunting:proc", "hunting:net"]);
        let c = ExportConfig::from_lookup(get("graph-alerts, hunting:net")).unwrap();
        let names: Vec<String> = c.streams.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["graph-alerts", "hunting:net"]);
        match &c.streams[1] {
            Stream::Hunting(h) => assert_eq!((h.max_rows, h.slice.num_minutes()), (500, 60)),
            other => panic!("{other:?}"),
        }
        let e = ExportConfig::from_lookup(get("hunting:nope")).unwrap_err();
        assert!(e.reason.contains("nope"), "{e}");
        let e = ExportConfig::from_lookup(only(&[
            ("EXPORT_DIR", "d"),
            ("EXPORT_HUNTING_QUERIES", "/nonexistent/queries.json"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "EXPORT_HUNTING_QUERIES");
    }
}
