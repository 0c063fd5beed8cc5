//! Errors from the Defender APIs.
//!
//! An error keeps what support and the caller need — the HTTP status, the service's error code and
//! message from its documented envelope, the id the service gave the request (MDE/XDR `error.target`,
//! Graph `innerError.request-id`), and how long the service asked us to wait — and never a bearer
//! token or a request body. Messages are lowercase; `#[source]` carries the chain.
//!
//! Envelopes (`contract/defender-api/mde.errors.json`, `graph.errors.json`):
//! - Defender for Endpoint and XDR: `{"error":{"code","message","target"}}`;
//! - Graph: `{"error":{"code","message","innerError":{"request-id","date"}}}`.

use reqwest::StatusCode;
use serde::Deserialize;
use std::time::Duration;

/// A failed Defender, XDR or Graph call.
#[derive(Debug, thiserror::Error)]
pub enum DefenderError {
    /// The service answered with an error.
    #[error("{endpoint} answered {} {code}: {message}", status.as_u16())]
    Api {
        /// Contract endpoint name (`mde.alerts.list`).
        endpoint: &'static str,
        /// HTTP status.
        status: StatusCode,
        /// The service's error code (`ResourceNotFound`, ...); empty when the body had no envelope.
        code: String,
        /// The service's message.
        message: String,
        /// Seconds the service asked us to wait (`Retry-After`, e.g. on a 503).
        retry_after: Option<u64>,
        /// The service's id for the request (MDE/XDR `target`, Graph `request-id`), for support.
        request_id: Option<String>,
    },
    /// The service said 429 and the wait it asked for would cross the deadline (or the retries ran
    /// out): try again after `retry_after`.
    #[error("{endpoint} is throttled{}: {message}", retry_after.map(|d| format!(" for {}s", d.as_secs_f64().ceil())).unwrap_or_default())]
    Throttled {
        /// Contract endpoint name.
        endpoint: &'static str,
        /// How long the service asked us to wait (header or body), if it said.
        retry_after: Option<Duration>,
        /// The service's error code (`TooManyRequests`).
        code: String,
        /// The service's message (which quota was hit, when it says).
        message: String,
        /// The service's id for the request.
        request_id: Option<String>,
    },
    /// The documented quota has no free slot before the deadline; nothing was sent.
    #[error("{endpoint}: the documented rate limit allows the next call in {}s, after the deadline", wait.as_secs_f64().ceil())]
    Paced {
        /// Contract endpoint name.
        endpoint: &'static str,
        /// When the next slot opens, from now.
        wait: Duration,
    },
    /// No answer before the caller's deadline.
    #[error("{endpoint}: deadline reached")]
    Deadline {
        /// Contract endpoint name.
        endpoint: &'static str,
    },
    /// A token could not be had.
    #[error("no token for the call")]
    Auth(#[source] Box<crate::auth::AuthError>),
    /// Transport failure.
    #[error("{endpoint}: transport failed")]
    Transport {
        /// Contract endpoint name.
        endpoint: &'static str,
        /// The cause (without the URL).
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
    /// No API host and scope are configured for this tenant and API.
    #[error("no {api:?} endpoint is configured for tenant {tenant}")]
    NoTarget {
        /// The tenant.
        tenant: String,
        /// The API family.
        api: crate::cloud::ApiFamily,
    },
    /// The request URL could not be built from the target and the call's path.
    #[error("{endpoint}: invalid request url")]
    Url {
        /// Contract endpoint name.
        endpoint: &'static str,
        /// The cause.
        #[source]
        source: url::ParseError,
    },
    /// The call's path would leave the API base (a `.` or `..` segment).
    #[error("{endpoint}: the path is not below the api base")]
    BadPath {
        /// Contract endpoint name.
        endpoint: &'static str,
    },
    /// An `@odata.nextLink` pointed away from the API's origin; it was not followed (the bearer token
    /// would have gone with it).
    #[error("{endpoint}: next page link leaves the api origin ({origin})")]
    ForeignNextLink {
        /// Contract endpoint name.
        endpoint: &'static str,
        /// The origin the link pointed at.
        origin: String,
    },
}

/// What a caller tells its user about a failed call: the one classification every function maps its
/// own error from ([`DefenderError::classify`]). Never a body or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Throttled past the caller's deadline (a 429, or pacing that would have waited past it).
    Throttled,
    /// No answer before the caller's deadline.
    Deadline,
    /// `400 ActiveRequestAlreadyExists`: a machine action of that kind is already in flight.
    AlreadyInProgress,
    /// Anything else, as [`DefenderError::summary`] (`403 Forbidden`).
    Service(String),
}

impl DefenderError {
    /// The caller-facing class of this error (see [`Failure`]); a 404 is a [`Failure::Service`] here —
    /// a caller for whom "not found" is an answer reads it first with [`found`].
    pub fn classify(&self) -> Failure {
        if self.is_throttled() {
            Failure::Throttled
        } else if self.is_deadline() {
            Failure::Deadline
        } else if self.status() == Some(StatusCode::BAD_REQUEST) && self.code() == Some("ActiveRequestAlreadyExists") {
            Failure::AlreadyInProgress
        } else {
            Failure::Service(self.summary())
        }
    }

