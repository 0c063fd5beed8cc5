//! The quota governor: client-side pacing from the documented rate limits, so a steady workload waits
//! for a slot instead of being throttled.
//!
//! # Limits
//! Every contract file (`contract/defender-api/*.json`, embedded at build time by `shared/build.rs`) has
//! a `limits` text ("Rate limit: 100 calls per minute and 1,500 calls per hour."). [`documented_limits`]
//! reads the per-minute and per-hour figures from it; where a page gives two figures for one window
//! (`xdr.incidents.get`: 100/min on its own page, 50/min for the incidents API overall) the smaller one
//! wins. Figures for other scopes are not read: Graph's 2,000 requests/s is per app across all tenants,
//! far above its 150/min per tenant, and CPU-time budgets (hunting) cannot be paced by counting calls.
//!
//! # Buckets
//! One bucket per [`QuotaKey`]: (tenant, token scope — i.e. the app's token for one API —, API family,
//! endpoint class). The class is the endpoint name for Defender for Endpoint and XDR, whose limits are
//! documented per API, and `graph.security` for every Graph security call, whose 150/min is documented
//! "per app per tenant" for any request on `/security`. Buckets never share state, so one tenant's
//! pacing never delays another's.
//!
//! # Pacing
//! A bucket keeps the times of the calls it admitted (sliding windows, as the services count). A new
//! call gets the earliest slot at which every window of its limits has room — plus a small margin for
//! network jitter — and waits for it; slots are handed out in order, so concurrent callers queue
//! fairly. A slot later than the caller's deadline is refused at once ([`Governor::reserve`] returns the
//! wait), so nobody sleeps past a deadline. A 429 from the service ([`Governor::hold_off`]) closes the
//! bucket until its `Retry-After`, for every caller of that bucket.
//!
//! The governor paces one process. Several Lambda instances share one app's quota at the service:
//! give each a share of it with [`Governor::with_share`]; a 429 that still happens is retried
//! (see [`super::retry`]).

use crate::{cloud::ApiFamily, ids::TenantName};
use serde_json::Value;
use std::{
    collections::{HashMap, VecDeque},
    sync::{LazyLock, Mutex, MutexGuard, PoisonError},
    time::Duration,
};
use tokio::time::Instant;

mod contract {
    include!(concat!(env!("OUT_DIR"), "/contract_files.rs"));
}
pub(crate) use contract::CONTRACT_FILES;

/// A documented rate limit: `calls` per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Calls allowed in one window.
    pub calls: u32,
    /// The window.
    pub window: Duration,
}

impl RateLimit {
    /// `calls` per minute.
    pub const fn per_minute(calls: u32) -> Self {
        Self { calls, window: Duration::from_secs(60) }
    }
    /// `calls` per hour.
    pub const fn per_hour(calls: u32) -> Self {
        Self { calls, window: Duration::from_secs(3600) }
    }
}

static DOCUMENTED: LazyLock<HashMap<String, Vec<RateLimit>>> = LazyLock::new(|| {
    CONTRACT_FILES
        .iter()
        .filter_map(|(_, text)| {
            let doc: Value = serde_json::from_str(text).ok()?;
            let name = doc.get("name")?.as_str()?.to_string();
            let limits = doc.get("limits").and_then(Value::as_str).map(parse_limits).unwrap_or_default();
            Some((name, limits))
        })
        .collect()
});

/// The documented rate limits of a contract endpoint (`mde.alerts.list` → 100/min, 1,500/h), shortest
/// window first; empty for an unknown endpoint or one documented without a limit.
pub fn documented_limits(endpoint: &str) -> Vec<RateLimit> {
    DOCUMENTED.get(endpoint).cloned().unwrap_or_default()
}

