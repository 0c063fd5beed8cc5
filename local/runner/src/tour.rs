//! `make run`, part 1, in-process: what every function does at cold start — Key Vault through the
//! official Azure SDK (challenge auth), Entra tokens, the permission self-check — and the typed
//! Defender client (machines and alerts with OData, XDR incidents, advanced hunting).

use defender_shared::{
    config::Config,
    defender::{
        Deadline,
        api::ListQuery,
        kql::HuntingQuery,
        models::hunting::GraphHuntingRequest,
        odata::{Filter, fields::alerts, fields::machines},
    },
    doctor,
    ids::TenantName,
    runtime::Runtime,
    vault::SecretStore,
};
use futures::StreamExt;
use serde_json::Value;
use std::{collections::HashMap, time::Duration};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the tour with the functions' own environment.
///
/// # Errors
/// Any step that does not answer as documented.
pub async fn run(env: &HashMap<String, String>) -> Result<(), BoxError> {
    let config = Config::from_lookup(|k| env.get(k).cloned())?;
    let rt = Runtime::from_config(config).await?;
    let tenant: TenantName = "default".parse()?;
    let webhook_secret = rt.store.get("webhook-secret").await?;
    println!(
        "-- key vault (official azure_security_keyvault_secrets SDK, challenge auth): read 'webhook-secret' ({} chars; value not shown)",
        webhook_secret.expose().len()
    );
    let mut endpoints = webhook_enrich::ENDPOINTS.to_vec();
    endpoints.extend_from_slice(scheduled_export::ENDPOINTS);
    endpoints.extend_from_slice(chatops::ENDPOINTS);
    for f in doctor::check(&rt, &[], &endpoints).await {
        println!("-- permission self-check: {f}");
    }
    let deadline = || Deadline::after(Duration::from_secs(20));
    let q =
        ListQuery { filter: Some(Filter::eq(machines::HEALTH_STATUS, "Active")), top: Some(5), ..ListQuery::default() };
    let page = rt.defender.machines_page(&tenant, &q, deadline()).await?;
    println!("-- typed client: GET /api/machines?$filter=healthStatus eq 'Active'&$top=5");
    for m in &page.value {
        println!(
            "     {:<34} {:<18} risk {:<7} exposure {}",
            m.computer_dns_name.as_deref().unwrap_or("-"),
            m.os_platform.as_deref().unwrap_or("-"),
            m.risk_score.as_ref().map_or("-", |r| r.as_str()),
            m.exposure_level.as_ref().map_or("-", |r| r.as_str())
        );
    }
    let q = ListQuery {
        filter: Some(Filter::eq(alerts::SEVERITY, "High").and(Filter::ne(alerts::STATUS, "Resolved"))),
        ..ListQuery::default()
    };
    let mut stream = rt.defender.alerts(&tenant, &q, deadline());
    let mut open_high = 0;
    while let Some(p) = stream.next().await {
        open_high += p?.len();
    }
    drop(stream);
    println!("-- typed client: alerts stream (severity eq 'High' and status ne 'Resolved'): {open_high} alerts");
    let query = HuntingQuery::new("DeviceProcessEvents | where InitiatingProcessFileName =~ {proc} and ProcessCommandLine contains {needle} | summarize count() by DeviceName")
        .bind("proc", "powershell.exe")
        .bind("needle", "appdata")
        .render()?;
    println!("-- advanced hunting on Graph runHuntingQuery (values bound as escaped literals): {query}");
    let hunt = rt.defender.graph_hunt(&tenant, &GraphHuntingRequest { query, timespan: None }, deadline()).await?;
    for r in hunt.results.unwrap_or_default() {
        println!(
            "     {:<34} {}",
            r.get("DeviceName").and_then(Value::as_str).unwrap_or("-"),
            r.get("count_").cloned().unwrap_or(Value::Null)
        );
    }
    Ok(())
}
