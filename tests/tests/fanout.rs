//! MSSP fan-out end to end (`ExportFanOut=sqs-fifo`), through the real binaries on the stand-ins: the
//! template resolved in fan-out mode, moto holding its FIFO job queue, its FIFO DLQ (redrive after 3
//! receives) and the bucket, with **IAM enforced from the template's own policies** (the scheduler
//! may only `SendMessage` to the queue; the worker receives, deletes and writes the bucket); a fleet
//! of simulated tenants (each its own directory id, data and quota); `scheduled-export` (the
//! scheduler) and two `export-worker` processes under the Runtime API emulator.
//!
//! cargo-lambda's emulator does not run SQS event source mappings, so the test plays the mapping as
//! Lambda does with `BatchSize: 1` and `ReportBatchItemFailures`: receive one message with the
//! worker's role, invoke the worker with the real SQS event shape, delete the message unless the
//! answer lists it as failed (a failed one comes back when its visibility timeout expires; the
//! test shortens that timeout per receive, as the only change to Lambda's behaviour).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::bus::{BUS, assert_documented, assert_may_not_publish_elsewhere, bus_to_queue, drain};
use defender_shared::events::DetailType;
use lambda_emu::Emulator;
use local_runner::{
    env::{self, APP},
    moto::{Credentials, TemplateAws},
    paths::Paths,
};
use serde_json::{Value, json};
use std::{collections::BTreeMap, path::PathBuf, process::Stdio, sync::Arc, time::Duration};
use tenant_sim::fleet::{FleetOptions, RunningFleet, start_fleet, tenant_name};

const TENANTS: usize = 4;
/// Visibility timeout per receive (the queue's is 3600 s: six times the worker's timeout).
const VISIBILITY_S: i32 = 2;

fn resolved() -> Value {
    common::resolved("kv-fanout", &[("ExportFanOut", "sqs-fifo"), ("EventBusName", BUS)])
}

struct Rig {
    fleet: RunningFleet,
    aws: TemplateAws,
    dir: PathBuf,
    bucket: String,
    queue: String,
    dlq: String,
}

