//! The export core end to end against the simulated tenant and the local-directory sink: volume and
//! call counts for the four list streams, updates and runs of ties across page boundaries, then the
//! fault campaign — 20 seeded rounds of injected 429/5xx, a failed cursor write after the data, a
//! deadline cut, a killed run, two concurrent runs — with the union of objects checked after every
//! round: each (id, lastUpdateTime) exactly once, none missing; and a hunting stream whose slices are
//! halved on truncated answers and resumed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{job_at, source_for};

use async_trait::async_trait;
use chrono::{DateTime, Duration as CDuration, SecondsFormat, Utc};
use defender_shared::defender::{Deadline, governor::Governor};
use scheduled_export::{
    export::{
        Job, Outcome, Records, Source, StopReason, StopSignal, Stream, StreamKind, StreamSummary, cursor_key,
        export_stream,
    },
    hunting::{HuntingSpec, QueryConfig},
    sink::{DirSink, ETag, Sink, SinkError},
};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tenant_sim::{RunningSim, SimOptions, seed::Seed};
use testkit::{
    SimEnv, demo,
    sim::{clear_requests, requests as request_log},
};

type Versions = BTreeSet<(String, DateTime<Utc>)>;

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The demo seed plus generated records made from the demo's first ones: XDR incidents three per
/// second of `lastUpdateTime`, MDE alerts every 333 ms, Graph alerts every 250 ms and Graph incidents
/// two per second (so ties are everywhere).
fn seed(incidents: usize, alerts: usize, graph_alerts: usize, graph_incidents: usize) -> Seed {
    let mut s: Value = serde_json::from_str(tenant_sim::seed::DEMO).unwrap();
    let as_of: DateTime<Utc> = s["as_of"].as_str().unwrap().parse().unwrap();
    let base = as_of - CDuration::days(20);
    let inc0 = s["incidents"][0].clone();
    let al0 = s["alerts"][0].clone();
    let ga0 = s["graph_alerts"][0].clone();
    let gi0 = s["graph_incidents"][0].clone();
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
    for i in 0..graph_alerts {
        let mut v = ga0.clone();
        v["id"] = json!(format!("ga-gen-{i:07}"));
        v["lastUpdateDateTime"] = json!(iso(base + CDuration::milliseconds((i as i64) * 250)));
        v["evidence"] = json!([]);
        s["graph_alerts"].as_array_mut().unwrap().push(v);
    }
    for i in 0..graph_incidents {
        let mut v = gi0.clone();
        v["id"] = json!((2_000_000 + i).to_string());
        v["lastUpdateDateTime"] = json!(iso(base + CDuration::seconds((i / 2) as i64)));
        s["graph_incidents"].as_array_mut().unwrap().push(v);
    }
    Seed::parse(&s.to_string()).unwrap()
}

struct Env {
    sim: SimEnv,
    source: Arc<dyn Source>,
    dir: PathBuf,
}

fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

async fn setup(seed: Seed) -> Env {
    setup_with(seed, false, Governor::disabled()).await
}

async fn setup_with(seed: Seed, quotas: bool, governor: Governor) -> Env {
    let mut opts = SimOptions::demo().unwrap();
    opts.seed = seed;
    opts.config.quotas = quotas;
    let sim = SimEnv::start(opts).await;
    let dir = sim.dir.clone();
    // Unless a test says otherwise the simulator's quotas are off and so is client pacing: these tests
    // count calls, not minutes. Backoff is short (the fault rounds retry hundreds of injected 429/503
    // answers).
    let source = source_for(&sim, governor).await;
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
fn job(stream: impl Into<Stream>, page: usize, run: &str) -> Job {
    static SLOT: AtomicUsize = AtomicUsize::new(0);
    let now = Utc::now() + CDuration::minutes(20 * SLOT.fetch_add(1, Ordering::SeqCst) as i64);
    job_at(now, stream, page, run)
}

/// The records of every data object of `stream` under `dir`: each line must be the envelope
/// `{"tenant":"default","stream":<stream>,"record":…}` (exactly these members, in this order), and its
/// `record` is returned.
fn lines(dir: &Path, stream: &str) -> Vec<Value> {
    support::gz_lines(dir, &stream.replace(':', "-")).iter().map(|l| unwrap_envelope(l, stream)).collect()
}

/// The `record` of one exported line, after checking the envelope names the line's tenant and stream.
fn unwrap_envelope(line: &str, stream: &str) -> Value {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["tenant", "stream", "record"], "{line}");
    assert_eq!((v["tenant"].as_str(), v["stream"].as_str()), (Some("default"), Some(stream)), "{line}");
    assert!(v["record"].is_object(), "{line}");
    v["record"].clone()
}

fn id_of(stream: StreamKind, v: &Value) -> String {
    match stream {
        StreamKind::XdrIncidents => v["incidentId"].to_string(),
        _ => v["id"].as_str().unwrap().to_string(),
    }
}

/// Every (id, lastUpdateTime) in every data object of `stream`, counted.
fn union(dir: &Path, stream: StreamKind) -> BTreeMap<(String, DateTime<Utc>), usize> {
    let mut out = BTreeMap::new();
    for v in lines(dir, stream.as_str()) {
        let t: DateTime<Utc> = v[stream.time_field()].as_str().unwrap().parse().unwrap();
        *out.entry((id_of(stream, &v), t)).or_default() += 1;
    }
    out
}

/// What the tenant holds now, per stream.
fn versions(sim: &RunningSim, stream: StreamKind) -> Versions {
    let t = sim.sim.tenant.lock().unwrap();
    let items = match stream {
        StreamKind::XdrIncidents => &t.seed.incidents,
        StreamKind::MdeAlerts => &t.seed.alerts,
        StreamKind::GraphAlerts => &t.seed.graph_alerts,
        StreamKind::GraphIncidents => &t.seed.graph_incidents,
    };
    items.iter().map(|v| (id_of(stream, v), v[stream.time_field()].as_str().unwrap().parse().unwrap())).collect()
}

fn assert_exactly(expected: &Versions, got: &BTreeMap<(String, DateTime<Utc>), usize>, what: &str) {
    let dups: Vec<_> = got.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dups.is_empty(), "{what}: duplicated versions, e.g. {dups:?}");
    let missing: Vec<_> = expected.iter().filter(|v| !got.contains_key(v)).take(5).collect();
    assert!(missing.is_empty(), "{what}: missing versions, e.g. {missing:?}");
    let extra: Vec<_> = got.keys().filter(|v| !expected.contains(v)).take(5).collect();
    assert!(extra.is_empty(), "{what}: versions never in the tenant: {extra:?}");
}

