//! lambda-emu — the Lambda Runtime API (2018-06-01) in a few routes, so tests and benches can run a
//! function's **real binary** — its `main`, its cold-start init, `lambda_runtime`'s polling loop — the
//! way Lambda does, without Docker or AWS.
//!
//! ```text
//! GET  /2018-06-01/runtime/invocation/next              → the next event (blocks until one is queued)
//! POST /2018-06-01/runtime/invocation/{id}/response     ← the function's answer
//! POST /2018-06-01/runtime/invocation/{id}/error        ← the function's error
//! POST /2018-06-01/runtime/init/error                   ← an init failure
//! ```
//! [`Emulator::invoke`] queues an event and waits for its answer; [`Emulator::env`] gives the variables
//! `lambda_runtime` requires before its first poll.
//!
//! moto (the AWS stand-in) is started by the test kit, `testkit::moto`, not here.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::Value;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::{mpsc, oneshot};

/// What an invocation ended with.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function reported an error (`/error`), with its body.
    #[error("the function reported an error: {0}")]
    Function(String),
    /// The function failed its init (`/init/error`).
    #[error("the function failed to initialise: {0}")]
    Init(String),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The emulator is gone.
    #[error("the emulator stopped")]
    Stopped,
}

type Outcome = Result<Bytes, InvokeError>;

struct Pending {
    id: String,
    event: Value,
    deadline_ms: u64,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Shared {
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    init_error: Option<String>,
    /// When the function first polled `/next` (its cold start is over).
    first_poll: Option<Instant>,
}

#[derive(Clone)]
struct AppState {
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>,
    shared: Arc<Mutex<Shared>>,
}

/// A running emulator.
pub struct Emulator {
    /// `127.0.0.1:<port>` (the form `AWS_LAMBDA_RUNTIME_API` takes).
    pub addr: String,
    tx: mpsc::Sender<Pending>,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn next(State(st): State<AppState>) -> impl IntoResponse {
    {
        let mut s = lock(&st.shared);
        s.first_poll.get_or_insert_with(Instant::now);
    }
    let pending = st.queue.lock().await.recv().await;
    let Some(p) = pending else { return (StatusCode::GONE, HeaderMap::new(), Bytes::new()) };
    lock(&st.shared).waiting.insert(p.id.clone(), p.reply);
    let mut h = HeaderMap::new();
    let put = |h: &mut HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put(&mut h, "lambda-runtime-aws-request-id", p.id);
    put(&mut h, "lambda-runtime-deadline-ms", p.deadline_ms.to_string());
    put(&mut h, "lambda-runtime-invoked-function-arn", "arn:aws:lambda:eu-west-1:123456789012:function:local".into());
    put(&mut h, "lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".into());
    put(&mut h, "content-type", "application/json".into());
    (StatusCode::OK, h, Bytes::from(p.event.to_string()))
}

async fn response(State(st): State<AppState>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    if let Some(tx) = lock(&st.shared).waiting.remove(&id) {
        let _ = tx.send(Ok(body));
    }
    StatusCode::ACCEPTED
}

async fn error(State(st): State<AppState>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    if let Some(tx) = lock(&st.shared).waiting.remove(&id) {
        let _ = tx.send(Err(InvokeError::Function(String::from_utf8_lossy(&body).into_owned())));
    }
    StatusCode::ACCEPTED
}

async fn init_error(State(st): State<AppState>, body: Bytes) -> impl IntoResponse {
    lock(&st.shared).init_error = Some(String::from_utf8_lossy(&body).into_owned());
    (StatusCode::ACCEPTED, Json(serde_json::json!({"status": "OK"})))
}

impl Emulator {
    /// Starts the emulator on an ephemeral loopback port.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(64);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = AppState { queue: Arc::new(tokio::sync::Mutex::new(rx)), shared: shared.clone() };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, tx, shared, task })
    }

    /// The variables `lambda_runtime` requires (plus a function name and memory size).
    pub fn env(&self, function_name: &str) -> Vec<(String, String)> {
        vec![
            ("AWS_LAMBDA_RUNTIME_API".into(), self.addr.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), function_name.into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "256".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{function_name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "local".into()),
            ("AWS_REGION".into(), "eu-west-1".into()),
        ]
    }

    /// When the function first asked for an event (its init finished), if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        lock(&self.shared).first_poll
    }

    /// Queues `event` and waits up to `timeout` for the function's answer (the raw response body).
    ///
    /// # Errors
    /// [`InvokeError`] for a function error, an init failure, or no answer in time.
    pub async fn invoke(&self, event: &Value, timeout: Duration) -> Result<Bytes, InvokeError> {
        let (reply, rx) = oneshot::channel();
        let deadline_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
            + timeout.as_millis() as u64;
        let pending = Pending { id: uuid::Uuid::new_v4().to_string(), event: event.clone(), deadline_ms, reply };
        self.tx.send(pending).await.map_err(|_| InvokeError::Stopped)?;
        let started = Instant::now();
        let mut rx = rx;
        loop {
            if let Some(msg) = lock(&self.shared).init_error.clone() {
                return Err(InvokeError::Init(msg));
            }
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(InvokeError::Timeout(timeout));
            }
            // Wake up now and then to notice an init failure.
            match tokio::time::timeout(left.min(Duration::from_millis(200)), &mut rx).await {
                Ok(Ok(outcome)) => return outcome,
                Ok(Err(_)) => return Err(InvokeError::Stopped),
                Err(_) => continue,
            }
        }
    }
}
