//! Cold-start state: the shared runtime (vault, tokens, client, registry) plus the function's
//! settings, wired into the callback's [`State`] and the [`Worker`].
//!
//! [`self_check`] checks the policy against the registry before anything answers; [`aws`] builds the
//! production hand-off (SQS) and idempotency store (DynamoDB) when both are configured.

use crate::{
    actions::Safety,
    config::{ChatOpsConfig, ChatOpsConfigError},
    defender::{DefenderOps, Tenants},
    handler::State,
    handoff::{ChannelHandOff, HandOff, HttpResponder, Responder, SqsHandOff},
    idempotency::{DynamoStore, IdempotencyStore, MemoryStore},
    thread::{HttpSlackApi, SlackApi},
    user::UserContext,
    worker::Worker,
};
use defender_shared::{
    auth::{SystemClock, TokenProvider},
    clock::now_unix,
    config::{Config, env},
    defender::{Deadline, TenantClient},
    ids::TenantName,
    runtime::Runtime,
    tenants::{Action, TenantRegistry},
};
use std::{sync::Arc, time::Duration};

/// The registry's tenants through the shared client.
pub struct RegistryTenants {
    registry: Arc<TenantRegistry>,
    client: Arc<defender_shared::defender::DefenderClient<TokenProvider>>,
}

impl std::fmt::Debug for RegistryTenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryTenants").finish_non_exhaustive()
    }
}

impl RegistryTenants {
    /// Over a runtime's registry and client.
    pub fn new(rt: &Runtime) -> Self {
        Self { registry: rt.registry.clone(), client: rt.defender.clone() }
    }
}

impl Tenants for RegistryTenants {
    fn ops(&self, tenant: &TenantName, deadline: tokio::time::Instant) -> Option<Arc<dyn DefenderOps>> {
        let t = self.registry.get(tenant)?;
        Some(Arc::new(TenantClient::new(self.client.clone(), t.name.clone(), Deadline(deadline))))
    }

    fn allows(&self, tenant: &TenantName, action: Action) -> bool {
        self.registry.get(tenant).is_some_and(|t| t.allows(action))
    }
}

/// Wiring that differs between production and tests: exactly-once store, hand-off, clock.
pub struct Wiring {
    /// The idempotency store.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// The hand-off to the worker.
    pub handoff: Arc<dyn HandOff>,
    /// Posts to the chat (`None`: an [`HttpResponder`] over the runtime's client).
    pub responder: Option<Arc<dyn Responder>>,
    /// Unix seconds now.
    pub clock: fn() -> i64,
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wiring").finish_non_exhaustive()
    }
}

/// A binary's cold start after [`defender_shared::lambda::init`]: the function's settings, how work is
/// handed on (SQS and DynamoDB, or local mode's in-process ones), the runtime, the policy
/// self-check and the Teams bot's settings.
///
/// # Errors
/// A setting is missing or wrong, the runtime cannot be built, or the policy names what the
/// registry does not allow.
pub async fn from_env(config: Config) -> Result<Started, defender_shared::lambda::Error> {
    let cfg = ChatOpsConfig::from_lookup(env)?;
    let mode = wiring_mode(&cfg, config.local_mode, now_unix).await?;
    let rt = Runtime::from_config(config).await?;
    self_check(&rt, &cfg)?;
    teams_bot(&rt, &cfg)?;
    Ok(Started { rt, cfg, mode })
}

/// What [`from_env`] built, before the binary picks its side.
#[derive(Debug)]
pub struct Started {
    rt: Runtime,
    cfg: ChatOpsConfig,
    mode: Mode,
}

/// The worker as the worker binary serves it.
#[derive(Debug)]
pub enum Served {
    /// The SQS queue's event source.
    Sqs(Arc<Worker>),
    /// Local mode: a job (or an SQS-shaped event) as the event; re-checks delayed in-process.
    Local(Arc<Worker>),
}