fn list_path(stream: StreamKind) -> &'static str {
    match stream {
        StreamKind::XdrIncidents => "/api/incidents",
        StreamKind::MdeAlerts => "/api/alerts",
        StreamKind::GraphAlerts => "/v1.0/security/alerts_v2",
        StreamKind::GraphIncidents => "/v1.0/security/incidents",
    }
}

async fn requests(sim: &RunningSim, path: &str) -> usize {
    request_log(sim).await.iter().filter(|r| r["path"] == path).count()
}

/// New versions around `now`: `updated` existing XDR incidents PATCHed through the API (then stamped
/// `now − 3 s`) and as many Graph alerts and incidents touched, plus `ties` new XDR incidents, MDE
/// alerts and Graph alerts sharing `now` (inserted as a reseed would), so each run of ties crosses a
/// page.
/// `Bearer <token>` of the export's app for `scope`'s API.
async fn bearer(sim: &RunningSim, scope: &str) -> String {
    let token = sim.client_credentials(&sim.client().unwrap(), (demo::APP, demo::SECRET), scope).await.unwrap();
    format!("Bearer {}", token["access_token"].as_str().unwrap())
}

const XDR_SCOPE: &str = "https://api.security.microsoft.com/.default";
const MDE_SCOPE: &str = "https://api.securitycenter.microsoft.com/.default";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// One list request as the service answers it: status and body.
async fn get_list(sim: &RunningSim, scope: &str, path_and_query: &str) -> (u16, Value) {
    let r = sim
        .client()
        .unwrap()
        .get(format!("{}{path_and_query}", sim.url))
        .header("authorization", bearer(sim, scope).await)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn change(env: &Env, updated: usize, ties: usize, tag: usize, now: DateTime<Utc>) {
    let http = env.sim.client().unwrap();
    let bearer = bearer(&env.sim, XDR_SCOPE).await;
    let generated = versions(&env.sim, StreamKind::XdrIncidents)
        .iter()
        .filter(|(id, _)| id.parse::<u64>().is_ok_and(|n| (1_000_000..2_000_000).contains(&n)))
        .count();
    let mut patched = Vec::new();
    for i in 0..updated {
        let id = 1_000_000 + (i * 37 + tag) % generated.clamp(1, 500);
        patched.push(json!(id));
        let r = http
            .patch(format!("{}/api/incidents/{id}", env.sim.url))
            .header("authorization", &bearer)
            .json(&json!({"status": if (i + tag).is_multiple_of(2) { "Active" } else { "InProgress" }, "comment": format!("u{tag}-{i}")}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    let mut t = env.sim.sim.tenant.lock().unwrap();
    for inc in t.seed.incidents.iter_mut().filter(|i| patched.contains(&i["incidentId"])) {
        inc["lastUpdateTime"] = json!(iso(now - CDuration::seconds(3)));
    }
    for i in 0..updated {
        let n = t.seed.graph_alerts.len();
        t.seed.graph_alerts[(i * 31 + tag) % n]["lastUpdateDateTime"] = json!(iso(now - CDuration::seconds(1)));
        let n = t.seed.graph_incidents.len();
        t.seed.graph_incidents[(i * 17 + tag) % n]["lastUpdateDateTime"] = json!(iso(now - CDuration::seconds(2)));
    }
    let inc0 = t.seed.incidents[0].clone();
    let al0 = t.seed.alerts[0].clone();
    let ga0 = t.seed.graph_alerts[0].clone();
    for i in 0..ties {
        let mut v = inc0.clone();
        v["incidentId"] = json!(5_000_000 + tag * 10_000 + i);
        v["lastUpdateTime"] = json!(iso(now));
        v["alerts"] = json!([]);
        t.seed.incidents.push(v);
    }
    for i in 0..ties {
        let mut v = al0.clone();
        v["id"] = json!(format!("da-new-{tag}-{i:04}"));
        v["lastUpdateTime"] = json!(iso(now));
        v["evidence"] = json!([v["evidence"][0].clone()]);
        t.seed.alerts.push(v);
    }
    for i in 0..ties {
        let mut v = ga0.clone();
        v["evidence"] = json!([]);
        v["id"] = json!(format!("ga-new-{tag}-{i:04}"));
        v["lastUpdateDateTime"] = json!(iso(now));
        t.seed.graph_alerts.push(v);
    }
}

/// The stated bound on a run's list calls over `n` records in pages of `page` (docs/export.md): a
/// quarter above the minimum ceil(n / page), plus 8 for sizing the windows.
fn bound(n: usize, page: usize) -> usize {
    n.div_ceil(page) * 5 / 4 + 8
}

async fn run(env: &Env, stream: StreamKind, page: usize, stop: &dyn StopSignal) -> StreamSummary {
    let sink = DirSink::new(&env.dir);
    export_stream(env.source.as_ref(), &sink, &job(stream, page, &unique()), stop).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_incidents_and_fifty_thousand_alerts_then_changes_exactly_once() {
    let env = setup(seed(10_000, 50_000, 3_000, 1_000)).await;
    let mut expected: HashMap<StreamKind, Versions> = HashMap::new();
    for stream in StreamKind::ALL {
        let now = versions(&env.sim, stream);
        let n = now.len();
        clear_requests(&env.sim).await;
        let started = std::time::Instant::now();
        let s = run(&env, stream, stream.max_page(), &Never).await;
        let calls = requests(&env.sim, list_path(stream)).await;
        eprintln!("{stream}: {n} records, {calls} calls, {} objects, {:?}", s.objects, started.elapsed());
        assert_eq!(s.outcome, Outcome::Complete);
        assert_eq!(s.records as usize, n);
        // Windows read with overlapping `$skip` pages, no order assumed: within the stated bound of
        // the minimum ceil(N / page) (documented maxima: MDE 10,000, XDR 100; Graph 50).
        assert!(calls <= bound(n, stream.max_page()), "{stream}: {calls} calls for {n} records");
        assert_eq!(s.api_calls as usize, calls);
        assert_eq!(s.steps_back, 0, "{stream}: nothing changed while it was read");
        expected.insert(stream, now);
        assert_exactly(&expected[&stream], &union(&env.dir, stream), "first export");
    }
    // Updates and new records, 300 of each stream sharing one lastUpdateTime (XDR and Graph: three
    // pages of 100).
    change(&env, 50, 300, 1, Utc::now() + CDuration::seconds(10)).await;
    for stream in StreamKind::ALL {
        let before = expected[&stream].len();
        expected.get_mut(&stream).unwrap().extend(versions(&env.sim, stream));
        let s = run(&env, stream, stream.max_page(), &Never).await;
        assert_eq!(s.outcome, Outcome::Complete);
        assert_eq!(s.records as usize, expected[&stream].len() - before, "{stream}: only the changes");
        assert_exactly(&expected[&stream], &union(&env.dir, stream), "after changes");
    }
    // A run with nothing new writes nothing.
    for stream in [StreamKind::XdrIncidents, StreamKind::GraphAlerts] {
        let s = run(&env, stream, 100, &Never).await;
        assert_eq!((s.records, s.objects), (0, 0), "{stream}");
    }
}

/// Graph `alerts_v2` answers a `$top` request without `@odata.nextLink` (as reported of the live
/// service): the export does not rely on it and reads every alert, within the bound.
#[tokio::test(flavor = "multi_thread")]
async fn graph_alerts_without_a_next_link_are_read_to_the_end() {
    let env = setup(seed(0, 0, 0, 0)).await;
    {
        let mut t = env.sim.sim.tenant.lock().unwrap();
        let ga0 = t.seed.graph_alerts[0].clone();
        let n = t.seed.graph_alerts.len();
        for i in 0..(300 - n) {
            let mut v = ga0.clone();
            v["id"] = json!(format!("ga-x-{i:04}"));
            t.seed.graph_alerts.push(v);
        }
    }
    let (status, body) = get_list(&env.sim, GRAPH_SCOPE, "/v1.0/security/alerts_v2?$top=50").await;
    assert_eq!((status, body["value"].as_array().unwrap().len()), (200, 50));
    assert!(
        body.get("@odata.nextLink").is_none(),
        "strict: no nextLink after a $top: {:?}",
        body.get("@odata.nextLink")
    );
    let (_, body) = get_list(&env.sim, GRAPH_SCOPE, "/v1.0/security/alerts_v2").await;
    assert!(body["@odata.nextLink"].as_str().is_some_and(|l| !l.contains("top")), "without $top it pages by link");
    clear_requests(&env.sim).await;
    let s = run(&env, StreamKind::GraphAlerts, 100, &Never).await;
    assert_eq!((s.records, s.outcome), (300, Outcome::Complete));
    assert!(s.api_calls as usize <= bound(300, 50), "{s:?}");
    let log = request_log(&env.sim).await;
    let graph: Vec<&Value> = log.iter().filter(|r| r["path"] == list_path(StreamKind::GraphAlerts)).collect();
    assert_eq!(graph.len() as u64, s.api_calls);
    for r in &graph {
        let q = r["query"].as_str().unwrap();
        assert!(q.contains("lastUpdateDateTime") || !q.contains("filter"), "{q}");
        assert!(q.contains("%24top=50") && !q.contains("orderby"), "documented options only, $top 50: {q}");
    }
    assert_exactly(&versions(&env.sim, StreamKind::GraphAlerts), &union(&env.dir, StreamKind::GraphAlerts), "graph");
}

/// The strict simulator refuses what the live services refuse and ignores what they do not
/// implement: Graph incidents `$top=51` is a 400; `$orderby` on a list that does not document it is
/// ignored (XDR incidents come newest first by `createdTime`, the others in an order unrelated to
/// time) — the lenient mode, kept for comparison, sorted as asked.
#[tokio::test(flavor = "multi_thread")]
async fn the_strict_simulator_caps_top_and_ignores_undocumented_orderby() {
    let env = setup(seed(150, 150, 0, 60)).await;
    let (status, body) = get_list(&env.sim, GRAPH_SCOPE, "/v1.0/security/incidents?$top=51").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("'50'"), "{body}");
    let (status, body) = get_list(&env.sim, GRAPH_SCOPE, "/v1.0/security/incidents?$top=50").await;
    assert_eq!((status, body["value"].as_array().unwrap().len()), (200, 50));
    let times = |body: &Value, field: &str| -> Vec<DateTime<Utc>> {
        body["value"].as_array().unwrap().iter().map(|v| v[field].as_str().unwrap().parse().unwrap()).collect()
    };
    let sorted = |t: &[DateTime<Utc>]| t.windows(2).all(|w| w[0] <= w[1]);
    let mde = "/api/alerts?$orderby=lastUpdateTime asc&$top=100";
    let (status, body) = get_list(&env.sim, MDE_SCOPE, mde).await;
    assert_eq!(status, 200);
    assert!(!sorted(&times(&body, "lastUpdateTime")), "strict: $orderby ignored on MDE alerts");
    let xdr = "/api/incidents?$orderby=lastUpdateTime asc&$top=100";
    let (_, body) = get_list(&env.sim, XDR_SCOPE, xdr).await;
    let created = times(&body, "createdTime");
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "XDR: most recent first, by createdTime");
    assert!(!sorted(&times(&body, "lastUpdateTime")), "strict: $orderby ignored on XDR incidents");
    // The same query twice: the same order (so `$skip` means something).
    let (_, again) = get_list(&env.sim, XDR_SCOPE, xdr).await;
    assert_eq!(again["value"], body["value"]);
    sim_post(&env.sim, "/_sim/config", &json!({"strict": false})).await;
    let (_, body) = get_list(&env.sim, MDE_SCOPE, mde).await;
    assert!(sorted(&times(&body, "lastUpdateTime")), "lenient: sorted as asked");
    let (status, _) = get_list(&env.sim, GRAPH_SCOPE, "/v1.0/security/incidents?$top=51").await;
    assert_eq!(status, 200, "lenient: no field-reported cap");
}

/// The keyset pager this export used before — `lastUpdateTime ge T`, `$orderby=lastUpdateTime asc`,
/// `$skip` over the ties at `T`, next `T` = the page's last time — run against the strict simulator
/// loses records (the service ignores `$orderby`), and reads everything only on the lenient one.
#[tokio::test(flavor = "multi_thread")]
async fn the_old_keyset_pager_loses_records_on_the_strict_simulator() {
    let env = setup(seed(0, 1_000, 0, 0)).await;
    let all = versions(&env.sim, StreamKind::MdeAlerts);
    async fn keyset(sim: &RunningSim) -> Versions {
        let mut got = Versions::new();
        let (mut anchor, mut skip): (Option<DateTime<Utc>>, usize) = (None, 0);
        for _ in 0..1_000 {
            let filter = anchor.map(|t| format!("&$filter=lastUpdateTime ge {}", iso(t))).unwrap_or_default();
            let q = format!("/api/alerts?$orderby=lastUpdateTime asc&$top=100&$skip={skip}{filter}");
            let (status, body) = get_list(sim, MDE_SCOPE, &q).await;
            assert_eq!(status, 200, "{body}");
            let page: Vec<(String, DateTime<Utc>)> = body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    (v["id"].as_str().unwrap().to_string(), v["lastUpdateTime"].as_str().unwrap().parse().unwrap())
                })
                .collect();
            let n = page.len();
            got.extend(page.iter().cloned());
            let Some(t) = page.iter().map(|v| v.1).max() else { break };
            if anchor == Some(t) {
                skip += n;
            } else {
                skip = page.iter().filter(|v| v.1 >= t).count();
                anchor = Some(t);
            }
            if n < 100 {
                break;
            }
        }
        got
    }
    let strict = keyset(&env.sim).await;
    assert!(strict.len() < all.len() / 2, "strict: the keyset pager read {} of {}", strict.len(), all.len());
    sim_post(&env.sim, "/_sim/config", &json!({"strict": false})).await;
    assert_eq!(keyset(&env.sim).await, all, "lenient: it reads everything");
}

/// A source that, after the first page of the first closed window with more pages, updates the first `k` records of that page (already read)
/// to a later time, as an analyst would while the export reads: they leave the window being read,
/// and every record after them in the service's order moves up by `k`.
struct Meddling {
    inner: Arc<dyn Source>,
    sim: Arc<tenant_sim::state::Sim>,
    stream: StreamKind,
    k: usize,
    calls: AtomicUsize,
    to: DateTime<Utc>,
}

/// The records of a page passed on, its count and first ids noted.
struct Tap<'a> {
    out: &'a mut dyn Records,
    n: usize,
    first: Vec<String>,
    k: usize,
}

