//! Errors from the Defender APIs. (The core work completes this.)

use reqwest::StatusCode;

/// A failed Defender, XDR or Graph call.
#[derive(Debug, thiserror::Error)]
pub enum DefenderError {
    /// The service answered with an error.
    #[error("{endpoint} answered {status} {code}")]
    Api {
        /// Contract endpoint name (`mde.alerts.list`).
        endpoint: &'static str,
        /// HTTP status.
        status: StatusCode,
        /// The service's error code (`ResourceNotFound`, ...).
        code: String,
        /// The service's message.
        message: String,
        /// Seconds the service asked us to wait.
        retry_after: Option<u64>,
    },
    /// No answer before the caller's deadline.
    #[error("{endpoint}: deadline reached")]
    Deadline {
        /// Contract endpoint name.
        endpoint: &'static str,
    },
    /// A token could not be had.
    #[error("no token for the call")]
    Auth(#[from] crate::auth::AuthError),
    /// Transport failure.
    #[error("{endpoint}: transport failed")]
    Transport {
        /// Contract endpoint name.
        endpoint: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The answer did not match the documented shape.
    #[error("{endpoint}: unexpected response body")]
    Decode {
        /// Contract endpoint name.
        endpoint: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}
