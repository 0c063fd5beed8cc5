//! Confused deputy in chat-ops: the function POSTs to a `response_url` taken from the request, so the
//! URL must be one of the configured Slack prefixes — never a look-alike host that merely starts with
//! the same characters.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chatops::{
    config::ChatOpsConfig,
    handoff::{HttpResponder, Responder},
};
use serde_json::json;

const POLICY: &str = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U1":["read"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U1":["read"]}}}"#;

fn config(prefixes: Option<&str>) -> Result<ChatOpsConfig, String> {
    ChatOpsConfig::from_lookup(|k| match k {
        "CHATOPS_RBAC" => Some(POLICY.to_string()),
        "CHATOPS_RESPONSE_URL_PREFIXES" => prefixes.map(str::to_string),
        _ => None,
    })
    .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_response_url_outside_the_slack_prefix_is_refused_before_any_request() {
    let cfg = config(None).unwrap();
    assert_eq!(cfg.response_url_prefixes, ["https://hooks.slack.com/"]);
    let responder = HttpResponder::new(reqwest::Client::new(), cfg.response_url_prefixes);
    for url in [
        "https://evil.example/hook",
        "https://hooks.slack.com.evil.example/commands/1",
        "https://hooks.slack.com@evil.example/commands/1",
        "http://hooks.slack.com/commands/1",
        "https://169.254.169.254/latest/meta-data/",
    ] {
        let refused = responder.post(url, &json!({"text": "x"})).await;
        assert_eq!(refused, Err("response_url is not an allowed Slack URL".to_string()), "{url}");
    }
}

#[test]
fn a_prefix_that_is_not_https_or_loopback_is_refused_at_cold_start() {
    assert!(config(Some("http://hooks.slack.com/")).unwrap_err().contains("neither https nor a loopback"));
}

/// Regression: a configured prefix without the `/` after the host (`https://hooks.slack.com`) was
/// accepted, and then `https://hooks.slack.com.evil.example/x` passed the `starts_with` check — a
/// request-chosen host would have received the function's POST (SSRF). A prefix must end its host with `/`.
#[test]
fn a_prefix_must_end_its_host_with_a_slash() {
    assert!(config(Some("https://hooks.slack.com")).is_err());
    assert!(config(Some("http://127.0.0.1")).is_err());
}