impl Records for Tap<'_> {
    fn record(&mut self, r: scheduled_export::export::Record) {
        self.n += 1;
        if self.first.len() < self.k {
            self.first.push(r.id.clone());
        }
        self.out.record(r);
    }
    fn restart(&mut self) {
        (self.n, self.first) = (0, Vec::new());
        self.out.restart();
    }
}

#[async_trait]
impl Source for Meddling {
    async fn page(
        &self,
        stream: StreamKind,
        q: &scheduled_export::export::PageQuery,
        deadline: Deadline,
        out: &mut dyn Records,
    ) -> Result<(), defender_shared::defender::DefenderError> {
        let mut tap = Tap { out, n: 0, first: Vec::new(), k: self.k };
        self.inner.page(stream, q, deadline, &mut tap).await?;
        // The first full page at `$skip=0` of a closed window (one read on in further pages).
        let first_of_window = q.from.is_some() && q.until.is_some() && q.skip == 0 && tap.n == q.top;
        if first_of_window && self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            let ids = tap.first;
            let mut t = self.sim.tenant.lock().unwrap();
            let items = match self.stream {
                StreamKind::XdrIncidents => &mut t.seed.incidents,
                StreamKind::MdeAlerts => &mut t.seed.alerts,
                StreamKind::GraphAlerts => &mut t.seed.graph_alerts,
                StreamKind::GraphIncidents => &mut t.seed.graph_incidents,
            };
            for v in items.iter_mut().filter(|v| ids.contains(&id_of(self.stream, v))) {
                v[self.stream.time_field()] = json!(iso(self.to));
            }
        }
        Ok(())
    }

    async fn hunt(
        &self,
        query: &defender_shared::defender::kql::KqlQuery,
        deadline: Deadline,
    ) -> Result<Vec<Vec<u8>>, defender_shared::defender::DefenderError> {
        self.inner.hunt(query, deadline).await
    }
}

