//! Cold-start state for the Lambda: the shared runtime (vault, tokens, client, registry) plus the
//! function's settings, and the tenant → lookups resolution the handler uses.

use crate::events::VerdictEvents;
use crate::{
    config::EnrichConfig,
    enrich::DefenderLookups,
    handler::{State, TenantLookups},
};
use defender_shared::{
    auth::TokenProvider,
    clock::now_unix,
    cloud::ApiFamily,
    config::{Config, env},
    defender::{Deadline, TenantClient},
    doctor,
    events::EventBridgeSink,
    ids::TenantName,
    runtime::Runtime,
    senders::Senders,
    tenants::TenantRegistry,
};
use std::{collections::HashMap, sync::Arc, sync::Mutex, time::Duration};
use tracing::{info, warn};

/// Resolves tenants from the registry.
pub struct RegistryTenants {
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for RegistryTenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryTenants").finish_non_exhaustive()
    }
}

impl TenantLookups for RegistryTenants {
    fn lookups(
        &self,
        tenant: Option<&TenantName>,
        deadline: tokio::time::Instant,
    ) -> Result<(String, Arc<dyn DefenderLookups>), String> {
        let name = match tenant {
            Some(t) => {
                self.rt.registry.get(t).map(|c| c.name.clone()).ok_or_else(|| format!("unknown tenant '{t}'"))?
            }
            None => {
                let mut all = self.rt.registry.iter();
                match (all.next(), all.next()) {
                    (Some(only), None) => only.name.clone(),
                    _ => return Err("this deployment serves several tenants: name one in `tenant`".into()),
                }
            }
        };
        let lookups: Arc<dyn DefenderLookups> =
            Arc::new(TenantClient::<TokenProvider>::new(self.rt.defender.clone(), name.clone(), Deadline(deadline)));
        Ok((name.to_string(), lookups))
    }
}

/// The senders cannot be bound to tenants: the function does not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook senders: {0}")]
pub struct SendersConfigError(pub String);

/// The webhook senders and the tenants each may ask about: the registry's `senders` list, or — for a
/// registry of one tenant without one (single-tenant mode) — the implicit sender(s) of
/// `WEBHOOK_SECRET_NAMES` / `WEBHOOK_GITHUB_SECRET_NAMES` bound to that tenant.
///
/// # Errors
/// A registry of several tenants without `senders` (one key for all would let any sender read every
/// tenant), or a sender signing with the callback's outbound key.
pub fn senders(registry: &TenantRegistry, cfg: &EnrichConfig) -> Result<Senders, SendersConfigError> {
    let senders = match registry.senders() {
        Some(s) => {
            info!(
                senders = s.iter().count(),
                "webhook senders from the tenant registry (WEBHOOK_SECRET_NAMES and WEBHOOK_GITHUB_SECRET_NAMES are not used)"
            );
            s.clone()
        }
        None => {
            let mut all = registry.iter();
            match (all.next(), all.next()) {
                (Some(only), None) => Senders::implicit(
                    cfg.standard_secret_names.clone(),
                    cfg.github_secret_names.clone(),
                    only.name.clone(),
                ),
                _ => {
                    return Err(SendersConfigError(format!(
                        "the tenant registry lists {} tenants and no `senders`: bind each webhook sender to the \
                         tenants it may ask about with its own signing secret (`senders` in the registry, see \
                         docs/configuration.md)",
                        registry.len()
                    )));
                }
            }
        }
    };
    if let Some(s) = senders.iter().find(|s| s.secret_names.contains(&cfg.callback_secret_name)) {
        return Err(SendersConfigError(format!(
            "sender '{}' signs with '{}', the callback's outbound key; the callback needs a key of its own",
            s.name, cfg.callback_secret_name
        )));
    }
    Ok(senders)
}