impl Drop for Rig {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

async fn rig(tag: &str) -> Rig {
    let fleet = start_fleet(FleetOptions { alerts: 20..=150, ..FleetOptions::new(TENANTS, 7) }).await.unwrap();
    let aws = TemplateAws::start(resolved(), None).await.unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!("df-fanout-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), &fleet.ca_pem).unwrap();
    std::fs::write(dir.join("tenants.json"), fleet.registry(APP, "defender-client-secret").to_string()).unwrap();
    let bucket = aws.reference("ExportBucket").unwrap().to_string();
    let queue = aws.reference("ExportJobQueue").unwrap().to_string();
    let dlq = aws.reference("ExportJobDeadLetterQueue").unwrap().to_string();
    Rig { fleet, aws, dir, bucket, queue, dlq }
}

/// A function binary under its own Runtime API emulator, with the template's AWS side for it (its
/// role's credentials, its resource names) and the fleet as Entra, Key Vault and Defender.
struct Process {
    emu: Arc<Emulator>,
    _child: tokio::process::Child,
}

async fn spawn(rig: &Rig, binary: &str) -> Process {
    let emu = Arc::new(Emulator::start().await.unwrap());
    let mut base = env::base(&rig.fleet.url, &rig.fleet.tenants[0].tenant_id(), &rig.dir.join("ca.pem"));
    base.insert("DEFENDER_TENANTS_FILE".into(), rig.dir.join("tenants.json").display().to_string());
    base.insert("RUST_LOG".into(), "warn".into());
    let mut aws_env = rig.aws.env(binary);
    assert!(!aws_env.is_empty(), "{binary} is in the fan-out template");
    // The bus names no resource of the template, so `TemplateAws::env` does not carry it.
    if let Some(bus) = rig.aws.function(binary).unwrap()["environment"]["EVENT_BUS"].as_str() {
        aws_env.push(("EVENT_BUS".into(), bus.to_string()));
    }
    let child = tokio::process::Command::new(Paths::discover().binary(binary).unwrap())
        .env_clear()
        .envs(emu.env(binary))
        .envs(base)
        .envs(aws_env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    Process { emu, _child: child }
}

fn sqs(rig: &Rig, c: &Credentials) -> aws_sdk_sqs::Client {
    rig.aws.sqs(c)
}

fn firing(time: &str, execution: &str) -> Value {
    json!({"schedule_arn": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/defender-export",
        "scheduled_time": time, "execution_id": execution, "attempt_number": "1"})
}

/// What the mapping did with each message.
#[derive(Debug, Default)]
struct Played {
    /// Invocations per (tenant, stream).
    runs: BTreeMap<(String, String), u32>,
    /// Message ids the worker reported failed, each time.
    failures: u32,
    /// Messages deleted after success.
    deleted: u32,
}

/// Lambda's event source mapping, played with the worker role until the queue has nothing visible
/// or in flight: one message per invocation, `workers` invocations at once (one per process).
async fn play_mapping(rig: &Rig, workers: &[Process]) -> Played {
    let c = rig.aws.credentials("export-worker").unwrap().clone();
    let client = sqs(rig, &c);
    // The mapping reads the queue's attributes when it is created.
    client
        .get_queue_attributes()
        .queue_url(&rig.queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let played = Arc::new(tokio::sync::Mutex::new(Played::default()));
    let mut tasks = Vec::new();
    for w in workers {
        let (client, queue, played) = (client.clone(), rig.queue.clone(), played.clone());
        let emu = w.emu.clone();
        tasks.push(tokio::spawn(async move {
            let mut quiet = 0;
            while quiet < 6 {
                let got = client
                    .receive_message()
                    .queue_url(&queue)
                    .max_number_of_messages(1)
                    .visibility_timeout(VISIBILITY_S)
                    .wait_time_seconds(1)
                    .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                    .send()
                    .await
                    .unwrap();
                let Some(m) = got.messages().first().cloned() else {
                    quiet += 1;
                    continue;
                };
                quiet = 0;
                let attrs: serde_json::Map<String, Value> = m
                    .attributes()
                    .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), json!(v))).collect())
                    .unwrap_or_default();
                let event = json!({"Records": [{
                    "messageId": m.message_id().unwrap(), "receiptHandle": m.receipt_handle().unwrap(),
                    "body": m.body().unwrap(), "attributes": attrs, "messageAttributes": {},
                    "md5OfBody": m.md5_of_body().unwrap_or_default(), "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:defender-export-jobs.fifo",
                    "awsRegion": "us-east-1"}]});
                let job: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                let key = (job["tenant"].as_str().unwrap().to_string(), job["stream"].as_str().unwrap().to_string());
                let answer = emu.invoke(&event, Duration::from_secs(120)).await;
                let failed = match &answer {
                    Ok(body) => {
                        let v: Value = serde_json::from_slice(body).unwrap();
                        v["batchItemFailures"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|f| f["itemIdentifier"] == m.message_id().unwrap())
                    }
                    Err(_) => true,
                };
                let mut p = played.lock().await;
                *p.runs.entry(key).or_default() += 1;
                if failed {
                    p.failures += 1;
                } else {
                    client
                        .delete_message()
                        .queue_url(&queue)
                        .receipt_handle(m.receipt_handle().unwrap())
                        .send()
                        .await
                        .unwrap();
                    p.deleted += 1;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(played).unwrap().into_inner()
}

async fn enqueue(scheduler: &Process, event: &Value) -> Value {
    serde_json::from_slice(&scheduler.emu.invoke(event, Duration::from_secs(60)).await.unwrap()).unwrap()
}

/// Every data object (not `_state/`) as (tenant, stream, key), and every record line's
/// (tenant, stream, id, lastUpdateTime).
async fn exported(rig: &Rig) -> (Vec<String>, Vec<(String, String, String, String)>) {
    use std::io::Read;
    let s3 = common::s3_admin(&rig.aws);
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3.list_objects_v2().bucket(&rig.bucket).set_continuation_token(token).send().await.unwrap();
        keys.extend(page.contents().iter().filter_map(|o| o.key()).map(str::to_string));
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    keys.retain(|k| !k.starts_with("_state/"));
    let mut lines = Vec::new();
    for k in &keys {
        let body = s3.get_object().bucket(&rig.bucket).key(k).send().await.unwrap().body.collect().await.unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body.into_bytes()[..]).read_to_string(&mut text).unwrap();
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            let r = &v["record"];
            let id = r["incidentId"].as_i64().map(|i| i.to_string()).or_else(|| r["id"].as_str().map(str::to_string));
            lines.push((
                v["tenant"].as_str().unwrap().to_string(),
                v["stream"].as_str().unwrap().to_string(),
                id.unwrap(),
                r["lastUpdateTime"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    keys.sort();
    (keys, lines)
}

/// How many records each tenant's simulator holds per stream.
fn expected(rig: &Rig) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for (i, sim) in rig.fleet.tenants.iter().enumerate() {
        let t = sim.tenant.lock().unwrap();
        let alerts = t.seed.generated_alerts.as_ref().map_or(t.seed.alerts.len(), |g| g.count as usize);
        out.insert((tenant_name(i), "xdr-incidents".to_string()), t.seed.incidents.len());
        out.insert((tenant_name(i), "mde-alerts".to_string()), alerts);
    }
    out
}

async fn queue_depth(client: &aws_sdk_sqs::Client, url: &str) -> (usize, usize) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let a = client.get_queue_attributes().queue_url(url).attribute_names(A::All).send().await.unwrap();
    let n = |k: A| a.attributes().and_then(|m| m.get(&k)).and_then(|v| v.parse().ok()).unwrap_or(0);
    (n(A::ApproximateNumberOfMessages), n(A::ApproximateNumberOfMessagesNotVisible))
}

#[test]
fn in_fan_out_mode_the_worker_publishes_the_run_summaries_and_the_scheduler_may_not() {
    let r = resolved();
    let bus = format!("arn:aws:events:us-east-1:123456789012:event-bus/{BUS}");
    let mut publishing = Vec::new();
    for f in r["functions"].as_object().unwrap().values() {
        for p in f["policies"].as_array().unwrap() {
            for st in p["PolicyDocument"]["Statement"].as_array().unwrap() {
                if st["Action"].to_string().contains("events:") {
                    assert_eq!(
                        (&st["Action"], st["Resource"].as_str()),
                        (&json!("events:PutEvents"), Some(bus.as_str()))
                    );
                    publishing.push(f["binary"].as_str().unwrap().to_string());
                }
            }
        }
        if f["binary"] == "export-worker" {
            assert_eq!(f["environment"]["EVENT_BUS"], BUS, "the worker is told the bus");
        }
    }
    publishing.sort();
    assert_eq!(publishing, ["chatops-worker", "export-worker", "webhook-enrich"], "not the enqueuing scheduler");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tenant_stream_is_exported_exactly_once_per_period_and_overlapping_firings_do_not_double_export() {
    let rig = rig("once").await;
    let scheduler = spawn(&rig, "scheduled-export").await;
    let workers = [spawn(&rig, "export-worker").await, spawn(&rig, "export-worker").await];
    let admin = rig.aws.admin_sqs().unwrap();

    // Two firings of the same period (the Scheduler's retry, an overlapping manual run): the second
    // enqueues under the same deduplication ids, so SQS keeps one job per (tenant, stream).
    let first = enqueue(&scheduler, &firing("2026-12-06T08:00:00Z", "exec-1")).await;
    assert_eq!((first["jobs"].as_u64(), first["tenants"].as_u64()), (Some(2 * TENANTS as u64), Some(TENANTS as u64)));
    let again = enqueue(&scheduler, &firing("2026-12-06T08:00:00Z", "exec-1-retry")).await;
    assert_eq!(again["jobs"], first["jobs"]);
    assert_eq!(queue_depth(&admin, &rig.queue).await, (2 * TENANTS, 0), "one job per (tenant, stream), not two");

    let played = play_mapping(&rig, &workers).await;
    assert_eq!((played.failures, played.deleted), (0, 2 * TENANTS as u32), "{played:?}");
    let want = expected(&rig);
    assert_eq!(played.runs.keys().cloned().collect::<Vec<_>>(), want.keys().cloned().collect::<Vec<_>>());
    assert!(played.runs.values().all(|n| *n == 1), "each job ran once: {played:?}");

    let (keys, lines) = exported(&rig).await;
    let mut per: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (t, s, _, _) in &lines {
        *per.entry((t.clone(), s.clone())).or_default() += 1;
    }
    assert_eq!(per, want, "every (tenant, stream) exported, all of it");
    let mut versions: Vec<_> = lines.iter().collect();
    versions.sort();
    versions.dedup();
    assert_eq!(versions.len(), lines.len(), "no record version twice");

    // A later firing that overlaps the finished one (a new period: new deduplication ids, so SQS
    // enqueues every job again; moto also forgets a deleted message's id, where SQS would keep it for
    // 5 minutes): the cursors make the repeat harmless — nothing new is written.
    let later = enqueue(&scheduler, &firing("2026-12-06T08:15:00Z", "exec-2")).await;
    assert_eq!(later["jobs"], first["jobs"]);
    let replay = enqueue(&scheduler, &firing("2026-12-06T08:00:00Z", "exec-1-late")).await;
    assert_eq!(replay["jobs"], first["jobs"]);
    let played = play_mapping(&rig, &workers).await;
    assert_eq!(played.failures, 0, "{played:?}");
    let (keys_after, lines_after) = exported(&rig).await;
    assert_eq!(lines_after.len(), lines.len(), "the repeated jobs exported nothing twice");
    assert_eq!(keys_after, keys);
    assert_eq!(queue_depth(&admin, &rig.dlq).await, (0, 0));
    drop(scheduler);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_tenant_is_retried_then_dead_lettered_while_the_others_complete_and_each_run_is_published() {
    let rig = rig("dlq").await;
    let events_queue = bus_to_queue(&rig.aws).await;
    // Tenant 1's Defender answers 500 to every call (Retry-After 0: the client's retries are quick).
    let bad = tenant_name(1);
    let http = rig.fleet.client().unwrap();
    let r = http
        .post(format!("{}/t/1/_sim/faults", rig.fleet.url))
        .json(&json!([{"path_prefix": "/api/", "status": 500, "retry_after_s": 0}]))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let scheduler = spawn(&rig, "scheduled-export").await;
    let workers = [spawn(&rig, "export-worker").await, spawn(&rig, "export-worker").await];
    let admin = rig.aws.admin_sqs().unwrap();

    enqueue(&scheduler, &firing("2026-12-06T09:00:00Z", "exec-dlq")).await;
    let played = play_mapping(&rig, &workers).await;

    // The failing tenant's first job ran maxReceiveCount (3) times, then went to the DLQ; its second
    // job too (FIFO held it behind the first until that one left the queue).
    for stream in ["xdr-incidents", "mde-alerts"] {
        assert_eq!(played.runs.get(&(bad.clone(), stream.to_string())), Some(&3), "{stream}: {played:?}");
    }
    assert_eq!(played.failures, 6, "{played:?}");
    assert_eq!(queue_depth(&admin, &rig.dlq).await.0, 2, "both of its jobs dead-lettered");
    assert_eq!(queue_depth(&admin, &rig.queue).await, (0, 0));

    // Every other tenant completed, once each.
    let want = expected(&rig);
    let (_, lines) = exported(&rig).await;
    let mut per: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (t, s, _, _) in &lines {
        *per.entry((t.clone(), s.clone())).or_default() += 1;
    }
    let others: BTreeMap<_, _> = want.into_iter().filter(|((t, _), _)| *t != bad).collect();
    assert_eq!(per, others, "the other tenants are complete and the failing one wrote nothing");
    for ((t, _), n) in &played.runs {
        if *t != bad {
            assert_eq!(*n, 1, "{t}: {played:?}");
        }
    }

    // Every job that ran is an `Export Run Summary` on the bus, as in the single export: each other
    // tenant's stream `complete` with the records it wrote, each of the failing tenant's 6 runs
    // `failed` with its error; the run id is the invocation's and the message's.
    let runs: u32 = played.runs.values().sum();
    let events = drain(&rig.aws, &events_queue, runs as usize, Duration::from_secs(30)).await;
    let extra = drain(&rig.aws, &events_queue, 1, Duration::from_secs(2)).await;
    assert!(extra.is_empty(), "more events than runs: {extra:?}");
    let mut published: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for e in &events {
        assert_eq!(assert_documented(e), DetailType::ExportRunSummary);
        let d = &e["detail"];
        let (t, s, run) = (d["tenant"].as_str().unwrap(), d["stream"].as_str().unwrap(), d["run_id"].as_str().unwrap());
        assert_eq!(d["event_id"], format!("{run}/{t}/{s}"), "{d}");
        assert!(run.contains(':'), "<request id>:<message id>: {d}");
        assert_eq!(d["mode"], "scheduled", "{d}");
        if t == bad {
            assert_eq!(d["outcome"], "failed", "{d}");
            assert!(d["error"].as_str().is_some_and(|m| m.contains("500")), "{d}");
        } else {
            assert_eq!(d["outcome"], "complete", "{d}");
            assert_eq!(d["records"].as_u64(), per.get(&(t.to_string(), s.to_string())).map(|n| *n as u64), "{d}");
        }
        *published.entry((t.to_string(), s.to_string(), d["outcome"].as_str().unwrap().to_string())).or_default() += 1;
    }
    let want_published: BTreeMap<_, _> = played
        .runs
        .iter()
        .map(|((t, s), n)| {
            let outcome = if *t == bad { "failed" } else { "complete" };
            ((t.clone(), s.clone(), outcome.to_string()), u64::from(*n))
        })
        .collect();
    assert_eq!(published, want_published, "one event per run of a job");

    // The worker's role may publish on the bus only.
    assert_may_not_publish_elsewhere(&rig.aws, rig.aws.credentials("export-worker").unwrap()).await;
}
