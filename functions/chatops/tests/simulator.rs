//! The chat-ops functions end to end against the simulated tenant: signed Slack/Teams events through
//! the handler, the hand-off to the worker, typed Defender calls, replies posted to a local
//! `response_url` receiver, and what the simulator's request log says was done.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_unauthorised_user_cannot_start_any_action() {
    let mut rig = rig().await;
    for verb in ["isolate", "unisolate", "scan", "restrict", "unrestrict", "collect"] {
        let (status, out) = rig.slash(READER, &format!("{verb} ws-fin-011.contoso.com containment test"), "r").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text(&out), format!("Refused: you are not allowed to {verb} in this tenant."), "{out}");
    }
    let (_, out) = rig.slash("U0STRANGER", "machine ws-fin-011.contoso.com", "r").await;
    assert_eq!(text(&out), "Refused: you are not allowed to look things up in this tenant.");
    // The analyst may restrict by policy, but the tenant does not allow it.
    let (_, out) = rig.slash(ANALYST, "restrict ws-fin-011.contoso.com ransomware", "r").await;
    assert_eq!(text(&out), "Refused: tenant 'default' does not allow restrict.");
    assert!(rig.drain().await.is_empty());
    assert!(rig.jobs.try_recv().is_err(), "nothing was handed to the worker");

    // A real confirmation made for the analyst, pressed by the reader: refused, nothing queued.
    let token =
        rig.seal(ANALYST, "analyst", "isolate", "ws-fin-011.contoso.com", "c2 beacon", "req-reader", now() + 300);
    let (_, out) = rig.press(READER, "confirm", &token, None).await;
    assert_eq!(text(&out), "Refused: only the analyst who asked can confirm this action.");
    // A forged token (signed with another key) and an expired one.
    let forged = confirm::seal(
        &confirm::open::<Confirmation>(&token, &[SecretString::new(rig.slack_secret.clone())], now()).unwrap(),
        &SecretString::new("guess"),
    )
    .unwrap();
    let (_, out) = rig.press(ANALYST, "confirm", &forged, None).await;
    assert!(text(&out).starts_with("Refused: confirmation signature does not match"), "{out}");
    assert!(rig.jobs.try_recv().is_err());
    assert!(rig.action_posts().await.is_empty(), "no action reached Defender");
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_unknown_and_conflicting_machines_are_refused() {
    let mut rig = rig().await;
    let cases = [
        (format!("isolate {SHARED_IP} lateral movement"), "Refused: 2 machines match `10.20.30.66`"),
        (
            "isolate ghost.contoso.com lateral movement".to_string(),
            "Refused: no machine matches `ghost.contoso.com` exactly.",
        ),
        (
            "isolate 0000000000000000000000000000000000000000 lateral movement".to_string(),
            "Refused: no machine matches",
        ),
        (
            format!("isolate {ISOLATED} lateral movement"),
            "Refused: ws-fin-014.contoso.com: the machine is already isolated.",
        ),
        (
            "unisolate ws-fin-011.contoso.com all clear".to_string(),
            "Refused: ws-fin-011.contoso.com: the machine is not isolated.",
        ),
    ];
    for (i, (cmd, want)) in cases.iter().enumerate() {
        let hook = format!("amb{i}");
        let (status, out) = rig.slash(ANALYST, cmd, &hook).await;
        assert_eq!((status, text(&out)), (StatusCode::OK, "Working on it…"), "{cmd}");
        rig.drain().await;
        let posted = rig.posted(&hook);
        assert_eq!(posted.len(), 1, "{cmd}");
        assert!(text(&posted[0]).starts_with(want), "{cmd}: {}", posted[0]);
        assert!(posted[0].get("blocks").is_none(), "no confirm button: {cmd}");
    }
    let both = rig.posted("amb0");
    for m in rig.sim.sim.tenant.lock().unwrap().seed.machines.iter().filter(|m| m["lastIpAddress"] == SHARED_IP) {
        assert!(text(&both[0]).contains(m["id"].as_str().unwrap()), "names both candidates");
    }
    assert!(text(&both[0]).ends_with("use the machine id."), "{}", text(&both[0]));
    {}
    assert!(rig.action_posts().await.is_empty());
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn five_concurrent_confirms_and_a_retry_make_one_isolate_which_is_followed_to_success() {
    let mut rig = rig().await;
    five_concurrent_confirms_and_a_retry(&mut rig).await;
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_isolate_while_one_is_pending_is_refused_before_defender() {
    let mut rig = rig().await;
    let host = "ws-fin-017.contoso.com";
    let mut tokens = Vec::new();
    for hook in ["p1", "p2"] {
        rig.slash(ANALYST, &format!("isolate {host} incident 12"), hook).await;
        rig.drain().await;
        tokens.push(rig.posted(hook)[0]["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string());
    }
    for t in &tokens {
        let (_, out) = rig.press(ANALYST, "confirm", t, None).await;
        assert!(text(&out).starts_with("Confirmed"), "two distinct requests: {out}");
    }
    rig.drain().await;
    let replies: Vec<String> = rig.posted("confirm").iter().map(|v| text(v).to_string()).collect();
    assert_eq!(replies.iter().filter(|r| r.contains("accepted by Defender")).count(), 1, "{replies:#?}");
    assert_eq!(replies.iter().filter(|r| r.contains("still pending")).count(), 1, "{replies:#?}");
    assert_eq!(rig.action_posts().await.len(), 1);
    // Cancel carries the prompt's token (a bare request id is nothing to cancel); a confirmed
    // request cannot be cancelled, a new one can and then cannot be confirmed.
    let (_, out) = rig.press(ANALYST, "cancel", "req", None).await;
    assert_eq!(text(&out), "Refused: malformed confirmation; nothing to cancel.");
    let (_, out) = rig.press(ANALYST, "cancel", &tokens[0], None).await;
    assert_eq!(text(&out), "Refused: the request was already confirmed.");
    rig.slash(ANALYST, &format!("scan {host} routine check"), "p3").await;
    rig.drain().await;
    let scan = rig.posted("p3")[0]["blocks"][1]["elements"][1]["value"].as_str().unwrap().to_string();
    let (_, out) = rig.press(ANALYST, "cancel", &scan, None).await;
    assert_eq!(text(&out), "Cancelled; nothing was done.");
    let (_, out) = rig.press(ANALYST, "confirm", &scan, None).await;
    assert_eq!(text(&out), "Refused: this request was cancelled.");
    assert_eq!(rig.action_posts().await.len(), 1);
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_callback_answers_in_under_3_s_while_defender_is_delayed_10_s() {
    let mut rig = rig().await;
    // Warm the vault cache and the token first, as a warm instance would be.
    rig.slash(ANALYST, "help", "warm").await;
    rig.sim_post("/_sim/faults", json!({"path_prefix": "/api/", "delay_ms": 10000})).await;
    let t = Instant::now();
    let (status, out) = rig.slash(ANALYST, "isolate ws-fin-022.contoso.com phishing follow-up", "slow").await;
    let slash = t.elapsed();
    assert_eq!((status, text(&out)), (StatusCode::OK, "Working on it…"));
    assert!(slash < Duration::from_secs(3), "slash command answered in {slash:?}");

    let token = rig.seal(
        ANALYST,
        "u0analyst",
        "isolate",
        "ws-fin-022.contoso.com",
        "phishing follow-up",
        "req-slow",
        now() + 300,
    );
    let t = Instant::now();
    let (_, out) = rig.press(ANALYST, "confirm", &token, None).await;
    let press = t.elapsed();
    assert!(text(&out).starts_with("Confirmed: isolate"), "{out}");
    assert!(press < Duration::from_secs(3), "confirmation answered in {press:?}");
    eprintln!("ack with Defender delayed 10 s: slash {slash:?}, confirm {press:?}");
    // The work is queued, not done: the worker would take the 10 s, not the callback.
    let mut queued = 0;
    while rig.jobs.try_recv().is_ok() {
        queued += 1;
    }
    assert_eq!(queued, 2);
    rig.drain().await;
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_lookup_command_is_answered_from_the_tenant() {
    let mut rig = rig().await;
    let (seed_alert, seed_incident, action) = {
        let t = rig.sim.sim.tenant.lock().unwrap();
        (t.seed.alerts[0].clone(), t.seed.incidents[0].clone(), t.seed.machine_actions[0].clone())
    };
    let cmds = [
        ("m", "machine ws-fin-011.contoso.com".to_string()),
        ("ip", "machine 10.20.20.27".to_string()),
        ("a", format!("alert {}", seed_alert["id"].as_str().unwrap())),
        ("i", format!("incident {}", seed_incident["incidentId"])),
        ("act", format!("action {}", action["id"].as_str().unwrap())),
        ("h", "hunt processes-on-host ws-fin-011.contoso.com 168".to_string()),
        ("upd", format!("incident {} assign alice@contoso.com", seed_incident["incidentId"])),
    ];
    for (hook, c) in &cmds {
        let (_, out) = rig.slash(ANALYST, c, hook).await;
        assert_eq!(text(&out), "Working on it…", "{c}");
    }
    rig.drain().await;
    let got = |h: &str| text(&rig.posted(h)[0]).to_string();
    assert!(
        got("m").starts_with("*ws-fin-011.contoso.com* (id `bf44e1ec1d7163de5cf81d93982ed19d185f80d2`)"),
        "{}",
        got("m")
    );
    assert!(got("m").contains("Isolation: not isolated"), "{}", got("m"));
    assert!(got("ip").starts_with("*ws-fin-011.contoso.com*"), "{}", got("ip"));
    // Endpoint-controlled text is escaped for Slack mrkdwn (`&` → `&amp;`, as Slack documents).
    let slack_escaped = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    assert!(got("a").contains(&slack_escaped(seed_alert["title"].as_str().unwrap())), "{}", got("a"));
    assert!(got("i").contains(&slack_escaped(seed_incident["incidentName"].as_str().unwrap())), "{}", got("i"));
    assert!(got("act").contains("Isolate on `ws-fin-014.contoso.com` — *Succeeded*"), "{}", got("act"));
    assert!(got("h").starts_with("*Hunt* `processes-on-host`:"), "{}", got("h"));
    // The hunt ran on Graph runHuntingQuery, never on a retiring MDE/XDR hunting API (MC1220762).
    let log = rig.requests().await;
    let paths: Vec<&str> = log.iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(paths.iter().filter(|p| **p == "/v1.0/security/runHuntingQuery").count(), 1, "{paths:?}");
    assert!(!paths.iter().any(|p| p.starts_with("/api/advanced")), "a retiring hunting API was called: {paths:?}");
    // An incident change is a state change: it is prompted, and runs only once confirmed.
    let upd = rig.posted("upd")[0].clone();
    assert!(got("upd").starts_with(&format!("*Incident* `{}` ", seed_incident["incidentId"])), "{upd}");
    let button = &upd["blocks"][1]["elements"][0];
    assert_eq!(button["action_id"], "confirm-incident", "{upd}");
    let (_, out) = rig.press(ANALYST, "confirm-incident", button["value"].as_str().unwrap(), None).await;
    assert!(text(&out).starts_with("Confirmed: incident"), "{out}");
    rig.drain().await;
    let done = text(rig.posted("confirm").last().unwrap()).to_string();
    assert!(done.starts_with("Updated (request") && done.contains("assigned to: alice@contoso.com"), "{done}");
    // Help and usage are answered at once, without the worker.
    let (_, out) = rig.slash(READER, "", "x").await;
    assert!(text(&out).starts_with("Usage: /defender"));
    let (_, out) = rig.slash(READER, "frobnicate", "x").await;
    assert!(text(&out).starts_with("unknown command 'frobnicate'\nUsage:"));
    assert!(rig.jobs.try_recv().is_err());
    rig.assert_declared_endpoints();
}

/// A store holding fixed secrets (for the published Slack example's secret).
struct Fixed(HashMap<String, String>);

impl SecretStore for Fixed {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        Box::pin(async move {
            self.0.get(name).map(|v| SecretString::new(v.clone())).ok_or_else(|| VaultError::NotFound(name.into()))
        })
    }
    fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        self.get(name)
    }
    fn set<'a>(&'a self, _: &'a str, _: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
        Box::pin(async { Err(VaultError::Store("read-only".into())) })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_slack_published_example_tampered_stale_unsigned_and_teams() {
    let mut rig = rig().await;
    let v: Value = serde_json::from_str(include_str!("../../../contract/vectors/signatures.json")).unwrap();
    let vec = &v["slack_v0"];
    let body = vec["body"].as_str().unwrap();
    let ts: i64 = vec["timestamp"].as_str().unwrap().parse().unwrap();
    rig.state.store = Arc::new(Fixed(
        [("slack-signing-secret".to_string(), vec["signing_secret"].as_str().unwrap().to_string())].into(),
    ));
    let good = vec![
        ("x-slack-request-timestamp", ts.to_string()),
        ("x-slack-signature", vec["header_x_slack_signature"].as_str().unwrap().to_string()),
    ];
    rig.state.clock = || 1_531_420_618 + 299;
    let (status, out) = call(&rig.state, event("slack", body, &good, false)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    // The signature verifies (200, not 401); the published example comes from no admitted app or
    // workspace (it carries no `api_app_id`, and workspace T1DC2JH3J is not in the policy), so it is
    // refused right after the signature, before the command is read.
    assert_eq!(text(&out), "this Slack app is not allowed to use this Defender integration; nothing was done", "{out}");
    let (status, _) = call(&rig.state, event("slack", body, &good, true)).await;
    assert_eq!(status, StatusCode::OK, "base64-encoded API Gateway body");
    let tampered = body.replace("roadrunner", "coyote");
    assert_eq!(call(&rig.state, event("slack", &tampered, &good, false)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&rig.state, event("slack", body, &good[..1], false)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&rig.state, event("slack", body, &[], false)).await.0, StatusCode::UNAUTHORIZED);
    rig.state.clock = || 1_531_420_618 + 301;
    let (status, out) = call(&rig.state, event("slack", body, &good, false)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(out["error"]["code"], "Unauthorized");

    // Teams, with the vault's secret (the real store again).
    let mut rig = self::rig().await;
    let activity = json!({"type": "message", "id": "1485983408511", "timestamp": teams_stamp(rig.state.clock),
        "text": "<at>Defender</at> machine ws-fin-011.contoso.com",
        "from": {"id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkKilBZ9XHoq9j7Zaqt7CZ-NJWi7me2kHTL3Bw", "name": "Analyst", "aadObjectId": ANALYST},
        "conversation": {"id": "19:253b1f341670408fb6fcb7c5d2e8a8d6@thread.skype;messageid=1485983408511"},
        "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}})
    .to_string();
    let sig = webhook::sign_teams(&SecretString::new(rig.teams_secret.clone()), activity.as_bytes()).unwrap();
    let (status, out) = call(&rig.state, event("teams", &activity, &[("authorization", sig.clone())], false)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["type"], "message");
    assert!(text(&out).starts_with("*ws-fin-011.contoso.com* (id `bf44e1ec"), "{out}");
    let tampered = activity.replace("ws-fin-011", "ws-fin-014");
    assert_eq!(
        call(&rig.state, event("teams", &tampered, &[("authorization", sig)], false)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&rig.state, event("teams", &activity, &[], false)).await.0, StatusCode::UNAUTHORIZED);
    let isolate = activity
        .replace("machine ws-fin-011.contoso.com", "isolate ws-fin-011.contoso.com c2 beacon")
        .replace("1485983408511", "1485983408512");
    let sig = webhook::sign_teams(&SecretString::new(rig.teams_secret.clone()), isolate.as_bytes()).unwrap();
    let (_, out) = call(&rig.state, event("teams", &isolate, &[("authorization", sig)], false)).await;
    assert!(text(&out).contains("To go ahead, reply `confirm "), "a typed confirmation, not a button: {out}");
    assert!(rig.drain().await.is_empty());
    assert!(rig.action_posts().await.is_empty());
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_person_isolate_needs_a_second_authorised_user_and_acts_once() {
    let policy = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"two_person":{"default":["isolate"]},"tenants":{"default":{
        "T0001:U0ANALYST":["isolate","scan"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["isolate","scan"],"T0001:U0SECOND":["isolate"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0SECOND":["isolate"],"T0001:U0READER":["read"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0READER":["read"]}}}"#;
    let mut rig = rig_with(None, None, &[("CHATOPS_RBAC", policy.to_string())]).await;
    let host = "ws-fin-011.contoso.com";
    rig.slash(ANALYST, &format!("isolate {host} suspected C2 beacon"), "ask").await;
    rig.drain().await;
    let token = rig.posted("ask")[0]["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string();

    // Approving before the requester confirmed does nothing; the presser is told on their click's
    // own response_url (Slack issues one per click).
    let (_, out) = rig.press_on("early", "U0SECOND", "approve", &token, None).await;
    assert_eq!(text(&out), "Refused: the requester has not confirmed this action.");
    assert_eq!(text(&rig.posted("early")[0]), text(&out));

    // The requester's confirm records a pending approval, shown to the channel with an approve button.
    let (_, out) = rig.press(ANALYST, "confirm", &token, None).await;
    assert!(
        text(&out).starts_with("*Approval needed*: u0analyst asked to *isolate* `ws-fin-011.contoso.com`"),
        "{out}"
    );
    assert_eq!(out["response_type"], "in_channel");
    let approve = &out["blocks"][1]["elements"][0];
    assert_eq!((approve["action_id"].as_str(), approve["value"].as_str()), (Some("approve"), Some(token.as_str())));
    assert_eq!(rig.posted("confirm").len(), 1, "the approval request was posted to the channel");
    assert!(rig.jobs.try_recv().is_err(), "nothing is handed to the worker yet");
    let (_, out) = rig.press(ANALYST, "confirm", &token, Some(1)).await;
    assert!(text(&out).contains("already confirmed"), "{out}");

    // The same user approving, or a user without the permission: nothing.
    let (_, out) = rig.press(ANALYST, "approve", &token, None).await;
    assert_eq!(text(&out), "Refused: a second person must approve; the requester's own approval does nothing.");
    let (_, out) = rig.press(READER, "approve", &token, None).await;
    assert_eq!(text(&out), "Refused: you are not allowed to isolate in this tenant.");
    assert!(rig.jobs.try_recv().is_err());
    assert!(rig.action_posts().await.is_empty());

    // A second authorised user approves (three concurrent clicks): one execution, one isolate.
    let clicks = (0..3).map(|_| rig.press("U0SECOND", "approve", &token, None));
    let answers: Vec<String> =
        futures::future::join_all(clicks).await.iter().map(|(_, v)| text(v).to_string()).collect();
    assert_eq!(answers.iter().filter(|a| a.starts_with("Approved by u0second: isolate")).count(), 1, "{answers:#?}");
    assert_eq!(answers.iter().filter(|a| a.contains("already approved")).count(), 2, "{answers:#?}");
    rig.drain().await;
    let isolates = rig.action_posts().await;
    assert_eq!(isolates.len(), 1, "{isolates:#?}");
    let action = rig.last_action(host);
    let comment = action["requestorComment"].as_str().unwrap();
    assert!(comment.contains("by u0analyst (U0ANALYST), approved by u0second (U0SECOND)"), "{comment}");
    // Scan is not under the rule: the analyst's own confirm runs it.
    rig.slash(ANALYST, &format!("scan {host} routine check"), "scan").await;
    rig.drain().await;
    let token = rig.posted("scan")[0]["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string();
    let (_, out) = rig.press(ANALYST, "confirm", &token, None).await;
    assert!(text(&out).starts_with("Confirmed: scan"), "{out}");
    rig.assert_declared_endpoints();
}

/// The simulated tenant's clock for the device-code poll: a sleep waits until the test has approved
/// the code (bounded), then moves simulated time instead of waiting.
#[derive(Debug)]
struct ApprovedThenSimTime {
    sim: Arc<tenant_sim::state::Sim>,
    approved: tokio::sync::watch::Receiver<bool>,
}

impl defender_shared::auth::Clock for ApprovedThenSimTime {
    fn utc_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.sim.now()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        let (sim, mut approved) = (self.sim.clone(), self.approved.clone());
        Box::pin(async move {
            tokio::time::timeout(Duration::from_secs(30), approved.wait_for(|a| *a)).await.ok();
            sim.clock.advance(chrono::Duration::from_std(d).unwrap());
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_user_acts_with_their_delegated_token_and_others_in_app_context() {
    let public = PUBLIC_CLIENT;
    // The analyst's Slack e-mail (users.info) is alice@contoso.com: she may link as alice.
    let mut rig = linking_rig(&[]).await;
    let (approve, approved) = tokio::sync::watch::channel(false);
    let worker = rig.worker_with_link_clock(Arc::new(ApprovedThenSimTime { sim: rig.sim.sim.clone(), approved }));

    // `/defender link`: the worker posts the device code to the requester and queues the first poll.
    let (_, out) = rig.slash(ANALYST, "link", "link").await;
    assert_eq!(text(&out), "Working on it…");
    let (job, _) = rig.jobs.try_recv().unwrap();
    worker.try_run(job).await.unwrap();
    let prompt = text(&rig.posted("link")[0]).to_string();
    assert!(prompt.starts_with("To link your Entra identity, open https://microsoft.com/devicelogin"), "{prompt}");
    let code = prompt.split('`').nth(1).unwrap().to_string();
    rig.sim_post("/_sim/devicecode/approve", json!({"user_code": code, "upn": "alice@contoso.com"})).await;
    approve.send(true).unwrap();
    let (step, delay) = rig.jobs.try_recv().unwrap();
    assert!(matches!(step, Job::LinkPoll { step: 1, .. }), "{step:?}");
    assert_eq!(delay, Duration::from_secs(5), "the poll interval Entra gave");
    let reply = worker.try_run(step).await.unwrap().unwrap();
    assert_eq!(reply.text, "Linked: your machine actions in 'default' now run as alice@contoso.com.");
    assert_eq!(text(&rig.posted("link")[1]), reply.text);
    let secret = chatops::user::secret_name(&"default".parse().unwrap(), &ANALYST.parse().unwrap());
    assert_eq!(secret, "chatops-user-default-u0analyst");
    assert!(rig.state.store.get(&secret).await.is_ok(), "the refresh token is in the vault");

    // The linked analyst's isolate carries alice's delegated token: Defender records her.
    let host = "ws-fin-011.contoso.com";
    rig.slash(ANALYST, &format!("isolate {host} suspected C2 beacon"), "ask").await;
    rig.drain().await;
    let token = rig.posted("ask")[0]["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string();
    rig.press(ANALYST, "confirm", &token, None).await;
    let before = rig.state.store.get_fresh(&secret).await.unwrap();
    rig.drain().await;
    let done = text(rig.posted("confirm").last().unwrap()).to_string();
    assert!(done.contains("accepted by Defender") && done.contains("as your linked identity"), "{done}");
    let isolates = rig.action_posts().await;
    assert_eq!(isolates.len(), 1);
    assert_eq!(isolates[0]["client"], "alice@contoso.com", "{:?}", isolates[0]);
    let action = rig.last_action(host);
    assert_eq!(action["requestor"], "alice@contoso.com");
    assert!(action["requestorComment"].as_str().unwrap().contains("(U0ANALYST)"));
    let after = rig.state.store.get_fresh(&secret).await.unwrap();
    assert_ne!(before, after, "the refresh token rotated back to the vault");

    // An analyst who has not linked acts in the app's context, named in the comment.
    let policy = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U0OTHER":["scan"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0OTHER":["scan"]}}}"#;
    let mut other =
        rig_with(None, None, &[("CHATOPS_USER_CLIENT_ID", public.to_string()), ("CHATOPS_RBAC", policy.to_string())])
            .await;
    other.slash("U0OTHER", &format!("scan {host} routine check"), "ask").await;
    other.drain().await;
    let token = other.posted("ask")[0]["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string();
    other.press("U0OTHER", "confirm", &token, None).await;
    other.drain().await;
    let done = text(other.posted("confirm").last().unwrap()).to_string();
    assert!(done.contains("in the app's context"), "{done}");
    let scans = other.action_posts().await;
    assert_eq!(scans[0]["client"], APP, "{:?}", scans[0]);
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_teams_activity_counts_once_and_only_within_the_window() {
    let rig = rig().await;
    let sign = |activity: &str| {
        webhook::sign_teams(&SecretString::new(rig.teams_secret.clone()), activity.as_bytes()).unwrap()
    };
    let activity = |id: &str, at: i64| {
        json!({"type": "message", "id": id,
            "timestamp": chrono::DateTime::from_timestamp(at, 0).unwrap().to_rfc3339(),
            "text": "<at>Defender</at> machine ws-fin-011.contoso.com",
            "from": {"id": "29:1XJKJ", "name": "analyst", "aadObjectId": ANALYST},
            "conversation": {"id": "19:253b1f341670408fb6fcb7c5d2e8a8d6@thread.skype"},
            "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}})
        .to_string()
    };
    let now = (rig.state.clock)();
    let fresh = activity("1700000000001", now);
    let (status, out) = call(&rig.state, event("teams", &fresh, &[("authorization", sign(&fresh))], false)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert!(text(&out).starts_with("*ws-fin-011.contoso.com* (id `bf44e1ec"), "{out}");
    // The same signed activity again (a replay, or a captured request): nothing is done again.
    let (status, out) = call(&rig.state, event("teams", &fresh, &[("authorization", sign(&fresh))], false)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(text(&out), "This message was already handled; nothing was done again.");
    // A correctly signed activity from an hour ago, or stamped in the future, or with no timestamp.
    // (+330, not +301: the rig's clock is the wall clock, and the lookup above may take a second.)
    for stale in [activity("1700000000002", now - 3600), activity("1700000000003", now + 330)] {
        let (status, _) = call(&rig.state, event("teams", &stale, &[("authorization", sign(&stale))], false)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{stale}");
    }
    let unstamped = activity("1700000000004", now).replace("\"timestamp\"", "\"ts\"");
    let (status, _) = call(&rig.state, event("teams", &unstamped, &[("authorization", sign(&unstamped))], false)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Another message (another id) in the window is answered normally.
    let next = activity("1700000000005", now - 200);
    let (_, out) = call(&rig.state, event("teams", &next, &[("authorization", sign(&next))], false)).await;
    assert!(text(&out).starts_with("*ws-fin-011.contoso.com* (id `bf44e1ec"), "{out}");
    rig.assert_declared_endpoints();
}

fn code_of(prompt: &str) -> String {
    prompt.split("reply `confirm ").nth(1).unwrap().split('`').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn teams_runs_machine_actions_with_a_typed_confirmation_under_the_same_rules() {
    let mut rig = rig().await;
    let host = "ws-fin-011.contoso.com";
    let mid = rig.machine(host)["id"].as_str().unwrap().to_string();
    let (status, out) = rig.teams_message(ANALYST, &format!("isolate {host} suspected C2 beacon")).await;
    assert_eq!(status, StatusCode::OK);
    let prompt = text(&out).to_string();
    assert!(
        prompt.starts_with(&format!("*Isolate* `{host}` (id `{mid}`)?<br>Reason: suspected C2 beacon")),
        "{prompt}"
    );
    let code = code_of(&prompt);
    assert_eq!(code.len(), 8);
    assert!(rig.jobs.try_recv().is_err() && rig.action_posts().await.is_empty(), "nothing before the confirmation");

    // Same RBAC: the reader cannot start one, nor confirm the analyst's.
    let (_, out) = rig.teams_message(READER, &format!("isolate {host} suspected C2 beacon")).await;
    assert_eq!(text(&out), "Refused: you are not allowed to isolate in this tenant.");
    let (_, out) = rig.teams_message(READER, &format!("confirm {code}")).await;
    assert_eq!(text(&out), "Refused: only the analyst who asked can confirm this action.");
    let (_, out) = rig.teams_message(ANALYST, "confirm ZZZZ9999").await;
    assert_eq!(text(&out), "Refused: no pending action has the code `ZZZZ9999`.");
    // A Teams message with a bad HMAC is refused before anything is read.
    let forged =
        json!({"type": "message", "text": format!("confirm {code}"), "from": {"id": "x", "aadObjectId": ANALYST}})
            .to_string();
    let sig = webhook::sign_teams(&SecretString::new("bm90IHRoZSBzZWNyZXQ="), forged.as_bytes()).unwrap();
    assert_eq!(
        call(&rig.state, event("teams", &forged, &[("authorization", sig)], false)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Same idempotency: three concurrent confirmations (lower case too) → one execution.
    let lower = code.to_lowercase();
    let answers = futures::future::join_all([
        rig.teams_message(ANALYST, &format!("confirm {code}")),
        rig.teams_message(ANALYST, &format!("confirm {lower}")),
        rig.teams_message(ANALYST, &format!("confirm {code}")),
    ])
    .await;
    let texts: Vec<String> = answers.iter().map(|(_, v)| text(v).to_string()).collect();
    assert_eq!(
        texts.iter().filter(|t| t.starts_with(&format!("Confirmed: isolate `{host}`"))).count(),
        1,
        "{texts:#?}"
    );
    assert_eq!(texts.iter().filter(|t| t.contains("was already confirmed")).count(), 2, "{texts:#?}");
    rig.drain().await;
    let isolates = rig.action_posts().await;
    assert_eq!(isolates.len(), 1);
    assert_eq!(isolates[0]["path"], format!("/api/machines/{mid}/isolate"));

    // Same expiry: a code whose confirmation expired is refused.
    let expired = rig.seal(ANALYST, "u0analyst", "scan", host, "routine check", "req-old", now() - 10);
    rig.idem.put_if_absent("teams-code:OLDCODE1", &expired, now() + 60).await.unwrap();
    let (_, out) = rig.teams_message(ANALYST, "confirm OLDCODE1").await;
    assert!(text(&out).starts_with("Refused: the confirmation expired"), "{out}");
    assert_eq!(rig.action_posts().await.len(), 1);
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn teams_two_person_approval_is_typed_by_a_second_user() {
    let policy = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"two_person":{"default":["isolate"]},"tenants":{"default":{
        "T0001:U0ANALYST":["isolate"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["isolate"],"T0001:U0SECOND":["isolate"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0SECOND":["isolate"]}}}"#;
    let mut rig = rig_with(None, None, &[("CHATOPS_RBAC", policy.to_string())]).await;
    let (_, out) = rig.teams_message(ANALYST, "isolate ws-fin-011.contoso.com suspected C2 beacon").await;
    let code = code_of(text(&out));
    let (_, out) = rig.teams_message(ANALYST, &format!("confirm {code}")).await;
    assert!(text(&out).starts_with("*Approval needed*"), "{out}");
    assert!(text(&out).ends_with(&format!("A second authorised person replies `approve {code}`.")), "{out}");
    let (_, out) = rig.teams_message(ANALYST, &format!("approve {code}")).await;
    assert!(text(&out).contains("a second person must approve"), "{out}");
    assert!(rig.jobs.try_recv().is_err());
    let (_, out) = rig.teams_message("U0SECOND", &format!("approve {code}")).await;
    assert!(text(&out).starts_with("Approved: isolate"), "{out}");
    rig.drain().await;
    assert_eq!(rig.action_posts().await.len(), 1);
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_follow_up_stops_at_its_maximum_age_and_says_how_to_ask() {
    let mut rig = rig_with(None, None, &[("CHATOPS_FOLLOWUP_MAX_AGE_S", "600".to_string())]).await;
    let host = "ws-fin-017.contoso.com";
    rig.slash(ANALYST, &format!("isolate {host} incident 12"), "ask").await;
    rig.drain().await;
    let token = rig.posted("ask")[0]["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string();
    rig.press(ANALYST, "confirm", &token, None).await;
    let mut due = rig.drain().await;
    let Some(job @ Job::Recheck { .. }) = due.pop() else { panic!("a follow-up was queued") };
    // Young and not final: goes round again (nothing posted).
    let posted = rig.posted("confirm").len();
    rig.worker.run(job).await;
    assert_eq!(rig.posted("confirm").len(), posted);
    let Some(Job::Recheck { mut pending }) = rig.drain().await.pop() else { panic!("re-queued") };
    assert_eq!((pending.len(), pending[0].checks), (1, 1));
    let action_id = pending[0].action_id.clone();
    // Older than the maximum age and still not final: the thread is told, nothing is re-queued.
    pending[0].started_at -= 601;
    rig.worker.run(Job::Recheck { pending }).await;
    let last = text(rig.posted("confirm").last().unwrap()).to_string();
    assert!(
        last.starts_with(&format!("Stopped following action `{action_id}` on `{host}` after 2 checks over 10 min")),
        "{last}"
    );
    assert!(last.ends_with(&format!("ask `/defender action {action_id}`.")), "{last}");
    assert!(rig.drain().await.is_empty());
    rig.assert_declared_endpoints();
}
