//! The quota governor: client-side pacing from the documented rate limits, so a steady workload waits
//! for a slot instead of being throttled.
//!
//! # Limits are data
//! Each endpoint's own page figures are generated from its contract file
//! ([`Endpoint::page_limits`], read strictly by `shared/build.rs`). [`QUOTA_SCOPES`] is the short
//! hand-written table of what no single page says: quotas the service counts across endpoints (the XDR
//! incidents list, get and update share one; the three hunting APIs; Graph's `/security`), with the
//! documented figures and the page that says so. A test checks every figure against the contract
//! files of its endpoints, so an entry cannot drift from the documentation it cites. CPU-time budgets
//! (hunting) and Graph's 2,000 requests/s per app across all tenants are not paced by counting calls.
//!
//! # Buckets
//! One bucket per (caller, quota scope): the caller is a [`QuotaKey`] (tenant, token scope — one app's
//! access to one API —, API family). A call takes a slot in **every** scope it belongs to: a Graph
//! `runHuntingQuery` counts against the hunting API quota (45/min, 1,500/h) and against Graph's
//! 150/min for `/security`, while an `alerts_v2` list counts only against the latter, so a busy
//! hunting bucket never stalls the alerts. An endpoint in no table scope is a scope of its own with no
//! limit. Buckets never share state across tenants, so one tenant's pacing never delays another's.
//!
//! # Pacing
//! A bucket keeps the times of the calls it admitted, reserved slots in the future included (sliding
//! windows, as the services count). A new call gets the earliest slot at which every window of every
//! scope it belongs to has room — each window widened by a small margin for network jitter — and waits
//! for it. A call may take a gap before slots other callers reserved (an alerts list does not queue
//! behind a hunting query that waits for the hunting quota), never a slot that would overfill a
//! window. A slot later than the caller's deadline is refused at once
//! ([`Governor::reserve`] returns the wait), so nobody sleeps past a deadline. A 429 from the service
//! ([`Governor::hold_off`]) closes the call's most specific scope until its `Retry-After`, for every
//! caller of that bucket.
//!
//! The governor paces one process. Several Lambda instances share one app's quota at the service:
//! give each a share of it with [`Governor::with_share`]; a 429 that still happens is retried
//! (see [`super::retry`]).

use super::Endpoint;
use crate::{cloud::ApiFamily, ids::TenantName};
use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};
use tokio::time::Instant;

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

/// Which endpoints a quota scope counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    /// One endpoint (Defender for Endpoint documents its limits per API page).
    One(Endpoint),
    /// These endpoints.
    List(&'static [Endpoint]),
    /// Every endpoint of this API family.
    Family(ApiFamily),
}

impl Members {
    fn contains(&self, endpoint: Endpoint) -> bool {
        match self {
            Self::One(e) => *e == endpoint,
            Self::List(l) => l.contains(&endpoint),
            Self::Family(f) => endpoint.api() == *f,
        }
    }
    /// Whether this names endpoints one by one (not a whole family).
    fn specific(&self) -> bool {
        !matches!(self, Self::Family(_))
    }
}

/// A documented quota: calls the service counts together, and how many it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaScope {
    /// The bucket's name.
    pub name: &'static str,
    /// Which endpoints it counts.
    pub members: Members,
    /// The documented figures, shortest window first (empty: documented without a limit).
    pub limits: &'static [RateLimit],
    /// Where Microsoft says so.
    pub source: &'static str,
}

impl QuotaScope {
    /// The scope of one endpoint's own page figures (named as the endpoint).
    pub const fn own(endpoint: Endpoint) -> Self {
        Self {
            name: endpoint.name(),
            members: Members::One(endpoint),
            limits: endpoint.page_limits(),
            source: endpoint.source(),
        }
    }
}

const HUNTING: &[RateLimit] = &[RateLimit::per_minute(45), RateLimit::per_hour(1500)];

