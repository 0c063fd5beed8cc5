//! Many simulated tenants behind one HTTPS origin — what an MSSP's functions talk to.
//!
//! [`start_fleet`] serves `n` tenants, each a whole simulated tenant ([`Sim`]) with its own directory
//! id, app registrations, data, request log, faults and **quota book** (Defender's limits are per
//! tenant and app, so one tenant's calls never spend another's quota). One listener and one TLS
//! certificate front them all, and each request goes to its tenant the way the real services tell
//! tenants apart:
//! - Entra: the tenant id in the path (`/{tenant}/oauth2/v2.0/token`, discovery, keys);
//! - Defender, Graph and Key Vault: the `tid` of the bearer token (the tenant's own [`Sim`] then
//!   verifies that token completely; the routing only reads the claim);
//! - `/t/{index}/…`: that tenant's own paths, e.g. `/t/3/_sim/faults` for a fault in tenant 3 only;
//! - anything else (the vault's unauthenticated challenge, `/common` keys): tenant 0, the MSSP's home
//!   tenant, whose vault holds the functions' secrets.
//!
//! Tenants share the token signing key and the endpoint table (built once: 500 tenants would
//! otherwise cost 1,000 RSA key generations), and nothing else.
//!
//! Data is generated, **deterministic per seed**: tenant `i` of seed `s` gets the same directory id,
//! the same number of incidents (the demo's, shifted by a per-tenant offset) and the same procedural
//! MDE alert sequence ([`GeneratedAlerts`]: count, spacing) every time; only "now" moves them.

use crate::{
    StartError, router,
    seed::{GeneratedAlerts, Seed},
    serve, spec,
    state::{Sim, SimConfig, Tenant},
    tls, tokens,
};
use axum::{
    Router,
    extract::{Request, State},
    response::{IntoResponse, Response},
};
use rand::{Rng, SeedableRng};
use std::{collections::HashMap, net::SocketAddr, ops::RangeInclusive, sync::Arc, sync::Mutex};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How to start a fleet.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// How many tenants.
    pub tenants: usize,
    /// The generator's seed.
    pub seed: u64,
    /// MDE alerts per tenant (drawn uniformly).
    pub alerts: RangeInclusive<u64>,
    /// XDR incidents per tenant (drawn uniformly; at most the demo's 12).
    pub incidents: RangeInclusive<usize>,
    /// Behaviour switches of every tenant.
    pub config: SimConfig,
}

impl FleetOptions {
    /// `tenants` tenants of seed `seed` on an ephemeral loopback port: 50–500 alerts, 1–12
    /// incidents each.
    pub fn new(tenants: usize, seed: u64) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tenants,
            seed,
            alerts: 50..=500,
            incidents: 1..=12,
            config: SimConfig::default(),
        }
    }
}

/// A running fleet; stops when dropped.
#[derive(Debug)]
pub struct RunningFleet {
    /// Base URL of every tenant, `https://127.0.0.1:<port>`.
    pub url: String,
    /// The CA certificate (PEM) clients must trust.
    pub ca_pem: String,
    /// The tenants, by index (0 is the home tenant).
    pub tenants: Vec<Arc<Sim>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RunningFleet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The registry name of tenant `i` (`t000`, `t001`, …).
pub fn tenant_name(i: usize) -> String {
    format!("t{i:03}")
}

/// The directory id of tenant `i` of seed `seed` (a v4-shaped GUID).
pub fn tenant_id(seed: u64, i: usize) -> String {
    format!("{:08x}-{:04x}-4000-8000-{:012x}", (seed >> 32) as u32 ^ seed as u32, (seed & 0xffff) as u16, i + 1)
}

impl RunningFleet {
    /// An MSSP registry document (`DEFENDER_TENANTS_FILE`) naming every tenant ([`tenant_name`]),
    /// each with the demo reader app and its client secret under `secret_name` in the home vault.
    pub fn registry(&self, client_id: &str, secret_name: &str) -> serde_json::Value {
        let tenants: Vec<serde_json::Value> = self
            .tenants
            .iter()
            .enumerate()
            .map(|(i, s)| {
                serde_json::json!({"name": tenant_name(i), "tenant_id": s.tenant_id(), "client_id": client_id,
                    "credential": {"kind": "client_secret", "secret_name": secret_name}})
            })
            .collect();
        serde_json::json!({ "tenants": tenants })
    }