/// Records updated out of the window being read move the rest up the service's order; the pager sees
/// that its next page does not begin with a record it read, steps back, and skips nothing. Every
/// version present when the run started is written once, and so are the new ones.
#[tokio::test(flavor = "multi_thread")]
async fn records_leaving_a_window_while_it_is_read_make_no_other_record_skipped() {
    for stream in [StreamKind::MdeAlerts, StreamKind::XdrIncidents, StreamKind::GraphIncidents] {
        let env = setup(seed(600, 600, 0, 600)).await;
        {
            // Only the generated records (evenly spread), so the windows before the last are closed
            // windows of several pages.
            let mut t = env.sim.sim.tenant.lock().unwrap();
            t.seed.incidents.retain(|v| v["incidentId"].as_u64().is_some_and(|n| n >= 1_000_000));
            t.seed.alerts.retain(|v| v["id"].as_str().is_some_and(|id| id.starts_with("da-gen-")));
            t.seed.graph_incidents.retain(|v| v["id"].as_str().is_some_and(|id| id.starts_with('2')));
        }
        let mut expected = versions(&env.sim, stream);
        let page = 40;
        let meddling = Meddling {
            inner: env.source.clone(),
            sim: env.sim.sim.clone(),
            stream,
            k: 7,
            calls: AtomicUsize::new(0),
            to: Utc::now() + CDuration::days(1),
        };
        let sink = DirSink::new(&env.dir);
        let first = export_stream(&meddling, &sink, &job(stream, page, &unique()), &Never).await.unwrap();
        assert_eq!(first.outcome, Outcome::Complete);
        expected.extend(versions(&env.sim, stream));
        let second = run(&env, stream, page, &Never).await;
        assert_eq!(second.outcome, Outcome::Complete);
        assert_exactly(&expected, &union(&env.dir, stream), &format!("{stream}: updated while read"));
        assert!(first.steps_back >= 1, "{stream}: the shift was seen: {first:?}");
    }
}

/// Fails the `fail_at`-th cursor write (after its data object was written): the S3 failure between
/// the data and the cursor. Hangs at the `hang_at`-th, where a run killed at its deadline stops.
struct FailingSink {
    inner: DirSink,
    writes: AtomicUsize,
    fail_at: usize,
    hang_at: usize,
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
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        if n == self.hang_at {
            std::future::pending::<()>().await;
        }
        if n == self.fail_at {
            return Err(SinkError::Store {
                op: "PutObject",
                key: key.into(),
                message: "503 SlowDown: injected".into(),
            });
        }
        self.inner.put_cursor(key, body, expected).await
    }
}

