//! `make run`: the main job on the embedded default.
//!
//! Starts the simulated tenant (demo seed, HTTPS with its generated CA) in-process, configures the
//! shared library exactly as a Lambda would be configured (environment variables, local mode trusting
//! the simulator's CA), and walks through:
//! 1. cold start: Key Vault through the official Azure SDK (challenge auth), Entra tokens, the
//!    permission self-check;
//! 2. the typed Defender client: machines and alerts with OData, XDR incidents, advanced hunting;
//! 3. **webhook enrichment**: a signed Standard Webhooks request in a real API Gateway v2 event, through
//!    the function's handler, and the answer;
//!    then the same request with a bad signature (401);
//! 4. **chat-ops**: a signed Slack slash command, an isolate confirmed twice (one action at Defender),
//!    and the follow-up reporting the action's final status;
//! 5. **scheduled export**: the demo tenant into a local directory, an update, and a second run that
//!    exports only the change.
//!
//! It prints each step and exits non-zero if any step does not answer as documented.

mod chatops_demo;
mod export_demo;

use defender_shared::{
    config::Config,
    defender::{
        Deadline,
        api::ListQuery,
        kql::HuntingQuery,
        models::hunting::HuntingRequest,
        odata::{Filter, fields::alerts, fields::machines},
    },
    doctor,
    ids::TenantName,
    runtime::Runtime,
    secret::SecretString,
    vault::SecretStore,
    webhook,
};
use futures::StreamExt;
use serde_json::{Value, json};
use std::{collections::HashMap, process::ExitCode, time::Duration};
use tenant_sim::{SimOptions, start};
use webhook_enrich::{config::EnrichConfig, handler, state};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const APP: &str = "11111111-1111-4111-8111-111111111111";
const BOOTSTRAP_SECRET: &str = "demo-secret-value-do-not-use-in-prod";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut cur = e.source();
            while let Some(s) = cur {
                msg.push_str(&format!(": {s}"));
                cur = s.source();
            }
            eprintln!("defender-local: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("-")
}

