//! webhook-enrich against its Python peer, both run the way Lambda runs them: a fresh process under
//! our Runtime API emulator (`lambda-emu`), the Rust release binary through `lambda_runtime`, the Python
//! handler through `awslambdaric` (the runtime interface client AWS's Python runtime is built on).
//!
//! Each run: spawn → the first event (a signed request for one machine: vault read of the webhook secret,
//! a token, three Defender calls) → its answer = **cold start**; then `warm` more such events, one at a
//! time = **warm latency**; then the process's `VmHWM` = **peak RSS**. The simulator answers instantly
//! (quotas off, no faults). Runs alternate between the two so drift on a shared machine hits both.

use crate::{
    BoxError,
    client::{APP, SECRET, demo_tenant_id, peak_rss_kib},
    sim::{Counts, Sim},
};
use defender_shared::{secret::SecretString, webhook};
use lambda_emu::Emulator;
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

/// How a candidate is started.
#[derive(Debug, Clone)]
pub enum Launch {
    /// The release binary.
    Rust {
        /// Its path.
        exe: PathBuf,
    },
    /// `python -m awslambdaric handler.handler` in the baseline's directory.
    Python {
        /// The baseline venv's interpreter.
        python: PathBuf,
        /// `bench/baseline-python`.
        dir: PathBuf,
    },
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct RunStats {
    /// Spawn → first Runtime API poll (init done), ms.
    pub init_ms: f64,
    /// Spawn → first answer, ms.
    pub cold_ms: f64,
    /// CPU time the process had used when its first answer arrived (all threads), ms.
    pub cold_cpu_ms: f64,
    /// Each warm request, ms.
    pub warm_ms: Vec<f64>,
    /// Peak RSS, KiB.
    pub rss_kib: u64,
    /// The facts of the first answer (to check both sides did the same work).
    pub facts: Facts,
}

/// What an answer said about the machine: status, logged-on users, alert ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    status: String,
    users: Vec<String>,
    alerts: Vec<String>,
}

