//! local-runner — the local stack behind `make run`, `make dev` and the end-to-end tests in `tests/`.
//!
//! ```text
//! env        the environment each function gets, pointed at the simulated tenant
//! paths      where the workspace, the prebuilt function binaries, cargo-lambda and moto are
//! stack      `cargo lambda watch --only-lambda-apis` (runtime, invoke and function-URL APIs) and the
//!            function binaries attached to its runtime API, each with its own environment
//! receiver   the test kit's `response_url` receiver (re-exported from testkit::receiver)
//! moto       the AWS stand-in: the test kit's starter (testkit::moto) and the template's plan
//! events     real event shapes (EventBridge Scheduler, SQS) and the signed request headers
//! template   infra/template.yaml resolved as CloudFormation would (scripts/cfn_resolve.py): each
//!            function's environment, limits, role and policies
//! ```
//!
//! Every process this module starts is killed when its handle is dropped; logs go to a directory
//! outside the project (cargo-lambda restarts on any file written inside it).

pub mod env;
pub mod events;
pub mod moto;
pub mod paths;
pub use testkit::receiver;
pub mod stack;
pub mod template;

/// Why the local stack could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A prebuilt binary or tool is missing.
    #[error("{what} not found at {path}: {hint}")]
    Missing {
        /// What.
        what: String,
        /// Where it was looked for.
        path: String,
        /// How to get it.
        hint: &'static str,
    },
    /// A process could not be started.
    #[error("could not start {what}: {source}")]
    Spawn {
        /// What.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// A server did not come up in time.
    #[error("{what} did not listen on {addr} within {secs} s (log: {log})")]
    NotListening {
        /// What.
        what: String,
        /// Its address.
        addr: String,
        /// How long we waited.
        secs: u64,
        /// Its log file.
        log: String,
    },
    /// A function process ended.
    #[error("function {name} exited ({status}); its log ({log}) ends with:\n{tail}")]
    Exited {
        /// The function.
        name: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: String,
        /// The last lines of it.
        tail: String,
    },
    /// An HTTP exchange failed.
    #[error("{what}: {source}")]
    Http {
        /// What was sent.
        what: String,
        /// Why it failed.
        source: reqwest::Error,
    },
    /// Local I/O.
    #[error("{what}: {source}")]
    Io {
        /// What.
        what: String,
        /// Why.
        source: std::io::Error,
    },
}

impl StackError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

/// The last `n` lines of a log file (empty when unreadable).
pub fn tail(path: &std::path::Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Waits (bounded) until something accepts TCP connections on `port` of the loopback address;
/// `false` when nothing listened within `secs`.
pub async fn wait_listening(port: u16, secs: u64) -> bool {
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    while tokio::time::Instant::now() < until {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// A free loopback port (bound then released).
///
/// # Errors
/// No port could be bound.
pub fn free_port() -> Result<u16, StackError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(StackError::io("binding a free port"))
}