/// The fault campaign: 20 seeded rounds over the four list streams, each with new versions (runs of
/// ties across page boundaries), random 429/5xx on every list, a failed cursor write after a data
/// object, a deadline cut, a run killed after its lease and two concurrent runs; after every round the
/// union of objects holds every version exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn twenty_seeded_fault_rounds_lose_and_duplicate_nothing() {
    let started = std::time::Instant::now();
    let env = setup(seed(80, 120, 90, 60)).await;
    let http = env.sim.client().unwrap();
    let mut expected: HashMap<StreamKind, Versions> = HashMap::new();
    let page = |s: StreamKind| match s {
        StreamKind::XdrIncidents => 40,
        StreamKind::MdeAlerts => 50,
        StreamKind::GraphAlerts | StreamKind::GraphIncidents => 30,
    };
    let mut conflicts = 0;
    for round in 0..20usize {
        http.delete(format!("{}/_sim/faults", env.sim.url)).send().await.unwrap();
        if round > 0 {
            // Each round's changes 10 minutes after the last (beyond the 5-minute overlap).
            let at = Utc::now() + CDuration::minutes(10 * round as i64);
            change(&env, 3, 45 + round % 3 * 10, round, at).await;
        }
        // Random 429/5xx on every list, seeded per round.
        let faults = json!([
            {"path_prefix": "/api/incidents", "status": 429, "retry_after_s": 0, "probability": 0.2, "seed": round},
            {"path_prefix": "/api/alerts", "status": 503, "retry_after_s": 0, "probability": 0.2, "seed": round + 100},
            {"path_prefix": "/v1.0/security/alerts_v2", "status": 502, "probability": 0.2, "seed": round + 200},
            {"path_prefix": "/v1.0/security/incidents", "status": 429, "retry_after_s": 0, "probability": 0.2, "seed": round + 300},
        ]);
        sim_post(&env.sim, "/_sim/faults", &faults).await;
        for stream in StreamKind::ALL {
            expected.entry(stream).or_default().extend(versions(&env.sim, stream));
            let dir = DirSink::new(&env.dir);
            // 1. a failed cursor write right after a data object (the lease is write 0)
            let failing = FailingSink {
                inner: dir.clone(),
                writes: AtomicUsize::new(0),
                fail_at: 1 + round % 3,
                hang_at: usize::MAX,
            };
            let first =
                export_stream(env.source.as_ref(), &failing, &job(stream, page(stream), &unique()), &Never).await;
            // 2. a deadline cut after a few pages
            let cut = AfterPages(AtomicUsize::new(0), 1 + round % 2);
            let _ = export_stream(env.source.as_ref(), &dir, &job(stream, page(stream), &unique()), &cut).await;
            // 3. a run killed at its deadline: after its lease and possibly a data object, in its next
            //    cursor write (a page's commit or the release). Its lease expires at that deadline; a
            //    run that starts before then does nothing, the next one takes over.
            let killed = FailingSink {
                inner: dir.clone(),
                writes: AtomicUsize::new(0),
                fail_at: usize::MAX,
                hang_at: 1 + round % 2,
            };
            let mut kjob = job(stream, page(stream), "killed");
            kjob.lease_until = kjob.started + CDuration::seconds(1);
            let kill = async {
                while killed.writes.load(Ordering::SeqCst) <= killed.hang_at {
                    tokio::task::yield_now().await;
                }
            };
            tokio::select! {
                r = export_stream(env.source.as_ref(), &killed, &kjob, &Never) => {
                    // It finished before its second write (no new page, lease released at write 1).
                    assert!(killed.hang_at > 1, "round {round} {stream}: the killed run was not killed: {r:?}");
                }
                () = kill => {}
            }
            let mut blocked = job(stream, page(stream), &unique());
            blocked.started = kjob.lease_until - CDuration::milliseconds(1);
            let b = export_stream(env.source.as_ref(), &dir, &blocked, &Never).await.unwrap();
            if killed.writes.load(Ordering::SeqCst) > killed.hang_at {
                assert_eq!(b.outcome, Outcome::Conflict, "round {round} {stream}: a live lease blocks");
                assert_eq!((b.objects, b.api_calls), (0, 0), "a run blocked by a live lease does nothing");
            }
            // 4. two concurrent runs, after the dead lease expired; then runs until one completes.
            let mut done = false;
            for _ in 0..30 {
                let a = job(stream, page(stream), &unique());
                let mut b = job(stream, page(stream), &unique());
                (b.started, b.lease_until) = (a.started, a.lease_until);
                let (ra, rb) = tokio::join!(
                    export_stream(env.source.as_ref(), &dir, &a, &Never),
                    export_stream(env.source.as_ref(), &dir, &b, &Never)
                );
                let outcomes: Vec<Outcome> =
                    [&ra, &rb].iter().filter_map(|r| r.as_ref().ok()).map(|s| s.outcome).collect();
                conflicts += outcomes.iter().filter(|o| **o == Outcome::Conflict).count();
                assert!(
                    !(outcomes.len() == 2
                        && outcomes.iter().all(|o| *o != Outcome::Conflict)
                        && [&ra, &rb].iter().all(|r| r.as_ref().is_ok_and(|s| s.records > 0))),
                    "round {round} {stream}: two runs both advanced the cursor: {ra:?} {rb:?}"
                );
                if outcomes.contains(&Outcome::Complete) {
                    done = true;
                    break;
                }
            }
            assert!(done, "round {round} {stream}: never completed (first run: {first:?})");
            assert_exactly(&expected[&stream], &union(&env.dir, stream), &format!("round {round} {stream}"));
        }
        eprintln!("round {round}: {:?}", started.elapsed());
    }
    let log = request_log(&env.sim).await;
    let injected = log.iter().filter(|r| [429, 502, 503].contains(&r["status"].as_u64().unwrap_or(0))).count();
    eprintln!(
        "20 rounds: {} requests, {injected} injected faults, {conflicts} conflicts, {:?}",
        log.len(),
        started.elapsed()
    );
    assert!(injected > 50, "the faults were injected ({injected})");
    assert!(conflicts >= 20, "concurrent runs met ({conflicts})");
}

