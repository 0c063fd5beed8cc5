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

/// moto (kept while it is held), a client, the bucket `export` and a sink writing under `raw/` in it.
async fn export_bucket() -> (Moto, aws_sdk_s3::Client, S3Sink) {
    let m = moto().await;
    let c = client(&m.url);
    c.create_bucket().bucket("export").send().await.unwrap();
    let sink = S3Sink::new(c.clone(), "export", "raw");
    (m, c, sink)
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_sink_objects_and_conditional_cursor_writes_against_moto() {
    let (_m, c, sink) = export_bucket().await;

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

/// Incompressible bytes (a gzip object is), deterministic.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn uploads_in_progress(c: &aws_sdk_s3::Client, bucket: &str) -> usize {
    c.list_multipart_uploads().bucket(bucket).send().await.unwrap().uploads().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn large_objects_go_up_in_parts_and_a_failed_upload_is_aborted() {
    let (_m, c, sink) = export_bucket().await;

    // Two full parts and a short last one; the object is whole once the upload completes.
    let big = noise(2 * scheduled_export::s3::PART_SIZE + 12_345);
    sink.put_object("big.jsonl.gz", big.clone()).await.unwrap();
    let got = c.get_object().bucket("export").key("raw/big.jsonl.gz").send().await.unwrap();
    let tag = got.e_tag().unwrap().to_string();
    assert_eq!(got.content_encoding(), Some("gzip"));
    assert_eq!(got.body.collect().await.unwrap().to_vec(), big);
    assert!(tag.trim_matches('"').ends_with("-3"), "a 3-part upload's ETag: {tag}");
    assert_eq!(uploads_in_progress(&c, "export").await, 0);

    // Parts under S3's 5 MiB minimum: CompleteMultipartUpload is refused (EntityTooSmall), the upload
    // is aborted (no parts left behind) and no object appears.
    let small_parts = S3Sink::new(c.clone(), "export", "raw").with_part_size(1024 * 1024);
    let e = small_parts.put_object("torn.jsonl.gz", noise(3 * 1024 * 1024)).await.unwrap_err().to_string();
    assert!(e.contains("CompleteMultipartUpload"), "{e}");
    assert_eq!(uploads_in_progress(&c, "export").await, 0, "aborted");
    assert!(c.head_object().bucket("export").key("raw/torn.jsonl.gz").send().await.is_err());
}
