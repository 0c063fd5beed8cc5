//! The services' error envelopes, in their documented shapes.
//!
//! - Defender for Endpoint and XDR: `{"error":{"code","message","target"}}` (`mde.errors.json`).
//! - Graph: `{"error":{"code","message","innerError":{"request-id","date"}}}` (`graph.errors.json`).
//! - Entra ID: `{"error","error_description":"AADSTSnnnnn: ...","error_codes",...}` (`auth.token.error.json`).
//! - Key Vault: `{"error":{"code","message"}}`.

use crate::spec::Api;
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

/// An error and its sources, `outer: inner: root`: how the simulator, its control API and the local
/// runner report a failure on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        cur = s.source();
    }
    msg
}

/// An API error about to be rendered in its service's envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The service's error code (`ResourceNotFound`, `itemNotFound`, ...).
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_string(), message: message.into(), retry_after: None }
    }
    /// 400 with a code.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 404 `ResourceNotFound`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
    }

    /// Renders the error in the envelope of `api`.
    pub fn render(&self, api: Api, now: chrono::DateTime<chrono::Utc>) -> Response {
        let body = match api {
            Api::Mde | Api::Xdr => json!({"error": {
                "code": self.code, "message": self.message, "target": uuid::Uuid::new_v4().to_string()
            }}),
            Api::Graph => json!({"error": {
                "code": graph_code(&self.code, self.status), "message": self.message,
                "innerError": {"request-id": uuid::Uuid::new_v4().to_string(),
                    "date": now.format("%Y-%m-%dT%H:%M:%S").to_string()}
            }}),
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Graph spells its codes in camelCase (`itemNotFound`, `accessDenied`, ...).
fn graph_code(code: &str, status: StatusCode) -> String {
    match status.as_u16() {
        401 => "InvalidAuthenticationToken".into(),
        403 => "Forbidden".into(),
        404 => "itemNotFound".into(),
        429 => "TooManyRequests".into(),
        400 if code == "ODataError" || code == "BadRequest" => "BadRequest".into(),
        _ => code.to_string(),
    }
}

/// An Entra ID token-endpoint error.
#[derive(Debug, Clone)]
pub struct EntraError {
    /// HTTP status (400 or 401).
    pub status: StatusCode,
    /// OAuth `error` (`invalid_client`, `invalid_grant`, ...).
    pub error: &'static str,
    /// AADSTS number.
    pub aadsts: u32,
    /// Description after `AADSTSnnnnn: `.
    pub description: String,
}

impl EntraError {
    /// A new error.
    pub fn new(status: StatusCode, error: &'static str, aadsts: u32, description: impl Into<String>) -> Self {
        Self { status, error, aadsts, description: description.into() }
    }

    /// The JSON body (also used by the device-code poll answers).
    pub fn body(&self, now: chrono::DateTime<chrono::Utc>) -> Value {
        let trace = uuid::Uuid::new_v4().to_string();
        let corr = uuid::Uuid::new_v4().to_string();
        json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {} Trace ID: {trace} Correlation ID: {corr} Timestamp: {}",
                self.aadsts, self.description, now.format("%Y-%m-%d %H:%M:%SZ")),
            "error_codes": [self.aadsts],
            "timestamp": now.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.aadsts),
        })
    }

    /// Renders the error response.
    pub fn render(&self, now: chrono::DateTime<chrono::Utc>) -> Response {
        (self.status, Json(self.body(now))).into_response()
    }
}

/// A Key Vault error.
pub fn vault_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}
