//! `make bench`, the MSSP fan-out: one schedule period of 500 tenants × 2 streams (`xdr-incidents`,
//! `mde-alerts`) through the fan-out code of `scheduled-export` ([`scheduled_export::fanout`]).
//!
//! What is real and what stands in:
//! - **real**: the scheduler's [`enqueue`](scheduled_export::fanout::enqueue) (one job per
//!   (tenant, stream), group = tenant, deduplication id), the worker's
//!   [`run_job`](scheduled_export::fanout::run_job) (the export core, its cursor and lease), the shared
//!   Defender client with its production governor and retries, Entra tokens per tenant, the MSSP
//!   registry; a simulated tenant per customer ([`tenant_sim::fleet`]: its own directory id, generated
//!   data deterministic per seed, and its own documented quotas, enforced);
//! - **stand-ins**: Lambda's concurrency is `WORKERS` tasks in this process, each with its **own**
//!   runtime (token cache, HTTP connections, governor) as separate Lambda instances would have; the
//!   SQS FIFO queue is an in-memory queue with FIFO's group rule (no message of a group is handed
//!   out while one of that group is in flight) and deduplication ids; the sink is a local
//!   directory, not S3; the simulator runs in this process (loopback TLS).
//!
//! Reported: the period's wall time (first enqueue to last job done), the slowest tenant's lag (its
//! last job's end − the period's start) and the median's, Defender calls per tenant against the
//! minimum (one page per stream here: `ceil(n / $top)`), tokens per tenant, and the 429 answers the
//! simulated tenants gave — then the quota under contention: tenant `t000`'s export while another
//! "Lambda" (its own runtime) sends an enrichment burst to the same endpoint of the same tenant and
//! app, with the 429s each side met.

