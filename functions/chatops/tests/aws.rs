//! The production hand-off and store against moto's server (started here on an ephemeral port from
//! `.venv/moto/bin/moto_server`, `make moto`): the DynamoDB idempotency store's conditional write
//! under a race between two stores, the SQS hand-off's messages received and run by the worker's
//! queue adapter, failing records reported in `batchItemFailures`, and the 5-concurrent-confirms +
//! Slack-retry scenario rerun on the DynamoDB store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_wiring;
mod common;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_wiring::{aws_conf, create_queue, create_table, records};
use chatops::{
    handoff::{HandOff, SqsHandOff},
    idempotency::{DynamoStore, IdempotencyStore, KEEP_AFTER_EXPIRY_S},
    queue,
};
use common::*;
use testkit::Moto;

/// Receives what is on the queue now (no long poll) as the SQS event Lambda would deliver.
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> SqsEvent {
    serde_json::from_value(json!({ "Records": records(sqs, url).await })).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_dynamodb_stores_racing_for_one_key_make_one_winner() {
    let moto = Moto::start().await.unwrap();
    let ddb = create_table(&aws_conf(&moto.url), "chatops-idem").await;
    // Two stores with their own clients, as two Lambda instances would have.
    let a = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws_conf(&moto.url)), "chatops-idem"));
    let b = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws_conf(&moto.url)), "chatops-idem"));
    let claims = (0..20).map(|i| {
        let s: Arc<dyn IdempotencyStore> = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move { s.put_if_absent("confirm:r-1", &format!("by {i}"), 1_000).await.unwrap() })
    });
    let outcomes: Vec<Option<String>> =
        futures::future::join_all(claims).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(outcomes.iter().filter(|o| o.is_none()).count(), 1, "{outcomes:?}");
    let winner = ddb
        .get_item()
        .table_name("chatops-idem")
        .key("pk", AttributeValue::S("confirm:r-1".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let value = winner["v"].as_s().unwrap().clone();
    assert!(outcomes.iter().flatten().all(|v| *v == value), "every loser saw the winner's value");
    assert_eq!(winner["expires_at"].as_n().unwrap(), &(1_000 + KEEP_AFTER_EXPIRY_S).to_string(), "TTL attribute");

    b.set("confirm:r-1", "done").await.unwrap();
    assert_eq!(a.put_if_absent("confirm:r-1", "again", 1_000).await.unwrap().as_deref(), Some("done"));
    a.remove("confirm:r-1").await.unwrap();
    assert_eq!(b.put_if_absent("confirm:r-1", "again", 1_000).await.unwrap(), None, "claimable after remove");
    let missing = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws_conf(&moto.url)), "no-such-table");
    let err = missing.put_if_absent("k", "v", 1).await.unwrap_err();
    assert!(err.to_string().starts_with("idempotency store: DynamoDB PutItem:"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn five_concurrent_confirms_and_a_retry_on_the_dynamodb_store_make_one_isolate() {
    let moto = Moto::start().await.unwrap();
    create_table(&aws_conf(&moto.url), "chatops-idem").await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws_conf(&moto.url)), "chatops-idem");
    let mut rig = rig_with(Some(Arc::new(store)), None, &[]).await;
    five_concurrent_confirms_and_a_retry(&mut rig).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_go_through_sqs_to_the_worker_and_failures_are_reported_per_record() {
    let moto = Moto::start().await.unwrap();
    create_table(&aws_conf(&moto.url), "chatops-idem").await;
    let (sqs, url) = create_queue(&aws_conf(&moto.url), "chatops-jobs").await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws_conf(&moto.url)), "chatops-idem");
    let handoff = SqsHandOff::new(sqs.clone(), url.clone(), now);
    let rig = rig_with(Some(Arc::new(store)), Some(Arc::new(handoff)), &[]).await;

    // The callback's hand-off is a real SendMessage: nothing runs until the worker gets the record.
    let (_, out) = rig.slash(ANALYST, "machine ws-fin-011.contoso.com", "m").await;
    assert_eq!(text(&out), "Working on it…");
    assert!(rig.posted("m").is_empty());
    let event = receive(&sqs, &url).await;
    assert_eq!(event.records.len(), 1);
    let body: Value = serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (body["kind"].as_str(), body["text"].as_str()),
        (Some("command"), Some("machine ws-fin-011.contoso.com"))
    );
    let answer = queue::handle_sqs(&rig.worker, event).await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    assert!(text(&rig.posted("m")[0]).starts_with("*ws-fin-011.contoso.com* (id `bf44e1ec"), "{:?}", rig.posted("m"));

    // A record that is not a job fails alone; the good one beside it runs.
    sqs.send_message().queue_url(&url).message_body("{\"kind\":\"reboot\"}").send().await.unwrap();
    rig.slash(ANALYST, "machine 10.20.20.27", "ip").await;
    let event = receive(&sqs, &url).await;
    assert_eq!(event.records.len(), 2);
    let bad_id = event
        .records
        .iter()
        .find(|r| r.body.as_deref() == Some("{\"kind\":\"reboot\"}"))
        .and_then(|r| r.message_id.clone())
        .unwrap();
    let answer = queue::handle_sqs(&rig.worker, event).await;
    let failed: Vec<&str> = answer.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, vec![bad_id.as_str()]);
    assert_eq!(rig.posted("ip").len(), 1, "the good record ran");
    let wire = serde_json::to_value(&answer).unwrap();
    assert_eq!(wire, json!({"batchItemFailures": [{"itemIdentifier": bad_id}]}), "the documented response shape");

    // A follow-up re-queued with DelaySeconds is not visible before its delay, then is.
    let pending = json!({"kind": "recheck", "pending": [{"tenant": "default",
        "action_id": "4c131820-86e8-4828-8756-d1bfc188ad8c", "action": "isolate", "machine_name": "ws",
        "request_id": "r-delay", "response_url": null, "checks": 0, "started_at": now()}]});
    let job: Job = serde_json::from_value(pending).unwrap();
    let sender = SqsHandOff::new(sqs.clone(), url.clone(), now);
    sender.send(&job, Duration::from_secs(2)).await.unwrap();
    assert!(receive(&sqs, &url).await.records.is_empty(), "delayed");
    let mut got = SqsEvent::default();
    for _ in 0..100 {
        got = receive(&sqs, &url).await;
        if !got.records.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received: Job = serde_json::from_str(got.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(received, job);

    // A wait that cannot be sent round again fails (SQS delivers it again): nothing is lost.
    let broken = SqsHandOff::new(sqs.clone(), format!("{url}-missing"), now);
    let rig2 = rig_with(None, Some(Arc::new(broken)), &[]).await;
    let later = Job::Later { not_before: now() + 3_600, job: Box::new(received) };
    let record = json!({"Records": [{"messageId": "m-later", "body": serde_json::to_string(&later).unwrap()}]});
    let answer = queue::handle_sqs(&rig2.worker, serde_json::from_value(record).unwrap()).await;
    let failed: Vec<&str> = answer.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, vec!["m-later"]);
}
