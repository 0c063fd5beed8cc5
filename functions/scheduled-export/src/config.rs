//! The function's own settings (the shared ones — tenant, credential, vault, cloud — are read by
//! `defender_shared::config`). Read once at cold start from a lookup, never from `std::env` elsewhere.

use crate::export::StreamKind;
use std::{path::PathBuf, time::Duration};

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
    /// Enabled streams (`EXPORT_STREAMS`, default all).
    pub streams: Vec<StreamKind>,
    /// Re-read window below the high-water mark (`EXPORT_OVERLAP_SECONDS`, default 300).
    pub overlap: Duration,
    /// Stop this long before the Lambda deadline (`EXPORT_DEADLINE_MARGIN_SECONDS`, default 30).
    pub margin: Duration,
    /// Page size below the documented maxima (`EXPORT_PAGE_SIZE`; unset: the maxima).
    pub page_size: Option<usize>,
}

/// A setting is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ExportConfigError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ExportConfigError {
    ExportConfigError { var, reason: reason.into() }
}

fn number(get: &impl Fn(&str) -> Option<String>, var: &'static str, default: u64) -> Result<u64, ExportConfigError> {
    match get(var).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| err(var, format!("'{v}' is not a whole number"))),
    }
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
        let streams = match nonempty("EXPORT_STREAMS") {
            None => StreamKind::ALL.to_vec(),
            Some(list) => list
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.parse().map_err(|e: crate::export::UnknownStream| err("EXPORT_STREAMS", e.to_string())))
                .collect::<Result<_, _>>()?,
        };
        let page = number(&get, "EXPORT_PAGE_SIZE", 0)?;
        Ok(Self {
            sink,
            streams,
            overlap: Duration::from_secs(number(&get, "EXPORT_OVERLAP_SECONDS", 300)?),
            margin: Duration::from_secs(number(&get, "EXPORT_DEADLINE_MARGIN_SECONDS", 30)?),
            page_size: (page > 0).then_some(page as usize),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_streams_and_errors() {
        let c = ExportConfig::from_lookup(|k| (k == "EXPORT_DIR").then(|| "/tmp/x".to_string())).unwrap();
        assert_eq!(c.sink, SinkConfig::Dir("/tmp/x".into()));
        assert_eq!(c.streams, StreamKind::ALL.to_vec());
        assert_eq!((c.overlap.as_secs(), c.margin.as_secs(), c.page_size), (300, 30, None));
        let c = ExportConfig::from_lookup(|k| match k {
            "EXPORT_BUCKET" => Some("b".into()),
            "EXPORT_PREFIX" => Some("/raw/".into()),
            "EXPORT_STREAMS" => Some("mde-alerts".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.sink, SinkConfig::S3 { bucket: "b".into(), prefix: "raw".into(), path_style: false });
        assert_eq!(c.streams, vec![StreamKind::MdeAlerts]);
        assert_eq!(ExportConfig::from_lookup(|_| None).unwrap_err().var, "EXPORT_BUCKET");
        let e = ExportConfig::from_lookup(|k| match k {
            "EXPORT_DIR" => Some("d".into()),
            "EXPORT_STREAMS" => Some("hunting".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(e.var, "EXPORT_STREAMS");
    }
}