async fn run() -> Result<(), BoxError> {
    let sim = start(SimOptions::demo()?).await?;
    let tenant_id = sim.tenant_id();
    println!("== simulated tenant {tenant_id} on {} (TLS with a CA generated at start)", sim.url);
    let dir = std::env::temp_dir().join(format!("defender-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ca = dir.join("tenant-sim-ca.pem");
    std::fs::write(&ca, &sim.ca_pem)?;

    // The same variables a deployed function reads (docs/configuration.md), pointed at the simulator.
    let env: HashMap<&str, String> = [
        ("AZURE_TENANT_ID", tenant_id.clone()),
        ("AZURE_CLIENT_ID", APP.into()),
        ("AZURE_CLIENT_SECRET", BOOTSTRAP_SECRET.into()),
        ("AZURE_AUTHORITY_HOST", sim.url.clone()),
        ("KEY_VAULT_URL", sim.url.clone()),
        ("MDE_API_URL", sim.url.clone()),
        ("XDR_API_URL", sim.url.clone()),
        ("GRAPH_API_URL", sim.url.clone()),
        ("DEFENDER_EXTRA_CA_FILE", ca.display().to_string()),
        ("DEFENDER_LOCAL_MODE", "1".into()),
    ]
    .into_iter()
    .collect();
    println!(
        "-- configuration: {} variables (local mode: trust the simulator's CA, relax the vault's challenge-domain check)",
        env.len()
    );
    let config = Config::from_lookup(|k| env.get(k).cloned())?;
    let rt = Runtime::from_config(config).await?;
    let tenant: TenantName = "default".parse()?;

    // 1. Cold start
    let webhook_secret = rt.store.get("webhook-secret").await?;
    println!(
        "-- key vault (official azure_security_keyvault_secrets SDK, challenge auth): read 'webhook-secret' ({} chars; value not shown)",
        webhook_secret.expose().len()
    );
    for f in doctor::check(&rt, &[], webhook_enrich::ENDPOINTS).await {
        println!("-- permission self-check: {f}");
    }

    // 2. The typed client
    let deadline = || Deadline::after(Duration::from_secs(20));
    let q =
        ListQuery { filter: Some(Filter::eq(machines::HEALTH_STATUS, "Active")), top: Some(5), ..ListQuery::default() };
    let page = rt.defender.machines_page(&tenant, &q, deadline()).await?;
    println!("-- GET /api/machines?$filter=healthStatus eq 'Active'&$top=5");
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
    let mut open_high = Vec::new();
    while let Some(p) = stream.next().await {
        open_high.extend(p?);
    }
    drop(stream);
    println!("-- alerts stream (severity eq 'High' and status ne 'Resolved'): {} alerts", open_high.len());
    let incidents =
        rt.defender.incidents_page(&tenant, &ListQuery { top: Some(3), ..ListQuery::default() }, deadline()).await?;
    println!("-- GET /api/incidents?$top=3 (XDR)");
    for i in &incidents.value {
        println!(
            "     #{} {} [{}] {} alerts",
            i.incident_id,
            i.incident_name.as_deref().unwrap_or("-"),
            i.severity.as_ref().map_or("-", |x| x.as_str()),
            i.alerts.as_ref().map_or(0, Vec::len)
        );
    }
    let query = HuntingQuery::new("DeviceProcessEvents | where InitiatingProcessFileName =~ {proc} and ProcessCommandLine contains {needle} | summarize count() by DeviceName")
        .bind("proc", "powershell.exe")
        .bind("needle", "appdata")
        .render()?;
    println!("-- advanced hunting: {query}");
    let hunt = rt.defender.mde_hunt(&tenant, &HuntingRequest { query }, deadline()).await?;
    for r in hunt.results.unwrap_or_default() {
        println!(
            "     {:<34} {}",
            r.get("DeviceName").and_then(Value::as_str).unwrap_or("-"),
            r.get("count_").cloned().unwrap_or(Value::Null)
        );
    }

    // 3. Webhook enrichment through the function's handler, with a real API Gateway v2 event.
    let seed = sim.sim.tenant.lock().map_err(|_| "simulator state poisoned")?.seed.clone();
    let alert = &seed.alerts[0];
    let host = s(alert, "computerDnsName").to_string();
    let evidence = alert["evidence"].as_array().cloned().unwrap_or_default();
    let sha1 = evidence
        .iter()
        .find_map(|e| e["sha1"].as_str())
        .unwrap_or("87662bc3d60e4200ceaf7aae249d1c343f4b83c9")
        .to_string();
    let ip = seed
        .alerts
        .iter()
        .flat_map(|a| a["evidence"].as_array().cloned().unwrap_or_default())
        .find_map(|e| e["ipAddress"].as_str().map(str::to_string))
        .unwrap_or_else(|| "10.1.2.3".into());
    let body = json!({"indicators": {"hostnames": [host], "sha1": [sha1], "ips": [ip, "300.1.1.1"], "domains": ["x' or 1 eq 1"]}}).to_string();
    let st = state::build(rt, EnrichConfig::from_lookup(|_| None)?, now_unix).await;
    let event = |body: &str, sig: &str| -> Result<lambda_http::Request, BoxError> {
        let mut v: Value = serde_json::from_str(include_str!(
            "../../../functions/webhook-enrich/tests/fixtures/apigw-v2-post-enrich.json"
        ))?;
        v["body"] = json!(body);
        v["headers"]["webhook-id"] = json!("msg_make_run");
        v["headers"]["webhook-timestamp"] = json!(now_unix().to_string());
        v["headers"]["webhook-signature"] = json!(sig);
        Ok(lambda_http::request::from_str(&v.to_string())?)
    };
    let sig = webhook::sign_standard(
        &SecretString::new(webhook_secret.expose()),
        "msg_make_run",
        now_unix(),
        body.as_bytes(),
    )?;
    println!("-- webhook enrichment: POST /enrich (API Gateway v2 event, Standard Webhooks signature)");
    println!("     request: {body}");
    let resp = handler::handle(&st, event(&body, &sig)?).await;
    let lambda_http::Body::Text(text) = resp.body() else { return Err("no response body".into()) };
    if resp.status() != 200 {
        return Err(format!("enrichment answered {}: {text}", resp.status()).into());
    }
    let out: Value = serde_json::from_str(text)?;
    for r in out["results"].as_array().into_iter().flatten() {
        println!(
            "     {:<9} {:<42} {:<9} {} machines, {} alerts{}",
            s(r, "kind"),
            s(r, "input"),
            s(r, "status"),
            r["machines"].as_array().map_or(0, Vec::len),
            r["alerts"].as_array().map_or(0, Vec::len),
            r["reason"].as_str().map(|x| format!(" — {x}")).unwrap_or_default()
        );
    }
    println!("     summary: {}", out["summary"]);
    let forged = handler::handle(&st, event(&body, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")?).await;
    if forged.status() != 401 {
        return Err(format!("a forged signature was answered {}", forged.status()).into());
    }
    println!("-- the same request with a forged signature: 401");

    chatops_demo::run(&sim, &env).await?;
    export_demo::run(&sim, &env).await?;
    std::fs::remove_dir_all(&dir).ok();
    println!(
        "== done: vault, tokens, typed Defender calls, webhook enrichment, chat-ops and the export all went through the simulated tenant"
    );
    Ok(())
}
