//! The shared library alone against a simulator holding [`ALERTS`] alerts: token cache hit, the typed
//! client's per-call overhead over bare reqwest, and paging throughput with the process's peak RSS
//! (constant memory means one page at a time).

use crate::{
    BoxError, setup,
    sim::Sim,
    table::{Row, median},
};
use defender_shared::{
    defender::{Deadline, DefenderClient, api::ListQuery, governor::Governor},
    ids::MachineId,
};
use futures::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The demo app and its client secret (the test kit's: simulator values, not real secrets).
pub use testkit::demo::{APP, SECRET};

/// Alerts in the paging seed.
pub const ALERTS: usize = 25_000;

/// `VmHWM` of a process, KiB (0 when unreadable).
pub fn peak_rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The demo seed's tenant id.
///
/// # Errors
/// The embedded seed is not what it should be.
pub fn demo_tenant_id() -> Result<String, BoxError> {
    let seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
    Ok(seed["tenant_id"].as_str().ok_or("the demo seed has no tenant_id")?.to_string())
}

/// A seed with [`ALERTS`] alerts (clones of the demo's smallest alert with unique ids).
///
/// # Errors
/// The embedded seed is not what it should be.
pub fn big_seed() -> Result<String, BoxError> {
    // Runs in a child process (`defender-bench --write-seed PATH`), so its memory is not the client's.
    let mut seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
    // The demo's smallest alert: the seed stays under the simulator's 64 MiB seed limit (the first
    // demo alert, with its full evidence, made 85 MB and the simulator refused it).
    let template = seed["alerts"]
        .as_array()
        .and_then(|a| a.iter().min_by_key(|a| a.to_string().len()))
        .ok_or("the demo seed has no alerts")?
        .clone();
    let alerts: Vec<Value> = (0..ALERTS)
        .map(|i| {
            let mut a = template.clone();
            a["id"] = Value::String(format!("da{:020}_{i}", 638_000_000_000_000_000u64 + i as u64));
            a
        })
        .collect();
    seed["alerts"] = Value::Array(alerts);
    seed["incidents"] = Value::Array(vec![]);
    seed["graph_alerts"] = Value::Array(vec![]);
    seed["alert_users"] = serde_json::json!({});
    Ok(seed.to_string())
}

/// Measures the shared client; rows for the `shared client` section.
///
/// # Errors
/// The simulator cannot be started or a call fails.
pub async fn bench(dir: &std::path::Path) -> Result<Vec<Row>, BoxError> {
    let seed = dir.join("seed.json");
    let status = std::process::Command::new(std::env::current_exe()?).arg("--write-seed").arg(&seed).status()?;
    if !status.success() {
        return Err("could not write the paging seed".into());
    }
    let seed = seed.to_str().ok_or("temp path is not UTF-8")?.to_string();
    let sim = Sim::start(&seed, dir, "paging")?;
    let rss_start = peak_rss_kib("self");
    // The runtime a function builds at cold start (its HTTP client, token provider and registry);
    // the client with its governor off, so the figures are the client's own cost.
    let rt = setup::runtime(&setup::env(&sim.url, &demo_tenant_id()?, &sim.ca_path, &[])).await?;
    let (http, tokens) = (rt.http.clone(), rt.tokens.clone());
    let tenant = rt.registry.iter().next().ok_or("no tenant configured")?.name.clone();
    let client =
        DefenderClient::new(http.clone(), tokens.clone(), rt.registry.clone()).with_governor(Governor::disabled());
    let scope = "https://api.securitycenter.microsoft.com/.default";
    let deadline = || Deadline::after(Duration::from_secs(60));

    // Token cache hit.
    let token = tokens.token_for(&tenant, scope).await?;
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(tokens.token_for(&tenant, scope).await?);
    }
    let hit_ns = t.elapsed().as_nanos() as f64 / n as f64;

    // Per-call overhead: typed call vs bare reqwest, same request, interleaved.
    let machines: Value = http
        .get(format!("{}/api/machines?$top=1", sim.url))
        .bearer_auth(token.secret.expose())
        .send()
        .await?
        .json()
        .await?;
    let id: MachineId = machines["value"][0]["id"].as_str().ok_or("no machine")?.parse()?;
    let url = format!("{}/api/machines/{id}", sim.url);
    let (mut typed, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..2_000 {
        let t = Instant::now();
        std::hint::black_box(client.get_machine(&tenant, &id, deadline()).await?);
        typed.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let v: Value = http.get(&url).bearer_auth(token.secret.expose()).send().await?.json().await?;
        std::hint::black_box(v);
        bare.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (typed_us, bare_us) = (median(&typed), median(&bare));

    // Paging throughput and memory.
    let rss_before = peak_rss_kib("self");
    let t = Instant::now();
    let (mut count, mut pages) = (0usize, 0usize);
    let mut stream = client.alerts(&tenant, &ListQuery::default(), deadline());
    while let Some(page) = stream.next().await {
        count += page?.len();
        pages += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let rss_after = peak_rss_kib("self");
    if count != ALERTS {
        return Err(format!("paged {count} alerts, expected {ALERTS}").into());
    }
    const S: &str = "shared client";
    Ok(vec![
        Row::rust_only(S, "token cache hit (warm)", format!("{hit_ns:.0} ns/call")),
        Row::rust_only(
            S,
            "typed get_machine vs bare reqwest, same request (median of 2,000)",
            format!("{typed_us:.0} µs vs {bare_us:.0} µs ({:+.0} µs)", typed_us - bare_us),
        ),
        Row::rust_only(
            S,
            format!("paging {ALERTS} alerts ({pages} pages of ≤ 10,000)"),
            format!("{:.0} records/s ({secs:.2} s)", count as f64 / secs),
        ),
        Row::rust_only(
            S,
            "bench process peak RSS: start / before paging / after paging",
            format!("{} / {} / {} MiB", rss_start / 1024, rss_before / 1024, rss_after / 1024),
        ),
    ])
}