/// The documented quotas that span endpoints or that a page does not state for itself, most specific
/// first (a call's first scope is the one a 429 closes).
///
/// Sources (Microsoft Learn; the contract files quote them):
/// - Advanced hunting API: 45 calls per minute and 1,500 calls per hour per tenant
///   (`defender-endpoint/api/run-advanced-query-api.md`; `defender-xdr/api-advanced-hunting.md` says
///   "at least 45 calls per minute per tenant"). Graph `runHuntingQuery` is the same service: its page
///   states no quota of its own, so the hunting API's figures apply. The "10 min timeout" next to them
///   is a running-time budget, not a call rate.
/// - XDR incidents: "the incidents API" overall allows 50 calls per minute and 1,500 per hour
///   (`defender-xdr/api-incident.md`); list, get and update count together, though the get page alone
///   says 100/min.
/// - Graph: "any operation on alert, securityActions, secureScore — 150 requests per minute per app
///   per tenant" for requests on `/security` (`graph/throttling-limits.md`, Security detections and
///   incidents); every Graph security call counts here.
///
/// Every other endpoint counts against its own page's figures ([`QuotaScope::own`]).
pub static QUOTA_SCOPES: &[QuotaScope] = &[
    QuotaScope {
        name: "mde.advanced_hunting",
        members: Members::One(Endpoint::MdeAdvancedHuntingRun),
        limits: HUNTING,
        source: "defender-endpoint/api/run-advanced-query-api.md",
    },
    QuotaScope {
        name: "xdr.advanced_hunting",
        members: Members::One(Endpoint::XdrAdvancedHuntingRun),
        limits: HUNTING,
        source: "defender-xdr/api-advanced-hunting.md (at least 45/min per tenant); hour as for MDE",
    },
    QuotaScope {
        name: "graph.security.hunting",
        members: Members::One(Endpoint::GraphSecurityRunHuntingQuery),
        limits: HUNTING,
        source: "the advanced hunting API quotas (Graph's runHuntingQuery page states none of its own)",
    },
    QuotaScope {
        name: "xdr.incidents",
        members: Members::List(&[Endpoint::XdrIncidentsList, Endpoint::XdrIncidentsGet, Endpoint::XdrIncidentsUpdate]),
        limits: &[RateLimit::per_minute(50), RateLimit::per_hour(1500)],
        source: "defender-xdr/api-incident.md: the incidents API, 50 calls per minute, 1,500 per hour",
    },
    QuotaScope {
        name: "graph.security",
        members: Members::Family(ApiFamily::Graph),
        limits: &[RateLimit::per_minute(150)],
        source: "graph/throttling-limits.md: /security, 150 requests per minute per app per tenant",
    },
];

/// The documented quota scopes `endpoint` counts against, most specific first: its own page's figures
/// unless a table scope names it (a family-wide scope alone leaves an endpoint whose page states
/// figures its own scope too), then the table scopes that count it.
pub fn quota_scopes(endpoint: Endpoint) -> Vec<QuotaScope> {
    let table: Vec<QuotaScope> = QUOTA_SCOPES.iter().copied().filter(|s| s.members.contains(endpoint)).collect();
    let named = table.iter().any(|s| s.members.specific());
    let own = QuotaScope::own(endpoint);
    let mut out = Vec::new();
    if !named && (!own.limits.is_empty() || table.is_empty()) {
        out.push(own);
    }
    out.extend(table);
    out
}

/// The tightest documented figure per window over every scope `endpoint` counts against
/// (`mde.alerts.list` → 100/min, 1,500/h), shortest window first; empty for one documented without a
/// limit.
pub fn documented_limits(endpoint: Endpoint) -> Vec<RateLimit> {
    let mut out: Vec<RateLimit> = Vec::new();
    for l in quota_scopes(endpoint).iter().flat_map(|s| s.limits.iter()) {
        match out.iter_mut().find(|o| o.window == l.window) {
            Some(o) => o.calls = o.calls.min(l.calls),
            None => out.push(*l),
        }
    }
    out.sort_by_key(|l| l.window);
    out
}

/// Whose calls a bucket counts: one app's access to one API for one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaKey {
    /// The tenant.
    pub tenant: TenantName,
    /// The token scope (`<resource>/.default`): one app's access to one API.
    pub scope: String,
    /// The API family.
    pub api: ApiFamily,
}

#[derive(Debug, Default)]
struct Bucket {
    /// Admitted call times (some may lie in the future: reserved slots), ascending.
    granted: Vec<Instant>,
    /// Closed until then after a 429.
    blocked_until: Option<Instant>,
}