/// A hunting stream against a table large enough for the (lowered) row cap: a truncated slice is
/// halved until it fits, a cut run resumes at the first unfinished slice, and every row is written
/// exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn hunting_slices_halve_when_truncated_and_resume() {
    let now = Utc::now();
    let mut s: Value = serde_json::from_str(tenant_sim::seed::DEMO).unwrap();
    // Times as written (no shift of the demo's `as_of` to now).
    s.as_object_mut().unwrap().remove("as_of");
    let row0 = s["hunting"]["DeviceProcessEvents"][0].clone();
    let mut rows = Vec::new();
    // 300 rows over the last 20 hours, 120 of them inside one hour: that hour is over the cap of 40.
    for i in 0..300i64 {
        let mut r = row0.clone();
        r["ReportId"] = json!(900_000 + i);
        let t = if i < 120 {
            now - CDuration::hours(6) + CDuration::seconds(i * 25)
        } else {
            now - CDuration::minutes(20 * (i - 120) / 3 + 30)
        };
        r["Timestamp"] = json!(iso(t));
        rows.push(r);
    }
    s["hunting"]["DeviceProcessEvents"] = json!(rows);
    let env = setup(Seed::parse(&s.to_string()).unwrap()).await;
    sim_post(&env.sim, "/_sim/config", &json!({"hunting_max_rows": 40})).await;
    let spec = Arc::new(proc_spec("Timestamp, ReportId, DeviceName, FileName", 40));
    let stream = Stream::Hunting(spec);
    let mk = |run: &str| {
        let mut j = job(stream.clone(), 0, run);
        j.started = now;
        j.lease_until = now + CDuration::minutes(15);
        j
    };
    let sink = DirSink::new(&env.dir);
    let first =
        export_stream(env.source.as_ref(), &sink, &mk("h1"), &AfterPages(AtomicUsize::new(0), 12)).await.unwrap();
    assert_eq!(first.outcome, Outcome::Stopped);
    let mut second_job = mk("h2");
    second_job.started = now + CDuration::seconds(1);
    let second = export_stream(env.source.as_ref(), &sink, &second_job, &Never).await.unwrap();
    assert_eq!(second.outcome, Outcome::Complete);
    assert_eq!(second.cursor_before, first.cursor_after, "the second run resumes at the first unfinished slice");
    assert!(first.windows_halved + second.windows_halved >= 2, "{first:?} {second:?}");
    let got = lines(&env.dir, "hunting:proc");
    let mut ids: BTreeMap<i64, usize> = BTreeMap::new();
    for v in &got {
        *ids.entry(v["ReportId"].as_i64().unwrap()).or_default() += 1;
    }
    let cutoff = now - CDuration::minutes(5);
    let want: BTreeSet<i64> = s["hunting"]["DeviceProcessEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let t: DateTime<Utc> = r["Timestamp"].as_str().unwrap().parse().unwrap();
            t >= now - CDuration::hours(24) && t < cutoff
        })
        .map(|r| r["ReportId"].as_i64().unwrap())
        .collect();
    assert!(want.len() >= 290, "{}", want.len());
    assert!(ids.values().all(|n| *n == 1), "a row written twice");
    assert_eq!(ids.keys().copied().collect::<BTreeSet<_>>(), want);
    assert_eq!(first.records + second.records, want.len() as u64);
}

/// A window holding more records than one run can read — 600 alerts sharing one `lastUpdateTime`
/// (a window of ties cannot be cut smaller), read in pages of 50 by runs cut after 8 calls —
/// completes over several runs: each goes on at the position the last one committed inside the
/// window, and every version is written once. (Before: each run started the window over from
/// `$skip=0`, found only versions it had written, and stopped at the same place — never complete.)
#[tokio::test(flavor = "multi_thread")]
async fn a_window_larger_than_one_run_completes_over_several_runs() {
    let stream = StreamKind::MdeAlerts;
    let env = setup(seed(0, 600, 0, 0)).await;
    {
        let mut t = env.sim.sim.tenant.lock().unwrap();
        let generated = |v: &Value| v["id"].as_str().is_some_and(|id| id.starts_with("da-gen-"));
        let tie = t.seed.alerts.iter().find(|v| generated(v)).unwrap()["lastUpdateTime"].clone();
        for v in t.seed.alerts.iter_mut().filter(|v| generated(v)) {
            v["lastUpdateTime"] = tie.clone();
        }
    }
    let expected = versions(&env.sim, stream);
    assert!(expected.len() >= 600);
    let mut runs = Vec::new();
    for _ in 0..12 {
        let s = run(&env, stream, 50, &AfterPages(AtomicUsize::new(0), 8)).await;
        let done = s.outcome == Outcome::Complete;
        runs.push(s);
        if done {
            break;
        }
    }
    let progress: Vec<(u64, u64, Outcome)> = runs.iter().map(|r| (r.records, r.api_calls, r.outcome)).collect();
    assert_eq!(runs.last().unwrap().outcome, Outcome::Complete, "(records, calls, outcome) per run: {progress:?}");
    assert!(runs.iter().all(|r| r.api_calls <= 8), "{progress:?}");
    assert_exactly(&expected, &union(&env.dir, stream), "a window read over several runs");
    // The cursor's identities are counted: the overlap window's after the last run.
    assert!(runs.last().unwrap().identities > 0 && runs.iter().all(|r| r.identities_dropped == 0), "{runs:?}");
}

/// The simulator's procedural alert sequence (what `make bench` exports a million of), served in an
/// order unrelated to time: each generated alert exactly once, within the bound.
#[tokio::test(flavor = "multi_thread")]
async fn generated_alerts_export_exactly_once() {
    let mut s: Value = serde_json::from_str(tenant_sim::seed::DEMO).unwrap();
    s["generated_alerts"] = json!({"count": 12_000, "first": "2026-11-01T00:00:00Z", "step_ms": 50});
    let env = setup(Seed::parse(&s.to_string()).unwrap()).await;
    clear_requests(&env.sim).await;
    let sum = run(&env, StreamKind::MdeAlerts, 5_000, &Never).await;
    assert_eq!((sum.records, sum.outcome), (12_000, Outcome::Complete));
    assert!(sum.api_calls as usize <= bound(12_000, 5_000), "{sum:?}");
    assert_eq!(requests(&env.sim, "/api/alerts").await as u64, sum.api_calls);
    let got = union(&env.dir, StreamKind::MdeAlerts);
    assert_eq!(got.len(), 12_000);
    assert!(got.values().all(|n| *n == 1));
    let first: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    assert!(got.contains_key(&("da-gen-0000011999".to_string(), first + CDuration::milliseconds(11_999 * 50))));
    // The next run re-reads only the 5-minute overlap window (6,000 alerts) and writes nothing.
    let again = run(&env, StreamKind::MdeAlerts, 5_000, &Never).await;
    assert_eq!((again.records, again.objects, again.skipped), (0, 0, 6_001), "{again:?}");
}

