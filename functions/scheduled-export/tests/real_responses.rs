//! Record fidelity on real data: the alerts and XDR incidents of `contract/real-responses/` (recorded
//! from real tenants by other projects, plus their docs copies; each file's `note` says which) are
//! seeded into the simulated tenant, exported through the production source and pager into the
//! local-directory sink, and read back: each exported line equals, as JSON, the entity that was
//! seeded — nulls, unknown members, number-vs-string and all. Alerts our model cannot read (the
//! export reads only id and time) and an incident without `lastUpdateTime` are exported too, and
//! the run summary counts the untimed one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::Utc;
use defender_shared::defender::{
    governor::Governor,
    models::{Page, alerts::Alert, incidents::Incident},
};
use scheduled_export::{
    export::{Outcome, Source, StopSignal, StreamKind, StreamSummary, export_stream},
    sink::DirSink,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};
use tenant_sim::{SimOptions, seed::Seed};
use testkit::SimEnv;

/// Every entity of the corpus files of `kind`, first occurrence of each id (the simulator holds one
/// version of an entity), those without an id left out (the seed needs one).
fn corpus(kind: &str, id_key: &str) -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contract/real-responses");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "json")) {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        if doc["kind"] != kind {
            continue;
        }
        for e in doc["entities"].as_array().unwrap() {
            if let Some(id) = e.get(id_key).filter(|v| !v.is_null())
                && seen.insert(id.to_string())
            {
                out.push(e.clone());
            }
        }
    }
    out
}

struct Env {
    _sim: SimEnv,
    source: Arc<dyn Source>,
    dir: PathBuf,
}

async fn setup(alerts: Vec<Value>, incidents: Vec<Value>) -> Env {
    let mut s: Value = serde_json::from_str(tenant_sim::seed::DEMO).unwrap();
    // No rebasing: the seeded timestamps are served as recorded.
    s.as_object_mut().unwrap().remove("as_of");
    s["alerts"] = Value::Array(alerts);
    s["incidents"] = Value::Array(incidents);
    let mut opts = SimOptions::demo().unwrap();
    opts.seed = Seed::parse(&s.to_string()).unwrap();
    opts.config.quotas = false;
    let sim = SimEnv::start(opts).await;
    let dir = sim.dir.clone();
    let source = support::source_for(&sim, Governor::disabled()).await;
    Env { _sim: sim, source, dir: dir.join("out") }
}

struct Never;
impl StopSignal for Never {
    fn should_stop(&self) -> bool {
        false
    }
}

async fn run(env: &Env, stream: StreamKind, page: usize, run: &str) -> StreamSummary {
    let job = support::job_at(Utc::now(), stream, page, run);
    export_stream(env.source.as_ref(), &DirSink::new(&env.dir), &job, &Never).await.unwrap()
}

/// The `record` of each exported line of `stream`, as JSON, after checking its envelope.
fn lines(dir: &Path, stream: StreamKind) -> Vec<Value> {
    raw_lines(dir, stream).iter().map(|l| serde_json::from_str(record_text(l, stream)).unwrap()).collect()
}

/// The `record` member's text of one line: the line must be exactly
/// `{"tenant":"default","stream":"<stream>","record":` + the record's bytes + `}`.
fn record_text(line: &str, stream: StreamKind) -> &str {
    let prefix = format!("{{\"tenant\":\"default\",\"stream\":\"{stream}\",\"record\":");
    let inner = line.strip_prefix(prefix.as_str()).and_then(|r| r.strip_suffix('}'));
    inner.unwrap_or_else(|| panic!("not the envelope of {stream}: {line}"))
}

/// The exported lines of `stream`, as text.
fn raw_lines(dir: &Path, stream: StreamKind) -> Vec<String> {
    support::gz_lines(dir, &stream.to_string())
}

/// How many of `items` our model `T` cannot read (decoded as page items, as the export does).
fn undecodable<T: DeserializeOwned>(items: &[Value]) -> u64 {
    let page: Page<T> = serde_json::from_str(&json!({ "value": items }).to_string()).unwrap();
    page.undecoded().count() as u64
}

fn assert_each_exported_as_seeded(seeded: &[Value], exported: &[Value], id_key: &str) {
    let by_id: BTreeMap<String, &Value> = exported.iter().map(|v| (v[id_key].to_string(), v)).collect();
    assert_eq!(by_id.len(), exported.len(), "each record once");
    assert_eq!(exported.len(), seeded.len(), "every seeded record is exported");
    let mut nulls = 0;
    for s in seeded {
        let id = s[id_key].to_string();
        let got = by_id.get(&id).unwrap_or_else(|| panic!("{id_key} {id} was not exported"));
        assert_eq!(*got, s, "{id_key} {id} is not exported as received");
        nulls += s.to_string().matches(":null").count();
    }
    assert!(nulls > 100, "the corpus has nulls to keep ({nulls})");
}