/// Whether one more call at `at` keeps every `window` that contains it at `calls` or fewer.
/// `granted` is ascending. A window holding `at` that holds the most calls starts at `at` or at a
/// granted call in `(at - window, at]`, so only those starts are checked.
fn room(granted: &[Instant], at: Instant, window: Duration, calls: u32) -> bool {
    let calls = calls as usize;
    let count_from = |start: Instant| {
        let lo = granted.partition_point(|t| *t < start);
        let hi = granted.partition_point(|t| *t < start + window);
        hi - lo
    };
    if count_from(at) >= calls {
        return false;
    }
    let first = granted.partition_point(|t| *t + window <= at);
    let last = granted.partition_point(|t| *t <= at);
    granted[first..last].iter().all(|start| count_from(*start) < calls)
}

/// Client-side pacing per [`QuotaKey`]; see the module docs.
#[derive(Debug)]
pub struct Governor {
    enabled: bool,
    share: f64,
    margin: Duration,
    overrides: HashMap<Endpoint, Vec<RateLimit>>,
    buckets: Mutex<HashMap<(QuotaKey, &'static str), Bucket>>,
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
    pub fn with_limits(mut self, endpoint: Endpoint, limits: Vec<RateLimit>) -> Self {
        self.overrides.insert(endpoint, limits);
        self
    }

    /// The margin added to every window (network jitter between our clock and the service's count).
    #[must_use]
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The limits this governor applies to `endpoint` (after overrides and share): the tightest
    /// figure per window over every scope it counts against.
    pub fn limits(&self, endpoint: Endpoint) -> Vec<RateLimit> {
        let mut out: Vec<RateLimit> = Vec::new();
        for l in self.scopes(endpoint).into_iter().flat_map(|(_, l)| l) {
            match out.iter_mut().find(|o| o.window == l.window) {
                Some(o) => o.calls = o.calls.min(l.calls),
                None => out.push(l),
            }
        }
        out.sort_by_key(|l| l.window);
        out
    }

    fn scaled(&self, limits: &[RateLimit]) -> Vec<RateLimit> {
        limits
            .iter()
            .map(|l| {
                // Float → u32 after clamping to [1, calls]: the cast cannot truncate meaningfully.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let calls = ((f64::from(l.calls) * self.share).floor() as u32).clamp(1, l.calls.max(1));
                RateLimit { calls, window: l.window }
            })
            .collect()
    }

    /// The buckets a call of `endpoint` takes a slot in, most specific first, with their limits: an
    /// override is a scope of its own; an endpoint in no table scope is one too, without a limit (so
    /// a 429 can still close it).
    fn scopes(&self, endpoint: Endpoint) -> Vec<(&'static str, Vec<RateLimit>)> {
        if let Some(limits) = self.overrides.get(&endpoint) {
            return vec![(endpoint.name(), self.scaled(limits))];
        }
        quota_scopes(endpoint).into_iter().map(|s| (s.name, self.scaled(s.limits))).collect()
    }

    fn buckets(&self) -> MutexGuard<'_, HashMap<(QuotaKey, &'static str), Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves the earliest slot for one call of `endpoint` by `key`, in every quota scope the call
    /// counts against.
    ///
    /// Returns the instant the call may be sent (`now` when there is room): the caller waits until
    /// then.
    ///
    /// # Errors
    /// The wait from `now` when the earliest slot lies after `deadline`; nothing is reserved then.
    pub fn reserve(
        &self,
        key: &QuotaKey,
        endpoint: Endpoint,
        now: Instant,
        deadline: Instant,
    ) -> Result<Instant, Duration> {
        if !self.enabled {
            return Ok(now);
        }
        let scopes = self.scopes(endpoint);
        let mut buckets = self.buckets();
        let mut base = now;
        let mut candidates: Vec<Instant> = Vec::new();
        for (name, limits) in &scopes {
            let longest = limits.iter().map(|l| l.window).max().unwrap_or_default() + self.margin;
            let bucket = buckets.entry((key.clone(), *name)).or_default();
            // Calls that left every window no longer constrain anything.
            let gone = bucket.granted.partition_point(|t| *t + longest <= now);
            bucket.granted.drain(..gone);
            base = base.max(bucket.blocked_until.unwrap_or(now));
            // A slot opens when a call leaves a window.
            for l in limits {
                candidates.extend(bucket.granted.iter().map(|t| *t + l.window + self.margin));
            }
        }
        candidates.retain(|c| *c > base);
        candidates.push(base);
        candidates.sort_unstable();
        candidates.dedup();
        let fits = |at: Instant| {
            scopes.iter().all(|(name, limits)| {
                buckets
                    .get(&(key.clone(), *name))
                    .is_none_or(|b| limits.iter().all(|l| room(&b.granted, at, l.window + self.margin, l.calls)))
            })
        };
        let Some(at) = candidates.into_iter().find(|c| fits(*c)) else {
            // Unreachable: the latest window end leaves every window with room.
            return Err(Duration::MAX);
        };
        if at > deadline {
            return Err(at.saturating_duration_since(now));
        }
        for (name, limits) in &scopes {
            if !limits.is_empty() {
                let granted = &mut buckets.entry((key.clone(), *name)).or_default().granted;
                // Kept ascending: a call may take a gap before slots reserved by other scopes' callers.
                let i = granted.partition_point(|t| *t <= at);
                granted.insert(i, at);
            }
        }
        Ok(at)
    }