impl Facts {
    /// Reads an API Gateway proxy answer (`statusCode`, `body` as a JSON string).
    ///
    /// # Errors
    /// Not a 200 with one `found` result.
    pub fn of(answer: &[u8]) -> Result<Self, BoxError> {
        let v: Value = serde_json::from_slice(answer)?;
        if v["statusCode"] != 200 {
            return Err(format!("the function answered {v}").into());
        }
        let doc: Value = serde_json::from_str(v["body"].as_str().ok_or("no body")?)?;
        let r = &doc["results"][0];
        let strings = |a: &Value, key: Option<&str>| -> Vec<String> {
            let mut out: Vec<String> = a
                .as_array()
                .map(|xs| xs.iter().filter_map(|x| key.map_or(x, |k| &x[k]).as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            out.sort();
            out
        };
        let facts = Self {
            status: r["status"].as_str().unwrap_or_default().to_string(),
            users: strings(&r["machines"][0]["logged_on_users"], None),
            alerts: strings(&r["alerts"], Some("id")),
        };
        if facts.status != "found" {
            return Err(format!("the machine was not found: {doc}").into());
        }
        Ok(facts)
    }
}

/// Signed API Gateway v2 events (the webhook-enrich test fixture with a fresh id and timestamp each).
pub struct Events {
    template: Value,
    secret: SecretString,
    n: u32,
    body: String,
}

impl Events {
    /// Events asking for `machine_id`.
    ///
    /// # Errors
    /// The fixture does not parse.
    pub fn for_machine(machine_id: &str) -> Result<Self, BoxError> {
        Ok(Self {
            template: serde_json::from_str(include_str!(
                "../../../functions/webhook-enrich/tests/fixtures/apigw-v2-post-enrich.json"
            ))?,
            // The demo seed's webhook secret (a simulator value).
            secret: SecretString::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            n: 0,
            body: format!(r#"{{"indicators":{{"machine_ids":["{machine_id}"]}}}}"#),
        })
    }

    /// The next event, signed now.
    ///
    /// # Errors
    /// The clock is before 1970 or signing fails.
    pub fn next(&mut self) -> Result<Value, BoxError> {
        self.n += 1;
        let id = format!("msg_bench_{}_{}", std::process::id(), self.n);
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
        let mut e = self.template.clone();
        e["body"] = Value::String(self.body.clone());
        e["headers"]["webhook-id"] = Value::String(id.clone());
        e["headers"]["webhook-timestamp"] = Value::String(ts.to_string());
        e["headers"]["webhook-signature"] =
            Value::String(webhook::sign_standard(&self.secret, &id, ts, self.body.as_bytes())?);
        Ok(e)
    }
}

/// The command that starts `launch` under `emu`, built before the clock starts: only its `spawn` is
/// inside the measured window (building it parses the 1.1 MB demo seed for the tenant id, about as long
/// as the Rust function's whole init — harness work no Lambda cold start has).
fn command(launch: &Launch, emu: &Emulator, sim: &Sim, home: &Path) -> Result<Command, BoxError> {
    let tenant_id = demo_tenant_id()?;
    let mut cmd = match launch {
        Launch::Rust { exe } => {
            let mut c = tokio::process::Command::new(exe);
            c.env_clear()
                .env("DEFENDER_EXTRA_CA_FILE", &sim.ca_path)
                .env("DEFENDER_LOCAL_MODE", "1")
                .env("XDR_API_URL", &sim.url)
                .env("GRAPH_API_URL", &sim.url);
            c
        }
        Launch::Python { python, dir } => {
            let mut c = tokio::process::Command::new(python);
            c.env_clear()
                .args(["-m", "awslambdaric", "handler.handler"])
                .current_dir(dir)
                .env("REQUESTS_CA_BUNDLE", &sim.ca_path)
                .env("SSL_CERT_FILE", &sim.ca_path)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env("PATH", "/usr/bin:/bin")
                .env("LAMBDA_TASK_ROOT", dir)
                // The simulator knows Key Vault API versions up to the Rust SDK's (see handler.py).
                .env("KEY_VAULT_API_VERSION", "2025-07-01");
            c
        }
    };
    cmd.envs(emu.env("webhook-enrich"))
        // Lambda sets both; boto3 reads only the second.
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("HOME", home)
        .env("AZURE_TENANT_ID", &tenant_id)
        .env("AZURE_CLIENT_ID", APP)
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("AZURE_AUTHORITY_HOST", &sim.url)
        .env("KEY_VAULT_URL", &sim.url)
        .env("MDE_API_URL", &sim.url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    Ok(Command { cmd, what: format!("{launch:?}") })
}

/// A prepared [`command`].
struct Command {
    cmd: tokio::process::Command,
    what: String,
}

impl Command {
    fn spawn(mut self) -> Result<tokio::process::Child, BoxError> {
        self.cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e} (run `make bench`, which builds it)", self.what).into())
    }
}

/// CPU time used so far by every live thread of `pid` (`/proc/<pid>/task/*/schedstat`, ns), ms. On a
/// shared machine wall time includes waiting for a core; CPU time does not.
fn cpu_ms(pid: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return f64::NAN };
    let ns: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e6
}

async fn stop(mut child: tokio::process::Child) {
    child.start_kill().ok();
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}

/// One cold start and `warm` warm requests in a fresh process.
///
/// # Errors
/// The process did not start or answered something else than the enrichment.
pub async fn run_once(
    launch: &Launch,
    sim: &Sim,
    events: &mut Events,
    warm: usize,
    home: &Path,
) -> Result<RunStats, BoxError> {
    let emu = Emulator::start().await?;
    let first = events.next()?;
    // Warm events are signed up front so signing is not part of the measured time.
    let warm_events: Vec<Value> = (0..warm).map(|_| events.next()).collect::<Result<_, _>>()?;
    let cmd = command(launch, &emu, sim, home)?;
    let spawned = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id().unwrap_or_default().to_string();
    let answer = emu.invoke(&first, Duration::from_secs(60)).await;
    let cold = spawned.elapsed();
    let init = emu.first_poll().map(|t| t.duration_since(spawned)).unwrap_or_default();
    let cold_cpu_ms = cpu_ms(&pid);
    let facts = Facts::of(&answer?)?;
    let mut warm_ms = Vec::with_capacity(warm);
    for e in &warm_events {
        let t = Instant::now();
        let a = emu.invoke(e, Duration::from_secs(30)).await?;
        warm_ms.push(t.elapsed().as_secs_f64() * 1e3);
        Facts::of(&a)?;
    }
    let rss_kib = peak_rss_kib(&pid);
    stop(child).await;
    Ok(RunStats {
        init_ms: init.as_secs_f64() * 1e3,
        cold_ms: cold.as_secs_f64() * 1e3,
        cold_cpu_ms,
        warm_ms,
        rss_kib,
        facts,
    })
}

/// `n` invocations, one at a time, of one fresh container; what it asked the simulator for, counted
/// from its request log (cold start included).
///
/// # Errors
/// As [`run_once`], or the control API did not answer.
pub async fn sequential_counts(
    launch: &Launch,
    sim: &Sim,
    events: &mut Events,
    n: usize,
    home: &Path,
) -> Result<Counts, BoxError> {
    let emu = Emulator::start().await?;
    let all: Vec<Value> = (0..n).map(|_| events.next()).collect::<Result<_, _>>()?;
    sim.clear_log().await?;
    let child = command(launch, &emu, sim, home)?.spawn()?;
    for e in &all {
        Facts::of(&emu.invoke(e, Duration::from_secs(60)).await?)?;
    }
    let counts = sim.counts().await?;
    stop(child).await;
    Ok(counts)
}

/// A cold start under injected latency: its time and the round trips it waited for.
#[derive(Debug, Clone, Copy)]
pub struct FirstAnswer {
    /// Spawn → first answer, ms.
    pub cold_ms: f64,
    /// The sequential round trips among the spans done by the answer (the simulator's timeline).
    pub round_trips: tenant_sim::latency::RoundTrips,
}

/// One cold start in a fresh process against `sim` (started with `--latency-ms`): the time to the
/// first answer, and the sequential round trips before it, counted from the simulator's timeline cut
/// at the moment the answer arrived.
///
/// # Errors
/// As [`run_once`], or the control API did not answer.
pub async fn first_answer(
    launch: &Launch,
    sim: &Sim,
    events: &mut Events,
    home: &Path,
) -> Result<FirstAnswer, BoxError> {
    let emu = Emulator::start().await?;
    let first = events.next()?;
    sim.clear_timeline().await?;
    let cmd = command(launch, &emu, sim, home)?;
    let spawned = Instant::now();
    let child = cmd.spawn()?;
    let answer = emu.invoke(&first, Duration::from_secs(60)).await;
    let answered_us = tenant_sim::latency::now_us();
    let cold = spawned.elapsed();
    let facts = Facts::of(&answer?);
    let spans = sim.timeline().await;
    stop(child).await;
    facts?;
    Ok(FirstAnswer {
        cold_ms: cold.as_secs_f64() * 1e3,
        round_trips: tenant_sim::latency::round_trips(&spans?, Some(answered_us)),
    })
}
