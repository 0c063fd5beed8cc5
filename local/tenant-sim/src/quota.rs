//! Per-caller, per-endpoint rate limits from the documented figures (sliding windows on the simulated
//! clock). Over the limit: 429 with `Retry-After` = seconds until the oldest call in the window leaves it.

use crate::spec::RateLimit;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};

/// Call history per (caller, endpoint).
#[derive(Debug, Default)]
pub struct QuotaBook {
    calls: HashMap<(String, String), VecDeque<DateTime<Utc>>>,
}

/// A refused call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// The limit that was hit.
    pub limit: RateLimit,
    /// Seconds to wait.
    pub retry_after_s: u64,
}

impl QuotaBook {
    /// Records a call if every limit allows it; otherwise says which limit refused it.
    ///
    /// # Errors
    /// [`Throttled`] when a window is full (the refused call is not counted, as real quotas do not
    /// count it against the window either).
    pub fn admit(
        &mut self,
        caller: &str,
        endpoint: &str,
        limits: &[RateLimit],
        now: DateTime<Utc>,
    ) -> Result<(), Throttled> {
        let longest = limits.iter().map(|l| l.window_s).max().unwrap_or(0);
        let log = self.calls.entry((caller.to_string(), endpoint.to_string())).or_default();
        while log.front().is_some_and(|t| (now - *t).num_seconds() >= i64::from(longest)) {
            log.pop_front();
        }
        for limit in limits {
            let in_window: Vec<&DateTime<Utc>> =
                log.iter().filter(|t| (now - **t).num_milliseconds() < i64::from(limit.window_s) * 1000).collect();
            if in_window.len() >= limit.calls as usize {
                let oldest = in_window.first().map(|t| **t).unwrap_or(now);
                let free_at = oldest + chrono::Duration::seconds(i64::from(limit.window_s));
                let wait_ms = (free_at - now).num_milliseconds().max(0);
                return Err(Throttled { limit: *limit, retry_after_s: (wait_ms as u64).div_ceil(1000).max(1) });
            }
        }
        log.push_back(now);
        Ok(())
    }

    /// Forgets every call.
    pub fn clear(&mut self) {
        self.calls.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_minute_limit_then_admits_after_retry_after() {
        let mut q = QuotaBook::default();
        let limits = [RateLimit { calls: 3, window_s: 60 }, RateLimit { calls: 5, window_s: 3600 }];
        let t0 = Utc::now();
        for i in 0..3 {
            q.admit("app", "ep", &limits, t0 + chrono::Duration::seconds(i)).unwrap();
        }
        let refused = q.admit("app", "ep", &limits, t0 + chrono::Duration::seconds(10)).unwrap_err();
        assert_eq!(refused.limit.window_s, 60);
        assert_eq!(refused.retry_after_s, 50);
        // another caller or endpoint is unaffected
        q.admit("other", "ep", &limits, t0).unwrap();
        q.admit("app", "ep2", &limits, t0).unwrap();
        let later = t0 + chrono::Duration::seconds(10 + 50);
        q.admit("app", "ep", &limits, later).unwrap();
        // only the first call left the window: the next one waits for the second (t0+1 → t0+61)
        assert_eq!(q.admit("app", "ep", &limits, later).unwrap_err().retry_after_s, 1);
        q.admit("app", "ep", &limits, later + chrono::Duration::seconds(140)).unwrap();
        // five calls this hour: the hourly limit refuses the sixth
        let hourly = q.admit("app", "ep", &limits, later + chrono::Duration::seconds(300)).unwrap_err();
        assert_eq!(hourly.limit.window_s, 3600);
    }
}