use crate::{
    BoxError,
    part::{Row, row},
    setup::{self, Env},
    table::median,
};
use async_trait::async_trait;
use defender_shared::defender::Deadline;
use scheduled_export::{
    config::ExportConfig,
    fanout::{self, Envelope, ExportJob, FanoutError, JobQueue},
    handler::{ExportEvent, State},
    state,
};
use std::{
    collections::{BTreeMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tenant_sim::fleet::{FleetOptions, RunningFleet, start_fleet, tenant_name};

/// Tenants in the bench's period.
pub const TENANTS: usize = 500;
/// Concurrent workers (the template's default `ExportWorkerConcurrency`).
pub const WORKERS: usize = 20;
/// The enrichment burst sent to one tenant while its export runs.
pub const BURST: usize = 60;

/// SQS FIFO's delivery rule, in memory: deduplication ids, and a group's next message only once its
/// previous one is done.
#[derive(Debug, Default)]
struct Fifo {
    state: Mutex<FifoState>,
}

#[derive(Debug, Default)]
struct FifoState {
    queue: VecDeque<Envelope>,
    seen: HashSet<String>,
    in_flight: HashSet<String>,
}

#[async_trait]
impl JobQueue for Fifo {
    async fn send(&self, job: &Envelope) -> Result<(), FanoutError> {
        let mut s = self.state.lock().map_err(|_| FanoutError::Send("poisoned".into()))?;
        if s.seen.insert(job.dedup.clone()) {
            s.queue.push_back(job.clone());
        }
        Ok(())
    }
}

enum Next {
    Job(Envelope),
    Wait,
    Drained,
}

impl Fifo {
    fn receive(&self) -> Next {
        let Ok(mut s) = self.state.lock() else { return Next::Drained };
        let pos = s.queue.iter().position(|e| !s.in_flight.contains(&e.group));
        match pos.and_then(|p| s.queue.remove(p)) {
            Some(e) => {
                s.in_flight.insert(e.group.clone());
                Next::Job(e)
            }
            None if s.queue.is_empty() && s.in_flight.is_empty() => Next::Drained,
            None => Next::Wait,
        }
    }

    fn done(&self, group: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.in_flight.remove(group);
        }
    }
}

/// The environment of every worker: the fleet's first tenant as the bootstrap identity, the registry
/// of all tenants, the directory sink.
fn env(fleet: &RunningFleet, dir: &std::path::Path) -> Env {
    let extra = [
        ("DEFENDER_TENANTS_FILE", dir.join("tenants.json").display().to_string()),
        ("EXPORT_DIR", dir.join("out").display().to_string()),
    ];
    setup::env(&fleet.url, &fleet.tenants[0].tenant_id(), &dir.join("ca.pem"), &extra)
}

/// A worker's cold start: its own runtime (tokens, connections, governor) — one Lambda instance.
async fn worker_state(env: &Env) -> Result<State, BoxError> {
    let rt = setup::runtime(env).await?;
    let cfg = ExportConfig::from_lookup(setup::lookup(env))?;
    Ok(state::build(rt, cfg).await)
}

/// Per tenant index: Defender calls, token requests and 429 answers in its simulator's log.
fn counts(fleet: &RunningFleet) -> Vec<(usize, usize, usize)> {
    fleet
        .tenants
        .iter()
        .map(|s| {
            let log = tenant_sim::state::lock(&s.log);
            let api = log.iter().filter(|e| e.path.starts_with("/api/") || e.path.starts_with("/v1.0/")).count();
            let tokens = log.iter().filter(|e| e.path.ends_with("/token")).count();
            let throttled = log.iter().filter(|e| e.status == 429).count();
            (api, tokens, throttled)
        })
        .collect()
}

/// One schedule period of `tenants` tenants through `workers` concurrent workers, then the quota
/// under contention.
///
/// # Errors
/// The fleet does not start, a job fails, or a (tenant, stream) was not exported completely.
pub async fn run(tenants: usize, workers: usize) -> Result<Vec<Row>, BoxError> {
    let dir = std::env::temp_dir().join(format!("defender-bench-fanout-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("out"))?;
    let result = measure(&dir, tenants, workers).await;
    std::fs::remove_dir_all(&dir).ok();
    result
}

async fn measure(dir: &std::path::Path, tenants: usize, workers: usize) -> Result<Vec<Row>, BoxError> {
    let fleet = start_fleet(FleetOptions::new(tenants, 17)).await?;
    std::fs::write(dir.join("ca.pem"), &fleet.ca_pem)?;
    let registry = fleet.registry(testkit::demo::APP, "defender-client-secret");
    std::fs::write(dir.join("tenants.json"), registry.to_string())?;
    let env = env(&fleet, dir);

    // The workers' cold starts happen before the period (as warm Lambda instances would be).
    let mut states = Vec::with_capacity(workers);
    for _ in 0..workers {
        states.push(Arc::new(worker_state(&env).await?));
    }
    let scheduler = worker_state(&env).await?;
    let queue = Arc::new(Fifo::default());
    let start = Instant::now();
    let event = ExportEvent { scheduled_time: Some(chrono::Utc::now()), ..ExportEvent::default() };
    let enqueued = fanout::enqueue(&scheduler, queue.as_ref(), &event, chrono::Utc::now()).await?;
    let enqueue_s = start.elapsed().as_secs_f64();

    // Per tenant: when its last job ended.
    let finished: Arc<Mutex<BTreeMap<String, Duration>>> = Arc::default();
    // Per (tenant, stream): records written.
    let exported: Arc<Mutex<BTreeMap<(String, String), u64>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for (w, st) in states.iter().enumerate() {
        let (st, queue, finished, exported, failures) =
            (st.clone(), queue.clone(), finished.clone(), exported.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let e = match queue.receive() {
                    Next::Job(e) => e,
                    Next::Wait => {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    Next::Drained => break,
                };
                let job: Result<ExportJob, _> = serde_json::from_str(&e.body);
                let outcome = match &job {
                    Ok(job) => {
                        fanout::run_job(&st, job, &format!("bench-{w}"), Deadline::after(Duration::from_secs(600)))
                            .await
                            .map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e.to_string()),
                };
                match (job, outcome) {
                    (Ok(job), Ok(s)) => {
                        if let Ok(mut m) = exported.lock() {
                            m.insert((job.tenant.clone(), job.stream.clone()), s.records);
                        }
                        if let Ok(mut m) = finished.lock() {
                            m.insert(job.tenant, start.elapsed());
                        }
                    }
                    (_, Err(e)) => {
                        if let Ok(mut f) = failures.lock() {
                            f.push(e);
                        }
                    }
                    (Err(_), Ok(_)) => {}
                }
                queue.done(&e.group);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let wall = start.elapsed().as_secs_f64();
    if let Some(f) = failures.lock().map_err(|_| "poisoned")?.first() {
        return Err(format!("a fan-out job failed: {f}").into());
    }

    // Every (tenant, stream) exported completely.
    let exported = exported.lock().map_err(|_| "poisoned")?.clone();
    let mut minimum_calls = 0usize;
    for (i, sim) in fleet.tenants.iter().enumerate() {
        let t = tenant_sim::state::lock(&sim.tenant);
        let alerts = t.seed.generated_alerts.as_ref().map_or(0, |g| g.count);
        let incidents = t.seed.incidents.len() as u64;
        for (stream, n, top) in [("mde-alerts", alerts, 10_000u64), ("xdr-incidents", incidents, 100)] {
            let got = exported.get(&(tenant_name(i), stream.to_string())).copied().unwrap_or(0);
            if got != n {
                return Err(format!("{} {stream}: exported {got} of {n}", tenant_name(i)).into());
            }
            minimum_calls += n.div_ceil(top).max(1) as usize;
        }
    }
    let per = counts(&fleet);
    let api: usize = per.iter().map(|c| c.0).sum();
    let tokens: usize = per.iter().map(|c| c.1).sum();
    let throttled: usize = per.iter().map(|c| c.2).sum();
    let max_api = per.iter().map(|c| c.0).max().unwrap_or(0);
    let lags: Vec<f64> =
        finished.lock().map_err(|_| "poisoned")?.values().map(Duration::as_secs_f64).collect::<Vec<_>>();
    let slowest = lags.iter().copied().fold(0.0, f64::max);
    let n = tenants as f64;

    let mut rows = vec![
        row(
            format!("{tenants} tenants × 2 streams, one schedule period, {workers} workers: wall time"),
            format!("{wall:.1} s ({} jobs enqueued in {enqueue_s:.2} s)", enqueued.jobs),
        ),
        row(
            "slowest tenant's lag (its last job's end − period start); median",
            format!("{slowest:.1} s; {:.1} s", median(&lags)),
        ),
        row(
            "Defender calls per tenant vs the minimum (ceil(n / $top) per stream)",
            format!(
                "{:.2} vs {:.2} (max {max_api}); {:.2} token requests per tenant",
                api as f64 / n,
                minimum_calls as f64 / n,
                tokens as f64 / n
            ),
        ),
        row("429 answers from the tenants' quotas during the period", throttled.to_string()),
    ];
    rows.extend(contention(&fleet, &env, &states[0]).await?);
    Ok(rows)
}

/// Tenant `t000` again (a later period: its cursors are set, so the export reads the overlap window
/// again), while another "Lambda" — its own runtime — lists the same tenant's alerts [`BURST`] times
/// at once with the same app, as an enrichment burst would. Quotas are per (tenant, app, endpoint):
/// both sides spend `mde.alerts.list`'s 100 calls per minute.
async fn contention(fleet: &RunningFleet, env: &Env, exporter: &State) -> Result<Vec<Row>, BoxError> {
    let enrich = setup::runtime(env).await?;
    let before = counts(fleet)[0];
    let tenant = tenant_name(0);
    let name = enrich.registry.iter().find(|t| t.name.as_str() == tenant).ok_or("no tenant t000")?.name.clone();
    let burst = futures::future::join_all((0..BURST).map(|_| {
        let (d, name) = (enrich.defender.clone(), name.clone());
        async move {
            let q = defender_shared::defender::api::ListQuery::new().top(10);
            d.alerts_page(&name, &q, Deadline::after(Duration::from_secs(600))).await.is_ok()
        }
    }));
    let export =
        futures::future::join_all(["mde-alerts", "xdr-incidents"].into_iter().map(|s| {
            let job =
                ExportJob { tenant: tenant.clone(), stream: s.to_string(), period: chrono::Utc::now(), backfill: None };
            async move {
                fanout::run_job(exporter, &job, "bench-contention", Deadline::after(Duration::from_secs(600))).await
            }
        }));
    let t = Instant::now();
    let (burst, export) = tokio::join!(burst, export);
    let secs = t.elapsed().as_secs_f64();
    let after = counts(fleet)[0];
    let ok = burst.iter().filter(|b| **b).count();
    let retried: u64 = export.iter().filter_map(|r| r.as_ref().ok()).map(|s| s.throttles_retried).sum();
    if export.iter().any(Result::is_err) {
        return Err("the export failed under the enrichment burst".into());
    }
    Ok(vec![row(
        format!(
            "one tenant: its export + a burst of {BURST} enrichment list calls from another Lambda (same app, same endpoint)"
        ),
        format!(
            "{} Defender calls in {secs:.1} s, {} answered 429 (export retried {retried}); burst {ok}/{BURST} answered",
            after.0 - before.0,
            after.2 - before.2
        ),
    )])
}
