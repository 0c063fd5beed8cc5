//! The short soak (part of `make test`): 150 webhook requests and 60 chat-ops clicks at 50-way
//! concurrency through the handlers under seeded Defender faults (429 with Retry-After, 500, 503,
//! delays). `make soak` runs the full 500 + 200 with the vault outage.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_soak::soak::{SoakConfig, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_short_soak_answers_every_request_well_and_acts_once() {
    let cfg = SoakConfig { webhooks: 150, clicks: 60, concurrency: 50, actions: 8, seed: 8, vault_outage: false };
    let report = run(&cfg).await;
    eprintln!("{}", report.table());
    assert!(report.problems().is_empty(), "{:#?}\n{}", report.problems(), report.table());
    // The run did what it says: the faults fired, the tokens were confirmed and acted on.
    assert!(report.sim_requests.1 > 0, "no fault was injected");
    assert_eq!(report.webhook_status.values().sum::<usize>(), 150);
    assert_eq!(report.click_status.values().sum::<usize>(), 60);
    assert!(report.tokens >= 6, "{} confirmation prompts", report.tokens);
    assert!(report.action_requests >= 1 && report.action_requests <= report.tokens);
}

/// Regression for the vault-outage bug the full soak found: while the vault answered 503, a Slack click
/// waited ~85 s inside the Key Vault SDK's default retry policy and was then answered 401 (no signing
/// secret) — past Slack's 3 s, and a 401 tells the sender its request was forged instead of "retry
/// later". Now the SDK's retry is bounded, the cache bridges the outage with the last value read, and
/// with nothing to bridge the answer is 503 with Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_outage_is_answered_503_with_retry_after_within_slacks_deadline() {
    let cfg = SoakConfig { webhooks: 40, clicks: 40, concurrency: 20, actions: 4, seed: 9, vault_outage: true };
    let report = run(&cfg).await;
    assert_eq!(report.malformed_in_outage, 0, "{}", report.table());
    assert!(report.outage_click_ms.0 <= defender_soak::soak::SLACK_ACK_MS, "{}", report.table());
}
