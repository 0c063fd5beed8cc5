//! The export core end to end against the simulated tenant and the local-directory sink: volume and
//! call counts, updates and a run of 300 ties across page boundaries, then faults — injected 429/5xx,
//! a failed cursor write after the data, a deadline cut, a killed run, two concurrent runs — with the
//! union of objects checked after every round: each (id, lastUpdateTime) exactly once, none missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use chrono::{DateTime, Duration as CDuration, SecondsFormat, Utc};
use defender_shared::{
    config::Config,
    defender::{Deadline, DefenderClient, governor::Governor},
    ids::TenantName,
    runtime::Runtime,
};
use flate2::read::GzDecoder;
use scheduled_export::{
    defender::ClientSource,
    export::{Job, Outcome, Source, StopSignal, StreamKind, StreamSummary, export_stream},
    sink::{DirSink, ETag, Sink, SinkError},
};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    io::Read,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tenant_sim::{RunningSim, SimOptions, seed::Seed, start};

const APP: &str = "11111111-1111-4111-8111-111111111111";
const SECRET: &str = "demo-secret-value-do-not-use-in-prod";

type Versions = BTreeSet<(String, DateTime<Utc>)>;

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The demo seed plus `incidents` incidents and `alerts` alerts made from the demo's first ones,
/// three records per second of `lastUpdateTime` (so ties are everywhere).
fn seed(incidents: usize, alerts: usize) -> Seed {
    let mut s: Value = serde_json::from_str(tenant_sim::seed::DEMO).unwrap();
    let as_of: DateTime<Utc> = s["as_of"].as_str().unwrap().parse().unwrap();
    let base = as_of - CDuration::days(20);
    let inc0 = s["incidents"][0].clone();
    let al0 = s["alerts"][0].clone();
    for i in 0..incidents {
        let mut v = inc0.clone();
        v["incidentId"] = json!(1_000_000 + i);
        v["lastUpdateTime"] = json!(iso(base + CDuration::seconds((i / 3) as i64)));
        v["alerts"] = json!([]);
        s["incidents"].as_array_mut().unwrap().push(v);
    }
    for i in 0..alerts {
        let mut v = al0.clone();
        v["id"] = json!(format!("da-gen-{i:07}"));
        v["incidentId"] = json!(1_000_000 + i % incidents.max(1));
        v["lastUpdateTime"] = json!(iso(base + CDuration::milliseconds((i as i64) * 333)));
        v["evidence"] = json!([v["evidence"][0].clone()]);
        s["alerts"].as_array_mut().unwrap().push(v);
    }
    Seed::parse(&s.to_string()).unwrap()
}

struct Env {
    sim: RunningSim,
    source: Arc<dyn Source>,
    dir: PathBuf,
}

fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

