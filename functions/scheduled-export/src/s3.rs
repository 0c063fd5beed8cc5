//! The production sink: S3 through `aws-sdk-s3`. Data objects are `PutObject`s (a retry overwrites
//! the same key) or, from [`PART_SIZE`] up, multipart uploads; the cursor is written with
//! `If-None-Match: *` (first commit) or `If-Match: <etag>`, and a `412 Precondition Failed` (or
//! `409 ConditionalRequestConflict`) is [`SinkError::CursorConflict`].
//!
//! # Large objects
//!
//! An object of [`PART_SIZE`] or more goes up in parts: `CreateMultipartUpload`, `UploadPart` per
//! [`PART_SIZE`] (S3: every part but the last at least 5 MiB), `CompleteMultipartUpload` — all three
//! authorised by `s3:PutObject`. An upload that fails part-way is aborted (`AbortMultipartUpload`,
//! which needs `s3:AbortMultipartUpload` in the role): until then S3 keeps, and bills, the parts.
//! An abort that fails too (or a Lambda killed mid-upload) is cleaned up by the bucket's lifecycle
//! rule `AbortIncompleteMultipartUpload` (infra/template.yaml). The object appears only when the
//! upload completes, so a reader never sees part of one.
//!
//! # A missing cursor: 404 or 403
//!
//! S3 answers a `GetObject` of a key that does not exist with 404 `NoSuchKey` only when the caller
//! may list the bucket (`s3:ListBucket`); otherwise with 403 `AccessDenied`, exactly as for an object
//! it may not read (S3 API reference, GetObject, "Permissions"). Whether a `ListBucket` grant scoped
//! by an `s3:prefix` condition (what the export's role has: `_state/*`) counts for that decision is
//! not documented, so [`S3Sink::get_cursor`] takes a 403 as "unknown" and asks a question whose answer
//! is documented: a `ListObjectsV2` whose prefix is the cursor's own key. The key absent there → no
//! cursor yet (the first run); present → the 403 was a real denial of `GetObject`, and listing denied
//! too → the role cannot tell; both fail loudly, never "empty" (which would re-export everything and
//! race the real cursor).

use crate::sink::{ETag, Sink, SinkError};
use async_trait::async_trait;
use aws_sdk_s3::{
    Client,
    error::ProvideErrorMetadata,
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart},
};

/// Objects this large or larger go up in parts of this size (8 MiB; S3's minimum part is 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// A bucket and a key prefix.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: Client,
    bucket: String,
    prefix: String,
    part_size: usize,
}

/// The store's answer: status, error code and message (never credentials).
fn answer<E: ProvideErrorMetadata + std::fmt::Debug>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> String {
    let status = e.raw_response().map(|r| r.status().as_u16());
    match e.as_service_error() {
        Some(s) => format!(
            "{} {}: {}",
            status.map_or_else(String::new, |s| s.to_string()),
            s.code().unwrap_or("?"),
            s.message().unwrap_or("")
        ),
        None => format!("{e:?}").chars().take(300).collect(),
    }
}

fn store_err<E: ProvideErrorMetadata + std::fmt::Debug>(
    op: &'static str,
    key: &str,
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> SinkError {
    SinkError::Store { op, key: key.to_string(), message: answer(e) }
}

impl S3Sink {
    /// Objects under `prefix` (may be empty) in `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let mut prefix: String = prefix.into();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Self { client, bucket: bucket.into(), prefix, part_size: PART_SIZE }
    }

    /// The part size of multipart uploads (and the size from which they are used) instead of
    /// [`PART_SIZE`]. S3 refuses to complete an upload with a part under 5 MiB other than the last,
    /// so a smaller size makes every multipart upload fail (and be aborted): the tests use it to
    /// see the abort.
    #[must_use]
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(1);
        self
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

    /// Whether the object `full` exists, by a listing whose prefix is the key itself (what a
    /// prefix-scoped `s3:ListBucket` allows).
    async fn cursor_listed(&self, full: &str) -> Result<bool, String> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(full)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| format!("ListObjectsV2: {}", answer(&e)))?;
        Ok(out.contents().iter().any(|o| o.key() == Some(full)))
    }

    /// `body` as a multipart upload of `part_size` parts; aborted if any step fails.
    async fn put_in_parts(&self, key: &str, body: &[u8]) -> Result<(), SinkError> {
        let full = self.key(key);
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&full)
            .content_type("application/x-ndjson")
            .content_encoding("gzip")
            .send()
            .await
            .map_err(|e| store_err("CreateMultipartUpload", key, &e))?;
        let Some(upload) = created.upload_id().map(str::to_string) else {
            return Err(SinkError::Store {
                op: "CreateMultipartUpload",
                key: key.to_string(),
                message: "the answer has no UploadId".into(),
            });
        };
        let uploaded = self.upload_parts(key, &full, &upload, body).await;
        if let Err(e) = &uploaded {
            let aborted =
                self.client.abort_multipart_upload().bucket(&self.bucket).key(&full).upload_id(&upload).send().await;
            if let Err(abort) = aborted {
                // The error returned is the upload's; the lifecycle rule removes what is left.
                tracing::warn!(key, error = %e, abort = %answer(&abort), "a failed multipart upload could not be aborted");
                return Err(SinkError::Store {
                    op: "AbortMultipartUpload",
                    key: key.to_string(),
                    message: format!("{} (after: {e})", answer(&abort)),
                });
            }
        }
        uploaded
    }

    async fn upload_parts(&self, key: &str, full: &str, upload: &str, body: &[u8]) -> Result<(), SinkError> {
        let mut parts = Vec::new();
        for (i, chunk) in body.chunks(self.part_size).enumerate() {
            let n = i32::try_from(i + 1).map_err(|_| SinkError::Store {
                op: "UploadPart",
                key: key.to_string(),
                message: "more than i32::MAX parts".into(),
            })?;
            let out = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(full)
                .upload_id(upload)
                .part_number(n)
                .body(ByteStream::from(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| store_err("UploadPart", key, &e))?;
            parts.push(CompletedPart::builder().part_number(n).set_e_tag(out.e_tag().map(str::to_string)).build());
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .upload_id(upload)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| store_err("CompleteMultipartUpload", key, &e))?;
        Ok(())
    }
}

#[async_trait]
impl Sink for S3Sink {
    async fn put_object(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError> {
        if body.len() >= self.part_size {
            return self.put_in_parts(key, &body).await;
        }
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
        let full = self.key(key);
        let out = match self.client.get_object().bucket(&self.bucket).key(&full).send().await {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                return match self.cursor_listed(&full).await {
                    Ok(false) => Ok(None),
                    Ok(true) => Err(SinkError::Store {
                        op: "GetObject",
                        key: key.to_string(),
                        message: format!(
                            "{} (the cursor exists: the role may not read it; it needs s3:GetObject on it)",
                            answer(&e)
                        ),
                    }),
                    Err(list_answer) => Err(SinkError::Store {
                        op: "GetObject",
                        key: key.to_string(),
                        message: format!(
                            "{} and listing it was refused too ({}): a missing cursor and a denial look \
                             the same without s3:ListBucket on the bucket for this prefix",
                            answer(&e),
                            list_answer
                        ),
                    }),
                };
            }
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
