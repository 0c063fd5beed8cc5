//! Time, injected: the one [`Clock`] (token expiry, assertion lifetimes, device-code polling, retry
//! waits) and the one [`Deadline`] (a Lambda's remaining time), so tests drive them with the
//! simulated tenant's clock or `tokio::time::pause()` instead of sleeping.
//!
//! Two scales, on purpose: [`Clock::utc_now`] is wall-clock time (token `exp`, HTTP-dates, replay
//! windows); [`Clock::now`] and [`Deadline`] are tokio's monotonic instants, so a wall-clock jump
//! never stretches or cuts a deadline.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Where "now" comes from, and how to wait. Production uses [`SystemClock`]; a test implements
/// [`Clock::utc_now`] (and overrides the waits it wants to simulate).
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Wall-clock now (token expiry, HTTP-dates and ISO times the services send).
    fn utc_now(&self) -> DateTime<Utc>;

    /// Monotonic now, on the same scale as [`Deadline`].
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Waits until `at` (retry waits, bounded by a [`Deadline`]).
    fn sleep_until(&self, at: Instant) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep_until(at))
    }

    /// Waits `d` (device-code polling).
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// The system clock and tokio's timer (so `tokio::time::pause()` applies).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn utc_now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Unix seconds now, from the system clock (0 before 1970: a clock that broken fails every
/// signature's replay window, which is the safe side).
pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The latest moment a call may still be retried or waited on (a Lambda's remaining time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(pub Instant);

impl Deadline {
    /// `d` from now.
    pub fn after(d: Duration) -> Self {
        Self(Instant::now() + d)
    }

    /// The Lambda context's deadline (`Context::deadline`, milliseconds since the Unix epoch) as a
    /// monotonic instant: the time left is read once, against the system clock, here.
    pub fn from_lambda_ms(deadline_ms: u64) -> Self {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let left = u128::from(deadline_ms).saturating_sub(now_ms);
        Self::after(Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX)))
    }

    /// Time left (zero when passed).
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// This deadline moved `margin` earlier (time kept back for the work after it); unchanged when
    /// that would be before the timer's origin.
    #[must_use]
    pub fn earlier_by(self, margin: Duration) -> Self {
        Self(self.0.checked_sub(margin).unwrap_or(self.0))
    }

    /// True once it has passed.
    pub fn passed(&self) -> bool {
        self.remaining().is_zero()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lambda_deadline_in_ms_since_the_epoch_is_the_time_left() {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let d = Deadline::from_lambda_ms(now_ms + 30_000);
        let left = d.remaining();
        assert!(left <= Duration::from_secs(30) && left > Duration::from_secs(25), "{left:?}");
        // Already past (or a broken context): no time left, never a panic.
        assert!(Deadline::from_lambda_ms(now_ms.saturating_sub(5_000)).passed());
        assert!(Deadline::from_lambda_ms(0).passed());
    }

    #[tokio::test]
    async fn a_deadline_moved_earlier_by_a_margin_passes_that_much_sooner() {
        let d = Deadline::after(Duration::from_secs(10));
        let stop = d.earlier_by(Duration::from_secs(4));
        let left = stop.remaining();
        assert!(left <= Duration::from_secs(6) && left > Duration::from_secs(1), "{left:?}");
        assert!(!stop.passed());
        // Less time left than the margin: the earlier deadline has passed, the real one has not.
        let near = Deadline::after(Duration::from_secs(3));
        assert!(near.earlier_by(Duration::from_secs(4)).passed());
        assert!(!near.passed());
    }

    #[test]
    fn unix_seconds_are_after_this_code_was_written() {
        assert!(now_unix() > 1_790_000_000);
    }
}
