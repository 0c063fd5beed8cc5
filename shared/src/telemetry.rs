//! One tracing set-up for every function, in the manner of Powertools for AWS Lambda's logger.
//!
//! With the template's `LoggingConfig.LogFormat: JSON`, Lambda sets `AWS_LAMBDA_LOG_FORMAT=JSON`
//! (and `AWS_LAMBDA_LOG_LEVEL`); every event is then one JSON object per line (Lambda keeps a line
//! that is already a JSON object as it is), written by `tracing-subscriber`'s fmt layer with its
//! [`JsonFields`] span storage and the event format [`LambdaJson`]:
//!
//! ```json
//! {"timestamp":"…","level":"INFO","service":"webhook-enrich","cold_start":true,
//!  "request_id":"…","tenant":"contoso","correlation_id":"msg_…","target":"…","message":"…", …}
//! ```
//!
//! - `service` — the function ([`init`]'s argument), on every line;
//! - `cold_start` — `true` on the lines of the process's first invocation (and of its init);
//! - `request_id` — the Lambda request id (`lambda_runtime`'s request span; `null` during init);
//! - `tenant`, `correlation_id` — `null` until the handler knows them ([`tenant`], [`correlate`]);
//! - the fields of every enclosing span and of the event at the top level (an event field named like
//!   one of the context keys above, with another value, is kept as `event_<name>`);
//! - `audit` — on an audit line (`target: "audit"`, a state change) the event's fields are nested in
//!   one `audit` object, so `audit.decision` is queried apart from the context around it.
//!
//! An invocation runs inside [`invocation`] (the bins wrap their handler in it): it opens the span
//! that carries `cold_start`, `tenant` and `correlation_id`, and flushes [`crate::metrics`] at its
//! end. [`scope`] opens a nested one (the worker, per queued job). Without the variable (local
//! runs): plain text.

use serde_json::{Map, Value};
use std::{
    future::Future,
    sync::{
        Mutex, OnceLock, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};
use tracing::{Event, Instrument, Subscriber, field::Field};
use tracing_subscriber::{
    filter::{LevelFilter, Targets},
    fmt::{
        FmtContext, FormatEvent, FormattedFields, MakeWriter,
        format::{JsonFields, Writer},
    },
    registry::LookupSpan,
};

/// The target of audit lines (a state change): their fields become the `audit` object.
pub const AUDIT: &str = "audit";

/// The keys every JSON line carries (`null` until known), in this order after `timestamp`/`level`.
pub const CONTEXT_KEYS: [&str; 5] = ["service", "cold_start", "request_id", "tenant", "correlation_id"];

/// Longest correlation id kept (a caller-chosen header must not flood a log line).
const MAX_CORRELATION: usize = 128;

static SERVICE: OnceLock<&'static str> = OnceLock::new();
static INVOKED: AtomicBool = AtomicBool::new(false);

/// The function's name as set by [`init`] (`"unknown"` before).
pub fn service() -> &'static str {
    SERVICE.get().copied().unwrap_or("unknown")
}

/// Whether `AWS_LAMBDA_LOG_FORMAT` asks for JSON.
fn json_requested(format: Option<&str>) -> bool {
    format.is_some_and(|f| f.trim().eq_ignore_ascii_case("json"))
}

/// `level` for every target, except the targets `RUST_LOG` names (`warn,defender_shared=debug`: plain
/// `target=level` directives; a `RUST_LOG` that does not parse as such is ignored). A target filter,
/// not `EnvFilter`: no span or field directives, and no regex engine in every function binary.
fn filter(level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let level = level.and_then(|l| l.trim().parse::<LevelFilter>().ok()).unwrap_or(LevelFilter::INFO);
    rust_log.and_then(|d| d.trim().parse::<Targets>().ok()).unwrap_or_default().with_default(level)
}

/// The JSON event format: context keys, span fields and event fields at the top level, audit fields
/// nested (see the module documentation).
#[derive(Debug, Clone)]
pub struct LambdaJson {
    service: &'static str,
}

/// Span field names as `lambda_runtime` sets them, and the keys they become.
fn rename(key: &str) -> &str {
    match key {
        "requestId" => "request_id",
        "xrayTraceId" => "xray_trace_id",
        "tenantId" => "lambda_tenant_id",
        other => other,
    }
}