    /// Throttled past the caller's deadline: a 429 from the service, or the governor would have had to
    /// wait past it.
    pub fn is_throttled(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Paced { .. }) || self.status().map(|s| s.as_u16()) == Some(429)
    }

    /// No answer before the caller's deadline.
    pub fn is_deadline(&self) -> bool {
        matches!(self, Self::Deadline { .. })
    }

    /// `status code` (e.g. `404 ResourceNotFound`) for a caller-facing reason, never a body or a token;
    /// the error's own message when there is no status.
    pub fn summary(&self) -> String {
        match (self.status(), self.code()) {
            (Some(s), Some(c)) => format!("{} {c}", s.as_u16()),
            (Some(s), None) => s.as_u16().to_string(),
            _ => self.to_string(),
        }
    }

    /// Whether the same call may succeed later: throttling, 5xx, pacing, a deadline, a connect or
    /// timeout failure. Client errors (4xx), bad bodies and configuration errors are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => is_retryable_status(*status),
            Self::Throttled { .. } | Self::Paced { .. } | Self::Deadline { .. } => true,
            Self::Transport { source, .. } => source.is_connect() || source.is_timeout(),
            Self::Auth(e) => e.is_retryable(),
            Self::Decode { .. }
            | Self::NoTarget { .. }
            | Self::Url { .. }
            | Self::BadPath { .. }
            | Self::ForeignNextLink { .. } => false,
        }
    }

    /// The HTTP status the service answered with, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::Throttled { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            _ => None,
        }
    }

    /// The service's error code, if it answered with an envelope.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } | Self::Throttled { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// How long to wait before trying again, when the service or the governor said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => retry_after.map(Duration::from_secs),
            Self::Throttled { retry_after, .. } => *retry_after,
            Self::Paced { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}

/// Statuses worth another attempt: 429 and the transient 5xx.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// The code, message and request id from an error body, whichever envelope it uses.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
struct Outer {
    error: Inner,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    /// MDE/XDR tracking id.
    #[serde(default)]
    target: Option<String>,
    /// Graph (documented `innerError`; some services write `innererror`).
    #[serde(default, rename = "innerError", alias = "innererror")]
    inner_error: Option<GraphInner>,
}

#[derive(Deserialize)]
struct GraphInner {
    #[serde(default, rename = "request-id")]
    request_id: Option<String>,
}

/// Longest piece of a non-JSON error body kept as the message.
const MAX_RAW_MESSAGE: usize = 200;

impl Envelope {
    /// Reads the documented envelopes; a body without one keeps (the start of) its text as message.
    pub(crate) fn parse(body: &[u8]) -> Self {
        if let Ok(Outer { error }) = serde_json::from_slice::<Outer>(body) {
            let request_id = error.target.or_else(|| error.inner_error.and_then(|i| i.request_id));
            return Self { code: error.code, message: error.message, request_id };
        }
        let text = String::from_utf8_lossy(body);
        let message: String = text.trim().chars().take(MAX_RAW_MESSAGE).collect();
        Self { code: String::new(), message, request_id: None }
    }
}

/// A 404 means "Defender does not know it": `Ok(None)`; any other error stays an error.
///
/// # Errors
/// Every error but a 404.
pub fn found<V>(r: Result<V, DefenderError>) -> Result<Option<V>, DefenderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.status().map(|s| s.as_u16()) == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

