//! `DefenderClient` against the simulated tenant over TLS: decoding, typed errors, retries inside the
//! deadline, the idempotency rule, paging through large collections, and the quota governor.
//!
//! Time: most tests inject [`SimTime`], a clock whose waits move both the client's "now" and the
//! simulator's clock instead of sleeping (`tokio::time::pause()` does not mix with real sockets: its
//! auto-advance fires the HTTP timeouts while a request is in flight). One test waits on the real
//! clock, for one second, to check the production path.

// Test helpers outside `#[test]` functions: clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use defender_shared::{
    auth::{AccessToken, AuthError, TokenSource},
    clock::Clock,
    cloud::ApiFamily,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint, StaticTargets, governor::Governor, retry::RetryPolicy,
    },
    ids::{AlertId, Hostname, IncidentId, MachineId, TenantName},
    secret::SecretString,
};
use futures::{StreamExt, future::BoxFuture};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};
use tenant_sim::{RunningSim, Seed, SimOptions, state::Sim};
use tokio::time::Instant;

const APP: &str = "11111111-1111-4111-8111-111111111111";
const SECRET: &str = "demo-secret-value-do-not-use-in-prod";
const REPORTER: &str = "22222222-2222-4222-8222-222222222222";
const REPORTER_SECRET: &str = "reporter-secret-value";
/// A machine of the demo tenant.
const MACHINE: &str = "6e3b0baec64e73af66d665c28fe736f1ee55080a";

// ---------------------------------------------------------------------------------------------
// Test plumbing: tokens from the simulator's Entra endpoint, a clock that moves simulated time.

/// Client-credential tokens from the simulator, per registry tenant name: `contoso` is the demo app
/// with every role, `reporter` the read-only app. Cached per (tenant, scope).
#[derive(Debug)]
struct SimTokens {
    http: reqwest::Client,
    token_url: String,
    apps: HashMap<&'static str, (&'static str, &'static str)>,
    cache: Mutex<HashMap<(String, String), AccessToken>>,
}

impl SimTokens {
    fn new(sim: &RunningSim) -> Arc<Self> {
        Arc::new(Self {
            http: sim.client().unwrap(),
            token_url: format!("{}/{}/oauth2/v2.0/token", sim.url, sim.tenant_id()),
            apps: HashMap::from([("contoso", (APP, SECRET)), ("reporter", (REPORTER, REPORTER_SECRET))]),
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, tenant: &TenantName, scope: &str) -> Option<String> {
        let cache = self.cache.lock().unwrap();
        cache.get(&(tenant.to_string(), scope.to_string())).map(|t| t.secret.expose().to_string())
    }
}

impl TokenSource for SimTokens {
    fn token<'a>(&'a self, tenant: &'a TenantName, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
        Box::pin(async move {
            let key = (tenant.to_string(), scope.to_string());
            if let Some(t) = self.cache.lock().unwrap().get(&key) {
                return Ok(t.clone());
            }
            let (client, secret) =
                self.apps.get(tenant.as_str()).ok_or_else(|| AuthError::UnknownTenant(tenant.to_string()))?;
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", client),
                ("client_secret", secret),
                ("scope", scope),
            ];
            let resp = self.http.post(&self.token_url).form(&form).send().await.map_err(AuthError::Http)?;
            let body: Value = resp.json().await.map_err(AuthError::Http)?;
            let Some(token) = body["access_token"].as_str() else {
                panic!("the simulator refused the test token: {body}");
            };
            let expires_in = body["expires_in"].as_i64().unwrap_or(3599);
            let t = AccessToken {
                secret: SecretString::new(token),
                expires_at: Utc::now() + chrono::Duration::seconds(expires_in),
            };
            self.cache.lock().unwrap().insert(key, t.clone());
            Ok(t)
        })
    }
}

/// A clock whose waits advance the client's "now" and the simulator's clock together, instantly.
#[derive(Debug)]
struct SimTime {
    sim: Arc<Sim>,
    offset: Mutex<Duration>,
}

impl SimTime {
    fn new(sim: &RunningSim) -> Arc<Self> {
        Arc::new(Self { sim: sim.sim.clone(), offset: Mutex::new(Duration::ZERO) })
    }
    /// Simulated time slept so far.
    fn slept(&self) -> Duration {
        *self.offset.lock().unwrap()
    }
    /// A deadline `d` from the simulated now.
    fn deadline(&self, d: Duration) -> Deadline {
        Deadline(self.now() + d)
    }
}

