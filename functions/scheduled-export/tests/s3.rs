//! `S3Sink` against moto's S3 server, which this test starts on an ephemeral port from
//! `.venv/moto/bin/moto_server` (`make moto`, run by `make test`): objects, and the cursor's
//! conditional writes (`If-None-Match: *`, `If-Match`, a stale tag refused with 412).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use scheduled_export::{
    s3::S3Sink,
    sink::{Sink, SinkError},
};
use testkit::Moto;

async fn moto() -> Moto {
    Moto::start().await.unwrap_or_else(|e| panic!("{e}"))
}

fn client(url: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(url)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_sink_objects_and_conditional_cursor_writes_against_moto() {
    let m = moto().await;
    let c = client(&m.url);
    c.create_bucket().bucket("export").send().await.unwrap();
    let sink = S3Sink::new(c.clone(), "export", "raw");

    sink.put_object("tenant=t/stream=s/date=2026-11-28/a.jsonl.gz", b"one".to_vec()).await.unwrap();
    sink.put_object("tenant=t/stream=s/date=2026-11-28/a.jsonl.gz", b"two".to_vec()).await.unwrap();
    let got = c.get_object().bucket("export").key("raw/tenant=t/stream=s/date=2026-11-28/a.jsonl.gz").send().await;
    assert_eq!(got.unwrap().body.collect().await.unwrap().to_vec(), b"two", "a retried page overwrites");

    let key = "_state/tenant=t/stream=s/cursor.json";
    assert!(sink.get_cursor(key).await.unwrap().is_none());
    let e1 = sink.put_cursor(key, b"{\"g\":1}".to_vec(), None).await.unwrap();
    let again = sink.put_cursor(key, b"{\"g\":9}".to_vec(), None).await;
    assert!(
        matches!(again, Err(SinkError::CursorConflict { .. })),
        "If-None-Match: * on an existing cursor: {again:?}"
    );
    let e2 = sink.put_cursor(key, b"{\"g\":2}".to_vec(), Some(&e1)).await.unwrap();
    assert_ne!(e1, e2);
    let stale = sink.put_cursor(key, b"{\"g\":9}".to_vec(), Some(&e1)).await;
    assert!(matches!(stale, Err(SinkError::CursorConflict { .. })), "a stale If-Match: {stale:?}");
    let (body, tag) = sink.get_cursor(key).await.unwrap().unwrap();
    assert_eq!((body.as_slice(), tag), (b"{\"g\":2}".as_slice(), e2));
}
