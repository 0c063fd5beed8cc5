//! `make run`, part 4: scheduled export. One run of the demo tenant into a local directory (gzip JSON
//! Lines, one object per page, the cursor committed after the data), then an update in the simulator
//! through the Defender API, and a second run that exports only that change.

use defender_shared::{config::Config, defender::Deadline, runtime::Runtime};
use scheduled_export::{
    config::ExportConfig,
    handler::{self, ExportEvent},
    state,
};
use serde_json::{Value, json};
use std::{collections::HashMap, time::Duration};
use tenant_sim::RunningSim;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A cursor as `time/id` (it serialises as a pair or an object, depending on the version type).
fn cursor(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
            .collect::<Vec<_>>()
            .join(" / "),
        other => other.to_string(),
    }
}

fn print_summary(label: &str, summary: &Value) {
    println!("-- export {label}:");
    for s in summary["streams"].as_array().into_iter().flatten() {
        println!(
            "     {:<10} {:>4} records, {} objects, {} API calls (cursor {} → {})",
            s["stream"].as_str().unwrap_or("-"),
            s["records"],
            s["objects"],
            s["api_calls"],
            cursor(&s["cursor_before"]),
            cursor(&s["cursor_after"]),
        );
    }
}

/// Runs the export part of `make run` into `target/make-run-export/`.
///
/// # Errors
/// Any step that does not answer as documented.
pub async fn run(sim: &RunningSim, base_env: &HashMap<&'static str, String>) -> Result<(), BoxError> {
    // Kept after the run (under the ignored target/) so the objects can be looked at.
    let out = std::env::current_dir()?.join("target").join("make-run-export");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(&out)?;
    let mut env = base_env.clone();
    env.insert("EXPORT_DIR", out.display().to_string());
    let rt = Runtime::from_config(Config::from_lookup(|k| env.get(k).cloned())?).await?;
    let cfg = ExportConfig::from_lookup(|k| env.get(k).cloned())?;
    let st = state::build(rt, cfg).await;
    let event: ExportEvent = serde_json::from_value(json!({
        "schedule_arn": "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/defender-export",
        "scheduled_time": "2026-11-28T06:00:00Z",
        "execution_id": "make-run-1",
        "attempt_number": "1"
    }))?;
    let first = handler::handle(&st, &event, "make-run-1", Deadline::after(Duration::from_secs(120))).await?;
    let first = serde_json::to_value(&first)?;
    print_summary("run 1 (the whole demo tenant)", &first);
    let objects = files(&out);
    println!("     {} files under {}:", objects.len(), out.display());
    for f in objects.iter().take(6) {
        println!("       {f}");
    }

    // One alert changes in Defender: the next run exports that one version and nothing else.
    let alert_id = sim.sim.tenant.lock().map_err(|_| "simulator state poisoned")?.seed.alerts[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let http = sim.client()?;
    let token: Value = http
        .post(format!("{}/{}/oauth2/v2.0/token", sim.url, sim.tenant_id()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "11111111-1111-4111-8111-111111111111"),
            ("client_secret", "demo-secret-value-do-not-use-in-prod"),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let r = http
        .patch(format!("{}/api/alerts/{alert_id}", sim.url))
        .bearer_auth(token["access_token"].as_str().unwrap_or_default())
        .json(&json!({"status": "InProgress", "comment": "triaged from make run"}))
        .send()
        .await?;
    println!("-- PATCH /api/alerts/{alert_id} (status InProgress): {}", r.status());
    let mut event2 = event.clone();
    event2.execution_id = Some("make-run-2".into());
    let second = serde_json::to_value(
        &handler::handle(&st, &event2, "make-run-2", Deadline::after(Duration::from_secs(120))).await?,
    )?;
    print_summary("run 2 (only what changed)", &second);
    let alerts: u64 = second["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["stream"] == "mde-alerts")
        .map(|s| s["records"].as_u64().unwrap_or(0))
        .sum();
    if alerts != 1 {
        return Err(format!("the second run exported {alerts} alerts, expected exactly the updated one").into());
    }
    Ok(())
}