/// Issue 17: a first run's windows stay the size they are cut for. The window that reaches the
/// sample's least time starts far below it (the lower bound's probes leave empty windows that grew
/// the width fourfold each); the next width must be scaled from the span that held its records, not
/// from the grown width. (Before the fix, the window after it held 16 windows' worth: on the bench,
/// 620,000 of the 1,000,000 alerts in one window, whose identities took the export's peak RSS from
/// 48 to 100 MiB.)
#[tokio::test(flavor = "multi_thread")]
async fn a_first_run_reads_no_window_in_more_than_twice_the_pages_it_is_sized_for() {
    let (alerts, top) = (10_000usize, 50usize);
    let mut s: Value = serde_json::from_str(tenant_sim::seed::DEMO).unwrap();
    s["generated_alerts"] = json!({"count": alerts, "first": "2026-11-01T00:00:00Z", "step_ms": 50});
    let env = setup(Seed::parse(&s.to_string()).unwrap()).await;
    clear_requests(&env.sim).await;
    let sum = run(&env, StreamKind::MdeAlerts, top, &Never).await;
    assert_eq!((sum.records, sum.outcome), (alerts as u64, Outcome::Complete), "{sum:?}");
    // Pages per window: the requests that share one `$filter` (the window's bounds).
    let mut pages: BTreeMap<String, usize> = BTreeMap::new();
    for r in request_log(&env.sim).await.iter().filter(|r| r["path"] == "/api/alerts") {
        let query = r["query"].as_str().unwrap_or_default();
        let filter = query.split('&').find(|p| p.starts_with("%24filter=")).unwrap_or("(none)");
        *pages.entry(filter.to_string()).or_default() += 1;
    }
    // Windows are sized for 8 pages of 50 (`window_target`); the one reaching the sample holds a
    // sixteenth of the sample's span, 625 alerts (13 pages).
    let largest = pages.values().max().copied().unwrap_or(0);
    assert!(largest <= 16, "a window read in {largest} pages of {top} ({} windows): {pages:?}", pages.len());
    assert!(sum.api_calls as usize <= bound(alerts, top), "{sum:?}");
}

/// The demo seed plus `n` XDR incidents one hour apart: spread out, so each window the pager cuts
/// completes within one run's 50 calls and a backlog paced by the quota makes progress run by run.
fn hourly_incidents(n: usize) -> Seed {
    let mut s: Value = serde_json::from_str(tenant_sim::seed::DEMO).unwrap();
    let as_of: DateTime<Utc> = s["as_of"].as_str().unwrap().parse().unwrap();
    let inc0 = s["incidents"][0].clone();
    for i in 0..n {
        let mut v = inc0.clone();
        v["incidentId"] = json!(1_000_000 + i);
        v["lastUpdateTime"] = json!(iso(as_of - CDuration::days(20) + CDuration::hours(i as i64)));
        v["alerts"] = json!([]);
        s["incidents"].as_array_mut().unwrap().push(v);
    }
    Seed::parse(&s.to_string()).unwrap()
}

/// Issue 19.3: the XDR incidents list's 50 calls/min used up with the next slot after the run's
/// deadline is a clean stop — the cursor committed at the last page, its lease released, the summary
/// saying why — and the next run resumes there. Two ways to meet the quota: the client's own pacing
/// refuses a slot after the deadline, or (pacing off) the service answers 429 with a wait past it.
/// (Before the fix: `Err(Source { Paced { endpoint: "xdr.incidents.list", wait: 55.7s } })`.)
#[tokio::test(flavor = "multi_thread")]
async fn a_quota_slot_after_the_deadline_is_a_clean_stop_and_the_next_run_resumes() {
    let stream = StreamKind::XdrIncidents;
    for paced in [true, false] {
        let governor = || if paced { Governor::documented() } else { Governor::disabled() };
        let env = setup_with(hourly_incidents(300), true, governor()).await;
        let expected = versions(&env.sim, stream);
        let sink = DirSink::new(&env.dir);
        let mut source = env.source.clone();
        let mut runs = Vec::new();
        for run in 0..8 {
            let mut j = job(stream, 4, &unique());
            // Well inside the quota's minute (the next slot after 50 calls is ~60 s after the first),
            // and long enough for 50 calls on a busy machine.
            j.deadline = Deadline::after(Duration::from_secs(30));
            let s = export_stream(source.as_ref(), &sink, &j, &Never)
                .await
                .unwrap_or_else(|e| panic!("paced={paced} run {run}: the quota failed the stream: {e:?}"));
            // The cursor is committed where the summary says, and released.
            let (doc, _) = sink.get_cursor(&cursor_key(&j)).await.unwrap().unwrap();
            let cursor: Value = serde_json::from_slice(&doc).unwrap();
            assert_eq!(cursor["high_water"], serde_json::to_value(&s.cursor_after).unwrap(), "run {run}");
            assert!(cursor["lease"].is_null(), "run {run}: {cursor}");
            let done = s.outcome == Outcome::Complete;
            runs.push(s);
            if done {
                break;
            }
            // The next scheduled run: a minute later for the service's quota, and a new process (a
            // fresh governor) for the client's.
            sim_post(&env.sim, "/_sim/clock", &json!({"advance_s": 61})).await;
            source = source_for(&env.sim, governor()).await;
        }
        let first = &runs[0];
        assert_eq!(first.outcome, Outcome::Stopped, "paced={paced}: {first:?}");
        assert!(first.records > 0 && first.api_calls >= 50, "paced={paced}: {first:?}");
        // The summary says why: the quota, its endpoint and its wait (past the deadline).
        match &first.stop_reason {
            Some(StopReason::Quota { endpoint, retry_after_s }) => {
                assert_eq!(*endpoint, "xdr.incidents.list");
                assert!(*retry_after_s > 0 && *retry_after_s <= 61, "{retry_after_s}");
            }
            other => panic!("paced={paced}: stopped for {other:?}"),
        }
        assert_eq!((first.throttles, first.throttles_retried), (1, 0), "paced={paced}: {first:?}");
        let emf = scheduled_export::handler::emf(first, 0);
        assert_eq!(emf["StopReason"]["reason"], "quota", "{emf}");
        assert_eq!(emf["Throttles"], 1, "{emf}");
        assert!(runs.len() >= 2 && runs.last().unwrap().outcome == Outcome::Complete, "paced={paced}: {runs:?}");
        assert_exactly(&expected, &union(&env.dir, stream), &format!("paced={paced}"));
    }
}

