//! `DefenderClient` and the [`Call`] descriptor every typed call is built from.
//!
//! A call goes: resolve the tenant's [`ApiTarget`] for the API family (base URL and token scope) →
//! build the URL (`base` + `call.path`, query encoded by `url`, never by string concatenation) → wait
//! for a slot from the quota [`Governor`] → get a bearer token for the target's scope → send JSON →
//! on a retryable failure, wait and try again within the [`Deadline`] ([`super::retry`] documents
//! which failures, how long, and why non-idempotent calls are almost never repeated) → decode.
//!
//! [`DefenderClient::pages`] turns a collection into a stream of pages, one request (with the same
//! pacing and retries) per page, one page in memory at a time. Its items are decoded one by one: an
//! item the typed view refuses is logged (id, member, reason) and counted, and the rest of the page
//! is yielded.
//!
//! Nothing here logs or returns a bearer token or a request body: log lines carry the endpoint name,
//! the status, the attempt and the service's request id.

use super::{
    endpoint::Endpoint,
    error::{DefenderError, Envelope, is_retryable_status},
    governor::{Governor, QuotaKey},
    items::{Decoded, ItemBytes, Items, PageScanner},
    models::Item,
    retry::{RetryPolicy, parse_retry_after, wait_from_message},
};
pub use crate::clock::Deadline;
use crate::clock::{Clock, SystemClock};
use crate::{auth::TokenSource, cloud::ApiFamily, ids::TenantName};
use futures::stream::{BoxStream, StreamExt};
use reqwest::{Method, StatusCode, header};
use serde::{Deserialize, de::DeserializeOwned};
use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use url::Url;

/// One documented request, described: which endpoint, where, with what.
#[derive(Debug, Clone)]
pub struct Call {
    /// The documented endpoint: its method, API family, permission and rate limits.
    pub endpoint: Endpoint,
    /// Path below the API base, starting with `/` (`/api/alerts`, `/security/alerts_v2`); every
    /// dynamic segment already validated and percent-encoded.
    pub path: String,
    /// Query parameters (`$filter`, `$top`, ...), encoded by the client.
    pub query: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<serde_json::Value>,
}

/// The `Prefer` header every Graph call carries: evolvable enum members by name.
pub const GRAPH_PREFER: &str = "include-unknown-enum-members";

/// POSTs that only read (hunting queries): safe to send twice.
const READ_ONLY_POSTS: &[Endpoint] =
    &[Endpoint::MdeAdvancedHuntingRun, Endpoint::XdrAdvancedHuntingRun, Endpoint::GraphSecurityRunHuntingQuery];

impl Call {
    /// Which API (host, token audience, error envelope): the endpoint's.
    pub fn api(&self) -> ApiFamily {
        self.endpoint.api()
    }

    /// The HTTP method: the endpoint's.
    pub fn method(&self) -> Method {
        self.endpoint.method()
    }

    /// Whether sending this call twice has the effect of sending it once: GET, HEAD, PUT, DELETE,
    /// OPTIONS and the read-only POSTs. Every other POST (machine actions, indicator submit, ...)
    /// and every PATCH is not, and is retried only when the service provably did not act on it (see
    /// [`super::retry`]).
    pub fn idempotent(&self) -> bool {
        let method = self.method();
        matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS)
            || (method == Method::POST && READ_ONLY_POSTS.contains(&self.endpoint))
    }
}

/// Where one API lives for one tenant, and the token scope it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTarget {
    /// Base URL: `https://api.security.microsoft.com` (MDE/XDR paths carry `/api`) or
    /// `https://graph.microsoft.com/v1.0`.
    pub base: Url,
    /// Token scope: `<resource>/.default`.
    pub scope: String,
}

impl ApiTarget {
    /// A target.
    pub fn new(base: Url, scope: impl Into<String>) -> Self {
        Self { base, scope: scope.into() }
    }

