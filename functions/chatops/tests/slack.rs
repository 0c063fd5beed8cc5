//! Chat-ops against a Slack as strict as Slack's documentation: a `response_url` takes 5 posts
//! within 30 minutes of the interaction (then 404 `used_url` / `expired_url`), the Web API's
//! `chat.postMessage` wants the bot token, an existing channel with the bot in it, and rate-limits.
//! Long actions report through the bot after the `response_url` is spent; a refused click reaches
//! the presser; `/defender link` polls in steps no longer than a worker invocation may run.
//! Time is injected (aged interactions, the simulated tenant's clock), never slept on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

const BOT_SECRET: &str = "slack-bot-token";

async fn bot_rig(extra: &[(&'static str, String)]) -> Rig {
    let mut settings = vec![("CHATOPS_SLACK_BOT_TOKEN_NAME", BOT_SECRET.to_string())];
    settings.extend(extra.iter().cloned());
    let rig = rig_with(None, None, &settings).await;
    rig.state.store.set(BOT_SECRET, &SecretString::new(BOT_TOKEN.to_string())).await.unwrap();
    rig
}

/// Isolates `host` through the prompt and the confirm click, then lets the simulator's clock run
/// 40 s (the isolate completes in Defender); answers the accepted text and the queued follow-up.
async fn isolate_and_confirm(rig: &mut Rig, host: &str) -> (String, Vec<chatops::followup::Pending>) {
    rig.slash(ANALYST, &format!("isolate {host} suspected C2 beacon"), "ask").await;
    rig.drain().await;
    let token = rig.posted("ask")[0]["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string();
    let (_, out) = rig.press(ANALYST, "confirm", &token, None).await;
    assert!(text(&out).starts_with("Confirmed: isolate"), "{out}");
    let mut due = rig.drain().await;
    assert_eq!(due.len(), 1, "{due:?}");
    let Some(Job::Recheck { pending }) = due.pop() else { panic!("a follow-up was queued") };
    let accepted = text(rig.posted("confirm").last().unwrap()).to_string();
    rig.sim_post("/_sim/clock", json!({"advance_s": 40})).await;
    (accepted, pending)
}

/// Makes the follow-up's interaction `s` seconds older, for the product and for the stand-in alike.
fn aged(rig: &Rig, mut pending: Vec<chatops::followup::Pending>, s: i64) -> Vec<chatops::followup::Pending> {
    rig.age("confirm", s);
    for p in &mut pending {
        p.thread.issued_at -= s;
        p.started_at -= s;
    }
    pending
}

/// The worker's follow-up 31 minutes after the confirmation (the response_url has expired).
async fn recheck_late(rig: &Rig, pending: Vec<chatops::followup::Pending>) {
    rig.worker.run(Job::Recheck { pending: aged(rig, pending, 31 * 60) }).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_action_is_reported_by_the_bot_after_the_response_url_expires() {
    let mut rig = bot_rig(&[]).await;
    let host = "ws-fin-011.contoso.com";
    let (accepted, pending) = isolate_and_confirm(&mut rig, host).await;
    assert!(accepted.contains("after 30 min, by the bot in this channel"), "{accepted}");
    assert_eq!(pending[0].thread.posts, 1, "the accepted message was the response_url's first post");
    assert_eq!(pending[0].thread.channel.as_deref(), Some(CHANNEL));

    // 31 minutes later the isolate completes (an offline machine checked in).
    let before = rig.posted("confirm").len();
    recheck_late(&rig, pending).await;
    assert_eq!(rig.posted("confirm").len(), before, "nothing more on the expired response_url");
    assert!(rig.refused("confirm").is_empty(), "the worker knew it had expired: {:?}", rig.refused("confirm"));
    let messages = rig.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["channel"], CHANNEL);
    let said = text(&messages[0]);
    assert!(said.starts_with(&format!("<@{ANALYST}> Isolate of `{host}` (request `")), "{said}");
    assert!(said.ends_with("*Succeeded*."), "{said}");
    assert!(messages[0].get("blocks").is_none(), "no buttons in a channel message");
    assert!(rig.drain().await.is_empty(), "nothing more to follow");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_url_slack_refuses_early_or_used_five_times_falls_back_to_the_bot() {
    let mut rig = bot_rig(&[]).await;
    let (_, pending) = isolate_and_confirm(&mut rig, "ws-fin-011.contoso.com").await;
    // Slack expired it sooner than the thread's clock says: one refused post, then the bot.
    rig.age("confirm", 31 * 60);
    rig.worker.run(Job::Recheck { pending }).await;
    assert_eq!(rig.refused("confirm"), vec!["expired_url"]);
    assert_eq!(rig.messages().len(), 1);
    assert!(text(&rig.messages()[0]).ends_with("*Succeeded*."));

    // A thread that has had its five posts goes to the bot without trying a sixth.
    let mut rig = bot_rig(&[]).await;
    let (_, mut pending) = isolate_and_confirm(&mut rig, "ws-fin-017.contoso.com").await;
    pending[0].thread.posts = 5;
    rig.worker.run(Job::Recheck { pending }).await;
    assert!(rig.refused("confirm").is_empty());
    assert_eq!(rig.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_strict_response_url_refuses_a_sixth_post_and_a_late_one() {
    let rig = rig().await;
    rig.issue("h");
    let http = reqwest::Client::new();
    let url = format!("{}h", rig.hooks);
    for _ in 0..5 {
        let r = http.post(&url).json(&json!({"text": "x"})).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http.post(&url).json(&json!({"text": "x"})).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (404, "used_url".to_string()));
    rig.issue("late");
    rig.age("late", 30 * 60);
    let r = http.post(format!("{}late", rig.hooks)).json(&json!({"text": "x"})).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (404, "expired_url".to_string()));
    let r = http.post(format!("{}never-issued", rig.hooks)).json(&json!({"text": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_bot_token_the_requester_is_told_at_the_start_and_nothing_is_posted_late() {
    let mut rig = rig().await;
    let (accepted, pending) = isolate_and_confirm(&mut rig, "ws-fin-011.contoso.com").await;
    assert!(
        accepted.contains("The outcome will be posted here if it comes within 30 min")
            && accepted.contains("no bot token is configured"),
        "{accepted}"
    );
    let before = rig.posted("confirm").len();
    recheck_late(&rig, pending).await;
    assert_eq!(rig.posted("confirm").len(), before);
    assert!(rig.refused("confirm").is_empty(), "no post Slack would refuse");
    assert!(rig.messages().is_empty());
    assert!(rig.drain().await.is_empty(), "nothing can be posted: not re-queued for ever");
}

#[tokio::test(flavor = "multi_thread")]
async fn web_api_refusals_rate_limit_retried_next_pass_others_dropped() {
    let mut rig = bot_rig(&[]).await;
    let (_, pending) = isolate_and_confirm(&mut rig, "ws-fin-011.contoso.com").await;
    rig.slack.lock().unwrap().ratelimit_next = 1;
    recheck_late(&rig, pending).await;
    assert!(rig.messages().is_empty());
    let mut due = rig.drain().await;
    assert_eq!(due.len(), 1, "rate-limited: the outcome goes round again");
    rig.worker.run(due.pop().unwrap()).await;
    assert_eq!(rig.messages().len(), 1, "posted on the next pass");
    assert_eq!(rig.slack.lock().unwrap().api_errors, vec!["ratelimited"]);

    // The bot was removed from the channel: Slack says not_in_channel; not retried for ever.
    let mut rig = bot_rig(&[]).await;
    let (_, pending) = isolate_and_confirm(&mut rig, "ws-fin-017.contoso.com").await;
    rig.slack.lock().unwrap().channels.insert(CHANNEL.into(), false);
    recheck_late(&rig, pending).await;
    assert_eq!(rig.slack.lock().unwrap().api_errors, vec!["not_in_channel"]);
    assert!(rig.drain().await.is_empty());

    // A revoked token: invalid_auth.
    let mut rig = bot_rig(&[]).await;
    let (_, pending) = isolate_and_confirm(&mut rig, "ws-fin-011.contoso.com").await;
    rig.state.store.set(BOT_SECRET, &SecretString::new("xoxb-revoked")).await.unwrap();
    recheck_late(&rig, pending).await;
    assert_eq!(rig.slack.lock().unwrap().api_errors, vec!["invalid_auth"]);
    assert!(rig.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_action_reports_late_in_the_approval_requests_thread() {
    let policy = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"two_person":{"default":["isolate"]},"tenants":{"default":{
        "T0001:U0ANALYST":["isolate"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["isolate"],"T0001:U0SECOND":["isolate"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0SECOND":["isolate"]}}}"#;
    let mut rig = bot_rig(&[("CHATOPS_RBAC", policy.to_string())]).await;
    let host = "ws-fin-011.contoso.com";
    rig.slash(ANALYST, &format!("isolate {host} suspected C2 beacon"), "ask").await;
    rig.drain().await;
    let token = rig.posted("ask")[0]["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string();
    rig.press(ANALYST, "confirm", &token, None).await;
    // The approval request is a channel message (ts 1716480000.000777); the approver clicks on it.
    rig.press_in_channel("approve", "U0SECOND", "approve", &token, "1716480000.000777").await;
    let mut due = rig.drain().await;
    let Some(Job::Recheck { pending }) = due.pop() else { panic!("a follow-up was queued") };
    assert_eq!(pending[0].thread.thread_ts.as_deref(), Some("1716480000.000777"));
    assert_eq!(pending[0].thread.user_id.as_ref().map(|u| u.as_str()), Some(ANALYST), "the requester is mentioned");
    rig.sim_post("/_sim/clock", json!({"advance_s": 40})).await;
    rig.age("approve", 31 * 60);
    let mut pending = pending;
    pending[0].thread.issued_at -= 31 * 60;
    rig.worker.run(Job::Recheck { pending }).await;
    let m = rig.messages();
    assert_eq!(m.len(), 1, "{m:#?}");
    assert_eq!((m[0]["channel"].as_str(), m[0]["thread_ts"].as_str()), (Some(CHANNEL), Some("1716480000.000777")));
    assert!(text(&m[0]).starts_with(&format!("<@{ANALYST}> Isolate of `{host}`")), "{m:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_click_reaches_the_presser_ephemerally() {
    let policy = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"two_person":{"default":["isolate"]},"tenants":{"default":{
        "T0001:U0ANALYST":["isolate"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["isolate"],"T0001:U0SECOND":["isolate"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0SECOND":["isolate"],"T0001:U0READER":["read"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0READER":["read"]}}}"#;
    let mut rig = rig_with(None, None, &[("CHATOPS_RBAC", policy.to_string())]).await;
    let host = "ws-fin-011.contoso.com";
    rig.slash(ANALYST, &format!("isolate {host} suspected C2 beacon"), "ask").await;
    rig.drain().await;
    let token = rig.posted("ask")[0]["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string();

    // Another user's confirm: refused, and the refusal is posted to that click's response_url.
    rig.press_on("c1", READER, "confirm", &token, None).await;
    let shown = rig.posted("c1");
    assert_eq!(shown.len(), 1, "Slack shows nothing of a block_actions acknowledgement body");
    assert_eq!(text(&shown[0]), "Refused: only the analyst who asked can confirm this action.");
    assert_eq!(shown[0]["response_type"], "ephemeral");
    assert!(shown[0].get("replace_original").is_none(), "the prompt stays for its owner");

    // An expired confirmation.
    let stale = rig.seal(ANALYST, "u0analyst", "isolate", host, "old", "req-old", now() - 1);
    rig.press_on("c2", ANALYST, "confirm", &stale, None).await;
    assert!(text(&rig.posted("c2")[0]).starts_with("Refused: the confirmation expired"), "{:?}", rig.posted("c2"));

    // Two-person: the requester confirms; a user without the permission approves from the channel.
    rig.press_on("c3", ANALYST, "confirm", &token, None).await;
    assert!(text(&rig.posted("c3")[0]).starts_with("*Approval needed*"));
    rig.press_on("c4", READER, "approve", &token, None).await;
    let shown = rig.posted("c4");
    assert_eq!(text(&shown[0]), "Refused: you are not allowed to isolate in this tenant.");
    assert_eq!(shown[0]["response_type"], "ephemeral", "only the presser sees it; the channel's request stays");
    assert!(shown[0].get("replace_original").is_none());
    assert!(rig.action_posts().await.is_empty());
}

/// The simulated tenant's clock: a sleep moves simulated time at once.
#[derive(Debug)]
struct SimTime(Arc<tenant_sim::state::Sim>);

impl defender_shared::auth::Clock for SimTime {
    fn utc_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        self.0.clock.advance(chrono::Duration::from_std(d).unwrap());
        Box::pin(async {})
    }
}

fn linking_worker(rig: &Rig) -> Arc<Worker> {
    rig.worker_with_link_clock(Arc::new(SimTime(rig.sim.sim.clone())))
}

async fn device_code_requests(rig: &Rig) -> usize {
    rig.requests().await.iter().filter(|r| r["path"].as_str().unwrap_or_default().ends_with("/devicecode")).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn link_polls_in_steps_shorter_than_an_invocation_and_never_asks_for_a_second_code() {
    let mut rig = linking_rig(&[("CHATOPS_LINK_STEP_S", "12".to_string())]).await;
    let worker = linking_worker(&rig);
    let sim = rig.sim.sim.clone();

    rig.slash(ANALYST, "link", "link").await;
    let (start, _) = rig.jobs.try_recv().unwrap();
    let t0 = sim.now();
    worker.try_run(start.clone()).await.unwrap();
    assert!(sim.now() - t0 < chrono::Duration::seconds(2), "starting never waits for the sign-in");
    let prompt = text(&rig.posted("link")[0]).to_string();
    assert!(prompt.starts_with("To link your Entra identity, open "), "{prompt}");
    let code = prompt.split('`').nth(1).unwrap().to_string();
    let (step1, delay) = rig.jobs.try_recv().unwrap();
    assert!(matches!(step1, Job::LinkPoll { step: 1, .. }), "{step1:?}");
    assert_eq!(delay, Duration::from_secs(5));
    let wire = serde_json::to_string(&step1).unwrap();
    assert!(!wire.contains("device_code") && !wire.contains(&code), "the device code stays in the vault: {wire}");

    // Step 1: polls while the next poll fits in 12 s, then hands on — it never runs past its budget.
    let t1 = sim.now();
    assert!(worker.try_run(step1.clone()).await.unwrap().is_none());
    let spent = sim.now() - t1;
    assert!(spent <= chrono::Duration::seconds(12) && spent >= chrono::Duration::seconds(10), "{spent}");
    let (step2, delay) = rig.jobs.try_recv().unwrap();
    assert!(matches!(step2, Job::LinkPoll { step: 2, .. }), "{step2:?}");
    assert_eq!(delay, Duration::from_secs(5));

    // SQS delivers step 1 again, and the link command too: no fork, no second device code.
    worker.try_run(step1).await.unwrap();
    worker.try_run(start).await.unwrap();
    assert!(rig.jobs.try_recv().is_err(), "the steps are claimed once");
    let again = text(&rig.posted("link")[1]).to_string();
    assert!(again.starts_with("Your sign-in is still waiting") && again.contains(&code), "{again}");
    assert_eq!(device_code_requests(&rig).await, 1);

    // Approved: the next step links, once.
    rig.sim_post("/_sim/devicecode/approve", json!({"user_code": code, "upn": "alice@contoso.com"})).await;
    sim.clock.advance(chrono::Duration::seconds(5));
    let reply = worker.try_run(step2.clone()).await.unwrap().unwrap();
    assert_eq!(reply.text, "Linked: your machine actions in 'default' now run as alice@contoso.com.");
    assert_eq!(text(rig.posted("link").last().unwrap()), reply.text);
    assert!(worker.try_run(step2).await.unwrap().is_none(), "a late duplicate step finds the sign-in done");
    assert!(rig.jobs.try_recv().is_err());
    assert_eq!(rig.posted("link").len(), 3);
    let secret = chatops::user::secret_name(&"default".parse().unwrap(), &ANALYST.parse().unwrap());
    assert!(rig.state.store.get_fresh(&secret).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unused_link_code_expires_and_the_user_is_told() {
    let mut rig = linking_rig(&[("CHATOPS_LINK_STEP_S", "0".to_string())]).await;
    let worker = linking_worker(&rig);
    rig.slash(READER, "link", "link").await;
    let (start, _) = rig.jobs.try_recv().unwrap();
    worker.try_run(start).await.unwrap();
    let (step, _) = rig.jobs.try_recv().unwrap();
    // Budget 0: one poll per invocation.
    worker.try_run(step).await.unwrap();
    let (step, _) = rig.jobs.try_recv().unwrap();
    assert!(matches!(step, Job::LinkPoll { step: 2, .. }));
    rig.sim.sim.clock.advance(chrono::Duration::seconds(901));
    let reply = worker.try_run(step).await.unwrap().unwrap();
    assert_eq!(
        reply.text,
        "Not linked: the sign-in code expired before it was used. Run `/defender link` again for a new one."
    );
    assert_eq!(text(rig.posted("link").last().unwrap()), reply.text);
    assert!(rig.jobs.try_recv().is_err());
    // A new link asks for a new code.
    rig.slash(READER, "link", "link2").await;
    let (start, _) = rig.jobs.try_recv().unwrap();
    worker.try_run(start).await.unwrap();
    assert!(text(&rig.posted("link2")[0]).starts_with("To link your Entra identity"));
    assert_eq!(device_code_requests(&rig).await, 2);
}

/// Starts `user`'s `/defender link`, approves the code at Entra as `upn`, and runs the step that
/// finds it approved; answers the outcome.
async fn link_as(rig: &mut Rig, worker: &Worker, user: &str, upn: &str, hook: &str) -> String {
    rig.slash(user, "link", hook).await;
    let (start, _) = rig.jobs.try_recv().unwrap();
    worker.try_run(start).await.unwrap();
    let prompt = text(&rig.posted(hook)[0]).to_string();
    let code = prompt.split('`').nth(1).unwrap().to_string();
    let (step, _) = rig.jobs.try_recv().unwrap();
    rig.sim_post("/_sim/devicecode/approve", json!({"user_code": code, "upn": upn})).await;
    rig.sim.sim.clock.advance(chrono::Duration::seconds(5));
    let reply = worker.try_run(step).await.unwrap().unwrap();
    assert_eq!(text(rig.posted(hook).last().unwrap()), reply.text, "the outcome is posted to the requester");
    reply.text
}

/// The secret names in the simulated vault.
fn vault_names(rig: &Rig) -> Vec<String> {
    rig.sim.sim.tenant.lock().unwrap().secrets.keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_who_signs_in_as_someone_else_is_refused_and_nothing_is_stored() {
    let mut rig = linking_rig(&[("CHATOPS_LINK_STEP_S", "0".to_string())]).await;
    let worker = linking_worker(&rig);
    // The reader's Slack e-mail is bob@contoso.com; alice (wider rights) types the code.
    let said = link_as(&mut rig, &worker, READER, "alice@contoso.com", "link").await;
    assert_eq!(
        said,
        "Not linked: you signed in as alice@contoso.com, but your Slack e-mail address is bob@contoso.com. \
         Nothing was stored. Run `/defender link` again and sign in as yourself, or ask an administrator to map \
         your chat account."
    );
    let secret = chatops::user::secret_name(&"default".parse().unwrap(), &READER.parse().unwrap());
    assert!(!vault_names(&rig).contains(&secret), "no refresh token was written: {:?}", vault_names(&rig));
    assert!(matches!(rig.state.store.get_fresh(&secret).await, Err(VaultError::NotFound(_))));
    assert!(!said.contains("0.SIM."), "no token in the message");
    assert_eq!(rig.slack.lock().unwrap().users_info, vec![READER.to_string()], "users.info asked once, for the reader");
    // The sign-in is finished: a late duplicate step does nothing.
    assert!(rig.jobs.try_recv().is_err());

    // Signing in as himself links him.
    let said = link_as(&mut rig, &worker, READER, "bob@contoso.com", "link2").await;
    assert_eq!(said, "Linked: your machine actions in 'default' now run as bob@contoso.com.");
    assert!(vault_names(&rig).contains(&secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_mapping_takes_precedence_over_the_slack_e_mail() {
    // The policy binds the reader to alice (say, his admin account); his own e-mail no longer links.
    let policy = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U0READER":["read"]}},
        "links":{"default":{"U0READER":"alice@contoso.com"}}}"#;
    let mut rig = linking_rig(&[("CHATOPS_LINK_STEP_S", "0".to_string()), ("CHATOPS_RBAC", policy.to_string())]).await;
    let worker = linking_worker(&rig);
    let said = link_as(&mut rig, &worker, READER, "bob@contoso.com", "link").await;
    assert!(
        said.starts_with(
            "Not linked: you signed in as bob@contoso.com, but an administrator bound your chat account to alice@contoso.com."
        ),
        "{said}"
    );
    let secret = chatops::user::secret_name(&"default".parse().unwrap(), &READER.parse().unwrap());
    assert!(!vault_names(&rig).contains(&secret));
    let said = link_as(&mut rig, &worker, READER, "alice@contoso.com", "link2").await;
    assert_eq!(said, "Linked: your machine actions in 'default' now run as alice@contoso.com.");
    assert!(vault_names(&rig).contains(&secret));
    assert!(rig.slack.lock().unwrap().users_info.is_empty(), "a mapping needs no users.info");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_e_mail_scope_or_a_bot_token_a_link_cannot_be_checked_and_is_refused() {
    let mut rig = linking_rig(&[("CHATOPS_LINK_STEP_S", "0".to_string())]).await;
    rig.slack.lock().unwrap().scopes.retain(|s| s != "users:read.email");
    let worker = linking_worker(&rig);
    let said = link_as(&mut rig, &worker, ANALYST, "alice@contoso.com", "link").await;
    assert!(said.contains("Slack gave no e-mail address (the app needs the users:read.email scope)"), "{said}");
    let secret = chatops::user::secret_name(&"default".parse().unwrap(), &ANALYST.parse().unwrap());
    assert!(!vault_names(&rig).contains(&secret));

    // No users:read at all: Slack's missing_scope is named.
    rig.slack.lock().unwrap().scopes.retain(|s| s != "users:read");
    let said = link_as(&mut rig, &worker, ANALYST, "alice@contoso.com", "link2").await;
    assert!(said.contains("missing_scope"), "{said}");
    assert!(!vault_names(&rig).contains(&secret));

    // No bot token configured: refused too, pointing at the admin mapping.
    let mut rig = rig_with(
        None,
        None,
        &[("CHATOPS_USER_CLIENT_ID", PUBLIC_CLIENT.to_string()), ("CHATOPS_LINK_STEP_S", "0".to_string())],
    )
    .await;
    let worker = linking_worker(&rig);
    let said = link_as(&mut rig, &worker, ANALYST, "alice@contoso.com", "link").await;
    assert!(said.contains("ask an administrator to map your account"), "{said}");
    assert!(!vault_names(&rig).contains(&secret));
}