/// Issue 19.3: the summary and the metrics tell 429s the client met and retried (the stream went on)
/// from throttles that ended the stream; before, `throttles` was 0 however many 429s were retried.
#[tokio::test(flavor = "multi_thread")]
async fn retried_429s_and_a_429_that_ends_the_stream_are_counted_apart() {
    let env = setup(seed(30, 0, 0, 0)).await;
    let stream = StreamKind::XdrIncidents;
    let http = env.sim.client().unwrap();
    let faults = |retry_after_s: u64, times: u32| json!([{"path_prefix": "/api/incidents", "status": 429, "retry_after_s": retry_after_s, "times": times}]);
    // Three 429s with a short wait: retried, the stream completes.
    sim_post(&env.sim, "/_sim/faults", &faults(0, 3)).await;
    let s = run(&env, stream, 10, &Never).await;
    assert_eq!(s.outcome, Outcome::Complete, "{s:?}");
    assert_eq!((s.throttles_retried, s.throttles, s.stop_reason.clone()), (3, 0, None), "{s:?}");
    let emf = scheduled_export::handler::emf(&s, 0);
    assert_eq!((emf["ThrottlesRetried"].as_u64(), emf["Throttles"].as_u64()), (Some(3), Some(0)), "{emf}");
    let names: Vec<&str> = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"ThrottlesRetried") && names.contains(&"Throttles"), "{names:?}");
    // A 429 asking for ten minutes, past the run's deadline: the stream stops there, counted as
    // ending it, not as retried.
    http.delete(format!("{}/_sim/faults", env.sim.url)).send().await.unwrap();
    sim_post(&env.sim, "/_sim/faults", &faults(600, 1)).await;
    let s = run(&env, stream, 10, &Never).await;
    assert_eq!(s.outcome, Outcome::Stopped, "{s:?}");
    assert_eq!((s.throttles_retried, s.throttles), (0, 1), "{s:?}");
    assert_eq!(s.stop_reason, Some(StopReason::Quota { endpoint: "xdr.incidents.list", retry_after_s: 600 }));
}

/// The permission manifest cannot drift from the code: every documented endpoint an export of every
/// stream (the four lists and a hunting query) reaches in the simulator — its request log names the
/// endpoint each request routed to — is in `scheduled_export::ENDPOINTS`, the list `doctor`, the
/// grant script and the cold-start check use.
#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_the_export_calls_is_in_its_declared_list() {
    let env = setup(seed(0, 0, 0, 0)).await;
    for stream in StreamKind::ALL {
        assert_eq!(run(&env, stream, stream.max_page(), &Never).await.outcome, Outcome::Complete, "{stream}");
    }
    let spec = proc_spec("Timestamp, ReportId, DeviceName", 1000);
    let sink = DirSink::new(&env.dir);
    let hunt = job(Stream::Hunting(Arc::new(spec)), 0, "h");
    assert_eq!(export_stream(env.source.as_ref(), &sink, &hunt, &Never).await.unwrap().outcome, Outcome::Complete);
    let called = env.sim.endpoints_called();
    let outside = env.sim.endpoints_called_outside(scheduled_export::ENDPOINTS.iter().map(|e| e.name()));
    assert!(outside.is_empty(), "called but not in scheduled_export::ENDPOINTS: {outside:?}");
    // Every stream ran, so the check above is not vacuous: the export calls its whole list.
    assert_eq!(called.len(), scheduled_export::ENDPOINTS.len(), "{called:?}");
}

/// The hunting stream `proc`: `DeviceProcessEvents | project <columns>` in one-hour slices over the
/// last day, at most `max_rows` rows an answer.
fn proc_spec(columns: &str, max_rows: usize) -> HuntingSpec {
    let query = format!("DeviceProcessEvents | project {columns}");
    let config = QueryConfig { name: "proc".into(), query, time_column: "Timestamp".into() };
    HuntingSpec::new(config, CDuration::hours(1), CDuration::hours(24), max_rows).unwrap()
}

/// POSTs `body` to the simulator's control endpoint `path` (`/_sim/config`, `/_sim/clock`,
/// `/_sim/faults`), which must accept it.
async fn sim_post(sim: &RunningSim, path: &str, body: &serde_json::Value) {
    let r = sim.client().unwrap().post(format!("{}{path}", sim.url)).json(body).send().await.unwrap();
    let status = r.status();
    assert!(status.is_success(), "{path}: {status} {}", r.text().await.unwrap_or_default());
}

/// A cursor written before the identities were keys (`recent` as `[time, id]` pairs) is read with
/// every identity: the run that resumes from it — in the middle of a window, and then over the
/// overlap window — writes nothing twice and loses nothing, and leaves the compact format.
#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_from_before_the_key_store_resumes_without_a_duplicate() {
    let stream = StreamKind::MdeAlerts;
    let mut s: Value = serde_json::from_str(tenant_sim::seed::DEMO).unwrap();
    s["generated_alerts"] = json!({"count": 12_000, "first": "2026-11-01T00:00:00Z", "step_ms": 50});
    let env = setup(Seed::parse(&s.to_string()).unwrap()).await;
    let sink = DirSink::new(&env.dir);
    let cut = run(&env, stream, 1_000, &AfterPages(AtomicUsize::new(0), 6)).await;
    assert_eq!(cut.outcome, Outcome::Stopped, "{cut:?}");
    // The committed cursor rewritten as the earlier build wrote it: every version written so far as
    // a `[time, id]` pair, in (time, id) order.
    let key = cursor_key(&job(stream, 1_000, "x"));
    let (doc, tag) = sink.get_cursor(&key).await.unwrap().unwrap();
    let mut cursor: Value = serde_json::from_slice(&doc).unwrap();
    assert!(cursor["position"].is_object(), "cut inside a window: {}", cursor["position"]);
    let written: BTreeSet<(DateTime<Utc>, String)> =
        union(&env.dir, stream).into_keys().map(|(id, t)| (t, id)).collect();
    assert_eq!(written.len() as u64, cut.records);
    assert_eq!(cursor["recent"].as_array().unwrap().len(), written.len(), "the window's identities are all kept");
    cursor["recent"] = serde_json::to_value(&written).unwrap();
    let old = serde_json::to_vec(&cursor).unwrap();
    assert!(String::from_utf8_lossy(&old).contains("\"da-gen-0000000000\"]"), "pairs with ids");
    sink.put_cursor(&key, old, Some(&tag)).await.unwrap();
    let rest = run(&env, stream, 1_000, &Never).await;
    assert_eq!((rest.outcome, rest.records + cut.records), (Outcome::Complete, 12_000), "{rest:?}");
    // Each of the 12,000 generated alerts (the only ones served) exactly once.
    let got = union(&env.dir, stream);
    assert_eq!(got.len(), 12_000);
    let dups: Vec<_> = got.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dups.is_empty(), "written twice after the upgrade: {dups:?}");
    let (doc, _) = sink.get_cursor(&key).await.unwrap().unwrap();
    let cursor: Value = serde_json::from_slice(&doc).unwrap();
    assert!(cursor["recent"].as_array().unwrap().iter().all(Value::is_string), "rewritten as keys");
    let again = run(&env, stream, 1_000, &Never).await;
    assert_eq!((again.records, again.objects), (0, 0), "{again:?}");
}