    /// `base` + `path` with `query` encoded. Not `Url::join`, which would drop Graph's `/v1.0`.
    fn url_for(&self, endpoint: &'static str, path: &str, query: &[(String, String)]) -> Result<Url, DefenderError> {
        let base_path = self.base.path().trim_end_matches('/');
        let below = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        // A dot segment would climb out of the base once the URL is normalised.
        let climbs = below.split('/').any(|s| {
            let s = s.to_ascii_lowercase().replace("%2e", ".");
            s == "." || s == ".."
        });
        if climbs {
            return Err(DefenderError::BadPath { endpoint });
        }
        let mut url = self.base.clone();
        url.set_path(&format!("{base_path}{below}"));
        url.set_query(None);
        url.set_fragment(None);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        Ok(url)
    }

    /// Whether `url` is on this target's origin (scheme, host and port).
    fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }
}

/// Where each tenant's APIs live. The cloud table (commercial, GCC, GCC High, DoD; regional hosts) is
/// one implementation; [`StaticTargets`] is another.
pub trait TargetResolver: Send + Sync + 'static {
    /// The target of `api` for `tenant`; `None` when that API is not configured for it.
    fn target(&self, tenant: &TenantName, api: ApiFamily) -> Option<ApiTarget>;
}

/// Documented `.default` scopes of the commercial cloud (`contract/defender-api/README.md` §2.2).
pub mod scopes {
    /// Defender for Endpoint (WindowsDefenderATP).
    pub const MDE: &str = "https://api.securitycenter.microsoft.com/.default";
    /// Defender XDR (Microsoft Threat Protection).
    pub const XDR: &str = "https://api.security.microsoft.com/.default";
    /// Microsoft Graph.
    pub const GRAPH: &str = "https://graph.microsoft.com/.default";
}

/// A fixed map of targets: one per API for every tenant, with per-tenant overrides. For tests and
/// local mode.
#[derive(Debug, Clone, Default)]
pub struct StaticTargets {
    all: HashMap<ApiFamily, ApiTarget>,
    per_tenant: HashMap<(TenantName, ApiFamily), ApiTarget>,
}

impl StaticTargets {
    /// No targets.
    pub fn new() -> Self {
        Self::default()
    }

    /// `api` at `target` for every tenant.
    #[must_use]
    pub fn with(mut self, api: ApiFamily, target: ApiTarget) -> Self {
        self.all.insert(api, target);
        self
    }

    /// `api` at `target` for one tenant (wins over [`StaticTargets::with`]).
    #[must_use]
    pub fn with_tenant(mut self, tenant: TenantName, api: ApiFamily, target: ApiTarget) -> Self {
        self.per_tenant.insert((tenant, api), target);
        self
    }

    /// MDE, XDR and Graph all served from one origin, as the simulated tenant does: MDE and XDR at
    /// `origin` (their paths carry `/api`), Graph at `origin/v1.0`, with the documented scopes.
    ///
    /// # Errors
    /// `origin` cannot be a base URL (`mailto:`, `data:`).
    pub fn single_origin(origin: &Url) -> Result<Self, url::ParseError> {
        if origin.cannot_be_a_base() {
            return Err(url::ParseError::RelativeUrlWithCannotBeABaseBase);
        }
        let mut graph = origin.clone();
        graph.set_path(&format!("{}/v1.0", origin.path().trim_end_matches('/')));
        Ok(Self::new()
            .with(ApiFamily::Mde, ApiTarget::new(origin.clone(), scopes::MDE))
            .with(ApiFamily::Xdr, ApiTarget::new(origin.clone(), scopes::XDR))
            .with(ApiFamily::Graph, ApiTarget::new(graph, scopes::GRAPH)))
    }
}

impl TargetResolver for StaticTargets {
    fn target(&self, tenant: &TenantName, api: ApiFamily) -> Option<ApiTarget> {
        self.per_tenant.get(&(tenant.clone(), api)).or_else(|| self.all.get(&api)).cloned()
    }
}

