//! tenant-sim — the simulated Microsoft tenant that `make run` and every test talk to.
//!
//! One HTTPS server, one origin, standing in for three services, held to the documented contract in
//! `contract/defender-api/` rather than to what a client hopes for:
//! - **Entra ID** v2 token endpoint (client secret, certificate and federated assertions, device code,
//!   rotating refresh tokens), OIDC discovery and JWKS;
//! - **Key Vault** secrets with versions and the challenge-based bearer auth real vaults use;
//! - **Defender for Endpoint, Defender XDR and Graph security**: every documented endpoint, its
//!   permissions, OData subset, paging, rate limits, machine-action lifecycle and advanced hunting.
//!
//! Start it in-process with [`start`] (tests) or as the `tenant-sim` binary. See `local/README.md`.
//!
//! # Layout
//! - [`spec`] — the endpoint table, generated from the contract files at build time.
//! - [`seed`] — the seed document and the built-in `demo` tenant.
//! - [`state`] — shared state: tenant data, auth state, request log, faults, quotas, switches.
//! - [`tokens`] / [`auth`] — minting and verifying the simulator's RS256 access tokens.
//! - [`entra`] — the token, device-code and discovery endpoints: `entra/{token, client_auth,
//!   device_code, discovery}.rs` (scopes and minting live with the token endpoint).
//! - [`vault`] — Key Vault secrets.
//! - [`defender`] — the Defender/Graph dispatcher and one module per resource.
//! - [`odata`] / [`kql`] — the OData `$filter`/`$orderby` subset and the KQL subset for hunting; each a
//!   folder `{lex, parse, eval}.rs` under a `mod.rs` that holds the documented grammar, the error type and
//!   the syntax tree.
//!   Their tests feed both parsers deterministic noise from one [`xorshift`] stream (tests only).
//! - [`quota`] — documented rate limits as sliding windows.
//! - [`control`] — the `/_sim/` control API (seed, faults, request log, clock, device-code approval).
//! - [`tls`] — the CA and certificate generated at start.
//! - [`botframework`] — the Bot Framework side of a Teams bot: the Bot Connector's OpenID metadata and
//!   rotating keys, signed activities, and the Teams conversations API recording what a bot posts.
//! - [`sts`] — a strict AWS STS `GetWebIdentityToken` (the AWS outbound issuer Entra trusts in
//!   `federated-sts` mode), on its own plain-HTTP port, with IAM policy evaluation of the role's statements.
//! - [`fleet`] — many tenants (MSSP benches and tests) behind one origin, each its own [`state::Sim`] (id,
//!   apps, generated data, quotas), routed by the tenant id in Entra paths and the token's `tid`.
//! - [`clock`] / [`errors`] — simulated time; the services' error envelopes.
//! - [`latency`] — injected round-trip latency (`--latency-ms`) and the timeline of connections and
//!   requests with arrival and completion times; [`latency::round_trips`] counts the sequential ones.

pub mod auth;
pub mod botframework;
pub mod clock;
pub mod control;
pub mod defender;
pub mod entra;
pub mod errors;
pub mod fleet;
pub mod kql;
pub mod latency;
pub mod odata;
pub mod quota;
pub mod seed;
pub mod spec;
pub mod state;
pub mod sts;
pub mod tls;
pub mod tokens;
pub mod vault;

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use rand::{Rng, SeedableRng};
use state::{LogEntry, Sim, SimConfig, Tenant, lock};
use std::{net::SocketAddr, sync::Arc, sync::Mutex};
use tokio::net::TcpListener;

pub use seed::Seed;

/// Largest request body the simulator reads (the services' own limits are larger; ours only guard memory).
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// The tenant to serve.
    pub seed: Seed,
    /// Serve the `/_sim/` control API.
    pub control: bool,
    /// Behaviour switches.
    pub config: SimConfig,
    /// Latency injected per round trip (see [`latency`]); zero: none.
    pub latency: std::time::Duration,
}

impl SimOptions {
    /// The demo tenant on an ephemeral loopback port, control API on.
    ///
    /// # Errors
    /// Only if the built-in demo seed is broken.
    pub fn demo() -> Result<Self, StartError> {
        Ok(Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: Seed::demo()?,
            control: true,
            config: SimConfig::default(),
            latency: std::time::Duration::ZERO,
        })
    }
}