async fn setup(seed: Seed) -> Env {
    let mut opts = SimOptions::demo().unwrap();
    opts.seed = seed;
    opts.config.quotas = false;
    let sim = start(opts).await.unwrap();
    let dir = std::env::temp_dir().join(format!("se-sim-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sim.ca_pem).unwrap();
    let env: HashMap<&str, String> = [
        ("AZURE_TENANT_ID", sim.tenant_id()),
        ("AZURE_CLIENT_ID", APP.to_string()),
        ("AZURE_CLIENT_SECRET", SECRET.to_string()),
        ("AZURE_AUTHORITY_HOST", sim.url.clone()),
        ("KEY_VAULT_URL", sim.url.clone()),
        ("MDE_API_URL", sim.url.clone()),
        ("XDR_API_URL", sim.url.clone()),
        ("GRAPH_API_URL", sim.url.clone()),
        ("DEFENDER_EXTRA_CA_FILE", ca.display().to_string()),
        ("DEFENDER_LOCAL_MODE", "1".to_string()),
    ]
    .into_iter()
    .collect();
    let rt = Runtime::from_config(Config::from_lookup(|k| env.get(k).cloned()).unwrap()).await.unwrap();
    let tenant: TenantName = rt.registry.iter().next().unwrap().name.clone();
    // The simulator's quotas are off and so is client pacing: these tests count calls, not minutes.
    let client = DefenderClient::new(rt.http.clone(), rt.tokens.clone(), rt.registry.clone())
        .with_governor(Governor::disabled());
    let source: Arc<dyn Source> = Arc::new(ClientSource::new(Arc::new(client), tenant));
    Env { sim, source, dir: dir.join("out") }
}

struct Never;
impl StopSignal for Never {
    fn should_stop(&self) -> bool {
        false
    }
}

/// Stops before page `n + 1` (a deadline cut after `n` pages).
struct AfterPages(AtomicUsize, usize);
impl StopSignal for AfterPages {
    fn should_stop(&self) -> bool {
        self.0.fetch_add(1, Ordering::SeqCst) >= self.1
    }
}

/// Each run is a scheduled invocation 20 minutes after the previous one, with a 15-minute deadline (so
/// a lease left by a failed or killed run has expired when the next one starts, as in production).
fn job(stream: StreamKind, page: usize, run: &str) -> Job {
    static SLOT: AtomicUsize = AtomicUsize::new(0);
    let now = Utc::now() + CDuration::minutes(20 * SLOT.fetch_add(1, Ordering::SeqCst) as i64);
    Job {
        run_id: run.to_string(),
        started: now,
        lease_until: now + CDuration::minutes(15),
        tenant: "default".into(),
        stream,
        page_size: page,
        overlap: CDuration::minutes(5),
        backfill: None,
        deadline: Deadline::after(Duration::from_secs(120)),
    }
}

/// Every (id, lastUpdateTime) in every data object under `dir`, counted.
fn union(dir: &Path, stream: StreamKind) -> BTreeMap<(String, DateTime<Utc>), usize> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "gz") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&dir.join("tenant=default").join(format!("stream={stream}")), &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let mut text = String::new();
        GzDecoder::new(std::fs::File::open(&f).unwrap()).read_to_string(&mut text).unwrap();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let id = match stream {
                StreamKind::XdrIncidents => v["incidentId"].to_string(),
                StreamKind::MdeAlerts => v["id"].as_str().unwrap().to_string(),
            };
            let t: DateTime<Utc> = v["lastUpdateTime"].as_str().unwrap().parse().unwrap();
            *out.entry((id, t)).or_default() += 1;
        }
    }
    out
}

/// What the tenant holds now, per stream.
fn versions(sim: &RunningSim, stream: StreamKind) -> Versions {
    let t = sim.sim.tenant.lock().unwrap();
    let (items, key) = match stream {
        StreamKind::XdrIncidents => (&t.seed.incidents, "incidentId"),
        StreamKind::MdeAlerts => (&t.seed.alerts, "id"),
    };
    items
        .iter()
        .map(|v| {
            let id = match &v[key] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (id, v["lastUpdateTime"].as_str().unwrap().parse().unwrap())
        })
        .collect()
}

fn assert_exactly(expected: &Versions, got: &BTreeMap<(String, DateTime<Utc>), usize>, what: &str) {
    let dups: Vec<_> = got.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dups.is_empty(), "{what}: duplicated versions, e.g. {dups:?}");
    let missing: Vec<_> = expected.iter().filter(|v| !got.contains_key(v)).take(5).collect();
    assert!(missing.is_empty(), "{what}: missing versions, e.g. {missing:?}");
    let extra: Vec<_> = got.keys().filter(|v| !expected.contains(v)).take(5).collect();
    assert!(extra.is_empty(), "{what}: versions never in the tenant: {extra:?}");
}

async fn requests(sim: &RunningSim, path: &str) -> usize {
    let v: Value =
        sim.client().unwrap().get(format!("{}/_sim/requests", sim.url)).send().await.unwrap().json().await.unwrap();
    v["value"].as_array().unwrap().iter().filter(|r| r["path"] == path).count()
}

async fn clear_requests(sim: &RunningSim) {
    sim.client().unwrap().delete(format!("{}/_sim/requests", sim.url)).send().await.unwrap();
}