/// Reads "100 calls per minute and 1,500 calls per hour", "50/min, 1,500/hour", "150 requests per
/// minute": the smallest figure per window.
fn parse_limits(text: &str) -> Vec<RateLimit> {
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '/' || c == ';' || c == '(')
        .map(|w| w.trim_matches(|c: char| c == '.' || c == ',' || c == ')' || c == ':').to_string())
        .collect();
    let mut out: Vec<RateLimit> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let window = match w.to_ascii_lowercase().as_str() {
            "minute" | "min" => Duration::from_secs(60),
            "hour" | "h" => Duration::from_secs(3600),
            _ => continue,
        };
        let number = words[i.saturating_sub(4)..i].iter().rev().find_map(|n| n.replace(',', "").parse::<u32>().ok());
        let Some(calls) = number.filter(|n| *n > 0) else { continue };
        match out.iter_mut().find(|l| l.window == window) {
            Some(l) => l.calls = l.calls.min(calls),
            None => out.push(RateLimit { calls, window }),
        }
    }
    out.sort_by_key(|l| l.window);
    out
}

/// Which calls share one documented quota: the endpoint itself, or `graph.security` for all of Graph
/// security (one limit for any request on `/security`).
pub fn endpoint_class(endpoint: &'static str) -> &'static str {
    if endpoint.starts_with("graph.security.") { "graph.security" } else { endpoint }
}

/// One quota bucket: whose calls, to which API, counted together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaKey {
    /// The tenant.
    pub tenant: TenantName,
    /// The token scope (`<resource>/.default`): one app's access to one API.
    pub scope: String,
    /// The API family.
    pub api: ApiFamily,
    /// The endpoint class ([`endpoint_class`]).
    pub class: &'static str,
}

#[derive(Debug, Default)]
struct Bucket {
    /// Admitted call times (some may lie in the future: reserved slots), ascending.
    granted: VecDeque<Instant>,
    /// Closed until then after a 429.
    blocked_until: Option<Instant>,
}

/// Client-side pacing per [`QuotaKey`]; see the module docs.
#[derive(Debug)]
pub struct Governor {
    enabled: bool,
    share: f64,
    margin: Duration,
    overrides: HashMap<&'static str, Vec<RateLimit>>,
    buckets: Mutex<HashMap<QuotaKey, Bucket>>,
}

impl Default for Governor {
    fn default() -> Self {
        Self::documented()
    }
}