/// The Defender client: one per process, shared by every tenant.
pub struct DefenderClient<T> {
    /// The token source.
    pub tokens: Arc<T>,
    /// The HTTP client.
    pub http: reqwest::Client,
    targets: Arc<dyn TargetResolver>,
    governor: Arc<Governor>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    /// 429 answers met and retried (see [`DefenderClient::throttles_retried`]).
    throttles_retried: Arc<AtomicU64>,
    /// List items left out for want of a typed view (see [`DefenderClient::items_undecodable`]).
    items_undecodable: Arc<AtomicU64>,
}

impl<T> std::fmt::Debug for DefenderClient<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefenderClient").field("retry", &self.retry).finish_non_exhaustive()
    }
}

/// One prepared request (a call, or a page of one).
struct Prepared<'c> {
    endpoint: Endpoint,
    method: Method,
    url: Url,
    body: Option<&'c serde_json::Value>,
    idempotent: bool,
    scope: &'c str,
    key: QuotaKey,
}

/// Why an attempt failed, and whether another may follow.
struct Failure {
    error: DefenderError,
    retry: bool,
    wait: Option<Duration>,
}

/// A collection page, decoded item by item (an item without a typed view does not fail the page).
#[derive(Deserialize)]
#[serde(bound = "R: DeserializeOwned")]
struct Page<R> {
    value: Vec<Item<R>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// Where the body of a 2xx answer goes, chunk by chunk (a retried answer starts it over).
trait OkBody: Send {
    /// A new answer's body begins: drop what an earlier attempt gave.
    fn restart(&mut self);
    /// The next chunk.
    fn chunk(&mut self, bytes: &[u8]) -> Result<(), DefenderError>;
    /// The body ended.
    fn end(&mut self) -> Result<(), DefenderError>;
}

impl OkBody for Vec<u8> {
    fn restart(&mut self) {
        self.clear();
    }
    fn chunk(&mut self, bytes: &[u8]) -> Result<(), DefenderError> {
        self.extend_from_slice(bytes);
        Ok(())
    }
    fn end(&mut self) -> Result<(), DefenderError> {
        Ok(())
    }
}

/// A list page's body read item by item into an [`ItemBytes`].
struct ItemReader<'a> {
    scanner: PageScanner,
    out: &'a mut dyn ItemBytes,
    endpoint: &'static str,
}

impl OkBody for ItemReader<'_> {
    fn restart(&mut self) {
        self.scanner = PageScanner::new();
        self.out.restart();
    }
    fn chunk(&mut self, bytes: &[u8]) -> Result<(), DefenderError> {
        let out = &mut *self.out;
        self.scanner
            .feed(bytes, &mut |item| out.item(item))
            .map_err(|source| DefenderError::Decode { endpoint: self.endpoint, source })
    }
    fn end(&mut self) -> Result<(), DefenderError> {
        self.scanner.finish().map_err(|source| DefenderError::Decode { endpoint: self.endpoint, source })
    }
}

fn decode<R: DeserializeOwned>(endpoint: &'static str, body: &[u8]) -> Result<R, DefenderError> {
    // An empty 200/204 decodes as JSON null (fits `()` and `Option<_>`).
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"null".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|source| DefenderError::Decode { endpoint, source })
}

impl<T: TokenSource> DefenderClient<T> {
    /// A client over one HTTP client (see [`crate::http::client`]: redirects off), a token source and
    /// the tenants' API targets; documented-limit pacing, default retries, the real clock.
    pub fn new(http: reqwest::Client, tokens: Arc<T>, targets: Arc<dyn TargetResolver>) -> Self {
        Self {
            tokens,
            http,
            targets,
            governor: Arc::new(Governor::documented()),
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            throttles_retried: Arc::default(),
            items_undecodable: Arc::default(),
        }
    }

    /// How many 429 answers this client met and retried (waited as the service asked, then sent the
    /// call again) since it was built. A 429 it gave up on — its wait would end after the deadline, or
    /// the attempts ran out — is returned as [`DefenderError::Throttled`] instead and not counted
    /// here; a call the governor paced is no 429 at all.
    pub fn throttles_retried(&self) -> u64 {
        self.throttles_retried.load(Ordering::Relaxed)
    }

