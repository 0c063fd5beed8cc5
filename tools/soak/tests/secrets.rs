//! No secret in any log or answer: the three functions run their end-to-end scenarios against the
//! simulated tenant with recognisable secret values (client secret and refresh token in the vault,
//! Slack, Teams and Standard Webhooks signing secrets), every `tracing` line at TRACE is captured
//! as JSON, and every log line, every answer (status, headers, body), every post to a `response_url`
//! or the webhook callback and every exported file is scanned for
//! - each secret value as stored, and the marker `SCANME` every one of them holds in clear text (so a
//!   decoded key or a piece of one is found too);
//! - every refresh token the vault held (the original and each rotation);
//! - any JWT (`eyJ….eyJ….`): every access token the simulator issues is one (checked below on a token
//!   fetched from its token endpoint), so none may appear anywhere.
//!
//! The scanner is proved on itself: after the clean scan, a secret logged on purpose must be found.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::defender::Deadline;
use defender_soak::harness::{ANALYST, APP, Logs, READER, Secrets, Stack, StackOptions, now, until};
use serde_json::json;
use std::time::Duration;

/// Every JWT-shaped run in `text` (`eyJ<b64url>.eyJ<b64url>.`), shortened for the report.
fn jwts(text: &str) -> Vec<String> {
    let b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("eyJ") {
        let tail = &rest[i..];
        let first = tail.find(|c: char| !b64(c)).unwrap_or(tail.len());
        let after = &tail[first..];
        if first > 10 && after.starts_with('.') && after[1..].starts_with("eyJ") {
            let second = after[1..].find(|c: char| !b64(c)).unwrap_or(after.len() - 1);
            if second > 10 && after[1 + second..].starts_with('.') {
                out.push(tail[..first.min(24)].to_string());
            }
        }
        rest = &tail[3..];
    }
    out
}

