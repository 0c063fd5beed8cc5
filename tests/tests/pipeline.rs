//! SOC pipeline outputs (`infra/template.yaml` with ExportNotifications=enabled,
//! EventBusName=soc-bus, GlueTable=enabled) against the stand-ins: the compiled binaries under
//! cargo-lambda, the simulated tenant, and moto holding the template's resources with IAM enforced
//! from the template's own policies (strict moto: PutEvents is checked against the entry's bus).
//!
//! - S3 event notifications: the bucket's resolved `NotificationConfiguration` is put on moto's bucket
//!   (moto validates it with an `s3:TestEvent` on the queue, as S3 does, and then delivers S3 → SQS
//!   notifications itself); an export run writes objects → exactly one notification per data object
//!   arrives, none for the `_state/` cursors. moto does not evaluate the queue's resource policy for
//!   S3's delivery: the policy is checked as resolved (only S3 of this account; TLS only).
//! - EventBridge: a rule on the user's bus targeting an SQS queue (created by the test as the user
//!   would); the export's run summaries, an isolate's outcome and a verdict arrive there, each of its
//!   documented schema (`docs/events/*.schema.json`); only the three publishing roles may PutEvents,
//!   on that bus only, and without its statement a function still does its work and publishes nothing.
//! - Glue: the table's partition projection matches the export's key layout, and its columns the line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    Stack,
    bus::{BUS, assert_documented, assert_may_not_publish_elsewhere, bus_to_queue, drain, empty_event, schema_errors},
};
use defender_shared::{events::DetailType, secret::SecretString};
use local_runner::{
    env::ANALYST,
    events,
    moto::{EventSource, Statement, TemplateAws},
    stack::{Answer, send},
};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, BTreeSet},
    io::Read,
    time::Duration,
};
use tenant_sim::SimOptions;

const T: Duration = Duration::from_secs(90);

fn resolved() -> Value {
    common::resolved(
        "kv-pipe",
        &[
            ("ExportNotifications", "enabled"),
            ("EventBusName", BUS),
            ("EventMinSeverity", "Informational"),
            ("GlueTable", "enabled"),
        ],
    )
}

/// `functions` with their local environment on the Microsoft side and the template's on the AWS
/// side, including the template's `EVENT_BUS` and `ENRICH_EVENT_MIN_SEVERITY` (their values name no
/// AWS resource of the template, so `TemplateAws::env` does not carry them).
async fn stack(tag: &str, aws: &TemplateAws, functions: &[&str]) -> Stack {
    common::stack(tag, aws, functions, SimOptions::demo().unwrap(), |_, _, f| {
        let template_env = &aws.function(f).unwrap()["environment"];
        ["EVENT_BUS", "ENRICH_EVENT_MIN_SEVERITY"]
            .into_iter()
            .filter_map(|k| template_env[k].as_str().map(|v| (k.to_string(), v.to_string())))
            .collect()
    })
    .await
}

async fn go(st: &mut Stack, i: usize, what: &str, req: reqwest::RequestBuilder) -> Answer {
    send(what, req, &mut st.functions[i], T).await.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The scheduled export's answer to its schedule firing for `period` (the function is `st`'s first).
async fn scheduled_run(st: &mut Stack, invoke: &str, period: &str) -> Answer {
    let firing = reqwest::Client::new().post(invoke).json(&events::scheduler_event(period));
    go(st, 0, "scheduler event", firing).await
}

/// The bucket's resolved `NotificationConfiguration` (CloudFormation's shape) put on moto's bucket
/// (the S3 API's shape), as CloudFormation does on deploy.
async fn apply_notifications(aws: &TemplateAws) {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
        QueueConfiguration, S3KeyFilter,
    };
    let props = &aws.resolved["resources"]["ExportBucket"]["properties"];
    let queues = props["NotificationConfiguration"]["QueueConfigurations"].as_array().unwrap();
    let mut conf = NotificationConfiguration::builder();
    for q in queues {
        let mut queue = QueueConfiguration::builder()
            .queue_arn(q["Queue"].as_str().unwrap())
            .events(Event::from(q["Event"].as_str().unwrap()));
        if let Some(rules) = q["Filter"]["S3Key"]["Rules"].as_array() {
            let mut key = S3KeyFilter::builder();
            for r in rules {
                let name = FilterRuleName::from(r["Name"].as_str().unwrap());
                key = key.filter_rules(FilterRule::builder().name(name).value(r["Value"].as_str().unwrap()).build());
            }
            queue = queue.filter(NotificationConfigurationFilter::builder().key(key.build()).build());
        }
        conf = conf.queue_configurations(queue.build().unwrap());
    }
    let bucket = aws.reference("ExportBucket").unwrap();
    common::s3_admin(aws)
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(conf.build())
        .send()
        .await
        .unwrap();
}