    /// How many list items [`DefenderClient::pages`] left out since this client was built because
    /// their typed view failed (each is logged with its id, member and reason; the page's other items
    /// are yielded). A single call's [`ODataList`](super::models::ODataList) names its own in
    /// `undecodable`.
    pub fn items_undecodable(&self) -> u64 {
        self.items_undecodable.load(Ordering::Relaxed)
    }

    /// Uses this quota governor.
    #[must_use]
    pub fn with_governor(mut self, governor: Governor) -> Self {
        self.governor = Arc::new(governor);
        self
    }

    /// Uses this retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Reads the time and waits through this clock (tests move simulated time instead of sleeping).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The quota governor.
    pub fn governor(&self) -> &Governor {
        &self.governor
    }

    /// The target of `api` for `tenant`.
    ///
    /// # Errors
    /// [`DefenderError::NoTarget`] when none is configured.
    pub fn target(&self, tenant: &TenantName, api: ApiFamily) -> Result<ApiTarget, DefenderError> {
        self.targets.target(tenant, api).ok_or_else(|| DefenderError::NoTarget { tenant: tenant.to_string(), api })
    }

    fn prepare<'c>(tenant: &TenantName, call: &'c Call, target: &'c ApiTarget, url: Url) -> Prepared<'c> {
        Prepared {
            endpoint: call.endpoint,
            method: call.method(),
            url,
            body: call.body.as_ref(),
            idempotent: call.idempotent(),
            scope: &target.scope,
            key: QuotaKey { tenant: tenant.clone(), scope: target.scope.clone(), api: call.api() },
        }
    }

    /// Sends a call and decodes the JSON answer.
    ///
    /// # Errors
    /// [`DefenderError`] when the service refuses, the deadline passes, or the body does not decode.
    pub async fn call<R: DeserializeOwned>(
        &self,
        tenant: &TenantName,
        call: Call,
        deadline: Deadline,
    ) -> Result<R, DefenderError> {
        let target = self.target(tenant, call.api())?;
        let url = target.url_for(call.endpoint.name(), &call.path, &call.query)?;
        let body = self.send(tenant, &Self::prepare(tenant, &call, &target, url), deadline).await?;
        decode(call.endpoint.name(), &body)
    }