impl Clock for SimTime {
    fn now(&self) -> Instant {
        Instant::now() + *self.offset.lock().unwrap()
    }
    fn utc_now(&self) -> DateTime<Utc> {
        self.sim.now()
    }
    fn sleep_until(&self, at: Instant) -> BoxFuture<'_, ()> {
        let d = at.saturating_duration_since(self.now());
        *self.offset.lock().unwrap() += d;
        self.sim.clock.advance(chrono::Duration::from_std(d).unwrap());
        Box::pin(tokio::task::yield_now())
    }
}

struct Env {
    sim: RunningSim,
    http: reqwest::Client,
    tokens: Arc<SimTokens>,
    time: Arc<SimTime>,
}

impl Env {
    async fn start() -> Self {
        Self::with_seed(Seed::demo().unwrap()).await
    }

    /// The demo tenant, a client on simulated time ([`Env::client`]) and the registry tenant `contoso`:
    /// what most tests start from.
    async fn contoso() -> (Self, DefenderClient<SimTokens>, TenantName) {
        let env = Self::start().await;
        let client = env.client();
        (env, client, tenant("contoso"))
    }

    async fn with_seed(seed: Seed) -> Self {
        let sim = tenant_sim::start(SimOptions { seed, ..SimOptions::demo().unwrap() }).await.unwrap();
        let http = sim.client().unwrap();
        let tokens = SimTokens::new(&sim);
        let time = SimTime::new(&sim);
        Self { sim, http, tokens, time }
    }

    /// A client on simulated time with the documented governor and default retries.
    fn client(&self) -> DefenderClient<SimTokens> {
        self.real_time_client().with_clock(self.time.clone())
    }

    fn real_time_client(&self) -> DefenderClient<SimTokens> {
        let targets = StaticTargets::single_origin(&url::Url::parse(&self.sim.url).unwrap()).unwrap();
        DefenderClient::new(self.http.clone(), self.tokens.clone(), Arc::new(targets))
    }

    async fn fault(&self, rule: Value) {
        let resp = self.http.post(format!("{}/_sim/faults", self.sim.url)).json(&rule).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
    }

    /// After a quota's worth of calls and one more: the last one waited for the window (about a minute
    /// from the first call, less the real time the calls took), and all `n` calls under `prefix` reached
    /// the simulator without a 429.
    async fn assert_waited_not_throttled(&self, prefix: &str, n: usize) {
        assert!(
            self.time.slept() >= Duration::from_secs(30),
            "the call over the quota waited: {:?}",
            self.time.slept()
        );
        let sent = self.requests(prefix).await;
        assert_eq!(sent.len(), n);
        assert!(sent.iter().all(|(_, s, _)| *s == 200), "no 429 reached the simulator: {sent:?}");
    }

    /// The simulator's request log for paths starting with `prefix`: (method, status, query).
    async fn requests(&self, prefix: &str) -> Vec<(String, u16, String)> {
        testkit::sim::logged(&self.sim, prefix).await.into_iter().map(|l| (l.method, l.status, l.query)).collect()
    }
}

/// `slept` is `expected` less the real time that passed between deciding and waiting (< 50 ms).
fn assert_about(slept: Duration, expected: Duration) {
    assert!(slept <= expected && slept + Duration::from_millis(50) >= expected, "{slept:?} vs {expected:?}");
}

fn tenant(name: &str) -> TenantName {
    name.parse().unwrap()
}

fn get(endpoint: Endpoint, path: &str, query: &[(&str, &str)]) -> Call {
    Call {
        endpoint,
        path: path.to_string(),
        query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: None,
    }
}

fn isolate(machine: &str, comment: &str) -> Call {
    Call {
        endpoint: Endpoint::MdeMachinesIsolate,
        path: format!("/api/machines/{machine}/isolate"),
        query: vec![],
        body: Some(json!({"Comment": comment, "IsolationType": "Full"})),
    }
}

fn alerts() -> Call {
    get(Endpoint::MdeAlertsList, "/api/alerts", &[])
}

