//! `DefenderClient` and the [`Call`] descriptor every typed call is built from.
//! (Seam: the core work implements the bodies; the api work builds typed calls on these signatures.)

use super::error::DefenderError;
use crate::{auth::TokenSource, cloud::ApiFamily, ids::TenantName};
use futures::stream::{BoxStream, StreamExt};
use serde::de::DeserializeOwned;
use std::{sync::Arc, time::Duration};

/// The latest moment a call may still be retried or waited on (a Lambda's remaining time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(pub tokio::time::Instant);

impl Deadline {
    /// `d` from now.
    pub fn after(d: Duration) -> Self {
        Self(tokio::time::Instant::now() + d)
    }
    /// Time left (zero when passed).
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(tokio::time::Instant::now())
    }
}

/// One documented request, described: which endpoint, where, with what.
#[derive(Debug, Clone)]
pub struct Call {
    /// The contract's endpoint name (`mde.alerts.list`): picks the permission and the rate limit.
    pub endpoint: &'static str,
    /// Which API (host, token audience, error envelope).
    pub api: ApiFamily,
    /// HTTP method.
    pub method: reqwest::Method,
    /// Path below the API base, starting with `/` (`/api/alerts`, `/security/alerts_v2`); every
    /// dynamic segment already validated and percent-encoded.
    pub path: String,
    /// Query parameters (`$filter`, `$top`, ...), encoded by the client.
    pub query: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<serde_json::Value>,
}

/// The Defender client: one per process, shared by every tenant.
pub struct DefenderClient<T> {
    /// The token source.
    pub tokens: Arc<T>,
    /// The HTTP client.
    pub http: reqwest::Client,
}

impl<T> std::fmt::Debug for DefenderClient<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefenderClient").finish_non_exhaustive()
    }
}

impl<T: TokenSource> DefenderClient<T> {
    /// Sends a call and decodes the JSON answer.
    ///
    /// # Errors
    /// [`DefenderError`] when the service refuses, the deadline passes, or the body does not decode.
    pub async fn call<R: DeserializeOwned>(
        &self,
        tenant: &TenantName,
        call: Call,
        deadline: Deadline,
    ) -> Result<R, DefenderError> {
        let _ = (tenant, deadline);
        Err(DefenderError::Deadline { endpoint: call.endpoint })
    }

    /// Sends a call whose answer has no body (200/204).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn call_empty(&self, tenant: &TenantName, call: Call, deadline: Deadline) -> Result<(), DefenderError> {
        let _ = (tenant, deadline);
        Err(DefenderError::Deadline { endpoint: call.endpoint })
    }

    /// Pages through a collection (`{"value": [...]}`), one `Vec` per page: `@odata.nextLink` when the
    /// service sends it, else `$top`/`$skip` with `page_size` until a short page.
    pub fn pages<'a, R: DeserializeOwned + Send + 'a>(
        &'a self,
        tenant: &'a TenantName,
        call: Call,
        page_size: usize,
        deadline: Deadline,
    ) -> BoxStream<'a, Result<Vec<R>, DefenderError>> {
        let _ = (tenant, page_size, deadline);
        futures::stream::once(async move { Err(DefenderError::Deadline { endpoint: call.endpoint }) }).boxed()
    }
}