    /// Sends a call whose answer has no body (200/204).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn call_empty(&self, tenant: &TenantName, call: Call, deadline: Deadline) -> Result<(), DefenderError> {
        let target = self.target(tenant, call.api())?;
        let url = target.url_for(call.endpoint.name(), &call.path, &call.query)?;
        self.send(tenant, &Self::prepare(tenant, &call, &target, url), deadline).await.map(drop)
    }

    /// Pages through a collection (`{"value": [...]}`), one `Vec` per page: `@odata.nextLink` when the
    /// service sends it, else `$top`/`$skip` with `page_size` until a short page.
    ///
    /// - `page_size > 0` sends `$top=page_size` (replacing any `$top` in the call) and starts at the
    ///   call's own `$skip`, if any; `0` sends no `$top` and relies on `@odata.nextLink`.
    /// - A `nextLink` is sent back unchanged, only if it is on the target's origin (else the stream
    ///   yields [`DefenderError::ForeignNextLink`] after the page that carried it). Once the service
    ///   pages by link, a page without one is the last. A `$top` page without a link (Graph
    ///   `alerts_v2` omits it when `$top` is given) is followed by `$skip` until a short page, as
    ///   `$skip` is documented for every list paged here.
    /// - Empty pages are not yielded. After an error the stream ends.
    pub fn pages<'a, R: DeserializeOwned + Send + 'a>(
        &'a self,
        tenant: &'a TenantName,
        call: Call,
        page_size: usize,
        deadline: Deadline,
    ) -> BoxStream<'a, Result<Vec<R>, DefenderError>> {
        enum Cursor {
            Skip(usize),
            Link(Url),
            Fail(DefenderError),
            Done,
        }
        let mut call = call;
        let mut start = 0;
        if page_size > 0 {
            start = call
                .query
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("$skip"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            call.query.retain(|(k, _)| !k.eq_ignore_ascii_case("$top") && !k.eq_ignore_ascii_case("$skip"));
        }
        let state = (call, Cursor::Skip(start));
        futures::stream::unfold(state, move |(call, cursor)| async move {
            let mut cursor = cursor;
            loop {
                let next = match cursor {
                    Cursor::Done => return None,
                    Cursor::Fail(e) => return Some((Err(e), (call, Cursor::Done))),
                    next => next,
                };
                let target = match self.target(tenant, call.api()) {
                    Ok(t) => t,
                    Err(e) => return Some((Err(e), (call, Cursor::Done))),
                };
                let (url, skip) = match next {
                    Cursor::Done | Cursor::Fail(_) => return None,
                    Cursor::Link(url) => (url, None),
                    Cursor::Skip(skip) => {
                        let mut query = call.query.clone();
                        if page_size > 0 {
                            query.push(("$top".into(), page_size.to_string()));
                            if skip > 0 {
                                query.push(("$skip".into(), skip.to_string()));
                            }
                        }
                        match target.url_for(call.endpoint.name(), &call.path, &query) {
                            Ok(url) => (url, Some(skip)),
                            Err(e) => return Some((Err(e), (call, Cursor::Done))),
                        }
                    }
                };
                let page: Result<Page<R>, DefenderError> =
                    match self.send(tenant, &Self::prepare(tenant, &call, &target, url), deadline).await {
                        Ok(body) => decode(call.endpoint.name(), &body),
                        Err(e) => Err(e),
                    };
                let page = match page {
                    Ok(p) => p,
                    Err(e) => return Some((Err(e), (call, Cursor::Done))),
                };
                // The cursor counts what the service sent, typed or not (a short page ends `$skip` paging).
                let n = page.value.len();
                let mut items = Vec::with_capacity(n);
                for item in page.value {
                    match item.into_parts().1 {
                        Ok(t) => items.push(t),
                        Err(e) => {
                            self.items_undecodable.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(
                                endpoint = call.endpoint.name(),
                                item_id = e.id.as_deref().unwrap_or(""),
                                member = %e.field,
                                reason = %e.reason,
                                "list item skipped: no typed view"
                            );
                        }
                    }
                }
                cursor = match (page.next_link, skip) {
                    (Some(link), _) => match Url::parse(&link) {
                        Ok(u) if target.same_origin(&u) => Cursor::Link(u),
                        Ok(u) => Cursor::Fail(DefenderError::ForeignNextLink {
                            endpoint: call.endpoint.name(),
                            origin: u.origin().ascii_serialization(),
                        }),
                        Err(source) => Cursor::Fail(DefenderError::Url { endpoint: call.endpoint.name(), source }),
                    },
                    // Paging by link, and the link is gone: that was the last page.
                    (None, None) => Cursor::Done,
                    (None, Some(skip)) => {
                        if page_size == 0 || n < page_size {
                            Cursor::Done
                        } else {
                            Cursor::Skip(skip + n)
                        }
                    }
                };
                if !items.is_empty() {
                    return Some((Ok(items), (call, cursor)));
                }
            }
        })
        .boxed()
    }

    /// One request with pacing and retries inside the deadline; the body of a 2xx answer.
    async fn send(
        &self,
        tenant: &TenantName,
        req: &Prepared<'_>,
        deadline: Deadline,
    ) -> Result<Vec<u8>, DefenderError> {
        let mut body = Vec::new();
        self.send_into(tenant, req, deadline, &mut body).await?;
        Ok(body)
    }

    /// Sends a list-page call and hands its items to `out` one at a time as the body streams in
    /// (see [`super::items`]): the page is never held whole. A body that breaks off is asked again
    /// (an idempotent call, as [`DefenderClient::call`] does) after `out` is told to
    /// [`restart`](Items::restart). Items without a typed view are given all the same (each
    /// [`Item`](super::models::Item) says why).
    ///
    /// # Errors
    /// As [`DefenderClient::call`]; a body that is not a JSON object whose `value` is an array of
    /// JSON values is [`DefenderError::Decode`] (the items before the fault were given already).
    pub async fn call_items<R: DeserializeOwned>(
        &self,
        tenant: &TenantName,
        call: Call,
        deadline: Deadline,
        out: &mut dyn Items<R>,
    ) -> Result<usize, DefenderError> {
        self.call_item_bytes(tenant, call, deadline, &mut Decoded(out)).await
    }

    /// [`DefenderClient::call_items`] with each item handed on as the exact bytes the service sent,
    /// for a caller that reads only part of an item (the export: its id and time).
    ///
    /// # Errors
    /// As [`DefenderClient::call_items`], and what `out` returns for an item.
    pub async fn call_item_bytes(
        &self,
        tenant: &TenantName,
        call: Call,
        deadline: Deadline,
        out: &mut dyn ItemBytes,
    ) -> Result<usize, DefenderError> {
        let target = self.target(tenant, call.api())?;
        let url = target.url_for(call.endpoint.name(), &call.path, &call.query)?;
        let mut reader = ItemReader { scanner: PageScanner::new(), out, endpoint: call.endpoint.name() };
        self.send_into(tenant, &Self::prepare(tenant, &call, &target, url), deadline, &mut reader).await?;
        Ok(reader.scanner.count())
    }

    /// [`DefenderClient::send`], the 2xx body given to `out` chunk by chunk.
    async fn send_into(
        &self,
        tenant: &TenantName,
        req: &Prepared<'_>,
        deadline: Deadline,
        out: &mut dyn OkBody,
    ) -> Result<(), DefenderError> {
        let endpoint = req.endpoint.name();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let now = self.clock.now();
            if now >= deadline.0 {
                return Err(DefenderError::Deadline { endpoint });
            }
            match self.governor.reserve(&req.key, req.endpoint, now, deadline.0) {
                Ok(at) if at > now => {
                    tracing::debug!(
                        endpoint,
                        wait_ms = (at - now).as_millis() as u64,
                        "pacing to the documented limit"
                    );
                    self.clock.sleep_until(at).await;
                }
                Ok(_) => {}
                Err(wait) => return Err(DefenderError::Paced { endpoint, wait }),
            }
            let remaining = deadline.0.saturating_duration_since(self.clock.now());
            if remaining.is_zero() {
                return Err(DefenderError::Deadline { endpoint });
            }
            let token = match tokio::time::timeout(remaining, self.tokens.token(tenant, req.scope)).await {
                Ok(t) => t?,
                Err(_) => return Err(DefenderError::Deadline { endpoint }),
            };
            let remaining = deadline.0.saturating_duration_since(self.clock.now());
            let limit = remaining.min(self.retry.attempt_timeout);
            if limit.is_zero() {
                return Err(DefenderError::Deadline { endpoint });
            }
            let mut rb = self
                .http
                .request(req.method.clone(), req.url.clone())
                .bearer_auth(token.secret.expose())
                .header(header::ACCEPT, "application/json")
                .timeout(limit);
            if req.key.api == ApiFamily::Graph {
                // Without it Graph answers `unknownFutureValue` for members added to an evolvable
                // enum after v1.0 shipped (incident status `awaitingAction`, ...); the models keep
                // any member as sent.
                rb = rb.header("Prefer", GRAPH_PREFER);
            }
            if let Some(body) = req.body {
                rb = rb.json(body);
            }
            crate::metrics::count("DefenderCalls", 1);
            let failure = match rb.send().await {
                Err(e) => {
                    if e.is_timeout() && !e.is_connect() && limit == remaining {
                        return Err(DefenderError::Deadline { endpoint });
                    }
                    // Only a failed connection proves the request was never written.
                    let retry = e.is_connect() || (req.idempotent && (e.is_timeout() || e.is_request()));
                    Failure { error: DefenderError::Transport { endpoint, source: e.without_url() }, retry, wait: None }
                }
                Ok(resp) => match self.answer(req, resp, attempt, limit == remaining, out).await {
                    Ok(()) => return Ok(()),
                    Err(f) => f,
                },
            };
            if !failure.retry || attempt >= self.retry.max_attempts {
                return Err(failure.error);
            }
            let wait = failure.wait.unwrap_or_else(|| self.retry.backoff(attempt - 1));
            let now = self.clock.now();
            if now + wait >= deadline.0 {
                // Never sleep past the deadline: the caller gets the typed error now.
                return Err(failure.error);
            }
            tracing::warn!(
                endpoint,
                attempt,
                wait_ms = wait.as_millis() as u64,
                status = failure.error.status().map(|s| s.as_u16()),
                error = %failure.error,
                "retrying"
            );
            if failure.error.status() == Some(StatusCode::TOO_MANY_REQUESTS) {
                self.throttles_retried.fetch_add(1, Ordering::Relaxed);
            }
            self.clock.sleep_until(now + wait).await;
        }
    }

    /// Reads one answer: the body of a 2xx into `out`, or the typed failure. `at_deadline`: the
    /// attempt's timeout is the call's deadline (a timeout is then [`DefenderError::Deadline`]).
    async fn answer(
        &self,
        req: &Prepared<'_>,
        mut resp: reqwest::Response,
        attempt: u32,
        at_deadline: bool,
        out: &mut dyn OkBody,
    ) -> Result<(), Failure> {
        let endpoint = req.endpoint.name();
        let status = resp.status();
        let header_wait = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.clock.utc_now()));
        if status.is_success() {
            out.restart();
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        out.chunk(&chunk).map_err(|error| Failure { error, retry: false, wait: None })?;
                    }
                    Ok(None) => break,
                    Err(e) if e.is_timeout() && at_deadline => {
                        // The body was still coming (a streamed page is read, and its items used, as
                        // it arrives) when the call's deadline came.
                        return Err(Failure { error: DefenderError::Deadline { endpoint }, retry: false, wait: None });
                    }
                    Err(e) => {
                        // The request was sent and maybe acted on; only an idempotent call may go again.
                        return Err(Failure {
                            error: DefenderError::Transport { endpoint, source: e.without_url() },
                            retry: req.idempotent,
                            wait: None,
                        });
                    }
                }
            }
            return out.end().map_err(|error| Failure { error, retry: false, wait: None });
        }
        let body = match resp.bytes().await {
            Ok(b) => Vec::from(b),
            Err(e) => {
                // The request was sent and maybe acted on; only an idempotent call may go again.
                let retry = req.idempotent && !status.is_client_error();
                return Err(Failure {
                    error: DefenderError::Transport { endpoint, source: e.without_url() },
                    retry,
                    wait: None,
                });
            }
        };
        let env = Envelope::parse(&body);
        tracing::info!(endpoint, attempt, status = status.as_u16(), code = %env.code, request_id = ?env.request_id, "service error");
        if status == StatusCode::TOO_MANY_REQUESTS {
            crate::metrics::count("DefenderThrottles", 1);
            let wait = header_wait.or_else(|| wait_from_message(&env.message, self.clock.utc_now()));
            if let Some(w) = wait {
                self.governor.hold_off(&req.key, req.endpoint, self.clock.now() + w);
            }
            return Err(Failure {
                error: DefenderError::Throttled {
                    endpoint,
                    retry_after: wait,
                    code: env.code,
                    message: env.message,
                    request_id: env.request_id,
                },
                retry: true,
                wait,
            });
        }
        let error = DefenderError::Api {
            endpoint,
            status,
            code: env.code,
            message: env.message,
            retry_after: header_wait.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0)),
            request_id: env.request_id,
        };
        // A 5xx after the request was sent may mean it ran: only idempotent calls go again.
        let retry = is_retryable_status(status) && req.idempotent;
        Err(Failure { error, retry, wait: header_wait })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(base: &str) -> ApiTarget {
        ApiTarget::new(Url::parse(base).unwrap(), scopes::GRAPH)
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_the_query() {
        let graph = target("https://graph.microsoft.com/v1.0");
        let q = vec![("$filter".to_string(), "title eq 'a&b=c' or x eq '#1 ?'".to_string())];
        let url = graph.url_for("g", "/security/alerts_v2", &q).unwrap();
        assert_eq!(url.path(), "/v1.0/security/alerts_v2");
        let back: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(back, q, "{url}");
        assert!(!url.as_str().contains("a&b"), "{url}");
        let mde = target("https://api.security.microsoft.com/");
        let url = mde.url_for("m", "/api/machines/abc?x=1#f", &[]).unwrap();
        assert_eq!(url.path(), "/api/machines/abc%3Fx=1%23f");
        assert_eq!(url.query(), None);
        assert!(matches!(mde.url_for("m", "/api/../token", &[]), Err(DefenderError::BadPath { .. })));
        assert!(matches!(mde.url_for("m", "/api/%2E%2e/x", &[]), Err(DefenderError::BadPath { .. })));
    }

    #[test]
    fn origins_are_compared_whole() {
        let t = target("https://127.0.0.1:8443/v1.0");
        assert!(t.same_origin(&Url::parse("https://127.0.0.1:8443/v1.0/security/alerts_v2?$skip=5").unwrap()));
        assert!(!t.same_origin(&Url::parse("https://127.0.0.1:9443/v1.0/x").unwrap()));
        assert!(!t.same_origin(&Url::parse("http://127.0.0.1:8443/v1.0/x").unwrap()));
        assert!(!t.same_origin(&Url::parse("https://evil.example/v1.0/x").unwrap()));
    }

    #[test]
    fn only_safe_calls_are_idempotent() {
        let call = |endpoint: Endpoint| Call { endpoint, path: "/api/x".into(), query: vec![], body: None };
        assert!(call(Endpoint::MdeAlertsList).idempotent());
        assert!(call(Endpoint::MdeIndicatorsDelete).idempotent());
        assert!(call(Endpoint::MdeAdvancedHuntingRun).idempotent());
        assert!(call(Endpoint::GraphSecurityRunHuntingQuery).idempotent());
        assert!(!call(Endpoint::MdeMachinesIsolate).idempotent());
        assert!(!call(Endpoint::MdeIndicatorsSubmit).idempotent());
        assert!(!call(Endpoint::MdeAlertsUpdate).idempotent());
        assert!(!call(Endpoint::GraphSecurityIncidentsUpdate).idempotent());
    }

    #[test]
    fn static_targets_prefer_the_tenant_entry() {
        let a: TenantName = "a".parse().unwrap();
        let b: TenantName = "b".parse().unwrap();
        let origin = Url::parse("https://127.0.0.1:1234").unwrap();
        let t = StaticTargets::single_origin(&origin).unwrap().with_tenant(
            b.clone(),
            ApiFamily::Mde,
            ApiTarget::new(Url::parse("https://eu.api.security.microsoft.com").unwrap(), scopes::MDE),
        );
        assert_eq!(t.target(&a, ApiFamily::Graph).unwrap().base.as_str(), "https://127.0.0.1:1234/v1.0");
        assert_eq!(t.target(&a, ApiFamily::Mde).unwrap().base.host_str(), Some("127.0.0.1"));
        assert_eq!(t.target(&b, ApiFamily::Mde).unwrap().base.host_str(), Some("eu.api.security.microsoft.com"));
        assert_eq!(t.target(&b, ApiFamily::Xdr).unwrap().scope, scopes::XDR);
        assert!(t.target(&a, ApiFamily::KeyVault).is_none());
    }

    #[test]
    fn empty_bodies_decode_as_null() {
        decode::<()>("x", b"").unwrap();
        assert_eq!(decode::<Option<u8>>("x", b"  ").unwrap(), None);
        assert!(matches!(decode::<u8>("x", b"{"), Err(DefenderError::Decode { .. })));
    }
}