impl Governor {
    /// Paces every call by its documented limits, with a 500 ms margin per window.
    pub fn documented() -> Self {
        Self {
            enabled: true,
            share: 1.0,
            margin: Duration::from_millis(500),
            overrides: HashMap::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Paces nothing (a 429 is then only retried). For comparisons and tools that pace themselves.
    pub fn disabled() -> Self {
        Self { enabled: false, ..Self::documented() }
    }

    /// Uses this fraction (0 < share ≤ 1) of every documented limit, rounded down, at least one call:
    /// for several processes sharing one app's quota.
    #[must_use]
    pub fn with_share(mut self, share: f64) -> Self {
        self.share = if share.is_finite() { share.clamp(f64::MIN_POSITIVE, 1.0) } else { 1.0 };
        self
    }

    /// Replaces the limits of one endpoint (an operator's tighter figure, or a test's tiny one).
    #[must_use]
    pub fn with_limits(mut self, endpoint: &'static str, limits: Vec<RateLimit>) -> Self {
        self.overrides.insert(endpoint, limits);
        self
    }

    /// The margin added to every window (network jitter between our clock and the service's count).
    #[must_use]
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The limits this governor applies to `endpoint` (after overrides and share).
    pub fn limits(&self, endpoint: &str) -> Vec<RateLimit> {
        let base = self.overrides.get(endpoint).cloned().unwrap_or_else(|| documented_limits(endpoint));
        base.into_iter()
            .map(|l| {
                // Float → u32 after clamping to [1, calls]: the cast cannot truncate meaningfully.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let calls = ((f64::from(l.calls) * self.share).floor() as u32).clamp(1, l.calls.max(1));
                RateLimit { calls, window: l.window }
            })
            .collect()
    }

    fn buckets(&self) -> MutexGuard<'_, HashMap<QuotaKey, Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves the earliest slot for one call of `endpoint` in `key`'s bucket.
    ///
    /// Returns the instant the call may be sent (`now` when there is room): the caller waits until
    /// then.
    ///
    /// # Errors
    /// The wait from `now` when the earliest slot lies after `deadline`; nothing is reserved then.
    pub fn reserve(
        &self,
        key: &QuotaKey,
        endpoint: &str,
        now: Instant,
        deadline: Instant,
    ) -> Result<Instant, Duration> {
        if !self.enabled {
            return Ok(now);
        }
        let limits = self.limits(endpoint);
        let longest = limits.iter().map(|l| l.window).max().unwrap_or_default() + self.margin;
        let mut buckets = self.buckets();
        let bucket = buckets.entry(key.clone()).or_default();
        // Calls that left every window no longer constrain anything.
        while bucket.granted.front().is_some_and(|t| *t + longest <= now) {
            bucket.granted.pop_front();
        }
        let mut at = now.max(bucket.blocked_until.unwrap_or(now));
        if let Some(last) = bucket.granted.back() {
            at = at.max(*last);
        }
        let n = bucket.granted.len();
        for l in &limits {
            let calls = l.calls as usize;
            if n >= calls {
                // The call `calls` places back must have left this window.
                if let Some(t) = bucket.granted.get(n - calls) {
                    at = at.max(*t + l.window + self.margin);
                }
            }
        }
        if at > deadline {
            return Err(at.saturating_duration_since(now));
        }
        if !limits.is_empty() {
            bucket.granted.push_back(at);
        }
        Ok(at)
    }

    /// Closes `key`'s bucket until `until` (the service said 429 with a `Retry-After`).
    pub fn hold_off(&self, key: &QuotaKey, until: Instant) {
        if !self.enabled {
            return;
        }
        let mut buckets = self.buckets();
        let bucket = buckets.entry(key.clone()).or_default();
        bucket.blocked_until = Some(bucket.blocked_until.map_or(until, |b| b.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tenant: &str, class: &'static str) -> QuotaKey {
        QuotaKey {
            tenant: tenant.parse().unwrap(),
            scope: "https://api.security.microsoft.com/.default".into(),
            api: ApiFamily::Xdr,
            class,
        }
    }

    #[test]
    fn the_documented_figures_are_read_from_the_contract() {
        assert_eq!(documented_limits("mde.alerts.list"), vec![RateLimit::per_minute(100), RateLimit::per_hour(1500)]);
        assert_eq!(documented_limits("xdr.incidents.list"), vec![RateLimit::per_minute(50), RateLimit::per_hour(1500)]);
        // Two figures on one page: the smaller (the incidents API overall) wins.
        assert_eq!(documented_limits("xdr.incidents.get"), vec![RateLimit::per_minute(50), RateLimit::per_hour(1500)]);
        assert_eq!(
            documented_limits("mde.alerts.batch_update"),
            vec![RateLimit::per_minute(10), RateLimit::per_hour(500)]
        );
        assert_eq!(documented_limits("mde.machineactions.get_package_uri")[0], RateLimit::per_minute(2));
        assert_eq!(
            documented_limits("mde.advanced_hunting.run"),
            vec![RateLimit::per_minute(45), RateLimit::per_hour(1500)]
        );
        assert_eq!(documented_limits("mde.investigations.start"), vec![RateLimit::per_hour(50)]);
        assert_eq!(documented_limits("graph.security.alerts_v2.list"), vec![RateLimit::per_minute(150)]);
        assert!(documented_limits("mde.machines.software").is_empty());
        assert!(documented_limits("no.such.endpoint").is_empty());
        // Every Defender endpoint with a documented limit has a per-minute or per-hour figure.
        let with_limits = CONTRACT_FILES
            .iter()
            .filter(|(f, _)| f.starts_with("mde.") || f.starts_with("xdr."))
            .filter(|(f, _)| !f.ends_with("errors.json"))
            .filter(|(f, _)| !documented_limits(f.trim_end_matches(".json")).is_empty())
            .count();
        assert!(with_limits >= 55, "{with_limits}");
    }

    #[test]
    fn a_full_window_pushes_the_next_slot_past_the_oldest_call() {
        let g = Governor::documented()
            .with_limits("t.ep", vec![RateLimit::per_minute(3), RateLimit::per_hour(5)])
            .with_margin(Duration::from_millis(100));
        let k = key("a", "t.ep");
        let t0 = Instant::now();
        let far = t0 + Duration::from_secs(7200);
        for i in 0..3 {
            assert_eq!(g.reserve(&k, "t.ep", t0 + Duration::from_secs(i), far), Ok(t0 + Duration::from_secs(i)));
        }
        let fourth = g.reserve(&k, "t.ep", t0 + Duration::from_secs(10), far).unwrap();
        assert_eq!(fourth, t0 + Duration::from_millis(60_100));
        // Slots queue in order: the fifth waits for the second call to leave the window.
        let fifth = g.reserve(&k, "t.ep", t0 + Duration::from_secs(10), far).unwrap();
        assert_eq!(fifth, t0 + Duration::from_millis(61_100));
        // The hourly window now holds five: the sixth waits for the first to leave the hour.
        let sixth = g.reserve(&k, "t.ep", t0 + Duration::from_secs(10), far).unwrap();
        assert_eq!(sixth, t0 + Duration::from_millis(3_600_100));
    }

    #[test]
    fn a_slot_after_the_deadline_is_refused_without_reserving() {
        let g = Governor::documented().with_limits("t.ep", vec![RateLimit::per_minute(1)]).with_margin(Duration::ZERO);
        let k = key("a", "t.ep");
        let t0 = Instant::now();
        g.reserve(&k, "t.ep", t0, t0).unwrap();
        assert_eq!(g.reserve(&k, "t.ep", t0, t0 + Duration::from_secs(5)), Err(Duration::from_secs(60)));
        // Nothing was reserved: the next caller with time to spare gets the same slot.
        assert_eq!(g.reserve(&k, "t.ep", t0, t0 + Duration::from_secs(90)), Ok(t0 + Duration::from_secs(60)));
    }

    #[test]
    fn buckets_are_separate_per_tenant_and_class() {
        let g = Governor::documented().with_limits("t.ep", vec![RateLimit::per_minute(1)]);
        let t0 = Instant::now();
        let far = t0 + Duration::from_secs(600);
        g.reserve(&key("a", "t.ep"), "t.ep", t0, far).unwrap();
        assert!(g.reserve(&key("a", "t.ep"), "t.ep", t0, far).unwrap() > t0);
        assert_eq!(g.reserve(&key("b", "t.ep"), "t.ep", t0, far), Ok(t0));
        assert_eq!(g.reserve(&key("a", "other"), "t.ep", t0, far), Ok(t0));
    }

    #[test]
    fn graph_security_calls_share_one_bucket() {
        assert_eq!(endpoint_class("graph.security.alerts_v2.list"), "graph.security");
        assert_eq!(endpoint_class("graph.security.incidents.get"), "graph.security");
        assert_eq!(endpoint_class("mde.alerts.list"), "mde.alerts.list");
    }

    #[test]
    fn hold_off_closes_the_bucket_and_share_scales_the_limit() {
        let g = Governor::documented();
        let k = key("a", "mde.alerts.list");
        let t0 = Instant::now();
        g.hold_off(&k, t0 + Duration::from_secs(7));
        assert_eq!(g.reserve(&k, "mde.alerts.list", t0, t0 + Duration::from_secs(60)), Ok(t0 + Duration::from_secs(7)));
        let half = Governor::documented().with_share(0.5);
        assert_eq!(half.limits("mde.alerts.list"), vec![RateLimit::per_minute(50), RateLimit::per_hour(750)]);
        assert_eq!(half.limits("mde.machineactions.get_package_uri")[0], RateLimit::per_minute(1));
        let off = Governor::disabled().with_limits("t.ep", vec![RateLimit::per_minute(1)]);
        for _ in 0..5 {
            assert_eq!(off.reserve(&k, "t.ep", t0, t0), Ok(t0));
        }
    }
}
