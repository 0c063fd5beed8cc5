//! The production sink: S3 through `aws-sdk-s3`. Data objects are plain `PutObject`s (a retry
//! overwrites the same key); the cursor is written with `If-None-Match: *` (first commit) or
//! `If-Match: <etag>`, and a `412 Precondition Failed` (or `409 ConditionalRequestConflict`) is
//! [`SinkError::CursorConflict`].

use crate::sink::{ETag, Sink, SinkError};
use async_trait::async_trait;
use aws_sdk_s3::{Client, error::ProvideErrorMetadata, primitives::ByteStream};

/// A bucket and a key prefix.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: Client,
    bucket: String,
    prefix: String,
}

fn store_err<E: ProvideErrorMetadata + std::fmt::Debug>(
    op: &'static str,
    key: &str,
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> SinkError {
    let status = e.raw_response().map(|r| r.status().as_u16());
    let message = match e.as_service_error() {
        Some(s) => format!(
            "{} {}: {}",
            status.map_or_else(String::new, |s| s.to_string()),
            s.code().unwrap_or("?"),
            s.message().unwrap_or("")
        ),
        None => format!("{e:?}").chars().take(300).collect(),
    };
    SinkError::Store { op, key: key.to_string(), message }
}

impl S3Sink {
    /// Objects under `prefix` (may be empty) in `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let mut prefix: String = prefix.into();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Self { client, bucket: bucket.into(), prefix }
    }

    /// A client from the environment's AWS configuration (`AWS_ENDPOINT_URL_S3` honoured), path-style
    /// addressing when `path_style` (moto, MinIO).
    pub async fn client_from_env(path_style: bool) -> Client {
        let shared = aws_config::load_from_env().await;
        let conf = aws_sdk_s3::config::Builder::from(&shared).force_path_style(path_style).build();
        Client::from_conf(conf)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl Sink for S3Sink {
    async fn put_object(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .content_type("application/x-ndjson")
            .content_encoding("gzip")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| store_err("PutObject", key, &e))?;
        Ok(())
    }

    async fn get_cursor(&self, key: &str) -> Result<Option<(Vec<u8>, ETag)>, SinkError> {
        let out = match self.client.get_object().bucket(&self.bucket).key(self.key(key)).send().await {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(store_err("GetObject", key, &e)),
        };
        let tag = ETag(out.e_tag().unwrap_or_default().to_string());
        let bytes = out.body.collect().await.map_err(|e| SinkError::Store {
            op: "GetObject",
            key: key.to_string(),
            message: e.to_string(),
        })?;
        Ok(Some((bytes.to_vec(), tag)))
    }

    async fn put_cursor(&self, key: &str, body: Vec<u8>, expected: Option<&ETag>) -> Result<ETag, SinkError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .content_type("application/json")
            .body(ByteStream::from(body));
        let req = match expected {
            Some(tag) => req.if_match(&tag.0),
            None => req.if_none_match("*"),
        };
        match req.send().await {
            Ok(out) => Ok(ETag(out.e_tag().unwrap_or_default().to_string())),
            Err(e) if e.raw_response().is_some_and(|r| matches!(r.status().as_u16(), 409 | 412)) => {
                Err(SinkError::CursorConflict { key: key.to_string() })
            }
            Err(e) => Err(store_err("PutObject", key, &e)),
        }
    }
}
