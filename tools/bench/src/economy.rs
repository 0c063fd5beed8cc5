//! Token and vault economy: what 100 invocations cost in round trips to Entra ID and Key Vault.
//!
//! Under the Runtime API a container serves one event at a time, so "100 concurrent invocations per
//! container" is measured where concurrency can exist — inside one process: the shared library's
//! cold-start wiring ([`Runtime::from_config`], the same call the functions' `main` makes) with 100
//! tasks at once, each reading the webhook secret through the `CachedStore` and making the three
//! Defender calls of a machine enrichment through the `TokenProvider`. Everything it asked the
//! simulator for, init included, is counted from `/_sim/requests`.

use crate::{
    BoxError,
    client::demo_tenant_id,
    setup,
    sim::{Counts, Sim},
};
use defender_shared::{defender::Deadline, ids::MachineId};
use std::{sync::Arc, time::Duration};

/// Runs `callers` concurrent enrichments of `machine` in one process against `sim`.
///
/// # Errors
/// The runtime cannot be built, or a caller failed.
pub async fn concurrent(sim: &Sim, machine: &str, callers: usize) -> Result<Counts, BoxError> {
    sim.clear_log().await?;
    let rt = Arc::new(setup::runtime(&setup::env(&sim.url, &demo_tenant_id()?, &sim.ca_path, &[])).await?);
    let tenant = rt.registry.iter().next().ok_or("no tenant configured")?.name.clone();
    let id: MachineId = machine.parse()?;
    let mut tasks = Vec::with_capacity(callers);
    for _ in 0..callers {
        let (rt, tenant, id) = (rt.clone(), tenant.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let deadline = Deadline::after(Duration::from_secs(60));
            rt.store.get("webhook-secret").await?;
            rt.defender.get_machine(&tenant, &id, deadline).await?;
            rt.defender.machine_logon_users(&tenant, &id, deadline).await?;
            rt.defender.machine_alerts(&tenant, &id, deadline).await?;
            Ok::<_, BoxError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    sim.counts().await
}
