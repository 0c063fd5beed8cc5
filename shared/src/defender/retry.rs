//! The retry policy, the server's wait hints, and the clock every wait goes through.
//!
//! # What is retried
//! | answer | idempotent call | non-idempotent call |
//! |---|---|---|
//! | 429 | after the service's wait (below) | after the service's wait (the service refused it unrun) |
//! | 500, 502, 503, 504 | `Retry-After` if sent, else jittered exponential backoff | **never** (it may have run) |
//! | connect error (nothing was sent) | backoff | backoff |
//! | timeout, connection lost after sending | backoff | **never** (it may have run) |
//! | any other status | never | never |
//!
//! A call is *idempotent* ([`super::Call::idempotent`]) when its method is GET, HEAD, PUT, DELETE or
//! OPTIONS, or it is one of the read-only POSTs (the three hunting queries). Every other POST and
//! every PATCH is not: machine actions (isolate, scan, collect, offboard, live response...) must never
//! run twice, an indicator submit or an alert comment must not be written twice. Such a call is sent
//! again only when the service provably did not act on it: a 429, or a connection that failed
//! before the request was written.
//!
//! # How long
//! The service's wait comes from, in order: `Retry-After` (delta-seconds or an HTTP-date), or —
//! XDR documents that "the response body indicates the time when you can begin making new calls" —
//! an ISO 8601 time or "N seconds" in the error message ([`wait_from_message`]); otherwise backoff:
//! `min(cap, base·2ⁿ)`, half of it fixed and half random ("equal jitter").
//!
//! Every wait is bounded by the caller's [`super::Deadline`]: a wait that would end after the
//! deadline is not started; the call returns the typed error at once (`Throttled` with the service's
//! wait, the last `Api`/`Transport` error, or `Deadline`). The number of attempts is capped too.
//!
//! # Time
//! Waits and "now" come from the one [`crate::clock::Clock`] ([`crate::clock::SystemClock`] in
//! production); tests inject a clock that moves simulated time instead of sleeping.

use chrono::{DateTime, Utc};
use rand::Rng;
use std::time::Duration;

/// How often and how patiently a call is retried (always within its deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// First backoff step.
    pub base: Duration,
    /// Longest backoff step.
    pub cap: Duration,
    /// Longest a single attempt may take (the deadline bounds it too); an idempotent call that times
    /// out this way is tried again. The default, 210 s, covers the longest documented request (an MDE
    /// hunting query runs up to 200 s).
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(210),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const fn never() -> Self {
        Self { max_attempts: 1, base: Duration::ZERO, cap: Duration::ZERO, attempt_timeout: Duration::from_secs(210) }
    }

    /// The backoff before attempt `retry + 1` (`retry` counts from 0): equal jitter over
    /// `min(cap, base·2^retry)`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let step = self.base.saturating_mul(2u32.saturating_pow(retry.min(20))).min(self.cap);
        let half = step / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(if jitter_ms == 0 { 0 } else { rand::rng().random_range(0..=jitter_ms) })
    }
}

/// Reads a `Retry-After` value: delta-seconds or an HTTP-date (then the time left until it, zero if
/// it has passed).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is valid RFC 2822.
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Reads the wait from a throttling message: an ISO 8601 time ("…after 2026-11-28T10:00:00Z.") or
/// "N seconds" ("Try again in 12 seconds"); when both are there, the longer wait.
pub fn wait_from_message(message: &str, now: DateTime<Utc>) -> Option<Duration> {
    let words: Vec<&str> = message
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '"' || c == '\'')
        .filter(|w| !w.is_empty())
        .collect();
    let mut best: Option<Duration> = None;
    let mut keep = |d: Duration| best = Some(best.map_or(d, |b| b.max(d)));
    for (i, w) in words.iter().enumerate() {
        let w = w.trim_end_matches(['.', ',', ';', ':']);
        if let Ok(at) = DateTime::parse_from_rfc3339(w) {
            keep((at.with_timezone(&Utc) - now).to_std().unwrap_or(Duration::ZERO));
            continue;
        }
        let unit = words.get(i + 1).map(|u| u.trim_end_matches(['.', ',', ';', ':']).to_ascii_lowercase());
        if let (Ok(n), Some(unit)) = (w.parse::<f64>(), unit)
            && n.is_finite()
            && n >= 0.0
            && ["second", "seconds", "sec", "secs", "s"].contains(&unit.as_str())
        {
            keep(Duration::from_secs_f64(n.min(86_400.0)));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn retry_after_as_seconds_or_http_date() {
        let now = t("2026-11-28T10:00:00Z");
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sat, 28 Nov 2026 10:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Sat, 28 Nov 2026 09:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn the_wait_is_read_from_the_body_forms() {
        let now = t("2026-11-28T10:00:00Z");
        let hunting = "Query quota exceeded: number of requests (45 calls per minute). You can send new requests after 2026-11-28T10:00:42Z.";
        assert_eq!(wait_from_message(hunting, now), Some(Duration::from_secs(42)));
        let mde =
            "Rate limit is exceeded (100 calls per minute). Try again in 12 seconds (after 2026-11-28T10:00:11Z).";
        assert_eq!(wait_from_message(mde, now), Some(Duration::from_secs(12)));
        assert_eq!(wait_from_message("Try again in 1.5 seconds.", now), Some(Duration::from_millis(1500)));
        assert_eq!(
            wait_from_message("You can begin after 2026-11-28T10:00:05.5000000Z", now),
            Some(Duration::from_millis(5500))
        );
        assert_eq!(wait_from_message("Rate limit is exceeded (100 calls per minute).", now), None);
        assert_eq!(wait_from_message("", now), None);
    }

    #[test]
    fn backoff_grows_jittered_and_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(400),
            cap: Duration::from_secs(3),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let b0 = p.backoff(0);
            assert!(b0 >= Duration::from_millis(200) && b0 <= Duration::from_millis(400), "{b0:?}");
            let b2 = p.backoff(2);
            assert!(b2 >= Duration::from_millis(800) && b2 <= Duration::from_millis(1600), "{b2:?}");
            let b9 = p.backoff(9);
            assert!(b9 >= Duration::from_millis(1500) && b9 <= Duration::from_secs(3), "{b9:?}");
        }
        assert_eq!(p.backoff(u32::MAX).max(Duration::from_secs(3)), Duration::from_secs(3));
        assert_eq!(RetryPolicy::never().backoff(3), Duration::ZERO);
    }
}