    /// Closes the most specific quota scope of `endpoint` for `key` until `until` (the service said
    /// 429 with a `Retry-After`). A 429 on a hunting query closes the hunting quota, not every Graph
    /// call: if Graph's own limit was hit, the next Graph call's 429 closes that one.
    pub fn hold_off(&self, key: &QuotaKey, endpoint: Endpoint, until: Instant) {
        if !self.enabled {
            return;
        }
        let Some((name, _)) = self.scopes(endpoint).into_iter().next() else { return };
        let mut buckets = self.buckets();
        let bucket = buckets.entry((key.clone(), name)).or_default();
        bucket.blocked_until = Some(bucket.blocked_until.map_or(until, |b| b.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Endpoints whose limits a test replaces with tiny ones.
    const T_EP: Endpoint = Endpoint::MdeFilesGet;
    const T_OTHER: Endpoint = Endpoint::MdeFilesStats;

    fn key(tenant: &str) -> QuotaKey {
        QuotaKey {
            tenant: tenant.parse().unwrap(),
            scope: "https://api.security.microsoft.com/.default".into(),
            api: ApiFamily::Xdr,
        }
    }

    /// The `limits` prose of an endpoint's contract file, read from disk (the library embeds none).
    fn prose(endpoint: Endpoint) -> String {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../contract/defender-api")
            .join(format!("{}.json", endpoint.name()));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        doc["limits"].as_str().unwrap_or_default().replace(',', "")
    }

    #[test]
    fn every_figure_in_the_table_is_in_the_contract_of_its_endpoints() {
        let own: Vec<QuotaScope> = Endpoint::ALL.iter().map(|e| QuotaScope::own(*e)).collect();
        for scope in QUOTA_SCOPES.iter().chain(&own) {
            let members: Vec<Endpoint> = Endpoint::ALL.iter().copied().filter(|e| scope.members.contains(*e)).collect();
            assert!(!members.is_empty(), "{} names no documented endpoint", scope.name);
            // Graph's hunting page states no quota: the hunting API's page is the source.
            let mut text: String = members.iter().map(|e| prose(*e)).collect::<Vec<_>>().join(" ");
            if scope.name.ends_with("hunting") {
                text.push_str(&prose(Endpoint::MdeAdvancedHuntingRun));
            }
            for l in scope.limits {
                let unit = if l.window == Duration::from_secs(60) { "min" } else { "hour" };
                let said = [format!("{} calls per {unit}", l.calls), format!("{}/{unit}", l.calls)]
                    .iter()
                    .any(|p| text.contains(p.as_str()))
                    || text.contains(&format!("{} calls/{unit}", l.calls))
                    || text.contains(&format!("{} requests per {unit}", l.calls));
                assert!(said, "{}: {} per {unit} is not in the contract", scope.name, l.calls);
            }
        }
        // Every documented Defender and Graph security endpoint is in a scope.
        for e in Endpoint::ALL {
            assert!(!quota_scopes(*e).is_empty(), "{e} is in no quota scope");
        }
    }

    #[test]
    fn the_documented_figures() {
        let (m, h) = (RateLimit::per_minute, RateLimit::per_hour);
        let cases: [(Endpoint, &[RateLimit]); 9] = [
            (Endpoint::MdeAlertsList, &[m(100), h(1500)]),
            (Endpoint::XdrIncidentsList, &[m(50), h(1500)]),
            // The get page says 100/min; the incidents API overall is 50/min and get counts against it.
            (Endpoint::XdrIncidentsGet, &[m(50), h(1500)]),
            (Endpoint::MdeAlertsBatchUpdate, &[m(10), h(500)]),
            (Endpoint::MdeAdvancedHuntingRun, &[m(45), h(1500)]),
            // "10 min timeout" in the runHuntingQuery notes is a running-time budget, not 10 calls/min.
            (Endpoint::GraphSecurityRunHuntingQuery, &[m(45), h(1500)]),
            (Endpoint::MdeInvestigationsStart, &[h(50)]),
            (Endpoint::GraphSecurityAlertsV2List, &[m(150)]),
            (Endpoint::MdeMachinesSoftware, &[]),
        ];
        for (e, want) in cases {
            assert_eq!(documented_limits(e), want, "{e}");
        }
        assert_eq!(documented_limits(Endpoint::MdeMachineactionsGetPackageUri)[0], RateLimit::per_minute(2));
    }

    #[test]
    fn a_full_window_pushes_the_next_slot_past_the_oldest_call() {
        let g = Governor::documented()
            .with_limits(T_EP, vec![RateLimit::per_minute(3), RateLimit::per_hour(5)])
            .with_margin(Duration::from_millis(100));
        let k = key("a");
        let t0 = Instant::now();
        let far = t0 + Duration::from_secs(7200);
        for i in 0..3 {
            assert_eq!(g.reserve(&k, T_EP, t0 + Duration::from_secs(i), far), Ok(t0 + Duration::from_secs(i)));
        }
        let fourth = g.reserve(&k, T_EP, t0 + Duration::from_secs(10), far).unwrap();
        assert_eq!(fourth, t0 + Duration::from_millis(60_100));
        // Slots queue in order: the fifth waits for the second call to leave the window.
        let fifth = g.reserve(&k, T_EP, t0 + Duration::from_secs(10), far).unwrap();
        assert_eq!(fifth, t0 + Duration::from_millis(61_100));
        // The hourly window now holds five: the sixth waits for the first to leave the hour.
        let sixth = g.reserve(&k, T_EP, t0 + Duration::from_secs(10), far).unwrap();
        assert_eq!(sixth, t0 + Duration::from_millis(3_600_100));
    }

    #[test]
    fn a_slot_after_the_deadline_is_refused_without_reserving() {
        let g = Governor::documented().with_limits(T_EP, vec![RateLimit::per_minute(1)]).with_margin(Duration::ZERO);
        let k = key("a");
        let t0 = Instant::now();
        g.reserve(&k, T_EP, t0, t0).unwrap();
        assert_eq!(g.reserve(&k, T_EP, t0, t0 + Duration::from_secs(5)), Err(Duration::from_secs(60)));
        // Nothing was reserved: the next caller with time to spare gets the same slot.
        assert_eq!(g.reserve(&k, T_EP, t0, t0 + Duration::from_secs(90)), Ok(t0 + Duration::from_secs(60)));
    }

    #[test]
    fn buckets_are_separate_per_tenant_and_scope() {
        let g = Governor::documented()
            .with_limits(T_EP, vec![RateLimit::per_minute(1)])
            .with_limits(T_OTHER, vec![RateLimit::per_minute(1)]);
        let t0 = Instant::now();
        let far = t0 + Duration::from_secs(600);
        g.reserve(&key("a"), T_EP, t0, far).unwrap();
        assert!(g.reserve(&key("a"), T_EP, t0, far).unwrap() > t0);
        assert_eq!(g.reserve(&key("b"), T_EP, t0, far), Ok(t0));
        assert_eq!(g.reserve(&key("a"), T_OTHER, t0, far), Ok(t0));
    }

    /// Fills `n` slots of `endpoint` at `t0` and returns the slot of one more call of `then`.
    fn after(g: &Governor, n: usize, endpoint: Endpoint, then: Endpoint, t0: Instant) -> Instant {
        let far = t0 + Duration::from_secs(7200);
        for _ in 0..n {
            assert_eq!(g.reserve(&key("a"), endpoint, t0, far), Ok(t0), "{endpoint} within its limit");
        }
        g.reserve(&key("a"), then, t0, far).unwrap()
    }

    #[test]
    fn hunting_has_its_own_45_per_minute_and_does_not_stall_other_graph_calls() {
        let t0 = Instant::now();
        let g = Governor::documented();
        // 45 hunting calls go at once; the 46th waits for the minute.
        assert!(after(&g, 45, Endpoint::GraphSecurityRunHuntingQuery, Endpoint::GraphSecurityRunHuntingQuery, t0) > t0);
        // An alerts list is not held behind the busy hunting quota.
        assert_eq!(after(&g, 0, Endpoint::GraphSecurityAlertsV2List, Endpoint::GraphSecurityAlertsV2List, t0), t0);
        // A hunting query still counts against Graph's 150/min for /security.
        let g = Governor::documented();
        assert!(after(&g, 150, Endpoint::GraphSecurityAlertsV2List, Endpoint::GraphSecurityRunHuntingQuery, t0) > t0);
    }

    #[test]
    fn xdr_incidents_list_get_and_update_share_one_bucket() {
        let t0 = Instant::now();
        let g = Governor::documented();
        let next = after(&g, 50, Endpoint::XdrIncidentsList, Endpoint::XdrIncidentsGet, t0);
        assert!(next >= t0 + Duration::from_secs(60), "{:?}", next - t0);
        let g = Governor::documented();
        assert!(
            after(&g, 50, Endpoint::XdrIncidentsGet, Endpoint::XdrIncidentsUpdate, t0) >= t0 + Duration::from_secs(60)
        );
        // MDE documents its limits per API: a full alerts list quota does not hold the machines.
        let g = Governor::documented();
        assert_eq!(after(&g, 100, Endpoint::MdeAlertsList, Endpoint::MdeMachinesGet, t0), t0);
    }

    #[test]
    fn hold_off_closes_the_most_specific_scope_and_share_scales_the_limit() {
        let g = Governor::documented();
        let k = key("a");
        let t0 = Instant::now();
        g.hold_off(&k, Endpoint::MdeAlertsList, t0 + Duration::from_secs(7));
        assert_eq!(
            g.reserve(&k, Endpoint::MdeAlertsList, t0, t0 + Duration::from_secs(60)),
            Ok(t0 + Duration::from_secs(7))
        );
        // A 429 on a hunting query closes the hunting quota, not Graph's alerts.
        g.hold_off(&k, Endpoint::GraphSecurityRunHuntingQuery, t0 + Duration::from_secs(30));
        let far = t0 + Duration::from_secs(60);
        assert_eq!(g.reserve(&k, Endpoint::GraphSecurityRunHuntingQuery, t0, far), Ok(t0 + Duration::from_secs(30)));
        assert_eq!(g.reserve(&k, Endpoint::GraphSecurityAlertsV2List, t0, far), Ok(t0));
        // A 429 on Graph's alerts closes the /security quota, which hunting counts against too.
        g.hold_off(&k, Endpoint::GraphSecurityAlertsV2List, t0 + Duration::from_secs(40));
        assert_eq!(g.reserve(&k, Endpoint::GraphSecurityRunHuntingQuery, t0, far), Ok(t0 + Duration::from_secs(40)));
        let half = Governor::documented().with_share(0.5);
        assert_eq!(half.limits(Endpoint::MdeAlertsList), vec![RateLimit::per_minute(50), RateLimit::per_hour(750)]);
        assert_eq!(half.limits(Endpoint::MdeMachineactionsGetPackageUri)[0], RateLimit::per_minute(1));
        let off = Governor::disabled().with_limits(T_EP, vec![RateLimit::per_minute(1)]);
        for _ in 0..5 {
            assert_eq!(off.reserve(&k, T_EP, t0, t0), Ok(t0));
        }
    }
}
