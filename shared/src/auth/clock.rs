//! Injected time: token expiry, assertion lifetimes and device-code polling read the clock through
//! this trait, so tests drive them with the simulated tenant's clock instead of sleeping.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::time::Duration;

/// Where "now" comes from, and how to wait.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// Waits `d` (device-code polling).
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
}

/// The system clock and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}