impl From<crate::auth::AuthError> for DefenderError {
    fn from(e: crate::auth::AuthError) -> Self {
        Self::Auth(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_documented_envelopes_are_read() {
        let mde = br#"{"error":{"code":"ResourceNotFound","message":"Machine 123 was not found","target":"43f4cb08-8fac-4b65-9db1-745c2ae65f3a"}}"#;
        assert_eq!(
            Envelope::parse(mde),
            Envelope {
                code: "ResourceNotFound".into(),
                message: "Machine 123 was not found".into(),
                request_id: Some("43f4cb08-8fac-4b65-9db1-745c2ae65f3a".into())
            }
        );
        let graph = br#"{"error":{"code":"itemNotFound","message":"not here","innerError":{"request-id":"r-1","date":"2026-11-28T00:00:00"}}}"#;
        let e = Envelope::parse(graph);
        assert_eq!((e.code.as_str(), e.request_id.as_deref()), ("itemNotFound", Some("r-1")));
        let raw = Envelope::parse(b"<html>Service Unavailable</html>");
        assert_eq!((raw.code.as_str(), raw.message.as_str()), ("", "<html>Service Unavailable</html>"));
    }

    #[test]
    fn messages_are_lowercase_and_retryability_follows_the_status() {
        let e = DefenderError::Api {
            endpoint: "mde.machines.get",
            status: StatusCode::NOT_FOUND,
            code: "ResourceNotFound".into(),
            message: "Machine was not found".into(),
            retry_after: None,
            request_id: Some("t-1".into()),
        };
        assert_eq!(e.to_string(), "mde.machines.get answered 404 ResourceNotFound: Machine was not found");
        assert!(!e.is_retryable());
        assert_eq!(e.code(), Some("ResourceNotFound"));
        let t = DefenderError::Throttled {
            endpoint: "mde.alerts.list",
            retry_after: Some(Duration::from_millis(1500)),
            code: "TooManyRequests".into(),
            message: "Rate limit is exceeded".into(),
            request_id: None,
        };
        assert_eq!(t.to_string(), "mde.alerts.list is throttled for 2s: Rate limit is exceeded");
        assert!(t.is_retryable());
        assert_eq!(t.status(), Some(StatusCode::TOO_MANY_REQUESTS));
        let p = DefenderError::Paced { endpoint: "mde.alerts.list", wait: Duration::from_secs(30) };
        assert!(p.to_string().starts_with("mde.alerts.list: the documented rate limit"));
        assert!(DefenderError::Deadline { endpoint: "x" }.is_retryable());
        for s in [500, 502, 503, 504, 429] {
            assert!(is_retryable_status(StatusCode::from_u16(s).unwrap()));
        }
        for s in [400, 401, 403, 404, 409] {
            assert!(!is_retryable_status(StatusCode::from_u16(s).unwrap()));
        }
    }

    fn api(status: StatusCode, code: &str) -> DefenderError {
        DefenderError::Api {
            endpoint: "mde.machines.get",
            status,
            code: code.into(),
            message: "m".into(),
            retry_after: None,
            request_id: None,
        }
    }

    #[test]
    fn found_throttled_and_summary_classify_for_callers() {
        assert_eq!(found(Ok::<_, DefenderError>(1)).unwrap(), Some(1));
        assert_eq!(found::<i32>(Err(api(StatusCode::NOT_FOUND, "ResourceNotFound"))).unwrap(), None);
        let forbidden = found::<i32>(Err(api(StatusCode::FORBIDDEN, "Forbidden"))).unwrap_err();
        assert_eq!(forbidden.summary(), "403 Forbidden");
        assert!(!forbidden.is_throttled() && !forbidden.is_deadline());
        assert!(api(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests").is_throttled());
        assert!(DefenderError::Deadline { endpoint: "mde.machines.get" }.is_deadline());
    }

    #[test]
    fn classify_names_what_the_caller_tells_its_user() {
        assert_eq!(api(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests").classify(), Failure::Throttled);
        let paced = DefenderError::Paced { endpoint: "mde.alerts.list", wait: Duration::from_secs(30) };
        assert_eq!(paced.classify(), Failure::Throttled);
        assert_eq!(DefenderError::Deadline { endpoint: "mde.machines.get" }.classify(), Failure::Deadline);
        let busy = api(StatusCode::BAD_REQUEST, "ActiveRequestAlreadyExists");
        assert_eq!(busy.classify(), Failure::AlreadyInProgress);
        // The code alone is not enough: the documented answer is a 400.
        assert_eq!(
            api(StatusCode::CONFLICT, "ActiveRequestAlreadyExists").classify(),
            Failure::Service("409 ActiveRequestAlreadyExists".into())
        );
        assert_eq!(
            api(StatusCode::NOT_FOUND, "ResourceNotFound").classify(),
            Failure::Service("404 ResourceNotFound".into())
        );
        assert_eq!(api(StatusCode::FORBIDDEN, "Forbidden").classify(), Failure::Service("403 Forbidden".into()));
    }
}