/// New versions: `updated` existing incidents and alerts PATCHed through the API, plus `ties` new
/// incidents and 200 new alerts sharing one `lastUpdateTime` (inserted as a reseed would).
async fn change(env: &Env, updated: usize, ties: usize, tag: usize) {
    let http = env.sim.client().unwrap();
    let token: Value = http
        .post(format!("{}/{}/oauth2/v2.0/token", env.sim.url, env.sim.tenant_id()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("scope", "https://api.security.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    for i in 0..updated {
        let id = 1_000_000 + (i * 37 + tag) % 500;
        let r = http
            .patch(format!("{}/api/incidents/{id}", env.sim.url))
            .header("authorization", &bearer)
            .json(&json!({"status": if (i + tag).is_multiple_of(2) { "Active" } else { "InProgress" }, "comment": format!("u{tag}-{i}")}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    let now: DateTime<Utc> = Utc::now() + CDuration::seconds(10 + tag as i64);
    let mut t = env.sim.sim.tenant.lock().unwrap();
    let inc0 = t.seed.incidents[0].clone();
    let al0 = t.seed.alerts[0].clone();
    for i in 0..ties {
        let mut v = inc0.clone();
        v["incidentId"] = json!(5_000_000 + tag * 10_000 + i);
        v["lastUpdateTime"] = json!(iso(now));
        t.seed.incidents.push(v);
    }
    for i in 0..200 {
        let mut v = al0.clone();
        v["id"] = json!(format!("da-new-{tag}-{i:04}"));
        v["lastUpdateTime"] = json!(iso(now));
        t.seed.alerts.push(v);
    }
}

async fn run(env: &Env, stream: StreamKind, page: usize, stop: &dyn StopSignal) -> StreamSummary {
    let sink = DirSink::new(&env.dir);
    export_stream(env.source.as_ref(), &sink, &job(stream, page, &unique()), stop).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_incidents_and_fifty_thousand_alerts_then_changes_exactly_once() {
    let env = setup(seed(10_000, 50_000)).await;
    let mut expected: HashMap<StreamKind, Versions> = HashMap::new();
    for stream in StreamKind::ALL {
        let now = versions(&env.sim, stream);
        let n = now.len();
        clear_requests(&env.sim).await;
        let started = std::time::Instant::now();
        let s = run(&env, stream, stream.max_page(), &Never).await;
        let path = match stream {
            StreamKind::XdrIncidents => "/api/incidents",
            StreamKind::MdeAlerts => "/api/alerts",
        };
        let calls = requests(&env.sim, path).await;
        eprintln!("{stream}: {n} records, {calls} calls, {} objects, {:?}", s.objects, started.elapsed());
        assert_eq!(s.outcome, Outcome::Complete);
        assert_eq!(s.records as usize, n);
        // Keyset paging never re-reads a page boundary: one call per page, plus none.
        assert_eq!(calls, n.div_ceil(stream.max_page()), "{stream}: calls for {n} records");
        assert_eq!(s.api_calls as usize, calls);
        expected.insert(stream, now);
        assert_exactly(&expected[&stream], &union(&env.dir, stream), "first export");
    }
    // Updates and new records, 300 incidents sharing one lastUpdateTime (three pages of 100).
    change(&env, 50, 300, 1).await;
    for stream in StreamKind::ALL {
        let before = expected[&stream].len();
        expected.get_mut(&stream).unwrap().extend(versions(&env.sim, stream));
        let s = run(&env, stream, stream.max_page(), &Never).await;
        assert_eq!(s.outcome, Outcome::Complete);
        assert_eq!(s.records as usize, expected[&stream].len() - before, "{stream}: only the changes");
        assert_exactly(&expected[&stream], &union(&env.dir, stream), "after changes");
    }
    // A run with nothing new writes nothing.
    let s = run(&env, StreamKind::XdrIncidents, 100, &Never).await;
    assert_eq!((s.records, s.objects), (0, 0));
}

/// Fails the `n`-th cursor write (after its data object was written).
struct FailingSink {
    inner: DirSink,
    writes: AtomicUsize,
    fail_at: usize,
}

#[async_trait]
impl Sink for FailingSink {
    async fn put_object(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError> {
        self.inner.put_object(key, body).await
    }
    async fn get_cursor(&self, key: &str) -> Result<Option<(Vec<u8>, ETag)>, SinkError> {
        self.inner.get_cursor(key).await
    }
    async fn put_cursor(&self, key: &str, body: Vec<u8>, expected: Option<&ETag>) -> Result<ETag, SinkError> {
        if self.writes.fetch_add(1, Ordering::SeqCst) == self.fail_at {
            return Err(SinkError::Store {
                op: "PutObject",
                key: key.into(),
                message: "503 SlowDown: injected".into(),
            });
        }
        self.inner.put_cursor(key, body, expected).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn seeded_fault_rounds_lose_and_duplicate_nothing() {
    let env = setup(seed(500, 3_000)).await;
    let http = env.sim.client().unwrap();
    let mut expected: HashMap<StreamKind, Versions> = HashMap::new();
    let page = |s: StreamKind| if s == StreamKind::XdrIncidents { 100 } else { 700 };
    for round in 0..3usize {
        http.delete(format!("{}/_sim/faults", env.sim.url)).send().await.unwrap();
        if round > 0 {
            change(&env, 20, 300, round).await;
        }
        // Random 429/503 on both lists, seeded per round.
        let faults = json!([
            {"path_prefix": "/api/incidents", "status": 429, "retry_after_s": 0, "probability": 0.15, "seed": round},
            {"path_prefix": "/api/alerts", "status": 503, "probability": 0.15, "seed": round + 100},
        ]);
        let r = http.post(format!("{}/_sim/faults", env.sim.url)).json(&faults).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        for stream in StreamKind::ALL {
            expected.entry(stream).or_default().extend(versions(&env.sim, stream));
            let dir = DirSink::new(&env.dir);
            // 1. a failed cursor write right after a data object (the second commit: lease, then page 1)
            let failing = FailingSink { inner: dir.clone(), writes: AtomicUsize::new(0), fail_at: 1 + round % 3 };
            let first =
                export_stream(env.source.as_ref(), &failing, &job(stream, page(stream), &unique()), &Never).await;
            // 2. a deadline cut after a few pages
            let cut = AfterPages(AtomicUsize::new(0), 1 + round % 2);
            let _ = export_stream(env.source.as_ref(), &dir, &job(stream, page(stream), &unique()), &cut).await;
            // 3. a run killed between its data write and its commit: it leaves its lease, which
            //    expires at its deadline; the next run (started after it) takes over.
            let killed = FailingSink { inner: dir.clone(), writes: AtomicUsize::new(0), fail_at: usize::MAX };
            let mut kjob = job(stream, page(stream), "killed");
            kjob.lease_until = kjob.started + CDuration::seconds(1);
            let ctr = AtomicUsize::new(0);
            let kill_after_lease = async {
                loop {
                    if killed.writes.load(Ordering::SeqCst) >= 1 && ctr.fetch_add(1, Ordering::SeqCst) > 0 {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            };
            tokio::select! {
                _ = export_stream(env.source.as_ref(), &killed, &kjob, &Never) => {}
                () = kill_after_lease => {}
            }
            let mut blocked = job(stream, page(stream), &unique());
            blocked.started = kjob.lease_until - CDuration::milliseconds(1);
            let b = export_stream(env.source.as_ref(), &dir, &blocked, &Never).await;
            if let Ok(b) = &b
                && b.outcome == Outcome::Conflict
            {
                assert_eq!((b.objects, b.api_calls), (0, 0), "a run blocked by a live lease does nothing");
            }
            // 4. two concurrent runs, after the dead lease expired; then runs until complete.
            let mut done = false;
            for attempt in 0..30 {
                let a = job(stream, page(stream), &unique());
                let mut b = job(stream, page(stream), &unique());
                (b.started, b.lease_until) = (a.started, a.lease_until);
                let (ra, rb) = tokio::join!(
                    export_stream(env.source.as_ref(), &dir, &a, &Never),
                    export_stream(env.source.as_ref(), &dir, &b, &Never)
                );
                let outcomes: Vec<Outcome> =
                    [&ra, &rb].iter().filter_map(|r| r.as_ref().ok()).map(|s| s.outcome).collect();
                if attempt == 0 && outcomes.len() == 2 {
                    assert!(outcomes.contains(&Outcome::Conflict) || outcomes.iter().all(|o| *o == Outcome::Complete));
                }
                if outcomes.contains(&Outcome::Complete) {
                    done = true;
                    break;
                }
            }
            assert!(done, "round {round} {stream}: never completed (first run: {first:?})");
            assert_exactly(&expected[&stream], &union(&env.dir, stream), &format!("round {round} {stream}"));
        }
    }
}