#[derive(Debug, Deserialize)]
struct List<T> {
    value: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Machine {
    id: MachineId,
    computer_dns_name: Hostname,
    os_platform: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    id: AlertId,
    incident_id: Option<IncidentId>,
    machine_id: Option<MachineId>,
    severity: String,
}

// ---------------------------------------------------------------------------------------------
// Decoding and typed errors.

#[tokio::test]
async fn machines_and_alerts_decode_into_typed_values() {
    let (env, client, t) = Env::contoso().await;
    let machines: List<Machine> = client
        .call(&t, get(Endpoint::MdeMachinesList, "/api/machines", &[]), env.time.deadline(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(machines.value.len(), 25);
    let m = machines.value.iter().find(|m| m.id.as_str() == MACHINE).unwrap();
    assert_eq!(m.computer_dns_name.as_str(), "ws-fin-014.contoso.com");
    assert!(m.os_platform.is_some());

    let filtered: List<Alert> = client
        .call(
            &t,
            get(Endpoint::MdeAlertsList, "/api/alerts", &[("$filter", "severity eq 'High'"), ("$top", "5")]),
            env.time.deadline(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert!(!filtered.value.is_empty() && filtered.value.len() <= 5);
    assert!(filtered.value.iter().all(|a| a.severity == "High"));
    let all: List<Alert> = client.call(&t, alerts(), env.time.deadline(Duration::from_secs(30))).await.unwrap();
    assert_eq!(all.value.len(), 60);
    assert!(all.value.iter().all(|a| a.incident_id.is_some() && a.machine_id.is_some()));
    assert_eq!(all.value.iter().map(|a| a.id.as_str()).collect::<HashSet<_>>().len(), 60);
    // The query was encoded by the client: the simulator received the filter intact.
    let sent = env.requests("/api/alerts").await;
    assert!(sent.iter().any(|(_, s, q)| *s == 200 && q.contains("%24filter=severity+eq+%27High%27")), "{sent:?}");
}

#[tokio::test]
async fn a_missing_entity_is_a_typed_404_with_the_service_code() {
    let (env, client, t) = Env::contoso().await;
    let missing = "0000000000000000000000000000000000000000";
    let err = client
        .call::<Value>(
            &t,
            get(Endpoint::MdeMachinesGet, &format!("/api/machines/{missing}"), &[]),
            env.time.deadline(Duration::from_secs(30)),
        )
        .await
        .unwrap_err();
    let DefenderError::Api { status, code, request_id, endpoint, .. } = &err else { panic!("{err:?}") };
    assert_eq!((*status, code.as_str(), *endpoint), (StatusCode::NOT_FOUND, "ResourceNotFound", "mde.machines.get"));
    assert!(request_id.as_deref().is_some_and(|r| !r.is_empty()), "the MDE target is kept for support");
    assert!(!err.is_retryable());
    assert!(err.to_string().starts_with("mde.machines.get answered 404 ResourceNotFound"), "{err}");

    // Graph's envelope: camelCase code, request id from innerError.
    let err = client
        .call::<Value>(
            &t,
            get(Endpoint::GraphSecurityAlertsV2Get, "/security/alerts_v2/da000000000000000000_1", &[]),
            env.time.deadline(Duration::from_secs(30)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(err.code(), Some("itemNotFound"));
    let DefenderError::Api { request_id, .. } = &err else { panic!("{err:?}") };
    assert!(request_id.is_some());
    // Exactly one request each: a 404 is not retried.
    assert_eq!(env.requests("/api/machines/").await.len(), 1);
    assert_eq!(env.requests("/v1.0/security/alerts_v2/").await.len(), 1);
}

#[tokio::test]
async fn the_reader_app_gets_a_typed_403_on_isolate_and_nothing_secret_leaks() {
    let env = Env::start().await;
    let client = env.client();
    let t = tenant("reporter");
    let comment = "comment-sentinel-must-not-appear-in-errors";
    let err = client
        .call::<Value>(&t, isolate(MACHINE, comment), env.time.deadline(Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN), "{err:?}");
    assert_eq!(err.code(), Some("Forbidden"));
    assert!(!err.is_retryable());
    let token = env.tokens.cached(&t, "https://api.securitycenter.microsoft.com/.default").unwrap();
    let printed = format!("{err} | {err:?}");
    assert!(!printed.contains(&token) && !printed.contains(comment), "{printed}");
    let sent = env.requests(&format!("/api/machines/{MACHINE}/isolate")).await;
    assert_eq!(sent, vec![("POST".to_string(), 403, String::new())]);
}

#[tokio::test]
async fn an_unconfigured_api_is_a_typed_error_without_a_request() {
    let env = Env::start().await;
    let targets = StaticTargets::new();
    let client = DefenderClient::new(env.http.clone(), env.tokens.clone(), Arc::new(targets));
    let err =
        client.call::<Value>(&tenant("contoso"), alerts(), Deadline::after(Duration::from_secs(5))).await.unwrap_err();
    assert!(matches!(err, DefenderError::NoTarget { api: ApiFamily::Mde, .. }), "{err:?}");
    assert!(env.requests("/api/").await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Retries inside the deadline.

#[tokio::test]
async fn throttling_is_waited_out_as_the_service_asks_within_the_deadline() {
    let env = Env::start().await;
    env.fault(json!({"path_prefix": "/api/alerts", "status": 429, "retry_after_s": 1, "times": 2})).await;
    let list: List<Alert> =
        env.client().call(&tenant("contoso"), alerts(), env.time.deadline(Duration::from_secs(10))).await.unwrap();
    assert_eq!(list.value.len(), 60);
    let statuses: Vec<u16> = env.requests("/api/alerts").await.into_iter().map(|(_, s, _)| s).collect();
    assert_eq!(statuses, vec![429, 429, 200]);
    // The two Retry-After seconds were waited (simulated), no more.
    assert_about(env.time.slept(), Duration::from_secs(2));
}

#[tokio::test]
async fn unavailable_answers_are_retried_with_backoff() {
    let env = Env::start().await;
    env.fault(json!({"path_prefix": "/api/alerts", "status": 503, "times": 2})).await;
    let list: List<Alert> =
        env.client().call(&tenant("contoso"), alerts(), env.time.deadline(Duration::from_secs(10))).await.unwrap();
    assert_eq!(list.value.len(), 60);
    let statuses: Vec<u16> = env.requests("/api/alerts").await.into_iter().map(|(_, s, _)| s).collect();
    assert_eq!(statuses, vec![503, 503, 200]);
    // Equal-jitter backoff from 500 ms: 250–500 ms, then 500–1000 ms.
    let slept = env.time.slept();
    assert!(slept >= Duration::from_millis(750) && slept <= Duration::from_millis(1500), "{slept:?}");
}

#[tokio::test]
async fn a_wait_that_would_cross_the_deadline_is_not_started() {
    let (env, client, t) = Env::contoso().await;
    env.fault(json!({"path_prefix": "/api/alerts", "status": 429, "retry_after_s": 5, "times": 1})).await;
    let err = client.call::<Value>(&t, alerts(), env.time.deadline(Duration::from_secs(2))).await.unwrap_err();
    let DefenderError::Throttled { retry_after, code, .. } = &err else { panic!("{err:?}") };
    assert_eq!((*retry_after, code.as_str()), (Some(Duration::from_secs(5)), "TooManyRequests"));
    assert!(err.is_retryable());
    assert_eq!(env.time.slept(), Duration::ZERO, "nothing was waited");
    assert_eq!(env.requests("/api/alerts").await.len(), 1);

    // A 503 asking for more than the deadline leaves: the service's error, typed, at once. (Another
    // endpoint: the 429 above closed the alerts bucket for its five seconds.)
    env.fault(json!({"path_prefix": "/api/machines", "status": 503, "retry_after_s": 30, "times": 3})).await;
    let machines = get(Endpoint::MdeMachinesList, "/api/machines", &[]);
    let err = client.call::<Value>(&t, machines, env.time.deadline(Duration::from_secs(5))).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(env.time.slept(), Duration::ZERO);

    // A deadline already passed sends nothing.
    let before = env.requests("/api/").await.len();
    let err = client.call::<Value>(&t, alerts(), env.time.deadline(Duration::ZERO)).await.unwrap_err();
    assert!(matches!(err, DefenderError::Deadline { endpoint: "mde.alerts.list" }), "{err:?}");
    assert_eq!(env.requests("/api/").await.len(), before);
}

#[tokio::test]
async fn on_the_real_clock_retries_wait_and_short_deadlines_return_at_once() {
    let env = Env::start().await;
    let client = env.real_time_client();
    let t = tenant("contoso");
    env.fault(json!({"path_prefix": "/api/alerts", "status": 429, "retry_after_s": 1, "times": 1})).await;
    let started = std::time::Instant::now();
    let deadline = Deadline::after(Duration::from_millis(500));
    let err = client.call::<Value>(&t, alerts(), deadline).await.unwrap_err();
    assert!(matches!(err, DefenderError::Throttled { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());

    // A fresh client (the first one's governor now holds the alerts bucket for that second).
    let client = env.real_time_client();
    env.fault(json!({"path_prefix": "/api/alerts", "status": 429, "retry_after_s": 1, "times": 1})).await;
    let started = std::time::Instant::now();
    let list: List<Alert> = client.call(&t, alerts(), Deadline::after(Duration::from_secs(5))).await.unwrap();
    let took = started.elapsed();
    assert_eq!(list.value.len(), 60);
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(5), "{took:?}");
}

// ---------------------------------------------------------------------------------------------
// Non-idempotent calls: a machine action must never run twice.

#[tokio::test]
async fn an_isolate_answered_503_is_not_sent_again_but_a_get_is() {
    let (env, client, t) = Env::contoso().await;
    let path = format!("/api/machines/{MACHINE}/isolate");
    env.fault(json!({"path_prefix": path, "status": 503, "times": 1})).await;
    let err = client
        .call::<Value>(&t, isolate(MACHINE, "test: 503"), env.time.deadline(Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{err:?}");
    assert_eq!(env.requests(&path).await.len(), 1, "sent exactly once");
    // The same fault on a GET is retried.
    env.fault(json!({"path_prefix": "/api/machines/", "status": 503, "times": 1})).await;
    let m: Machine = client
        .call(
            &t,
            get(Endpoint::MdeMachinesGet, &format!("/api/machines/{MACHINE}"), &[]),
            env.time.deadline(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert_eq!(m.id.as_str(), MACHINE);
}

#[tokio::test]
async fn an_isolate_answered_429_is_sent_again_and_runs_once() {
    let (env, client, t) = Env::contoso().await;
    let path = format!("/api/machines/{MACHINE}/isolate");
    env.fault(json!({"path_prefix": path, "status": 429, "retry_after_s": 2, "times": 1})).await;
    let action: Value =
        client.call(&t, isolate(MACHINE, "test: 429"), env.time.deadline(Duration::from_secs(30))).await.unwrap();
    assert_eq!(action["type"], "Isolate");
    let statuses: Vec<u16> = env.requests(&path).await.into_iter().map(|(_, s, _)| s).collect();
    assert_eq!(statuses, vec![429, 201]);
    let filter = format!("machineId eq '{MACHINE}' and type eq 'Isolate'");
    let actions: List<Value> = client
        .call(
            &t,
            get(Endpoint::MdeMachineactionsList, "/api/machineactions", &[("$filter", &filter)]),
            env.time.deadline(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let mine: Vec<&Value> = actions.value.iter().filter(|a| a["requestorComment"] == "test: 429").collect();
    assert_eq!(mine.len(), 1, "{:?}", actions.value);
}

/// A server that counts the requests it reads and never answers.
async fn black_hole() -> (url::Url, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                if s.read(&mut buf).await.is_ok_and(|n| n > 0) {
                    seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    (origin, count)
}

#[tokio::test]
async fn an_isolate_that_timed_out_is_not_sent_again_but_a_get_is() {
    let env = Env::start().await;
    let (origin, received) = black_hole().await;
    let policy = RetryPolicy { max_attempts: 3, attempt_timeout: Duration::from_millis(200), ..RetryPolicy::default() };
    let client = DefenderClient::new(
        reqwest::Client::new(),
        env.tokens.clone(),
        Arc::new(StaticTargets::single_origin(&origin).unwrap()),
    )
    .with_retry(policy)
    .with_clock(env.time.clone());
    let t = tenant("contoso");
    let err = client
        .call::<Value>(&t, isolate(MACHINE, "test: timeout"), env.time.deadline(Duration::from_secs(60)))
        .await
        .unwrap_err();
    let DefenderError::Transport { source, .. } = &err else { panic!("{err:?}") };
    assert!(source.is_timeout() && err.is_retryable());
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 1, "the action was sent once");
    let machine = get(Endpoint::MdeMachinesGet, &format!("/api/machines/{MACHINE}"), &[]);
    let err = client.call::<Value>(&t, machine, env.time.deadline(Duration::from_secs(60))).await.unwrap_err();
    assert!(matches!(err, DefenderError::Transport { .. }), "{err:?}");
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 1 + 3, "the read was tried three times");
}

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_an_action_then_reported() {
    let env = Env::start().await;
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let origin = url::Url::parse(&format!("https://127.0.0.1:{closed}")).unwrap();
    let client = DefenderClient::new(
        env.http.clone(),
        env.tokens.clone(),
        Arc::new(StaticTargets::single_origin(&origin).unwrap()),
    )
    .with_clock(env.time.clone());
    let err = client
        .call::<Value>(&tenant("contoso"), isolate(MACHINE, "never sent"), env.time.deadline(Duration::from_secs(120)))
        .await
        .unwrap_err();
    let DefenderError::Transport { source, .. } = &err else { panic!("{err:?}") };
    assert!(source.is_connect() && err.is_retryable());
    // Five backoffs (of six attempts): 250–500 + 500–1000 + 1–2 s + 2–4 s + 4–8 s.
    let slept = env.time.slept();
    assert!(slept >= Duration::from_millis(7750) && slept <= Duration::from_millis(15_500), "{slept:?}");
}

// ---------------------------------------------------------------------------------------------
// Paging.

/// The demo tenant plus 25,000 alerts, 1,000 incidents and 25,000 Graph alerts, cloned from demo
/// entities with unique ids. (Passed to the simulator in-process: as JSON it is far above the
/// control API's 16 MB body limit. Evidence and nested alerts are emptied to keep it in memory.)
fn big_seed() -> (Seed, HashSet<String>, HashSet<u64>, HashSet<String>) {
    let mut doc: Value = serde_json::from_str(tenant_sim::seed::DEMO).unwrap();
    let ids = |doc: &Value, list: &str, key: &str| -> Vec<Value> {
        doc[list].as_array().unwrap().iter().map(|v| v[key].clone()).collect()
    };
    let mut alert_ids: HashSet<String> =
        ids(&doc, "alerts", "id").iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let mut incident_ids: HashSet<u64> =
        ids(&doc, "incidents", "incidentId").iter().map(|v| v.as_u64().unwrap()).collect();
    let mut graph_ids: HashSet<String> =
        ids(&doc, "graph_alerts", "id").iter().map(|v| v.as_str().unwrap().to_string()).collect();

    let mut alert = doc["alerts"][0].clone();
    alert["evidence"] = json!([]);
    let mut incident = doc["incidents"][0].clone();
    incident["alerts"] = json!([]);
    let mut graph = doc["graph_alerts"][0].clone();
    graph["evidence"] = json!([]);
    for i in 0..25_000u64 {
        let mut a = alert.clone();
        let id = format!("da{:018}_-{i}", 700_000_000_000_000_000 + i);
        a["id"] = json!(id);
        alert_ids.insert(id);
        doc["alerts"].as_array_mut().unwrap().push(a);
        let mut g = graph.clone();
        let gid = format!("dagraph{i:012}");
        g["id"] = json!(gid);
        graph_ids.insert(gid);
        doc["graph_alerts"].as_array_mut().unwrap().push(g);
    }
    for i in 0..1_000u64 {
        let mut inc = incident.clone();
        inc["incidentId"] = json!(900_000 + i);
        incident_ids.insert(900_000 + i);
        doc["incidents"].as_array_mut().unwrap().push(inc);
    }
    (Seed::parse(&doc.to_string()).unwrap(), alert_ids, incident_ids, graph_ids)
}

#[derive(Debug, Deserialize)]
struct WithId {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IncidentRef {
    incident_id: IncidentId,
}

/// Collects every key from a page stream, failing on a duplicate; returns the keys and page sizes.
async fn drain<R, K: std::hash::Hash + Eq + std::fmt::Debug>(
    mut pages: futures::stream::BoxStream<'_, Result<Vec<R>, DefenderError>>,
    key: impl Fn(&R) -> K,
) -> (HashSet<K>, Vec<usize>) {
    let mut seen = HashSet::new();
    let mut sizes = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        sizes.push(page.len());
        for item in &page {
            let k = key(item);
            assert!(!seen.contains(&k), "duplicate {k:?}");
            seen.insert(k);
        }
    }
    (seen, sizes)
}

#[tokio::test]
async fn paging_covers_large_collections_without_duplicates_or_gaps() {
    let (seed, alert_ids, incident_ids, graph_ids) = big_seed();
    let env = Env::with_seed(seed).await;
    let client = env.client();
    let t = tenant("contoso");
    let deadline = env.time.deadline(Duration::from_secs(600));

    // MDE: $top=10000 and $skip until a short page.
    let (seen, sizes) = drain(client.pages::<WithId>(&t, alerts(), 10_000, deadline), |a| a.id.clone()).await;
    assert_eq!(seen, alert_ids);
    assert_eq!(sizes, vec![10_000, 10_000, 5_060]);
    let queries: Vec<String> = env.requests("/api/alerts").await.into_iter().map(|(_, _, q)| q).collect();
    assert_eq!(queries, vec!["%24top=10000", "%24top=10000&%24skip=10000", "%24top=10000&%24skip=20000"]);

    // XDR: $top=100 (its maximum), most recent first, no nextLink.
    let incidents = get(Endpoint::XdrIncidentsList, "/api/incidents", &[]);
    let (seen, sizes) = drain(client.pages::<IncidentRef>(&t, incidents, 100, deadline), |i| i.incident_id.0).await;
    assert_eq!(seen, incident_ids);
    assert_eq!(sizes.len(), 11);
    assert_eq!(sizes.last(), Some(&12));

    // Graph: @odata.nextLink, sent back unchanged, until it is absent.
    let graph = get(Endpoint::GraphSecurityAlertsV2List, "/security/alerts_v2", &[]);
    let (seen, sizes) = drain(client.pages::<WithId>(&t, graph, 1_000, deadline), |a| a.id.clone()).await;
    assert_eq!(seen, graph_ids);
    assert_eq!(sizes.len(), 26);
    let sent = env.requests("/v1.0/security/alerts_v2").await;
    assert_eq!(sent.len(), 26);
    assert!(sent.iter().all(|(_, s, _)| *s == 200));
    assert!(sent[1..].iter().all(|(_, _, q)| q.contains("skip")), "later pages come from the nextLink");
    // No page was throttled and none needed pacing.
    assert!(env.requests("/").await.iter().all(|(_, s, _)| *s != 429));
}

#[tokio::test]
async fn paging_stops_at_a_foreign_next_link_and_retries_each_page() {
    let (env, client, t) = Env::contoso().await;
    // Each page request goes through the retry logic: a page is throttled once.
    env.fault(json!({"path_prefix": "/v1.0/security/alerts_v2", "status": 429, "retry_after_s": 3, "times": 1})).await;
    let graph = get(Endpoint::GraphSecurityAlertsV2List, "/security/alerts_v2", &[]);
    let pages: Vec<Vec<WithId>> =
        client.pages(&t, graph, 25, env.time.deadline(Duration::from_secs(60))).map(Result::unwrap).collect().await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![25, 25, 10]);
    assert_about(env.time.slept(), Duration::from_secs(3));

    // A nextLink to another origin is refused after the page that carried it: a fake Graph that
    // answers one page pointing elsewhere.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let body =
                r#"{"value":[{"id":"a"}],"@odata.nextLink":"http://evil.example/v1.0/security/alerts_v2?$skip=1"}"#;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    let origin = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let fake = DefenderClient::new(
        reqwest::Client::new(),
        env.tokens.clone(),
        Arc::new(StaticTargets::single_origin(&origin).unwrap()),
    );
    let graph = get(Endpoint::GraphSecurityAlertsV2List, "/security/alerts_v2", &[]);
    let got: Vec<Result<Vec<WithId>, DefenderError>> =
        fake.pages(&t, graph, 1, Deadline::after(Duration::from_secs(10))).collect().await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].as_ref().unwrap()[0].id, "a");
    let Err(DefenderError::ForeignNextLink { origin, .. }) = &got[1] else { panic!("{got:?}") };
    assert_eq!(origin, "http://evil.example");
}

// ---------------------------------------------------------------------------------------------
// The quota governor.

fn incidents_top1() -> Call {
    get(Endpoint::XdrIncidentsList, "/api/incidents", &[("$top", "1")])
}

#[tokio::test]
async fn the_governor_paces_past_the_documented_limit_without_a_429_and_per_tenant() {
    let env = Env::start().await;
    let client = env.client();
    let (a, b) = (tenant("contoso"), tenant("reporter"));
    // XDR list incidents: 50 calls per minute. The simulator enforces it (quotas are on).
    for _ in 0..50 {
        client.call::<Value>(&a, incidents_top1(), env.time.deadline(Duration::from_secs(600))).await.unwrap();
    }
    assert_eq!(env.time.slept(), Duration::ZERO, "the first 50 fit in the window");
    // Tenant a is out of slots for a minute; tenant b is not delayed by it.
    client.call::<Value>(&b, incidents_top1(), env.time.deadline(Duration::from_secs(600))).await.unwrap();
    assert_eq!(env.time.slept(), Duration::ZERO);
    // With a short deadline, a's next call is refused at once, unsent.
    let sent_before = env.requests("/api/incidents").await.len();
    let err = client.call::<Value>(&a, incidents_top1(), env.time.deadline(Duration::from_secs(5))).await.unwrap_err();
    let DefenderError::Paced { wait, .. } = err else { panic!("{err:?}") };
    assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(61), "{wait:?}");
    assert_eq!(env.requests("/api/incidents").await.len(), sent_before);
    assert_eq!(env.time.slept(), Duration::ZERO);
    // With time to spare, 70 more calls wait for their slots instead of being throttled.
    for _ in 0..70 {
        client.call::<Value>(&a, incidents_top1(), env.time.deadline(Duration::from_secs(600))).await.unwrap();
    }
    let slept = env.time.slept();
    // Two more windows: about 2 × 60.5 s, less the real time the calls took.
    assert!(slept >= Duration::from_secs(110) && slept < Duration::from_secs(125), "{slept:?}");
    let sent = env.requests("/api/incidents").await;
    assert_eq!(sent.len(), 121);
    assert!(sent.iter().all(|(_, s, _)| *s == 200), "no 429 reached the simulator");
}

#[tokio::test]
async fn without_the_governor_the_simulator_throttles_the_same_workload() {
    let env = Env::start().await;
    let client = env.client().with_governor(Governor::disabled()).with_retry(RetryPolicy::never());
    let t = tenant("contoso");
    for _ in 0..50 {
        client.call::<Value>(&t, incidents_top1(), env.time.deadline(Duration::from_secs(60))).await.unwrap();
    }
    let err = client.call::<Value>(&t, incidents_top1(), env.time.deadline(Duration::from_secs(60))).await.unwrap_err();
    let DefenderError::Throttled { retry_after, message, .. } = &err else { panic!("{err:?}") };
    assert!(retry_after.is_some_and(|d| d > Duration::ZERO && d <= Duration::from_secs(60)), "{err:?}");
    assert!(message.contains("50 calls per minute"), "{message}");
    assert_eq!(env.requests("/api/incidents").await.last().map(|(_, s, _)| *s), Some(429));
}

fn graph_alerts_top1() -> Call {
    get(Endpoint::GraphSecurityAlertsV2List, "/security/alerts_v2", &[("$top", "1")])
}

async fn hunt_once(client: &DefenderClient<SimTokens>, t: &TenantName, env: &Env) {
    use defender_shared::defender::{kql::HuntingQuery, models::hunting::GraphHuntingRequest};
    let query = HuntingQuery::new("DeviceProcessEvents | take 1").render().unwrap();
    let req = GraphHuntingRequest { query, timespan: None };
    client.graph_hunt(t, &req, env.time.deadline(Duration::from_secs(600))).await.unwrap();
}

#[tokio::test]
async fn graph_hunting_is_paced_at_45_per_minute_and_does_not_hold_up_other_graph_calls() {
    let (env, client, t) = Env::contoso().await;
    // The hunting API allows 45 calls per minute ("10 min timeout" in its notes is not a rate).
    for _ in 0..45 {
        hunt_once(&client, &t, &env).await;
    }
    assert_eq!(env.time.slept(), Duration::ZERO, "45 hunting calls fit in one minute");
    // The hunting quota is full; a Graph alerts list is not held behind it.
    client.call::<Value>(&t, graph_alerts_top1(), env.time.deadline(Duration::from_secs(600))).await.unwrap();
    assert_eq!(env.time.slept(), Duration::ZERO, "alerts_v2 does not wait for the hunting quota");
    // The 46th hunting call waits for the minute, and is not throttled.
    hunt_once(&client, &t, &env).await;
    env.assert_waited_not_throttled("/v1.0/security/runHuntingQuery", 46).await;
}

#[tokio::test]
async fn xdr_incidents_list_get_and_update_are_paced_as_one_quota() {
    let (env, client, t) = Env::contoso().await;
    let deadline = || env.time.deadline(Duration::from_secs(600));
    let page: Value = client.call(&t, incidents_top1(), deadline()).await.unwrap();
    let id = page["value"][0]["incidentId"].to_string();
    for _ in 0..49 {
        client.call::<Value>(&t, incidents_top1(), deadline()).await.unwrap();
    }
    assert_eq!(env.time.slept(), Duration::ZERO, "50 incidents calls fit in one minute");
    // The incidents API allows 50 calls per minute in all: a get now waits for the window.
    let get_one = get(Endpoint::XdrIncidentsGet, &format!("/api/incidents/{id}"), &[]);
    client.call::<Value>(&t, get_one, deadline()).await.unwrap();
    env.assert_waited_not_throttled("/api/incidents", 51).await;
}

#[tokio::test]
async fn graph_calls_ask_for_evolvable_enum_members_by_name() {
    let (env, client, t) = Env::contoso().await;
    let deadline = || env.time.deadline(Duration::from_secs(60));
    let page: Value = client
        .call(&t, get(Endpoint::GraphSecurityIncidentsList, "/security/incidents", &[("$top", "1")]), deadline())
        .await
        .unwrap();
    let id = page["value"][0]["id"].as_str().unwrap().to_string();
    // The incident moves to `awaitingAction`, a member added after v1.0 shipped (evolvable).
    {
        let mut tenant = env.sim.sim.tenant.lock().unwrap();
        let inc = tenant.seed.graph_incidents.iter_mut().find(|i| i["id"] == id.as_str()).unwrap();
        inc["status"] = json!("awaitingAction");
    }
    let path = format!("/security/incidents/{id}");
    let got: Value = client.call(&t, get(Endpoint::GraphSecurityIncidentsGet, &path, &[]), deadline()).await.unwrap();
    assert_eq!(got["status"], "awaitingAction", "the client sends Prefer: include-unknown-enum-members");
    // Without the header the service hides the member: what a client without it would see.
    let bearer = env.tokens.cached(&t, defender_shared::defender::client::scopes::GRAPH).unwrap();
    let raw = testkit::sim::json_of(env.http.get(format!("{}/v1.0{path}", env.sim.url)).bearer_auth(bearer)).await;
    assert_eq!(raw["status"], "unknownFutureValue");
}
