//! The local stack the soak and the secret scan drive: the simulated tenant, the webhook-enrich and
//! chat-ops handlers and the scheduled export built from the real runtime (each its own cold start,
//! as separate Lambdas), chat-ops' worker draining the hand-off in-process (as the local-mode callback
//! binary does), a `response_url` / callback receiver, and a log capture.
//!
//! Credentials come from a tenant registry: `default` with its client secret in the vault, and — when
//! asked — `alice`, a user-context tenant whose rotating refresh token lives in the vault.

use axum::{Router, body::Bytes, extract::Path, routing::post};
use chatops::{
    config::ChatOpsConfig, handoff::ChannelHandOff, idempotency::MemoryStore, state::Wiring, worker::Worker,
};
use defender_shared::{config::Config, runtime::Runtime, secret::SecretString, webhook};
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use std::{
    io::Write,
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};
use tenant_sim::SimOptions;
use testkit::{
    SimEnv,
    demo::{POLICY_WITH_READER, PUBLIC_CLIENT},
};
use tokio::task::JoinHandle;

/// The demo app (every read and response role, vault access), the chat users — the analyst with every
/// right, the reader who may only read — and the clock: the test kit's.
pub use testkit::demo::{ANALYST, APP, READER, now};

/// Why the stack could not start (a message for the soak's report).
pub type StackError = String;

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> StackError + '_ {
    move |e| format!("{what}: {e}")
}

/// The secret values the stack runs with.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// The app's client secret (in the vault as `defender-client-secret`).
    pub client_secret: String,
    /// Slack's signing secret.
    pub slack: String,
    /// Teams' outgoing-webhook secret (base64).
    pub teams: String,
    /// The Standard Webhooks secret (`whsec_` + base64).
    pub whsec: String,
    /// The callback's own outbound key (`whsec_` + base64).
    pub callback: String,
    /// The user-context refresh token (in the vault as `alice-rt`), when a user tenant is configured.
    pub refresh_token: Option<String>,
}

impl Secrets {
    /// Values nobody could mistake for anything else: every one holds `SCANME`, so a scan that finds
    /// the marker anywhere has found a secret or a piece of one.
    pub fn recognisable() -> Self {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        Self {
            client_secret: "SCANME-client-secret-4f1d9a".into(),
            slack: "SCANME-slack-signing-7b2e0c".into(),
            teams: b64("SCANME-teams-outgoing-secret-3c8d"),
            whsec: format!("whsec_{}", b64("SCANME-standard-webhooks-9e4a")),
            callback: format!("whsec_{}", b64("SCANME-callback-outbound-5a7c")),
            refresh_token: Some("SCANME-refresh-token-0.AXkA-6d2f".into()),
        }
    }
}

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Secret values (`None`: the demo seed's).
    pub secrets: Option<Secrets>,
    /// `DEFENDER_SECRET_TTL_SECONDS`.
    pub secret_ttl_s: u64,
    /// Build the scheduled export too (into a directory sink).
    pub export: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self { secrets: None, secret_ttl_s: 300, export: false }
    }
}

/// What a handler answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, when present.
    pub retry_after: Option<String>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

fn answer(r: lambda_http::Response<Body>) -> Answer {
    let status = r.status().as_u16();
    let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = match r.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    Answer { status, retry_after, body }
}

/// POSTs received by the local receiver: `(hook id, body)`.
pub type Posts = Arc<Mutex<Vec<(String, String)>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The running stack.
pub struct Stack {
    /// The simulated tenant (its CA file and the stack's directory with it; derefs to
    /// [`tenant_sim::RunningSim`]).
    pub sim: SimEnv,
    /// Secret values in use.
    pub secrets: Secrets,
    /// webhook-enrich's handler state.
    pub enrich: webhook_enrich::handler::State,
    /// chat-ops' callback state.
    pub chat: chatops::handler::State,
    /// chat-ops' worker.
    pub worker: Arc<Worker>,
    /// The scheduled export, when asked for.
    pub export: Option<scheduled_export::handler::State>,
    /// Where the export writes.
    pub export_dir: PathBuf,
    /// `http://127.0.0.1:<port>/hook/` — `response_url`s and the webhook callback go below it.
    pub hooks: String,
    /// What the receiver got.
    pub posts: Posts,
    /// Worker jobs started (their handles, to find a panic).
    pub jobs: Arc<Mutex<Vec<JoinHandle<()>>>>,
    drain: JoinHandle<()>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack").field("sim", &self.sim.url).finish_non_exhaustive()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.drain.abort();
        for j in lock(&self.jobs).iter() {
            j.abort();
        }
    }
}

