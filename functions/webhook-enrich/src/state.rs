//! Cold-start state for the Lambda: the shared runtime (vault, tokens, client, registry) plus the
//! function's settings, and the tenant → lookups resolution the handler uses.

use crate::{
    config::EnrichConfig,
    defender::ClientLookups,
    enrich::DefenderLookups,
    handler::{State, TenantLookups},
};
use defender_shared::{auth::TokenProvider, defender::Deadline, doctor, ids::TenantName, runtime::Runtime};
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
            Arc::new(ClientLookups::<TokenProvider>::new(self.rt.defender.clone(), name.clone(), Deadline(deadline)));
        Ok((name.to_string(), lookups))
    }
}

/// Builds the handler state and logs the permission self-check (best effort, a few seconds at most).
pub async fn build(rt: Runtime, cfg: EnrichConfig, clock: fn() -> i64) -> State {
    let rt = Arc::new(rt);
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
    let callback = cfg.callback_url.map(|u| (u, rt.http.clone(), cfg.callback_secret_name.clone()));
    State {
        store: rt.store.clone(),
        standard_secret_names: cfg.standard_secret_names,
        github_secret_names: cfg.github_secret_names,
        tenants: Arc::new(RegistryTenants { rt }),
        clock,
        seen: Mutex::new(HashMap::new()),
        callback,
        hunting: cfg.hunting,
    }
}
