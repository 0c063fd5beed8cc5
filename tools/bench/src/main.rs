//! `make bench` — measures the shared library against the simulated tenant and prints a table.
//!
//! The simulator runs as a separate process (`tenant-sim`, release build, quotas off, no delay) so the
//! peak memory reported is the client's own. Measured:
//! - **token cache hit**: `TokenProvider::token_for` on a warm cache (ns per call);
//! - **per-call overhead**: a typed `get_machine` (token, governor off, retry policy, URL building, JSON
//!   decoding into our model) against the same request made with bare reqwest and a fixed token;
//! - **paging throughput**: streaming 25,000 alerts (pages of 10,000) through `alerts()`, records/s,
//!   and the process's peak RSS (`VmHWM`) before and after — constant memory means one page at a time.
//! - **the webhook-enrichment function**, its release binary run under a Runtime API emulator as Lambda
//!   runs it: cold start (spawn → first poll, spawn → first answer), warm per-request time for a request
//!   that needs no Defender call (signature, parsing, runtime round trip) and for one machine lookup
//!   (three Defender calls), and the function process's peak RSS.

use defender_shared::{
    auth::{CredentialKind, Material, TenantCredential, TokenProvider},
    defender::{Deadline, DefenderClient, StaticTargets, api::ListQuery, governor::Governor},
    ids::{MachineId, TenantName},
    secret::SecretString,
    vault::{SecretStore, VaultError},
};
use futures::{StreamExt, future::BoxFuture};
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    process::{Command, ExitCode, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const APP: &str = "11111111-1111-4111-8111-111111111111";
const SECRET: &str = "demo-secret-value-do-not-use-in-prod";
const ALERTS: usize = 25_000;

struct NoStore;
impl SecretStore for NoStore {
    fn get<'a>(&'a self, n: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        Box::pin(async move { Err(VaultError::NotFound(n.into())) })
    }
    fn get_fresh<'a>(&'a self, n: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        self.get(n)
    }
    fn set<'a>(&'a self, n: &'a str, _: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
        Box::pin(async move { Err(VaultError::NotFound(n.into())) })
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A seed with `ALERTS` alerts (clones of a demo alert with unique ids).
fn big_seed() -> Result<String, BoxError> {
    // (Runs in a child process: `defender-bench --write-seed PATH`, so its memory is not the client's.)
    let mut seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
    let template = seed["alerts"][0].clone();
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

struct Sim {
    child: std::process::Child,
    url: String,
    ca: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn start_sim(dir: &std::path::Path) -> Result<Sim, BoxError> {
    let seed = dir.join("seed.json");
    let status = Command::new(std::env::current_exe()?).arg("--write-seed").arg(&seed).status()?;
    if !status.success() {
        return Err("could not write the bench seed".into());
    }
    let ca = dir.join("ca.pem");
    let exe = std::env::current_exe()?.with_file_name("tenant-sim");
    let mut child = Command::new(&exe)
        .args(["--addr", "127.0.0.1:0", "--no-quotas", "--seed"])
        .arg(&seed)
        .arg("--ca-out")
        .arg(&ca)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e} (run `make bench`, which builds it)", exe.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    // Keep draining the simulator's stdout so it never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = first.trim().strip_prefix("tenant-sim listening on ").ok_or("unexpected first line")?.to_string();
    Ok(Sim { child, url, ca: std::fs::read_to_string(&ca)? })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, path] = args.as_slice()
        && flag == "--write-seed"
    {
        return match big_seed().and_then(|s| std::fs::write(path, s).map_err(Into::into)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("defender-bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("defender-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!("defender-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sim = start_sim(&dir)?;
    let rss_start = peak_rss_kib();
    let http = defender_shared::http::client(Some(&sim.ca))?;
    let tenant: TenantName = "bench".parse()?;
    let tenant_id = {
        let seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
        seed["tenant_id"].as_str().unwrap_or_default().to_string()
    };
    let cred = TenantCredential {
        tenant_id: tenant_id.parse()?,
        client_id: APP.parse()?,
        authority: sim.url.parse()?,
        kind: CredentialKind::ClientSecret(Material::Inline(SecretString::new(SECRET))),
    };
    let tokens = Arc::new(TokenProvider::new(http.clone(), Arc::new(NoStore), [(tenant.clone(), cred)])?);
    let targets = Arc::new(StaticTargets::single_origin(&sim.url.parse()?)?);
    let client = DefenderClient::new(http.clone(), tokens.clone(), targets).with_governor(Governor::disabled());
    let scope = "https://api.securitycenter.microsoft.com/.default";
    let deadline = || Deadline::after(Duration::from_secs(60));

    // 1. token cache hit
    let token = tokens.token_for(&tenant, scope).await?;
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(tokens.token_for(&tenant, scope).await?);
    }
    let hit_ns = t.elapsed().as_nanos() as f64 / n as f64;

    // 2. per-call overhead: typed call vs bare reqwest, same request, interleaved.
    let machines: Value = http
        .get(format!("{}/api/machines?$top=1", sim.url))
        .bearer_auth(token.secret.expose())
        .send()
        .await?
        .json()
        .await?;
    let id: MachineId = machines["value"][0]["id"].as_str().ok_or("no machine")?.parse()?;
    let url = format!("{}/api/machines/{id}", sim.url);
    let rounds = 2_000;
    let (mut typed, mut bare) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let t = Instant::now();
        std::hint::black_box(client.get_machine(&tenant, &id, deadline()).await?);
        typed += t.elapsed();
        let t = Instant::now();
        let v: Value = http.get(&url).bearer_auth(token.secret.expose()).send().await?.json().await?;
        std::hint::black_box(v);
        bare += t.elapsed();
    }
    let typed_us = typed.as_secs_f64() * 1e6 / rounds as f64;
    let bare_us = bare.as_secs_f64() * 1e6 / rounds as f64;

    // 3. paging throughput and memory
    let rss_before = peak_rss_kib();
    let t = Instant::now();
    let mut count = 0usize;
    let mut pages = 0usize;
    let mut stream = client.alerts(&tenant, &ListQuery::default(), deadline());
    while let Some(page) = stream.next().await {
        count += page?.len();
        pages += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let rss_after = peak_rss_kib();
    if count != ALERTS {
        return Err(format!("paged {count} alerts, expected {ALERTS}").into());
    }

    let build = if cfg!(debug_assertions) { "debug build" } else { "release build" };
    println!("defender-shared against tenant-sim ({build}, loopback TLS, quotas off, simulator in its own process)");
    println!("| measure | value |");
    println!("|---|---|");
    println!("| token cache hit (warm) | {hit_ns:.0} ns/call |");
    println!("| typed get_machine | {typed_us:.0} µs/call |");
    println!("| bare reqwest, same request | {bare_us:.0} µs/call |");
    println!(
        "| per-call overhead of the client | {:.0} µs/call ({:+.1}%) |",
        typed_us - bare_us,
        (typed_us / bare_us - 1.0) * 100.0
    );
    println!(
        "| paging {ALERTS} alerts ({pages} pages of ≤10,000) | {:.0} records/s ({secs:.2} s) |",
        count as f64 / secs
    );
    println!(
        "| peak RSS: start / before paging / after paging | {} / {} / {} MiB |",
        rss_start / 1024,
        rss_before / 1024,
        rss_after / 1024
    );
    drop(sim);

    function_bench(&dir).await?;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

fn child_peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// The function binary under the Runtime API emulator, against a demo simulator.
async fn function_bench(dir: &std::path::Path) -> Result<(), BoxError> {
    use defender_shared::webhook;
    let exe = std::env::current_exe()?;
    let sim_exe = exe.with_file_name("tenant-sim");
    let fn_exe = exe.with_file_name("webhook-enrich");
    let ca = dir.join("demo-ca.pem");
    let mut sim = Command::new(&sim_exe)
        .args(["--addr", "127.0.0.1:0", "--no-quotas", "--seed", "demo", "--ca-out"])
        .arg(&ca)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = sim.stdout.take().ok_or("no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = first.trim().strip_prefix("tenant-sim listening on ").ok_or("unexpected first line")?.to_string();
    let sim = Sim { child: sim, url, ca: std::fs::read_to_string(&ca)? };

    let emu = lambda_emu::Emulator::start().await?;
    let tenant_id = {
        let seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
        seed["tenant_id"].as_str().unwrap_or_default().to_string()
    };
    let machine_id = {
        let seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
        seed["machines"][0]["id"].as_str().unwrap_or_default().to_string()
    };
    let spawned = Instant::now();
    let mut child = tokio::process::Command::new(&fn_exe)
        .env_clear()
        .envs(emu.env("webhook-enrich"))
        .env("AZURE_TENANT_ID", &tenant_id)
        .env("AZURE_CLIENT_ID", APP)
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("AZURE_AUTHORITY_HOST", &sim.url)
        .env("KEY_VAULT_URL", &sim.url)
        .env("MDE_API_URL", &sim.url)
        .env("XDR_API_URL", &sim.url)
        .env("GRAPH_API_URL", &sim.url)
        .env("DEFENDER_EXTRA_CA_FILE", &ca)
        .env("DEFENDER_LOCAL_MODE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e} (run `make bench`, which builds it)", fn_exe.display()))?;
    let pid = child.id().unwrap_or(0);
    let template: Value = serde_json::from_str(include_str!(
        "../../../functions/webhook-enrich/tests/fixtures/apigw-v2-post-enrich.json"
    ))?;
    let secret = SecretString::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let mut n = 0u32;
    let mut event = |body: &str| -> Result<Value, BoxError> {
        n += 1;
        let id = format!("msg_bench_{n}");
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
        let mut e = template.clone();
        e["body"] = Value::String(body.to_string());
        e["headers"]["webhook-id"] = Value::String(id.clone());
        e["headers"]["webhook-timestamp"] = Value::String(ts.to_string());
        e["headers"]["webhook-signature"] = Value::String(webhook::sign_standard(&secret, &id, ts, body.as_bytes())?);
        Ok(e)
    };
    let cheap = r#"{"indicators":{"ips":["not-an-ip"],"sha256":["zz"]}}"#;
    let lookup = format!(r#"{{"indicators":{{"machine_ids":["{machine_id}"]}}}}"#);
    let first_answer = emu.invoke(&event(cheap)?, Duration::from_secs(60)).await?;
    let cold = spawned.elapsed();
    let polled = emu.first_poll().map(|t| t.duration_since(spawned)).unwrap_or_default();
    let ok: Value = serde_json::from_slice(&first_answer)?;
    if ok["statusCode"] != 200 {
        return Err(format!("the function answered {ok}").into());
    }
    // Events are signed up front so signing is not part of the measured time.
    let cheap_events: Vec<Value> = (0..300).map(|_| event(cheap)).collect::<Result<_, _>>()?;
    let lookup_events: Vec<Value> = (0..20).map(|_| event(&lookup)).collect::<Result<_, _>>()?;
    let mut cheap_t = Vec::new();
    for e in &cheap_events {
        let t = Instant::now();
        emu.invoke(e, Duration::from_secs(30)).await?;
        cheap_t.push(t.elapsed());
    }
    let mut lookup_t = Vec::new();
    for e in &lookup_events {
        let t = Instant::now();
        emu.invoke(e, Duration::from_secs(30)).await?;
        lookup_t.push(t.elapsed());
    }
    cheap_t.sort();
    lookup_t.sort();
    let rss = child_peak_rss_kib(pid);
    child.start_kill().ok();
    drop(sim);
    println!();
    println!("webhook-enrich: its binary under a Runtime API emulator, against tenant-sim (demo seed, quotas off)");
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| cold start: spawn → first Runtime API poll (config, vault, tokens, self-check) | {:.0} ms |",
        polled.as_secs_f64() * 1e3
    );
    println!("| cold start: spawn → first answer | {:.0} ms |", cold.as_secs_f64() * 1e3);
    println!(
        "| warm, no Defender call (verify, parse, answer; {} requests) | p50 {:.2} ms, p99 {:.2} ms |",
        cheap_t.len(),
        percentile(&cheap_t, 0.5),
        percentile(&cheap_t, 0.99)
    );
    println!(
        "| warm, one machine (3 Defender calls; {} requests) | p50 {:.2} ms, p99 {:.2} ms |",
        lookup_t.len(),
        percentile(&lookup_t, 0.5),
        percentile(&lookup_t, 0.99)
    );
    println!("| function peak RSS | {:.1} MiB |", rss as f64 / 1024.0);
    Ok(())
}