impl Started {
    fn wiring(self, events: Arc<defender_shared::events::Publisher>) -> (State, Arc<Worker>, bool) {
        let Self { rt, cfg, mode } = self;
        match mode {
            Mode::Aws { handoff, idempotency } => {
                let wiring = Wiring { idempotency, handoff, responder: None, clock: now_unix };
                let (state, worker) = build_with_events(&rt, cfg, wiring, events);
                (state, worker, true)
            }
            Mode::Local => {
                let (handoff, mut jobs) = ChannelHandOff::new();
                let wiring = Wiring {
                    idempotency: Arc::new(MemoryStore::with_clock(now_unix)),
                    handoff: Arc::new(handoff),
                    responder: None,
                    clock: now_unix,
                };
                let (state, worker) = build_with_events(&rt, cfg, wiring, events);
                // Local mode only: an in-process worker drains the channel (production: the worker on SQS).
                let drain = worker.clone();
                tokio::spawn(async move {
                    while let Some((job, delay)) = jobs.recv().await {
                        let worker = drain.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            worker.run(job).await;
                        });
                    }
                });
                (state, worker, false)
            }
        }
    }

    /// The callback's state (no SOC events).
    pub fn callback(self) -> State {
        self.wiring(Arc::default()).0
    }

    /// The worker, publishing machine-action outcomes with `events`.
    pub fn worker(self, events: defender_shared::events::Publisher) -> Served {
        match self.wiring(Arc::new(events)) {
            (_, worker, true) => Served::Sqs(worker),
            (_, worker, false) => Served::Local(worker),
        }
    }
}

/// The cold-start self-check: the access policy names only configured tenants and only actions
/// their `allowed_actions` hold.
///
/// # Errors
/// [`ChatOpsConfigError`] on `CHATOPS_RBAC`, listing every problem.
pub fn self_check(rt: &Runtime, cfg: &ChatOpsConfig) -> Result<(), ChatOpsConfigError> {
    cfg.rbac
        .self_check(|t, a| rt.registry.get(t).map(|t| t.allows(a)))
        .map_err(|reason| ChatOpsConfigError { var: "CHATOPS_RBAC", reason })
}

/// The production hand-off and store: SQS and DynamoDB clients from the AWS environment
/// (`aws-config`: region, credentials, `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL_DYNAMODB`).
/// `Ok(None)` when neither `CHATOPS_QUEUE_URL` nor `CHATOPS_IDEMPOTENCY_TABLE` is set.
///
/// # Errors
/// [`ChatOpsConfigError`] naming the missing one when only one is set: the two only work together.
pub async fn aws(
    cfg: &ChatOpsConfig,
    clock: fn() -> i64,
) -> Result<Option<(Arc<dyn HandOff>, Arc<dyn IdempotencyStore>)>, ChatOpsConfigError> {
    match (&cfg.queue_url, &cfg.idempotency_table) {
        (None, None) => Ok(None),
        (Some(queue), Some(table)) => {
            let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let handoff = SqsHandOff::new(aws_sdk_sqs::Client::new(&conf), queue.clone(), clock);
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&conf), table.clone());
            Ok(Some((Arc::new(handoff), Arc::new(store))))
        }
        (Some(_), None) => Err(ChatOpsConfigError {
            var: "CHATOPS_IDEMPOTENCY_TABLE",
            reason: "required with CHATOPS_QUEUE_URL (exactly-once across instances)".into(),
        }),
        (None, Some(_)) => Err(ChatOpsConfigError {
            var: "CHATOPS_QUEUE_URL",
            reason: "required with CHATOPS_IDEMPOTENCY_TABLE (the hand-off to the worker)".into(),
        }),
    }
}

/// What a binary runs with: the production pair, or (local mode only) the in-process ones.
///
/// # Errors
/// [`ChatOpsConfigError`] when neither is possible: outside `DEFENDER_LOCAL_MODE=1` the in-process
/// hand-off and memory store would lose work and break exactly-once, so the binary refuses to start.
pub async fn wiring_mode(
    cfg: &ChatOpsConfig,
    local_mode: bool,
    clock: fn() -> i64,
) -> Result<Mode, ChatOpsConfigError> {
    match aws(cfg, clock).await? {
        Some((handoff, idempotency)) => Ok(Mode::Aws { handoff, idempotency }),
        None if local_mode => Ok(Mode::Local),
        None => Err(ChatOpsConfigError {
            var: "CHATOPS_QUEUE_URL",
            reason: "set CHATOPS_QUEUE_URL and CHATOPS_IDEMPOTENCY_TABLE (SQS hand-off, DynamoDB store); the \
                     in-process ones are for DEFENDER_LOCAL_MODE=1 only"
                .into(),
        }),
    }
}

/// How a binary hands work on and keeps exactly-once.
pub enum Mode {
    /// SQS and DynamoDB.
    Aws {
        /// The SQS hand-off.
        handoff: Arc<dyn HandOff>,
        /// The DynamoDB store.
        idempotency: Arc<dyn IdempotencyStore>,
    },
    /// In-process channel and memory store (local mode).
    Local,
}

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Aws { .. } => "Mode::Aws",
            Self::Local => "Mode::Local",
        })
    }
}