/// A deterministic pseudo-random `u64` stream (xorshift64) from `seed`: the parsers' tests feed
/// both of them reproducible noise from it.
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The seed is invalid.
    #[error("invalid seed")]
    Seed(#[from] seed::SeedError),
    /// The contract table is broken.
    #[error("invalid contract table")]
    Spec(#[from] spec::SpecError),
    /// TLS setup failed.
    #[error("tls setup failed")]
    Tls(#[from] tls::TlsError),
    /// Signing key generation failed.
    #[error("signing key generation failed")]
    Key(#[from] tokens::TokenError),
    /// The address could not be bound.
    #[error("cannot listen on the requested address")]
    Bind(#[source] std::io::Error),
}

/// A running simulator; stops when dropped.
#[derive(Debug)]
pub struct RunningSim {
    /// Base URL, `https://127.0.0.1:<port>`.
    pub url: String,
    /// The CA certificate (PEM) clients must trust.
    pub ca_pem: String,
    /// Shared state (for in-process tests).
    pub sim: Arc<Sim>,
    /// The injected latency and the timeline of round trips.
    pub wire: Arc<latency::Wire>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSim {
    /// A reqwest client that trusts the simulator's CA (and nothing extra otherwise), redirects off.
    ///
    /// # Errors
    /// A PEM reqwest cannot read (not expected: the simulator wrote it).
    pub fn client(&self) -> Result<reqwest::Client, reqwest::Error> {
        let certs = reqwest::Certificate::from_pem_bundle(self.ca_pem.as_bytes())?;
        reqwest::Client::builder().tls_certs_merge(certs).redirect(reqwest::redirect::Policy::none()).build()
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> String {
        self.sim.tenant_id()
    }

    /// What the v2 token endpoint answers a client-credentials request of the app
    /// `(client_id, secret)` for `scope` (its JSON body, a token or an error, whatever the status).
    ///
    /// # Errors
    /// The request failed or the answer is not JSON.
    pub async fn client_credentials(
        &self,
        http: &reqwest::Client,
        (client_id, secret): (&str, &str),
        scope: &str,
    ) -> Result<serde_json::Value, reqwest::Error> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", scope),
        ];
        let url = format!("{}/{}/oauth2/v2.0/token", self.url, self.tenant_id());
        http.post(url).form(&form).send().await?.json().await
    }

    /// The documented endpoints requests have reached so far (contract names, from the request log),
    /// answered or refused: what a client under test called.
    pub fn endpoints_called(&self) -> std::collections::BTreeSet<String> {
        state::lock(&self.sim.log).iter().filter_map(|e| e.endpoint.clone()).collect()
    }

    /// The [`endpoints_called`](Self::endpoints_called) that are not in `declared`: a function's
    /// tests check that it calls nothing its declared endpoint list (its permission manifest) omits.
    pub fn endpoints_called_outside<'a>(&self, declared: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let declared: Vec<&str> = declared.into_iter().collect();
        self.endpoints_called().into_iter().filter(|e| !declared.contains(&e.as_str())).collect()
    }

    /// Stops the server.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the simulator.
///
/// # Errors
/// A bad seed, a port that cannot be bound, or TLS/key setup failure.
pub async fn start(opts: SimOptions) -> Result<RunningSim, StartError> {
    let tls = tls::generate()?;
    let listener = TcpListener::bind(opts.addr).await.map_err(StartError::Bind)?;
    let port = listener.local_addr().map_err(StartError::Bind)?.port();
    let host = if opts.addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { opts.addr.ip().to_string() };
    let url = format!("https://{host}:{port}");
    let clock = clock::SimClock::default();
    let tenant = Tenant::from_seed(opts.seed, clock.now());
    let sim = Arc::new(Sim {
        base_url: url.clone(),
        spec: spec::SpecTable::load()?,
        keys: tokens::SigningKey::generate()?,
        clock,
        control: opts.control,
        config: Mutex::new(opts.config),
        tenant: Mutex::new(tenant),
        log: Mutex::new(Vec::new()),
        faults: Mutex::new(Vec::new()),
        quotas: Mutex::new(quota::QuotaBook::default()),
        botframework: botframework::BotFramework::new()?,
    });
    let wire = Arc::new(latency::Wire::new(opts.latency));
    let app = router_with(sim.clone(), wire.clone());
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server.clone());
    let task = tokio::spawn(serve(listener, acceptor, app, wire.clone()));
    Ok(RunningSim { url, ca_pem: tls.ca_pem, sim, wire, task })
}

async fn serve(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, app: Router, wire: Arc<latency::Wire>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        // No Nagle: an HTTP/2 answer is several small writes (headers, data), and Nagle holding the second
        // until the client's delayed ACK adds ~40 ms per request, which no real service does.
        tcp.set_nodelay(true).ok();
        let acceptor = acceptor.clone();
        let app = app.clone();
        let wire = wire.clone();
        tokio::spawn(async move {
            let Ok(tls) = wire.connect(acceptor.accept(tcp)).await else { return };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            if let Err(e) = builder.serve_connection(hyper_util::rt::TokioIo::new(tls), service).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// The whole application (exposed for tests that drive it without TLS), without injected latency.
pub fn router(sim: Arc<Sim>) -> Router {
    router_with(sim, Arc::new(latency::Wire::default()))
}

/// The application with the latency middleware outermost (the delay comes before any fault or handler,
/// as a network's would) and, with the control API, its `/_sim/timeline` and `/_sim/latency`.
fn router_with(sim: Arc<Sim>, wire: Arc<latency::Wire>) -> Router {
    let control = sim.control;
    let app = services(sim);
    let app = if control { app.merge(latency::control_routes(wire.clone())) } else { app };
    app.layer(middleware::from_fn_with_state(wire, latency::delay))
}

fn services(sim: Arc<Sim>) -> Router {
    let mut app = Router::new().merge(entra::routes()).merge(vault::routes()).merge(botframework::routes());
    if sim.control {
        app = app.nest("/_sim", control::routes().merge(botframework::control_routes()));
    }
    app.fallback(defender::dispatch)
        .layer(middleware::from_fn_with_state(sim.clone(), observe))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(sim)
}

/// Applies fault rules and writes the request log.
async fn observe(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let mut client = auth::caller_hint(req.headers());
    let req = if client.is_none() && (path.ends_with("/token") || path.ends_with("/devicecode")) {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
        client = url::form_urlencoded::parse(&bytes).find(|(k, _)| k == "client_id").map(|(_, v)| v.into_owned());
        Request::from_parts(parts, Body::from(bytes))
    } else {
        req
    };
    let resp = match pick_fault(&sim, &method, &path) {
        Some(rule) => {
            if rule.delay_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(rule.delay_ms)).await;
            }
            match StatusCode::from_u16(rule.status).ok().filter(|s| !s.is_success() || rule.status >= 200) {
                Some(status) if rule.status != 0 => fault_response(&sim, &path, status, rule.retry_after_s),
                _ => next.run(req).await,
            }
        }
        None => next.run(req).await,
    };
    let endpoint = sim.spec.route(&method, &path).ok().map(|m| m.endpoint.name.clone());
    let entry = LogEntry {
        timestamp: clock::iso(sim.now()),
        method,
        path,
        query,
        status: resp.status().as_u16(),
        client,
        endpoint,
    };
    lock(&sim.log).push(entry);
    resp
}

fn pick_fault(sim: &Sim, method: &str, path: &str) -> Option<state::FaultRule> {
    if path.starts_with("/_sim/") {
        return None;
    }
    let mut faults = lock(&sim.faults);
    let mut hit = None;
    for (rule, rng) in faults.iter_mut() {
        let method_ok = rule.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method));
        if !method_ok || !path.starts_with(&rule.path_prefix) || rule.times == Some(0) {
            continue;
        }
        if let Some(p) = rule.probability
            && rng.random::<f64>() >= p
        {
            continue;
        }
        if let Some(t) = rule.times.as_mut() {
            *t -= 1;
        }
        hit = Some(rule.clone());
        break;
    }
    faults.retain(|(r, _)| r.times != Some(0));
    hit
}

fn fault_response(sim: &Sim, path: &str, status: StatusCode, retry_after: Option<u64>) -> Response {
    let code = match status.as_u16() {
        429 => "TooManyRequests",
        500 => "InternalServerError",
        503 => "ServiceUnavailable",
        _ => "InjectedFault",
    };
    let mut err = errors::ApiError::new(status, code, format!("injected fault: {status}"));
    err.retry_after = retry_after;
    if path.starts_with("/v1.0/") {
        err.render(spec::Api::Graph, sim.now())
    } else if path.starts_with("/api/") {
        err.render(spec::Api::Mde, sim.now())
    } else if path.contains("/oauth2/") {
        let e = errors::EntraError::new(status, "temporarily_unavailable", 90_055, "injected fault.");
        let mut r = e.render(sim.now());
        if let Some(s) = retry_after.and_then(|s| axum::http::HeaderValue::from_str(&s.to_string()).ok()) {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, s);
        }
        r
    } else {
        let mut r = errors::vault_error(status, code, "injected fault");
        if let Some(s) = retry_after.and_then(|s| axum::http::HeaderValue::from_str(&s.to_string()).ok()) {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, s);
        }
        r
    }
}

/// Seeds a fresh random stream for a fault rule.
pub(crate) fn fault_rng(seed: Option<u64>) -> rand::rngs::StdRng {
    match seed {
        Some(s) => rand::rngs::StdRng::seed_from_u64(s),
        None => rand::rngs::StdRng::from_os_rng(),
    }
}

/// 404 for anything nobody serves.
pub(crate) fn nothing_here() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}
