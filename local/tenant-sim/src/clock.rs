//! The simulator's clock: real time plus an offset that `POST /_sim/clock` advances, so tests move
//! token expiry, quotas and machine-action lifecycles forward without sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::Mutex;

/// Real time shifted by a settable offset.
#[derive(Debug, Default)]
pub struct SimClock {
    offset: Mutex<Duration>,
}

impl SimClock {
    /// The simulated now.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.offset.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves simulated time forward (or back, for a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut o = self.offset.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *o += by;
    }

    /// Back to real time.
    pub fn reset(&self) {
        *self.offset.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Duration::zero();
    }
}

/// ISO 8601 with 7 fractional digits and `Z`, as Defender writes its timestamps.
pub fn iso(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    // chrono has no 7-digit fraction specifier: write the 100-ns ticks by hand.
    format!("{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), t.nanosecond() % 1_000_000_000 / 100)
}

/// Parses the timestamps Defender and the seeds use (RFC 3339, up to 7 fractional digits).
pub fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_writes_seven_fraction_digits_and_reads_back() {
        let t = parse_iso("2020-07-20T10:53:48.7657932Z").unwrap();
        assert_eq!(iso(t), "2020-07-20T10:53:48.7657932Z");
        assert_eq!(iso(parse_iso("2026-11-28T00:00:00Z").unwrap()), "2026-11-28T00:00:00.0000000Z");
    }
}
