//! The simulator's shared state: the tenant's data, the auth state, the request log, fault rules and
//! quotas. One `Arc<Sim>` per server; every lock is held for a few statements, never across an await.

use crate::{
    clock::SimClock,
    quota::QuotaBook,
    seed::{AppReg, Seed, UserReg},
    spec::SpecTable,
    tokens::SigningKey,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Mutex, MutexGuard},
};

/// Locks a mutex, recovering from poisoning (a panicked request must not wedge the simulator).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Behaviour switches, settable at start and through `POST /_sim/config`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Enforce the documented rate limits.
    pub quotas: bool,
    /// Seconds a new machine action stays `Pending`.
    pub action_pending_s: i64,
    /// Seconds it then stays `InProgress` before `Succeeded`.
    pub action_running_s: i64,
    /// Default page size for Graph lists without `$top` (Graph pages with `@odata.nextLink`).
    pub graph_page_size: usize,
    /// Row cap of a hunting answer: the documented 100,000, lowered by tests that need a truncated
    /// answer from a small table.
    pub hunting_max_rows: usize,
    /// Key Vault: this many next requests answer 429 `Throttled` (counts down).
    pub vault_throttle_next: u32,
    /// Key Vault: the `Retry-After` (seconds) of those 429s.
    pub vault_retry_after_s: u64,
    /// Strict list paging (the default; see [`crate::defender`] "Strict paging"): `$top` capped per
    /// endpoint as the live services do (Graph incidents 50), an undocumented `$orderby` ignored and
    /// the documented default order served (XDR incidents newest first by `createdTime`), elsewhere
    /// an order unrelated to time (a keyed hash of the id), and Graph `alerts_v2` without
    /// `@odata.nextLink` when the request gave `$top`. `false` restores the lenient simulator that
    /// honoured `$orderby` (kept for comparison tests; nothing in the demo needs it).
    pub strict: bool,
    /// The key of the strict order's hash: a different key is a different (equally valid) order.
    pub order_key: u64,
    /// The Teams bot's app id ([`crate::botframework`]): the audience of the activities signed for
    /// it, and the only app whose token the conversations API takes. `None`: no bot.
    pub bot_app_id: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            quotas: true,
            action_pending_s: 5,
            action_running_s: 25,
            graph_page_size: 50,
            hunting_max_rows: crate::defender::MAX_HUNTING_ROWS,
            vault_throttle_next: 0,
            vault_retry_after_s: 1,
            strict: true,
            order_key: 0x5eed_0fde_5a17_c0de,
            bot_app_id: None,
        }
    }
}

/// One version of a Key Vault secret.
#[derive(Debug, Clone)]
pub struct SecretVersion {
    /// 32-hex version id.
    pub version: String,
    /// The value.
    pub value: String,
    /// Optional content type.
    pub content_type: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Created, unix seconds.
    pub created: i64,
    /// Last updated (created, or the last Update Secret), unix seconds.
    pub updated: i64,
    /// Whether enabled.
    pub enabled: bool,
}

/// A pending or finished device-code sign-in.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    /// The code the device polls with.
    pub device_code: String,
    /// The code the user types.
    pub user_code: String,
    /// The public client that asked.
    pub client_id: String,
    /// Requested scope string.
    pub scope: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Minimum seconds between polls.
    pub interval_s: i64,
    /// Last poll, for `slow_down`.
    pub last_poll: Option<DateTime<Utc>>,
    /// The user who approved it.
    pub approved_by: Option<String>,
    /// Whether the user declined.
    pub declined: bool,
    /// Whether a token was already issued for it.
    pub redeemed: bool,
}

/// A refresh token's grant (refresh tokens are opaque, single use, rotated on every redemption).
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub upn: String,
    /// Expiry (90 days, as Entra's default inactivity window).
    pub expires_at: DateTime<Utc>,
    /// Set once redeemed; a redeemed token is refused.
    pub redeemed: bool,
}