/// Event fields as JSON values (numbers and booleans stay typed; `Debug` values become strings).
struct Fields<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), Value::from(format!("{value:?}")));
    }
}

impl LambdaJson {
    /// One line as a JSON object, given the enclosing spans' fields (outermost first).
    fn line(&self, event: &Event<'_>, spans: Vec<Map<String, Value>>) -> Map<String, Value> {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        line.insert("level".into(), Value::from(meta.level().as_str()));
        line.insert("service".into(), Value::from(self.service));
        line.insert("cold_start".into(), Value::from(!INVOKED.load(Ordering::Relaxed)));
        for k in ["request_id", "tenant", "correlation_id"] {
            line.insert(k.into(), Value::Null);
        }
        line.insert("target".into(), Value::from(meta.target()));
        line.insert("message".into(), Value::from(""));
        for fields in spans {
            for (k, v) in fields {
                line.insert(rename(&k).to_string(), v);
            }
        }
        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        if let Some(m) = fields.shift_remove("message") {
            line.insert("message".into(), m);
        }
        if meta.target() == AUDIT {
            if line["tenant"].is_null()
                && let Some(t) = fields.get("tenant")
            {
                line.insert("tenant".into(), t.clone());
            }
            line.insert("audit".into(), Value::Object(fields));
            return line;
        }
        for (k, v) in fields {
            match line.get(&k) {
                Some(Value::Null) if k == "tenant" => {
                    line.insert(k, v);
                }
                Some(existing) if CONTEXT_KEYS.contains(&k.as_str()) && *existing != v => {
                    line.insert(format!("event_{k}"), v);
                }
                _ => {
                    line.insert(k, v);
                }
            }
        }
        line
    }
}

impl<S> FormatEvent<S, JsonFields> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut spans = Vec::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(f) = ext.get::<FormattedFields<JsonFields>>()
                    && let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&f.fields)
                {
                    spans.push(m);
                }
            }
        }
        let line = serde_json::to_string(&self.line(event, spans)).map_err(|_| std::fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// A subscriber writing to `writer`: [`LambdaJson`] lines when `json`, else text. `level` is
/// `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`), default INFO.
pub fn subscriber<W>(
    service: &'static str,
    json: bool,
    level: Option<&str>,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    let filter = filter(level, std::env::var("RUST_LOG").ok().as_deref());
    // The builder's own level filter lets everything through: `filter` decides.
    let fmt = tracing_subscriber::fmt().with_max_level(LevelFilter::TRACE).with_writer(writer).with_ansi(false);
    if json {
        Box::new(fmt.fmt_fields(JsonFields::new()).event_format(LambdaJson { service }).finish().with(filter))
    } else {
        Box::new(fmt.with_target(false).without_time().finish().with(filter))
    }
}

/// Installs [`subscriber`] on stdout for this process, from `AWS_LAMBDA_LOG_FORMAT` and
/// `AWS_LAMBDA_LOG_LEVEL` / `RUST_LOG`; `service` names the function on every line and metric. A
/// second call does nothing.
pub fn init(service: &'static str) {
    let _ = SERVICE.set(service);
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").ok();
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let _ = tracing::subscriber::set_global_default(subscriber(
        service,
        json_requested(format.as_deref()),
        level.as_deref(),
        std::io::stdout,
    ));
}

/// What the current invocation (or job) knows about itself; read by [`crate::metrics`] and by a
/// hand-off that carries the correlation id on.
#[derive(Debug)]
pub(crate) struct Context {
    span: tracing::Span,
    pub(crate) request_id: Option<String>,
    pub(crate) cold_start: bool,
    pub(crate) tenant: Mutex<Option<String>>,
    pub(crate) correlation_id: Mutex<Option<String>>,
    /// The invocation's counters (a job adds to its invocation's).
    pub(crate) counters: std::sync::Arc<Mutex<crate::metrics::Counters>>,
}

tokio::task_local! {
    static CONTEXT: std::sync::Arc<Context>;
}

/// Runs `f` with the current invocation's context, if any.
pub(crate) fn with_context<R>(f: impl FnOnce(&Context) -> R) -> Option<R> {
    CONTEXT.try_with(|c| f(c)).ok()
}

/// Runs one invocation: a span with `cold_start` (true for the process's first), `tenant` and
/// `correlation_id` (recorded by [`tenant`] and [`correlate`] once known) around `fut`, then the
/// invocation's metrics ([`crate::metrics::flush`], with an `Invocations` count).
pub async fn invocation<F: Future>(request_id: &str, fut: F) -> F::Output {
    let cold_start = !INVOKED.swap(true, Ordering::Relaxed);
    let span = tracing::info_span!(
        "invocation",
        cold_start,
        tenant = tracing::field::Empty,
        correlation_id = tracing::field::Empty
    );
    let ctx = std::sync::Arc::new(Context {
        span: span.clone(),
        request_id: Some(request_id.to_string()),
        cold_start,
        tenant: Mutex::new(None),
        correlation_id: Mutex::new(None),
        counters: std::sync::Arc::default(),
    });
    let run = async move {
        crate::metrics::count("Invocations", 1);
        let out = fut.instrument(span).await;
        crate::metrics::flush();
        out
    };
    CONTEXT.scope(ctx, run).await
}

/// Runs `fut` as part of the cold start although it finishes in the background (the warm-up and the
/// permission self-check spawned at init): its lines say `cold_start: true` and `init: true` with a null
/// `request_id`, wherever they fall among the first invocation's lines.
pub fn init_task<F: Future>(fut: F) -> tracing::instrument::Instrumented<F> {
    fut.instrument(tracing::info_span!("init", cold_start = true, init = true))
}

/// Runs `fut` as one unit of work inside the invocation (a queued job): its own span and context,
/// with `correlation_id` (carried from the request that caused it) and a `tenant` of its own.
pub async fn scope<F: Future>(correlation_id: Option<&str>, fut: F) -> F::Output {
    let (request_id, cold_start, counters) = with_context(|c| (c.request_id.clone(), c.cold_start, c.counters.clone()))
        .unwrap_or_else(|| (None, !INVOKED.load(Ordering::Relaxed), std::sync::Arc::default()));
    let id = correlation_id.map(clean);
    let span =
        tracing::info_span!("job", tenant = tracing::field::Empty, correlation_id = id.as_deref().unwrap_or_default());
    let ctx = std::sync::Arc::new(Context {
        span: span.clone(),
        request_id,
        cold_start,
        tenant: Mutex::new(None),
        correlation_id: Mutex::new(id),
        counters,
    });
    CONTEXT.scope(ctx, fut.instrument(span)).await
}

/// A correlation id as logged: at most [`MAX_CORRELATION`] printable ASCII characters.
fn clean(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_graphic()).take(MAX_CORRELATION).collect()
}