/// What `needles` and JWTs turn up in `haystack` (`where`: a name for the report).
fn scan(place: &str, haystack: &str, needles: &[(&str, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, value) in needles {
        if !value.is_empty() && haystack.contains(value.as_str()) {
            found.push(format!("{name} in {place}"));
        }
    }
    for j in jwts(haystack) {
        found.push(format!("a JWT ({j}…) in {place}"));
    }
    found
}

async fn refresh_tokens(stack: &Stack) -> Vec<String> {
    let t = stack.sim.sim.tenant.lock().unwrap();
    t.secrets.get("alice-rt").map(|v| v.iter().map(|s| s.value.clone()).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_appears_in_any_log_answer_or_output() {
    let logs = Logs::capture("trace,tenant_sim=off");
    let secrets = Secrets::recognisable();
    let stack =
        Stack::start(StackOptions { secrets: Some(secrets.clone()), secret_ttl_s: 0, export: true }).await.unwrap();
    let mut answers: Vec<(String, String)> = Vec::new();
    let mut keep = |what: &str, a: &defender_soak::harness::Answer| {
        answers.push((what.to_string(), format!("{} {:?} {}", a.status, a.retry_after, a.body)));
    };
    let machine = stack.sim.sim.tenant.lock().unwrap().seed.machines[3].clone();
    let (mid, host) = (machine["id"].as_str().unwrap().to_string(), machine["computerDnsName"].as_str().unwrap());

    // Webhook enrichment: the default tenant (client secret from the vault), the user-context tenant
    // (rotating refresh token), an invalid signature, a malformed document, a replay.
    let body = json!({"tenant": "default", "indicators": {"machine_ids": [mid], "ips": ["10.20.30.66", "999.1.1.1"],
        "domains": ["x' or 1 eq 1"]}})
    .to_string();
    let a = stack.webhook(stack.webhook_event(&body, "msg_scan_1")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let first = a.body.clone();
    assert_eq!(a.json()["results"][0]["status"], "found", "{}", a.body);
    assert_eq!(a.json()["callback"]["delivered"], true, "the signed callback was posted: {}", a.body);
    keep("webhook", &a);
    let user = json!({"tenant": "alice", "indicators": {"machine_ids": [mid]}}).to_string();
    let a = stack.webhook(stack.webhook_event(&user, "msg_scan_2")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // (The demo's public client holds no Machine.Read scope: Defender answers 403 — after the refresh
    // token was redeemed, which is what this scenario is for.)
    assert!(a.json()["results"][0]["status"].is_string(), "user context: {}", a.body);
    keep("webhook user context", &a);
    let mut forged = stack.webhook_event(&body, "msg_scan_3");
    forged.headers_mut().insert("webhook-signature", "v1,AAAA".parse().unwrap());
    let a = stack.webhook(forged).await;
    assert_eq!(a.status, 401);
    keep("webhook forged", &a);
    let a = stack.webhook(stack.webhook_event("{\"indicators\": [", "msg_scan_4")).await;
    assert_eq!(a.status, 400);
    keep("webhook malformed", &a);
    let a = stack.webhook(stack.webhook_event(&body, "msg_scan_1")).await;
    // A replay of an answered id gets the stored answer, nothing looked up again (issue 13).
    assert_eq!((a.status, &a.body), (200, &first), "the stored answer");
    keep("webhook replay", &a);
    let rotated = refresh_tokens(&stack).await;
    assert!(rotated.len() >= 2, "the refresh token was used and rotated: {} versions", rotated.len());

    // Chat-ops: a lookup, an isolation asked, confirmed (twice) and refused to a reader; Teams; forgery.
    let a = stack.chat(stack.slack_event(&stack.slash_body(ANALYST, &format!("machine {host}"), "look"), None)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    keep("slack lookup", &a);
    let ask = stack.slash_body(ANALYST, &format!("isolate {host} secret scan drill"), "ask");
    keep("slack isolate", &stack.chat(stack.slack_event(&ask, None)).await);
    assert!(until(Duration::from_secs(30), || !stack.posted("ask").is_empty()).await, "the prompt was posted");
    let prompt = stack.posted("ask").remove(0);
    let token = prompt["blocks"][1]["elements"][0]["value"].as_str().expect("a confirm button").to_string();
    let a = stack.chat(stack.slack_event(&stack.button_body(READER, "confirm", &token, "confirm"), None)).await;
    keep("slack confirm by a reader", &a);
    let a = stack.chat(stack.slack_event(&stack.button_body(ANALYST, "confirm", &token, "confirm"), None)).await;
    assert!(a.json()["text"].as_str().unwrap_or_default().starts_with("Confirmed: isolate"), "{}", a.body);
    keep("slack confirm", &a);
    keep(
        "slack retry",
        &stack.chat(stack.slack_event(&stack.button_body(ANALYST, "confirm", &token, "c2"), Some(1))).await,
    );
    assert!(until(Duration::from_secs(30), || !stack.posted("confirm").is_empty()).await, "the result was posted");
    let a = stack.chat(stack.teams_event(&format!("machine {host}"))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    keep("teams lookup", &a);
    let mut forged = stack.slack_event(&ask, None);
    forged.headers_mut().insert("x-slack-signature", "v0=00".parse().unwrap());
    keep("slack forged", &stack.chat(forged).await);

    // The scheduled export, one run into the directory sink.
    let event = serde_json::from_str(include_str!(
        "../../../functions/scheduled-export/tests/fixtures/eventbridge-scheduler-default.json"
    ))
    .unwrap();
    let export = stack.export.as_ref().unwrap();
    let summary =
        scheduled_export::handler::handle(export, &event, "scan-run", Deadline::after(Duration::from_secs(60)))
            .await
            .unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let files = stack.export_files();
    assert!(!files.is_empty(), "the export wrote files");
    answers.push(("export summary".into(), serde_json::to_string(&summary).unwrap()));
    until(Duration::from_secs(10), || stack.busy_jobs() <= 1).await;

    // A token the simulator issues is a JWT: the JWT rule catches access tokens.
    let mde = "https://api.securitycenter.microsoft.com/.default";
    let http = stack.sim.client().unwrap();
    let issued = stack.sim.client_credentials(&http, (APP, &secrets.client_secret), mde).await.unwrap();
    let access_token = issued["access_token"].as_str().expect("a token").to_string();
    assert_eq!(jwts(&format!("Bearer {access_token} x")).len(), 1, "the JWT rule matches the simulator's tokens");

    let mut needles: Vec<(&str, String)> = vec![
        ("the client secret", secrets.client_secret.clone()),
        ("the Slack signing secret", secrets.slack.clone()),
        ("the Teams secret", secrets.teams.clone()),
        ("the webhook secret", secrets.whsec.clone()),
        ("the callback's outbound key", secrets.callback.clone()),
        ("the marker of a decoded secret", "SCANME".into()),
        ("an access token", access_token.clone()),
    ];
    for rt in &rotated {
        needles.push(("a refresh token", rt.clone()));
    }
    let log_text = logs.text();
    assert!(logs.lines() > 50, "the capture works: {} lines", logs.lines());
    assert!(log_text.contains("unauthenticated webhook refused"), "function logs are in the capture");
    let mut found = scan("the logs", &log_text, &needles);
    for (what, text) in &answers {
        found.extend(scan(&format!("the {what} answer"), text, &needles));
    }
    for post in stack.all_posts() {
        found.extend(scan("a response_url/callback post", &post, &needles));
    }
    for f in &files {
        found.extend(scan(&f.display().to_string(), &std::fs::read_to_string(f).unwrap_or_default(), &needles));
    }
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
    eprintln!(
        "scanned {} log lines, {} answers, {} posts, {} exported files for {} secrets: clean",
        logs.lines(),
        answers.len(),
        stack.all_posts().len(),
        files.len(),
        needles.len()
    );

    // The scanner on itself: a secret and a token logged on purpose are found, whatever the field.
    tracing::warn!(leak = %secrets.slack, "deliberate leak for the scanner's own check");
    tracing::info!(header = %format!("Bearer {access_token}"), "deliberate token leak");
    let found = scan("the logs", &logs.text(), &needles);
    assert!(found.iter().any(|f| f.starts_with("the Slack signing secret")), "{found:?}");
    assert!(found.iter().any(|f| f.starts_with("a JWT")), "{found:?}");
    assert!(found.iter().any(|f| f.starts_with("an access token")), "{found:?}");
    let _ = now();
}

#[test]
fn the_jwt_rule_ignores_confirmation_tokens_and_finds_jwts() {
    let confirmation = "eyJ2IjoxLCJ0ZW5hbnQiOiJkZWZhdWx0In0.q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c";
    assert!(jwts(confirmation).is_empty());
    let jwt = "x eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl y";
    assert_eq!(jwts(jwt), vec!["eyJhbGciOiJSUzI1NiJ9".to_string()]);
}