async fn receiver() -> Result<(String, Posts), StackError> {
    let posts: Posts = Arc::default();
    let p = posts.clone();
    let app = Router::new().route(
        "/hook/{id}",
        post(move |Path(id): Path<String>, body: Bytes| {
            let p = p.clone();
            async move {
                lock(&p).push((id, String::from_utf8_lossy(&body).into_owned()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| err("receiver")(&e))?;
    let addr = listener.local_addr().map_err(|e| err("receiver")(&e))?;
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    Ok((format!("http://{addr}/hook/"), posts))
}

impl Stack {
    /// Starts the simulator and builds each function's state from its own runtime.
    ///
    /// # Errors
    /// A message saying which part failed to start.
    pub async fn start(opts: StackOptions) -> Result<Self, StackError> {
        let mut sim_opts = SimOptions::demo().map_err(|e| err("seed")(&e))?;
        let secrets = match opts.secrets {
            Some(s) => s,
            None => {
                let s = &sim_opts.seed.secrets;
                let get = |k: &str| s.get(k).cloned().unwrap_or_default();
                Secrets {
                    client_secret: get("defender-client-secret"),
                    slack: get("slack-signing-secret"),
                    teams: get("teams-outgoing-secret"),
                    whsec: get("webhook-secret"),
                    callback: get("webhook-callback-secret"),
                    refresh_token: None,
                }
            }
        };
        for app in sim_opts.seed.apps.iter_mut().filter(|a| a.client_id == APP) {
            app.client_secret = Some(secrets.client_secret.clone());
        }
        let vault = &mut sim_opts.seed.secrets;
        vault.insert("defender-client-secret".into(), secrets.client_secret.clone());
        vault.insert("slack-signing-secret".into(), secrets.slack.clone());
        vault.insert("teams-outgoing-secret".into(), secrets.teams.clone());
        vault.insert("webhook-secret".into(), secrets.whsec.clone());
        vault.insert("webhook-callback-secret".into(), secrets.callback.clone());
        if let Some(rt) = &secrets.refresh_token {
            vault.insert("alice-rt".into(), rt.clone());
        }
        let sim = SimEnv::around(tenant_sim::start(sim_opts).await.map_err(|e| err("simulator")(&e))?);
        if let Some(rt) = &secrets.refresh_token {
            let grant = tenant_sim::state::RefreshGrant {
                client_id: PUBLIC_CLIENT.into(),
                upn: "alice@contoso.com".into(),
                expires_at: chrono::Utc::now() + chrono::TimeDelta::days(90),
                redeemed: false,
            };
            lock(&sim.sim.tenant).refresh_tokens.insert(rt.clone(), grant);
        }

        let mut tenants = vec![json!({"name": "default", "tenant_id": sim.tenant_id(), "client_id": APP,
            "credential": {"kind": "client_secret", "secret_name": "defender-client-secret"},
            "allowed_actions": ["isolate", "unisolate", "scan"],
            "api_overrides": {"mde": sim.url, "xdr": sim.url, "graph": sim.url}})];
        if secrets.refresh_token.is_some() {
            tenants.push(json!({"name": "alice", "tenant_id": sim.tenant_id(), "client_id": PUBLIC_CLIENT,
                "credential": {"kind": "user", "refresh_token_secret": "alice-rt", "client_id": PUBLIC_CLIENT},
                "api_overrides": {"mde": sim.url, "xdr": sim.url, "graph": sim.url}}));
        }
        let registry = sim.dir.join("tenants.json");
        // Two tenants when a user tenant is seeded: the one webhook sender is bound to both.
        let names: Vec<Value> = tenants.iter().map(|t| t["name"].clone()).collect();
        let senders = json!([{"name": "soak", "secrets": ["webhook-secret"], "tenants": names}]);
        std::fs::write(&registry, json!({"tenants": tenants, "senders": senders}).to_string())
            .map_err(|e| err("registry")(&e))?;
        let export_dir = sim.dir.join("export");
        let (hooks, posts) = receiver().await?;
        // The kit's function environment; the bootstrap identity (vault access) is the app's, its secret
        // inline as a Lambda would get it from its environment; the tenants' credentials come from the
        // registry.
        let env = sim.env_with(&[
            ("AZURE_CLIENT_SECRET", secrets.client_secret.clone()),
            ("DEFENDER_TENANTS_FILE", registry.display().to_string()),
            ("DEFENDER_SECRET_TTL_SECONDS", opts.secret_ttl_s.to_string()),
            ("CHATOPS_RBAC", POLICY_WITH_READER.into()),
            ("CHATOPS_RESPONSE_URL_PREFIXES", hooks.clone()),
            ("WEBHOOK_CALLBACK_URL", format!("{hooks}enrich-callback")),
            ("EXPORT_DIR", export_dir.display().to_string()),
        ]);
        let lookup = |k: &str| env.get(k).cloned();
        let runtime = || async {
            let config = Config::from_lookup(lookup).map_err(|e| err("config")(&e))?;
            Runtime::from_config(config).await.map_err(|e| err("runtime")(&e))
        };

        let rt = runtime().await?;
        let cfg = webhook_enrich::config::EnrichConfig::from_lookup(lookup).map_err(|e| err("enrich config")(&e))?;
        let enrich = webhook_enrich::state::build(rt, cfg, now).await.map_err(|e| err("enrich state")(&e))?;

        let rt = runtime().await?;
        let cfg = ChatOpsConfig::from_lookup(lookup).map_err(|e| err("chatops config")(&e))?;
        let (handoff, mut rx) = ChannelHandOff::new();
        let wiring = Wiring {
            idempotency: Arc::new(MemoryStore::with_clock(now)),
            handoff: Arc::new(handoff),
            responder: None,
            clock: now,
        };
        let (chat, worker) = chatops::state::build(&rt, cfg, wiring);
        let jobs: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (w, j) = (worker.clone(), jobs.clone());
        // As the local-mode callback binary does: every hand-off runs on the in-process worker.
        let drain = tokio::spawn(async move {
            while let Some((job, delay)) = rx.recv().await {
                let w = w.clone();
                let handle = tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    w.run(job).await;
                });
                lock(&j).push(handle);
            }
        });

        let export = if opts.export {
            let rt = runtime().await?;
            let cfg =
                scheduled_export::config::ExportConfig::from_lookup(lookup).map_err(|e| err("export config")(&e))?;
            Some(scheduled_export::state::build(rt, cfg).await)
        } else {
            None
        };
        Ok(Self { sim, secrets, enrich, chat, worker, export, export_dir, hooks, posts, jobs, drain })
    }

    /// A signed API Gateway v2 webhook event.
    pub fn webhook_event(&self, body: &str, id: &str) -> Request {
        let ts = now();
        let sig = webhook::sign_standard(&SecretString::new(self.secrets.whsec.clone()), id, ts, body.as_bytes())
            .unwrap_or_default();
        let mut v: Value = serde_json::from_str(include_str!(
            "../../../functions/webhook-enrich/tests/fixtures/apigw-v2-post-enrich.json"
        ))
        .unwrap_or_default();
        v["body"] = json!(body);
        v["headers"]["webhook-id"] = json!(id);
        v["headers"]["webhook-timestamp"] = json!(ts.to_string());
        v["headers"]["webhook-signature"] = json!(sig);
        to_request(&v)
    }

    /// Runs one webhook request through the handler.
    pub async fn webhook(&self, req: Request) -> Answer {
        answer(webhook_enrich::handler::handle(&self.enrich, req).await)
    }

    /// A slash command's form body (the kit's), its replies going to the receiver's `hook`.
    pub fn slash_body(&self, user: &str, text: &str, hook: &str) -> String {
        testkit::slack::slash_command(user, text, &format!("{}{hook}", self.hooks))
    }

    /// A button press's form body.
    pub fn button_body(&self, user: &str, action_id: &str, value: &str, hook: &str) -> String {
        let payload = json!({"type": "block_actions", "user": {"id": user, "username": user.to_lowercase()},
            "team": {"id": "T0001"}, "api_app_id": "A0DEFENDER", "channel": {"id": "C2147483705"}, "trigger_id": "1.2.3",
            "response_url": format!("{}{hook}", self.hooks),
            "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value}]});
        url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish()
    }

    /// A signed Slack event (`x-slack-retry-num` when `retry` is set).
    pub fn slack_event(&self, body: &str, retry: Option<u32>) -> Request {
        let ts = now();
        let sig = webhook::sign_slack(&SecretString::new(self.secrets.slack.clone()), ts, body.as_bytes())
            .unwrap_or_default();
        let mut v: Value =
            serde_json::from_str(include_str!("../../../functions/chatops/tests/fixtures/apigw-v2-slack.json"))
                .unwrap_or_default();
        v["body"] = json!(body);
        v["headers"]["x-slack-request-timestamp"] = json!(ts.to_string());
        v["headers"]["x-slack-signature"] = json!(sig);
        if let Some(n) = retry {
            v["headers"]["x-slack-retry-num"] = json!(n.to_string());
        }
        to_request(&v)
    }

    /// A signed Teams outgoing-webhook event with `text` after the mention.
    pub fn teams_event(&self, text: &str) -> Request {
        // A fresh activity each time (Teams stamps every message with a new id and the time).
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = format!("soak-{}", SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let at = chrono::DateTime::from_timestamp(now(), 0).unwrap_or_default().to_rfc3339();
        let body = json!({"type": "message", "id": id, "timestamp": at, "text": format!("<at>Defender</at> {text}"),
            "from": {"id": "29:1", "name": "Alice", "aadObjectId": "6b3b5d2a-1111-4111-8111-111111111111"},
            "conversation": {"id": "19:soc"}, "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}})
        .to_string();
        let auth =
            webhook::sign_teams(&SecretString::new(self.secrets.teams.clone()), body.as_bytes()).unwrap_or_default();
        let mut v: Value =
            serde_json::from_str(include_str!("../../../functions/chatops/tests/fixtures/apigw-v2-teams.json"))
                .unwrap_or_default();
        v["body"] = json!(body);
        v["headers"]["authorization"] = json!(auth);
        to_request(&v)
    }

    /// Runs one chat-ops request through the callback handler.
    pub async fn chat(&self, req: Request) -> Answer {
        answer(chatops::handler::handle(&self.chat, req).await)
    }

    /// The receiver's posts to `hook`, parsed.
    pub fn posted(&self, hook: &str) -> Vec<Value> {
        lock(&self.posts)
            .iter()
            .filter(|(h, _)| h == hook)
            .map(|(_, b)| serde_json::from_str(b).unwrap_or_default())
            .collect()
    }

    /// Every post the receiver got, as sent.
    pub fn all_posts(&self) -> Vec<String> {
        lock(&self.posts).iter().map(|(_, b)| b.clone()).collect()
    }

    /// A control-API call (`/_sim/...`).
    ///
    /// # Errors
    /// The transport error or status.
    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, StackError> {
        let client = self.sim.client().map_err(|e| err("sim client")(&e))?;
        let url = format!("{}{path}", self.sim.url);
        let req = match method {
            "GET" => client.get(url),
            "DELETE" => client.delete(url),
            _ => client.post(url),
        };
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let resp = req.send().await.map_err(|e| err("control")(&e))?;
        if !resp.status().is_success() {
            return Err(format!("control {path}: {}", resp.status()));
        }
        Ok(resp.json().await.unwrap_or(Value::Null))
    }

    /// The simulator's request log.
    ///
    /// # Errors
    /// When the control API fails.
    pub async fn requests(&self) -> Result<Vec<Value>, StackError> {
        Ok(self.control("GET", "/_sim/requests", None).await?["value"].as_array().cloned().unwrap_or_default())
    }

    /// Worker jobs started with no delay that have not finished yet.
    pub fn busy_jobs(&self) -> usize {
        lock(&self.jobs).iter().filter(|j| !j.is_finished()).count()
    }

    /// The directory the export wrote to.
    pub fn export_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() { walk(&p, out) } else { out.push(p) }
            }
        }
        let mut out = Vec::new();
        walk(&self.export_dir, &mut out);
        out
    }
}

fn to_request(v: &Value) -> Request {
    lambda_http::request::from_str(&v.to_string()).unwrap_or_default()
}

static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts every panic in the process (any thread, any task) from now on, keeping the default report.
pub fn count_panics() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// Panics counted since [`count_panics`].
pub fn panics() -> usize {
    PANICS.load(std::sync::atomic::Ordering::SeqCst)
}

/// Every log line the process writes through `tracing`, as JSON lines (the format the functions log
/// in on Lambda).
#[derive(Debug, Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Installs the process-wide subscriber (once; later calls return the same capture) at `filter`
    /// (an `EnvFilter` directive such as `trace`).
    pub fn capture(filter: &str) -> Self {
        static LOGS: OnceLock<Logs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            let buf = logs.0.clone();
            let subscriber = tracing_subscriber::fmt()
                .json()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(move || LogWriter(buf.clone()))
                .finish();
            tracing::subscriber::set_global_default(subscriber).ok();
            logs
        })
        .clone()
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }

    /// The number of lines captured so far.
    pub fn lines(&self) -> usize {
        lock(&self.0).iter().filter(|b| **b == b'\n').count()
    }
}

/// This process's resident set size and its peak, KiB (`/proc/self/status`; zero elsewhere).
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A bounded poll: `check` every 20 ms until it is true or `limit` passed; whether it became true.
pub async fn until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