/// The cold start after [`defender_shared::lambda::init`]: the function's settings, the runtime, the
/// handler state, and the SOC events (`EVENT_BUS`; unset: off) for verdicts at or above
/// `ENRICH_EVENT_MIN_SEVERITY`.
///
/// # Errors
/// A setting is missing or wrong, the runtime cannot be built, or the senders cannot be bound.
pub async fn from_env(config: Config) -> Result<State, defender_shared::lambda::Error> {
    let cfg = EnrichConfig::from_lookup(env)?;
    let rt = Runtime::from_config(config).await?;
    let mut state = build(rt, cfg, now_unix).await?;
    state.events = VerdictEvents {
        publisher: Arc::new(EventBridgeSink::publisher_from_env().await),
        min_severity: crate::events::min_severity(env("ENRICH_EVENT_MIN_SEVERITY"))?,
    };
    Ok(state)
}

/// Builds the handler state and starts the cold-start warm-up in the background: the webhook
/// secrets, the vault's token and a Defender for Endpoint token are fetched at once, then a token for
/// each other API family the function calls ([`Runtime::warm_up`]), and the permission self-check then reads those tokens' claims and logs its
/// findings. Nothing here waits on the network: the first request waits only for what it needs, and
/// finds it in flight or cached.
///
/// # Errors
/// [`SendersConfigError`] (see [`senders`]).
pub async fn build(rt: Runtime, cfg: EnrichConfig, clock: fn() -> i64) -> Result<State, SendersConfigError> {
    let senders = senders(&rt.registry, &cfg)?;
    let rt = Arc::new(rt);
    let mut secrets: Vec<String> = Vec::new();
    for name in senders.iter().flat_map(|s| s.secret_names.iter()) {
        if !secrets.contains(name) {
            secrets.push(name.clone());
        }
    }
    tokio::spawn(defender_shared::telemetry::init_task(warm_up_and_self_check(rt.clone(), secrets)));
    let callback = cfg.callback_url.map(|u| (u, rt.http.clone(), cfg.callback_secret_name.clone()));
    Ok(State {
        store: rt.store.clone(),
        senders,
        tenants: Arc::new(RegistryTenants { rt }),
        clock,
        seen: Mutex::new(HashMap::new()),
        callback,
        hunting: cfg.hunting,
        events: Default::default(),
    })
}

/// The API families the enrichment calls (from its endpoint list), split for the warm-up: Defender for
/// Endpoint first — every indicator kind is looked up there — then the others (Defender XDR for an
/// incident id, Graph for the optional hunting queries), which the first request most likely does not
/// wait for.
fn families() -> (Vec<ApiFamily>, Vec<ApiFamily>) {
    let mut later = Vec::new();
    for api in crate::ENDPOINTS.iter().map(|e| e.api()) {
        if api != ApiFamily::Mde && !later.contains(&api) {
            later.push(api);
        }
    }
    (vec![ApiFamily::Mde], later)
}

/// The warm-up, then the permission self-check on the tokens it fetched (cache hits: the check adds no
/// round trip). Its findings are logged as before — `ok`/`MISSING`/`EXCESS`/`NO TOKEN` per tenant and
/// API — only no longer before the first poll: the check guards nothing a request waits for (a missing
/// permission is a 403 on the call that needs it either way), it tells the operator what to fix.
async fn warm_up_and_self_check(rt: Arc<Runtime>, secrets: Vec<String>) {
    let (first, later) = families();
    let warmed = rt.warm_up(&secrets, &first, &later).await;
    info!(?warmed, "cold-start warm-up done");
    let check = tokio::time::timeout(Duration::from_secs(3), doctor::check(&rt, &[], crate::ENDPOINTS)).await;
    match check {
        Ok(findings) => {
            for f in findings {
                if f.is_problem() {
                    warn!(finding = %f, "permission self-check");
                } else {
                    info!(finding = %f, "permission self-check");
                }
            }
        }
        Err(_) => warn!("permission self-check did not finish within 3 s; skipped"),
    }
}