/// Records the tenant of the current invocation (or job): on every later line and in its metrics.
pub fn tenant(name: &str) {
    with_context(|c| {
        c.span.record("tenant", name);
        *c.tenant.lock().unwrap_or_else(PoisonError::into_inner) = Some(name.to_string());
    });
}

/// Records the correlation id taken from the inbound request (a `webhook-id`, a Slack trigger id, a
/// Teams activity id, the schedule's event id) on every later line of the invocation.
pub fn correlate(id: &str) {
    let id = clean(id);
    if id.is_empty() {
        return;
    }
    with_context(|c| {
        c.span.record("correlation_id", id.as_str());
        *c.correlation_id.lock().unwrap_or_else(PoisonError::into_inner) = Some(id);
    });
}

/// The current correlation id, for a hand-off that carries it to the next function.
pub fn correlation_id() -> Option<String> {
    with_context(|c| c.correlation_id.lock().unwrap_or_else(PoisonError::into_inner).clone()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buf: &Buf) -> Vec<Value> {
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }

    /// The level (`AWS_LAMBDA_LOG_LEVEL`) holds for every target but those `RUST_LOG` names; a
    /// `RUST_LOG` that is not a target list leaves the level alone.
    #[test]
    fn the_log_level_and_rust_log_targets() {
        use tracing::Level;
        let at = |f: &Targets, target: &str, l: Level| f.would_enable(target, &l);
        let f = filter(Some("WARN"), None);
        assert!(at(&f, "defender_shared::auth", Level::WARN) && !at(&f, "defender_shared::auth", Level::INFO));
        let f = filter(None, None);
        assert!(at(&f, "x", Level::INFO) && !at(&f, "x", Level::DEBUG), "INFO by default");
        let f = filter(Some("info"), Some("defender_shared::auth=debug,hyper=error"));
        assert!(at(&f, "defender_shared::auth::provider", Level::DEBUG));
        assert!(!at(&f, "hyper::proto", Level::WARN) && at(&f, "webhook_enrich", Level::INFO));
        let f = filter(Some("error"), Some("[span{field=1}]=debug"));
        assert!(!at(&f, "x", Level::WARN) && at(&f, "x", Level::ERROR), "span directives are not read");
    }

    /// The audit fields were top-level keys before issue 15; they are one `audit` object now (the
    /// issue asks for it), and the context keys are on every line.
    #[test]
    fn json_lines_carry_the_context_and_nest_the_audit_fields() {
        assert!(json_requested(Some("JSON")) && json_requested(Some("json")) && !json_requested(Some("Text")));
        assert!(!json_requested(None));
        let buf = Buf::default();
        let w = buf.clone();
        tracing::subscriber::with_default(subscriber("chatops-worker", true, Some("info"), move || w.clone()), || {
            tracing::info!("before any invocation");
            let lambda = tracing::info_span!("Lambda runtime invoke", requestId = "r-1");
            let _l = lambda.enter();
            let span = tracing::info_span!("handler", tenant = tracing::field::Empty, correlation_id = "T-9");
            let _g = span.enter();
            span.record("tenant", "contoso");
            tracing::info!(target: "audit", decision = "executed", tenant = "contoso", user_id = "U1", "chatops decision");
            tracing::info!(request_id = "defender-42", records = 3_u64, "service error");
            tracing::debug!("not at info");
        });
        let v = lines(&buf);
        assert_eq!(v.len(), 3, "{v:?}");
        for l in &v {
            for k in CONTEXT_KEYS {
                assert!(l.get(k).is_some(), "{k} on every line: {l}");
            }
            assert_eq!(l["service"], "chatops-worker");
            assert!(l.get("fields").is_none() && l.get("span").is_none(), "no nesting: {l}");
        }
        // (`cold_start` of a line outside an invocation depends on this process's history: other
        // tests run invocations; the binaries' test checks it per invocation.)
        assert!(v[0]["request_id"].is_null() && v[0]["cold_start"].is_boolean(), "{}", v[0]);
        let audit = &v[1];
        assert_eq!(audit["request_id"], "r-1");
        assert_eq!(audit["tenant"], "contoso");
        assert_eq!(audit["correlation_id"], "T-9");
        assert_eq!(audit["target"], "audit");
        assert_eq!(audit["level"], "INFO");
        assert_eq!(audit["message"], "chatops decision");
        assert_eq!(audit["audit"], serde_json::json!({"decision": "executed", "tenant": "contoso", "user_id": "U1"}));
        assert!(audit.get("decision").is_none(), "the audit fields are nested: {audit}");
        // An event field named like a context key does not overwrite it.
        assert_eq!(
            (&v[2]["request_id"], &v[2]["event_request_id"]),
            (&Value::from("r-1"), &Value::from("defender-42"))
        );
        assert_eq!(v[2]["records"], 3);
    }

    #[test]
    fn text_without_the_lambda_variable() {
        let buf = Buf::default();
        let w = buf.clone();
        tracing::subscriber::with_default(subscriber("x", false, None, move || w.clone()), || {
            tracing::info!(decision = "refused", "chatops decision");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("chatops decision") && text.contains("decision=\"refused\""), "{text}");
        assert!(serde_json::from_str::<serde_json::Value>(text.trim()).is_err());
    }

    #[tokio::test]
    async fn an_invocation_knows_its_tenant_and_correlation_and_a_job_its_own() {
        assert_eq!(correlation_id(), None, "outside an invocation");
        invocation("r-2", async {
            correlate("trigger\n1.2\u{7f}3");
            tenant("contoso");
            assert_eq!(correlation_id().as_deref(), Some("trigger1.23"), "printable only");
            scope(Some("from-the-queue"), async {
                assert_eq!(correlation_id().as_deref(), Some("from-the-queue"));
                assert_eq!(with_context(|c| c.request_id.clone()).flatten().as_deref(), Some("r-2"));
            })
            .await;
            assert_eq!(correlation_id().as_deref(), Some("trigger1.23"));
            let long = "x".repeat(500);
            correlate(&long);
            assert_eq!(correlation_id().map(|c| c.len()), Some(MAX_CORRELATION));
        })
        .await;
    }
}
