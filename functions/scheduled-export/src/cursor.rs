//! The per-(tenant, stream) cursor: a composite `(lastUpdateTime, id)` high-water mark plus the
//! identities already written inside the overlap window below it.
//!
//! The high-water mark says "every record version ordered at or before this was seen by a committed
//! page". The `recent` set names the versions written within `overlap` of it, so a re-read of the
//! overlap window (for late-arriving records) skips exactly those and exports the others.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One record version's identity: `(lastUpdateTime, id)`, ordered by time, then id.
pub type Version = (DateTime<Utc>, String);

/// The committed state of one (tenant, stream).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Format version of this document.
    pub version: u32,
    /// The highest `(lastUpdateTime, id)` written; `None` before the first commit.
    pub high_water: Option<Version>,
    /// Versions written with `lastUpdateTime >= high_water.time - overlap`.
    pub recent: BTreeSet<Version>,
    /// Commits so far (each commit is a new document, so no two generations have the same bytes).
    pub generation: u64,
    /// The run that holds the stream, until when (its Lambda deadline).
    #[serde(default)]
    pub lease: Option<Lease>,
}

/// A run's claim on a stream: no other run starts before `until` unless it is `holder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The run's id (the Lambda request id).
    pub holder: String,
    /// Expiry: the holder's deadline (a Lambda cannot outlive it).
    pub until: DateTime<Utc>,
}

impl Cursor {
    /// The lower bound of the next query: `high_water.time - overlap` (no bound before the first commit).
    pub fn query_from(&self, overlap: Duration) -> Option<DateTime<Utc>> {
        self.high_water.as_ref().map(|(t, _)| *t - overlap)
    }

    /// Whether this version was already written (it is in the overlap window's set).
    pub fn has(&self, v: &Version) -> bool {
        self.recent.contains(v)
    }

    /// Records written versions, moves the high-water mark and forgets versions older than the window.
    pub fn advance<'a>(&mut self, written: impl IntoIterator<Item = &'a Version>, overlap: Duration) {
        for v in written {
            if self.high_water.as_ref().is_none_or(|hw| v > hw) {
                self.high_water = Some(v.clone());
            }
            self.recent.insert(v.clone());
        }
        if let Some((t, _)) = &self.high_water {
            let floor = *t - overlap;
            self.recent = self.recent.split_off(&(floor, String::new()));
        }
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn advance_keeps_the_window_and_the_max() {
        let mut c = Cursor::default();
        assert_eq!(c.query_from(Duration::seconds(60)), None);
        let vs = [(t(0), "b".to_string()), (t(0), "a".to_string()), (t(100), "z".to_string())];
        c.advance(&vs, Duration::seconds(60));
        assert_eq!(c.high_water, Some((t(100), "z".into())));
        assert_eq!(c.recent.len(), 1, "t(0) is outside the 60 s window below t(100)");
        assert_eq!(c.query_from(Duration::seconds(60)), Some(t(40)));
        c.advance(&[(t(70), "m".to_string())], Duration::seconds(60));
        assert_eq!(c.high_water, Some((t(100), "z".into())), "an older version never moves it back");
        assert!(c.has(&(t(70), "m".into())) && !c.has(&(t(70), "n".into())));
        assert_eq!(c.generation, 2);
    }
}