/// The Teams bot, when `CHATOPS_BOT_APP_ID` is set: its verifier (the metadata and Teams hosts of
/// the functions' cloud) and its Bot Connector client, whose token comes from a [`TokenProvider`] of
/// its own (the bot app in its home tenant; the secret or certificate read from the vault).
///
/// # Errors
/// [`ChatOpsConfigError`] when the bot's token provider cannot be built (the authority).
pub fn teams_bot(
    rt: &Runtime,
    cfg: &ChatOpsConfig,
) -> Result<Option<Arc<crate::teams_bot::TeamsBot>>, ChatOpsConfigError> {
    use crate::{
        bot_auth::{BotAuth, BotCloud, ServiceUrlPolicy},
        connector::HttpConnector,
        teams_bot::{BotCredential, TeamsBot},
    };
    use defender_shared::auth::{CredentialKind, Material, TenantCredential};
    let Some(bot) = &cfg.teams_bot else { return Ok(None) };
    let err = |reason: String| ChatOpsConfigError { var: "CHATOPS_BOT_APP_ID", reason };
    let cloud = BotCloud::of(rt.config.cloud);
    let policy = ServiceUrlPolicy { cloud, extra_prefixes: bot.service_url_prefixes.clone() };
    let authority = rt.config.authority().map_err(|e| err(e.to_string()))?;
    let kind = match &bot.credential {
        BotCredential::Secret(name) => CredentialKind::ClientSecret(Material::Vault(name.clone())),
        BotCredential::Certificate(name) => CredentialKind::Certificate(Material::Vault(name.clone())),
    };
    let name: TenantName = "teams-bot".parse().map_err(|e: defender_shared::ids::InvalidId| err(e.to_string()))?;
    let cred = TenantCredential { tenant_id: bot.tenant_id.clone(), client_id: bot.app_id.clone(), authority, kind };
    let tokens = TokenProvider::new(rt.http.clone(), rt.store.clone(), [(name.clone(), cred)])
        .map_err(|e| err(e.to_string()))?;
    let connector = HttpConnector::new(
        rt.http.clone(),
        Arc::new(tokens),
        name,
        cloud.connector_scope(),
        policy.clone(),
        bot.post_deadline,
    );
    let auth = BotAuth::new(
        rt.http.clone(),
        bot.app_id.to_string(),
        cloud,
        bot.metadata_url.clone(),
        policy,
        bot.keys_min_refresh,
    );
    Ok(Some(Arc::new(TeamsBot { auth, connector: Arc::new(connector) })))
}

/// Builds the callback state and the worker (no SOC events).
pub fn build(rt: &Runtime, cfg: ChatOpsConfig, w: Wiring) -> (State, Arc<Worker>) {
    build_with_events(rt, cfg, w, Arc::default())
}

/// [`build`], the worker publishing machine-action outcomes with `events`.
pub fn build_with_events(
    rt: &Runtime,
    cfg: ChatOpsConfig,
    w: Wiring,
    events: Arc<defender_shared::events::Publisher>,
) -> (State, Arc<Worker>) {
    let bot = teams_bot(rt, &cfg).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the Teams bot is off");
        None
    });
    let tenants: Arc<dyn Tenants> = Arc::new(RegistryTenants::new(rt));
    let safety = Arc::new(Safety {
        rbac: cfg.rbac,
        tenants: tenants.clone(),
        confirm_ttl: cfg.confirm_ttl,
        idempotency: w.idempotency,
        clock: w.clock,
    });
    let responder =
        w.responder.unwrap_or_else(|| Arc::new(HttpResponder::new(rt.http.clone(), cfg.response_url_prefixes.clone())));
    let worker = Arc::new(Worker {
        safety: safety.clone(),
        tenants,
        store: rt.store.clone(),
        slack_secret_names: cfg.slack_secret_names.iter().chain(&cfg.teams_secret_names).cloned().collect(),
        responder,
        handoff: w.handoff.clone(),
        recheck_after: cfg.recheck_after,
        followup_max_age: cfg.followup_max_age,
        budget: Duration::from_secs(25),
        users: cfg.user_client_id.clone().map(|id| Arc::new(UserContext::new(rt, id))),
        link_clock: Arc::new(SystemClock),
        link_step: cfg.link_step,
        slack: cfg.slack_bot_token_name.clone().map(|name| {
            Arc::new(HttpSlackApi::new(rt.http.clone(), cfg.slack_api_url.clone(), rt.store.clone(), name))
                as Arc<dyn SlackApi>
        }),
        teams: bot.as_ref().map(|b| b.connector.clone()),
        events,
    });
    let state = State {
        store: rt.store.clone(),
        slack_secret_names: cfg.slack_secret_names,
        teams_secret_names: cfg.teams_secret_names,
        safety,
        handoff: w.handoff,
        worker: worker.clone(),
        clock: w.clock,
        teams_bot: bot,
    };
    (state, worker)
}
