//! One tracing set-up for every function.
//!
//! With the template's `LoggingConfig.LogFormat: JSON`, Lambda sets `AWS_LAMBDA_LOG_FORMAT=JSON`
//! (and `AWS_LAMBDA_LOG_LEVEL`); each event is then one JSON object per line whose own fields are
//! **top-level keys** — `{"timestamp", "level", "target", "message", "decision", "tenant", ...}` — so
//! an operator queries `decision` or `user_id` directly (CloudWatch Logs Insights discovers the keys
//! of a JSON line). Lambda keeps a line that is already a JSON object as it is. The runtime's default
//! subscriber would nest the fields under `"fields"` and drop the `target` (`audit` lines would no
//! longer be told apart); it is not used. Without the variable (local runs): plain text.

use tracing_subscriber::{EnvFilter, filter::LevelFilter, fmt::MakeWriter};

/// Whether `AWS_LAMBDA_LOG_FORMAT` asks for JSON.
fn json_requested(format: Option<&str>) -> bool {
    format.is_some_and(|f| f.trim().eq_ignore_ascii_case("json"))
}

fn filter(level: Option<&str>) -> EnvFilter {
    let level = level.and_then(|l| l.trim().parse::<LevelFilter>().ok()).unwrap_or(LevelFilter::INFO);
    EnvFilter::builder().with_default_directive(level.into()).from_env_lossy()
}

/// A subscriber writing to `writer`: JSON with flattened event fields when `json`, else text.
/// `level` is `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`), default INFO.
pub fn subscriber<W>(json: bool, level: Option<&str>, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt().with_env_filter(filter(level)).with_writer(writer).with_ansi(false);
    if json {
        Box::new(fmt.json().flatten_event(true).with_current_span(true).with_span_list(false).finish())
    } else {
        Box::new(fmt.with_target(false).without_time().finish())
    }
}

/// Installs [`subscriber`] on stdout for this process, from `AWS_LAMBDA_LOG_FORMAT` and
/// `AWS_LAMBDA_LOG_LEVEL` / `RUST_LOG`. A second call does nothing.
pub fn init() {
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").ok();
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let _ = tracing::subscriber::set_global_default(subscriber(
        json_requested(format.as_deref()),
        level.as_deref(),
        std::io::stdout,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

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

    #[test]
    fn json_lines_keep_the_audit_fields_and_target_at_the_top_level() {
        assert!(json_requested(Some("JSON")) && json_requested(Some("json")) && !json_requested(Some("Text")));
        assert!(!json_requested(None));
        let buf = Buf::default();
        let w = buf.clone();
        tracing::subscriber::with_default(subscriber(true, Some("info"), move || w.clone()), || {
            let span = tracing::info_span!("handler", request_id = "r-1");
            let _g = span.enter();
            tracing::info!(target: "audit", decision = "executed", tenant = "contoso", user_id = "U1", "chatops decision");
            tracing::debug!("not at info");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["decision"], "executed", "{v}");
        assert_eq!(v["tenant"], "contoso");
        assert_eq!(v["user_id"], "U1");
        assert_eq!(v["target"], "audit");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "chatops decision");
        assert_eq!(v["span"]["request_id"], "r-1");
        assert!(v.get("fields").is_none(), "no nesting: {v}");
    }

    #[test]
    fn text_without_the_lambda_variable() {
        let buf = Buf::default();
        let w = buf.clone();
        tracing::subscriber::with_default(subscriber(false, None, move || w.clone()), || {
            tracing::info!(decision = "refused", "chatops decision");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("chatops decision") && text.contains("decision=\"refused\""), "{text}");
        assert!(serde_json::from_str::<serde_json::Value>(text.trim()).is_err());
    }
}