#[test]
fn every_detail_the_functions_build_validates_and_the_schemas_refuse_a_wrong_one() {
    use chrono::{TimeZone, Utc};
    use scheduled_export::{
        export::{Backfill, Outcome, StopReason, StreamSummary},
        handler::{RunSummary, StreamFailure},
    };
    let t = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let stream = |name: &str, outcome, stop_reason| StreamSummary {
        tenant: "contoso".into(),
        stream: name.into(),
        records: 7,
        skipped: 1,
        objects: 2,
        api_calls: 3,
        throttles: 0,
        throttles_retried: 0,
        windows_halved: 0,
        steps_back: 0,
        undecodable: 0,
        untimed: 1,
        identities: 4,
        identities_dropped: 0,
        cursor_before: None,
        cursor_after: Some((t, "da1".into())),
        outcome,
        stop_reason,
    };
    let run = RunSummary {
        mode: "backfill",
        backfill: Some(Backfill { from: t, to: t + chrono::Duration::days(1) }),
        streams: vec![
            stream("mde-alerts", Outcome::Complete, None),
            stream("hunting:proc", Outcome::Stopped, Some(StopReason::Quota { endpoint: "x", retry_after_s: 3 })),
            stream("xdr-incidents", Outcome::Conflict, None),
        ],
        failures: vec![StreamFailure { tenant: "contoso".into(), stream: "graph-alerts".into(), error: "boom".into() }],
    };
    let events = scheduled_export::events::run_summaries("req-1", &run).unwrap();
    let outcomes: Vec<&str> = events.iter().map(|e| e.detail["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["complete", "stopped", "conflict", "failed"]);
    for e in &events {
        assert_eq!(e.detail_type, DetailType::ExportRunSummary);
        assert_eq!(schema_errors(e.detail_type, &e.detail), Vec::<String>::new(), "{}", e.detail);
    }
    let mut wrong = events[3].detail.clone();
    wrong["error"] = Value::Null;
    assert!(!schema_errors(DetailType::ExportRunSummary, &wrong).is_empty(), "a failure without its error");

    let pending: chatops::followup::Pending = serde_json::from_value(json!({
        "tenant": "contoso", "action_id": "7f1c0a7e-0000-4000-8000-00000000abcd", "action": "isolate",
        "machine_name": "ws-1.contoso.com", "request_id": "req-9", "checks": 2, "started_at": 1_764_583_200
    }))
    .unwrap();
    let e = chatops::events::outcome(&pending, "TimeOut").unwrap();
    assert_eq!(schema_errors(e.detail_type, &e.detail), Vec::<String>::new(), "{}", e.detail);
    assert_eq!(e.detail["event_id"], "contoso/7f1c0a7e-0000-4000-8000-00000000abcd/TimeOut");
    let wrong = chatops::events::outcome(&pending, "Pending").unwrap();
    assert!(!schema_errors(wrong.detail_type, &wrong.detail).is_empty(), "a status that is not terminal");

    let item = |i: usize, severity: &str| {
        json!({"kind": "sha256", "input": format!("{i:064x}"), "value": format!("{i:064x}"), "source": "request",
            "status": "found", "alerts": (0..60).map(|a| json!({"id": format!("da{i}-{a}"), "title": null,
                "severity": severity, "status": "New", "machine_id": null, "incident_id": null, "created": null}))
                .collect::<Vec<_>>()})
    };
    let response = |severity: &str| -> webhook_enrich::response::EnrichResponse {
        let results: Vec<Value> = (0..60).map(|i| item(i, severity)).collect();
        let parsed: Vec<webhook_enrich::response::ItemResult> = serde_json::from_value(json!(results)).unwrap();
        let summary = webhook_enrich::response::Summary::of(&parsed);
        webhook_enrich::response::EnrichResponse { tenant: "contoso".into(), results: parsed, summary, callback: None }
    };
    let high = webhook_enrich::events::verdict(&response("High"), "soc", Some("msg_1"), "Medium").unwrap().unwrap();
    assert_eq!(schema_errors(high.detail_type, &high.detail), Vec::<String>::new(), "{}", high.detail);
    assert_eq!(
        (high.detail["truncated"].as_bool(), high.detail["indicators"].as_array().map(Vec::len)),
        (Some(true), Some(50))
    );
    assert_eq!(high.detail["event_id"], "soc/msg_1");
    assert!(webhook_enrich::events::verdict(&response("Low"), "soc", Some("msg_2"), "Medium").unwrap().is_none());
}

fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn only_the_three_publishing_roles_may_put_events_and_only_on_the_bus() {
    let r = resolved();
    let mut publishing = BTreeSet::new();
    for f in r["functions"].as_object().unwrap().values() {
        for p in f["policies"].as_array().unwrap() {
            for st in p["PolicyDocument"]["Statement"].as_array().unwrap() {
                let actions = st["Action"].to_string();
                if actions.contains("events:") {
                    assert_eq!(st["Action"], "events:PutEvents", "{st}");
                    assert_eq!(st["Resource"], format!("arn:aws:events:us-east-1:123456789012:event-bus/{BUS}"));
                    publishing.insert(f["binary"].as_str().unwrap().to_string());
                }
            }
        }
    }
    assert_eq!(publishing, BTreeSet::from(["chatops-worker", "scheduled-export", "webhook-enrich"].map(String::from)));
    // Off by default: no statement, no bus variable's value.
    let default = common::resolved("kv-pipe", &[]);
    assert!(!default.to_string().contains("events:PutEvents"));
    for name in ["ExportNotificationQueue", "ExportNotificationQueuePolicy", "ExportGlueTable", "ExportGlueDatabase"] {
        assert!(default["resources"].get(name).is_none(), "{name} exists by default");
    }
    assert!(default["resources"]["ExportBucket"]["properties"].get("NotificationConfiguration").is_none());
    // A bus ARN (another account's bus, say) is the statement's resource as given.
    let arn = "arn:aws:events:eu-west-1:210987654321:event-bus/central-soc";
    let with_arn = common::resolved("kv-pipe", &[("EventBusName", arn)]);
    let f = with_arn["functions"]["ScheduledExportFunction"].clone();
    let events = f["policies"].as_array().unwrap().iter().find(|p| p["PolicyName"] == "events").unwrap().clone();
    assert_eq!(events["PolicyDocument"]["Statement"][0]["Resource"], arn);
    assert_eq!(f["environment"]["EVENT_BUS"], arn);
}

#[test]
fn the_notification_queue_takes_only_s3_of_this_account_and_only_data_objects() {
    let r = resolved();
    let bucket = &r["resources"]["ExportBucket"]["properties"]["NotificationConfiguration"];
    let q = &bucket["QueueConfigurations"][0];
    assert_eq!(q["Queue"], r["resources"]["ExportNotificationQueue"]["arn"]);
    assert_eq!(q["Event"], "s3:ObjectCreated:*");
    assert_eq!(q["Filter"]["S3Key"]["Rules"], json!([{"Name": "suffix", "Value": ".jsonl.gz"}]));
    // The suffix separates data from state: every cursor key ends in .json, every data key in .jsonl.gz.
    assert!(!"_state/tenant=default/stream=mde-alerts/cursor.json".ends_with(".jsonl.gz"));
    let policy = &r["resources"]["ExportNotificationQueuePolicy"]["properties"]["PolicyDocument"];
    let allow: Vec<&Value> =
        policy["Statement"].as_array().unwrap().iter().filter(|s| s["Effect"] == "Allow").collect();
    assert_eq!(allow.len(), 1, "{policy}");
    assert_eq!(allow[0]["Principal"], json!({"Service": "s3.amazonaws.com"}));
    assert_eq!(allow[0]["Action"], "sqs:SendMessage");
    assert_eq!(allow[0]["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
    let queue = &r["resources"]["ExportNotificationQueue"]["properties"];
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        r["resources"]["ExportNotificationDeadLetterQueue"]["arn"]
    );
    assert_eq!(queue["SqsManagedSseEnabled"], true, "S3 cannot send to a queue under the AWS managed SQS key");
}

#[test]
fn the_glue_table_projects_the_export_key_layout_and_reads_the_line() {
    use chrono::{TimeZone, Utc};
    use scheduled_export::export::{Job, StreamKind, object_key};
    let r = resolved();
    let bucket = r["resources"]["ExportBucket"]["ref"].as_str().unwrap();
    let t = &r["resources"]["ExportGlueTable"]["properties"]["TableInput"];
    let partition: Vec<&str> =
        t["PartitionKeys"].as_array().unwrap().iter().map(|k| k["Name"].as_str().unwrap()).collect();
    assert_eq!(partition, ["tenant", "stream", "date"]);
    let columns: Vec<&str> =
        t["StorageDescriptor"]["Columns"].as_array().unwrap().iter().map(|k| k["Name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["record"], "partition keys must not repeat a data column");
    assert_eq!(t["StorageDescriptor"]["Location"], format!("s3://{bucket}/"));
    let p = &t["Parameters"];
    assert_eq!(p["projection.enabled"], "true");
    // The template's location, filled in, is the directory of the key the export writes.
    let now = Utc::now();
    let job = Job {
        run_id: "r".into(),
        started: now,
        lease_until: now,
        tenant: "contoso".into(),
        stream: StreamKind::MdeAlerts.into(),
        page_size: 10,
        overlap: chrono::Duration::minutes(5),
        backfill: None,
        deadline: defender_shared::defender::Deadline::after(Duration::from_secs(1)),
    };
    let at = Utc.with_ymd_and_hms(2026, 11, 28, 13, 5, 0).unwrap();
    let key = object_key(&job, &(at, "da1".into()), &(at, "da2".into()));
    let location = p["storage.location.template"]
        .as_str()
        .unwrap()
        .replace("${tenant}", "contoso")
        .replace("${stream}", "mde-alerts")
        .replace(
            "${date}",
            &at.format(
                p["projection.date.format"]
                    .as_str()
                    .unwrap()
                    .replace("yyyy", "%Y")
                    .replace("MM", "%m")
                    .replace("dd", "%d")
                    .as_str(),
            )
            .to_string(),
        );
    let object = format!("s3://{bucket}/{key}");
    assert!(object.starts_with(&location) && !object[location.len()..].contains('/'), "{object} is not in {location}");
    assert_eq!(p["projection.date.type"], "date");
    let range = p["projection.date.range"].as_str().unwrap();
    assert!(range.ends_with(",NOW"), "{range}: objects are queryable the day they land");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_run_announces_each_data_object_on_the_queue_and_publishes_its_summaries() {
    let aws = TemplateAws::start(resolved(), None).await.unwrap_or_else(|e| panic!("{e}"));
    let notifications = aws.reference("ExportNotificationQueue").unwrap().to_string();
    apply_notifications(&aws).await;
    // S3 (and moto) validate the destination with a test event when the configuration is put.
    let test = drain(&aws, &notifications, 1, Duration::from_secs(10)).await;
    assert_eq!(test.len(), 1, "{test:?}");
    assert_eq!(test[0]["Event"], "s3:TestEvent", "{test:?}");
    let events_queue = bus_to_queue(&aws).await;

    // The export role may publish on the bus, and nowhere else.
    assert_may_not_publish_elsewhere(&aws, aws.credentials("scheduled-export").unwrap()).await;
    let callback = common::eventbridge(&aws, aws.credentials("chatops-callback").unwrap());
    let on_bus = empty_event(BUS, "Machine Action Outcome");
    let denied = callback.put_events().entries(on_bus).send().await.unwrap_err();
    assert_eq!(denied.raw_response().map(|r| r.status().as_u16()), Some(403), "the callback may not publish");

    let mut st = stack("export", &aws, &["scheduled-export"]).await;
    let invoke = st.watch.invoke_url("scheduled-export");
    let a = scheduled_run(&mut st, &invoke, "p1").await;
    assert_eq!(a.status, 200, "{}", a.body);

    let s3 = common::s3_admin(&aws);
    let bucket = aws.reference("ExportBucket").unwrap();
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    let all: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
    let data: BTreeSet<String> = all.iter().filter(|k| k.ends_with(".jsonl.gz")).cloned().collect();
    assert!(data.len() >= 2 && all.iter().any(|k| k.starts_with("_state/")), "{all:?}");

    // One notification per data object, for exactly its key; none for the cursors.
    let got = drain(&aws, &notifications, data.len(), T).await;
    let extra = drain(&aws, &notifications, 1, Duration::from_secs(3)).await;
    assert!(extra.is_empty(), "more notifications than data objects: {extra:?}");
    let mut keys = BTreeMap::new();
    for n in &got {
        let r = &n["Records"][0];
        assert!(r["eventName"].as_str().unwrap().starts_with("ObjectCreated:"), "{n}");
        assert_eq!(r["s3"]["bucket"]["name"], bucket, "{n}");
        *keys.entry(percent_decoded(r["s3"]["object"]["key"].as_str().unwrap())).or_insert(0) += 1;
    }
    assert_eq!(keys.keys().cloned().collect::<BTreeSet<_>>(), data, "notified keys = data objects");
    assert!(keys.values().all(|n| *n == 1), "{keys:?}");

    // The run's summaries: one per stream, of the documented schema, counting what the objects hold.
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for k in &data {
        let body = s3.get_object().bucket(bucket).key(k).send().await.unwrap().body.collect().await.unwrap().to_vec();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut text).unwrap();
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            *lines.entry(v["stream"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    let events = drain(&aws, &events_queue, lines.len(), T).await;
    assert_eq!(events.len(), lines.len(), "{events:?}");
    for e in &events {
        assert_eq!(assert_documented(e), DetailType::ExportRunSummary);
        let d = &e["detail"];
        assert_eq!(
            (d["tenant"].as_str(), d["outcome"].as_str(), d["mode"].as_str()),
            (Some("default"), Some("complete"), Some("scheduled"))
        );
        assert_eq!(d["records"].as_u64(), lines.get(d["stream"].as_str().unwrap()).copied(), "{d}");
        assert_eq!(
            d["event_id"],
            format!("{}/default/{}", d["run_id"].as_str().unwrap(), d["stream"].as_str().unwrap())
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_isolate_outcome_and_a_verdict_become_events_of_the_documented_schema() {
    let aws = TemplateAws::start(resolved(), None).await.unwrap_or_else(|e| panic!("{e}"));
    let events_queue = bus_to_queue(&aws).await;
    let mut st = stack("isolate", &aws, &["chatops-callback", "chatops-worker", "webhook-enrich"]).await;
    let esm = EventSource::start(&aws, "chatops-worker", "ChatOpsQueue", st.watch.invoke_url("chatops-worker"))
        .await
        .unwrap();
    let signing = SecretString::new(st.sim.sim.tenant.lock().unwrap().seed.secrets["slack-signing-secret"].clone());
    let url = st.watch.function_url("chatops-callback", "/chatops/slack");
    let hooks = st.hooks.base.clone();
    let slack = |body: String| events::slack_request(&url, &signing, body).unwrap();
    let host = "ws-fin-011.contoso.com";
    go(
        &mut st,
        0,
        "isolate",
        slack(events::slack_slash(ANALYST, &format!("isolate {host} pipe"), &format!("{hooks}ask"))),
    )
    .await;
    let prompt = st.hooks.wait_for("ask", 1, T).await.pop().expect("a confirmation prompt");
    let token = prompt["blocks"][1]["elements"][0]["value"].as_str().expect("a confirm button").to_string();
    let a = go(&mut st, 0, "confirm", slack(events::slack_click(ANALYST, &token, &format!("{hooks}confirm")))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let done = st.hooks.wait_for("confirm", 1, T).await;
    assert!(done.iter().any(|p| p["text"].as_str().unwrap_or("").contains("accepted by Defender")), "{done:?}");
    // Accepted is not an outcome: nothing is published until Defender says the action is done.
    assert!(drain(&aws, &events_queue, 1, Duration::from_secs(2)).await.is_empty());
    let clock = st.sim.client().unwrap().post(format!("{}/_sim/clock", st.sim.url)).json(&json!({"advance_s": 120}));
    clock.send().await.unwrap();
    let all = st.hooks.wait_for("confirm", done.len() + 1, T).await;
    assert!(all.iter().any(|p| p["text"].as_str().unwrap_or("").contains("Succeeded")), "{all:?}; {:?}", esm.errors());

    let got = drain(&aws, &events_queue, 1, T).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(assert_documented(&got[0]), DetailType::MachineActionOutcome);
    let d = &got[0]["detail"];
    assert_eq!(
        (d["action"].as_str(), d["machine_name"].as_str(), d["status"].as_str()),
        (Some("isolate"), Some(host), Some("Succeeded"))
    );
    assert_eq!(d["tenant"], "default");
    let isolate = st.sim.sim.tenant.lock().unwrap().actions.iter().rev().find(|a| a["type"] == "Isolate").cloned();
    assert_eq!(d["action_id"], isolate.expect("the isolate at Defender")["id"], "the action Defender ran");

    // A verdict with related alerts (threshold Informational here): one event for the webhook.
    let (machine, alerts) = {
        let t = st.sim.sim.tenant.lock().unwrap();
        let alert = t.seed.alerts.iter().find(|a| a["machineId"].is_string()).cloned().unwrap();
        let m = t.seed.machines.iter().find(|m| m["id"] == alert["machineId"]).cloned().unwrap();
        (m["computerDnsName"].as_str().unwrap().to_string(), alert)
    };
    let body = json!({"indicators": {"hostnames": [machine]}}).to_string();
    let wh = SecretString::new(st.sim.sim.tenant.lock().unwrap().seed.secrets["webhook-secret"].clone());
    let mut req = reqwest::Client::new()
        .post(st.watch.function_url("webhook-enrich", "/"))
        .header("content-type", "application/json")
        .body(body.clone());
    for (k, v) in events::webhook_headers(&wh, "msg_pipe_1", &body).unwrap() {
        req = req.header(k, v);
    }
    let a = go(&mut st, 2, "signed webhook", req).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["summary"]["highest_alert_severity"].is_string(), "the host has alerts ({alerts}): {}", a.body);
    let got = drain(&aws, &events_queue, 1, T).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(assert_documented(&got[0]), DetailType::EnrichmentVerdict);
    let d = &got[0]["detail"];
    assert!(d["event_id"].as_str().unwrap().ends_with("/msg_pipe_1"), "{d}");
    assert_eq!(d["highest_alert_severity"], a.body["summary"]["highest_alert_severity"]);
    assert_eq!(d["alerts"], a.body["summary"]["alerts"]);
    assert!(drain(&aws, &events_queue, 1, Duration::from_secs(2)).await.is_empty(), "one event per outcome");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_its_events_statement_the_export_still_exports_and_publishes_nothing() {
    let without = Statement { binary: "scheduled-export".into(), policy: "events".into(), sid: "PublishToBus".into() };
    let aws = TemplateAws::start(resolved(), Some(&without)).await.unwrap_or_else(|e| panic!("{e}"));
    let events_queue = bus_to_queue(&aws).await;
    let mut st = stack("denied", &aws, &["scheduled-export"]).await;
    let invoke = st.watch.invoke_url("scheduled-export");
    let a = scheduled_run(&mut st, &invoke, "p2").await;
    assert_eq!(a.status, 200, "the run succeeds whatever the bus answers: {}", a.body);
    let records: u64 = a.body["streams"].as_array().unwrap().iter().map(|s| s["records"].as_u64().unwrap()).sum();
    assert!(records > 0, "{}", a.body);
    assert!(drain(&aws, &events_queue, 1, Duration::from_secs(3)).await.is_empty());
    let log = std::fs::read_to_string(&st.functions[0].log).unwrap();
    assert!(
        log.contains("events not published"),
        "the failure is logged: {}",
        local_runner::tail(&st.functions[0].log, 20)
    );
}