    /// A reqwest client that trusts the fleet's CA, redirects off.
    ///
    /// # Errors
    /// A PEM reqwest cannot read (not expected).
    pub fn client(&self) -> Result<reqwest::Client, reqwest::Error> {
        let certs = reqwest::Certificate::from_pem_bundle(self.ca_pem.as_bytes())?;
        reqwest::Client::builder().tls_certs_merge(certs).redirect(reqwest::redirect::Policy::none()).build()
    }
}

/// Tenant `index`'s seed: the demo's apps, its own directory id, a draw of the demo's incidents
/// shifted by its own offset, and its own alert sequence; the home tenant (0) also holds the demo's
/// vault secrets. Deterministic in (`seed`, `index`) given `now`.
pub fn tenant_seed(demo: &Seed, opts: &FleetOptions, index: usize, now: chrono::DateTime<chrono::Utc>) -> Seed {
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let alerts = rng.random_range(opts.alerts.clone());
    let incidents = rng.random_range(opts.incidents.clone()).min(demo.incidents.len());
    // Alerts end within the last hour, spaced 1–30 s apart.
    let step_ms: i64 = rng.random_range(1_000..=30_000);
    let end_offset_s: i64 = rng.random_range(0..3_600);
    let first = now
        - chrono::Duration::seconds(end_offset_s)
        - chrono::Duration::milliseconds(step_ms * alerts.saturating_sub(1) as i64);
    let mut seed = Seed {
        tenant_id: tenant_id(opts.seed, index),
        // Incidents are shifted by (now − as_of) at load, then by the tenant's own offset.
        as_of: demo
            .as_of
            .as_deref()
            .and_then(crate::clock::parse_iso)
            .map(|t| crate::clock::iso(t + chrono::Duration::seconds(rng.random_range(0..6 * 3_600)))),
        apps: demo.apps.clone(),
        incidents: demo.incidents.iter().take(incidents).cloned().collect(),
        alerts: demo.alerts.iter().take(1).cloned().collect(),
        generated_alerts: (alerts > 0).then(|| GeneratedAlerts {
            count: alerts,
            first: first.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            step_ms,
        }),
        ..Seed::default()
    };
    if index == 0 {
        seed.secrets = demo.secrets.clone();
    }
    seed
}

/// What the router needs: each tenant's application and the directory id → index map.
struct Routes {
    apps: Vec<Router>,
    by_tid: HashMap<String, usize>,
}

/// Starts `opts.tenants` tenants behind one origin.
///
/// # Errors
/// As [`crate::start`]: a broken demo seed, a port that cannot be bound, TLS or key setup.
pub async fn start_fleet(opts: FleetOptions) -> Result<RunningFleet, StartError> {
    let tls = tls::generate()?;
    let listener = TcpListener::bind(opts.addr).await.map_err(StartError::Bind)?;
    let port = listener.local_addr().map_err(StartError::Bind)?.port();
    let url = format!("https://{}:{port}", opts.addr.ip());
    let spec = spec::SpecTable::load()?;
    let keys = tokens::SigningKey::generate()?;
    let demo = Seed::demo()?;
    let now = chrono::Utc::now();
    let mut tenants = Vec::with_capacity(opts.tenants);
    for i in 0..opts.tenants.max(1) {
        let clock = crate::clock::SimClock::default();
        let tenant = Tenant::from_seed(tenant_seed(&demo, &opts, i, now), clock.now());
        tenants.push(Arc::new(Sim {
            base_url: url.clone(),
            spec: spec.clone(),
            keys: keys.clone(),
            clock,
            control: true,
            config: Mutex::new(opts.config.clone()),
            tenant: Mutex::new(tenant),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            quotas: Mutex::new(crate::quota::QuotaBook::default()),
            botframework: crate::botframework::BotFramework::with_key(keys.clone()),
        }));
    }
    let routes = Arc::new(Routes {
        apps: tenants.iter().map(|s| router(s.clone())).collect(),
        by_tid: tenants.iter().enumerate().map(|(i, s)| (s.tenant_id(), i)).collect(),
    });
    let app = Router::new().fallback(dispatch).with_state(routes);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server.clone());
    let task = tokio::spawn(serve(listener, acceptor, app, Arc::new(crate::latency::Wire::default())));
    Ok(RunningFleet { url, ca_pem: tls.ca_pem, tenants, task })
}

/// The `tid` claim of the bearer token, unverified (the tenant's own [`Sim`] verifies it).
fn bearer_tid(req: &Request) -> Option<String> {
    use base64::Engine;
    let auth = req.headers().get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let payload = auth.strip_prefix("Bearer ")?.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("tid")?.as_str().map(str::to_string)
}

async fn dispatch(State(routes): State<Arc<Routes>>, mut req: Request) -> Response {
    let path = req.uri().path().to_string();
    let mut segments = path.trim_start_matches('/').splitn(3, '/');
    let (first, second) = (segments.next().unwrap_or_default(), segments.next());
    let index = if first == "t"
        && let Some(i) = second.and_then(|s| s.parse::<usize>().ok()).filter(|i| *i < routes.apps.len())
    {
        let rest = format!("/{}", segments.next().unwrap_or_default());
        let pq = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest,
        };
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
        i
    } else if let Some(i) = routes.by_tid.get(first) {
        *i
    } else {
        bearer_tid(&req).and_then(|t| routes.by_tid.get(&t).copied()).unwrap_or(0)
    };
    match routes.apps.get(index) {
        Some(app) => app.clone().oneshot(req).await.into_response(),
        None => crate::nothing_here(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tenants_are_deterministic_per_seed_and_differ_between_tenants() {
        let demo = Seed::demo().unwrap();
        let opts = FleetOptions::new(3, 42);
        let now = chrono::Utc::now();
        let a = tenant_seed(&demo, &opts, 1, now);
        let b = tenant_seed(&demo, &opts, 1, now);
        let g = |s: &Seed| s.generated_alerts.clone().map(|g| (g.count, g.first, g.step_ms));
        assert_eq!(
            (a.tenant_id.clone(), a.incidents.len(), g(&a), a.as_of.clone()),
            (b.tenant_id.clone(), b.incidents.len(), g(&b), b.as_of.clone())
        );
        let c = tenant_seed(&demo, &opts, 2, now);
        assert_ne!(a.tenant_id, c.tenant_id);
        assert_ne!(g(&a), g(&c), "two tenants draw their own data");
        let other = tenant_seed(&demo, &FleetOptions::new(3, 43), 1, now);
        assert_ne!(a.tenant_id, other.tenant_id);
        assert!(a.secrets.is_empty() && !tenant_seed(&demo, &opts, 0, now).secrets.is_empty());
    }
}
