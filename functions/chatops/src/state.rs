//! Cold-start state: the shared runtime (vault, tokens, client, registry) plus the function's
//! settings, wired into the callback's [`State`] and the [`Worker`].

use crate::{
    actions::Safety,
    config::ChatOpsConfig,
    defender::{ClientOps, DefenderOps, Tenants},
    handler::State,
    handoff::{HandOff, HttpResponder, Responder},
    idempotency::IdempotencyStore,
    worker::Worker,
};
use defender_shared::{
    auth::TokenProvider,
    defender::Deadline,
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
        Some(Arc::new(ClientOps::new(self.client.clone(), t.name.clone(), Deadline(deadline))))
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

/// Builds the callback state and the worker.
pub fn build(rt: &Runtime, cfg: ChatOpsConfig, w: Wiring) -> (State, Arc<Worker>) {
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
        slack_secret_names: cfg.slack_secret_names.clone(),
        responder,
        handoff: w.handoff.clone(),
        recheck_after: Duration::from_secs(30),
        budget: Duration::from_secs(25),
    });
    let state = State {
        store: rt.store.clone(),
        slack_secret_names: cfg.slack_secret_names,
        teams_secret_names: cfg.teams_secret_names,
        safety,
        handoff: w.handoff,
        worker: worker.clone(),
        clock: w.clock,
    };
    (state, worker)
}