/// Byte for byte: each line's `record` is the seeded item's JSON text as the simulator serves it
/// (serde_json, key order kept), so the envelope neither re-orders nor re-spells the item.
fn assert_each_record_is_the_served_bytes(seeded: &[Value], lines: &[String], stream: StreamKind, id_key: &str) {
    let served: BTreeMap<String, String> = seeded.iter().map(|s| (s[id_key].to_string(), s.to_string())).collect();
    assert_eq!(lines.len(), seeded.len());
    for l in lines {
        let text = record_text(l, stream);
        let id = serde_json::from_str::<Value>(text).unwrap()[id_key].to_string();
        assert_eq!(Some(text), served.get(&id).map(String::as_str), "{id_key} {id}: the record's bytes changed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn recorded_alerts_and_incidents_are_exported_as_received() {
    let mut alerts = corpus("alert", "id");
    let mut incidents = corpus("incident", "incidentId");
    assert!(alerts.len() >= 20 && incidents.len() >= 100, "{} alerts, {} incidents", alerts.len(), incidents.len());
    // One alert our model refuses (a severity as a number): the export reads only its id and time,
    // so it is keyed and written like the others, not `undecodable`.
    let mut odd = alerts[0].clone();
    odd["id"] = json!("da-odd-severity");
    odd["severity"] = json!(3);
    alerts.push(odd);
    // Two alerts whose ids are longer than the model's alert id allows and alike in their first 128
    // characters, at one time: each is its own record (keyed by the id as sent, the model refuses
    // neither). The full decode keyed them by the first 128 characters and wrote one.
    for end in ["x", "y"] {
        let mut long = alerts[1].clone();
        long["id"] = json!(format!("da{}{end}", "7".repeat(130)));
        long["lastUpdateTime"] = json!("2026-01-01T00:00:00.1234567Z");
        alerts.push(long);
    }
    // And one incident without a time.
    let mut untimed = incidents[0].clone();
    untimed["incidentId"] = json!(9_999_001);
    untimed.as_object_mut().unwrap().remove("lastUpdateTime");
    // The most recent by creation: XDR lists most recent first, so the first (unfiltered) page of a
    // first run holds it; no time-filtered page can.
    untimed["createdTime"] = json!("2026-01-01T00:00:00.123Z");
    incidents.push(untimed);
    assert_eq!(undecodable::<Alert>(&alerts), 3, "the model refuses the planted alerts");
    assert_eq!(undecodable::<Incident>(&incidents), 0);
    let untimed_incidents = incidents.iter().filter(|i| i["lastUpdateTime"].as_str().is_none()).count() as u64;

    let env = setup(alerts.clone(), incidents.clone()).await;
    let s = run(&env, StreamKind::MdeAlerts, StreamKind::MdeAlerts.max_page(), "r1").await;
    assert_eq!(s.outcome, Outcome::Complete);
    assert_eq!((s.records, s.undecodable), (alerts.len() as u64, 0), "{s:?}");
    assert_each_exported_as_seeded(&alerts, &lines(&env.dir, StreamKind::MdeAlerts), "id");
    assert_each_record_is_the_served_bytes(
        &alerts,
        &raw_lines(&env.dir, StreamKind::MdeAlerts),
        StreamKind::MdeAlerts,
        "id",
    );

    let s = run(&env, StreamKind::XdrIncidents, StreamKind::XdrIncidents.max_page(), "r2").await;
    assert_eq!(s.outcome, Outcome::Complete);
    assert_eq!((s.records, s.untimed), (incidents.len() as u64, untimed_incidents), "{s:?}");
    assert!(untimed_incidents >= 1);
    let exported = lines(&env.dir, StreamKind::XdrIncidents);
    assert_each_exported_as_seeded(&incidents, &exported, "incidentId");
    let raw = raw_lines(&env.dir, StreamKind::XdrIncidents);
    assert_each_record_is_the_served_bytes(&incidents, &raw, StreamKind::XdrIncidents, "incidentId");
    // The cursor's mark came from the records with a time: the latest of them.
    let latest = incidents
        .iter()
        .filter_map(|i| i["lastUpdateTime"].as_str()?.parse::<chrono::DateTime<Utc>>().ok())
        .max()
        .unwrap();
    assert_eq!(s.cursor_after.as_ref().map(|v| v.0), Some(latest));
}