/// The tenant: its directory, vault and Defender data.
#[derive(Debug, Default)]
pub struct Tenant {
    /// The seed as loaded (directory and data, mutated by API writes).
    pub seed: Seed,
    /// The seed as it was given, for `POST /_sim/reset`.
    pub origin: Seed,
    /// Key Vault: name → versions (oldest first).
    pub secrets: BTreeMap<String, Vec<SecretVersion>>,
    /// Machine actions, historic and new.
    pub actions: Vec<Value>,
    /// Device codes by device_code.
    pub device_codes: HashMap<String, DeviceCode>,
    /// Refresh tokens by value.
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    /// Client-assertion `jti`s already used (replay protection).
    pub used_assertions: HashMap<String, DateTime<Utc>>,
}

impl Tenant {
    /// Builds the tenant from a seed.
    pub fn from_seed(mut seed: Seed, now: DateTime<Utc>) -> Self {
        seed.rebase(now);
        let secrets = seed
            .secrets
            .iter()
            .map(|(k, v)| {
                let version = SecretVersion {
                    version: uuid::Uuid::new_v4().simple().to_string(),
                    value: v.clone(),
                    content_type: None,
                    tags: BTreeMap::new(),
                    created: now.timestamp(),
                    updated: now.timestamp(),
                    enabled: true,
                };
                (k.clone(), vec![version])
            })
            .collect();
        let actions = seed.machine_actions.clone();
        Self { origin: seed.clone(), seed, secrets, actions, ..Self::default() }
    }

    /// A registered app.
    pub fn app(&self, client_id: &str) -> Option<&AppReg> {
        self.seed.apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// A user.
    pub fn user(&self, upn: &str) -> Option<&UserReg> {
        self.seed.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn))
    }
}

/// One logged request (`GET /_sim/requests`).
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    /// Simulated time.
    pub timestamp: String,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Response status.
    pub status: u16,
    /// Client id or UPN, when known.
    pub client: Option<String>,
    /// The documented endpoint the request routed to (its contract name, `mde.machines.get`), whatever
    /// the answer; absent for token, vault, Bot Framework and control requests and unrouted paths.
    pub endpoint: Option<String>,
}

/// A fault rule (`POST /_sim/faults`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Method to match (any when absent).
    pub method: Option<String>,
    /// Path prefix to match.
    pub path_prefix: String,
    /// Status to answer with (0 = no status change: delay only).
    #[serde(default)]
    pub status: u16,
    /// `Retry-After` seconds to send with it.
    pub retry_after_s: Option<u64>,
    /// Delay before answering.
    #[serde(default)]
    pub delay_ms: u64,
    /// How many matching requests it applies to (forever when absent).
    pub times: Option<u32>,
    /// Apply with this probability (0..=1) instead of always.
    pub probability: Option<f64>,
    /// Seed for the probability's random stream (deterministic runs).
    pub seed: Option<u64>,
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct Sim {
    /// `https://127.0.0.1:<port>`.
    pub base_url: String,
    /// The documented endpoint table.
    pub spec: SpecTable,
    /// Token signing key.
    pub keys: SigningKey,
    /// Simulated clock.
    pub clock: SimClock,
    /// Whether `/_sim/` is served.
    pub control: bool,
    /// Behaviour switches.
    pub config: Mutex<SimConfig>,
    /// The tenant.
    pub tenant: Mutex<Tenant>,
    /// Request log.
    pub log: Mutex<Vec<LogEntry>>,
    /// Fault rules with their random streams.
    pub faults: Mutex<Vec<(FaultRule, rand::rngs::StdRng)>>,
    /// Quotas.
    pub quotas: Mutex<QuotaBook>,
    /// The Bot Framework stand-in (keys, conversations).
    pub botframework: crate::botframework::BotFramework,
}

impl Sim {
    /// The simulated now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> String {
        lock(&self.tenant).seed.tenant_id.clone()
    }

    /// The token endpoint URL for a tenant (the `aud` a client assertion must carry).
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url)
    }

    /// The issuer of this simulator's tokens.
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.base_url)
    }
}
